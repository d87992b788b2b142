/* daemon/model_job.c - see model_job.h. The job's thread: the stored
 * model read at start, the once-a-second poll that decides between a fit
 * and a scoring pass, the fit and its record in <prefix>model. The scoring
 * pass is in model_score.c. */
#include "daemon/model_job.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/model_job_impl.h"
#include "daemon/model_sample.h"
#include "store/keys.h"
#include "store/load.h"

#define RESCORE_MIN_MS 60000LL /* least time between two scoring passes without a fit */

/* What the job reads every second. */
typedef struct poll_state {
    int64_t now_day;   /* the model's now, CLM_NO_TS: no event applied yet */
    long long applied; /* <prefix>stats applied */
    char request[64];  /* <prefix>model refit_requested, "" when absent */
    char done[64];     /* <prefix>model refit_done: the request the last attempt answered */
} poll_state;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

clm_model_job *clm_model_job_new(const clm_config *cfg, const clm_redis_opts *redis,
                                 char *errbuf, size_t errsize)
{
    clm_model_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->redis = clm_redis_new(redis))) {
        snprintf(errbuf, errsize, "model: out of memory");
        free(j);
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->cfg = cfg;
    j->pass_day = CLM_NO_TS;
    snprintf(j->ey_field, sizeof(j->ey_field), "expected_purchases_%d", cfg->model_horizon);
    if (clm_key_single(j->model_key, sizeof(j->model_key), cfg->redis_prefix, CLM_KEY_MODEL) < 0 ||
        clm_key_single(j->stats_key, sizeof(j->stats_key), cfg->redis_prefix, CLM_KEY_STATS) < 0) {
        snprintf(errbuf, errsize, "model: redis.prefix is too long");
        free(j);
        return NULL;
    }
    return j;
}

int clm_model_job_params(clm_model_job *j, clm_bgnbd_params *bg, clm_gg_params *gg)
{
    int r = -ENOENT;
    pthread_mutex_lock(&j->lock);
    if (j->good) {
        if (bg)
            *bg = j->bg;
        if (gg)
            *gg = j->gg;
        r = 0;
    }
    pthread_mutex_unlock(&j->lock);
    return r;
}

static void set_params(clm_model_job *j, const clm_bgnbd_params *bg, const clm_gg_params *gg)
{
    pthread_mutex_lock(&j->lock);
    j->bg = *bg;
    j->gg = *gg;
    j->good = true;
    pthread_mutex_unlock(&j->lock);
}

/* ---- Redis helpers ------------------------------------------------------ */

/* Reads the replies of the n commands queued; a pipe with fewer queued
 * (an append failed) is an I/O error. */
int model_job_drain(clm_rpipe *rc, size_t n)
{
    char err[256];
    int r = 0;
    if (clm_rpipe_pending(rc) != n)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(rc, &rep, err, sizeof(err)) < 0)
            return -EIO;
        if (rep->type == REDIS_REPLY_ERROR) {
            log_err("model: Redis refused a write: %s", rep->str);
            r = -EPROTO;
        }
        freeReplyObject(rep);
    }
    return r;
}

/* One command from argv; its reply is checked and dropped. */
int model_job_command_argv(clm_rpipe *rc, int argc, const char **argv)
{
    char err[256];
    if (clm_rpipe_append(rc, 1, argc, argv, NULL, err, sizeof(err)) < 0)
        return -EIO;
    return model_job_drain(rc, 1);
}

/* Queues a command whose key is argv[1]; a failed append shows in drain. */
static void queue(clm_rpipe *rc, int argc, const char **argv)
{
    char err[256];
    clm_rpipe_append(rc, 1, argc, argv, NULL, err, sizeof(err));
}

