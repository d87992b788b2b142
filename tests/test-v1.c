/* tests/test-v1.c - the v1 customer hash codec (store/v1.h): the text the
 * previous release wrote on <prefix>customer:<id>, field by field, and what
 * loading it back gives; the risk state, repeat-purchase and dedup parts.
 * Streams are dated in UTC days from 2026-01-01 (epoch day 20454) unless a
 * section says otherwise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"
#include "core/stages.h"
#include "core/timeutil.h"
#include "store/v1.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define D0 20454 /* 2026-01-01: 56 * 365 + 14 leap days */

/* One day of dedup horizon, 16 remembered ids; UTC-day buckets, churn after
 * 90 silent days, rates taken over at least 30 days. No stage model. */
static const clm_apply_opts DEDUP_ON = {
    .dedup_horizon_ms = DAY_MS,
    .dedup_max_ids = 16,
    .bucket_ms = DAY_MS,
    .churn_inactive_ms = 90 * DAY_MS,
    .clv_min_tenure_ms = 30 * DAY_MS,
};

/* ---- helpers -------------------------------------------------------------- */

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

static clm_customer *customer(void)
{
    clm_customer *c = clm_customer_new("c-1", 3, 0);

    assert_non_null(c);
    return c;
}

/* Every field of the hash as text, for comparing two customers' states. */
typedef struct field_log {
    char names[40][24];
    char values[40][2048];
    int n;
    int stop_at; /* field index at which the callback fails (-1: never) */
} field_log;

static int log_field(void *ctx, const char *name, const char *value, size_t len)
{
    field_log *l = ctx;

    if (l->n == l->stop_at)
        return -EIO;
    assert_true(l->n < 40);
    assert_true(len < sizeof(l->values[0]));
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
    memcpy(l->values[l->n], value, len);
    l->values[l->n][len] = '\0';
    l->n++;
    return 0;
}

static void emit_all(const clm_customer *c, const clm_stages *stages, field_log *l)
{
    memset(l, 0, sizeof(*l));
    l->stop_at = -1;
    assert_int_equal(clm_v1_customer_emit(c, stages, log_field, l), 0);
}

/* The two customers hold the same state: field by field, and as the hash
 * text (with `stages`, which may be NULL). */
static void assert_same_state(const clm_customer *a, const clm_customer *b,
                              const clm_stages *stages)
{
    field_log la, lb;

    assert_int_equal(a->first_seen, b->first_seen);
    assert_int_equal(a->last_seen, b->last_seen);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->orders, b->orders);
    assert_int_equal(a->revenue_micros, b->revenue_micros);
    assert_int_equal(a->refunds_micros, b->refunds_micros);
    assert_int_equal(a->first_purchase, b->first_purchase);
    assert_int_equal(a->first_signup, b->first_signup);
    assert_int_equal(a->stage_since, b->stage_since);
    assert_int_equal(a->active_bucket, b->active_bucket);
    assert_true(a->active_bits == b->active_bits);
    assert_int_equal(a->clv_rate_micros, b->clv_rate_micros);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->peak, b->peak);
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
    emit_all(a, stages, &la);
    emit_all(b, stages, &lb);
    assert_int_equal(la.n, lb.n);
    for (int i = 0; i < la.n; i++) {
        assert_string_equal(la.names[i], lb.names[i]);
        assert_string_equal(la.values[i], lb.values[i]);
    }
}

/* ---- the customer hash ----------------------------------------------------- */

static void test_customer_emit(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    field_log l;

    emit_all(c, NULL, &l);
    assert_int_equal(l.n, 27);
    static const char *const want[27][2] = {
        { "first_seen", "1000" },
        { "last_seen", "3000" },
        { "events", "3" },
        { "orders", "1" },
        { "revenue", "49.9" }, /* 49900000 micros */
        { "refunds", "10" },   /* 10000000 micros */
        { "clv", "39.9" },     /* 49.9 - 10 */
        /* tenure 3000 - 3000 = 0 is raised to 30 days:
         * 49900000 * 365 / 30 = 18213500000 / 30 = 607116666.67 -> 607116666 */
        { "clv_rate", "607.116666" },
        { "last_type", "purchase" },
        { "first_purchase", "3000" },
        { "first_signup", "" },  /* never signed up */
        { "first_contact", "" }, /* never contacted */
        { "lead_contact", "" },
        /* all three events on day 0: bucket 0, bit 0 */
        { "active", "0:0000000000000001" },
        /* no risk scoring in these options: the initial risk fields */
        { "risk", "0.0000" },
        { "risk_at", "" },
        { "risk_next", "" },
        { "risk_state", "v1 -1 - -1 - -1 -1 0 0 -1 -1 -1,-1,-1,-1,-1,-1,-1,-1 -1 -" },
        { "alert_armed", "1" },
        { "alert_at", "" },
        { "source", "" }, /* applied without a position */
        /* one purchase, on day 0: no repeat day yet */
        { "repeat_days", "0" },
        { "first_purchase_day", "1970-01-01" },
        { "last_purchase_day", "1970-01-01" },
        { "repeat_spend_avg", "0" },
        { "rfm", "0:0:0:0000000000000001:49900000:0" },
        /* XXH3 of e-3, e-2, e-1 (xxhsum -H3), ascending event time. */
        { "dedup", "f7d563a3590f8ad9:1000,d99f0192e8394c6e:2000,3d21bc8729acd985:3000" },
    };
    for (int i = 0; i < 27; i++) {
        assert_string_equal(l.names[i], want[i][0]);
        assert_string_equal(l.values[i], want[i][1]);
    }

    /* A fresh customer: zeros, "other", empty times, no activity, empty dedup. */
    clm_customer *fresh = clm_customer_new("c-2", 3, 0);
    emit_all(fresh, NULL, &l);
    assert_int_equal(l.n, 27);
    assert_string_equal(l.values[0], "0");
    assert_string_equal(l.values[4], "0");
    assert_string_equal(l.values[6], "0");
    assert_string_equal(l.values[7], "0");
    assert_string_equal(l.values[8], "other");
    assert_string_equal(l.values[9], "");
    assert_string_equal(l.values[10], "");
    assert_string_equal(l.values[11], "");
    assert_string_equal(l.values[12], "");
    assert_string_equal(l.values[13], "");
    assert_string_equal(l.values[14], "0.0000");
    assert_string_equal(l.values[26], "");
    clm_customer_free(fresh);

    /* A failing callback stops the walk and its value comes back. */
    memset(&l, 0, sizeof(l));
    l.stop_at = 2;
    assert_int_equal(clm_v1_customer_emit(c, NULL, log_field, &l), -EIO);
    assert_int_equal(l.n, 2);
    l.n = 0;
    l.stop_at = 12; /* the active field */
    assert_int_equal(clm_v1_customer_emit(c, NULL, log_field, &l), -EIO);
    assert_int_equal(l.n, 12);
    l.n = 0;
    l.stop_at = 26; /* the dedup field */
    assert_int_equal(clm_v1_customer_emit(c, NULL, log_field, &l), -EIO);
    assert_int_equal(l.n, 26);
    clm_customer_free(c);
}

