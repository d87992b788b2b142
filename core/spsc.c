/* core/spsc.c - see spsc.h.
 *
 * C11 atomics rather than ck_ring: the acquire/release pairs below are what
 * ThreadSanitizer understands, so the concurrency tests run under it clean
 * (ck_ring's inline-assembly fences are invisible to it).
 */
#include "core/spsc.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#define CACHELINE 64

struct clm_spsc {
    alignas(CACHELINE) _Atomic unsigned head; /* next slot to pop; written by the consumer */
    unsigned cached_tail;                     /* consumer's last view of tail */
    alignas(CACHELINE) _Atomic unsigned tail; /* next slot to push; written by the producer */
    unsigned cached_head;                     /* producer's last view of head */
    alignas(CACHELINE) unsigned mask;
    void **slots;
};

clm_spsc *clm_spsc_new(unsigned size)
{
    if (size < 4 || (size & (size - 1)) != 0)
        return NULL;
    clm_spsc *r = aligned_alloc(CACHELINE, sizeof(*r));
    if (!r)
        return NULL;
    r->slots = calloc(size, sizeof(*r->slots));
    if (!r->slots) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->cached_head = r->cached_tail = 0;
    r->mask = size - 1;
    return r;
}

void clm_spsc_free(clm_spsc *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

bool clm_spsc_push(clm_spsc *r, void *p)
{
    unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail - r->cached_head >= r->mask) {
        r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail - r->cached_head >= r->mask)
            return false; /* holds size - 1 */
    }
    r->slots[tail & r->mask] = p;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

bool clm_spsc_pop(clm_spsc *r, void **p)
{
    unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head == r->cached_tail) {
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == r->cached_tail)
            return false;
    }
    *p = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

unsigned clm_spsc_count(const clm_spsc *r)
{
    return atomic_load_explicit(&((clm_spsc *)r)->tail, memory_order_acquire) -
           atomic_load_explicit(&((clm_spsc *)r)->head, memory_order_acquire);
}
