/* daemon/identity_topic.c - the internal topic must exist and be
 * co-partitioned with the events topics, and its producer
 * (daemon/identity_topic.h). */
#include "daemon/identity_topic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/kafka_conf.h"
#include "daemon/worker.h"

/* The partition count of `topic` in md: >= 0, or -1 when the broker does
 * not know the topic. */
static int partition_count(const rd_kafka_metadata_t *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0)
            return -1;
        return t->partition_cnt;
    }
    return -1;
}

int clm_identity_topic_check(rd_kafka_t *rk, const clm_config *cfg, int timeout_ms, char *errbuf,
                             size_t errsize)
{
    const rd_kafka_metadata_t *md = NULL;
    const char *it = cfg->identity_topic;
    int r = 0;

    /* all topics: asking for one by name may create it where brokers
     * auto-create topics, which would hide a missing one */
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsize, "identity.topic: cannot read the topics' metadata from Kafka to "
                 "check \"%s\": %s", it, rd_kafka_err2str(e));
        return -EIO;
    }
    int want = partition_count(md, it);
    if (want < 0) {
        snprintf(errbuf, errsize, "identity.topic: topic \"%s\" does not exist (expected it "
                 "created with as many partitions as \"%s\")", it, cfg->kafka_topics[0]);
        r = -ENOENT;
        goto out_free_md;
    }
    for (size_t i = 0; i < cfg->kafka_topic_count; i++) {
        const char *topic = cfg->kafka_topics[i];
        int n = partition_count(md, topic);
        if (n < 0) {
            snprintf(errbuf, errsize, "identity.topic: events topic \"%s\" does not exist, so "
                     "\"%s\" cannot be checked against it (expected both created with the same "
                     "partition count)", topic, it);
            r = -ENOENT;
            goto out_free_md;
        }
        if (n != want) {
            snprintf(errbuf, errsize, "identity.topic: topic \"%s\" has %d partitions, events "
                     "topic \"%s\" has %d (expected the same count: a customer's events and "
                     "its identity messages must land on the same partition number)", it, want,
                     topic, n);
            r = -EINVAL;
            goto out_free_md;
        }
    }
out_free_md:
    rd_kafka_metadata_destroy(md);
    return r;
}

rd_kafka_t *clm_identity_producer_new(const clm_config *cfg, char *errbuf, size_t errsize)
{
    rd_kafka_conf_t *conf = clm_kafka_conf_new(cfg, CLM_KAFKA_IDENTITY, errbuf, errsize);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, clm_worker_identity_delivered);
    char e[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errsize, "kafka: %s", e);
    } /* else rd_kafka_new took ownership of conf */
    return rk;
}
