/* daemon/worker_store.c - what a worker reads from and writes to the
 * store: flush batches (store/flush.h, daemon/alerting.h), the deadline
 * scan that churns and rescores silent customers before each cut, loading
 * customers it does not hold, and its partitions' paging windows. */
#include "daemon/worker_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"
#include "daemon/log.h"
#include "store/forget.h"
#include "store/keys.h"
#include "store/load.h"

/* ---- flushing --------------------------------------------------------- */

typedef struct cut_ctx {
    clm_worker *w;
    clm_batch *b;
} cut_ctx;

static int cut_customer(void *vctx, clm_customer *c)
{
    cut_ctx *x = vctx;
    x->b->customers++;
    return clm_flush_fmt_customer(x->w->fmt, c);
}

static int cut_progress(void *vctx, const clm_part_progress *p)
{
    cut_ctx *x = vctx;
    return clm_batch_add_part(x->b, p);
}

static int cut_stats(void *vctx, int32_t part, const clm_shard_stats *st)
{
    cut_ctx *x = vctx;
    clm_worker *w = x->w;
    x->b->events += st->consumed;
    atomic_fetch_add_explicit(&w->tot_consumed, st->consumed, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tot_applied, st->applied, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tot_duplicates, st->duplicates, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tot_merges, st->merges, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tot_erasures, st->erasures, memory_order_relaxed);
    for (int i = 0; i < CLM_REJ__COUNT; i++)
        if (st->rejected[i])
            atomic_fetch_add_explicit(&w->tot_rejected[i], st->rejected[i], memory_order_relaxed);
    return clm_flush_fmt_stats(x->w->fmt, part, st);
}

static int cut_deltas(void *vctx, int32_t part, const clm_deltas *d)
{
    cut_ctx *x = vctx;
    const clm_alert_opts *ao = x->w->c.shard.apply.alerts;
    int r = clm_flush_fmt_deltas(x->w->fmt, part, d);
    return r < 0 || d->nalerts == 0 || !ao ? r
                                           : clm_alerting_raise(x->w->alerting, x->b, part, d, ao);
}

/* A customer erased on request: deleted by this batch (store/forget.h),
 * and dropped from its partition's paging window in memory. Anything else
 * that comes to hold customer ids is to be removed here, into the same
 * section, so it commits with the request's offset. */
static int cut_forget(void *vctx, int32_t part, const char *id, size_t len)
{
    cut_ctx *x = vctx;
    clm_worker *w = x->w;
    clm_cmdbuf *cb = clm_batch_cmds(x->b, part);
    if (!cb)
        return -ENOMEM;
    clm_alerting_forget(w->alerting, part, id, len);
    int r = clm_forget_fmt(cb, w->c.prefix, w->c.group, part, id, len, clm_wall_ms(),
                           w->c.erasure_hmac_key);
    return r < 0 ? r
                 : clm_forget_fmt_firing(cb, w->c.prefix, w->c.redis.cluster && w->c.redis.cluster[0],
                                         id, len);
}

/* A customer frozen for an identity merge (core/shard.h clm_shard_freeze):
 * its stored state goes with the request's offset, as an erased one's
 * would, without the erasure log; its state travels in the merge record. */
static int cut_freeze(void *vctx, int32_t part, const char *id, size_t len)
{
    cut_ctx *x = vctx;
    clm_worker *w = x->w;
    clm_cmdbuf *cb = clm_batch_cmds(x->b, part);
    if (!cb)
        return -ENOMEM;
    return clm_freeze_fmt(cb, w->c.prefix, w->c.group, part, id, len);
}

static clm_cmdbuf *cut_buf(void *vctx, int32_t part)
{
    return clm_batch_cmds(((cut_ctx *)vctx)->b, part);
}

/* The watermark up to which a partition number's paging windows may be
 * decided: that of its last deadline scan (every due step up to it has
 * run), or, without stages (no due steps), its watermark. */
static int64_t paging_watermark(const clm_worker *w, int32_t number)
{
    if (!w->c.shard.apply.stages)
        return clm_shard_number_watermark(w->shard, number);
    return (size_t)number < w->nscanned ? w->scanned_wm[number] : CLM_NO_TS;
}

/* Decides the paging windows of every partition number owned. */
static int cut_paging(clm_worker *w, clm_batch *b)
{
    const clm_alert_opts *ao = w->c.shard.apply.alerts;
    int r = 0;
    for (size_t slot = 0; ao && r >= 0 && slot < clm_shard_part_slots(w->shard); slot++) {
        int32_t topic, number;
        if (clm_shard_part_get(w->shard, (int)slot, &topic, &number) == 0)
            r = clm_alerting_close(w->alerting, b, number, paging_watermark(w, number), ao);
    }
    return r;
}

void worker_refresh_acked(clm_worker *w)
{
    clm_shard_flush_acked(w->shard, atomic_load_explicit(&w->acked, memory_order_acquire));
}

