/* store/merge_record.c - the identity merge record codec (see merge_record.h). */
#include "store/merge_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clm_merge_record_init(clm_merge_record *m)
{
    memset(m, 0, sizeof(*m));
}

void clm_merge_record_release(clm_merge_record *m)
{
    if (!m)
        return;
    clm_customer_free(m->anon);
    clm_merge_record_init(m);
}

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

static int put_le64(clm_record_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return put(b, x, 8);
}

static int put_str(clm_record_buf *b, const char *s, size_t n)
{
    uint8_t len = (uint8_t)n;
    int r = put(b, &len, 1);
    return r < 0 ? r : put(b, s, n);
}

int clm_merge_record_encode(clm_record_buf *b, uint64_t id, int64_t merge_ts, const char *known,
                            size_t known_len, const char *event_id, size_t event_id_len,
                            const clm_customer *anon)
{
    if (known_len < 1 || known_len > CLM_ID_MAX || event_id_len > CLM_ID_MAX ||
        (known_len == anon->id_len && memcmp(known, anon->id, known_len) == 0))
        return -EINVAL;
    size_t was = b->len;
    uint8_t v = CLM_MERGE_RECORD_VERSION;
    int r;
    if ((r = put(b, &v, 1)) < 0 || (r = put_le64(b, id)) < 0 ||
        (r = put_le64(b, (uint64_t)merge_ts)) < 0 || (r = put_str(b, known, known_len)) < 0 ||
        (r = put_str(b, anon->id, anon->id_len)) < 0 ||
        (r = put_str(b, event_id, event_id_len)) < 0 || (r = clm_record_encode(b, anon)) < 0) {
        b->len = was;
        return r;
    }
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static int get_le64(reader *rd, uint64_t *v)
{
    if (rd->n - rd->at < 8)
        return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)rd->p[rd->at + i] << (8 * i);
    rd->at += 8;
    *v = x;
    return 0;
}

/* A length byte (min..CLM_ID_MAX) and its bytes. */
static int get_str(reader *rd, size_t min, const uint8_t **s, size_t *len)
{
    if (rd->n - rd->at < 1)
        return -1;
    size_t l = rd->p[rd->at];
    if (l < min || l > CLM_ID_MAX || rd->n - rd->at - 1 < l)
        return -1;
    *s = rd->p + rd->at + 1;
    *len = l;
    rd->at += 1 + l;
    return 0;
}

int clm_merge_record_decode(clm_merge_record *m, const uint8_t *p, size_t n, char *errbuf,
                            size_t errsize)
{
    reader rd = { p, n, 0 };
    uint64_t id, ts;
    const uint8_t *known, *anon, *ev;
    size_t known_len, anon_len, ev_len;
    if (n < 1 || p[0] != CLM_MERGE_RECORD_VERSION) {
        snprintf(errbuf, errsize, "merge record version %d is not one this clmd reads (it reads %d)",
                 n < 1 ? -1 : p[0], CLM_MERGE_RECORD_VERSION);
        return -EPROTO;
    }
    rd.at = 1;
    if (get_le64(&rd, &id) < 0 || get_le64(&rd, &ts) < 0) {
        snprintf(errbuf, errsize, "merge record: truncated header");
        return -EPROTO;
    }
    if (get_str(&rd, 1, &known, &known_len) < 0 || get_str(&rd, 1, &anon, &anon_len) < 0 ||
        get_str(&rd, 0, &ev, &ev_len) < 0) {
        snprintf(errbuf, errsize, "merge record: an id is truncated or not 1..%d bytes", CLM_ID_MAX);
        return -EPROTO;
    }
    if (known_len == anon_len && memcmp(known, anon, anon_len) == 0) {
        snprintf(errbuf, errsize, "merge record: the known and the anonymous id are the same");
        return -EPROTO;
    }
    clm_customer *c = clm_customer_new((const char *)anon, anon_len, 0);
    if (!c)
        return -ENOMEM;
    char why[200];
    int r = clm_record_decode(c, p + rd.at, n - rd.at, why, sizeof(why));
    if (r < 0) {
        clm_customer_free(c);
        if (r == -EPROTO)
            snprintf(errbuf, errsize, "merge record: state: %s", why);
        return r;
    }
    m->id = id;
    m->merge_ts = (int64_t)ts;
    memcpy(m->known, known, known_len);
    m->known[known_len] = '\0';
    m->known_len = (uint8_t)known_len;
    memcpy(m->event_id, ev, ev_len);
    m->event_id[ev_len] = '\0';
    m->event_id_len = (uint8_t)ev_len;
    m->anon = c;
    return 0;
}
