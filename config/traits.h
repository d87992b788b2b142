/* config/traits.h - the `traits` key: the CUSTOM row callbacks that read the
 * list of trait objects into a clm_trait_set (core/trait.h).
 *
 * Internal to config/ (and its tests). Every member is checked where it is
 * written: names (unique, [A-Za-z0-9_], 1..32 bytes), the field (a top-level
 * member that is not one of the event contract, or "properties.<member>";
 * no two traits read one field), the type, the update rule (max and sum need
 * numbers), max_len (strings, 1..64; all string traits together at most
 * 256 bytes), max_distinct (count_distinct, 1..16) and on_invalid.
 *
 * Thread-safety: reentrant.
 */
#ifndef CLM_CONFIG_TRAITS_H
#define CLM_CONFIG_TRAITS_H

#include <jansson.h>

#include "config/config.h"
#include "config/schema.h"
#include "core/trait.h"

/* The field is a clm_trait_set * (NULL: no traits). */
int clm_cfg_traits_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_traits_release(void *field);
extern const char clm_cfg_traits_expect[];

#endif
