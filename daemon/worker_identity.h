/* daemon/worker_identity.h - a worker's part of the identity merge: alias
 * tables, the identity outbox and the steps of the protocol
 * (daemon/worker_identity.c says what each step does). Private to
 * daemon/worker*.c; every call on the worker's thread, with
 * clm_worker_conf.identity_topic >= 0.
 */
#ifndef CLM_DAEMON_WORKER_IDENTITY_H
#define CLM_DAEMON_WORKER_IDENTITY_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"
#include "daemon/batch.h"

typedef struct clm_worker clm_worker;
typedef struct worker_ident worker_ident;

/* NULL on ENOMEM. Free accepts NULL. */
worker_ident *worker_ident_new(void);
void worker_ident_free(worker_ident *x);

/* A partition was assigned into `slot`: an identity.topic partition is
 * marked internal; the number's alias table and undelivered outbox are
 * read from Redis when not held yet. */
void worker_ident_assign(clm_worker *w, int slot, int32_t topic, int32_t number);
/* The worker owns no partition of `number` any more (after its final
 * flush was acknowledged): its table and messages are dropped (what is
 * undelivered stays in the outbox for the next owner). */
void worker_ident_release(clm_worker *w, int32_t number);

/* True when `id` is an alias in partition number `number`. */
bool worker_ident_aliased(clm_worker *w, int32_t number, const char *id, size_t len);

/* A valid event of a customer read from events topic `topic` into `slot`.
 * Returns true when it was forwarded (its id is an alias: the offset is
 * done, nothing else to do); false when it is to be applied as usual (an
 * identify event also sends its merge request). */
bool worker_ident_event(clm_worker *w, int slot, int topic, const rd_kafka_message_t *m,
                        const clm_event *ev);

/* A forget request of `id` read at `offset` of partition number `number`:
 * the aliases from and to it that the number holds go, with their stored
 * rows, and the anonymous ids merged into it get an alias release (their
 * owners drop those aliases, and pass the release on to what was merged
 * into them). */
void worker_ident_forget(clm_worker *w, int32_t number, int64_t offset, const char *id,
                         size_t len);

/* A message of identity.topic read into `slot`: handled, its offset done. */
void worker_ident_message(clm_worker *w, int slot, const rd_kafka_message_t *m);

/* Appends the pending alias and outbox writes to their sections of b (the
 * batch being cut). Returns 0, -ENOMEM, -ENAMETOOLONG. */
int worker_ident_cut(clm_worker *w, clm_batch *b);
/* True when writes wait for the next cut. */
bool worker_ident_pending(const clm_worker *w);

/* Produces the outbox messages whose flush Redis acknowledged and waits
 * (bounded) for Kafka; those delivered are deleted from the outbox by the
 * next cut. */
void worker_ident_deliver(clm_worker *w);

/* The delivery report of a message (librdkafka's thread): `opaque` is the
 * message produced by worker_ident_deliver. */
void worker_ident_delivered(void *opaque, rd_kafka_resp_err_t err);

#endif
