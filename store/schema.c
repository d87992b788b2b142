/* store/schema.c - see schema.h. */
#include "store/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"

void clm_schema_stage_list(const clm_stages *m, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; m && i < clm_stages_count(m) && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", clm_stages_name(m, (int)i));
}

int clm_schema_check(const redisReply *s, const char *schema, const char *stages, int *version,
                     char *errbuf, size_t errsize)
{
    const char *have_version = NULL, *have = "";
    for (size_t k = 0; s->type == REDIS_REPLY_ARRAY && k + 1 < s->elements; k += 2) {
        if (strcmp(s->element[k]->str, "version") == 0)
            have_version = s->element[k + 1]->str;
        else if (strcmp(s->element[k]->str, "stages") == 0)
            have = s->element[k + 1]->str;
    }
    if (s->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "%s: %s", schema, s->type == REDIS_REPLY_ERROR ? s->str : "not a hash");
        return -EINVAL;
    }
    if (!have_version)
        return 0;
    *version = atoi(have_version);
    if (*version != CLM_SCHEMA_VERSION) {
        snprintf(errbuf, errsize, "%s: layout version %s is not one this clmd reads (%d)",
                 schema, have_version, CLM_SCHEMA_VERSION);
        return -EINVAL;
    }
    if (strcmp(have, stages) != 0) {
        snprintf(errbuf, errsize,
                 "%s: the stored customers were written with the lifecycle stages \"%s\", "
                 "but lifecycle.stages is \"%s\" (expected the same stages in the same "
                 "order; use a new redis.prefix for another stage model)", schema, have, stages);
        return -EINVAL;
    }
    return 1;
}
