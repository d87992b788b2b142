/* tests/test-customer.c - customer state, event application and the
 * per-bucket KPI deltas of events (core/customer.c), without a stage
 * model; the lifecycle rules are in test-lifecycle.c, the v1 text of the
 * state in test-v1.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"
#include "core/timeutil.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
/* 2026-01-01 as an epoch day: 56 years after 1970 with 14 leap days
 * (1972..2024), 56 * 365 + 14 = 20454. */
#define D0 20454

/* One day of dedup horizon, 16 remembered ids; UTC-day buckets, churn after
 * 90 silent days, rates taken over at least 30 days. No stage model. */
static const clm_apply_opts DEDUP_ON = {
    .dedup_horizon_ms = DAY_MS,
    .dedup_max_ids = 16,
    .bucket_ms = DAY_MS,
    .churn_inactive_ms = 90 * DAY_MS,
    .clv_min_tenure_ms = 30 * DAY_MS,
};
static const clm_apply_opts DEDUP_OFF = {
    .dedup_horizon_ms = 0,
    .dedup_max_ids = 16,
    .bucket_ms = DAY_MS,
    .churn_inactive_ms = 90 * DAY_MS,
    .clv_min_tenure_ms = 30 * DAY_MS,
};

/* Epoch ms of hh:mm UTC on day D0 + day. */
static int64_t at(int64_t day, int64_t hh, int64_t mm)
{
    return (D0 + day) * DAY_MS + hh * HOUR_MS + mm * MIN_MS;
}

static clm_event make_event(clm_event_type type, const char *event_id, int64_t ts_ms,
                            int64_t amount_micros)
{
    clm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts_ms;
    ev.has_customer = 1;
    ev.customer_id_len = 3;
    memcpy(ev.customer_id, "c-1", 4);
    if (event_id) {
        ev.has_event_id = 1;
        ev.event_id_len = (uint8_t)strlen(event_id);
        memcpy(ev.event_id, event_id, ev.event_id_len + 1u);
    }
    if (amount_micros >= 0) {
        ev.has_amount = 1;
        ev.amount_micros = amount_micros;
    }
    const char *name = clm_event_type_name(type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    return ev;
}

static clm_event scored(clm_event_type type, int64_t ts_ms, int32_t score)
{
    clm_event ev = make_event(type, NULL, ts_ms, -1);

    ev.has_score = 1;
    ev.score = score;
    return ev;
}

/* Applies an event without id (never a duplicate) with DEDUP_ON. */
static void put(clm_customer *c, clm_deltas *d, clm_event ev)
{
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, d, CLM_NO_TS), CLM_APPLIED);
}

static void put_type(clm_customer *c, clm_deltas *d, clm_event_type type, int64_t ts_ms)
{
    put(c, d, make_event(type, NULL, ts_ms, -1));
}

static void put_money(clm_customer *c, clm_deltas *d, clm_event_type type, int64_t ts_ms,
                      int64_t micros)
{
    put(c, d, make_event(type, NULL, ts_ms, micros));
}

/* The delta of one counter in one bucket (0 when the bucket has none); looks
 * without creating the bucket. */
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

/* The sum of one counter's deltas over all buckets. */
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

/* purchase e-1 of 49.9 at ts 3000, refund e-2 of 10 at 2000, visit e-3 at 1000
 * (arriving in that order, so the visit is out of order). */
