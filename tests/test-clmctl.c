/* tests/test-clmctl.c - clmctl against a real redis-server.
 *
 * A redis-server filled with hand-made hashes of the shapes clmd writes
 * (README "Redis keys", "KPIs"), a config naming it with its own stage model
 * and the prefix "t[1]:" (glob characters: unescaped, the SCAN pattern
 * "t[1]:kpi:*d" would match the decoy t1:kpi:7d and miss every real KPI
 * hash), and the clmctl binary run as
 * a child process; every output is compared with text written out here.
 * The suite fails (never skips) when redis-server or clmctl cannot be started.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

typedef struct fixture {
    harness_redis *redis;
    char dir[PATH_MAX];
    char config[PATH_MAX + 32];
    int runs;
} fixture;

static fixture F;

static const char *clmctl_bin(void)
{
    const char *p = getenv("CLMCTL_BIN");
    return p ? p : "clmctl";
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs clmctl with the arguments (NULL-terminated), checks that it exits
 * with status `expect`, and returns what it wrote to stdout and stderr
 * together (free it). */
static char *run(int expect, ...)
{
    const char *argv[32] = { clmctl_bin() };
    size_t n = 1;
    va_list ap;
    va_start(ap, expect);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 31;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;

    char log[PATH_MAX + 32];
    snprintf(log, sizeof(log), "%s/run-%d.log", F.dir, ++F.runs);
    harness_proc *p = NULL;
    int st = 0;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    CHECK(harness_proc_wait(p, 10000, &st, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    char *out = slurp(log);
    unlink(log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != expect)
        fail_msg("clmctl %s ...: wait status %#x, expected exit %d; output:\n%s",
                 n > 1 ? argv[1] : "", st, expect, out);
    return out;
}

static void cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, rep->str);
    freeReplyObject(rep);
}

/* The hashes, as clmd would have left them after events up to 2026-03-02.
 * Bucket scores are day numbers: 2026-03-01 is day 56 x 365 + 14 leap days
 * (1972..2024) + 31 + 28 = 20513, so 2026-02-26 is 20510. */
static void populate(redisContext *c)
{
    /* rolling KPIs: absent fields differ between the windows */
    cmd(c, "HSET t[1]:kpi:7d window_start 2026-02-23 window_end 2026-03-02 revenue 1234.5 "
           "orders 10 new_customers 3 churned 1 aov 123.45 conv_visitor_buyer 0.25 "
           "clv_lifetime_years 5");
    cmd(c, "HSET t[1]:kpi:30d window_start 2026-01-31 window_end 2026-03-02 revenue 99999.25 "
           "orders 120 new_customers 30 churned 4 aov 833.327083 nps 42.8571 upsell_rate 0.125 "
           "clv_lifetime_years 3.75 legacy_field old");
    /* decoys: matched by the pattern "t[1]:kpi:*d" left unescaped; no window */
    cmd(c, "HSET t1:kpi:7d revenue 1");
    cmd(c, "HSET t[1]:kpi:weekd revenue 2");
    /* one customer; clv_pred is absent */
    cmd(c, "HSET t[1]:customer:c-42 stage buyer stage_since 1772360100000 first_seen 1770000000000 "
           "last_seen 1772360100123 events 12 orders 2 revenue 99.8 refunds 0 clv 99.8 "
           "clv_rate 1214.233333 last_type purchase peak_stage buyer first_purchase 1771000000000");
    cmd(c, "HSET t[1]:customer:c-42 first_contact %s", ""); /* empty: no contact yet */
    /* stage counts: reactivated absent, legacy not a configured stage */
    cmd(c, "HSET t[1]:stage_counts visitor 5 buyer 8 churned 3 legacy 0");
    /* days: 2026-02-27 lacks new_customers; 2026-03-02 (no events, the
     * window_end) has customers_eod only and is not in the bucket index */
    cmd(c, "HSET t[1]:day:2026-02-26 orders 2 revenue 20 new_customers 2 churned 0 "
           "active_customers 4 customers_eod 2");
    cmd(c, "HSET t[1]:day:2026-02-27 orders 0 revenue 0 churned 0 active_customers 1 customers_eod 2");
    cmd(c, "HSET t[1]:day:2026-02-28 orders 3 revenue 49.9 new_customers 1 churned 0 "
           "active_customers 7 customers_eod 3");
    cmd(c, "HSET t[1]:day:2026-03-01 orders 5 revenue 1164.6 new_customers 0 churned 1 "
           "active_customers 9 customers_eod 2");
    cmd(c, "HSET t[1]:day:2026-03-02 customers_eod 2");
    cmd(c, "ZADD t[1]:buckets 20510 2026-02-26 20511 2026-02-27 20512 2026-02-28 20513 2026-03-01");
}

