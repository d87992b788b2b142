/* tests/test-cluster-client.c - the Redis Cluster client (net/redis_cluster.h)
 * against a real cluster of 3 masters with a replica each
 * (tests/harness_cluster.h), started once for the group:
 *   redirect_parse    MOVED and ASK strings, the unknown endpoint, non-redirects
 *   bad_seeds         seed strings refused with -EINVAL naming the seed
 *   not_a_cluster     a plain redis-server: -EPROTO with the server's words
 *   single_node       one cluster node with requirepass: no or a wrong
 *                     password, slots missing (-ENXIO), then all slots; an
 *                     ACL user
 *   tls               one cluster node over TLS only (a CA made with the
 *                     openssl command): the map names the TLS port,
 *                     commands work; a wrong CA and plain TCP are refused
 *   keyslot_agrees    CLUSTER KEYSLOT and clm_slot_of over 4000 keys, tagged
 *                     and binary ones among them
 *   routed            SET/GET on keys of all three masters, each key found on
 *                     the master of its slot; WRONGTYPE comes back as a reply;
 *                     clm_cluster_masters lists the three
 *   moved             a slot moved: MOVED (naming no host, as nodes with an
 *                     unknown endpoint do) is followed and the map
 *                     refreshed; a slot moved while another thread keeps
 *                     writing into it: no write lost
 *   ask               a slot half migrated: moved keys read through ASK, the
 *                     map unchanged; then finished, read through MOVED
 *   failover          the master of a slot killed, its replica promoted: the
 *                     client drops the dead connection, refreshes, goes on
 *   during_failover   another master killed and a command sent at once: the
 *                     client's own retries outlast the failover
 * The suite fails (never skips) when redis-server, redis-cli or openssl
 * cannot be started.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "net/redis_cluster.h"
#include "net/slot.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"

static char errbuf[512];
#define CHECK(call)                                                                 \
    do {                                                                            \
        int r_ = (call);                                                            \
        if (r_ < 0)                                                                 \
            fail_msg("%s: %s (%d)", #call, errbuf, r_);                             \
    } while (0)

static harness_cluster *cluster;

static void sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
    (void)state;
    int r = harness_cluster_start(3, 1, &cluster, errbuf, sizeof(errbuf));
    if (r < 0)
        fprintf(stderr, "# harness_cluster_start: %s (%d)\n", errbuf, r);
    return r < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    harness_cluster_stop(cluster);
    return 0;
}

static clm_cluster *client(void)
{
    clm_cluster_opts o = { .seeds = harness_cluster_seeds(cluster), .timeout_ms = 2000 };
    clm_cluster *c = NULL;
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    return c;
}

/* The reply to argv (key at keyarg); fails the test on NULL. */
static redisReply *cmd(clm_cluster *c, int keyarg, int argc, const char **argv)
{
    redisReply *rep = clm_cluster_command(c, keyarg, argc, argv, NULL, errbuf, sizeof(errbuf));
    if (!rep)
        fail_msg("%s %s: %s", argv[0], argc > 1 ? argv[1] : "", errbuf);
    return rep;
}

static void set(clm_cluster *c, const char *key, const char *value)
{
    const char *argv[] = { "SET", key, value };
    redisReply *rep = cmd(c, 1, 3, argv);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep->str, "OK");
    freeReplyObject(rep);
}

static void expect_get(clm_cluster *c, const char *key, const char *value)
{
    const char *argv[] = { "GET", key };
    redisReply *rep = cmd(c, 1, 2, argv);
    if (rep->type != REDIS_REPLY_STRING)
        fail_msg("GET %s: type %d (%s), expected \"%s\"", key, rep->type,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "-", value);
    assert_string_equal(rep->str, value);
    freeReplyObject(rep);
}

/* The value of key read on the node at port itself, no redirect followed:
 * "" when the node does not have it, "-ERR..." for an error. */
static void direct_get(int port, const char *key, char *out, size_t size)
{
    redisContext *ctx = NULL;
    CHECK(harness_cluster_connect(cluster, port, &ctx, errbuf, sizeof(errbuf)));
    redisReply *rep = redisCommand(ctx, "GET %s", key);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_STRING)
        snprintf(out, size, "%s", rep->str);
    else if (rep->type == REDIS_REPLY_ERROR)
        snprintf(out, size, "-%s", rep->str);
    else
        out[0] = '\0';
    freeReplyObject(rep);
    redisFree(ctx);
}

