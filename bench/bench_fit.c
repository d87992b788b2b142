/* bench/bench_fit.c - BG/NBD and Gamma-Gamma fit time and peak memory on
 * simulated customer bases.
 *
 * Usage: bench_fit [customers ...]   (default: 100000 1000000)
 *
 * Each base is drawn from the published CDNOW parameters (BG/NBD r = 0.243,
 * alpha = 4.414, a = 0.793, b = 2.426; Gamma-Gamma p = 6.25, q = 3.74,
 * gamma = 15.44) with first purchases spread over one year and observation
 * ending one year after the last of them. Purchase times are kept to the day,
 * purchases on one day count once, and times are in weeks (days / 7): the
 * summaries the daemon produces. Spend means are continuous, so the
 * Gamma-Gamma fit gets no help from grouping. Prints a table and one final
 * key=value line: wall and CPU seconds of each fit (CPU time is the steadier
 * figure on a shared machine) and the process's peak memory, getrusage()
 * maxrss, after both fits.
 *
 * Then the scoring pass clmd's model job (daemon/model_job.c) runs over every
 * customer after a fit, without its Redis I/O: p_alive, expected purchases
 * over 52 weeks, expected spend and clv_model (52 weekly terms discounted at
 * 10% a year), timed over all customers (score_s, score_cpu_s; score_us is CPU
 * microseconds per customer).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "core/bgnbd.h"
#include "core/gammagamma.h"
#include "tests/simrng.h"

#define DAYS_ACQUIRING 364
#define DAYS_OBSERVED  728
#define HORIZON        52 /* model.horizon default, weeks */

static const clm_bgnbd_params truth_bg = { .r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426 };
static const clm_gg_params truth_gg = { .p = 6.25, .q = 3.74, .gamma = 15.44 };

typedef struct base {
    double *x, *t_x, *T, *m_x;
    size_t n;
} base;

/* One customer: BG/NBD purchases on a day grid, then the mean of x repeat
 * transaction values, each Gamma(p, nu) with nu ~ Gamma(q, gamma); the mean
 * of x such values is Gamma(p x, x nu). */
