/* tests/test-api.c - the dashboard's JSON API and business gauges
 * (daemon/api.h) against a real redis-server.
 *
 * Each test writes keys in the format their writers use (the flush, the KPI
 * job's kpi:<N>d, kpi:history and kpi:cohorts of the README "KPI history and
 * cohorts", the model job) from small tables, then compares every answer
 * with values computed here from the same tables (never by the API's code):
 *   empty_store   absent keys: zero counts and empty lists, never an error
 *   funnel        stage counts in rank order, the stage left from an earlier
 *                 configuration, transitions summed over the window only,
 *                 conversion = moved to the next stage / left the stage
 *   kpi           the last N days of kpi:history oldest first, numbers as
 *                 numbers; kpi/windows
 *   cohorts       the stored matrix and each cell's share
 *   at_risk       the riskiest first with their views, total, reasons
 *   alerts        newest first, the alert document parsed
 *   health        live figures, events/s between two answers, model status
 *   gauges        the /metrics lines, value by value
 *   breakdown     the days of the window with counters, oldest first, per
 *                 value; totals per value over the window only; 400 for a
 *                 dimension that is not configured
 *   bad_input     400 for a bad argument, 404 for an unknown path, 502
 *                 naming the key for a cohort document that is not one
 * Every case runs on one redis-server and again on a Redis Cluster of three
 * masters (tests/harness_cluster.h), the keys spread over their slots.
 * Fails (never skips) when redis-server cannot be started.
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "daemon/api.h"
#include "net/slot.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

#define PREFIX "t:"
#define END_DAY "2026-03-10"

typedef struct env {
    harness_redis *redis;     /* one server: one per test */
    harness_cluster *cluster; /* Redis Cluster: one per group, emptied per test */
    redisContext *rc;         /* one server */
    clm_config *cfg;
    clm_api *api;
} env;

static harness_cluster *group_cluster;

static int cluster_group_setup(void **state)
{
    (void)state;
    CHECK(harness_cluster_start(3, 0, &group_cluster, errbuf, sizeof(errbuf)));
    return 0;
}

static int cluster_group_teardown(void **state)
{
    (void)state;
    harness_cluster_stop(group_cluster);
    return 0;
}

static env *env_new(void)
{
    env *e = calloc(1, sizeof(*e));
    static const char conf[] =
        "{\"kafka\": {\"brokers\": \"127.0.0.1:9\", \"topics\": [\"t\"], \"group_id\": \"g\"},"
        " \"redis\": {\"prefix\": \"" PREFIX "\"}, \"kpi\": {\"windows\": [30, 7]},"
        " \"traits\": [{\"name\": \"plan\", \"type\": \"string\"}],"
        " \"breakdowns\": [{\"dimension\": \"trait:plan\", \"values\": [\"basic\", \"pro\"]}]}";
    assert_non_null(e);
    CHECK(clm_config_load_string("test", conf, sizeof(conf) - 1, &e->cfg, errbuf, sizeof(errbuf)));
    return e;
}

