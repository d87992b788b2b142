/* core/customer.c - per-customer state, lifecycle and KPI deltas (see customer.h). */
#include "core/customer.h"

#include "core/breakdown.h"
#include "core/evtype.h"
#include "core/trait.h"

#include "core/kpi.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define YEAR_MS (365LL * 86400000LL)

clm_customer *clm_customer_new(const char *id, size_t len, uint16_t part)
{
    if (len == 0 || len > CLM_ID_MAX)
        return NULL;
    size_t size = offsetof(clm_customer, id) + len + 1;
    clm_customer *c = calloc(1, size < sizeof(*c) ? sizeof(*c) : size);
    if (!c)
        return NULL;
    memcpy(c->id, id, len);
    c->id[len] = '\0';
    c->id_len = (uint8_t)len;
    c->part = part;
    c->last_type = CLM_EV_OTHER;
    c->first_purchase = CLM_NO_TS;
    c->first_signup = CLM_NO_TS;
    c->first_contact = CLM_NO_TS;
    c->indexed = CLM_NO_TS;
    c->lead_contact = CLM_NO_TS;
    c->active_bucket = CLM_NO_TS;
    c->returned = CLM_NO_TS;
    c->stage = CLM_STAGE_NONE;
    c->peak = CLM_STAGE_NONE;
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        c->entered[i] = -1;
    clm_dedup_init(&c->dedup);
    c->src_offset = -1;
    c->alert_at = CLM_NO_TS;
    c->incident_at = CLM_NO_TS;
    c->risk_day = -1;
    c->risk_next = -1;
    clm_risk_state_init(&c->risk);
    clm_rfm_init(&c->rfm);
    c->changed = CLM_FACET_ALL; /* its view does not exist yet */
    c->flags = CLM_CUST_NEW;
    return c;
}

void clm_customer_free(clm_customer *c)
{
    if (!c)
        return;
    clm_dedup_release(&c->dedup);
    free(c->traits);
    free(c);
}

/* ---- lifecycle helpers -------------------------------------------------- */

static bool is_churned(const clm_customer *c, const clm_apply_opts *o)
{
    return o->stages && c->stage != CLM_STAGE_NONE && c->stage == clm_stages_churned(o->stages);
}

/* A current customer: has ordered and is not churned. */
static bool is_current(const clm_customer *c, const clm_apply_opts *o)
{
    return c->orders >= 1 && !is_churned(c, o);
}

bool clm_customer_current(const clm_customer *c, const clm_apply_opts *o)
{
    return is_current(c, o);
}

void clm_customer_risk_eval(const clm_customer *c, const clm_apply_opts *o, clm_risk_eval *out)
{
    if (c->risk_day < 0) {
        out->n = 0;
        out->risk_e4 = 0;
        return;
    }
    clm_risk_eval_at(&c->risk, &c->rfm, o->risk, c->risk_day, is_current(c, o), out);
}

int64_t clm_customer_clv_rate(const clm_customer *c, const clm_apply_opts *o)
{
    int64_t rate = 0;
    if (is_current(c, o)) {
        int64_t tenure = c->last_seen - c->first_purchase;
        if (tenure < o->clv_min_tenure_ms)
            tenure = o->clv_min_tenure_ms;
        if (tenure < 1)
            tenure = 1;
        /* revenue (<= INT64_MAX) x a year fits in 128 bits; the rate stops
         * at INT64_MAX. Both rates are >= 0, so their difference fits. */
        __extension__ __int128 wide = (__int128)c->revenue_micros * YEAR_MS / tenure;
        rate = wide > INT64_MAX ? INT64_MAX : (int64_t)wide;
    }
    return rate;
}

/* Recomputes the customer's contribution to the portfolio value rate. */
static void update_clv_rate(clm_customer *c, const clm_apply_opts *o, clm_deltas *d)
{
    int64_t rate = clm_customer_clv_rate(c, o);
    d->value_rate_micros = clm_sat_add(d->value_rate_micros, rate - c->clv_rate_micros);
    if (rate != c->clv_rate_micros)
        d->any = true;
    c->clv_rate_micros = rate;
}

