/* tools/clmctl_kpi.c - `clmctl kpi`: the rolling KPI hashes, one column per
 * window. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpi.h"
#include "core/stages.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"

/* The fields of a kpi hash in the order clm_kpi_window emits them; the
 * conversion fields go between the two parts. */
static const char *const fields_before_conv[] = {
    "window_start", "window_end", "revenue", "orders", "new_customers", "churned", "aov", "cpa",
    "nps", "csat", "csat_mean", "churn_rate", "retention_rate", "lead_to_customer",
};
static const char *const fields_after_conv[] = {
    "lead_response_s", "avg_engagement_s", "upsell_rate", "clv_lifetime_years", "clv_pred_avg",
};
#define NBEFORE (sizeof(fields_before_conv) / sizeof(fields_before_conv[0]))
#define NAFTER (sizeof(fields_after_conv) / sizeof(fields_after_conv[0]))

typedef struct window {
    int days;
    clmctl_hash *h;
} window;

typedef struct kpi_view {
    window *w; /* in increasing days */
    size_t nw;
    char **rows; /* field names, row order */
    size_t nrows;
} kpi_view;

static void view_release(kpi_view *v)
{
    for (size_t i = 0; i < v->nw; i++)
        clmctl_hash_free(v->w[i].h);
    free(v->w);
    for (size_t i = 0; i < v->nrows; i++)
        free(v->rows[i]);
    free(v->rows);
}

/* The window of a key "<prefix>kpi:<N>d", or 0 for any other key. */
static int window_of_key(const char *key, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) != 0 || strncmp(key + pl, "kpi:", 4) != 0)
        return 0;
    const char *d = key + pl + 4;
    long long n = 0;
    size_t i = 0;
    for (; d[i] >= '0' && d[i] <= '9' && i < 9; i++)
        n = n * 10 + (d[i] - '0');
    if (i == 0 || d[0] == '0' || strcmp(d + i, "d") != 0)
        return 0;
    return (int)n;
}

static int window_cmp(const void *a, const void *b)
{
    int x = ((const window *)a)->days, y = ((const window *)b)->days;
    return (x > y) - (x < y);
}

static int read_window(const clmctl_ctx *x, int days, window *w, char *errbuf, size_t errsize)
{
    char key[512];
    clm_key_kpi(key, sizeof(key), x->prefix, days);
    w->days = days;
    return clmctl_hash_read(x->rp, key, &w->h, errbuf, errsize);
}

static int read_windows(const clmctl_ctx *x, int window_days, kpi_view *v, char *errbuf,
                        size_t errsize)
{
    char pattern[512], esc[300];
    char **keys = NULL;
    size_t nk = 0;
    int r;
    if (window_days > 0) {
        if (!(v->w = calloc(1, sizeof(*v->w))))
            goto out_nomem;
        if ((r = read_window(x, window_days, &v->w[0], errbuf, errsize)) < 0)
            return r;
        v->nw = 1;
        if (clmctl_hash_count(v->w[0].h) == 0) {
            snprintf(errbuf, errsize, "no KPIs for the %dd window (%skpi:%dd does not exist)",
                     window_days, x->prefix, window_days);
            return -ENOENT;
        }
        return 0;
    }
    if (clmctl_glob_escape(x->prefix, esc, sizeof(esc)) < 0) {
        snprintf(errbuf, errsize, "the prefix is too long");
        return -EINVAL;
    }
    snprintf(pattern, sizeof(pattern), "%skpi:*d", esc);
    if ((r = clmctl_scan(x->rp, pattern, &keys, &nk, errbuf, errsize)) < 0)
        return r;
    if (!(v->w = calloc(nk + 1, sizeof(*v->w)))) {
        clmctl_keys_free(keys, nk);
        goto out_nomem;
    }
    for (size_t i = 0; i < nk; i++) {
        int days = window_of_key(keys[i], x->prefix);
        if (days <= 0)
            continue;
        if ((r = read_window(x, days, &v->w[v->nw], errbuf, errsize)) < 0) {
            clmctl_keys_free(keys, nk);
            return r;
        }
        v->nw++;
    }
    clmctl_keys_free(keys, nk);
    if (v->nw == 0) {
        snprintf(errbuf, errsize, "no KPIs in Redis yet (no %skpi:<N>d hash)", x->prefix);
        return -ENOENT;
    }
    qsort(v->w, v->nw, sizeof(*v->w), window_cmp);
    return 0;

out_nomem:
    snprintf(errbuf, errsize, "out of memory");
    return -ENOMEM;
}

static bool has_row(const kpi_view *v, const char *field)
{
    for (size_t i = 0; i < v->nrows; i++)
        if (strcmp(v->rows[i], field) == 0)
            return true;
    return false;
}

