/* daemon/worker.c - see worker.h; the thread: messages in, events applied,
 * controls. What it stores and loads is in worker_store.c. */
#include "daemon/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/worker_impl.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

void worker_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

clm_worker *clm_worker_new(const clm_worker_conf *conf, char *errbuf, size_t errsize)
{
    clm_worker *w = calloc(1, sizeof(*w));
    if (!w)
        goto out_nomem;
    w->c = *conf;
    if (conf->shard.apply.risk) {
        w->risk = *conf->shard.apply.risk;
        w->risk.p_alive_threshold = conf->p_alive_threshold;
        w->risk.unit_days = conf->model_unit_days;
        w->risk.has_model = false;
        w->c.shard.apply.risk = &w->risk;
    }
    w->shard = clm_shard_new(&w->c.shard);
    w->fmt = clm_flush_fmt_new(conf->prefix, conf->group);
    clm_alerting_conf ac = { .prefix = conf->prefix, .group = conf->group,
                             .names = conf->alert_names, .stream_maxlen = conf->alerts_maxlen,
                             .page_stream = conf->page_stream };
    w->alerting = clm_alerting_new(&ac);
    w->redis = clm_redis_new(&conf->redis);
    w->in = clm_spsc_new(conf->ring_size);
    w->out = clm_spsc_new(BATCH_RING);
    if (!w->shard || !w->fmt || !w->alerting || !w->redis || !w->in || !w->out)
        goto out_nomem;
    if (conf->identity_topic >= 0 && !(w->ident = worker_ident_new()))
        goto out_nomem;
    return w;

out_nomem:
    snprintf(errbuf, errsize, "worker %d: out of memory", conf->index);
    clm_worker_free(w);
    return NULL;
}

void clm_worker_free(clm_worker *w)
{
    if (!w)
        return;
    if (w->started)
        pthread_join(w->thread, NULL);
    void *p;
    while (w->in && clm_spsc_pop(w->in, &p))
        if (!((uintptr_t)p & CTL_TAG))
            rd_kafka_message_destroy(p);
    while (w->out && clm_spsc_pop(w->out, &p))
        clm_batch_free(p);
    clm_spsc_free(w->in);
    clm_spsc_free(w->out);
    clm_shard_free(w->shard);
    clm_flush_fmt_free(w->fmt);
    clm_alerting_free(w->alerting);
    worker_ident_free(w->ident);
    clm_redis_free(w->redis);
    free(w->scanned_wm);
    free(w);
}

void clm_worker_reload(clm_worker *w, const clm_apply_opts *o)
{
    atomic_store_explicit(&w->reload, o, memory_order_release);
}

/* Worker thread: takes new rules, if any, between runs of messages. */
static void take_reload(clm_worker *w)
{
    const clm_apply_opts *o = atomic_exchange_explicit(&w->reload, NULL, memory_order_acq_rel);
    if (!o)
        return;
    w->c.shard.apply = *o; /* what the next cut formats with */
    if (o->risk) {
        clm_risk_opts keep = w->risk;
        w->risk = *o->risk;
        w->risk.p_alive_threshold = keep.p_alive_threshold;
        w->risk.unit_days = keep.unit_days;
        w->risk.has_model = keep.has_model;
        w->risk.model = keep.model;
        w->c.shard.apply.risk = &w->risk;
    }
    clm_shard_set_apply_opts(w->shard, &w->c.shard.apply);
}

/* Takes the model's latest parameters (checked once a second): the p_alive
 * signal uses them from then on. */
static void take_model(clm_worker *w, long long now)
{
    if (!w->c.model || !w->c.shard.apply.risk || now - w->model_checked < 1000)
        return;
    w->model_checked = now;
    clm_bgnbd_params bg;
    clm_gg_params gg;
    if (clm_model_job_params(w->c.model, &bg, &gg) < 0)
        return;
    if (w->risk.has_model && memcmp(&bg, &w->risk.model, sizeof(bg)) == 0)
        return;
    w->risk.model = bg;
    w->risk.has_model = true;
    clm_shard_set_apply_opts(w->shard, &w->c.shard.apply);
}

bool clm_worker_push_msg(clm_worker *w, rd_kafka_message_t *m)
{
    return clm_spsc_push(w->in, m);
}

bool clm_worker_push_ctl(clm_worker *w, clm_ctl *ctl)
{
    return clm_spsc_push(w->in, (void *)((uintptr_t)ctl | CTL_TAG));
}

bool clm_worker_pop_batch(clm_worker *w, clm_batch **b)
{
    void *p;
    if (!clm_spsc_pop(w->out, &p))
        return false;
    *b = p;
    return true;
}

void clm_worker_ack(clm_worker *w, uint64_t gen)
{
    atomic_store_explicit(&w->acked, gen, memory_order_release);
}