/* The bucket the current spell as a customer began: the latest return from
 * the churn stage, else the first purchase. */
static int64_t since_bucket(const clm_customer *c, const clm_apply_opts *o)
{
    return c->returned != CLM_NO_TS ? c->returned : clm_bucket_of_ms(c->first_purchase, o->bucket_ms);
}

/* A customer becomes current (n = 1) or stops being (n = -1): the counters
 * dated by its latest activity and by the start of its spell. */
static int spell(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t n)
{
    int r;
    if (c->active_bucket != CLM_NO_TS &&
        (r = clm_deltas_add(d, c->active_bucket, CLM_DAY(current_last_active), n)) < 0)
        return r;
    return clm_deltas_add(d, since_bucket(c, o), CLM_DAY(current_since), n);
}

/* Moves the customer to stage `to` at time ts, with its counters. */
static int enter_stage(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int to,
                       int64_t ts)
{
    const clm_stages *m = o->stages;
    int64_t b = clm_bucket_of_ms(ts, o->bucket_ms);
    int from = c->stage, churned = clm_stages_churned(m);
    int r;
    if ((r = clm_deltas_transition(d, b, from, to)) < 0)
        return r;
    if (to == churned) {
        if ((r = clm_deltas_add(d, b, CLM_DAY(churned), 1)) < 0 ||
            (c->orders >= 1 && ((r = clm_deltas_add(d, b, CLM_DAY(customers_delta), -1)) < 0 ||
                                (r = spell(c, o, d, -1)) < 0)))
            return r;
    } else if (from == churned) {
        if (to == clm_stages_reactivated(m) && (r = clm_deltas_add(d, b, CLM_DAY(reactivated), 1)) < 0)
            return r;
        if (c->orders >= 1) {
            c->returned = b;
            if ((r = clm_deltas_add(d, b, CLM_DAY(customers_delta), 1)) < 0 ||
                (r = spell(c, o, d, 1)) < 0)
                return r;
        }
    }
    int rank = clm_stages_rank(m, to);
    if (rank >= 0 && rank < CLM_CUST_RANKS) {
        if (c->entered[rank] < 0) {
            c->entered[rank] = (int32_t)b;
            if ((r = clm_deltas_add(d, b, CLM_DAY(entered) + (size_t)to * sizeof(int64_t), 1)) < 0)
                return r;
            if (rank > 0 && c->entered[rank - 1] >= 0 &&
                (r = clm_deltas_add(d, c->entered[rank - 1],
                                    CLM_DAY(advanced) + (size_t)(rank - 1) * sizeof(int64_t), 1)) < 0)
                return r;
        }
        if (c->peak == CLM_STAGE_NONE || rank > clm_stages_rank(m, c->peak))
            c->peak = (uint8_t)to;
    } else if (rank < 0) {
        if ((r = clm_deltas_add(d, b, CLM_DAY(entered) + (size_t)to * sizeof(int64_t), 1)) < 0)
            return r;
    }
    c->stage = (uint8_t)to;
    c->stage_since = ts;
    return 0;
}

static int64_t churn_deadline(const clm_customer *c, const clm_apply_opts *o)
{
    if (!o->stages || !is_current(c, o))
        return CLM_NO_TS;
    return c->last_seen + o->churn_inactive_ms;
}

static int64_t risk_due(const clm_customer *c, const clm_apply_opts *o)
{
    return o->risk && c->risk_next >= 0 ? (int64_t)c->risk_next * CLM_MS_PER_DAY : CLM_NO_TS;
}

int64_t clm_customer_deadline(const clm_customer *c, const clm_apply_opts *o)
{
    int64_t d = churn_deadline(c, o), r = risk_due(c, o);
    return d == CLM_NO_TS || (r != CLM_NO_TS && r < d) ? r : d;
}

/* ---- churn risk and alerts ---------------------------------------------- */

/* Raises an alert of `kind` (unless its kind is off, or, for churn_risk and
 * churned, the customer's clv is below the floor) and keeps the incident:
 * churn_risk and churned open one when none is open, resolved closes it
 * (the caller checks one is open). */
