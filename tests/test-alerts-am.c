/* tests/test-alerts-am.c - clmd's alerts reach a real Prometheus
 * Alertmanager end to end: events through the Kafka mock cluster into clmd,
 * its flush writing <prefix>alerts:page, its sink posting to
 * `prometheus-alertmanager` (tests/harness_am.h), which notifies a webhook
 * the test serves.
 *
 *   a1  at risk on day 2 (churn_risk, firing there), NPS 9 on day 3: its
 *       risk falls below threshold - rearm_margin, the incident is resolved
 *       there (a "resolved" notification, and GET /api/v2/alerts no longer
 *       lists it)
 *   a2  at risk on day 1 and staying so: firing, with the labels of its
 *       alert document (alertname, customer_id, stage, severity, kind)
 *   a3  at risk on day 5 and cancelling on day 6, both while Alertmanager
 *       is stopped: the sink counts errors and keeps the page stream; once
 *       Alertmanager is back (same port and storage) the churn_risk alert
 *       arrives and is ended by the churned one, which fires; a2, which
 *       Alertmanager forgot with its restart, fires again (resend)
 * A missing redis-server, clmd or prometheus-alertmanager fails the test.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "tests/harness.h"
#include "tests/harness_am.h"

#define TOPIC "clm.events"
#define DAY CLM_MS_PER_DAY
#define HOUR 3600000LL
#define D0 1735689600000LL /* 2025-01-01 */
#define WAIT_MS 60000

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

static int64_t at(int day, int hour)
{
    return D0 + day * DAY + hour * HOUR;
}

/* A customer whose risk reaches 0.706 on `day` (payment failed, downgrade,
 * NPS 0). */
static void at_risk(harness_events *s, const char *id, int day)
{
    harness_events_add(s, id, "purchase", at(day, 10), "\"amount\":100");
    harness_events_add(s, id, "payment_failed", at(day, 11), NULL);
    harness_events_add(s, id, "downgrade", at(day, 12), NULL);
    harness_events_add(s, id, "nps_response", at(day, 13), "\"score\":0");
}

typedef struct fixture {
    harness_kafka *kafka;
    harness_redis *redis;
    redisContext *rc;
    harness_am *am;
    harness_proc *clmd;
    int http_port;
    char tmp[64], log[128];
} fixture;

static fixture F;

/* ---- what clmd and Alertmanager show ---------------------------------------- */

static double metric(const char *series)
{
    static char body[1 << 16];
    if (harness_http_get(F.http_port, "/metrics", body, sizeof(body)) != 200)
        return -1;
    size_t n = strlen(series);
    for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return -1;
}

/* The labels Alertmanager must show for the alert of `kind` of a customer:
 * built from its document in <prefix>alerts (stage and severity as raised). */
static json_t *labels_for(const char *customer, const char *kind, const char *alertname)
{
    redisReply *r = redisCommand(F.rc, "XRANGE clm:alerts - +");
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    json_t *labels = NULL;
    for (size_t i = 0; i < r->elements && !labels; i++) {
        const redisReply *kv = r->element[i]->element[1];
        for (size_t k = 0; k + 1 < kv->elements; k += 2) {
            if (strcmp(kv->element[k]->str, "json"))
                continue;
            json_t *d = json_loads(kv->element[k + 1]->str, 0, NULL);
            const char *c = json_string_value(json_object_get(d, "customer_id"));
            const char *kd = json_string_value(json_object_get(d, "kind"));
            if (c && !strcmp(c, customer) && !strcmp(kd, kind))
                labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "alertname", alertname,
                                   "customer_id", customer, "stage",
                                   json_string_value(json_object_get(d, "stage")), "severity",
                                   json_string_value(json_object_get(d, "severity")), "kind", kind);
            json_decref(d);
        }
    }
    freeReplyObject(r);
    if (!labels)
        fail_msg("no %s alert of %s in clm:alerts", kind, customer);
    return labels;
}

typedef struct want {
    json_t *labels;
    const char *status; /* webhook status, or NULL: listed by GET /api/v2/alerts */
    bool absent;        /* with status NULL: not listed */
} want;

static bool seen(void *arg)
{
    want *w = arg;
    json_t *a = w->status ? harness_am_hook_find(F.am, w->labels, w->status)
                          : harness_am_find(F.am, w->labels);
    bool ok = w->status || !w->absent ? a != NULL : a == NULL;
    json_decref(a);
    return ok;
}

static void expect(json_t *labels, const char *status, bool absent)
{
    want w = { labels, status, absent };
    if (harness_wait_until(seen, &w, WAIT_MS) != 0) {
        char *l = json_dumps(labels, JSON_COMPACT), *all = json_dumps(harness_am_hook_all(F.am), JSON_COMPACT);
        fail_msg("Alertmanager: %s %s %s (webhook got %s; clmd log %s)", l,
                 status ? "never notified as" : absent ? "still listed" : "not listed",
                 status ? status : "", all, F.log);
    }
}

static bool page_drained(void *arg)
{
    (void)arg;
    return metric("clmd_alerts_outbox_depth{sink=\"alertmanager\"}") == 0;
}

static void wait_consumed(long long n)
{
    long long got;
    if (harness_wait_consumed(F.redis, n, WAIT_MS, &got) < 0)
        fail_msg("clmd consumed %lld of %lld messages (log %s)", got, n, F.log);
}

