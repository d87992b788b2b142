/* tests/test-guards.c - what clmd refuses, and what it waits out, end to end.
 *
 * One librdkafka mock cluster in this process holding a generated stream,
 * real redis-server processes, clmd as a child process. The state of every
 * run that must end like an uninterrupted one is compared, key by key, with
 * a clean run of the same stream (as tests/test-ingest.c does).
 *   redis_oom       Redis with little room under maxmemory (noeviction):
 *                   clmd holds its flushes (one log line; /healthz 503 with
 *                   Redis' OOM answer) instead of exiting; once maxmemory is
 *                   raised with CONFIG SET it resumes and ends as the clean
 *                   run does
 *   redis_misconf   Redis' RDB save fails halfway through the stream (its
 *                   target is a directory) with stop-writes-on-bgsave-error:
 *                   clmd holds on MISCONF as on OOM, and once a save
 *                   succeeds it resumes and ends as the clean run does
 *   evicting_policy maxmemory-policy allkeys-lru: clmd refuses to start,
 *                   saying why, and writes nothing
 *   second_group    group clmd-a consumed half the stream; clmd of group
 *                   clmd-b on the same prefix refuses to start and changes
 *                   nothing; with --take-over it continues from clmd-a's
 *                   offsets over the rest, and Redis ends as after the clean
 *                   run of clmd-b over the whole stream (nothing counted
 *                   twice); clmd-a is then refused
 *   offsets_beyond_end  Redis holds offsets of 40 messages, and clmd is
 *                   pointed at another cluster whose topic of that name has
 *                   10: it stops, naming the topic, the partition, the
 *                   stored offset and the watermarks, and consumes nothing
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "guards"
#define GROUP "clmd-b"

static char errbuf[512];
#define CHECK(call)                                                                 \
    do {                                                                            \
        int r_ = (call);                                                            \
        if (r_ < 0)                                                                 \
            fail_msg("%s: %s (%d)", #call, errbuf, r_);                             \
    } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    clm_gen_opts gen;
    int64_t total;    /* messages in TOPIC */
    char *clean_dump; /* Redis after an uninterrupted run over TOPIC as GROUP */
} fixture;

static fixture F;

/* ---- running clmd -------------------------------------------------------- */

typedef struct run {
    char cfg[128], log[128];
    harness_redis *redis;
    redisContext *rc;
    harness_proc *p;
    int http_port;
} run;

static int free_port(void)
{
    int port = 0;
    if (harness_free_port(&port, errbuf, sizeof(errbuf)) < 0)
        fail_msg("%s", errbuf);
    return port;
}

/* (Re)writes the config of r: `topic` as `group` into r's Redis. */
static void write_config(run *r, const char *brokers, const char *topic, const char *group)
{
    FILE *f = fopen(r->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"%s\",\n"
            /* a member that did not leave (a refused start) is dropped in 6 s, not 45 */
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2, \"shutdown_timeout_s\": 10},\n"
            " \"http\": {\"port\": %d},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000}}\n",
            brokers, topic, group, harness_redis_port(r->redis), r->http_port);
    fclose(f);
}

/* A Redis and a config named `name` in the fixture's directory. */
static void run_init(run *r, const char *name, const char *topic, const char *group)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->cfg, sizeof(r->cfg), "%s/%s.json", F.tmp, name);
    snprintf(r->log, sizeof(r->log), "%s/%s.log", F.tmp, name);
    r->http_port = free_port();
    CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r->redis, &r->rc, errbuf, sizeof(errbuf)));
    write_config(r, harness_kafka_bootstraps(F.kafka), topic, group);
}

/* Starts clmd with the config and `extra_arg` (may be NULL). */
static void start(run *r, const char *extra_arg)
{
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, extra_arg, NULL };
    CHECK(harness_proc_spawn(argv, r->log, &r->p, errbuf, sizeof(errbuf)));
}

static void stop(run *r)
{
    CHECK(harness_proc_signal(r->p, SIGTERM));
    CHECK(harness_proc_expect_exit(r->p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(r->p);
    r->p = NULL;
}

static void run_free(run *r)
{
    harness_proc_free(r->p);
    if (r->rc)
        redisFree(r->rc);
    harness_redis_free(r->redis);
}

/* The whole file (free it); "" when absent. */
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

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *q = hay; (q = strstr(q, needle)) != NULL; q += strlen(needle))
        n++;
    return n;
}

typedef struct logwait {
    const char *path, *text;
} logwait;

