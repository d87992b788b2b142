/* tests/test-store.c - people touching clmd's Redis by hand: the customer
 * view is a projection nobody's edit can break, and a checkpoint clmd cannot
 * decode stops it loudly instead of resetting a customer.
 *
 *   view_edits          while clmd runs, one customer's view is deleted, one
 *                       gets a v1-only field and a wrong `events`, one loses
 *                       `revenue` and `stage`: clmd keeps running, the edited
 *                       field is written again by the customer's next event,
 *                       `clmctl rebuild-view ID` and `--all` restore the rest,
 *                       and every key then equals an untouched run's.
 *   corrupt_checkpoint  a record of an unknown version, then a truncated
 *                       version-2 record: clmd exits non-zero at the
 *                       customer's next event, naming the key, the field (the
 *                       customer id) and the version; nothing is applied.
 * A missing redis-server, clmd or clmctl fails the test; nothing is skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define GROUP "clmd-store"
#define PARTITIONS 4

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    harness_stream stream;
    harness_kv *msgs; /* stream.msgs */
    size_t total, half;
    harness_redis *clean; /* clmd over the whole stream, untouched */
    char *clean_dump;
} fixture;

static fixture F;

static const char *bin(const char *env, const char *def)
{
    const char *p = getenv(env);
    return p ? p : def;
}

static void write_config(const char *path, const char *topic, int redis_port)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"" GROUP "\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2},\n"
            " \"http\": {\"port\": 0},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000},\n"
            " \"log\": {\"level\": \"info\"}}\n",
            harness_kafka_bootstraps(F.kafka), topic, redis_port);
    fclose(f);
}

static harness_proc *start_clmd(const char *cfg, const char *log)
{
    const char *argv[] = { bin("CLMD_BIN", "clmd"), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    return p;
}

static void stop_clmd(harness_proc *p)
{
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

/* Runs `clmctl -c cfg args...`; returns its exit status, output in out. */
static int clmctl(const char *cfg, const char *a1, const char *a2, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' -c '%s' %s %s 2>&1", bin("CLMCTL_BIN", "clmctl"), cfg, a1,
             a2 ? a2 : "");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void wait_consumed(harness_redis *r, long long want)
{
    long long got;
    if (harness_wait_consumed(r, want, 180000, &got) < 0)
        fail_msg("clmd consumed %lld of %lld messages within 180 s", got, want);
}

static void produce(const char *topic, size_t from, size_t to)
{
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, F.msgs + from, to - from, true,
                          60000, errbuf, sizeof(errbuf)));
}

