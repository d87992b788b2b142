/* tools/gen_people.c - one person's life in the generated stream: the
 * funnel, the buyers' activity, churn and return (tools/gen.h documents
 * the probabilities), one event per call of gen_step. */
#include "tools/gen_impl.h"

#include <stdio.h>
#include <string.h>

#include "tools/gen_vocab.h"

/* From an identify event to the signup or purchase it comes with. */
#define IDENTIFY_GAP_MS 1000

int64_t gen_purchase_cents(clm_gen *g, int plan)
{
    return clampl(lognorm(g, 4000.0 * PLAN_FACTOR[plan], 0.6), 99, 10000000);
}

static void purchase_fields(clm_gen *g, struct cust *c)
{
    struct ev *e = &g->ev;
    int64_t cents = gen_purchase_cents(g, c->plan);
    c->last_cents = (uint32_t)cents;
    gen_fcents(e, "amount", cents);
    gen_fstr(e, "currency", "EUR");
    gen_fid(e, "order_id", 'o', ++g->order_seq);
    gen_fstr(e, "plan", PLANS[c->plan]);
    if (g->o.traits)
        gen_trait_props(g, c->id, true, 0);
}

void gen_visit_fields(clm_gen *g)
{
    gen_fstr(&g->ev, "channel", CHANNELS[pick(g, CHANNEL_CUM, 6)]);
    gen_fstr(&g->ev, "page", PICKS(g, PAGES));
}

/* ---- the customer state machine ------------------------------------------ */

static int64_t churn_ms(const clm_gen *g, const struct cust *c)
{
    return g->o.start_ms + (int64_t)c->churn_min * MIN_MS;
}

static void schedule(struct cust *c, enum step s, int64_t at)
{
    c->step = (uint8_t)s;
    c->next_ms = at;
}

/* Schedules the next activity step, or the churn. */
static void active_next(clm_gen *g, struct cust *c, int64_t t)
{
    int64_t n = t + clampl(expo(g, c->gap_ms), 1000, INT64_MAX / 4);
    if ((c->fate & (F_CANCEL | F_SILENT)) && n >= churn_ms(g, c)) {
        int64_t ch = churn_ms(g, c);
        if (c->fate & F_CANCEL)
            schedule(c, ST_CANCEL, ch > t + MIN_MS ? ch : t + MIN_MS);
        else if (c->fate & F_RETURN)
            schedule(c, ST_RETURN, ch + irange(g, 20 * DAY_MS, 60 * DAY_MS));
        else
            c->step = ST_GONE;
        return;
    }
    schedule(c, ST_ACTIVE, n);
}

/* Time between the events of one burst: about a minute, shorter for
 * customers so busy that their bursts would otherwise overlap. */
static int64_t burst_gap(clm_gen *g, const struct cust *c)
{
    double median = c->gap_ms / 20.0 < (double)MIN_MS ? c->gap_ms / 20.0 : (double)MIN_MS;
    return clampl(lognorm(g, median, 1.0), 100, 20 * MIN_MS);
}

/* A visit of an identified person comes from the device it browsed on
 * anonymously: it is sent under the anonymous id again. */
static void anon_device(clm_gen *g, const struct cust *c, uint32_t id)
{
    if (!c->known)
        return;
    g->id_prefix = 'a';
    gen_set_key_cust(g, id);
}

/* Leads between signup and purchase (or giving up): a few visits and logins. */
static void lead_next(clm_gen *g, struct cust *c, int64_t t, bool first)
{
    if (first)
        c->left = (uint8_t)((c->fate & F_BUY) ? irange(g, 0, 2) : irange(g, 1, 4));
    if (c->left > 0) {
        c->left--;
        schedule(c, ST_NURTURE, t + clampl(lognorm(g, 1.5 * DAY_MS, 1.0), 10 * MIN_MS, 20 * DAY_MS));
    } else if (c->fate & F_BUY) {
        schedule(c, ST_PURCHASE1, t + clampl(lognorm(g, DAY_MS, 0.8), 10 * MIN_MS, 30 * DAY_MS));
    } else {
        c->step = ST_GONE;
    }
}

