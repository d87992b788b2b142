/* config/schema.c - every configuration key of clmd, one row each, and what
 * a row means: how a value of its type is checked and stored, its default,
 * its release, and its entry in the key reference.
 *
 * Loading, defaults, validation, `clmd --help-config` and config/README-keys.md
 * all come from the table (see config/schema.h for what each column means).
 * Adding a key is one row here plus its field in struct clm_config.
 */
#include "config/schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lifecycle.h"

#define FIELD(f) offsetof(clm_config, f)

static const char *const unknown_type_values[] = {"activity", "reject", NULL};

/* Index = syslog priority (LOG_EMERG 0 .. LOG_DEBUG 7). */
static const char *const log_level_values[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL,
};

/* librdkafka properties whose values are credentials: secrets file only. */
static const char *const kafka_secret_properties[] = {
    "sasl.password",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    NULL,
};

const clm_cfg_key clm_config_keys[] = {
    /* kafka */
    {.path = "kafka.brokers", .type = CLM_CFG_STRING, .def = "\"127.0.0.1:9092\"", .min = 1,
     .offset = FIELD(kafka_brokers),
     .help = "Kafka bootstrap servers, host:port separated by commas; passed to librdkafka "
             "as bootstrap.servers."},
    {.path = "kafka.topics", .type = CLM_CFG_STRLIST, .def = "[\"clm.events\"]", .min = 1,
     .offset = FIELD(kafka_topics), .count_offset = FIELD(kafka_topic_count),
     .help = "Topics the customer events are consumed from."},
    {.path = "kafka.group_id", .type = CLM_CFG_STRING, .def = "\"clmd\"", .min = 1,
     .offset = FIELD(kafka_group_id),
     .help = "Kafka consumer group id; the daemons sharing it split the partitions."},
    {.path = "kafka.dlq_topic", .type = CLM_CFG_STRING, .def = "\"\"",
     .offset = FIELD(kafka_dlq_topic),
     .help = "Topic that receives rejected messages; an empty string means the source "
             "topic's name followed by \".dlq\"."},
    {.path = "kafka.properties", .type = CLM_CFG_STRMAP, .def = "{}",
     .allowed = kafka_secret_properties, .flags = CLM_CFG_IN_SECRETS,
     .offset = FIELD(kafka_props), .count_offset = FIELD(kafka_prop_count),
     .help = "Further librdkafka properties, passed verbatim; every value is a string "
             "(\"security.protocol\": \"SASL_SSL\"). sasl.password, ssl.key.password, "
             "ssl.key.pem, ssl.keystore.password, sasl.oauthbearer.client.secret and "
             "sasl.oauthbearer.config are accepted only in the secrets file."},
    {.path = "kafka.batch_size", .type = CLM_CFG_INT, .def = "4096", .min = 1, .max = 100000,
     .offset = FIELD(kafka_batch_size),
     .help = "Most messages taken from Kafka by one consume call."},

    /* redis */
    {.path = "redis.host", .type = CLM_CFG_STRING, .def = "\"127.0.0.1\"", .min = 1,
     .offset = FIELD(redis_host),
     .help = "Redis host name or address; a value starting with '/' is the path of a "
             "unix socket."},
    {.path = "redis.port", .type = CLM_CFG_INT, .def = "6379", .min = 1, .max = 65535,
     .offset = FIELD(redis_port),
     .help = "Redis TCP port; unused with a unix socket."},
    {.path = "redis.db", .type = CLM_CFG_INT, .def = "0", .min = 0, .max = 65535,
     .offset = FIELD(redis_db),
     .help = "Redis database number selected after connecting."},
    {.path = "redis.prefix", .type = CLM_CFG_STRING, .def = "\"clm:\"", .min = 1, .max = 64,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(redis_prefix),
     .help = "Prefix of every Redis key clmd writes."},
    {.path = "redis.timeout_ms", .type = CLM_CFG_INT, .def = "5000", .min = 100, .max = 600000,
     .offset = FIELD(redis_timeout_ms),
     .help = "Timeout of the Redis connect and of each Redis command, in milliseconds."},
    {.path = "redis.password", .type = CLM_CFG_STRING, .flags = CLM_CFG_SECRET,
     .offset = FIELD(redis_password),
     .help = "Redis AUTH password; accepted only in the secrets file. Unset: no AUTH."},

    /* flush */
    {.path = "flush.interval_ms", .type = CLM_CFG_INT, .def = "1000", .min = 10, .max = 600000,
     .offset = FIELD(flush_interval_ms),
     .help = "Longest time dirty customer state waits before it is written to Redis, "
             "in milliseconds."},
    {.path = "flush.max_dirty", .type = CLM_CFG_INT, .def = "50000", .min = 1, .max = 10000000,
     .offset = FIELD(flush_max_dirty),
     .help = "Flush before the interval ends once this many customers are dirty."},
    {.path = "flush.idle_ms", .type = CLM_CFG_INT, .def = "50", .min = 0, .max = 600000,
     .offset = FIELD(flush_idle_ms),
     .help = "Flush before the interval ends once no message has arrived for this many "
             "milliseconds, so a pause in the stream is visible in Redis at once; 0 waits "
             "for the interval."},

    /* events */
    {.path = "events.max_bytes", .type = CLM_CFG_INT, .def = "65536", .min = 64,
     .max = 16777216, .offset = FIELD(events_max_bytes),
     .help = "Largest accepted message, in bytes; larger messages are rejected as too_large."},
    {.path = "events.max_future_s", .type = CLM_CFG_INT64, .def = "86400", .min = 0,
     .max = 31536000, .offset = FIELD(events_max_future_s),
     .help = "Events timestamped more than this many seconds after their message's "
             "timestamp are rejected as future_timestamp."},
    {.path = "events.unknown_type", .type = CLM_CFG_ENUM, .def = "\"activity\"",
     .allowed = unknown_type_values, .offset = FIELD(events_unknown_type),
     .help = "Events whose type is not a built-in type: \"activity\" counts them as generic "
             "activity, \"reject\" rejects them as unknown_type."},
    {.path = "events.dedup_horizon_s", .type = CLM_CFG_INT64, .def = "86400", .min = 0,
     .max = 31536000, .offset = FIELD(events_dedup_horizon_s),
     .help = "An event whose event_id was seen for the same customer within this many "
             "seconds is dropped as a duplicate; 0 disables duplicate suppression."},
    {.path = "events.dedup_max_ids", .type = CLM_CFG_INT, .def = "16", .min = 1, .max = 1024,
     .offset = FIELD(events_dedup_max_ids),
     .help = "Event ids remembered per customer for duplicate suppression."},
    {.path = "events.allowed_lateness_s", .type = CLM_CFG_INT64, .def = "604800", .min = 0,
     .max = 5184000, .offset = FIELD(events_allowed_lateness_s),
     .help = "Events older than their partition's watermark (the greatest applied event time "
             "minus this many seconds) are rejected as late_dropped."},

    /* core */
    {.path = "core.workers", .type = CLM_CFG_INT, .def = "0", .min = 0, .max = 256,
     .offset = FIELD(core_workers),
     .help = "Worker threads; 0 means one per online CPU."},
    {.path = "core.max_customers", .type = CLM_CFG_INT64, .def = "1000000", .min = 1000,
     .max = 1000000000, .offset = FIELD(core_max_customers),
     .help = "Most customers cached in memory by the whole process."},
    {.path = "core.ring_size", .type = CLM_CFG_INT, .def = "16384", .min = 64, .max = 1048576,
     .flags = CLM_CFG_POW2, .offset = FIELD(core_ring_size),
     .help = "Slots in each worker's event ring."},
    {.path = "core.shutdown_timeout_s", .type = CLM_CFG_INT, .def = "30", .min = 1, .max = 3600,
     .offset = FIELD(core_shutdown_timeout_s),
     .help = "Longest a stop (SIGTERM) may take to flush, publish and commit; past it clmd exits "
             "with status 1 without the final flush (nothing is lost: unflushed events are "
             "consumed again after the restart)."},

    /* lifecycle */
    {.path = "lifecycle.stages", .type = CLM_CFG_STRLIST,
     .def = "[\"awareness\", \"acquisition\", \"conversion\", \"onboarding\", \"engagement\", "
            "\"retention\", \"advocacy\", \"churned\", \"reactivated\"]",
     .min = 1, .offset = FIELD(lifecycle_stages), .count_offset = FIELD(lifecycle_stage_count),
     .help = "The lifecycle stages, earliest first; must include the churned and reactivated "
             "stages. With forward_only, a customer only moves to a later stage, except into "
             "and out of the churned stage. At most 32 stages; \"none\" is reserved."},
    {.path = "lifecycle.churned_stage", .type = CLM_CFG_STRING, .def = "\"churned\"", .min = 1,
     .offset = FIELD(lifecycle_churned_stage),
     .help = "The stage of customers who cancelled or were inactive for churn_inactive_days."},
    {.path = "lifecycle.reactivated_stage", .type = CLM_CFG_STRING, .def = "\"reactivated\"",
     .min = 1, .offset = FIELD(lifecycle_reactivated_stage),
     .help = "The stage of churned customers who came back; from it a customer moves on to any "
             "stage at least as far as the furthest one reached before churning."},
    {.path = "lifecycle.forward_only", .type = CLM_CFG_BOOL, .def = "true",
     .offset = FIELD(lifecycle_forward_only),
     .help = "Whether an event may only move a customer to a later stage (besides into and "
             "out of the churned stage); false lets every matching rule move them."},
    {.path = "lifecycle.rules", .type = CLM_CFG_CUSTOM,
     .def = "[{\"on\": [\"visit\"], \"to\": \"awareness\"}, "
            "{\"on\": [\"signup\"], \"to\": \"acquisition\"}, "
            "{\"on\": [\"purchase\"], \"min_orders\": 1, \"max_orders\": 1, "
            "\"to\": \"conversion\"}, "
            "{\"on\": [\"onboarding_complete\"], \"to\": \"onboarding\"}, "
            "{\"on\": [\"login\", \"session\", \"feature_use\"], \"from\": [\"onboarding\"], "
            "\"to\": \"engagement\"}, "
            "{\"on\": [\"purchase\"], \"min_orders\": 2, \"to\": \"retention\"}, "
            "{\"on\": [\"referral\", \"review\"], \"min_orders\": 1, \"to\": \"advocacy\"}, "
            "{\"on\": [\"nps_response\"], \"min_score\": 9, \"min_orders\": 1, "
            "\"to\": \"advocacy\"}, "
            "{\"on\": [\"cancel\"], \"min_orders\": 1, \"to\": \"churned\"}, "
            "{\"on\": \"*\", \"from\": [\"churned\"], \"to\": \"reactivated\"}]",
     .offset = FIELD(lifecycle_rules), .parse = clm_cfg_rules_parse,
     .release = clm_cfg_rules_release, .type_name = "rule list",
     .expect = "a list of rule objects",
     .help = "Transition rules, tried in order, each {\"on\": [event types] or \"*\", \"to\": "
             "stage} with optional \"from\": [stages], \"min_orders\", \"max_orders\", "
             "\"min_score\", \"max_score\". The first rule that matches the event and may move "
             "the customer decides the new stage. A rule matches when the event type is in "
             "\"on\" (\"*\": any), the current stage is in \"from\" (\"none\": no stage yet; "
             "absent: any), the order count including the event is within "
             "min_orders..max_orders and the event's score within min_score..max_score (an event "
             "without a score never matches a score bound). Every stage must be reachable."},
    {.path = "lifecycle.churn_inactive_days", .type = CLM_CFG_INT, .def = "90", .min = 1,
     .max = 3650, .offset = FIELD(lifecycle_churn_inactive_days),
     .help = "A customer without activity for this many days is moved to the churned stage "
             "once the partition's watermark passes that deadline."},

    /* risk */
    {.path = "risk.inactivity_weight", .type = CLM_CFG_DOUBLE, .def = "0.75", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_INACTIVITY]),
     .help = "Weight of the inactivity signal (0 turns it off)."},
    {.path = "risk.inactivity_min_active_days", .type = CLM_CFG_INT, .def = "4", .min = 2, .max = 1000,
     .offset = FIELD(risk.min_active_days),
     .help = "Distinct active days a customer needs before inactivity is judged against their own usual gap between active days; with fewer, inactivity_days_start/full apply."},
    {.path = "risk.inactivity_ratio_start", .type = CLM_CFG_DOUBLE, .def = "2", .dmin = 0, .dmax = 1000,
     .offset = FIELD(risk.ratio_start),
     .help = "Idle time, in usual gaps, at which the inactivity strength starts rising from 0."},
    {.path = "risk.inactivity_ratio_full", .type = CLM_CFG_DOUBLE, .def = "4", .dmin = 0, .dmax = 1000,
     .offset = FIELD(risk.ratio_full),
     .help = "Idle time, in usual gaps, at which the inactivity strength reaches 1."},
    {.path = "risk.inactivity_min_days", .type = CLM_CFG_INT, .def = "7", .min = 0, .max = 3650,
     .offset = FIELD(risk.min_days),
     .help = "Least idle days before inactivity counts, whatever the usual gap."},
    {.path = "risk.inactivity_days_start", .type = CLM_CFG_INT, .def = "14", .min = 0, .max = 3650,
     .offset = FIELD(risk.days_start),
     .help = "Idle days at which inactivity starts rising, for customers with too little history."},
    {.path = "risk.inactivity_days_full", .type = CLM_CFG_INT, .def = "42", .min = 1, .max = 3650,
     .offset = FIELD(risk.days_full),
     .help = "Idle days at which inactivity reaches 1, for customers with too little history."},
    {.path = "risk.nps_weight", .type = CLM_CFG_DOUBLE, .def = "0.3", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_NPS_DETRACTOR]),
     .help = "Weight of the signal 'latest NPS answer is a detractor'."},
    {.path = "risk.nps_detractor_max", .type = CLM_CFG_INT, .def = "6", .min = 0, .max = 10,
     .offset = FIELD(risk.nps_detractor_max),
     .help = "Highest NPS score counted as a detractor."},
    {.path = "risk.csat_weight", .type = CLM_CFG_DOUBLE, .def = "0.25", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_LOW_CSAT]),
     .help = "Weight of the signal 'latest CSAT answer is low'."},
    {.path = "risk.csat_max", .type = CLM_CFG_INT, .def = "2", .min = 1, .max = 5,
     .offset = FIELD(risk.csat_max),
     .help = "Highest CSAT score counted as low."},
    {.path = "risk.tickets_weight", .type = CLM_CFG_DOUBLE, .def = "0.3", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_TICKETS]),
     .help = "Weight of the support-ticket signal."},
    {.path = "risk.tickets_min", .type = CLM_CFG_INT, .def = "3", .min = 1, .max = 8,
     .offset = FIELD(risk.tickets_min),
     .help = "Support tickets within tickets_days that raise the signal."},
    {.path = "risk.tickets_days", .type = CLM_CFG_INT, .def = "14", .min = 1, .max = 365,
     .offset = FIELD(risk.tickets_days),
     .help = "Window of the support-ticket signal, in days."},
    {.path = "risk.payment_failed_weight", .type = CLM_CFG_DOUBLE, .def = "0.4", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_PAYMENT_FAILED]),
     .help = "Weight of the signal 'payment_failed within payment_failed_days'."},
    {.path = "risk.payment_failed_days", .type = CLM_CFG_INT, .def = "30", .min = 1, .max = 365,
     .offset = FIELD(risk.payment_failed_days),
     .help = "Window of the payment_failed signal, in days."},
    {.path = "risk.downgrade_weight", .type = CLM_CFG_DOUBLE, .def = "0.3", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_DOWNGRADE]),
     .help = "Weight of the signal 'downgrade within downgrade_days'."},
    {.path = "risk.downgrade_days", .type = CLM_CFG_INT, .def = "30", .min = 1, .max = 365,
     .offset = FIELD(risk.downgrade_days),
     .help = "Window of the downgrade signal, in days."},
    {.path = "risk.engagement_weight", .type = CLM_CFG_DOUBLE, .def = "0.3", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_ENGAGEMENT_DROP]),
     .help = "Weight of the engagement-drop signal: sessions in the last 7 days below engagement_ratio times the weekly average of the 4 weeks before."},
    {.path = "risk.engagement_ratio", .type = CLM_CFG_DOUBLE, .def = "0.5", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.engagement_ratio),
     .help = "Share of the weekly baseline below which the last week's sessions count as a drop."},
    {.path = "risk.engagement_min_weekly", .type = CLM_CFG_DOUBLE, .def = "2", .dmin = 0, .dmax = 1000,
     .offset = FIELD(risk.engagement_min_weekly),
     .help = "Baseline sessions per week a customer needs before a drop is judged."},
    {.path = "risk.p_alive_weight", .type = CLM_CFG_DOUBLE, .def = "0.5", .dmin = 0, .dmax = 1,
     .offset = FIELD(risk.weight[CLM_SIG_P_ALIVE]),
     .help = "Weight of the signal 'BG/NBD P(alive) below model.p_alive_threshold', for customers "
             "with at least one repeat purchase day, once a model has been fitted."},

    /* alerts */
    {.path = "alerts.churn_risk", .type = CLM_CFG_BOOL, .def = "true",
     .offset = FIELD(alerts.enabled[CLM_ALERT_CHURN_RISK]),
     .help = "Raise churn_risk alerts when a customer's risk crosses alerts.threshold upward."},
    {.path = "alerts.churned", .type = CLM_CFG_BOOL, .def = "true",
     .offset = FIELD(alerts.enabled[CLM_ALERT_CHURNED]),
     .help = "Raise churned alerts when a customer enters the churned stage."},
    {.path = "alerts.threshold", .type = CLM_CFG_DOUBLE, .def = "0.7", .dmin = 0.0001, .dmax = 1,
     .offset = FIELD(alerts_threshold),
     .help = "Risk at or above which a customer is at risk (listed in <prefix>at_risk) and a churn_risk alert is raised."},
    {.path = "alerts.rearm_margin", .type = CLM_CFG_DOUBLE, .def = "0.1", .dmin = 0, .dmax = 1,
     .offset = FIELD(alerts_rearm_margin),
     .help = "After a churn_risk alert, the customer's risk must fall below threshold minus this before another can be raised."},
    {.path = "alerts.cooldown_s", .type = CLM_CFG_INT, .def = "604800", .min = 0, .max = 31536000,
     .offset = FIELD(alerts_cooldown_s),
     .help = "Least event time between two churn_risk alerts of one customer, in seconds."},
    {.path = "alerts.min_clv", .type = CLM_CFG_DOUBLE, .def = "0", .dmin = 0, .dmax = 1000000000000.0,
     .offset = FIELD(alerts_min_clv),
     .help = "No alert for a customer whose clv (revenue minus refunds) is below this."},
    {.path = "alerts.topic", .type = CLM_CFG_STRING, .def = "\"clm.alerts\"", .min = 1, .max = 249,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(alerts_topic),
     .help = "Kafka topic the alerts are published to, keyed by customer id."},
    {.path = "alerts.stream_maxlen", .type = CLM_CFG_INT64, .def = "100000", .min = 1, .max = 100000000,
     .offset = FIELD(alerts_stream_maxlen),
     .help = "Approximate length the Redis stream <prefix>alerts is capped at."},
    {.path = "alerts.rate_per_s", .type = CLM_CFG_DOUBLE, .def = "20", .dmin = 0.001, .dmax = 1000000.0,
     .offset = FIELD(alerts_rate_per_s),
     .help = "Alerts published per second at most, over the whole process; the excess is counted and reported by a suppressed_summary alert."},
    {.path = "alerts.burst", .type = CLM_CFG_INT, .def = "100", .min = 1, .max = 1000000,
     .offset = FIELD(alerts_burst),
     .help = "Alerts that may be published at once before alerts.rate_per_s applies."},
    {.path = "alerts.summary_interval_s", .type = CLM_CFG_INT, .def = "60", .min = 1, .max = 86400,
     .offset = FIELD(alerts_summary_interval_s),
     .help = "How often, in seconds, a suppressed_summary alert reports alerts held back by the rate limit."},

    /* kpi */
    {.path = "kpi.windows", .type = CLM_CFG_INTLIST, .def = "[7, 30, 90]", .min = 1, .max = 3650,
     .min_count = 1, .flags = CLM_CFG_DISTINCT, .offset = FIELD(kpi_windows),
     .count_offset = FIELD(kpi_window_count),
     .help = "Rolling windows of the KPIs, in days."},
    {.path = "kpi.bucket_s", .type = CLM_CFG_INT, .def = "86400", .min = 60, .max = 86400,
     .flags = CLM_CFG_DAY_ALIGNED, .offset = FIELD(kpi_bucket_s),
     .help = "Width of the time buckets the daily counters are kept in, in seconds: a whole "
             "number of minutes that divides a day (86400: one hash per UTC day)."},
    {.path = "kpi.clv_min_tenure_days", .type = CLM_CFG_INT, .def = "30", .min = 1, .max = 3650,
     .offset = FIELD(kpi_clv_min_tenure_days),
     .help = "Least tenure, in days, before a customer's lifetime value is estimated."},
    {.path = "kpi.clv_max_years", .type = CLM_CFG_DOUBLE, .def = "5", .dmin = 0.1, .dmax = 100,
     .offset = FIELD(kpi_clv_max_years),
     .help = "Longest horizon of the customer lifetime value estimate, in years."},
    {.path = "kpi.gross_margin", .type = CLM_CFG_DOUBLE, .def = "1.0", .dmin = 0, .dmax = 1,
     .offset = FIELD(kpi_gross_margin),
     .help = "Share of revenue counted as margin in the customer lifetime value."},
    {.path = "kpi.refresh_ms", .type = CLM_CFG_INT, .def = "1000", .min = 100, .max = 3600000,
     .offset = FIELD(kpi_refresh_ms),
     .help = "How often the rolling KPI hashes are recomputed, in milliseconds."},

    /* model */
    {.path = "model.enabled", .type = CLM_CFG_BOOL, .def = "true", .offset = FIELD(model_enabled),
     .help = "Fit the BG/NBD and Gamma-Gamma models in the background and keep p_alive, "
             "expected purchases, expected spend and clv_model on every customer who bought."},
    {.path = "model.refit_interval_s", .type = CLM_CFG_INT, .def = "3600", .min = 10,
     .max = 2592000, .offset = FIELD(model_refit_interval_s),
     .help = "Seconds between two scheduled fits, counted from the last fit (`clmctl refit` "
             "asks for one at once)."},
    {.path = "model.unit_days", .type = CLM_CFG_INT, .def = "7", .min = 1, .max = 365,
     .offset = FIELD(model_unit_days),
     .help = "Time unit of the models in days (7: weeks, as in the papers); alpha, t_x, T and "
             "the horizon are in this unit."},
    {.path = "model.horizon", .type = CLM_CFG_INT, .def = "52", .min = 1, .max = 1000,
     .offset = FIELD(model_horizon),
     .help = "Horizon of expected_purchases_<horizon> and clv_model, in time units."},
    {.path = "model.discount_rate", .type = CLM_CFG_DOUBLE, .def = "0.1", .dmin = 0, .dmax = 10,
     .offset = FIELD(model_discount_rate),
     .help = "Annual discount rate of clv_model (0.1: 10% a year)."},
    {.path = "model.min_customers", .type = CLM_CFG_INT, .def = "100", .min = 10,
     .max = 1000000000, .offset = FIELD(model_min_customers),
     .help = "Customers with at least one purchase needed before a fit is attempted."},
    {.path = "model.p_alive_threshold", .type = CLM_CFG_DOUBLE, .def = "0.3", .dmin = 0,
     .dmax = 1, .offset = FIELD(model_p_alive_threshold),
     .help = "P(alive) below which a customer with a repeat purchase shows the p_alive "
             "churn-risk signal."},

    /* http */
    {.path = "http.listen", .type = CLM_CFG_STRING, .def = "\"127.0.0.1\"", .min = 1, .max = 64,
     .offset = FIELD(http_listen),
     .help = "Address the /metrics and /healthz endpoint listens on (IPv4 or IPv6 literal)."},
    {.path = "http.port", .type = CLM_CFG_INT, .def = "9108", .min = 0, .max = 65535,
     .offset = FIELD(http_port),
     .help = "TCP port of the /metrics and /healthz endpoint; 0 turns it off."},

    /* log */
    {.path = "log.level", .type = CLM_CFG_ENUM, .def = "\"info\"", .allowed = log_level_values,
     .offset = FIELD(log_level),
     .help = "Least severe syslog priority that is logged."},

    {.path = "secrets_file", .type = CLM_CFG_STRING, .def = "\"\"", .offset = FIELD(secrets_file),
     .help = "JSON file with the secrets, read after this file: {\"redis\": {\"password\": "
             "\"...\"}, \"kafka\": {\"properties\": {\"sasl.password\": \"...\"}}}. A relative "
             "path is taken from the directory of this file; an empty string means none."},
};

