/* core/event.h - a decoded, validated customer interaction event.
 *
 * This is the only shape in which events enter the core. Decoders (daemon/)
 * turn message bytes into a clm_event or a rejection (core/reject.h); the core
 * never sees JSON text.
 *
 * Money is fixed-point: amounts are kept in micro-units (1e-6) in an int64, so
 * sums are exact, order-independent and round-trip through Redis unchanged.
 * Durations are kept in milliseconds for the same reason.
 *
 * One amount is at most CLM_AMOUNT_MAX_MICROS (10^18), so a sum of nine
 * always fits in an int64 but ten may not: every money sum (per customer,
 * per bucket, the portfolio) is added with clm_sat_add and stops at
 * INT64_MAX (INT64_MIN for a falling one) instead of wrapping.
 */
#ifndef CLM_CORE_EVENT_H
#define CLM_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Maximum length in bytes of customer_id and event_id (the v1 contract). */
#define CLM_ID_MAX 128
/* Maximum length in bytes of the "type" string. */
#define CLM_TYPE_MAX 64
/* Largest accepted amount: 10^12 whole currency units, in micro-units. */
#define CLM_AMOUNT_MAX_MICROS 1000000000000000000LL
/* "No time": a timestamp field that has no value yet. */
#define CLM_NO_TS INT64_MIN

/* Largest accepted duration_s (one year). */
#define CLM_DURATION_MAX_S 31536000.0

typedef enum clm_event_type {
    CLM_EV_OTHER = 0, /* a type outside the built-in list, accepted as generic activity */
    CLM_EV_VISIT,
    CLM_EV_SIGNUP,
    CLM_EV_LEAD_CONTACTED,
    CLM_EV_PURCHASE,
    CLM_EV_REFUND,
    CLM_EV_ONBOARDING_COMPLETE,
    CLM_EV_LOGIN,
    CLM_EV_SESSION,
    CLM_EV_FEATURE_USE,
    CLM_EV_SUPPORT_TICKET,
    CLM_EV_CSAT_RESPONSE,
    CLM_EV_NPS_RESPONSE,
    CLM_EV_REFERRAL,
    CLM_EV_REVIEW,
    CLM_EV_UPGRADE,
    CLM_EV_DOWNGRADE,
    CLM_EV_PAYMENT_FAILED,
    CLM_EV_CANCEL,
    CLM_EV_MARKETING_SPEND,
    CLM_EV_IDENTIFY, /* customer_id (known) merges in anonymous_id (README "Identity merge") */
    CLM_EV_FORGET,   /* an erasure request: never applied to a customer (core/shard.h) */
    CLM_EV__COUNT
} clm_event_type;

/* clm_event.activity: decided by the type (lifecycle.inactive_types), or
 * by a configured event type's "activity". */
#define CLM_ACT_BY_TYPE 0
#define CLM_ACT_YES 1
#define CLM_ACT_NO 2

/* Trait values an event can carry (core/trait.h): at most CLM_EV_TRAITS of
 * them, their string bytes together at most CLM_EV_TRAIT_BYTES. */
#define CLM_EV_TRAITS 8
#define CLM_EV_TRAIT_BYTES 256

/* One trait value as read from an event; kind 0 (CLM_TRAIT_NONE): the event
 * carries no (valid) value for the trait. */
typedef struct clm_ev_trait {
    double num;   /* kind NUM */
    uint16_t off; /* kind STR: the bytes are trait_str[off .. off + len) */
    uint16_t len;
    uint8_t kind; /* clm_trait_kind */
    uint8_t b;    /* kind BOOL: 0 or 1 */
} clm_ev_trait;

typedef struct clm_event {
    clm_event_type type;
    int64_t ts_ms;         /* event time, epoch milliseconds UTC */
    int64_t amount_micros; /* amount in 1e-6 units; valid if has_amount */
    int64_t duration_ms;   /* duration_s * 1000, rounded; valid if has_duration */
    int32_t score;         /* valid if has_score */
    uint8_t has_customer : 1, has_event_id : 1, has_amount : 1, has_score : 1, has_duration : 1,
        has_anonymous : 1;
    uint8_t activity;        /* CLM_ACT_*: whether the event is activity */
    uint8_t custom;          /* 0, or 1 + the index of its configured event type
                                (core/evtype.h); type is then that type's meaning */
    uint8_t customer_id_len; /* 1..CLM_ID_MAX when has_customer */
    uint8_t anonymous_id_len; /* 1..CLM_ID_MAX when has_anonymous (identify only) */
    uint8_t event_id_len;    /* 0..CLM_ID_MAX when has_event_id */
    uint8_t type_len;        /* length of type_name */
    char customer_id[CLM_ID_MAX + 1]; /* NUL-terminated copy */
    char event_id[CLM_ID_MAX + 1];    /* NUL-terminated copy */
    char type_name[CLM_TYPE_MAX + 1]; /* the type string as sent (NUL-terminated) */
    char anonymous_id[CLM_ID_MAX + 1]; /* identify: the id merged in (NUL-terminated) */
    clm_ev_trait trait[CLM_EV_TRAITS]; /* by configured trait index (core/trait.h) */
    char trait_str[CLM_EV_TRAIT_BYTES]; /* the bytes of the string values, packed */
} clm_event;

/* Returns the canonical name of a built-in type ("purchase"), or "other". */
const char *clm_event_type_name(clm_event_type t);

/* Looks up a built-in type by name (not NUL-terminated). Returns the type,
 * or CLM_EV_OTHER when the name is not a built-in type. */
clm_event_type clm_event_type_from_name(const char *name, size_t len);

/* Reads an amount exactly from the text of a JSON number (RFC 8259 grammar:
 * optional '-', an integer part without leading zeros, optional fraction,
 * optional exponent), digit by digit, without going through a double.
 * Returns 0 and sets *micros (0..CLM_AMOUNT_MAX_MICROS); -ERANGE when the
 * value is negative (negative zero is 0), above 10^12, or not a whole number
 * of micro-units (a non-zero digit past the 6th decimal, exponent applied);
 * -EINVAL when s is not a JSON number. *micros is untouched on failure. */
int clm_amount_parse(const char *s, size_t len, int64_t *micros);

/* a + b, stopping at INT64_MAX or INT64_MIN instead of overflowing. */
static inline int64_t clm_sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Writes v in decimal (no NUL) into buf, which must hold 20 bytes; returns
 * the length. A fast, locale-free snprintf("%" PRId64) for hot paths. */
int clm_i64_format(int64_t v, char *buf);

/* Formats micro-units as a plain decimal ("49.9", "12", "0.000001", "-1.5")
 * into buf. Returns the length written (excluding NUL), or -ENOSPC when size
 * is too small; 32 bytes always suffice. */
int clm_micros_format(int64_t micros, char *buf, size_t size);

/* Parses what clm_micros_format writes (and any decimal with <= 6 fraction
 * digits). Returns 0, or -EINVAL with *out untouched. */
int clm_micros_parse(const char *s, size_t len, int64_t *out);

#endif
