/* tests/test-bgnbd.c - BG/NBD likelihood, predictions and fit (core/bgnbd.h).
 *
 * Published values: Fader, Hardie & Lee, "Counting Your Customers the Easy
 * Way", Marketing Science 24(2), 2005, fitted on the CDNOW 1/10 sample in
 * tests/data/cdnow (see its README for the calibration conventions).
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

#include "core/bgnbd.h"
#include "core/timeutil.h"
#include "tests/simrng.h"

#define CDNOW_PATH CLM_TEST_DATA_DIR "/cdnow/CDNOW_sample.txt"

/* The published CDNOW estimates. */
static const clm_bgnbd_params cdnow = { .r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426 };

/* ---- CDNOW calibration summaries ---------------------------------------- */

typedef struct summaries {
    double *x, *t_x, *T;
    size_t n;
} summaries;

static void summaries_free(summaries *s)
{
    free(s->x);
    free(s->t_x);
    free(s->T);
}

/* Reads the CDNOW sample (rows grouped by customer, dates ascending) into one
 * summary per customer: calibration ends 1997-09-30; x = distinct purchase
 * days - 1; t_x = (last day - first day) / 7; T = (1997-09-30 - first day) / 7. */
static void load_cdnow(summaries *s)
{
    FILE *f = fopen(CDNOW_PATH, "r");
    assert_non_null(f);
    size_t cap = 4096;
    *s = (summaries){ malloc(cap * sizeof(double)), malloc(cap * sizeof(double)),
                      malloc(cap * sizeof(double)), 0 };
    assert_true(s->x && s->t_x && s->T);
    int64_t end = clm_days_from_civil(1997, 9, 30);
    long prev = -1;
    int64_t first = 0, last = 0;
    unsigned days = 0;
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
                assert_true(s->n < cap);
                s->x[s->n] = days - 1.0;
                s->t_x[s->n] = (double)(last - first) / 7.0;
                s->T[s->n] = (double)(end - first) / 7.0;
                s->n++;
            }
            if (!more)
                break;
            prev = cust;
            first = last = clm_days_from_civil(date / 10000, (unsigned)(date / 100 % 100),
                                               (unsigned)(date % 100));
            days = 1;
            continue;
        }
        int64_t day = clm_days_from_civil(date / 10000, (unsigned)(date / 100 % 100),
                                          (unsigned)(date % 100));
        if (day <= end && day != last) {
            days++;
            last = day;
        }
    }
    fclose(f);
}

/* One customer of the BG/NBD generative process observed for T: rate
 * lambda ~ Gamma(r, alpha), dropout p ~ Beta(a, b); exponential gaps between
 * purchases, and after each repeat purchase a dropout with probability p. */
static void simulate_customer(rng *g, const clm_bgnbd_params *p, double T, double *x,
                              double *t_x)
{
    double lambda = rng_gamma(g, p->r) / p->alpha;
    double ga = rng_gamma(g, p->a), gb = rng_gamma(g, p->b), drop = ga / (ga + gb);
    double t = 0.0;
    *x = 0.0;
    *t_x = 0.0;
    for (;;) {
        t += -log(rng_unif(g)) / lambda;
        if (t > T)
            return;
        *x += 1.0;
        *t_x = t;
        if (rng_unif(g) < drop)
            return;
    }
}

/* ---- likelihood and predictions ----------------------------------------- */

