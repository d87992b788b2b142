/* daemon/kpi_job_impl.h - the KPI job's state, shared by its two files:
 * kpi_job.c (the thread: the day buckets read and the <prefix>kpi:<N>d
 * hashes written) and kpi_clv_pred.c (the clv_pred refresh on every
 * customer's view). Private to daemon/kpi_job.c and kpi_clv_pred.c. Job
 * thread only but the atomics.
 */
#ifndef CLM_DAEMON_KPI_JOB_IMPL_H
#define CLM_DAEMON_KPI_JOB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/kpi_job.h"

struct clm_kpi_job {
    char lifetime[32];       /* clv_lifetime_years of the last computation */
    char refreshed[32];      /* the lifetime the last clv_pred pass used */
    long long refreshed_ms;  /* when that pass ran */
    bool has_pred;           /* that pass ran: pred_sum and pred_count hold */
    int64_t pred_sum;        /* sum of the clv_pred it wrote to current customers */
    int64_t pred_count;      /* how many current customers it wrote */
    const clm_config *cfg;
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool poked;
    int64_t bucket_ms;
};

/* Reads the replies of the n commands queued; a pipe with fewer queued
 * (an append failed) is an I/O error. 0, -EIO, or -EPROTO (Redis refused
 * a write: logged). */
int kpi_job_drain(clm_rpipe *rp, size_t n);

/* Writes clv_pred on every customer's view with the lifetime of the last
 * computation, and keeps the sum and count written to current customers
 * (kpi_clv_pred.c). Returns 0, -EPROTO (logged) or -EIO. */
int kpi_job_refresh_clv_pred(clm_kpi_job *j, clm_rpipe *rc);

#endif
