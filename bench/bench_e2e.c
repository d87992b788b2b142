/* bench/bench_e2e.c - clmd end to end against real peers: throughput against
 * a bare-consumer floor (3), Redis commands per event (4), event -> Redis
 * latency (6), and throughput as the customer base grows past the cache (7).
 *
 * Usage: bench_e2e [--events M] [--quick] [--full] [--only 3|4|6|7] [--clmd PATH]
 *   --events M  messages per stream (default 1000000; --quick: 100000)
 *   --quick     small smoke run (under a minute); its figures are dominated
 *               by the flush interval (100k events take about one) and are
 *               not comparable with those of a default run
 *   --full      item 7 at 10,000,000 customers even with --quick (the
 *               default run includes it: at 1M events it adds ~15 s)
 *   --only N    run one item
 * BENCH_E2E_CONFIG: extra top-level members for clmd's config, e.g.
 *   ' "model": {"enabled": false},' (to see what a feature costs)
 * BENCH_E2E_TRAITS=1: every stream carries clmgen's traits (clmgen
 *   --traits: plan, channel, country, company_size), for configs with
 *   traits and breakdowns
 *   --clmd PATH the daemon (default: ../daemon/clmd beside this binary)
 *   --lat-rate R  item 6 background events/s (default 20000; --quick: 5000)
 *   --ring-size N  core.ring_size of every clmd run (default: clmd's own)
 *   --keep      keep the scratch directory (clmd configs and logs)
 *
 * Peers. The librdkafka mock cluster (one broker) runs in this process. Each
 * stream is produced once with zstd into its own topic of max(16, M/100000)
 * partitions (a mock partition keeps about 5 MiB; zstd fits ~135k events) and
 * is checked complete (every partition from offset 0, M messages in all).
 * Each clmd run gets a fresh redis-server (tests/harness.h) with persistence
 * switched off (CONFIG SET appendonly no), so the disk is not measured, a
 * fresh consumer group, and core.workers 0 (one per online CPU). Streams are
 * tools/gen.h with its defaults (seed 42, 0.2% duplicates, 1% late events)
 * and the customer count of the item.
 *
 * Clocks. Joining a group takes the mock cluster ~3 s; it is left out of
 * both sides of item 3. The floor is a bare group consumer with clmd's fetch
 * settings reading with rd_kafka_consume_batch_queue (4096 per call) and
 * discarding: timed from the first message returned to the M-th. clmd is
 * timed from its partition assignment (its first HMGET, which reads the
 * stored offsets when partitions are assigned, seen by polling INFO
 * commandstats every 10 ms), so the time to its first message counts
 * against it, to clm:stats consumed == M (HGET every 10 ms): "all state in
 * Redis", so it includes the wait for the last flush (at most
 * flush.interval_ms after the last message).
 *
 * Item 4: CONFIG RESETSTAT before clmd starts; after the run, every
 * command's calls in INFO commandstats except this program's own (all INFO
 * and CONFIG calls, and the HGETs it counted) over M. Runs with a cache that
 * holds every customer; the 100k run is item 3's run. Redis memory per
 * customer: used_memory once clm:stats consumed reaches M minus used_memory
 * just after clmd started, over the number of clm:customer:* views.
 * Item 6: a steady background stream (100k customers; 20000 events/s, 5000
 * with --quick; its own producer, linger.ms 20, zstd) into a topic of 8
 * partitions while every 20 ms a marker event for a new customer "lat-<n>"
 * is produced (a second producer, linger.ms 0, uncompressed; send time taken
 * just before rd_kafka_produce); pending markers are polled with pipelined
 * EXISTS every 5 ms. Latency = first poll that sees the key - send time (a
 * marker still missing 10 s after the last was sent counts as infinite);
 * 400 markers (300 with --quick) after 1 s of background, flush 1000 ms.
 * Item 7: the item 4 streams and one of 10M customers (not with --quick; at
 * M = 1M only ~440k of them appear, so close to half the events are a
 * customer's first), with core.max_customers bounded to 20% of
 * the customers appearing in the stream, but at least 2048 per worker (clmd's
 * minimum), so for 10k customers the bound is 2048 x workers.
 *
 * CPU. Beside each timed window the tables show CPU seconds from /proc:
 * clmd (for the floor: this process), its redis-server, this process (the
 * mock cluster serving fetches), all other processes, and the share of the
 * machine that was busy: a window with an idle machine and a slow figure is
 * a stall, not a lack of CPU.
 *
 * Output: a table per item, then one line of key=value pairs:
 *   e2e_eps floor_eps e2e_ratio cmds_per_event_10k cmds_per_event_100k
 *   cmds_per_event_1m redis_bytes_per_customer_<10k|100k|1m> lat_p50_ms lat_p99_ms eps_10k eps_100k eps_1m [eps_10m]
 *   scale_ratio_1m rss_peak_mb
 * (keys of items not run are left out; rss_peak_mb is clmd's VmHWM in item
 * 3). A benchmark, not a test: the exit status is non-zero only when a peer
 * cannot be started or clmd fails, never for a slow figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "tests/harness.h"
#include "tools/gen.h"

#define POLL_MS 10
#define FLOOR_BATCH 4096
#define JOIN_TIMEOUT_MS 60000
#define RUN_TIMEOUT_MS 900000
#define STOP_TIMEOUT_MS 120000
#define FLUSH_MS 1000
#define LAT_TOPIC "bench.lat"
#define LAT_PARTS 8
#define LAT_EVERY_MS 20
#define LAT_POLL_MS 5
#define LAT_CUSTOMERS 100000

typedef struct bench {
    harness_kafka *kafka;
    const char *brokers;
    char tmp[64];       /* configs and clmd logs */
    char clmd[PATH_MAX];
    int64_t events;
    double lat_rate;    /* item 6 background events/s */
    long ring_size;     /* core.ring_size for clmd; 0: clmd's default */
    bool quick, full, keep;
    int only;           /* 0: all items */
    long workers;       /* clmd's core.workers 0: online CPUs */
    int runs;           /* clmd runs so far: group ids and file names */
} bench;

