/* tests/test-alerts.c - churn-risk scoring and the alert publisher end to
 * end: a hand-made stream through the mock cluster into clmd, alerts read
 * back from the alert topic with a plain consumer and from Redis.
 *
 *   expected_alerts  the exact alerts (kinds, customers, scores, times,
 *                    sources, ids recomputed here) of a stream where risk
 *                    rises with events and with silence, a customer is
 *                    re-armed, two churn and one is below the CLV floor;
 *                    the at-risk set and risk_reasons in Redis
 *   replay_identical the same topic consumed again by a second group into
 *                    a fresh Redis: byte-identical alerts apart from emitted_at
 *   kill_before_publish the alert topic's leader is down, so alerts reach
 *                    the outbox but not Kafka; clmd is killed with SIGKILL,
 *                    the broker comes back, clmd restarts: every alert is
 *                    published, the outbox drains
 *   rate_limit       30 alerts in one paging window at 1 per 10000 s, burst
 *                    2: all 30 kept and published, 28 folded into one
 *                    digest; a replay makes the same digest
 *   sighup_reload    a broken file is refused; a new alert threshold applies
 *                    live, a new flush interval is reported as needing a restart
 *   shutdown_bounded SIGTERM while Redis is down: exit 1 after
 *                    core.shutdown_timeout_s; a restart loses nothing
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "tests/harness.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define DAY CLM_MS_PER_DAY
#define HOUR 3600000LL

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

static harness_kafka *K;
static int64_t D0; /* 2025-01-01, epoch ms */

/* ---- the stream ----------------------------------------------------------- */

typedef harness_events stream;

static void add(stream *s, const char *customer, const char *type, int64_t ts, const char *extra)
{
    harness_events_add(s, customer, type, ts, extra);
}

static void stream_free(stream *s)
{
    harness_events_free(s);
}

static int64_t at(int day, int hour, int min)
{
    return D0 + day * DAY + hour * HOUR + min * 60000LL;
}

/* Offsets of the events the expected alerts name (set by scenario()). */
static int64_t OFF_C1_NPS, OFF_C1_VISIT, OFF_C2_PURCHASE, OFF_C4_DOWNGRADE;

/* The stream of expected_alerts (README "Risk" rules, default weights):
 *  c1: purchase k0, payment_failed k0, downgrade k2 (risk 0.4 + 0.3 -> 0.58),
 *      NPS 2 k2 13:00 -> 1 - 0.6 x 0.7 x 0.7 = 0.706: churn_risk (prev 0.58);
 *      a visit on k5 (still 0.706, disarmed); payment_failed leaves on k30,
 *      downgrade on k32 (idle 27: 13/28 x 0.75 = 0.3482; 1 - 0.6518 x 0.7 =
 *      0.5438 < 0.6: re-armed, and its incident resolved at k32 00:00, prev
 *      the k31 score 0.6675); inactivity then climbs: k40 idle 35 ->
 *      0.69375, k41 idle 36 -> 0.7125: churn_risk at k41 00:00 (prev 0.6938);
 *      churns 90 days after the visit: churned at k95 12:00 with the score of
 *      that day (0.75 inactivity, 0.3 NPS: 0.825), prev 0.825 (last scored
 *      k47), in the incident the k41 alert opened (still open)
 *  c2: purchase k0 12:30, then silent: k40 idle 40 -> 0.6964, k41 -> 0.7232:
 *      churn_risk at k41 00:00; churned at k90 12:30 with 0.75, prev 0.75
 *  c3: like c1 but clv 10, below alerts.min_clv 50: never alerted
 *  c4: purchase k90, payment_failed k95, NPS 1 and downgrade k96 -> 0.706:
 *      churn_risk, and still at risk at the end
 *  clock: a visit every day at 00:00 up to k97 moves the watermark (lateness
 *      0); it never buys, so it is never scored. */