static void write_config(const char *path, int port)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"redis\": {\"port\": %d, \"prefix\": \"t[1]:\"},\n"
            " \"kpi\": {\"windows\": [7, 30]},\n"
            " \"lifecycle\": {\"stages\": [\"visitor\", \"buyer\", \"churned\", \"reactivated\"],\n"
            "   \"rules\": [{\"on\": [\"visit\"], \"to\": \"visitor\"},\n"
            "             {\"on\": [\"purchase\"], \"to\": \"buyer\"},\n"
            "             {\"on\": [\"cancel\"], \"to\": \"churned\"},\n"
            "             {\"on\": \"*\", \"from\": [\"churned\"], \"to\": \"reactivated\"}]}}\n",
            port);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(F.dir, sizeof(F.dir), "%s/clmctl-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.config, sizeof(F.config), "%s/clmd.json", F.dir);
    if (harness_redis_start(&F.redis, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "harness_redis_start: %s\n", errbuf);
        return -1;
    }
    redisContext *c = NULL;
    if (harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "harness_redis_connect: %s\n", errbuf);
        return -1;
    }
    populate(c);
    redisFree(c);
    write_config(F.config, harness_redis_port(F.redis));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_redis_free(F.redis);
    unlink(F.config);
    rmdir(F.dir);
    return 0;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("not JSON: %s: %s", e.text, text);
    return v;
}

static void assert_member(json_t *o, const char *key, const char *value)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("member %s is not a string", key);
    assert_string_equal(json_string_value(v), value);
}

/* ---- kpi ----------------------------------------------------------------- */

/* Rows: the fields clmd writes in its order, conv_visitor_buyer from the
 * config's ordinary stages (visitor, buyer), then legacy_field. Widths: the
 * first column 18 (clv_lifetime_years, conv_visitor_buyer), both window
 * columns 10 (a date), right-aligned; two spaces between columns. */
static void test_kpi_table(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "kpi", NULL);
    assert_string_equal(out,
                        "kpi                         7d         30d\n"
                        "window_start        2026-02-23  2026-01-31\n"
                        "window_end          2026-03-02  2026-03-02\n"
                        "revenue                 1234.5    99999.25\n"
                        "orders                      10         120\n"
                        "new_customers                3          30\n"
                        "churned                      1           4\n"
                        "aov                     123.45  833.327083\n"
                        "cpa                          -           -\n"
                        "nps                          -     42.8571\n"
                        "csat                         -           -\n"
                        "csat_mean                    -           -\n"
                        "churn_rate                   -           -\n"
                        "retention_rate               -           -\n"
                        "lead_to_customer             -           -\n"
                        "conv_visitor_buyer        0.25           -\n"
                        "lead_response_s              -           -\n"
                        "avg_engagement_s             -           -\n"
                        "upsell_rate                  -       0.125\n"
                        "clv_lifetime_years           5        3.75\n"
                        "clv_pred_avg                 -           -\n"
                        "legacy_field                 -         old\n");
    free(out);
}

static void test_kpi_json(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "--json", "kpi", NULL);
    json_t *doc = parse(out);
    /* windows by increasing N; the decoys t1:kpi:7d and kpi:weekd absent */
    assert_int_equal(json_object_size(doc), 2);
    void *it = json_object_iter(doc);
    assert_string_equal(json_object_iter_key(it), "7d");
    assert_string_equal(json_object_iter_key(json_object_iter_next(doc, it)), "30d");
    json_t *w7 = json_object_get(doc, "7d"), *w30 = json_object_get(doc, "30d");
    /* 9 stored fields in 7d, 11 in 30d; absent KPIs are left out */
    assert_int_equal(json_object_size(w7), 9);
    assert_int_equal(json_object_size(w30), 11);
    assert_member(w7, "revenue", "1234.5"); /* not the decoy's 1 */
    assert_member(w7, "conv_visitor_buyer", "0.25");
    assert_member(w7, "window_end", "2026-03-02");
    assert_member(w30, "aov", "833.327083"); /* the stored text, no float rounding */
    assert_member(w30, "revenue", "99999.25");
    assert_member(w30, "legacy_field", "old");
    assert_null(json_object_get(w7, "nps"));
    assert_null(json_object_get(w30, "cpa"));
    /* members in the table's row order: window_start first, legacy_field last */
    assert_string_equal(json_object_iter_key(json_object_iter(w30)), "window_start");
    json_decref(doc);
    free(out);
}

/* --window 30d (or 30) selects one hash; the first column keeps width 18,
 * the 30d column 10. */
