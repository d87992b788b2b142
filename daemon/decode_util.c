/* daemon/decode_util.c - size and UTF-8 checks, and the event field rules. */
#include "daemon/decode_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "core/timeutil.h"
#include "core/evtype.h"
#include "core/trait.h"

/* Bytes of a value quoted in a rejection detail before it is cut. */
#define SNIPPET_BYTES 40

size_t clm_utf8_check(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];

        if (c < 0x80) {
            /* Skip ASCII eight bytes at a time. */
            while (len - i >= 8) {
                uint64_t w;

                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            while (i < len && s[i] < 0x80)
                i++;
            continue;
        }

        /* Well-formed sequences, Unicode 15 table 3-7: the allowed range of
         * the second byte depends on the first; later bytes are 80..BF. */
        unsigned need, lo = 0x80, hi = 0xBF;

        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* no overlongs */
            else if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (unsigned k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        }
        i += need + 1;
    }
    return len;
}

int clm_decode_precheck(const char *buf, size_t len, const clm_decode_opts *opts,
                        clm_reject *rej)
{
    size_t bad;

    if (len > opts->max_bytes)
        return clm_reject_set(rej, CLM_REJ_TOO_LARGE,
                              "message is %zu bytes, more than events.max_bytes (%zu)", len,
                              opts->max_bytes);
    bad = clm_utf8_check(buf, len);
    if (bad < len)
        return clm_reject_set(rej, CLM_REJ_INVALID_UTF8, "invalid UTF-8 at byte %zu (0x%02x)",
                              bad, (unsigned)(unsigned char)buf[bad]);
    return 0;
}

const char *clm_snippet(const char *s, size_t len, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, o = 0;

    /* Room is kept for "..." and the NUL. */
    while (i < len && i < SNIPPET_BYTES) {
        unsigned char c = (unsigned char)s[i];
        size_t seq = 1, need = 1;

        if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xC2) || c > 0xF4)
            need = 4;
        else if (c >= 0xC2)
            seq = need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (i + seq > len || o + need + 4 > size)
            break;
        if (need == 4 && seq == 1) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            memcpy(out + o, s + i, seq);
            o += seq;
        }
        i += seq;
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static const char *kind_name(const clm_jval *v)
{
    switch (v->kind) {
    case CLM_J_STRING:
        return "a string";
    case CLM_J_INTEGER:
        return "an integer";
    case CLM_J_REAL:
        return "a real number";
    case CLM_J_OTHER:
        return v->what;
    case CLM_J_ABSENT:
        break;
    }
    return "nothing";
}

static int wrong_type(clm_reject *rej, const char *field, const char *expected,
                      const clm_jval *v)
{
    return clm_reject_set(rej, CLM_REJ_WRONG_TYPE, "field '%s': expected %s, got %s", field,
                          expected, kind_name(v));
}

/* A number field as a double; 0, or -1 when the value is not a number. */
static int number_of(const clm_jval *v, double *out)
{
    if (v->kind == CLM_J_INTEGER)
        *out = (double)v->i;
    else if (v->kind == CLM_J_REAL)
        *out = v->d;
    else
        return -1;
    return 0;
}

static int apply_type(const clm_fields *f, const clm_decode_opts *opts, clm_event *ev,
                      clm_reject *rej)
{
    const clm_jval *v = &f->type;
    char snip[64];

    if (v->kind == CLM_J_ABSENT)
        return clm_reject_set(rej, CLM_REJ_MISSING_FIELD, "field 'type' is missing");
    if (v->kind != CLM_J_STRING)
        return wrong_type(rej, "type", "a string", v);
    if (v->len == 0 || v->len > CLM_TYPE_MAX)
        return clm_reject_set(rej, CLM_REJ_BAD_TYPE, "field 'type': %zu bytes, expected 1..%d",
                              v->len, CLM_TYPE_MAX);
    ev->type = clm_event_type_from_name(v->str, v->len);
    int custom = ev->type == CLM_EV_OTHER ? clm_custom_type_index(opts->event_types, v->str, v->len) : -1;
    if (custom >= 0) {
        const clm_custom_type *t = &opts->event_types->t[custom];

        ev->type = t->as;
        ev->custom = (uint8_t)(custom + 1);
        ev->activity = t->activity;
    } else if (ev->type == CLM_EV_OTHER && opts->unknown_type == CLM_UNKNOWN_REJECT)
        return clm_reject_set(rej, CLM_REJ_UNKNOWN_TYPE,
                              "field 'type': '%s' is not a built-in type",
                              clm_snippet(v->str, v->len, snip, sizeof(snip)));
    memcpy(ev->type_name, v->str, v->len);
    ev->type_len = (uint8_t)v->len;
    return 0;
}

