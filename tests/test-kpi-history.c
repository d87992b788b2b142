/* tests/test-kpi-history.c - <prefix>kpi:history and <prefix>kpi:cohorts
 * end to end, and the Grafana dashboard that reads the history.
 *
 * A hand-made stream goes through the Kafka mock cluster (in this process)
 * and clmd (a child process) into a real redis-server:
 *   history_and_cohorts  every history entry is checked field by field
 *                  against values recomputed here from the day counters
 *                  clmd keeps in Redis (day:<D>, core/kpi.h formulas
 *                  re-implemented without core/ code), a few against
 *                  values worked out by hand, the last day against
 *                  kpi:1d; the cohort matrix against cells worked out by
 *                  hand and against one recomputed here from the customer
 *                  views (first_purchase, last_seen). Then clmd runs again with kpi.history_days 3 and
 *                  kpi.cohort_weeks 2 and both keys shrink to match.
 *                  Finally every panel of grafana/clmd-dashboard.json must
 *                  read only <prefix>kpi:history with XRANGE and only
 *                  fields some real entry has.
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/harness.h"

#ifndef CLM_SOURCE_DIR
#error "CLM_SOURCE_DIR must name the source tree (set in tests/meson.build)"
#endif

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define DAY_MS 86400000LL
#define MON 20094 /* 2025-01-06, a Monday: day number (days since 1970-01-01) */

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if ((expr) < 0)                                                                            \
            fail_msg("%s: %s", #expr, errbuf);                                                     \
    } while (0)

__extension__ typedef __int128 i128;

static char errbuf[512];

/* key, JSON */
static const char *const STREAM[][2] = {
    { "c-a", "{\"event_id\":\"h1\",\"customer_id\":\"c-a\",\"type\":\"purchase\",\"ts\":\"2025-01-06T10:00:00Z\",\"amount\":10}" },
    { "c-e", "{\"event_id\":\"h1e\",\"customer_id\":\"c-e\",\"type\":\"purchase\",\"ts\":\"2025-01-06T11:00:00Z\",\"amount\":10}" },
    { "c-f", "{\"event_id\":\"h1f\",\"customer_id\":\"c-f\",\"type\":\"purchase\",\"ts\":\"2025-01-07T10:00:00Z\",\"amount\":30}" },
    { "c-b", "{\"event_id\":\"h2\",\"customer_id\":\"c-b\",\"type\":\"signup\",\"ts\":\"2025-01-07T08:00:00Z\"}" },
    { "c-b", "{\"event_id\":\"h3\",\"customer_id\":\"c-b\",\"type\":\"lead_contacted\",\"ts\":\"2025-01-07T09:00:00Z\"}" },
    { "c-b", "{\"event_id\":\"h4\",\"customer_id\":\"c-b\",\"type\":\"purchase\",\"ts\":\"2025-01-07T10:00:00Z\",\"amount\":30}" },
    { "m", "{\"event_id\":\"h5\",\"type\":\"marketing_spend\",\"ts\":\"2025-01-07T12:00:00Z\",\"amount\":60}" },
    { "c-a", "{\"event_id\":\"h6\",\"customer_id\":\"c-a\",\"type\":\"nps_response\",\"ts\":\"2025-01-08T10:00:00Z\",\"score\":9}" },
    { "c-b", "{\"event_id\":\"h7\",\"customer_id\":\"c-b\",\"type\":\"nps_response\",\"ts\":\"2025-01-08T11:00:00Z\",\"score\":3}" },
    { "c-c", "{\"event_id\":\"h8\",\"customer_id\":\"c-c\",\"type\":\"purchase\",\"ts\":\"2025-01-14T10:00:00Z\",\"amount\":20}" },
    { "c-c", "{\"event_id\":\"h9\",\"customer_id\":\"c-c\",\"type\":\"csat_response\",\"ts\":\"2025-01-14T11:00:00Z\",\"score\":5}" },
    { "c-a", "{\"event_id\":\"h10\",\"customer_id\":\"c-a\",\"type\":\"csat_response\",\"ts\":\"2025-01-14T12:00:00Z\",\"score\":2}" },
    { "c-a", "{\"event_id\":\"h11\",\"customer_id\":\"c-a\",\"type\":\"session\",\"ts\":\"2025-01-15T10:00:00Z\",\"duration_s\":90}" },
    { "c-e", "{\"event_id\":\"h11e\",\"customer_id\":\"c-e\",\"type\":\"visit\",\"ts\":\"2025-01-20T00:00:00Z\"}" },
    { "c-b", "{\"event_id\":\"h12\",\"customer_id\":\"c-b\",\"type\":\"purchase\",\"ts\":\"2025-01-21T09:00:00Z\",\"amount\":50}" },
    { "c-d", "{\"event_id\":\"h13\",\"customer_id\":\"c-d\",\"type\":\"signup\",\"ts\":\"2025-01-22T08:00:00Z\"}" },
    { "c-c", "{\"event_id\":\"h14\",\"customer_id\":\"c-c\",\"type\":\"visit\",\"ts\":\"2025-01-22T12:00:00Z\"}" },
};
#define NSTREAM (sizeof(STREAM) / sizeof(STREAM[0]))

