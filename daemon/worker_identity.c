/* daemon/worker_identity.c - a worker's part of the identity merge
 * (README.md, "Identity merge"): the alias tables of its partition numbers,
 * the messages it sends through identity.topic, and those it reads there.
 *
 * Every message it sends goes through the partition's outbox
 * (<prefix>identity:outbox:{g:p}): written by the flush that consumed what
 * caused it, with that flush's offsets, produced once Redis acknowledged
 * the flush, and deleted by a later flush once Kafka acknowledged it. A
 * crash anywhere replays the step or delivers a message twice; receivers
 * drop what they already did (an alias already there, a merge record id in
 * the known customer's duplicate set, a forwarded event's id). Steps:
 *   identify (known K, anonymous A) read on K's partition: applied to K as
 *     an event, and a merge request keyed A is sent;
 *   request read by A's owner: A is frozen (dropped, its stored state
 *     removed by the flush), the alias A -> K recorded in the partition's
 *     alias hash, and the merge record (A's state) sent keyed K; a request
 *     for an A aliased already is dropped (the first identify wins);
 *   record read by K's owner: merged into K (clm_shard_merge);
 *   an event of an aliased id: forwarded, re-keyed to the alias's end, with
 *     its event id;
 *   a record or forwarded event for an id that is an alias where it
 *     arrives (a merge into an id merged on since): sent on to that alias's
 *     end.
 * A forget request of an id drops the aliases from it and to it that its
 * partition holds.
 *
 * Threads: the worker's own, but the delivery reports (librdkafka's
 * thread), which only set a row's atomic state.
 */
#include "daemon/worker_identity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alias.h"
#include "core/merge.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/worker_impl.h"
#include "store/identity_msg.h"
#include "store/keys.h"
#include "store/merge_record.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* The header naming a message (its outbox field): what receivers dedup by. */
#define ID_HEADER "clm.id"

/* States of an outbox message in memory. */
enum { OUT_WAIT, OUT_INFLIGHT, OUT_DELIVERED };

/* An outbox message: committed by flush `gen` (0: read from Redis). */
typedef struct out_msg {
    int32_t number;
    uint64_t gen;
    char field[48];
    char *key;
    size_t key_len;
    uint8_t *val;
    size_t val_len;
    _Atomic int state;
} out_msg;

/* A write for the next cut, into partition number `number`'s section. */
typedef struct row {
    int32_t number;
    enum { ROW_ALIAS_SET, ROW_ALIAS_DEL, ROW_OUTBOX_SET, ROW_OUTBOX_DEL, ROW_SEEN_SET,
           ROW_SEEN_DEL, ROW_MERGED_SET, ROW_MERGED_DEL } kind;
    char *field, *value; /* value: NULL for deletions */
    size_t field_len, value_len;
} row;

/* Messages of identity.topic a partition number received (the hash of
 * their id, header clm.id), with the wall time: a message produced twice
 * (its sender stopped after producing it, before the outbox knew) is
 * dropped the second time. Kept SEEN_KEEP_MS. Open addressing; 0 is
 * free. */
#define SEEN_KEEP_MS (24LL * 3600 * 1000)
typedef struct seen_set {
    uint64_t *h;
    int64_t *at;
    size_t cap, n;
} seen_set;

typedef struct ident_part {
    int32_t number;
    clm_alias *alias;  /* its anonymous ids merged away: alias -> known id */
    clm_alias *merged; /* merges into its known ids: anonymous id -> known id */
    seen_set seen;
} ident_part;

struct worker_ident {
    ident_part *parts;
    size_t nparts, cap_parts;
    row *rows;
    size_t nrows, cap_rows;
    out_msg **outs;
    size_t nouts, cap_outs;
    clm_record_buf buf;
};

static bool seen_has(const seen_set *t, uint64_t h)
{
    for (size_t i = t->cap ? h & (t->cap - 1) : 0; t->cap && t->h[i]; i = (i + 1) & (t->cap - 1))
        if (t->h[i] == h)
            return true;
    return false;
}

static int seen_put(seen_set *t, uint64_t h, int64_t at)
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
                seen_put(&g, t->h[i], t->at[i]);
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
static uint64_t id_hash(const char *id, size_t len)
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

static ident_part *part_of(worker_ident *x, int32_t number)
{
    for (size_t i = 0; i < x->nparts; i++)
        if (x->parts[i].number == number)
            return &x->parts[i];
    return NULL;
}

/* ---- rows and outbox ---------------------------------------------------- */

