/* config/config.h - clmd's configuration: one JSON file, one declarative table.
 *
 * Every key is described once, in the table in config/keys.c (type, default,
 * bounds, help). Loading, validation, defaults, `clmd --help-config` and the
 * README's key reference all come from that table.
 *
 * Errors name the file, the key, the bad value and what was expected, e.g.
 *   clmd.json: flush.interval_ms: 0 is out of range (expected an integer 10..600000)
 */
#ifndef CLM_CONFIG_H
#define CLM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/alert.h"
#include "core/rfmscore.h"
#include "core/risk.h"
#include "core/segment.h"
#include "core/stages.h"

/* A librdkafka property passed through verbatim (a JSON number or boolean
 * in the config becomes its text: 1000, 0.5, true). */
typedef struct clm_kv {
    char *key;
    char *value;
    bool secret; /* from a secrets file or a credential property: never shown */
} clm_kv;

typedef struct clm_config {
    /* kafka */
    char **kafka_topics;       /* kafka.topics: >= 1 topic names */
    size_t kafka_topic_count;
    char *kafka_group_id;      /* kafka.group_id */
    char *kafka_brokers;       /* kafka.brokers -> bootstrap.servers */
    char *kafka_dlq_topic;     /* kafka.dlq_topic; "" = "<topic>.dlq" per source topic */
    clm_kv *kafka_props;       /* kafka.properties: any librdkafka property (strings) */
    size_t kafka_prop_count;
    int kafka_batch_size;      /* kafka.batch_size: messages per consume call */

    /* redis */
    char *redis_cluster;       /* redis.cluster: seed nodes, "" = one server */
    char *redis_host;          /* redis.host (or a unix socket path starting with '/') */
    int redis_port;            /* redis.port */
    int redis_db;              /* redis.db */
    char *redis_prefix;        /* redis.prefix, default "clm:" */
    int redis_timeout_ms;      /* redis.timeout_ms: connect and command timeout */
    char *redis_password;      /* never in the main file; from secrets (may be NULL) */
    char *redis_user;          /* redis.user: ACL user of AUTH; NULL or "" = AUTH password alone */
    bool redis_tls;            /* redis.tls: connect over TLS */
    char *redis_tls_ca_file;   /* redis.tls_ca_file: "" = the system's CA store */
    char *redis_tls_cert_file; /* redis.tls_cert_file: client certificate, "" = none */
    char *redis_tls_key_file;  /* redis.tls_key_file: its private key, "" = none */
    char *redis_tls_server_name; /* redis.tls_server_name: "" = redis.host */

    /* flush */
    int flush_interval_ms;     /* flush.interval_ms */
    int flush_max_dirty;       /* flush.max_dirty: flush early at this many dirty customers */
    int flush_idle_ms;         /* flush.idle_ms: flush early after this long without messages */

    /* events */
    int events_max_bytes;      /* events.max_bytes */
    int64_t events_max_future_s; /* events.max_future_s */
    int events_unknown_type;   /* events.unknown_type: 0 "activity", 1 "reject" (clm_unknown_policy) */
    int64_t events_dedup_horizon_s; /* events.dedup_horizon_s */
    int events_dedup_max_ids;  /* events.dedup_max_ids: per-customer remembered ids */
    int64_t events_allowed_lateness_s; /* events.allowed_lateness_s: watermark = greatest
                                          confirmed event time of the partition minus this */
    int64_t events_max_jump_s; /* events.max_jump_s: a larger jump needs a quorum (0: none) */
    int events_jump_quorum;    /* events.jump_quorum: distinct customers confirming a jump */

    /* core */
    int core_workers;          /* core.workers: 0 = number of online CPUs */
    int64_t core_max_customers; /* core.max_customers: cached customers, whole process */
    int core_ring_size;        /* core.ring_size: slots per SPSC ring (power of two) */
    int core_shutdown_timeout_s; /* core.shutdown_timeout_s: bound of a stop */

    /* lifecycle: the stage model, as read and compiled */
    char **lifecycle_stages;   /* lifecycle.stages: stage names in rank order */
    size_t lifecycle_stage_count;
    char *lifecycle_churned_stage;     /* lifecycle.churned_stage */
    char *lifecycle_reactivated_stage; /* lifecycle.reactivated_stage */
    bool lifecycle_forward_only;       /* lifecycle.forward_only */
    struct clm_cfg_rules *lifecycle_rules; /* lifecycle.rules as read (internal to config/) */
    int lifecycle_churn_inactive_days; /* lifecycle.churn_inactive_days: silence before churn */
    uint32_t lifecycle_inactive_types; /* lifecycle.inactive_types: bit t = clm_event_type t
                                          is not activity */
    clm_stages *stages;        /* the model compiled from the keys above; set in every config
                                  that clm_config_new_defaults or clm_config_load* returns */

    /* traits: configured customer attributes read from events (core/trait.h) */
    struct clm_trait_set *traits; /* traits: NULL when none are configured */
    struct clm_custom_types *event_types; /* event_types (core/evtype.h): NULL when none */
    struct clm_breakdown_set *breakdowns; /* breakdowns (core/breakdown.h): NULL when none */

    /* risk and alerts */
    clm_risk_opts risk;        /* risk.*: signal weights and thresholds */
    clm_alert_opts alerts;     /* alerts.churn_risk/churned (enabled); the rest derived below */
    double alerts_threshold;   /* alerts.threshold */
    double alerts_rearm_margin; /* alerts.rearm_margin */
    int alerts_cooldown_s;     /* alerts.cooldown_s */
    double alerts_min_clv;     /* alerts.min_clv */
    char *alerts_topic;        /* alerts.topic */
    int64_t alerts_stream_maxlen; /* alerts.stream_maxlen */
    double alerts_rate_per_s;  /* alerts.rate_per_s */
    int alerts_burst;          /* alerts.burst */
    int alerts_summary_interval_s; /* alerts.summary_interval_s */
    int alerts_digest_customers; /* alerts.digest_customers */
    double alerts_severity_critical; /* alerts.severity.critical */
    double alerts_severity_warning;  /* alerts.severity.warning */
    char *alerts_am_url;       /* alerts.alertmanager.url: "" = no Alertmanager sink */
    int alerts_am_resend_s;    /* alerts.alertmanager.resend_s */
    int alerts_am_timeout_ms;  /* alerts.alertmanager.timeout_ms */
    char *alerts_am_link;      /* alerts.alertmanager.link: template, "" = none */
    int alerts_am_batch;       /* alerts.alertmanager.batch: page entries per post */

    /* kpi */
    int *kpi_windows;          /* kpi.windows: rolling windows in days, >= 1 entry, all different */
    size_t kpi_window_count;
    int kpi_bucket_s;          /* kpi.bucket_s: divides 86400 or is a multiple of it */
    int kpi_clv_min_tenure_days; /* kpi.clv_min_tenure_days */
    double kpi_clv_max_years;  /* kpi.clv_max_years */
    double kpi_gross_margin;   /* kpi.gross_margin: 0..1 */
    int kpi_refresh_ms;        /* kpi.refresh_ms: period of the rolling KPI recomputation */
    int kpi_history_days;      /* kpi.history_days: days in <prefix>kpi:history */
    int kpi_cohort_weeks;      /* kpi.cohort_weeks: cohorts in <prefix>kpi:cohorts */

    /* model: BG/NBD and Gamma-Gamma, fitted in the background (daemon/model_job.h) */
    bool model_enabled;        /* model.enabled */
    int model_refit_interval_s; /* model.refit_interval_s: seconds between scheduled fits */
    int model_unit_days;       /* model.unit_days: the models' time unit in days (7: weeks) */
    int model_horizon;         /* model.horizon: prediction horizon, in time units */
    double model_discount_rate; /* model.discount_rate: annual discount rate of clv_model */
    int model_min_customers;   /* model.min_customers: customers with a purchase needed to fit */
    double model_p_alive_threshold; /* model.p_alive_threshold: risk signal below this */

    /* segments and RFM (config/segments.h) */
    struct json_t *segments_json;     /* segments as read (internal to config/) */
    struct json_t *rfm_segments_json; /* rfm.segments as read (internal to config/) */
    clm_segments *segments;    /* the segments compiled from segments; set in every config
                                  that clm_config_new_defaults or clm_config_load* returns */
    clm_rfm_map *rfm_map;      /* the RFM segment map compiled from rfm.segments; ditto */
    bool rfm_enabled;          /* rfm.enabled: RFM scores even without segments */
    int rfm_refresh_s;         /* rfm.refresh_s: seconds between passes of the segment job */

    /* http */
    char *http_listen;         /* http.listen: address of /metrics and /healthz */
    int http_port;             /* http.port: 0 = no endpoint */
    char *http_bearer_token;   /* http.bearer_token: from secrets; NULL = /metrics open */

    /* identity */
    char *identity_topic;      /* identity.topic: internal topic of the identity merge; "" = none */
    int identity_alias_ttl_days; /* identity.alias_ttl_days */

    /* erasure */
    char *erasure_hmac_key;    /* erasure.hmac_key: from secrets; NULL = log without id_hmac */

    /* log */
    int log_level;             /* log.level: syslog priority 0..7 ("err"=3, "info"=6, "debug"=7) */

    char *secrets_file;        /* secrets_file: "" = none; relative to the config file's directory */

    char *path;                /* the file this was loaded from (for messages); NULL for defaults */
    char *secrets_exposed;     /* a secrets file every user may read (mode o+r), to warn about; NULL if none */
} clm_config;