/* ---- formatting, as core/kpi.h specifies it ----------------------------- */

static void fmt_fixed(i128 v, int dec, char *buf, size_t size)
{
    i128 p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    i128 mag = v < 0 ? -v : v;
    long long ip = (long long)(mag / p), fp = (long long)(mag % p);
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

static i128 div_round(i128 num, i128 den)
{
    i128 mag = num < 0 ? -num : num;
    i128 q = (2 * mag + den) / (2 * den);
    return num < 0 ? -q : q;
}

static void fmt_quot(i128 num, i128 den, int dec, char *buf, size_t size)
{
    i128 p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    fmt_fixed(div_round(num * p, den), dec, buf, size);
}

static void fmt_day(int64_t day, char *buf, size_t size)
{
    /* civil from days (Howard Hinnant's algorithm) */
    int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(buf, size, "%04d-%02d-%02d", (int)(y + (m <= 2)) % 10000, (int)m % 100, (int)d % 100);
}

/* ---- reading ------------------------------------------------------------ */

typedef struct entry {
    char id[32];
    size_t n;
    char **f, **v;
} entry;

static void entries_free(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < e[i].n; k++) {
            free(e[i].f[k]);
            free(e[i].v[k]);
        }
        free(e[i].f);
        free(e[i].v);
    }
    free(e);
}

static size_t read_history(redisContext *rc, entry **out)
{
    redisReply *r = redisCommand(rc, "XRANGE clm:kpi:history - +");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    entry *e = calloc(r->elements ? r->elements : 1, sizeof(*e));
    assert_non_null(e);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *x = r->element[i];
        snprintf(e[i].id, sizeof(e[i].id), "%s", x->element[0]->str);
        redisReply *kv = x->element[1];
        e[i].n = kv->elements / 2;
        e[i].f = calloc(e[i].n + 1, sizeof(char *));
        e[i].v = calloc(e[i].n + 1, sizeof(char *));
        assert_true(e[i].f && e[i].v);
        for (size_t k = 0; k < e[i].n; k++) {
            e[i].f[k] = strdup(kv->element[2 * k]->str);
            e[i].v[k] = strdup(kv->element[2 * k + 1]->str);
        }
    }
    size_t n = r->elements;
    freeReplyObject(r);
    *out = e;
    return n;
}

static const char *get(const entry *e, const char *field)
{
    for (size_t k = 0; k < e->n; k++)
        if (strcmp(e->f[k], field) == 0)
            return e->v[k];
    return NULL;
}

/* A day hash's integer field, 0 when absent. */
static long long day_int(redisContext *rc, const char *day, const char *field)
{
    redisReply *r = redisCommand(rc, "HGET clm:day:%s %s", day, field);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return v;
}

static const char *str_of(json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

static int mismatches;

static void expect(const char *day, const entry *e, const char *field, const char *want)
{
    const char *got = get(e, field);
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0)) {
        if (mismatches++ < 40)
            printf("# %s %s: want %s, got %s\n", day, field, want ? want : "(absent)",
                   got ? got : "(absent)");
    }
}

static void expect_int(const char *day, const entry *e, const char *field, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    expect(day, e, field, b);
}

/* Every entry of kpi:history against the day hashes: n entries, the first
 * on day `first` (a day number), the last the window end day. */
