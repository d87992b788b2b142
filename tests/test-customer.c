/* tests/test-customer.c - customer state and event application (core/customer.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"

/* One day of dedup horizon, 16 remembered ids. */
static const clm_apply_opts DEDUP_ON = { .dedup_horizon_ms = 86400000, .dedup_max_ids = 16 };
static const clm_apply_opts DEDUP_OFF = { .dedup_horizon_ms = 0, .dedup_max_ids = 16 };

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

/* purchase e-1 of 49.9 at ts 3000, refund e-2 of 10 at 2000, visit e-3 at 1000
 * (arriving in that order, so the visit is out of order). */
static clm_customer *three_events(void)
{
    clm_customer *c = clm_customer_new("c-1", 3, 7);
    clm_event ev;

    assert_non_null(c);
    ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    ev = make_event(CLM_EV_REFUND, "e-2", 2000, 10000000);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    ev = make_event(CLM_EV_VISIT, "e-3", 1000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    return c;
}

/* Every persisted field as text, for comparing two customers' states. */
typedef struct field_log {
    char names[16][16];
    char values[16][2048];
    int n;
    int stop_at; /* field index at which the callback fails (-1: never) */
} field_log;

static int log_field(void *ctx, const char *name, const char *value, size_t len)
{
    field_log *l = ctx;

    if (l->n == l->stop_at)
        return -EIO;
    assert_true(l->n < 16);
    assert_true(len < sizeof(l->values[0]));
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
    memcpy(l->values[l->n], value, len);
    l->values[l->n][len] = '\0';
    l->n++;
    return 0;
}

static void emit_all(const clm_customer *c, field_log *l)
{
    memset(l, 0, sizeof(*l));
    l->stop_at = -1;
    assert_int_equal(clm_customer_emit(c, log_field, l), 0);
}

static void assert_same_state(const clm_customer *a, const clm_customer *b)
{
    field_log la, lb;

    assert_int_equal(a->first_seen, b->first_seen);
    assert_int_equal(a->last_seen, b->last_seen);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->orders, b->orders);
    assert_int_equal(a->revenue_micros, b->revenue_micros);
    assert_int_equal(a->refunds_micros, b->refunds_micros);
    assert_int_equal(a->last_type, b->last_type);
    assert_int_equal(a->dedup.n, b->dedup.n);
    for (uint16_t i = 0; i < a->dedup.n; i++) {
        assert_true(a->dedup.v[i].hash == b->dedup.v[i].hash);
        assert_int_equal(a->dedup.v[i].ts_ms, b->dedup.v[i].ts_ms);
    }
    emit_all(a, &la);
    emit_all(b, &lb);
    assert_int_equal(la.n, lb.n);
    for (int i = 0; i < la.n; i++) {
        assert_string_equal(la.names[i], lb.names[i]);
        assert_string_equal(la.values[i], lb.values[i]);
    }
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
    assert_int_equal(c->flags, 0);
    assert_int_equal(c->dedup.n, 0);
    clm_customer_free(c);

    c = clm_customer_new("c-1", 3, 0);
    assert_non_null(c);
    assert_string_equal(c->id, "c-1");
    clm_customer_free(c);
    clm_customer_free(NULL);
}

static void test_apply(void **state)
{
    (void)state;
    clm_customer *c = three_events();

    assert_int_equal(c->events, 3);
    assert_int_equal(c->orders, 1);
    assert_int_equal(c->revenue_micros, 49900000);
    assert_int_equal(c->refunds_micros, 10000000);
    assert_int_equal(c->first_seen, 1000); /* min(3000, 2000, 1000) */
    assert_int_equal(c->last_seen, 3000);  /* max(3000, 2000, 1000) */
    assert_int_equal(c->last_type, CLM_EV_PURCHASE); /* the type at ts 3000 */
    assert_int_equal(c->flags, CLM_CUST_DIRTY | CLM_CUST_REF);
    assert_int_equal(c->dedup.n, 3);

    /* A tie at last_seen: the later arrival wins. */
    clm_event ev = make_event(CLM_EV_LOGIN, "e-4", 3000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->last_type, CLM_EV_LOGIN);
    assert_int_equal(c->last_seen, 3000);
    /* An earlier event does not change last_type. */
    ev = make_event(CLM_EV_SIGNUP, "e-5", 500, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->last_type, CLM_EV_LOGIN);
    assert_int_equal(c->first_seen, 500);
    /* A second purchase of 0.000001: 49900000 + 1 micros, 2 orders. */
    ev = make_event(CLM_EV_PURCHASE, "e-6", 2500, 1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->orders, 2);
    assert_int_equal(c->revenue_micros, 49900001);
    assert_int_equal(c->events, 6);
    clm_customer_free(c);
}

