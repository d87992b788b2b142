/* tests/test-lifecycle.c - the lifecycle side of applying events
 * (core/customer.c with a stage model): stage transitions and counts, first
 * entries and advancement, cancel/reactivation, inactivity churn, the value
 * rate (their v1 text is in test-v1.c). Every stream is dated in
 * UTC days from 2026-01-01 (epoch day 20454). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"
#include "core/stages.h"
#include "core/timeutil.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define D0 20454 /* 2026-01-01: 56 * 365 + 14 leap days */

/* The default model, stage indices in list order. */
enum {
    AWARENESS, ACQUISITION, CONVERSION, ONBOARDING, ENGAGEMENT, RETENTION, ADVOCACY,
    CHURNED, REACTIVATED,
};

static const char *const STAGE_NAMES[] = {
    "awareness", "acquisition", "conversion", "onboarding", "engagement",
    "retention", "advocacy", "churned", "reactivated",
};
static const char *const ON_VISIT[] = { "visit" };
static const char *const ON_SIGNUP[] = { "signup" };
static const char *const ON_PURCHASE[] = { "purchase" };
static const char *const ON_ONBOARDING[] = { "onboarding_complete" };
static const char *const ON_USE[] = { "login", "session", "feature_use" };
static const char *const ON_ADVOCACY[] = { "referral", "review" };
static const char *const ON_NPS[] = { "nps_response" };
static const char *const ON_CANCEL[] = { "cancel" };
static const char *const ON_ANY[] = { "*" };
static const char *const FROM_ONBOARDING[] = { "onboarding" };
static const char *const FROM_CHURNED[] = { "churned" };

#define NO_SCORE INT32_MIN, INT32_MAX, false
static const clm_stage_rule_spec RULES[] = {
    { ON_VISIT, 1, NULL, 0, "awareness", -1, -1, NO_SCORE },
    { ON_SIGNUP, 1, NULL, 0, "acquisition", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "conversion", 1, 1, NO_SCORE },
    { ON_ONBOARDING, 1, NULL, 0, "onboarding", -1, -1, NO_SCORE },
    { ON_USE, 3, FROM_ONBOARDING, 1, "engagement", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "retention", 2, -1, NO_SCORE },
    { ON_ADVOCACY, 2, NULL, 0, "advocacy", 1, -1, NO_SCORE },
    { ON_NPS, 1, NULL, 0, "advocacy", 1, -1, 9, INT32_MAX, true },
    { ON_CANCEL, 1, NULL, 0, "churned", 1, -1, NO_SCORE },
    { ON_ANY, 1, FROM_CHURNED, 1, "reactivated", -1, -1, NO_SCORE },
};
static const clm_stages_spec DEFAULT_MODEL = {
    .stages = STAGE_NAMES,
    .nstages = 9,
    .churned = "churned",
    .reactivated = "reactivated",
    .rules = RULES,
    .nrules = sizeof(RULES) / sizeof(RULES[0]),
    .forward_only = true,
};

static clm_stages *model;
static clm_apply_opts opts; /* UTC days, churn after 90 days, rates over >= 30 days */

static int setup_model(void **state)
{
    (void)state;
    char err[256];

    if (clm_stages_new(&DEFAULT_MODEL, &model, err, sizeof(err)) != 0) {
        fprintf(stderr, "default model: %s\n", err);
        return -1;
    }
    opts = (clm_apply_opts){
        .dedup_horizon_ms = DAY_MS,
        .dedup_max_ids = 16,
        .stages = model,
        .bucket_ms = DAY_MS,
        .churn_inactive_ms = 90 * DAY_MS,
        .clv_min_tenure_ms = 30 * DAY_MS,
        /* lifecycle.inactive_types' default */
        .inactive_types = 1u << CLM_EV_CANCEL | 1u << CLM_EV_REFUND | 1u << CLM_EV_PAYMENT_FAILED |
                          1u << CLM_EV_MARKETING_SPEND,
    };
    return 0;
}

static int teardown_model(void **state)
{
    (void)state;
    clm_stages_free(model);
    model = NULL;
    return 0;
}

/* Epoch ms of hh:mm UTC on day D0 + day. */
static int64_t at(int64_t day, int64_t hh, int64_t mm)
{
    return (D0 + day) * DAY_MS + hh * HOUR_MS + mm * MIN_MS;
}

