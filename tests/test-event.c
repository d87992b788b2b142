/* tests/test-event.c - event type names and fixed-point money (core/event.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/event.h"

static void test_type_name(void **state)
{
    (void)state;
    assert_string_equal(clm_event_type_name(CLM_EV_PURCHASE), "purchase");
    assert_string_equal(clm_event_type_name(CLM_EV_ONBOARDING_COMPLETE), "onboarding_complete");
    assert_string_equal(clm_event_type_name(CLM_EV_MARKETING_SPEND), "marketing_spend");
    assert_string_equal(clm_event_type_name(CLM_EV_FORGET), "forget");
    assert_int_equal(clm_event_type_from_name("forget", 6), CLM_EV_FORGET);
    assert_string_equal(clm_event_type_name(CLM_EV_OTHER), "other");
    /* Out of range falls back to the generic bucket. */
    assert_string_equal(clm_event_type_name(CLM_EV__COUNT), "other");
    assert_string_equal(clm_event_type_name((clm_event_type)-1), "other");
}

static void test_type_from_name(void **state)
{
    (void)state;
    assert_int_equal(clm_event_type_from_name("visit", 5), CLM_EV_VISIT);
    assert_int_equal(clm_event_type_from_name("nps_response", 12), CLM_EV_NPS_RESPONSE);
    assert_int_equal(clm_event_type_from_name("csat_response", 13), CLM_EV_CSAT_RESPONSE);
    /* The length decides, not a NUL: "purchases" cut at 8 is "purchase". */
    assert_int_equal(clm_event_type_from_name("purchases", 8), CLM_EV_PURCHASE);
    assert_int_equal(clm_event_type_from_name("purchases", 9), CLM_EV_OTHER);
    assert_int_equal(clm_event_type_from_name("purchas", 7), CLM_EV_OTHER);
    /* Case-sensitive; "other" is not selectable; empty is not a type. */
    assert_int_equal(clm_event_type_from_name("Purchase", 8), CLM_EV_OTHER);
    assert_int_equal(clm_event_type_from_name("other", 5), CLM_EV_OTHER);
    assert_int_equal(clm_event_type_from_name("", 0), CLM_EV_OTHER);
}

static void test_type_round_trip(void **state)
{
    (void)state;
    /* Every built-in name maps back to its own type: 21 types. */
    int n = 0;

    for (int t = CLM_EV_OTHER + 1; t < CLM_EV__COUNT; t++, n++) {
        const char *name = clm_event_type_name((clm_event_type)t);

        assert_int_equal(clm_event_type_from_name(name, strlen(name)), t);
    }
    assert_int_equal(n, 21);
}

static int64_t amount_ok(const char *text)
{
    int64_t m = -1;

    if (clm_amount_parse(text, strlen(text), &m) != 0)
        fail_msg("'%s' was refused", text);
    return m;
}

static void amount_bad(const char *text, int want)
{
    int64_t m = 42;

    assert_int_equal(clm_amount_parse(text, strlen(text), &m), want);
    assert_int_equal(m, 42); /* untouched */
}

/* Exact decimal reading: integer micro-units straight from the digits. */
static void test_amount_parse(void **state)
{
    (void)state;
    assert_int_equal(amount_ok("49.9"), 49900000);
    assert_int_equal(amount_ok("0.000001"), 1);
    assert_int_equal(amount_ok("0"), 0);
    assert_int_equal(amount_ok("-0"), 0);           /* negative zero is zero */
    assert_int_equal(amount_ok("-0.0e5"), 0);
    assert_int_equal(amount_ok("0e999999999999"), 0);
    assert_int_equal(amount_ok("1000000000000"), 1000000000000000000LL);
    assert_int_equal(amount_ok("1e12"), 1000000000000000000LL);
    assert_int_equal(amount_ok("1E+12"), 1000000000000000000LL);
    assert_int_equal(amount_ok("1000000000000.000000000"), 1000000000000000000LL);
    assert_int_equal(amount_ok("0.1e13"), 1000000000000000000LL);
    assert_int_equal(amount_ok("1E3"), 1000000000);
    assert_int_equal(amount_ok("12.5e-1"), 1250000);
    assert_int_equal(amount_ok("1e-6"), 1);
    assert_int_equal(amount_ok("49.90000000000000000000"), 49900000); /* zeros past the 6th */
    assert_int_equal(amount_ok("4294967296.000001"), 4294967296000001LL); /* inexact as a double */
    assert_int_equal(amount_ok("999999999999.999999"), 999999999999999999LL);
    assert_int_equal(amount_ok("0.00000100"), 1);

    /* finer than a micro-unit, negative, or above 10^12 */
    amount_bad("0.0000001", -ERANGE);
    amount_bad("1e-7", -ERANGE);
    amount_bad("12.3456789", -ERANGE);
    amount_bad("1000000000000.000001", -ERANGE);
    amount_bad("1000000000000.1", -ERANGE);
    amount_bad("1000000000001", -ERANGE);
    amount_bad("1.0000000000001e12", -ERANGE);
    amount_bad("2e12", -ERANGE);
    amount_bad("1e19", -ERANGE);
    amount_bad("1e999999999999", -ERANGE);
    amount_bad("1e-999999999999", -ERANGE);
    amount_bad("-1", -ERANGE);
    amount_bad("-0.000001", -ERANGE);
    amount_bad("18446744073709551617", -ERANGE); /* 2^64 + 1: no wrap */

    /* not JSON number text: leading zeros, bare signs and points, spaces */
    amount_bad("007", -EINVAL);
    amount_bad("00.5", -EINVAL);
    amount_bad("+1", -EINVAL);
    amount_bad(".5", -EINVAL);
    amount_bad("5.", -EINVAL);
    amount_bad("1e", -EINVAL);
    amount_bad("1e+", -EINVAL);
    amount_bad("", -EINVAL);
    amount_bad("-", -EINVAL);
    amount_bad(" 1", -EINVAL);
    amount_bad("1 ", -EINVAL);
    amount_bad("0x10", -EINVAL);
    amount_bad("NaN", -EINVAL);
}