static clm_customer *three_events(void)
{
    clm_customer *c = clm_customer_new("c-1", 3, 7);
    clm_deltas d;
    clm_event ev;

    assert_non_null(c);
    clm_deltas_init(&d);
    ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    ev = make_event(CLM_EV_REFUND, "e-2", 2000, 10000000);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    ev = make_event(CLM_EV_VISIT, "e-3", 1000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    clm_deltas_release(&d);
    return c;
}

/* The two customers hold the same state, field by field. */
static void assert_same_state(const clm_customer *a, const clm_customer *b)
{
    assert_int_equal(a->first_seen, b->first_seen);
    assert_int_equal(a->last_seen, b->last_seen);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->orders, b->orders);
    assert_int_equal(a->revenue_micros, b->revenue_micros);
    assert_int_equal(a->refunds_micros, b->refunds_micros);
    assert_int_equal(a->first_purchase, b->first_purchase);
    assert_int_equal(a->first_signup, b->first_signup);
    assert_int_equal(a->active_bucket, b->active_bucket);
    assert_true(a->active_bits == b->active_bits);
    assert_int_equal(a->clv_rate_micros, b->clv_rate_micros);
    assert_int_equal(a->last_type, b->last_type);
    assert_int_equal(a->first_contact, b->first_contact);
    assert_int_equal(a->lead_contact, b->lead_contact);
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        assert_int_equal(a->entered[i], b->entered[i]);
    assert_int_equal(a->dedup.n, b->dedup.n);
    for (uint16_t i = 0; i < a->dedup.n; i++) {
        assert_true(clm_dedup_entries(&a->dedup)[i].hash == clm_dedup_entries(&b->dedup)[i].hash);
        assert_int_equal(clm_dedup_entries(&a->dedup)[i].ts_ms, clm_dedup_entries(&b->dedup)[i].ts_ms);
    }
    /* the rest of the persisted state */
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->peak, b->peak);
    assert_int_equal(a->stage_since, b->stage_since);
    assert_int_equal(a->risk_e4, b->risk_e4);
    assert_int_equal(a->risk_day, b->risk_day);
    assert_int_equal(a->risk_next, b->risk_next);
    assert_int_equal(a->alert_at, b->alert_at);
    assert_int_equal(a->src_topic, b->src_topic);
    assert_int_equal(a->src_offset, b->src_offset);
    assert_int_equal(a->flags & CLM_CUST_DISARMED, b->flags & CLM_CUST_DISARMED);
    assert_memory_equal(&a->risk, &b->risk, sizeof(a->risk));
    assert_memory_equal(&a->rfm, &b->rfm, sizeof(a->rfm));
}

static void test_new(void **state)
{
    (void)state;
    char id[CLM_ID_MAX + 1];

    memset(id, 'x', sizeof(id));
    assert_null(clm_customer_new(id, 0, 0));
    assert_null(clm_customer_new(id, CLM_ID_MAX + 1, 0)); /* 129 bytes */

    clm_customer *c = clm_customer_new(id, CLM_ID_MAX, 513);
    assert_non_null(c);
    assert_int_equal(c->id_len, 128);
    assert_int_equal(strlen(c->id), 128);
    assert_int_equal(c->part, 513);
    assert_int_equal(c->events, 0);
    assert_int_equal(c->first_seen, 0);
    assert_int_equal(c->revenue_micros, 0);
    assert_int_equal(c->last_type, CLM_EV_OTHER);
    assert_int_equal(c->flags, CLM_CUST_NEW); /* Redis holds nothing of it yet */
    assert_int_equal(c->dedup.n, 0);
    assert_int_equal(c->first_purchase, CLM_NO_TS);
    assert_int_equal(c->first_signup, CLM_NO_TS);
    assert_int_equal(c->active_bucket, CLM_NO_TS);
    assert_int_equal(c->clv_rate_micros, 0);
    assert_int_equal(c->stage, CLM_STAGE_NONE);
    assert_int_equal(c->peak, CLM_STAGE_NONE);
    for (int i = 0; i < CLM_CUST_RANKS; i++)
        assert_int_equal(c->entered[i], -1);
    clm_customer_free(c);

    c = clm_customer_new("c-1", 3, 0);
    assert_non_null(c);
    assert_string_equal(c->id, "c-1");
    clm_customer_free(c);
    clm_customer_free(NULL);
}

static void test_day_numbers(void **state)
{
    (void)state;
    /* The streams below are dated by epoch day: day 0 is 2026-01-01. */
    assert_int_equal(clm_days_from_civil(2026, 1, 1), D0);
    assert_int_equal(clm_day_of_ms(at(0, 10, 0)), 20454);
    assert_int_equal(clm_day_of_ms(at(1, 0, 0) - 1), 20454); /* 23:59:59.999 */
    assert_int_equal(clm_day_of_ms(at(1, 0, 0)), 20455);
}