static int owner_port(clm_cluster *c, int slot)
{
    char host[64];
    int port = 0;
    assert_int_equal(clm_cluster_slot_owner(c, slot, host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    return port;
}

/* ---- without a cluster ------------------------------------------------------ */

static void test_redirect_parse(void **state)
{
    (void)state;
    int slot = -1, port = -1;
    char host[64];
    assert_int_equal(clm_cluster_redirect("MOVED 3999 127.0.0.1:6381", &slot, host,
                                          sizeof(host), &port), 1);
    assert_int_equal(slot, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_int_equal(clm_cluster_redirect("ASK 16383 ::1:7000", &slot, host, sizeof(host),
                                          &port), 2);
    assert_int_equal(slot, 16383);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_int_equal(clm_cluster_redirect("ASK 12 [::1]:7001", &slot, host, sizeof(host),
                                          &port), 2);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7001);
    /* Redis 7, unknown endpoint: an empty host */
    assert_int_equal(clm_cluster_redirect("MOVED 0 :6380", &slot, host, sizeof(host), &port), 1);
    assert_string_equal(host, "");
    assert_int_equal(slot, 0);
    assert_int_equal(port, 6380);
    /* not redirects: outputs untouched */
    slot = port = -1;
    const char *no[] = { "ERR unknown command", "MOVED", "MOVED 16384 a:1", "MOVED -1 a:1",
                         "MOVED 1 a", "MOVED 1 a:0", "MOVED 1 a:70000", "MOVED 1 a:1x",
                         "ASKING", "TRYAGAIN Multiple keys request during rehashing of slot",
                         "CLUSTERDOWN The cluster is down", "moved 1 a:1", NULL };
    for (int i = 0; no[i]; i++)
        assert_int_equal(clm_cluster_redirect(no[i], &slot, host, sizeof(host), &port), 0);
    assert_int_equal(clm_cluster_redirect(NULL, &slot, host, sizeof(host), &port), 0);
    assert_int_equal(slot, -1);
    assert_int_equal(port, -1);
    /* a host that does not fit */
    char small[4];
    assert_int_equal(clm_cluster_redirect("MOVED 1 127.0.0.1:1", &slot, small, sizeof(small),
                                          &port), 0);
}

static void test_bad_seeds(void **state)
{
    (void)state;
    static const struct {
        const char *seeds, *named, *why;
    } bad[] = {
        { "127.0.0.1:7000,localhost", "\"localhost\"", "no port" },
        { "127.0.0.1:7000, ::1:7001", "\"::1:7001\"", "brackets" },
        { "127.0.0.1:99999", "\"127.0.0.1:99999\"", "1..65535" },
        { "127.0.0.1:", "\"127.0.0.1:\"", "1..65535" },
        { "127.0.0.1:7x", "\"127.0.0.1:7x\"", "1..65535" },
        { ":7000", "\":7000\"", "no host" },
        { "[::1:7000", "\"[::1:7000\"", "']'" },
        { "[::1]", "\"[::1]\"", "no port" },
        { "a:1,,b:2", "seed 2", "empty" },
        { "", "seed 1", "empty" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clm_cluster_opts o = { .seeds = bad[i].seeds };
        clm_cluster *c = (clm_cluster *)&o; /* must stay untouched */
        errbuf[0] = '\0';
        assert_int_equal(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)), -EINVAL);
        assert_ptr_equal(c, (clm_cluster *)&o);
        if (!strstr(errbuf, bad[i].named) || !strstr(errbuf, bad[i].why) ||
            !strstr(errbuf, "host:port"))
            fail_msg("seeds \"%s\": %s", bad[i].seeds, errbuf);
    }
    clm_cluster_opts null_seeds = { .seeds = NULL };
    clm_cluster *c = NULL;
    assert_int_equal(clm_cluster_new(&null_seeds, &c, errbuf, sizeof(errbuf)), -EINVAL);
    assert_null(c);
    /* good ones, not connected to */
    clm_cluster_opts good = { .seeds = " 127.0.0.1:7000 ,[::1]:7001,localhost:1" };
    CHECK(clm_cluster_new(&good, &c, errbuf, sizeof(errbuf)));
    clm_cluster_free(c);
    clm_cluster_free(NULL);
}

static void test_not_a_cluster(void **state)
{
    (void)state;
    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    char seeds[64];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", harness_redis_port(r));
    clm_cluster_opts o = { .seeds = seeds, .timeout_ms = 2000 };
    clm_cluster *c = NULL;
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EPROTO);
    if (!strstr(errbuf, "cluster support disabled") || !strstr(errbuf, seeds))
        fail_msg("refresh: %s", errbuf);
    /* a command says the same, at once */
    const char *argv[] = { "GET", "foo" };
    assert_null(clm_cluster_command(c, 1, 2, argv, NULL, errbuf, sizeof(errbuf)));
    if (!strstr(errbuf, "cluster support disabled"))
        fail_msg("command: %s", errbuf);
    assert_null(clm_cluster_for_slot(c, 0, errbuf, sizeof(errbuf)));
    clm_cluster_free(c);
    /* and nobody listening: -EIO */
    harness_redis_free(r);
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, seeds))
        fail_msg("refresh: %s", errbuf);
    clm_cluster_free(c);
}

