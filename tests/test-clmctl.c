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
#include <signal.h>
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

/* The churn-risk keys: three customers at or above the threshold, by risk
 * 0.9559 (c-7: reasons stored unsorted, two equal), 0.7712 (c-8) and 0.7
 * (c-9: no hash), and four alerts with fixed ids, oldest first. Risk is the
 * noisy-OR of the contributions: c-7 1 - 0.1 x 0.7 x 0.7 x 0.9 = 0.9559,
 * c-8 1 - 0.6 x 0.3813 = 0.77122. */
static const char *const alert_json[] = {
    "{\"alert_id\":\"0000000000000000000000000000000a\",\"kind\":\"churn_risk\","
    "\"customer_id\":\"c-8\",\"risk\":0.7712,\"previous_risk\":0.41,\"stage\":\"visitor\","
    "\"clv\":1250.5,\"clv_rate\":310.2,\"reasons\":[{\"signal\":\"payment_failed\",\"value\":3,"
    "\"weight\":0.4,\"contribution\":0.4},{\"signal\":\"inactivity\",\"value\":23,\"weight\":0.75,"
    "\"contribution\":0.6187}],\"event_ts\":\"2026-02-28T00:00:00.000Z\","
    "\"emitted_at\":\"2026-03-01T09:00:00.000Z\","
    "\"source\":{\"topic\":\"clm.events\",\"partition\":3,\"offset\":1234}}",
    "{\"alert_id\":\"0000000000000000000000000000000b\",\"kind\":\"churned\","
    "\"customer_id\":\"c-7\",\"risk\":0.9559,\"previous_risk\":0.8,\"stage\":\"churned\","
    "\"clv\":80,\"clv_rate\":0,\"reasons\":[],\"event_ts\":\"2026-03-01T10:00:00.000Z\","
    "\"emitted_at\":\"2026-03-01T10:00:01.500Z\","
    "\"source\":{\"topic\":\"clm.events\",\"partition\":1,\"offset\":77}}",
    "{\"alert_id\":\"0000000000000000000000000000000c\",\"kind\":\"digest\","
    "\"severity\":\"warning\",\"held\":3,\"more\":1,\"event_ts\":\"2026-03-01T11:00:00.000Z\","
    "\"emitted_at\":\"2026-03-01T11:00:00.000Z\",\"source\":{\"partition\":2},"
    "\"window\":{\"start\":\"2026-03-01T10:59:00.000Z\",\"end\":\"2026-03-01T11:00:00.000Z\"},"
    "\"customers\":[{\"customer_id\":\"c-1\",\"kind\":\"churn_risk\",\"risk\":0.75,"
    "\"alert_id\":\"00000000000000000000000000000001\",\"incident\":\"00000000000000000000000000000002\"},"
    "{\"customer_id\":\"c-2\",\"kind\":\"churned\",\"risk\":0.8125,"
    "\"alert_id\":\"00000000000000000000000000000003\",\"incident\":\"00000000000000000000000000000004\"}]}",
    "{\"alert_id\":\"0000000000000000000000000000000d\",\"kind\":\"churn_risk\","
    "\"customer_id\":\"c-7\",\"risk\":0.9559,\"previous_risk\":0.6,\"stage\":\"buyer\","
    "\"clv\":80.25,\"clv_rate\":12.5,\"reasons\":[{\"signal\":\"tickets\",\"value\":4,"
    "\"weight\":0.3,\"contribution\":0.3},{\"signal\":\"nps_detractor\",\"value\":2,"
    "\"weight\":0.9,\"contribution\":0.9},{\"signal\":\"low_csat\",\"value\":1,\"weight\":0.3,"
    "\"contribution\":0.3},{\"signal\":\"inactivity\",\"value\":40,\"weight\":0.75,"
    "\"contribution\":0.1}],\"event_ts\":\"2026-03-02T00:00:00.000Z\","
    "\"emitted_at\":\"2026-03-02T08:30:00.250Z\","
    "\"source\":{\"topic\":\"clm.events\",\"partition\":1,\"offset\":80}}",
};
#define NALERTS (sizeof(alert_json) / sizeof(alert_json[0]))

