/* core/rfm.c - see rfm.h. */
#include "core/rfm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"

void clm_rfm_init(clm_rfm *r)
{
    *r = (clm_rfm){ .first_day = -1, .last_day = -1 };
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The bit of day d in day_bits, or 0 when d lies outside the bitmap. */
static uint64_t day_bit(const clm_rfm *r, int64_t d)
{
    int64_t k = (int64_t)r->last_day - d;
    return k >= 0 && k < 64 ? UINT64_C(1) << k : 0;
}

void clm_rfm_purchase(clm_rfm *r, int64_t ts_ms, int64_t amount_micros)
{
    int64_t d = clm_day_of_ms(ts_ms);
    int64_t amount = amount_micros > 0 ? amount_micros : 0;
    if (r->first_day < 0) {
        *r = (clm_rfm){ .first_day = (int32_t)d, .last_day = (int32_t)d, .day_bits = 1,
                        .first_micros = amount };
        return;
    }
    if (d == r->first_day) {
        r->first_micros = sat_add(r->first_micros, amount);
        return;
    }
    if (d > r->last_day) {
        int64_t shift = d - r->last_day;
        r->day_bits = shift >= 64 ? 0 : r->day_bits << shift;
        r->day_bits |= 1;
        r->last_day = (int32_t)d;
    } else if (d < r->first_day) {
        /* a new first day: the old one becomes a repeat day */
        r->repeat_micros = sat_add(r->repeat_micros, r->first_micros);
        r->first_micros = amount;
        r->first_day = (int32_t)d;
        r->day_bits |= day_bit(r, d);
        r->x++;
        return;
    } else {
        uint64_t bit = day_bit(r, d);
        if (r->day_bits & bit) { /* a day already counted */
            r->repeat_micros = sat_add(r->repeat_micros, amount);
            return;
        }
        r->day_bits |= bit;
    }
    r->x++;
    r->repeat_micros = sat_add(r->repeat_micros, amount);
}

void clm_rfm_stats(const clm_rfm *r, int64_t now_day, double unit_days, double *x, double *t_x,
                   double *T, double *m_x)
{
    if (r->first_day < 0) {
        *x = *t_x = *T = *m_x = 0.0;
        return;
    }
    int64_t end = now_day > r->last_day ? now_day : r->last_day;
    *x = (double)r->x;
    *t_x = (double)(r->last_day - r->first_day) / unit_days;
    *T = (double)(end - r->first_day) / unit_days;
    *m_x = r->x > 0 ? (double)r->repeat_micros / 1e6 / (double)r->x : 0.0;
}

int clm_rfm_emit(const clm_rfm *r, clm_rfm_field_fn fn, void *ctx)
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

/* ---- loading ------------------------------------------------------------ */

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

/* Whether r is a state clm_rfm_purchase can reach. */
static bool consistent(const clm_rfm *r)
{
    if (r->first_day < 0)
        return r->first_day == -1 && r->last_day == -1 && r->x == 0 && r->day_bits == 0 &&
               r->first_micros == 0 && r->repeat_micros == 0;
    int64_t span = (int64_t)r->last_day - r->first_day;
    if (span < 0 || r->x > span || (span > 0 && r->x < 1) || !(r->day_bits & 1) ||
        (r->x == 0 && r->repeat_micros != 0) || r->first_micros < 0 || r->repeat_micros < 0)
        return false;
    if (span < 64 && ((r->day_bits >> span) != 1))
        return false; /* the first day's bit is the highest one set */
    int set = __builtin_popcountll(r->day_bits) - (span < 64 ? 1 : 0);
    return set <= r->x;
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
    if (!consistent(&t))
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

int clm_rfm_load_field(clm_rfm *r, const char *name, size_t nlen, const char *v, size_t vlen)
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