static void test_apply(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_deltas d;

    clm_deltas_init(&d);
    assert_int_equal(c->events, 3);
    assert_int_equal(c->orders, 1);
    assert_int_equal(c->revenue_micros, 49900000);
    assert_int_equal(c->refunds_micros, 10000000);
    assert_int_equal(c->first_seen, 1000); /* min(3000, 2000, 1000) */
    assert_int_equal(c->last_seen, 3000);  /* max(3000, 2000, 1000) */
    assert_int_equal(c->last_type, CLM_EV_PURCHASE); /* the type at ts 3000 */
    assert_int_equal(c->first_purchase, 3000);
    assert_int_equal(c->flags, CLM_CUST_NEW | CLM_CUST_DIRTY | CLM_CUST_REF);
    assert_int_equal(c->dedup.n, 3);

    /* A tie at last_seen: the later arrival wins. */
    clm_event ev = make_event(CLM_EV_LOGIN, "e-4", 3000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->last_type, CLM_EV_LOGIN);
    assert_int_equal(c->last_seen, 3000);
    /* An earlier event does not change last_type. */
    ev = make_event(CLM_EV_SIGNUP, "e-5", 500, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->last_type, CLM_EV_LOGIN);
    assert_int_equal(c->first_seen, 500);
    assert_int_equal(c->first_signup, 500);
    /* A second purchase of 0.000001: 49900000 + 1 micros, 2 orders. */
    ev = make_event(CLM_EV_PURCHASE, "e-6", 2500, 1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->orders, 2);
    assert_int_equal(c->revenue_micros, 49900001);
    assert_int_equal(c->first_purchase, 2500); /* earlier than 3000 */
    assert_int_equal(c->events, 6);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_duplicate(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *before = three_events();
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    clm_deltas d;

    clm_deltas_init(&d);
    c->flags = 0;
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_DUPLICATE);
    assert_same_state(c, before);
    assert_int_equal(c->flags, 0); /* not marked dirty */
    /* A duplicate changes no KPI either. */
    assert_false(d.any);
    assert_int_equal(d.ndays, 0);
    assert_int_equal(d.value_rate_micros, 0);
    /* Same id, different content: still the same event id. */
    ev = make_event(CLM_EV_VISIT, "e-2", 9000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_DUPLICATE);
    assert_same_state(c, before);
    assert_int_equal(d.ndays, 0);
    /* Events without an id are never duplicates. */
    ev = make_event(CLM_EV_VISIT, NULL, 1500, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->events, 5);
    clm_deltas_release(&d);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void test_dedup_disabled(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    clm_deltas d;

    clm_deltas_init(&d);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_OFF, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_OFF, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->events, 2);
    assert_int_equal(c->orders, 2);
    assert_int_equal(c->revenue_micros, 99800000); /* 2 * 49900000 */
    assert_int_equal(c->dedup.n, 0);               /* nothing remembered */
    /* Both count: 2 orders on day 0, the second a repeat order. */
    assert_int_equal(on_day(&d, 0, CLM_DAY(orders)), 2);
    assert_int_equal(on_day(&d, 0, CLM_DAY(repeat_orders)), 1);
    /* the second order makes a repeat customer; a third does not again */
    assert_int_equal(d.repeat_customers, 1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_OFF, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(d.repeat_customers, 1);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_dedup_horizon(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_event ev = make_event(CLM_EV_VISIT, "e-1", 1000, -1);
    clm_deltas d;

    clm_deltas_init(&d);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    /* An event a day and a ms later moves the cutoff to
     * 1000 + 86400001 - 86400000 = 1001 > 1000: e-1 is forgotten. */
    clm_event later = make_event(CLM_EV_VISIT, "e-2", 1000 + 86400001, -1);
    assert_int_equal(clm_customer_apply(c, &later, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->dedup.n, 1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(c->events, 3);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* ---- per-bucket counters ------------------------------------------------- */

static void test_orders_refunds(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    put_money(c, &d, CLM_EV_PURCHASE, at(0, 9, 0), 49900000);
    put_money(c, &d, CLM_EV_PURCHASE, at(0, 18, 0), 100000);
    put_money(c, &d, CLM_EV_REFUND, at(1, 9, 0), 10000000);
    put_money(c, &d, CLM_EV_PURCHASE, at(2, 12, 0), 25000000);

    /* Day 0: 2 orders, 49.9 + 0.1 = 50; the first purchase makes a new
     * customer (+1 customer), the second is a repeat order. */
    assert_int_equal(on_day(&d, D0, CLM_DAY(orders)), 2);
    assert_int_equal(on_day(&d, D0, CLM_DAY(revenue_micros)), 50000000);
    assert_int_equal(on_day(&d, D0, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(customers_delta)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(refunds_micros)), 0);
    /* Day 1: the refund of 10 only. */
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(refunds_micros)), 10000000);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(orders)), 0);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(revenue_micros)), 0);
    /* Day 2: the third purchase, a repeat order, no new customer. */
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(orders)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(revenue_micros)), 25000000);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(new_customers)), 0);
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 1);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 1);

    assert_int_equal(c->orders, 3);
    assert_int_equal(c->revenue_micros, 75000000); /* 49.9 + 0.1 + 25 */
    assert_int_equal(c->refunds_micros, 10000000);
    assert_int_equal(c->first_purchase, at(0, 9, 0));
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_nps_csat(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    static const int32_t nps[] = { 6, 7, 8, 9, 10, 0 };
    clm_deltas d;

    clm_deltas_init(&d);
    for (int i = 0; i < 6; i++)
        put(c, &d, scored(CLM_EV_NPS_RESPONSE, at(0, 10, i), nps[i]));
    /* 9, 10 promoters; 7, 8 passives; 6, 0 detractors. */
    assert_int_equal(on_day(&d, D0, CLM_DAY(nps_promoters)), 2);
    assert_int_equal(on_day(&d, D0, CLM_DAY(nps_passives)), 2);
    assert_int_equal(on_day(&d, D0, CLM_DAY(nps_detractors)), 2);
    assert_int_equal(on_day(&d, D0, CLM_DAY(csat_n)), 0);

    for (int32_t s = 1; s <= 5; s++)
        put(c, &d, scored(CLM_EV_CSAT_RESPONSE, at(1, 10, s), s));
    /* 5 answers, 1 + 2 + 3 + 4 + 5 = 15, satisfied: 4 and 5. */
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(csat_n)), 5);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(csat_sum)), 15);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(csat_satisfied)), 2);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(nps_promoters)), 0);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(nps_detractors)), 0);
    assert_int_equal(total(&d, CLM_DAY(nps_promoters)), 2);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_sessions_upgrades(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_event ev;
    clm_deltas d;

    clm_deltas_init(&d);
    ev = make_event(CLM_EV_SESSION, NULL, at(0, 10, 0), -1);
    ev.has_duration = 1;
    ev.duration_ms = 90000; /* duration_s 90 */
    put(c, &d, ev);
    put_type(c, &d, CLM_EV_SESSION, at(0, 11, 0)); /* no duration */
    ev = make_event(CLM_EV_SESSION, NULL, at(1, 10, 0), -1);
    ev.has_duration = 1;
    ev.duration_ms = 1500; /* duration_s 1.5 */
    put(c, &d, ev);
    put_type(c, &d, CLM_EV_UPGRADE, at(0, 12, 0));
    put_type(c, &d, CLM_EV_UPGRADE, at(0, 13, 0));
    put_type(c, &d, CLM_EV_DOWNGRADE, at(0, 14, 0));
    put_type(c, &d, CLM_EV_SUPPORT_TICKET, at(0, 15, 0));

    /* Day 0: 2 sessions, 90000 ms (the second has none); 2 upgrades, the
     * downgrade and the ticket count nothing. Day 1: 1 session of 1500 ms. */
    assert_int_equal(on_day(&d, D0, CLM_DAY(sessions)), 2);
    assert_int_equal(on_day(&d, D0, CLM_DAY(session_ms)), 90000);
    assert_int_equal(on_day(&d, D0, CLM_DAY(upgrades)), 2);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(sessions)), 1);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(session_ms)), 1500);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(upgrades)), 0);
    /* None of these is a purchase: no order, no customer. */
    assert_int_equal(total(&d, CLM_DAY(orders)), 0);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 0);
    assert_int_equal(total(&d, CLM_DAY(last_active)), 0);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_first_purchase_out_of_order(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    put_type(c, &d, CLM_EV_VISIT, at(0, 8, 0));
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 0); /* a visitor */
    put_money(c, &d, CLM_EV_PURCHASE, at(5, 10, 0), 30000000);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(customers_delta)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(repeat_orders)), 0);

    /* A purchase on day 4 arrives late: it is the first purchase now. Day 5
     * gives its new customer to day 4 and its order becomes a repeat. */
    clm_deltas_reset(&d);
    put_money(c, &d, CLM_EV_PURCHASE, at(4, 10, 0), 20000000);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(new_customers)), -1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(new_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(customers_delta)), -1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(customers_delta)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(repeat_orders)), 0);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(orders)), 1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(revenue_micros)), 20000000);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(orders)), 0);
    assert_int_equal(c->first_purchase, at(4, 10, 0));
    assert_int_equal(c->orders, 2);

    /* A third purchase on day 6 is a plain repeat order. */
    clm_deltas_reset(&d);
    put_money(c, &d, CLM_EV_PURCHASE, at(6, 10, 0), 1000000);
    assert_int_equal(on_day(&d, D0 + 6, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(total(&d, CLM_DAY(new_customers)), 0);
    assert_int_equal(total(&d, CLM_DAY(customers_delta)), 0);
    assert_int_equal(c->first_purchase, at(4, 10, 0));
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_new_leads(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    put_type(c, &d, CLM_EV_SIGNUP, at(0, 10, 0));
    assert_int_equal(on_day(&d, D0, CLM_DAY(new_leads)), 1);
    assert_int_equal(c->first_signup, at(0, 10, 0));
    /* A second, later signup counts nothing. */
    clm_deltas_reset(&d);
    put_type(c, &d, CLM_EV_SIGNUP, at(3, 10, 0));
    assert_int_equal(total(&d, CLM_DAY(new_leads)), 0);
    assert_int_equal(total(&d, CLM_DAY(leads_converted)), 0);
    assert_int_equal(c->first_signup, at(0, 10, 0));
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_leads_converted(void **state)
{
    (void)state;
    clm_customer *a = clm_customer_new("c-a", 3, 0);
    clm_customer *b = clm_customer_new("c-b", 3, 0);
    clm_customer *n = clm_customer_new("c-n", 3, 0);
    clm_deltas d;

    /* Signup on day 0, purchase on day 2: converted, on the signup's day. */
    clm_deltas_init(&d);
    put_type(a, &d, CLM_EV_SIGNUP, at(0, 10, 0));
    put_money(a, &d, CLM_EV_PURCHASE, at(2, 10, 0), 5000000);
    assert_int_equal(on_day(&d, D0, CLM_DAY(leads_converted)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(leads_converted)), 0);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(new_customers)), 1);

    /* Purchase on day 0, signup on day 2: the lead is converted on day 2. */
    clm_deltas_reset(&d);
    put_money(b, &d, CLM_EV_PURCHASE, at(0, 10, 0), 5000000);
    assert_int_equal(total(&d, CLM_DAY(leads_converted)), 0);
    put_type(b, &d, CLM_EV_SIGNUP, at(2, 10, 0));
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(new_leads)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(leads_converted)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(leads_converted)), 0);

    /* No signup at all: a customer, not a converted lead. */
    clm_deltas_reset(&d);
    put_money(n, &d, CLM_EV_PURCHASE, at(0, 10, 0), 5000000);
    assert_int_equal(total(&d, CLM_DAY(leads_converted)), 0);
    assert_int_equal(total(&d, CLM_DAY(new_leads)), 0);
    clm_deltas_release(&d);
    clm_customer_free(n);
    clm_customer_free(b);
    clm_customer_free(a);
}

