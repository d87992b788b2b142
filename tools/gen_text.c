/* tools/gen_text.c - the generator's text: numbers, ids and times written
 * without printf (tools/gen_impl.h), an event's fields, and the event as
 * one JSON object with the fields in order. */
#include "tools/gen_impl.h"

#include <string.h>
#include <time.h>

size_t gen_put_u64(char *p, uint64_t v)
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

size_t gen_put_i64(char *p, int64_t v)
{
    if (v < 0) {
        p[0] = '-';
        return 1 + gen_put_u64(p + 1, (uint64_t)0 - (uint64_t)v);
    }
    return gen_put_u64(p, (uint64_t)v);
}

/* "49.9", "12", "0.05", "-3.5" */
size_t gen_put_cents(char *p, int64_t cents)
{
    size_t n = 0;
    if (cents < 0) {
        p[n++] = '-';
        cents = -cents;
    }
    n += gen_put_u64(p + n, (uint64_t)(cents / 100));
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

size_t gen_put_id(char *p, char prefix, uint64_t n)
{
    p[0] = prefix;
    p[1] = '-';
    return 2 + gen_put_u64(p + 2, n);
}

/* ---- event fields -------------------------------------------------------- */

struct fld * gen_field_add(struct ev *e, const char *name)
{
    struct fld *f = &e->f[e->n++];
    f->name = name;
    f->bare_name = 0;
    f->vlen = 0;
    return f;
}

void gen_fstr(struct ev *e, const char *name, const char *s)
{
    struct fld *f = gen_field_add(e, name);
    size_t n = strlen(s);
    f->v[0] = '"';
    memcpy(f->v + 1, s, n);
    f->v[n + 1] = '"';
    f->vlen = (uint16_t)(n + 2);
}

void gen_fint(struct ev *e, const char *name, int64_t v)
{
    struct fld *f = gen_field_add(e, name);
    f->vlen = (uint16_t)gen_put_i64(f->v, v);
}

void gen_fcents(struct ev *e, const char *name, int64_t cents)
{
    struct fld *f = gen_field_add(e, name);
    f->vlen = (uint16_t)gen_put_cents(f->v, cents);
}

void gen_fid(struct ev *e, const char *name, char prefix, uint64_t n)
{
    struct fld *f = gen_field_add(e, name);
    f->v[0] = '"';
    size_t k = 1 + gen_put_id(f->v + 1, prefix, n);
    f->v[k++] = '"';
    f->vlen = (uint16_t)k;
}

void gen_fts(clm_gen *g, struct ev *e, int64_t ts, bool allow_int)
{
    struct fld *f = gen_field_add(e, "ts");
    if (allow_int && unif(g) < P_INT_TS) {
        f->vlen = (uint16_t)gen_put_i64(f->v, ts);
    } else {
        f->v[0] = '"';
        size_t n = 1 + put_ts(g, f->v + 1, ts);
        f->v[n++] = '"';
        f->vlen = (uint16_t)n;
    }
}

/* Serializes the fields as one JSON object into g->out. */
void gen_serialize(clm_gen *g)
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

void gen_set_key_cust(clm_gen *g, uint32_t id)
{
    g->key_len = gen_put_id(g->key, g->id_prefix, (uint64_t)id + 1);
}

/* event_id, customer_id (customers only), type, ts */
void gen_head(clm_gen *g, uint32_t cust, bool is_cust, const char *type, int64_t ts)
{
    struct ev *e = &g->ev;
    e->n = 0;
    gen_fid(e, "event_id", 'e', ++g->seq);
    if (is_cust)
        gen_fid(e, "customer_id", g->id_prefix, (uint64_t)cust + 1);
    gen_fstr(e, "type", type);
    gen_fts(g, e, ts, true);
}
