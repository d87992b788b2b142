/* config/breakdowns.h - the `breakdowns` key: the trait dimensions whose
 * day counters are also kept per value (core/breakdown.h).
 *
 * clm_cfg_breakdowns_parse reads the list (at most CLM_BD_MAX objects
 * {"dimension": "trait:<name>", "values": [...]}); once the traits are
 * read, clm_cfg_check_breakdowns resolves each trait by name and checks
 * each value against its type, so --check-config and a run agree.
 */
#ifndef CLM_CONFIG_BREAKDOWNS_H
#define CLM_CONFIG_BREAKDOWNS_H

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"
#include "config/schema.h"
#include "core/breakdown.h"

/* The field is a clm_breakdown_set * (NULL: no breakdowns). */
int clm_cfg_breakdowns_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_breakdowns_release(void *field);
extern const char clm_cfg_breakdowns_expect[];

/* Resolves the traits the breakdowns name (cfg->traits must be read).
 * Returns 0, or -EINVAL with "<name>: breakdowns[i]...: ..." in errbuf. */
int clm_cfg_check_breakdowns(clm_config *cfg, const char *name, char *errbuf, size_t errsize);

/* Whether two sets configure the same breakdowns (NULL: none). */
bool clm_breakdown_set_equal(const clm_breakdown_set *a, const clm_breakdown_set *b);

#endif
