/* tests/test-breakdown-e2e.c - breakdowns by trait end to end.
 *
 * A generated stream with traits (clmgen's plan, country, channel and
 * company_size) goes through the Kafka mock cluster (in this process) and
 * clmd (a child process) into a real redis-server, with two breakdowns:
 *   trait:plan     values "basic", "pro" (clmgen's "team" counts as other)
 *   trait:channel  values "organic", "social", "email"
 * The per-value day counters orders, revenue_micros and new_customers of
 * <prefix>breakdown:trait:<name>:<D> are compared with values computed here
 * from the raw messages in arrival order by the README's rules (the
 * customer's trait value after the event, by the traits' update rules; no
 * core/ code linked). Every breakdown counter (all eight) must also add up
 * over the values of a day to the same counter of clm:day:<D>, and each
 * value's customers_delta summed over all days must equal the number of
 * customer views with orders >= 1, a stage other than churned and that
 * value.
 * clmctl breakdown (a child process) then shows, over every day, the
 * model's orders and revenue per value and the views' current customers
 * as customers_end (JSON), and its table and CSV forms.
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <jansson.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define PARTITIONS 4
#define DAY_MS 86400000LL

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* ---- the model ------------------------------------------------------------ */

enum { D_PLAN, D_CHANNEL, NDIMS };
static const char *const DIM[NDIMS] = {"plan", "channel"};
static const char *const LISTED[NDIMS][4] = {{"basic", "pro", NULL}, {"organic", "social", "email", NULL}};
enum { C_ORDERS, C_REVENUE, C_NEW, NCOUNTERS };
static const char *const COUNTER[NCOUNTERS] = {"orders", "revenue_micros", "new_customers"};
/* every counter a breakdown keeps (README "Breakdowns") */
static const char *const ALL_COUNTERS[] = {"new_leads", "leads_converted", "new_customers", "orders",
                                           "revenue_micros", "churned", "reactivated",
                                           "customers_delta"};
#define NALL (sizeof(ALL_COUNTERS) / sizeof(ALL_COUNTERS[0]))

typedef struct mtrait {
    bool set;
    int64_t ts;
    char str[80];
} mtrait;

typedef struct mcust {
    char id[32];
    mtrait t[NDIMS];
    bool bought;
    int64_t first_purchase;
} mcust;

/* One model counter: (dimension, slot text, day, counter) -> value. */
typedef struct mcount {
    int dim;
    char value[80];
    int64_t day;
    int counter;
    int64_t n;
} mcount;