typedef struct stream {
    const char *label;
    int64_t customers;
    char topic[32];
    int64_t distinct;   /* customers appearing in the M events */
    int parts;          /* partitions of its topic */
    bool ready;
} stream;

typedef struct run_result {
    bool done;
    double secs, eps;
    double join_s;          /* start (clmd spawn / subscribe) to the first message */
    long long cmds;         /* Redis commands clmd issued */
    long long hgetall, hset, hincrby, txn, other;
    double rss_mb;          /* clmd's VmHWM */
    int64_t max_customers;
    long long views;        /* <prefix>customer:* keys at the end */
    long long written;      /* customers written by flushes (clmd /metrics) */
    long long flushes;      /* flush transactions committed (clmd /metrics) */
    long long redis_mem;    /* growth of Redis' used_memory over the run */
    /* CPU seconds over the timed window: clmd (or the floor consumer), its
     * Redis, this process (the mock cluster serving fetches; for the floor
     * the consumer too), everything else on the machine; and the share of
     * all CPUs that was busy */
    double cpu_s, redis_cpu_s, self_cpu_s, other_cpu_s, host_busy;
} run_result;

typedef struct cpu_snap {
    double proc, redis, self, busy, total;
} cpu_snap;

static void cpu_snap_take(cpu_snap *c, pid_t proc, pid_t redis)
{
    c->proc = proc ? bu_proc_cpu_ms(proc) : 0;
    c->redis = redis ? bu_proc_cpu_ms(redis) : 0;
    c->self = bu_proc_cpu_ms(0);
    if (bu_host_cpu_ms(&c->busy, &c->total) < 0)
        c->busy = c->total = 0;
}

/* Fills the CPU fields of r from two snapshots (proc 0: the floor, whose
 * consumer runs in this process). */
static void cpu_account(run_result *r, const cpu_snap *a, const cpu_snap *b)
{
    r->cpu_s = (b->proc - a->proc) / 1000;
    r->redis_cpu_s = (b->redis - a->redis) / 1000;
    r->self_cpu_s = (b->self - a->self) / 1000;
    r->other_cpu_s = (b->busy - a->busy) / 1000 - r->cpu_s - r->redis_cpu_s - r->self_cpu_s;
    if (r->other_cpu_s < 0)
        r->other_cpu_s = 0;
    r->host_busy = b->total > a->total ? (b->busy - a->busy) / (b->total - a->total) : 0;
}

typedef struct lat_result {
    size_t sent, seen;
    double p50, p90, p99, max;
    double bg_eps;
} lat_result;

__attribute__((format(printf, 4, 5)))
static int fail(int e, char *errbuf, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsize, fmt, ap);
    va_end(ap);
    return e;
}

static int partitions_for(int64_t events)
{
    int64_t p = (events + 99999) / 100000;
    return p < 16 ? 16 : (int)p;
}

/* ---- streams ---------------------------------------------------------- */

static void gen_opts(clm_gen_opts *o, int64_t customers, int64_t events)
{
    clm_gen_opts_default(o);
    o->customers = customers;
    o->events = events;
    const char *traits = getenv("BENCH_E2E_TRAITS");
    o->traits = traits && strcmp(traits, "1") == 0;
}

/* Customers appearing in the stream: they are numbered in order of first
 * visit, so the greatest "c-<n>" key is their count. */
static int count_distinct(const clm_gen_opts *o, int64_t *out, char *err, size_t es)
{
    clm_gen *g = NULL;
    int e = clm_gen_new(o, &g, err, es);
    if (e)
        return e;
    int64_t max = 0;
    clm_gen_msg m;
    while (clm_gen_next(g, &m) == 1) {
        if (m.key_len > 2 && m.key[0] == 'c' && m.key[1] == '-') {
            int64_t n = 0;
            for (size_t i = 2; i < m.key_len; i++)
                n = n * 10 + (m.key[i] - '0');
            if (n > max)
                max = n;
        }
    }
    clm_gen_free(g);
    *out = max;
    return 0;
}

/* Checks that every partition of topic still starts at offset 0 and that
 * they hold `want` messages in all (the mock cluster drops old data of a
 * full partition silently). */
static int topic_complete(const char *brokers, const char *topic, int parts, int64_t want,
                          char *err, size_t es)
{
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, err, es, "bootstrap.servers: %s", e);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, err, es, "cannot create a client: %s", e);
    }
    /* rd_kafka_new took ownership of conf */
    int r = 0;
    int64_t total = 0;
    for (int p = 0; p < parts && r == 0; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t ke = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (ke)
            r = fail(-EIO, err, es, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(ke));
        else if (lo != 0)
            r = fail(-EOVERFLOW, err, es,
                     "%s [%d] starts at offset %" PRId64 ": the mock cluster dropped data; "
                     "use more partitions", topic, p, lo);
        total += hi;
    }
    if (r == 0 && total != want)
        r = fail(-EIO, err, es, "%s holds %" PRId64 " messages, expected %" PRId64, topic, total,
                 want);
    rd_kafka_destroy(rk);
    return r;
}

