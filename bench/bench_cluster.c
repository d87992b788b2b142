/* bench/bench_cluster.c - what one event costs clmd and Redis, on one
 * redis-server and on a Redis Cluster of 3 masters (a replica each), for the
 * capacity table of README "Running on Redis Cluster".
 *
 * Usage: bench_cluster [--events M] [--customers C] [--quick] [--clmd PATH]
 *   --events M     messages (default 400000; --quick: 100000)
 *   --customers C  distinct customers of the generated stream (default
 *                  40000; --quick: 10000)
 *
 * One stream (tools/gen.h defaults, seed 42) is produced with zstd into a
 * topic of 16 partitions of the in-process Kafka mock, then consumed to the
 * end by one clmd (core.workers 0, flush.interval_ms 1000) twice: into a
 * fresh redis-server, and into a fresh cluster (tests/harness_cluster.h).
 * Persistence is switched off on every Redis (CONFIG SET appendonly no), so
 * the disk is not measured. Per event, over the run (clmd's start to
 * clm:stats consumed == M):
 *   clmd CPU-us        user + system time of the clmd process
 *   Redis CPU-us       INFO cpu used_cpu_user + used_cpu_sys growth, per
 *                      master (and the replicas' sum)
 *   net bytes          total_net_input_bytes + total_net_output_bytes -
 *                      total_net_repl_output_bytes growth, per master:
 *                      clmd's traffic with Redis, without replication
 *   Redis memory       used_memory growth over the customers (masters)
 * Prints a table and a last line of key=value pairs (bench/run.sh).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "net/redis_cluster.h"
#include "tests/harness.h"
#include "tests/harness_cluster.h"
#include "tools/gen.h"

#define TOPIC "bench.cluster"
#define PARTS 16
#define MAX_NODES 16

typedef struct node_stat {
    double cpu_ms;
    long long net, mem, data; /* data: used_memory_dataset (no buffers, backlog) */
} node_stat;

typedef struct result {
    double clmd_cpu_ms, secs;
    long long journal_bytes, guard_bytes; /* MEMORY USAGE of clm:journal:* and clm:applied:* */
    int nmasters, nreplicas;
    node_stat master[MAX_NODES]; /* growth over the run */
    double replica_cpu_ms;
} result;

static long long info_field(const char *info, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s:", name);
    const char *p = strstr(info, pat);
    return p ? atoll(p + strlen(pat)) : 0;
}

static double info_cpu(const char *info)
{
    char pat[] = "\nused_cpu_sys:", pat2[] = "\nused_cpu_user:";
    const char *a = strstr(info, pat), *b = strstr(info, pat2);
    return (a ? atof(a + strlen(pat)) : 0) * 1000 + (b ? atof(b + strlen(pat2)) : 0) * 1000;
}

/* One node's counters now. */
static int node_read(redisContext *c, node_stat *s, bool *master)
{
    redisReply *r = redisCommand(c, "INFO everything");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -EIO;
    }
    s->cpu_ms = info_cpu(r->str);
    s->net = info_field(r->str, "total_net_input_bytes") +
             info_field(r->str, "total_net_output_bytes") -
             info_field(r->str, "total_net_repl_output_bytes");
    s->mem = info_field(r->str, "used_memory");
    s->data = info_field(r->str, "used_memory_dataset");
    if (master)
        *master = strstr(r->str, "\nrole:master") != NULL;
    freeReplyObject(r);
    return 0;
}

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_cluster: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void write_config(const char *path, const char *brokers, const char *group, int port,
                         const char *seeds)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write %s", path);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"" TOPIC "\"], \"group_id\": \"%s\"},\n"
            " \"redis\": {\"port\": %d, \"cluster\": \"%s\"},\n"
            " \"flush\": {\"interval_ms\": 1000},\n"
            " \"core\": {\"workers\": 0},\n"
            " \"http\": {\"port\": 0},\n"
            " \"log\": {\"level\": \"notice\"}}\n",
            brokers, group, port, seeds ? seeds : "");
    fclose(f);
}

/* clm:stats consumed through whichever of c (one server) or cl. */
static long long consumed(redisContext *c, clm_cluster *cl)
{
    const char *argv[] = { "HGET", "clm:stats", "consumed" };
    char err[256];
    redisReply *r = c ? redisCommandArgv(c, 3, argv, NULL)
                      : clm_cluster_command(cl, 1, 3, argv, NULL, err, sizeof(err));
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return v;
}

