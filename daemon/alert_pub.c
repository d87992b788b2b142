/* daemon/alert_pub.c - see alert_pub.h. */
#include "daemon/alert_pub.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/alert_json.h"
#include "daemon/log.h"

/* librdkafka's RD_KAFKA_V_* argument macros (rd_kafka_producev) are built
 * on GNU statement expressions, which clang's -Wpedantic reports. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif

#define HDEL_MAX 512
#define STALL_MS 5000     /* no delivery for this long while alerts wait: stalled */
#define BACKLOG_EVERY_MS 1000

struct clm_alert_pub {
    clm_alert_pub_conf c;
    char *topic, *prefix, outbox[256];
    rd_kafka_t *rk;
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    /* Set when an alert could not be handed to the producer (its queue is
     * full, or it refused it): clm_alert_pub_send then leaves new alerts in
     * the outbox, and the publisher thread produces the outbox again once
     * the producer's queue has drained. Set at start: the first pass is the
     * replay of what an earlier run left. */
    atomic_bool deferring;
    atomic_bool stalled;                /* reported as stalled (log, /healthz) */
    _Atomic int64_t backlog;            /* HLEN of the outbox, -1 until read */
    _Atomic uint64_t sent, delivered, replayed, errors;
    _Atomic long long defer_since_ms;   /* when deferring last began */
    /* alerts handed to the producer and not yet delivered, oldest first
     * (sends happen in time order); any thread, under `lock` */
    pthread_mutex_t lock;
    struct tag *head, *tail;
    /* publisher thread only */
    char (*done)[CLM_ALERT_ID_LEN + 1]; /* delivered, still in the outbox */
    size_t ndone, cap_done;
    bool redis_down;
    bool replay_done;                   /* the start's pass over the outbox is over */
    uint64_t seen_delivered;            /* delivered, as of the last progress check */
    long long progress_ms;              /* last time a delivery was seen (or none waited) */
    long long backlog_ms;               /* last HLEN of the outbox */
};

/* The opaque of a produced alert: its id and when it was handed over. */
typedef struct tag {
    struct tag *prev, *next;
    long long sent_ms;
    char id[CLM_ALERT_ID_LEN + 1];
} tag;

static void tag_link(clm_alert_pub *p, tag *t)
{
    pthread_mutex_lock(&p->lock);
    t->prev = p->tail;
    t->next = NULL;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_mutex_unlock(&p->lock);
}