/* Produces the stream of s (M events) into its own topic, once. */
static int stream_prepare(bench *b, stream *s, char *err, size_t es)
{
    if (s->ready)
        return 0;
    clm_gen_opts o;
    gen_opts(&o, s->customers, b->events);
    int parts = partitions_for(b->events);
    snprintf(s->topic, sizeof(s->topic), "bench.c%s", s->label);
    double t0 = bu_now_ms();
    int e = count_distinct(&o, &s->distinct, err, es);
    if (e)
        return e;
    e = harness_kafka_create_topic(b->kafka, s->topic, parts, err, es);
    if (e)
        return e;
    clm_gen *g = NULL;
    if ((e = clm_gen_new(&o, &g, err, es)))
        return e;
    int64_t produced = 0;
    e = harness_produce_gen(b->brokers, s->topic, g, true, 120000, &produced, err, es);
    clm_gen_free(g);
    if (e)
        return e;
    if ((e = topic_complete(b->brokers, s->topic, parts, b->events, err, es)))
        return e;
    printf("# stream %s: %" PRId64 " events, %" PRId64 " customers (%" PRId64
           " appear), %d partitions, produced in %.1f s\n",
           s->topic, produced, s->customers, s->distinct, parts, (bu_now_ms() - t0) / 1000);
    fflush(stdout);
    s->parts = parts;
    s->ready = true;
    return 0;
}

/* ---- the floor: a bare batch consumer --------------------------------- */

static int floor_run(bench *b, const char *topic, int64_t want, run_result *out, char *err,
                     size_t es)
{
    char e[256], group[64];
    snprintf(group, sizeof(group), "bench-floor-%d", ++b->runs);
    const char *props[][2] = {
        { "bootstrap.servers", b->brokers },       { "group.id", group },
        { "auto.offset.reset", "earliest" },       { "enable.auto.commit", "false" },
        { "partition.assignment.strategy", "range" }, { "queued.min.messages", "1000000" },
        { "fetch.wait.max.ms", "100" },
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(-EINVAL, err, es, "floor consumer %s: %s", props[i][0], e);
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, err, es, "floor consumer: %s", e);
    }
    /* rd_kafka_new took ownership of conf */
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **batch = calloc(FLOOR_BATCH, sizeof(*batch));
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    int r = 0;
    if (!batch)
        r = fail(-ENOMEM, err, es, "out of memory");
    else if (se)
        r = fail(-EIO, err, es, "floor consumer: subscribe: %s", rd_kafka_err2str(se));
    double t_sub = bu_now_ms(), t0 = 0, t1 = 0;
    int64_t got = 0;
    cpu_snap c0 = { 0 }, c1 = { 0 };
    while (r == 0 && got < want) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, batch, FLOOR_BATCH);
        double now = bu_now_ms();
        for (ssize_t i = 0; i < n; i++) {
            if (!batch[i]->err) {
                if (got++ == 0) {
                    t0 = now;
                    cpu_snap_take(&c0, 0, 0);
                }
            } else if (batch[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                r = fail(-EIO, err, es, "floor consumer: %s", rd_kafka_message_errstr(batch[i]));
            }
            rd_kafka_message_destroy(batch[i]);
        }
        t1 = now;
        if (got >= want)
            cpu_snap_take(&c1, 0, 0);
        if (now - t_sub > RUN_TIMEOUT_MS)
            r = fail(-ETIMEDOUT, err, es, "floor consumer read %" PRId64 " of %" PRId64
                     " messages in %d s", got, want, RUN_TIMEOUT_MS / 1000);
    }
    free(batch);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (r)
        return r;
    *out = (run_result){ .done = true, .secs = (t1 - t0) / 1000, .join_s = (t0 - t_sub) / 1000 };
    out->eps = out->secs > 0 ? (double)want / out->secs : 0;
    cpu_account(out, &c0, &c1);
    out->cpu_s = out->self_cpu_s; /* the consumer and the cluster share this process */
    return 0;
}

/* ---- clmd runs ---------------------------------------------------------- */

typedef struct clmd_ctx {
    harness_redis *redis;
    redisContext *c;
    harness_proc *proc;
    int http_port; /* clmd's /metrics on 127.0.0.1 */
    char log[PATH_MAX];
} clmd_ctx;

/* The value of counter `name` in clmd's /metrics, -1 when unreadable. */
static long long metric_value(int port, const char *name)
{
    static char body[262144];
    return harness_http_get(port, "/metrics", body, sizeof(body)) == 200
               ? harness_metric_value(body, name)
               : -1;
}

static int redis_ok(redisContext *c, const char *cmd, char *err, size_t es)
{
    redisReply *r = redisCommand(c, cmd);
    if (!r)
        return fail(-EIO, err, es, "%s: %s", cmd, c->errstr);
    int e = r->type == REDIS_REPLY_ERROR ? fail(-EPROTO, err, es, "%s: %s", cmd, r->str) : 0;
    freeReplyObject(r);
    return e;
}

static long long redis_int(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    else if (r && r->type == REDIS_REPLY_NIL)
        v = 0;
    freeReplyObject(r);
    return v;
}

/* used_memory from INFO memory, -1 when unreadable. */
static long long redis_used_memory(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO memory");
    long long v = -1;
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    if (p)
        v = atoll(p + strlen("used_memory:"));
    freeReplyObject(r);
    return v;
}

