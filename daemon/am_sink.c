/* daemon/am_sink.c - see am_sink.h. */
#include "daemon/am_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/am_alert.h"
#include "daemon/lease.h"
#include "net/http_post.h"
#include "store/keys.h"

#define LEASE_TTL_MS 15000
#define LEASE_RENEW_MS 5000
#define GAUGES_EVERY_MS 1000
#define IDLE_MS 100           /* pause when the stream holds nothing new */
#define FOLLOWER_MS 500       /* pause between lease attempts of a follower */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define RESEND_PAGE 500       /* HSCAN COUNT of the resend */

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

__attribute__((format(printf, 2, 3)))
static void set_error(clm_am_sink *s, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&s->err_lock);
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&s->err_lock);
}

/* Sleeps up to ms, in slices, returning early once a stop is asked. */
static void nap(clm_am_sink *s, long ms)
{
    while (ms > 0 && !atomic_load(&s->stopping)) {
        long step = ms < 50 ? ms : 50;
        struct timespec ts = { 0, step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Aborts a post once a stop has waited its timeout. */
static int stop_due(void *arg)
{
    clm_am_sink *s = arg;
    return atomic_load(&s->stopping) && clm_now_ms() >= atomic_load(&s->stop_deadline_ms);
}

clm_am_sink *clm_am_sink_new(const clm_am_sink_conf *c, char *errbuf, size_t errsize)
{
    if (!c->url || (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)) {
        snprintf(errbuf, errsize, "alerts.alertmanager.url: \"%s\" is not an http:// or https:// "
                 "URL", c->url ? c->url : "");
        return NULL;
    }
    clm_am_sink *s = calloc(1, sizeof(*s));
    if (!s)
        goto out_nomem;
    pthread_mutex_init(&s->err_lock, NULL);
    s->c = *c;
    size_t ulen = strlen(c->url);
    while (ulen > 0 && c->url[ulen - 1] == '/')
        ulen--;
    s->url = strdup(c->url);
    s->link = strdup(c->link ? c->link : "");
    s->prefix = strdup(c->prefix);
    char *post_url = malloc(ulen + sizeof("/api/v2/alerts"));
    s->redis = clm_redis_new(&c->redis);
    if (!s->url || !s->link || !s->prefix || !post_url || !s->redis) {
        free(post_url);
        goto out_free;
    }
    s->c.url = s->url;
    s->c.link = s->link;
    s->c.prefix = s->prefix;
    memcpy(post_url, c->url, ulen);
    memcpy(post_url + ulen, "/api/v2/alerts", sizeof("/api/v2/alerts"));
    char why[256];
    s->http = clm_http_post_new(post_url, (long)c->timeout_ms, stop_due, s, why, sizeof(why));
    free(post_url);
    if (!s->http) {
        snprintf(errbuf, errsize, "alerts.alertmanager.url: %s", why);
        clm_am_sink_free(s);
        return NULL;
    }
    char lease_key[CLM_KEY_MAX];
    bool cl = clm_redis_is_cluster(s->redis);
    if (clm_key_single(s->page, sizeof(s->page), s->prefix, CLM_KEY_PAGE) < 0 ||
        clm_key_sink(s->cursor, sizeof(s->cursor), s->prefix, CLM_KEY_PAGE_CURSOR, cl) < 0 ||
        clm_key_sink(lease_key, sizeof(lease_key), s->prefix, CLM_KEY_PAGE_LEASE, cl) < 0 ||
        clm_key_sink(s->firing_key, sizeof(s->firing_key), s->prefix, CLM_KEY_FIRING, cl) < 0) {
        snprintf(errbuf, errsize, "redis.prefix is too long for the Alertmanager sink's keys");
        clm_am_sink_free(s);
        return NULL;
    }
    if (clm_lease_init(&s->lease, lease_key, LEASE_TTL_MS, why, sizeof(why)) < 0) {
        snprintf(errbuf, errsize, "alertmanager: %s", why);
        clm_am_sink_free(s);
        return NULL;
    }
    atomic_store(&s->depth, -1);
    atomic_store(&s->firing, -1);
    s->backoff_ms = BACKOFF_MIN_MS;
    return s;

out_free:
    clm_am_sink_free(s);
out_nomem:
    snprintf(errbuf, errsize, "out of memory");
    return NULL;
}

/* One POST of the alerts in body. 0 on a 2xx answer; -ECOMM otherwise
 * (last_error says why). */
static int post(clm_am_sink *s, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT), why[512];
    if (!text) {
        set_error(s, "alertmanager: out of memory building a post");
        return -ENOMEM;
    }
    int r = clm_http_post_json(s->http, text, strlen(text), why, sizeof(why));
    free(text);
    if (r < 0)
        set_error(s, "%s", why);
    return r;
}

/* A reply of the expected type, or NULL (last_error set) after dropping
 * the connection. argv[1] is the key. */
static redisReply *command(clm_am_sink *s, clm_rpipe *rc, int type, int argc,
                           const char **argv)
{
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(rc, 1, argc, argv, NULL, why, sizeof(why));
    if (rep && rep->type == type)
        return rep;
    set_error(s, "Redis %s %s: %s", argv[0], argv[1],
              !rep ? why : rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    clm_redis_drop(s->redis);
    return NULL;
}

/* The delivered cursor: the id of the last delivered entry, "0" when none. */
static int read_cursor(clm_am_sink *s, clm_rpipe *rc, char *out, size_t size)
{
    char why[256] = "";
    const char *argv[] = { "GET", s->cursor };
    redisReply *rep = clm_rpipe_command(rc, 1, 2, argv, NULL, why, sizeof(why));
    if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        set_error(s, "Redis GET %s: %s", s->cursor,
                  rep && rep->type == REDIS_REPLY_ERROR ? rep->str : why);
        freeReplyObject(rep);
        clm_redis_drop(s->redis);
        return -EIO;
    }
    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "0");
    freeReplyObject(rep);
    return 0;
}

/* The XRANGE start of what follows cursor: "-" from the start, else "(id". */
static void range_start(const char *cursor, char *out, size_t size)
{
    if (strcmp(cursor, "0") == 0 || strcmp(cursor, "0-0") == 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "(%s", cursor);
}

/* The gauges: depth, firing and the age of the first undelivered entry. */
static void refresh_gauges(clm_am_sink *s, clm_rpipe *rc)
{
    s->gauges_ms = clm_now_ms();
    char cur[64], start[80];
    if (read_cursor(s, rc, cur, sizeof(cur)) < 0)
        return;
    const char *xlen[] = { "XLEN", s->page };
    redisReply *rep = command(s, rc, REDIS_REPLY_INTEGER, 2, xlen);
    if (!rep)
        return;
    atomic_store(&s->depth, (int64_t)rep->integer);
    freeReplyObject(rep);
    const char *hlen[] = { "HLEN", s->firing_key };
    if (!(rep = command(s, rc, REDIS_REPLY_INTEGER, 2, hlen)))
        return;
    atomic_store(&s->firing, (int64_t)rep->integer);
    freeReplyObject(rep);
    range_start(cur, start, sizeof(start));
    const char *first[] = { "XRANGE", s->page, start, "+", "COUNT", "1" };
    if (!(rep = command(s, rc, REDIS_REPLY_ARRAY, 6, first)))
        return;
    int64_t age = 0;
    if (rep->elements > 0 && rep->element[0]->type == REDIS_REPLY_ARRAY &&
        rep->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        int64_t added = strtoll(rep->element[0]->element[0]->str, NULL, 10);
        age = clm_wall_ms() - added;
        if (age < 0)
            age = 0;
    }
    atomic_store(&s->oldest_age_ms, age);
    freeReplyObject(rep);
}

/* Takes or renews the lease; on a Redis failure the instance counts as
 * not leading. */
static void hold_lease(clm_am_sink *s, clm_rpipe *rc)
{
    bool was = s->is_leader;
    char why[256];
    int r = clm_lease_hold(&s->lease, rc, why, sizeof(why));
    if (r < 0) {
        set_error(s, "%s", why);
        clm_redis_drop(s->redis);
    }
    s->is_leader = r == 1;
    if (s->is_leader) {
        s->lease_ms = clm_now_ms();
        if (!was) { /* taking over: the firing alerts at once, then the page */
            s->resend_due_ms = s->lease_ms;
            s->retry_ms = 0;
            s->backoff_ms = BACKOFF_MIN_MS;
        }
    }
    atomic_store(&s->leader, s->is_leader);
}

static void release_lease(clm_am_sink *s)
{
    char err[256];
    clm_rpipe *rc = s->is_leader ? clm_redis_pipe(s->redis, err, sizeof(err)) : NULL;
    clm_lease_release(&s->lease, rc);
    s->is_leader = false;
    atomic_store(&s->leader, false);
}

/* The firing alert of an incident as this batch leaves it: from the
 * batch's own changes (overlay: incident -> alert, or null once dropped),
 * else from the hash. *out gets a new reference or NULL. 0 or -EIO. */
static int firing_get(clm_am_sink *s, clm_rpipe *rc, json_t *overlay, const char *incident,
                      json_t **out)
{
    json_t *v = json_object_get(overlay, incident);
    if (v) {
        *out = json_is_null(v) ? NULL : json_incref(v);
        return 0;
    }
    char why[256] = "";
    const char *argv[] = { "HGET", s->firing_key, incident };
    redisReply *rep = clm_rpipe_command(rc, 1, 3, argv, NULL, why, sizeof(why));
    if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        set_error(s, "Redis HGET %s: %s", s->firing_key,
                  rep && rep->type == REDIS_REPLY_ERROR ? rep->str : why);
        freeReplyObject(rep);
        clm_redis_drop(s->redis);
        return -EIO;
    }
    *out = rep->type == REDIS_REPLY_STRING ? json_loadb(rep->str, rep->len, 0, NULL) : NULL;
    freeReplyObject(rep);
    return 0;
}

