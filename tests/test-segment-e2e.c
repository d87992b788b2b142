/* tests/test-segment-e2e.c - RFM scores and segment membership end to end.
 *
 * A stream of visits and purchases of 60 customers (in time order) goes
 * through the Kafka mock cluster (in this process) and clmd (a child
 * process, rfm.refresh_s 1) into a real redis-server. Everything the
 * segment job writes is compared with values recomputed here from the raw
 * events, by code that shares nothing with core/:
 *   rfm_and_segments  once a pass has started after every event was
 *                     flushed: <prefix>rfm:bounds (exact quintiles), each
 *                     customer's r_score, f_score, m_score and rfm_segment,
 *                     each segment's members (<prefix>segment:<name>) and
 *                     size (<prefix>segments), and the day counters:
 *                     entered - left summed over the days = members;
 *                     `clmctl --json segments` shows the same sizes;
 *   reload_moves      the rule of "big" rewritten and clmd sent SIGHUP:
 *                     once the summary shows the new rule, the members are
 *                     the new computation, exactly the customers the change
 *                     drops left (the day's big:left grew by their number,
 *                     big:entered did not move), and no other segment
 *                     changed. "big" has notify: the alert topic holds one
 *                     segment_left per customer who left, and every
 *                     segment_entered names a member, once.
 *   restart_drops     clmd restarted without "browsers": its key and summary
 *                     fields are gone, the other segments and every day
 *                     counter are as they were.
 *   on_cluster        the same stream consumed by another group into a
 *                     Redis Cluster of 3 masters (tests/harness_cluster.h):
 *                     the same members, sizes, boundaries, view fields and
 *                     entered - left, read key by key.
 * The suite fails (never skips) when redis-server, the cluster or clmd
 * cannot be started.
 */
#include <jansson.h>
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

#include "net/redis_cluster.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define ALERTS "clm.alerts"
#define PARTITIONS 4
#define NCUST 60
#define DAY_MS 86400000LL
#define D0 20605 /* 2026-06-01 */

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* ---- the stream and what it adds up to ------------------------------------ */

typedef struct cust {
    char id[16];
    int64_t orders, revenue_micros, last_day, last_seen;
    int score[3];
    const char *seg;
} cust;

typedef struct fixture {
    char tmp[64];
    char cfg[128];
    harness_kafka *kafka;
    harness_redis *redis;
    harness_proc *clmd;
    redisContext *c;
    cust cust[NCUST];
    int64_t bounds[3][4];
    size_t buyers, total;
    int64_t now_ms;
} fixture;

static fixture F;

typedef struct ev {
    int64_t ts;
    int cust;
    int amount; /* 0: a visit */
} ev;