static void check_history(redisContext *rc, int64_t first, size_t want_n)
{
    entry *es;
    size_t n = read_history(rc, &es);
    assert_int_equal(n, want_n);
    mismatches = 0;
    for (size_t i = 0; i < n; i++) {
        const entry *e = &es[i];
        int64_t d = first + (int64_t)i;
        char day[32], id[32], b[64];
        fmt_day(d, day, sizeof(day));
        snprintf(id, sizeof(id), "%lld-0", (long long)(d * DAY_MS));
        assert_string_equal(e->id, id);
        assert_true(e->n > 0);
        assert_string_equal(e->f[0], "date");
        assert_string_equal(e->v[0], day);
        long long rev = day_int(rc, day, "revenue_micros"), orders = day_int(rc, day, "orders");
        long long newc = day_int(rc, day, "new_customers"), spend = day_int(rc, day, "spend_micros");
        long long p = day_int(rc, day, "nps_promoters"), pa = day_int(rc, day, "nps_passives");
        long long de = day_int(rc, day, "nps_detractors"), cn = day_int(rc, day, "csat_n");
        long long cs = day_int(rc, day, "csat_satisfied"), lc = day_int(rc, day, "leads_contacted");
        long long lr = day_int(rc, day, "lead_response_ms_sum"), ss = day_int(rc, day, "sessions");
        long long sm = day_int(rc, day, "session_ms");
        fmt_fixed(rev, 6, b, sizeof(b));
        expect(day, e, "revenue", b);
        expect_int(day, e, "orders", orders);
        expect_int(day, e, "new_customers", newc);
        expect_int(day, e, "churned", day_int(rc, day, "churned"));
        expect_int(day, e, "customers_eod", day_int(rc, day, "customers_eod"));
        if (orders > 0)
            fmt_fixed(div_round(rev, orders), 6, b, sizeof(b));
        expect(day, e, "aov", orders > 0 ? b : NULL);
        if (newc > 0)
            fmt_fixed(div_round(spend, newc), 6, b, sizeof(b));
        expect(day, e, "cpa", newc > 0 ? b : NULL);
        if (p + pa + de > 0)
            fmt_quot(100 * (i128)(p - de), p + pa + de, 4, b, sizeof(b));
        expect(day, e, "nps", p + pa + de > 0 ? b : NULL);
        if (cn > 0)
            fmt_quot(100 * (i128)cs, cn, 4, b, sizeof(b));
        expect(day, e, "csat", cn > 0 ? b : NULL);
        if (lc > 0)
            fmt_quot(lr, (i128)lc * 1000, 3, b, sizeof(b));
        expect(day, e, "lead_response_s", lc > 0 ? b : NULL);
        if (ss > 0)
            fmt_quot(sm, (i128)ss * 1000, 3, b, sizeof(b));
        expect(day, e, "avg_engagement_s", ss > 0 ? b : NULL);
        expect(day, e, "window_start", NULL);
        expect(day, e, "window_end", NULL);
    }
    /* the last day is the one-day window kpi:1d: the same fields, the same text */
    const entry *last = &es[n - 1];
    redisReply *k = redisCommand(rc, "HGETALL clm:kpi:1d");
    assert_non_null(k);
    assert_int_equal(k->type, REDIS_REPLY_ARRAY);
    size_t shared = 0;
    for (size_t i = 0; i + 1 < k->elements; i += 2) {
        const char *f = k->element[i]->str;
        if (strcmp(f, "window_start") == 0 || strcmp(f, "window_end") == 0)
            continue;
        expect(last->v[0], last, f, k->element[i + 1]->str);
        shared++;
    }
    freeReplyObject(k);
    assert_int_equal(last->n, shared + 2); /* + date, customers_eod */
    entries_free(es, n);
    if (mismatches)
        fail_msg("%d history values differ (first 40 above)", mismatches);
}

