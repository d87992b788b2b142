/* daemon/model_job_impl.h - the model job's state, shared by its two
 * files: model_job.c (the thread: reading <prefix>model, deciding when to
 * fit or score, the fit and its record) and model_score.c (the scoring
 * pass: every customer's predictions into its view, the portfolio figures
 * into <prefix>model). Private to daemon/model_job.c and model_score.c.
 * Everything here runs on the job's thread but lock and what it guards.
 */
#ifndef CLM_DAEMON_MODEL_JOB_IMPL_H
#define CLM_DAEMON_MODEL_JOB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/model_job.h"
#include "store/keys.h"

struct clm_model_job {
    const clm_config *cfg;
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    pthread_mutex_t lock; /* guards good, bg, gg */
    bool good;
    clm_bgnbd_params bg;
    clm_gg_params gg;
    /* the rest belongs to the job's thread */
    bool loaded;             /* <prefix>model was read once */
    long long next_fit;      /* wall-clock ms of the next scheduled fit */
    long long pass_end;      /* clm_now_ms() when the last scoring pass ended; 0: none yet */
    long long pass_cost;     /* how long that pass took, ms */
    int64_t pass_day;        /* the model's now_day it used */
    long long pass_applied;  /* <prefix>stats applied when it started */
    char clv_sum[32], clv_avg[32]; /* portfolio figures of the last pass; "": none */
    char ey_field[48];       /* "expected_purchases_<horizon>" */
    char model_key[CLM_KEY_MAX]; /* "<prefix>model" */
    char stats_key[CLM_KEY_MAX]; /* "<prefix>stats" */
    void (*scored)(void *ctx);   /* after each scoring pass; may be NULL */
    void *scored_ctx;
};

/* Reads the replies of the n commands queued; a pipe with fewer queued
 * (an append failed) is an I/O error. 0, -EIO, or -EPROTO (Redis refused
 * a write: logged). */
int model_job_drain(clm_rpipe *rc, size_t n);

/* One command from argv; its reply is checked and dropped (as above). */
int model_job_command_argv(clm_rpipe *rc, int argc, const char **argv);

/* The scoring pass with the last good parameters (see model_job.h), as of
 * the model's now_day and <prefix>stats applied (model_score.c). 0 when
 * there are no good parameters yet or the pass was spent; <0 on an error. */
int model_job_score(clm_model_job *j, clm_rpipe *rc, int64_t now_day, long long applied);

#endif
