/* tests/test-merge.c - identity merge of an anonymous customer into a known
 * one (core/merge.c): every merge rule field by field, the KPI deltas of a
 * merge against one customer that saw both ids' events, merge chains, a
 * merge into a churned customer, a merge record applied twice. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"
#include "core/kpi.h"
#include "core/merge.h"
#include "core/timeutil.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define D0 20454 /* 2026-01-01: 56 * 365 + 14 leap days */
#define M(x) ((int64_t)(x) * 1000000) /* whole currency units in micro-units */

/* The default model (config/stages/b2c.json), stage indices in list order. */
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
    { ON_CANCEL, 1, NULL, 0, "churned", 1, -1, NO_SCORE },
    { ON_ANY, 1, FROM_CHURNED, 1, "reactivated", -1, -1, NO_SCORE },
};
static const clm_stages_spec MODEL = {
    .stages = STAGE_NAMES, .nstages = 9, .churned = "churned", .reactivated = "reactivated",
    .rules = RULES, .nrules = sizeof(RULES) / sizeof(RULES[0]), .forward_only = true,
};

static clm_stages *model;
static clm_risk_opts risk;
static clm_apply_opts opts;  /* with the stage model and risk scoring */
static clm_apply_opts plain; /* neither */

static int setup(void **state)
{
    (void)state;
    char err[256];

    if (clm_stages_new(&MODEL, &model, err, sizeof(err)) != 0) {
        fprintf(stderr, "model: %s\n", err);
        return -1;
    }
    clm_risk_opts_default(&risk);
    opts = (clm_apply_opts){
        .dedup_horizon_ms = 30 * DAY_MS,
        .dedup_max_ids = 64,
        .stages = model,
        .bucket_ms = DAY_MS,
        .churn_inactive_ms = 90 * DAY_MS,
        .clv_min_tenure_ms = 30 * DAY_MS,
        .inactive_types = 1u << CLM_EV_CANCEL | 1u << CLM_EV_REFUND | 1u << CLM_EV_PAYMENT_FAILED |
                          1u << CLM_EV_MARKETING_SPEND,
        .risk = &risk,
    };
    plain = opts;
    plain.stages = NULL;
    plain.risk = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clm_stages_free(model);
    return 0;
}

/* Epoch ms of hh:00 UTC on day D0 + day. */
static int64_t at(int64_t day, int64_t hh)
{
    return (D0 + day) * DAY_MS + hh * HOUR_MS;
}

static int64_t bucket(int64_t day)
{
    return D0 + day;
}

/* Applies an event (id may be NULL; amount and score only where the type
 * takes them) to c, and to `also` when not NULL. */
