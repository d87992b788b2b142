/* daemon/main.c - clmd: command line, wiring, signals.
 *
 *   Kafka --> consumer (poll thread) --> workers (decode, apply) --> writer --> Redis
 *                                             \--> dead-letter topic
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config/config.h"
#include "core/timeutil.h"
#include "daemon/consumer.h"
#include "core/kpi.h"
#include "daemon/dlq.h"
#include "daemon/http.h"
#include "daemon/identity_topic.h"
#include "daemon/kafka_conf.h"
#include "daemon/preflight.h"
#include "daemon/prepare_store.h"
#include "config/reload.h"
#include "daemon/alert_pub.h"
#include "daemon/am_sink.h"
#include "daemon/kpi_job.h"
#include "daemon/model_job.h"
#include "daemon/segment_job.h"
#include "daemon/log.h"
#include "daemon/worker.h"
#include "daemon/writer.h"
#include "store/keys.h"
#include "store/upgrade.h"

/* Longest wait for Kafka's metadata when checking identity.topic at start. */
#define IDENTITY_CHECK_MS 30000

static atomic_bool stop_requested;
static atomic_bool reload_requested;
static volatile sig_atomic_t stop_timeout_s; /* core.shutdown_timeout_s; 0: no bound yet */

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        atomic_store(&reload_requested, true);
        return;
    }
    if (!atomic_exchange(&stop_requested, true) && stop_timeout_s > 0)
        alarm((unsigned)stop_timeout_s); /* on_alarm: a bounded stop */
}

/* The shutdown took longer than core.shutdown_timeout_s (Redis or Kafka
 * unreachable): exit without the final flush. Nothing is lost: offsets
 * only move with the state they cover, so the unflushed events are read
 * again after the restart. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "<3>shutdown timed out (core.shutdown_timeout_s): exiting without "
                              "the final flush; unflushed events are consumed again on restart\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)r;
    _exit(EXIT_FAILURE);
}

/* ---- SIGHUP: reloading what can change live (config/reload.h) ---------- */

typedef struct reloader {
    const clm_config *cur;      /* the running configuration */
    clm_apply_opts base;        /* the rules the workers started with */
    clm_worker **workers;
    size_t nworkers;
    clm_segment_job *segments;
    /* configurations loaded by reloads: their options are in use, so they
     * live until the daemon exits */
    clm_config **kept;
    clm_apply_opts **applies;
    size_t nkept;
} reloader;

static void report_change(void *ctx, const char *path, bool live)
{
    (void)ctx;
    if (live)
        log_notice("reload: %s changed: applied", path);
    else
        log_warn("reload: %s changed: it cannot change while running; keeping the running value "
                 "until the next restart", path);
}

static void reload(reloader *r)
{
    char err[512];
    clm_config *next = NULL;
    int e = clm_config_load(r->cur->path, &next, err, sizeof(err));
    if (e == 0 && (e = clm_preflight(next, err, sizeof(err))) < 0)
        clm_config_free(next); /* what a start would refuse */
    if (e < 0) {
        log_err("reload: %s; keeping the running configuration", err);
        return;
    }
    clm_config **kept = realloc(r->kept, (r->nkept + 1) * sizeof(*kept));
    if (kept)
        r->kept = kept;
    clm_apply_opts **applies = realloc(r->applies, (r->nkept + 1) * sizeof(*applies));
    if (applies)
        r->applies = applies;
    clm_apply_opts *apply = malloc(sizeof(*apply));
    if (!kept || !applies || !apply) {
        free(apply);
        clm_config_free(next);
        log_err("reload: out of memory; keeping the running configuration");
        return;
    }
    int restart = clm_config_diff(r->cur, next, report_change, NULL);
    *apply = r->base;
    apply->risk = &next->risk;
    apply->alerts = &next->alerts;
    if (clm_config_same_stages(r->cur, next))
        apply->stages = next->stages;
    r->kept[r->nkept] = next;
    r->applies[r->nkept++] = apply;
    atomic_store(&clm_log_level, next->log_level);
    for (size_t i = 0; i < r->nworkers; i++)
        clm_worker_reload(r->workers[i], apply);
    clm_segment_job_reload(r->segments, next);
    log_notice("reload: %s read; live settings applied%s", r->cur->path,
               restart ? ", some changes need a restart (see above)" : "");
}

