/* tests/test-decode.c - the event contract, through both decoders
 * (daemon/decode_json.c, daemon/decode_fast.c, daemon/decode_util.c).
 *
 * Every case runs through clm_decode_json and clm_decode_fast and asserts the
 * same outcome from each. The malformed-message corpus in
 * tests/data/malformed/ (MANIFEST.tsv) is checked the same way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/trait.h"
#include "daemon/decode.h"
#include "daemon/decode_util.h"

/* The message time the future check is relative to: 2026-11-22T10:15:00Z
 * (see tests/test-timeutil.c for the arithmetic). */
#define REF_MS 1795342500000LL
#define MAX_FUTURE_MS 300000 /* 5 minutes */

static const clm_decode_opts opts_activity = {4096, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL};
static const clm_decode_opts opts_reject = {4096, MAX_FUTURE_MS, CLM_UNKNOWN_REJECT, NULL, NULL};
/* tests/data/malformed/README.md states these settings. */
/* The corpus configures two traits: "plan" (a string of up to 16 bytes, at
 * the top level) and "seats" (a number in "properties"). */
static const clm_trait_set corpus_traits = {
    .n = 2,
    .t = {
        {.name = "plan", .field = "plan", .field_len = 4, .type = CLM_TRAIT_STR,
         .reject_invalid = true, .max_len = 16},
        {.name = "seats", .field = "seats", .field_len = 5, .in_properties = true,
         .type = CLM_TRAIT_NUM, .reject_invalid = true},
    },
};
static const clm_decode_opts opts_corpus = {8192, MAX_FUTURE_MS, CLM_UNKNOWN_REJECT, &corpus_traits, NULL};

typedef int (*decode_fn)(const char *, size_t, const clm_msg_meta *, const clm_decode_opts *,
                         clm_event *, clm_reject *);

static const struct {
    const char *name;
    decode_fn fn;
} decoders[] = {{"json", clm_decode_json}, {"fast", clm_decode_fast}};

/* The message key a test means: NULL stands for "keyed by its customer_id"
 * (as every producer must key a customer's events), which is read from buf
 * into own (jansson; a message without one stays keyless); "" for no key. */
static clm_msg_meta meta_for(const char *buf, size_t len, const char *key, char *own)
{
    if (key == NULL) {
        json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
        const json_t *c = json_is_object(root) ? json_object_get(root, "customer_id") : NULL;

        if (json_is_string(c) && json_string_length(c) <= CLM_ID_MAX) {
            memcpy(own, json_string_value(c), json_string_length(c));
            own[json_string_length(c)] = '\0';
            key = own;
        }
        json_decref(root);
    }
    return (clm_msg_meta){key, key ? strlen(key) : 0, REF_MS};
}

/* Both decoders must reject buf with want. */
static void expect_reason_n(const char *buf, size_t len, const char *key,
                            const clm_decode_opts *o, clm_reason want)
{
    char own[CLM_ID_MAX + 1];
    clm_msg_meta meta = meta_for(buf, len, key, own);

    for (size_t d = 0; d < 2; d++) {
        clm_event ev;
        clm_reject rej = {CLM_REJ_NONE, ""};
        int r = decoders[d].fn(buf, len, &meta, o, &ev, &rej);

        if (r != -EINVAL || rej.reason != want)
            fail_msg("%s decoder on %.*s: got %d %s (%s), want %s", decoders[d].name,
                     (int)(len > 300 ? 300 : len), buf, r, clm_reason_name(rej.reason),
                     rej.detail, clm_reason_name(want));
        assert_true(rej.detail[0] != '\0');
    }
}

static void expect_reason_o(const char *json, const char *key, const clm_decode_opts *o,
                            clm_reason want)
{
    expect_reason_n(json, strlen(json), key, o, want);
}

static void expect_reason(const char *json, const char *key, clm_reason want)
{
    expect_reason_o(json, key, &opts_activity, want);
}

/* Both decoders must accept buf with the same event; returns it. */
static clm_event expect_ok_n(const char *buf, size_t len, const char *key,
                             const clm_decode_opts *o)
{
    char own[CLM_ID_MAX + 1];
    clm_msg_meta meta = meta_for(buf, len, key, own);
    clm_event ev[2];

    for (size_t d = 0; d < 2; d++) {
        clm_reject rej = {CLM_REJ_NONE, ""};
        int r;

        /* Different garbage in each: equal results prove every byte was written. */
        memset(&ev[d], d ? 0x55 : 0xAA, sizeof(ev[d]));
        r = decoders[d].fn(buf, len, &meta, o, &ev[d], &rej);
        if (r != 0)
            fail_msg("%s decoder rejected %.*s: %s (%s)", decoders[d].name,
                     (int)(len > 300 ? 300 : len), buf, clm_reason_name(rej.reason), rej.detail);
    }
    assert_memory_equal(&ev[0], &ev[1], sizeof(ev[0]));
    return ev[0];
}

