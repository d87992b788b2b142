/* tests/test-risk.c - churn-risk signals, their combination, when the score
 * next changes, and the alerts a customer raises (core/risk.h, core/customer.h).
 *
 * Expected values are worked out by hand in the comments from the README
 * rules and the default weights: inactivity 0.75, nps_detractor 0.3,
 * low_csat 0.25, support_tickets 0.3, payment_failed 0.4, downgrade 0.3,
 * engagement_drop 0.3; risk = 1 - prod(1 - contribution).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/customer.h"
#include "core/risk.h"
#include "core/timeutil.h"

#define DAY CLM_MS_PER_DAY

static clm_event ev_at(clm_event_type type, int64_t day)
{
    clm_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = day * DAY + 12 * 3600000LL; /* noon */
    ev.has_customer = 1;
    ev.customer_id_len = 2;
    memcpy(ev.customer_id, "c1", 3);
    if (type == CLM_EV_PURCHASE) {
        ev.has_amount = 1;
        ev.amount_micros = 100000000; /* 100 */
    }
    return ev;
}

static clm_event scored_at(clm_event_type type, int64_t day, int score)
{
    clm_event ev = ev_at(type, day);
    ev.has_score = 1;
    ev.score = score;
    return ev;
}

static clm_risk_opts defaults(void)
{
    clm_risk_opts o;
    clm_risk_opts_default(&o);
    return o;
}

static const clm_risk_reason *reason(const clm_risk_eval *e, clm_signal s)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->r[i].signal == s)
            return &e->r[i];
    return NULL;
}

/* ---- signals -------------------------------------------------------------- */

static void test_inactivity_usual_gap(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    /* active on days 100, 105, 110, 115: 4 days, usual gap (115-100)/3 = 5;
     * ramp from max(2 x 5, 7) = 10 to max(4 x 5, 10 + 7) = 20 idle days */
    for (int d = 100; d <= 115; d += 5) {
        clm_event ev = ev_at(CLM_EV_VISIT, d);
        clm_risk_note(&s, &ev, true);
    }
    assert_int_equal(s.active_days, 4);
    clm_risk_eval_at(&s, NULL, &o, 125, true, &e); /* idle 10: not yet */
    assert_int_equal(e.risk_e4, 0);
    assert_int_equal(e.n, 0);
    clm_risk_eval_at(&s, NULL, &o, 126, true, &e); /* idle 11: (11-10)/(20-10) = 0.1 x 0.75 */
    assert_int_equal(e.risk_e4, 750);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.r[0].signal, CLM_SIG_INACTIVITY);
    assert_true(e.r[0].value == 11.0);
    assert_true(e.r[0].contribution > 0.0749 && e.r[0].contribution < 0.0751);
    clm_risk_eval_at(&s, NULL, &o, 135, true, &e); /* idle 20: full */
    assert_int_equal(e.risk_e4, 7500);
    /* next changes: the first day past the start, then daily, then none */
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 116), 126);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 126), 127);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 135), -1);
    /* a daily customer (usual gap 1): from 7 to 7 + 7 = 14 idle days */
    clm_risk_state daily;
    clm_risk_state_init(&daily);
    for (int d = 200; d < 210; d++) {
        clm_event ev = ev_at(CLM_EV_SESSION, d);
        clm_risk_note(&daily, &ev, true);
    }
    o.weight[CLM_SIG_ENGAGEMENT_DROP] = 0;
    clm_risk_eval_at(&daily, NULL, &o, 209 + 10, true, &e); /* idle 10: 3/7 x 0.75 */
    assert_int_equal(e.risk_e4, 3214);
    /* not a current customer: not scored */
    clm_risk_eval_at(&s, NULL, &o, 135, false, &e);
    assert_int_equal(e.risk_e4, 0);
    assert_int_equal(e.n, 0);
}

