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
 * Persistence is the store's: store/record.h checkpoints the whole state.
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
#include "core/rfm.h"
#include "core/risk.h"
#include "core/stages.h"

/* Flags in clm_customer.flags. */
#define CLM_CUST_DIRTY 0x01u     /* changed since it was last handed to a flush */
#define CLM_CUST_REF 0x02u       /* touched since the eviction clock last passed */
#define CLM_CUST_DISARMED 0x04u  /* a churn_risk alert was raised; not yet re-armed (persisted) */
#define CLM_CUST_AT_RISK 0x08u   /* Redis holds it in <prefix>at_risk (set by the store) */
#define CLM_CUST_NEW 0x10u       /* Redis holds nothing of it yet (set by clm_customer_new) */
#define CLM_CUST_POOLED 0x20u    /* loaded from the upgrade pool (set by the store) */

/* What a reader of the customer can see, one bit per facet.
 * clm_customer.changed collects the facets an apply or an expiry changed;
 * the store writes those fields of the view and clears the mask. */
#define CLM_FACET_FIRST_SEEN (1u << 0)
#define CLM_FACET_LAST_SEEN (1u << 1)      /* last_seen and last_type */
#define CLM_FACET_EVENTS (1u << 2)
#define CLM_FACET_ORDERS (1u << 3)
#define CLM_FACET_REVENUE (1u << 4)
#define CLM_FACET_REFUNDS (1u << 5)
#define CLM_FACET_FIRST_SIGNUP (1u << 6)
#define CLM_FACET_FIRST_PURCHASE (1u << 7)
#define CLM_FACET_FIRST_CONTACT (1u << 8)
#define CLM_FACET_CLV_RATE (1u << 9)
#define CLM_FACET_STAGE (1u << 10)         /* stage and stage_since */
#define CLM_FACET_PEAK (1u << 11)
#define CLM_FACET_RISK (1u << 12)          /* risk_e4 and risk_day */
#define CLM_FACET_RISK_REASONS (1u << 13)  /* what the reasons are computed from */
#define CLM_FACET_RFM (1u << 14)           /* repeat-purchase statistics */
#define CLM_FACET_TRAITS (1u << 15)        /* trait values (core/trait.h) */
#define CLM_FACET_ALL ((1u << 16) - 1)

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
    int64_t returned;       /* bucket of the latest return from the churn stage
                               as a customer (orders >= 1), or CLM_NO_TS: with
                               first_purchase, when the current spell began */
    uint64_t active_bits;   /* bit k: active in bucket active_bucket - k */
    int64_t indexed;        /* score of its entry in the deadline index (what Redis
                               holds), or CLM_NO_TS: see clm_customer_index_score */
    int64_t clv_rate_micros; /* revenue per year (aov x orders per year); 0 when not a
                                current customer */
    uint64_t flush_gen;     /* flush generation that last carried this customer */
    int64_t src_offset;     /* offset of the latest applied event, -1: unknown */
    int64_t alert_at;       /* when the last churn_risk alert was raised (evaluation
                               time, epoch ms), or CLM_NO_TS */
    int64_t incident_at;    /* when its open incident opened (core/alert.h), or
                               CLM_NO_TS when none is open */
    int32_t risk_day;       /* day the risk was last evaluated, -1: never */
    int32_t risk_next;      /* next day the risk changes without events, -1: none */
    clm_risk_state risk;    /* what the churn-risk signals are computed from */
    clm_rfm rfm;            /* repeat-purchase statistics (BG/NBD, Gamma-Gamma) */
    clm_dedup dedup;        /* recent event ids */
    int32_t entered[CLM_CUST_RANKS]; /* bucket of first entry per ordinary rank, -1: never */
    uint8_t *traits;        /* trait block (core/trait.h), NULL when no trait has a value */
    uint16_t traits_len;    /* its length in bytes */
    /* the narrow fields last, together, so no padding sits between them */
    uint16_t risk_e4;       /* churn risk x 10000 as last evaluated */
    uint8_t src_topic;      /* topic index of the latest applied event */
    uint16_t part;          /* owning partition number */
    uint8_t stage;          /* stage index, CLM_STAGE_NONE */
    uint8_t peak;           /* highest ordinary stage reached (index), CLM_STAGE_NONE */
    uint8_t last_type;      /* clm_event_type of the event at last_seen */
    uint8_t flags;          /* CLM_CUST_* */
    uint8_t id_len;
    uint16_t changed;       /* CLM_FACET_* changed since the store last cleared it */
    char id[];              /* customer id, NUL-terminated */
} clm_customer;

