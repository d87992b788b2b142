/* daemon/worker_ident_store.c - what a worker keeps of the identity merge
 * (daemon/worker_ident_impl.h): per partition number the alias table, the
 * merges into its known ids and the ids of the messages it received, all
 * read from Redis when the number is taken and written with each cut; and
 * the outbox, produced once its flush committed and deleted by a later cut
 * once Kafka has it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/worker_ident_impl.h"
#include "store/keys.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* librdkafka's RD_KAFKA_V_* argument macros (rd_kafka_producev) are built
 * on GNU statement expressions, which clang's -Wpedantic reports. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif

bool ident_seen_has(const seen_set *t, uint64_t h)
{
    for (size_t i = t->cap ? h & (t->cap - 1) : 0; t->cap && t->h[i]; i = (i + 1) & (t->cap - 1))
        if (t->h[i] == h)
            return true;
    return false;
}

int ident_seen_put(seen_set *t, uint64_t h, int64_t at)
{
    if (2 * (t->n + 1) > t->cap) {
        seen_set g = { 0 };
        g.cap = t->cap ? 2 * t->cap : 64;
        g.h = calloc(g.cap, sizeof(*g.h));
        g.at = calloc(g.cap, sizeof(*g.at));
        if (!g.h || !g.at) {
            free(g.h);
            free(g.at);
            return -ENOMEM;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->h[i])
                ident_seen_put(&g, t->h[i], t->at[i]);
        free(t->h);
        free(t->at);
        *t = g;
    }
    size_t i = h & (t->cap - 1);
    while (t->h[i] && t->h[i] != h)
        i = (i + 1) & (t->cap - 1);
    if (!t->h[i])
        t->n++;
    t->h[i] = h;
    t->at[i] = at;
    return 0;
}

static void seen_release(seen_set *t)
{
    free(t->h);
    free(t->at);
    memset(t, 0, sizeof(*t));
}

/* The hash of a message id (never 0). */
uint64_t ident_id_hash(const char *id, size_t len)
{
    uint64_t h = XXH3_64bits(id, len);
    return h ? h : 1;
}

worker_ident *worker_ident_new(void)
{
    worker_ident *x = calloc(1, sizeof(*x));
    if (x)
        clm_record_buf_init(&x->buf);
    return x;
}

static void out_free(out_msg *o)
{
    if (!o)
        return;
    free(o->key);
    free(o->val);
    free(o);
}

void worker_ident_free(worker_ident *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nparts; i++) {
        clm_alias_free(x->parts[i].alias);
        clm_alias_free(x->parts[i].merged);
        seen_release(&x->parts[i].seen);
    }
    free(x->parts);
    for (size_t i = 0; i < x->nrows; i++) {
        free(x->rows[i].field);
        free(x->rows[i].value);
    }
    free(x->rows);
    for (size_t i = 0; i < x->nouts; i++)
        out_free(x->outs[i]);
    free(x->outs);
    clm_record_buf_release(&x->buf);
    free(x);
}

ident_part *ident_part_of(worker_ident *x, int32_t number)
{
    for (size_t i = 0; i < x->nparts; i++)
        if (x->parts[i].number == number)
            return &x->parts[i];
    return NULL;
}

/* ---- rows and outbox ---------------------------------------------------- */

void ident_add_row(clm_worker *w, int32_t number, int kind, const char *field, size_t field_len,
                    const void *value, size_t value_len)
{
    worker_ident *x = w->ident;
    if (x->nrows == x->cap_rows) {
        size_t cap = x->cap_rows ? 2 * x->cap_rows : 64;
        row *v = realloc(x->rows, cap * sizeof(*v));
        if (!v)
            clm_fatal("worker %d: out of memory", w->c.index);
        x->rows = v;
        x->cap_rows = cap;
    }
    row *r = &x->rows[x->nrows];
    r->number = number;
    r->kind = kind;
    r->field = malloc(field_len + 1);
    r->value = value ? malloc(value_len + 1) : NULL;
    if (!r->field || (value && !r->value))
        clm_fatal("worker %d: out of memory", w->c.index);
    memcpy(r->field, field, field_len);
    r->field[field_len] = '\0';
    r->field_len = field_len;
    if (value) {
        memcpy(r->value, value, value_len);
        r->value[value_len] = '\0';
    }
    r->value_len = value_len;
    x->nrows++;
}