static clm_event expect_ok_o(const char *json, const char *key, const clm_decode_opts *o)
{
    return expect_ok_n(json, strlen(json), key, o);
}

static clm_event expect_ok(const char *json)
{
    return expect_ok_o(json, NULL, &opts_activity);
}

/* "xxx...x" of n bytes, a string the caller frees. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- accepted events ---------------------------------------------------- */

static void test_valid_example(void **state)
{
    (void)state;
    clm_event e = expect_ok_o("{\"event_id\":\"e-1\",\"customer_id\":\"c-42\",\"type\":\"purchase\","
                              "\"ts\":\"2026-11-22T10:15:00Z\",\"amount\":49.9}",
                              "c-42", &opts_activity);

    assert_int_equal(e.type, CLM_EV_PURCHASE);
    assert_int_equal(e.type_len, 8);
    assert_string_equal(e.type_name, "purchase");
    assert_int_equal(e.ts_ms, 1795342500000LL); /* day 20779 * 86400000 + 36900000 */
    assert_true(e.has_customer);
    assert_int_equal(e.customer_id_len, 4);
    assert_string_equal(e.customer_id, "c-42");
    assert_true(e.has_event_id);
    assert_int_equal(e.event_id_len, 3);
    assert_string_equal(e.event_id, "e-1");
    assert_true(e.has_amount);
    assert_int_equal(e.amount_micros, 49900000); /* 49.9 * 1e6 */
    assert_false(e.has_score);
    assert_int_equal(e.score, 0);
    assert_false(e.has_duration);
    assert_int_equal(e.duration_ms, 0);
}

static void test_valid_variants(void **state)
{
    (void)state;
    clm_event e;

    /* Integer epoch ms, score, duration; unknown fields of every kind ignored. */
    e = expect_ok("{\"type\":\"nps_response\",\"customer_id\":\"c-1\",\"ts\":1795342500123,"
                  "\"score\":10,\"duration_s\":1.2345,\"x\":[1,{\"y\":null}],\"z\":true}");
    assert_int_equal(e.type, CLM_EV_NPS_RESPONSE);
    assert_int_equal(e.ts_ms, 1795342500123LL);
    assert_true(e.has_score);
    assert_int_equal(e.score, 10);
    assert_true(e.has_duration);
    assert_int_equal(e.duration_ms, 1235); /* 1234.5 rounds away from zero */
    assert_false(e.has_event_id);
    assert_false(e.has_amount);

    /* marketing_spend needs no customer; an integer amount; "" event_id is absent. */
    e = expect_ok("{\"type\":\"marketing_spend\",\"ts\":0,\"amount\":250,\"event_id\":\"\"}");
    assert_false(e.has_customer);
    assert_int_equal(e.customer_id_len, 0);
    assert_false(e.has_event_id);
    assert_int_equal(e.amount_micros, 250000000);

    /* Unknown type as generic activity keeps the name as sent. */
    e = expect_ok("{\"type\":\"webinar\",\"customer_id\":\"c\",\"ts\":\"2026-11-22T10:15:00Z\"}");
    assert_int_equal(e.type, CLM_EV_OTHER);
    assert_string_equal(e.type_name, "webinar");

    /* -0 and -0.0 are zero; the limits themselves are accepted. */
    e = expect_ok("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-0.0}");
    assert_int_equal(e.amount_micros, 0);
    e = expect_ok("{\"type\":\"refund\",\"customer_id\":\"c\",\"ts\":0,\"amount\":1e12,"
                  "\"duration_s\":31536000,\"score\":-2147483648}");
    assert_int_equal(e.amount_micros, 1000000000000000000LL);
    assert_int_equal(e.duration_ms, 31536000000LL);
    assert_int_equal(e.score, INT32_MIN);
    /* With max_future_ms at INT64_MAX the limit saturates: nothing is too far ahead. */
    e = expect_ok_o("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":253402300799999,"
                    "\"score\":-0}",
                    NULL, &(clm_decode_opts){4096, INT64_MAX, CLM_UNKNOWN_ACTIVITY, NULL, NULL});
    assert_int_equal(e.ts_ms, 253402300799999LL);
    assert_int_equal(e.score, 0);
}

