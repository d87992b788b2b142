/* config/event_types.c - the `event_types` key: configured event types
 * compiled into a clm_custom_types (core/evtype.h), and the check, once
 * every key is read, that what they require exists.
 */
#include "config/event_types.h"
#include "core/trait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char clm_cfg_event_types_expect[] = "a list of at most 8 event type objects";

static const char member_expect[] = "one of \"name\", \"as\", \"activity\", \"required\"";
static const char name_expect[] = "a type name of 1..64 bytes that is not a built-in type";
static const char as_expect[] = "a built-in event type name, or \"other\"";
static const char required_expect[] =
    "a list of at most 8 of \"customer_id\", \"event_id\", \"amount\", \"score\", "
    "\"duration_s\" and trait names";

static const struct {
    const char *name;
    uint32_t bit;
} req_fields[] = {
    {"customer_id", CLM_REQ_CUSTOMER_ID}, {"event_id", CLM_REQ_EVENT_ID},
    {"amount", CLM_REQ_AMOUNT},           {"score", CLM_REQ_SCORE},
    {"duration_s", CLM_REQ_DURATION},
};

static int parse_required(json_t *v, size_t i, clm_custom_type *t, clm_cfg_problem *p)
{
    if (!json_is_array(v) || json_array_size(v) > CLM_REQ_MAX)
        return clm_cfg_item_problem(p, i, "required", v, "has the wrong type", required_expect);
    for (size_t k = 0; k < json_array_size(v); k++) {
        json_t *e = json_array_get(v, k);
        const char *s = json_string_value(e);
        size_t n = json_string_length(e);
        bool field = false;

        if (!s || n == 0 || n > CLM_TYPE_MAX)
            return clm_cfg_item_problem(p, i, "required", e, "is not a field name",
                                        required_expect);
        for (size_t f = 0; f < sizeof(req_fields) / sizeof(req_fields[0]); f++) {
            if (strcmp(s, req_fields[f].name) == 0) {
                t->req_fields |= req_fields[f].bit;
                field = true;
            }
        }
        if (!field && (strcmp(s, "type") == 0 || strcmp(s, "ts") == 0))
            return clm_cfg_item_problem(p, i, "required", e, "is always required", required_expect);
        memcpy(t->req_names[t->nreq++], s, n + 1);
    }
    return 0;
}

static int parse_one(json_t *o, size_t i, clm_custom_type *t, clm_cfg_problem *p)
{
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return clm_cfg_item_problem(p, i, NULL, o, "has the wrong type", "an event type object");
    memset(t, 0, sizeof(*t));
    t->as = CLM_EV_OTHER;
    t->activity = CLM_ACT_BY_TYPE;
    json_object_foreach(o, k, v) {
        const char *s = json_string_value(v);
        int r;

        if (clm_cfg_is_comment(k))
            continue;
        if (strcmp(k, "name") == 0) {
            size_t n = json_string_length(v);
            if (!s || n == 0 || n > CLM_TYPE_MAX)
                return clm_cfg_item_problem(p, i, k, v, "is not a valid type name", name_expect);
            if (clm_event_type_from_name(s, n) != CLM_EV_OTHER || strcmp(s, "other") == 0)
                return clm_cfg_item_problem(p, i, k, v, "is a built-in type", name_expect);
            memcpy(t->name, s, n + 1);
            t->len = (uint8_t)n;
        } else if (strcmp(k, "as") == 0) {
            if (!s)
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", as_expect);
            t->as = clm_event_type_from_name(s, json_string_length(v));
            if (t->as == CLM_EV_OTHER && strcmp(s, "other") != 0)
                return clm_cfg_item_problem(p, i, k, v, "is not a built-in event type", as_expect);
        } else if (strcmp(k, "activity") == 0) {
            if (!json_is_boolean(v))
                return clm_cfg_item_problem(p, i, k, v, "has the wrong type", "true or false");
            t->activity = json_is_true(v) ? CLM_ACT_YES : CLM_ACT_NO;
        } else if (strcmp(k, "required") == 0) {
            if ((r = parse_required(v, i, t, p)) < 0)
                return r;
        } else {
            return clm_cfg_item_problem(p, i, k, v, "is not an event type member", member_expect);
        }
    }
    if (!t->name[0])
        return clm_cfg_item_problem(p, i, NULL, o, "has no \"name\"",
                                    "an event type object with \"name\"");
    if (t->as == CLM_EV_PURCHASE && t->activity == CLM_ACT_NO)
        return clm_cfg_item_problem(p, i, "activity", json_object_get(o, "activity"),
                                    "cannot be false for a purchase", "true, or no \"activity\"");
    return 0;
}

int clm_cfg_event_types_parse(json_t *v, void *field, clm_cfg_problem *p)
{
    clm_custom_types *set;
    int r;

    if (!json_is_array(v)) {
        p->text = "has the wrong type";
        return -EINVAL;
    }
    if (json_array_size(v) > CLM_EV_CUSTOM_MAX) {
        p->text = "has too many event types";
        return -EINVAL;
    }
    set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *o = json_array_get(v, i);
        clm_custom_type *t = &set->t[i];

        if ((r = parse_one(o, i, t, p)) < 0)
            goto out_free_set;
        if (clm_custom_type_index(set, t->name, t->len) >= 0) {
            r = clm_cfg_item_problem(p, i, "name", json_object_get(o, "name"),
                                     "names an event type twice", "a name no other event type has");
            goto out_free_set;
        }
        set->n = i + 1;
    }
    clm_cfg_event_types_release(field);
    *(clm_custom_types **)field = set;
    return 0;

out_free_set:
    free(set);
    return r;
}

void clm_cfg_event_types_release(void *field)
{
    free(*(clm_custom_types **)field);
    *(clm_custom_types **)field = NULL;
}

int clm_cfg_check_event_types(clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    clm_custom_types *set = cfg->event_types;

    for (size_t i = 0; set && i < set->n; i++) {
        clm_custom_type *t = &set->t[i];

        t->req_traits = 0;
        for (size_t k = 0; k < t->nreq; k++) {
            const char *s = t->req_names[k];
            bool field = false;

            for (size_t f = 0; f < sizeof(req_fields) / sizeof(req_fields[0]); f++)
                field |= strcmp(s, req_fields[f].name) == 0;
            if (field)
                continue;
            int ti = clm_trait_set_index(cfg->traits, s, strlen(s));
            if (ti < 0) {
                clm_cfg_errorf(errbuf, errsize,
                               "%s: event_types[%zu].required: \"%s\" is neither a field of the "
                               "event contract nor a configured trait (expected %s)",
                               name, i, s, required_expect);
                return -EINVAL;
            }
            t->req_traits |= (uint8_t)(1u << ti);
        }
    }
    return 0;
}

const char *const *clm_cfg_event_type_names(const clm_config *cfg, const char **names, size_t *n)
{
    *n = cfg->event_types ? cfg->event_types->n : 0;
    for (size_t i = 0; i < *n; i++)
        names[i] = cfg->event_types->t[i].name;
    return names;
}
