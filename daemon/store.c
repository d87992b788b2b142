/* daemon/store.c - see store.h. */
#include "daemon/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpi.h"
#include "core/timeutil.h"
#include "daemon/alert_json.h"

void clm_cmdbuf_init(clm_cmdbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void clm_cmdbuf_release(clm_cmdbuf *b)
{
    free(b->buf);
    clm_cmdbuf_init(b);
}

void clm_cmdbuf_reset(clm_cmdbuf *b)
{
    b->len = 0;
    b->ncmds = 0;
}

static int reserve(clm_cmdbuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb)
        return -ENOMEM;
    b->buf = nb;
    b->cap = cap;
    return 0;
}

/* "<c><n>\r\n" */
static void put_len(clm_cmdbuf *b, char c, size_t n)
{
    b->buf[b->len++] = c;
    b->len += (size_t)clm_i64_format((int64_t)n, b->buf + b->len);
    b->buf[b->len++] = '\r';
    b->buf[b->len++] = '\n';
}

/* Writes the RESP array of bulk strings itself (what redisFormatCommandArgv
 * produces, byte for byte) into the batch buffer: hiredis's formatter
 * allocates per command, which dominated flush cost at 100k customers per
 * flush. */
int clm_cmdbuf_append(clm_cmdbuf *b, int argc, const char **argv, const size_t *argvlen)
{
    size_t need = 24;
    for (int i = 0; i < argc; i++)
        need += 24 + (argvlen ? argvlen[i] : strlen(argv[i]));
    if (reserve(b, need) < 0)
        return -ENOMEM;
    put_len(b, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        put_len(b, '$', n);
        memcpy(b->buf + b->len, argv[i], n);
        b->len += n;
        b->buf[b->len++] = '\r';
        b->buf[b->len++] = '\n';
    }
    b->ncmds++;
    return 0;
}

/* Collects a customer's fields for one HSET. Names are string literals of
 * the core; values are copied into `vals` (offsets, since it may move). */
typedef struct hset_ctx {
    const char *names[CLM_STORE_MAX_FIELDS];
    size_t off[CLM_STORE_MAX_FIELDS], len[CLM_STORE_MAX_FIELDS];
    int n;
    char *vals;
    size_t used, cap;
} hset_ctx;

static int collect_field(void *vctx, const char *name, const char *value, size_t len)
{
    hset_ctx *h = vctx;
    if (h->n == CLM_STORE_MAX_FIELDS)
        return -E2BIG;
    if (h->used + len > h->cap) {
        size_t cap = h->cap * 2;
        while (cap < h->used + len)
            cap *= 2;
        char *nv = realloc(h->vals, cap);
        if (!nv)
            return -ENOMEM;
        h->vals = nv;
        h->cap = cap;
    }
    memcpy(h->vals + h->used, value, len);
    h->names[h->n] = name;
    h->off[h->n] = h->used;
    h->len[h->n++] = len;
    h->used += len;
    return 0;
}

static int format_customer_hash(clm_cmdbuf *b, const char *prefix, const clm_apply_opts *o,
                                const clm_customer *c)
{
    const clm_stages *stages = o->stages;
    hset_ctx h = { .cap = 1024 };
    char key[256];
    int klen = snprintf(key, sizeof(key), "%scustomer:%.*s", prefix, (int)c->id_len, c->id);
    const char *argv[2 + 2 * CLM_STORE_MAX_FIELDS];
    size_t lens[2 + 2 * CLM_STORE_MAX_FIELDS];
    int r;

    h.vals = malloc(h.cap);
    if (!h.vals)
        return -ENOMEM;
    if ((r = clm_customer_emit(c, stages, collect_field, &h)) < 0)
        goto out_free_vals;
    if (o->risk) {
        clm_risk_eval e;
        clm_customer_risk_eval(c, o, &e);
        char *json = e.n ? clm_risk_reasons_json(&e) : NULL;
        if (e.n && !json) {
            r = -ENOMEM;
            goto out_free_vals;
        }
        r = collect_field(&h, "risk_reasons", json ? json : "[]", json ? strlen(json) : 2);
        free(json);
        if (r < 0)
            goto out_free_vals;
    }
    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = (size_t)klen;
    for (int i = 0; i < h.n; i++) {
        argv[2 + 2 * i] = h.names[i];
        lens[2 + 2 * i] = strlen(h.names[i]);
        argv[3 + 2 * i] = h.vals + h.off[i];
        lens[3 + 2 * i] = h.len[i];
    }
    r = clm_cmdbuf_append(b, 2 + 2 * h.n, argv, lens);
out_free_vals:
    free(h.vals);
    return r;
}