static void test_valid_escapes(void **state)
{
    (void)state;
    clm_event e;

    /* Keys and values are compared after unescaping, as jansson does:
     * \u0074ype is "type"; c\u00e9 is c + U+00E9 = 63 C3 A9; the pair
     * \ud83d\ude00 is U+1F600 = F0 9F 98 80. */
    e = expect_ok("{\"\\u0074ype\":\"visit\",\"customer_id\":\"c\\u00e9\\ud83d\\ude00\\n\\/\","
                  "\"ts\":0,\"event_id\":\"\\\"q\\\\\"}");
    assert_int_equal(e.type, CLM_EV_VISIT);
    assert_int_equal(e.customer_id_len, 9);
    assert_memory_equal(e.customer_id, "c\xc3\xa9\xf0\x9f\x98\x80\n/", 10);
    assert_int_equal(e.event_id_len, 3);
    assert_string_equal(e.event_id, "\"q\\");

    /* Raw UTF-8 passes through; the key may carry it too. */
    e = expect_ok_o("{\"type\":\"login\",\"customer_id\":\"\xc3\xa9t\xc3\xa9\",\"ts\":0}",
                    "\xc3\xa9t\xc3\xa9", &opts_activity);
    assert_int_equal(e.customer_id_len, 5);

    /* JSON whitespace anywhere between tokens. */
    e = expect_ok(" \t\r\n{ \"type\" :\n\"visit\" , \"customer_id\":\"c\",\"ts\":0 }\n");
    assert_int_equal(e.type, CLM_EV_VISIT);
}

static void test_valid_lengths(void **state)
{
    (void)state;
    char *id = repeat('a', CLM_ID_MAX), *type = repeat('t', CLM_TYPE_MAX);
    char buf[600];
    clm_event e;

    snprintf(buf, sizeof(buf), "{\"type\":\"%s\",\"customer_id\":\"%s\",\"event_id\":\"%s\",\"ts\":0}",
             type, id, id);
    e = expect_ok(buf);
    assert_int_equal(e.customer_id_len, 128);
    assert_int_equal(e.event_id_len, 128);
    assert_int_equal(e.type_len, 64);
    assert_int_equal(e.customer_id[128], '\0');

    /* 128 bytes written as 6-byte escapes: 768 bytes of JSON, still 128 decoded. */
    char *esc = malloc(128 * 6 + 1);
    char *big = malloc(1000);
    assert_non_null(esc);
    assert_non_null(big);
    for (int k = 0; k < 128; k++)
        memcpy(esc + 6 * k, "\\u0041", 6);
    esc[768] = '\0';
    snprintf(big, 1000, "{\"type\":\"visit\",\"customer_id\":\"%s\",\"ts\":0}", esc);
    e = expect_ok(big);
    assert_int_equal(e.customer_id_len, 128);
    assert_int_equal(e.customer_id[127], 'A');
    free(esc);
    free(big);
    free(id);
    free(type);
}

static void test_valid_big_messages(void **state)
{
    (void)state;
    /* More tokens than the fast decoder keeps on its stack (1 + 2 * 300 keys)
     * and an object large enough for its sorted duplicate check. */
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap);
    clm_event e;

    assert_non_null(buf);
    n += (size_t)snprintf(buf + n, cap - n, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0");
    for (int k = 0; k < 300; k++)
        n += (size_t)snprintf(buf + n, cap - n, ",\"k%d\":[%d]", k, k);
    n += (size_t)snprintf(buf + n, cap - n, "}");
    e = expect_ok_n(buf, n, NULL, &(clm_decode_opts){cap, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL});
    assert_int_equal(e.type, CLM_EV_VISIT);

    /* The same with "k7" again at the end: a duplicate among 301 keys. */
    n += (size_t)snprintf(buf + n - 1, cap - n + 1, ",\"k7\":0}") - 1;
    expect_reason_n(buf, n, NULL, &(clm_decode_opts){cap, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL},
                    CLM_REJ_INVALID_JSON);
    free(buf);
}

/* ---- nesting depth ------------------------------------------------------ */

/* "[[...]]" n deep around mid, into a buffer the caller frees. */
static char *nest(size_t n, const char *mid, size_t *len)
{
    size_t m = strlen(mid);
    char *s = malloc(2 * n + m + 1);

    assert_non_null(s);
    memset(s, '[', n);
    memcpy(s + n, mid, m);
    memset(s + n + m, ']', n);
    *len = 2 * n + m;
    s[*len] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    clm_decode_opts big = {1 << 20, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL};
    size_t len;
    char *s;

    /* jansson counts every value: 2048 arrays are fine, 2049 are not... */
    s = nest(2048, "", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_NOT_OBJECT);
    free(s);
    s = nest(2049, "", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_INVALID_JSON);
    free(s);
    /* ...and a scalar inside 2047 arrays is at depth 2048, inside 2048 at 2049. */
    s = nest(2047, "1", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_NOT_OBJECT);
    free(s);
    s = nest(2048, "1", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_INVALID_JSON);
    free(s);
    /* Object keys do not count: {"a":1} inside 2046 arrays puts 1 at 2048. */
    s = nest(2046, "{\"a\":1}", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_NOT_OBJECT);
    free(s);
    s = nest(2047, "{\"a\":1}", &len);
    expect_reason_n(s, len, NULL, &big, CLM_REJ_INVALID_JSON);
    free(s);
}