static int apply_ids(const clm_fields *f, clm_event *ev, clm_reject *rej)
{
    const clm_jval *c = &f->customer_id, *e = &f->event_id;

    if (c->kind == CLM_J_ABSENT) {
        if (ev->type != CLM_EV_MARKETING_SPEND)
            return clm_reject_set(rej, CLM_REJ_MISSING_FIELD, "field 'customer_id' is missing");
    } else {
        if (c->kind != CLM_J_STRING)
            return wrong_type(rej, "customer_id", "a string", c);
        if (c->len == 0 || c->len > CLM_ID_MAX)
            return clm_reject_set(rej, CLM_REJ_BAD_CUSTOMER_ID,
                                  "field 'customer_id': %zu bytes, expected 1..%d", c->len,
                                  CLM_ID_MAX);
        memcpy(ev->customer_id, c->str, c->len);
        ev->customer_id_len = (uint8_t)c->len;
        ev->has_customer = 1;
    }

    if (e->kind != CLM_J_ABSENT) {
        if (e->kind != CLM_J_STRING)
            return wrong_type(rej, "event_id", "a string", e);
        if (e->len > CLM_ID_MAX)
            return clm_reject_set(rej, CLM_REJ_BAD_EVENT_ID,
                                  "field 'event_id': %zu bytes, more than %d", e->len,
                                  CLM_ID_MAX);
        /* An empty event_id is the same as none. */
        if (e->len > 0) {
            memcpy(ev->event_id, e->str, e->len);
            ev->event_id_len = (uint8_t)e->len;
            ev->has_event_id = 1;
        }
    }
    return 0;
}

static int apply_ts(const clm_fields *f, const clm_msg_meta *meta, const clm_decode_opts *opts,
                    clm_event *ev, clm_reject *rej)
{
    const clm_jval *v = &f->ts;
    char snip[64];
    int64_t limit;

    switch (v->kind) {
    case CLM_J_ABSENT:
        return clm_reject_set(rej, CLM_REJ_MISSING_FIELD, "field 'ts' is missing");
    case CLM_J_STRING:
        if (v->len > CLM_JVAL_STR_CAP || clm_rfc3339_parse(v->str, v->len, &ev->ts_ms) < 0)
            return clm_reject_set(rej, CLM_REJ_BAD_TIMESTAMP,
                                  "field 'ts': '%s' is not RFC 3339 or integer epoch ms",
                                  clm_snippet(v->str, v->len, snip, sizeof(snip)));
        break;
    case CLM_J_INTEGER:
        if (v->i < 0 || v->i > CLM_TS_MAX_MS)
            return clm_reject_set(rej, CLM_REJ_BAD_TIMESTAMP,
                                  "field 'ts': %lld is outside 0..%lld epoch ms", v->i,
                                  CLM_TS_MAX_MS);
        ev->ts_ms = v->i;
        break;
    case CLM_J_REAL:
        return clm_reject_set(rej, CLM_REJ_BAD_TIMESTAMP,
                              "field 'ts': got the real number %.17g, expected integer epoch ms or RFC 3339",
                              v->d);
    case CLM_J_OTHER:
        return wrong_type(rej, "ts", "an RFC 3339 string or integer epoch ms", v);
    }

    /* A sum past INT64_MAX means no timestamp can be too far ahead. */
    if (!__builtin_add_overflow(meta->ref_ms, opts->max_future_ms, &limit) && ev->ts_ms > limit)
        return clm_reject_set(rej, CLM_REJ_FUTURE_TIMESTAMP,
                              "field 'ts': %" PRId64 " is %" PRId64
                              " ms after the message time (at most %" PRId64 " allowed)",
                              ev->ts_ms, ev->ts_ms - meta->ref_ms, opts->max_future_ms);
    return 0;
}

static int apply_amount(const clm_fields *f, clm_event *ev, clm_reject *rej)
{
    const clm_jval *v = &f->amount;
    char snip[64];

    if (v->kind == CLM_J_ABSENT) {
        if (ev->type == CLM_EV_PURCHASE || ev->type == CLM_EV_REFUND ||
            ev->type == CLM_EV_MARKETING_SPEND)
            return clm_reject_set(rej, CLM_REJ_MISSING_FIELD,
                                  "field 'amount' is missing (required for %s)",
                                  clm_event_type_name(ev->type));
        return 0;
    }
    if (v->kind != CLM_J_INTEGER && v->kind != CLM_J_REAL)
        return wrong_type(rej, "amount", "a number", v);
    /* Read from the text, never through a double: exact or rejected. */
    if (v->num == NULL || clm_amount_parse(v->num, v->num_len, &ev->amount_micros) < 0)
        return clm_reject_set(rej, CLM_REJ_BAD_AMOUNT,
                              "field 'amount': %s is negative, above 1e12 or not a whole "
                              "number of millionths",
                              v->num ? clm_snippet(v->num, v->num_len, snip, sizeof(snip)) : "?");
    ev->has_amount = 1;
    return 0;
}