static void test_first_signup_out_of_order(void **state)
{
    (void)state;
    clm_customer *a = clm_customer_new("c-a", 3, 0);
    clm_customer *b = clm_customer_new("c-b", 3, 0);
    clm_deltas d;

    /* A lead without purchase: signup day 5, a late signup dated day 3
     * moves the new lead from day 5 to day 3. */
    clm_deltas_init(&d);
    put_type(a, &d, CLM_EV_SIGNUP, at(5, 10, 0));
    clm_deltas_reset(&d);
    put_type(a, &d, CLM_EV_SIGNUP, at(3, 10, 0));
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(new_leads)), -1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(new_leads)), 1);
    assert_int_equal(total(&d, CLM_DAY(leads_converted)), 0);
    assert_int_equal(a->first_signup, at(3, 10, 0));

    /* A converted lead: signup day 5, purchase day 6 (converted on day 5);
     * the late day-3 signup moves both the lead and the conversion. */
    clm_deltas_reset(&d);
    put_type(b, &d, CLM_EV_SIGNUP, at(5, 10, 0));
    put_money(b, &d, CLM_EV_PURCHASE, at(6, 10, 0), 5000000);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(leads_converted)), 1);
    clm_deltas_reset(&d);
    put_type(b, &d, CLM_EV_SIGNUP, at(3, 10, 0));
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(new_leads)), -1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(new_leads)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(leads_converted)), -1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(leads_converted)), 1);
    assert_int_equal(b->first_signup, at(3, 10, 0));
    clm_deltas_release(&d);
    clm_customer_free(b);
    clm_customer_free(a);
}

