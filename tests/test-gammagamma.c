/* tests/test-gammagamma.c - Gamma-Gamma spend model and discounted CLV
 * (core/gammagamma.h).
 *
 * Published values: Fader, Hardie & Lee, "RFM and CLV: Using Iso-Value Curves
 * for Customer Base Analysis", JMR 42(4), 2005, fitted on the CDNOW 1/10
 * sample in tests/data/cdnow (see its README for the conventions).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/gammagamma.h"
#include "core/timeutil.h"

#define CDNOW_PATH CLM_TEST_DATA_DIR "/cdnow/CDNOW_sample.txt"

static const clm_gg_params cdnow_gg = { .p = 6.25, .q = 3.74, .gamma = 15.44 };
static const clm_bgnbd_params cdnow_bg = { .r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426 };

typedef struct spends {
    double *x, *m_x;
    size_t n;
} spends;

static void spends_free(spends *s)
{
    free(s->x);
    free(s->m_x);
}

/* Reads the CDNOW sample (rows grouped by customer, dates ascending) into
 * (x, m_x) per customer over the calibration period (to 1997-09-30): rows of
 * one day are summed into one purchase, x = purchase days - 1, and m_x is the
 * mean value of the repeat purchase days (the first day left out; 0 when x = 0). */
static void load_cdnow(spends *s)
{
    FILE *f = fopen(CDNOW_PATH, "r");
    assert_non_null(f);
    size_t cap = 4096;
    *s = (spends){ malloc(cap * sizeof(double)), malloc(cap * sizeof(double)), 0 };
    assert_true(s->x && s->m_x);
    int64_t end = clm_days_from_civil(1997, 9, 30);
    long prev = -1;
    int64_t last = 0;
    unsigned days = 0;
    double day_value = 0.0, repeat_sum = 0.0;
    char line[256];
    for (;;) {
        long master, cust, date;
        double cds, value;
        bool more = fgets(line, sizeof(line), f) != NULL;
        if (more)
            assert_int_equal(sscanf(line, "%ld %ld %ld %lf %lf", &master, &cust, &date, &cds,
                                    &value), 5);
        if (!more || cust != prev) {
            if (prev >= 0) {
                if (days > 1)
                    repeat_sum += day_value;
                assert_true(s->n < cap);
                s->x[s->n] = days - 1.0;
                s->m_x[s->n] = days > 1 ? repeat_sum / (days - 1.0) : 0.0;
                s->n++;
            }
            if (!more)
                break;
            prev = cust;
            last = clm_days_from_civil(date / 10000, (unsigned)(date / 100 % 100),
                                       (unsigned)(date % 100));
            days = 1;
            day_value = value;
            repeat_sum = 0.0;
            continue;
        }
        int64_t day = clm_days_from_civil(date / 10000, (unsigned)(date / 100 % 100),
                                          (unsigned)(date % 100));
        if (day > end)
            continue;
        if (day == last) {
            day_value += value;
            continue;
        }
        if (days > 1)
            repeat_sum += day_value; /* the day just closed was a repeat day */
        days++;
        last = day;
        day_value = value;
    }
    fclose(f);
}

static void test_ll_one(void **state)
{
    (void)state;
    /* x = 2, m_x = 22.345 at the published estimates; p x = 12.5:
     *   lnG(16.24) - lnG(12.5) - lnG(3.74)       = 28.5589625 - 18.7343475 - 1.4750055
     *   + 3.74 ln 15.44 + 11.5 ln 22.345         = 10.2362362 + 35.7259297
     *   + 12.5 ln 2 - 16.24 ln(15.44 + 44.69)    = 8.6643398 - 66.5273043
     *   = -3.5511891 */
    assert_true(fabs(clm_gg_ll_one(&cdnow_gg, 2, 22.345) - -3.5511892) < 1e-6);
    assert_true(isnan(clm_gg_ll_one(&cdnow_gg, 0, 22.345))); /* no repeat purchase */
    assert_true(isnan(clm_gg_ll_one(&cdnow_gg, 2, 0)));
    assert_true(isnan(clm_gg_ll_one(&cdnow_gg, 2.5, 10)));
}

