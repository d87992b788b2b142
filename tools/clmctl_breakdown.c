/* tools/clmctl_breakdown.c - `clmctl breakdown DIM`: the breakdown counters
 * of one trait dimension (<prefix>breakdown:trait:<name>:<D>, README
 * "Breakdowns") summed over a span of days, one row per value, with the
 * derived churn rate and conversion. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/breakdown.h"
#include "core/kpi.h"
#include "core/timeutil.h"
#include "store/keys.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "tools/clmctl_series.h"

enum { NEW_LEADS, LEADS_CONVERTED, NEW_CUSTOMERS, ORDERS, REVENUE, CHURNED, REACTIVATED,
       CUSTOMERS_DELTA, NCOUNTERS };

/* One value's sums. */
typedef struct bd_row {
    char *value;
    int rank;                /* listed values first, in config order; then other, (none), the rest */
    int64_t c[NCOUNTERS];    /* over the span */
    int64_t customers_start; /* customers_delta before the span */
    int64_t customers_end;   /* customers_delta up to the span's last day */
} bd_row;

typedef struct bd_rows {
    bd_row *v;
    size_t n, cap;
} bd_rows;

static const clm_breakdown_spec *spec_of(const clm_config *cfg, const char *trait)
{
    for (size_t i = 0; cfg->breakdowns && i < cfg->breakdowns->n; i++)
        if (strcmp(cfg->breakdowns->d[i].trait, trait) == 0)
            return &cfg->breakdowns->d[i];
    return NULL;
}

static int rank_of(const clm_breakdown_spec *s, const char *value)
{
    for (size_t i = 0; s && i < s->nvalues; i++)
        if (strcmp(s->values[i], value) == 0)
            return (int)i;
    int base = s ? (int)s->nvalues : 0;
    return strcmp(value, "other") == 0 ? base : strcmp(value, "(none)") == 0 ? base + 1 : base + 2;
}

static bd_row *row_of(bd_rows *rows, const clm_breakdown_spec *s, const char *value, size_t len)
{
    for (size_t i = 0; i < rows->n; i++)
        if (strlen(rows->v[i].value) == len && memcmp(rows->v[i].value, value, len) == 0)
            return &rows->v[i];
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? 2 * rows->cap : 16;
        bd_row *v = realloc(rows->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        rows->v = v;
        rows->cap = cap;
    }
    bd_row *r = &rows->v[rows->n];
    memset(r, 0, sizeof(*r));
    if (!(r->value = strndup(value, len)))
        return NULL;
    r->rank = rank_of(s, r->value);
    rows->n++;
    return r;
}

static int row_cmp(const void *pa, const void *pb)
{
    const bd_row *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return strcmp(a->value, b->value);
}

static int counter_index(const char *name)
{
    for (int k = 0; k < NCOUNTERS; k++)
        if (strcmp(clm_breakdown_counter_name(k), name) == 0)
            return k;
    return -1;
}

/* Adds one day's hash: counters when in_span, customers_delta always. */
static int add_day(bd_rows *rows, const clm_breakdown_spec *s, const clmctl_hash *h, bool in_span,
                   bool before, const char *key, char *errbuf, size_t errsize)
{
    for (size_t i = 0; i < clmctl_hash_count(h); i++) {
        const char *f = clmctl_hash_field(h, i), *tab = strchr(f, '\t');
        int64_t v;
        int k = tab ? counter_index(tab + 1) : -1;
        if (k < 0)
            continue; /* a field of a later release */
        if (clmctl_parse_i64(clmctl_hash_value(h, i), &v) < 0) {
            snprintf(errbuf, errsize, "%s: field \"%s\" is not an integer", key, f);
            return -EIO;
        }
        bd_row *r = row_of(rows, s, f, (size_t)(tab - f));
        if (!r) {
            snprintf(errbuf, errsize, "out of memory");
            return -ENOMEM;
        }
        if (in_span)
            r->c[k] += v;
        if (k == CUSTOMERS_DELTA) {
            if (before)
                r->customers_start += v;
            r->customers_end += v;
        }
    }
    return 0;
}

