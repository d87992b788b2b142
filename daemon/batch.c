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
    clm_cmdbuf_init(&b->cmds);
    return b;
}

void clm_batch_free(clm_batch *b)
{
    if (!b)
        return;
    clm_cmdbuf_release(&b->cmds);
    free(b->parts);
    for (size_t i = 0; i < b->nalerts; i++) {
        free(b->alerts[i].key);
        free(b->alerts[i].json);
    }
    free(b->alerts);
    free(b);
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
