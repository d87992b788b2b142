/* tests/test-kpi.c - rolling KPIs, time buckets and the day-counter field
 * table (core/kpi.c, core/daycount.c). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/daycount.h"
#include "core/kpi.h"
#include "core/timeutil.h"

/* 2026-01-01 is day 20454 (test-timeutil.c); + 31 (Jan) + 28 (Feb) = 20513. */
#define MAR1 INT64_C(20513)
#define MAR(d) (MAR1 + (d) - 1)
#define NDAYS 10 /* the test arrays hold 2026-03-01 .. 2026-03-10 */

/* Index into days[] of 2026-03-d. */
#define I(d) ((d) - 1)

/* What clm_kpi_window emitted, in order. */
typedef struct emitted {
    char field[64][CLM_KPI_FIELD_MAX + 1];
    char value[64][64];
    size_t n;
    size_t stop_after; /* 0: never stop */
} emitted;

static int collect(void *ctx, const char *field, const char *value)
{
    emitted *e = ctx;

    assert_true(e->n < 64);
    assert_true(strlen(field) <= CLM_KPI_FIELD_MAX);
    assert_true(strlen(value) < 64);
    strcpy(e->field[e->n], field);
    strcpy(e->value[e->n], value);
    e->n++;
    if (e->stop_after && e->n == e->stop_after)
        return -ECANCELED;
    return 1; /* non-negative returns continue */
}

/* The value emitted for field, or NULL when it is absent. */
static const char *get(const emitted *e, const char *field)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->field[i], field) == 0)
            return e->value[i];
    return NULL;
}

/* Input over days[NDAYS] (2026-03-01 ..), ending 2026-03-10, no stages,
 * clv cap 10 years, margin 0.5, longest window 30, no value rate. */
static clm_kpi_input input_of(const clm_daycount *days)
{
    return (clm_kpi_input){
        .days = days, .ndays = NDAYS, .first_day = MAR1, .eod_before_first = 0,
        .end_day = MAR(10), .clv_max_years = 10.0, .gross_margin = 0.5,
        .longest_window_days = 30,
    };
}

static emitted run(const clm_kpi_input *in, int window_days)
{
    emitted e = { .n = 0 };

    assert_int_equal(clm_kpi_window(in, window_days, collect, &e), 0);
    return e;
}

/* The field table: every fixed member, in struct order, named as in C. */
static void test_daycount_fields(void **state)
{
    (void)state;
    static const char *const want[] = {
        "new_leads", "new_customers", "orders", "revenue_micros", "refunds_micros",
        "spend_micros", "nps_promoters", "nps_passives", "nps_detractors", "csat_n",
        "csat_sum", "csat_satisfied", "sessions", "session_ms", "churned", "reactivated",
        "leads_contacted", "lead_response_ms_sum", "upgrades", "repeat_orders",
        "active_customers", "last_active", "customers_delta", "leads_converted",
        "current_last_active", "current_since",
    };

    assert_int_equal(clm_daycount_nfields, 26);
    for (size_t i = 0; i < clm_daycount_nfields; i++) {
        assert_string_equal(clm_daycount_fields[i].name, want[i]);
        /* Members are consecutive int64s: field i sits at 8 x i. */
        assert_int_equal(clm_daycount_fields[i].offset, i * sizeof(int64_t));
    }
    assert_int_equal(clm_daycount_fields[3].offset, offsetof(clm_daycount, revenue_micros));
    assert_int_equal(clm_daycount_fields[22].offset, offsetof(clm_daycount, customers_delta));
    /* 26 x 8 = 208: the last row ends where entered[] begins. */
    assert_int_equal(offsetof(clm_daycount, entered), 208);
}

static void test_window_bounds(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    assert_int_equal(clm_days_from_civil(2026, 3, 10), MAR(10));
    /* 7 days ending 2026-03-10: 03-04 .. 03-10. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "window_start"), "2026-03-04");
    assert_string_equal(get(&e, "window_end"), "2026-03-10");
    /* 30 days: 10 in March + 20 in February (28 - 20 + 1 = 9): 02-09 .. 03-10. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "window_start"), "2026-02-09");
    /* 90 days: 10 (Mar) + 28 (Feb) + 31 (Jan) = 69, 21 more in December: 12-11. */
    e = run(&in, 90);
    assert_string_equal(get(&e, "window_start"), "2025-12-11");
    e = run(&in, 1);
    assert_string_equal(get(&e, "window_start"), "2026-03-10");
    assert_string_equal(get(&e, "window_end"), "2026-03-10");
}

/* No events at all: only the always-present fields, in order; every ratio
 * has a zero denominator, S = E = 0, so churn_rate, retention_rate and
 * clv_pred_avg are absent and the lifetime is the cap. */
