/* store/keys.c - see keys.h. */
#include "store/keys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/kpi.h"
#include "core/timeutil.h"

static int put(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

int clm_key_single(char *buf, size_t size, const char *prefix, const char *name)
{
    return put(buf, size, "%s%s", prefix, name);
}

int clm_key_customer(char *buf, size_t size, const char *prefix, const char *id, size_t len)
{
    return put(buf, size, "%scustomer:%.*s", prefix, (int)len, id);
}

int clm_key_journal(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%sjournal:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_applied(char *buf, size_t size, const char *prefix, const char *key, size_t len)
{
    return put(buf, size, "%sapplied:{%.*s}", prefix, (int)len, key);
}

int clm_key_ckpt(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%sckpt:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_progress(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%sprogress:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_deadlines(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%sdeadlines:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_paging(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%salerts:paging:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_alias(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%salias:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_identity_outbox(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t part)
{
    return put(buf, size, "%sidentity:outbox:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_identity_merged(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t part)
{
    return put(buf, size, "%sidentity:merged:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_identity_seen(char *buf, size_t size, const char *prefix, const char *group,
                          int32_t part)
{
    return put(buf, size, "%sidentity:seen:{%s:%" PRId32 "}", prefix, group, part);
}

int clm_key_partitions(char *buf, size_t size, const char *prefix, const char *group)
{
    return put(buf, size, "%spartitions:%s", prefix, group);
}

/* prefix with the glob characters of SCAN MATCH escaped, then `rest` */
static int pattern(char *buf, size_t size, const char *prefix, const char *rest)
{
    size_t n = 0;
    for (const char *p = prefix; *p; p++) {
        if (n + 3 >= size)
            return -ENAMETOOLONG;
        if (*p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\')
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    int r = put(buf + n, size - n, "%s", rest);
    return r < 0 ? r : (int)n + r;
}

int clm_key_partitions_pattern(char *buf, size_t size, const char *prefix)
{
    return pattern(buf, size, prefix, "partitions:*");
}

const char *clm_key_partitions_group(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(key, prefix, n) != 0 || strncmp(key + n, "partitions:", 11) != 0)
        return NULL;
    return key + n + 11;
}

int clm_key_ckpt_pattern(char *buf, size_t size, const char *prefix)
{
    return pattern(buf, size, prefix, "ckpt:*");
}

int clm_key_customer_pattern(char *buf, size_t size, const char *prefix)
{
    return pattern(buf, size, prefix, "customer:*");
}

int clm_key_kpi(char *buf, size_t size, const char *prefix, int days)
{
    return put(buf, size, "%skpi:%dd", prefix, days);
}

int clm_key_bucket_named(char *buf, size_t size, const char *prefix, const char *name,
                         int64_t bucket_ms)
{
    return put(buf, size, "%s%s:%s", prefix, bucket_ms == CLM_MS_PER_DAY ? "day" : "bucket", name);
}

int clm_key_bucket(char *buf, size_t size, const char *prefix, int64_t bucket, int64_t bucket_ms,
                   char *name, size_t name_size)
{
    char b[CLM_BUCKET_KEY_SIZE];
    if (clm_bucket_key(bucket, bucket_ms, b, sizeof(b)) < 0)
        return -EINVAL;
    if (name && put(name, name_size, "%s", b) < 0)
        return -ENAMETOOLONG;
    return clm_key_bucket_named(buf, size, prefix, b, bucket_ms);
}

int clm_key_transitions(char *buf, size_t size, const char *prefix, int64_t day)
{
    char d[16];
    clm_day_format(day, d);
    return put(buf, size, "%stransitions:%s", prefix, d);
}

int clm_key_segment(char *buf, size_t size, const char *prefix, const char *name)
{
    return put(buf, size, "%ssegment:%s", prefix, name);
}

int clm_key_segment_day(char *buf, size_t size, const char *prefix, int64_t day)
{
    char d[16];
    clm_day_format(day, d);
    return put(buf, size, "%ssegment_day:%s", prefix, d);
}

int clm_key_breakdown(char *buf, size_t size, const char *prefix, const char *trait, int64_t day)
{
    char d[16];
    clm_day_format(day, d);
    return put(buf, size, "%sbreakdown:trait:%s:%s", prefix, trait, d);
}

int clm_field_offset(char *buf, size_t size, const char *topic)
{
    return put(buf, size, CLM_FIELD_OFFSET "%s", topic);
}

int clm_field_anon(char *buf, size_t size, const char *topic)
{
    return put(buf, size, CLM_FIELD_ANON "%s", topic);
}

int clm_field_maxts(char *buf, size_t size, const char *topic)
{
    return put(buf, size, CLM_FIELD_MAXTS "%s", topic);
}

int clm_field_ahead(char *buf, size_t size, const char *topic)
{
    return put(buf, size, CLM_FIELD_AHEAD "%s", topic);
}

int clm_key_v1_offsets(char *buf, size_t size, const char *prefix, const char *group, const char *topic)
{
    return put(buf, size, "%soffsets:%s:%s", prefix, group, topic);
}

int clm_key_v1_maxts(char *buf, size_t size, const char *prefix, const char *group, const char *topic)
{
    return put(buf, size, "%smaxts:%s:%s", prefix, group, topic);
}

int clm_key_v1_deadlines(char *buf, size_t size, const char *prefix, const char *group, int32_t part)
{
    return put(buf, size, "%sdeadlines:%s:%" PRId32, prefix, group, part);
}

int clm_key_sink(char *buf, size_t size, const char *prefix, const char *name, bool cluster)
{
    if (!cluster)
        return clm_key_single(buf, size, prefix, name);
    const char *leaf = strrchr(name, ':') ? strrchr(name, ':') + 1 : name;
    return put(buf, size, "%s{%s}:%s", prefix, CLM_KEY_PAGE, leaf);
}