static int by_ts(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* Customer i visits on day D0 + i % 5 and buys i % 6 times, on day
 * D0 + 5 + (7i + 13k) % 50, for 5 + (13i + 7k) % 90 money units. */
static size_t make_events(ev *out)
{
    size_t n = 0;
    for (int i = 0; i < NCUST; i++) {
        out[n++] = (ev){.ts = (int64_t)(D0 + i % 5) * DAY_MS + 9 * 3600000LL + i * 1000, .cust = i};
        for (int k = 0; k < i % 6; k++)
            out[n++] = (ev){.ts = (int64_t)(D0 + 5 + (7 * i + 13 * k) % 50) * DAY_MS +
                                  12 * 3600000LL + i * 1000 + k,
                            .cust = i, .amount = 5 + (13 * i + 7 * k) % 90};
    }
    qsort(out, n, sizeof *out, by_ts);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The standard grid, R rows 5..1, F columns 1..5 (README "RFM scores"). */
static const char *grid(int r, int f)
{
    static const char *const g[5][5] = {
        {"New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"},
        {"Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"},
        {"About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"},
        {"Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"},
        {"Lost", "Hibernating", "At risk", "At risk", "Can't lose"},
    };
    return g[5 - r][f - 1];
}

static void compute(const ev *e, size_t n)
{
    for (int i = 0; i < NCUST; i++) {
        snprintf(F.cust[i].id, sizeof F.cust[i].id, "cust-%02d", i);
        F.cust[i].last_day = -1;
    }
    for (size_t k = 0; k < n; k++) {
        cust *c = &F.cust[e[k].cust];
        if (e[k].ts > c->last_seen)
            c->last_seen = e[k].ts;
        if (e[k].ts > F.now_ms)
            F.now_ms = e[k].ts;
        if (!e[k].amount)
            continue;
        c->orders++;
        c->revenue_micros += (int64_t)e[k].amount * 1000000;
        if (e[k].ts / DAY_MS > c->last_day)
            c->last_day = e[k].ts / DAY_MS;
    }
    int64_t v[3][NCUST];
    for (int i = 0; i < NCUST; i++)
        if (F.cust[i].orders) {
            v[0][F.buyers] = F.cust[i].last_day;
            v[1][F.buyers] = F.cust[i].orders;
            v[2][F.buyers++] = F.cust[i].revenue_micros;
        }
    for (int m = 0; m < 3; m++) {
        qsort(v[m], F.buyers, sizeof(int64_t), cmp_i64);
        for (size_t k = 1; k <= 4; k++) /* the greatest value of quintile k */
            F.bounds[m][k - 1] = v[m][(k * F.buyers + 4) / 5 - 1];
    }
    for (int i = 0; i < NCUST; i++) {
        cust *c = &F.cust[i];
        if (!c->orders)
            continue;
        int64_t x[3] = {c->last_day, c->orders, c->revenue_micros};
        for (int m = 0; m < 3; m++) {
            c->score[m] = 1;
            for (int k = 0; k < 4; k++)
                c->score[m] += F.bounds[m][k] < x[m];
        }
        c->seg = grid(c->score[0], c->score[1]);
    }
}

/* ---- the segments ---------------------------------------------------------- */

enum { S_BIG, S_LOYAL, S_REACTIVATE, S_ACTIVE, S_BROWSERS, NSEG };
static const char *const SEG[NSEG] = {"big", "loyal_rfm", "reactivate", "active_buyers",
                                      "browsers"};
static const char *const RULE[NSEG] = {
    "revenue >= 100",
    "rfm_segment in [\\\"Champions\\\", \\\"Loyal\\\"]",
    "rfm_segment in [\\\"At risk\\\", \\\"Hibernating\\\", \\\"Lost\\\", \\\"Can't lose\\\"]",
    "orders >= 2 and r_score >= 3",
    "orders == 0",
};
#define BIG_AFTER "revenue >= 150"

static bool seg_is(const cust *c, const char *a, const char *b, const char *d, const char *e)
{
    const char *s[4] = {a, b, d, e};
    for (int k = 0; k < 4; k++)
        if (c->seg && s[k] && strcmp(c->seg, s[k]) == 0)
            return true;
    return false;
}

static bool member(const cust *c, int s, bool reloaded)
{
    switch (s) {
    case S_BIG: return c->revenue_micros >= (reloaded ? 150 : 100) * 1000000LL;
    case S_LOYAL: return seg_is(c, "Champions", "Loyal", NULL, NULL);
    case S_REACTIVATE: return seg_is(c, "At risk", "Hibernating", "Lost", "Can't lose");
    case S_ACTIVE: return c->orders >= 2 && c->score[0] >= 3;
    default: return c->orders == 0;
    }
}

/* ---- running clmd ------------------------------------------------------------ */

static const char *bin(const char *var, const char *def)
{
    const char *p = getenv(var);
    return p ? p : def;
}

static bool without_browsers;

static void write_config(bool reloaded)
{
    FILE *f = fopen(F.cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"events\": {\"max_jump_s\": 0},\n"
            " \"rfm\": {\"refresh_s\": 1},\n"
            " \"segments\": [\n",
            harness_kafka_bootstraps(F.kafka), harness_redis_port(F.redis));
    int nseg = without_browsers ? S_BROWSERS : NSEG;
    for (int s = 0; s < nseg; s++)
        fprintf(f, "  {\"name\": \"%s\", \"rule\": \"%s\"%s}%s\n", SEG[s],
                s == S_BIG && reloaded ? BIG_AFTER : RULE[s],
                s == S_BIG ? ", \"notify\": true" : "", s + 1 < nseg ? "," : "");
    fprintf(f, " ]}\n");
    fclose(f);
}

typedef struct progress {
    long long want;
} progress;

static bool consumed_all(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(F.c, "clm:stats", "consumed") >= p->want;
}

static bool pass_reached(void *arg)
{
    return harness_redis_hget_int(F.c, "clm:segments", "pass") >= *(long long *)arg;
}

static bool outbox_empty(void *arg)
{
    (void)arg;
    redisReply *r = redisCommand(F.c, "HLEN clm:alerts:outbox");
    bool ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    return ok;
}

static bool rule_seen(void *arg)
{
    redisReply *r = redisCommand(F.c, "HGET clm:segments segment:big:rule");
    bool ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, (const char *)arg) == 0;
    freeReplyObject(r);
    return ok;
}

/* ---- comparing --------------------------------------------------------------- */

static int mismatches;

static void expect_str(const char *what, const char *got, const char *want)
{
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
        if (mismatches++ < 30)
            printf("# %s: stored %s, computed %s\n", what, got ? got : "(none)",
                   want ? want : "(none)");
    }
}