/* Allocates a config holding every default. Returns NULL on ENOMEM. */
clm_config *clm_config_new_defaults(void);

/* Loads and validates a config file, then the secrets: the file named by
 * secrets_file, then $CREDENTIALS_DIRECTORY/clmd-secrets.json when that
 * variable is set and the file exists (its values override). On success returns 0 and sets *out (the
 * caller frees it with clm_config_free). On failure returns a negative errno
 * (-ENOENT, -EINVAL, ...), leaves *out untouched and writes one line into
 * errbuf naming the file, the key, the value and what was expected. Unknown
 * keys are errors (a typo must not silently fall back to a default). */
int clm_config_load(const char *path, clm_config **out, char *errbuf, size_t errsize);

/* Same, from a JSON text already in memory; `name` is used in messages. */
int clm_config_load_string(const char *name, const char *json, size_t len,
                           clm_config **out, char *errbuf, size_t errsize);

/* Frees a config; accepts NULL. */
void clm_config_free(clm_config *cfg);

/* Writes the key reference (key, type, default, bounds, help) generated from
 * the table, preceded by the file-level rules (comments, secrets): as a
 * Markdown table when markdown is true (config/README-keys.md holds this
 * output), else as aligned plain text for `clmd --help-config`. */
void clm_config_describe(FILE *out, bool markdown);

#endif
