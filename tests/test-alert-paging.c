/* tests/test-alert-paging.c - nothing is dropped by the paging limit, on the
 * quick-start stream (clmgen seed 42, 2,000 people, 50,000 messages, 1%
 * malformed, 8 partitions: what scripts/quickstart.sh produces), at a tight
 * limit (one page per 100,000 s of event time and partition, no burst, one-day
 * windows):
 *
 *   nothing_dropped  every alert raised is in the stream <prefix>alerts and
 *                    on the alert topic; each churn_risk or churned alert
 *                    paged (in <prefix>alerts:page), is named by a digest,
 *                    or waits in its partition's undecided window, exactly
 *                    one of the three; resolved alerts and digests always
 *                    page; every customer in <prefix>at_risk has an alert;
 *                    the counters and /metrics agree
 *   replay_same      the same topic consumed by another group into a fresh
 *                    Redis: the same alerts, digests and resolves, byte for
 *                    byte but emitted_at, and the same alerts page
 *
 * The paging sink is an Alertmanager URL nothing listens on, so what pages
 * stays in <prefix>alerts:page (the sink trims only what it delivered). The
 * model job is off: P(alive) depends on when a fit lands, the rest of the
 * risk on the stream alone.
 * A missing redis-server or clmd fails the test; nothing is skipped.
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

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define PARTITIONS 8

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    int64_t produced;
    int dead_port;  /* nothing listens there */
} fixture;

static fixture F;

/* One run of clmd over the topic into a fresh Redis. */
typedef struct run {
    harness_redis *redis;
    redisContext *rc;
    int http_port;
    char log[160];
} run;

static void run_clmd(run *r, const char *group, const char *alert_topic)
{
    char cfg[160];
    CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r->redis, &r->rc, errbuf, sizeof(errbuf)));
    CHECK(harness_free_port(&r->http_port, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/%s.json", F.tmp, group);
    snprintf(r->log, sizeof(r->log), "%s/%s.log", F.tmp, group);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"%s\"},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 200},\n"
            " \"http\": {\"port\": %d},\n"
            " \"model\": {\"enabled\": false},\n"
            " \"alerts\": {\"topic\": \"%s\", \"rate_per_s\": 0.00001, \"burst\": 1,\n"
            "   \"summary_interval_s\": 86400, \"digest_customers\": 1000,\n"
            "   \"alertmanager\": {\"url\": \"http://127.0.0.1:%d\"}}}\n",
            harness_kafka_bootstraps(F.kafka), group, harness_redis_port(r->redis), r->http_port,
            alert_topic, F.dead_port);
    fclose(f);
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, r->log, &p, errbuf, sizeof(errbuf)));
    long long got;
    if (harness_wait_consumed(r->redis, F.produced, 180000, &got) < 0)
        fail_msg("clmd consumed %lld of %lld messages (log %s)", got, (long long)F.produced, r->log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 60000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

static void run_free(run *r)
{
    redisFree(r->rc);
    harness_redis_free(r->redis);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-paging-XXXXXX");
    if (!mkdtemp(F.tmp) || harness_free_port(&F.dead_port, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC ".dlq", 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# setup: %s\n", errbuf);
        return -1;
    }
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 42;
    o.customers = 2000;
    o.events = 50000;
    o.malformed_rate = 0.01;
    clm_gen *g = NULL;
    if (clm_gen_new(&o, &g, errbuf, sizeof(errbuf)) < 0 ||
        harness_produce_gen(harness_kafka_bootstraps(F.kafka), TOPIC, g, true, 120000, &F.produced,
                            errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# producing: %s\n", errbuf);
        clm_gen_free(g);
        return -1;
    }
    clm_gen_free(g);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_kafka_free(F.kafka);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- reading what a run left ------------------------------------------------ */

typedef struct alert {
    char *id, *kind, *customer;
    char *doc; /* the document without emitted_at */
} alert;

typedef struct alerts {
    alert *v;
    size_t n;
} alerts;

static char *without_emitted_at(const char *s, size_t len)
{
    char *d = strndup(s, len), *p = strstr(d, "\"emitted_at\":\"");
    assert_non_null(p);
    char *end = strchr(p + 14, '"');
    assert_non_null(end);
    memmove(p, end + 2, strlen(end + 2) + 1);
    return d;
}

static const redisReply *field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (!strcmp(kv->element[i]->str, name))
            return kv->element[i + 1];
    return NULL;
}

/* Every entry of a stream of alerts (alert_id, kind, json fields). */
static alerts read_stream(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "XRANGE %s - +", key);
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    alerts a = { calloc(r->elements + 1, sizeof(alert)), r->elements };
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *kv = r->element[i]->element[1], *id = field(kv, "alert_id"),
                         *json = field(kv, "json");
        assert_true(id && json);
        json_t *d = json_loadb(json->str, json->len, 0, NULL);
        assert_non_null(d);
        a.v[i].id = strdup(id->str);
        a.v[i].kind = strdup(json_string_value(json_object_get(d, "kind")));
        const char *cust = json_string_value(json_object_get(d, "customer_id"));
        a.v[i].customer = strdup(cust ? cust : "");
        a.v[i].doc = without_emitted_at(json->str, json->len);
        json_decref(d);
    }
    freeReplyObject(r);
    return a;
}

static void alerts_free(alerts *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].id);
        free(a->v[i].kind);
        free(a->v[i].customer);
        free(a->v[i].doc);
    }
    free(a->v);
}