static int hincrby(clm_cmdbuf *b, const char *key, const char *field, int64_t by)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, by);
    const char *argv[] = { "HINCRBY", key, field, num };
    size_t lens[] = { 7, strlen(key), strlen(field), strlen(num) };
    return clm_cmdbuf_append(b, 4, argv, lens);
}

int clm_store_format_stats(clm_cmdbuf *b, const char *prefix, const clm_shard_stats *st)
{
    char stats[128], rej[128];
    snprintf(stats, sizeof(stats), "%sstats", prefix);
    snprintf(rej, sizeof(rej), "%srejected", prefix);
    int64_t rejected = 0;
    int r = 0;
    for (int i = 1; i < CLM_REJ__COUNT && r == 0; i++) {
        rejected += st->rejected[i];
        if (st->rejected[i])
            r = hincrby(b, rej, clm_reason_name((clm_reason)i), st->rejected[i]);
    }
    if (r == 0 && st->consumed)
        r = hincrby(b, stats, "consumed", st->consumed);
    if (r == 0 && st->applied)
        r = hincrby(b, stats, "applied", st->applied);
    if (r == 0 && st->duplicates)
        r = hincrby(b, stats, "duplicates", st->duplicates);
    if (r == 0 && rejected)
        r = hincrby(b, stats, "rejected", rejected);
    return r;
}


