/* store/record_read.c - the reader of the binary checkpoint record (see
 * record.h for the layout and the rules it enforces; the writer is
 * record.c). */
#include "store/record.h"
#include "store/record_layout.h"

#include "core/timeutil.h"
#include "core/trait.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field names for messages, by presence bit. */
static const char *const F_NAME[F__COUNT] = {
    "first_seen", "last_type", "orders", "clv_rate", "first_purchase", "first_signup",
    "stage", "entered", "active_bucket", "src_offset", "risk_day", "risk", "rfm", "dedup",
    "first_contact", "lead_contact", "alert_at", "disarmed", "returned", "incident_at",
    "traits",
};
static const char *const R_NAME[R__COUNT] = {
    "risk.last_day", "risk.sessions", "risk.ticket_day", "risk.payment_failed_day",
    "risk.downgrade_day", "risk.nps", "risk.csat",
};

/* ---- reader ------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *p, *end;
    int version;
    char *err;
    size_t errsize;
} reader;

/* Writes "record version <v>: field <field>: <what>"; returns -EPROTO. */
static int fail(reader *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(reader *r, const char *field, const char *fmt, ...)
{
    if (r->errsize == 0)
        return -EPROTO;
    int n = snprintf(r->err, r->errsize, "record version %d: field %s: ", r->version, field);
    if (n >= 0 && (size_t)n < r->errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errsize - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EPROTO;
}

static int get_byte(reader *r, const char *field, uint8_t *out)
{
    if (r->p == r->end)
        return fail(r, field, "truncated");
    *out = *r->p++;
    return 0;
}

static int get_uv(reader *r, const char *field, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0;; i++) {
        uint8_t b = 0;
        int e = get_byte(r, field, &b);
        if (e < 0)
            return e;
        if (i == 9 && b > 1)
            return fail(r, field, "varint does not fit 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return fail(r, field, "overlong varint");
            *out = v;
            return 0;
        }
    }
}

static int get_zz(reader *r, const char *field, int64_t *out)
{
    uint64_t u;
    int e = get_uv(r, field, &u);
    if (e < 0)
        return e;
    *out = (int64_t)((u >> 1) ^ (0 - (u & 1)));
    return 0;
}

/* A zz(v - base) value. */
static int get_rel(reader *r, const char *field, int64_t base, int64_t *out)
{
    int64_t d;
    int e = get_zz(r, field, &d);
    if (e < 0)
        return e;
    *out = clm_record_wrap_add(base, d);
    return 0;
}

static int fit_i32(reader *r, const char *field, int64_t v, int32_t *out)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return fail(r, field, "%lld is out of range for an int32", (long long)v);
    *out = (int32_t)v;
    return 0;
}

static int get_rel32(reader *r, const char *field, int64_t base, int32_t *out)
{
    int64_t v;
    int e = get_rel(r, field, base, &v);
    return e < 0 ? e : fit_i32(r, field, v, out);
}

static int get_zz32(reader *r, const char *field, int32_t *out)
{
    return get_rel32(r, field, 0, out);
}

static int get_answer(reader *r, const char *field, int8_t *out)
{
    int64_t v;
    int e = get_zz(r, field, &v);
    if (e < 0)
        return e;
    if (v < INT8_MIN || v > INT8_MAX)
        return fail(r, field, "%lld is out of range for an int8", (long long)v);
    *out = (int8_t)v;
    return 0;
}

static int get_stage(reader *r, const char *field, uint8_t *out)
{
    int e = get_byte(r, field, out);
    if (e < 0)
        return e;
    if (*out >= CLM_STAGES_MAX && *out != CLM_STAGE_NONE)
        return fail(r, field, "%u is not a stage index", *out);
    return 0;
}

/* The first bit set in `extra`, named from `names`, as a canonical-form error. */
static int fail_default(reader *r, const char *const *names, uint64_t extra)
{
    return fail(r, names[__builtin_ctzll(extra)], "marked present but holds its fresh value");
}

static int get_sessions(reader *r, clm_risk_state *s, int64_t day)
{
    uint64_t bits;
    int e;
    if ((e = get_rel32(r, "risk.session_day", day, &s->session_day)) < 0 ||
        (e = get_uv(r, "risk.sessions", &bits)) < 0)
        return e;
    for (int k = 0; k < CLM_RISK_SESSION_DAYS; k++) {
        uint8_t v = 0;
        if (!(bits & (1ull << k)))
            continue;
        if ((e = get_byte(r, "risk.sessions", &v)) < 0)
            return e;
        if (v == 0)
            return fail(r, "risk.sessions", "count 0 marked present (day %d back)", k);
        clm_risk_sessions_set(s, (int64_t)s->session_day - k, v);
    }
    return 0;
}