static int raise_alert(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, clm_alert_kind kind,
                       clm_resolve_reason reason, int cause, const clm_pos *src,
                       int64_t event_ts, int64_t page_ms, int risk_e4, int prev_e4,
                       const clm_risk_eval *e)
{
    const clm_alert_opts *ao = o->alerts;
    int64_t clv = c->revenue_micros - c->refunds_micros, incident = c->incident_at;
    if (kind == CLM_ALERT_RESOLVED)
        c->incident_at = CLM_NO_TS; /* closed even when resolved alerts are off */
    if (!ao || !ao->enabled[kind] || (kind != CLM_ALERT_RESOLVED && clv < ao->clv_floor_micros))
        return 0;
    if (kind != CLM_ALERT_RESOLVED && incident == CLM_NO_TS)
        incident = c->incident_at = event_ts;
    clm_alert a;
    a.kind = kind;
    a.reason = reason;
    a.cause = cause;
    a.incident_at = incident;
    a.page_ms = page_ms;
    a.topic = src ? src->topic : c->src_topic;
    a.partition = src ? src->partition : c->part;
    a.offset = src ? src->offset : c->src_offset;
    a.event_ts = event_ts;
    a.risk_e4 = risk_e4;
    a.prev_risk_e4 = prev_e4;
    a.stage = c->stage == CLM_STAGE_NONE ? -1 : c->stage;
    a.clv_micros = clv;
    a.clv_rate_micros = c->clv_rate_micros;
    a.nreasons = 0;
    for (size_t i = 0; e && i < e->n; i++)
        a.reasons[a.nreasons++] = e->r[i];
    a.id_len = c->id_len;
    memcpy(a.customer_id, c->id, (size_t)c->id_len + 1);
    return clm_deltas_alert(d, &a);
}

/* Scores the customer on `day` (evaluation time at_ms, also the paging time
 * of what it raises). A churn_risk alert is raised when the score reaches
 * the threshold while armed and out of cooldown; the open incident of a
 * current customer is resolved when the score falls below threshold -
 * rearm_margin (which also re-arms it). */
static int score(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t day,
                 const clm_pos *src, int64_t event_ts, int64_t at_ms)
{
    clm_risk_eval e;
    bool current = is_current(c, o);
    clm_risk_eval_at(&c->risk, &c->rfm, o->risk, day, current, &e);
    int prev = c->risk_e4, r;
    c->risk_e4 = (uint16_t)e.risk_e4;
    c->risk_day = (int32_t)day;
    c->risk_next = current ? (int32_t)clm_risk_next_day(&c->risk, &c->rfm, o->risk, day) : -1;
    const clm_alert_opts *ao = o->alerts;
    if (!ao)
        return 0;
    if (e.risk_e4 < ao->threshold_e4 - ao->rearm_e4) {
        c->flags &= (uint8_t)~CLM_CUST_DISARMED;
        if (current && c->incident_at != CLM_NO_TS &&
            (r = raise_alert(c, o, d, CLM_ALERT_RESOLVED, CLM_RESOLVE_RISK_FELL, -1, src,
                             event_ts, at_ms, e.risk_e4, prev, &e)) < 0)
            return r;
    }
    if ((c->flags & CLM_CUST_DISARMED) || e.risk_e4 < ao->threshold_e4 ||
        !ao->enabled[CLM_ALERT_CHURN_RISK] ||
        (c->alert_at != CLM_NO_TS && at_ms < c->alert_at + ao->cooldown_ms) ||
        c->revenue_micros - c->refunds_micros < ao->clv_floor_micros)
        return 0;
    c->flags |= CLM_CUST_DISARMED;
    c->alert_at = at_ms;
    return raise_alert(c, o, d, CLM_ALERT_CHURN_RISK, CLM_RESOLVE_NONE, -1, src, event_ts, at_ms,
                       e.risk_e4, prev, &e);
}

/* The churned alert of a customer about to enter the churned stage, moved
 * there by an event of type `cause` or by silence (CLM_CAUSE_INACTIVITY): it
 * carries the risk the customer had as a current customer on the day it
 * churns (page_ms's day), with the reasons behind it, and the last score
 * as previous_risk (the score after the churn would say less: a churned
 * customer is not scored). */