static void put_to(clm_customer *c, clm_customer *also, const clm_apply_opts *o, clm_deltas *d,
                   clm_deltas *d2, clm_event_type type, int64_t ts, int64_t amount,
                   const char *id)
{
    clm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts;
    ev.has_customer = 1;
    ev.customer_id_len = c->id_len;
    memcpy(ev.customer_id, c->id, c->id_len + 1u);
    const char *name = clm_event_type_name(type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    if (type == CLM_EV_PURCHASE || type == CLM_EV_REFUND) {
        ev.has_amount = 1;
        ev.amount_micros = amount;
    }
    if (type == CLM_EV_NPS_RESPONSE || type == CLM_EV_CSAT_RESPONSE) {
        ev.has_score = 1;
        ev.score = (int32_t)amount;
    }
    if (type == CLM_EV_SESSION) {
        ev.has_duration = 1;
        ev.duration_ms = 60000;
    }
    if (id) {
        ev.has_event_id = 1;
        ev.event_id_len = (uint8_t)strlen(id);
        memcpy(ev.event_id, id, ev.event_id_len + 1u);
    }
    assert_int_equal(clm_customer_apply(c, &ev, o, d, ts), CLM_APPLIED);
    if (also)
        assert_int_equal(clm_customer_apply(also, &ev, o, d2, ts), CLM_APPLIED);
}

static clm_customer *cust(const char *id)
{
    clm_customer *c = clm_customer_new(id, strlen(id), 0);

    assert_non_null(c);
    return c;
}

static int64_t on_day(const clm_deltas *d, int64_t b, size_t off)
{
    int64_t sum = 0;

    for (size_t i = 0; i < d->ndays; i++)
        if (d->days[i].bucket == b) {
            int64_t v;
            memcpy(&v, (const char *)&d->days[i].c + off, sizeof(v));
            sum += v;
        }
    return sum;
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

static uint64_t rid(const char *anon, const char *known, const char *ev)
{
    return clm_merge_record_id("g", 1, anon, strlen(anon), known, strlen(known), ev, strlen(ev));
}

static void test_record_id(void **state)
{
    (void)state;
    uint64_t a = rid("anon-1", "known-1", "e1");

    assert_int_equal(a, rid("anon-1", "known-1", "e1"));
    assert_int_not_equal(a, rid("known-1", "anon-1", "e1"));
    assert_int_not_equal(a, rid("anon-1", "known-1", "e2"));
    assert_int_not_equal(a, clm_merge_record_id("h", 1, "anon-1", 6, "known-1", 7, "e1", 2));
    /* the separators keep the boundaries: "ab"+"c" is not "a"+"bc" */
    assert_int_not_equal(rid("ab", "c", ""), rid("a", "bc", ""));
}

/* Every field of the state, worked out by hand; no stage model, no risk. */
static void test_fields(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = cust("anon-1"), *k = cust("known-1");

    put_to(a, NULL, &plain, &d, NULL, CLM_EV_VISIT, at(0, 10), 0, "a1");
    put_to(a, NULL, &plain, &d, NULL, CLM_EV_SIGNUP, at(1, 9), 0, "a2");
    put_to(a, NULL, &plain, &d, NULL, CLM_EV_LEAD_CONTACTED, at(2, 9), 0, "a3");
    put_to(a, NULL, &plain, &d, NULL, CLM_EV_PURCHASE, at(3, 12), M(50), "a4");
    put_to(a, NULL, &plain, &d, NULL, CLM_EV_REFUND, at(3, 13), M(5), "a5");
    put_to(k, NULL, &plain, &d, NULL, CLM_EV_VISIT, at(2, 8), 0, "k1");
    put_to(k, NULL, &plain, &d, NULL, CLM_EV_LEAD_CONTACTED, at(1, 8), 0, "k2");
    put_to(k, NULL, &plain, &d, NULL, CLM_EV_PURCHASE, at(4, 10), M(100), "k3");
    put_to(k, NULL, &plain, &d, NULL, CLM_EV_PURCHASE, at(6, 10), M(20), "k4");
    put_to(k, NULL, &plain, &d, NULL, CLM_EV_SIGNUP, at(5, 9), 0, "k5");

    assert_int_equal(clm_merge_apply(k, a, rid("anon-1", "known-1", "i1"), at(7, 0), &plain, &d,
                                     at(7, 0)),
                     CLM_APPLIED);
    assert_string_equal(k->id, "known-1");
    assert_int_equal(k->first_seen, at(0, 10));     /* min */
    assert_int_equal(k->last_seen, at(6, 10));      /* max, with its type */
    assert_int_equal(k->last_type, CLM_EV_PURCHASE);
    assert_int_equal(k->events, 10);                /* sum */
    assert_int_equal(k->orders, 3);
    assert_int_equal(k->revenue_micros, M(170));
    assert_int_equal(k->refunds_micros, M(5));
    assert_int_equal(k->first_purchase, at(3, 12)); /* earliest */
    assert_int_equal(k->first_signup, at(1, 9));
    assert_int_equal(k->first_contact, at(1, 8));
    /* the earliest contact at or after the first signup (day 1 09:00) */
    assert_int_equal(k->lead_contact, at(2, 9));
    /* active buckets: anon 0, 1, 2, 3 (the refund is not activity), known 2, 4, 5, 6 */
    assert_int_equal(k->active_bucket, bucket(6));
    assert_int_equal(k->active_bits, 0x7full);
    /* purchase days 3, 4, 6: first day 3 (50), repeats 4 and 6 (120) */
    assert_int_equal(k->rfm.first_day, D0 + 3);
    assert_int_equal(k->rfm.last_day, D0 + 6);
    assert_int_equal(k->rfm.x, 2);
    assert_int_equal(k->rfm.first_micros, M(50));
    assert_int_equal(k->rfm.repeat_micros, M(120));
    assert_int_equal(k->rfm.day_bits, 0xdull); /* days 6, 4, 3: bits 0, 2, 3 */
    assert_true(clm_rfm_valid(&k->rfm));
    /* tenure day 3 12:00 -> day 6 10:00 is below the 30-day floor */
    assert_int_equal(k->clv_rate_micros, 2068333333); /* 170 x 365 / 30 */
    /* dedup ids united, plus the record id */
    assert_int_equal(k->dedup.n, 11);
    assert_true(clm_dedup_contains(&k->dedup, clm_dedup_hash("a3", 2)));
    assert_true(clm_dedup_contains(&k->dedup, clm_dedup_hash("k5", 2)));
    assert_true(clm_dedup_contains(&k->dedup, rid("anon-1", "known-1", "i1")));
    assert_true(k->flags & CLM_CUST_DIRTY);
    assert_int_equal(k->changed, CLM_FACET_ALL);
    /* the anonymous snapshot is untouched */
    assert_int_equal(a->events, 5);
    assert_int_equal(a->orders, 1);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_deltas_release(&d);
}

/* The risk state is the union of both histories: compared with one customer
 * that saw every event. */
static void test_risk_union(void **state)
{
    (void)state;
    clm_deltas d, ds;
    clm_deltas_init(&d);
    clm_deltas_init(&ds);
    clm_customer *a = cust("anon-1"), *k = cust("known-1"), *s = cust("known-1");

    put_to(k, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(0, 10), M(10), NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_SESSION, at(1, 10), 0, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_SESSION, at(1, 11), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_SUPPORT_TICKET, at(2, 10), 0, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_SUPPORT_TICKET, at(2, 11), 0, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_SUPPORT_TICKET, at(3, 11), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_NPS_RESPONSE, at(4, 10), 9, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_NPS_RESPONSE, at(3, 10), 2, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_CSAT_RESPONSE, at(4, 12), 5, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_PAYMENT_FAILED, at(5, 10), 0, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_DOWNGRADE, at(5, 11), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(6, 10), M(30), NULL);

    assert_int_equal(clm_merge_apply(k, a, 1, at(6, 11), &opts, &d, at(6, 11)), CLM_APPLIED);
    assert_memory_equal(&k->risk, &s->risk, sizeof(k->risk));
    /* anon active on days 1, 2, 4, 6 (payment_failed is not activity), known on
     * 0..5 (downgrade is): 7 distinct days */
    assert_int_equal(k->risk.active_days, 7);
    assert_memory_equal(&k->rfm, &s->rfm, sizeof(k->rfm));
    /* scored again on the merge day, as the one customer was */
    assert_int_equal(k->risk_day, s->risk_day);
    assert_int_equal(k->risk_e4, s->risk_e4);
    assert_int_equal(k->risk_next, s->risk_next);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_customer_free(s);
    clm_deltas_release(&d);
    clm_deltas_release(&ds);
}

/* The KPI deltas of two ids and their merge count the person once: the
 * re-attributed counters equal, bucket by bucket, those of one customer
 * that saw both ids' events. */
static void test_counts_once(void **state)
{
    (void)state;
    clm_deltas d, ds;
    clm_deltas_init(&d);
    clm_deltas_init(&ds);
    clm_customer *a = cust("anon-1"), *k = cust("known-1"), *s = cust("known-1");

    put_to(a, s, &opts, &d, &ds, CLM_EV_VISIT, at(0, 10), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_SIGNUP, at(1, 10), 0, NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_VISIT, at(2, 9), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_LEAD_CONTACTED, at(2, 10), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_SESSION, at(2, 11), 0, NULL);
    put_to(a, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(3, 10), M(50), NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(4, 10), M(100), NULL);
    put_to(k, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(6, 10), M(25), NULL);

    assert_int_equal(clm_merge_apply(k, a, 7, at(7, 0), &opts, &d, at(7, 0)), CLM_APPLIED);

    static const size_t same[] = {
        CLM_DAY(new_leads), CLM_DAY(new_customers), CLM_DAY(orders), CLM_DAY(revenue_micros),
        CLM_DAY(sessions), CLM_DAY(leads_contacted), CLM_DAY(lead_response_ms_sum),
        CLM_DAY(repeat_orders), CLM_DAY(active_customers), CLM_DAY(last_active),
        CLM_DAY(leads_converted), CLM_DAY(current_last_active), CLM_DAY(current_since),
        ENTERED(AWARENESS), ENTERED(ACQUISITION), ENTERED(CONVERSION),
        ADVANCED(0), ADVANCED(1), ADVANCED(2), ADVANCED(3), ADVANCED(4),
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        for (int64_t day = 0; day <= 8; day++)
            if (on_day(&d, bucket(day), same[i]) != on_day(&ds, bucket(day), same[i])) {
                fprintf(stderr, "counter at offset %zu, day %lld: %lld, one customer %lld\n",
                        same[i], (long long)day, (long long)on_day(&d, bucket(day), same[i]),
                        (long long)on_day(&ds, bucket(day), same[i]));
                fail();
            }
    /* one converted lead, one new customer, counted on their own days */
    assert_int_equal(total(&d, CLM_DAY(new_leads)), 1);
    assert_int_equal(on_day(&d, bucket(1), CLM_DAY(leads_converted)), 1);
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, bucket(3), CLM_DAY(new_customers)), 1);
    /* customers: +1 (anon, day 3) +1 (known, day 4) -1 on the merge day */
    assert_int_equal(on_day(&d, bucket(7), CLM_DAY(customers_delta)), -1);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), total(&ds, CLM_DAY(customers_delta)));
    assert_int_equal(d.repeat_customers, ds.repeat_customers);
    assert_int_equal(d.value_rate_micros, ds.value_rate_micros);
    assert_int_equal(k->clv_rate_micros, s->clv_rate_micros);
    /* the merged stage is the further one (retention); counts net to one person */
    assert_int_equal(k->stage, RETENTION);
    assert_int_equal(k->stage, s->stage);
    assert_int_equal(k->peak, RETENTION);
    for (int i = 0; i < 9; i++)
        assert_int_equal(d.stage_count[i], ds.stage_count[i]);
    /* first entries are the earliest of either side: the one customer entered
     * retention with its second order (day 4), the known id with its own
     * second order (day 6); the merge does not replay rules */
    assert_memory_equal(k->entered, s->entered, 3 * sizeof(k->entered[0]));
    assert_int_equal(k->entered[5], bucket(6));
    assert_int_equal(s->entered[5], bucket(4));
    assert_int_equal(k->returned, CLM_NO_TS);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_customer_free(s);
    clm_deltas_release(&d);
    clm_deltas_release(&ds);
}

