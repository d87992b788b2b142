/* tests/test-cluster.c - clmd on a real Redis Cluster (3 masters, a replica
 * each) ends exactly where one clmd on one redis-server ends, through the
 * faults a cluster brings. Each case runs two clmd instances in one
 * consumer group over the same generated stream (the first half, a fault,
 * the second half) and compares every key, read through the cluster, with
 * the single-server run (the cluster's own bookkeeping, journals, guards
 * and flush sequences, left out); the stream carries traits and two
 * breakdowns are configured, so their counters are compared as well:
 *
 *   two_instances  no fault;
 *   kill_clmd      one instance SIGKILLed as the second half arrives, then
 *                  started again;
 *   kill_master    the master of partition 0's slot SIGKILLed as the second
 *                  half arrives; its replica is promoted;
 *   reshard        `redis-cli --cluster reshard` moves the slots of one
 *                  partition's master from its first one through that
 *                  partition's slot (with their keys) to another master as
 *                  the second half arrives (redis-cli picks a source's
 *                  slots in order, never a given one; the partition chosen
 *                  is the one fewest slots from its range's start).
 * A missing redis-server, redis-cli or clmd fails the test; nothing is
 * skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/redis_cluster.h"
#include "net/slot.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define GROUP "clmd-cluster"
#define CLEAN_GROUP "clmd-single"
#define PARTITIONS 6

static char errbuf[1024];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    harness_stream stream;
    size_t total, half;
    int round; /* a fresh topic per case */
} fixture;

static fixture F;

static const char *bin(const char *env, const char *def)
{
    const char *p = getenv(env);
    return p ? p : def;
}

static void topic_name(char *buf, size_t size, int round)
{
    snprintf(buf, size, "%s.%d", TOPIC, round);
}