static clm_event make_event(clm_event_type type, int64_t ts_ms)
{
    clm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts_ms;
    ev.has_customer = 1;
    ev.customer_id_len = 3;
    memcpy(ev.customer_id, "c-1", 4);
    const char *name = clm_event_type_name(type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    return ev;
}

/* Applies an event of `type` at ts_ms with the given partition watermark. */
static void put_wm(clm_customer *c, clm_deltas *d, clm_event_type type, int64_t ts_ms,
                   int64_t watermark)
{
    clm_event ev = make_event(type, ts_ms);

    if (type == CLM_EV_PURCHASE) {
        ev.has_amount = 1;
        ev.amount_micros = 100000000; /* 100 */
    }
    assert_int_equal(clm_customer_apply(c, &ev, &opts, d, watermark), CLM_APPLIED);
}

static void put(clm_customer *c, clm_deltas *d, clm_event_type type, int64_t ts_ms)
{
    put_wm(c, d, type, ts_ms, CLM_NO_TS);
}

static void put_amount(clm_customer *c, clm_deltas *d, int64_t ts_ms, int64_t micros)
{
    clm_event ev = make_event(CLM_EV_PURCHASE, ts_ms);

    ev.has_amount = 1;
    ev.amount_micros = micros;
    assert_int_equal(clm_customer_apply(c, &ev, &opts, d, CLM_NO_TS), CLM_APPLIED);
}

static void put_nps(clm_customer *c, clm_deltas *d, int64_t ts_ms, int32_t score)
{
    clm_event ev = make_event(CLM_EV_NPS_RESPONSE, ts_ms);

    ev.has_score = 1;
    ev.score = score;
    assert_int_equal(clm_customer_apply(c, &ev, &opts, d, CLM_NO_TS), CLM_APPLIED);
}

static clm_customer *customer(void)
{
    clm_customer *c = clm_customer_new("c-1", 3, 0);

    assert_non_null(c);
    return c;
}

/* The delta of one counter in one bucket; 0 when the bucket has none. */
static int64_t on_day(const clm_deltas *d, int64_t bucket, size_t off)
{
    for (size_t i = 0; i < d->ndays; i++)
        if (d->days[i].bucket == bucket) {
            int64_t v;
            memcpy(&v, (const char *)&d->days[i].c + off, sizeof(v));
            return v;
        }
    return 0;
}

static int64_t total(const clm_deltas *d, size_t off)
{
    int64_t sum = 0;

    for (size_t i = 0; i < d->ndays; i++) {
        int64_t v;
        memcpy(&v, (const char *)&d->days[i].c + off, sizeof(v));
        sum += v;
    }
    return sum;
}

#define ENTERED(s) (CLM_DAY(entered) + (size_t)(s) * sizeof(int64_t))
#define ADVANCED(r) (CLM_DAY(advanced) + (size_t)(r) * sizeof(int64_t))

/* Transitions from -> to counted in a bucket. */
static int64_t trans(const clm_deltas *d, int64_t bucket, int from, int to)
{
    for (size_t i = 0; i < d->ntrans; i++)
        if (d->trans[i].bucket == bucket && d->trans[i].from == from && d->trans[i].to == to)
            return d->trans[i].n;
    return 0;
}

/* ---- the model ----------------------------------------------------------- */

static void test_model(void **state)
{
    (void)state;
    assert_int_equal(clm_days_from_civil(2026, 1, 1), D0);
    assert_int_equal(clm_stages_count(model), 9);
    assert_int_equal(clm_stages_ordinary(model), 7);
    assert_int_equal(clm_stages_churned(model), CHURNED);
    assert_int_equal(clm_stages_reactivated(model), REACTIVATED);
    /* Ordinary stages rank in list order, so rank == index here. */
    for (int s = AWARENESS; s <= ADVOCACY; s++)
        assert_int_equal(clm_stages_rank(model, s), s);
    assert_int_equal(clm_stages_rank(model, CHURNED), -1);
    assert_int_equal(clm_stages_rank(model, REACTIVATED), -1);
    assert_int_equal(clm_stages_index(model, "onboarding", 10), ONBOARDING);
}

/* ---- transitions, stage counts, entries, advancement ---------------------- */

static void test_direct_buy(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    /* visit day 1: none > awareness; awareness entered on day 1. */
    put(c, &d, CLM_EV_VISIT, at(1, 10, 0));
    assert_int_equal(trans(&d, D0 + 1, CLM_STAGE_NONE, AWARENESS), 1);
    assert_int_equal(d.stage_count[AWARENESS], 1);
    assert_int_equal(on_day(&d, D0 + 1, ENTERED(AWARENESS)), 1);
    assert_int_equal(c->stage, AWARENESS);
    assert_int_equal(c->stage_since, at(1, 10, 0));
    assert_int_equal(c->peak, AWARENESS);
    assert_int_equal(c->entered[0], D0 + 1);

    /* purchase day 2 (orders 1): awareness > conversion, skipping
     * acquisition: awareness -1, conversion +1, conversion entered on day 2;
     * no advancement (awareness -> acquisition never happened, and
     * acquisition -> conversion has no acquisition entry). */
    put(c, &d, CLM_EV_PURCHASE, at(2, 9, 0));
    assert_int_equal(trans(&d, D0 + 2, AWARENESS, CONVERSION), 1);
    assert_int_equal(d.ntrans, 2);
    assert_int_equal(d.stage_count[AWARENESS], 0);
    assert_int_equal(d.stage_count[CONVERSION], 1);
    assert_int_equal(on_day(&d, D0 + 2, ENTERED(CONVERSION)), 1);
    assert_int_equal(total(&d, ENTERED(ACQUISITION)), 0);
    for (int r = 0; r < 7; r++)
        assert_int_equal(total(&d, ADVANCED(r)), 0);
    assert_int_equal(c->stage, CONVERSION);
    assert_int_equal(c->stage_since, at(2, 9, 0));
    assert_int_equal(c->peak, CONVERSION);
    assert_int_equal(c->entered[ACQUISITION], -1);
    assert_int_equal(c->entered[CONVERSION], D0 + 2);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_full_path(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    put(c, &d, CLM_EV_VISIT, at(1, 10, 0));               /* awareness, day 1 */
    put(c, &d, CLM_EV_SIGNUP, at(2, 10, 0));              /* acquisition, day 2 */
    put(c, &d, CLM_EV_PURCHASE, at(3, 10, 0));            /* conversion, day 3 */
    put(c, &d, CLM_EV_ONBOARDING_COMPLETE, at(4, 10, 0)); /* onboarding, day 4 */
    put(c, &d, CLM_EV_LOGIN, at(5, 10, 0));               /* engagement, day 5 */
    put(c, &d, CLM_EV_PURCHASE, at(6, 10, 0));            /* retention (orders 2), day 6 */
    put_nps(c, &d, at(7, 10, 0), 8);                      /* 8 < 9: stays */
    put_nps(c, &d, at(8, 10, 0), 9);                      /* advocacy, day 8 */

    /* Rank r (== stage index) entered on day r + 1 for r = 0..5, advocacy
     * (rank 6) on day 8; one transition each from the stage before. */
    assert_int_equal(d.ntrans, 7);
    assert_int_equal(trans(&d, D0 + 1, CLM_STAGE_NONE, AWARENESS), 1);
    for (int r = 1; r <= 5; r++)
        assert_int_equal(trans(&d, D0 + 1 + r, r - 1, r), 1);
    assert_int_equal(trans(&d, D0 + 8, RETENTION, ADVOCACY), 1);
    for (int r = 0; r <= 5; r++)
        assert_int_equal(on_day(&d, D0 + 1 + r, ENTERED(r)), 1);
    assert_int_equal(on_day(&d, D0 + 8, ENTERED(ADVOCACY)), 1);
    assert_int_equal(on_day(&d, D0 + 7, ENTERED(ADVOCACY)), 0);
    /* advanced[r] lands on the day rank r was entered: day r + 1, r = 0..5;
     * nothing comes after advocacy. */
    for (int r = 0; r <= 5; r++) {
        assert_int_equal(on_day(&d, D0 + 1 + r, ADVANCED(r)), 1);
        assert_int_equal(total(&d, ADVANCED(r)), 1);
    }
    assert_int_equal(total(&d, ADVANCED(ADVOCACY)), 0);
    /* Net stage counts: the customer is in advocacy only. */
    for (int s = 0; s < 9; s++)
        assert_int_equal(d.stage_count[s], s == ADVOCACY ? 1 : 0);
    assert_int_equal(c->stage, ADVOCACY);
    assert_int_equal(c->stage_since, at(8, 10, 0));
    assert_int_equal(c->peak, ADVOCACY);
    for (int r = 0; r <= 5; r++)
        assert_int_equal(c->entered[r], D0 + 1 + r);
    assert_int_equal(c->entered[ADVOCACY], D0 + 8);

    /* Lower or same stages do not move it: a visit, a login (engagement
     * only from onboarding), another nps 10. */
    put(c, &d, CLM_EV_VISIT, at(9, 10, 0));
    put(c, &d, CLM_EV_LOGIN, at(9, 11, 0));
    put_nps(c, &d, at(9, 12, 0), 10);
    assert_int_equal(d.ntrans, 7);
    assert_int_equal(c->stage, ADVOCACY);
    assert_int_equal(c->stage_since, at(8, 10, 0));
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_first_entries_only(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    put(c, &d, CLM_EV_PURCHASE, at(1, 10, 0));            /* none > conversion */
    put(c, &d, CLM_EV_ONBOARDING_COMPLETE, at(2, 10, 0)); /* > onboarding, day 2 */
    put(c, &d, CLM_EV_CANCEL, at(3, 10, 0));              /* > churned */
    put(c, &d, CLM_EV_VISIT, at(4, 10, 0));               /* > reactivated */
    assert_int_equal(c->stage, REACTIVATED);
    assert_int_equal(c->peak, ONBOARDING);

    /* Back into onboarding (rank 3 >= peak rank 3): a transition, but not a
     * first entry: entered[onboarding] stays at day 2 only. */
    clm_deltas_reset(&d);
    put(c, &d, CLM_EV_ONBOARDING_COMPLETE, at(5, 10, 0));
    assert_int_equal(trans(&d, D0 + 5, REACTIVATED, ONBOARDING), 1);
    assert_int_equal(d.stage_count[REACTIVATED], -1);
    assert_int_equal(d.stage_count[ONBOARDING], 1);
    assert_int_equal(total(&d, ENTERED(ONBOARDING)), 0);
    assert_int_equal(total(&d, ADVANCED(CONVERSION)), 0); /* counted on day 2 already */
    assert_int_equal(c->entered[ONBOARDING], D0 + 2);
    assert_int_equal(c->stage_since, at(5, 10, 0));

    /* engagement, first entered on day 6: advanced[onboarding] goes to
     * onboarding's FIRST entry day, 2, not to day 5. */
    put(c, &d, CLM_EV_LOGIN, at(6, 10, 0));
    assert_int_equal(on_day(&d, D0 + 6, ENTERED(ENGAGEMENT)), 1);
    assert_int_equal(on_day(&d, D0 + 2, ADVANCED(ONBOARDING)), 1);
    assert_int_equal(on_day(&d, D0 + 5, ADVANCED(ONBOARDING)), 0);
    assert_int_equal(c->peak, ENGAGEMENT);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* daycount.h: entered[s] counts a customer's first entry of an ordinary
 * stage, but every entry of the churn and reactivation stages. */
static void test_entered_special_every_time(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    put(c, &d, CLM_EV_PURCHASE, at(1, 10, 0));
    put(c, &d, CLM_EV_CANCEL, at(2, 10, 0)); /* first churn */
    put(c, &d, CLM_EV_VISIT, at(3, 10, 0));  /* first reactivation */
    assert_int_equal(on_day(&d, D0 + 2, ENTERED(CHURNED)), 1);
    assert_int_equal(on_day(&d, D0 + 3, ENTERED(REACTIVATED)), 1);

    /* Second churn and second reactivation: churned and reactivated count
     * them (2 and 2 in all), and so do entered[churned] / entered[reactivated]
     * (1 on each of days 4 and 5). */
    put(c, &d, CLM_EV_CANCEL, at(4, 10, 0));
    put(c, &d, CLM_EV_VISIT, at(5, 10, 0));
    assert_int_equal(total(&d, CLM_DAY(churned)), 2);
    assert_int_equal(total(&d, CLM_DAY(reactivated)), 2);
    assert_int_equal(on_day(&d, D0 + 4, ENTERED(CHURNED)), 1);
    assert_int_equal(on_day(&d, D0 + 5, ENTERED(REACTIVATED)), 1);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* ---- cancel and reactivation --------------------------------------------- */

static void test_cancel_reactivate(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_customer *v = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    /* day 1: first purchase: a new customer, +1 customer. */
    put(c, &d, CLM_EV_PURCHASE, at(1, 10, 0));
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(customers_delta)), 1);
    assert_int_equal(trans(&d, D0 + 1, CLM_STAGE_NONE, CONVERSION), 1);
    /* day 2: cancel (orders 1): churned, -1 customer, conversion > churned. */
    put(c, &d, CLM_EV_CANCEL, at(2, 10, 0));
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(customers_delta)), -1);
    assert_int_equal(trans(&d, D0 + 2, CONVERSION, CHURNED), 1);
    assert_int_equal(on_day(&d, D0 + 2, ENTERED(CHURNED)), 1);
    assert_int_equal(c->stage, CHURNED);
    assert_int_equal(c->stage_since, at(2, 10, 0));
    assert_int_equal(c->peak, CONVERSION); /* churned is not ordinary */
    assert_int_equal(clm_customer_deadline(c, &opts), CLM_NO_TS);
    /* day 3: any event brings it back: reactivated, +1 customer. */
    put(c, &d, CLM_EV_VISIT, at(3, 10, 0));
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(reactivated)), 1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(customers_delta)), 1);
    assert_int_equal(trans(&d, D0 + 3, CHURNED, REACTIVATED), 1);
    assert_int_equal(on_day(&d, D0 + 3, ENTERED(REACTIVATED)), 1);
    assert_int_equal(c->stage, REACTIVATED);
    /* day 4: second purchase: reactivated > retention (rank 5 >= peak rank
     * 2); no customer change, no new customer. */
    put(c, &d, CLM_EV_PURCHASE, at(4, 10, 0));
    assert_int_equal(trans(&d, D0 + 4, REACTIVATED, RETENTION), 1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(customers_delta)), 0);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(reactivated)), 0);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(repeat_orders)), 1);
    /* +1 - 1 + 1 = 1 customer; stage counts net: retention only. */
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 1);
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 1);
    for (int s = 0; s < 9; s++)
        assert_int_equal(d.stage_count[s], s == RETENTION ? 1 : 0);

    /* A visitor's cancel (orders 0) matches no rule: no churn, no change. */
    clm_deltas_reset(&d);
    put(v, &d, CLM_EV_VISIT, at(1, 10, 0));
    put(v, &d, CLM_EV_CANCEL, at(2, 10, 0));
    assert_int_equal(v->stage, AWARENESS);
    assert_int_equal(total(&d, CLM_DAY(churned)), 0);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 0);
    assert_int_equal(d.ntrans, 1); /* none > awareness */
    clm_deltas_release(&d);
    clm_customer_free(v);
    clm_customer_free(c);
}