static void test_duplicate(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *before = three_events();
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);

    c->flags = 0;
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_DUPLICATE);
    assert_same_state(c, before);
    assert_int_equal(c->flags, 0); /* not marked dirty */
    /* Same id, different content: still the same event id. */
    ev = make_event(CLM_EV_VISIT, "e-2", 9000, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_DUPLICATE);
    assert_same_state(c, before);
    /* Events without an id are never duplicates. */
    ev = make_event(CLM_EV_VISIT, NULL, 1500, -1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->events, 5);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void test_dedup_disabled(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);

    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_OFF), CLM_APPLIED);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_OFF), CLM_APPLIED);
    assert_int_equal(c->events, 2);
    assert_int_equal(c->orders, 2);
    assert_int_equal(c->revenue_micros, 99800000); /* 2 * 49900000 */
    assert_int_equal(c->dedup.n, 0);               /* nothing remembered */
    clm_customer_free(c);
}

static void test_dedup_horizon(void **state)
{
    (void)state;
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_event ev = make_event(CLM_EV_VISIT, "e-1", 1000, -1);

    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    /* An event a day and a ms later moves the cutoff to
     * 1000 + 86400001 - 86400000 = 1001 > 1000: e-1 is forgotten. */
    clm_event later = make_event(CLM_EV_VISIT, "e-2", 1000 + 86400001, -1);
    assert_int_equal(clm_customer_apply(c, &later, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->dedup.n, 1);
    assert_int_equal(clm_customer_apply(c, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(c->events, 3);
    clm_customer_free(c);
}

static void test_emit(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    field_log l;

    emit_all(c, &l);
    assert_int_equal(l.n, 8);
    static const char *const want[8][2] = {
        { "first_seen", "1000" },
        { "last_seen", "3000" },
        { "events", "3" },
        { "orders", "1" },
        { "revenue", "49.9" }, /* 49900000 micros */
        { "refunds", "10" },   /* 10000000 micros */
        { "last_type", "purchase" },
        /* XXH3 of e-3, e-2, e-1 (xxhsum -H3), ascending event time. */
        { "dedup", "f7d563a3590f8ad9:1000,d99f0192e8394c6e:2000,3d21bc8729acd985:3000" },
    };
    for (int i = 0; i < 8; i++) {
        assert_string_equal(l.names[i], want[i][0]);
        assert_string_equal(l.values[i], want[i][1]);
    }

    /* A fresh customer: zeros, "other", empty dedup. */
    clm_customer *fresh = clm_customer_new("c-2", 3, 0);
    emit_all(fresh, &l);
    assert_int_equal(l.n, 8);
    assert_string_equal(l.values[0], "0");
    assert_string_equal(l.values[4], "0");
    assert_string_equal(l.values[6], "other");
    assert_string_equal(l.values[7], "");
    clm_customer_free(fresh);

    /* A failing callback stops the walk and its value comes back. */
    memset(&l, 0, sizeof(l));
    l.stop_at = 2;
    assert_int_equal(clm_customer_emit(c, log_field, &l), -EIO);
    assert_int_equal(l.n, 2);
    l.n = 0;
    l.stop_at = 7; /* the dedup field */
    assert_int_equal(clm_customer_emit(c, log_field, &l), -EIO);
    assert_int_equal(l.n, 7);
    clm_customer_free(c);
}

static void test_emit_many_ids(void **state)
{
    (void)state;
    /* 100 remembered ids: more than the emitter's 256-byte stack buffer holds. */
    clm_apply_opts o = { .dedup_horizon_ms = 86400000, .dedup_max_ids = 100 };
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_customer *back = clm_customer_new("c-1", 3, 0);
    char id[16];
    field_log l;

    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "e-%d", i);
        clm_event ev = make_event(CLM_EV_VISIT, id, i, -1);
        assert_int_equal(clm_customer_apply(c, &ev, &o), CLM_APPLIED);
    }
    assert_int_equal(c->dedup.n, 100);
    emit_all(c, &l);
    assert_string_equal(l.names[7], "dedup");
    /* "<16 hex>:<ts>": ts 0..9 gives 18 chars, ts 10..99 gives 19; plus 99 commas:
     * 10 * 18 + 90 * 19 + 99 = 180 + 1710 + 99 = 1989. */
    assert_int_equal(strlen(l.values[7]), 1989);
    for (int i = 0; i < l.n; i++)
        assert_int_equal(clm_customer_load_field(back, l.names[i], strlen(l.names[i]),
                                                 l.values[i], strlen(l.values[i])), 0);
    assert_same_state(c, back);
    clm_customer_free(back);
    clm_customer_free(c);
}

static void test_load_roundtrip(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *back = clm_customer_new("c-1", 3, 7);
    field_log l;

    emit_all(c, &l);
    for (int i = 0; i < l.n; i++)
        assert_int_equal(clm_customer_load_field(back, l.names[i], strlen(l.names[i]),
                                                 l.values[i], strlen(l.values[i])), 0);
    assert_same_state(c, back);
    assert_int_equal(back->flags, 0); /* loading is not a change */

    /* The restored id set still suppresses e-1. */
    clm_event ev = make_event(CLM_EV_PURCHASE, "e-1", 3000, 49900000);
    assert_int_equal(clm_customer_apply(back, &ev, &DEDUP_ON), CLM_DUPLICATE);
    /* And the restored counters continue: first_seen 1000 stays (2500 > 1000). */
    ev = make_event(CLM_EV_PURCHASE, "e-7", 2500, 100000);
    assert_int_equal(clm_customer_apply(back, &ev, &DEDUP_ON), CLM_APPLIED);
    assert_int_equal(back->first_seen, 1000);
    assert_int_equal(back->revenue_micros, 50000000); /* 49.9 + 0.1 */
    assert_int_equal(back->orders, 2);
    clm_customer_free(back);
    clm_customer_free(c);
}

static void test_load_unknown(void **state)
{
    (void)state;
    clm_customer *c = three_events();
    clm_customer *before = three_events();

    assert_int_equal(clm_customer_load_field(c, "ltv", 3, "12.5", 4), 0);
    assert_int_equal(clm_customer_load_field(c, "event", 5, "9", 1), 0);      /* prefix of "events" */
    assert_int_equal(clm_customer_load_field(c, "eventsx", 7, "9", 1), 0);    /* "events" + 1 */
    assert_same_state(c, before);
    /* The name's length decides: "ordersX" cut at 6 is "orders". */
    assert_int_equal(clm_customer_load_field(c, "ordersX", 6, "4", 1), 0);
    assert_int_equal(c->orders, 4);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void check_load_bad(const char *name, const char *value)
{
    clm_customer *c = three_events();
    clm_customer *before = three_events();

    assert_int_equal(clm_customer_load_field(c, name, strlen(name), value, strlen(value)),
                     -EINVAL);
    assert_same_state(c, before);
    clm_customer_free(before);
    clm_customer_free(c);
}

static void test_load_malformed(void **state)
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
    check_load_bad("dedup", "zz:1");
    check_load_bad("dedup", "3d21bc8729acd985:1,0123:5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_dedup_disabled),
        cmocka_unit_test(test_dedup_horizon),
        cmocka_unit_test(test_emit),
        cmocka_unit_test(test_emit_many_ids),
        cmocka_unit_test(test_load_roundtrip),
        cmocka_unit_test(test_load_unknown),
        cmocka_unit_test(test_load_malformed),
    };
    return cmocka_run_group_tests_name("customer", tests, NULL, NULL);
}
