/* daemon/kpi_job_impl.h - the KPI job's state, shared by its two files:
 * kpi_job.c (the thread: the day buckets read and the <prefix>kpi:<N>d
 * hashes written), kpi_clv_pred.c (the clv_pred refresh on every
 * customer's view), kpi_history.c (<prefix>kpi:history) and kpi_cohort.c
 * (<prefix>kpi:cohorts). Private to those files. Job
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

/* The customers a cohort pass collects (daemon/kpi_cohort.h). */
typedef struct kpi_cohort_pass kpi_cohort_pass;

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
    bool has_end_day;        /* a computation found counters: end_day holds */
    int64_t end_day;         /* its window end day (UTC day number) */
    bool history_written;    /* kpi:history was written: history_digest holds */
    uint64_t history_digest; /* digest of the entries last written (kpi_history.c) */
    long long cohorts_ms;    /* clm_now_ms() when kpi:cohorts was last written (0: never) */
    bool cohorts_dirty;      /* a computation ran since */
};

/* Reads the replies of the n commands queued; a pipe with fewer queued
 * (an append failed) is an I/O error. 0, -EIO, or -EPROTO (Redis refused
 * a write: logged). */
int kpi_job_drain(clm_rpipe *rp, size_t n);

/* Replaces `key` in one MULTI/EXEC on the node serving it: DEL key, then
 * the ncmd commands argv[k] (argc[k] arguments each, all on `key`).
 * Returns 0, -EPROTO (Redis refused a command: logged) or -EIO. */
int kpi_job_replace(clm_kpi_job *j, const char *key, size_t ncmd, const int *argc,
                    const char *const *const *argv);

/* Writes clv_pred on every customer's view with the lifetime of the last
 * computation, and keeps the sum and count written to current customers
 * (kpi_clv_pred.c); each customer also goes into `cohorts` when not NULL
 * (one scan for both). Returns 0, -ENOMEM, -EPROTO (logged) or -EIO. */
int kpi_job_refresh_clv_pred(clm_kpi_job *j, clm_rpipe *rc, kpi_cohort_pass *cohorts);

#endif
