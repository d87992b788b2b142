/* config/breakdowns.c - the `breakdowns` key (see breakdowns.h). */
#include "config/breakdowns.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char clm_cfg_breakdowns_expect[] = "a list of at most 4 breakdown objects";

static const char member_expect[] = "one of \"dimension\", \"values\"";
static const char dim_expect[] = "\"trait:<name>\" naming a configured trait";
static const char values_expect[] = "a list of 1..32 distinct strings of 1..64 bytes, "
                                    "not \"other\" or \"(none)\"";

static int parse_values(json_t *v, size_t i, clm_breakdown_spec *s, clm_cfg_problem *p)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > CLM_BD_VALUES_MAX)
        return clm_cfg_item_problem(p, i, "values", v, "is not a list of 1..32 values",
                                    values_expect);
    for (size_t k = 0; k < json_array_size(v); k++) {
        json_t *e = json_array_get(v, k);
        const char *str = json_string_value(e);
        size_t n = str ? strlen(str) : 0;
        if (!str || n == 0 || n > CLM_TRAIT_STR_MAX || strcmp(str, "other") == 0 ||
            strcmp(str, "(none)") == 0 || strchr(str, '\t'))
            return clm_cfg_item_problem(p, i, "values", e, "is not a valid value", values_expect);
        for (size_t j = 0; j < k; j++)
            if (strcmp(s->values[j], str) == 0)
                return clm_cfg_item_problem(p, i, "values", e, "lists a value twice",
                                            values_expect);
        memcpy(s->values[k], str, n + 1);
    }
    s->nvalues = json_array_size(v);
    return 0;
}

static int parse_one(json_t *o, size_t i, clm_breakdown_spec *s, clm_cfg_problem *p)
{
    const char *k;
    json_t *v;
    bool have_dim = false, have_values = false;
    int r;

    if (!json_is_object(o))
        return clm_cfg_item_problem(p, i, NULL, o, "has the wrong type", "a breakdown object");
    memset(s, 0, sizeof(*s));
    s->trait_idx = -1;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "dimension") == 0) {
            const char *d = json_string_value(v);
            size_t n = d ? strlen(d) : 0;
            if (!d || n <= 6 || strncmp(d, "trait:", 6) != 0 || n - 6 > CLM_TRAIT_NAME_MAX)
                return clm_cfg_item_problem(p, i, "dimension", v, "is not a trait dimension",
                                            dim_expect);
            memcpy(s->trait, d + 6, n - 6 + 1);
            have_dim = true;
        } else if (strcmp(k, "values") == 0) {
            if ((r = parse_values(v, i, s, p)) < 0)
                return r;
            have_values = true;
        } else {
            snprintf(p->at, sizeof p->at, "[%zu].%s", i, k);
            p->value = v;
            p->text = "is not a breakdown member";
            p->expect = member_expect;
            return -EINVAL;
        }
    }
    if (!have_dim)
        return clm_cfg_item_problem(p, i, NULL, o, "has no \"dimension\"", dim_expect);
    if (!have_values)
        return clm_cfg_item_problem(p, i, NULL, o, "has no \"values\"", values_expect);
    return 0;
}

int clm_cfg_breakdowns_parse(json_t *v, void *field, clm_cfg_problem *p)
{
    clm_breakdown_set *set;
    int r;

    if (!json_is_array(v)) {
        p->text = "has the wrong type";
        return -EINVAL;
    }
    if (json_array_size(v) > CLM_BD_MAX) {
        p->text = "has too many breakdowns";
        return -EINVAL;
    }
    set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *o = json_array_get(v, i);
        if ((r = parse_one(o, i, &set->d[i], p)) < 0)
            goto out_free_set;
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->d[j].trait, set->d[i].trait) == 0) {
                r = clm_cfg_item_problem(p, i, "dimension", json_object_get(o, "dimension"),
                                         "names a dimension twice",
                                         "a dimension no other breakdown names");
                goto out_free_set;
            }
        set->n = i + 1;
    }
    clm_cfg_breakdowns_release(field);
    *(clm_breakdown_set **)field = set;
    return 0;

out_free_set:
    free(set);
    return r;
}

void clm_cfg_breakdowns_release(void *field)
{
    free(*(clm_breakdown_set **)field);
    *(clm_breakdown_set **)field = NULL;
}

/* Whether text is a value trait t can take, written as the view writes it. */
static bool value_fits(const clm_trait_spec *t, const char *text)
{
    size_t n = strlen(text);
    if (t->update == CLM_TRAIT_DISTINCT || t->type == CLM_TRAIT_NUM) {
        char *end, buf[CLM_BD_VALUE_MAX];
        double x = strtod(text, &end);
        if (*end || !isfinite(x))
            return false;
        clm_trait_value v = { .kind = CLM_TRAIT_NUM, .num = x };
        size_t m = clm_trait_format(&v, buf, sizeof(buf));
        return m == n && memcmp(buf, text, n) == 0;
    }
    if (t->type == CLM_TRAIT_BOOL)
        return strcmp(text, "true") == 0 || strcmp(text, "false") == 0;
    return n <= t->max_len;
}

int clm_cfg_check_breakdowns(clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    clm_breakdown_set *set = cfg->breakdowns;

    for (size_t i = 0; set && i < set->n; i++) {
        clm_breakdown_spec *s = &set->d[i];
        int ti = clm_trait_set_index(cfg->traits, s->trait, strlen(s->trait));
        if (ti < 0) {
            clm_cfg_errorf(errbuf, errsize,
                           "%s: breakdowns[%zu].dimension: \"trait:%s\" names no configured "
                           "trait (expected %s)", name, i, s->trait, dim_expect);
            return -EINVAL;
        }
        s->trait_idx = ti;
        const clm_trait_spec *t = &cfg->traits->t[ti];
        for (size_t k = 0; k < s->nvalues; k++)
            if (!value_fits(t, s->values[k])) {
                clm_cfg_errorf(errbuf, errsize,
                               "%s: breakdowns[%zu].values: \"%s\" is not a value trait %s "
                               "can take (expected %s)", name, i, s->values[k], s->trait,
                               t->type == CLM_TRAIT_STR && t->update != CLM_TRAIT_DISTINCT
                                   ? "a string no longer than the trait's max_len"
                                   : t->type == CLM_TRAIT_BOOL && t->update != CLM_TRAIT_DISTINCT
                                         ? "\"true\" or \"false\""
                                         : "a number written as the view writes it, e.g. 10 or 2.5");
                return -EINVAL;
            }
    }
    return 0;
}

bool clm_breakdown_set_equal(const clm_breakdown_set *a, const clm_breakdown_set *b)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        const clm_breakdown_spec *x = &a->d[i], *y = &b->d[i];
        if (strcmp(x->trait, y->trait) != 0 || x->nvalues != y->nvalues)
            return false;
        for (size_t k = 0; k < x->nvalues; k++)
            if (strcmp(x->values[k], y->values[k]) != 0)
                return false;
    }
    return true;
}
