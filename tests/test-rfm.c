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

/* What clm_rfm_emit wrote, as "name=value;" pairs. */
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
    assert_int_equal(clm_rfm_emit(r, collect, &e), 0);
    assert_int_equal(e.calls, 5);
    assert_string_equal(e.text, want);
}

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
    check_emit(&r, "repeat_days=0;first_purchase_day=;last_purchase_day=;repeat_spend_avg=0;"
                   "rfm=-1:-1:0:0000000000000000:0:0;");
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
    check_emit(&r, "repeat_days=2;first_purchase_day=1997-01-01;last_purchase_day=1997-08-02;"
                   "repeat_spend_avg=22.345;rfm=9862:10075:2:0000000000000001:29330000:44690000;");
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
    check_emit(&r, "repeat_days=2;first_purchase_day=1997-01-01;last_purchase_day=1997-01-05;"
                   "repeat_spend_avg=1.5;rfm=9862:9866:2:0000000000000013:15000000:3000000;");
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

static void test_repeat_spend_rounding(void **state)
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
    assert_int_equal(clm_rfm_emit(&r, collect, &e), 0);
    assert_non_null(strstr(e.text, "repeat_spend_avg=0.000001;"));
    clm_rfm_purchase(&r, NOON(D0101 + 5), 0);
    e = (emitted){ .len = 0 };
    assert_int_equal(clm_rfm_emit(&r, collect, &e), 0);
    assert_non_null(strstr(e.text, "repeat_spend_avg=0;")); /* 2 / 5 = 0.4 */
}

/* Feeds every emitted field back through clm_rfm_load_field. */
typedef struct loader {
    clm_rfm *r;
    int loaded;
} loader;

static int load_back(void *ctx, const char *name, const char *value, size_t len)
{
    loader *l = ctx;
    int rc = clm_rfm_load_field(l->r, name, strlen(name), value, len);
    assert_int_equal(rc, 1);
    l->loaded++;
    return 0;
}

static void test_round_trip(void **state)
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
    assert_int_equal(clm_rfm_emit(&r, load_back, &l), 0);
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
    assert_int_equal(clm_rfm_emit(&none, load_back, &l), 0);
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
    int rc = clm_rfm_load_field(&r, name, strlen(name), value, strlen(value));
    if (rc != want)
        fail_msg("%s=\"%s\": %d, expected %d", name, value, rc, want);
    if (rc != 1 || strcmp(name, "rfm") != 0)
        assert_memory_equal(&r, &before, sizeof(r)); /* untouched */
}

static void test_malformed(void **state)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_same_day),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_new_earliest_day),
        cmocka_unit_test(test_bitmap_window),
        cmocka_unit_test(test_repeat_spend_rounding),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("rfm", tests, NULL, NULL);
}