const size_t clm_config_key_count = sizeof clm_config_keys / sizeof clm_config_keys[0];

/* Values longer than this (as JSON) are shortened in messages. */
#define SHOWN_MAX 64

static const char secret_problem[] = "is a secret and not allowed here";
static const char secret_expect[] =
    "it in the secrets file: secrets_file or $CREDENTIALS_DIRECTORY/clmd-secrets.json";

/* ---- messages ---------------------------------------------------------- */

void clm_cfg_errorf(char *errbuf, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errsize == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsize, fmt, ap);
    va_end(ap);
    for (char *p = errbuf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int clm_cfg_error(char *errbuf, size_t errsize, const char *name, const char *key, const json_t *v,
                  bool redact, const char *problem, const char *expect)
{
    char shortened[SHOWN_MAX + 1];
    const char *shown = "<redacted>";
    char *dump = NULL;

    if (!redact) {
        dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
        shown = dump ? dump : "<value>";
        if (dump && strlen(dump) > SHOWN_MAX) {
            snprintf(shortened, sizeof shortened, "%.*s...", SHOWN_MAX - 3, dump);
            shown = shortened;
        }
    }
    clm_cfg_errorf(errbuf, errsize, "%s: %s: %s %s (expected %s)", name, key, shown, problem,
                   expect);
    free(dump);
    return -EINVAL;
}

static int oom_error(char *errbuf, size_t errsize, const char *name)
{
    clm_cfg_errorf(errbuf, errsize, "%s: out of memory", name);
    return -ENOMEM;
}

/* What row accepts, e.g. "an integer 10..600000". */
static void expect_text(const clm_cfg_key *row, char *buf, size_t size)
{
    size_t used = 0;

    switch (row->type) {
    case CLM_CFG_STRING:
        if (row->max > 0)
            used = (size_t)snprintf(buf, size, "a string of %lld..%lld bytes", (long long)row->min,
                                    (long long)row->max);
        else
            used = (size_t)snprintf(buf, size, row->min > 0 ? "a non-empty string" : "a string");
        if ((row->flags & CLM_CFG_NO_SPACE) && used < size)
            snprintf(buf + used, size - used, " without whitespace");
        break;
    case CLM_CFG_INT:
    case CLM_CFG_INT64:
        if (row->flags & CLM_CFG_DAY_ALIGNED)
            snprintf(buf, size, "a whole number of minutes dividing 86400, within %lld..%lld",
                     (long long)row->min, (long long)row->max);
        else
            snprintf(buf, size, "%s %lld..%lld",
                     (row->flags & CLM_CFG_POW2) ? "a power of two" : "an integer",
                     (long long)row->min, (long long)row->max);
        break;
    case CLM_CFG_DOUBLE:
        snprintf(buf, size, "a number %g..%g", row->dmin, row->dmax);
        break;
    case CLM_CFG_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case CLM_CFG_ENUM:
        used = (size_t)snprintf(buf, size, "one of");
        for (size_t i = 0; row->allowed[i] && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s \"%s\"", i ? "," : "",
                                     row->allowed[i]);
        break;
    case CLM_CFG_STRLIST:
        if (row->min > 0)
            snprintf(buf, size, "a list of at least %lld string%s", (long long)row->min,
                     row->min == 1 ? "" : "s");
        else
            snprintf(buf, size, "a list of strings");
        break;
    case CLM_CFG_STRMAP:
        snprintf(buf, size, "an object of string values");
        break;
    case CLM_CFG_INTLIST:
        snprintf(buf, size, "a list of at least %zu integer%s, each %lld..%lld%s", row->min_count,
                 row->min_count == 1 ? "" : "s", (long long)row->min, (long long)row->max,
                 (row->flags & CLM_CFG_DISTINCT) ? ", all different" : "");
        break;
    case CLM_CFG_CUSTOM:
        snprintf(buf, size, "%s", row->expect);
        break;
    }
}

/* ---- storing one value ------------------------------------------------- */

/* One value being stored: where it goes, where it came from, how to report. */
typedef struct value_ctx {
    const clm_cfg_key *row;
    void *base;
    void *field;
    json_t *v;
    clm_cfg_source from;
    const char *name;
    const char *key;
    char *errbuf;
    size_t errsize;
    bool redact;
    char expect[256];
} value_ctx;

static int bad(const value_ctx *c, const char *problem)
{
    return clm_cfg_error(c->errbuf, c->errsize, c->name, c->key, c->v, c->redact, problem,
                         c->expect);
}

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return true;
    return false;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

char *clm_cfg_join(const char *prefix, const char *key)
{
    size_t plen = prefix ? strlen(prefix) : 0, klen = strlen(key);
    char *path = malloc(plen + 1 + klen + 1);

    if (!path)
        return NULL;
    if (prefix) {
        memcpy(path, prefix, plen);
        path[plen++] = '.';
    }
    memcpy(path + plen, key, klen + 1);
    return path;
}

static int set_string(const value_ctx *c)
{
    const clm_cfg_key *row = c->row;
    char **dst = c->field;
    char *copy;
    int64_t len;

    if (!json_is_string(c->v))
        return bad(c, "has the wrong type");
    len = (int64_t)json_string_length(c->v);
    if (len < row->min)
        return bad(c, "is too short");
    if (row->max > 0 && len > row->max)
        return bad(c, "is too long");
    if ((row->flags & CLM_CFG_NO_SPACE) && has_space(json_string_value(c->v)))
        return bad(c, "contains whitespace");
    copy = strdup(json_string_value(c->v));
    if (!copy)
        return oom_error(c->errbuf, c->errsize, c->name);
    free(*dst);
    *dst = copy;
    return 0;
}

static int get_integer(const value_ctx *c, int64_t *x)
{
    int64_t n;

    if (!json_is_integer(c->v))
        return bad(c, "has the wrong type");
    n = json_integer_value(c->v);
    if (n < c->row->min || n > c->row->max)
        return bad(c, "is out of range");
    if ((c->row->flags & CLM_CFG_POW2) && (n <= 0 || (n & (n - 1)) != 0))
        return bad(c, "is not a power of two");
    if ((c->row->flags & CLM_CFG_DAY_ALIGNED) && (n <= 0 || n % 60 != 0 || 86400 % n != 0))
        return bad(c, "is not a whole number of minutes dividing 86400");
    *x = n;
    return 0;
}

static int set_enum(const value_ctx *c)
{
    const char *s;

    if (!json_is_string(c->v))
        return bad(c, "has the wrong type");
    s = json_string_value(c->v);
    for (int i = 0; c->row->allowed[i]; i++) {
        if (strcmp(c->row->allowed[i], s) == 0) {
            *(int *)c->field = i;
            return 0;
        }
    }
    return bad(c, "is not allowed");
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static int set_list(const value_ctx *c)
{
    size_t n, *count = (size_t *)((char *)c->base + c->row->count_offset);
    char ***dst = c->field;
    char **list;

    if (!json_is_array(c->v))
        return bad(c, "has the wrong type");
    n = json_array_size(c->v);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(c->v, i)))
            return bad(c, "has the wrong type");
    if ((int64_t)n < c->row->min)
        return bad(c, "has too few entries");
    list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return oom_error(c->errbuf, c->errsize, c->name);
    for (size_t i = 0; i < n; i++) {
        list[i] = strdup(json_string_value(json_array_get(c->v, i)));
        if (!list[i]) {
            free_list(list, i);
            return oom_error(c->errbuf, c->errsize, c->name);
        }
    }
    free_list(*dst, *count);
    *dst = list;
    *count = n;
    return 0;
}

