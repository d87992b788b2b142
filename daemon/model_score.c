/* daemon/model_score.c - the model job's scoring pass (model_job.h): with
 * the last good parameters, every customer's p_alive,
 * expected_purchases_<horizon>, expected_spend and clv_model into its view
 * (pipelined HSETs, drained between scan pages), then the portfolio's
 * clv_model_sum and clv_model_avg into <prefix>model. Job thread only. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/dedup.h"
#include "core/rfm.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/model_job_impl.h"
#include "daemon/model_sample.h"
#include "store/forget.h"
#include "store/keys.h"
#include "store/scan.h"

#define DAYS_PER_YEAR 365.2425

/* The four predictions in micro-units, or false when one is not finite. */
static bool predict(const clm_model_job *j, const clm_bgnbd_params *bg, const clm_gg_params *gg,
                    double x, double t_x, double T, double m_x, int64_t out[4])
{
    const clm_config *cfg = j->cfg;
    clm_clv_opts o = { .margin = cfg->kpi_gross_margin,
                       .annual_discount = cfg->model_discount_rate,
                       .periods_per_year = DAYS_PER_YEAR / cfg->model_unit_days,
                       .horizon = (unsigned)cfg->model_horizon };
    double v[4];
    v[0] = clm_bgnbd_p_alive(bg, x, t_x, T);
    v[1] = clm_bgnbd_expected_purchases(bg, (double)cfg->model_horizon, x, t_x, T);
    if (x > 0 && !(m_x > 0)) {
        /* repeat purchases that were all free are outside the spend model:
         * the population mean spend, with this customer's purchase process */
        double own = clm_gg_expected_spend(gg, x, 1.0);
        v[2] = clm_gg_expected_spend(gg, 0, 0);
        v[3] = clm_clv_discounted(bg, gg, x, t_x, T, 1.0, &o) / own * v[2];
    } else {
        v[2] = clm_gg_expected_spend(gg, x, m_x);
        v[3] = clm_clv_discounted(bg, gg, x, t_x, T, m_x, &o);
    }
    for (int k = 0; k < 4; k++) {
        if (!isfinite(v[k]) || fabs(v[k]) > 9e12)
            return false;
        out[k] = (int64_t)llround(v[k] * 1e6);
    }
    return true;
}

typedef struct score_ctx {
    clm_bgnbd_params bg;
    clm_gg_params gg;
    int64_t now_day;
    uint64_t *key_hash; /* every customer scored: its key's hash */
    int64_t *clv;       /* and its clv_model in micro-units */
    size_t n, cap;
    size_t written, unpredictable;
} score_ctx;

/* Pipelined HSETs not yet read back: drained every PIPELINE commands. */
#define PIPELINE 512

typedef struct score_arg {
    clm_model_job *j;
    score_ctx *x;
    clm_rpipe *rc;
    size_t pending;
} score_arg;

/* Writes the customer's predictions into its view. Written whatever they
 * were before: clmd never reads a view back. */
static int score_one(void *varg, const char *where, const clm_customer *c)
{
    (void)where;
    score_arg *a = varg;
    score_ctx *x = a->x;
    clm_model_job *j = a->j;
    if (c->rfm.first_day < 0)
        return 0;
    double cx, ct, cT, cm;
    clm_rfm_stats(&c->rfm, x->now_day, (double)j->cfg->model_unit_days, &cx, &ct, &cT, &cm);
    int64_t v[4];
    if (!predict(j, &x->bg, &x->gg, cx, ct, cT, cm, v)) {
        x->unpredictable++;
        return 0;
    }
    char text[4][32], key[CLM_KEY_MAX];
    for (int k = 0; k < 4; k++)
        clm_micros_format(v[k], text[k], sizeof(text[k]));
    if (clm_key_customer(key, sizeof(key), j->cfg->redis_prefix, c->id, c->id_len) < 0)
        return -ENAMETOOLONG;
    /* only into a view that exists: an erasure may have committed since the
     * checkpoint was read (store/forget.h) */
    size_t slen;
    const char *argv[12] = { "EVAL", clm_forget_view_hset_script(&slen), "1", key, "p_alive",
                             text[0], j->ey_field, text[1], "expected_spend", text[2],
                             "clv_model", text[3] };
    char err[256];
    if (clm_rpipe_append(a->rc, 3, 12, argv, NULL, err, sizeof(err)) < 0)
        return -EIO;
    x->written++;
    if (++a->pending == PIPELINE) {
        int d = model_job_drain(a->rc, a->pending);
        a->pending = 0;
        if (d < 0)
            return d;
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4096;
        uint64_t *nh = realloc(x->key_hash, cap * sizeof(*nh));
        if (nh)
            x->key_hash = nh;
        int64_t *nc = realloc(x->clv, cap * sizeof(*nc));
        if (nc)
            x->clv = nc;
        if (!nh || !nc)
            return -ENOMEM;
        x->cap = cap;
    }
    x->key_hash[x->n] = clm_dedup_hash(c->id, c->id_len);
    x->clv[x->n++] = v[3];
    return 0;
}