static void test_empty_window(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    static const char *const want[][2] = {
        { "window_start", "2026-03-04" }, { "window_end", "2026-03-10" },
        { "revenue", "0" }, { "orders", "0" }, { "new_customers", "0" }, { "churned", "0" },
        { "clv_lifetime_years", "10" },
    };
    emitted e = run(&in, 7);

    assert_int_equal(e.n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(e.field[i], want[i][0]);
        assert_string_equal(e.value[i], want[i][1]);
    }
    /* No array at all reads the same. */
    in.days = NULL;
    in.ndays = 0;
    e = run(&in, 7);
    assert_int_equal(e.n, 7);
    assert_string_equal(get(&e, "clv_lifetime_years"), "10");
}

/* Every field, once each, in the documented order. */
static void test_field_order(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    static const char *const names[] = { "awareness", "acquisition" };
    static const int index[] = { 1, 2 };
    clm_kpi_input in = input_of(days);
    static const char *const want[] = {
        "window_start", "window_end", "revenue", "orders", "new_customers", "churned",
        "aov", "cpa", "nps", "csat", "csat_mean", "churn_rate", "retention_rate",
        "lead_to_customer", "conv_awareness_acquisition", "lead_response_s",
        "avg_engagement_s", "upsell_rate", "repeat_purchase_rate", "clv_lifetime_years",
        "clv_pred_avg",
    };
    clm_daycount *d = &days[I(10)];
    emitted e;

    in.ordinary_stage_names = names;
    in.ordinary_stage_index = index;
    in.nordinary = 2;
    in.eod_before_first = 1;
    d->orders = d->new_customers = d->nps_passives = d->csat_n = d->new_leads = 1;
    d->leads_contacted = d->sessions = d->last_active = d->entered[1] = 1;
    in.customers_total = 1;
    e = run(&in, 7);
    assert_int_equal(e.n, 21);
    for (size_t i = 0; i < 21; i++)
        assert_string_equal(e.field[i], want[i]);
}

static void test_nps(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(4)].nps_promoters = 3;
    days[I(4)].nps_passives = 2;
    days[I(9)].nps_promoters = 1;
    days[I(9)].nps_detractors = 1;
    days[I(3)].nps_detractors = 5; /* before the 7-day window */
    /* 7d (03-04 .. 03-10): promoters 3+1, passives 2, detractors 1
     * -> 100 x (4 - 1) / 7 = 42.857142.. -> 4 decimals 42.8571. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "nps"), "42.8571");
    /* 30d adds 03-03: detractors 1+5 -> 100 x (4 - 6) / 12 = -16.66666.. -> -16.6667. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "nps"), "-16.6667");
    /* 1d (03-10): no responses -> absent. */
    e = run(&in, 1);
    assert_null(get(&e, "nps"));
}

/* Exact ties round half away from zero (not to even, as binary floating
 * point printing would). */
static void test_nps_rounding(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    /* 100 x (1 - 0) / 128 = 0.78125 exactly -> 0.7813. */
    days[I(10)].nps_promoters = 1;
    days[I(10)].nps_passives = 127;
    e = run(&in, 1);
    assert_string_equal(get(&e, "nps"), "0.7813");
    /* 100 x (0 - 1) / 128 = -0.78125 -> -0.7813. */
    days[I(10)].nps_promoters = 0;
    days[I(10)].nps_detractors = 1;
    e = run(&in, 1);
    assert_string_equal(get(&e, "nps"), "-0.7813");
    /* Promoters = detractors: 0, never "-0". */
    days[I(10)].nps_promoters = 1;
    e = run(&in, 1);
    assert_string_equal(get(&e, "nps"), "0");
    /* All promoters: 100 x 4 / 4 = 100, no decimals. */
    days[I(10)] = (clm_daycount){ .nps_promoters = 4 };
    e = run(&in, 1);
    assert_string_equal(get(&e, "nps"), "100");
}

static void test_csat(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(5)] = (clm_daycount){ .csat_n = 3, .csat_sum = 13, .csat_satisfied = 2 };
    days[I(8)] = (clm_daycount){ .csat_n = 5, .csat_sum = 18, .csat_satisfied = 3 };
    /* 7d: satisfied 2+3 of 3+5 -> 100 x 5 / 8 = 62.5; mean (13+18) / 8 = 3.875. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "csat"), "62.5");
    assert_string_equal(get(&e, "csat_mean"), "3.875");
    /* 2d (03-09 .. 03-10): no responses -> both absent. */
    e = run(&in, 2);
    assert_null(get(&e, "csat"));
    assert_null(get(&e, "csat_mean"));
    /* 3d (03-08 ..): 100 x 3 / 5 = 60; mean 18 / 5 = 3.6. */
    e = run(&in, 3);
    assert_string_equal(get(&e, "csat"), "60");
    assert_string_equal(get(&e, "csat_mean"), "3.6");
}