static void check_bounds(void)
{
    redisReply *r = redisCommand(F.c, "HGETALL clm:rfm:bounds");
    assert_non_null(r);
    char want[16];
    static const char *const names[3] = {"r", "f", "m"};
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < 4; k++) {
            char field[8];
            snprintf(field, sizeof field, "%s%d", names[m], k + 1);
            const char *got = NULL;
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                if (strcmp(r->element[i]->str, field) == 0)
                    got = r->element[i + 1]->str;
            if (m == 0) {
                time_t t = (time_t)(F.bounds[0][k] * 86400);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(want, sizeof want, "%Y-%m-%d", &tm);
            } else if (m == 1) {
                snprintf(want, sizeof want, "%lld", (long long)F.bounds[1][k]);
            } else {
                snprintf(want, sizeof want, "%lld", (long long)(F.bounds[2][k] / 1000000));
            }
            char what[32];
            snprintf(what, sizeof what, "rfm:bounds %s", field);
            expect_str(what, got, want);
        }
    freeReplyObject(r);
    assert_int_equal(harness_redis_hget_int(F.c, "clm:rfm:bounds", "n"), (long long)F.buyers);
}

static void check_views(void)
{
    for (int i = 0; i < NCUST; i++) {
        const cust *c = &F.cust[i];
        redisReply *r = redisCommand(F.c, "HMGET clm:customer:%s r_score f_score m_score rfm_segment",
                                     c->id);
        assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
        for (int m = 0; m < 4; m++) {
            char want[24], what[64];
            const char *w = NULL;
            if (c->orders && m < 3) {
                snprintf(want, sizeof want, "%d", c->score[m]);
                w = want;
            } else if (c->orders) {
                w = c->seg;
            }
            snprintf(what, sizeof what, "customer %s field %d", c->id, m);
            expect_str(what, r->element[m]->type == REDIS_REPLY_STRING ? r->element[m]->str : NULL,
                       w);
        }
        freeReplyObject(r);
    }
}

/* The KPIs of segment s's members in the summary: buyers, orders and
 * revenue from the computation; churned and at_risk counted from what the
 * flushes wrote (the views' stage, <prefix>at_risk). */
static void check_segment_kpis(int s, bool reloaded)
{
    long long buyers = 0, orders = 0, churned = 0, at_risk = 0;
    int64_t revenue = 0;
    for (int i = 0; i < NCUST; i++) {
        const cust *c = &F.cust[i];
        if (!member(c, s, reloaded))
            continue;
        buyers += c->orders > 0;
        orders += c->orders;
        revenue += c->revenue_micros;
        redisReply *r = redisCommand(F.c, "HGET clm:customer:%s stage", c->id);
        assert_non_null(r);
        churned += r->type == REDIS_REPLY_STRING && strcmp(r->str, "churned") == 0;
        freeReplyObject(r);
        r = redisCommand(F.c, "ZSCORE clm:at_risk %s", c->id);
        assert_non_null(r);
        at_risk += r->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
    }
    printf("# segment %s: %lld buyers, %lld orders, %lld churned, %lld at risk\n", SEG[s], buyers,
           orders, churned, at_risk);
    const char *kpi[] = {"buyers", "orders", "churned", "at_risk"};
    long long want[] = {buyers, orders, churned, at_risk};
    char field[96];
    for (int k = 0; k < 4; k++) {
        snprintf(field, sizeof field, "segment:%s:%s", SEG[s], kpi[k]);
        long long got = harness_redis_hget_int(F.c, "clm:segments", field);
        if (got != want[k] && mismatches++ < 30)
            printf("# clm:segments %s: %lld, computed %lld\n", field, got, want[k]);
    }
    char rev[32];
    snprintf(rev, sizeof rev, "%lld", (long long)(revenue / 1000000));
    snprintf(field, sizeof field, "segment:%s:revenue", SEG[s]);
    redisReply *r = redisCommand(F.c, "HGET clm:segments %s", field);
    assert_non_null(r);
    expect_str(field, r->type == REDIS_REPLY_STRING ? r->str : NULL, rev);
    freeReplyObject(r);
}

