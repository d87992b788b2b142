/* tests/test-decode-diff.c - clm_decode_fast against clm_decode_json.
 *
 * A deterministic generator builds events (valid ones, and ones that break
 * each field rule), random JSON values, deep nesting around the 2048 limit,
 * wide objects and number edge cases, then mutates most of them: byte
 * replacements, bit flips, truncations, deletions, duplicated ranges and
 * inserted escapes, invalid UTF-8, literals, numbers and duplicate keys.
 * Both decoders must agree on every case: the same return value, the same
 * reason, and on success the same clm_event byte for byte.
 *
 * CLM_DIFF_CASES (environment) overrides the number of cases (default
 * 250000); CLM_DIFF_SEED the generator seed.
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

#include "core/evtype.h"
#include "core/trait.h"
#include "daemon/decode.h"

#define DEFAULT_CASES 250000
#define BUF_CAP (1 << 16)
#define REF_MS 1795342500000LL

/* ---- deterministic randomness (splitmix64) ------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static size_t rn(size_t n)
{
    return (size_t)(rnd() % n);
}

/* True with probability pct percent. */
static int chance(unsigned pct)
{
    return rn(100) < pct;
}

static const char *pick(const char *const *list, size_t n)
{
    return list[rn(n)];
}

#define PICK(list) pick(list, sizeof(list) / sizeof(list[0]))

/* ---- an append-only text buffer ---------------------------------------- */

typedef struct text {
    char *p;
    size_t len;
} text;