static void test_revenue_orders_aov(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(5)] = (clm_daycount){ .orders = 1, .revenue_micros = 49900000 };
    days[I(9)] = (clm_daycount){ .orders = 2, .revenue_micros = 100200000 };
    days[I(10)] = (clm_daycount){ .refunds_micros = 30000000 }; /* no order */
    /* 7d: revenue 49.9 + 100.2 = 150.1 over 3 orders; aov = 150.1 / 3 =
     * 50.0333333.. -> 50033333 micro-units (the 0.33 rounds down). */
    e = run(&in, 7);
    assert_string_equal(get(&e, "revenue"), "150.1");
    assert_string_equal(get(&e, "orders"), "3");
    assert_string_equal(get(&e, "aov"), "50.033333");
    /* 03-10 alone: no orders -> aov absent, revenue and orders 0. */
    e = run(&in, 1);
    assert_string_equal(get(&e, "revenue"), "0");
    assert_string_equal(get(&e, "orders"), "0");
    assert_null(get(&e, "aov"));
}

static void test_cpa_new_customers(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(2)] = (clm_daycount){ .spend_micros = 500000000 }; /* before the 7-day window */
    days[I(6)] = (clm_daycount){ .spend_micros = 200000000, .new_customers = 2 };
    days[I(7)] = (clm_daycount){ .new_customers = 1 };
    /* 7d: spend 200 / 3 new customers = 66.6666666.. -> 66.666667. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "new_customers"), "3");
    assert_string_equal(get(&e, "cpa"), "66.666667");
    /* 30d: (500 + 200) / 3 = 233.333333. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "cpa"), "233.333333");
    /* 03-10 alone: spend 0 and no new customers -> absent. */
    e = run(&in, 1);
    assert_string_equal(get(&e, "new_customers"), "0");
    assert_null(get(&e, "cpa"));
}

/* customers_eod with eod_before_first = 100 and these deltas:
 *   03-01 +10 (10 new)   -> 110
 *   03-02                -> 110 (carried)
 *   03-03 -5 (5 churned) -> 105
 *   03-04 -3 (3 churned) -> 102
 *   03-05                -> 102
 *   03-06 +4 (4 new)     -> 106
 *   03-07                -> 106
 *   03-08 +1 (1 back)    -> 107
 *   03-09, 03-10         -> 107 */
static void churn_days(clm_daycount *days)
{
    memset(days, 0, NDAYS * sizeof(*days));
    days[I(1)] = (clm_daycount){ .new_customers = 10, .customers_delta = 10 };
    days[I(3)] = (clm_daycount){ .churned = 5, .customers_delta = -5 };
    days[I(4)] = (clm_daycount){ .churned = 3, .customers_delta = -3 };
    days[I(6)] = (clm_daycount){ .new_customers = 4, .customers_delta = 4 };
    days[I(8)] = (clm_daycount){ .reactivated = 1, .customers_delta = 1 };
    /* The 107 current customers at the end (with 100 before 03-01): 92 of
     * the 100 stayed (5 churned 03-03, 3 on 03-04), one of those 3 came back
     * on 03-08, 10 joined on 03-01 and 4 on 03-06. Their spells began on
     * 03-01 (10), 03-06 (4), 03-08 (1), before 03-01 (92). Their latest
     * activity: of the 92, 50 on 03-10, 20 on 03-05, 22 before 03-01; of the
     * 10, 6 on 03-09 and 4 on 03-02; the 4 on 03-06; the returner on 03-08. */
    days[I(1)].current_since = 10;
    days[I(6)].current_since = 4;
    days[I(8)].current_since = 1;
    days[I(2)].current_last_active = 4;
    days[I(5)].current_last_active = 20;
    days[I(6)].current_last_active = 4;
    days[I(8)].current_last_active = 1;
    days[I(9)].current_last_active = 6;
    days[I(10)].current_last_active = 50;
}

