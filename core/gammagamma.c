/* core/gammagamma.c - Gamma-Gamma spend model and discounted CLV (see gammagamma.h). */
#include "core/gammagamma.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As in bgnbd.c: the search stays inside [1e-9, 1e9]; a fitted parameter
 * outside [1e-7, 1e7] has run off. */
#define GG_WALL  1e9
#define GG_LIMIT 1e7
#define GG_X_MAX 1e9

static double lgam(double v)
{
    int sign;
    return lgamma_r(v, &sign);
}

static bool pos_finite(double v)
{
    return isfinite(v) && v > 0.0;
}

static bool params_ok(const clm_gg_params *gp)
{
    return pos_finite(gp->p) && pos_finite(gp->q) && pos_finite(gp->gamma);
}

static bool count_ok(double x)
{
    return isfinite(x) && x >= 0.0 && x <= GG_X_MAX && x == floor(x);
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

double clm_gg_ll_one(const clm_gg_params *gp, double x, double m_x)
{
    if (!params_ok(gp) || !count_ok(x) || x == 0.0 || !pos_finite(m_x))
        return NAN;
    double p = gp->p, q = gp->q, g = gp->gamma, px = p * x;
    return lgam(px + q) - lgam(px) - lgam(q) + q * log(g) + (px - 1.0) * log(m_x) +
           px * log(x) - (px + q) * log(g + x * m_x);
}

/* ---- fit ---------------------------------------------------------------- */

typedef struct gg_row {
    double x, m, w;
} gg_row;

/* Customers sharing one x: rows[begin, end) hold x * m_x and weights. */
typedef struct gg_group {
    double x, ln_x;
    double w;     /* sum of weights */
    double w_lnm; /* sum of weight * ln m_x */
    size_t begin, end;
} gg_group;

typedef struct gg_data {
    gg_row *rows; /* after grouping: .m holds x * m_x / scale */
    size_t n;
    double scale;  /* spends are divided by this: their geometric mean */
    double weight; /* sum of the weights */
    gg_group *groups;
    size_t ngroups;
    double best_f, best_v[3]; /* lowest objective seen, and where */
} gg_data;

static int row_cmp(const void *pa, const void *pb)
{
    const gg_row *u = pa, *v = pb;
    if (u->x != v->x)
        return u->x < v->x ? -1 : 1;
    if (u->m != v->m)
        return u->m < v->m ? -1 : 1;
    return 0;
}

/* Minus the sample log-likelihood at v = (ln p, ln q, ln gamma). Only
 * ln(gamma + x m_x) needs a pass over the rows; the rest is per distinct x. */
static double gg_neg_ll(const double *v, void *ctx)
{
    gg_data *d = ctx;
    for (int i = 0; i < 3; i++)
        if (fabs(v[i]) > log(GG_WALL))
            return HUGE_VAL;
    double p = exp(v[0]), q = exp(v[1]), g = exp(v[2]);
    double base = -lgam(q) + q * v[2];

    double sum = 0.0;
    for (size_t k = 0; k < d->ngroups; k++) {
        const gg_group *G = &d->groups[k];
        double px = p * G->x, s = 0.0;
        for (size_t i = G->begin; i < G->end; i++)
            s += d->rows[i].w * log(g + d->rows[i].m);
        sum += G->w * (lgam(px + q) - lgam(px) + base + px * G->ln_x) +
               (px - 1.0) * G->w_lnm - (px + q) * s;
    }
    if (-sum < d->best_f) {
        d->best_f = -sum;
        memcpy(d->best_v, v, sizeof(d->best_v));
    }
    return -sum;
}

static void gg_data_free(gg_data *d)
{
    free(d->rows);
    free(d->groups);
}

/* Fills d with the customers that carry information (x > 0, weight > 0),
 * spends divided by their geometric mean (so the fit does not depend on the
 * currency unit; unlike the mean, it is not dominated by a heavy tail),
 * sorted and merged. */
static int gg_group_rows(const double *x, const double *m_x, const double *weights, size_t n,
                         gg_data *d, char *err, size_t errsize)
{
    *d = (gg_data){ .best_f = HUGE_VAL };
    int rc = -EINVAL;
    d->rows = malloc((n ? n : 1) * sizeof(*d->rows));
    if (!d->rows) {
        set_err(err, errsize, "out of memory grouping %zu customers", n);
        return -ENOMEM;
    }
    size_t m = 0;
    double s = 0.0, slm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = weights ? weights[i] : 1.0;
        if (!(isfinite(w) && w >= 0.0)) {
            set_err(err, errsize, "customer %zu: weight %g is not finite and >= 0", i, w);
            goto out_free_data;
        }
        if (!count_ok(x[i])) {
            set_err(err, errsize, "customer %zu: x = %g is not a non-negative integer", i, x[i]);
            goto out_free_data;
        }
        if (x[i] == 0.0 || w == 0.0)
            continue;
        if (!pos_finite(m_x[i])) {
            set_err(err, errsize, "customer %zu: m_x = %g is not positive and finite", i,
                    m_x[i]);
            goto out_free_data;
        }
        d->rows[m++] = (gg_row){ .x = x[i], .m = m_x[i], .w = w };
        s += w;
        slm += w * log(m_x[i]);
    }
    if (m == 0) {
        set_err(err, errsize, "no customers with x > 0 and positive weight (n = %zu)", n);
        goto out_free_data;
    }
    d->weight = s;
    d->scale = exp(slm / s);
    for (size_t i = 0; i < m; i++)
        d->rows[i].m /= d->scale;
    qsort(d->rows, m, sizeof(*d->rows), row_cmp);
    size_t k = 0, ng = 1;
    for (size_t i = 1; i < m; i++) {
        if (row_cmp(&d->rows[k], &d->rows[i]) == 0) {
            d->rows[k].w += d->rows[i].w;
        } else {
            ng += d->rows[i].x != d->rows[k].x;
            d->rows[++k] = d->rows[i];
        }
    }
    d->n = k + 1;
    d->groups = malloc(ng * sizeof(*d->groups));
    if (!d->groups) {
        set_err(err, errsize, "out of memory grouping %zu customers", n);
        rc = -ENOMEM;
        goto out_free_data;
    }
    for (size_t i = 0; i < d->n; i++) {
        gg_row *w = &d->rows[i];
        if (i == 0 || w->x != d->rows[i - 1].x)
            d->groups[d->ngroups++] = (gg_group){ .x = w->x, .ln_x = log(w->x), .begin = i };
        gg_group *G = &d->groups[d->ngroups - 1];
        G->w += w->w;
        G->w_lnm += w->w * log(w->m);
        G->end = i + 1;
        w->m *= w->x;
    }
    return 0;

out_free_data:
    gg_data_free(d);
    return rc;
}

