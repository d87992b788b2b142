/* tools/clmctl_forget.c - `clmctl forget ID`: asks clmd to erase a customer
 * (README "Erasure (forget)") by producing an erasure request to its input
 * topic, keyed by the id like every event of that customer (so it lands on
 * the customer's partition, after the events already there), and reports
 * where it was delivered. clmd erases the customer when it consumes it.
 *
 * The request: {"type":"forget","customer_id":"<ID>","ts":<now, epoch ms>}.
 * Producer: bootstrap.servers from --brokers or kafka.brokers, then
 * kafka.properties (credentials, TLS), then enable.idempotence=true and
 * message.timeout.ms=30000.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "tools/clmctl_cmd.h"

typedef struct delivery {
    bool done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
    char fatal[256];
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    delivery *d = opaque;
    d->done = true;
    d->err = m->err;
    d->partition = m->partition;
    d->offset = m->offset;
}

/* Only a fatal error ends the wait early; anything else is retried until
 * message.timeout.ms fails the delivery. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)reason;
    delivery *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[200];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        snprintf(d->fatal, sizeof(d->fatal), "%s", buf);
    }
}

static int set_prop(rd_kafka_conf_t *conf, const char *k, const char *v, bool secret,
                    char *errbuf, size_t errsize)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) == RD_KAFKA_CONF_OK)
        return 0;
    if (secret)
        snprintf(errbuf, errsize, "kafka.properties.%s: %s", k, err);
    else
        snprintf(errbuf, errsize, "%s=%s: %s", k, v, err);
    return -EINVAL;
}

static rd_kafka_t *make_producer(const clm_config *cfg, const char *brokers, delivery *d,
                                 char *errbuf, size_t errsize)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set_prop(conf, "bootstrap.servers", brokers, false, errbuf, errsize) < 0)
        goto out_free_conf;
    for (size_t i = 0; i < cfg->kafka_prop_count; i++)
        if (set_prop(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value,
                     cfg->kafka_props[i].secret, errbuf, errsize) < 0)
            goto out_free_conf;
    if (set_prop(conf, "enable.idempotence", "true", false, errbuf, errsize) < 0 ||
        set_prop(conf, "message.timeout.ms", "30000", false, errbuf, errsize) < 0 ||
        set_prop(conf, "log_level", "0", false, errbuf, errsize) < 0)
        goto out_free_conf;
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        snprintf(errbuf, errsize, "cannot create a Kafka producer: %s", err);
        goto out_free_conf;
    }
    return rk; /* rd_kafka_new took ownership of conf */

out_free_conf:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int clmctl_forget(const clm_config *cfg, const char *brokers, const char *topic, const char *id,
                  bool json, FILE *out, char *errbuf, size_t errsize)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ts = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    json_t *req = json_pack("{s:s, s:s, s:I}", "type", "forget", "customer_id", id, "ts",
                            (json_int_t)ts);
    char *value = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!value) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    delivery d = { .partition = -1, .offset = -1 };
    int r = 0;
    rd_kafka_t *rk = make_producer(cfg, brokers, &d, errbuf, errsize);
    if (!rk) {
        r = -EINVAL;
        goto out_free_value;
    }
    rd_kafka_vu_t vu[4] = {
        {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)id, strlen(id)}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {value, strlen(value)}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
    };
    rd_kafka_error_t *error = rd_kafka_produceva(rk, vu, 4);
    if (error) {
        snprintf(errbuf, errsize, "producing to %s: %s", topic, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        r = -EIO;
        goto out_destroy_producer;
    }
    while (!d.done && !d.fatal[0])
        rd_kafka_poll(rk, 100);
    if (d.fatal[0] && !d.done) {
        snprintf(errbuf, errsize, "%s: %s", brokers, d.fatal);
        r = -EIO;
    } else if (d.err) {
        snprintf(errbuf, errsize, "the request for %s was not delivered to %s: %s", id, topic,
                 rd_kafka_err2str(d.err));
        r = -EIO;
    } else if (json) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:I}", "customer_id", id, "topic", topic,
                              "partition", (int)d.partition, "offset", (json_int_t)d.offset);
        if (!o || json_dumpf(o, out, JSON_COMPACT) < 0) {
            snprintf(errbuf, errsize, "out of memory");
            r = -ENOMEM;
        } else {
            fputc('\n', out);
        }
        json_decref(o);
    } else {
        fprintf(out, "erasure of %s requested: %s partition %" PRId32 " offset %" PRId64 "\n", id,
                topic, d.partition, d.offset);
    }

out_destroy_producer:
    rd_kafka_destroy(rk);
out_free_value:
    free(value);
    return r;
}