static void reloader_free(reloader *r)
{
    for (size_t i = 0; i < r->nkept; i++) {
        clm_config_free(r->kept[i]);
        free(r->applies[i]);
    }
    free(r->kept);
    free(r->applies);
}

static void on_flushed(void *kpi)
{
    clm_kpi_job_poke(kpi);
}

/* The main loop's heartbeat (every ~500 ms): READY=1 to systemd once Kafka
 * and Redis are connected and partitions are assigned (assignment reads the
 * stored offsets from Redis), WATCHDOG=1, and a STATUS= line with the event
 * rate and the consumer lag. sd_notify does nothing outside systemd. */
typedef struct heartbeat {
    clm_consumer *consumer;
    reloader *reload;
    bool ready;
    unsigned long long last_consumed;
    long long last_ms;
    clm_am_sink *am_sink;      /* NULL: none */
    clm_am_sink_stats am_seen; /* as of the last tick */
    bool am_failing;           /* an outage of Alertmanager was logged */
} heartbeat;

/* The Alertmanager sink's outages and skipped documents, logged once each
 * (the sink itself only counts). */
static void watch_am_sink(heartbeat *h)
{
    clm_am_sink_stats st;
    clm_am_sink_get_stats(h->am_sink, &st);
    if (st.skipped > h->am_seen.skipped)
        log_warn("Alertmanager sink: %llu paging documents skipped (%s)",
                 (unsigned long long)(st.skipped - h->am_seen.skipped), st.last_error);
    if (st.errors > h->am_seen.errors && !h->am_failing) {
        h->am_failing = true;
        log_warn("Alertmanager sink: %s; posting again with a backoff of up to 30 s (%lld paging "
                 "alerts wait in Redis)", st.last_error, (long long)st.depth);
    } else if (h->am_failing && st.errors == h->am_seen.errors &&
               st.delivered + st.resent > h->am_seen.delivered + h->am_seen.resent) {
        h->am_failing = false;
        log_notice("Alertmanager sink: delivering again");
    }
    h->am_seen = st;
}

static void on_tick(void *ctx)
{
    heartbeat *h = ctx;
    long long now = clm_now_ms();
    if (atomic_exchange(&reload_requested, false)) {
        sd_notify(0, "RELOADING=1");
        reload(h->reload);
        sd_notify(0, "READY=1");
    }
    unsigned long long consumed = clm_consumer_consumed(h->consumer);
    if (!h->ready && clm_consumer_assigned(h->consumer) > 0) {
        h->ready = true;
        sd_notify(0, "READY=1");
        log_info("ready: partitions assigned, Kafka and Redis connected");
    }
    double rate = h->last_ms && now > h->last_ms
                      ? (double)(consumed - h->last_consumed) * 1000.0 / (double)(now - h->last_ms)
                      : 0.0;
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=%s %.0f events/s, lag %lld, %llu consumed",
               h->ready ? "consuming," : "joining the consumer group,", rate,
               (long long)clm_consumer_lag(h->consumer), consumed);
    h->last_consumed = consumed;
    h->last_ms = now;
    if (h->am_sink)
        watch_am_sink(h);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: clmd -c FILE          run with the config FILE\n"
            "       clmd -c FILE --take-over  run, taking redis.prefix over from the consumer\n"
            "                             group that owns it (continuing from its offsets)\n"
            "       clmd --check-config FILE  validate FILE and exit (0: valid)\n"
            "       clmd --help-config    list every config key with its default\n"
            "       clmd --help-config-markdown   the same as a Markdown table\n"
            "       clmd --help | --version\n"
            "\n"
            "clmd consumes customer events from Kafka and keeps customer state, KPIs\n"
            "and churn alerts in Redis. Logs go to stderr with syslog priority prefixes.\n");
}