static void test_lead_contacted(void **state)
{
    (void)state;
    clm_customer *a = clm_customer_new("c-a", 3, 0);
    clm_customer *b = clm_customer_new("c-b", 3, 0);
    clm_deltas d;

    /* Signup 10:00, contact 14:30 the same day: 4.5 h = 4 * 3600000 +
     * 30 * 60000 = 16200000 ms. */
    clm_deltas_init(&d);
    put_type(a, &d, CLM_EV_SIGNUP, at(0, 10, 0));
    put_type(a, &d, CLM_EV_LEAD_CONTACTED, at(0, 14, 30));
    assert_int_equal(on_day(&d, D0, CLM_DAY(leads_contacted)), 1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(lead_response_ms_sum)), 16200000);
    assert_int_equal(a->lead_contact, at(0, 14, 30));
    /* Only the first contact counts. */
    clm_deltas_reset(&d);
    put_type(a, &d, CLM_EV_LEAD_CONTACTED, at(1, 9, 0));
    assert_int_equal(total(&d, CLM_DAY(leads_contacted)), 0);
    assert_int_equal(total(&d, CLM_DAY(lead_response_ms_sum)), 0);

    /* A contact before the signup (by event time) never counts; the first
     * contact after the signup counts on its own day (day 2), 2 days after
     * the signup: 172800000 ms. */
    clm_deltas_reset(&d);
    put_type(b, &d, CLM_EV_LEAD_CONTACTED, at(0, 9, 0));
    assert_int_equal(total(&d, CLM_DAY(leads_contacted)), 0);
    assert_int_equal(b->lead_contact, CLM_NO_TS);
    put_type(b, &d, CLM_EV_SIGNUP, at(0, 10, 0));
    put_type(b, &d, CLM_EV_LEAD_CONTACTED, at(2, 10, 0));
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(leads_contacted)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(lead_response_ms_sum)), 172800000);
    assert_int_equal(on_day(&d, D0, CLM_DAY(leads_contacted)), 0);
    clm_deltas_release(&d);
    clm_customer_free(b);
    clm_customer_free(a);
}

