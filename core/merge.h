/* core/merge.h - merging an anonymous customer into a known one (identity
 * merge: README.md, "Identity merge").
 *
 * The known customer's owner applies a merge record: a snapshot of the
 * anonymous customer's state, with a deterministic record id
 * (clm_merge_record_id). clm_merge_apply folds the snapshot into the known
 * customer by one rule per field (README.md lists them), and puts into the
 * KPI deltas what the merge changes in the shared counters, so that the
 * merged pair counts as one person:
 *   re-attributed (the anonymous and known contributions are withdrawn
 *   where they were counted and the merged person's added where it
 *   belongs): new_leads, leads_converted, new_customers, leads_contacted,
 *   lead_response_ms_sum, last_active, current_last_active, current_since,
 *   entered[s] and advanced[r] of ordinary stages, the value rate and
 *   repeat_customers; one repeat order for the later of two first
 *   purchases; active_customers once per bucket both were active in;
 *   corrected on the merge bucket: customers_delta (the number of current
 *   customers from the merge on), the stage counts (the anonymous person
 *   leaves its stage; the known one moves to the merged stage, a
 *   transition on the merge bucket);
 *   left as counted (they count events, not people): orders, revenue,
 *   refunds, spend, sessions, NPS, CSAT, upgrades, repeat orders other
 *   than the one above, churned, reactivated and entered[] of the churn and
 *   reactivation stages.
 *
 * Exactly once: the record id goes into the known customer's duplicate
 * set like an event id (kept at least CLM_MERGE_DEDUP_MIN_MS even when
 * event dedup is off), so a record delivered twice merges once.
 *
 * Pure, like the rest of core/. Not thread-safe: the known customer belongs
 * to one worker.
 */
#ifndef CLM_CORE_MERGE_H
#define CLM_CORE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/deltas.h"

/* Shortest time an applied merge record's id is remembered. */
#define CLM_MERGE_DEDUP_MIN_MS (7LL * 86400000LL)

/* The id of the merge record of `anon` into `known` caused by the identify
 * event `event_id` (may be empty) read by consumer group `group`: XXH3-64 of
 * the four strings, each followed by a NUL. The same inputs give the same
 * id in every process and after every restart. */
uint64_t clm_merge_record_id(const char *group, size_t group_len, const char *anon,
                             size_t anon_len, const char *known, size_t known_len,
                             const char *event_id, size_t event_id_len);

/* Merges the snapshot `anon` into `known` at event time merge_ts (the
 * identify event's time), dated on merge_ts's bucket where the rules say
 * "merge bucket". `watermark` (or merge_ts when CLM_NO_TS) is the known
 * partition's watermark: after the merge, what is due for the merged
 * customer by then happens (clm_customer_expire), and its churn risk is
 * scored again on the watermark's day.
 * `anon` is not changed. Returns CLM_APPLIED, CLM_DUPLICATE when record_id
 * was already applied (nothing changed), -EINVAL when both are the same
 * customer, -ENOMEM (the shard must then be abandoned, as for an event). */
int clm_merge_apply(clm_customer *known, const clm_customer *anon, uint64_t record_id,
                    int64_t merge_ts, const clm_apply_opts *o, clm_deltas *d,
                    int64_t watermark);

#endif
