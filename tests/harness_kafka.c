/* tests/harness_kafka.c - the Kafka mock cluster, producing and reading topics, generated streams (see harness.h). */
#include "tests/harness.h"
#include "tests/harness_util.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/* ==== kafka ================================================================ */

struct harness_kafka {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int brokers;
};

int harness_kafka_start(int brokers, harness_kafka **out, char *errbuf, size_t errsize)
{
    char err[256];
    harness_kafka *k = calloc(1, sizeof(*k));
    if (!k)
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* this handle only hosts the cluster: silence "no bootstrap.servers" */
    rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err));
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        free(k);
        return harness_fail(-EINVAL, errbuf, errsize, "cannot create a client for the mock cluster: %s", err);
    }
    /* rd_kafka_new took ownership of conf */
    k->mc = rd_kafka_mock_cluster_new(k->rk, brokers);
    if (!k->mc) {
        rd_kafka_destroy(k->rk);
        free(k);
        return harness_fail(-EIO, errbuf, errsize, "cannot start a mock cluster of %d brokers", brokers);
    }
    k->brokers = brokers;
    *out = k;
    return 0;
}

void harness_kafka_free(harness_kafka *k)
{
    if (!k)
        return;
    if (k->mc)
        rd_kafka_mock_cluster_destroy(k->mc);
    rd_kafka_destroy(k->rk);
    free(k);
}

const char *harness_kafka_bootstraps(const harness_kafka *k)
{
    return rd_kafka_mock_cluster_bootstraps(k->mc);
}

int harness_kafka_create_topic(harness_kafka *k, const char *topic, int partitions, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(k->mc, topic, partitions, k->brokers < 3 ? k->brokers : 3);
    if (e)
        return harness_fail(-EINVAL, errbuf, errsize, "create topic %s (%d partitions): %s", topic, partitions,
                    rd_kafka_err2str(e));
    return 0;
}

int harness_kafka_broker_down(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(k->mc, broker_id);
    return e ? harness_fail(-EINVAL, errbuf, errsize, "broker %d down: %s", (int)broker_id, rd_kafka_err2str(e)) : 0;
}

int harness_kafka_broker_up(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(k->mc, broker_id);
    return e ? harness_fail(-EINVAL, errbuf, errsize, "broker %d up: %s", (int)broker_id, rd_kafka_err2str(e)) : 0;
}


int harness_kafka_set_leader(harness_kafka *k, const char *topic, int32_t partition,
                             int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_partition_set_leader(k->mc, topic, partition, broker_id);
    return e ? harness_fail(-EINVAL, errbuf, errsize, "leader of %s [%d]: %s", topic, (int)partition,
                    rd_kafka_err2str(e))
             : 0;
}

int harness_kafka_set_coordinator(harness_kafka *k, const char *group, int32_t broker_id,
                                  char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_coordinator_set(k->mc, "group", group, broker_id);
    return e ? harness_fail(-EINVAL, errbuf, errsize, "coordinator of %s: %s", group, rd_kafka_err2str(e))
             : 0;
}

/* ---- producing ----------------------------------------------------------- */

typedef struct prod {
    rd_kafka_t *rk;
    const char *topic;
    int64_t failed;
    char first_error[200];
} prod;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    prod *p = opaque;
    if (m->err && !p->failed++)
        snprintf(p->first_error, sizeof(p->first_error), "%s", rd_kafka_err2str(m->err));
}

static int prod_open(prod *p, const char *brokers, const char *topic, bool zstd, int timeout_ms,
                     char *errbuf, size_t errsize)
{
    char err[256], timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
    const char *props[][2] = {
        {"bootstrap.servers", brokers}, {"enable.idempotence", "true"}, {"linger.ms", "5"},
        {"compression.type", zstd ? "zstd" : "none"}, {"message.timeout.ms", timeout},
    };
    memset(p, 0, sizeof(*p));
    p->topic = topic;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return harness_fail(-EINVAL, errbuf, errsize, "producer %s=%s: %s", props[i][0], props[i][1], err);
        }
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        return harness_fail(-EINVAL, errbuf, errsize, "cannot create producer: %s", err);
    }
    return 0; /* rd_kafka_new took ownership of conf */
}

