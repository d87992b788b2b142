/* core/breakdown.h - KPI breakdowns by a trait: some day counters are also
 * kept per value of a configured trait (README "Breakdowns").
 *
 * A breakdown dimension names a trait and the values counted under their
 * own name (at most CLM_BD_VALUES_MAX, in config order). A customer's
 * counter changes are attributed to the slot of its value after the event:
 * a listed value, `other` (a value not listed) or `(none)` (no value). The
 * set of slots is fixed by the configuration, so the counters are exact,
 * replay-safe and bounded: a trait with any number of distinct values
 * keeps at most CLM_BD_VALUES_MAX + 2 slots per day.
 *
 * Counters kept per slot (core/daycount.h meanings): new_leads,
 * leads_converted, new_customers, orders, revenue_micros, churned,
 * reactivated, customers_delta. A current customer (orders >= 1, not
 * churned) whose slot changes moves from the old slot's customers_delta to
 * the new one's on the event's bucket, so each slot's running sum of
 * customers_delta is the number of its current customers.
 *
 * Pure; the set is read-only after configuration, so any thread may read it.
 */
#ifndef CLM_CORE_BREAKDOWN_H
#define CLM_CORE_BREAKDOWN_H

#include <stddef.h>
#include <stdint.h>

#include "core/trait.h"

#define CLM_BD_MAX 4          /* breakdown dimensions */
#define CLM_BD_VALUES_MAX 32  /* listed values of one dimension */
#define CLM_BD_COUNTERS 8     /* counters kept per slot */
#define CLM_BD_VALUE_MAX 72   /* bytes of a value's text (clm_trait_format) */

/* One dimension: trait `trait` (index trait_idx in the configured traits). */
typedef struct clm_breakdown_spec {
    char trait[CLM_TRAIT_NAME_MAX + 1];
    int trait_idx;
    size_t nvalues;
    char values[CLM_BD_VALUES_MAX][CLM_BD_VALUE_MAX];
} clm_breakdown_spec;

typedef struct clm_breakdown_set {
    size_t n;
    clm_breakdown_spec d[CLM_BD_MAX];
} clm_breakdown_set;

/* Slot numbers beyond the listed values 0..nvalues-1. */
#define CLM_BD_SLOT_OTHER(s) ((int)(s)->nvalues)
#define CLM_BD_SLOT_NONE(s) ((int)(s)->nvalues + 1)

/* The slot of value v under dimension s. */
int clm_breakdown_slot(const clm_breakdown_spec *s, const clm_trait_value *v);

/* The text of a slot: a listed value, "other" or "(none)". */
const char *clm_breakdown_slot_name(const clm_breakdown_spec *s, int slot);

/* The index (0..CLM_BD_COUNTERS-1) of the counter at byte offset `off` of a
 * clm_daycount, or -1 when that counter is not kept per slot. */
int clm_breakdown_counter(size_t off);

/* The Redis field suffix of counter k ("orders", "revenue_micros", ...). */
const char *clm_breakdown_counter_name(int k);

#endif