/* The members of segment s compared with the computation; returns their
 * number. */
static long long check_members(int s, bool reloaded)
{
    long long n = 0;
    for (int i = 0; i < NCUST; i++) {
        const cust *c = &F.cust[i];
        redisReply *r = redisCommand(F.c, "ZSCORE clm:segment:%s %s", SEG[s], c->id);
        assert_non_null(r);
        bool in = r->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
        bool want = member(c, s, reloaded);
        n += want;
        if (in != want && mismatches++ < 30)
            printf("# segment %s: %s is %sa member, computed %s\n", SEG[s], c->id, in ? "" : "not ",
                   want ? "member" : "not a member");
    }
    redisReply *r = redisCommand(F.c, "ZCARD clm:segment:%s", SEG[s]);
    assert_non_null(r);
    if (r->integer != n && mismatches++ < 30)
        printf("# segment %s: %lld members, computed %lld\n", SEG[s], r->integer, n);
    freeReplyObject(r);
    char field[64];
    snprintf(field, sizeof field, "segment:%s", SEG[s]);
    if (harness_redis_hget_int(F.c, "clm:segments", field) != n && mismatches++ < 30)
        printf("# clm:segments %s: %lld, computed %lld\n", field,
               harness_redis_hget_int(F.c, "clm:segments", field), n);
    check_segment_kpis(s, reloaded);
    return n;
}

/* Sum of a segment's field ("entered" or "left") over every day key. */
static long long day_sum(int s, const char *what)
{
    long long sum = 0;
    redisReply *keys = redisCommand(F.c, "KEYS clm:segment_day:*");
    assert_true(keys && keys->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++) {
        char field[64];
        snprintf(field, sizeof field, "%s:%s", SEG[s], what);
        long long v = harness_redis_hget_int(F.c, keys->element[i]->str, field);
        sum += v > 0 ? v : 0;
    }
    freeReplyObject(keys);
    return sum;
}

/* `clmctl -c <cfg> --json segments`: the sizes it shows. */
static void check_clmctl(void)
{
    char out[160];
    snprintf(out, sizeof out, "%s/segments.json", F.tmp);
    const char *argv[] = {bin("CLMCTL_BIN", "clmctl"), "-c", F.cfg, "--json", "segments", NULL};
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, out, &p, errbuf, sizeof errbuf));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof errbuf));
    harness_proc_free(p);
    json_error_t jerr;
    json_t *doc = json_load_file(out, 0, &jerr);
    if (!doc)
        fail_msg("clmctl segments --json: %s", jerr.text);
    assert_int_equal(json_integer_value(json_object_get(doc, "customers")), NCUST);
    assert_int_equal(json_integer_value(json_object_get(doc, "buyers")), (long long)F.buyers);
    json_t *segs = json_object_get(doc, "segments"), *rfm = json_object_get(doc, "rfm_segments");
    for (int s = 0; s < NSEG; s++) {
        long long want = 0;
        for (int i = 0; i < NCUST; i++)
            want += member(&F.cust[i], s, false);
        json_t *e = json_object_get(segs, SEG[s]);
        if (json_integer_value(json_object_get(e, "members")) != want && mismatches++ < 30)
            printf("# clmctl segments: %s has %lld members, computed %lld\n", SEG[s],
                   json_integer_value(json_object_get(e, "members")), want);
    }
    for (int i = 0; i < NCUST; i++) {
        const char *seg = F.cust[i].seg;
        long long want = 0;
        for (int k = 0; seg && k < NCUST; k++)
            want += F.cust[k].seg && strcmp(F.cust[k].seg, seg) == 0;
        if (seg && json_integer_value(json_object_get(rfm, seg)) != want && mismatches++ < 30)
            printf("# clmctl segments: rfm %s has %lld, computed %lld\n", seg,
                   json_integer_value(json_object_get(rfm, seg)), want);
    }
    json_decref(doc);
}

