/* core/reject.h - why an input message was not applied.
 *
 * Every rejected message goes to the dead-letter topic with the reason's
 * name in its headers and is counted per reason. The names are a public
 * contract (DLQ headers, Redis <prefix>rejected hash, metrics): never rename.
 */
#ifndef CLM_CORE_REJECT_H
#define CLM_CORE_REJECT_H

#include <stddef.h>

typedef enum clm_reason {
    CLM_REJ_NONE = 0,
    CLM_REJ_TOO_LARGE,        /* "too_large": message larger than events.max_bytes */
    CLM_REJ_INVALID_UTF8,     /* "invalid_utf8": bytes are not valid UTF-8 */
    CLM_REJ_INVALID_JSON,     /* "invalid_json": not JSON (syntax, escapes, numbers, depth, duplicate keys, NUL) */
    CLM_REJ_NOT_OBJECT,       /* "not_object": JSON, but the top level is not an object */
    CLM_REJ_MISSING_FIELD,    /* "missing_field": a required field is absent */
    CLM_REJ_WRONG_TYPE,       /* "wrong_type": a known field has the wrong JSON type */
    CLM_REJ_BAD_CUSTOMER_ID,  /* "bad_customer_id": empty or longer than 128 bytes */
    CLM_REJ_BAD_EVENT_ID,     /* "bad_event_id": longer than 128 bytes */
    CLM_REJ_BAD_TYPE,         /* "bad_type": empty or longer than 64 bytes */
    CLM_REJ_UNKNOWN_TYPE,     /* "unknown_type": neither built in nor configured, and
                                 events.unknown_type = reject */
    CLM_REJ_BAD_TIMESTAMP,    /* "bad_timestamp": ts does not parse (RFC 3339 or integer epoch ms) */
    CLM_REJ_FUTURE_TIMESTAMP, /* "future_timestamp": ts beyond events.max_future_s after the message time */
    CLM_REJ_BAD_AMOUNT,       /* "bad_amount": negative, above 1e12, or finer than 1e-6 */
    CLM_REJ_BAD_SCORE,        /* "bad_score": out of range for the type */
    CLM_REJ_BAD_DURATION,     /* "bad_duration": negative, or above one year */
    CLM_REJ_MISSING_KEY,      /* "missing_key": an event with a customer_id has no message key */
    CLM_REJ_KEY_MISMATCH,     /* "key_mismatch": message key present and != customer_id */
    CLM_REJ_LATE_DROPPED,     /* "late_dropped": older than its partition's watermark */
    CLM_REJ_BAD_TRAIT,        /* "bad_trait": a trait field of the wrong type, or an empty or too
                                 long string, for a trait with on_invalid = reject */
    CLM_REJ__COUNT
} clm_reason;

/* A rejection: the reason and a one-line human explanation. */
typedef struct clm_reject {
    clm_reason reason;
    char detail[160];
} clm_reject;

/* Returns the public name of a reason ("invalid_json"); "none" for NONE. */
const char *clm_reason_name(clm_reason r);

/* Sets rej->reason and formats rej->detail (printf-style). Returns -EINVAL
 * so decoders can write `return clm_reject_set(rej, ...)`. */
int clm_reject_set(clm_reject *rej, clm_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
