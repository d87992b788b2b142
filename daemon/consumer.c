/* daemon/consumer.c - see consumer.h. */
#include "daemon/consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"
#include "store/journal.h"
#include "store/keys.h"
#include "store/load.h"

/* A stash of items for one worker, in order (a growable ring). */
typedef struct stash {
    void **v;
    size_t head, len, cap;
} stash;

struct clm_consumer {
    const clm_config *cfg;
    char *const *topics; /* the events topics, then identity.topic when set */
    size_t ntopics;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    clm_worker **workers;
    size_t nworkers;
    clm_redis *redis;
    stash *stash;          /* one per worker; items tagged like the rings */
    size_t stashed;
    int *owner;            /* partition number -> worker index (-1: none) */
    size_t *owned;         /* per worker: partitions owned (all topics) */
    size_t nowner;
    bool paused;
    bool reset_latest;
    _Atomic unsigned long long consumed;
    rd_kafka_message_t **batch;
    void (*tick)(void *ctx);
    void *tick_ctx;
    long long last_tick;
};

#define CTL_TAG ((uintptr_t)1)

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- stash ------------------------------------------------------------ */

static void stash_put(stash *s, void *p)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        void **v = malloc(cap * sizeof(*v));
        if (!v)
            clm_fatal("consumer: out of memory");
        for (size_t i = 0; i < s->len; i++)
            v[i] = s->v[(s->head + i) % s->cap];
        free(s->v);
        s->v = v;
        s->head = 0;
        s->cap = cap;
    }
    s->v[(s->head + s->len) % s->cap] = p;
    s->len++;
}

static bool push_item(clm_worker *w, void *p)
{
    if ((uintptr_t)p & CTL_TAG)
        return clm_worker_push_ctl(w, (clm_ctl *)((uintptr_t)p & ~CTL_TAG));
    return clm_worker_push_msg(w, p);
}

/* Moves stashed items into the rings while they have room. */
static void drain_stashes(clm_consumer *c)
{
    for (size_t i = 0; i < c->nworkers; i++) {
        stash *s = &c->stash[i];
        while (s->len && push_item(c->workers[i], s->v[s->head])) {
            s->head = (s->head + 1) % s->cap;
            s->len--;
            c->stashed--;
        }
    }
}

/* Hands an item to worker i, keeping order behind anything stashed. */
static void hand(clm_consumer *c, size_t i, void *p)
{
    if (c->stash[i].len == 0 && push_item(c->workers[i], p))
        return;
    stash_put(&c->stash[i], p);
    c->stashed++;
}

static void hand_ctl(clm_consumer *c, size_t i, clm_ctl *ctl)
{
    hand(c, i, (void *)((uintptr_t)ctl | CTL_TAG));
}

/* ---- ownership -------------------------------------------------------- */

static int worker_for(clm_consumer *c, int32_t partition)
{
    if ((size_t)partition >= c->nowner) {
        size_t n = (size_t)partition + 1;
        int *o = realloc(c->owner, n * sizeof(*o));
        if (!o)
            clm_fatal("consumer: out of memory");
        for (size_t i = c->nowner; i < n; i++)
            o[i] = -1;
        c->owner = o;
        c->nowner = n;
    }
    if (c->owner[partition] < 0) {
        size_t best = 0;
        for (size_t i = 1; i < c->nworkers; i++)
            if (c->owned[i] < c->owned[best])
                best = i;
        c->owner[partition] = (int)best;
    }
    return c->owner[partition];
}

static int topic_index(const clm_consumer *c, const char *name)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (strcmp(name, c->topics[i]) == 0)
            return (int)i;
    return -1;
}

/* On Redis Cluster: carries the partition's last journal again when one
 * is left (its previous owner may have stopped before it had carried it
 * all: store/journal.h), and then waits until its writes are on replicas. */
