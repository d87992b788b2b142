/* tests/test-watermark.c - a partition's confirmed event time and the rule
 * that keeps one event, or one customer, far ahead from moving it
 * (core/watermark.c), and its stored form (store/ahead.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/event.h"
#include "core/watermark.h"
#include "store/ahead.h"

#define DAY 86400000LL
/* 2026-03-01T00:00:00Z (day 20513) and 2031-03-01T00:00:00Z (day 22339). */
#define T0 (20513 * DAY)
#define Y2031 (22339 * DAY)

static const clm_wm_rule RULE = { .max_jump_ms = DAY, .quorum = 3 };

static uint64_t src(const char *id)
{
    return clm_wm_source(id, strlen(id));
}

static bool see(clm_wm *w, const char *id, int64_t ts)
{
    return clm_wm_observe(w, &RULE, src(id), ts);
}

static void test_first_event_and_small_steps(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, CLM_NO_TS);
    assert_true(see(&w, "a", T0));            /* the first event sets max_ts */
    assert_int_equal(w.max_ts, T0);
    assert_false(see(&w, "b", T0 - 5 * DAY)); /* older: nothing */
    assert_true(see(&w, "a", T0 + DAY));      /* exactly max_jump ahead: moves */
    assert_int_equal(w.max_ts, T0 + DAY);
    assert_true(see(&w, "a", T0 + 2 * DAY - 1));
    assert_int_equal(w.max_ts, T0 + 2 * DAY - 1);
    assert_int_equal(w.nahead, 0);
}

/* One event dated 2031 leaves max_ts where it was; the partition's events go
 * on raising it; more 2031 events of the same customer change nothing. */
static void test_one_event_far_ahead(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, T0);
    assert_false(see(&w, "poison", Y2031));
    assert_int_equal(w.max_ts, T0);
    assert_int_equal(w.nahead, 1);
    assert_int_equal(w.ahead[0].source, src("poison"));
    assert_int_equal(w.ahead[0].ts, Y2031);
    assert_int_equal(w.ahead[0].base, T0);
    assert_true(see(&w, "b", T0 + 3600000));
    assert_int_equal(w.max_ts, T0 + 3600000);
    for (int i = 1; i <= 50; i++)
        assert_false(see(&w, "poison", Y2031 + i));
    assert_int_equal(w.max_ts, T0 + 3600000);
    assert_int_equal(w.nahead, 1);
    assert_int_equal(w.ahead[0].ts, Y2031 + 50);
    assert_int_equal(w.ahead[0].base, T0 + 3600000); /* refreshed by its latest */
    /* A second customer far ahead is not a quorum of 3 either. */
    assert_false(see(&w, "poison2", Y2031 + DAY));
    assert_int_equal(w.max_ts, T0 + 3600000);
    assert_int_equal(w.nahead, 2);
}

/* After a pause the whole partition resumes 30 days later: the first two
 * customers wait, the third confirms, and max_ts moves to the earliest of
 * the three. */
static void test_real_advance_after_pause(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, T0);
    int64_t t = T0 + 30 * DAY;
    assert_false(see(&w, "a", t + 3000));
    assert_false(see(&w, "b", t + 1000));
    assert_false(see(&w, "a", t + 4000)); /* the same customer again */
    assert_int_equal(w.max_ts, T0);
    assert_true(see(&w, "c", t + 2000));
    assert_int_equal(w.max_ts, t + 1000);  /* b's, the earliest */
    assert_int_equal(w.nahead, 0);
    assert_true(see(&w, "d", t + 5000));   /* within max_jump: moves at once */
    assert_int_equal(w.max_ts, t + 5000);
}

/* A source ahead is forgotten once max_ts has gone more than max_jump past
 * the max_ts at its latest ahead event, so an old poison does not help two
 * later customers far ahead to a quorum. */
static void test_forgotten_when_the_partition_moves_on(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, T0);
    assert_false(see(&w, "poison", Y2031));
    assert_true(see(&w, "b", T0 + DAY));
    assert_int_equal(w.nahead, 1);           /* T0 + DAY - T0 = max_jump: kept */
    assert_true(see(&w, "b", T0 + DAY + 1));
    assert_int_equal(w.nahead, 0);           /* one ms more: forgotten */
    assert_false(see(&w, "x", Y2031 + 1));
    assert_false(see(&w, "y", Y2031 + 2));
    assert_int_equal(w.max_ts, T0 + DAY + 1);
    assert_int_equal(w.nahead, 2);
    assert_true(see(&w, "poison", Y2031));   /* three distinct now */
    assert_int_equal(w.max_ts, Y2031);
}

/* Events without a customer are one source. */
static void test_no_customer_is_one_source(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, T0);
    uint64_t none = clm_wm_source("", 0);
    for (int i = 0; i < 5; i++)
        assert_false(clm_wm_observe(&w, &RULE, none, T0 + 10 * DAY + i));
    assert_int_equal(w.nahead, 1);
    assert_int_equal(w.max_ts, T0);
}