static void test_ll_one(void **state)
{
    (void)state;
    /* x = 0: L = (alpha / (alpha + T))^r; 4.414 / 43.274 = 0.1020012,
     * ln = -2.2827707, times 0.243 = -0.5547133. */
    assert_true(fabs(clm_bgnbd_ll_one(&cdnow, 0, 0, 38.86) - -0.5547133) < 1e-7);
    /* x = 2, t_x = 30.43, T = 38.86:
     *   ln A1 = lnG(2.243) - lnG(0.243) + 0.243 ln 4.414
     *         = 0.1208776 - 1.3180436 + 0.3608019 = -0.8363642
     *   A2 = b (b + 1) / ((a + b)(a + b + 1)) = 2.426 * 3.426 / (3.219 * 4.219)
     *      = 8.311476 / 13.580961 = 0.6119947, ln = -0.4910214
     *   A3 = 43.274^-2.243 = 2.137680e-4
     *   A4 = 0.793 / 3.426 * 34.844^-2.243 = 0.2314653 * 3.475426e-4 = 8.044383e-5
     *   ln(A3 + A4) = ln 2.942119e-4 = -8.1312207
     *   sum = -0.8363642 - 0.4910214 - 8.1312207 = -9.4586063 */
    assert_true(fabs(clm_bgnbd_ll_one(&cdnow, 2, 30.43, 38.86) - -9.4586063) < 1e-6);

    assert_true(isnan(clm_bgnbd_ll_one(&cdnow, 2, 40, 38.86)));  /* t_x > T */
    assert_true(isnan(clm_bgnbd_ll_one(&cdnow, 1.5, 10, 38.86))); /* x not an integer */
    clm_bgnbd_params bad = cdnow;
    bad.b = 0.0;
    assert_true(isnan(clm_bgnbd_ll_one(&bad, 0, 0, 10)));
}

static void test_p_alive(void **state)
{
    (void)state;
    /* No repeat purchase: alive for sure, whatever T. */
    assert_true(clm_bgnbd_p_alive(&cdnow, 0, 0, 0) == 1.0);
    assert_true(clm_bgnbd_p_alive(&cdnow, 0, 0, 38.86) == 1.0);
    assert_true(clm_bgnbd_p_alive(&cdnow, 0, 0, 1000) == 1.0);
    /* x = 2, t_x = 30.43, T = 38.86:
     *   a / (b + x - 1) = 0.793 / 3.426 = 0.2314653
     *   ((alpha + T) / (alpha + t_x))^(r + x) = (43.274 / 34.844)^2.243
     *     = 1.2419355^2.243 = 1.6257888
     *   P = 1 / (1 + 0.2314653 * 1.6257888) = 1 / 1.3763099 = 0.7265786 */
    assert_true(fabs(clm_bgnbd_p_alive(&cdnow, 2, 30.43, 38.86) - 0.7265786) < 1e-7);
    /* Bought at the very end: (alpha + T) / (alpha + t_x) = 1, so
     * P = 1 / (1 + 0.793 / 3.426) = 3.426 / 4.219 = 0.8120408. */
    assert_true(fabs(clm_bgnbd_p_alive(&cdnow, 2, 38.86, 38.86) - 0.8120408) < 1e-7);
    assert_true(isnan(clm_bgnbd_p_alive(&cdnow, -1, 0, 10)));
}

static void test_expected_published(void **state)
{
    (void)state;
    /* The paper's worked example: a customer with x = 2, t_x = 30.43,
     * T = 38.86 weeks is expected to make 1.226 purchases in the next 39. */
    double ey = clm_bgnbd_expected_purchases(&cdnow, 39, 2, 30.43, 38.86);
    assert_true(fabs(ey - 1.226) < 0.5e-3);
    /* The same, to the digits of eq. 10 with 2F1 summed in 40-digit arithmetic. */
    assert_true(fabs(ey - 1.2260281747671444) < 1e-12);

    /* E[X(t)] of eq. 7 at the published estimates, to the digits shown. */
    static const double t[4] = { 1, 3, 32, 78 };
    static const double shown[4] = { 0.05327, 0.15087, 1.04524, 1.86052 };
    /* and in 40-digit arithmetic */
    static const double exact[4] = { 0.053267891171658280, 0.15086523089304668,
                                     1.0452433283744438, 1.8605190579427685 };
    for (int i = 0; i < 4; i++) {
        double ex = clm_bgnbd_expected_population(&cdnow, t[i]);
        assert_true(fabs(ex - shown[i]) < 0.5e-5);
        assert_true(fabs(ex - exact[i]) < 1e-12);
    }
    assert_true(clm_bgnbd_expected_population(&cdnow, 0) == 0.0);
    assert_true(isnan(clm_bgnbd_expected_population(&cdnow, -1)));
}

