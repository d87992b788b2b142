/* core/merge.c - identity merge of an anonymous customer into a known one
 * (see merge.h; the rules field by field are in README.md, "Identity
 * merge"). The KPI side works by withdrawal: the per-person counters of the
 * two customers as they were counted are withdrawn, the merged state is
 * built, and its per-person counters are added; the deltas are the
 * difference, dated where each counter is dated. */
#include "core/merge.h"

#include "core/breakdown.h"

#include "core/kpi.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

uint64_t clm_merge_record_id(const char *group, size_t group_len, const char *anon,
                             size_t anon_len, const char *known, size_t known_len,
                             const char *event_id, size_t event_id_len)
{
    static const char nul = '\0';
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    const char *part[4] = { group, anon, known, event_id };
    size_t len[4] = { group_len, anon_len, known_len, event_id_len };
    for (int i = 0; i < 4; i++) {
        if (len[i])
            XXH3_64bits_update(&st, part[i], len[i]);
        XXH3_64bits_update(&st, &nul, 1);
    }
    return XXH3_64bits_digest(&st);
}

static int64_t min_ts(int64_t a, int64_t b)
{
    if (a == CLM_NO_TS)
        return b;
    if (b == CLM_NO_TS)
        return a;
    return a < b ? a : b;
}

static int add(clm_deltas *d, int64_t bucket, size_t off, int64_t n)
{
    return n ? clm_deltas_add(d, bucket, off, n) : 0;
}

/* Adds n (1 or -1) times the counters that count the customer as a person,
 * each on the bucket it is dated on. */
static int person(const clm_customer *c, const clm_apply_opts *o, clm_deltas *d, int64_t n)
{
    int64_t bm = o->bucket_ms;
    bool customer = c->orders >= 1, current = clm_customer_current(c, o);
    int r;
    if (c->first_signup != CLM_NO_TS) {
        int64_t sb = clm_bucket_of_ms(c->first_signup, bm);
        if ((r = add(d, sb, CLM_DAY(new_leads), n)) < 0 ||
            (customer && (r = add(d, sb, CLM_DAY(leads_converted), n)) < 0))
            return r;
    }
    if (customer && c->first_purchase != CLM_NO_TS &&
        (r = add(d, clm_bucket_of_ms(c->first_purchase, bm), CLM_DAY(new_customers), n)) < 0)
        return r;
    if (c->lead_contact != CLM_NO_TS && c->first_signup != CLM_NO_TS) {
        int64_t cb = clm_bucket_of_ms(c->lead_contact, bm);
        if ((r = add(d, cb, CLM_DAY(leads_contacted), n)) < 0 ||
            (r = add(d, cb, CLM_DAY(lead_response_ms_sum), n * (c->lead_contact - c->first_signup))) < 0)
            return r;
    }
    if (customer && c->active_bucket != CLM_NO_TS &&
        (r = add(d, c->active_bucket, CLM_DAY(last_active), n)) < 0)
        return r;
    if (current) {
        int64_t since = c->returned != CLM_NO_TS ? c->returned : clm_bucket_of_ms(c->first_purchase, bm);
        if ((c->active_bucket != CLM_NO_TS &&
             (r = add(d, c->active_bucket, CLM_DAY(current_last_active), n)) < 0) ||
            (r = add(d, since, CLM_DAY(current_since), n)) < 0)
            return r;
    }
    for (int k = 0; o->stages && k < CLM_CUST_RANKS; k++) {
        int idx = clm_stages_at_rank(o->stages, k);
        if (idx < 0 || c->entered[k] < 0)
            continue;
        if ((r = add(d, c->entered[k], CLM_DAY(entered) + (size_t)idx * sizeof(int64_t), n)) < 0)
            return r;
        if (k + 1 < CLM_CUST_RANKS && c->entered[k + 1] >= 0 &&
            (r = add(d, c->entered[k], CLM_DAY(advanced) + (size_t)k * sizeof(int64_t), n)) < 0)
            return r;
    }
    d->value_rate_micros = clm_sat_add(d->value_rate_micros, n * c->clv_rate_micros);
    if (c->orders >= 2)
        d->repeat_customers += n;
    return 0;
}

/* How far a stage is along the model: an ordinary stage's rank; the
 * reactivation stage counts as the rank of the customer's peak; none and
 * the churn stage -1. */
