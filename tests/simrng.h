/* tests/simrng.h - a small deterministic random generator for simulations.
 *
 * Shared by the model tests and the fit benchmark, which draw customers from
 * the BG/NBD and Gamma-Gamma generative processes: xoshiro256** (Blackman &
 * Vigna) seeded through splitmix64, uniform, normal and gamma variates. The
 * same seed gives the same draws on every machine with IEEE doubles and the
 * same libm. Not thread-safe: one generator per thread.
 */
#ifndef CLM_TESTS_SIMRNG_H
#define CLM_TESTS_SIMRNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *g, uint64_t seed);
uint64_t rng_next(rng *g);
/* Uniform on (0, 1), never 0 or 1. */
double rng_unif(rng *g);
/* Standard normal (Box-Muller). */
double rng_normal(rng *g);
/* Gamma(k, 1): Marsaglia & Tsang (2000); k < 1 through Gamma(k + 1) U^(1/k). */
double rng_gamma(rng *g, double k);

#endif
