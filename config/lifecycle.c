/* config/lifecycle.c - reading lifecycle.rules and compiling the lifecycle
 * section into the stage model (core/stages.h).
 */
#include "config/lifecycle.h"
#include "config/event_types.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct clm_cfg_rules {
    json_t *json;               /* private copy; every name below points into it */
    clm_stage_rule_spec *specs; /* one per rule */
    size_t n;
    const char **names; /* the on and from entries of every rule, rule after rule */
};

static const char rule_expect[] = "an object with \"on\" and \"to\"";
static const char member_expect[] = "one of \"on\", \"from\", \"to\", \"min_orders\", "
                                    "\"max_orders\", \"min_score\", \"max_score\"";
static const char on_expect[] = "a list of event type names, or \"*\"";
static const char from_expect[] = "a list of stage names (\"none\": no stage yet)";
static const char orders_expect[] = "a non-negative integer";
static const char score_expect[] = "an integer -2147483648..2147483647";

/* ---- reading the rule list ---------------------------------------------- */

/* Fills p for rule i (member NULL: the rule itself) and returns -EINVAL. */
static int rule_problem(clm_cfg_problem *p, size_t i, const char *member, const json_t *value,
                        const char *text, const char *expect)
{
    if (member)
        snprintf(p->at, sizeof p->at, "[%zu].%s", i, member);
    else
        snprintf(p->at, sizeof p->at, "[%zu]", i);
    p->value = value;
    p->text = text;
    p->expect = expect;
    return -EINVAL;
}

static bool all_strings(const json_t *a)
{
    for (size_t k = 0; k < json_array_size(a); k++)
        if (!json_is_string(json_array_get(a, k)))
            return false;
    return true;
}

/* Checks the shape of rule i and adds the number of its on and from names to
 * *nnames. */
