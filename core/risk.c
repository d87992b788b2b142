/* core/risk.c - churn-risk signals and their noisy-OR combination (see risk.h). */
#include "core/risk.h"

#include <math.h>
#include <string.h>

#include "core/timeutil.h"

static const char *const signal_names[CLM_SIG__COUNT] = {
    [CLM_SIG_INACTIVITY] = "inactivity",
    [CLM_SIG_NPS_DETRACTOR] = "nps_detractor",
    [CLM_SIG_LOW_CSAT] = "low_csat",
    [CLM_SIG_TICKETS] = "support_tickets",
    [CLM_SIG_PAYMENT_FAILED] = "payment_failed",
    [CLM_SIG_DOWNGRADE] = "downgrade",
    [CLM_SIG_ENGAGEMENT_DROP] = "engagement_drop",
    [CLM_SIG_P_ALIVE] = "p_alive",
};

const char *clm_signal_name(clm_signal s)
{
    return (unsigned)s < CLM_SIG__COUNT ? signal_names[s] : "unknown";
}

void clm_risk_opts_default(clm_risk_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->weight[CLM_SIG_INACTIVITY] = 0.75;
    o->weight[CLM_SIG_NPS_DETRACTOR] = 0.3;
    o->weight[CLM_SIG_LOW_CSAT] = 0.25;
    o->weight[CLM_SIG_TICKETS] = 0.3;
    o->weight[CLM_SIG_PAYMENT_FAILED] = 0.4;
    o->weight[CLM_SIG_DOWNGRADE] = 0.3;
    o->weight[CLM_SIG_ENGAGEMENT_DROP] = 0.3;
    o->min_active_days = 4;
    o->ratio_start = 2.0;
    o->ratio_full = 4.0;
    o->min_days = 7;
    o->days_start = 14;
    o->days_full = 42;
    o->nps_detractor_max = 6;
    o->csat_max = 2;
    o->tickets_min = 3;
    o->tickets_days = 14;
    o->payment_failed_days = 30;
    o->downgrade_days = 30;
    o->engagement_ratio = 0.5;
    o->engagement_min_weekly = 2.0;
    o->weight[CLM_SIG_P_ALIVE] = 0.5;
    o->p_alive_threshold = 0.3;
    o->unit_days = 7.0;
}

void clm_risk_state_init(clm_risk_state *s)
{
    memset(s, 0, sizeof(*s));
    s->nps_ts = s->csat_ts = CLM_NO_TS;
    s->first_day = s->last_day = -1;
    s->payment_failed_day = s->downgrade_day = s->session_day = -1;
    for (int i = 0; i < CLM_RISK_TICKETS; i++)
        s->ticket_day[i] = -1;
    s->nps = s->csat = -1;
}

/* ---- maintaining the state ------------------------------------------------ */

/* Ring slot of a day (days before 1970 are negative). */
static size_t ring(int64_t day)
{
    int64_t m = day % CLM_RISK_SESSION_DAYS;
    return (size_t)(m < 0 ? m + CLM_RISK_SESSION_DAYS : m);
}

static void note_active(clm_risk_state *s, int32_t day)
{
    if (s->last_day < 0) {
        s->first_day = s->last_day = day;
        s->day_bits = 1;
        s->active_days = 1;
        return;
    }
    if (day > s->last_day) {
        int64_t shift = (int64_t)day - s->last_day;
        s->day_bits = (shift >= 64 ? 0 : s->day_bits << shift) | 1u;
        s->last_day = day;
        s->active_days++;
        return;
    }
    int64_t k = (int64_t)s->last_day - day;
    if (day < s->first_day) { /* before anything known: necessarily new */
        s->first_day = day;
        s->active_days++;
        if (k < 64)
            s->day_bits |= 1ull << k;
        return;
    }
    if (k >= 64 || (s->day_bits & (1ull << k)))
        return; /* known, or too old to tell (counted once already or never) */
    s->day_bits |= 1ull << k;
    s->active_days++;
}

static void note_ticket(clm_risk_state *s, int32_t day)
{
    int i = CLM_RISK_TICKETS - 1;
    if (s->ticket_day[i] >= day)
        return; /* older than every remembered ticket */
    while (i > 0 && s->ticket_day[i - 1] < day) {
        s->ticket_day[i] = s->ticket_day[i - 1];
        i--;
    }
    s->ticket_day[i] = day;
}

