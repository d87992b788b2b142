/* tests/test-timeutil.c - RFC 3339 parsing and calendar math (core/timeutil.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"

/* 2026-11-22T10:15:00Z: 2026-01-01 is day 56 * 365 + 14 leap days (1972..2024)
 * = 20454; Nov 22 is day-of-year 304 + 21 = 325, so day 20779;
 * 20779 * 86400000 + (10 * 3600 + 15 * 60) * 1000 = 1795305600000 + 36900000. */
#define EXAMPLE_MS 1795342500000LL

static void check_ok(const char *s, int64_t want)
{
    int64_t ms = -5;

    assert_int_equal(clm_rfc3339_parse(s, strlen(s), &ms), 0);
    assert_int_equal(ms, want);
}

static void check_bad(const char *s)
{
    int64_t ms = 42;

    assert_int_equal(clm_rfc3339_parse(s, strlen(s), &ms), -EINVAL);
    assert_int_equal(ms, 42); /* untouched */
}

static void test_days_from_civil(void **state)
{
    (void)state;
    assert_int_equal(clm_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(clm_days_from_civil(2000, 3, 1), 11017);  /* 10957 + 31 + 29 */
    assert_int_equal(clm_days_from_civil(2000, 2, 29), 11016);
    assert_int_equal(clm_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(clm_days_from_civil(2026, 11, 22), 20779);
    /* CLM_TS_MAX_MS + 1 = 253402300800000 = 2932897 days exactly. */
    assert_int_equal(clm_days_from_civil(9999, 12, 31), 2932896);
    assert_int_equal(clm_days_from_civil(0, 3, 1), -719468);    /* Hinnant's epoch shift */
}

static void test_civil_from_days(void **state)
{
    (void)state;
    int64_t y;
    unsigned m, d;

    clm_civil_from_days(11017, &y, &m, &d);
    assert_int_equal(y, 2000);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    clm_civil_from_days(-1, &y, &m, &d);
    assert_int_equal(y, 1969);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
    clm_civil_from_days(2932896, &y, &m, &d);
    assert_int_equal(y, 9999);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
    /* Inverse of days_from_civil across 1900..2100 (73049 days). */
    for (int64_t z = clm_days_from_civil(1900, 1, 1); z <= clm_days_from_civil(2100, 12, 31); z++) {
        clm_civil_from_days(z, &y, &m, &d);
        assert_int_equal(clm_days_from_civil(y, m, d), z);
    }
}

static void test_day_of_ms(void **state)
{
    (void)state;
    assert_int_equal(clm_day_of_ms(0), 0);
    assert_int_equal(clm_day_of_ms(86399999), 0);
    assert_int_equal(clm_day_of_ms(86400000), 1);
    assert_int_equal(clm_day_of_ms(-1), -1); /* floor, not truncation */
    assert_int_equal(clm_day_of_ms(-86400000), -1);
    assert_int_equal(clm_day_of_ms(-86400001), -2);
    assert_int_equal(clm_day_of_ms(EXAMPLE_MS), 20779);
}

static void test_formatting(void **state)
{
    (void)state;
    char day[11], ts[25];

    clm_day_format(20779, day);
    assert_string_equal(day, "2026-11-22");
    clm_day_format(0, day);
    assert_string_equal(day, "1970-01-01");
    clm_ts_format(EXAMPLE_MS, ts);
    assert_string_equal(ts, "2026-11-22T10:15:00.000Z");
    clm_ts_format(EXAMPLE_MS + 45123, ts);
    assert_string_equal(ts, "2026-11-22T10:15:45.123Z");
    clm_ts_format(-1, ts);
    assert_string_equal(ts, "1969-12-31T23:59:59.999Z");
    clm_ts_format(CLM_TS_MAX_MS, ts);
    assert_string_equal(ts, "9999-12-31T23:59:59.999Z");
}

static void test_rfc3339_utc(void **state)
{
    (void)state;
    check_ok("2026-11-22T10:15:00Z", EXAMPLE_MS);
    check_ok("2026-11-22t10:15:00z", EXAMPLE_MS);
    check_ok("2026-11-22 10:15:00Z", EXAMPLE_MS);
    check_ok("1970-01-01T00:00:00Z", 0);
    check_ok("9999-12-31T23:59:59.999Z", CLM_TS_MAX_MS);
}

static void test_rfc3339_offsets(void **state)
{
    (void)state;
    /* 15:45 at +05:30 is 15:45 - 5:30 = 10:15 UTC. */
    check_ok("2026-11-22T15:45:00+05:30", EXAMPLE_MS);
    /* 04:15 at -06:00 is 04:15 + 6:00 = 10:15 UTC. */
    check_ok("2026-11-22T04:15:00-06:00", EXAMPLE_MS);
    check_ok("2026-11-22T10:15:00+00:00", EXAMPLE_MS);
    check_ok("2026-11-22T10:15:00-00:00", EXAMPLE_MS);
    /* 00:30 at +01:00 is 23:30 UTC the day before: EXAMPLE day start - 30 min. */
    check_ok("2026-11-22T00:30:00+01:00", 1795305600000LL - 1800000);
}

static void test_rfc3339_fractions(void **state)
{
    (void)state;
    check_ok("2026-11-22T10:15:00.1Z", EXAMPLE_MS + 100);
    check_ok("2026-11-22T10:15:00.12Z", EXAMPLE_MS + 120);
    check_ok("2026-11-22T10:15:00.123Z", EXAMPLE_MS + 123);
    check_ok("2026-11-22T10:15:00.9999Z", EXAMPLE_MS + 999);        /* truncated */
    check_ok("2026-11-22T10:15:00.123456789Z", EXAMPLE_MS + 123);
    check_ok("2026-11-22T15:45:00.500+05:30", EXAMPLE_MS + 500);
    check_bad("2026-11-22T10:15:00.Z");
    check_bad("2026-11-22T10:15:00.1234567890Z"); /* ten digits */
}

static void test_rfc3339_leap_years(void **state)
{
    (void)state;
    /* 2024-01-01 is day 54 * 365 + 13 = 19723; + 31 + 28 = 19782. */
    check_ok("2024-02-29T00:00:00Z", 19782LL * 86400000);
    check_ok("2000-02-29T00:00:00Z", 11016LL * 86400000); /* divisible by 400 */
    check_bad("2026-02-29T00:00:00Z");
    check_bad("1900-02-29T00:00:00Z"); /* divisible by 100, not 400 */
}

static void test_rfc3339_leap_second(void **state)
{
    (void)state;
    /* :60 rolls into the next minute: 2017-01-01T00:00:00Z is day 17167,
     * 17167 * 86400000 = 1483228800000. */
    check_ok("2016-12-31T23:59:60Z", 1483228800000LL);
    check_ok("2017-01-01T00:00:00Z", 1483228800000LL);
    check_ok("2016-12-31T23:59:60.250Z", 1483228800250LL);
    /* The same second at an offset: 18:59:60-05:00 and 05:29:60+05:30 are
     * 23:59:60 UTC. */
    check_ok("2016-12-31T18:59:60-05:00", 1483228800000LL);
    check_ok("2017-01-01T05:29:60+05:30", 1483228800000LL);
    /* The first and an early leap second: 1972-07-01 is day 912. */
    check_ok("1972-06-30T23:59:60Z", 912LL * 86400000);
    check_ok("2015-06-30T23:59:60Z", 16617LL * 86400000);
    /* Second 60 anywhere else is not a time: not at 23:59 UTC ... */
    check_bad("2016-12-31T12:34:60Z");
    check_bad("2016-12-31T23:58:60Z");
    check_bad("2016-12-31T23:59:60+01:00"); /* 22:59:60 UTC */
    check_bad("2017-01-01T00:59:60-01:00"); /* 01:59:60 UTC */
    /* ... nor at 23:59:60 UTC of a day without a leap second */
    check_bad("2026-03-10T23:59:60Z");
    check_bad("2016-06-30T23:59:60Z");
    check_bad("2031-12-31T23:59:60Z");
    check_bad("9999-12-31T23:59:60Z");
    assert_true(clm_leap_second_day(17166));  /* 2016-12-31 */
    assert_false(clm_leap_second_day(17167));
    assert_true(clm_leap_second_day(911));    /* 1972-06-30 */
    assert_false(clm_leap_second_day(0));
}

static void test_rfc3339_invalid(void **state)
{
    (void)state;
    check_bad("2026-13-01T00:00:00Z");
    check_bad("2026-00-10T00:00:00Z");
    check_bad("2026-04-31T00:00:00Z");
    check_bad("2026-11-00T00:00:00Z");
    check_bad("2026-11-22T24:00:00Z");
    check_bad("2026-11-22T23:60:00Z");
    check_bad("2026-11-22T10:15:61Z");
    check_bad("2026-11-22T10:15:00");        /* no offset */
    check_bad("2026-11-22T10:15:00+24:00");
    check_bad("2026-11-22T10:15:00+05:60");
    check_bad("2026-11-22T10:15:00+0530");
    check_bad("2026-11-22T10:15Z");
    check_bad("2026-11-22X10:15:00Z");
    check_bad("2026-11-22T10:15:00Zx");
    check_bad("26-11-22T10:15:00Z");
    check_bad("2026-1-22T10:15:00Z");
    check_bad("+2026-11-22T10:15:00Z");
    check_bad("2026-11-22T10:15:00 Z");
    check_bad("");
    check_bad("1969-12-31T23:59:59Z");       /* before the epoch */
    check_bad("1970-01-01T00:00:00+00:01");  /* 1969-12-31T23:59:00Z */
}

static void test_rfc3339_length_bound(void **state)
{
    (void)state;
    int64_t ms = 0;
    const char *s = "2026-11-22T10:15:00Zjunk";

    /* Only len bytes are read. */
    assert_int_equal(clm_rfc3339_parse(s, 20, &ms), 0);
    assert_int_equal(ms, EXAMPLE_MS);
    assert_int_equal(clm_rfc3339_parse(s, 19, &ms), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_civil_from_days),
        cmocka_unit_test(test_day_of_ms),
        cmocka_unit_test(test_formatting),
        cmocka_unit_test(test_rfc3339_utc),
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_fractions),
        cmocka_unit_test(test_rfc3339_leap_years),
        cmocka_unit_test(test_rfc3339_leap_second),
        cmocka_unit_test(test_rfc3339_invalid),
        cmocka_unit_test(test_rfc3339_length_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
