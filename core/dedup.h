/* core/dedup.h - a customer's recently seen event ids, for duplicate suppression.
 *
 * Producers retry, so the same event can arrive twice. Each customer keeps
 * the 64-bit XXH3 hashes of the event ids it applied whose event time lies
 * within `horizon_ms` of the customer's latest event time, at most `max_ids`
 * of them (the oldest go first). An event whose id is in the set is a
 * duplicate and is not applied again. The set is part of the customer's
 * state, checkpointed with it, so suppression survives restarts.
 *
 * Not thread-safe: a set belongs to one customer, which belongs to one worker.
 */
#ifndef CLM_CORE_DEDUP_H
#define CLM_CORE_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct clm_dedup_entry {
    uint64_t hash;
    int64_t ts_ms;
} clm_dedup_entry;

/* Entries a set keeps inside itself, without an allocation: the usual
 * handful of a customer's recent ids. A larger set moves to the heap, and
 * back inside once pruning leaves it this small. */
#define CLM_DEDUP_INLINE 3

/* Embedded in the customer; init/release, not new/free. It holds no pointer
 * into itself, so a copy of the struct is a valid view of the same set (the
 * copy must not be released as well when the entries are on the heap). */
typedef struct clm_dedup {
    union {
        clm_dedup_entry *heap;                /* cap > CLM_DEDUP_INLINE */
        clm_dedup_entry in[CLM_DEDUP_INLINE]; /* cap == CLM_DEDUP_INLINE */
    } u;
    uint16_t n, cap;
} clm_dedup;

void clm_dedup_init(clm_dedup *d);
void clm_dedup_release(clm_dedup *d);

/* The n entries, sorted by ts_ms ascending (ties: insertion order). Valid
 * until the set changes. */
static inline const clm_dedup_entry *clm_dedup_entries(const clm_dedup *d)
{
    return d->cap > CLM_DEDUP_INLINE ? d->u.heap : d->u.in;
}

/* True when the entries are on the heap (more than CLM_DEDUP_INLINE of
 * them, or room for more kept since). */
static inline bool clm_dedup_on_heap(const clm_dedup *d)
{
    return d->cap > CLM_DEDUP_INLINE;
}

/* Hash of an event id (XXH3 64-bit, seed 0). */
uint64_t clm_dedup_hash(const char *id, size_t len);

/* True when `hash` is in the set. */
bool clm_dedup_contains(const clm_dedup *d, uint64_t hash);

/* Records an applied event, then drops entries older than
 * latest_ms - horizon_ms and, past max_ids, the oldest ones.
 * Returns 0 or -ENOMEM (set unchanged). */
int clm_dedup_add(clm_dedup *d, uint64_t hash, int64_t ts_ms, int64_t latest_ms,
                  int64_t horizon_ms, unsigned max_ids);

/* Appends an entry at least as recent as the newest one: rebuilds a set
 * kept elsewhere in time order (a stored checkpoint). No horizon or size
 * limit applies. Returns 0, -EINVAL when ts_ms is older than the newest
 * entry, -E2BIG past 65535 entries, -ENOMEM (set unchanged). */
int clm_dedup_append(clm_dedup *d, uint64_t hash, int64_t ts_ms);

#endif
