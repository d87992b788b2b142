/* tests/test-redis-tls.c - Redis over TLS and as an ACL user, end to end.
 *
 * A test CA, a second (wrong) CA, a server certificate for 127.0.0.1 and
 * localhost and a client certificate are made with the openssl command in a
 * temporary directory. One redis-server serves TLS on one port (what clmd
 * and clmctl are given) and plain TCP on another (the test's own reads);
 * its default user has a password and the ACL user "clmd" another.
 *   pump_large_value  the transport itself: a 5 MB value written and read
 *                     back whole, 2000 pipelined commands, a connection the
 *                     server kills seen as closed, a stopped server as a
 *                     command timeout
 *   clmd_over_tls     clmd with redis.tls and redis.user: its state arrives
 *                     (clm:stats, the customer), its connections are user
 *                     clmd; clmctl reads the customer over TLS
 *   wrong_ca          a CA that did not sign the server's certificate:
 *                     "certificate verify failed" from clmd (which keeps
 *                     retrying, no crash) and from clmctl (exit 1); a server
 *                     name the certificate lacks; TLS to a plain port
 *   wrong_password    "refused the user \"clmd\"" from clmd and clmctl
 *   client_cert       tls-auth-clients yes: without a client certificate the
 *                     handshake fails; with one clmctl reads
 *   config_errors     a CA file that does not exist or does not load is the
 *                     same error from --check-config and from a start
 * The suite fails (never skips) when openssl, redis-server or clmd cannot be
 * started.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/redis_tls.h"
#include "tests/harness.h"

static char errbuf[512];
#define CHECK(call)                                                                 \
    do {                                                                            \
        int r_ = (call);                                                            \
        if (r_ < 0)                                                                 \
            fail_msg("%s: %s (%d)", #call, errbuf, r_);                             \
    } while (0)

static struct {
    harness_kafka *kafka;
    harness_proc *redis;
    char dir[64];
    int tls_port, plain_port;
    redisContext *rc; /* plain, as the default user */
} F;

static const char *bin(const char *env, const char *def)
{
    const char *p = getenv(env);
    return p ? p : def;
}

static char *path_of(const char *name)
{
    static char buf[4][160];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", F.dir, name);
    return buf[i];
}

/* ---- files --------------------------------------------------------------- */