static int set_intlist(const value_ctx *c)
{
    size_t n, *count = (size_t *)((char *)c->base + c->row->count_offset);
    int **dst = c->field;
    int *list;

    if (!json_is_array(c->v))
        return bad(c, "has the wrong type");
    n = json_array_size(c->v);
    for (size_t i = 0; i < n; i++)
        if (!json_is_integer(json_array_get(c->v, i)))
            return bad(c, "has the wrong type");
    if (n < c->row->min_count)
        return bad(c, "has too few entries");
    for (size_t i = 0; i < n; i++) {
        json_int_t x = json_integer_value(json_array_get(c->v, i));

        if (x < c->row->min || x > c->row->max)
            return bad(c, "has an entry out of range");
        for (size_t j = 0; (c->row->flags & CLM_CFG_DISTINCT) && j < i; j++)
            if (json_integer_value(json_array_get(c->v, j)) == x)
                return bad(c, "has a repeated entry");
    }
    list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return oom_error(c->errbuf, c->errsize, c->name);
    for (size_t i = 0; i < n; i++)
        list[i] = (int)json_integer_value(json_array_get(c->v, i));
    free(*dst);
    *dst = list;
    *count = n;
    return 0;
}

/* Sets key to value in the map, replacing the value of an existing entry. */
static int map_put(clm_kv **map, size_t *count, const char *key, const char *value)
{
    char *k = NULL, *val = strdup(value);
    clm_kv *grown;

    if (!val)
        return -ENOMEM;
    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*map)[i].key, key) == 0) {
            free((*map)[i].value);
            (*map)[i].value = val;
            return 0;
        }
    }
    k = strdup(key);
    if (!k)
        goto out_free_copies;
    grown = realloc(*map, (*count + 1) * sizeof *grown);
    if (!grown)
        goto out_free_copies;
    grown[*count] = (clm_kv){.key = k, .value = val};
    *map = grown;
    (*count)++;
    return 0;