static int raise_churned(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int cause,
                         const clm_pos *src, int64_t event_ts, int64_t page_ms)
{
    clm_risk_eval e = { 0 };
    if (o->risk)
        clm_risk_eval_at(&c->risk, &c->rfm, o->risk, clm_day_of_ms(page_ms), true, &e);
    c->flags &= (uint8_t)~CLM_CUST_DISARMED; /* scoring starts afresh if it comes back */
    return raise_alert(c, o, d, CLM_ALERT_CHURNED, CLM_RESOLVE_NONE, cause, src, event_ts,
                       page_ms, e.risk_e4, c->risk_e4, &e);
}

int64_t clm_customer_index_score(const clm_customer *c, const clm_apply_opts *o)
{
    int64_t d = clm_customer_deadline(c, o);
    if (d == CLM_NO_TS)
        return CLM_NO_TS;
    int64_t q = d / CLM_INDEX_ROUND_MS, r = d % CLM_INDEX_ROUND_MS;
    return (r > 0 ? q + 1 : q) * CLM_INDEX_ROUND_MS;
}

/* The facets that differ between two states of one customer. Reasons are
 * flagged whenever what they are computed from may differ: the score, its
 * day, or (for a customer with any risk) the signals' state. */
static uint16_t facets(const clm_customer *a, const clm_customer *b)
{
    uint16_t m = 0;
    m |= a->first_seen != b->first_seen ? CLM_FACET_FIRST_SEEN : 0;
    m |= a->last_seen != b->last_seen || a->last_type != b->last_type ? CLM_FACET_LAST_SEEN : 0;
    m |= a->events != b->events ? CLM_FACET_EVENTS : 0;
    m |= a->orders != b->orders ? CLM_FACET_ORDERS : 0;
    m |= a->revenue_micros != b->revenue_micros ? CLM_FACET_REVENUE : 0;
    m |= a->refunds_micros != b->refunds_micros ? CLM_FACET_REFUNDS : 0;
    m |= a->first_signup != b->first_signup ? CLM_FACET_FIRST_SIGNUP : 0;
    m |= a->first_purchase != b->first_purchase ? CLM_FACET_FIRST_PURCHASE : 0;
    m |= a->first_contact != b->first_contact ? CLM_FACET_FIRST_CONTACT : 0;
    m |= a->clv_rate_micros != b->clv_rate_micros ? CLM_FACET_CLV_RATE : 0;
    m |= a->stage != b->stage || a->stage_since != b->stage_since ? CLM_FACET_STAGE : 0;
    m |= a->peak != b->peak ? CLM_FACET_PEAK : 0;
    m |= a->risk_e4 != b->risk_e4 || a->risk_day != b->risk_day ? CLM_FACET_RISK : 0;
    bool rfm = memcmp(&a->rfm, &b->rfm, sizeof(a->rfm)) != 0;
    m |= rfm ? CLM_FACET_RFM : 0;
    if ((m & CLM_FACET_RISK) ||
        ((a->risk_e4 || b->risk_e4) && (rfm || memcmp(&a->risk, &b->risk, sizeof(a->risk)) != 0)))
        m |= CLM_FACET_RISK_REASONS;
    return m;
}

static int expire(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t watermark);

static bool bd_on(const clm_apply_opts *o)
{
    return o->breakdowns && o->breakdowns->n > 0;
}

void clm_customer_bd_slots(const clm_customer *c, const clm_apply_opts *o, uint8_t *slots)
{
    const clm_breakdown_set *bs = o->breakdowns;
    for (size_t k = 0; bs && k < bs->n; k++) {
        clm_trait_value v;
        clm_customer_trait(c, bs->d[k].trait_idx, &v);
        slots[k] = (uint8_t)clm_breakdown_slot(&bs->d[k], &v);
    }
}

/* Attributes the breakdown counters recorded since clm_deltas_bd_begin to
 * the customer's current trait values (r: the change's result). A current
 * customer whose slot changed (old: the slots before; NULL: unchanged)
 * moves from the old slot's customers_delta to the new one's in bucket b,
 * so that each slot's running sum counts its current customers. */