static void test_expected_spend(void **state)
{
    (void)state;
    /* x = 2, m_x = 22.345:
     *   p (gamma + x m_x) / (p x + q - 1) = 6.25 * (15.44 + 44.69) / (12.5 + 2.74)
     *   = 6.25 * 60.13 / 15.24 = 375.8125 / 15.24 = 24.6596129
     * = weights 2.74 / 15.24 = 0.1797900 on the population mean
     *   6.25 * 15.44 / 2.74 = 96.5 / 2.74 = 35.2189781, and 12.5 / 15.24 = 0.8202100
     *   on 22.345: 6.3320210 + 18.3275919 = 24.6596129. */
    assert_true(fabs(clm_gg_expected_spend(&cdnow_gg, 2, 22.345) - 24.6596129) < 1e-7);
    /* x = 0: the population mean, whatever m_x says. */
    assert_true(fabs(clm_gg_expected_spend(&cdnow_gg, 0, 0) - 35.2189781) < 1e-7);
    assert_true(fabs(clm_gg_expected_spend(&cdnow_gg, 0, 1000) - 35.2189781) < 1e-7);
    /* Many purchases: close to the customer's own mean. x = 1000, m_x = 10:
     * 6.25 * (15.44 + 10000) / (6250 + 2.74) = 62596.5 / 6252.74 = 10.0110512 */
    assert_true(fabs(clm_gg_expected_spend(&cdnow_gg, 1000, 10) - 10.0110512) < 1e-7);

    clm_gg_params heavy = cdnow_gg;
    heavy.q = 0.9; /* no population mean */
    assert_true(isnan(clm_gg_expected_spend(&heavy, 0, 0)));
    /* but x = 2: 6.25 * 60.13 / (12.5 - 0.1) = 375.8125 / 12.4 = 30.3074597 */
    assert_true(fabs(clm_gg_expected_spend(&heavy, 2, 22.345) - 30.3074597) < 1e-7);
    assert_true(isnan(clm_gg_expected_spend(&cdnow_gg, 2, -1)));
}

static void test_fit_cdnow(void **state)
{
    (void)state;
    spends s;
    load_cdnow(&s);
    assert_int_equal(s.n, 2357);
    size_t repeaters = 0;
    for (size_t i = 0; i < s.n; i++)
        repeaters += s.x[i] > 0;
    assert_int_equal(repeaters, 946);

    clm_gg_params p;
    clm_fit_report rep;
    char err[160] = "";
    /* All 2357 customers go in; those with x = 0 are skipped. */
    assert_int_equal(clm_gg_fit(s.x, s.m_x, NULL, s.n, NULL, NULL, &p, &rep, err, sizeof(err)),
                     0);
    assert_true(fabs(p.p - 6.25) <= 0.005);
    assert_true(fabs(p.q - 3.74) <= 0.005);
    assert_true(fabs(p.gamma - 15.44) <= 0.005);
    assert_true(fabs(rep.loglik - -4055.92) < 0.01);
    assert_true(rep.n == 946.0);

    double ll = 0.0;
    for (size_t i = 0; i < s.n; i++)
        if (s.x[i] > 0)
            ll += clm_gg_ll_one(&cdnow_gg, s.x[i], s.m_x[i]);
    assert_true(rep.loglik >= ll);

    /* The same spends in cents: gamma is 100 times larger, p and q do not
     * move, and each density is divided by 100: 946 ln 100 = 4356.4910. */
    double *cents = malloc(s.n * sizeof(double));
    assert_non_null(cents);
    for (size_t i = 0; i < s.n; i++)
        cents[i] = s.m_x[i] * 100.0;
    clm_gg_params pc;
    clm_fit_report repc;
    assert_int_equal(clm_gg_fit(s.x, cents, NULL, s.n, NULL, NULL, &pc, &repc, err,
                                sizeof(err)), 0);
    assert_true(fabs(pc.gamma / (100.0 * p.gamma) - 1.0) < 1e-4);
    assert_true(fabs(pc.p / p.p - 1.0) < 1e-4 && fabs(pc.q / p.q - 1.0) < 1e-4);
    assert_true(fabs(repc.loglik - (rep.loglik - 4356.4910)) < 1e-3);
    free(cents);
    spends_free(&s);
}

