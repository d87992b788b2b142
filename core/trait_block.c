/* core/trait_block.c - the trait block codec: reading entries (with the
 * canonical-form checks), values by index or name, and rewriting a block
 * from slots (see trait.h for the layout). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/customer.h"
#include "core/trait.h"
#include "core/trait_impl.h"

/* One entry as read from a block. */
typedef struct entry {
    uint8_t idx, name_len, kind, update;
    const char *name;
    int64_t ts;
    double num;
    bool b;
    const char *str;
    uint8_t len; /* STR bytes, DISTINCT hashes */
    const uint8_t *h;
} entry;

/* ---- reading a block ------------------------------------------------------ */

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static int rd_byte(reader *r, uint8_t *v)
{
    if (r->at >= r->n)
        return -1;
    *v = r->p[r->at++];
    return 0;
}

static int rd_uv(reader *r, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (rd_byte(r, &b) < 0)
            return -1;
        if (shift == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return -1; /* overlong */
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int rd_le64(reader *r, uint64_t *v)
{
    uint64_t x = 0;

    if (r->n - r->at < 8 || r->at > r->n)
        return -1;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)r->p[r->at + (size_t)i] << (8 * i);
    r->at += 8;
    *v = x;
    return 0;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t x = 0;

    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CLM_TRAIT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Reads the next entry. Returns 1, 0 at the end, or -EPROTO with a phrase
 * in *why. */
static int next_entry(reader *r, entry *e, const char **why)
{
    uint8_t code, b;
    uint64_t u;

    if (r->at == r->n)
        return 0;
    memset(e, 0, sizeof(*e));
    if (rd_byte(r, &e->idx) < 0 || rd_byte(r, &e->name_len) < 0)
        goto out_truncated;
    if (e->idx >= CLM_TRAITS_MAX)
        return *why = "index out of range", -EPROTO;
    if (r->n - r->at < e->name_len)
        goto out_truncated;
    e->name = (const char *)r->p + r->at;
    if (!name_ok(e->name, e->name_len))
        return *why = "bad name", -EPROTO;
    r->at += e->name_len;
    if (rd_byte(r, &code) < 0)
        goto out_truncated;
    e->kind = code & 3;
    e->update = code >> 2;
    if (e->kind == CLM_TRAIT_NONE || e->update >= CLM_TRAIT__UPDATES ||
        ((e->update == CLM_TRAIT_MAXIMUM || e->update == CLM_TRAIT_SUM) && e->kind != CLM_TRAIT_NUM))
        return *why = "bad type or rule", -EPROTO;
    if (clm_trait_has_ts(e->update)) {
        if (rd_uv(r, &u) < 0)
            return *why = "bad or truncated time", -EPROTO;
        e->ts = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    }
    if (e->update == CLM_TRAIT_DISTINCT) {
        if (rd_byte(r, &e->len) < 0)
            goto out_truncated;
        if (e->len == 0 || e->len > CLM_TRAIT_DISTINCT_MAX)
            return *why = "bad distinct count", -EPROTO;
        if (r->n - r->at < 8u * e->len)
            goto out_truncated;
        e->h = r->p + r->at;
        for (unsigned k = 1; k < e->len; k++)
            if (get_le64(e->h + 8 * k) <= get_le64(e->h + 8 * (k - 1)))
                return *why = "distinct hashes not ascending", -EPROTO;
        r->at += 8u * e->len;
        e->num = e->len;
        return 1;
    }
    switch (e->kind) {
    case CLM_TRAIT_STR:
        if (rd_byte(r, &e->len) < 0)
            goto out_truncated;
        if (e->len == 0 || e->len > CLM_TRAIT_STR_MAX)
            return *why = "bad string length", -EPROTO;
        if (r->n - r->at < e->len)
            goto out_truncated;
        e->str = (const char *)r->p + r->at;
        r->at += e->len;
        break;
    case CLM_TRAIT_NUM:
        if (rd_le64(r, &u) < 0)
            goto out_truncated;
        memcpy(&e->num, &u, sizeof(u));
        if (!isfinite(e->num))
            return *why = "number not finite", -EPROTO;
        break;
    default:
        if (rd_byte(r, &b) < 0)
            goto out_truncated;
        if (b > 1)
            return *why = "bad boolean", -EPROTO;
        e->b = b;
        break;
    }
    return 1;

out_truncated:
    *why = "truncated";
    return -EPROTO;
}

int clm_traits_check(const uint8_t *p, size_t n, char *errbuf, size_t errsize)
{
    reader r = {p, n, 0};
    const char *why = NULL;
    entry e;
    int k = 0, last = -1, got;

    while ((got = next_entry(&r, &e, &why)) == 1) {
        if ((int)e.idx <= last) {
            why = "indices not ascending";
            goto out_bad;
        }
        last = e.idx;
        k++;
    }
    if (got == 0)
        return 0;
out_bad:
    snprintf(errbuf, errsize, "entry %d: %s", k, why);
    return -EPROTO;
}

static void value_of(const entry *e, clm_trait_value *out)
{
    memset(out, 0, sizeof(*out));
    if (e->update == CLM_TRAIT_DISTINCT) {
        out->kind = CLM_TRAIT_NUM;
        out->num = e->len;
        return;
    }
    out->kind = (clm_trait_kind)e->kind;
    out->num = e->num;
    out->b = e->b;
    out->str = e->str;
    out->len = e->kind == CLM_TRAIT_STR ? e->len : 0;
}

void clm_traits_get(const uint8_t *blk, size_t len, int idx, clm_trait_value *out)
{
    reader r = {blk, len, 0};
    const char *why;
    entry e;

    memset(out, 0, sizeof(*out));
    while (next_entry(&r, &e, &why) == 1) {
        if (e.idx == idx) {
            value_of(&e, out);
            return;
        }
    }
}

void clm_traits_get_named(const uint8_t *blk, size_t len, const clm_trait_spec *t,
                          clm_trait_value *out)
{
    reader r = {blk, len, 0};
    size_t nl = strlen(t->name);
    const char *why;
    entry e;

    memset(out, 0, sizeof(*out));
    while (next_entry(&r, &e, &why) == 1) {
        if (e.name_len == nl && memcmp(e.name, t->name, nl) == 0) {
            if (e.kind == t->type && e.update == t->update)
                value_of(&e, out);
            return;
        }
    }
}

void clm_customer_trait(const clm_customer *c, int idx, clm_trait_value *out)
{
    clm_traits_get(c->traits, c->traits_len, idx, out);
}

/* ---- rewriting a block ------------------------------------------------------ */

bool clm_traits_load(const uint8_t *blk, size_t len, const clm_trait_set *set, clm_trait_slot *s)
{
    reader r = {blk, len, 0};
    const char *why;
    bool moved = false;
    entry e;

    memset(s, 0, sizeof(clm_trait_slot) * CLM_TRAITS_MAX);
    while (next_entry(&r, &e, &why) == 1) {
        int i = clm_trait_set_index(set, e.name, e.name_len);
        const clm_trait_spec *t = i >= 0 ? &set->t[i] : NULL;

        if (!t || t->type != e.kind || t->update != e.update ||
            (e.update == CLM_TRAIT_DISTINCT && e.len > t->max_distinct) ||
            (e.kind == CLM_TRAIT_STR && e.update != CLM_TRAIT_DISTINCT && e.len > t->max_len)) {
            moved = true;
            continue;
        }
        if (i != e.idx)
            moved = true;
        clm_trait_slot *x = &s[i];
        x->set = true;
        x->kind = e.kind;
        x->update = e.update;
        x->ts = e.ts;
        x->num = e.num;
        x->b = e.b;
        if (e.update == CLM_TRAIT_DISTINCT) {
            x->n = e.len;
            for (unsigned k = 0; k < e.len; k++)
                x->h[k] = get_le64(e.h + 8 * k);
        } else if (e.kind == CLM_TRAIT_STR) {
            x->len = e.len;
            memcpy(x->str, e.str, e.len);
        }
    }
    return moved;
}

static size_t put_uv(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return 8;
}

/* Most bytes one entry takes. */
#define ENTRY_MAX (3 + CLM_TRAIT_NAME_MAX + 10 + 1 + 8 * CLM_TRAIT_DISTINCT_MAX)

int clm_traits_store(uint8_t **blk, uint16_t *len, const clm_trait_set *set,
                     const clm_trait_slot *s)
{
    uint8_t buf[CLM_TRAITS_MAX * ENTRY_MAX], *out = NULL;
    size_t n = 0;

    for (size_t i = 0; i < set->n; i++) {
        const clm_trait_slot *x = &s[i];
        uint64_t bits;

        if (!x->set)
            continue;
        size_t nl = strlen(set->t[i].name);
        buf[n++] = (uint8_t)i;
        buf[n++] = (uint8_t)nl;
        memcpy(buf + n, set->t[i].name, nl);
        n += nl;
        buf[n++] = (uint8_t)((x->update << 2) | x->kind);
        if (clm_trait_has_ts(x->update))
            n += put_uv(buf + n, ((uint64_t)x->ts << 1) ^ (uint64_t)(x->ts >> 63));
        if (x->update == CLM_TRAIT_DISTINCT) {
            buf[n++] = x->n;
            for (unsigned k = 0; k < x->n; k++)
                n += put_le64(buf + n, x->h[k]);
            continue;
        }
        switch (x->kind) {
        case CLM_TRAIT_STR:
            buf[n++] = x->len;
            memcpy(buf + n, x->str, x->len);
            n += x->len;
            break;
        case CLM_TRAIT_NUM:
            memcpy(&bits, &x->num, sizeof(bits));
            n += put_le64(buf + n, bits);
            break;
        default:
            buf[n++] = x->b ? 1 : 0;
            break;
        }
    }
    if (n > 0) {
        out = malloc(n);
        if (!out)
            return -ENOMEM;
        memcpy(out, buf, n);
    }
    free(*blk);
    *blk = out;
    *len = (uint16_t)n;
    return 0;
}

