/* daemon/am_sink.c - see am_sink.h. The sink's thread: its life cycle,
 * the delivery loop (a batch of the page stream mapped and posted, then
 * recorded), the resend of the firing alerts, and the backoff. What it
 * reads and writes in Redis is in am_sink_store.c. */
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
#include "daemon/am_sink_impl.h"
#include "daemon/lease.h"
#include "net/http_post.h"
#include "store/keys.h"

#define LEASE_TTL_MS 15000
#define LEASE_RENEW_MS 5000
#define GAUGES_EVERY_MS 1000
#define IDLE_MS 100           /* pause when the stream holds nothing new */
#define FOLLOWER_MS 500       /* pause between lease attempts of a follower */
#define BACKOFF_MAX_MS 30000
#define RESEND_PAGE 500       /* HSCAN COUNT of the resend */

__attribute__((format(printf, 2, 3)))
void am_sink_set_error(clm_am_sink *s, const char *fmt, ...)
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
        am_sink_set_error(s, "alertmanager: out of memory building a post");
        return -ENOMEM;
    }
    int r = clm_http_post_json(s->http, text, strlen(text), why, sizeof(why));
    free(text);
    if (r < 0)
        am_sink_set_error(s, "%s", why);
    return r;
}

/* Appends a shallow copy of alert with endsAt set. */
static int append_ending(json_t *body, json_t *alert, int64_t ends_ms)
{
    json_t *copy = json_copy(alert);
    if (!copy || clm_am_alert_set_ends(copy, ends_ms) < 0 || json_array_append_new(body, copy) < 0)
        return -ENOMEM;
    return 0;
}

/* One batch of the page stream: posted, then recorded. Returns the number
 * of entries handled (0: nothing new), -EIO on a Redis failure, -ECOMM
 * when the post failed. */
static int deliver(clm_am_sink *s, clm_rpipe *rc)
{
    char cur[64], start[80], count[16];
    if (am_sink_read_cursor(s, rc, cur, sizeof(cur)) < 0)
        return -EIO;
    am_sink_range_start(cur, start, sizeof(start));
    snprintf(count, sizeof(count), "%d", s->c.batch);
    const char *argv[] = { "XRANGE", s->page, start, "+", "COUNT", count };
    redisReply *rep = am_sink_command(s, rc, REDIS_REPLY_ARRAY, 6, argv);
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
            am_sink_set_error(s, "%s entry %s has no json field; skipped", s->page, last_id);
            continue;
        }
        int pr = clm_am_doc_parse(json->str, json->len, s->c.link, &d, err, sizeof(err));
        if (pr == -ENOMEM) {
            r = -ENOMEM;
            break;
        }
        if (pr < 0) {
            atomic_fetch_add(&s->skipped, 1);
            am_sink_set_error(s, "%s entry %s skipped: %s", s->page, last_id, err);
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
            r = am_sink_firing_get(s, rc, overlay, d.incident, &prev);
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
        am_sink_set_error(s, "Redis XRANGE %s: unexpected reply", s->page);
        clm_redis_drop(s->redis);
        r = -EIO;
    }
    size_t nposted = json_array_size(body);
    if (r == 0 && nposted > 0)
        r = post(s, body);
    if (r == 0 && last_id)
        r = am_sink_commit(s, rc, overlay, cur, last_id);
    if (r == 0) {
        atomic_fetch_add(&s->delivered, nposted);
        r = (int)rep->elements;
    } else if (r == -ENOMEM) {
        am_sink_set_error(s, "alertmanager: out of memory building a post");
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
        redisReply *rep = am_sink_command(s, rc, REDIS_REPLY_ARRAY, 5, argv);
        if (!rep)
            return -EIO;
        if (rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            am_sink_set_error(s, "Redis HSCAN %s: unexpected reply", s->firing_key);
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
            am_sink_set_error(s, "alertmanager: out of memory building a resend");
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
            am_sink_set_error(s, "Redis: %s", err);
            s->is_leader = s->lease.held = false; /* the lease may run out meanwhile */
            atomic_store(&s->leader, false);
            nap(s, IDLE_MS);
            continue;
        }
        long long now = clm_now_ms();
        if (now - s->gauges_ms >= GAUGES_EVERY_MS)
            am_sink_refresh_gauges(s, rc);
        if (!clm_redis_connected(s->redis))
            continue;
        if (!s->is_leader || now - s->lease_ms >= LEASE_RENEW_MS)
            am_sink_hold_lease(s, rc);
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
    am_sink_release_lease(s);
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
