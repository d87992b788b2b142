/* daemon/decode_util.h - what both event decoders share once JSON is parsed.
 *
 * Each decoder checks size and UTF-8 with the functions here, parses the JSON
 * its own way, then describes the eight contract fields as clm_jval values and
 * hands them to clm_decode_apply, so the field rules exist exactly once.
 */
#ifndef CLM_DAEMON_DECODE_UTIL_H
#define CLM_DAEMON_DECODE_UTIL_H

#include <stddef.h>

#include "daemon/decode.h"

/* Deepest nesting the decoders accept, counted as jansson counts it: every
 * value (scalars included) one level below its container, the top level at 1. */
#define CLM_JSON_MAX_DEPTH 2048

/* How many bytes of a string field a decoder must provide. Every length
 * limit in the contract is at most this, so longer strings are only measured. */
#define CLM_JVAL_STR_CAP CLM_ID_MAX

typedef enum clm_jkind {
    CLM_J_ABSENT = 0,
    CLM_J_STRING,
    CLM_J_INTEGER, /* a JSON number without '.', 'e' or 'E' */
    CLM_J_REAL,    /* any other JSON number */
    CLM_J_OTHER,   /* true, false, null, object or array */
} clm_jkind;

/* One field of the message as parsed. */
typedef struct clm_jval {
    clm_jkind kind;
    /* CLM_J_STRING: len is the unescaped length in bytes; str holds the first
     * min(len, CLM_JVAL_STR_CAP) unescaped bytes (not NUL-terminated). */
    const char *str;
    size_t len;
    long long i;      /* CLM_J_INTEGER */
    double d;         /* CLM_J_REAL */
    /* CLM_J_INTEGER, CLM_J_REAL: the number's JSON text as sent (num_len
     * bytes, not NUL-terminated). Required for `amount`, which is read from
     * the text exactly; other fields may leave it NULL. */
    const char *num;
    size_t num_len;
    const char *what; /* CLM_J_OTHER: "true", "false", "null", "object" or "array" */
} clm_jval;

/* The contract fields of one message, as found at the top level. */
typedef struct clm_fields {
    clm_jval type, customer_id, event_id, ts, amount, score, duration_s, anonymous_id;
    /* the configured traits' members (opts->traits order): at the top level,
     * or in a top-level "properties" object (absent when it is not one) */
    clm_jval trait[CLM_EV_TRAITS];
} clm_fields;

/* Returns the offset of the first byte that does not begin or continue a
 * valid UTF-8 sequence (overlongs, UTF-16 surrogates and code points above
 * U+10FFFF are invalid), or len when all of buf is valid. */
size_t clm_utf8_check(const char *buf, size_t len);

/* Steps 1 and 2 of the contract: size, then UTF-8. Returns 0, or -EINVAL
 * with *rej filled (too_large or invalid_utf8). */
int clm_decode_precheck(const char *buf, size_t len, const clm_decode_opts *opts,
                        clm_reject *rej);

/* Applies the field rules (type, customer_id, event_id, ts, amount, score,
 * duration_s, anonymous_id, then the message key) to parsed fields. Returns 0 and fills *ev
 * (zeroed first, so two results compare equal with memcmp), or -EINVAL with
 * *rej filled and *ev untouched. */
int clm_decode_apply(const clm_fields *f, const clm_msg_meta *meta,
                     const clm_decode_opts *opts, clm_event *ev, clm_reject *rej);

/* Writes a printable, one-line, possibly shortened copy of s into out (which
 * must hold >= 64 bytes): control bytes become \xNN, the cut never splits a
 * UTF-8 sequence and is marked with "...". Returns out. */
const char *clm_snippet(const char *s, size_t len, char *out, size_t size);

#endif
