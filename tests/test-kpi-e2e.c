/* tests/test-kpi-e2e.c - lifecycle stages, day counters and rolling KPIs end to end.
 *
 * A generated stream goes through the Kafka mock cluster (in this process)
 * and clmd (a child process) into a real redis-server. Every day hash, the
 * stage counts, every transition hash, each customer's stage and the rolling
 * KPI hashes are compared with values recomputed here from the raw messages
 * by a model of the README rules that shares no code with core/:
 *   model_rules  the model itself on a small hand-made stream, every value
 *                worked out by hand (every event raising max_ts)
 *   model_rules_jump  the same stream with the default watermark rule: a
 *                lone source far ahead waits for a second
 *   kpi_stream       the generated stream (1% of events up to 1 h late)
 *                    through clmd, compared key by key and field by field;
 *                    each mismatch is printed as key, field, expected, got
 *   kpi_stream_late  the same with 3% of events up to 10 days late: late
 *                    drops and out-of-order arrivals
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define PARTITIONS 4

#define DAY_MS 86400000LL
#define LATENESS_MS (7 * DAY_MS)      /* events.allowed_lateness_s default */
#define MAX_JUMP_MS DAY_MS            /* events.max_jump_s default */
#define QUORUM 2                      /* events.jump_quorum default */
#define QUORUM_MAX 16                 /* events.jump_quorum at most */
#define CHURN_MS (90 * DAY_MS)        /* lifecycle.churn_inactive_days default */
#define MIN_TENURE_MS (30 * DAY_MS)   /* kpi.clv_min_tenure_days default */
#define CLV_MAX_YEARS 5               /* kpi.clv_max_years default; gross_margin 1 */
#define NO_TS INT64_MIN

__extension__ typedef __int128 i128;

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* ---- the default stage model, from the README table ---------------------- */

enum { ST_NONE = -1, AWARENESS, ACQUISITION, CONVERSION, ONBOARDING, ENGAGEMENT, RETENTION,
       ADVOCACY, CHURNED, REACTIVATED, NSTAGES };
#define NORD 7 /* ordinary stages: awareness .. advocacy, rank = index */

static const char *const STAGE[NSTAGES] = { "awareness", "acquisition", "conversion", "onboarding",
                                            "engagement", "retention", "advocacy", "churned",
                                            "reactivated" };

typedef struct rule {
    const char *on[3]; /* event types; "*" = any */
    int from;          /* required current stage; ST_NONE here means "any" */
    int to;
    int64_t min_orders, max_orders; /* orders after the event; -1 = unbounded */
    int min_score;                  /* -1 = no score condition */
} rule;

static const rule RULES[] = {
    { { "visit" }, ST_NONE, AWARENESS, -1, -1, -1 },
    { { "signup" }, ST_NONE, ACQUISITION, -1, -1, -1 },
    { { "purchase" }, ST_NONE, CONVERSION, 1, 1, -1 },
    { { "onboarding_complete" }, ST_NONE, ONBOARDING, -1, -1, -1 },
    { { "login", "session", "feature_use" }, ONBOARDING, ENGAGEMENT, -1, -1, -1 },
    { { "purchase" }, ST_NONE, RETENTION, 2, -1, -1 },
    { { "referral", "review" }, ST_NONE, ADVOCACY, 1, -1, -1 },
    { { "nps_response" }, ST_NONE, ADVOCACY, 1, -1, 9 },
    { { "cancel" }, ST_NONE, CHURNED, 1, -1, -1 },
    { { "*" }, CHURNED, REACTIVATED, -1, -1, -1 },
};

/* Forward-only moves: into churned from anywhere else, out of churned only
 * into reactivated, from none into any ordinary stage, from an ordinary
 * stage only to a later one, from reactivated to a stage at least as far as
 * the peak. A rule whose target is the current stage never fires. */
static bool move_allowed(int cur, int peak, int to)
{
    if (to == cur)
        return false;
    if (to == CHURNED)
        return true;
    if (cur == CHURNED)
        return to == REACTIVATED;
    if (to == REACTIVATED)
        return false;
    if (cur == ST_NONE)
        return true;
    if (cur == REACTIVATED)
        return peak == ST_NONE || to >= peak;
    return to > cur;
}

static bool rule_on(const rule *r, const char *type)
{
    for (size_t i = 0; i < 3 && r->on[i]; i++)
        if (strcmp(r->on[i], "*") == 0 || strcmp(r->on[i], type) == 0)
            return true;
    return false;
}

/* The stage the first matching, allowed rule moves to, or ST_NONE. */
static int next_stage(int cur, int peak, const char *type, int64_t orders, bool has_score, int score)
{
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++) {
        const rule *r = &RULES[i];
        if (!rule_on(r, type) || (r->from != ST_NONE && r->from != cur) ||
            (r->min_orders >= 0 && orders < r->min_orders) ||
            (r->max_orders >= 0 && orders > r->max_orders) ||
            (r->min_score >= 0 && (!has_score || score < r->min_score)) ||
            !move_allowed(cur, peak, r->to))
            continue;
        return r->to;
    }
    return ST_NONE;
}

/* ---- day counters, from the README table --------------------------------- */

enum { F_NEW_LEADS, F_NEW_CUSTOMERS, F_ORDERS, F_REVENUE, F_REFUNDS, F_SPEND, F_PROMOTERS,
       F_PASSIVES, F_DETRACTORS, F_CSAT_N, F_CSAT_SUM, F_CSAT_SAT, F_SESSIONS, F_SESSION_MS,
       F_CHURNED, F_REACTIVATED, F_CONTACTED, F_RESPONSE_MS, F_UPGRADES, F_REPEAT, F_ACTIVE,
       F_LAST_ACTIVE, F_DELTA, F_CONVERTED, F_CUR_ACTIVE, F_CUR_SINCE, F_ENTERED,
       F_ADVANCED = F_ENTERED + NSTAGES,
       NFIELDS = F_ADVANCED + NORD - 1 };

static const char *const BASE_FIELD[F_ENTERED] = {
    "new_leads", "new_customers", "orders", "revenue_micros", "refunds_micros", "spend_micros",
    "nps_promoters", "nps_passives", "nps_detractors", "csat_n", "csat_sum", "csat_satisfied",
    "sessions", "session_ms", "churned", "reactivated", "leads_contacted", "lead_response_ms_sum",
    "upgrades", "repeat_orders", "active_customers", "last_active", "customers_delta",
    "leads_converted", "current_last_active", "current_since",
};

/* Redis field name of counter f: the table above, entered_<stage>, <a>_to_<b>. */
static void field_name(int f, char *buf, size_t size)
{
    if (f < F_ENTERED)
        snprintf(buf, size, "%s", BASE_FIELD[f]);
    else if (f < F_ADVANCED)
        snprintf(buf, size, "entered_%s", STAGE[f - F_ENTERED]);
    else
        snprintf(buf, size, "%s_to_%s", STAGE[f - F_ADVANCED], STAGE[f - F_ADVANCED + 1]);
}

/* ---- the model of clmd's output ------------------------------------------ */

typedef struct mcust {
    bool seen;
    int part;
    int64_t last_seen;         /* latest activity (not lifecycle.inactive_types), NO_TS: none */
    int64_t id_ts;             /* latest event time of an applied id, NO_TS: none */
    int64_t orders, revenue;
    int64_t first_purchase, first_signup, stage_since;
    int64_t spell;             /* when the current spell as a customer began */
    bool spell_returned;       /* it began with a return from churned */
    int stage, peak;
    int64_t entered_day[NORD]; /* day of the first entry, NO_TS when never */
    int64_t *days;             /* distinct days with an applied activity event */
    size_t ndays, capdays;
    int64_t *contacts;         /* times of applied lead_contacted events */
    size_t ncontacts, capcontacts;
    struct applied_id {
        char *id;
        int64_t ts;
    } *ids;                    /* event ids applied, with their event times */
    size_t nids, capids;
} mcust;

