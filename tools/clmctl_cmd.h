/* tools/clmctl_cmd.h - clmctl's subcommands: each reads the keys clmd writes
 * (README "Redis keys" and "KPIs") and prints them, as an aligned table or,
 * with json set, as one JSON document.
 *
 * Every command returns 0 after printing, or a negative errno with one line
 * for people in errbuf and nothing printed: -ENOENT when the keys it shows do
 * not exist, -EIO when Redis fails or holds a value of the wrong form,
 * -ENOMEM.
 */
#ifndef CLMCTL_CMD_H
#define CLMCTL_CMD_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"
#include "net/redis_pipe.h"

typedef struct clmctl_ctx {
    redisContext *rc;      /* the one server; NULL on a cluster */
    clm_cluster *cl;       /* the Redis Cluster; NULL on one server */
    clm_rpipe *rp;         /* keyed commands over rc or cl (net/redis_pipe.h): every
                            * command goes through it, naming its key */
    const clm_config *cfg; /* clmd's config: stage order, windows, bucket size */
    const char *prefix;    /* key prefix (the config's, or --prefix) */
    bool json;
    bool csv;              /* --csv: CSV instead of a table (days, kpi --history) */
    FILE *out;
} clmctl_ctx;

/* Most days `days --last` shows, and the longest `kpi --window`
 * (the bounds of kpi.windows). */
#define CLMCTL_MAX_DAYS 3650

/* Most days `kpi --history` shows (the bound of kpi.history_days). */
#define CLMCTL_MAX_HISTORY_DAYS 3660

/* `kpi`: the hash <prefix>kpi:<window_days>d, or with window_days 0 every
 * <prefix>kpi:<N>d hash found by SCAN, in increasing N. One row per field in
 * the order clmd writes them (core/kpi.h; conversion fields from the
 * config's ordinary stages), then fields clmd does not write, in byte order;
 * one column per window; "-" where a window lacks the field. JSON:
 * {"<N>d": {"<field>": "<value as stored>", ...}, ...}. */
int clmctl_kpi(const clmctl_ctx *x, int window_days, char *errbuf, size_t errsize);

/* `customer ID`: the hash <prefix>customer:<ID> as "field  value" lines:
 * stage, stage_since, first_seen, last_seen (these three as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ (<ms>)"), events, orders, revenue, refunds, clv,
 * clv_rate, clv_pred, last_type, then every other field in byte order.
 * JSON: the hash as an object of strings, in the same order. -ENOENT with
 * "no customer ID" when the hash does not exist. */
int clmctl_customer(const clmctl_ctx *x, const char *id, char *errbuf, size_t errsize);

/* `stages`: <prefix>stage_counts as stage, customers, and share of all
 * customers (percent, one decimal, rounded half up; "-" while there are
 * none), in the config's stage order, absent stages as 0, then stages the
 * config does not name, in byte order. JSON: {"<stage>": <count>, ...}. */
int clmctl_stages(const clmctl_ctx *x, char *errbuf, size_t errsize);

/* The days a day-by-day command shows and its columns: from..to when given
 * ("YYYY-MM-DD", both inclusive), else the last `last` days ending on the
 * newest day there is (or on `to`); `columns` as for --columns, NULL for
 * the command's defaults. */
typedef struct clmctl_span {
    int last;
    int max_days; /* the longest span allowed */
    const char *from, *to;
    const char *columns;
} clmctl_span;

/* `days`: the day hashes <prefix>day:<YYYY-MM-DD>, oldest first, of the
 * span's days that lie between the oldest bucket in <prefix>buckets and the
 * latest of the newest bucket and the window_end of the configured KPI
 * windows (-ENOENT when none does). Default columns: orders, revenue,
 * new_customers, churned, active_customers, customers_eod; any field clmd
 * writes into a day hash may be chosen. Printed by clmctl_series_print
 * (tools/clmctl_series.h). Needs whole-day buckets (kpi.bucket_s 86400):
 * -EINVAL otherwise, as for a bad date, a from after to or an unknown column. */
int clmctl_days(const clmctl_ctx *x, const clmctl_span *span, char *errbuf, size_t errsize);

/* `kpi --history`: the entries of the stream <prefix>kpi:history (one per
 * UTC day, README "KPI history and cohorts") of the span's days, oldest
 * first; -ENOENT when the stream is empty or has none of them. Default
 * columns: revenue, orders, new_customers, churned, aov, cpa, nps, csat,
 * churn_rate, retention_rate, customers_eod; any field an entry may hold
 * can be chosen. Printed by clmctl_series_print. */
int clmctl_kpi_history(const clmctl_ctx *x, const clmctl_span *span, char *errbuf,
                       size_t errsize);

/* Most rows `at-risk --top` and `alerts --count` show, and the most new
 * alerts `alerts --tail --max` waits for. */
#define CLMCTL_MAX_ROWS 10000

