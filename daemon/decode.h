/* daemon/decode.h - message bytes -> validated clm_event, or a rejection.
 *
 * Two decoders implement this contract and must agree on every input:
 *   clm_decode_json  - the reference, built on jansson;
 *   clm_decode_fast  - the hot path, built on the jsmn tokenizer.
 * "Agree" means: the same return value, the same clm_event (every field) on
 * success, the same clm_reason on failure (detail text may differ).
 *
 * Thread-safety: both functions are reentrant; call from any thread.
 */
#ifndef CLM_DAEMON_DECODE_H
#define CLM_DAEMON_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/reject.h"

typedef enum clm_unknown_policy {
    CLM_UNKNOWN_ACTIVITY = 0, /* accept as CLM_EV_OTHER (generic activity) */
    CLM_UNKNOWN_REJECT = 1,   /* reject with CLM_REJ_UNKNOWN_TYPE */
} clm_unknown_policy;

typedef struct clm_decode_opts {
    size_t max_bytes;              /* larger messages: CLM_REJ_TOO_LARGE */
    int64_t max_future_ms;         /* ts > ref_ms + max_future_ms: CLM_REJ_FUTURE_TIMESTAMP */
    clm_unknown_policy unknown_type;
    const struct clm_trait_set *traits; /* configured traits (core/trait.h); NULL: none */
    const struct clm_custom_types *event_types; /* configured event types (core/evtype.h);
                                                   NULL: none */
} clm_decode_opts;

/* What the transport knows about a message. */
typedef struct clm_msg_meta {
    const char *key; /* message key, or NULL when the message has none */
    size_t key_len;
    int64_t ref_ms;  /* message timestamp (epoch ms) the future check is relative
                        to; the caller passes wall-clock time when the message
                        carries no timestamp */
} clm_msg_meta;

/* Decodes and validates one message.
 * Returns 0 and fills *ev, or -EINVAL and fills *rej (*ev is then unspecified).
 * Validation order (first failure wins, identical in both decoders):
 *   1. size > max_bytes                         -> too_large
 *   2. invalid UTF-8 anywhere in the bytes      -> invalid_utf8
 *   3. not one well-formed JSON value (syntax, bad escape, bad number, integer
 *      overflow, real overflow, nesting deeper than 2048, duplicate object
 *      key, \u0000 in a string, a raw NUL byte, trailing garbage) -> invalid_json
 *   4. top level not an object                  -> not_object
 *   5. field checks in this order: type, customer_id, event_id, ts, amount,
 *      score, duration_s, anonymous_id (identify only; see README "Event
 *      contract" and "Identity merge"), then each configured trait in config
 *      order (bad_trait, README "Traits"), then what a configured event type
 *      requires (missing_field), then, for an event
 *      with a customer_id, missing_key (no key or an empty one) and
 *      key_mismatch. */
int clm_decode_json(const char *buf, size_t len, const clm_msg_meta *meta,
                    const clm_decode_opts *opts, clm_event *ev, clm_reject *rej);

int clm_decode_fast(const char *buf, size_t len, const clm_msg_meta *meta,
                    const clm_decode_opts *opts, clm_event *ev, clm_reject *rej);

#endif