static int apply_score(const clm_fields *f, clm_event *ev, clm_reject *rej)
{
    const clm_jval *v = &f->score;
    long long lo = INT32_MIN, hi = INT32_MAX;
    const char *why = "int32";

    if (ev->type == CLM_EV_NPS_RESPONSE) {
        lo = 0;
        hi = 10;
        why = "nps_response";
    } else if (ev->type == CLM_EV_CSAT_RESPONSE) {
        lo = 1;
        hi = 5;
        why = "csat_response";
    }
    if (v->kind == CLM_J_ABSENT) {
        if (ev->type == CLM_EV_NPS_RESPONSE || ev->type == CLM_EV_CSAT_RESPONSE)
            return clm_reject_set(rej, CLM_REJ_MISSING_FIELD,
                                  "field 'score' is missing (required for %s)", why);
        return 0;
    }
    if (v->kind != CLM_J_INTEGER)
        return wrong_type(rej, "score", "an integer", v);
    if (v->i < lo || v->i > hi)
        return clm_reject_set(rej, CLM_REJ_BAD_SCORE, "field 'score': %lld is outside %lld..%lld for %s",
                              v->i, lo, hi, why);
    ev->score = (int32_t)v->i;
    ev->has_score = 1;
    return 0;
}

static int apply_duration(const clm_fields *f, clm_event *ev, clm_reject *rej)
{
    const clm_jval *v = &f->duration_s;
    double s;

    if (v->kind == CLM_J_ABSENT)
        return 0;
    if (number_of(v, &s) < 0)
        return wrong_type(rej, "duration_s", "a number", v);
    if (!(s >= 0 && s <= CLM_DURATION_MAX_S))
        return clm_reject_set(rej, CLM_REJ_BAD_DURATION,
                              "field 'duration_s': %.17g is outside 0..31536000", s);
    ev->duration_ms = llround(s * 1000);
    ev->has_duration = 1;
    return 0;
}

/* A bad value of trait t: bad_trait, or no value when t ignores bad values. */
static int bad_trait(const clm_trait_spec *t, clm_reject *rej, const char *what)
{
    if (!t->reject_invalid)
        return 0;
    return clm_reject_set(rej, CLM_REJ_BAD_TRAIT, "trait '%s' (field '%s%s'): %s", t->name,
                          t->in_properties ? "properties." : "", t->field, what);
}

/* The configured traits, in order: a value that is absent or null leaves
 * the trait without one; one of the wrong type, an empty or too long string
 * and a number that is not finite are bad (bad_trait). */
static int apply_traits(const clm_fields *f, const clm_decode_opts *opts, clm_event *ev,
                        clm_reject *rej)
{
    const clm_trait_set *set = opts->traits;
    size_t used = 0;
    char why[96];

    for (size_t i = 0; set && i < set->n; i++) {
        const clm_trait_spec *t = &set->t[i];
        const clm_jval *v = &f->trait[i];
        clm_ev_trait *o = &ev->trait[i];
        double d;
        int r;

        if (v->kind == CLM_J_ABSENT || (v->kind == CLM_J_OTHER && strcmp(v->what, "null") == 0))
            continue;
        switch (t->type) {
        case CLM_TRAIT_STR:
            if (v->kind != CLM_J_STRING) {
                snprintf(why, sizeof(why), "expected a string, got %s", kind_name(v));
                goto out_bad;
            }
            if (v->len == 0 || v->len > t->max_len) {
                snprintf(why, sizeof(why), "a string of %zu bytes is outside 1..%u", v->len,
                         t->max_len);
                goto out_bad;
            }
            o->off = (uint16_t)used;
            o->len = (uint16_t)v->len;
            memcpy(ev->trait_str + used, v->str, v->len);
            used += v->len;
            break;
        case CLM_TRAIT_NUM:
            if (number_of(v, &d) < 0) {
                snprintf(why, sizeof(why), "expected a number, got %s", kind_name(v));
                goto out_bad;
            }
            if (!isfinite(d)) {
                snprintf(why, sizeof(why), "the number is not finite");
                goto out_bad;
            }
            o->num = d == 0 ? 0.0 : d; /* -0 is 0 */
            break;
        default:
            if (v->kind != CLM_J_OTHER || (strcmp(v->what, "true") != 0 && strcmp(v->what, "false") != 0)) {
                snprintf(why, sizeof(why), "expected true or false, got %s", kind_name(v));
                goto out_bad;
            }
            o->b = v->what[0] == 't';
            break;
        }
        o->kind = (uint8_t)t->type;
        continue;
out_bad:
        if ((r = bad_trait(t, rej, why)) < 0)
            return r;
    }
    return 0;
}