static int carry_journal(clm_consumer *c, clm_rpipe *rp, int32_t partition, char *err,
                         size_t errsize)
{
    char key[CLM_KEY_MAX];
    if (clm_key_journal(key, sizeof(key), c->cfg->redis_prefix, c->cfg->kafka_group_id,
                        partition) < 0)
        clm_fatal("consumer: redis.prefix and kafka.group_id are too long");
    int r = clm_journal_carry_key(rp, key, err, errsize);
    if (r == -EPROTO)
        clm_fatal("consumer: %s", err);
    if (r == 1)
        r = clm_redis_wait_replicas(c->redis, NULL, 0, 2000, err, errsize);
    return r == -EAGAIN ? -EIO : r < 0 ? r : 0;
}

static void load_partition(clm_consumer *c, const char *topic, int32_t partition,
                           int64_t *offset, clm_wm *wm, clm_anon_ids *anon)
{
    char err[256];
    bool down = false;
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(c->redis, err, sizeof(err));
        int r = -EIO;
        if (rp)
            r = clm_store_load_progress(rp, c->cfg->redis_prefix, c->cfg->kafka_group_id, topic,
                                        partition, offset, wm, anon, err, sizeof(err));
        if (r == 0 && rp)
            r = clm_store_register_partition(rp, c->cfg->redis_prefix, c->cfg->kafka_group_id,
                                             partition, err, sizeof(err));
        if (r == 0 && rp && clm_redis_is_cluster(c->redis))
            r = carry_journal(c, rp, partition, err, sizeof(err));
        if (r == 0)
            break;
        if (r == -EPROTO)
            clm_fatal("consumer: stored progress of %s [%d] is malformed: %s", topic,
                      (int)partition, err);
        if (r != -EAGAIN)
            clm_redis_drop(c->redis);
        if (!down)
            log_warn("consumer: Redis %s (%s) while taking %s [%d]; retrying",
                     r == -EAGAIN ? "refuses writes" : "unavailable", err, topic, (int)partition);
        down = true;
        sleep_ms(r == -EAGAIN ? 1000 : 100);
    }
}

/* Stops clmd when a stored offset lies outside what Kafka has for the
 * partition: below its low watermark (the messages between were deleted,
 * by retention say) or above its high watermark (the topic was recreated,
 * or the brokers are another cluster's). Consuming from there would skip
 * messages, or apply another topic's messages on top of this one's state.
 * A partition whose watermarks cannot be read in three tries is resumed
 * unchecked (logged). */
static void check_range(clm_consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < 3; i++)
        if (!(e = rd_kafka_query_watermark_offsets(c->rk, topic, partition, &lo, &hi, 5000)))
            break;
    if (e) {
        log_warn("consumer: cannot read the watermarks of %s [%d] (%s): resuming at offset %" PRId64
                 " unchecked", topic, (int)partition, rd_kafka_err2str(e), offset);
        return;
    }
    if (offset >= lo && offset <= hi)
        return;
    char key[CLM_KEY_MAX], field[CLM_KEY_MAX];
    clm_key_progress(key, sizeof(key), c->cfg->redis_prefix, c->cfg->kafka_group_id, partition);
    clm_field_offset(field, sizeof(field), topic);
    clm_fatal("consumer: %s [%d]: the offset stored in Redis, %" PRId64 ", is %s the partition's "
              "offsets in Kafka (low watermark %" PRId64 ", high watermark %" PRId64 "): %s. "
              "Nothing was consumed. To go on, set the offset to resume from in Redis "
              "(HSET %s %s <offset>), or use a new redis.prefix",
              topic, (int)partition, offset, offset < lo ? "below" : "above", lo, hi,
              offset < lo ? "the messages in between were deleted (retention?) and would be "
                            "skipped"
                          : "the topic was recreated or these are another cluster's brokers, "
                            "and its messages would be applied on top of the old topic's state",
              key, field);
}

/* True when no event was ever applied to this Redis (clm:stats applied is
 * absent or 0): then a partition without stored offset has no customers in
 * Redis, and its workers need not look them up (clm_shard_part_add). On
 * Redis Cluster the counters follow the partitions' own transactions
 * (store/journal.h), so there the question is asked of each partition
 * number: no progress hash, no flush, no customers (partition_empty). */