static int stage_pos(const clm_customer *c, const clm_stages *m)
{
    if (c->stage == CLM_STAGE_NONE)
        return -1;
    int r = clm_stages_rank(m, c->stage);
    if (r >= 0)
        return r;
    if (c->stage == clm_stages_reactivated(m) && c->peak != CLM_STAGE_NONE)
        return clm_stages_rank(m, c->peak);
    return -1;
}

/* The side whose stage the merged customer takes. */
static const clm_customer *stage_side(const clm_customer *k, const clm_customer *a,
                                      const clm_stages *m)
{
    int ch = clm_stages_churned(m);
    bool kc = ch >= 0 && k->stage == ch, ac = ch >= 0 && a->stage == ch;
    if (kc && ac)
        return a->stage_since > k->stage_since ? a : k;
    if (kc || ac) {
        const clm_customer *x = kc ? k : a, *y = kc ? a : k;
        /* the other side was active after the churn: the person is back */
        bool back = y->stage != CLM_STAGE_NONE && y->active_bucket != CLM_NO_TS &&
                    y->last_seen > x->stage_since;
        return back ? y : x;
    }
    return stage_pos(a, m) > stage_pos(k, m) ? a : k;
}

/* Bits of a day bitmap ending at `last`, re-based to end at `top` >= last. */
static uint64_t align(uint64_t bits, int64_t last, int64_t top)
{
    int64_t shift = top - last;
    return shift >= 64 ? 0 : bits << shift;
}

/* Distinct days of two day sets given by (first, last, count, bitmap):
 * days in both bitmaps, and a shared first day older than both, once. */
static int64_t shared_days(int64_t kfirst, int64_t klast, uint64_t kbits, int64_t afirst,
                           int64_t alast, uint64_t abits, int64_t top, uint64_t *bits)
{
    uint64_t kb = align(kbits, klast, top), ab = align(abits, alast, top);
    int64_t shared = __builtin_popcountll(kb & ab);
    if (kfirst == afirst && top - kfirst >= 64)
        shared++;
    *bits = kb | ab;
    return shared;
}

static void merge_rfm(clm_rfm *k, const clm_rfm *a)
{
    if (a->first_day < 0)
        return;
    if (k->first_day < 0) {
        *k = *a;
        return;
    }
    int64_t top = k->last_day > a->last_day ? k->last_day : a->last_day;
    uint64_t bits;
    int64_t shared = shared_days(k->first_day, k->last_day, k->day_bits, a->first_day,
                                 a->last_day, a->day_bits, top, &bits);
    int64_t days = (int64_t)k->x + 1 + a->x + 1 - shared;
    int64_t first = k->first_day < a->first_day ? k->first_day : a->first_day;
    int64_t repeat = clm_sat_add(k->repeat_micros, a->repeat_micros), first_micros;
    if (k->first_day == a->first_day)
        first_micros = clm_sat_add(k->first_micros, a->first_micros);
    else if (k->first_day < a->first_day) {
        first_micros = k->first_micros;
        repeat = clm_sat_add(repeat, a->first_micros);
    } else {
        first_micros = a->first_micros;
        repeat = clm_sat_add(repeat, k->first_micros);
    }
    int64_t x = days - 1, span = top - first;
    if (x > span)
        x = span;
    k->first_day = (int32_t)first;
    k->last_day = (int32_t)top;
    k->day_bits = bits;
    k->x = (int32_t)x;
    k->first_micros = first_micros;
    k->repeat_micros = repeat;
}

static void merge_tickets(int32_t *k, const int32_t *a)
{
    int32_t out[CLM_RISK_TICKETS];
    int i = 0, j = 0;
    for (int n = 0; n < CLM_RISK_TICKETS; n++)
        out[n] = (j >= CLM_RISK_TICKETS || (i < CLM_RISK_TICKETS && k[i] >= a[j])) ? k[i++] : a[j++];
    memcpy(k, out, sizeof(out));
}

static bool remembers_session(const clm_risk_state *s, int64_t day)
{
    return s->session_day >= 0 && day <= s->session_day && day > s->session_day - CLM_RISK_SESSION_DAYS;
}