static void test_depth_inside_event(void **state)
{
    (void)state;
    clm_decode_opts big = {1 << 20, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL};
    char *inner, *buf = malloc(10000);
    size_t len, n;

    assert_non_null(buf);
    /* Around the fast decoder's own bound of 64 nested brackets (deeper
     * messages go to jansson): the event object, d arrays and an inner object
     * nest 64, 65 and 66 deep; each once valid, once with a duplicate key. */
    for (size_t d = 62; d <= 64; d++) {
        inner = nest(d, "{\"a\":1}", &len);
        n = (size_t)snprintf(buf, 10000, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":%s}",
                             inner);
        expect_ok_n(buf, n, NULL, &big);
        free(inner);
        inner = nest(d, "{\"a\":1,\"a\":1}", &len);
        n = (size_t)snprintf(buf, 10000, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":%s}",
                             inner);
        expect_reason_n(buf, n, NULL, &big, CLM_REJ_INVALID_JSON);
        free(inner);
    }
    /* Event object (depth 1) + 2046 arrays (2..2047) + 7 (2048): accepted. */
    inner = nest(2046, "7", &len);
    n = (size_t)snprintf(buf, 10000, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":%s}",
                         inner);
    expect_ok_n(buf, n, NULL, &big);
    free(inner);
    /* One more array puts 7 at 2049. */
    inner = nest(2047, "7", &len);
    n = (size_t)snprintf(buf, 10000, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":%s}",
                         inner);
    expect_reason_n(buf, n, NULL, &big, CLM_REJ_INVALID_JSON);
    free(inner);
    free(buf);
}

/* ---- every rejection reason -------------------------------------------- */

static void test_too_large(void **state)
{
    (void)state;
    const char *ok = "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0}"; /* 41 bytes */
    clm_decode_opts o = {41, MAX_FUTURE_MS, CLM_UNKNOWN_ACTIVITY, NULL, NULL};

    expect_ok_o(ok, NULL, &o); /* exactly max_bytes is fine */
    o.max_bytes = 40;
    expect_reason_o(ok, NULL, &o, CLM_REJ_TOO_LARGE);
    /* Size is checked before anything else: invalid UTF-8 and JSON too. */
    o.max_bytes = 2;
    expect_reason_n("\xff\xff\xff", 3, NULL, &o, CLM_REJ_TOO_LARGE);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"type\":\"visit\",\"customer_id\":\"\xff\",\"ts\":0}",         /* never valid */
        "{\"type\":\"visit\",\"customer_id\":\"\xc0\xaf\",\"ts\":0}",     /* overlong '/' */
        "{\"type\":\"visit\",\"customer_id\":\"\xe0\x80\xaf\",\"ts\":0}", /* overlong, 3 bytes */
        "{\"type\":\"visit\",\"customer_id\":\"\xed\xa0\x80\",\"ts\":0}", /* U+D800 */
        "{\"type\":\"visit\",\"customer_id\":\"\xf4\x90\x80\x80\",\"ts\":0}", /* U+110000 */
        "{\"type\":\"visit\",\"customer_id\":\"\xe2\x82\",\"ts\":0}",     /* truncated */
        "{\"type\":\"visit\",\"customer_id\":\"\x80\",\"ts\":0}",         /* lone continuation */
        "\xe2\x82",                                                       /* cut at the end */
        "{\"\xc3\":1",                                                    /* beats invalid_json */
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_INVALID_UTF8);
}

