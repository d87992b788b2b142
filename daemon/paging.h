/* daemon/paging.h - which alerts page: the rate limit, on event time.
 *
 * Every alert is kept (stream <prefix>alerts) and published to the alert
 * topic whatever the rate; paging (the sinks that reach people, such as
 * Alertmanager) is limited per partition number. Each alert has a paging
 * time (clm_alert.page_ms: the watermark when an event raised it, the due
 * time when time alone did). Alerts are gathered in windows of
 * alerts.summary_interval_s of paging time; once the partition's watermark
 * (as the last deadline scan saw it) has passed a window's end, no alert can
 * join it any more: every due step up to that watermark has run, and later
 * events raise alerts at later watermarks. The window is then decided as a
 * whole, in the order (paging time, customer id, event time, kind, alert id):
 * a generic cell rate algorithm on paging time (alerts.rate_per_s,
 * alerts.burst; its state carries over from window to window) lets each
 * churn_risk or churned alert page or holds it; resolved alerts always page
 * (they close what paged) and take no budget. The held ones are named by one
 * digest alert for the window. So which alerts page, and every digest, is a
 * function of the partition's events, whatever the flush timing: a replay
 * pages the same alerts and makes the same digests.
 *
 * The owner keeps one clm_paging per partition number it owns; what it holds
 * is also kept in Redis (<prefix>alerts:paging:{<group>:<partition>}) by the
 * same flushes, so another owner takes it up (clm_paging_restore).
 *
 * Not thread-safe: one owner.
 */
#ifndef CLM_DAEMON_PAGING_H
#define CLM_DAEMON_PAGING_H

#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "daemon/alert_json.h"

typedef struct clm_paging clm_paging;

typedef struct clm_paging_opts {
    double rate_per_s;      /* alerts.rate_per_s */
    int burst;              /* alerts.burst */
    int64_t window_ms;      /* alerts.summary_interval_s x 1000 */
    int digest_customers;   /* alerts.digest_customers */
    const clm_alert_names *names; /* severity of digests */
} clm_paging_opts;

/* What deciding windows produces, in order. Each callback returns 0 or a
 * negative errno, which stops clm_paging_close. */
typedef struct clm_paging_sink {
    /* an alert that pages: its id and document */
    int (*page)(void *ctx, const char *id, const char *json);
    /* a digest: a new alert (id, kind "digest", document) that also pages */
    int (*digest)(void *ctx, const char *id, const char *json);
    /* an alert decided: forget it (its stored entry) */
    int (*done)(void *ctx, const char *id);
    /* the rate limit's state after the windows decided */
    int (*state)(void *ctx, int64_t tat_us);
    void *ctx;
} clm_paging_sink;

/* The stored hash (store/keys.h, store/alerts.h): "tat" -> the limit's
 * state (decimal µs), "a:<alert_id>" -> "<page_ms>\t<document>". */

clm_paging *clm_paging_new(int32_t partition);
void clm_paging_free(clm_paging *p);
int32_t clm_paging_partition(const clm_paging *p);

/* Takes an alert raised by this partition's customers (copies id and
 * json). Returns 0 or -ENOMEM. */
int clm_paging_add(clm_paging *p, const clm_alert *a, const char *id, const char *json);

/* Drops the alerts of a customer erased on request (its stored entries
 * are deleted by the erasure, store/forget.h): they never page and no
 * digest names them. Returns how many were dropped. */
size_t clm_paging_forget(clm_paging *p, const char *customer_id, size_t len);

/* Restores one field of the stored hash (see above). Returns 0, -ENOMEM,
 * or -EPROTO with errbuf naming the field and what is wrong. */
int clm_paging_restore(clm_paging *p, const char *field, size_t flen, const char *value,
                       size_t vlen, char *errbuf, size_t errsize);

/* Decides every window whose end is at or before `watermark` (nothing when
 * CLM_NO_TS), reporting to the sink; emitted_ms is the wall time written
 * into digests. Returns the number of alerts decided, or a negative errno
 * from the sink or -ENOMEM (the windows are then left undecided). */
int clm_paging_close(clm_paging *p, const clm_paging_opts *o, int64_t watermark,
                     int64_t emitted_ms, const clm_paging_sink *sink);

/* Alerts waiting for their window to be decided. */
size_t clm_paging_pending(const clm_paging *p);

/* Counters since clm_paging_new: alerts that paged, alerts held (named or
 * counted by digests), digests made. */
typedef struct clm_paging_stats {
    uint64_t paged, held, digests;
} clm_paging_stats;
void clm_paging_get_stats(const clm_paging *p, clm_paging_stats *out);

#endif
