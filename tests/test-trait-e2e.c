/* tests/test-trait-e2e.c - traits end to end.
 *
 * A generated stream with traits (clmgen's plan, country, channel and
 * company_size) plus a few hand-made messages with bad trait values goes
 * through the Kafka mock cluster (in this process) and clmd (a child
 * process) into a real redis-server. The trait fields of every customer view
 * are compared with values computed here from the raw messages by the
 * README's rules (latest, first, max by event time; no core/ code linked):
 *   plan          string, "latest", top-level "plan"
 *   country       string, "first", "properties.country", bad values ignored
 *   channel       string, "first", top-level "channel"
 *   company_size  number, "max", "properties.company_size"
 * A configured event type requiring the plan ("trial_started") is applied
 * with it and rejected without it. Two segments whose rules read traits
 * ("pro": plan == "pro"; "paid_or_se": plan in ["pro", "team"] or
 * country == "SE") hold exactly the customers the model puts in them.
 * Then clmd is restarted with the traits listed in another order, the view
 * of one customer is deleted and one more event for it arrives: its trait
 * fields must come back from the checkpoint, re-indexed by name.
 * The suite fails (never skips) when redis-server or clmd cannot be started.
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

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define PARTITIONS 4
#define DAY_MS 86400000LL
#define NO_TS INT64_MIN

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* ---- the model ------------------------------------------------------------ */

enum { T_PLAN, T_COUNTRY, T_CHANNEL, T_SIZE, NTRAITS };
static const char *const VIEW_FIELD[NTRAITS] = {"trait:plan", "trait:country", "trait:channel",
                                                "trait:company_size"};

typedef struct mtrait {
    bool set;
    int64_t ts;
    char str[80];
    long long num;
} mtrait;

typedef struct mcust {
    char id[32];
    mtrait t[NTRAITS];
} mcust;

typedef struct model {
    mcust *c;
    size_t n, cap;
    long long bad_trait;
} model;

static mcust *cust_of(model *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->c[i].id, id) == 0)
            return &m->c[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->c = realloc(m->c, m->cap * sizeof(*m->c));
        assert_non_null(m->c);
    }
    mcust *c = &m->c[m->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    return c;
}