/* Runs a command on an admin connection, expecting no error. */
static void admin(redisContext *ctx, const char *command)
{
    redisReply *rep = redisCommand(ctx, command);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", command, rep ? rep->str : ctx->errstr);
    freeReplyObject(rep);
}

static void test_single_node(void **state)
{
    (void)state;
    harness_cluster *one = NULL;
    harness_cluster_opts ho = { .password = "s3cret" };
    CHECK(harness_cluster_start_empty(&ho, &one, errbuf, sizeof(errbuf)));
    const char *seeds = harness_cluster_seeds(one);
    clm_cluster_opts o = { .seeds = seeds, .timeout_ms = 2000 };
    clm_cluster *c = NULL;
    /* no password, a wrong one: no node answered, and why */
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, "requires a password") || !strstr(errbuf, seeds))
        fail_msg("no password: %s", errbuf);
    clm_cluster_free(c);
    o.password = "wrong";
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, "refused the password"))
        fail_msg("wrong password: %s", errbuf);
    clm_cluster_free(c);
    /* no slots assigned: -ENXIO naming the first slot without a master */
    o.password = "s3cret";
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -ENXIO);
    if (!strstr(errbuf, "slot 0 "))
        fail_msg("no slots: %s", errbuf);
    redisContext *adm = NULL;
    CHECK(harness_cluster_connect(one, harness_cluster_port(one, 0), &adm, errbuf,
                                  sizeof(errbuf)));
    admin(adm, "AUTH s3cret");
    admin(adm, "CLUSTER ADDSLOTSRANGE 0 8000");
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -ENXIO);
    if (!strstr(errbuf, "slot 8001 "))
        fail_msg("half the slots: %s", errbuf);
    assert_int_equal(owner_port(c, 8000), harness_cluster_port(one, 0));
    char host[64];
    int port;
    assert_int_equal(clm_cluster_slot_owner(c, 8001, host, sizeof(host), &port), -ENOENT);
    assert_null(clm_cluster_for_slot(c, 9000, errbuf, sizeof(errbuf)));
    if (!strstr(errbuf, "slot 9000"))
        fail_msg("for_slot 9000: %s", errbuf);
    assert_non_null(clm_cluster_for_slot(c, 100, errbuf, sizeof(errbuf)));
    /* every slot: a cluster of one */
    admin(adm, "CLUSTER ADDSLOTSRANGE 8001 16383");
    CHECK(clm_cluster_refresh(c, errbuf, sizeof(errbuf)));
    set(c, "one", "1"); /* CLUSTERDOWN until the node sees its own state ok */
    expect_get(c, "one", "1");
    clm_cluster_free(c);
    /* an ACL user, right and wrong */
    admin(adm, "ACL SETUSER app on >apppw ~* &* +@all");
    o.user = "app";
    o.password = "apppw";
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    expect_get(c, "one", "1");
    clm_cluster_free(c);
    o.password = "nope";
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, "refused the user \"app\""))
        fail_msg("wrong user password: %s", errbuf);
    clm_cluster_free(c);
    redisFree(adm);
    harness_cluster_stop(one);
}

/* A test CA, a server certificate for 127.0.0.1 signed by it, and another
 * CA, made with the openssl command in dir. */
static void make_certs(const char *dir)
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
             "  -out server.crt -days 2 -extfile server.ext", dir);
    if (system(cmd) != 0)
        fail_msg("making the test certificates with openssl failed (see %s/openssl.log)", dir);
}

