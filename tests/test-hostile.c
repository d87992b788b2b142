/* tests/test-hostile.c - hostile inputs and a hostile environment, end to end.
 *
 * One librdkafka mock cluster in this process, a real redis-server per test
 * and clmd as a child process, as in production.
 *   forged_headers  a bad message carrying its own clm.reason and clm.detail
 *                   headers: its dead letter has each clm.* header exactly
 *                   once, clmd's; the message's own are kept renamed
 *                   original.clm.*
 *   large_message   a 999,900-byte message, whose dead letter exceeds the
 *                   dead-letter producer's message.max.bytes: dead-lettered
 *                   truncated (clm.truncated: the original size), and the
 *                   good messages after it all applied
 *   rdkafka_log_prefix  librdkafka's own log lines carry clmd's "<P>"
 *                   priority prefixes
 *   redis_password  a wrong Redis password, or none where one is needed, is
 *                   an error line at start naming the cause
 *   http_idle_connections  20 idle HTTP connections: /healthz still answers,
 *                   the idle ones are closed after 3 s; /metrics needs
 *                   http.bearer_token when one is set (and a world-readable
 *                   secrets file is warned about at start)
 *   watermark_poison  one event (and its Kafka message) dated 2031 in a 2025
 *                   partition: the events after it are applied, nobody
 *                   churns, max_ts stays in 2025
 *   watermark_real_advance  a whole partition resuming after a pause moves
 *                   its watermark once two customers are past the pause,
 *                   across a restart
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

static harness_kafka *K;

/* ---- running clmd -------------------------------------------------------- */

typedef struct run {
    char tmp[64], cfg[128], log[128];
    harness_redis *redis;
    redisContext *rc;
    harness_proc *p;
} run;

/* (Re)writes the config of r: consuming `topic` as `group`, extra appended
 * to the top-level object. */
static void run_init_config_only(run *r, const char *topic, const char *group, const char *extra)
{
    FILE *f = fopen(r->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"%s\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 100},\n"
            " \"core\": {\"workers\": 1, \"shutdown_timeout_s\": 5},\n"
            " \"events\": {\"allowed_lateness_s\": 0}%s%s%s}\n",
            harness_kafka_bootstraps(K), topic, group, harness_redis_port(r->redis),
            /* no HTTP endpoint unless the test wants one: nothing to collide on */
            extra && strstr(extra, "\"http\"") ? "" : ",\n \"http\": {\"port\": 0}",
            extra ? ",\n " : "", extra ? extra : "");
    fclose(f);
}

/* A temporary directory, a Redis and a config consuming `topic` as `group`;
 * extra is appended to the top-level object. */
static void run_init(run *r, const char *topic, const char *group, const char *extra)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->tmp, sizeof(r->tmp), "/tmp/clm-hostile-XXXXXX");
    assert_non_null(mkdtemp(r->tmp));
    snprintf(r->cfg, sizeof(r->cfg), "%s/clmd.json", r->tmp);
    snprintf(r->log, sizeof(r->log), "%s/clmd.log", r->tmp);
    CHECK(harness_redis_start(&r->redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r->redis, &r->rc, errbuf, sizeof(errbuf)));
    run_init_config_only(r, topic, group, extra);
}

static void start(run *r)
{
    const char *argv[] = { harness_clmd_bin(), "-c", r->cfg, NULL };
    CHECK(harness_proc_spawn(argv, r->log, &r->p, errbuf, sizeof(errbuf)));
}

/* SIGTERM and a clean exit. */
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
    char path[160];
    snprintf(path, sizeof(path), "%s/clmd.json", r->tmp);
    unlink(path);
    snprintf(path, sizeof(path), "%s/secrets.json", r->tmp);
    unlink(path);
    unlink(r->log);
    rmdir(r->tmp);
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

/* Reads a topic until it holds n records (30 s at most). */
static harness_records *read_n(const char *topic, size_t n)
{
    harness_records *recs = NULL;
    for (int i = 0; i < 300; i++) {
        harness_records_free(recs);
        recs = NULL;
        int r = harness_kafka_read_topic(harness_kafka_bootstraps(K), topic, 5000, &recs, errbuf,
                                         sizeof(errbuf));
        if (r == 0 && recs->n >= n)
            return recs;
        usleep(100000);
    }
    fail_msg("topic %s has %zu records, expected %zu", topic, recs ? recs->n : 0, n);
    return NULL;
}

