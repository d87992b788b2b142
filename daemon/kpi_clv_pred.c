/* daemon/kpi_clv_pred.c - the KPI job's clv_pred refresh (kpi_job.h):
 * clv_pred = clv_rate x lifetime x gross_margin written on every
 * customer's view from the checkpoints, pipelined, and the sum and count
 * of those written to current customers kept for clv_pred_avg. Job thread
 * only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/customer.h"
#include "core/stages.h"
#include "core/timeutil.h"
#include "daemon/kpi_cohort.h"
#include "daemon/kpi_job_impl.h"
#include "daemon/log.h"
#include "store/forget.h"
#include "store/keys.h"
#include "store/scan.h"

#define PIPELINE 512

typedef struct pred_ctx {
    clm_kpi_job *j;
    clm_rpipe *rc;
    double lifetime, margin;
    size_t pending;
    clm_apply_opts o;       /* the stage model, to tell current customers */
    int64_t sum, count;     /* clv_pred written to current customers */
    kpi_cohort_pass *cohorts; /* also fed every customer, or NULL */
} pred_ctx;

static int write_pred(void *vctx, const char *where, const clm_customer *c)
{
    (void)where;
    pred_ctx *x = vctx;
    char key[CLM_KEY_MAX], v[32];
    if (clm_key_customer(key, sizeof(key), x->j->cfg->redis_prefix, c->id, c->id_len) < 0)
        return -ENAMETOOLONG;
    if (x->cohorts && kpi_cohort_pass_add(x->cohorts, c) < 0)
        return -ENOMEM;
    int64_t pred = (int64_t)llround((double)c->clv_rate_micros * x->lifetime * x->margin);
    if (clm_customer_current(c, &x->o)) {
        x->sum = clm_sat_add(x->sum, pred);
        x->count++;
    }
    clm_micros_format(pred, v, sizeof(v));
    /* only into a view that exists: an erasure may have committed since the
     * checkpoint was read (store/forget.h) */
    size_t slen;
    const char *argv[] = { "EVAL", clm_forget_view_hset_script(&slen), "1", key, "clv_pred", v };
    char err[256];
    if (clm_rpipe_append(x->rc, 3, 6, argv, NULL, err, sizeof(err)) < 0)
        return -EIO;
    if (++x->pending == PIPELINE) {
        int r = kpi_job_drain(x->rc, x->pending);
        x->pending = 0;
        return r;
    }
    return 0;
}

/* Between pages: the HSETs are read back before the scan's next command. */
static int pred_page(void *vctx)
{
    pred_ctx *x = vctx;
    int r = kpi_job_drain(x->rc, x->pending);
    x->pending = 0;
    return r;
}

/* Writes clv_pred = clv_rate x lifetime x gross_margin on every customer's
 * view, reading clv_rate from the checkpoints (store/scan.h), and keeps the
 * sum and count of those written to current customers for clv_pred_avg. The lifetime
 * is the text of clv_lifetime_years from the kpi hashes, so anyone
 * recomputing gets the same value. Runs when the lifetime changed (at most
 * once a minute) and on shutdown after the last flush, so a quiet system
 * holds a value on every customer that depends only on the flushed state.
 * Returns 0, -ENOMEM, -EPROTO or -EIO. */
int kpi_job_refresh_clv_pred(clm_kpi_job *j, clm_rpipe *rc, kpi_cohort_pass *cohorts)
{
    char err[256];
    pred_ctx x = { j, rc, strtod(j->lifetime, NULL), j->cfg->kpi_gross_margin, 0,
                   { .stages = j->cfg->stages }, 0, 0, cohorts };
    int r = clm_store_scan(rc, j->cfg->redis_prefix, pred_page, write_pred, &x, err, sizeof(err));
    if (r == 0)
        r = kpi_job_drain(rc, x.pending);
    if (r == -EPROTO)
        log_err("kpi: %s", err);
    if (r < 0)
        return r == -EPROTO || r == -ENOMEM ? r : -EIO;
    snprintf(j->refreshed, sizeof(j->refreshed), "%s", j->lifetime);
    j->refreshed_ms = clm_now_ms();
    j->has_pred = true;
    j->pred_sum = x.sum;
    j->pred_count = x.count;
    return 0;
}