/* The segment alerts of "big" on the alert topic, once every alert is
 * delivered: one segment_left per customer the reload dropped, nothing else
 * left; each segment_entered names a member of the first rule, once. */
static void check_notes(long long gone)
{
    if (harness_wait_until(outbox_empty, NULL, 60000) < 0)
        fail_msg("alerts still in clm:alerts:outbox after 60 s");
    harness_records *recs = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), ALERTS, 30000, &recs, errbuf,
                                   sizeof errbuf));
    long long left = 0, entered = 0;
    bool seen_in[NCUST] = {false};
    for (size_t i = 0; i < recs->n; i++) {
        json_t *doc = json_loads(recs->v[i].value, 0, NULL);
        assert_non_null(doc);
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        const char *seg = json_string_value(json_object_get(doc, "segment"));
        const char *id = json_string_value(json_object_get(doc, "customer_id"));
        if (kind && seg && strcmp(seg, "big") == 0) {
            int c = -1;
            for (int k = 0; k < NCUST; k++)
                if (strcmp(F.cust[k].id, id) == 0)
                    c = k;
            assert_true(c >= 0);
            assert_string_equal(recs->v[i].key, id);
            if (strcmp(kind, "segment_left") == 0) {
                left++;
                if (!(member(&F.cust[c], S_BIG, false) && !member(&F.cust[c], S_BIG, true)) &&
                    mismatches++ < 30)
                    printf("# segment_left of %s, who did not leave\n", id);
            } else {
                assert_string_equal(kind, "segment_entered");
                entered++;
                if ((!member(&F.cust[c], S_BIG, false) || seen_in[c]) && mismatches++ < 30)
                    printf("# segment_entered of %s: not a member or twice\n", id);
                seen_in[c] = true;
            }
        }
        json_decref(doc);
    }
    harness_records_free(recs);
    printf("# big: %lld segment_entered, %lld segment_left alerts\n", entered, left);
    if (left != gone && mismatches++ < 30)
        printf("# %lld segment_left alerts, expected %lld\n", left, gone);
}

/* ---- the tests ----------------------------------------------------------------- */

static void wait_settled(void)
{
    progress pr = {.want = (long long)F.total};
    if (harness_wait_until(consumed_all, &pr, 60000) < 0)
        fail_msg("clmd consumed %lld of %zu messages within 60 s",
                 harness_redis_hget_int(F.c, "clm:stats", "consumed"), F.total);
    assert_int_equal(harness_redis_hget_int(F.c, "clm:stats", "applied"), (long long)F.total);
    /* a pass that started after everything was flushed */
    long long want = harness_redis_hget_int(F.c, "clm:segments", "pass");
    want = (want > 0 ? want : 0) + 2;
    if (harness_wait_until(pass_reached, &want, 60000) < 0)
        fail_msg("no segment pass %lld within 60 s", want);
}

static void rfm_and_segments(void **state)
{
    (void)state;
    wait_settled();
    mismatches = 0;
    check_bounds();
    check_views();
    assert_int_equal(harness_redis_hget_int(F.c, "clm:segments", "customers"), NCUST);
    assert_int_equal(harness_redis_hget_int(F.c, "clm:segments", "buyers"), (long long)F.buyers);
    static const char *const rfm_names[] = {
        "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
        "About to sleep", "At risk", "Can't lose", "Lost", "Hibernating", "Other"};
    for (size_t k = 0; k < sizeof rfm_names / sizeof *rfm_names; k++) {
        long long want = 0;
        for (int i = 0; i < NCUST; i++)
            want += F.cust[i].seg && strcmp(F.cust[i].seg, rfm_names[k]) == 0;
        char field[48];
        snprintf(field, sizeof field, "rfm:%s", rfm_names[k]);
        long long got = harness_redis_hget_int(F.c, "clm:segments", field);
        if (got != want && mismatches++ < 30)
            printf("# clm:segments %s: %lld, computed %lld\n", field, got, want);
    }
    for (int s = 0; s < NSEG; s++) {
        long long n = check_members(s, false);
        long long net = day_sum(s, "entered") - day_sum(s, "left");
        if (net != n && mismatches++ < 30)
            printf("# segment %s: entered - left = %lld, members %lld\n", SEG[s], net, n);
        printf("# segment %s: %lld members\n", SEG[s], n);
    }
    check_clmctl();
    if (mismatches)
        fail_msg("%d values differ from the computation", mismatches);
}

