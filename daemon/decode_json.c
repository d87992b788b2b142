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

int clm_decode_json(const char *buf, size_t len, const clm_msg_meta *meta,
                    const clm_decode_opts *opts, clm_event *ev, clm_reject *rej)
{
    json_error_t err;
    const char *nul;
    clm_fields f;
    json_t *root;
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
    field_of(root, "score", &f.score);
    field_of(root, "duration_s", &f.duration_s);
    r = clm_decode_apply(&f, meta, opts, ev, rej);

out_decref_root:
    json_decref(root);
    return r;
}