static int setup(void **state)
{
    env *e = env_new();
    CHECK(harness_redis_start(&e->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(e->redis, &e->rc, errbuf, sizeof(errbuf)));
    clm_redis_opts o = { .host = "127.0.0.1", .port = harness_redis_port(e->redis),
                         .timeout_ms = 5000 };
    e->api = clm_api_new(e->cfg, &o, errbuf, sizeof(errbuf));
    assert_non_null(e->api);
    *state = e;
    return 0;
}

/* The group's cluster, every master emptied. */
static int setup_cluster(void **state)
{
    env *e = env_new();
    e->cluster = group_cluster;
    for (int i = 0; i < harness_cluster_nodes(e->cluster); i++) {
        redisContext *c;
        CHECK(harness_cluster_connect(e->cluster, harness_cluster_port(e->cluster, i), &c, errbuf,
                                      sizeof(errbuf)));
        redisReply *r = redisCommand(c, "FLUSHALL");
        assert_non_null(r);
        assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
        redisFree(c);
    }
    clm_redis_opts o = { .cluster = harness_cluster_seeds(e->cluster), .timeout_ms = 5000 };
    e->api = clm_api_new(e->cfg, &o, errbuf, sizeof(errbuf));
    assert_non_null(e->api);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    clm_api_free(e->api);
    clm_config_free(e->cfg);
    if (e->rc)
        redisFree(e->rc);
    harness_redis_free(e->redis);
    free(e);
    return 0;
}

/* The key (second argument) of a command in RESP form. */
static void resp_key(const char *cmd, const char **key, size_t *len)
{
    const char *p = strchr(cmd, '\n') + 1; /* past *N */
    p = strchr(p, '\n') + 1;               /* past $len of the name */
    p = strchr(p, '\n') + 1;               /* past the name */
    *len = (size_t)strtoul(p + 1, NULL, 10);
    *key = strchr(p, '\n') + 1;
}

/* Runs a command whose second argument is its key: on the one server, or
 * on the master of the key's slot. */
static void redis(env *e, const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    va_start(ap, fmt);
    int n = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0);
    redisContext *c = e->rc;
    if (e->cluster) {
        const char *key;
        size_t len;
        resp_key(cmd, &key, &len);
        int port = harness_cluster_master_port(e->cluster, clm_slot_of(key, len));
        assert_true(port > 0);
        CHECK(harness_cluster_connect(e->cluster, port, &c, errbuf, sizeof(errbuf)));
    }
    redisReply *r = NULL;
    assert_int_equal(redisAppendFormattedCommand(c, cmd, (size_t)n), REDIS_OK);
    assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, r->str);
    freeReplyObject(r);
    redisFreeCommand(cmd);
    if (c != e->rc)
        redisFree(c);
}

/* query arguments: "name=value" strings, NULL-terminated */
static const char *arg_of(void *ctx, const char *name)
{
    for (const char *const *a = ctx; a && *a; a++) {
        size_t n = strlen(name);
        if (strncmp(*a, name, n) == 0 && (*a)[n] == '=')
            return *a + n + 1;
    }
    return NULL;
}

/* The answer to GET /api/v1/<path>?<args>, with its status checked. */
static json_t *get(env *e, const char *path, const char *const *args, unsigned want)
{
    unsigned status = 0;
    char *body = NULL;
    clm_api_live live = { .lag = 12, .partitions = 4, .consumed = 1000, .last_flush_ms = 1773100000000LL,
                          .flushes = 9, .healthy = true };
    assert_int_equal(clm_api_answer(e->api, path, arg_of, (void *)args, &live, &status, &body), 0);
    json_error_t je;
    json_t *o = json_loads(body, 0, &je);
    if (!o || status != want)
        fail_msg("%s: status %u (want %u), body %s", path, status, want, body);
    free(body);
    return o;
}

static long long int_of(json_t *o)
{
    assert_true(json_is_integer(o));
    return json_integer_value(o);
}

static void test_empty_store(void **state)
{
    env *e = *state;
    json_t *f = get(e, "funnel", NULL, 200);
    json_t *stages = json_object_get(f, "stages");
    assert_int_equal(json_array_size(stages), e->cfg->lifecycle_stage_count);
    for (size_t i = 0; i < json_array_size(stages); i++) {
        json_t *s = json_array_get(stages, i);
        assert_string_equal(json_string_value(json_object_get(s, "stage")), e->cfg->lifecycle_stages[i]);
        assert_int_equal(int_of(json_object_get(s, "customers")), 0);
    }
    assert_int_equal(json_object_size(json_object_get(f, "transitions")), 0);
    json_decref(f);
    json_t *k = get(e, "kpi", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(k, "days")), 0);
    json_decref(k);
    json_t *c = get(e, "cohorts", NULL, 200);
    assert_true(json_is_null(json_object_get(c, "period")));
    assert_int_equal(json_array_size(json_object_get(c, "cohorts")), 0);
    json_decref(c);
    json_t *r = get(e, "at_risk", NULL, 200);
    assert_int_equal(int_of(json_object_get(r, "total")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "customers")), 0);
    json_decref(r);
    json_t *a = get(e, "alerts", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(a, "alerts")), 0);
    json_decref(a);
    json_t *w = get(e, "kpi/windows", NULL, 200);
    assert_int_equal(json_object_size(json_object_get(w, "windows")), 0);
    json_decref(w);
}

/* ---- funnel --------------------------------------------------------------- */

typedef struct trans_row {
    int day_back; /* days before END_DAY */
    const char *field;
    long long n;
} trans_row;