/* The values of every header named `name`, joined by '|' into out. */
static size_t headers_named(const harness_record *rec, const char *name, char *out, size_t size)
{
    size_t count = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < rec->header_count; i++)
        if (strcmp(rec->headers[i].name, name) == 0) {
            used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s",
                                     count ? "|" : "", rec->headers[i].value ? rec->headers[i].value : "(null)");
            count++;
        }
    return count;
}

static void produce(const char *topic, const harness_kv *kv, size_t n)
{
    CHECK(harness_produce(harness_kafka_bootstraps(K), topic, kv, n, false, 30000, errbuf,
                          sizeof(errbuf)));
}

#define PURCHASE(id, customer, day)                                                          \
    "{\"event_id\":\"" id "\",\"customer_id\":\"" customer "\",\"type\":\"purchase\","       \
    "\"ts\":\"2025-01-0" day "T12:00:00Z\",\"amount\":10}"

static harness_kv kv_of(const char *key, const char *value)
{
    return (harness_kv){ .key = key, .key_len = key ? strlen(key) : 0, .value = value,
                         .value_len = strlen(value) };
}

/* ---- forged DLQ headers (issue 12 item 10) ------------------------------- */

/* Invalid JSON with its own clm.reason and clm.detail (one in another case)
 * and an ordinary header. Its dead letter carries clm.reason invalid_json
 * once, and the message's own headers renamed. */
static void test_forged_headers(void **state)
{
    (void)state;
    static const char *const headers[] = { "clm.reason", "forged", "CLM.Detail", "forged detail",
                                           "trace-id", "t-1", NULL };
    harness_kv kv[2] = { kv_of("c1", "{\"not json"), kv_of("c1", PURCHASE("e1", "c1", "1")) };
    kv[0].headers = headers;
    produce("forged", kv, 2);
    run r;
    run_init(&r, "forged", "g-forged", NULL);
    start(&r);
    wait_consumed(&r, 2);
    stop(&r);

    harness_records *dlq = read_n("forged.dlq", 1);
    assert_int_equal(dlq->n, 1);
    const harness_record *d = &dlq->v[0];
    char v[256];
    assert_int_equal(headers_named(d, "clm.reason", v, sizeof(v)), 1);
    assert_string_equal(v, "invalid_json");
    assert_int_equal(headers_named(d, "clm.detail", v, sizeof(v)), 1);
    assert_int_equal(headers_named(d, "CLM.Detail", v, sizeof(v)), 0);
    assert_int_equal(headers_named(d, "clm.source.topic", v, sizeof(v)), 1);
    assert_string_equal(v, "forged");
    assert_int_equal(headers_named(d, "original.clm.reason", v, sizeof(v)), 1);
    assert_string_equal(v, "forged");
    assert_int_equal(headers_named(d, "original.CLM.Detail", v, sizeof(v)), 1);
    assert_string_equal(v, "forged detail");
    assert_int_equal(headers_named(d, "trace-id", v, sizeof(v)), 1);
    assert_string_equal(v, "t-1");
    assert_int_equal(d->value_len, strlen("{\"not json"));
    harness_records_free(dlq);
    run_free(&r);
}

/* ---- a message too large for the dead-letter producer (item 3) ----------- */

/* 999,900 bytes: the input producer (message.max.bytes 1,000,000) takes it,
 * but its dead letter, with clmd's headers, is over that limit. It is
 * dead-lettered truncated, with clm.truncated 999900, and the three good
 * purchases after it are applied: clmd neither exits nor stalls. */
#define BIG 999900

static void test_large_message(void **state)
{
    (void)state;
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    memset(big, 'x', BIG);
    memcpy(big, "{\"pad\":\"", 8);
    big[BIG] = '\0';
    harness_kv kv[4] = { kv_of("c1", big), kv_of("c1", PURCHASE("e1", "c1", "1")),
                         kv_of("c1", PURCHASE("e2", "c1", "2")), kv_of("c1", PURCHASE("e3", "c1", "3")) };
    produce("large", kv, 4);
    run r;
    run_init(&r, "large", "g-large", NULL);
    start(&r);
    wait_consumed(&r, 4);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:c1", "orders"), 3);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 3);
    stop(&r);

    harness_records *dlq = read_n("large.dlq", 1);
    assert_int_equal(dlq->n, 1);
    const harness_record *d = &dlq->v[0];
    char v[256];
    assert_int_equal(headers_named(d, "clm.truncated", v, sizeof(v)), 1);
    assert_string_equal(v, "999900");
    assert_int_equal(headers_named(d, "clm.reason", v, sizeof(v)), 1);
    assert_string_equal(v, "too_large");
    assert_int_equal(headers_named(d, "clm.truncated.key", v, sizeof(v)), 0);
    assert_string_equal(d->key, "c1");
    /* the first bytes of the message, as many as fit in 1,000,000 less the
     * framing slack, the key and the headers */
    assert_true(d->value_len > 990000 && d->value_len < BIG);
    assert_memory_equal(d->value, big, d->value_len);
    harness_records_free(dlq);
    run_free(&r);
    free(big);
}