static int bd_finish(const clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int r,
                     const uint8_t *old, bool was_current, int64_t b)
{
    if (r < 0) {
        clm_deltas_bd_abort(d);
        return r;
    }
    uint8_t slots[CLM_BD_MAX];
    const clm_breakdown_set *bs = o->breakdowns;
    clm_customer_bd_slots(c, o, slots);
    int e = clm_deltas_bd_end(d, slots, bs->n);
    int k = clm_breakdown_counter(CLM_DAY(customers_delta));
    for (size_t i = 0; e == 0 && old && was_current && i < bs->n; i++)
        if (old[i] != slots[i] && ((e = clm_deltas_bd_add(d, b, i, old[i], k, -1)) < 0 ||
                                   (e = clm_deltas_bd_add(d, b, i, slots[i], k, 1)) < 0))
            break;
    return e < 0 ? e : r;
}

int clm_customer_expire(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t watermark)
{
    clm_customer before = *c;
    if (bd_on(o))
        clm_deltas_bd_begin(d);
    int r = expire(c, o, d, watermark);
    if (bd_on(o))
        r = bd_finish(c, o, d, r, NULL, false, 0);
    if (r > 0)
        c->changed |= facets(&before, c);
    return r;
}

static int expire(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t watermark)
{
    int did = 0, r;
    if (watermark == CLM_NO_TS)
        return 0;
    for (;;) {
        int64_t churn = churn_deadline(c, o), due = risk_due(c, o);
        bool do_churn = churn != CLM_NO_TS && churn <= watermark && (due == CLM_NO_TS || churn <= due);
        if (!do_churn && (due == CLM_NO_TS || due > watermark))
            break;
        if (do_churn) {
            int64_t day = clm_day_of_ms(churn);
            if ((r = raise_churned(c, o, d, CLM_CAUSE_INACTIVITY, NULL, churn, churn)) < 0 ||
                (r = enter_stage(c, o, d, clm_stages_churned(o->stages), churn)) < 0)
                return r;
            update_clv_rate(c, o, d);
            if (o->risk && (r = score(c, o, d, day, NULL, churn, churn)) < 0)
                return r;
        } else if ((r = score(c, o, d, c->risk_next, NULL, due, due)) < 0) {
            return r;
        }
        did = 1;
    }
    if (did)
        c->flags |= CLM_CUST_DIRTY;
    return did;
}

/* Records activity in bucket b: distinct active customers per bucket, and
 * the bucket of each customer's latest activity (for distinct counts over
 * windows). Buckets more than 63 behind the latest cannot occur (they are
 * late) and are ignored. */
static int mark_active(clm_customer *c, const clm_apply_opts *o, int64_t b, clm_deltas *d)
{
    int r;
    bool counted = c->orders >= 1; /* last_active counts customers only */
    bool current = is_current(c, o); /* current_last_active current ones */
    if (c->active_bucket == CLM_NO_TS || b > c->active_bucket) {
        if (counted && c->active_bucket != CLM_NO_TS &&
            (r = clm_deltas_add(d, c->active_bucket, CLM_DAY(last_active), -1)) < 0)
            return r;
        if (counted && (r = clm_deltas_add(d, b, CLM_DAY(last_active), 1)) < 0)
            return r;
        if (current && c->active_bucket != CLM_NO_TS &&
            ((r = clm_deltas_add(d, c->active_bucket, CLM_DAY(current_last_active), -1)) < 0 ||
             (r = clm_deltas_add(d, b, CLM_DAY(current_last_active), 1)) < 0))
            return r;
        int64_t shift = c->active_bucket == CLM_NO_TS ? 64 : b - c->active_bucket;
        c->active_bits = (shift >= 64 ? 0 : c->active_bits << shift) | 1u;
        c->active_bucket = b;
        return clm_deltas_add(d, b, CLM_DAY(active_customers), 1);
    }
    int64_t k = c->active_bucket - b;
    if (k >= 64 || (c->active_bits & (1ull << k)))
        return 0;
    c->active_bits |= 1ull << k;
    return clm_deltas_add(d, b, CLM_DAY(active_customers), 1);
}