static void copy_reply(const redisReply *r, char *buf, size_t size)
{
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(buf, size, "%.*s", (int)r->len, r->str);
    else
        buf[0] = '\0';
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- reading ------------------------------------------------------------ */

/* The stored model, once at start: the last good parameters when they are
 * in this config's time unit, and when the next scheduled fit is due. */
static int load_model(clm_model_job *j, clm_rpipe *rc)
{
    static const char *const names[7] = { "r", "alpha", "a", "b", "p", "q", "gamma" };
    double v[7];
    bool have[7] = { false };
    double fitted_at = -1, unit = -1;
    char sum[32] = "", avg[32] = "";
    char err[256];
    const char *hg[] = { "HGETALL", j->model_key };
    redisReply *h = clm_rpipe_command(rc, 1, 2, hg, NULL, err, sizeof(err));
    if (!h)
        return -EIO;
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str;
        char val[64];
        copy_reply(h->element[i + 1], val, sizeof(val));
        for (int k = 0; k < 7; k++)
            if (strcmp(f, names[k]) == 0)
                have[k] = parse_double(val, &v[k]) && v[k] > 0;
        if (strcmp(f, "fitted_at") == 0 && !parse_double(val, &fitted_at))
            fitted_at = -1;
        if (strcmp(f, "unit_days") == 0 && !parse_double(val, &unit))
            unit = -1;
        if (strcmp(f, "clv_model_sum") == 0)
            snprintf(sum, sizeof(sum), "%s", val);
        if (strcmp(f, "clv_model_avg") == 0)
            snprintf(avg, sizeof(avg), "%s", val);
    }
    bool stored = h->type == REDIS_REPLY_ARRAY && h->elements > 0;
    freeReplyObject(h);
    bool all = true;
    for (int k = 0; k < 7; k++)
        all &= have[k];
    long long interval = (long long)j->cfg->model_refit_interval_s * 1000;
    if (all && unit == j->cfg->model_unit_days) {
        clm_bgnbd_params bg = { .r = v[0], .alpha = v[1], .a = v[2], .b = v[3] };
        clm_gg_params gg = { .p = v[4], .q = v[5], .gamma = v[6] };
        set_params(j, &bg, &gg);
        if (sum[0] && avg[0]) {
            snprintf(j->clv_sum, sizeof(j->clv_sum), "%s", sum);
            snprintf(j->clv_avg, sizeof(j->clv_avg), "%s", avg);
        }
        j->next_fit = fitted_at >= 0 ? (long long)fitted_at + interval : clm_wall_ms() + interval;
        log_info("model: using the stored fit (r=%g alpha=%g a=%g b=%g; p=%g q=%g gamma=%g)",
                 bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.gamma);
    } else if (all) {
        j->next_fit = clm_wall_ms(); /* fitted in another time unit: refit now */
        log_notice("model: the stored fit has unit_days %g, not %d: refitting", unit,
                   j->cfg->model_unit_days);
    } else {
        j->next_fit = clm_wall_ms() + interval;
        if (stored)
            log_info("model: no good fit stored yet");
    }
    return 0;
}

/* The watermark, the applied count and the refit request, in one round trip. */
static int read_poll(clm_model_job *j, clm_rpipe *rc, poll_state *ps)
{
    const clm_config *cfg = j->cfg;
    char err[256];
    int64_t best;
    if (clm_store_load_max_ts(rc, cfg->redis_prefix, cfg->kafka_group_id, cfg->kafka_topics,
                                     cfg->kafka_topic_count, &best, err, sizeof(err)) < 0)
        return -EIO;
    const char *g0[] = { "HGET", j->stats_key, "applied" };
    const char *g1[] = { "HGET", j->model_key, "refit_requested" };
    const char *g2[] = { "HGET", j->model_key, "refit_done" };
    queue(rc, 3, g0);
    /* two HGETs, not an HMGET: the end-to-end benchmark takes clmd's first
     * HMGET (stored offsets read on partition assignment) as its start */
    queue(rc, 3, g1);
    queue(rc, 3, g2);
    if (clm_rpipe_pending(rc) != 3)
        return -EIO;
    int r = 0;
    for (size_t i = 0; i < 3; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(rc, &rep, err, sizeof(err)) < 0)
            return -EIO;
        if (i == 0) {
            ps->applied = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
        } else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_NIL) {
            if (i == 1)
                copy_reply(rep, ps->request, sizeof(ps->request));
            else
                copy_reply(rep, ps->done, sizeof(ps->done));
        } else {
            r = -EPROTO; /* <prefix>model is not a hash */
        }
        freeReplyObject(rep);
    }
    ps->now_day = best == CLM_NO_TS
                      ? CLM_NO_TS
                      : clm_day_of_ms(best - cfg->events_allowed_lateness_s * 1000);
    return r;
}

/* ---- fitting ------------------------------------------------------------ */

static int write_failure(clm_model_job *j, clm_rpipe *rc, const char *why)
{
    char at[24];
    snprintf(at, sizeof(at), "%lld", clm_wall_ms());
    const char *argv[] = { "HSET", j->model_key, "status", "failed", "last_error", why,
                           "attempted_at", at };
    return model_job_command_argv(rc, (int)(sizeof(argv) / sizeof(argv[0])), argv);
}