static void scenario(stream *s)
{
    add(s, "c1", "purchase", at(0, 12, 0), "\"amount\":100");
    add(s, "c2", "purchase", at(0, 12, 30), "\"amount\":100");
    OFF_C2_PURCHASE = (int64_t)s->n - 1;
    add(s, "c3", "purchase", at(0, 12, 45), "\"amount\":10");
    add(s, "c1", "payment_failed", at(0, 13, 0), NULL);
    add(s, "c3", "payment_failed", at(0, 13, 10), NULL);
    add(s, "c3", "downgrade", at(0, 13, 20), NULL);
    add(s, "c3", "nps_response", at(0, 13, 30), "\"score\":0");
    for (int k = 1; k <= 97; k++) {
        add(s, "clock", "visit", at(k, 0, 0), NULL);
        if (k == 2) {
            add(s, "c1", "downgrade", at(2, 12, 0), NULL);
            add(s, "c1", "nps_response", at(2, 13, 0), "\"score\":2");
            OFF_C1_NPS = (int64_t)s->n - 1;
        } else if (k == 5) {
            add(s, "c1", "visit", at(5, 12, 0), NULL);
            OFF_C1_VISIT = (int64_t)s->n - 1;
        } else if (k == 90) {
            add(s, "c4", "purchase", at(90, 12, 0), "\"amount\":100");
        } else if (k == 95) {
            add(s, "c4", "payment_failed", at(95, 12, 0), NULL);
        } else if (k == 96) {
            add(s, "c4", "nps_response", at(96, 12, 0), "\"score\":1");
            add(s, "c4", "downgrade", at(96, 13, 0), NULL);
            OFF_C4_DOWNGRADE = (int64_t)s->n - 1;
        }
    }
}

typedef struct want {
    const char *kind, *customer;
    int64_t event_ts;
    const char *risk, *prev; /* as the JSON prints them */
    const int64_t *offset;
} want;

static const want WANT[] = {
    { "churn_risk", "c1", 0, "0.706", "0.58", &OFF_C1_NPS },
    { "resolved", "c1", 0, "0.5438", "0.6675", &OFF_C1_VISIT },
    { "churn_risk", "c1", 0, "0.7125", "0.6938", &OFF_C1_VISIT },
    { "churn_risk", "c2", 0, "0.7232", "0.6964", &OFF_C2_PURCHASE },
    { "churned", "c2", 0, "0.75", "0.75", &OFF_C2_PURCHASE },
    { "churned", "c1", 0, "0.825", "0.825", &OFF_C1_VISIT },
    { "churn_risk", "c4", 0, "0.706", "0.58", &OFF_C4_DOWNGRADE },
};
#define NWANT (sizeof(WANT) / sizeof(WANT[0]))

/* When each alert's incident opened. */
static int64_t want_opened(size_t i)
{
    static const int days[NWANT][3] = { { 2, 13, 0 },  { 2, 13, 0 },  { 41, 0, 0 }, { 41, 0, 0 },
                                        { 41, 0, 0 },  { 41, 0, 0 },  { 96, 13, 0 } };
    return at(days[i][0], days[i][1], days[i][2]);
}

/* The incident key as README "Alerts" defines it, recomputed here. */
static void expected_incident(const char *customer, int64_t opened, char out[33])
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "incident%c%s%c%lld", 0, customer, 0, (long long)opened);
    XXH128_hash_t h = XXH3_128bits(buf, (size_t)n);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

static int64_t want_ts(size_t i)
{
    static const int days[NWANT][3] = { { 2, 13, 0 },  { 32, 0, 0 }, { 41, 0, 0 },  { 41, 0, 0 },
                                        { 90, 12, 30 }, { 95, 12, 0 }, { 96, 13, 0 } };
    return at(days[i][0], days[i][1], days[i][2]);
}

/* alert_id as README "Alerts" defines it, recomputed here. */
static void expected_id(const char *kind, const char *customer, const char *topic, int partition,
                        int64_t offset, int64_t event_ts, char out[33])
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s%c%s%c%s%c%d%c%lld%c%lld", kind, 0, customer, 0, topic, 0,
                     partition, 0, (long long)offset, 0, (long long)event_ts);
    XXH128_hash_t h = XXH3_128bits(buf, (size_t)n);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

