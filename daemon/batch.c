/* daemon/batch.c - see batch.h. */
#include "daemon/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

clm_batch *clm_batch_new(int worker, uint64_t gen)
{
    clm_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->worker = worker;
    b->gen = gen;
    return b;
}

void clm_batch_free(clm_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nsects; i++)
        clm_cmdbuf_release(&b->sects[i].cmds);
    free(b->sects);
    free(b->parts);
    for (size_t i = 0; i < b->nalerts; i++) {
        free(b->alerts[i].key);
        free(b->alerts[i].json);
    }
    free(b->alerts);
    free(b);
}

clm_cmdbuf *clm_batch_cmds(clm_batch *b, int32_t part)
{
    for (size_t i = 0; i < b->nsects; i++)
        if (b->sects[i].part == part)
            return &b->sects[i].cmds;
    if (b->nsects == b->cap_sects) {
        size_t cap = b->cap_sects ? b->cap_sects * 2 : 4;
        clm_batch_sect *v = realloc(b->sects, cap * sizeof(*v));
        if (!v)
            return NULL;
        b->sects = v;
        b->cap_sects = cap;
    }
    clm_batch_sect *x = &b->sects[b->nsects++];
    x->part = part;
    clm_cmdbuf_init(&x->cmds);
    return &x->cmds;
}

size_t clm_batch_bytes(const clm_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nsects; i++)
        n += b->sects[i].cmds.len;
    return n;
}

size_t clm_batch_ncmds(const clm_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nsects; i++)
        n += b->sects[i].cmds.ncmds;
    return n;
}

int clm_batch_add_part(clm_batch *b, const clm_part_progress *p)
{
    if (b->nparts == b->cap_parts) {
        size_t cap = b->cap_parts ? b->cap_parts * 2 : 8;
        clm_part_progress *np = realloc(b->parts, cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        b->parts = np;
        b->cap_parts = cap;
    }
    b->parts[b->nparts++] = *p;
    return 0;
}

int clm_batch_add_alert(clm_batch *b, const char *id, const char *key, size_t key_len, char *json)
{
    if (b->nalerts == b->cap_alerts) {
        size_t cap = b->cap_alerts ? b->cap_alerts * 2 : 4;
        clm_batch_alert *na = realloc(b->alerts, cap * sizeof(*na));
        if (!na) {
            free(json);
            return -ENOMEM;
        }
        b->alerts = na;
        b->cap_alerts = cap;
    }
    clm_batch_alert *a = &b->alerts[b->nalerts];
    a->key = malloc(key_len + 1);
    if (!a->key) {
        free(json);
        return -ENOMEM;
    }
    memcpy(a->key, key, key_len);
    a->key[key_len] = '\0';
    memcpy(a->id, id, CLM_ALERT_ID_LEN + 1);
    a->json = json;
    b->nalerts++;
    return 0;
}