static void test_expected_hard_cases(void **state)
{
    (void)state;
    /* a = 1 exactly: eq. 10's 1 / (a - 1) is 0/0; the limit, taken in 40-digit
     * arithmetic, is 1.10213678603996; a = 1 -+ 1e-9 moves it by ~5.5e-10. */
    clm_bgnbd_params one = cdnow;
    one.a = 1.0;
    assert_true(fabs(clm_bgnbd_expected_purchases(&one, 39, 2, 30.43, 38.86) -
                     1.1021367860399558) < 1e-12);
    one.a = 1.0 - 1e-9;
    double lo = clm_bgnbd_expected_purchases(&one, 39, 2, 30.43, 38.86);
    one.a = 1.0 + 1e-9;
    double hi = clm_bgnbd_expected_purchases(&one, 39, 2, 30.43, 38.86);
    assert_true(lo > hi && lo - hi < 2e-9);

    /* x = 2000, t_x = T = 38.86, t = 39: eq. 10 as written multiplies
     * (43.274 / 82.274)^2000.243 = 7.3e-559 (underflows) by
     * 2F1(2000.243, 2002.426; 2002.219; 0.474) = 1.6e558 (overflows).
     * 60-digit reference: 1374.28585913026780. */
    assert_true(fabs(clm_bgnbd_expected_purchases(&cdnow, 39, 2000, 38.86, 38.86) /
                     1374.2858591302678 - 1.0) < 1e-12);

    /* Ten years ahead, z = 520 / 524.414 = 0.99158: 40-digit reference 4.97461786184966. */
    assert_true(fabs(clm_bgnbd_expected_population(&cdnow, 520) - 4.974617861849660) < 1e-10);
    /* alpha = 0.05: z = 520 / 520.05, 1 - z = 9.6e-5, some 4e5 series terms. */
    clm_bgnbd_params slow = cdnow;
    slow.alpha = 0.05;
    assert_true(fabs(clm_bgnbd_expected_population(&slow, 520) - 23.84289056875178) < 1e-9);
    /* 1 - z = 1e-8 needs ~4e9 terms: refused rather than truncated. */
    assert_true(isnan(clm_bgnbd_expected_population(&slow, 5e6)));

    /* a = 10^4, b = 3 10^4: the series grows like (1 - z)^-a ~ 10^2800 before
     * e^((a - 1) ln(1 - z)) brings it back. 60-digit reference 0.94957964759905. */
    clm_bgnbd_params big = { .r = 0.243, .alpha = 4.414, .a = 1e4, .b = 3e4 };
    assert_true(fabs(clm_bgnbd_expected_purchases(&big, 39, 2, 30.43, 38.86) /
                     0.9495796475990483 - 1.0) < 1e-9);
    /* r = 20 > a + b: the series alternates (first parameter a + b - 1 - r
     * = -17.8) and loses a few digits; 80-digit reference 20.996406736398.
     * At r = 80 it would lose all of them: NaN, not a wrong number. */
    clm_bgnbd_params steady = cdnow;
    steady.r = 20;
    assert_true(fabs(clm_bgnbd_expected_population(&steady, 78) / 20.99640673639799 - 1.0) <
                1e-8);
    steady.r = 80;
    assert_true(isnan(clm_bgnbd_expected_population(&steady, 78)));

    /* For small t, E[Y(t)] = P(alive) E[lambda | x, T] t = P(alive) (r + x) / (alpha + T) t,
     * 0.7265786 * 2.243 / 43.274 * 1e-6 = 3.766039e-8, up to O(t^2). */
    double small = clm_bgnbd_expected_purchases(&cdnow, 1e-6, 2, 30.43, 38.86);
    double first = clm_bgnbd_p_alive(&cdnow, 2, 30.43, 38.86) * 2.243 / 43.274 * 1e-6;
    assert_true(fabs(small / first - 1.0) < 1e-6);
}