static void test_tls(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char dir[256], ca[300], other[300], rm[300];
    snprintf(dir, sizeof(dir), "%s/clm-cluster-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(other, sizeof(other), "%s/other.crt", dir);
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    make_certs(dir);
    harness_cluster *one = NULL;
    harness_cluster_opts ho = { .tls_dir = dir };
    CHECK(harness_cluster_start_empty(&ho, &one, errbuf, sizeof(errbuf)));
    int port = harness_cluster_port(one, 0);
    const char *seeds = harness_cluster_seeds(one);
    clm_cluster_opts o = { .seeds = seeds, .timeout_ms = 2000, .tls = true,
                           .tls_opts = { .ca_file = ca } };
    clm_cluster *c = NULL;
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -ENXIO);
    redisContext *adm = clm_cluster_at(c, "127.0.0.1", port, errbuf, sizeof(errbuf));
    if (!adm)
        fail_msg("clm_cluster_at: %s", errbuf);
    admin(adm, "CLUSTER ADDSLOTSRANGE 0 16383");
    CHECK(clm_cluster_refresh(c, errbuf, sizeof(errbuf)));
    assert_int_equal(owner_port(c, 0), port); /* the TLS port, to a TLS client */
    set(c, "tls", "yes");
    expect_get(c, "tls", "yes");
    clm_cluster_free(c);
    /* a CA that did not sign the node's certificate */
    o.tls_opts.ca_file = other;
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, "certificate verify failed"))
        fail_msg("wrong CA: %s", errbuf);
    clm_cluster_free(c);
    /* plain TCP to the TLS port */
    o.tls = false;
    CHECK(clm_cluster_new(&o, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(clm_cluster_refresh(c, errbuf, sizeof(errbuf)), -EIO);
    if (!strstr(errbuf, seeds))
        fail_msg("plain to TLS: %s", errbuf);
    clm_cluster_free(c);
    harness_cluster_stop(one);
    assert_int_equal(system(rm), 0);
}

/* ---- against the cluster ------------------------------------------------- */

static void test_keyslot_agrees(void **state)
{
    (void)state;
    redisContext *ctx = NULL;
    CHECK(harness_cluster_connect(cluster, harness_cluster_port(cluster, 0), &ctx, errbuf,
                                  sizeof(errbuf)));
    enum { N = 4000 };
    static char keys[N][40];
    static size_t lens[N];
    const char *fixed[] = { "foo", "bar", "123456789", "{user1000}.following",
                            "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap",
                            "foo{bar}{zap}", "{}", "}{", "{", "" };
    const int nfixed = (int)(sizeof(fixed) / sizeof(fixed[0]));
    srand(42);
    for (int i = 0; i < N; i++) {
        if (i < nfixed) {
            lens[i] = strlen(fixed[i]);
            memcpy(keys[i], fixed[i], lens[i]);
            continue;
        }
        /* random bytes (NUL included), with braces thrown in often */
        lens[i] = (size_t)(rand() % 30);
        for (size_t k = 0; k < lens[i]; k++) {
            int pick = rand() % 8;
            keys[i][k] = pick == 0 ? '{' : pick == 1 ? '}' : (char)(rand() % 256);
        }
        if (i % 4 == 0) /* a tag at a random place */
            lens[i] = (size_t)snprintf(keys[i], sizeof(keys[i]), "k%d{t%d}x", i, rand() % 50);
    }
    for (int i = 0; i < N; i++) {
        const char *argv[] = { "CLUSTER", "KEYSLOT", keys[i] };
        size_t argl[] = { 7, 7, lens[i] };
        redisAppendCommandArgv(ctx, 3, argv, argl);
    }
    for (int i = 0; i < N; i++) {
        redisReply *rep = NULL;
        assert_int_equal(redisGetReply(ctx, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        if (rep->integer != clm_slot_of(keys[i], lens[i]))
            fail_msg("key %d (%zu bytes): CLUSTER KEYSLOT %lld, clm_slot_of %d", i, lens[i],
                     rep->integer, clm_slot_of(keys[i], lens[i]));
        if (i < 3)
            assert_int_equal(rep->integer, i == 0 ? 12182 : i == 1 ? 5061 : 12739);
        freeReplyObject(rep);
    }
    redisFree(ctx);
}

static void test_routed(void **state)
{
    (void)state;
    clm_cluster *c = client();
    int ports[3] = { 0 }, hits[3] = { 0 };
    char key[32], value[32], got[64];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "routed:%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        set(c, key, value);
        expect_get(c, key, value);
        int port = harness_cluster_master_port(cluster, clm_slot_of(key, strlen(key)));
        assert_true(port > 0);
        assert_int_equal(owner_port(c, clm_slot_of(key, strlen(key))), port);
        direct_get(port, key, got, sizeof(got));
        assert_string_equal(got, value); /* stored on the master of its slot */
        for (int m = 0; m < 3; m++) {
            if (ports[m] == 0)
                ports[m] = port;
            if (ports[m] == port) {
                hits[m]++;
                break;
            }
        }
    }
    for (int m = 0; m < 3; m++)
        assert_true(hits[m] > 50); /* about 100 each */
    assert_int_equal(clm_cluster_refreshes(c), 1);
    /* an ordinary error reply is the caller's */
    const char *lpush[] = { "LPUSH", "routed:0", "x" };
    redisReply *rep = cmd(c, 1, 3, lpush);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_memory_equal(rep->str, "WRONGTYPE", 9);
    freeReplyObject(rep);
    /* keyarg < 0: any master */
    const char *ping[] = { "PING" };
    rep = cmd(c, -1, 1, ping);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);
    /* binary keys with explicit lengths */
    const char *bset[] = { "SET", "bin\0key", "v" };
    size_t blens[] = { 3, 7, 1 };
    rep = clm_cluster_command(c, 1, 3, bset, blens, errbuf, sizeof(errbuf));
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    /* the masters, connected */
    redisContext *ctx[4] = { NULL };
    char addr[4][64];
    assert_int_equal(clm_cluster_masters(c, ctx, addr, 4, errbuf, sizeof(errbuf)), 3);
    int seen = 0;
    for (int m = 0; m < 3; m++) {
        assert_non_null(ctx[m]);
        for (int k = 0; k < 3; k++) {
            char want[64];
            snprintf(want, sizeof(want), "127.0.0.1:%d", ports[k]);
            seen += strcmp(addr[m], want) == 0;
        }
        redisReply *p = redisCommand(ctx[m], "PING");
        assert_non_null(p);
        freeReplyObject(p);
    }
    assert_int_equal(seen, 3);
    assert_int_equal(clm_cluster_masters(c, NULL, addr, 1, errbuf, sizeof(errbuf)), 3);
    /* for_key and for_slot hand out the kept connection */
    int slot = clm_slot_of("routed:1", 8);
    assert_ptr_equal(clm_cluster_for_key(c, "routed:1", 8, errbuf, sizeof(errbuf)),
                     clm_cluster_for_slot(c, slot, errbuf, sizeof(errbuf)));
    assert_null(clm_cluster_for_slot(c, CLM_CLUSTER_SLOTS, errbuf, sizeof(errbuf)));
    clm_cluster_free(c);
}

/* A writer with its own client: SET {live}:<i> <i> until told to stop. */
typedef struct writer {
    pthread_t thread;
    atomic_bool stop;
    atomic_int written, failed; /* read by the test while the writer runs */
    char why[512];
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    clm_cluster_opts o = { .seeds = harness_cluster_seeds(cluster), .timeout_ms = 2000 };
    clm_cluster *c = NULL;
    if (clm_cluster_new(&o, &c, w->why, sizeof(w->why)) < 0) {
        w->failed++;
        return NULL;
    }
    while (!atomic_load(&w->stop) || w->written < 200) {
        char key[32], value[16];
        snprintf(key, sizeof(key), "{live}:%d", w->written);
        snprintf(value, sizeof(value), "%d", w->written);
        const char *argv[] = { "SET", key, value };
        redisReply *rep = clm_cluster_command(c, 1, 3, argv, NULL, w->why, sizeof(w->why));
        if (!rep || rep->type != REDIS_REPLY_STATUS) {
            if (rep)
                snprintf(w->why, sizeof(w->why), "SET %s: %s", key, rep->str);
            w->failed++;
            freeReplyObject(rep);
            break;
        }
        freeReplyObject(rep);
        w->written++;
    }
    clm_cluster_free(c);
    return NULL;
}

/* CONFIG SET cluster-preferred-endpoint-type on every node. */
static void endpoint_type(const char *type)
{
    for (int i = 0; i < harness_cluster_nodes(cluster); i++) {
        redisContext *ctx = NULL;
        CHECK(harness_cluster_connect(cluster, harness_cluster_port(cluster, i), &ctx, errbuf,
                                      sizeof(errbuf)));
        redisReply *rep = redisCommand(ctx, "CONFIG SET cluster-preferred-endpoint-type %s", type);
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_STATUS);
        freeReplyObject(rep);
        redisFree(ctx);
    }
}

