/* tests/test-rfm.c - per-customer purchase-day statistics (core/rfm.c).
 *
 * Days used below (UTC day numbers): 1997-01-01 = 9862, 1997-01-18 = 9879,
 * 1997-08-02 = 10075, 1997-09-30 = 10134.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rfm.h"

#define DAY_MS 86400000LL
#define NOON(day) ((int64_t)(day) * DAY_MS + DAY_MS / 2)
#define D0101 9862
#define D0118 9879
#define D0802 10075
#define D0930 10134

static void check_stats(const clm_rfm *r, int64_t now_day, double unit, double x, double t_x,
                        double T, double m_x)
{
    double gx, gt, gT, gm;
    clm_rfm_stats(r, now_day, unit, &gx, &gt, &gT, &gm);
    assert_true(gx == x);
    assert_true(fabs(gt - t_x) < 1e-12);
    assert_true(fabs(gT - T) < 1e-12);
    assert_true(fabs(gm - m_x) < 1e-12);
}

static void test_empty(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    assert_int_equal(r.first_day, -1);
    assert_int_equal(r.last_day, -1);
    assert_int_equal(r.x, 0);
    assert_true(r.day_bits == 0);
    check_stats(&r, D0930, 7, 0, 0, 0, 0);
}

/* Customer 0001 of the CDNOW sample: 29.33 on 1997-01-01, 29.73 on
 * 01-18, 14.96 on 08-02; calibration ends 09-30. x = 2,
 * t_x = 213 / 7 = 30.428571, T = 272 / 7 = 38.857143, m_x = 44.69 / 2. */
static void test_in_order(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0101), 29330000);
    clm_rfm_purchase(&r, NOON(D0118), 29730000);
    clm_rfm_purchase(&r, NOON(D0802), 14960000);
    assert_int_equal(r.first_day, D0101);
    assert_int_equal(r.last_day, D0802);
    assert_int_equal(r.x, 2);
    /* 08-02 is bit 0; 01-18 is 196 days back, 01-01 213: outside the bitmap */
    assert_true(r.day_bits == 1);
    assert_true(r.first_micros == 29330000);
    assert_true(r.repeat_micros == 44690000);
    check_stats(&r, D0930, 7, 2, 213.0 / 7, 272.0 / 7, 22.345);
    /* in days, and with now before the last purchase: T ends at last_day */
    check_stats(&r, D0930, 1, 2, 213, 272, 22.345);
    check_stats(&r, D0118, 7, 2, 213.0 / 7, 213.0 / 7, 22.345);
}

/* Several purchases on one day count once; their values add up. */
static void test_same_day(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, (int64_t)D0101 * DAY_MS, 10000000);           /* 00:00:00.000 */
    clm_rfm_purchase(&r, (int64_t)D0101 * DAY_MS + DAY_MS - 1, 5000000); /* 23:59:59.999 */
    assert_int_equal(r.x, 0);
    assert_true(r.first_micros == 15000000 && r.repeat_micros == 0);
    assert_true(r.day_bits == 1);
    clm_rfm_purchase(&r, NOON(D0101 + 3), 2000000);
    clm_rfm_purchase(&r, NOON(D0101 + 3) + 3600000, 1000000);
    assert_int_equal(r.x, 1);
    assert_int_equal(r.last_day, D0101 + 3);
    assert_true(r.day_bits == 0x9); /* days +3 and +0 */
    assert_true(r.first_micros == 15000000 && r.repeat_micros == 3000000);
    check_stats(&r, D0101 + 10, 7, 1, 3.0 / 7, 10.0 / 7, 3.0);
    /* the day boundary: the next millisecond is a new day */
    clm_rfm_purchase(&r, (int64_t)(D0101 + 4) * DAY_MS, 0);
    assert_int_equal(r.x, 2);
    assert_true(r.day_bits == 0x13);
}

/* Late arrivals inside the bitmap: a day between first and last that is new
 * counts, one already counted does not. */
