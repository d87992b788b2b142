/* tests/test-model-e2e.c - BG/NBD and Gamma-Gamma fitted by clmd on the
 * stream, against the published CDNOW results.
 *
 * The CDNOW sample's calibration rows (tests/data/cdnow, up to 1997-09-30)
 * become purchase events (customer_id = sample id, amount = dollar value as
 * written in the file, ts at noon UTC of the row's date, one event_id per
 * row), produced in date order into the Kafka mock cluster, followed by a
 * visit of a customer who never buys at 1997-09-30T23:59:59Z. clmd (a child
 * process, events.allowed_lateness_s 0) consumes them into a real
 * redis-server, so the model's now is 1997-09-30 and T = (1997-09-30 - first
 * purchase day) / 7 weeks, the papers' convention.
 *   cdnow_fit       `clmctl refit --wait`; then <prefix>model holds
 *                   r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and
 *                   p = 6.25, q = 3.74, gamma = 15.44 to the printed digits
 *                   (|fitted - published| < 0.005), 2357 customers, 946
 *                   repeat customers; every customer's p_alive,
 *                   expected_purchases_52, expected_spend and clv_model equal
 *                   core/bgnbd.h and core/gammagamma.h evaluated here on that
 *                   customer's own x, t_x, T, m_x, worked out from the raw
 *                   rows; their sum is clv_model_sum in <prefix>model and in
 *                   the KPI hashes.
 *   failed_refit    clmd restarted with model.min_customers 5000: the refit
 *                   fails ("too few customers"), `clmctl refit --wait` exits
 *                   1 saying why, and the parameters stay those of the last
 *                   good fit.
 * The suite fails (never skips) when redis-server, clmd or clmctl cannot be
 * started.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/bgnbd.h"
#include "core/gammagamma.h"
#include "core/timeutil.h"
#include "tests/harness.h"

#define CDNOW_PATH CLM_TEST_DATA_DIR "/cdnow/CDNOW_sample.txt"
#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define PARTITIONS 4
#define CUSTOMERS 2357
#define HORIZON 52

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* ---- the CDNOW calibration rows ------------------------------------------ */

typedef struct row {
    char id[8];        /* sample id as written, "0001" */
    int64_t day;       /* UTC day number */
    int64_t micros;    /* dollar value in micro-units */
    char amount[24];   /* dollar value as written */
} row;

/* One customer's summary worked out from the rows, as in the data README. */
typedef struct cust {
    char id[8];
    int64_t first, last;  /* purchase days */
    int64_t x;            /* distinct days - 1 */
    int64_t first_micros, repeat_micros;
} cust;

typedef struct fixture {
    char tmp[64];
    row *rows;
    size_t nrows;
    cust *cust;
    size_t ncust;
    harness_kafka *kafka;
    harness_redis *redis;
    char cfg[128];
    size_t total; /* messages produced */
} fixture;

static fixture F;

static int64_t end_day(void)
{
    return clm_days_from_civil(1997, 9, 30);
}

static void load_rows(void)
{
    FILE *f = fopen(CDNOW_PATH, "r");
    assert_non_null(f);
    size_t cap = 8192;
    F.rows = calloc(cap, sizeof(*F.rows));
    F.cust = calloc(CUSTOMERS + 1, sizeof(*F.cust));
    assert_true(F.rows && F.cust);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char master[16], id[16], amount[24];
        long date, cds;
        assert_int_equal(sscanf(line, "%15s %15s %ld %ld %23s", master, id, &date, &cds, amount), 5);
        if (date > 19970930)
            continue;
        assert_true(F.nrows < cap && strlen(id) < sizeof(F.rows[0].id));
        row *r = &F.rows[F.nrows++];
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(r->amount, sizeof(r->amount), "%s", amount);
        r->day = clm_days_from_civil(date / 10000, (unsigned)(date / 100 % 100), (unsigned)(date % 100));
        r->micros = llround(strtod(amount, NULL) * 1e6);
        /* rows are grouped by customer, dates ascending */
        cust *c = F.ncust ? &F.cust[F.ncust - 1] : NULL;
        if (!c || strcmp(c->id, id) != 0) {
            assert_true(F.ncust < CUSTOMERS);
            c = &F.cust[F.ncust++];
            snprintf(c->id, sizeof(c->id), "%s", id);
            c->first = c->last = r->day;
            c->first_micros = r->micros;
        } else if (r->day == c->first) {
            c->first_micros += r->micros;
        } else {
            assert_true(r->day >= c->last);
            c->x += r->day > c->last;
            c->last = r->day;
            c->repeat_micros += r->micros;
        }
    }
    fclose(f);
    assert_int_equal(F.ncust, CUSTOMERS);
}

