/* daemon/am_sink_impl.h - the Alertmanager sink's state, shared by its two
 * files: am_sink.c (the thread: the delivery loop, the posts, the resend)
 * and am_sink_store.c (its side in Redis: the cursor, the gauges, the
 * lease, the firing hash and the transaction that records a delivery).
 * Private to daemon/am_sink*.c. Everything here runs on the sink's thread
 * but the atomics and last_error (under err_lock).
 */
#ifndef CLM_DAEMON_AM_SINK_IMPL_H
#define CLM_DAEMON_AM_SINK_IMPL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/am_sink.h"
#include "daemon/lease.h"
#include "net/http_post.h"
#include "store/keys.h"

#define BACKOFF_MIN_MS 1000

struct clm_am_sink {
    clm_am_sink_conf c;
    char *url, *link, *prefix;
    char page[CLM_KEY_MAX], cursor[CLM_KEY_MAX], firing_key[CLM_KEY_MAX];
    clm_lease lease;         /* <prefix>alerts:page:lease */
    clm_redis *redis;
    clm_http_post *http;     /* <url>/api/v2/alerts */
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    _Atomic long long stop_deadline_ms;
    _Atomic uint64_t delivered, errors, resent, skipped;
    _Atomic int64_t depth, oldest_age_ms, firing;
    atomic_bool leader;
    pthread_mutex_t err_lock;
    char last_error[256];
    /* sink thread only */
    bool is_leader;
    long long lease_ms;      /* last time the lease was taken or renewed */
    long long gauges_ms;     /* last gauge refresh */
    long long resend_due_ms; /* next resend of the firing alerts */
    long long retry_ms;      /* no post before this (backoff) */
    long long backoff_ms;
};

/* Keeps a message in last_error (any thread reads it). */
__attribute__((format(printf, 2, 3)))
void am_sink_set_error(clm_am_sink *s, const char *fmt, ...);

/* A reply of the expected type, or NULL (last_error set) after dropping
 * the connection. argv[1] is the key. */
redisReply *am_sink_command(clm_am_sink *s, clm_rpipe *rc, int type, int argc,
                            const char **argv);

/* The delivered cursor: the id of the last delivered entry, "0" when none.
 * 0, or -EIO (last_error set, connection dropped). */
int am_sink_read_cursor(clm_am_sink *s, clm_rpipe *rc, char *out, size_t size);

/* The XRANGE start of what follows cursor: "-" from the start, else "(id". */
void am_sink_range_start(const char *cursor, char *out, size_t size);

/* The gauges: depth, firing and the age of the first undelivered entry. */
void am_sink_refresh_gauges(clm_am_sink *s, clm_rpipe *rc);

/* Takes or renews the lease; on a Redis failure the instance counts as
 * not leading. */
void am_sink_hold_lease(clm_am_sink *s, clm_rpipe *rc);
void am_sink_release_lease(clm_am_sink *s);

/* The firing alert of an incident as this batch leaves it: from the
 * batch's own changes (overlay: incident -> alert, or null once dropped),
 * else from the hash. *out gets a new reference or NULL. 0 or -EIO. */
int am_sink_firing_get(clm_am_sink *s, clm_rpipe *rc, json_t *overlay, const char *incident,
                       json_t **out);

/* After a 2xx: records the batch (its firing changes, the cursor moved
 * from cursor_was to last_id, the trim) under WATCH of the lease and the
 * cursor (am_sink_store.c). 0, or -EIO (nothing applied). */
int am_sink_commit(clm_am_sink *s, clm_rpipe *rp, json_t *overlay, const char *cursor_was,
                   const char *last_id);

#endif
