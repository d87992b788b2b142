/* store/v1_customer.c - the v1 customer hash: its fields to and from a
 * customer (see v1.h). */
#include "store/v1.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"

static int emit_i64(clm_v1_field_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[24];
    return fn(ctx, name, buf, (size_t)clm_i64_format(v, buf));
}

static int emit_ts(clm_v1_field_fn fn, void *ctx, const char *name, int64_t v)
{
    return v == CLM_NO_TS ? fn(ctx, name, "", 0) : emit_i64(fn, ctx, name, v);
}

static int emit_micros(clm_v1_field_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[32];
    int n = clm_micros_format(v, buf, sizeof(buf));
    return fn(ctx, name, buf, (size_t)n);
}

static int emit_str(clm_v1_field_fn fn, void *ctx, const char *name, const char *v)
{
    return fn(ctx, name, v, strlen(v));
}

/* "<rank>:<bucket>,..." for the ordinary stages entered. */
static int emit_entered(const clm_customer *c, clm_v1_field_fn fn, void *ctx)
{
    char buf[CLM_CUST_RANKS * 24];
    size_t off = 0;
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        if (c->entered[i] >= 0)
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d:%" PRId32, off ? "," : "",
                                    i, c->entered[i]);
    return fn(ctx, "stage_entered", buf, off);
}

/* risk ("0.7321"), risk_at (day), risk_next (day number), risk_state,
 * alert_armed, alert_at, source ("<topic index>:<offset>"). */
static int emit_risk(const clm_customer *c, clm_v1_field_fn fn, void *ctx)
{
    char buf[CLM_V1_RISK_STATE_MAX];
    int n = snprintf(buf, sizeof(buf), "%d.%04d", c->risk_e4 / 10000, c->risk_e4 % 10000);
    int r = fn(ctx, "risk", buf, (size_t)n);
    if (r < 0)
        return r;
    if (c->risk_day >= 0)
        clm_day_format(c->risk_day, buf);
    if ((r = fn(ctx, "risk_at", buf, c->risk_day >= 0 ? strlen(buf) : 0)) < 0 ||
        (r = emit_ts(fn, ctx, "risk_next", c->risk_next >= 0 ? c->risk_next : CLM_NO_TS)) < 0)
        return r;
    if ((n = clm_v1_risk_state_format(&c->risk, buf, sizeof(buf))) < 0)
        return n;
    if ((r = fn(ctx, "risk_state", buf, (size_t)n)) < 0 ||
        (r = fn(ctx, "alert_armed", c->flags & CLM_CUST_DISARMED ? "0" : "1", 1)) < 0 ||
        (r = emit_ts(fn, ctx, "alert_at", c->alert_at)) < 0)
        return r;
    n = c->src_offset < 0 ? 0
                          : snprintf(buf, sizeof(buf), "%u:%" PRId64, c->src_topic, c->src_offset);
    return fn(ctx, "source", buf, (size_t)n);
}

