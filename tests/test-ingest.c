/* tests/test-ingest.c - the ingest path end to end, against real peers
 * (the shared mock cluster, stream and clmd helpers: tests/ingest_fixture.h).
 *
 * A librdkafka mock cluster (in this process) and real redis-server
 * processes; clmd runs as a child process, exactly as in production.
 *   stream_exact   a generated stream in -> every customer's fields, the
 *                  counters and the dead letters equal values recomputed here
 *                  independently from the generated messages
 *   kill9_restart  clmd killed with SIGKILL at random moments and restarted:
 *                  Redis ends identical, key by key, to an uninterrupted run;
 *                  that includes every alert (the stream <prefix>alerts) and
 *                  an empty outbox, i.e. every alert delivered to Kafka
 *                  (CLM_SOAK_EVENTS=1000000: the soak mode of scripts/test.sh)
 *   redis_restart  Redis stopped and restarted mid-stream: identical again
 * The suite fails (never skips) when redis-server or clmd cannot be started.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "core/event.h"
#include "tests/harness.h"
#include "tests/ingest_fixture.h"
#include "tools/gen.h"


/* ---- the independent model --------------------------------------------- */

typedef struct expect_cust {
    bool seen, active; /* active: has an activity event (not lifecycle.inactive_types) */
    int64_t first, last, events, orders, revenue, refunds;
    char last_type[32];
    char **ids; /* event ids applied */
    size_t nids, capids;
} expect_cust;

static int64_t parse_ts(json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    /* the generator writes "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    struct tm tm = { 0 };
    const char *s = json_string_value(v);
    assert_non_null(s);
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    int ms = 0;
    assert_int_equal(sscanf(rest, ".%3dZ", &ms), 1);
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static bool seen_id(expect_cust *c, const char *id)
{
    for (size_t i = 0; i < c->nids; i++)
        if (strcmp(c->ids[i], id) == 0)
            return true;
    if (c->nids == c->capids) {
        c->capids = c->capids ? c->capids * 2 : 8;
        c->ids = realloc(c->ids, c->capids * sizeof(*c->ids));
        assert_non_null(c->ids);
    }
    c->ids[c->nids++] = strdup(id);
    return false;
}

/* Replays the generator and applies the documented rules to every valid
 * message: events, orders, revenue and refunds (amounts rounded to micro
 * units), first seen as min of ts, last seen as max of the activity events'
 * ts (not cancel, refund, payment_failed, marketing_spend: absent when none),
 * last_type of that max with later arrivals winning ties, one application per
 * (customer, event_id) and one per event_id of customer-less events (a
 * message and its re-send share a key, hence a partition):
 * the test config remembers 64 ids per customer, more than the generator's
 * 16-message duplicate window, so the horizon never binds here. */
static expect_cust *model(size_t *ncust, int64_t *malformed, int64_t *dups, int64_t *by_reason,
                          const char *const *reasons, size_t nreasons)
{
    expect_cust *cs = calloc((size_t)F.gen.customers + 1, sizeof(*cs));
    assert_non_null(cs);
    clm_gen *g = NULL;
    CHECK(clm_gen_new(&F.gen, &g, errbuf, sizeof(errbuf)));
    clm_gen_msg m;
    *malformed = *dups = 0;
    while (clm_gen_next(g, &m) == 1) {
        if (m.malformed) {
            (*malformed)++;
            size_t i;
            for (i = 0; i < nreasons; i++)
                if (strcmp(reasons[i], m.reason) == 0)
                    break;
            assert_true(i < nreasons);
            by_reason[i]++;
            continue;
        }
        json_error_t je;
        json_t *o = json_loadb(m.value, m.value_len, 0, &je);
        assert_non_null(o);
        const char *type = json_string_value(json_object_get(o, "type"));
        json_t *cid = json_object_get(o, "customer_id");
        if (!cid) { /* marketing_spend: no customer */
            const char *eid = json_string_value(json_object_get(o, "event_id"));
            if (eid && seen_id(&cs[0], eid))
                (*dups)++;
            json_decref(o);
            continue;
        }
        long n = strtol(json_string_value(cid) + 2, NULL, 10);
        assert_true(n >= 1 && n <= F.gen.customers);
        expect_cust *c = &cs[n];
        const char *eid = json_string_value(json_object_get(o, "event_id"));
        if (eid && seen_id(c, eid)) {
            (*dups)++;
            json_decref(o);
            continue;
        }
        int64_t ts = parse_ts(json_object_get(o, "ts"));
        bool active = strcmp(type, "cancel") != 0 && strcmp(type, "refund") != 0 &&
                      strcmp(type, "payment_failed") != 0 && strcmp(type, "marketing_spend") != 0;
        if (!c->seen || ts < c->first)
            c->first = ts;
        if (active && (!c->active || ts >= c->last)) {
            c->last = ts;
            snprintf(c->last_type, sizeof(c->last_type), "%s", type);
            c->active = true;
        }
        c->seen = true;
        c->events++;
        json_t *amount = json_object_get(o, "amount");
        int64_t micros = amount ? (int64_t)llround(json_number_value(amount) * 1e6) : 0;
        if (strcmp(type, "purchase") == 0) {
            c->orders++;
            c->revenue += micros;
        } else if (strcmp(type, "refund") == 0) {
            c->refunds += micros;
        }
        json_decref(o);
    }
    clm_gen_free(g);
    *ncust = (size_t)F.gen.customers;
    return cs;
}

static void free_model(expect_cust *cs, size_t n)
{
    for (size_t i = 0; i <= n; i++) {
        for (size_t k = 0; k < cs[i].nids; k++)
            free(cs[i].ids[k]);
        free(cs[i].ids);
    }
    free(cs);
}

static void expect_field(redisReply *h, const char *cust, const char *field, const char *want)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, field) == 0) {
            if (strcmp(h->element[i + 1]->str, want) != 0)
                fail_msg("customer %s field %s: expected %s, got %s", cust, field, want,
                         h->element[i + 1]->str);
            return;
        }
    fail_msg("customer %s: field %s missing", cust, field);
}