/* ---- logs (item 12) -------------------------------------------------------- */

/* librdkafka's own lines come through clmd's logger: with the brokers on a
 * closed port, the consumer's connection failures are "<3>librdkafka FAIL
 * <handle>: ..." lines (journald keeps the level), and no line has
 * librdkafka's own "%3|" format. */
static void test_rdkafka_log_prefix(void **state)
{
    (void)state;
    run r;
    run_init(&r, "nowhere", "g-logs", NULL);
    FILE *f = fopen(r.cfg, "w");
    assert_non_null(f);
    fprintf(f, "{\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"topics\": [\"nowhere\"]},\n"
               " \"redis\": {\"port\": %d}}\n", harness_redis_port(r.redis));
    fclose(f);
    start(&r);
    wait_log(&r, "<3>librdkafka FAIL rdkafka#consumer-", 20000);
    wait_log(&r, "127.0.0.1:1 failed: Connection refused", 5000);
    char *all = slurp(r.log);
    for (char *line = all; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (line[0] != '<')
            fail_msg("a log line without a priority prefix: %.*s", (int)strcspn(line, "\n"), line);
    free(all);
    run_free(&r);
}

/* A wrong Redis password is an error line at start that says so (and not
 * the password); so is a server needing a password when none is set. */
static void test_redis_password(void **state)
{
    (void)state;
    run r;
    run_init(&r, "pw", "g-pw", "\"secrets_file\": \"secrets.json\"");
    char path[160], want[200];
    snprintf(path, sizeof(path), "%s/secrets.json", r.tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"redis\": {\"password\": \"s3cr3t-w\"}}\n", f);
    fclose(f);
    chmod(path, 0600);
    redisReply *rep = redisCommand(r.rc, "CONFIG SET requirepass right-one");
    assert_non_null(rep);
    freeReplyObject(rep);
    start(&r);
    snprintf(want, sizeof(want), "<3>Redis: Redis at 127.0.0.1:%d refused the password in "
             "redis.password (secrets file): AUTH: ", harness_redis_port(r.redis));
    wait_log(&r, want, 20000);
    char *all = slurp(r.log);
    assert_null(strstr(all, "s3cr3t-w"));
    free(all);
    harness_proc_free(r.p);
    r.p = NULL;

    /* no password at all */
    unlink(r.log);
    run_init_config_only(&r, "pw", "g-pw", NULL);
    start(&r);
    snprintf(want, sizeof(want), "<3>Redis: Redis at 127.0.0.1:%d requires a password: set "
             "redis.password in the secrets file (PING: NOAUTH", harness_redis_port(r.redis));
    wait_log(&r, want, 20000);
    run_free(&r);
}

/* ---- HTTP (item 15) -------------------------------------------------------- */

/* A free loopback port (bound, read and released). */
static int free_port(void)
{
    int port = 0;
    if (harness_free_port(&port, errbuf, sizeof(errbuf)) < 0)
        fail_msg("%s", errbuf);
    return port;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a new connection; the whole response into out ("" when the
 * connection is refused, reset or times out). */
static void request(int port, const char *path, const char *extra_header, char *out, size_t size)
{
    out[0] = '\0';
    int fd = connect_to(port);
    if (fd < 0)
        return;
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                     path, extra_header ? extra_header : "");
    size_t used = 0;
    if (write(fd, req, (size_t)n) == n)
        for (ssize_t k; used + 1 < size && (k = read(fd, out + used, size - used - 1)) > 0;)
            used += (size_t)k;
    out[used] = '\0';
    close(fd);
}

typedef struct probe {
    int port;
    char resp[65536];
} probe;

static bool healthz_ok(void *arg)
{
    probe *p = arg;
    request(p->port, "/healthz", NULL, p->resp, sizeof(p->resp));
    return strncmp(p->resp, "HTTP/1.1 200", 12) == 0;
}

/* 20 idle connections (a request line, never finished) do not lock /healthz
 * out; the server closes them once idle for 3 s. With http.bearer_token,
 * /metrics needs the token; /healthz does not. */
static void test_http_idle_connections(void **state)
{
    (void)state;
    static probe P;
    P.port = free_port();
    char extra[128];
    snprintf(extra, sizeof(extra), "\"http\": {\"port\": %d}, \"secrets_file\": \"secrets.json\"",
             P.port);
    harness_kv kv[1] = { kv_of("c1", PURCHASE("e1", "c1", "1")) };
    produce("http", kv, 1);
    run r;
    run_init(&r, "http", "g-http", extra);
    char path[160];
    snprintf(path, sizeof(path), "%s/secrets.json", r.tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"http\": {\"bearer_token\": \"0123456789abcdef-token\"}}\n", f);
    fclose(f);
    chmod(path, 0644); /* readable by everyone: clmd warns */
    start(&r);
    char want[256];
    snprintf(want, sizeof(want), "<4>%s is readable by every user of this host: chmod 600 it", path);
    wait_log(&r, want, 10000);
    wait_consumed(&r, 1);
    if (harness_wait_until(healthz_ok, &P, 20000) < 0)
        fail_msg("/healthz: %s", P.resp);

    int idle[20];
    for (int i = 0; i < 20; i++) {
        idle[i] = connect_to(P.port);
        assert_true(idle[i] >= 0);
        assert_int_equal(write(idle[i], "GET /healthz HTTP/1.1\r\n", 23), 23);
    }
    usleep(200000);
    request(P.port, "/healthz", NULL, P.resp, sizeof(P.resp));
    if (strncmp(P.resp, "HTTP/1.1 200", 12) != 0)
        fail_msg("/healthz with 20 idle connections open: \"%s\"", P.resp);
    assert_non_null(strstr(P.resp, "\r\n\r\nok\n"));

    /* the idle ones are closed by the server within its idle timeout */
    for (int i = 0; i < 20; i++) {
        char c;
        assert_true(read(idle[i], &c, 1) <= 0);
        close(idle[i]);
    }

    request(P.port, "/metrics", NULL, P.resp, sizeof(P.resp));
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 401", 12), 0);
    assert_non_null(strstr(P.resp, "WWW-Authenticate: Bearer"));
    request(P.port, "/metrics", "Authorization: Bearer 0123456789abcdef-wrong\r\n", P.resp,
            sizeof(P.resp));
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 401", 12), 0);
    request(P.port, "/metrics", "Authorization: Bearer 0123456789abcdef-token\r\n", P.resp,
            sizeof(P.resp));
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(P.resp, "\nclmd_events_consumed_total 1\n"));
    assert_non_null(strstr(P.resp, "\nclmd_at_risk_customers 0\n")); /* business gauges */
    /* the dashboard and its API take the same token, also as a basic-auth
     * password (what a browser sends) */
    request(P.port, "/api/v1/health", NULL, P.resp, sizeof(P.resp));
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 401", 12), 0);
    assert_non_null(strstr(P.resp, "WWW-Authenticate: Basic realm=\"clmd\""));
    request(P.port, "/dashboard", "Authorization: Basic dTowMTIzNDU2Nzg5YWJjZGVmLXdyb25n\r\n",
            P.resp, sizeof(P.resp)); /* u:0123456789abcdef-wrong */
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 401", 12), 0);
    request(P.port, "/dashboard", "Authorization: Basic dTowMTIzNDU2Nzg5YWJjZGVmLXRva2Vu\r\n",
            P.resp, sizeof(P.resp)); /* u:0123456789abcdef-token */
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(P.resp, "Content-Type: text/html"));
    request(P.port, "/api/v1/health", "Authorization: Bearer 0123456789abcdef-token\r\n", P.resp,
            sizeof(P.resp));
    assert_int_equal(strncmp(P.resp, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(P.resp, "\"consumed\":1,"));
    char *all = slurp(r.log);
    assert_null(strstr(all, "0123456789abcdef-token"));
    free(all);
    stop(&r);
    run_free(&r);
}