/* Sums stop at the int64 limits instead of wrapping. */
static void test_sat_add(void **state)
{
    (void)state;
    assert_int_equal(clm_sat_add(1, 2), 3);
    assert_int_equal(clm_sat_add(INT64_MAX - 1, 1), INT64_MAX);
    assert_int_equal(clm_sat_add(INT64_MAX, 1000000000000000000LL), INT64_MAX);
    assert_int_equal(clm_sat_add(9 * 1000000000000000000LL, 1000000000000000000LL), INT64_MAX);
    assert_int_equal(clm_sat_add(INT64_MIN, -1), INT64_MIN);
    assert_int_equal(clm_sat_add(INT64_MAX, INT64_MIN), -1);
}

static void check_format(int64_t micros, const char *want)
{
    char buf[32];

    assert_int_equal(clm_micros_format(micros, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_micros_format(void **state)
{
    (void)state;
    check_format(49900000, "49.9");
    check_format(12000000, "12");
    check_format(1, "0.000001");
    check_format(-1500000, "-1.5");
    check_format(0, "0");
    check_format(-1, "-0.000001");
    check_format(100000, "0.1");
    check_format(1234567, "1.234567");
    check_format(INT64_MAX, "9223372036854.775807");
    check_format(INT64_MIN, "-9223372036854.775808");
}

static void test_micros_format_small_buffer(void **state)
{
    (void)state;
    char buf[4];

    /* "49.9" needs 5 bytes with its NUL. */
    assert_int_equal(clm_micros_format(49900000, buf, sizeof(buf)), -ENOSPC);
    assert_int_equal(clm_micros_format(1200000, buf, sizeof(buf)), 3); /* "1.2" */
    assert_string_equal(buf, "1.2");
}

static void check_parse(const char *s, int64_t want)
{
    int64_t out = 0;

    assert_int_equal(clm_micros_parse(s, strlen(s), &out), 0);
    assert_int_equal(out, want);
}

static void check_parse_fails(const char *s)
{
    int64_t out = 42;

    assert_int_equal(clm_micros_parse(s, strlen(s), &out), -EINVAL);
    assert_int_equal(out, 42); /* untouched */
}

static void test_micros_parse(void **state)
{
    (void)state;
    check_parse("49.9", 49900000);
    check_parse("12", 12000000);
    check_parse("0.000001", 1);
    check_parse("-1.5", -1500000);
    check_parse("-0", 0);
    check_parse("007.50", 7500000);
    check_parse("9223372036854.775807", INT64_MAX);
    check_parse("-9223372036854.775808", INT64_MIN);
    /* Only the first len bytes count. */
    int64_t out = 0;
    assert_int_equal(clm_micros_parse("2.5xyz", 3, &out), 0);
    assert_int_equal(out, 2500000);
}

static void test_micros_parse_rejects(void **state)
{
    (void)state;
    check_parse_fails("");
    check_parse_fails("-");
    check_parse_fails("1.");
    check_parse_fails(".5");
    check_parse_fails("+1");
    check_parse_fails("1e3");
    check_parse_fails("1 ");
    check_parse_fails("1.0000001");              /* seven fraction digits */
    check_parse_fails("9223372036854.775808");   /* INT64_MAX + 1 micro-units */
    check_parse_fails("-9223372036854.775809");  /* INT64_MIN - 1 */
    check_parse_fails("9223372036855");          /* whole part alone overflows */
    check_parse_fails("99999999999999999999");
}

static void test_micros_round_trip(void **state)
{
    (void)state;
    static const int64_t values[] = {0, 1, -1, 10, 999999, 1000000, 1000001, 49900000,
                                     -1500000, 123456789012, INT64_MAX, INT64_MIN,
                                     INT64_MIN + 1};
    char buf[32];

    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        int64_t back = 7;
        int n = clm_micros_format(values[k], buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(clm_micros_parse(buf, (size_t)n, &back), 0);
        assert_int_equal(back, values[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_name),
        cmocka_unit_test(test_type_from_name),
        cmocka_unit_test(test_type_round_trip),
        cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_sat_add),
        cmocka_unit_test(test_micros_format),
        cmocka_unit_test(test_micros_format_small_buffer),
        cmocka_unit_test(test_micros_parse),
        cmocka_unit_test(test_micros_parse_rejects),
        cmocka_unit_test(test_micros_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
