/* config/risk.c - cross-key checks of risk.* and alerts.* (see risk.h). */
#include "config/risk.h"

#include <errno.h>
#include <math.h>

#include "config/schema.h"

int clm_cfg_derive_risk(clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    const clm_risk_opts *r = &cfg->risk;
    if (r->ratio_full <= r->ratio_start) {
        clm_cfg_errorf(errbuf, errsize,
                       "%s: risk.inactivity_ratio_full: %g is not above "
                       "risk.inactivity_ratio_start (%g)",
                       name, r->ratio_full, r->ratio_start);
        return -EINVAL;
    }
    if (r->days_full <= r->days_start) {
        clm_cfg_errorf(errbuf, errsize,
                       "%s: risk.inactivity_days_full: %d is not above "
                       "risk.inactivity_days_start (%d)",
                       name, r->days_full, r->days_start);
        return -EINVAL;
    }
    if (cfg->alerts_rearm_margin >= cfg->alerts_threshold) {
        clm_cfg_errorf(errbuf, errsize,
                       "%s: alerts.rearm_margin: %g is not below alerts.threshold (%g)", name,
                       cfg->alerts_rearm_margin, cfg->alerts_threshold);
        return -EINVAL;
    }
    if (cfg->alerts_severity_warning > cfg->alerts_severity_critical) {
        clm_cfg_errorf(errbuf, errsize,
                       "%s: alerts.severity.warning: %g is above alerts.severity.critical (%g)",
                       name, cfg->alerts_severity_warning, cfg->alerts_severity_critical);
        return -EINVAL;
    }
    clm_alert_opts *a = &cfg->alerts;
    a->threshold_e4 = (int)lround(cfg->alerts_threshold * 10000.0);
    a->rearm_e4 = (int)lround(cfg->alerts_rearm_margin * 10000.0);
    a->cooldown_ms = (int64_t)cfg->alerts_cooldown_s * 1000;
    a->clv_floor_micros = (int64_t)llround(cfg->alerts_min_clv * 1e6);
    a->page_rate_per_s = cfg->alerts_rate_per_s;
    a->page_burst = cfg->alerts_burst;
    a->page_window_ms = (int64_t)cfg->alerts_summary_interval_s * 1000;
    a->digest_customers = cfg->alerts_digest_customers;
    a->critical_e4 = (int)lround(cfg->alerts_severity_critical * 10000.0);
    a->warning_e4 = (int)lround(cfg->alerts_severity_warning * 10000.0);
    return 0;
}