static void add_row(clm_worker *w, int32_t number, int kind, const char *field, size_t field_len,
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
static void send_msg(clm_worker *w, int32_t number, const char *field, const char *key,
                     size_t key_len, const uint8_t *msg, size_t msg_len)
{
    uint8_t *v = malloc(1 + key_len + msg_len);
    if (!v)
        clm_fatal("worker %d: out of memory", w->c.index);
    v[0] = (uint8_t)key_len;
    memcpy(v + 1, key, key_len);
    memcpy(v + 1 + key_len, msg, msg_len);
    add_row(w, number, ROW_OUTBOX_SET, field, strlen(field), v, 1 + key_len + msg_len);
    free(v);
    keep_out(w, number, UINT64_MAX, field, key, key_len, msg, msg_len); /* gen set by the cut */
}

static void alias_row(clm_worker *w, int32_t number, const char *alias, size_t alias_len,
                      const char *target, size_t target_len, int64_t at_ms)
{
    char v[24 + CLM_ID_MAX + 1];
    int n = snprintf(v, sizeof(v), "%" PRId64 " %.*s", at_ms, (int)target_len, target);
    add_row(w, number, ROW_ALIAS_SET, alias, alias_len, v, (size_t)n);
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
    if (part_of(x, number))
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
        if (seen_put(&p->seen, h, at) < 0)
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
        add_row(c->w, c->number, c->kind, alias, alias_len, NULL, 0);
    return 0;
}

/* Drops the aliases made more than identity.alias_ttl_days before their
 * partition number's watermark, with their stored rows. */
static void expire_aliases(clm_worker *w)
{
    worker_ident *x = w->ident;
    for (size_t i = 0; i < x->nparts; i++) {
        ident_part *p = &x->parts[i];
        int64_t wm = clm_shard_number_watermark(w->shard, p->number);
        if (wm == CLM_NO_TS)
            continue;
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
            add_row(w, o->number, ROW_OUTBOX_DEL, o->field, strlen(o->field), NULL, 0);
            out_free(o);
        } else {
            x->outs[k++] = o;
        }
    }
    x->nouts = k;
}

/* ---- the steps -------------------------------------------------------------- */

/* The cached (or loaded) customer `id` of partition number `number`. */
static clm_customer *load_one(clm_worker *w, const char *id, size_t len, int32_t number)
{
    clm_customer *c = clm_shard_customer(w->shard, id, len);
    if (c)
        return c;
    uint16_t part = (uint16_t)number;
    worker_make_room(w, 1);
    worker_load(w, 1, &id, &len, &part, &c);
    worker_insert_loaded(w, 1, &c);
    return clm_shard_customer(w->shard, id, len);
}

/* The end of id's alias chain in partition number `number`, or NULL. */
static const char *resolve(clm_worker *w, int32_t number, const char *id, size_t len,
                           size_t *out_len)
{
    ident_part *p = part_of(w->ident, number);
    return p ? clm_alias_lookup(p->alias, id, len, out_len) : NULL;
}

bool worker_ident_aliased(clm_worker *w, int32_t number, const char *id, size_t len)
{
    return resolve(w, number, id, len, NULL) != NULL;
}

static void send_request(clm_worker *w, int32_t number, const clm_event *ev, const char *known,
                         size_t known_len)
{
    if (known_len == ev->anonymous_id_len && memcmp(known, ev->anonymous_id, known_len) == 0)
        return; /* identify of an alias's own end: nothing to merge */
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_request(&x->buf, ev->ts_ms, known, known_len, ev->anonymous_id,
                          ev->anonymous_id_len, ev->event_id, ev->event_id_len) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    uint64_t id = clm_merge_record_id(w->c.group, strlen(w->c.group), ev->anonymous_id,
                                      ev->anonymous_id_len, known, known_len, ev->event_id,
                                      ev->event_id_len);
    char field[48];
    snprintf(field, sizeof(field), "q:%016" PRIx64, id);
    send_msg(w, number, field, ev->anonymous_id, ev->anonymous_id_len, x->buf.p, x->buf.len);
}

static void send_forward(clm_worker *w, int32_t number, const char *field, int64_t ref_ms,
                         const char *known, size_t known_len, const char *anon, size_t anon_len,
                         const char *json, size_t json_len)
{
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_forward(&x->buf, ref_ms, known, known_len, anon, anon_len, json, json_len) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    send_msg(w, number, field, known, known_len, x->buf.p, x->buf.len);
}