static void reload_moves(void **state)
{
    (void)state;
    long long entered[NSEG], left[NSEG], gone = 0;
    for (int s = 0; s < NSEG; s++) {
        entered[s] = day_sum(s, "entered");
        left[s] = day_sum(s, "left");
    }
    for (int i = 0; i < NCUST; i++)
        gone += member(&F.cust[i], S_BIG, false) && !member(&F.cust[i], S_BIG, true);
    assert_true(gone > 0); /* the change moves someone */
    write_config(true);
    CHECK(harness_proc_signal(F.clmd, SIGHUP));
    if (harness_wait_until(rule_seen, (void *)BIG_AFTER, 60000) < 0)
        fail_msg("the reloaded rule was not applied within 60 s");
    mismatches = 0;
    for (int s = 0; s < NSEG; s++) {
        check_members(s, s == S_BIG);
        long long de = day_sum(s, "entered") - entered[s], dl = day_sum(s, "left") - left[s];
        long long want_dl = s == S_BIG ? gone : 0;
        if ((de != 0 || dl != want_dl) && mismatches++ < 30)
            printf("# segment %s after the reload: %lld entered, %lld left; expected 0 and %lld\n",
                   SEG[s], de, dl, want_dl);
    }
    printf("# big: %lld customers left with the new rule\n", gone);
    check_notes(gone);
    if (mismatches)
        fail_msg("%d values differ from the computation", mismatches);
}

static bool browsers_gone(void *arg)
{
    (void)arg;
    redisReply *r = redisCommand(F.c, "EXISTS clm:segment:browsers");
    bool gone = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    r = redisCommand(F.c, "HEXISTS clm:segments segment:browsers");
    gone = gone && r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    return gone;
}

static void restart_drops(void **state)
{
    (void)state;
    long long entered[NSEG], left[NSEG];
    for (int s = 0; s < NSEG; s++) {
        entered[s] = day_sum(s, "entered");
        left[s] = day_sum(s, "left");
    }
    CHECK(harness_proc_signal(F.clmd, SIGTERM));
    CHECK(harness_proc_expect_exit(F.clmd, 30000, 0, errbuf, sizeof errbuf));
    harness_proc_free(F.clmd);
    F.clmd = NULL;
    without_browsers = true;
    write_config(true);
    char log[160];
    snprintf(log, sizeof log, "%s/clmd-restart.log", F.tmp);
    const char *argv[] = {bin("CLMD_BIN", "clmd"), "-c", F.cfg, NULL};
    CHECK(harness_proc_spawn(argv, log, &F.clmd, errbuf, sizeof errbuf));
    if (harness_wait_until(browsers_gone, NULL, 60000) < 0)
        fail_msg("clm:segment:browsers still there 60 s after the restart (log: %s)", log);
    long long want = 2;
    if (harness_wait_until(pass_reached, &want, 60000) < 0)
        fail_msg("no second segment pass after the restart within 60 s");
    mismatches = 0;
    for (int s = 0; s < S_BROWSERS; s++) {
        check_members(s, s == S_BIG);
        if ((day_sum(s, "entered") != entered[s] || day_sum(s, "left") != left[s]) &&
            mismatches++ < 30)
            printf("# segment %s: day counters moved over the restart\n", SEG[s]);
    }
    if (mismatches)
        fail_msg("%d values differ from the computation", mismatches);
}

/* ---- the same on Redis Cluster ------------------------------------------------ */

static clm_cluster *CL;

static redisReply *cl_cmd(int argc, const char **argv)
{
    redisReply *r = clm_cluster_command(CL, 1, argc, argv, NULL, errbuf, sizeof errbuf);
    if (!r)
        fail_msg("%s %s: %s", argv[0], argv[1], errbuf);
    return r;
}