static void check_cohorts(redisContext *rc, const char *want_cohorts)
{
    redisReply *r = redisCommand(rc, "GET clm:kpi:cohorts");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    json_error_t jerr;
    json_t *got = json_loads(r->str, 0, &jerr);
    if (!got)
        fail_msg("kpi:cohorts is not JSON (%s): %s", jerr.text, r->str);
    json_t *want = json_loads(want_cohorts, 0, &jerr);
    assert_non_null(want);
    assert_string_equal(json_string_value(json_object_get(got, "period")), "week");
    assert_string_equal(json_string_value(json_object_get(got, "as_of")), "2025-01-22");
    json_t *at = json_object_get(got, "computed_at_ms");
    assert_true(json_is_integer(at) && json_integer_value(at) > 1700000000000LL);
    assert_int_equal(json_object_size(got), 4);
    if (!json_equal(json_object_get(got, "cohorts"), want))
        fail_msg("kpi:cohorts: want cohorts %s, got %s", want_cohorts, r->str);
    json_decref(got);
    json_decref(want);
    freeReplyObject(r);
}

/* The cohorts recomputed from the customer views (<prefix>customer:<id>:
 * first_purchase and last_seen in epoch ms), not from the checkpoints the
 * job reads: `weeks` cohorts ending with the week of as_of (a day number). */
static json_t *cohorts_from_views(redisContext *rc, int64_t as_of, int weeks)
{
    int64_t wk[64], last[64];
    size_t n = 0;
    redisReply *keys = redisCommand(rc, "KEYS clm:customer:*");
    assert_non_null(keys);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *v = redisCommand(rc, "HMGET %s first_purchase last_seen", keys->element[i]->str);
        assert_non_null(v);
        if (v->element[0]->type == REDIS_REPLY_STRING && v->element[0]->len > 0) {
            assert_true(n < 64);
            int64_t day = strtoll(v->element[0]->str, NULL, 10) / DAY_MS;
            wk[n] = day - (day + 3) % 7; /* the Monday: day 0 is a Thursday */
            last[n] = strtoll(v->element[1]->str, NULL, 10);
            n++;
        }
        freeReplyObject(v);
    }
    freeReplyObject(keys);
    int64_t end = as_of - (as_of + 3) % 7, first = end - 7 * (weeks - 1), oldest = end + 7;
    for (size_t i = 0; i < n; i++)
        if (wk[i] < oldest)
            oldest = wk[i];
    if (oldest > first)
        first = oldest;
    json_t *a = json_array();
    for (int64_t s = first; s <= end; s += 7) {
        char day[32];
        fmt_day(s, day, sizeof(day));
        json_t *ret = json_array();
        long long size = 0;
        for (size_t i = 0; i < n; i++)
            size += wk[i] == s;
        for (int64_t k = 0; s + 7 * k <= as_of; k++) {
            long long r = 0;
            for (size_t i = 0; i < n; i++)
                r += wk[i] == s && last[i] >= (s + 7 * k) * DAY_MS;
            json_array_append_new(ret, json_integer(r));
        }
        json_array_append_new(a, json_pack("{s:s, s:I, s:o}", "start", day, "size",
                                           (json_int_t)size, "retained", ret));
    }
    return a;
}

static void check_cohorts_views(redisContext *rc, int weeks)
{
    json_t *want = cohorts_from_views(rc, MON + 16, weeks);
    redisReply *r = redisCommand(rc, "GET clm:kpi:cohorts");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    json_t *got = json_loads(r->str, 0, NULL);
    assert_non_null(got);
    if (!json_equal(json_object_get(got, "cohorts"), want)) {
        char *w = json_dumps(want, JSON_COMPACT);
        fail_msg("kpi:cohorts: %s; from the customer views: %s", r->str, w);
    }
    json_decref(got);
    json_decref(want);
    freeReplyObject(r);
}

/* ---- running clmd ------------------------------------------------------- */

typedef struct progress {
    redisContext *c;
    long long want_consumed, want_len;
} progress;

static bool consumed(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(p->c, "clm:stats", "consumed") >= p->want_consumed;
}