static void test_out_of_order(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0930 - 20), 1000000);
    clm_rfm_purchase(&r, NOON(D0930), 2000000);
    clm_rfm_purchase(&r, NOON(D0930 - 5), 4000000);  /* late, new day */
    clm_rfm_purchase(&r, NOON(D0930 - 5), 8000000);  /* late, same day again */
    clm_rfm_purchase(&r, NOON(D0930), 16000000);     /* the last day again */
    clm_rfm_purchase(&r, NOON(D0930 - 20), 32000000); /* the first day again */
    assert_int_equal(r.first_day, D0930 - 20);
    assert_int_equal(r.last_day, D0930);
    assert_int_equal(r.x, 2);
    assert_true(r.day_bits == ((1ULL << 20) | (1ULL << 5) | 1ULL));
    assert_true(r.first_micros == 33000000);
    assert_true(r.repeat_micros == 30000000);
    check_stats(&r, D0930, 7, 2, 20.0 / 7, 20.0 / 7, 15.0);

    /* the same purchases in the opposite order give the same state */
    clm_rfm s;
    clm_rfm_init(&s);
    clm_rfm_purchase(&s, NOON(D0930 - 20), 32000000);
    clm_rfm_purchase(&s, NOON(D0930), 16000000);
    clm_rfm_purchase(&s, NOON(D0930 - 5), 8000000);
    clm_rfm_purchase(&s, NOON(D0930 - 5), 4000000);
    clm_rfm_purchase(&s, NOON(D0930), 2000000);
    clm_rfm_purchase(&s, NOON(D0930 - 20), 1000000);
    assert_memory_equal(&r, &s, sizeof(r));
}

/* A late purchase before the first day: the old first day becomes a
 * repeat day and its spend moves to the repeat spend. */
static void test_new_earliest_day(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0930 - 3), 7000000);
    clm_rfm_purchase(&r, NOON(D0930), 5000000);
    assert_int_equal(r.x, 1);
    clm_rfm_purchase(&r, NOON(D0930 - 10), 9000000);
    assert_int_equal(r.first_day, D0930 - 10);
    assert_int_equal(r.last_day, D0930);
    assert_int_equal(r.x, 2);
    assert_true(r.first_micros == 9000000);
    assert_true(r.repeat_micros == 12000000);
    assert_true(r.day_bits == ((1ULL << 10) | (1ULL << 3) | 1ULL));
    check_stats(&r, D0930, 1, 2, 10, 10, 6.0);
    /* and another purchase on the new first day stays first-day spend */
    clm_rfm_purchase(&r, NOON(D0930 - 10) + 1, 1000000);
    assert_int_equal(r.x, 2);
    assert_true(r.first_micros == 10000000 && r.repeat_micros == 12000000);
    /* a single-day customer moved earlier: one repeat day */
    clm_rfm s;
    clm_rfm_init(&s);
    clm_rfm_purchase(&s, NOON(D0802), 3000000);
    clm_rfm_purchase(&s, NOON(D0802 - 1), 1000000);
    assert_int_equal(s.x, 1);
    assert_true(s.day_bits == 0x3);
    assert_true(s.first_micros == 1000000 && s.repeat_micros == 3000000);
}

/* The bitmap shifts out; a gap of 64 days or more clears it. */
static void test_bitmap_window(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    clm_rfm_purchase(&r, NOON(D0101), 1);
    clm_rfm_purchase(&r, NOON(D0101 + 63), 1);
    assert_true(r.day_bits == (1ULL << 63 | 1ULL));
    clm_rfm_purchase(&r, NOON(D0101 + 64), 1);
    assert_true(r.day_bits == (1ULL << 1 | 1ULL)); /* the first day left the window */
    clm_rfm_purchase(&r, NOON(D0101 + 200), 1);
    assert_true(r.day_bits == 1ULL);
    assert_int_equal(r.x, 3);
    /* the first day is recognised outside the window too */
    clm_rfm_purchase(&r, NOON(D0101), 5);
    assert_int_equal(r.x, 3);
    assert_true(r.first_micros == 6);
}

/* What clm_rfm_valid accepts: the states purchases can reach. */
static void test_valid(void **state)
{
    (void)state;
    clm_rfm r;
    clm_rfm_init(&r);
    assert_true(clm_rfm_valid(&r));
    clm_rfm_purchase(&r, NOON(D0930 - 40), 5);
    clm_rfm_purchase(&r, NOON(D0930), 7);
    assert_true(clm_rfm_valid(&r));
    clm_rfm t = r;
    t.x = 2; /* two repeat days, the bitmap shows one over 40 days: possible */
    assert_true(clm_rfm_valid(&t));
    t = r;
    t.x = 41; /* more repeat days than days after the first */
    assert_false(clm_rfm_valid(&t));
    t = r;
    t.day_bits = 0; /* the last day's bit clear */
    assert_false(clm_rfm_valid(&t));
    t = r;
    t.first_micros = -1;
    assert_false(clm_rfm_valid(&t));
    clm_rfm_init(&t);
    t.repeat_micros = 1; /* spend without a purchase */
    assert_false(clm_rfm_valid(&t));
    t = r;
    t.first_day = t.last_day + 1;
    assert_false(clm_rfm_valid(&t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_same_day),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_new_earliest_day),
        cmocka_unit_test(test_bitmap_window),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests_name("rfm", tests, NULL, NULL);
}
