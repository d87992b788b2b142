/* core/rfmscore.c - RFM quintile boundaries, scores and the segment map
 * (core/rfmscore.h).
 */
#include "core/rfmscore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The standard RFM segment map: the usual grid over the R and F scores (M
 * is not read), tried in order (first match wins). It covers every triple,
 * and every entry is reached by some triple. */
static const clm_rfm_seg_spec default_map[] = {
    {"Champions", 5, 5, 4, 5, 1, 5},
    {"Loyal", 3, 4, 4, 5, 1, 5},
    {"Potential loyalist", 4, 5, 2, 3, 1, 5},
    {"New", 5, 5, 1, 1, 1, 5},
    {"Promising", 4, 4, 1, 1, 1, 5},
    {"Need attention", 3, 3, 3, 3, 1, 5},
    {"About to sleep", 3, 3, 1, 2, 1, 5},
    {"At risk", 1, 2, 3, 4, 1, 5},
    {"Can't lose", 1, 2, 5, 5, 1, 5},
    {"Lost", 1, 1, 1, 1, 1, 5},
    {"Hibernating", 1, 2, 1, 2, 1, 5},
};

struct clm_rfm_map {
    size_t n;
    char **names;
    uint8_t seg[125]; /* (r-1)*25 + (f-1)*5 + (m-1) -> segment index, n: other */
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void quintiles(int64_t *v, size_t n, int64_t out[CLM_RFM_NBOUNDS])
{
    qsort(v, n, sizeof *v, cmp_i64);
    for (size_t k = 1; k <= CLM_RFM_NBOUNDS; k++)
        out[k - 1] = v[(k * n + 4) / 5 - 1];
}

void clm_rfm_bounds_compute(int64_t *r, int64_t *f, int64_t *m, size_t n, clm_rfm_bounds *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    out->n = (int64_t)n;
    quintiles(r, n, out->r);
    quintiles(f, n, out->f);
    quintiles(m, n, out->m);
}

int clm_rfm_quintile(const int64_t b[CLM_RFM_NBOUNDS], int64_t v)
{
    int s = 1;
    for (int k = 0; k < CLM_RFM_NBOUNDS; k++)
        s += b[k] < v;
    return s;
}

void clm_rfm_score(const clm_rfm_bounds *b, int64_t last_day, int64_t orders, int64_t revenue,
                   uint8_t out[3])
{
    if (b->n <= 0 || last_day < 0 || orders <= 0) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    out[0] = (uint8_t)clm_rfm_quintile(b->r, last_day);
    out[1] = (uint8_t)clm_rfm_quintile(b->f, orders);
    out[2] = (uint8_t)clm_rfm_quintile(b->m, revenue);
}

const clm_rfm_seg_spec *clm_rfm_default_map(size_t *n)
{
    *n = sizeof default_map / sizeof default_map[0];
    return default_map;
}

static bool in(uint8_t s, uint8_t lo, uint8_t hi)
{
    return s >= lo && s <= hi;
}

static bool range_ok(uint8_t lo, uint8_t hi)
{
    return lo >= 1 && hi <= 5 && lo <= hi;
}

int clm_rfm_map_new(const clm_rfm_seg_spec *specs, size_t n, clm_rfm_map **out, char *errbuf,
                    size_t errsize)
{
    if (n == 0 || n > CLM_RFM_MAX_SEGMENTS) {
        snprintf(errbuf, errsize, ": expected 1..%d segments", CLM_RFM_MAX_SEGMENTS);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const clm_rfm_seg_spec *s = &specs[i];
        if (!s->name || !s->name[0] || strcmp(s->name, CLM_RFM_OTHER) == 0) {
            snprintf(errbuf, errsize, "[%zu].name: expected a name other than \"\" and \"%s\"",
                     i, CLM_RFM_OTHER);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].name, s->name) == 0) {
                snprintf(errbuf, errsize, "[%zu].name: \"%s\" is also segment [%zu]", i,
                         s->name, j);
                return -EINVAL;
            }
        const char *bad = !range_ok(s->r_lo, s->r_hi) ? "r"
                          : !range_ok(s->f_lo, s->f_hi) ? "f"
                          : !range_ok(s->m_lo, s->m_hi) ? "m"
                                                        : NULL;
        if (bad) {
            snprintf(errbuf, errsize, "[%zu].%s: expected [lo, hi] with 1 <= lo <= hi <= 5", i,
                     bad);
            return -EINVAL;
        }
    }
    clm_rfm_map *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->names = calloc(n, sizeof *m->names);
    if (!m->names)
        goto out_free_map;
    m->n = n;
    for (size_t i = 0; i < n; i++)
        if (!(m->names[i] = strdup(specs[i].name)))
            goto out_free_map;
    for (int r = 1; r <= 5; r++)
        for (int f = 1; f <= 5; f++)
            for (int v = 1; v <= 5; v++) {
                size_t i = 0;
                while (i < n && !(in((uint8_t)r, specs[i].r_lo, specs[i].r_hi) &&
                                  in((uint8_t)f, specs[i].f_lo, specs[i].f_hi) &&
                                  in((uint8_t)v, specs[i].m_lo, specs[i].m_hi)))
                    i++;
                m->seg[(r - 1) * 25 + (f - 1) * 5 + (v - 1)] = (uint8_t)i;
            }
    *out = m;
    return 0;

out_free_map:
    clm_rfm_map_free(m);
    return -ENOMEM;
}

int clm_rfm_map_segment(const clm_rfm_map *map, const uint8_t s[3])
{
    if (s[0] < 1 || s[0] > 5 || s[1] < 1 || s[1] > 5 || s[2] < 1 || s[2] > 5)
        return -1;
    return map->seg[(s[0] - 1) * 25 + (s[1] - 1) * 5 + (s[2] - 1)];
}

size_t clm_rfm_map_count(const clm_rfm_map *map)
{
    return map->n;
}

const char *clm_rfm_map_name(const clm_rfm_map *map, int idx)
{
    if (idx < 0 || (size_t)idx > map->n)
        return NULL;
    return (size_t)idx == map->n ? CLM_RFM_OTHER : map->names[idx];
}

void clm_rfm_map_free(clm_rfm_map *map)
{
    if (!map)
        return;
    if (map->names)
        for (size_t i = 0; i < map->n; i++)
            free(map->names[i]);
    free(map->names);
    free(map);
}