static int on_purchase(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                       clm_deltas *d, int64_t b)
{
    int r;
    if ((r = clm_deltas_add(d, b, CLM_DAY(orders), 1)) < 0 ||
        (r = clm_deltas_add(d, b, CLM_DAY(revenue_micros), ev->amount_micros)) < 0)
        return r;
    c->orders++;
    if (c->orders == 2)
        d->repeat_customers++;
    c->revenue_micros = clm_sat_add(c->revenue_micros, ev->amount_micros);
    clm_rfm_purchase(&c->rfm, ev->ts_ms, ev->amount_micros);
    if (c->orders == 1) {
        c->first_purchase = ev->ts_ms;
        if ((r = clm_deltas_add(d, b, CLM_DAY(new_customers), 1)) < 0 ||
            (!is_churned(c, o) && ((r = clm_deltas_add(d, b, CLM_DAY(customers_delta), 1)) < 0 ||
                                   (r = spell(c, o, d, 1)) < 0)) ||
            (r = clm_deltas_add(d, c->active_bucket, CLM_DAY(last_active), 1)) < 0)
            return r;
        if (c->first_signup != CLM_NO_TS &&
            (r = clm_deltas_add(d, clm_bucket_of_ms(c->first_signup, o->bucket_ms),
                                CLM_DAY(leads_converted), 1)) < 0)
            return r;
        return 0;
    }
    if (ev->ts_ms < c->first_purchase) {
        /* an earlier first purchase arrived late: it becomes the first, the
         * old first becomes a repeat order on its own bucket */
        int64_t ob = clm_bucket_of_ms(c->first_purchase, o->bucket_ms);
        if ((r = clm_deltas_add(d, ob, CLM_DAY(new_customers), -1)) < 0 ||
            (r = clm_deltas_add(d, b, CLM_DAY(new_customers), 1)) < 0 ||
            (r = clm_deltas_add(d, ob, CLM_DAY(customers_delta), -1)) < 0 ||
            (r = clm_deltas_add(d, b, CLM_DAY(customers_delta), 1)) < 0 ||
            (r = clm_deltas_add(d, ob, CLM_DAY(repeat_orders), 1)) < 0)
            return r;
        /* a spell that began with the first purchase begins earlier */
        if (is_current(c, o) && c->returned == CLM_NO_TS &&
            ((r = clm_deltas_add(d, ob, CLM_DAY(current_since), -1)) < 0 ||
             (r = clm_deltas_add(d, b, CLM_DAY(current_since), 1)) < 0))
            return r;
        c->first_purchase = ev->ts_ms;
        return 0;
    }
    return clm_deltas_add(d, b, CLM_DAY(repeat_orders), 1);
}

/* Re-settles which contact counts as the lead's response after the first
 * signup or the known contacts changed: the earliest contact at or after the
 * first signup, among the earliest contact seen, the one counted so far and
 * a new one (exact unless a lead was contacted twice before a late, earlier
 * signup arrived).
 * Moves leads_contacted and lead_response_ms_sum between days as needed;
 * `old_signup` is the first signup the current count was made against. */
static int settle_contact(clm_customer *c, const clm_apply_opts *o, clm_deltas *d,
                          int64_t old_signup, int64_t new_contact)
{
    int64_t s = c->first_signup, best = CLM_NO_TS;
    const int64_t cand[3] = { c->first_contact, c->lead_contact, new_contact };
    for (int i = 0; s != CLM_NO_TS && i < 3; i++)
        if (cand[i] != CLM_NO_TS && cand[i] >= s && (best == CLM_NO_TS || cand[i] < best))
            best = cand[i];
    if (best == c->lead_contact && s == old_signup)
        return 0;
    int r;
    if (c->lead_contact != CLM_NO_TS) {
        int64_t ob = clm_bucket_of_ms(c->lead_contact, o->bucket_ms);
        if ((r = clm_deltas_add(d, ob, CLM_DAY(leads_contacted), -1)) < 0 ||
            (r = clm_deltas_add(d, ob, CLM_DAY(lead_response_ms_sum), -(c->lead_contact - old_signup))) < 0)
            return r;
    }
    if (best != CLM_NO_TS) {
        int64_t nb = clm_bucket_of_ms(best, o->bucket_ms);
        if ((r = clm_deltas_add(d, nb, CLM_DAY(leads_contacted), 1)) < 0 ||
            (r = clm_deltas_add(d, nb, CLM_DAY(lead_response_ms_sum), best - s)) < 0)
            return r;
    }
    c->lead_contact = best;
    return 0;
}