static void test_eod_carry(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    int64_t v = -1;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    assert_int_equal(clm_kpi_eod(&in, MAR1 - 20, &v), 0);
    assert_int_equal(v, 100); /* before the array */
    assert_int_equal(clm_kpi_eod(&in, MAR1 - 1, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(clm_kpi_eod(&in, MAR(1), &v), 0);
    assert_int_equal(v, 110);
    assert_int_equal(clm_kpi_eod(&in, MAR(2), &v), 0);
    assert_int_equal(v, 110);
    assert_int_equal(clm_kpi_eod(&in, MAR(3), &v), 0);
    assert_int_equal(v, 105);
    assert_int_equal(clm_kpi_eod(&in, MAR(4), &v), 0);
    assert_int_equal(v, 102);
    assert_int_equal(clm_kpi_eod(&in, MAR(5), &v), 0);
    assert_int_equal(v, 102);
    assert_int_equal(clm_kpi_eod(&in, MAR(7), &v), 0);
    assert_int_equal(v, 106);
    assert_int_equal(clm_kpi_eod(&in, MAR(10), &v), 0);
    assert_int_equal(v, 107);
    assert_int_equal(clm_kpi_eod(&in, MAR(10) + 40, &v), 0);
    assert_int_equal(v, 107); /* past the array: carried */

    /* A window ending after the array: E = 107 carried to 03-15; 7 days
     * 03-09 .. 03-15 hold nothing, S = eod(03-08) = 107 -> churn 0 / 107 = 0,
     * retention (6 + 50 active - 0 new spells) / 107 = 0.5233644.. ->
     * 0.523364. */
    in.end_day = MAR(15);
    emitted e = run(&in, 7);
    assert_string_equal(get(&e, "window_start"), "2026-03-09");
    assert_string_equal(get(&e, "churn_rate"), "0");
    assert_string_equal(get(&e, "retention_rate"), "0.523364");

    /* The array's last day counts in both: 2 orders on 03-10 are in the
     * window 03-09 .. 03-15, and a +1 on 03-10 carries: 107 + 1 = 108. */
    days[I(10)].orders = 2;
    days[I(10)].customers_delta = 1;
    e = run(&in, 7);
    assert_string_equal(get(&e, "orders"), "2");
    assert_int_equal(clm_kpi_eod(&in, MAR(15), &v), 0);
    assert_int_equal(v, 108);
}

static void test_churn_retention(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    emitted e;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    /* 7d (03-04 .. 03-10): S = eod(03-03) = 105 (not eod(03-04) = 102),
     * churned 3 -> 3 / 105 = 0.0285714.. -> 0.028571. Retention: current
     * and last active in the window 20 + 4 + 1 + 6 + 50 = 81, less the
     * spells begun in it 4 + 1 = 5: 76 / 105 = 0.7238095.. -> 0.72381.
     * (By hand: of the 105 current at the start, 95 old and 10 new, 3
     * churned in the window, leaving 92 + 10 = 102; of those, 50 + 20 old
     * and 6 new were active: 76. The returner churned in the window, so it
     * is not retained, though current at both ends.) Under the old formula
     * (E - new - reactivated) / S it was 0.971429, 1 - churn_rate. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "churned"), "3");
    assert_string_equal(get(&e, "new_customers"), "4");
    assert_string_equal(get(&e, "churn_rate"), "0.028571");
    assert_string_equal(get(&e, "retention_rate"), "0.72381");
    /* 2d (03-09 .. 03-10): S = eod(03-08) = 107, no churn -> 0; retention
     * (6 + 50 - 0) / 107 = 0.5233644.. -> 0.523364: the others were quiet. */
    e = run(&in, 2);
    assert_string_equal(get(&e, "churn_rate"), "0");
    assert_string_equal(get(&e, "retention_rate"), "0.523364");
    /* 10d (03-01 .. 03-10), exactly the data: S = eod(02-28) = 100 (not
     * eod(03-01) = 110), churned 5 + 3 = 8 -> 0.08; retention (85 - 15) /
     * 100 = 0.7: the 92 old customers who stayed, less the 22 quiet ones. */
    e = run(&in, 10);
    assert_string_equal(get(&e, "window_start"), "2026-03-01");
    assert_string_equal(get(&e, "churn_rate"), "0.08");
    assert_string_equal(get(&e, "retention_rate"), "0.7");
}

/* A window longer than the data: 30d (02-09 .. 03-10) starts before the
 * array, so S = eod(02-08) = eod_before_first. */
static void test_window_longer_than_data(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    emitted e;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    /* churned 5 + 3 = 8 -> 8 / 100 = 0.08; retention as over 10 days
     * (85 - 15) / 100 = 0.7: days before the array count as zero. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "window_start"), "2026-02-09");
    assert_string_equal(get(&e, "churned"), "8");
    assert_string_equal(get(&e, "new_customers"), "14");
    assert_string_equal(get(&e, "churn_rate"), "0.08");
    assert_string_equal(get(&e, "retention_rate"), "0.7");
    /* No customers before the data: S = 0 -> both absent. */
    in.eod_before_first = 0;
    e = run(&in, 30);
    assert_null(get(&e, "churn_rate"));
    assert_null(get(&e, "retention_rate"));
    assert_string_equal(get(&e, "churned"), "8");
}

static void test_lead_to_customer(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(2)] = (clm_daycount){ .new_leads = 4, .leads_converted = 4 }; /* outside 7d */
    days[I(6)] = (clm_daycount){ .new_leads = 5, .leads_converted = 2 };
    days[I(9)] = (clm_daycount){ .new_leads = 3, .leads_converted = 1 };
    /* 7d: (2 + 1) / (5 + 3) = 0.375; the 03-02 cohort is not in it. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "lead_to_customer"), "0.375");
    /* 30d: (4 + 2 + 1) / (4 + 5 + 3) = 7 / 12 = 0.58333.. -> 0.583333. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "lead_to_customer"), "0.583333");
    /* 03-10 alone: no new leads -> absent. */
    e = run(&in, 1);
    assert_null(get(&e, "lead_to_customer"));
}

/* Stage model: ordinary ranks 0, 1, 2 = awareness (stage index 1),
 * acquisition (2), onboarding (4); index 0 is some special stage. */
static void test_conversion(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    static const char *const names[] = { "awareness", "acquisition", "onboarding" };
    static const int index[] = { 1, 2, 4 };
    clm_kpi_input in = input_of(days);
    emitted e;

    in.ordinary_stage_names = names;
    in.ordinary_stage_index = index;
    in.nordinary = 3;
    /* 03-02: 10 enter awareness; 9 of them reach acquisition on 03-05,
     * counted in advanced[0] of 03-02 (their awareness day). */
    days[I(2)].entered[1] = 10;
    days[I(2)].advanced[0] = 9;
    /* 03-05: 4 enter awareness (1 goes on), 9 enter acquisition (3 go on). */
    days[I(5)].entered[1] = 4;
    days[I(5)].advanced[0] = 1;
    days[I(5)].entered[2] = 9;
    days[I(5)].advanced[1] = 3;
    days[I(5)].entered[0] = 1000; /* not an ordinary stage: never a denominator */
    /* 03-08: 1 more enters acquisition. */
    days[I(8)].entered[2] = 1;
    /* 7d: awareness -> acquisition 1 / 4 = 0.25 (counting acquisitions by
     * their own day would give 9 / 4 > 1); acquisition -> onboarding
     * 3 / (9 + 1) = 0.3; onboarding is last: no pair. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "conv_awareness_acquisition"), "0.25");
    assert_string_equal(get(&e, "conv_acquisition_onboarding"), "0.3");
    size_t nconv = 0;
    for (size_t i = 0; i < e.n; i++)
        nconv += strncmp(e.field[i], "conv_", 5) == 0;
    assert_int_equal(nconv, 2);
    /* 30d: (9 + 1) / (10 + 4) = 0.7142857.. -> 0.714286. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "conv_awareness_acquisition"), "0.714286");
    /* 03-10 alone: nobody entered -> both absent. */
    e = run(&in, 1);
    assert_null(get(&e, "conv_awareness_acquisition"));
    assert_null(get(&e, "conv_acquisition_onboarding"));
    /* Every share over a window is <= 1 as advanced <= entered per day. */
    for (int w = 1; w <= 30; w++) {
        e = run(&in, w);
        for (size_t i = 0; i < e.n; i++)
            if (strncmp(e.field[i], "conv_", 5) == 0)
                assert_true(strtod(e.value[i], NULL) <= 1.0);
    }
}

static void test_lead_response(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(6)] = (clm_daycount){ .leads_contacted = 2, .lead_response_ms_sum = 4000 };
    days[I(7)] = (clm_daycount){ .leads_contacted = 1, .lead_response_ms_sum = 6000 };
    days[I(10)] = (clm_daycount){ .leads_contacted = 2, .lead_response_ms_sum = 5 };
    /* 7d: 10005 ms / 5 contacted / 1000 = 2.001 s. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "lead_response_s"), "2.001");
    /* 03-10: 5 / 2 = 2.5 ms = 0.0025 s, a tie at 3 decimals -> 0.003. */
    e = run(&in, 1);
    assert_string_equal(get(&e, "lead_response_s"), "0.003");
    /* 03-08 .. 03-09: nobody contacted -> absent. */
    in.end_day = MAR(9);
    e = run(&in, 2);
    assert_null(get(&e, "lead_response_s"));
}

