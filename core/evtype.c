/* core/evtype.c - looking up configured event types (see evtype.h). */
#include <stdbool.h>
#include <string.h>

#include "core/evtype.h"

int clm_custom_type_index(const clm_custom_types *set, const char *name, size_t len)
{
    if (!set)
        return -1;
    for (size_t i = 0; i < set->n; i++)
        if (set->t[i].len == len && memcmp(set->t[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

bool clm_custom_types_equal(const clm_custom_types *a, const clm_custom_types *b)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;

    return na == nb && (na == 0 || memcmp(a->t, b->t, na * sizeof(a->t[0])) == 0);
}
