/* daemon/decode_json.c - the reference event decoder, built on jansson.
 *
 * jansson defines what "well-formed JSON" means for clmd: with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES it accepts exactly RFC 8259 text
 * minus \u0000 in strings, duplicate keys in any object, integers outside
 * long long, reals that overflow a double and nesting deeper than 2048
 * (and minus the raw NUL byte it would let through, see below).
 * The fast decoder is measured against this one.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "daemon/decode.h"
#include "daemon/decode_util.h"
#include "core/trait.h"

static const char *json_kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        break;
    }
    return "null";
}

static void field_of(const json_t *root, const char *name, clm_jval *v)
{
    const json_t *j = json_object_get(root, name);

    memset(v, 0, sizeof(*v));
    if (j == NULL)
        return;
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->kind = CLM_J_STRING;
        v->str = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->kind = CLM_J_INTEGER;
        v->i = json_integer_value(j);
        break;
    case JSON_REAL:
        v->kind = CLM_J_REAL;
        v->d = json_real_value(j);
        break;
    default:
        v->kind = CLM_J_OTHER;
        v->what = json_kind_name(j);
        break;
    }
}

/* ---- the text of a top-level member -------------------------------------
 * jansson keeps no number's text, and an amount is read from its text. These
 * walk a message jansson has accepted (well-formed, without duplicate keys
 * or NUL bytes), so they skip rather than check. */

static size_t skip_ws(const char *b, size_t i, size_t len)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* Just past the string whose opening quote is b[i]. */
static size_t skip_string(const char *b, size_t i, size_t len)
{
    for (i++; i < len && b[i] != '"'; i++)
        if (b[i] == '\\')
            i++;
    return i + 1;
}

/* Just past the value starting at b[i]. */
static size_t skip_value(const char *b, size_t i, size_t len)
{
    int depth = 0;

    if (b[i] == '"')
        return skip_string(b, i, len);
    if (b[i] != '{' && b[i] != '[') {
        while (i < len && strchr(" \t\r\n,}]", b[i]) == NULL)
            i++;
        return i;
    }
    while (i < len) {
        char c = b[i];

        if (c == '"') {
            i = skip_string(b, i, len);
            continue;
        }
        i++;
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            break;
    }
    return i;
}

static unsigned hex_digit(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Whether the string whose opening quote is b[i] unescapes to the ASCII
 * text name. */
static int string_is(const char *b, size_t i, size_t len, const char *name)
{
    size_t n = 0;

    for (i++; i < len && b[i] != '"'; n++) {
        unsigned c = (unsigned char)b[i];

        if (c == '\\') {
            c = (unsigned char)b[i + 1];
            i += 2;
            if (c == 'u') {
                /* A surrogate half is never ASCII, so it ends the match. */
                c = 0;
                for (int k = 0; k < 4; k++)
                    c = c * 16 + hex_digit(b[i + (size_t)k]);
                i += 4;
            } else {
                c = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r'
                  : c == 't' ? '\t' : c;
            }
        } else {
            i++;
        }
        if (name[n] == '\0' || c != (unsigned char)name[n])
            return 0;
    }
    return name[n] == '\0';
}

/* The text of the top-level member `name` of the object in buf. Returns 0,
 * or -1 when the object has no such member. */
static int member_text(const char *b, size_t len, const char *name, const char **p, size_t *n)
{
    size_t i = skip_ws(b, 0, len), end;
    int match;

    if (i >= len || b[i] != '{')
        return -1;
    for (i++;;) {
        i = skip_ws(b, i, len);
        if (i >= len || b[i] != '"')
            return -1;
        match = string_is(b, i, len, name);
        i = skip_ws(b, skip_ws(b, skip_string(b, i, len), len) + 1, len); /* past ':' */
        end = skip_value(b, i, len);
        if (match) {
            *p = b + i;
            *n = end - i;
            return 0;
        }
        i = skip_ws(b, end, len);
        if (i >= len || b[i] != ',')
            return -1;
        i++;
    }
}

int clm_decode_json(const char *buf, size_t len, const clm_msg_meta *meta,
                    const clm_decode_opts *opts, clm_event *ev, clm_reject *rej)
{
    json_error_t err;
    const char *nul;
    clm_fields f;
    json_t *root, *props;
    int r;

    r = clm_decode_precheck(buf, len, opts, rej);
    if (r < 0)
        return r;

    /* A raw NUL is never JSON, but jansson 2.14 skips one that directly
     * follows a number or literal ("[1\0]" loads as [1]): its stream buffer
     * takes the pushed-back NUL for "empty". Refuse it before jansson sees it. */
    nul = memchr(buf, '\0', len);
    if (nul != NULL)
        return clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON at byte %td: NUL byte",
                              nul - buf);

    root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return clm_reject_set(rej, CLM_REJ_INVALID_JSON, "invalid JSON at byte %d: %s",
                              err.position, err.text);
    if (!json_is_object(root)) {
        r = clm_reject_set(rej, CLM_REJ_NOT_OBJECT, "the message is a JSON %s, not an object",
                           json_kind_name(root));
        goto out_decref_root;
    }

    field_of(root, "type", &f.type);
    field_of(root, "customer_id", &f.customer_id);
    field_of(root, "event_id", &f.event_id);
    field_of(root, "ts", &f.ts);
    field_of(root, "amount", &f.amount);
    if ((f.amount.kind == CLM_J_INTEGER || f.amount.kind == CLM_J_REAL) &&
        member_text(buf, len, "amount", &f.amount.num, &f.amount.num_len) < 0)
        f.amount.num = NULL;
    field_of(root, "score", &f.score);
    field_of(root, "duration_s", &f.duration_s);
    field_of(root, "anonymous_id", &f.anonymous_id);
    props = json_object_get(root, "properties");
    if (!json_is_object(props))
        props = NULL;
    for (size_t i = 0; i < CLM_EV_TRAITS; i++) {
        const clm_trait_spec *t = opts->traits && i < opts->traits->n ? &opts->traits->t[i] : NULL;

        if (t && (!t->in_properties || props))
            field_of(t->in_properties ? props : root, t->field, &f.trait[i]);
        else
            memset(&f.trait[i], 0, sizeof(f.trait[i]));
    }
    r = clm_decode_apply(&f, meta, opts, ev, rej);

out_decref_root:
    json_decref(root);
    return r;
}