static void test_inactivity_short_history(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    clm_event ev = ev_at(CLM_EV_PURCHASE, 100);
    clm_risk_note(&s, &ev, true);
    clm_risk_note(&s, &ev, true); /* the same day again: still one active day */
    assert_int_equal(s.active_days, 1);
    /* absolute ramp 14..42: idle 28 -> 14/28 = 0.5 x 0.75 = 0.375 */
    clm_risk_eval_at(&s, NULL, &o, 128, true, &e);
    assert_int_equal(e.risk_e4, 3750);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 100), 115);
}

static void test_nps_csat(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    /* the latest answer by event time counts, whatever the arrival order */
    clm_event late = scored_at(CLM_EV_NPS_RESPONSE, 101, 3);
    clm_event early = scored_at(CLM_EV_NPS_RESPONSE, 100, 9);
    clm_risk_note(&s, &late, true);
    clm_risk_note(&s, &early, true);
    clm_risk_eval_at(&s, NULL, &o, 101, true, &e);
    assert_int_equal(e.risk_e4, 3000);
    assert_int_equal(e.n, 1);
    assert_true(e.r[0].value == 3.0);
    clm_event csat = scored_at(CLM_EV_CSAT_RESPONSE, 101, 2);
    clm_risk_note(&s, &csat, true);
    /* 1 - 0.7 x 0.75 = 0.475 */
    clm_risk_eval_at(&s, NULL, &o, 101, true, &e);
    assert_int_equal(e.risk_e4, 4750);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.r[0].signal, CLM_SIG_NPS_DETRACTOR);
    assert_int_equal(e.r[1].signal, CLM_SIG_LOW_CSAT);
    /* a passive NPS (7) and a CSAT of 3 raise nothing */
    clm_event nps7 = scored_at(CLM_EV_NPS_RESPONSE, 102, 7);
    clm_event csat3 = scored_at(CLM_EV_CSAT_RESPONSE, 102, 3);
    clm_risk_note(&s, &nps7, true);
    clm_risk_note(&s, &csat3, true);
    clm_risk_eval_at(&s, NULL, &o, 102, true, &e);
    assert_int_equal(e.risk_e4, 0);
    /* NPS and CSAT do not change with time */
    /* only inactivity changes: 3 active days (100..102) < 4, so the absolute
     * ramp; strength leaves 0 on idle day 15: 102 + 15 = 117 */
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 102), 117);
}

static void test_tickets(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    o.weight[CLM_SIG_INACTIVITY] = 0; /* tickets alone */
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    for (int d = 100; d <= 110; d += 5) {
        clm_event t = ev_at(CLM_EV_SUPPORT_TICKET, d);
        clm_risk_note(&s, &t, true);
    }
    /* day 113: tickets on 100, 105, 110 all within 113-13 = 100.. */
    clm_risk_eval_at(&s, NULL, &o, 113, true, &e);
    assert_int_equal(e.risk_e4, 3000);
    assert_true(reason(&e, CLM_SIG_TICKETS)->value == 3.0);
    /* day 100's ticket leaves the window on day 114 */
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 113), 114);
    clm_risk_eval_at(&s, NULL, &o, 114, true, &e);
    assert_int_equal(e.risk_e4, 0);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 114), -1);
}

static void test_payment_failed_downgrade(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    o.weight[CLM_SIG_INACTIVITY] = 0;
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    clm_event pf = ev_at(CLM_EV_PAYMENT_FAILED, 100);
    clm_event dg = ev_at(CLM_EV_DOWNGRADE, 110);
    clm_risk_note(&s, &pf, true);
    clm_risk_note(&s, &dg, true);
    /* day 129: both within 30 days; 1 - 0.6 x 0.7 = 0.58 */
    clm_risk_eval_at(&s, NULL, &o, 129, true, &e);
    assert_int_equal(e.risk_e4, 5800);
    assert_true(reason(&e, CLM_SIG_PAYMENT_FAILED)->value == 29.0);
    assert_true(reason(&e, CLM_SIG_DOWNGRADE)->value == 19.0);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 129), 130);
    clm_risk_eval_at(&s, NULL, &o, 130, true, &e); /* payment_failed out */
    assert_int_equal(e.risk_e4, 3000);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 130), 140);
}

