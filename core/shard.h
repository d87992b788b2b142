/* core/shard.h - everything one worker owns: its partitions and their customers.
 *
 * A shard is the unit of ownership of the parallel core. Each Kafka partition
 * is assigned to exactly one shard; a customer belongs to the shard owning
 * its partition number, so no state is shared between worker threads and
 * nothing on the hot path takes a lock.
 *
 * Life of a message in a shard (the worker drives it, in partition order):
 *   rejected by the decoder  -> clm_shard_note_reject()
 *   decoded                  -> clm_shard_customer() / clm_shard_insert() to
 *                               have the customer cached, then clm_shard_apply()
 * Flushing: clm_shard_flush_cut() hands every dirty customer, the progress of
 * every partition and the counter deltas to the caller, stamped with a
 * generation; once Redis has acknowledged that generation the caller calls
 * clm_shard_flush_acked(). Only customers that are clean and acknowledged may
 * be evicted, so an evicted customer can always be reloaded from Redis.
 *
 * Not thread-safe: a shard is used by one thread at a time.
 */
#ifndef CLM_CORE_SHARD_H
#define CLM_CORE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/event.h"
#include "core/reject.h"
#include "core/watermark.h"

#define CLM_NO_OFFSET (-1)      /* no offset known/stored */

typedef struct clm_shard clm_shard;

typedef struct clm_shard_opts {
    size_t max_customers;   /* cached customers in this shard */
    int64_t allowed_lateness_ms; /* watermark = max_ts - this */
    clm_wm_rule wm_rule;         /* when an event far ahead moves max_ts (core/watermark.h) */
    clm_apply_opts apply;
} clm_shard_opts;

/* Counters accumulated between two flush cuts. */
typedef struct clm_shard_stats {
    int64_t consumed;   /* messages seen (applied + duplicates + rejected) */
    int64_t applied;    /* events applied */
    int64_t duplicates; /* events suppressed as duplicates */
    int64_t rejected[CLM_REJ__COUNT];
    int64_t merges;     /* identity merge records applied (clm_shard_merge) */
    int64_t erasures;   /* erasure requests honoured (clm_shard_forget) */
} clm_shard_stats;

/* Most event ids of customer-less events a partition remembers. */
#define CLM_ANON_IDS_MAX 64

/* A partition's remembered ids of customer-less events (event_id without
 * customer_id), oldest first: the hashes of those applied whose event time
 * lies within the dedup horizon of the partition's max_ts, at most
 * CLM_ANON_IDS_MAX (the oldest go first). Checkpointed with the progress. */
typedef struct clm_anon_ids {
    uint32_t n;
    clm_dedup_entry e[CLM_ANON_IDS_MAX];
} clm_anon_ids;

/* A partition's progress as carried by one flush. */
typedef struct clm_part_progress {
    int32_t topic;     /* index into the configured topic list */
    int32_t partition;
    int64_t from;      /* offset Redis held before this flush (CLM_NO_OFFSET: none) */
    int64_t to;        /* next offset to consume after this flush */
    clm_wm wm;         /* max_ts (greatest confirmed event time, CLM_NO_TS: none)
                          and the sources ahead of it */
    clm_anon_ids anon; /* its customer-less event ids as of `to` */
} clm_part_progress;

clm_shard *clm_shard_new(const clm_shard_opts *o);
void clm_shard_free(clm_shard *s);

/* Takes ownership of a partition, resuming at `stored_offset` (what Redis
 * holds, CLM_NO_OFFSET when nothing) with watermark state `max_ts`.
 * `fresh`: the caller knows Redis holds no customer of this partition (it
 * starts from nothing in a store where nothing was ever applied), so a
 * customer missing from the cache is new and needs no load, until the
 * shard first evicts a customer. Returns a slot index >= 0, -EEXIST or
 * -ENOMEM. */
int clm_shard_part_add(clm_shard *s, int32_t topic, int32_t partition,
                       int64_t stored_offset, int64_t max_ts, bool fresh);

/* Resumes the partition's watermark state as stored (max_ts and the sources
 * ahead, core/watermark.h), replacing what clm_shard_part_add set. Returns 0,
 * or -EINVAL when wm is not a state the rule can reach (clm_wm_check). */
int clm_shard_part_restore_wm(clm_shard *s, int slot, const clm_wm *wm);

/* Restores the partition's remembered customer-less event ids (what its
 * stored progress holds; entries oldest first). Returns 0, -EINVAL when
 * they are not in time order or too many, -ENOMEM. */
int clm_shard_part_set_anon(clm_shard *s, int slot, const clm_anon_ids *a);

/* True while a cache miss of this partition's customers means a new
 * customer (see clm_shard_part_add). */
bool clm_shard_part_fresh(const clm_shard *s, int slot);