/* The number of customer views (SCAN MATCH clm:customer:*), -1 on error. */
static long long count_views(redisContext *c)
{
    char cursor[32] = "0";
    long long n = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH clm:customer:* COUNT 10000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        n += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

/* Starts a fresh Redis and clmd consuming `topic`. */
static int clmd_start(bench *b, clmd_ctx *x, const char *topic, int64_t max_customers,
                      int flush_ms, char *err, size_t es)
{
    char cfg[PATH_MAX], ring[48] = "";
    int n = ++b->runs;
    int e0 = harness_free_port(&x->http_port, err, es);
    if (e0 < 0)
        return e0;
    if (b->ring_size)
        snprintf(ring, sizeof(ring), ", \"ring_size\": %ld", b->ring_size);
    int e = harness_redis_start(&x->redis, err, es);
    if (!e)
        e = harness_redis_connect(x->redis, &x->c, err, es);
    if (!e)
        e = redis_ok(x->c, "CONFIG SET appendonly no", err, es);
    if (e)
        return e;
    snprintf(cfg, sizeof(cfg), "%s/clmd-%d.json", b->tmp, n);
    snprintf(x->log, sizeof(x->log), "%s/clmd-%d.log", b->tmp, n);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return fail(-errno, err, es, "%s: %s", cfg, strerror(errno));
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"bench-%d\"},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": %d},\n"
            " \"core\": {\"workers\": 0, \"max_customers\": %" PRId64 "%s},\n"
            " \"http\": {\"port\": %d},%s\n"
            " \"log\": {\"level\": \"notice\"}}\n",
            b->brokers, topic, n, harness_redis_port(x->redis), flush_ms, max_customers, ring,
            x->http_port, getenv("BENCH_E2E_CONFIG") ? getenv("BENCH_E2E_CONFIG") : "");
    if (fclose(f) != 0)
        return fail(-EIO, err, es, "%s: write failed", cfg);
    if ((e = redis_ok(x->c, "CONFIG RESETSTAT", err, es)))
        return e;
    const char *argv[] = { b->clmd, "-c", cfg, NULL };
    return harness_proc_spawn(argv, x->log, &x->proc, err, es);
}

/* -ECHILD when clmd has ended (it never ends by itself). */
static int clmd_alive(clmd_ctx *x, char *err, size_t es)
{
    char scratch[128];
    int st;
    if (harness_proc_wait(x->proc, 0, &st, scratch, sizeof(scratch)) != 0)
        return 0;
    return fail(-ECHILD, err, es, "clmd ended early (%s %d); see %s",
                WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), x->log);
}

/* SIGTERM and a clean exit within STOP_TIMEOUT_MS; frees everything. */
static int clmd_finish(clmd_ctx *x, char *err, size_t es)
{
    int e = 0;
    if (x->proc) {
        e = harness_proc_signal(x->proc, SIGTERM);
        if (!e)
            e = harness_proc_expect_exit(x->proc, STOP_TIMEOUT_MS, 0, err, es);
        else
            fail(e, err, es, "cannot signal clmd: %s", strerror(-e));
    }
    harness_proc_free(x->proc);
    if (x->c)
        redisFree(x->c);
    harness_redis_free(x->redis);
    *x = (clmd_ctx){ 0 };
    return e;
}

/* Runs clmd over `topic` (want messages) and measures it (see the top). */
static int clmd_run(bench *b, const char *topic, int64_t want, int64_t max_customers,
                    run_result *out, char *err, size_t es)
{
    clmd_ctx x = { 0 };
    bu_cmdstats st;
    long long my_hgets = 0, consumed = 0;
    int e = clmd_start(b, &x, topic, max_customers, FLUSH_MS, err, es);
    long long mem0 = e ? 0 : redis_used_memory(x.c);
    double t_spawn = bu_now_ms(), t0 = 0, t1 = 0;
    cpu_snap c0 = { 0 }, c1 = { 0 };
    while (!e) {
        if ((e = bu_cmdstats_read(x.c, &st, err, es)) || (e = clmd_alive(&x, err, es)))
            break;
        if (bu_cmdstats_calls(&st, "hmget") > 0) {
            t0 = bu_now_ms();
            cpu_snap_take(&c0, harness_proc_pid(x.proc), harness_redis_pid(x.redis));
            break;
        }
        if (bu_now_ms() - t_spawn > JOIN_TIMEOUT_MS)
            e = fail(-ETIMEDOUT, err, es, "clmd processed nothing in %d s; see %s",
                     JOIN_TIMEOUT_MS / 1000, x.log);
        else
            bu_sleep_ms(POLL_MS);
    }
    while (!e) {
        consumed = redis_int(x.c, "HGET clm:stats consumed");
        my_hgets++;
        if (consumed >= want) {
            t1 = bu_now_ms();
            cpu_snap_take(&c1, harness_proc_pid(x.proc), harness_redis_pid(x.redis));
            break;
        }
        if (consumed < 0)
            e = fail(-EIO, err, es, "HGET clm:stats consumed: %s", x.c->errstr);
        else if (!(e = clmd_alive(&x, err, es)) && bu_now_ms() - t0 > RUN_TIMEOUT_MS)
            e = fail(-ETIMEDOUT, err, es, "clmd consumed %lld of %" PRId64 " in %d s; see %s",
                     consumed, want, RUN_TIMEOUT_MS / 1000, x.log);
        else
            bu_sleep_ms(POLL_MS);
    }
    run_result res = { .done = true, .max_customers = max_customers };
    if (!e) {
        long long kib = bu_vmhwm_kib(harness_proc_pid(x.proc));
        res.rss_mb = kib > 0 ? (double)kib / 1024 : 0;
        e = bu_cmdstats_read(x.c, &st, err, es);
    }
    if (!e) {
        res.secs = (t1 - t0) / 1000;
        res.eps = res.secs > 0 ? (double)want / res.secs : 0;
        res.join_s = (t0 - t_spawn) / 1000;
        res.cmds = bu_cmdstats_total(&st) - bu_cmdstats_family(&st, "info") -
                   bu_cmdstats_family(&st, "config") - my_hgets;
        res.hgetall = bu_cmdstats_calls(&st, "hmget");
        res.hset = bu_cmdstats_calls(&st, "hset");
        res.hincrby = bu_cmdstats_calls(&st, "hincrby");
        res.txn = bu_cmdstats_calls(&st, "multi") + bu_cmdstats_calls(&st, "exec") +
                  bu_cmdstats_calls(&st, "watch") + bu_cmdstats_calls(&st, "unwatch");
        res.other = res.cmds - res.hgetall - res.hset - res.hincrby - res.txn;
        cpu_account(&res, &c0, &c1);
        /* after the command count: these are this program's */
        long long mem1 = redis_used_memory(x.c);
        res.views = count_views(x.c);
        res.written = metric_value(x.http_port, "clmd_flush_customers_total");
        res.flushes = metric_value(x.http_port, "clmd_flushes_total");
        res.redis_mem = mem0 >= 0 && mem1 >= 0 ? mem1 - mem0 : -1;
    }
    char err2[256];
    int e2 = clmd_finish(&x, e ? err2 : err, e ? sizeof(err2) : es);
    if (!e)
        e = e2;
    if (!e)
        *out = res;
    return e;
}

