/* daemon/dlq.c - see dlq.h. */
#include "daemon/dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/log.h"

/* librdkafka's RD_KAFKA_V_* argument macros (rd_kafka_producev) are built
 * on GNU statement expressions, which clang's -Wpedantic reports. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif

/* Outstanding messages per worker are bounded by the producer queue
 * (queue.buffering.max.messages, forced to 100000 below), so a window of
 * 2^18 sequence numbers always covers them. */
#define WINDOW_BITS 18
#define WINDOW (1u << WINDOW_BITS)

typedef struct track {
    _Atomic uint64_t sent; /* written by the worker */
    uint64_t upto;         /* writer: every seq <= upto delivered */
    uint8_t *done;         /* writer: delivered-but-not-contiguous bitmap */
} track;

struct clm_dlq {
    rd_kafka_t *rk;
    int nworkers;
    track *t;
    uint64_t delivered_total;
    size_t max_bytes; /* the producer's message.max.bytes */
};

/* Room left in message.max.bytes for librdkafka's own record framing. */
#define FRAMING_SLACK 512
/* A truncated dead letter keeps at most this much of its key. */
#define KEY_KEEP 1024

/* Produces one message (copied), waiting while the queue is full. On success
 * the producer owns h; otherwise the caller still does. */
static rd_kafka_resp_err_t produce(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                                   void *value, size_t vlen, rd_kafka_headers_t *h,
                                   void *opaque)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(value, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e;
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* An upper bound of the bytes h takes in a record. */
static size_t headers_size(const rd_kafka_headers_t *h)
{
    const char *name;
    const void *value;
    size_t size, total = 5;
    for (size_t i = 0; h && rd_kafka_header_get_all(h, i, &name, &value, &size) == 0; i++)
        total += strlen(name) + size + 10;
    return total;
}

/* The decimal value of the last header `name` of h, or `dflt`. */
static unsigned long long header_ull(const rd_kafka_headers_t *h, const char *name,
                                     unsigned long long dflt)
{
    const void *value;
    size_t size;
    char buf[24];
    if (!h || rd_kafka_header_get_last(h, name, &value, &size) || !value || size >= sizeof(buf))
        return dflt;
    memcpy(buf, value, size);
    buf[size] = '\0';
    return strtoull(buf, NULL, 10);
}

static int add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
    return rd_kafka_header_add(h, name, -1, value, -1) ? -EINVAL : 0;
}

/* Produces a dead letter too large for the producer, cut down so the record
 * takes at most `limit` bytes: the key to KEY_KEEP bytes, the message's own
 * headers left out when they take more than half of the limit, the value to
 * what is left. `full` (not taken) holds every header the dead letter would
 * have had; the copy adds clm.truncated (the original value's size) and,
 * when cut, clm.truncated.key (the original key's size) and
 * clm.truncated.headers (how many headers were left out). A dead letter cut
 * before keeps its original figures. */
static rd_kafka_resp_err_t produce_truncated(rd_kafka_t *rk, const char *topic, const void *key,
                                             size_t klen, void *value, size_t vlen,
                                             const rd_kafka_headers_t *full, size_t limit,
                                             void *opaque)
{
    unsigned long long orig_value = header_ull(full, "clm.truncated", vlen);
    unsigned long long orig_key = header_ull(full, "clm.truncated.key", klen);
    unsigned long long dropped = header_ull(full, "clm.truncated.headers", 0);
    size_t kept_key = klen > KEY_KEEP ? KEY_KEEP : klen;
    bool own = headers_size(full) + kept_key <= limit / 2;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    const char *name;
    const void *hv;
    size_t hsize;
    char num[24];
    for (size_t i = 0; h && full && rd_kafka_header_get_all(full, i, &name, &hv, &hsize) == 0; i++) {
        if (strncmp(name, "clm.truncated", 13) == 0)
            continue;
        if (!own && strncmp(name, "clm.", 4) != 0) {
            dropped++;
            continue;
        }
        if (rd_kafka_header_add(h, name, -1, hv, hv ? (ssize_t)hsize : 0)) {
            rd_kafka_headers_destroy(h);
            h = NULL;
        }
    }
    if (!h)
        return RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE;
    snprintf(num, sizeof(num), "%llu", orig_value);
    int r = add_header(h, "clm.truncated", num);
    if (r == 0 && kept_key < klen) {
        snprintf(num, sizeof(num), "%llu", orig_key);
        r = add_header(h, "clm.truncated.key", num);
    }
    if (r == 0 && dropped > 0) {
        snprintf(num, sizeof(num), "%llu", dropped);
        r = add_header(h, "clm.truncated.headers", num);
    }
    if (r < 0) {
        rd_kafka_headers_destroy(h);
        return RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE;
    }
    size_t used = kept_key + headers_size(h);
    size_t kept_value = used >= limit ? 0 : limit - used;
    if (kept_value > vlen)
        kept_value = vlen;
    rd_kafka_resp_err_t e = produce(rk, topic, key, kept_key, value, kept_value, h, opaque);
    if (e)
        rd_kafka_headers_destroy(h);
    return e;
}

