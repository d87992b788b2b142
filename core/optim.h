/* core/optim.h - derivative-free minimization for the model fits. Pure.
 *
 * Nelder-Mead simplex search (Nelder & Mead 1965, with the standard
 * coefficients: reflection 1, expansion 2, contraction 1/2, shrink 1/2, as
 * in Lagarias et al., SIAM J. Optim. 9(1), 1998), restarted from its own
 * answer until a restart no longer improves it. Deterministic: the same
 * objective, start and options give the same evaluations in the same order.
 * Reentrant: any thread may call it; all state lives on the caller's stack.
 */
#ifndef CLM_CORE_OPTIM_H
#define CLM_CORE_OPTIM_H

#include <stddef.h>

/* Largest number of free parameters clm_nelder_mead() accepts. */
#define CLM_OPTIM_MAX_DIM 8

/* Options shared by the model fits (core/bgnbd.h, core/gammagamma.h); a zero
 * field takes its default.
 *
 * Tolerance semantics: one simplex run has converged when both
 *   f_worst - f_best <= ftol * (|f_best| + 1)          (objective spread) and
 *   max_i max_j |v_i[j] - v_best[j]| <= xtol           (simplex size),
 * the second measured in the optimizer's own coordinates (the fits use log
 * parameters, so xtol is a relative tolerance on each parameter). After a run
 * converges, a fresh simplex is built around its best vertex; the search
 * ends when such a restart lowers f_best by no more than ftol * (|f_best| + 1),
 * or after max_restarts restarts (each of which met the tolerances). */
typedef struct clm_fit_opts {
    double   ftol;         /* default 1e-11 */
    double   xtol;         /* default 1e-7 */
    unsigned max_evals;    /* objective evaluations over all runs; default 50000 */
    unsigned max_restarts; /* runs after the first; default 20 */
} clm_fit_opts;

/* What a successful fit reports. */
typedef struct clm_fit_report {
    double   loglik;     /* sample log-likelihood at the fitted parameters */
    double   n;          /* customers fitted: the sum of their weights */
    size_t   groups;     /* distinct customer summaries the likelihood was summed over */
    unsigned evals;      /* likelihood evaluations */
    unsigned iterations; /* simplex iterations over all restarts */
    unsigned restarts;
} clm_fit_report;

/* The objective: returns f(v) for v[0..dim-1]. A NaN or infinite value marks
 * v as infeasible (treated as +infinity), which is how callers keep the search
 * inside a region. */
typedef double (*clm_objective_fn)(const double *v, void *ctx);

typedef struct clm_optim_result {
    double   fmin;       /* objective at the returned point */
    unsigned evals;      /* objective evaluations */
    unsigned iterations; /* simplex iterations over all runs */
    unsigned restarts;   /* runs after the first */
} clm_optim_result;

/* Minimizes f from the start point v[0..dim-1], building each simplex from the
 * center with steps of `step` (> 0) along every axis.
 * Returns 0 with v set to the minimizer and *res filled in;
 *   -EINVAL  dim is 0 or above CLM_OPTIM_MAX_DIM, step is not positive and
 *            finite, or an option is negative or not finite;
 *   -EDOM    f is not finite at the start point;
 *   -ETIMEDOUT max_evals ran out before the tolerances were met.
 * On failure v and *res are untouched. opts may be NULL (all defaults). */
int clm_nelder_mead(clm_objective_fn f, void *ctx, size_t dim, double *v, double step,
                    const clm_fit_opts *opts, clm_optim_result *res);

#endif