/* The further stage wins, from either side, with its time; the peak is the
 * higher one. */
static void test_stage_further(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = cust("anon-1"), *k = cust("known-1");

    put_to(a, NULL, &opts, &d, NULL, CLM_EV_SIGNUP, at(1, 10), 0, NULL);
    put_to(k, NULL, &opts, &d, NULL, CLM_EV_VISIT, at(2, 10), 0, NULL);
    assert_int_equal(clm_merge_apply(k, a, 3, at(3, 0), &opts, &d, at(3, 0)), CLM_APPLIED);
    assert_int_equal(k->stage, ACQUISITION);
    assert_int_equal(k->stage_since, at(1, 10));
    assert_int_equal(k->peak, ACQUISITION);
    assert_int_equal(k->entered[0], bucket(2));
    assert_int_equal(k->entered[1], bucket(1));
    /* awareness (known) -> acquisition on the merge day; the anon leaves acquisition */
    assert_int_equal(d.stage_count[ACQUISITION], 1);
    assert_int_equal(d.stage_count[AWARENESS], 0);
    /* entered[awareness] is the known's first entry, on day 2 */
    assert_int_equal(total(&d, ENTERED(AWARENESS)), 1);
    assert_int_equal(total(&d, ENTERED(ACQUISITION)), 1);
    assert_int_equal(on_day(&d, bucket(1), ENTERED(ACQUISITION)), 1);
    /* the person entered awareness (day 2) and acquisition: advanced on day 2 */
    assert_int_equal(total(&d, ADVANCED(0)), 1);
    assert_int_equal(on_day(&d, bucket(2), ADVANCED(0)), 1);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_deltas_release(&d);
}