static void test_invalid_json(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{",
        "   ",
        "{\"type\":\"visit\",}",
        "[1,]",
        "{\"type\" \"visit\"}",
        "{'type':'visit'}",
        "{\"type\":visit}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":0x10}",
        "{\"a\":\"\\u0000\"}",
        "{\"\\u0000\":1}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ud800\\n\"}",
        "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"line\nbreak\"}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"o\":{\"b\":1,\"b\":1}}",
        "[{\"b\":1,\"b\":1}]",
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":1e400}",
        "{\"a\":-1e400}",
        "{} x",
        "{}{}",
        "{} []",
        "{}]",
        "{\"a\":1}}",
        "\f{}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":[1 2]}",
        "{\"a\":[,1]}",
        "{\"a\"::1}",
        "{:1}",
        "{1:1}",
        "{\"a\":1,,\"b\":2}",
        "[\"a\":1]",
        "\"unterminated",
        "1 2",
        "-",
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_INVALID_JSON);
    /* Empty input, a NUL byte between tokens and inside a string. */
    expect_reason_n("", 0, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
    expect_reason_n("{}\0", 3, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
    expect_reason_n("{\"a\":\"x\0y\"}", 11, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
    /* jansson alone would skip a NUL right after a number or literal. */
    expect_reason_n("{\"a\":1\0}", 8, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
    expect_reason_n("[true\0]", 7, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
    expect_reason_n("5\0", 2, NULL, &opts_activity, CLM_REJ_INVALID_JSON);
}

static void test_not_object(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "[]", "[1,{\"a\":2}]", " 5 ", "-0", "1e-400", "\"s\"", "\"\\u00e9\"", "null",
        "true", "false", "[{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0}]",
        "-9223372036854775808", "1.5E+3",
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_NOT_OBJECT);
}

static void test_missing_field(void **state)
{
    (void)state;
    expect_reason("{}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"customer_id\":\"c\",\"ts\":0}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"visit\",\"ts\":0}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\"}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"refund\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"marketing_spend\",\"ts\":0}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"csat_response\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    /* Keys are case-sensitive: "Type" is not "type". */
    expect_reason("{\"Type\":\"visit\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    /* A "type" nested deeper does not count. */
    expect_reason("{\"x\":{\"type\":\"visit\"},\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
}

static void test_wrong_type(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"type\":5,\"customer_id\":\"c\",\"ts\":0}",
        "{\"type\":null,\"customer_id\":\"c\",\"ts\":0}",
        "{\"type\":[\"visit\"],\"customer_id\":\"c\",\"ts\":0}",
        "{\"type\":\"visit\",\"customer_id\":null,\"ts\":0}",
        "{\"type\":\"marketing_spend\",\"customer_id\":null,\"ts\":0,\"amount\":1}",
        "{\"type\":\"visit\",\"customer_id\":42,\"ts\":0}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"event_id\":1,\"ts\":0}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"event_id\":null,\"ts\":0}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":true}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":null}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":{}}",
        "{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":\"49.9\"}",
        "{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":null}",
        "{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":3.0}",
        "{\"type\":\"review\",\"customer_id\":\"c\",\"ts\":0,\"score\":\"3\"}",
        "{\"type\":\"review\",\"customer_id\":\"c\",\"ts\":0,\"score\":3e0}",
        "{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":\"10\"}",
        "{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":false}",
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_WRONG_TYPE);
}

static void test_bad_ids_and_type(void **state)
{
    (void)state;
    char *long_id = repeat('a', CLM_ID_MAX + 1), *long_type = repeat('t', CLM_TYPE_MAX + 1);
    char buf[600];

    expect_reason("{\"type\":\"visit\",\"customer_id\":\"\",\"ts\":0}", NULL,
                  CLM_REJ_BAD_CUSTOMER_ID);
    snprintf(buf, sizeof(buf), "{\"type\":\"visit\",\"customer_id\":\"%s\",\"ts\":0}", long_id);
    expect_reason(buf, NULL, CLM_REJ_BAD_CUSTOMER_ID);
    snprintf(buf, sizeof(buf), "{\"type\":\"visit\",\"customer_id\":\"c\",\"event_id\":\"%s\",\"ts\":0}",
             long_id);
    expect_reason(buf, NULL, CLM_REJ_BAD_EVENT_ID);
    expect_reason("{\"type\":\"\",\"customer_id\":\"c\",\"ts\":0}", NULL, CLM_REJ_BAD_TYPE);
    snprintf(buf, sizeof(buf), "{\"type\":\"%s\",\"customer_id\":\"c\",\"ts\":0}", long_type);
    expect_reason(buf, NULL, CLM_REJ_BAD_TYPE);
    /* 43 escapes of 3 bytes each decode to 129 bytes: too long after unescaping. */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "{\"type\":\"visit\",\"ts\":0,\"customer_id\":\"");
    for (int k = 0; k < 43; k++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\u20ac");
    snprintf(buf + n, sizeof(buf) - n, "\"}");
    expect_reason(buf, NULL, CLM_REJ_BAD_CUSTOMER_ID);
    free(long_id);
    free(long_type);
}

/* identify: anonymous_id is required, validated like customer_id and
 * different from it; other types ignore it. */
