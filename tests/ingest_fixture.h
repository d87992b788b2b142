/* tests/ingest_fixture.h - test-ingest's shared fixture: one Kafka mock
 * cluster holding one generated stream, the clean reference run of clmd
 * over it, and the helpers every case uses to run clmd and compare Redis
 * (tests/ingest_fixture.c). One test program; not thread-safe. */
#ifndef CLM_TESTS_INGEST_FIXTURE_H
#define CLM_TESTS_INGEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tools/gen.h"

#define TOPIC "clm.events"
#define DLQ "clm.events.dlq"
#define GROUP "clmd-test"

extern char errbuf[512];
#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

typedef struct fixture {
    harness_kafka *kafka;
    char tmp[64];
    clm_gen_opts gen;
    int64_t total;             /* messages in the topic */
    int partitions;            /* of the input topics */
    harness_redis *clean;      /* Redis of the uninterrupted run */
    char *clean_dump;
    harness_kv *msgs;          /* the generated stream, for producing it again in chunks */
    char **bufs;
} fixture;

extern fixture F;

/* clmd's config for a run: the topic, this Redis, the flush interval; with a
 * bounded cache (max_customers > 0) and an HTTP port (0: off). */
void write_config_http(const char *path, const char *topic, int redis_port, int flush_ms,
                       int max_customers, int http_port);
void write_config_cache(const char *path, const char *topic, int redis_port, int flush_ms,
                        int max_customers);
void write_config(const char *path, const char *topic, int redis_port, int flush_ms);
harness_proc *start_clmd(const char *cfg, const char *log);
void wait_consumed(harness_redis *r, long long want, int timeout_ms);
void stop_clmd(harness_proc *p);
void mask_alert_ids(char *d);
/* Redis as a sorted dump, alert ids masked (they name the source topic). */
char *dump(harness_redis *r);
void clean_run(harness_redis **out_redis, char **out_dump);
/* cmocka group setup and teardown: the mock cluster, the stream. */
int setup(void **state);
int teardown(void **state);

#endif
