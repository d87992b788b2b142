/* core/daycount.h - the KPI counters of one time bucket (a UTC day by default).
 *
 * Workers accumulate *deltas* of these counters between flushes (events land
 * in the bucket of their own event time); the writer adds them to Redis with
 * HINCRBY in the flush transaction, so they are exact and order-independent.
 * Money is in micro-units and durations in ms so that every counter is an
 * integer; the daemon also writes the decimal forms (revenue, refunds,
 * spend, session_seconds) and customers_eod, derived from these.
 *
 * Field meanings (counting events dated in the bucket):
 *   new_leads              customers whose first signup is in the bucket
 *   new_customers          customers whose first purchase is in the bucket
 *   orders, revenue_micros purchases and their amounts
 *   refunds_micros         refund amounts
 *   spend_micros           marketing_spend amounts
 *   nps_promoters (9-10), nps_passives (7-8), nps_detractors (0-6)
 *   csat_n, csat_sum, csat_satisfied (4-5)
 *   sessions, session_ms   session events and their duration_s (ms)
 *   churned                cancels moving a customer to the churn stage on
 *                          their own day; inactivity churns on their deadline's day
 *   reactivated            churned customers coming back
 *   leads_contacted        a lead's earliest lead_contacted at or after its first
 *                          signup, by event time (counted on the day of the
 *                          contact), lead_response_ms_sum: signup -> contact
 *   upgrades               upgrade events
 *   repeat_orders          orders beyond a customer's first
 *   active_customers       distinct customers with an activity event in the
 *                          bucket (not lifecycle.inactive_types)
 *   last_active            customers (orders >= 1) whose latest active bucket
 *                          is this one (sums over a window ending now give
 *                          the distinct active customers of the window)
 *   customers_delta        change of the number of customers (orders >= 1)
 *                          not in the churn stage; customers_eod is its
 *                          running sum
 *   leads_converted        of the leads whose first signup is in the bucket,
 *                          those who have made a first purchase
 *   current_last_active    current customers (orders >= 1, not churned) whose
 *                          latest active bucket is this one
 *   current_since          current customers whose current spell (as a
 *                          customer, not churned) began in this bucket: their
 *                          first purchase, or their latest return from the
 *                          churn stage
 *   entered[s]             customers entering stage s in the bucket: for an
 *                          ordinary stage a customer's first entry only; for
 *                          the churn and reactivation stages every entry
 *   advanced[r]            of the customers who entered the ordinary stage of
 *                          rank r in the bucket, those who also entered rank r+1
 */
#ifndef CLM_CORE_DAYCOUNT_H
#define CLM_CORE_DAYCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "core/stages.h"

typedef struct clm_daycount {
    int64_t new_leads, new_customers, orders, revenue_micros, refunds_micros, spend_micros;
    int64_t nps_promoters, nps_passives, nps_detractors, csat_n, csat_sum, csat_satisfied;
    int64_t sessions, session_ms, churned, reactivated, leads_contacted, lead_response_ms_sum;
    int64_t upgrades, repeat_orders, active_customers, last_active, customers_delta;
    int64_t leads_converted, current_last_active, current_since;
    int64_t entered[CLM_STAGES_MAX];
    int64_t advanced[CLM_STAGES_MAX];
} clm_daycount;

/* The fixed integer fields, in struct order: Redis field name and offset. */
typedef struct clm_daycount_field {
    const char *name;
    size_t offset;
} clm_daycount_field;

extern const clm_daycount_field clm_daycount_fields[];
extern const size_t clm_daycount_nfields;

#endif