int clm_v1_customer_emit(const clm_customer *c, const clm_stages *stages, clm_v1_field_fn fn,
                         void *ctx)
{
    int r;
    char buf[48];
    if ((r = emit_i64(fn, ctx, "first_seen", c->first_seen)) < 0 ||
        (r = emit_i64(fn, ctx, "last_seen", c->last_seen)) < 0 ||
        (r = emit_i64(fn, ctx, "events", c->events)) < 0 ||
        (r = emit_i64(fn, ctx, "orders", c->orders)) < 0 ||
        (r = emit_micros(fn, ctx, "revenue", c->revenue_micros)) < 0 ||
        (r = emit_micros(fn, ctx, "refunds", c->refunds_micros)) < 0 ||
        (r = emit_micros(fn, ctx, "clv", c->revenue_micros - c->refunds_micros)) < 0 ||
        (r = emit_micros(fn, ctx, "clv_rate", c->clv_rate_micros)) < 0 ||
        (r = emit_str(fn, ctx, "last_type", clm_event_type_name((clm_event_type)c->last_type))) < 0 ||
        (r = emit_ts(fn, ctx, "first_purchase", c->first_purchase)) < 0 ||
        (r = emit_ts(fn, ctx, "first_signup", c->first_signup)) < 0 ||
        (r = emit_ts(fn, ctx, "first_contact", c->first_contact)) < 0 ||
        (r = emit_ts(fn, ctx, "lead_contact", c->lead_contact)) < 0)
        return r;
    if (c->active_bucket != CLM_NO_TS) {
        int n = snprintf(buf, sizeof(buf), "%" PRId64 ":%016" PRIx64, c->active_bucket,
                         c->active_bits);
        r = fn(ctx, "active", buf, (size_t)n);
    } else {
        r = fn(ctx, "active", "", 0);
    }
    if (r < 0)
        return r;
    if (stages) {
        if ((r = emit_str(fn, ctx, "stage", c->stage == CLM_STAGE_NONE ? "" : clm_stages_name(stages, c->stage))) < 0 ||
            (r = emit_ts(fn, ctx, "stage_since", c->stage == CLM_STAGE_NONE ? CLM_NO_TS : c->stage_since)) < 0 ||
            (r = emit_str(fn, ctx, "peak_stage", c->peak == CLM_STAGE_NONE ? "" : clm_stages_name(stages, c->peak))) < 0 ||
            (r = emit_entered(c, fn, ctx)) < 0)
            return r;
    }

    if ((r = emit_risk(c, fn, ctx)) < 0 || (r = clm_v1_rfm_emit(&c->rfm, fn, ctx)) < 0)
        return r;

    char small[256];
    size_t need = (size_t)c->dedup.n * 40u + 1u;
    char *dbuf = need <= sizeof(small) ? small : malloc(need);
    if (!dbuf)
        return -ENOMEM;
    int n = clm_v1_dedup_format(&c->dedup, dbuf, need);
    r = n < 0 ? n : fn(ctx, "dedup", dbuf, (size_t)n);
    if (dbuf != small)
        free(dbuf);
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

static int parse_ts(const char *s, size_t len, int64_t *out)
{
    if (len == 0) {
        *out = CLM_NO_TS;
        return 0;
    }
    return parse_i64(s, len, out);
}

static int parse_active(clm_customer *c, const char *s, size_t len)
{
    if (len == 0) {
        c->active_bucket = CLM_NO_TS;
        c->active_bits = 0;
        return 0;
    }
    const char *colon = memchr(s, ':', len);
    int64_t b;
    if (!colon || (size_t)(s + len - colon - 1) != 16 || parse_i64(s, (size_t)(colon - s), &b) < 0)
        return -EINVAL;
    uint64_t bits = 0;
    for (const char *p = colon + 1; p < s + len; p++) {
        int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (v < 0)
            return -EINVAL;
        bits = bits << 4 | (uint64_t)v;
    }
    c->active_bucket = b;
    c->active_bits = bits;
    return 0;
}

static int parse_entered(clm_customer *c, const char *s, size_t len)
{
    int32_t e[CLM_CUST_RANKS];
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        e[i] = -1;
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *colon = memchr(p, ':', (size_t)(stop - p));
        int64_t rank, b;
        if (!colon || parse_i64(p, (size_t)(colon - p), &rank) < 0 ||
            parse_i64(colon + 1, (size_t)(stop - colon - 1), &b) < 0 || rank < 0 ||
            rank >= CLM_CUST_RANKS || b < 0 || b > INT32_MAX)
            return -EINVAL;
        e[rank] = (int32_t)b;
        p = comma ? comma + 1 : end;
    }
    memcpy(c->entered, e, sizeof(e));
    return 0;
}

static int parse_stage(const clm_stages *stages, const char *s, size_t len, uint8_t *out)
{
    if (len == 0) {
        *out = CLM_STAGE_NONE;
        return 0;
    }
    int i = clm_stages_index(stages, s, len);
    *out = i < 0 ? CLM_STAGE_NONE : (uint8_t)i;
    return 0;
}