/* Into a churned customer: an anonymous id active after the churn brings
 * the person back (reactivation stage, current again); one whose activity
 * is older than the churn leaves it churned. */
static void test_into_churned(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = cust("anon-1"), *k = cust("known-1");

    put_to(k, NULL, &opts, &d, NULL, CLM_EV_PURCHASE, at(0, 10), M(40), NULL);
    put_to(k, NULL, &opts, &d, NULL, CLM_EV_CANCEL, at(10, 10), 0, NULL);
    assert_int_equal(k->stage, CHURNED);
    put_to(a, NULL, &opts, &d, NULL, CLM_EV_VISIT, at(20, 10), 0, NULL);
    assert_int_equal(clm_merge_apply(k, a, 5, at(21, 0), &opts, &d, at(21, 0)), CLM_APPLIED);
    assert_int_equal(k->stage, REACTIVATED);
    assert_int_equal(k->stage_since, at(21, 0));
    assert_true(clm_customer_current(k, &opts));
    assert_int_equal(k->returned, bucket(21));
    assert_int_equal(k->last_seen, at(20, 10));
    /* back as a customer on the merge day */
    assert_int_equal(on_day(&d, bucket(21), CLM_DAY(customers_delta)), 1);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 1);
    assert_int_equal(on_day(&d, bucket(21), CLM_DAY(reactivated)), 1);
    assert_int_equal(on_day(&d, bucket(21), ENTERED(REACTIVATED)), 1);
    assert_int_equal(on_day(&d, bucket(21), CLM_DAY(current_since)), 1);
    assert_int_equal(total(&d, CLM_DAY(current_since)), 1);
    assert_int_equal(d.stage_count[REACTIVATED], 1);
    assert_int_equal(d.stage_count[CHURNED], 0);
    assert_int_equal(d.stage_count[AWARENESS], 0);
    assert_int_equal(d.stage_count[CONVERSION], 0);
    assert_true(k->clv_rate_micros > 0);

    /* activity older than the churn: still churned, still not a current customer */
    clm_deltas e;
    clm_deltas_init(&e);
    clm_customer *b = cust("anon-2"), *j = cust("known-2");
    put_to(b, NULL, &opts, &e, NULL, CLM_EV_VISIT, at(5, 10), 0, NULL);
    put_to(j, NULL, &opts, &e, NULL, CLM_EV_PURCHASE, at(0, 10), M(40), NULL);
    put_to(j, NULL, &opts, &e, NULL, CLM_EV_CANCEL, at(10, 10), 0, NULL);
    assert_int_equal(clm_merge_apply(j, b, 6, at(21, 0), &opts, &e, at(21, 0)), CLM_APPLIED);
    assert_int_equal(j->stage, CHURNED);
    assert_int_equal(j->stage_since, at(10, 10));
    assert_false(clm_customer_current(j, &opts));
    assert_int_equal(total(&e, CLM_DAY(customers_delta)), 0);
    assert_int_equal(d.stage_count[CHURNED], 0);
    assert_int_equal(e.stage_count[CHURNED], 1);
    assert_int_equal(e.stage_count[AWARENESS], 0);
    assert_int_equal(j->clv_rate_micros, 0);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_customer_free(b);
    clm_customer_free(j);
    clm_deltas_release(&d);
    clm_deltas_release(&e);
}