static void test_engagement_drop(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    clm_risk_state s;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    /* one session a day on days 100..127 (weekly baseline 28/4 = 7), then
     * 3 sessions on days 128..134: 3 < 0.5 x 7 */
    for (int d = 100; d <= 127; d++) {
        clm_event ev = ev_at(CLM_EV_SESSION, d);
        clm_risk_note(&s, &ev, true);
    }
    for (int d = 128; d <= 134; d += 3) {
        clm_event ev = ev_at(CLM_EV_SESSION, d);
        clm_risk_note(&s, &ev, true);
    }
    clm_risk_eval_at(&s, NULL, &o, 134, true, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.r[0].signal, CLM_SIG_ENGAGEMENT_DROP);
    assert_true(e.r[0].value > 0.4285 && e.r[0].value < 0.4286); /* 3 / 7 */
    assert_int_equal(e.risk_e4, 3000);
    /* sessions after the evaluated day count as recent. Day 133: 127..(134)
     * = 1 + 3 = 4 against 99..126 = 27 (6.75 a week; 4 >= 3.375): no drop */
    clm_risk_eval_at(&s, NULL, &o, 133, true, &e);
    assert_int_equal(e.risk_e4, 0);
    /* day 131: 6 against 25; 132: 5 against 26 (3.25); 133: no; 134: drop */
    clm_risk_eval_at(&s, NULL, &o, 131, true, &e);
    assert_int_equal(e.risk_e4, 0);
    assert_int_equal(clm_risk_next_day(&s, NULL, &o, 131), 134);
}

/* The next day the engagement signal changes, against a day-by-day walk:
 * random session patterns, every other signal off. */
static void test_engagement_next_day_walk(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    for (int i = 0; i < CLM_SIG__COUNT; i++)
        o.weight[i] = i == CLM_SIG_ENGAGEMENT_DROP ? 1 : 0;
    uint64_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        clm_risk_state s;
        clm_risk_state_init(&s);
        int first = 1000, span = 1 + (int)(seed % 64);
        for (int d = first; d < first + span; d++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int n = (int)((seed >> 33) % 4) - (round % 3 == 0 ? 0 : 1); /* some empty days */
            for (int k = 0; k < n; k++) {
                clm_event ev = ev_at(CLM_EV_SESSION, d);
                clm_risk_note(&s, &ev, true);
            }
        }
        if (s.session_day < 0)
            continue;
        int64_t end = s.session_day + CLM_RISK_RECENT_DAYS + CLM_RISK_BASE_DAYS + 2;
        for (int64_t d = s.session_day - 3; d <= end; d++) {
            clm_risk_eval e0, e1;
            clm_risk_eval_at(&s, NULL, &o, d, true, &e0);
            int64_t want = -1;
            for (int64_t t = d + 1; t <= end && want < 0; t++) {
                clm_risk_eval_at(&s, NULL, &o, t, true, &e1);
                if (e1.risk_e4 != e0.risk_e4)
                    want = t;
            }
            int64_t got = clm_risk_next_day(&s, NULL, &o, d);
            if (got != want)
                fail_msg("round %d, day %lld: next change %lld, walked %lld", round, (long long)d,
                         (long long)got, (long long)want);
        }
    }
}