static void note_session(clm_risk_state *s, int32_t day)
{
    if (s->session_day >= 0 && day <= s->session_day - CLM_RISK_SESSION_DAYS)
        return; /* outside the remembered days */
    if (day > s->session_day) {
        /* clear the ring slots of the days skipped over */
        int64_t from = s->session_day < 0 ? day - CLM_RISK_SESSION_DAYS + 1 : s->session_day + 1;
        if (day - from >= CLM_RISK_SESSION_DAYS)
            from = day - CLM_RISK_SESSION_DAYS + 1;
        for (int64_t d = from; d <= day; d++)
            s->sessions[ring(d)] = 0;
        s->session_day = day;
    }
    uint8_t *n = &s->sessions[ring(day)];
    if (*n < UINT8_MAX)
        (*n)++;
}

void clm_risk_note(clm_risk_state *s, const clm_event *ev, bool active)
{
    int32_t day = (int32_t)clm_day_of_ms(ev->ts_ms);
    if (active)
        note_active(s, day);
    switch (ev->type) {
    case CLM_EV_NPS_RESPONSE:
        if (ev->has_score && (s->nps_ts == CLM_NO_TS || ev->ts_ms >= s->nps_ts)) {
            s->nps_ts = ev->ts_ms;
            s->nps = (int8_t)ev->score;
        }
        break;
    case CLM_EV_CSAT_RESPONSE:
        if (ev->has_score && (s->csat_ts == CLM_NO_TS || ev->ts_ms >= s->csat_ts)) {
            s->csat_ts = ev->ts_ms;
            s->csat = (int8_t)ev->score;
        }
        break;
    case CLM_EV_SUPPORT_TICKET:
        note_ticket(s, day);
        break;
    case CLM_EV_PAYMENT_FAILED:
        if (day > s->payment_failed_day)
            s->payment_failed_day = day;
        break;
    case CLM_EV_DOWNGRADE:
        if (day > s->downgrade_day)
            s->downgrade_day = day;
        break;
    case CLM_EV_SESSION:
        note_session(s, day);
        break;
    default:
        break;
    }
}

/* ---- signals ---------------------------------------------------------------- */

/* Inactivity ramp: idle days at which strength leaves 0 and reaches 1. */
static void inactivity_ramp(const clm_risk_state *s, const clm_risk_opts *o, double *start,
                            double *full)
{
    if (s->active_days >= o->min_active_days && s->active_days >= 2) {
        double gap = (double)(s->last_day - s->first_day) / (double)(s->active_days - 1);
        *start = o->ratio_start * gap;
        if (*start < o->min_days)
            *start = o->min_days;
        *full = o->ratio_full * gap;
        if (*full < *start + o->min_days) /* a ramp of at least min_days */
            *full = *start + o->min_days;
        if (*full < *start + 1)
            *full = *start + 1;
    } else {
        *start = o->days_start;
        *full = o->days_full;
    }
}

static double inactivity(const clm_risk_state *s, const clm_risk_opts *o, int64_t day,
                         double *value)
{
    double start, full;
    inactivity_ramp(s, o, &start, &full);
    double idle = (double)(day - s->last_day);
    *value = idle < 0 ? 0 : idle;
    if (idle <= start)
        return 0;
    return idle >= full ? 1 : (idle - start) / (full - start);
}

static int tickets_in(const clm_risk_state *s, int64_t day, int days)
{
    int n = 0;
    for (int i = 0; i < CLM_RISK_TICKETS; i++)
        if (s->ticket_day[i] >= 0 && s->ticket_day[i] > day - days)
            n++;
    return n;
}

/* Session counts of the ring as prefix sums: pre[i] is the sum over the
 * days lo .. lo + i - 1, lo the ring's first day; all zero without a
 * session day. */
typedef struct session_sums {
    int64_t lo, hi;
    unsigned pre[CLM_RISK_SESSION_DAYS + 1];
} session_sums;

static void session_sums_init(session_sums *p, const clm_risk_state *s)
{
    p->lo = s->session_day - CLM_RISK_SESSION_DAYS + 1;
    p->hi = s->session_day;
    p->pre[0] = 0;
    for (int i = 0; i < CLM_RISK_SESSION_DAYS; i++)
        p->pre[i + 1] = p->pre[i] + (s->session_day < 0 ? 0 : s->sessions[ring(p->lo + i)]);
}

/* Sessions on the remembered days from .. to, in constant time. */
static unsigned sums_between(const session_sums *p, int64_t from, int64_t to)
{
    if (from < p->lo)
        from = p->lo;
    if (to > p->hi)
        to = p->hi;
    return from > to ? 0 : p->pre[to - p->lo + 1] - p->pre[from - p->lo];
}