static bool store_empty(clm_consumer *c)
{
    char err[256];
    if (clm_redis_is_cluster(c->redis))
        return false;
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(c->redis, err, sizeof(err));
        char key[CLM_KEY_MAX];
        if (clm_key_single(key, sizeof(key), c->cfg->redis_prefix, CLM_KEY_STATS) < 0)
            clm_fatal("consumer: redis.prefix is too long");
        const char *argv[] = { "HGET", key, "applied" };
        redisReply *r = rp ? clm_rpipe_command(rp, 1, 3, argv, NULL, err, sizeof(err)) : NULL;
        if (r) {
            bool empty = r->type == REDIS_REPLY_NIL ||
                         (r->type == REDIS_REPLY_STRING && strcmp(r->str, "0") == 0);
            freeReplyObject(r);
            return empty;
        }
        clm_redis_drop(c->redis);
        sleep_ms(100);
    }
}

/* On Redis Cluster: true when partition number `partition` never
 * committed a flush (its progress hash does not exist). */
static bool partition_empty(clm_consumer *c, int32_t partition)
{
    char err[256], key[CLM_KEY_MAX];
    if (clm_key_progress(key, sizeof(key), c->cfg->redis_prefix, c->cfg->kafka_group_id,
                         partition) < 0)
        clm_fatal("consumer: redis.prefix and kafka.group_id are too long");
    const char *argv[] = { "EXISTS", key };
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(c->redis, err, sizeof(err));
        redisReply *r = rp ? clm_rpipe_command(rp, 1, 2, argv, NULL, err, sizeof(err)) : NULL;
        if (r && r->type == REDIS_REPLY_INTEGER) {
            bool empty = r->integer == 0;
            freeReplyObject(r);
            return empty;
        }
        freeReplyObject(r);
        clm_redis_drop(c->redis);
        sleep_ms(100);
    }
}

static void on_assign(clm_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    bool empty = store_empty(c);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int t = topic_index(c, p->topic);
        if (t < 0)
            continue;
        int64_t offset;
        clm_wm wm;
        clm_anon_ids anon;
        load_partition(c, p->topic, p->partition, &offset, &wm, &anon);
        if (offset >= 0)
            check_range(c, p->topic, p->partition, offset);
        int w = worker_for(c, p->partition);
        clm_ctl *ctl = calloc(1, sizeof(*ctl));
        if (!ctl)
            clm_fatal("consumer: out of memory");
        *ctl = (clm_ctl){ .kind = CLM_CTL_ASSIGN, .topic = t, .partition = p->partition,
                          .offset = offset, .wm = wm, .anon = anon,
                          .fresh = offset == CLM_NO_OFFSET &&
                                   (clm_redis_is_cluster(c->redis) ? partition_empty(c, p->partition)
                                                                   : empty) };
        hand_ctl(c, (size_t)w, ctl);
        c->owned[w]++;
        if (offset >= 0)
            p->offset = offset;
        else
            p->offset = c->reset_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        if (offset >= 0)
            log_info("consumer: assigned %s [%d] to worker %d, resuming at offset %" PRId64,
                     p->topic, (int)p->partition, w, offset);
        else
            log_info("consumer: assigned %s [%d] to worker %d, no stored offset: starting at the %s",
                     p->topic, (int)p->partition, w, c->reset_latest ? "end" : "beginning");
    }
}