/* A churned customer's own refund, failed payment or cancel is not a return:
 * they stay churned, uncounted as active, until an activity event. */
static void test_inactive_no_reactivation(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    put(c, &d, CLM_EV_PURCHASE, at(1, 10, 0));
    put(c, &d, CLM_EV_CANCEL, at(2, 10, 0));
    assert_int_equal(c->stage, CHURNED);
    assert_int_equal(c->last_seen, at(1, 10, 0)); /* a cancel is not activity */
    assert_int_equal(c->last_type, CLM_EV_PURCHASE);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(active_customers)), 0);
    clm_deltas_reset(&d);

    clm_event refund = make_event(CLM_EV_REFUND, at(3, 10, 0));
    refund.has_amount = 1;
    refund.amount_micros = 100000000;
    assert_int_equal(clm_customer_apply(c, &refund, &opts, &d, CLM_NO_TS), CLM_APPLIED);
    put(c, &d, CLM_EV_PAYMENT_FAILED, at(4, 10, 0));
    put(c, &d, CLM_EV_CANCEL, at(5, 10, 0));
    assert_int_equal(c->stage, CHURNED);
    assert_int_equal(c->stage_since, at(2, 10, 0));
    assert_int_equal(c->events, 5);                /* still counted as events */
    assert_int_equal(c->refunds_micros, 100000000); /* and the refund as money */
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(refunds_micros)), 100000000);
    assert_int_equal(c->last_seen, at(1, 10, 0));
    assert_int_equal(total(&d, CLM_DAY(reactivated)), 0);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 0);
    assert_int_equal(total(&d, CLM_DAY(active_customers)), 0);
    assert_int_equal(d.ntrans, 0);

    /* an activity event brings them back */
    put(c, &d, CLM_EV_LOGIN, at(6, 10, 0));
    assert_int_equal(c->stage, REACTIVATED);
    assert_int_equal(on_day(&d, D0 + 6, CLM_DAY(reactivated)), 1);
    assert_int_equal(c->last_seen, at(6, 10, 0));
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* current_last_active and current_since follow the current spell: dated
 * by the latest activity and by the spell's first purchase or return. */