static const trans_row TRANS[] = {
    { 0, "awareness>acquisition", 3 },  { 0, "acquisition>conversion", 2 },
    { 1, "awareness>acquisition", 4 },  { 1, "awareness>conversion", 1 },
    { 1, "conversion>onboarding", 5 },  { 1, "onboarding>churned", 2 },
    { 2, "awareness>acquisition", 100 }, /* outside a 2-day window */
    { 0, "churned>reactivated", 1 },
};

static const struct { const char *stage; long long n; } COUNTS[] = {
    { "awareness", 7 }, { "acquisition", 5 }, { "conversion", 3 }, { "onboarding", 0 },
    { "churned", 2 }, { "retired_stage", 4 },
};

static void write_funnel(env *e)
{
    int64_t end = clm_days_from_civil(2026, 3, 10);
    redis(e, "HSET " PREFIX "kpi:30d window_start 2026-02-09 window_end " END_DAY);
    for (size_t i = 0; i < sizeof(COUNTS) / sizeof(COUNTS[0]); i++)
        if (COUNTS[i].n)
            redis(e, "HSET " PREFIX "stage_counts %s %lld", COUNTS[i].stage, COUNTS[i].n);
    for (size_t i = 0; i < sizeof(TRANS) / sizeof(TRANS[0]); i++) {
        char day[11];
        clm_day_format(end - TRANS[i].day_back, day);
        redis(e, "HINCRBY " PREFIX "transitions:%s %s %lld", day, TRANS[i].field, TRANS[i].n);
    }
}

static long long trans_sum(int days, const char *field_from, const char *field_to)
{
    long long s = 0;
    for (size_t i = 0; i < sizeof(TRANS) / sizeof(TRANS[0]); i++) {
        char from[64], to[64];
        if (TRANS[i].day_back >= days || sscanf(TRANS[i].field, "%63[^>]>%63s", from, to) != 2)
            continue;
        if (strcmp(from, field_from) == 0 && (!field_to || strcmp(to, field_to) == 0))
            s += TRANS[i].n;
    }
    return s;
}

static void test_funnel(void **state)
{
    env *e = *state;
    write_funnel(e);
    const char *args[] = { "days=2", NULL };
    json_t *f = get(e, "funnel", args, 200);
    json_t *stages = json_object_get(f, "stages");
    size_t ns = e->cfg->lifecycle_stage_count;
    assert_int_equal(json_array_size(stages), ns + 1); /* + retired_stage */
    for (size_t i = 0; i < json_array_size(stages); i++) {
        json_t *s = json_array_get(stages, i);
        const char *name = i < ns ? e->cfg->lifecycle_stages[i] : "retired_stage";
        long long want = 0;
        for (size_t k = 0; k < sizeof(COUNTS) / sizeof(COUNTS[0]); k++)
            if (strcmp(COUNTS[k].stage, name) == 0)
                want = COUNTS[k].n;
        assert_string_equal(json_string_value(json_object_get(s, "stage")), name);
        assert_int_equal(json_integer_value(json_object_get(s, "customers")), want);
    }
    json_t *w = json_object_get(f, "window");
    assert_string_equal(json_string_value(json_object_get(w, "from")), "2026-03-09");
    assert_string_equal(json_string_value(json_object_get(w, "to")), END_DAY);
    json_t *t = json_object_get(f, "transitions");
    assert_int_equal(json_integer_value(json_object_get(t, "awareness>acquisition")), 7);
    assert_int_equal(json_object_size(t), 6);
    /* conversion between consecutive ordinary stages of the default model */
    json_t *conv = json_object_get(f, "conversion");
    static const char *const ord[] = { "awareness", "acquisition", "conversion", "onboarding",
                                       "engagement", "retention", "advocacy" };
    assert_int_equal(json_array_size(conv), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *c = json_array_get(conv, i);
        long long left = trans_sum(2, ord[i], NULL), moved = trans_sum(2, ord[i], ord[i + 1]);
        assert_string_equal(json_string_value(json_object_get(c, "from")), ord[i]);
        assert_string_equal(json_string_value(json_object_get(c, "to")), ord[i + 1]);
        assert_int_equal(json_integer_value(json_object_get(c, "left")), left);
        assert_int_equal(json_integer_value(json_object_get(c, "converted")), moved);
        if (left)
            assert_true(json_real_value(json_object_get(c, "rate")) == (double)moved / (double)left);
        else
            assert_true(json_is_null(json_object_get(c, "rate")));
    }
    /* awareness: 8 left in the window, 7 to acquisition */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(conv, 0), "left")), 8);
    json_decref(f);
    /* a 3-day window takes the third day in */
    const char *args3[] = { "days=3", NULL };
    f = get(e, "funnel", args3, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f, "transitions"),
                                                        "awareness>acquisition")), 107);
    json_decref(f);
}