static long long cl_hget_int(const char *key, const char *field)
{
    const char *argv[] = {"HGET", key, field};
    redisReply *r = cl_cmd(3, argv);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

typedef struct cl_wait {
    const char *key, *field;
    long long want;
} cl_wait;

static bool cl_reached(void *arg)
{
    cl_wait *w = arg;
    return cl_hget_int(w->key, w->field) >= w->want;
}

static void on_cluster(void **state)
{
    (void)state;
    harness_cluster *hc = NULL;
    CHECK(harness_cluster_start(3, 0, &hc, errbuf, sizeof errbuf));
    clm_cluster_opts co = {.seeds = harness_cluster_seeds(hc), .timeout_ms = 5000};
    CHECK(clm_cluster_new(&co, &CL, errbuf, sizeof errbuf));
    char cfg[160], log[160];
    snprintf(cfg, sizeof cfg, "%s/cluster.json", F.tmp);
    snprintf(log, sizeof log, "%s/cluster.log", F.tmp);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], "
            "\"group_id\": \"g-cluster\"},\n"
            " \"redis\": {\"cluster\": \"%s\"},\n"
            " \"flush\": {\"interval_ms\": 50},\n \"http\": {\"port\": 0},\n"
            " \"events\": {\"max_jump_s\": 0},\n \"rfm\": {\"refresh_s\": 1},\n"
            " \"alerts\": {\"topic\": \"clm.alerts.cluster\"},\n"
            " \"segments\": [\n",
            harness_kafka_bootstraps(F.kafka), harness_cluster_seeds(hc));
    for (int s = 0; s < NSEG; s++)
        fprintf(f, "  {\"name\": \"%s\", \"rule\": \"%s\"}%s\n", SEG[s], RULE[s],
                s + 1 < NSEG ? "," : "");
    fprintf(f, " ]}\n");
    fclose(f);
    const char *argv[] = {bin("CLMD_BIN", "clmd"), "-c", cfg, NULL};
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof errbuf));
    cl_wait w = {"clm:stats", "consumed", (long long)F.total};
    if (harness_wait_until(cl_reached, &w, 90000) < 0)
        fail_msg("clmd consumed %lld of %zu messages within 90 s (log: %s)",
                 cl_hget_int("clm:stats", "consumed"), F.total, log);
    long long pass0 = cl_hget_int("clm:segments", "pass");
    w = (cl_wait){"clm:segments", "pass", (pass0 > 0 ? pass0 : 0) + 2};
    if (harness_wait_until(cl_reached, &w, 90000) < 0)
        fail_msg("no segment pass %lld within 90 s (log: %s)", w.want, log);

    mismatches = 0;
    assert_int_equal(cl_hget_int("clm:segments", "customers"), NCUST);
    assert_int_equal(cl_hget_int("clm:rfm:bounds", "n"), (long long)F.buyers);
    for (int i = 0; i < NCUST; i++) {
        const cust *c = &F.cust[i];
        char key[64];
        snprintf(key, sizeof key, "clm:customer:%s", c->id);
        const char *hm[] = {"HMGET", key, "r_score", "f_score", "m_score", "rfm_segment"};
        redisReply *r = cl_cmd(6, hm);
        assert_true(r->type == REDIS_REPLY_ARRAY && r->elements == 4);
        for (int m = 0; m < 4; m++) {
            char want[24], what[64];
            const char *wv = NULL;
            if (c->orders && m < 3) {
                snprintf(want, sizeof want, "%d", c->score[m]);
                wv = want;
            } else if (c->orders) {
                wv = c->seg;
            }
            snprintf(what, sizeof what, "cluster: customer %s field %d", c->id, m);
            expect_str(what, r->element[m]->type == REDIS_REPLY_STRING ? r->element[m]->str : NULL,
                       wv);
        }
        freeReplyObject(r);
    }
    for (int s = 0; s < NSEG; s++) {
        char key[64], field[64];
        snprintf(key, sizeof key, "clm:segment:%s", SEG[s]);
        long long n = 0;
        for (int i = 0; i < NCUST; i++) {
            const char *zs[] = {"ZSCORE", key, F.cust[i].id};
            redisReply *r = cl_cmd(3, zs);
            bool in = r->type == REDIS_REPLY_STRING, want = member(&F.cust[i], s, false);
            freeReplyObject(r);
            n += want;
            if (in != want && mismatches++ < 30)
                printf("# cluster: segment %s: %s is %sa member\n", SEG[s], F.cust[i].id,
                       in ? "" : "not ");
        }
        snprintf(field, sizeof field, "segment:%s", SEG[s]);
        if (cl_hget_int("clm:segments", field) != n && mismatches++ < 30)
            printf("# cluster: clm:segments %s: %lld, computed %lld\n", field,
                   cl_hget_int("clm:segments", field), n);
        /* entered - left over every day key of every master */
        long long net = 0;
        for (int k = 0; k < harness_cluster_nodes(hc); k++) {
            redisContext *c = NULL;
            CHECK(harness_cluster_connect(hc, harness_cluster_port(hc, k), &c, errbuf,
                                          sizeof errbuf));
            redisReply *keys = redisCommand(c, "KEYS clm:segment_day:*");
            assert_true(keys && keys->type == REDIS_REPLY_ARRAY);
            for (size_t x = 0; x < keys->elements; x++) {
                long long e = harness_redis_hget_int(c, keys->element[x]->str,
                                                     (snprintf(field, sizeof field, "%s:entered",
                                                               SEG[s]), field));
                long long l = harness_redis_hget_int(c, keys->element[x]->str,
                                                     (snprintf(field, sizeof field, "%s:left",
                                                               SEG[s]), field));
                net += (e > 0 ? e : 0) - (l > 0 ? l : 0);
            }
            freeReplyObject(keys);
            redisFree(c);
        }
        if (net != n && mismatches++ < 30)
            printf("# cluster: segment %s: entered - left = %lld, members %lld\n", SEG[s], net, n);
    }
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof errbuf));
    harness_proc_free(p);
    clm_cluster_free(CL);
    CL = NULL;
    harness_cluster_stop(hc);
    if (mismatches)
        fail_msg("%d values differ from the computation", mismatches);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof F.tmp, "/tmp/clm-seg-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    snprintf(F.cfg, sizeof F.cfg, "%s/clmd.json", F.tmp);
    ev *e = calloc(NCUST * 6, sizeof *e);
    harness_events s = {0};
    if (!e)
        return -1;
    size_t n = make_events(e);
    compute(e, n);
    for (size_t k = 0; k < n; k++) {
        char amount[32];
        snprintf(amount, sizeof amount, "\"amount\":%d", e[k].amount);
        harness_events_add(&s, F.cust[e[k].cust].id, e[k].amount ? "purchase" : "visit", e[k].ts,
                           e[k].amount ? amount : NULL);
    }
    F.total = n;
    free(e);
    int rc = -1;
    char log[128];
    snprintf(log, sizeof log, "%s/clmd.log", F.tmp);
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof errbuf) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof errbuf) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof errbuf) < 0 ||
        harness_kafka_create_topic(F.kafka, ALERTS, 1, errbuf, sizeof errbuf) < 0 ||
        harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, s.kv, s.n, false, 60000, errbuf,
                        sizeof errbuf) < 0 ||
        harness_redis_start(&F.redis, errbuf, sizeof errbuf) < 0 ||
        harness_redis_connect(F.redis, &F.c, errbuf, sizeof errbuf) < 0) {
        fprintf(stderr, "# setup: %s\n", errbuf);
    } else {
        write_config(false);
        const char *argv[] = {bin("CLMD_BIN", "clmd"), "-c", F.cfg, NULL};
        if (harness_proc_spawn(argv, log, &F.clmd, errbuf, sizeof errbuf) < 0)
            fprintf(stderr, "# setup: %s\n", errbuf);
        else
            rc = 0;
    }
    harness_events_free(&s);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    if (F.clmd) {
        if (harness_proc_signal(F.clmd, SIGTERM) < 0 ||
            harness_proc_expect_exit(F.clmd, 30000, 0, errbuf, sizeof errbuf) < 0) {
            fprintf(stderr, "# teardown: %s\n", errbuf);
            rc = -1;
        }
        harness_proc_free(F.clmd);
    }
    if (F.c)
        redisFree(F.c);
    harness_redis_free(F.redis);
    harness_kafka_free(F.kafka);
    harness_rm_tree(F.tmp);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfm_and_segments),
        cmocka_unit_test(reload_moves),
        cmocka_unit_test(restart_drops),
        cmocka_unit_test(on_cluster),
    };
    return cmocka_run_group_tests_name("segment-e2e", tests, setup, teardown);
}
