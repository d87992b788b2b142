/* core/kpi.c - rolling KPIs over whole-day windows, and time buckets (see kpi.h).
 *
 * A window is computed in two phases: first every input is checked and every
 * sum and derived value that can fail is worked out, then the fields are
 * handed to the caller. So an error never leaves a half-emitted window.
 *
 * Quotients are formatted from exact 128-bit integer arithmetic (a GCC/Clang
 * extension, hence __extension__): the largest scaled numerator is
 * longest_window_days x S x 10^6 x 2 < 2^31 x 2^63 x 2^20 x 2 = 2^115.
 */
#include "core/kpi.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/* The UTC day of the latest accepted event time (9999-12-31). */
#define DAY_MAX (CLM_TS_MAX_MS / CLM_MS_PER_DAY)

/* Decimals of each kind of quotient (kpi.h, "Number formats"). */
#define DEC_PERCENT 4
#define DEC_MEAN 4
#define DEC_SECONDS 3
#define DEC_RATE 6

/* Large enough for a formatted 128-bit quotient ("-" + 39 digits + "." + NUL)
 * and for any clm_micros_format output. */
#define VALUE_MAX 48

static int64_t *field_at(clm_daycount *c, size_t off)
{
    return (int64_t *)(void *)((char *)c + off);
}

static const int64_t *field_at_const(const clm_daycount *c, size_t off)
{
    return (const int64_t *)(const void *)((const char *)c + off);
}

/* acc += d over every counter. Returns 0 or -EOVERFLOW (acc then partial). */
static int add_day(clm_daycount *acc, const clm_daycount *d)
{
    for (size_t i = 0; i < clm_daycount_nfields; i++) {
        int64_t *a = field_at(acc, clm_daycount_fields[i].offset);

        if (__builtin_add_overflow(*a, *field_at_const(d, clm_daycount_fields[i].offset), a))
            return -EOVERFLOW;
    }
    for (size_t s = 0; s < CLM_STAGES_MAX; s++) {
        if (__builtin_add_overflow(acc->entered[s], d->entered[s], &acc->entered[s]) ||
            __builtin_add_overflow(acc->advanced[s], d->advanced[s], &acc->advanced[s]))
            return -EOVERFLOW;
    }
    return 0;
}

static int check_days(const clm_kpi_input *in)
{
    if (!in || (!in->days && in->ndays > 0))
        return -EINVAL;
    if (in->first_day < 0 || in->first_day > DAY_MAX)
        return -EINVAL;
    return 0;
}

/* The array indices of the days from..to (inclusive) that the array holds.
 * Returns false when it holds none of them. */
static bool clip(const clm_kpi_input *in, int64_t from, int64_t to, size_t *lo, size_t *hi)
{
    int64_t a, b;

    if (in->ndays == 0 || to < in->first_day)
        return false;
    a = from > in->first_day ? from - in->first_day : 0;
    b = to - in->first_day;
    if ((uint64_t)a >= in->ndays)
        return false;
    if ((uint64_t)b >= in->ndays)
        b = (int64_t)(in->ndays - 1);
    *lo = (size_t)a;
    *hi = (size_t)b;
    return true;
}

/* Sums the counters of the days from..to (inclusive) into *acc. */
static int sum_days(const clm_kpi_input *in, int64_t from, int64_t to, clm_daycount *acc)
{
    size_t lo, hi;

    memset(acc, 0, sizeof(*acc));
    if (!clip(in, from, to, &lo, &hi))
        return 0;
    for (size_t i = lo; i <= hi; i++) {
        int rc = add_day(acc, &in->days[i]);

        if (rc < 0)
            return rc;
    }
    return 0;
}

int clm_kpi_eod(const clm_kpi_input *in, int64_t day, int64_t *out)
{
    int64_t eod;
    size_t lo, hi;
    int rc = check_days(in);

    if (rc < 0)
        return rc;
    eod = in->eod_before_first;
    if (clip(in, in->first_day, day, &lo, &hi)) {
        for (size_t i = lo; i <= hi; i++)
            if (__builtin_add_overflow(eod, in->days[i].customers_delta, &eod))
                return -EOVERFLOW;
    }
    *out = eod;
    return 0;
}