/* ---- item 6: latency ---------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A producer to LAT_TOPIC. */
typedef struct prod {
    rd_kafka_t *rk;
    rd_kafka_topic_t *t;
} prod;

static int prod_open(prod *p, const char *brokers, const char *linger_ms, const char *compression,
                     char *err, size_t es)
{
    char e[256];
    const char *props[][2] = {
        { "bootstrap.servers", brokers }, { "linger.ms", linger_ms },
        { "compression.type", compression },
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(-EINVAL, err, es, "producer %s: %s", props[i][0], e);
        }
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, err, es, "producer: %s", e);
    }
    /* rd_kafka_new took ownership of conf */
    p->t = rd_kafka_topic_new(p->rk, LAT_TOPIC, NULL);
    if (!p->t)
        return fail(-EINVAL, err, es, "producer topic %s: %s", LAT_TOPIC,
                    rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
}

/* Waits up to 5 s for outstanding messages and frees; accepts a zeroed prod. */
static void prod_close(prod *p)
{
    if (p->rk)
        rd_kafka_flush(p->rk, 5000);
    if (p->t)
        rd_kafka_topic_destroy(p->t);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    *p = (prod){ 0 };
}

static int produce(prod *p, const char *key, size_t klen, const char *val, size_t vlen,
                   char *err, size_t es)
{
    while (rd_kafka_produce(p->t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)val, vlen,
                            key, klen, NULL) != 0) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return fail(-EIO, err, es, "produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 10);
    }
    return 0;
}

static int produce_marker(prod *p, const char *id, char *err, size_t es)
{
    char val[160];
    int n = snprintf(val, sizeof(val),
                     "{\"event_id\":\"%s\",\"customer_id\":\"%s\",\"type\":\"visit\",\"ts\":%" PRId64
                     "}", id, id, wall_ms());
    return produce(p, id, strlen(id), val, (size_t)n, err, es);
}

/* Polls the pending markers lo..sent-1 with one pipeline of EXISTS and
 * stamps those that appeared; advances *lo past the leading seen ones. */
static int poll_markers(redisContext *c, size_t *lo, size_t sent, double *seen_at, char *err,
                        size_t es)
{
    size_t asked = 0;
    for (size_t i = *lo; i < sent; i++)
        if (seen_at[i] == 0) {
            char key[64];
            snprintf(key, sizeof(key), "clm:customer:lat-%zu", i);
            if (redisAppendCommand(c, "EXISTS %s", key) != REDIS_OK)
                return fail(-EIO, err, es, "EXISTS: %s", c->errstr);
            asked++;
        }
    double now = 0;
    size_t i = *lo;
    for (size_t k = 0; k < asked; k++, i++) {
        while (seen_at[i] != 0)
            i++;
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return fail(-EIO, err, es, "EXISTS: %s", c->errstr);
        if (k == 0)
            now = bu_now_ms();
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            seen_at[i] = now;
        freeReplyObject(r);
    }
    while (*lo < sent && seen_at[*lo] != 0)
        (*lo)++;
    return 0;
}

/* Waits until the key `key` exists (clmd consumes and flushes). */
static int wait_key(clmd_ctx *x, const char *key, char *err, size_t es)
{
    double t0 = bu_now_ms();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "EXISTS %s", key);
    for (;;) {
        long long v = redis_int(x->c, cmd);
        if (v == 1)
            return 0;
        int e = clmd_alive(x, err, es);
        if (e)
            return e;
        if (v < 0)
            return fail(-EIO, err, es, "%s: %s", cmd, x->c->errstr);
        if (bu_now_ms() - t0 > JOIN_TIMEOUT_MS)
            return fail(-ETIMEDOUT, err, es, "%s not in Redis after %d s; see %s", key,
                        JOIN_TIMEOUT_MS / 1000, x->log);
        bu_sleep_ms(POLL_MS);
    }
}

