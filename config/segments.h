/* config/segments.h - the segments and rfm.segments keys: segment rules
 * (core/segment.h) and the RFM segment map (core/rfmscore.h).
 *
 * Internal to config/ (and its tests). The CUSTOM row callbacks below check
 * the shape of each list (types and members, with the exact place of a
 * mistake) and keep a copy of it; once every key is read,
 * clm_cfg_compile_segments compiles the rules (whose names are checked
 * against the attributes of core/segment_attrs.h) and the map.
 *
 * Thread-safety: reentrant; nothing here is shared.
 */
#ifndef CLM_CONFIG_SEGMENTS_H
#define CLM_CONFIG_SEGMENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "config/schema.h"

/* CUSTOM row callbacks of segments and rfm.segments: the field is a json_t *
 * (a private copy of the list as read; NULL: none). */
int clm_cfg_segments_parse(json_t *v, void *field, clm_cfg_problem *problem);
int clm_cfg_rfm_map_parse(json_t *v, void *field, clm_cfg_problem *problem);
void clm_cfg_json_release(void *field);
extern const char clm_cfg_segments_expect[];
extern const char clm_cfg_rfm_map_expect[];

/* Whether two lists as read are equal (for the reload's comparison). */
bool clm_cfg_json_equal(const json_t *a, const json_t *b);

/* Compiles cfg->segments_json and cfg->rfm_segments_json into
 * cfg->segments and cfg->rfm_map, replacing what is there. Returns 0; or
 * -EINVAL / -ENOMEM with one line in errbuf naming the file and the key,
 * e.g.
 *   clmd.json: segments[2].rule: at 14: expected a value
 * On failure cfg->segments and cfg->rfm_map are unchanged. */
int clm_cfg_compile_segments(clm_config *cfg, const char *name, char *errbuf, size_t errsize);

#endif