static void write_file(const char *name, const char *fmt, ...)
{
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The CAs and certificates, made with the openssl command (quietly). */
static int make_certs(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "set -e; cd %s; exec 2>openssl.log >&2;"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
             "  -subj /CN=clm-test-ca;"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 "
             "  -subj /CN=clm-other-ca;"
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
             "  -subj /CN=localhost;"
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext;"
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "  -out server.crt -days 2 -extfile server.ext;"
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
             "  -subj /CN=clmd;"
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "  -out client.crt -days 2",
             F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- redis --------------------------------------------------------------- */

/* A free loopback port (bound, read and released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool redis_up(void *arg)
{
    (void)arg;
    struct timeval tv = { .tv_sec = 1 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", F.plain_port, tv);
    bool ok = c && !c->err;
    if (ok) {
        redisReply *rep = redisCommand(c, "AUTH adminpw");
        ok = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
    }
    if (ok)
        F.rc = c;
    else if (c)
        redisFree(c);
    return ok;
}

static int start_redis(void)
{
    char tls_port[16], plain_port[16];
    F.plain_port = free_port();
    F.tls_port = free_port();
    if (F.plain_port < 0 || F.tls_port < 0 || F.plain_port == F.tls_port) {
        snprintf(errbuf, sizeof(errbuf), "no free loopback ports");
        return -1;
    }
    snprintf(plain_port, sizeof(plain_port), "%d", F.plain_port);
    snprintf(tls_port, sizeof(tls_port), "%d", F.tls_port);
    const char *argv[] = { "redis-server", "--bind", "127.0.0.1", "--port", plain_port,
                           "--tls-port", tls_port, "--tls-cert-file", path_of("server.crt"),
                           "--tls-key-file", path_of("server.key"), "--tls-ca-cert-file",
                           path_of("ca.crt"), "--tls-auth-clients", "no", "--save", "",
                           "--appendonly", "no", "--dir", F.dir, "--requirepass", "adminpw",
                           NULL };
    if (harness_proc_spawn(argv, path_of("redis.log"), &F.redis, errbuf, sizeof(errbuf)) < 0)
        return -1;
    if (harness_wait_until(redis_up, NULL, 10000) < 0) {
        snprintf(errbuf, sizeof(errbuf), "redis-server with --tls-port did not start");
        return -1;
    }
    redisReply *rep = redisCommand(F.rc, "ACL SETUSER clmd on >secret ~* &* +@all");
    int ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* ---- clmd and clmctl ----------------------------------------------------- */

/* clmd.json over TLS: the CA file, user, password and extra redis keys;
 * topic names the group ("g-" topic) and the prefix (topic ":"), so that each
 * test has its own. */
static void write_config(const char *topic, const char *ca, const char *password,
                         const char *extra)
{
    write_file("secrets.json", "{\"redis\": {\"password\": \"%s\"}}\n", password);
    chmod(path_of("secrets.json"), 0600);
    write_file("clmd.json",
               "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"g-%s\"},\n"
               " \"redis\": {\"port\": %d, \"prefix\": \"%s:\", \"tls\": true, "
               "\"tls_ca_file\": \"%s\", \"user\": \"clmd\"%s%s},\n"
               " \"secrets_file\": \"secrets.json\",\n"
               " \"flush\": {\"interval_ms\": 100}, \"http\": {\"port\": 0},\n"
               " \"core\": {\"workers\": 1, \"shutdown_timeout_s\": 5},\n"
               " \"events\": {\"allowed_lateness_s\": 0}}\n",
               harness_kafka_bootstraps(F.kafka), topic, topic, F.tls_port, topic, path_of(ca),
               extra ? ", " : "", extra ? extra : "");
}

static harness_proc *start_clmd(void)
{
    unlink(path_of("clmd.log"));
    const char *argv[] = { bin("CLMD_BIN", "clmd"), "-c", path_of("clmd.json"), NULL };
    harness_proc *p;
    CHECK(harness_proc_spawn(argv, path_of("clmd.log"), &p, errbuf, sizeof(errbuf)));
    return p;
}

typedef struct log_wait {
    const char *want;
} log_wait;

static bool log_has(void *arg)
{
    char *all = slurp(path_of("clmd.log"));
    bool found = strstr(all, ((log_wait *)arg)->want) != NULL;
    free(all);
    return found;
}

static void wait_log(const char *want, int timeout_ms)
{
    log_wait w = { want };
    if (harness_wait_until(log_has, &w, timeout_ms) < 0) {
        char *all = slurp(path_of("clmd.log"));
        fail_msg("no \"%s\" in clmd's log within %d ms:\n%s", want, timeout_ms, all);
    }
}

/* Runs clmctl with the config; returns its exit code, its output in *out. */
static int clmctl(const char *cmd, const char *arg, char **out)
{
    unlink(path_of("clmctl.out"));
    const char *argv[] = { bin("CLMCTL_BIN", "clmctl"), "-c", path_of("clmd.json"), cmd, arg,
                           NULL };
    harness_proc *p;
    int st;
    CHECK(harness_proc_spawn(argv, path_of("clmctl.out"), &p, errbuf, sizeof(errbuf)));
    CHECK(harness_proc_wait(p, 20000, &st, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    *out = slurp(path_of("clmctl.out"));
    if (!WIFEXITED(st))
        fail_msg("clmctl did not exit normally (status %d): %s", st, *out);
    return WEXITSTATUS(st);
}

/* Still running after ms (no crash), then killed. */
static void expect_alive_then_kill(harness_proc *p, int ms)
{
    int st;
    char e[256];
    if (harness_proc_wait(p, ms, &st, e, sizeof(e)) == 0)
        fail_msg("clmd ended (status %d) instead of retrying", st);
    harness_proc_free(p);
}

#define PURCHASE(id, customer, day)                                                          \
    "{\"event_id\":\"" id "\",\"customer_id\":\"" customer "\",\"type\":\"purchase\","       \
    "\"ts\":\"2025-01-0" day "T12:00:00Z\",\"amount\":10}"

static harness_kv kv_of(const char *key, const char *value)
{
    return (harness_kv){ .key = key, .key_len = strlen(key), .value = value,
                         .value_len = strlen(value) };
}

/* ---- tests --------------------------------------------------------------- */

static void test_pump_large_value(void **state)
{
    (void)state;
    clm_tls_opts o = { .ca_file = path_of("ca.crt") };
    redisContext *c;
    clm_tls_link *link;
    CHECK(clm_tls_connect("127.0.0.1", F.tls_port, &o, 5000, &c, &link, errbuf, sizeof(errbuf)));
    struct timeval tv = { .tv_sec = 10 };
    assert_int_equal(redisSetTimeout(c, tv), REDIS_OK);
    redisReply *rep = redisCommand(c, "AUTH clmd secret");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);

    size_t len = 5u << 20;
    char *big = malloc(len);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + (i * 7919 % 26));
    rep = redisCommand(c, "SET tls:big %b", big, len);
    assert_non_null(rep);
    assert_string_equal(rep->str, "OK");
    freeReplyObject(rep);
    rep = redisCommand(c, "GET tls:big");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, len);
    assert_memory_equal(rep->str, big, len);
    freeReplyObject(rep);
    /* and the same bytes as stored, read over plain TCP */
    rep = redisCommand(F.rc, "STRLEN tls:big");
    assert_int_equal(rep->integer, (long long)len);
    freeReplyObject(rep);
    free(big);

    for (int i = 0; i < 2000; i++)
        assert_int_equal(redisAppendCommand(c, "INCR tls:n"), REDIS_OK);
    for (int i = 0; i < 2000; i++) {
        void *r;
        assert_int_equal(redisGetReply(c, &r), REDIS_OK);
        assert_int_equal(((redisReply *)r)->integer, i + 1);
        freeReplyObject(r);
    }
    clm_tls_close(c, link);

    /* the server ending the connection is seen by hiredis as a closed connection */
    CHECK(clm_tls_connect("127.0.0.1", F.tls_port, &o, 5000, &c, &link, errbuf, sizeof(errbuf)));
    assert_int_equal(redisSetTimeout(c, tv), REDIS_OK);
    rep = redisCommand(c, "AUTH clmd secret");
    freeReplyObject(rep);
    rep = redisCommand(c, "CLIENT KILL SKIPME no USER clmd");
    assert_non_null(rep);
    freeReplyObject(rep);
    rep = redisCommand(c, "PING");
    assert_null(rep);
    assert_int_not_equal(c->err, 0);
    char why[256];
    assert_true(clm_tls_ended(link, why, sizeof(why)));
    clm_tls_close(c, link);

    /* a silent server: the command times out after redis.timeout_ms, and the
     * connection closes without waiting for the server */
    CHECK(clm_tls_connect("127.0.0.1", F.tls_port, &o, 5000, &c, &link, errbuf, sizeof(errbuf)));
    struct timeval short_tv = { .tv_usec = 300000 };
    assert_int_equal(redisSetTimeout(c, short_tv), REDIS_OK);
    CHECK(harness_proc_signal(F.redis, SIGSTOP));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rep = redisCommand(c, "PING");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(harness_proc_signal(F.redis, SIGCONT));
    assert_null(rep);
    assert_int_not_equal(c->err, 0);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 3000);
    assert_false(clm_tls_ended(link, why, sizeof(why)));
    clm_tls_close(c, link);
}

