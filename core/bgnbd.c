/* core/bgnbd.c - BG/NBD likelihood, fit and predictions (see bgnbd.h). */
#include "core/bgnbd.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The search keeps every parameter inside [1e-9, 1e9]; a fitted parameter
 * outside [1e-7, 1e7] has run off towards that wall. */
#define BG_WALL    1e9
#define BG_LIMIT   1e7
#define BG_X_MAX   1e9
#define BG_SERIES_MAX_TERMS 1000000
/* Predictions carry at least 8 correct digits or are NaN. */
#define BG_MIN_REL 1e-8

/* ln Gamma(v) without touching the global signgam (v > 0 here). */
static double lgam(double v)
{
    int sign;
    return lgamma_r(v, &sign);
}

static double lbeta(double a, double b)
{
    return lgam(a) + lgam(b) - lgam(a + b);
}

/* ln(e^u + e^v). */
static double log_add_exp(double u, double v)
{
    double hi = u > v ? u : v, lo = u > v ? v : u;
    return hi + log1p(exp(lo - hi));
}

static bool pos_finite(double v)
{
    return isfinite(v) && v > 0.0;
}

static bool params_ok(const clm_bgnbd_params *p)
{
    return pos_finite(p->r) && pos_finite(p->alpha) && pos_finite(p->a) && pos_finite(p->b);
}

static bool summary_ok(double x, double t_x, double T)
{
    return isfinite(x) && x >= 0.0 && x <= BG_X_MAX && x == floor(x) && isfinite(T) &&
           isfinite(t_x) && t_x >= 0.0 && t_x <= T;
}

/* ln(A3 + [x > 0] A4): the part of eq. 6 that depends on t_x and T. */
static double ll_tail(double r, double alpha, double a, double b, double x, double t_x, double T)
{
    double a3 = -(r + x) * log(alpha + T);
    if (x == 0.0)
        return a3;
    double a4 = log(a) - log(b + x - 1.0) - (r + x) * log(alpha + t_x);
    return log_add_exp(a3, a4);
}

double clm_bgnbd_ll_one(const clm_bgnbd_params *p, double x, double t_x, double T)
{
    if (!params_ok(p) || !summary_ok(x, t_x, T))
        return NAN;
    double r = p->r, alpha = p->alpha, a = p->a, b = p->b;
    double ln_a1 = lgam(r + x) - lgam(r) + r * log(alpha);
    double ln_a2 = lbeta(a, b + x) - lbeta(a, b);
    return ln_a1 + ln_a2 + ll_tail(r, alpha, a, b, x, t_x, T);
}

/* ---- fit ---------------------------------------------------------------- */

typedef struct bg_row {
    double x, t_x, T, w;
    size_t i_tx, i_T; /* positions of t_x and T in bg_data.times */
} bg_row;

typedef struct bg_data {
    bg_row *rows; /* sorted by (x, T, t_x), identical summaries merged */
    size_t n;
    double scale;  /* the times in rows are divided by this: mean(T), or 1 */
    double weight; /* sum of the weights */
    double wx;     /* sum of weight * x */
    double *times; /* the distinct values of T and t_x, ascending */
    double *ln_at; /* ln(alpha + times[k]) at the point being evaluated */
    size_t ntimes;
    double best_f, best_v[4]; /* lowest objective seen, and where */
} bg_data;

static int row_cmp(const void *pa, const void *pb)
{
    const bg_row *u = pa, *v = pb;
    if (u->x != v->x)
        return u->x < v->x ? -1 : 1;
    if (u->T != v->T)
        return u->T < v->T ? -1 : 1;
    if (u->t_x != v->t_x)
        return u->t_x < v->t_x ? -1 : 1;
    return 0;
}

static int double_cmp(const void *pa, const void *pb)
{
    double u = *(const double *)pa, v = *(const double *)pb;
    return u < v ? -1 : u > v;
}