/* Cuts a flush batch of everything pending and hands it to the writer
 * (waiting while the writer's ring is full). Nothing pending: no batch. */
void worker_cut(clm_worker *w)
{
    clm_batch *b = clm_batch_new(w->c.index, w->gen + 1);
    if (!b)
        clm_fatal("worker %d: out of memory cutting a flush", w->c.index);
    cut_ctx x = { .w = w, .b = b };
    clm_flush_sink sink = { cut_customer, cut_progress, cut_stats, cut_deltas, &x, cut_forget,
                            cut_freeze };
    clm_flush_fmt_begin(w->fmt, cut_buf, &x, &w->c.shard.apply);
    int r = clm_shard_flush_cut(w->shard, b->gen, &sink);
    if (r >= 0)
        r = cut_paging(w, b);
    if (r >= 0 && w->ident)
        r = worker_ident_cut(w, b);
    if (r >= 0) {
        int e = clm_flush_fmt_end(w->fmt);
        r = e < 0 ? e : r;
    }
    if (r < 0)
        clm_fatal("worker %d: cannot format a flush: %s", w->c.index, strerror(-r));
    if (b->nparts == 0 && clm_batch_ncmds(b) == 0) {
        clm_batch_free(b);
        return;
    }
    w->gen = b->gen;
    b->dlq_seq = w->dlq_seq;
    b->cut_ms = clm_now_ms();
    while (!clm_spsc_push(w->out, b))
        worker_sleep_ms(1);
}

void worker_wait_acked(clm_worker *w, uint64_t gen)
{
    while (atomic_load_explicit(&w->acked, memory_order_acquire) < gen)
        worker_sleep_ms(1);
    worker_refresh_acked(w);
}


/* Reads up to `max` ids due by `wm` from a deadline index, from `offset`.
 * Returns the count read (ids point into *rep, freed by the caller). */
static size_t read_due(clm_worker *w, const char *key, int64_t wm, size_t offset, size_t max,
                       redisReply **rep)
{
    char err[256], to[24], off[24], cnt[24];
    snprintf(to, sizeof(to), "%lld", (long long)wm);
    snprintf(off, sizeof(off), "%zu", offset);
    snprintf(cnt, sizeof(cnt), "%zu", max);
    const char *argv[] = { "ZRANGEBYSCORE", key, "-inf", to, "LIMIT", off, cnt };
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(w->redis, err, sizeof(err));
        if (rp && (*rep = clm_rpipe_command(rp, 1, 7, argv, NULL, err, sizeof(err))) != NULL) {
            if ((*rep)->type == REDIS_REPLY_ARRAY)
                return (*rep)->elements;
            clm_fatal("worker %d: reading %s: %s", w->c.index, key,
                      (*rep)->type == REDIS_REPLY_ERROR ? (*rep)->str : "unexpected reply");
        }
        clm_redis_drop(w->redis);
        worker_sleep_ms(50);
    }
}

/* Churns the customers whose inactivity deadline their partition's
 * watermark has passed: first those changed since the last cut (in memory),
 * then those in the partition's deadline index in Redis, loaded as needed.
 * Runs before each cut, for partition numbers whose watermark moved. The
 * index holds every customer Redis has acknowledged; the shard checks the
 * others (dirty, or in batches still on their way) in memory. */
