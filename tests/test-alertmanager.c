/* tests/test-alertmanager.c - the Alertmanager sink (daemon/am_sink.h)
 * against a real redis-server and a real prometheus-alertmanager, whose
 * only route sends every alert (group_by '...', group_wait 0s,
 * group_interval 1s, send_resolved) to a webhook this test serves.
 *
 * Documents are XADDed to clm:alerts:page as the flush writes them; the
 * test then checks what the webhook received (labels exactly), what GET
 * /api/v2/alerts shows (it lists only alerts that have not ended, so a
 * resolved alert is one absent there and announced "resolved" on the
 * webhook), and the sink's keys: cursor, trimmed stream, firing hash.
 * Alertmanager is stopped by its PID while documents arrive, then started
 * again on the same port and storage: everything still arrives, and the
 * error counter rose meanwhile. Last, clmd itself (CLMD_BIN, against a
 * librdkafka mock cluster) runs its own sink on another prefix: its
 * /metrics show the deliveries, and a stop releases the lease. The
 * README's example Alertmanager configuration is checked with amtool, and
 * the alerts.alertmanager keys are loaded and refused (no peer needed). A
 * missing prometheus-alertmanager or amtool fails the test.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/timeutil.h"
#include "daemon/am_sink.h"
#include "tests/harness.h"
#include "tests/harness_am.h"

#define LINK "https://crm.example.com/customers/{customer_id}"
#define WAIT_MS 60000

static char errbuf[512];

#define CHECK(call)                                                                            \
    do {                                                                                       \
        int r_ = (call);                                                                       \
        if (r_ != 0)                                                                           \
            fail_msg("%s: %d %s", #call, r_, errbuf);                                          \
    } while (0)

/* ---- fixture --------------------------------------------------------------- */

typedef struct fixture {
    harness_redis *redis;
    redisContext *c;
    harness_am *am;          /* Alertmanager and the webhook it notifies */
    clm_am_sink *sink;
    unsigned next_id;
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    CHECK(harness_redis_start(&F.redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(F.redis, &F.c, errbuf, sizeof(errbuf)));
    CHECK(harness_am_start(&F.am, errbuf, sizeof(errbuf)));

    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", harness_am_port(F.am));
    clm_am_sink_conf sc = {
        .url = url, .link = LINK, .prefix = "clm:",
        .redis = { .host = "127.0.0.1", .port = harness_redis_port(F.redis), .timeout_ms = 2000 },
        .resend_s = 5, .timeout_ms = 2000, .batch = 500,
    };
    F.sink = clm_am_sink_new(&sc, errbuf, sizeof(errbuf));
    if (!F.sink)
        fail_msg("clm_am_sink_new: %s", errbuf);
    CHECK(clm_am_sink_start(F.sink));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clm_am_sink_free(F.sink);
    harness_am_free(F.am);
    if (F.c)
        redisFree(F.c);
    harness_redis_free(F.redis);
    return 0;
}

/* ---- documents --------------------------------------------------------- */

static void next_hex(char out[33])
{
    snprintf(out, 33, "%032x", ++F.next_id);
}

static void ts_ago(int64_t ago_ms, char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    clm_ts_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ago_ms, out);
}

/* XADDs a document to the page stream; the entry id into id (may be NULL). */
static void page_add(const char *alert_id, const char *json, char *id, size_t size)
{
    redisReply *r = redisCommand(F.c, "XADD clm:alerts:page * alert_id %s json %s", alert_id, json);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    if (id)
        snprintf(id, size, "%s", r->str);
    freeReplyObject(r);
}

static void add_customer(const char *kind, const char *customer, const char *incident,
                         const char *stage, int64_t ago_ms, char *id, size_t size)
{
    char alert_id[33], ts[32], doc[2048];
    next_hex(alert_id);
    ts_ago(ago_ms, ts);
    snprintf(doc, sizeof(doc),
             "{\"alert_id\":\"%s\",\"kind\":\"%s\",\"customer_id\":\"%s\",\"incident\":\"%s\","
             "\"severity\":\"critical\",\"risk\":0.706,\"previous_risk\":0.58,\"stage\":\"%s\","
             "\"clv\":100,\"clv_rate\":1216.666666,\"reasons\":[{\"signal\":\"payment_failed\","
             "\"value\":1.0,\"weight\":0.4,\"contribution\":0.4}],\"event_ts\":\"%s\","
             "\"emitted_at\":\"%s\",\"source\":{\"topic\":\"clm.events\",\"partition\":0,"
             "\"offset\":8}}",
             alert_id, kind, customer, incident, stage, ts, ts);
    page_add(alert_id, doc, id, size);
}

