/* config/traits.c - the `traits` key: a list of trait objects compiled into
 * a clm_trait_set (core/trait.h), each member checked where it is written.
 */
#include "config/traits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char clm_cfg_traits_expect[] = "a list of at most 8 trait objects";

static const char member_expect[] = "one of \"name\", \"field\", \"type\", \"update\", "
                                    "\"max_len\", \"max_distinct\", \"on_invalid\"";
static const char name_expect[] = "1..32 characters of A-Z, a-z, 0-9 and _";
static const char field_expect[] = "a member name of 1..64 bytes, or \"properties.\" and one; "
                                   "not a field of the event contract";
static const char type_expect[] = "\"string\", \"number\" or \"boolean\"";
static const char update_expect[] = "\"latest\", \"first\", \"max\", \"sum\" or \"count_distinct\"";
static const char len_expect[] = "an integer 1..64";
static const char distinct_expect[] = "an integer 1..16";
static const char invalid_expect[] = "\"reject\" or \"ignore\"";

/* The top-level members the event contract gives a meaning. */
static const char *const contract_fields[] = {
    "type", "customer_id", "event_id", "ts", "amount", "score", "duration_s", "properties", NULL,
};

static bool name_chars_ok(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char c = s[k];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int pick(const char *s, const char *const *names)
{
    for (int k = 0; names[k]; k++)
        if (strcmp(s, names[k]) == 0)
            return k;
    return -1;
}

/* Reads trait object i into t. */
static int parse_one(json_t *o, size_t i, clm_trait_spec *t, clm_cfg_problem *p)
{
    static const char *const types[] = {"string", "number", "boolean", NULL};
    static const char *const updates[] = {"latest", "first", "max", "sum", "count_distinct", NULL};
    static const char *const invalid[] = {"reject", "ignore", NULL};
    json_t *len = NULL, *distinct = NULL, *v;
    const char *field = NULL, *k;
    int x;

    if (!json_is_object(o))
        return clm_cfg_item_problem(p, i, NULL, o, "has the wrong type", "a trait object");
    memset(t, 0, sizeof(*t));
    t->update = CLM_TRAIT_LATEST;
    t->reject_invalid = true;
    t->max_len = CLM_TRAIT_STR_MAX;
    t->max_distinct = 8;
    json_object_foreach(o, k, v) {
        const char *s = json_string_value(v);

        if (clm_cfg_is_comment(k))
            continue;
        if (strcmp(k, "name") == 0) {
            if (!s)
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", name_expect);
            size_t n = json_string_length(v);
            if (n == 0 || n > CLM_TRAIT_NAME_MAX || !name_chars_ok(s, n))
                return clm_cfg_item_problem(p, i, k, v, "is not a valid trait name", name_expect);
            memcpy(t->name, s, n + 1);
        } else if (strcmp(k, "field") == 0) {
            if (!s)
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", field_expect);
            field = s;
        } else if (strcmp(k, "type") == 0) {
            if (!s || (x = pick(s, types)) < 0)
                return clm_cfg_item_problem(p, i, k, v, "is not a trait type", type_expect);
            t->type = (clm_trait_kind)(x + 1);
        } else if (strcmp(k, "update") == 0) {
            if (!s || (x = pick(s, updates)) < 0)
                return clm_cfg_item_problem(p, i, k, v, "is not an update rule", update_expect);
            t->update = (clm_trait_update)x;
        } else if (strcmp(k, "on_invalid") == 0) {
            if (!s || (x = pick(s, invalid)) < 0)
                return clm_cfg_item_problem(p, i, k, v, "is not a choice", invalid_expect);
            t->reject_invalid = x == 0;
        } else if (strcmp(k, "max_len") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > CLM_TRAIT_STR_MAX)
                return clm_cfg_item_problem(p, i, k, v, "is out of range", len_expect);
            len = v;
            t->max_len = (unsigned)json_integer_value(v);
        } else if (strcmp(k, "max_distinct") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > CLM_TRAIT_DISTINCT_MAX)
                return clm_cfg_item_problem(p, i, k, v, "is out of range", distinct_expect);
            distinct = v;
            t->max_distinct = (unsigned)json_integer_value(v);
        } else {
            return clm_cfg_item_problem(p, i, k, v, "is not a trait member", member_expect);
        }
    }
    if (!t->name[0])
        return clm_cfg_item_problem(p, i, NULL, o, "has no \"name\"",
                                    "a trait object with \"name\" and \"type\"");
    if (t->type == CLM_TRAIT_NONE)
        return clm_cfg_item_problem(p, i, NULL, o, "has no \"type\"",
                                    "a trait object with \"name\" and \"type\"");
    if ((t->update == CLM_TRAIT_MAXIMUM || t->update == CLM_TRAIT_SUM) && t->type != CLM_TRAIT_NUM)
        return clm_cfg_item_problem(p, i, "update", json_object_get(o, "update"),
                                    "needs a number trait",
                                    "\"latest\", \"first\" or \"count_distinct\"");
    if (len && t->type != CLM_TRAIT_STR)
        return clm_cfg_item_problem(p, i, "max_len", len, "applies to string traits only",
                                    "no max_len");
    if (distinct && t->update != CLM_TRAIT_DISTINCT)
        return clm_cfg_item_problem(p, i, "max_distinct", distinct,
                                    "applies to count_distinct only", "no max_distinct");
    if (!field)
        field = t->name;
    bool props = strncmp(field, "properties.", 11) == 0;
    const char *key = props ? field + 11 : field;
    size_t n = strlen(key);
    if (n == 0 || n > CLM_TRAIT_FIELD_MAX || (!props && pick(key, contract_fields) >= 0))
        return clm_cfg_item_problem(p, i, json_object_get(o, "field") ? "field" : "name",
                                    json_object_get(o, "field") ? json_object_get(o, "field")
                                                                : json_object_get(o, "name"),
                                    "cannot hold a trait", field_expect);
    memcpy(t->field, key, n + 1);
    t->field_len = (uint8_t)n;
    t->in_properties = props;
    snprintf(t->view_field, sizeof t->view_field, "trait:%s", t->name);
    return 0;
}

