/* tests/test-clmctl-cluster.c - clmctl reading a Redis Cluster prints what it
 * prints for one server. A generated stream goes through clmd into a plain
 * redis-server; every key it wrote is then copied (DUMP, RESTORE through the
 * cluster client) into a cluster of 3 masters with a replica each
 * (tests/harness_cluster.h). (clmd itself does not start on a cluster yet:
 * its startup layout check asks for a connection without a key and waits
 * forever for one; once it starts there, a second run of the stream into the
 * cluster can replace the copy.) Then:
 *   same_output       every subcommand (kpi, kpi --window, customer, stages,
 *                     days, kpi --history, at-risk, alerts; tables, --json
 *                     and --csv) prints the
 *                     same against the cluster, with --cluster and with
 *                     redis.cluster in the config, as against the server
 *   refit             the request lands in the cluster's model hash
 *   rebuild_view      rebuild-view --all and ID on both: the same counts, and
 *                     the customers printed the same afterwards
 *   alerts_tail       alerts --tail --max 1 on the cluster prints an alert
 *                     added after it started
 *   errors            a seed that does not parse is named; a plain server is
 *                     "not a Redis Cluster"; --redis with --cluster is a
 *                     usage error; --help mentions --cluster
 * A missing redis-server, redis-cli, clmd or clmctl fails the test; nothing
 * is skipped.
 */
#include <errno.h>
#include <pthread.h>
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
#include <hiredis/hiredis.h>

#include "net/redis_cluster.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define GROUP "clmd-ctl"
#define PARTITIONS 4

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    char tmp[64];
    harness_stream stream;
    harness_redis *single;    /* clmd's run into one server */
    harness_cluster *cluster; /* clmd's run into the cluster */
    char single_cfg[128], cluster_cfg[128];
    char ids[3][128]; /* customers to show */
} fixture;

static fixture F;

static const char *bin(const char *env, const char *def)
{
    const char *p = getenv(env);
    return p ? p : def;
}

/* clmd's config (also clmctl's): one server at port, or the cluster at seeds. */
static void write_config(const char *path, const char *brokers, int port, const char *seeds)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char redis[4200];
    if (seeds)
        snprintf(redis, sizeof(redis), "{\"cluster\": \"%s\"}", seeds);
    else
        snprintf(redis, sizeof(redis), "{\"port\": %d}", port);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"" GROUP "\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": %s,\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2},\n"
            " \"http\": {\"port\": 0},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000},\n"
            " \"log\": {\"level\": \"info\"}}\n",
            brokers, redis);
    fclose(f);
}

/* A cluster client for the test's own reads and writes. */
static clm_cluster *cluster_client(void)
{
    clm_cluster_opts o = { .seeds = harness_cluster_seeds(F.cluster), .timeout_ms = 5000 };
    clm_cluster *cl = NULL;
    CHECK(clm_cluster_new(&o, &cl, errbuf, sizeof(errbuf)));
    return cl;
}

/* Copies every key of the server into the cluster, each to the master of
 * its slot: DUMP there, RESTORE ... REPLACE here, TTLs kept. Returns how
 * many. */
static size_t copy_to_cluster(void)
{
    redisContext *c = NULL;
    clm_cluster *cl = cluster_client();
    size_t copied = 0;
    CHECK(harness_redis_connect(F.single, &c, errbuf, sizeof(errbuf)));
    redisReply *keys = redisCommand(c, "KEYS *");
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        redisReply *dump = redisCommand(c, "DUMP %b", k->str, k->len);
        redisReply *ttl = redisCommand(c, "PTTL %b", k->str, k->len);
        assert_non_null(dump);
        assert_non_null(ttl);
        assert_int_equal(dump->type, REDIS_REPLY_STRING);
        char ms[32];
        snprintf(ms, sizeof(ms), "%lld", ttl->integer > 0 ? ttl->integer : 0);
        const char *argv[] = { "RESTORE", k->str, ms, dump->str, "REPLACE" };
        size_t lens[] = { 7, k->len, strlen(ms), dump->len, 7 };
        redisReply *rep = clm_cluster_command(cl, 1, 5, argv, lens, errbuf, sizeof(errbuf));
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            fail_msg("RESTORE %s on the cluster: %s", k->str, rep ? rep->str : errbuf);
        freeReplyObject(rep);
        freeReplyObject(dump);
        freeReplyObject(ttl);
        copied++;
    }
    freeReplyObject(keys);
    redisFree(c);
    clm_cluster_free(cl);
    return copied;
}