static void add_resolved(const char *customer, const char *incident, char *id, size_t size)
{
    char alert_id[33], ts[32], doc[2048];
    next_hex(alert_id);
    ts_ago(500, ts);
    snprintf(doc, sizeof(doc),
             "{\"alert_id\":\"%s\",\"kind\":\"resolved\",\"customer_id\":\"%s\",\"incident\":\"%s\","
             "\"reason\":\"risk_fell\",\"risk\":0.55,\"previous_risk\":0.71,\"stage\":\"conversion\","
             "\"clv\":100,\"clv_rate\":1,\"reasons\":[],\"event_ts\":\"%s\",\"emitted_at\":\"%s\","
             "\"source\":{\"topic\":\"clm.events\",\"partition\":0,\"offset\":12}}",
             alert_id, customer, incident, ts, ts);
    page_add(alert_id, doc, id, size);
}

static void add_digest(char digest_id[33], char *id, size_t size)
{
    char ts[32], start[32], doc[2048];
    next_hex(digest_id);
    ts_ago(0, ts);
    ts_ago(60000, start);
    snprintf(doc, sizeof(doc),
             "{\"alert_id\":\"%s\",\"kind\":\"digest\",\"severity\":\"warning\","
             "\"source\":{\"partition\":3},"
             "\"window\":{\"start\":\"%s\",\"end\":\"%s\"},\"held\":57,"
             "\"customers\":[{\"customer_id\":\"c9\",\"kind\":\"churn_risk\",\"risk\":0.8123,"
             "\"alert_id\":\"a\",\"incident\":\"b\"}],\"more\":56,\"event_ts\":\"%s\","
             "\"emitted_at\":\"%s\"}",
             digest_id, start, ts, ts, ts);
    page_add(digest_id, doc, id, size);
}

/* ---- what arrived -------------------------------------------------------- */

static json_t *labels_of(const char *alertname, const char *customer, const char *stage,
                         const char *kind)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "alertname", alertname, "customer_id", customer,
                     "stage", stage, "severity", "critical", "kind", kind);
}

/* Copy of the latest webhook alert with these exact labels and status, or NULL. */
static json_t *hook_find(const json_t *labels, const char *status)
{
    return harness_am_hook_find(F.am, labels, status);
}

typedef struct want {
    json_t *labels;
    const char *status;
} want;

static bool hook_has(void *arg)
{
    want *w = arg;
    json_t *a = hook_find(w->labels, w->status);
    json_decref(a);
    return a != NULL;
}

static void expect_hook(json_t *labels, const char *status)
{
    want w = { labels, status };
    if (harness_wait_until(hook_has, &w, WAIT_MS) != 0) {
        char *l = json_dumps(labels, JSON_COMPACT);
        clm_am_sink_stats st;
        clm_am_sink_get_stats(F.sink, &st);
        fail_msg("no %s alert %s on the webhook (sink: delivered %llu errors %llu depth %lld "
                 "last error \"%s\")", status, l, (unsigned long long)st.delivered,
                 (unsigned long long)st.errors, (long long)st.depth, st.last_error);
    }
}

/* The alert GET /api/v2/alerts lists with these exact labels (new
 * reference), or NULL. */
static json_t *am_find(const json_t *labels)
{
    return harness_am_find(F.am, labels);
}

static bool am_absent(void *arg)
{
    json_t *a = am_find(arg);
    json_decref(a);
    return a == NULL;
}

static long long redis_int(const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(F.c, fmt, arg);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static void expect_cursor(const char *id)
{
    redisReply *r = redisCommand(F.c, "GET clm:alerts:page:cursor");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, id);
    freeReplyObject(r);
}

typedef struct drained {
    const char *id;
} drained;

/* The sink recorded entry id as delivered and trimmed the stream. */
static bool is_drained(void *arg)
{
    drained *d = arg;
    redisReply *r = redisCommand(F.c, "GET clm:alerts:page:cursor");
    bool at = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, d->id) == 0;
    freeReplyObject(r);
    return at && redis_int("XLEN %s", "clm:alerts:page") == 0;
}