static void test_current_spell(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    put(c, &d, CLM_EV_PURCHASE, at(1, 10, 0));
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(current_since)), 1);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(current_last_active)), 1);
    put(c, &d, CLM_EV_LOGIN, at(2, 10, 0)); /* activity moves, the spell stays */
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(current_last_active)), 0);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(current_last_active)), 1);
    /* a late, earlier first purchase: the spell begins on day 0 */
    put(c, &d, CLM_EV_PURCHASE, at(0, 10, 0));
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(current_since)), 0);
    assert_int_equal(on_day(&d, D0, CLM_DAY(current_since)), 1);
    /* a cancel ends it: both leave */
    put(c, &d, CLM_EV_CANCEL, at(3, 10, 0));
    assert_int_equal(total(&d, CLM_DAY(current_since)), 0);
    assert_int_equal(total(&d, CLM_DAY(current_last_active)), 0);
    /* back on day 5: a new spell from the return */
    put(c, &d, CLM_EV_VISIT, at(5, 10, 0));
    assert_int_equal(c->returned, D0 + 5);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(current_since)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(current_last_active)), 1);
    put(c, &d, CLM_EV_PURCHASE, at(6, 10, 0));
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(current_since)), 1);
    assert_int_equal(on_day(&d, D0 + 6, CLM_DAY(current_last_active)), 1);
    assert_int_equal(total(&d, CLM_DAY(current_since)), 1);
    assert_int_equal(total(&d, CLM_DAY(current_last_active)), 1);
    /* an inactivity churn 90 days after day 6 ends it again */
    assert_int_equal(clm_customer_expire(c, &opts, &d, at(96, 10, 0)), 1);
    assert_int_equal(total(&d, CLM_DAY(current_since)), 0);
    assert_int_equal(total(&d, CLM_DAY(current_last_active)), 0);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* ---- inactivity churn ---------------------------------------------------- */

