/* core/bgnbd.h - the BG/NBD model of repeat buying. Pure (libm only).
 *
 * Fader, Hardie & Lee, "Counting Your Customers the Easy Way: An Alternative
 * to the Pareto/NBD Model", Marketing Science 24(2), 2005; equation numbers
 * below are that paper's. While alive, a customer buys at Poisson rate
 * lambda ~ Gamma(r, alpha) (shape r, rate alpha); after each repeat purchase
 * they drop out for good with probability p ~ Beta(a, b).
 *
 * A customer is summarized by
 *   x    the number of repeat purchases (purchases after the first), an integer,
 *   t_x  the time of the last purchase, measured from the first (0 when x = 0),
 *   T    the time from the first purchase to the end of observation,
 * with 0 <= t_x <= T. Times are in one unit chosen by the caller (weeks by
 * convention); alpha is in that unit and predictions come out in it.
 *
 * Every function here is reentrant: any thread may call it.
 */
#ifndef CLM_CORE_BGNBD_H
#define CLM_CORE_BGNBD_H

#include <stddef.h>

#include "core/optim.h"

typedef struct clm_bgnbd_params {
    double r, alpha; /* purchase rate heterogeneity: Gamma(r, alpha) */
    double a, b;     /* dropout probability heterogeneity: Beta(a, b) */
} clm_bgnbd_params;

/* Log-likelihood of one customer, ln L(r, alpha, a, b | x, t_x, T) of eq. 6:
 *   L = A1 A2 (A3 + [x > 0] A4), with
 *   A1 = Gamma(r + x) alpha^r / Gamma(r),  A2 = B(a, b + x) / B(a, b),
 *   A3 = (alpha + T)^-(r + x),  A4 = a / (b + x - 1) (alpha + t_x)^-(r + x),
 * evaluated in log space (lgamma, log-sum-exp), so it stays finite for
 * large x and T. Returns NaN when a parameter is not positive and finite or
 * the summary is invalid (x not a non-negative integer, not 0 <= t_x <= T). */
double clm_bgnbd_ll_one(const clm_bgnbd_params *p, double x, double t_x, double T);

/* Maximum-likelihood fit over n customers (x[i], t_x[i], T[i]), each counted
 * weights[i] times (weights may be NULL: all 1; a weight must be finite and
 * >= 0). Customers with identical summaries are grouped first (O(n log n)),
 * and each likelihood evaluation is then one pass over the distinct summaries
 * plus one logarithm per distinct time value: summaries on a day grid
 * collapse a lot (1M simulated customers: ~370k distinct summaries).
 *
 * The search runs over log-parameters (so they stay positive), with times
 * divided by their mean T so that neither the path nor the bounds below
 * depend on the time unit; it starts from *start or, when start is NULL,
 * from r = a = b = 1, alpha = mean(T) / (1 + mean(x)). opts may be NULL
 * (defaults of optim.h; ftol applies to the rescaled log-likelihood).
 *
 * Returns 0 with *out and *rep set (rep->loglik is the sample log-likelihood,
 * eq. 6 summed with weights). On failure *out and *rep are untouched,
 * a one-line reason is written to err (when errsize > 0), and the result is
 *   -EINVAL    no customers (n = 0 or all weights 0), an invalid summary or
 *              weight, or an invalid start or option;
 *   -EDOM      the likelihood is not finite at the start, or a parameter ran
 *              off outside [1e-7, 1e7] (alpha: 1e-7 to 1e7 times mean(T)):
 *              the data do not identify the model, e.g. nobody made a
 *              repeat purchase;
 *   -ETIMEDOUT the evaluation limit was reached before the tolerances;
 *   -ENOMEM. */
int clm_bgnbd_fit(const double *x, const double *t_x, const double *T, const double *weights,
                  size_t n, const clm_bgnbd_params *start, const clm_fit_opts *opts,
                  clm_bgnbd_params *out, clm_fit_report *rep, char *err, size_t errsize);

/* Probability that a customer with summary (x, t_x, T) is still alive at T:
 * P = A3 / (A3 + [x > 0] A4) with the terms of eq. 6, i.e.
 *   1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).
 * Exactly 1 for x = 0 (in this model nobody drops out before a repeat
 * purchase). NaN on invalid parameters or summary. */
double clm_bgnbd_p_alive(const clm_bgnbd_params *p, double x, double t_x, double T);

/* E[Y(t) | x, t_x, T]: expected purchases in the next t time units of a
 * customer with summary (x, t_x, T) (eq. 10):
 *   (a + b + x - 1) / (a - 1)
 *     * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
 *            2F1(r + x, b + x; a + b + x - 1; z)] * P(alive),
 *   z = t / (alpha + T + t).
 * Computed through Euler's transformation 2F1(a,b;c;z) =
 * (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) (Abramowitz & Stegun 15.3.3), which makes
 * the bracket 1 - (1-z)^(a-1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z);
 * the factor (a - 1) of that series' second parameter cancels the leading
 * 1 / (a - 1), so a = 1 needs no special case and large x cannot overflow.
 * The power series needs about (40 + a z) / (1 - z) terms. The result has at
 * least 8 correct significant digits, or is NaN: when 10^6 terms do not
 * converge (t above ~25000 (alpha + T), or a in the hundreds of thousands),
 * when rounding in the series could cost more (r exceeding a + b by tens,
 * with z near 1), when a + b + x - 1 is zero or a negative integer, or on
 * invalid input (t < 0). */
double clm_bgnbd_expected_purchases(const clm_bgnbd_params *p, double t, double x, double t_x,
                                    double T);

/* E[X(t)]: expected purchases of a new customer in the t time units after
 * their first (eq. 7):
 *   (a + b - 1) / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; t / (alpha + t))],
 * which is clm_bgnbd_expected_purchases(p, t, 0, 0, 0) and is computed so. */
double clm_bgnbd_expected_population(const clm_bgnbd_params *p, double t);

#endif