typedef struct model {
    int64_t base_day; /* counters[i] is UTC day base_day + i */
    size_t ndays;
    int64_t (*counters)[NFIELDS];
    bool *touched;      /* the day received a counter change (has a full hash) */
    int64_t *trans;     /* [day][from + 1][to]: transitions dated that day */
    int64_t stage_counts[NSTAGES];
    mcust *cust;        /* index n is "c-<n>" */
    size_t ncust;
    int64_t max_ts[PARTITIONS];
    struct mahead {        /* customers more than MAX_JUMP_MS ahead of max_ts */
        char src[32];
        int64_t ts, base;
    } ahead[PARTITIONS][QUORUM_MAX - 1];
    int nahead[PARTITIONS];
    int64_t max_jump_ms; /* events.max_jump_s in ms (0: every event raises max_ts) */
    int quorum;          /* events.jump_quorum */
    struct anon_ids {          /* ids of customer-less events a partition remembers */
        struct applied_id *ids;
        size_t n, cap;
    } anon[PARTITIONS];
    int64_t consumed, applied, duplicates, rejected, late, inactivity_churns;
} model;

static int64_t day_of(int64_t ts)
{
    return ts >= 0 ? ts / DAY_MS : -((-ts + DAY_MS - 1) / DAY_MS);
}

static size_t day_index(const model *m, int64_t day)
{
    if (day < m->base_day || day >= m->base_day + (int64_t)m->ndays)
        fail_msg("day %lld outside the model's range", (long long)day);
    return (size_t)(day - m->base_day);
}

static void count_day(model *m, int64_t day, int field, int64_t n)
{
    size_t i = day_index(m, day);
    m->counters[i][field] += n;
    m->touched[i] = true;
}

static void count(model *m, int64_t ts, int field, int64_t n)
{
    count_day(m, day_of(ts), field, n);
}

static model *model_new(int64_t base_day, size_t ndays, size_t ncust)
{
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->base_day = base_day;
    m->ndays = ndays;
    m->counters = calloc(ndays, sizeof(*m->counters));
    m->touched = calloc(ndays, sizeof(*m->touched));
    m->trans = calloc(ndays * (NSTAGES + 1) * NSTAGES, sizeof(*m->trans));
    m->cust = calloc(ncust + 1, sizeof(*m->cust));
    assert_true(m->counters && m->touched && m->trans && m->cust);
    m->ncust = ncust;
    for (size_t p = 0; p < PARTITIONS; p++)
        m->max_ts[p] = NO_TS;
    m->max_jump_ms = MAX_JUMP_MS;
    m->quorum = QUORUM;
    return m;
}

static void model_free(model *m)
{
    if (!m)
        return;
    for (size_t n = 0; n <= m->ncust; n++) {
        mcust *c = &m->cust[n];
        for (size_t k = 0; k < c->nids; k++)
            free(c->ids[k].id);
        free(c->ids);
        free(c->days);
        free(c->contacts);
    }
    for (int p = 0; p < PARTITIONS; p++) {
        for (size_t k = 0; k < m->anon[p].n; k++)
            free(m->anon[p].ids[k].id);
        free(m->anon[p].ids);
    }
    free(m->cust);
    free(m->trans);
    free(m->touched);
    free(m->counters);
    free(m);
}

static int64_t *trans_at(const model *m, int64_t day, int from, int to)
{
    return &m->trans[(day_index(m, day) * (NSTAGES + 1) + (size_t)(from + 1)) * NSTAGES + (size_t)to];
}

static void push_i64(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = realloc(*v, *cap * sizeof(**v));
        assert_non_null(*v);
    }
    (*v)[(*n)++] = x;
}

/* Moves a customer into stage `to` at time ts with every counter of the move. */
static void enter(model *m, mcust *c, int to, int64_t ts)
{
    int64_t day = day_of(ts);
    (*trans_at(m, day, c->stage, to))++;
    if (c->stage != ST_NONE)
        m->stage_counts[c->stage]--;
    m->stage_counts[to]++;
    if (to == CHURNED) {
        count(m, ts, F_CHURNED, 1);
        if (c->orders >= 1)
            count(m, ts, F_DELTA, -1);
    } else if (c->stage == CHURNED) {
        if (to == REACTIVATED)
            count(m, ts, F_REACTIVATED, 1);
        if (c->orders >= 1) {
            count(m, ts, F_DELTA, 1);
            c->spell = ts;
            c->spell_returned = true;
        }
    }
    if (to < NORD) {
        if (c->entered_day[to] == NO_TS) {
            c->entered_day[to] = day;
            count(m, ts, F_ENTERED + to, 1);
            if (to > 0 && c->entered_day[to - 1] != NO_TS)
                count_day(m, c->entered_day[to - 1], F_ADVANCED + to - 1, 1);
        }
        if (c->peak == ST_NONE || to > c->peak)
            c->peak = to;
    } else {
        count(m, ts, F_ENTERED + to, 1);
    }
    c->stage = to;
    c->stage_since = ts;
}

/* Inactivity churn: customers of the partition with orders >= 1, not
 * churned, whose last_seen + 90 days the watermark has reached, churn dated
 * at that deadline. */
static void expire(model *m, int part)
{
    int64_t wm = m->max_ts[part] - LATENESS_MS;
    for (size_t n = 1; n <= m->ncust; n++) {
        mcust *c = &m->cust[n];
        if (!c->seen || c->part != part || c->orders < 1 || c->stage == CHURNED ||
            c->last_seen + CHURN_MS > wm)
            continue;
        enter(m, c, CHURNED, c->last_seen + CHURN_MS);
        m->inactivity_churns++;
    }
}

static int64_t parse_ts(json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    /* the generator writes "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    struct tm tm = { 0 };
    const char *s = json_string_value(v);
    assert_non_null(s);
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    int ms = 0;
    assert_int_equal(sscanf(rest, ".%3dZ", &ms), 1);
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static int64_t micros_of(json_t *o)
{
    json_t *a = json_object_get(o, "amount");
    return a ? (int64_t)llround(json_number_value(a) * 1e6) : 0;
}

/* Duplicate suppression: an id applied for the customer whose event time
 * lies within the horizon (1 day) of the later of the customer's latest
 * activity and latest event with an id. */
#define DEDUP_HORIZON_MS DAY_MS
#define DEDUP_MAX_IDS 64

static int64_t dedup_floor(const mcust *c)
{
    int64_t latest = c->last_seen > c->id_ts ? c->last_seen : c->id_ts;
    return latest == NO_TS ? NO_TS : latest - DEDUP_HORIZON_MS;
}

/* lifecycle.inactive_types' default: events that are not activity. */
static bool inactive_type(const char *type)
{
    return strcmp(type, "cancel") == 0 || strcmp(type, "refund") == 0 ||
           strcmp(type, "payment_failed") == 0 || strcmp(type, "marketing_spend") == 0;
}

static bool applied_before(const mcust *c, const char *id)
{
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i].ts >= dedup_floor(c) && strcmp(c->ids[i].id, id) == 0)
            return true;
    return false;
}

/* Records an applied id; the ids within the horizon never exceed the
 * configured 64 here, so which ones a full set would drop never matters. */
static void remember_id(mcust *c, const char *id, int64_t ts)
{
    if (c->nids == c->capids) {
        c->capids = c->capids ? c->capids * 2 : 8;
        c->ids = realloc(c->ids, c->capids * sizeof(*c->ids));
        assert_non_null(c->ids);
    }
    c->ids[c->nids++] = (struct applied_id){ .id = strdup(id), .ts = ts };
    if (ts > c->id_ts)
        c->id_ts = ts;
    size_t within = 0;
    for (size_t i = 0; i < c->nids; i++)
        within += c->ids[i].ts >= dedup_floor(c);
    if (within > DEDUP_MAX_IDS)
        fail_msg("event %s: %zu ids of its customer within the dedup horizon, more than %d", id,
                 within, DEDUP_MAX_IDS);
}

/* Applies one valid, timely, non-duplicate event to its customer. Counters
 * whose day depends on the whole history (first signup, first purchase,
 * latest activity, first contact) are settled in model_finish. */