static void test_p_alive(void **state)
{
    (void)state;
    clm_risk_opts o = defaults();
    o.weight[CLM_SIG_INACTIVITY] = 0;
    clm_risk_state s;
    clm_rfm rfm;
    clm_risk_eval e;
    clm_risk_state_init(&s);
    clm_rfm_init(&rfm);
    /* purchases on days 0, 70 and 213: x = 2, t_x = 213/7 = 30.43 weeks */
    int days[] = { 1000, 1070, 1213 };
    for (int i = 0; i < 3; i++) {
        clm_event ev = ev_at(CLM_EV_PURCHASE, days[i]);
        clm_risk_note(&s, &ev, true);
        clm_rfm_purchase(&rfm, ev.ts_ms, 10000000);
    }
    /* no model yet: the signal stays off */
    clm_risk_eval_at(&s, &rfm, &o, 1272, true, &e);
    assert_int_equal(e.risk_e4, 0);
    o.has_model = true;
    o.model = (clm_bgnbd_params){ .r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426 };
    /* T = 272/7 = 38.86 weeks (the papers' example customer): P(alive) is
     * still high; it falls below 0.3 on the day clm_risk_next_day names */
    double x, t_x, T, m_x;
    clm_rfm_stats(&rfm, 1272, 7.0, &x, &t_x, &T, &m_x);
    double pa = clm_bgnbd_p_alive(&o.model, x, t_x, T);
    assert_true(pa > 0.3);
    clm_risk_eval_at(&s, &rfm, &o, 1272, true, &e);
    assert_int_equal(e.risk_e4, 0);
    int64_t d = clm_risk_next_day(&s, &rfm, &o, 1272);
    assert_true(d > 1272);
    clm_risk_eval_at(&s, &rfm, &o, d - 1, true, &e);
    assert_int_equal(e.risk_e4, 0);
    clm_risk_eval_at(&s, &rfm, &o, d, true, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.r[0].signal, CLM_SIG_P_ALIVE);
    assert_int_equal(e.risk_e4, 5000);
    assert_true(e.r[0].value < 0.3);
    clm_rfm_stats(&rfm, d - 1, 7.0, &x, &t_x, &T, &m_x);
    assert_true(clm_bgnbd_p_alive(&o.model, x, t_x, T) >= 0.3);
    /* a one-time buyer has P(alive) = 1 under BG/NBD: never this signal */
    clm_rfm one;
    clm_rfm_init(&one);
    clm_event ev = ev_at(CLM_EV_PURCHASE, 1000);
    clm_rfm_purchase(&one, ev.ts_ms, 10000000);
    clm_risk_eval_at(&s, &one, &o, 5000, true, &e);
    assert_null(reason(&e, CLM_SIG_P_ALIVE));
}

/* Session counts by day: the remembered 64 days end at session_day. */
static void test_sessions_by_day(void **state)
{
    (void)state;
    clm_risk_state s;
    clm_risk_state_init(&s);
    assert_int_equal(clm_risk_sessions_on(&s, 100), 0); /* no session yet */
    clm_event ev = ev_at(CLM_EV_SESSION, 105);
    clm_risk_note(&s, &ev, true);
    clm_risk_note(&s, &ev, true);
    ev = ev_at(CLM_EV_SESSION, 140);
    clm_risk_note(&s, &ev, true);
    assert_int_equal(clm_risk_sessions_on(&s, 105), 2);
    assert_int_equal(clm_risk_sessions_on(&s, 140), 1);
    assert_int_equal(clm_risk_sessions_on(&s, 139), 0);
    /* a ring by day: 140 - 64 = 76 reads 140's slot */
    assert_int_equal(clm_risk_sessions_on(&s, 76), 1);
    clm_risk_sessions_set(&s, 77, 9); /* the oldest remembered day */
    assert_int_equal(clm_risk_sessions_on(&s, 77), 9);
    assert_int_equal(clm_risk_sessions_on(&s, 141), 9);
    assert_int_equal(clm_risk_sessions_on(&s, 140), 1);
}

/* ---- alerts from a customer ------------------------------------------------ */

static clm_alert_opts alert_opts(void)
{
    clm_alert_opts a;
    memset(&a, 0, sizeof(a));
    a.enabled[CLM_ALERT_CHURN_RISK] = a.enabled[CLM_ALERT_CHURNED] = true;
    a.threshold_e4 = 7000;
    a.rearm_e4 = 1000;
    a.cooldown_ms = 7 * DAY;
    return a;
}

