/* store/flush.h - the commands one flush batch carries.
 *
 * A worker formats everything its cut hands over into one command buffer per
 * partition number (a section of the batch), which the writer wraps with
 * the partitions' progress in one MULTI/EXEC (daemon/writer.h), or, on Redis
 * Cluster, one per partition number (daemon/writer_cluster.h). Per customer: the changed fields of its view (one
 * HSET, sometimes one HDEL). Per partition number: one HSET of every
 * checkpoint record into <prefix>ckpt:{g:p}, one ZADD (and ZREM) of changed
 * deadline-index entries, one HDEL of customers taken over from the upgrade
 * pool, ZADD/ZREM of <prefix>at_risk, HINCRBYs of the counts
 * (stats, rejected, transitions, stage counts: at most a few per event, so
 * they cannot reach 2^63), one saturating add (EVAL) per bucket hash, per
 * breakdown slot (<prefix>breakdown:trait:<name>:<D>, core/breakdown.h) and
 * for the portfolio (money and durations, which can), alerts (XADD + outbox
 * HSET). No command of the batch fails on overflow.
 *
 * Usage: clm_flush_fmt_begin, then any number of _customer, _deltas,
 * _stats, _alert calls, then clm_flush_fmt_end, which appends the commands
 * gathered per partition. Not thread-safe: one per worker.
 */
#ifndef CLM_STORE_FLUSH_H
#define CLM_STORE_FLUSH_H

#include <stdint.h>

#include "core/alert.h"
#include "core/customer.h"
#include "core/shard.h"
#include "store/cmdbuf.h"

typedef struct clm_flush_fmt clm_flush_fmt;

/* Where the commands of a partition number go (its section of the batch);
 * NULL on ENOMEM. */
typedef clm_cmdbuf *(*clm_flush_buf_fn)(void *ctx, int32_t part);

/* prefix and group must outlive the formatter. NULL on ENOMEM. */
clm_flush_fmt *clm_flush_fmt_new(const char *prefix, const char *group);
void clm_flush_fmt_free(clm_flush_fmt *f);

/* Starts formatting, each partition number's commands into buf(ctx, part),
 * with these rules (which must stay valid until clm_flush_fmt_end). */
void clm_flush_fmt_begin(clm_flush_fmt *f, clm_flush_buf_fn buf, void *ctx, const clm_apply_opts *o);

/* A dirty customer: its view's changed fields now, its checkpoint record,
 * deadline-index entry and at-risk membership for the end. Updates
 * c->indexed, the AT_RISK, NEW and POOLED flags and clears c->changed, as
 * they will be once the batch commits. Returns 0, -ENOMEM, -ENAMETOOLONG. */
int clm_flush_fmt_customer(clm_flush_fmt *f, clm_customer *c);

/* KPI deltas: bucket counters (and the bucket index), breakdown counters,
 * transitions, stage counts, portfolio value rate. */
int clm_flush_fmt_deltas(clm_flush_fmt *f, int32_t part, const clm_deltas *d);

/* Message counters (zero deltas omitted). */
int clm_flush_fmt_stats(clm_flush_fmt *f, int32_t part, const clm_shard_stats *st);

/* The saturating add's script, the only script a flush runs: EVAL <it> 1
 * <key> <field delta ...> (store/journal.h carries it). */
const char *clm_flush_hadd_sat_script(size_t *len);

/* Appends what was gathered per partition (checkpoints, deadline index,
 * upgrade pool, <prefix>at_risk). */
int clm_flush_fmt_end(clm_flush_fmt *f);

#endif
