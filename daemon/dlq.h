/* daemon/dlq.h - the dead-letter publisher: rejected messages, untouched,
 * with their reason.
 *
 * A rejected message is produced to the dead-letter topic with its original
 * key, value and headers, plus headers:
 *   clm.reason            the reason name (core/reject.h)
 *   clm.detail            one line for humans
 *   clm.source.topic      the topic it was read from
 *   clm.source.partition  decimal
 *   clm.source.offset     decimal
 * The message's own headers named clm.* (any case) are kept renamed to
 * original.clm.*, so a producer cannot forge the headers above: each appears
 * exactly once.
 *
 * A dead letter larger than the producer's message.max.bytes (or refused by
 * the broker as too large) is produced truncated rather than failing: the
 * first bytes of its value, the key cut to 1024 bytes, the message's own
 * headers left out when they alone take half the room, and headers
 *   clm.truncated          the original value's size in bytes
 *   clm.truncated.key      the original key's size (when the key was cut)
 *   clm.truncated.headers  how many of its own headers were left out
 * so no message can stop a partition.
 * Delivery is tracked per worker with a sequence number, so a flush that
 * advances offsets past a rejected message can first wait until that
 * message is safely in the DLQ (clm_dlq_delivered). Failed deliveries are
 * produced again: a rejected message is never lost.
 *
 * Threads: clm_dlq_send from worker `w` only (one thread per w);
 * clm_dlq_poll / clm_dlq_delivered from the writer thread only.
 */
#ifndef CLM_DAEMON_DLQ_H
#define CLM_DAEMON_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/reject.h"

typedef struct clm_dlq clm_dlq;

/* Creates the DLQ producer from `conf` (clm_kafka_conf_new(cfg,
 * CLM_KAFKA_DLQ); taken over in every case: the caller must not touch it
 * afterwards) for `nworkers` workers. Returns NULL with
 * errbuf set on failure. */
clm_dlq *clm_dlq_new(rd_kafka_conf_t *conf, int nworkers, char *errbuf, size_t errsize);

/* Flushes outstanding messages for up to timeout_ms, then frees; accepts NULL. */
void clm_dlq_free(clm_dlq *d, int timeout_ms);

/* Produces a rejected message (worker w's thread), truncated when too large
 * (see above). Blocks, retrying, while the producer queue is full. Returns 0
 * and the message's sequence number in *seq, or a negative errno (the topic
 * name is invalid, ENOMEM). */
int clm_dlq_send(clm_dlq *d, int w, const char *dlq_topic, const rd_kafka_message_t *src,
                 const char *src_topic, const clm_reject *rej, uint64_t *seq);

/* Serves delivery reports for up to timeout_ms (writer thread). */
void clm_dlq_poll(clm_dlq *d, int timeout_ms);

/* True when every message worker w sent with sequence <= seq has been
 * delivered (writer thread). */
bool clm_dlq_delivered(const clm_dlq *d, int w, uint64_t seq);

/* Messages delivered so far, all workers (writer thread). */
uint64_t clm_dlq_delivered_total(const clm_dlq *d);

/* The producer handle (for statistics). */
rd_kafka_t *clm_dlq_handle(clm_dlq *d);

#endif