static void test_active_customers(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    /* Three events on day 5: one active customer. */
    put_type(c, &d, CLM_EV_VISIT, at(5, 8, 0));
    put_type(c, &d, CLM_EV_LOGIN, at(5, 12, 0));
    put_type(c, &d, CLM_EV_VISIT, at(5, 20, 0));
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(active_customers)), 1);
    /* One on day 6: one there too. */
    put_type(c, &d, CLM_EV_VISIT, at(6, 9, 0));
    assert_int_equal(on_day(&d, D0 + 6, CLM_DAY(active_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(active_customers)), 1);
    /* A late event on day 5, already active: nothing more. */
    clm_deltas_reset(&d);
    put_type(c, &d, CLM_EV_VISIT, at(5, 23, 0));
    assert_int_equal(total(&d, CLM_DAY(active_customers)), 0);
    /* A late event on day 3, not yet active: counts there. */
    put_type(c, &d, CLM_EV_VISIT, at(3, 9, 0));
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(active_customers)), 1);
    assert_int_equal(total(&d, CLM_DAY(active_customers)), 1);
    /* Latest active day 6; bits: day 6 (bit 0), 5 (bit 1), 3 (bit 3) = 0xb. */
    assert_int_equal(c->active_bucket, D0 + 6);
    assert_true(c->active_bits == 0xb);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