static void apply(model *m, mcust *c, int part, const char *type, int64_t ts, json_t *o)
{
    if (!c->seen) {
        c->seen = true;
        c->part = part;
        c->last_seen = c->id_ts = NO_TS;
        c->first_purchase = c->first_signup = c->spell = NO_TS;
        c->stage = c->peak = ST_NONE;
        for (int r = 0; r < NORD; r++)
            c->entered_day[r] = NO_TS;
    }
    assert_int_equal(c->part, part);
    bool active = !inactive_type(type);
    if (active && ts > c->last_seen)
        c->last_seen = ts;
    int64_t day = day_of(ts);
    size_t k;
    for (k = 0; k < c->ndays && c->days[k] != day; k++)
        ;
    if (active && k == c->ndays)
        push_i64(&c->days, &c->ndays, &c->capdays, day);

    json_t *sv = json_object_get(o, "score");
    bool has_score = json_is_integer(sv);
    int score = has_score ? (int)json_integer_value(sv) : 0;
    if (strcmp(type, "purchase") == 0) {
        c->orders++;
        c->revenue += micros_of(o);
        count(m, ts, F_ORDERS, 1);
        count(m, ts, F_REVENUE, micros_of(o));
        count(m, ts, F_REPEAT, 1); /* the first purchase is taken off in model_finish */
        if (c->first_purchase == NO_TS || ts < c->first_purchase) {
            /* a spell begins with the first purchase (earlier when an earlier
             * one arrives late), unless it began with a return */
            if (c->stage != CHURNED && !(c->orders > 1 && c->spell_returned))
                c->spell = ts;
            c->first_purchase = ts;
        }
    } else if (strcmp(type, "refund") == 0) {
        count(m, ts, F_REFUNDS, micros_of(o));
    } else if (strcmp(type, "signup") == 0) {
        if (c->first_signup == NO_TS || ts < c->first_signup)
            c->first_signup = ts;
    } else if (strcmp(type, "lead_contacted") == 0) {
        push_i64(&c->contacts, &c->ncontacts, &c->capcontacts, ts);
    } else if (strcmp(type, "nps_response") == 0) {
        count(m, ts, score >= 9 ? F_PROMOTERS : score >= 7 ? F_PASSIVES : F_DETRACTORS, 1);
    } else if (strcmp(type, "csat_response") == 0) {
        count(m, ts, F_CSAT_N, 1);
        count(m, ts, F_CSAT_SUM, score);
        if (score >= 4)
            count(m, ts, F_CSAT_SAT, 1);
    } else if (strcmp(type, "session") == 0) {
        json_t *d = json_object_get(o, "duration_s");
        count(m, ts, F_SESSIONS, 1);
        count(m, ts, F_SESSION_MS, d ? (int64_t)llround(json_number_value(d) * 1000) : 0);
    } else if (strcmp(type, "upgrade") == 0) {
        count(m, ts, F_UPGRADES, 1);
    }
    /* only activity brings a churned customer back */
    int to = active || c->stage != CHURNED
                 ? next_stage(c->stage, c->peak, type, c->orders, has_score, score)
                 : ST_NONE;
    if (to != ST_NONE)
        enter(m, c, to, ts);
}

/* The partition's max_ts takes an applied event time of customer `src`
 * ("" without customer), as README "Event time, watermarks and late
 * events" says: a step of at most max_jump_ms moves it (and forgets the
 * customers ahead whose max_ts it has left more than max_jump_ms behind); a
 * larger one waits until `quorum` distinct customers are ahead, then max_ts
 * moves to the earliest of their times. */
static void raise_max_ts(model *m, int part, const char *src, int64_t ts)
{
    int64_t *mx = &m->max_ts[part];
    struct mahead *a = m->ahead[part];
    int *n = &m->nahead[part];
    if (*mx == NO_TS) {
        *mx = ts;
        return;
    }
    if (m->quorum <= 1 || m->max_jump_ms == 0 || ts - *mx <= m->max_jump_ms) {
        if (ts <= *mx)
            return;
        *mx = ts;
        int keep = 0;
        for (int i = 0; i < *n; i++)
            if (*mx - a[i].base <= m->max_jump_ms)
                a[keep++] = a[i];
        *n = keep;
        return;
    }
    int i = 0;
    while (i < *n && strcmp(a[i].src, src) != 0)
        i++;
    if (i < *n) {
        if (ts > a[i].ts)
            a[i].ts = ts;
        a[i].base = *mx;
        return;
    }
    if (*n + 1 < m->quorum) {
        assert_true(strlen(src) < sizeof(a[i].src));
        strcpy(a[i].src, src);
        a[i].ts = ts;
        a[i].base = *mx;
        (*n)++;
        return;
    }
    int64_t earliest = ts;
    for (int k = 0; k < *n; k++)
        if (a[k].ts < earliest)
            earliest = a[k].ts;
    *n = 0;
    if (earliest > *mx)
        *mx = earliest;
}

/* One message of a partition, in offset order. `malformed`: the generator's
 * flag (the message is rejected before it is decoded). */
static void model_msg(model *m, int part, const char *value, size_t len, bool malformed)
{
    m->consumed++;
    if (malformed) {
        m->rejected++;
        return;
    }
    json_error_t je;
    json_t *o = json_loadb(value, len, 0, &je);
    if (!o)
        fail_msg("unparsable valid message: %s (%.*s)", je.text, (int)len, value);
    const char *type = json_string_value(json_object_get(o, "type"));
    int64_t ts = parse_ts(json_object_get(o, "ts"));
    assert_non_null(type);
    if (m->max_ts[part] != NO_TS && ts < m->max_ts[part] - LATENESS_MS) {
        m->late++;
        m->rejected++;
        json_decref(o);
        return;
    }
    const char *cid = json_string_value(json_object_get(o, "customer_id"));
    const char *eid = json_string_value(json_object_get(o, "event_id"));
    struct anon_ids *an = &m->anon[part];
    if (!cid && eid && *eid) {
        for (size_t i = 0; i < an->n; i++)
            if (strcmp(an->ids[i].id, eid) == 0) {
                m->duplicates++;
                json_decref(o);
                return;
            }
    }
    mcust *c = NULL;
    if (cid) {
        long n = strtol(cid + 2, NULL, 10);
        assert_true(strncmp(cid, "c-", 2) == 0 && n >= 1 && (size_t)n <= m->ncust);
        c = &m->cust[n];
        if (eid && *eid && applied_before(c, eid)) {
            m->duplicates++;
            json_decref(o);
            return;
        }
    }
    raise_max_ts(m, part, cid ? cid : "", ts);
    expire(m, part);
    m->applied++;
    if (c) {
        apply(m, c, part, type, ts, o);
        if (eid && *eid)
            remember_id(c, eid, ts);
    } else if (strcmp(type, "marketing_spend") == 0) {
        count(m, ts, F_SPEND, micros_of(o));
    }
    if (!cid && eid && *eid) {
        /* remembered within the horizon of the partition's max_ts, pruned
         * when an id is added, at most 64 */
        if (an->n == an->cap) {
            an->cap = an->cap ? an->cap * 2 : 8;
            an->ids = realloc(an->ids, an->cap * sizeof(*an->ids));
            assert_non_null(an->ids);
        }
        an->ids[an->n++] = (struct applied_id){ .id = strdup(eid), .ts = ts };
        size_t keep = 0;
        for (size_t i = 0; i < an->n; i++) {
            if (an->ids[i].ts >= m->max_ts[part] - DEDUP_HORIZON_MS)
                an->ids[keep++] = an->ids[i];
            else
                free(an->ids[i].id);
        }
        an->n = keep;
        if (an->n > 64)
            fail_msg("partition %d: %zu customer-less ids within the dedup horizon", part, an->n);
    }
    json_decref(o);
}

/* Settles the counters that depend on a customer's whole history, by event
 * time like every counter but the stage moves: first signup and first
 * purchase days, active days, the latest active day, and the lead's first
 * lead_contacted at or after the first signup (whatever the order in which
 * the contact and the signup arrived), with its response time. */
