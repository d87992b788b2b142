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
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

typedef struct clmctl_ctx {
    redisContext *rc;
    const clm_config *cfg; /* clmd's config: stage order, windows, bucket size */
    const char *prefix;    /* key prefix (the config's, or --prefix) */
    bool json;
    FILE *out;
} clmctl_ctx;

/* Most days `days --last` shows, and the longest `kpi --window`
 * (the bounds of kpi.windows). */
#define CLMCTL_MAX_DAYS 3650

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

/* `days`: the day hashes <prefix>day:<YYYY-MM-DD> of the last `last` days,
 * oldest first, ending on the latest of the newest bucket in
 * <prefix>buckets and the window_end of the configured KPI windows, and
 * starting no earlier than the oldest bucket: date, orders, revenue,
 * new_customers, churned, active_customers, customers_eod ("-" where
 * absent). JSON: [{"date": "...", "<field>": "<value as stored>", ...}]
 * with absent fields left out. Needs whole-day buckets (kpi.bucket_s 86400):
 * -EINVAL otherwise. */
int clmctl_days(const clmctl_ctx *x, int last, char *errbuf, size_t errsize);

#endif
