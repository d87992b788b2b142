/* daemon/identity_topic.h - the identity merge's internal topic
 * (identity.topic; README.md, "Identity merge"): its start-up check and
 * its producer.
 *
 * The internal topic carries what one partition's owner sends another
 * (merge requests, merge records, forwarded events), keyed by customer id
 * and read by the owner of the same partition number as the events of that
 * id. That holds only when the internal topic is co-partitioned with the
 * events: it must exist and have exactly as many partitions as each of
 * kafka.topics. clm_identity_topic_check reads the cluster's metadata once
 * and says which of these fails. A partition count changed later (a topic
 * expanded while clmd runs) is not seen until the next start.
 *
 * Threads: any thread that may use rk (librdkafka's metadata call is
 * thread-safe). Blocks up to timeout_ms.
 */
#ifndef CLM_DAEMON_IDENTITY_TOPIC_H
#define CLM_DAEMON_IDENTITY_TOPIC_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config/config.h"

/* Checks cfg->identity_topic (non-empty) against cfg->kafka_topics through
 * rk's brokers. Returns 0 when it exists with the same partition count as
 * every events topic; -ENOENT when it (or an events topic) does not exist,
 * -EINVAL when the counts differ, -EIO when the metadata cannot be read in
 * timeout_ms; each with one line in errbuf naming the topics and counts. */
int clm_identity_topic_check(rd_kafka_t *rk, const clm_config *cfg, int timeout_ms, char *errbuf,
                             size_t errsize);

/* The producer of identity.topic's messages (daemon/worker_identity.c),
 * shared by the workers: cfg's producer properties, its delivery reports
 * going to clm_worker_identity_delivered. NULL with errbuf set. */
rd_kafka_t *clm_identity_producer_new(const clm_config *cfg, char *errbuf, size_t errsize);

#endif