/* What a configured event type requires: its contract fields and traits,
 * in the order its "required" lists them (missing_field). */
static int apply_required(const clm_decode_opts *opts, const clm_event *ev, clm_reject *rej)
{
    if (!ev->custom)
        return 0;
    const clm_custom_type *t = &opts->event_types->t[ev->custom - 1];
    for (size_t k = 0; k < t->nreq; k++) {
        const char *name = t->req_names[k];
        bool has;

        if (strcmp(name, "customer_id") == 0)
            has = ev->has_customer;
        else if (strcmp(name, "event_id") == 0)
            has = ev->has_event_id;
        else if (strcmp(name, "amount") == 0)
            has = ev->has_amount;
        else if (strcmp(name, "score") == 0)
            has = ev->has_score;
        else if (strcmp(name, "duration_s") == 0)
            has = ev->has_duration;
        else {
            int ti = clm_trait_set_index(opts->traits, name, strlen(name));
            has = ti >= 0 && ev->trait[ti].kind != CLM_TRAIT_NONE;
        }
        if (!has)
            return clm_reject_set(rej, CLM_REJ_MISSING_FIELD,
                                  "field '%s' is missing (required for type '%s')", name, t->name);
    }
    return 0;
}

/* anonymous_id: required by identify, validated like customer_id and
 * different from it; ignored on every other type. */
static int apply_anonymous(const clm_fields *f, clm_event *ev, clm_reject *rej)
{
    const clm_jval *v = &f->anonymous_id;

    if (ev->type != CLM_EV_IDENTIFY)
        return 0;
    if (v->kind == CLM_J_ABSENT)
        return clm_reject_set(rej, CLM_REJ_MISSING_FIELD,
                              "field 'anonymous_id' is missing (required for identify)");
    if (v->kind != CLM_J_STRING)
        return wrong_type(rej, "anonymous_id", "a string", v);
    if (v->len == 0 || v->len > CLM_ID_MAX)
        return clm_reject_set(rej, CLM_REJ_BAD_CUSTOMER_ID,
                              "field 'anonymous_id': %zu bytes, expected 1..%d", v->len,
                              CLM_ID_MAX);
    if (v->len == ev->customer_id_len && memcmp(v->str, ev->customer_id, v->len) == 0)
        return clm_reject_set(rej, CLM_REJ_BAD_CUSTOMER_ID,
                              "field 'anonymous_id' equals customer_id: an id cannot merge into itself");
    memcpy(ev->anonymous_id, v->str, v->len);
    ev->anonymous_id_len = (uint8_t)v->len;
    ev->has_anonymous = 1;
    return 0;
}

int clm_decode_apply(const clm_fields *f, const clm_msg_meta *meta,
                     const clm_decode_opts *opts, clm_event *ev, clm_reject *rej)
{
    char snip[64];
    clm_event e;
    int r;

    /* Zeroed whole, padding included, so equal events are equal bytes. */
    memset(&e, 0, sizeof(e));
    if ((r = apply_type(f, opts, &e, rej)) < 0 || (r = apply_ids(f, &e, rej)) < 0 ||
        (r = apply_ts(f, meta, opts, &e, rej)) < 0 || (r = apply_amount(f, &e, rej)) < 0 ||
        (r = apply_score(f, &e, rej)) < 0 || (r = apply_duration(f, &e, rej)) < 0 ||
        (r = apply_anonymous(f, &e, rej)) < 0 || (r = apply_traits(f, opts, &e, rej)) < 0 ||
        (r = apply_required(opts, &e, rej)) < 0)
        return r;

    /* A customer's events must all arrive on the partition its key picks:
     * a keyless one lands on any partition, so two workers would own it. */
    if (e.has_customer && (meta->key == NULL || meta->key_len == 0))
        return clm_reject_set(rej, CLM_REJ_MISSING_KEY,
                              "the message has no key; an event of customer_id '%s' must be "
                              "keyed by it",
                              clm_snippet(e.customer_id, e.customer_id_len, snip, sizeof(snip)));
    if (e.has_customer &&
        (meta->key_len != e.customer_id_len ||
         memcmp(meta->key, e.customer_id, meta->key_len) != 0)) {
        char k[64], c[64];

        return clm_reject_set(rej, CLM_REJ_KEY_MISMATCH,
                              "message key '%s' differs from customer_id '%s'",
                              clm_snippet(meta->key, meta->key_len, k, sizeof(k)),
                              clm_snippet(e.customer_id, e.customer_id_len, c, sizeof(c)));
    }
    memcpy(ev, &e, sizeof(e));
    return 0;
}
