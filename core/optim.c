/* core/optim.c - Nelder-Mead simplex search with restarts (see optim.h). */
#include "core/optim.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#define NM_REFLECT  1.0
#define NM_EXPAND   2.0
#define NM_CONTRACT 0.5
#define NM_SHRINK   0.5

typedef struct nm_state {
    clm_objective_fn f;
    void *ctx;
    size_t dim;
    unsigned evals;
    unsigned max_evals;
    double v[CLM_OPTIM_MAX_DIM + 1][CLM_OPTIM_MAX_DIM]; /* vertices, best first */
    double fv[CLM_OPTIM_MAX_DIM + 1];
} nm_state;

/* f(v), with non-finite values mapped to +infinity. */
static double nm_eval(nm_state *s, const double *v)
{
    s->evals++;
    double y = s->f(v, s->ctx);
    return isfinite(y) ? y : HUGE_VAL;
}

/* Sorts the vertices by objective value, best first (stable). */
static void nm_order(nm_state *s)
{
    for (size_t i = 1; i <= s->dim; i++) {
        double fy = s->fv[i];
        double y[CLM_OPTIM_MAX_DIM];
        memcpy(y, s->v[i], sizeof(y));
        size_t j = i;
        while (j > 0 && s->fv[j - 1] > fy) {
            s->fv[j] = s->fv[j - 1];
            memcpy(s->v[j], s->v[j - 1], sizeof(y));
            j--;
        }
        s->fv[j] = fy;
        memcpy(s->v[j], y, sizeof(y));
    }
}

static bool nm_converged(const nm_state *s, double ftol, double xtol)
{
    double fb = s->fv[0], fw = s->fv[s->dim];
    if (!(fw - fb <= ftol * (fabs(fb) + 1.0)))
        return false;
    for (size_t i = 1; i <= s->dim; i++)
        for (size_t j = 0; j < s->dim; j++)
            if (fabs(s->v[i][j] - s->v[0][j]) > xtol)
                return false;
    return true;
}

/* p = c + k * (c - w). */
static void nm_line(size_t dim, const double *c, const double *w, double k, double *p)
{
    for (size_t j = 0; j < dim; j++)
        p[j] = c[j] + k * (c[j] - w[j]);
}

/* One simplex run around s->v[0] (whose value is s->fv[0]). Returns true when
 * the tolerances were met, false when the evaluation budget ran out. */
static bool nm_run(nm_state *s, double step, double ftol, double xtol, unsigned *iterations)
{
    size_t n = s->dim;
    for (size_t i = 1; i <= n; i++) {
        memcpy(s->v[i], s->v[0], sizeof(s->v[0]));
        s->v[i][i - 1] += step;
        s->fv[i] = nm_eval(s, s->v[i]);
    }
    nm_order(s);

    while (!nm_converged(s, ftol, xtol)) {
        if (s->evals >= s->max_evals)
            return false;
        (*iterations)++;

        double c[CLM_OPTIM_MAX_DIM] = { 0 };
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                c[j] += s->v[i][j] / (double)n;

        double *worst = s->v[n];
        double xr[CLM_OPTIM_MAX_DIM], xt[CLM_OPTIM_MAX_DIM];
        nm_line(n, c, worst, NM_REFLECT, xr);
        double fr = nm_eval(s, xr);

        if (fr < s->fv[0]) {
            nm_line(n, c, worst, NM_REFLECT * NM_EXPAND, xt);
            double fe = nm_eval(s, xt);
            if (fe < fr) {
                memcpy(worst, xt, sizeof(xt));
                s->fv[n] = fe;
            } else {
                memcpy(worst, xr, sizeof(xr));
                s->fv[n] = fr;
            }
        } else if (fr < s->fv[n - 1]) {
            memcpy(worst, xr, sizeof(xr));
            s->fv[n] = fr;
        } else {
            bool outside = fr < s->fv[n];
            nm_line(n, c, worst, outside ? NM_REFLECT * NM_CONTRACT : -NM_CONTRACT, xt);
            double fc = nm_eval(s, xt);
            if (outside ? fc <= fr : fc < s->fv[n]) {
                memcpy(worst, xt, sizeof(xt));
                s->fv[n] = fc;
            } else {
                for (size_t i = 1; i <= n; i++) {
                    for (size_t j = 0; j < n; j++)
                        s->v[i][j] = s->v[0][j] + NM_SHRINK * (s->v[i][j] - s->v[0][j]);
                    s->fv[i] = nm_eval(s, s->v[i]);
                }
            }
        }
        nm_order(s);
    }
    return true;
}

static bool opt_ok(double x)
{
    return isfinite(x) && x >= 0.0;
}

int clm_nelder_mead(clm_objective_fn f, void *ctx, size_t dim, double *v, double step,
                    const clm_fit_opts *opts, clm_optim_result *res)
{
    clm_fit_opts o = opts ? *opts : (clm_fit_opts){ 0 };
    if (dim == 0 || dim > CLM_OPTIM_MAX_DIM || !(isfinite(step) && step > 0.0) ||
        !opt_ok(o.ftol) || !opt_ok(o.xtol))
        return -EINVAL;
    if (o.ftol == 0.0)
        o.ftol = 1e-11;
    if (o.xtol == 0.0)
        o.xtol = 1e-7;
    if (o.max_evals == 0)
        o.max_evals = 50000;
    if (o.max_restarts == 0)
        o.max_restarts = 20;

    nm_state s = { .f = f, .ctx = ctx, .dim = dim, .max_evals = o.max_evals };
    memcpy(s.v[0], v, dim * sizeof(*v));
    s.fv[0] = nm_eval(&s, s.v[0]);
    if (s.fv[0] == HUGE_VAL)
        return -EDOM;

    unsigned iterations = 0, restarts = 0;
    if (!nm_run(&s, step, o.ftol, o.xtol, &iterations))
        return -ETIMEDOUT;
    for (;;) {
        double before = s.fv[0];
        if (restarts == o.max_restarts)
            break;
        restarts++;
        if (!nm_run(&s, step, o.ftol, o.xtol, &iterations))
            return -ETIMEDOUT;
        if (before - s.fv[0] <= o.ftol * (fabs(s.fv[0]) + 1.0))
            break;
    }

    memcpy(v, s.v[0], dim * sizeof(*v));
    *res = (clm_optim_result){
        .fmin = s.fv[0], .evals = s.evals, .iterations = iterations, .restarts = restarts,
    };
    return 0;
}
