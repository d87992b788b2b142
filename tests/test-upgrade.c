/* tests/test-upgrade.c - moving a running deployment from an earlier
 * release to this one without losing or double counting anything: from
 * 0.1.0 (v1 layout: one text hash per customer that doubles as the
 * checkpoint) and from 0.2.0 (binary checkpoint records version 2, alerts
 * rate-limited on wall time, no incidents).
 *
 * tests/data/upgrade-v{1,2,3}/dump.rdb are what
 * those releases left in Redis after consuming the first half of the stream
 * this file generates (see the README.md beside each; CLM_UPGRADE_MAKE_DUMP,
 * with CLM_UPGRADE_FROM=0.1.0, 0.2.0 or 0.3.0, re-creates one with that release's
 * clmd as CLMD_BIN). What an upgraded store may differ in from a clean run
 * (incidents opened before the upgrade are unknown to it) is in
 * tests/upgrade_compare.h.
 *
 *   v1_continues   Redis restored from that dump, this clmd consumes the rest
 *                  of the stream: every key equals a clean run of this clmd
 *                  over the whole stream (customers the upgrade could not yet
 *                  place in their partition's checkpoint are compared by
 *                  their decoded state), and no v1-only field is left on any
 *                  customer view. The exception is what the previous release
 *                  counted differently: it applied re-sent customer-less
 *                  events again, so their spend, their count as applied and
 *                  the cpa built on them are worked out apart.
 *   v2_continues   the same from 0.2.0's dump: every key equals a clean run,
 *                  records compared in this release's encoding, and the
 *                  alerts raised after the upgrade are the clean run's.
 *   v3_continues   the same from 0.3.0's dump (tests/data/upgrade-v3; one
 *                  transaction per flush with counters summed per worker,
 *                  where this release keeps them per partition).
 * A missing redis-server or clmd fails the test; nothing is skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <time.h>

#include "core/event.h"

#include "tests/harness.h"
#include "tests/upgrade_compare.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define GROUP "clmd-up"
#define PARTITIONS 4

static char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    harness_stream stream;
    harness_kv *msgs; /* stream.msgs */
    size_t total, half;
    int64_t v1_extra; /* customer-less re-sends the upgraded run applies again */
    bool produced_first, produced_rest; /* the halves are on the topic */
    harness_redis *clean; /* this release over the whole stream (clean_run) */
    redisContext *clean_rc;
    char *clean_dump;
} fixture;

static fixture F;

/* `previous`: the config the previous release runs with (it knows no
 * events.max_jump_s). This release runs with the watermark rule off
 * (events.max_jump_s 0), as the previous release had it: the dump's first
 * half was consumed that way, and the clean run must consume it alike. */
static void write_config(const char *path, int redis_port, bool previous)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"" GROUP "\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            "%s"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": 50},\n"
            " \"core\": {\"workers\": 2},\n"
            " \"http\": {\"port\": 0},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000},\n"
            /* the v1 release counted every event as activity: so does the
             * run it is compared with */
            " \"lifecycle\": {\"inactive_types\": []},\n"
            " \"log\": {\"level\": \"info\"}}\n",
            harness_kafka_bootstraps(F.kafka), previous ? "" : " \"events\": {\"max_jump_s\": 0},\n",
            redis_port);
    fclose(f);
}

static harness_proc *start_clmd(const char *cfg, const char *log)
{
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
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

static void wait_consumed(harness_redis *r, long long want)
{
    long long got;
    if (harness_wait_consumed(r, want, 180000, &got) < 0)
        fail_msg("clmd consumed %lld of %lld messages within 180 s", got, want);
}

static void produce(size_t from, size_t to)
{
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, F.msgs + from, to - from, true,
                          60000, errbuf, sizeof(errbuf)));
}

/* CLM_UPGRADE_MAKE_DUMP=<path>: an earlier release (CLM_UPGRADE_FROM 0.1.0,
 * the default, 0.2.0 or 0.3.0) consumes the first half and its Redis is
 * saved to <path>. 0.2.0 and 0.3.0 run with this release's config. */