out_free_copies:
    free(k);
    free(val);
    return -ENOMEM;
}

static int set_map(const value_ctx *c)
{
    size_t *count = (size_t *)((char *)c->base + c->row->count_offset);
    const char *k;
    json_t *e;

    if (!json_is_object(c->v))
        return bad(c, "has the wrong type");
    json_object_foreach(c->v, k, e) {
        bool secret = in_list(c->row->allowed, k);
        char *key;
        int r;

        if (clm_cfg_is_comment(k))
            continue;
        key = clm_cfg_join(c->key, k);
        if (!key)
            return oom_error(c->errbuf, c->errsize, c->name);
        if (secret && c->from == CLM_CFG_FROM_MAIN)
            r = clm_cfg_error(c->errbuf, c->errsize, c->name, key, e, true, secret_problem,
                              secret_expect);
        else if (!json_is_string(e))
            r = clm_cfg_error(c->errbuf, c->errsize, c->name, key, e, c->redact || secret,
                              "has the wrong type", "a string");
        else if (map_put(c->field, count, k, json_string_value(e)) < 0)
            r = oom_error(c->errbuf, c->errsize, c->name);
        else
            r = 0;
        free(key);
        if (r < 0)
            return r;
    }
    return 0;
}

int clm_cfg_set_value(const clm_cfg_key *row, void *base, json_t *v, clm_cfg_source from,
                      const char *name, const char *key, char *errbuf, size_t errsize)
{
    value_ctx c = {
        .row = row,
        .base = base,
        .field = (char *)base + row->offset,
        .v = v,
        .from = from,
        .name = name,
        .key = key,
        .errbuf = errbuf,
        .errsize = errsize,
        .redact = from == CLM_CFG_FROM_SECRETS || (row->flags & CLM_CFG_SECRET),
    };
    clm_cfg_problem problem = {.text = "is not valid"};
    int64_t n = 0;
    char *at;
    int r;

    expect_text(row, c.expect, sizeof c.expect);
    if ((row->flags & CLM_CFG_SECRET) && from == CLM_CFG_FROM_MAIN)
        return clm_cfg_error(errbuf, errsize, name, key, v, true, secret_problem, secret_expect);
    switch (row->type) {
    case CLM_CFG_STRING:
        return set_string(&c);
    case CLM_CFG_INT:
        r = get_integer(&c, &n);
        if (r == 0)
            *(int *)c.field = (int)n;
        return r;
    case CLM_CFG_INT64:
        r = get_integer(&c, &n);
        if (r == 0)
            *(int64_t *)c.field = n;
        return r;
    case CLM_CFG_DOUBLE:
        if (!json_is_number(v))
            return bad(&c, "has the wrong type");
        if (json_number_value(v) < row->dmin || json_number_value(v) > row->dmax)
            return bad(&c, "is out of range");
        *(double *)c.field = json_number_value(v);
        return 0;
    case CLM_CFG_BOOL:
        if (!json_is_boolean(v))
            return bad(&c, "has the wrong type");
        *(bool *)c.field = json_is_true(v);
        return 0;
    case CLM_CFG_ENUM:
        return set_enum(&c);
    case CLM_CFG_STRLIST:
        return set_list(&c);
    case CLM_CFG_STRMAP:
        return set_map(&c);
    case CLM_CFG_INTLIST:
        return set_intlist(&c);
    case CLM_CFG_CUSTOM:
        r = row->parse(v, c.field, &problem);
        if (r == -ENOMEM)
            return oom_error(errbuf, errsize, name);
        if (r == 0)
            return 0;
        problem.at[sizeof problem.at - 1] = '\0';
        at = malloc(strlen(key) + strlen(problem.at) + 1);
        if (!at)
            return oom_error(errbuf, errsize, name);
        strcpy(stpcpy(at, key), problem.at);
        clm_cfg_error(errbuf, errsize, name, at, problem.value ? problem.value : v, c.redact,
                      problem.text, problem.expect ? problem.expect : c.expect);
        free(at);
        return -EINVAL;
    }
    return -EINVAL;
}

