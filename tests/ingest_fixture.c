/* tests/ingest_fixture.c - see ingest_fixture.h. */
#include "tests/ingest_fixture.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char errbuf[512];

/* ---- shared fixture: one mock cluster, one clean reference run --------- */


fixture F;

void write_config_http(const char *path, const char *topic, int redis_port, int flush_ms,
                              int max_customers, int http_port)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"kafka\": {\"brokers\": \"%s\", \"topics\": [\"%s\"], \"group_id\": \"" GROUP "\",\n"
            "  \"properties\": {\"session.timeout.ms\": \"6000\", \"heartbeat.interval.ms\": \"500\"}},\n"
            " \"redis\": {\"port\": %d},\n"
            " \"flush\": {\"interval_ms\": %d},\n"
            " \"events\": {\"dedup_max_ids\": 64},\n"
            " \"core\": {\"workers\": 2, \"max_customers\": %d},\n"
            " \"http\": {\"port\": %d},\n"
            " \"alerts\": {\"rate_per_s\": 1000000, \"burst\": 1000000},\n"
            " \"log\": {\"level\": \"info\"}}\n",
            harness_kafka_bootstraps(F.kafka), topic, redis_port, flush_ms, max_customers,
            http_port);
    fclose(f);
}

void write_config_cache(const char *path, const char *topic, int redis_port, int flush_ms,
                               int max_customers)
{
    write_config_http(path, topic, redis_port, flush_ms, max_customers, 0);
}

void write_config(const char *path, const char *topic, int redis_port, int flush_ms)
{
    write_config_cache(path, topic, redis_port, flush_ms, 20000);
}

harness_proc *start_clmd(const char *cfg, const char *log)
{
    const char *argv[] = { harness_clmd_bin(), "-c", cfg, NULL };
    harness_proc *p = NULL;
    CHECK(harness_proc_spawn(argv, log, &p, errbuf, sizeof(errbuf)));
    return p;
}

void wait_consumed(harness_redis *r, long long want, int timeout_ms)
{
    long long got;
    if (harness_wait_consumed(r, want, timeout_ms, &got) < 0)
        fail_msg("clmd consumed %lld of %lld messages within %d ms", got, want, timeout_ms);
}

void stop_clmd(harness_proc *p)
{
    CHECK(harness_proc_signal(p, SIGTERM));
    CHECK(harness_proc_expect_exit(p, 30000, 0, errbuf, sizeof(errbuf)));
    harness_proc_free(p);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Alert ids name the source topic, and the runs compared here read copies
 * of the stream from differently named topics: the ids are masked (and the
 * lines sorted again). tests/test-alerts.c checks the ids themselves. */
void mask_alert_ids(char *d)
{
    static const char *const tags[] = { "alert_id=", "\"alert_id\":\"", "alerts:outbox hash " };
    for (size_t t = 0; t < 3; t++)
        for (char *q = d; (q = strstr(q, tags[t])) != NULL;) {
            q += strlen(tags[t]);
            for (int i = 0; i < 32 && q[i] && q[i] != '\n'; i++)
                q[i] = 'x';
        }
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof(*lines));
    assert_non_null(lines);
    for (char *save = NULL, *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(*lines));
            assert_non_null(lines);
        }
        lines[n++] = strdup(l);
    }
    qsort(lines, n, sizeof(*lines), cmp_line);
    char *w = d;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        memcpy(w, lines[i], len);
        w[len] = '\n';
        w += len + 1;
        free(lines[i]);
    }
    *w = '\0';
    free(lines);
}

char *dump(harness_redis *r)
{
    redisContext *c = NULL;
    char *out = NULL;
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_dump(c, NULL, &out, errbuf, sizeof(errbuf)));
    redisFree(c);
    mask_alert_ids(out);
    return out;
}

/* Runs clmd over the whole topic into a fresh Redis, uninterrupted. */
void clean_run(harness_redis **out_redis, char **out_dump)
{
    char cfg[128], log[128];
    harness_redis *r = NULL;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    snprintf(cfg, sizeof(cfg), "%s/clean.json", F.tmp);
    snprintf(log, sizeof(log), "%s/clean.log", F.tmp);
    write_config(cfg, TOPIC, harness_redis_port(r), 50);
    harness_proc *p = start_clmd(cfg, log);
    wait_consumed(r, F.total, 600000);
    stop_clmd(p);
    *out_redis = r;
    *out_dump = dump(r);
}

int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof(F.tmp), "/tmp/clm-ingest-XXXXXX");
    if (!mkdtemp(F.tmp))
        return -1;
    /* Soak mode (CLM_SOAK_EVENTS, e.g. 1000000; scripts/test.sh --soak): a
     * bigger stream over more partitions (a mock partition keeps ~135k
     * small zstd events) */
    const char *soak = getenv("CLM_SOAK_EVENTS");
    int64_t events = soak && atoll(soak) > 0 ? atoll(soak) : 30000;
    F.partitions = events > 200000 ? 16 : 4;
    if (harness_kafka_start(1, &F.kafka, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, TOPIC, F.partitions, errbuf, sizeof(errbuf)) < 0 ||
        harness_kafka_create_topic(F.kafka, DLQ, 1, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# kafka: %s\n", errbuf);
        return -1;
    }
    clm_gen_opts_default(&F.gen);
    F.gen.seed = 7;
    F.gen.customers = events / 5;
    F.gen.events = events;
    F.gen.malformed_rate = 0.02;
    F.gen.dup_rate = 0.01;
    /* keep the stream: the fault tests produce it again, in chunks */
    clm_gen *g = NULL;
    if (clm_gen_new(&F.gen, &g, errbuf, sizeof(errbuf)) < 0)
        return -1;
    F.msgs = calloc((size_t)F.gen.events, sizeof(*F.msgs));
    F.bufs = calloc((size_t)F.gen.events, sizeof(*F.bufs));
    clm_gen_msg m;
    while (F.total < F.gen.events && clm_gen_next(g, &m) == 1) {
        char *b = malloc(m.key_len + m.value_len + 1);
        memcpy(b, m.key, m.key_len);
        memcpy(b + m.key_len, m.value, m.value_len);
        F.bufs[F.total] = b;
        F.msgs[F.total] = (harness_kv){ .key = b, .key_len = m.key_len, .value = b + m.key_len,
                                       .value_len = m.value_len };
        F.total++;
    }
    clm_gen_free(g);
    if (harness_produce(harness_kafka_bootstraps(F.kafka), TOPIC, F.msgs, (size_t)F.total, true,
                        60000, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "# produce: %s\n", errbuf);
        return -1;
    }
    return 0;
}

int teardown(void **state)
{
    (void)state;
    harness_redis_free(F.clean);
    free(F.clean_dump);
    harness_kafka_free(F.kafka);
    for (int64_t i = 0; i < F.total; i++)
        free(F.bufs[i]);
    free(F.bufs);
    free(F.msgs);
    char cmd[128];
    if (getenv("CLM_KEEP_TMP")) { /* keep configs and clmd logs for a post-mortem */
        fprintf(stderr, "# kept %s\n", F.tmp);
        return 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.tmp);
    if (system(cmd) != 0)
        return -1;
    return 0;
}
