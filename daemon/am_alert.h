/* daemon/am_alert.h - a paging alert document as an Alertmanager alert.
 *
 * Maps one document of the stream <prefix>alerts:page (churn_risk, churned,
 * resolved, digest; README "Alertmanager") to a postable alert of the
 * Alertmanager API v2 (POST /api/v2/alerts takes an array of them):
 *
 *   {"labels":{...},"annotations":{...},"startsAt":"...","generatorURL":"..."}
 *
 * keys in that order, generatorURL only with a link template. endsAt is not
 * set here: the sink decides it (clm_am_alert_set_ends).
 *
 * Labels: churn_risk and churned: alertname (CustomerChurnRisk,
 * CustomerChurned), customer_id, stage (left out when null), severity,
 * kind. digest: alertname CustomerAlertDigest, severity, kind, digest_id
 * (its alert_id: every digest is an alert of its own).
 * Annotations: churn_risk and churned: summary, reasons (left out when
 * there are none), clv, incident, alert_id, link (with a template). digest:
 * summary, customers, alert_id. startsAt is the document's event_ts.
 *
 * Numbers in texts: the risk of a summary with 2 decimals, a reason's
 * contribution with 2, a digest customer's risk with 4, money with up to 2
 * (trailing zeros dropped: "100", "1216.67").
 *
 * Pure (no I/O); reentrant.
 */
#ifndef CLM_DAEMON_AM_ALERT_H
#define CLM_DAEMON_AM_ALERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum clm_am_kind {
    CLM_AM_CHURN_RISK,
    CLM_AM_CHURNED,
    CLM_AM_RESOLVED,
    CLM_AM_DIGEST,
} clm_am_kind;

#define CLM_AM_INCIDENT_LEN 32

/* One page document, decoded. */
typedef struct clm_am_doc {
    clm_am_kind kind;
    char incident[CLM_AM_INCIDENT_LEN + 1]; /* "" for a digest */
    int64_t event_ms;                       /* event_ts, epoch ms */
    json_t *alert; /* the postable alert (owned); NULL for resolved, which
                      only names the incident it closes */
} clm_am_doc;

/* Decodes the document json[0..len) and builds its alert; link is the
 * template of alerts.alertmanager.link ("" or NULL: no link annotation
 * and no generatorURL), whose {customer_id}, {incident} and {alert_id} are
 * replaced by the URL-escaped values (every byte but A-Z a-z 0-9 - . _ ~
 * as %XX). Returns 0 and fills *out (release it with clm_am_doc_release);
 * -EINVAL when the document is not one of the four kinds or lacks a member
 * (errbuf names it), -ENOMEM; *out is untouched on failure. */
int clm_am_doc_parse(const char *json, size_t len, const char *link, clm_am_doc *out,
                     char *errbuf, size_t errsize);

/* Frees what clm_am_doc_parse stored; accepts a zeroed doc. */
void clm_am_doc_release(clm_am_doc *d);

/* Sets (or replaces) the alert's endsAt to ends_ms, raised to startsAt +
 * 1 ms when earlier (Alertmanager refuses an alert ending before it
 * starts). Returns 0, -EINVAL when the alert has no valid startsAt,
 * -ENOMEM. */
int clm_am_alert_set_ends(json_t *alert, int64_t ends_ms);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" of epoch ms into buf (>= 25 bytes). */
void clm_am_time_format(int64_t ms, char *buf);

/* The link template with its placeholders replaced (see clm_am_doc_parse);
 * a NULL value leaves its placeholder empty. malloc'd, NULL on ENOMEM. */
char *clm_am_link_expand(const char *tmpl, const char *customer_id, const char *incident,
                         const char *alert_id);

#endif
