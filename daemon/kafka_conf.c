/* daemon/kafka_conf.c - see kafka_conf.h. */
#include "daemon/kafka_conf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"
#include "daemon/log.h"

static const char *const client_names[] = {
    [CLM_KAFKA_CONSUMER] = "the consumer",
    [CLM_KAFKA_DLQ] = "the dead-letter producer",
    [CLM_KAFKA_ALERTS] = "the alert producer",
    [CLM_KAFKA_IDENTITY] = "the identity producer",
};

/* Consumer-only properties: meaningless for a producer, left out quietly
 * rather than have librdkafka warn about each. */
static bool consumer_only(const char *k)
{
    return !strncmp(k, "fetch.", 6) || !strncmp(k, "auto.", 5) || !strncmp(k, "group.", 6) ||
           !strncmp(k, "session.", 8) || !strncmp(k, "queued.", 7) ||
           !strcmp(k, "partition.assignment.strategy") || !strncmp(k, "heartbeat.", 10) ||
           !strcmp(k, "max.poll.interval.ms") || !strcmp(k, "isolation.level");
}

/* Sets one property; path is the config key it comes from. */
static int set(rd_kafka_conf_t *conf, const clm_config *cfg, clm_kafka_client client,
               const char *path, const char *k, const char *v, bool secret, char *errbuf,
               size_t errsize)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) == RD_KAFKA_CONF_OK)
        return 0;
    for (size_t n = strlen(e); n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '); n--)
        e[n - 1] = '\0'; /* some reasons end with a newline */
    const char *file = cfg->path ? cfg->path : "built-in defaults";
    if (secret)
        clm_cfg_errorf(errbuf, errsize, "%s: %s: the value (not shown) is not accepted by "
                       "librdkafka for %s (%s)", file, path, client_names[client],
                       strstr(e, "Invalid value") ? "invalid value" : e);
    else
        clm_cfg_errorf(errbuf, errsize, "%s: %s: \"%s\" is not accepted by librdkafka for %s (%s)",
                       file, path, v, client_names[client], e);
    return -EINVAL;
}

rd_kafka_conf_t *clm_kafka_conf_new(const clm_config *cfg, clm_kafka_client client,
                                    char *errbuf, size_t errsize)
{
    static const char *const consumer_defaults[][2] = {
        { "auto.offset.reset", "earliest" },
        { "partition.assignment.strategy", "range" },
        { "queued.min.messages", "1000000" },
        { "fetch.wait.max.ms", "10" },
    };
    static const char *const consumer_forced[][2] = {
        /* Redis holds the offsets, committed with the state */
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
    };
    static const char *const producer_forced[][2] = {
        { "enable.idempotence", "true" },
        { "message.timeout.ms", "0" }, /* retry forever: never lose a dead letter or an alert */
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(errbuf, errsize, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, clm_log_rdkafka); /* librdkafka's lines get our prefixes */
    char path[256];
    if (client == CLM_KAFKA_CONSUMER)
        for (size_t i = 0; i < sizeof(consumer_defaults) / sizeof(consumer_defaults[0]); i++)
            if (set(conf, cfg, client, "clmd's defaults", consumer_defaults[i][0],
                    consumer_defaults[i][1], false, errbuf, errsize) < 0)
                goto out_destroy;
    if (set(conf, cfg, client, "kafka.brokers", "bootstrap.servers", cfg->kafka_brokers, false,
            errbuf, errsize) < 0)
        goto out_destroy;
    for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
        const clm_kv *p = &cfg->kafka_props[i];
        if (client != CLM_KAFKA_CONSUMER && consumer_only(p->key))
            continue;
        snprintf(path, sizeof(path), "kafka.properties.%s", p->key);
        if (set(conf, cfg, client, path, p->key, p->value, p->secret, errbuf, errsize) < 0)
            goto out_destroy;
    }
    if (client == CLM_KAFKA_CONSUMER) {
        if (set(conf, cfg, client, "kafka.group_id", "group.id", cfg->kafka_group_id, false, errbuf,
                errsize) < 0)
            goto out_destroy;
        for (size_t i = 0; i < sizeof(consumer_forced) / sizeof(consumer_forced[0]); i++)
            if (set(conf, cfg, client, "clmd's fixed settings", consumer_forced[i][0],
                    consumer_forced[i][1], false, errbuf, errsize) < 0)
                goto out_destroy;
        return conf;
    }
    for (size_t i = 0; i < sizeof(producer_forced) / sizeof(producer_forced[0]); i++)
        if (set(conf, cfg, client, "clmd's fixed settings", producer_forced[i][0],
                producer_forced[i][1], false, errbuf, errsize) < 0)
            goto out_destroy;
    if (client == CLM_KAFKA_DLQ &&
        set(conf, cfg, client, "clmd's fixed settings", "queue.buffering.max.messages", "100000",
            false, errbuf, errsize) < 0)
        goto out_destroy;
    return conf;

out_destroy:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

int clm_kafka_conf_check(const clm_config *cfg, char *errbuf, size_t errsize)
{
    for (int client = CLM_KAFKA_CONSUMER; client <= CLM_KAFKA_ALERTS; client++) {
        rd_kafka_conf_t *conf = clm_kafka_conf_new(cfg, (clm_kafka_client)client, errbuf, errsize);
        if (!conf)
            return -EINVAL;
        char e[512];
        /* no broker to connect to; the trial's own notices are not the user's concern */
        if (rd_kafka_conf_set(conf, "bootstrap.servers", "", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            snprintf(errbuf, errsize, "kafka: %s", e);
            return -EINVAL;
        }
        rd_kafka_conf_set_log_cb(conf, quiet_log);
        rd_kafka_t *rk = rd_kafka_new(client == CLM_KAFKA_CONSUMER ? RD_KAFKA_CONSUMER
                                                                   : RD_KAFKA_PRODUCER,
                                      conf, e, sizeof(e));
        if (!rk) {
            rd_kafka_conf_destroy(conf);
            clm_cfg_errorf(errbuf, errsize, "%s: kafka.properties: librdkafka cannot create %s "
                           "with these settings: %s", cfg->path ? cfg->path : "built-in defaults",
                           client_names[client], e);
            return -EINVAL;
        }
        /* rd_kafka_new took ownership of conf */
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    return 0;
}