static void merge_risk(clm_risk_state *k, const clm_risk_state *a)
{
    if (a->nps_ts != CLM_NO_TS && (k->nps_ts == CLM_NO_TS || a->nps_ts > k->nps_ts)) {
        k->nps_ts = a->nps_ts;
        k->nps = a->nps;
    }
    if (a->csat_ts != CLM_NO_TS && (k->csat_ts == CLM_NO_TS || a->csat_ts > k->csat_ts)) {
        k->csat_ts = a->csat_ts;
        k->csat = a->csat;
    }
    if (a->last_day >= 0 && k->last_day < 0) {
        k->first_day = a->first_day;
        k->last_day = a->last_day;
        k->day_bits = a->day_bits;
        k->active_days = a->active_days;
    } else if (a->last_day >= 0) {
        int64_t top = k->last_day > a->last_day ? k->last_day : a->last_day;
        uint64_t bits;
        int64_t shared = shared_days(k->first_day, k->last_day, k->day_bits, a->first_day,
                                     a->last_day, a->day_bits, top, &bits);
        int64_t days = (int64_t)k->active_days + a->active_days - shared;
        k->first_day = k->first_day < a->first_day ? k->first_day : a->first_day;
        k->last_day = (int32_t)top;
        k->day_bits = bits;
        k->active_days = (int32_t)days;
    }
    if (a->payment_failed_day > k->payment_failed_day)
        k->payment_failed_day = a->payment_failed_day;
    if (a->downgrade_day > k->downgrade_day)
        k->downgrade_day = a->downgrade_day;
    merge_tickets(k->ticket_day, a->ticket_day);
    if (a->session_day >= 0) {
        int64_t top = k->session_day > a->session_day ? k->session_day : a->session_day;
        uint8_t n[CLM_RISK_SESSION_DAYS];
        for (int64_t i = 0; i < CLM_RISK_SESSION_DAYS; i++) {
            int64_t day = top - i;
            unsigned sum = (remembers_session(k, day) ? clm_risk_sessions_on(k, day) : 0) +
                           (remembers_session(a, day) ? clm_risk_sessions_on(a, day) : 0);
            n[i] = (uint8_t)(sum > UINT8_MAX ? UINT8_MAX : sum);
        }
        for (int64_t i = 0; i < CLM_RISK_SESSION_DAYS; i++)
            clm_risk_sessions_set(k, top - i, n[i]);
        k->session_day = (int32_t)top;
    }
}

/* The merged active buckets; counts active_customers once in each bucket
 * both were active in. */
static int merge_active(clm_customer *k, const clm_customer *a, clm_deltas *d)
{
    if (a->active_bucket == CLM_NO_TS)
        return 0;
    if (k->active_bucket == CLM_NO_TS) {
        k->active_bucket = a->active_bucket;
        k->active_bits = a->active_bits;
        return 0;
    }
    int64_t top = k->active_bucket > a->active_bucket ? k->active_bucket : a->active_bucket;
    uint64_t kb = align(k->active_bits, k->active_bucket, top);
    uint64_t ab = align(a->active_bits, a->active_bucket, top);
    uint64_t both = kb & ab;
    int r;
    for (int i = 0; i < 64; i++)
        if ((both >> i) & 1u && (r = clm_deltas_add(d, top - i, CLM_DAY(active_customers), -1)) < 0)
            return r;
    k->active_bucket = top;
    k->active_bits = kb | ab;
    return 0;
}

static int merge_dedup(clm_customer *k, const clm_customer *a, uint64_t record_id,
                       int64_t merge_ts, const clm_apply_opts *o)
{
    int64_t latest = k->last_seen > a->last_seen ? k->last_seen : a->last_seen;
    if (merge_ts > latest)
        latest = merge_ts;
    int r;
    if (o->dedup_horizon_ms > 0) {
        const clm_dedup_entry *e = clm_dedup_entries(&a->dedup);
        for (uint16_t i = 0; i < a->dedup.n; i++)
            if (!clm_dedup_contains(&k->dedup, e[i].hash) &&
                (r = clm_dedup_add(&k->dedup, e[i].hash, e[i].ts_ms, latest, o->dedup_horizon_ms,
                                   o->dedup_max_ids)) < 0)
                return r;
    }
    int64_t horizon = o->dedup_horizon_ms > 0 ? o->dedup_horizon_ms : CLM_MERGE_DEDUP_MIN_MS;
    unsigned max_ids = o->dedup_max_ids > 0 ? o->dedup_max_ids : 1;
    return clm_dedup_add(&k->dedup, record_id, merge_ts, latest, horizon, max_ids);
}

static int64_t spell_start(const clm_customer *c, const clm_apply_opts *o)
{
    return c->returned != CLM_NO_TS ? c->returned : clm_bucket_of_ms(c->first_purchase, o->bucket_ms);
}