static int by_day(const void *a, const void *b)
{
    const row *x = *(const row *const *)a, *y = *(const row *const *)b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x < y ? -1 : x > y; /* the file's order within a day */
}

/* ---- running clmd and clmctl --------------------------------------------- */

static const char *bin(const char *var, const char *def)
{
    const char *p = getenv(var);
    return p ? p : def;
}

typedef struct progress {
    redisContext *c;
    long long want;
} progress;

static bool consumed_all(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(p->c, "clm:stats", "consumed") >= p->want;
}

static void write_config(int min_customers)
{
    snprintf(F.cfg, sizeof(F.cfg), "%s/clmd.json", F.tmp);
    FILE *f = fopen(F.cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"kpi\": {\"refresh_ms\": 100},\n"
            " \"events\": {\"allowed_lateness_s\": 0},\n"
            " \"model\": {\"min_customers\": %d}}\n",
            harness_kafka_bootstraps(F.kafka), harness_redis_port(F.redis), min_customers);
    fclose(f);
}

static harness_proc *start_clmd(const char *log)
{
    const char *argv[] = { bin("CLMD_BIN", "clmd"), "-c", F.cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    return p;
}

static void stop_clmd(harness_proc *p)
{
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

/* Runs `clmctl -c <cfg> refit --wait`, expecting exit status `code`; its
 * output goes to log. */
static void clmctl_refit(const char *log, int code)
{
    const char *argv[] = { bin("CLMCTL_BIN", "clmctl"), "-c", F.cfg, "refit", "--wait", NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    if (harness_proc_expect_exit(p, 120000, code, errbuf, sizeof(errbuf)) < 0)
        fail_msg("clmctl refit --wait: %s (output: %s)", errbuf, log);
    harness_proc_free(p);
}

/* Prints text as TAP comment lines. */
static void print_comment(const char *what, const char *text)
{
    printf("# %s:\n", what);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("#   %.*s\n", len, p);
        p += len + (nl != NULL);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- reading the results ------------------------------------------------- */

typedef struct model {
    char status[16], last_error[256], now_day[16];
    clm_bgnbd_params bg;
    clm_gg_params gg;
    double bgnbd_ll, gg_ll;
    long long customers, repeat_customers, unit_days;
    char clv_sum[32], clv_avg[32];
} model;

static void read_model(redisContext *c, model *m)
{
    *m = (model){ .customers = -1 };
    redisReply *r = redisCommand(c, "HGETALL clm:model");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;
        double d = strtod(v, NULL);
        if (!strcmp(f, "status"))
            snprintf(m->status, sizeof(m->status), "%s", v);
        else if (!strcmp(f, "last_error"))
            snprintf(m->last_error, sizeof(m->last_error), "%s", v);
        else if (!strcmp(f, "now_day"))
            snprintf(m->now_day, sizeof(m->now_day), "%s", v);
        else if (!strcmp(f, "clv_model_sum"))
            snprintf(m->clv_sum, sizeof(m->clv_sum), "%s", v);
        else if (!strcmp(f, "clv_model_avg"))
            snprintf(m->clv_avg, sizeof(m->clv_avg), "%s", v);
        else if (!strcmp(f, "r"))
            m->bg.r = d;
        else if (!strcmp(f, "alpha"))
            m->bg.alpha = d;
        else if (!strcmp(f, "a"))
            m->bg.a = d;
        else if (!strcmp(f, "b"))
            m->bg.b = d;
        else if (!strcmp(f, "p"))
            m->gg.p = d;
        else if (!strcmp(f, "q"))
            m->gg.q = d;
        else if (!strcmp(f, "gamma"))
            m->gg.gamma = d;
        else if (!strcmp(f, "bgnbd_ll"))
            m->bgnbd_ll = d;
        else if (!strcmp(f, "gg_ll"))
            m->gg_ll = d;
        else if (!strcmp(f, "customers"))
            m->customers = atoll(v);
        else if (!strcmp(f, "repeat_customers"))
            m->repeat_customers = atoll(v);
        else if (!strcmp(f, "unit_days"))
            m->unit_days = atoll(v);
    }
    freeReplyObject(r);
}

/* |round(v, digits) - published| < 0.005: the value as the papers print it. */
static void expect_printed(const char *name, double v, int digits, double published)
{
    double scale = pow(10, digits), printed = round(v * scale) / scale;
    printf("# %s = %.6f (printed %.*f, published %.*f)\n", name, v, digits, printed, digits, published);
    if (!(fabs(printed - published) < 0.005))
        fail_msg("%s = %.6f, published %.*f", name, v, digits, published);
}

/* A stored prediction (micro-units, rounded) against the value computed here. */
static int mismatches;

static void expect_prediction(const char *id, const char *field, const redisReply *got, double want)
{
    if (got->type != REDIS_REPLY_STRING || !isfinite(want) ||
        fabs(strtod(got->str, NULL) - want) > 0.5e-6 + 1e-9 * fabs(want)) {
        if (mismatches++ < 20)
            printf("# customer %s %s: stored %s, computed %.9f\n", id, field,
                   got->type == REDIS_REPLY_STRING ? got->str : "(none)", want);
    }
}

/* ---- the tests ----------------------------------------------------------- */

static void cdnow_fit(void **state)
{
    (void)state;
    char log[128], out[128];
    snprintf(log, sizeof(log), "%s/clmd.log", F.tmp);
    snprintf(out, sizeof(out), "%s/refit.out", F.tmp);
    write_config(100);
    harness_proc *p = start_clmd(log);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    progress pr = { .c = c, .want = (long long)F.total };
    if (harness_wait_until(consumed_all, &pr, 60000) < 0)
        fail_msg("clmd consumed %lld of %zu messages within 60 s (log: %s)",
                 harness_redis_hget_int(c, "clm:stats", "consumed"), F.total, log);
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "applied"), (long long)F.total);
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "rejected"), 0);
    /* before any refit: a fresh start writes no model */
    redisReply *r = redisCommand(c, "EXISTS clm:model");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);

    clmctl_refit(out, 0);
    print_comment("clmctl refit --wait", read_file(out));
    model m;
    read_model(c, &m);
    assert_string_equal(m.status, "ok");
    assert_string_equal(m.now_day, "1997-09-30");
    assert_int_equal(m.unit_days, 7);
    assert_int_equal(m.customers, CUSTOMERS);
    assert_int_equal(m.repeat_customers, 946);
    expect_printed("r", m.bg.r, 3, 0.243);
    expect_printed("alpha", m.bg.alpha, 3, 4.414);
    expect_printed("a", m.bg.a, 3, 0.793);
    expect_printed("b", m.bg.b, 3, 2.426);
    expect_printed("p", m.gg.p, 2, 6.25);
    expect_printed("q", m.gg.q, 2, 3.74);
    expect_printed("gamma", m.gg.gamma, 2, 15.44);
    /* published log-likelihoods -9582.43 and -4055.92 */
    printf("# bgnbd_ll = %.4f, gg_ll = %.4f\n", m.bgnbd_ll, m.gg_ll);
    assert_true(fabs(m.bgnbd_ll - -9582.43) < 0.01);
    assert_true(fabs(m.gg_ll - -4055.92) < 0.01);

    /* every customer: the stored predictions against the formulas evaluated
     * here on the customer's own summary */
    clm_clv_opts o = { .margin = 1.0, .annual_discount = 0.1,
                       .periods_per_year = 365.2425 / 7, .horizon = HORIZON };
    for (size_t i = 0; i < F.ncust; i++)
        redisAppendCommand(c, "HMGET clm:customer:%s p_alive expected_purchases_52 "
                              "expected_spend clv_model repeat_days first_purchase_day "
                              "last_purchase_day", F.cust[i].id);
    mismatches = 0;
    int64_t clv_sum = 0;
    size_t one_timers = 0;
    for (size_t i = 0; i < F.ncust; i++) {
        const cust *k = &F.cust[i];
        redisReply *h;
        assert_int_equal(redisGetReply(c, (void **)&h), REDIS_OK);
        assert_int_equal(h->type, REDIS_REPLY_ARRAY);
        double x = (double)k->x, t_x = (double)(k->last - k->first) / 7.0,
               T = (double)(end_day() - k->first) / 7.0,
               m_x = k->x ? (double)k->repeat_micros / 1e6 / (double)k->x : 0.0;
        expect_prediction(k->id, "p_alive", h->element[0], clm_bgnbd_p_alive(&m.bg, x, t_x, T));
        expect_prediction(k->id, "expected_purchases_52", h->element[1],
                     clm_bgnbd_expected_purchases(&m.bg, HORIZON, x, t_x, T));
        expect_prediction(k->id, "expected_spend", h->element[2], clm_gg_expected_spend(&m.gg, x, m_x));
        expect_prediction(k->id, "clv_model", h->element[3],
                     clm_clv_discounted(&m.bg, &m.gg, x, t_x, T, m_x, &o));
        char want[16];
        snprintf(want, sizeof(want), "%lld", (long long)k->x);
        if (h->element[4]->type != REDIS_REPLY_STRING || strcmp(h->element[4]->str, want) != 0)
            fail_msg("customer %s: repeat_days is not %s", k->id, want);
        if (k->x == 0) {
            /* one-time buyers: P(alive) = 1 under BG/NBD */
            assert_int_equal(h->element[0]->type, REDIS_REPLY_STRING);
            assert_string_equal(h->element[0]->str, "1");
            one_timers++;
        }
        if (h->element[3]->type == REDIS_REPLY_STRING)
            clv_sum += llround(strtod(h->element[3]->str, NULL) * 1e6);
        if (i == 0) {
            /* 0001: the papers' example customer, x = 2, t_x = 30.43, T = 38.86 */
            assert_string_equal(k->id, "0001");
            assert_string_equal(h->element[5]->str, "1997-01-01");
            assert_string_equal(h->element[6]->str, "1997-08-02");
            printf("# customer 0001: p_alive %s, expected_purchases_52 %s, expected_spend %s, "
                   "clv_model %s\n", h->element[0]->str, h->element[1]->str, h->element[2]->str,
                   h->element[3]->str);
        }
        freeReplyObject(h);
    }
    if (mismatches)
        fail_msg("%d stored predictions differ from the formulas (first 20 above)", mismatches);
    assert_int_equal(one_timers, CUSTOMERS - 946);
    /* the sentinel visitor has no purchase and no prediction */
    r = redisCommand(c, "HEXISTS clm:customer:sentinel p_alive");
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);

    /* the portfolio: the sum of every customer's clv_model */
    printf("# clv_model_sum %s, clv_model_avg %s\n", m.clv_sum, m.clv_avg);
    assert_true(llabs(llround(strtod(m.clv_sum, NULL) * 1e6) - clv_sum) == 0);
    assert_true(fabs(strtod(m.clv_avg, NULL) - (double)clv_sum / 1e6 / CUSTOMERS) <= 0.5e-6 + 1e-9);
    /* and in the KPI hashes, put back within about a second of each rewrite */
    for (int waited = 0;; waited += 50) {
        redisReply *k = redisCommand(c, "HMGET clm:kpi:30d clv_model_sum clv_model_avg");
        assert_non_null(k);
        bool ok = k->element[0]->type == REDIS_REPLY_STRING &&
                  strcmp(k->element[0]->str, m.clv_sum) == 0 &&
                  k->element[1]->type == REDIS_REPLY_STRING &&
                  strcmp(k->element[1]->str, m.clv_avg) == 0;
        freeReplyObject(k);
        if (ok)
            break;
        if (waited > 5000)
            fail_msg("clm:kpi:30d lacks clv_model_sum %s after 5 s", m.clv_sum);
        struct timespec ts = { 0, 50000000L };
        nanosleep(&ts, NULL);
    }
    stop_clmd(p);
    redisFree(c);
}