/* ---- KPI history, windows, cohorts ---------------------------------------- */

static const struct { const char *date; const char *revenue, *orders, *nps; } DAYS[] = {
    { "2026-03-08", "100.5", "3", NULL }, /* no NPS answer that day: absent */
    { "2026-03-09", "0", "0", "50" },
    { "2026-03-10", "1234.56", "12", "-33.3333" },
};

static void test_kpi(void **state)
{
    env *e = *state;
    for (size_t i = 0; i < 3; i++) {
        unsigned y, m, d;
        sscanf(DAYS[i].date, "%u-%u-%u", &y, &m, &d);
        long long ms = clm_days_from_civil(y, m, d) * 86400000LL;
        if (DAYS[i].nps)
            redis(e, "XADD " PREFIX "kpi:history %lld-0 date %s revenue %s orders %s nps %s", ms,
                  DAYS[i].date, DAYS[i].revenue, DAYS[i].orders, DAYS[i].nps);
        else
            redis(e, "XADD " PREFIX "kpi:history %lld-0 date %s revenue %s orders %s", ms,
                  DAYS[i].date, DAYS[i].revenue, DAYS[i].orders);
    }
    const char *args[] = { "days=2", NULL };
    json_t *k = get(e, "kpi", args, 200);
    json_t *days = json_object_get(k, "days");
    assert_int_equal(json_array_size(days), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *d = json_array_get(days, i);
        assert_string_equal(json_string_value(json_object_get(d, "date")), DAYS[i + 1].date);
        assert_true(json_number_value(json_object_get(d, "revenue")) == strtod(DAYS[i + 1].revenue, NULL));
        assert_true(json_is_integer(json_object_get(d, "orders")));
        assert_int_equal(json_integer_value(json_object_get(d, "orders")), atoll(DAYS[i + 1].orders));
        assert_true(json_number_value(json_object_get(d, "nps")) == strtod(DAYS[i + 1].nps, NULL));
    }
    json_decref(k);
    k = get(e, "kpi", NULL, 200); /* 30 by default: all three, the first without nps */
    assert_int_equal(json_array_size(json_object_get(k, "days")), 3);
    assert_null(json_object_get(json_array_get(json_object_get(k, "days"), 0), "nps"));
    json_decref(k);

    redis(e, "HSET " PREFIX "kpi:7d window_start 2026-03-04 window_end " END_DAY " revenue 99.95 orders 4");
    json_t *w = get(e, "kpi/windows", NULL, 200);
    json_t *w7 = json_object_get(json_object_get(w, "windows"), "7d");
    assert_string_equal(json_string_value(json_object_get(w7, "window_end")), END_DAY);
    assert_true(json_real_value(json_object_get(w7, "revenue")) == 99.95);
    assert_int_equal(json_integer_value(json_object_get(w7, "orders")), 4);
    assert_null(json_object_get(json_object_get(w, "windows"), "30d")); /* absent: left out */
    json_decref(w);
}

