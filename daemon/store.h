/* daemon/store.h - clmd's Redis schema: key names, loading state, and the
 * commands a flush carries.
 *
 * Keys (prefix from redis.prefix, default "clm:"):
 *   <prefix>customer:<id>                 HASH  one customer's state
 *   <prefix>offsets:<group>:<topic>       HASH  partition -> next offset to consume
 *   <prefix>maxts:<group>:<topic>         HASH  partition -> greatest applied event time (ms)
 *   <prefix>stats                         HASH  consumed, applied, duplicates, rejected
 *   <prefix>rejected                      HASH  reason -> count
 *   <prefix>day:<YYYY-MM-DD>              HASH  KPI counters of a bucket (whole-day
 *   <prefix>bucket:<YYYY-MM-DDTHH:MM>           buckets / shorter buckets)
 *   <prefix>buckets                       ZSET  bucket key -> bucket number
 *   <prefix>transitions:<YYYY-MM-DD>      HASH  "from>to" -> stage transitions that day
 *   <prefix>stage_counts                  HASH  stage -> customers now in it
 *   <prefix>portfolio                     HASH  value_rate_micros: sum of clv_rate
 *   <prefix>deadlines:<group>:<partition> ZSET  customer id -> next due time (ms, rounded
 *                                               up to the hour): inactivity churn or a
 *                                               change of the churn risk
 *   <prefix>at_risk                       ZSET  customer id -> risk, for risk >= alerts.threshold
 *   <prefix>alerts                        STREAM alerts (alert_id, kind, customer_id, risk, json),
 *                                               capped at about alerts.stream_maxlen
 *   <prefix>alerts:outbox                 HASH  alert_id -> json: alerts durable in Redis and
 *                                               not yet delivered to Kafka
 * Every flush updates these in one MULTI/EXEC, so offsets and state move
 * together (see writer.h).
 *
 * Thread-safety: functions taking a redisContext use it exclusively; the
 * formatting functions are reentrant.
 */
#ifndef CLM_DAEMON_STORE_H
#define CLM_DAEMON_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/shard.h"

/* Most fields one customer hash may carry. */
#define CLM_STORE_MAX_FIELDS 64

/* A growable buffer of RESP-formatted commands. */
typedef struct clm_cmdbuf {
    char *buf;
    size_t len, cap;
    size_t ncmds;
} clm_cmdbuf;

void clm_cmdbuf_init(clm_cmdbuf *b);
void clm_cmdbuf_release(clm_cmdbuf *b);
void clm_cmdbuf_reset(clm_cmdbuf *b);

/* Appends one command (binary-safe arguments). Returns 0 or -ENOMEM. */
int clm_cmdbuf_append(clm_cmdbuf *b, int argc, const char **argv, const size_t *argvlen);

/* Where customers and deltas are written. */
typedef struct clm_store_ctx {
    const char *prefix;
    const char *group;
    const clm_apply_opts *apply; /* stage model, bucket size, churn rule */
} clm_store_ctx;

/* Appends HSET <prefix>customer:<id> with every persisted field of c (and,
 * with risk scoring, risk_reasons as JSON), keeps <prefix>at_risk current, and
 * keeps its partition's deadline index current: ZADD of the rounded deadline
 * (clm_customer_index_score) when it changed, ZREM when the customer can no
 * longer churn by inactivity; c->indexed records what was written. */
int clm_store_format_customer(clm_cmdbuf *b, const clm_store_ctx *x, clm_customer *c);

/* Appends the XADD of an alert to <prefix>alerts (MAXLEN ~ maxlen) and its
 * HSET into <prefix>alerts:outbox, from where it is published to Kafka once
 * the transaction is durable (daemon/alert_pub.h). */
int clm_store_format_alert(clm_cmdbuf *b, const char *prefix, int64_t maxlen, const char *id,
                           const clm_alert *a, const char *json);

/* Appends HINCRBY <prefix>stats alerts_emitted / alerts_suppressed (zero
 * counts omitted). */
int clm_store_format_alert_counts(clm_cmdbuf *b, const char *prefix, int64_t emitted,
                                  int64_t suppressed);

/* Appends the HINCRBYs of KPI deltas: bucket counters (and the bucket index),
 * transitions, stage counts, portfolio value rate. */
int clm_store_format_deltas(clm_cmdbuf *b, const clm_store_ctx *x, const clm_deltas *d);

/* "<prefix>deadlines:<group>:<partition>". Returns the length or -ENOSPC. */
int clm_store_deadlines_key(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t partition);

/* Appends the HINCRBY commands for counter deltas (zero deltas omitted). */
int clm_store_format_stats(clm_cmdbuf *b, const char *prefix, const clm_shard_stats *st);

/* Writes "<prefix>offsets:<group>:<topic>" / "<prefix>maxts:..." into buf.
 * Returns the length, or -ENOSPC. */
int clm_store_offsets_key(char *buf, size_t size, const char *prefix, const char *group,
                          const char *topic);
int clm_store_maxts_key(char *buf, size_t size, const char *prefix, const char *group,
                        const char *topic);

/* Reads a partition's stored offset and max_ts (CLM_NO_OFFSET / CLM_NO_TS
 * when absent). Returns 0, -EIO (connection unusable: drop it) or -EPROTO
 * (a stored value is malformed; errbuf says which). */
int clm_store_load_partition(redisContext *c, const char *prefix, const char *group,
                             const char *topic, int32_t partition, int64_t *offset,
                             int64_t *max_ts, char *errbuf, size_t errsize);

/* Loads customers in one pipelined round trip: out[i] receives a new
 * customer (owned by the caller) holding what Redis has for ids[i], or an
 * empty one when Redis has nothing. On failure nothing is returned (all
 * out[i] NULL). Returns 0, -EIO, -EPROTO or -ENOMEM. */
int clm_store_load_customers(redisContext *c, const char *prefix, const clm_apply_opts *apply,
                             size_t n, const char *const *ids, const size_t *lens, uint16_t part,
                             clm_customer **out, char *errbuf, size_t errsize);

#endif