static void test_clmd_over_tls(void **state)
{
    (void)state;
    harness_kv kv[2] = { kv_of("c1", PURCHASE("e1", "c1", "1")),
                         kv_of("c2", PURCHASE("e2", "c2", "2")) };
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), "tls", kv, 2, false, 30000, errbuf,
                          sizeof(errbuf)));
    write_config("tls", "ca.crt", "secret", NULL);
    harness_proc *p = start_clmd();
    long long consumed = 0;
    for (int i = 0; i < 300 && consumed < 2; i++, usleep(100000))
        consumed = harness_redis_hget_int(F.rc, "tls:stats", "consumed");
    if (consumed < 2) {
        char *all = slurp(path_of("clmd.log"));
        fail_msg("clmd wrote %lld consumed over TLS, wanted 2; log:\n%s", consumed, all);
    }
    char want[200];
    snprintf(want, sizeof(want), "state in Redis 127.0.0.1:%d over TLS as user clmd prefix tls:",
             F.tls_port);
    wait_log(want, 1000);
    /* every client connection but the test's own is the ACL user clmd */
    redisReply *rep = redisCommand(F.rc, "CLIENT LIST");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_non_null(strstr(rep->str, " user=clmd "));
    int others = 0;
    for (char *l = rep->str; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strstr(l, " user=default ") && !strstr(l, " cmd=client"))
            others++;
    assert_int_equal(others, 0);
    freeReplyObject(rep);

    char *out;
    int st = clmctl("customer", "c1", &out);
    if (st != 0 || !strstr(out, "first_seen          2025-01-01T12:00:00.000Z"))
        fail_msg("clmctl customer c1 over TLS: exit %d: %s", st, out);
    free(out);

    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

