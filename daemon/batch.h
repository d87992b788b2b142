/* daemon/batch.h - a flush batch: what one worker hands the Redis writer.
 *
 * A batch is cut by a worker (clm_shard_flush_cut), formatted there (so the
 * formatting cost is spread over the workers), and passed to the writer over
 * the worker's SPSC ring. The writer applies it inside one MULTI/EXEC with
 * the partitions' new offsets and reports the generation back with
 * clm_worker_ack(). Ownership of the batch moves with the pointer.
 */
#ifndef CLM_DAEMON_BATCH_H
#define CLM_DAEMON_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/shard.h"
#include "daemon/alert_json.h"
#include "store/cmdbuf.h"

/* An alert the batch makes durable (XADD + outbox), to be published to
 * Kafka once the batch is committed. */
typedef struct clm_batch_alert {
    char id[CLM_ALERT_ID_LEN + 1];
    char *key;  /* customer id (the Kafka message key), NUL-terminated */
    char *json; /* the document */
} clm_batch_alert;

/* The commands of one partition number: everything its customers, events
 * and alerts change (store/flush.h). On Redis Cluster each partition
 * number's section is its own transaction (daemon/writer_cluster.h). */
typedef struct clm_batch_sect {
    int32_t part;
    clm_cmdbuf cmds;
} clm_batch_sect;

typedef struct clm_batch {
    int worker;           /* index of the worker that cut it */
    uint64_t gen;         /* the worker's flush generation */
    uint64_t dlq_seq;     /* dead letters of this worker to be delivered first */
    clm_batch_sect *sects; /* one per partition number written, in first-use order */
    size_t nsects, cap_sects;
    size_t customers;     /* customers carried */
    int64_t events;       /* messages covered (for metrics) */
    long long cut_ms;     /* monotonic time of the cut */
    clm_part_progress *parts;
    size_t nparts, cap_parts;
    clm_batch_alert *alerts;
    size_t nalerts, cap_alerts;
} clm_batch;

/* Returns NULL on ENOMEM. */
clm_batch *clm_batch_new(int worker, uint64_t gen);
/* Accepts NULL. */
void clm_batch_free(clm_batch *b);
/* The command buffer of a partition number's section, made on first use.
 * NULL on ENOMEM. */
clm_cmdbuf *clm_batch_cmds(clm_batch *b, int32_t part);

/* Bytes and commands of every section together. */
size_t clm_batch_bytes(const clm_batch *b);
size_t clm_batch_ncmds(const clm_batch *b);

/* Returns 0 or -ENOMEM. */
int clm_batch_add_part(clm_batch *b, const clm_part_progress *p);
/* Takes ownership of json (freed with the batch, also on failure).
 * Returns 0 or -ENOMEM. */
int clm_batch_add_alert(clm_batch *b, const char *id, const char *key, size_t key_len, char *json);

#endif
