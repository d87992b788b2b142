/* core/risk.h - a customer's churn-risk score: signals, their combination,
 * and when the score next changes with the passing of event time.
 *
 * Time: signals are judged on whole UTC days ("day D" = the day of the
 * partition's watermark when the score is evaluated). Windows count days:
 * "tickets in the last 14 days" at day D are tickets dated D-13 or later
 * (events after D, which the watermark has not reached yet, count as
 * recent).
 *
 * Combination (noisy-OR): each active signal i has a strength s_i in [0, 1]
 * and a configured weight w_i; its contribution is c_i = w_i * s_i and
 *     risk = 1 - prod_i (1 - c_i),
 * so a single signal alone yields exactly its contribution, and signals
 * never push risk above 1. Risk is kept in 1e-4 units (risk_e4, 0..10000)
 * so it is stored exactly and thresholds compare on
 * integers.
 *
 * Everything here is a pure function of (state, day, options): replaying a
 * partition gives the same scores at the same points in the stream.
 *
 * Not thread-safe: a state belongs to one customer.
 */
#ifndef CLM_CORE_RISK_H
#define CLM_CORE_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bgnbd.h"
#include "core/event.h"
#include "core/rfm.h"

typedef enum clm_signal {
    CLM_SIG_INACTIVITY = 0, /* value: idle days */
    CLM_SIG_NPS_DETRACTOR,  /* value: the latest NPS score */
    CLM_SIG_LOW_CSAT,       /* value: the latest CSAT score */
    CLM_SIG_TICKETS,        /* value: tickets in the window */
    CLM_SIG_PAYMENT_FAILED, /* value: days since the latest payment_failed */
    CLM_SIG_DOWNGRADE,      /* value: days since the latest downgrade */
    CLM_SIG_ENGAGEMENT_DROP,/* value: recent sessions / weekly baseline */
    CLM_SIG_P_ALIVE,        /* value: BG/NBD P(alive) */
    CLM_SIG__COUNT
} clm_signal;

/* "inactivity", "nps_detractor", ... (the names used in risk_reasons). */
const char *clm_signal_name(clm_signal s);

/* Most ticket days a state remembers (bounds tickets_min). */
#define CLM_RISK_TICKETS 8
/* Days of session counts a state remembers. */
#define CLM_RISK_SESSION_DAYS 64
/* Engagement windows: the recent week against the 4 weeks before it. */
#define CLM_RISK_RECENT_DAYS 7
#define CLM_RISK_BASE_DAYS 28

typedef struct clm_risk_opts {
    double weight[CLM_SIG__COUNT];    /* 0 disables a signal */
    /* inactivity with history (>= min_active_days distinct active days):
     * strength rises linearly from 0 at ratio_start x usual gap (at least
     * min_days) to 1 at ratio_full x usual gap (at least min_days later);
     * without: from days_start to days_full idle days. */
    int min_active_days;
    double ratio_start, ratio_full;
    int min_days;
    int days_start, days_full;
    int nps_detractor_max;            /* latest NPS <= this: detractor (6) */
    int csat_max;                     /* latest CSAT <= this (2) */
    int tickets_min;                  /* tickets in the window >= this (3) */
    int tickets_days;                 /* window (14) */
    int payment_failed_days;          /* window (30) */
    int downgrade_days;               /* window (30) */
    double engagement_ratio;          /* recent week < this x baseline week (0.5) */
    double engagement_min_weekly;     /* baseline sessions per week needed (2) */
    /* P(alive) under the fitted BG/NBD model, for customers with at least
     * one repeat purchase day: strength 1 below p_alive_threshold (0.3).
     * Only while a model is known (has_model), in unit_days time units. */
    double p_alive_threshold;
    bool has_model;
    clm_bgnbd_params model;
    double unit_days;
} clm_risk_opts;

/* Fills the documented defaults. */
void clm_risk_opts_default(clm_risk_opts *o);

/* What a customer's risk is computed from, maintained event by event. */
typedef struct clm_risk_state {
    int64_t nps_ts, csat_ts;          /* event time of the latest answer, CLM_NO_TS */
    int32_t first_day, last_day;      /* first and latest active day, -1: none */
    int32_t active_days;              /* distinct active days */
    int32_t payment_failed_day;       /* latest, -1: none */
    int32_t downgrade_day;            /* latest, -1: none */
    int32_t ticket_day[CLM_RISK_TICKETS]; /* most recent ticket days, descending, -1 */
    int32_t session_day;              /* latest day with a session, -1: none */
    uint64_t day_bits;                /* bit k: active on last_day - k */
    uint8_t sessions[CLM_RISK_SESSION_DAYS]; /* per day (ring by day), saturating */
    int8_t nps, csat;                 /* latest answers, -1: none */
} clm_risk_state;

void clm_risk_state_init(clm_risk_state *s);

/* Takes an applied event into account. `active`: the event is activity
 * (counts as an active day for the inactivity signal); its type's own
 * signal (support_ticket, payment_failed, ...) is noted either way. */
void clm_risk_note(clm_risk_state *s, const clm_event *ev, bool active);

typedef struct clm_risk_reason {
    clm_signal signal;
    double value;        /* see clm_signal */
    double weight;
    double contribution; /* weight x strength */
} clm_risk_reason;

typedef struct clm_risk_eval {
    int risk_e4;         /* round(risk x 10000) */
    size_t n;            /* active signals, in clm_signal order */
    clm_risk_reason r[CLM_SIG__COUNT];
} clm_risk_eval;

/* Scores the state on day `day`; rfm (may be NULL) feeds the P(alive)
 * signal. A customer that is not current (never bought, or churned) is not
 * scored: risk 0, no reasons. */
void clm_risk_eval_at(const clm_risk_state *s, const clm_rfm *rfm, const clm_risk_opts *o,
                      int64_t day, bool current, clm_risk_eval *out);

/* The first day after `day` on which some signal's strength changes
 * without any new event, or -1 when none will. */
int64_t clm_risk_next_day(const clm_risk_state *s, const clm_rfm *rfm, const clm_risk_opts *o,
                          int64_t day);

/* The session count kept for `day`. The counts are a ring by day: only the
 * remembered days, session_day - CLM_RISK_SESSION_DAYS + 1 .. session_day,
 * have their own; any other day reads the slot of a remembered one. */
unsigned clm_risk_sessions_on(const clm_risk_state *s, int64_t day);

/* Sets the count kept for `day` (the same ring slot): rebuilds a state read
 * from storage. */
void clm_risk_sessions_set(clm_risk_state *s, int64_t day, uint8_t n);

#endif
