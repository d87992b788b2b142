/* tests/harness_am.h - a real Prometheus Alertmanager for tests, and the
 * webhook it notifies.
 *
 * harness_am_start serves a webhook from this process (libmicrohttpd) and
 * starts `prometheus-alertmanager` on a free loopback port, clustering off,
 * with its config and storage in a temporary directory; its only route
 * sends every alert to the webhook at once (group_by '...', group_wait 0s,
 * group_interval 1s, repeat_interval 1h, send_resolved). The webhook keeps
 * every alert of every notification, in arrival order. A missing binary is
 * an error (tests fail, never skip).
 *
 * Not thread-safe but for the webhook's own thread (its alerts are read
 * under a lock).
 */
#ifndef CLM_TESTS_HARNESS_AM_H
#define CLM_TESTS_HARNESS_AM_H

#include <jansson.h>
#include <stddef.h>

typedef struct harness_am harness_am;

/* Returns 0 or a negative errno (errbuf says why). */
int harness_am_start(harness_am **out, char *errbuf, size_t errsize);

/* Stops Alertmanager (SIGTERM, waits for it) and the webhook, removes the
 * directory; accepts NULL. */
void harness_am_free(harness_am *a);

int harness_am_port(const harness_am *a);
/* The temporary directory (config, storage, logs). */
const char *harness_am_dir(const harness_am *a);

/* Stops Alertmanager alone (SIGTERM, waits); the webhook goes on. */
int harness_am_stop(harness_am *a, char *errbuf, size_t errsize);
/* Starts it again on the same port and storage, waits until it is ready. */
int harness_am_restart(harness_am *a, char *errbuf, size_t errsize);

/* A copy of the latest alert the webhook received with exactly these labels
 * and this status ("firing", "resolved"), or NULL. */
json_t *harness_am_hook_find(harness_am *a, const json_t *labels, const char *status);

/* Alerts the webhook received so far (a copy of the array). */
json_t *harness_am_hook_all(harness_am *a);

/* The alert GET /api/v2/alerts lists with exactly these labels (a new
 * reference), or NULL (Alertmanager lists only alerts that have not
 * ended). */
json_t *harness_am_find(harness_am *a, const json_t *labels);

#endif
