/* tools/clmctl_stages.c - `clmctl stages`: customers per lifecycle stage. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"

typedef struct stage_row {
    const char *name; /* points into the config or the hash */
    int64_t count;
} stage_row;

static bool configured(const clm_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->lifecycle_stage_count; i++)
        if (strcmp(cfg->lifecycle_stages[i], name) == 0)
            return true;
    return false;
}

/* The rows in display order with their counts. -EIO when a stored count is
 * not an integer. */
static int collect(const clmctl_ctx *x, const clmctl_hash *h, stage_row *rows, size_t *n,
                   char *errbuf, size_t errsize)
{
    const clm_config *cfg = x->cfg;
    size_t k = 0;
    for (size_t i = 0; i < cfg->lifecycle_stage_count; i++)
        rows[k++] = (stage_row){ .name = cfg->lifecycle_stages[i] };
    for (size_t i = 0; i < clmctl_hash_count(h); i++)
        if (!configured(cfg, clmctl_hash_field(h, i)))
            rows[k++] = (stage_row){ .name = clmctl_hash_field(h, i) };
    for (size_t i = 0; i < k; i++) {
        const char *v = clmctl_hash_get(h, rows[i].name);
        if (v && (clmctl_parse_i64(v, &rows[i].count) < 0 || rows[i].count < 0)) {
            snprintf(errbuf, errsize, "%sstage_counts: %s: \"%s\" is not a count", x->prefix,
                     rows[i].name, v);
            return -EIO;
        }
    }
    *n = k;
    return 0;
}

/* count / total as a percentage with one decimal, rounded half up
 * (counts are >= 0); "-" when total is 0. */
static void share(int64_t count, int64_t total, char *buf, size_t size)
{
    if (total <= 0) {
        snprintf(buf, size, "-");
        return;
    }
    int64_t tenths;
    if (count <= INT64_MAX / 2000)
        tenths = (count * 2000 + total) / (2 * total);
    else
        tenths = (int64_t)((long double)count * 1000.0L / (long double)total + 0.5L);
    snprintf(buf, size, "%" PRId64 ".%" PRId64 "%%", tenths / 10, tenths % 10);
}

static int print_table(const clmctl_ctx *x, const stage_row *rows, size_t n)
{
    clmctl_table *t = clmctl_table_new(3);
    int64_t total = 0;
    int r = -ENOMEM;
    if (!t)
        return r;
    clmctl_table_align(t, 1, CLMCTL_RIGHT);
    clmctl_table_align(t, 2, CLMCTL_RIGHT);
    for (size_t i = 0; i < n; i++)
        total = rows[i].count > INT64_MAX - total ? INT64_MAX : total + rows[i].count;
    const char *head[] = { "stage", "customers", "share" };
    if ((r = clmctl_table_add(t, head)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < n; i++) {
        char count[24], pct[24];
        snprintf(count, sizeof(count), "%" PRId64, rows[i].count);
        share(rows[i].count, total, pct, sizeof(pct));
        const char *cells[] = { rows[i].name, count, pct };
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    clmctl_table_free(t);
    return r;
}

static int print_json(const clmctl_ctx *x, const stage_row *rows, size_t n, char *errbuf,
                      size_t errsize)
{
    json_t *o = json_object();
    int r = 0;
    if (!o) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (json_object_set_new(o, rows[i].name, json_integer(rows[i].count)) < 0) {
            snprintf(errbuf, errsize, "%sstage_counts: stage %s is not UTF-8", x->prefix, rows[i].name);
            r = -EIO;
            goto out_decref;
        }
    r = clmctl_json_print(o, x->out, errbuf, errsize);
out_decref:
    json_decref(o);
    return r;
}

int clmctl_stages(const clmctl_ctx *x, char *errbuf, size_t errsize)
{
    char key[512];
    clmctl_hash *h = NULL;
    stage_row *rows = NULL;
    size_t n = 0;
    int r;
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_STAGE_COUNTS);
    if ((r = clmctl_hash_read(x->rp, key, &h, errbuf, errsize)) < 0)
        return r;
    if (!(rows = calloc(x->cfg->lifecycle_stage_count + clmctl_hash_count(h) + 1, sizeof(*rows)))) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free_hash;
    }
    if ((r = collect(x, h, rows, &n, errbuf, errsize)) < 0)
        goto out_free_hash;
    if (x->json)
        r = print_json(x, rows, n, errbuf, errsize);
    else if ((r = print_table(x, rows, n)) < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
out_free_hash:
    free(rows);
    clmctl_hash_free(h);
    return r;
}