/* ---- running clmd ----------------------------------------------------------- */

typedef struct run {
    char tmp[64], cfg[128], log[128];
    harness_redis *redis;
    redisContext *rc;
} run;

/* Writes the config: topic, alert topic, group; alerts_extra is appended
 * to the alerts object (default: no rate limit to speak of), extra to the
 * top-level object. */
static void write_cfg(run *r, const char *topic, const char *alert_topic, const char *group,
                      const char *alerts_extra, int flush_ms, const char *extra)
{
    FILE *f = fopen(r->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"%s\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": %d},\n"
            " \"core\": {\"workers\": 2, \"shutdown_timeout_s\": 3},\n"
            " \"http\": {\"port\": 0},\n"
            " \"events\": {\"allowed_lateness_s\": 0},\n"
            " \"alerts\": {\"topic\": \"%s\", \"min_clv\": 50%s}%s}\n",
            harness_kafka_bootstraps(K), topic, group, harness_redis_port(r->redis), flush_ms,
            alert_topic, alerts_extra ? alerts_extra : ", \"rate_per_s\": 100000, \"burst\": 100000",
            extra ? extra : "");
    fclose(f);
}

static void run_init(run *r, const char *topic, const char *alert_topic, const char *group,
                     const char *alerts_extra)
{
    snprintf(r->tmp, sizeof(r->tmp), "/tmp/clm-alerts-XXXXXX");
    assert_non_null(mkdtemp(r->tmp));
    snprintf(r->cfg, sizeof(r->cfg), "%s/clmd.json", r->tmp);
    snprintf(r->log, sizeof(r->log), "%s/clmd.log", r->tmp);
    CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r->redis, &r->rc, errbuf, sizeof(errbuf)));
    write_cfg(r, topic, alert_topic, group, alerts_extra, 100, NULL);
}

typedef struct logwait {
    const char *path, *text;
} logwait;

/* True once the file contains the text. */
static bool log_has(void *arg)
{
    logwait *w = arg;
    FILE *f = fopen(w->path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, w->text) != NULL;
    fclose(f);
    return found;
}

static void wait_log(run *r, const char *text)
{
    logwait w = { r->log, text };
    if (harness_wait_until(log_has, &w, 20000) < 0)
        fail_msg("no line with \"%s\" in %s", text, r->log);
}

static void run_free(run *r)
{
    if (r->rc)
        redisFree(r->rc);
    CHECK(harness_redis_stop(r->redis, errbuf, sizeof(errbuf)));
    harness_redis_free(r->redis);
}

static harness_proc *start(run *r)
{
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, r->log, &p, errbuf, sizeof(errbuf)));
    return p;
}

