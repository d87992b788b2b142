/* tests/test-cluster-jobs.c - the KPI job, the model job and the alert
 * publisher on Redis Cluster behave as on one server.
 *
 * One generated stream (tools/gen.h) is produced into the Kafka mock
 * cluster (tests/harness.h). clmd consumes it twice, with the KPI job, the
 * model job and the alert publisher on: once into one redis-server, once
 * into a harness cluster of 3 masters with 1 replica each
 * (tests/harness_cluster.h, redis.cluster set), each run publishing its
 * alerts to a topic of its own. In each run, once every message is
 * consumed, a refit is requested (as `clmctl refit` does: HSET <prefix>model
 * refit_requested) and waited for, then clmd stops (its KPI job runs once
 * more on the way out). Then, read from the server and from the cluster
 * (clm_cluster_command, key by key):
 *   same_jobs   every kpi:<N>d hash of kpi.windows, and <prefix>model
 *               (without its clock fields), hold the same fields with the
 *               same values (numbers to 1e-6 relative: the fit sums in
 *               the order the customers are read, which differs);
 *               <prefix>kpi:history holds the same entries (ids, fields,
 *               text) and <prefix>kpi:cohorts the same document but for
 *               computed_at_ms; the alerts outbox is drained (HLEN 0) in both; both alert
 *               topics hold the same set of alert ids, not empty; the
 *               Alertmanager sink (a real prometheus-alertmanager,
 *               tests/harness_am.h) drained the page stream in both, with
 *               as many alerts firing (on the cluster its keys share the
 *               hash tag {alerts:page}).
 *   take_over   clmd of another group started with --take-over on that
 *               cluster: the new group owns the prefix, holds the old
 *               group's offsets and checkpoints under its own names,
 *               applies no event again, and the old group's keys are gone.
 * The suite fails (never skips) when redis-server, the cluster or clmd
 * cannot be started.
 */
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/redis_cluster.h"
#include "tests/harness.h"
#include "tests/harness_am.h"
#include "tests/harness_cluster.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define PARTITIONS 4
#define GROUP "clm-jobs"
#define NWINDOWS 3

static const int windows[NWINDOWS] = { 7, 30, 90 };

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* One run's store: one server (c) or a cluster (cl). */
typedef struct store {
    harness_redis *redis;
    harness_cluster *cluster;
    redisContext *c;
    clm_cluster *cl;
    const char *alert_topic;
    const char *group;
    char cfg[128], log[128];
} store;

typedef struct fixture {
    char tmp[64];
    harness_kafka *kafka;
    harness_am *am;
    int64_t produced;
    store cl; /* the cluster of same_jobs, for take_over */
} fixture;

static fixture F;

static redisReply *command(store *s, int argc, const char **argv)
{
    redisReply *r = s->cl ? clm_cluster_command(s->cl, 1, argc, argv, NULL, errbuf, sizeof(errbuf))
                          : redisCommandArgv(s->c, argc, argv, NULL);
    if (!r)
        fail_msg("%s %s: %s", argv[0], argv[1], s->cl ? errbuf : s->c->errstr);
    return r;
}

static long long hget_int(store *s, const char *key, const char *field)
{
    const char *argv[] = { "HGET", key, field };
    redisReply *r = command(s, 3, argv);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return v;
}

static void write_config(store *s)
{
    FILE *f = fopen(s->cfg, "w");
    assert_non_null(f);
    char redis[1200];
    if (s->cluster)
        snprintf(redis, sizeof(redis), "{\"cluster\": \"%s\"}", harness_cluster_seeds(s->cluster));
    else
        snprintf(redis, sizeof(redis), "{\"port\": %d}", harness_redis_port(s->redis));
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"%s\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": %s,\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2, \"shutdown_timeout_s\": 10},\n"
            " \"http\": {\"port\": 0},\n"
            " \"kpi\": {\"refresh_ms\": 100},\n"
            " \"model\": {\"min_customers\": 10},\n"
            " \"events\": {\"allowed_lateness_s\": 0},\n"
            " \"alerts\": {\"topic\": \"%s\", \"min_clv\": 50, \"rate_per_s\": 100000, "
            "\"burst\": 100000,\n"
            "   \"alertmanager\": {\"url\": \"http://127.0.0.1:%d\", \"resend_s\": 5}}}\n",
            harness_kafka_bootstraps(F.kafka), s->group ? s->group : GROUP, redis, s->alert_topic,
            harness_am_port(F.am));
    fclose(f);
}

