/* core/rfm.h - a customer's purchase history reduced to what the BG/NBD and
 * Gamma-Gamma models read (core/bgnbd.h, core/gammagamma.h). Pure.
 *
 * The models count purchase *days*, as in the papers: several purchases on
 * one UTC day are one transaction whose value is their sum. From the
 * purchases (in any arrival order) this keeps
 *   first_day, last_day  the first and the latest purchase day,
 *   x                    repeat purchase days: distinct days after the first,
 *   first_micros         spend on the first day (left out of the spend model),
 *   repeat_micros        spend on the repeat days,
 * and a 64-day bitmap of purchase days ending at last_day, so that a late
 * purchase on a day already counted is not counted twice. A late purchase
 * before first_day makes it the new first day, and the old first day (with
 * its spend) becomes a repeat day.
 *
 * The bitmap covers last_day - 63 .. last_day. clmd drops events older than
 * the partition watermark, and events.allowed_lateness_s is at most 62 days,
 * so every late purchase lands inside it; one older than that (possible only
 * with a state built otherwise) counts as a new day unless it is first_day.
 *
 * Not thread-safe: a clm_rfm belongs to one customer, which belongs to one
 * worker.
 */
#ifndef CLM_CORE_RFM_H
#define CLM_CORE_RFM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in the customer; init only (nothing to release). */
typedef struct clm_rfm {
    int32_t first_day;        /* UTC day number of the first purchase, -1: none */
    int32_t last_day;         /* latest purchase day, -1: none */
    int32_t x;                /* repeat purchase days (distinct days after the first) */
    uint64_t day_bits;        /* bit k: a purchase on last_day - k (to count days exactly out of order) */
    int64_t first_micros;     /* spend on first_day */
    int64_t repeat_micros;    /* spend on the repeat days */
} clm_rfm;

/* No purchase yet. */
void clm_rfm_init(clm_rfm *r);

/* Counts a purchase of amount_micros (>= 0; sums saturate at INT64_MAX) at
 * event time ts_ms, in any arrival order. The caller has already suppressed
 * duplicates: every call is a distinct purchase. */
void clm_rfm_purchase(clm_rfm *r, int64_t ts_ms, int64_t amount_micros);

/* The model's summary of the customer as of the end of day now_day, with
 * times in units of unit_days days (> 0; 7: weeks, as in the papers):
 *   *x   = x,
 *   *t_x = (last_day - first_day) / unit_days,
 *   *T   = (max(now_day, last_day) - first_day) / unit_days,
 *   *m_x = repeat_micros / 10^6 / x, the mean repeat-day spend in money
 *          units (0 when x = 0).
 * T is measured to last_day instead when the customer bought after now_day
 * (within the allowed lateness), so that 0 <= t_x <= T always holds. A
 * customer without a purchase gets all four 0 (the models skip such
 * customers; the caller should too). */
void clm_rfm_stats(const clm_rfm *r, int64_t now_day, double unit_days, double *x, double *t_x,
                   double *T, double *m_x);

/* True when r is a state clm_rfm_purchase can reach from clm_rfm_init:
 * the first day's bit is the highest set in the bitmap (when it lies within
 * it), x counts at least the repeat days the bitmap shows and at most the
 * days between first and last, spends are >= 0 and the repeat spend is 0
 * without a repeat day. For checking a state read from storage. */
bool clm_rfm_valid(const clm_rfm *r);

#endif
