/* core/dedup.c - per-customer recent event-id set (see dedup.h). */
#include "core/dedup.h"

#include "core/event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

int clm_dedup_format(const clm_dedup *d, char *buf, size_t size)
{
    size_t off = 0;
    if (size == 0)
        return -ENOSPC;
    buf[0] = '\0';
    static const char hex[] = "0123456789abcdef";
    for (uint16_t i = 0; i < d->n; i++) {
        char e[40];
        size_t w = 0;
        if (i)
            e[w++] = ',';
        for (int k = 60; k >= 0; k -= 4)
            e[w++] = hex[(d->v[i].hash >> k) & 0xf];
        e[w++] = ':';
        w += (size_t)clm_i64_format(d->v[i].ts_ms, e + w);
        if (w >= size - off)
            return -ENOSPC;
        memcpy(buf + off, e, w);
        off += w;
    }
    buf[off] = '\0';
    return (int)off;
}

static int parse_entry(const char *s, const char *end, clm_dedup_entry *e)
{
    uint64_t h = 0;
    const char *p = s;
    int digits = 0;
    for (; p < end && *p != ':'; p++, digits++) {
        int c = (unsigned char)*p, v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return -EINVAL;
        h = (h << 4) | (uint64_t)v;
    }
    if (digits != 16 || p >= end)
        return -EINVAL;
    p++;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end)
        return -EINVAL;
    int64_t ts = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || ts > (INT64_MAX - 9) / 10)
            return -EINVAL;
        ts = ts * 10 + (*p - '0');
    }
    e->hash = h;
    e->ts_ms = neg ? -ts : ts;
    return 0;
}

int clm_dedup_parse(clm_dedup *d, const char *s, size_t len)
{
    const char *end = s + len, *p = s;
    clm_dedup_init(d);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        clm_dedup_entry e;
        int r = parse_entry(p, stop, &e);
        if (r == 0 && ((comma && comma + 1 == end) || (d->n && e.ts_ms < d->v[d->n - 1].ts_ms)))
            r = -EINVAL; /* trailing comma, or not in time order */
        if (r == 0)
            r = reserve(d, (unsigned)d->n + 1u);
        if (r < 0) {
            clm_dedup_release(d);
            return r;
        }
        d->v[d->n++] = e;
        p = comma ? comma + 1 : end;
    }
    return 0;
}
