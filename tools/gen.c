/* tools/gen.c - the lifecycle stream generator (see gen.h for the model).
 *
 * A discrete-event simulation: every arrived customer (and every marketing
 * channel) is one 32-byte record in a binary min-heap keyed by the time of its
 * next event. Popping the top yields the next event in time order; the record
 * then schedules its following event or leaves the heap. Arrivals come from a
 * sequential draw of sorted uniform order statistics, so exactly `customers`
 * people arrive without a precomputed list.
 */
#include "tools/gen.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS (60LL * 1000)
#define HOUR_MS (60LL * MIN_MS)
#define DAY_MS (24LL * HOUR_MS)

#define MSG_MAX 512     /* longest message the generator writes, with margin */
#define KEY_MAX 48
#define RING 16         /* recent valid messages a duplicate may repeat */
#define NFIELD 10
#define FIELD_MAX 160

/* Funnel and activity probabilities (documented in gen.h). */
#define P_LEAD 0.35
#define P_DIRECT 0.05
#define P_CONTACT 0.40
#define P_BUY 0.45
#define P_ONBOARD 0.85
#define P_CANCEL 0.10
#define P_SILENT 0.15
#define P_RETURN 0.20
#define P_INT_TS 0.10
#define ARRIVAL_SPAN 0.85
/* Expected events of one person outside the buyers' activity phase:
 * 2 visits + 0.35 * (signup 1 + contact 0.4 + 0.45 * (nurture 1 + purchase 1
 * + onboarding 0.85) + 0.55 * nurture 2.5) + 0.05 * (purchase 1 + onboarding 0.85). */
#define BASE_EVENTS (2.0 + 0.35 * (1.4 + 0.45 * 2.85 + 0.55 * 2.5) + 0.05 * 1.85)
/* Expected events per activity step: 0.807 * burst (login + 1.5 feature_use
 * + session) + 0.193 * one event + 0.04 * 0.7 csat follow-ups. */
#define EVENTS_PER_STEP (0.807 * 3.5 + 0.193 + 0.028)

enum step {
    ST_VISIT, ST_SIGNUP, ST_CONTACT, ST_NURTURE, ST_PURCHASE1, ST_ONBOARD,
    ST_ACTIVE, ST_BURST, ST_CSAT, ST_CANCEL, ST_RETURN, ST_REPURCHASE,
    ST_MARKETING, ST_GONE
};

enum fate {
    F_LEAD = 1 << 0, F_DIRECT = 1 << 1, F_CONTACT = 1 << 2, F_BUY = 1 << 3,
    F_ONBOARD = 1 << 4, F_CANCEL = 1 << 5, F_SILENT = 1 << 6, F_RETURN = 1 << 7
};

#define MKT_ID0 0xFFFFFF00u /* record ids of marketing channels: MKT_ID0 + channel */

struct cust {
    int64_t next_ms;     /* time of the next event */
    uint32_t id;         /* customer number - 1, or MKT_ID0 + channel */
    uint32_t churn_min;  /* churn time, minutes after start_ms */
    float gap_ms;        /* mean time between activity steps */
    uint32_t last_cents; /* last purchase amount */
    uint32_t ticket;     /* last support ticket number (for its csat_response) */
    uint8_t step, fate, left, plan;
};

_Static_assert(sizeof(struct cust) == 32, "gen.h promises 32 bytes per customer");

struct late {
    int64_t deliver_ms;
    int64_t ts_ms;
    uint64_t order;
    uint16_t klen, vlen;
    char key[KEY_MAX];
    char val[MSG_MAX];
};

struct saved {
    int64_t ts_ms;
    uint16_t klen, vlen;
    char key[KEY_MAX];
    char val[MSG_MAX];
};

struct fld {
    const char *name;
    uint8_t bare_name; /* write the name without quotes (a malformation) */
    uint16_t vlen;
    char v[FIELD_MAX];
};

struct ev {
    struct fld f[NFIELD];
    int n;
};

struct clm_gen {
    clm_gen_opts o;
    uint64_t s[4];
    int64_t end_ms;
    double step_rate; /* activity steps per ms of a unit-weight buyer */

    struct cust *heap; /* grows as customers arrive */
    size_t nheap, heap_cap;

    int64_t arrived;
    double arr_u;
    int64_t next_arrival_ms;

    struct late **late;
    size_t nlate, late_cap;
    uint64_t late_order;

    struct saved ring[RING];
    unsigned ring_n, ring_pos;

    int64_t created;
    uint64_t seq, order_seq, ticket_seq;

    bool have_last;
    uint32_t last_cust;
    int64_t last_ts;

    int64_t day_cached;
    char day_str[12];

    struct ev ev;
    char out[MSG_MAX];
    size_t out_len;
    char key[KEY_MAX];
    size_t key_len;
};

/* ---- random numbers ------------------------------------------------------
 * xoshiro256** 1.0 and splitmix64 (seeding), public domain, by David Blackman
 * and Sebastiano Vigna: https://prng.di.unimi.it/xoshiro256starstar.c */

static uint64_t splitmix64(uint64_t *x)
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
static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* x > 0 and normal. log x = e ln 2 + 2 atanh(s), s = (m - 1) / (m + 1),
 * m in [sqrt(1/2), sqrt(2)) so |s| < 0.172 and 9 odd terms suffice. */
static double det_log(double x)
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
static double det_exp(double x)
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
static double normal(clm_gen *g)
{
    for (;;) {
        double u = 2.0 * unif(g) - 1.0, v = 2.0 * unif(g) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0)
            return u * sqrt(-2.0 * det_log(s) / s);
    }
}

static double expo(clm_gen *g, double mean)
{
    return -mean * det_log(1.0 - unif(g));
}

static double lognorm(clm_gen *g, double median, double sigma)
{
    return median * det_exp(sigma * normal(g));
}

static int64_t clampl(double v, int64_t lo, int64_t hi)
{
    if (v < (double)lo)
        return lo;
    if (v > (double)hi)
        return hi;
    return (int64_t)v;
}