/* The sum of MEMORY USAGE over the keys of one node matching pattern. */
static long long usage_of(redisContext *c, const char *pattern)
{
    long long sum = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return sum;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *u = redisCommand(c, "MEMORY USAGE %s", r->element[1]->element[i]->str);
            if (u && u->type == REDIS_REPLY_INTEGER)
                sum += u->integer;
            freeReplyObject(u);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return sum;
}

/* Runs clmd with cfg to the end of the stream; the nodes' counters are
 * read before it starts and once everything is in Redis. */
static void run(const char *clmd, const char *cfg, const char *log, long long want,
                redisContext **nodes, int n, redisContext *one, clm_cluster *cl, result *out)
{
    node_stat before[MAX_NODES], after[MAX_NODES];
    bool is_master[MAX_NODES];
    for (int i = 0; i < n; i++)
        if (node_read(nodes[i], &before[i], &is_master[i]) < 0)
            die("INFO failed on node %d", i);
    const char *argv[] = { clmd, "-c", cfg, NULL };
    harness_proc *p;
    char err[512];
    double t0 = bu_now_ms();
    if (harness_proc_spawn(argv, log, &p, err, sizeof(err)) < 0)
        die("clmd: %s", err);
    while (consumed(one, cl) < want) {
        int st;
        if (harness_proc_wait(p, 0, &st, err, sizeof(err)) == 0)
            die("clmd ended early (status %d); see %s", st, log);
        bu_sleep_ms(20);
    }
    out->secs = (bu_now_ms() - t0) / 1000;
    out->clmd_cpu_ms = bu_proc_cpu_ms(harness_proc_pid(p));
    for (int i = 0; i < n; i++)
        if (node_read(nodes[i], &after[i], NULL) < 0)
            die("INFO failed on node %d", i);
    harness_proc_signal(p, SIGTERM);
    harness_proc_expect_exit(p, 60000, 0, err, sizeof(err));
    harness_proc_free(p);
    out->nmasters = out->nreplicas = 0;
    out->replica_cpu_ms = 0;
    out->journal_bytes = out->guard_bytes = 0;
    for (int i = 0; i < n; i++) {
        if (is_master[i]) {
            out->journal_bytes += usage_of(nodes[i], "clm:journal:*");
            out->guard_bytes += usage_of(nodes[i], "clm:applied:*");
        }
        node_stat d = { after[i].cpu_ms - before[i].cpu_ms, after[i].net - before[i].net,
                        after[i].mem - before[i].mem, after[i].data - before[i].data };
        if (is_master[i])
            out->master[out->nmasters++] = d;
        else {
            out->replica_cpu_ms += d.cpu_ms;
            out->nreplicas++;
        }
    }
}

static void print(const char *name, const result *r, long long events, long long customers)
{
    double cpu = 0, mem = 0, net = 0, data = 0;
    for (int i = 0; i < r->nmasters; i++) {
        cpu += r->master[i].cpu_ms;
        mem += (double)r->master[i].mem;
        data += (double)r->master[i].data;
        net += (double)r->master[i].net;
    }
    printf("%-12s %8.1f s  clmd %6.2f us/ev  Redis %6.2f us/ev (masters", name, r->secs,
           r->clmd_cpu_ms * 1000 / (double)events, cpu * 1000 / (double)events);
    for (int i = 0; i < r->nmasters; i++)
        printf(" %.2f", r->master[i].cpu_ms * 1000 / (double)events);
    printf("; replicas %.2f)  net %6.1f B/ev  mem %6.0f B/customer (dataset %.0f; journals %.0f, "
           "guards %.0f)\n",
           r->replica_cpu_ms * 1000 / (double)events, net / (double)events, mem / (double)customers,
           data / (double)customers,
           (double)r->journal_bytes / (double)customers, (double)r->guard_bytes / (double)customers);
}

static void kv(const char *name, const result *r, long long events, long long customers)
{
    double cpu = 0, mem = 0, net = 0, top = 0, data = 0;
    for (int i = 0; i < r->nmasters; i++) {
        cpu += r->master[i].cpu_ms;
        mem += (double)r->master[i].mem;
        data += (double)r->master[i].data;
        net += (double)r->master[i].net;
        if (r->master[i].cpu_ms > top)
            top = r->master[i].cpu_ms;
    }
    printf(" %s_clmd_us=%.3f %s_redis_us=%.3f %s_redis_top_node_us=%.3f %s_net_bytes=%.1f"
           " %s_mem_bytes=%.0f %s_dataset_bytes=%.0f %s_journal_bytes=%.0f %s_eps=%.0f",
           name, r->clmd_cpu_ms * 1000 / (double)events, name, cpu * 1000 / (double)events, name,
           top * 1000 / (double)events, name, net / (double)events, name, mem / (double)customers,
           name, data / (double)customers, name, (double)r->journal_bytes / (double)customers, name,
           (double)events / r->secs);
}