static void stop(harness_proc *p)
{
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

typedef struct waiter {
    redisContext *c;
    const char *key, *field, *cmd;
    long long want;
} waiter;

static bool field_reached(void *arg)
{
    waiter *w = arg;
    return harness_redis_hget_int(w->c, w->key, w->field) >= w->want;
}

static void wait_consumed(run *r, long long n)
{
    waiter w = { .c = r->rc, .key = "clm:stats", .field = "consumed", .want = n };
    if (harness_wait_until(field_reached, &w, 60000) < 0)
        fail_msg("clmd consumed %lld of %lld messages in 60 s (log %s)",
                 harness_redis_hget_int(r->rc, "clm:stats", "consumed"), n, r->log);
}

static long long hlen(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "HLEN %s", key);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static bool outbox_has(void *arg)
{
    waiter *w = arg;
    return hlen(w->c, "clm:alerts:outbox") == w->want;
}

static void wait_outbox(run *r, long long n)
{
    waiter w = { .c = r->rc, .want = n };
    if (harness_wait_until(outbox_has, &w, 30000) < 0)
        fail_msg("the outbox holds %lld alerts, expected %lld (log %s)",
                 hlen(r->rc, "clm:alerts:outbox"), n, r->log);
}

/* ---- reading the alert topic -------------------------------------------------- */

typedef struct got {
    json_t *doc;
    char *text; /* the message value */
    char *key;
} got;

/* Reads the alert topic until it holds `n` messages (30 s at most). */
static harness_records *read_alerts(const char *topic, size_t n)
{
    harness_records *recs = NULL;
    for (int i = 0; i < 300; i++) {
        harness_records_free(recs);
        recs = NULL;
        int r = harness_kafka_read_topic(harness_kafka_bootstraps(K), topic, 5000, &recs, errbuf,
                                         sizeof(errbuf));
        if (r == 0 && recs->n >= n)
            return recs;
        usleep(100000);
    }
    fail_msg("the alert topic %s has %zu messages, expected %zu", topic, recs ? recs->n : 0, n);
    return NULL;
}

/* The value without its "emitted_at":"..." member. */
static char *without_emitted_at(const char *v)
{
    char *s = strdup(v);
    char *p = strstr(s, "\"emitted_at\":\"");
    assert_non_null(p);
    char *end = strchr(p + 14, '"');
    assert_non_null(end);
    memmove(p, end + 2, strlen(end + 2) + 1); /* the member and its comma */
    return s;
}

static int cmp_doc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "event_ts")),
                   json_string_value(json_object_get(y, "event_ts")));
    return c ? c : strcmp(json_string_value(json_object_get(x, "customer_id")),
                          json_string_value(json_object_get(y, "customer_id")));
}

