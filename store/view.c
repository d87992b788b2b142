/* store/view.c - see view.h. */
#include "store/view.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "core/trait.h"
#include "store/keys.h"

const char *const clm_view_v1_only[] = {
    "lead_contact", "active", "stage_entered", "risk_next", "risk_state", "alert_armed",
    "alert_at", "source", "rfm", "dedup", NULL,
};

/* ---- risk reasons ----------------------------------------------------- */

/* A real as jansson prints it with JSON_REAL_PRECISION(15): %.15g, and ".0"
 * when that looks like an integer. */
static size_t put_real(char *buf, size_t size, double v)
{
    int n = snprintf(buf, size, "%.15g", v);
    if (n > 0 && (size_t)n + 2 < size && !strpbrk(buf, ".eE")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return n < 0 ? 0 : (size_t)n;
}

static double round4(double v)
{
    return round(v * 1e4) / 1e4;
}

char *clm_view_reasons_json(const clm_risk_eval *e)
{
    size_t size = 2 + e->n * 128;
    char *s = malloc(size), num[2][40];
    if (!s)
        return NULL;
    size_t off = 0;
    s[off++] = '[';
    for (size_t i = 0; i < e->n; i++) {
        put_real(num[0], sizeof(num[0]), round4(e->r[i].value));
        put_real(num[1], sizeof(num[1]), round4(e->r[i].contribution));
        off += (size_t)snprintf(s + off, size - off, "%s{\"signal\":\"%s\",\"value\":%s,\"contribution\":%s}",
                                i ? "," : "", clm_signal_name(e->r[i].signal), num[0], num[1]);
    }
    s[off++] = ']';
    s[off] = '\0';
    return s;
}

/* ---- projection ------------------------------------------------------- */

static int put_i64(clm_view_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[24];
    return fn(ctx, name, buf, (size_t)clm_i64_format(v, buf));
}

/* an instant, absent when CLM_NO_TS */
static int put_ts(clm_view_fn fn, void *ctx, const char *name, int64_t v)
{
    return v == CLM_NO_TS ? fn(ctx, name, NULL, 0) : put_i64(fn, ctx, name, v);
}

static int put_micros(clm_view_fn fn, void *ctx, const char *name, int64_t v)
{
    char buf[32];
    return fn(ctx, name, buf, (size_t)clm_micros_format(v, buf, sizeof(buf)));
}

static int put_str(clm_view_fn fn, void *ctx, const char *name, const char *v)
{
    return fn(ctx, name, v, v ? strlen(v) : 0);
}

/* a UTC day number as YYYY-MM-DD, absent when negative */
static int put_day(clm_view_fn fn, void *ctx, const char *name, int64_t day)
{
    char buf[16];
    if (day < 0)
        return fn(ctx, name, NULL, 0);
    clm_day_format(day, buf);
    return fn(ctx, name, buf, strlen(buf));
}

static int project_risk(const clm_customer *c, const clm_apply_opts *o, uint16_t mask,
                        clm_view_fn fn, void *ctx)
{
    int r = 0;
    if (mask & CLM_FACET_RISK) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d.%04d", c->risk_e4 / 10000, c->risk_e4 % 10000);
        if ((r = fn(ctx, "risk", buf, (size_t)n)) < 0 ||
            (r = put_day(fn, ctx, "risk_at", c->risk_day)) < 0)
            return r;
    }
    if (mask & CLM_FACET_RISK_REASONS) {
        clm_risk_eval e;
        clm_customer_risk_eval(c, o, &e);
        if (e.n == 0)
            return fn(ctx, "risk_reasons", NULL, 0);
        char *json = clm_view_reasons_json(&e);
        if (!json)
            return -ENOMEM;
        r = fn(ctx, "risk_reasons", json, strlen(json));
        free(json);
    }
    return r;
}

static int project_rfm(const clm_rfm *f, clm_view_fn fn, void *ctx)
{
    int r;
    int64_t avg = f->x > 0 ? (f->repeat_micros / f->x) +
                                 (f->repeat_micros % f->x >= (f->x + 1) / 2 ? 1 : 0)
                           : 0;
    if ((r = put_i64(fn, ctx, "repeat_days", f->x)) < 0 ||
        (r = put_day(fn, ctx, "first_purchase_day", f->first_day)) < 0 ||
        (r = put_day(fn, ctx, "last_purchase_day", f->first_day >= 0 ? f->last_day : -1)) < 0)
        return r;
    return put_micros(fn, ctx, "repeat_spend_avg", avg);
}

