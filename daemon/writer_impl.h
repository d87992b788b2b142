/* daemon/writer_impl.h - the writer's insides, shared by writer.c (one
 * server: the whole group in one MULTI/EXEC) and writer_cluster.c (Redis
 * Cluster: one transaction per partition number). Writer thread only,
 * except the atomics and `why` (under why_lock). */
#ifndef CLM_DAEMON_WRITER_IMPL_H
#define CLM_DAEMON_WRITER_IMPL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/writer.h"

/* Upper bound on the commands of one transaction (bytes). */
#define GROUP_MAX_BYTES (64u << 20)

typedef struct span {
    int32_t topic, partition;
    int64_t from, to;
    clm_wm wm;         /* the last batch's max_ts and sources ahead */
    clm_anon_ids anon; /* the last batch's customer-less event ids */
} span;

/* Why the writer is not committing: Redis unreachable, or refusing writes
 * (OOM, MISCONF). */
typedef enum hold_kind { HOLD_NONE, HOLD_DOWN, HOLD_REFUSED } hold_kind;

struct clm_writer {
    clm_writer_conf c;
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    hold_kind hold;              /* why flushes are held (writer thread) */
    pthread_mutex_t why_lock;    /* guards why: /healthz reads it */
    char why[256];               /* "" while flushing */
    clm_batch **group;
    size_t ngroup, cap_group;
    span *spans;
    size_t nspans, cap_spans;
    _Atomic uint64_t flushes, batches, customers, redis_errors, last_latency_ms;
    _Atomic long long last_flush_wall_ms; /* wall clock of the last EXEC, 0: none yet */
    _Atomic uint64_t latency_le[8], latency_sum_ms, dlq_delivered;
    _Atomic long long waiting_since; /* cut time of the oldest batch in hand, 0: none */
};

void writer_sleep_ms(long ms);

/* Folds the group's partition progress into one span per partition. */
void writer_build_spans(clm_writer *w);

/* <prefix>progress:{g:p}; the offset:<topic> field. */
void writer_progress_key(const clm_writer *w, int32_t partition, char *buf, size_t size);
void writer_offset_field(const clm_writer *w, int32_t topic, char *buf, size_t size);

/* True for the first span of its partition number. */
bool writer_number_first(const clm_writer *w, size_t i);

/* Appends the HSET (and HDEL) of the progress of span `first`'s partition
 * number to rc. Returns the number of commands appended, or -errno. */
int writer_append_progress(clm_writer *w, redisContext *rc, size_t first);

/* Enters (or stays in) a hold, logging once per kind; leaves it. */
void writer_note_hold(clm_writer *w, hold_kind kind, const char *why);
void writer_end_hold(clm_writer *w);

/* Makes the current group durable on Redis Cluster, however long the
 * cluster takes (daemon/writer_cluster.c). */
void writer_commit_cluster(clm_writer *w);

#endif