/* Checks the alert documents against WANT (order-independent). */
static void check_docs(json_t **docs, size_t n, const char *topic)
{
    assert_int_equal(n, NWANT);
    qsort(docs, n, sizeof(*docs), cmp_doc);
    for (size_t i = 0; i < n; i++) {
        json_t *d = docs[i];
        const want *w = &WANT[i];
        char ts[32], id[33], incident[33], *risk = json_dumps(json_object_get(d, "risk"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)),
                            *prev = json_dumps(json_object_get(d, "previous_risk"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        clm_ts_format(want_ts(i), ts);
        expected_id(w->kind, w->customer, topic, 0, *w->offset, want_ts(i), id);
        expected_incident(w->customer, want_opened(i), incident);
        if (strcmp(json_string_value(json_object_get(d, "kind")), w->kind) ||
            strcmp(json_string_value(json_object_get(d, "incident")), incident) ||
            strcmp(json_string_value(json_object_get(d, "customer_id")), w->customer) ||
            strcmp(json_string_value(json_object_get(d, "event_ts")), ts) || strcmp(risk, w->risk) ||
            strcmp(prev, w->prev) ||
            json_integer_value(json_object_get(json_object_get(d, "source"), "offset")) != *w->offset ||
            strcmp(json_string_value(json_object_get(d, "alert_id")), id)) {
            char *all = json_dumps(d, JSON_COMPACT);
            fail_msg("alert %zu: got %s; want %s %s at %s risk %s prev %s offset %lld id %s "
                     "incident %s", i, all, w->kind, w->customer, ts, w->risk, w->prev,
                     (long long)*w->offset, id, incident);
        }
        free(risk);
        free(prev);
    }
}

/* Parses the records (skipping none) into documents; checks keys. */
static json_t **docs_of(const harness_records *recs)
{
    json_t **docs = calloc(recs->n + 1, sizeof(*docs));
    for (size_t i = 0; i < recs->n; i++) {
        docs[i] = json_loadb(recs->v[i].value, recs->v[i].value_len, 0, NULL);
        assert_non_null(docs[i]);
        assert_non_null(recs->v[i].key);
        assert_string_equal(recs->v[i].key, json_string_value(json_object_get(docs[i], "customer_id")));
    }
    return docs;
}

static void docs_free(json_t **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
}

static char *hget(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    char *v = r && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

/* ---- tests ---------------------------------------------------------------------- */

static stream S;

static void test_expected_alerts(void **state)
{
    (void)state;
    run r;
    run_init(&r, "clm.events", "clm.alerts", "g1", NULL);
    harness_proc *p = start(&r);
    wait_consumed(&r, (long long)S.n);
    wait_outbox(&r, 0);
    stop(p);

    harness_records *recs = read_alerts("clm.alerts", NWANT);
    json_t **docs = docs_of(recs);
    check_docs(docs, recs->n, "clm.events");
    /* one document in full (all but emitted_at), as README "Alerts" shows it */
    char *c1 = NULL;
    for (size_t i = 0; i < recs->n; i++)
        if (!strcmp(json_string_value(json_object_get(docs[i], "customer_id")), "c1") &&
            !strcmp(json_string_value(json_object_get(docs[i], "event_ts")), "2025-01-03T13:00:00.000Z"))
            for (size_t k = 0; k < recs->n; k++)
                if (strstr(recs->v[k].value, json_string_value(json_object_get(docs[i], "alert_id"))))
                    c1 = without_emitted_at(recs->v[k].value);
    assert_non_null(c1);
    char id[33], incident[33];
    expected_id("churn_risk", "c1", "clm.events", 0, OFF_C1_NPS, at(2, 13, 0), id);
    expected_incident("c1", at(2, 13, 0), incident);
    char *want = NULL;
    assert_true(asprintf(&want,
                         "{\"alert_id\":\"%s\",\"kind\":\"churn_risk\",\"customer_id\":\"c1\","
                         "\"incident\":\"%s\",\"severity\":\"warning\",\"risk\":0.706,\"previous_risk\":0.58,\"stage\":\"conversion\",\"clv\":100,"
                         "\"clv_rate\":1216.666666,\"reasons\":["
                         "{\"signal\":\"nps_detractor\",\"value\":2.0,\"weight\":0.3,\"contribution\":0.3},"
                         "{\"signal\":\"payment_failed\",\"value\":2.0,\"weight\":0.4,\"contribution\":0.4},"
                         "{\"signal\":\"downgrade\",\"value\":0.0,\"weight\":0.3,\"contribution\":0.3}],"
                         "\"event_ts\":\"2025-01-03T13:00:00.000Z\","
                         "\"source\":{\"topic\":\"clm.events\",\"partition\":0,\"offset\":%lld}}",
                         id, incident, (long long)OFF_C1_NPS) > 0);
    assert_string_equal(c1, want);
    free(want);
    free(c1);

    /* Redis: the same alerts in the stream; c4 alone is at risk */
    redisReply *x = redisCommand(r.rc, "XLEN clm:alerts");
    assert_int_equal(x->integer, (long long)NWANT);
    freeReplyObject(x);
    x = redisCommand(r.rc, "ZRANGE clm:at_risk 0 -1 WITHSCORES");
    assert_int_equal(x->elements, 2);
    assert_string_equal(x->element[0]->str, "c4");
    assert_true(strtod(x->element[1]->str, NULL) == 0.706);
    freeReplyObject(x);
    char *v = hget(r.rc, "clm:customer:c4", "risk");
    assert_string_equal(v, "0.7060");
    free(v);
    v = hget(r.rc, "clm:customer:c4", "risk_reasons");
    /* scored on k96 (nothing changes by k97): payment_failed 1 day before */
    assert_string_equal(v, "[{\"signal\":\"nps_detractor\",\"value\":1.0,\"contribution\":0.3},"
                           "{\"signal\":\"payment_failed\",\"value\":1.0,\"contribution\":0.4},"
                           "{\"signal\":\"downgrade\",\"value\":0.0,\"contribution\":0.3}]");
    free(v);
    v = hget(r.rc, "clm:customer:c1", "risk");
    assert_string_equal(v, "0.0000"); /* churned: not scored */
    free(v);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "alerts_emitted"), (long long)NWANT);
    docs_free(docs, recs->n);
    harness_records_free(recs);
    run_free(&r);
}

static void test_replay_identical(void **state)
{
    (void)state;
    run a, b;
    /* two groups, two fresh Redis servers, one alert topic each */
    run_init(&a, "clm.events", "clm.alerts.a", "ga", NULL);
    run_init(&b, "clm.events", "clm.alerts.b", "gb", NULL);
    harness_proc *p = start(&a);
    wait_consumed(&a, (long long)S.n);
    wait_outbox(&a, 0);
    stop(p);
    p = start(&b);
    wait_consumed(&b, (long long)S.n);
    wait_outbox(&b, 0);
    stop(p);
    harness_records *ra = read_alerts("clm.alerts.a", NWANT), *rb = read_alerts("clm.alerts.b", NWANT);
    assert_int_equal(ra->n, rb->n);
    size_t matched = 0;
    for (size_t i = 0; i < ra->n; i++) {
        char *x = without_emitted_at(ra->v[i].value);
        for (size_t k = 0; k < rb->n; k++) {
            char *y = without_emitted_at(rb->v[k].value);
            if (!strcmp(x, y))
                matched++;
            free(y);
        }
        free(x);
    }
    assert_int_equal(matched, NWANT);
    harness_records_free(ra);
    harness_records_free(rb);
    run_free(&a);
    run_free(&b);
}

static void test_kill_before_publish(void **state)
{
    (void)state;
    const char *topic = "clm.alerts.k";
    CHECK(harness_kafka_create_topic(K, topic, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_set_leader(K, topic, 0, 2, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_set_coordinator(K, "gk", 1, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_broker_down(K, 2, errbuf, sizeof(errbuf)));
    run r;
    run_init(&r, "clm.events", topic, "gk", NULL);
    harness_proc *p = start(&r);
    wait_consumed(&r, (long long)S.n);
    wait_outbox(&r, (long long)NWANT); /* durable in Redis, not delivered */
    CHECK(harness_proc_signal(p, SIGKILL));
    int st;
    CHECK(harness_proc_wait(p, 10000, &st, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    CHECK(harness_kafka_broker_up(K, 2, errbuf, sizeof(errbuf)));
    p = start(&r);
    wait_outbox(&r, 0);
    stop(p);
    harness_records *recs = read_alerts(topic, NWANT);
    json_t **docs = docs_of(recs);
    check_docs(docs, recs->n, "clm.events"); /* exactly once here: nothing was delivered before */
    docs_free(docs, recs->n);
    harness_records_free(recs);
    run_free(&r);
}

/* The digest documents of an alert topic (one expected), without
 * emitted_at; every other message is a churn_risk alert, counted. */
static char *digest_of(harness_records *recs, long long *risk)
{
    char *digest = NULL;
    *risk = 0;
    for (size_t i = 0; i < recs->n; i++) {
        json_t *d = json_loadb(recs->v[i].value, recs->v[i].value_len, 0, NULL);
        assert_non_null(d);
        const char *kind = json_string_value(json_object_get(d, "kind"));
        if (!strcmp(kind, "churn_risk")) {
            (*risk)++;
        } else {
            assert_string_equal(kind, "digest");
            assert_null(digest);
            assert_string_equal(recs->v[i].key, "digest");
            digest = without_emitted_at(recs->v[i].value);
        }
        json_decref(d);
    }
    assert_non_null(digest);
    return digest;
}

/* 30 customers at risk within one paging window at 1 alert per 10000 s,
 * burst 2: every alert is kept and published, two page, the 28 others are
 * named (20) and counted (8) by one digest once the watermark passes the
 * window; a replay into a fresh Redis makes the same digest. */
static void test_rate_limit(void **state)
{
    (void)state;
    stream s = { 0 };
    char id[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "r%02d", i);
        add(&s, id, "purchase", at(0, 10, i), "\"amount\":100");
    }
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "r%02d", i);
        add(&s, id, "payment_failed", at(0, 11, i), NULL);
        add(&s, id, "downgrade", at(0, 11, i), NULL);
        add(&s, id, "nps_response", at(0, 11, i), "\"score\":0");
    }
    add(&s, "clock", "visit", at(0, 12, 5), NULL); /* the watermark passes 12:00 */
    CHECK(harness_kafka_create_topic(K, "clm.events.r", 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(K), "clm.events.r", s.kv, s.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    static const char *limit = ", \"rate_per_s\": 0.0001, \"burst\": 2, \"summary_interval_s\": 3600";
    run r, again;
    run_init(&r, "clm.events.r", "clm.alerts.r", "gr", limit);
    harness_proc *p = start(&r);
    wait_consumed(&r, (long long)s.n);
    waiter w = { .c = r.rc, .key = "clm:stats", .field = "alerts_digests", .want = 1 };
    if (harness_wait_until(field_reached, &w, 30000) < 0)
        fail_msg("alerts_emitted %lld, alerts_in_digest %lld, no digest (log %s)",
                 harness_redis_hget_int(r.rc, "clm:stats", "alerts_emitted"),
                 harness_redis_hget_int(r.rc, "clm:stats", "alerts_in_digest"), r.log);
    wait_outbox(&r, 0);
    stop(p);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "alerts_emitted"), 30);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "alerts_in_digest"), 28);
    redisReply *x = redisCommand(r.rc, "XLEN clm:alerts");
    assert_int_equal(x->integer, 31); /* every alert, and the digest */
    freeReplyObject(x);
    x = redisCommand(r.rc, "HKEYS clm:alerts:paging:{gr:0}");
    assert_int_equal(x->elements, 1); /* decided: only the limit's state is left */
    assert_string_equal(x->element[0]->str, "tat");
    freeReplyObject(x);

    harness_records *recs = read_alerts("clm.alerts.r", 31);
    long long risk;
    char *digest = digest_of(recs, &risk);
    assert_int_equal(risk, 30);
    json_t *d = json_loads(digest, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "held")), 28);
    assert_int_equal(json_integer_value(json_object_get(d, "more")), 8);
    json_t *named = json_object_get(d, "customers");
    assert_int_equal(json_array_size(named), 20);
    /* in paging order: r00 and r01 paged, r02... held */
    for (size_t i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "r%02zu", i + 2);
        json_t *c = json_array_get(named, i);
        assert_string_equal(json_string_value(json_object_get(c, "customer_id")), id);
        assert_string_equal(json_string_value(json_object_get(c, "kind")), "churn_risk");
    }
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "window"), "start")),
                        "2025-01-01T11:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(d, "severity")), "warning");
    json_decref(d);
    harness_records_free(recs);

    /* the same topic again, another group, a fresh Redis: the same digest */
    run_init(&again, "clm.events.r", "clm.alerts.r2", "gr2", limit);
    p = start(&again);
    wait_consumed(&again, (long long)s.n);
    w.c = again.rc;
    if (harness_wait_until(field_reached, &w, 30000) < 0)
        fail_msg("no digest in the replay (log %s)", again.log);
    wait_outbox(&again, 0);
    stop(p);
    recs = read_alerts("clm.alerts.r2", 31);
    char *digest2 = digest_of(recs, &risk);
    assert_string_equal(digest2, digest);
    free(digest);
    free(digest2);
    harness_records_free(recs);
    stream_free(&s);
    run_free(&r);
    run_free(&again);
}