static bool log_has(void *arg)
{
    logwait *w = arg;
    char *all = slurp(w->path);
    bool found = strstr(all, w->text) != NULL;
    free(all);
    return found;
}

static void wait_log(run *r, const char *text, int timeout_ms)
{
    logwait w = { r->log, text };
    if (harness_wait_until(log_has, &w, timeout_ms) < 0) {
        char *all = slurp(r->log);
        fail_msg("no \"%s\" in the log of clmd within %d ms:\n%s", text, timeout_ms, all);
    }
}

typedef struct waiter {
    redisContext *c;
    long long want;
} waiter;

static bool consumed_reached(void *arg)
{
    waiter *w = arg;
    return harness_redis_hget_int(w->c, "clm:stats", "consumed") >= w->want;
}

static void wait_consumed(run *r, long long n, int timeout_ms)
{
    waiter w = { .c = r->rc, .want = n };
    if (harness_wait_until(consumed_reached, &w, timeout_ms) < 0) {
        char *all = slurp(r->log);
        fail_msg("clmd consumed %lld of %lld messages in %d ms; log:\n%s",
                 harness_redis_hget_int(r->rc, "clm:stats", "consumed"), n, timeout_ms, all);
    }
}

typedef struct health {
    int port, want;
    const char *text;
    char body[4096];
} health;

static bool health_is(void *arg)
{
    health *h = arg;
    return harness_http_get(h->port, "/healthz", h->body, sizeof(h->body)) == h->want &&
           strstr(h->body, h->text) != NULL;
}

static void wait_health(run *r, int status, const char *text, int timeout_ms)
{
    health h = { .port = r->http_port, .want = status, .text = text };
    if (harness_wait_until(health_is, &h, timeout_ms) < 0)
        fail_msg("/healthz did not answer %d \"%s\" within %d ms; last: \"%s\"", status, text,
                 timeout_ms, h.body);
}

/* ---- comparing runs ------------------------------------------------------ */

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Alert ids name the source topic: runs over a copy of the stream in
 * another topic differ there only, so the ids are masked and the lines
 * sorted again (as in tests/test-ingest.c). */
static void mask_alert_ids(char *d)
{
    static const char *const tags[] = { "alert_id=", "\"alert_id\":\"", "alerts:outbox hash " };
    for (size_t t = 0; t < 3; t++)
        for (char *q = d; (q = strstr(q, tags[t])) != NULL;) {
            q += strlen(tags[t]);
            for (int i = 0; i < 32 && q[i] && q[i] != '\n'; i++)
                q[i] = 'x';
        }
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof(*lines));
    assert_non_null(lines);
    for (char *save = NULL, *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(*lines));
            assert_non_null(lines);
        }
        lines[n++] = strdup(l);
    }
    qsort(lines, n, sizeof(*lines), cmp_line);
    char *w = d;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        memcpy(w, lines[i], len);
        w[len] = '\n';
        w += len + 1;
        free(lines[i]);
    }
    *w = '\0';
    free(lines);
}

/* The dump of r's Redis with `topic` renamed TOPIC (strlen(topic) >=
 * strlen(TOPIC)) and alert ids masked. */
static char *dump(run *r, const char *topic)
{
    char *out = NULL;
    CHECK(harness_redis_dump(r->rc, NULL, &out, errbuf, sizeof(errbuf)));
    size_t tl = strlen(topic), cl = strlen(TOPIC);
    char *w = out;
    for (const char *q = out; *q;) {
        if (strncmp(q, topic, tl) == 0) {
            memcpy(w, TOPIC, cl);
            w += cl;
            q += tl;
        } else {
            *w++ = *q++;
        }
    }
    *w = '\0';
    mask_alert_ids(out);
    return out;
}

static void expect_clean(run *r, const char *topic, const char *name)
{
    char *got = dump(r, topic), diff[1024];
    if (harness_dump_diff(F.clean_dump, got, diff, sizeof(diff)) != 0)
        fail_msg("%s: state differs from an uninterrupted run: %s", name, diff);
    free(got);
}

/* ---- Redis out of memory (issue 12 item 6) -------------------------------- */

