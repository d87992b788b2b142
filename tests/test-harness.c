/* tests/test-harness.c - the integration-test harness against real peers:
 * redis-server, the librdkafka mock cluster, child processes, and the
 * clmmock program. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

#define CHECK(call)                                   \
    do {                                              \
        char err_[512] = "";                          \
        int r_ = (call);                              \
        if (r_ != 0)                                  \
            fail_msg("%s: %d: %s", #call, r_, err_);  \
    } while (0)
/* the error buffer CHECK gives the call */
#define ERRBUF err_, sizeof(err_)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void make_tmpdir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/clm-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

/* ---- processes ------------------------------------------------------------ */

static void test_proc_exit_and_log(void **state)
{
    (void)state;
    char dir[PATH_MAX], log[PATH_MAX + 16];
    make_tmpdir(dir, sizeof(dir));
    snprintf(log, sizeof(log), "%s/out.log", dir);

    harness_proc *p = NULL;
    const char *argv[] = {"sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
    CHECK(harness_proc_spawn(argv, log, &p, ERRBUF));
    CHECK(harness_proc_expect_exit(p, 5000, 3, ERRBUF));
    char err[256];
    assert_int_equal(harness_proc_expect_exit(p, 0, 0, err, sizeof(err)), -ECHILD);
    assert_string_equal(err, "sh exited with 3, expected 0");
    harness_proc_free(p);

    char *text = slurp(log);
    assert_non_null(text);
    assert_string_equal(text, "hello\noops\n");
    free(text);
    unlink(log);
    rmdir(dir);
}

static void test_proc_signal_and_timeout(void **state)
{
    (void)state;
    harness_proc *p = NULL;
    const char *argv[] = {"sleep", "30", NULL};
    CHECK(harness_proc_spawn(argv, NULL, &p, ERRBUF));
    char err[256];
    int st = -1;
    assert_int_equal(harness_proc_wait(p, 50, &st, err, sizeof(err)), -ETIMEDOUT);
    assert_int_equal(st, -1); /* untouched on failure */
    assert_int_equal(harness_proc_signal(p, SIGTERM), 0);
    CHECK(harness_proc_wait(p, 5000, &st, ERRBUF));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
    assert_int_equal(harness_proc_expect_exit(p, 0, 0, err, sizeof(err)), -ECHILD);
    assert_string_equal(err, "sleep killed by signal 15, expected exit 0");
    assert_int_equal(harness_proc_signal(p, SIGTERM), -ESRCH);
    harness_proc_free(p);

    /* free kills a running process group */
    CHECK(harness_proc_spawn(argv, NULL, &p, ERRBUF));
    pid_t pid = harness_proc_pid(p);
    harness_proc_free(p);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void test_proc_missing_program(void **state)
{
    (void)state;
    harness_proc *p = (harness_proc *)&p; /* sentinel */
    const char *argv[] = {"clm-no-such-program", NULL};
    char err[256];
    assert_int_equal(harness_proc_spawn(argv, NULL, &p, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "cannot run clm-no-such-program: No such file or directory (not found on PATH)");
    assert_ptr_equal(p, (harness_proc *)&p);
}

static bool third_call(void *arg)
{
    int *calls = arg;
    return ++*calls == 3;
}

static bool never(void *arg)
{
    ++*(int *)arg;
    return false;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_wait_until(void **state)
{
    (void)state;
    int calls = 0;
    assert_int_equal(harness_wait_until(third_call, &calls, 5000), 0);
    assert_int_equal(calls, 3);

    calls = 0;
    int64_t t0 = mono_ms();
    assert_int_equal(harness_wait_until(never, &calls, 30), -ETIMEDOUT);
    assert_true(mono_ms() - t0 >= 30);
    assert_true(calls >= 2);
}

/* ---- redis ---------------------------------------------------------------- */

static void cmd_ok(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("redis %s: %s", fmt, r ? r->str : c->errstr);
    freeReplyObject(r);
}

/* Keys in byte order ("s" < "sp ace" < "st"), hash fields, set members,
 * zset members and stream entries sorted, lists in their own order, space
 * and '=' escaped as \x20 and \x3d. */
static const char *const EXPECTED_DUMP =
    "h hash f1=a\n"
    "h hash f2=b\n"
    "k string v\n"
    "l list 000000 y\n"
    "l list 000001 x\n"
    "s set m1\n"
    "s set m2\n"
    "sp\\x20ace string a\\x3db\n"
    "st stream f=v g=w\n"               /* entry ids left out */
    "st stream json={\"a\":1,,\"b\":2}\n" /* and the emission time of an alert */
    "z zset a 1\n"
    "z zset b 2.5\n";

static void fill(redisContext *c)
{
    cmd_ok(c, "SET k v");
    cmd_ok(c, "HSET h f2 b f1 a");
    cmd_ok(c, "RPUSH l y x");
    cmd_ok(c, "SADD s m2 m1");
    cmd_ok(c, "SET %s %s", "sp ace", "a=b");
    cmd_ok(c, "XADD st 1-1 f v g w");
    cmd_ok(c, "XADD st 1-2 json %s", "{\"a\":1,\"emitted_at\":\"x\",\"b\":2}");
    cmd_ok(c, "ZADD z 2.5 b 1 a");
}

static void test_redis_restart_and_dump(void **state)
{
    (void)state;
    harness_redis *r = NULL;
    redisContext *c = NULL;
    char *before = NULL, *after = NULL, *changed = NULL, *only_h = NULL;
    CHECK(harness_redis_start(&r, ERRBUF));
    assert_true(harness_redis_port(r) > 0);
    pid_t pid = harness_redis_pid(r);
    assert_true(pid > 0);

    CHECK(harness_redis_connect(r, &c, ERRBUF));
    fill(c);
    CHECK(harness_redis_dump(c, NULL, &before, ERRBUF));
    assert_string_equal(before, EXPECTED_DUMP);
    CHECK(harness_redis_dump(c, "h*", &only_h, ERRBUF));
    assert_string_equal(only_h, "h hash f1=a\nh hash f2=b\n");
    redisFree(c);

    CHECK(harness_redis_stop(r, ERRBUF));
    assert_int_equal(harness_redis_pid(r), 0);
    char err[256];
    assert_int_equal(harness_redis_connect(r, &c, err, sizeof(err)), -ECONNREFUSED);

    /* same port and directory; the AOF brings the data back */
    CHECK(harness_redis_restart(r, ERRBUF));
    assert_true(harness_redis_pid(r) > 0);
    assert_true(harness_redis_pid(r) != pid);
    CHECK(harness_redis_connect(r, &c, ERRBUF));
    redisReply *rep = redisCommand(c, "GET k");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "v");
    freeReplyObject(rep);
    CHECK(harness_redis_dump(c, NULL, &after, ERRBUF));
    char diff[512];
    assert_int_equal(harness_dump_diff(before, after, diff, sizeof(diff)), 0);

    /* one changed field: the first difference names key, type and field */
    cmd_ok(c, "HSET h f2 c");
    CHECK(harness_redis_dump(c, NULL, &changed, ERRBUF));
    assert_int_equal(harness_dump_diff(before, changed, diff, sizeof(diff)), 1);
    assert_string_equal(diff, "line 2: expected h hash f2=b | actual h hash f2=c");
    /* a missing last line */
    assert_int_equal(harness_dump_diff("a x\nb y\n", "a x\n", diff, sizeof(diff)), 1);
    assert_string_equal(diff, "line 2: expected b y | actual <end>");

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", harness_redis_dir(r));
    redisFree(c);
    harness_redis_free(r);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), -1); /* the temporary directory is gone */
    free(before);
    free(after);
    free(changed);
    free(only_h);
}

static void test_redis_missing_binary_fails(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmpdir(dir, sizeof(dir));
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", dir, 1); /* an empty directory: no redis-server */
    harness_redis *r = (harness_redis *)&r;
    char err[256];
    int e = harness_redis_start(&r, err, sizeof(err));
    setenv("PATH", path, 1);
    free(path);
    rmdir(dir);
    assert_int_equal(e, -ENOENT);
    assert_string_equal(err, "cannot run redis-server: No such file or directory (not found on PATH)");
    assert_ptr_equal(r, (harness_redis *)&r);
}

/* ---- kafka ---------------------------------------------------------------- */

typedef struct kv {
    char *key, *value;
    size_t idx;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void test_kafka_generated_roundtrip(void **state)
{
    (void)state;
    enum { N = 1000 };
    harness_kafka *k = NULL;
    CHECK(harness_kafka_start(3, &k, ERRBUF));
    const char *boot = harness_kafka_bootstraps(k);
    assert_non_null(strstr(boot, "127.0.0.1:"));
    CHECK(harness_kafka_create_topic(k, "events", 4, ERRBUF));

    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = 100;
    o.events = N;
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&o, &g, ERRBUF));
    int64_t produced = 0;
    CHECK(harness_produce_gen(boot, "events", g, true, 10000, &produced, ERRBUF));
    clm_gen_free(g);
    assert_int_equal(produced, N);

    int64_t high[8];
    int parts = 0;
    CHECK(harness_kafka_high_watermarks(boot, "events", high, 8, &parts, 5000, ERRBUF));
    assert_int_equal(parts, 4);
    assert_int_equal(high[0] + high[1] + high[2] + high[3], N);

    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(boot, "events", 10000, &recs, ERRBUF));
    assert_int_equal(recs->n, N);
    int64_t per[4] = {0};
    static kv got[N], want[N];
    for (size_t i = 0; i < recs->n; i++) {
        const harness_record *r = &recs->v[i];
        assert_in_range(r->partition, 0, 3);
        per[r->partition]++;
        assert_non_null(r->key);
        assert_int_equal(r->header_count, 0);
        /* the key is the customer id, or mkt:<channel> for marketing spend */
        json_t *j = json_loadb(r->value, r->value_len, 0, NULL);
        assert_non_null(j);
        const char *cid = json_string_value(json_object_get(j, "customer_id"));
        char mkt[64];
        if (!cid) {
            snprintf(mkt, sizeof(mkt), "mkt:%s", json_string_value(json_object_get(j, "channel")));
            cid = mkt;
        }
        assert_string_equal(r->key, cid);
        json_decref(j);
        got[i] = (kv){r->key, r->value, i};
    }
    for (int p = 0; p < 4; p++)
        assert_int_equal(per[p], high[p]);

    /* per key, the records arrive in the generator's order: compare both
     * streams sorted by (key, position) */
    CHECK(clm_gen_new(&o, &g, ERRBUF));
    clm_gen_msg m;
    size_t n = 0;
    while (clm_gen_next(g, &m) == 1) {
        want[n] = (kv){strndup(m.key, m.key_len), strndup(m.value, m.value_len), n};
        n++;
    }
    clm_gen_free(g);
    assert_int_equal(n, N);
    qsort(got, N, sizeof(kv), cmp_kv);
    qsort(want, N, sizeof(kv), cmp_kv);
    for (size_t i = 0; i < N; i++) {
        assert_string_equal(got[i].key, want[i].key);
        assert_string_equal(got[i].value, want[i].value);
        free(want[i].key);
        free(want[i].value);
    }
    harness_records_free(recs);
    harness_kafka_free(k);
}