bool worker_ident_event(clm_worker *w, int slot, int topic, const rd_kafka_message_t *m,
                        const clm_event *ev)
{
    int32_t number = m->partition;
    size_t tlen;
    const char *target = resolve(w, number, ev->customer_id, ev->customer_id_len, &tlen);
    if (target) {
        char field[48];
        rd_kafka_timestamp_type_t tstype;
        int64_t ref = rd_kafka_message_timestamp(m, &tstype);
        snprintf(field, sizeof(field), "f:%d:%d:%" PRId64, topic, (int)number, m->offset);
        send_forward(w, number, field, ref < 0 ? clm_wall_ms() : ref, target, tlen,
                     ev->customer_id, ev->customer_id_len, m->payload, m->len);
        clm_shard_note_forwarded(w->shard, slot, m->offset, ev);
        return true;
    }
    if (ev->type == CLM_EV_IDENTIFY)
        send_request(w, number, ev, ev->customer_id, ev->customer_id_len);
    return false;
}

typedef struct forget_ctx {
    clm_worker *w;
    int32_t number;
    int64_t offset; /* of the message that caused it (names the releases sent) */
    const char *id;
    size_t len;
    int kind; /* ROW_ALIAS_DEL or ROW_MERGED_DEL */
} forget_ctx;

static bool id_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Alias table: the rows of the alias `id` and of those whose target is
 * `id` go. */
static int forget_row(void *arg, const char *alias, size_t alias_len, const char *target,
                      size_t target_len, int64_t at_ms)
{
    forget_ctx *c = arg;
    (void)at_ms;
    if (id_eq(alias, alias_len, c->id, c->len) || id_eq(target, target_len, c->id, c->len))
        add_row(c->w, c->number, ROW_ALIAS_DEL, alias, alias_len, NULL, 0);
    return 0;
}

/* Merged table: every anonymous id merged into `id` gets an alias release
 * (its owner drops the alias), and the row goes. */
static int release_row(void *arg, const char *alias, size_t alias_len, const char *target,
                       size_t target_len, int64_t at_ms)
{
    forget_ctx *c = arg;
    if (!id_eq(target, target_len, c->id, c->len) && !id_eq(alias, alias_len, c->id, c->len))
        return 0;
    add_row(c->w, c->number, ROW_MERGED_DEL, alias, alias_len, NULL, 0);
    if (!id_eq(target, target_len, c->id, c->len))
        return 0;
    worker_ident *x = c->w->ident;
    x->buf.len = 0;
    if (clm_idmsg_unalias(&x->buf, at_ms, target, target_len, alias, alias_len) < 0)
        clm_fatal("worker %d: out of memory", c->w->c.index);
    char field[64];
    snprintf(field, sizeof(field), "u:%d:%" PRId64 ":%016" PRIx64, (int)c->number, c->offset,
             id_hash(alias, alias_len));
    send_msg(c->w, c->number, field, alias, alias_len, x->buf.p, x->buf.len);
    return 0;
}

/* Drops what partition number `number` holds of `id`: its alias, the
 * aliases to it, and the merges into it (releasing their aliases where
 * they are held). */
static void drop_id(clm_worker *w, int32_t number, int64_t offset, const char *id, size_t len)
{
    ident_part *p = part_of(w->ident, number);
    if (!p)
        return;
    forget_ctx c = { w, number, offset, id, len, ROW_ALIAS_DEL };
    clm_alias_each(p->alias, forget_row, &c);
    clm_alias_remove(p->alias, id, len);
    clm_alias_each(p->merged, release_row, &c);
    clm_alias_remove(p->merged, id, len);
}

void worker_ident_forget(clm_worker *w, int32_t number, int64_t offset, const char *id,
                         size_t len)
{
    drop_id(w, number, offset, id, len);
}

/* An alias release read by the anonymous id's owner: the known id it was
 * merged into was erased. */
static void on_unalias(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    ident_part *p = part_of(w->ident, m->partition);
    int64_t at;
    const char *had = clm_alias_target(p->alias, q->anon, q->anon_len, &at);
    if (had && strcmp(had, q->known) == 0)
        drop_id(w, m->partition, m->offset, q->anon, q->anon_len);
    clm_shard_note_done(w->shard, slot, m->offset);
}

