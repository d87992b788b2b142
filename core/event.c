/* core/event.c - event type names and fixed-point money. */
#include "core/event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[CLM_EV__COUNT] = {
    [CLM_EV_OTHER] = "other",
    [CLM_EV_VISIT] = "visit",
    [CLM_EV_SIGNUP] = "signup",
    [CLM_EV_LEAD_CONTACTED] = "lead_contacted",
    [CLM_EV_PURCHASE] = "purchase",
    [CLM_EV_REFUND] = "refund",
    [CLM_EV_ONBOARDING_COMPLETE] = "onboarding_complete",
    [CLM_EV_LOGIN] = "login",
    [CLM_EV_SESSION] = "session",
    [CLM_EV_FEATURE_USE] = "feature_use",
    [CLM_EV_SUPPORT_TICKET] = "support_ticket",
    [CLM_EV_CSAT_RESPONSE] = "csat_response",
    [CLM_EV_NPS_RESPONSE] = "nps_response",
    [CLM_EV_REFERRAL] = "referral",
    [CLM_EV_REVIEW] = "review",
    [CLM_EV_UPGRADE] = "upgrade",
    [CLM_EV_DOWNGRADE] = "downgrade",
    [CLM_EV_PAYMENT_FAILED] = "payment_failed",
    [CLM_EV_CANCEL] = "cancel",
    [CLM_EV_MARKETING_SPEND] = "marketing_spend",
    [CLM_EV_IDENTIFY] = "identify",
    [CLM_EV_FORGET] = "forget",
};

const char *clm_event_type_name(clm_event_type t)
{
    if ((unsigned)t >= CLM_EV__COUNT)
        return type_names[CLM_EV_OTHER];
    return type_names[t];
}

clm_event_type clm_event_type_from_name(const char *name, size_t len)
{
    if (len == 0)
        return CLM_EV_OTHER;
    /* "other" is the generic bucket, not a name a producer can select. */
    for (int t = CLM_EV_OTHER + 1; t < CLM_EV__COUNT; t++) {
        const char *n = type_names[t];

        if (n[0] == name[0] && strlen(n) == len && memcmp(n, name, len) == 0)
            return (clm_event_type)t;
    }
    return CLM_EV_OTHER;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digit k of the number's digits with the '.' left out. */
static unsigned digit_at(const char *s, size_t int_start, size_t nint, size_t frac_start,
                         size_t k)
{
    return (unsigned)((k < nint ? s[int_start + k] : s[frac_start + k - nint]) - '0');
}

int clm_amount_parse(const char *s, size_t len, int64_t *micros)
{
    size_t i = 0, int_start, nint, frac_start, nfrac = 0, k, first, last;
    int neg = 0, eneg = 0;
    int64_t e = 0, p_first, p_last;
    uint64_t mag = 0;

    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    int_start = i;
    if (i >= len || !is_digit(s[i]))
        return -EINVAL;
    if (s[i] == '0')
        i++;
    else
        while (i < len && is_digit(s[i]))
            i++;
    nint = i - int_start;
    frac_start = i;
    if (i < len && s[i] == '.') {
        frac_start = ++i;
        if (i >= len || !is_digit(s[i]))
            return -EINVAL;
        while (i < len && is_digit(s[i]))
            i++;
        nfrac = i - frac_start;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i]))
            return -EINVAL;
        /* Past 10^9 the exponent decides alone (a huge one is out of range,
         * a tiny one too fine), so it stops growing there. */
        for (; i < len && is_digit(s[i]); i++)
            if (e < 1000000000)
                e = e * 10 + (s[i] - '0');
        if (eneg)
            e = -e;
    }
    if (i != len)
        return -EINVAL;

    /* The first and last non-zero digits; none: the value is zero. */
    for (first = 0; first < nint + nfrac && digit_at(s, int_start, nint, frac_start, first) == 0;
         first++)
        ;
    if (first == nint + nfrac) {
        *micros = 0;
        return 0;
    }
    if (neg)
        return -ERANGE;
    for (last = nint + nfrac - 1; digit_at(s, int_start, nint, frac_start, last) == 0; last--)
        ;
    /* Digit k weighs 10^(nint - 1 - k + e) units, 10^(that + 6) micro-units. */
    p_first = (int64_t)nint - 1 - (int64_t)first + e + 6;
    p_last = (int64_t)nint - 1 - (int64_t)last + e + 6;
    if (p_last < 0 || p_first > 18)
        return -ERANGE;
    /* At most 19 digits below 10^19: fits in a uint64. */
    for (k = first; k <= last; k++)
        mag = mag * 10 + digit_at(s, int_start, nint, frac_start, k);
    for (int64_t z = 0; z < p_last; z++)
        mag *= 10;
    if (mag > (uint64_t)CLM_AMOUNT_MAX_MICROS)
        return -ERANGE;
    *micros = (int64_t)mag;
    return 0;
}

static int u64_format(uint64_t v, char *buf)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

int clm_i64_format(int64_t v, char *buf)
{
    if (v >= 0)
        return u64_format((uint64_t)v, buf);
    buf[0] = '-';
    return 1 + u64_format(0 - (uint64_t)v, buf + 1);
}

int clm_micros_format(int64_t micros, char *buf, size_t size)
{
    /* The magnitude as unsigned so INT64_MIN has one too. */
    uint64_t mag = micros < 0 ? 0 - (uint64_t)micros : (uint64_t)micros;
    uint64_t whole = mag / 1000000u;
    unsigned frac = (unsigned)(mag % 1000000u);
    char tmp[32];
    int n = 0;

    if (micros < 0)
        tmp[n++] = '-';
    n += u64_format(whole, tmp + n);
    if (frac) {
        int digits = 6;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        tmp[n++] = '.';
        for (int i = digits - 1; i >= 0; i--) {
            tmp[n + i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        n += digits;
    }
    if ((size_t)n >= size)
        return -ENOSPC;
    memcpy(buf, tmp, (size_t)n);
    buf[n] = '\0';
    return n;
}

int clm_micros_parse(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t mag = 0;
    unsigned frac_digits = 0;
    uint64_t limit;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= len || s[i] < '0' || s[i] > '9')
        return -EINVAL;
    /* INT64_MAX, or INT64_MAX + 1 for a negative value. */
    limit = (uint64_t)INT64_MAX + (uint64_t)neg;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (mag > (limit - d) / 10)
            return -EINVAL;
        mag = mag * 10 + d;
    }
    /* mag holds whole units so far; scale to micro-units below. */
    if (mag > limit / 1000000u)
        return -EINVAL;
    mag *= 1000000u;
    if (i < len && s[i] == '.') {
        uint64_t frac = 0;

        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (++frac_digits > 6)
                return -EINVAL;
            frac = frac * 10 + (unsigned)(s[i] - '0');
        }
        if (frac_digits == 0)
            return -EINVAL;
        for (unsigned k = frac_digits; k < 6; k++)
            frac *= 10;
        if (mag > limit - frac)
            return -EINVAL;
        mag += frac;
    }
    if (i != len)
        return -EINVAL;
    /* mag - 1 fits in int64 even for INT64_MIN's magnitude. */
    *out = neg && mag > 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return 0;
}