static int latency_run(bench *b, lat_result *out, char *err, size_t es)
{
    size_t nmark = b->quick ? 300 : 400;
    double rate = b->lat_rate;
    double span_ms = 1000 + (double)nmark * LAT_EVERY_MS + 10000;
    clm_gen_opts o;
    gen_opts(&o, LAT_CUSTOMERS, (int64_t)(rate * span_ms / 1000) + 1);
    clm_gen *g = NULL;
    prod bgp = { 0 }, mkp = { 0 }; /* background, markers */
    clmd_ctx x = { 0 };
    double *sent_at = calloc(nmark, sizeof(*sent_at)), *seen_at = calloc(nmark, sizeof(*seen_at));
    int e = sent_at && seen_at ? 0 : fail(-ENOMEM, err, es, "out of memory");
    if (!e)
        e = harness_kafka_create_topic(b->kafka, LAT_TOPIC, LAT_PARTS, err, es);
    if (!e)
        e = clm_gen_new(&o, &g, err, es);
    if (!e)
        e = prod_open(&bgp, b->brokers, "20", "zstd", err, es);
    if (!e)
        e = prod_open(&mkp, b->brokers, "0", "none", err, es);
    if (!e)
        e = clmd_start(b, &x, LAT_TOPIC, 1000000, FLUSH_MS, err, es);
    /* warm-up: one marker read from the beginning once clmd has joined */
    if (!e)
        e = produce_marker(&mkp, "lat-warm", err, es);
    if (!e)
        e = wait_key(&x, "clm:customer:lat-warm", err, es);

    double t_start = bu_now_ms(), next_mark = t_start + 1000, next_poll = t_start;
    int64_t bg = 0;
    size_t sent = 0, lo = 0;
    while (!e) {
        double now = bu_now_ms();
        clm_gen_msg m;
        while (!e && (double)bg < rate * (now - t_start) / 1000 && clm_gen_next(g, &m) == 1) {
            e = produce(&bgp, m.key, m.key_len, m.value, m.value_len, err, es);
            bg++;
        }
        if (!e && sent < nmark && now >= next_mark) {
            char id[32];
            snprintf(id, sizeof(id), "lat-%zu", sent);
            sent_at[sent] = bu_now_ms();
            e = produce_marker(&mkp, id, err, es);
            sent++;
            next_mark += LAT_EVERY_MS;
        }
        rd_kafka_poll(bgp.rk, 0);
        rd_kafka_poll(mkp.rk, 0);
        if (!e && now >= next_poll) {
            e = poll_markers(x.c, &lo, sent, seen_at, err, es);
            next_poll = now + LAT_POLL_MS;
            if (!e && sent == nmark && (lo == nmark || now - sent_at[nmark - 1] > 10000))
                break;
        }
        if (!e)
            e = clmd_alive(&x, err, es);
        bu_sleep_ms(1);
    }
    double t_end = bu_now_ms();
    if (!e) {
        /* a marker never seen counts as infinitely late */
        double *lat = calloc(nmark, sizeof(*lat));
        size_t seen = 0;
        if (!lat)
            e = fail(-ENOMEM, err, es, "out of memory");
        for (size_t i = 0; lat && i < nmark; i++) {
            lat[i] = seen_at[i] != 0 ? seen_at[i] - sent_at[i] : INFINITY;
            seen += seen_at[i] != 0;
        }
        if (lat && seen == 0)
            e = fail(-EIO, err, es, "no marker reached Redis; see %s", x.log);
        if (!e) {
            *out = (lat_result){ .sent = nmark, .seen = seen,
                                 .bg_eps = (double)bg * 1000 / (t_end - t_start) };
            out->p50 = bu_percentile(lat, nmark, 50);
            out->p90 = bu_percentile(lat, nmark, 90);
            out->p99 = bu_percentile(lat, nmark, 99);
            out->max = bu_percentile(lat, nmark, 100);
        }
        free(lat);
    }
    char err2[256];
    int e2 = clmd_finish(&x, e ? err2 : err, e ? sizeof(err2) : es);
    if (!e)
        e = e2;
    prod_close(&bgp);
    prod_close(&mkp);
    clm_gen_free(g);
    free(sent_at);
    free(seen_at);
    return e;
}

/* ---- items ------------------------------------------------------------- */

static stream streams[] = {
    { .label = "10k", .customers = 10000 },
    { .label = "100k", .customers = 100000 },
    { .label = "1m", .customers = 1000000 },
    { .label = "10m", .customers = 10000000 },
};
#define S_100K 1
#define NSCALES_DEFAULT 3

typedef struct results {
    run_result floor, e2e;
    run_result unbounded[4], bounded[4];
    lat_result lat;
    bool lat_done;
} results;

static void print_cpu(const char *who, const run_result *r, int64_t events)
{
    printf("  %-6s busy %5.1f%%  reader %6.3f s (%5.2f us/event)  redis %6.3f s  this process "
           "%6.3f s  others %6.3f s\n", who, 100 * r->host_busy, r->cpu_s,
           r->cpu_s * 1e6 / (double)events, r->redis_cpu_s, r->self_cpu_s, r->other_cpu_s);
}

static int item3(bench *b, results *r, char *err, size_t es)
{
    stream *s = &streams[S_100K];
    int e = stream_prepare(b, s, err, es);
    if (!e)
        e = floor_run(b, s->topic, b->events, &r->floor, err, es);
    if (!e)
        e = clmd_run(b, s->topic, b->events, 1000000, &r->e2e, err, es);
    if (e)
        return e;
    r->unbounded[S_100K] = r->e2e;
    printf("\nitem 3: end to end, %" PRId64 " events in the mock cluster, %" PRId64
           " customers, flush %d ms, %ld workers\n", b->events, s->customers, FLUSH_MS, b->workers);
    printf("  %-26s %10s %9s %11s %8s %9s\n", "reader", "events", "seconds", "events/s", "join_s",
           "rss_MB");
    printf("  %-26s %10" PRId64 " %9.3f %11.0f %8.2f %9s\n", "floor (bare batch consumer)",
           b->events, r->floor.secs, r->floor.eps, r->floor.join_s, "-");
    printf("  %-26s %10" PRId64 " %9.3f %11.0f %8.2f %9.1f\n", "clmd (all state in Redis)",
           b->events, r->e2e.secs, r->e2e.eps, r->e2e.join_s, r->e2e.rss_mb);
    printf("  ratio clmd / floor: %.3f (target >= 0.5 on 2 cores)\n",
           r->floor.eps > 0 ? r->e2e.eps / r->floor.eps : 0);
    printf("  CPU seconds in the timed window (machine busy %%, then: reader, its Redis, this "
           "process with the mock cluster, all other processes):\n");
    print_cpu("floor", &r->floor, b->events);
    print_cpu("clmd", &r->e2e, b->events);
    fflush(stdout);
    return 0;
}

