/* daemon/consumer.h - where events enter: the Kafka consumer-group member.
 *
 * The poll thread (the program's main thread) reads messages in batches
 * (rd_kafka_consume_batch_queue) and hands each one, undecoded, to the worker
 * owning its partition. It also runs the rebalance protocol:
 *   assigned partitions: their next offset and watermark are read from Redis
 *     (Redis, not Kafka, is the source of truth) and the offset is checked
 *     against the partition's low and high watermarks in Kafka (outside
 *     them clmd stops, naming both: the topic was recreated, the cluster
 *     switched, or retention deleted unconsumed messages), an ASSIGN
 *     control goes to the chosen worker, and consumption starts at that
 *     offset;
 *   revoked partitions: a REVOKE control goes to the owning worker, and the
 *     partitions are given up only after the worker's final flush for them
 *     is durable in Redis, so the next owner resumes exactly.
 * A partition number is always owned by one worker, whatever the topic, so
 * co-partitioned topics keep each customer's events in one worker.
 *
 * When a worker's ring is full the messages wait in a per-worker stash, in
 * order; a large stash pauses the assigned partitions until it drains, which
 * is how a Redis outage stops consumption with bounded memory.
 *
 * Threads: everything here runs on the thread that calls clm_consumer_run.
 */
#ifndef CLM_DAEMON_CONSUMER_H
#define CLM_DAEMON_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/redis.h"
#include "daemon/worker.h"

typedef struct clm_consumer clm_consumer;

/* Creates the consumer from conf (clm_kafka_conf_new(cfg,
 * CLM_KAFKA_CONSUMER); taken over in every case) and subscribes to
 * `topics` (cfg's events topics, then identity.topic when set: a message's
 * topic index is its place here). The config and topics must outlive the
 * consumer. Returns NULL with errbuf set. */
clm_consumer *clm_consumer_new(const clm_config *cfg, char *const *topics, size_t ntopics,
                               rd_kafka_conf_t *conf, clm_worker **workers,
                               size_t nworkers, const clm_redis_opts *redis, char *errbuf,
                               size_t errsize);

/* The librdkafka handle (for offset commits from the writer thread). */
rd_kafka_t *clm_consumer_handle(clm_consumer *c);

/* Consumes until *stop becomes true, then hands every stashed message to
 * its worker and leaves the group (revoking, hence flushing, everything).
 * Returns 0. */
int clm_consumer_run(clm_consumer *c, atomic_bool *stop);

/* Called from clm_consumer_run's loop about every 500 ms (the main loop's
 * heartbeat: watchdog, status). */
void clm_consumer_set_tick(clm_consumer *c, void (*fn)(void *ctx), void *ctx);

/* Partitions currently assigned (poll thread). */
int clm_consumer_assigned(clm_consumer *c);

/* Messages behind the end of the assigned partitions, from the watermarks
 * librdkafka last fetched (no network round trip); -1 when unknown. Any
 * thread (librdkafka's calls used are thread-safe). */
int64_t clm_consumer_lag(clm_consumer *c);

/* Calls fn for each assigned partition with its lag (-1: unknown yet).
 * Any thread. */
void clm_consumer_lag_each(clm_consumer *c,
                           void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                           void *ctx);

/* Messages read so far (any thread). */
unsigned long long clm_consumer_consumed(const clm_consumer *c);

/* Destroys the handle; accepts NULL. Call after the writer stopped. */
void clm_consumer_free(clm_consumer *c);

#endif