static void step_active(clm_gen *g, struct cust *c, int64_t t)
{
    struct ev *e = &g->ev;
    uint32_t id = c->id;
    double r = unif(g);
    if (r < 0.06) {
        gen_head(g, id, true, "purchase", t);
        purchase_fields(g, c);
    } else if (r < 0.10) {
        gen_head(g, id, true, "support_ticket", t);
        c->ticket = (uint32_t)++g->ticket_seq;
        gen_fid(e, "ticket_id", 't', c->ticket);
        gen_fstr(e, "priority", PICKS(g, PRIORITIES));
        gen_fstr(e, "topic", PICKS(g, TOPICS));
        if (unif(g) < 0.7) {
            /* hours later, or sooner for customers busier than that */
            double d = lognorm(g, 3 * HOUR_MS, 1.0);
            if (d > 2.0 * c->gap_ms)
                d = 2.0 * c->gap_ms;
            schedule(c, ST_CSAT, t + clampl(d, MIN_MS, 3 * DAY_MS));
            return;
        }
    } else if (r < 0.125) {
        gen_head(g, id, true, "nps_response", t);
        gen_fint(e, "score", pick(g, NPS_CUM, 11));
        gen_fstr(e, "survey", unif(g) < 0.5 ? "email" : "in_app");
    } else if (r < 0.14) {
        gen_head(g, id, true, "refund", t);
        gen_fcents(e, "amount", unif(g) < 0.7 ? c->last_cents : c->last_cents / 2);
        gen_fstr(e, "currency", "EUR");
        gen_fstr(e, "reason", PICKS(g, REFUND_REASONS));
    } else if (r < 0.155) {
        gen_head(g, id, true, "review", t);
        gen_fint(e, "stars", 1 + pick(g, STARS_CUM, 5));
        gen_fstr(e, "site", PICKS(g, REVIEW_SITES));
    } else if (r < 0.167 && c->plan < 2) {
        gen_head(g, id, true, "upgrade", t);
        gen_fstr(e, "from", PLANS[c->plan]);
        c->plan++;
        gen_fstr(e, "to", PLANS[c->plan]);
        gen_plan_traits(g, c);
    } else if (r >= 0.167 && r < 0.177) {
        gen_head(g, id, true, "payment_failed", t);
        gen_fcents(e, "amount", gen_purchase_cents(g, c->plan));
        gen_fstr(e, "currency", "EUR");
        gen_fstr(e, "code", PICKS(g, FAIL_CODES));
    } else if (r >= 0.177 && r < 0.187) {
        char code[16];
        snprintf(code, sizeof(code), "R%06X", (unsigned)(rnd64(g) & 0xFFFFFF));
        gen_head(g, id, true, "referral", t);
        gen_fstr(e, "code", code);
        gen_fstr(e, "channel", unif(g) < 0.6 ? "link" : "email");
    } else if (r >= 0.187 && r < 0.193 && c->plan > 0) {
        gen_head(g, id, true, "downgrade", t);
        gen_fstr(e, "from", PLANS[c->plan]);
        c->plan--;
        gen_fstr(e, "to", PLANS[c->plan]);
        gen_plan_traits(g, c);
    } else {
        /* a burst: login, feature_use x Geometric(0.4) (mean 1.5), session */
        gen_head(g, id, true, "login", t);
        gen_fstr(e, "device", PICKS(g, DEVICES));
        int k = 0;
        while (k < 200 && unif(g) >= 0.4)
            k++;
        c->left = (uint8_t)(k + 1);
        schedule(c, ST_BURST, t + burst_gap(g, c));
        return;
    }
    active_next(g, c, t);
}

/* Emits the event of the record on top of the heap into g->ev and g->key,
 * and reschedules the record (or marks it ST_GONE). */
