/* daemon/worker_impl.h - the worker's state, shared by its two files:
 * worker.c (the thread: messages in, events applied, controls) and
 * worker_store.c (what it reads from and writes to the store: flush
 * batches, the deadline scan, loading customers, paging windows).
 * Private to daemon/worker*.c. Everything here runs on the worker's thread
 * but the atomics.
 */
#ifndef CLM_DAEMON_WORKER_IMPL_H
#define CLM_DAEMON_WORKER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/shard.h"
#include "core/spsc.h"
#include "daemon/alerting.h"
#include "daemon/worker.h"
#include "daemon/worker_identity.h"
#include "store/flush.h"

/* Messages taken from the ring and processed together: decoded, their
 * cache misses loaded in one round trip, then applied in order. */
#define RUN_MAX 2048
#define CTL_TAG ((uintptr_t)1)
#define BATCH_RING 8

struct clm_worker {
    clm_worker_conf c;
    clm_shard *shard;
    clm_redis *redis;
    clm_spsc *in;  /* poll thread -> worker */
    clm_spsc *out; /* worker -> writer */
    pthread_t thread;
    bool started;
    atomic_bool finished;
    _Atomic uint64_t acked;
    const clm_apply_opts *_Atomic reload; /* new rules to switch to, or NULL */
    clm_risk_opts risk;      /* the risk options in use: the configured ones plus the model */
    long long model_checked; /* when the model's parameters were last looked at */
    _Atomic size_t cached;
    _Atomic int64_t tot_consumed, tot_applied, tot_duplicates, tot_rejected[CLM_REJ__COUNT];
    _Atomic int64_t tot_merges;
    _Atomic int64_t tot_erasures;
    uint64_t gen;      /* last generation cut */
    uint64_t dlq_seq;  /* last dead letter sent */
    long long next_flush_ms;
    long long last_msg_ms;  /* when the last message was processed */
    bool pending;           /* messages processed since the last cut */
    bool redis_down;
    bool stop;
    clm_flush_fmt *fmt;  /* formats this worker's flush batches */
    clm_alerting *alerting; /* its customers' alerts: kept, paged, digested */
    worker_ident *ident;    /* identity merge; NULL without identity.topic */
    int64_t *scanned_wm; /* per partition number: watermark of the last deadline scan */
    size_t nscanned;
    /* per-run scratch */
    clm_event ev[RUN_MAX];
    clm_reject rej[RUN_MAX];
    int rc[RUN_MAX];
    int slot[RUN_MAX];
    int topic[RUN_MAX];
};

void worker_sleep_ms(long ms);

/* Cuts a flush batch of everything pending and hands it to the writer
 * (waiting while the writer's ring is full). Nothing pending: no batch. */
void worker_cut(clm_worker *w);
/* Waits until the writer has committed generation gen. */
void worker_wait_acked(clm_worker *w, uint64_t gen);
/* Tells the shard which generations the writer has committed. */
void worker_refresh_acked(clm_worker *w);
/* The deadline scan before a cut (see worker_store.c). */
void worker_expire(clm_worker *w);
/* Loads customers from Redis (retrying through outages; fatal when a
 * stored customer is malformed), makes room in the cache, inserts them. */
void worker_load(clm_worker *w, size_t n, const char **ids, const size_t *lens,
                 const uint16_t *parts, clm_customer **out);
void worker_make_room(clm_worker *w, size_t n);
void worker_insert_loaded(clm_worker *w, size_t n, clm_customer **cs);
/* Takes up a partition number's paging windows from Redis when the worker
 * does not hold them yet. */
void worker_take_paging(clm_worker *w, int32_t number);

#endif