static void on_revoke(clm_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    clm_ctl **ctls = calloc((size_t)parts->cnt + 1, sizeof(*ctls));
    if (!ctls)
        clm_fatal("consumer: out of memory");
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int t = topic_index(c, p->topic);
        if (t < 0 || (size_t)p->partition >= c->nowner || c->owner[p->partition] < 0)
            continue;
        int w = c->owner[p->partition];
        ctls[i] = calloc(1, sizeof(**ctls));
        if (!ctls[i])
            clm_fatal("consumer: out of memory");
        *ctls[i] = (clm_ctl){ .kind = CLM_CTL_REVOKE, .topic = t, .partition = p->partition };
        hand_ctl(c, (size_t)w, ctls[i]);
        c->owned[w]--;
    }
    for (int i = 0; i < parts->cnt; i++) {
        while (ctls[i] && !atomic_load_explicit(&ctls[i]->done, memory_order_acquire)) {
            drain_stashes(c);
            sleep_ms(1);
        }
        free(ctls[i]);
    }
    free(ctls);
    /* forget owners of partition numbers no longer held under any topic */
    rd_kafka_topic_partition_list_t *still = NULL;
    rd_kafka_assignment(c->rk, &still);
    for (size_t n = 0; n < c->nowner; n++) {
        bool held = false;
        for (int i = 0; still && i < still->cnt; i++) {
            bool revoked = false;
            for (int k = 0; k < parts->cnt; k++)
                if (parts->elems[k].partition == still->elems[i].partition &&
                    strcmp(parts->elems[k].topic, still->elems[i].topic) == 0)
                    revoked = true;
            if (!revoked && (size_t)still->elems[i].partition == n)
                held = true;
        }
        if (!held)
            c->owner[n] = -1;
    }
    if (still)
        rd_kafka_topic_partition_list_destroy(still);
    log_info("consumer: %d partition(s) revoked and flushed", parts->cnt);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    clm_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, parts);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            re = rd_kafka_assign(rk, parts);
    } else {
        if (rd_kafka_assignment_lost(rk))
            log_warn("consumer: partitions lost (session timed out); flushing what was applied");
        on_revoke(c, parts);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            re = rd_kafka_assign(rk, NULL);
    }
    if (e) {
        log_err("consumer: rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (re) {
        log_err("consumer: rebalance: %s", rd_kafka_err2str(re));
    }
}

/* ---- setup ------------------------------------------------------------ */