static const char *header(const harness_record *rec, const char *name)
{
    for (size_t i = 0; i < rec->header_count; i++)
        if (strcmp(rec->headers[i].name, name) == 0)
            return rec->headers[i].value;
    return NULL;
}

/* ---- tests -------------------------------------------------------------- */

static void stream_exact(void **state)
{
    (void)state;
    if (!F.clean_dump)
        clean_run(&F.clean, &F.clean_dump);

    static const char *const reasons[] = {
        "too_large", "invalid_utf8", "invalid_json", "not_object", "missing_field", "wrong_type",
        "bad_type", "unknown_type", "bad_customer_id", "bad_event_id", "bad_timestamp",
        "future_timestamp", "bad_amount", "bad_score", "bad_duration", "key_mismatch",
    };
    size_t nr = sizeof(reasons) / sizeof(reasons[0]);
    int64_t by_reason[16] = { 0 }, malformed, dups;
    size_t ncust;
    expect_cust *cs = model(&ncust, &malformed, &dups, by_reason, reasons, nr);

    redisContext *c = NULL;
    CHECK(harness_redis_connect(F.clean, &c, errbuf, sizeof(errbuf)));

    /* counters: every message consumed once; applied + duplicates + rejected = consumed */
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "consumed"), F.total);
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "rejected"), malformed);
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "duplicates"), dups);
    assert_int_equal(harness_redis_hget_int(c, "clm:stats", "applied"), F.total - malformed - dups);
    assert_true(malformed > 300 && dups > 100); /* 2% and 1% of 30,000 */
    for (size_t i = 0; i < nr; i++)
        if (by_reason[i] != harness_redis_hget_int(c, "clm:rejected", reasons[i]))
            fail_msg("rejected %s: expected %lld, got %lld", reasons[i], (long long)by_reason[i],
                     harness_redis_hget_int(c, "clm:rejected", reasons[i]));

    /* the lifetime every customer's clv_pred is based on (gross margin 1) */
    redisReply *lt = redisCommand(c, "HGET clm:kpi:90d clv_lifetime_years");
    assert_true(lt && lt->type == REDIS_REPLY_STRING);
    double lifetime = strtod(lt->str, NULL);
    assert_true(lifetime > 0 && lifetime <= 5);
    freeReplyObject(lt);

    /* every customer, field by field */
    size_t expected_customers = 0;
    for (size_t n = 1; n <= ncust; n++) {
        expect_cust *e = &cs[n];
        char id[32], key[64], num[32];
        snprintf(id, sizeof(id), "c-%zu", n);
        snprintf(key, sizeof(key), "clm:customer:%s", id);
        redisReply *h = redisCommand(c, "HGETALL %s", key);
        assert_non_null(h);
        if (!e->seen) {
            assert_int_equal(h->elements, 0);
            freeReplyObject(h);
            continue;
        }
        expected_customers++;
        snprintf(num, sizeof(num), "%lld", (long long)e->first);
        expect_field(h, id, "first_seen", num);
        snprintf(num, sizeof(num), "%lld", (long long)e->last);
        if (e->active)
            expect_field(h, id, "last_seen", num);
        snprintf(num, sizeof(num), "%lld", (long long)e->events);
        expect_field(h, id, "events", num);
        snprintf(num, sizeof(num), "%lld", (long long)e->orders);
        expect_field(h, id, "orders", num);
        clm_micros_format(e->revenue, num, sizeof(num));
        expect_field(h, id, "revenue", num);
        clm_micros_format(e->refunds, num, sizeof(num));
        expect_field(h, id, "refunds", num);
        if (e->active)
            expect_field(h, id, "last_type", e->last_type);
        /* clv_pred = clv_rate x lifetime x margin, to the micro-unit */
        for (size_t i = 0; i + 1 < h->elements; i += 2)
            if (strcmp(h->element[i]->str, "clv_rate") == 0) {
                int64_t rate;
                assert_int_equal(clm_micros_parse(h->element[i + 1]->str, h->element[i + 1]->len, &rate), 0);
                clm_micros_format((int64_t)llround((double)rate * lifetime), num, sizeof(num));
                expect_field(h, id, "clv_pred", num);
            }
        freeReplyObject(h);
    }
    /* and no other customer */
    redisReply *keys = redisCommand(c, "KEYS clm:customer:*");
    assert_non_null(keys);
    assert_int_equal(keys->elements, expected_customers);
    freeReplyObject(keys);

    /* offsets: every partition at its high watermark */
    int64_t high[8];
    int np = 0;
    CHECK(harness_kafka_high_watermarks(harness_kafka_bootstraps(F.kafka), TOPIC, high, 8, &np,
                                        10000, errbuf, sizeof(errbuf)));
    assert_int_equal(np, 4);
    for (int p = 0; p < np; p++) {
        char k[64];
        snprintf(k, sizeof(k), "clm:progress:{" GROUP ":%d}", p);
        assert_int_equal(harness_redis_hget_int(c, k, "offset:" TOPIC), high[p]);
    }
    redisFree(c);

    /* dead letters: one per malformed message, bytes and key untouched, reason right */
    harness_records *src = NULL, *dlq = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), TOPIC, 30000, &src, errbuf,
                                   sizeof(errbuf)));
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), DLQ, 30000, &dlq, errbuf,
                                   sizeof(errbuf)));
    assert_int_equal(dlq->n, malformed);
    int64_t dlq_by_reason[16] = { 0 };
    for (size_t i = 0; i < dlq->n; i++) {
        const harness_record *d = &dlq->v[i];
        const char *part = header(d, "clm.source.partition"), *off = header(d, "clm.source.offset");
        const char *reason = header(d, "clm.reason");
        assert_non_null(part);
        assert_non_null(off);
        assert_non_null(reason);
        assert_non_null(header(d, "clm.detail"));
        assert_string_equal(header(d, "clm.source.topic"), TOPIC);
        const harness_record *s = NULL;
        for (size_t k = 0; k < src->n && !s; k++)
            if (src->v[k].partition == atoi(part) && src->v[k].offset == atoll(off))
                s = &src->v[k];
        assert_non_null(s);
        assert_int_equal(d->value_len, s->value_len);
        assert_memory_equal(d->value, s->value, s->value_len);
        assert_int_equal(d->key_len, s->key_len);
        assert_memory_equal(d->key, s->key, s->key_len);
        size_t r;
        for (r = 0; r < nr; r++)
            if (strcmp(reasons[r], reason) == 0)
                break;
        assert_true(r < nr);
        dlq_by_reason[r]++;
    }
    for (size_t r = 0; r < nr; r++)
        assert_int_equal(dlq_by_reason[r], by_reason[r]);
    harness_records_free(src);
    harness_records_free(dlq);
    free_model(cs, ncust);
}