/* ---- defaults and release ----------------------------------------------- */

int clm_cfg_set_defaults(const clm_cfg_key *keys, size_t nkeys, void *base, char *errbuf,
                         size_t errsize)
{
    for (size_t i = 0; i < nkeys; i++) {
        json_error_t jerr;
        json_t *v;
        int r;

        if (!keys[i].def)
            continue;
        v = json_loads(keys[i].def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
            clm_cfg_errorf(errbuf, errsize, "built-in defaults: %s: %s is not valid JSON: %s",
                           keys[i].path, keys[i].def, jerr.text);
            return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
        }
        r = clm_cfg_set_value(&keys[i], base, v, CLM_CFG_FROM_MAIN, "built-in defaults",
                              keys[i].path, errbuf, errsize);
        json_decref(v);
        if (r < 0)
            return r;
    }
    return 0;
}

void clm_cfg_release(const clm_cfg_key *keys, size_t nkeys, void *base)
{
    for (size_t i = 0; i < nkeys; i++) {
        void *field = (char *)base + keys[i].offset;
        size_t *count = (size_t *)((char *)base + keys[i].count_offset);

        switch (keys[i].type) {
        case CLM_CFG_STRING:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case CLM_CFG_STRLIST:
            free_list(*(char ***)field, *count);
            *(char ***)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_STRMAP:
            for (size_t j = 0; j < *count; j++) {
                free((*(clm_kv **)field)[j].key);
                free((*(clm_kv **)field)[j].value);
            }
            free(*(clm_kv **)field);
            *(clm_kv **)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_INTLIST:
            free(*(int **)field);
            *(int **)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_CUSTOM:
            if (keys[i].release)
                keys[i].release(field);
            break;
        case CLM_CFG_INT:
        case CLM_CFG_INT64:
        case CLM_CFG_DOUBLE:
        case CLM_CFG_BOOL:
        case CLM_CFG_ENUM:
            break;
        }
    }
}