static int get_tickets(reader *r, clm_risk_state *s, int64_t day)
{
    const char *field = "risk.ticket_day";
    uint64_t n;
    int e;
    if ((e = get_uv(r, field, &n)) < 0)
        return e;
    if (n < 1 || n > CLM_RISK_TICKETS)
        return fail(r, field, "%llu tickets (expected 1..%d)", (unsigned long long)n,
                    CLM_RISK_TICKETS);
    if ((e = get_rel32(r, field, day, &s->ticket_day[0])) < 0)
        return e;
    if (s->ticket_day[0] < 0)
        return fail(r, field, "day %d is below 0", s->ticket_day[0]);
    for (unsigned i = 1; i < n; i++) {
        uint64_t gap;
        if ((e = get_uv(r, field, &gap)) < 0)
            return e;
        if (gap > (uint64_t)s->ticket_day[i - 1])
            return fail(r, field, "ticket %u: day below 0", i);
        s->ticket_day[i] = (int32_t)(s->ticket_day[i - 1] - (int64_t)gap);
    }
    return 0;
}

static int get_risk(reader *r, clm_customer *t, int64_t day)
{
    int64_t last_seen = t->last_seen;
    clm_risk_state s;
    uint64_t f;
    int e;
    clm_risk_state_init(&s);
    if ((e = get_uv(r, "risk.flags", &f)) < 0)
        return e;
    if (f >> R__COUNT)
        return fail(r, "risk.flags", "unknown bits 0x%llx", (unsigned long long)(f >> R__COUNT));
    if (f & R_DAYS) {
        if ((e = get_rel32(r, "risk.last_day", day, &s.last_day)) < 0 ||
            (e = get_rel32(r, "risk.first_day", s.last_day, &s.first_day)) < 0 ||
            (e = get_zz32(r, "risk.active_days", &s.active_days)) < 0 ||
            (e = get_uv(r, "risk.day_bits", &s.day_bits)) < 0)
            return e;
        s.day_bits ^= t->active_bits;
    }
    if ((f & R_SESSIONS) && (e = get_sessions(r, &s, day)) < 0)
        return e;
    if ((f & R_TICKETS) && (e = get_tickets(r, &s, day)) < 0)
        return e;
    if ((f & R_PAYMENT_FAILED) &&
        (e = get_rel32(r, "risk.payment_failed_day", day, &s.payment_failed_day)) < 0)
        return e;
    if ((f & R_DOWNGRADE) && (e = get_rel32(r, "risk.downgrade_day", day, &s.downgrade_day)) < 0)
        return e;
    if ((f & R_NPS) && ((e = get_answer(r, "risk.nps", &s.nps)) < 0 ||
                        (e = get_rel(r, "risk.nps_ts", last_seen, &s.nps_ts)) < 0))
        return e;
    if ((f & R_CSAT) && ((e = get_answer(r, "risk.csat", &s.csat)) < 0 ||
                         (e = get_rel(r, "risk.csat_ts", last_seen, &s.csat_ts)) < 0))
        return e;
    uint64_t extra = f & ~(uint64_t)clm_record_risk_presence(&s);
    if (extra)
        return fail_default(r, R_NAME, extra);
    t->risk = s;
    return 0;
}

static int get_rfm(reader *r, clm_rfm *m, int64_t day)
{
    int e;
    if ((e = get_rel32(r, "rfm.last_day", day, &m->last_day)) < 0 ||
        (e = get_rel32(r, "rfm.first_day", m->last_day, &m->first_day)) < 0 ||
        (e = get_zz32(r, "rfm.x", &m->x)) < 0 ||
        (e = get_uv(r, "rfm.day_bits", &m->day_bits)) < 0 ||
        (e = get_zz(r, "rfm.first_micros", &m->first_micros)) < 0 ||
        (e = get_zz(r, "rfm.repeat_micros", &m->repeat_micros)) < 0)
        return e;
    return 0;
}

static int get_entered(reader *r, int32_t *entered, int64_t day)
{
    uint64_t bits;
    int e;
    if ((e = get_uv(r, "entered", &bits)) < 0)
        return e;
    if (bits >> CLM_CUST_RANKS)
        return fail(r, "entered", "ranks beyond %d", CLM_CUST_RANKS - 1);
    for (int i = 0; i < CLM_CUST_RANKS; i++) {
        if (!(bits & (1ull << i)))
            continue;
        if ((e = get_rel32(r, "entered", day, &entered[i])) < 0)
            return e;
        if (entered[i] == -1)
            return fail(r, "entered", "rank %d: -1 marked present", i);
    }
    return 0;
}