/* A stream that raises one customer's risk to 0.706 (payment_failed,
 * downgrade, NPS 0) on day k. */
static void at_risk_customer(stream *s, const char *id, int k)
{
    add(s, id, "purchase", at(k, 10, 0), "\"amount\":100");
    add(s, id, "payment_failed", at(k, 11, 0), NULL);
    add(s, id, "downgrade", at(k, 11, 1), NULL);
    add(s, id, "nps_response", at(k, 11, 2), "\"score\":0");
}

static void test_sighup_reload(void **state)
{
    (void)state;
    const char *topic = "clm.events.h", *alerts = "clm.alerts.h";
    stream s1 = { 0 }, s2 = { 0 };
    at_risk_customer(&s1, "h1", 0);
    at_risk_customer(&s2, "h2", 1);
    CHECK(harness_kafka_create_topic(K, topic, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, s1.kv, s1.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    run r;
    run_init(&r, topic, alerts, "gh", ", \"threshold\": 0.8, \"rate_per_s\": 1000, \"burst\": 1000");
    harness_proc *p = start(&r);
    wait_consumed(&r, (long long)s1.n);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "alerts_emitted"), 0); /* 0.706 < 0.8 */

    /* a broken file: reported, the running configuration stays */
    FILE *f = fopen(r.cfg, "w");
    assert_non_null(f);
    fputs("{\"alerts\": {\"threshold\": 2}}", f);
    fclose(f);
    CHECK(harness_proc_signal(p, SIGHUP));
    wait_log(&r, "keeping the running configuration");

    /* threshold 0.7 (live) and a new flush interval (needs a restart) */
    write_cfg(&r, topic, alerts, "gh", ", \"threshold\": 0.7, \"rate_per_s\": 1000, \"burst\": 1000",
              250, NULL);
    CHECK(harness_proc_signal(p, SIGHUP));
    wait_log(&r, "reload: alerts.threshold changed: applied");
    wait_log(&r, "reload: flush.interval_ms changed: it cannot change while running");
    wait_log(&r, "live settings applied, some changes need a restart");
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, s2.kv, s2.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    wait_consumed(&r, (long long)(s1.n + s2.n));
    wait_outbox(&r, 0);
    stop(p);
    harness_records *recs = read_alerts(alerts, 1);
    assert_int_equal(recs->n, 1);
    assert_string_equal(recs->v[0].key, "h2"); /* h1 was scored under 0.8 */
    harness_records_free(recs);
    stream_free(&s1);
    stream_free(&s2);
    run_free(&r);
}