/* ---- the key reference ------------------------------------------------- */

static const char *type_text(const clm_cfg_key *row)
{
    static const char *const names[] = {
        [CLM_CFG_STRING] = "string",       [CLM_CFG_INT] = "integer",
        [CLM_CFG_INT64] = "integer",       [CLM_CFG_DOUBLE] = "number",
        [CLM_CFG_BOOL] = "boolean",        [CLM_CFG_ENUM] = "enum",
        [CLM_CFG_STRLIST] = "string list", [CLM_CFG_STRMAP] = "string map",
        [CLM_CFG_INTLIST] = "integer list",
    };

    return row->type == CLM_CFG_CUSTOM ? row->type_name : names[row->type];
}

/* The "allowed" column: bounds and restrictions, "" when there are none. */
static void allowed_text(const clm_cfg_key *row, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    switch (row->type) {
    case CLM_CFG_STRING:
        if (row->max > 0)
            used = (size_t)snprintf(buf, size, "%lld..%lld bytes", (long long)row->min,
                                    (long long)row->max);
        else if (row->min > 0)
            used = (size_t)snprintf(buf, size, "non-empty");
        if ((row->flags & CLM_CFG_NO_SPACE) && used < size)
            used += (size_t)snprintf(buf + used, size - used, "%sno whitespace", used ? ", " : "");
        break;
    case CLM_CFG_INT:
    case CLM_CFG_INT64:
        used = (size_t)snprintf(buf, size, "%lld..%lld%s%s", (long long)row->min,
                                (long long)row->max,
                                (row->flags & CLM_CFG_POW2) ? ", power of two" : "",
                                (row->flags & CLM_CFG_DAY_ALIGNED)
                                    ? ", whole minutes dividing 86400"
                                    : "");
        break;
    case CLM_CFG_DOUBLE:
        used = (size_t)snprintf(buf, size, "%g..%g", row->dmin, row->dmax);
        break;
    case CLM_CFG_BOOL:
        used = (size_t)snprintf(buf, size, "true, false");
        break;
    case CLM_CFG_ENUM:
        for (size_t i = 0; row->allowed[i] && used < size; i++)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", row->allowed[i]);
        break;
    case CLM_CFG_STRLIST:
        if (row->min > 0)
            used = (size_t)snprintf(buf, size, "at least %lld entr%s", (long long)row->min,
                                    row->min == 1 ? "y" : "ies");
        break;
    case CLM_CFG_STRMAP:
        used = (size_t)snprintf(buf, size, "string values");
        break;
    case CLM_CFG_INTLIST:
        used = (size_t)snprintf(buf, size, "at least %zu entr%s, each %lld..%lld%s", row->min_count,
                                row->min_count == 1 ? "y" : "ies", (long long)row->min,
                                (long long)row->max,
                                (row->flags & CLM_CFG_DISTINCT) ? ", all different" : "");
        break;
    case CLM_CFG_CUSTOM:
        used = (size_t)snprintf(buf, size, "%s", row->expect);
        break;
    }
    if ((row->flags & CLM_CFG_SECRET) && used < size)
        snprintf(buf + used, size - used, "%ssecrets file only", used ? ", " : "");
}