/* The slot of (topic, partition), or -ENOENT. */
int clm_shard_part_find(const clm_shard *s, int32_t topic, int32_t partition);

/* Gives up a partition. The caller has flushed it and had the flush
 * acknowledged; customers of that partition number are dropped from the
 * cache unless another owned partition has the same number.
 * Returns the number of customers dropped. */
size_t clm_shard_part_remove(clm_shard *s, int slot);

/* Number of partitions owned. */
size_t clm_shard_part_count(const clm_shard *s);

/* Slots are 0 .. clm_shard_part_slots() - 1; a slot may be free. Returns 0
 * and the slot's partition, or -ENOENT for a free slot. */
size_t clm_shard_part_slots(const clm_shard *s);
int clm_shard_part_get(const clm_shard *s, int slot, int32_t *topic, int32_t *partition);

/* True when an event time is older than the partition's watermark (its
 * confirmed max_ts, core/watermark.h, minus the allowed lateness): such an event is
 * rejected as late_dropped (clm_shard_note_reject). */
bool clm_shard_is_late(const clm_shard *s, int slot, int64_t ts_ms);

/* The partition's watermark, or CLM_NO_TS before its first event. */
int64_t clm_shard_watermark(const clm_shard *s, int slot);

/* The lowest watermark of the owned partitions with this partition number
 * (several topics may share it), or CLM_NO_TS. */
int64_t clm_shard_number_watermark(const clm_shard *s, int32_t partition);

/* Churns customers whose inactivity deadline the watermark of their
 * partition number has passed (clm_customer_expire).
 * clm_shard_expire_cached checks the customers changed since the last cut
 * and those of cuts not yet acknowledged; every other customer is in the
 * caller's deadline index (daemon: a Redis sorted set written with each
 * flush), and the caller passes those that are due to clm_shard_expire_one
 * (cached first). Both return the number
 * churned, or -ENOMEM. */
int clm_shard_expire_cached(clm_shard *s);
int clm_shard_expire_one(clm_shard *s, clm_customer *c);

/* The rules customers are applied with. */
const clm_apply_opts *clm_shard_apply_opts(const clm_shard *s);

/* Replaces the rules (a configuration reload). The stage model, if any,
 * must have the same stages as before (indices stay valid); what the
 * options point to must outlive the shard. */
void clm_shard_set_apply_opts(clm_shard *s, const clm_apply_opts *o);

/* Records a message rejected before it reached the core; its offset is done. */
void clm_shard_note_reject(clm_shard *s, int slot, int64_t offset, clm_reason r);

/* The cached customer with this id, or NULL (then load it from Redis). */
clm_customer *clm_shard_customer(clm_shard *s, const char *id, size_t len);

/* Makes room for `n` more customers by evicting clean, acknowledged ones.
 * Returns 0, or -ENOSPC when too many cached customers are dirty or not yet
 * acknowledged (flush, wait for the ack, and try again). */
int clm_shard_make_room(clm_shard *s, size_t n);

/* Caches a customer (loaded from Redis, or new). Takes ownership on success.
 * Returns 0, -EEXIST, -ENOSPC (call clm_shard_make_room first) or -ENOMEM. */
int clm_shard_insert(clm_shard *s, clm_customer *c);

/* Applies a decoded event read at `offset` of the partition in `slot` (the
 * caller has checked it is not late). `c` is the event's cached customer, or
 * NULL for an event without customer. Feeds the event time to the partition's
 * watermark rule first (core/watermark.h; it may raise max_ts),
 * so a customer whose inactivity deadline the new watermark passes churns
 * before the event applies. marketing_spend amounts count as spend of their
 * bucket. A customer-less event with an event_id the partition remembers
 * (clm_anon_ids; when dedup_horizon_ms > 0) is a duplicate. Returns CLM_APPLIED or CLM_DUPLICATE, or -ENOMEM (the shard must
 * then be abandoned). */
int clm_shard_apply(clm_shard *s, int slot, int64_t offset, const clm_event *ev, clm_customer *c);

/* True when the cached customer with this id (if any) is neither dirty
 * nor carried by a cut not yet acknowledged: what clm_shard_forget needs.
 * Otherwise cut, wait for the acknowledgement, and ask again. */
bool clm_shard_forget_ready(clm_shard *s, const char *id, size_t len);

/* Erases a customer on request: `ev` is an event of type CLM_EV_FORGET read
 * at `offset` of the partition in `slot`. Drops the cached customer, if any
 * (with its state and its recent event ids), and keeps the id for the next
 * cut, which hands it to sink->forget before any customer, so the erasure
 * commits with the offset that consumed the request. A later event of that
 * id finds no customer and starts a new one. The request counts as consumed
 * and applied; it changes no KPI delta and does not move the watermark (its
 * time is when it was asked, not when the customer acted). Returns 0,
 * -EBUSY when !clm_shard_forget_ready (nothing changed), -ENOMEM. */