static void populate_risk(redisContext *c)
{
    cmd(c, "ZADD t[1]:at_risk 0.7712 c-8 0.9559 c-7 0.7 c-9");
    cmd(c, "HSET t[1]:customer:c-7 stage buyer clv 80.25 risk 0.9559 risk_at 2026-03-01 "
           "last_seen 1770000000000 risk_reasons %s",
        "[{\"signal\":\"tickets\",\"value\":4,\"contribution\":0.3},"
        "{\"signal\":\"nps_detractor\",\"value\":2,\"contribution\":0.9},"
        "{\"signal\":\"low_csat\",\"value\":1,\"contribution\":0.3},"
        "{\"signal\":\"inactivity\",\"value\":40,\"contribution\":0.1}]");
    cmd(c, "HSET t[1]:customer:c-8 stage visitor clv 1250.5 clv_pred 2100.25 risk 0.7712 "
           "risk_at 2026-02-28 last_seen 1772360100123 risk_reasons %s",
        "[{\"signal\":\"payment_failed\",\"value\":3,\"contribution\":0.4},"
        "{\"signal\":\"inactivity\",\"value\":23,\"contribution\":0.6187}]");
    static const char *const kinds[NALERTS] = { "churn_risk", "churned", "digest",
                                                "churn_risk" };
    static const char *const customers[NALERTS] = { "c-8", "c-7", "", "c-7" };
    static const char *const risks[NALERTS] = { "0.7712", "0.9559", "", "0.9559" };
    for (size_t i = 0; i < NALERTS; i++) {
        char id[16], alert_id[40];
        snprintf(id, sizeof(id), "%zu-1", i + 1);
        snprintf(alert_id, sizeof(alert_id), "%031d%c", 0, (char)('a' + i));
        cmd(c, "XADD t[1]:alerts MAXLEN ~ 1000 %s alert_id %s kind %s customer_id %s risk %s json %s",
            id, alert_id, kinds[i], customers[i], risks[i], alert_json[i]);
    }
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
    populate_risk(c);
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

    /* JSON numbers, exactly the stored text */
    out = run(0, "-c", F.config, "--json", "days", "--last", "3", NULL);
    assert_string_equal(out,
                        "[\n"
                        "  {\"date\": \"2026-02-28\", \"orders\": 3, \"revenue\": 49.9, \"new_customers\": 1, "
                        "\"churned\": 0, \"active_customers\": 7, \"customers_eod\": 3},\n"
                        "  {\"date\": \"2026-03-01\", \"orders\": 5, \"revenue\": 1164.6, \"new_customers\": 0, "
                        "\"churned\": 1, \"active_customers\": 9, \"customers_eod\": 2},\n"
                        "  {\"date\": \"2026-03-02\", \"customers_eod\": 2}\n"
                        "]\n");
    json_t *doc = parse(out);
    assert_int_equal(json_array_size(doc), 3);
    json_t *d0 = json_array_get(doc, 0), *d2 = json_array_get(doc, 2);
    assert_true(json_is_real(json_object_get(d0, "revenue")));
    assert_int_equal(json_integer_value(json_object_get(d0, "active_customers")), 7);
    assert_int_equal(json_object_size(d0), 7); /* date and the six counters */
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
    assert_string_equal(out, "clmctl: a command is needed (kpi, customer, stages, days, at-risk, alerts, refit, "
                             "rebuild-view or forget)\n"
                             "Try 'clmctl --help'.\n");
    free(out);
    out = run(2, "forget", NULL);
    assert_string_equal(out, "clmctl: forget needs a customer ID\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "--topic", "t", "forget", "c-1", NULL);
    assert_string_equal(out, "clmctl: --topic goes after the forget command\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "kpi", "--brokers", "b:9092", NULL);
    assert_string_equal(out, "clmctl: --brokers goes after the forget command\nTry 'clmctl --help'.\n");
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

/* ---- at-risk ------------------------------------------------------------- */

/* Highest risk first; c-7's reasons by contribution, the equal tickets and
 * low_csat in their stored order, inactivity (the fourth) left out; c-9 has
 * no hash. Widths: rank 4, customer 8, risk 6, stage 7 (visitor), clv 6
 * (1250.5), clv_pred 8, last_seen 10; rank, risk and money right-aligned.
 * last_seen 1770000000000 is 2026-02-02, 1772360100123 2026-03-01 (see
 * test_customer). */
static void test_at_risk_table(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "at-risk", NULL);
    assert_string_equal(out,
                        "rank  customer    risk  stage       clv  clv_pred  last_seen   reasons\n"
                        "   1  c-7       0.9559  buyer     80.25         -  2026-02-02  "
                        "nps_detractor 0.90, tickets 0.30, low_csat 0.30\n"
                        "   2  c-8       0.7712  visitor  1250.5   2100.25  2026-03-01  "
                        "inactivity 0.62, payment_failed 0.40\n"
                        "   3  c-9       0.7000  -             -         -  -           -\n");
    free(out);

    out = run(0, "-c", F.config, "at-risk", "--top", "1", NULL);
    assert_string_equal(out,
                        "rank  customer    risk  stage    clv  clv_pred  last_seen   reasons\n"
                        "   1  c-7       0.9559  buyer  80.25         -  2026-02-02  "
                        "nps_detractor 0.90, tickets 0.30, low_csat 0.30\n");
    free(out);
}

/* Risk as a number of 4 decimals (Redis returns the score 0.9559 as
 * 0.95589999999999997), hash fields as stored, null where absent, every
 * reason sorted. */
static void test_at_risk_json(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "at-risk", "--json", NULL);
    assert_string_equal(out, "[\n"
                             "  {\n"
                             "    \"customer_id\": \"c-7\",\n"
                             "    \"risk\": 0.9559,\n"
                             "    \"stage\": \"buyer\",\n"
                             "    \"clv\": \"80.25\",\n"
                             "    \"clv_pred\": null,\n"
                             "    \"last_seen\": \"1770000000000\",\n"
                             "    \"risk_at\": \"2026-03-01\",\n"
                             "    \"reasons\": [\n"
                             "      {\n"
                             "        \"signal\": \"nps_detractor\",\n"
                             "        \"value\": 2,\n"
                             "        \"contribution\": 0.9\n"
                             "      },\n"
                             "      {\n"
                             "        \"signal\": \"tickets\",\n"
                             "        \"value\": 4,\n"
                             "        \"contribution\": 0.3\n"
                             "      },\n"
                             "      {\n"
                             "        \"signal\": \"low_csat\",\n"
                             "        \"value\": 1,\n"
                             "        \"contribution\": 0.3\n"
                             "      },\n"
                             "      {\n"
                             "        \"signal\": \"inactivity\",\n"
                             "        \"value\": 40,\n"
                             "        \"contribution\": 0.1\n"
                             "      }\n"
                             "    ]\n"
                             "  },\n"
                             "  {\n"
                             "    \"customer_id\": \"c-8\",\n"
                             "    \"risk\": 0.7712,\n"
                             "    \"stage\": \"visitor\",\n"
                             "    \"clv\": \"1250.5\",\n"
                             "    \"clv_pred\": \"2100.25\",\n"
                             "    \"last_seen\": \"1772360100123\",\n"
                             "    \"risk_at\": \"2026-02-28\",\n"
                             "    \"reasons\": [\n"
                             "      {\n"
                             "        \"signal\": \"inactivity\",\n"
                             "        \"value\": 23,\n"
                             "        \"contribution\": 0.6187\n"
                             "      },\n"
                             "      {\n"
                             "        \"signal\": \"payment_failed\",\n"
                             "        \"value\": 3,\n"
                             "        \"contribution\": 0.4\n"
                             "      }\n"
                             "    ]\n"
                             "  },\n"
                             "  {\n"
                             "    \"customer_id\": \"c-9\",\n"
                             "    \"risk\": 0.7,\n"
                             "    \"stage\": null,\n"
                             "    \"clv\": null,\n"
                             "    \"clv_pred\": null,\n"
                             "    \"last_seen\": null,\n"
                             "    \"risk_at\": null,\n"
                             "    \"reasons\": []\n"
                             "  }\n"
                             "]\n");
    free(out);
}

/* A prefix with no keys: nobody at risk, no alerts; not an error. */
static void test_at_risk_empty(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(0, "-c", F.config, "--prefix", "e:", "at-risk", NULL);
    assert_string_equal(out, "no customer is at or above the alert threshold (e:at_risk is empty)\n");
    free(out);
    out = run(0, "-c", F.config, "--prefix", "e:", "--json", "at-risk", NULL);
    assert_string_equal(out, "[]\n");
    free(out);
    out = run(0, "-c", F.config, "--prefix", "e:", "alerts", NULL);
    assert_string_equal(out, "no alerts (e:alerts is empty)\n");
    free(out);
    out = run(0, "-c", F.config, "--prefix", "e:", "alerts", "--json", NULL);
    assert_string_equal(out, "");
    free(out);
}

/* ---- alerts -------------------------------------------------------------- */

static const char *const alert_line[] = {
    "2026-03-01T09:00:00.000Z  churn_risk  c-8  risk 0.4100 -> 0.7712  stage visitor  clv 1250.5  "
    "inactivity 0.62, payment_failed 0.40\n",
    /* previous_risk is shown for churn_risk only; no reasons */
    "2026-03-01T10:00:01.500Z  churned  c-7  risk 0.9559  stage churned  clv 80\n",
    "2026-03-01T11:00:00.000Z  digest  partition 2  3 held from 2026-03-01T10:59:00.000Z to "
    "2026-03-01T11:00:00.000Z: c-1 (churn_risk 0.7500) c-2 (churned 0.8125) and 1 more\n",
    "2026-03-02T08:30:00.250Z  churn_risk  c-7  risk 0.6000 -> 0.9559  stage buyer  clv 80.25  "
    "nps_detractor 0.90, tickets 0.30, low_csat 0.30\n",
};

static void test_alerts(void **state)
{
    (void)state;
    char *out = NULL, expect[2048];
    out = run(0, "-c", F.config, "alerts", NULL);
    snprintf(expect, sizeof(expect), "%s%s%s%s", alert_line[0], alert_line[1], alert_line[2],
             alert_line[3]);
    assert_string_equal(out, expect);
    free(out);

    /* the last two, still oldest first */
    out = run(0, "-c", F.config, "alerts", "--count", "2", NULL);
    snprintf(expect, sizeof(expect), "%s%s", alert_line[2], alert_line[3]);
    assert_string_equal(out, expect);
    free(out);
}

/* JSON lines: the stored json fields verbatim. */
static void test_alerts_json(void **state)
{
    (void)state;
    char *out = NULL, expect[4096];
    out = run(0, "-c", F.config, "--json", "alerts", "--count", "3", NULL);
    snprintf(expect, sizeof(expect), "%s\n%s\n%s\n", alert_json[1], alert_json[2], alert_json[3]);
    assert_string_equal(out, expect);
    free(out);
}

static void test_alerts_bad_data(void **state)
{
    (void)state;
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    cmd(c, "XADD bad:alerts 1-1 kind churned customer_id c-1");
    cmd(c, "ZADD bad:at_risk 0.8 c-1");
    cmd(c, "HSET bad:customer:c-1 risk_reasons %s", "[{\"signal\":\"inactivity\"}]");
    cmd(c, "ZADD bad2:at_risk 1.5 c-1");
    redisFree(c);

    char *out = NULL;
    out = run(1, "-c", F.config, "--prefix", "bad:", "alerts", NULL);
    assert_string_equal(out, "clmctl: bad:alerts: entry 1-1 has no json field\n");
    free(out);
    out = run(1, "-c", F.config, "--prefix", "bad:", "at-risk", NULL);
    assert_string_equal(out, "clmctl: bad:customer:c-1: risk_reasons is not a JSON array of "
                             "{\"signal\", \"contribution\"}: [{\"signal\":\"inactivity\"}]\n");
    free(out);
    out = run(1, "-c", F.config, "--prefix", "bad2:", "at-risk", NULL);
    assert_string_equal(out, "clmctl: bad2:at_risk: score \"1.5\" of c-1 is not a risk 0..1\n");
    free(out);
}

/* ---- hostile data -------------------------------------------------------- */

/* A producer of events chooses customer ids: one with ESC sequences (clear
 * screen, a C1 CSI, an invalid byte), a newline that would forge a row and a
 * right-to-left override. Tables print them escaped: \e, \n, \xNN for the
 * invalid byte, \u{NNNN} for C1 and bidi controls, \\ for a backslash; the
 * customer column is 45 wide, the escaped text's length. */
static void test_table_escapes(void **state)
{
    (void)state;
    static const char id[] = "c\x1b[2J\n   2  forged\x9b\xc2\x9b[1m\xe2\x80\xae\\";
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    cmd(c, "ZADD h:at_risk 0.8 %b", id, sizeof(id) - 1);
    cmd(c, "HSET h:customer:%b stage %s clv 1 last_seen 1770000000000 risk_reasons []", id,
        sizeof(id) - 1, "buyer\r\t\x7f");
    redisFree(c);

    char *out = NULL;
    out = run(0, "-c", F.config, "--prefix", "h:", "at-risk", NULL);
    assert_string_equal(out,
                        "rank  customer                                         risk  stage          "
                        "clv  clv_pred  last_seen   reasons\n"
                        "   1  c\\e[2J\\n   2  forged\\x9B\\u{009B}[1m\\u{202E}\\\\  0.8000  "
                        "buyer\\r\\t\\x7F    1         -  2026-02-02  -\n");
    free(out);

    char arg[64];
    memcpy(arg, id, sizeof(id));
    out = run(0, "-c", F.config, "--prefix", "h:", "customer", arg, NULL);
    assert_non_null(strstr(out, "stage         buyer\\r\\t\\x7F\n"));
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\r'));
    free(out);

    /* alert lines too: the id and stage come from the stored document */
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    cmd(c, "XADD h:alerts 1-1 json {\"kind\":\"churn_risk\",\"customer_id\":\"c\\u001b[2J\\nforged\","
           "\"risk\":0.8,\"stage\":\"b\\u202e\",\"emitted_at\":\"2026-02-02T00:00:00Z\"}");
    redisFree(c);
    out = run(0, "-c", F.config, "--prefix", "h:", "alerts", NULL);
    assert_string_equal(out, "2026-02-02T00:00:00Z  churn_risk  c\\e[2J\\nforged  risk 0.8000  stage "
                             "b\\u{202E}\n");
    free(out);
}

typedef struct log_wait {
    const char *path;
    const char *text;
} log_wait;

/* Whether the log holds exactly the expected text (so far). */
static bool log_is(void *arg)
{
    const log_wait *w = arg;
    char buf[8192];
    FILE *f = fopen(w->path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, w->text) == 0;
}

/* Starts clmctl with argv (after the binary, NULL-terminated) logging to
 * path. */
static harness_proc *spawn(const char *path, const char *const *args)
{
    const char *argv[32] = { clmctl_bin() };
    size_t n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    harness_proc *p = NULL;
    unlink(path);
    CHECK(harness_proc_spawn(argv, path, &p, errbuf, sizeof(errbuf)));
    return p;
}

/* --tail --count 1 --max 2: the newest entry, then the first two of three
 * added together after it was printed; the third is never printed, and
 * clmctl exits 0 by itself. */
static void test_alerts_tail_max(void **state)
{
    (void)state;
    redisContext *c = NULL;
    char log[PATH_MAX + 32], expect[4096];
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    cmd(c, "XADD tl:alerts 1-1 json %s", alert_json[0]);
    cmd(c, "XADD tl:alerts 2-1 json %s", alert_json[1]);
    snprintf(log, sizeof(log), "%s/tail-max.log", F.dir);
    const char *args[] = { "-c",    F.config, "--prefix", "tl:", "--json", "alerts", "--tail",
                           "--count", "1",    "--max",    "2",   NULL };
    harness_proc *p = spawn(log, args);

    snprintf(expect, sizeof(expect), "%s\n", alert_json[1]);
    log_wait w = { log, expect };
    if (harness_wait_until(log_is, &w, 10000) < 0)
        fail_msg("clmctl did not print the newest alert; log:\n%s", slurp(log));
    /* one transaction: all three are there when the blocked read returns */
    cmd(c, "MULTI");
    cmd(c, "XADD tl:alerts 3-1 json %s", alert_json[2]);
    cmd(c, "XADD tl:alerts 4-1 json %s", alert_json[3]);
    cmd(c, "XADD tl:alerts 5-1 json %s", alert_json[0]);
    cmd(c, "EXEC");
    CHECK(harness_proc_expect_exit(p, 10000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    redisFree(c);

    char *out = slurp(log);
    snprintf(expect, sizeof(expect), "%s\n%s\n%s\n", alert_json[1], alert_json[2], alert_json[3]);
    assert_string_equal(out, expect);
    free(out);
    unlink(log);
}

/* --tail without --max runs until SIGTERM or SIGINT and then exits 0: first
 * on an empty stream (the entry added is followed), then with that entry
 * already there (printed as the latest). */
static void test_alerts_tail_signal(void **state)
{
    (void)state;
    static const char one[] = "{\"alert_id\":\"0000000000000000000000000000000e\","
                              "\"kind\":\"suppressed_summary\",\"suppressed\":1,"
                              "\"since\":\"2026-03-02T09:00:00.000Z\","
                              "\"emitted_at\":\"2026-03-02T10:00:00.000Z\"}";
    static const char line[] = "2026-03-02T10:00:00.000Z  suppressed_summary  1 alert suppressed "
                               "since 2026-03-02T09:00:00.000Z\n";
    const int sigs[] = { SIGTERM, SIGINT };
    redisContext *c = NULL;
    char log[PATH_MAX + 32];
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    snprintf(log, sizeof(log), "%s/tail-signal.log", F.dir);
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = { "-c", F.config, "--prefix", "ts:", "alerts", "--tail", NULL };
        harness_proc *p = spawn(log, args);
        if (i == 0)
            cmd(c, "XADD ts:alerts 1-1 json %s", one);
        log_wait w = { log, line };
        if (harness_wait_until(log_is, &w, 10000) < 0)
            fail_msg("clmctl did not print the alert; log:\n%s", slurp(log));
        CHECK(harness_proc_signal(p, sigs[i]));
        CHECK(harness_proc_expect_exit(p, 5000, 0, errbuf, sizeof(errbuf)));
        harness_proc_free(p);
        char *out = slurp(log);
        assert_string_equal(out, line);
        free(out);
    }
    redisFree(c);
    unlink(log);
}

static void test_at_risk_alerts_usage(void **state)
{
    (void)state;
    char *out = NULL;
    out = run(2, "-c", F.config, "at-risk", "--top", "0", NULL);
    assert_string_equal(out, "clmctl: --top: \"0\" is not a number 1..10000\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "--top", "3", "at-risk", NULL);
    assert_string_equal(out, "clmctl: --top goes after the at-risk command\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "alerts", "--count", "10001", NULL);
    assert_string_equal(out,
                        "clmctl: --count: \"10001\" is not a number 1..10000\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "alerts", "--max", "2", NULL);
    assert_string_equal(out, "clmctl: --max goes with --tail\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "at-risk", "--tail", NULL);
    assert_string_equal(out, "clmctl: --tail goes after the alerts command\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "alerts", "--follow", NULL);
    assert_string_equal(out, "clmctl: unknown option --follow\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "alerts", "--tail", "--max", NULL);
    assert_string_equal(out, "clmctl: --max needs a value\nTry 'clmctl --help'.\n");
    free(out);
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
        cmocka_unit_test(test_at_risk_table),
        cmocka_unit_test(test_at_risk_json),
        cmocka_unit_test(test_at_risk_empty),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_alerts_json),
        cmocka_unit_test(test_alerts_bad_data),
        cmocka_unit_test(test_alerts_tail_max),
        cmocka_unit_test(test_alerts_tail_signal),
        cmocka_unit_test(test_at_risk_alerts_usage),
        cmocka_unit_test(test_table_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
