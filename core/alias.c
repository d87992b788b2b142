/* core/alias.c - the identity alias table (see alias.h): open addressing
 * with linear probing over XXH3 hashes of the alias ids, deletion by
 * backward shift (no tombstones), kept at most half full. */
#include "core/alias.h"

#include "core/dedup.h"
#include "core/event.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *alias;  /* NULL: empty; one allocation holds alias\0target\0 */
    char *target;
    uint64_t hash;
    int64_t at_ms;
    uint8_t alias_len, target_len;
} slot;

struct clm_alias {
    slot *s;
    size_t cap; /* power of two */
    size_t n;
};

#define MIN_CAP 16

clm_alias *clm_alias_new(void)
{
    clm_alias *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->s = calloc(MIN_CAP, sizeof(*t->s));
    if (!t->s) {
        free(t);
        return NULL;
    }
    t->cap = MIN_CAP;
    return t;
}

void clm_alias_free(clm_alias *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->s[i].alias);
    free(t->s);
    free(t);
}

size_t clm_alias_count(const clm_alias *t)
{
    return t->n;
}

static bool ok_len(size_t len)
{
    return len >= 1 && len <= CLM_ID_MAX;
}

/* The slot holding `id`, or the empty slot where it would go. */
static size_t find(const clm_alias *t, const char *id, size_t len, uint64_t h)
{
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    while (t->s[i].alias &&
           !(t->s[i].hash == h && t->s[i].alias_len == len && memcmp(t->s[i].alias, id, len) == 0))
        i = (i + 1) & mask;
    return i;
}

static const slot *get(const clm_alias *t, const char *id, size_t len)
{
    if (!ok_len(len))
        return NULL;
    size_t i = find(t, id, len, clm_dedup_hash(id, len));
    return t->s[i].alias ? &t->s[i] : NULL;
}

static int grow(clm_alias *t)
{
    size_t cap = t->cap * 2;
    slot *s = calloc(cap, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].alias)
            continue;
        size_t j = (size_t)t->s[i].hash & (cap - 1);
        while (s[j].alias)
            j = (j + 1) & (cap - 1);
        s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
    return 0;
}

const char *clm_alias_target(const clm_alias *t, const char *id, size_t len, int64_t *at_ms)
{
    const slot *e = get(t, id, len);
    if (!e)
        return NULL;
    if (at_ms)
        *at_ms = e->at_ms;
    return e->target;
}

const char *clm_alias_lookup(const clm_alias *t, const char *id, size_t len, size_t *out_len)
{
    const slot *e = get(t, id, len), *next;
    if (!e)
        return NULL;
    for (int hop = 1; hop < CLM_ALIAS_MAX_HOPS; hop++) {
        next = get(t, e->target, e->target_len);
        if (!next)
            break;
        e = next;
    }
    if (out_len)
        *out_len = e->target_len;
    return e->target;
}

int clm_alias_add(clm_alias *t, const char *alias, size_t alias_len, const char *target,
                  size_t target_len, int64_t at_ms)
{
    if (!ok_len(alias_len) || !ok_len(target_len))
        return -EINVAL;
    if (alias_len == target_len && memcmp(alias, target, alias_len) == 0)
        return -ELOOP;
    const slot *cur = get(t, alias, alias_len);
    if (cur) {
        if (cur->target_len != target_len || memcmp(cur->target, target, target_len) != 0)
            return -EEXIST;
        if (at_ms < cur->at_ms)
            ((slot *)cur)->at_ms = at_ms;
        return 1;
    }
    /* the target's chain must not lead back to the alias */
    const char *id = target;
    size_t len = target_len;
    for (int hop = 0; hop < CLM_ALIAS_MAX_HOPS; hop++) {
        const slot *e = get(t, id, len);
        if (!e)
            break;
        if (e->target_len == alias_len && memcmp(e->target, alias, alias_len) == 0)
            return -ELOOP;
        id = e->target;
        len = e->target_len;
    }
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -ENOMEM;
    char *mem = malloc(alias_len + target_len + 2);
    if (!mem)
        return -ENOMEM;
    memcpy(mem, alias, alias_len);
    mem[alias_len] = '\0';
    memcpy(mem + alias_len + 1, target, target_len);
    mem[alias_len + 1 + target_len] = '\0';
    uint64_t h = clm_dedup_hash(alias, alias_len);
    size_t i = find(t, alias, alias_len, h);
    t->s[i] = (slot){ .alias = mem, .target = mem + alias_len + 1, .hash = h, .at_ms = at_ms,
                      .alias_len = (uint8_t)alias_len, .target_len = (uint8_t)target_len };
    t->n++;
    return 0;
}

/* Empties slot i and shifts the rest of its cluster back toward home. */
static void delete_at(clm_alias *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;
    free(t->s[i].alias);
    t->s[i] = (slot){ 0 };
    t->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->s[j].alias)
            return;
        size_t home = (size_t)t->s[j].hash & mask;
        /* j's entry may move to i when its home is not in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        t->s[i] = t->s[j];
        t->s[j] = (slot){ 0 };
        i = j;
    }
}

typedef bool (*drop_fn)(const slot *e, const void *arg);

/* Deletes every entry drop() selects. A deletion can move a later entry
 * into slot i (checked again) or an already checked one past it (checked
 * again, harmlessly). */
static size_t filter(clm_alias *t, drop_fn drop, const void *arg)
{
    size_t gone = 0;
    for (size_t i = 0; i < t->cap; i++) {
        while (t->s[i].alias && drop(&t->s[i], arg)) {
            delete_at(t, i);
            gone++;
        }
    }
    return gone;
}

typedef struct id_arg {
    const char *id;
    size_t len;
} id_arg;

static bool names_id(const slot *e, const void *arg)
{
    const id_arg *a = arg;
    return (e->alias_len == a->len && memcmp(e->alias, a->id, a->len) == 0) ||
           (e->target_len == a->len && memcmp(e->target, a->id, a->len) == 0);
}

int clm_alias_remove(clm_alias *t, const char *id, size_t len)
{
    if (!ok_len(len))
        return 0;
    id_arg a = { id, len };
    return (int)filter(t, names_id, &a);
}

static bool made_before(const slot *e, const void *arg)
{
    return e->at_ms < *(const int64_t *)arg;
}

size_t clm_alias_expire(clm_alias *t, int64_t now_ms, int64_t ttl_ms)
{
    int64_t cutoff = clm_sat_add(now_ms, -ttl_ms);
    return filter(t, made_before, &cutoff);
}

int clm_alias_each(const clm_alias *t, clm_alias_fn fn, void *arg)
{
    for (size_t i = 0; i < t->cap; i++) {
        const slot *e = &t->s[i];
        if (!e->alias)
            continue;
        int r = fn(arg, e->alias, e->alias_len, e->target, e->target_len, e->at_ms);
        if (r)
            return r;
    }
    return 0;
}