static void test_kpi_window(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "kpi", "--window", "30d", NULL);
    assert_string_equal(out,
                        "kpi                        30d\n"
                        "window_start        2026-01-31\n"
                        "window_end          2026-03-02\n"
                        "revenue               99999.25\n"
                        "orders                     120\n"
                        "new_customers               30\n"
                        "churned                      4\n"
                        "aov                 833.327083\n"
                        "cpa                          -\n"
                        "nps                    42.8571\n"
                        "csat                         -\n"
                        "csat_mean                    -\n"
                        "churn_rate                   -\n"
                        "retention_rate               -\n"
                        "lead_to_customer             -\n"
                        "conv_visitor_buyer           -\n"
                        "lead_response_s              -\n"
                        "avg_engagement_s             -\n"
                        "upsell_rate              0.125\n"
                        "clv_lifetime_years        3.75\n"
                        "clv_pred_avg                 -\n"
                        "legacy_field               old\n");
    free(out);

    out = run(0, "-c", F.config, "kpi", "--window", "7", "--json", NULL);
    json_t *doc = parse(out);
    assert_int_equal(json_object_size(doc), 1);
    assert_member(json_object_get(doc, "7d"), "orders", "10");
    json_decref(doc);
    free(out);

    out = run(1, "-c", F.config, "kpi", "--window", "90d", NULL);
    assert_string_equal(out, "clmctl: no KPIs for the 90d window (t[1]:kpi:90d does not exist)\n");
    free(out);
}

/* ---- customer ------------------------------------------------------------ */

/* Field column 14 wide (first_purchase). 1772360100000 ms = day 20513
 * (2026-03-01) x 86400000 + 36900000 (10:15:00); 1770000000000 =
 * 20486 x 86400000 + 9600000 (2026-02-02T02:40:00). clv_pred is absent;
 * first_contact (empty: no trailing spaces), first_purchase and peak_stage
 * follow in byte order, raw. */
static void test_customer(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "customer", "c-42", NULL);
    assert_string_equal(out,
                        "stage           buyer\n"
                        "stage_since     2026-03-01T10:15:00.000Z (1772360100000)\n"
                        "first_seen      2026-02-02T02:40:00.000Z (1770000000000)\n"
                        "last_seen       2026-03-01T10:15:00.123Z (1772360100123)\n"
                        "events          12\n"
                        "orders          2\n"
                        "revenue         99.8\n"
                        "refunds         0\n"
                        "clv             99.8\n"
                        "clv_rate        1214.233333\n"
                        "last_type       purchase\n"
                        "first_contact\n"
                        "first_purchase  1771000000000\n"
                        "peak_stage      buyer\n");
    free(out);

    out = run(0, "-c", F.config, "customer", "c-42", "--json", NULL);
    json_t *doc = parse(out);
    assert_int_equal(json_object_size(doc), 14);
    assert_member(doc, "first_contact", "");
    assert_member(doc, "stage", "buyer");
    assert_member(doc, "last_seen", "1772360100123");
    assert_member(doc, "clv_rate", "1214.233333");
    assert_member(doc, "first_purchase", "1771000000000");
    assert_null(json_object_get(doc, "clv_pred"));
    json_decref(doc);
    free(out);
}

static void test_customer_unknown(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(1, "-c", F.config, "customer", "nobody", NULL);
    assert_string_equal(out, "clmctl: no customer nobody\n");
    free(out);
}

/* ---- stages -------------------------------------------------------------- */

/* 16 customers in all (5 + 8 + 3 + 0): visitor 5/16 = 31.25% -> 31.3,
 * buyer 8/16 = 50.0, churned 3/16 = 18.75% -> 18.8 (half up), reactivated
 * absent -> 0, then legacy (not configured). Widths 11 (reactivated),
 * 9 (customers), 5 (share, 31.3%). */
static void test_stages(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "stages", NULL);
    assert_string_equal(out,
                        "stage        customers  share\n"
                        "visitor              5  31.3%\n"
                        "buyer                8  50.0%\n"
                        "churned              3  18.8%\n"
                        "reactivated          0   0.0%\n"
                        "legacy               0   0.0%\n");
    free(out);

    out = run(0, "-c", F.config, "--json", "stages", NULL);
    json_t *doc = parse(out);
    assert_int_equal(json_object_size(doc), 5);
    const char *names[] = { "visitor", "buyer", "churned", "reactivated", "legacy" };
    const json_int_t counts[] = { 5, 8, 3, 0, 0 };
    void *it = json_object_iter(doc);
    for (size_t i = 0; i < 5; i++, it = json_object_iter_next(doc, it)) {
        assert_string_equal(json_object_iter_key(it), names[i]);
        assert_true(json_is_integer(json_object_iter_value(it)));
        assert_int_equal(json_integer_value(json_object_iter_value(it)), counts[i]);
    }
    json_decref(doc);
    free(out);
}

/* ---- days ---------------------------------------------------------------- */

