/* core/segment.h - named segments: a list of rules (core/rule.h) compiled
 * once, evaluated into a membership bitmask per customer.
 *
 * A segment set is built from specs {name, rule text, notify}; names are
 * distinct and made of [A-Za-z0-9_.-] (they appear in Redis key names and
 * in day-counter fields). Evaluating the set on one customer gives a bitmask,
 * bit i set when segment i's rule holds; clm_segments_diff turns the masks
 * before and after a change into entries and exits.
 *
 * Thread-safety: a set is immutable once built; evaluate it from any thread.
 */
#ifndef CLM_CORE_SEGMENT_H
#define CLM_CORE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rule.h"

#define CLM_SEG_MAX 64      /* segments in one set (the width of a mask) */
#define CLM_SEG_NAME_MAX 64 /* bytes of a segment name */

typedef uint64_t clm_seg_mask;

typedef struct clm_segment_spec {
    const char *name;
    const char *rule;
    bool notify; /* segment_entered / segment_left alerts for this segment */
} clm_segment_spec;

typedef struct clm_segments clm_segments;

/* Compiles n specs (0..CLM_SEG_MAX) with resolve naming the attributes.
 * Returns 0 and sets *out; or -EINVAL with the place in errbuf, e.g.
 *   [2].rule: at 14: expected a value
 *   [0].name: "a b" is not a segment name
 * or -ENOMEM. *out is untouched on failure. */
int clm_segments_new(const clm_segment_spec *specs, size_t n, clm_rule_resolve_fn resolve,
                     void *rctx, clm_segments **out, char *errbuf, size_t errsize);

/* The membership mask of the customer get reports on. */
clm_seg_mask clm_segments_eval(const clm_segments *s, clm_rule_get_fn get, void *gctx);

/* Segments that read attribute id (a mask). */
clm_seg_mask clm_segments_using(const clm_segments *s, int id);

size_t clm_segments_count(const clm_segments *s);
const char *clm_segments_name(const clm_segments *s, size_t i);
/* The rule text of segment i as given. */
const char *clm_segments_rule(const clm_segments *s, size_t i);
bool clm_segments_notify(const clm_segments *s, size_t i);
/* Index of the segment called name, or -1. */
int clm_segments_find(const clm_segments *s, const char *name);

/* Entries and exits between two masks. */
static inline void clm_segments_diff(clm_seg_mask before, clm_seg_mask after,
                                     clm_seg_mask *entered, clm_seg_mask *left)
{
    *entered = after & ~before;
    *left = before & ~after;
}

/* Frees a set; accepts NULL. */
void clm_segments_free(clm_segments *s);

#endif
