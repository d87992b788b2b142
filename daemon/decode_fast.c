/* daemon/decode_fast.c - the hot-path event decoder, built on jsmn.
 *
 * jsmn (Debian's header-only libjsmn 1.1.0, included with JSMN_STATIC so its
 * functions are private to this file, with JSMN_STRICT and JSMN_PARENT_LINKS)
 * finds token boundaries but is far more lenient than JSON: it does not check
 * the commas and colons between tokens, number grammar or range, literals,
 * what escapes decode to, control characters or duplicate keys, and stops at
 * a NUL byte. This file checks all of that on top of the tokens, so that it
 * accepts exactly the texts clm_decode_json (jansson) accepts: every byte of
 * the message is either inside a token whose content was validated or in a
 * gap between tokens whose punctuation was validated.
 *
 * Memory: tokens, key records and unescaped keys live on the stack for
 * typical events, so those are decoded without allocating. Bigger messages
 * grow them on the heap (at most one token per input byte).
 *
 * Two kinds of message are handed to clm_decode_json instead, which gives the
 * reference answer by definition (including jansson's 2048 nesting limit):
 * those nested deeper than FAST_MAX_DEPTH
 * (jsmn walks up from the newest token to find the container a closing
 * bracket ends, so its cost grows with depth times size; events are two or
 * three levels deep), and those too long for jsmn's int offsets (INT_MAX
 * bytes or more, beyond any events.max_bytes).
 */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/decode.h"
#include "daemon/decode_util.h"
#include "core/trait.h"

#define STACK_TOKENS 128
#define STACK_KEYS 32
#define STACK_ARENA 256
/* A number literal this long is copied to the heap to be converted. */
#define NUM_STACK 64
/* Objects with more keys than this are checked for duplicates by sorting. */
#define DUP_PAIRWISE_MAX 8
/* Deepest bracket nesting decoded here (see the top of the file). Being far
 * below jansson's limit, it also means the walk never needs to count depth. */
#define FAST_MAX_DEPTH 64
_Static_assert(FAST_MAX_DEPTH < CLM_JSON_MAX_DEPTH, "deep messages must go to the reference");

enum {
    F_TYPE, F_CUSTOMER_ID, F_EVENT_ID, F_TS, F_AMOUNT, F_SCORE, F_DURATION_S, F_ANONYMOUS_ID,
    F__COUNT
};
/* Besides the contract fields, a key can name the "properties" object or
 * the member a configured trait reads (F_TRAIT0 + its index). */
enum { F_PROPERTIES = F__COUNT, F_TRAIT0 };

static const struct {
    const char *name;
    size_t len;
} field_names[F__COUNT] = {
    [F_TYPE] = {"type", 4},       [F_CUSTOMER_ID] = {"customer_id", 11},
    [F_EVENT_ID] = {"event_id", 8}, [F_TS] = {"ts", 2},
    [F_AMOUNT] = {"amount", 6},   [F_SCORE] = {"score", 5},
    [F_DURATION_S] = {"duration_s", 10}, [F_ANONYMOUS_ID] = {"anonymous_id", 12},
};

typedef struct key_ref {
    const char *p; /* unescaped bytes */
    size_t len;
} key_ref;

typedef struct walk {
    const char *js;
    size_t len;
    jsmntok_t *tok;
    int ntok;
    key_ref *keys; /* keys of the objects now open, outermost object first */
    size_t nkeys, keys_cap;
    key_ref *keys_heap;
    char *arena; /* unescaped copies of keys that contain escapes */
    size_t arena_used, arena_cap;
    char *arena_heap;
    int field_tok[F__COUNT]; /* token of each contract field's value, or -1 */
    const clm_trait_set *traits; /* configured traits, or NULL */
    int trait_tok[CLM_EV_TRAITS]; /* token of each trait's value, or -1 */
    int props_tok;           /* token of the top-level "properties" object, or -1 */
    const char *err;         /* why the text is not JSON */
    size_t err_at;
    key_ref keys_stack[STACK_KEYS];
    char arena_stack[STACK_ARENA];
} walk;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_ws(const char *js, size_t i, size_t len)
{
    while (i < len && is_ws(js[i]))
        i++;
    return i;
}

static int fail(walk *w, size_t at, const char *why)
{
    w->err = why;
    w->err_at = at;
    return -1;
}

/* ---- strings ---------------------------------------------------------- */

