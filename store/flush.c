/* store/flush.c - see flush.h. */
#include "store/flush.h"

#include "core/breakdown.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpi.h"
#include "core/timeutil.h"
#include "store/keys.h"
#include "store/record.h"
#include "store/view.h"

/* Arguments gathered for one multi-member command. */
typedef struct args {
    clm_cmdbuf a; /* RESP bulk strings only; a.ncmds unused */
    size_t n;     /* arguments */
} args;

/* What one partition number's customers add up to in a batch. */
typedef struct part_acc {
    int32_t part;
    args ckpt;   /* id record ... */
    args zadd;   /* score id ... */
    args zrem;   /* id ... */
    args pool;   /* id ... */
    args risk_add, risk_rem; /* <prefix>at_risk */
} part_acc;

struct clm_flush_fmt {
    const char *prefix, *group;
    clm_flush_buf_fn buf;
    void *buf_ctx;
    const clm_apply_opts *o;
    part_acc *parts;
    size_t nparts, cap;
    args sums;               /* field delta ... of one saturating add */
    size_t *order;           /* breakdown entries in key order */
    size_t cap_order;
    clm_record_buf rec;
};

static void args_reset(args *x)
{
    clm_cmdbuf_reset(&x->a);
    x->n = 0;
}

static void args_release(args *x)
{
    clm_cmdbuf_release(&x->a);
}

static int args_add(args *x, const void *p, size_t len)
{
    int r = clm_cmdbuf_arg(&x->a, p, len);
    if (r == 0)
        x->n++;
    return r;
}

static int args_add_i64(args *x, int64_t v)
{
    int r = clm_cmdbuf_arg_i64(&x->a, v);
    if (r == 0)
        x->n++;
    return r;
}

clm_flush_fmt *clm_flush_fmt_new(const char *prefix, const char *group)
{
    clm_flush_fmt *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->prefix = prefix;
    f->group = group;
    clm_record_buf_init(&f->rec);
    return f;
}

void clm_flush_fmt_free(clm_flush_fmt *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->cap; i++) {
        args_release(&f->parts[i].ckpt);
        args_release(&f->parts[i].zadd);
        args_release(&f->parts[i].zrem);
        args_release(&f->parts[i].pool);
        args_release(&f->parts[i].risk_add);
        args_release(&f->parts[i].risk_rem);
    }
    free(f->parts);
    free(f->order);
    args_release(&f->sums);
    clm_record_buf_release(&f->rec);
    free(f);
}

void clm_flush_fmt_begin(clm_flush_fmt *f, clm_flush_buf_fn buf, void *ctx, const clm_apply_opts *o)
{
    f->buf = buf;
    f->buf_ctx = ctx;
    f->o = o;
    for (size_t i = 0; i < f->nparts; i++) {
        args_reset(&f->parts[i].ckpt);
        args_reset(&f->parts[i].zadd);
        args_reset(&f->parts[i].zrem);
        args_reset(&f->parts[i].pool);
        args_reset(&f->parts[i].risk_add);
        args_reset(&f->parts[i].risk_rem);
    }
    f->nparts = 0;
}

static part_acc *part_of(clm_flush_fmt *f, int32_t part)
{
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i].part == part)
            return &f->parts[i];
    if (f->nparts == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        part_acc *np = realloc(f->parts, cap * sizeof(*np));
        if (!np)
            return NULL;
        memset(np + f->cap, 0, (cap - f->cap) * sizeof(*np));
        f->parts = np;
        f->cap = cap;
    }
    part_acc *p = &f->parts[f->nparts++];
    p->part = part;
    return p;
}

/* <prefix>at_risk: a member while the risk is at or above the alert
 * threshold; removed once it is not (CLM_CUST_AT_RISK: Redis may hold it). */