static void test_customer_emit_many_ids(void **state)
{
    (void)state;
    /* 100 remembered ids: more than the emitter's 256-byte stack buffer holds. */
    clm_apply_opts o = DEDUP_ON;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_customer *back = clm_customer_new("c-1", 3, 0);
    clm_deltas d;
    char id[16];
    field_log l;

    o.dedup_max_ids = 100;
    clm_deltas_init(&d);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "e-%d", i);
        clm_event ev = make_event(CLM_EV_VISIT, id, i, -1);
        assert_int_equal(clm_customer_apply(c, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    }
    assert_int_equal(c->dedup.n, 100);
    emit_all(c, NULL, &l);
    assert_string_equal(l.names[26], "dedup");
    /* "<16 hex>:<ts>": ts 0..9 gives 18 chars, ts 10..99 gives 19; plus 99 commas:
     * 10 * 18 + 90 * 19 + 99 = 180 + 1710 + 99 = 1989. */
    assert_int_equal(strlen(l.values[26]), 1989);
    for (int i = 0; i < l.n; i++)
        assert_int_equal(clm_v1_customer_load_field(back, NULL, l.names[i], strlen(l.names[i]),
                                                 l.values[i], strlen(l.values[i])), 0);
    assert_same_state(c, back, NULL);
    clm_deltas_release(&d);
    clm_customer_free(back);
    clm_customer_free(c);
}