static void test_avg_engagement(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    days[I(4)] = (clm_daycount){ .sessions = 1, .session_ms = 600000 };
    days[I(9)] = (clm_daycount){ .sessions = 2, .session_ms = 634567 };
    /* 7d: 1234567 ms / 3 sessions = 411522.33 ms -> 411.522 s. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "avg_engagement_s"), "411.522");
    /* 2d: 634567 / 2 = 317283.5 ms -> 317.2835 s, tie -> 317.284. */
    e = run(&in, 2);
    assert_string_equal(get(&e, "avg_engagement_s"), "317.284");
    /* 03-04 alone: 600000 / 1 = 600 s. */
    in.end_day = MAR(4);
    e = run(&in, 1);
    assert_string_equal(get(&e, "avg_engagement_s"), "600");
    /* 03-05 alone: no sessions -> absent. */
    in.end_day = MAR(5);
    e = run(&in, 1);
    assert_null(get(&e, "avg_engagement_s"));
}

static void test_upsell(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    /* last_active: each customer counted once, on their latest active day. */
    days[I(2)] = (clm_daycount){ .last_active = 12, .repeat_orders = 1, .active_customers = 12 };
    days[I(5)] = (clm_daycount){ .last_active = 8, .active_customers = 15 };
    days[I(6)] = (clm_daycount){ .upgrades = 2, .active_customers = 9 };
    days[I(9)] = (clm_daycount){ .last_active = 12, .repeat_orders = 3, .active_customers = 14 };
    /* 7d: (2 + 3) / (8 + 12) = 0.25 (the sum of active_customers, 38,
     * would count a customer once per active day). */
    e = run(&in, 7);
    assert_string_equal(get(&e, "upsell_rate"), "0.25");
    /* 30d: (1 + 2 + 3) / (12 + 8 + 12) = 6 / 32 = 0.1875. */
    e = run(&in, 30);
    assert_string_equal(get(&e, "upsell_rate"), "0.1875");
    /* 03-10 alone: nobody last active -> absent. */
    e = run(&in, 1);
    assert_null(get(&e, "upsell_rate"));
}

