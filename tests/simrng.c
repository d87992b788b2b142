/* tests/simrng.c - see simrng.h. */
#include "tests/simrng.h"

#include <math.h>

/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(rng *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

uint64_t rng_next(rng *g)
{
    uint64_t *s = g->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform on (0, 1). */
double rng_unif(rng *g)
{
    return ((double)(rng_next(g) >> 11) + 0.5) * 0x1.0p-53;
}

double rng_normal(rng *g)
{
    double u = rng_unif(g), v = rng_unif(g);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Gamma(k, 1): Marsaglia & Tsang (2000); k < 1 through Gamma(k + 1) U^(1/k). */
double rng_gamma(rng *g, double k)
{
    if (k < 1.0)
        return rng_gamma(g, k + 1.0) * pow(rng_unif(g), 1.0 / k);
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double z, v;
        do {
            z = rng_normal(g);
            v = 1.0 + c * z;
        } while (v <= 0.0);
        v = v * v * v;
        if (log(rng_unif(g)) < 0.5 * z * z + d - d * v + d * log(v))
            return d * v;
    }
}