/* Produces the stream again into its own topic, in ten chunks, each only
 * once clmd has flushed everything before it, so that a fault injected
 * right after producing a chunk lands while clmd is busy with it. */
typedef void (*fault_fn)(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                         int chunk);

static void chunked_run_cache(const char *topic, const char *name, fault_fn fault, int max_customers)
{
    if (!F.clean_dump) /* when a filter left stream_exact out */
        clean_run(&F.clean, &F.clean_dump);
    harness_redis *r = NULL;
    char cfg[128], log[128];
    CHECK(harness_kafka_create_topic(F.kafka, topic, F.partitions, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/%s.json", F.tmp, name);
    snprintf(log, sizeof(log), "%s/%s.log", F.tmp, name);
    write_config_cache(cfg, topic, harness_redis_port(r), 20, max_customers);
    harness_proc *p = start_clmd(cfg, log);
    const int chunks = 12;
    for (int i = 0; i < chunks; i++) {
        size_t from = (size_t)(F.total * i / chunks), to = (size_t)(F.total * (i + 1) / chunks);
        wait_consumed(r, (long long)from, 120000);
        CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, F.msgs + from, to - from,
                              true, 60000, errbuf, sizeof(errbuf)));
        fault(r, &p, cfg, log, i);
    }
    wait_consumed(r, F.total, 120000);
    stop_clmd(p);

    /* same state, key by key and field by field; only the topic name in the
     * progress keys differs */
    char *got = dump(r), diff[1024];
    char *clean = strdup(F.clean_dump);
    size_t tl = strlen(topic), cl = strlen(TOPIC); /* cl <= tl: renamed in place, in one pass */
    char *w = got;
    for (const char *q = got; *q;) {
        if (strncmp(q, topic, tl) == 0) {
            memcpy(w, TOPIC, cl);
            w += cl;
            q += tl;
        } else {
            *w++ = *q++;
        }
    }
    *w = '\0';
    mask_alert_ids(got); /* sorted again after the rename */
    if (harness_dump_diff(clean, got, diff, sizeof(diff)) != 0)
        fail_msg("%s: state differs from an uninterrupted run: %s", name, diff);
    free(clean);
    free(got);
    harness_redis_free(r);
}

