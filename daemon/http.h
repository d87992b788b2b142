/* daemon/http.h - the HTTP endpoint: /metrics, /healthz, the dashboard and
 * its JSON API.
 *
 * Served by libmicrohttpd, a thread per connection (so a request waiting
 * for Redis, the API's or the business gauges', never holds /healthz
 * back), bound to `listen:port`
 * (loopback by default). /metrics is the Prometheus text format (0.0.4):
 * events consumed, applied, duplicates, rejected by reason, dead letters
 * delivered, flushes and a flush-latency histogram, Redis errors and
 * connections, consumer lag per partition, partitions assigned, cached
 * customers, resident memory; with the Alertmanager sink its deliveries,
 * errors, outbox depth and age, and the firing alerts. /healthz answers 200 "ok" while partitions are
 * assigned, the writer is not holding flushes (Redis unreachable or refusing
 * writes: clm_writer_held) and no flush has waited longer than max(10 s, 10
 * flush intervals), else 503 with the reason. Reads only thread-safe
 * snapshots.
 *
 * With an API handle (daemon/api.h) it also serves the dashboard (/ and
 * /dashboard: the page, and its script and style, all built into the
 * binary: daemon/dash_assets.h), the JSON API under /api/v1/ and, on
 * /metrics, the business gauges (customers per stage, at-risk count, the
 * KPI windows) read from Redis at scrape time.
 *
 * Up to 256 connections; one idle for 3 s is closed, so idle or slow clients
 * cannot keep the probes out. With a bearer token, everything but /healthz
 * answers 401 unless the request carries "Authorization: Bearer <token>" or
 * basic auth whose password is the token (what a browser can send);
 * /healthz stays open (it tells only "ok" or why not), so probes need no
 * secret.
 */
#ifndef CLM_DAEMON_HTTP_H
#define CLM_DAEMON_HTTP_H

#include <stddef.h>

#include "daemon/am_sink.h"
#include "daemon/api.h"
#include "daemon/consumer.h"
#include "daemon/worker.h"
#include "daemon/writer.h"

typedef struct clm_http clm_http;

typedef struct clm_http_sources {
    clm_consumer *consumer;
    clm_worker **workers;
    size_t nworkers;
    clm_writer *writer;
    int flush_interval_ms;
    clm_alert_pub *alerts;   /* alert deliveries; may be NULL */
    clm_am_sink *am_sink;    /* deliveries to Alertmanager; may be NULL */
    clm_api *api;            /* dashboard, /api/v1 and business gauges; may be NULL */
} clm_http_sources;

/* Starts serving; token (copied; NULL or "" for none) guards all but /healthz. The
 * sources must outlive the endpoint. Returns 0, or a negative errno with
 * errbuf set (address unusable, port taken). */
int clm_http_start(const char *listen, int port, const char *token, const clm_http_sources *src,
                   clm_http **out, char *errbuf, size_t errsize);

/* Stops serving and frees; accepts NULL. */
void clm_http_free(clm_http *h);

#endif