/* Fills the empty set d; on failure the caller releases it. */
static int get_dedup(reader *r, clm_dedup *d, int64_t last_seen)
{
    clm_dedup_entry small[16], *v = small;
    uint64_t n;
    int e;
    if ((e = get_uv(r, "dedup", &n)) < 0)
        return e;
    if (n < 1 || n > UINT16_MAX)
        return fail(r, "dedup", "%llu entries (expected 1..%u)", (unsigned long long)n,
                    UINT16_MAX);
    if ((size_t)(r->end - r->p) < n * 9u) /* an entry takes at least 9 bytes */
        return fail(r, "dedup", "truncated");
    if (n > sizeof(small) / sizeof(small[0]) && !(v = malloc((size_t)n * sizeof(*v))))
        return -ENOMEM;
    /* newest first in the record; the set is built oldest first */
    for (int i = (int)n - 1; i >= 0; i--) {
        uint64_t h = 0;
        for (int k = 0; k < 8; k++) {
            uint8_t b = 0;
            if ((e = get_byte(r, "dedup", &b)) < 0)
                goto out_free_entries;
            h |= (uint64_t)b << (8 * k);
        }
        v[i].hash = h;
        if (i == (int)n - 1) {
            if ((e = get_rel(r, "dedup", last_seen, &v[i].ts_ms)) < 0)
                goto out_free_entries;
        } else {
            uint64_t gap;
            if ((e = get_uv(r, "dedup", &gap)) < 0)
                goto out_free_entries;
            v[i].ts_ms = clm_record_wrap_sub(v[i + 1].ts_ms, (int64_t)gap);
            if (v[i].ts_ms > v[i + 1].ts_ms) {
                e = fail(r, "dedup", "entry %d: time out of range", i);
                goto out_free_entries;
            }
        }
    }
    for (size_t i = 0; i < n && e == 0; i++)
        e = clm_dedup_append(d, v[i].hash, v[i].ts_ms); /* in order: only -ENOMEM */

out_free_entries:
    if (v != small)
        free(v);
    return e;
}

/* The trait block: uv length (1..65535), then a block clm_traits_check accepts. */
static int get_traits(reader *r, clm_customer *t)
{
    char why[96];
    uint64_t n;
    int e;

    if ((e = get_uv(r, "traits", &n)) < 0)
        return e;
    if (n == 0 || n > UINT16_MAX)
        return fail(r, "traits", "length %llu is out of range", (unsigned long long)n);
    if ((uint64_t)(r->end - r->p) < n)
        return fail(r, "traits", "truncated");
    if (clm_traits_check(r->p, (size_t)n, why, sizeof(why)) < 0)
        return fail(r, "traits", "%s", why);
    t->traits = malloc((size_t)n);
    if (!t->traits)
        return -ENOMEM;
    memcpy(t->traits, r->p, (size_t)n);
    t->traits_len = (uint16_t)n;
    r->p += n;
    return 0;
}