static void chunked_run(const char *topic, const char *name, fault_fn fault)
{
    chunked_run_cache(topic, name, fault, 20000);
}

/* SIGKILL 0..29 ms after each of chunks 0..9 was produced (10 kills at
 * random moments while clmd is busy), then restart. */
static void kill_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                       int chunk)
{
    (void)r;
    if (chunk > 9)
        return;
    usleep((useconds_t)(rand() % 30) * 1000);
    CHECK(harness_proc_signal(*p, SIGKILL));
    int st;
    CHECK(harness_proc_wait(*p, 10000, &st, errbuf, sizeof(errbuf)));
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    harness_proc_free(*p);
    *p = start_clmd(cfg, log);
}

static void kill9_restart(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    printf("# kill seed %u\n", seed);
    chunked_run(TOPIC ".k", "kill", kill_fault);
}

/* Redis blocked for 3 s (DEBUG SLEEP, sent without waiting for its reply)
 * right after chunks 3 and 7: flushes and loads stall, then go on. */
static void slow_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                       int chunk)
{
    (void)p, (void)cfg, (void)log;
    static redisContext *c;
    if (chunk != 3 && chunk != 7)
        return;
    if (c)
        redisFree(c); /* the previous sleep is long over */
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    assert_int_equal(redisAppendCommand(c, "DEBUG SLEEP 3"), REDIS_OK);
    int done = 0;
    while (!done)
        assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
}

static void redis_slow(void **state)
{
    (void)state;
    chunked_run(TOPIC ".s", "slow", slow_fault);
}