static int on_signup(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                     clm_deltas *d, int64_t b)
{
    int r;
    int64_t old_signup = c->first_signup;
    if (c->first_signup != CLM_NO_TS && ev->ts_ms >= c->first_signup)
        return 0;
    if (c->first_signup != CLM_NO_TS) { /* an earlier first signup arrived late */
        int64_t ob = clm_bucket_of_ms(c->first_signup, o->bucket_ms);
        if ((r = clm_deltas_add(d, ob, CLM_DAY(new_leads), -1)) < 0 ||
            (c->orders >= 1 && (r = clm_deltas_add(d, ob, CLM_DAY(leads_converted), -1)) < 0))
            return r;
    }
    c->first_signup = ev->ts_ms;
    if ((r = clm_deltas_add(d, b, CLM_DAY(new_leads), 1)) < 0 ||
        (c->orders >= 1 && (r = clm_deltas_add(d, b, CLM_DAY(leads_converted), 1)) < 0))
        return r;
    return settle_contact(c, o, d, old_signup, CLM_NO_TS);
}

/* Per-type counters of the event's own bucket. */
static int count_event(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                       clm_deltas *d, int64_t b)
{
    int s = ev->score;
    switch (ev->type) {
    case CLM_EV_PURCHASE:
        return on_purchase(c, ev, o, d, b);
    case CLM_EV_REFUND:
        c->refunds_micros = clm_sat_add(c->refunds_micros, ev->amount_micros);
        return clm_deltas_add(d, b, CLM_DAY(refunds_micros), ev->amount_micros);
    case CLM_EV_SIGNUP:
        return on_signup(c, ev, o, d, b);
    case CLM_EV_LEAD_CONTACTED:
        if (c->first_contact == CLM_NO_TS || ev->ts_ms < c->first_contact)
            c->first_contact = ev->ts_ms;
        return settle_contact(c, o, d, c->first_signup, ev->ts_ms);
    case CLM_EV_NPS_RESPONSE:
        return clm_deltas_add(d, b,
                              s >= 9   ? CLM_DAY(nps_promoters)
                              : s >= 7 ? CLM_DAY(nps_passives)
                                       : CLM_DAY(nps_detractors),
                              1);
    case CLM_EV_CSAT_RESPONSE:
        if (clm_deltas_add(d, b, CLM_DAY(csat_n), 1) < 0 ||
            clm_deltas_add(d, b, CLM_DAY(csat_sum), s) < 0)
            return -ENOMEM;
        return s >= 4 ? clm_deltas_add(d, b, CLM_DAY(csat_satisfied), 1) : 0;
    case CLM_EV_SESSION:
        if (clm_deltas_add(d, b, CLM_DAY(sessions), 1) < 0)
            return -ENOMEM;
        return ev->has_duration ? clm_deltas_add(d, b, CLM_DAY(session_ms), ev->duration_ms) : 0;
    case CLM_EV_UPGRADE:
        return clm_deltas_add(d, b, CLM_DAY(upgrades), 1);
    default:
        return 0;
    }
}

static int apply_at(clm_customer *c, const clm_event *ev, const clm_pos *pos,
                    const clm_apply_opts *o, clm_deltas *d, int64_t watermark);

int clm_customer_apply_at(clm_customer *c, const clm_event *ev, const clm_pos *pos,
                          const clm_apply_opts *o, clm_deltas *d, int64_t watermark)
{
    clm_customer before = *c;
    uint8_t old[CLM_BD_MAX];
    bool was_current = false;
    if (bd_on(o)) {
        clm_customer_bd_slots(c, o, old);
        was_current = is_current(c, o);
        clm_deltas_bd_begin(d);
    }
    int r = apply_at(c, ev, pos, o, d, watermark);
    if (bd_on(o))
        r = bd_finish(c, o, d, r, r == CLM_APPLIED ? old : NULL, was_current,
                      clm_bucket_of_ms(ev->ts_ms, o->bucket_ms));
    if (r == CLM_APPLIED)
        c->changed |= facets(&before, c);
    return r;
}

