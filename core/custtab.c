/* core/custtab.c - bounded customer hash table with CLOCK eviction (see custtab.h). */
#include "core/custtab.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* A slot is 8 bytes: the customer's address with TAG_BITS bits of its id's
 * hash in the low bits, which malloc's alignment leaves zero, so a probe
 * passes over most other customers without reading them. 0: empty. The
 * full hash, needed to grow and to close gaps, is computed again. */
typedef uintptr_t slot;

#define TAG_BITS 3
#define TAG_MASK (((uintptr_t)1 << TAG_BITS) - 1)
_Static_assert(_Alignof(max_align_t) >= ((size_t)1 << TAG_BITS),
               "malloc's alignment leaves the tag bits of a customer's address zero");

static slot make_slot(clm_customer *c, uint64_t h)
{
    return (uintptr_t)c | (uintptr_t)(h >> (64 - TAG_BITS));
}

static clm_customer *slot_customer(slot s)
{
    return (clm_customer *)(s & ~TAG_MASK);
}

static bool slot_tag_is(slot s, uint64_t h)
{
    return (s & TAG_MASK) == (uintptr_t)(h >> (64 - TAG_BITS));
}

struct clm_custtab {
    slot *slots;
    size_t mask;      /* slots - 1 */
    size_t count;
    size_t max;       /* customer limit */
    size_t max_slots; /* growth limit */
    size_t hand;      /* CLOCK position */
};

static size_t pow2_at_least(size_t v)
{
    size_t p = 16;
    while (p < v)
        p <<= 1;
    return p;
}

clm_custtab *clm_custtab_new(size_t max)
{
    if (max == 0)
        return NULL;
    clm_custtab *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->max = max;
    t->max_slots = pow2_at_least(max * 2);
    size_t n = t->max_slots < 1024 ? t->max_slots : 1024;
    t->slots = calloc(n, sizeof(slot));
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    return t;
}

void clm_custtab_free(clm_custtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        clm_customer_free(slot_customer(t->slots[i]));
    free(t->slots);
    free(t);
}

static uint64_t hash_id(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

static uint64_t slot_hash(slot s)
{
    const clm_customer *c = slot_customer(s);
    return hash_id(c->id, c->id_len);
}

static size_t find(const clm_custtab *t, uint64_t h, const char *id, size_t len, bool *found)
{
    size_t i = (size_t)h & t->mask;
    for (;;) {
        slot s = t->slots[i];
        if (!s) {
            *found = false;
            return i;
        }
        const clm_customer *c = slot_customer(s);
        if (slot_tag_is(s, h) && c->id_len == len && memcmp(c->id, id, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

clm_customer *clm_custtab_get(clm_custtab *t, const char *id, size_t len)
{
    bool found;
    size_t i = find(t, hash_id(id, len), id, len, &found);
    if (!found)
        return NULL;
    clm_customer *c = slot_customer(t->slots[i]);
    c->flags |= CLM_CUST_REF;
    return c;
}

static int grow(clm_custtab *t)
{
    size_t n = (t->mask + 1) * 2;
    slot *ns = calloc(n, sizeof(slot));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i])
            continue;
        size_t j = (size_t)slot_hash(t->slots[i]) & (n - 1);
        while (ns[j])
            j = (j + 1) & (n - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->mask = n - 1;
    t->hand = 0;
    return 0;
}

int clm_custtab_put(clm_custtab *t, clm_customer *c)
{
    if (t->count >= t->max)
        return -ENOSPC;
    if ((t->count + 1) * 2 > t->mask + 1 && t->mask + 1 < t->max_slots) {
        int r = grow(t);
        if (r < 0)
            return r;
    }
    bool found;
    uint64_t h = hash_id(c->id, c->id_len);
    size_t i = find(t, h, c->id, c->id_len, &found);
    if (found)
        return -EEXIST;
    t->slots[i] = make_slot(c, h);
    t->count++;
    return 0;
}

size_t clm_custtab_count(const clm_custtab *t)
{
    return t->count;
}

size_t clm_custtab_max(const clm_custtab *t)
{
    return t->max;
}

/* Frees slot i's customer and closes the gap (backward-shift deletion), so
 * probe chains stay intact without tombstones. Afterwards slot i may hold a
 * different customer that must be examined again. */
static void remove_at(clm_custtab *t, size_t i)
{
    clm_customer_free(slot_customer(t->slots[i]));
    t->slots[i] = 0;
    t->count--;
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j])
            break;
        size_t home = (size_t)slot_hash(t->slots[j]) & t->mask;
        /* may slot j's entry move back to the hole? Only if its home is not
         * cyclically inside (hole, j]. */
        bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (in_range)
            continue;
        t->slots[hole] = t->slots[j];
        t->slots[j] = 0;
        hole = j;
    }
}

size_t clm_custtab_evict(clm_custtab *t, size_t want, clm_custtab_pred can_evict, void *ctx)
{
    /* Two laps of the hand: the first may only clear reference bits. An
     * eviction does not move the hand, so only moves count against the limit. */
    size_t done = 0, moves = 0, limit = 2 * (t->mask + 1) + 1;
    while (done < want && t->count > 0 && moves < limit) {
        clm_customer *c = slot_customer(t->slots[t->hand]);
        if (c) {
            if (c->flags & CLM_CUST_REF) {
                c->flags &= (uint8_t)~CLM_CUST_REF;
            } else if (can_evict(c, ctx)) {
                remove_at(t, t->hand);
                done++;
                continue; /* slot may now hold a shifted entry */
            }
        }
        t->hand = (t->hand + 1) & t->mask;
        moves++;
    }
    return done;
}

bool clm_custtab_remove(clm_custtab *t, const char *id, size_t len)
{
    bool found;
    size_t i = find(t, hash_id(id, len), id, len, &found);
    if (found)
        remove_at(t, i);
    return found;
}

size_t clm_custtab_remove_if(clm_custtab *t, clm_custtab_pred pred, void *ctx)
{
    size_t removed = 0;
    /* Start after an empty slot so no entry wraps past the scan start. */
    size_t start = 0;
    while (start <= t->mask && t->slots[start])
        start++;
    if (start > t->mask)
        start = 0;
    for (size_t k = 0; k <= t->mask; k++) {
        size_t i = (start + k) & t->mask;
        while (t->slots[i] && pred(slot_customer(t->slots[i]), ctx)) {
            remove_at(t, i);
            removed++;
        }
    }
    return removed;
}

void clm_custtab_foreach(clm_custtab *t, void (*fn)(clm_customer *c, void *ctx), void *ctx)
{
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i])
            fn(slot_customer(t->slots[i]), ctx);
}