static void model_finish(model *m)
{
    for (size_t n = 1; n <= m->ncust; n++) {
        mcust *c = &m->cust[n];
        if (!c->seen)
            continue;
        for (size_t k = 0; k < c->ndays; k++)
            count_day(m, c->days[k], F_ACTIVE, 1);
        if (c->first_signup != NO_TS) {
            count(m, c->first_signup, F_NEW_LEADS, 1);
            if (c->orders >= 1)
                count(m, c->first_signup, F_CONVERTED, 1);
            int64_t first_contact = NO_TS;
            for (size_t k = 0; k < c->ncontacts; k++)
                if (c->contacts[k] >= c->first_signup &&
                    (first_contact == NO_TS || c->contacts[k] < first_contact))
                    first_contact = c->contacts[k];
            if (first_contact != NO_TS) {
                count(m, first_contact, F_CONTACTED, 1);
                count(m, first_contact, F_RESPONSE_MS, first_contact - c->first_signup);
            }
        }
        if (c->orders >= 1) {
            count(m, c->first_purchase, F_NEW_CUSTOMERS, 1);
            count(m, c->first_purchase, F_REPEAT, -1);
            count(m, c->first_purchase, F_DELTA, 1);
            count(m, c->last_seen, F_LAST_ACTIVE, 1);
            if (c->stage != CHURNED) {
                count(m, c->last_seen, F_CUR_ACTIVE, 1);
                count(m, c->spell, F_CUR_SINCE, 1);
            }
        }
    }
}

/* Sum of the customers' clv_rate: revenue x 365 days / max(last_seen -
 * first_purchase, 30 days), truncated to a micro-unit, for customers with an
 * order who are not churned. */
static bool model_current(const mcust *c)
{
    return c->seen && c->orders >= 1 && c->stage != CHURNED;
}

static int64_t model_rate(const mcust *c)
{
    int64_t tenure = c->last_seen - c->first_purchase;
    if (tenure < MIN_TENURE_MS)
        tenure = MIN_TENURE_MS;
    return (int64_t)((i128)c->revenue * 365 * DAY_MS / tenure);
}

static int64_t model_value_rate(const model *m)
{
    int64_t sum = 0;
    for (size_t n = 1; n <= m->ncust; n++)
        if (model_current(&m->cust[n]))
            sum += model_rate(&m->cust[n]);
    return sum;
}

/* Sum and count of the current customers' clv_pred: clv_rate x lifetime (the
 * text of clv_lifetime_years) x margin (1), rounded to a micro-unit, as the
 * KPI job's pass writes them. */
static void model_pred(const model *m, const char *lifetime, int64_t *sum, int64_t *count)
{
    double years = strtod(lifetime, NULL);
    *sum = *count = 0;
    for (size_t n = 1; n <= m->ncust; n++)
        if (model_current(&m->cust[n])) {
            *sum += (int64_t)llround((double)model_rate(&m->cust[n]) * years);
            (*count)++;
        }
}

/* ---- number formats (README "KPIs") --------------------------------------- */

static void fmt_i64(int64_t v, char *buf, size_t size)
{
    snprintf(buf, size, "%lld", (long long)v);
}

/* v / 10^dec, trailing fraction zeros and a bare '.' dropped, never "-0". */
static void fmt_fixed(i128 v, int dec, char *buf, size_t size)
{
    i128 p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    i128 mag = v < 0 ? -v : v;
    long long ip = (long long)(mag / p);
    long long fp = (long long)(mag % p);
    int n = snprintf(buf, size, "%s%lld", v < 0 ? "-" : "", ip);
    if (fp == 0)
        return;
    char frac[40];
    snprintf(frac, sizeof(frac), "%0*lld", dec, fp);
    size_t fl = strlen(frac);
    while (fl > 0 && frac[fl - 1] == '0')
        frac[--fl] = '\0';
    snprintf(buf + n, size - (size_t)n, ".%s", frac);
}

/* Micro-units as a decimal: "49.9", "0", "-1.5". */
static void fmt_micros(int64_t v, char *buf, size_t size)
{
    fmt_fixed(v, 6, buf, size);
}

/* num / den (den > 0) rounded half away from zero to an integer. */
static i128 div_round(i128 num, i128 den)
{
    i128 mag = num < 0 ? -num : num;
    i128 q = (2 * mag + den) / (2 * den);
    return num < 0 ? -q : q;
}

/* num / den (den > 0) to `dec` decimals, rounded half away from zero. */
static void fmt_quot(i128 num, i128 den, int dec, char *buf, size_t size)
{
    i128 p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    fmt_fixed(div_round(num * p, den), dec, buf, size);
}

static void fmt_day(int64_t day, char *buf, size_t size)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d", &tm);
}

/* ---- expected hashes ------------------------------------------------------ */

typedef struct kv {
    char field[64];
    char value[64];
} kv;

typedef struct kvs {
    kv v[64];
    size_t n;
} kvs;

static void put(kvs *h, const char *field, const char *value)
{
    assert_true(h->n < sizeof(h->v) / sizeof(h->v[0]));
    snprintf(h->v[h->n].field, sizeof(h->v[0].field), "%s", field);
    snprintf(h->v[h->n].value, sizeof(h->v[0].value), "%s", value);
    h->n++;
}

static void put_i64(kvs *h, const char *field, int64_t v)
{
    char buf[32];
    fmt_i64(v, buf, sizeof(buf));
    put(h, field, buf);
}

static void put_micros(kvs *h, const char *field, int64_t v)
{
    char buf[48];
    fmt_micros(v, buf, sizeof(buf));
    put(h, field, buf);
}

/* Present only when den > 0. */
static void put_quot(kvs *h, const char *field, i128 num, i128 den, int dec)
{
    char buf[64];
    if (den <= 0)
        return;
    fmt_quot(num, den, dec, buf, sizeof(buf));
    put(h, field, buf);
}

static const char *get(const kvs *h, const char *field)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].field, field) == 0)
            return h->v[i].value;
    return NULL;
}

/* customers_eod of a day: the running sum of customers_delta up to it. */
static int64_t model_eod(const model *m, int64_t day)
{
    int64_t eod = 0;
    for (size_t i = 0; i < m->ndays && m->base_day + (int64_t)i <= day; i++)
        eod += m->counters[i][F_DELTA];
    return eod;
}

/* The expected day hash: every counter and the derived fields on a day that
 * received counters; only customers_eod on a day without any. */
static void expect_day(const model *m, int64_t day, kvs *h)
{
    h->n = 0;
    size_t i = (size_t)(day - m->base_day);
    if (m->touched[i]) {
        const int64_t *c = m->counters[i];
        for (int f = 0; f < NFIELDS; f++) {
            char name[64];
            field_name(f, name, sizeof(name));
            put_i64(h, name, c[f]);
        }
        put_micros(h, "revenue", c[F_REVENUE]);
        put_micros(h, "refunds", c[F_REFUNDS]);
        put_micros(h, "spend", c[F_SPEND]);
        put_micros(h, "session_seconds", c[F_SESSION_MS] * 1000);
    }
    put_i64(h, "customers_eod", model_eod(m, day));
}

/* Sum of counter f over the days from..to. */
static int64_t window_sum(const model *m, int64_t from, int64_t to, int f)
{
    int64_t s = 0;
    for (int64_t d = from; d <= to; d++)
        if (d >= m->base_day && d < m->base_day + (int64_t)m->ndays)
            s += m->counters[d - m->base_day][f];
    return s;
}

/* The expected kpi:<n>d hash for a window ending on end_day; `longest` is
 * the longest window (the basis of the clv fields). */
