/* store/identity_msg.c - the identity topic's messages (see identity_msg.h). */
#include "store/identity_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(clm_record_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* kind, le64, two ids and a third (or the bytes after) in one go, so a
 * failure leaves b as it was */
static int put_msg(clm_record_buf *b, char kind, int64_t v, const char *a, size_t alen,
                   const char *c, size_t clen, const char *tail, size_t tail_len, bool tail_str)
{
    size_t before = b->len;
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)((uint64_t)v >> (8 * i));
    uint8_t la = (uint8_t)alen, lc = (uint8_t)clen, lt = (uint8_t)tail_len;
    int r = put(b, &kind, 1);
    if (r == 0)
        r = put(b, x, 8);
    if (r == 0)
        r = put(b, &la, 1);
    if (r == 0)
        r = put(b, a, alen);
    if (r == 0)
        r = put(b, &lc, 1);
    if (r == 0)
        r = put(b, c, clen);
    if (r == 0 && tail_str)
        r = put(b, &lt, 1);
    if (r == 0)
        r = put(b, tail, tail_len);
    if (r < 0)
        b->len = before;
    return r;
}

static bool ids_ok(const char *known, size_t known_len, const char *anon, size_t anon_len)
{
    return known_len >= 1 && known_len <= CLM_ID_MAX && anon_len >= 1 && anon_len <= CLM_ID_MAX &&
           !(known_len == anon_len && memcmp(known, anon, known_len) == 0);
}

int clm_idmsg_request(clm_record_buf *b, int64_t merge_ts, const char *known, size_t known_len,
                      const char *anon, size_t anon_len, const char *event_id,
                      size_t event_id_len)
{
    if (!ids_ok(known, known_len, anon, anon_len) || event_id_len > CLM_ID_MAX)
        return -EINVAL;
    return put_msg(b, CLM_IDMSG_REQUEST, merge_ts, known, known_len, anon, anon_len, event_id,
                   event_id_len, true);
}

int clm_idmsg_unalias(clm_record_buf *b, int64_t ts, const char *known, size_t known_len,
                      const char *anon, size_t anon_len)
{
    if (!ids_ok(known, known_len, anon, anon_len))
        return -EINVAL;
    return put_msg(b, CLM_IDMSG_UNALIAS, ts, known, known_len, anon, anon_len, "", 0, true);
}

int clm_idmsg_record(clm_record_buf *b)
{
    char kind = CLM_IDMSG_RECORD;
    return put(b, &kind, 1);
}

int clm_idmsg_forward(clm_record_buf *b, int64_t ref_ms, const char *known, size_t known_len,
                      const char *anon, size_t anon_len, const char *json, size_t json_len)
{
    if (!ids_ok(known, known_len, anon, anon_len))
        return -EINVAL;
    return put_msg(b, CLM_IDMSG_FORWARD, ref_ms, known, known_len, anon, anon_len, json, json_len,
                   false);
}

/* A length byte and that many bytes into out (NUL-terminated). */
static int get_str(const uint8_t **p, const uint8_t *end, char *out, uint8_t *len, size_t min)
{
    if (end - *p < 1)
        return -1;
    size_t n = **p;
    if (n < min || n > CLM_ID_MAX || (size_t)(end - *p - 1) < n)
        return -1;
    memcpy(out, *p + 1, n);
    out[n] = '\0';
    *len = (uint8_t)n;
    *p += 1 + n;
    return 0;
}

int clm_idmsg_decode(clm_idmsg *m, const uint8_t *p, size_t n, char *errbuf, size_t errsize)
{
    const uint8_t *end = p + n;
    memset(m, 0, sizeof(*m));
    if (n < 1) {
        snprintf(errbuf, errsize, "identity message: empty");
        return -EPROTO;
    }
    m->kind = (char)p[0];
    p++;
    if (m->kind == CLM_IDMSG_RECORD) {
        m->body = p;
        m->body_len = (size_t)(end - p);
        return 0;
    }
    if (m->kind != CLM_IDMSG_REQUEST && m->kind != CLM_IDMSG_FORWARD &&
        m->kind != CLM_IDMSG_UNALIAS) {
        snprintf(errbuf, errsize, "identity message: unknown kind 0x%02x", (unsigned)(uint8_t)m->kind);
        return -EPROTO;
    }
    if (end - p < 8)
        goto out_truncated;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    m->ts = (int64_t)v;
    p += 8;
    if (get_str(&p, end, m->known, &m->known_len, 1) < 0 ||
        get_str(&p, end, m->anon, &m->anon_len, 1) < 0)
        goto out_truncated;
    if (!ids_ok(m->known, m->known_len, m->anon, m->anon_len)) {
        snprintf(errbuf, errsize, "identity message: the known and anonymous ids are equal");
        return -EPROTO;
    }
    if (m->kind == CLM_IDMSG_FORWARD) {
        m->body = p;
        m->body_len = (size_t)(end - p);
        return 0;
    }
    if (get_str(&p, end, m->event_id, &m->event_id_len, 0) < 0)
        goto out_truncated;
    if (p != end) {
        snprintf(errbuf, errsize, "identity message: %zu bytes after a merge request",
                 (size_t)(end - p));
        return -EPROTO;
    }
    if (m->kind == CLM_IDMSG_UNALIAS && m->event_id_len) {
        snprintf(errbuf, errsize, "identity message: an event id in an alias release");
        return -EPROTO;
    }
    return 0;

out_truncated:
    snprintf(errbuf, errsize, "identity message: truncated or a bad length");
    return -EPROTO;
}