/* The merged stage, peak and spell start (k still holds the known side's
 * values; kc and ac say whether each side was a current customer). Returns
 * true when a churned side came back through the other one: the merged
 * customer then enters the reactivation stage at merge_ts. */
static bool merge_stage(clm_customer *k, const clm_customer *k0, const clm_customer *a,
                        const clm_apply_opts *o, bool kc, bool ac, int64_t merge_ts)
{
    bool back = false;
    int64_t mb = clm_bucket_of_ms(merge_ts, o->bucket_ms);
    if (o->stages) {
        const clm_stages *m = o->stages;
        const clm_customer *s = stage_side(k0, a, m);
        int ch = clm_stages_churned(m), re = clm_stages_reactivated(m);
        back = ch >= 0 && re >= 0 && s->stage != ch && (k0->stage == ch || a->stage == ch);
        k->stage = back ? (uint8_t)re : s->stage;
        k->stage_since = back ? merge_ts : s->stage_since;
        if (a->peak != CLM_STAGE_NONE &&
            (k0->peak == CLM_STAGE_NONE ||
             clm_stages_rank(o->stages, a->peak) > clm_stages_rank(o->stages, k0->peak)))
            k->peak = a->peak;
    }
    /* the merged spell as a customer began with the earlier of the spells
     * of the current sides; with neither current, at the merge */
    int64_t ret = k0->returned != CLM_NO_TS && k0->returned > a->returned ? k0->returned : a->returned;
    if (clm_customer_current(k, o)) {
        int64_t fp = clm_bucket_of_ms(k->first_purchase, o->bucket_ms);
        ret = mb;
        if (kc)
            ret = spell_start(k0, o);
        if (ac && (!kc || spell_start(a, o) < ret))
            ret = spell_start(a, o);
        if (ret == fp)
            ret = CLM_NO_TS;
    }
    k->returned = ret;
    return back;
}