static int gather_at_risk(clm_flush_fmt *f, part_acc *p, clm_customer *c)
{
    const clm_alert_opts *ao = f->o->alerts;
    bool at = ao && c->risk_e4 >= ao->threshold_e4;
    if (!at && !(c->flags & CLM_CUST_AT_RISK))
        return 0;
    int r;
    if (at) {
        char num[16];
        int n = snprintf(num, sizeof(num), "%d.%04d", c->risk_e4 / 10000, c->risk_e4 % 10000);
        if ((r = args_add(&p->risk_add, num, (size_t)n)) == 0 &&
            (r = args_add(&p->risk_add, c->id, c->id_len)) == 0)
            c->flags |= CLM_CUST_AT_RISK;
    } else if ((r = args_add(&p->risk_rem, c->id, c->id_len)) == 0) {
        c->flags &= (uint8_t)~CLM_CUST_AT_RISK;
    }
    return r;
}

int clm_flush_fmt_customer(clm_flush_fmt *f, clm_customer *c)
{
    const clm_apply_opts *o = f->o;
    part_acc *p = part_of(f, c->part);
    clm_cmdbuf *b = f->buf(f->buf_ctx, c->part);
    if (!p || !b)
        return -ENOMEM;
    int r = clm_view_format(b, f->prefix, c, o, c->changed, c->flags & CLM_CUST_NEW);
    if (r < 0)
        return r;
    f->rec.len = 0;
    if ((r = clm_record_encode(&f->rec, c)) < 0 || (r = args_add(&p->ckpt, c->id, c->id_len)) < 0 ||
        (r = args_add(&p->ckpt, f->rec.p, f->rec.len)) < 0)
        return r;
    if ((c->flags & CLM_CUST_POOLED) && (r = args_add(&p->pool, c->id, c->id_len)) < 0)
        return r;
    if (o->risk && (r = gather_at_risk(f, p, c)) < 0)
        return r;
    c->changed = 0;
    c->flags &= (uint8_t) ~(CLM_CUST_NEW | CLM_CUST_POOLED);
    if (!o->stages && !o->risk)
        return 0;
    int64_t score = clm_customer_index_score(c, o);
    if (score == c->indexed)
        return 0; /* the index already holds this entry */
    if (score == CLM_NO_TS)
        r = args_add(&p->zrem, c->id, c->id_len);
    else if ((r = args_add_i64(&p->zadd, score)) == 0)
        r = args_add(&p->zadd, c->id, c->id_len);
    if (r == 0)
        c->indexed = score;
    return r;
}

/* <cmd> <key> <gathered arguments> */
static int emit(clm_cmdbuf *b, const char *cmd, const char *key, const args *x)
{
    if (x->n == 0)
        return 0;
    int r = clm_cmdbuf_begin(b, 2 + x->n);
    if (r == 0)
        r = clm_cmdbuf_arg(b, cmd, strlen(cmd));
    if (r == 0)
        r = clm_cmdbuf_arg(b, key, strlen(key));
    if (r == 0)
        r = clm_cmdbuf_raw(b, x->a.buf, x->a.len);
    return r;
}

int clm_flush_fmt_end(clm_flush_fmt *f)
{
    char key[CLM_KEY_MAX];
    int r = 0;
    for (size_t i = 0; i < f->nparts && r == 0; i++) {
        const part_acc *p = &f->parts[i];
        clm_cmdbuf *b = f->buf(f->buf_ctx, p->part);
        if (!b)
            return -ENOMEM;
        if ((r = clm_key_ckpt(key, sizeof(key), f->prefix, f->group, p->part)) < 0 ||
            (r = emit(b, "HSET", key, &p->ckpt)) < 0)
            break;
        if ((r = clm_key_deadlines(key, sizeof(key), f->prefix, f->group, p->part)) < 0 ||
            (r = emit(b, "ZADD", key, &p->zadd)) < 0 || (r = emit(b, "ZREM", key, &p->zrem)) < 0)
            break;
        if ((r = clm_key_single(key, sizeof(key), f->prefix, CLM_KEY_UPGRADE_POOL)) < 0 ||
            (r = emit(b, "HDEL", key, &p->pool)) < 0)
            break;
        if ((r = clm_key_single(key, sizeof(key), f->prefix, CLM_KEY_AT_RISK)) < 0 ||
            (r = emit(b, "ZADD", key, &p->risk_add)) < 0)
            break;
        r = emit(b, "ZREM", key, &p->risk_rem);
    }
    return r < 0 ? r : 0;
}