/* num / den (den > 0), rounded half away from zero to an integer. */
static i128 div_round(i128 num, i128 den)
{
    u128 mag = num < 0 ? -(u128)num : (u128)num;
    u128 q = (2 * mag + (u128)den) / (2 * (u128)den);

    return num < 0 ? -(i128)q : (i128)q;
}

static i128 pow10_i128(int n)
{
    i128 p = 1;

    while (n-- > 0)
        p *= 10;
    return p;
}

/* Writes v / 10^decimals with trailing fraction zeros (and '.') dropped. */
static void format_fixed(i128 v, int decimals, char *buf)
{
    char rev[VALUE_MAX]; /* digits, least significant first */
    u128 mag = v < 0 ? -(u128)v : (u128)v;
    int n = 0, skip = 0;
    char *p = buf;

    do {
        rev[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag > 0 || n <= decimals);
    while (skip < decimals && rev[skip] == '0')
        skip++;
    if (v < 0)
        *p++ = '-';
    for (int i = n - 1; i >= decimals; i--)
        *p++ = rev[i];
    if (skip < decimals) {
        *p++ = '.';
        for (int i = decimals - 1; i >= skip; i--)
            *p++ = rev[i];
    }
    *p = '\0';
}

/* Formats num / den (den > 0) to `decimals` places (kpi.h rules). */
static void format_quotient(i128 num, i128 den, int decimals, char *buf)
{
    format_fixed(div_round(num * pow10_i128(decimals), den), decimals, buf);
}

/* The walk over the fields of one window: stops at fn's first negative return. */
typedef struct emitter {
    clm_kpi_emit_fn fn;
    void *ctx;
    int rc;
} emitter;

static void emit(emitter *e, const char *field, const char *value)
{
    if (e->rc < 0)
        return;
    int rc = e->fn(e->ctx, field, value);

    if (rc < 0)
        e->rc = rc;
}

static void emit_count(emitter *e, const char *field, int64_t v)
{
    char buf[VALUE_MAX];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    emit(e, field, buf);
}

static void emit_money(emitter *e, const char *field, int64_t micros)
{
    char buf[VALUE_MAX];

    clm_micros_format(micros, buf, sizeof(buf));
    emit(e, field, buf);
}

/* Emits num / den, or nothing when den <= 0 (the KPI is absent). */
static void emit_quotient(emitter *e, const char *field, i128 num, i128 den, int decimals)
{
    char buf[VALUE_MAX];

    if (den <= 0)
        return;
    format_quotient(num, den, decimals, buf);
    emit(e, field, buf);
}

/* Emits the money quotient num / den rounded to a micro-unit, or nothing
 * when den <= 0. |num / den| <= |num| fits int64 as num does. */
static void emit_money_quotient(emitter *e, const char *field, int64_t num, int64_t den)
{
    if (den <= 0)
        return;
    emit_money(e, field, (int64_t)div_round(num, den));
}

static int check_input(const clm_kpi_input *in, int window_days, clm_kpi_emit_fn fn)
{
    int rc = check_days(in);

    if (rc < 0)
        return rc;
    if (!fn || window_days < 1 || in->longest_window_days < 1)
        return -EINVAL;
    if (in->end_day < 0 || in->end_day > DAY_MAX)
        return -EINVAL;
    if (!isfinite(in->clv_max_years) || !(in->clv_max_years > 0) ||
        !isfinite(in->gross_margin) || !(in->gross_margin >= 0))
        return -EINVAL;
    if ((in->has_pred_sum && in->pred_count < 0) || in->customers_total < 0 ||
        in->repeat_customers_total < 0)
        return -EINVAL;
    if (in->nordinary > CLM_STAGES_MAX ||
        (in->nordinary > 0 && (!in->ordinary_stage_names || !in->ordinary_stage_index)))
        return -EINVAL;
    for (size_t r = 0; r < in->nordinary; r++) {
        if (!in->ordinary_stage_names[r] || in->ordinary_stage_index[r] < 0 ||
            in->ordinary_stage_index[r] >= CLM_STAGES_MAX)
            return -EINVAL;
        /* "conv_" + a + "_" + b */
        if (r + 1 < in->nordinary && in->ordinary_stage_names[r + 1] &&
            strlen(in->ordinary_stage_names[r]) + strlen(in->ordinary_stage_names[r + 1]) + 6 >
                CLM_KPI_FIELD_MAX)
            return -EINVAL;
    }
    return 0;
}

/* The clv fields, worked out before anything is emitted. */
typedef struct clv {
    char lifetime[VALUE_MAX];
    bool has_pred;
    int64_t pred_micros;
} clv;

/* Lifetime from the longest window: L x S_L / (365 x churned_L), capped;
 * the cap when churned_L = 0 or S_L <= 0 (churn_rate 0 or absent). */
static int compute_clv(const clm_kpi_input *in, int64_t eod_end, clv *out)
{
    const int64_t L = in->longest_window_days;
    clm_daycount acc;
    int64_t s;
    double years;
    bool capped = true;
    int rc;

    rc = sum_days(in, in->end_day - L + 1, in->end_day, &acc);
    if (rc < 0)
        return rc;
    rc = clm_kpi_eod(in, in->end_day - L, &s);
    if (rc < 0)
        return rc;
    years = in->clv_max_years;
    if (s > 0 && acc.churned > 0) {
        i128 num = (i128)L * s, den = (i128)365 * acc.churned;
        double exact = (double)num / (double)den;

        if (exact < in->clv_max_years) {
            years = exact;
            capped = false;
            format_quotient(num, den, DEC_RATE, out->lifetime);
        }
    }
    if (capped) {
        double scaled = round(years * (double)pow10_i128(DEC_RATE));

        if (!(fabs(scaled) < 0x1p63))
            return -EOVERFLOW;
        format_fixed((i128)scaled, DEC_RATE, out->lifetime);
    }
    if (in->has_pred_sum) {
        out->has_pred = in->pred_count > 0;
        if (out->has_pred)
            out->pred_micros = (int64_t)div_round(in->pred_sum_micros, in->pred_count);
        return 0;
    }
    out->has_pred = eod_end > 0;
    if (out->has_pred) {
        double pred = round(years * in->gross_margin * (double)in->value_rate_sum_micros /
                            (double)eod_end);

        if (!(fabs(pred) < 0x1p63))
            return -EOVERFLOW;
        out->pred_micros = (int64_t)pred;
    }
    return 0;
}

int clm_kpi_window(const clm_kpi_input *in, int window_days, clm_kpi_emit_fn fn, void *ctx)
{
    emitter e = { .fn = fn, .ctx = ctx, .rc = 0 };
    clm_daycount w;
    int64_t start, eod_before_start, eod_end;
    char day_buf[11], field[CLM_KPI_FIELD_MAX + 1];
    clv c;
    int rc;

    rc = check_input(in, window_days, fn);
    if (rc < 0)
        return rc;
    start = in->end_day - window_days + 1;
    rc = sum_days(in, start, in->end_day, &w);
    if (rc < 0)
        return rc;
    rc = clm_kpi_eod(in, start - 1, &eod_before_start);
    if (rc < 0)
        return rc;
    rc = clm_kpi_eod(in, in->end_day, &eod_end);
    if (rc < 0)
        return rc;
    rc = compute_clv(in, eod_end, &c);
    if (rc < 0)
        return rc;

    clm_day_format(start, day_buf);
    emit(&e, "window_start", day_buf);
    clm_day_format(in->end_day, day_buf);
    emit(&e, "window_end", day_buf);
    emit_money(&e, "revenue", w.revenue_micros);
    emit_count(&e, "orders", w.orders);
    emit_count(&e, "new_customers", w.new_customers);
    emit_count(&e, "churned", w.churned);
    emit_money_quotient(&e, "aov", w.revenue_micros, w.orders);
    emit_money_quotient(&e, "cpa", w.spend_micros, w.new_customers);
    emit_quotient(&e, "nps", (i128)100 * ((i128)w.nps_promoters - w.nps_detractors),
                  (i128)w.nps_promoters + w.nps_passives + w.nps_detractors, DEC_PERCENT);
    emit_quotient(&e, "csat", (i128)100 * w.csat_satisfied, w.csat_n, DEC_PERCENT);
    emit_quotient(&e, "csat_mean", w.csat_sum, w.csat_n, DEC_MEAN);
    emit_quotient(&e, "churn_rate", w.churned, eod_before_start, DEC_RATE);
    /* current at the end and active in the window, less those whose spell
     * began in it: the current at its start, never churned, active in it */
    emit_quotient(&e, "retention_rate", (i128)w.current_last_active - w.current_since,
                  eod_before_start, DEC_RATE);
    emit_quotient(&e, "lead_to_customer", w.leads_converted, w.new_leads, DEC_RATE);
    for (size_t r = 0; r + 1 < in->nordinary; r++) {
        snprintf(field, sizeof(field), "conv_%s_%s", in->ordinary_stage_names[r],
                 in->ordinary_stage_names[r + 1]);
        emit_quotient(&e, field, w.advanced[r], w.entered[in->ordinary_stage_index[r]], DEC_RATE);
    }
    emit_quotient(&e, "lead_response_s", w.lead_response_ms_sum, (i128)1000 * w.leads_contacted,
                  DEC_SECONDS);
    emit_quotient(&e, "avg_engagement_s", w.session_ms, (i128)1000 * w.sessions, DEC_SECONDS);
    emit_quotient(&e, "upsell_rate", (i128)w.upgrades + w.repeat_orders, w.last_active, DEC_RATE);
    emit_quotient(&e, "repeat_purchase_rate", in->repeat_customers_total, in->customers_total,
                  DEC_RATE);
    emit(&e, "clv_lifetime_years", c.lifetime);
    if (c.has_pred)
        emit_money(&e, "clv_pred_avg", c.pred_micros);
    return e.rc;
}

int clm_bucket_check(int64_t bucket_ms)
{
    if (bucket_ms < CLM_BUCKET_MIN_MS || bucket_ms > CLM_MS_PER_DAY ||
        bucket_ms % CLM_BUCKET_MIN_MS != 0 || CLM_MS_PER_DAY % bucket_ms != 0)
        return -EINVAL;
    return 0;
}

/* floor(a / b) for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b < 0)
        q--;
    return q;
}

int64_t clm_bucket_of_ms(int64_t ts_ms, int64_t bucket_ms)
{
    return floor_div(ts_ms, bucket_ms);
}

int64_t clm_bucket_day(int64_t bucket, int64_t bucket_ms)
{
    return floor_div(bucket, CLM_MS_PER_DAY / bucket_ms);
}

int64_t clm_bucket_first_of_day(int64_t day, int64_t bucket_ms)
{
    return day * (CLM_MS_PER_DAY / bucket_ms);
}

int64_t clm_bucket_last_of_day(int64_t day, int64_t bucket_ms)
{
    return (day + 1) * (CLM_MS_PER_DAY / bucket_ms) - 1;
}

int clm_bucket_key(int64_t bucket, int64_t bucket_ms, char *buf, size_t size)
{
    char tmp[CLM_BUCKET_KEY_SIZE + 8];
    size_t n;

    int64_t start_ms;

    if (clm_bucket_check(bucket_ms) < 0 || __builtin_mul_overflow(bucket, bucket_ms, &start_ms) ||
        start_ms < 0 || start_ms > CLM_TS_MAX_MS)
        return -EINVAL;
    if (bucket_ms == CLM_MS_PER_DAY) {
        clm_day_format(bucket, tmp);
    } else {
        clm_ts_format(start_ms, tmp);
        tmp[16] = '\0'; /* "YYYY-MM-DDTHH:MM" of "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    }
    n = strlen(tmp);
    if (n >= size)
        return -ENOSPC;
    memcpy(buf, tmp, n + 1);
    return (int)n;
}
