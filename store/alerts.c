/* store/alerts.c - the alert keys a flush writes (see alerts.h). */
#include "store/alerts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"

int clm_alerts_fmt_kept(clm_cmdbuf *b, const char *prefix, int64_t maxlen, const char *id,
                        const char *kind, const char *customer, size_t clen, const char *risk,
                        const char *json)
{
    char stream[CLM_KEY_MAX], outbox[CLM_KEY_MAX], len[24];
    int sl = clm_key_single(stream, sizeof(stream), prefix, CLM_KEY_ALERTS);
    int ol = clm_key_single(outbox, sizeof(outbox), prefix, CLM_KEY_OUTBOX);
    if (sl < 0 || ol < 0)
        return -ENAMETOOLONG;
    int nl = snprintf(len, sizeof(len), "%" PRId64, maxlen);
    size_t jl = strlen(json), il = strlen(id);
    const char *xadd[] = { "XADD", stream, "MAXLEN", "~", len, "*", "alert_id", id, "kind", kind,
                           "customer_id", customer, "risk", risk, "json", json };
    size_t xlens[] = { 4, (size_t)sl, 6, 1, (size_t)nl, 1, 8, il, 4, strlen(kind),
                       11, clen, 4, strlen(risk), 4, jl };
    int r = clm_cmdbuf_append(b, 16, xadd, xlens);
    if (r < 0)
        return r;
    const char *hset[] = { "HSET", outbox, id, json };
    size_t hlens[] = { 4, (size_t)ol, il, jl };
    return clm_cmdbuf_append(b, 4, hset, hlens);
}

int clm_alerts_fmt_pending(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                           const char *id, int64_t page_ms, const char *json)
{
    char key[CLM_KEY_MAX], field[64], head[32];
    int kl = clm_key_paging(key, sizeof(key), prefix, group, part);
    if (kl < 0)
        return kl;
    int fl = snprintf(field, sizeof(field), "%s%s", CLM_FIELD_PAGING_ALERT, id);
    int hl = snprintf(head, sizeof(head), "%" PRId64 "\t", page_ms);
    size_t jl = strlen(json);
    char *v = malloc((size_t)hl + jl);
    if (!v)
        return -ENOMEM;
    memcpy(v, head, (size_t)hl);
    memcpy(v + hl, json, jl);
    const char *argv[] = { "HSET", key, field, v };
    size_t lens[] = { 4, (size_t)kl, (size_t)fl, (size_t)hl + jl };
    int r = clm_cmdbuf_append(b, 4, argv, lens);
    free(v);
    return r;
}

int clm_alerts_fmt_decided(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                           const char *id)
{
    char key[CLM_KEY_MAX], field[64];
    int kl = clm_key_paging(key, sizeof(key), prefix, group, part);
    if (kl < 0)
        return kl;
    int fl = snprintf(field, sizeof(field), "%s%s", CLM_FIELD_PAGING_ALERT, id);
    const char *argv[] = { "HDEL", key, field };
    size_t lens[] = { 4, (size_t)kl, (size_t)fl };
    return clm_cmdbuf_append(b, 3, argv, lens);
}

int clm_alerts_fmt_tat(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                       int64_t tat_us)
{
    char key[CLM_KEY_MAX], v[24];
    int kl = clm_key_paging(key, sizeof(key), prefix, group, part);
    if (kl < 0)
        return kl;
    int vl = snprintf(v, sizeof(v), "%" PRId64, tat_us);
    const char *argv[] = { "HSET", key, CLM_FIELD_PAGING_TAT, v };
    size_t lens[] = { 4, (size_t)kl, strlen(CLM_FIELD_PAGING_TAT), (size_t)vl };
    return clm_cmdbuf_append(b, 4, argv, lens);
}

int clm_alerts_fmt_page(clm_cmdbuf *b, const char *prefix, const char *id, const char *json)
{
    char key[CLM_KEY_MAX];
    int kl = clm_key_single(key, sizeof(key), prefix, CLM_KEY_PAGE);
    if (kl < 0)
        return kl;
    const char *argv[] = { "XADD", key, "*", "alert_id", id, "json", json };
    size_t lens[] = { 4, (size_t)kl, 1, 8, strlen(id), 4, strlen(json) };
    return clm_cmdbuf_append(b, 7, argv, lens);
}

int clm_alerts_fmt_count(clm_cmdbuf *b, const char *prefix, const char *field, int64_t by)
{
    char key[CLM_KEY_MAX];
    int r = clm_key_single(key, sizeof(key), prefix, CLM_KEY_STATS);
    if (r < 0)
        return r;
    return by ? clm_cmdbuf_hincrby(b, key, field, by) : 0;
}
