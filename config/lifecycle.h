/* config/lifecycle.h - the lifecycle section: the lifecycle.rules row and the
 * stage model compiled from the whole section.
 *
 * Internal to config/ (and its tests). The rules are read by the CUSTOM row
 * callbacks below, which check their shape (types, members) with the exact
 * place of a mistake; what the names mean (stages, event types,
 * reachability) is checked once every key is read, by compiling the model.
 *
 * Thread-safety: reentrant; nothing here is shared.
 */
#ifndef CLM_CONFIG_LIFECYCLE_H
#define CLM_CONFIG_LIFECYCLE_H

#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "config/schema.h"
#include "core/stages.h"

/* lifecycle.rules as read: the rule specs, whose names point into a private
 * copy of the JSON value. */
struct clm_cfg_rules;

/* CUSTOM row callbacks of lifecycle.rules (see clm_cfg_parse_fn): the field
 * is a struct clm_cfg_rules *. */
int clm_cfg_rules_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_rules_release(void *field);

/* CUSTOM row callbacks of lifecycle.inactive_types: the field is a uint32_t
 * with bit t set for each clm_event_type t listed. */
int clm_cfg_inactive_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_inactive_release(void *field);
extern const char clm_cfg_inactive_expect[];

/* The rules as specs for clm_stages_new; *n is set to their count. rules
 * may be NULL (no rules). The specs live as long as rules. */
const clm_stage_rule_spec *clm_cfg_rules_specs(const struct clm_cfg_rules *rules, size_t *n);

/* Compiles cfg's lifecycle keys into cfg->stages, replacing any model there.
 * Returns 0; or -EINVAL / -ENOMEM with one line in errbuf naming the file
 * (`name`) and the key, e.g.
 *   clmd.json: lifecycle.rules[2].on: "purchse" is not an event type
 * On failure cfg->stages is unchanged. */
int clm_cfg_compile_stages(clm_config *cfg, const char *name, char *errbuf, size_t errsize);

#endif
