/* daemon/kpi_history.h - the KPI job's day-by-day history,
 * <prefix>kpi:history (a STREAM a Grafana Redis data source plots with
 * XRANGE: the entry id is the time).
 *
 * One entry per UTC day D from max(first day with counters, end_day -
 * kpi.history_days + 1) to end_day (the window end day of kpi:<N>d; that
 * last day is partial). Entry id "<epoch ms of D 00:00 UTC>-0" ("0-1" for
 * 1970-01-01, as Redis refuses the id 0-0). Fields, in order:
 *   date           "YYYY-MM-DD"
 *   the fields clm_kpi_window (core/kpi.h) emits for the one-day window
 *                  [D, D], window_start and window_end left out, same names
 *                  and formatting as kpi:<N>d; a KPI without a denominator
 *                  that day is absent. The figures that are not day sums
 *                  (repeat_purchase_rate, clv_lifetime_years, clv_pred_avg)
 *                  are those of the present state, as in kpi:<N>d.
 *   customers_eod  the running customer count at the end of D
 * The whole stream is replaced (DEL + XADD of every day in one MULTI/EXEC
 * on the node serving the key) whenever any entry differs from what the
 * job last wrote (a digest of every entry), and once after start.
 *
 * Job thread only (daemon/kpi_job_impl.h).
 */
#ifndef CLM_DAEMON_KPI_HISTORY_H
#define CLM_DAEMON_KPI_HISTORY_H

#include "core/kpi.h"
#include "daemon/kpi_job_impl.h"

/* Writes the history of the days in `in` (in->end_day the window end day)
 * when it changed. Returns 0, -ENOMEM, -EOVERFLOW (a day's sum passes the
 * int64 limit: logged, the stream is left as it was), -EPROTO (logged) or
 * -EIO. */
int kpi_history_update(clm_kpi_job *j, const clm_kpi_input *in);

#endif
