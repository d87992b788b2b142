/* core/kpi.h - rolling KPIs over windows of whole UTC days, and the time
 * buckets that per-bucket counters (core/daycount.h) are kept in.
 *
 * Time is event time. A window of N days ends on `end_day` (the UTC day of
 * the greatest event time seen over all partitions) and covers the N UTC days
 * end_day - N + 1 .. end_day, both inclusive. Every KPI is a ratio of sums of
 * day counters over the window; one whose denominator is 0 (or negative,
 * which consistent counters never give) is absent: never written as 0, NaN
 * or inf.
 *
 * Number formats (deterministic: exact integer arithmetic, so anyone
 * recomputing from the day counters gets the same text):
 *   counts          plain integers ("12")
 *   money           micro-units via clm_micros_format ("49.9"); a quotient
 *                   (aov, cpa) is first rounded to a whole micro-unit
 *   nps, csat       percent points, 4 decimals
 *   csat_mean       4 decimals
 *   *_s             seconds, 3 decimals (whole milliseconds)
 *   rates, ratios   6 decimals
 * A quotient is rounded half away from zero at its last decimal, then
 * trailing zeros (and a trailing '.') are dropped: "0.5", "1", "42.8571",
 * "-0.25"; zero is "0", never "-0".
 *
 * Pure and reentrant: no state, no allocation, no logging.
 */
#ifndef CLM_CORE_KPI_H
#define CLM_CORE_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/daycount.h"

/* Longest field name clm_kpi_window emits, NUL excluded. A conversion
 * field "conv_<a>_<b>" whose stage names make it longer is -EINVAL. */
#define CLM_KPI_FIELD_MAX 127

/* Receives one present KPI. `field` and `value` are NUL-terminated and valid
 * only during the call. A negative return stops the walk and is passed back
 * by clm_kpi_window; other returns continue it. */
typedef int (*clm_kpi_emit_fn)(void *ctx, const char *field, const char *value);

typedef struct clm_kpi_input {
    /* Dense counters: days[i] holds UTC day first_day + i; a day without
     * events is an all-zero entry. Days outside the array count as zero. */
    const clm_daycount *days;
    size_t ndays;
    int64_t first_day;
    /* customers_eod of day first_day - 1 (the running sum of customers_delta
     * over every day before the array); it is also taken as the value of
     * every earlier day, so the array must start no later than the first day
     * of the longest window unless there are no customers before it. */
    int64_t eod_before_first;
    int64_t end_day; /* the last day of every window */
    /* Ordinary stages in rank order: their names, and the index into
     * clm_daycount.entered of the stage at each rank. */
    const char *const *ordinary_stage_names;
    const int *ordinary_stage_index;
    size_t nordinary; /* <= CLM_STAGES_MAX */
    /* Sum over current customers of aov x orders per year, in micro-units
     * per year, as the daemon maintains it. */
    int64_t value_rate_sum_micros;
    /* The clv_pred values as stored (written by the KPI job's latest pass
     * over the customers): their sum over the current customers, in
     * micro-units, and how many there were (>= 0). Without them
     * (has_pred_sum false) clv_pred_avg is estimated from
     * value_rate_sum_micros. */
    bool has_pred_sum;
    /* Customers to date (anyone with an order: the sum of new_customers
     * over every day) and those of them with at least two orders, for
     * repeat_purchase_rate; both >= 0. */
    int64_t customers_total;
    int64_t repeat_customers_total;
    int64_t pred_sum_micros;
    int64_t pred_count;
    double clv_max_years;    /* > 0: cap on the expected remaining lifetime */
    double gross_margin;     /* >= 0: share of revenue kept as margin */
    int longest_window_days; /* >= 1: the longest configured window */
} clm_kpi_input;

/* customers_eod of `day`: eod_before_first plus customers_delta of every
 * array day up to and including `day`; days past the array carry the last
 * value, days before it read eod_before_first. Returns 0 and sets *out, or
 * -EINVAL (NULL days with ndays > 0, first_day outside 1970-01-01 ..
 * 9999-12-31) / -EOVERFLOW with *out untouched. */
int clm_kpi_eod(const clm_kpi_input *in, int64_t day, int64_t *out);