static void test_wrong_ca(void **state)
{
    (void)state;
    write_config("tls-ca", "other.crt", "secret", NULL);
    char want[256];
    snprintf(want, sizeof(want), "TLS to 127.0.0.1:%d: certificate verify failed: ", F.tls_port);
    harness_proc *p = start_clmd();
    wait_log(want, 20000);
    expect_alive_then_kill(p, 1000);
    char *out;
    int st = clmctl("customer", "c1", &out);
    if (st != 1 || !strstr(out, want))
        fail_msg("clmctl with the wrong CA: exit %d: %s", st, out);
    free(out);

    /* the plain port: no TLS there */
    write_file("plain.json", "{\"redis\": {\"port\": %d, \"tls\": true, \"tls_ca_file\": \"%s\", "
               "\"timeout_ms\": 300}}\n", F.plain_port, path_of("ca.crt"));
    {
        const char *argv[] = { bin("CLMCTL_BIN", "clmctl"), "-c", path_of("plain.json"), "kpi",
                               NULL };
        harness_proc *p2;
        CHECK(harness_proc_spawn(argv, path_of("clmctl.out"), &p2, errbuf, sizeof(errbuf)));
        CHECK(harness_proc_expect_exit(p2, 20000, 1, errbuf, sizeof(errbuf)));
        harness_proc_free(p2);
        char *o2 = slurp(path_of("clmctl.out"));
        snprintf(want, sizeof(want), "TLS to 127.0.0.1:%d: handshake timed out (is it a TLS "
                 "port?)", F.plain_port);
        if (!strstr(o2, want))
            fail_msg("clmctl over TLS to a plain port: %s", o2);
        free(o2);
        unlink(path_of("clmctl.out"));
    }

    /* a name the certificate does not carry */
    write_config("tls-ca", "ca.crt", "secret", "\"tls_server_name\": \"redis.example.com\"");
    st = clmctl("customer", "c1", &out);
    if (st != 1 || !strstr(out, "certificate verify failed: hostname mismatch"))
        fail_msg("clmctl with the wrong server name: exit %d: %s", st, out);
    free(out);
}

static void test_wrong_password(void **state)
{
    (void)state;
    write_config("tls-pw", "ca.crt", "not-the-secret", NULL);
    char want[256];
    snprintf(want, sizeof(want), "Redis at 127.0.0.1:%d refused the user \"clmd\" in redis.user "
             "with the password in redis.password (secrets file): AUTH: WRONGPASS", F.tls_port);
    harness_proc *p = start_clmd();
    wait_log(want, 20000);
    char *all = slurp(path_of("clmd.log"));
    assert_null(strstr(all, "not-the-secret"));
    free(all);
    expect_alive_then_kill(p, 1000);
    char *out;
    int st = clmctl("customer", "c1", &out);
    if (st != 1 || !strstr(out, "AUTH: WRONGPASS"))
        fail_msg("clmctl with the wrong password: exit %d: %s", st, out);
    free(out);
}

