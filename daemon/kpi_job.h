/* daemon/kpi_job.h - keeps the rolling KPI hashes current.
 *
 * A background thread that, every kpi.refresh_ms after a flush changed
 * something (and once more when it stops), reads the bucket counters from
 * Redis and writes what is derived from them:
 *   in each bucket hash: revenue, refunds, spend (decimals from the
 *     *_micros counters), session_seconds, and customers_eod (the running sum
 *     of customers_delta; whole-day buckets with no events get a hash with
 *     customers_eod only, so every day carries the value);
 *   <prefix>kpi:<N>d for each configured window (core/kpi.h), replaced
 *     atomically (DEL + HSET in one MULTI/EXEC) so absent KPIs disappear;
 *   <prefix>kpi:history, one entry per day, replaced whole when any day
 *     changed (daemon/kpi_history.h);
 *   <prefix>kpi:cohorts, the weekly retention cohorts, from a pass over
 *     the customers at most once a minute (daemon/kpi_cohort.h);
 *   clv_pred on every customer hash = clv_rate x clv_lifetime_years x
 *     gross_margin, in a pass over the customers when the lifetime changed
 *     (at most once a minute) and always on shutdown (the cohorts too).
 * The window ends on the UTC day of the greatest max_ts over all partitions
 * (the maxts:<topic> fields of <prefix>progress:{<group>:<p>}). Everything it writes is a function of
 * what the flushes wrote, so it is the same after a crash and a replay.
 *
 * Threads: clm_kpi_job_poke from any thread; the rest from the owner.
 */
#ifndef CLM_DAEMON_KPI_JOB_H
#define CLM_DAEMON_KPI_JOB_H

#include <stddef.h>

#include "config/config.h"
#include "daemon/redis.h"

typedef struct clm_kpi_job clm_kpi_job;

/* The config must outlive the job. Returns NULL with errbuf set. */
clm_kpi_job *clm_kpi_job_new(const clm_config *cfg, const clm_redis_opts *redis, char *errbuf,
                             size_t errsize);
int clm_kpi_job_start(clm_kpi_job *j);
/* Something was flushed: recompute at the next tick. */
void clm_kpi_job_poke(clm_kpi_job *j);
/* Recomputes once more if poked, then ends the thread. */
void clm_kpi_job_stop(clm_kpi_job *j);
void clm_kpi_job_free(clm_kpi_job *j);

#endif