static void expect_drained(const char *id)
{
    drained d = { id };
    if (harness_wait_until(is_drained, &d, WAIT_MS) != 0)
        fail_msg("the cursor did not reach %s with the stream trimmed", id);
    expect_cursor(id);
}

/* ---- tests --------------------------------------------------------------- */

static char inc1[33], inc2[33];

static void test_churn_risk_fires(void **state)
{
    (void)state;
    char id[64];
    next_hex(inc1);
    add_customer("churn_risk", "c1", inc1, "conversion", 10000, id, sizeof(id));
    json_t *labels = labels_of("CustomerChurnRisk", "c1", "conversion", "churn_risk");
    expect_hook(labels, "firing");
    json_t *a = hook_find(labels, "firing");
    assert_string_equal(json_string_value(json_object_get(a, "generatorURL")),
                        "https://crm.example.com/customers/c1");
    json_t *ann = json_object_get(a, "annotations");
    assert_string_equal(json_string_value(json_object_get(ann, "summary")),
                        "Customer c1 at churn risk 0.71 in stage conversion, CLV 100");
    assert_string_equal(json_string_value(json_object_get(ann, "reasons")), "payment_failed 0.40");
    assert_string_equal(json_string_value(json_object_get(ann, "incident")), inc1);
    assert_string_equal(json_string_value(json_object_get(ann, "link")),
                        "https://crm.example.com/customers/c1");
    json_decref(a);
    /* active in Alertmanager, with endsAt about now + 4 x 5 s */
    a = am_find(labels);
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "status"), "state")),
                        "active");
    json_decref(a);
    expect_drained(id);
    assert_int_equal(redis_int("HEXISTS clm:alerts:firing %s", inc1), 1);
    clm_am_sink_stats st;
    clm_am_sink_get_stats(F.sink, &st);
    assert_true(st.leader);
    assert_true(st.delivered >= 1);
    json_decref(labels);
}

static void test_resolved_ends_it(void **state)
{
    (void)state;
    char id[64];
    add_resolved("c1", inc1, id, sizeof(id));
    json_t *labels = labels_of("CustomerChurnRisk", "c1", "conversion", "churn_risk");
    expect_hook(labels, "resolved");
    /* GET /api/v2/alerts lists no alert that has ended */
    assert_int_equal(harness_wait_until(am_absent, labels, 10000), 0);
    expect_drained(id);
    assert_int_equal(redis_int("HEXISTS clm:alerts:firing %s", inc1), 0);
    json_decref(labels);
}

static void test_churned_supersedes(void **state)
{
    (void)state;
    char id[64];
    next_hex(inc2);
    add_customer("churn_risk", "c2", inc2, "retention", 5000, NULL, 0);
    json_t *risk = labels_of("CustomerChurnRisk", "c2", "retention", "churn_risk");
    expect_hook(risk, "firing");
    add_customer("churned", "c2", inc2, "churned", 1000, id, sizeof(id));
    json_t *churned = labels_of("CustomerChurned", "c2", "churned", "churned");
    expect_hook(risk, "resolved");
    expect_hook(churned, "firing");
    assert_int_equal(harness_wait_until(am_absent, risk, 10000), 0);
    json_t *a = am_find(churned);
    assert_non_null(a);
    json_decref(a);
    expect_drained(id);
    assert_int_equal(redis_int("HEXISTS clm:alerts:firing %s", inc2), 0);
    json_decref(risk);
    json_decref(churned);
}

static void test_digest_arrives(void **state)
{
    (void)state;
    char id[64], digest_id[33];
    add_digest(digest_id, id, sizeof(id));
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "alertname", "CustomerAlertDigest",
                               "severity", "warning", "kind", "digest", "digest_id", digest_id);
    expect_hook(labels, "firing");
    json_t *a = hook_find(labels, "firing");
    json_t *ann = json_object_get(a, "annotations");
    assert_string_equal(json_string_value(json_object_get(ann, "customers")),
                        "c9 churn_risk 0.8123; and 56 more");
    json_decref(a);
    expect_drained(id);
    json_decref(labels);
}

