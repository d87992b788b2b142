/* store/reasons.c - see reasons.h. */
#include "store/reasons.h"

#include <errno.h>
#include <stdlib.h>

typedef struct ranked {
    json_t *e;
    double contribution;
    size_t pos;
} ranked;

static int ranked_cmp(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->contribution != y->contribution)
        return x->contribution < y->contribution ? 1 : -1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int clm_reasons_sort(json_t *reasons)
{
    if (!json_is_array(reasons))
        return -EINVAL;
    size_t n = json_array_size(reasons);
    ranked *v = calloc(n + 1, sizeof(*v));
    int r = 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(reasons, i);
        json_t *c = json_object_get(e, "contribution");
        if (!json_is_string(json_object_get(e, "signal")) || !json_is_number(c)) {
            free(v);
            return -EINVAL;
        }
        v[i] = (ranked){ .e = e, .contribution = json_number_value(c), .pos = i };
    }
    qsort(v, n, sizeof(*v), ranked_cmp);
    /* the array holds the only reference: take one before clearing it */
    for (size_t i = 0; i < n; i++)
        json_incref(v[i].e);
    json_array_clear(reasons);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(reasons, v[i].e) < 0)
            r = -ENOMEM; /* append_new dropped the reference */
    free(v);
    return r;
}