static void test_rule_off(void **state)
{
    (void)state;
    const clm_wm_rule one = { .max_jump_ms = DAY, .quorum = 1 };
    const clm_wm_rule nojump = { .max_jump_ms = 0, .quorum = 3 };
    clm_wm w;
    clm_wm_init(&w, T0);
    assert_true(clm_wm_observe(&w, &one, src("p"), Y2031));
    assert_int_equal(w.max_ts, Y2031);
    clm_wm_init(&w, T0);
    assert_true(clm_wm_observe(&w, &nojump, src("p"), Y2031));
    assert_int_equal(w.max_ts, Y2031);
    assert_int_equal(w.nahead, 0);
}

/* A lower quorum than the sources waiting (a changed configuration)
 * confirms at the next event ahead; 15 sources is the most ever kept. */
static void test_quorum_bounds(void **state)
{
    (void)state;
    const clm_wm_rule max = { .max_jump_ms = DAY, .quorum = CLM_WM_QUORUM_MAX };
    char id[8];
    clm_wm w;
    clm_wm_init(&w, T0);
    for (int i = 0; i < CLM_WM_QUORUM_MAX - 1; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        assert_false(clm_wm_observe(&w, &max, src(id), T0 + 2 * DAY + i));
    }
    assert_int_equal(w.nahead, CLM_WM_QUORUM_MAX - 1);
    assert_int_equal(clm_wm_check(&w), 0);
    clm_wm v = w;
    assert_true(clm_wm_observe(&v, &max, src("last"), T0 + 9 * DAY));
    assert_int_equal(v.max_ts, T0 + 2 * DAY);
    assert_true(see(&w, "c0", T0 + 3 * DAY)); /* quorum 3 now: 15 are waiting */
    assert_int_equal(w.max_ts, T0 + 2 * DAY);
    assert_int_equal(w.nahead, 0);
}

static void test_check(void **state)
{
    (void)state;
    clm_wm w;
    clm_wm_init(&w, T0);
    assert_false(see(&w, "a", T0 + 2 * DAY));
    assert_false(see(&w, "b", T0 + 3 * DAY));
    assert_int_equal(clm_wm_check(&w), 0);
    clm_wm bad = w;
    bad.ahead[1].source = bad.ahead[0].source;
    assert_int_equal(clm_wm_check(&bad), -EINVAL);
    bad = w;
    bad.ahead[0].base = T0 + 1; /* after max_ts */
    assert_int_equal(clm_wm_check(&bad), -EINVAL);
    bad = w;
    bad.ahead[0].ts = bad.ahead[0].base;
    assert_int_equal(clm_wm_check(&bad), -EINVAL);
    bad = w;
    bad.max_ts = CLM_NO_TS;
    assert_int_equal(clm_wm_check(&bad), -EINVAL);
    bad = w;
    bad.nahead = CLM_WM_QUORUM_MAX;
    assert_int_equal(clm_wm_check(&bad), -EINVAL);
}

static void test_stored_form(void **state)
{
    (void)state;
    char buf[CLM_AHEAD_TEXT_MAX];
    clm_wm w, r;
    clm_wm_init(&w, 5000);
    assert_int_equal(clm_ahead_encode(&w, buf), 0);
    assert_string_equal(buf, "");
    w.ahead[0] = (clm_wm_ahead){ .source = 0x0123456789abcdefULL, .ts = 90000000, .base = 4000 };
    w.ahead[1] = (clm_wm_ahead){ .source = 7, .ts = 100000000, .base = 5000 };
    w.nahead = 2;
    const char *want = "1;0123456789abcdef:90000000:4000;0000000000000007:100000000:5000";
    assert_int_equal(clm_ahead_encode(&w, buf), strlen(want));
    assert_string_equal(buf, want);
    clm_wm_init(&r, 5000);
    assert_int_equal(clm_ahead_decode(buf, strlen(buf), &r), 0);
    assert_int_equal(r.nahead, 2);
    assert_memory_equal(r.ahead, w.ahead, 2 * sizeof(w.ahead[0]));
    assert_int_equal(clm_ahead_decode("", 0, &r), 0);
    assert_int_equal(r.nahead, 0);

    static const char *const bad[] = {
        "1",                                   /* no source */
        "2;0000000000000007:100000000:5000",   /* unknown version */
        "1;000000000000007:100000000:5000",    /* 15 hex digits */
        "1;000000000000000A:100000000:5000",   /* upper case */
        "1;0000000000000007:100000000:05000",  /* leading zero */
        "1;0000000000000007:100000000:6000",   /* base after max_ts */
        "1;0000000000000007:100000000:5000;",  /* trailing */
        "1;0000000000000007:100000000:5000 ",
        "1;0000000000000007:-1:5000",
        "1;0000000000000007:253402300800000:5000", /* past 9999-12-31 */
        "1;0000000000000007:100000000:5000;0000000000000007:100000001:5000", /* twice */
    };
    clm_wm_init(&r, 5000);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r.nahead = 9;
        assert_int_equal(clm_ahead_decode(bad[i], strlen(bad[i]), &r), -EINVAL);
        assert_int_equal(r.nahead, 9); /* untouched */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_event_and_small_steps),
        cmocka_unit_test(test_one_event_far_ahead),
        cmocka_unit_test(test_real_advance_after_pause),
        cmocka_unit_test(test_forgotten_when_the_partition_moves_on),
        cmocka_unit_test(test_no_customer_is_one_source),
        cmocka_unit_test(test_rule_off),
        cmocka_unit_test(test_quorum_bounds),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_stored_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
