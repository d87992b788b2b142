/* tests/test-money.c - the largest amounts and keyless messages, end to end.
 *
 * One librdkafka mock cluster in this process, a real redis-server per test
 * and clmd as a child process, as in production.
 *   two_max_purchases   two purchases of 10^12 (the contract's largest): the
 *                       customer's clv_rate and the portfolio's
 *                       value_rate_micros stop at INT64_MAX instead of
 *                       wrapping or failing the flush; offsets, stats and
 *                       state all move, and clmd keeps running
 *   ten_max_purchases   ten purchases of 10^12 in two flushes, ten refunds,
 *                       another customer's in a third: every money sum (the
 *                       customer's, the day's in clmd and in Redis, the
 *                       portfolio in Redis) stops at INT64_MAX; a small
 *                       purchase after them is still applied exactly
 *   keyless_split       400 keyless purchases of one customer spread over 4
 *                       partitions and 2 workers: all rejected missing_key
 *                       (dead-lettered, counted), none applied, so no
 *                       customer is owned twice; a keyless marketing_spend
 *                       without a customer is applied
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

static char errbuf[512];
#define CHECK(call)                                                                 \
    do {                                                                            \
        int r_ = (call);                                                            \
        if (r_ < 0)                                                                 \
            fail_msg("%s: %s (%d)", #call, errbuf, r_);                             \
    } while (0)

#define I64_MAX_TEXT "9223372036854775807"
#define MONEY_MAX_TEXT "9223372036854.775807" /* INT64_MAX micro-units */

static harness_kafka *K;

/* ---- running clmd -------------------------------------------------------- */

typedef struct run {
    char tmp[64], cfg[128], log[128];
    harness_redis *redis;
    redisContext *rc;
    harness_proc *p;
} run;

/* A temporary directory, a Redis and a config consuming `topic` as `group`
 * with `workers` workers. */
static void run_init(run *r, const char *topic, const char *group, int workers)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->tmp, sizeof(r->tmp), "/tmp/clm-money-XXXXXX");
    assert_non_null(mkdtemp(r->tmp));
    snprintf(r->cfg, sizeof(r->cfg), "%s/clmd.json", r->tmp);
    snprintf(r->log, sizeof(r->log), "%s/clmd.log", r->tmp);
    CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r->redis, &r->rc, errbuf, sizeof(errbuf)));
    FILE *f = fopen(r->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"%s\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 100},\n"
            " \"http\": {\"port\": 0},\n"
            " \"core\": {\"workers\": %d, \"shutdown_timeout_s\": 5},\n"
            " \"events\": {\"allowed_lateness_s\": 0}}\n",
            harness_kafka_bootstraps(K), topic, group, harness_redis_port(r->redis), workers);
    fclose(f);
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, NULL };
    CHECK(harness_proc_spawn(argv, r->log, &r->p, errbuf, sizeof(errbuf)));
}