int clm_merge_apply(clm_customer *known, const clm_customer *anon, uint64_t record_id,
                    int64_t merge_ts, const clm_apply_opts *o, clm_deltas *d, int64_t watermark)
{
    clm_customer *k = known;
    const clm_customer *a = anon;
    int r;
    if (k == a || (k->id_len == a->id_len && memcmp(k->id, a->id, k->id_len) == 0))
        return -EINVAL;
    if (clm_dedup_contains(&k->dedup, record_id))
        return CLM_DUPLICATE;
    const clm_customer k0 = *k; /* the known side as counted (shares the dedup set) */
    int64_t mb = clm_bucket_of_ms(merge_ts, o->bucket_ms);
    bool kc = clm_customer_current(&k0, o), ac = clm_customer_current(a, o);

    if ((r = merge_dedup(k, a, record_id, merge_ts, o)) < 0)
        return r;
    /* breakdowns: each side's counters leave its own values' slots, the
     * merged customer's enter its slots */
    size_t nbd = o->breakdowns ? o->breakdowns->n : 0;
    uint8_t ks[CLM_BD_MAX], as[CLM_BD_MAX];
    clm_customer_bd_slots(&k0, o, ks);
    clm_customer_bd_slots(a, o, as);
    int cd = clm_breakdown_counter(CLM_DAY(customers_delta));
    if (nbd)
        clm_deltas_bd_begin(d);
    if ((r = person(&k0, o, d, -1)) < 0 || (nbd && (r = clm_deltas_bd_end(d, ks, nbd)) < 0))
        goto out_abort;
    if (nbd)
        clm_deltas_bd_begin(d);
    if ((r = person(a, o, d, -1)) < 0 || (nbd && (r = clm_deltas_bd_end(d, as, nbd)) < 0))
        goto out_abort;
    for (size_t i = 0; i < nbd; i++)
        if ((kc && (r = clm_deltas_bd_add(d, mb, i, ks[i], cd, -1)) < 0) ||
            (ac && (r = clm_deltas_bd_add(d, mb, i, as[i], cd, -1)) < 0))
            return r;
    if (nbd)
        clm_deltas_bd_begin(d);
    /* one of two first purchases is a repeat order now */
    if (k0.orders >= 1 && a->orders >= 1 &&
        (r = clm_deltas_add(d, clm_bucket_of_ms(k0.first_purchase > a->first_purchase
                                                    ? k0.first_purchase : a->first_purchase,
                                                o->bucket_ms),
                            CLM_DAY(repeat_orders), 1)) < 0)
        return r;

    if (a->events > 0 && (k0.events == 0 || a->first_seen < k0.first_seen))
        k->first_seen = a->first_seen;
    if (a->active_bucket != CLM_NO_TS &&
        (k0.active_bucket == CLM_NO_TS || a->last_seen > k0.last_seen)) {
        k->last_seen = a->last_seen;
        k->last_type = a->last_type;
    }
    if ((r = merge_active(k, a, d)) < 0)
        return r;
    k->events += a->events;
    k->orders += a->orders;
    k->revenue_micros = clm_sat_add(k->revenue_micros, a->revenue_micros);
    k->refunds_micros = clm_sat_add(k->refunds_micros, a->refunds_micros);
    k->first_purchase = min_ts(k0.first_purchase, a->first_purchase);
    k->first_signup = min_ts(k0.first_signup, a->first_signup);
    k->first_contact = min_ts(k0.first_contact, a->first_contact);
    int64_t lead = CLM_NO_TS;
    const int64_t cand[4] = { k0.first_contact, k0.lead_contact, a->first_contact, a->lead_contact };
    for (int i = 0; k->first_signup != CLM_NO_TS && i < 4; i++)
        if (cand[i] != CLM_NO_TS && cand[i] >= k->first_signup && (lead == CLM_NO_TS || cand[i] < lead))
            lead = cand[i];
    k->lead_contact = lead;
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        if (a->entered[i] >= 0 && (k->entered[i] < 0 || a->entered[i] < k->entered[i]))
            k->entered[i] = a->entered[i];
    bool back = merge_stage(k, &k0, a, o, kc, ac, merge_ts);
    merge_rfm(&k->rfm, &a->rfm);
    merge_risk(&k->risk, &a->risk);
    if (a->alert_at != CLM_NO_TS && (k->alert_at == CLM_NO_TS || a->alert_at > k->alert_at))
        k->alert_at = a->alert_at;
    if (k->incident_at == CLM_NO_TS)
        k->incident_at = a->incident_at;
    k->flags |= (uint8_t)(a->flags & CLM_CUST_DISARMED);
    k->clv_rate_micros = clm_customer_clv_rate(k, o);

    uint8_t ns[CLM_BD_MAX];
    clm_customer_bd_slots(k, o, ns);
    if ((r = person(k, o, d, 1)) < 0)
        goto out_abort;
    if (nbd && (r = clm_deltas_bd_end(d, ns, nbd)) < 0)
        return r;
    /* customers_delta outside the capture: the sides' -1 went to their own
     * slots above, the merged customer's +1 goes to its slots */
    int64_t cur = (clm_customer_current(k, o) ? 1 : 0) - (kc ? 1 : 0) - (ac ? 1 : 0);
    if ((r = add(d, mb, CLM_DAY(customers_delta), cur)) < 0)
        return r;
    for (size_t i = 0; i < nbd && clm_customer_current(k, o); i++)
        if ((r = clm_deltas_bd_add(d, mb, i, ns[i], cd, 1)) < 0)
            return r;
    if (o->stages) {
        if (a->stage != CLM_STAGE_NONE)
            d->stage_count[a->stage]--;
        if (k->stage != k0.stage && (r = clm_deltas_transition(d, mb, k0.stage, k->stage)) < 0)
            return r;
        for (size_t i = 0; back && i < nbd; i++)
            if ((r = clm_deltas_bd_add(d, mb, i, ns[i], clm_breakdown_counter(CLM_DAY(reactivated)),
                                       1)) < 0)
                return r;
        if (back && ((r = clm_deltas_add(d, mb, CLM_DAY(reactivated), 1)) < 0 ||
                     (r = clm_deltas_add(d, mb, CLM_DAY(entered) + (size_t)k->stage * sizeof(int64_t),
                                         1)) < 0))
            return r;
    }
    d->any = true;
    k->changed |= CLM_FACET_ALL;
    k->flags |= CLM_CUST_DIRTY | CLM_CUST_REF;

    /* score the merged customer again, and do what is due by the watermark */
    int64_t at = watermark != CLM_NO_TS ? watermark : merge_ts;
    if (o->risk)
        k->risk_next = (int32_t)clm_day_of_ms(at);
    if ((o->stages || o->risk) && (r = clm_customer_expire(k, o, d, at)) < 0)
        return r;
    return CLM_APPLIED;

out_abort:
    if (nbd)
        clm_deltas_bd_abort(d);
    return r;
}