static int check_rule(json_t *rule, size_t i, size_t *nnames, clm_cfg_problem *p)
{
    const char *k;
    json_t *v;

    if (!json_is_object(rule))
        return rule_problem(p, i, NULL, rule, "has the wrong type", rule_expect);
    json_object_foreach(rule, k, v) {
        if (clm_cfg_is_comment(k))
            continue;
        if (strcmp(k, "on") == 0) {
            if (json_is_string(v) && strcmp(json_string_value(v), "*") == 0) {
                *nnames += 1;
                continue;
            }
            if (!json_is_array(v) || !all_strings(v))
                return rule_problem(p, i, k, v, "has the wrong type", on_expect);
            if (json_array_size(v) == 0)
                return rule_problem(p, i, k, v, "is empty", on_expect);
            *nnames += json_array_size(v);
        } else if (strcmp(k, "from") == 0) {
            if (!json_is_array(v) || !all_strings(v))
                return rule_problem(p, i, k, v, "has the wrong type", from_expect);
            if (json_array_size(v) == 0)
                return rule_problem(p, i, k, v, "is empty", from_expect);
            *nnames += json_array_size(v);
        } else if (strcmp(k, "to") == 0) {
            if (!json_is_string(v))
                return rule_problem(p, i, k, v, "has the wrong type", "a stage name");
        } else if (strcmp(k, "min_orders") == 0 || strcmp(k, "max_orders") == 0) {
            if (!json_is_integer(v))
                return rule_problem(p, i, k, v, "has the wrong type", orders_expect);
            if (json_integer_value(v) < 0)
                return rule_problem(p, i, k, v, "is out of range", orders_expect);
        } else if (strcmp(k, "min_score") == 0 || strcmp(k, "max_score") == 0) {
            if (!json_is_integer(v))
                return rule_problem(p, i, k, v, "has the wrong type", score_expect);
            if (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
                return rule_problem(p, i, k, v, "is out of range", score_expect);
        } else {
            return rule_problem(p, i, k, v, "is not a rule member", member_expect);
        }
    }
    if (!json_object_get(rule, "on"))
        return rule_problem(p, i, NULL, rule, "has no \"on\"", rule_expect);
    if (!json_object_get(rule, "to"))
        return rule_problem(p, i, NULL, rule, "has no \"to\"", rule_expect);
    return 0;
}

/* Appends the strings of a (or the string a) to names at *used. */
static const char *const *take_names(const json_t *a, const char **names, size_t *used)
{
    const char *const *first = names + *used;

    if (json_is_string(a)) {
        names[(*used)++] = json_string_value(a);
        return first;
    }
    for (size_t k = 0; k < json_array_size(a); k++)
        names[(*used)++] = json_string_value(json_array_get(a, k));
    return first;
}

/* Fills spec from a rule that check_rule accepted. */
static void fill_spec(const json_t *rule, clm_stage_rule_spec *spec, const char **names,
                      size_t *used)
{
    const json_t *on = json_object_get(rule, "on"), *from = json_object_get(rule, "from");
    const json_t *v;

    *spec = (clm_stage_rule_spec){
        .non = json_is_string(on) ? 1 : json_array_size(on),
        .to = json_string_value(json_object_get(rule, "to")),
        .min_orders = -1,
        .max_orders = -1,
        .min_score = INT32_MIN,
        .max_score = INT32_MAX,
    };
    spec->on = take_names(on, names, used);
    if (from) {
        spec->nfrom = json_array_size(from);
        spec->from = take_names(from, names, used);
    }
    if ((v = json_object_get(rule, "min_orders")))
        spec->min_orders = json_integer_value(v);
    if ((v = json_object_get(rule, "max_orders")))
        spec->max_orders = json_integer_value(v);
    if ((v = json_object_get(rule, "min_score"))) {
        spec->min_score = (int32_t)json_integer_value(v);
        spec->has_score_cond = true;
    }
    if ((v = json_object_get(rule, "max_score"))) {
        spec->max_score = (int32_t)json_integer_value(v);
        spec->has_score_cond = true;
    }
}

int clm_cfg_rules_parse(json_t *v, void *field, clm_cfg_problem *problem)
{
    struct clm_cfg_rules *rules;
    size_t nnames = 0, used = 0;
    int r;

    if (!json_is_array(v)) {
        problem->text = "has the wrong type";
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        r = check_rule(json_array_get(v, i), i, &nnames, problem);
        if (r < 0)
            return r;
    }
    rules = calloc(1, sizeof *rules);
    if (!rules)
        return -ENOMEM;
    rules->json = json_deep_copy(v);
    rules->n = json_array_size(v);
    rules->specs = calloc(rules->n ? rules->n : 1, sizeof *rules->specs);
    rules->names = calloc(nnames ? nnames : 1, sizeof *rules->names);
    if (!rules->json || !rules->specs || !rules->names) {
        clm_cfg_rules_release(&rules);
        return -ENOMEM;
    }
    for (size_t i = 0; i < rules->n; i++)
        fill_spec(json_array_get(rules->json, i), &rules->specs[i], rules->names, &used);
    clm_cfg_rules_release(field);
    *(struct clm_cfg_rules **)field = rules;
    return 0;
}

/* ---- lifecycle.inactive_types ------------------------------------------ */

const char clm_cfg_inactive_expect[] = "a list of event type names other than \"purchase\" "
                                       "(\"other\": the types outside the built-in list)";

int clm_cfg_inactive_parse(json_t *v, void *field, clm_cfg_problem *problem)
{
    uint32_t mask = 0;

    if (!json_is_array(v)) {
        problem->text = "has the wrong type";
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        const char *name = json_string_value(e);
        size_t len = json_string_length(e);
        clm_event_type t = name ? clm_event_type_from_name(name, len) : CLM_EV_OTHER;

        snprintf(problem->at, sizeof problem->at, "[%zu]", i);
        problem->value = e;
        if (!name) {
            problem->text = "has the wrong type";
            return -EINVAL;
        }
        if (t == CLM_EV_OTHER && strcmp(name, "other") != 0) {
            problem->text = "is not an event type";
            return -EINVAL;
        }
        if (t == CLM_EV_PURCHASE) {
            problem->text = "is always activity";
            return -EINVAL;
        }
        mask |= 1u << t;
    }
    problem->at[0] = '\0';
    problem->value = NULL;
    *(uint32_t *)field = mask;
    return 0;
}

void clm_cfg_inactive_release(void *field)
{
    *(uint32_t *)field = 0;
}

void clm_cfg_rules_release(void *field)
{
    struct clm_cfg_rules **rules = field;

    if (!*rules)
        return;
    json_decref((*rules)->json);
    free((*rules)->specs);
    free((*rules)->names);
    free(*rules);
    *rules = NULL;
}

const clm_stage_rule_spec *clm_cfg_rules_specs(const struct clm_cfg_rules *rules, size_t *n)
{
    *n = rules ? rules->n : 0;
    return rules ? rules->specs : NULL;
}

/* ---- the model ---------------------------------------------------------- */

/* Whether rules equal lifecycle.rules' default. */
static bool rules_are_default(const struct clm_cfg_rules *rules)
{
    json_t *def = NULL;
    bool same;

    for (size_t i = 0; i < clm_config_key_count && !def; i++)
        if (strcmp(clm_config_keys[i].path, "lifecycle.rules") == 0)
            def = json_loads(clm_config_keys[i].def, 0, NULL);
    same = rules && def && json_equal(rules->json, def);
    json_decref(def);
    return same;
}

int clm_cfg_compile_stages(clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    clm_stages_spec spec = {
        .stages = (const char *const *)cfg->lifecycle_stages,
        .nstages = cfg->lifecycle_stage_count,
        .churned = cfg->lifecycle_churned_stage,
        .reactivated = cfg->lifecycle_reactivated_stage,
        .forward_only = cfg->lifecycle_forward_only,
    };
    clm_stages_problem p;
    clm_stages *m = NULL;
    int r;

    const char *custom[CLM_EV_CUSTOM_MAX];
    spec.rules = clm_cfg_rules_specs(cfg->lifecycle_rules, &spec.nrules);
    spec.custom_types = clm_cfg_event_type_names(cfg, custom, &spec.ncustom);
    r = clm_stages_compile(&spec, &m, &p);
    if (r == -ENOMEM) {
        clm_cfg_errorf(errbuf, errsize, "%s: out of memory", name);
        return r;
    }
    if (r < 0) {
        switch (p.part) {
        case CLM_STAGES_IN_RULE:
            clm_cfg_errorf(errbuf, errsize, "%s: lifecycle.rules[%zu].%s: %s%s", name, p.rule,
                           p.member, p.text,
                           rules_are_default(cfg->lifecycle_rules)
                               ? "; these are the default rules: set lifecycle.rules to rules"
                                 " for lifecycle.stages"
                               : "");
            break;
        case CLM_STAGES_IN_STAGES:
            clm_cfg_errorf(errbuf, errsize, "%s: lifecycle.stages: %s", name, p.text);
            break;
        case CLM_STAGES_IN_CHURNED:
            clm_cfg_errorf(errbuf, errsize, "%s: lifecycle.churned_stage: %s", name, p.text);
            break;
        case CLM_STAGES_IN_REACTIVATED:
            clm_cfg_errorf(errbuf, errsize, "%s: lifecycle.reactivated_stage: %s", name, p.text);
            break;
        }
        return r;
    }
    clm_stages_free(cfg->stages);
    cfg->stages = m;
    return 0;
}
