/* core/evtype.h - event types declared in the configuration ("custom
 * types"), each given the meaning of a built-in type.
 *
 * A custom type such as "trial_started" or "subscription_renewed" is
 * declared with `as`, the built-in type whose meaning it takes ("other", the
 * default: generic activity, as a type outside the built-in list), whether
 * it is activity (default: as its meaning under lifecycle.inactive_types)
 * and the fields it requires. A decoder resolves its name into
 * clm_event.type = the meaning (so it counts in every KPI, risk signal and
 * amount or score rule exactly as that built-in type), clm_event.custom =
 * 1 + its index (so stage rules can name it) and clm_event.activity.
 *
 * Immutable once configured; share freely.
 */
#ifndef CLM_CORE_EVTYPE_H
#define CLM_CORE_EVTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/* At most this many custom types: their stage-rule bits follow the
 * built-in types' in a uint32_t mask. */
#define CLM_EV_CUSTOM_MAX 8
_Static_assert(CLM_EV__COUNT + CLM_EV_CUSTOM_MAX <= 32, "event types must fit a uint32_t mask");

/* Contract fields a custom type can require (clm_custom_type.req_fields). */
#define CLM_REQ_CUSTOMER_ID (1u << 0)
#define CLM_REQ_EVENT_ID (1u << 1)
#define CLM_REQ_AMOUNT (1u << 2)
#define CLM_REQ_SCORE (1u << 3)
#define CLM_REQ_DURATION (1u << 4)

/* Most entries of a custom type's "required". */
#define CLM_REQ_MAX 8

typedef struct clm_custom_type {
    char name[CLM_TYPE_MAX + 1];
    uint8_t len;
    clm_event_type as;   /* its meaning; CLM_EV_OTHER: generic activity */
    uint8_t activity;    /* CLM_ACT_BY_TYPE, CLM_ACT_YES or CLM_ACT_NO */
    uint32_t req_fields; /* CLM_REQ_* */
    uint8_t req_traits;  /* bit i: configured trait i (core/trait.h) must have a valid value */
    /* "required" as written: contract field or trait names */
    char req_names[CLM_REQ_MAX][CLM_TYPE_MAX + 1];
    uint8_t nreq;
} clm_custom_type;

typedef struct clm_custom_types {
    size_t n;
    clm_custom_type t[CLM_EV_CUSTOM_MAX];
} clm_custom_types;

/* Index of the custom type named name (not NUL-terminated) in set (NULL:
 * none), or -1. */
int clm_custom_type_index(const clm_custom_types *set, const char *name, size_t len);

/* The stage-rule bit of an event: its meaning's, plus its custom type's. */
static inline uint32_t clm_event_rule_bits(const clm_event *ev)
{
    uint32_t bits = (uint32_t)1 << ev->type;

    if (ev->custom)
        bits |= (uint32_t)1 << (CLM_EV__COUNT + ev->custom - 1);
    return bits;
}

/* Whether two sets declare the same types (NULL: none). */
bool clm_custom_types_equal(const clm_custom_types *a, const clm_custom_types *b);

#endif