static void test_cohorts(void **state)
{
    env *e = *state;
    static const struct { const char *start; long long size; long long r[4]; size_t n; } C[] = {
        { "2026-02-16", 40, { 40, 31, 17, 9 }, 4 },
        { "2026-02-23", 25, { 25, 12, 5 }, 3 },
        { "2026-03-02", 0, { 0, 0 }, 2 },
        { "2026-03-09", 8, { 8 }, 1 },
    };
    char doc[2048];
    size_t w = (size_t)snprintf(doc, sizeof(doc), "{\"period\":\"week\","
                                "\"as_of\":\"" END_DAY "\",\"cohorts\":[");
    for (size_t i = 0; i < 4; i++) {
        w += (size_t)snprintf(doc + w, sizeof(doc) - w, "%s{\"start\":\"%s\",\"size\":%lld,\"retained\":[",
                              i ? "," : "", C[i].start, C[i].size);
        for (size_t k = 0; k < C[i].n; k++)
            w += (size_t)snprintf(doc + w, sizeof(doc) - w, "%s%lld", k ? "," : "", C[i].r[k]);
        w += (size_t)snprintf(doc + w, sizeof(doc) - w, "]}");
    }
    snprintf(doc + w, sizeof(doc) - w, "]}");
    redis(e, "SET " PREFIX "kpi:cohorts %s", doc);
    json_t *c = get(e, "cohorts", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(c, "period")), "week");
    assert_string_equal(json_string_value(json_object_get(c, "as_of")), END_DAY);
    json_t *list = json_object_get(c, "cohorts");
    assert_int_equal(json_array_size(list), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(row, "start")), C[i].start);
        assert_int_equal(json_integer_value(json_object_get(row, "size")), C[i].size);
        json_t *ret = json_object_get(row, "retained"), *share = json_object_get(row, "share");
        assert_int_equal(json_array_size(ret), C[i].n);
        assert_int_equal(json_array_size(share), C[i].n);
        for (size_t k = 0; k < C[i].n; k++) {
            assert_int_equal(json_integer_value(json_array_get(ret, k)), C[i].r[k]);
            if (C[i].size)
                assert_true(json_real_value(json_array_get(share, k)) ==
                            (double)C[i].r[k] / (double)C[i].size);
            else
                assert_true(json_is_null(json_array_get(share, k)));
        }
    }
    /* 31 of 40 still active in week 1 */
    assert_true(json_real_value(json_array_get(json_object_get(json_array_get(list, 0), "share"), 1)) == 0.775);
    json_decref(c);
}

/* ---- at risk, alerts, health ---------------------------------------------- */

static void test_at_risk(void **state)
{
    env *e = *state;
    redis(e, "ZADD " PREFIX "at_risk 0.9132 c-1 0.75 c-2 0.5 c-3 0.8 c-4");
    redis(e, "HSET " PREFIX "customer:c-1 stage engagement clv 120.5 clv_pred 88.25 last_seen 1773000000000 "
             "risk_reasons [{\"signal\":\"frequency_drop\",\"contribution\":0.2},{\"signal\":\"recency\",\"contribution\":0.41}]");
    redis(e, "HSET " PREFIX "customer:c-4 stage retention clv 15");
    const char *args[] = { "limit=3", NULL };
    json_t *r = get(e, "at_risk", args, 200);
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 4);
    json_t *list = json_object_get(r, "customers");
    static const char *const order[] = { "c-1", "c-4", "c-2" };
    static const double risk[] = { 0.9132, 0.8, 0.75 };
    assert_int_equal(json_array_size(list), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *c = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(c, "id")), order[i]);
        assert_true(json_number_value(json_object_get(c, "risk")) == risk[i]);
    }
    json_t *c1 = json_array_get(list, 0), *c4 = json_array_get(list, 1), *c2 = json_array_get(list, 2);
    assert_string_equal(json_string_value(json_object_get(c1, "stage")), "engagement");
    assert_true(json_real_value(json_object_get(c1, "clv")) == 120.5);
    assert_true(json_real_value(json_object_get(c1, "clv_pred")) == 88.25);
    assert_int_equal(json_integer_value(json_object_get(c1, "last_seen")), 1773000000000LL);
    json_t *rs = json_object_get(c1, "reasons");
    assert_int_equal(json_array_size(rs), 2);
    /* largest contribution first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rs, 0), "signal")), "recency");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rs, 1), "signal")), "frequency_drop");
    assert_int_equal(json_integer_value(json_object_get(c4, "clv")), 15);
    assert_true(json_is_null(json_object_get(c4, "clv_pred")));
    assert_true(json_is_null(json_object_get(c2, "stage"))); /* no view (yet) */
    assert_int_equal(json_array_size(json_object_get(c2, "reasons")), 0);
    json_decref(r);
}

