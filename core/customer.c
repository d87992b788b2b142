/* core/customer.c - per-customer state and event application (see customer.h). */
#include "core/customer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clm_customer *clm_customer_new(const char *id, size_t len, uint16_t part)
{
    if (len == 0 || len > CLM_ID_MAX)
        return NULL;
    clm_customer *c = calloc(1, sizeof(*c) + len + 1);
    if (!c)
        return NULL;
    memcpy(c->id, id, len);
    c->id[len] = '\0';
    c->id_len = (uint8_t)len;
    c->part = part;
    c->last_type = CLM_EV_OTHER;
    clm_dedup_init(&c->dedup);
    return c;
}

void clm_customer_free(clm_customer *c)
{
    if (!c)
        return;
    clm_dedup_release(&c->dedup);
    free(c);
}

int clm_customer_apply(clm_customer *c, const clm_event *ev, const clm_apply_opts *o)
{
    bool dedup = o->dedup_horizon_ms > 0 && ev->has_event_id;
    uint64_t h = 0;
    if (dedup) {
        h = clm_dedup_hash(ev->event_id, ev->event_id_len);
        if (clm_dedup_contains(&c->dedup, h))
            return CLM_DUPLICATE;
        int64_t latest = c->events && c->last_seen > ev->ts_ms ? c->last_seen : ev->ts_ms;
        int r = clm_dedup_add(&c->dedup, h, ev->ts_ms, latest, o->dedup_horizon_ms,
                              o->dedup_max_ids);
        if (r < 0)
            return r;
    }

    if (c->events == 0 || ev->ts_ms < c->first_seen)
        c->first_seen = ev->ts_ms;
    if (c->events == 0 || ev->ts_ms >= c->last_seen) {
        c->last_seen = ev->ts_ms;
        c->last_type = (uint8_t)ev->type;
    }
    c->events++;

    switch (ev->type) {
    case CLM_EV_PURCHASE:
        c->orders++;
        c->revenue_micros += ev->amount_micros;
        break;
    case CLM_EV_REFUND:
        c->refunds_micros += ev->amount_micros;
        break;
    default:
        break;
    }
    c->flags |= CLM_CUST_DIRTY | CLM_CUST_REF;
    return CLM_APPLIED;
}

static int emit_i64(clm_field_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
    return fn(ctx, name, buf, (size_t)n);
}

static int emit_micros(clm_field_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[32];
    int n = clm_micros_format(v, buf, sizeof(buf));
    return fn(ctx, name, buf, (size_t)n);
}

int clm_customer_emit(const clm_customer *c, clm_field_fn fn, void *ctx)
{
    int r;
    if ((r = emit_i64(fn, ctx, "first_seen", c->first_seen)) < 0 ||
        (r = emit_i64(fn, ctx, "last_seen", c->last_seen)) < 0 ||
        (r = emit_i64(fn, ctx, "events", c->events)) < 0 ||
        (r = emit_i64(fn, ctx, "orders", c->orders)) < 0 ||
        (r = emit_micros(fn, ctx, "revenue", c->revenue_micros)) < 0 ||
        (r = emit_micros(fn, ctx, "refunds", c->refunds_micros)) < 0)
        return r;
    const char *lt = clm_event_type_name((clm_event_type)c->last_type);
    if ((r = fn(ctx, "last_type", lt, strlen(lt))) < 0)
        return r;

    char small[256];
    size_t need = (size_t)c->dedup.n * 40u + 1u;
    char *buf = need <= sizeof(small) ? small : malloc(need);
    if (!buf)
        return -ENOMEM;
    int n = clm_dedup_format(&c->dedup, buf, need);
    r = n < 0 ? n : fn(ctx, "dedup", buf, (size_t)n);
    if (buf != small)
        free(buf);
    return r < 0 ? r : 0;
}

/* Strict decimal integer: an optional '-' then 1..19 digits. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = len && s[0] == '-';
    if (len == i || len - i > 19)
        return -EINVAL;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX)
        return -EINVAL;
    *out = s[0] == '-' ? -(int64_t)v : (int64_t)v;
    return 0;
}

static bool name_is(const char *name, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

int clm_customer_load_field(clm_customer *c, const char *name, size_t name_len,
                            const char *value, size_t value_len)
{
    static const struct {
        const char *name;
        size_t off;
        bool money;
    } ints[] = {
        { "first_seen", offsetof(clm_customer, first_seen), false },
        { "last_seen", offsetof(clm_customer, last_seen), false },
        { "events", offsetof(clm_customer, events), false },
        { "orders", offsetof(clm_customer, orders), false },
        { "revenue", offsetof(clm_customer, revenue_micros), true },
        { "refunds", offsetof(clm_customer, refunds_micros), true },
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (!name_is(name, name_len, ints[i].name))
            continue;
        int64_t v;
        int r = ints[i].money ? clm_micros_parse(value, value_len, &v)
                              : parse_i64(value, value_len, &v);
        if (r < 0)
            return r;
        memcpy((char *)c + ints[i].off, &v, sizeof(v));
        return 0;
    }
    if (name_is(name, name_len, "last_type")) {
        c->last_type = (uint8_t)clm_event_type_from_name(value, value_len);
        return 0;
    }
    if (name_is(name, name_len, "dedup")) {
        clm_dedup d;
        int r = clm_dedup_parse(&d, value, value_len);
        if (r < 0)
            return r;
        clm_dedup_release(&c->dedup);
        c->dedup = d;
        return 0;
    }
    return 0;
}
