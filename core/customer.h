/* core/customer.h - one customer's state, and how an event changes it.
 *
 * A customer is keyed by its customer_id and owned by exactly one partition
 * number (all of a customer's events arrive on one partition: the message key
 * is the customer id). State is applied in arrival order within the
 * partition; fields with an order of meaning (last_seen, last_type, first
 * purchase and signup) follow event time, not arrival, so out-of-order
 * events land where they belong.
 *
 * Besides its own state, applying an event reports what it changes in the
 * shared KPI state (per-bucket counters, stage transitions, stage counts,
 * portfolio value rate) into a clm_deltas (core/deltas.h). The rules, one
 * per counter, are documented in README.md ("KPIs").
 *
 * Persistence: clm_customer_emit() lists the fields written to the Redis
 * hash <prefix>customer:<id>; clm_customer_load_field() reads them back.
 * emit -> load reproduces the state exactly (integers and fixed-point money).
 *
 * Not thread-safe: a customer is touched only by the worker owning its
 * partition.
 */
#ifndef CLM_CORE_CUSTOMER_H
#define CLM_CORE_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dedup.h"
#include "core/deltas.h"
#include "core/event.h"
#include "core/stages.h"

/* Flags in clm_customer.flags. */
#define CLM_CUST_DIRTY 0x01u     /* changed since it was last handed to a flush */
#define CLM_CUST_REF 0x02u       /* touched since the eviction clock last passed */

/* Most ordinary stages whose first entry a customer remembers. */
#define CLM_CUST_RANKS 12

typedef struct clm_customer {
    int64_t first_seen;     /* min event time, epoch ms (0 when no event yet) */
    int64_t last_seen;      /* max event time, epoch ms */
    int64_t events;         /* applied events (duplicates excluded) */
    int64_t orders;         /* purchases */
    int64_t revenue_micros; /* sum of purchase amounts */
    int64_t refunds_micros; /* sum of refund amounts */
    int64_t first_purchase; /* event time of the earliest purchase, or CLM_NO_TS */
    int64_t first_signup;   /* event time of the earliest signup, or CLM_NO_TS */
    int64_t first_contact;  /* event time of the earliest lead_contacted, or CLM_NO_TS */
    int64_t lead_contact;   /* the contact counted as the lead's response: the
                               earliest known at or after first_signup, or CLM_NO_TS */
    int64_t stage_since;    /* event time the current stage was entered */
    int64_t active_bucket;  /* latest bucket with activity, or CLM_NO_TS */
    uint64_t active_bits;   /* bit k: active in bucket active_bucket - k */
    int64_t indexed;        /* score of its entry in the deadline index (what Redis
                               holds), or CLM_NO_TS: see clm_customer_index_score */
    int64_t clv_rate_micros; /* revenue per year (aov x orders per year); 0 when not a
                                current customer */
    uint64_t flush_gen;     /* flush generation that last carried this customer */
    clm_dedup dedup;        /* recent event ids */
    int32_t entered[CLM_CUST_RANKS]; /* bucket of first entry per ordinary rank, -1: never */
    uint16_t part;          /* owning partition number */
    uint8_t stage;          /* stage index, CLM_STAGE_NONE */
    uint8_t peak;           /* highest ordinary stage reached (index), CLM_STAGE_NONE */
    uint8_t last_type;      /* clm_event_type of the event at last_seen */
    uint8_t flags;          /* CLM_CUST_* */
    uint8_t id_len;
    char id[];              /* customer id, NUL-terminated */
} clm_customer;

/* Rules for applying events; shared by all customers of a shard. */
typedef struct clm_apply_opts {
    int64_t dedup_horizon_ms;  /* 0 disables duplicate suppression */
    unsigned dedup_max_ids;
    const clm_stages *stages;  /* the stage model; NULL: no stages */
    int64_t bucket_ms;         /* KPI bucket size (a UTC day by default); > 0 */
    int64_t churn_inactive_ms; /* silence after which a customer churns */
    int64_t clv_min_tenure_ms; /* floor of the tenure a purchase rate is taken over */
} clm_apply_opts;

typedef enum clm_apply_result {
    CLM_APPLIED = 0,
    CLM_DUPLICATE = 1, /* event id already applied: state unchanged */
} clm_apply_result;

/* Allocates an empty customer for an id of 1..CLM_ID_MAX bytes. Returns NULL
 * on ENOMEM. */
clm_customer *clm_customer_new(const char *id, size_t len, uint16_t part);

/* Frees a customer; accepts NULL. */
void clm_customer_free(clm_customer *c);

/* Applies a validated event (ev->has_customer must be set and match c->id).
 * `watermark` is the partition's event-time watermark with this event
 * counted: a customer whose inactivity deadline it has passed churns first
 * (dated at the deadline), then the event applies.
 * Returns CLM_APPLIED or CLM_DUPLICATE (>= 0), or -ENOMEM (the shard must
 * then be abandoned). Sets CLM_CUST_DIRTY when the state changed. */
int clm_customer_apply(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                       clm_deltas *d, int64_t watermark);

/* Inactivity deadline: last_seen + churn_inactive_ms for a current customer
 * (orders >= 1, not churned) under a stage model, else CLM_NO_TS. */
int64_t clm_customer_deadline(const clm_customer *c, const clm_apply_opts *o);

/* Granularity of the deadline index: scores are deadlines rounded up to it,
 * so an active customer's entry changes at most once per hour of event time.
 * A reader of the index asks for scores up to watermark + this much and
 * checks the exact deadline. */
#define CLM_INDEX_ROUND_MS 3600000LL

/* The score the customer's deadline-index entry should have: the deadline
 * rounded up to CLM_INDEX_ROUND_MS, or CLM_NO_TS for no entry. */
int64_t clm_customer_index_score(const clm_customer *c, const clm_apply_opts *o);

/* Churns the customer for inactivity if its deadline <= watermark.
 * Returns 1 when it churned, 0 when not due, -ENOMEM. */
int clm_customer_expire(clm_customer *c, const clm_apply_opts *o, clm_deltas *d,
                        int64_t watermark);

/* Field callback: `value` is not NUL-terminated. A negative return stops
 * clm_customer_emit, which returns it. */
typedef int (*clm_field_fn)(void *ctx, const char *name, const char *value, size_t len);

/* Calls fn once per persisted field, in a fixed order. Stage names come
 * from `stages` (may be NULL: no stage fields). Returns 0 or the first
 * negative value fn returned. */
int clm_customer_emit(const clm_customer *c, const clm_stages *stages, clm_field_fn fn, void *ctx);

/* Restores one persisted field. Unknown names are ignored (0): other
 * versions and features may store more fields on the same hash; so is a
 * stage name the current model does not know (the customer then has no
 * stage). Returns 0, or -EINVAL when the value is malformed (c unchanged). */
int clm_customer_load_field(clm_customer *c, const clm_stages *stages, const char *name,
                            size_t name_len, const char *value, size_t value_len);

#endif