static void test_customer_load_roundtrip(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *back = clm_customer_new("c-1", 3, 7);
    clm_deltas d;
    field_log l;

    clm_deltas_init(&d);
    emit_all(c, NULL, &l);
    for (int i = 0; i < l.n; i++)
        assert_int_equal(clm_v1_customer_load_field(back, NULL, l.names[i], strlen(l.names[i]),
                                                 l.values[i], strlen(l.values[i])), 0);
    assert_same_state(c, back, NULL);
    assert_int_equal(back->flags & CLM_CUST_DIRTY, 0); /* loading is not a change */
    assert_int_equal(back->first_purchase, 3000);
    assert_int_equal(back->first_signup, CLM_NO_TS);
    assert_int_equal(back->active_bucket, 0);
    assert_true(back->active_bits == 1);
    assert_int_equal(back->clv_rate_micros, 607116666);

    /* The restored id set still suppresses e-1. */
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    assert_int_equal(clm_customer_apply(back, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_DUPLICATE);
    /* And the restored counters continue: first_seen 1000 stays (2500 > 1000). */
    ev = make_event(CLM_EV_PURCHASE, "e-7", 2500, 100000);
    assert_int_equal(clm_customer_apply(back, &ev, &DEDUP_ON, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(back->first_seen, 1000);
    assert_int_equal(back->revenue_micros, 50000000); /* 49.9 + 0.1 */
    assert_int_equal(back->orders, 2);
    /* Day 0 is already active (restored bits): no second active customer;
     * 2500 < 3000 becomes the first purchase, the old one a repeat order. */
    assert_int_equal(on_day(&d, 0, CLM_DAY(active_customers)), 0);
    assert_int_equal(on_day(&d, 0, CLM_DAY(repeat_orders)), 1);
    assert_int_equal(back->first_purchase, 2500);
    /* The rate moves from the restored 607116666 to 50000000 * 365 / 30 =
     * 608333333.33 -> 608333333: a delta of 1216667. */
    assert_int_equal(d.value_rate_micros, 1216667);
    clm_deltas_release(&d);
    clm_customer_free(back);
    clm_customer_free(c);
}

static void test_customer_load_unknown(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *before = three_events();

    assert_int_equal(clm_v1_customer_load_field(c, NULL, "ltv", 3, "12.5", 4), 0);
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "event", 5, "9", 1), 0);   /* prefix of "events" */
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "eventsx", 7, "9", 1), 0); /* "events" + 1 */
    /* clv is derived (revenue - refunds): written, never read back. */
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "clv", 3, "99", 2), 0);
    /* Without a model, stage fields are not this customer's. */
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "stage", 5, "conversion", 10), 0);
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "peak_stage", 10, "conversion", 10), 0);
    assert_same_state(c, before, NULL);
    assert_int_equal(c->stage, CLM_STAGE_NONE);
    assert_int_equal(c->peak, CLM_STAGE_NONE);
    /* The name's length decides: "ordersX" cut at 6 is "orders". */
    assert_int_equal(clm_v1_customer_load_field(c, NULL, "ordersX", 6, "4", 1), 0);
    assert_int_equal(c->orders, 4);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void check_load_bad(const char *name, const char *value)
{
    clm_customer *c = three_events();
    clm_customer *before = three_events();

    assert_int_equal(clm_v1_customer_load_field(c, NULL, name, strlen(name), value, strlen(value)),
                     -EINVAL);
    assert_same_state(c, before, NULL);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void test_customer_load_malformed(void **state)
{
    (void)state;
    check_load_bad("events", "");
    check_load_bad("events", "12x");
    check_load_bad("orders", "1.5");
    check_load_bad("first_seen", "99999999999999999999"); /* > INT64_MAX */
    check_load_bad("last_seen", "abc");
    check_load_bad("revenue", "");
    check_load_bad("revenue", "1.2345678"); /* 7 fraction digits */
    check_load_bad("revenue", "12.");
    check_load_bad("refunds", "ten");
    check_load_bad("clv_rate", "1.2345678");
    check_load_bad("first_purchase", "3000ms");
    check_load_bad("first_signup", "-");
    check_load_bad("first_contact", "2x");
    check_load_bad("lead_contact", "--1");
    check_load_bad("active", "0:1");                  /* 1 hex digit, not 16 */
    check_load_bad("active", "0000000000000001");     /* no bucket */
    check_load_bad("active", "0:000000000000000g");
    check_load_bad("active", "x:0000000000000001");
    check_load_bad("stage_entered", "1");             /* no colon */
    check_load_bad("stage_entered", "12:20454");      /* rank 12 >= CLM_CUST_RANKS */
    check_load_bad("stage_entered", "0:-1");
    check_load_bad("stage_entered", "0:20454,,1:20455"); /* empty entry */
    check_load_bad("dedup", "zz:1");
    check_load_bad("dedup", "3d21bc8729acd985:1,0123:5");
}

/* ---- the lifecycle fields (with the default stage model) -------------------- */

static void assert_same_deltas(const clm_deltas *a, const clm_deltas *b)
{
    assert_int_equal(a->ndays, b->ndays);
    for (size_t i = 0; i < a->ndays; i++)
        assert_memory_equal(&a->days[i], &b->days[i], sizeof(a->days[i]));
    assert_int_equal(a->ntrans, b->ntrans);
    for (size_t i = 0; i < a->ntrans; i++) {
        assert_int_equal(a->trans[i].bucket, b->trans[i].bucket);
        assert_int_equal(a->trans[i].from, b->trans[i].from);
        assert_int_equal(a->trans[i].to, b->trans[i].to);
        assert_int_equal(a->trans[i].n, b->trans[i].n);
    }
    for (int s = 0; s < CLM_STAGES_MAX; s++)
        assert_int_equal(a->stage_count[s], b->stage_count[s]);
    assert_int_equal(a->value_rate_micros, b->value_rate_micros);
}

/* Applies the same event (with an id) to a customer; returns the result. */
static int apply_id(clm_customer *c, clm_deltas *d, clm_event_type type, const char *id,
                    int64_t ts_ms, int64_t watermark)
{
    clm_event ev = make_event(type, id, ts_ms, type == CLM_EV_PURCHASE ? 100000000 : -1);

    return clm_customer_apply(c, &ev, &opts, d, watermark);
}

static void test_lifecycle_roundtrip(void **state)
{
    (void)state;
    clm_customer *c = customer();
    clm_customer *back = customer();
    clm_deltas d, db;
    field_log l;

    clm_deltas_init(&d);
    clm_deltas_init(&db);
    assert_int_equal(apply_id(c, &d, CLM_EV_SIGNUP, "e-1", at(1, 10, 0), CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(apply_id(c, &d, CLM_EV_LEAD_CONTACTED, "e-2", at(1, 14, 30), CLM_NO_TS),
                     CLM_APPLIED);
    assert_int_equal(apply_id(c, &d, CLM_EV_VISIT, "e-3", at(0, 9, 0), CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(apply_id(c, &d, CLM_EV_PURCHASE, "e-4", at(2, 10, 0), CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(apply_id(c, &d, CLM_EV_ONBOARDING_COMPLETE, "e-5", at(3, 10, 0), CLM_NO_TS),
                     CLM_APPLIED);
    assert_int_equal(c->stage, ONBOARDING);

    emit_all(c, model, &l);
    assert_int_equal(l.n, 31);
    static const char *const names[31] = {
        "first_seen", "last_seen", "events", "orders", "revenue", "refunds", "clv",
        "clv_rate", "last_type", "first_purchase", "first_signup", "first_contact",
        "lead_contact", "active", "stage", "stage_since", "peak_stage", "stage_entered",
        "risk", "risk_at", "risk_next", "risk_state", "alert_armed", "alert_at", "source",
        "repeat_days", "first_purchase_day", "last_purchase_day", "repeat_spend_avg", "rfm",
        "dedup",
    };
    for (int i = 0; i < 31; i++)
        assert_string_equal(l.names[i], names[i]);
    /* tenure 1 day < 30: 100e6 * 365 / 30 = 1216666666 micros. */
    assert_string_equal(l.values[7], "1216.666666");
    assert_string_equal(l.values[8], "onboarding_complete");
    /* day 20456 * 86400000 = 1767398400000, + 10 h (36000000). */
    assert_string_equal(l.values[9], "1767434400000");
    /* day 20455 at 10:00: 1767434400000 - 86400000. */
    assert_string_equal(l.values[10], "1767348000000");
    /* the contact: day 20455 at 14:30 = 1767348000000 + 16200000; it is both
     * the earliest contact and the one counted */
    assert_string_equal(l.values[11], "1767364200000");
    assert_string_equal(l.values[12], "1767364200000");
    /* Latest active day 20457; days 20457..20454 all active: bits 0..3 = 0xf. */
    assert_string_equal(l.values[13], "20457:000000000000000f");
    assert_string_equal(l.values[14], "onboarding");
    /* day 20457 at 10:00: 1767434400000 + 86400000. */
    assert_string_equal(l.values[15], "1767520800000");
    assert_string_equal(l.values[16], "onboarding");
    /* acquisition (rank 1) day 20455, conversion day 20456, onboarding 20457;
     * the late visit could not go back to awareness. */
    assert_string_equal(l.values[17], "1:20455,2:20456,3:20457");

    for (int i = 0; i < l.n; i++)
        assert_int_equal(clm_v1_customer_load_field(back, model, l.names[i], strlen(l.names[i]),
                                                 l.values[i], strlen(l.values[i])), 0);
    assert_same_state(c, back, model);
    assert_int_equal(back->flags & CLM_CUST_DIRTY, 0); /* loading is not a change */

    /* The same further events give the same deltas on both. */
    clm_deltas_reset(&d);
    for (int k = 0; k < 2; k++) {
        clm_customer *x = k ? back : c;
        clm_deltas *dx = k ? &db : &d;
        /* already contacted: counts nothing */
        assert_int_equal(apply_id(x, dx, CLM_EV_LEAD_CONTACTED, "e-6", at(4, 9, 0), CLM_NO_TS),
                         CLM_APPLIED);
        /* a late earlier signup moves the lead and its conversion */
        assert_int_equal(apply_id(x, dx, CLM_EV_SIGNUP, "e-7", at(0, 8, 0), CLM_NO_TS), CLM_APPLIED);
        /* engagement: advanced[onboarding] on day 3 */
        assert_int_equal(apply_id(x, dx, CLM_EV_LOGIN, "e-8", at(5, 10, 0), CLM_NO_TS), CLM_APPLIED);
        /* day 2 is already active */
        assert_int_equal(apply_id(x, dx, CLM_EV_VISIT, "e-9", at(2, 15, 0), CLM_NO_TS), CLM_APPLIED);
        /* retention, and a new rate */
        assert_int_equal(apply_id(x, dx, CLM_EV_PURCHASE, "e-10", at(6, 10, 0), CLM_NO_TS),
                         CLM_APPLIED);
        /* a replay of e-10 */
        assert_int_equal(apply_id(x, dx, CLM_EV_PURCHASE, "e-10", at(6, 10, 0), CLM_NO_TS),
                         CLM_DUPLICATE);
        /* deadline day 96 10:00 passed: churn on day 96, back on day 200 */
        assert_int_equal(apply_id(x, dx, CLM_EV_VISIT, "e-11", at(200, 10, 0), at(193, 10, 0)),
                         CLM_APPLIED);
    }
    assert_same_deltas(&d, &db);
    assert_same_state(c, back, model);
    /* What those deltas are, on the original. */
    assert_int_equal(total(&d, CLM_DAY(leads_contacted)), 0);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(new_leads)), -1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(new_leads)), 1);
    assert_int_equal(on_day(&d, D0 + 1, CLM_DAY(leads_converted)), -1);
    assert_int_equal(on_day(&d, D0, CLM_DAY(leads_converted)), 1);
    assert_int_equal(on_day(&d, D0 + 3, ADVANCED(ONBOARDING)), 1);
    assert_int_equal(on_day(&d, D0 + 5, ADVANCED(ENGAGEMENT)), 1);
    assert_int_equal(on_day(&d, D0 + 2, CLM_DAY(active_customers)), 0);
    assert_int_equal(on_day(&d, D0 + 3, CLM_DAY(last_active)), -1);
    assert_int_equal(trans(&d, D0 + 6, ENGAGEMENT, RETENTION), 1);
    assert_int_equal(on_day(&d, D0 + 96, CLM_DAY(churned)), 1);
    assert_int_equal(on_day(&d, D0 + 200, CLM_DAY(reactivated)), 1);
    assert_int_equal(c->stage, REACTIVATED);
    assert_int_equal(c->peak, RETENTION);
    clm_deltas_release(&db);
    clm_deltas_release(&d);
    clm_customer_free(back);
    clm_customer_free(c);
}

static void test_lifecycle_stage_edges(void **state)
{
    (void)state;
    clm_customer *fresh = customer();
    clm_customer *c = customer();
    clm_deltas d;
    field_log l;

    /* No stage yet: empty stage fields. */
    emit_all(fresh, model, &l);
    assert_int_equal(l.n, 31);
    assert_string_equal(l.values[14], "");
    assert_string_equal(l.values[15], "");
    assert_string_equal(l.values[16], "");
    assert_string_equal(l.values[17], "");

    /* A failing callback in the stage fields stops the walk there. */
    clm_deltas_init(&d);
    assert_int_equal(clm_customer_apply(c, (clm_event[]){ make_event(CLM_EV_PURCHASE, NULL, at(1, 10, 0), 100000000) }, &opts, &d, CLM_NO_TS), CLM_APPLIED);
    memset(&l, 0, sizeof(l));
    l.stop_at = 16; /* peak_stage */
    assert_int_equal(clm_v1_customer_emit(c, model, log_field, &l), -EIO);
    assert_int_equal(l.n, 16);
    assert_string_equal(l.values[14], "conversion");

    /* A stage the model does not know: the customer has no stage (0). */
    assert_int_equal(clm_v1_customer_load_field(c, model, "stage", 5, "vip", 3), 0);
    assert_int_equal(c->stage, CLM_STAGE_NONE);
    assert_int_equal(clm_v1_customer_load_field(c, model, "peak_stage", 10, "advocacy", 8), 0);
    assert_int_equal(c->peak, ADVOCACY);
    assert_int_equal(clm_v1_customer_load_field(c, model, "stage", 5, "", 0), 0);
    assert_int_equal(c->stage, CLM_STAGE_NONE);
    assert_int_equal(clm_v1_customer_load_field(c, model, "stage_since", 11, "", 0), 0);
    assert_int_equal(c->stage_since, CLM_NO_TS);
    assert_int_equal(clm_v1_customer_load_field(c, model, "stage_entered", 13, "0:5,6:7", 7), 0);
    assert_int_equal(c->entered[0], 5);
    assert_int_equal(c->entered[6], 7);
    assert_int_equal(c->entered[1], -1);
    clm_deltas_release(&d);
    clm_customer_free(c);
    clm_customer_free(fresh);
}

/* ---- risk_state and the risk fields ------------------------------------------
 *
 * Days here are epoch days; events at noon. */

#define DAY CLM_MS_PER_DAY

static clm_event ev_at(clm_event_type type, int64_t day)
{
    clm_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = day * DAY + 12 * 3600000LL; /* noon */
    ev.has_customer = 1;
    ev.customer_id_len = 2;
    memcpy(ev.customer_id, "c1", 3);
    if (type == CLM_EV_PURCHASE) {
        ev.has_amount = 1;
        ev.amount_micros = 100000000; /* 100 */
    }
    return ev;
}

static clm_event scored_at(clm_event_type type, int64_t day, int score)
{
    clm_event ev = ev_at(type, day);
    ev.has_score = 1;
    ev.score = score;
    return ev;
}

static clm_risk_opts defaults(void)
{
    clm_risk_opts o;
    clm_risk_opts_default(&o);
    return o;
}

static void test_risk_state_roundtrip(void **state)
{
    (void)state;
    clm_risk_state s, back;
    char buf[CLM_V1_RISK_STATE_MAX];
    clm_risk_state_init(&s);
    clm_event evs[] = { scored_at(CLM_EV_NPS_RESPONSE, 100, 4), scored_at(CLM_EV_CSAT_RESPONSE, 101, 1),
                        ev_at(CLM_EV_SUPPORT_TICKET, 102), ev_at(CLM_EV_PAYMENT_FAILED, 103),
                        ev_at(CLM_EV_DOWNGRADE, 104), ev_at(CLM_EV_SESSION, 105),
                        ev_at(CLM_EV_SESSION, 105), ev_at(CLM_EV_SESSION, 140) };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        clm_risk_note(&s, &evs[i], true);
    int n = clm_v1_risk_state_format(&s, buf, sizeof(buf));
    assert_true(n > 0);
    buf[n] = '\0';
    /* nps 4 at day 100 noon (100 x 86400000 + 43200000), csat 1 at day 101
     * noon; active on 100..105 and 140: 7 days, bits 0 and 35..40 of 140;
     * payment_failed 103, downgrade 104, one ticket on 102; sessions: 1 on
     * day 140 (k 0), 2 on day 105 (k 35) */
    assert_string_equal(buf, "v1 4 8683200000 1 8769600000 100 140 7 1f800000001 103 104 "
                             "102,-1,-1,-1,-1,-1,-1,-1 140 0:1,35:2");
    assert_int_equal(s.payment_failed_day, 103);
    assert_int_equal(clm_v1_risk_state_parse(&back, buf, (size_t)n), 0);
    assert_memory_equal(&s, &back, sizeof(s));
    assert_int_equal(clm_v1_risk_state_parse(&back, "v1 x", 4), -EINVAL);
    assert_int_equal(clm_v1_risk_state_parse(&back, "", 0), 0);
    assert_int_equal(back.last_day, -1);
}

static clm_alert_opts alert_opts(void)
{
    clm_alert_opts a;
    memset(&a, 0, sizeof(a));
    a.enabled[CLM_ALERT_CHURN_RISK] = a.enabled[CLM_ALERT_CHURNED] = true;
    a.threshold_e4 = 7000;
    a.rearm_e4 = 1000;
    a.cooldown_ms = 7 * DAY;
    return a;
}

typedef struct fixture {
    clm_risk_opts risk;
    clm_alert_opts alerts;
    clm_apply_opts o;
    clm_deltas d;
    clm_customer *c;
    int64_t offset;
} fixture;

static void fx_init(fixture *f, bool inactivity)
{
    memset(f, 0, sizeof(*f));
    f->risk = defaults();
    if (!inactivity)
        f->risk.weight[CLM_SIG_INACTIVITY] = 0;
    f->alerts = alert_opts();
    f->o.bucket_ms = DAY;
    f->o.clv_min_tenure_ms = 30 * DAY;
    f->o.risk = &f->risk;
    f->o.alerts = &f->alerts;
    clm_deltas_init(&f->d);
    f->c = clm_customer_new("c1", 2, 3);
}

static void fx_free(fixture *f)
{
    clm_deltas_release(&f->d);
    clm_customer_free(f->c);
}

/* Applies ev read at offset f->offset++ of topic 0 partition 3, the
 * watermark at noon of `wm_day`. */
static void fx_put(fixture *f, clm_event ev, int64_t wm_day)
{
    clm_pos pos = { .topic = 0, .partition = 3, .offset = f->offset++ };
    assert_int_equal(clm_customer_apply_at(f->c, &ev, &pos, &f->o, &f->d, wm_day * DAY + 12 * 3600000LL),
                     CLM_APPLIED);
}

static int load_into(void *ctx, const char *name, const char *value, size_t len)
{
    return clm_v1_customer_load_field(ctx, NULL, name, strlen(name), value, len);
}

static void test_customer_risk_roundtrip(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, true);
    fx_put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    fx_put(&f, ev_at(CLM_EV_PAYMENT_FAILED, 100), 100);
    fx_put(&f, ev_at(CLM_EV_DOWNGRADE, 100), 100);
    fx_put(&f, scored_at(CLM_EV_NPS_RESPONSE, 100, 2), 100);
    assert_int_equal(f.d.nalerts, 1);
    clm_customer *back = clm_customer_new("c1", 2, 3);
    assert_int_equal(clm_v1_customer_emit(f.c, NULL, load_into, back), 0);
    assert_int_equal(back->risk_e4, f.c->risk_e4);
    assert_int_equal(back->risk_day, 100);
    assert_int_equal(back->risk_next, f.c->risk_next);
    assert_int_equal(back->alert_at, f.c->alert_at);
    assert_int_equal(back->src_offset, 3);
    assert_true(back->flags & CLM_CUST_DISARMED);
    assert_memory_equal(&back->risk, &f.c->risk, sizeof(back->risk));
    clm_risk_eval e;
    clm_customer_risk_eval(back, &f.o, &e);
    assert_int_equal(e.risk_e4, 7060);
    assert_int_equal(e.n, 3);
    /* malformed values are refused */
    assert_int_equal(clm_v1_customer_load_field(back, NULL, "risk", 4, "0.75", 4), -EINVAL);
    assert_int_equal(clm_v1_customer_load_field(back, NULL, "risk", 4, "1.0001", 6), -EINVAL);
    assert_int_equal(clm_v1_customer_load_field(back, NULL, "alert_armed", 11, "2", 1), -EINVAL);
    assert_int_equal(clm_v1_customer_load_field(back, NULL, "source", 6, "0-3", 3), -EINVAL);
    clm_customer_free(back);
    fx_free(&f);
}

/* ---- repeat-purchase fields ------------------------------------------------
 *
 * Days used (UTC day numbers): 1997-01-01 = 9862, 1997-01-18 = 9879,
 * 1997-08-02 = 10075, 1997-09-30 = 10134. */

#define NOON(day) ((int64_t)(day) * DAY_MS + DAY_MS / 2)
#define D0101 9862
#define D0118 9879
#define D0802 10075
#define D0930 10134

/* What clm_v1_rfm_emit wrote, as "name=value;" pairs. */
typedef struct emitted {
    char text[512];
    size_t len;
    int calls;
} emitted;

static int collect(void *ctx, const char *name, const char *value, size_t len)
{
    emitted *e = ctx;
    int n = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%s=%.*s;", name, (int)len, value);
    assert_true(n > 0 && (size_t)n < sizeof(e->text) - e->len);
    e->len += (size_t)n;
    e->calls++;
    return 0;
}

static void check_emit(const clm_rfm *r, const char *want)
{
    emitted e = { .len = 0 };
    assert_int_equal(clm_v1_rfm_emit(r, collect, &e), 0);
    assert_int_equal(e.calls, 5);
    assert_string_equal(e.text, want);
}

/* The repeat-purchase fields of the states test-rfm.c builds: none, CDNOW
 * customer 0001, and several purchases a day. */
static void test_rfm_emit(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    check_emit(&r, "repeat_days=0;first_purchase_day=;last_purchase_day=;repeat_spend_avg=0;"
                   "rfm=-1:-1:0:0000000000000000:0:0;");

    /* 29.33 on 1997-01-01, 29.73 on 01-18, 14.96 on 08-02: x 2, the repeat
     * spend 44.69 over 2 days */
    clm_rfm_purchase(&r, NOON(D0101), 29330000);
    clm_rfm_purchase(&r, NOON(D0118), 29730000);
    clm_rfm_purchase(&r, NOON(D0802), 14960000);
    check_emit(&r, "repeat_days=2;first_purchase_day=1997-01-01;last_purchase_day=1997-08-02;"
                   "repeat_spend_avg=22.345;rfm=9862:10075:2:0000000000000001:29330000:44690000;");

    /* 15 on day +0 (two purchases), 3 on day +3 (two), 0 on day +4 */
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, (int64_t)D0101 * DAY_MS, 10000000);
    clm_rfm_purchase(&r, (int64_t)D0101 * DAY_MS + DAY_MS - 1, 5000000);
    clm_rfm_purchase(&r, NOON(D0101 + 3), 2000000);
    clm_rfm_purchase(&r, NOON(D0101 + 3) + 3600000, 1000000);
    clm_rfm_purchase(&r, (int64_t)(D0101 + 4) * DAY_MS, 0);
    check_emit(&r, "repeat_days=2;first_purchase_day=1997-01-01;last_purchase_day=1997-01-05;"
                   "repeat_spend_avg=1.5;rfm=9862:9866:2:0000000000000013:15000000:3000000;");
}

static void test_rfm_spend_rounding(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0101), 0);
    clm_rfm_purchase(&r, NOON(D0101 + 1), 1);
    clm_rfm_purchase(&r, NOON(D0101 + 2), 0);
    clm_rfm_purchase(&r, NOON(D0101 + 3), 1);
    /* 2 micros over 3 days: 0.666.. rounds to 1 micro */
    check_emit(&r, "repeat_days=3;first_purchase_day=1997-01-01;last_purchase_day=1997-01-04;"
                   "repeat_spend_avg=0.000001;rfm=9862:9865:3:000000000000000f:0:2;");
    clm_rfm_purchase(&r, NOON(D0101 + 4), 0);
    /* 2 / 4 = 0.5 rounds half up */
    emitted e = { .len = 0 };
    assert_int_equal(clm_v1_rfm_emit(&r, collect, &e), 0);
    assert_non_null(strstr(e.text, "repeat_spend_avg=0.000001;"));
    clm_rfm_purchase(&r, NOON(D0101 + 5), 0);
    e = (emitted){ .len = 0 };
    assert_int_equal(clm_v1_rfm_emit(&r, collect, &e), 0);
    assert_non_null(strstr(e.text, "repeat_spend_avg=0;")); /* 2 / 5 = 0.4 */
}