static int make_dump(const char *path)
{
    const char *from = getenv("CLM_UPGRADE_FROM");
    bool v1 = !from || strcmp(from, "0.1.0") == 0;
    harness_redis *r = NULL;
    char cfg[128], log[128], cmd[512];
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    produce(0, F.half);
    snprintf(cfg, sizeof(cfg), "%s/v1.json", F.tmp);
    snprintf(log, sizeof(log), "%s/v1.log", F.tmp);
    write_config(cfg, harness_redis_port(r), v1);
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(r, (long long)F.half);
    stop_clmd(p);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    redisReply *rep = redisCommand(c, "SAVE");
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
    snprintf(cmd, sizeof(cmd), "cp '%s/dump.rdb' '%s'", harness_redis_dir(r), path);
    assert_int_equal(system(cmd), 0);
    harness_redis_free(r);
    printf("# wrote %s\n", path);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-upgrade-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, PARTITIONS, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# kafka: %s\n", errbuf);
        return -1;
    }
    /* the stream of tests/data/upgrade-v1/README.md: do not change it */
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = 11;
    o.customers = 600;
    o.events = 12000;
    o.malformed_rate = 0.01;
    o.dup_rate = 0.01;
    if (harness_stream_gen(&o, &F.stream, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# stream: %s\n", errbuf);
        return -1;
    }
    F.msgs = F.stream.msgs;
    F.total = F.stream.n;
    F.half = F.total / 2;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.clean_rc)
        redisFree(F.clean_rc);
    harness_redis_free(F.clean);
    free(F.clean_dump);
    harness_kafka_free(F.kafka);
    harness_stream_free(&F.stream);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.tmp);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static char *dump(harness_redis *r)
{
    redisContext *c = NULL;
    char *out = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_dump(c, NULL, &out, errbuf, sizeof(errbuf)));
    redisFree(c);
    return out;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a dump into its lines (modified in place). */
static char **lines_of(char *d, size_t *n)
{
    size_t cap = 1024;
    char **v = malloc(cap * sizeof(*v));
    *n = 0;
    for (char *save = NULL, *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        v[(*n)++] = l;
    }
    return v;
}

/* ---- what the previous release counted differently --------------------- */

/* Re-sent customer-less events (marketing_spend): the previous release
 * applied them again, and partitions start this release with no remembered
 * ids. So an id first sent in the first half is applied again by the
 * upgraded run at each re-send in the first half and at its first re-send
 * in the second; a clean run applies it once. Their amounts per day (the
 * only counter they touch) are v1_spend. */
typedef struct day_spend {
    char day[11];
    int64_t micros;
} day_spend;