/* A config for one server (port > 0) or the cluster (seeds). */
static void write_config(const char *path, const char *topic, int port, const char *seeds)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"%s\",\n"
            "  \"dlq_topic\": \"" DLQ "\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d, \"cluster\": \"%s\"},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2},\n"
            " \"http\": {\"port\": 0},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000},\n"
            " \"traits\": [{\"name\": \"plan\", \"type\": \"string\"},\n"
            "   {\"name\": \"channel\", \"type\": \"string\", \"update\": \"first\"}],\n"
            " \"breakdowns\": [{\"dimension\": \"trait:plan\", \"values\": [\"basic\", \"pro\"]},\n"
            "   {\"dimension\": \"trait:channel\", \"values\": [\"organic\", \"email\"]}],\n"
            " \"log\": {\"level\": \"info\"}}\n",
            harness_kafka_bootstraps(F.kafka), topic, seeds ? GROUP : CLEAN_GROUP,
            port > 0 ? port : 6379, seeds ? seeds : "");
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
    CHECK(harness_proc_expect_exit(p, 60000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

static void produce(const char *topic, size_t from, size_t to)
{
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, F.stream.msgs + from, to - from,
                          true, 60000, errbuf, sizeof(errbuf)));
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* clm:stats consumed read through the cluster until it reaches `want`. */
static void wait_consumed_cluster(harness_cluster *h, long long want)
{
    clm_cluster_opts o = { .seeds = harness_cluster_seeds(h), .timeout_ms = 2000 };
    clm_cluster *cl;
    CHECK(clm_cluster_new(&o, &cl, errbuf, sizeof(errbuf)));
    long long got = -1;
    for (int i = 0; i < 3600 && got < want; i++) {
        const char *argv[] = { "HGET", "clm:stats", "consumed" };
        redisReply *rep = clm_cluster_command(cl, 1, 3, argv, NULL, errbuf, sizeof(errbuf));
        if (rep && rep->type == REDIS_REPLY_STRING)
            got = strtoll(rep->str, NULL, 10);
        freeReplyObject(rep);
        if (got < want)
            sleep_ms(50);
    }
    clm_cluster_free(cl);
    if (got < want)
        fail_msg("clmd consumed %lld of %lld messages within 180 s", got, want);
}

/* A copy of a dump line with either group's name written "G". */
static char *unify_group(const char *l)
{
    char *out = malloc(strlen(l) + 1), *at = out;
    assert_non_null(out);
    while (*l) {
        if (strncmp(l, GROUP, strlen(GROUP)) == 0 || strncmp(l, CLEAN_GROUP, strlen(CLEAN_GROUP)) == 0) {
            *at++ = 'G';
            l += strncmp(l, GROUP, strlen(GROUP)) == 0 ? strlen(GROUP) : strlen(CLEAN_GROUP);
        } else {
            *at++ = *l++;
        }
    }
    *at = '\0';
    return out;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every line of dumps, without the cluster's own keys and fields, sorted
 * (a stream's entries interleave differently from run to run). */
static char *normalise(char **dumps, int n)
{
    size_t cap = 1024, nl = 0, bytes = 1;
    char **lines = malloc(cap * sizeof(*lines));
    assert_non_null(lines);
    for (int d = 0; d < n; d++)
        for (char *save = NULL, *l = strtok_r(dumps[d], "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            if (strncmp(l, "clm:journal:", 12) == 0 || strncmp(l, "clm:applied:", 12) == 0 ||
                (strncmp(l, "clm:progress:", 13) == 0 && strstr(l, " hash seq=")))
                continue;
            if (nl == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof(*lines));
                assert_non_null(lines);
            }
            lines[nl++] = unify_group(l);
            bytes += strlen(lines[nl - 1]) + 1;
        }
    qsort(lines, nl, sizeof(*lines), cmp_lines);
    char *out = malloc(bytes), *at = out;
    assert_non_null(out);
    for (size_t i = 0; i < nl; i++) {
        at += sprintf(at, "%s\n", lines[i]);
        free(lines[i]);
    }
    *at = '\0';
    free(lines);
    return out;
}

/* Every key of every master of the cluster, normalised. */
static char *dump_cluster(harness_cluster *h)
{
    clm_cluster_opts o = { .seeds = harness_cluster_seeds(h), .timeout_ms = 5000 };
    clm_cluster *cl;
    CHECK(clm_cluster_new(&o, &cl, errbuf, sizeof(errbuf)));
    redisContext *ctx[16];
    int n = clm_cluster_masters(cl, ctx, NULL, 16, errbuf, sizeof(errbuf));
    CHECK(n);
    char *dumps[16];
    for (int i = 0; i < n; i++)
        CHECK(harness_redis_dump(ctx[i], "clm:*", &dumps[i], errbuf, sizeof(errbuf)));
    char *out = normalise(dumps, n);
    for (int i = 0; i < n; i++)
        free(dumps[i]);
    clm_cluster_free(cl);
    return out;
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-cluster-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# kafka: %s\n", errbuf);
        return -1;
    }
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 41;
    o.customers = 400;
    o.events = 8000;
    o.malformed_rate = 0.01;
    o.dup_rate = 0.01;
    o.traits = true; /* breakdown counters go through the journals too */
    if (harness_stream_gen(&o, &F.stream, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# stream: %s\n", errbuf);
        return -1;
    }
    F.total = F.stream.n;
    F.half = F.total / 2;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_kafka_free(F.kafka);
    harness_stream_free(&F.stream);
    if (getenv("CLM_TEST_KEEP")) {
        fprintf(stderr, "# logs kept in %s\n", F.tmp);
        return 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

typedef enum fault { NONE, KILL_CLMD, KILL_MASTER, RESHARD } fault;

/* Runs a shell command, its first output line into out (may be NULL). */
static void sh(const char *cmd, char *out, size_t size)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512] = "";
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    char rest[512];
    while (fgets(rest, sizeof(rest), f))
        ;
    int st = pclose(f);
    if (st != 0)
        fail_msg("`%s` failed (status %d): %s", cmd, st, line);
    line[strcspn(line, "\r\n")] = '\0';
    if (out)
        snprintf(out, size, "%s", line);
}

/* The first slot of the range of CLUSTER SLOTS holding `slot`. */
static int range_start(harness_cluster *h, int slot)
{
    redisContext *c;
    CHECK(harness_cluster_connect(h, harness_cluster_master_port(h, slot), &c, errbuf,
                                  sizeof(errbuf)));
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    assert_non_null(r);
    int start = -1;
    for (size_t i = 0; i < r->elements; i++) {
        long long a = r->element[i]->element[0]->integer, b = r->element[i]->element[1]->integer;
        if (a <= slot && slot <= b)
            start = (int)a;
    }
    freeReplyObject(r);
    redisFree(c);
    assert_true(start >= 0);
    return start;
}

/* Moves the slots of some partition's master, from the first of its range
 * through that partition's slot, to another master with redis-cli. */
static void reshard_partition(harness_cluster *h)
{
    int best = -1, count = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        char tag[64];
        int n = snprintf(tag, sizeof(tag), GROUP ":%d", p);
        int slot = clm_slot_of(tag, (size_t)n), c = slot - range_start(h, slot) + 1;
        if (best < 0 || c < count) {
            best = slot;
            count = c;
        }
    }
    int src = harness_cluster_master_port(h, best), dst = -1;
    for (int i = 0; i < harness_cluster_nodes(h) && dst < 0; i++) {
        int port = harness_cluster_port(h, i);
        int s0 = harness_cluster_master_port(h, 0), s1 = harness_cluster_master_port(h, 8000),
            s2 = harness_cluster_master_port(h, 16383);
        if (port != src && (port == s0 || port == s1 || port == s2))
            dst = port;
    }
    assert_true(dst > 0);
    char cmd[512], from[64], to[64];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d cluster myid", src);
    sh(cmd, from, sizeof(from));
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d cluster myid", dst);
    sh(cmd, to, sizeof(to));
    snprintf(cmd, sizeof(cmd), "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from %s "
             "--cluster-to %s --cluster-slots %d --cluster-yes 2>&1", src, from, to, count);
    sh(cmd, NULL, 0);
    if (harness_cluster_master_port(h, best) != dst)
        fail_msg("redis-cli did not move slot %d (%d slots from %d to %d)", best, count, src, dst);
}

/* The slot of partition 0's keys ({GROUP:0}). */
static int part0_slot(void)
{
    const char tag[] = GROUP ":0";
    return clm_slot_of(tag, sizeof(tag) - 1);
}

static void run_case(fault what)
{
    char topic[64], cfg[128], log[2][128];
    topic_name(topic, sizeof(topic), ++F.round);
    CHECK(harness_kafka_create_topic(F.kafka, topic, PARTITIONS, errbuf, sizeof(errbuf)));
    /* the single-server run */
    harness_redis *r;
    char ccfg[128], clog[128];
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    snprintf(ccfg, sizeof(ccfg), "%s/single-%d.json", F.tmp, F.round);
    snprintf(clog, sizeof(clog), "%s/single-%d.log", F.tmp, F.round);
    write_config(ccfg, topic, harness_redis_port(r), NULL);
    harness_proc *single = start_clmd(ccfg, clog);

    harness_cluster *h;
    CHECK(harness_cluster_start(3, 1, &h, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/cluster-%d.json", F.tmp, F.round);
    write_config(cfg, topic, 0, harness_cluster_seeds(h));
    harness_proc *p[2];
    for (int i = 0; i < 2; i++) {
        snprintf(log[i], sizeof(log[i]), "%s/cluster-%d-%d.log", F.tmp, F.round, i);
        p[i] = start_clmd(cfg, log[i]);
    }
    produce(topic, 0, F.half);
    wait_consumed_cluster(h, (long long)F.half);
    produce(topic, F.half, F.total);
    switch (what) {
    case NONE:
        break;
    case KILL_CLMD: {
        CHECK(harness_proc_signal(p[1], SIGKILL));
        int st;
        CHECK(harness_proc_wait(p[1], 10000, &st, errbuf, sizeof(errbuf)));
        harness_proc_free(p[1]);
        char again[160];
        snprintf(again, sizeof(again), "%s.again", log[1]);
        p[1] = start_clmd(cfg, again);
        break;
    }
    case KILL_MASTER:
        CHECK(harness_cluster_kill_master(h, part0_slot(), errbuf, sizeof(errbuf)));
        break;
    case RESHARD:
        reshard_partition(h);
        break;
    }
    wait_consumed_cluster(h, (long long)F.total);
    long long n;
    if (harness_wait_consumed(r, (long long)F.total, 180000, &n) < 0)
        fail_msg("the single-server clmd consumed %lld of %zu", n, F.total);
    stop_clmd(single);
    for (int i = 0; i < 2; i++)
        stop_clmd(p[i]);
    redisContext *c;
    char *d0;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_dump(c, "clm:*", &d0, errbuf, sizeof(errbuf)));
    redisFree(c);
    char *want = normalise(&d0, 1);
    free(d0);
    harness_redis_stop(r, errbuf, sizeof(errbuf));
    harness_redis_free(r);
    char *got = dump_cluster(h);
    char diff[2048];
    int d = harness_dump_diff(want, got, diff, sizeof(diff));
    if (d && getenv("CLM_TEST_KEEP")) {
        char path[160];
        snprintf(path, sizeof(path), "%s/want-%d.txt", F.tmp, F.round);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(want, f);
            fclose(f);
        }
        snprintf(path, sizeof(path), "%s/got-%d.txt", F.tmp, F.round);
        if ((f = fopen(path, "w"))) {
            fputs(got, f);
            fclose(f);
        }
    }
    free(want);
    free(got);
    harness_cluster_stop(h);
    if (d)
        fail_msg("the cluster differs from the single-server run: %s (logs in %s)", diff, F.tmp);
}

static void two_instances(void **state)
{
    (void)state;
    run_case(NONE);
}

static void kill_clmd(void **state)
{
    (void)state;
    run_case(KILL_CLMD);
}

static void kill_master(void **state)
{
    (void)state;
    run_case(KILL_MASTER);
}

static void reshard(void **state)
{
    (void)state;
    run_case(RESHARD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_instances),
        cmocka_unit_test(kill_clmd),
        cmocka_unit_test(kill_master),
        cmocka_unit_test(reshard),
    };
    return cmocka_run_group_tests_name("cluster", tests, setup, teardown);
}
