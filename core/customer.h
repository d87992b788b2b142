/* core/customer.h - one customer's state, and how an event changes it.
 *
 * A customer is keyed by its customer_id and owned by exactly one partition
 * number (all of a customer's events arrive on one partition: the message key
 * is the customer id). State is applied in arrival order within the
 * partition; fields with an order of meaning (last_seen, last_type) are
 * maxima over event time, not "last arrival", so out-of-order events land
 * where they belong.
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
#include "core/event.h"

/* Flags in clm_customer.flags. */
#define CLM_CUST_DIRTY 0x01u /* changed since it was last handed to a flush */
#define CLM_CUST_REF 0x02u   /* touched since the eviction clock last passed */

typedef struct clm_customer {
    int64_t first_seen;     /* min event time, epoch ms (0 when no event yet) */
    int64_t last_seen;      /* max event time, epoch ms */
    int64_t events;         /* applied events (duplicates excluded) */
    int64_t orders;         /* purchases */
    int64_t revenue_micros; /* sum of purchase amounts */
    int64_t refunds_micros; /* sum of refund amounts */
    uint64_t flush_gen;     /* flush generation that last carried this customer */
    clm_dedup dedup;        /* recent event ids */
    uint16_t part;          /* owning partition number */
    uint8_t last_type;      /* clm_event_type of the event at last_seen */
    uint8_t flags;          /* CLM_CUST_* */
    uint8_t id_len;
    char id[];              /* customer id, NUL-terminated */
} clm_customer;

/* Rules for applying events; shared by all customers of a shard. */
typedef struct clm_apply_opts {
    int64_t dedup_horizon_ms; /* 0 disables duplicate suppression */
    unsigned dedup_max_ids;
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
 * Returns CLM_APPLIED or CLM_DUPLICATE (>= 0), or -ENOMEM with c unchanged.
 * Sets CLM_CUST_DIRTY when the state changed. */
int clm_customer_apply(clm_customer *c, const clm_event *ev, const clm_apply_opts *o);

/* Field callback: `value` is not NUL-terminated. A negative return stops
 * clm_customer_emit, which returns it. */
typedef int (*clm_field_fn)(void *ctx, const char *name, const char *value, size_t len);

/* Calls fn once per persisted field, in a fixed order. Returns 0 or the
 * first negative value fn returned. */
int clm_customer_emit(const clm_customer *c, clm_field_fn fn, void *ctx);

/* Restores one persisted field. Unknown names are ignored (0): other
 * versions and features may store more fields on the same hash.
 * Returns 0, or -EINVAL when the value is malformed (c unchanged). */
int clm_customer_load_field(clm_customer *c, const char *name, size_t name_len,
                            const char *value, size_t value_len);

#endif