/* Computes the KPIs of the window of `window_days` days ending on
 * in->end_day and calls fn for each present field, in this order:
 *   window_start, window_end      "YYYY-MM-DD", always present
 *   revenue, orders,              sums over the window, always present
 *   new_customers, churned
 *   aov        revenue / orders
 *   cpa        spend / new_customers
 *   nps        100 x (promoters - detractors) / (promoters + passives + detractors)
 *   csat       100 x csat_satisfied / csat_n
 *   csat_mean  csat_sum / csat_n
 *   churn_rate       churned / S
 *   retention_rate   (current_last_active - current_since) / S, with
 *                    S = customers_eod(window_start - 1): of the customers
 *                    current at the window's start, those still current at
 *                    its end without having churned in it, and active in it
 *                    (E = customers_eod(end_day) below)
 *   lead_to_customer leads_converted / new_leads
 *   conv_<a>_<b>     for each pair of adjacent ordinary stages a (rank r) and
 *                    b (rank r + 1), in rank order: advanced[r] / entered[a];
 *                    attributed to the day the customer entered a, so <= 1
 *   lead_response_s  lead_response_ms_sum / leads_contacted / 1000
 *   avg_engagement_s session_ms / sessions / 1000
 *   upsell_rate      (upgrades + repeat_orders) / last_active (the distinct
 *                    customers active in the window)
 *   repeat_purchase_rate  repeat_customers_total / customers_total: customers
 *                    with >= 2 orders over customers, to date (not a window
 *                    sum: every window reports the same)
 *   clv_lifetime_years  expected remaining lifetime: 1 / annualised churn
 *                    rate of the longest window (churn_rate x 365 / L, L =
 *                    longest_window_days), i.e. L x S_L / (365 x churned_L),
 *                    capped at clv_max_years. It is the cap when that
 *                    window has no churn or no customers at its start
 *                    (S_L = 0, where its churn_rate is absent). Always present.
 *   clv_pred_avg     the mean of the stored clv_pred values: pred_sum /
 *                    pred_count, money rounded half away from zero to a
 *                    micro-unit, absent when pred_count is 0; without
 *                    has_pred_sum, the estimate lifetime x gross_margin x
 *                    value_rate_sum / E (same rounding), absent when E is 0
 * The clv fields do not depend on window_days: every window reports the same.
 * Returns 0; -EINVAL (NULL input or fn, window_days < 1, bad stage arrays,
 * a stage name pair too long, clv_max_years not finite and > 0, a negative
 * pred_count, customers_total or repeat_customers_total,
 * gross_margin not finite and >= 0, first_day or end_day outside
 * 1970-01-01 .. 9999-12-31) or -EOVERFLOW (a sum, or clv_max_years or
 * clv_pred_avg in micro-units, leaves int64), both before any call of fn;
 * or fn's first negative return. */
int clm_kpi_window(const clm_kpi_input *in, int window_days, clm_kpi_emit_fn fn, void *ctx);

/* Time buckets. A bucket size is a whole number of minutes that divides a
 * day (1 minute .. 1 day); buckets are numbered from the epoch, so bucket
 * b covers [b x bucket_ms, (b + 1) x bucket_ms) and, with whole-day
 * buckets, the bucket number is the UTC day number. */
#define CLM_BUCKET_MIN_MS 60000LL
/* Size of a buffer that holds any bucket key with its NUL. */
#define CLM_BUCKET_KEY_SIZE 17

/* Returns 0 when bucket_ms is a valid bucket size, else -EINVAL. */
int clm_bucket_check(int64_t bucket_ms);

/* The helpers below require a valid bucket_ms, and buckets and days of
 * accepted event times (1970-01-01 .. 9999-12-31, core/timeutil.h). */

/* The bucket of an epoch-ms time (floor division). */
int64_t clm_bucket_of_ms(int64_t ts_ms, int64_t bucket_ms);

/* The UTC day a bucket lies in. */
int64_t clm_bucket_day(int64_t bucket, int64_t bucket_ms);

/* The first and last bucket of a UTC day. */
int64_t clm_bucket_first_of_day(int64_t day, int64_t bucket_ms);
int64_t clm_bucket_last_of_day(int64_t day, int64_t bucket_ms);

/* Writes a bucket's key: "YYYY-MM-DD" for whole-day buckets, the UTC start
 * "YYYY-MM-DDTHH:MM" for shorter ones. Returns the length written, -EINVAL
 * for an invalid bucket_ms or a bucket starting outside the accepted event
 * times, or -ENOSPC when size is too small
 * (CLM_BUCKET_KEY_SIZE always suffices). */
int clm_bucket_key(int64_t bucket, int64_t bucket_ms, char *buf, size_t size);

#endif
