/* tests/harness.h - real peers for integration tests.
 *
 * A redis-server started from PATH on a free loopback port in a temporary
 * directory, an in-process librdkafka mock cluster with real producers and a
 * whole-topic reader, and child processes with logs and timeouts.
 *
 * Contract for every int-returning function: 0 on success, or a negative
 * errno with one human-readable line in errbuf (output parameters untouched).
 * Nothing here skips: a missing redis-server is an error (-ENOENT), and tests
 * turn errors into failures. Functions are for the test's main thread.
 */
#ifndef CLM_TESTS_HARNESS_H
#define CLM_TESTS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/gen.h"

/* ---- child processes ----------------------------------------------------- */

typedef struct harness_proc harness_proc;

/* Starts argv[0] (looked up on PATH) with argv, in its own process group,
 * stdin from /dev/null, stdout and stderr appended to log_path (/dev/null when
 * NULL). A program that cannot be executed is an error here (-ENOENT, ...),
 * not a later exit status. The child gets SIGKILL when the calling process
 * ends, so no peer outlives a crashed or aborted test. */
int harness_proc_spawn(const char *const argv[], const char *log_path, harness_proc **out,
                       char *errbuf, size_t errsize);

pid_t harness_proc_pid(const harness_proc *p);

/* Sends sig to the process. -ESRCH once it has been reaped. */
int harness_proc_signal(harness_proc *p, int sig);

/* Waits up to timeout_ms for the process to end and reaps it. Returns 0 and
 * sets *wstatus (a waitpid status; may be NULL), or -ETIMEDOUT. Calling it
 * again after the process ended returns the same status. */
int harness_proc_wait(harness_proc *p, int timeout_ms, int *wstatus, char *errbuf, size_t errsize);

/* Waits as above and checks a normal exit with `code`; -ECHILD with the
 * actual outcome ("killed by signal 9", "exited with 3") otherwise. */
int harness_proc_expect_exit(harness_proc *p, int timeout_ms, int code, char *errbuf, size_t errsize);

/* Kills the whole process group with SIGKILL if still running, reaps, frees.
 * Accepts NULL. */
void harness_proc_free(harness_proc *p);

/* Polls pred(arg) every few milliseconds until it returns true (0) or
 * timeout_ms passes (-ETIMEDOUT). pred is called at least once. */
typedef bool (*harness_pred)(void *arg);
int harness_wait_until(harness_pred pred, void *arg, int timeout_ms);

/* ---- loopback ports and HTTP ------------------------------------------- */

/* The clmd binary under test: $CLMD_BIN, else "clmd" on the PATH. */
const char *harness_clmd_bin(void);

/* Removes a directory and everything below it (best effort). */
void harness_rm_tree(const char *dir);

/* A loopback TCP port free right now (bound, read and released). Returns 0
 * or a negative errno (errbuf says why). */
int harness_free_port(int *port, char *errbuf, size_t errsize);

/* GET path on 127.0.0.1:port (HTTP/1.0, 5 s read timeout): the status, 0
 * when unreachable or not HTTP; the body (at most 256 KiB read) into body. */
int harness_http_get(int port, const char *path, char *body, size_t size);

/* The value of an unlabelled metric line "<name> <value>" of a /metrics
 * body, -1 when absent. */
long long harness_metric_value(const char *body, const char *name);

/* ---- redis --------------------------------------------------------------- */

typedef struct harness_redis harness_redis;

/* Starts redis-server on 127.0.0.1:<free port> in a new temporary directory
 * (AOF on, fsync always, no RDB snapshots, log file redis.log there) and
 * waits up to 5 s for PING. Ignores SIGPIPE in the calling process, so a
 * write to a stopped server is an error rather than a crash. */
int harness_redis_start(harness_redis **out, char *errbuf, size_t errsize);

/* SIGTERM, then SIGKILL after 5 s (returning -ETIMEDOUT). No-op when stopped. */
int harness_redis_stop(harness_redis *r, char *errbuf, size_t errsize);

/* Stops the server if running and starts it again on the same port and
 * directory; the data comes back from the AOF. */
int harness_redis_restart(harness_redis *r, char *errbuf, size_t errsize);

/* Stops the server, replaces its data by the RDB file `rdb` and starts it
 * again: loaded with the AOF off, then the AOF switched on and written, so
 * later restarts keep that data. */
int harness_redis_load_rdb(harness_redis *r, const char *rdb, char *errbuf, size_t errsize);

/* Stops the server, removes its directory, frees. Accepts NULL. */
void harness_redis_free(harness_redis *r);

int harness_redis_port(const harness_redis *r);
const char *harness_redis_dir(const harness_redis *r);
pid_t harness_redis_pid(const harness_redis *r); /* 0 while stopped */

/* A new connection (2 s connect, 5 s command timeout); free it with redisFree. */
int harness_redis_connect(const harness_redis *r, redisContext **out, char *errbuf, size_t errsize);

/* Polls clm:stats consumed every few ms (reconnecting when the server was
 * restarted) until it reaches `want`. Returns 0, or -ETIMEDOUT after
 * timeout_ms; *got (may be NULL) receives the last value read (-1: none). */
int harness_wait_consumed(const harness_redis *r, long long want, int timeout_ms, long long *got);

/* Dumps every key matching pattern (NULL: all) as canonical text, one line per
 * item, keys in byte order:
 *   <key> string <value>
 *   <key> hash <field>=<value>       (sorted)
 *   <key> set <member>               (sorted)
 *   <key> zset <member> <score>      (sorted)
 *   <key> list <index, 6 digits> <value>
 *   <key> stream <field>=<value> ...      (sorted; entry ids left out)
 * A JSON member "emitted_at":"..." inside a hash or stream value is left
 * out (alerts carry the wall time they were made at). Bytes outside '!'..'~', and '\' and '=', are written as \xNN. *out is a
 * malloc'ed NUL-terminated string. Expiry times are not part of the dump. */