static void test_identify(void **state)
{
    (void)state;
    char *long_id = repeat('a', CLM_ID_MAX + 1), *max_id = repeat('m', CLM_ID_MAX);
    char buf[600];

    clm_event ev = expect_ok("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":5,"
                             "\"anonymous_id\":\"anon-\\u20ac\",\"event_id\":\"i-1\"}");
    assert_int_equal(ev.type, CLM_EV_IDENTIFY);
    assert_true(ev.has_anonymous);
    assert_int_equal(ev.anonymous_id_len, 8);
    assert_string_equal(ev.anonymous_id, "anon-\xe2\x82\xac");
    assert_string_equal(ev.customer_id, "c");
    snprintf(buf, sizeof(buf), "{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,"
             "\"anonymous_id\":\"%s\"}", max_id);
    ev = expect_ok(buf);
    assert_int_equal(ev.anonymous_id_len, CLM_ID_MAX);
    /* ignored (not even type-checked) on other types */
    ev = expect_ok("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":7}");
    assert_false(ev.has_anonymous);
    assert_int_equal(ev.anonymous_id_len, 0);

    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0}", NULL,
                  CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"identify\",\"ts\":0,\"anonymous_id\":\"a\"}", NULL,
                  CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":1}",
                  NULL, CLM_REJ_WRONG_TYPE);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,"
                  "\"anonymous_id\":null}", NULL, CLM_REJ_WRONG_TYPE);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":\"\"}",
                  NULL, CLM_REJ_BAD_CUSTOMER_ID);
    snprintf(buf, sizeof(buf), "{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,"
             "\"anonymous_id\":\"%s\"}", long_id);
    expect_reason(buf, NULL, CLM_REJ_BAD_CUSTOMER_ID);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":\"c\"}",
                  NULL, CLM_REJ_BAD_CUSTOMER_ID);
    /* checked after duration_s, before the message key */
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":-1}",
                  NULL, CLM_REJ_BAD_DURATION);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":\"\"}",
                  "other", CLM_REJ_BAD_CUSTOMER_ID);
    expect_reason("{\"type\":\"identify\",\"customer_id\":\"c\",\"ts\":0,\"anonymous_id\":\"a\"}",
                  "other", CLM_REJ_KEY_MISMATCH);
    free(long_id);
    free(max_id);
}

static void test_unknown_type(void **state)
{
    (void)state;
    expect_reason_o("{\"type\":\"Purchase\",\"customer_id\":\"c\",\"ts\":0}", NULL, &opts_reject,
                    CLM_REJ_UNKNOWN_TYPE);
    expect_reason_o("{\"type\":\"other\",\"customer_id\":\"c\",\"ts\":0}", NULL, &opts_reject,
                    CLM_REJ_UNKNOWN_TYPE);
    /* Checked before customer_id: the missing id is not reported. */
    expect_reason_o("{\"type\":\"webinar\",\"ts\":0}", NULL, &opts_reject, CLM_REJ_UNKNOWN_TYPE);
    /* Built-in names pass under the reject policy. */
    expect_ok_o("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0}", NULL, &opts_reject);
}

static void test_bad_timestamp(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-13-01T00:00:00Z\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-02-29T00:00:00Z\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-11-22T10:15:00\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"yesterday\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"1795342500000\"}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":-1}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":253402300800000}", /* MAX + 1 */
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":1795342500000.0}",
        "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":1.7953425e12}",
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_BAD_TIMESTAMP);
}

static void test_future_timestamp(void **state)
{
    (void)state;
    /* REF_MS + 300000 = 1795342800000 is the last accepted instant. */
    expect_ok("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":1795342800000}");
    expect_ok("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-11-22T10:20:00Z\"}");
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":1795342800001}", NULL,
                  CLM_REJ_FUTURE_TIMESTAMP);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-11-22T10:20:00.001Z\"}",
                  NULL, CLM_REJ_FUTURE_TIMESTAMP);
    /* 10:19:01 at -00:01 is 10:20:01 UTC, one second past the limit. */
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":\"2026-11-22T10:19:01-00:01\"}",
                  NULL, CLM_REJ_FUTURE_TIMESTAMP);
}

static void test_bad_amount(void **state)
{
    (void)state;
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-0.01}", NULL,
                  CLM_REJ_BAD_AMOUNT);
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-1}", NULL,
                  CLM_REJ_BAD_AMOUNT);
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":1000000000001}",
                  NULL, CLM_REJ_BAD_AMOUNT);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"amount\":1e13}", NULL,
                  CLM_REJ_BAD_AMOUNT);
}