/* Keeps an outbox message in memory until it is delivered. */
static out_msg *keep_out(clm_worker *w, int32_t number, uint64_t gen, const char *field,
                         const char *key, size_t key_len, const uint8_t *val, size_t val_len)
{
    worker_ident *x = w->ident;
    if (x->nouts == x->cap_outs) {
        size_t cap = x->cap_outs ? 2 * x->cap_outs : 64;
        out_msg **v = realloc(x->outs, cap * sizeof(*v));
        if (!v)
            clm_fatal("worker %d: out of memory", w->c.index);
        x->outs = v;
        x->cap_outs = cap;
    }
    out_msg *o = calloc(1, sizeof(*o));
    if (o) {
        o->key = malloc(key_len);
        o->val = malloc(val_len ? val_len : 1);
    }
    if (!o || !o->key || !o->val)
        clm_fatal("worker %d: out of memory", w->c.index);
    o->number = number;
    o->gen = gen;
    snprintf(o->field, sizeof(o->field), "%s", field);
    memcpy(o->key, key, key_len);
    o->key_len = key_len;
    memcpy(o->val, val, val_len);
    o->val_len = val_len;
    atomic_init(&o->state, OUT_WAIT);
    x->outs[x->nouts++] = o;
    return o;
}

/* Sends a message keyed `key` through partition number `number`'s outbox:
 * written by the next cut, produced after it commits. The stored value is
 * the key's length byte, the key, then the message. */
void ident_send_msg(clm_worker *w, int32_t number, const char *field, const char *key,
                     size_t key_len, const uint8_t *msg, size_t msg_len)
{
    uint8_t *v = malloc(1 + key_len + msg_len);
    if (!v)
        clm_fatal("worker %d: out of memory", w->c.index);
    v[0] = (uint8_t)key_len;
    memcpy(v + 1, key, key_len);
    memcpy(v + 1 + key_len, msg, msg_len);
    ident_add_row(w, number, ROW_OUTBOX_SET, field, strlen(field), v, 1 + key_len + msg_len);
    free(v);
    keep_out(w, number, UINT64_MAX, field, key, key_len, msg, msg_len); /* gen set by the cut */
}

void ident_alias_row(clm_worker *w, int32_t number, const char *alias, size_t alias_len,
                      const char *target, size_t target_len, int64_t at_ms)
{
    char v[24 + CLM_ID_MAX + 1];
    int n = snprintf(v, sizeof(v), "%" PRId64 " %.*s", at_ms, (int)target_len, target);
    ident_add_row(w, number, ROW_ALIAS_SET, alias, alias_len, v, (size_t)n);
}

/* ---- loading a partition number ---------------------------------------- */

static redisReply *hgetall(clm_worker *w, const char *key)
{
    char err[256];
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
        return rep;
    }
}

/* Reads a hash of "<ms> <id>" values (the alias and merged tables). */
static void load_table(clm_worker *w, const char *key, clm_alias *t)
{
    redisReply *rep = hgetall(w, key);
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        const char *sp = v->type == REDIS_REPLY_STRING ? memchr(v->str, ' ', v->len) : NULL;
        char *end = NULL;
        long long at = sp ? strtoll(v->str, &end, 10) : 0;
        size_t tlen = sp ? v->len - (size_t)(sp + 1 - v->str) : 0;
        if (!sp || end != sp || f->type != REDIS_REPLY_STRING ||
            clm_alias_add(t, f->str, f->len, sp + 1, tlen, at) < 0)
            clm_fatal("worker %d: %s: field \"%.*s\" is not an alias (expected \"<ms> <id>\")",
                      w->c.index, key, f->type == REDIS_REPLY_STRING ? (int)f->len : 0,
                      f->type == REDIS_REPLY_STRING ? f->str : "");
    }
    freeReplyObject(rep);
}

