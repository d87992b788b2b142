/* daemon/prep_cluster.c - see prep_cluster.h. */
#include "daemon/prep_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"

/* lifecycle.stages as store/upgrade.c writes them into the schema. */
static void stage_list(const clm_stages *m, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; m && i < clm_stages_count(m) && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", clm_stages_name(m, (int)i));
}

int clm_prep_cluster_schema(clm_redis *r, const char *prefix, const clm_stages *stages,
                            clm_upgrade_report *rep, char *errbuf, size_t errsize)
{
    char schema[CLM_KEY_MAX], list[4096], version[8], why[256] = "";
    memset(rep, 0, sizeof(*rep));
    if (clm_key_single(schema, sizeof(schema), prefix, CLM_KEY_SCHEMA) < 0)
        return -ENAMETOOLONG;
    stage_list(stages, list, sizeof(list));
    snprintf(version, sizeof(version), "%d", CLM_SCHEMA_VERSION);
    clm_rpipe *p = clm_redis_pipe(r, errbuf, errsize);
    if (!p)
        return -EIO;
    const char *get[] = { "HGETALL", schema };
    redisReply *s = clm_rpipe_command(p, 1, 2, get, NULL, why, sizeof(why));
    if (!s) {
        snprintf(errbuf, errsize, "HGETALL %s: %s", schema, why);
        return -EIO;
    }
    const char *have_version = NULL, *have = "";
    for (size_t k = 0; s->type == REDIS_REPLY_ARRAY && k + 1 < s->elements; k += 2) {
        if (strcmp(s->element[k]->str, "version") == 0)
            have_version = s->element[k + 1]->str;
        else if (strcmp(s->element[k]->str, "stages") == 0)
            have = s->element[k + 1]->str;
    }
    int e = 0;
    if (s->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(s->str)) {
        snprintf(errbuf, errsize, "HGETALL %s: %s", schema, s->str);
        e = -EIO;
    } else if (s->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "%s: %s", schema, s->type == REDIS_REPLY_ERROR ? s->str : "not a hash");
        e = -EINVAL;
    } else if (have_version) {
        rep->from_version = atoi(have_version);
        if (rep->from_version != CLM_SCHEMA_VERSION) {
            snprintf(errbuf, errsize, "%s: layout version %s is not one this clmd reads (%d)",
                     schema, have_version, CLM_SCHEMA_VERSION);
            e = -EINVAL;
        } else if (strcmp(have, list) != 0) {
            snprintf(errbuf, errsize,
                     "%s: the stored customers were written with the lifecycle stages \"%s\", "
                     "but lifecycle.stages is \"%s\" (expected the same stages in the same "
                     "order; use a new redis.prefix for another stage model)", schema, have, list);
            e = -EINVAL;
        }
    }
    bool write = e == 0 && !have_version;
    freeReplyObject(s);
    if (!write)
        return e;
    /* an empty store (on a cluster, never the v1 layout) */
    const char *set[] = { "HSET", schema, "version", version, "stages", list };
    redisReply *w = clm_rpipe_command(p, 1, 6, set, NULL, why, sizeof(why));
    if (!w || w->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errsize, "HSET %s: %s", schema, w ? w->str : why);
        e = w && clm_redis_write_refused(w->str) ? -EAGAIN : -EIO;
    }
    freeReplyObject(w);
    return e;
}