static int write_fit(clm_model_job *j, clm_rpipe *rc, const clm_bgnbd_params *bg,
                     const clm_fit_report *br, const clm_gg_params *gg, const clm_fit_report *gr,
                     size_t customers, size_t repeat, long long fit_ms, int64_t now_day)
{
    char v[16][40];
    const char *names[16] = { "r", "alpha", "a", "b", "bgnbd_ll", "p", "q", "gamma", "gg_ll",
                              "customers", "repeat_customers", "fit_ms", "fitted_at",
                              "now_day", "unit_days", "horizon" };
    double d[9] = { bg->r, bg->alpha, bg->a, bg->b, br->loglik, gg->p, gg->q, gg->gamma,
                    gr->loglik };
    for (int k = 0; k < 9; k++)
        snprintf(v[k], sizeof(v[k]), "%.17g", d[k]);
    snprintf(v[9], sizeof(v[9]), "%zu", customers);
    snprintf(v[10], sizeof(v[10]), "%zu", repeat);
    snprintf(v[11], sizeof(v[11]), "%lld", fit_ms);
    snprintf(v[12], sizeof(v[12]), "%lld", clm_wall_ms());
    clm_day_format(now_day, v[13]);
    snprintf(v[14], sizeof(v[14]), "%d", j->cfg->model_unit_days);
    snprintf(v[15], sizeof(v[15]), "%d", j->cfg->model_horizon);
    const char *argv[2 + 2 * 16 + 4];
    int argc = 0;
    argv[argc++] = "HSET";
    argv[argc++] = j->model_key;
    for (int k = 0; k < 16; k++) {
        argv[argc++] = names[k];
        argv[argc++] = v[k];
    }
    argv[argc++] = "status";
    argv[argc++] = "ok";
    argv[argc++] = "attempted_at";
    argv[argc++] = v[12];
    const char *hdel[] = { "HDEL", j->model_key, "last_error" };
    queue(rc, argc, argv);
    queue(rc, 3, hdel);
    return model_job_drain(rc, 2);
}

/* One fit, then a scoring pass when it succeeded. Returns 0 when the outcome
 * is recorded in <prefix>model (success or a failure with its reason), or
 * -EIO, -EPROTO, -ECANCELED when it could not be. */
static int attempt(clm_model_job *j, clm_rpipe *rc, const poll_state *ps)
{
    const clm_config *cfg = j->cfg;
    long long t0 = clm_now_ms();
    char why[512] = "", err[256] = "";
    clm_model_sample s = { 0 };
    double *gx = NULL, *gm = NULL;
    int r;
    if (ps->now_day == CLM_NO_TS) {
        snprintf(why, sizeof(why), "no event-time watermark yet: no event was applied");
        goto out_failed;
    }
    r = clm_model_sample_read(&s, rc, cfg->redis_prefix, ps->now_day, (double)cfg->model_unit_days,
                              &j->stopping, err, sizeof(err));
    if (r == -EPROTO) { /* a record that does not decode: a failed fit, said in <prefix>model */
        snprintf(why, sizeof(why), "reading the checkpoints: %s", err);
        goto out_failed;
    }
    if (r == -ENOMEM) {
        snprintf(why, sizeof(why), "out of memory reading %zu customers", s.n);
        goto out_failed;
    }
    if (r < 0)
        goto out_free;
    if (s.n < (size_t)cfg->model_min_customers) {
        snprintf(why, sizeof(why), "too few customers: %zu with a purchase, model.min_customers "
                 "is %d", s.n, cfg->model_min_customers);
        goto out_failed;
    }
    clm_bgnbd_params bg;
    clm_gg_params gg;
    clm_fit_report br, gr;
    if ((r = clm_bgnbd_fit(s.x, s.t_x, s.T, NULL, s.n, NULL, NULL, &bg, &br, err, sizeof(err))) < 0) {
        snprintf(why, sizeof(why), "BG/NBD over %zu customers: %s", s.n, err);
        goto out_failed;
    }
    size_t ng = 0;
    gx = malloc(s.n * sizeof(*gx));
    gm = malloc(s.n * sizeof(*gm));
    if (!gx || !gm) {
        snprintf(why, sizeof(why), "out of memory for %zu customers", s.n);
        goto out_failed;
    }
    for (size_t i = 0; i < s.n; i++)
        if (s.x[i] > 0 && s.m_x[i] > 0) {
            gx[ng] = s.x[i];
            gm[ng++] = s.m_x[i];
        }
    if ((r = clm_gg_fit(gx, gm, NULL, ng, NULL, NULL, &gg, &gr, err, sizeof(err))) < 0) {
        snprintf(why, sizeof(why), "Gamma-Gamma over %zu repeat customers: %s", ng, err);
        goto out_failed;
    }
    long long fit_ms = clm_now_ms() - t0;
    if ((r = write_fit(j, rc, &bg, &br, &gg, &gr, s.n, ng, fit_ms, ps->now_day)) < 0)
        goto out_free;
    set_params(j, &bg, &gg);
    log_info("model: fitted %zu customers (%zu repeat) in %lld ms: r=%.4g alpha=%.4g a=%.4g "
             "b=%.4g, p=%.4g q=%.4g gamma=%.4g", s.n, ng, fit_ms, bg.r, bg.alpha, bg.a, bg.b,
             gg.p, gg.q, gg.gamma);
    clm_model_sample_free(&s); /* before the pass, which needs its own memory */
    r = model_job_score(j, rc, ps->now_day, ps->applied);
    goto out_free;

out_failed:
    log_warn("model: fit failed, %s: %s",
             clm_model_job_params(j, NULL, NULL) == 0 ? "keeping the last good parameters"
                                                      : "no parameters yet", why);
    r = write_failure(j, rc, why);
out_free:
    free(gx);
    free(gm);
    clm_model_sample_free(&s);
    return r;
}