static void simulate(rng *g, base *b, size_t i)
{
    long first = (long)(rng_unif(g) * DAYS_ACQUIRING);
    double T_days = (double)(DAYS_OBSERVED - first);
    double per_day = rng_gamma(g, truth_bg.r) / truth_bg.alpha / 7.0; /* alpha is in weeks */
    double ga = rng_gamma(g, truth_bg.a), gb = rng_gamma(g, truth_bg.b);
    double drop = ga / (ga + gb);
    double t = 0.0;
    long last_day = 0, x = 0;
    for (;;) {
        t += -log(rng_unif(g)) / per_day;
        if (t >= T_days)
            break;
        long day = (long)t;
        if (day == last_day)
            continue; /* same day as the previous purchase: one purchase day */
        x++;
        last_day = day;
        if (rng_unif(g) < drop)
            break;
    }
    b->x[i] = (double)x;
    b->t_x[i] = (double)last_day / 7.0;
    b->T[i] = T_days / 7.0;
    if (x > 0) {
        double nu = rng_gamma(g, truth_gg.q) / truth_gg.gamma;
        b->m_x[i] = rng_gamma(g, truth_gg.p * (double)x) / ((double)x * nu);
    } else {
        b->m_x[i] = 0.0;
    }
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What the model job computes per customer; returns a checksum of the
 * predictions and counts those that are not finite into *bad. */
static double score_all(const base *b, const clm_bgnbd_params *bp, const clm_gg_params *gp,
                        size_t *bad)
{
    clm_clv_opts o = { .margin = 1.0, .annual_discount = 0.1, .periods_per_year = 365.2425 / 7,
                       .horizon = HORIZON };
    double sum = 0.0;
    *bad = 0;
    for (size_t i = 0; i < b->n; i++) {
        double v = clm_bgnbd_p_alive(bp, b->x[i], b->t_x[i], b->T[i]) +
                   clm_bgnbd_expected_purchases(bp, HORIZON, b->x[i], b->t_x[i], b->T[i]) +
                   clm_gg_expected_spend(gp, b->x[i], b->m_x[i]) +
                   clm_clv_discounted(bp, gp, b->x[i], b->t_x[i], b->T[i], b->m_x[i], &o);
        if (isfinite(v))
            sum += v;
        else
            (*bad)++;
    }
    return sum;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    size_t sizes[16] = { 100000, 1000000 };
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 16; i++) {
            char *end;
            unsigned long long v = strtoull(argv[i], &end, 10);
            if (*end != '\0' || v == 0) {
                fprintf(stderr, "usage: %s [customers ...]\n", argv[0]);
                return 2;
            }
            sizes[nsizes++] = (size_t)v;
        }
    }

    printf("%10s %9s %7s %7s %6s %8s %9s %7s %7s %6s %10s %8s %8s  fitted (r alpha a b | p q "
           "gamma)\n",
           "customers", "bg_groups", "bg_s", "bg_cpu", "evals", "repeat", "gg_groups", "gg_s",
           "gg_cpu", "evals", "maxrss_MiB", "score_s", "score_cpu");
    char line[1024];
    int len = snprintf(line, sizeof(line), "bench_fit");
    for (int k = 0; k < nsizes; k++) {
        size_t n = sizes[k];
        base b = { malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                   malloc(n * sizeof(double)), malloc(n * sizeof(double)), n };
        if (!b.x || !b.t_x || !b.T || !b.m_x) {
            fprintf(stderr, "out of memory for %zu customers\n", n);
            return 1;
        }
        rng g;
        rng_seed(&g, 42);
        for (size_t i = 0; i < n; i++)
            simulate(&g, &b, i);

        clm_bgnbd_params bp;
        clm_gg_params gp;
        clm_fit_report br, gr;
        char err[160];
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        int rc = clm_bgnbd_fit(b.x, b.t_x, b.T, NULL, n, NULL, NULL, &bp, &br, err, sizeof(err));
        double t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (rc < 0) {
            fprintf(stderr, "BG/NBD fit of %zu customers failed: %s\n", n, err);
            return 1;
        }
        rc = clm_gg_fit(b.x, b.m_x, NULL, n, NULL, NULL, &gp, &gr, err, sizeof(err));
        double t2 = clock_s(CLOCK_MONOTONIC), c2 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (rc < 0) {
            fprintf(stderr, "Gamma-Gamma fit of %zu customers failed: %s\n", n, err);
            return 1;
        }
        long rss = maxrss_kb();
        size_t bad;
        double c3 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t3 = clock_s(CLOCK_MONOTONIC);
        double check = score_all(&b, &bp, &gp, &bad);
        double t4 = clock_s(CLOCK_MONOTONIC), c4 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (bad) {
            fprintf(stderr, "scoring %zu customers: %zu predictions not finite\n", n, bad);
            return 1;
        }
        printf("%10zu %9zu %7.3f %7.3f %6u %8.0f %9zu %7.3f %7.3f %6u %10.1f %8.3f %8.3f  %.3f "
               "%.3f %.3f %.3f | %.3f %.3f %.3f\n",
               n, br.groups, t1 - t0, c1 - c0, br.evals, gr.n, gr.groups, t2 - t1, c2 - c1,
               gr.evals, (double)rss / 1024.0, t4 - t3, c4 - c3, bp.r, bp.alpha, bp.a, bp.b,
               gp.p, gp.q, gp.gamma);
        printf("# scoring checksum %.6e, %.2f CPU us per customer\n", check,
               (c4 - c3) * 1e6 / (double)n);
        if (len > 0 && (size_t)len < sizeof(line))
            len += snprintf(line + len, sizeof(line) - (size_t)len,
                            " n%zu_bgnbd_s=%.3f n%zu_bgnbd_cpu_s=%.3f n%zu_gg_s=%.3f"
                            " n%zu_gg_cpu_s=%.3f n%zu_maxrss_kb=%ld n%zu_score_s=%.3f"
                            " n%zu_score_cpu_s=%.3f n%zu_score_us=%.2f",
                            n, t1 - t0, n, c1 - c0, n, t2 - t1, n, c2 - c1, n, rss, n, t4 - t3,
                            n, c4 - c3, n, (c4 - c3) * 1e6 / (double)n);
        free(b.x);
        free(b.t_x);
        free(b.T);
        free(b.m_x);
    }
    puts(line);
    return 0;
}