static void expect_kpi(const model *m, int n, int longest, int64_t end_day, int64_t value_rate,
                       kvs *h)
{
    char buf[64];
    int64_t start = end_day - n + 1;
#define W(f) window_sum(m, start, end_day, (f))
    int64_t S = model_eod(m, start - 1), E = model_eod(m, end_day);
    h->n = 0;
    fmt_day(start, buf, sizeof(buf));
    put(h, "window_start", buf);
    fmt_day(end_day, buf, sizeof(buf));
    put(h, "window_end", buf);
    put_micros(h, "revenue", W(F_REVENUE));
    put_i64(h, "orders", W(F_ORDERS));
    put_i64(h, "new_customers", W(F_NEW_CUSTOMERS));
    put_i64(h, "churned", W(F_CHURNED));
    if (W(F_ORDERS) > 0)
        put_micros(h, "aov", (int64_t)div_round(W(F_REVENUE), W(F_ORDERS)));
    if (W(F_NEW_CUSTOMERS) > 0)
        put_micros(h, "cpa", (int64_t)div_round(W(F_SPEND), W(F_NEW_CUSTOMERS)));
    put_quot(h, "nps", (i128)100 * (W(F_PROMOTERS) - W(F_DETRACTORS)),
             W(F_PROMOTERS) + W(F_PASSIVES) + W(F_DETRACTORS), 4);
    put_quot(h, "csat", (i128)100 * W(F_CSAT_SAT), W(F_CSAT_N), 4);
    put_quot(h, "csat_mean", W(F_CSAT_SUM), W(F_CSAT_N), 4);
    put_quot(h, "churn_rate", W(F_CHURNED), S, 6);
    put_quot(h, "retention_rate", (i128)W(F_CUR_ACTIVE) - W(F_CUR_SINCE), S, 6);
    put_quot(h, "lead_to_customer", W(F_CONVERTED), W(F_NEW_LEADS), 6);
    for (int r = 0; r + 1 < NORD; r++) {
        char name[64];
        snprintf(name, sizeof(name), "conv_%s_%s", STAGE[r], STAGE[r + 1]);
        put_quot(h, name, W(F_ADVANCED + r), W(F_ENTERED + r), 6);
    }
    put_quot(h, "lead_response_s", W(F_RESPONSE_MS), (i128)1000 * W(F_CONTACTED), 3);
    put_quot(h, "avg_engagement_s", W(F_SESSION_MS), (i128)1000 * W(F_SESSIONS), 3);
    put_quot(h, "upsell_rate", (i128)W(F_UPGRADES) + W(F_REPEAT), W(F_LAST_ACTIVE), 6);
    /* customers with >= 2 orders over customers (>= 1), to date */
    int64_t customers = 0, repeaters = 0;
    for (size_t k = 1; k <= m->ncust; k++) {
        customers += m->cust[k].orders >= 1;
        repeaters += m->cust[k].orders >= 2;
    }
    put_quot(h, "repeat_purchase_rate", repeaters, customers, 6);
#undef W
    /* lifetime = 1 / (churn_rate_L x 365 / L) = L x S_L / (365 x churned_L),
     * capped at 5 years (also when there is no churn or no customer at the
     * start of the longest window); clv_pred_avg = the mean of the current
     * customers' clv_pred, rounded to a micro-unit */
    int64_t sl = model_eod(m, end_day - longest), chl = window_sum(m, end_day - longest + 1, end_day, F_CHURNED);
    i128 num = CLV_MAX_YEARS, den = 1;
    if (sl > 0 && chl > 0 && (i128)longest * sl < (i128)CLV_MAX_YEARS * 365 * chl) {
        num = (i128)longest * sl;
        den = (i128)365 * chl;
    }
    put_quot(h, "clv_lifetime_years", num, den, 6);
    (void)value_rate;
    int64_t psum, pcount;
    model_pred(m, get(h, "clv_lifetime_years"), &psum, &pcount);
    assert_int_equal(pcount, E); /* the current customers are those counted in E */
    if (pcount > 0)
        put_micros(h, "clv_pred_avg", (int64_t)div_round(psum, pcount));
}

/* ---- comparing with Redis ------------------------------------------------- */

static int mismatches;

__attribute__((format(printf, 1, 2)))
static void mismatch(const char *fmt, ...)
{
    if (mismatches++ < 60) {
        va_list ap;
        va_start(ap, fmt);
        printf("# ");
        vprintf(fmt, ap);
        printf("\n");
        fflush(stdout);
        va_end(ap);
    }
}

/* Compares a whole hash: every expected field with its value, no other field. */
static void compare_hash(redisContext *rc, const char *key, const kvs *want)
{
    redisReply *r = redisCommand(rc, "HGETALL %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < want->n; i++) {
        const char *got = NULL;
        for (size_t k = 0; k + 1 < r->elements && !got; k += 2)
            if (strcmp(r->element[k]->str, want->v[i].field) == 0)
                got = r->element[k + 1]->str;
        if (!got)
            mismatch("%s %s: expected %s, got (absent)", key, want->v[i].field, want->v[i].value);
        else if (strcmp(got, want->v[i].value) != 0)
            mismatch("%s %s: expected %s, got %s", key, want->v[i].field, want->v[i].value, got);
    }
    for (size_t k = 0; k + 1 < r->elements; k += 2)
        if (!get(want, r->element[k]->str))
            mismatch("%s %s: expected (absent), got %s", key, r->element[k]->str,
                     r->element[k + 1]->str);
    freeReplyObject(r);
}

static size_t count_keys(redisContext *rc, const char *pattern)
{
    redisReply *r = redisCommand(rc, "KEYS %s", pattern);
    assert_non_null(r);
    size_t n = r->elements;
    freeReplyObject(r);
    return n;
}

static void compare_count(redisContext *rc, const char *key, const char *field, int64_t want)
{
    redisReply *r = redisCommand(rc, "HGET %s %s", key, field);
    assert_non_null(r);
    char w[32];
    fmt_i64(want, w, sizeof(w));
    const char *got = r->type == REDIS_REPLY_STRING ? r->str : "(absent)";
    if (strcmp(got, w) != 0 && !(want == 0 && r->type == REDIS_REPLY_NIL))
        mismatch("%s %s: expected %s, got %s", key, field, w, got);
    freeReplyObject(r);
}

/* The day of the greatest applied event time over all partitions. */
static int64_t model_end_day(const model *m)
{
    int64_t best = NO_TS;
    for (int p = 0; p < PARTITIONS; p++)
        if (m->max_ts[p] != NO_TS && (best == NO_TS || m->max_ts[p] > best))
            best = m->max_ts[p];
    return day_of(best);
}

/* Compares every day hash, transition hash, the stage counts, every
 * customer's stage and the KPI hashes with the model. */
static void compare_all(redisContext *rc, const model *m, int64_t value_rate)
{
    char key[128], num[32];
    kvs *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    int64_t first = NO_TS, last = NO_TS;
    for (size_t i = 0; i < m->ndays; i++)
        if (m->touched[i]) {
            if (first == NO_TS)
                first = m->base_day + (int64_t)i;
            last = m->base_day + (int64_t)i;
        }
    assert_true(first != NO_TS);
    int64_t end_day = model_end_day(m);
    assert_true(last <= end_day);

    /* day hashes: every day from the first to window_end, and no other */
    for (int64_t d = first; d <= end_day; d++) {
        fmt_day(d, num, sizeof(num));
        snprintf(key, sizeof(key), "clm:day:%s", num);
        expect_day(m, d, h);
        compare_hash(rc, key, h);
    }
    if (count_keys(rc, "clm:day:*") != (size_t)(end_day - first + 1))
        mismatch("clm:day:*: expected %lld keys, got %zu", (long long)(end_day - first + 1),
                 count_keys(rc, "clm:day:*"));

    /* transitions per day */
    size_t ntrans_days = 0;
    for (int64_t d = first; d <= last; d++) {
        h->n = 0;
        for (int from = ST_NONE; from < NSTAGES; from++)
            for (int to = 0; to < NSTAGES; to++) {
                int64_t n = *trans_at(m, d, from, to);
                if (!n)
                    continue;
                char f[64];
                snprintf(f, sizeof(f), "%s>%s", from == ST_NONE ? "none" : STAGE[from], STAGE[to]);
                put_i64(h, f, n);
            }
        if (!h->n)
            continue;
        ntrans_days++;
        fmt_day(d, num, sizeof(num));
        snprintf(key, sizeof(key), "clm:transitions:%s", num);
        compare_hash(rc, key, h);
    }
    if (count_keys(rc, "clm:transitions:*") != ntrans_days)
        mismatch("clm:transitions:*: expected %zu keys, got %zu", ntrans_days,
                 count_keys(rc, "clm:transitions:*"));

    h->n = 0;
    for (int s = 0; s < NSTAGES; s++)
        put_i64(h, STAGE[s], m->stage_counts[s]);
    compare_hash(rc, "clm:stage_counts", h);

    /* each customer's stage */
    for (size_t n = 1; n <= m->ncust; n++) {
        const mcust *c = &m->cust[n];
        if (!c->seen)
            continue;
        snprintf(key, sizeof(key), "clm:customer:c-%zu", n);
        redisReply *r = redisCommand(rc, "HMGET %s stage stage_since peak_stage", key);
        assert_non_null(r);
        assert_int_equal(r->elements, 3);
        char since[32] = "";
        if (c->stage != ST_NONE)
            fmt_i64(c->stage_since, since, sizeof(since));
        const char *want[3] = { c->stage == ST_NONE ? "" : STAGE[c->stage], since,
                                c->peak == ST_NONE ? "" : STAGE[c->peak] };
        const char *names[3] = { "stage", "stage_since", "peak_stage" };
        for (int k = 0; k < 3; k++) {
            const char *got = r->element[k]->type == REDIS_REPLY_STRING ? r->element[k]->str : "(absent)";
            if (strcmp(got, want[k]) != 0)
                mismatch("%s %s: expected %s, got %s", key, names[k], want[k], got);
        }
        freeReplyObject(r);
    }

    /* rolling KPIs */
    static const int windows[] = { 7, 30, 90 };
    for (size_t w = 0; w < 3; w++) {
        snprintf(key, sizeof(key), "clm:kpi:%dd", windows[w]);
        expect_kpi(m, windows[w], 90, end_day, value_rate, h);
        compare_hash(rc, key, h);
    }
    free(h);
}