int clm_store_deadlines_key(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t partition)
{
    int n = snprintf(buf, size, "%sdeadlines:%s:%" PRId32, prefix, group, partition);
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* Keeps <prefix>at_risk current: ZADD while the risk is at or above the
 * alert threshold, ZREM once it is not (CLM_CUST_AT_RISK: Redis may hold it). */
static int format_at_risk(clm_cmdbuf *b, const clm_store_ctx *x, clm_customer *c)
{
    const clm_alert_opts *ao = x->apply->alerts;
    bool at = ao && c->risk_e4 >= ao->threshold_e4;
    if (!at && !(c->flags & CLM_CUST_AT_RISK))
        return 0;
    char key[256], num[16];
    int klen = snprintf(key, sizeof(key), "%sat_risk", x->prefix);
    int r;
    if (at) {
        int n = snprintf(num, sizeof(num), "%d.%04d", c->risk_e4 / 10000, c->risk_e4 % 10000);
        const char *argv[] = { "ZADD", key, num, c->id };
        size_t lens[] = { 4, (size_t)klen, (size_t)n, c->id_len };
        if ((r = clm_cmdbuf_append(b, 4, argv, lens)) == 0)
            c->flags |= CLM_CUST_AT_RISK;
    } else {
        const char *argv[] = { "ZREM", key, c->id };
        size_t lens[] = { 4, (size_t)klen, c->id_len };
        if ((r = clm_cmdbuf_append(b, 3, argv, lens)) == 0)
            c->flags &= (uint8_t)~CLM_CUST_AT_RISK;
    }
    return r;
}

int clm_store_format_customer(clm_cmdbuf *b, const clm_store_ctx *x, clm_customer *c)
{
    int r = format_customer_hash(b, x->prefix, x->apply, c);
    if (r == 0 && x->apply->risk)
        r = format_at_risk(b, x, c);
    if (r < 0 || (!x->apply->stages && !x->apply->risk))
        return r;
    int64_t score = clm_customer_index_score(c, x->apply);
    if (score == c->indexed)
        return 0; /* the index already holds this entry */
    char key[512], num[24];
    if (clm_store_deadlines_key(key, sizeof(key), x->prefix, x->group, c->part) < 0)
        return -ENAMETOOLONG;
    if (score == CLM_NO_TS) {
        const char *argv[] = { "ZREM", key, c->id };
        size_t lens[] = { 4, strlen(key), c->id_len };
        r = clm_cmdbuf_append(b, 3, argv, lens);
    } else {
        size_t n = (size_t)clm_i64_format(score, num);
        const char *argv[] = { "ZADD", key, num, c->id };
        size_t lens[] = { 4, strlen(key), n, c->id_len };
        r = clm_cmdbuf_append(b, 4, argv, lens);
    }
    if (r == 0)
        c->indexed = score;
    return r;
}

static int format_bucket(clm_cmdbuf *b, const clm_store_ctx *x, const clm_day_delta *dd)
{
    const clm_stages *m = x->apply->stages;
    char bkey[CLM_BUCKET_KEY_SIZE], key[256], num[24], field[2 * 64 + 8];
    int64_t bucket_ms = x->apply->bucket_ms;
    int r;
    if (clm_bucket_key(dd->bucket, bucket_ms, bkey, sizeof(bkey)) < 0)
        return -EINVAL;
    snprintf(key, sizeof(key), "%s%s:%s", x->prefix, bucket_ms == CLM_MS_PER_DAY ? "day" : "bucket",
             bkey);
    for (size_t i = 0; i < clm_daycount_nfields; i++) {
        int64_t v;
        memcpy(&v, (const char *)&dd->c + clm_daycount_fields[i].offset, sizeof(v));
        if (v && (r = hincrby(b, key, clm_daycount_fields[i].name, v)) < 0)
            return r;
    }
    size_t nst = m ? clm_stages_count(m) : 0;
    for (size_t s = 0; s < nst; s++) {
        if (!dd->c.entered[s])
            continue;
        snprintf(field, sizeof(field), "entered_%s", clm_stages_name(m, (int)s));
        if ((r = hincrby(b, key, field, dd->c.entered[s])) < 0)
            return r;
    }
    size_t nord = m ? clm_stages_ordinary(m) : 0;
    for (size_t k = 0; k + 1 < nord; k++) {
        if (!dd->c.advanced[k])
            continue;
        snprintf(field, sizeof(field), "%s_to_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)k)),
                 clm_stages_name(m, clm_stages_at_rank(m, (int)k + 1)));
        if ((r = hincrby(b, key, field, dd->c.advanced[k])) < 0)
            return r;
    }
    /* the bucket index lets the KPI job find every bucket without SCAN */
    char idx[256];
    snprintf(idx, sizeof(idx), "%sbuckets", x->prefix);
    snprintf(num, sizeof(num), "%" PRId64, dd->bucket);
    const char *argv[] = { "ZADD", idx, num, bkey };
    size_t lens[] = { 4, strlen(idx), strlen(num), strlen(bkey) };
    return clm_cmdbuf_append(b, 4, argv, lens);
}

int clm_store_format_deltas(clm_cmdbuf *b, const clm_store_ctx *x, const clm_deltas *d)
{
    const clm_stages *m = x->apply->stages;
    char key[256], field[2 * 64 + 8], day[16];
    int r;
    for (size_t i = 0; i < d->ndays; i++)
        if ((r = format_bucket(b, x, &d->days[i])) < 0)
            return r;
    for (size_t i = 0; m && i < d->ntrans; i++) {
        const clm_transition_delta *t = &d->trans[i];
        clm_day_format(clm_bucket_day(t->bucket, x->apply->bucket_ms), day);
        snprintf(key, sizeof(key), "%stransitions:%s", x->prefix, day);
        snprintf(field, sizeof(field), "%s>%s", clm_stages_name(m, t->from), clm_stages_name(m, t->to));
        if ((r = hincrby(b, key, field, t->n)) < 0)
            return r;
    }
    snprintf(key, sizeof(key), "%sstage_counts", x->prefix);
    for (size_t s = 0; m && s < clm_stages_count(m); s++)
        if (d->stage_count[s] && (r = hincrby(b, key, clm_stages_name(m, (int)s), d->stage_count[s])) < 0)
            return r;
    snprintf(key, sizeof(key), "%sportfolio", x->prefix);
    if (d->value_rate_micros && (r = hincrby(b, key, "value_rate_micros", d->value_rate_micros)) < 0)
        return r;
    return 0;
}

int clm_store_offsets_key(char *buf, size_t size, const char *prefix, const char *group,
                          const char *topic)
{
    int n = snprintf(buf, size, "%soffsets:%s:%s", prefix, group, topic);
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

int clm_store_maxts_key(char *buf, size_t size, const char *prefix, const char *group,
                        const char *topic)
{
    int n = snprintf(buf, size, "%smaxts:%s:%s", prefix, group, topic);
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* Parses an integer reply element; nil gives `absent`. */
static int reply_i64(const redisReply *e, int64_t absent, int64_t *out)
{
    if (e->type == REDIS_REPLY_NIL) {
        *out = absent;
        return 0;
    }
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 20)
        return -EPROTO;
    char buf[24], *end;
    memcpy(buf, e->str, e->len);
    buf[e->len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return -EPROTO;
    *out = v;
    return 0;
}

static int get_field(redisContext *c, const char *key, int32_t partition, int64_t absent,
                     int64_t *out, char *errbuf, size_t errsize)
{
    char field[16];
    snprintf(field, sizeof(field), "%" PRId32, partition);
    const char *argv[] = { "HMGET", key, field };
    redisReply *rep = redisCommandArgv(c, 3, argv, NULL);
    if (!rep) {
        snprintf(errbuf, errsize, "HMGET %s: %s", key, c->errstr);
        return -EIO;
    }
    int r = -EPROTO;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1)
        r = reply_i64(rep->element[0], absent, out);
    if (r < 0)
        snprintf(errbuf, errsize, "%s field %s: not an integer", key, field);
    freeReplyObject(rep);
    return r;
}

int clm_store_load_partition(redisContext *c, const char *prefix, const char *group,
                             const char *topic, int32_t partition, int64_t *offset,
                             int64_t *max_ts, char *errbuf, size_t errsize)
{
    char key[512];
    int64_t off, ts;
    int r;
    if (clm_store_offsets_key(key, sizeof(key), prefix, group, topic) < 0)
        return -ENAMETOOLONG;
    if ((r = get_field(c, key, partition, CLM_NO_OFFSET, &off, errbuf, errsize)) < 0)
        return r;
    if (clm_store_maxts_key(key, sizeof(key), prefix, group, topic) < 0)
        return -ENAMETOOLONG;
    if ((r = get_field(c, key, partition, CLM_NO_TS, &ts, errbuf, errsize)) < 0)
        return r;
    *offset = off;
    *max_ts = ts;
    return 0;
}

int clm_store_load_customers(redisContext *c, const char *prefix, const clm_apply_opts *apply,
                             size_t n, const char *const *ids, const size_t *lens, uint16_t part,
                             clm_customer **out, char *errbuf, size_t errsize)
{
    char key[256];
    size_t i;
    int r = 0;
    for (i = 0; i < n; i++) {
        int klen = snprintf(key, sizeof(key), "%scustomer:%.*s", prefix, (int)lens[i], ids[i]);
        const char *argv[] = { "HGETALL", key };
        size_t alen[] = { 7, (size_t)klen };
        if (redisAppendCommandArgv(c, 2, argv, alen) != REDIS_OK) {
            snprintf(errbuf, errsize, "HGETALL: %s", c->errstr);
            return -EIO;
        }
    }
    for (i = 0; i < n; i++)
        out[i] = NULL;
    for (i = 0; i < n; i++) {
        redisReply *rep;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
            snprintf(errbuf, errsize, "HGETALL: %s", c->errstr);
            r = -EIO;
            goto out_free_loaded;
        }
        if (r < 0) { /* drain the pipeline after an earlier failure */
            freeReplyObject(rep);
            continue;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            snprintf(errbuf, errsize, "%scustomer:%.*s: %s", prefix, (int)lens[i], ids[i],
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "not a hash");
            r = -EPROTO;
        } else if (!(out[i] = clm_customer_new(ids[i], lens[i], part))) {
            r = -ENOMEM;
        } else {
            for (size_t k = 0; k + 1 < rep->elements && r == 0; k += 2) {
                const redisReply *f = rep->element[k], *v = rep->element[k + 1];
                r = clm_customer_load_field(out[i], apply->stages, f->str, f->len, v->str, v->len);
                if (r < 0)
                    snprintf(errbuf, errsize, "%scustomer:%.*s field %.*s: malformed value",
                             prefix, (int)lens[i], ids[i], (int)f->len, f->str);
            }
            if (r < 0) {
                r = -EPROTO;
            } else { /* the index entry written with this state */
                out[i]->indexed = clm_customer_index_score(out[i], apply);
                if (out[i]->risk_e4 > 0) /* it may be in the at-risk set */
                    out[i]->flags |= CLM_CUST_AT_RISK;
            }
        }
        freeReplyObject(rep);
    }
    if (r == 0)
        return 0;
out_free_loaded:
    for (i = 0; i < n; i++) {
        clm_customer_free(out[i]);
        out[i] = NULL;
    }
    return r;
}

int clm_store_format_alert(clm_cmdbuf *b, const char *prefix, int64_t maxlen, const char *id,
                           const clm_alert *a, const char *json)
{
    char stream[256], outbox[256], len[24], risk[16];
    int sl = snprintf(stream, sizeof(stream), "%salerts", prefix);
    int ol = snprintf(outbox, sizeof(outbox), "%salerts:outbox", prefix);
    int nl = clm_i64_format(maxlen, len);
    int rl = snprintf(risk, sizeof(risk), "%d.%04d", a->risk_e4 / 10000, a->risk_e4 % 10000);
    const char *kind = clm_alert_kind_name(a->kind);
    size_t jl = strlen(json);
    const char *xadd[] = { "XADD", stream, "MAXLEN", "~", len, "*", "alert_id", id, "kind", kind,
                           "customer_id", a->customer_id, "risk", risk, "json", json };
    size_t xlens[] = { 4, (size_t)sl, 6, 1, (size_t)nl, 1, 8, CLM_ALERT_ID_LEN, 4, strlen(kind),
                       11, a->id_len, 4, (size_t)rl, 4, jl };
    int r = clm_cmdbuf_append(b, 16, xadd, xlens);
    if (r < 0)
        return r;
    const char *hset[] = { "HSET", outbox, id, json };
    size_t hlens[] = { 4, (size_t)ol, CLM_ALERT_ID_LEN, jl };
    return clm_cmdbuf_append(b, 4, hset, hlens);
}

int clm_store_format_alert_counts(clm_cmdbuf *b, const char *prefix, int64_t emitted,
                                  int64_t suppressed)
{
    char key[256];
    int r = 0;
    snprintf(key, sizeof(key), "%sstats", prefix);
    if (emitted)
        r = hincrby(b, key, "alerts_emitted", emitted);
    if (r == 0 && suppressed)
        r = hincrby(b, key, "alerts_suppressed", suppressed);
    return r;
}