typedef struct fixture {
    clm_risk_opts risk;
    clm_alert_opts alerts;
    clm_apply_opts o;
    clm_deltas d;
    clm_customer *c;
    int64_t offset;
} fixture;

static void fx_init(fixture *f, bool inactivity)
{
    memset(f, 0, sizeof(*f));
    f->risk = defaults();
    if (!inactivity)
        f->risk.weight[CLM_SIG_INACTIVITY] = 0;
    f->alerts = alert_opts();
    f->o.bucket_ms = DAY;
    f->o.clv_min_tenure_ms = 30 * DAY;
    f->o.risk = &f->risk;
    f->o.alerts = &f->alerts;
    clm_deltas_init(&f->d);
    f->c = clm_customer_new("c1", 2, 3);
}

static void fx_free(fixture *f)
{
    clm_deltas_release(&f->d);
    clm_customer_free(f->c);
}

/* Applies ev read at offset f->offset++ of topic 0 partition 3, the
 * watermark at noon of `wm_day`. */
static void put(fixture *f, clm_event ev, int64_t wm_day)
{
    clm_pos pos = { .topic = 0, .partition = 3, .offset = f->offset++ };
    assert_int_equal(clm_customer_apply_at(f->c, &ev, &pos, &f->o, &f->d, wm_day * DAY + 12 * 3600000LL),
                     CLM_APPLIED);
}

static void test_threshold_hysteresis_cooldown(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, false);
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    put(&f, ev_at(CLM_EV_PAYMENT_FAILED, 100), 100);
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 100, 3), 100);
    put(&f, scored_at(CLM_EV_CSAT_RESPONSE, 100, 1), 100);
    /* 1 - 0.6 x 0.7 x 0.75 = 0.685: below 0.7 */
    assert_int_equal(f.c->risk_e4, 6850);
    assert_int_equal(f.d.nalerts, 0);
    put(&f, ev_at(CLM_EV_DOWNGRADE, 101), 101); /* x 0.7: 0.7795 */
    assert_int_equal(f.c->risk_e4, 7795);
    assert_int_equal(f.d.nalerts, 1);
    const clm_alert *a = &f.d.alerts[0];
    assert_int_equal(a->kind, CLM_ALERT_CHURN_RISK);
    assert_string_equal(a->customer_id, "c1");
    assert_int_equal(a->risk_e4, 7795);
    assert_int_equal(a->prev_risk_e4, 6850);
    assert_int_equal(a->partition, 3);
    assert_int_equal(a->offset, 4);
    assert_int_equal(a->event_ts, 101 * DAY + 12 * 3600000LL);
    assert_int_equal(a->clv_micros, 100000000);
    assert_int_equal(a->nreasons, 4); /* nps, csat, payment_failed, downgrade */
    assert_int_equal(a->reasons[0].signal, CLM_SIG_NPS_DETRACTOR);
    assert_int_equal(a->reasons[3].signal, CLM_SIG_DOWNGRADE);
    assert_true(f.c->flags & CLM_CUST_DISARMED);

    /* CSAT 5: 1 - 0.6 x 0.7 x 0.7 = 0.706, still >= 0.7 but disarmed */
    put(&f, scored_at(CLM_EV_CSAT_RESPONSE, 102, 5), 102);
    assert_int_equal(f.c->risk_e4, 7060);
    /* NPS 8: 1 - 0.6 x 0.7 = 0.58 < 0.7 - 0.1: re-armed */
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 102, 8), 102);
    assert_int_equal(f.c->risk_e4, 5800);
    assert_false(f.c->flags & CLM_CUST_DISARMED);
    /* NPS 0 again on day 103: 0.706, armed, but within the 7-day cooldown */
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 103, 0), 103);
    assert_int_equal(f.c->risk_e4, 7060);
    assert_int_equal(f.d.nalerts, 1);
    /* a visit on day 108 (watermark noon day 108 = alert + 7 days): alerted */
    put(&f, ev_at(CLM_EV_VISIT, 108), 108);
    assert_int_equal(f.d.nalerts, 2);
    assert_int_equal(f.d.alerts[1].prev_risk_e4, 7060);
    fx_free(&f);
}

