/* core/timeutil.c - RFC 3339 parsing and proleptic Gregorian calendar math.
 *
 * The day-number conversions are Howard Hinnant's days_from_civil and
 * civil_from_days ("chrono-Compatible Low-Level Date Algorithms",
 * https://howardhinnant.github.io/date_algorithms.html), exact for every
 * int64 year range used here and free of tables and loops.
 */
#include "core/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

int64_t clm_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                     /* [0, 399] */
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */

    return era * 146097 + (int64_t)doe - 719468;
}

void clm_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    const unsigned mp = (5 * doy + 2) / 153;                                   /* [0, 11] */

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t clm_day_of_ms(int64_t ms)
{
    int64_t day = ms / CLM_MS_PER_DAY;

    if (ms % CLM_MS_PER_DAY < 0)
        day--;
    return day;
}

void clm_day_format(int64_t day, char *buf)
{
    int64_t y;
    unsigned m, d;

    clm_civil_from_days(day, &y, &m, &d);
    /* Years outside 0000..9999 do not fit; the output is then cut at 10 characters. */
    snprintf(buf, 11, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Writes v as exactly n decimal digits (v < 10^n). */
static void put_digits(char *out, unsigned v, int n)
{
    while (n-- > 0) {
        out[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void clm_ts_format(int64_t ms, char *buf)
{
    int64_t day = clm_day_of_ms(ms);
    unsigned in_day = (unsigned)(ms - day * CLM_MS_PER_DAY); /* [0, 86399999] */
    unsigned s = in_day / 1000;

    clm_day_format(day, buf);
    buf[10] = 'T';
    put_digits(buf + 11, s / 3600, 2);
    buf[13] = ':';
    put_digits(buf + 14, s / 60 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, s % 60, 2);
    buf[19] = '.';
    put_digits(buf + 20, in_day % 1000, 3);
    buf[23] = 'Z';
    buf[24] = '\0';
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n ASCII digits at s[*i]. Returns 0 and advances *i, or -1. */
static int digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out)
{
    unsigned v = 0;

    if (len - *i < n)
        return -1;
    for (unsigned k = 0; k < n; k++) {
        char c = s[*i + k];

        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += n;
    *out = v;
    return 0;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return -1;
    (*i)++;
    return 0;
}

/* UTC days (since 1970-01-01) that ended with a positive leap second, from
 * IERS Bulletin C as in the IERS leap-seconds.list expiring 2026-06-28: the
 * 27 leap seconds from 1972-06-30 to 2016-12-31, none announced since. */
static const int32_t leap_days[] = {
    911,   1095,  1460,  1825,  2190,  2556,  2921,  3286,  3651,  4198,
    4563,  4928,  5659,  6573,  7304,  7669,  8216,  8581,  8946,  9495,
    10042, 10591, 13148, 14244, 15521, 16616, 17166,
};

bool clm_leap_second_day(int64_t day)
{
    for (size_t i = 0; i < sizeof(leap_days) / sizeof(leap_days[0]); i++)
        if (leap_days[i] == day)
            return true;
    return false;
}

/* A leap second (SS = 60) is accepted only where one happened: at
 * 23:59:60 UTC (after applying the offset) of a day clm_leap_second_day()
 * knows. It counts as the first second of the next minute: epoch
 * milliseconds have no leap seconds, so "23:59:60Z" and the following
 * "00:00:00Z" map to the same instant. */
int clm_rfc3339_parse(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    unsigned year = 0, mon = 0, day = 0, hh = 0, mi = 0, ss = 0, frac_ms = 0;
    int64_t offset_s = 0, t;

    if (digits(s, len, &i, 4, &year) || expect(s, len, &i, '-') ||
        digits(s, len, &i, 2, &mon) || expect(s, len, &i, '-') ||
        digits(s, len, &i, 2, &day))
        return -EINVAL;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return -EINVAL;
    i++;
    if (digits(s, len, &i, 2, &hh) || expect(s, len, &i, ':') ||
        digits(s, len, &i, 2, &mi) || expect(s, len, &i, ':') ||
        digits(s, len, &i, 2, &ss))
        return -EINVAL;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hh > 23 || mi > 59 || ss > 60)
        return -EINVAL;

    if (i < len && s[i] == '.') {
        unsigned n = 0;

        /* 1..9 digits; digits past the third are truncated, not rounded. */
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
            if (n < 3)
                frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
        }
        if (n < 1 || n > 9)
            return -EINVAL;
        for (; n < 3; n++)
            frac_ms *= 10;
    }

    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        unsigned oh, om;

        i++;
        if (digits(s, len, &i, 2, &oh) || expect(s, len, &i, ':') ||
            digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        offset_s = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return -EINVAL;
    }
    if (i != len)
        return -EINVAL;

    /* Local time minus the offset is UTC. */
    t = clm_days_from_civil(year, mon, day) * 86400 + hh * 3600 + mi * 60 + ss - offset_s;
    if (ss == 60) {
        int64_t last = t - 1; /* the 23:59:59 UTC this second follows */
        int64_t d = last >= 0 ? last / 86400 : (last - 86399) / 86400;

        if (last - d * 86400 != 86399 || !clm_leap_second_day(d))
            return -EINVAL;
    }
    t = t * 1000 + frac_ms;
    if (t < 0 || t > CLM_TS_MAX_MS)
        return -EINVAL;
    *ms = t;
    return 0;
}