int main(int argc, char **argv)
{
    long long events = 400000, customers = 40000;
    char clmd[8192] = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            events = 100000;
            customers = 10000;
        } else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            events = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--customers") == 0 && i + 1 < argc) {
            customers = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--clmd") == 0 && i + 1 < argc) {
            snprintf(clmd, sizeof(clmd), "%s", argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_cluster [--events M] [--customers C] [--quick] "
                            "[--clmd PATH]\n");
            return 2;
        }
    }
    char err[1024], dir[4096], tmp[] = "/tmp/clm-bench-cluster-XXXXXX";
    if (!clmd[0]) {
        if (bu_self_dir(dir, sizeof(dir)) < 0)
            die("cannot find this program's directory");
        snprintf(clmd, sizeof(clmd), "%s/../daemon/clmd", dir);
    }
    if (!mkdtemp(tmp))
        die("mkdtemp failed");
    signal(SIGPIPE, SIG_IGN);

    harness_kafka *k;
    if (harness_kafka_start(1, &k, err, sizeof(err)) < 0 ||
        harness_kafka_create_topic(k, TOPIC, PARTS, err, sizeof(err)) < 0)
        die("kafka: %s", err);
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = customers;
    o.events = events;
    harness_stream s;
    if (harness_stream_gen(&o, &s, err, sizeof(err)) < 0 ||
        harness_produce(harness_kafka_bootstraps(k), TOPIC, s.msgs, s.n, true, 300000, err,
                        sizeof(err)) < 0)
        die("stream: %s", err);
    harness_stream_free(&s);
    char cfg[4200], log[4200];

    /* one server */
    harness_redis *r = NULL;
    redisContext *c = NULL;
    result one;
    if (harness_redis_start(&r, err, sizeof(err)) < 0 ||
        harness_redis_connect(r, &c, err, sizeof(err)) < 0)
        die("redis: %s", err);
    freeReplyObject(redisCommand(c, "CONFIG SET appendonly no"));
    snprintf(cfg, sizeof(cfg), "%s/one.json", tmp);
    snprintf(log, sizeof(log), "%s/one.log", tmp);
    write_config(cfg, harness_kafka_bootstraps(k), "bench-one", harness_redis_port(r), NULL);
    run(clmd, cfg, log, events, &c, 1, c, NULL, &one);
    redisFree(c);
    harness_redis_stop(r, err, sizeof(err));
    harness_redis_free(r);

    /* a cluster of 3 masters with a replica each */
    harness_cluster *h;
    if (harness_cluster_start(3, 1, &h, err, sizeof(err)) < 0)
        die("cluster: %s", err);
    int n = harness_cluster_nodes(h);
    redisContext *nodes[MAX_NODES];
    for (int i = 0; i < n && i < MAX_NODES; i++) {
        if (harness_cluster_connect(h, harness_cluster_port(h, i), &nodes[i], err, sizeof(err)) < 0)
            die("cluster node: %s", err);
        freeReplyObject(redisCommand(nodes[i], "CONFIG SET appendonly no"));
    }
    clm_cluster_opts co = { .seeds = harness_cluster_seeds(h), .timeout_ms = 5000 };
    clm_cluster *cl;
    if (clm_cluster_new(&co, &cl, err, sizeof(err)) < 0)
        die("%s", err);
    result clu;
    snprintf(cfg, sizeof(cfg), "%s/cluster.json", tmp);
    snprintf(log, sizeof(log), "%s/cluster.log", tmp);
    write_config(cfg, harness_kafka_bootstraps(k), "bench-cluster", 6379, harness_cluster_seeds(h));
    run(clmd, cfg, log, events, nodes, n < MAX_NODES ? n : MAX_NODES, NULL, cl, &clu);
    clm_cluster_free(cl);
    for (int i = 0; i < n && i < MAX_NODES; i++)
        redisFree(nodes[i]);
    harness_cluster_stop(h);
    harness_kafka_free(k);

    printf("bench_cluster: %lld events, %lld customers, %d partitions, %ld CPUs\n", events,
           customers, PARTS, sysconf(_SC_NPROCESSORS_ONLN));
    print("one server", &one, events, customers);
    print("cluster 3x2", &clu, events, customers);
    printf("cluster_events=%lld cluster_customers=%lld", events, customers);
    kv("one", &one, events, customers);
    kv("cluster", &clu, events, customers);
    printf("\n");
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", tmp);
    return system(rm) == 0 ? 0 : 1;
}