/* The engagement signal on `day`: sessions in the recent window against the
 * weekly rate of the base window before it. */
static double engagement(const session_sums *p, const clm_risk_opts *o, int64_t day,
                         double *value)
{
    unsigned recent = sums_between(p, day - CLM_RISK_RECENT_DAYS + 1, INT64_MAX);
    unsigned base = sums_between(p, day - CLM_RISK_RECENT_DAYS - CLM_RISK_BASE_DAYS + 1,
                                 day - CLM_RISK_RECENT_DAYS);
    double weekly = (double)base * CLM_RISK_RECENT_DAYS / CLM_RISK_BASE_DAYS;
    if (weekly <= 0 || weekly < o->engagement_min_weekly) {
        *value = 0;
        return 0;
    }
    *value = (double)recent / weekly;
    return (double)recent < o->engagement_ratio * weekly ? 1 : 0;
}

/* P(alive) on `day`, or -1 when the signal does not apply (no model, no
 * repeat purchase: BG/NBD gives such customers P(alive) = 1, so inactivity
 * speaks for them). */
static double p_alive(const clm_rfm *rfm, const clm_risk_opts *o, int64_t day)
{
    if (!rfm || !o->has_model || rfm->x < 1 || o->unit_days <= 0)
        return -1;
    double x, t_x, T, m_x;
    clm_rfm_stats(rfm, day, o->unit_days, &x, &t_x, &T, &m_x);
    return clm_bgnbd_p_alive(&o->model, x, t_x, T);
}

/* Strength of every signal on `day`; value[i] filled for each. */
static void strengths(const clm_risk_state *s, const clm_rfm *rfm, const clm_risk_opts *o,
                      int64_t day, double str[CLM_SIG__COUNT], double value[CLM_SIG__COUNT])
{
    double pa = p_alive(rfm, o, day);
    value[CLM_SIG_P_ALIVE] = pa < 0 ? 1 : pa;
    str[CLM_SIG_P_ALIVE] = pa >= 0 && pa < o->p_alive_threshold;
    str[CLM_SIG_INACTIVITY] = s->last_day < 0 ? 0 : inactivity(s, o, day, &value[CLM_SIG_INACTIVITY]);
    value[CLM_SIG_NPS_DETRACTOR] = s->nps;
    str[CLM_SIG_NPS_DETRACTOR] = s->nps >= 0 && s->nps <= o->nps_detractor_max;
    value[CLM_SIG_LOW_CSAT] = s->csat;
    str[CLM_SIG_LOW_CSAT] = s->csat >= 0 && s->csat <= o->csat_max;
    int t = tickets_in(s, day, o->tickets_days);
    value[CLM_SIG_TICKETS] = t;
    str[CLM_SIG_TICKETS] = t >= o->tickets_min;
    value[CLM_SIG_PAYMENT_FAILED] = (double)(day - s->payment_failed_day);
    str[CLM_SIG_PAYMENT_FAILED] = s->payment_failed_day >= 0 &&
                                  s->payment_failed_day > day - o->payment_failed_days;
    value[CLM_SIG_DOWNGRADE] = (double)(day - s->downgrade_day);
    str[CLM_SIG_DOWNGRADE] = s->downgrade_day >= 0 && s->downgrade_day > day - o->downgrade_days;
    for (int i = CLM_SIG_PAYMENT_FAILED; i <= CLM_SIG_DOWNGRADE; i++)
        if (value[i] < 0)
            value[i] = 0;
    session_sums sums;
    session_sums_init(&sums, s);
    str[CLM_SIG_ENGAGEMENT_DROP] = engagement(&sums, o, day, &value[CLM_SIG_ENGAGEMENT_DROP]);
}

void clm_risk_eval_at(const clm_risk_state *s, const clm_rfm *rfm, const clm_risk_opts *o,
                      int64_t day, bool current, clm_risk_eval *out)
{
    out->n = 0;
    out->risk_e4 = 0;
    if (!current)
        return;
    double str[CLM_SIG__COUNT], value[CLM_SIG__COUNT] = { 0 };
    strengths(s, rfm, o, day, str, value);
    double keep = 1.0;
    for (int i = 0; i < CLM_SIG__COUNT; i++) {
        double c = o->weight[i] * str[i];
        if (c <= 0)
            continue;
        out->r[out->n++] = (clm_risk_reason){ (clm_signal)i, value[i], o->weight[i], c };
        keep *= 1.0 - c;
    }
    out->risk_e4 = (int)lround((1.0 - keep) * 10000.0);
}

