/* core/gammagamma.h - the Gamma-Gamma model of spend per transaction, and
 * discounted customer lifetime value on top of BG/NBD. Pure (libm only).
 *
 * Fader, Hardie & Lee, "RFM and CLV: Using Iso-Value Curves for Customer Base
 * Analysis", Journal of Marketing Research 42(4), 2005 (section "Modeling the
 * Spend Process" and its appendix). A customer's transaction values are
 * Gamma(p, nu) (shape p, rate nu) around their own mean p / nu, and
 * nu ~ Gamma(q, gamma) across customers. A customer is summarized by
 *   x    the number of transactions whose values are averaged (the BG/NBD x:
 *        repeat purchases, the first purchase's value left out),
 *   m_x  their mean value (> 0).
 * Only customers with x > 0 carry information; others are skipped by the fit.
 *
 * Every function here is reentrant: any thread may call it.
 */
#ifndef CLM_CORE_GAMMAGAMMA_H
#define CLM_CORE_GAMMAGAMMA_H

#include <stddef.h>

#include "core/bgnbd.h"
#include "core/optim.h"

typedef struct clm_gg_params {
    double p, q, gamma;
} clm_gg_params;

/* Log-density of the mean m_x of x transaction values, with nu integrated out:
 *   f(m_x | p, q, gamma, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
 *                             * gamma^q m_x^(p x - 1) x^(p x) / (gamma + x m_x)^(p x + q).
 * NaN when a parameter is not positive and finite, x is not a positive
 * integer or m_x is not positive and finite. */
double clm_gg_ll_one(const clm_gg_params *gp, double x, double m_x);

/* Maximum-likelihood fit of (p, q, gamma) over the customers with x[i] > 0,
 * each counted weights[i] times (weights may be NULL: all 1; finite, >= 0).
 * Customers with x = 0 or weight 0 are skipped; identical (x, m_x) pairs are
 * grouped. The search runs over log-parameters, with spends divided by
 * their geometric mean G so that neither the path nor the bounds below
 * depend on the currency unit, from *start or, when start is NULL, from
 * p = 1, q = 2, gamma = G (population mean spend p gamma / (q - 1) = G).
 * opts may be NULL.
 *
 * Returns 0 with *out and *rep set (rep->n counts the customers used). On
 * failure *out and *rep are untouched, a one-line reason goes to err (when
 * errsize > 0), and the result is
 *   -EINVAL    no customer with x > 0, x not a non-negative integer, m_x not
 *              positive and finite where x > 0, a bad weight, start or option;
 *   -EDOM      the likelihood is not finite at the start, a parameter ran off
 *              outside [1e-7, 1e7] (gamma: 1e-7 to 1e7 times G), or
 *              the fitted q <= 1 (spend so heavy-tailed that the population
 *              mean p gamma / (q - 1) does not exist);
 *   -ETIMEDOUT the evaluation limit was reached before the tolerances;
 *   -ENOMEM. */
int clm_gg_fit(const double *x, const double *m_x, const double *weights, size_t n,
               const clm_gg_params *start, const clm_fit_opts *opts, clm_gg_params *out,
               clm_fit_report *rep, char *err, size_t errsize);

/* E[M | p, q, gamma, m_x, x]: the expected value of this customer's future
 * transactions, the posterior mean of p / nu:
 *   p (gamma + x m_x) / (p x + q - 1)
 *   = (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m_x,
 * a weighted average of the population mean and the customer's own mean.
 * For x = 0 it is the population mean p gamma / (q - 1) (m_x is ignored).
 * NaN on invalid parameters or summary, or when q <= 1 and x = 0. */
double clm_gg_expected_spend(const clm_gg_params *gp, double x, double m_x);

/* Parameters of clm_clv_discounted(). */
typedef struct clm_clv_opts {
    double   margin;           /* fraction of spend kept as profit, in [0, 1] */
    double   annual_discount;  /* discount rate per year, > -1 (0.1 = 10 %) */
    double   periods_per_year; /* time units per year (52.1775 for weeks), > 0 */
    unsigned horizon;          /* H: number of time units to sum over */
} clm_clv_opts;

/* Discounted expected margin of a customer over the next H time units:
 *   CLV = sum_{k=1..H} margin * E[M] * (E[Y(k)] - E[Y(k-1)]) / (1 + d)^k,
 * where E[Y(k)] = clm_bgnbd_expected_purchases(bg, k, x, t_x, T) (E[Y(0)] = 0),
 * E[M] = clm_gg_expected_spend(gg, x, m_x), and d is the per-unit rate
 * equivalent to the annual one: (1 + d)^periods_per_year = 1 + annual_discount.
 * Purchases expected during unit k are discounted as if made at its end.
 * Returns 0 for H = 0, NaN on invalid input. Costs H BG/NBD expectations. */
double clm_clv_discounted(const clm_bgnbd_params *bg, const clm_gg_params *gg, double x,
                          double t_x, double T, double m_x, const clm_clv_opts *o);

#endif