/* Produces messages [from, to) of the fixture's stream to topic. */
static void produce_range(const char *topic, int64_t from, int64_t to)
{
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&F.gen, &g, errbuf, sizeof(errbuf)));
    harness_kv *kv = calloc((size_t)(to - from), sizeof(*kv));
    char **bufs = calloc((size_t)(to - from), sizeof(*bufs));
    assert_true(kv && bufs);
    clm_gen_msg m;
    for (int64_t i = 0; i < to && clm_gen_next(g, &m) == 1; i++) {
        if (i < from)
            continue;
        char *b = malloc(m.key_len + m.value_len + 1);
        assert_non_null(b);
        memcpy(b, m.key, m.key_len);
        memcpy(b + m.key_len, m.value, m.value_len);
        bufs[i - from] = b;
        kv[i - from] = (harness_kv){ .key = b, .key_len = m.key_len, .value = b + m.key_len,
                                     .value_len = m.value_len };
    }
    clm_gen_free(g);
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, kv, (size_t)(to - from), true,
                          60000, errbuf, sizeof(errbuf)));
    for (int64_t i = 0; i < to - from; i++)
        free(bufs[i]);
    free(bufs);
    free(kv);
}


static long long used_memory(redisContext *c)
{
    redisReply *rep = redisCommand(c, "INFO memory");
    assert_true(rep && rep->type == REDIS_REPLY_STRING);
    const char *f = strstr(rep->str, "used_memory:");
    assert_non_null(f);
    long long v = atoll(f + strlen("used_memory:"));
    freeReplyObject(rep);
    return v;
}

static void redis_cmd(redisContext *c, const char *cmd)
{
    redisReply *rep = redisCommand(c, cmd);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", cmd, rep ? rep->str : c->errstr);
    freeReplyObject(rep);
}

/* maxmemory 600 kB above what the empty server uses, noeviction: clmd
 * applies part of the stream (all of it takes about 1.2 MB), then Redis answers its flush "OOM command not
 * allowed ...". clmd keeps running and holds (one warning, /healthz 503
 * naming the OOM), consumes no further; with maxmemory raised it resumes,
 * /healthz is 200 again, and Redis ends as after the clean run. */
static void redis_oom(void **state)
{
    (void)state;
    run r;
    run_init(&r, "oom", TOPIC, GROUP);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CONFIG SET maxmemory %lld", used_memory(r.rc) + 600000);
    redis_cmd(r.rc, cmd);
    redis_cmd(r.rc, "CONFIG SET maxmemory-policy noeviction");
    start(&r, NULL);
    wait_log(&r, "<4>writer: Redis refuses writes (OOM command not allowed", 60000);
    wait_health(&r, 503, "not flushing: Redis refuses writes: OOM command not allowed", 10000);
    long long held = harness_redis_hget_int(r.rc, "clm:stats", "consumed");
    assert_true(held < F.total);
    sleep(2); /* held: nothing more is applied, clmd does not exit */
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "consumed"), held);
    int st;
    assert_int_equal(harness_proc_wait(r.p, 0, &st, errbuf, sizeof(errbuf)), -ETIMEDOUT);

    redis_cmd(r.rc, "CONFIG SET maxmemory 0");
    wait_consumed(&r, F.total, 120000);
    wait_log(&r, "<5>writer: Redis takes writes again; flushing resumed", 10000);
    wait_health(&r, 200, "ok", 10000);
    stop(&r);
    char *all = slurp(r.log);
    assert_int_equal(count_of(all, "writer: Redis refuses writes"), 1);
    free(all);
    expect_clean(&r, TOPIC, "redis_oom");
    run_free(&r);
}

static bool bgsave_status(redisContext *c, const char *want)
{
    redisReply *rep = redisCommand(c, "INFO persistence");
    bool ok = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "rdb_bgsave_in_progress:0") &&
              strstr(rep->str, want);
    freeReplyObject(rep);
    return ok;
}

static bool bgsave_failed(void *arg)
{
    return bgsave_status(arg, "rdb_last_bgsave_status:err");
}

static bool bgsave_done(void *arg)
{
    return bgsave_status(arg, "rdb_last_bgsave_status:ok");
}

/* Half the stream applied, then an RDB save that fails (a save point is
 * configured and dump.rdb is a directory): Redis answers writes "MISCONF
 * ...". The second half is produced; clmd holds (one warning, /healthz
 * naming MISCONF) until a save succeeds, then ends as the clean run. */