typedef struct progress {
    store *s;
    const char *key, *field, *want;
    long long n;
} progress;

static bool consumed_all(void *arg)
{
    progress *p = arg;
    return hget_int(p->s, "clm:stats", "consumed") >= p->n;
}

static bool field_is(void *arg)
{
    progress *p = arg;
    const char *argv[] = { "HGET", p->key, p->field };
    redisReply *r = command(p->s, 3, argv);
    bool is = r->type == REDIS_REPLY_STRING && strcmp(r->str, p->want) == 0;
    freeReplyObject(r);
    return is;
}

static bool page_drained(void *arg)
{
    progress *p = arg;
    const char *argv[] = { "XLEN", "clm:alerts:page" };
    redisReply *r = command(p->s, 2, argv);
    bool empty = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    return empty;
}

static bool outbox_empty(void *arg)
{
    progress *p = arg;
    const char *argv[] = { "HLEN", "clm:alerts:outbox" };
    redisReply *r = command(p->s, 2, argv);
    bool empty = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    return empty;
}

/* clmd over the whole stream, a refit, and a clean stop. */
static void run_clmd(store *s)
{
    write_config(s);
    const char *argv[] = { harness_clmd_bin(), "-c", s->cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, s->log, &p, errbuf, sizeof(errbuf)));
    progress pr = { .s = s, .n = F.produced };
    if (harness_wait_until(consumed_all, &pr, 180000) < 0)
        fail_msg("clmd consumed %lld of %lld messages (log %s)",
                 hget_int(s, "clm:stats", "consumed"), (long long)F.produced, s->log);
    const char *refit[] = { "HSET", "clm:model", "refit_requested", "jobs-1" };
    freeReplyObject(command(s, 4, refit));
    progress done = { .s = s, .key = "clm:model", .field = "refit_done", .want = "jobs-1" };
    if (harness_wait_until(field_is, &done, 120000) < 0)
        fail_msg("no refit within 120 s (log %s)", s->log);
    progress ok = { .s = s, .key = "clm:model", .field = "status", .want = "ok" };
    if (!field_is(&ok)) {
        const char *why[] = { "HGET", "clm:model", "last_error" };
        redisReply *r = command(s, 3, why);
        fail_msg("the refit failed: %s (log %s)", r->type == REDIS_REPLY_STRING ? r->str : "?",
                 s->log);
    }
    if (harness_wait_until(outbox_empty, &pr, 60000) < 0)
        fail_msg("the alerts outbox was not drained within 60 s (log %s)", s->log);
    if (harness_wait_until(page_drained, &pr, 60000) < 0)
        fail_msg("the Alertmanager sink did not drain clm:alerts:page within 60 s (log %s)", s->log);
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 60000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

/* ---- comparing ------------------------------------------------------------ */

typedef struct fields {
    char **name, **value;
    size_t n;
} fields;

static int by_name(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* A hash's fields, sorted by name, without those named in skip. */
static fields read_hash(store *s, const char *key, const char *const *skip)
{
    const char *argv[] = { "HGETALL", key };
    redisReply *r = command(s, 2, argv);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    fields f = { calloc(r->elements + 1, sizeof(char *)), calloc(r->elements + 1, sizeof(char *)), 0 };
    char ***pairs = calloc(r->elements / 2 + 1, sizeof(*pairs));
    assert_true(f.name && f.value && pairs);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        bool skipped = false;
        for (size_t k = 0; skip && skip[k]; k++)
            skipped |= strcmp(r->element[i]->str, skip[k]) == 0;
        if (skipped)
            continue;
        char **pair = calloc(2, sizeof(char *));
        assert_non_null(pair);
        pair[0] = strdup(r->element[i]->str);
        pair[1] = strdup(r->element[i + 1]->str);
        pairs[f.n++] = pair;
    }
    freeReplyObject(r);
    qsort(pairs, f.n, sizeof(*pairs), by_name);
    for (size_t i = 0; i < f.n; i++) {
        f.name[i] = pairs[i][0];
        f.value[i] = pairs[i][1];
        free(pairs[i]);
    }
    free(pairs);
    return f;
}

static void fields_free(fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    free(f->name);
    free(f->value);
}