/* The (only) Kafka broker down for 3 s right after chunk 4. */
static void broker_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                         int chunk)
{
    (void)r, (void)p, (void)cfg, (void)log;
    if (chunk != 4)
        return;
    CHECK(harness_kafka_broker_down(F.kafka, 1, errbuf, sizeof(errbuf)));
    sleep(3);
    CHECK(harness_kafka_broker_up(F.kafka, 1, errbuf, sizeof(errbuf)));
}

static void broker_down(void **state)
{
    (void)state;
    chunked_run(TOPIC ".d", "broker", broker_fault);
}

/* Redis stopped right after chunk 4 was produced, back 2 s later. */
static void redis_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                        int chunk)
{
    (void)p, (void)cfg, (void)log;
    if (chunk != 4)
        return;
    usleep(10000);
    CHECK(harness_redis_stop(r, errbuf, sizeof(errbuf)));
    sleep(2); /* clmd keeps running without Redis: retries, pauses consumption */
    CHECK(harness_redis_restart(r, errbuf, sizeof(errbuf)));
}

static void redis_restart(void **state)
{
    (void)state;
    chunked_run(TOPIC ".r", "redis", redis_fault);
}

static void no_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log, int chunk)
{
    (void)r, (void)p, (void)cfg, (void)log, (void)chunk;
}

/* 6,000 customers through a cache of 4,096 (2,048 per worker): clean
 * customers are evicted and reloaded from Redis all along. */
static void bounded_cache(void **state)
{
    (void)state;
    chunked_run_cache(TOPIC ".b", "bounded", no_fault, 4096);
}

/* A second instance joins the group after chunk 2 (partitions move to it
 * mid-stream) and the first leaves with SIGTERM after chunk 6 (they all move
 * to the second). */
static harness_proc *second;

static void rebalance_fault(harness_redis *r, harness_proc **p, const char *cfg, const char *log,
                            int chunk)
{
    (void)r;
    char log2[160];
    snprintf(log2, sizeof(log2), "%s.second", log);
    if (chunk == 2) {
        second = start_clmd(cfg, log2);
    } else if (chunk == 6) {
        stop_clmd(*p);
        *p = second; /* chunked_run stops whoever is left at the end */
        second = NULL;
    }
}

static void two_instances(void **state)
{
    (void)state;
    chunked_run(TOPIC ".2", "rebalance", rebalance_fault);
}

/* Reads notification datagrams until one contains `want` or timeout_ms
 * passes; returns whether it came. Every datagram is appended to log. */
static bool notified(int fd, const char *want, int timeout_ms, char *log, size_t logsize)
{
    long long end = (long long)time(NULL) * 1000 + timeout_ms;
    for (;;) {
        long long left = end - (long long)time(NULL) * 1000;
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        size_t used = strlen(log);
        snprintf(log + used, logsize - used, "%s|", buf);
        if (strstr(buf, want))
            return true;
    }
}

/* GET path from 127.0.0.1:port; returns the HTTP status and the body in
 * body (NUL-terminated, truncated to size). */
static int http_get(int port, const char *path, char *body, size_t size)
{
    int status = harness_http_get(port, path, body, size);
    if (status == 0)
        fail_msg("GET http://127.0.0.1:%d%s: no HTTP answer", port, path);
    return status;
}

static int free_port(void)
{
    int port = 0;
    if (harness_free_port(&port, errbuf, sizeof(errbuf)) < 0)
        fail_msg("%s", errbuf);
    return port;
}

/* As a systemd Type=notify service: READY=1 once partitions are assigned,
 * WATCHDOG=1 with a STATUS= line while running, STOPPING=1 on SIGTERM. And
 * the operators' endpoint: /healthz 200, /metrics with the exact counts. */
