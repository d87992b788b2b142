/* daemon/kafka_conf.h - the librdkafka configurations of clmd's three Kafka
 * clients, built in one place from the config, so that a start and
 * `clmd --check-config` judge kafka.properties alike.
 *
 *   consumer:  auto.offset.reset=earliest, partition.assignment.strategy=range,
 *              queued.min.messages=1000000, fetch.wait.max.ms=10 (defaults),
 *              bootstrap.servers, kafka.properties, then group.id,
 *              enable.auto.commit=false, enable.auto.offset.store=false;
 *   dead-letter and alert producers: bootstrap.servers, kafka.properties but
 *              the consumer-only ones, then enable.idempotence=true and
 *              message.timeout.ms=0 (dead letters also
 *              queue.buffering.max.messages=100000).
 * Every client's log lines go through clm_log_rdkafka.
 */
#ifndef CLM_DAEMON_KAFKA_CONF_H
#define CLM_DAEMON_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config/config.h"

typedef enum clm_kafka_client {
    CLM_KAFKA_CONSUMER,
    CLM_KAFKA_DLQ,
    CLM_KAFKA_ALERTS,
    CLM_KAFKA_IDENTITY, /* identity.topic's producer (daemon/worker_identity.c) */
} clm_kafka_client;

/* Builds one client's configuration; the caller owns it. Returns NULL with
 * errbuf naming the file, the property, its value (left out for a secret)
 * and what librdkafka expected, e.g.
 *   clmd.json: kafka.properties.acks: "x" is not accepted by librdkafka for
 *   the alert producer (Invalid value "x" for configuration property "acks") */
rd_kafka_conf_t *clm_kafka_conf_new(const clm_config *cfg, clm_kafka_client client,
                                    char *errbuf, size_t errsize);

/* Builds the three configurations, then creates each client from a copy
 * without bootstrap servers (nothing connects, nothing is sent) and
 * destroys it, so librdkafka's checks of a configuration as a whole run
 * too. 0, or -EINVAL with errbuf set. Any thread; takes some milliseconds. */
int clm_kafka_conf_check(const clm_config *cfg, char *errbuf, size_t errsize);

#endif
