/* daemon/alert_json.h - an alert's id and its JSON document.
 *
 * alert_id: 32 lowercase hex digits of XXH3-128 over
 *   kind \0 customer_id \0 source topic \0 partition \0 offset \0 event_ts
 * (decimal numbers), so a replay of the same stream names the same alert
 * the same way and consumers can de-duplicate on it.
 *
 * The document (keys in this order; README "Alerts" has an example):
 *   alert_id, kind, customer_id, risk, previous_risk, stage, clv, clv_rate,
 *   reasons [{signal, value, weight, contribution}], event_ts, emitted_at,
 *   source {topic, partition, offset}
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
} clm_alert_names;

/* Writes the id (CLM_ALERT_ID_LEN hex digits and a NUL) into id. */
void clm_alert_id(const clm_alert *a, const clm_alert_names *n, char id[CLM_ALERT_ID_LEN + 1]);

/* The alert's JSON document (compact, malloc'd, NUL-terminated), or NULL on
 * ENOMEM. */
char *clm_alert_json(const clm_alert *a, const clm_alert_names *n, const char *id,
                     int64_t emitted_ms);

/* A suppressed_summary document: `suppressed` alerts held back by the rate
 * limit since since_ms; its id is derived from since_ms and the count (and
 * written into id). NULL on ENOMEM. */
char *clm_alert_summary_json(uint64_t suppressed, int64_t since_ms, int64_t emitted_ms,
                             char id[CLM_ALERT_ID_LEN + 1]);



#endif