static void test_alerts(void **state)
{
    env *e = *state;
    for (int i = 1; i <= 3; i++)
        redis(e, "XADD " PREFIX "alerts %d-0 alert_id a-%d kind churn_risk customer_id c-%d risk 0.%d5 "
                 "json {\"alert_id\":\"a-%d\",\"n\":%d}", 1773000000 + i, i, i, i, i, i);
    const char *args[] = { "limit=2", NULL };
    json_t *a = get(e, "alerts", args, 200);
    json_t *list = json_object_get(a, "alerts");
    assert_int_equal(json_array_size(list), 2);
    for (int i = 0; i < 2; i++) {
        json_t *x = json_array_get(list, (size_t)i);
        int n = 3 - i; /* newest first */
        char id[32], cust[8];
        snprintf(id, sizeof(id), "%d-0", 1773000000 + n);
        snprintf(cust, sizeof(cust), "c-%d", n);
        assert_string_equal(json_string_value(json_object_get(x, "id")), id);
        assert_int_equal(json_integer_value(json_object_get(x, "at_ms")), 1773000000 + n);
        assert_string_equal(json_string_value(json_object_get(x, "kind")), "churn_risk");
        assert_string_equal(json_string_value(json_object_get(x, "customer_id")), cust);
        assert_true(json_real_value(json_object_get(x, "risk")) == n / 10.0 + 0.05);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "alert"), "n")), n);
    }
    json_decref(a);
}

static void test_health(void **state)
{
    env *e = *state;
    json_t *h = get(e, "health", NULL, 200);
    assert_true(json_is_true(json_object_get(h, "healthy")));
    assert_int_equal(json_integer_value(json_object_get(h, "lag")), 12);
    assert_int_equal(json_integer_value(json_object_get(h, "partitions")), 4);
    assert_int_equal(json_integer_value(json_object_get(h, "consumed")), 1000);
    assert_int_equal(json_integer_value(json_object_get(h, "last_flush_ms")), 1773100000000LL);
    assert_true(json_is_null(json_object_get(json_object_get(h, "model"), "status")));
    json_decref(h);
    redis(e, "HSET " PREFIX "model status ok fitted_at 1773100000123 customers 640");
    h = get(e, "health", NULL, 200);
    json_t *m = json_object_get(h, "model");
    assert_string_equal(json_string_value(json_object_get(m, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(m, "fitted_at")), 1773100000123LL);
    assert_int_equal(json_integer_value(json_object_get(m, "customers")), 640);
    /* the same consumed count as before: 0 events/s since the previous answer */
    assert_true(json_number_value(json_object_get(h, "events_per_s")) == 0);
    json_decref(h);
}

/* ---- gauges ----------------------------------------------------------------- */

static void want_line(const char *text, const char *line)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "\n%s\n", line);
    if (!strstr(text, buf))
        fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_gauges(void **state)
{
    env *e = *state;
    write_funnel(e);
    redis(e, "ZADD " PREFIX "at_risk 0.9 c-1 0.8 c-2");
    redis(e, "HSET " PREFIX "kpi:30d revenue 1234.5 orders 17 churn_rate 0.0625");
    redis(e, "HSET " PREFIX "kpi:7d window_end " END_DAY " orders 3");
    char *g = NULL;
    CHECK(clm_api_gauges(e->api, &g, errbuf, sizeof(errbuf)));
    for (size_t i = 0; i < e->cfg->lifecycle_stage_count; i++) {
        long long n = 0;
        char line[128];
        for (size_t k = 0; k < sizeof(COUNTS) / sizeof(COUNTS[0]); k++)
            if (strcmp(COUNTS[k].stage, e->cfg->lifecycle_stages[i]) == 0)
                n = COUNTS[k].n;
        snprintf(line, sizeof(line), "clmd_customers{stage=\"%s\"} %lld", e->cfg->lifecycle_stages[i], n);
        want_line(g, line);
    }
    want_line(g, "clmd_at_risk_customers 2");
    want_line(g, "clmd_kpi{window=\"30d\",kpi=\"revenue\"} 1234.5");
    want_line(g, "clmd_kpi{window=\"30d\",kpi=\"orders\"} 17");
    want_line(g, "clmd_kpi{window=\"30d\",kpi=\"churn_rate\"} 0.0625");
    want_line(g, "clmd_kpi{window=\"7d\",kpi=\"orders\"} 3");
    assert_null(strstr(g, "window_end"));
    assert_null(strstr(g, "retired_stage")); /* gauges follow the configured stages */
    free(g);
}