int clm_shard_forget(clm_shard *s, int slot, int64_t offset, const clm_event *ev);

/* ---- identity merge (core/shard_identity.c; README "Identity merge") ----
 * The messages of identity.topic are read through partitions marked
 * internal: they take no part in the watermarks (clm_shard_number_watermark
 * skips them, as an idle internal partition must not hold the customers'
 * deadlines back) and are not counted as consumed events. */

/* Marks the partition in `slot` internal. */
void clm_shard_part_set_internal(clm_shard *s, int slot);

/* The message at `offset` of the partition in `slot` is done without
 * changing any customer (a duplicate request, a message forwarded on, an
 * event forwarded to another partition counted by the caller). */
void clm_shard_note_done(clm_shard *s, int slot, int64_t offset);

/* Counts an event read at `offset` of the (events) partition in `slot` as
 * consumed and applied although no customer of this shard changes: it was
 * forwarded to the customer its id is an alias of. Its time feeds the
 * partition's watermark as an applied event's would. */
void clm_shard_note_forwarded(clm_shard *s, int slot, int64_t offset, const clm_event *ev);

/* Freezes a customer for a merge: like clm_shard_forget (same readiness,
 * -EBUSY), the cached customer is dropped and its id goes to the next
 * cut's sink->freeze; the message at `offset` of `slot` is done. Counts
 * nothing. Returns 0, -EBUSY, -ENOMEM. */
int clm_shard_freeze(clm_shard *s, int slot, int64_t offset, int32_t part, const char *id,
                     size_t len);

/* Applies a merge record read at `offset` of the internal partition in
 * `slot`: clm_merge_apply(known, anon, record_id, merge_ts) with the
 * shard's rules, its deltas into known's partition number (at that
 * number's watermark), known marked dirty; a merge counts in `merges`.
 * Returns CLM_APPLIED, CLM_DUPLICATE, -EINVAL, -ENOMEM. */
int clm_shard_merge(clm_shard *s, int slot, int64_t offset, clm_customer *known,
                    const clm_customer *anon, uint64_t record_id, int64_t merge_ts);

/* Applies an event forwarded to `c` (its customer_id already the known
 * id) read at `offset` of the internal partition in `slot`: like
 * clm_shard_apply for the customer, at the watermark of c's partition
 * number, without feeding any watermark and without counting the event
 * (it was counted where it was read). Returns CLM_APPLIED, CLM_DUPLICATE,
 * -ENOMEM. */
int clm_shard_apply_forwarded(clm_shard *s, int slot, int64_t offset, const clm_event *ev,
                              clm_customer *c);

/* Number of customers changed since the last cut. */
size_t clm_shard_dirty_count(const clm_shard *s);

/* Consumer of a flush cut. Customers are valid until the next shard call. */
typedef struct clm_flush_sink {
    int (*customer)(void *ctx, clm_customer *c); /* may update c->indexed */
    int (*progress)(void *ctx, const clm_part_progress *p);
    /* per partition number: message counters (only when some is not zero)
     * and KPI deltas (only when any) of the messages of that number, and of
     * the expiry of its customers */
    int (*stats)(void *ctx, int32_t part, const clm_shard_stats *st);
    int (*deltas)(void *ctx, int32_t part, const clm_deltas *d);
    void *ctx;
    /* a customer erased (clm_shard_forget) since the last cut, of partition
     * number `part`; called before any customer callback. May be NULL only
     * when nothing was erased. */
    int (*forget)(void *ctx, int32_t part, const char *id, size_t len);
    /* a customer frozen for an identity merge (clm_shard_freeze): its
     * stored state is to be removed like an erased one's, without the
     * erasure's log; called in order with forget. May be NULL only when
     * nothing was frozen. */
    int (*freeze)(void *ctx, int32_t part, const char *id, size_t len);
} clm_flush_sink;

/* Cuts a flush of generation `gen` (strictly increasing per shard): hands
 * every id erased (sink->forget), then every dirty customer, the progress of every partition that moved since the
 * last cut, and per partition number the counter deltas and the KPI deltas
 * to the sink, then marks them clean and resets the deltas. Returns the number of partitions that moved, or the
 * first negative value a sink callback returned (the cut is then abandoned
 * half way: the caller must treat the shard as unusable and restart from
 * Redis). */
int clm_shard_flush_cut(clm_shard *s, uint64_t gen, const clm_flush_sink *sink);

/* Redis has durably stored flush `gen`: its offsets become the partitions'
 * stored offsets, and customers it carried become evictable. */
void clm_shard_flush_acked(clm_shard *s, uint64_t gen);

/* Highest acknowledged generation. */
uint64_t clm_shard_acked_gen(const clm_shard *s);

/* Cached customers. */
size_t clm_shard_customer_count(const clm_shard *s);

#endif