/* ---- model_rules: the model on a hand-made stream ------------------------- */

/* Day number of a UTC date (days since 1970-01-01). */
static int64_t day_number(int y, int mo, int d)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d };
    return (int64_t)timegm(&tm) / 86400;
}

static int64_t at(const model *m, int y, int mo, int d, int f)
{
    return m->counters[day_index(m, day_number(y, mo, d))][f];
}

/* A hand-made stream of one partition. */
static const char *const RULES_STREAM[] = {
    "{\"event_id\":\"e-1\",\"customer_id\":\"c-1\",\"type\":\"visit\",\"ts\":\"2025-01-01T10:00:00.000Z\"}",
    "{\"event_id\":\"e-2\",\"customer_id\":\"c-1\",\"type\":\"signup\",\"ts\":\"2025-01-01T10:05:00.000Z\"}",
    "{\"event_id\":\"e-3\",\"customer_id\":\"c-2\",\"type\":\"purchase\",\"ts\":\"2025-01-01T00:00:00.000Z\",\"amount\":20}",
    "{\"event_id\":\"e-4\",\"customer_id\":\"c-1\",\"type\":\"lead_contacted\",\"ts\":\"2025-01-01T12:05:00.000Z\"}",
    "{\"event_id\":\"e-5\",\"customer_id\":\"c-1\",\"type\":\"purchase\",\"ts\":\"2025-01-02T09:00:00.000Z\",\"amount\":49.9}",
    "{\"event_id\":\"e-6\",\"customer_id\":\"c-1\",\"type\":\"purchase\",\"ts\":\"2025-01-03T09:00:00.000Z\",\"amount\":10.1}",
    "{\"event_id\":\"e-7\",\"customer_id\":\"c-1\",\"type\":\"cancel\",\"ts\":\"2025-01-04T09:00:00.000Z\"}",
    "{\"event_id\":\"e-8\",\"customer_id\":\"c-1\",\"type\":\"visit\",\"ts\":\"2025-01-05T09:00:00.000Z\"}",
    "{\"event_id\":\"e-9\",\"customer_id\":\"c-1\",\"type\":\"purchase\",\"ts\":\"2025-01-06T09:00:00.000Z\",\"amount\":5}",
    "{\"event_id\":\"e-9\",\"customer_id\":\"c-1\",\"type\":\"purchase\",\"ts\":\"2025-01-06T09:00:00.000Z\",\"amount\":5}",
    "{\"customer_id\":\"c-1\",\"type\":",
    "{\"event_id\":\"e-10\",\"type\":\"marketing_spend\",\"ts\":\"2025-04-09T00:00:00.000Z\",\"amount\":100}",
    "{\"event_id\":\"e-11\",\"customer_id\":\"c-1\",\"type\":\"visit\",\"ts\":\"2025-03-01T00:00:00.000Z\"}",
};

