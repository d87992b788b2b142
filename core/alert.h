/* core/alert.h - an alert raised by a customer's state change.
 *
 * The core decides *that* an alert is due (a churn-risk score crossing the
 * threshold while armed and out of cooldown, or entering the churned stage)
 * and records what the alert says; the daemon gives it its id, formats it
 * and delivers it once the state change that raised it is durable.
 *
 * Every field is a function of the partition's stream, so a replay raises
 * the same alerts with the same contents (see README "Alerts").
 */
#ifndef CLM_CORE_ALERT_H
#define CLM_CORE_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"
#include "core/risk.h"

typedef enum clm_alert_kind {
    CLM_ALERT_CHURN_RISK = 0,
    CLM_ALERT_CHURNED,
    CLM_ALERT__COUNT
} clm_alert_kind;

/* "churn_risk", "churned". */
const char *clm_alert_kind_name(clm_alert_kind k);
/* The kind with this name, or -1. */
int clm_alert_kind_from_name(const char *name);

/* When alerts are raised; shared by all customers of a shard. */
typedef struct clm_alert_opts {
    bool enabled[CLM_ALERT__COUNT];
    int threshold_e4;         /* churn_risk when risk_e4 >= this (7000) */
    int rearm_e4;             /* re-armed below threshold_e4 - this (1000) */
    int64_t cooldown_ms;      /* per customer, between churn_risk alerts */
    int64_t clv_floor_micros; /* no alert for a customer whose clv is below */
} clm_alert_opts;

typedef struct clm_alert {
    clm_alert_kind kind;
    int32_t topic;            /* source: topic index, partition, offset of the */
    int32_t partition;        /* event that raised it (for a rise of risk with */
    int64_t offset;           /* time alone: the customer's latest event) */
    int64_t event_ts;         /* the event's time, or the time the score changed */
    int risk_e4, prev_risk_e4;
    int stage;                /* stage index, or -1 */
    int64_t clv_micros;       /* revenue - refunds */
    int64_t clv_rate_micros;  /* revenue per year */
    int nreasons;
    clm_risk_reason reasons[CLM_SIG__COUNT];
    uint8_t id_len;
    char customer_id[CLM_ID_MAX + 1];
} clm_alert;

#endif
