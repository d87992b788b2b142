/* core/trait.c - the update rules of traits and the trait block codec
 * (see trait.h for the block's layout). */
#include "core/trait.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/customer.h"

/* A trait's state while a block is being rewritten. */
typedef struct slot {
    bool set;
    uint8_t kind, update;
    uint8_t name_len;
    const char *name; /* into the set or the old block */
    int64_t ts;
    double num;
    bool b;
    uint8_t len;      /* STR bytes */
    char str[CLM_TRAIT_STR_MAX];
    uint8_t n;        /* DISTINCT: hashes */
    uint64_t h[CLM_TRAIT_DISTINCT_MAX];
} slot;

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

static const char *const update_names[CLM_TRAIT__UPDATES] = {
    [CLM_TRAIT_LATEST] = "latest", [CLM_TRAIT_FIRST] = "first", [CLM_TRAIT_MAXIMUM] = "max",
    [CLM_TRAIT_SUM] = "sum",       [CLM_TRAIT_DISTINCT] = "count_distinct",
};

const char *clm_trait_update_name(clm_trait_update u)
{
    return (unsigned)u < CLM_TRAIT__UPDATES ? update_names[u] : "unknown";
}

const char *clm_trait_kind_name(clm_trait_kind k)
{
    switch (k) {
    case CLM_TRAIT_STR:
        return "string";
    case CLM_TRAIT_NUM:
        return "number";
    case CLM_TRAIT_BOOL:
        return "boolean";
    case CLM_TRAIT_NONE:
        break;
    }
    return "none";
}

bool clm_trait_set_equal(const clm_trait_set *a, const clm_trait_set *b)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;

    return na == nb && (na == 0 || memcmp(a->t, b->t, na * sizeof(a->t[0])) == 0);
}