/* ---- watermark poisoning (issue 12) -------------------------------------- */

/* A string field of a hash, or "" (free it). */
static char *hget_str(redisContext *c, const char *key, const char *field)
{
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(rep);
    char *v = strdup(rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    return v;
}

static long long xlen(redisContext *c, const char *key)
{
    redisReply *rep = redisCommand(c, "XLEN %s", key);
    assert_non_null(rep);
    long long n = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    return n;
}

typedef struct fieldwait {
    redisContext *c;
    const char *key, *field, *want;
} fieldwait;

static bool field_is(void *arg)
{
    fieldwait *w = arg;
    char *v = hget_str(w->c, w->key, w->field);
    bool yes = strcmp(v, w->want) == 0;
    free(v);
    return yes;
}

/* One message per line of `n` values, keyed by the customer id in keys[]. */
static void produce_lines(const char *topic, const char *const *keys, const char *const *vals,
                          size_t n, int64_t timestamp)
{
    harness_kv *kv = calloc(n, sizeof(*kv));
    assert_non_null(kv);
    for (size_t i = 0; i < n; i++) {
        kv[i] = kv_of(keys[i], vals[i]);
        kv[i].timestamp = timestamp;
    }
    produce(topic, kv, n);
    free(kv);
}

#define EV(c, t) "{\"customer_id\":\"" c "\",\"type\":\"purchase\",\"amount\":5,\"ts\":\"" t "\"}"

/* One purchase dated 2031 (its Kafka message dated 2031 too) in a partition
 * of 2025 events, with the default events.max_jump_s and jump_quorum and no
 * allowed lateness: the events after it are all applied (none late), no
 * customer churns and no alert is raised; the partition's max_ts stays in
 * 2025 and the poison waits in ahead:<topic>. Two days on, the partition
 * has forgotten it. (Before: max_ts 2031, the ten events after it late,
 * every customer churned with an alert.) */
static void test_watermark_poison(void **state)
{
    (void)state;
    static const char *const keys[] = { "c0", "c1", "c2", "c3", "c4", "c0", "c1", "c2", "c3", "c4" };
    static const char *const day1[] = {
        EV("c0", "2025-01-01T10:00:00Z"), EV("c1", "2025-01-01T10:01:00Z"),
        EV("c2", "2025-01-01T10:02:00Z"), EV("c3", "2025-01-01T10:03:00Z"),
        EV("c4", "2025-01-01T10:04:00Z"), EV("c0", "2025-01-01T11:00:00Z"),
        EV("c1", "2025-01-01T11:01:00Z"), EV("c2", "2025-01-01T11:02:00Z"),
        EV("c3", "2025-01-01T11:03:00Z"), EV("c4", "2025-01-01T11:04:00Z"),
    };
    static const char *const after[] = {
        EV("c0", "2025-01-02T10:00:00Z"), EV("c1", "2025-01-02T10:01:00Z"),
        EV("c2", "2025-01-02T10:02:00Z"), EV("c3", "2025-01-02T10:03:00Z"),
        EV("c4", "2025-01-02T10:04:00Z"), EV("c0", "2025-01-02T11:00:00Z"),
        EV("c1", "2025-01-02T11:01:00Z"), EV("c2", "2025-01-02T11:02:00Z"),
        EV("c3", "2025-01-02T11:03:00Z"), EV("c4", "2025-01-02T11:04:00Z"),
    };
    static const char *const pk[] = { "px" };
    static const char *const poison[] = { EV("px", "2031-06-01T00:00:00Z") };
    static const char *const k3[] = { "c0" };
    static const char *const day3[] = { EV("c0", "2025-01-03T11:04:00Z") };
    CHECK(harness_kafka_create_topic(K, "poison", 1, errbuf, sizeof(errbuf)));
    produce_lines("poison", keys, day1, 10, 0);
    produce_lines("poison", pk, poison, 1, 1938038400000LL); /* 2031-06-01T00:00:00Z */
    produce_lines("poison", keys, after, 10, 0);
    run r;
    run_init(&r, "poison", "g-poison", "\"http\": {\"port\": 0}");
    start(&r);
    wait_consumed(&r, 21);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 21);
    assert_true(harness_redis_hget_int(r.rc, "clm:rejected", "late_dropped") <= 0);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:c0", "orders"), 4);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:customer:px", "orders"), 1);
    char *stage = hget_str(r.rc, "clm:customer:c4", "stage");
    assert_string_not_equal(stage, "churned");
    free(stage);
    assert_int_equal(xlen(r.rc, "clm:alerts"), 0);
    /* 2025-01-02T11:04:00Z */
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-poison:0}", "maxts:poison"),
                     1735815840000LL);
    char *ahead = hget_str(r.rc, "clm:progress:{g-poison:0}", "ahead:poison");
    /* px's time, and the max_ts of its latest event: 2025-01-01T11:04:00Z */
    assert_non_null(strstr(ahead, ":1938038400000:1735729440000"));
    assert_int_equal(strncmp(ahead, "1;", 2), 0);
    assert_null(strchr(ahead + 2, ';')); /* one source */
    free(ahead);

    /* More than a day past the poison's max_ts, the partition forgets it. */
    produce_lines("poison", k3, day3, 1, 0);
    wait_consumed(&r, 22);
    ahead = hget_str(r.rc, "clm:progress:{g-poison:0}", "ahead:poison");
    assert_string_equal(ahead, "");
    free(ahead);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-poison:0}", "maxts:poison"),
                     1735902240000LL);
    stop(&r);
    run_free(&r);
}