static void test_clv_floor(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, false);
    f.alerts.clv_floor_micros = 150000000; /* 150 > the customer's 100 */
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    put(&f, ev_at(CLM_EV_PAYMENT_FAILED, 100), 100);
    put(&f, ev_at(CLM_EV_DOWNGRADE, 100), 100);
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 100, 2), 100);
    assert_int_equal(f.c->risk_e4, 7060);
    assert_int_equal(f.d.nalerts, 0);
    assert_false(f.c->flags & CLM_CUST_DISARMED); /* still armed */
    put(&f, ev_at(CLM_EV_PURCHASE, 101), 101); /* clv 200: now worth a call */
    assert_int_equal(f.d.nalerts, 1);
    assert_int_equal(f.d.alerts[0].clv_micros, 200000000);
    fx_free(&f);
}

static void test_silence_raises_risk(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, true);
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 100, 5), 100);
    assert_int_equal(f.c->risk_e4, 3000);
    /* inactivity starts after 14 idle days: due on day 115 */
    assert_int_equal(f.c->risk_next, 115);
    assert_int_equal(clm_customer_deadline(f.c, &f.o), 115 * DAY);
    /* nothing due yet */
    assert_int_equal(clm_customer_expire(f.c, &f.o, &f.d, 114 * DAY), 0);
    /* watermark day 140: rescored daily 115..140. Day 135: idle 35, s 0.75,
     * 1 - 0.4375 x 0.7 = 0.69375 (6938); day 136: s 22/28, 1 - (1 - 0.589286) x 0.7
     * = 0.7125: the alert, dated at day 136's start, named by the last event */
    assert_int_equal(clm_customer_expire(f.c, &f.o, &f.d, 140 * DAY), 1);
    assert_int_equal(f.d.nalerts, 1);
    const clm_alert *a = &f.d.alerts[0];
    assert_int_equal(a->risk_e4, 7125);
    assert_int_equal(a->prev_risk_e4, 6938);
    assert_int_equal(a->event_ts, 136 * DAY);
    assert_int_equal(a->offset, 1);
    assert_true(a->reasons[0].value == 36.0);
    /* day 140: s 26/28, 1 - (1 - 0.696429) x 0.7 = 0.7875 */
    assert_int_equal(f.c->risk_e4, 7875);
    assert_int_equal(f.c->risk_day, 140);
    assert_int_equal(f.c->risk_next, 141);
    fx_free(&f);
}

static void test_churned_alert(void **state)
{
    (void)state;
    clm_config *cfg = clm_config_new_defaults();
    assert_non_null(cfg);
    fixture f;
    fx_init(&f, true);
    f.o.stages = cfg->stages;
    f.o.churn_inactive_ms = 90 * DAY;
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    /* silent: churn_risk when inactivity alone reaches 0.7 (idle 41: s 27/28,
     * 0.7232), then churned at last_seen + 90 days = day 190 noon */
    assert_int_equal(clm_customer_expire(f.c, &f.o, &f.d, 200 * DAY), 1);
    assert_int_equal(f.d.nalerts, 2);
    assert_int_equal(f.d.alerts[0].kind, CLM_ALERT_CHURN_RISK);
    assert_int_equal(f.d.alerts[0].risk_e4, 7232);
    assert_int_equal(f.d.alerts[0].event_ts, 141 * DAY);
    const clm_alert *a = &f.d.alerts[1];
    assert_int_equal(a->kind, CLM_ALERT_CHURNED);
    assert_int_equal(a->cause, CLM_CAUSE_INACTIVITY);
    assert_int_equal(a->event_ts, 190 * DAY + 12 * 3600000LL);
    assert_int_equal(a->risk_e4, 7500);      /* scored on the churn day while current */
    assert_int_equal(a->prev_risk_e4, 7500); /* the last score */
    assert_int_equal(a->clv_micros, 100000000);
    assert_int_equal(a->stage, clm_stages_index(cfg->stages, "conversion", 10));
    /* churned: not scored any more, re-armed for a comeback */
    assert_int_equal(f.c->risk_e4, 0);
    assert_int_equal(f.c->risk_next, -1);
    assert_false(f.c->flags & CLM_CUST_DISARMED);
    assert_int_equal(clm_customer_deadline(f.c, &f.o), CLM_NO_TS);
    fx_free(&f);
    clm_config_free(cfg);
}