static void test_shutdown_bounded(void **state)
{
    (void)state;
    const char *topic = "clm.events.s";
    stream s1 = { 0 }, s2 = { 0 };
    at_risk_customer(&s1, "s1", 0);
    at_risk_customer(&s2, "s2", 1);
    CHECK(harness_kafka_create_topic(K, topic, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, s1.kv, s1.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    run r;
    run_init(&r, topic, "clm.alerts.s", "gs", NULL);
    harness_proc *p = start(&r);
    wait_consumed(&r, (long long)s1.n);
    /* Redis goes away; more events arrive; then SIGTERM: the final flush
     * cannot happen, so clmd gives up after core.shutdown_timeout_s (3 s) */
    redisFree(r.rc);
    r.rc = NULL;
    CHECK(harness_redis_stop(r.redis, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, s2.kv, s2.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    sleep(1);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 15000, 1, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    wait_log(&r, "shutdown timed out");
    /* nothing lost: with Redis back, a restart applies the second batch */
    CHECK(harness_redis_restart(r.redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r.redis, &r.rc, errbuf, sizeof(errbuf)));
    p = start(&r);
    wait_consumed(&r, (long long)(s1.n + s2.n));
    wait_outbox(&r, 0);
    stop(p);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "alerts_emitted"), 2);
    stream_free(&s1);
    stream_free(&s2);
    run_free(&r);
}

static int setup(void **state)
{
    (void)state;
    D0 = clm_days_from_civil(2025, 1, 1) * DAY;
    if (harness_kafka_start(2, &K, errbuf, sizeof(errbuf)) < 0)
        return -1;
    scenario(&S);
    if (harness_kafka_create_topic(K, "clm.events", 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_set_leader(K, "clm.events", 0, 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_produce(harness_kafka_bootstraps(K), "clm.events", S.kv, S.n, false, 30000, errbuf,
                        sizeof(errbuf)) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stream_free(&S);
    harness_kafka_free(K);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_alerts),
        cmocka_unit_test(test_replay_identical),
        cmocka_unit_test(test_kill_before_publish),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_sighup_reload),
        cmocka_unit_test(test_shutdown_bounded),
    };
    const char *filter = getenv("CLM_ALERTS_FILTER"); /* e.g. "test_rate_limit" */
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("alerts", tests, setup, teardown);
}
