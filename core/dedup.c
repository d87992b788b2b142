/* core/dedup.c - per-customer recent event-id set (see dedup.h). */
#include "core/dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

void clm_dedup_init(clm_dedup *d)
{
    d->v = NULL;
    d->n = 0;
    d->cap = 0;
}

void clm_dedup_release(clm_dedup *d)
{
    if (!d)
        return;
    free(d->v);
    clm_dedup_init(d);
}

uint64_t clm_dedup_hash(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

bool clm_dedup_contains(const clm_dedup *d, uint64_t hash)
{
    for (uint16_t i = 0; i < d->n; i++)
        if (d->v[i].hash == hash)
            return true;
    return false;
}

static int reserve(clm_dedup *d, unsigned want)
{
    if (want <= d->cap)
        return 0;
    if (want > UINT16_MAX)
        return -E2BIG;
    unsigned cap = d->cap ? d->cap * 2u : 2u;
    while (cap < want)
        cap *= 2u;
    if (cap > UINT16_MAX)
        cap = UINT16_MAX;
    clm_dedup_entry *v = realloc(d->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    d->v = v;
    d->cap = (uint16_t)cap;
    return 0;
}

int clm_dedup_add(clm_dedup *d, uint64_t hash, int64_t ts_ms, int64_t latest_ms,
                  int64_t horizon_ms, unsigned max_ids)
{
    int r = reserve(d, (unsigned)d->n + 1u);
    if (r < 0)
        return r;
    /* insert keeping ts order; equal times keep arrival order */
    uint16_t pos = d->n;
    while (pos > 0 && d->v[pos - 1].ts_ms > ts_ms)
        pos--;
    memmove(&d->v[pos + 1], &d->v[pos], (size_t)(d->n - pos) * sizeof(*d->v));
    d->v[pos] = (clm_dedup_entry){ .hash = hash, .ts_ms = ts_ms };
    d->n++;

    uint16_t drop = 0;
    int64_t cutoff = latest_ms - horizon_ms;
    while (drop < d->n && d->v[drop].ts_ms < cutoff)
        drop++;
    if (d->n - drop > (int)max_ids)
        drop = (uint16_t)(d->n - max_ids);
    if (drop) {
        memmove(d->v, d->v + drop, (size_t)(d->n - drop) * sizeof(*d->v));
        d->n = (uint16_t)(d->n - drop);
    }
    if (d->n == 0) {
        free(d->v);
        clm_dedup_init(d);
    }
    return 0;
}

int clm_dedup_append(clm_dedup *d, uint64_t hash, int64_t ts_ms)
{
    if (d->n && ts_ms < d->v[d->n - 1].ts_ms)
        return -EINVAL;
    int r = reserve(d, (unsigned)d->n + 1u);
    if (r < 0)
        return r;
    d->v[d->n++] = (clm_dedup_entry){ .hash = hash, .ts_ms = ts_ms };
    return 0;
}