static void test_moved(void **state)
{
    (void)state;
    /* nodes that do not say where they are (Redis 7): CLUSTER SLOTS and
     * MOVED name no host, the client uses the host that answered */
    endpoint_type("unknown-endpoint");
    clm_cluster *c = client();
    set(c, "{moved}a", "before");
    int slot = clm_slot_of("moved", 5);
    int from = owner_port(c, slot);
    unsigned long refreshes = clm_cluster_refreshes(c);
    int to = harness_cluster_move_slot(cluster, slot, errbuf, sizeof(errbuf));
    CHECK(to);
    assert_int_not_equal(to, from);
    /* the client still thinks `from`: MOVED, refresh, re-sent */
    assert_int_equal(owner_port(c, slot), from);
    char got[64];
    direct_get(from, "{moved}a", got, sizeof(got));
    char want[64];
    snprintf(want, sizeof(want), "-MOVED %d :%d", slot, to);
    assert_string_equal(got, want);
    expect_get(c, "{moved}a", "before");
    assert_true(clm_cluster_refreshes(c) > refreshes);
    assert_int_equal(owner_port(c, slot), to);
    set(c, "{moved}b", "after");
    direct_get(to, "{moved}b", got, sizeof(got));
    assert_string_equal(got, "after");
    endpoint_type("ip");

    /* a slot moved while another client writes into it */
    writer w = { 0 };
    atomic_init(&w.stop, false);
    int lslot = clm_slot_of("live", 4);
    assert_int_equal(pthread_create(&w.thread, NULL, write_loop, &w), 0);
    while (w.written < 100 && !w.failed) /* some keys to move */
        sleep_ms(5);
    int lto = harness_cluster_begin_migration(cluster, lslot, errbuf, sizeof(errbuf));
    CHECK(lto);
    int moved;
    while ((moved = harness_cluster_migrate_keys(cluster, 20, errbuf, sizeof(errbuf))) > 0)
        sleep_ms(20);
    CHECK(moved);
    CHECK(harness_cluster_finish_migration(cluster, errbuf, sizeof(errbuf)));
    sleep_ms(200);
    atomic_store(&w.stop, true);
    pthread_join(w.thread, NULL);
    if (w.failed)
        fail_msg("the writer failed after %d writes: %s", w.written, w.why);
    for (int i = 0; i < w.written; i++) {
        char key[32], value[16];
        snprintf(key, sizeof(key), "{live}:%d", i);
        snprintf(value, sizeof(value), "%d", i);
        direct_get(lto, key, got, sizeof(got));
        if (strcmp(got, value) != 0)
            fail_msg("%s on the new master: \"%s\", expected \"%s\" (%d written)", key, got,
                     value, w.written);
    }
    clm_cluster_free(c);
}