/* Redis' used_memory growth per customer view, 0 when unknown. */
static double bytes_per_view(const run_result *r)
{
    return r->views > 0 && r->redis_mem > 0 ? (double)r->redis_mem / (double)r->views : 0;
}

static void print_cmds_header(void)
{
    printf("  %9s %8s %8s %8s %8s %8s %8s %8s %6s %5s %6s %7s %7s %6s %6s %7s\n", "customers",
           "appear", "cache", "events/s", "cmds", "cmds/ev", "hmget", "hset", "hincr", "txn",
           "other", "rss_MB", "us/ev", "redis", "busy%", "B/cust");
}

static void print_cmds_row(const stream *s, const run_result *r, int64_t events)
{
    printf("  %9" PRId64 " %8" PRId64 " %8" PRId64 " %8.0f %8lld %8.4f %8lld %8lld %6lld %5lld "
           "%6lld %7.1f %7.2f %6.2f %6.1f %7.0f\n", s->customers, s->distinct, r->max_customers,
           r->eps, r->cmds, (double)r->cmds / (double)events, r->hgetall, r->hset, r->hincrby,
           r->txn, r->other, r->rss_mb, r->cpu_s * 1e6 / (double)events, r->redis_cpu_s,
           100 * r->host_busy, bytes_per_view(r));
}

static int item4(bench *b, results *r, char *err, size_t es)
{
    for (int i = 0; i < NSCALES_DEFAULT; i++) {
        if (r->unbounded[i].done)
            continue;
        int e = stream_prepare(b, &streams[i], err, es);
        if (!e) {
            int64_t cap = streams[i].distinct > 1000000 ? streams[i].distinct : 1000000;
            e = clmd_run(b, streams[i].topic, b->events, cap, &r->unbounded[i], err, es);
        }
        if (e)
            return e;
    }
    printf("\nitem 4: Redis commands per event, %" PRId64 " events, flush %d ms, cache holds every "
           "customer\n", b->events, FLUSH_MS);
    print_cmds_header();
    for (int i = 0; i < NSCALES_DEFAULT; i++)
        print_cmds_row(&streams[i], &r->unbounded[i], b->events);
    printf("  per customer written: commands over the customers the flushes wrote, and the "
           "commands per flush besides one per customer\n  (a flush covers the partitions of one "
           "worker; %ld workers)\n", b->workers);
    for (int i = 0; i < NSCALES_DEFAULT; i++) {
        const run_result *u = &r->unbounded[i];
        if (u->written <= 0 || u->flushes <= 0)
            continue;
        printf("  %9" PRId64 " customers: %lld written in %lld flushes, %d partitions: %.3f "
               "commands per customer written; %.1f per flush besides\n",
               streams[i].customers, u->written, u->flushes, streams[i].parts,
               (double)u->cmds / (double)u->written,
               (double)(u->cmds - u->written) / (double)u->flushes);
    }
    printf("  (target <= 0.05 at 100k customers; txn = multi+exec+watch+unwatch, other = hget "
           "hdel zadd select ...;\n   B/cust = growth of Redis used_memory over the run / customer "
           "views (checkpoint, view and\n   everything else clmd keeps), read once every event is "
           "in Redis (prediction fields the model and\n   KPI jobs add later may be missing);\n   us/ev = clmd CPU per event, redis = its CPU seconds, busy%% = "
           "share of all CPUs busy, all over the timed window)\n");
    fflush(stdout);
    return 0;
}

static int item7(bench *b, results *r, char *err, size_t es)
{
    int n = b->full || !b->quick ? 4 : NSCALES_DEFAULT;
    int64_t floor_cap = (int64_t)b->workers * 2048;
    for (int i = 0; i < n; i++) {
        int e = stream_prepare(b, &streams[i], err, es);
        if (e)
            return e;
        int64_t cap = streams[i].distinct / 5;
        if (cap < floor_cap)
            cap = floor_cap;
        if ((e = clmd_run(b, streams[i].topic, b->events, cap, &r->bounded[i], err, es)))
            return e;
    }
    printf("\nitem 7: throughput against customer count, %" PRId64 " events, cache bounded "
           "(core.max_customers = max(20%% of appearing customers, 2048 x workers))\n", b->events);
    print_cmds_header();
    for (int i = 0; i < n; i++)
        print_cmds_row(&streams[i], &r->bounded[i], b->events);
    for (int i = 0; i < n; i++)
        printf("  %s customers: %.0f events/s, %.3f of the 10k figure\n", streams[i].label,
               r->bounded[i].eps, r->bounded[0].eps > 0 ? r->bounded[i].eps / r->bounded[0].eps : 0);
    printf("  (target: within 20%% of the 10k figure)\n");
    fflush(stdout);
    return 0;
}

static int item6(bench *b, results *r, char *err, size_t es)
{
    int e = latency_run(b, &r->lat, err, es);
    if (e)
        return e;
    r->lat_done = true;
    printf("\nitem 6: event -> Redis latency, flush %d ms, background %.0f events/s over %d "
           "partitions, a marker every %d ms\n", FLUSH_MS, r->lat.bg_eps, LAT_PARTS, LAT_EVERY_MS);
    printf("  %8s %8s %9s %9s %9s %9s\n", "markers", "seen", "p50_ms", "p90_ms", "p99_ms",
           "max_ms");
    printf("  %8zu %8zu %9.1f %9.1f %9.1f %9.1f\n", r->lat.sent, r->lat.seen, r->lat.p50,
           r->lat.p90, r->lat.p99, r->lat.max);
    printf("  (target: p99 <= flush interval + 100 ms = %d ms)\n", FLUSH_MS + 100);
    fflush(stdout);
    return 0;
}

