/* tools/clmctl_days.c - `clmctl days`: the daily counter hashes of a span
 * of days, chosen columns (tools/clmctl_series.h prints them). */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "core/daycount.h"
#include "core/stages.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "tools/clmctl_series.h"
#include "store/keys.h"

static const char *const default_fields[] = {
    "orders", "revenue", "new_customers", "churned", "active_customers", "customers_eod",
};
#define NDEFAULT (sizeof(default_fields) / sizeof(default_fields[0]))

/* Every field clmd writes into a day hash: the counters, the derived
 * fields, the stage fields of the config. Free the array (not the names
 * but those at index >= *nfixed). */
static int valid_fields(const clm_stages *m, char ***out, size_t *n, size_t *nfixed)
{
    static const char *const derived[] = { "revenue", "refunds", "spend", "session_seconds",
                                           "customers_eod" };
    size_t nst = m ? clm_stages_count(m) : 0, nord = m ? clm_stages_ordinary(m) : 0;
    size_t cap = clm_daycount_nfields + 5 + nst + nord;
    char **v = calloc(cap, sizeof(*v));
    size_t k = 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < 5; i++)
        v[k++] = (char *)derived[i];
    for (size_t i = 0; i < clm_daycount_nfields; i++)
        v[k++] = (char *)clm_daycount_fields[i].name;
    *nfixed = k;
    for (size_t s = 0; s < nst; s++)
        if (asprintf(&v[k++], "entered_%s", clm_stages_name(m, (int)s)) < 0)
            goto out_nomem;
    for (size_t r = 0; r + 1 < nord; r++)
        if (asprintf(&v[k++], "%s_to_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)r)),
                     clm_stages_name(m, clm_stages_at_rank(m, (int)r + 1))) < 0)
            goto out_nomem;
    *out = v;
    *n = k;
    return 0;
out_nomem:
    v[--k] = NULL;
    for (size_t i = *nfixed; i < k; i++)
        free(v[i]);
    free(v);
    return -ENOMEM;
}

/* The bucket number (the day, with whole-day buckets) at one end of
 * <prefix>buckets: its first member when last is false. -ENOENT when the
 * set is empty. */
static int bucket_edge(const clmctl_ctx *x, bool last, int64_t *day, char *errbuf, size_t errsize)
{
    char key[512];
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_BUCKETS);
    const char *argv[] = { "ZRANGE", key, last ? "-1" : "0", last ? "-1" : "0", "WITHSCORES" };
    redisReply *rep;
    int r = clmctl_command(x->rp, 1, 5, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        snprintf(errbuf, errsize, "no day hashes yet (%s is empty)", key);
        r = -ENOENT;
    } else if (clmctl_parse_i64(rep->element[1]->str, day) < 0) {
        snprintf(errbuf, errsize, "%s: score \"%s\" of %s is not a day number", key,
                 rep->element[1]->str, rep->element[0]->str);
        r = -EIO;
    }
    freeReplyObject(rep);
    return r;
}

/* Moves *end to the window_end of a configured KPI window when that is
 * later (the KPI job writes day hashes up to it). */
static int kpi_end(const clmctl_ctx *x, int64_t *end, char *errbuf, size_t errsize)
{
    for (size_t w = 0; w < x->cfg->kpi_window_count; w++) {
        char key[512], ts[32];
        clm_key_kpi(key, sizeof(key), x->prefix, x->cfg->kpi_windows[w]);
        const char *argv[] = { "HGET", key, "window_end" };
        redisReply *rep;
        int64_t ms;
        int r = clmctl_command(x->rp, 1, 3, argv, &rep, errbuf, errsize);
        if (r < 0)
            return r;
        if (rep->type == REDIS_REPLY_STRING) {
            snprintf(ts, sizeof(ts), "%.10sT00:00:00Z", rep->str);
            if (rep->len != 10 || clm_rfc3339_parse(ts, strlen(ts), &ms) < 0) {
                snprintf(errbuf, errsize, "%s: window_end \"%s\" is not a date", key, rep->str);
                freeReplyObject(rep);
                return -EIO;
            }
            if (clm_day_of_ms(ms) > *end)
                *end = clm_day_of_ms(ms);
        }
        freeReplyObject(rep);
    }
    return 0;
}

int clmctl_days(const clmctl_ctx *x, const clmctl_span *span, char *errbuf, size_t errsize)
{
    int64_t first, end, start, stop;
    clmctl_row *rows = NULL;
    char **valid = NULL;
    const char **cols = NULL;
    size_t n = 0, nvalid = 0, nfixed = 0, ncols = 0;
    int r;
    if (x->cfg->kpi_bucket_s != 86400) {
        snprintf(errbuf, errsize,
                 "kpi.bucket_s is %d: clmd keeps %sbucket:<start> hashes, not day hashes",
                 x->cfg->kpi_bucket_s, x->prefix);
        return -EINVAL;
    }
    if ((r = valid_fields(x->cfg->stages, &valid, &nvalid, &nfixed)) < 0) {
        snprintf(errbuf, errsize, "out of memory");
        return r;
    }
    if ((r = clmctl_columns_pick(span->columns, (const char *const *)valid, nvalid, default_fields,
                                 NDEFAULT, &cols, &ncols, errbuf, errsize)) < 0)
        goto out_free_valid;
    if ((r = bucket_edge(x, false, &first, errbuf, errsize)) < 0 ||
        (r = bucket_edge(x, true, &end, errbuf, errsize)) < 0 ||
        (r = kpi_end(x, &end, errbuf, errsize)) < 0 ||
        (r = clmctl_span_days(span, first, end, &start, &stop, errbuf, errsize)) < 0)
        goto out_free_valid;
    if (!(rows = calloc((size_t)(stop - start + 1), sizeof(*rows)))) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free_valid;
    }
    for (int64_t d = start; d <= stop; d++, n++) {
        char key[512];
        clm_day_format(d, rows[n].date);
        clm_key_bucket_named(key, sizeof(key), x->prefix, rows[n].date, CLM_MS_PER_DAY);
        if ((r = clmctl_hash_read(x->rp, key, &rows[n].h, errbuf, errsize)) < 0)
            goto out_free_rows;
    }
    char source[CLM_KEY_MAX];
    snprintf(source, sizeof(source), "%sday:<date>", x->prefix);
    r = clmctl_series_print(x, source, rows, n, cols, ncols, errbuf, errsize);
out_free_rows:
    clmctl_rows_free(rows, n);
out_free_valid:
    free(cols);
    for (size_t i = nfixed; valid && i < nvalid; i++)
        free(valid[i]);
    free(valid);
    return r;
}