clm_consumer *clm_consumer_new(const clm_config *cfg, char *const *topics, size_t ntopics,
                               rd_kafka_conf_t *conf, clm_worker **workers,
                               size_t nworkers, const clm_redis_opts *redis, char *errbuf,
                               size_t errsize)
{
    clm_consumer *c = calloc(1, sizeof(*c));
    rd_kafka_topic_partition_list_t *subs = NULL;
    if (!c)
        goto out_nomem;
    c->cfg = cfg;
    c->topics = topics;
    c->ntopics = ntopics;
    c->workers = workers;
    c->nworkers = nworkers;
    c->stash = calloc(nworkers, sizeof(*c->stash));
    c->owned = calloc(nworkers, sizeof(*c->owned));
    c->batch = calloc((size_t)cfg->kafka_batch_size, sizeof(*c->batch));
    c->redis = clm_redis_new(redis);
    if (!c->stash || !c->owned || !c->batch || !c->redis)
        goto out_nomem;
    for (size_t i = 0; i < cfg->kafka_prop_count; i++)
        if (strcmp(cfg->kafka_props[i].key, "auto.offset.reset") == 0)
            c->reset_latest = strcmp(cfg->kafka_props[i].value, "latest") == 0 ||
                              strcmp(cfg->kafka_props[i].value, "end") == 0 ||
                              strcmp(cfg->kafka_props[i].value, "largest") == 0;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_log_cb(conf, clm_log_rdkafka);
    rd_kafka_conf_set_opaque(conf, c);

    char e[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    if (!c->rk) {
        snprintf(errbuf, errsize, "kafka: %s", e);
        goto out_free;
    }
    conf = NULL; /* rd_kafka_new took ownership */
    rd_kafka_poll_set_consumer(c->rk);
    c->q = rd_kafka_queue_get_consumer(c->rk);

    subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (se) {
        snprintf(errbuf, errsize, "kafka: subscribe: %s", rd_kafka_err2str(se));
        goto out_free;
    }
    return c;

out_nomem:
    snprintf(errbuf, errsize, "consumer: out of memory");
out_free:
    if (conf)
        rd_kafka_conf_destroy(conf);
    clm_consumer_free(c);
    return NULL;
}

rd_kafka_t *clm_consumer_handle(clm_consumer *c)
{
    return c->rk;
}

unsigned long long clm_consumer_consumed(const clm_consumer *c)
{
    return atomic_load_explicit(&c->consumed, memory_order_relaxed);
}

static void set_paused(clm_consumer *c, bool pause)
{
    if (c->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(c->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    if (pause)
        rd_kafka_pause_partitions(c->rk, l);
    else
        rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    c->paused = pause;
    log_info("consumer: %s consumption (%zu messages waiting for workers)",
             pause ? "pausing" : "resuming", c->stashed);
}

static void dispatch(clm_consumer *c, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("consumer: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    if ((size_t)m->partition >= c->nowner || c->owner[m->partition] < 0) {
        rd_kafka_message_destroy(m); /* not ours (any more) */
        return;
    }
    atomic_fetch_add_explicit(&c->consumed, 1, memory_order_relaxed);
    hand(c, (size_t)c->owner[m->partition], m);
}

/* Backpressure: while a worker's ring is full its messages wait in the stash
 * and no more are taken from librdkafka, except one batch every
 * SERVE_EVERY_MS so rebalances and errors are still served. A stall longer
 * than PAUSE_AFTER_MS (Redis down, say) pauses the partitions, so librdkafka
 * stops fetching too and memory stays bounded; they resume when the stash
 * has drained. */
#define SERVE_EVERY_MS 100
#define PAUSE_AFTER_MS 1000

void clm_consumer_set_tick(clm_consumer *c, void (*fn)(void *ctx), void *ctx)
{
    c->tick = fn;
    c->tick_ctx = ctx;
}

int clm_consumer_assigned(clm_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(c->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return 0;
    int n = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return n;
}

void clm_consumer_lag_each(clm_consumer *c,
                           void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                           void *ctx)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(c->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    bool pos = rd_kafka_position(c->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo, hi, lag = -1;
        if (pos && l->elems[i].offset >= 0 &&
            rd_kafka_get_watermark_offsets(c->rk, l->elems[i].topic, l->elems[i].partition, &lo,
                                           &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
            lag = hi > l->elems[i].offset ? hi - l->elems[i].offset : 0;
        fn(ctx, l->elems[i].topic, l->elems[i].partition, lag);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

int64_t clm_consumer_lag(clm_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(c->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return -1;
    int64_t lag = 0;
    if (rd_kafka_position(c->rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        lag = -1;
    for (int i = 0; lag >= 0 && i < l->cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(c->rk, l->elems[i].topic, l->elems[i].partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0 || l->elems[i].offset < 0)
            continue; /* nothing fetched yet: no figure for this one */
        lag += hi > l->elems[i].offset ? hi - l->elems[i].offset : 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return lag;
}

int clm_consumer_run(clm_consumer *c, atomic_bool *stop)
{
    long long stalled_since = 0, last_serve = 0;
    while (!atomic_load(stop)) {
        drain_stashes(c);
        long long now = clm_now_ms();
        if (c->tick && now - c->last_tick >= 500) {
            c->last_tick = now;
            c->tick(c->tick_ctx);
        }
        if (c->stashed) {
            if (!stalled_since)
                stalled_since = now;
            if (now - stalled_since >= PAUSE_AFTER_MS)
                set_paused(c, true);
            if (now - last_serve < SERVE_EVERY_MS) {
                sleep_ms(1);
                continue;
            }
        } else {
            stalled_since = 0;
            set_paused(c, false);
        }
        last_serve = now;
        ssize_t n = rd_kafka_consume_batch_queue(c->q, c->stashed ? 0 : 100, c->batch,
                                                 (size_t)c->cfg->kafka_batch_size);
        for (ssize_t i = 0; i < n; i++)
            dispatch(c, c->batch[i]);
    }
    while (c->stashed) {
        drain_stashes(c);
        sleep_ms(1);
    }
    set_paused(c, false);
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk); /* revokes: workers flush */
    if (e)
        log_warn("consumer: close: %s", rd_kafka_err2str(e));
    return 0;
}

void clm_consumer_free(clm_consumer *c)
{
    if (!c)
        return;
    if (c->q)
        rd_kafka_queue_destroy(c->q);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    if (c->stash)
        for (size_t i = 0; i < c->nworkers; i++) {
            for (size_t k = 0; k < c->stash[i].len; k++) {
                void *p = c->stash[i].v[(c->stash[i].head + k) % c->stash[i].cap];
                if (!((uintptr_t)p & CTL_TAG))
                    rd_kafka_message_destroy(p);
            }
            free(c->stash[i].v);
        }
    free(c->stash);
    free(c->owned);
    free(c->owner);
    free(c->batch);
    clm_redis_free(c->redis);
    free(c);
}
