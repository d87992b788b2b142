/* store/record.c - the binary checkpoint record of a customer: its writer
 * (see record.h for the layout and the rules a record must follow; the
 * reader is record_read.c). */
#include "store/record.h"
#include "store/record_layout.h"

#include "core/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned clm_record_risk_presence(const clm_risk_state *s)
{
    unsigned f = 0;
    bool counts = false;
    for (int k = 0; k < CLM_RISK_SESSION_DAYS; k++)
        counts |= s->sessions[k] != 0;
    if (s->first_day != -1 || s->last_day != -1 || s->active_days != 0 || s->day_bits != 0)
        f |= R_DAYS;
    if (s->session_day != -1 || counts)
        f |= R_SESSIONS;
    if (s->ticket_day[0] >= 0)
        f |= R_TICKETS;
    if (s->payment_failed_day != -1)
        f |= R_PAYMENT_FAILED;
    if (s->downgrade_day != -1)
        f |= R_DOWNGRADE;
    if (s->nps != -1 || s->nps_ts != CLM_NO_TS)
        f |= R_NPS;
    if (s->csat != -1 || s->csat_ts != CLM_NO_TS)
        f |= R_CSAT;
    return f;
}

static bool rfm_fresh(const clm_rfm *r)
{
    return r->first_day == -1 && r->last_day == -1 && r->x == 0 && r->day_bits == 0 &&
           r->first_micros == 0 && r->repeat_micros == 0;
}

uint32_t clm_record_presence(const clm_customer *c)
{
    uint32_t f = 0;
    bool entered = false;
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        entered |= c->entered[i] != -1;
    if (c->first_seen != 0 || c->last_seen != 0 || c->events != 0)
        f |= F_SEEN;
    if (c->last_type != CLM_EV_OTHER)
        f |= F_LAST_TYPE;
    if (c->orders != 0 || c->revenue_micros != 0 || c->refunds_micros != 0)
        f |= F_ORDERS;
    if (c->clv_rate_micros != 0)
        f |= F_CLV_RATE;
    if (c->first_purchase != CLM_NO_TS)
        f |= F_FIRST_PURCHASE;
    if (c->first_signup != CLM_NO_TS)
        f |= F_FIRST_SIGNUP;
    if (c->stage != CLM_STAGE_NONE || c->peak != CLM_STAGE_NONE || c->stage_since != 0)
        f |= F_STAGE;
    if (entered)
        f |= F_ENTERED;
    if (c->active_bucket != CLM_NO_TS || c->active_bits != 0)
        f |= F_ACTIVE;
    if (c->src_offset != -1 || c->src_topic != 0)
        f |= F_SOURCE;
    if (c->risk_day != -1 || c->risk_next != -1 || c->risk_e4 != 0)
        f |= F_RISK_EVAL;
    if (clm_record_risk_presence(&c->risk))
        f |= F_RISK;
    if (!rfm_fresh(&c->rfm))
        f |= F_RFM;
    if (c->dedup.n > 0)
        f |= F_DEDUP;
    if (c->first_contact != CLM_NO_TS)
        f |= F_FIRST_CONTACT;
    if (c->lead_contact != CLM_NO_TS)
        f |= F_LEAD_CONTACT;
    if (c->alert_at != CLM_NO_TS)
        f |= F_ALERT_AT;
    if (c->flags & CLM_CUST_DISARMED)
        f |= F_DISARMED;
    if (c->returned != CLM_NO_TS)
        f |= F_RETURNED;
    if (c->incident_at != CLM_NO_TS)
        f |= F_INCIDENT;
    if (c->traits_len > 0)
        f |= F_TRAITS;
    return f;
}

/* ---- buffer and writer ---------------------------------------------------- */

void clm_record_buf_init(clm_record_buf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
}

void clm_record_buf_release(clm_record_buf *b)
{
    if (!b)
        return;
    free(b->p);
    clm_record_buf_init(b);
}

