/* daemon/kpi_cohort.h - the KPI job's weekly retention cohorts,
 * <prefix>kpi:cohorts (a STRING holding JSON):
 *   {"period":"week","computed_at_ms":<ms>,"as_of":"YYYY-MM-DD",
 *    "cohorts":[{"start":"YYYY-MM-DD","size":N,"retained":[r0,r1,...]}]}
 * as_of is the window end day of kpi:<N>d. A cohort is the customers whose
 * first purchase lies in one UTC ISO week (start: its Monday); the cohorts
 * are the kpi.cohort_weeks weeks ending with the week of as_of, oldest
 * first, those before the week of the earliest first purchase left out
 * (every week from there on listed, an empty one with size 0; no customer
 * with a purchase: "cohorts":[]). r_k counts the members whose last_seen
 * is at or after start + k weeks (rolling retention), for each k whose
 * week has begun by as_of (start + 7k <= as_of), so r0 == size. A customer
 * whose first purchase is after the week of as_of is in no cohort.
 * computed_at_ms is the wall clock of the pass.
 *
 * Built from one pass over the checkpoints (store/scan.h; a customer the
 * scan passes twice counts once): its own, or the clv_pred refresh's when
 * both are due (kpi_clv_pred.c feeds a kpi_cohort_pass), and written with
 * one SET. Job thread only (daemon/kpi_job_impl.h).
 */
#ifndef CLM_DAEMON_KPI_COHORT_H
#define CLM_DAEMON_KPI_COHORT_H

#include "core/customer.h"
#include "daemon/kpi_job_impl.h"

/* The customers of one pass over the checkpoints, as far as cohorts need
 * them. new: NULL on ENOMEM; add: 0 or -ENOMEM; free accepts NULL. */
kpi_cohort_pass *kpi_cohort_pass_new(void);
int kpi_cohort_pass_add(kpi_cohort_pass *p, const clm_customer *c);
void kpi_cohort_pass_free(kpi_cohort_pass *p);

/* Writes <prefix>kpi:cohorts from a complete pass, as of j->end_day
 * (nothing without one); computed_at_ms is when the pass began. Returns 0,
 * -ENOMEM, -EPROTO (a refused write: logged) or -EIO. */
int kpi_cohort_pass_write(clm_kpi_job *j, clm_rpipe *rc, kpi_cohort_pass *p);

/* Rebuilds <prefix>kpi:cohorts with a pass of its own, as of j->end_day
 * (nothing without one).
 * Returns 0, -ENOMEM, -EPROTO (a record that does not decode or a refused
 * write: logged) or -EIO. */
int kpi_cohort_refresh(clm_kpi_job *j, clm_rpipe *rc);

#endif