/* Position of v in the ascending array a[0..n-1], which holds it. */
static size_t find_time(const double *a, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Minus the sample log-likelihood (eq. 6 summed with weights) at
 * v = (ln r, ln alpha, ln a, ln b). The terms that depend on x alone (A1, A2
 * and ln(a / (b + x - 1))) are computed once per distinct x, the logarithms
 * ln(alpha + T) and ln(alpha + t_x) once per distinct time; what is left per
 * summary is the log-sum-exp of A3 and A4. */
static double bg_neg_ll(const double *v, void *ctx)
{
    bg_data *d = ctx;
    for (int i = 0; i < 4; i++)
        if (fabs(v[i]) > log(BG_WALL))
            return HUGE_VAL;
    double r = exp(v[0]), alpha = exp(v[1]), a = exp(v[2]), b = exp(v[3]);
    double base = -lgam(r) + r * v[1] - lbeta(a, b);
    for (size_t k = 0; k < d->ntimes; k++)
        d->ln_at[k] = log(alpha + d->times[k]);

    double sum = 0.0, cx = 0.0, dx = 0.0, x = -1.0;
    for (size_t i = 0; i < d->n; i++) {
        const bg_row *w = &d->rows[i];
        if (w->x != x) {
            x = w->x;
            cx = base + lgam(r + x) + lbeta(a, b + x);
            dx = x > 0.0 ? v[2] - log(b + x - 1.0) : 0.0;
        }
        double a3 = -(r + x) * d->ln_at[w->i_T], ll;
        if (x == 0.0)
            ll = a3;
        else
            ll = log_add_exp(a3, dx - (r + x) * d->ln_at[w->i_tx]);
        sum += w->w * (cx + ll);
    }
    if (-sum < d->best_f) {
        d->best_f = -sum;
        memcpy(d->best_v, v, sizeof(d->best_v));
    }
    return -sum;
}

static void set_err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

static int nomem(char *err, size_t errsize, size_t n)
{
    set_err(err, errsize, "out of memory grouping %zu customers", n);
    return -ENOMEM;
}

static void bg_data_free(bg_data *d)
{
    free(d->rows);
    free(d->times);
    free(d->ln_at);
}

/* Builds d from the customers with positive weight: times divided by their
 * mean T (so the fit does not depend on the time unit), sorted, identical
 * summaries merged, times indexed. */
static int bg_group(const double *x, const double *t_x, const double *T, const double *weights,
                    size_t n, bg_data *d, char *err, size_t errsize)
{
    *d = (bg_data){ .best_f = HUGE_VAL };
    int rc = -EINVAL;
    d->rows = malloc((n ? n : 1) * sizeof(*d->rows));
    if (!d->rows) {
        rc = nomem(err, errsize, n);
        goto out_free_data;
    }
    size_t m = 0;
    double s = 0.0, sx = 0.0, sT = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = weights ? weights[i] : 1.0;
        if (!(isfinite(w) && w >= 0.0)) {
            set_err(err, errsize, "customer %zu: weight %g is not finite and >= 0", i, w);
            goto out_free_data;
        }
        if (!summary_ok(x[i], t_x[i], T[i])) {
            set_err(err, errsize,
                    "customer %zu: invalid summary x = %g, t_x = %g, T = %g "
                    "(need integer x >= 0 and 0 <= t_x <= T)",
                    i, x[i], t_x[i], T[i]);
            goto out_free_data;
        }
        if (w == 0.0)
            continue;
        /* t_x does not enter the likelihood when x = 0. */
        d->rows[m++] = (bg_row){ .x = x[i], .t_x = x[i] > 0.0 ? t_x[i] : 0.0, .T = T[i], .w = w };
        s += w;
        sx += w * x[i];
        sT += w * T[i];
    }
    if (m == 0) {
        set_err(err, errsize, "no customers to fit (n = %zu, none with positive weight)", n);
        goto out_free_data;
    }
    d->weight = s;
    d->wx = sx;
    d->scale = sT > 0.0 ? sT / s : 1.0;
    for (size_t i = 0; i < m; i++) {
        d->rows[i].T /= d->scale;
        d->rows[i].t_x /= d->scale;
    }
    qsort(d->rows, m, sizeof(*d->rows), row_cmp);
    size_t k = 0;
    for (size_t i = 1; i < m; i++) {
        if (row_cmp(&d->rows[k], &d->rows[i]) == 0)
            d->rows[k].w += d->rows[i].w;
        else
            d->rows[++k] = d->rows[i];
    }
    d->n = k + 1;

    d->times = malloc(2 * d->n * sizeof(*d->times));
    if (!d->times) {
        rc = nomem(err, errsize, n);
        goto out_free_data;
    }
    for (size_t i = 0; i < d->n; i++) {
        d->times[2 * i] = d->rows[i].T;
        d->times[2 * i + 1] = d->rows[i].t_x;
    }
    qsort(d->times, 2 * d->n, sizeof(*d->times), double_cmp);
    k = 0;
    for (size_t i = 1; i < 2 * d->n; i++)
        if (d->times[i] != d->times[k])
            d->times[++k] = d->times[i];
    d->ntimes = k + 1;
    d->ln_at = malloc(d->ntimes * sizeof(*d->ln_at));
    if (!d->ln_at) {
        rc = nomem(err, errsize, n);
        goto out_free_data;
    }
    for (size_t i = 0; i < d->n; i++) {
        d->rows[i].i_T = find_time(d->times, d->ntimes, d->rows[i].T);
        d->rows[i].i_tx = find_time(d->times, d->ntimes, d->rows[i].t_x);
    }
    return 0;

out_free_data:
    bg_data_free(d);
    return rc;
}

