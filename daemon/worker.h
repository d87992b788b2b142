/* daemon/worker.h - an aggregation worker: decodes and applies the messages
 * of the partitions it owns, and cuts flush batches for the Redis writer.
 *
 * Data flow (each arrow an SPSC ring, so no locks):
 *   poll thread --messages, controls--> worker --batches--> writer
 *   writer --acknowledged generation (atomic)--> worker
 * A worker owns a clm_shard (its partitions and their customers) and its own
 * Redis connection for loading customers that are not cached; all misses of
 * a run of messages are loaded in one pipelined round trip.
 *
 * Threads: clm_worker_push_* from the poll thread only; clm_worker_pop_batch
 * and clm_worker_ack from the writer thread only; the rest from the thread
 * that owns the worker object (main).
 */
#ifndef CLM_DAEMON_WORKER_H
#define CLM_DAEMON_WORKER_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/shard.h"
#include "daemon/alert_json.h"
#include "daemon/batch.h"
#include "daemon/decode.h"
#include "daemon/dlq.h"
#include "daemon/model_job.h"
#include "daemon/alerting.h"
#include "daemon/redis.h"

typedef struct clm_worker clm_worker;

typedef struct clm_worker_conf {
    int index;
    const char *prefix;            /* redis.prefix */
    const char *group;             /* kafka.group_id (names the deadline index) */
    char *const *topics;           /* configured topics; a message's topic index */
    char *const *dlq_topics;       /* dead-letter topic per source topic */
    size_t ntopics;
    clm_decode_opts decode;
    int flush_interval_ms;
    size_t flush_max_dirty;
    int flush_idle_ms;             /* flush early after this long without messages; 0: never */
    clm_shard_opts shard;          /* max_customers: this worker's share */
    unsigned ring_size;            /* slots of the message ring (power of two) */
    clm_redis_opts redis;
    clm_dlq *dlq;
    clm_alert_names alert_names;   /* names in alert documents */
    int64_t alerts_maxlen;         /* alerts.stream_maxlen */
    bool page_stream;              /* a paging sink reads <prefix>alerts:page */
    clm_model_job *model;          /* fitted BG/NBD parameters for the p_alive signal; NULL: none */
    double p_alive_threshold;      /* model.p_alive_threshold */
    double model_unit_days;        /* model.unit_days */
    bool upgrade_pool;             /* customers converted from the v1 layout may wait in
                                      <prefix>upgrade:v1 (store/upgrade.h) */
    const char *erasure_hmac_key;  /* erasure.hmac_key; NULL: none (store/forget.h) */
    int identity_topic;            /* index of identity.topic in topics; -1: no identity merge */
    int64_t identity_alias_ttl_ms; /* identity.alias_ttl_days */
    rd_kafka_t *identity_producer; /* produces to it (shared; its delivery reports call
                                      clm_worker_identity_delivered); NULL with -1 */
} clm_worker_conf;

/* Control messages travel in the message ring, so they are ordered with the
 * messages: everything pushed before a REVOKE is applied before it. */
typedef enum clm_ctl_kind {
    CLM_CTL_ASSIGN, /* start owning (topic, partition) at offset, with watermark state wm */
    CLM_CTL_REVOKE, /* flush, wait for Redis, then forget (topic, partition) */
    CLM_CTL_STOP,   /* flush everything, wait for Redis, and end the thread */
} clm_ctl_kind;

typedef struct clm_ctl {
    clm_ctl_kind kind;
    int32_t topic, partition;
    int64_t offset;
    clm_wm wm;       /* ASSIGN: max_ts and the sources ahead, as stored */
    clm_anon_ids anon; /* ASSIGN: its stored customer-less event ids */
    bool fresh;      /* ASSIGN: Redis holds none of its customers (clm_shard_part_add) */
    atomic_int done; /* set to 1 by the worker once handled */
} clm_ctl;

/* Creates a worker (not started). Returns NULL with errbuf set. */
clm_worker *clm_worker_new(const clm_worker_conf *conf, char *errbuf, size_t errsize);

/* Starts the thread. Returns 0 or a negative errno. */
int clm_worker_start(clm_worker *w);

/* Joins the thread (after a STOP control was handled) and frees the worker;
 * messages still queued are destroyed. Accepts NULL. */
void clm_worker_free(clm_worker *w);

/* Poll thread: hands over a message (ownership moves) or a control. An
 * ASSIGN control is owned (and freed) by the worker from then on; for REVOKE
 * and STOP the caller keeps ownership and waits for ctl->done. False when the
 * ring is full: try again later, keeping order. */
bool clm_worker_push_msg(clm_worker *w, rd_kafka_message_t *m);
bool clm_worker_push_ctl(clm_worker *w, clm_ctl *ctl);

/* Writer thread: takes the next flush batch, if any. */
bool clm_worker_pop_batch(clm_worker *w, clm_batch **b);

/* Writer thread: Redis has durably stored every batch up to `gen`. */
void clm_worker_ack(clm_worker *w, uint64_t gen);

/* True once the thread has ended and its batch ring is empty. */
bool clm_worker_finished(clm_worker *w);

/* Any thread: the worker switches to these rules before its next run of
 * messages (a configuration reload). `o` must stay valid until the worker
 * is freed; the stage model must have the same stages as before. The risk
 * options are copied (the worker adds the fitted model to its copy). */
void clm_worker_reload(clm_worker *w, const clm_apply_opts *o);

/* The delivery report callback of identity_producer's messages (set by
 * whoever creates the producer; librdkafka's thread). */
void clm_worker_identity_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* Snapshot counters (any thread). */
size_t clm_worker_cached(const clm_worker *w);

/* Messages counted into flush batches so far (applied, duplicates, rejected
 * per reason; consumed is their sum). Any thread; out->rejected is indexed
 * by clm_reason. */
void clm_worker_totals(const clm_worker *w, clm_shard_stats *out);

/* Its alerts: raised, paged, held, digests, pending (any thread). */
void clm_worker_alert_totals(const clm_worker *w, clm_alerting_stats *out);

#endif
