/* daemon/alert_pub.h - the alert publisher: delivers durable alerts to Kafka.
 *
 * An alert is first made durable by the flush transaction that carries the
 * state change raising it: appended to the stream <prefix>alerts and stored
 * in the outbox hash <prefix>alerts:outbox (alert_id -> json). After EXEC
 * the writer hands it here (clm_alert_pub_send); it is produced to the alert
 * topic, keyed by customer id, with librdkafka's idempotent producer
 * (retried without limit), and removed from the outbox once delivered.
 * When the publisher starts it produces everything left in the outbox, so
 * an alert whose process died between EXEC and delivery is published after
 * the restart, with the same alert_id: at least once, never lost.
 *
 * Delivery never holds the writer up: when the alert topic takes nothing
 * (no leader, brokers down) the producer's queue fills, new alerts stay in
 * the outbox only, and once the queue has drained the publisher produces
 * the whole outbox again. A stall (nothing delivered for 5 s while alerts
 * wait) is logged once when it starts and once when it ends; the outbox's
 * length is kept as the backlog (clm_alert_pub_get_stats).
 *
 * Every alert is published, whatever the paging rate limit decided
 * (daemon/paging.h): the topic is the record, paging is for people.
 *
 * Threads: clm_alert_pub_send from any thread; the rest from the owner.
 */
#ifndef CLM_DAEMON_ALERT_PUB_H
#define CLM_DAEMON_ALERT_PUB_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/redis.h"

typedef struct clm_alert_pub clm_alert_pub;

typedef struct clm_alert_pub_conf {
    const char *topic;        /* alerts.topic */
    const char *prefix;       /* redis.prefix */
    clm_redis_opts redis;
} clm_alert_pub_conf;

typedef struct clm_alert_pub_stats {
    uint64_t sent;       /* handed to the producer (including outbox replays) */
    uint64_t delivered;  /* acknowledged by Kafka */
    uint64_t replayed;   /* found in the outbox at start */
    uint64_t errors;     /* deliveries Kafka reported failed (each produced again) */
    int64_t oldest_ms;   /* age of the oldest alert waiting: handed to the producer and
                            not delivered, or left in the outbox while deferring */
    int64_t backlog;     /* alerts in the outbox (durable, not yet delivered), read
                            about every second; -1 until first read */
    bool stalled;        /* nothing delivered for 5 s while alerts wait */
} clm_alert_pub_stats;

/* Takes ownership of conf (clm_kafka_conf_new(cfg, CLM_KAFKA_ALERTS)) in
 * every case.
 * Returns NULL with errbuf set. */
clm_alert_pub *clm_alert_pub_new(rd_kafka_conf_t *conf, const clm_alert_pub_conf *c,
                                 char *errbuf, size_t errsize);

/* Starts the thread, which first replays the outbox. 0 or -errno. */
int clm_alert_pub_start(clm_alert_pub *p);

/* Hands one durable alert to the producer (copies everything); never
 * waits. When the producer does not take it (its queue is full because the
 * alert topic takes nothing, or it refuses the message) the alert stays in
 * the outbox, and so do the following ones, until the publisher thread has
 * produced the outbox again once the producer's queue has drained: alerts
 * back up in Redis, not in front of the writer. */
void clm_alert_pub_send(clm_alert_pub *p, const char *id, const char *key, const char *json);

/* Joins the thread, waits up to timeout_ms for in-flight alerts to be
 * delivered (those that are not stay in the outbox), then up to timeout_ms
 * + 5 s more (a reconnect backoff) to remove the delivered ones from the
 * outbox. */
void clm_alert_pub_stop(clm_alert_pub *p, int timeout_ms);

/* Accepts NULL; stops first (without waiting) if running. */
void clm_alert_pub_free(clm_alert_pub *p);

void clm_alert_pub_get_stats(const clm_alert_pub *p, clm_alert_pub_stats *out);

#endif