static void failed_refit(void **state)
{
    (void)state;
    char log[128], out[128];
    snprintf(log, sizeof(log), "%s/clmd2.log", F.tmp);
    snprintf(out, sizeof(out), "%s/refit2.out", F.tmp);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.redis, &c, errbuf, sizeof(errbuf)));
    model before;
    read_model(c, &before);
    assert_string_equal(before.status, "ok"); /* cdnow_fit ran first */

    write_config(5000);
    harness_proc *p = start_clmd(log);
    clmctl_refit(out, 1);
    const char *said = read_file(out);
    print_comment("clmctl refit --wait", said);
    assert_non_null(strstr(said, "the fit failed: too few customers: 2357 with a purchase, "
                                 "model.min_customers is 5000"));
    model m;
    read_model(c, &m);
    assert_string_equal(m.status, "failed");
    assert_non_null(strstr(m.last_error, "too few customers"));
    /* the last good parameters stay */
    assert_true(m.bg.r == before.bg.r && m.bg.alpha == before.bg.alpha &&
                m.bg.a == before.bg.a && m.bg.b == before.bg.b);
    assert_true(m.gg.p == before.gg.p && m.gg.q == before.gg.q && m.gg.gamma == before.gg.gamma);
    assert_int_equal(m.customers, CUSTOMERS);
    stop_clmd(p);
    /* clmd said it used the stored fit on start */
    assert_non_null(strstr(read_file(log), "model: using the stored fit"));
    redisFree(c);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-model-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    load_rows();
    /* date order, then one visit of a customer without purchases, last */
    const row **order = calloc(F.nrows, sizeof(*order));
    harness_kv *msgs = calloc(F.nrows + 1, sizeof(*msgs));
    if (!order || !msgs)
        return -1;
    for (size_t i = 0; i < F.nrows; i++)
        order[i] = &F.rows[i];
    qsort(order, F.nrows, sizeof(*order), by_day);
    for (size_t i = 0; i <= F.nrows; i++) {
        char *v = malloc(256);
        if (!v)
            return -1;
        const char *key;
        if (i < F.nrows) {
            const row *r = order[i];
            int64_t y;
            unsigned mo, d;
            clm_civil_from_days(r->day, &y, &mo, &d);
            snprintf(v, 256,
                     "{\"event_id\":\"cdnow-%zu\",\"customer_id\":\"%s\",\"type\":\"purchase\","
                     "\"ts\":\"%04d-%02u-%02uT12:00:00Z\",\"amount\":%s}",
                     (size_t)(r - F.rows), r->id, (int)y, mo, d, r->amount);
            key = r->id;
        } else {
            snprintf(v, 256, "{\"event_id\":\"sentinel-1\",\"customer_id\":\"sentinel\","
                             "\"type\":\"visit\",\"ts\":\"1997-09-30T23:59:59Z\"}");
            key = "sentinel";
        }
        msgs[i] = (harness_kv){ .key = key, .key_len = strlen(key), .value = v,
                                .value_len = strlen(v) };
    }
    F.total = F.nrows + 1;
    int rc = -1;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, msgs, F.total, false, 60000,
                        errbuf, sizeof(errbuf)) < 0 ||
        harness_redis_start(&F.redis, errbuf, sizeof(errbuf)) < 0)
        fprintf(stderr, "# setup: %s\n", errbuf);
    else
        rc = 0;
    for (size_t i = 0; i < F.total; i++)
        free((void *)msgs[i].value);
    free(msgs);
    free(order);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    harness_redis_free(F.redis);
    harness_kafka_free(F.kafka);
    free(F.rows);
    free(F.cust);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cdnow_fit),
        cmocka_unit_test(failed_refit),
    };
    return cmocka_run_group_tests_name("model-e2e", tests, setup, teardown);
}