/* Writes s with '|' escaped, so it stays inside one Markdown table cell. */
static void put_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* Writes text word-wrapped to 78 columns, each line indented by 4. */
static void put_wrapped(FILE *out, const char *text)
{
    const size_t width = 78 - 4;

    while (*text) {
        size_t len = strlen(text), cut = len;

        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        fprintf(out, "    %.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

/* Plain text: defaults longer than this are written below the help text,
 * so one long default does not widen the column for every key. */
#define DEFAULT_COLUMN_MAX 24
static const char default_below[] = "(below)";

void clm_cfg_describe(const clm_cfg_key *keys, size_t nkeys, FILE *out, bool markdown)
{
    size_t kw = strlen("KEY"), tw = strlen("TYPE"), dw = strlen("DEFAULT");
    char allowed[256];

    if (markdown) {
        fputs("| key | type | default | allowed | description |\n", out);
        fputs("|-----|------|---------|---------|-------------|\n", out);
        for (size_t i = 0; i < nkeys; i++) {
            allowed_text(&keys[i], allowed, sizeof allowed);
            fprintf(out, "| `%s` | ", keys[i].path);
            put_cell(out, type_text(&keys[i]));
            fputs(keys[i].def ? " | `" : " | none", out);
            if (keys[i].def)
                put_cell(out, keys[i].def);
            fputs(keys[i].def ? "` | " : " | ", out);
            put_cell(out, allowed);
            fputs(" | ", out);
            put_cell(out, keys[i].help);
            fputs(" |\n", out);
        }
        return;
    }
    for (size_t i = 0; i < nkeys; i++) {
        size_t l = strlen(keys[i].path), t = strlen(type_text(&keys[i]));
        size_t d = keys[i].def ? strlen(keys[i].def) : strlen("none");

        if (d > DEFAULT_COLUMN_MAX)
            d = strlen(default_below);
        kw = l > kw ? l : kw;
        tw = t > tw ? t : tw;
        dw = d > dw ? d : dw;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", (int)kw, "KEY", (int)tw, "TYPE", (int)dw, "DEFAULT",
            "ALLOWED");
    for (size_t i = 0; i < nkeys; i++) {
        const char *def = keys[i].def ? keys[i].def : "none";
        bool below = strlen(def) > DEFAULT_COLUMN_MAX;

        allowed_text(&keys[i], allowed, sizeof allowed);
        fprintf(out, "%-*s  %-*s  %-*s%s%s\n", (int)kw, keys[i].path, (int)tw, type_text(&keys[i]),
                allowed[0] ? (int)dw : 0, below ? default_below : def, allowed[0] ? "  " : "",
                allowed);
        put_wrapped(out, keys[i].help);
        if (below) {
            fputs("    Default:\n", out);
            put_wrapped(out, def);
        }
    }
}

void clm_config_describe(FILE *out, bool markdown)
{
    static const char *const rules[] = {
        "The configuration is one JSON object; each dotted key below is a member of the "
        "section named by its first part (\"flush\": {\"interval_ms\": 1000}). A key that is "
        "not listed is an error.",
        "Any key whose name starts with \"//\" is a comment and is ignored at every level; "
        "duplicate keys are errors, so give each comment its own name (\"// brokers\").",
        "Secrets are never read from the main file. The file named by secrets_file, then "
        "$CREDENTIALS_DIRECTORY/clmd-secrets.json when it exists (systemd LoadCredential=), "
        "may hold only redis.password and kafka.properties; their properties are merged "
        "into kafka.properties, the later file winning.",
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (markdown) {
            fprintf(out, "%s\n\n", rules[i]);
        } else {
            put_wrapped(out, rules[i]);
            fputc('\n', out);
        }
    }
    clm_cfg_describe(clm_config_keys, clm_config_key_count, out, markdown);
}