static int run(const clm_config *cfg, bool take_over)
{
    char err[512];
    int rc = EXIT_FAILURE;
    size_t nworkers = clm_preflight_workers(cfg);
    clm_worker **workers = calloc(nworkers, sizeof(*workers));
    /* the events topics, then identity.topic when set (the worker's and the
     * writer's topic indices) */
    bool identity = cfg->identity_topic[0] != '\0';
    size_t ntopics = cfg->kafka_topic_count + (identity ? 1 : 0);
    char **topics = calloc(ntopics, sizeof(*topics));
    char **dlq_topics = calloc(ntopics, sizeof(*dlq_topics));
    rd_kafka_t *id_producer = NULL; /* produces to identity.topic; NULL without it */
    clm_dlq *dlq = NULL;
    clm_consumer *consumer = NULL;
    clm_writer *writer = NULL;
    clm_kpi_job *kpi = NULL;
    clm_model_job *model = NULL; /* NULL when model.enabled is false */
    clm_segment_job *segments = NULL;
    clm_http *http = NULL;
    clm_api *api = NULL;
    clm_alert_pub *alerts = NULL;
    clm_am_sink *am_sink = NULL; /* NULL when alerts.alertmanager.url is empty */
    reloader rl = { 0 };
    size_t started = 0;
    if (!workers || !topics || !dlq_topics) {
        log_err("out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < ntopics; i++) {
        const char *d = cfg->kafka_dlq_topic;
        topics[i] = i < cfg->kafka_topic_count ? cfg->kafka_topics[i] : cfg->identity_topic;
        if (d && d[0])
            dlq_topics[i] = strdup(d);
        else if (asprintf(&dlq_topics[i], "%s.dlq", topics[i]) < 0)
            dlq_topics[i] = NULL;
        if (!dlq_topics[i]) {
            log_err("out of memory");
            goto out_free;
        }
    }

    rd_kafka_conf_t *pconf = clm_kafka_conf_new(cfg, CLM_KAFKA_DLQ, err, sizeof(err));
    if (!pconf || !(dlq = clm_dlq_new(pconf, (int)nworkers, err, sizeof(err)))) {
        log_err("dead-letter producer: %s", err);
        goto out_free;
    }
    pconf = NULL; /* clm_dlq_new took ownership */

    clm_redis_opts ropts = { .cluster = cfg->redis_cluster, .host = cfg->redis_host,
                             .port = cfg->redis_port, .db = cfg->redis_db,
                             .timeout_ms = cfg->redis_timeout_ms, .password = cfg->redis_password,
                             .user = cfg->redis_user, .tls = cfg->redis_tls,
                             .tls_opts = { .ca_file = cfg->redis_tls_ca_file,
                                           .cert_file = cfg->redis_tls_cert_file,
                                           .key_file = cfg->redis_tls_key_file,
                                           .server_name = cfg->redis_tls_server_name } };
    clm_redis *probe = clm_redis_new(&ropts); /* a wrong password is said once, at start */
    if (probe && !clm_redis_pipe(probe, err, sizeof(err)))
        log_err("Redis: %s (retrying in the background)", err);
    clm_redis_free(probe);
    int64_t bucket_ms = (int64_t)cfg->kpi_bucket_s * 1000; /* checked by clm_config_load */
    clm_alert_pub_conf apc = { .topic = cfg->alerts_topic, .prefix = cfg->redis_prefix,
                               .redis = ropts };
    pconf = clm_kafka_conf_new(cfg, CLM_KAFKA_ALERTS, err, sizeof(err));
    if (!pconf || !(alerts = clm_alert_pub_new(pconf, &apc, err, sizeof(err)))) {
        log_err("alert producer: %s", err);
        goto out_free;
    }
    pconf = NULL; /* clm_alert_pub_new took ownership */
    if (identity && !(id_producer = clm_identity_producer_new(cfg, err, sizeof(err)))) {
        log_err("identity producer: %s", err);
        goto out_free;
    }
    size_t per_worker = (size_t)cfg->core_max_customers / nworkers; /* clm_preflight checked it */
    if (cfg->model_enabled && !(model = clm_model_job_new(cfg, &ropts, err, sizeof(err)))) {
        log_err("%s", err);
        goto out_free;
    }
    if (!(segments = clm_segment_job_new(cfg, &ropts, alerts, err, sizeof(err)))) {
        log_err("%s", err);
        goto out_free;
    }
    const clm_apply_opts workers_apply = {
        .dedup_horizon_ms = cfg->events_dedup_horizon_s * 1000,
        .dedup_max_ids = (unsigned)cfg->events_dedup_max_ids,
        .stages = cfg->stages,
        .bucket_ms = bucket_ms,
        .churn_inactive_ms = (int64_t)cfg->lifecycle_churn_inactive_days * CLM_MS_PER_DAY,
        .inactive_types = cfg->lifecycle_inactive_types,
        .clv_min_tenure_ms = (int64_t)cfg->kpi_clv_min_tenure_days * CLM_MS_PER_DAY,
        .risk = &cfg->risk,
        .alerts = &cfg->alerts,
        .traits = cfg->traits,
        .breakdowns = cfg->breakdowns,
    };
    clm_upgrade_report up;
    if (clm_prepare_store(cfg, &ropts, &workers_apply, take_over, &stop_requested, &up) < 0)
        goto out_free;
    for (size_t i = 0; i < nworkers; i++) {
        clm_worker_conf wc = {
            .index = (int)i,
            .prefix = cfg->redis_prefix,
            .group = cfg->kafka_group_id,
            .topics = topics,
            .dlq_topics = dlq_topics,
            .ntopics = ntopics,
            .decode = { .max_bytes = (size_t)cfg->events_max_bytes,
                        .max_future_ms = cfg->events_max_future_s * 1000,
                        .unknown_type = (clm_unknown_policy)cfg->events_unknown_type,
                        .traits = cfg->traits,
                        .event_types = cfg->event_types },
            .flush_interval_ms = cfg->flush_interval_ms,
            .flush_max_dirty = (size_t)cfg->flush_max_dirty,
            .flush_idle_ms = cfg->flush_idle_ms,
            .shard = {
                .max_customers = per_worker,
                .allowed_lateness_ms = cfg->events_allowed_lateness_s * 1000,
                .wm_rule = { .max_jump_ms = cfg->events_max_jump_s * 1000,
                             .quorum = (unsigned)cfg->events_jump_quorum },
                .apply = workers_apply,
            },
            .ring_size = (unsigned)cfg->core_ring_size,
            .redis = ropts,
            .dlq = dlq,
            .alert_names = { .topics = topics, .ntopics = ntopics,
                             .stages = cfg->stages },
            .alerts_maxlen = cfg->alerts_stream_maxlen,
            .page_stream = cfg->alerts_am_url[0] != '\0',
            .model = model,
            .p_alive_threshold = cfg->model_p_alive_threshold,
            .model_unit_days = cfg->model_unit_days,
            .upgrade_pool = up.pool,
            .erasure_hmac_key = cfg->erasure_hmac_key,
            .identity_topic = identity ? (int)cfg->kafka_topic_count : -1,
            .identity_alias_ttl_ms = (int64_t)cfg->identity_alias_ttl_days * CLM_MS_PER_DAY,
            .identity_producer = id_producer,
        };
        if (!(workers[i] = clm_worker_new(&wc, err, sizeof(err)))) {
            log_err("%s", err);
            goto out_free;
        }
    }
    rd_kafka_conf_t *cconf = clm_kafka_conf_new(cfg, CLM_KAFKA_CONSUMER, err, sizeof(err));
    consumer = cconf ? clm_consumer_new(cfg, topics, ntopics, cconf, workers, nworkers, &ropts, err,
                                        sizeof(err))
                     : NULL; /* clm_consumer_new took ownership of cconf */
    if (!consumer) {
        log_err("%s", err);
        goto out_free;
    }
    if (cfg->identity_topic[0] &&
        clm_identity_topic_check(clm_consumer_handle(consumer), cfg, IDENTITY_CHECK_MS, err,
                                 sizeof(err)) < 0) {
        log_err("%s", err);
        goto out_free;
    }
    if (!(kpi = clm_kpi_job_new(cfg, &ropts, err, sizeof(err)))) {
        log_err("%s", err);
        goto out_free;
    }
    if (model)
        clm_model_job_on_scored(model, on_flushed, kpi);
    clm_writer_conf wrc = { .prefix = cfg->redis_prefix, .group = cfg->kafka_group_id,
                            .topics = topics, .ntopics = ntopics,
                            .redis = ropts, .dlq = dlq, .consumer = clm_consumer_handle(consumer),
                            .workers = workers, .nworkers = nworkers, .alerts = alerts,
                            .flushed = on_flushed, .flushed_ctx = kpi };
    if (!(writer = clm_writer_new(&wrc, err, sizeof(err)))) {
        log_err("%s", err);
        goto out_free;
    }
    if (clm_alert_pub_start(alerts) < 0) {
        log_err("cannot start the alert publisher thread");
        goto out_free;
    }
    for (; started < nworkers; started++)
        if (clm_worker_start(workers[started]) < 0) {
            log_err("cannot start worker threads");
            goto out_stop;
        }
    if (clm_writer_start(writer) < 0 || clm_kpi_job_start(kpi) < 0) {
        log_err("cannot start the writer or KPI threads");
        goto out_stop;
    }
    if (model && clm_model_job_start(model) < 0) {
        log_err("cannot start the model thread");
        goto out_stop;
    }
    if (clm_segment_job_start(segments) < 0) {
        log_err("cannot start the segment thread");
        goto out_stop;
    }
    if (cfg->alerts_am_url[0]) {
        clm_am_sink_conf amc = { .url = cfg->alerts_am_url, .link = cfg->alerts_am_link,
                                 .prefix = cfg->redis_prefix, .redis = ropts,
                                 .resend_s = cfg->alerts_am_resend_s,
                                 .timeout_ms = cfg->alerts_am_timeout_ms,
                                 .batch = cfg->alerts_am_batch };
        if (!(am_sink = clm_am_sink_new(&amc, err, sizeof(err)))) {
            log_err("Alertmanager sink: %s", err);
            goto out_stop;
        }
        if (clm_am_sink_start(am_sink) < 0) {
            log_err("cannot start the Alertmanager sink thread");
            goto out_stop;
        }
        log_info("delivering paging alerts to Alertmanager at %s", cfg->alerts_am_url);
    }
    if (cfg->redis_cluster[0])
        log_notice("clmd %s consuming %s as group %s with %zu workers; state in Redis Cluster "
                   "%s%s%s%s prefix %s", CLMD_VERSION, cfg->kafka_topics[0], cfg->kafka_group_id,
                   nworkers, cfg->redis_cluster, cfg->redis_tls ? " over TLS" : "",
                   cfg->redis_user[0] ? " as user " : "", cfg->redis_user, cfg->redis_prefix);
    else
        log_notice("clmd %s consuming %s as group %s with %zu workers; state in Redis %s:%d%s%s%s "
                   "prefix %s", CLMD_VERSION, cfg->kafka_topics[0], cfg->kafka_group_id, nworkers,
                   cfg->redis_host, cfg->redis_port, cfg->redis_tls ? " over TLS" : "",
                   cfg->redis_user[0] ? " as user " : "", cfg->redis_user, cfg->redis_prefix);
    if (cfg->http_port > 0) {
        clm_http_sources hs = { .consumer = consumer, .workers = workers, .nworkers = nworkers,
                                .writer = writer, .flush_interval_ms = cfg->flush_interval_ms,
                                .alerts = alerts, .am_sink = am_sink };
        if (!(api = clm_api_new(cfg, &ropts, err, sizeof(err)))) {
            log_err("%s", err);
            goto out_stop;
        }
        hs.api = api;
        if (clm_http_start(cfg->http_listen, cfg->http_port, cfg->http_bearer_token, &hs, &http,
                           err, sizeof(err)) < 0) {
            log_err("%s", err);
            goto out_stop;
        }
        log_info("serving /metrics, /healthz, the dashboard and /api/v1 on %s port %d",
                 cfg->http_listen, cfg->http_port);
        log_notice("dashboard: http://%s%s%s:%d/dashboard", strchr(cfg->http_listen, ':') ? "[" : "",
                   cfg->http_listen, strchr(cfg->http_listen, ':') ? "]" : "", cfg->http_port);
        if (!cfg->http_bearer_token && strncmp(cfg->http_listen, "127.", 4) != 0 &&
            strcmp(cfg->http_listen, "::1") != 0)
            log_warn("http: /metrics, the dashboard and /api/v1 on %s are open to anyone who can "
                     "reach them; set http.bearer_token in the secrets file", cfg->http_listen);
    }
    stop_timeout_s = cfg->core_shutdown_timeout_s;
    if (atomic_load(&stop_requested))
        alarm((unsigned)stop_timeout_s); /* asked to stop during start-up */
    rl = (reloader){ .cur = cfg, .base = workers_apply, .workers = workers, .nworkers = nworkers,
                    .segments = segments };
    heartbeat hb = { .consumer = consumer, .reload = &rl, .am_sink = am_sink };
    clm_consumer_set_tick(consumer, on_tick, &hb);
    clm_consumer_run(consumer, &stop_requested);
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: flushing and committing");
    rc = EXIT_SUCCESS;

out_stop:
    if (rc != EXIT_SUCCESS)
        atomic_store(&stop_requested, true);
    for (size_t i = 0; i < started; i++) {
        clm_ctl *stop = calloc(1, sizeof(*stop));
        if (!stop)
            clm_fatal("out of memory while stopping");
        stop->kind = CLM_CTL_STOP;
        while (!clm_worker_push_ctl(workers[i], stop))
            usleep(1000);
        while (!atomic_load(&stop->done))
            usleep(1000);
        free(stop);
    }
    clm_writer_stop(writer);
    clm_segment_job_stop(segments); /* before the publisher it hands alerts to */
    clm_alert_pub_stop(alerts, 5000); /* what is not delivered stays in the outbox */
    clm_am_sink_stop(am_sink, 5000); /* what is not delivered stays in <prefix>alerts:page */
    if (am_sink) {
        clm_am_sink_stats ams;
        clm_am_sink_get_stats(am_sink, &ams);
        log_info("Alertmanager sink: %llu alerts delivered, %llu resent, %llu failed deliveries "
                 "since start", (unsigned long long)ams.delivered,
                 (unsigned long long)ams.resent, (unsigned long long)ams.errors);
    }
    clm_kpi_job_stop(kpi); /* a last recomputation after the last flush */
    clm_model_job_stop(model);
    if (rc == EXIT_SUCCESS)
        log_notice("clmd stopped: every applied event is flushed to Redis");
out_free:
    clm_http_free(http); /* before what it reads from */
    clm_api_free(api);
    clm_writer_free(writer);
    clm_segment_job_free(segments); /* before the publisher it hands alerts to */
    clm_alert_pub_free(alerts);
    clm_am_sink_free(am_sink);
    clm_kpi_job_free(kpi);
    clm_model_job_free(model);
    if (id_producer) {
        /* no delivery report may reach a worker's freed message: what is
         * not delivered now stays in the outbox for the next start */
        rd_kafka_flush(id_producer, 5000);
        rd_kafka_purge(id_producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(id_producer, 1000);
    }
    for (size_t i = 0; workers && i < nworkers; i++)
        clm_worker_free(workers[i]);
    reloader_free(&rl); /* after the workers: they used its rules */
    clm_consumer_free(consumer);
    clm_dlq_free(dlq, 10000);
    if (id_producer)
        rd_kafka_destroy(id_producer);
    for (size_t i = 0; dlq_topics && i < ntopics; i++)
        free(dlq_topics[i]);
    free(dlq_topics);
    free(topics);
    free(workers);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 'k' },
        { "help-config", no_argument, NULL, 'H' },
        { "help-config-markdown", no_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "take-over", no_argument, NULL, 'T' },
        { 0, 0, 0, 0 },
    };
    const char *path = NULL;
    bool check_only = false, take_over = false;
    int o;
    /* First thing: a SIGTERM during start-up must stop cleanly, not kill. */
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    struct sigaction al = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &al, NULL);
    signal(SIGPIPE, SIG_IGN);
    while ((o = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            path = optarg;
            check_only = true;
            break;
        case 'T':
            take_over = true;
            break;
        case 'H':
        case 'M':
            clm_config_describe(stdout, o == 'M');
            return EXIT_SUCCESS;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        case 'V':
            printf("clmd %s\n", CLMD_VERSION);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    clm_config *cfg = NULL;
    if (clm_config_load(path, &cfg, err, sizeof(err)) < 0) {
        if (check_only)
            fprintf(stderr, "%s\n", err);
        else
            log_err("%s", err);
        return EXIT_FAILURE;
    }
    /* the same checks for a check and a start: what one accepts, so does the other */
    if (clm_preflight(cfg, err, sizeof(err)) < 0) {
        if (check_only)
            fprintf(stderr, "%s\n", err);
        else
            log_err("%s", err);
        clm_config_free(cfg);
        return EXIT_FAILURE;
    }
    if (check_only) {
        printf("%s: valid\n", path);
        clm_config_free(cfg);
        return EXIT_SUCCESS;
    }
    atomic_store(&clm_log_level, cfg->log_level);
    if (cfg->secrets_exposed)
        log_warn("%s is readable by every user of this host: chmod 600 it", cfg->secrets_exposed);

    int rc = run(cfg, take_over);
    clm_config_free(cfg);
    return rc;
}