int clm_cfg_traits_parse(json_t *v, void *field, clm_cfg_problem *p)
{
    clm_trait_set *set;
    unsigned bytes = 0;
    int r;

    if (!json_is_array(v)) {
        p->text = "has the wrong type";
        return -EINVAL;
    }
    if (json_array_size(v) > CLM_TRAITS_MAX) {
        p->text = "has too many traits";
        return -EINVAL;
    }
    set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *o = json_array_get(v, i);
        clm_trait_spec *t = &set->t[i];

        if ((r = parse_one(o, i, t, p)) < 0)
            goto out_free_set;
        if (clm_trait_set_index(set, t->name, strlen(t->name)) >= 0) {
            r = clm_cfg_item_problem(p, i, "name", json_object_get(o, "name"),
                                     "names a trait twice", "a name no other trait has");
            goto out_free_set;
        }
        if (clm_trait_set_field(set, t->field, t->field_len, t->in_properties) >= 0) {
            r = clm_cfg_item_problem(p, i, "field", json_object_get(o, "field"),
                                     "is read by another trait", "a field no other trait reads");
            goto out_free_set;
        }
        if (t->type == CLM_TRAIT_STR && (bytes += t->max_len) > CLM_EV_TRAIT_BYTES) {
            r = clm_cfg_item_problem(p, i, NULL, o, "makes the string traits too long",
                                     "max_len of all string traits together at most 256");
            goto out_free_set;
        }
        set->n = i + 1;
    }
    clm_cfg_traits_release(field);
    *(clm_trait_set **)field = set;
    return 0;

out_free_set:
    free(set);
    return r;
}

void clm_cfg_traits_release(void *field)
{
    free(*(clm_trait_set **)field);
    *(clm_trait_set **)field = NULL;
}

int clm_trait_index(const clm_config *cfg, const char *name, size_t len)
{
    return clm_trait_set_index(cfg->traits, name, len);
}
