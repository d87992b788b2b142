/* core/deltas.h - what a shard's events changed in the shared KPI state since
 * the last flush cut: per-bucket counter deltas, stage transitions per
 * bucket, changes of the number of customers in each stage, and the change
 * of the portfolio's value rate; and the alerts those changes raised.
 *
 * Shared KPI state (day hashes, stage counts) is written by every worker, so
 * it travels as deltas (HINCRBY in the flush transaction): exact, and
 * independent of how partitions are spread over workers and instances.
 *
 * Not thread-safe: one per shard.
 */
#ifndef CLM_CORE_DELTAS_H
#define CLM_CORE_DELTAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/breakdown.h"
#include "core/daycount.h"

typedef struct clm_day_delta {
    int64_t bucket;
    clm_daycount c;
} clm_day_delta;

typedef struct clm_transition_delta {
    int64_t bucket;
    uint8_t from, to; /* stage indices; from may be CLM_STAGE_NONE */
    int64_t n;
} clm_transition_delta;

/* The breakdown counters (core/breakdown.h) of one slot of one dimension in
 * a bucket. */
typedef struct clm_bd_delta {
    int64_t bucket;
    uint8_t dim, slot;
    int64_t c[CLM_BD_COUNTERS];
} clm_bd_delta;

/* A counter change recorded while a customer's event is applied. */
typedef struct clm_bd_pending {
    int64_t bucket;
    int counter;
    int64_t n;
} clm_bd_pending;

typedef struct clm_deltas {
    clm_day_delta *days;
    size_t ndays, cap_days;
    size_t last_hit;
    clm_transition_delta *trans;
    size_t ntrans, cap_trans;
    int64_t stage_count[CLM_STAGES_MAX];
    int64_t value_rate_micros; /* change of the sum of customers' clv_rate (saturating) */
    int64_t repeat_customers;  /* customers whose order count reached 2 */
    clm_alert *alerts;         /* raised since the last reset, in order */
    size_t nalerts, cap_alerts;
    bool any;                  /* something changed since the last reset */
    clm_bd_delta *bd;          /* breakdown counters per bucket, dimension, slot */
    size_t nbd, cap_bd;
    size_t bd_hit[CLM_BD_MAX]; /* per dimension: the entry found last */
    clm_bd_pending *pend;      /* recorded since clm_deltas_bd_begin */
    size_t npend, cap_pend;
    bool capturing;
} clm_deltas;

void clm_deltas_init(clm_deltas *d);
void clm_deltas_release(clm_deltas *d);
/* Forgets every delta (after a flush cut handed them on); keeps capacity. */
void clm_deltas_reset(clm_deltas *d);

/* The counters of a bucket, created zeroed on first use. NULL on ENOMEM. */
clm_daycount *clm_deltas_day(clm_deltas *d, int64_t bucket);

/* Adds n to the int64 field at byte offset `off` of a bucket's counters,
 * stopping at INT64_MAX / INT64_MIN (clm_sat_add). Returns 0 or -ENOMEM. */
int clm_deltas_add(clm_deltas *d, int64_t bucket, size_t off, int64_t n);

/* Counts a stage transition in a bucket and moves one customer between the
 * stage counts (from may be CLM_STAGE_NONE: only `to` gains). 0 or -ENOMEM. */
int clm_deltas_transition(clm_deltas *d, int64_t bucket, int from, int to);

/* Appends a copy of an alert. Returns 0 or -ENOMEM. */
int clm_deltas_alert(clm_deltas *d, const clm_alert *a);

/* Breakdowns: between clm_deltas_bd_begin and clm_deltas_bd_end, every
 * clm_deltas_add of a breakdown counter is also recorded; _end adds what was
 * recorded to the slots[i] of dimensions i < ndims (the customer's values
 * after the change) and stops recording (0 or -ENOMEM; on -ENOMEM nothing
 * recorded is added). _abort stops recording and drops it. */
void clm_deltas_bd_begin(clm_deltas *d);
int clm_deltas_bd_end(clm_deltas *d, const uint8_t *slots, size_t ndims);
void clm_deltas_bd_abort(clm_deltas *d);
/* Adds n to breakdown counter k of (bucket, dim, slot). 0 or -ENOMEM. */
int clm_deltas_bd_add(clm_deltas *d, int64_t bucket, size_t dim, int slot, int k, int64_t n);

#define CLM_DAY(field) offsetof(clm_daycount, field)

#endif