static int prod_send(prod *p, const char *key, size_t klen, const char *val, size_t vlen,
                     const char *const *headers, int64_t timestamp, char *errbuf, size_t errsize)
{
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (headers) {
            hdrs = rd_kafka_headers_new(4);
            for (size_t i = 0; headers[i] && headers[i + 1]; i += 2)
                rd_kafka_header_add(hdrs, headers[i], -1, headers[i + 1], -1);
        }
        /* rd_kafka_produceva, not the RD_KAFKA_V_ macros: those use GNU
         * statement expressions, which -Wpedantic rejects under clang */
        rd_kafka_vu_t vu[6] = {
            {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = p->topic},
            {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key, klen}},
            {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)val, vlen}},
            {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        };
        size_t nvu = 4;
        if (timestamp)
            vu[nvu++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_TIMESTAMP, .u.i64 = timestamp};
        if (hdrs)
            vu[nvu++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs};
        rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vu, nvu);
        rd_kafka_resp_err_t e = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_error_destroy(error);
        if (e && hdrs)
            rd_kafka_headers_destroy(hdrs); /* on success the message owns them */
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 50);
            continue;
        }
        if (e)
            return harness_fail(-EIO, errbuf, errsize, "produce to %s: %s", p->topic, rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 0);
        return 0;
    }
}

/* Waits for every delivery report and destroys the producer. */
static int prod_close(prod *p, int rc, int timeout_ms, int64_t sent, char *errbuf, size_t errsize)
{
    int64_t deadline = harness_now_ms() + timeout_ms + 5000;
    while (rd_kafka_outq_len(p->rk) > 0 && harness_now_ms() < deadline)
        rd_kafka_flush(p->rk, 100);
    if (!rc && rd_kafka_outq_len(p->rk) > 0)
        rc = harness_fail(-ETIMEDOUT, errbuf, errsize, "%d messages to %s still unacknowledged after %d ms",
                  rd_kafka_outq_len(p->rk), p->topic, timeout_ms);
    if (!rc && p->failed)
        rc = harness_fail(-EIO, errbuf, errsize, "%lld of %lld messages not delivered to %s: %s", (long long)p->failed,
                  (long long)sent, p->topic, p->first_error);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(p->rk);
    return rc;
}

int harness_produce(const char *brokers, const char *topic, const harness_kv *msgs, size_t n, bool zstd,
                    int timeout_ms, char *errbuf, size_t errsize)
{
    prod p;
    int e = prod_open(&p, brokers, topic, zstd, timeout_ms, errbuf, errsize);
    if (e)
        return e;
    size_t i;
    for (i = 0; i < n && !e; i++)
        e = prod_send(&p, msgs[i].key, msgs[i].key ? msgs[i].key_len : 0, msgs[i].value, msgs[i].value_len,
                      msgs[i].headers, msgs[i].timestamp, errbuf, errsize);
    return prod_close(&p, e, timeout_ms, (int64_t)i, errbuf, errsize);
}

int harness_produce_gen(const char *brokers, const char *topic, clm_gen *g, bool zstd, int timeout_ms,
                        int64_t *produced, char *errbuf, size_t errsize)
{
    prod p;
    int e = prod_open(&p, brokers, topic, zstd, timeout_ms, errbuf, errsize);
    if (e)
        return e;
    int64_t sent = 0;
    clm_gen_msg m;
    int more;
    while (!e && (more = clm_gen_next(g, &m)) != 0) {
        if (more < 0) {
            e = harness_fail(more, errbuf, errsize, "generator: %s", strerror(-more));
            break;
        }
        e = prod_send(&p, m.key, m.key_len, m.value, m.value_len, NULL, 0, errbuf, errsize);
        sent += !e;
    }
    e = prod_close(&p, e, timeout_ms, sent, errbuf, errsize);
    if (!e && produced)
        *produced = sent;
    return e;
}

/* ---- reading ------------------------------------------------------------- */

/* A consumer with no group membership, used with assign() only. */
static int consumer_open(const char *brokers, rd_kafka_t **out, char *errbuf, size_t errsize)
{
    static unsigned counter;
    char err[256], group[64];
    snprintf(group, sizeof(group), "clm-harness-%ld-%u", (long)getpid(), counter++);
    const char *props[][2] = {
        {"bootstrap.servers", brokers}, {"group.id", group}, {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return harness_fail(-EINVAL, errbuf, errsize, "consumer %s=%s: %s", props[i][0], props[i][1], err);
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return harness_fail(-EINVAL, errbuf, errsize, "cannot create consumer: %s", err);
    }
    *out = rk; /* rd_kafka_new took ownership of conf */
    return 0;
}

/* Partition count of a topic; -ENOENT when the cluster does not know it. */
static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int *n, char *errbuf,
                           size_t errsize)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t)
        return harness_fail(-EINVAL, errbuf, errsize, "topic handle %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e)
        return harness_fail(-EIO, errbuf, errsize, "metadata for %s: %s", topic, rd_kafka_err2str(e));
    int r = 0;
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        r = harness_fail(-ENOENT, errbuf, errsize, "topic %s: %s", topic,
                 md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err) : "no partitions");
    else
        *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return r;
}