/* A merge record delivered twice merges once; same ids refuse. */
static void test_applied_twice(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = cust("anon-1"), *k = cust("known-1");

    put_to(a, NULL, &opts, &d, NULL, CLM_EV_PURCHASE, at(1, 10), M(10), "a1");
    put_to(k, NULL, &opts, &d, NULL, CLM_EV_PURCHASE, at(2, 10), M(20), "k1");
    uint64_t id = rid("anon-1", "known-1", "i1");
    assert_int_equal(clm_merge_apply(k, a, id, at(3, 0), &opts, &d, at(3, 0)), CLM_APPLIED);
    clm_customer_free(a);
    a = cust("anon-1"); /* the snapshot read again from the record */
    put_to(a, NULL, &opts, &d, NULL, CLM_EV_PURCHASE, at(1, 10), M(10), "a1");
    clm_deltas_reset(&d);
    int64_t events = k->events, revenue = k->revenue_micros;
    k->flags &= (uint8_t)~CLM_CUST_DIRTY;
    assert_int_equal(clm_merge_apply(k, a, id, at(3, 0), &opts, &d, at(3, 0)), CLM_DUPLICATE);
    assert_int_equal(k->events, events);
    assert_int_equal(k->revenue_micros, revenue);
    assert_int_equal(k->orders, 2);
    assert_false(d.any);
    assert_int_equal(d.ndays, 0);
    assert_false(k->flags & CLM_CUST_DIRTY);
    /* the anonymous id's own event, replayed to the known id, is a duplicate too */
    clm_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CLM_EV_PURCHASE;
    ev.ts_ms = at(1, 10);
    ev.has_customer = ev.has_event_id = ev.has_amount = 1;
    ev.amount_micros = M(10);
    ev.event_id_len = 2;
    memcpy(ev.event_id, "a1", 3);
    assert_int_equal(clm_customer_apply(k, &ev, &opts, &d, at(3, 0)), CLM_DUPLICATE);
    /* a customer cannot be merged into itself */
    assert_int_equal(clm_merge_apply(k, k, 9, at(3, 0), &opts, &d, at(3, 0)), -EINVAL);

    /* with event dedup off the record id is still remembered */
    clm_apply_opts off = plain;
    off.dedup_horizon_ms = 0;
    clm_customer *b = cust("anon-2"), *j = cust("known-2");
    put_to(b, NULL, &off, &d, NULL, CLM_EV_VISIT, at(1, 10), 0, NULL);
    assert_int_equal(clm_merge_apply(j, b, 11, at(2, 0), &off, &d, at(2, 0)), CLM_APPLIED);
    assert_int_equal(clm_merge_apply(j, b, 11, at(2, 0), &off, &d, at(2, 0)), CLM_DUPLICATE);
    assert_int_equal(j->events, 1);

    clm_customer_free(a);
    clm_customer_free(k);
    clm_customer_free(b);
    clm_customer_free(j);
    clm_deltas_release(&d);
}

