/* store/v1.h - the v1 customer hash codec, used only by the upgrade.
 *
 * The previous release (0.1.0, record version 1) kept each customer as a
 * Redis hash of text fields, <prefix>customer:<id>, that the daemon both
 * wrote and read back. This release keeps a binary checkpoint record
 * (store/record.h) and writes the hash only as a view (store/view.h); the
 * text form survives here so that store/upgrade.c can convert a v1
 * deployment at start-up. Nothing else reads or writes it.
 *
 * The hash's fields, in the order clm_v1_customer_emit() lists them:
 *   first_seen, last_seen, events, orders   decimal integers (times: epoch ms)
 *   revenue, refunds, clv, clv_rate         money (clm_micros_format); clv is
 *                                           derived and never read back
 *   last_type                               an event type name
 *   first_purchase, first_signup,
 *   first_contact, lead_contact             epoch ms, "" for none
 *   active                                  "<bucket>:<bits, 16 hex>", "" for none
 *   stage, stage_since, peak_stage,
 *   stage_entered                           only with a stage model: names,
 *                                           epoch ms, "<rank>:<bucket>,..."
 *   risk, risk_at, risk_next, risk_state,
 *   alert_armed, alert_at, source           "0.7321", "YYYY-MM-DD", day number,
 *                                           clm_v1_risk_state_format(), "0"/"1",
 *                                           epoch ms, "<topic index>:<offset>"
 *   repeat_days, first_purchase_day,
 *   last_purchase_day, repeat_spend_avg,
 *   rfm                                     clm_v1_rfm_emit()
 *   dedup                                   clm_v1_dedup_format()
 * emit -> load reproduces the state exactly (integers and fixed-point money).
 *
 * Pure and not thread-safe: one customer, one thread.
 */
#ifndef CLM_STORE_V1_H
#define CLM_STORE_V1_H

#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/dedup.h"
#include "core/rfm.h"
#include "core/risk.h"
#include "core/stages.h"

/* Field callback: `value` is not NUL-terminated. A negative return stops
 * the emitter, which returns it. */
typedef int (*clm_v1_field_fn)(void *ctx, const char *name, const char *value, size_t len);

/* ---- the customer hash (v1_customer.c) ------------------------------------ */

/* Calls fn once per field of the hash, in the fixed order above. Stage names
 * come from `stages` (may be NULL: no stage fields). risk_reasons, which is
 * JSON and was never read back, is not among them. Returns 0, -ENOMEM or
 * the first negative value fn returned. */
int clm_v1_customer_emit(const clm_customer *c, const clm_stages *stages, clm_v1_field_fn fn,
                         void *ctx);

/* Restores one field of the hash into c. Unknown names are ignored (0):
 * other versions and features may store more fields on the same hash; so is
 * a stage name the current model does not know (the customer then has no
 * stage). Returns 0, or -EINVAL when the value is malformed (c unchanged),
 * -ENOMEM. */
int clm_v1_customer_load_field(clm_customer *c, const clm_stages *stages, const char *name,
                               size_t name_len, const char *value, size_t value_len);

/* ---- the parts (v1_parts.c) ----------------------------------------------- */

/* risk_state: a compact text form of the churn-risk state (no NUL), fields
 * separated by ' ':
 *   v1 nps nps_ts csat csat_ts first_day last_day active_days day_bits(hex)
 *   payment_failed_day downgrade_day t0,...,t7 session_day k:n,...
 * Times are decimal, "-" for none; "k:n" is n sessions on session_day - k,
 * "-" for no session counts. Returns the length or -ENOSPC.
 * CLM_V1_RISK_STATE_MAX bytes always suffice. */
#define CLM_V1_RISK_STATE_MAX 512
int clm_v1_risk_state_format(const clm_risk_state *s, char *buf, size_t size);

/* Parses clm_v1_risk_state_format output; "" gives the initial state.
 * Returns 0 or -EINVAL (s unchanged). */
int clm_v1_risk_state_parse(clm_risk_state *s, const char *v, size_t len);

/* Calls fn once per repeat-purchase field, in this order:
 *   repeat_days         x, a decimal integer
 *   first_purchase_day  "YYYY-MM-DD", or "" without a purchase
 *   last_purchase_day   "YYYY-MM-DD", or ""
 *   repeat_spend_avg    repeat_micros / x as money (micro-units rounded half
 *                       away from zero, clm_micros_format), "0" when x = 0
 *   rfm                 "<first_day>:<last_day>:<x>:<day_bits, 16 hex>:
 *                       <first_micros>:<repeat_micros>", the whole state
 * The first four were for people and dashboards; `rfm` is what is read back.
 * Returns 0 or the first negative value fn returned. */
int clm_v1_rfm_emit(const clm_rfm *r, clm_v1_field_fn fn, void *ctx);

/* Restores one field written by clm_v1_rfm_emit. Returns 1 when `name` is
 * one of those fields (for `rfm`: the state parsed into r; the four derived
 * fields are checked for form only and leave r alone, since `rfm` carries
 * everything), 0 when it is not (r untouched), or -EINVAL when the value is
 * malformed or `rfm` describes an impossible state (r untouched). */
int clm_v1_rfm_load_field(clm_rfm *r, const char *name, size_t nlen, const char *v, size_t vlen);

/* dedup: "<16 hex>:<ts_ms>" entries joined by ',' ("" when empty), in time
 * order. Returns the length, or -ENOSPC when size is too small (buf then
 * unspecified). 40 bytes per entry always suffice. */
int clm_v1_dedup_format(const clm_dedup *d, char *buf, size_t size);

/* Parses clm_v1_dedup_format output into an empty set. Returns 0, -EINVAL on
 * malformed text (entries must be in time order), -E2BIG past 65535 entries,
 * -ENOMEM; on failure the set is left empty. */
int clm_v1_dedup_parse(clm_dedup *d, const char *s, size_t len);

#endif
