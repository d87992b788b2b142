/* daemon/segment_job.c - the segment job's thread and reloads (see
 * segment_job.h); the pass itself is in segment_pass.c. */
#include "daemon/segment_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"
#include "daemon/segment_job_impl.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

clm_segment_job *clm_segment_job_new(const clm_config *cfg, const clm_redis_opts *redis,
                                     clm_alert_pub *alerts, char *errbuf, size_t errsize)
{
    clm_segment_job *j = calloc(1, sizeof *j);
    if (!j || !(j->redis = clm_redis_new(redis))) {
        snprintf(errbuf, errsize, "segments: out of memory");
        free(j);
        return NULL;
    }
    atomic_init(&j->cfg, cfg);
    j->first = cfg;
    j->alerts = alerts;
    return j;
}

void clm_segment_job_reload(clm_segment_job *j, const clm_config *cfg)
{
    atomic_store(&j->cfg, cfg);
    atomic_store(&j->poked, true);
}

static void *segment_main(void *arg)
{
    clm_segment_job *j = arg;
    while (!atomic_load(&j->stopping)) {
        const clm_config *cfg = atomic_load(&j->cfg);
        /* one more pass after a reload removed the last segment deletes its keys */
        bool wanted = cfg->rfm_enabled || clm_segments_count(cfg->segments) > 0 || j->nnames > 0;
        if ((atomic_exchange(&j->poked, false) || clm_now_ms() >= j->next_pass) && wanted) {
            char err[256];
            clm_rpipe *rp = clm_redis_pipe(j->redis, err, sizeof err);
            int r = rp ? segment_pass_run(j, rp, cfg) : -EIO;
            if (r == -EIO)
                clm_redis_drop(j->redis);
            /* after a failure, the next try comes a refresh period later too */
            j->next_pass = clm_now_ms() + (long long)cfg->rfm_refresh_s * 1000;
        }
        for (int waited = 0; waited < 1000 && !atomic_load(&j->stopping) &&
                             !atomic_load(&j->poked);
             waited += 10)
            sleep_ms(10);
    }
    return NULL;
}

int clm_segment_job_start(clm_segment_job *j)
{
    int r = pthread_create(&j->thread, NULL, segment_main, j);
    if (r)
        return -r;
    j->started = true;
    return 0;
}

void clm_segment_job_stop(clm_segment_job *j)
{
    if (!j || !j->started)
        return;
    atomic_store(&j->stopping, true);
    pthread_join(j->thread, NULL);
    j->started = false;
}

void clm_segment_job_free(clm_segment_job *j)
{
    if (!j)
        return;
    clm_segment_job_stop(j);
    segment_pass_forget(j);
    clm_redis_free(j->redis);
    free(j);
}
