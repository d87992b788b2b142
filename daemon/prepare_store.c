/* daemon/prepare_store.c - see prepare_store.h. */
#include "daemon/prepare_store.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/owner.h"
#include "daemon/prep_cluster.h"
#include "store/keys.h"

/* Checks what clmd needs of the Redis server (c), or of every master of the
 * cluster (c NULL): keys never evicted. Returns 0, -EIO, or -EINVAL (logged). A server that does not tell its policy is
 * warned about once (*warned), not refused. */
static int check_server(clm_redis *r, redisContext *c, bool *warned)
{
    char err[512];
    int e = c ? clm_redis_check_noeviction(c, err, sizeof(err))
              : clm_redis_check_noeviction_all(r, err, sizeof(err)); /* every master */
    if (e == -EINVAL)
        log_err("store: %s", err);
    if (e == -ENOTSUP && !*warned)
        log_warn("store: cannot check Redis' maxmemory-policy (%s); it must be noeviction", err);
    *warned |= e == -ENOTSUP;
    return e == -ENOTSUP ? 0 : e;
}

/* Makes sure cfg's group owns the prefix (daemon/owner.h), taking it over
 * when asked. Returns 0, -EIO, -EAGAIN (errbuf), or -1 (logged). */
static int claim_prefix(clm_redis *r, const clm_config *cfg, bool take_over, char *err,
                        size_t errsize)
{
    char from[CLM_KEY_MAX];
    int e = clm_owner_claim(r, cfg->redis_prefix, cfg->kafka_group_id, take_over, from,
                            sizeof(from), err, errsize);
    if (e == 1)
        log_notice("store: consumer group %s took redis.prefix %s over from group %s: it "
                   "continues from that group's offsets and state", cfg->kafka_group_id,
                   cfg->redis_prefix, from);
    else if (e == 0 && take_over)
        log_notice("store: --take-over: redis.prefix %s already belongs to consumer group %s",
                   cfg->redis_prefix, cfg->kafka_group_id);
    if (e >= 0 || e == -EIO || e == -EAGAIN)
        return e < 0 ? e : 0;
    log_err("store: %s", err);
    return -1;
}

int clm_prepare_store(const clm_config *cfg, const clm_redis_opts *ropts,
                      const clm_apply_opts *apply, bool take_over, const atomic_bool *stop,
                      clm_upgrade_report *up)
{
    char err[512];
    clm_redis *r = clm_redis_new(ropts);
    bool down = false, warned = false;
    int rc = -1;
    if (!r) {
        log_err("out of memory");
        return -1;
    }
    bool cluster = clm_redis_is_cluster(r);
    while (!atomic_load(stop)) {
        int e;
        if (cluster) {
            /* the v1 layout predates cluster support: no upgrade to look for */
            e = check_server(r, NULL, &warned);
            if (e == -EINVAL)
                break;
            if (e == 0)
                e = clm_prep_cluster_schema(r, cfg->redis_prefix, apply->stages, up, err,
                                            sizeof(err));
            else
                snprintf(err, sizeof(err), "cannot read INFO memory from every master");
        } else {
            redisContext *c = clm_redis_get(r, err, sizeof(err));
            e = c ? check_server(r, c, &warned) : -EIO;
            if (e == -EINVAL)
                break;
            if (e == 0)
                e = clm_store_upgrade(c, cfg->redis_prefix, apply, up, err, sizeof(err));
            else if (c)
                snprintf(err, sizeof(err), "%s", c->errstr);
        }
        if (e == 0 && (e = claim_prefix(r, cfg, take_over, err, sizeof(err))) == -1)
            break;
        if (e == -EAGAIN) {
            if (!down)
                log_warn("store: Redis refuses writes (%s); waiting to record the prefix's "
                         "consumer group", err);
            down = true;
            sleep(1);
            continue;
        }
        if (e == 0) {
            if (up->from_version == 1)
                log_notice("store: upgraded from the v1 layout: %zu customers converted%s",
                           up->customers, up->pool ? "; they move into their partitions' "
                                                     "checkpoints as they are next loaded" : "");
            if (up->stage_unknown)
                log_warn("store: %zu converted customers (e.g. %s) had a stage or peak stage "
                         "that lifecycle.stages does not name; they now have none, as the "
                         "previous release read them",
                         up->stage_unknown, up->stage_example);
            rc = 0;
            break;
        }
        if (e != -EIO) {
            log_err("store: %s", err);
            break;
        }
        if (!down)
            log_warn("store: Redis unavailable (%s); waiting to check the layout", err);
        down = true;
        clm_redis_drop(r);
        sleep(1);
    }
    clm_redis_free(r);
    return rc;
}