/* a -> b, then b -> c: c holds all three, and every counter counts one person. */
static void test_chain(void **state)
{
    (void)state;
    clm_deltas d, ds;
    clm_deltas_init(&d);
    clm_deltas_init(&ds);
    clm_customer *a = cust("a"), *b = cust("b"), *c = cust("c"), *s = cust("c");

    put_to(a, s, &opts, &d, &ds, CLM_EV_SIGNUP, at(0, 10), 0, NULL);
    put_to(b, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(1, 10), M(10), NULL);
    put_to(c, s, &opts, &d, &ds, CLM_EV_PURCHASE, at(2, 10), M(30), NULL);
    assert_int_equal(clm_merge_apply(b, a, 1, at(3, 0), &opts, &d, at(3, 0)), CLM_APPLIED);
    assert_int_equal(clm_merge_apply(c, b, 2, at(4, 0), &opts, &d, at(4, 0)), CLM_APPLIED);
    assert_int_equal(c->events, 3);
    assert_int_equal(c->orders, 2);
    assert_int_equal(c->revenue_micros, M(40));
    assert_int_equal(c->first_signup, at(0, 10));
    assert_int_equal(c->first_purchase, at(1, 10));
    /* both were in conversion: the merge keeps it (the one customer's second
     * purchase moved it to retention; the merged one moves at its next event) */
    assert_int_equal(c->stage, CONVERSION);
    assert_int_equal(s->stage, RETENTION);
    assert_memory_equal(&c->rfm, &s->rfm, sizeof(c->rfm));
    assert_int_equal(total(&d, CLM_DAY(new_leads)), 1);
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, bucket(0), CLM_DAY(leads_converted)), 1);
    assert_int_equal(total(&d, CLM_DAY(leads_converted)), 1);
    assert_int_equal(total(&d, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 1);
    assert_int_equal(d.repeat_customers, 1);
    assert_int_equal(d.value_rate_micros, c->clv_rate_micros);
    for (int i = 0; i < 9; i++)
        assert_int_equal(d.stage_count[i], i == CONVERSION ? 1 : 0);
    /* b's record id travels with it into c */
    assert_true(clm_dedup_contains(&c->dedup, 1));
    assert_true(clm_dedup_contains(&c->dedup, 2));

    clm_customer_free(a);
    clm_customer_free(b);
    clm_customer_free(c);
    clm_customer_free(s);
    clm_deltas_release(&d);
    clm_deltas_release(&ds);
}

/* Random histories (no stage model, events in time order, signups and
 * contacts on the anonymous side only: see README "Identity merge" for the
 * one case of lead_contact the merge cannot know): the merged customer and the KPI deltas of both ids
 * and their merge equal, bucket by bucket, one customer that saw every event. */
