/* tests/upgrade_compare.c - see upgrade_compare.h. */
#include "tests/upgrade_compare.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/customer.h"
#include "store/record.h"

/* ---- dumps ----------------------------------------------------------------- */

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes the dump's escaping (\xHH) of s[0..n) into out (n bytes at most);
 * returns the length. */
static size_t unescape(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && unhex(s[i + 2]) >= 0 &&
            unhex(s[i + 3]) >= 0) {
            out[k++] = (char)(unhex(s[i + 2]) << 4 | unhex(s[i + 3]));
            i += 3;
        } else {
            out[k++] = s[i];
        }
    }
    return k;
}

/* The dump's escaping of bytes: appends to out, returns the new end. */
static char *escape(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (ch < '!' || ch > '~' || ch == '\\' || ch == '=') {
            *out++ = '\\';
            *out++ = 'x';
            *out++ = hex[ch >> 4];
            *out++ = hex[ch & 15];
        } else {
            *out++ = (char)ch;
        }
    }
    return out;
}

static bool starts(const char *l, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(l, prefix, n) == 0;
}

/* Appends the line l[0..len) (without its newline) to *o, with its record
 * normalized. */
static void put_record_line(const char *l, size_t len, char **o)
{
    const char *h = memmem(l, len, " hash ", 6);
    assert_non_null(h);
    const char *f = h + 6, *eq = memchr(f, '=', len - (size_t)(f - l));
    assert_non_null(eq);
    char *id = malloc((size_t)(eq - f) + 1), *raw = malloc(len);
    assert_true(id && raw);
    size_t idlen = unescape(f, (size_t)(eq - f), id);
    size_t rlen = unescape(eq + 1, len - (size_t)(eq + 1 - l), raw);
    clm_customer *c = clm_customer_new(id, idlen, 0);
    char err[256];
    assert_non_null(c);
    if (clm_record_decode(c, (const uint8_t *)raw, rlen, err, sizeof(err)) != 0)
        fail_msg("%.*s: %s", (int)len, l, err);
    c->incident_at = CLM_NO_TS;
    clm_record_buf b;
    clm_record_buf_init(&b);
    assert_int_equal(clm_record_encode(&b, c), 0);
    size_t head = (size_t)(eq + 1 - l);
    memcpy(*o, l, head);
    *o = escape(b.p, b.len, *o + head);
    clm_record_buf_release(&b);
    clm_customer_free(c);
    free(id);
    free(raw);
}

char *upgrade_normalize(const char *dump)
{
    /* an escaped record is at most 4 times its bytes, and re-encoding never
     * grows one by more than the version byte's escape */
    char *out = malloc(strlen(dump) * 2 + 64), *o = out;
    assert_non_null(out);
    for (const char *l = dump; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (starts(l, len, "clm:alerts stream ") || starts(l, len, "clm:alerts:paging:") ||
            starts(l, len, "clm:stats hash alerts_")) {
            /* compared apart */
        } else if (starts(l, len, "clm:ckpt:{") || starts(l, len, "clm:upgrade:v1 hash ")) {
            put_record_line(l, len, &o);
            *o++ = '\n';
        } else {
            memcpy(o, l, len);
            o += len;
            *o++ = '\n';
        }
        l += len + (e ? 1 : 0);
    }
    *o = '\0';
    return out;
}

/* ---- alert streams ------------------------------------------------------------ */

typedef struct entry {
    char *id, *kind, *incident;
    json_t *doc; /* without emitted_at and incident */
} entry;

static entry *read_stream(redisContext *c, size_t *n)
{
    redisReply *r = redisCommand(c, "XRANGE clm:alerts - +");
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    entry *v = calloc(r->elements + 1, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *kv = r->element[i]->element[1];
        for (size_t k = 0; k + 1 < kv->elements; k += 2) {
            const char *f = kv->element[k]->str;
            const redisReply *val = kv->element[k + 1];
            if (!strcmp(f, "alert_id"))
                v[i].id = strdup(val->str);
            else if (!strcmp(f, "kind"))
                v[i].kind = strdup(val->str);
            else if (!strcmp(f, "json"))
                v[i].doc = json_loadb(val->str, val->len, 0, NULL);
        }
        assert_true(v[i].id && v[i].kind && v[i].doc);
        const char *inc = json_string_value(json_object_get(v[i].doc, "incident"));
        v[i].incident = strdup(inc ? inc : "");
        json_object_del(v[i].doc, "incident");
        json_object_del(v[i].doc, "emitted_at");
    }
    *n = r->elements;
    freeReplyObject(r);
    return v;
}

static void entries_free(entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].kind);
        free(v[i].incident);
        json_decref(v[i].doc);
    }
    free(v);
}

char **upgrade_stream_ids(redisContext *c, size_t *n)
{
    entry *v = read_stream(c, n);
    char **ids = calloc(*n + 1, sizeof(*ids));
    assert_non_null(ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = strdup(v[i].id);
    entries_free(v, *n);
    return ids;
}

void upgrade_ids_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && !strcmp(v[i], s))
            return true;
    return false;
}

static const entry *find(const entry *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, id))
            return &v[i];
    return NULL;
}

size_t upgrade_alerts_check(redisContext *up, redisContext *clean, char **before, size_t nbefore)
{
    size_t nu, nc, compared = 0;
    entry *u = read_stream(up, &nu), *c = read_stream(clean, &nc);
    /* incidents opened before the upgrade: those of the clean run's alerts
     * the previous release had raised */
    char **pre = calloc(nc + 1, sizeof(*pre));
    size_t npre = 0;
    assert_non_null(pre);
    for (size_t i = 0; i < nc; i++)
        if (has(before, nbefore, c[i].id))
            pre[npre++] = c[i].incident;
    for (size_t i = 0; i < nu; i++) {
        for (size_t k = i + 1; k < nu; k++)
            if (!strcmp(u[i].id, u[k].id))
                fail_msg("alert %s (%s) is in the upgraded stream twice", u[i].id, u[i].kind);
        if (has(before, nbefore, u[i].id))
            continue;
        const entry *w = find(c, nc, u[i].id);
        if (!w)
            fail_msg("the upgraded run raised %s %s, which a clean run did not", u[i].kind, u[i].id);
        if (!json_equal(u[i].doc, w->doc)) {
            char *a = json_dumps(u[i].doc, JSON_COMPACT), *b = json_dumps(w->doc, JSON_COMPACT);
            fail_msg("alert %s differs: upgraded %s, clean %s", u[i].id, a, b);
        }
        if (strcmp(u[i].incident, w->incident) && !has(pre, npre, w->incident))
            fail_msg("alert %s: incident %s, a clean run's %s was not opened before the upgrade",
                     u[i].id, u[i].incident, w->incident);
        compared++;
    }
    for (size_t i = 0; i < nc; i++) {
        if (has(before, nbefore, c[i].id) || find(u, nu, c[i].id))
            continue;
        if (strcmp(c[i].kind, "resolved") || !has(pre, npre, c[i].incident))
            fail_msg("the clean run's %s %s is missing from the upgraded stream", c[i].kind, c[i].id);
    }
    free(pre);
    entries_free(u, nu);
    entries_free(c, nc);
    return compared;
}