/* "0.7321" -> 7321; exactly what emit_risk writes, within 0..1. */
static int parse_risk(const char *s, size_t len, uint16_t *out)
{
    if (len != 6 || (s[0] != '0' && s[0] != '1') || s[1] != '.')
        return -EINVAL;
    int v = s[0] - '0';
    for (int i = 2; i < 6; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 10000)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

static int load_risk_field(clm_customer *c, const char *name, size_t name_len, const char *value,
                           size_t value_len)
{
    int64_t v;
    int r;
    if (name_is(name, name_len, "risk"))
        return parse_risk(value, value_len, &c->risk_e4);
    if (name_is(name, name_len, "risk_at")) {
        if (value_len == 0) {
            c->risk_day = -1;
            return 0;
        }
        char tmp[24];
        if (value_len != 10)
            return -EINVAL;
        memcpy(tmp, value, 10);
        memcpy(tmp + 10, "T00:00:00Z", 11);
        if (clm_rfc3339_parse(tmp, 20, &v) < 0)
            return -EINVAL;
        c->risk_day = (int32_t)clm_day_of_ms(v);
        return 0;
    }
    if (name_is(name, name_len, "risk_next")) {
        if ((r = parse_ts(value, value_len, &v)) < 0 || (v != CLM_NO_TS && (v < 0 || v > INT32_MAX)))
            return -EINVAL;
        c->risk_next = v == CLM_NO_TS ? -1 : (int32_t)v;
        return 0;
    }
    if (name_is(name, name_len, "risk_state"))
        return clm_v1_risk_state_parse(&c->risk, value, value_len);
    if (name_is(name, name_len, "alert_armed")) {
        if (value_len != 1 || (value[0] != '0' && value[0] != '1'))
            return -EINVAL;
        if (value[0] == '0')
            c->flags |= CLM_CUST_DISARMED;
        else
            c->flags &= (uint8_t)~CLM_CUST_DISARMED;
        return 0;
    }
    if (name_is(name, name_len, "alert_at"))
        return parse_ts(value, value_len, &c->alert_at) < 0 ? -EINVAL : 0;
    /* source */
    if (value_len == 0) {
        c->src_offset = -1;
        return 0;
    }
    const char *colon = memchr(value, ':', value_len);
    int64_t t;
    if (!colon || parse_i64(value, (size_t)(colon - value), &t) < 0 || t < 0 || t > 255 ||
        parse_i64(colon + 1, (size_t)(value + value_len - colon - 1), &v) < 0 || v < 0)
        return -EINVAL;
    c->src_topic = (uint8_t)t;
    c->src_offset = v;
    return 0;
}

int clm_v1_customer_load_field(clm_customer *c, const clm_stages *stages, const char *name,
                               size_t name_len, const char *value, size_t value_len)
{
    static const struct {
        const char *name;
        size_t off;
        char kind; /* i: integer, m: money, t: optional time */
    } nums[] = {
        { "first_seen", offsetof(clm_customer, first_seen), 'i' },
        { "last_seen", offsetof(clm_customer, last_seen), 'i' },
        { "events", offsetof(clm_customer, events), 'i' },
        { "orders", offsetof(clm_customer, orders), 'i' },
        { "revenue", offsetof(clm_customer, revenue_micros), 'm' },
        { "refunds", offsetof(clm_customer, refunds_micros), 'm' },
        { "clv_rate", offsetof(clm_customer, clv_rate_micros), 'm' },
        { "first_purchase", offsetof(clm_customer, first_purchase), 't' },
        { "first_signup", offsetof(clm_customer, first_signup), 't' },
        { "first_contact", offsetof(clm_customer, first_contact), 't' },
        { "lead_contact", offsetof(clm_customer, lead_contact), 't' },
        { "stage_since", offsetof(clm_customer, stage_since), 't' },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!name_is(name, name_len, nums[i].name))
            continue;
        int64_t v;
        int r = nums[i].kind == 'm'   ? clm_micros_parse(value, value_len, &v)
                : nums[i].kind == 't' ? parse_ts(value, value_len, &v)
                                      : parse_i64(value, value_len, &v);
        if (r < 0)
            return r;
        memcpy((char *)c + nums[i].off, &v, sizeof(v));
        return 0;
    }
    if (name_is(name, name_len, "last_type")) {
        c->last_type = (uint8_t)clm_event_type_from_name(value, value_len);
        return 0;
    }
    if (name_is(name, name_len, "active"))
        return parse_active(c, value, value_len);
    if (name_is(name, name_len, "stage_entered"))
        return parse_entered(c, value, value_len);
    if (stages && name_is(name, name_len, "stage"))
        return parse_stage(stages, value, value_len, &c->stage);
    if (stages && name_is(name, name_len, "peak_stage"))
        return parse_stage(stages, value, value_len, &c->peak);
    if (name_is(name, name_len, "risk") || name_is(name, name_len, "risk_at") ||
        name_is(name, name_len, "risk_next") || name_is(name, name_len, "risk_state") ||
        name_is(name, name_len, "alert_armed") || name_is(name, name_len, "alert_at") ||
        name_is(name, name_len, "source"))
        return load_risk_field(c, name, name_len, value, value_len);
    int rr = clm_v1_rfm_load_field(&c->rfm, name, name_len, value, value_len);
    if (rr != 0)
        return rr < 0 ? rr : 0;
    if (name_is(name, name_len, "dedup")) {
        clm_dedup d;
        int r = clm_v1_dedup_parse(&d, value, value_len);
        if (r < 0)
            return r;
        clm_dedup_release(&c->dedup);
        c->dedup = d;
        return 0;
    }
    return 0;
}