static void test_fit_failures(void **state)
{
    (void)state;
    clm_gg_params p = { -1, -2, -3 };
    clm_fit_report rep = { .loglik = 7, .n = 8 };
    char err[160] = "";
    enum { N = 1000 };
    double x[N], m[N];

    /* Nobody came back. */
    for (size_t i = 0; i < N; i++) {
        x[i] = 0;
        m[i] = 0;
    }
    assert_int_equal(clm_gg_fit(x, m, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "no customers with x > 0"));

    /* A repeat buyer must have a positive mean spend. */
    x[5] = 2;
    assert_int_equal(clm_gg_fit(x, m, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "customer 5: m_x"));

    /* Every customer spent exactly 50 three times: zero spread, so the
     * likelihood grows without bound as p -> infinity. */
    for (size_t i = 0; i < N; i++) {
        x[i] = 3;
        m[i] = 50;
    }
    assert_int_equal(clm_gg_fit(x, m, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)), -EDOM);
    assert_non_null(strstr(err, "parameter p ran off"));

    /* One purchase each, with p = 1, q = 0.7, gamma = 10: for x = 1 the model
     * makes m = gamma B / (1 - B) with B ~ Beta(p, q), and for p = 1 the
     * quantile of B is 1 - (1 - u)^(1/q), so m = 10 ((1 - u)^(-1/0.7) - 1) at
     * u = (i + 1/2) / N is an exact sample. Its mean is infinite (q < 1); the
     * fit finds q = 0.7004 and refuses it. */
    for (size_t i = 0; i < N; i++) {
        double u = (i + 0.5) / N;
        x[i] = 1;
        m[i] = 10.0 * (pow(1.0 - u, -1.0 / 0.7) - 1.0);
    }
    assert_int_equal(clm_gg_fit(x, m, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)), -EDOM);
    assert_non_null(strstr(err, "fitted q = 0.70"));

    assert_true(p.p == -1 && p.q == -2 && p.gamma == -3);
    assert_true(rep.loglik == 7 && rep.n == 8);
}

static void test_clv(void **state)
{
    (void)state;
    /* The customer of the BG/NBD paper's example (x = 2, t_x = 30.43,
     * T = 38.86 weeks) with a repeat mean spend of 22.345: E[M] = 24.6596129. */
    clm_clv_opts o = { .margin = 0.3, .annual_discount = 0.1, .periods_per_year = 52,
                       .horizon = 2 };
    /* H = 2 weeks: E[Y(1)] = 0.0374480, E[Y(2)] = 0.0744789,
     * 1 / (1 + d) = 1.1^(-1/52) = 0.9981688:
     *   0.3 * 24.6596129 * (0.0374480 * 0.9981688 + 0.0370309 * 0.9963409)
     *   = 7.3978839 * (0.0373794 + 0.0368954) = 7.3978839 * 0.0742748 = 0.5494766 */
    double clv = clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o);
    assert_true(fabs(clv - 0.5494766) < 1e-6);

    /* No discounting: the sum telescopes to margin * E[M] * E[Y(H)];
     * H = 39: 1 * 24.6596129 * 1.2260282 = 30.2333801. */
    o = (clm_clv_opts){ .margin = 1, .annual_discount = 0, .periods_per_year = 52,
                        .horizon = 39 };
    clv = clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o);
    assert_true(fabs(clv - 30.2333801) < 1e-6);

    /* Discounting lowers it, and H = 0 is worth nothing. */
    o.annual_discount = 0.1;
    assert_true(clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o) < clv);
    o.horizon = 0;
    assert_true(clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o) == 0.0);

    o = (clm_clv_opts){ .margin = 1.5, .annual_discount = 0.1, .periods_per_year = 52,
                        .horizon = 4 };
    assert_true(isnan(clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o)));
    o.margin = 0.3;
    o.periods_per_year = 0;
    assert_true(isnan(clm_clv_discounted(&cdnow_bg, &cdnow_gg, 2, 30.43, 38.86, 22.345, &o)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ll_one),
        cmocka_unit_test(test_expected_spend),
        cmocka_unit_test(test_fit_cdnow),
        cmocka_unit_test(test_fit_failures),
        cmocka_unit_test(test_clv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
