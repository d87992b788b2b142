/* config/risk.h - the risk.* and alerts.* keys checked together and turned
 * into the core's options.
 */
#ifndef CLM_CONFIG_RISK_H
#define CLM_CONFIG_RISK_H

#include <stddef.h>

#include "config/config.h"

/* Checks the rules that span several keys (a ramp's end above its start,
 * the re-arm margin below the threshold) and fills cfg->alerts from the
 * alerts.* keys. Returns 0, or -EINVAL with one line in errbuf naming the
 * file (`name`), the key, its value and what was expected, e.g.
 *   clmd.json: risk.inactivity_ratio_full: 1.5 is not above risk.inactivity_ratio_start (2)
 */
int clm_cfg_derive_risk(clm_config *cfg, const char *name, char *errbuf, size_t errsize);

#endif
