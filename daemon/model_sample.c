/* daemon/model_sample.c - see model_sample.h. */
#include "daemon/model_sample.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/dedup.h"
#include "core/rfm.h"
#include "store/scan.h"

/* One customer read for a fit: its summary and its key's hash (SCAN may
 * return a key twice). */
struct summary {
    double x, t_x, T, m_x;
    uint64_t key_hash;
};
typedef struct summary summary;


static int sample_push(clm_model_sample *s, const summary *c)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        summary *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = *c;
    return 0;
}

void clm_model_sample_free(clm_model_sample *s)
{
    free(s->v);
    free(s->x);
    free(s->t_x);
    free(s->T);
    free(s->m_x);
    *s = (clm_model_sample){ 0 };
}

typedef struct keyed {
    uint64_t hash;
    size_t index;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int clm_model_find_repeats(const uint64_t *hashes, size_t n, size_t **dup, size_t *ndup)
{
    keyed *k = malloc((n ? n : 1) * sizeof(*k));
    size_t *d = malloc((n ? n : 1) * sizeof(*d));
    if (!k || !d) {
        free(k);
        free(d);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){ hashes[i], i };
    if (n)
        qsort(k, n, sizeof(*k), keyed_cmp);
    size_t m = 0;
    for (size_t i = 1; i < n; i++)
        if (k[i].hash == k[i - 1].hash)
            d[m++] = k[i].index;
    free(k);
    *dup = d;
    *ndup = m;
    return 0;
}

static int summary_cmp(const void *a, const void *b)
{
    const summary *x = a, *y = b;
    const double u[4] = { x->x, x->t_x, x->T, x->m_x }, v[4] = { y->x, y->t_x, y->T, y->m_x };
    for (int k = 0; k < 4; k++)
        if (u[k] != v[k])
            return u[k] < v[k] ? -1 : 1;
    return 0;
}

/* Drops the repeats clm_model_find_repeats reports, sorts the summaries (so the fit
 * sees the same input in the same order whatever order SCAN returned), and
 * fills the columns, freeing the rows. Returns 0 or -ENOMEM. */
static int sample_finish(clm_model_sample *s)
{
    size_t *dup, ndup;
    uint64_t *hashes = malloc((s->n ? s->n : 1) * sizeof(*hashes));
    if (!hashes)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        hashes[i] = s->v[i].key_hash;
    int r = clm_model_find_repeats(hashes, s->n, &dup, &ndup);
    free(hashes);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ndup; i++)
        s->v[dup[i]].x = -1; /* marks a repeat */
    free(dup);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].x >= 0)
            s->v[w++] = s->v[i];
    s->n = w;
    if (s->n)
        qsort(s->v, s->n, sizeof(*s->v), summary_cmp);
    size_t size = (s->n ? s->n : 1) * sizeof(double);
    if (!(s->x = malloc(size)) || !(s->t_x = malloc(size)) || !(s->T = malloc(size)) ||
        !(s->m_x = malloc(size)))
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        s->x[i] = s->v[i].x;
        s->t_x[i] = s->v[i].t_x;
        s->T[i] = s->v[i].T;
        s->m_x[i] = s->v[i].m_x;
    }
    free(s->v);
    s->v = NULL;
    s->cap = 0;
    return 0;
}


typedef struct read_ctx {
    clm_model_sample *s;
    int64_t now_day;
    double unit_days;
    const atomic_bool *stop;
} read_ctx;

/* Between pages: stop when asked. */
static int read_page(void *vrx)
{
    read_ctx *x = vrx;
    return atomic_load(x->stop) ? -ECANCELED : 0;
}

/* A checkpointed customer with a purchase into the sample. */
static int read_one(void *vctx, const char *where, const clm_customer *c)
{
    (void)where;
    read_ctx *x = vctx;
    if (c->rfm.first_day < 0)
        return 0;
    summary m;
    clm_rfm_stats(&c->rfm, x->now_day, x->unit_days, &m.x, &m.t_x, &m.T, &m.m_x);
    m.key_hash = clm_dedup_hash(c->id, c->id_len);
    return sample_push(x->s, &m);
}

int clm_model_sample_read(clm_model_sample *s, clm_rpipe *rc, const char *prefix,
                          int64_t now_day, double unit_days, const atomic_bool *stop,
                          char *errbuf, size_t errsize)
{
    read_ctx rx = { .s = s, .now_day = now_day, .unit_days = unit_days, .stop = stop };
    int r = clm_store_scan(rc, prefix, read_page, read_one, &rx, errbuf, errsize);
    if (r == 0)
        r = sample_finish(s);
    return r;
}