/* Decodes everything after the version into t (a copy of a fresh customer). */
static int get_customer(reader *r, clm_customer *t)
{
    uint64_t f;
    int64_t day = 0;
    int e;
    if ((e = get_uv(r, "flags", &f)) < 0)
        return e;
    unsigned nbits = r->version == 2 ? F__COUNT_V2 : F__COUNT;
    if (f >> nbits)
        return fail(r, "flags", "unknown bits 0x%llx", (unsigned long long)(f >> nbits));
    if (f & F_SEEN) {
        if ((e = get_zz(r, "first_seen", &t->first_seen)) < 0 ||
            (e = get_rel(r, "last_seen", t->first_seen, &t->last_seen)) < 0 ||
            (e = get_zz(r, "events", &t->events)) < 0)
            return e;
        day = clm_day_of_ms(t->last_seen);
    }
    if (f & F_LAST_TYPE) {
        if ((e = get_byte(r, "last_type", &t->last_type)) < 0)
            return e;
        if (t->last_type >= CLM_EV__COUNT)
            return fail(r, "last_type", "%u is not an event type", t->last_type);
    }
    if ((f & F_ORDERS) && ((e = get_zz(r, "orders", &t->orders)) < 0 ||
                           (e = get_zz(r, "revenue", &t->revenue_micros)) < 0 ||
                           (e = get_zz(r, "refunds", &t->refunds_micros)) < 0))
        return e;
    if ((f & F_CLV_RATE) && (e = get_zz(r, "clv_rate", &t->clv_rate_micros)) < 0)
        return e;
    if ((f & F_FIRST_PURCHASE) &&
        (e = get_rel(r, "first_purchase", t->first_seen, &t->first_purchase)) < 0)
        return e;
    if ((f & F_FIRST_SIGNUP) && (e = get_rel(r, "first_signup", t->first_seen, &t->first_signup)) < 0)
        return e;
    if ((f & F_STAGE) && ((e = get_stage(r, "stage", &t->stage)) < 0 ||
                          (e = get_stage(r, "peak", &t->peak)) < 0 ||
                          (e = get_rel(r, "stage_since", t->last_seen, &t->stage_since)) < 0))
        return e;
    if ((f & F_ENTERED) && (e = get_entered(r, t->entered, day)) < 0)
        return e;
    if ((f & F_ACTIVE) && ((e = get_rel(r, "active_bucket", day, &t->active_bucket)) < 0 ||
                           (e = get_uv(r, "active_bits", &t->active_bits)) < 0))
        return e;
    if ((f & F_SOURCE) && ((e = get_zz(r, "src_offset", &t->src_offset)) < 0 ||
                           (e = get_byte(r, "src_topic", &t->src_topic)) < 0))
        return e;
    if (f & F_RISK_EVAL) {
        uint64_t e4;
        if ((e = get_rel32(r, "risk_day", day, &t->risk_day)) < 0 ||
            (e = get_rel32(r, "risk_next", t->risk_day, &t->risk_next)) < 0 ||
            (e = get_uv(r, "risk_e4", &e4)) < 0)
            return e;
        if (e4 > 10000)
            return fail(r, "risk_e4", "%llu is above 10000", (unsigned long long)e4);
        t->risk_e4 = (uint16_t)e4;
    }
    if ((f & F_RISK) && (e = get_risk(r, t, day)) < 0)
        return e;
    if ((f & F_RFM) && (e = get_rfm(r, &t->rfm, day)) < 0)
        return e;
    if ((f & F_DEDUP) && (e = get_dedup(r, &t->dedup, t->last_seen)) < 0)
        return e;
    if ((f & F_FIRST_CONTACT) &&
        (e = get_rel(r, "first_contact", t->first_seen, &t->first_contact)) < 0)
        return e;
    if ((f & F_LEAD_CONTACT) && (e = get_rel(r, "lead_contact", t->first_seen, &t->lead_contact)) < 0)
        return e;
    if ((f & F_ALERT_AT) && (e = get_rel(r, "alert_at", t->last_seen, &t->alert_at)) < 0)
        return e;
    if (f & F_DISARMED)
        t->flags |= CLM_CUST_DISARMED;
    if ((f & F_RETURNED) && (e = get_rel(r, "returned", day, &t->returned)) < 0)
        return e;
    if ((f & F_INCIDENT) && (e = get_rel(r, "incident_at", t->last_seen, &t->incident_at)) < 0)
        return e;
    if ((f & F_TRAITS) && (e = get_traits(r, t)) < 0)
        return e;
    uint64_t extra = f & ~(uint64_t)clm_record_presence(t);
    if (extra)
        return fail_default(r, F_NAME, extra);
    return 0;
}

int clm_record_decode(clm_customer *c, const uint8_t *p, size_t n, char *errbuf, size_t errsize)
{
    reader r = { p, p + n, 0, errbuf, errsize };
    clm_customer t;
    int e;

    if (errsize)
        errbuf[0] = '\0';
    if (n == 0) {
        snprintf(errbuf, errsize, "record: field version: truncated (empty record)");
        return -EPROTO;
    }
    if (p[0] != 2 && p[0] != CLM_RECORD_VERSION) {
        snprintf(errbuf, errsize, "record version %u is not one this clmd reads (it reads 2 and %d)",
                 p[0], CLM_RECORD_VERSION);
        return -EPROTO;
    }
    r.version = p[0];
    r.p++;
    memcpy(&t, c, offsetof(clm_customer, id));
    clm_dedup_init(&t.dedup);
    if ((e = get_customer(&r, &t)) < 0)
        goto out_free_dedup;
    if (r.p != r.end) {
        size_t extra = (size_t)(r.end - r.p);
        snprintf(errbuf, errsize, "record version %d: %zu trailing byte%s", r.version, extra,
                 extra == 1 ? "" : "s");
        e = -EPROTO;
        goto out_free_dedup;
    }
    memcpy(c, &t, offsetof(clm_customer, id));
    return 0;

out_free_dedup:
    clm_dedup_release(&t.dedup);
    free(t.traits);
    return e;
}