/* Feeds every emitted field back through clm_v1_rfm_load_field. */
typedef struct loader {
    clm_rfm *r;
    int loaded;
} loader;

static int load_back(void *ctx, const char *name, const char *value, size_t len)
{
    loader *l = ctx;
    int rc = clm_v1_rfm_load_field(l->r, name, strlen(name), value, len);
    assert_int_equal(rc, 1);
    l->loaded++;
    return 0;
}

static void test_rfm_round_trip(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0930 - 40), 123456789);
    clm_rfm_purchase(&r, NOON(D0930), 1);
    clm_rfm_purchase(&r, NOON(D0930 - 7), 999999999999);
    clm_rfm_purchase(&r, NOON(D0930 - 50), 42);
    clm_rfm back;
    memset(&back, 0x5a, sizeof(back));
    loader l = { .r = &back };
    assert_int_equal(clm_v1_rfm_emit(&r, load_back, &l), 0);
    assert_int_equal(l.loaded, 5);
    assert_int_equal(back.first_day, r.first_day);
    assert_int_equal(back.last_day, r.last_day);
    assert_int_equal(back.x, 3);
    assert_true(back.day_bits == r.day_bits);
    assert_true(back.first_micros == 42);
    assert_true(back.repeat_micros == 123456789 + 1 + 999999999999);
    /* no purchase round-trips too */
    clm_rfm none;
    clm_rfm_init(&none);
    l = (loader){ .r = &back };
    assert_int_equal(clm_v1_rfm_emit(&none, load_back, &l), 0);
    assert_int_equal(back.first_day, -1);
    assert_int_equal(back.x, 0);
    assert_true(back.day_bits == 0 && back.first_micros == 0 && back.repeat_micros == 0);
}