/* Produces the dead letter cut to ever smaller limits, starting at `limit`,
 * until librdkafka accepts it. */
static rd_kafka_resp_err_t produce_shrinking(rd_kafka_t *rk, const char *topic, const void *key,
                                             size_t klen, void *value, size_t vlen,
                                             const rd_kafka_headers_t *full, size_t limit,
                                             void *opaque)
{
    rd_kafka_resp_err_t e;
    do {
        e = produce_truncated(rk, topic, key, klen, value, vlen, full, limit, opaque);
        limit /= 2;
    } while (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && limit >= 1024);
    return e;
}

static inline uint64_t pack(int w, uint64_t seq)
{
    return ((uint64_t)w << 48) | seq;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    clm_dlq *d = opaque;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    int w = (int)(tag >> 48);
    uint64_t seq = tag & ((1ull << 48) - 1);
    if (m->err) {
        /* Never drop a dead letter: produce it again with the same tag; one
         * the broker finds too large (its max.message.bytes is below the
         * producer's), cut to half its size. */
        log_warn("dead-letter delivery to %s failed (%s); producing it again",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        rd_kafka_headers_t *h = NULL;
        if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
            h = NULL;
        rd_kafka_resp_err_t e;
        if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            e = produce_shrinking(rk, rd_kafka_topic_name(m->rkt), m->key, m->key_len, m->payload,
                                  m->len, h, (m->key_len + m->len + headers_size(h)) / 2,
                                  m->_private);
        } else {
            rd_kafka_headers_t *copy = h ? rd_kafka_headers_copy(h) : NULL;
            e = produce(rk, rd_kafka_topic_name(m->rkt), m->key, m->key_len, m->payload, m->len,
                        copy, m->_private);
            if (e && copy)
                rd_kafka_headers_destroy(copy);
        }
        if (e)
            log_err("cannot re-produce a dead letter: %s", rd_kafka_err2str(e));
        return;
    }
    track *t = &d->t[w];
    t->done[(seq & (WINDOW - 1)) >> 3] |= (uint8_t)(1u << (seq & 7));
    for (;;) {
        uint64_t next = t->upto + 1;
        uint8_t *byte = &t->done[(next & (WINDOW - 1)) >> 3];
        uint8_t bit = (uint8_t)(1u << (next & 7));
        if (!(*byte & bit))
            break;
        *byte &= (uint8_t)~bit;
        t->upto = next;
    }
    d->delivered_total++;
}

clm_dlq *clm_dlq_new(rd_kafka_conf_t *conf, int nworkers, char *errbuf, size_t errsize)
{
    clm_dlq *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(errbuf, errsize, "out of memory");
        goto out_destroy_conf;
    }
    d->nworkers = nworkers;
    d->t = calloc((size_t)nworkers, sizeof(*d->t));
    if (!d->t)
        goto out_nomem;
    for (int i = 0; i < nworkers; i++)
        if (!(d->t[i].done = calloc(WINDOW / 8, 1)))
            goto out_nomem;
    char max[32];
    size_t max_size = sizeof(max);
    if (rd_kafka_conf_get(conf, "message.max.bytes", max, &max_size) != RD_KAFKA_CONF_OK)
        snprintf(max, sizeof(max), "1000000");
    d->max_bytes = (size_t)strtoull(max, NULL, 10);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, d);
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errsize);
    if (!d->rk)
        goto out_free;
    return d; /* rd_kafka_new took ownership of conf */

