/* daemon/prep_cluster.c - see prep_cluster.h. */
#include "daemon/prep_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/schema.h"

int clm_prep_cluster_schema(clm_redis *r, const char *prefix, const clm_stages *stages,
                            clm_upgrade_report *rep, char *errbuf, size_t errsize)
{
    char schema[CLM_KEY_MAX], list[4096], version[8], why[256] = "";
    memset(rep, 0, sizeof(*rep));
    if (clm_key_single(schema, sizeof(schema), prefix, CLM_KEY_SCHEMA) < 0)
        return -ENAMETOOLONG;
    clm_schema_stage_list(stages, list, sizeof(list));
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
    int e;
    if (s->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(s->str)) {
        snprintf(errbuf, errsize, "HGETALL %s: %s", schema, s->str);
        e = -EIO;
    } else {
        e = clm_schema_check(s, schema, list, &rep->from_version, errbuf, errsize);
    }
    freeReplyObject(s);
    if (e != 0) /* 1: this release's layout and stages */
        return e == 1 ? 0 : e;
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
