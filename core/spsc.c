/* core/spsc.c - see spsc.h. */
#include "core/spsc.h"

#include <ck_ring.h>
#include <stdlib.h>

struct clm_spsc {
    struct ck_ring ring;
    struct ck_ring_buffer *buf;
};

clm_spsc *clm_spsc_new(unsigned size)
{
    if (size < 4 || (size & (size - 1)) != 0)
        return NULL;
    clm_spsc *r = aligned_alloc(CK_MD_CACHELINE, (sizeof(*r) + CK_MD_CACHELINE - 1) /
                                                     CK_MD_CACHELINE * CK_MD_CACHELINE);
    if (!r)
        return NULL;
    r->buf = calloc(size, sizeof(*r->buf));
    if (!r->buf) {
        free(r);
        return NULL;
    }
    ck_ring_init(&r->ring, size);
    return r;
}

void clm_spsc_free(clm_spsc *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

bool clm_spsc_push(clm_spsc *r, void *p)
{
    return ck_ring_enqueue_spsc(&r->ring, r->buf, p);
}

bool clm_spsc_pop(clm_spsc *r, void **p)
{
    return ck_ring_dequeue_spsc(&r->ring, r->buf, p);
}

unsigned clm_spsc_count(const clm_spsc *r)
{
    return ck_ring_size(&r->ring);
}
