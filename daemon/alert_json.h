/* daemon/alert_json.h - an alert's id, its incident key and its JSON document.
 *
 * alert_id: 32 lowercase hex digits of XXH3-128 over
 *   kind \0 customer_id \0 source topic \0 partition \0 offset \0 event_ts
 * (decimal numbers), so a replay of the same stream names the same alert
 * the same way and consumers can de-duplicate on it.
 * incident: 32 hex digits of XXH3-128 over
 *   "incident" \0 customer_id \0 incident_at
 * (the incident's opening time, epoch ms, decimal): every alert of one
 * incident carries it.
 *
 * The documents (keys in this order; README "Alerts" has examples):
 *   churn_risk, churned: alert_id, kind, customer_id, incident, severity,
 *     risk, previous_risk, stage, clv, clv_rate, reasons [{signal, value,
 *     weight, contribution}], event_ts, emitted_at, source {topic,
 *     partition, offset}
 *     (churned: cause, the event type that moved the customer into the
 *     churned stage or "inactivity", after severity)
 *   resolved: the same with reason ("risk_fell", "reactivated") in place of
 *     severity
 *   digest: alert_id, kind, severity, held, more, event_ts, emitted_at,
 *     source {partition}, window {start, end}, customers [{customer_id,
 *     kind, risk, alert_id, incident}]
 * Numbers: risk with 4 decimals, money with up to 6, reason values and
 * contributions rounded to 4 decimals; times RFC 3339 UTC with milliseconds.
 * Everything but emitted_at is a function of the alert.
 *
 * Reentrant.
 */
#ifndef CLM_DAEMON_ALERT_JSON_H
#define CLM_DAEMON_ALERT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/stages.h"

#define CLM_ALERT_ID_LEN 32

/* What names the core's indices. */
typedef struct clm_alert_names {
    char *const *topics;     /* topic index -> name */
    size_t ntopics;
    const clm_stages *stages; /* may be NULL */
    int critical_e4, warning_e4; /* severity bands: alerts.severity.* x 10000 */
} clm_alert_names;

/* "critical", "warning" or "info" for a risk. */
const char *clm_alert_severity(const clm_alert_names *n, int risk_e4);

/* Writes the incident key of the customer's incident opened at
 * incident_at. */
void clm_alert_incident(const char *customer_id, size_t len, int64_t incident_at,
                        char key[CLM_ALERT_ID_LEN + 1]);

/* One customer named by a digest. */
typedef struct clm_digest_entry {
    const char *customer_id, *kind, *alert_id, *incident;
    int risk_e4;
} clm_digest_entry;

/* Writes the id (CLM_ALERT_ID_LEN hex digits and a NUL) into id. */
void clm_alert_id(const clm_alert *a, const clm_alert_names *n, char id[CLM_ALERT_ID_LEN + 1]);

/* The alert's JSON document (compact, malloc'd, NUL-terminated), or NULL on
 * ENOMEM. */
char *clm_alert_json(const clm_alert *a, const clm_alert_names *n, const char *id,
                     int64_t emitted_ms);

/* A digest document: `held` alerts of partition `partition` whose paging
 * window [start_ms, end_ms) went over the rate limit, the first n of them
 * named by e; severity is the highest of theirs. Its id, written into id,
 * is XXH3-128 over "digest" \0 partition \0 start_ms. NULL on ENOMEM. */
char *clm_alert_digest_json(int32_t partition, int64_t start_ms, int64_t end_ms, uint64_t held,
                            const clm_digest_entry *e, size_t n, const char *severity,
                            int64_t emitted_ms, char id[CLM_ALERT_ID_LEN + 1]);

#endif