/* A set of strings (sorted array). */
typedef struct set {
    char **v;
    size_t n, cap;
} set;

static void set_add(set *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        assert_non_null(s->v);
    }
    s->v[s->n++] = strdup(x);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_sort(set *s)
{
    qsort(s->v, s->n, sizeof(*s->v), cmp_str);
}

static bool set_has(const set *s, const char *x)
{
    return s->n && bsearch(&x, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void set_free(set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (set){ 0 };
}

/* The alerts waiting in undecided windows (fields a:<id> of every
 * partition's paging hash). */
static set pending_ids(redisContext *c, const char *group)
{
    set s = { 0 };
    for (int p = 0; p < PARTITIONS; p++) {
        redisReply *r = redisCommand(c, "HKEYS clm:alerts:paging:{%s:%d}", group, p);
        assert_true(r && r->type == REDIS_REPLY_ARRAY);
        for (size_t i = 0; i < r->elements; i++)
            if (!strncmp(r->element[i]->str, "a:", 2))
                set_add(&s, r->element[i]->str + 2);
        freeReplyObject(r);
    }
    set_sort(&s);
    return s;
}

/* ---- tests ------------------------------------------------------------------ */

static run A;

static void nothing_dropped(void **state)
{
    (void)state;
    run_clmd(&A, "ga", "clm.alerts.a");
    alerts st = read_stream(A.rc, "clm:alerts"), pg = read_stream(A.rc, "clm:alerts:page");
    set paged = { 0 }, named = { 0 }, pending = pending_ids(A.rc, "ga"), with_alert = { 0 };
    for (size_t i = 0; i < pg.n; i++)
        set_add(&paged, pg.v[i].id);
    set_sort(&paged);
    long long raised = 0, digests = 0, held = 0, resolved = 0;
    for (size_t i = 0; i < st.n; i++) {
        if (strcmp(st.v[i].kind, "digest")) {
            raised++;
            set_add(&with_alert, st.v[i].customer);
            continue;
        }
        digests++;
        assert_true(set_has(&paged, st.v[i].id)); /* a digest pages */
        json_t *d = json_loads(st.v[i].doc, 0, NULL);
        assert_non_null(d);
        held += json_integer_value(json_object_get(d, "held"));
        assert_int_equal(json_integer_value(json_object_get(d, "more")), 0);
        json_t *cs = json_object_get(d, "customers");
        for (size_t k = 0; k < json_array_size(cs); k++)
            set_add(&named, json_string_value(json_object_get(json_array_get(cs, k), "alert_id")));
        json_decref(d);
    }
    set_sort(&named);
    set_sort(&with_alert);
    assert_int_equal((long long)named.n, held);
    /* each alert: paged, named by a digest, or waiting; exactly one */
    for (size_t i = 0; i < st.n; i++) {
        if (!strcmp(st.v[i].kind, "digest"))
            continue;
        int where = set_has(&paged, st.v[i].id) + set_has(&named, st.v[i].id) +
                    set_has(&pending, st.v[i].id);
        if (where != 1)
            fail_msg("alert %s (%s of %s) is in %d of paged, digest, pending", st.v[i].id,
                     st.v[i].kind, st.v[i].customer, where);
        if (!strcmp(st.v[i].kind, "resolved")) {
            resolved++;
            assert_false(set_has(&named, st.v[i].id)); /* resolves are never held */
        }
    }
    printf("# %lld alerts (%lld resolved): %zu paged (with %lld digests), %lld in digests, "
           "%zu waiting\n", raised, resolved, paged.n, digests, held, pending.n);
    assert_true(digests > 0 && held > 0 && resolved > 0); /* the limit did bite */
    assert_int_equal(paged.n + (size_t)held + pending.n, (size_t)(raised + digests));

    /* every at-risk customer has an alert */
    redisReply *r = redisCommand(A.rc, "ZRANGE clm:at_risk 0 -1");
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements > 0);
    for (size_t i = 0; i < r->elements; i++)
        if (!set_has(&with_alert, r->element[i]->str))
            fail_msg("%s is at risk and has no alert", r->element[i]->str);
    printf("# %zu customers at risk, each with an alert\n", r->elements);
    freeReplyObject(r);

    /* the counters, and the topic holds every alert */
    assert_int_equal(harness_redis_hget_int(A.rc, "clm:stats", "alerts_emitted"), raised);
    assert_int_equal(harness_redis_hget_int(A.rc, "clm:stats", "alerts_in_digest"), held);
    assert_int_equal(harness_redis_hget_int(A.rc, "clm:stats", "alerts_digests"), digests);
    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), "clm.alerts.a", 60000, &recs,
                                   errbuf, sizeof(errbuf)));
    set topic = { 0 };
    for (size_t i = 0; i < recs->n; i++) {
        json_t *d = json_loadb(recs->v[i].value, recs->v[i].value_len, 0, NULL);
        assert_non_null(d);
        set_add(&topic, json_string_value(json_object_get(d, "alert_id")));
        json_decref(d);
    }
    set_sort(&topic);
    for (size_t i = 0; i < st.n; i++)
        if (!set_has(&topic, st.v[i].id))
            fail_msg("alert %s (%s) is not on the alert topic", st.v[i].id, st.v[i].kind);
    harness_records_free(recs);
    set_free(&topic);
    set_free(&paged);
    set_free(&named);
    set_free(&pending);
    set_free(&with_alert);
    alerts_free(&st);
    alerts_free(&pg);
}