static void tag_unlink(clm_alert_pub *p, tag *t)
{
    pthread_mutex_lock(&p->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        p->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        p->tail = t->prev;
    pthread_mutex_unlock(&p->lock);
}

static void defer(clm_alert_pub *p)
{
    if (!atomic_exchange(&p->deferring, true))
        atomic_store(&p->defer_since_ms, clm_now_ms());
}

/* Age of the oldest alert waiting: handed to the producer and not
 * delivered, or left in the outbox since deferring began. */
static int64_t oldest_age(clm_alert_pub *p)
{
    long long now = clm_now_ms(), oldest = now;
    pthread_mutex_lock(&p->lock);
    if (p->head)
        oldest = p->head->sent_ms;
    pthread_mutex_unlock(&p->lock);
    if (atomic_load(&p->deferring) && atomic_load(&p->backlog) != 0) {
        long long since = atomic_load(&p->defer_since_ms);
        oldest = since < oldest ? since : oldest;
    }
    return now - oldest;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void note_done(clm_alert_pub *p, const char *id)
{
    if (p->ndone == p->cap_done) {
        size_t cap = p->cap_done ? p->cap_done * 2 : 64;
        void *v = realloc(p->done, cap * sizeof(*p->done));
        if (!v) {
            log_warn("alerts: out of memory noting a delivery; %s stays in the outbox", id);
            return;
        }
        p->done = v;
        p->cap_done = cap;
    }
    memcpy(p->done[p->ndone++], id, CLM_ALERT_ID_LEN + 1);
}

/* Delivery report (publisher thread, from rd_kafka_poll/flush). */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    clm_alert_pub *p = opaque;
    tag *t = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        tag_unlink(p, t); /* shutting down without waiting: it stays in the outbox */
        free(t);
        return;
    }
    if (m->err) {
        atomic_fetch_add(&p->errors, 1);
        log_warn("alert delivery to %s failed (%s); producing it again",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(rd_kafka_topic_name(m->rkt)), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (e) { /* it stays in the outbox and is produced again from there */
            defer(p);
            tag_unlink(p, t);
            free(t);
        }
        return;
    }
    atomic_fetch_add(&p->delivered, 1);
    tag_unlink(p, t);
    note_done(p, t->id);
    free(t);
}

clm_alert_pub *clm_alert_pub_new(rd_kafka_conf_t *conf, const clm_alert_pub_conf *c,
                                 char *errbuf, size_t errsize)
{
    clm_alert_pub *p = calloc(1, sizeof(*p));
    if (!p)
        goto out_nomem;
    pthread_mutex_init(&p->lock, NULL);
    p->c = *c;
    p->topic = strdup(c->topic);
    p->prefix = strdup(c->prefix);
    p->redis = clm_redis_new(&c->redis);
    if (!p->topic || !p->prefix || !p->redis)
        goto out_nomem;
    p->c.topic = p->topic;
    p->c.prefix = p->prefix;
    snprintf(p->outbox, sizeof(p->outbox), "%salerts:outbox", p->prefix);
    atomic_store(&p->deferring, true); /* until the start's replay of the outbox */
    atomic_store(&p->defer_since_ms, clm_now_ms());
    atomic_store(&p->backlog, -1);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errsize);
    if (!p->rk)
        goto out_free;
    return p; /* rd_kafka_new took ownership of conf */

out_nomem:
    snprintf(errbuf, errsize, "out of memory");
out_free:
    rd_kafka_conf_destroy(conf);
    clm_alert_pub_free(p);
    return NULL;
}

/* One attempt to hand an alert to the producer; never waits. Returns 0,
 * -ENOBUFS when the producer's queue is full, -EIO when it refuses the
 * message, -ENOMEM. */
static int produce_once(clm_alert_pub *p, const char *id, const char *key, size_t key_len,
                        const char *json, size_t len)
{
    tag *t = malloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->sent_ms = clm_now_ms();
    tag_link(p, t);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)json, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&p->sent, 1);
        return 0; /* the delivery report frees t */
    }
    tag_unlink(p, t);
    free(t);
    return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? -ENOBUFS : -EIO;
}

void clm_alert_pub_send(clm_alert_pub *p, const char *id, const char *key, const char *json)
{
    /* Never waits: an alert the producer does not take now stays in the
     * outbox, and so do the following ones until the publisher thread has
     * produced the outbox again (republish). */
    if (!atomic_load(&p->deferring) && produce_once(p, id, key, strlen(key), json, strlen(json)) < 0)
        defer(p);
}

/* The pipe of keyed commands, or NULL while Redis is down (logged once per
 * outage). */
static clm_rpipe *redis_ctx(clm_alert_pub *p)
{
    char err[256];
    clm_rpipe *rc = clm_redis_pipe(p->redis, err, sizeof(err));
    if (!rc && !p->redis_down)
        log_warn("alerts: Redis unreachable (%s); outbox clean-up waits", err);
    if (rc && p->redis_down)
        log_notice("alerts: Redis reachable again");
    p->redis_down = !rc;
    return rc;
}

/* HDEL the delivered alerts from the outbox; kept for later on failure. */
static void clean_outbox(clm_alert_pub *p)
{
    while (p->ndone) {
        clm_rpipe *rc = redis_ctx(p);
        if (!rc)
            return;
        char err[256];
        size_t n = p->ndone < HDEL_MAX ? p->ndone : HDEL_MAX;
        const char *argv[2 + HDEL_MAX];
        size_t lens[2 + HDEL_MAX];
        argv[0] = "HDEL";
        lens[0] = 4;
        argv[1] = p->outbox;
        lens[1] = strlen(p->outbox);
        for (size_t i = 0; i < n; i++) {
            argv[2 + i] = p->done[p->ndone - n + i];
            lens[2 + i] = CLM_ALERT_ID_LEN;
        }
        redisReply *rep = clm_rpipe_command(rc, 1, (int)(2 + n), argv, lens, err, sizeof(err));
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            if (rep)
                log_warn("alerts: HDEL %s: %s", p->outbox, rep->str);
            freeReplyObject(rep);
            clm_redis_drop(p->redis);
            return;
        }
        freeReplyObject(rep);
        p->ndone -= n;
    }
}

