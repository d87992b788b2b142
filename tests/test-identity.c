/* tests/test-identity.c - the identity merge end to end (README.md,
 * "Identity merge"): identity.topic at start, and the protocol across
 * partitions and instances.
 *
 * One librdkafka mock cluster in this process, a real redis-server (or a
 * Redis Cluster) per test and clmd as child processes, as in production.
 *   missing_topic     identity.topic names a topic that does not exist:
 *                     clmd stops with status 1 before consuming, naming the
 *                     topic; nothing but the prefix's owner and schema is
 *                     written to Redis
 *   partition_count   the internal topic has 2 partitions, the events topic
 *                     4: clmd stops with status 1 naming both counts
 *   second_events_topic  two events topics, the second with another count
 *                     than the internal topic: stops, naming that topic
 *   co_partitioned    one merge on one instance: the anonymous customer's
 *                     event moves into the known one, whose view counts it;
 *                     the anonymous view is gone; one active customer that
 *                     day
 *   alias_expiry      identity.alias_ttl_days 1: events of the anonymous id
 *                     are forwarded until the watermark passes the alias's
 *                     lifetime, then it starts a new customer
 *   forget_known      a forget of the known id releases the alias: the
 *                     anonymous id starts anew, the erased id stays gone
 *   chain             a into b, then b into c: all in c
 *   two_instances     two clmd in one group over 4 partitions, a generated
 *                     population with anonymous starts: views, absence of
 *                     the merged anonymous ids, merges, applied events and
 *                     each day's active_customers equal the merged model
 *   killed_mid_merge  the same, both instances killed (SIGKILL) once the
 *                     first merge record is on the internal topic, and
 *                     restarted: every merge and event counted once
 *   cluster           two_instances on a Redis Cluster of three masters
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "net/redis_cluster.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"
#include "tools/gen.h"

static char errbuf[512];
#define CHECK(call)                                                                 \
    do {                                                                            \
        int r_ = (call);                                                            \
        if (r_ < 0)                                                                 \
            fail_msg("%s: %s (%d)", #call, errbuf, r_);                             \
    } while (0)

#define T0 1764547200000LL /* 2025-12-01T00:00:00Z */

static harness_kafka *K;
/* The redis section of the next run's config (JSON); NULL: the run's own
 * redis-server. */
static const char *redis_section;
/* More members of the identity section of the next run's config (JSON). */
static const char *identity_extra = "";
/* ... and of its events section. */
static const char *events_extra = "";

/* ---- running clmd -------------------------------------------------------- */

typedef struct run {
    char tmp[64], cfg[128], log[128];
    harness_redis *redis;
    redisContext *rc;
    harness_proc *p;
} run;

/* A temporary directory, a Redis and a clmd consuming `topics` (a JSON list
 * body, e.g. "\"a\", \"b\"") as `group` with identity.topic `itopic`. */
static void run_start_on(run *r, harness_redis *shared, const char *topics, const char *group,
                         const char *itopic);

static void run_start(run *r, const char *topics, const char *group, const char *itopic)
{
    run_start_on(r, NULL, topics, group, itopic);
}

/* As run_start, with the Redis of another run when `shared` is not NULL. */
static void run_start_on(run *r, harness_redis *shared, const char *topics, const char *group,
                         const char *itopic)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->tmp, sizeof(r->tmp), "/tmp/clm-identity-XXXXXX");
    assert_non_null(mkdtemp(r->tmp));
    snprintf(r->cfg, sizeof(r->cfg), "%s/clmd.json", r->tmp);
    snprintf(r->log, sizeof(r->log), "%s/clmd.log", r->tmp);
    if (!shared && !redis_section)
        CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    harness_redis *redis = shared ? shared : r->redis;
    char own[64];
    if (redis) {
        CHECK(harness_redis_connect(redis, &r->rc, errbuf, sizeof(errbuf)));
        snprintf(own, sizeof(own), "{\"port\": %d}", harness_redis_port(redis));
    }
    FILE *f = fopen(r->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [%s], \"group_id\": \"%s\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"identity\": {\"topic\": \"%s\"%s},\n"
            " \"redis\": %s,\n"
            " \"flush\": {\"interval_ms\": 100},\n"
            " \"http\": {\"port\": 0},\n"
            " \"core\": {\"workers\": 2, \"shutdown_timeout_s\": 60},\n"
            " \"events\": {\"allowed_lateness_s\": 0%s}}\n",
            harness_kafka_bootstraps(K), topics, group, itopic, identity_extra,
            redis ? own : redis_section, events_extra);
    fclose(f);
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, NULL };
    CHECK(harness_proc_spawn(argv, r->log, &r->p, errbuf, sizeof(errbuf)));
}