/* Appends a shallow copy of alert with endsAt set. */
static int append_ending(json_t *body, json_t *alert, int64_t ends_ms)
{
    json_t *copy = json_copy(alert);
    if (!copy || clm_am_alert_set_ends(copy, ends_ms) < 0 || json_array_append_new(body, copy) < 0)
        return -ENOMEM;
    return 0;
}

/* The id that follows "ms-seq": the XTRIM MINID bound that removes it. */
static void next_id(const char *id, char *out, size_t size)
{
    char *end;
    unsigned long long ms = strtoull(id, &end, 10), seq = 0;
    if (*end == '-')
        seq = strtoull(end + 1, NULL, 10);
    if (seq == UINT64_MAX)
        snprintf(out, size, "%llu-0", ms + 1);
    else
        snprintf(out, size, "%llu-%llu", ms, seq + 1);
}

/* One command on the transaction's context: the reply, or NULL (last_error
 * set) after dropping the connection, or telling a redirect (the slot map
 * is read again before the next try). */
static redisReply *tx_command(clm_am_sink *s, redisContext *rc, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(rc, argc, argv, NULL);
    if (rep && rep->type != REDIS_REPLY_ERROR)
        return rep;
    set_error(s, "Redis %s %s: %s", argv[0], argv[1], rep ? rep->str : rc->errstr);
    bool moved = rep && clm_rpipe_redirected(rep->str);
    freeReplyObject(rep);
    if (moved) {
        clm_redis_stale(s->redis);
        freeReplyObject(redisCommand(rc, "UNWATCH"));
    } else {
        clm_redis_drop_ctx(s->redis, rc);
    }
    return NULL;
}