static void redis_misconf(void **state)
{
    (void)state;
    const char *topic = TOPIC ".m";
    int64_t half = F.total / 2;
    CHECK(harness_kafka_create_topic(F.kafka, topic, 2, errbuf, sizeof(errbuf)));
    produce_range(topic, 0, half);
    run r;
    run_init(&r, "misconf", topic, GROUP);
    start(&r, NULL);
    wait_consumed(&r, half, 60000);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/dump.rdb", harness_redis_dir(r.redis));
    assert_int_equal(mkdir(dir, 0755), 0);
    redisReply *sv = redisCommand(r.rc, "CONFIG SET save %s", "3600 1");
    assert_true(sv && sv->type == REDIS_REPLY_STATUS);
    freeReplyObject(sv);
    redis_cmd(r.rc, "BGSAVE");
    if (harness_wait_until(bgsave_failed, r.rc, 10000) < 0)
        fail_msg("the RDB save did not fail");

    produce_range(topic, half, F.total);
    wait_log(&r, "<4>writer: Redis refuses writes (MISCONF ", 60000);
    wait_health(&r, 503, "not flushing: Redis refuses writes: MISCONF ", 10000);
    long long held = harness_redis_hget_int(r.rc, "clm:stats", "consumed");
    assert_true(held < F.total);

    assert_int_equal(rmdir(dir), 0);
    redis_cmd(r.rc, "BGSAVE");
    if (harness_wait_until(bgsave_done, r.rc, 10000) < 0)
        fail_msg("the RDB save did not succeed");
    wait_consumed(&r, F.total, 120000);
    wait_health(&r, 200, "ok", 10000);
    stop(&r);
    char *all = slurp(r.log);
    assert_int_equal(count_of(all, "writer: Redis refuses writes"), 1);
    free(all);
    sv = redisCommand(r.rc, "CONFIG SET save %s", "");
    assert_true(sv && sv->type == REDIS_REPLY_STATUS);
    freeReplyObject(sv);
    expect_clean(&r, topic, "redis_misconf");
    run_free(&r);
}

/* maxmemory-policy allkeys-lru: clmd exits 1 at start with a line naming the
 * policy and the fix, having consumed nothing. */
static void evicting_policy(void **state)
{
    (void)state;
    run r;
    run_init(&r, "lru", TOPIC, GROUP);
    redis_cmd(r.rc, "CONFIG SET maxmemory-policy allkeys-lru");
    start(&r, NULL);
    CHECK(harness_proc_expect_exit(r.p, 30000, 1, errbuf, sizeof(errbuf)));
    char *all = slurp(r.log);
    if (!strstr(all, "<3>store: Redis evicts keys under memory pressure (maxmemory-policy "
                     "allkeys-lru): ") ||
        !strstr(all, "set maxmemory-policy noeviction"))
        fail_msg("no refusal naming allkeys-lru in the log:\n%s", all);
    free(all);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "consumed"), 0);
    run_free(&r);
}

/* ---- two groups on one prefix (issue 12 item 5) -------------------------- */

static void expect_refused(run *r, const char *text)
{
    CHECK(harness_proc_expect_exit(r->p, 30000, 1, errbuf, sizeof(errbuf)));
    harness_proc_free(r->p);
    r->p = NULL;
    char *all = slurp(r->log);
    if (!strstr(all, text))
        fail_msg("no \"%s\" in the log of clmd:\n%s", text, all);
    free(all);
}

static void second_group(void **state)
{
    (void)state;
    const char *topic = TOPIC ".t";
    int64_t half = F.total / 2;
    CHECK(harness_kafka_create_topic(F.kafka, topic, 2, errbuf, sizeof(errbuf)));
    produce_range(topic, 0, half);
    run r;
    run_init(&r, "group", topic, "clmd-a");
    start(&r, NULL);
    wait_consumed(&r, half, 60000);
    stop(&r);

    /* another group: refused, and Redis is left as it was */
    char *before = NULL, *after = NULL;
    CHECK(harness_redis_dump(r.rc, NULL, &before, errbuf, sizeof(errbuf)));
    write_config(&r, harness_kafka_bootstraps(F.kafka), topic, GROUP);
    start(&r, NULL);
    expect_refused(&r, "<3>store: redis.prefix \"clm:\" holds the state of consumer group "
                       "\"clmd-a\", and kafka.group_id is \"clmd-b\": a second group on one "
                       "prefix would apply every event again. Use kafka.group_id \"clmd-a\" or "
                       "another redis.prefix, or start once with --take-over");
    CHECK(harness_redis_dump(r.rc, NULL, &after, errbuf, sizeof(errbuf)));
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* taken over: the rest of the stream, applied once */
    produce_range(topic, half, F.total);
    start(&r, "--take-over");
    wait_log(&r, "<5>store: consumer group clmd-b took redis.prefix clm: over from group "
                 "clmd-a: it continues from that group's offsets and state", 30000);
    wait_consumed(&r, F.total, 60000);
    stop(&r);
    expect_clean(&r, topic, "second_group");
    char *all = slurp(r.log);
    assert_non_null(strstr(all, "resuming at offset"));
    free(all);

    /* and now the first group is the stranger */
    write_config(&r, harness_kafka_bootstraps(F.kafka), topic, "clmd-a");
    start(&r, NULL);
    expect_refused(&r, "holds the state of consumer group \"clmd-b\", and kafka.group_id is "
                       "\"clmd-a\"");
    run_free(&r);
}