bool clm_worker_finished(clm_worker *w)
{
    return atomic_load(&w->finished) && clm_spsc_count(w->out) == 0;
}

void clm_worker_alert_totals(const clm_worker *w, clm_alerting_stats *out)
{
    clm_alerting_get_stats(w->alerting, out);
}

void clm_worker_totals(const clm_worker *w, clm_shard_stats *out)
{
    clm_worker *m = (clm_worker *)w; /* atomic loads of a const object */
    out->consumed = atomic_load_explicit(&m->tot_consumed, memory_order_relaxed);
    out->applied = atomic_load_explicit(&m->tot_applied, memory_order_relaxed);
    out->duplicates = atomic_load_explicit(&m->tot_duplicates, memory_order_relaxed);
    for (int i = 0; i < CLM_REJ__COUNT; i++)
        out->rejected[i] = atomic_load_explicit(&m->tot_rejected[i], memory_order_relaxed);
    out->merges = atomic_load_explicit(&m->tot_merges, memory_order_relaxed);
    out->erasures = atomic_load_explicit(&m->tot_erasures, memory_order_relaxed);
}

void clm_worker_identity_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    worker_ident_delivered(m->_private, m->err);
}

size_t clm_worker_cached(const clm_worker *w)
{
    return atomic_load_explicit(&w->cached, memory_order_relaxed);
}

static void maybe_flush(clm_worker *w, long long now)
{
    worker_refresh_acked(w);
    take_model(w, now);
    if (w->ident)
        worker_ident_deliver(w);
    bool idle = (w->pending || (w->ident && worker_ident_pending(w))) && w->c.flush_idle_ms > 0 &&
                now - w->last_msg_ms >= w->c.flush_idle_ms;
    if (clm_shard_dirty_count(w->shard) < w->c.flush_max_dirty && now < w->next_flush_ms && !idle)
        return;
    worker_expire(w);
    worker_cut(w);
    w->pending = false;
    long long iv = w->c.flush_interval_ms;
    w->next_flush_ms = (now / iv + 1) * iv; /* aligned ticks: workers flush together */
}

/* ---- processing ------------------------------------------------------- */

static int topic_index(const clm_worker *w, const rd_kafka_message_t *m)
{
    const char *name = rd_kafka_topic_name(m->rkt);
    for (size_t i = 0; i < w->c.ntopics; i++)
        if (strcmp(name, w->c.topics[i]) == 0)
            return (int)i;
    return -1;
}

static void decode_run(clm_worker *w, rd_kafka_message_t **ms, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        rd_kafka_message_t *m = ms[k];
        w->topic[k] = topic_index(w, m);
        w->slot[k] = w->topic[k] < 0 ? -1 : clm_shard_part_find(w->shard, w->topic[k], m->partition);
        if (w->slot[k] < 0)
            continue;
        if (w->topic[k] == w->c.identity_topic) {
            w->rc[k] = 1; /* an identity message: not an event (worker_ident_message) */
            continue;
        }
        rd_kafka_timestamp_type_t tstype;
        int64_t ref = rd_kafka_message_timestamp(m, &tstype);
        if (ref < 0)
            ref = clm_wall_ms();
        clm_msg_meta meta = { .key = m->key, .key_len = m->key_len, .ref_ms = ref };
        w->rc[k] = clm_decode_fast(m->payload, m->len, &meta, &w->c.decode, &w->ev[k], &w->rej[k]);
    }
}

/* Loads every customer of the run that is not cached, in one round trip. */
static void prefetch_run(clm_worker *w, rd_kafka_message_t **ms, size_t n)
{
    const char *ids[RUN_MAX];
    size_t lens[RUN_MAX];
    uint16_t parts[RUN_MAX];
    bool fresh[RUN_MAX];
    clm_customer *loaded[RUN_MAX];
    uint32_t seen[2 * RUN_MAX]; /* tiny set of (index + 1) keyed by id hash */
    size_t nmiss = 0;
    memset(seen, 0, sizeof(seen));
    for (size_t k = 0; k < n; k++) {
        const clm_event *ev = &w->ev[k];
        if (w->slot[k] < 0 || w->rc[k] != 0 || !ev->has_customer || ev->type == CLM_EV_FORGET)
            continue;
        if (clm_shard_customer(w->shard, ev->customer_id, ev->customer_id_len))
            continue;
        if (w->ident && worker_ident_aliased(w, ms[k]->partition, ev->customer_id,
                                             ev->customer_id_len))
            continue; /* forwarded, never loaded here */
        size_t h = (size_t)XXH3_64bits(ev->customer_id, ev->customer_id_len) & (2 * RUN_MAX - 1);
        bool dup = false;
        while (seen[h]) {
            size_t j = seen[h] - 1;
            if (lens[j] == ev->customer_id_len && memcmp(ids[j], ev->customer_id, lens[j]) == 0) {
                dup = true;
                break;
            }
            h = (h + 1) & (2 * RUN_MAX - 1);
        }
        if (dup)
            continue;
        seen[h] = (uint32_t)nmiss + 1;
        ids[nmiss] = ev->customer_id;
        lens[nmiss] = ev->customer_id_len;
        parts[nmiss] = (uint16_t)ms[k]->partition;
        fresh[nmiss] = clm_shard_part_fresh(w->shard, w->slot[k]);
        nmiss++;
    }
    if (nmiss == 0)
        return;
    /* Misses of fresh partitions were judged before make_room may evict:
     * they were never cached, so they are new customers and need no load. */
    worker_make_room(w, nmiss);
    size_t nload = 0;
    for (size_t i = 0; i < nmiss; i++) {
        if (fresh[i]) {
            clm_customer *c = clm_customer_new(ids[i], lens[i], parts[i]);
            if (!c)
                clm_fatal("worker %d: out of memory", w->c.index);
            worker_insert_loaded(w, 1, &c);
            continue;
        }
        ids[nload] = ids[i];
        lens[nload] = lens[i];
        parts[nload++] = parts[i];
    }
    if (nload) {
        worker_load(w, nload, ids, lens, parts, loaded);
        worker_insert_loaded(w, nload, loaded);
    }
}

