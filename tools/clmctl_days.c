/* tools/clmctl_days.c - `clmctl days`: the daily counter hashes of the
 * latest days. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"

static const char *const day_fields[] = {
    "orders", "revenue", "new_customers", "churned", "active_customers", "customers_eod",
};
#define NFIELDS (sizeof(day_fields) / sizeof(day_fields[0]))

typedef struct day_row {
    char date[16];
    clmctl_hash *h;
} day_row;

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

static int print_table(const clmctl_ctx *x, const day_row *rows, size_t n)
{
    clmctl_table *t = clmctl_table_new(NFIELDS + 1);
    const char *cells[NFIELDS + 1] = { "date" };
    int r = -ENOMEM;
    if (!t)
        return r;
    for (size_t f = 0; f < NFIELDS; f++) {
        cells[f + 1] = day_fields[f];
        clmctl_table_align(t, f + 1, CLMCTL_RIGHT);
    }
    if ((r = clmctl_table_add(t, cells)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < n; i++) {
        cells[0] = rows[i].date;
        for (size_t f = 0; f < NFIELDS; f++) {
            const char *v = clmctl_hash_get(rows[i].h, day_fields[f]);
            cells[f + 1] = v ? v : "-";
        }
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    clmctl_table_free(t);
    return r;
}

static int print_json(const clmctl_ctx *x, const day_row *rows, size_t n, char *errbuf,
                      size_t errsize)
{
    json_t *a = json_array();
    int r = -ENOMEM;
    if (!a)
        goto out_report;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        if (json_array_append_new(a, o) < 0 ||
            json_object_set_new(o, "date", json_string(rows[i].date)) < 0)
            goto out_decref;
        for (size_t f = 0; f < NFIELDS; f++) {
            const char *v = clmctl_hash_get(rows[i].h, day_fields[f]);
            if (v && json_object_set_new(o, day_fields[f], json_string(v)) < 0) {
                char key[CLM_KEY_MAX];
                clm_key_bucket_named(key, sizeof(key), x->prefix, rows[i].date, CLM_MS_PER_DAY);
                snprintf(errbuf, errsize, "%s: %s \"%s\" is not UTF-8", key, day_fields[f], v);
                json_decref(a);
                return -EIO;
            }
        }
    }
    r = clmctl_json_print(a, x->out, errbuf, errsize);
    json_decref(a);
    return r;

out_decref:
    json_decref(a);
out_report:
    snprintf(errbuf, errsize, "out of memory");
    return r;
}

int clmctl_days(const clmctl_ctx *x, int last, char *errbuf, size_t errsize)
{
    int64_t first, end;
    day_row *rows = NULL;
    size_t n = 0;
    int r;
    if (x->cfg->kpi_bucket_s != 86400) {
        snprintf(errbuf, errsize,
                 "kpi.bucket_s is %d: clmd keeps %sbucket:<start> hashes, not day hashes",
                 x->cfg->kpi_bucket_s, x->prefix);
        return -EINVAL;
    }
    if ((r = bucket_edge(x, false, &first, errbuf, errsize)) < 0 ||
        (r = bucket_edge(x, true, &end, errbuf, errsize)) < 0 ||
        (r = kpi_end(x, &end, errbuf, errsize)) < 0)
        return r;
    int64_t start = end - last + 1 > first ? end - last + 1 : first;
    if (!(rows = calloc((size_t)(end - start + 1), sizeof(*rows)))) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    for (int64_t d = start; d <= end; d++, n++) {
        char key[512];
        clm_day_format(d, rows[n].date);
        clm_key_bucket_named(key, sizeof(key), x->prefix, rows[n].date, CLM_MS_PER_DAY);
        if ((r = clmctl_hash_read(x->rp, key, &rows[n].h, errbuf, errsize)) < 0)
            goto out_free_rows;
    }
    if (x->json)
        r = print_json(x, rows, n, errbuf, errsize);
    else if ((r = print_table(x, rows, n)) < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
out_free_rows:
    for (size_t i = 0; i < n; i++)
        clmctl_hash_free(rows[i].h);
    free(rows);
    return r;
}