int clm_trait_set_index(const clm_trait_set *set, const char *name, size_t len)
{
    if (!set)
        return -1;
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->t[i].name) == len && memcmp(set->t[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int clm_trait_set_field(const clm_trait_set *set, const char *key, size_t len, bool in_properties)
{
    if (!set)
        return -1;
    for (size_t i = 0; i < set->n; i++) {
        const clm_trait_spec *t = &set->t[i];

        if (t->in_properties == in_properties && t->field_len == len &&
            memcmp(t->field, key, len) == 0)
            return (int)i;
    }
    return -1;
}

static bool has_ts(unsigned update)
{
    return update == CLM_TRAIT_LATEST || update == CLM_TRAIT_FIRST;
}

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
    if (has_ts(e->update)) {
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

/* Loads blk into slots by set's indices; returns whether anything moved or
 * was dropped. */
static bool load_slots(const uint8_t *blk, size_t len, const clm_trait_set *set, slot *s)
{
    reader r = {blk, len, 0};
    const char *why;
    bool moved = false;
    entry e;

    memset(s, 0, sizeof(slot) * CLM_TRAITS_MAX);
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
        slot *x = &s[i];
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

/* Encodes the slots into a new block; replaces *blk. */
static int store_slots(uint8_t **blk, uint16_t *len, const clm_trait_set *set, const slot *s)
{
    uint8_t buf[CLM_TRAITS_MAX * ENTRY_MAX], *out = NULL;
    size_t n = 0;

    for (size_t i = 0; i < set->n; i++) {
        const slot *x = &s[i];
        uint64_t bits;

        if (!x->set)
            continue;
        size_t nl = strlen(set->t[i].name);
        buf[n++] = (uint8_t)i;
        buf[n++] = (uint8_t)nl;
        memcpy(buf + n, set->t[i].name, nl);
        n += nl;
        buf[n++] = (uint8_t)((x->update << 2) | x->kind);
        if (has_ts(x->update))
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

/* The hash a distinct value is counted by: its type and its value. */
static uint64_t value_hash(const clm_ev_trait *v, const char *str)
{
    uint8_t buf[1 + CLM_TRAIT_STR_MAX];
    size_t n = 1;
    double d;

    buf[0] = v->kind;
    if (v->kind == CLM_TRAIT_STR) {
        memcpy(buf + 1, str, v->len);
        n += v->len;
    } else if (v->kind == CLM_TRAIT_NUM) {
        d = v->num == 0 ? 0.0 : v->num; /* -0 counts as 0 */
        memcpy(buf + 1, &d, sizeof(d));
        n += sizeof(d);
    } else {
        buf[1] = v->b;
        n++;
    }
    return XXH3_64bits(buf, n);
}

static bool same_value(const slot *x, const clm_ev_trait *v, const char *str)
{
    switch (v->kind) {
    case CLM_TRAIT_STR:
        return x->len == v->len && memcmp(x->str, str, v->len) == 0;
    case CLM_TRAIT_NUM:
        return x->num == v->num && signbit(x->num) == signbit(v->num);
    default:
        return x->b == (v->b != 0);
    }
}

static void take_value(slot *x, const clm_ev_trait *v, const char *str, int64_t ts)
{
    x->ts = ts;
    x->num = v->kind == CLM_TRAIT_NUM ? v->num : 0;
    x->b = v->kind == CLM_TRAIT_BOOL && v->b;
    x->len = v->kind == CLM_TRAIT_STR ? (uint8_t)v->len : 0;
    if (x->len)
        memcpy(x->str, str, x->len);
}

/* Applies one event value to a slot; returns whether it changed. */
static bool update_slot(slot *x, const clm_trait_spec *t, const clm_ev_trait *v, const char *str,
                        int64_t ts)
{
    bool fresh = !x->set;

    if (fresh) {
        x->set = true;
        x->kind = (uint8_t)t->type;
        x->update = (uint8_t)t->update;
    }
    switch (t->update) {
    case CLM_TRAIT_LATEST:
        if (!fresh && ts < x->ts)
            return false;
        if (!fresh && ts == x->ts && same_value(x, v, str))
            return false;
        take_value(x, v, str, ts);
        return true;
    case CLM_TRAIT_FIRST:
        if (!fresh && ts >= x->ts)
            return false;
        take_value(x, v, str, ts);
        return true;
    case CLM_TRAIT_MAXIMUM:
        if (!fresh && !(v->num > x->num))
            return false;
        x->num = v->num == 0 ? 0.0 : v->num;
        return true;
    case CLM_TRAIT_SUM: {
        double s = fresh ? v->num : x->num + v->num;

        if (!isfinite(s))
            return fresh ? (x->set = false) : false; /* stays at the last finite sum */
        s = s == 0 ? 0.0 : s;
        if (!fresh && s == x->num)
            return false;
        x->num = s;
        return true;
    }
    case CLM_TRAIT_DISTINCT: {
        uint64_t h = value_hash(v, str);
        unsigned k = 0;

        while (k < x->n && x->h[k] < h)
            k++;
        if ((k < x->n && x->h[k] == h) || x->n >= t->max_distinct)
            return fresh; /* fresh cannot be full: max_distinct >= 1 */
        memmove(x->h + k + 1, x->h + k, sizeof(uint64_t) * (x->n - k));
        x->h[k] = h;
        x->n++;
        return true;
    }
    default:
        return false;
    }
}

int clm_traits_apply(uint8_t **blk, uint16_t *len, const clm_trait_set *set,
                     const clm_event *ev)
{
    slot s[CLM_TRAITS_MAX];
    bool changed, any = false;

    if (!set || set->n == 0)
        return 0;
    for (size_t i = 0; i < set->n && !any; i++)
        any = ev->trait[i].kind != CLM_TRAIT_NONE;
    if (!any)
        return 0;
    changed = load_slots(*blk, *len, set, s);
    for (size_t i = 0; i < set->n; i++) {
        const clm_ev_trait *v = &ev->trait[i];

        if (v->kind == CLM_TRAIT_NONE || v->kind != set->t[i].type)
            continue;
        if (update_slot(&s[i], &set->t[i], v, ev->trait_str + v->off, ev->ts_ms))
            changed = true;
    }
    if (!changed)
        return 0;
    int r = store_slots(blk, len, set, s);
    return r < 0 ? r : 1;
}

int clm_traits_conform(uint8_t **blk, uint16_t *len, const clm_trait_set *set)
{
    static const clm_trait_set none;
    slot s[CLM_TRAITS_MAX];

    if (*len == 0)
        return 0;
    if (!load_slots(*blk, *len, set ? set : &none, s))
        return 0;
    int r = store_slots(blk, len, set ? set : &none, s);
    return r < 0 ? r : 1;
}

size_t clm_trait_format(const clm_trait_value *v, char *buf, size_t size)
{
    int n = 0;

    switch (v->kind) {
    case CLM_TRAIT_STR:
        if (v->len >= size)
            return 0;
        memcpy(buf, v->str, v->len);
        buf[v->len] = '\0';
        return v->len;
    case CLM_TRAIT_BOOL:
        n = snprintf(buf, size, "%s", v->b ? "true" : "false");
        break;
    case CLM_TRAIT_NUM:
        /* A whole number as an integer, else the shortest form that reads
         * back as the same double. */
        if (v->num == floor(v->num) && fabs(v->num) < 1e15) {
            n = snprintf(buf, size, "%.0f", v->num == 0 ? 0.0 : v->num);
            break;
        }
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, size, "%.*g", prec, v->num);
            if (strtod(buf, NULL) == v->num)
                break;
        }
        break;
    case CLM_TRAIT_NONE:
        return 0;
    }
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}