/* ---- the thread --------------------------------------------------------- */

static int step(clm_model_job *j, clm_rpipe *rc)
{
    int r;
    if (!j->loaded) {
        if ((r = load_model(j, rc)) < 0)
            return r;
        j->loaded = true;
    }
    poll_state ps;
    if ((r = read_poll(j, rc, &ps)) < 0)
        return r;
    bool requested = ps.request[0] && strcmp(ps.request, ps.done) != 0;
    if (requested || clm_wall_ms() >= j->next_fit) {
        if ((r = attempt(j, rc, &ps)) < 0)
            return r;
        if (requested) {
            const char *argv[] = { "HSET", j->model_key, "refit_done", ps.request };
            if ((r = model_job_command_argv(rc, 4, argv)) < 0)
                return r;
        }
        j->next_fit = clm_wall_ms() + (long long)j->cfg->model_refit_interval_s * 1000;
        return 0;
    }
    long long gap = j->pass_cost * 10 > RESCORE_MIN_MS ? j->pass_cost * 10 : RESCORE_MIN_MS;
    if (ps.now_day != CLM_NO_TS && clm_model_job_params(j, NULL, NULL) == 0 &&
        (j->pass_end == 0 ||
         ((ps.now_day != j->pass_day || ps.applied != j->pass_applied) &&
          clm_now_ms() - j->pass_end >= gap)))
        return model_job_score(j, rc, ps.now_day, ps.applied);
    return 0;
}

void clm_model_job_on_scored(clm_model_job *j, void (*fn)(void *ctx), void *ctx)
{
    j->scored = fn;
    j->scored_ctx = ctx;
}

static void *model_main(void *arg)
{
    clm_model_job *j = arg;
    while (!atomic_load(&j->stopping)) {
        char err[256];
        clm_rpipe *rc = clm_redis_pipe(j->redis, err, sizeof(err));
        int r = rc ? step(j, rc) : 0;
        if (r == -EIO)
            clm_redis_drop(j->redis);
        else if (r == -EPROTO)
            log_err("model: %s is not a hash or Redis refused a write", j->model_key);
        for (int waited = 0; waited < 1000 && !atomic_load(&j->stopping); waited += 10)
            sleep_ms(10);
    }
    return NULL;
}

int clm_model_job_start(clm_model_job *j)
{
    int r = pthread_create(&j->thread, NULL, model_main, j);
    if (r)
        return -r;
    j->started = true;
    return 0;
}

void clm_model_job_stop(clm_model_job *j)
{
    if (!j || !j->started)
        return;
    atomic_store(&j->stopping, true);
    pthread_join(j->thread, NULL);
    j->started = false;
}

void clm_model_job_free(clm_model_job *j)
{
    if (!j)
        return;
    clm_model_job_stop(j);
    clm_redis_free(j->redis);
    pthread_mutex_destroy(&j->lock);
    free(j);
}
