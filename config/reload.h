/* config/reload.h - what a reloaded configuration may change in a running
 * daemon.
 *
 * Live (applied on SIGHUP): log.level; every risk.* key; alerts.churn_risk,
 * alerts.churned, alerts.threshold, alerts.rearm_margin, alerts.cooldown_s,
 * alerts.min_clv, alerts.rate_per_s, alerts.burst; lifecycle.rules and
 * lifecycle.forward_only, while the stages themselves (lifecycle.stages,
 * churned_stage, reactivated_stage) and event_types are unchanged; segments,
 * rfm.segments, rfm.refresh_s and rfm.enabled (the segment job's next pass
 * uses them). Every other key needs a restart: a reload reports it and keeps
 * the running value.
 */
#ifndef CLM_CONFIG_RELOAD_H
#define CLM_CONFIG_RELOAD_H

#include <stdbool.h>

#include "config/config.h"

/* True when a key (a row path such as "risk.tickets_min") can change live. */
bool clm_config_key_live(const char *path);

/* Calls fn once per key whose value differs between `cur` and `next`
 * (lifecycle.rules compared rule by rule), with whether it can change live.
 * Returns the number of changed keys that need a restart. */
int clm_config_diff(const clm_config *cur, const clm_config *next,
                    void (*fn)(void *ctx, const char *path, bool live), void *ctx);

/* True when cur and next have the same stages (names, order, churned and
 * reactivated stage) and the same event_types, so the stage rules may be
 * swapped live. */
bool clm_config_same_stages(const clm_config *cur, const clm_config *next);

#endif