static void expect_load(const char *name, const char *value, int want)
{
    clm_rfm r, before;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0101), 5);
    before = r;
    int rc = clm_v1_rfm_load_field(&r, name, strlen(name), value, strlen(value));
    if (rc != want)
        fail_msg("%s=\"%s\": %d, expected %d", name, value, rc, want);
    if (rc != 1 || strcmp(name, "rfm") != 0)
        assert_memory_equal(&r, &before, sizeof(r)); /* untouched */
}

static void test_rfm_malformed(void **state)
{
    (void)state;
    expect_load("orders", "3", 0);          /* not its field */
    expect_load("rf", "x", 0);
    expect_load("rfm", "9862:9862:0:0000000000000001:5:0", 1);
    expect_load("rfm", "9862:9862:0:0000000000000001:5", -EINVAL);          /* 5 parts */
    expect_load("rfm", "9862:9862:0:0000000000000001:5:0:0", -EINVAL);      /* 7 parts */
    expect_load("rfm", "9862:9862:0:000000000000001:5:0", -EINVAL);         /* 15 hex */
    expect_load("rfm", "9862:9862:0:000000000000000G:5:0", -EINVAL);
    expect_load("rfm", "9862:9862:0:0000000000000001:-5:0", -EINVAL);       /* negative spend */
    expect_load("rfm", "9862:9862:0:0000000000000001:5:1", -EINVAL);        /* repeat spend, x 0 */
    expect_load("rfm", "9863:9862:0:0000000000000001:5:0", -EINVAL);        /* first > last */
    expect_load("rfm", "9862:9870:9:0000000000000101:5:0", -EINVAL);        /* x > days between */
    expect_load("rfm", "9862:9870:0:0000000000000101:5:0", -EINVAL);        /* x 0 over 8 days */
    expect_load("rfm", "9862:9870:1:0000000000000100:5:0", -EINVAL);        /* last day's bit clear */
    expect_load("rfm", "9862:9870:1:0000000000000201:5:0", -EINVAL);        /* a bit before first */
    expect_load("rfm", "9862:9870:1:0000000000000111:5:0", -EINVAL);        /* 2 repeat bits, x 1 */
    expect_load("rfm", "-1:-1:0:0000000000000000:0:0", 1);
    expect_load("rfm", "-1:9862:0:0000000000000001:0:0", -EINVAL);
    expect_load("rfm", "-2:-2:0:0000000000000000:0:0", -EINVAL);
    expect_load("rfm", "9862:9862:0:0000000000000001:5:", -EINVAL);         /* empty number */
    expect_load("rfm", "9862:9862:0:0000000000000001:99999999999999999999:0", -EINVAL);
    expect_load("rfm", "", -EINVAL);
    expect_load("repeat_days", "2", 1);
    expect_load("repeat_days", "-1", -EINVAL);
    expect_load("repeat_days", "2x", -EINVAL);
    expect_load("first_purchase_day", "", 1);
    expect_load("first_purchase_day", "1997-09-30", 1);
    expect_load("last_purchase_day", "1997-13-01", -EINVAL);
    expect_load("last_purchase_day", "97-09-30", -EINVAL);
    expect_load("repeat_spend_avg", "22.345", 1);
    expect_load("repeat_spend_avg", "-1", -EINVAL);
    expect_load("repeat_spend_avg", "abc", -EINVAL);
}