static bool history_len(void *arg)
{
    progress *p = arg;
    redisReply *r = redisCommand(p->c, "XLEN clm:kpi:history");
    bool ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == p->want_len;
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Runs clmd until `until` holds, then stops it with SIGTERM (a flush, then
 * the KPI job's last run with the cohorts). */
static void run_clmd(const char *tmp, const char *brokers, int port, int history_days,
                     int cohort_weeks, harness_pred until, progress *pr)
{
    char cfg[128], log[128];
    snprintf(cfg, sizeof(cfg), "%s/clmd-%d.json", tmp, history_days);
    snprintf(log, sizeof(log), "%s/clmd-%d.log", tmp, history_days);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"model\": {\"enabled\": false},\n"
            " \"events\": {\"max_jump_s\": 0},\n"
            " \"kpi\": {\"refresh_ms\": 100, \"windows\": [1, 7], \"history_days\": %d,\n"
            "         \"cohort_weeks\": %d}}\n",
            brokers, port, history_days, cohort_weeks);
    fclose(f);
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    if (harness_wait_until(until, pr, 60000) < 0)
        fail_msg("clmd did not get there within 60 s (log: %s)", log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

/* ---- the dashboard ------------------------------------------------------ */

/* Every field name any entry of kpi:history has. */
static json_t *history_fields(redisContext *rc)
{
    entry *es;
    size_t n = read_history(rc, &es);
    json_t *set = json_object();
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < es[i].n; k++)
            json_object_set_new(set, es[i].f[k], json_true());
    entries_free(es, n);
    return set;
}

/* Every panel reads ${prefix}kpi:history with XRANGE through redis-datasource
 * and keeps only time and fields a real entry has; the panels together
 * cover the KPIs the dashboard promises. */
static void check_dashboard(json_t *fields)
{
    json_error_t jerr;
    json_t *d = json_load_file(CLM_SOURCE_DIR "/grafana/clmd-dashboard.json", 0, &jerr);
    if (!d)
        fail_msg("grafana/clmd-dashboard.json: %s (line %d)", jerr.text, jerr.line);
    /* the prefix template variable */
    json_t *vars = json_object_get(json_object_get(d, "templating"), "list"), *v;
    size_t i;
    bool has_prefix = false;
    json_array_foreach(vars, i, v)
        has_prefix |= strcmp(str_of(json_object_get(v, "name")), "prefix") == 0;
    assert_true(has_prefix);
    static const char *const covered[] = { "revenue", "orders", "new_customers", "churned",
                                           "churn_rate", "retention_rate", "nps", "csat", "aov",
                                           "cpa", "lead_response_s", "clv_pred_avg" };
    bool seen[sizeof(covered) / sizeof(covered[0])] = { false };
    json_t *panels = json_object_get(d, "panels"), *panel;
    assert_true(json_array_size(panels) >= 8);
    json_array_foreach(panels, i, panel) {
        const char *title = json_string_value(json_object_get(panel, "title"));
        assert_non_null(title);
        json_t *ds = json_object_get(panel, "datasource");
        assert_string_equal(json_string_value(json_object_get(ds, "type")), "redis-datasource");
        json_t *targets = json_object_get(panel, "targets"), *t;
        size_t k;
        assert_true(json_array_size(targets) >= 1);
        json_array_foreach(targets, k, t) {
            assert_string_equal(json_string_value(json_object_get(t, "type")), "command");
            assert_string_equal(json_string_value(json_object_get(t, "command")), "xrange");
            assert_string_equal(json_string_value(json_object_get(t, "keyName")),
                                "${prefix}kpi:history");
        }
        /* the fields kept: filterFieldsByName names */
        json_t *tr = json_object_get(panel, "transformations"), *x;
        size_t nkept = 0;
        json_array_foreach(tr, k, x) {
            if (strcmp(str_of(json_object_get(x, "id")), "filterFieldsByName"))
                continue;
            json_t *names = json_object_get(json_object_get(json_object_get(x, "options"), "include"),
                                            "names"), *nm;
            size_t m;
            json_array_foreach(names, m, nm) {
                const char *f = json_string_value(nm);
                assert_non_null(f);
                if (strcmp(f, "$time") == 0)
                    continue;
                if (!json_object_get(fields, f))
                    fail_msg("panel \"%s\" plots %s, which no kpi:history entry has", title, f);
                for (size_t c = 0; c < sizeof(covered) / sizeof(covered[0]); c++)
                    seen[c] |= strcmp(covered[c], f) == 0;
                nkept++;
            }
        }
        if (nkept == 0)
            fail_msg("panel \"%s\" keeps no field", title);
    }
    for (size_t c = 0; c < sizeof(covered) / sizeof(covered[0]); c++)
        if (!seen[c])
            fail_msg("no panel plots %s", covered[c]);
    json_decref(d);
}

/* ---- the test ----------------------------------------------------------- */

static void history_and_cohorts(void **state)
{
    (void)state;
    char tmp[64] = "/tmp/clm-hist-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    harness_kv msgs[NSTREAM];
    for (size_t i = 0; i < NSTREAM; i++)
        msgs[i] = (harness_kv){ .key = STREAM[i][0], .key_len = strlen(STREAM[i][0]),
                                .value = STREAM[i][1], .value_len = strlen(STREAM[i][1]) };
    harness_kafka *kafka = NULL;
    harness_redis *redis = NULL;
    CHECK(harness_kafka_start(1, &kafka, errbuf, sizeof(errbuf)));
    const char *brokers = harness_kafka_bootstraps(kafka);
    CHECK(harness_kafka_create_topic(kafka, TOPIC, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(brokers, TOPIC, msgs, NSTREAM, false, 60000, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));
    redisContext *rc = NULL;
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));

    progress pr = { .c = rc, .want_consumed = (long long)NSTREAM };
    run_clmd(tmp, brokers, harness_redis_port(redis), 400, 12, consumed, &pr);
    assert_int_equal(harness_redis_hget_int(rc, "clm:stats", "applied"), NSTREAM);

    /* 2025-01-06 .. 2025-01-22 (max_ts 01-22 12:00): 17 days */
    check_history(rc, MON, 17);
    entry *es;
    size_t n = read_history(rc, &es);
    /* by hand: 01-06 two purchases of 10 by new customers; 01-07 two of
     * 30, two new customers (c-b, c-f) and a spend of 60; 01-08 one
     * promoter and one detractor; 01-14 CSAT 5 and 2 (one satisfied of
     * two); c-b's contact 1 h after its signup; 01-21 one order of 50 by an
     * old customer */
    assert_string_equal(get(&es[0], "revenue"), "20");
    assert_string_equal(get(&es[0], "aov"), "10");
    assert_string_equal(get(&es[0], "new_customers"), "2");
    assert_string_equal(get(&es[1], "revenue"), "60");
    assert_string_equal(get(&es[1], "cpa"), "30");
    assert_string_equal(get(&es[1], "lead_response_s"), "3600");
    assert_string_equal(get(&es[2], "nps"), "0");
    assert_null(get(&es[2], "aov"));
    assert_string_equal(get(&es[8], "csat"), "50");
    assert_string_equal(get(&es[9], "avg_engagement_s"), "90");
    assert_string_equal(get(&es[15], "aov"), "50");
    assert_string_equal(get(&es[15], "new_customers"), "0");
    assert_string_equal(get(&es[16], "customers_eod"), get(&es[15], "customers_eod"));
    entries_free(es, n);

    /* cohorts by the week of the first purchase, as of 2025-01-22:
     * 01-06: c-a (last_seen 01-15), c-b (01-21), c-e (01-20 00:00, the
     *        first instant of week 2), c-f (01-07): week 1 (from 01-13)
     *        c-a, c-b, c-e; week 2 (from 01-20) c-b, c-e;
     * 01-13: c-c (last_seen 01-22): still there in week 1;
     * 01-20: nobody (c-d never bought) */
    check_cohorts(rc, "[{\"start\":\"2025-01-06\",\"size\":4,\"retained\":[4,3,2]},"
                      "{\"start\":\"2025-01-13\",\"size\":1,\"retained\":[1,1]},"
                      "{\"start\":\"2025-01-20\",\"size\":0,\"retained\":[0]}]");

    check_cohorts_views(rc, 12);

    json_t *fields = history_fields(rc);
    check_dashboard(fields);
    json_decref(fields);

    /* fewer days and weeks: both keys shrink at the next start */
    pr.want_len = 3;
    run_clmd(tmp, brokers, harness_redis_port(redis), 3, 2, history_len, &pr);
    check_history(rc, MON + 14, 3);
    check_cohorts(rc, "[{\"start\":\"2025-01-13\",\"size\":1,\"retained\":[1,1]},"
                      "{\"start\":\"2025-01-20\",\"size\":0,\"retained\":[0]}]");
    check_cohorts_views(rc, 2);

    redisFree(rc);
    harness_redis_free(redis);
    harness_kafka_free(kafka);
    harness_rm_tree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_and_cohorts),
    };
    return cmocka_run_group_tests_name("kpi-history", tests, NULL, NULL);
}