/* Longest window 30 over churn_days: S_30 = 100, churned_30 = 8, E = 107.
 * lifetime = 30 x 100 / (365 x 8) = 3000 / 2920 = 1.0273972.. -> 1.027397.
 * pred = 3000 / 2920 x 0.5 x 2920 (units/year) / 107 = 1500 / 107 =
 * 14.018691588.. -> 14018692 micro-units (107 x 14018691 = 1499999937). */
static void test_clv(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    emitted e;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    in.value_rate_sum_micros = INT64_C(2920000000);
    e = run(&in, 30);
    assert_string_equal(get(&e, "clv_lifetime_years"), "1.027397");
    assert_string_equal(get(&e, "clv_pred_avg"), "14.018692");
    /* The 7-day hash reports the same: clv uses the longest window. */
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_lifetime_years"), "1.027397");
    assert_string_equal(get(&e, "clv_pred_avg"), "14.018692");

    /* Capped at 1 year: pred = 1 x 0.5 x 2920 / 107 = 13.6448598.. ->
     * 13644860 micro-units (107 x 13644859 = 1459999913, remainder 87 > 53.5). */
    in.clv_max_years = 1.0;
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_lifetime_years"), "1");
    assert_string_equal(get(&e, "clv_pred_avg"), "13.64486");
}

static void test_clv_cap_cases(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    emitted e;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    in.value_rate_sum_micros = INT64_C(2920000000);
    in.clv_max_years = 2.5;
    /* Longest window 3 (03-08 .. 03-10): no churn -> the cap, 2.5;
     * pred = 2.5 x 0.5 x 2920 / 107 = 3650 / 107 = 34.1121495.. -> 34.11215. */
    in.longest_window_days = 3;
    e = run(&in, 3);
    assert_string_equal(get(&e, "clv_lifetime_years"), "2.5");
    assert_string_equal(get(&e, "clv_pred_avg"), "34.11215");
    /* Longest window 30 with no customers before it (S_30 = 0, churn_rate
     * absent): the cap as well. E = 0 + 10 - 5 - 3 + 4 + 1 = 7 ->
     * pred = 3650 / 7 = 521.428571428.. -> 521.428571. */
    in.longest_window_days = 30;
    in.eod_before_first = 0;
    e = run(&in, 30);
    assert_null(get(&e, "churn_rate"));
    assert_string_equal(get(&e, "clv_lifetime_years"), "2.5");
    assert_string_equal(get(&e, "clv_pred_avg"), "521.428571");
    /* Longest window 10 (03-01 .. 03-10): S_10 = eod(02-28) = 100 (not
     * eod(03-01) = 110), churned 8 -> lifetime 10 x 100 / (365 x 8) =
     * 1000 / 2920 = 0.34246575.. -> 0.342466, under the cap;
     * pred = 1000 / 2920 x 0.5 x 2920 / 107 = 500 / 107 = 4.6728971.. ->
     * 4672897 micro-units (107 x 4672897 = 499999979, remainder 21). */
    in.longest_window_days = 10;
    in.eod_before_first = 100;
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_lifetime_years"), "0.342466");
    assert_string_equal(get(&e, "clv_pred_avg"), "4.672897");
    in.longest_window_days = 30;
    in.eod_before_first = 0;
    /* Gross margin 0: lifetime unchanged, pred 0. */
    in.gross_margin = 0;
    e = run(&in, 30);
    assert_string_equal(get(&e, "clv_pred_avg"), "0");
    /* E = 0 (no customers at the end) -> pred absent. */
    memset(days, 0, sizeof(days));
    e = run(&in, 30);
    assert_string_equal(get(&e, "clv_lifetime_years"), "2.5");
    assert_null(get(&e, "clv_pred_avg"));
}

/* repeat_purchase_rate: customers with two orders or more over customers,
 * to date, the same in every window. */
static void test_repeat_purchase_rate(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e;

    /* 3 of 7 customers ordered again: 0.4285714.. -> 0.428571 */
    in.customers_total = 7;
    in.repeat_customers_total = 3;
    e = run(&in, 7);
    assert_string_equal(get(&e, "repeat_purchase_rate"), "0.428571");
    e = run(&in, 1);
    assert_string_equal(get(&e, "repeat_purchase_rate"), "0.428571");
    /* 2 of 3: 0.6666666.. -> 0.666667; all: 1 */
    in.customers_total = 3;
    in.repeat_customers_total = 2;
    e = run(&in, 30);
    assert_string_equal(get(&e, "repeat_purchase_rate"), "0.666667");
    in.repeat_customers_total = 3;
    e = run(&in, 30);
    assert_string_equal(get(&e, "repeat_purchase_rate"), "1");
    /* no customer yet: absent */
    in.customers_total = in.repeat_customers_total = 0;
    e = run(&in, 30);
    assert_null(get(&e, "repeat_purchase_rate"));
    in.customers_total = -1;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
}

/* With the stored clv_pred values given, clv_pred_avg is their mean over
 * the current customers, whatever the estimate from the value rate says. */