/* An incident opens with churn_risk and ends with resolved (risk_fell)
 * when the score falls below threshold - rearm_margin; the next churn_risk
 * opens another. Paging times are the watermark of the raising event. */
static void test_incident_resolved(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, false);
    f.alerts.enabled[CLM_ALERT_RESOLVED] = true;
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    put(&f, ev_at(CLM_EV_PAYMENT_FAILED, 100), 100);
    put(&f, ev_at(CLM_EV_DOWNGRADE, 100), 100);
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 100, 2), 100); /* 0.706 */
    assert_int_equal(f.d.nalerts, 1);
    int64_t opened = f.d.alerts[0].event_ts;
    assert_int_equal(f.d.alerts[0].incident_at, opened);
    assert_int_equal(f.d.alerts[0].page_ms, 100 * DAY + 12 * 3600000LL);
    assert_int_equal(f.c->incident_at, opened);
    /* still above 0.6: nothing */
    put(&f, scored_at(CLM_EV_CSAT_RESPONSE, 101, 5), 101);
    assert_int_equal(f.d.nalerts, 1);
    /* NPS 9: 1 - 0.6 x 0.7 = 0.58 < 0.6: resolved, same incident */
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 102, 9), 102);
    assert_int_equal(f.d.nalerts, 2);
    const clm_alert *r = &f.d.alerts[1];
    assert_int_equal(r->kind, CLM_ALERT_RESOLVED);
    assert_int_equal(r->reason, CLM_RESOLVE_RISK_FELL);
    assert_int_equal(r->incident_at, opened);
    assert_int_equal(r->risk_e4, 5800);
    assert_int_equal(r->prev_risk_e4, 7060);
    assert_int_equal(r->page_ms, 102 * DAY + 12 * 3600000LL);
    assert_int_equal(f.c->incident_at, CLM_NO_TS);
    /* lower still: no second resolve */
    put(&f, ev_at(CLM_EV_VISIT, 103), 103);
    assert_int_equal(f.d.nalerts, 2);
    /* NPS 0 on day 110 (out of cooldown): a new incident */
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 110, 0), 110);
    assert_int_equal(f.d.nalerts, 3);
    assert_int_equal(f.d.alerts[2].kind, CLM_ALERT_CHURN_RISK);
    assert_int_equal(f.d.alerts[2].incident_at, f.d.alerts[2].event_ts);
    assert_true(f.d.alerts[2].incident_at != opened);
    /* with resolved alerts off, the incident still closes (no alert) */
    f.alerts.enabled[CLM_ALERT_RESOLVED] = false;
    put(&f, scored_at(CLM_EV_NPS_RESPONSE, 111, 9), 111);
    assert_int_equal(f.d.nalerts, 3);
    assert_int_equal(f.c->incident_at, CLM_NO_TS);
    fx_free(&f);
}

/* A churned customer's incident stays open until it reactivates; a churned
 * alert without an open incident opens one. */