/* The backlog gauge: HLEN of the outbox, at most every BACKLOG_EVERY_MS
 * unless forced; kept as it was while Redis is down. */
static void refresh_backlog(clm_alert_pub *p, bool force)
{
    long long now = clm_now_ms();
    if (!force && now - p->backlog_ms < BACKLOG_EVERY_MS)
        return;
    p->backlog_ms = now;
    clm_rpipe *rc = redis_ctx(p);
    if (!rc)
        return;
    char err[256];
    const char *argv[] = { "HLEN", p->outbox };
    redisReply *rep = clm_rpipe_command(rc, 1, 2, argv, NULL, err, sizeof(err));
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        atomic_store(&p->backlog, (int64_t)rep->integer);
    else
        clm_redis_drop(p->redis);
    freeReplyObject(rep);
}

/* Delivery is stalled when alerts wait in the producer and none has been
 * delivered for STALL_MS (the alert topic has no leader, the brokers are
 * unreachable). Logged once when it stalls and once when it moves again. */
static void watch_progress(clm_alert_pub *p)
{
    long long now = clm_now_ms();
    uint64_t d = atomic_load(&p->delivered);
    int queued = rd_kafka_outq_len(p->rk);
    if (d != p->seen_delivered || queued == 0)
        p->progress_ms = now;
    p->seen_delivered = d;
    bool stalled = now - p->progress_ms >= STALL_MS;
    if (stalled == atomic_load(&p->stalled))
        return;
    atomic_store(&p->stalled, stalled);
    refresh_backlog(p, true);
    long long backlog = (long long)atomic_load(&p->backlog);
    if (stalled)
        log_warn("alerts: nothing delivered to %s for %d s (%d alerts queued in the producer, "
                 "%lld in %s); new alerts wait in the outbox and are published when the topic "
                 "takes them; consuming goes on",
                 p->topic, STALL_MS / 1000, queued, backlog, p->outbox);
    else
        log_notice("alerts: %s takes alerts again; publishing the %lld alerts in %s", p->topic,
                   backlog, p->outbox);
}

/* The publisher thread's periodic work; waits up to 100 ms for deliveries. */
static void service(clm_alert_pub *p)
{
    rd_kafka_poll(p->rk, 100);
    clean_outbox(p);
    refresh_backlog(p, false);
    watch_progress(p);
}

/* Produces every alert in the outbox: the replay of what an earlier run
 * left, and again each time alerts were deferred. Called with the
 * producer's queue empty and every delivered alert removed from the
 * outbox, so nothing it finds is in flight. A full queue is waited out
 * here (the writer never waits); a stop ends the pass, what is left stays
 * in the outbox. */