static int hex4(const char *p)
{
    int v = 0;

    for (int k = 0; k < 4; k++) {
        char c = p[k];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v += c - '0';
        else if (c >= 'a' && c <= 'f')
            v += c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v += c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* Reads the \uXXXX escape (or surrogate pair) at p[0] == '\\'. Returns the
 * code point and sets *used, or -1 when it is malformed, \u0000 or an
 * unpaired surrogate (all errors in jansson). */
static long read_u_escape(const char *p, size_t n, size_t *used)
{
    long u, lo;

    if (n < 6 || (u = hex4(p + 2)) < 0 || u == 0)
        return -1;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return -1;
    if (u < 0xD800 || u > 0xDBFF) {
        *used = 6;
        return u;
    }
    if (n < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0 || lo < 0xDC00 ||
        lo > 0xDFFF)
        return -1;
    *used = 12;
    return 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
}

static size_t utf8_put(long u, char *out)
{
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xC0 | (u >> 6));
        out[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xE0 | (u >> 12));
        out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (u >> 18));
    out[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    out[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* Validates string content (between the quotes) as jansson does. Returns 0
 * and sets *escaped when it contains a backslash, or -1 with *bad the offset. */
static int str_check(const char *p, size_t n, int *escaped, size_t *bad)
{
    size_t i = 0, used;

    *escaped = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];

        if (c >= 0x20 && c != '\\') {
            i++;
            continue;
        }
        if (c < 0x20 || i + 1 >= n)
            goto out_bad;
        *escaped = 1;
        switch (p[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            i += 2;
            break;
        case 'u':
            if (read_u_escape(p + i, n - i, &used) < 0)
                goto out_bad;
            i += used;
            break;
        default:
            goto out_bad;
        }
    }
    return 0;

out_bad:
    *bad = i;
    return -1;
}

/* Unescapes validated string content: writes at most cap bytes to dst and
 * returns the full unescaped length. */
static size_t str_decode(const char *p, size_t n, char *dst, size_t cap)
{
    size_t i = 0, o = 0, used, k;
    char tmp[4];

    while (i < n) {
        if (p[i] != '\\') {
            if (o < cap)
                dst[o] = p[i];
            o++;
            i++;
            continue;
        }
        switch (p[i + 1]) {
        case 'b': tmp[0] = '\b'; k = 1; break;
        case 'f': tmp[0] = '\f'; k = 1; break;
        case 'n': tmp[0] = '\n'; k = 1; break;
        case 'r': tmp[0] = '\r'; k = 1; break;
        case 't': tmp[0] = '\t'; k = 1; break;
        case 'u':
            k = utf8_put(read_u_escape(p + i, n - i, &used), tmp);
            i += used - 2;
            break;
        default: tmp[0] = p[i + 1]; k = 1; break;
        }
        i += 2;
        for (size_t j = 0; j < k; j++, o++) {
            if (o < cap)
                dst[o] = tmp[j];
        }
    }
    return o;
}

/* ---- numbers and literals --------------------------------------------- */

/* Checks the RFC 8259 number grammar. Sets *real (it has '.', 'e' or 'E', as
 * jansson classifies) and *mag, an upper bound of the decimal exponent
 * (|value| < 10^mag). Returns 0 or -1. */
static int num_grammar(const char *p, size_t n, int *real, long *mag)
{
    size_t i = 0, int_start;
    long e = 0;
    int eneg = 0;

    *real = 0;
    if (i < n && p[i] == '-')
        i++;
    int_start = i;
    if (i >= n || !is_digit(p[i]))
        return -1;
    if (p[i] == '0')
        i++;
    else
        while (i < n && is_digit(p[i]))
            i++;
    *mag = (long)(i - int_start);
    if (i < n && p[i] == '.') {
        *real = 1;
        if (++i >= n || !is_digit(p[i]))
            return -1;
        while (i < n && is_digit(p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        *real = 1;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        if (i >= n || !is_digit(p[i]))
            return -1;
        for (; i < n && is_digit(p[i]); i++) {
            if (e < 1000000)
                e = e * 10 + (p[i] - '0');
        }
    }
    if (i != n)
        return -1;
    *mag += eneg ? -e : e;
    return 0;
}

/* Converts a valid integer literal as jansson does (strtoll). Returns 0, or
 * -ERANGE when it does not fit in long long. */
static int num_int(const char *p, size_t n, long long *out)
{
    char tmp[NUM_STACK];
    size_t digits = n - (p[0] == '-');

    if (digits <= 18) {
        long long v = 0;

        for (size_t i = n - digits; i < n; i++)
            v = v * 10 + (p[i] - '0');
        *out = p[0] == '-' ? -v : v;
        return 0;
    }
    /* No leading zeros: twenty or more digits cannot fit. */
    if (n >= sizeof(tmp))
        return -ERANGE;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtoll(tmp, NULL, 10);
    return errno == ERANGE ? -ERANGE : 0;
}

/* Converts a valid real literal as jansson does (strtod with the locale's
 * decimal point). Returns 0, -ERANGE on overflow, or -ENOMEM. */
static int num_real(const char *p, size_t n, double *out)
{
    char stack[NUM_STACK], *tmp = stack, *dot;
    char point = localeconv()->decimal_point[0];
    double v;
    int r = 0;

    if (n >= sizeof(stack)) {
        tmp = malloc(n + 1);
        if (tmp == NULL)
            return -ENOMEM;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (point != '.' && (dot = strchr(tmp, '.')) != NULL)
        *dot = point;
    errno = 0;
    v = strtod(tmp, NULL);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        r = -ERANGE;
    else
        *out = v;
    if (tmp != stack)
        free(tmp);
    return r;
}

/* Classifies a primitive (literal or number) and checks it converts.
 * Returns its kind name ("true", "integer", ...) or NULL with *why set. */
static const char *primitive_check(const char *p, size_t n, const char **why)
{
    int real;
    long mag;
    long long i;
    double d;
    int r;

    if (n == 4 && memcmp(p, "true", 4) == 0)
        return "true";
    if (n == 5 && memcmp(p, "false", 5) == 0)
        return "false";
    if (n == 4 && memcmp(p, "null", 4) == 0)
        return "null";
    if (num_grammar(p, n, &real, &mag) < 0) {
        *why = "invalid literal or number";
        return NULL;
    }
    if (!real) {
        if (num_int(p, n, &i) < 0) {
            *why = "integer out of range";
            return NULL;
        }
        return "integer";
    }
    /* Below 10^308 a real cannot overflow; only larger ones need strtod. */
    if (mag > 308 && (r = num_real(p, n, &d)) < 0) {
        *why = r == -ENOMEM ? "out of memory" : "real number overflow";
        return NULL;
    }
    return "real";
}

/* ---- the token walk --------------------------------------------------- */

static size_t tok_begin(const jsmntok_t *t)
{
    return (size_t)t->start - (t->type == JSMN_STRING);
}

static size_t tok_finish(const jsmntok_t *t)
{
    return (size_t)t->end + (t->type == JSMN_STRING);
}

static int check_scalar(walk *w, const jsmntok_t *t)
{
    const char *p = w->js + t->start;
    size_t n = (size_t)(t->end - t->start), bad;
    const char *why;
    int escaped;

    if (t->type == JSMN_STRING) {
        if (str_check(p, n, &escaped, &bad) < 0)
            return fail(w, (size_t)t->start + bad, "invalid string character or escape");
        return 0;
    }
    if (primitive_check(p, n, &why) == NULL)
        return fail(w, (size_t)t->start, why);
    return 0;
}

static char *arena_alloc(walk *w, size_t n)
{
    if (w->arena_cap - w->arena_used < n) {
        /* All keys together unescape to at most len bytes. */
        if (w->arena_heap != NULL)
            return NULL;
        w->arena_heap = malloc(w->len);
        if (w->arena_heap == NULL)
            return NULL;
        w->arena = w->arena_heap;
        w->arena_used = 0;
        w->arena_cap = w->len;
    }
    w->arena_used += n;
    return w->arena + w->arena_used - n;
}

static int keys_grow(walk *w)
{
    size_t cap = w->keys_cap * 4;
    key_ref *k = realloc(w->keys_heap, cap * sizeof(*k));

    if (k == NULL)
        return -1;
    if (w->keys_heap == NULL)
        memcpy(k, w->keys_stack, w->nkeys * sizeof(*k));
    w->keys = w->keys_heap = k;
    w->keys_cap = cap;
    return 0;
}

/* Validates, unescapes and records the key token t of the innermost open
 * object (token `open`); *field is set to what the key names (F_*, or -1):
 * a contract field, "properties" or a trait's member at the top level, a
 * trait's member in the "properties" object. */
static int add_key(walk *w, const jsmntok_t *t, int open, int *field)
{
    const char *p = w->js + t->start;
    size_t n = (size_t)(t->end - t->start), bad;
    key_ref k = {p, n};
    int escaped;

    if (str_check(p, n, &escaped, &bad) < 0)
        return fail(w, (size_t)t->start + bad, "invalid string character or escape");
    if (escaped) {
        char *dst = arena_alloc(w, n);

        if (dst == NULL)
            return fail(w, (size_t)t->start, "out of memory");
        k.p = dst;
        k.len = str_decode(p, n, dst, n);
    }
    if (w->nkeys == w->keys_cap && keys_grow(w) < 0)
        return fail(w, (size_t)t->start, "out of memory");
    w->keys[w->nkeys++] = k;
    *field = -1;
    if (open == 0) {
        for (int f = 0; f < F__COUNT; f++) {
            if (k.len == field_names[f].len && memcmp(k.p, field_names[f].name, k.len) == 0)
                *field = f;
        }
        if (k.len == 10 && memcmp(k.p, "properties", 10) == 0)
            *field = F_PROPERTIES;
    }
    if (*field < 0 && (open == 0 || open == w->props_tok)) {
        int ti = clm_trait_set_field(w->traits, k.p, k.len, open != 0);

        if (ti >= 0)
            *field = F_TRAIT0 + ti;
    }
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->p, y->p, x->len);
}

/* Returns -1 when two of keys[base..nkeys) are equal. */
static int check_dups(walk *w, size_t base)
{
    key_ref *k = w->keys + base;
    size_t n = w->nkeys - base;

    if (n <= DUP_PAIRWISE_MAX) {
        for (size_t a = 1; a < n; a++)
            for (size_t b = 0; b < a; b++)
                if (key_cmp(&k[a], &k[b]) == 0)
                    return -1;
        return 0;
    }
    qsort(k, n, sizeof(*k), key_cmp);
    for (size_t a = 1; a < n; a++)
        if (key_cmp(&k[a], &k[a - 1]) == 0)
            return -1;
    return 0;
}

/* Checks that the tokens and the bytes between them form exactly one JSON
 * value under jansson's rules (nesting is already known to be shallow), and records where the top-level contract
 * fields are. Container tokens are reused as walk state once opened: parent
 * becomes the enclosing container, start the object's first key record and
 * size the count of children still to come. Returns 0, or -1 with w->err. */
static int walk_run(walk *w)
{
    const char *js = w->js;
    jsmntok_t *t = w->tok;
    size_t cur = skip_ws(js, 0, w->len);
    int i = 0, open = -1, field = -1, after_open;

    for (;;) {
        /* A value starts at cur. */
        if (i >= w->ntok || tok_begin(&t[i]) != cur)
            return fail(w, cur, "value expected");
        if (field >= 0 && field < F__COUNT)
            w->field_tok[field] = i;
        else if (field == F_PROPERTIES && t[i].type == JSMN_OBJECT)
            w->props_tok = i;
        else if (field >= F_TRAIT0)
            w->trait_tok[field - F_TRAIT0] = i;
        field = -1;
        if (t[i].type == JSMN_OBJECT || t[i].type == JSMN_ARRAY) {
            t[i].parent = open;
            t[i].start = (int)w->nkeys;
            open = i++;
            cur++;
            after_open = 1;
        } else {
            if (check_scalar(w, &t[i]) < 0)
                return -1;
            cur = tok_finish(&t[i++]);
            after_open = 0;
        }

        /* Close what is complete, then stop where the next value starts. */
        for (;;) {
            jsmntok_t *o;

            cur = skip_ws(js, cur, w->len);
            if (open < 0) {
                if (cur != w->len || i != w->ntok)
                    return fail(w, cur, "end of input expected");
                return 0;
            }
            o = &t[open];
            if (o->size == 0) {
                if (cur + 1 != (size_t)o->end)
                    return fail(w, cur, "',' or end of container expected");
                if (o->type == JSMN_OBJECT && check_dups(w, (size_t)o->start) < 0)
                    return fail(w, cur, "duplicate object key");
                w->nkeys = (size_t)o->start;
                cur = (size_t)o->end;
                open = o->parent;
                after_open = 0;
                continue;
            }
            if (!after_open) {
                if (cur >= w->len || js[cur] != ',')
                    return fail(w, cur, "',' expected");
                cur = skip_ws(js, cur + 1, w->len);
            }
            o->size--;
            if (o->type == JSMN_OBJECT) {
                if (i >= w->ntok || t[i].type != JSMN_STRING || tok_begin(&t[i]) != cur)
                    return fail(w, cur, "object key expected");
                if (add_key(w, &t[i], open, &field) < 0)
                    return -1;
                cur = skip_ws(js, tok_finish(&t[i++]), w->len);
                if (cur >= w->len || js[cur] != ':')
                    return fail(w, cur, "':' expected");
                cur = skip_ws(js, cur + 1, w->len);
            }
            break;
        }
    }
}

/* ---- entry points ----------------------------------------------------- */

/* Counts bytes equal to c, stopping once the count passes stop. */
static size_t count_byte(const char *s, size_t len, char c, size_t stop)
{
    const char *end = s + len;
    size_t n = 0;

    while (n <= stop && (s = memchr(s, c, (size_t)(end - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}

/* Returns 1 when brackets outside strings nest deeper than limit. Counting
 * the opening brackets first (memchr) settles the common case quickly. */
static int nesting_exceeds(const char *js, size_t len, unsigned limit)
{
    size_t opens = count_byte(js, len, '{', limit);
    unsigned depth = 0;
    int in_str = 0;

    if (opens <= limit)
        opens += count_byte(js, len, '[', limit - opens);
    if (opens <= limit)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = js[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return 1;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* A message whose first byte is not '{' or '[': one scalar at best, so
 * invalid_json or not_object. */
static int decode_scalar(const char *buf, size_t len, size_t i, clm_reject *rej)
{
    const char *what = "string", *why = "invalid string character or escape";
    size_t j = i, bad;
    int escaped;

    if (buf[i] == '"') {
        for (j = i + 1; j < len && buf[j] != '"'; j += buf[j] == '\\' ? 2 : 1)
            ;
        if (j >= len)
            return clm_reject_set(rej, CLM_REJ_INVALID_JSON,
                                  "invalid JSON at byte %zu: unterminated string", i);
        if (str_check(buf + i + 1, j - i - 1, &escaped, &bad) < 0)
            return clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON at byte %zu: %s",
                                  i + 1 + bad, why);
        j++;
    } else {
        while (j < len && !is_ws(buf[j]))
            j++;
        what = primitive_check(buf + i, j - i, &why);
        if (what == NULL)
            return clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON at byte %zu: %s", i,
                                  why);
    }
    j = skip_ws(buf, j, len);
    if (j != len)
        return clm_reject_set(rej, CLM_REJ_INVALID_JSON,
                              "invalid JSON at byte %zu: end of input expected", j);
    return clm_reject_set(rej, CLM_REJ_NOT_OBJECT, "the message is a JSON %s, not an object",
                          what);
}

/* Runs jsmn over the whole message, growing w->tok on the heap when the
 * stack array is too small. Returns 0, or -1 with w->err. */
static int tokenize(walk *w, jsmntok_t *stack, unsigned stack_n, jsmntok_t **heap)
{
    jsmn_parser p;
    unsigned cap = stack_n;
    int r;

    jsmn_init(&p);
    w->tok = stack;
    for (;;) {
        r = jsmn_parse(&p, w->js, w->len, w->tok, cap);
        if (r != JSMN_ERROR_NOMEM)
            break;
        /* Every token starts at its own byte: len + 1 tokens always suffice. */
        size_t want = (size_t)cap * 8 > w->len + 1 ? w->len + 1 : (size_t)cap * 8;
        jsmntok_t *t;

        if (want <= cap)
            return fail(w, p.pos, "too many tokens");
        t = realloc(*heap, want * sizeof(*t));
        if (t == NULL)
            return fail(w, p.pos, "out of memory");
        if (*heap == NULL)
            memcpy(t, stack, (size_t)cap * sizeof(*t));
        *heap = w->tok = t;
        cap = (unsigned)want;
    }
    if (r < 0)
        return fail(w, p.pos, r == JSMN_ERROR_PART ? "unexpected end of input or NUL byte"
                                                   : "unexpected character");
    w->ntok = (int)p.toknext;
    return 0;
}

/* Describes token ti as a clm_jval; strings with escapes are unescaped into
 * buf (CLM_JVAL_STR_CAP bytes). Returns 0 or -ENOMEM. */
static int jval_of(const walk *w, int ti, clm_jval *v, char *buf)
{
    const jsmntok_t *t;
    const char *p;
    size_t n;

    memset(v, 0, sizeof(*v));
    if (ti < 0)
        return 0;
    t = &w->tok[ti];
    p = w->js + t->start;
    n = (size_t)(t->end - t->start);
    switch (t->type) {
    case JSMN_STRING:
        v->kind = CLM_J_STRING;
        if (memchr(p, '\\', n) == NULL) {
            v->str = p;
            v->len = n;
        } else {
            v->str = buf;
            v->len = str_decode(p, n, buf, CLM_JVAL_STR_CAP);
        }
        return 0;
    case JSMN_PRIMITIVE:
        if (p[0] == 't' || p[0] == 'f' || p[0] == 'n') {
            v->kind = CLM_J_OTHER;
            v->what = p[0] == 't' ? "true" : p[0] == 'f' ? "false" : "null";
            return 0;
        }
        v->num = p;
        v->num_len = n;
        if (memchr(p, '.', n) == NULL && memchr(p, 'e', n) == NULL && memchr(p, 'E', n) == NULL) {
            v->kind = CLM_J_INTEGER;
            return num_int(p, n, &v->i);
        }
        v->kind = CLM_J_REAL;
        return num_real(p, n, &v->d);
    case JSMN_OBJECT:
        v->kind = CLM_J_OTHER;
        v->what = "object";
        return 0;
    case JSMN_ARRAY:
    case JSMN_UNDEFINED:
        break;
    }
    v->kind = CLM_J_OTHER;
    v->what = "array";
    return 0;
}

int clm_decode_fast(const char *buf, size_t len, const clm_msg_meta *meta,
                    const clm_decode_opts *opts, clm_event *ev, clm_reject *rej)
{
    jsmntok_t stack_tok[STACK_TOKENS], *heap_tok = NULL;
    char strbuf[F__COUNT][CLM_JVAL_STR_CAP];
    char traitbuf[CLM_EV_TRAITS][CLM_JVAL_STR_CAP];
    clm_jval *fv[F__COUNT];
    clm_fields f;
    walk w;
    size_t i;
    int r;

    r = clm_decode_precheck(buf, len, opts, rej);
    if (r < 0)
        return r;
    if (len >= INT_MAX || nesting_exceeds(buf, len, FAST_MAX_DEPTH))
        return clm_decode_json(buf, len, meta, opts, ev, rej);
    i = skip_ws(buf, 0, len);
    if (i == len)
        return clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON: no value");
    if (buf[i] != '{' && buf[i] != '[')
        return decode_scalar(buf, len, i, rej);

    w.js = buf;
    w.len = len;
    w.keys = w.keys_stack;
    w.nkeys = 0;
    w.keys_cap = STACK_KEYS;
    w.keys_heap = NULL;
    w.arena = w.arena_stack;
    w.arena_used = 0;
    w.arena_cap = STACK_ARENA;
    w.arena_heap = NULL;
    for (int k = 0; k < F__COUNT; k++)
        w.field_tok[k] = -1;
    w.traits = opts->traits;
    for (int k = 0; k < CLM_EV_TRAITS; k++)
        w.trait_tok[k] = -1;
    w.props_tok = -1;

    if (tokenize(&w, stack_tok, STACK_TOKENS, &heap_tok) < 0 || walk_run(&w) < 0) {
        r = clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON at byte %zu: %s", w.err_at,
                           w.err);
        goto out_free_heap;
    }
    if (w.tok[0].type != JSMN_OBJECT) {
        r = clm_reject_set(rej, CLM_REJ_NOT_OBJECT, "the message is a JSON array, not an object");
        goto out_free_heap;
    }

    fv[F_TYPE] = &f.type;
    fv[F_CUSTOMER_ID] = &f.customer_id;
    fv[F_EVENT_ID] = &f.event_id;
    fv[F_TS] = &f.ts;
    fv[F_AMOUNT] = &f.amount;
    fv[F_SCORE] = &f.score;
    fv[F_DURATION_S] = &f.duration_s;
    fv[F_ANONYMOUS_ID] = &f.anonymous_id;
    for (int k = 0; k < F__COUNT; k++) {
        /* The walk has already converted every number, so only memory fails. */
        if (jval_of(&w, w.field_tok[k], fv[k], strbuf[k]) < 0) {
            r = clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON: out of memory");
            goto out_free_heap;
        }
    }
    for (int k = 0; k < CLM_EV_TRAITS; k++) {
        if (jval_of(&w, w.trait_tok[k], &f.trait[k], traitbuf[k]) < 0) {
            r = clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON: out of memory");
            goto out_free_heap;
        }
    }
    r = clm_decode_apply(&f, meta, opts, ev, rej);

out_free_heap:
    free(heap_tok);
    free(w.keys_heap);
    free(w.arena_heap);
    return r;
}
