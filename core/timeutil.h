/* core/timeutil.h - event-time parsing and UTC calendar arithmetic. Pure. */
#ifndef CLM_CORE_TIMEUTIL_H
#define CLM_CORE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLM_MS_PER_DAY 86400000LL
/* Accepted event-time range: 1970-01-01 .. 9999-12-31T23:59:59.999Z. */
#define CLM_TS_MAX_MS 253402300799999LL

/* Parses an RFC 3339 date-time ("2026-11-22T10:15:00Z", "...T10:15:00.123+02:00";
 * 't'/'z' and a space separator are accepted as RFC 3339 allows). Fractional
 * seconds beyond milliseconds are truncated. Second 60 is accepted only at
 * 23:59:60 UTC of a day clm_leap_second_day() knows (it maps to 00:00:00 of
 * the next day). Returns 0 and sets *ms (epoch ms
 * UTC), or -EINVAL with *ms untouched. The result must lie in [0, CLM_TS_MAX_MS]. */
int clm_rfc3339_parse(const char *s, size_t len, int64_t *ms);

/* True when UTC day `day` (since 1970-01-01) ended with a leap second,
 * per IERS Bulletin C (the 27 from 1972-06-30 to 2016-12-31). */
bool clm_leap_second_day(int64_t day);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t clm_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Civil date of a day number (inverse of clm_days_from_civil). */
void clm_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* UTC day number of an epoch-ms time (floor division). */
int64_t clm_day_of_ms(int64_t ms);

/* Writes "YYYY-MM-DD" of a day number; buf must hold >= 11 bytes. Years
 * outside 0000..9999 do not fit and are cut to 10 characters. */
void clm_day_format(int64_t day, char *buf);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" of epoch ms; buf must hold >= 25 bytes. */
void clm_ts_format(int64_t ms, char *buf);

#endif