static void test_ask(void **state)
{
    (void)state;
    clm_cluster *c = client();
    char key[32], value[32], got[128];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "{ask}:%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        set(c, key, value);
    }
    int slot = clm_slot_of("ask", 3);
    int from = owner_port(c, slot);
    unsigned long refreshes = clm_cluster_refreshes(c);
    int to = harness_cluster_begin_migration(cluster, slot, errbuf, sizeof(errbuf));
    CHECK(to);
    int moved = harness_cluster_migrate_keys(cluster, 5, errbuf, sizeof(errbuf));
    CHECK(moved);
    assert_int_equal(moved, 5);
    int asked = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "{ask}:%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        direct_get(from, key, got, sizeof(got));
        if (got[0] == '-') {
            /* moved: the source answers ASK, the client follows it */
            int s, p;
            char host[64];
            assert_int_equal(clm_cluster_redirect(got + 1, &s, host, sizeof(host), &p), 2);
            assert_int_equal(s, slot);
            assert_int_equal(p, to);
            asked++;
        } else {
            assert_string_equal(got, value);
        }
        expect_get(c, key, value);
    }
    assert_int_equal(asked, 5);
    /* a new key of the slot goes to the target through ASK */
    set(c, "{ask}:new", "n");
    direct_get(to, "{ask}:new", got, sizeof(got));
    assert_memory_equal(got, "-MOVED", 6); /* without ASKING the target redirects */
    /* ASK leaves the map alone */
    assert_int_equal(clm_cluster_refreshes(c), refreshes);
    assert_int_equal(owner_port(c, slot), from);
    CHECK(harness_cluster_finish_migration(cluster, errbuf, sizeof(errbuf)));
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "{ask}:%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        expect_get(c, key, value);
    }
    expect_get(c, "{ask}:new", "n");
    assert_int_equal(owner_port(c, slot), to);
    clm_cluster_free(c);
}

