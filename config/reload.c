/* config/reload.c - comparing two configurations key by key (see reload.h). */
#include "config/reload.h"

#include "config/breakdowns.h"
#include "core/evtype.h"
#include "core/trait.h"

#include <string.h>

#include "config/lifecycle.h"
#include "config/schema.h"
#include "config/segments.h"

static const char *const live_keys[] = {
    "log.level",
    "alerts.churn_risk", "alerts.churned", "alerts.threshold", "alerts.rearm_margin",
    "alerts.cooldown_s", "alerts.min_clv", "alerts.rate_per_s", "alerts.burst",
    "alerts.resolved", "alerts.summary_interval_s", "alerts.digest_customers",
    "alerts.severity.critical", "alerts.severity.warning",
    "lifecycle.rules", "lifecycle.forward_only",
    /* the segment job's next pass uses them */
    "segments", "rfm.segments", "rfm.refresh_s", "rfm.enabled",
    NULL,
};

bool clm_config_key_live(const char *path)
{
    if (strncmp(path, "risk.", 5) == 0)
        return true;
    for (size_t i = 0; live_keys[i]; i++)
        if (strcmp(path, live_keys[i]) == 0)
            return true;
    return false;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool names_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

/* lifecycle.rules, compared rule by rule. */
static bool rules_equal(const clm_config *a, const clm_config *b)
{
    size_t na = 0, nb = 0;
    const clm_stage_rule_spec *x = clm_cfg_rules_specs(a->lifecycle_rules, &na);
    const clm_stage_rule_spec *y = clm_cfg_rules_specs(b->lifecycle_rules, &nb);
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!names_equal(x[i].on, x[i].non, y[i].on, y[i].non) ||
            !names_equal(x[i].from, x[i].nfrom, y[i].from, y[i].nfrom) || !str_eq(x[i].to, y[i].to) ||
            x[i].min_orders != y[i].min_orders || x[i].max_orders != y[i].max_orders ||
            x[i].min_score != y[i].min_score || x[i].max_score != y[i].max_score ||
            x[i].has_score_cond != y[i].has_score_cond)
            return false;
    return true;
}

static bool row_equal(const clm_cfg_key *row, const void *a, const void *b)
{
    const char *pa = (const char *)a + row->offset, *pb = (const char *)b + row->offset;
    size_t na = 0, nb = 0;
    if (row->type == CLM_CFG_STRLIST || row->type == CLM_CFG_INTLIST || row->type == CLM_CFG_STRMAP) {
        memcpy(&na, (const char *)a + row->count_offset, sizeof(na));
        memcpy(&nb, (const char *)b + row->count_offset, sizeof(nb));
        if (na != nb)
            return false;
    }
    switch (row->type) {
    case CLM_CFG_STRING:
        return str_eq(*(char *const *)pa, *(char *const *)pb);
    case CLM_CFG_INT:
    case CLM_CFG_ENUM:
        return *(const int *)pa == *(const int *)pb;
    case CLM_CFG_INT64:
        return *(const int64_t *)pa == *(const int64_t *)pb;
    case CLM_CFG_DOUBLE:
        return *(const double *)pa == *(const double *)pb;
    case CLM_CFG_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    case CLM_CFG_STRLIST:
        for (size_t i = 0; i < na; i++)
            if (!str_eq((*(char **const *)pa)[i], (*(char **const *)pb)[i]))
                return false;
        return true;
    case CLM_CFG_INTLIST:
        return na == 0 || memcmp(*(int *const *)pa, *(int *const *)pb, na * sizeof(int)) == 0;
    case CLM_CFG_STRMAP:
        for (size_t i = 0; i < na; i++) {
            const clm_kv *x = &(*(clm_kv *const *)pa)[i], *y = &(*(clm_kv *const *)pb)[i];
            if (!str_eq(x->key, y->key) || !str_eq(x->value, y->value))
                return false;
        }
        return true;
    case CLM_CFG_CUSTOM:
        if (strcmp(row->path, "lifecycle.inactive_types") == 0)
            return *(const uint32_t *)pa == *(const uint32_t *)pb;
        if (strcmp(row->path, "event_types") == 0)
            return clm_custom_types_equal(*(const clm_custom_types *const *)pa,
                                          *(const clm_custom_types *const *)pb);
        if (strcmp(row->path, "traits") == 0)
            return clm_trait_set_equal(*(const clm_trait_set *const *)pa,
                                       *(const clm_trait_set *const *)pb);
        if (strcmp(row->path, "breakdowns") == 0)
            return clm_breakdown_set_equal(*(const clm_breakdown_set *const *)pa,
                                           *(const clm_breakdown_set *const *)pb);
        if (strcmp(row->path, "segments") == 0 || strcmp(row->path, "rfm.segments") == 0)
            return clm_cfg_json_equal(*(json_t *const *)pa, *(json_t *const *)pb);
        return strcmp(row->path, "lifecycle.rules") == 0 ? rules_equal(a, b) : false;
    }
    return false;
}

bool clm_config_same_stages(const clm_config *cur, const clm_config *next)
{
    if (cur->lifecycle_stage_count != next->lifecycle_stage_count ||
        !str_eq(cur->lifecycle_churned_stage, next->lifecycle_churned_stage) ||
        !str_eq(cur->lifecycle_reactivated_stage, next->lifecycle_reactivated_stage) ||
        !clm_custom_types_equal(cur->event_types, next->event_types))
        return false; /* rules name event types by their index in event_types */
    for (size_t i = 0; i < cur->lifecycle_stage_count; i++)
        if (!str_eq(cur->lifecycle_stages[i], next->lifecycle_stages[i]))
            return false;
    return true;
}

int clm_config_diff(const clm_config *cur, const clm_config *next,
                    void (*fn)(void *ctx, const char *path, bool live), void *ctx)
{
    int restart = 0;
    for (size_t i = 0; i < clm_config_key_count; i++) {
        const clm_cfg_key *row = &clm_config_keys[i];
        if (row_equal(row, cur, next))
            continue;
        bool live = clm_config_key_live(row->path);
        if (live && strncmp(row->path, "lifecycle.", 10) == 0 && !clm_config_same_stages(cur, next))
            live = false;
        if (!live)
            restart++;
        fn(ctx, row->path, live);
    }
    return restart;
}