int clm_bgnbd_fit(const double *x, const double *t_x, const double *T, const double *weights,
                  size_t n, const clm_bgnbd_params *start, const clm_fit_opts *opts,
                  clm_bgnbd_params *out, clm_fit_report *rep, char *err, size_t errsize)
{
    static const char *const names[4] = { "r", "alpha", "a", "b" };
    if (start && !params_ok(start)) {
        set_err(err, errsize, "start parameters must be positive and finite");
        return -EINVAL;
    }
    bg_data d;
    int rc = bg_group(x, t_x, T, weights, n, &d, err, errsize);
    if (rc < 0)
        return rc;

    /* The search runs in the rescaled time unit: alpha / scale. */
    double v[4] = { 0.0, -log1p(d.wx / d.weight), 0.0, 0.0 };
    if (start) {
        v[0] = log(start->r);
        v[1] = log(start->alpha / d.scale);
        v[2] = log(start->a);
        v[3] = log(start->b);
    }

    clm_optim_result res;
    rc = clm_nelder_mead(bg_neg_ll, &d, 4, v, 1.0, opts, &res);
    if (rc == -EDOM) {
        set_err(err, errsize, "log-likelihood is not finite at the start point");
        goto out_free_data;
    }
    if (rc == -EINVAL) {
        set_err(err, errsize, "invalid optimizer options");
        goto out_free_data;
    }
    if (rc == -ETIMEDOUT) {
        /* Out of evaluations while chasing a parameter to the wall is the
         * more useful diagnosis. */
        memcpy(v, d.best_v, sizeof(v));
        set_err(err, errsize, "evaluation limit reached before the tolerances were met");
    }
    for (int i = 0; i < 4; i++) {
        if (fabs(v[i]) > log(BG_LIMIT)) {
            set_err(err, errsize,
                    "parameter %s ran off to %g: the data do not identify the model",
                    names[i], exp(v[i]) * (i == 1 ? d.scale : 1.0));
            rc = -EDOM;
            goto out_free_data;
        }
    }
    if (rc < 0)
        goto out_free_data;

    /* Dividing times by s multiplies each customer's likelihood by s^x. */
    *out = (clm_bgnbd_params){ .r = exp(v[0]), .alpha = exp(v[1]) * d.scale, .a = exp(v[2]),
                               .b = exp(v[3]) };
    *rep = (clm_fit_report){
        .loglik = -res.fmin - d.wx * log(d.scale), .n = d.weight, .groups = d.n,
        .evals = res.evals, .iterations = res.iterations, .restarts = res.restarts,
    };
    rc = 0;
out_free_data:
    bg_data_free(&d);
    return rc;
}