/* Starts clmd again with the run's config (after it stopped). */
static void run_restart(run *r)
{
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, NULL };
    harness_proc_free(r->p);
    r->p = NULL;
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

/* clmd (group `group`) stopped by itself with status 1, its log holding
 * `line`, having consumed nothing. */
static void expect_refused(run *r, const char *group, const char *line)
{
    if (harness_proc_expect_exit(r->p, 60000, 1, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r->log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r->p);
    r->p = NULL;
    char *all = slurp(r->log);
    if (!strstr(all, line))
        fail_msg("log lacks \"%s\":\n%s", line, all);
    free(all);
    /* only what a start writes before it connects to Kafka: the prefix's
     * owner and the schema; no offsets, counters or customers */
    char *dump = NULL, want[512], diff[1024];
    CHECK(harness_redis_dump(r->rc, NULL, &dump, errbuf, sizeof(errbuf)));
    snprintf(want, sizeof(want),
             "clm:owner string %s\n"
             "clm:schema hash stages=awareness,acquisition,conversion,onboarding,engagement,"
             "retention,advocacy,churned,reactivated\n"
             "clm:schema hash version=2\n", group);
    if (harness_dump_diff(want, dump, diff, sizeof(diff)))
        fail_msg("Redis after the refused start: %s", diff);
    free(dump);
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

/* ---- cases ----------------------------------------------------------------- */

static void test_missing_topic(void **state)
{
    (void)state;
    run r;
    CHECK(harness_kafka_create_topic(K, "ev-missing", 4, errbuf, sizeof(errbuf)));
    run_start(&r, "\"ev-missing\"", "g-missing", "ev-missing.clmd-identity");
    expect_refused(&r, "g-missing", "identity.topic: topic \"ev-missing.clmd-identity\" does not exist "
                       "(expected it created with as many partitions as \"ev-missing\")");
    run_free(&r);
}

static void test_partition_count(void **state)
{
    (void)state;
    run r;
    CHECK(harness_kafka_create_topic(K, "ev-count", 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-count.clmd-identity", 2, errbuf, sizeof(errbuf)));
    run_start(&r, "\"ev-count\"", "g-count", "ev-count.clmd-identity");
    expect_refused(&r, "g-count", "identity.topic: topic \"ev-count.clmd-identity\" has 2 partitions, "
                       "events topic \"ev-count\" has 4 (expected the same count");
    run_free(&r);
}

static void test_second_events_topic(void **state)
{
    (void)state;
    run r;
    CHECK(harness_kafka_create_topic(K, "ev-two-a", 3, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-two-b", 5, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-two.identity", 3, errbuf, sizeof(errbuf)));
    run_start(&r, "\"ev-two-a\", \"ev-two-b\"", "g-two", "ev-two.identity");
    expect_refused(&r, "g-two", "identity.topic: topic \"ev-two.identity\" has 3 partitions, events "
                       "topic \"ev-two-b\" has 5 (expected the same count");
    run_free(&r);
}

static void test_co_partitioned(void **state)
{
    (void)state;
    run r;
    harness_events ev = { 0 };
    CHECK(harness_kafka_create_topic(K, "ev-ok", 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-ok.clmd-identity", 4, errbuf, sizeof(errbuf)));
    harness_events_add(&ev, "anon-1", "page_view", T0, NULL);
    harness_events_add(&ev, "known-1", "signup", T0 + 1000, NULL);
    harness_events_add(&ev, "known-1", "identify", T0 + 2000, "\"anonymous_id\":\"anon-1\"");
    harness_events_add(&ev, "known-1", "purchase", T0 + 3000, "\"amount\":12.5");
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-ok", ev.kv, ev.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    run_start(&r, "\"ev-ok\"", "g-ok", "ev-ok.clmd-identity");
    long long got = -1;
    if (harness_wait_consumed(r.redis, (long long)ev.n, 60000, &got) < 0) {
        char *all = slurp(r.log);
        fail_msg("consumed %lld of %zu; log:\n%s", got, ev.n, all);
    }
    waiter mw = { r.rc, "clm:stats", "merges", 1 };
    if (harness_wait_until(field_reached, &mw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("no merge; log:\n%s", all);
    }
    /* the identify event counts as an event of the known customer, and the
     * anonymous customer's page_view moved into it */
    if (harness_redis_hget_int(r.rc, "clm:customer:known-1", "events") != 4) {
        char *dump = NULL, *all = slurp(r.log);
        CHECK(harness_redis_dump(r.rc, NULL, &dump, errbuf, sizeof(errbuf)));
        fail_msg("known-1 has not 4 events:\n%s\nlog:\n%s", dump, all);
    }
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:anon-1", "events"), 0);
    /* one person active that day, although two ids were */
    if (harness_redis_hget_int(r.rc, "clm:day:2025-12-01", "active_customers") != 1) {
        char *dump = NULL;
        CHECK(harness_redis_dump(r.rc, "clm:day:*", &dump, errbuf, sizeof(errbuf)));
        fail_msg("day counters:\n%s", dump);
    }
    CHECK(harness_proc_signal(r.p, SIGTERM));
    if (harness_proc_expect_exit(r.p, 30000, 0, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r.log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r.p);
    r.p = NULL;
    harness_events_free(&ev);
    run_free(&r);
}

/* identity.alias_ttl_days 1: an anonymous event an hour after the merge and
 * one three days later are forwarded (the alias is there when each is
 * read; the second moves its partition's watermark past the alias's
 * lifetime); the next one, after the alias expired, starts a new customer. */
static void test_alias_expiry(void **state)
{
    (void)state;
    run r;
    harness_events ev = { 0 }, later = { 0 }, last = { 0 };
    CHECK(harness_kafka_create_topic(K, "ev-ttl", 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-ttl.clmd-identity", 4, errbuf, sizeof(errbuf)));
    harness_events_add(&ev, "ttl-a", "page_view", T0, NULL);
    harness_events_add(&ev, "ttl-k", "signup", T0 + 1000, NULL);
    harness_events_add(&ev, "ttl-k", "identify", T0 + 2000, "\"anonymous_id\":\"ttl-a\"");
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-ttl", ev.kv, ev.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    identity_extra = ", \"alias_ttl_days\": 1";
    events_extra = ", \"max_jump_s\": 864000"; /* one event may move time by days */
    run_start(&r, "\"ev-ttl\"", "g-ttl", "ev-ttl.clmd-identity");
    identity_extra = "";
    events_extra = "";
    waiter mw = { r.rc, "clm:stats", "merges", 1 };
    if (harness_wait_until(field_reached, &mw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("no merge; log:\n%s", all);
    }
    /* event ids of their own: harness_events numbers from e-0 in each set */
    harness_events_add(&later, "ttl-a", "page_view", T0 + 3600000, NULL);
    harness_events_add(&later, "ttl-a", "page_view", T0 + 3 * 86400000LL, NULL);
    for (size_t i = 0; i < later.n; i++) {
        char *v = (char *)later.kv[i].value;
        char *e = strstr(v, "\"e-");
        assert_non_null(e);
        e[1] = 'l'; /* e-<i> -> l-<i> */
    }
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-ttl", later.kv, later.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    waiter kw = { r.rc, "clm:customer:ttl-k", "events", 5 };
    if (harness_wait_until(field_reached, &kw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("ttl-k has %lld events, not 5; log:\n%s",
                 harness_redis_hget_int(r.rc, "clm:customer:ttl-k", "events"), all);
    }
    harness_events_add(&last, "ttl-a", "page_view", T0 + 3 * 86400000LL + 1000, NULL);
    char *v = (char *)last.kv[0].value;
    char *e = strstr(v, "\"e-");
    assert_non_null(e);
    e[1] = 'z';
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-ttl", last.kv, last.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    waiter aw = { r.rc, "clm:customer:ttl-a", "events", 1 };
    if (harness_wait_until(field_reached, &aw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("ttl-a did not start again; log:\n%s", all);
    }
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:ttl-a", "events"), 1);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:ttl-k", "events"), 5);
    CHECK(harness_proc_signal(r.p, SIGTERM));
    if (harness_proc_expect_exit(r.p, 30000, 0, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r.log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r.p);
    r.p = NULL;
    harness_events_free(&ev);
    harness_events_free(&later);
    harness_events_free(&last);
    run_free(&r);
}

/* Erasure meets identity: a forget of the known id (on its own partition)
 * releases the alias held on the anonymous id's partition, so a later
 * event of the anonymous id starts a new customer instead of bringing the
 * erased one back. */
static void test_forget_known(void **state)
{
    (void)state;
    run r;
    harness_events ev = { 0 }, fg = { 0 }, later = { 0 };
    CHECK(harness_kafka_create_topic(K, "ev-fg", 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-fg.clmd-identity", 4, errbuf, sizeof(errbuf)));
    harness_events_add(&ev, "fg-a", "page_view", T0, NULL);
    harness_events_add(&ev, "fg-k", "signup", T0 + 1000, NULL);
    harness_events_add(&ev, "fg-k", "identify", T0 + 2000, "\"anonymous_id\":\"fg-a\"");
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-fg", ev.kv, ev.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    run_start(&r, "\"ev-fg\"", "g-fg", "ev-fg.clmd-identity");
    waiter mw = { r.rc, "clm:stats", "merges", 1 };
    if (harness_wait_until(field_reached, &mw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("no merge; log:\n%s", all);
    }
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:fg-k", "events"), 3);
    harness_events_add(&fg, "fg-k", "forget", T0 + 5000, NULL);
    char *v = (char *)fg.kv[0].value, *e = strstr(v, "\"e-");
    assert_non_null(e);
    e[1] = 'f';
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-fg", fg.kv, fg.n, false, 30000, errbuf,
                          sizeof(errbuf)));
    /* the release went through: no alias is left in any partition */
    bool gone = false;
    for (int i = 0; i < 600 && !gone; i++) {
        redisReply *k = redisCommand(r.rc, "KEYS clm:alias:*");
        gone = k && k->type == REDIS_REPLY_ARRAY && k->elements == 0 &&
               harness_redis_hget_int(r.rc, "clm:customer:fg-k", "events") == 0;
        freeReplyObject(k);
        if (!gone)
            usleep(100000);
    }
    if (!gone) {
        char *all = slurp(r.log);
        fail_msg("the alias of fg-a stayed after fg-k was erased; log:\n%s", all);
    }
    harness_events_add(&later, "fg-a", "page_view", T0 + 6000, NULL);
    v = (char *)later.kv[0].value;
    e = strstr(v, "\"e-");
    assert_non_null(e);
    e[1] = 'l';
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-fg", later.kv, later.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    waiter aw = { r.rc, "clm:customer:fg-a", "events", 1 };
    if (harness_wait_until(field_reached, &aw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("fg-a did not start again; log:\n%s", all);
    }
    CHECK(harness_proc_signal(r.p, SIGTERM));
    if (harness_proc_expect_exit(r.p, 30000, 0, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r.log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r.p);
    r.p = NULL;
    /* the erased id did not come back */
    redisReply *x = redisCommand(r.rc, "EXISTS clm:customer:fg-k");
    assert_non_null(x);
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:fg-a", "events"), 1);
    harness_events_free(&ev);
    harness_events_free(&fg);
    harness_events_free(&later);
    run_free(&r);
}

/* A chain: a merged into b, then b into c. Everything ends in c, whatever
 * order the messages take, and a later event of a reaches c through b. */
static void test_chain(void **state)
{
    (void)state;
    run r;
    harness_events ev = { 0 }, later = { 0 };
    CHECK(harness_kafka_create_topic(K, "ev-chain", 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, "ev-chain.clmd-identity", 4, errbuf, sizeof(errbuf)));
    harness_events_add(&ev, "ch-a", "page_view", T0, NULL);
    harness_events_add(&ev, "ch-b", "signup", T0 + 1000, NULL);
    harness_events_add(&ev, "ch-b", "identify", T0 + 2000, "\"anonymous_id\":\"ch-a\"");
    harness_events_add(&ev, "ch-c", "signup", T0 + 3000, NULL);
    harness_events_add(&ev, "ch-c", "identify", T0 + 4000, "\"anonymous_id\":\"ch-b\"");
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-chain", ev.kv, ev.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    run_start(&r, "\"ev-chain\"", "g-chain", "ev-chain.clmd-identity");
    waiter cw = { r.rc, "clm:customer:ch-c", "events", 5 };
    if (harness_wait_until(field_reached, &cw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("ch-c has %lld events, not 5; log:\n%s",
                 harness_redis_hget_int(r.rc, "clm:customer:ch-c", "events"), all);
    }
    harness_events_add(&later, "ch-a", "page_view", T0 + 5000, NULL);
    char *v = (char *)later.kv[0].value, *e = strstr(v, "\"e-");
    assert_non_null(e);
    e[1] = 'l';
    CHECK(harness_produce(harness_kafka_bootstraps(K), "ev-chain", later.kv, later.n, false, 30000,
                          errbuf, sizeof(errbuf)));
    waiter lw = { r.rc, "clm:customer:ch-c", "events", 6 };
    if (harness_wait_until(field_reached, &lw, 60000) < 0) {
        char *all = slurp(r.log);
        fail_msg("a's later event did not reach ch-c; log:\n%s", all);
    }
    CHECK(harness_proc_signal(r.p, SIGTERM));
    if (harness_proc_expect_exit(r.p, 30000, 0, errbuf, sizeof(errbuf)) < 0) {
        char *all = slurp(r.log);
        fail_msg("clmd: %s; log:\n%s", errbuf, all);
    }
    harness_proc_free(r.p);
    r.p = NULL;
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:ch-c", "events"), 6);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "merges"), 2);
    for (int i = 0; i < 2; i++) {
        redisReply *x = redisCommand(r.rc, "EXISTS clm:customer:%s", i ? "ch-b" : "ch-a");
        assert_non_null(x);
        assert_int_equal(x->integer, 0);
        freeReplyObject(x);
    }
    harness_events_free(&ev);
    harness_events_free(&later);
    run_free(&r);
}

/* ---- two instances, a generated population ------------------------------ */

#define PAIR_CUSTOMERS 150
#define PAIR_EVENTS 6000

#define PAIR_DAYS 40

/* One person of the model: what one customer that saw all its events holds. */
typedef struct person {
    long events, orders;
    bool anon_seen, known_seen, identified;
    bool active[PAIR_DAYS * 3]; /* days (from the stream's start) with activity */
} person;

/* An event's time: RFC 3339 (".mmmZ" or "Z") or integer epoch ms. */
static int64_t event_ts_of(json_t *o)
{
    json_t *t = json_object_get(o, "ts");
    if (json_is_integer(t))
        return (int64_t)json_integer_value(t);
    const char *s = json_string_value(t);
    assert_non_null(s);
    struct tm tm = { 0 };
    int ms = 0;
    assert_true(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6);
    const char *dot = strchr(s, '.');
    if (dot)
        ms = atoi(dot + 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The model of the merged population: each person's full history as one
 * customer (events and orders counted over both ids). */
static void model_of(const harness_stream *st, int64_t start_ms, person *pp, long *identifies)
{
    *identifies = 0;
    for (size_t i = 0; i < st->n; i++) {
        json_error_t e;
        json_t *o = json_loadb(st->msgs[i].value, st->msgs[i].value_len, 0, &e);
        assert_non_null(o);
        const char *cid = json_string_value(json_object_get(o, "customer_id"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (cid) {
            long n = strtol(cid + 2, NULL, 10);
            assert_true(n >= 1 && n <= PAIR_CUSTOMERS);
            person *p = &pp[n];
            p->events++;
            if (strcmp(type, "purchase") == 0)
                p->orders++;
            /* activity: every type but lifecycle.inactive_types' defaults */
            if (strcmp(type, "cancel") != 0 && strcmp(type, "refund") != 0 &&
                strcmp(type, "payment_failed") != 0) {
                int64_t ts = event_ts_of(o);
                int64_t d = (ts - start_ms) / 86400000LL;
                assert_true(d >= 0 && d < PAIR_DAYS * 3);
                p->active[d] = true;
            }
            if (cid[0] == 'a')
                p->anon_seen = true;
            else
                p->known_seen = true;
            if (strcmp(type, "identify") == 0) {
                p->identified = true;
                (*identifies)++;
            }
        }
        json_decref(o);
    }
}

/* Where a pair case reads Redis: one server, or a Redis Cluster. */
typedef struct store {
    redisContext *rc;
    harness_cluster *hc;
    clm_cluster *cl;
} store;

/* A command whose key is argv[1]; its integer (or a number as a string)
 * value, 0 for nil, -1 on an error. */
static long long qn(store *st, int argc, const char **argv)
{
    redisReply *r = st->cl ? clm_cluster_command(st->cl, 1, argc, argv, NULL, errbuf,
                                                 sizeof(errbuf))
                           : redisCommandArgv(st->rc, argc, argv, NULL);
    long long v = !r                               ? -1
                  : r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_STRING  ? strtoll(r->str, NULL, 10)
                  : r->type == REDIS_REPLY_NIL     ? 0
                                                   : -1;
    freeReplyObject(r);
    return v;
}

static long long st_hget(store *st, const char *key, const char *field)
{
    const char *argv[] = { "HGET", key, field };
    return qn(st, 3, argv);
}

/* Customer views in the whole store (every master of a cluster). */
static long long st_views(store *st)
{
    const char *argv[] = { "EVAL", "return #redis.call('KEYS', 'clm:customer:*')", "0" };
    if (!st->hc) {
        redisReply *r = redisCommandArgv(st->rc, 3, argv, NULL);
        long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        return n;
    }
    long long n = 0;
    for (int i = 0; i < harness_cluster_nodes(st->hc); i++) {
        redisContext *c;
        CHECK(harness_cluster_connect(st->hc, harness_cluster_port(st->hc, i), &c, errbuf,
                                      sizeof(errbuf)));
        redisReply *role = redisCommand(c, "ROLE");
        bool master = role && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
                      strcmp(role->element[0]->str, "master") == 0;
        freeReplyObject(role);
        if (master) {
            redisReply *r = redisCommandArgv(c, 3, argv, NULL);
            n += r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
            freeReplyObject(r);
        }
        redisFree(c);
    }
    return n;
}

typedef struct st_waiter {
    store *st;
    const char *key, *field;
    long long want;
} st_waiter;

static bool st_reached(void *arg)
{
    st_waiter *w = arg;
    return st_hget(w->st, w->key, w->field) >= w->want;
}

/* True once every message of the internal topic is consumed (the stored
 * offsets reach its high watermarks) and no outbox holds a message. */
typedef struct settled_arg {
    store *st;
    const char *group, *itopic;
} settled_arg;

static bool settled(void *arg)
{
    settled_arg *a = arg;
    int64_t high[16];
    int np = 0;
    if (harness_kafka_high_watermarks(harness_kafka_bootstraps(K), a->itopic, high, 16, &np, 5000,
                                      errbuf, sizeof(errbuf)) < 0)
        return false;
    for (int p = 0; p < np; p++) {
        char key[128], field[128];
        snprintf(key, sizeof(key), "clm:progress:{%s:%d}", a->group, p);
        snprintf(field, sizeof(field), "offset:%s", a->itopic);
        if (high[p] > 0 && st_hget(a->st, key, field) != high[p])
            return false;
        snprintf(key, sizeof(key), "clm:identity:outbox:{%s:%d}", a->group, p);
        const char *argv[] = { "HLEN", key };
        if (qn(a->st, 2, argv) != 0)
            return false;
    }
    return np > 0;
}

/* True once the internal topic holds a merge record. */
static bool record_on_topic(void *arg)
{
    const char *itopic = arg;
    harness_records *rs = NULL;
    if (harness_kafka_read_topic(harness_kafka_bootstraps(K), itopic, 5000, &rs, errbuf,
                                 sizeof(errbuf)) < 0)
        return false;
    bool found = false;
    for (size_t i = 0; i < rs->n && !found; i++)
        found = rs->v[i].value_len > 0 && rs->v[i].value[0] == 'R';
    harness_records_free(rs);
    return found;
}

static void dump_fail(run *a, run *b, const char *what)
{
    char *la = slurp(a->log), *lb = slurp(b->log);
    fail_msg("%s\nlog of the first instance:\n%s\nlog of the second:\n%s", what, la, lb);
}

/* Two clmd in one group (one worker each) over 4 partitions, so most pairs
 * of ids are owned by different instances; with `kill`, both are killed
 * (SIGKILL) as soon as the first merge record is on the internal topic,
 * and started again; with `cluster`, the store is a Redis Cluster of three
 * masters. The Redis state must equal the model in every case. */
static void pair_case(const char *name, bool kill, bool cluster)
{
    char topic[64], itopic[96], group[64], topics[80];
    snprintf(topic, sizeof(topic), "ev-%s", name);
    snprintf(itopic, sizeof(itopic), "ev-%s.clmd-identity", name);
    snprintf(group, sizeof(group), "g-%s", name);
    snprintf(topics, sizeof(topics), "\"%s\"", topic);
    CHECK(harness_kafka_create_topic(K, topic, 4, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(K, itopic, 4, errbuf, sizeof(errbuf)));

    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = kill ? 11 : cluster ? 17 : 5;
    o.customers = PAIR_CUSTOMERS;
    o.events = PAIR_EVENTS;
    /* the whole stream within 64 days: a merge applied long after its
     * identify (the stream is all produced before clmd starts, so a busy
     * known customer runs ahead) still sees both ids' active days in its
     * 64-bucket bitmap (README "Identity merge", active_customers) */
    o.days = 40;
    o.dup_rate = 0;
    o.ooo_rate = 0;
    o.anon_rate = 0.6;
    harness_stream hs = { 0 };
    CHECK(harness_stream_gen(&o, &hs, errbuf, sizeof(errbuf)));
    static person pp[PAIR_CUSTOMERS + 1];
    memset(pp, 0, sizeof(pp));
    long identifies = 0;
    model_of(&hs, o.start_ms, pp, &identifies);
    assert_true(identifies > 10);
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, hs.msgs, hs.n, false, 60000, errbuf,
                          sizeof(errbuf)));

    store st = { 0 };
    char section[4200];
    if (cluster) {
        CHECK(harness_cluster_start(3, 0, &st.hc, errbuf, sizeof(errbuf)));
        clm_cluster_opts co = { .seeds = harness_cluster_seeds(st.hc), .timeout_ms = 5000 };
        CHECK(clm_cluster_new(&co, &st.cl, errbuf, sizeof(errbuf)));
        snprintf(section, sizeof(section), "{\"cluster\": \"%s\"}", harness_cluster_seeds(st.hc));
        redis_section = section;
    }
    run a, b;
    run_start(&a, topics, group, itopic);
    run_start_on(&b, a.redis, topics, group, itopic);
    redis_section = NULL;
    st.rc = a.rc;
    if (kill) {
        if (harness_wait_until(record_on_topic, itopic, 120000) < 0)
            dump_fail(&a, &b, "no merge record appeared");
        CHECK(harness_proc_signal(a.p, SIGKILL));
        CHECK(harness_proc_signal(b.p, SIGKILL));
        int ws;
        CHECK(harness_proc_wait(a.p, 10000, &ws, errbuf, sizeof(errbuf)));
        CHECK(harness_proc_wait(b.p, 10000, &ws, errbuf, sizeof(errbuf)));
        run_restart(&a);
        run_restart(&b);
    }
    st_waiter cw = { &st, "clm:stats", "consumed", (long long)hs.n };
    if (harness_wait_until(st_reached, &cw, 180000) < 0)
        dump_fail(&a, &b, "not every event was consumed");
    st_waiter mw = { &st, "clm:stats", "merges", identifies };
    if (harness_wait_until(st_reached, &mw, 120000) < 0)
        dump_fail(&a, &b, "not every merge happened");
    settled_arg sa = { &st, group, itopic };
    if (harness_wait_until(settled, &sa, 120000) < 0)
        dump_fail(&a, &b, "the internal topic did not settle");
    /* on a cluster the views follow the partitions' transactions through
     * their journals: stop both first, so every journal is carried */
    CHECK(harness_proc_signal(a.p, SIGTERM));
    CHECK(harness_proc_signal(b.p, SIGTERM));
    if (harness_proc_expect_exit(a.p, 30000, 0, errbuf, sizeof(errbuf)) < 0 ||
        harness_proc_expect_exit(b.p, 30000, 0, errbuf, sizeof(errbuf)) < 0)
        dump_fail(&a, &b, errbuf);

    /* exactly once: one merge per identify, every event applied once */
    assert_int_equal(st_hget(&st, "clm:stats", "merges"), identifies);
    assert_int_equal(st_hget(&st, "clm:stats", "applied"), (long long)hs.n);
    long views = 0;
    for (int n = 1; n <= PAIR_CUSTOMERS; n++) {
        const person *p = &pp[n];
        char known[64], anon[64];
        snprintf(known, sizeof(known), "clm:customer:c-%d", n);
        snprintf(anon, sizeof(anon), "clm:customer:a-%d", n);
        const char *view = p->known_seen ? known : p->anon_seen ? anon : NULL;
        if (!view)
            continue;
        views++;
        long long ev = st_hget(&st, view, "events");
        long long orders = st_hget(&st, view, "orders");
        if (ev != p->events || orders != p->orders) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s: events %lld orders %lld, the model %ld and %ld", view,
                     ev, orders, p->events, p->orders);
            dump_fail(&a, &b, msg);
        }
        if (p->identified) {
            const char *argv[] = { "EXISTS", anon };
            assert_int_equal(qn(&st, 2, argv), 0); /* the anonymous customer is gone */
        }
    }
    assert_int_equal(st_views(&st), views);
    /* active customers per day: each person once, whichever ids it used
     * that day (the merge withdraws one where both ids were active) */
    for (int d = 0; d < PAIR_DAYS * 3; d++) {
        long want = 0;
        for (int n = 1; n <= PAIR_CUSTOMERS; n++)
            want += pp[n].active[d];
        time_t t = (time_t)((o.start_ms + (int64_t)d * 86400000LL) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char key[64];
        strftime(key, sizeof(key), "clm:day:%Y-%m-%d", &tm);
        long long got = st_hget(&st, key, "active_customers");
        if (got != want) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%s active_customers %lld, the model %ld", key, got, want);
            dump_fail(&a, &b, msg);
        }
    }

    harness_proc_free(b.p);
    b.p = NULL;
    if (b.rc)
        redisFree(b.rc);
    b.rc = NULL;
    unlink(b.cfg);
    unlink(b.log);
    rmdir(b.tmp);
    run_free(&a);
    clm_cluster_free(st.cl);
    harness_cluster_stop(st.hc);
    harness_stream_free(&hs);
}

static void test_two_instances(void **state)
{
    (void)state;
    pair_case("pair", false, false);
}

static void test_killed_mid_merge(void **state)
{
    (void)state;
    pair_case("kill", true, false);
}

static void test_cluster(void **state)
{
    (void)state;
    pair_case("cluster", false, true);
}

static int setup(void **state)
{
    (void)state;
    if (harness_kafka_start(3, &K, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "mock cluster: %s\n", errbuf);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_kafka_free(K);
    K = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_topic),
        cmocka_unit_test(test_partition_count),
        cmocka_unit_test(test_second_events_topic),
        cmocka_unit_test(test_co_partitioned),
        cmocka_unit_test(test_alias_expiry),
        cmocka_unit_test(test_forget_known),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_two_instances),
        cmocka_unit_test(test_killed_mid_merge),
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