/* `at-risk`: the `top` highest members of the ZSET <prefix>at_risk (the
 * customers whose churn risk reached the alert threshold), highest risk
 * first, with fields of their <prefix>customer:<id> hashes read in one
 * pipelined round trip: rank, customer, risk (4 decimals), stage, clv,
 * clv_pred, last_seen (its UTC date) and the three largest risk_reasons
 * ("inactivity 0.75, payment_failed 0.40"); "-" where absent. An empty set
 * prints one line saying so. JSON: [{"customer_id", "risk" (a number,
 * 4 decimals), "stage", "clv", "clv_pred", "last_seen", "risk_at" (strings
 * as stored, null where absent), "reasons" (risk_reasons by contribution,
 * largest first; [] where absent)}, ...]. -EIO when a score is not a risk
 * 0..1 or risk_reasons is not an array of reasons (clmctl_reasons_sort). */
int clmctl_at_risk(const clmctl_ctx *x, int top, char *errbuf, size_t errsize);

/* `alerts`: the last `count` entries of the stream <prefix>alerts, oldest
 * first, one line each:
 *   <emitted_at>  <kind>  <customer>  risk <previous> -> <risk>  reason <reason>  stage <stage>  clv <clv>  <reasons>
 * (the parts an alert lacks left out; "<previous> -> " for churn_risk and
 * resolved only, "reason" for resolved; reasons as in `at-risk`), for a
 * digest
 *   <emitted_at>  digest  partition <p>  <N> held from <start> to <end>: <id> (<kind> <risk>) ... and <M> more
 * or for a suppressed_summary (written by release 0.2.0)
 *   <emitted_at>  suppressed_summary  <N> alerts suppressed since <since>
 * and one line saying so when the stream is empty. With tail, then every
 * entry added later, as it arrives, flushing after each, until SIGINT or
 * SIGTERM (handled for the duration of the call; it returns 0 within about
 * a second) or, with max > 0, until max new entries were printed. JSON:
 * each entry's json field verbatim, one per line (JSON lines; nothing for
 * an empty stream). -EIO when an entry's json field is missing or not a JSON
 * object; with tail, what was printed before an error stays printed. */
int clmctl_alerts(const clmctl_ctx *x, int count, bool tail, int max, char *errbuf,
                  size_t errsize);

/* Shared by at-risk and alerts. Sorts an array of risk reasons
 * ({"signal": string, "contribution": number, ...}) in place by
 * contribution, largest first, equal ones in their stored order. Returns 0,
 * -EINVAL when reasons is not such an array (it is then unchanged), or
 * -ENOMEM. */
int clmctl_reasons_sort(json_t *reasons);

/* Writes the first `top` reasons of a sorted array as "signal 0.75, ..."
 * (contributions with two decimals); reasons that do not fit in size are
 * left out whole. "" for no reasons. */
void clmctl_reasons_text(const json_t *reasons, size_t top, char *buf, size_t size);

/* Longest `refit --wait` waits for clmd's answer, in seconds. */
#define CLMCTL_REFIT_WAIT_S 600

/* `refit`: asks clmd's model job for a fit now, by setting refit_requested
 * in <prefix>model to a new token (clmd answers by setting refit_done to
 * it, within about a second plus the fit). Prints the token ("refit
 * requested (<token>) ..."; JSON: {"refit_requested": "<token>"}). With
 * wait, waits up to CLMCTL_REFIT_WAIT_S for the answer and prints
 * <prefix>model as "field  value" lines (status, last_error, fitted_at,
 * now_day, unit_days, customers, repeat_customers, r, alpha, a, b,
 * bgnbd_ll, p, q, gamma, gg_ll, fit_ms, clv_model_sum, clv_model_avg, then
 * the others in byte order; JSON: an object of strings); -ETIMEDOUT without
 * an answer, -EIO with "the fit failed: <last_error>" when the fit failed. */
int clmctl_refit(const clmctl_ctx *x, bool wait, char *errbuf, size_t errsize);

/* `rebuild-view ID` / `rebuild-view --all` (id NULL): rewrites customer
 * views from the checkpoints (tools/clmctl_rebuild.c); prints what it did. */
int clmctl_rebuild_view(const clmctl_ctx *x, const char *id, char *errbuf, size_t errsize);

/* `forget ID`: produces an erasure request for ID (1..128 bytes) to
 * `topic` through `brokers` (tools/clmctl_forget.c), keyed by ID, and waits
 * for its delivery (at most 30 s): prints "erasure of ID requested: <topic>
 * partition <p> offset <o>", or JSON {"customer_id", "topic", "partition",
 * "offset"}. Does not touch Redis. -EIO when the request was not delivered,
 * -EINVAL when kafka.properties are refused. */
int clmctl_forget(const clm_config *cfg, const char *brokers, const char *topic, const char *id,
                  bool json, FILE *out, char *errbuf, size_t errsize);

#endif