/* Appends to a line of at most `size` bytes; output past the end is cut. */
__attribute__((format(printf, 4, 5)))
static void put(char *line, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size - 1 ? *len + (size_t)n : size - 1;
}

static void final_line(const bench *b, const results *r)
{
    char line[2048] = "";
    size_t len = 0, size = sizeof(line);
    if (r->e2e.done && r->floor.done)
        put(line, size, &len, " e2e_eps=%.0f floor_eps=%.0f e2e_ratio=%.3f", r->e2e.eps,
            r->floor.eps, r->floor.eps > 0 ? r->e2e.eps / r->floor.eps : 0);
    if (b->only == 0 || b->only == 4)
        for (int i = 0; i < NSCALES_DEFAULT; i++)
            if (r->unbounded[i].done)
                put(line, size, &len, " cmds_per_event_%s=%.4f redis_bytes_per_customer_%s=%.0f",
                    streams[i].label, (double)r->unbounded[i].cmds / (double)b->events,
                    streams[i].label, bytes_per_view(&r->unbounded[i]));
    if (r->lat_done)
        put(line, size, &len, " lat_p50_ms=%.1f lat_p99_ms=%.1f", r->lat.p50, r->lat.p99);
    for (int i = 0; i < 4; i++)
        if (r->bounded[i].done)
            put(line, size, &len, " eps_%s=%.0f", streams[i].label, r->bounded[i].eps);
    if (r->bounded[0].done && r->bounded[2].done && r->bounded[0].eps > 0)
        put(line, size, &len, " scale_ratio_1m=%.3f", r->bounded[2].eps / r->bounded[0].eps);
    if (r->e2e.done)
        put(line, size, &len, " rss_peak_mb=%.1f", r->e2e.rss_mb);
    printf("%s\n", len ? line + 1 : "");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_e2e [--events M] [--quick] [--full] [--only 3|4|6|7] [--clmd PATH]\n"
               "                 [--lat-rate EVENTS_PER_S] [--ring-size N] [--keep]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "events", required_argument, NULL, 'e' }, { "quick", no_argument, NULL, 'q' },
        { "full", no_argument, NULL, 'f' },         { "only", required_argument, NULL, 'o' },
        { "clmd", required_argument, NULL, 'c' },   { "lat-rate", required_argument, NULL, 'r' },
        { "keep", no_argument, NULL, 'k' },         { "ring-size", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    bench b = { .events = 0, .lat_rate = -1 };
    const char *clmd = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'e':
            b.events = strtoll(optarg, NULL, 10);
            if (b.events < 1000) {
                fprintf(stderr, "bench_e2e: --events must be at least 1000\n");
                return 2;
            }
            break;
        case 'q':
            b.quick = true;
            break;
        case 'k':
            b.keep = true;
            break;
        case 's':
            b.ring_size = strtol(optarg, NULL, 10);
            if (b.ring_size < 64 || (b.ring_size & (b.ring_size - 1))) {
                fprintf(stderr, "bench_e2e: --ring-size must be a power of two >= 64\n");
                return 2;
            }
            break;
        case 'f':
            b.full = true;
            break;
        case 'o':
            b.only = atoi(optarg);
            if (b.only != 3 && b.only != 4 && b.only != 6 && b.only != 7) {
                usage(stderr);
                return 2;
            }
            break;
        case 'c':
            clmd = optarg;
            break;
        case 'r':
            b.lat_rate = strtod(optarg, NULL);
            if (!(b.lat_rate >= 0)) {
                usage(stderr);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (b.events == 0)
        b.events = b.quick ? 100000 : 1000000;
    if (b.lat_rate < 0)
        b.lat_rate = b.quick ? 5000 : 20000;
    char dir[PATH_MAX];
    if (clmd)
        snprintf(b.clmd, sizeof(b.clmd), "%s", clmd);
    else if (bu_self_dir(dir, sizeof(dir)) == 0)
        snprintf(b.clmd, sizeof(b.clmd), "%.*s/../daemon/clmd", PATH_MAX - 20, dir);
    if (access(b.clmd, X_OK) != 0) {
        fprintf(stderr, "bench_e2e: cannot run clmd at '%s' (use --clmd PATH)\n", b.clmd);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    b.workers = ncpu > 0 ? ncpu : 1;

    char err[512];
    snprintf(b.tmp, sizeof(b.tmp), "/tmp/clm-bench-XXXXXX");
    if (!mkdtemp(b.tmp)) {
        fprintf(stderr, "bench_e2e: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    int e = harness_kafka_start(1, &b.kafka, err, sizeof(err));
    if (e) {
        fprintf(stderr, "bench_e2e: kafka: %s\n", err);
        nftw(b.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    b.brokers = harness_kafka_bootstraps(b.kafka);
    printf("# bench_e2e: %" PRId64 " events per stream, %ld online CPUs, clmd %s\n", b.events, ncpu,
           b.clmd);
    fflush(stdout);

    results r;
    memset(&r, 0, sizeof(r));
    if (!e && (b.only == 0 || b.only == 3))
        e = item3(&b, &r, err, sizeof(err));
    if (!e && (b.only == 0 || b.only == 4))
        e = item4(&b, &r, err, sizeof(err));
    if (!e && (b.only == 0 || b.only == 7))
        e = item7(&b, &r, err, sizeof(err));
    if (!e && (b.only == 0 || b.only == 6))
        e = item6(&b, &r, err, sizeof(err));
    if (e)
        fprintf(stderr, "bench_e2e: %s (files kept in %s)\n", err, b.tmp);
    else
        final_line(&b, &r);
    harness_kafka_free(b.kafka);
    if (!e && !b.keep)
        nftw(b.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (!e)
        fprintf(stderr, "bench_e2e: clmd configs and logs kept in %s\n", b.tmp);
    return e ? 1 : 0;
}
