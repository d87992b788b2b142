/* store/v1_parts.c - the v1 text of a customer's parts: the churn-risk
 * state, the repeat-purchase statistics and the dedup set (see v1.h). */
#include "store/v1.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"

/* ---- risk_state ------------------------------------------------------------- */

int clm_v1_risk_state_format(const clm_risk_state *s, char *buf, size_t size)
{
    char nps_ts[24] = "-", csat_ts[24] = "-";
    if (s->nps_ts != CLM_NO_TS)
        snprintf(nps_ts, sizeof(nps_ts), "%" PRId64, s->nps_ts);
    if (s->csat_ts != CLM_NO_TS)
        snprintf(csat_ts, sizeof(csat_ts), "%" PRId64, s->csat_ts);
    int n = snprintf(buf, size, "v1 %d %s %d %s %" PRId32 " %" PRId32 " %" PRId32 " %" PRIx64
                     " %" PRId32 " %" PRId32 " ",
                     s->nps, nps_ts, s->csat, csat_ts, s->first_day, s->last_day, s->active_days,
                     s->day_bits, s->payment_failed_day, s->downgrade_day);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    size_t off = (size_t)n;
    for (int i = 0; i < CLM_RISK_TICKETS; i++) {
        n = snprintf(buf + off, size - off, "%s%" PRId32, i ? "," : "", s->ticket_day[i]);
        if (n < 0 || (size_t)n >= size - off)
            return -ENOSPC;
        off += (size_t)n;
    }
    n = snprintf(buf + off, size - off, " %" PRId32 " ", s->session_day);
    if (n < 0 || (size_t)n >= size - off)
        return -ENOSPC;
    off += (size_t)n;
    /* session counts: "k:n" for n sessions on session_day - k, "-" for none */
    bool any = false;
    for (int k = 0; s->session_day >= 0 && k < CLM_RISK_SESSION_DAYS; k++) {
        unsigned v = clm_risk_sessions_on(s, (int64_t)s->session_day - k);
        if (!v)
            continue;
        n = snprintf(buf + off, size - off, "%s%d:%u", any ? "," : "", k, v);
        if (n < 0 || (size_t)n >= size - off)
            return -ENOSPC;
        off += (size_t)n;
        any = true;
    }
    if (!any) {
        if (size - off < 2)
            return -ENOSPC;
        buf[off++] = '-';
    }
    return (int)off;
}

/* A cursor over a length-delimited string. */
typedef struct cursor {
    const char *p, *end;
} cursor;

