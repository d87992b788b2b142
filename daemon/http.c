/* daemon/http.c - see http.h. */
#include "daemon/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/reject.h"
#include "daemon/api.h"
#include "daemon/dash_assets.h"
#include "daemon/redis.h"

/* Connections: plenty for scrapers and probes, idle ones closed soon, so a
 * handful of idle or slow clients cannot lock the probes out. */
#define CONNECTION_LIMIT 256
#define IDLE_TIMEOUT_S 3

struct clm_http {
    struct MHD_Daemon *d;
    clm_http_sources src;
    char *token; /* NULL: /metrics open */
};

/* Constant-time comparison of a presented secret with the token. */
static bool same_secret(const char *token, const char *v)
{
    size_t n = strlen(token), m = strlen(v);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ (i < m ? v[i] : 0));
    return diff == 0;
}

/* True when no token is configured, or the request carries
 * "Authorization: Bearer <h->token>", or basic auth whose password is the
 * token (any user name: what a browser asks for). */
static bool authorized(const clm_http *h, struct MHD_Connection *conn)
{
    if (!h->token)
        return true;
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!v)
        return false;
    if (strncasecmp(v, "Bearer ", 7) == 0)
        return same_secret(h->token, v + 7);
    char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
    bool ok = pass && same_secret(h->token, pass);
    if (pass) {
        memset(pass, 0, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    return ok;
}

/* A growable text buffer for one response. */
typedef struct text {
    char *buf;
    size_t len, cap;
    bool oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    if (!t->buf && !t->oom) {
        t->buf = malloc(8192);
        t->cap = t->buf ? 8192 : 0;
        t->oom = !t->buf;
    }
    while (!t->oom) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->oom = true;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

static void metric(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void lag_line(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    if (lag >= 0)
        put(ctx, "clmd_consumer_lag{topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64 "\n", topic,
            partition, lag);
}

static long long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (long long)resident * sysconf(_SC_PAGESIZE);
}

static void render_metrics(const clm_http *h, text *t)
{
    clm_shard_stats tot = { 0 };
    size_t cached = 0;
    for (size_t i = 0; i < h->src.nworkers; i++) {
        clm_shard_stats s;
        clm_worker_totals(h->src.workers[i], &s);
        tot.consumed += s.consumed;
        tot.applied += s.applied;
        tot.duplicates += s.duplicates;
        tot.merges += s.merges;
        tot.erasures += s.erasures;
        for (int r = 0; r < CLM_REJ__COUNT; r++)
            tot.rejected[r] += s.rejected[r];
        cached += clm_worker_cached(h->src.workers[i]);
    }
    clm_writer_stats ws;
    clm_writer_get_stats(h->src.writer, &ws);

    metric(t, "clmd_events_consumed_total", "counter", "Messages consumed and flushed to Redis.");
    put(t, "clmd_events_consumed_total %" PRId64 "\n", tot.consumed);
    metric(t, "clmd_events_applied_total", "counter", "Events applied to customer state.");
    put(t, "clmd_events_applied_total %" PRId64 "\n", tot.applied);
    metric(t, "clmd_events_duplicate_total", "counter", "Events dropped as duplicates of an applied event_id.");
    put(t, "clmd_events_duplicate_total %" PRId64 "\n", tot.duplicates);
    metric(t, "clmd_events_rejected_total", "counter", "Messages rejected (sent to the dead-letter topic), by reason.");
    for (int r = 1; r < CLM_REJ__COUNT; r++)
        put(t, "clmd_events_rejected_total{reason=\"%s\"} %" PRId64 "\n",
            clm_reason_name((clm_reason)r), tot.rejected[r]);
    metric(t, "clmd_identity_merges_total", "counter",
           "Identity merge records applied: anonymous customers merged into known ones.");
    put(t, "clmd_identity_merges_total %" PRId64 "\n", tot.merges);
    metric(t, "clmd_erasures_total", "counter",
           "Erasure requests (forget) honoured: customers removed from the store.");
    put(t, "clmd_erasures_total %" PRId64 "\n", tot.erasures);
    metric(t, "clmd_dlq_delivered_total", "counter", "Dead letters delivered to Kafka.");
    put(t, "clmd_dlq_delivered_total %" PRIu64 "\n", ws.dlq_delivered);
    clm_alerting_stats al = { 0 };
    for (size_t i = 0; i < h->src.nworkers; i++) {
        clm_alerting_stats one;
        clm_worker_alert_totals(h->src.workers[i], &one);
        al.raised += one.raised;
        al.paged += one.paged;
        al.held += one.held;
        al.digests += one.digests;
        al.pending += one.pending;
    }
    metric(t, "clmd_alerts_emitted_total", "counter",
           "Alerts raised by customers: every one kept in the stream and published.");
    put(t, "clmd_alerts_emitted_total %" PRIu64 "\n", al.raised);
    metric(t, "clmd_alerts_held", "gauge",
           "Alerts waiting for their paging window to be decided (the watermark to pass it).");
    put(t, "clmd_alerts_held %" PRIu64 "\n", al.pending);
    metric(t, "clmd_alerts_paged_total", "counter", "Alerts decided to page.");
    put(t, "clmd_alerts_paged_total %" PRIu64 "\n", al.paged);
    metric(t, "clmd_alerts_in_digest_total", "counter",
           "Alerts over the paging rate limit, folded into a digest alert.");
    put(t, "clmd_alerts_in_digest_total %" PRIu64 "\n", al.held);
    metric(t, "clmd_alerts_digests_total", "counter", "Digest alerts made.");
    put(t, "clmd_alerts_digests_total %" PRIu64 "\n", al.digests);
    /* per sink: kafka (every alert) and alertmanager (what pages) */
    clm_alert_pub_stats as = { 0 };
    clm_am_sink_stats ams = { 0 };
    bool kafka = h->src.alerts != NULL, am = h->src.am_sink != NULL;
    if (kafka)
        clm_alert_pub_get_stats(h->src.alerts, &as);
    if (am)
        clm_am_sink_get_stats(h->src.am_sink, &ams);
    if (kafka || am) {
        metric(t, "clmd_alerts_delivered_total", "counter",
               "Alerts delivered, per sink: acknowledged by Kafka, accepted by Alertmanager.");
        if (kafka)
            put(t, "clmd_alerts_delivered_total{sink=\"kafka\"} %" PRIu64 "\n", as.delivered);
        if (am)
            put(t, "clmd_alerts_delivered_total{sink=\"alertmanager\"} %" PRIu64 "\n",
                ams.delivered);
        metric(t, "clmd_alerts_sink_errors_total", "counter",
               "Failed deliveries, per sink (each is retried).");
        if (kafka)
            put(t, "clmd_alerts_sink_errors_total{sink=\"kafka\"} %" PRIu64 "\n", as.errors);
        if (am)
            put(t, "clmd_alerts_sink_errors_total{sink=\"alertmanager\"} %" PRIu64 "\n",
                ams.errors);
        metric(t, "clmd_alerts_outbox_depth", "gauge",
               "Alerts durable in Redis and not yet delivered, per sink: <prefix>alerts:outbox "
               "(kafka), <prefix>alerts:page (alertmanager).");
        if (kafka && as.backlog >= 0)
            put(t, "clmd_alerts_outbox_depth{sink=\"kafka\"} %" PRId64 "\n", as.backlog);
        if (am && ams.depth >= 0)
            put(t, "clmd_alerts_outbox_depth{sink=\"alertmanager\"} %" PRId64 "\n", ams.depth);
        metric(t, "clmd_alerts_outbox_oldest_age_seconds", "gauge",
               "Age of the oldest alert not yet delivered, per sink (0: none).");
        if (kafka)
            put(t, "clmd_alerts_outbox_oldest_age_seconds{sink=\"kafka\"} %.3f\n",
                (double)as.oldest_ms / 1000.0);
        if (am)
            put(t, "clmd_alerts_outbox_oldest_age_seconds{sink=\"alertmanager\"} %.3f\n",
                (double)ams.oldest_age_ms / 1000.0);
    }
    if (kafka) {
        metric(t, "clmd_alerts_replayed_total", "counter",
               "Alerts found in the Kafka outbox at start and published again.");
        put(t, "clmd_alerts_replayed_total %" PRIu64 "\n", as.replayed);
    }
    if (am && ams.firing >= 0) {
        metric(t, "clmd_alerts_firing", "gauge",
               "churn_risk alerts firing in Alertmanager (<prefix>alerts:firing).");
        put(t, "clmd_alerts_firing %" PRId64 "\n", ams.firing);
    }
    metric(t, "clmd_flushes_total", "counter", "Redis transactions committed.");
    put(t, "clmd_flushes_total %" PRIu64 "\n", ws.flushes);
    metric(t, "clmd_flush_customers_total", "counter", "Customers written (checkpoint records).");
    put(t, "clmd_flush_customers_total %" PRIu64 "\n", ws.customers);
    metric(t, "clmd_flush_latency_seconds", "histogram",
           "Time from a flush batch's cut to its EXEC, per flush (oldest batch).");
    static const long long bounds[] = CLM_FLUSH_BUCKETS_MS;
    for (size_t i = 0; i < 7; i++)
        put(t, "clmd_flush_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", (double)bounds[i] / 1000.0,
            ws.latency_le[i]);
    put(t, "clmd_flush_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", ws.latency_le[7]);
    put(t, "clmd_flush_latency_seconds_sum %g\n", (double)ws.latency_sum_ms / 1000.0);
    put(t, "clmd_flush_latency_seconds_count %" PRIu64 "\n", ws.latency_le[7]);
    metric(t, "clmd_flush_waiting_seconds", "gauge", "Age of the oldest flush batch not yet committed.");
    put(t, "clmd_flush_waiting_seconds %g\n", (double)ws.waiting_ms / 1000.0);
    metric(t, "clmd_redis_errors_total", "counter", "Failed Redis flush attempts.");
    put(t, "clmd_redis_errors_total %" PRIu64 "\n", ws.redis_errors);
    metric(t, "clmd_redis_connects_total", "counter", "Redis connections made (reconnects included).");
    put(t, "clmd_redis_connects_total %llu\n", clm_redis_connects_total());
    metric(t, "clmd_consumer_lag", "gauge", "Messages behind the end of each assigned partition.");
    clm_consumer_lag_each(h->src.consumer, lag_line, t);
    metric(t, "clmd_partitions_assigned", "gauge", "Kafka partitions assigned to this instance.");
    put(t, "clmd_partitions_assigned %d\n", clm_consumer_assigned(h->src.consumer));
    metric(t, "clmd_cached_customers", "gauge", "Customers held in memory.");
    put(t, "clmd_cached_customers %zu\n", cached);
    metric(t, "clmd_resident_memory_bytes", "gauge", "Resident memory of the process.");
    put(t, "clmd_resident_memory_bytes %lld\n", rss_bytes());
    if (!h->src.api)
        return;
    char *g = NULL, why[512];
    if (clm_api_gauges(h->src.api, &g, why, sizeof(why)) < 0) {
        put(t, "# business gauges unavailable: %s\n", why); /* a comment: scrapes go on */
        return;
    }
    put(t, "%s", g ? g : "");
    free(g);
}

/* Health: consuming (partitions assigned) and flushing (the writer not
 * holding flushes for Redis, no batch waiting too long). Writes the reason
 * when unhealthy. */
static bool healthy(const clm_http *h, text *t)
{
    clm_writer_stats ws;
    clm_writer_get_stats(h->src.writer, &ws);
    long long bound = h->src.flush_interval_ms * 10LL;
    if (bound < 10000)
        bound = 10000;
    if (clm_consumer_assigned(h->src.consumer) <= 0) {
        put(t, "not consuming: no partition assigned\n");
        return false;
    }
    char why[300];
    if (clm_writer_held(h->src.writer, why, sizeof(why))) {
        put(t, "not flushing: %s\n", why);
        return false;
    }
    if (ws.waiting_ms > bound) {
        put(t, "not flushing: a flush has waited %lld ms (bound %lld ms)\n", (long long)ws.waiting_ms,
            bound);
        return false;
    }
    put(t, "ok\n");
    if (h->src.alerts) { /* consuming goes on: said, not a failure */
        clm_alert_pub_stats as;
        clm_alert_pub_get_stats(h->src.alerts, &as);
        if (as.stalled)
            put(t, "alerts stalled: %" PRId64 " alerts wait in the outbox for the alert topic\n",
                as.backlog);
    }
    return true;
}

static void sum_lag(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    (void)topic, (void)partition;
    int64_t *sum = ctx;
    if (lag >= 0)
        *sum = *sum < 0 ? lag : *sum + lag;
}

/* What only this process knows, for /api/v1/health. */
static void live_figures(const clm_http *h, clm_api_live *l)
{
    clm_writer_stats ws;
    text scratch = { 0 };
    *l = (clm_api_live){ .lag = -1 };
    clm_consumer_lag_each(h->src.consumer, sum_lag, &l->lag);
    l->partitions = clm_consumer_assigned(h->src.consumer);
    for (size_t i = 0; i < h->src.nworkers; i++) {
        clm_shard_stats s;
        clm_worker_totals(h->src.workers[i], &s);
        l->consumed += (uint64_t)s.consumed;
    }
    clm_writer_get_stats(h->src.writer, &ws);
    l->last_flush_ms = ws.last_flush_wall_ms;
    l->flushes = ws.flushes;
    l->healthy = healthy(h, &scratch);
    free(scratch.buf);
}

static const char *query_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* The dashboard's file for url ("/" and "/dashboard" are the page). */
static const clm_dash_asset *asset(const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard") == 0)
        url = "/dashboard.html";
    for (const clm_dash_asset *a = clm_dash_assets; a->path; a++)
        if (strcmp(a->path, url) == 0)
            return a;
    return NULL;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    const clm_http *h = cls;
    text t = { 0 };
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        put(&t, "only GET\n");
    } else if (strcmp(url, "/healthz") == 0) {
        if (!healthy(h, &t))
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
    } else if (!authorized(h, conn)) {
        status = MHD_HTTP_UNAUTHORIZED;
        put(&t, "unauthorized: send \"Authorization: Bearer <http.bearer_token>\" or basic auth "
                "with the token as the password\n");
    } else if (strcmp(url, "/metrics") == 0) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        render_metrics(h, &t);
    } else if (h->src.api && strncmp(url, "/api/v1/", 8) == 0) {
        clm_api_live live;
        char *body = NULL;
        live_figures(h, &live);
        if (clm_api_answer(h->src.api, url + 8, query_arg, conn, &live, &status, &body) < 0)
            return MHD_NO;
        free(t.buf);
        t = (text){ .buf = body, .len = strlen(body), .cap = strlen(body) + 1 };
        type = "application/json";
    } else if (h->src.api && asset(url)) {
        const clm_dash_asset *a = asset(url);
        struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data,
                                                                 MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", a->type);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    } else {
        status = MHD_HTTP_NOT_FOUND;
        put(&t, "not found: try /metrics, /healthz, /dashboard or /api/v1/health\n");
    }
    if (t.oom) {
        free(t.buf);
        return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(t.len, t.buf ? t.buf : (void *)"", MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(t.buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate",
                                strcmp(url, "/metrics") == 0 ? "Bearer" : "Basic realm=\"clmd\"");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

int clm_http_start(const char *listen, int port, const char *token, const clm_http_sources *src,
                   clm_http **out, char *errbuf, size_t errsize)
{
    struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    const struct sockaddr *sa;
    /* poll: no FD_SETSIZE bound; a thread per connection, so /healthz never
     * waits behind a dashboard or scrape request waiting for Redis */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (inet_pton(AF_INET, listen, &sa4.sin_addr) == 1) {
        sa = (const struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, listen, &sa6.sin6_addr) == 1) {
        sa = (const struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(errbuf, errsize, "http.listen: \"%s\" is not an IPv4 or IPv6 address", listen);
        return -EINVAL;
    }
    clm_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    h->src = *src;
    if (token && token[0] && !(h->token = strdup(token))) {
        snprintf(errbuf, errsize, "out of memory");
        free(h);
        return -ENOMEM;
    }
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errbuf, errsize, "http: cannot listen on %s port %d (in use, or not an address of this host)",
                 listen, port);
        clm_http_free(h);
        return -EADDRINUSE;
    }
    *out = h;
    return 0;
}

void clm_http_free(clm_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    if (h->token) {
        memset(h->token, 0, strlen(h->token));
        free(h->token);
    }
    free(h);
}