static void model_rules(void **state)
{
    (void)state;
    /* 2025-01-01 is day 20089 (55 years x 365 + 14 leap days = 20089) */
    assert_int_equal(day_number(2025, 1, 1), 20089);
    model *m = model_new(20089 - 10, 200, 2);
    /* Every event raises max_ts here (events.max_jump_s 0), so the lone
     * spend dated 04-09 moves the watermark; model_rules_jump has the
     * default. */
    m->max_jump_ms = 0;
    for (size_t i = 0; i < sizeof(RULES_STREAM) / sizeof(RULES_STREAM[0]); i++)
        model_msg(m, 0, RULES_STREAM[i], strlen(RULES_STREAM[i]), i == 10);
    model_finish(m);

    /* 13 messages: the second e-9 is a duplicate; the truncated one is
     * rejected; the 2025-03-01 visit is late: the spend raised max_ts to
     * 04-09, watermark 04-09 - 7 days = 04-02 > 03-01. Applied: 13 - 3 = 10. */
    assert_int_equal(m->consumed, 13);
    assert_int_equal(m->duplicates, 1);
    assert_int_equal(m->late, 1);
    assert_int_equal(m->rejected, 2);
    assert_int_equal(m->applied, 10);
    /* c-2 (orders 1, last_seen 01-01) churns at 01-01 + 90 days = 04-01
     * (day 90 of the year) once the watermark reaches 04-02; c-1 (last_seen
     * 01-06) would churn at 04-06, past the watermark */
    assert_int_equal(m->inactivity_churns, 1);
    assert_int_equal(m->cust[2].stage, CHURNED);
    assert_int_equal(m->cust[2].stage_since, (day_number(2025, 4, 1)) * DAY_MS);
    /* c-1: none > awareness > acquisition > conversion > retention (orders 2)
     * > churned (cancel) > reactivated (visit) > retention (orders 3, rank
     * of retention >= peak retention) */
    assert_int_equal(m->cust[1].stage, RETENTION);
    assert_int_equal(m->cust[1].peak, RETENTION);
    assert_int_equal(m->cust[1].stage_since, day_number(2025, 1, 6) * DAY_MS + 9 * 3600000LL);
    assert_int_equal(m->stage_counts[RETENTION], 1);
    assert_int_equal(m->stage_counts[CHURNED], 1);
    assert_int_equal(m->stage_counts[AWARENESS] + m->stage_counts[CONVERSION], 0);

    /* 01-01: c-1 visit+signup+contact, c-2 purchase 20 */
    assert_int_equal(at(m, 2025, 1, 1, F_ACTIVE), 2);
    assert_int_equal(at(m, 2025, 1, 1, F_NEW_LEADS), 1);
    assert_int_equal(at(m, 2025, 1, 1, F_CONVERTED), 1);    /* c-1 bought later */
    assert_int_equal(at(m, 2025, 1, 1, F_CONTACTED), 1);
    assert_int_equal(at(m, 2025, 1, 1, F_RESPONSE_MS), 7200000); /* 12:05 - 10:05 */
    assert_int_equal(at(m, 2025, 1, 1, F_NEW_CUSTOMERS), 1);     /* c-2 */
    assert_int_equal(at(m, 2025, 1, 1, F_REVENUE), 20000000);
    assert_int_equal(at(m, 2025, 1, 1, F_DELTA), 1);
    assert_int_equal(at(m, 2025, 1, 1, F_LAST_ACTIVE), 1);      /* c-2's latest day */
    assert_int_equal(at(m, 2025, 1, 1, F_ENTERED + CONVERSION), 1); /* c-2 */
    /* c-1 entered acquisition on 01-01 and conversion later: counted on 01-01 */
    assert_int_equal(at(m, 2025, 1, 1, F_ADVANCED + AWARENESS), 1);
    assert_int_equal(at(m, 2025, 1, 1, F_ADVANCED + ACQUISITION), 1);
    /* 01-02: c-1's first purchase; 01-03: a repeat order, retention skips
     * onboarding and engagement, so conversion_to_onboarding stays 0 */
    assert_int_equal(at(m, 2025, 1, 2, F_NEW_CUSTOMERS), 1);
    assert_int_equal(at(m, 2025, 1, 2, F_REPEAT), 0);
    assert_int_equal(at(m, 2025, 1, 2, F_ADVANCED + CONVERSION), 0);
    assert_int_equal(at(m, 2025, 1, 3, F_REPEAT), 1);
    assert_int_equal(at(m, 2025, 1, 3, F_ENTERED + RETENTION), 1);
    /* cancel on 01-04, back on 01-05, the 01-06 purchase re-enters
     * retention (not a first entry) */
    assert_int_equal(at(m, 2025, 1, 4, F_CHURNED), 1);
    assert_int_equal(at(m, 2025, 1, 4, F_DELTA), -1);
    assert_int_equal(at(m, 2025, 1, 5, F_REACTIVATED), 1);
    assert_int_equal(at(m, 2025, 1, 5, F_DELTA), 1);
    assert_int_equal(at(m, 2025, 1, 6, F_REPEAT), 1);
    assert_int_equal(at(m, 2025, 1, 6, F_ENTERED + RETENTION), 0);
    assert_int_equal(at(m, 2025, 1, 6, F_LAST_ACTIVE), 1);
    /* c-1, the one current customer at the end: its spell began with the
     * return on 01-05, its latest activity is 01-06 (c-2 churned: neither) */
    assert_int_equal(at(m, 2025, 1, 5, F_CUR_SINCE), 1);
    assert_int_equal(at(m, 2025, 1, 6, F_CUR_ACTIVE), 1);
    assert_int_equal(at(m, 2025, 1, 2, F_CUR_SINCE), 0); /* its first spell ended */
    assert_int_equal(at(m, 2025, 1, 1, F_CUR_ACTIVE), 0);
    assert_int_equal(at(m, 2025, 4, 1, F_CHURNED), 1);
    assert_int_equal(at(m, 2025, 4, 1, F_DELTA), -1);
    assert_int_equal(at(m, 2025, 4, 9, F_SPEND), 100000000);
    assert_int_equal(*trans_at(m, day_number(2025, 4, 1), CONVERSION, CHURNED), 1);
    assert_int_equal(*trans_at(m, day_number(2025, 1, 5), CHURNED, REACTIVATED), 1);
    /* customers_eod: 1 (01-01), 2 (01-02), 1 (01-04), 2 (01-05), 1 (04-01) */
    assert_int_equal(model_eod(m, day_number(2025, 1, 3)), 2);
    assert_int_equal(model_eod(m, day_number(2025, 1, 4)), 1);
    assert_int_equal(model_eod(m, day_number(2025, 3, 31)), 2);
    assert_int_equal(model_eod(m, day_number(2025, 4, 9)), 1);

    /* value rate: c-1 only (c-2 churned): revenue 65 = 65,000,000 micros,
     * tenure 01-02 09:00 .. 01-06 09:00 = 4 days < 30, so
     * 65,000,000 x 365 / 30 = 790,833,333.3 -> 790,833,333 */
    int64_t vr = model_value_rate(m);
    assert_int_equal(vr, 790833333);

    /* 90-day window ending 04-09 (day 99 of 2025) starts on day 10 = 01-10:
     * S = eod(01-09) = 2, E = eod(04-09) = 1, churned 1 (04-01), no new
     * customers or reactivations; churn_rate 1/2; retention 0/2 = 0: c-2
     * churned, and c-1, still current, was not active in the window (the
     * old (E - new - reactivated) / S said 1/2);
     * lifetime 90 x 2 / (365 x 1) = 0.4931506.. -> 0.493151; clv_pred_avg
     * is the mean of the stored clv_pred, c-1's only: 790,833,333 x 0.493151
     * = 390,000,249.05 micros -> 390.000249 (the unrounded lifetime would
     * give 389,999,999.84 -> 390, a value no customer holds) */
    kvs h = { .n = 0 };
    int64_t end = model_end_day(m);
    assert_int_equal(end, day_number(2025, 4, 9));
    expect_kpi(m, 90, 90, end, vr, &h);
    assert_string_equal(get(&h, "window_start"), "2025-01-10");
    assert_string_equal(get(&h, "window_end"), "2025-04-09");
    assert_string_equal(get(&h, "revenue"), "0");
    assert_string_equal(get(&h, "orders"), "0");
    assert_string_equal(get(&h, "churned"), "1");
    assert_string_equal(get(&h, "churn_rate"), "0.5");
    assert_string_equal(get(&h, "retention_rate"), "0");
    assert_string_equal(get(&h, "clv_lifetime_years"), "0.493151");
    assert_string_equal(get(&h, "clv_pred_avg"), "390.000249");
    /* c-1 ordered 3 times, c-2 once: 1 of 2 customers */
    assert_string_equal(get(&h, "repeat_purchase_rate"), "0.5");
    assert_null(get(&h, "aov"));             /* no orders in the window */
    assert_null(get(&h, "cpa"));             /* no new customers */
    assert_null(get(&h, "lead_to_customer")); /* no new leads */
    /* 7-day window 04-03 .. 04-09: S = eod(04-02) = 1, no churn in it:
     * churn_rate 0/1 = "0", retention 0/1 (c-1 was quiet), lifetime still
     * from the 90-day window */
    expect_kpi(m, 7, 90, end, vr, &h);
    assert_string_equal(get(&h, "window_start"), "2025-04-03");
    assert_string_equal(get(&h, "churn_rate"), "0");
    assert_string_equal(get(&h, "retention_rate"), "0");
    assert_string_equal(get(&h, "clv_lifetime_years"), "0.493151");

    /* formats: 2/3 to 6 decimals 0.6666666.. -> 0.666667; -1/8 to 6
     * decimals -0.125; 5/1000 to 2 decimals 0.005 -> 0.01 (half away from
     * zero); -5/1000 -> -0.01; 1/3000 to 3 decimals 0.000333 -> "0" */
    char buf[64];
    fmt_quot(2, 3, 6, buf, sizeof(buf));
    assert_string_equal(buf, "0.666667");
    fmt_quot(-1, 8, 6, buf, sizeof(buf));
    assert_string_equal(buf, "-0.125");
    fmt_quot(5, 1000, 2, buf, sizeof(buf));
    assert_string_equal(buf, "0.01");
    fmt_quot(-5, 1000, 2, buf, sizeof(buf));
    assert_string_equal(buf, "-0.01");
    fmt_quot(-1, 3000, 3, buf, sizeof(buf));
    assert_string_equal(buf, "0");
    fmt_micros(49900000, buf, sizeof(buf));
    assert_string_equal(buf, "49.9");
    fmt_micros(1, buf, sizeof(buf));
    assert_string_equal(buf, "0.000001");
    model_free(m);
}

/* The same stream with the default events.max_jump_s (1 day) and
 * events.jump_quorum (2): the spend dated 04-09 is more than a day after
 * max_ts (01-06 09:00), one source ahead, and waits; c-1's 03-01 visit is
 * the second, so max_ts moves to the earlier of the two, 03-01: the visit
 * is applied, not late, and c-2 (due 04-01) does not churn. */