/* The whole log (free it). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t k; (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* SIGTERM and a clean exit: clmd never stopped on its own. */
static void stop(run *r)
{
    CHECK(harness_proc_signal(r->p, SIGTERM));
    if (harness_proc_expect_exit(r->p, 30000, 0, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r->log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r->p);
    r->p = NULL;
}

static void run_free(run *r)
{
    harness_proc_free(r->p);
    if (r->rc)
        redisFree(r->rc);
    harness_redis_free(r->redis);
    unlink(r->cfg);
    unlink(r->log);
    rmdir(r->tmp);
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

/* Waits until clmd has consumed (and flushed) n messages. */
static void wait_consumed(run *r, long long n)
{
    waiter w = { .c = r->rc, .key = "clm:stats", .field = "consumed", .want = n };
    if (harness_wait_until(field_reached, &w, 60000) < 0) {
        char *all = slurp(r->log);
        fail_msg("clmd consumed %lld of %lld messages in 60 s; log:\n%s",
                 harness_redis_hget_int(r->rc, "clm:stats", "consumed"), n, all);
    }
}

/* HGET as text ("" when absent). */
static void hget(run *r, const char *key, const char *field, char *out, size_t size)
{
    redisReply *rep = redisCommand(r->rc, "HGET %s %s", key, field);
    assert_non_null(rep);
    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

static void expect_field(run *r, const char *key, const char *field, const char *want)
{
    char v[128];
    hget(r, key, field, v, sizeof(v));
    if (strcmp(v, want) != 0)
        fail_msg("%s %s is \"%s\", expected \"%s\"", key, field, v, want);
}

static void produce(const char *topic, const harness_kv *kv, size_t n)
{
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, kv, n, false, 30000, errbuf,
                          sizeof(errbuf)));
}

/* A message keyed by customer (NULL: no key) whose value the caller keeps. */
static harness_kv kv_of(const char *key, const char *value)
{
    return (harness_kv){ .key = key, .key_len = key ? strlen(key) : 0, .value = value,
                         .value_len = strlen(value) };
}

/* Values of n events of one customer, "type" with "amount", one a minute
 * on 2025-01-01 from 10:00 + `minute`; a table of strings the caller frees. */
static char **events_of(const char *type, const char *customer, const char *amount, size_t n,
                        int minute)
{
    char **v = calloc(n, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(256);
        assert_non_null(v[i]);
        snprintf(v[i], 256,
                 "{\"event_id\":\"%s-%s-%d\",\"customer_id\":\"%s\",\"type\":\"%s\","
                 "\"ts\":\"2025-01-01T%02d:%02d:00Z\",\"amount\":%s}",
                 type, customer, minute + (int)i, customer, type, 10 + (minute + (int)i) / 60,
                 (minute + (int)i) % 60, amount);
    }
    return v;
}

static void free_events(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Produces n events of one customer, keyed by it. */
static void produce_events(const char *topic, const char *type, const char *customer,
                           const char *amount, size_t n, int minute)
{
    char **v = events_of(type, customer, amount, n, minute);
    harness_kv *kv = calloc(n, sizeof(*kv));
    assert_non_null(kv);
    for (size_t i = 0; i < n; i++)
        kv[i] = kv_of(customer, v[i]);
    produce(topic, kv, n);
    free(kv);
    free_events(v, n);
}

/* ---- the largest amounts (issue 12 item 1) -------------------------------- */

/* Two purchases of 10^12: 2*10^18 micro-units still fit, but the clv rate
 * (revenue x 365 / 30 days) does not: it stops at INT64_MAX, and so does
 * the portfolio, which the flush used to fail on after the rest of its
 * transaction had run. */
static void test_two_max_purchases(void **state)
{
    (void)state;
    CHECK(harness_kafka_create_topic(K, "money2", 1, errbuf, sizeof(errbuf)));
    produce_events("money2", "purchase", "c1", "1000000000000", 2, 0);
    run r;
    run_init(&r, "money2", "g-money2", 1);
    wait_consumed(&r, 2);
    stop(&r);

    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 2);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-money2:0}", "offset:money2"), 2);
    expect_field(&r, "clm:customer:c1", "orders", "2");
    expect_field(&r, "clm:customer:c1", "revenue", "2000000000000");
    expect_field(&r, "clm:customer:c1", "clv", "2000000000000");
    expect_field(&r, "clm:customer:c1", "clv_rate", MONEY_MAX_TEXT);
    expect_field(&r, "clm:day:2025-01-01", "orders", "2");
    expect_field(&r, "clm:day:2025-01-01", "revenue_micros", "2000000000000000000");
    expect_field(&r, "clm:portfolio", "value_rate_micros", I64_MAX_TEXT);
    run_free(&r);
}

/* Ten purchases of 10^12 in two flushes (5 + 5: the second flush's day
 * delta overflows in Redis), ten refunds and another customer's purchase of
 * 10^12 in a third (its rate overflows the portfolio in Redis), and a
 * purchase of 10: the sums stop at INT64_MAX, everything else stays exact. */
static void test_ten_max_purchases(void **state)
{
    (void)state;
    run r;
    CHECK(harness_kafka_create_topic(K, "money10", 1, errbuf, sizeof(errbuf)));
    run_init(&r, "money10", "g-money10", 1);
    produce_events("money10", "purchase", "c1", "1e12", 5, 0);
    wait_consumed(&r, 5);
    expect_field(&r, "clm:day:2025-01-01", "revenue_micros", "5000000000000000000");
    produce_events("money10", "purchase", "c1", "1000000000000.000000", 5, 5);
    wait_consumed(&r, 10);
    expect_field(&r, "clm:day:2025-01-01", "revenue_micros", I64_MAX_TEXT);
    expect_field(&r, "clm:portfolio", "value_rate_micros", I64_MAX_TEXT);
    produce_events("money10", "refund", "c1", "1000000000000", 10, 10);
    produce_events("money10", "purchase", "c2", "1000000000000", 1, 20);
    produce_events("money10", "purchase", "c3", "10", 1, 21);
    wait_consumed(&r, 22);
    stop(&r);

    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 22);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "rejected"), 0);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-money10:0}", "offset:money10"),
                     22);
    expect_field(&r, "clm:customer:c1", "orders", "10");
    expect_field(&r, "clm:customer:c1", "revenue", MONEY_MAX_TEXT);
    expect_field(&r, "clm:customer:c1", "refunds", MONEY_MAX_TEXT);
    expect_field(&r, "clm:customer:c1", "clv", "0");
    expect_field(&r, "clm:customer:c2", "revenue", "1000000000000");
    expect_field(&r, "clm:customer:c2", "clv_rate", MONEY_MAX_TEXT);
    expect_field(&r, "clm:customer:c3", "revenue", "10");
    expect_field(&r, "clm:customer:c3", "clv_rate", "121.666666"); /* 10 x 365 / 30 */
    expect_field(&r, "clm:day:2025-01-01", "orders", "12");
    expect_field(&r, "clm:day:2025-01-01", "new_customers", "3");
    expect_field(&r, "clm:day:2025-01-01", "revenue_micros", I64_MAX_TEXT);
    expect_field(&r, "clm:day:2025-01-01", "refunds_micros", I64_MAX_TEXT);
    expect_field(&r, "clm:day:2025-01-01", "revenue", MONEY_MAX_TEXT);
    expect_field(&r, "clm:portfolio", "value_rate_micros", I64_MAX_TEXT);
    run_free(&r);
}

