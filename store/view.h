/* store/view.h - the customer view, <prefix>customer:<id>: a projection of
 * the checkpoint for dashboards and people.
 *
 * clmd never reads a view back: editing or deleting one breaks nothing. A
 * field is written when its value changes (clm_customer.changed), the whole
 * view when the customer is new, and `clmctl rebuild-view` rewrites views
 * from the checkpoints at any time.
 *
 * Conventions: an instant is epoch milliseconds (UTC); a calendar day is
 * YYYY-MM-DD (UTC); money is a decimal with up to 6 fraction digits, exact; a
 * field with no value (no purchase yet, no stage) is absent, never "".
 *
 * Fields the flush writes (README "The customer view" explains each):
 *   first_seen last_seen last_type events orders revenue refunds clv
 *   clv_rate first_signup first_purchase first_contact
 *   stage stage_since peak_stage                      (with a stage model)
 *   risk risk_at risk_reasons                         (with risk scoring)
 *   repeat_days first_purchase_day last_purchase_day repeat_spend_avg
 *   trait:<name>                                      (per configured trait, core/trait.h)
 * The model job writes p_alive, expected_purchases_<H>, expected_spend,
 * clv_model; the KPI job writes clv_pred.
 *
 * Reentrant.
 */
#ifndef CLM_STORE_VIEW_H
#define CLM_STORE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "store/cmdbuf.h"

/* Field callback: value NULL means the field is absent. A negative return
 * stops the projection, which returns it. */
typedef int (*clm_view_fn)(void *ctx, const char *name, const char *value, size_t len);

/* Calls fn for every flush-written field whose facet is in `mask`
 * (CLM_FACET_*), in a fixed order. Returns 0, -ENOMEM or fn's error. */
int clm_view_project(const clm_customer *c, const clm_apply_opts *o, uint16_t mask, clm_view_fn fn,
                     void *ctx);

/* Appends the commands that bring the view of c up to date for the facets
 * in `mask`: one HSET of the present fields and, unless `fresh` (the view
 * holds nothing of this customer yet), one HDEL of the absent ones.
 * Nothing when mask is 0. Returns 0, -ENOMEM or -ENAMETOOLONG. */
int clm_view_format(clm_cmdbuf *b, const char *prefix, const clm_customer *c,
                    const clm_apply_opts *o, uint16_t mask, bool fresh);

/* The fields of the v1 layout that are not part of the view (the upgrade
 * removes them); NULL-terminated. */
extern const char *const clm_view_v1_only[];

/* The JSON of risk reasons, as in risk_reasons and in alert documents
 * without weights: [{"signal":..,"value":..,"contribution":..},...]. Caller
 * frees. NULL on ENOMEM. */
char *clm_view_reasons_json(const clm_risk_eval *e);

#endif