static void test_bad_score(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":11}",
        "{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":-1}",
        "{\"type\":\"csat_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":0}",
        "{\"type\":\"csat_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":6}",
        "{\"type\":\"review\",\"customer_id\":\"c\",\"ts\":0,\"score\":2147483648}",
        "{\"type\":\"review\",\"customer_id\":\"c\",\"ts\":0,\"score\":-2147483649}",
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_reason(cases[k], NULL, CLM_REJ_BAD_SCORE);
    /* The edges of each range are accepted. */
    expect_ok("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":0}");
    expect_ok("{\"type\":\"csat_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":5}");
    expect_ok("{\"type\":\"review\",\"customer_id\":\"c\",\"ts\":0,\"score\":2147483647}");
}

static void test_bad_duration(void **state)
{
    (void)state;
    expect_reason("{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":-1}", NULL,
                  CLM_REJ_BAD_DURATION);
    expect_reason("{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":-0.001}", NULL,
                  CLM_REJ_BAD_DURATION);
    expect_reason("{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":31536000.5}",
                  NULL, CLM_REJ_BAD_DURATION);
    expect_reason("{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":1e9}", NULL,
                  CLM_REJ_BAD_DURATION);
}

static void test_key_mismatch(void **state)
{
    (void)state;
    const char *ev = "{\"type\":\"visit\",\"customer_id\":\"c-42\",\"ts\":0}";

    expect_reason(ev, "c-43", CLM_REJ_KEY_MISMATCH);
    expect_reason(ev, "c-4", CLM_REJ_KEY_MISMATCH);  /* a prefix is not equal */
    expect_reason(ev, "c-420", CLM_REJ_KEY_MISMATCH);
    expect_ok_o(ev, "c-42", &opts_activity);
    /* Without a customer there is nothing to compare, and no key is needed. */
    expect_ok_o("{\"type\":\"marketing_spend\",\"ts\":0,\"amount\":5}", "mkt:search",
                &opts_activity);
    expect_ok_o("{\"type\":\"marketing_spend\",\"ts\":0,\"amount\":5}", "", &opts_activity);
}

/* A customer's event without a key (or with an empty one) would land on any
 * partition: missing_key, after every field check. */
static void test_missing_key(void **state)
{
    (void)state;
    const char *ev = "{\"type\":\"purchase\",\"customer_id\":\"c-42\",\"ts\":0,\"amount\":1}";
    clm_msg_meta meta = {NULL, 0, REF_MS};

    expect_reason(ev, "", CLM_REJ_MISSING_KEY);
    for (size_t d = 0; d < 2; d++) {
        clm_event e;
        clm_reject rej = {CLM_REJ_NONE, ""};

        assert_int_equal(decoders[d].fn(ev, strlen(ev), &meta, &opts_activity, &e, &rej), -EINVAL);
        assert_int_equal(rej.reason, CLM_REJ_MISSING_KEY);
        assert_non_null(strstr(rej.detail, "c-42"));
    }
    /* a marketing_spend naming a customer is a customer's event too */
    expect_reason("{\"type\":\"marketing_spend\",\"customer_id\":\"c\",\"ts\":0,\"amount\":5}", "",
                  CLM_REJ_MISSING_KEY);
    /* field checks come first */
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-1}", "",
                  CLM_REJ_BAD_AMOUNT);
}

/* Amounts are read from the JSON text exactly, in both decoders. */
static void test_amount_exact(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t micros; /* -1: bad_amount */
    } cases[] = {
        {"1000000000000", 1000000000000000000LL},
        {"1e12", 1000000000000000000LL},
        {"1E3", 1000000000LL},
        {"49.9", 49900000},
        {"-0", 0},
        {"-0.0", 0},
        {"0.000001", 1},
        {"4294967296.000001", 4294967296000001LL},
        {"999999999999.999999", 999999999999999999LL},
        {"12.50000000000000000000000", 12500000},
        {"0.0000001", -1},
        {"1e-7", -1},
        {"1000000000000.000001", -1},
        {"1000000000000.0000001", -1},
        {"1.0000000000001e12", -1},
        {"1000000000001", -1},
        {"1e300", -1},
        {"-1e-300", -1},
        {"-0.000001", -1},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":%s}",
                 cases[i].text);
        if (cases[i].micros < 0) {
            expect_reason(buf, NULL, CLM_REJ_BAD_AMOUNT);
        } else {
            clm_event e = expect_ok(buf);

            assert_true(e.has_amount);
            assert_int_equal(e.amount_micros, cases[i].micros);
        }
    }
    /* the amount found among escaped keys, nested values and other numbers */
    clm_event e = expect_ok("{\"a\":{\"amount\":7},\"am\\u006fun\":8,\"x\":[\"amount\",1.5],"
                            "\"type\":\"refund\",\"customer_id\":\"c\",\"ts\":0,"
                            "\"\\u0061mount\" : 0.25e1 ,\"z\":\"}\"}");
    assert_int_equal(e.amount_micros, 2500000);
    /* leading zeros are not JSON */
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":0,\"amount\":01}", NULL,
                  CLM_REJ_INVALID_JSON);
}