static char *dump(harness_redis *r, const char *pattern)
{
    redisContext *c = NULL;
    char *out = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_dump(c, pattern, &out, errbuf, sizeof(errbuf)));
    redisFree(c);
    return out;
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-store-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# kafka: %s\n", errbuf);
        return -1;
    }
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 23;
    o.customers = 300;
    o.events = 6000;
    o.malformed_rate = 0.01;
    o.dup_rate = 0.01;
    if (harness_stream_gen(&o, &F.stream, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# stream: %s\n", errbuf);
        return -1;
    }
    F.msgs = F.stream.msgs;
    F.total = F.stream.n;
    F.half = F.total / 2;

    /* the untouched run everything is compared with */
    char cfg[128], log[128];
    if (harness_redis_start(&F.clean, errbuf, sizeof(errbuf)) < 0)
        return -1;
    produce(TOPIC, 0, F.total);
    snprintf(cfg, sizeof(cfg), "%s/clean.json", F.tmp);
    snprintf(log, sizeof(log), "%s/clean.log", F.tmp);
    write_config(cfg, TOPIC, harness_redis_port(F.clean));
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(F.clean, (long long)F.total);
    stop_clmd(p);
    F.clean_dump = dump(F.clean, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_redis_free(F.clean);
    free(F.clean_dump);
    harness_kafka_free(F.kafka);
    harness_stream_free(&F.stream);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

/* The id of a customer with events in both halves, other than those in
 * `not` (n of them): the key of a late message seen early too. */
static void pick(char *out, size_t size, char (*not)[64], int n)
{
    for (size_t i = F.total; i-- > F.half;) {
        const harness_kv *m = &F.msgs[i];
        if (m->key_len == 0 || m->key_len >= size || m->key_len >= 64)
            continue;
        bool taken = false;
        for (int k = 0; k < n; k++)
            taken |= strlen(not[k]) == m->key_len && memcmp(not[k], m->key, m->key_len) == 0;
        bool early = false;
        for (size_t j = 0; j < F.half / 2 && !early; j++)
            early = F.msgs[j].key_len == m->key_len && memcmp(F.msgs[j].key, m->key, m->key_len) == 0;
        if (!taken && early) {
            memcpy(out, m->key, m->key_len);
            out[m->key_len] = '\0';
            return;
        }
    }
    fail_msg("no customer has events in both halves");
}

static void cmd_ok(redisContext *c, const char *fmt, const char *a, const char *b, const char *v)
{
    redisReply *rep = redisCommand(c, fmt, a, b, v);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, rep ? rep->str : c->errstr);
    freeReplyObject(rep);
}

/* HGET key field as a string ("" when absent) into out. */
static void hget(redisContext *c, const char *key, const char *field, char *out, size_t size)
{
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(rep);
    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

static void alive(harness_proc *p, const char *what)
{
    int st;
    if (harness_proc_wait(p, 0, &st, errbuf, sizeof(errbuf)) == 0)
        fail_msg("clmd ended %s (status %d)", what, st);
}

static void view_edits(void **state)
{
    (void)state;
    char cfg[128], log[128], out[4096];
    char ids[3][64] = { "", "", "" }, key[3][96];
    for (int i = 0; i < 3; i++) {
        pick(ids[i], sizeof(ids[i]), ids, i);
        snprintf(key[i], sizeof(key[i]), "clm:customer:%s", ids[i]);
    }
    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    /* A cluster of its own, so the topic has the clean run's name (alert ids
     * hash it) and fills half by half; F.kafka is this one until the end. */
    harness_kafka *shared = F.kafka;
    CHECK(harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/view.json", F.tmp);
    snprintf(log, sizeof(log), "%s/view.log", F.tmp);
    write_config(cfg, TOPIC, harness_redis_port(r));
    harness_proc *p = start_clmd(cfg, log);
    produce(TOPIC, 0, F.half);
    wait_consumed(r, (long long)F.half);

    redisContext *c = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    char before[64];
    hget(c, key[1], "events", before, sizeof(before));
    assert_true(before[0] != '\0');
    cmd_ok(c, "DEL %s%s%s", key[0], "", "");
    cmd_ok(c, "HSET %s %s %s", key[1], "active", "x"); /* what broke the v1 loader */
    cmd_ok(c, "HSET %s %s %s", key[1], "events", "999999");
    cmd_ok(c, "HDEL %s %s %s", key[2], "revenue", "stage");
    usleep(300 * 1000); /* several flushes with the edits in place */
    alive(p, "after its views were edited");

    produce(TOPIC, F.half, F.total);
    wait_consumed(r, (long long)F.total);
    alive(p, "after the edited customers' next events");
    stop_clmd(p);

    /* the next event wrote `events` again: the checkpoint's count, not the edit */
    char now[64];
    hget(c, key[1], "events", now, sizeof(now));
    redisContext *cc = NULL;
    CHECK(harness_redis_connect(F.clean, &cc, errbuf, sizeof(errbuf)));
    char want[64];
    hget(cc, key[1], "events", want, sizeof(want));
    redisFree(cc);
    assert_string_equal(now, want);

    /* one customer by id, then all */
    int st = clmctl(cfg, "rebuild-view", ids[0], out, sizeof(out));
    if (st != 0)
        fail_msg("clmctl rebuild-view %s: exit %d: %s", ids[0], st, out);
    char pat[96], *got = NULL, *exp = NULL, diff[2048];
    snprintf(pat, sizeof(pat), "clm:customer:%s", ids[0]);
    got = dump(r, pat);
    exp = dump(F.clean, pat);
    if (harness_dump_diff(exp, got, diff, sizeof(diff)) != 0)
        fail_msg("rebuild-view %s: %s", ids[0], diff);
    free(got);
    free(exp);
    st = clmctl(cfg, "rebuild-view", "--all", out, sizeof(out));
    if (st != 0)
        fail_msg("clmctl rebuild-view --all: exit %d: %s", st, out);

    /* every key (counts, checkpoints, views) equals the untouched run */
    got = dump(r, NULL);
    if (harness_dump_diff(F.clean_dump, got, diff, sizeof(diff)) != 0)
        fail_msg("after hand edits and rebuild-view --all: %s", diff);
    free(got);
    redisFree(c);
    harness_redis_free(r);
    harness_kafka_free(F.kafka);
    F.kafka = shared;
}

/* The checkpoint key holding a customer (found by HEXISTS over the
 * partitions). */
static void ckpt_key_of(redisContext *c, const char *id, char *out, size_t size)
{
    for (int p = 0; p < PARTITIONS; p++) {
        snprintf(out, size, "clm:ckpt:{" GROUP ":%d}", p);
        redisReply *rep = redisCommand(c, "HEXISTS %s %s", out, id);
        bool has = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
        freeReplyObject(rep);
        if (has)
            return;
    }
    fail_msg("no checkpoint holds %s", id);
}

/* Reads a whole file into a static buffer. */
static const char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Writes `rec` over the customer's checkpoint, produces its first message
 * again, and expects clmd to stop naming key, field and `version`. */
static void expect_refusal(harness_redis *r, const char *cfg, const char *topic, const char *id,
                           size_t msg, const char *rec, size_t rec_len, const char *version,
                           const char *name)
{
    char log[128], key[96];
    snprintf(log, sizeof(log), "%s/%s.log", F.tmp, name);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    ckpt_key_of(c, id, key, sizeof(key));
    redisReply *rep = redisCommand(c, "HSET %s %s %b", key, id, rec, rec_len);
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    long long consumed = harness_redis_hget_int(c, "clm:stats", "consumed");
    char view[4096];
    snprintf(view, sizeof(view), "clm:customer:%s", id);
    char *view_before = dump(r, view);

    harness_proc *p = start_clmd(cfg, log);
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, &F.msgs[msg], 1, true, 60000,
                          errbuf, sizeof(errbuf)));
    int st;
    if (harness_proc_wait(p, 60000, &st, errbuf, sizeof(errbuf)) < 0)
        fail_msg("%s: clmd kept running over a checkpoint it cannot decode", name);
    harness_proc_free(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    const char *text = slurp(log);
    if (!strstr(text, key) || !strstr(text, id) || !strstr(text, version))
        fail_msg("%s: the log does not name key %s, field %s and '%s':\n%s", name, key, id, version,
                 text);
    /* nothing applied: the count, the record and the view are as they were */
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "consumed"), consumed);
    rep = redisCommand(c, "HGET %s %s", key, id);
    assert_true(rep && rep->type == REDIS_REPLY_STRING && rep->len == rec_len &&
                memcmp(rep->str, rec, rec_len) == 0);
    freeReplyObject(rep);
    char *view_after = dump(r, view);
    assert_string_equal(view_before, view_after);
    free(view_before);
    free(view_after);
    redisFree(c);
}

static void corrupt_checkpoint(void **state)
{
    (void)state;
    char cfg[128], log[128], id[64] = "";
    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(F.kafka, TOPIC ".c", PARTITIONS, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/corrupt.json", F.tmp);
    snprintf(log, sizeof(log), "%s/corrupt.log", F.tmp);
    write_config(cfg, TOPIC ".c", harness_redis_port(r));
    produce(TOPIC ".c", 0, F.half);
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(r, (long long)F.half);
    stop_clmd(p);

    pick(id, sizeof(id), NULL, 0);
    size_t msg = 0;
    while (F.msgs[msg].key_len != strlen(id) || memcmp(F.msgs[msg].key, id, strlen(id)) != 0)
        msg++;
    expect_refusal(r, cfg, TOPIC ".c", id, msg, "\x09garbage", 8, "version 9", "unknown-version");
    expect_refusal(r, cfg, TOPIC ".c", id, msg, "\x02\x05", 2, "version 2", "truncated");
    harness_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_edits),
        cmocka_unit_test(corrupt_checkpoint),
    };
    return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
