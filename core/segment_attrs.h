/* core/segment_attrs.h - the names a segment rule can read about a customer,
 * and their values: the resolver and getter of core/rule.h for clmd.
 *
 * Built-in attributes (numbers in money units, not micros):
 *   stage, peak          the stage and the highest ordinary stage reached
 *                        (strings; none before the first stage)
 *   rfm_segment          the RFM segment name (core/rfmscore.h; none without
 *                        a purchase or before the first boundaries)
 *   r_score, f_score, m_score   RFM scores 1..5 (same condition)
 *   risk                 churn risk 0..1 as last evaluated (none before the
 *                        first evaluation)
 *   clv                  revenue minus refunds, the view's clv
 *   clv_rate             revenue per year, the view's clv_rate
 *   p_alive, clv_model   the model's predictions, computed from the
 *                        customer's own purchase statistics with the last
 *                        fitted parameters (none before the first fit, or
 *                        without a purchase)
 *   events, orders       counters
 *   revenue, refunds     sums
 * Any other name is asked of the trait hook (when there is one); a trait's
 * id is CLM_ATTR_TRAIT0 + the hook's index.
 *
 * Thread-safety: the resolver and getter keep no state besides their
 * context; one context per evaluating thread.
 */
#ifndef CLM_CORE_SEGMENT_ATTRS_H
#define CLM_CORE_SEGMENT_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bgnbd.h"
#include "core/customer.h"
#include "core/gammagamma.h"
#include "core/rfmscore.h"
#include "core/rule.h"
#include "core/stages.h"

enum clm_attr {
    CLM_ATTR_STAGE,
    CLM_ATTR_PEAK,
    CLM_ATTR_RFM_SEGMENT,
    CLM_ATTR_R_SCORE,
    CLM_ATTR_F_SCORE,
    CLM_ATTR_M_SCORE,
    CLM_ATTR_RISK,
    CLM_ATTR_CLV,
    CLM_ATTR_CLV_RATE,
    CLM_ATTR_P_ALIVE,
    CLM_ATTR_CLV_MODEL,
    CLM_ATTR_EVENTS,
    CLM_ATTR_ORDERS,
    CLM_ATTR_REVENUE,
    CLM_ATTR_REFUNDS,
    CLM_ATTR_BUILTIN_COUNT,
};
#define CLM_ATTR_TRAIT0 1024

/* The trait hook: index resolves a name (-1: not a trait), get reads the
 * value of trait idx of a customer (kind CLM_RULE_NONE: unset). */
typedef struct clm_attr_traits {
    int (*index)(const void *tctx, const char *name, size_t len);
    void (*get)(const void *tctx, const clm_customer *c, int idx, clm_rule_value *out);
    const void *tctx;
} clm_attr_traits;

/* The fitted models as handed over by the model job. */
typedef struct clm_attr_model {
    clm_bgnbd_params bg;
    clm_gg_params gg;
    clm_clv_opts clv;
    double unit_days; /* the models' time unit in days */
} clm_attr_model;

/* What the getter reads; the caller fills the first members and zeroes the
 * rest (clm_attr_ctx_init). */
typedef struct clm_attr_ctx {
    const clm_customer *c;
    const clm_stages *stages;     /* NULL: no stages (stage is none) */
    const clm_rfm_bounds *bounds; /* NULL: no scores yet */
    const clm_rfm_map *map;       /* NULL: no rfm_segment */
    const clm_attr_model *model;  /* NULL: no fit yet */
    const clm_attr_traits *traits; /* NULL: no traits */
    int64_t now_day;              /* the day predictions are made at */
    /* the getter's own cache */
    bool scored;
    uint8_t scores[3];
} clm_attr_ctx;

/* Resolver of core/rule.h; rctx is a const clm_attr_traits * or NULL. */
int clm_attr_resolve(void *rctx, const char *name, size_t len);

/* Getter of core/rule.h; gctx is a clm_attr_ctx *. */
void clm_attr_get(void *gctx, int id, clm_rule_value *out);

/* The name of built-in attribute id, or NULL. */
const char *clm_attr_name(int id);

/* Scores of ctx's customer (0 0 0: none), computed once per context. */
const uint8_t *clm_attr_scores(clm_attr_ctx *ctx);

#endif