out_nomem:
    snprintf(errbuf, errsize, "out of memory");
out_free:
    clm_dlq_free(d, 0);
out_destroy_conf:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

void clm_dlq_free(clm_dlq *d, int timeout_ms)
{
    if (!d)
        return;
    if (d->rk) {
        rd_kafka_flush(d->rk, timeout_ms);
        rd_kafka_destroy(d->rk);
    }
    if (d->t)
        for (int i = 0; i < d->nworkers; i++)
            free(d->t[i].done);
    free(d->t);
    free(d);
}

/* A copy of the message's own headers with every name in the clm.
 * namespace (any case) renamed to original.<name>, so the headers this module
 * adds are the only clm.* ones; NULL on ENOMEM. */
static rd_kafka_headers_t *own_headers(const rd_kafka_message_t *src)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(src, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return rd_kafka_headers_new(5);
    rd_kafka_headers_t *h = rd_kafka_headers_new(rd_kafka_header_cnt(orig) + 5);
    const char *name;
    const void *value;
    size_t size;
    for (size_t i = 0; h && rd_kafka_header_get_all(orig, i, &name, &value, &size) == 0; i++) {
        char renamed[256];
        const char *n = name;
        if (strncasecmp(name, "clm.", 4) == 0) {
            snprintf(renamed, sizeof(renamed), "original.%s", name);
            n = renamed;
        }
        if (rd_kafka_header_add(h, n, -1, value, value ? (ssize_t)size : 0)) {
            rd_kafka_headers_destroy(h);
            h = NULL;
        }
    }
    return h;
}

int clm_dlq_send(clm_dlq *d, int w, const char *dlq_topic, const rd_kafka_message_t *src,
                 const char *src_topic, const clm_reject *rej, uint64_t *seq)
{
    char part[16], off[24];
    rd_kafka_headers_t *h = own_headers(src);
    if (!h)
        return -ENOMEM;
    snprintf(part, sizeof(part), "%" PRId32, src->partition);
    snprintf(off, sizeof(off), "%" PRId64, src->offset);
    if (add_header(h, "clm.reason", clm_reason_name(rej->reason)) < 0 ||
        add_header(h, "clm.detail", rej->detail) < 0 ||
        add_header(h, "clm.source.topic", src_topic) < 0 ||
        add_header(h, "clm.source.partition", part) < 0 ||
        add_header(h, "clm.source.offset", off) < 0) {
        rd_kafka_headers_destroy(h);
        return -EINVAL;
    }
    track *t = &d->t[w];
    uint64_t s = atomic_load_explicit(&t->sent, memory_order_relaxed) + 1;
    void *tag = (void *)(uintptr_t)pack(w, s);
    rd_kafka_resp_err_t e = produce(d->rk, dlq_topic, src->key, src->key_len, src->payload, src->len,
                                    h, tag);
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        size_t limit = d->max_bytes > 2 * FRAMING_SLACK ? d->max_bytes - FRAMING_SLACK : d->max_bytes / 2;
        log_warn("the dead letter of %s [%" PRId32 "] offset %" PRId64 " (%zu bytes) is larger "
                 "than the dead-letter producer's message.max.bytes (%zu): producing it truncated",
                 src_topic, src->partition, src->offset, src->len, d->max_bytes);
        e = produce_shrinking(d->rk, dlq_topic, src->key, src->key_len, src->payload, src->len, h,
                              limit, tag);
        rd_kafka_headers_destroy(h); /* copied by produce_truncated */
        h = NULL;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (h)
            rd_kafka_headers_destroy(h);
        return e == RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE ? -ENOMEM : -EINVAL;
    }
    /* the producer owns h now */
    atomic_store_explicit(&t->sent, s, memory_order_release);
    *seq = s;
    return 0;
}

void clm_dlq_poll(clm_dlq *d, int timeout_ms)
{
    rd_kafka_poll(d->rk, timeout_ms);
}

bool clm_dlq_delivered(const clm_dlq *d, int w, uint64_t seq)
{
    return d->t[w].upto >= seq;
}

uint64_t clm_dlq_delivered_total(const clm_dlq *d)
{
    return d->delivered_total;
}

rd_kafka_t *clm_dlq_handle(clm_dlq *d)
{
    return d->rk;
}
