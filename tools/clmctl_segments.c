/* tools/clmctl_segments.c - `clmctl segments`: the segment job's last pass
 * (<prefix>segments and <prefix>rfm:bounds, store/keys.h): segment sizes
 * with their rules, customers per RFM segment, and the RFM boundaries. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"

#define SEG_PREFIX "segment:"
#define RFM_PREFIX "rfm:"

/* The segments of the summary in byte order: field "segment:<name>" with a
 * "segment:<name>:rule" beside it. */
static bool is_segment(const clmctl_hash *h, size_t i)
{
    const char *f = clmctl_hash_field(h, i);
    if (strncmp(f, SEG_PREFIX, strlen(SEG_PREFIX)) != 0 || strchr(f + strlen(SEG_PREFIX), ':'))
        return false;
    char rule[512];
    snprintf(rule, sizeof rule, "%s:rule", f);
    return clmctl_hash_get(h, rule) != NULL;
}

static bool is_rfm(const clmctl_hash *h, size_t i)
{
    return strncmp(clmctl_hash_field(h, i), RFM_PREFIX, strlen(RFM_PREFIX)) == 0;
}

/* The RFM segment fields in the config's map order, then Other, then any
 * other rfm:<name> field in byte order; *n of them into idx. */
static void rfm_order(const clmctl_ctx *x, const clmctl_hash *h, size_t *idx, size_t *n)
{
    const clm_rfm_map *map = x->cfg->rfm_map;
    size_t k = 0, nmap = clm_rfm_map_count(map);
    bool *used = calloc(clmctl_hash_count(h) + 1, sizeof *used);
    for (size_t m = 0; m <= nmap; m++) {
        char f[128];
        snprintf(f, sizeof f, RFM_PREFIX "%s", clm_rfm_map_name(map, (int)m));
        for (size_t i = 0; i < clmctl_hash_count(h); i++)
            if (strcmp(clmctl_hash_field(h, i), f) == 0 && !(used && used[i])) {
                idx[k++] = i;
                if (used)
                    used[i] = true;
            }
    }
    for (size_t i = 0; i < clmctl_hash_count(h); i++)
        if (is_rfm(h, i) && !(used && used[i]))
            idx[k++] = i;
    free(used);
    *n = k;
}