static void republish(clm_alert_pub *p)
{
    /* From here on clm_alert_pub_send produces again; an alert it deferred
     * is in the outbox for the whole scan, and HSCAN returns every such
     * field. One made durable during the scan may be produced twice (same
     * alert_id). */
    atomic_store(&p->deferring, false);
    uint64_t n = 0, refused = 0;
    char cursor[32] = "0";
    bool first = true;
    while (first || strcmp(cursor, "0") != 0) {
        clm_rpipe *rc;
        while (!(rc = redis_ctx(p))) {
            if (atomic_load(&p->stopping)) {
                defer(p);
                return;
            }
            rd_kafka_poll(p->rk, 200); /* deliveries go on meanwhile */
        }
        char err[256];
        const char *argv[] = { "HSCAN", p->outbox, cursor, "COUNT", "1000" };
        redisReply *rep = clm_rpipe_command(rc, 1, 5, argv, NULL, err, sizeof(err));
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            clm_redis_drop(p->redis);
            continue; /* the same cursor again */
        }
        first = false;
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *kv = rep->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            const redisReply *id = kv->element[i], *doc = kv->element[i + 1];
            json_t *j = json_loadb(doc->str, doc->len, 0, NULL);
            const char *key = j ? json_string_value(json_object_get(j, "customer_id")) : NULL;
            const char *kind = j ? json_string_value(json_object_get(j, "kind")) : NULL;
            if (!key && kind && strcmp(kind, "digest") == 0)
                key = "digest"; /* digests are keyed by their kind */
            int r = -EINVAL;
            if (id->len == CLM_ALERT_ID_LEN && key)
                while ((r = produce_once(p, id->str, key, strlen(key), doc->str, doc->len)) ==
                           -ENOBUFS &&
                       !atomic_load(&p->stopping))
                    service(p);
            if (r == 0)
                n++;
            else if (r == -EINVAL && !p->replay_done)
                log_warn("alerts: outbox entry %.*s is malformed; left in place", (int)id->len,
                         id->str);
            else if (r == -EIO || r == -ENOMEM)
                refused++;
            json_decref(j);
            if (r == -ENOBUFS) { /* stopping */
                freeReplyObject(rep);
                defer(p);
                return;
            }
        }
        freeReplyObject(rep);
    }
    if (refused)
        log_err("alerts: the producer refused %llu alerts of %s; they stay there until the next "
                "start", (unsigned long long)refused, p->outbox);
    if (!p->replay_done) {
        atomic_store(&p->replayed, n);
        if (n)
            log_notice("alerts: publishing %llu alerts left in the outbox by an earlier run",
                       (unsigned long long)n);
        p->replay_done = true;
    }
}

static void *pub_main(void *arg)
{
    clm_alert_pub *p = arg;
    republish(p); /* what an earlier run left in the outbox */
    while (!atomic_load(&p->stopping)) {
        service(p);
        if (atomic_load(&p->deferring) && rd_kafka_outq_len(p->rk) == 0 && p->ndone == 0)
            republish(p);
    }
    return NULL;
}

int clm_alert_pub_start(clm_alert_pub *p)
{
    p->progress_ms = clm_now_ms();
    int r = pthread_create(&p->thread, NULL, pub_main, p);
    if (r)
        return -r;
    p->started = true;
    return 0;
}

void clm_alert_pub_stop(clm_alert_pub *p, int timeout_ms)
{
    if (!p->started)
        return;
    atomic_store(&p->stopping, true);
    pthread_join(p->thread, NULL);
    p->started = false;
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("alerts: %d alerts not delivered within %d ms; they stay in the outbox",
                 rd_kafka_outq_len(p->rk), timeout_ms);
    /* the delivered ones leave the outbox; Redis may be between reconnect
     * attempts (backoff up to 5 s), so keep trying a while longer */
    long long deadline = clm_now_ms() + timeout_ms + 5000;
    for (clean_outbox(p); p->ndone && clm_now_ms() < deadline; clean_outbox(p))
        sleep_ms(50);
    if (p->ndone)
        log_warn("alerts: %zu delivered alerts could not be removed from the outbox; they are "
                 "published again (same alert_id) at the next start", p->ndone);
}

void clm_alert_pub_free(clm_alert_pub *p)
{
    if (!p)
        return;
    if (p->started) {
        atomic_store(&p->stopping, true);
        pthread_join(p->thread, NULL);
    }
    if (p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* frees the purged messages' tags */
        rd_kafka_destroy(p->rk);
    }
    clm_redis_free(p->redis);
    pthread_mutex_destroy(&p->lock);
    free(p->done);
    free(p->topic);
    free(p->prefix);
    free(p);
}

void clm_alert_pub_get_stats(const clm_alert_pub *p, clm_alert_pub_stats *out)
{
    clm_alert_pub *m = (clm_alert_pub *)p;
    out->sent = atomic_load(&m->sent);
    out->delivered = atomic_load(&m->delivered);
    out->replayed = atomic_load(&m->replayed);
    out->errors = atomic_load(&m->errors);
    out->oldest_ms = oldest_age(m);
    out->backlog = atomic_load(&m->backlog);
    out->stalled = atomic_load(&m->stalled);
}