/* ---- fit ---------------------------------------------------------------- */

static void test_fit_cdnow(void **state)
{
    (void)state;
    summaries s;
    load_cdnow(&s);
    assert_int_equal(s.n, 2357);

    clm_bgnbd_params p;
    clm_fit_report rep;
    char err[160] = "";
    assert_int_equal(clm_bgnbd_fit(s.x, s.t_x, s.T, NULL, s.n, NULL, NULL, &p, &rep, err,
                                   sizeof(err)), 0);
    assert_true(fabs(p.r - 0.243) <= 0.005);
    assert_true(fabs(p.alpha - 4.414) <= 0.005);
    assert_true(fabs(p.a - 0.793) <= 0.005);
    assert_true(fabs(p.b - 2.426) <= 0.005);
    assert_true(fabs(rep.loglik - -9582.43) < 0.01);
    assert_true(rep.n == 2357.0);
    assert_true(rep.groups < s.n); /* customers with identical summaries were merged */

    /* The maximum is at least as high as at the (rounded) published values. */
    double ll = 0.0;
    for (size_t i = 0; i < s.n; i++)
        ll += clm_bgnbd_ll_one(&cdnow, s.x[i], s.t_x[i], s.T[i]);
    assert_true(rep.loglik >= ll);

    /* The same data in days: alpha is 7 times larger, r, a, b do not move,
     * and each customer's likelihood (a density in time) is divided by 7^x:
     * sum x = 2457 repeat purchases, 2457 ln 7 = 4781.1012. */
    double *xd = malloc(s.n * sizeof(double)), *td = malloc(s.n * sizeof(double)),
           *Td = malloc(s.n * sizeof(double));
    assert_true(xd && td && Td);
    double sum_x = 0.0;
    for (size_t i = 0; i < s.n; i++) {
        xd[i] = s.x[i];
        td[i] = s.t_x[i] * 7.0;
        Td[i] = s.T[i] * 7.0;
        sum_x += s.x[i];
    }
    assert_true(sum_x == 2457.0);
    clm_bgnbd_params pd;
    clm_fit_report repd;
    assert_int_equal(clm_bgnbd_fit(xd, td, Td, NULL, s.n, NULL, NULL, &pd, &repd, err,
                                   sizeof(err)), 0);
    assert_true(fabs(pd.alpha / (7.0 * p.alpha) - 1.0) < 1e-4);
    assert_true(fabs(pd.r / p.r - 1.0) < 1e-4 && fabs(pd.a / p.a - 1.0) < 1e-4 &&
                fabs(pd.b / p.b - 1.0) < 1e-4);
    assert_true(fabs(repd.loglik - (rep.loglik - 4781.1012)) < 1e-3);
    free(xd);
    free(td);
    free(Td);

    /* Every customer counted twice: same parameters, twice the log-likelihood. */
    double *w = malloc(s.n * sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < s.n; i++)
        w[i] = 2.0;
    clm_bgnbd_params p2;
    clm_fit_report rep2;
    assert_int_equal(clm_bgnbd_fit(s.x, s.t_x, s.T, w, s.n, NULL, NULL, &p2, &rep2, err,
                                   sizeof(err)), 0);
    assert_true(rep2.n == 4714.0);
    assert_true(fabs(rep2.loglik - 2.0 * rep.loglik) < 1e-6);
    assert_true(fabs(p2.r / p.r - 1.0) < 1e-4 && fabs(p2.b / p.b - 1.0) < 1e-4);
    free(w);
    summaries_free(&s);
}

/* 20,000 customers from known parameters (the CDNOW ones), first purchases
 * spread over 12 weeks and observed until week 104, so T in [92, 104].
 * Over 40 seeds the relative errors of the ML estimates had means within
 * 1 % and standard deviations of 1.5 % (r), 2.7 % (alpha), 4.2 % (a) and
 * 4.8 % (b); the 15 % tolerance is at least 3 of those deviations. */
