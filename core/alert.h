/* core/alert.h - an alert raised by a customer's state change.
 *
 * The core decides *that* an alert is due (a churn-risk score crossing the
 * threshold while armed and out of cooldown, entering the churned stage, or
 * the end of an incident) and records what the alert says; the daemon gives
 * it its id, formats it, decides whether it pages (daemon/paging.h) and
 * delivers it once the state change that raised it is durable.
 *
 * Incidents: a churn_risk alert opens one for its customer, and so does a
 * churned alert when none is open; a churned alert during an open incident
 * carries it on. The incident ends with a resolved alert when the customer,
 * current (not churned), scores below threshold - rearm_margin, or when a
 * churned customer reactivates. Its key is derived from the customer id and
 * incident_at, the time it opened.
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
    CLM_ALERT_RESOLVED,
    CLM_ALERT__COUNT
} clm_alert_kind;

/* "churn_risk", "churned", "resolved". */
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
    /* which alerts page (daemon/paging.h; the core does not read these) */
    double page_rate_per_s;   /* alerts.rate_per_s */
    int page_burst;           /* alerts.burst */
    int64_t page_window_ms;   /* alerts.summary_interval_s x 1000 */
    int digest_customers;     /* alerts.digest_customers */
    int critical_e4, warning_e4; /* alerts.severity.* x 10000 */
} clm_alert_opts;

/* clm_alert.cause of a churn by silence (lifecycle.churn_inactive_days). */
#define CLM_CAUSE_INACTIVITY 255

/* Why an incident ended (resolved alerts). */
typedef enum clm_resolve_reason {
    CLM_RESOLVE_NONE = 0,
    CLM_RESOLVE_RISK_FELL,   /* "risk_fell" */
    CLM_RESOLVE_REACTIVATED, /* "reactivated" */
} clm_resolve_reason;

/* "risk_fell", "reactivated"; NULL for CLM_RESOLVE_NONE. */
const char *clm_resolve_reason_name(clm_resolve_reason r);

typedef struct clm_alert {
    clm_alert_kind kind;
    clm_resolve_reason reason; /* resolved alerts; CLM_RESOLVE_NONE otherwise */
    int cause;                /* churned alerts: the clm_event_type that moved the customer
                                 into the churned stage, or CLM_CAUSE_INACTIVITY; else -1 */
    int64_t incident_at;      /* when the incident it belongs to opened (epoch ms) */
    int64_t page_ms;          /* its paging time: the watermark (else the event's time)
                                 when an event raised it, the due time when time alone
                                 did; a function of the stream (daemon/paging.h) */
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
