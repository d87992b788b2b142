/* core/rfmscore.h - RFM scores (1-5) against population quintile boundaries,
 * and the segment map that names a score triple. Pure.
 *
 * The three measures of a customer with at least one purchase:
 *   R  the UTC day number of the latest purchase (rfm.last_day): a later
 *      day is a better score. Using the day itself rather than "days since"
 *      keeps a customer's score fixed between recomputations of the
 *      boundaries, which move with the population instead;
 *   F  orders (purchases counted);
 *   M  revenue in micros (sum of purchase amounts).
 * A customer without a purchase has no scores (0) and no RFM segment.
 *
 * Boundaries are exact quintiles of the buyers' values: with the n values
 * sorted ascending as v[0..n-1], boundary k (k = 1..4) is the greatest value
 * of quintile k, v[ceil(k*n/5) - 1], and the score of a value x is 1 + the
 * number of boundaries below x. Customers with equal values get equal
 * scores: a tie spanning several quintiles (the many customers with one
 * order) gets the lowest of them, so one-time buyers score F = 1. A
 * customer's score never depends on arrival order.
 *
 * The segment map is an ordered list of entries {name, r, f, m ranges}; the
 * first entry whose three ranges hold the scores names the segment; a triple
 * no entry covers gets CLM_RFM_OTHER. clm_rfm_default_map() is the standard
 * map (Champions ... Lost).
 *
 * Thread-safety: bounds and maps are plain values; immutable once built.
 */
#ifndef CLM_CORE_RFMSCORE_H
#define CLM_CORE_RFMSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLM_RFM_NBOUNDS 4
#define CLM_RFM_MAX_SEGMENTS 32
#define CLM_RFM_OTHER "Other" /* the segment of a triple no map entry covers */

typedef struct clm_rfm_bounds {
    int64_t n;                   /* buyers they were computed from; 0: none (no scores) */
    int64_t r[CLM_RFM_NBOUNDS];  /* last purchase day */
    int64_t f[CLM_RFM_NBOUNDS];  /* orders */
    int64_t m[CLM_RFM_NBOUNDS];  /* revenue micros */
} clm_rfm_bounds;

/* Computes exact quintile boundaries of n buyers' values (each array holds
 * n values and is sorted in place). n = 0 gives bounds with n = 0. */
void clm_rfm_bounds_compute(int64_t *r, int64_t *f, int64_t *m, size_t n, clm_rfm_bounds *out);

/* 1 + the number of boundaries b[k] < v. */
int clm_rfm_quintile(const int64_t b[CLM_RFM_NBOUNDS], int64_t v);

/* Scores a customer: out[0..2] = R, F, M scores 1..5; all 0 when the bounds
 * are empty (n = 0) or the customer has no purchase (last_day < 0 or
 * orders <= 0). */
void clm_rfm_score(const clm_rfm_bounds *b, int64_t last_day, int64_t orders, int64_t revenue,
                   uint8_t out[3]);

/* One entry of a segment map: scores lo..hi (1..5) per measure. */
typedef struct clm_rfm_seg_spec {
    const char *name;
    uint8_t r_lo, r_hi, f_lo, f_hi, m_lo, m_hi;
} clm_rfm_seg_spec;

/* The standard map, *n entries. */
const clm_rfm_seg_spec *clm_rfm_default_map(size_t *n);

typedef struct clm_rfm_map clm_rfm_map;

/* Builds a map from n entries (1..CLM_RFM_MAX_SEGMENTS, names distinct,
 * non-empty and not CLM_RFM_OTHER, 1 <= lo <= hi <= 5). Returns 0 and sets
 * *out; or -EINVAL with "[<i>]: <what>" in errbuf; or -ENOMEM. */
int clm_rfm_map_new(const clm_rfm_seg_spec *specs, size_t n, clm_rfm_map **out, char *errbuf,
                    size_t errsize);

/* The segment index of a score triple (each 1..5): 0..count-1, or count
 * for CLM_RFM_OTHER; -1 when a score is 0 (no purchase). */
int clm_rfm_map_segment(const clm_rfm_map *map, const uint8_t s[3]);

/* Segments named by the map, without CLM_RFM_OTHER. */
size_t clm_rfm_map_count(const clm_rfm_map *map);

/* Name of segment idx (count: CLM_RFM_OTHER). */
const char *clm_rfm_map_name(const clm_rfm_map *map, int idx);

/* Frees a map; accepts NULL. */
void clm_rfm_map_free(clm_rfm_map *map);

#endif
