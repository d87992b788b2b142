/* config/keys.c - every configuration key of clmd, one row each: its path,
 * type, default, bounds and help (config/schema.h says what each column
 * means; config/schema.c is the engine that applies the rows).
 *
 * Loading, defaults, validation, `clmd --help-config` and config/README-keys.md
 * all come from this table. Adding a key is one row here plus its field in
 * struct clm_config.
 */
#include <stddef.h>

#include "config/config.h"
#include "config/lifecycle.h"
#include "config/segments.h"
#include "config/schema.h"
#include "config/traits.h"
#include "config/breakdowns.h"
#include "config/event_types.h"

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
     .help = "Further librdkafka properties, passed verbatim; a value is a string "
             "(\"security.protocol\": \"SASL_SSL\"), a number (\"linger.ms\": 5) or a boolean "
             "(\"enable.ssl.certificate.verification\": false), given to librdkafka as text. "
             "Each is checked by librdkafka for the consumer and both producers at start and by "
             "--check-config. sasl.password, ssl.key.password, "
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
    {.path = "redis.cluster", .type = CLM_CFG_STRING, .def = "\"\"", .max = 4096,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(redis_cluster),
     .help = "Redis Cluster seed nodes, \"host:port,host:port\" ([::1]:7000 for IPv6): clmd "
             "reads the slot map from them and writes each partition's state to the master of "
             "its slot (README \"Running on Redis Cluster\"). redis.host, redis.port and "
             "redis.db are then unused; redis.db must stay 0 and redis.prefix must not contain "
             "braces. Empty: one Redis server at redis.host."},
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
    {.path = "redis.user", .type = CLM_CFG_STRING, .def = "\"\"", .max = 128,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(redis_user),
     .help = "Redis ACL user name: clmd authenticates with AUTH user password (redis.password "
             "is then required). Empty: AUTH password alone, as the default user."},
    {.path = "redis.tls", .type = CLM_CFG_BOOL, .def = "false", .offset = FIELD(redis_tls),
     .help = "Connect to Redis over TLS (TLS 1.2 or later), verifying the server's certificate "
             "and name; not with a unix socket."},
    {.path = "redis.tls_ca_file", .type = CLM_CFG_STRING, .def = "\"\"",
     .offset = FIELD(redis_tls_ca_file),
     .help = "PEM file of the CA certificates the Redis server's certificate must chain to. "
             "Empty: the system's CA store (a managed Redis with a public certificate)."},
    {.path = "redis.tls_cert_file", .type = CLM_CFG_STRING, .def = "\"\"",
     .offset = FIELD(redis_tls_cert_file),
     .help = "PEM client certificate (chain) shown to Redis, for servers that require one "
             "(tls-auth-clients yes); needs redis.tls_key_file. Empty: none."},
    {.path = "redis.tls_key_file", .type = CLM_CFG_STRING, .def = "\"\"",
     .offset = FIELD(redis_tls_key_file),
     .help = "PEM private key (unencrypted) of redis.tls_cert_file; keep the file readable by "
             "clmd's user only. Empty: none."},
    {.path = "redis.tls_server_name", .type = CLM_CFG_STRING, .def = "\"\"", .max = 255,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(redis_tls_server_name),
     .help = "Name sent as SNI and verified against the server's certificate (a DNS name, or "
             "an IP address matched against its IP addresses). Empty: redis.host."},

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
     .help = "Events whose type is neither a built-in type nor declared in event_types: "
             "\"activity\" counts them as generic activity, \"reject\" rejects them as "
             "unknown_type."},
    {.path = "events.dedup_horizon_s", .type = CLM_CFG_INT64, .def = "86400", .min = 0,
     .max = 31536000, .offset = FIELD(events_dedup_horizon_s),
     .help = "An event whose event_id was seen for the same customer (an event without "
             "customer: on the same partition, at most 64 ids) within this many seconds is "
             "dropped as a duplicate; 0 disables duplicate suppression."},
    {.path = "events.dedup_max_ids", .type = CLM_CFG_INT, .def = "16", .min = 1, .max = 1024,
     .offset = FIELD(events_dedup_max_ids),
     .help = "Event ids remembered per customer for duplicate suppression."},
    {.path = "events.allowed_lateness_s", .type = CLM_CFG_INT64, .def = "604800", .min = 0,
     .max = 5184000, .offset = FIELD(events_allowed_lateness_s),
     .help = "Events older than their partition's watermark (its greatest confirmed event "
             "time minus this many seconds) are rejected as late_dropped."},
    {.path = "events.max_jump_s", .type = CLM_CFG_INT64, .def = "86400", .min = 0,
     .max = 31536000, .offset = FIELD(events_max_jump_s),
     .help = "An applied event more than this many seconds after its partition's greatest "
             "confirmed event time raises it (and the watermark) only once events.jump_quorum "
             "distinct customers are that far ahead; 0 lets every event raise it."},
    {.path = "events.jump_quorum", .type = CLM_CFG_INT, .def = "2", .min = 1,
     .max = 16, .offset = FIELD(events_jump_quorum),
     .help = "Distinct customers whose events must lie more than events.max_jump_s ahead "
             "before the watermark jumps (to the earliest of their times); 1 lets one "
             "event do it."},

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
    {.path = "traits", .type = CLM_CFG_CUSTOM, .def = "[]", .offset = FIELD(traits),
     .parse = clm_cfg_traits_parse, .release = clm_cfg_traits_release,
     .type_name = "trait list", .expect = clm_cfg_traits_expect,
     .help = "Customer traits read from events, each {\"name\", \"type\": \"string\" | "
             "\"number\" | \"boolean\"} with optional \"field\" (the member read: a top-level "
             "name or \"properties.<name>\"; default: the name), \"update\" (\"latest\", "
             "\"first\", \"max\", \"sum\", \"count_distinct\"; default \"latest\"), "
             "\"max_len\" (strings, 1..64, default 64), \"max_distinct\" (count_distinct, 1..16, "
             "default 8) and \"on_invalid\" (\"reject\": to the dead-letter topic as bad_trait, "
             "the default; \"ignore\": the event applies without that value). At most 8 traits; "
             "changing them needs a restart. See README \"Traits\"."},
    {.path = "breakdowns", .type = CLM_CFG_CUSTOM, .def = "[]", .offset = FIELD(breakdowns),
     .parse = clm_cfg_breakdowns_parse, .release = clm_cfg_breakdowns_release,
     .type_name = "object list", .expect = clm_cfg_breakdowns_expect,
     .help = "Trait dimensions whose day counters are also kept per value, each "
             "{\"dimension\": \"trait:<name>\" (a configured trait), \"values\": [1..32 values "
             "counted under their own name]}; a customer with another value counts under "
             "\"other\", one without a value under \"(none)\". Counters: new_leads, "
             "leads_converted, new_customers, orders, revenue_micros, churned, reactivated, "
             "customers_delta, in "
             "<prefix>breakdown:trait:<name>:<YYYY-MM-DD>. At most 4; changing them needs a "
             "restart. See README \"Breakdowns\"."},
    {.path = "event_types", .type = CLM_CFG_CUSTOM, .def = "[]", .offset = FIELD(event_types),
     .parse = clm_cfg_event_types_parse, .release = clm_cfg_event_types_release,
     .type_name = "type list", .expect = clm_cfg_event_types_expect,
     .help = "Event types besides the built-in ones, each {\"name\"} with optional \"as\" (the "
             "built-in type whose meaning it takes: it counts in every KPI, risk signal and stage "
             "rule of that type, amount and score rules included; default \"other\": generic "
             "activity), \"activity\" (true or false; default: as its \"as\" type under "
             "lifecycle.inactive_types) and \"required\" (fields the event must carry: "
             "customer_id, event_id, amount, score, duration_s or trait names; else "
             "missing_field). lifecycle.rules may name them. At most 8; changing them needs a "
             "restart. See README \"Custom event types\"."},
    {.path = "lifecycle.churn_inactive_days", .type = CLM_CFG_INT, .def = "90", .min = 1,
     .max = 3650, .offset = FIELD(lifecycle_churn_inactive_days),
     .help = "A customer without activity for this many days is moved to the churned stage "
             "once the partition's watermark passes that deadline."},
    {.path = "lifecycle.inactive_types", .type = CLM_CFG_CUSTOM,
     .def = "[\"cancel\", \"refund\", \"payment_failed\", \"marketing_spend\"]",
     .offset = FIELD(lifecycle_inactive_types), .parse = clm_cfg_inactive_parse,
     .release = clm_cfg_inactive_release, .type_name = "string list",
     .expect = clm_cfg_inactive_expect,
     .help = "Event types that are not activity: such an event still counts in events and "
             "does what its type does (a refund's amount, a cancel's move into the churned "
             "stage, the payment_failed signal), but does not move last_seen, does not count "
             "its customer as active, does not restart the churn_inactive_days clock or the "
             "inactivity signal, and never moves a churned customer out of the churned stage. "
             "Built-in type names or \"other\" (types outside the built-in list); purchase "
             "is always activity."},

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
    {.path = "alerts.resolved", .type = CLM_CFG_BOOL, .def = "true",
     .offset = FIELD(alerts.enabled[CLM_ALERT_RESOLVED]),
     .help = "Raise a resolved alert when a customer's incident ends: its risk falls below "
             "alerts.threshold minus alerts.rearm_margin, or it reactivates after churning."},
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
    {.path = "alerts.rate_per_s", .type = CLM_CFG_DOUBLE, .def = "20", .dmin = 0.00001, .dmax = 1000000.0,
     .offset = FIELD(alerts_rate_per_s),
     .help = "Alerts that page at most, per second of event time (their paging time) and "
             "per partition; the others are folded into a digest alert. Every alert is kept "
             "in <prefix>alerts and published to alerts.topic whatever the rate."},
    {.path = "alerts.burst", .type = CLM_CFG_INT, .def = "100", .min = 1, .max = 1000000,
     .offset = FIELD(alerts_burst),
     .help = "Alerts that may page at once, per partition, before alerts.rate_per_s applies."},
    {.path = "alerts.summary_interval_s", .type = CLM_CFG_INT, .def = "60", .min = 1, .max = 86400,
     .offset = FIELD(alerts_summary_interval_s),
     .help = "Paging window, in seconds of event time: the alerts whose paging time falls in "
             "one window are decided together once the partition's watermark has passed it, "
             "and those over the rate limit are named by one digest alert."},
    {.path = "alerts.digest_customers", .type = CLM_CFG_INT, .def = "20", .min = 1, .max = 1000,
     .offset = FIELD(alerts_digest_customers),
     .help = "Customers a digest alert names (id, kind, risk); it counts the rest."},
    {.path = "alerts.severity.critical", .type = CLM_CFG_DOUBLE, .def = "0.9", .dmin = 0, .dmax = 1,
     .offset = FIELD(alerts_severity_critical),
     .help = "Risk at or above which an alert's severity is critical."},
    {.path = "alerts.severity.warning", .type = CLM_CFG_DOUBLE, .def = "0.7", .dmin = 0, .dmax = 1,
     .offset = FIELD(alerts_severity_warning),
     .help = "Risk at or above which an alert's severity is warning (below it: info)."},
    {.path = "alerts.alertmanager.url", .type = CLM_CFG_STRING, .def = "\"\"",
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(alerts_am_url),
     .help = "Base URL of an Alertmanager (http:// or https://, e.g. \"http://127.0.0.1:9093\"); "
             "the paging alerts of <prefix>alerts:page are posted to <url>/api/v2/alerts. An "
             "empty string turns the Alertmanager sink off. Basic auth and TLS client "
             "certificates are not supported yet."},
    {.path = "alerts.alertmanager.resend_s", .type = CLM_CFG_INT, .def = "60", .min = 5, .max = 3600,
     .offset = FIELD(alerts_am_resend_s),
     .help = "How often, in seconds, every firing churn_risk alert is posted again; each post "
             "sets endsAt to now plus 4 times this."},
    {.path = "alerts.alertmanager.timeout_ms", .type = CLM_CFG_INT, .def = "5000", .min = 100,
     .max = 60000, .offset = FIELD(alerts_am_timeout_ms),
     .help = "Timeout of one post to Alertmanager (connect included), in milliseconds."},
    {.path = "alerts.alertmanager.link", .type = CLM_CFG_STRING, .def = "\"\"",
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(alerts_am_link),
     .help = "Template of the link annotation and generatorURL of each Alertmanager alert, "
             "e.g. \"https://crm.example.com/customers/{customer_id}\"; {customer_id}, "
             "{incident} and {alert_id} are replaced by their URL-escaped values. Empty: no "
             "link."},
    {.path = "alerts.alertmanager.batch", .type = CLM_CFG_INT, .def = "500", .min = 1, .max = 10000,
     .offset = FIELD(alerts_am_batch),
     .help = "Most entries of <prefix>alerts:page read and posted to Alertmanager in one request."},

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
    {.path = "kpi.history_days", .type = CLM_CFG_INT, .def = "400", .min = 1, .max = 3660,
     .offset = FIELD(kpi_history_days),
     .help = "Days kept in the <prefix>kpi:history stream (one entry per UTC day, ending on "
             "the window end day)."},
    {.path = "kpi.cohort_weeks", .type = CLM_CFG_INT, .def = "12", .min = 1, .max = 520,
     .offset = FIELD(kpi_cohort_weeks),
     .help = "Weekly cohorts (by the UTC ISO week of the first purchase) kept in "
             "<prefix>kpi:cohorts, the latest ones."},

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

    /* segments and RFM */
    {.path = "segments", .type = CLM_CFG_CUSTOM, .def = "[]",
     .offset = FIELD(segments_json), .parse = clm_cfg_segments_parse,
     .release = clm_cfg_json_release, .type_name = "segment list",
     .expect = clm_cfg_segments_expect,
     .help = "Named segments, each {\"name\": name, \"rule\": rule} with an optional "
             "\"notify\": true: a customer is a member while the rule holds, e.g. \"stage == "
             "\\\"retention\\\" and risk >= 0.5\" (README \"Segments\" has the rule language "
             "and the attributes); with notify, entries and exits are segment_entered and "
             "segment_left alerts. At most 64; names of 1..64 characters A-Z a-z 0-9 _ - . and "
             "all different."},
    {.path = "rfm.segments", .type = CLM_CFG_CUSTOM,
     .def = "[{\"name\": \"Champions\", \"r\": [5, 5], \"f\": [4, 5], \"m\": [1, 5]}, "
            "{\"name\": \"Loyal\", \"r\": [3, 4], \"f\": [4, 5], \"m\": [1, 5]}, "
            "{\"name\": \"Potential loyalist\", \"r\": [4, 5], \"f\": [2, 3], \"m\": [1, 5]}, "
            "{\"name\": \"New\", \"r\": [5, 5], \"f\": [1, 1], \"m\": [1, 5]}, "
            "{\"name\": \"Promising\", \"r\": [4, 4], \"f\": [1, 1], \"m\": [1, 5]}, "
            "{\"name\": \"Need attention\", \"r\": [3, 3], \"f\": [3, 3], \"m\": [1, 5]}, "
            "{\"name\": \"About to sleep\", \"r\": [3, 3], \"f\": [1, 2], \"m\": [1, 5]}, "
            "{\"name\": \"At risk\", \"r\": [1, 2], \"f\": [3, 4], \"m\": [1, 5]}, "
            "{\"name\": \"Can't lose\", \"r\": [1, 2], \"f\": [5, 5], \"m\": [1, 5]}, "
            "{\"name\": \"Lost\", \"r\": [1, 1], \"f\": [1, 1], \"m\": [1, 5]}, "
            "{\"name\": \"Hibernating\", \"r\": [1, 2], \"f\": [1, 2], \"m\": [1, 5]}]",
     .offset = FIELD(rfm_segments_json), .parse = clm_cfg_rfm_map_parse,
     .release = clm_cfg_json_release, .type_name = "map",
     .expect = clm_cfg_rfm_map_expect,
     .help = "The RFM segment map: entries {\"name\", \"r\", \"f\", \"m\"} with a range "
             "[lo, hi] of each score (1..5), tried in order; the first entry holding a customer's "
             "three scores names its rfm_segment (\"Other\" when none does). The default is "
             "the standard grid over R and F (README \"RFM scores\"). 1..32 entries."},

    {.path = "rfm.enabled", .type = CLM_CFG_BOOL, .def = "false",
     .offset = FIELD(rfm_enabled),
     .help = "Whether the segment job computes RFM scores when no segment is configured; "
             "with at least one segment it always runs."},
    {.path = "rfm.refresh_s", .type = CLM_CFG_INT, .def = "60", .min = 1, .max = 86400,
     .offset = FIELD(rfm_refresh_s),
     .help = "Seconds between two passes of the segment job, which recomputes the RFM "
             "boundaries, every customer's RFM scores and the members of every segment "
             "(README \"Segments\")."},

    /* http */
    {.path = "http.listen", .type = CLM_CFG_STRING, .def = "\"127.0.0.1\"", .min = 1, .max = 64,
     .offset = FIELD(http_listen),
     .help = "Address the HTTP endpoint (/metrics, /healthz, the dashboard and /api/v1) "
             "listens on (IPv4 or IPv6 literal)."},
    {.path = "http.port", .type = CLM_CFG_INT, .def = "9108", .min = 0, .max = 65535,
     .offset = FIELD(http_port),
     .help = "TCP port of the HTTP endpoint (/metrics, /healthz, the dashboard and /api/v1); "
             "0 turns it off."},
    {.path = "http.bearer_token", .type = CLM_CFG_STRING, .flags = CLM_CFG_SECRET, .min = 16,
     .max = 256, .offset = FIELD(http_bearer_token),
     .help = "Token /metrics, the dashboard and /api/v1 require, as \"Authorization: Bearer "
             "<token>\" or as the password of basic auth (any user name: what a browser "
             "asks for); accepted only in the secrets file. /healthz stays open for probes. "
             "Unset: all are open, and clmd warns at start when http.listen is not a "
             "loopback address."},

    /* identity */
    {.path = "identity.topic", .type = CLM_CFG_STRING, .def = "\"\"", .max = 249,
     .flags = CLM_CFG_NO_SPACE, .offset = FIELD(identity_topic),
     .help = "Internal Kafka topic of the identity merge (README \"Identity merge\"), e.g. "
             "\"<first of kafka.topics>.clmd-identity\". It must exist with as many partitions "
             "as each of kafka.topics: a start checks it and stops naming both counts otherwise. "
             "It must differ from kafka.topics, kafka.dlq_topic and alerts.topic, and needs the "
             "range assignor (partition.assignment.strategy). Its producer partitions by key "
             "with librdkafka's partitioner property, which must hash keys as the events' "
             "producers do. Empty (the default): no identity merge; identify events are "
             "applied like other events."},
    {.path = "identity.alias_ttl_days", .type = CLM_CFG_INT, .def = "90", .min = 1, .max = 3650,
     .offset = FIELD(identity_alias_ttl_days),
     .help = "Days of event time an alias (an anonymous id merged into a known one) lives: "
             "once its partition's watermark is that far past the identify event, the alias "
             "is dropped and later events of the anonymous id start a new customer."},

    /* erasure */
    {.path = "erasure.hmac_key", .type = CLM_CFG_STRING, .flags = CLM_CFG_SECRET, .min = 16,
     .max = 256, .offset = FIELD(erasure_hmac_key),
     .help = "Key of the HMAC-SHA256 of the customer id each erasure log entry records "
             "(<prefix>erasure_log, field id_hmac); accepted only in the secrets file. Unset: "
             "entries record the time and partition only."},

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