/* Between pages of the scoring pass: the pipelined HSETs are read back
 * before the scan sends its next command; stop when clmd stops. */
static int score_page(void *varg)
{
    score_arg *a = varg;
    int d = model_job_drain(a->rc, a->pending);
    a->pending = 0;
    if (d < 0)
        return d;
    return atomic_load(&a->j->stopping) ? -ECANCELED : 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* The scoring pass with the last good parameters (see model_job.h). */
int model_job_score(clm_model_job *j, clm_rpipe *rc, int64_t now_day, long long applied)
{
    score_ctx x = { .now_day = now_day };
    if (clm_model_job_params(j, &x.bg, &x.gg) < 0)
        return 0;
    long long t0 = clm_now_ms();
    char err[256];
    score_arg sa = { j, &x, rc, 0 };
    int r = clm_store_scan(rc, j->cfg->redis_prefix, score_page, score_one, &sa, err, sizeof(err));
    if (r == 0)
        r = model_job_drain(rc, sa.pending);
    if (r == -EPROTO) { /* said once per pass, not as a write error; the pass is spent */
        log_err("model: scoring stopped: %s", err);
        j->pass_end = clm_now_ms();
        j->pass_cost = j->pass_end - t0;
        j->pass_day = now_day;
        j->pass_applied = applied;
        r = 0;
        goto out_free;
    }
    if (r < 0)
        goto out_free;
    /* the portfolio: each customer once */
    size_t *dup = NULL, ndup = 0;
    if ((r = clm_model_find_repeats(x.key_hash, x.n, &dup, &ndup)) < 0)
        goto out_free;
    for (size_t i = 0; i < ndup; i++)
        x.clv[dup[i]] = 0;
    free(dup);
    int64_t sum = 0;
    for (size_t i = 0; i < x.n; i++)
        sum = sat_add(sum, x.clv[i]);
    size_t customers = x.n - ndup;
    int64_t avg = customers ? (int64_t)llround((double)sum / (double)customers) : 0;
    clm_micros_format(sum, j->clv_sum, sizeof(j->clv_sum));
    clm_micros_format(avg, j->clv_avg, sizeof(j->clv_avg));

    char day[16], at[24], count[24];
    clm_day_format(now_day, day);
    snprintf(at, sizeof(at), "%lld", clm_wall_ms());
    snprintf(count, sizeof(count), "%zu", customers);
    const char *argv[] = { "HSET", j->model_key, "clv_model_sum", j->clv_sum, "clv_model_avg",
                           j->clv_avg, "scored_customers", count, "scored_day", day,
                           "scored_at", at };
    if ((r = model_job_command_argv(rc, (int)(sizeof(argv) / sizeof(argv[0])), argv)) < 0)
        goto out_free;
    if (j->scored) /* the KPI job carries the portfolio figures into <prefix>kpi:<N>d */
        j->scored(j->scored_ctx);
    j->pass_end = clm_now_ms();
    j->pass_cost = j->pass_end - t0;
    j->pass_day = now_day;
    j->pass_applied = applied;
    if (x.unpredictable)
        log_warn("model: no prediction for %zu customers (a value was not finite)", x.unpredictable);
    log_debug("model: scored %zu customers as of %s in %lld ms, %zu updated; clv_model_sum %s",
              customers, day, j->pass_cost, x.written, j->clv_sum);
out_free:
    free(x.key_hash);
    free(x.clv);
    return r;
}
