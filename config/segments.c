/* config/segments.c - reading segments and rfm.segments, and compiling them
 * (config/segments.h).
 */
#include "config/segments.h"
#include "config/segment_traits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segment_attrs.h"

const char clm_cfg_segments_expect[] =
    "a list of {\"name\": name, \"rule\": rule} objects (README \"Segments\")";
const char clm_cfg_rfm_map_expect[] =
    "a list of {\"name\": name, \"r\": [lo, hi], \"f\": [lo, hi], \"m\": [lo, hi]} objects";
static const char seg_member_expect[] = "one of \"name\", \"rule\", \"notify\"";
static const char map_member_expect[] = "one of \"name\", \"r\", \"f\", \"m\"";
static const char range_expect[] = "[lo, hi] with 1 <= lo <= hi <= 5";

static bool is_range(const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) != 2)
        return false;
    const json_t *lo = json_array_get(v, 0), *hi = json_array_get(v, 1);
    return json_is_integer(lo) && json_is_integer(hi) && json_integer_value(lo) >= 1 &&
           json_integer_value(hi) <= 5 && json_integer_value(lo) <= json_integer_value(hi);
}

/* Checks entry i of either list: an object of strings (name, rule) or of a
 * name and ranges (r, f, m), all members present. */
static int check_entry(const json_t *e, size_t i, bool map, clm_cfg_problem *p)
{
    const char *k;
    json_t *v;

    if (!json_is_object(e))
        return clm_cfg_item_problem(p, i, NULL, e, "has the wrong type",
                                    map ? clm_cfg_rfm_map_expect : clm_cfg_segments_expect);
    json_object_foreach((json_t *)e, k, v) {
        if (clm_cfg_is_comment(k))
            continue;
        if (strcmp(k, "name") == 0 || (!map && strcmp(k, "rule") == 0)) {
            if (!json_is_string(v))
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", "a string");
        } else if (!map && strcmp(k, "notify") == 0) {
            if (!json_is_boolean(v))
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", "true or false");
        } else if (map && (strcmp(k, "r") == 0 || strcmp(k, "f") == 0 || strcmp(k, "m") == 0)) {
            if (!is_range(v))
                return clm_cfg_item_problem(p, i, k, v, "is not a score range", range_expect);
        } else {
            return clm_cfg_item_problem(
                p, i, k, v, map ? "is not a map entry member" : "is not a segment member",
                map ? map_member_expect : seg_member_expect);
        }
    }
    static const char *const seg_need[][2] = {{"name", "has no \"name\""},
                                              {"rule", "has no \"rule\""}, {NULL, NULL}};
    static const char *const map_need[][2] = {{"name", "has no \"name\""},
                                              {"r", "has no \"r\""},
                                              {"f", "has no \"f\""},
                                              {"m", "has no \"m\""}, {NULL, NULL}};
    for (const char *const(*n)[2] = map ? map_need : seg_need; (*n)[0]; n++)
        if (!json_object_get(e, (*n)[0]))
            return clm_cfg_item_problem(p, i, NULL, e, (*n)[1],
                                        map ? clm_cfg_rfm_map_expect : clm_cfg_segments_expect);
    return 0;
}

static int parse_list(json_t *v, void *field, bool map, clm_cfg_problem *p)
{
    if (!json_is_array(v)) {
        p->text = "has the wrong type";
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        int r = check_entry(json_array_get(v, i), i, map, p);
        if (r < 0)
            return r;
    }
    json_t *copy = json_deep_copy(v);
    if (!copy)
        return -ENOMEM;
    clm_cfg_json_release(field);
    *(json_t **)field = copy;
    return 0;
}

int clm_cfg_segments_parse(json_t *v, void *field, clm_cfg_problem *problem)
{
    return parse_list(v, field, false, problem);
}

int clm_cfg_rfm_map_parse(json_t *v, void *field, clm_cfg_problem *problem)
{
    return parse_list(v, field, true, problem);
}

void clm_cfg_json_release(void *field)
{
    json_t **j = field;
    json_decref(*j);
    *j = NULL;
}

bool clm_cfg_json_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal((json_t *)a, (json_t *)b);
}

static uint8_t range_at(const json_t *e, const char *k, size_t hi)
{
    return (uint8_t)json_integer_value(json_array_get(json_object_get(e, k), hi));
}

static int compile_map(const json_t *list, clm_rfm_map **out, const char *name, char *errbuf,
                       size_t errsize)
{
    size_t n = json_array_size(list);
    clm_rfm_seg_spec specs[CLM_RFM_MAX_SEGMENTS];
    char why[160];

    if (n == 0 || n > CLM_RFM_MAX_SEGMENTS) {
        clm_cfg_errorf(errbuf, errsize, "%s: rfm.segments: %zu entries (expected 1..%d)", name, n,
                       CLM_RFM_MAX_SEGMENTS);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        specs[i] = (clm_rfm_seg_spec){
            .name = json_string_value(json_object_get(e, "name")),
            .r_lo = range_at(e, "r", 0), .r_hi = range_at(e, "r", 1),
            .f_lo = range_at(e, "f", 0), .f_hi = range_at(e, "f", 1),
            .m_lo = range_at(e, "m", 0), .m_hi = range_at(e, "m", 1),
        };
    }
    int r = clm_rfm_map_new(specs, n, out, why, sizeof why);
    if (r == -EINVAL)
        clm_cfg_errorf(errbuf, errsize, "%s: rfm.segments%s", name, why);
    return r;
}

static int compile_segments(const json_t *list, const clm_config *cfg, clm_segments **out,
                            const char *name, char *errbuf, size_t errsize)
{
    clm_attr_traits traits;

    size_t n = json_array_size(list);
    clm_segment_spec specs[CLM_SEG_MAX];
    char why[256];

    if (n > CLM_SEG_MAX) {
        clm_cfg_errorf(errbuf, errsize, "%s: segments: %zu segments (expected at most %d)", name,
                       n, CLM_SEG_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        specs[i] = (clm_segment_spec){
            .name = json_string_value(json_object_get(e, "name")),
            .rule = json_string_value(json_object_get(e, "rule")),
            .notify = json_is_true(json_object_get(e, "notify")),
        };
    }
    clm_segment_traits_init(&traits, cfg);
    int r = clm_segments_new(specs, n, clm_attr_resolve, &traits, out, why, sizeof why);
    if (r == -EINVAL)
        clm_cfg_errorf(errbuf, errsize, "%s: segments%s", name, why);
    return r;
}

int clm_cfg_compile_segments(clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    clm_segments *segs = NULL;
    clm_rfm_map *map = NULL;
    int r;

    r = compile_segments(cfg->segments_json, cfg, &segs, name, errbuf, errsize);
    if (r < 0)
        goto out_oom;
    r = compile_map(cfg->rfm_segments_json, &map, name, errbuf, errsize);
    if (r < 0) {
        clm_segments_free(segs);
        goto out_oom;
    }
    clm_segments_free(cfg->segments);
    clm_rfm_map_free(cfg->rfm_map);
    cfg->segments = segs;
    cfg->rfm_map = map;
    return 0;

out_oom:
    if (r == -ENOMEM)
        clm_cfg_errorf(errbuf, errsize, "%s: out of memory", name);
    return r;
}