static void test_random_histories(void **state)
{
    (void)state;
    static const clm_event_type kinds[] = {
        CLM_EV_VISIT, CLM_EV_PURCHASE, CLM_EV_SESSION, CLM_EV_LOGIN, CLM_EV_REFUND,
        CLM_EV_SIGNUP, CLM_EV_LEAD_CONTACTED, /* the anonymous side only */
    };
    static const size_t counters[] = {
        CLM_DAY(new_leads), CLM_DAY(new_customers), CLM_DAY(orders), CLM_DAY(revenue_micros),
        CLM_DAY(refunds_micros), CLM_DAY(sessions), CLM_DAY(leads_contacted),
        CLM_DAY(lead_response_ms_sum), CLM_DAY(repeat_orders), CLM_DAY(active_customers),
        CLM_DAY(last_active), CLM_DAY(leads_converted), CLM_DAY(current_last_active),
        CLM_DAY(current_since),
    };
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    for (int round = 0; round < 300; round++) {
        clm_deltas d, ds;
        clm_deltas_init(&d);
        clm_deltas_init(&ds);
        clm_customer *a = cust("anon-1"), *k = cust("known-1"), *s = cust("known-1");
        int64_t ts = at(0, 0);
        int n = 2 + (int)((rng >> 33) % 20);
        for (int i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            ts += (int64_t)((rng >> 33) % (3 * DAY_MS));
            bool anon = (rng >> 20) & 1;
            clm_event_type t = kinds[(rng >> 40) % (anon ? 7 : 5)];
            int64_t amount = t == CLM_EV_PURCHASE || t == CLM_EV_REFUND ? M(1 + (rng >> 50) % 90) : 0;
            put_to(anon ? a : k, s, &plain, &d, &ds, t, ts, amount, NULL);
        }
        int64_t merge_ts = ts + HOUR_MS;
        assert_int_equal(clm_merge_apply(k, a, (uint64_t)round, merge_ts, &plain, &d, merge_ts),
                         CLM_APPLIED);
        assert_int_equal(k->first_seen, s->first_seen);
        assert_int_equal(k->last_seen, s->last_seen);
        assert_int_equal(k->events, s->events);
        assert_int_equal(k->orders, s->orders);
        assert_int_equal(k->revenue_micros, s->revenue_micros);
        assert_int_equal(k->refunds_micros, s->refunds_micros);
        assert_int_equal(k->first_purchase, s->first_purchase);
        assert_int_equal(k->first_signup, s->first_signup);
        assert_int_equal(k->first_contact, s->first_contact);
        assert_int_equal(k->lead_contact, s->lead_contact);
        assert_int_equal(k->active_bucket, s->active_bucket);
        assert_int_equal(k->active_bits, s->active_bits);
        assert_int_equal(k->returned, s->returned);
        assert_int_equal(k->clv_rate_micros, s->clv_rate_micros);
        assert_int_equal(k->rfm.first_day, s->rfm.first_day);
        assert_int_equal(k->rfm.last_day, s->rfm.last_day);
        assert_int_equal(k->rfm.x, s->rfm.x);
        assert_int_equal(k->rfm.day_bits, s->rfm.day_bits);
        assert_int_equal(k->rfm.first_micros, s->rfm.first_micros);
        assert_int_equal(k->rfm.repeat_micros, s->rfm.repeat_micros);
        for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++)
            for (int64_t day = 0; day <= 70; day++)
                if (on_day(&d, bucket(day), counters[c]) != on_day(&ds, bucket(day), counters[c]))
                    fail_msg("round %d: counter at offset %zu, day %lld: %lld, one customer %lld",
                             round, counters[c], (long long)day,
                             (long long)on_day(&d, bucket(day), counters[c]),
                             (long long)on_day(&ds, bucket(day), counters[c]));
        assert_int_equal(total(&d, CLM_DAY(customers_delta)), total(&ds, CLM_DAY(customers_delta)));
        assert_int_equal(d.repeat_customers, ds.repeat_customers);
        assert_int_equal(d.value_rate_micros, ds.value_rate_micros);
        clm_customer_free(a);
        clm_customer_free(k);
        clm_customer_free(s);
        clm_deltas_release(&d);
        clm_deltas_release(&ds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_id),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_risk_union),
        cmocka_unit_test(test_counts_once),
        cmocka_unit_test(test_stage_further),
        cmocka_unit_test(test_into_churned),
        cmocka_unit_test(test_applied_twice),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_random_histories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
