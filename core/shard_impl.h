/* core/shard_impl.h - the shard's state, shared by its files: shard.c
 * (partitions, customers, events, cuts) and shard_identity.c (the identity
 * merge's steps). Private to core/shard*.c. */
#ifndef CLM_CORE_SHARD_IMPL_H
#define CLM_CORE_SHARD_IMPL_H

#include "core/custtab.h"
#include "core/shard.h"

typedef struct part {
    int32_t topic;
    int32_t partition; /* -1: free slot */
    int64_t next;      /* next offset to consume */
    int64_t cut;       /* offset carried by the latest cut (what Redis will hold) */
    clm_wm wm;         /* confirmed max_ts and sources ahead (core/watermark.h) */
    bool fresh;
    bool internal;  /* identity.topic: outside the watermarks (clm_shard_part_set_internal) */
    clm_dedup anon; /* ids of customer-less events (clm_anon_ids) */
} part;

struct clm_shard {
    clm_shard_opts o;
    clm_custtab *tab;
    part *parts;
    size_t nparts, cap_parts;
    clm_customer **dirty; /* customers marked dirty since the last cut */
    size_t ndirty, cap_dirty;
    /* customers handed to cuts not yet acknowledged, in cut order: neither
     * dirty nor in Redis yet, so the expiry check must see them here */
    struct inflight {
        clm_customer *c;
        uint64_t gen;
    } *inflight;
    size_t ninflight, cap_inflight, inflight_head;
    /* what each partition number's events changed since the last cut: a
     * partition's flush carries exactly its own counts (Redis Cluster writes
     * each partition in its own transaction) */
    struct acc {
        int32_t part;
        clm_shard_stats st;
        clm_deltas deltas;
    } *accs;
    size_t naccs, cap_accs;
    /* ids erased since the last cut (clm_shard_forget), in order */
    struct erased {
        int32_t part;
        bool frozen; /* merged into another customer (clm_shard_freeze), not erased */
        uint8_t len;
        char id[CLM_ID_MAX + 1];
    } *erased;
    size_t nerased, cap_erased;
    uint64_t acked_gen;
};

/* The accumulator of a partition number, created on first use; NULL on
 * ENOMEM. */
struct acc *shard_acc_of(clm_shard *s, int32_t part);
/* The partition's next offset moves past `offset`. */
void shard_advance(part *p, int64_t offset);
/* Room for one more entry on the dirty list (before a customer changes). */
int shard_reserve_dirty(clm_shard *s);
/* Puts c on the dirty list when it became dirty. */
void shard_note_dirty(clm_shard *s, clm_customer *c, bool was_dirty);
/* Queues an id for the next cut's sink->forget (frozen: sink->freeze). */
int shard_queue_removed(clm_shard *s, int32_t part, const char *id, size_t len, bool frozen);

#endif
