/* daemon/model_job.h - predictive CLV: the BG/NBD and Gamma-Gamma models
 * fitted in the background, and their predictions on every customer.
 *
 * A thread with its own Redis connection. Once a second it reads the
 * event-time watermark, <prefix>stats applied and <prefix>model
 * refit_requested; then:
 *   fit   when `clmctl refit` asked for one (refit_requested) or
 *         model.refit_interval_s passed since the last fit (on start: since
 *         the fitted_at stored in <prefix>model; with none stored, since
 *         start). It reads every customer's checkpoint record
 *         (store/scan.h: each <prefix>ckpt:* hash, then the upgrade pool,
 *         a page at a time), turns its repeat-purchase statistics
 *         (core/rfm.h) into (x, t_x, T)
 *         in model.unit_days units with T measured to the model's now (the
 *         UTC day of the greatest partition max_ts minus
 *         events.allowed_lateness_s), and fits BG/NBD over every customer
 *         with a purchase and Gamma-Gamma over those with a repeat purchase
 *         day and a positive mean repeat spend. From the same data, the
 *         same parameters, whatever fitted before (each fit starts from the
 *         defaults of core/bgnbd.h and core/gammagamma.h). A fit that
 *         succeeds replaces the parameters in <prefix>model (status "ok");
 *         one that fails keeps them and sets status "failed" and last_error.
 *   score after each successful fit, and with the last good parameters when
 *         the watermark's day moved or events were applied since the last
 *         pass (at most once a minute, and at least ten times the last pass's
 *         duration apart): on every customer with a purchase, p_alive,
 *         expected_purchases_<model.horizon>, expected_spend and clv_model
 *         into its view (pipelined HSETs, drained between scan pages); then
 *         clv_model_sum and clv_model_avg into <prefix>model, which the KPI
 *         job copies into each <prefix>kpi:<N>d it writes (clm_model_job_on_scored).
 * A checkpoint record that does not decode fails the fit (status "failed",
 * last_error naming the key, the customer and what is wrong) or stops that
 * scoring pass with one error line; the worker owning the customer stops
 * clmd when it loads it.
 * It only reads checkpoints and writes view fields the flush never writes,
 * so ingestion does not wait for it, and nothing is written before the
 * first fit.
 *
 * Threads: clm_model_job_params from any thread; the rest from the owner.
 */
#ifndef CLM_DAEMON_MODEL_JOB_H
#define CLM_DAEMON_MODEL_JOB_H

#include <stddef.h>

#include "config/config.h"
#include "core/bgnbd.h"
#include "core/gammagamma.h"
#include "daemon/redis.h"

typedef struct clm_model_job clm_model_job;

/* The config must outlive the job. Returns NULL with errbuf set. */
clm_model_job *clm_model_job_new(const clm_config *cfg, const clm_redis_opts *redis,
                                 char *errbuf, size_t errsize);

/* Calls fn(ctx) from the job's thread after each scoring pass has written
 * <prefix>model (clv_model_sum, clv_model_avg), so the KPI job, the one
 * writer of <prefix>kpi:<N>d, can carry them there. Before start only. */
void clm_model_job_on_scored(clm_model_job *j, void (*fn)(void *ctx), void *ctx);

/* Starts the thread. Returns 0 or a negative errno. */
int clm_model_job_start(clm_model_job *j);

/* The parameters of the last good fit: this process's, or the ones stored
 * in <prefix>model when it started (same model.unit_days). Returns 0 and
 * sets *bg and *gg (either may be NULL), or -ENOENT before there is one
 * (outputs untouched). Any thread; takes a mutex briefly. */
int clm_model_job_params(clm_model_job *j, clm_bgnbd_params *bg, clm_gg_params *gg);

/* Ends the thread, after the fit or page of a pass under way. No-op when not
 * started. */
void clm_model_job_stop(clm_model_job *j);

/* Stops and frees; accepts NULL. */
void clm_model_job_free(clm_model_job *j);

#endif