static void test_last_active(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_customer *late = clm_customer_new("c-2", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    /* A visitor active on days 1 and 2 is not a customer: no last_active. */
    put_type(c, &d, CLM_EV_VISIT, at(1, 10, 0));
    put_type(c, &d, CLM_EV_VISIT, at(2, 10, 0));
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(active_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(active_customers)), 1);
    assert_int_equal(total(&d, CLM_DAY(last_active)), 0);
    /* The first purchase (day 3) starts it on day 3. */
    clm_deltas_reset(&d);
    put_money(c, &d, CLM_EV_PURCHASE, at(3, 10, 0), 1000000);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(last_active)), 1);
    assert_int_equal(total(&d, CLM_DAY(last_active)), 1);
    /* Activity on day 5 moves it from day 3 to day 5. */
    clm_deltas_reset(&d);
    put_type(c, &d, CLM_EV_VISIT, at(5, 10, 0));
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(last_active)), -1);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(last_active)), 1);
    /* A late event on day 4 or more on day 5 leave it. */
    clm_deltas_reset(&d);
    put_type(c, &d, CLM_EV_VISIT, at(4, 10, 0));
    put_type(c, &d, CLM_EV_VISIT, at(5, 22, 0));
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(active_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 4, CLM_DAY(last_active)), 0);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(last_active)), 0);
    assert_int_equal(total(&d, CLM_DAY(last_active)), 0);

    /* Active on day 5, then a late first purchase dated day 3: the customer
     * is counted on its latest active day, 5. */
    clm_deltas_reset(&d);
    put_type(late, &d, CLM_EV_VISIT, at(5, 10, 0));
    put_money(late, &d, CLM_EV_PURCHASE, at(3, 10, 0), 1000000);
    assert_int_equal(on_day(&d, D0 + 5, CLM_DAY(last_active)), 1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(last_active)), 0);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(active_customers)), 1);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(new_customers)), 1);
    clm_deltas_release(&d);
    clm_customer_free(late);
    clm_customer_free(c);
}

/* Ten purchases and ten refunds of the largest amount (10^12 = 10^18
 * micro-units): the sums stop at INT64_MAX instead of wrapping negative, the
 * clv rate too, and so do the day's and the portfolio's deltas. Two
 * customers' rates together saturate the portfolio delta. */
static void test_money_saturates(void **state)
{
    (void)state;
    const int64_t max = CLM_AMOUNT_MAX_MICROS;
    clm_customer *c = clm_customer_new("c-1", 3, 7), *c2 = clm_customer_new("c-2", 3, 7);
    clm_deltas d;

    assert_non_null(c);
    assert_non_null(c2);
    clm_deltas_init(&d);
    put_money(c, &d, CLM_EV_PURCHASE, at(0, 10, 0), max);
    put_money(c, &d, CLM_EV_PURCHASE, at(0, 11, 0), max);
    assert_int_equal(c->revenue_micros, 2 * max);
    /* 2e18 over the 30-day floor of tenure: 2e18 x 365 / 30, past int64 */
    assert_int_equal(c->clv_rate_micros, INT64_MAX);
    assert_int_equal(d.value_rate_micros, INT64_MAX);
    for (int i = 2; i < 10; i++)
        put_money(c, &d, CLM_EV_PURCHASE, at(0, 12, i), max);
    assert_int_equal(c->orders, 10);
    assert_int_equal(c->revenue_micros, INT64_MAX);
    assert_int_equal(on_day(&d, D0, CLM_DAY(revenue_micros)), INT64_MAX);
    assert_int_equal(c->clv_rate_micros, INT64_MAX);
    for (int i = 0; i < 10; i++)
        put_money(c, &d, CLM_EV_REFUND, at(0, 13, i), max);
    assert_int_equal(c->refunds_micros, INT64_MAX);
    assert_int_equal(on_day(&d, D0, CLM_DAY(refunds_micros)), INT64_MAX);
    put_money(c2, &d, CLM_EV_PURCHASE, at(0, 10, 0), max);
    assert_int_equal(c2->clv_rate_micros, INT64_MAX); /* 10^18 x 365 / 30 */
    assert_int_equal(d.value_rate_micros, INT64_MAX);
    clm_deltas_release(&d);
    clm_customer_free(c2);
    clm_customer_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money_saturates),
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_day_numbers),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_dedup_disabled),
        cmocka_unit_test(test_dedup_horizon),
        cmocka_unit_test(test_orders_refunds),
        cmocka_unit_test(test_nps_csat),
        cmocka_unit_test(test_sessions_upgrades),
        cmocka_unit_test(test_first_purchase_out_of_order),
        cmocka_unit_test(test_new_leads),
        cmocka_unit_test(test_leads_converted),
        cmocka_unit_test(test_first_signup_out_of_order),
        cmocka_unit_test(test_lead_contacted),
        cmocka_unit_test(test_active_customers),
        cmocka_unit_test(test_last_active),
    };
    return cmocka_run_group_tests_name("customer", tests, NULL, NULL);
}