static int watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *lo, int64_t *hi, int timeout_ms,
                      char *errbuf, size_t errsize)
{
    for (int p = 0; p < n; p++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo[p], &hi[p], timeout_ms);
        if (e)
            return harness_fail(-EIO, errbuf, errsize, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(e));
    }
    return 0;
}

int harness_kafka_high_watermarks(const char *brokers, const char *topic, int64_t *high, int max, int *npart,
                                  int timeout_ms, char *errbuf, size_t errsize)
{
    rd_kafka_t *rk;
    int n = 0;
    int e = consumer_open(brokers, &rk, errbuf, errsize);
    if (e)
        return e;
    e = partition_count(rk, topic, timeout_ms, &n, errbuf, errsize);
    if (!e && n > max)
        e = harness_fail(-ERANGE, errbuf, errsize, "topic %s has %d partitions, room for %d", topic, n, max);
    int64_t *lo = NULL, *hi = NULL;
    if (!e) {
        lo = calloc((size_t)n, sizeof(*lo));
        hi = calloc((size_t)n, sizeof(*hi));
        if (!lo || !hi)
            e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    }
    if (!e)
        e = watermarks(rk, topic, n, lo, hi, timeout_ms, errbuf, errsize);
    if (!e) {
        memcpy(high, hi, (size_t)n * sizeof(*hi));
        *npart = n;
    }
    free(lo);
    free(hi);
    rd_kafka_destroy(rk);
    return e;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static void record_clear(harness_record *r)
{
    free(r->key);
    free(r->value);
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
}

void harness_records_free(harness_records *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        record_clear(&r->v[i]);
    free(r->v);
    free(r);
}

static int record_copy(harness_record *r, rd_kafka_message_t *m)
{
    memset(r, 0, sizeof(*r));
    r->partition = m->partition;
    r->offset = m->offset;
    r->timestamp = rd_kafka_message_timestamp(m, NULL);
    if (m->key && !(r->key = dup_bytes(m->key, m->key_len)))
        return -ENOMEM;
    r->key_len = m->key ? m->key_len : 0;
    if (m->payload && !(r->value = dup_bytes(m->payload, m->len)))
        return -ENOMEM;
    r->value_len = m->payload ? m->len : 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
        size_t n = rd_kafka_header_cnt(hdrs);
        r->headers = calloc(n ? n : 1, sizeof(*r->headers));
        if (!r->headers)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const char *name;
            const void *val;
            size_t len;
            if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len))
                break;
            harness_header *h = &r->headers[r->header_count++];
            h->name = dup_bytes(name, strlen(name));
            h->value = val ? dup_bytes(val, len) : NULL;
            h->value_len = val ? len : 0;
            if (!h->name || (val && !h->value))
                return -ENOMEM;
        }
    }
    return 0;
}