static long long hlen(store *s, const char *key)
{
    const char *argv[] = { "HLEN", key };
    redisReply *r = command(s, 2, argv);
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

static bool same_value(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea == a || eb == b || *ea || *eb)
        return false;
    return fabs(x - y) <= 1e-6 * fmax(fabs(x), fabs(y)) + 1e-6;
}

static void compare_hash(store *one, store *cl, const char *key, const char *const *skip)
{
    fields a = read_hash(one, key, skip), b = read_hash(cl, key, skip);
    if (a.n == 0)
        fail_msg("%s is empty on one server", key);
    for (size_t i = 0, k = 0; i < a.n || k < b.n;) {
        int d = i == a.n ? 1 : k == b.n ? -1 : strcmp(a.name[i], b.name[k]);
        if (d < 0)
            fail_msg("%s field %s = %s on one server, absent on the cluster", key, a.name[i],
                     a.value[i]);
        if (d > 0)
            fail_msg("%s field %s = %s on the cluster, absent on one server", key, b.name[k],
                     b.value[k]);
        if (!same_value(a.value[i], b.value[k]))
            fail_msg("%s field %s: %s on one server, %s on the cluster", key, a.name[i],
                     a.value[i], b.value[k]);
        i++;
        k++;
    }
    fields_free(&a);
    fields_free(&b);
}

/* <prefix>kpi:history: the same entries (ids, fields, order, text) on both. */
static size_t compare_history(store *one, store *cl)
{
    const char *argv[] = { "XRANGE", "clm:kpi:history", "-", "+" };
    redisReply *a = command(one, 4, argv), *b = command(cl, 4, argv);
    assert_int_equal(a->type, REDIS_REPLY_ARRAY);
    assert_int_equal(b->type, REDIS_REPLY_ARRAY);
    if (a->elements == 0)
        fail_msg("clm:kpi:history is empty on one server");
    if (a->elements != b->elements)
        fail_msg("clm:kpi:history: %zu entries on one server, %zu on the cluster", a->elements,
                 b->elements);
    for (size_t i = 0; i < a->elements; i++) {
        redisReply *x = a->element[i], *y = b->element[i];
        if (strcmp(x->element[0]->str, y->element[0]->str) != 0)
            fail_msg("clm:kpi:history entry %zu: id %s on one server, %s on the cluster", i,
                     x->element[0]->str, y->element[0]->str);
        redisReply *fx = x->element[1], *fy = y->element[1];
        for (size_t k = 0; k < fx->elements || k < fy->elements; k++) {
            const char *vx = k < fx->elements ? fx->element[k]->str : "(none)";
            const char *vy = k < fy->elements ? fy->element[k]->str : "(none)";
            if (strcmp(vx, vy) != 0)
                fail_msg("clm:kpi:history %s (%s), item %zu: %s on one server, %s on the cluster",
                         x->element[0]->str, fx->element[1]->str, k, vx, vy);
        }
    }
    size_t n = a->elements;
    freeReplyObject(a);
    freeReplyObject(b);
    return n;
}

/* <prefix>kpi:cohorts: the same document but for computed_at_ms. */
static void compare_cohorts(store *one, store *cl)
{
    const char *argv[] = { "GET", "clm:kpi:cohorts" };
    redisReply *a = command(one, 2, argv), *b = command(cl, 2, argv);
    assert_int_equal(a->type, REDIS_REPLY_STRING);
    assert_int_equal(b->type, REDIS_REPLY_STRING);
    json_t *x = json_loads(a->str, 0, NULL), *y = json_loads(b->str, 0, NULL);
    assert_true(x && y);
    assert_true(json_array_size(json_object_get(x, "cohorts")) > 0);
    json_object_del(x, "computed_at_ms");
    json_object_del(y, "computed_at_ms");
    if (!json_equal(x, y))
        fail_msg("clm:kpi:cohorts: %s on one server, %s on the cluster", a->str, b->str);
    json_decref(x);
    json_decref(y);
    freeReplyObject(a);
    freeReplyObject(b);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct alert ids of a topic's alerts, sorted; their number. */
static size_t alert_ids(const char *topic, char ***out)
{
    harness_records *rec = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), topic, 30000, &rec, errbuf,
                                   sizeof(errbuf)));
    char **ids = calloc(rec->n + 1, sizeof(char *));
    assert_non_null(ids);
    size_t n = 0;
    for (size_t i = 0; i < rec->n; i++) {
        json_t *d = rec->v[i].value ? json_loads(rec->v[i].value, 0, NULL) : NULL;
        const char *id = d ? json_string_value(json_object_get(d, "alert_id")) : NULL;
        if (id)
            ids[n++] = strdup(id);
        json_decref(d);
    }
    harness_records_free(rec);
    qsort(ids, n, sizeof(*ids), by_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && strcmp(ids[u - 1], ids[i]) == 0) {
            free(ids[i]);
            continue;
        }
        ids[u++] = ids[i];
    }
    *out = ids;
    return u;
}

