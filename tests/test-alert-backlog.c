/* tests/test-alert-backlog.c - an alert topic that takes nothing does not
 * stop ingestion, and nothing raised meanwhile is lost.
 *
 *   topic_leaderless  the alert topic has no leader while CLM_BACKLOG_ALERTS
 *                     (default 150,000) churned alerts are raised, ten times
 *                     more than the alert producer's queue
 *                     (queue.buffering.max.messages 1000 in kafka.properties):
 *                     every event is consumed and flushed, the stall is logged
 *                     once, /metrics shows clmd_alerts_backlog at the number of
 *                     alerts and /healthz stays 200 saying alerts are stalled;
 *                     once the topic has a leader again every alert of the
 *                     stream <prefix>alerts arrives on the topic with its
 *                     alert_id, and the outbox drains.
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "tests/harness.h"

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

static harness_kafka *K;

#define ALERT_PARTITIONS 32

static int free_port(void)
{
    int port = 0;
    if (harness_free_port(&port, errbuf, sizeof(errbuf)) < 0)
        fail_msg("%s", errbuf);
    return port;
}

typedef struct probe {
    int port;
    const char *metric;
    long long want;
    long long last;
    char body[65536];
} probe;

static bool metric_is(void *arg)
{
    probe *p = arg;
    if (harness_http_get(p->port, "/metrics", p->body, sizeof(p->body)) != 200)
        return false;
    p->last = harness_metric_value(p->body, p->metric);
    return p->last == p->want;
}

typedef struct logwait {
    const char *path, *text;
} logwait;

/* Lines of the file containing text. */
static int log_count(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static bool log_has(void *arg)
{
    logwait *w = arg;
    return log_count(w->path, w->text) > 0;
}

typedef struct waiter {
    redisContext *c;
    const char *key, *field;
    long long want;
} waiter;

static bool field_reached(void *arg)
{
    waiter *w = arg;
    return harness_redis_hget_int(w->c, w->key, w->field) >= w->want;
}

static long long hlen(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "HLEN %s", key);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static bool outbox_empty(void *arg)
{
    return hlen(arg, "clm:alerts:outbox") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every alert_id of the stream clm:alerts, sorted; *n set. */
static char **stream_ids(redisContext *c, size_t *n)
{
    size_t cap = 1024, len = 0;
    char **ids = malloc(cap * sizeof(*ids));
    char start[64] = "-";
    assert_non_null(ids);
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE clm:alerts %s + COUNT 10000", start);
        assert_true(r && r->type == REDIS_REPLY_ARRAY);
        if (r->elements == 0) {
            freeReplyObject(r);
            break;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i], *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                if (strcmp(f->element[k]->str, "alert_id") == 0) {
                    if (len == cap) {
                        cap *= 2;
                        ids = realloc(ids, cap * sizeof(*ids));
                        assert_non_null(ids);
                    }
                    ids[len++] = strdup(f->element[k + 1]->str);
                }
            if (i + 1 == r->elements)
                snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }
        freeReplyObject(r);
    }
    qsort(ids, len, sizeof(*ids), cmp_str);
    *n = len;
    return ids;
}