void worker_expire(clm_worker *w)
{
    if (!w->c.shard.apply.stages)
        return;
    bool moved = false;
    for (size_t slot = 0; slot < clm_shard_part_slots(w->shard) && !moved; slot++) {
        int32_t topic, number;
        if (clm_shard_part_get(w->shard, (int)slot, &topic, &number) < 0)
            continue;
        int64_t wm = clm_shard_number_watermark(w->shard, number);
        moved = wm != CLM_NO_TS &&
                ((size_t)number >= w->nscanned || wm > w->scanned_wm[number]);
    }
    if (!moved)
        return;
    if (clm_shard_expire_cached(w->shard) < 0)
        clm_fatal("worker %d: out of memory expiring customers", w->c.index);
    for (size_t slot = 0; slot < clm_shard_part_slots(w->shard); slot++) {
        int32_t topic, number;
        if (clm_shard_part_get(w->shard, (int)slot, &topic, &number) < 0)
            continue;
        int64_t wm = clm_shard_number_watermark(w->shard, number);
        if ((size_t)number >= w->nscanned) {
            size_t n = (size_t)number + 1;
            int64_t *v = realloc(w->scanned_wm, n * sizeof(*v));
            if (!v)
                clm_fatal("worker %d: out of memory", w->c.index);
            for (size_t i = w->nscanned; i < n; i++)
                v[i] = CLM_NO_TS;
            w->scanned_wm = v;
            w->nscanned = n;
        }
        if (wm == CLM_NO_TS || wm <= w->scanned_wm[number])
            continue;
        char key[CLM_KEY_MAX];
        if (clm_key_deadlines(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
            clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
        for (size_t offset = 0;;) {
            redisReply *rep;
            size_t n = read_due(w, key, wm + CLM_INDEX_ROUND_MS, offset, RUN_MAX, &rep);
            const char *ids[RUN_MAX];
            size_t lens[RUN_MAX], nmiss = 0;
            uint16_t parts[RUN_MAX];
            clm_customer *loaded[RUN_MAX];
            for (size_t i = 0; i < n; i++) {
                const redisReply *e = rep->element[i];
                if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > CLM_ID_MAX ||
                    clm_shard_customer(w->shard, e->str, e->len))
                    continue;
                ids[nmiss] = e->str;
                lens[nmiss] = e->len;
                parts[nmiss++] = (uint16_t)number;
            }
            if (nmiss) {
                worker_make_room(w, nmiss);
                worker_load(w, nmiss, ids, lens, parts, loaded);
                worker_insert_loaded(w, nmiss, loaded);
            }
            for (size_t i = 0; i < n; i++) {
                const redisReply *e = rep->element[i];
                clm_customer *c = e->type == REDIS_REPLY_STRING
                                      ? clm_shard_customer(w->shard, e->str, e->len)
                                      : NULL;
                if (c && clm_shard_expire_one(w->shard, c) < 0)
                    clm_fatal("worker %d: out of memory expiring customers", w->c.index);
            }
            freeReplyObject(rep);
            if (n < RUN_MAX)
                break;
            offset += n;
        }
        w->scanned_wm[number] = wm;
    }
}

/* ---- loading customers ------------------------------------------------ */

/* Loads customers from Redis, retrying through outages. Returns only on
 * success; a malformed stored customer is fatal (it must be repaired). */
void worker_load(clm_worker *w, size_t n, const char **ids, const size_t *lens,
                 const uint16_t *parts, clm_customer **out)
{
    char err[256];
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(w->redis, err, sizeof(err));
        int r = -EIO;
        if (rp)
            r = clm_store_load_customers(rp, w->c.prefix, w->c.group, &w->c.shard.apply,
                                         w->c.upgrade_pool, n, ids, lens, parts, out, err,
                                         sizeof(err));
        if (r == 0)
            break;
        if (r == -EPROTO)
            clm_fatal("worker %d: cannot load a customer: %s", w->c.index, err);
        if (r == -ENOMEM)
            clm_fatal("worker %d: out of memory loading customers", w->c.index);
        clm_redis_drop(w->redis);
        if (!w->redis_down)
            log_warn("worker %d: Redis unreachable (%s); pausing until it is back",
                     w->c.index, err);
        w->redis_down = true;
        worker_sleep_ms(50);
    }
    if (w->redis_down)
        log_notice("worker %d: Redis reachable again", w->c.index);
    w->redis_down = false;
}

/* Makes room for n customers, flushing and waiting for Redis when too many
 * cached customers are dirty. */
void worker_make_room(clm_worker *w, size_t n)
{
    if (clm_shard_make_room(w->shard, n) == 0)
        return;
    worker_cut(w);
    worker_wait_acked(w, w->gen);
    if (clm_shard_make_room(w->shard, n) < 0)
        clm_fatal("worker %d: cannot make room for %zu customers (core.max_customers too small)",
                  w->c.index, n);
}

void worker_insert_loaded(clm_worker *w, size_t n, clm_customer **cs)
{
    for (size_t i = 0; i < n; i++) {
        int r = clm_shard_insert(w->shard, cs[i]);
        if (r == -EEXIST) {
            clm_customer_free(cs[i]);
        } else if (r < 0) {
            clm_fatal("worker %d: cannot cache a customer: %s", w->c.index, strerror(-r));
        }
    }
}

/* Takes up a partition number's paging windows from Redis (retrying
 * through outages) when the worker does not hold them yet. */
void worker_take_paging(clm_worker *w, int32_t number)
{
    if (clm_alerting_has(w->alerting, number))
        return;
    char key[CLM_KEY_MAX], err[512];
    if (clm_key_paging(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
        clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
    const char *argv[] = { "HGETALL", key };
    for (;;) {
        clm_rpipe *rp = clm_redis_pipe(w->redis, err, sizeof(err));
        redisReply *rep = rp ? clm_rpipe_command(rp, 1, 2, argv, NULL, err, sizeof(err)) : NULL;
        if (!rep) {
            clm_redis_drop(w->redis);
            worker_sleep_ms(50);
            continue;
        }
        if (rep->type != REDIS_REPLY_ARRAY)
            clm_fatal("worker %d: reading %s: %s", w->c.index, key,
                      rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        int r = clm_alerting_take(w->alerting, number, rep, err, sizeof(err));
        freeReplyObject(rep);
        if (r == -ENOMEM)
            clm_fatal("worker %d: out of memory", w->c.index);
        if (r < 0)
            clm_fatal("worker %d: %s; delete the field (its alert is in the stream already) "
                      "to go on", w->c.index, err);
        return;
    }
}