/* ---- offsets outside the partition (issue 12 item 8) ---------------------- */

static void offsets_beyond_end(void **state)
{
    (void)state;
    const char *topic = TOPIC ".r";
    harness_kafka *other = NULL;
    CHECK(harness_kafka_create_topic(F.kafka, topic, 2, errbuf, sizeof(errbuf)));
    produce_range(topic, 0, 40);
    run r;
    run_init(&r, "range", topic, GROUP);
    start(&r, NULL);
    wait_consumed(&r, 40, 60000);
    stop(&r);
    char *before = NULL, *after = NULL;
    CHECK(harness_redis_dump(r.rc, NULL, &before, errbuf, sizeof(errbuf)));

    /* the same topic name on another cluster, with fewer messages */
    CHECK(harness_kafka_start(1, &other, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(other, topic, 2, errbuf, sizeof(errbuf)));
    harness_kafka *k = F.kafka;
    F.kafka = other;
    produce_range(topic, 0, 10);
    F.kafka = k;
    int64_t high[2];
    int np = 0;
    CHECK(harness_kafka_high_watermarks(harness_kafka_bootstraps(other), topic, high, 2, &np,
                                        10000, errbuf, sizeof(errbuf)));
    assert_int_equal(np, 2);
    write_config(&r, harness_kafka_bootstraps(other), topic, GROUP);
    start(&r, NULL);
    CHECK(harness_proc_expect_exit(r.p, 60000, 1, errbuf, sizeof(errbuf)));
    char *all = slurp(r.log);
    bool named = false;
    for (int p = 0; p < 2; p++) {
        char key[64], want[512];
        snprintf(key, sizeof(key), "clm:progress:{" GROUP ":%d}", p);
        long long stored = harness_redis_hget_int(r.rc, key, "offset:" TOPIC ".r");
        if (stored <= high[p])
            continue;
        snprintf(want, sizeof(want), "<2>consumer: %s [%d]: the offset stored in Redis, %lld, is "
                 "above the partition's offsets in Kafka (low watermark 0, high watermark %lld): "
                 "the topic was recreated or these are another cluster's brokers", topic, p,
                 stored, (long long)high[p]);
        named |= strstr(all, want) != NULL;
    }
    if (!named)
        fail_msg("no line naming the partition, its stored offset and its watermarks:\n%s", all);
    free(all);
    CHECK(harness_redis_dump(r.rc, NULL, &after, errbuf, sizeof(errbuf)));
    assert_string_equal(before, after);
    free(before);
    free(after);
    harness_kafka_free(other);
    run_free(&r);
}

/* ---- the suite ----------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-guards-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    clm_gen_opts_default(&F.gen);
    F.gen.seed = 12;
    F.gen.customers = 800;
    F.gen.events = 4000;
    F.gen.malformed_rate = 0.02;
    F.gen.dup_rate = 0.01;
    clm_gen *g = NULL;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, 2, errbuf, sizeof(errbuf)) < 0 ||
        clm_gen_new(&F.gen, &g, errbuf, sizeof(errbuf)) < 0 ||
        harness_produce_gen(harness_kafka_bootstraps(F.kafka), TOPIC, g, true, 60000, &F.total,
                            errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# setup: %s\n", errbuf);
        clm_gen_free(g);
        return -1;
    }
    clm_gen_free(g);
    /* the clean run every other run is compared with */
    run r;
    run_init(&r, "clean", TOPIC, GROUP);
    start(&r, NULL);
    wait_consumed(&r, F.total, 120000);
    stop(&r);
    F.clean_dump = dump(&r, TOPIC);
    run_free(&r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(F.clean_dump);
    harness_kafka_free(F.kafka);
    if (getenv("CLM_KEEP_TMP")) {
        fprintf(stderr, "# kept %s\n", F.tmp);
        return 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_oom),
        cmocka_unit_test(redis_misconf),
        cmocka_unit_test(evicting_policy),
        cmocka_unit_test(second_group),
        cmocka_unit_test(offsets_beyond_end),
    };
    const char *filter = getenv("CLM_GUARDS_FILTER"); /* e.g. "redis_*" */
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("guards", tests, setup, teardown);
}
