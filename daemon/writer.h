/* daemon/writer.h - the Redis writer: makes flush batches durable, exactly once.
 *
 * The writer thread collects the batches the workers have cut and applies
 * all that are ready in ONE transaction:
 *
 *   WATCH <progress keys>; HGET <progress key> offset:<topic> ...   (check)
 *   MULTI; <batch commands>; HSET <progress key> ...; EXEC          (apply)
 *
 * (one progress key per partition number, <prefix>progress:{g:p}, holding
 * each topic's next offset and max_ts: store/keys.h)
 *
 * The check compares what Redis holds for each partition with the offset
 * the batches started from. Equal: apply. Already equal to the batches'
 * final offset: an earlier attempt whose reply was lost did commit, so the
 * batches are acknowledged without applying them twice. Anything else means
 * another consumer took the partition over: clmd stops (clm_fatal) rather
 * than overwrite newer state. WATCH makes the check and the apply atomic.
 *
 * Before a batch is applied, every dead letter its worker produced before
 * cutting it must be delivered (clm_dlq_delivered), so an offset never moves
 * past a message that exists nowhere else. After EXEC the workers are
 * acknowledged and the offsets are also committed to Kafka (async), so
 * ordinary consumer-lag tooling works; Redis stays the source of truth.
 * Alerts the batches carried (already in the stream and the outbox) are
 * then handed to the alert publisher.
 *
 * While Redis is unreachable, or refuses writes for now (OOM under
 * maxmemory with noeviction, MISCONF after a failed save: Redis refuses
 * them when queued, so the transaction ran nothing), the writer holds the
 * group and retries it with backoff, logging once per change of state;
 * workers then block on their full batch rings and consumption stops,
 * bounding memory. The group commits unchanged once Redis takes it.
 */
#ifndef CLM_DAEMON_WRITER_H
#define CLM_DAEMON_WRITER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/alert_pub.h"
#include "daemon/dlq.h"
#include "daemon/redis.h"
#include "daemon/worker.h"

typedef struct clm_writer clm_writer;

typedef struct clm_writer_conf {
    const char *prefix;
    const char *group;
    char *const *topics;
    size_t ntopics;
    clm_redis_opts redis;
    clm_dlq *dlq;
    rd_kafka_t *consumer;  /* for committing offsets to Kafka; NULL: don't */
    clm_worker **workers;
    size_t nworkers;
    clm_alert_pub *alerts;  /* publishes the alerts of committed batches; NULL: none */
    void (*flushed)(void *ctx); /* called after each committed flush; may be NULL */
    void *flushed_ctx;
} clm_writer_conf;

/* Counters (read from any thread). */
typedef struct clm_writer_stats {
    uint64_t flushes;        /* transactions committed */
    uint64_t batches;        /* worker batches committed */
    uint64_t customers;      /* customer hashes written */
    uint64_t redis_errors;   /* failed attempts */
    uint64_t last_latency_ms; /* cut -> EXEC of the oldest batch in the last flush */
    int64_t last_flush_wall_ms; /* wall-clock ms of the last committed flush, 0: none yet */
    /* flush latency (cut of the oldest batch -> EXEC), cumulative counts of
     * flushes at or below each bound of CLM_FLUSH_BUCKETS_MS, then all */
    uint64_t latency_le[8];
    uint64_t latency_sum_ms;
    int64_t waiting_ms;       /* age of the oldest batch not yet committed, 0 if none */
    uint64_t dlq_delivered;   /* dead letters delivered */
} clm_writer_stats;

/* Upper bounds (ms) of the flush-latency histogram buckets; the 8th is +Inf. */
#define CLM_FLUSH_BUCKETS_MS { 10, 50, 100, 250, 500, 1000, 5000 }

clm_writer *clm_writer_new(const clm_writer_conf *conf, char *errbuf, size_t errsize);

/* Starts the thread. Returns 0 or a negative errno. */
int clm_writer_start(clm_writer *w);

/* Asks the thread to end once every worker has finished and every batch is
 * committed, and joins it. */
void clm_writer_stop(clm_writer *w);

/* Accepts NULL; stops first if running. */
void clm_writer_free(clm_writer *w);

void clm_writer_get_stats(clm_writer *w, clm_writer_stats *out);

/* True while the writer holds flushes because Redis is unreachable or
 * refuses writes; then why receives the reason ("Redis refuses writes: OOM
 * command not allowed ..."). Any thread. */
bool clm_writer_held(clm_writer *w, char *why, size_t size);

#endif