/* A merge request read by the anonymous id's owner. */
static void on_request(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    ident_part *p = part_of(w->ident, number);
    int64_t at;
    const char *had = clm_alias_target(p->alias, q->anon, q->anon_len, &at);
    if (had) {
        if (strcmp(had, q->known) != 0)
            log_info("worker %d: %s is merged into %s already: identify %s into %s ignored",
                     w->c.index, q->anon, had, q->anon, q->known);
        clm_shard_note_done(w->shard, slot, m->offset); /* a redelivery, or a later identify */
        return;
    }
    size_t end_len;
    const char *end = clm_alias_lookup(p->alias, q->known, q->known_len, &end_len);
    if ((end && end_len == q->anon_len && memcmp(end, q->anon, end_len) == 0)) {
        log_info("worker %d: %s resolves to %s: identify %s into %s would close a cycle; ignored",
                 w->c.index, q->known, q->anon, q->anon, q->known);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    if (!clm_shard_forget_ready(w->shard, q->anon, q->anon_len)) {
        worker_cut(w); /* the anonymous customer's changes commit before it is frozen */
        worker_wait_acked(w, w->gen);
    }
    clm_customer *anon = load_one(w, q->anon, q->anon_len, number);
    if (!anon)
        clm_fatal("worker %d: cannot load %s", w->c.index, q->anon);
    uint64_t id = clm_merge_record_id(w->c.group, strlen(w->c.group), q->anon, q->anon_len,
                                      q->known, q->known_len, q->event_id, q->event_id_len);
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_record(&x->buf) < 0 ||
        clm_merge_record_encode(&x->buf, id, q->ts, q->known, q->known_len, q->event_id,
                                q->event_id_len, anon) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    int r = clm_alias_add(p->alias, q->anon, q->anon_len, q->known, q->known_len, q->ts);
    if (r < 0)
        clm_fatal("worker %d: cannot record the alias %s -> %s: %s", w->c.index, q->anon,
                  q->known, strerror(-r));
    alias_row(w, number, q->anon, q->anon_len, q->known, q->known_len, q->ts);
    char field[48];
    snprintf(field, sizeof(field), "r:%016" PRIx64, id);
    send_msg(w, number, field, q->known, q->known_len, x->buf.p, x->buf.len);
    r = clm_shard_freeze(w->shard, slot, m->offset, number, q->anon, q->anon_len);
    if (r < 0)
        clm_fatal("worker %d: cannot freeze %s: %s", w->c.index, q->anon, strerror(-r));
    clm_alerting_forget(w->alerting, number, q->anon, q->anon_len);
}

/* A merge record read by the known id's owner. */
static void on_record(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    clm_merge_record mr;
    char err[256];
    clm_merge_record_init(&mr);
    int r = clm_merge_record_decode(&mr, q->body, q->body_len, err, sizeof(err));
    if (r == -ENOMEM)
        clm_fatal("worker %d: out of memory", w->c.index);
    if (r < 0) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": dropped: %s", w->c.index,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, err);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    size_t end_len;
    const char *end = resolve(w, number, mr.known, mr.known_len, &end_len);
    if (end) {
        /* the known id was merged on since: the record goes to its end */
        worker_ident *x = w->ident;
        x->buf.len = 0;
        if (end_len == mr.anon->id_len && memcmp(end, mr.anon->id, end_len) == 0) {
            clm_shard_note_done(w->shard, slot, m->offset);
        } else {
            if (clm_idmsg_record(&x->buf) < 0 ||
                clm_merge_record_encode(&x->buf, mr.id, mr.merge_ts, end, end_len, mr.event_id,
                                        mr.event_id_len, mr.anon) < 0)
                clm_fatal("worker %d: out of memory", w->c.index);
            char field[48];
            snprintf(field, sizeof(field), "r:%016" PRIx64 ":%d:%" PRId64, mr.id, (int)number,
                     m->offset); /* another message than the one read: its own id */
            send_msg(w, number, field, end, end_len, x->buf.p, x->buf.len);
            clm_shard_note_done(w->shard, slot, m->offset);
        }
        clm_merge_record_release(&mr);
        return;
    }
    clm_customer *known = load_one(w, mr.known, mr.known_len, number);
    if (!known)
        clm_fatal("worker %d: cannot load %s", w->c.index, mr.known);
    r = clm_shard_merge(w->shard, slot, m->offset, known, mr.anon, mr.id, mr.merge_ts);
    if (r == -ENOMEM)
        clm_fatal("worker %d: out of memory merging %s into %s", w->c.index, mr.anon->id, mr.known);
    ident_part *p = part_of(w->ident, number);
    if (r == CLM_APPLIED && p &&
        clm_alias_add(p->merged, mr.anon->id, mr.anon->id_len, mr.known, mr.known_len,
                      mr.merge_ts) >= 0) {
        char v[24 + CLM_ID_MAX + 1];
        int n = snprintf(v, sizeof(v), "%" PRId64 " %s", mr.merge_ts, mr.known);
        add_row(w, number, ROW_MERGED_SET, mr.anon->id, mr.anon->id_len, v, (size_t)n);
    }
    if (r < 0) {
        log_err("worker %d: merge record %016" PRIx64 " of %s into %s: not applied (%s)",
                w->c.index, mr.id, mr.anon->id, mr.known, strerror(-r));
        clm_shard_note_done(w->shard, slot, m->offset);
    }
    clm_merge_record_release(&mr);
}