static int cmp_record(const void *a, const void *b)
{
    const harness_record *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

int harness_kafka_read_topic(const char *brokers, const char *topic, int timeout_ms, harness_records **out,
                             char *errbuf, size_t errsize)
{
    rd_kafka_t *rk;
    int n = 0;
    int64_t *lo = NULL, *hi = NULL, *next = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    harness_records *recs = NULL;
    int64_t deadline = harness_now_ms() + timeout_ms;
    int e = consumer_open(brokers, &rk, errbuf, errsize);
    if (e)
        return e;
    e = partition_count(rk, topic, timeout_ms, &n, errbuf, errsize);
    if (e)
        goto out_destroy_consumer;
    lo = calloc((size_t)n, sizeof(*lo));
    hi = calloc((size_t)n, sizeof(*hi));
    next = calloc((size_t)n, sizeof(*next));
    recs = calloc(1, sizeof(*recs));
    if (!lo || !hi || !next || !recs) {
        e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
        goto out_free_buffers;
    }
    e = watermarks(rk, topic, n, lo, hi, timeout_ms, errbuf, errsize);
    if (e)
        goto out_free_buffers;

    size_t total = 0;
    int pending = 0;
    parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        next[p] = lo[p];
        if (hi[p] > lo[p]) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo[p];
            total += (size_t)(hi[p] - lo[p]);
            pending++;
        }
    }
    recs->v = calloc(total ? total : 1, sizeof(*recs->v));
    if (!recs->v) {
        e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory for %zu records", total);
        goto out_free_buffers;
    }
    rd_kafka_resp_err_t ae = rd_kafka_assign(rk, parts);
    if (ae) {
        e = harness_fail(-EIO, errbuf, errsize, "assign %s: %s", topic, rd_kafka_err2str(ae));
        goto out_free_buffers;
    }
    while (pending > 0) {
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) {
            e = harness_fail(-ETIMEDOUT, errbuf, errsize, "read %zu of %zu records of %s in %d ms", recs->n, total, topic,
                     timeout_ms);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, left < 100 ? (int)left : 100);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            e = harness_fail(-EIO, errbuf, errsize, "consume %s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        int p = m->partition;
        if (m->err) { /* end of partition: done even if offsets had gaps */
            if (p >= 0 && p < n && next[p] < hi[p] && m->offset >= hi[p]) {
                next[p] = hi[p];
                pending--;
            }
        } else if (p >= 0 && p < n && m->offset >= next[p] && m->offset < hi[p]) {
            if (record_copy(&recs->v[recs->n++], m) < 0) {
                e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
                rd_kafka_message_destroy(m);
                break;
            }
            next[p] = m->offset + 1;
            if (next[p] >= hi[p])
                pending--;
        }
        rd_kafka_message_destroy(m);
    }
    if (!e) {
        qsort(recs->v, recs->n, sizeof(*recs->v), cmp_record);
        *out = recs;
        recs = NULL;
    }

out_free_buffers:
    harness_records_free(recs);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    free(lo);
    free(hi);
    free(next);
out_destroy_consumer:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return e;
}

/* ---- generated streams in memory ---------------------------------------- */

int harness_stream_gen(const clm_gen_opts *o, harness_stream *out, char *errbuf, size_t errsize)
{
    *out = (harness_stream){ 0 };
    clm_gen *g = NULL;
    int e = clm_gen_new(o, &g, errbuf, errsize);
    if (e < 0)
        return e;
    harness_kv *v = calloc(o->events > 0 ? (size_t)o->events : 1, sizeof(*v));
    if (!v) {
        clm_gen_free(g);
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    }
    out->msgs = v;
    clm_gen_msg m;
    while (out->n < (size_t)o->events && clm_gen_next(g, &m) == 1) {
        char *b = malloc(m.key_len + m.value_len + 1);
        if (!b) {
            clm_gen_free(g);
            harness_stream_free(out);
            return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
        }
        memcpy(b, m.key, m.key_len);
        memcpy(b + m.key_len, m.value, m.value_len);
        v[out->n++] = (harness_kv){ .key = b, .key_len = m.key_len, .value = b + m.key_len,
                                    .value_len = m.value_len };
    }
    clm_gen_free(g);
    return 0;
}

void harness_stream_free(harness_stream *s)
{
    for (size_t i = 0; s->msgs && i < s->n; i++)
        free((void *)s->msgs[i].key);
    free(s->msgs);
    *s = (harness_stream){ 0 };
}

/* ---- hand-made events ------------------------------------------------------ */

void harness_events_add(harness_events *s, const char *customer, const char *type, int64_t ts_ms,
                        const char *extra)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->kv = realloc(s->kv, s->cap * sizeof(*s->kv));
        s->bufs = realloc(s->bufs, s->cap * sizeof(*s->bufs));
        s->keys = realloc(s->keys, s->cap * sizeof(*s->keys));
        if (!s->kv || !s->bufs || !s->keys)
            abort();
    }
    char tsbuf[32], *b = NULL;
    clm_ts_format(ts_ms, tsbuf);
    if (asprintf(&b, "{\"event_id\":\"e-%zu\",\"customer_id\":\"%s\",\"type\":\"%s\","
                     "\"ts\":\"%s\"%s%s}",
                 s->n, customer, type, tsbuf, extra ? "," : "", extra ? extra : "") < 0)
        abort();
    s->bufs[s->n] = b;
    if (!(s->keys[s->n] = strdup(customer)))
        abort();
    s->kv[s->n] = (harness_kv){ .key = s->keys[s->n], .key_len = strlen(customer), .value = b,
                                .value_len = strlen(b) };
    s->n++;
}

void harness_events_free(harness_events *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->bufs[i]);
        free(s->keys[i]);
    }
    free(s->bufs);
    free(s->keys);
    free(s->kv);
    *s = (harness_events){ 0 };
}
