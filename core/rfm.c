/* core/rfm.c - see rfm.h. */
#include "core/rfm.h"

#include <string.h>

#include "core/timeutil.h"

/* Field by field after a memset, never a compound literal: the padding is
 * zero, so two equal statistics compare equal byte for byte (memcmp in
 * core/customer.c, the record's round trip). */
void clm_rfm_init(clm_rfm *r)
{
    memset(r, 0, sizeof(*r));
    r->first_day = r->last_day = -1;
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
        memset(r, 0, sizeof(*r));
        r->first_day = r->last_day = (int32_t)d;
        r->day_bits = 1;
        r->first_micros = amount;
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

bool clm_rfm_valid(const clm_rfm *r)
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
