/* tools/gen_traits.c - the customer traits clmgen --traits adds (tools/gen.h):
 * a customer's country and company size come from a hash of the seed and
 * the customer, never from the PRNG, so a stream with traits is the stream
 * without them plus these fields. */
#include "tools/gen_impl.h"

#include <string.h>

#include "tools/gen_vocab.h"

static const char *const COUNTRIES[] = {"US", "DE", "GB", "FR", "IN", "BR", "JP", "CA"};
static const double COUNTRY_CUM[] = {0.30, 0.45, 0.57, 0.67, 0.77, 0.85, 0.93, 1.0};

static uint64_t cust_hash(const clm_gen *g, uint32_t id, uint64_t salt)
{
    uint64_t x = g->o.seed ^ ((uint64_t)id * 0x9E3779B97F4A7C15ull) ^ (salt << 56);
    return splitmix64(&x);
}

static const char *country_of(const clm_gen *g, uint32_t id)
{
    double u = (double)(cust_hash(g, id, 1) >> 11) * 0x1p-53;
    int k = 0;
    while (k < 7 && u >= COUNTRY_CUM[k])
        k++;
    return COUNTRIES[k];
}

int64_t gen_company_size_of(const clm_gen *g, uint32_t id)
{
    uint64_t h = cust_hash(g, id, 2);
    int64_t scale = (int64_t)1 << (h % 10); /* 1 .. 512 */
    return 1 + (int64_t)((h >> 8) % (uint64_t)(2 * scale));
}

void gen_trait_props(clm_gen *g, uint32_t id, bool country, int64_t size)
{
    struct fld *f = gen_field_add(&g->ev, "properties");
    char *p = f->v;
    size_t n = 0;
    p[n++] = '{';
    if (country) {
        const char *cc = country_of(g, id);
        memcpy(p + n, "\"country\":\"", 11);
        n += 11;
        memcpy(p + n, cc, 2);
        n += 2;
        p[n++] = '"';
    }
    if (size > 0) {
        if (country)
            p[n++] = ',';
        memcpy(p + n, "\"company_size\":", 15);
        n += 15;
        n += gen_put_i64(p + n, size);
    }
    p[n++] = '}';
    f->vlen = (uint16_t)n;
}

void gen_plan_traits(clm_gen *g, const struct cust *c)
{
    if (!g->o.traits)
        return;
    gen_fstr(&g->ev, "plan", PLANS[c->plan]);
    gen_trait_props(g, c->id, false, gen_company_size_of(g, c->id) * (1 + c->plan));
}