static void test_kafka_broker_down_up(void **state)
{
    (void)state;
    harness_kafka *k = NULL;
    CHECK(harness_kafka_start(1, &k, ERRBUF));
    const char *boot = harness_kafka_bootstraps(k);
    CHECK(harness_kafka_create_topic(k, "dlq", 1, ERRBUF));
    char err[256];
    assert_int_not_equal(harness_kafka_broker_down(k, 99, err, sizeof(err)), 0);

    /* with the only broker down nothing can be delivered */
    CHECK(harness_kafka_broker_down(k, 1, ERRBUF));
    harness_kv lost = {"c-1", 3, "lost", 4, NULL, 0};
    int e = harness_produce(boot, "dlq", &lost, 1, false, 1000, err, sizeof(err));
    assert_true(e == -EIO || e == -ETIMEDOUT);

    /* back up: delivered, headers included */
    CHECK(harness_kafka_broker_up(k, 1, ERRBUF));
    const char *const hdrs[] = {"reason", "bad_score", "detail", "score 11 out of range", NULL};
    harness_kv msgs[] = {
        {"c-2", 3, "{\"score\":11}", 12, hdrs, 0},
        {NULL, 0, "no key", 6, NULL, 0},
    };
    CHECK(harness_produce(boot, "dlq", msgs, 2, false, 10000, ERRBUF));
    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(boot, "dlq", 10000, &recs, ERRBUF));
    assert_int_equal(recs->n, 2);
    const harness_record *r0 = &recs->v[0], *r1 = &recs->v[1];
    assert_int_equal(r0->offset, 0);
    assert_string_equal(r0->key, "c-2");
    assert_string_equal(r0->value, "{\"score\":11}");
    assert_int_equal(r0->header_count, 2);
    assert_string_equal(r0->headers[0].name, "reason");
    assert_string_equal(r0->headers[0].value, "bad_score");
    assert_string_equal(r0->headers[1].name, "detail");
    assert_string_equal(r0->headers[1].value, "score 11 out of range");
    assert_int_equal(r1->offset, 1);
    assert_null(r1->key);
    assert_string_equal(r1->value, "no key");
    harness_records_free(recs);

    /* an empty topic reads as an empty list */
    CHECK(harness_kafka_create_topic(k, "empty", 3, ERRBUF));
    CHECK(harness_kafka_read_topic(boot, "empty", 3000, &recs, ERRBUF));
    assert_int_equal(recs->n, 0);
    harness_records_free(recs);
    harness_kafka_free(k);
}