void gen_step(clm_gen *g, struct cust *c)
{
    struct ev *e = &g->ev;
    int64_t t = c->next_ms;
    uint32_t id = c->id;

    if (c->step == ST_MARKETING) {
        int ch = (int)(id - MKT_ID0);
        gen_head(g, 0, false, "marketing_spend", t);
        gen_fstr(e, "channel", MKT_CHANNELS[ch]);
        gen_fcents(e, "amount", clampl(lognorm(g, MKT_MEDIAN_CENTS[ch], 0.4), 100, 100000000));
        gen_fstr(e, "currency", "EUR");
        memcpy(g->key, "mkt:", 4);
        size_t n = strlen(MKT_CHANNELS[ch]);
        memcpy(g->key + 4, MKT_CHANNELS[ch], n);
        g->key_len = 4 + n;
        int64_t day = (t - g->o.start_ms) / DAY_MS + 1;
        c->next_ms = g->o.start_ms + day * DAY_MS + irange(g, 0, DAY_MS - 1);
        return;
    }

    g->id_prefix = c->anon ? 'a' : 'c';
    gen_set_key_cust(g, id);
    g->have_last = true;
    g->last_cust = id;
    g->last_ts = t;

    if (c->anon && (c->step == ST_SIGNUP || c->step == ST_PURCHASE1)) {
        /* the anonymous visitor makes itself known: identify under the known
         * id, then the same step under it a second later */
        g->id_prefix = 'c';
        gen_set_key_cust(g, id);
        gen_head(g, id, true, "identify", t);
        gen_fid(e, "anonymous_id", 'a', (uint64_t)id + 1);
        c->anon = 0;
        c->known = 1;
        c->next_ms = t + IDENTIFY_GAP_MS;
        return;
    }

    switch ((enum step)c->step) {
    case ST_VISIT:
        gen_head(g, id, true, "visit", t);
        gen_visit_fields(g);
        if (--c->left > 0) {
            double d = unif(g) < 0.5 ? lognorm(g, 8 * MIN_MS, 0.8) : lognorm(g, 2 * DAY_MS, 1.0);
            schedule(c, ST_VISIT, t + clampl(d, 5000, 30 * DAY_MS));
        } else if (c->fate & F_LEAD) {
            schedule(c, ST_SIGNUP, t + irange(g, MIN_MS, 20 * MIN_MS));
        } else if (c->fate & F_DIRECT) {
            schedule(c, ST_PURCHASE1, t + irange(g, 2 * MIN_MS, 40 * MIN_MS));
        } else {
            c->step = ST_GONE;
        }
        break;
    case ST_SIGNUP:
        gen_head(g, id, true, "signup", t);
        gen_fstr(e, "channel", CHANNELS[pick(g, CHANNEL_CUM, 6)]);
        gen_fstr(e, "device", PICKS(g, DEVICES));
        if (g->o.traits)
            gen_trait_props(g, id, true, gen_company_size_of(g, id));
        if (c->fate & F_CONTACT)
            schedule(c, ST_CONTACT, t + clampl(lognorm(g, 4 * HOUR_MS, 1.5), 5 * MIN_MS, 7 * DAY_MS));
        else
            lead_next(g, c, t, true);
        break;
    case ST_CONTACT:
        gen_head(g, id, true, "lead_contacted", t);
        gen_fid(e, "rep", 'r', (uint64_t)irange(g, 1, 40));
        gen_fstr(e, "via", PICKS(g, VIA));
        lead_next(g, c, t, true);
        break;
    case ST_NURTURE:
        if (unif(g) < 0.5) {
            anon_device(g, c, id);
            gen_head(g, id, true, "visit", t);
            gen_visit_fields(g);
        } else {
            gen_head(g, id, true, "login", t);
            gen_fstr(e, "device", PICKS(g, DEVICES));
        }
        lead_next(g, c, t, false);
        break;
    case ST_PURCHASE1: {
        gen_head(g, id, true, "purchase", t);
        purchase_fields(g, c);
        int64_t rest = g->end_ms > t ? g->end_ms - t : 30 * DAY_MS;
        int64_t ch = t + (int64_t)(unif(g) * (double)rest);
        c->churn_min = (uint32_t)((ch - g->o.start_ms) / MIN_MS);
        if (c->fate & F_ONBOARD)
            schedule(c, ST_ONBOARD, t + clampl(lognorm(g, 3 * HOUR_MS, 1.2), 10 * MIN_MS, 2 * DAY_MS));
        else
            active_next(g, c, t);
        break;
    }
    case ST_ONBOARD:
        gen_head(g, id, true, "onboarding_complete", t);
        gen_fint(e, "steps", irange(g, 4, 7));
        gen_fstr(e, "device", PICKS(g, DEVICES));
        active_next(g, c, t);
        break;
    case ST_ACTIVE:
        step_active(g, c, t);
        break;
    case ST_BURST:
        if (c->left > 1) {
            gen_head(g, id, true, "feature_use", t);
            gen_fstr(e, "feature", PICKS(g, FEATURES));
            c->left--;
            schedule(c, ST_BURST, t + burst_gap(g, c));
        } else {
            gen_head(g, id, true, "session", t);
            gen_fint(e, "duration_s", clampl(lognorm(g, 480, 0.9), 5, 14400));
            gen_fstr(e, "device", PICKS(g, DEVICES));
            active_next(g, c, t);
        }
        break;
    case ST_CSAT:
        gen_head(g, id, true, "csat_response", t);
        gen_fint(e, "score", 1 + pick(g, CSAT_CUM, 5));
        gen_fid(e, "ticket_id", 't', c->ticket);
        active_next(g, c, t);
        break;
    case ST_CANCEL:
        gen_head(g, id, true, "cancel", t);
        gen_fstr(e, "reason", PICKS(g, CANCEL_REASONS));
        c->fate &= (uint8_t)~F_CANCEL;
        if (c->fate & F_RETURN)
            schedule(c, ST_RETURN, t + irange(g, 20 * DAY_MS, 60 * DAY_MS));
        else
            c->step = ST_GONE;
        break;
    case ST_RETURN:
        anon_device(g, c, id);
        gen_head(g, id, true, "visit", t);
        gen_fstr(e, "channel", unif(g) < 0.5 ? "email" : "direct");
        gen_fstr(e, "page", "/pricing");
        schedule(c, ST_REPURCHASE, t + clampl(lognorm(g, 30 * MIN_MS, 1.0), 2 * MIN_MS, 3 * DAY_MS));
        break;
    case ST_REPURCHASE:
        gen_head(g, id, true, "purchase", t);
        purchase_fields(g, c);
        c->fate &= (uint8_t)~(F_CANCEL | F_SILENT | F_RETURN);
        active_next(g, c, t);
        break;
    case ST_MARKETING:
    case ST_GONE:
        break;
    }
}