/* ---- keyless messages (issue 12 item 4) ----------------------------------- */

/* 400 keyless purchases of one customer, produced in 40 batches (a new
 * producer each) so they spread over the 4 partitions, consumed by 2
 * workers: each
 * is dead-lettered missing_key; the customer has no state anywhere. */
static void test_keyless_split(void **state)
{
    (void)state;
    const char *topic = "keyless";
    /* produced in 40 batches of 10 so the producer spreads them */
    CHECK(harness_kafka_create_topic(K, topic, 4, errbuf, sizeof(errbuf)));
    char **v = events_of("purchase", "c1", "10", 400, 0);
    harness_kv kv[400];
    for (size_t i = 0; i < 400; i++)
        kv[i] = kv_of(NULL, v[i]);
    for (int batch = 0; batch < 40; batch++)
        produce(topic, kv + batch * 10, 10);
    free_events(v, 400);
    static const char spend[] =
        "{\"event_id\":\"s-1\",\"type\":\"marketing_spend\",\"ts\":\"2025-01-01T12:00:00Z\",\"amount\":7}";
    harness_kv s = kv_of(NULL, spend);
    produce(topic, &s, 1);

    run r;
    run_init(&r, topic, "g-keyless", 2);
    wait_consumed(&r, 401);
    stop(&r);

    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "rejected"), 400);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:rejected", "missing_key"), 400);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 1);
    expect_field(&r, "clm:customer:c1", "orders", "");
    expect_field(&r, "clm:day:2025-01-01", "orders", "0"); /* the KPI job fills in zeros */
    expect_field(&r, "clm:day:2025-01-01", "spend_micros", "7000000");
    redisReply *rep = redisCommand(r.rc, "EXISTS clm:customer:c1");
    assert_non_null(rep);
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    /* no partition's checkpoint holds the customer */
    for (int p = 0; p < 4; p++) {
        rep = redisCommand(r.rc, "HEXISTS clm:ckpt:{g-keyless:%d} c1", p);
        assert_non_null(rep);
        assert_int_equal(rep->integer, 0);
        freeReplyObject(rep);
    }

    /* every one dead-lettered with its reason, from more than one partition */
    harness_records *dlq = NULL;
    for (int i = 0; i < 300; i++) {
        harness_records_free(dlq);
        dlq = NULL;
        if (harness_kafka_read_topic(harness_kafka_bootstraps(K), "keyless.dlq", 5000, &dlq, errbuf,
                                     sizeof(errbuf)) == 0 && dlq->n >= 400)
            break;
        usleep(100000);
    }
    assert_non_null(dlq);
    assert_int_equal(dlq->n, 400);
    unsigned parts = 0;
    for (size_t i = 0; i < dlq->n; i++) {
        const harness_record *d = &dlq->v[i];
        const char *reason = NULL, *part = NULL;
        for (size_t h = 0; h < d->header_count; h++) {
            if (strcmp(d->headers[h].name, "clm.reason") == 0)
                reason = d->headers[h].value;
            else if (strcmp(d->headers[h].name, "clm.source.partition") == 0)
                part = d->headers[h].value;
        }
        assert_non_null(reason);
        assert_string_equal(reason, "missing_key");
        assert_non_null(part);
        parts |= 1u << atoi(part);
    }
    assert_true(__builtin_popcount(parts) >= 2);
    harness_records_free(dlq);
    run_free(&r);
}

/* ---- the suite ----------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (harness_kafka_start(1, &K, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "harness_kafka_start: %s\n", errbuf);
        return -1;
    }
    return 0;
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
        cmocka_unit_test(test_two_max_purchases),
        cmocka_unit_test(test_ten_max_purchases),
        cmocka_unit_test(test_keyless_split),
    };
    const char *filter = getenv("CLM_MONEY_FILTER"); /* e.g. "test_keyless_split" */
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("money", tests, setup, teardown);
}
