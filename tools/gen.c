/* tools/gen.c - the lifecycle stream generator (see gen.h for the model).
 *
 * A discrete-event simulation: every arrived customer (and every marketing
 * channel) is one 32-byte record in a binary min-heap keyed by the time of its
 * next event. Popping the top yields the next event in time order; the record
 * then schedules its following event or leaves the heap. Arrivals come from a
 * sequential draw of sorted uniform order statistics, so exactly `customers`
 * people arrive without a precomputed list.
 */
#include "tools/gen_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gen_vocab.h"

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
    if (g->o.anon_rate > 0 && unif(g) < g->o.anon_rate)
        c->anon = 1;
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
    else if (!rate_ok(o->malformed_rate) || !rate_ok(o->dup_rate) || !rate_ok(o->ooo_rate) ||
             !rate_ok(o->anon_rate))
        bad = "malformed, dup, ooo and anon rates must lie in [0, 1]";
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
    g->id_prefix = 'c';

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
            const char *reason = gen_malformed(g);
            emit(g, m, g->last_ts);
            m->malformed = 1;
            m->reason = reason;
            return 1;
        }

        int64_t ts = top->next_ms;
        gen_step(g, top);
        gen_serialize(g);
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