static void test_bad_input(void **state)
{
    env *e = *state;
    const char *zero[] = { "days=0", NULL }, *word[] = { "limit=ten", NULL };
    json_t *o = get(e, "funnel", zero, 400);
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "days"));
    json_decref(o);
    json_decref(get(e, "alerts", word, 400));
    json_decref(get(e, "nothing", NULL, 404));
    redis(e, "SET " PREFIX "kpi:cohorts {\"period\":\"week\",\"cohorts\":[{\"start\":1}]}");
    o = get(e, "cohorts", NULL, 502);
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), PREFIX "kpi:cohorts"));
    json_decref(o);
    /* the API keeps answering after an error */
    json_decref(get(e, "at_risk", NULL, 200));
}

static void test_breakdown(void **state)
{
    env *e = *state;
    redis(e, "HSET " PREFIX "kpi:30d window_end " END_DAY);
    redis(e, "HSET " PREFIX "breakdown:trait:plan:2026-03-10 %s 2 %s 5000000 %s 1", "pro\torders",
          "pro\trevenue_micros", "other\torders");
    redis(e, "HSET " PREFIX "breakdown:trait:plan:2026-03-08 %s 1 %s 4", "pro\torders",
          "(none)\tnew_leads");
    redis(e, "HSET " PREFIX "breakdown:trait:plan:2026-03-03 %s 100", "pro\torders"); /* before */
    const char *week[] = { "dim=trait:plan", "days=7", NULL };
    json_t *o = get(e, "breakdown", week, 200);
    assert_string_equal(json_string_value(json_object_get(o, "from")), "2026-03-04");
    assert_string_equal(json_string_value(json_object_get(o, "to")), END_DAY);
    json_t *values = json_object_get(o, "values");
    assert_int_equal(json_array_size(values), 4);
    assert_string_equal(json_string_value(json_array_get(values, 1)), "pro");
    assert_string_equal(json_string_value(json_array_get(values, 3)), "(none)");
    json_t *days = json_object_get(o, "days");
    assert_int_equal(json_array_size(days), 2);
    json_t *d0 = json_array_get(days, 0), *d1 = json_array_get(days, 1);
    assert_string_equal(json_string_value(json_object_get(d0, "date")), "2026-03-08");
    assert_int_equal(int_of(json_object_get(json_object_get(d0, "(none)"), "new_leads")), 4);
    assert_int_equal(int_of(json_object_get(json_object_get(d1, "pro"), "revenue_micros")), 5000000);
    json_t *totals = json_object_get(o, "totals");
    assert_int_equal(int_of(json_object_get(json_object_get(totals, "pro"), "orders")), 3);
    assert_int_equal(int_of(json_object_get(json_object_get(totals, "other"), "orders")), 1);
    assert_null(json_object_get(totals, "basic"));
    json_decref(o);
    const char *nope[] = { "dim=trait:nope", NULL };
    o = get(e, "breakdown", nope, 400);
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "trait:plan"));
    json_decref(o);
    /* without dim: the configured dimensions, in config order */
    o = get(e, "breakdown", NULL, 200);
    json_t *dims = json_object_get(o, "dimensions");
    assert_int_equal(json_array_size(dims), 1);
    assert_string_equal(json_string_value(json_array_get(dims, 0)), "trait:plan");
    json_decref(o);
}

#define ONE(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
#define ON_CLUSTER(t) { "cluster_" #t, t, setup_cluster, teardown, NULL }

int main(void)
{
    const struct CMUnitTest tests[] = {
        ONE(test_empty_store),        ONE(test_funnel),         ONE(test_kpi),
        ONE(test_cohorts),            ONE(test_at_risk),        ONE(test_alerts),
        ONE(test_health),             ONE(test_gauges),         ONE(test_bad_input),
        ONE(test_breakdown),          ON_CLUSTER(test_breakdown),
        ON_CLUSTER(test_empty_store), ON_CLUSTER(test_funnel),  ON_CLUSTER(test_kpi),
        ON_CLUSTER(test_cohorts),     ON_CLUSTER(test_at_risk), ON_CLUSTER(test_alerts),
        ON_CLUSTER(test_health),      ON_CLUSTER(test_gauges),  ON_CLUSTER(test_bad_input),
    };
    return cmocka_run_group_tests(tests, cluster_group_setup, cluster_group_teardown);
}