/* Appends s, or nothing when it does not fit. */
static void put_n(text *t, const char *s, size_t n)
{
    if (n > BUF_CAP - t->len)
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void put(text *t, const char *s)
{
    put_n(t, s, strlen(s));
}

static void putf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(text *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put_n(t, tmp, n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void ws(text *t)
{
    static const char *const spaces[] = {" ", "\n", "\t", "\r\n", "  "};

    if (chance(8))
        put(t, PICK(spaces));
}

/* ---- generated pieces --------------------------------------------------- */

static const char *const type_names[] = {
    "visit", "signup", "lead_contacted", "purchase", "refund", "onboarding_complete", "login",
    "session", "feature_use", "support_ticket", "csat_response", "nps_response", "referral",
    "review", "upgrade", "downgrade", "payment_failed", "cancel", "marketing_spend",
};

static const char *const odd_types[] = {
    "trial_started", "renewal", "escalation", "tri\\u0061l_started", "webinar", "Purchase", "other", "", "visit ", "\\u0076isit", "purchas\\u0065",
    "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt",  /* 64 */
    "ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt", /* 65 */
};

/* String contents, already escaped for JSON, some of them odd. */
static const char *const string_bits[] = {
    "c-1", "\\u00e9", "\\ud83d\\ude00", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\xc3\xa9",
    "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u0041", "\\u20AC", "\x7f", "", " ", "z",
};

static void gen_string(text *t)
{
    put(t, "\"");
    for (size_t k = rn(4); k > 0; k--)
        put(t, PICK(string_bits));
    put(t, "\"");
}

static void gen_digits(text *t, size_t n, int leading_nonzero)
{
    for (size_t k = 0; k < n; k++) {
        char d = (char)('0' + rn(10));

        if (k == 0 && leading_nonzero && d == '0')
            d = '1';
        put_n(t, &d, 1);
    }
}

/* A JSON number of any shape, including ones near the integer and double limits. */
static void gen_number(text *t)
{
    static const char *const edges[] = {
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "1e308", "1.7976931348623157e308", "1.7976931348623159e308",
        "17976931348623157e292", "0.1e310", "1e309", "-1e309", "1e-400", "4.9e-324", "-0",
        "-0.0", "0e0", "0E+0", "1E-0", "123456789012345678901234567890", "2147483648",
        "-2147483649", "1000000000000", "1000000000000.000001", "31536000", "31536000.0001",
        "253402300799999", "253402300800000", "1795342800001", "0.0000005", "1e2", "1.5E1",
        "1e12", "1E12", "0.1e13", "1.0000000000001e12", "1000000000000.0000001", "0.000001",
        "1e-6", "1e-7", "0.00000100", "4294967296.000001", "999999999999.999999", "0e999999",
        "-0e-5", "1e-999999999999", "12.5e-1",
    };

    if (chance(25)) {
        put(t, PICK(edges));
        return;
    }
    if (chance(20))
        put(t, "-");
    if (chance(15))
        put(t, "0");
    else
        gen_digits(t, 1 + rn(chance(10) ? 25 : 6), 1);
    if (chance(40)) {
        put(t, ".");
        gen_digits(t, 1 + rn(8), 0);
    }
    if (chance(10)) {
        put(t, chance(50) ? "e" : "E");
        if (chance(50))
            put(t, chance(50) ? "-" : "+");
        gen_digits(t, 1 + rn(3), 0);
    }
}

static void gen_value(text *t, int depth);

static void gen_container(text *t, int depth, int object)
{
    size_t n = rn(5);

    put(t, object ? "{" : "[");
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            put(t, ",");
        ws(t);
        if (object) {
            putf(t, "\"k%zu\"", chance(5) ? 0 : k); /* sometimes a duplicate */
            ws(t);
            put(t, ":");
            ws(t);
        }
        gen_value(t, depth + 1);
        ws(t);
    }
    put(t, object ? "}" : "]");
}

static void gen_value(text *t, int depth)
{
    static const char *const literals[] = {"true", "false", "null"};
    size_t kind = rn(depth > 3 ? 3 : 5);

    switch (kind) {
    case 0:
        gen_string(t);
        break;
    case 1:
        gen_number(t);
        break;
    case 2:
        put(t, PICK(literals));
        break;
    default:
        gen_container(t, depth, kind == 3);
        break;
    }
}

/* "YYYY-MM-DDTHH:MM:SS[.f](Z|+hh:mm)", mostly valid, near the reference time. */
static void gen_rfc3339(text *t)
{
    static const char *const seps[] = {"T", "T", "T", "t", " ", "X"};
    static const char *const zones[] = {"Z", "Z", "z", "+05:30", "-06:00", "+00:00", "-00:00",
                                        "+24:00", "+05:60", "", "+0530"};
    unsigned y = chance(90) ? 2026 : (unsigned)rn(10000), mo = chance(90) ? 11 : 1 + (unsigned)rn(13);
    unsigned d = chance(80) ? 22 : 1 + (unsigned)rn(31), h = chance(80) ? 10 : (unsigned)rn(25);
    unsigned mi = (unsigned)rn(61), s = (unsigned)rn(61);

    putf(t, "\"%04u-%02u-%02u%s%02u:%02u:%02u", y, mo, d, PICK(seps), h, mi, s);
    if (chance(30)) {
        put(t, ".");
        gen_digits(t, rn(11), 0);
    }
    put(t, PICK(zones));
    put(t, "\"");
}

static void gen_ts(text *t)
{
    size_t k = rn(10);

    if (k < 4)
        putf(t, "\"2026-11-22T%02u:%02u:%02u.%03uZ\"", (unsigned)rn(11), (unsigned)rn(60),
             (unsigned)rn(60), (unsigned)rn(1000));
    else if (k < 6)
        gen_rfc3339(t);
    else if (k < 8)
        putf(t, "%lld", REF_MS - 100000000LL + (long long)rn(100600000));
    else if (k < 9)
        gen_number(t);
    else
        gen_value(t, 3);
}

static void gen_id(text *t, const char *prefix, size_t n)
{
    size_t k = rn(20);

    if (k == 0) {
        put(t, "\"\"");
    } else if (k == 1) {
        put(t, "\"");
        for (size_t j = 127 + rn(3); j > 0; j--)
            put(t, "a");
        put(t, "\"");
    } else if (k == 2) {
        gen_value(t, 3);
    } else if (k == 3) {
        gen_string(t);
    } else {
        putf(t, "\"%s%zu\"", prefix, n);
    }
}

/* One event object; *cust receives the customer id as written (for keys). */
/* A value for a trait member: mostly of the configured types, sometimes
 * too long, empty, null or of another type. */
static void gen_trait_value(text *t)
{
    static const char *const words[] = {"\"pro\"", "\"free\"", "\"team\"", "\"\"",
                                        "\"enterprise-plus\"", "\"b\\u00e9ta\"", "true",
                                        "false", "null", "12", "-0", "3.5", "1e3", "[1]"};

    if (chance(70))
        put(t, PICK(words));
    else if (chance(50))
        gen_number(t);
    else
        gen_value(t, 2);
}

/* A top-level "properties" member: mostly an object holding trait members. */
static void gen_properties(text *t)
{
    static const char *const keys[] = {"country", "seats", "b2b", "plan", "co\\u0075ntry", "x"};
    size_t n = rn(5);

    put(t, "\"properties\":");
    if (chance(10)) {
        gen_value(t, 2);
        return;
    }
    put(t, "{");
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            put(t, ",");
        putf(t, "\"%s\":", PICK(keys));
        gen_trait_value(t);
    }
    put(t, "}");
}

static void gen_event(text *t, char *cust, size_t cust_size)
{
    const char *type = chance(92) ? PICK(type_names) : PICK(odd_types);
    size_t order[12], nfields = 0, cid = rn(1000);

    for (size_t k = 0; k < 12; k++) {
        if (k < 7 && chance(k == 0 || k == 3 ? 97 : k == 1 ? 93 : 60))
            order[nfields++] = k;
        else if (k >= 7 && k < 10 && chance(25))
            order[nfields++] = k;
        else if (k >= 10 && chance(40))
            order[nfields++] = k;
    }
    for (size_t k = nfields; k > 1; k--) {
        size_t j = rn(k), tmp = order[k - 1];

        order[k - 1] = order[j];
        order[j] = tmp;
    }
    snprintf(cust, cust_size, "c-%zu", cid);

    ws(t);
    put(t, "{");
    for (size_t k = 0; k < nfields; k++) {
        if (k > 0)
            put(t, ",");
        ws(t);
        switch (order[k]) {
        case 0:
            put(t, chance(3) ? "\"\\u0074ype\":" : "\"type\":");
            if (chance(97))
                putf(t, "\"%s\"", type);
            else
                gen_value(t, 3);
            break;
        case 1:
            put(t, "\"customer_id\":");
            if (chance(90))
                putf(t, "\"%s\"", cust);
            else
                gen_id(t, "c-", cid);
            break;
        case 2:
            put(t, "\"event_id\":");
            gen_id(t, "e-", rn(100000));
            break;
        case 3:
            put(t, "\"ts\":");
            gen_ts(t);
            break;
        case 4:
            put(t, "\"amount\":");
            if (chance(60))
                putf(t, "%u.%02u", (unsigned)rn(1000), (unsigned)rn(100));
            else if (chance(80))
                gen_number(t);
            else
                gen_value(t, 3);
            break;
        case 5:
            put(t, "\"score\":");
            if (chance(70))
                putf(t, "%d", (int)rn(13) - 1);
            else
                gen_value(t, 2);
            break;
        case 6:
            put(t, "\"duration_s\":");
            gen_number(t);
            break;
        case 10:
            put(t, chance(5) ? "\"pl\\u0061n\":" : "\"plan\":");
            gen_trait_value(t);
            break;
        case 11:
            gen_properties(t);
            break;
        default:
            putf(t, "\"x%zu\":", order[k]);
            gen_value(t, 1);
            break;
        }
        ws(t);
    }
    /* Sometimes a duplicate of a contract field at the end. */
    if (chance(3))
        put(t, ",\"ts\":0");
    put(t, "}");
    ws(t);
}

/* Nesting around the depth limit: d containers with an optional scalar inside. */
static void gen_deep(text *t)
{
    size_t d = 2040 + rn(13);
    int in_event = chance(50);
    char closers[2100];

    if (in_event)
        put(t, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":");
    for (size_t k = 0; k < d; k++) {
        int obj = chance(10);

        put(t, obj ? "{\"k\":" : "[");
        closers[k] = obj ? '}' : ']';
    }
    if (chance(50))
        put(t, chance(50) ? "1" : "\"s\"");
    else if (chance(50))
        put(t, "[]");
    else
        put(t, "null");
    for (size_t k = d; k > 0; k--)
        put_n(t, &closers[k - 1], 1);
    if (in_event)
        put(t, "}");
}

/* An event with an "x" nested 1..80 deep: both sides of the fast decoder's
 * own depth bound (64), with duplicate keys at the bottom now and then. */
static void gen_nested(text *t)
{
    size_t d = 1 + rn(80);
    char closers[80];

    put(t, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"x\":");
    for (size_t k = 0; k < d; k++) {
        int obj = chance(30);

        put(t, obj ? "{\"k\":" : "[");
        closers[k] = obj ? '}' : ']';
    }
    gen_value(t, 2);
    for (size_t k = d; k > 0; k--)
        put_n(t, &closers[k - 1], 1);
    put(t, "}");
}

/* An object with many keys, one of them duplicated now and then. */
static void gen_wide(text *t)
{
    size_t n = 9 + rn(200), dup = chance(40) ? rn(n) : n;

    put(t, "{\"type\":\"visit\",\"customer_id\":\"c\",\"ts\":0,\"w\":{");
    for (size_t k = 0; k < n; k++)
        putf(t, "%s\"w%zu\":%zu", k ? "," : "", k, k);
    if (dup < n)
        putf(t, ",\"w%zu\":0", dup);
    put(t, "}}");
}

/* ---- mutations ---------------------------------------------------------- */

static const char *const inserts[] = {
    "\"", "\\", "\\u", "\\ud800", "\\udc00", "\\ud800\\udc00", "\\u0000", "\\x", ",", ":",
    "{", "}", "[", "]", " ", "\t", "\f", "\v", "\x01", "\x1f", "\x7f", "\xc0\xaf",
    "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82\xac", "\xe2\x82", "\xff", "1e400", "-", "0",
    "01", "1.", ".5", "1e", "9223372036854775808", "true", "tru", "null", "nul", "NaN",
    "\"type\":\"visit\",", "\"a\":1,\"a\":2,", "[[[[[[[[", "]]]]", "//", "\\/", "\\\"",
};

static void mutate(text *t)
{
    size_t pos = t->len ? rn(t->len) : 0;

    switch (rn(7)) {
    case 0:
        if (t->len)
            t->p[pos] = (char)rn(256);
        break;
    case 1:
        if (t->len)
            t->p[pos] ^= (char)(1u << rn(8));
        break;
    case 2:
        t->len = pos;
        break;
    case 3: {
        const char *s = PICK(inserts);
        size_t n = strlen(s);

        if (t->len + n <= BUF_CAP) {
            memmove(t->p + pos + n, t->p + pos, t->len - pos);
            memcpy(t->p + pos, s, n);
            t->len += n;
        }
        break;
    }
    case 4: {
        size_t n = 1 + rn(8);

        if (pos + n > t->len)
            n = t->len - pos;
        memmove(t->p + pos, t->p + pos + n, t->len - pos - n);
        t->len -= n;
        break;
    }
    case 5: {
        size_t n = 1 + rn(16), at = t->len ? rn(t->len + 1) : 0;
        char tmp[16];

        if (pos + n > t->len)
            n = t->len - pos;
        if (t->len + n <= BUF_CAP) {
            memcpy(tmp, t->p + pos, n);
            memmove(t->p + at + n, t->p + at, t->len - at);
            memcpy(t->p + at, tmp, n);
            t->len += n;
        }
        break;
    }
    default:
        if (t->len)
            t->p[pos] = PICK(inserts)[0];
        break;
    }
}

/* ---- the comparison ----------------------------------------------------- */

static void print_input(const char *p, size_t n)
{
    fprintf(stderr, "input (%zu bytes): \"", n);
    for (size_t k = 0; k < n && k < 2000; k++) {
        unsigned char c = (unsigned char)p[k];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\"\n");
}

/* Traits read at the top level and from "properties", of every type. */
static const clm_trait_set diff_traits = {
    .n = 4,
    .t = {
        {.name = "plan", .field = "plan", .field_len = 4, .type = CLM_TRAIT_STR,
         .reject_invalid = true, .max_len = 8},
        {.name = "country", .field = "country", .field_len = 7, .in_properties = true,
         .type = CLM_TRAIT_STR, .reject_invalid = false, .max_len = 2 * 8},
        {.name = "seats", .field = "seats", .field_len = 5, .in_properties = true,
         .type = CLM_TRAIT_NUM, .reject_invalid = true, .update = CLM_TRAIT_SUM},
        {.name = "b2b", .field = "b2b", .field_len = 3, .in_properties = true,
         .type = CLM_TRAIT_BOOL, .reject_invalid = true},
    },
};

/* Configured event types: one requiring a trait and event_id, one taking
 * the meaning of purchase (amount required), one of support_ticket. */
static const clm_custom_types diff_types = {
    .n = 3,
    .t = {
        {.name = "trial_started", .len = 13, .as = CLM_EV_OTHER, .activity = CLM_ACT_YES,
         .req_names = {"plan", "event_id"}, .nreq = 2, .req_fields = CLM_REQ_EVENT_ID, .req_traits = 1},
        {.name = "renewal", .len = 7, .as = CLM_EV_PURCHASE},
        {.name = "escalation", .len = 10, .as = CLM_EV_SUPPORT_TICKET, .activity = CLM_ACT_NO,
         .req_names = {"score"}, .nreq = 1, .req_fields = CLM_REQ_SCORE},
    },
};

static void test_decoders_agree(void **state)
{
    (void)state;
    const char *env_cases = getenv("CLM_DIFF_CASES"), *env_seed = getenv("CLM_DIFF_SEED");
    size_t cases = env_cases ? strtoul(env_cases, NULL, 10) : DEFAULT_CASES;
    size_t per_reason[CLM_REJ__COUNT] = {0};
    text t = {malloc(BUF_CAP), 0};
    char cust[32], other_key[] = "c-other";

    assert_non_null(t.p);
    rng_state = env_seed ? strtoull(env_seed, NULL, 10) : 20261122;
    for (size_t c = 0; c < cases; c++) {
        clm_decode_opts opts = {BUF_CAP, 300000, chance(50) ? CLM_UNKNOWN_REJECT : CLM_UNKNOWN_ACTIVITY,
                                chance(80) ? &diff_traits : NULL,
                                chance(80) ? &diff_types : NULL};
        clm_msg_meta meta = {NULL, 0, REF_MS - 1000 + (int64_t)rn(2000)};
        clm_event ej, ef;
        clm_reject xj = {CLM_REJ_NONE, ""}, xf = {CLM_REJ_NONE, ""};
        size_t family = rn(100);
        int rj, rf;

        t.len = 0;
        strcpy(cust, "c");
        if (family < 80)
            gen_event(&t, cust, sizeof(cust));
        else if (family < 88)
            gen_value(&t, 0);
        else if (family < 89)
            gen_deep(&t);
        else if (family < 94)
            gen_nested(&t);
        else
            gen_wide(&t);
        if (chance(55)) {
            for (size_t m = 1 + rn(3); m > 0; m--)
                mutate(&t);
        }

        if (chance(75)) {
            meta.key = cust;
            meta.key_len = strlen(cust);
        } else if (chance(25)) {
            meta.key = other_key;
            meta.key_len = sizeof(other_key) - 1;
        } else if (chance(10)) {
            meta.key = other_key;
            meta.key_len = 0; /* an empty key is no key */
        }
        if (chance(3))
            opts.max_bytes = rn(t.len + 2);
        if (chance(5))
            opts.max_future_ms = chance(50) ? 0 : INT64_MAX;

        memset(&ej, 0xAA, sizeof(ej));
        memset(&ef, 0x55, sizeof(ef));
        rj = clm_decode_json(t.p, t.len, &meta, &opts, &ej, &xj);
        rf = clm_decode_fast(t.p, t.len, &meta, &opts, &ef, &xf);
        if (rj != rf || (rj == 0 && memcmp(&ej, &ef, sizeof(ej)) != 0) ||
            (rj != 0 && xj.reason != xf.reason)) {
            print_input(t.p, t.len);
            fail_msg("case %zu: json %d %s (%s) / fast %d %s (%s)", c, rj,
                     clm_reason_name(rj ? xj.reason : CLM_REJ_NONE), xj.detail, rf,
                     clm_reason_name(rf ? xf.reason : CLM_REJ_NONE), xf.detail);
        }
        per_reason[rj ? xj.reason : CLM_REJ_NONE]++;
    }
    free(t.p);

    /* The generator must reach every outcome, or agreement proves little. */
    if (cases >= DEFAULT_CASES) {
        for (int r = 0; r < CLM_REJ__COUNT; r++) {
            if (r != CLM_REJ_LATE_DROPPED && per_reason[r] == 0)
                fail_msg("no case ended in %s", clm_reason_name((clm_reason)r));
        }
        assert_true(per_reason[CLM_REJ_NONE] >= cases / 20);
    }
    for (int r = 0; r < CLM_REJ__COUNT; r++)
        print_message("# %-17s %zu\n", clm_reason_name((clm_reason)r), per_reason[r]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoders_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