static void test_clv_pred_mean(void **state)
{
    (void)state;
    clm_daycount days[NDAYS];
    clm_kpi_input in;
    emitted e;

    churn_days(days);
    in = input_of(days);
    in.eod_before_first = 100;
    in.value_rate_sum_micros = INT64_C(2920000000); /* estimate: 14.018692 (test_clv) */
    in.has_pred_sum = true;
    /* three customers holding 1.000001, 2 and 7.000001: 10000002 / 3 =
     * 3333334 micro-units exactly -> 3.333334 */
    in.pred_sum_micros = 10000002;
    in.pred_count = 3;
    e = run(&in, 30);
    assert_string_equal(get(&e, "clv_lifetime_years"), "1.027397"); /* unchanged */
    assert_string_equal(get(&e, "clv_pred_avg"), "3.333334");
    /* 10000001 / 3 = 3333333.67 -> 3333334; 10000000 / 3 = 3333333.33 ->
     * 3333333; 5 / 2 = 2.5 -> 3 (half away from zero) */
    in.pred_sum_micros = 10000001;
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_pred_avg"), "3.333334");
    in.pred_sum_micros = 10000000;
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_pred_avg"), "3.333333");
    in.pred_sum_micros = 5;
    in.pred_count = 2;
    e = run(&in, 7);
    assert_string_equal(get(&e, "clv_pred_avg"), "0.000003");
    /* no current customer held a value: absent, though E = 107 */
    in.pred_sum_micros = 0;
    in.pred_count = 0;
    e = run(&in, 7);
    assert_null(get(&e, "clv_pred_avg"));
    /* a negative count is a caller's mistake */
    in.pred_count = -1;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
}

static void test_rejects(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    static const char *const names[] = { "a", "b" };
    static const int index[] = { 1, 2 };
    static const int bad_index[] = { 1, CLM_STAGES_MAX };
    static const char *const null_name[] = { "a", NULL };
    char long_name[CLM_KPI_FIELD_MAX];
    const char *long_names[] = { long_name, "b" };
    clm_kpi_input ok = input_of(days), in;
    emitted e = { .n = 0 };
    int64_t v = 42;

    assert_int_equal(clm_kpi_window(NULL, 7, collect, &e), -EINVAL);
    assert_int_equal(clm_kpi_window(&ok, 0, collect, &e), -EINVAL);
    assert_int_equal(clm_kpi_window(&ok, 7, NULL, &e), -EINVAL);
    in = ok;
    in.longest_window_days = 0;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in = ok;
    in.clv_max_years = 0;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in.clv_max_years = INFINITY;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in = ok;
    in.gross_margin = -0.25;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in.gross_margin = NAN;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in = ok;
    in.end_day = -1;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in = ok;
    in.days = NULL;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    assert_int_equal(clm_kpi_eod(&in, MAR(1), &v), -EINVAL);
    assert_int_equal(v, 42);
    in = ok;
    in.ordinary_stage_names = names;
    in.ordinary_stage_index = bad_index;
    in.nordinary = 2;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in.ordinary_stage_index = index;
    in.nordinary = CLM_STAGES_MAX + 1;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    in.nordinary = 2;
    in.ordinary_stage_names = null_name;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    /* "conv_" (5) + 121 + "_" + "b" = 128 > CLM_KPI_FIELD_MAX; 120 fits (127). */
    memset(long_name, 'x', 121);
    long_name[121] = '\0';
    in.ordinary_stage_names = long_names;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EINVAL);
    long_name[120] = '\0';
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), 0);
    assert_int_equal(e.n, 7); /* only the successful call emitted */
}

static void test_overflow(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e = { .n = 0 };
    int64_t v = 42;

    days[I(9)].revenue_micros = INT64_MAX;
    days[I(10)].revenue_micros = 1;
    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -EOVERFLOW);
    assert_int_equal(e.n, 0);
    days[I(9)].customers_delta = INT64_MAX;
    days[I(10)].customers_delta = 1;
    assert_int_equal(clm_kpi_eod(&in, MAR(10), &v), -EOVERFLOW);
    assert_int_equal(v, 42);
    assert_int_equal(clm_kpi_eod(&in, MAR(9), &v), 0);
    assert_int_equal(v, INT64_MAX);
}

static void test_emit_stops(void **state)
{
    (void)state;
    clm_daycount days[NDAYS] = { 0 };
    clm_kpi_input in = input_of(days);
    emitted e = { .n = 0, .stop_after = 3 };

    assert_int_equal(clm_kpi_window(&in, 7, collect, &e), -ECANCELED);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.field[2], "revenue");
}

/* 2026-11-22T10:15:00Z = day 20779 (test-timeutil.c) = 1795342500000 ms. */
#define EXAMPLE_MS INT64_C(1795342500000)
#define HOUR_MS INT64_C(3600000)
#define QUARTER_MS INT64_C(900000)