static void systemd_notify(void **state)
{
    (void)state;
    char path[128], cfg[128], log[128], seen[8192] = "";
    snprintf(path, sizeof(path), "%s/notify", F.tmp);
    snprintf(cfg, sizeof(cfg), "%s/notify.json", F.tmp);
    snprintf(log, sizeof(log), "%s/notify.log", F.tmp);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    int port = free_port();
    write_config_http(cfg, TOPIC, harness_redis_port(r), 50, 20000, port);
    setenv("NOTIFY_SOCKET", path, 1);
    harness_proc *p = start_clmd(cfg, log);
    unsetenv("NOTIFY_SOCKET");
    if (!notified(fd, "READY=1", 60000, seen, sizeof(seen)))
        fail_msg("no READY=1 from clmd; got: %s", seen);
    if (!notified(fd, "WATCHDOG=1", 5000, seen, sizeof(seen)) || !strstr(seen, "STATUS=consuming,"))
        fail_msg("no WATCHDOG=1 with a STATUS line; got: %s", seen);

    wait_consumed(r, F.total, 120000);
    static char body[262144];
    assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 200);
    assert_string_equal(body, "ok\n");
    assert_int_equal(http_get(port, "/metrics", body, sizeof(body)), 200);
    char line[128];
    snprintf(line, sizeof(line), "\nclmd_events_consumed_total %lld\n", (long long)F.total);
    if (!strstr(body, line))
        fail_msg("/metrics lacks \"%s\"", line + 1);
    /* the same counts the Redis stats hold */
    redisContext *c = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    snprintf(line, sizeof(line), "\nclmd_events_applied_total %lld\n", harness_redis_hget_int(c, "clm:stats", "applied"));
    assert_non_null(strstr(body, line));
    snprintf(line, sizeof(line), "\nclmd_events_rejected_total{reason=\"invalid_json\"} %lld\n",
             harness_redis_hget_int(c, "clm:rejected", "invalid_json"));
    assert_non_null(strstr(body, line));
    redisFree(c);
    assert_non_null(strstr(body, "\nclmd_flush_latency_seconds_bucket{le=\"+Inf\"} "));
    assert_non_null(strstr(body, "\nclmd_consumer_lag{topic=\"" TOPIC "\",partition=\"0\"} 0\n"));
    assert_non_null(strstr(body, "\nclmd_partitions_assigned 4\n"));
    assert_int_equal(http_get(port, "/nope", body, sizeof(body)), 404);
    CHECK(harness_proc_signal(p, SIGTERM));
    if (!notified(fd, "STOPPING=1", 30000, seen, sizeof(seen)))
        fail_msg("no STOPPING=1 after SIGTERM; got: %s", seen);
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
    harness_redis_free(r);
    close(fd);
}

/* The malformed-message corpus (tests/data/malformed, 78 messages, every
 * reason but late_dropped) through Kafka and clmd: each message lands in the
 * DLQ with its bytes, its key and the reason MANIFEST.tsv gives. The corpus
 * assumes events.max_bytes 8192, events.max_future_s 300, unknown types
 * rejected, the traits plan (a string of up to 16 bytes) and seats (a number
 * in properties), and a message timestamp of 2026-11-22T10:15:00Z. */