/* ---- the run ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-alerts-am-XXXXXX");
    if (!mkdtemp(F.tmp) || harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_am_start(&F.am, errbuf, sizeof(errbuf)) < 0 ||
        harness_redis_start(&F.redis, errbuf, sizeof(errbuf)) < 0 ||
        harness_redis_connect(F.redis, &F.rc, errbuf, sizeof(errbuf)) < 0 ||
        harness_free_port(&F.http_port, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# setup: %s\n", errbuf);
        return -1;
    }
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", F.tmp);
    snprintf(F.log, sizeof(F.log), "%s/clmd.log", F.tmp);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"am\"},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 100},\n"
            " \"http\": {\"port\": %d},\n"
            " \"model\": {\"enabled\": false},\n"
            " \"events\": {\"allowed_lateness_s\": 0},\n"
            " \"alerts\": {\"topic\": \"clm.alerts\",\n"
            "   \"alertmanager\": {\"url\": \"http://127.0.0.1:%d\", \"resend_s\": 5}}}\n",
            harness_kafka_bootstraps(F.kafka), harness_redis_port(F.redis), F.http_port,
            harness_am_port(F.am));
    fclose(f);
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    if (harness_proc_spawn(argv, F.log, &F.clmd, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# clmd: %s\n", errbuf);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.clmd) {
        harness_proc_signal(F.clmd, SIGTERM);
        harness_proc_expect_exit(F.clmd, 30000, 0, errbuf, sizeof(errbuf));
        harness_proc_free(F.clmd);
    }
    harness_am_free(F.am);
    if (F.rc)
        redisFree(F.rc);
    harness_redis_free(F.redis);
    harness_kafka_free(F.kafka);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void end_to_end(void **state)
{
    (void)state;
    harness_events s = { 0 };
    /* days 0-2, Alertmanager up: a1 and a2 at risk */
    harness_events_add(&s, "clock", "visit", at(1, 0), NULL); /* events in time order: */
    at_risk(&s, "a2", 1);                                     /* no lateness allowed */
    harness_events_add(&s, "clock", "visit", at(2, 0), NULL);
    at_risk(&s, "a1", 2);
    harness_events_add(&s, "clock", "visit", at(3, 0), NULL); /* the watermark passes both */
    size_t first = s.n;
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, s.kv, s.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    wait_consumed((long long)first);
    json_t *a1 = labels_for("a1", "churn_risk", "CustomerChurnRisk");
    json_t *a2 = labels_for("a2", "churn_risk", "CustomerChurnRisk");
    assert_string_equal(json_string_value(json_object_get(a2, "severity")), "warning");
    expect(a2, NULL, false);          /* firing */
    expect(a1, NULL, false);
    expect(a1, "firing", false);

    /* day 3: a1 answers NPS 9, its risk falls */
    harness_events_add(&s, "a1", "nps_response", at(3, 12), "\"score\":9");
    harness_events_add(&s, "clock", "visit", at(4, 0), NULL);
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, s.kv + first, s.n - first,
                          false, 30000, errbuf, sizeof(errbuf)));
    first = s.n;
    wait_consumed((long long)first);
    expect(a1, "resolved", false);    /* the incident ended there */
    expect(a1, NULL, true);           /* and is no longer listed */
    json_t *a2_listed = harness_am_find(F.am, a2);
    assert_non_null(a2_listed);
    json_t *ann = json_object_get(a2_listed, "annotations");
    assert_non_null(strstr(json_string_value(json_object_get(ann, "summary")), "a2"));
    assert_non_null(json_object_get(ann, "incident"));
    json_decref(a2_listed);

    /* Alertmanager stopped; days 4-7 happen meanwhile */
    double errors = metric("clmd_alerts_sink_errors_total{sink=\"alertmanager\"}");
    CHECK(harness_am_stop(F.am, errbuf, sizeof(errbuf)));
    harness_events_add(&s, "clock", "visit", at(5, 0), NULL);
    at_risk(&s, "a3", 5);
    harness_events_add(&s, "clock", "visit", at(6, 0), NULL);
    harness_events_add(&s, "a3", "cancel", at(6, 9), NULL);
    harness_events_add(&s, "clock", "visit", at(7, 0), NULL);
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, s.kv + first, s.n - first,
                          false, 30000, errbuf, sizeof(errbuf)));
    wait_consumed((long long)s.n);
    for (int i = 0; i < 300 && metric("clmd_alerts_sink_errors_total{sink=\"alertmanager\"}") <= errors; i++)
        usleep(100000);
    assert_true(metric("clmd_alerts_sink_errors_total{sink=\"alertmanager\"}") > errors);
    /* the sink reports its depth after the attempt that failed: wait for it */
    for (int i = 0; i < 300 && metric("clmd_alerts_outbox_depth{sink=\"alertmanager\"}") < 2; i++)
        usleep(100000);
    assert_true(metric("clmd_alerts_outbox_depth{sink=\"alertmanager\"}") >= 2);
    assert_true(metric("clmd_alerts_outbox_oldest_age_seconds{sink=\"alertmanager\"}") > 0);

    /* back on the same port and storage: everything arrives */
    CHECK(harness_am_restart(F.am, errbuf, sizeof(errbuf)));
    if (harness_wait_until(page_drained, NULL, WAIT_MS) != 0)
        fail_msg("the page stream did not drain (log %s)", F.log);
    json_t *a3 = labels_for("a3", "churn_risk", "CustomerChurnRisk");
    json_t *a3c = labels_for("a3", "churned", "CustomerChurned");
    expect(a3c, NULL, false);         /* the churned notice fires */
    expect(a3, NULL, true);           /* it ended the churn_risk alert */
    expect(a2, NULL, false);          /* forgotten by the restart, sent again */
    expect(a1, NULL, true);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
    json_decref(a3c);
    harness_events_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(end_to_end),
    };
    return cmocka_run_group_tests_name("alerts-am", tests, setup, teardown);
}
