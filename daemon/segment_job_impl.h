/* daemon/segment_job_impl.h - the segment job's state, shared by its two
 * files: segment_job.c (the thread, reloads) and segment_pass.c (one pass:
 * the scans, the scores and rules, the writes). Private to them. Job thread
 * only but the atomics.
 */
#ifndef CLM_DAEMON_SEGMENT_JOB_IMPL_H
#define CLM_DAEMON_SEGMENT_JOB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/segment_job.h"
#include "net/redis_pipe.h"

/* What the view of one customer holds from the previous pass. */
typedef struct seg_shown {
    char *id;
    uint8_t scores[3];
    const char *rfm; /* the RFM segment name (in a config, which outlives the job) */
} seg_shown;

struct clm_segment_job {
    _Atomic(const clm_config *) cfg; /* the latest configuration */
    const clm_config *first;  /* the start-up one: prefix, stages, model settings */
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool poked;        /* a reload asked for a pass */
    long long next_pass;      /* clm_now_ms() of the next scheduled pass */
    long long passes;
    char **names;             /* the segments the last pass wrote */
    size_t nnames;
    seg_shown *shown;         /* the view fields written, sorted by id */
    size_t nshown;
};

/* One pass (see segment_job.h) with cfg. Returns 0, -EIO (the caller drops
 * the connection), -EPROTO (a record that does not decode, a key of the
 * wrong type or a refused write: logged), -ENOMEM. */
int segment_pass_run(clm_segment_job *j, clm_rpipe *rp, const clm_config *cfg);

/* Frees what the job remembers of earlier passes. */
void segment_pass_forget(clm_segment_job *j);

#endif