/* A whole partition resuming 59 days after a pause: the first customer of
 * the new day waits (max_ts stays, and what waits survives a restart), the
 * second confirms, max_ts moves to the earlier of the two, an event from
 * before the pause is then late, and the customers silent since the pause
 * churn (lifecycle.churn_inactive_days 30). */
static void test_watermark_real_advance(void **state)
{
    (void)state;
    static const char *const k1[] = { "c1", "c2", "a" };
    static const char *const v1[] = {
        EV("c1", "2025-01-01T12:00:00Z"), EV("c2", "2025-01-01T12:00:00Z"),
        EV("a", "2025-03-01T10:00:00Z"),
    };
    static const char *const k2[] = { "b", "c1", "c1" };
    static const char *const v2[] = {
        EV("b", "2025-03-01T11:00:00Z"), EV("c1", "2025-02-27T00:00:00Z"),
        EV("c1", "2025-03-01T10:30:00Z"),
    };
    CHECK(harness_kafka_create_topic(K, "advance", 1, errbuf, sizeof(errbuf)));
    produce_lines("advance", k1, v1, 3, 0);
    run r;
    run_init(&r, "advance", "g-advance",
             "\"lifecycle\": {\"churn_inactive_days\": 30}, \"http\": {\"port\": 0}");
    start(&r);
    wait_consumed(&r, 3);
    stop(&r);
    /* 2025-01-01T12:00:00Z: a waits */
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-advance:0}", "maxts:advance"),
                     1735732800000LL);
    char *ahead = hget_str(r.rc, "clm:progress:{g-advance:0}", "ahead:advance");
    assert_int_equal(strncmp(ahead, "1;", 2), 0);
    assert_non_null(strstr(ahead, ":1740823200000:1735732800000"));
    assert_null(strchr(ahead + 2, ';'));
    free(ahead);
    char *stage = hget_str(r.rc, "clm:customer:c2", "stage");
    assert_string_not_equal(stage, "churned");
    free(stage);

    produce_lines("advance", k2, v2, 3, 0);
    start(&r);
    wait_consumed(&r, 6);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:rejected", "late_dropped"), 1);
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:stats", "applied"), 5);
    /* confirmed at a's 10:00, then c1's 10:30 within a day of it */
    assert_int_equal(harness_redis_hget_int(r.rc, "clm:progress:{g-advance:0}", "maxts:advance"),
                     1740825000000LL);
    ahead = hget_str(r.rc, "clm:progress:{g-advance:0}", "ahead:advance");
    assert_string_equal(ahead, "");
    free(ahead);
    fieldwait fw = { r.rc, "clm:customer:c2", "stage", "churned" };
    if (harness_wait_until(field_is, &fw, 20000) < 0) {
        stage = hget_str(r.rc, "clm:customer:c2", "stage");
        fail_msg("c2 is \"%s\", not churned", stage);
    }
    stop(&r);
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
        cmocka_unit_test(test_forged_headers),
        cmocka_unit_test(test_large_message),
        cmocka_unit_test(test_rdkafka_log_prefix),
        cmocka_unit_test(test_redis_password),
        cmocka_unit_test(test_http_idle_connections),
        cmocka_unit_test(test_watermark_poison),
        cmocka_unit_test(test_watermark_real_advance),
    };
    const char *filter = getenv("CLM_HOSTILE_FILTER"); /* e.g. "test_forged_headers" */
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("hostile", tests, setup, teardown);
}