static clm_customer *customer_for(clm_worker *w, const clm_event *ev, int32_t partition)
{
    clm_customer *c = clm_shard_customer(w->shard, ev->customer_id, ev->customer_id_len);
    if (c)
        return c;
    /* evicted by make_room after the prefetch looked: load it alone */
    const char *id = ev->customer_id;
    size_t len = ev->customer_id_len;
    uint16_t part = (uint16_t)partition;
    worker_make_room(w, 1);
    worker_load(w, 1, &id, &len, &part, &c);
    worker_insert_loaded(w, 1, &c);
    return clm_shard_customer(w->shard, ev->customer_id, ev->customer_id_len);
}

/* Lateness depends on the events applied before this one, so it is decided
 * here, in order, rather than by the decoder. A late event becomes a
 * rejection with reason late_dropped. */
static bool is_late(clm_worker *w, size_t k)
{
    if (!clm_shard_is_late(w->shard, w->slot[k], w->ev[k].ts_ms))
        return false;
    char wm[32], ts[32];
    clm_ts_format(clm_shard_watermark(w->shard, w->slot[k]), wm);
    clm_ts_format(w->ev[k].ts_ms, ts);
    clm_reject_set(&w->rej[k], CLM_REJ_LATE_DROPPED,
                   "ts %s is older than the partition's watermark %s", ts, wm);
    w->rc[k] = -EINVAL;
    return true;
}

/* An erasure request (store/forget.h). The customer's pending changes and
 * every cut carrying it are committed first, so it leaves the cache clean;
 * then the erasure commits at once, before anything reads Redis again (a
 * deadline scan or a load must not find what is being erased). */
static void forget(clm_worker *w, int slot, int64_t offset, const clm_event *ev)
{
    if (!clm_shard_forget_ready(w->shard, ev->customer_id, ev->customer_id_len)) {
        worker_cut(w);
        worker_wait_acked(w, w->gen);
    }
    int r = clm_shard_forget(w->shard, slot, offset, ev);
    if (r < 0)
        clm_fatal("worker %d: cannot erase a customer: %s", w->c.index, strerror(-r));
    worker_cut(w);
    worker_wait_acked(w, w->gen);
}

static void apply_run(clm_worker *w, rd_kafka_message_t **ms, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        rd_kafka_message_t *m = ms[k];
        if (w->slot[k] < 0) {
            log_debug("worker %d: dropping a message of unowned %s [%d]", w->c.index,
                      rd_kafka_topic_name(m->rkt), (int)m->partition);
        } else if (w->topic[k] == w->c.identity_topic) {
            worker_ident_message(w, w->slot[k], m);
        } else if (w->rc[k] == 0 && w->ev[k].type == CLM_EV_FORGET) {
            if (w->ident)
                worker_ident_forget(w, m->partition, m->offset, w->ev[k].customer_id,
                                    w->ev[k].customer_id_len);
            forget(w, w->slot[k], m->offset, &w->ev[k]); /* never late: it is a request */
        } else if (w->rc[k] != 0 || is_late(w, k)) {
            uint64_t seq;
            int r = clm_dlq_send(w->c.dlq, w->c.index, w->c.dlq_topics[w->topic[k]], m,
                                 w->c.topics[w->topic[k]], &w->rej[k], &seq);
            if (r < 0)
                clm_fatal("worker %d: cannot produce to dead-letter topic %s: %s", w->c.index,
                          w->c.dlq_topics[w->topic[k]], strerror(-r));
            w->dlq_seq = seq;
            clm_shard_note_reject(w->shard, w->slot[k], m->offset, w->rej[k].reason);
        } else if (w->ident && w->ev[k].has_customer &&
                   worker_ident_event(w, w->slot[k], w->topic[k], m, &w->ev[k])) {
            /* forwarded to the customer its id is an alias of */
        } else {
            clm_customer *c = w->ev[k].has_customer ? customer_for(w, &w->ev[k], m->partition) : NULL;
            int r = clm_shard_apply(w->shard, w->slot[k], m->offset, &w->ev[k], c);
            if (r < 0)
                clm_fatal("worker %d: out of memory applying an event", w->c.index);
        }
        rd_kafka_message_destroy(m);
    }
}