static void test_second_instance_waits(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", harness_am_port(F.am));
    clm_am_sink_conf sc = {
        .url = url, .link = "", .prefix = "clm:",
        .redis = { .host = "127.0.0.1", .port = harness_redis_port(F.redis), .timeout_ms = 2000 },
        .resend_s = 5, .timeout_ms = 2000, .batch = 10,
    };
    clm_am_sink *other = clm_am_sink_new(&sc, errbuf, sizeof(errbuf));
    assert_non_null(other);
    CHECK(clm_am_sink_start(other));
    usleep(1500000);
    clm_am_sink_stats st;
    clm_am_sink_get_stats(other, &st);
    assert_false(st.leader);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.resent, 0);
    assert_true(st.depth >= 0); /* the gauges are read by every instance */
    clm_am_sink_free(other);
    clm_am_sink_get_stats(F.sink, &st);
    assert_true(st.leader);
}

static char inc3[33], inc4[33];

typedef struct errors_above {
    uint64_t n;
} errors_above;

static bool errors_rose(void *arg)
{
    clm_am_sink_stats st;
    clm_am_sink_get_stats(F.sink, &st);
    return st.errors >= ((errors_above *)arg)->n && st.depth == 3 && st.oldest_age_ms > 0;
}

static void test_alertmanager_down(void **state)
{
    (void)state;
    char id[64], cursor[64], digest_id[33];
    next_hex(inc3);
    add_customer("churn_risk", "c3", inc3, "conversion", 3000, id, sizeof(id));
    json_t *c3 = labels_of("CustomerChurnRisk", "c3", "conversion", "churn_risk");
    expect_hook(c3, "firing");
    expect_drained(id);
    snprintf(cursor, sizeof(cursor), "%s", id);

    /* stopped by its PID; SIGTERM lets it keep its notification log */
    clm_am_sink_stats st;
    clm_am_sink_get_stats(F.sink, &st);
    CHECK(harness_am_stop(F.am, errbuf, sizeof(errbuf)));

    next_hex(inc4);
    add_customer("churn_risk", "c4", inc4, "engagement", 2000, NULL, 0);
    add_digest(digest_id, NULL, 0);
    add_resolved("c3", inc3, id, sizeof(id));
    errors_above want = { st.errors + 2 };
    if (harness_wait_until(errors_rose, &want, 15000) != 0) {
        clm_am_sink_get_stats(F.sink, &st);
        fail_msg("errors %llu depth %lld age %lld while Alertmanager is down",
                 (unsigned long long)st.errors, (long long)st.depth, (long long)st.oldest_age_ms);
    }
    clm_am_sink_get_stats(F.sink, &st);
    assert_true(strstr(st.last_error, "/api/v2/alerts") != NULL);
    expect_cursor(cursor); /* nothing recorded while the posts fail */
    assert_int_equal(redis_int("XLEN %s", "clm:alerts:page"), 3);

    CHECK(harness_am_restart(F.am, errbuf, sizeof(errbuf))); /* same port, same storage */
    json_t *c4 = labels_of("CustomerChurnRisk", "c4", "engagement", "churn_risk");
    json_t *digest = json_pack("{s:s, s:s, s:s, s:s}", "alertname", "CustomerAlertDigest",
                               "severity", "warning", "kind", "digest", "digest_id", digest_id);
    expect_hook(c4, "firing");
    expect_hook(digest, "firing");
    expect_hook(c3, "resolved");
    assert_int_equal(harness_wait_until(am_absent, c3, 10000), 0);
    expect_drained(id);
    assert_int_equal(redis_int("HEXISTS clm:alerts:firing %s", inc4), 1);
    assert_int_equal(redis_int("HEXISTS clm:alerts:firing %s", inc3), 0);
    clm_am_sink_get_stats(F.sink, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.oldest_age_ms, 0);
    assert_int_equal(st.firing, 1);
    json_decref(c3);
    json_decref(c4);
    json_decref(digest);
}

typedef struct resent_above {
    uint64_t n;
} resent_above;

static bool resent_rose(void *arg)
{
    clm_am_sink_stats st;
    clm_am_sink_get_stats(F.sink, &st);
    return st.resent > ((resent_above *)arg)->n;
}

static int64_t ends_of(const json_t *labels)
{
    json_t *a = am_find(labels);
    assert_non_null(a);
    const char *s = json_string_value(json_object_get(a, "endsAt"));
    assert_non_null(s);
    int64_t ms = 0;
    assert_int_equal(clm_rfc3339_parse(s, strlen(s), &ms), 0);
    json_decref(a);
    return ms;
}