static void test_fit_recovers_simulation(void **state)
{
    (void)state;
    enum { N = 20000 };
    double *x = malloc(N * sizeof(double)), *t_x = malloc(N * sizeof(double)),
           *T = malloc(N * sizeof(double));
    assert_true(x && t_x && T);
    rng g;
    rng_seed(&g, 1);
    for (size_t i = 0; i < N; i++) {
        T[i] = 104.0 - 12.0 * rng_unif(&g);
        simulate_customer(&g, &cdnow, T[i], &x[i], &t_x[i]);
    }
    clm_bgnbd_params p;
    clm_fit_report rep;
    char err[160] = "";
    assert_int_equal(clm_bgnbd_fit(x, t_x, T, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     0);
    assert_true(fabs(p.r / cdnow.r - 1.0) < 0.15);
    assert_true(fabs(p.alpha / cdnow.alpha - 1.0) < 0.15);
    assert_true(fabs(p.a / cdnow.a - 1.0) < 0.15);
    assert_true(fabs(p.b / cdnow.b - 1.0) < 0.15);
    assert_true(rep.n == N);
    free(x);
    free(t_x);
    free(T);
}

/* *out and *rep still hold what the caller put there. */
static void assert_untouched(const clm_bgnbd_params *p, const clm_fit_report *rep)
{
    assert_true(p->r == -1 && p->alpha == -2 && p->a == -3 && p->b == -4);
    assert_true(rep->loglik == 7 && rep->n == 8 && rep->groups == 9 && rep->evals == 10);
}

static void test_fit_failures(void **state)
{
    (void)state;
    clm_bgnbd_params p = { -1, -2, -3, -4 };
    clm_fit_report rep = { .loglik = 7, .n = 8, .groups = 9, .evals = 10 };
    char err[160] = "";

    /* No customers. */
    assert_int_equal(clm_bgnbd_fit(NULL, NULL, NULL, NULL, 0, NULL, NULL, &p, &rep, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no customers"));
    assert_untouched(&p, &rep);

    /* 100 identical customers, none of whom came back within 10 weeks: the
     * likelihood (alpha / (alpha + 10))^(100 r) rises towards r -> 0, so there
     * is no interior maximum. */
    enum { N = 100 };
    double x[N], t_x[N], T[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = 0;
        t_x[i] = 0;
        T[i] = 10;
    }
    err[0] = '\0';
    assert_int_equal(clm_bgnbd_fit(x, t_x, T, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EDOM);
    assert_non_null(strstr(err, "ran off"));
    assert_untouched(&p, &rep);

    /* An impossible summary is named by its index. */
    t_x[7] = 11;
    x[7] = 1;
    assert_int_equal(clm_bgnbd_fit(x, t_x, T, NULL, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "customer 7"));

    /* Weights must be finite and >= 0; all-zero weights leave no customer. */
    t_x[7] = 3;
    double w[N] = { 0 };
    w[3] = -1;
    assert_int_equal(clm_bgnbd_fit(x, t_x, T, w, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "customer 3: weight"));
    w[3] = 0;
    assert_int_equal(clm_bgnbd_fit(x, t_x, T, w, N, NULL, NULL, &p, &rep, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "no customers"));

    /* An evaluation budget too small to converge. */
    summaries s;
    load_cdnow(&s);
    clm_fit_opts few = { .max_evals = 50 };
    assert_int_equal(clm_bgnbd_fit(s.x, s.t_x, s.T, NULL, s.n, NULL, &few, &p, &rep, err,
                                   sizeof(err)), -ETIMEDOUT);
    assert_non_null(strstr(err, "evaluation limit"));
    assert_untouched(&p, &rep);
    summaries_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ll_one),
        cmocka_unit_test(test_p_alive),
        cmocka_unit_test(test_expected_published),
        cmocka_unit_test(test_expected_hard_cases),
        cmocka_unit_test(test_fit_cdnow),
        cmocka_unit_test(test_fit_recovers_simulation),
        cmocka_unit_test(test_fit_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
