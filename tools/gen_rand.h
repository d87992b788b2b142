/* tools/gen_rand.h - the generator's random numbers (tools/gen.h promises
 * the same bytes on every machine): xoshiro256** seeded by splitmix64, and
 * log/exp built from IEEE-754 + - * /, sqrt and exponent-bit arithmetic
 * only, so no libm result can differ in its last bit.
 *
 * Static inline: the generator draws several numbers per message.
 * Include through tools/gen_impl.h (they read the state in clm_gen).
 */
#ifndef CLM_TOOLS_GEN_RAND_H
#define CLM_TOOLS_GEN_RAND_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* xoshiro256** 1.0 and splitmix64 (seeding), public domain, by David Blackman
 * and Sebastiano Vigna: https://prng.di.unimi.it/xoshiro256starstar.c */

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rnd64(clm_gen *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double unif(clm_gen *g)
{
    return (double)(rnd64(g) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static inline int64_t irange(clm_gen *g, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(unif(g) * (double)(hi - lo + 1));
}

/* log and exp from IEEE-754 + - * / and exact bit manipulation only, so the
 * results are identical on every machine (relative error below 1e-13 over
 * the ranges used here). */
static inline double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static inline uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* x > 0 and normal. log x = e ln 2 + 2 atanh(s), s = (m - 1) / (m + 1),
 * m in [sqrt(1/2), sqrt(2)) so |s| < 0.172 and 9 odd terms suffice. */
static inline double det_log(double x)
{
    static const double c[] = {1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0};
    uint64_t b = double_bits(x);
    int e = (int)((b >> 52) & 0x7ff) - 1023;
    double m = bits_double((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL); /* [1, 2) */
    if (m >= 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = c[0];
    for (size_t k = 1; k < sizeof(c) / sizeof(c[0]); k++)
        p = p * s2 + c[k];
    return (double)e * 0.69314718055994531 + 2.0 * s * p;
}

/* exp x = 2^k e^r, |r| <= ln 2 / 2, Taylor series to r^13 / 13!. */
static inline double det_exp(double x)
{
    static const double c[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                               1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                               1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5,
                               1.0,                1.0};
    if (x > 700.0)
        x = 700.0;
    if (x < -700.0)
        x = -700.0;
    double k = floor(x * 1.4426950408889634 + 0.5);
    double r = (x - k * 0.693145751953125) - k * 1.42860682030941723212e-6;
    double p = c[0];
    for (size_t i = 1; i < sizeof(c) / sizeof(c[0]); i++)
        p = p * r + c[i];
    return p * bits_double((uint64_t)((int64_t)k + 1023) << 52); /* k in [-1010, 1010]: exact */
}

/* Standard normal (Marsaglia polar method; sqrt is exactly rounded). */
static inline double normal(clm_gen *g)
{
    for (;;) {
        double u = 2.0 * unif(g) - 1.0, v = 2.0 * unif(g) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0)
            return u * sqrt(-2.0 * det_log(s) / s);
    }
}

static inline double expo(clm_gen *g, double mean)
{
    return -mean * det_log(1.0 - unif(g));
}

static inline double lognorm(clm_gen *g, double median, double sigma)
{
    return median * det_exp(sigma * normal(g));
}

static inline int64_t clampl(double v, int64_t lo, int64_t hi)
{
    if (v < (double)lo)
        return lo;
    if (v > (double)hi)
        return hi;
    return (int64_t)v;
}

/* Index into a table of cumulative weights (last entry must be 1.0). */
static inline int pick(clm_gen *g, const double *cum, int n)
{
    double u = unif(g);
    for (int i = 0; i < n - 1; i++)
        if (u < cum[i])
            return i;
    return n - 1;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICKS(g, names) ((names)[irange((g), 0, (int64_t)NELEM(names) - 1)])

#endif