static void test_bucket_check(void **state)
{
    (void)state;
    assert_int_equal(clm_bucket_check(CLM_MS_PER_DAY), 0);
    assert_int_equal(clm_bucket_check(HOUR_MS), 0);
    assert_int_equal(clm_bucket_check(QUARTER_MS), 0);
    assert_int_equal(clm_bucket_check(60000), 0);
    assert_int_equal(clm_bucket_check(0), -EINVAL);
    assert_int_equal(clm_bucket_check(-HOUR_MS), -EINVAL);
    assert_int_equal(clm_bucket_check(59999), -EINVAL);
    assert_int_equal(clm_bucket_check(90000), -EINVAL);  /* 1.5 minutes */
    assert_int_equal(clm_bucket_check(420000), -EINVAL); /* 7 minutes: 1440 / 7 is not whole */
    assert_int_equal(clm_bucket_check(2 * CLM_MS_PER_DAY), -EINVAL);
}

static void test_bucket_index(void **state)
{
    (void)state;
    /* Whole days: the bucket is the day number. */
    assert_int_equal(clm_bucket_of_ms(EXAMPLE_MS, CLM_MS_PER_DAY), 20779);
    assert_int_equal(clm_bucket_day(20779, CLM_MS_PER_DAY), 20779);
    assert_int_equal(clm_bucket_first_of_day(20779, CLM_MS_PER_DAY), 20779);
    assert_int_equal(clm_bucket_last_of_day(20779, CLM_MS_PER_DAY), 20779);
    /* Hours: 1795342500000 / 3600000 = 498706.25 -> 498706; 24 a day:
     * 20779 x 24 = 498696 .. 498719; 498706 / 24 = 20779.4 -> day 20779. */
    assert_int_equal(clm_bucket_of_ms(EXAMPLE_MS, HOUR_MS), 498706);
    assert_int_equal(clm_bucket_day(498706, HOUR_MS), 20779);
    assert_int_equal(clm_bucket_first_of_day(20779, HOUR_MS), 498696);
    assert_int_equal(clm_bucket_last_of_day(20779, HOUR_MS), 498719);
    assert_int_equal(clm_bucket_day(498719, HOUR_MS), 20779);
    assert_int_equal(clm_bucket_day(498720, HOUR_MS), 20780);
    /* Quarter hours: 96 a day, 20779 x 96 = 1994784 .. 1994879. */
    assert_int_equal(clm_bucket_of_ms(EXAMPLE_MS, QUARTER_MS), 1994825);
    assert_int_equal(clm_bucket_first_of_day(20779, QUARTER_MS), 1994784);
    assert_int_equal(clm_bucket_last_of_day(20779, QUARTER_MS), 1994879);
    /* Floor, not truncation, before the epoch. */
    assert_int_equal(clm_bucket_of_ms(-1, HOUR_MS), -1);
    assert_int_equal(clm_bucket_day(-1, HOUR_MS), -1);
}

static void test_bucket_key(void **state)
{
    (void)state;
    char buf[CLM_BUCKET_KEY_SIZE];

    assert_int_equal(clm_bucket_key(20779, CLM_MS_PER_DAY, buf, sizeof(buf)), 10);
    assert_string_equal(buf, "2026-11-22");
    /* 498706 x 3600000 = 1795341600000 = 2026-11-22T10:00. */
    assert_int_equal(clm_bucket_key(498706, HOUR_MS, buf, sizeof(buf)), 16);
    assert_string_equal(buf, "2026-11-22T10:00");
    assert_int_equal(clm_bucket_key(1994825, QUARTER_MS, buf, sizeof(buf)), 16);
    assert_string_equal(buf, "2026-11-22T10:15");
    assert_int_equal(clm_bucket_key(0, 60000, buf, sizeof(buf)), 16);
    assert_string_equal(buf, "1970-01-01T00:00");
    assert_int_equal(clm_bucket_key(20779, CLM_MS_PER_DAY, buf, 10), -ENOSPC);
    assert_int_equal(clm_bucket_key(498706, HOUR_MS, buf, 16), -ENOSPC);
    assert_int_equal(clm_bucket_key(498706, 7 * 60000, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(clm_bucket_key(-1, HOUR_MS, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(clm_bucket_key(INT64_MAX / 1000, HOUR_MS, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daycount_fields),
        cmocka_unit_test(test_window_bounds),
        cmocka_unit_test(test_empty_window),
        cmocka_unit_test(test_field_order),
        cmocka_unit_test(test_nps),
        cmocka_unit_test(test_nps_rounding),
        cmocka_unit_test(test_csat),
        cmocka_unit_test(test_revenue_orders_aov),
        cmocka_unit_test(test_cpa_new_customers),
        cmocka_unit_test(test_eod_carry),
        cmocka_unit_test(test_churn_retention),
        cmocka_unit_test(test_window_longer_than_data),
        cmocka_unit_test(test_lead_to_customer),
        cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_lead_response),
        cmocka_unit_test(test_avg_engagement),
        cmocka_unit_test(test_upsell),
        cmocka_unit_test(test_clv),
        cmocka_unit_test(test_clv_cap_cases),
        cmocka_unit_test(test_clv_pred_mean),
        cmocka_unit_test(test_repeat_purchase_rate),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_emit_stops),
        cmocka_unit_test(test_bucket_check),
        cmocka_unit_test(test_bucket_index),
        cmocka_unit_test(test_bucket_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