/* Inactive events do not restart the inactivity clock: a customer whose last
 * activity is a purchase on day 0 churns on day 90 whatever refunds, failed
 * payments or (ruleless) cancels came since; their inactivity risk signal
 * counts idle days from day 0 too. */
static void test_inactive_keeps_deadline(void **state)
{
    (void)state;
    clm_risk_opts ro;
    clm_risk_opts_default(&ro);
    clm_apply_opts o = opts;
    o.risk = &ro;
    o.stages = NULL; /* no cancel rule: the cancel alone must not reset the clock */
    clm_customer *c = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    clm_event ev = make_event(CLM_EV_PURCHASE, at(0, 12, 0));
    ev.has_amount = 1;
    ev.amount_micros = 100000000;
    assert_int_equal(clm_customer_apply(c, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    int32_t active_day = c->risk.last_day;
    const clm_event_type quiet[] = { CLM_EV_CANCEL, CLM_EV_PAYMENT_FAILED, CLM_EV_REFUND };
    for (int i = 0; i < 3; i++) {
        ev = make_event(quiet[i], at(60 + 10 * i, 12, 0));
        if (quiet[i] == CLM_EV_REFUND) {
            ev.has_amount = 1;
            ev.amount_micros = 1000000;
        }
        assert_int_equal(clm_customer_apply(c, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    }
    assert_int_equal(c->events, 4);
    assert_int_equal(c->last_seen, at(0, 12, 0));
    assert_int_equal(c->risk.last_day, active_day);
    assert_int_equal(c->risk.active_days, 1);
    assert_true(c->risk.payment_failed_day >= 0); /* its own signal still noted */

    /* under the stage model, the deadline is day 90 of the purchase */
    clm_customer *s = customer();
    put(s, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    put(s, &d, CLM_EV_PAYMENT_FAILED, at(80, 12, 0));
    put(s, &d, CLM_EV_REFUND, at(85, 12, 0));
    assert_int_equal(clm_customer_deadline(s, &opts), at(90, 12, 0));
    clm_deltas_reset(&d);
    assert_int_equal(clm_customer_expire(s, &opts, &d, at(90, 12, 0)), 1);
    assert_int_equal(s->stage, CHURNED);
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(churned)), 1);
    clm_deltas_release(&d);
    clm_customer_free(s);
    clm_customer_free(c);
}


static void test_deadline_expire(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_customer *v = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    /* A visitor has no deadline and never expires. */
    put(v, &d, CLM_EV_VISIT, at(0, 12, 0));
    assert_int_equal(clm_customer_deadline(v, &opts), CLM_NO_TS);
    assert_int_equal(clm_customer_expire(v, &opts, &d, at(1000, 0, 0)), 0);
    assert_int_equal(v->stage, AWARENESS);

    /* A customer (purchase of 100, day 0 12:00): deadline 90 days later. */
    put(c, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    assert_int_equal(clm_customer_deadline(c, &opts), at(90, 12, 0));
    assert_int_equal(c->clv_rate_micros, 1216666666); /* 100e6 * 365 / 30 */
    clm_deltas_reset(&d);
    c->flags = 0;

    /* Watermark 1 ms before the deadline, or none: not due, nothing changes. */
    assert_int_equal(clm_customer_expire(c, &opts, &d, at(90, 12, 0) - 1), 0);
    assert_int_equal(clm_customer_expire(c, &opts, &d, CLM_NO_TS), 0);
    assert_int_equal(d.ndays, 0);
    assert_int_equal(d.ntrans, 0);
    assert_false(d.any);
    assert_int_equal(c->flags, 0);
    assert_int_equal(c->stage, CONVERSION);

    /* Watermark at the deadline: churned, dated at the deadline (day 90). */
    assert_int_equal(clm_customer_expire(c, &opts, &d, at(90, 12, 0)), 1);
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(customers_delta)), -1);
    assert_int_equal(on_day(&d, D0 + 90, ENTERED(CHURNED)), 1);
    assert_int_equal(trans(&d, D0 + 90, CONVERSION, CHURNED), 1);
    assert_int_equal(d.ntrans, 1);
    assert_int_equal(d.ndays, 2); /* day 90, and day 0: the spell's counters */
    assert_int_equal(on_day(&d, D0, CLM_DAY(current_since)), -1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(current_last_active)), -1);
    assert_int_equal(d.stage_count[CONVERSION], -1);
    assert_int_equal(d.stage_count[CHURNED], 1);
    assert_int_equal(d.value_rate_micros, -1216666666); /* the rate drops to 0 */
    assert_int_equal(c->stage, CHURNED);
    assert_int_equal(c->stage_since, at(90, 12, 0));
    assert_int_equal(c->clv_rate_micros, 0);
    assert_true(c->flags & CLM_CUST_DIRTY);
    assert_int_equal(c->last_seen, at(0, 12, 0)); /* expiring is not an event */
    assert_int_equal(c->events, 1);
    /* Churned: no deadline, nothing more to expire. */
    assert_int_equal(clm_customer_deadline(c, &opts), CLM_NO_TS);
    assert_int_equal(clm_customer_expire(c, &opts, &d, at(500, 0, 0)), 0);
    assert_int_equal(total(&d, CLM_DAY(churned)), 1);

    /* Watermark well past the deadline: still dated at the deadline. */
    clm_customer *late = customer();
    put(late, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    clm_deltas_reset(&d);
    assert_int_equal(clm_customer_expire(late, &opts, &d, at(150, 0, 0)), 1);
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 150, CLM_DAY(churned)), 0);
    assert_int_equal(late->stage_since, at(90, 12, 0));
    clm_customer_free(late);
    clm_deltas_release(&d);
    clm_customer_free(v);
    clm_customer_free(c);
}

