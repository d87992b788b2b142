/* daemon/alerting.h - what a worker does with the alerts its customers
 * raise, flush by flush.
 *
 * For each alert of a flush: its id and document (daemon/alert_json.h), kept
 * in the stream and the outbox (store/alerts.h), handed to the batch for the
 * alert topic (published once the flush commits), and put in its partition's
 * paging window (daemon/paging.h) both in memory and in Redis. After the
 * alerts, the windows the partition's watermark has passed are decided: what
 * pages goes to <prefix>alerts:page (when a paging sink is configured), a
 * digest is kept and published like any alert. All of it is in the flush's
 * MULTI/EXEC: it commits with the state changes and offsets, or not at all.
 *
 * One clm_alerting per worker, used by its thread only; the counters are
 * atomics readable from any thread.
 */
#ifndef CLM_DAEMON_ALERTING_H
#define CLM_DAEMON_ALERTING_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/deltas.h"
#include "daemon/alert_json.h"
#include "daemon/batch.h"

typedef struct clm_alerting clm_alerting;

typedef struct clm_alerting_conf {
    const char *prefix;        /* redis.prefix */
    const char *group;         /* kafka.group_id */
    clm_alert_names names;     /* names in documents (severity bands are taken from
                                  the alert options of each call) */
    int64_t stream_maxlen;     /* alerts.stream_maxlen */
    bool page_stream;          /* a paging sink reads <prefix>alerts:page */
} clm_alerting_conf;

/* Counters since start (any thread). */
typedef struct clm_alerting_stats {
    uint64_t raised;   /* alerts raised by customers (every one kept) */
    uint64_t paged;    /* decided to page */
    uint64_t held;     /* over the rate limit: named or counted by a digest */
    uint64_t digests;  /* digest alerts made */
    uint64_t pending;  /* waiting for their window to be decided (a gauge) */
} clm_alerting_stats;

/* The strings of conf must outlive it. NULL on ENOMEM. */
clm_alerting *clm_alerting_new(const clm_alerting_conf *conf);
void clm_alerting_free(clm_alerting *a);

/* True when the partition's paging window is in memory (taken). */
bool clm_alerting_has(const clm_alerting *a, int32_t part);

/* Takes up a partition from the reply of HGETALL <prefix>alerts:paging:{g:p}
 * (an array, possibly empty). Returns 0, -ENOMEM, or -EPROTO with errbuf
 * naming the key, the field and what is wrong. */
int clm_alerting_take(clm_alerting *a, int32_t part, const redisReply *hgetall, char *errbuf,
                      size_t errsize);

/* Forgets a partition the worker no longer owns (what it held stays in
 * Redis for the next owner). */
void clm_alerting_drop(clm_alerting *a, int32_t part);

/* The alerts of one flush's deltas of partition number `part`, formatted
 * into its section of b and added to b. A partition not taken is taken
 * empty. Returns 0, -ENOMEM or -ENAMETOOLONG. */
int clm_alerting_raise(clm_alerting *a, clm_batch *b, int32_t part, const clm_deltas *d,
                       const clm_alert_opts *ao);

/* Drops the alerts of a customer erased on request from the partition's
 * paging window in memory (the erasure deletes the stored ones). */
void clm_alerting_forget(clm_alerting *a, int32_t part, const char *customer_id, size_t len);

/* Decides the partition's windows that `watermark` has passed (see
 * daemon/paging.h for which watermark), formatting into b. Returns 0 or a
 * negative errno. */
int clm_alerting_close(clm_alerting *a, clm_batch *b, int32_t part, int64_t watermark,
                       const clm_alert_opts *ao);

void clm_alerting_get_stats(const clm_alerting *a, clm_alerting_stats *out);

#endif