static void test_first_failure_wins(void **state)
{
    (void)state;
    /* Fields are checked type, customer_id, event_id, ts, amount, score,
     * duration_s, key; each input here breaks two rules. */
    expect_reason("{\"customer_id\":5,\"ts\":\"x\"}", NULL, CLM_REJ_MISSING_FIELD);
    expect_reason("{\"type\":\"visit\",\"customer_id\":5,\"ts\":\"x\"}", NULL, CLM_REJ_WRONG_TYPE);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"\",\"event_id\":7}", NULL,
                  CLM_REJ_BAD_CUSTOMER_ID);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"event_id\":7,\"ts\":\"x\"}", NULL,
                  CLM_REJ_WRONG_TYPE);
    expect_reason("{\"type\":\"purchase\",\"customer_id\":\"c\",\"ts\":-5}", NULL,
                  CLM_REJ_BAD_TIMESTAMP);
    expect_reason("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-1,"
                  "\"score\":99}",
                  NULL, CLM_REJ_BAD_AMOUNT);
    expect_reason("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"score\":99,"
                  "\"duration_s\":-1}",
                  NULL, CLM_REJ_BAD_SCORE);
    expect_reason("{\"type\":\"session\",\"customer_id\":\"c\",\"ts\":0,\"duration_s\":-1}", "k",
                  CLM_REJ_BAD_DURATION);
    /* A field's value check comes before a later field's presence or type
     * (the README's examples). */
    expect_reason("{\"type\":\"\",\"ts\":true}", NULL, CLM_REJ_BAD_TYPE);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"\",\"ts\":true}", NULL,
                  CLM_REJ_BAD_CUSTOMER_ID);
    expect_reason("{\"type\":\"nps_response\",\"customer_id\":\"c\",\"ts\":0,\"amount\":-1,"
                  "\"score\":\"9\"}",
                  "c", CLM_REJ_BAD_AMOUNT);
    expect_reason("{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":1.5}", NULL,
                  CLM_REJ_BAD_TIMESTAMP);
}

/* ---- the malformed-message corpus -------------------------------------- */

static clm_reason reason_by_name(const char *name)
{
    for (int r = 0; r < CLM_REJ__COUNT; r++) {
        if (strcmp(clm_reason_name((clm_reason)r), name) == 0)
            return (clm_reason)r;
    }
    fail_msg("unknown reason '%s' in MANIFEST.tsv", name);
    return CLM_REJ__COUNT;
}

static void test_malformed_corpus(void **state)
{
    (void)state;
    char line[512], path[1024];
    FILE *manifest = fopen(CLM_TEST_DATA_DIR "/malformed/MANIFEST.tsv", "r");
    int files = 0;
    unsigned seen = 0;

    assert_non_null(manifest);
    while (fgets(line, sizeof(line), manifest) != NULL) {
        char *file, *key, *reason, *save = NULL;
        static char buf[1 << 16];
        FILE *f;
        size_t n;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        file = strtok_r(line, "\t", &save);
        key = strtok_r(NULL, "\t", &save);
        reason = strtok_r(NULL, "\t", &save);
        assert_non_null(reason);
        snprintf(path, sizeof(path), "%s/malformed/%s", CLM_TEST_DATA_DIR, file);
        f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("cannot open %s", path);
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        /* "-" in the key column means the message has no key. */
        expect_reason_n(buf, n, strcmp(key, "-") == 0 ? "" : key, &opts_corpus,
                        reason_by_name(reason));
        seen |= 1u << reason_by_name(reason);
        files++;
    }
    fclose(manifest);
    assert_true(files >= 50);
    /* Every reason but none and late_dropped has at least one file. */
    assert_int_equal(seen, ((1u << CLM_REJ__COUNT) - 1) & ~1u & ~(1u << CLM_REJ_LATE_DROPPED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_example),
        cmocka_unit_test(test_valid_variants),
        cmocka_unit_test(test_valid_escapes),
        cmocka_unit_test(test_valid_lengths),
        cmocka_unit_test(test_valid_big_messages),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_inside_event),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_missing_field),
        cmocka_unit_test(test_identify),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_bad_ids_and_type),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_bad_timestamp),
        cmocka_unit_test(test_future_timestamp),
        cmocka_unit_test(test_bad_amount),
        cmocka_unit_test(test_bad_score),
        cmocka_unit_test(test_bad_duration),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_amount_exact),
        cmocka_unit_test(test_first_failure_wins),
        cmocka_unit_test(test_malformed_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