static int reserve(clm_record_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* The put_* helpers write into room reserved beforehand. */
static void put_byte(clm_record_buf *b, uint8_t v)
{
    b->p[b->len++] = v;
}

static void put_uv(clm_record_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(b, (uint8_t)v);
}

static void put_zz(clm_record_buf *b, int64_t v)
{
    put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_rel(clm_record_buf *b, int64_t v, int64_t base)
{
    put_zz(b, clm_record_wrap_sub(v, base));
}

static void put_le64(clm_record_buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put_byte(b, (uint8_t)(v >> (8 * i)));
}

static void put_risk(clm_record_buf *b, const clm_risk_state *s, const clm_customer *c,
                     int64_t day)
{
    unsigned f = clm_record_risk_presence(s);
    put_uv(b, f);
    if (f & R_DAYS) {
        put_rel(b, s->last_day, day);
        put_rel(b, s->first_day, s->last_day);
        put_zz(b, s->active_days);
        put_uv(b, s->day_bits ^ c->active_bits);
    }
    if (f & R_SESSIONS) {
        uint64_t bits = 0;
        put_rel(b, s->session_day, day);
        for (int k = 0; k < CLM_RISK_SESSION_DAYS; k++)
            if (clm_risk_sessions_on(s, (int64_t)s->session_day - k))
                bits |= 1ull << k;
        put_uv(b, bits);
        for (int k = 0; k < CLM_RISK_SESSION_DAYS; k++)
            if (bits & (1ull << k))
                put_byte(b, (uint8_t)clm_risk_sessions_on(s, (int64_t)s->session_day - k));
    }
    if (f & R_TICKETS) {
        int n = 0;
        while (n < CLM_RISK_TICKETS && s->ticket_day[n] >= 0)
            n++;
        put_uv(b, (uint64_t)n);
        put_rel(b, s->ticket_day[0], day);
        for (int i = 1; i < n; i++)
            put_uv(b, (uint64_t)((int64_t)s->ticket_day[i - 1] - s->ticket_day[i]));
    }
    if (f & R_PAYMENT_FAILED)
        put_rel(b, s->payment_failed_day, day);
    if (f & R_DOWNGRADE)
        put_rel(b, s->downgrade_day, day);
    if (f & R_NPS) {
        put_zz(b, s->nps);
        put_rel(b, s->nps_ts, c->last_seen);
    }
    if (f & R_CSAT) {
        put_zz(b, s->csat);
        put_rel(b, s->csat_ts, c->last_seen);
    }
}

int clm_record_encode(clm_record_buf *b, const clm_customer *c)
{
    int r = reserve(b, FIXED_MAX + (size_t)c->dedup.n * DEDUP_ENTRY_MAX + 3 + c->traits_len);
    if (r < 0)
        return r;
    uint32_t f = clm_record_presence(c);
    int64_t day = clm_day_of_ms(c->last_seen);

    put_byte(b, CLM_RECORD_VERSION);
    put_uv(b, f);
    if (f & F_SEEN) {
        put_zz(b, c->first_seen);
        put_rel(b, c->last_seen, c->first_seen);
        put_zz(b, c->events);
    }
    if (f & F_LAST_TYPE)
        put_byte(b, c->last_type);
    if (f & F_ORDERS) {
        put_zz(b, c->orders);
        put_zz(b, c->revenue_micros);
        put_zz(b, c->refunds_micros);
    }
    if (f & F_CLV_RATE)
        put_zz(b, c->clv_rate_micros);
    if (f & F_FIRST_PURCHASE)
        put_rel(b, c->first_purchase, c->first_seen);
    if (f & F_FIRST_SIGNUP)
        put_rel(b, c->first_signup, c->first_seen);
    if (f & F_STAGE) {
        put_byte(b, c->stage);
        put_byte(b, c->peak);
        put_rel(b, c->stage_since, c->last_seen);
    }
    if (f & F_ENTERED) {
        uint64_t bits = 0;
        for (int i = 0; i < CLM_CUST_RANKS; i++)
            if (c->entered[i] != -1)
                bits |= 1ull << i;
        put_uv(b, bits);
        for (int i = 0; i < CLM_CUST_RANKS; i++)
            if (c->entered[i] != -1)
                put_rel(b, c->entered[i], day);
    }
    if (f & F_ACTIVE) {
        put_rel(b, c->active_bucket, day);
        put_uv(b, c->active_bits);
    }
    if (f & F_SOURCE) {
        put_zz(b, c->src_offset);
        put_byte(b, c->src_topic);
    }
    if (f & F_RISK_EVAL) {
        put_rel(b, c->risk_day, day);
        put_rel(b, c->risk_next, c->risk_day);
        put_uv(b, c->risk_e4);
    }
    if (f & F_RISK)
        put_risk(b, &c->risk, c, day);
    if (f & F_RFM) {
        put_rel(b, c->rfm.last_day, day);
        put_rel(b, c->rfm.first_day, c->rfm.last_day);
        put_zz(b, c->rfm.x);
        put_uv(b, c->rfm.day_bits);
        put_zz(b, c->rfm.first_micros);
        put_zz(b, c->rfm.repeat_micros);
    }
    if (f & F_DEDUP) {
        const clm_dedup_entry *v = clm_dedup_entries(&c->dedup);
        put_uv(b, c->dedup.n);
        for (int i = c->dedup.n - 1; i >= 0; i--) {
            put_le64(b, v[i].hash);
            if (i == c->dedup.n - 1)
                put_rel(b, v[i].ts_ms, c->last_seen);
            else
                put_uv(b, (uint64_t)v[i + 1].ts_ms - (uint64_t)v[i].ts_ms);
        }
    }
    if (f & F_FIRST_CONTACT)
        put_rel(b, c->first_contact, c->first_seen);
    if (f & F_LEAD_CONTACT)
        put_rel(b, c->lead_contact, c->first_seen);
    if (f & F_ALERT_AT)
        put_rel(b, c->alert_at, c->last_seen);
    if (f & F_RETURNED)
        put_rel(b, c->returned, day);
    if (f & F_INCIDENT)
        put_rel(b, c->incident_at, c->last_seen);
    if (f & F_TRAITS) {
        put_uv(b, c->traits_len);
        memcpy(b->p + b->len, c->traits, c->traits_len);
        b->len += c->traits_len;
    }
    return 0;
}