static int apply_at(clm_customer *c, const clm_event *ev, const clm_pos *pos,
                    const clm_apply_opts *o, clm_deltas *d, int64_t watermark)
{
    int r;
    bool dedup = o->dedup_horizon_ms > 0 && ev->has_event_id;
    if (dedup) {
        uint64_t h = clm_dedup_hash(ev->event_id, ev->event_id_len);
        if (clm_dedup_contains(&c->dedup, h))
            return CLM_DUPLICATE;
        int64_t latest = c->events && c->last_seen > ev->ts_ms ? c->last_seen : ev->ts_ms;
        if ((r = clm_dedup_add(&c->dedup, h, ev->ts_ms, latest, o->dedup_horizon_ms,
                               o->dedup_max_ids)) < 0)
            return r;
    }
    if ((o->stages || o->risk) && (r = expire(c, o, d, watermark)) < 0)
        return r;

    bool active = ev->activity == CLM_ACT_BY_TYPE ? !(o->inactive_types & (1u << ev->type))
                                                  : ev->activity == CLM_ACT_YES;
    if (c->events == 0 || ev->ts_ms < c->first_seen)
        c->first_seen = ev->ts_ms;
    /* last_seen is the latest activity; active_bucket is set by the first */
    if (active && (c->active_bucket == CLM_NO_TS || ev->ts_ms >= c->last_seen)) {
        c->last_seen = ev->ts_ms;
        c->last_type = (uint8_t)ev->type;
    }
    c->events++;
    if (pos) {
        c->src_topic = (uint8_t)pos->topic;
        c->src_offset = pos->offset;
    }

    int64_t b = clm_bucket_of_ms(ev->ts_ms, o->bucket_ms);
    if ((active && (r = mark_active(c, o, b, d)) < 0) || (r = count_event(c, ev, o, d, b)) < 0)
        return r;
    if (o->risk)
        clm_risk_note(&c->risk, ev, active);
    /* risk is scored on the watermark's day (the event's own when none) */
    int64_t at = watermark != CLM_NO_TS ? watermark : ev->ts_ms;
    int64_t day = clm_day_of_ms(at);
    if (o->stages) {
        int to = clm_stages_next_bits(o->stages, c->stage, c->peak, clm_event_rule_bits(ev),
                                      ev->has_score, ev->score, c->orders);
        int churned = clm_stages_churned(o->stages);
        if (!active && c->stage == churned)
            to = -1; /* only activity brings a churned customer back */
        if (to >= 0 && to == churned && c->stage != churned &&
            (r = raise_churned(c, o, d, ev->type, pos, ev->ts_ms, at)) < 0)
            return r;
        if (to >= 0 && c->stage == churned && to != churned && c->incident_at != CLM_NO_TS &&
            (r = raise_alert(c, o, d, CLM_ALERT_RESOLVED, CLM_RESOLVE_REACTIVATED, -1, pos,
                             ev->ts_ms, at, c->risk_e4, c->risk_e4, NULL)) < 0)
            return r;
        if (to >= 0 && (r = enter_stage(c, o, d, to, ev->ts_ms)) < 0)
            return r;
    }
    update_clv_rate(c, o, d);
    if (o->risk && (r = score(c, o, d, day, pos, ev->ts_ms, at)) < 0)
        return r;
    if ((r = clm_traits_apply(&c->traits, &c->traits_len, o->traits, ev)) < 0)
        return r;
    if (r > 0)
        c->changed |= CLM_FACET_TRAITS;
    d->any = true;
    c->flags |= CLM_CUST_DIRTY | CLM_CUST_REF;
    return CLM_APPLIED;
}

int clm_customer_apply(clm_customer *c, const clm_event *ev, const clm_apply_opts *o,
                       clm_deltas *d, int64_t watermark)
{
    return clm_customer_apply_at(c, ev, NULL, o, d, watermark);
}