/* RFC 3339 UTC with milliseconds ("2026-01-02T03:06:15.131Z") or epoch ms. */
static int64_t parse_ts(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    int y, mo, d, h, mi, s, ms;
    assert_int_equal(sscanf(json_string_value(v), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms), 7);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* A string trait value: 1..64 bytes. Returns 1 valid, 0 absent/null, -1 bad. */
static int str_value(json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    return json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= 64 ? 1 : -1;
}

static int num_value(json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    return json_is_number(v) ? 1 : -1;
}

static void keep_latest(mtrait *t, int64_t ts, const char *s)
{
    if (t->set && ts < t->ts)
        return;
    t->set = true;
    t->ts = ts;
    snprintf(t->str, sizeof(t->str), "%s", s);
}

static void keep_first(mtrait *t, int64_t ts, const char *s)
{
    if (t->set && ts >= t->ts)
        return;
    t->set = true;
    t->ts = ts;
    snprintf(t->str, sizeof(t->str), "%s", s);
}

/* One valid message (not malformed per the generator) in arrival order. */
static void model_msg(model *m, const char *value, size_t len)
{
    json_t *o = json_loadb(value, len, 0, NULL);
    assert_non_null(o);
    json_t *cid = json_object_get(o, "customer_id");
    if (!cid) { /* marketing spend: no customer */
        json_decref(o);
        return;
    }
    json_t *props = json_object_get(o, "properties");
    if (!json_is_object(props))
        props = NULL;
    json_t *plan = json_object_get(o, "plan"), *channel = json_object_get(o, "channel");
    json_t *country = props ? json_object_get(props, "country") : NULL;
    json_t *size = props ? json_object_get(props, "company_size") : NULL;
    int vp = str_value(plan), vc = str_value(country), vch = str_value(channel), vs = num_value(size);
    /* plan, channel and company_size reject the event; country is ignored */
    if (vp < 0 || vch < 0 || vs < 0) {
        m->bad_trait++;
        json_decref(o);
        return;
    }
    mcust *c = cust_of(m, json_string_value(cid));
    int64_t ts = parse_ts(json_object_get(o, "ts"));
    if (vp > 0)
        keep_latest(&c->t[T_PLAN], ts, json_string_value(plan));
    if (vc > 0)
        keep_first(&c->t[T_COUNTRY], ts, json_string_value(country));
    if (vch > 0)
        keep_first(&c->t[T_CHANNEL], ts, json_string_value(channel));
    if (vs > 0) {
        long long n = (long long)json_number_value(size);
        mtrait *t = &c->t[T_SIZE];
        if (!t->set || n > t->num) {
            t->set = true;
            t->num = n;
            snprintf(t->str, sizeof(t->str), "%lld", n);
        }
    }
    json_decref(o);
}

/* ---- clmd ------------------------------------------------------------------- */

typedef struct progress {
    redisContext *c;
    long long want;
} progress;

static bool reached(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(p->c, "clm:stats", "consumed") >= p->want;
}

/* The segment job's pass counter has reached p->want. */
static bool passed(void *arg)
{
    progress *p = arg;
    return harness_redis_hget_int(p->c, "clm:segments", "pass") >= p->want;
}

static const char TRAITS[] =
    "[{\"name\": \"plan\", \"type\": \"string\"},"
    " {\"name\": \"country\", \"field\": \"properties.country\", \"type\": \"string\","
    "  \"update\": \"first\", \"on_invalid\": \"ignore\", \"max_len\": 64},"
    " {\"name\": \"channel\", \"type\": \"string\", \"update\": \"first\"},"
    " {\"name\": \"company_size\", \"field\": \"properties.company_size\", \"type\": \"number\","
    "  \"update\": \"max\"}]";
/* The same traits in another order. */
static const char TRAITS_REORDERED[] =
    "[{\"name\": \"company_size\", \"field\": \"properties.company_size\", \"type\": \"number\","
    "  \"update\": \"max\"},"
    " {\"name\": \"channel\", \"type\": \"string\", \"update\": \"first\"},"
    " {\"name\": \"country\", \"field\": \"properties.country\", \"type\": \"string\","
    "  \"update\": \"first\", \"on_invalid\": \"ignore\", \"max_len\": 64},"
    " {\"name\": \"plan\", \"type\": \"string\"}]";

static void write_config(const char *path, const char *brokers, int redis_port, const char *traits)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"events\": {\"max_jump_s\": 0},\n"
            " \"event_types\": [{\"name\": \"trial_started\", \"required\": [\"plan\"]}],\n"
            " \"rfm\": {\"refresh_s\": 1},\n"
            " \"segments\": [{\"name\": \"pro\", \"rule\": \"plan == \\\"pro\\\"\"},\n"
            "   {\"name\": \"paid_or_se\", \"rule\": \"plan in [\\\"pro\\\", \\\"team\\\"] or country == \\\"SE\\\"\"}],\n"
            " \"traits\": %s}\n",
            brokers, redis_port, traits);
    fclose(f);
}