/* ---- counters and deltas ---------------------------------------------- */

/* Adds each (field, delta) pair of ARGV to the hash KEYS[1] as HINCRBY
 * would, except that a sum leaving int64 stops at INT64_MAX (INT64_MIN for
 * a negative delta) instead of failing: a command of the transaction that
 * failed after others ran would apply half a flush. Any other error (a
 * field that is not an integer) is returned as HINCRBY's. */
static const char HADD_SAT_LUA[] =
    "local k = KEYS[1]\n"
    "for i = 1, #ARGV, 2 do\n"
    "  local r = redis.pcall('HINCRBY', k, ARGV[i], ARGV[i + 1])\n"
    "  if type(r) == 'table' and r.err then\n"
    "    if not string.find(r.err, 'overflow', 1, true) then return r end\n"
    "    redis.call('HSET', k, ARGV[i], string.sub(ARGV[i + 1], 1, 1) == '-'\n"
    "      and '-9223372036854775808' or '9223372036854775807')\n"
    "  end\n"
    "end\n"
    "return #ARGV / 2\n";

const char *clm_flush_hadd_sat_script(size_t *len)
{
    *len = sizeof(HADD_SAT_LUA) - 1;
    return HADD_SAT_LUA;
}

/* EVAL HADD_SAT_LUA 1 <key> <field delta ...> */
static int emit_hadd_sat(clm_cmdbuf *b, const char *key, const args *x)
{
    if (x->n == 0)
        return 0;
    int r = clm_cmdbuf_begin(b, 4 + x->n);
    if (r == 0)
        r = clm_cmdbuf_arg(b, "EVAL", 4);
    if (r == 0)
        r = clm_cmdbuf_arg(b, HADD_SAT_LUA, sizeof(HADD_SAT_LUA) - 1);
    if (r == 0)
        r = clm_cmdbuf_arg(b, "1", 1);
    if (r == 0)
        r = clm_cmdbuf_arg(b, key, strlen(key));
    if (r == 0)
        r = clm_cmdbuf_raw(b, x->a.buf, x->a.len);
    return r;
}

static int add_pair(args *x, const char *field, int64_t v)
{
    int r = args_add(x, field, strlen(field));
    return r == 0 ? args_add_i64(x, v) : r;
}

int clm_flush_fmt_stats(clm_flush_fmt *f, int32_t part, const clm_shard_stats *st)
{
    clm_cmdbuf *b = f->buf(f->buf_ctx, part);
    if (!b)
        return -ENOMEM;
    char stats[CLM_KEY_MAX], rej[CLM_KEY_MAX];
    if (clm_key_single(stats, sizeof(stats), f->prefix, CLM_KEY_STATS) < 0 ||
        clm_key_single(rej, sizeof(rej), f->prefix, CLM_KEY_REJECTED) < 0)
        return -ENAMETOOLONG;
    int64_t rejected = 0;
    int r = 0;
    for (int i = 1; i < CLM_REJ__COUNT && r == 0; i++) {
        rejected += st->rejected[i];
        if (st->rejected[i])
            r = clm_cmdbuf_hincrby(b, rej, clm_reason_name((clm_reason)i), st->rejected[i]);
    }
    if (r == 0 && st->consumed)
        r = clm_cmdbuf_hincrby(b, stats, "consumed", st->consumed);
    if (r == 0 && st->applied)
        r = clm_cmdbuf_hincrby(b, stats, "applied", st->applied);
    if (r == 0 && st->duplicates)
        r = clm_cmdbuf_hincrby(b, stats, "duplicates", st->duplicates);
    if (r == 0 && rejected)
        r = clm_cmdbuf_hincrby(b, stats, "rejected", rejected);
    if (r == 0 && st->merges)
        r = clm_cmdbuf_hincrby(b, stats, "merges", st->merges);
    if (r == 0 && st->erasures)
        r = clm_cmdbuf_hincrby(b, stats, "erasures", st->erasures);
    return r;
}