/* Index into a table of cumulative weights (last entry must be 1.0). */
static int pick(clm_gen *g, const double *cum, int n)
{
    double u = unif(g);
    for (int i = 0; i < n - 1; i++)
        if (u < cum[i])
            return i;
    return n - 1;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICKS(g, names) ((names)[irange((g), 0, (int64_t)NELEM(names) - 1)])

/* ---- text ---------------------------------------------------------------- */

static size_t put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static size_t put_i64(char *p, int64_t v)
{
    if (v < 0) {
        p[0] = '-';
        return 1 + put_u64(p + 1, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* "49.9", "12", "0.05", "-3.5" */
static size_t put_cents(char *p, int64_t cents)
{
    size_t n = 0;
    if (cents < 0) {
        p[n++] = '-';
        cents = -cents;
    }
    n += put_u64(p + n, (uint64_t)(cents / 100));
    int c = (int)(cents % 100);
    if (c) {
        p[n++] = '.';
        p[n++] = (char)('0' + c / 10);
        if (c % 10)
            p[n++] = (char)('0' + c % 10);
    }
    return n;
}

static size_t put_2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return 2;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes) of a non-negative epoch-ms time. */
static size_t put_ts(clm_gen *g, char *p, int64_t ms)
{
    int64_t day = ms / DAY_MS, rem = ms % DAY_MS;
    if (day != g->day_cached) {
        time_t t = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        int y = tm.tm_year + 1900;
        put_2(g->day_str, y / 100);
        put_2(g->day_str + 2, y % 100);
        g->day_str[4] = '-';
        put_2(g->day_str + 5, tm.tm_mon + 1);
        g->day_str[7] = '-';
        put_2(g->day_str + 8, tm.tm_mday);
        g->day_cached = day;
    }
    memcpy(p, g->day_str, 10);
    size_t n = 10;
    p[n++] = 'T';
    n += put_2(p + n, (int)(rem / HOUR_MS));
    p[n++] = ':';
    n += put_2(p + n, (int)(rem / MIN_MS % 60));
    p[n++] = ':';
    n += put_2(p + n, (int)(rem / 1000 % 60));
    p[n++] = '.';
    int frac = (int)(rem % 1000);
    p[n++] = (char)('0' + frac / 100);
    n += put_2(p + n, frac % 100);
    p[n++] = 'Z';
    return n;
}

static size_t put_id(char *p, char prefix, uint64_t n)
{
    p[0] = prefix;
    p[1] = '-';
    return 2 + put_u64(p + 2, n);
}

/* ---- event fields -------------------------------------------------------- */

static struct fld *field_add(struct ev *e, const char *name)
{
    struct fld *f = &e->f[e->n++];
    f->name = name;
    f->bare_name = 0;
    f->vlen = 0;
    return f;
}

static void fstr(struct ev *e, const char *name, const char *s)
{
    struct fld *f = field_add(e, name);
    size_t n = strlen(s);
    f->v[0] = '"';
    memcpy(f->v + 1, s, n);
    f->v[n + 1] = '"';
    f->vlen = (uint16_t)(n + 2);
}

static void fint(struct ev *e, const char *name, int64_t v)
{
    struct fld *f = field_add(e, name);
    f->vlen = (uint16_t)put_i64(f->v, v);
}

static void fcents(struct ev *e, const char *name, int64_t cents)
{
    struct fld *f = field_add(e, name);
    f->vlen = (uint16_t)put_cents(f->v, cents);
}

static void fid(struct ev *e, const char *name, char prefix, uint64_t n)
{
    struct fld *f = field_add(e, name);
    f->v[0] = '"';
    size_t k = 1 + put_id(f->v + 1, prefix, n);
    f->v[k++] = '"';
    f->vlen = (uint16_t)k;
}

static void fts(clm_gen *g, struct ev *e, int64_t ts, bool allow_int)
{
    struct fld *f = field_add(e, "ts");
    if (allow_int && unif(g) < P_INT_TS) {
        f->vlen = (uint16_t)put_i64(f->v, ts);
    } else {
        f->v[0] = '"';
        size_t n = 1 + put_ts(g, f->v + 1, ts);
        f->v[n++] = '"';
        f->vlen = (uint16_t)n;
    }
}

/* Serializes the fields as one JSON object into g->out. */
static void serialize(clm_gen *g)
{
    char *p = g->out;
    size_t n = 0;
    p[n++] = '{';
    for (int i = 0; i < g->ev.n; i++) {
        const struct fld *f = &g->ev.f[i];
        size_t nl = strlen(f->name);
        if (i)
            p[n++] = ',';
        if (!f->bare_name)
            p[n++] = '"';
        memcpy(p + n, f->name, nl);
        n += nl;
        if (!f->bare_name)
            p[n++] = '"';
        p[n++] = ':';
        memcpy(p + n, f->v, f->vlen);
        n += f->vlen;
    }
    p[n++] = '}';
    g->out_len = n;
}

static void set_key_cust(clm_gen *g, uint32_t id)
{
    g->key_len = put_id(g->key, 'c', (uint64_t)id + 1);
}

/* event_id, customer_id (customers only), type, ts */
static void head(clm_gen *g, uint32_t cust, bool is_cust, const char *type, int64_t ts)
{
    struct ev *e = &g->ev;
    e->n = 0;
    fid(e, "event_id", 'e', ++g->seq);
    if (is_cust)
        fid(e, "customer_id", 'c', (uint64_t)cust + 1);
    fstr(e, "type", type);
    fts(g, e, ts, true);
}

/* ---- vocabulary ---------------------------------------------------------- */

static const char *const CHANNELS[] = {"organic", "paid_search", "social", "email", "referral", "direct"};
static const double CHANNEL_CUM[] = {0.30, 0.50, 0.65, 0.75, 0.85, 1.0};
static const char *const PAGES[] = {"/", "/pricing", "/features", "/blog/onboarding-checklist",
                                    "/blog/churn-signals", "/docs/getting-started", "/customers"};
static const char *const DEVICES[] = {"web", "ios", "android"};
static const char *const FEATURES[] = {"dashboard", "reports", "export", "alerts",
                                       "api", "search", "integrations", "billing"};
static const char *const PLANS[] = {"basic", "pro", "team"};
static const double PLAN_CUM[] = {0.6, 0.9, 1.0};
static const double PLAN_FACTOR[] = {1.0, 1.5, 2.5};
static const char *const PRIORITIES[] = {"low", "normal", "high", "urgent"};
static const char *const TOPICS[] = {"billing", "bug", "how_to", "account"};
static const char *const REFUND_REASONS[] = {"damaged", "not_as_described", "changed_mind", "duplicate_charge"};
static const char *const FAIL_CODES[] = {"card_declined", "insufficient_funds", "expired_card", "processing_error"};
static const char *const CANCEL_REASONS[] = {"too_expensive", "not_using", "switched_competitor",
                                             "missing_feature", "other"};
static const char *const REVIEW_SITES[] = {"g2", "capterra", "trustpilot", "app_store"};
static const char *const VIA[] = {"email", "phone", "chat"};
/* csat 1..5 */
static const double CSAT_CUM[] = {0.07, 0.15, 0.30, 0.60, 1.0};
/* nps 0..10, skewed to promoters */
static const double NPS_CUM[] = {0.015, 0.03, 0.05, 0.08, 0.12, 0.18, 0.25, 0.38, 0.55, 0.75, 1.0};
static const double STARS_CUM[] = {0.05, 0.10, 0.20, 0.45, 1.0};

#define NCHAN 4
static const char *const MKT_CHANNELS[NCHAN] = {"paid_search", "social", "display", "email"};
static const double MKT_MEDIAN_CENTS[NCHAN] = {40000, 25000, 15000, 6000};

static int64_t purchase_cents(clm_gen *g, int plan)
{
    return clampl(lognorm(g, 4000.0 * PLAN_FACTOR[plan], 0.6), 99, 10000000);
}

/* ---- traits: from a hash of the seed and the customer, never the PRNG ----- */

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

/* Employees: 1..1024, about half at most 20. */
static int64_t company_size_of(const clm_gen *g, uint32_t id)
{
    uint64_t h = cust_hash(g, id, 2);
    int64_t scale = (int64_t)1 << (h % 10); /* 1 .. 512 */
    return 1 + (int64_t)((h >> 8) % (uint64_t)(2 * scale));
}

/* "properties": {"country": .., "company_size": ..}, either part optional. */
static void trait_props(clm_gen *g, uint32_t id, bool country, int64_t size)
{
    struct fld *f = field_add(&g->ev, "properties");
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
        n += put_i64(p + n, size);
    }
    p[n++] = '}';
    f->vlen = (uint16_t)n;
}

static void purchase_fields(clm_gen *g, struct cust *c)
{
    struct ev *e = &g->ev;
    int64_t cents = purchase_cents(g, c->plan);
    c->last_cents = (uint32_t)cents;
    fcents(e, "amount", cents);
    fstr(e, "currency", "EUR");
    fid(e, "order_id", 'o', ++g->order_seq);
    fstr(e, "plan", PLANS[c->plan]);
    if (g->o.traits)
        trait_props(g, c->id, true, 0);
}

/* The traits of an upgrade or downgrade: the new plan and company size. */
static void plan_traits(clm_gen *g, const struct cust *c)
{
    if (!g->o.traits)
        return;
    fstr(&g->ev, "plan", PLANS[c->plan]);
    trait_props(g, c->id, false, company_size_of(g, c->id) * (1 + c->plan));
}

static void visit_fields(clm_gen *g)
{
    fstr(&g->ev, "channel", CHANNELS[pick(g, CHANNEL_CUM, 6)]);
    fstr(&g->ev, "page", PICKS(g, PAGES));
}

/* ---- the customer state machine ------------------------------------------ */

static int64_t churn_ms(const clm_gen *g, const struct cust *c)
{
    return g->o.start_ms + (int64_t)c->churn_min * MIN_MS;
}

static void schedule(struct cust *c, enum step s, int64_t at)
{
    c->step = (uint8_t)s;
    c->next_ms = at;
}

/* Schedules the next activity step, or the churn. */
static void active_next(clm_gen *g, struct cust *c, int64_t t)
{
    int64_t n = t + clampl(expo(g, c->gap_ms), 1000, INT64_MAX / 4);
    if ((c->fate & (F_CANCEL | F_SILENT)) && n >= churn_ms(g, c)) {
        int64_t ch = churn_ms(g, c);
        if (c->fate & F_CANCEL)
            schedule(c, ST_CANCEL, ch > t + MIN_MS ? ch : t + MIN_MS);
        else if (c->fate & F_RETURN)
            schedule(c, ST_RETURN, ch + irange(g, 20 * DAY_MS, 60 * DAY_MS));
        else
            c->step = ST_GONE;
        return;
    }
    schedule(c, ST_ACTIVE, n);
}

/* Time between the events of one burst: about a minute, shorter for
 * customers so busy that their bursts would otherwise overlap. */
static int64_t burst_gap(clm_gen *g, const struct cust *c)
{
    double median = c->gap_ms / 20.0 < (double)MIN_MS ? c->gap_ms / 20.0 : (double)MIN_MS;
    return clampl(lognorm(g, median, 1.0), 100, 20 * MIN_MS);
}

/* Leads between signup and purchase (or giving up): a few visits and logins. */
static void lead_next(clm_gen *g, struct cust *c, int64_t t, bool first)
{
    if (first)
        c->left = (uint8_t)((c->fate & F_BUY) ? irange(g, 0, 2) : irange(g, 1, 4));
    if (c->left > 0) {
        c->left--;
        schedule(c, ST_NURTURE, t + clampl(lognorm(g, 1.5 * DAY_MS, 1.0), 10 * MIN_MS, 20 * DAY_MS));
    } else if (c->fate & F_BUY) {
        schedule(c, ST_PURCHASE1, t + clampl(lognorm(g, DAY_MS, 0.8), 10 * MIN_MS, 30 * DAY_MS));
    } else {
        c->step = ST_GONE;
    }
}

static void step_active(clm_gen *g, struct cust *c, int64_t t)
{
    struct ev *e = &g->ev;
    uint32_t id = c->id;
    double r = unif(g);
    if (r < 0.06) {
        head(g, id, true, "purchase", t);
        purchase_fields(g, c);
    } else if (r < 0.10) {
        head(g, id, true, "support_ticket", t);
        c->ticket = (uint32_t)++g->ticket_seq;
        fid(e, "ticket_id", 't', c->ticket);
        fstr(e, "priority", PICKS(g, PRIORITIES));
        fstr(e, "topic", PICKS(g, TOPICS));
        if (unif(g) < 0.7) {
            /* hours later, or sooner for customers busier than that */
            double d = lognorm(g, 3 * HOUR_MS, 1.0);
            if (d > 2.0 * c->gap_ms)
                d = 2.0 * c->gap_ms;
            schedule(c, ST_CSAT, t + clampl(d, MIN_MS, 3 * DAY_MS));
            return;
        }
    } else if (r < 0.125) {
        head(g, id, true, "nps_response", t);
        fint(e, "score", pick(g, NPS_CUM, 11));
        fstr(e, "survey", unif(g) < 0.5 ? "email" : "in_app");
    } else if (r < 0.14) {
        head(g, id, true, "refund", t);
        fcents(e, "amount", unif(g) < 0.7 ? c->last_cents : c->last_cents / 2);
        fstr(e, "currency", "EUR");
        fstr(e, "reason", PICKS(g, REFUND_REASONS));
    } else if (r < 0.155) {
        head(g, id, true, "review", t);
        fint(e, "stars", 1 + pick(g, STARS_CUM, 5));
        fstr(e, "site", PICKS(g, REVIEW_SITES));
    } else if (r < 0.167 && c->plan < 2) {
        head(g, id, true, "upgrade", t);
        fstr(e, "from", PLANS[c->plan]);
        c->plan++;
        fstr(e, "to", PLANS[c->plan]);
        plan_traits(g, c);
    } else if (r >= 0.167 && r < 0.177) {
        head(g, id, true, "payment_failed", t);
        fcents(e, "amount", purchase_cents(g, c->plan));
        fstr(e, "currency", "EUR");
        fstr(e, "code", PICKS(g, FAIL_CODES));
    } else if (r >= 0.177 && r < 0.187) {
        char code[16];
        snprintf(code, sizeof(code), "R%06X", (unsigned)(rnd64(g) & 0xFFFFFF));
        head(g, id, true, "referral", t);
        fstr(e, "code", code);
        fstr(e, "channel", unif(g) < 0.6 ? "link" : "email");
    } else if (r >= 0.187 && r < 0.193 && c->plan > 0) {
        head(g, id, true, "downgrade", t);
        fstr(e, "from", PLANS[c->plan]);
        c->plan--;
        fstr(e, "to", PLANS[c->plan]);
        plan_traits(g, c);
    } else {
        /* a burst: login, feature_use x Geometric(0.4) (mean 1.5), session */
        head(g, id, true, "login", t);
        fstr(e, "device", PICKS(g, DEVICES));
        int k = 0;
        while (k < 200 && unif(g) >= 0.4)
            k++;
        c->left = (uint8_t)(k + 1);
        schedule(c, ST_BURST, t + burst_gap(g, c));
        return;
    }
    active_next(g, c, t);
}

/* Emits the event of the record on top of the heap into g->ev and g->key,
 * and reschedules the record (or marks it ST_GONE). */
static void step(clm_gen *g, struct cust *c)
{
    struct ev *e = &g->ev;
    int64_t t = c->next_ms;
    uint32_t id = c->id;

    if (c->step == ST_MARKETING) {
        int ch = (int)(id - MKT_ID0);
        head(g, 0, false, "marketing_spend", t);
        fstr(e, "channel", MKT_CHANNELS[ch]);
        fcents(e, "amount", clampl(lognorm(g, MKT_MEDIAN_CENTS[ch], 0.4), 100, 100000000));
        fstr(e, "currency", "EUR");
        memcpy(g->key, "mkt:", 4);
        size_t n = strlen(MKT_CHANNELS[ch]);
        memcpy(g->key + 4, MKT_CHANNELS[ch], n);
        g->key_len = 4 + n;
        int64_t day = (t - g->o.start_ms) / DAY_MS + 1;
        c->next_ms = g->o.start_ms + day * DAY_MS + irange(g, 0, DAY_MS - 1);
        return;
    }

    set_key_cust(g, id);
    g->have_last = true;
    g->last_cust = id;
    g->last_ts = t;

    switch ((enum step)c->step) {
    case ST_VISIT:
        head(g, id, true, "visit", t);
        visit_fields(g);
        if (--c->left > 0) {
            double d = unif(g) < 0.5 ? lognorm(g, 8 * MIN_MS, 0.8) : lognorm(g, 2 * DAY_MS, 1.0);
            schedule(c, ST_VISIT, t + clampl(d, 5000, 30 * DAY_MS));
        } else if (c->fate & F_LEAD) {
            schedule(c, ST_SIGNUP, t + irange(g, MIN_MS, 20 * MIN_MS));
        } else if (c->fate & F_DIRECT) {
            schedule(c, ST_PURCHASE1, t + irange(g, 2 * MIN_MS, 40 * MIN_MS));
        } else {
            c->step = ST_GONE;
        }
        break;
    case ST_SIGNUP:
        head(g, id, true, "signup", t);
        fstr(e, "channel", CHANNELS[pick(g, CHANNEL_CUM, 6)]);
        fstr(e, "device", PICKS(g, DEVICES));
        if (g->o.traits)
            trait_props(g, id, true, company_size_of(g, id));
        if (c->fate & F_CONTACT)
            schedule(c, ST_CONTACT, t + clampl(lognorm(g, 4 * HOUR_MS, 1.5), 5 * MIN_MS, 7 * DAY_MS));
        else
            lead_next(g, c, t, true);
        break;
    case ST_CONTACT:
        head(g, id, true, "lead_contacted", t);
        fid(e, "rep", 'r', (uint64_t)irange(g, 1, 40));
        fstr(e, "via", PICKS(g, VIA));
        lead_next(g, c, t, true);
        break;
    case ST_NURTURE:
        if (unif(g) < 0.5) {
            head(g, id, true, "visit", t);
            visit_fields(g);
        } else {
            head(g, id, true, "login", t);
            fstr(e, "device", PICKS(g, DEVICES));
        }
        lead_next(g, c, t, false);
        break;
    case ST_PURCHASE1: {
        head(g, id, true, "purchase", t);
        purchase_fields(g, c);
        int64_t rest = g->end_ms > t ? g->end_ms - t : 30 * DAY_MS;
        int64_t ch = t + (int64_t)(unif(g) * (double)rest);
        c->churn_min = (uint32_t)((ch - g->o.start_ms) / MIN_MS);
        if (c->fate & F_ONBOARD)
            schedule(c, ST_ONBOARD, t + clampl(lognorm(g, 3 * HOUR_MS, 1.2), 10 * MIN_MS, 2 * DAY_MS));
        else
            active_next(g, c, t);
        break;
    }
    case ST_ONBOARD:
        head(g, id, true, "onboarding_complete", t);
        fint(e, "steps", irange(g, 4, 7));
        fstr(e, "device", PICKS(g, DEVICES));
        active_next(g, c, t);
        break;
    case ST_ACTIVE:
        step_active(g, c, t);
        break;
    case ST_BURST:
        if (c->left > 1) {
            head(g, id, true, "feature_use", t);
            fstr(e, "feature", PICKS(g, FEATURES));
            c->left--;
            schedule(c, ST_BURST, t + burst_gap(g, c));
        } else {
            head(g, id, true, "session", t);
            fint(e, "duration_s", clampl(lognorm(g, 480, 0.9), 5, 14400));
            fstr(e, "device", PICKS(g, DEVICES));
            active_next(g, c, t);
        }
        break;
    case ST_CSAT:
        head(g, id, true, "csat_response", t);
        fint(e, "score", 1 + pick(g, CSAT_CUM, 5));
        fid(e, "ticket_id", 't', c->ticket);
        active_next(g, c, t);
        break;
    case ST_CANCEL:
        head(g, id, true, "cancel", t);
        fstr(e, "reason", PICKS(g, CANCEL_REASONS));
        c->fate &= (uint8_t)~F_CANCEL;
        if (c->fate & F_RETURN)
            schedule(c, ST_RETURN, t + irange(g, 20 * DAY_MS, 60 * DAY_MS));
        else
            c->step = ST_GONE;
        break;
    case ST_RETURN:
        head(g, id, true, "visit", t);
        fstr(e, "channel", unif(g) < 0.5 ? "email" : "direct");
        fstr(e, "page", "/pricing");
        schedule(c, ST_REPURCHASE, t + clampl(lognorm(g, 30 * MIN_MS, 1.0), 2 * MIN_MS, 3 * DAY_MS));
        break;
    case ST_REPURCHASE:
        head(g, id, true, "purchase", t);
        purchase_fields(g, c);
        c->fate &= (uint8_t)~(F_CANCEL | F_SILENT | F_RETURN);
        active_next(g, c, t);
        break;
    case ST_MARKETING:
    case ST_GONE:
        break;
    }
}

/* ---- heaps --------------------------------------------------------------- */

static inline bool cust_less(const struct cust *a, const struct cust *b)
{
    return a->next_ms < b->next_ms || (a->next_ms == b->next_ms && a->id < b->id);
}

static void cust_up(clm_gen *g, size_t i)
{
    struct cust x = g->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cust_less(&x, &g->heap[p]))
            break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = x;
}

static void cust_down(clm_gen *g, size_t i)
{
    struct cust x = g->heap[i];
    size_t n = g->nheap;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        if (l + 1 < n && cust_less(&g->heap[l + 1], &g->heap[l]))
            l++;
        if (!cust_less(&g->heap[l], &x))
            break;
        g->heap[i] = g->heap[l];
        i = l;
    }
    g->heap[i] = x;
}