static void test_resend_keeps_active(void **state)
{
    (void)state;
    json_t *c4 = labels_of("CustomerChurnRisk", "c4", "engagement", "churn_risk");
    int64_t before = ends_of(c4);
    clm_am_sink_stats st;
    clm_am_sink_get_stats(F.sink, &st);
    resent_above want = { st.resent };
    assert_int_equal(harness_wait_until(resent_rose, &want, 15000), 0);
    int64_t after = ends_of(c4);
    assert_true(after > before); /* pushed forward: still active */
    json_t *a = am_find(c4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "status"), "state")),
                        "active");
    json_decref(a);
    assert_null(hook_find(c4, "resolved"));
    json_decref(c4);
}

/* The value of the metric line that starts with `series ` in a /metrics
 * body; -1 when absent. */
static double metric_of(const char *body, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = body; (p = strstr(p, series)) != NULL; p += n)
        if ((p == body || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

typedef struct metrics_want {
    int port;
    char body[65536];
} metrics_want;

static bool clmd_delivered(void *arg)
{
    metrics_want *m = arg;
    return harness_http_get(m->port, "/metrics", m->body, sizeof(m->body)) == 200 &&
           metric_of(m->body, "clmd_alerts_delivered_total{sink=\"alertmanager\"}") == 1 &&
           metric_of(m->body, "clmd_alerts_firing") == 1 &&
           metric_of(m->body, "clmd_alerts_outbox_depth{sink=\"alertmanager\"}") == 0;
}

/* clmd with alerts.alertmanager.url: the sink runs beside the rest, on
 * prefix clmd: (the sink of this test holds the lease of clm:). */
static void test_clmd_runs_the_sink(void **state)
{
    (void)state;
    harness_kafka *k = NULL;
    CHECK(harness_kafka_start(1, &k, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(k, "clm.events", 1, errbuf, sizeof(errbuf)));
    metrics_want *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    CHECK(harness_free_port(&m->port, errbuf, sizeof(errbuf)));
    char cfg[160], logpath[160];
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", harness_am_dir(F.am));
    snprintf(logpath, sizeof(logpath), "%s/clmd.log", harness_am_dir(F.am));
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\"},\n"
            " \"redis\": {\"port\": %d, \"prefix\": \"clmd:\"},\n"
            " \"http\": {\"port\": %d},\n"
            " \"core\": {\"workers\": 1, \"shutdown_timeout_s\": 10},\n"
            " \"alerts\": {\"alertmanager\": {\"url\": \"http://127.0.0.1:%d\", \"resend_s\": 5,\n"
            "                             \"link\": \"" LINK "\"}}}\n",
            harness_kafka_bootstraps(k), harness_redis_port(F.redis), m->port, harness_am_port(F.am));
    fclose(f);
    const char *bin = getenv("CLMD_BIN");
    const char *argv[] = { bin ? bin : "clmd", "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, logpath, &p, errbuf, sizeof(errbuf)));

    char alert_id[33], incident[33], ts[32], doc[1024];
    next_hex(alert_id);
    next_hex(incident);
    ts_ago(1000, ts);
    snprintf(doc, sizeof(doc),
             "{\"alert_id\":\"%s\",\"kind\":\"churn_risk\",\"customer_id\":\"c7\","
             "\"incident\":\"%s\",\"severity\":\"warning\",\"risk\":0.72,"
             "\"previous_risk\":0.6,\"stage\":null,\"clv\":12.5,\"clv_rate\":1,\"reasons\":[],"
             "\"event_ts\":\"%s\",\"emitted_at\":\"%s\",\"source\":{\"topic\":\"clm.events\","
             "\"partition\":0,\"offset\":1}}",
             alert_id, incident, ts, ts);
    redisReply *r = redisCommand(F.c, "XADD clmd:alerts:page * alert_id %s json %s", alert_id, doc);
    assert_non_null(r);
    freeReplyObject(r);
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "alertname", "CustomerChurnRisk",
                               "customer_id", "c7", "severity", "warning", "kind", "churn_risk");
    expect_hook(labels, "firing");
    if (harness_wait_until(clmd_delivered, m, WAIT_MS) != 0)
        fail_msg("clmd's /metrics never showed the delivery:\n%s", m->body);
    assert_int_equal(metric_of(m->body, "clmd_alerts_sink_errors_total{sink=\"alertmanager\"}"), 0);
    assert_int_equal(metric_of(m->body, "clmd_alerts_outbox_oldest_age_seconds{sink=\"alertmanager\"}"), 0);
    assert_non_null(strstr(m->body, "# TYPE clmd_alerts_firing gauge\n"));

    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    assert_int_equal(redis_int("EXISTS %s", "clmd:alerts:page:lease"), 0); /* released */
    assert_int_equal(redis_int("HLEN %s", "clmd:alerts:firing"), 1);
    json_decref(labels);
    free(m);
    harness_kafka_free(k);
}

/* The alerts.alertmanager keys: defaults, and a url that is not http(s)
 * refused with the key, the value and what is expected. */
static void test_config_keys(void **state)
{
    (void)state;
    clm_config *cfg = NULL;
    char err[512];
    static const char good[] = "{\"alerts\": {\"alertmanager\": {\"url\": \"https://am:9093\"}}}";
    assert_int_equal(clm_config_load_string("t.json", good, strlen(good), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg->alerts_am_url, "https://am:9093");
    assert_string_equal(cfg->alerts_am_link, "");
    assert_int_equal(cfg->alerts_am_resend_s, 60);
    assert_int_equal(cfg->alerts_am_timeout_ms, 5000);
    assert_int_equal(cfg->alerts_am_batch, 500);
    clm_config_free(cfg);
    cfg = NULL;
    static const char *const bad[] = {
        "{\"alerts\": {\"alertmanager\": {\"url\": \"ftp://am\"}}}",
        "{\"alerts\": {\"alertmanager\": {\"url\": \"http://\"}}}",
    };
    static const char *const why[] = {
        "t.json: alerts.alertmanager.url: \"ftp://am\" is not an HTTP URL (expected \"\" or a URL "
        "starting with http:// or https://)",
        "t.json: alerts.alertmanager.url: \"http://\" is not an HTTP URL (expected \"\" or a URL "
        "starting with http:// or https://)",
    };
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(clm_config_load_string("t.json", bad[i], strlen(bad[i]), &cfg, err,
                                                sizeof(err)), -EINVAL);
        assert_null(cfg);
        assert_string_equal(err, why[i]);
    }
    static const char range[] = "{\"alerts\": {\"alertmanager\": {\"resend_s\": 4}}}";
    assert_int_equal(clm_config_load_string("t.json", range, strlen(range), &cfg, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "t.json: alerts.alertmanager.resend_s: 4 is out of range (expected an "
                             "integer 5..3600)");
}

/* The README's example Alertmanager configuration (the yaml block that
 * starts with "# alertmanager.yml") passes amtool check-config. */
static void test_readme_example_config(void **state)
{
    (void)state;
    FILE *in = fopen(CLM_SOURCE_DIR "/README.md", "r");
    assert_non_null(in);
    char path[160], line[1024];
    snprintf(path, sizeof(path), "%s/example.yml", harness_am_dir(F.am));
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    bool inside = false, found = false;
    while (fgets(line, sizeof(line), in)) {
        if (!inside && strncmp(line, "# alertmanager.yml", 18) == 0)
            inside = found = true;
        else if (inside && strncmp(line, "```", 3) == 0)
            break;
        if (inside)
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    assert_true(found);
    char logpath[160];
    snprintf(logpath, sizeof(logpath), "%s/amtool.log", harness_am_dir(F.am));
    const char *argv[] = { "amtool", "check-config", path, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, logpath, &p, errbuf, sizeof(errbuf)));
    int r = harness_proc_expect_exit(p, 20000, 0, errbuf, sizeof(errbuf));
    harness_proc_free(p);
    if (r != 0)
        fail_msg("amtool check-config %s: %s (log %s)", path, errbuf, logpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_churn_risk_fires),
        cmocka_unit_test(test_resolved_ends_it),
        cmocka_unit_test(test_churned_supersedes),
        cmocka_unit_test(test_digest_arrives),
        cmocka_unit_test(test_second_instance_waits),
        cmocka_unit_test(test_alertmanager_down),
        cmocka_unit_test(test_resend_keeps_active),
        cmocka_unit_test(test_clmd_runs_the_sink),
        cmocka_unit_test(test_readme_example_config),
    };
    return cmocka_run_group_tests_name("alertmanager", tests, setup, teardown);
}