int clm_view_project(const clm_customer *c, const clm_apply_opts *o, uint16_t mask, clm_view_fn fn,
                     void *ctx)
{
    int r = 0;
    bool seen = c->events > 0;
#define STEP(call)                                                                                 \
    do {                                                                                           \
        if ((r = (call)) < 0)                                                                      \
            return r;                                                                              \
    } while (0)
    if (mask & CLM_FACET_FIRST_SEEN)
        STEP(put_ts(fn, ctx, "first_seen", seen ? c->first_seen : CLM_NO_TS));
    if (mask & CLM_FACET_LAST_SEEN) {
        /* the latest activity: none while only inactive_types events came */
        bool active = seen && c->active_bucket != CLM_NO_TS;
        STEP(put_ts(fn, ctx, "last_seen", active ? c->last_seen : CLM_NO_TS));
        STEP(put_str(fn, ctx, "last_type",
                     active ? clm_event_type_name((clm_event_type)c->last_type) : NULL));
    }
    if (mask & CLM_FACET_EVENTS)
        STEP(put_i64(fn, ctx, "events", c->events));
    if (mask & CLM_FACET_ORDERS)
        STEP(put_i64(fn, ctx, "orders", c->orders));
    if (mask & CLM_FACET_REVENUE)
        STEP(put_micros(fn, ctx, "revenue", c->revenue_micros));
    if (mask & CLM_FACET_REFUNDS)
        STEP(put_micros(fn, ctx, "refunds", c->refunds_micros));
    if (mask & (CLM_FACET_REVENUE | CLM_FACET_REFUNDS))
        STEP(put_micros(fn, ctx, "clv", c->revenue_micros - c->refunds_micros));
    if (mask & CLM_FACET_CLV_RATE)
        STEP(put_micros(fn, ctx, "clv_rate", c->clv_rate_micros));
    if (mask & CLM_FACET_FIRST_SIGNUP)
        STEP(put_ts(fn, ctx, "first_signup", c->first_signup));
    if (mask & CLM_FACET_FIRST_PURCHASE)
        STEP(put_ts(fn, ctx, "first_purchase", c->first_purchase));
    if (mask & CLM_FACET_FIRST_CONTACT)
        STEP(put_ts(fn, ctx, "first_contact", c->first_contact));
    if (o->stages) {
        bool none = c->stage == CLM_STAGE_NONE;
        if (mask & CLM_FACET_STAGE) {
            STEP(put_str(fn, ctx, "stage", none ? NULL : clm_stages_name(o->stages, c->stage)));
            STEP(put_ts(fn, ctx, "stage_since", none ? CLM_NO_TS : c->stage_since));
        }
        if (mask & CLM_FACET_PEAK)
            STEP(put_str(fn, ctx, "peak_stage",
                         c->peak == CLM_STAGE_NONE ? NULL : clm_stages_name(o->stages, c->peak)));
    }
    if (o->risk)
        STEP(project_risk(c, o, mask, fn, ctx));
    if (mask & CLM_FACET_RFM)
        STEP(project_rfm(&c->rfm, fn, ctx));
    if ((mask & CLM_FACET_TRAITS) && o->traits) {
        for (size_t i = 0; i < o->traits->n; i++) {
            clm_trait_value v;
            char buf[CLM_TRAIT_STR_MAX + 8];
            clm_traits_get_named(c->traits, c->traits_len, &o->traits->t[i], &v);
            size_t n = clm_trait_format(&v, buf, sizeof(buf));
            STEP(fn(ctx, o->traits->t[i].view_field, n ? buf : NULL, n));
        }
    }
#undef STEP
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

#define VIEW_MAX_FIELDS (32 + CLM_TRAITS_MAX)

typedef struct collect {
    const char *name[VIEW_MAX_FIELDS];
    size_t off[VIEW_MAX_FIELDS], len[VIEW_MAX_FIELDS];
    bool present[VIEW_MAX_FIELDS];
    int n, npresent;
    char *vals;
    size_t used, cap;
    char small[1024];
} collect;

static int collect_field(void *vctx, const char *name, const char *value, size_t len)
{
    collect *x = vctx;
    if (x->n == VIEW_MAX_FIELDS)
        return -E2BIG;
    if (value && x->used + len > x->cap) {
        size_t cap = x->cap * 2;
        while (cap < x->used + len)
            cap *= 2;
        char *nv = x->vals == x->small ? malloc(cap) : realloc(x->vals, cap);
        if (!nv)
            return -ENOMEM;
        if (x->vals == x->small)
            memcpy(nv, x->small, x->used);
        x->vals = nv;
        x->cap = cap;
    }
    x->name[x->n] = name;
    x->present[x->n] = value != NULL;
    x->off[x->n] = x->used;
    x->len[x->n] = value ? len : 0;
    if (value) {
        memcpy(x->vals + x->used, value, len);
        x->used += len;
        x->npresent++;
    }
    x->n++;
    return 0;
}

static int emit(clm_cmdbuf *b, const char *cmd, const char *key, size_t klen, const collect *x,
                bool present)
{
    size_t n = 0;
    for (int i = 0; i < x->n; i++)
        n += x->present[i] == present;
    if (n == 0)
        return 0;
    int r = clm_cmdbuf_begin(b, 2 + n * (present ? 2 : 1));
    if (r == 0)
        r = clm_cmdbuf_arg(b, cmd, strlen(cmd));
    if (r == 0)
        r = clm_cmdbuf_arg(b, key, klen);
    for (int i = 0; i < x->n && r == 0; i++) {
        if (x->present[i] != present)
            continue;
        r = clm_cmdbuf_arg(b, x->name[i], strlen(x->name[i]));
        if (r == 0 && present)
            r = clm_cmdbuf_arg(b, x->vals + x->off[i], x->len[i]);
    }
    return r;
}

int clm_view_format(clm_cmdbuf *b, const char *prefix, const clm_customer *c,
                    const clm_apply_opts *o, uint16_t mask, bool fresh)
{
    if (mask == 0)
        return 0;
    char key[CLM_KEY_MAX];
    int klen = clm_key_customer(key, sizeof(key), prefix, c->id, c->id_len);
    if (klen < 0)
        return klen;
    collect x;
    x.n = x.npresent = 0;
    x.vals = x.small;
    x.used = 0;
    x.cap = sizeof(x.small);
    int r = clm_view_project(c, o, mask, collect_field, &x);
    if (r == 0)
        r = emit(b, "HSET", key, (size_t)klen, &x, true);
    if (r == 0 && !fresh)
        r = emit(b, "HDEL", key, (size_t)klen, &x, false);
    if (x.vals != x.small)
        free(x.vals);
    return r;
}
