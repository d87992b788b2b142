/* core/trait.c - the configured trait set and the update rules of traits
 * (the block they are kept in is trait_block.c's). */
#include "core/trait.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/trait_impl.h"

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

static bool same_value(const clm_trait_slot *x, const clm_ev_trait *v, const char *str)
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

static void take_value(clm_trait_slot *x, const clm_ev_trait *v, const char *str, int64_t ts)
{
    x->ts = ts;
    x->num = v->kind == CLM_TRAIT_NUM ? v->num : 0;
    x->b = v->kind == CLM_TRAIT_BOOL && v->b;
    x->len = v->kind == CLM_TRAIT_STR ? (uint8_t)v->len : 0;
    if (x->len)
        memcpy(x->str, str, x->len);
}

/* Applies one event value to a slot; returns whether it changed. */
static bool update_slot(clm_trait_slot *x, const clm_trait_spec *t, const clm_ev_trait *v, const char *str,
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
    clm_trait_slot s[CLM_TRAITS_MAX];
    bool changed, any = false;

    if (!set || set->n == 0)
        return 0;
    for (size_t i = 0; i < set->n && !any; i++)
        any = ev->trait[i].kind != CLM_TRAIT_NONE;
    if (!any)
        return 0;
    changed = clm_traits_load(*blk, *len, set, s);
    for (size_t i = 0; i < set->n; i++) {
        const clm_ev_trait *v = &ev->trait[i];

        if (v->kind == CLM_TRAIT_NONE || v->kind != set->t[i].type)
            continue;
        if (update_slot(&s[i], &set->t[i], v, ev->trait_str + v->off, ev->ts_ms))
            changed = true;
    }
    if (!changed)
        return 0;
    int r = clm_traits_store(blk, len, set, s);
    return r < 0 ? r : 1;
}

int clm_traits_conform(uint8_t **blk, uint16_t *len, const clm_trait_set *set)
{
    static const clm_trait_set none;
    clm_trait_slot s[CLM_TRAITS_MAX];

    if (*len == 0)
        return 0;
    if (!clm_traits_load(*blk, *len, set ? set : &none, s))
        return 0;
    int r = clm_traits_store(blk, len, set ? set : &none, s);
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