/* The alias table and the undelivered outbox of a partition number, from
 * Redis, when the worker does not hold them yet. */
static void take_number(clm_worker *w, int32_t number)
{
    worker_ident *x = w->ident;
    if (ident_part_of(x, number))
        return;
    if (x->nparts == x->cap_parts) {
        size_t cap = x->cap_parts ? 2 * x->cap_parts : 8;
        ident_part *v = realloc(x->parts, cap * sizeof(*v));
        if (!v)
            clm_fatal("worker %d: out of memory", w->c.index);
        x->parts = v;
        x->cap_parts = cap;
    }
    ident_part *p = &x->parts[x->nparts];
    memset(p, 0, sizeof(*p));
    p->number = number;
    p->expired_wm = CLM_NO_TS;
    p->alias = clm_alias_new();
    p->merged = clm_alias_new();
    if (!p->alias || !p->merged)
        clm_fatal("worker %d: out of memory", w->c.index);
    x->nparts++;
    char key[CLM_KEY_MAX];
    if (clm_key_alias(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
        clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
    load_table(w, key, p->alias);
    if (clm_key_identity_merged(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
        clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
    load_table(w, key, p->merged);
    redisReply *rep;
    if (clm_key_identity_seen(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
        clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
    rep = hgetall(w, key);
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        char *end1 = NULL, *end2 = NULL;
        uint64_t h = f->type == REDIS_REPLY_STRING ? strtoull(f->str, &end1, 16) : 0;
        long long at = v->type == REDIS_REPLY_STRING ? strtoll(v->str, &end2, 10) : 0;
        if (!h || !end1 || *end1 || !end2 || *end2)
            clm_fatal("worker %d: %s: field \"%.*s\" is not a received message (expected <hex> "
                      "-> <ms>)", w->c.index, key, f->type == REDIS_REPLY_STRING ? (int)f->len : 0,
                      f->type == REDIS_REPLY_STRING ? f->str : "");
        if (ident_seen_put(&p->seen, h, at) < 0)
            clm_fatal("worker %d: out of memory", w->c.index);
    }
    freeReplyObject(rep);
    if (clm_key_identity_outbox(key, sizeof(key), w->c.prefix, w->c.group, number) < 0)
        clm_fatal("worker %d: redis.prefix and kafka.group_id are too long", w->c.index);
    rep = hgetall(w, key);
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || v->len < 2 ||
            (size_t)(uint8_t)v->str[0] + 1 > v->len || f->len >= sizeof(((out_msg *)0)->field))
            clm_fatal("worker %d: %s: field \"%.*s\" is not an identity message", w->c.index,
                      key, f->type == REDIS_REPLY_STRING ? (int)f->len : 0,
                      f->type == REDIS_REPLY_STRING ? f->str : "");
        size_t klen = (uint8_t)v->str[0];
        keep_out(w, number, 0, f->str, v->str + 1, klen, (const uint8_t *)v->str + 1 + klen,
                 v->len - 1 - klen);
    }
    if (rep->elements)
        log_info("worker %d: partition %d: %zu identity messages to deliver again", w->c.index,
                 (int)number, rep->elements / 2);
    freeReplyObject(rep);
}

void worker_ident_assign(clm_worker *w, int slot, int32_t topic, int32_t number)
{
    if (topic == w->c.identity_topic)
        clm_shard_part_set_internal(w->shard, slot);
    take_number(w, number);
}

/* Waits for every message of the shared producer in flight. */
static void drain(clm_worker *w)
{
    while (rd_kafka_flush(w->c.identity_producer, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("worker %d: identity messages still undelivered; waiting", w->c.index);
}

void worker_ident_release(clm_worker *w, int32_t number)
{
    worker_ident *x = w->ident;
    drain(w); /* no delivery report may reach a freed message */
    size_t k = 0;
    for (size_t i = 0; i < x->nouts; i++)
        if (x->outs[i]->number == number)
            out_free(x->outs[i]); /* in the outbox still: the next owner delivers it */
        else
            x->outs[k++] = x->outs[i];
    x->nouts = k;
    for (size_t i = 0; i < x->nparts; i++)
        if (x->parts[i].number == number) {
            clm_alias_free(x->parts[i].alias);
            clm_alias_free(x->parts[i].merged);
            seen_release(&x->parts[i].seen);
            x->parts[i] = x->parts[--x->nparts];
            break;
        }
}

/* ---- cut and delivery ----------------------------------------------------- */

typedef struct expire_ctx {
    clm_worker *w;
    int32_t number;
    int64_t before;
    int kind; /* of the deletion rows */
} expire_ctx;

static int expire_row(void *arg, const char *alias, size_t alias_len, const char *target,
                      size_t target_len, int64_t at_ms)
{
    expire_ctx *c = arg;
    (void)target;
    (void)target_len;
    if (at_ms < c->before)
        ident_add_row(c->w, c->number, c->kind, alias, alias_len, NULL, 0);
    return 0;
}

/* Drops the aliases made more than identity.alias_ttl_days before their
 * partition number's watermark, with their stored rows: a pass over the
 * tables each time the watermark moved EXPIRE_STEP_MS (an alias lives a
 * day or more, so it goes within a minute of event time of its end). */
#define EXPIRE_STEP_MS 60000
static void expire_aliases(clm_worker *w)
{
    worker_ident *x = w->ident;
    for (size_t i = 0; i < x->nparts; i++) {
        ident_part *p = &x->parts[i];
        int64_t wm = clm_shard_number_watermark(w->shard, p->number);
        if (wm == CLM_NO_TS || (p->expired_wm != CLM_NO_TS && wm - p->expired_wm < EXPIRE_STEP_MS))
            continue;
        p->expired_wm = wm;
        expire_ctx c = { w, p->number, wm - w->c.identity_alias_ttl_ms, ROW_ALIAS_DEL };
        clm_alias_each(p->alias, expire_row, &c);
        clm_alias_expire(p->alias, wm, w->c.identity_alias_ttl_ms);
        c.kind = ROW_MERGED_DEL;
        clm_alias_each(p->merged, expire_row, &c);
        clm_alias_expire(p->merged, wm, w->c.identity_alias_ttl_ms);
    }
}

int worker_ident_cut(clm_worker *w, clm_batch *b)
{
    worker_ident *x = w->ident;
    expire_aliases(w);
    for (size_t i = 0; i < x->nrows; i++) {
        row *r = &x->rows[i];
        clm_cmdbuf *cb = clm_batch_cmds(b, r->number);
        char key[CLM_KEY_MAX];
        if (!cb)
            return -ENOMEM;
        int kl = r->kind == ROW_ALIAS_SET || r->kind == ROW_ALIAS_DEL
                     ? clm_key_alias(key, sizeof(key), w->c.prefix, w->c.group, r->number)
                 : r->kind == ROW_MERGED_SET || r->kind == ROW_MERGED_DEL
                     ? clm_key_identity_merged(key, sizeof(key), w->c.prefix, w->c.group,
                                               r->number)
                 : r->kind == ROW_SEEN_SET || r->kind == ROW_SEEN_DEL
                     ? clm_key_identity_seen(key, sizeof(key), w->c.prefix, w->c.group, r->number)
                     : clm_key_identity_outbox(key, sizeof(key), w->c.prefix, w->c.group,
                                               r->number);
        if (kl < 0)
            return -ENAMETOOLONG;
        bool set = r->kind == ROW_ALIAS_SET || r->kind == ROW_OUTBOX_SET ||
                   r->kind == ROW_SEEN_SET || r->kind == ROW_MERGED_SET;
        const char *argv[] = { set ? "HSET" : "HDEL", key, r->field, r->value };
        size_t lens[] = { 4, strlen(key), r->field_len, r->value_len };
        int e = clm_cmdbuf_append(cb, set ? 4 : 3, argv, lens);
        if (e < 0)
            return e;
    }
    for (size_t i = 0; i < x->nrows; i++) {
        free(x->rows[i].field);
        free(x->rows[i].value);
    }
    x->nrows = 0;
    for (size_t i = 0; i < x->nouts; i++)
        if (x->outs[i]->gen == UINT64_MAX)
            x->outs[i]->gen = b->gen;
    return 0;
}

bool worker_ident_pending(const clm_worker *w)
{
    return w->ident->nrows > 0;
}

void worker_ident_delivered(void *opaque, rd_kafka_resp_err_t err)
{
    out_msg *o = opaque;
    atomic_store(&o->state, err ? OUT_WAIT : OUT_DELIVERED);
}

void worker_ident_deliver(clm_worker *w)
{
    worker_ident *x = w->ident;
    uint64_t acked = clm_shard_acked_gen(w->shard);
    bool sent = false;
    rd_kafka_poll(w->c.identity_producer, 0); /* delivery reports of earlier calls */
    for (size_t i = 0; i < x->nouts; i++) {
        out_msg *o = x->outs[i];
        if (o->gen > acked || atomic_load(&o->state) != OUT_WAIT)
            continue;
        atomic_store(&o->state, OUT_INFLIGHT);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            w->c.identity_producer, RD_KAFKA_V_TOPIC(w->c.topics[w->c.identity_topic]),
            RD_KAFKA_V_HEADER(ID_HEADER, o->field, (ssize_t)strlen(o->field)),
            RD_KAFKA_V_KEY(o->key, o->key_len), /* the partitioner sends it to the key's owner */
            RD_KAFKA_V_VALUE(o->val, o->val_len), RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);
        if (e) {
            atomic_store(&o->state, OUT_WAIT);
            log_warn("worker %d: cannot produce an identity message: %s", w->c.index,
                     rd_kafka_err2str(e));
            break;
        }
        sent = true;
    }
    if (sent)
        rd_kafka_flush(w->c.identity_producer, 5000);
    size_t k = 0;
    for (size_t i = 0; i < x->nouts; i++) {
        out_msg *o = x->outs[i];
        if (atomic_load(&o->state) == OUT_DELIVERED) {
            ident_add_row(w, o->number, ROW_OUTBOX_DEL, o->field, strlen(o->field), NULL, 0);
            out_free(o);
        } else {
            x->outs[k++] = o;
        }
    }
    x->nouts = k;
}


/* Drops expired received ids of every partition number (at most once a
 * minute). */
void ident_prune_seen(clm_worker *w)
{
    static _Thread_local int64_t last;
    int64_t now = clm_wall_ms();
    if (now - last < 60000)
        return;
    last = now;
    worker_ident *x = w->ident;
    for (size_t i = 0; i < x->nparts; i++) {
        seen_set *t = &x->parts[i].seen, keep = { 0 };
        size_t dropped = 0;
        for (size_t j = 0; j < t->cap; j++) {
            if (!t->h[j])
                continue;
            if (now - t->at[j] <= SEEN_KEEP_MS) {
                if (ident_seen_put(&keep, t->h[j], t->at[j]) < 0)
                    clm_fatal("worker %d: out of memory", w->c.index);
                continue;
            }
            char f[24];
            int n = snprintf(f, sizeof(f), "%016" PRIx64, t->h[j]);
            ident_add_row(w, x->parts[i].number, ROW_SEEN_DEL, f, (size_t)n, NULL, 0);
            dropped++;
        }
        if (dropped) {
            seen_release(t);
            *t = keep;
        } else {
            seen_release(&keep);
        }
    }
}