typedef struct model {
    mcust *c;
    size_t n, cap;
    mcount *k;
    size_t nk, capk;
    long long applied, purchases;
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

/* The slot text of a customer's value: listed, "other" or "(none)". */
static const char *slot_of(const mcust *c, int dim)
{
    if (!c->t[dim].set)
        return "(none)";
    for (int i = 0; LISTED[dim][i]; i++)
        if (strcmp(LISTED[dim][i], c->t[dim].str) == 0)
            return LISTED[dim][i];
    return "other";
}

static int64_t *count_of(model *m, int dim, const char *value, int64_t day, int counter)
{
    for (size_t i = 0; i < m->nk; i++)
        if (m->k[i].dim == dim && m->k[i].day == day && m->k[i].counter == counter &&
            strcmp(m->k[i].value, value) == 0)
            return &m->k[i].n;
    if (m->nk == m->capk) {
        m->capk = m->capk ? 2 * m->capk : 256;
        m->k = realloc(m->k, m->capk * sizeof(*m->k));
        assert_non_null(m->k);
    }
    mcount *k = &m->k[m->nk++];
    memset(k, 0, sizeof(*k));
    k->dim = dim;
    snprintf(k->value, sizeof(k->value), "%s", value);
    k->day = day;
    k->counter = counter;
    return &k->n;
}

/* Adds n to counter of every dimension under c's current values. */
static void count(model *m, const mcust *c, int64_t day, int counter, int64_t n)
{
    for (int d = 0; d < NDIMS; d++)
        *count_of(m, d, slot_of(c, d), day, counter) += n;
}

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

static int str_value(json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    return json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= 64 ? 1 : -1;
}

static int64_t day_of(int64_t ts)
{
    return ts >= 0 ? ts / DAY_MS : -((-ts + DAY_MS - 1) / DAY_MS);
}

/* One valid message in arrival order (per customer, the produced order). */
static void model_msg(model *m, const char *value, size_t len)
{
    json_t *o = json_loadb(value, len, 0, NULL);
    assert_non_null(o);
    json_t *cid = json_object_get(o, "customer_id");
    if (!cid) { /* marketing spend: no customer */
        m->applied++;
        json_decref(o);
        return;
    }
    json_t *props = json_object_get(o, "properties");
    if (!json_is_object(props))
        props = NULL;
    json_t *plan = json_object_get(o, "plan"), *channel = json_object_get(o, "channel");
    json_t *size = props ? json_object_get(props, "company_size") : NULL;
    int vp = str_value(plan), vch = str_value(channel);
    bool bad_size = size && !json_is_null(size) && !json_is_number(size);
    if (vp < 0 || vch < 0 || bad_size) { /* bad_trait */
        json_decref(o);
        return;
    }
    m->applied++;
    mcust *c = cust_of(m, json_string_value(cid));
    int64_t ts = parse_ts(json_object_get(o, "ts"));
    /* traits first: counters go under the values after the event */
    mtrait *tp = &c->t[D_PLAN], *tc = &c->t[D_CHANNEL];
    if (vp > 0 && (!tp->set || ts >= tp->ts)) { /* latest */
        tp->set = true;
        tp->ts = ts;
        snprintf(tp->str, sizeof(tp->str), "%s", json_string_value(plan));
    }
    if (vch > 0 && (!tc->set || ts < tc->ts)) { /* first */
        tc->set = true;
        tc->ts = ts;
        snprintf(tc->str, sizeof(tc->str), "%s", json_string_value(channel));
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *amount = json_object_get(o, "amount");
    if (type && strcmp(type, "purchase") == 0) {
        assert_true(json_is_number(amount));
        int64_t micros = (int64_t)llround(json_number_value(amount) * 100.0) * 10000;
        int64_t day = day_of(ts);
        m->purchases++;
        count(m, c, day, C_ORDERS, 1);
        count(m, c, day, C_REVENUE, micros);
        if (!c->bought) {
            c->bought = true;
            c->first_purchase = ts;
            count(m, c, day, C_NEW, 1);
        } else if (ts < c->first_purchase) {
            /* an earlier first purchase: the new customer moves to its day */
            count(m, c, day_of(c->first_purchase), C_NEW, -1);
            count(m, c, day, C_NEW, 1);
            c->first_purchase = ts;
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

static void write_config(const char *path, const char *brokers, int redis_port)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"]},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"http\": {\"port\": 0},\n"
            " \"events\": {\"max_jump_s\": 0},\n"
            " \"traits\": [{\"name\": \"plan\", \"type\": \"string\"},\n"
            "   {\"name\": \"country\", \"field\": \"properties.country\", \"type\": \"string\",\n"
            "    \"update\": \"first\", \"on_invalid\": \"ignore\"},\n"
            "   {\"name\": \"channel\", \"type\": \"string\", \"update\": \"first\"},\n"
            "   {\"name\": \"company_size\", \"field\": \"properties.company_size\",\n"
            "    \"type\": \"number\", \"update\": \"max\"}],\n"
            " \"breakdowns\": [{\"dimension\": \"trait:plan\", \"values\": [\"basic\", \"pro\"]},\n"
            "   {\"dimension\": \"trait:channel\", \"values\": [\"organic\", \"social\", \"email\"]}]}\n",
            brokers, redis_port);
    fclose(f);
}

static void day_text(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int mismatches;

static void mismatch(const char *fmt, ...)
{
    if (mismatches++ < 40) {
        va_list ap;
        va_start(ap, fmt);
        printf("# ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

/* Per value: the customers_delta of every day adds up to the current
 * customers (views with orders >= 1, not churned) holding that value. */
static size_t compare_customers(redisContext *rc, const model *m, int dim, const char **slots,
                                long long *want)
{
    long long got[5] = {0};
    slots[0] = "other";
    slots[1] = "(none)";
    size_t ns = 2;
    for (int v = 0; LISTED[dim][v]; v++)
        slots[ns++] = LISTED[dim][v];
    redisReply *keys = redisCommand(rc, "KEYS clm:breakdown:trait:%s:*", DIM[dim]);
    assert_non_null(keys);
    for (size_t i = 0; i < keys->elements; i++)
        for (size_t s = 0; s < ns; s++) {
            char f[96];
            snprintf(f, sizeof(f), "%s\tcustomers_delta", slots[s]);
            got[s] += harness_redis_hget_int(rc, keys->element[i]->str, f);
        }
    freeReplyObject(keys);
    for (size_t i = 0; i < m->n; i++) {
        redisReply *r = redisCommand(rc, "HMGET clm:customer:%s orders stage trait:%s", m->c[i].id,
                                     DIM[dim]);
        assert_non_null(r);
        assert_int_equal(r->elements, 3);
        bool current = r->element[0]->type == REDIS_REPLY_STRING && atoll(r->element[0]->str) >= 1 &&
                       !(r->element[1]->type == REDIS_REPLY_STRING &&
                         strcmp(r->element[1]->str, "churned") == 0);
        const char *v = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : NULL;
        size_t s = v ? 0 : 1;
        for (size_t k = 2; v && k < ns; k++)
            if (strcmp(v, slots[k]) == 0)
                s = k;
        want[s] += current;
        freeReplyObject(r);
    }
    for (size_t s = 0; s < ns; s++) {
        printf("# %s %s: %lld current customers\n", DIM[dim], slots[s], want[s]);
        if (got[s] != want[s])
            mismatch("%s %s: customers_delta adds up to %lld, views say %lld", DIM[dim], slots[s],
                     got[s], want[s]);
    }
    return ns;
}

static const char *clmctl_bin(void)
{
    const char *p = getenv("CLMCTL_BIN");
    return p ? p : "clmctl";
}

/* Runs clmctl -c cfg args... (NULL-terminated, at most 8); exit 0
 * expected; returns its output (free it). */
static char *clmctl(const char *cfg, const char *dir, const char *const *args)
{
    const char *argv[12] = {clmctl_bin(), "-c", cfg};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 11; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char log[256];
    snprintf(log, sizeof(log), "%s/clmctl.out", dir);
    harness_proc *p = NULL;
    int st = 0;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    CHECK(harness_proc_wait(p, 60000, &st, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t len = fread(buf, 1, (1 << 20) - 1, f);
    buf[len] = '\0';
    fclose(f);
    unlink(log); /* the next run's log starts empty */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("clmctl %s: wait status %#x; output:\n%s", args[0], st, buf);
    return buf;
}

/* clmctl breakdown over every day: orders and revenue per value as the
 * model sums them, customers_end as the views count them (want_customers,
 * by slot text); then its table and CSV forms. */
static void check_clmctl(const char *cfg, const char *dir, model *m, int dim,
                         const char *const *slots, const long long *want_customers, size_t ns)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < m->nk; i++) {
        lo = m->k[i].day < lo ? m->k[i].day : lo;
        hi = m->k[i].day > hi ? m->k[i].day : hi;
    }
    char from[16], to[16], dimarg[32];
    day_text(lo, from);
    day_text(hi, to);
    snprintf(dimarg, sizeof(dimarg), "trait:%s", DIM[dim]);
    const char *json_args[] = {"--json", "breakdown", dimarg, "--from", from, "--to", to, NULL};
    char *out = clmctl(cfg, dir, json_args);
    json_t *doc = json_loads(out, 0, NULL);
    if (!doc)
        fail_msg("clmctl breakdown --json: not JSON:\n%s", out);
    json_t *values = json_object_get(doc, "values");
    assert_true(json_array_size(values) >= 3);
    for (size_t s = 0; s < ns; s++) {
        int64_t orders = 0, revenue = 0;
        for (size_t i = 0; i < m->nk; i++)
            if (m->k[i].dim == dim && strcmp(m->k[i].value, slots[s]) == 0) {
                orders += m->k[i].counter == C_ORDERS ? m->k[i].n : 0;
                revenue += m->k[i].counter == C_REVENUE ? m->k[i].n : 0;
            }
        json_t *row = NULL, *v;
        size_t i;
        json_array_foreach(values, i, v)
            if (strcmp(json_string_value(json_object_get(v, "value")), slots[s]) == 0)
                row = v;
        long long got_orders = row ? json_integer_value(json_object_get(row, "orders")) : 0;
        long long got_revenue = row ? json_integer_value(json_object_get(row, "revenue_micros")) : 0;
        long long got_customers = row ? json_integer_value(json_object_get(row, "customers_end")) : 0;
        if (got_orders != orders || got_revenue != revenue || got_customers != want_customers[s])
            mismatch("clmctl breakdown %s %s: orders %lld revenue %lld customers %lld, want %lld "
                     "%lld %lld", dimarg, slots[s], got_orders, got_revenue, got_customers,
                     (long long)orders, (long long)revenue, want_customers[s]);
    }
    json_decref(doc);
    free(out);
    const char *table_args[] = {"breakdown", dimarg, "--from", from, "--to", to, NULL};
    out = clmctl(cfg, dir, table_args);
    assert_non_null(strstr(out, "churn_rate"));
    assert_non_null(strstr(out, "other"));
    free(out);
    const char *csv_args[] = {"--csv", "breakdown", DIM[dim], "--last", "3650", NULL};
    out = clmctl(cfg, dir, csv_args);
    if (strncmp(out, "value,revenue,orders,new_customers,churned,churn_rate,", 54) != 0)
        fail_msg("clmctl --csv breakdown %s: %s", DIM[dim], out);
    free(out);
}

/* Every model counter is in Redis, and every field of the three modelled
 * counters in Redis is in the model. */
static void compare(redisContext *rc, model *m)
{
    for (size_t i = 0; i < m->nk; i++) {
        const mcount *k = &m->k[i];
        char d[16], key[128], field[128];
        day_text(k->day, d);
        snprintf(key, sizeof(key), "clm:breakdown:trait:%s:%s", DIM[k->dim], d);
        snprintf(field, sizeof(field), "%s\t%s", k->value, COUNTER[k->counter]);
        long long got = harness_redis_hget_int(rc, key, field);
        if (got != k->n)
            mismatch("%s %s: want %lld, got %lld", key, k->value, (long long)k->n, got);
    }
    redisReply *keys = redisCommand(rc, "KEYS clm:breakdown:trait:*");
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    assert_true(keys->elements >= 20);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *key = keys->element[i]->str;
        int dim = strncmp(key, "clm:breakdown:trait:plan:", 25) == 0 ? D_PLAN
                  : strncmp(key, "clm:breakdown:trait:channel:", 28) == 0 ? D_CHANNEL : -1;
        assert_true(dim >= 0);
        const char *d = strrchr(key, ':') + 1;
        int y, mo, dd;
        assert_int_equal(sscanf(d, "%d-%d-%d", &y, &mo, &dd), 3);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = dd};
        int64_t day = (int64_t)timegm(&tm) / 86400;
        redisReply *h = redisCommand(rc, "HGETALL %s", key);
        assert_non_null(h);
        int64_t sums[NALL] = {0};
        for (size_t j = 0; j + 1 < h->elements; j += 2) {
            char value[96];
            snprintf(value, sizeof(value), "%s", h->element[j]->str);
            char *tab = strchr(value, '\t');
            assert_non_null(tab);
            *tab = '\0';
            const char *ctr = tab + 1;
            int64_t n = strtoll(h->element[j + 1]->str, NULL, 10);
            /* a bounded set of slots: listed values, other, (none) */
            bool known = strcmp(value, "other") == 0 || strcmp(value, "(none)") == 0;
            for (int v = 0; LISTED[dim][v]; v++)
                known |= strcmp(value, LISTED[dim][v]) == 0;
            if (!known)
                mismatch("%s: field of an unlisted value %s", key, value);
            for (int c = 0; c < NCOUNTERS; c++)
                if (strcmp(ctr, COUNTER[c]) == 0 && *count_of(m, dim, value, day, c) != n)
                    mismatch("%s %s %s: %lld not in the model", key, value, ctr, (long long)n);
            for (size_t c = 0; c < NALL; c++)
                if (strcmp(ctr, ALL_COUNTERS[c]) == 0)
                    sums[c] += n;
        }
        freeReplyObject(h);
        char dk[64];
        snprintf(dk, sizeof(dk), "clm:day:%s", d);
        for (size_t c = 0; c < NALL; c++) {
            long long want = harness_redis_hget_int(rc, dk, ALL_COUNTERS[c]);
            if (want != sums[c])
                mismatch("%s: %s over the values %lld, day counter %lld", key, ALL_COUNTERS[c],
                         (long long)sums[c], want);
        }
    }
    freeReplyObject(keys);
}

static void breakdown_stream(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 23;
    o.customers = 800;
    o.events = 15000;
    o.days = 150;
    o.malformed_rate = 0.01;
    o.dup_rate = 0;
    o.traits = true;

    char tmp[64] = "/tmp/clm-bd-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&o, &g, errbuf, sizeof(errbuf)));
    harness_kv *msgs = calloc((size_t)o.events, sizeof(*msgs));
    assert_non_null(msgs);
    model m = {0};
    size_t total = 0;
    clm_gen_msg gm;
    while (clm_gen_next(g, &gm) == 1) {
        char *b = malloc(gm.key_len + gm.value_len + 1);
        assert_non_null(b);
        memcpy(b, gm.key, gm.key_len);
        memcpy(b + gm.key_len, gm.value, gm.value_len);
        msgs[total++] = (harness_kv){.key = b, .key_len = gm.key_len, .value = b + gm.key_len,
                                     .value_len = gm.value_len};
        if (!gm.malformed)
            model_msg(&m, gm.value, gm.value_len);
    }
    clm_gen_free(g);
    assert_int_equal(total, o.events);

    harness_kafka *kafka = NULL;
    harness_redis *redis = NULL;
    CHECK(harness_kafka_start(1, &kafka, errbuf, sizeof(errbuf)));
    const char *brokers = harness_kafka_bootstraps(kafka);
    CHECK(harness_kafka_create_topic(kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)));
    CHECK(harness_kafka_create_topic(kafka, DLQ, 1, errbuf, sizeof(errbuf)));
    CHECK(harness_produce(brokers, TOPIC, msgs, total, false, 60000, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_start(&redis, errbuf, sizeof(errbuf)));

    char cfg[128], log[128];
    snprintf(cfg, sizeof(cfg), "%s/clmd.json", tmp);
    snprintf(log, sizeof(log), "%s/clmd.log", tmp);
    write_config(cfg, brokers, harness_redis_port(redis));
    redisContext *rc = NULL;
    CHECK(harness_redis_connect(redis, &rc, errbuf, sizeof(errbuf)));
    const char *argv[] = {harness_clmd_bin(), "-c", cfg, NULL};
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    progress pr = {.c = rc, .want = (long long)total};
    if (harness_wait_until(reached, &pr, 60000) < 0)
        fail_msg("clmd consumed %lld of %zu messages within 60 s (log: %s)",
                 harness_redis_hget_int(rc, "clm:stats", "consumed"), total, log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);

    assert_int_equal(harness_redis_hget_int(rc, "clm:rejected", "late_dropped"), 0);
    assert_int_equal(harness_redis_hget_int(rc, "clm:stats", "applied"), m.applied);
    printf("# %zu customers, %lld purchases, %zu model counters\n", m.n, m.purchases, m.nk);
    assert_true(m.purchases >= 200);
    /* the stream reaches every kind of slot */
    static const char *const want_slots[] = {"basic", "pro", "other", "(none)"};
    size_t seen[NDIMS][4] = {{0}};
    for (size_t i = 0; i < m.nk; i++)
        for (size_t s = 0; s < 4; s++)
            if (m.k[i].counter == C_ORDERS && m.k[i].n && strcmp(m.k[i].value, want_slots[s]) == 0)
                seen[m.k[i].dim][s]++;
    assert_true(seen[D_PLAN][0] && seen[D_PLAN][1] && seen[D_PLAN][2]);
    assert_true(seen[D_CHANNEL][2]);

    mismatches = 0;
    compare(rc, &m);
    for (int d = 0; d < NDIMS; d++) {
        const char *slots[5];
        long long want[5] = {0};
        size_t ns = compare_customers(rc, &m, d, slots, want);
        check_clmctl(cfg, tmp, &m, d, slots, want, ns);
    }
    if (mismatches)
        fail_msg("%d breakdown counters differ (first 40 above; clmd log: %s)", mismatches, log);

    redisFree(rc);
    harness_redis_free(redis);
    harness_kafka_free(kafka);
    for (size_t i = 0; i < total; i++)
        free((void *)msgs[i].key);
    free(msgs);
    free(m.c);
    free(m.k);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breakdown_stream),
    };
    return cmocka_run_group_tests_name("breakdown-e2e", tests, NULL, NULL);
}