static void test_client_cert(void **state)
{
    (void)state;
    redisReply *rep = redisCommand(F.rc, "CONFIG SET tls-auth-clients yes");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    harness_kv kv = kv_of("c9", PURCHASE("e9", "c9", "3"));
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), "tls-cert", &kv, 1, false, 30000,
                          errbuf, sizeof(errbuf)));

    write_config("tls-cert", "ca.crt", "secret", NULL);
    char *out;
    char want[256];
    snprintf(want, sizeof(want), "TLS to 127.0.0.1:%d: tlsv13 alert certificate required",
             F.tls_port);
    int st = clmctl("customer", "c9", &out);
    if (st != 1 || !strstr(out, want))
        fail_msg("clmctl without a client certificate: exit %d: %s", st, out);
    free(out);

    char extra[512];
    snprintf(extra, sizeof(extra), "\"tls_cert_file\": \"%s\", \"tls_key_file\": \"%s\"",
             path_of("client.crt"), path_of("client.key"));
    write_config("tls-cert", "ca.crt", "secret", extra);
    harness_proc *p = start_clmd();
    long long consumed = 0;
    for (int i = 0; i < 300 && consumed < 1; i++, usleep(100000))
        consumed = harness_redis_hget_int(F.rc, "tls-cert:stats", "consumed");
    if (consumed != 1) {
        char *all = slurp(path_of("clmd.log"));
        fail_msg("clmd with a client certificate: consumed %lld, wanted 1; log:\n%s", consumed,
                 all);
    }
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    st = clmctl("customer", "c9", &out);
    if (st != 0 || !strstr(out, "first_seen          2025-01-03T12:00:00.000Z"))
        fail_msg("clmctl with a client certificate: exit %d: %s", st, out);
    free(out);

    rep = redisCommand(F.rc, "CONFIG SET tls-auth-clients no");
    freeReplyObject(rep);
}

/* --check-config and a start give the same line and exit 1. */
static void expect_config_error(const char *want)
{
    const char *argv[] = { bin("CLMD_BIN", "clmd"), "--check-config", path_of("clmd.json"), NULL };
    harness_proc *p;
    CHECK(harness_proc_spawn(argv, path_of("check.log"), &p, errbuf, sizeof(errbuf)));
    CHECK(harness_proc_expect_exit(p, 20000, 1, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    char *all = slurp(path_of("check.log"));
    if (strcmp(all, want) != 0 || all[strlen(want) - 1] != '\n')
        fail_msg("--check-config said \"%s\", wanted \"%s\"", all, want);
    free(all);
    unlink(path_of("check.log"));

    p = start_clmd();
    CHECK(harness_proc_expect_exit(p, 20000, 1, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    all = slurp(path_of("clmd.log"));
    if (strncmp(all, "<3>", 3) != 0 || strcmp(all + 3, want) != 0)
        fail_msg("a start logged \"%s\", wanted \"<3>%s\"", all, want);
    free(all);
}

static void test_config_errors(void **state)
{
    (void)state;
    char want[512];
    write_config("tls", "missing.crt", "secret", NULL);
    snprintf(want, sizeof(want), "%s: redis.tls_ca_file: \"%s\" cannot be read: No such file or "
             "directory (expected a PEM file of CA certificates)\n", path_of("clmd.json"),
             path_of("missing.crt"));
    expect_config_error(want);

    write_config("tls", "server.csr", "secret", NULL);
    snprintf(want, sizeof(want), "%s: redis.tls_ca_file: \"%s\" does not load: no certificate or "
             "crl found (expected a PEM file of CA certificates)\n", path_of("clmd.json"),
             path_of("server.csr"));
    expect_config_error(want);

    char extra[512];
    snprintf(extra, sizeof(extra), "\"tls_cert_file\": \"%s\", \"tls_key_file\": \"%s\"",
             path_of("client.crt"), path_of("server.key"));
    write_config("tls", "ca.crt", "secret", extra);
    snprintf(want, sizeof(want), "%s: redis.tls_key_file: \"%s\" does not match the client "
             "certificate (expected the unencrypted PEM private key of redis.tls_cert_file)\n",
             path_of("clmd.json"), path_of("server.key"));
    expect_config_error(want);
}

/* ---- the suite ----------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* net/redis_tls.h asks for it */
    snprintf(F.dir, sizeof(F.dir), "/tmp/clm-tls-XXXXXX");
    if (!mkdtemp(F.dir) || make_certs() < 0) {
        fprintf(stderr, "making the test certificates with openssl failed (see %s/openssl.log)\n",
                F.dir);
        return -1;
    }
    if (start_redis() < 0) {
        fprintf(stderr, "redis-server: %s\n", errbuf);
        return -1;
    }
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "harness_kafka_start: %s\n", errbuf);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_kafka_free(F.kafka);
    if (F.rc)
        redisFree(F.rc);
    harness_proc_free(F.redis);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pump_large_value),
        cmocka_unit_test(test_clmd_over_tls),
        cmocka_unit_test(test_wrong_ca),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_client_cert),
        cmocka_unit_test(test_config_errors),
    };
    const char *filter = getenv("CLM_TLS_FILTER"); /* e.g. "test_wrong_ca" */
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("redis-tls", tests, setup, teardown);
}