/* Rules for applying events; shared by all customers of a shard. */
typedef struct clm_apply_opts {
    int64_t dedup_horizon_ms;  /* 0 disables duplicate suppression */
    unsigned dedup_max_ids;
    const clm_stages *stages;  /* the stage model; NULL: no stages */
    int64_t bucket_ms;         /* KPI bucket size (a UTC day by default); > 0 */
    int64_t churn_inactive_ms; /* silence after which a customer churns */
    uint32_t inactive_types;   /* bit t set: events of clm_event_type t are not
                                  activity (see clm_customer_apply_at); never
                                  CLM_EV_PURCHASE */
    int64_t clv_min_tenure_ms; /* floor of the tenure a purchase rate is taken over */
    const clm_risk_opts *risk; /* churn-risk scoring; NULL: none */
    const clm_alert_opts *alerts; /* when alerts are raised (needs risk); NULL: never */
    const struct clm_trait_set *traits; /* configured traits (core/trait.h); NULL: none */
    const struct clm_breakdown_set *breakdowns; /* core/breakdown.h; NULL: none */
} clm_apply_opts;

/* Where an event was read: it names the alerts the event raises. */
typedef struct clm_pos {
    int32_t topic, partition;
    int64_t offset;
} clm_pos;

typedef enum clm_apply_result {
    CLM_APPLIED = 0,
    CLM_DUPLICATE = 1, /* event id already applied: state unchanged */
} clm_apply_result;

/* Allocates an empty customer for an id of 1..CLM_ID_MAX bytes (the
 * allocation ends with the id's NUL: sizeof(clm_customer) counts tail
 * padding the id may use). Returns NULL on ENOMEM. */
clm_customer *clm_customer_new(const char *id, size_t len, uint16_t part);

/* Frees a customer; accepts NULL. */

void clm_customer_free(clm_customer *c);

/* Applies a validated event (ev->has_customer must be set and match c->id)
 * read at `pos` (NULL: unknown, as in tests).
 * An event is activity as its `activity` says (CLM_ACT_*, set by a
 * configured event type), else unless its type is in o->inactive_types.
 * An event that is not activity counts in
 * `events`, `first_seen` and its type's own effects (refund amounts, the
 * payment_failed risk signal, a cancel's move into the churned stage) but
 * leaves last_seen/last_type (the latest activity), the active buckets, the
 * inactivity clock and the risk's active days untouched, and never moves a
 * customer out of the churned stage.
 * The trait values it carries update the customer's traits (core/trait.h,
 * under o->traits; CLM_FACET_TRAITS when one changes); stage rules match
 * its type and its configured type (clm_event_rule_bits).
 * `watermark` is the partition's event-time watermark with this event
 * counted: what is due by then happens first (clm_customer_expire), then
 * the event applies, then the churn risk is scored on the watermark's day
 * and any alert it raises is added to d.
 * Returns CLM_APPLIED or CLM_DUPLICATE (>= 0), or -ENOMEM (the shard must
 * then be abandoned). Sets CLM_CUST_DIRTY when the state changed. */
int clm_customer_apply_at(clm_customer *c, const clm_event *ev, const clm_pos *pos,
                          const clm_apply_opts *o, clm_deltas *d, int64_t watermark);
int clm_customer_apply(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                       clm_deltas *d, int64_t watermark);

/* The next time something happens to the customer without a new event:
 * the earlier of its inactivity deadline (last_seen + churn_inactive_ms, for
 * a current customer - orders >= 1, not churned - under a stage model) and
 * the start of the next day its churn risk changes (risk_next). CLM_NO_TS:
 * nothing will. */
int64_t clm_customer_deadline(const clm_customer *c, const clm_apply_opts *o);

/* Granularity of the deadline index: scores are deadlines rounded up to it,
 * so an active customer's entry changes at most once per hour of event time.
 * A reader of the index asks for scores up to watermark + this much and
 * checks the exact deadline. */
#define CLM_INDEX_ROUND_MS 3600000LL

/* The score the customer's deadline-index entry should have: the deadline
 * rounded up to CLM_INDEX_ROUND_MS, or CLM_NO_TS for no entry. */
int64_t clm_customer_index_score(const clm_customer *c, const clm_apply_opts *o);

/* Does, in time order, everything due by `watermark` (clm_customer_deadline):
 * churns the customer for inactivity (dated at the deadline) and rescores
 * its risk on each day it changes, adding the alerts raised to d. Each step
 * depends only on the state and the due time, so when this runs does not
 * change the outcome. Returns 1 when something happened, 0 when nothing was
 * due, -ENOMEM. */
int clm_customer_expire(clm_customer *c, const clm_apply_opts *o, clm_deltas *d,
                        int64_t watermark);

/* True for a current customer: has ordered and is not churned. */
bool clm_customer_current(const clm_customer *c, const clm_apply_opts *o);

/* The breakdown slot (core/breakdown.h) of c's value of each configured
 * dimension into slots[0..o->breakdowns->n); nothing without breakdowns. */
void clm_customer_bd_slots(const clm_customer *c, const clm_apply_opts *o, uint8_t *slots);

/* The customer's value rate as its state stands (what clv_rate_micros is
 * set to after an apply): revenue per year over its tenure as a customer
 * (at least o->clv_min_tenure_ms) for a current customer, else 0. */
int64_t clm_customer_clv_rate(const clm_customer *c, const clm_apply_opts *o);

/* The reasons behind the customer's risk as last scored (on risk_day);
 * none when it was never scored. Needs o->risk. */
void clm_customer_risk_eval(const clm_customer *c, const clm_apply_opts *o, clm_risk_eval *out);

#endif
