/* daemon/batch.c - see batch.h. */
#include "daemon/batch.h"

#include <errno.h>
#include <stdlib.h>

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