/* Runs clmd until it has consumed `want` messages in all, then stops it. */
static void run_clmd(const char *cfg, const char *log, redisContext *rc, long long want)
{
    const char *argv[] = {harness_clmd_bin(), "-c", cfg, NULL};
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    progress pr = {.c = rc, .want = want};
    if (harness_wait_until(reached, &pr, 60000) < 0)
        fail_msg("clmd consumed %lld of %lld messages within 60 s (log: %s)",
                 harness_redis_hget_int(rc, "clm:stats", "consumed"), want, log);
    /* segments over traits: a whole pass of the segment job that began after
     * the last message was flushed */
    progress ps = {.c = rc, .want = harness_redis_hget_int(rc, "clm:segments", "pass") + 2};
    if (harness_wait_until(passed, &ps, 60000) < 0)
        fail_msg("the segment job made no pass after the stream within 60 s (log: %s)", log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

static int mismatches;

/* Compares the trait fields of c's view with the model. */
static void compare_view(redisContext *rc, const mcust *c)
{
    redisReply *r = redisCommand(rc, "HMGET clm:customer:%s %s %s %s %s", c->id, VIEW_FIELD[0],
                                 VIEW_FIELD[1], VIEW_FIELD[2], VIEW_FIELD[3]);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (int k = 0; k < NTRAITS; k++) {
        const redisReply *e = r->element[k];
        const char *got = e->type == REDIS_REPLY_STRING ? e->str : NULL;
        const char *want = c->t[k].set ? c->t[k].str : NULL;
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
            if (mismatches++ < 40)
                printf("# %s %s: want %s, got %s\n", c->id, VIEW_FIELD[k], want ? want : "(none)",
                       got ? got : "(none)");
        }
    }
    freeReplyObject(r);
}

/* Whether model customer c is in segment `seg` of write_config's rules. */
static bool member_of(const mcust *c, const char *seg)
{
    const mtrait *plan = &c->t[T_PLAN], *country = &c->t[T_COUNTRY];
    bool pro = plan->set && strcmp(plan->str, "pro") == 0;
    bool team = plan->set && strcmp(plan->str, "team") == 0;
    if (strcmp(seg, "pro") == 0)
        return pro;
    return pro || team || (country->set && strcmp(country->str, "SE") == 0);
}

/* The members of each segment over traits equal the model's. */
static void compare_segments(redisContext *rc, const model *m, const char *log)
{
    static const char *const SEGS[] = {"pro", "paid_or_se"};
    for (size_t s = 0; s < 2; s++) {
        size_t want = 0, bad = 0;
        for (size_t i = 0; i < m->n; i++) {
            bool in = member_of(&m->c[i], SEGS[s]);
            redisReply *r = redisCommand(rc, "ZSCORE clm:segment:%s %s", SEGS[s], m->c[i].id);
            assert_non_null(r);
            if (in != (r->type != REDIS_REPLY_NIL) && bad++ < 20)
                printf("# segment %s: %s %s\n", SEGS[s], m->c[i].id,
                       in ? "missing" : "a member by mistake");
            freeReplyObject(r);
            want += in;
        }
        long long n = 0;
        redisReply *r = redisCommand(rc, "ZCARD clm:segment:%s", SEGS[s]);
        assert_non_null(r);
        n = r->integer;
        freeReplyObject(r);
        printf("# segment %s: %lld members, model %zu\n", SEGS[s], n, want);
        if (bad || n != (long long)want)
            fail_msg("segment %s differs from the model (log: %s)", SEGS[s], log);
        assert_true(want >= 10);
    }
}

static void traits_stream(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 16;
    o.customers = 600;
    o.events = 12000;
    o.days = 120;
    o.malformed_rate = 0.01;
    o.dup_rate = 0.005;
    o.traits = true;

    char tmp[64] = "/tmp/clm-trait-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&o, &g, errbuf, sizeof(errbuf)));
    harness_kv *msgs = calloc((size_t)o.events, sizeof(*msgs));
    assert_non_null(msgs);
    model m = {0};
    size_t total = 0;
    int64_t max_ts = 0;
    clm_gen_msg gm;
    while (clm_gen_next(g, &gm) == 1) {
        char *b = malloc(gm.key_len + gm.value_len + 1);
        assert_non_null(b);
        memcpy(b, gm.key, gm.key_len);
        memcpy(b + gm.key_len, gm.value, gm.value_len);
        msgs[total++] = (harness_kv){.key = b, .key_len = gm.key_len, .value = b + gm.key_len,
                                     .value_len = gm.value_len};
        if (gm.ts_ms > max_ts)
            max_ts = gm.ts_ms;
        /* per customer, arrival order is the produced order (one key, one partition) */
        if (!gm.malformed)
            model_msg(&m, gm.value, gm.value_len);
    }
    clm_gen_free(g);
    assert_int_equal(total, o.events);

    /* hand-made: bad values, ignored and rejecting, and null */
    int64_t t0 = max_ts + 3600000; /* after the stream: never late */
    harness_events hand = {0};
    harness_events_add(&hand, "h-1", "visit", t0,
                       "\"plan\":\"pro\",\"channel\":\"web\",\"properties\":{\"country\":\"SE\","
                       "\"company_size\":12}");
    harness_events_add(&hand, "h-1", "login", t0 + 1000, "\"plan\":42");        /* bad_trait */
    harness_events_add(&hand, "h-1", "login", t0 + 2000, "\"properties\":{\"country\":7}");
    harness_events_add(&hand, "h-1", "login", t0 + 3000,
                       "\"plan\":\"enterprise\",\"properties\":{\"company_size\":\"big\"}"); /* bad_trait */
    harness_events_add(&hand, "h-2", "visit", t0, "\"channel\":\"\"");          /* bad_trait */
    harness_events_add(&hand, "h-2", "signup", t0 + 1000, "\"plan\":null");
    for (size_t i = 0; i < hand.n; i++)
        model_msg(&m, hand.kv[i].value, hand.kv[i].value_len);
    assert_int_equal(m.bad_trait, 3);
    /* a configured type requiring the plan: without it missing_field (not
     * modelled), with it applied */
    harness_events_add(&hand, "h-3", "trial_started", t0, NULL);
    harness_events_add(&hand, "h-3", "trial_started", t0 + 1000, "\"plan\":\"trial\"");
    model_msg(&m, hand.kv[hand.n - 1].value, hand.kv[hand.n - 1].value_len);

    harness_kafka *kafka = NULL;
    harness_redis *redis = NULL;
    CHECK(harness_kafka_start(1, &kafka, errbuf, sizeof(errbuf)));
    const char *brokers = harness_kafka_bootstraps(kafka);
    CHECK(harness_kafka_create_topic(kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(brokers, TOPIC, msgs, total, false, 60000, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(brokers, TOPIC, hand.kv, hand.n, false, 60000, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));

    char cfg[128], log[128];
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", tmp);
    snprintf(log, sizeof(log), "%s/clmd.log", tmp);
    write_config(cfg, brokers, harness_redis_port(redis), TRAITS);
    redisContext *rc = NULL;
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));
    run_clmd(cfg, log, rc, (long long)(total + hand.n));

    assert_int_equal(harness_redis_hget_int(rc, "clm:rejected", "late_dropped"), 0);
    assert_int_equal(harness_redis_hget_int(rc, "clm:rejected", "bad_trait"), m.bad_trait);

    /* the stream exercises every trait */
    size_t with[NTRAITS] = {0};
    for (size_t i = 0; i < m.n; i++)
        for (int k = 0; k < NTRAITS; k++)
            with[k] += m.c[i].t[k].set;
    printf("# %zu customers; with plan %zu, country %zu, channel %zu, company_size %zu\n", m.n,
           with[T_PLAN], with[T_COUNTRY], with[T_CHANNEL], with[T_SIZE]);
    for (int k = 0; k < NTRAITS; k++)
        assert_true(with[k] >= 50);

    assert_int_equal(harness_redis_hget_int(rc, "clm:customer:h-3", "events"), 1);
    assert_string_equal(cust_of(&m, "h-3")->t[T_PLAN].str, "trial");

    mismatches = 0;
    for (size_t i = 0; i < m.n; i++)
        compare_view(rc, &m.c[i]);
    if (mismatches)
        fail_msg("%d trait fields differ from the model (first 40 above; clmd log: %s)", mismatches, log);
    compare_segments(rc, &m, log);

    /* restart with the traits reordered; the view of h-1 is gone, one more
     * event arrives: every trait comes back from the checkpoint */
    redisReply *r = redisCommand(rc, "DEL clm:customer:h-1");
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    char more_value[160];
    snprintf(more_value, sizeof(more_value),
             "{\"event_id\":\"e-more\",\"customer_id\":\"h-1\",\"type\":\"login\",\"ts\":%lld,"
             "\"plan\":\"team\"}", (long long)(t0 + 4000));
    harness_kv more = {.key = "h-1", .key_len = 3, .value = more_value, .value_len = strlen(more_value)};
    CHECK(harness_produce(brokers, TOPIC, &more, 1, false, 60000, errbuf, sizeof(errbuf)));
    model_msg(&m, more.value, more.value_len);
    write_config(cfg, brokers, harness_redis_port(redis), TRAITS_REORDERED);
    run_clmd(cfg, log, rc, (long long)(total + hand.n + 1));
    mcust *h1 = cust_of(&m, "h-1");
    assert_string_equal(h1->t[T_PLAN].str, "team");
    assert_string_equal(h1->t[T_COUNTRY].str, "SE");
    compare_view(rc, h1);
    if (mismatches)
        fail_msg("%d trait fields differ after the restart (clmd log: %s)", mismatches, log);

    redisFree(rc);
    harness_events_free(&hand);
    harness_redis_free(redis);
    harness_kafka_free(kafka);
    for (size_t i = 0; i < total; i++)
        free((void *)msgs[i].key);
    free(msgs);
    free(m.c);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traits_stream),
    };
    return cmocka_run_group_tests_name("trait-e2e", tests, NULL, NULL);
}