/* The newest bucket is 2026-03-01 but window_end is 2026-03-02, so the last
 * 7 days end there; the oldest bucket, 2026-02-26, cuts them to 5. Widths:
 * 10 (a date), then each header's length (revenue 7 beats 1164.6). */
static void test_days(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "days", NULL);
    assert_string_equal(out,
                        "date        orders  revenue  new_customers  churned  active_customers  customers_eod\n"
                        "2026-02-26       2       20              2        0                 4              2\n"
                        "2026-02-27       0        0              -        0                 1              2\n"
                        "2026-02-28       3     49.9              1        0                 7              3\n"
                        "2026-03-01       5   1164.6              0        1                 9              2\n"
                        "2026-03-02       -        -              -        -                 -              2\n");
    free(out);

    out = run(0, "-c", F.config, "days", "--last", "2", NULL);
    assert_string_equal(out,
                        "date        orders  revenue  new_customers  churned  active_customers  customers_eod\n"
                        "2026-03-01       5   1164.6              0        1                 9              2\n"
                        "2026-03-02       -        -              -        -                 -              2\n");
    free(out);

    out = run(0, "-c", F.config, "--json", "days", "--last", "3", NULL);
    json_t *doc = parse(out);
    assert_int_equal(json_array_size(doc), 3);
    json_t *d0 = json_array_get(doc, 0), *d2 = json_array_get(doc, 2);
    assert_member(d0, "date", "2026-02-28");
    assert_member(d0, "revenue", "49.9");
    assert_member(d0, "active_customers", "7");
    assert_int_equal(json_object_size(d0), 7); /* date and the six counters */
    assert_member(d2, "date", "2026-03-02");
    assert_member(d2, "customers_eod", "2");
    assert_int_equal(json_object_size(d2), 2); /* absent counters left out */
    json_decref(doc);
    free(out);
}

/* ---- usage and errors ---------------------------------------------------- */

static void test_usage_errors(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(2, "-c", F.config, "frobnicate", NULL);
    assert_string_equal(out, "clmctl: unknown command \"frobnicate\"\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "customer", NULL);
    assert_string_equal(out, "clmctl: customer needs a customer ID\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "stages", "--window", "7d", NULL);
    assert_string_equal(out, "clmctl: --window goes after the kpi command\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "kpi", "--window", "0d", NULL);
    assert_string_equal(out, "clmctl: --window: \"0d\" is not a number of days 1..3650 (e.g. 30d)\n"
                             "Try 'clmctl --help'.\n");
    free(out);
    out = run(2, NULL);
    assert_string_equal(out, "clmctl: a command is needed (kpi, customer, stages or days)\n"
                             "Try 'clmctl --help'.\n");
    free(out);
    out = run(0, "--version", NULL);
    assert_string_equal(out, "clmctl " CLMD_VERSION "\n");
    free(out);
}

/* A stopped server's port: the config's Redis is unreachable (exit 1 with
 * the reason); --redis and --prefix then override the config. */
static void test_redis_unreachable(void **state)
{
    (void)state;
    harness_redis *dead = NULL;
    CHECK(harness_redis_start(&dead, errbuf, sizeof(errbuf)));
    int port = harness_redis_port(dead);
    CHECK(harness_redis_stop(dead, errbuf, sizeof(errbuf)));
    char config[PATH_MAX + 32], expect[128], redis[64];
    snprintf(config, sizeof(config), "%s/dead.json", F.dir);
    write_config(config, port);

    char *out = NULL;
    out = run(1, "-c", config, "stages", NULL);
    snprintf(expect, sizeof(expect), "clmctl: cannot reach Redis at 127.0.0.1:%d: Connection refused\n",
             port);
    assert_string_equal(out, expect);
    free(out);

    /* --redis points at the live server; --prefix "t1:" reads the decoy */
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", harness_redis_port(F.redis));
    out = run(0, "-c", config, "--redis", redis, "--prefix", "t1:", "--json", "kpi", NULL);
    json_t *doc = parse(out);
    assert_int_equal(json_object_size(doc), 1);
    assert_member(json_object_get(doc, "7d"), "revenue", "1");
    json_decref(doc);
    free(out);

    out = run(2, "-c", config, "--redis", "127.0.0.1:0", "kpi", NULL);
    assert_string_equal(out, "clmctl: --redis: \"127.0.0.1:0\" is not HOST:PORT with a port 1..65535\n"
                             "Try 'clmctl --help'.\n");
    free(out);
    harness_redis_free(dead);
    unlink(config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kpi_table),
        cmocka_unit_test(test_kpi_json),
        cmocka_unit_test(test_kpi_window),
        cmocka_unit_test(test_customer),
        cmocka_unit_test(test_customer_unknown),
        cmocka_unit_test(test_stages),
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_redis_unreachable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
