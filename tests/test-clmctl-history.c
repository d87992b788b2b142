/* tests/test-clmctl-history.c - `clmctl kpi --history` and `clmctl days`
 * with a date range, chosen columns, CSV and JSON numbers, against a real
 * redis-server.
 *
 * The redis-server holds hand-made keys of the shapes clmd writes (README
 * "KPI history and cohorts", "KPIs"): three day hashes and a kpi:history
 * stream of three days, under the prefix "t[1]:"; clmctl runs as a child
 * process and every output is compared with text written out here. The
 * suite fails (never skips) when redis-server or clmctl cannot be started.
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

static struct {
    harness_redis *redis;
    char dir[PATH_MAX];
    char config[PATH_MAX + 32];
    int runs;
} F;

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

/* Runs clmctl with the arguments (NULL-terminated), checks its exit status
 * and returns its stdout and stderr together (free it). */
static char *run(int expect, ...)
{
    const char *bin = getenv("CLMCTL_BIN");
    const char *argv[32] = { bin ? bin : "clmctl" };
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
                 n > 3 ? argv[3] : "", st, expect, out);
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

/* 2026-02-27 is day 20511: 1772150400000 ms. The 02-27 entry has no aov
 * (no orders), the 02-28 one a conversion field. */
static void populate(redisContext *c)
{
    cmd(c, "XADD t[1]:kpi:history 1772150400000-0 date 2026-02-27 revenue 0 orders 0 "
           "new_customers 0 churned 0 churn_rate 0 customers_eod 2");
    cmd(c, "XADD t[1]:kpi:history 1772236800000-0 date 2026-02-28 revenue 49.9 orders 3 "
           "new_customers 1 churned 0 aov 16.633333 cpa 12.5 nps -33.3333 churn_rate 0 "
           "conv_visitor_buyer 0.5 customers_eod 3");
    cmd(c, "XADD t[1]:kpi:history 1772323200000-0 date 2026-03-01 revenue 1164.6 orders 5 "
           "new_customers 0 churned 1 aov 232.92 churn_rate 0.333333 retention_rate 0.666667 "
           "customers_eod 2");
    cmd(c, "HSET t[1]:day:2026-02-26 orders 2 revenue 20 new_customers 2 churned 0 "
           "active_customers 4 customers_eod 2 spend 25");
    cmd(c, "HSET t[1]:day:2026-02-27 orders 0 revenue 0 churned 0 active_customers 1 customers_eod 2");
    cmd(c, "HSET t[1]:day:2026-02-28 orders 3 revenue 49.9 new_customers 1 churned 0 "
           "active_customers 7 customers_eod 3 entered_buyer 1");
    cmd(c, "ZADD t[1]:buckets 20510 2026-02-26 20511 2026-02-27 20512 2026-02-28");
    /* a day whose stored value is not a number, under another prefix */
    cmd(c, "XADD bad:kpi:history 1772150400000-0 date 2026-02-27 revenue 12,5");
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(F.dir, sizeof(F.dir), "%s/clmctl-hist-XXXXXX", tmp && *tmp ? tmp : "/tmp");
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
    FILE *f = fopen(F.config, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"redis\": {\"port\": %d, \"prefix\": \"t[1]:\"},\n"
            " \"lifecycle\": {\"stages\": [\"visitor\", \"buyer\", \"churned\", \"reactivated\"],\n"
            "   \"rules\": [{\"on\": [\"visit\"], \"to\": \"visitor\"},\n"
            "             {\"on\": [\"purchase\"], \"to\": \"buyer\"},\n"
            "             {\"on\": [\"cancel\"], \"to\": \"churned\"},\n"
            "             {\"on\": \"*\", \"from\": [\"churned\"], \"to\": \"reactivated\"}]}}\n",
            harness_redis_port(F.redis));
    fclose(f);
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

/* ---- kpi --history ------------------------------------------------------ */

/* Widths: date 10; revenue 7 (its header); aov 9 (16.633333); nps 8
 * (-33.3333); conv_visitor_buyer 18 (its header). */
static void test_history_table(void **state)
{
    (void)state;
    char *out = run(0, "-c", F.config, "kpi", "--history", "--columns",
                    "revenue,aov,nps,conv_visitor_buyer", NULL);
    assert_string_equal(out,
                        "date        revenue        aov       nps  conv_visitor_buyer\n"
                        "2026-02-27        0          -         -                   -\n"
                        "2026-02-28     49.9  16.633333  -33.3333                 0.5\n"
                        "2026-03-01   1164.6     232.92         -                   -\n");
    free(out);
    /* the default columns, the last 1 day */
    out = run(0, "-c", F.config, "kpi", "--history", "--last", "1", "--csv", NULL);
    assert_string_equal(out,
                        "date,revenue,orders,new_customers,churned,aov,cpa,nps,csat,churn_rate,"
                        "retention_rate,customers_eod\n"
                        "2026-03-01,1164.6,5,0,1,232.92,,,,0.333333,0.666667,2\n");
    free(out);
}

static void test_history_range_csv(void **state)
{
    (void)state;
    char *out = run(0, "-c", F.config, "--csv", "kpi", "--history", "--from", "2026-02-28",
                    "--to", "2026-02-28", NULL);
    assert_string_equal(out,
                        "date,revenue,orders,new_customers,churned,aov,cpa,nps,csat,churn_rate,"
                        "retention_rate,customers_eod\n"
                        "2026-02-28,49.9,3,1,0,16.633333,12.5,-33.3333,,0,,3\n");
    free(out);
    /* a range wider than the stream: the days there are */
    out = run(0, "-c", F.config, "kpi", "--history", "--from", "2026-01-01", "--to", "2026-02-27",
              "--columns", "customers_eod", "--csv", NULL);
    assert_string_equal(out, "date,customers_eod\n2026-02-27,2\n");
    free(out);
    /* --to alone: --last days ending there */
    out = run(0, "-c", F.config, "kpi", "--history", "--to", "2026-02-28", "--last", "1",
              "--columns", "orders", "--csv", NULL);
    assert_string_equal(out, "date,orders\n2026-02-28,3\n");
    free(out);
}

static void test_history_json(void **state)
{
    (void)state;
    char *out = run(0, "-c", F.config, "--json", "kpi", "--history", "--from", "2026-02-28",
                    "--columns", "revenue,nps,retention_rate,customers_eod", NULL);
    assert_string_equal(out,
                        "[\n"
                        "  {\"date\": \"2026-02-28\", \"revenue\": 49.9, \"nps\": -33.3333, "
                        "\"customers_eod\": 3},\n"
                        "  {\"date\": \"2026-03-01\", \"revenue\": 1164.6, \"retention_rate\": 0.666667, "
                        "\"customers_eod\": 2}\n"
                        "]\n");
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    assert_non_null(doc);
    assert_true(json_is_real(json_object_get(json_array_get(doc, 0), "nps")));
    assert_true(json_is_integer(json_object_get(json_array_get(doc, 1), "customers_eod")));
    json_decref(doc);
    free(out);
}

static void test_history_errors(void **state)
{
    (void)state;
    char *out = run(1, "-c", F.config, "kpi", "--history", "--from", "2026-02-30", NULL);
    assert_string_equal(out, "clmctl: --from: \"2026-02-30\" is not a date (YYYY-MM-DD)\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--to", "28.02.2026", NULL);
    assert_string_equal(out, "clmctl: --to: \"28.02.2026\" is not a date (YYYY-MM-DD)\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--from", "2026-03-01", "--to", "2026-02-28",
              NULL);
    assert_string_equal(out, "clmctl: --from 2026-03-01 is after --to 2026-02-28\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--columns", "revenue,bogus", NULL);
    assert_string_equal(out,
                        "clmctl: --columns: unknown column \"bogus\" (valid: revenue, orders, "
                        "new_customers, churned, aov, cpa, nps, csat, csat_mean, churn_rate, "
                        "retention_rate, lead_to_customer, conv_visitor_buyer, lead_response_s, "
                        "avg_engagement_s, upsell_rate, repeat_purchase_rate, clv_lifetime_years, "
                        "clv_pred_avg, customers_eod)\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--columns", "orders,orders", NULL);
    assert_string_equal(out, "clmctl: --columns: column \"orders\" given twice\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--from", "2027-01-01", NULL);
    assert_string_equal(out,
                        "clmctl: no days in that range (there are days 2026-02-27 .. 2026-03-01)\n");
    free(out);
    out = run(1, "-c", F.config, "--prefix", "none:", "kpi", "--history", NULL);
    assert_string_equal(out, "clmctl: no KPI history in Redis yet (none:kpi:history is empty)\n");
    free(out);
    out = run(1, "-c", F.config, "--prefix", "bad:", "--json", "kpi", "--history", "--columns",
              "revenue", NULL);
    assert_string_equal(out,
                        "clmctl: bad:kpi:history: revenue of 2026-02-27 is \"12,5\", not a number\n");
    free(out);
    /* CSV quotes a value with a comma */
    out = run(0, "-c", F.config, "--prefix", "bad:", "--csv", "kpi", "--history", "--columns",
              "revenue", NULL);
    assert_string_equal(out, "date,revenue\n2026-02-27,\"12,5\"\n");
    free(out);
    /* usage errors */
    out = run(2, "-c", F.config, "--json", "--csv", "kpi", "--history", NULL);
    assert_string_equal(out, "clmctl: --json and --csv do not go together\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "kpi", "--from", "2026-02-28", NULL);
    assert_string_equal(out, "clmctl: --from, --to, --last, --columns and --csv go with kpi "
                             "--history\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "kpi", "--history", "--window", "7d", NULL);
    assert_string_equal(out,
                        "clmctl: --window and --history do not go together\nTry 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "stages", "--csv", NULL);
    assert_string_equal(out, "clmctl: --csv goes with the days and kpi --history commands\n"
                             "Try 'clmctl --help'.\n");
    free(out);
    out = run(2, "-c", F.config, "stages", "--from", "2026-02-28", NULL);
    assert_string_equal(out, "clmctl: --from goes after the days or kpi --history command\n"
                             "Try 'clmctl --help'.\n");
    free(out);
}

/* ---- days --------------------------------------------------------------- */

static void test_days_range(void **state)
{
    (void)state;
    char *out = run(0, "-c", F.config, "days", "--from", "2026-02-27", "--to", "2026-02-28",
                    "--columns", "orders,customers_eod,entered_buyer", NULL);
    assert_string_equal(out,
                        "date        orders  customers_eod  entered_buyer\n"
                        "2026-02-27       0              2              -\n"
                        "2026-02-28       3              3              1\n");
    free(out);
    out = run(0, "-c", F.config, "days", "--columns", "spend,revenue", "--csv", NULL);
    assert_string_equal(out, "date,spend,revenue\n2026-02-26,25,20\n2026-02-27,,0\n"
                             "2026-02-28,,49.9\n");
    free(out);
    out = run(0, "-c", F.config, "--json", "days", "--from", "2026-02-28", "--columns",
              "revenue,new_customers", NULL);
    assert_string_equal(out, "[\n  {\"date\": \"2026-02-28\", \"revenue\": 49.9, \"new_customers\": 1}\n]\n");
    free(out);
    /* 2000-01-01 .. 2026-01-01: 26 x 365 + 7 leap days + 1 */
    out = run(1, "-c", F.config, "days", "--from", "2000-01-01", "--to", "2026-01-01", NULL);
    assert_string_equal(out, "clmctl: --from .. --to spans 9498 days; at most 3650\n");
    free(out);
    out = run(1, "-c", F.config, "kpi", "--history", "--from", "2000-01-01", "--to",
              "2026-01-01", NULL);
    assert_string_equal(out, "clmctl: --from .. --to spans 9498 days; at most 3660\n");
    free(out);
    out = run(1, "-c", F.config, "days", "--columns", "aov", NULL);
    assert_non_null(strstr(out, "clmctl: --columns: unknown column \"aov\" (valid: revenue, refunds, "
                                "spend, session_seconds, customers_eod, new_leads,"));
    assert_non_null(strstr(out, ", entered_visitor, entered_buyer, entered_churned, "
                                "entered_reactivated, visitor_to_buyer)\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_table),
        cmocka_unit_test(test_history_range_csv),
        cmocka_unit_test(test_history_json),
        cmocka_unit_test(test_history_errors),
        cmocka_unit_test(test_days_range),
    };
    return cmocka_run_group_tests_name("clmctl-history", tests, setup, teardown);
}