static int cmp_doc(const void *a, const void *b)
{
    return strcmp(((const alert *)a)->doc, ((const alert *)b)->doc);
}

static void replay_same(void **state)
{
    (void)state;
    run b;
    run_clmd(&b, "gb", "clm.alerts.b");
    alerts x = read_stream(A.rc, "clm:alerts"), y = read_stream(b.rc, "clm:alerts");
    assert_int_equal(x.n, y.n);
    qsort(x.v, x.n, sizeof(alert), cmp_doc);
    qsort(y.v, y.n, sizeof(alert), cmp_doc);
    for (size_t i = 0; i < x.n; i++)
        if (strcmp(x.v[i].doc, y.v[i].doc))
            fail_msg("the replay differs: %s / %s", x.v[i].doc, y.v[i].doc);
    alerts_free(&x);
    alerts_free(&y);
    x = read_stream(A.rc, "clm:alerts:page");
    y = read_stream(b.rc, "clm:alerts:page");
    assert_int_equal(x.n, y.n);
    qsort(x.v, x.n, sizeof(alert), cmp_doc);
    qsort(y.v, y.n, sizeof(alert), cmp_doc);
    for (size_t i = 0; i < x.n; i++)
        assert_string_equal(x.v[i].id, y.v[i].id);
    printf("# the replay raised the same %zu pages\n", x.n);
    alerts_free(&x);
    alerts_free(&y);
    run_free(&b);
    run_free(&A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_dropped),
        cmocka_unit_test(replay_same),
    };
    return cmocka_run_group_tests_name("alert-paging", tests, setup, teardown);
}