static inline bool late_less(const struct late *a, const struct late *b)
{
    return a->deliver_ms < b->deliver_ms || (a->deliver_ms == b->deliver_ms && a->order < b->order);
}

static int late_push(clm_gen *g, struct late *x)
{
    if (g->nlate == g->late_cap) {
        size_t cap = g->late_cap ? 2 * g->late_cap : 64;
        struct late **p = realloc(g->late, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        g->late = p;
        g->late_cap = cap;
    }
    size_t i = g->nlate++;
    while (i > 0 && late_less(x, g->late[(i - 1) / 2])) {
        g->late[i] = g->late[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g->late[i] = x;
    return 0;
}

static struct late *late_pop(clm_gen *g)
{
    struct late *top = g->late[0];
    struct late *x = g->late[--g->nlate];
    size_t i = 0, n = g->nlate;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        if (l + 1 < n && late_less(g->late[l + 1], g->late[l]))
            l++;
        if (!late_less(g->late[l], x))
            break;
        g->late[i] = g->late[l];
        i = l;
    }
    if (n)
        g->late[i] = x;
    return top;
}

/* ---- arrivals ------------------------------------------------------------ */

/* Draws the next arrival time: the next of `remaining` sorted uniforms on
 * [arr_u, 1), scaled onto the arrival window. */
static void draw_arrival(clm_gen *g)
{
    int64_t remaining = g->o.customers - g->arrived;
    if (remaining <= 0)
        return;
    double u = 1.0 - unif(g);
    g->arr_u = 1.0 - (1.0 - g->arr_u) * det_exp(det_log(u) / (double)remaining);
    double window = ARRIVAL_SPAN * (double)g->o.days * (double)DAY_MS;
    g->next_arrival_ms = g->o.start_ms + (int64_t)(g->arr_u * window);
}

/* The mean gap between a buyer's activity steps that makes a whole step
 * (gap + the burst it may start + a csat_response delay) last `period` ms on
 * average. Bursts add 0.807 x 2.5 gaps of mean 1.65 x min(1 min, gap / 20),
 * i.e. 3.33 x that; csat delays add 0.028 x min(~5 h, 2 x gap). */
static double step_gap(double period)
{
    double burst = 0.807 * 2.5 * 1.65;
    double gap = period / (1.0 + burst / 20.0 + 0.056);
    if (gap > 20.0 * MIN_MS)
        gap = (period - burst * MIN_MS) / 1.056;
    if (gap > 2.5 * HOUR_MS)
        gap = period - burst * MIN_MS - 0.028 * 5.0 * HOUR_MS;
    return gap > 1000.0 ? gap : 1000.0;
}

static int arrive(clm_gen *g)
{
    if (g->nheap == g->heap_cap) {
        size_t max = (size_t)g->o.customers + NCHAN, cap = 2 * g->heap_cap;
        struct cust *h = realloc(g->heap, (cap < max ? cap : max) * sizeof(*h));
        if (!h)
            return -ENOMEM;
        g->heap = h;
        g->heap_cap = cap < max ? cap : max;
    }
    struct cust *c = &g->heap[g->nheap++];
    memset(c, 0, sizeof(*c));
    c->id = (uint32_t)g->arrived;
    c->next_ms = g->next_arrival_ms;
    c->step = ST_VISIT;
    int k = 1;
    while (k < 6 && unif(g) < 0.5)
        k++;
    c->left = (uint8_t)k;
    double r = unif(g);
    if (r < P_LEAD) {
        c->fate |= F_LEAD;
        if (unif(g) < P_CONTACT)
            c->fate |= F_CONTACT;
        if (unif(g) < P_BUY)
            c->fate |= F_BUY;
    } else if (r < P_LEAD + P_DIRECT) {
        c->fate |= F_DIRECT | F_BUY;
    }
    if (c->fate & F_BUY) {
        if (unif(g) < P_ONBOARD)
            c->fate |= F_ONBOARD;
        double ch = unif(g);
        if (ch < P_CANCEL)
            c->fate |= F_CANCEL;
        else if (ch < P_CANCEL + P_SILENT)
            c->fate |= F_SILENT;
        if ((c->fate & (F_CANCEL | F_SILENT)) && unif(g) < P_RETURN)
            c->fate |= F_RETURN;
        c->plan = (uint8_t)pick(g, PLAN_CUM, 3);
        /* lognormal weight with mean 1: exp(sigma z - sigma^2 / 2), sigma = 1 */
        double w = det_exp(normal(g) - 0.5);
        c->gap_ms = (float)step_gap(1.0 / (w * g->step_rate));
    }
    g->arrived++;
    cust_up(g, g->nheap - 1);
    draw_arrival(g);
    return 0;
}

/* Moves every customer whose first visit is due no later than the heap top
 * into the heap. Returns 0 or -ENOMEM. */
static int admit(clm_gen *g)
{
    while (g->arrived < g->o.customers && g->next_arrival_ms <= g->heap[0].next_ms) {
        int r = arrive(g);
        if (r)
            return r;
    }
    return 0;
}

/* ---- malformed messages -------------------------------------------------- */

static const char *const MAL_REASONS[] = {
    "invalid_json", "invalid_json", "not_object", "wrong_type", "missing_field",
    "bad_customer_id", "bad_timestamp", "bad_amount", "bad_score", "bad_duration",
    "invalid_utf8", "key_mismatch",
};

/* Field positions in a malformed-message template. */
enum { T_EVENT_ID, T_CUSTOMER_ID, T_TYPE, T_TS, T_EXTRA, T_EXTRA2 };

/* A valid event of the given type for customer `id` at `ts` (string ts):
 * event_id, customer_id, type, ts, then amount + currency (purchase, refund),
 * duration_s + device (session), score + survey (csat/nps_response),
 * channel + page (visit) or device + source (others). */
static void mal_template(clm_gen *g, uint32_t id, const char *type, int64_t ts)
{
    struct ev *e = &g->ev;
    e->n = 0;
    fid(e, "event_id", 'e', ++g->seq);
    fid(e, "customer_id", 'c', (uint64_t)id + 1);
    fstr(e, "type", type);
    fts(g, e, ts, false);
    if (!strcmp(type, "purchase") || !strcmp(type, "refund")) {
        fcents(e, "amount", purchase_cents(g, 0));
        fstr(e, "currency", "EUR");
    } else if (!strcmp(type, "session")) {
        fint(e, "duration_s", clampl(lognorm(g, 480, 0.9), 5, 14400));
        fstr(e, "device", PICKS(g, DEVICES));
    } else if (!strcmp(type, "csat_response")) {
        fint(e, "score", 1 + pick(g, CSAT_CUM, 5));
        fstr(e, "survey", "email");
    } else if (!strcmp(type, "nps_response")) {
        fint(e, "score", pick(g, NPS_CUM, 11));
        fstr(e, "survey", "in_app");
    } else if (!strcmp(type, "visit")) {
        visit_fields(g);
    } else {
        fstr(e, "device", PICKS(g, DEVICES));
        fstr(e, "source", "web");
    }
}

static void set_raw(clm_gen *g, int idx, const char *s)
{
    struct fld *f = &g->ev.f[idx];
    size_t n = strlen(s);
    memcpy(f->v, s, n);
    f->vlen = (uint16_t)n;
}

static void drop(clm_gen *g, int idx)
{
    memmove(&g->ev.f[idx], &g->ev.f[idx + 1], (size_t)(g->ev.n - idx - 1) * sizeof(struct fld));
    g->ev.n--;
}

static const char *const MAL_TYPES[] = {"visit", "login", "purchase", "session", "signup", "feature_use"};

/* Builds one malformed message for the most recent customer into g->out and
 * g->key; returns its reason name. Each kind breaks exactly one rule. */
static const char *malformed(clm_gen *g)
{
    uint32_t id = g->last_cust;
    int64_t ts = g->last_ts;
    int kind = (int)irange(g, 0, (int64_t)NELEM(MAL_REASONS) - 1);
    int sub = (int)irange(g, 0, 3);
    char tmp[FIELD_MAX];
    struct fld *f;
    size_t n = 0;
    set_key_cust(g, id);

    switch (kind) {
    case 0: /* truncated */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        serialize(g);
        g->out_len = (size_t)irange(g, 1, (int64_t)g->out_len - 1);
        return MAL_REASONS[kind];
    case 1: /* not JSON: trailing garbage, duplicate key, bad escape, bare key */
        mal_template(g, id, "visit", ts);
        if (sub == 1) {
            set_raw(g, T_EXTRA, "\"login\"");
            g->ev.f[T_EXTRA].name = "type";
        } else if (sub == 2) {
            set_raw(g, T_EXTRA2, "\"/pricing\\q\"");
        } else if (sub == 3) {
            g->ev.f[T_TYPE].bare_name = 1;
        }
        serialize(g);
        if (sub == 0)
            g->out[g->out_len++] = '}';
        return MAL_REASONS[kind];
    case 2: /* valid JSON, not an object */
        if (sub == 0) {
            memcpy(tmp, "[\"", 2);
            n = 2 + put_id(tmp + 2, 'c', (uint64_t)id + 1);
            memcpy(tmp + n, "\",\"visit\",", 10);
            n += 10;
            n += put_i64(tmp + n, ts);
            tmp[n++] = ']';
        } else if (sub == 1) {
            tmp[n++] = '"';
            n += put_id(tmp + n, 'c', (uint64_t)id + 1);
            memcpy(tmp + n, " visit\"", 7);
            n += 7;
        } else if (sub == 2) {
            n = put_i64(tmp, ts);
        } else {
            memcpy(tmp, "null", 4);
            n = 4;
        }
        memcpy(g->out, tmp, n);
        g->out_len = n;
        return MAL_REASONS[kind];
    case 3: /* a known field with the wrong JSON type */
        if (sub == 0) {
            mal_template(g, id, "login", ts);
            n = put_u64(tmp, (uint64_t)id + 1);
            tmp[n] = '\0';
            set_raw(g, T_CUSTOMER_ID, tmp);
        } else if (sub == 1) {
            mal_template(g, id, "visit", ts);
            set_raw(g, T_TYPE, unif(g) < 0.5 ? "7" : "[\"visit\"]");
        } else if (sub == 2) {
            mal_template(g, id, "purchase", ts);
            f = &g->ev.f[T_EXTRA];
            memmove(f->v + 1, f->v, f->vlen);
            f->v[0] = '"';
            f->v[f->vlen + 1] = '"';
            f->vlen += 2;
        } else {
            mal_template(g, id, "csat_response", ts);
            set_raw(g, T_EXTRA, "\"4\"");
        }
        break;
    case 4: /* a required field missing */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        drop(g, sub < 2 ? T_TYPE : T_TS);
        break;
    case 5: /* empty or over-long (> 128 bytes) customer_id */
        mal_template(g, id, "visit", ts);
        if (sub < 2) {
            set_raw(g, T_CUSTOMER_ID, "\"\"");
        } else {
            tmp[n++] = '"';
            while (n < 140)
                n += put_id(tmp + n, 'c', (uint64_t)id + 1);
            tmp[n++] = '"';
            tmp[n] = '\0';
            set_raw(g, T_CUSTOMER_ID, tmp);
        }
        break;
    case 6: /* a timestamp that is not one */
        mal_template(g, id, "login", ts);
        if (sub == 3) {
            static const char *const bad[] = {"\"yesterday\"", "\"\"", "-1"};
            set_raw(g, T_TS, bad[irange(g, 0, 2)]);
        } else {
            /* the value is "YYYY-MM-DDTHH:MM:SS.mmmZ" quoted: month 13, day 32 or hour 25 */
            static const int pos[] = {6, 9, 12};
            static const char *const val[] = {"13", "32", "25"};
            memcpy(g->ev.f[T_TS].v + pos[sub], val[sub], 2);
        }
        break;
    case 7: /* negative amount */
        mal_template(g, id, sub < 2 ? "purchase" : "refund", ts);
        f = &g->ev.f[T_EXTRA];
        f->vlen = (uint16_t)put_cents(f->v, -clampl(lognorm(g, 3000, 0.8), 1, 1000000));
        break;
    case 8: /* score out of range: csat outside 1..5, nps outside 0..10 */
        if (sub < 2) {
            mal_template(g, id, "csat_response", ts);
            n = put_i64(tmp, unif(g) < 0.5 ? 0 : irange(g, 6, 10));
        } else {
            mal_template(g, id, "nps_response", ts);
            n = put_i64(tmp, unif(g) < 0.5 ? -1 : irange(g, 11, 100));
        }
        tmp[n] = '\0';
        set_raw(g, T_EXTRA, tmp);
        break;
    case 9: /* negative duration */
        mal_template(g, id, "session", ts);
        n = put_i64(tmp, -irange(g, 1, 3600));
        tmp[n] = '\0';
        set_raw(g, T_EXTRA, tmp);
        break;
    case 10: { /* invalid UTF-8 inside a string */
        static const char *const bad[] = {"\"/caf\xC3\x28\"", "\"/pricing\xFF\"",
                                          "\"/docs\xC0\xAF\"", "\"/blog\xE2\x82\""};
        mal_template(g, id, "visit", ts);
        set_raw(g, T_EXTRA2, bad[sub]);
        break;
    }
    default: /* the key names another customer */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        set_key_cust(g, id + 1);
        break;
    }
    serialize(g);
    return MAL_REASONS[kind];
}

/* ---- public -------------------------------------------------------------- */

void clm_gen_opts_default(clm_gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 42;
    o->customers = 1000;
    o->events = 20000;
    o->start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    o->days = 120;
    o->malformed_rate = 0.0;
    o->dup_rate = 0.002;
    o->ooo_rate = 0.01;
    o->ooo_max_ms = HOUR_MS;
}

static bool rate_ok(double r)
{
    return r >= 0.0 && r <= 1.0; /* false for NaN too */
}

int clm_gen_new(const clm_gen_opts *o, clm_gen **out, char *errbuf, size_t errsize)
{
    const char *bad = NULL;
    if (o->customers < 1 || o->customers > 0x7fffffff)
        bad = "customers must be 1 .. 2147483647";
    else if (o->events < 0)
        bad = "events must be >= 0";
    else if (o->days < 1 || o->days > 36500)
        bad = "days must be 1 .. 36500";
    else if (o->start_ms < 0 || o->start_ms > 253402300799999LL - 2 * 36500 * DAY_MS)
        bad = "start must lie between 1970 and 9799";
    else if (!rate_ok(o->malformed_rate) || !rate_ok(o->dup_rate) || !rate_ok(o->ooo_rate))
        bad = "malformed, dup and ooo rates must lie in [0, 1]";
    else if (o->ooo_max_ms < 1 || o->ooo_max_ms > 365 * DAY_MS)
        bad = "ooo_max_ms must be 1 .. one year";
    if (bad) {
        snprintf(errbuf, errsize, "%s", bad);
        return -EINVAL;
    }

    clm_gen *g = calloc(1, sizeof(*g));
    if (g) {
        g->heap_cap = (size_t)o->customers + NCHAN < 1024 ? (size_t)o->customers + NCHAN : 1024;
        g->heap = malloc(g->heap_cap * sizeof(*g->heap));
    }
    if (!g || !g->heap) {
        free(g);
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    g->o = *o;
    uint64_t x = o->seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
    g->end_ms = o->start_ms + (int64_t)o->days * DAY_MS;
    g->day_cached = -1;

    /* Size the buyers' activity so the expected stream fills the span.
     * Buyers first purchase ~3 days after arriving (uniform over the first 85%
     * of the span) and 25% churn halfway through their remaining time:
     * mean active time = 0.875 * (0.575 * span - 3 days). */
    double span = (double)o->days * DAY_MS;
    double c = (double)o->customers;
    double buyers = c * (P_LEAD * P_BUY + P_DIRECT);
    double active_ms = 0.875 * (0.575 * span - 3.0 * DAY_MS);
    if (active_ms < 0.1 * span)
        active_ms = 0.1 * span;
    double act_events = (double)o->events - NCHAN * (double)o->days - c * BASE_EVENTS;
    double min_rate = 1.0 / (30.0 * DAY_MS); /* at least one step a month */
    g->step_rate = act_events / (buyers * active_ms * EVENTS_PER_STEP);
    if (!(g->step_rate > min_rate))
        g->step_rate = min_rate;

    for (int ch = 0; ch < NCHAN; ch++) {
        struct cust *m = &g->heap[g->nheap++];
        memset(m, 0, sizeof(*m));
        m->id = MKT_ID0 + (uint32_t)ch;
        m->step = ST_MARKETING;
        m->next_ms = o->start_ms + irange(g, 0, DAY_MS - 1);
        cust_up(g, g->nheap - 1);
    }
    draw_arrival(g);
    *out = g;
    return 0;
}

void clm_gen_free(clm_gen *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nlate; i++)
        free(g->late[i]);
    free(g->late);
    free(g->heap);
    free(g);
}

static void remember(clm_gen *g, int64_t ts)
{
    struct saved *s = &g->ring[g->ring_pos];
    g->ring_pos = (g->ring_pos + 1) % RING;
    if (g->ring_n < RING)
        g->ring_n++;
    s->ts_ms = ts;
    s->klen = (uint16_t)g->key_len;
    s->vlen = (uint16_t)g->out_len;
    memcpy(s->key, g->key, g->key_len);
    memcpy(s->val, g->out, g->out_len);
}

static void emit(clm_gen *g, clm_gen_msg *m, int64_t ts)
{
    memset(m, 0, sizeof(*m));
    m->value = g->out;
    m->value_len = g->out_len;
    m->key = g->key;
    m->key_len = g->key_len;
    m->ts_ms = ts;
}

int clm_gen_next(clm_gen *g, clm_gen_msg *m)
{
    for (;;) {
        int r = admit(g);
        if (r)
            return r;
        struct cust *top = &g->heap[0];

        if (g->nlate && (g->created >= g->o.events || g->late[0]->deliver_ms <= top->next_ms)) {
            struct late *l = late_pop(g);
            memcpy(g->out, l->val, l->vlen);
            g->out_len = l->vlen;
            memcpy(g->key, l->key, l->klen);
            g->key_len = l->klen;
            int64_t ts = l->ts_ms;
            free(l);
            remember(g, ts);
            emit(g, m, ts);
            m->late = 1;
            return 1;
        }
        if (g->created >= g->o.events)
            return 0;
        g->created++;

        if (g->o.dup_rate > 0 && unif(g) < g->o.dup_rate && g->ring_n) {
            const struct saved *s = &g->ring[(g->ring_pos + RING - 1 - (unsigned)irange(g, 0, g->ring_n - 1)) % RING];
            memcpy(g->out, s->val, s->vlen);
            g->out_len = s->vlen;
            memcpy(g->key, s->key, s->klen);
            g->key_len = s->klen;
            emit(g, m, s->ts_ms);
            m->duplicate = 1;
            return 1;
        }
        if (g->o.malformed_rate > 0 && unif(g) < g->o.malformed_rate && g->have_last) {
            const char *reason = malformed(g);
            emit(g, m, g->last_ts);
            m->malformed = 1;
            m->reason = reason;
            return 1;
        }

        int64_t ts = top->next_ms;
        step(g, top);
        serialize(g);
        if (top->step == ST_GONE) {
            g->heap[0] = g->heap[--g->nheap];
        }
        cust_down(g, 0);

        if (g->o.ooo_rate > 0 && unif(g) < g->o.ooo_rate) {
            struct late *l = malloc(sizeof(*l));
            if (!l)
                return -ENOMEM;
            l->ts_ms = ts;
            l->deliver_ms = ts + irange(g, 1, g->o.ooo_max_ms);
            l->order = g->late_order++;
            l->klen = (uint16_t)g->key_len;
            l->vlen = (uint16_t)g->out_len;
            memcpy(l->key, g->key, g->key_len);
            memcpy(l->val, g->out, g->out_len);
            if (late_push(g, l) < 0) {
                free(l);
                return -ENOMEM;
            }
            continue;
        }
        remember(g, ts);
        emit(g, m, ts);
        return 1;
    }
}