/* ---- dedup ------------------------------------------------------------------ */

/* XXH3 64-bit, seed 0, as printed by `printf 'e-1' | xxhsum -H3`. */
#define HASH_E1 0x3d21bc8729acd985ULL
/* The XXH3 64-bit hash of empty input (`printf '' | xxhsum -H3`). */
#define HASH_EMPTY 0x2d06800538d394c2ULL

#define HORIZON_NONE INT64_C(1000000000000) /* wider than any test's time span */

static void check_format(const clm_dedup *d, const char *want)
{
    char buf[512];

    assert_int_equal(clm_v1_dedup_format(d, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_dedup_format(void **state)
{
    (void)state;
    clm_dedup d;
    char buf[64];

    clm_dedup_init(&d);
    assert_int_equal(clm_v1_dedup_format(&d, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(clm_v1_dedup_format(&d, buf, 0), -ENOSPC);

    assert_int_equal(clm_dedup_add(&d, HASH_E1, 1700000000000, 1700000000000, 86400000, 16), 0);
    /* 16 hex + ':' + 13 digits = 30 characters. */
    check_format(&d, "3d21bc8729acd985:1700000000000");
    /* 30 characters need 31 bytes with the NUL. */
    assert_int_equal(clm_v1_dedup_format(&d, buf, 30), -ENOSPC);
    assert_int_equal(clm_v1_dedup_format(&d, buf, 31), 30);
    assert_string_equal(buf, "3d21bc8729acd985:1700000000000");
    clm_dedup_release(&d);

    /* Negative event times (before 1970) keep their sign. */
    assert_int_equal(clm_dedup_add(&d, 1, -5, -5, 1000, 16), 0);
    check_format(&d, "0000000000000001:-5");
    clm_dedup_release(&d);
}

static void test_dedup_parse_roundtrip(void **state)
{
    (void)state;
    static const char text[] = "0000000000000001:-5,3d21bc8729acd985:1700000000000,"
                               "ffffffffffffffff:9000000000000000000";
    clm_dedup d;

    assert_int_equal(clm_v1_dedup_parse(&d, text, strlen(text)), 0);
    assert_int_equal(d.n, 3);
    assert_true(clm_dedup_entries(&d)[0].hash == 1);
    assert_int_equal(clm_dedup_entries(&d)[0].ts_ms, -5);
    assert_true(clm_dedup_entries(&d)[1].hash == HASH_E1);
    assert_int_equal(clm_dedup_entries(&d)[1].ts_ms, 1700000000000);
    assert_true(clm_dedup_entries(&d)[2].hash == UINT64_MAX);
    assert_int_equal(clm_dedup_entries(&d)[2].ts_ms, INT64_C(9000000000000000000));
    assert_true(clm_dedup_contains(&d, HASH_E1));
    check_format(&d, text);
    clm_dedup_release(&d);

    /* "" is the empty set. */
    assert_int_equal(clm_v1_dedup_parse(&d, "", 0), 0);
    assert_int_equal(d.n, 0);
    clm_dedup_release(&d);

    /* The length decides: only the first entry of a longer text. */
    assert_int_equal(clm_v1_dedup_parse(&d, text, 19), 0);
    check_format(&d, "0000000000000001:-5");
    clm_dedup_release(&d);
}

static void check_parse_bad(const char *s)
{
    clm_dedup d;

    assert_int_equal(clm_v1_dedup_parse(&d, s, strlen(s)), -EINVAL);
    assert_int_equal(d.n, 0);
    assert_false(clm_dedup_on_heap(&d)); /* nothing allocated */
    clm_dedup_release(&d);
}

static void test_dedup_parse_rejects(void **state)
{
    (void)state;
    check_parse_bad("zz:1");                              /* not hex */
    check_parse_bad("0123:5");                            /* 4 hex digits, not 16 */
    check_parse_bad("03d21bc8729acd985:5");               /* 17 hex digits */
    check_parse_bad("3d21bc8729acd985");                  /* no ':' and no time */
    check_parse_bad("3d21bc8729acd985:");                 /* empty time */
    check_parse_bad("3d21bc8729acd985:-");                /* sign only */
    check_parse_bad("3d21bc8729acd985:12x");              /* non-digit time */
    check_parse_bad("3d21bc8729acd985: 12");              /* space */
    check_parse_bad("3d21bc8729acd985:99999999999999999999"); /* > INT64_MAX */
    check_parse_bad(",");                                 /* empty entries */
    /* A good entry before a bad one is not kept either. */
    check_parse_bad("3d21bc8729acd985:1,zz:1");
    check_parse_bad("3d21bc8729acd985:1,,0000000000000001:2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_customer_emit),
        cmocka_unit_test(test_customer_emit_many_ids),
        cmocka_unit_test(test_customer_load_roundtrip),
        cmocka_unit_test(test_customer_load_unknown),
        cmocka_unit_test(test_customer_load_malformed),
        cmocka_unit_test(test_lifecycle_roundtrip),
        cmocka_unit_test(test_lifecycle_stage_edges),
        cmocka_unit_test(test_risk_state_roundtrip),
        cmocka_unit_test(test_customer_risk_roundtrip),
        cmocka_unit_test(test_rfm_emit),
        cmocka_unit_test(test_rfm_spend_rounding),
        cmocka_unit_test(test_rfm_round_trip),
        cmocka_unit_test(test_rfm_malformed),
        cmocka_unit_test(test_dedup_format),
        cmocka_unit_test(test_dedup_parse_roundtrip),
        cmocka_unit_test(test_dedup_parse_rejects),
    };
    return cmocka_run_group_tests_name("v1", tests, setup_model, teardown_model);
}