/* ---- clmmock as a separate process ------------------------------------------ */

static bool file_exists(void *path)
{
    return access(path, F_OK) == 0;
}

static void test_clmmock_program(void **state)
{
    (void)state;
    char dir[PATH_MAX], boot_file[PATH_MAX + 16], log[PATH_MAX + 16];
    make_tmpdir(dir, sizeof(dir));
    snprintf(boot_file, sizeof(boot_file), "%s/bootstrap", dir);
    snprintf(log, sizeof(log), "%s/clmmock.log", dir);

    harness_proc *p = NULL;
    const char *argv[] = {CLM_MOCK_BIN, "--brokers", "2", "--topic", "in:2", "--bootstrap-file", boot_file, NULL};
    CHECK(harness_proc_spawn(argv, log, &p, ERRBUF));
    assert_int_equal(harness_wait_until(file_exists, boot_file, 10000), 0);
    char *boot = slurp(boot_file);
    assert_non_null(boot);
    boot[strcspn(boot, "\n")] = '\0';
    /* two brokers: "127.0.0.1:<port>,127.0.0.1:<port>" */
    assert_int_equal(strncmp(boot, "127.0.0.1:", 10), 0);
    assert_non_null(strchr(boot, ','));

    harness_kv msgs[3] = {{"c-1", 3, "a", 1, NULL, 0}, {"c-2", 3, "b", 1, NULL, 0}, {"c-3", 3, "c", 1, NULL, 0}};
    CHECK(harness_produce(boot, "in", msgs, 3, true, 10000, ERRBUF));
    int64_t high[4];
    int parts = 0;
    CHECK(harness_kafka_high_watermarks(boot, "in", high, 4, &parts, 5000, ERRBUF));
    assert_int_equal(parts, 2);
    assert_int_equal(high[0] + high[1], 3);

    assert_int_equal(harness_proc_signal(p, SIGTERM), 0);
    CHECK(harness_proc_expect_exit(p, 10000, 0, ERRBUF));
    harness_proc_free(p);

    char *text = slurp(log);
    assert_non_null(text);
    char line[512];
    snprintf(line, sizeof(line), "bootstrap=%s\n", boot);
    assert_non_null(strstr(text, line));
    free(text);
    free(boot);
    unlink(log);
    unlink(boot_file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_exit_and_log),
        cmocka_unit_test(test_proc_signal_and_timeout),
        cmocka_unit_test(test_proc_missing_program),
        cmocka_unit_test(test_wait_until),
        cmocka_unit_test(test_redis_restart_and_dump),
        cmocka_unit_test(test_redis_missing_binary_fails),
        cmocka_unit_test(test_kafka_generated_roundtrip),
        cmocka_unit_test(test_kafka_broker_down_up),
        cmocka_unit_test(test_clmmock_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