static int format_bucket(clm_flush_fmt *f, clm_cmdbuf *b, const clm_day_delta *dd)
{
    const clm_stages *m = f->o->stages;
    char name[CLM_BUCKET_KEY_SIZE], key[CLM_KEY_MAX], field[2 * 64 + 8];
    args *x = &f->sums;
    int r;
    if ((r = clm_key_bucket(key, sizeof(key), f->prefix, dd->bucket, f->o->bucket_ms, name,
                            sizeof(name))) < 0)
        return r;
    args_reset(x);
    for (size_t i = 0; i < clm_daycount_nfields; i++) {
        int64_t v;
        memcpy(&v, (const char *)&dd->c + clm_daycount_fields[i].offset, sizeof(v));
        if (v && (r = add_pair(x, clm_daycount_fields[i].name, v)) < 0)
            return r;
    }
    size_t nst = m ? clm_stages_count(m) : 0;
    for (size_t s = 0; s < nst; s++) {
        if (!dd->c.entered[s])
            continue;
        snprintf(field, sizeof(field), "entered_%s", clm_stages_name(m, (int)s));
        if ((r = add_pair(x, field, dd->c.entered[s])) < 0)
            return r;
    }
    size_t nord = m ? clm_stages_ordinary(m) : 0;
    for (size_t k = 0; k + 1 < nord; k++) {
        if (!dd->c.advanced[k])
            continue;
        snprintf(field, sizeof(field), "%s_to_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)k)),
                 clm_stages_name(m, clm_stages_at_rank(m, (int)k + 1)));
        if ((r = add_pair(x, field, dd->c.advanced[k])) < 0)
            return r;
    }
    /* money and durations can pass int64 there: added saturating */
    if ((r = emit_hadd_sat(b, key, x)) < 0)
        return r;
    /* the bucket index lets the KPI job find every bucket without SCAN */
    char idx[CLM_KEY_MAX], num[24];
    if ((r = clm_key_single(idx, sizeof(idx), f->prefix, CLM_KEY_BUCKETS)) < 0)
        return r;
    int nl = clm_i64_format(dd->bucket, num);
    const char *argv[] = { "ZADD", idx, num, name };
    size_t lens[] = { 4, strlen(idx), (size_t)nl, strlen(name) };
    return clm_cmdbuf_append(b, 4, argv, lens);
}

/* qsort_r order of breakdown entries: dimension, day, slot. */
typedef struct bd_sort {
    const clm_bd_delta *e;
    int64_t bucket_ms;
} bd_sort;