/* ---- the next change -------------------------------------------------------- */

static void consider(int64_t *best, int64_t day, int64_t cand)
{
    if (cand > day && (*best < 0 || cand < *best))
        *best = cand;
}

int64_t clm_risk_next_day(const clm_risk_state *s, const clm_rfm *rfm, const clm_risk_opts *o,
                          int64_t day)
{
    int64_t best = -1;
    if (s->last_day < 0)
        return -1;
    double pa = o->weight[CLM_SIG_P_ALIVE] > 0 ? p_alive(rfm, o, day) : -1;
    if (pa >= o->p_alive_threshold && o->p_alive_threshold > 0) {
        /* P(alive) falls as T grows: below the threshold once
         * ((alpha + T) / (alpha + t_x))^(r + x) > (1 / th - 1) (b + x - 1) / a */
        double x, t_x, T, m_x;
        const clm_bgnbd_params *m = &o->model;
        clm_rfm_stats(rfm, day, o->unit_days, &x, &t_x, &T, &m_x);
        double k = (1.0 / o->p_alive_threshold - 1.0) * (m->b + x - 1.0) / m->a;
        double t_cross = (m->alpha + t_x) * pow(k, 1.0 / (m->r + x)) - m->alpha; /* in units */
        double d = (double)rfm->first_day + t_cross * o->unit_days;
        if (isfinite(d) && d < 1e9) {
            int64_t cand = (int64_t)floor(d) + 1;
            /* the first whole day past the crossing, checked exactly */
            while (cand <= day || (p_alive(rfm, o, cand) >= o->p_alive_threshold && cand < day + 100000))
                cand++;
            consider(&best, day, cand);
        }
    }
    if (o->weight[CLM_SIG_INACTIVITY] > 0) {
        double start, full;
        inactivity_ramp(s, o, &start, &full);
        double idle = (double)(day - s->last_day);
        if (idle < full) /* strength still grows: first day past the start, then daily */
            consider(&best, day, idle > start ? day + 1 : s->last_day + (int64_t)floor(start) + 1);
    }
    if (o->weight[CLM_SIG_TICKETS] > 0 && tickets_in(s, day, o->tickets_days) >= o->tickets_min) {
        /* falls below the minimum when the tickets_min-th most recent leaves */
        consider(&best, day, (int64_t)s->ticket_day[o->tickets_min - 1] + o->tickets_days);
    }
    if (o->weight[CLM_SIG_PAYMENT_FAILED] > 0 && s->payment_failed_day >= 0)
        consider(&best, day, (int64_t)s->payment_failed_day + o->payment_failed_days);
    if (o->weight[CLM_SIG_DOWNGRADE] > 0 && s->downgrade_day >= 0)
        consider(&best, day, (int64_t)s->downgrade_day + o->downgrade_days);
    if (o->weight[CLM_SIG_ENGAGEMENT_DROP] > 0 && s->session_day >= 0) {
        /* the windows change only where a session day enters or leaves one */
        double v;
        session_sums sums;
        session_sums_init(&sums, s);
        double now = engagement(&sums, o, day, &v);
        int64_t lo = s->session_day - CLM_RISK_SESSION_DAYS + 1;
        int64_t cands[2 * CLM_RISK_SESSION_DAYS];
        size_t nc = 0;
        for (int64_t d = lo; d <= s->session_day; d++) {
            if (!s->sessions[ring(d)])
                continue;
            cands[nc++] = d + CLM_RISK_RECENT_DAYS;
            cands[nc++] = d + CLM_RISK_RECENT_DAYS + CLM_RISK_BASE_DAYS;
        }
        int64_t first = -1;
        for (size_t i = 0; i < nc; i++) {
            if (cands[i] <= day || (first >= 0 && cands[i] >= first) ||
                (best >= 0 && cands[i] >= best))
                continue;
            if (engagement(&sums, o, cands[i], &v) != now)
                first = cands[i];
        }
        if (first >= 0)
            consider(&best, day, first);
    }
    return best;
}

/* ---- session counts by day ------------------------------------------------- */

unsigned clm_risk_sessions_on(const clm_risk_state *s, int64_t day)
{
    return s->sessions[ring(day)];
}

void clm_risk_sessions_set(clm_risk_state *s, int64_t day, uint8_t n)
{
    s->sessions[ring(day)] = n;
}