int harness_redis_dump(redisContext *c, const char *pattern, char **out, char *errbuf, size_t errsize);

/* Compares two dumps line by line. Returns 0 when equal, else 1 and writes
 * "line N: expected <line> | actual <line>" (<end> past the last line) for
 * the first difference into buf. */
int harness_dump_diff(const char *expected, const char *actual, char *buf, size_t size);

/* ---- kafka --------------------------------------------------------------- */

typedef struct harness_kafka harness_kafka;

/* Starts an in-process mock cluster with `brokers` brokers (ids 1..brokers). */
int harness_kafka_start(int brokers, harness_kafka **out, char *errbuf, size_t errsize);

/* Destroys the cluster; accepts NULL. */
void harness_kafka_free(harness_kafka *k);

/* "127.0.0.1:port,..." - valid until harness_kafka_free. */
const char *harness_kafka_bootstraps(const harness_kafka *k);

/* Creates a topic (replication factor min(3, brokers)). */
int harness_kafka_create_topic(harness_kafka *k, const char *topic, int partitions,
                               char *errbuf, size_t errsize);

/* Takes a broker down (connections closed and refused) or brings it back. */
int harness_kafka_broker_down(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize);
int harness_kafka_broker_up(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize);

/* The integer value of a hash field: 0 when the field (or the key) is
 * absent, -1 when the command fails (connection lost, not a hash). */
long long harness_redis_hget_int(redisContext *c, const char *key, const char *field);

/* Moves a partition's leadership to a broker (the topic must exist), or
 * pins a consumer group's coordinator to one. */
int harness_kafka_set_leader(harness_kafka *k, const char *topic, int32_t partition,
                             int32_t broker_id, char *errbuf, size_t errsize);
int harness_kafka_set_coordinator(harness_kafka *k, const char *group, int32_t broker_id,
                                  char *errbuf, size_t errsize);

typedef struct harness_kv {
    const char *key; /* NULL: no key */
    size_t key_len;
    const char *value;
    size_t value_len;
    const char *const *headers; /* name, value, name, value, ..., NULL; or NULL */
    int64_t timestamp;          /* message timestamp (epoch ms); 0: the producer's clock */
} harness_kv;

/* Hand-made event messages, keyed by customer: event_id "e-<index>". */
typedef struct harness_events {
    harness_kv *kv; /* the messages, in order */
    char **bufs, **keys;
    size_t n, cap;
} harness_events;

/* Appends {"event_id","customer_id","type","ts"(RFC 3339 of ts_ms)} with
 * `extra` members (a JSON fragment such as "\"amount\":100", or NULL).
 * Aborts on ENOMEM (tests only). */
void harness_events_add(harness_events *s, const char *customer, const char *type, int64_t ts_ms,
                        const char *extra);
void harness_events_free(harness_events *s);

/* Produces the messages in order with an idempotent producer (zstd when asked)
 * and waits for every delivery report. Any undelivered message (none may be
 * outstanding after timeout_ms) makes it fail with -EIO. */
int harness_produce(const char *brokers, const char *topic, const harness_kv *msgs, size_t n,
                    bool zstd, int timeout_ms, char *errbuf, size_t errsize);

/* A generated stream kept in memory: msgs[0..n) (each key and value in one
 * allocation the stream owns). */
typedef struct harness_stream {
    harness_kv *msgs;
    size_t n;
} harness_stream;

/* The first o->events messages of the stream o describes. Returns 0 or
 * -ENOMEM / clm_gen_new's error (errbuf says why); *out is then empty. */
int harness_stream_gen(const clm_gen_opts *o, harness_stream *out, char *errbuf, size_t errsize);

/* Frees the messages; accepts an empty stream. */
void harness_stream_free(harness_stream *s);

/* Same for every remaining message of a generator, keyed by its keys; sets
 * *produced (may be NULL) to the number of messages on success. */
int harness_produce_gen(const char *brokers, const char *topic, clm_gen *g, bool zstd,
                        int timeout_ms, int64_t *produced, char *errbuf, size_t errsize);

/* High watermark of each partition into high[0..*npart-1] (at most max). */
int harness_kafka_high_watermarks(const char *brokers, const char *topic, int64_t *high, int max,
                                  int *npart, int timeout_ms, char *errbuf, size_t errsize);

typedef struct harness_header {
    char *name;
    char *value; /* NUL-terminated copy; NULL for a null header value */
    size_t value_len;
} harness_header;

typedef struct harness_record {
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms, -1 when absent */
    char *key;         /* NUL-terminated copy; NULL when the message has no key */
    size_t key_len;
    char *value;       /* NUL-terminated copy; NULL for a null value */
    size_t value_len;
    harness_header *headers;
    size_t header_count;
} harness_record;

typedef struct harness_records {
    harness_record *v; /* ordered by partition, then offset */
    size_t n;
} harness_records;

/* Reads every partition of a topic from its low to its high watermark as of
 * the call (no consumer group involved). -ENOENT when the cluster reports the
 * topic unknown (the mock cluster creates unknown topics on request instead),
 * -ETIMEDOUT when not all records arrived within timeout_ms. */
int harness_kafka_read_topic(const char *brokers, const char *topic, int timeout_ms,
                             harness_records **out, char *errbuf, size_t errsize);

/* Frees a record list; accepts NULL. */
void harness_records_free(harness_records *r);

#endif
