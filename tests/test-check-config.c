/* tests/test-check-config.c - `clmd --check-config FILE` and `clmd -c FILE`
 * agree: each config below is judged by both, as the clmd binary.
 *
 *   refused_alike   an unknown librdkafka property, a property value out of
 *                   librdkafka's range (given as a JSON number), a value
 *                   librdkafka accepts alone but not with the settings clmd
 *                   imposes (acks 1 with the idempotent producers), and
 *                   kpi.bucket_s 60 with the default allowed lateness:
 *                   --check-config exits 1 with one line naming the file,
 *                   the key, the value and what was expected, and a start
 *                   exits 1 logging exactly that line (<3> prefixed) before
 *                   it connects anywhere
 *   accepted_alike  a number and a boolean property: --check-config prints
 *                   "valid", and a start against a real redis-server and the
 *                   Kafka mock cluster consumes, then stops cleanly
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

static char tmp[64];

/* Writes <tmp>/<name> and returns its path (static buffer). */
static const char *write_cfg(const char *name, const char *text)
{
    static char path[160];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Runs clmd with args, output to log; returns its exit status. */
static int run_clmd(const char *opt, const char *cfg, const char *log)
{
    const char *argv[] = { harness_clmd_bin(), opt, cfg, NULL };
    harness_proc *p = NULL;
    int st = 0;
    unlink(log);
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    CHECK(harness_proc_wait(p, 30000, &st, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The whole file (static buffer). */
static const char *slurp(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

typedef struct refused {
    const char *name, *json;
    const char *message; /* after "<path>: " */
} refused;

static void test_refused_alike(void **state)
{
    (void)state;
    /* brokers and Redis that would answer: a start that skipped a check
     * would go on (and the test time out) instead of exiting at once */
    static const refused cases[] = {
        { "unknown.json",
          "{\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"properties\": {\"no.such.property\": \"1\"}},"
          " \"redis\": {\"port\": 1}, \"http\": {\"port\": 0}}",
          "kafka.properties.no.such.property: \"1\" is not accepted by librdkafka for the consumer "
          "(No such configuration property: \"no.such.property\")" },
        { "range.json",
          "{\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"properties\": {\"linger.ms\": -1}},"
          " \"redis\": {\"port\": 1}, \"http\": {\"port\": 0}}",
          "kafka.properties.linger.ms: \"-1\" is not accepted by librdkafka for the consumer "
          "(Configuration property \"queue.buffering.max.ms\" value -1 is outside allowed range "
          "0..900000)" },
        { "acks.json",
          "{\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"properties\": {\"acks\": 1}},"
          " \"redis\": {\"port\": 1}, \"http\": {\"port\": 0}}",
          "kafka.properties: librdkafka cannot create the dead-letter producer with these "
          "settings: `acks` must be set to `all` when `enable.idempotence` is true" },
        { "bucket.json",
          "{\"kafka\": {\"brokers\": \"127.0.0.1:1\"}, \"redis\": {\"port\": 1},"
          " \"http\": {\"port\": 0}, \"kpi\": {\"bucket_s\": 60}}",
          "events.allowed_lateness_s: 604800 spans more than 62 buckets of kpi.bucket_s 60 "
          "(expected at most 3720, or a larger kpi.bucket_s)" },
    };
    char log[160], want[1024];
    snprintf(log, sizeof(log), "%s/out.log", tmp);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *cfg = write_cfg(cases[i].name, cases[i].json);
        snprintf(want, sizeof(want), "%s: %s\n", cfg, cases[i].message);
        int rc = run_clmd("--check-config", cfg, log);
        const char *out = slurp(log);
        if (rc != 1 || strcmp(out, want) != 0)
            fail_msg("--check-config %s: exit %d, \"%s\"; want exit 1, \"%s\"", cases[i].name, rc,
                     out, want);
        snprintf(want, sizeof(want), "<3>%s: %s\n", cfg, cases[i].message);
        rc = run_clmd("-c", cfg, log);
        out = slurp(log);
        if (rc != 1 || strcmp(out, want) != 0)
            fail_msg("-c %s: exit %d, \"%s\"; want exit 1, \"%s\"", cases[i].name, rc, out, want);
    }
}

typedef struct logwait {
    const char *path, *text;
} logwait;

static bool log_has(void *arg)
{
    logwait *w = arg;
    return strstr(slurp(w->path), w->text) != NULL;
}

static void test_accepted_alike(void **state)
{
    (void)state;
    harness_kafka *k = NULL;
    harness_redis *redis = NULL;
    redisContext *rc = NULL;
    CHECK(harness_kafka_start(1, &k, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(k, "clm.events.cc", 1, errbuf, sizeof(errbuf)));
    static const char ev[] =
        "{\"event_id\":\"e1\",\"customer_id\":\"c1\",\"type\":\"visit\",\"ts\":\"2025-01-01T00:00:00Z\"}";
    harness_kv m = { .key = "c1", .key_len = 2, .value = ev, .value_len = strlen(ev) };
    CHECK(harness_produce(harness_kafka_bootstraps(k), "clm.events.cc", &m, 1, false, 30000, errbuf,
                          sizeof(errbuf)));
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));
    char json[1024], log[160], want[256];
    snprintf(json, sizeof(json),
             "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"clm.events.cc\"],"
             " \"properties\": {\"linger.ms\": 5, \"socket.keepalive.enable\": true,"
             " \"statistics.interval.ms\": 0}},"
             " \"redis\": {\"port\": %d}, \"http\": {\"port\": 0},"
             " \"core\": {\"workers\": 1, \"shutdown_timeout_s\": 10}}",
             harness_kafka_bootstraps(k), harness_redis_port(redis));
    const char *cfg = write_cfg("numbers.json", json);
    snprintf(log, sizeof(log), "%s/out.log", tmp);
    snprintf(want, sizeof(want), "%s: valid\n", cfg);
    int code = run_clmd("--check-config", cfg, log);
    if (code != 0 || strcmp(slurp(log), want) != 0)
        fail_msg("--check-config: exit %d, \"%s\"", code, slurp(log));

    unlink(log);
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    logwait w = { log, "ready: partitions assigned" };
    if (harness_wait_until(log_has, &w, 30000) < 0)
        fail_msg("clmd did not get ready: %s", slurp(log));
    for (int i = 0; i < 300 && harness_redis_hget_int(rc, "clm:stats", "consumed") < 1; i++)
        usleep(100000);
    assert_int_equal(harness_redis_hget_int(rc, "clm:stats", "consumed"), 1);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    redisFree(rc);
    CHECK(harness_redis_stop(redis, errbuf, sizeof(errbuf)));
    harness_redis_free(redis);
    harness_kafka_free(k);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/clm-checkcfg-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_alike),
        cmocka_unit_test(test_accepted_alike),
    };
    return cmocka_run_group_tests_name("check_config", tests, setup, teardown);
}