static int add_row(kpi_view *v, size_t *cap, const char *field)
{
    if (v->nrows == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        char **rows = realloc(v->rows, ncap * sizeof(*rows));
        if (!rows)
            return -ENOMEM;
        v->rows = rows;
        *cap = ncap;
    }
    if (!(v->rows[v->nrows] = strdup(field)))
        return -ENOMEM;
    v->nrows++;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows: every field clmd writes, in its order, then the others of any
 * window in byte order. */
static int plan_rows(const clm_stages *m, kpi_view *v)
{
    size_t cap = 0;
    char conv[2 * CLM_KPI_FIELD_MAX + 8];
    int r = 0;
    for (size_t i = 0; i < NBEFORE && r == 0; i++)
        r = add_row(v, &cap, fields_before_conv[i]);
    size_t nord = m ? clm_stages_ordinary(m) : 0;
    for (size_t k = 0; k + 1 < nord && r == 0; k++) {
        snprintf(conv, sizeof(conv), "conv_%s_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)k)),
                 clm_stages_name(m, clm_stages_at_rank(m, (int)k + 1)));
        r = add_row(v, &cap, conv);
    }
    for (size_t i = 0; i < NAFTER && r == 0; i++)
        r = add_row(v, &cap, fields_after_conv[i]);
    size_t known = v->nrows;
    for (size_t w = 0; w < v->nw && r == 0; w++)
        for (size_t i = 0; i < clmctl_hash_count(v->w[w].h) && r == 0; i++)
            if (!has_row(v, clmctl_hash_field(v->w[w].h, i)))
                r = add_row(v, &cap, clmctl_hash_field(v->w[w].h, i));
    if (r == 0)
        qsort(v->rows + known, v->nrows - known, sizeof(*v->rows), row_cmp);
    return r;
}

static int print_table(const clmctl_ctx *x, const kpi_view *v)
{
    clmctl_table *t = clmctl_table_new(v->nw + 1);
    const char **cells = calloc(v->nw + 1, sizeof(*cells));
    char(*heads)[16] = calloc(v->nw, sizeof(*heads));
    int r = -ENOMEM;
    if (!t || !cells || !heads)
        goto out_free_table;
    cells[0] = "kpi";
    for (size_t w = 0; w < v->nw; w++) {
        snprintf(heads[w], sizeof(heads[w]), "%dd", v->w[w].days);
        cells[w + 1] = heads[w];
        clmctl_table_align(t, w + 1, CLMCTL_RIGHT);
    }
    if ((r = clmctl_table_add(t, cells)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < v->nrows; i++) {
        cells[0] = v->rows[i];
        for (size_t w = 0; w < v->nw; w++) {
            const char *val = clmctl_hash_get(v->w[w].h, v->rows[i]);
            cells[w + 1] = val ? val : "-";
        }
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    free(heads);
    free(cells);
    clmctl_table_free(t);
    return r;
}

static int print_json(const clmctl_ctx *x, const kpi_view *v, char *errbuf, size_t errsize)
{
    json_t *doc = json_object();
    int r = 0;
    for (size_t w = 0; doc && w < v->nw && r == 0; w++) {
        char name[16];
        json_t *o = json_object();
        snprintf(name, sizeof(name), "%dd", v->w[w].days);
        if (json_object_set_new(doc, name, o) < 0) {
            r = -ENOMEM;
            break;
        }
        for (size_t i = 0; i < v->nrows && r == 0; i++) {
            const char *val = clmctl_hash_get(v->w[w].h, v->rows[i]);
            if (val && json_object_set_new(o, v->rows[i], json_string(val)) < 0) {
                snprintf(errbuf, errsize, "%skpi:%dd: field %s or its value is not UTF-8",
                         x->prefix, v->w[w].days, v->rows[i]);
                r = -EIO;
            }
        }
    }
    if (!doc) {
        r = -ENOMEM;
    }
    if (r == -ENOMEM)
        snprintf(errbuf, errsize, "out of memory");
    if (r == 0)
        r = clmctl_json_print(doc, x->out, errbuf, errsize);
    json_decref(doc);
    return r;
}

int clmctl_kpi(const clmctl_ctx *x, int window_days, char *errbuf, size_t errsize)
{
    kpi_view v = { 0 };
    int r = read_windows(x, window_days, &v, errbuf, errsize);
    if (r < 0)
        goto out_release;
    if ((r = plan_rows(x->cfg->stages, &v)) < 0) {
        snprintf(errbuf, errsize, "out of memory");
        goto out_release;
    }
    if (x->json) {
        r = print_json(x, &v, errbuf, errsize);
    } else if ((r = print_table(x, &v)) < 0) {
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
    }
out_release:
    view_release(&v);
    return r;
}