static void test_incident_reactivated(void **state)
{
    (void)state;
    clm_config *cfg = clm_config_new_defaults();
    assert_non_null(cfg);
    fixture f;
    fx_init(&f, true);
    f.alerts.enabled[CLM_ALERT_RESOLVED] = true;
    f.o.stages = cfg->stages;
    f.o.churn_inactive_ms = 90 * DAY;
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    assert_int_equal(clm_customer_expire(f.c, &f.o, &f.d, 200 * DAY), 1);
    assert_int_equal(f.d.nalerts, 2); /* churn_risk day 141, churned day 190 */
    assert_int_equal(f.d.alerts[0].incident_at, 141 * DAY);
    assert_int_equal(f.d.alerts[0].page_ms, 141 * DAY); /* a due step: its due time */
    assert_int_equal(f.d.alerts[1].kind, CLM_ALERT_CHURNED);
    assert_int_equal(f.d.alerts[1].incident_at, 141 * DAY);
    assert_int_equal(f.d.alerts[1].page_ms, 190 * DAY + 12 * 3600000LL);
    /* churned: risk 0, not current: the incident stays open */
    assert_int_equal(f.c->incident_at, 141 * DAY);
    /* a visit on day 201 brings it back: resolved, reactivated */
    put(&f, ev_at(CLM_EV_VISIT, 201), 201);
    assert_int_equal(f.d.nalerts, 3);
    const clm_alert *r = &f.d.alerts[2];
    assert_int_equal(r->kind, CLM_ALERT_RESOLVED);
    assert_int_equal(r->reason, CLM_RESOLVE_REACTIVATED);
    assert_int_equal(r->incident_at, 141 * DAY);
    assert_int_equal(r->event_ts, 201 * DAY + 12 * 3600000LL);
    assert_int_equal(f.c->incident_at, CLM_NO_TS);
    fx_free(&f);

    /* churn_risk off: the churned alert opens the incident itself */
    fx_init(&f, true);
    f.alerts.enabled[CLM_ALERT_RESOLVED] = true;
    f.alerts.enabled[CLM_ALERT_CHURN_RISK] = false;
    f.o.stages = cfg->stages;
    f.o.churn_inactive_ms = 90 * DAY;
    put(&f, ev_at(CLM_EV_PURCHASE, 100), 100);
    assert_int_equal(clm_customer_expire(f.c, &f.o, &f.d, 200 * DAY), 1);
    assert_int_equal(f.d.nalerts, 1);
    assert_int_equal(f.d.alerts[0].kind, CLM_ALERT_CHURNED);
    assert_int_equal(f.d.alerts[0].incident_at, 190 * DAY + 12 * 3600000LL);
    assert_int_equal(f.d.alerts[0].risk_e4, 7500);
    /* it reactivates, then cancels: churned by the cancel, in a new incident,
     * with the risk of that day (a payment failure 0.4) */
    put(&f, ev_at(CLM_EV_VISIT, 201), 201);
    assert_int_equal(f.d.nalerts, 2); /* the resolve of the first incident */
    put(&f, ev_at(CLM_EV_PAYMENT_FAILED, 202), 202);
    put(&f, ev_at(CLM_EV_CANCEL, 203), 203);
    assert_int_equal(f.d.nalerts, 3);
    const clm_alert *c = &f.d.alerts[2];
    assert_int_equal(c->kind, CLM_ALERT_CHURNED);
    assert_int_equal(c->cause, CLM_EV_CANCEL);
    assert_int_equal(c->incident_at, 203 * DAY + 12 * 3600000LL);
    assert_int_equal(c->risk_e4, 4000);
    fx_free(&f);
    clm_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inactivity_usual_gap),
        cmocka_unit_test(test_inactivity_short_history),
        cmocka_unit_test(test_nps_csat),
        cmocka_unit_test(test_tickets),
        cmocka_unit_test(test_payment_failed_downgrade),
        cmocka_unit_test(test_engagement_drop),
        cmocka_unit_test(test_engagement_next_day_walk),
        cmocka_unit_test(test_p_alive),
        cmocka_unit_test(test_sessions_by_day),
        cmocka_unit_test(test_threshold_hysteresis_cooldown),
        cmocka_unit_test(test_clv_floor),
        cmocka_unit_test(test_silence_raises_risk),
        cmocka_unit_test(test_churned_alert),
        cmocka_unit_test(test_incident_resolved),
        cmocka_unit_test(test_incident_reactivated),
    };
    return cmocka_run_group_tests_name("risk", tests, NULL, NULL);
}