static void model_rules_jump(void **state)
{
    (void)state;
    model *m = model_new(20089 - 10, 200, 2);
    for (size_t i = 0; i < sizeof(RULES_STREAM) / sizeof(RULES_STREAM[0]); i++)
        model_msg(m, 0, RULES_STREAM[i], strlen(RULES_STREAM[i]), i == 10);
    model_finish(m);
    assert_int_equal(m->late, 0);
    assert_int_equal(m->applied, 11);
    assert_int_equal(m->max_ts[0], day_number(2025, 3, 1) * DAY_MS);
    assert_int_equal(m->nahead[0], 0);
    assert_int_equal(m->inactivity_churns, 0);
    assert_int_equal(m->cust[2].stage, CONVERSION);
    assert_int_equal(model_end_day(m), day_number(2025, 3, 1));
    model_free(m);
}

/* ---- kpi_stream: the generated stream through clmd ------------------------ */

typedef struct progress {
    redisContext *c;
    long long want;
} progress;

static bool reached(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(p->c, "clm:stats", "consumed") >= p->want;
}

/* Produces the stream of `o`, runs clmd over it until every message is
 * consumed, stops it with SIGTERM, and compares Redis with the model. The
 * stream must exercise at least min_churns inactivity churns and min_late
 * late events. */
static void run_stream(const clm_gen_opts *opts, int64_t min_churns, int64_t min_late)
{
    clm_gen_opts o = *opts;
    char tmp[64] = "/tmp/clm-kpi-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&o, &g, errbuf, sizeof(errbuf)));
    harness_kv *msgs = calloc((size_t)o.events, sizeof(*msgs));
    bool *malformed = calloc((size_t)o.events, sizeof(*malformed));
    assert_true(msgs && malformed);
    size_t total = 0;
    int64_t gen_dups = 0, gen_late = 0;
    clm_gen_msg gm;
    while (clm_gen_next(g, &gm) == 1) {
        char *b = malloc(gm.key_len + gm.value_len + 1);
        assert_non_null(b);
        memcpy(b, gm.key, gm.key_len);
        memcpy(b + gm.key_len, gm.value, gm.value_len);
        msgs[total] = (harness_kv){ .key = b, .key_len = gm.key_len, .value = b + gm.key_len,
                                    .value_len = gm.value_len };
        malformed[total] = gm.malformed;
        gen_dups += gm.duplicate;
        gen_late += gm.late;
        total++;
    }
    clm_gen_free(g);
    assert_int_equal(total, o.events);

    harness_kafka *kafka = NULL;
    harness_redis *redis = NULL;
    CHECK(harness_kafka_start(1, &kafka, errbuf, sizeof(errbuf)));
    const char *brokers = harness_kafka_bootstraps(kafka);
    CHECK(harness_kafka_create_topic(kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(brokers, TOPIC, msgs, total, false, 60000, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));

    char cfg[128], log[128];
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", tmp);
    snprintf(log, sizeof(log), "%s/clmd.log", tmp);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"kpi\": {\"refresh_ms\": 100},\n"
            " \"events\": {\"dedup_max_ids\": 64}}\n",
            brokers, harness_redis_port(redis));
    fclose(f);

    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    redisContext *rc = NULL;
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));
    progress pr = { .c = rc, .want = (long long)total };
    if (harness_wait_until(reached, &pr, 60000) < 0)
        fail_msg("clmd consumed %lld of %zu messages within 60 s (log: %s)", harness_redis_hget_int(rc, "clm:stats", "consumed"),
                 total, log);
    /* on SIGTERM clmd flushes, then the KPI job recomputes once more */
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);

    /* each message's partition and offset: the model reads every partition
     * in offset order, as clmd does; the generator's flags come along by
     * matching the partition sequences against the produced order */
    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(brokers, TOPIC, 30000, &recs, errbuf, sizeof(errbuf)));
    assert_int_equal(recs->n, total);
    size_t cur[PARTITIONS], end[PARTITIONS];
    for (int q = 0; q < PARTITIONS; q++)
        cur[q] = end[q] = 0;
    for (size_t i = 0; i < recs->n; i++) {
        int q = recs->v[i].partition;
        assert_true(q >= 0 && q < PARTITIONS);
        if (end[q] == 0)
            cur[q] = i;
        end[q] = i + 1;
    }
    bool *rec_malformed = calloc(recs->n, sizeof(*rec_malformed));
    assert_non_null(rec_malformed);
    for (size_t i = 0; i < total; i++) {
        int q;
        for (q = 0; q < PARTITIONS; q++) {
            const harness_record *r = cur[q] < end[q] ? &recs->v[cur[q]] : NULL;
            if (r && r->key_len == msgs[i].key_len && r->value_len == msgs[i].value_len &&
                memcmp(r->key, msgs[i].key, r->key_len) == 0 &&
                memcmp(r->value, msgs[i].value, r->value_len) == 0)
                break;
        }
        if (q == PARTITIONS)
            fail_msg("message %zu is not next in any partition", i);
        rec_malformed[cur[q]++] = malformed[i];
    }

    model *m = model_new(day_of(o.start_ms) - 10, (size_t)o.days * 2 + 40, (size_t)o.customers);
    for (size_t i = 0; i < recs->n; i++)
        model_msg(m, recs->v[i].partition, recs->v[i].value, recs->v[i].value_len, rec_malformed[i]);
    model_finish(m);
    int64_t value_rate = model_value_rate(m);
    printf("# %zu messages: %lld applied, %lld duplicates (%lld sent), %lld late (%lld held back), "
           "%lld rejected, %lld inactivity churns\n",
           total, (long long)m->applied, (long long)m->duplicates, (long long)gen_dups,
           (long long)m->late, (long long)gen_late, (long long)m->rejected,
           (long long)m->inactivity_churns);
    /* the stream exercises what is compared */
    assert_true(m->inactivity_churns >= min_churns);
    assert_true(m->late >= min_late);
    assert_true(m->duplicates >= 20 && m->rejected - m->late >= 100);
    assert_true(m->stage_counts[CHURNED] > 0 && m->stage_counts[REACTIVATED] + m->stage_counts[RETENTION] > 0);

    mismatches = 0;
    compare_count(rc, "clm:stats", "consumed", m->consumed);
    compare_count(rc, "clm:stats", "applied", m->applied);
    compare_count(rc, "clm:stats", "duplicates", m->duplicates);
    compare_count(rc, "clm:stats", "rejected", m->rejected);
    compare_count(rc, "clm:rejected", "late_dropped", m->late);
    compare_all(rc, m, value_rate);
    if (mismatches)
        fail_msg("%d values differ from the model (first 60 above; clmd log: %s)", mismatches, log);

    redisFree(rc);
    model_free(m);
    free(rec_malformed);
    harness_records_free(recs);
    harness_redis_free(redis);
    harness_kafka_free(kafka);
    for (size_t i = 0; i < total; i++)
        free((void *)msgs[i].key);
    free(msgs);
    free(malformed);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
}

/* 800 people over 300 days with ~25 messages each: quiet buyers go silent
 * for 90 days often enough that inactivity churn happens; 1% of the events
 * arrive up to 1 h late (never past the 7-day allowed lateness). */
static void kpi_stream(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 11;
    o.customers = 800;
    o.events = 20000;
    o.days = 300;
    o.start_ms = 1735689600000LL; /* 2025-01-01T00:00:00Z */
    o.malformed_rate = 0.01;
    o.dup_rate = 0.005;
    run_stream(&o, 5, 0);
}

/* 800 other people with 3% of the events held back up to 10 days: events
 * more than 7 days behind their partition are dropped as late, the rest
 * arrive out of order (late first signups and purchases, contacts before
 * signups, stage moves in arrival order), and a re-sent held-back event lies
 * outside the 1-day duplicate horizon, so it is applied again. */
static void kpi_stream_late(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 12;
    o.customers = 800;
    o.events = 20000;
    o.days = 300;
    o.start_ms = 1735689600000LL;
    o.malformed_rate = 0.01;
    o.dup_rate = 0.005;
    o.ooo_rate = 0.03;
    o.ooo_max_ms = 10 * DAY_MS;
    run_stream(&o, 5, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_rules),
        cmocka_unit_test(model_rules_jump),
        cmocka_unit_test(kpi_stream),
        cmocka_unit_test(kpi_stream_late),
    };
    return cmocka_run_group_tests_name("kpi-e2e", tests, NULL, NULL);
}
