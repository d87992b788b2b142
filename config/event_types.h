/* config/event_types.h - the `event_types` key: the CUSTOM row callbacks
 * that read the list of event type objects into a clm_custom_types
 * (core/evtype.h), and the checks that need other keys.
 *
 * Checked where written: the name (1..64 bytes, not a built-in type nor
 * "other", unique), "as" (a built-in type or "other"), "activity" (a
 * boolean; never false for a purchase), "required" (at most 8 names; "type"
 * and "ts" are always required). Once every key is read,
 * clm_cfg_check_event_types resolves "required" names: customer_id,
 * event_id, amount, score, duration_s or a configured trait.
 *
 * Thread-safety: reentrant.
 */
#ifndef CLM_CONFIG_EVENT_TYPES_H
#define CLM_CONFIG_EVENT_TYPES_H

#include <jansson.h>

#include "config/config.h"
#include "config/schema.h"
#include "core/evtype.h"

/* The field is a clm_custom_types * (NULL: none). */
int clm_cfg_event_types_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_event_types_release(void *field);
extern const char clm_cfg_event_types_expect[];

/* Resolves the "required" names of cfg->event_types against the traits.
 * Returns 0, or -EINVAL with "<name>: event_types[i].required: ..." in errbuf. */
int clm_cfg_check_event_types(clm_config *cfg, const char *name, char *errbuf, size_t errsize);

/* The names of the configured event types in order, into names (room for
 * CLM_EV_CUSTOM_MAX); *n is set to their count. Returns names. */
const char *const *clm_cfg_event_type_names(const clm_config *cfg, const char **names, size_t *n);

#endif
