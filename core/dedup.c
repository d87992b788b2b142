/* core/dedup.c - per-customer recent event-id set (see dedup.h). */
#include "core/dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

void clm_dedup_init(clm_dedup *d)
{
    memset(&d->u, 0, sizeof(d->u));
    d->n = 0;
    d->cap = CLM_DEDUP_INLINE;
}

void clm_dedup_release(clm_dedup *d)
{
    if (!d)
        return;
    if (clm_dedup_on_heap(d))
        free(d->u.heap);
    clm_dedup_init(d);
}

/* The entries, writable. */
static clm_dedup_entry *entries(clm_dedup *d)
{
    return clm_dedup_on_heap(d) ? d->u.heap : d->u.in;
}

uint64_t clm_dedup_hash(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

bool clm_dedup_contains(const clm_dedup *d, uint64_t hash)
{
    const clm_dedup_entry *v = clm_dedup_entries(d);
    for (uint16_t i = 0; i < d->n; i++)
        if (v[i].hash == hash)
            return true;
    return false;
}

static int reserve(clm_dedup *d, unsigned want)
{
    if (want <= d->cap)
        return 0;
    if (want > UINT16_MAX)
        return -E2BIG;
    unsigned cap = d->cap * 2u;
    while (cap < want)
        cap *= 2u;
    if (cap > UINT16_MAX)
        cap = UINT16_MAX;
    clm_dedup_entry *v;
    if (clm_dedup_on_heap(d)) {
        v = realloc(d->u.heap, cap * sizeof(*v));
    } else {
        v = malloc(cap * sizeof(*v));
        if (v)
            memcpy(v, d->u.in, (size_t)d->n * sizeof(*v));
    }
    if (!v)
        return -ENOMEM;
    d->u.heap = v;
    d->cap = (uint16_t)cap;
    return 0;
}

/* Moves a heap set small enough back inside. */
static void shrink(clm_dedup *d)
{
    if (!clm_dedup_on_heap(d) || d->n > CLM_DEDUP_INLINE)
        return;
    clm_dedup_entry *v = d->u.heap;
    memcpy(d->u.in, v, (size_t)d->n * sizeof(*v));
    d->cap = CLM_DEDUP_INLINE;
    free(v);
}

int clm_dedup_add(clm_dedup *d, uint64_t hash, int64_t ts_ms, int64_t latest_ms,
                  int64_t horizon_ms, unsigned max_ids)
{
    int r = reserve(d, (unsigned)d->n + 1u);
    if (r < 0)
        return r;
    clm_dedup_entry *v = entries(d);
    /* insert keeping ts order; equal times keep arrival order */
    uint16_t pos = d->n;
    while (pos > 0 && v[pos - 1].ts_ms > ts_ms)
        pos--;
    memmove(&v[pos + 1], &v[pos], (size_t)(d->n - pos) * sizeof(*v));
    v[pos] = (clm_dedup_entry){ .hash = hash, .ts_ms = ts_ms };
    d->n++;

    uint16_t drop = 0;
    int64_t cutoff = latest_ms - horizon_ms;
    while (drop < d->n && v[drop].ts_ms < cutoff)
        drop++;
    if (d->n - drop > (int)max_ids)
        drop = (uint16_t)(d->n - max_ids);
    if (drop) {
        memmove(v, v + drop, (size_t)(d->n - drop) * sizeof(*v));
        d->n = (uint16_t)(d->n - drop);
    }
    shrink(d);
    return 0;
}

int clm_dedup_append(clm_dedup *d, uint64_t hash, int64_t ts_ms)
{
    if (d->n && ts_ms < clm_dedup_entries(d)[d->n - 1].ts_ms)
        return -EINVAL;
    int r = reserve(d, (unsigned)d->n + 1u);
    if (r < 0)
        return r;
    entries(d)[d->n++] = (clm_dedup_entry){ .hash = hash, .ts_ms = ts_ms };
    return 0;
}