/* Runs clmd over a fresh mock Kafka holding the whole stream into the
 * server until it consumed every message, then stops it. */
static void run_clmd(const char *name, harness_redis *single)
{
    harness_kafka *kafka = NULL;
    char cfg[128], log[128];
    CHECK(harness_kafka_start(1, &kafka, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(harness_kafka_bootstraps(kafka), TOPIC, F.stream.msgs, F.stream.n, true,
                          60000, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/clmd-%s.json", F.tmp, name);
    snprintf(log, sizeof(log), "%s/clmd-%s.log", F.tmp, name);
    write_config(cfg, harness_kafka_bootstraps(kafka), harness_redis_port(single), NULL);
    const char *argv[] = { bin("CLMD_BIN", "clmd"), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    long long got = -1;
    if (harness_wait_consumed(single, (long long)F.stream.n, 180000, &got) < 0)
        fail_msg("clmd (%s) consumed %lld of %zu messages within 180 s; see %s", name, got,
                 F.stream.n, log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    harness_kafka_free(kafka);
}

/* The first three customer ids of the server, in byte order. */
static void pick_ids(void)
{
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.single, &c, errbuf, sizeof(errbuf)));
    redisReply *rep = redisCommand(c, "KEYS clm:customer:*");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    if (rep->elements < 3)
        fail_msg("clmd wrote %zu customer views", rep->elements);
    char *keys[3] = { 0 };
    for (size_t i = 0; i < rep->elements; i++) {
        char *k = rep->element[i]->str;
        for (int j = 0; j < 3; j++)
            if (!keys[j] || strcmp(k, keys[j]) < 0) {
                for (int m = 2; m > j; m--)
                    keys[m] = keys[m - 1];
                keys[j] = k;
                break;
            }
    }
    for (int j = 0; j < 3; j++)
        snprintf(F.ids[j], sizeof(F.ids[j]), "%s", keys[j] + strlen("clm:customer:"));
    freeReplyObject(rep);
    redisFree(c);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clmctl-cluster-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 31;
    o.customers = 200;
    o.events = 4000;
    if (harness_stream_gen(&o, &F.stream, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# stream: %s\n", errbuf);
        return -1;
    }
    if (harness_redis_start(&F.single, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# redis-server: %s\n", errbuf);
        return -1;
    }
    if (harness_cluster_start(3, 1, &F.cluster, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# cluster: %s\n", errbuf);
        return -1;
    }
    run_clmd("single", F.single);
    size_t copied = copy_to_cluster();
    fprintf(stderr, "# %zu keys copied into the cluster\n", copied);
    /* clmctl's configs: the same but for where Redis is */
    snprintf(F.single_cfg, sizeof(F.single_cfg), "%s/single.json", F.tmp);
    snprintf(F.cluster_cfg, sizeof(F.cluster_cfg), "%s/cluster.json", F.tmp);
    write_config(F.single_cfg, "127.0.0.1:9", harness_redis_port(F.single), NULL);
    write_config(F.cluster_cfg, "127.0.0.1:9", 0, harness_cluster_seeds(F.cluster));
    pick_ids();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_cluster_stop(F.cluster);
    harness_redis_free(F.single);
    harness_stream_free(&F.stream);
    if (getenv("CLM_TEST_KEEP")) { /* clmd's logs and configs, for a post-mortem */
        fprintf(stderr, "# kept %s\n", F.tmp);
        return 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs `clmctl <global> <args>` (a shell fragment each); returns its exit
 * status with stdout and stderr in *out (malloc'ed). */
static int clmctl(const char *global, const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' %s %s 2>&1", bin("CLMCTL_BIN", "clmctl"), global, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    int st = pclose(f);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The three ways of reading: the server, the cluster by --cluster, the
 * cluster by redis.cluster in the config. */
static void globals(char g[3][4500])
{
    snprintf(g[0], 4500, "-c '%s'", F.single_cfg);
    snprintf(g[1], 4500, "-c '%s' --cluster '%s'", F.single_cfg, harness_cluster_seeds(F.cluster));
    snprintf(g[2], 4500, "-c '%s'", F.cluster_cfg);
}

/* args against the cluster (both ways) prints what it prints against the
 * server, with the same exit status; returns the server's output. */
static char *same(const char *args, int want_status)
{
    char g[3][4500];
    globals(g);
    char *want = NULL;
    int st = clmctl(g[0], args, &want);
    if (st != want_status)
        fail_msg("clmctl %s on the server: status %d, expected %d: %s", args, st, want_status, want);
    fprintf(stderr, "# clmctl %s: status %d, %zu bytes, %.*s\n", args, st, strlen(want),
            (int)strcspn(want, "\n"), want);
    for (int i = 1; i < 3; i++) {
        char *got = NULL;
        int gst = clmctl(g[i], args, &got);
        if (gst != st || strcmp(got, want) != 0) {
            char diff[1024];
            harness_dump_diff(want, got, diff, sizeof(diff));
            fail_msg("clmctl %s %s: status %d (server %d), output differs: %s", g[i], args, gst, st,
                     diff);
        }
        free(got);
    }
    return want;
}

static void test_same_output(void **state)
{
    (void)state;
    char args[512];
    const char *cmds[] = { "kpi", "kpi --window 30d", "kpi --window 5d", "stages", "days",
                           "days --last 30", "days --last 30 --columns revenue,spend",
                           "kpi --history", "kpi --history --last 30 --columns revenue,aov,customers_eod",
                           "at-risk", "at-risk --top 3", "alerts --count 50", NULL };
    for (int json = 0; json < 2; json++) {
        for (int i = 0; cmds[i]; i++) {
            snprintf(args, sizeof(args), "%s%s", json ? "--json " : "", cmds[i]);
            int want = strcmp(cmds[i], "kpi --window 5d") == 0 ? 1 : 0;
            free(same(args, want));
        }
        for (int j = 0; j < 3; j++) {
            snprintf(args, sizeof(args), "%scustomer '%s'", json ? "--json " : "", F.ids[j]);
            free(same(args, 0));
        }
        snprintf(args, sizeof(args), "%scustomer no-such-customer", json ? "--json " : "");
        free(same(args, 1));
    }
    /* the data is a real run's: non-empty */
    char *out = same("kpi", 0);
    assert_non_null(strstr(out, "30d"));
    free(out);
    out = same("--csv kpi --history --columns orders", 0);
    assert_true(strlen(out) > 40); /* a header and some days */
    free(out);
    out = same("--json stages", 0);
    assert_true(strlen(out) > 5);
    free(out);
}

static void test_refit(void **state)
{
    (void)state;
    char g[3][4500];
    globals(g);
    clm_cluster *cl = cluster_client();
    for (int i = 1; i < 3; i++) {
        char *out = NULL;
        assert_int_equal(clmctl(g[i], "--json refit", &out), 0);
        char token[64];
        if (sscanf(out, "{\"refit_requested\": \"%63[^\"]\"}", token) != 1)
            fail_msg("refit printed %s", out);
        const char *argv[] = { "HGET", "clm:model", "refit_requested" };
        redisReply *rep = clm_cluster_command(cl, 1, 3, argv, NULL, errbuf, sizeof(errbuf));
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        assert_string_equal(rep->str, token);
        freeReplyObject(rep);
        free(out);
    }
    clm_cluster_free(cl);
}

static void test_rebuild_view(void **state)
{
    (void)state;
    char args[512];
    clm_cluster *cl = cluster_client();
    /* damage one view on each, so that the rebuild has something to do */
    char key[256];
    snprintf(key, sizeof(key), "clm:customer:%s", F.ids[0]);
    const char *del[] = { "HDEL", key, "events", "stage" };
    redisReply *rep = clm_cluster_command(cl, 1, 4, del, NULL, errbuf, sizeof(errbuf));
    assert_non_null(rep);
    freeReplyObject(rep);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.single, &c, errbuf, sizeof(errbuf)));
    freeReplyObject(redisCommand(c, "HDEL %s events stage", key));
    redisFree(c);
    free(same("rebuild-view --all", 0));
    snprintf(args, sizeof(args), "rebuild-view '%s'", F.ids[1]);
    free(same(args, 0));
    free(same("rebuild-view no-such-customer", 1));
    for (int j = 0; j < 3; j++) {
        snprintf(args, sizeof(args), "--json customer '%s'", F.ids[j]);
        char *out = same(args, 0);
        if (!strstr(out, "\"events\"") || !strstr(out, "\"stage\""))
            fail_msg("the view of %s was not rebuilt: %s", F.ids[j], out);
        free(out);
    }
    free(same("at-risk", 0));
    clm_cluster_free(cl);
}

static void test_alerts_tail(void **state)
{
    (void)state;
    char log[256], cfg[4600];
    snprintf(log, sizeof(log), "%s/tail.log", F.tmp);
    snprintf(cfg, sizeof(cfg), "%s", F.cluster_cfg);
    /* an empty stream first: the tail then prints only the new entry */
    clm_cluster *cl = cluster_client();
    const char *delk[] = { "DEL", "clm:alerts" };
    redisReply *rep = clm_cluster_command(cl, 1, 2, delk, NULL, errbuf, sizeof(errbuf));
    assert_non_null(rep);
    freeReplyObject(rep);
    const char *argv[] = { bin("CLMCTL_BIN", "clmctl"), "-c", cfg, "--json", "alerts", "--tail",
                           "--max", "1", NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    /* one alert every 200 ms until it ends: whether the first came before
     * its first read (then printed as the latest) or after (then followed),
     * a later one ends the tail */
    int st = 0, tries = 0;
    do {
        const char *xadd[] = { "XADD", "clm:alerts", "*", "json",
                               "{\"kind\":\"churned\",\"customer_id\":\"c1\"}" };
        rep = clm_cluster_command(cl, 1, 5, xadd, NULL, errbuf, sizeof(errbuf));
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        freeReplyObject(rep);
        if (++tries > 50)
            fail_msg("alerts --tail --max 1 did not end within 10 s");
    } while (harness_proc_wait(p, 200, &st, errbuf, sizeof(errbuf)) == -ETIMEDOUT);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    harness_proc_free(p);
    FILE *f = fopen(log, "r");
    char line[512] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "{\"kind\":\"churned\",\"customer_id\":\"c1\"}\n");
    clm_cluster_free(cl);
}

static void test_errors(void **state)
{
    (void)state;
    char g[4600], *out = NULL;
    snprintf(g, sizeof(g), "-c '%s' --cluster '127.0.0.1:1,localhost'", F.single_cfg);
    assert_int_equal(clmctl(g, "stages", &out), 1);
    if (!strstr(out, "--cluster: ") || !strstr(out, "\"localhost\""))
        fail_msg("a bad seed: %s", out);
    free(out);
    snprintf(g, sizeof(g), "-c '%s' --cluster '127.0.0.1:%d'", F.single_cfg,
             harness_redis_port(F.single));
    assert_int_equal(clmctl(g, "stages", &out), 1);
    if (!strstr(out, "is not a Redis Cluster"))
        fail_msg("a plain server: %s", out);
    free(out);
    snprintf(g, sizeof(g), "--redis 127.0.0.1:1 --cluster 127.0.0.1:2");
    assert_int_equal(clmctl(g, "stages", &out), 2);
    assert_non_null(strstr(out, "exclude each other"));
    free(out);
    assert_int_equal(clmctl("--help", "", &out), 0);
    assert_non_null(strstr(out, "--cluster HOST:PORT"));
    free(out);
    /* --redis reads the one server even when the config names a cluster */
    snprintf(g, sizeof(g), "-c '%s' --redis 127.0.0.1:%d", F.cluster_cfg,
             harness_redis_port(F.single));
    char *want = NULL;
    assert_int_equal(clmctl(g, "--json stages", &out), 0);
    snprintf(g, sizeof(g), "-c '%s'", F.single_cfg);
    assert_int_equal(clmctl(g, "--json stages", &want), 0);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_output),
        cmocka_unit_test(test_refit),
        cmocka_unit_test(test_rebuild_view),
        cmocka_unit_test(test_alerts_tail),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