static int print_table(const clmctl_ctx *x, const clmctl_hash *h, const clmctl_hash *b,
                       const size_t *rfm, size_t nrfm)
{
    const char *v;
    clmctl_table *t = NULL;
    int r = -ENOMEM;

    static const char *const head_fields[4] = {"pass", "day", "customers", "buyers"};
    const char *hv[4];
    for (int i = 0; i < 4; i++)
        hv[i] = (v = clmctl_hash_get(h, head_fields[i])) ? v : "-";
    fprintf(x->out, "pass %s on %s: %s customers, %s with a purchase\n\n", hv[0], hv[1], hv[2],
            hv[3]);
    if (!(t = clmctl_table_new(3)))
        return r;
    clmctl_table_align(t, 1, CLMCTL_RIGHT);
    const char *head[] = {"segment", "customers", "rule"};
    if ((r = clmctl_table_add(t, head)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < clmctl_hash_count(h); i++) {
        if (!is_segment(h, i))
            continue;
        char rule[512];
        snprintf(rule, sizeof rule, "%s:rule", clmctl_hash_field(h, i));
        const char *cells[] = {clmctl_hash_field(h, i) + strlen(SEG_PREFIX),
                               clmctl_hash_value(h, i), clmctl_hash_get(h, rule)};
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    if ((r = clmctl_table_print(t, x->out)) < 0)
        goto out_free_table;
    clmctl_table_free(t);
    fputc('\n', x->out);
    if (!(t = clmctl_table_new(2)))
        return -ENOMEM;
    clmctl_table_align(t, 1, CLMCTL_RIGHT);
    const char *rhead[] = {"rfm_segment", "customers"};
    if ((r = clmctl_table_add(t, rhead)) < 0)
        goto out_free_table;
    for (size_t k = 0; k < nrfm; k++) {
        const char *cells[] = {clmctl_hash_field(h, rfm[k]) + strlen(RFM_PREFIX),
                               clmctl_hash_value(h, rfm[k])};
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    if ((r = clmctl_table_print(t, x->out)) < 0)
        goto out_free_table;
    clmctl_table_free(t);
    t = NULL;
    if (clmctl_hash_count(b) == 0)
        return 0;
    fprintf(x->out, "\nRFM boundaries: a score is 1 + the number of boundaries below the value\n");
    if (!(t = clmctl_table_new(5)))
        return -ENOMEM;
    for (size_t c = 1; c < 5; c++)
        clmctl_table_align(t, c, CLMCTL_RIGHT);
    const char *bhead[] = {"", "1", "2", "3", "4"};
    if ((r = clmctl_table_add(t, bhead)) < 0)
        goto out_free_table;
    static const char *const rows[3][2] = {
        {"r", "last purchase"}, {"f", "orders"}, {"m", "revenue"}};
    for (int m = 0; m < 3; m++) {
        const char *cells[5] = {rows[m][1]};
        for (int k = 0; k < 4; k++) {
            char f[8];
            snprintf(f, sizeof f, "%s%d", rows[m][0], k + 1);
            cells[k + 1] = clmctl_hash_get(b, f);
        }
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    clmctl_table_free(t);
    return r;
}

/* A stored count as a JSON integer (its text when it is not one). */
static json_t *count_of(const char *v)
{
    int64_t n;
    return v && clmctl_parse_i64(v, &n) == 0 ? json_integer(n) : json_string(v ? v : "");
}

static int print_json(const clmctl_ctx *x, const clmctl_hash *h, const clmctl_hash *b,
                      const size_t *rfm, size_t nrfm, char *errbuf, size_t errsize)
{
    json_t *o = json_object(), *segs = json_object(), *rs = json_object(), *bo = json_object();
    int r = -ENOMEM;

    if (!o || !segs || !rs || !bo)
        goto out_decref;
    static const char *const head[] = {"pass", "day", "customers", "buyers"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = clmctl_hash_get(h, head[i]);
        json_object_set_new(o, head[i], i == 1 ? json_string(v ? v : "") : count_of(v));
    }
    for (size_t i = 0; i < clmctl_hash_count(h); i++) {
        if (!is_segment(h, i))
            continue;
        char rule[512];
        snprintf(rule, sizeof rule, "%s:rule", clmctl_hash_field(h, i));
        json_t *s = json_pack("{s:o, s:s}", "members", count_of(clmctl_hash_value(h, i)), "rule",
                              clmctl_hash_get(h, rule));
        if (!s)
            goto out_decref;
        json_object_set_new(segs, clmctl_hash_field(h, i) + strlen(SEG_PREFIX), s);
    }
    for (size_t k = 0; k < nrfm; k++)
        json_object_set_new(rs, clmctl_hash_field(h, rfm[k]) + strlen(RFM_PREFIX),
                            count_of(clmctl_hash_value(h, rfm[k])));
    if (clmctl_hash_count(b) > 0) {
        static const char *const ms[3] = {"r", "f", "m"};
        for (int m = 0; m < 3; m++) {
            json_t *a = json_array();
            for (int k = 0; a && k < 4; k++) {
                char f[8];
                snprintf(f, sizeof f, "%s%d", ms[m], k + 1);
                const char *v = clmctl_hash_get(b, f);
                json_array_append_new(a, json_string(v ? v : ""));
            }
            json_object_set_new(bo, ms[m], a);
        }
    }
    json_object_set(o, "segments", segs);
    json_object_set(o, "rfm_segments", rs);
    json_object_set(o, "rfm_bounds", bo);
    r = clmctl_json_print(o, x->out, errbuf, errsize);
out_decref:
    if (r == -ENOMEM)
        snprintf(errbuf, errsize, "out of memory");
    json_decref(o);
    json_decref(segs);
    json_decref(rs);
    json_decref(bo);
    return r;
}

int clmctl_segments(const clmctl_ctx *x, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX], bkey[CLM_KEY_MAX];
    clmctl_hash *h = NULL, *b = NULL;
    size_t *rfm = NULL, nrfm = 0;
    int r;

    clm_key_single(key, sizeof key, x->prefix, CLM_KEY_SEGMENTS);
    clm_key_single(bkey, sizeof bkey, x->prefix, CLM_KEY_RFM_BOUNDS);
    if ((r = clmctl_hash_read(x->rp, key, &h, errbuf, errsize)) < 0 ||
        (r = clmctl_hash_read(x->rp, bkey, &b, errbuf, errsize)) < 0)
        goto out_free;
    if (clmctl_hash_count(h) == 0) {
        snprintf(errbuf, errsize,
                 "no segment pass yet (%s does not exist): clmd computes segments when "
                 "segments is not empty or rfm.enabled is true",
                 key);
        r = -ENOENT;
        goto out_free;
    }
    if (!(rfm = calloc(clmctl_hash_count(h) + 1, sizeof *rfm))) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free;
    }
    rfm_order(x, h, rfm, &nrfm);
    if (x->json)
        r = print_json(x, h, b, rfm, nrfm, errbuf, errsize);
    else if ((r = print_table(x, h, b, rfm, nrfm)) < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
out_free:
    free(rfm);
    clmctl_hash_free(h);
    clmctl_hash_free(b);
    return r;
}