/* The replica test_failover promoted: a master without a replica now. */
static int promoted;

static void test_failover(void **state)
{
    (void)state;
    clm_cluster *c = client();
    set(c, "{fail}a", "kept");
    int slot = clm_slot_of("fail", 4);
    int old = owner_port(c, slot);
    /* the replica has it before the master dies */
    redisContext *ctx = clm_cluster_for_slot(c, slot, errbuf, sizeof(errbuf));
    assert_non_null(ctx);
    redisReply *rep = redisCommand(ctx, "WAIT 1 5000");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    int now = harness_cluster_kill_master(cluster, slot, errbuf, sizeof(errbuf));
    CHECK(now);
    promoted = now;
    assert_int_not_equal(now, old);
    /* the kept connection to the dead master fails once: dropped, map stale */
    const char *get[] = { "GET", "{fail}a" };
    int failures = 0;
    rep = NULL;
    for (int tries = 0; tries < 3 && !rep; tries++) {
        rep = clm_cluster_command(c, 1, 2, get, NULL, errbuf, sizeof(errbuf));
        if (!rep)
            failures++;
    }
    if (!rep)
        fail_msg("GET after the failover: %s", errbuf);
    assert_true(failures <= 1);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "kept");
    freeReplyObject(rep);
    assert_int_equal(owner_port(c, slot), now);
    set(c, "{fail}b", "new");
    expect_get(c, "{fail}b", "new");
    /* every key of every master still reachable */
    for (int i = 0; i < 300; i += 7) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "routed:%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        expect_get(c, key, value);
    }
    assert_int_equal(clm_cluster_masters(c, NULL, NULL, 0, errbuf, sizeof(errbuf)), 3);
    clm_cluster_free(c);
}

static void test_during_failover(void **state)
{
    (void)state;
    clm_cluster *c = client();
    /* a key of a master that still has a replica */
    char tag[32], key[48];
    int slot = -1;
    for (int i = 0; slot < 0 || owner_port(c, slot) == promoted; i++) {
        snprintf(tag, sizeof(tag), "during%d", i);
        slot = clm_slot_of(tag, strlen(tag));
        assert_non_null(clm_cluster_for_slot(c, slot, errbuf, sizeof(errbuf))); /* a map */
    }
    snprintf(key, sizeof(key), "{%s}a", tag);
    set(c, key, "kept");
    redisContext *ctx = clm_cluster_for_slot(c, slot, errbuf, sizeof(errbuf));
    assert_non_null(ctx);
    redisReply *rep = redisCommand(ctx, "WAIT 1 5000");
    assert_non_null(rep);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    /* no waiting here: the client's own retries (connection refused,
     * CLUSTERDOWN, about 13 s in all) must outlast the failover */
    int dead = harness_cluster_crash_master(cluster, slot, errbuf, sizeof(errbuf));
    CHECK(dead);
    const char *get[] = { "GET", key };
    int failures = 0;
    rep = NULL;
    for (int tries = 0; tries < 2 && !rep; tries++) {
        rep = clm_cluster_command(c, 1, 2, get, NULL, errbuf, sizeof(errbuf));
        if (!rep)
            failures++; /* the kept connection to the dead master, once */
    }
    if (!rep)
        fail_msg("GET during the failover: %s", errbuf);
    assert_true(failures <= 1);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "kept");
    freeReplyObject(rep);
    assert_int_not_equal(owner_port(c, slot), dead);
    CHECK(harness_cluster_wait_failover(cluster, slot, dead, errbuf, sizeof(errbuf)));
    clm_cluster_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_parse),
        cmocka_unit_test(test_bad_seeds),
        cmocka_unit_test(test_not_a_cluster),
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_keyslot_agrees),
        cmocka_unit_test(test_routed),
        cmocka_unit_test(test_moved),
        cmocka_unit_test(test_ask),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_during_failover),
    };
    return cmocka_run_group_tests_name("cluster-client", tests, group_setup, group_teardown);
}