static int next_i64(cursor *c, char sep, int64_t lo, int64_t hi, int64_t *out, bool dash_ok)
{
    const char *start = c->p;
    while (c->p < c->end && *c->p != sep)
        c->p++;
    size_t len = (size_t)(c->p - start);
    if (c->p < c->end)
        c->p++; /* the separator */
    if (dash_ok && len == 1 && *start == '-') {
        *out = CLM_NO_TS;
        return 0;
    }
    char tmp[24];
    if (len == 0 || len >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    char *e;
    errno = 0;
    long long v = strtoll(tmp, &e, 10);
    if (*e || errno || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

int clm_v1_risk_state_parse(clm_risk_state *out, const char *v, size_t len)
{
    clm_risk_state s;
    clm_risk_state_init(&s);
    if (len == 0) {
        *out = s;
        return 0;
    }
    if (len < 3 || memcmp(v, "v1 ", 3) != 0)
        return -EINVAL;
    cursor c = { v + 3, v + len };
    int64_t x;
#define NUM(sep, lo, hi, dash, dst)                                   \
    do {                                                              \
        if (next_i64(&c, sep, lo, hi, &x, dash) < 0)                  \
            return -EINVAL;                                           \
        dst = x;                                                      \
    } while (0)
    NUM(' ', -1, 127, false, s.nps);
    NUM(' ', INT64_MIN + 1, INT64_MAX, true, s.nps_ts);
    NUM(' ', -1, 127, false, s.csat);
    NUM(' ', INT64_MIN + 1, INT64_MAX, true, s.csat_ts);
    NUM(' ', -1, INT32_MAX, false, s.first_day);
    NUM(' ', -1, INT32_MAX, false, s.last_day);
    NUM(' ', 0, INT32_MAX, false, s.active_days);
    { /* hex bits */
        const char *start = c.p;
        while (c.p < c.end && *c.p != ' ')
            c.p++;
        size_t n = (size_t)(c.p - start);
        if (n == 0 || n > 16 || c.p == c.end)
            return -EINVAL;
        uint64_t bits = 0;
        for (size_t i = 0; i < n; i++) {
            char ch = start[i];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0)
                return -EINVAL;
            bits = bits << 4 | (uint64_t)d;
        }
        s.day_bits = bits;
        c.p++;
    }
    NUM(' ', -1, INT32_MAX, false, s.payment_failed_day);
    NUM(' ', -1, INT32_MAX, false, s.downgrade_day);
    for (int i = 0; i < CLM_RISK_TICKETS; i++)
        NUM(i + 1 < CLM_RISK_TICKETS ? ',' : ' ', -1, INT32_MAX, false, s.ticket_day[i]);
    NUM(' ', -1, INT32_MAX, false, s.session_day);
    if (c.end - c.p == 1 && *c.p == '-') {
        c.p++;
    } else {
        while (c.p < c.end) {
            int64_t k;
            if (s.session_day < 0 || next_i64(&c, ':', 0, CLM_RISK_SESSION_DAYS - 1, &k, false) < 0)
                return -EINVAL;
            NUM(',', 1, 255, false, x);
            clm_risk_sessions_set(&s, (int64_t)s.session_day - k, (uint8_t)x);
        }
    }
#undef NUM
    if (c.p != c.end)
        return -EINVAL;
    *out = s;
    return 0;
}

/* ---- repeat-purchase fields ------------------------------------------------- */

int clm_v1_rfm_emit(const clm_rfm *r, clm_v1_field_fn fn, void *ctx)
{
    char buf[160], first[16] = "", last[16] = "";
    int n, rc;
    n = snprintf(buf, sizeof(buf), "%d", (int)r->x);
    if ((rc = fn(ctx, "repeat_days", buf, (size_t)n)) < 0)
        return rc;
    if (r->first_day >= 0) {
        clm_day_format(r->first_day, first);
        clm_day_format(r->last_day, last);
    }
    if ((rc = fn(ctx, "first_purchase_day", first, strlen(first))) < 0)
        return rc;
    if ((rc = fn(ctx, "last_purchase_day", last, strlen(last))) < 0)
        return rc;
    int64_t avg = r->x > 0 ? (r->repeat_micros / r->x) +
                                 (r->repeat_micros % r->x >= (r->x + 1) / 2 ? 1 : 0)
                           : 0;
    n = clm_micros_format(avg, buf, sizeof(buf));
    if ((rc = fn(ctx, "repeat_spend_avg", buf, (size_t)n)) < 0)
        return rc;
    n = snprintf(buf, sizeof(buf), "%d:%d:%d:%016llx:%lld:%lld", (int)r->first_day,
                 (int)r->last_day, (int)r->x, (unsigned long long)r->day_bits,
                 (long long)r->first_micros, (long long)r->repeat_micros);
    return fn(ctx, "rfm", buf, (size_t)n);
}



/* A decimal integer in [lo, hi] filling s[0..len). */
static int parse_int(const char *s, size_t len, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    if (neg)
        i++;
    if (i == len || len - i > 19)
        return -EINVAL;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return -EINVAL;
    int64_t sv = neg ? -(int64_t)v : (int64_t)v;
    if (sv < lo || sv > hi)
        return -EINVAL;
    *out = sv;
    return 0;
}

static int parse_hex64(const char *s, size_t len, uint64_t *out)
{
    if (len != 16)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -EINVAL;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int load_rfm(clm_rfm *r, const char *v, size_t vlen)
{
    const char *part[6];
    size_t plen[6], np = 0;
    const char *p = v, *end = v + vlen;
    for (;;) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (np == 6)
            return -EINVAL;
        part[np] = p;
        plen[np++] = (size_t)((colon ? colon : end) - p);
        if (!colon)
            break;
        p = colon + 1;
    }
    int64_t first, last, x, fm, rm;
    clm_rfm t;
    if (np != 6 || parse_int(part[0], plen[0], -1, INT32_MAX, &first) < 0 ||
        parse_int(part[1], plen[1], -1, INT32_MAX, &last) < 0 ||
        parse_int(part[2], plen[2], 0, INT32_MAX, &x) < 0 ||
        parse_hex64(part[3], plen[3], &t.day_bits) < 0 ||
        parse_int(part[4], plen[4], 0, INT64_MAX, &fm) < 0 ||
        parse_int(part[5], plen[5], 0, INT64_MAX, &rm) < 0)
        return -EINVAL;
    t.first_day = (int32_t)first;
    t.last_day = (int32_t)last;
    t.x = (int32_t)x;
    t.first_micros = fm;
    t.repeat_micros = rm;
    if (!clm_rfm_valid(&t))
        return -EINVAL;
    *r = t;
    return 1;
}

/* "" or "YYYY-MM-DD" with a month 01..12 and a day 01..31. */
static bool day_text(const char *v, size_t len)
{
    if (len == 0)
        return true;
    if (len != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return false;
    int mo = (v[5] - '0') * 10 + (v[6] - '0'), d = (v[8] - '0') * 10 + (v[9] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

static bool is(const char *name, size_t nlen, const char *want)
{
    return strlen(want) == nlen && memcmp(name, want, nlen) == 0;
}

int clm_v1_rfm_load_field(clm_rfm *r, const char *name, size_t nlen, const char *v, size_t vlen)
{
    int64_t n;
    if (is(name, nlen, "rfm"))
        return load_rfm(r, v, vlen);
    if (is(name, nlen, "repeat_days"))
        return parse_int(v, vlen, 0, INT32_MAX, &n) < 0 ? -EINVAL : 1;
    if (is(name, nlen, "first_purchase_day") || is(name, nlen, "last_purchase_day"))
        return day_text(v, vlen) ? 1 : -EINVAL;
    if (is(name, nlen, "repeat_spend_avg"))
        return clm_micros_parse(v, vlen, &n) < 0 || n < 0 ? -EINVAL : 1;
    return 0;
}

/* ---- dedup ------------------------------------------------------------------ */

int clm_v1_dedup_format(const clm_dedup *d, char *buf, size_t size)
{
    size_t off = 0;
    if (size == 0)
        return -ENOSPC;
    buf[0] = '\0';
    static const char hex[] = "0123456789abcdef";
    const clm_dedup_entry *v = clm_dedup_entries(d);
    for (uint16_t i = 0; i < d->n; i++) {
        char e[40];
        size_t w = 0;
        if (i)
            e[w++] = ',';
        for (int k = 60; k >= 0; k -= 4)
            e[w++] = hex[(v[i].hash >> k) & 0xf];
        e[w++] = ':';
        w += (size_t)clm_i64_format(v[i].ts_ms, e + w);
        if (w >= size - off)
            return -ENOSPC;
        memcpy(buf + off, e, w);
        off += w;
    }
    buf[off] = '\0';
    return (int)off;
}

static int parse_entry(const char *s, const char *end, clm_dedup_entry *e)
{
    uint64_t h = 0;
    const char *p = s;
    int digits = 0;
    for (; p < end && *p != ':'; p++, digits++) {
        int c = (unsigned char)*p, v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return -EINVAL;
        h = (h << 4) | (uint64_t)v;
    }
    if (digits != 16 || p >= end)
        return -EINVAL;
    p++;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end)
        return -EINVAL;
    int64_t ts = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || ts > (INT64_MAX - 9) / 10)
            return -EINVAL;
        ts = ts * 10 + (*p - '0');
    }
    e->hash = h;
    e->ts_ms = neg ? -ts : ts;
    return 0;
}

int clm_v1_dedup_parse(clm_dedup *d, const char *s, size_t len)
{
    const char *end = s + len, *p = s;
    clm_dedup_init(d);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        clm_dedup_entry e;
        int r = parse_entry(p, stop, &e);
        if (r == 0 && comma && comma + 1 == end)
            r = -EINVAL; /* trailing comma */
        if (r == 0)
            r = clm_dedup_append(d, e.hash, e.ts_ms); /* -EINVAL: not in time order */
        if (r < 0) {
            clm_dedup_release(d);
            return r;
        }
        p = comma ? comma + 1 : end;
    }
    return 0;
}