/* ---- predictions -------------------------------------------------------- */

double clm_bgnbd_p_alive(const clm_bgnbd_params *p, double x, double t_x, double T)
{
    if (!params_ok(p) || !summary_ok(x, t_x, T))
        return NAN;
    if (x == 0.0)
        return 1.0;
    /* ln(A4 / A3) */
    double u = log(p->a) - log(p->b + x - 1.0) +
               (p->r + x) * log1p((T - t_x) / (p->alpha + t_x));
    return 1.0 / (1.0 + exp(u));
}

/* (a + b + x - 1) / (a - 1) * [1 - (1-z)^(a-1) 2F1(c - r - x, a - 1; c; z)]
 * with c = a + b + x - 1, 1 - z = (alpha + T) / (alpha + T + t) (see bgnbd.h).
 * With e = a - 1, L = ln(1 - z) and 2F1(a', e; c; z) = 1 + e S,
 *   S = sum_{n>=1} (a')_n (a)_{n-1} z^n / ((c)_n n!),
 * the bracket over e is -expm1(e L) / e - S e^(e L). The partial sums are
 * rescaled by powers of 2 as they grow (for large a, S ~ (1 - z)^-a while
 * e^(e L) ~ (1 - z)^a), and NaN is returned rather than a result with fewer
 * than 8 correct digits (BG_MIN_REL): rounding in the terms is tracked, and
 * alternating terms (a' < 0, i.e. r well above a + b) can cancel. */
static double bg_cond_expect(const clm_bgnbd_params *p, double t, double x, double T)
{
    double a = p->a, e = a - 1.0;
    double c = a + p->b + x - 1.0, ap = c - p->r - x;
    double aT = p->alpha + T;
    double z = t / (aT + t), L = -log1p(t / aT);

    if (c <= 0.0 && c == floor(c))
        return NAN;
    /* round: sum of |term| weighted by the rounding steps that produced it */
    double term = ap * z / c, sum = term, round = 4.0 * fabs(term), scale = 0.0;
    for (unsigned k = 1;; k++) {
        if (k >= BG_SERIES_MAX_TERMS)
            return NAN;
        double q = (ap + k) * (a + k - 1.0) * z / ((c + k) * (k + 1.0));
        double rho = q > z ? q : z;
        if (q > 0.0 && q < 1.0 && fabs(term) * rho <= DBL_EPSILON / 4.0 * fabs(sum) * (1.0 - rho))
            break;
        term *= q;
        sum += term;
        round += (4.0 * k + 4.0) * fabs(term);
        if (fabs(term) > 0x1p900) {
            term *= 0x1p-900;
            sum *= 0x1p-900;
            round *= 0x1p-900;
            scale += 900.0 * M_LN2;
        }
        if (term == 0.0)
            break;
    }
    double lead = e == 0.0 ? -L : -expm1(e * L) / e;
    double tail = exp(e * L + scale);
    double g = lead - sum * tail;
    double err = DBL_EPSILON * (round * tail + 2.0 * (fabs(lead) + fabs(sum * tail)));
    if (!isfinite(g) || !(err <= BG_MIN_REL * fabs(g)))
        return NAN;
    return c * g;
}

double clm_bgnbd_expected_purchases(const clm_bgnbd_params *p, double t, double x, double t_x,
                                    double T)
{
    if (!(isfinite(t) && t >= 0.0))
        return NAN;
    double alive = clm_bgnbd_p_alive(p, x, t_x, T);
    if (isnan(alive))
        return NAN;
    if (t == 0.0)
        return 0.0;
    return bg_cond_expect(p, t, x, T) * alive;
}

double clm_bgnbd_expected_population(const clm_bgnbd_params *p, double t)
{
    return clm_bgnbd_expected_purchases(p, t, 0.0, 0.0, 0.0);
}