/* After a 2xx: the batch's firing changes and the cursor in one
 * transaction, under WATCH of the lease and the cursor, on the node serving
 * them (sink_key), and the trim: in the transaction on one server, just
 * after it on Redis Cluster, where the stream lives in another slot (a trim
 * that did not run is done by the next: MINID removes everything before).
 * 0, or -EIO (nothing applied). */
static int commit(clm_am_sink *s, clm_rpipe *rp, json_t *overlay, const char *cursor_was,
                  const char *last_id)
{
    char why[256];
    redisContext *rc = clm_redis_get_key(s->redis, s->lease.key, strlen(s->lease.key), why,
                                         sizeof(why));
    if (!rc) {
        set_error(s, "Redis: %s", why);
        return -EIO;
    }
    bool cluster = clm_redis_is_cluster(s->redis);
    const char *watch[] = { "WATCH", s->lease.key, s->cursor };
    redisReply *rep = tx_command(s, rc, 3, watch);
    if (!rep)
        return -EIO;
    freeReplyObject(rep);
    const char *get[] = { "GET", s->lease.key };
    if (!(rep = tx_command(s, rc, 2, get)))
        return -EIO;
    bool mine = rep->type == REDIS_REPLY_STRING && clm_lease_mine(&s->lease, rep->str);
    freeReplyObject(rep);
    char cur[64] = "";
    const char *getc[] = { "GET", s->cursor };
    if (mine) {
        if (!(rep = tx_command(s, rc, 2, getc)))
            return -EIO;
        snprintf(cur, sizeof(cur), "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "0");
        freeReplyObject(rep);
    }
    if (!mine || strcmp(cur, cursor_was) != 0) {
        if (!mine)
            set_error(s, "the lease %s was lost before the delivery was recorded", s->lease.key);
        else
            set_error(s, "%s moved during the delivery (another instance)", s->cursor);
        freeReplyObject(redisCommand(rc, "UNWATCH"));
        s->is_leader = s->lease.held = false; /* SET NX takes it again once it is free */
        atomic_store(&s->leader, false);
        return -EIO;
    }
    char trim[64];
    next_id(last_id, trim, sizeof(trim));
    /* pipelined: one round trip */
    int n = 0;
    bool queued = redisAppendCommand(rc, "MULTI") == REDIS_OK;
    n++;
    const char *inc;
    json_t *v;
    json_object_foreach(overlay, inc, v) {
        if (json_is_null(v)) {
            queued = queued && redisAppendCommand(rc, "HDEL %s %s", s->firing_key, inc) == REDIS_OK;
        } else {
            char *text = json_dumps(v, JSON_COMPACT);
            queued = queued && text &&
                     redisAppendCommand(rc, "HSET %s %s %s", s->firing_key, inc, text) == REDIS_OK;
            free(text);
        }
        n++;
    }
    queued = queued && redisAppendCommand(rc, "SET %s %s", s->cursor, last_id) == REDIS_OK &&
             (cluster || redisAppendCommand(rc, "XTRIM %s MINID %s", s->page, trim) == REDIS_OK) &&
             redisAppendCommand(rc, "EXEC") == REDIS_OK;
    n += cluster ? 2 : 3;
    if (!queued) {
        set_error(s, "alertmanager: out of memory recording a delivery");
        clm_redis_drop_ctx(s->redis, rc); /* discards what was queued: no EXEC was sent */
        return -EIO;
    }
    int r = 0;
    for (int i = 0; i < n; i++) {
        redisReply *x = NULL;
        if (redisGetReply(rc, (void **)&x) != REDIS_OK || !x) {
            set_error(s, "Redis MULTI/EXEC: %s", rc->errstr);
            clm_redis_drop_ctx(s->redis, rc);
            return -EIO;
        }
        if (x->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(x->str))
            clm_redis_stale(s->redis); /* EXEC then aborts: tried again later */
        if (i == n - 1 && x->type != REDIS_REPLY_ARRAY) {
            set_error(s, "Redis EXEC: %s", x->type == REDIS_REPLY_ERROR ? x->str : "aborted");
            r = -EIO;
        }
        for (size_t k = 0; i == n - 1 && x->type == REDIS_REPLY_ARRAY && k < x->elements; k++)
            if (x->element[k]->type == REDIS_REPLY_ERROR) { /* a key of the wrong type */
                set_error(s, "Redis EXEC: %s", x->element[k]->str);
                r = -EIO;
            }
        freeReplyObject(x);
    }
    if (r == 0 && cluster) {
        const char *xtrim[] = { "XTRIM", s->page, "MINID", trim };
        redisReply *t = command(s, rp, REDIS_REPLY_INTEGER, 4, xtrim);
        freeReplyObject(t); /* recorded all the same: the next trim catches up */
    }
    return r;
}

/* One batch of the page stream: posted, then recorded. Returns the number
 * of entries handled (0: nothing new), -EIO on a Redis failure, -ECOMM
 * when the post failed. */
static int deliver(clm_am_sink *s, clm_rpipe *rc)
{
    char cur[64], start[80], count[16];
    if (read_cursor(s, rc, cur, sizeof(cur)) < 0)
        return -EIO;
    range_start(cur, start, sizeof(start));
    snprintf(count, sizeof(count), "%d", s->c.batch);
    const char *argv[] = { "XRANGE", s->page, start, "+", "COUNT", count };
    redisReply *rep = command(s, rc, REDIS_REPLY_ARRAY, 6, argv);
    if (!rep)
        return -EIO;
    if (rep->elements == 0) {
        freeReplyObject(rep);
        return 0;
    }
    json_t *body = json_array(), *overlay = json_object();
    int r = body && overlay ? 0 : -ENOMEM;
    int64_t ends = clm_wall_ms() + 4LL * s->c.resend_s * 1000;
    const char *last_id = NULL;
    for (size_t i = 0; r == 0 && i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        last_id = e->element[0]->str;
        redisReply *f = e->element[1];
        const redisReply *json = NULL;
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            if (f->element[k]->type == REDIS_REPLY_STRING && strcmp(f->element[k]->str, "json") == 0)
                json = f->element[k + 1];
        clm_am_doc d;
        char err[200];
        if (!json || json->type != REDIS_REPLY_STRING) {
            atomic_fetch_add(&s->skipped, 1);
            set_error(s, "%s entry %s has no json field; skipped", s->page, last_id);
            continue;
        }
        int pr = clm_am_doc_parse(json->str, json->len, s->c.link, &d, err, sizeof(err));
        if (pr == -ENOMEM) {
            r = -ENOMEM;
            break;
        }
        if (pr < 0) {
            atomic_fetch_add(&s->skipped, 1);
            set_error(s, "%s entry %s skipped: %s", s->page, last_id, err);
            continue;
        }
        json_t *prev = NULL;
        switch (d.kind) {
        case CLM_AM_CHURN_RISK:
            if (json_object_set(overlay, d.incident, d.alert) < 0 ||
                append_ending(body, d.alert, ends) < 0)
                r = -ENOMEM;
            break;
        case CLM_AM_CHURNED:
        case CLM_AM_RESOLVED:
            r = firing_get(s, rc, overlay, d.incident, &prev);
            if (r == 0 && prev && append_ending(body, prev, d.event_ms) < 0)
                r = -ENOMEM;
            if (r == 0 && prev && json_object_set_new(overlay, d.incident, json_null()) < 0)
                r = -ENOMEM;
            if (r == 0 && d.kind == CLM_AM_CHURNED && append_ending(body, d.alert, ends) < 0)
                r = -ENOMEM;
            json_decref(prev);
            break;
        case CLM_AM_DIGEST:
            if (append_ending(body, d.alert, ends) < 0)
                r = -ENOMEM;
            break;
        }
        clm_am_doc_release(&d);
    }
    if (r == 0 && !last_id) { /* no entry had an id: not a stream's reply */
        set_error(s, "Redis XRANGE %s: unexpected reply", s->page);
        clm_redis_drop(s->redis);
        r = -EIO;
    }
    size_t nposted = json_array_size(body);
    if (r == 0 && nposted > 0)
        r = post(s, body);
    if (r == 0 && last_id)
        r = commit(s, rc, overlay, cur, last_id);
    if (r == 0) {
        atomic_fetch_add(&s->delivered, nposted);
        r = (int)rep->elements;
    } else if (r == -ENOMEM) {
        set_error(s, "alertmanager: out of memory building a post");
    }
    json_decref(body);
    json_decref(overlay);
    freeReplyObject(rep);
    return r;
}

/* Posts every firing alert again with endsAt now + 4 x resend_s, a page
 * of the hash per post. 0, -EIO (Redis) or -ECOMM (a post failed). */
static int resend(clm_am_sink *s, clm_rpipe *rc)
{
    char cursor[32] = "0", count[16];
    snprintf(count, sizeof(count), "%d", RESEND_PAGE);
    do {
        const char *argv[] = { "HSCAN", s->firing_key, cursor, "COUNT", count };
        redisReply *rep = command(s, rc, REDIS_REPLY_ARRAY, 5, argv);
        if (!rep)
            return -EIO;
        if (rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            set_error(s, "Redis HSCAN %s: unexpected reply", s->firing_key);
            clm_redis_drop(s->redis);
            return -EIO;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *kv = rep->element[1];
        json_t *body = json_array();
        int64_t ends = clm_wall_ms() + 4LL * s->c.resend_s * 1000;
        int r = body ? 0 : -ENOMEM;
        for (size_t i = 1; r == 0 && i < kv->elements; i += 2) {
            json_t *alert = kv->element[i]->type == REDIS_REPLY_STRING
                                ? json_loadb(kv->element[i]->str, kv->element[i]->len, 0, NULL)
                                : NULL;
            if (alert && append_ending(body, alert, ends) < 0)
                r = -ENOMEM;
            json_decref(alert);
        }
        size_t n = json_array_size(body);
        if (r == 0 && n > 0)
            r = post(s, body);
        json_decref(body);
        freeReplyObject(rep);
        if (r == -ENOMEM)
            set_error(s, "alertmanager: out of memory building a resend");
        if (r < 0)
            return r;
        atomic_fetch_add(&s->resent, n);
    } while (strcmp(cursor, "0") != 0);
    s->resend_due_ms = clm_now_ms() + (long long)s->c.resend_s * 1000;
    return 0;
}

static void *sink_main(void *arg)
{
    clm_am_sink *s = arg;
    while (!atomic_load(&s->stopping)) {
        char err[256];
        clm_rpipe *rc = clm_redis_pipe(s->redis, err, sizeof(err));
        if (!rc) {
            set_error(s, "Redis: %s", err);
            s->is_leader = s->lease.held = false; /* the lease may run out meanwhile */
            atomic_store(&s->leader, false);
            nap(s, IDLE_MS);
            continue;
        }
        long long now = clm_now_ms();
        if (now - s->gauges_ms >= GAUGES_EVERY_MS)
            refresh_gauges(s, rc);
        if (!clm_redis_connected(s->redis))
            continue;
        if (!s->is_leader || now - s->lease_ms >= LEASE_RENEW_MS)
            hold_lease(s, rc);
        if (!s->is_leader) {
            nap(s, FOLLOWER_MS);
            continue;
        }
        if (now < s->retry_ms) {
            nap(s, s->retry_ms - now < IDLE_MS ? (long)(s->retry_ms - now) : IDLE_MS);
            continue;
        }
        int r = now >= s->resend_due_ms ? resend(s, rc) : deliver(s, rc);
        if (r == -ECOMM || r == -ENOMEM || (r == -EIO && clm_redis_connected(s->redis))) {
            atomic_fetch_add(&s->errors, 1);
            s->retry_ms = clm_now_ms() + s->backoff_ms;
            s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        } else if (r == -EIO) {
            atomic_fetch_add(&s->errors, 1); /* Redis went away; it paces the reconnect */
        } else {
            s->backoff_ms = BACKOFF_MIN_MS;
            if (r > 0)
                s->gauges_ms = 0; /* show the delivery at once */
            else if (now < s->resend_due_ms)
                nap(s, IDLE_MS);
        }
    }
    release_lease(s);
    return NULL;
}

int clm_am_sink_start(clm_am_sink *s)
{
    int r = pthread_create(&s->thread, NULL, sink_main, s);
    if (r)
        return -r;
    s->started = true;
    return 0;
}

void clm_am_sink_stop(clm_am_sink *s, int timeout_ms)
{
    if (!s || !s->started)
        return;
    atomic_store(&s->stop_deadline_ms, clm_now_ms() + timeout_ms);
    atomic_store(&s->stopping, true);
    pthread_join(s->thread, NULL);
    s->started = false;
}

void clm_am_sink_free(clm_am_sink *s)
{
    if (!s)
        return;
    clm_am_sink_stop(s, 0);
    clm_http_post_free(s->http);
    clm_redis_free(s->redis);
    pthread_mutex_destroy(&s->err_lock);
    free(s->url);
    free(s->link);
    free(s->prefix);
    free(s);
}

void clm_am_sink_get_stats(const clm_am_sink *s, clm_am_sink_stats *out)
{
    clm_am_sink *m = (clm_am_sink *)s;
    out->delivered = atomic_load(&m->delivered);
    out->errors = atomic_load(&m->errors);
    out->resent = atomic_load(&m->resent);
    out->skipped = atomic_load(&m->skipped);
    out->depth = atomic_load(&m->depth);
    out->oldest_age_ms = atomic_load(&m->oldest_age_ms);
    out->firing = atomic_load(&m->firing);
    out->leader = atomic_load(&m->leader);
    pthread_mutex_lock(&m->err_lock);
    memcpy(out->last_error, m->last_error, sizeof(out->last_error));
    pthread_mutex_unlock(&m->err_lock);
}