/* micro-units as a decimal: 12.5, 3, -0.000001 */
static void money(int64_t micros, char *buf, size_t size)
{
    uint64_t a = micros < 0 ? -(uint64_t)micros : (uint64_t)micros;
    int n = snprintf(buf, size, "%s%" PRIu64 ".%06" PRIu64, micros < 0 ? "-" : "", a / 1000000,
                     a % 1000000);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
}

static void ratio(int64_t num, int64_t den, char *buf, size_t size)
{
    if (den <= 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.4f", (double)num / (double)den);
}

static const char *const COLS[] = { "value", "revenue", "orders", "new_customers", "churned",
                                    "churn_rate", "new_leads", "leads_converted", "conversion",
                                    "customers_start", "customers_end" };
#define NCOLS (sizeof(COLS) / sizeof(COLS[0]))

static void cells(const bd_row *r, char out[NCOLS][96])
{
    snprintf(out[0], 96, "%s", r->value);
    money(r->c[REVENUE], out[1], 96);
    snprintf(out[2], 96, "%" PRId64, r->c[ORDERS]);
    snprintf(out[3], 96, "%" PRId64, r->c[NEW_CUSTOMERS]);
    snprintf(out[4], 96, "%" PRId64, r->c[CHURNED]);
    ratio(r->c[CHURNED], r->customers_start, out[5], 96);
    snprintf(out[6], 96, "%" PRId64, r->c[NEW_LEADS]);
    snprintf(out[7], 96, "%" PRId64, r->c[LEADS_CONVERTED]);
    ratio(r->c[LEADS_CONVERTED], r->c[NEW_LEADS], out[8], 96);
    snprintf(out[9], 96, "%" PRId64, r->customers_start);
    snprintf(out[10], 96, "%" PRId64, r->customers_end);
}

static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int print_rows(const clmctl_ctx *x, const char *dim, const char *from, const char *to,
                      const bd_rows *rows, char *errbuf, size_t errsize)
{
    char c[NCOLS][96];
    int r = 0;
    if (x->json) {
        json_t *doc = json_object(), *arr = json_array();
        if (!doc || !arr) {
            json_decref(doc);
            json_decref(arr);
            snprintf(errbuf, errsize, "out of memory");
            return -ENOMEM;
        }
        json_object_set_new(doc, "dimension", json_string(dim));
        json_object_set_new(doc, "from", json_string(from));
        json_object_set_new(doc, "to", json_string(to));
        for (size_t i = 0; i < rows->n; i++) {
            const bd_row *b = &rows->v[i];
            json_t *o = json_object();
            json_object_set_new(o, "value", json_string(b->value));
            for (int k = 0; k < NCOUNTERS; k++)
                if (k != CUSTOMERS_DELTA)
                    json_object_set_new(o, clm_breakdown_counter_name(k), json_integer(b->c[k]));
            json_object_set_new(o, "churn_rate", b->customers_start > 0
                                                     ? json_real((double)b->c[CHURNED] /
                                                                 (double)b->customers_start)
                                                     : json_null());
            json_object_set_new(o, "conversion", b->c[NEW_LEADS] > 0
                                                     ? json_real((double)b->c[LEADS_CONVERTED] /
                                                                 (double)b->c[NEW_LEADS])
                                                     : json_null());
            json_object_set_new(o, "customers_start", json_integer(b->customers_start));
            json_object_set_new(o, "customers_end", json_integer(b->customers_end));
            json_array_append_new(arr, o);
        }
        json_object_set_new(doc, "values", arr);
        r = clmctl_json_print(doc, x->out, errbuf, errsize);
        json_decref(doc);
        return r;
    }
    if (x->csv) {
        for (size_t k = 0; k < NCOLS; k++)
            fprintf(x->out, "%s%s", k ? "," : "", COLS[k]);
        fputc('\n', x->out);
        for (size_t i = 0; i < rows->n; i++) {
            cells(&rows->v[i], c);
            for (size_t k = 0; k < NCOLS; k++) {
                if (k)
                    fputc(',', x->out);
                csv_field(x->out, k == 5 || k == 8 ? (strcmp(c[k], "-") ? c[k] : "") : c[k]);
            }
            fputc('\n', x->out);
        }
        return 0;
    }
    clmctl_table *t = clmctl_table_new(NCOLS);
    if (!t) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    for (size_t k = 1; k < NCOLS; k++)
        clmctl_table_align(t, k, CLMCTL_RIGHT);
    fprintf(x->out, "%s, %s .. %s\n", dim, from, to);
    const char *row[NCOLS];
    r = clmctl_table_add(t, COLS);
    for (size_t i = 0; r == 0 && i < rows->n; i++) {
        cells(&rows->v[i], c);
        for (size_t k = 0; k < NCOLS; k++)
            row[k] = c[k];
        r = clmctl_table_add(t, row);
    }
    if (r == 0)
        r = clmctl_table_print(t, x->out);
    clmctl_table_free(t);
    if (r < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
    return r;
}

/* The UTC day of the first or last member of <prefix>buckets. */
static int bucket_day(const clmctl_ctx *x, bool last, int64_t *day, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_BUCKETS);
    const char *argv[] = { "ZRANGE", key, last ? "-1" : "0", last ? "-1" : "0", "WITHSCORES" };
    redisReply *rep;
    int64_t b;
    int r = clmctl_command(x->rp, 1, 5, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        snprintf(errbuf, errsize, "no KPI counters yet (%s is empty)", key);
        r = -ENOENT;
    } else if (clmctl_parse_i64(rep->element[1]->str, &b) < 0) {
        snprintf(errbuf, errsize, "%s: score \"%s\" is not a bucket number", key,
                 rep->element[1]->str);
        r = -EIO;
    } else {
        *day = clm_bucket_day(b, (int64_t)x->cfg->kpi_bucket_s * 1000);
    }
    freeReplyObject(rep);
    return r;
}

int clmctl_breakdown(const clmctl_ctx *x, const char *dim, const clmctl_span *span, char *errbuf,
                     size_t errsize)
{
    const char *trait = strncmp(dim, "trait:", 6) == 0 ? dim + 6 : dim;
    char name[CLM_TRAIT_NAME_MAX + 8];
    int64_t first, last, start, stop;
    bd_rows rows = { 0 };
    int r;
    if (!trait[0] || strlen(trait) > CLM_TRAIT_NAME_MAX || strchr(trait, ':')) {
        snprintf(errbuf, errsize, "\"%s\" is not a trait dimension (trait:<name>)", dim);
        return -EINVAL;
    }
    snprintf(name, sizeof(name), "trait:%s", trait);
    const clm_breakdown_spec *s = spec_of(x->cfg, trait);
    if ((r = bucket_day(x, false, &first, errbuf, errsize)) < 0 ||
        (r = bucket_day(x, true, &last, errbuf, errsize)) < 0 ||
        (r = clmctl_span_days(span, first, last, &start, &stop, errbuf, errsize)) < 0)
        return r;
    /* every day from the first: customers_delta runs from the start */
    for (int64_t d = first; d <= stop; d++) {
        char key[CLM_KEY_MAX];
        clmctl_hash *h = NULL;
        clm_key_breakdown(key, sizeof(key), x->prefix, trait, d);
        if ((r = clmctl_hash_read(x->rp, key, &h, errbuf, errsize)) < 0)
            goto out_free_rows;
        r = add_day(&rows, s, h, d >= start, d < start, key, errbuf, errsize);
        clmctl_hash_free(h);
        if (r < 0)
            goto out_free_rows;
    }
    if (rows.n == 0) {
        snprintf(errbuf, errsize, "no breakdown counters of %s (is it in the breakdowns key?)",
                 name);
        r = -ENOENT;
        goto out_free_rows;
    }
    qsort(rows.v, rows.n, sizeof(*rows.v), row_cmp);
    char a[16], b[16];
    clm_day_format(start, a);
    clm_day_format(stop, b);
    r = print_rows(x, name, a, b, &rows, errbuf, errsize);
out_free_rows:
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].value);
    free(rows.v);
    return r;
}