static void process_run(clm_worker *w, rd_kafka_message_t **ms, size_t n)
{
    decode_run(w, ms, n);
    prefetch_run(w, ms, n);
    apply_run(w, ms, n);
}

/* True when the shard owns a partition with this number (any topic). */
static bool owns_number(const clm_worker *w, int32_t number)
{
    for (size_t slot = 0; slot < clm_shard_part_slots(w->shard); slot++) {
        int32_t topic, n;
        if (clm_shard_part_get(w->shard, (int)slot, &topic, &n) == 0 && n == number)
            return true;
    }
    return false;
}

static void handle_ctl(clm_worker *w, clm_ctl *ctl)
{
    int slot;
    switch (ctl->kind) {
    case CLM_CTL_ASSIGN:
        slot = clm_shard_part_add(w->shard, ctl->topic, ctl->partition, ctl->offset, ctl->wm.max_ts,
                                  ctl->fresh);
        if (slot < 0 && slot != -EEXIST)
            clm_fatal("worker %d: cannot take a partition: %s", w->c.index, strerror(-slot));
        if (slot >= 0 && clm_shard_part_restore_wm(w->shard, slot, &ctl->wm) < 0)
            clm_fatal("worker %d: partition %d: stored sources ahead of max_ts are not a state "
                      "the watermark rule reaches", w->c.index, (int)ctl->partition);
        if (slot >= 0 && clm_shard_part_set_anon(w->shard, slot, &ctl->anon) < 0)
            clm_fatal("worker %d: cannot restore a partition's event ids", w->c.index);
        if (w->c.shard.apply.alerts)
            worker_take_paging(w, ctl->partition);
        if (w->ident && slot >= 0)
            worker_ident_assign(w, slot, ctl->topic, ctl->partition);
        free(ctl); /* ASSIGN controls belong to the worker */
        return;
    case CLM_CTL_REVOKE:
        slot = clm_shard_part_find(w->shard, ctl->topic, ctl->partition);
        if (slot >= 0) {
            worker_cut(w);
            worker_wait_acked(w, w->gen);
            clm_shard_part_remove(w->shard, slot);
            if (!owns_number(w, ctl->partition)) {
                clm_alerting_drop(w->alerting, ctl->partition);
                if (w->ident)
                    worker_ident_release(w, ctl->partition);
            }
        }
        break;
    case CLM_CTL_STOP:
        worker_cut(w);
        worker_wait_acked(w, w->gen);
        w->stop = true;
        break;
    }
    atomic_store_explicit(&ctl->done, 1, memory_order_release);
}

static void *worker_main(void *arg)
{
    clm_worker *w = arg;
    void *items[RUN_MAX];
    long idle_us = 0;
    w->next_flush_ms = clm_now_ms() + w->c.flush_interval_ms;
    while (!w->stop) {
        take_reload(w);
        size_t n = 0;
        while (n < RUN_MAX && clm_spsc_pop(w->in, &items[n]))
            n++;
        if (n == 0) {
            maybe_flush(w, clm_now_ms());
            idle_us = idle_us < 2000 ? idle_us + 100 : 2000;
            struct timespec ts = { 0, idle_us * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        idle_us = 0;
        size_t i = 0;
        while (i < n) {
            if ((uintptr_t)items[i] & CTL_TAG) {
                handle_ctl(w, (clm_ctl *)((uintptr_t)items[i] & ~CTL_TAG));
                i++;
                continue;
            }
            size_t j = i;
            while (j < n && !((uintptr_t)items[j] & CTL_TAG))
                j++;
            process_run(w, (rd_kafka_message_t **)&items[i], j - i);
            i = j;
        }
        atomic_store_explicit(&w->cached, clm_shard_customer_count(w->shard), memory_order_relaxed);
        w->last_msg_ms = clm_now_ms();
        w->pending = true;
        maybe_flush(w, w->last_msg_ms);
    }
    atomic_store(&w->finished, true);
    return NULL;
}

int clm_worker_start(clm_worker *w)
{
    int r = pthread_create(&w->thread, NULL, worker_main, w);
    if (r)
        return -r;
    w->started = true;
    return 0;
}