static void malformed_corpus(void **state)
{
    (void)state;
    const char *topic = TOPIC ".m";
    char path[512], cfg[128], log[128];
    harness_kv msgs[128];
    char *reasons[128], *bufs[128];
    size_t n = 0;
    CHECK(harness_kafka_create_topic(F.kafka, topic, 2, errbuf, sizeof(errbuf)));
    FILE *mf = fopen(CLM_TEST_DATA_DIR "/malformed/MANIFEST.tsv", "r");
    assert_non_null(mf);
    char line[512];
    while (fgets(line, sizeof(line), mf)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char file[256], key[256], reason[64];
        assert_int_equal(sscanf(line, "%255[^\t]\t%255[^\t]\t%63s", file, key, reason), 3);
        snprintf(path, sizeof(path), CLM_TEST_DATA_DIR "/malformed/%s", file);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t klen = strcmp(key, "-") == 0 ? 0 : strlen(key);
        char *b = malloc(klen + 70000);
        memcpy(b, key, klen);
        size_t vlen = fread(b + klen, 1, 70000 - 1, f);
        fclose(f);
        assert_true(n < 128);
        bufs[n] = b;
        reasons[n] = strdup(reason);
        msgs[n] = (harness_kv){ .key = klen ? b : NULL, .key_len = klen, .value = b + klen,
                                .value_len = vlen, .timestamp = 1795342500000LL };
        n++;
    }
    fclose(mf);
    assert_true(n >= 50);
    CHECK(harness_produce(harness_kafka_bootstraps(F.kafka), topic, msgs, n, false, 30000, errbuf,
                          sizeof(errbuf)));

    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/corpus.json", F.tmp);
    snprintf(log, sizeof(log), "%s/corpus.log", F.tmp);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"corpus\"},\n"
            " \"redis\": {\"port\": %d}, \"http\": {\"port\": 0},\n"
            " \"events\": {\"max_bytes\": 8192, \"max_future_s\": 300, \"unknown_type\": \"reject\"},\n"
            " \"traits\": [{\"name\": \"plan\", \"type\": \"string\", \"max_len\": 16},\n"
            "            {\"name\": \"seats\", \"field\": \"properties.seats\", \"type\": \"number\"}]}\n",
            harness_kafka_bootstraps(F.kafka), topic, harness_redis_port(r));
    fclose(f);
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(r, (long long)n, 120000);
    stop_clmd(p);

    harness_records *src = NULL, *dlq = NULL;
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), topic, 30000, &src, errbuf,
                                   sizeof(errbuf)));
    CHECK(harness_kafka_read_topic(harness_kafka_bootstraps(F.kafka), TOPIC ".m.dlq", 30000, &dlq,
                                   errbuf, sizeof(errbuf)));
    assert_int_equal(src->n, n);
    assert_int_equal(dlq->n, n);
    for (size_t i = 0; i < dlq->n; i++) {
        const harness_record *d = &dlq->v[i];
        int part = atoi(header(d, "clm.source.partition"));
        long long off = atoll(header(d, "clm.source.offset"));
        const harness_record *s = NULL;
        for (size_t k = 0; k < src->n && !s; k++)
            if (src->v[k].partition == part && src->v[k].offset == off)
                s = &src->v[k];
        assert_non_null(s);
        /* the produced message with these bytes and key, and its expected reason */
        size_t m;
        for (m = 0; m < n; m++)
            if (msgs[m].value_len == s->value_len && memcmp(msgs[m].value, s->value, s->value_len) == 0 &&
                msgs[m].key_len == s->key_len &&
                (s->key_len == 0 || memcmp(msgs[m].key, s->key, s->key_len) == 0))
                break;
        assert_true(m < n);
        assert_int_equal(d->value_len, s->value_len);
        assert_memory_equal(d->value, s->value, s->value_len);
        if (strcmp(header(d, "clm.reason"), reasons[m]) != 0)
            fail_msg("corpus message %zu: DLQ reason %s, expected %s", m, header(d, "clm.reason"),
                     reasons[m]);
    }
    harness_records_free(src);
    harness_records_free(dlq);
    harness_redis_free(r);
    for (size_t i = 0; i < n; i++) {
        free(bufs[i]);
        free(reasons[i]);
    }
}

/* CLM_INGEST_CASES ("a,b,c": case names) runs only those cases, so that the
 * build can register the cases as several tests that run side by side. */
static bool case_wanted(const char *cases, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = cases; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

int main(void)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(stream_exact),
        cmocka_unit_test(kill9_restart),
        cmocka_unit_test(redis_restart),
        cmocka_unit_test(redis_slow),
        cmocka_unit_test(broker_down),
        cmocka_unit_test(bounded_cache),
        cmocka_unit_test(two_instances),
        cmocka_unit_test(systemd_notify),
        cmocka_unit_test(malformed_corpus),
    };
    struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
    size_t n = 0;
    const char *cases = getenv("CLM_INGEST_CASES");

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!cases || !*cases || case_wanted(cases, all[i].name))
            tests[n++] = all[i];
    if (n == 0) {
        fprintf(stderr, "CLM_INGEST_CASES=%s names no case\n", cases);
        return 1;
    }
    /* CLM_INGEST_FILTER (a cmocka pattern, e.g. "redis_*") runs a subset:
     * the ThreadSanitizer setup uses it to keep its run short. */
    const char *filter = getenv("CLM_INGEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return _cmocka_run_group_tests("ingest", tests, n, setup, teardown);
}