static void test_expire_on_apply(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_customer *early = customer();
    clm_customer *edge = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    /* Purchase day 0 12:00 (deadline day 90 12:00); a visit on day 100 12:00
     * with the partition's watermark at day 93 12:00 (7 days of lateness):
     * churned on day 90 first, then reactivated by the visit on day 100. */
    put(c, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    clm_deltas_reset(&d);
    put_wm(c, &d, CLM_EV_VISIT, at(100, 12, 0), at(93, 12, 0));
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(customers_delta)), -1);
    assert_int_equal(trans(&d, D0 + 90, CONVERSION, CHURNED), 1);
    assert_int_equal(on_day(&d, D0 + 100, CLM_DAY(reactivated)), 1);
    assert_int_equal(on_day(&d, D0 + 100, CLM_DAY(customers_delta)), 1);
    assert_int_equal(trans(&d, D0 + 100, CHURNED, REACTIVATED), 1);
    assert_int_equal(on_day(&d, D0 + 100, CLM_DAY(active_customers)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(last_active)), -1);
    assert_int_equal(on_day(&d, D0 + 100, CLM_DAY(last_active)), 1);
    assert_int_equal(d.stage_count[CONVERSION], -1);
    assert_int_equal(d.stage_count[CHURNED], 0);
    assert_int_equal(d.stage_count[REACTIVATED], 1);
    /* Rate 1216666666 -> 0 (churned) -> 100e6 * 365 / 100 = 365000000 over
     * a 100-day tenure: 365000000 - 1216666666 = -851666666. */
    assert_int_equal(d.value_rate_micros, -851666666);
    assert_int_equal(c->clv_rate_micros, 365000000);
    assert_int_equal(c->stage, REACTIVATED);
    assert_int_equal(c->stage_since, at(100, 12, 0));
    assert_int_equal(clm_customer_deadline(c, &opts), at(190, 12, 0));

    /* Watermark before the deadline: no churn; the deadline moves on. */
    put(early, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    clm_deltas_reset(&d);
    put_wm(early, &d, CLM_EV_VISIT, at(50, 12, 0), at(43, 12, 0));
    assert_int_equal(total(&d, CLM_DAY(churned)), 0);
    assert_int_equal(d.ntrans, 0); /* a visit does not go back to awareness */
    assert_int_equal(early->stage, CONVERSION);
    assert_int_equal(clm_customer_deadline(early, &opts), at(140, 12, 0));

    /* Watermark exactly at the deadline: due. */
    put(edge, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    clm_deltas_reset(&d);
    put_wm(edge, &d, CLM_EV_VISIT, at(97, 12, 0), at(90, 12, 0));
    assert_int_equal(on_day(&d, D0 + 90, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 97, CLM_DAY(reactivated)), 1);
    clm_deltas_release(&d);
    clm_customer_free(edge);
    clm_customer_free(early);
    clm_customer_free(c);
}

/* ---- value rate ---------------------------------------------------------- */

static void test_clv_rate(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_customer *v = customer();
    clm_deltas d;

    clm_deltas_init(&d);
    /* 100 at day 0: tenure 0 is raised to 30 days:
     * 100000000 * (365 * 86400000) / (30 * 86400000) = 1216666666.67 -> 1216666666. */
    put(c, &d, CLM_EV_PURCHASE, at(0, 12, 0));
    assert_int_equal(c->clv_rate_micros, 1216666666);
    assert_int_equal(d.value_rate_micros, 1216666666);
    /* A visit on day 10: tenure 10 days, still below 30: no change. */
    clm_deltas_reset(&d);
    put(c, &d, CLM_EV_VISIT, at(10, 12, 0));
    assert_int_equal(c->clv_rate_micros, 1216666666);
    assert_int_equal(d.value_rate_micros, 0);
    /* 50 more on day 60: 150000000 * 365 / 60 = 912500000;
     * delta 912500000 - 1216666666 = -304166666. */
    clm_deltas_reset(&d);
    put_amount(c, &d, at(60, 12, 0), 50000000);
    assert_int_equal(c->clv_rate_micros, 912500000);
    assert_int_equal(d.value_rate_micros, -304166666);
    /* A visit on day 120: 150000000 * 365 / 120 = 456250000; delta -456250000. */
    clm_deltas_reset(&d);
    put(c, &d, CLM_EV_VISIT, at(120, 12, 0));
    assert_int_equal(c->clv_rate_micros, 456250000);
    assert_int_equal(d.value_rate_micros, -456250000);
    /* Cancel on day 121: churned, the rate drops to 0. */
    clm_deltas_reset(&d);
    put(c, &d, CLM_EV_CANCEL, at(121, 12, 0));
    assert_int_equal(c->clv_rate_micros, 0);
    assert_int_equal(d.value_rate_micros, -456250000);

    /* A visitor has no rate. */
    clm_deltas_reset(&d);
    put(v, &d, CLM_EV_VISIT, at(0, 12, 0));
    assert_int_equal(v->clv_rate_micros, 0);
    assert_int_equal(d.value_rate_micros, 0);
    clm_deltas_release(&d);
    clm_customer_free(v);
    clm_customer_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_direct_buy),
        cmocka_unit_test(test_full_path),
        cmocka_unit_test(test_first_entries_only),
        cmocka_unit_test(test_entered_special_every_time),
        cmocka_unit_test(test_cancel_reactivate),
        cmocka_unit_test(test_inactive_no_reactivation),
        cmocka_unit_test(test_inactive_keeps_deadline),
        cmocka_unit_test(test_current_spell),
        cmocka_unit_test(test_deadline_expire),
        cmocka_unit_test(test_expire_on_apply),
        cmocka_unit_test(test_clv_rate),
    };
    return cmocka_run_group_tests_name("lifecycle", tests, setup_model, teardown_model);
}