static void v1_extra_spend(day_spend *v, size_t *n, size_t cap)
{
    char (*ids)[CLM_ID_MAX + 1] = calloc(F.total, sizeof(*ids));
    bool *first_half = calloc(F.total, sizeof(*first_half));
    bool *readded = calloc(F.total, sizeof(*readded));
    size_t nids = 0;
    assert_true(ids && first_half && readded);
    *n = 0;
    F.v1_extra = 0;
    for (size_t i = 0; i < F.total; i++) {
        json_t *o = json_loadb(F.msgs[i].value, F.msgs[i].value_len, 0, NULL);
        const char *eid = o ? json_string_value(json_object_get(o, "event_id")) : NULL;
        if (!o || json_object_get(o, "customer_id") || !eid || !*eid) {
            json_decref(o);
            continue;
        }
        size_t k;
        for (k = 0; k < nids && strcmp(ids[k], eid) != 0; k++)
            ;
        if (k == nids) {
            snprintf(ids[nids], sizeof(ids[0]), "%s", eid);
            first_half[nids++] = i < F.half;
        } else if (first_half[k] && (i < F.half || !readded[k])) {
            readded[k] = i >= F.half;
            json_t *ts = json_object_get(o, "ts");
            char day[11];
            if (json_is_string(ts)) {
                snprintf(day, sizeof(day), "%.10s", json_string_value(ts));
            } else {
                time_t t = (time_t)(json_integer_value(ts) / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(day, sizeof(day), "%Y-%m-%d", &tm);
            }
            int64_t micros = llround(json_number_value(json_object_get(o, "amount")) * 1e6);
            size_t d;
            for (d = 0; d < *n && strcmp(v[d].day, day) != 0; d++)
                ;
            if (d == *n) {
                assert_true(*n < cap);
                snprintf(v[(*n)++].day, sizeof(v[0].day), "%s", day);
            }
            v[d].micros += micros;
            F.v1_extra++;
        }
        json_decref(o);
    }
    free(ids);
    free(first_half);
    free(readded);
}

/* Drops the kpi hashes' cpa lines and the cpa field of each KPI history
 * entry (spend over new customers: the spend is compared instead). Returns
 * a new dump. */
static char *drop_cpa(const char *d)
{
    char *out = malloc(strlen(d) + 1), *o = out;
    assert_non_null(out);
    for (const char *l = d; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
        const char *cpa = strncmp(l, "clm:kpi:history stream ", 23) == 0 ? memmem(l, len, " cpa=", 5)
                                                                          : NULL;
        if (cpa) { /* the entry without " cpa=<value>" */
            const char *end = cpa + 5;
            while (end < l + len && *end != ' ' && *end != '\n')
                end++;
            memcpy(o, l, (size_t)(cpa - l));
            o += cpa - l;
            memcpy(o, end, (size_t)(l + len - end));
            o += l + len - end;
        } else if (!(strncmp(l, "clm:kpi:", 8) == 0 && memmem(l, len, " hash cpa=", 10))) {
            memcpy(o, l, len);
            o += len;
        }
        l += len;
    }
    *o = '\0';
    return out;
}

/* The clean run's dump as the upgraded run must differ from it: the spend
 * of the days those events are dated, and their count as applied rather
 * than duplicates; cpa lines dropped. Returns a new dump. */
static char *v1_counting(const char *want)
{
    day_spend v[64] = { 0 };
    size_t n;
    v1_extra_spend(v, &n, 64);
    char *in = drop_cpa(want);
    char *out = malloc(strlen(in) + 64 * (n + 2) + 1), *o = out;
    assert_non_null(out);
    for (const char *l = in; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
        char line[256];
        int64_t add = 0;
        bool money = false, changed = false;
        for (size_t d = 0; d < n && len < sizeof(line); d++)
            if (strncmp(l, "clm:day:", 8) == 0 && strncmp(l + 8, v[d].day, 10) == 0 && l[18] == ' ') {
                if (strncmp(l + 19, "hash spend_micros=", 18) == 0)
                    add = v[d].micros, changed = true;
                else if (strncmp(l + 19, "hash spend=", 11) == 0)
                    add = v[d].micros, money = changed = true;
            }
        if (strncmp(l, "clm:stats hash applied=", 23) == 0)
            add = F.v1_extra, changed = true;
        else if (strncmp(l, "clm:stats hash duplicates=", 26) == 0)
            add = -F.v1_extra, changed = true;
        if (changed) {
            const char *eq = memchr(l, '=', len);
            size_t klen = (size_t)(eq - l) + 1, vlen = len - klen - (e ? 1 : 0);
            int64_t cur = 0;
            char num[32];
            assert_int_equal(money ? clm_micros_parse(eq + 1, vlen, &cur)
                                   : (sscanf(eq + 1, "%" SCNd64, &cur) == 1 ? 0 : -1),
                             0);
            if (money)
                clm_micros_format(cur + add, num, sizeof(num));
            else
                snprintf(num, sizeof(num), "%" PRId64, cur + add);
            int w = snprintf(line, sizeof(line), "%.*s%s\n", (int)klen, l, num);
            memcpy(o, line, (size_t)w);
            o += w;
        } else {
            memcpy(o, l, len);
            o += len;
        }
        l += len;
    }
    *o = '\0';
    free(in);
    return out;
}

#define POOL "clm:upgrade:v1 hash "

/* A customer still in the upgrade pool sits where the clean run keeps it:
 * its pool line takes the clean run's checkpoint key with the same entry
 * (customer id and record bytes). Returns the rewritten dump, sorted. */
static char *place_pool(char *got, char *clean_copy, size_t *pooled)
{
    size_t ng, nc;
    char **g = lines_of(got, &ng), **cl = lines_of(clean_copy, &nc);
    size_t total = 0;
    *pooled = 0;
    for (size_t i = 0; i < ng; i++) {
        if (strncmp(g[i], POOL, strlen(POOL)) == 0) {
            const char *entry = g[i] + strlen(POOL);
            for (size_t k = 0; k < nc; k++) {
                const char *sp = strstr(cl[k], " hash ");
                if (strncmp(cl[k], "clm:ckpt:{", 10) == 0 && sp && strcmp(sp + 6, entry) == 0) {
                    g[i] = cl[k]; /* the same entry under the partition's key */
                    (*pooled)++;
                    break;
                }
            }
        }
        total += strlen(g[i]) + 1;
    }
    qsort(g, ng, sizeof(*g), cmp_line);
    char *out = malloc(total + 1), *w = out;
    for (size_t i = 0; i < ng; i++) {
        size_t l = strlen(g[i]);
        memcpy(w, g[i], l);
        w[l] = '\n';
        w += l + 1;
    }
    *w = '\0';
    free(g);
    free(cl);
    return out;
}

/* Redis restored from the previous release's dump, then this clmd over the
 * rest of the stream; compared with this clmd over the whole stream. */
/* This release over the whole stream into a fresh Redis, once: kept running
 * for the alert comparison. */
static void clean_run(void)
{
    if (F.clean)
        return;
    char cfg[128], log[128];
    CHECK(harness_redis_start(&F.clean, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/clean.json", F.tmp);
    snprintf(log, sizeof(log), "%s/clean.log", F.tmp);
    write_config(cfg, harness_redis_port(F.clean), false);
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(F.clean, (long long)F.total);
    stop_clmd(p);
    F.clean_dump = dump(F.clean);
    CHECK(harness_redis_connect(F.clean, &F.clean_rc, errbuf, sizeof(errbuf)));
}

/* Redis restored from an earlier release's dump (tests/data/<dir>/dump.rdb);
 * this clmd then consumes the rest of the stream. Returns the restored
 * server; *before gets the alert ids the dump held. */
static harness_redis *continue_from(const char *dir, const char *name, char ***before,
                                    size_t *nbefore)
{
    char cfg[128], log[128], path[512];
    if (!F.produced_first) {
        produce(0, F.half);
        F.produced_first = true;
    }
    harness_redis *up = NULL;
    CHECK(harness_redis_start(&up, errbuf, sizeof(errbuf)));
    snprintf(path, sizeof(path), "%s/%s/dump.rdb", CLM_TEST_DATA_DIR, dir);
    CHECK(harness_redis_load_rdb(up, path, errbuf, sizeof(errbuf)));
    redisContext *c = NULL;
    CHECK(harness_redis_connect(up, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "consumed"), (long long)F.half);
    *before = upgrade_stream_ids(c, nbefore);
    redisFree(c);
    snprintf(cfg, sizeof(cfg), "%s/%s.json", F.tmp, name);
    snprintf(log, sizeof(log), "%s/%s.log", F.tmp, name);
    write_config(cfg, harness_redis_port(up), false);
    harness_proc *p = start_clmd(cfg, log);
    if (!F.produced_rest) {
        produce(F.half, F.total);
        F.produced_rest = true;
    }
    wait_consumed(up, (long long)F.total);
    stop_clmd(p);
    return up;
}

/* The alerts: those raised after the upgrade are the clean run's. */
static void check_alerts(harness_redis *up, char **before, size_t nbefore)
{
    redisContext *c = NULL;
    CHECK(harness_redis_connect(up, &c, errbuf, sizeof(errbuf)));
    size_t n = upgrade_alerts_check(c, F.clean_rc, before, nbefore);
    printf("# %zu alerts before the upgrade, %zu raised after it, each the clean run's\n", nbefore, n);
    assert_true(n > 0);
    redisFree(c);
}

static void v1_continues(void **state)
{
    (void)state;

    char **before;
    size_t nbefore;
    harness_redis *up = continue_from("upgrade-v1", "up1", &before, &nbefore);
    redisContext *c = NULL;
    CHECK(harness_redis_connect(up, &c, errbuf, sizeof(errbuf)));

    /* no view keeps a field only the v1 layout had */
    redisReply *keys = redisCommand(c, "KEYS clm:customer:*");
    assert_true(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements > 400);
    static const char *const v1_only[] = { "dedup", "risk_state", "rfm", "active", "stage_entered",
                                           "source", "alert_armed", "alert_at", "risk_next",
                                           "lead_contact" };
    for (size_t i = 0; i < keys->elements; i++)
        for (size_t f = 0; f < sizeof(v1_only) / sizeof(v1_only[0]); f++) {
            redisReply *e = redisCommand(c, "HEXISTS %s %s", keys->element[i]->str, v1_only[f]);
            if (!e || e->integer != 0)
                fail_msg("%s still has the v1 field %s", keys->element[i]->str, v1_only[f]);
            freeReplyObject(e);
        }
    freeReplyObject(keys);
    redisFree(c);

    clean_run();
    char *want = upgrade_normalize(F.clean_dump), *raw = dump(up), *got = upgrade_normalize(raw);
    char *copy = strdup(want), diff[2048];
    free(raw);
    size_t pooled;
    char *placed = place_pool(got, copy, &pooled);
    printf("# %zu customers still in the upgrade pool, each equal to the clean run's record\n", pooled);
    char *fixed = v1_counting(want), *kept = drop_cpa(placed);
    printf("# the previous release applied %lld re-sent customer-less events again\n",
           (long long)F.v1_extra);
    if (harness_dump_diff(fixed, kept, diff, sizeof(diff)) != 0)
        fail_msg("the upgraded store differs from a clean run: %s", diff);
    free(want);
    free(fixed);
    free(kept);
    free(got);
    free(copy);
    free(placed);
    check_alerts(up, before, nbefore);
    upgrade_ids_free(before, nbefore);
    harness_redis_free(up);
}

/* A release's dump restored, this clmd consumes the rest: every key equals
 * a clean run (records compared in this release's encoding), and the
 * alerts raised after the upgrade are the clean run's. */
static void continues(const char *dir, const char *name)
{
    char **before;
    size_t nbefore;
    harness_redis *up = continue_from(dir, name, &before, &nbefore);
    clean_run();
    char *raw = dump(up), *got = upgrade_normalize(raw), *want = upgrade_normalize(F.clean_dump);
    char diff[2048];
    if (harness_dump_diff(want, got, diff, sizeof(diff)) != 0)
        fail_msg("the upgraded store differs from a clean run: %s", diff);
    check_alerts(up, before, nbefore);
    upgrade_ids_free(before, nbefore);
    free(raw);
    free(got);
    free(want);
    harness_redis_free(up);
}

static void v2_continues(void **state)
{
    (void)state;
    continues("upgrade-v2", "up2");
}

static void v3_continues(void **state)
{
    (void)state;
    continues("upgrade-v3", "up3");
}

static void make_dump_test(void **state)
{
    (void)state;
    make_dump(getenv("CLM_UPGRADE_MAKE_DUMP"));
}

int main(void)
{
    if (getenv("CLM_UPGRADE_MAKE_DUMP")) {
        const struct CMUnitTest mk[] = { cmocka_unit_test(make_dump_test) };
        return cmocka_run_group_tests_name("upgrade-make-dump", mk, setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_continues),
        cmocka_unit_test(v2_continues),
        cmocka_unit_test(v3_continues),
    };
    return cmocka_run_group_tests_name("upgrade", tests, setup, teardown);
}
