/* config/segment_traits.h - the trait hook of segment rules over the traits
 * a config declares (config/segment_traits.c). */
#ifndef CLM_CONFIG_SEGMENT_TRAITS_H
#define CLM_CONFIG_SEGMENT_TRAITS_H

#include "config/config.h"
#include "core/segment_attrs.h"

/* Fills *hook so that rules resolve and read the traits cfg declares; cfg
 * must outlive every use of the hook. */
void clm_segment_traits_init(clm_attr_traits *hook, const clm_config *cfg);

#endif