static void ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void test_topic_leaderless(void **state)
{
    (void)state;
    const char *topic = "clm.events.b", *alerts = "clm.alerts.b";
    const char *env = getenv("CLM_BACKLOG_ALERTS");
    size_t ncust = env && atol(env) > 0 ? (size_t)atol(env) : 150000;
    int64_t d0 = clm_days_from_civil(2025, 1, 1) * CLM_MS_PER_DAY;

    /* each customer buys, then cancels: one churned alert (clv 100) */
    size_t nev = 2 * ncust;
    harness_kv *kv = calloc(nev, sizeof(*kv));
    char **bufs = calloc(nev, sizeof(*bufs)), **keys = calloc(ncust, sizeof(*keys));
    assert_true(kv && bufs && keys);
    for (size_t c = 0; c < ncust; c++) {
        char ts1[32], ts2[32];
        clm_ts_format(d0 + (int64_t)c, ts1);
        clm_ts_format(d0 + 3600000 + (int64_t)c, ts2);
        assert_true(asprintf(&keys[c], "b%zu", c) > 0);
        assert_true(asprintf(&bufs[2 * c], "{\"event_id\":\"p%zu\",\"customer_id\":\"%s\","
                                           "\"type\":\"purchase\",\"ts\":\"%s\",\"amount\":100}",
                             c, keys[c], ts1) > 0);
        assert_true(asprintf(&bufs[2 * c + 1], "{\"event_id\":\"c%zu\",\"customer_id\":\"%s\","
                                               "\"type\":\"cancel\",\"ts\":\"%s\"}",
                             c, keys[c], ts2) > 0);
        for (int k = 0; k < 2; k++)
            kv[2 * c + (size_t)k] = (harness_kv){ .key = keys[c], .key_len = strlen(keys[c]),
                                                  .value = bufs[2 * c + (size_t)k],
                                                  .value_len = strlen(bufs[2 * c + (size_t)k]) };
    }
    CHECK(harness_kafka_create_topic(K, topic, 16, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, kv, nev, false, 120000, errbuf,
                          sizeof(errbuf)));
    /* the mock cluster keeps about 5 MB per partition: room for every alert */
    CHECK(harness_kafka_create_topic(K, alerts, ALERT_PARTITIONS, errbuf, sizeof(errbuf)));
    for (int i = 0; i < ALERT_PARTITIONS; i++) /* no leader: the topic takes nothing */
        CHECK(harness_kafka_set_leader(K, alerts, i, -1, errbuf, sizeof(errbuf)));

    char tmp[64] = "/tmp/clm-backlog-XXXXXX", cfg[128], logp[128];
    assert_non_null(mkdtemp(tmp));
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", tmp);
    snprintf(logp, sizeof(logp), "%s/clmd.log", tmp);
    harness_redis *redis = NULL;
    redisContext *rc = NULL;
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));
    int port = free_port();
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"gb\",\n"
            "           \"properties\": {\"queue.buffering.max.messages\": \"1000\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 100},\n"
            " \"core\": {\"workers\": 2, \"shutdown_timeout_s\": 10},\n"
            " \"http\": {\"port\": %d},\n"
            " \"alerts\": {\"topic\": \"%s\", \"rate_per_s\": 1000000, \"burst\": 1000000,\n"
            "            \"stream_maxlen\": 100000000}}\n",
            harness_kafka_bootstraps(K), topic, harness_redis_port(redis), port, alerts);
    fclose(f);

    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, logp, &p, errbuf, sizeof(errbuf)));

    /* ingestion goes on to the end while the alert topic takes nothing */
    waiter w = { .c = rc, .key = "clm:stats", .field = "consumed", .want = (long long)nev };
    if (harness_wait_until(field_reached, &w, 60000) < 0)
        fail_msg("clmd consumed %lld of %zu messages in 60 s with the alert topic stuck (log %s)",
                 harness_redis_hget_int(rc, "clm:stats", "consumed"), nev, logp);
    long long emitted = harness_redis_hget_int(rc, "clm:stats", "alerts_emitted");
    assert_true(emitted >= (long long)ncust);

    /* the backlog is visible: one log line, the gauge, /healthz */
    logwait lw = { logp, "alerts: nothing delivered to clm.alerts.b" };
    if (harness_wait_until(log_has, &lw, 20000) < 0)
        fail_msg("no stall reported in %s", logp);
    probe pr = { .port = port, .metric = "clmd_alerts_outbox_depth{sink=\"kafka\"}", .want = emitted };
    if (harness_wait_until(metric_is, &pr, 10000) < 0)
        fail_msg("clmd_alerts_outbox_depth is %lld, expected %lld", pr.last, emitted);
    pr.metric = "clmd_alerts_delivered_total{sink=\"kafka\"}";
    pr.want = 0;
    assert_true(metric_is(&pr));
    /* the oldest alert waiting is seconds old (stalled for 5 s at least) */
    static char metrics[1 << 16];
    assert_int_equal(harness_http_get(port, "/metrics", metrics, sizeof(metrics)), 200);
    long long age = harness_metric_value(metrics, "clmd_alerts_outbox_oldest_age_seconds{sink=\"kafka\"}");
    if (age < 5)
        fail_msg("clmd_alerts_outbox_oldest_age_seconds is %lld while stalled", age);
    char body[4096];
    assert_int_equal(harness_http_get(port, "/healthz", body, sizeof(body)), 200);
    if (!strstr(body, "ok\n") || !strstr(body, "alerts stalled:"))
        fail_msg("/healthz: \"%s\"", body);
    assert_int_equal(log_count(logp, "alerts: nothing delivered to"), 1);

    /* the topic comes back: every alert arrives, the outbox drains */
    for (int i = 0; i < ALERT_PARTITIONS; i++)
        CHECK(harness_kafka_set_leader(K, alerts, i, 1 + i % 2, errbuf, sizeof(errbuf)));
    if (harness_wait_until(outbox_empty, rc, 90000) < 0)
        fail_msg("the outbox still holds %lld alerts (log %s)", hlen(rc, "clm:alerts:outbox"), logp);
    lw.text = "alerts: clm.alerts.b takes alerts again";
    assert_true(log_has(&lw));
    assert_int_equal(log_count(logp, "alerts: nothing delivered to"), 1);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 60000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);

    size_t nstream = 0;
    char **want = stream_ids(rc, &nstream);
    assert_int_equal(nstream, (size_t)emitted);
    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(K), alerts, 120000, &recs, errbuf,
                                   sizeof(errbuf)));
    char **got = calloc(recs->n + 1, sizeof(*got));
    assert_non_null(got);
    for (size_t i = 0; i < recs->n; i++) {
        json_t *d = json_loadb(recs->v[i].value, recs->v[i].value_len, 0, NULL);
        assert_non_null(d);
        got[i] = strdup(json_string_value(json_object_get(d, "alert_id")));
        assert_string_equal(recs->v[i].key, json_string_value(json_object_get(d, "customer_id")));
        json_decref(d);
    }
    qsort(got, recs->n, sizeof(*got), cmp_str);
    size_t distinct = 0, j = 0;
    for (size_t i = 0; i < recs->n; i++) {
        if (i > 0 && strcmp(got[i], got[i - 1]) == 0)
            continue; /* at least once: a repeat carries the same alert_id */
        if (j >= nstream || strcmp(got[i], want[j]) != 0) {
            fprintf(stderr, "# %zu messages on the topic, %zu in the stream\n", recs->n, nstream);
            fail_msg("the topic and the stream differ at %s (topic) / %s (stream)", got[i],
                     j < nstream ? want[j] : "<end>");
        }
        distinct++;
        j++;
    }
    if (distinct != nstream)
        fail_msg("%zu distinct alerts on the topic (%zu messages), %zu in the stream", distinct,
                 recs->n, nstream);
    ids_free(got, recs->n);
    ids_free(want, nstream);
    harness_records_free(recs);
    redisFree(rc);
    CHECK(harness_redis_stop(redis, errbuf, sizeof(errbuf)));
    harness_redis_free(redis);
    for (size_t i = 0; i < nev; i++)
        free(bufs[i]);
    for (size_t c = 0; c < ncust; c++)
        free(keys[c]);
    free(bufs);
    free(keys);
    free(kv);
}

static int setup(void **state)
{
    (void)state;
    return harness_kafka_start(2, &K, errbuf, sizeof(errbuf)) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_kafka_free(K);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_leaderless),
    };
    return cmocka_run_group_tests_name("alert_backlog", tests, setup, teardown);
}
