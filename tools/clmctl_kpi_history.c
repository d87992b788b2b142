/* tools/clmctl_kpi_history.c - `clmctl kpi --history`: the entries of
 * <prefix>kpi:history of a span of days, chosen columns
 * (tools/clmctl_series.h prints them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpi.h"
#include "core/stages.h"
#include "core/timeutil.h"
#include "store/keys.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_redis.h"
#include "tools/clmctl_series.h"

static const char *const default_fields[] = {
    "revenue", "orders", "new_customers", "churned", "aov", "cpa", "nps", "csat", "churn_rate",
    "retention_rate", "customers_eod",
};
#define NDEFAULT (sizeof(default_fields) / sizeof(default_fields[0]))

/* The fields an entry may hold after `date`, in the order clmd writes them;
 * the conversion fields go between the two parts. */
static const char *const fields_before_conv[] = {
    "revenue", "orders", "new_customers", "churned", "aov", "cpa", "nps", "csat", "csat_mean",
    "churn_rate", "retention_rate", "lead_to_customer",
};
static const char *const fields_after_conv[] = {
    "lead_response_s", "avg_engagement_s", "upsell_rate", "repeat_purchase_rate",
    "clv_lifetime_years", "clv_pred_avg", "customers_eod",
};
#define NBEFORE (sizeof(fields_before_conv) / sizeof(fields_before_conv[0]))
#define NAFTER (sizeof(fields_after_conv) / sizeof(fields_after_conv[0]))

/* The valid columns (the conversion names, from index NBEFORE, allocated). */
static int valid_fields(const clm_stages *m, char ***out, size_t *n)
{
    size_t nord = m ? clm_stages_ordinary(m) : 0, k = 0, nconv = nord ? nord - 1 : 0;
    char **v = calloc(NBEFORE + nconv + NAFTER, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < NBEFORE; i++)
        v[k++] = (char *)fields_before_conv[i];
    for (size_t r = 0; r < nconv; r++)
        if (asprintf(&v[k++], "conv_%s_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)r)),
                     clm_stages_name(m, clm_stages_at_rank(m, (int)r + 1))) < 0) {
            v[--k] = NULL;
            while (k > NBEFORE)
                free(v[--k]);
            free(v);
            return -ENOMEM;
        }
    for (size_t i = 0; i < NAFTER; i++)
        v[k++] = (char *)fields_after_conv[i];
    *out = v;
    *n = k;
    return 0;
}

/* The UTC day of an entry id "<ms>-<seq>". */
static int id_day(const char *id, int64_t *day)
{
    char ms[24];
    const char *dash = strchr(id, '-');
    int64_t v;
    if (!dash || dash == id || (size_t)(dash - id) >= sizeof(ms))
        return -EINVAL;
    memcpy(ms, id, (size_t)(dash - id));
    ms[dash - id] = '\0';
    if (clmctl_parse_i64(ms, &v) < 0 || v < 0 || v > CLM_TS_MAX_MS)
        return -EINVAL;
    *day = clm_day_of_ms(v);
    return 0;
}

/* The day of the first (or, with last, the last) entry. -ENOENT when the
 * stream is empty or missing. */
static int edge(const clmctl_ctx *x, const char *key, bool last, int64_t *day, char *errbuf,
                size_t errsize)
{
    const char *argv[] = { last ? "XREVRANGE" : "XRANGE", key, last ? "+" : "-",
                           last ? "-" : "+", "COUNT", "1" };
    redisReply *rep;
    int r = clmctl_command(x->rp, 1, 6, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
        snprintf(errbuf, errsize, "no KPI history in Redis yet (%s is empty)", key);
        r = -ENOENT;
    } else if (id_day(rep->element[0]->element[0]->str, day) < 0) {
        snprintf(errbuf, errsize, "%s: entry id %s is not a day", key,
                 rep->element[0]->element[0]->str);
        r = -EIO;
    }
    freeReplyObject(rep);
    return r;
}

/* The entries of the days first..end as rows (dates from their ids). */
static int read_rows(const clmctl_ctx *x, const char *key, int64_t first, int64_t end,
                     clmctl_row **out, size_t *nout, char *errbuf, size_t errsize)
{
    char from[24], to[24];
    snprintf(from, sizeof(from), "%lld", (long long)(first * CLM_MS_PER_DAY));
    snprintf(to, sizeof(to), "%lld", (long long)(end * CLM_MS_PER_DAY + CLM_MS_PER_DAY - 1));
    const char *argv[] = { "XRANGE", key, from, to };
    redisReply *rep;
    int r = clmctl_command(x->rp, 1, 4, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    size_t n = 0;
    clmctl_row *rows = calloc(rep->type == REDIS_REPLY_ARRAY && rep->elements ? rep->elements : 1,
                              sizeof(*rows));
    if (!rows) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free_reply;
    }
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        int64_t day;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            id_day(e->element[0]->str, &day) < 0 || e->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(errbuf, errsize, "%s: entry %zu is not a day's KPIs", key, i);
            r = -EIO;
            goto out_free_rows;
        }
        clm_day_format(day, rows[n].date);
        if (clmctl_hash_of_pairs(e->element[1], &rows[n].h) < 0) {
            snprintf(errbuf, errsize, "out of memory");
            r = -ENOMEM;
            goto out_free_rows;
        }
        n++;
    }
    *out = rows;
    *nout = n;
    rows = NULL;
    n = 0;
out_free_rows:
    clmctl_rows_free(rows, n);
out_free_reply:
    freeReplyObject(rep);
    return r;
}

int clmctl_kpi_history(const clmctl_ctx *x, const clmctl_span *span, char *errbuf,
                       size_t errsize)
{
    char key[CLM_KEY_MAX];
    char **valid = NULL;
    const char **cols = NULL;
    clmctl_row *rows = NULL;
    size_t nvalid = 0, ncols = 0, n = 0;
    int64_t first, last, start, stop;
    int r;
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_KPI_HISTORY);
    if ((r = valid_fields(x->cfg->stages, &valid, &nvalid)) < 0) {
        snprintf(errbuf, errsize, "out of memory");
        return r;
    }
    if ((r = clmctl_columns_pick(span->columns, (const char *const *)valid, nvalid, default_fields,
                                 NDEFAULT, &cols, &ncols, errbuf, errsize)) < 0 ||
        (r = edge(x, key, false, &first, errbuf, errsize)) < 0 ||
        (r = edge(x, key, true, &last, errbuf, errsize)) < 0 ||
        (r = clmctl_span_days(span, first, last, &start, &stop, errbuf, errsize)) < 0 ||
        (r = read_rows(x, key, start, stop, &rows, &n, errbuf, errsize)) < 0)
        goto out_free;
    r = clmctl_series_print(x, key, rows, n, cols, ncols, errbuf, errsize);
out_free:
    clmctl_rows_free(rows, n);
    free(cols);
    size_t nord = x->cfg->stages ? clm_stages_ordinary(x->cfg->stages) : 0;
    for (size_t i = NBEFORE; valid && nord > 1 && i < NBEFORE + nord - 1; i++)
        free(valid[i]);
    free(valid);
    return r;
}