/* ---- the test ---------------------------------------------------------------- */

static void same_jobs(void **state)
{
    (void)state;
    store one = { .alert_topic = "clm.alerts.one" };
    store cl = { .alert_topic = "clm.alerts.cluster" };
    snprintf(one.cfg, sizeof(one.cfg), "%s/one.json", F.tmp);
    snprintf(one.log, sizeof(one.log), "%s/one.log", F.tmp);
    snprintf(cl.cfg, sizeof(cl.cfg), "%s/cluster.json", F.tmp);
    snprintf(cl.log, sizeof(cl.log), "%s/cluster.log", F.tmp);
    CHECK(harness_redis_start(&one.redis, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(one.redis, &one.c, errbuf, sizeof(errbuf)));
    CHECK(harness_cluster_start(3, 1, &cl.cluster, errbuf, sizeof(errbuf)));
    clm_cluster_opts co = { .seeds = harness_cluster_seeds(cl.cluster), .timeout_ms = 5000 };
    CHECK(clm_cluster_new(&co, &cl.cl, errbuf, sizeof(errbuf)));

    run_clmd(&one);
    run_clmd(&cl);

    static const char *const model_clock[] = { "fit_ms", "fitted_at", "attempted_at",
                                               "scored_at", NULL };
    compare_hash(&one, &cl, "clm:model", model_clock);
    for (int w = 0; w < NWINDOWS; w++) {
        char key[64];
        snprintf(key, sizeof(key), "clm:kpi:%dd", windows[w]);
        compare_hash(&one, &cl, key, NULL);
    }
    size_t days = compare_history(&one, &cl);
    compare_cohorts(&one, &cl);
    assert_true(outbox_empty(&(progress){ .s = &one }));
    assert_true(outbox_empty(&(progress){ .s = &cl }));
    /* the Alertmanager sink: its keys share a hash tag on the cluster */
    long long firing_one = hlen(&one, "clm:alerts:firing"), firing_cl = hlen(&cl, "clm:{alerts:page}:firing");
    if (firing_one != firing_cl)
        fail_msg("%lld alerts firing on one server, %lld on the cluster", firing_one, firing_cl);
    const char *cur_one[] = { "GET", "clm:alerts:page:cursor" };
    const char *cur_cl[] = { "GET", "clm:{alerts:page}:cursor" };
    redisReply *c1 = command(&one, 2, cur_one), *c2 = command(&cl, 2, cur_cl);
    assert_int_equal(c1->type, REDIS_REPLY_STRING);
    assert_int_equal(c2->type, REDIS_REPLY_STRING);
    freeReplyObject(c1);
    freeReplyObject(c2);
    char **a = NULL, **b = NULL;
    size_t na = alert_ids(one.alert_topic, &a), nb = alert_ids(cl.alert_topic, &b);
    if (na == 0)
        fail_msg("no alert was published on one server");
    for (size_t i = 0, k = 0; i < na || k < nb; i++, k++) {
        int d = i == na ? 1 : k == nb ? -1 : strcmp(a[i], b[k]);
        if (d != 0)
            fail_msg("alert %s published %s only (%zu alerts on one server, %zu on the cluster)",
                     d < 0 ? a[i] : b[k], d < 0 ? "on one server" : "on the cluster", na, nb);
    }
    for (size_t i = 0; i < na; i++)
        free(a[i]);
    for (size_t i = 0; i < nb; i++)
        free(b[i]);
    free(a);
    free(b);
    print_message("# %lld messages, %zu alerts (%lld firing in Alertmanager), kpi, %zu days of "
                  "history, cohorts and model alike\n", (long long)F.produced, na, firing_one, days);

    F.cl = cl; /* for take_over */
    redisFree(one.c);
    harness_redis_free(one.redis);
}

static void progress_key(char *buf, size_t size, const char *group, int p)
{
    snprintf(buf, size, "clm:progress:{%s:%d}", group, p);
}

static bool owner_is(void *arg)
{
    progress *p = arg;
    const char *argv[] = { "GET", "clm:owner" };
    redisReply *r = command(p->s, 2, argv);
    bool is = r->type == REDIS_REPLY_STRING && strcmp(r->str, p->want) == 0;
    freeReplyObject(r);
    return is;
}

static long long exists(store *s, const char *key)
{
    const char *argv[] = { "EXISTS", key };
    redisReply *r = command(s, 2, argv);
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

/* clmd of another group with --take-over on the cluster of same_jobs: the
 * new group owns the prefix, continues from the old group's offsets (no
 * event applied again), and the old group's keys are gone. */
static void take_over(void **state)
{
    (void)state;
    store *s = &F.cl;
    if (!s->cl)
        fail_msg("same_jobs did not leave its cluster");
    const char *old = GROUP, *group = GROUP "-2";
    char key[128], offsets[PARTITIONS][64];
    long long consumed = hget_int(s, "clm:stats", "consumed");
    for (int p = 0; p < PARTITIONS; p++) {
        progress_key(key, sizeof(key), old, p);
        const char *argv[] = { "HGET", key, "offset:" TOPIC };
        redisReply *r = command(s, 3, argv);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        snprintf(offsets[p], sizeof(offsets[p]), "%s", r->str);
        freeReplyObject(r);
    }
    s->group = group;
    snprintf(s->log, sizeof(s->log), "%s/take-over.log", F.tmp);
    write_config(s);
    const char *argv[] = { harness_clmd_bin(), "-c", s->cfg, "--take-over", NULL };
    harness_proc *proc = NULL;
    CHECK(harness_proc_spawn(argv, s->log, &proc, errbuf, sizeof(errbuf)));
    progress own = { .s = s, .want = group };
    if (harness_wait_until(owner_is, &own, 60000) < 0)
        fail_msg("%s does not own the prefix within 60 s (log %s)", group, s->log);
    sleep(3); /* partitions assigned and a few flushes */
    CHECK(harness_proc_signal(proc, SIGTERM));
    CHECK(harness_proc_expect_exit(proc, 60000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(proc);
    assert_int_equal(hget_int(s, "clm:stats", "consumed"), consumed);
    for (int p = 0; p < PARTITIONS; p++) {
        progress_key(key, sizeof(key), group, p);
        progress at = { .s = s, .key = key, .field = "offset:" TOPIC, .want = offsets[p] };
        if (!field_is(&at))
            fail_msg("%s does not hold the old group's offset %s", key, offsets[p]);
        snprintf(key, sizeof(key), "clm:ckpt:{%s:%d}", group, p);
        assert_int_equal(exists(s, key), 1);
        progress_key(key, sizeof(key), old, p);
        assert_int_equal(exists(s, key), 0);
        snprintf(key, sizeof(key), "clm:ckpt:{%s:%d}", old, p);
        assert_int_equal(exists(s, key), 0);
    }
    assert_int_equal(exists(s, "clm:partitions:" GROUP), 0);
    assert_int_equal(exists(s, "clm:partitions:" GROUP "-2"), 1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-cjobs-XXXXXX");
    if (!mkdtemp(F.tmp) || harness_am_start(&F.am, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC ".dlq", 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, "clm.alerts.one", 1, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, "clm.alerts.cluster", 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# setup: %s\n", errbuf);
        return -1;
    }
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 42;
    o.customers = 2000;
    o.events = 40000;
    clm_gen *g = NULL;
    if (clm_gen_new(&o, &g, errbuf, sizeof(errbuf)) < 0 ||
        harness_produce_gen(harness_kafka_bootstraps(F.kafka), TOPIC, g, false, 120000, &F.produced,
                            errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# producing: %s\n", errbuf);
        clm_gen_free(g);
        return -1;
    }
    clm_gen_free(g);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clm_cluster_free(F.cl.cl);
    harness_cluster_stop(F.cl.cluster);
    harness_kafka_free(F.kafka);
    harness_am_free(F.am);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_jobs),
        cmocka_unit_test(take_over),
    };
    return cmocka_run_group_tests_name("cluster-jobs", tests, setup, teardown);
}
