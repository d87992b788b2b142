/* daemon/am_sink.h - the Alertmanager sink: delivers the paging alerts of
 * the Redis stream <prefix>alerts:page to a Prometheus Alertmanager.
 *
 * The flush transaction that raises a paging alert appends its document
 * (fields alert_id and json) to <prefix>alerts:page, in delivery order. The
 * sink thread reads the entries after <prefix>alerts:page:cursor (the id of
 * the last delivered entry; absent: "0"), at most `batch` at a time, maps
 * each to an Alertmanager alert (daemon/am_alert.h) and posts them as one
 * JSON array to <url>/api/v2/alerts:
 *   churn_risk  posted firing (endsAt now + 4 x resend_s) and kept in the
 *               hash <prefix>alerts:firing (incident -> the posted alert
 *               without endsAt);
 *   churned     the firing alert of its incident, when there is one, posted
 *               with endsAt its event_ts and dropped from the hash; then the
 *               churned alert itself once (endsAt now + 4 x resend_s), not
 *               kept;
 *   resolved    the firing alert of its incident posted with endsAt its
 *               event_ts, and dropped from the hash; nothing when none;
 *   digest      posted once (endsAt now + 4 x resend_s), not kept.
 * An endsAt before startsAt + 1 ms is raised to it. A document that cannot
 * be decoded is skipped (counted in `skipped`, its error kept in last_error).
 *
 * Only after Alertmanager answered 2xx does one MULTI/EXEC apply the
 * batch's changes to the firing hash, set the cursor to the batch's last id
 * and trim the stream (XTRIM MINID) to what follows it, under WATCH of the
 * lease and the cursor: an instance that lost its lease changes nothing.
 * A failed post (connect error, timeout, other status) or transaction
 * changes nothing in Redis; the same entries are posted again after a
 * backoff of 1 s doubling to 30 s, and every failure counts in `errors`.
 * Delivery is at least once: a post whose transaction failed is posted
 * again, which Alertmanager folds into the same alerts (same labels). Memory
 * holds one batch at a time, however long Alertmanager is away.
 *
 * Every resend_s, and when it takes the lease, the sink posts every alert
 * of <prefix>alerts:firing again (HSCAN pages) with endsAt now + 4 x
 * resend_s, as Alertmanager expects from its clients; an alert whose
 * resends stop (clmd gone for 4 periods) resolves on its own.
 *
 * One instance per redis.prefix delivers: the one holding the lease
 * <prefix>alerts:page:lease (SET NX PX 15000 with a random token, renewed
 * every 5 s); the others wait and take over within 15 s of its end.
 *
 * On Redis Cluster the cursor, the lease and the firing hash are named
 * <prefix>{alerts:page}:cursor, <prefix>{alerts:page}:lease and
 * <prefix>{alerts:page}:firing (one hash slot, so the transaction above
 * runs on one node), and the stream, in its own slot, is trimmed right
 * after the transaction (a trim that did not run is done by the next one).
 * One server keeps the names above.
 *
 * Only the owner thread calls new/start/stop/free; clm_am_sink_get_stats
 * may be called from any thread. Nothing here logs: the counters and
 * last_error say what happened.
 */
#ifndef CLM_DAEMON_AM_SINK_H
#define CLM_DAEMON_AM_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/redis.h"

typedef struct clm_am_sink clm_am_sink;

typedef struct clm_am_sink_conf {
    const char *url;    /* alerts.alertmanager.url: http(s)://host[:port][/path] */
    const char *link;   /* alerts.alertmanager.link; "" or NULL: none */
    const char *prefix; /* redis.prefix */
    clm_redis_opts redis;
    int resend_s;       /* alerts.alertmanager.resend_s, >= 1 */
    int timeout_ms;     /* alerts.alertmanager.timeout_ms: one post */
    int batch;          /* alerts.alertmanager.batch: entries per post, >= 1 */
} clm_am_sink_conf;

typedef struct clm_am_sink_stats {
    uint64_t delivered;    /* alerts in posts Alertmanager acknowledged (resends excluded) */
    uint64_t errors;       /* failed posts and failed Redis transactions */
    uint64_t resent;       /* firing alerts posted again by the resend */
    uint64_t skipped;      /* page entries that were not a valid document */
    int64_t depth;         /* XLEN of <prefix>alerts:page, read about every
                              second; -1 until first read */
    int64_t oldest_age_ms; /* wall time since the first undelivered entry was
                              added (from its stream id); 0 when none */
    int64_t firing;        /* HLEN of <prefix>alerts:firing; -1 until first read */
    bool leader;           /* this instance holds the lease */
    char last_error[256];  /* the latest failure, "" when none yet */
} clm_am_sink_stats;

/* Copies the configuration; connects nothing yet. Returns NULL with errbuf
 * set (an unusable URL, out of memory). */
clm_am_sink *clm_am_sink_new(const clm_am_sink_conf *c, char *errbuf, size_t errsize);

/* Starts the sink thread. 0 or -errno. */
int clm_am_sink_start(clm_am_sink *s);

/* Asks the thread to stop and joins it: a post under way ends within
 * timeout_ms (its entries are posted again by the next start); the lease
 * is released when this instance holds it. */
void clm_am_sink_stop(clm_am_sink *s, int timeout_ms);

/* Accepts NULL; stops first if running. */
void clm_am_sink_free(clm_am_sink *s);

/* A snapshot of the counters and gauges; any thread. */
void clm_am_sink_get_stats(const clm_am_sink *s, clm_am_sink_stats *out);

#endif