/* An event forwarded to the known id's owner. */
static void on_forward(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    clm_event ev;
    clm_reject rej;
    rej.detail[0] = '\0';
    clm_msg_meta meta = { .key = q->anon, .key_len = q->anon_len, .ref_ms = q->ts };
    if (clm_decode_fast((const char *)q->body, q->body_len, &meta, &w->c.decode, &ev, &rej) != 0 ||
        !ev.has_customer) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": a forwarded event does not decode: %s",
                w->c.index, rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                rej.detail);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    size_t end_len;
    const char *end = resolve(w, number, q->known, q->known_len, &end_len);
    if (end) {
        char field[48];
        snprintf(field, sizeof(field), "f:%d:%d:%" PRId64, w->c.identity_topic, (int)number,
                 m->offset);
        if (!(end_len == q->anon_len && memcmp(end, q->anon, end_len) == 0))
            send_forward(w, number, field, q->ts, end, end_len, q->anon, q->anon_len,
                         (const char *)q->body, q->body_len);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    memcpy(ev.customer_id, q->known, q->known_len + 1);
    ev.customer_id_len = q->known_len;
    if (ev.type == CLM_EV_FORGET) { /* never forwarded; kept for safety */
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    if (ev.type == CLM_EV_IDENTIFY)
        send_request(w, number, &ev, q->known, q->known_len);
    clm_customer *c = load_one(w, q->known, q->known_len, number);
    if (!c)
        clm_fatal("worker %d: cannot load %s", w->c.index, q->known);
    if (clm_shard_apply_forwarded(w->shard, slot, m->offset, &ev, c) < 0)
        clm_fatal("worker %d: out of memory applying a forwarded event", w->c.index);
}

/* The hash of a message's id (header clm.id), or 0 when it has none. */
static uint64_t message_id(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, ID_HEADER, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return 0;
    return id_hash(v, n);
}

/* Drops expired received ids of every partition number (at most once a
 * minute). */
static void prune_seen(clm_worker *w)
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
                if (seen_put(&keep, t->h[j], t->at[j]) < 0)
                    clm_fatal("worker %d: out of memory", w->c.index);
                continue;
            }
            char f[24];
            int n = snprintf(f, sizeof(f), "%016" PRIx64, t->h[j]);
            add_row(w, x->parts[i].number, ROW_SEEN_DEL, f, (size_t)n, NULL, 0);
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

void worker_ident_message(clm_worker *w, int slot, const rd_kafka_message_t *m)
{
    clm_idmsg q;
    char err[256];
    ident_part *p = part_of(w->ident, m->partition);
    uint64_t mid = message_id(m);
    prune_seen(w);
    if (mid && p && seen_has(&p->seen, mid)) {
        clm_shard_note_done(w->shard, slot, m->offset); /* produced twice: done already */
        return;
    }
    if (mid && p) {
        int64_t now = clm_wall_ms();
        char f[24], v[24];
        int fn = snprintf(f, sizeof(f), "%016" PRIx64, mid);
        int vn = snprintf(v, sizeof(v), "%" PRId64, now);
        if (seen_put(&p->seen, mid, now) < 0)
            clm_fatal("worker %d: out of memory", w->c.index);
        add_row(w, m->partition, ROW_SEEN_SET, f, (size_t)fn, v, (size_t)vn);
    }
    if (clm_idmsg_decode(&q, m->payload, m->len, err, sizeof(err)) < 0) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": dropped: %s", w->c.index,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, err);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    switch (q.kind) {
    case CLM_IDMSG_REQUEST:
        on_request(w, slot, m, &q);
        break;
    case CLM_IDMSG_RECORD:
        on_record(w, slot, m, &q);
        break;
    case CLM_IDMSG_UNALIAS:
        on_unalias(w, slot, m, &q);
        break;
    default:
        on_forward(w, slot, m, &q);
        break;
    }
}