static int bd_cmp(const void *pa, const void *pb, void *ctx)
{
    const bd_sort *x = ctx;
    const clm_bd_delta *a = &x->e[*(const size_t *)pa], *b = &x->e[*(const size_t *)pb];
    int64_t da = clm_bucket_day(a->bucket, x->bucket_ms), db = clm_bucket_day(b->bucket, x->bucket_ms);
    if (a->dim != b->dim)
        return a->dim < b->dim ? -1 : 1;
    if (da != db)
        return da < db ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* The breakdown counters: one saturating add of <value>\t<counter> fields
 * per <prefix>breakdown:trait:<name>:<D>, covering every slot and bucket of
 * that dimension and UTC day (a slot's buckets of one day as one field). */
static int format_breakdowns(clm_flush_fmt *f, clm_cmdbuf *b, const clm_deltas *d)
{
    char key[CLM_KEY_MAX], field[CLM_BD_VALUE_MAX + 32];
    int r;
    if (d->nbd > f->cap_order) {
        size_t *v = realloc(f->order, d->nbd * sizeof(*v));
        if (!v)
            return -ENOMEM;
        f->order = v;
        f->cap_order = d->nbd;
    }
    for (size_t i = 0; i < d->nbd; i++)
        f->order[i] = i;
    bd_sort ctx = { .e = d->bd, .bucket_ms = f->o->bucket_ms };
    qsort_r(f->order, d->nbd, sizeof(*f->order), bd_cmp, &ctx);
    for (size_t i = 0; i < d->nbd;) {
        const clm_bd_delta *e = &d->bd[f->order[i]];
        const clm_breakdown_spec *s = &f->o->breakdowns->d[e->dim];
        int64_t day = clm_bucket_day(e->bucket, f->o->bucket_ms);
        if ((r = clm_key_breakdown(key, sizeof(key), f->prefix, s->trait, day)) < 0)
            return r;
        args_reset(&f->sums);
        /* entries [i, j) share the key; [i, k) the slot */
        while (i < d->nbd) {
            const clm_bd_delta *g = &d->bd[f->order[i]];
            if (g->dim != e->dim || clm_bucket_day(g->bucket, f->o->bucket_ms) != day)
                break;
            int64_t sum[CLM_BD_COUNTERS] = { 0 };
            size_t k = i;
            for (; k < d->nbd; k++) {
                const clm_bd_delta *h = &d->bd[f->order[k]];
                if (h->dim != g->dim || h->slot != g->slot ||
                    clm_bucket_day(h->bucket, f->o->bucket_ms) != day)
                    break;
                for (int c = 0; c < CLM_BD_COUNTERS; c++)
                    sum[c] = clm_sat_add(sum[c], h->c[c]);
            }
            const char *value = clm_breakdown_slot_name(s, g->slot);
            for (int c = 0; c < CLM_BD_COUNTERS; c++) {
                if (!sum[c])
                    continue;
                snprintf(field, sizeof(field), "%s\t%s", value, clm_breakdown_counter_name(c));
                if ((r = add_pair(&f->sums, field, sum[c])) < 0)
                    return r;
            }
            i = k;
        }
        if ((r = emit_hadd_sat(b, key, &f->sums)) < 0)
            return r;
    }
    return 0;
}

int clm_flush_fmt_deltas(clm_flush_fmt *f, int32_t part, const clm_deltas *d)
{
    const clm_stages *m = f->o->stages;
    char key[CLM_KEY_MAX], field[2 * 64 + 8];
    int r;
    clm_cmdbuf *b = f->buf(f->buf_ctx, part);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < d->ndays; i++)
        if ((r = format_bucket(f, b, &d->days[i])) < 0)
            return r;
    if (f->o->breakdowns && d->nbd && (r = format_breakdowns(f, b, d)) < 0)
        return r;
    for (size_t i = 0; m && i < d->ntrans; i++) {
        const clm_transition_delta *t = &d->trans[i];
        if ((r = clm_key_transitions(key, sizeof(key), f->prefix,
                                     clm_bucket_day(t->bucket, f->o->bucket_ms))) < 0)
            return r;
        snprintf(field, sizeof(field), "%s>%s", clm_stages_name(m, t->from), clm_stages_name(m, t->to));
        if ((r = clm_cmdbuf_hincrby(b, key, field, t->n)) < 0)
            return r;
    }
    if ((r = clm_key_single(key, sizeof(key), f->prefix, CLM_KEY_STAGE_COUNTS)) < 0)
        return r;
    for (size_t s = 0; m && s < clm_stages_count(m); s++)
        if (d->stage_count[s] &&
            (r = clm_cmdbuf_hincrby(b, key, clm_stages_name(m, (int)s), d->stage_count[s])) < 0)
            return r;
    if ((r = clm_key_single(key, sizeof(key), f->prefix, CLM_KEY_PORTFOLIO)) < 0)
        return r;
    args_reset(&f->sums);
    if (d->value_rate_micros &&
        ((r = add_pair(&f->sums, "value_rate_micros", d->value_rate_micros)) < 0 ||
         (r = emit_hadd_sat(b, key, &f->sums)) < 0))
        return r;
    if (d->repeat_customers &&
        (r = clm_cmdbuf_hincrby(b, key, "repeat_customers", d->repeat_customers)) < 0)
        return r;
    return 0;
}

