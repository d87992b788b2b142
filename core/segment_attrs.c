/* core/segment_attrs.c - built-in attributes of segment rules
 * (core/segment_attrs.h).
 */
#include "core/segment_attrs.h"

#include <math.h>
#include <string.h>

static const char *const names[CLM_ATTR_BUILTIN_COUNT] = {
    [CLM_ATTR_STAGE] = "stage",       [CLM_ATTR_PEAK] = "peak",
    [CLM_ATTR_RFM_SEGMENT] = "rfm_segment",
    [CLM_ATTR_R_SCORE] = "r_score",   [CLM_ATTR_F_SCORE] = "f_score",
    [CLM_ATTR_M_SCORE] = "m_score",   [CLM_ATTR_RISK] = "risk",
    [CLM_ATTR_CLV] = "clv",           [CLM_ATTR_CLV_RATE] = "clv_rate",
    [CLM_ATTR_P_ALIVE] = "p_alive",   [CLM_ATTR_CLV_MODEL] = "clv_model",
    [CLM_ATTR_EVENTS] = "events",     [CLM_ATTR_ORDERS] = "orders",
    [CLM_ATTR_REVENUE] = "revenue",   [CLM_ATTR_REFUNDS] = "refunds",
};

const char *clm_attr_name(int id)
{
    return id >= 0 && id < CLM_ATTR_BUILTIN_COUNT ? names[id] : NULL;
}

int clm_attr_resolve(void *rctx, const char *name, size_t len)
{
    const clm_attr_traits *t = rctx;

    for (int i = 0; i < CLM_ATTR_BUILTIN_COUNT; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    if (t && t->index) {
        int idx = t->index(t->tctx, name, len);
        if (idx >= 0)
            return CLM_ATTR_TRAIT0 + idx;
    }
    return -1;
}

const uint8_t *clm_attr_scores(clm_attr_ctx *ctx)
{
    if (!ctx->scored) {
        const clm_customer *c = ctx->c;
        static const clm_rfm_bounds none;
        clm_rfm_score(ctx->bounds ? ctx->bounds : &none, c->rfm.last_day, c->orders,
                      c->revenue_micros, ctx->scores);
        ctx->scored = true;
    }
    return ctx->scores;
}

static void num(clm_rule_value *out, double v)
{
    out->kind = CLM_RULE_NUM;
    out->num = v;
}

static void str(clm_rule_value *out, const char *s)
{
    if (!s)
        return;
    out->kind = CLM_RULE_STR;
    out->str = s;
    out->len = strlen(s);
}

static void stage_name(const clm_attr_ctx *ctx, uint8_t idx, clm_rule_value *out)
{
    if (ctx->stages && idx != CLM_STAGE_NONE)
        str(out, clm_stages_name(ctx->stages, idx));
}

/* p_alive or clv_model from the customer's purchase statistics. */
static void predict(const clm_attr_ctx *ctx, int id, clm_rule_value *out)
{
    const clm_attr_model *m = ctx->model;
    double x, t_x, T, m_x, v;

    if (!m || ctx->c->rfm.first_day < 0)
        return;
    clm_rfm_stats(&ctx->c->rfm, ctx->now_day, m->unit_days, &x, &t_x, &T, &m_x);
    if (id == CLM_ATTR_P_ALIVE) {
        v = clm_bgnbd_p_alive(&m->bg, x, t_x, T);
    } else if (x > 0 && !(m_x > 0)) {
        /* as the model job does: the population mean spend for repeat
         * purchases that were all free */
        double own = clm_gg_expected_spend(&m->gg, x, 1.0);
        v = clm_clv_discounted(&m->bg, &m->gg, x, t_x, T, 1.0, &m->clv) / own *
            clm_gg_expected_spend(&m->gg, 0, 0);
    } else {
        v = clm_clv_discounted(&m->bg, &m->gg, x, t_x, T, m_x, &m->clv);
    }
    if (isfinite(v))
        num(out, v);
}

void clm_attr_get(void *gctx, int id, clm_rule_value *out)
{
    clm_attr_ctx *ctx = gctx;
    const clm_customer *c = ctx->c;

    *out = (clm_rule_value){0};
    if (id >= CLM_ATTR_TRAIT0) {
        if (ctx->traits && ctx->traits->get)
            ctx->traits->get(ctx->traits->tctx, c, id - CLM_ATTR_TRAIT0, out);
        return;
    }
    switch (id) {
    case CLM_ATTR_STAGE: stage_name(ctx, c->stage, out); break;
    case CLM_ATTR_PEAK: stage_name(ctx, c->peak, out); break;
    case CLM_ATTR_RFM_SEGMENT: {
        const uint8_t *s = clm_attr_scores(ctx);
        if (ctx->map && s[0])
            str(out, clm_rfm_map_name(ctx->map, clm_rfm_map_segment(ctx->map, s)));
        break;
    }
    case CLM_ATTR_R_SCORE:
    case CLM_ATTR_F_SCORE:
    case CLM_ATTR_M_SCORE: {
        const uint8_t *s = clm_attr_scores(ctx);
        if (s[0])
            num(out, s[id - CLM_ATTR_R_SCORE]);
        break;
    }
    case CLM_ATTR_RISK:
        if (c->risk_day >= 0)
            num(out, c->risk_e4 / 10000.0);
        break;
    case CLM_ATTR_CLV: num(out, (double)(c->revenue_micros - c->refunds_micros) / 1e6); break;
    case CLM_ATTR_CLV_RATE: num(out, (double)c->clv_rate_micros / 1e6); break;
    case CLM_ATTR_P_ALIVE:
    case CLM_ATTR_CLV_MODEL: predict(ctx, id, out); break;
    case CLM_ATTR_EVENTS: num(out, (double)c->events); break;
    case CLM_ATTR_ORDERS: num(out, (double)c->orders); break;
    case CLM_ATTR_REVENUE: num(out, (double)c->revenue_micros / 1e6); break;
    case CLM_ATTR_REFUNDS: num(out, (double)c->refunds_micros / 1e6); break;
    default: break;
    }
}