int clm_gg_fit(const double *x, const double *m_x, const double *weights, size_t n,
               const clm_gg_params *start, const clm_fit_opts *opts, clm_gg_params *out,
               clm_fit_report *rep, char *err, size_t errsize)
{
    static const char *const names[3] = { "p", "q", "gamma" };
    if (start && !params_ok(start)) {
        set_err(err, errsize, "start parameters must be positive and finite");
        return -EINVAL;
    }
    gg_data d;
    int rc = gg_group_rows(x, m_x, weights, n, &d, err, errsize);
    if (rc < 0)
        return rc;

    /* The search runs in the rescaled currency unit: gamma / scale. */
    clm_gg_params s0 = start ? *start : (clm_gg_params){ .p = 1.0, .q = 2.0, .gamma = d.scale };
    double v[3] = { log(s0.p), log(s0.q), log(s0.gamma / d.scale) };

    clm_optim_result res;
    rc = clm_nelder_mead(gg_neg_ll, &d, 3, v, 1.0, opts, &res);
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
    for (int i = 0; i < 3; i++) {
        if (fabs(v[i]) > log(GG_LIMIT)) {
            set_err(err, errsize,
                    "parameter %s ran off to %g: the data do not identify the model",
                    names[i], exp(v[i]) * (i == 2 ? d.scale : 1.0));
            rc = -EDOM;
            goto out_free_data;
        }
    }
    if (rc < 0)
        goto out_free_data;
    if (exp(v[1]) <= 1.0) {
        set_err(err, errsize,
                "fitted q = %g <= 1: spend too heavy-tailed for a finite population mean",
                exp(v[1]));
        rc = -EDOM;
        goto out_free_data;
    }

    /* Dividing spends by s multiplies each customer's density by s. */
    *out = (clm_gg_params){ .p = exp(v[0]), .q = exp(v[1]), .gamma = exp(v[2]) * d.scale };
    *rep = (clm_fit_report){
        .loglik = -res.fmin - d.weight * log(d.scale), .n = d.weight, .groups = d.n,
        .evals = res.evals, .iterations = res.iterations, .restarts = res.restarts,
    };
    rc = 0;
out_free_data:
    gg_data_free(&d);
    return rc;
}

/* ---- predictions -------------------------------------------------------- */

double clm_gg_expected_spend(const clm_gg_params *gp, double x, double m_x)
{
    if (!params_ok(gp) || !count_ok(x))
        return NAN;
    double p = gp->p, q = gp->q, g = gp->gamma;
    if (x == 0.0)
        return q > 1.0 ? p * g / (q - 1.0) : NAN;
    if (!pos_finite(m_x))
        return NAN;
    return p * (g + x * m_x) / (p * x + q - 1.0);
}

double clm_clv_discounted(const clm_bgnbd_params *bg, const clm_gg_params *gg, double x,
                          double t_x, double T, double m_x, const clm_clv_opts *o)
{
    if (!(isfinite(o->margin) && o->margin >= 0.0 && o->margin <= 1.0) ||
        !(isfinite(o->annual_discount) && o->annual_discount > -1.0) ||
        !pos_finite(o->periods_per_year))
        return NAN;
    double spend = clm_gg_expected_spend(gg, x, m_x);
    double alive = clm_bgnbd_p_alive(bg, x, t_x, T);
    if (isnan(spend) || isnan(alive))
        return NAN;

    /* 1 / (1 + d) per time unit */
    double step = pow(1.0 + o->annual_discount, -1.0 / o->periods_per_year);
    double disc = 1.0, prev = 0.0, sum = 0.0;
    for (unsigned k = 1; k <= o->horizon; k++) {
        double ey = clm_bgnbd_expected_purchases(bg, (double)k, x, t_x, T);
        if (isnan(ey))
            return NAN;
        disc *= step;
        sum += (ey - prev) * disc;
        prev = ey;
    }
    return o->margin * spend * sum;
}
