/* core/breakdown.c - see breakdown.h. */
#include "core/breakdown.h"

#include <string.h>

#include "core/daycount.h"

static const struct {
    const char *name;
    size_t off;
} counters[CLM_BD_COUNTERS] = {
    { "new_leads", offsetof(clm_daycount, new_leads) },
    { "leads_converted", offsetof(clm_daycount, leads_converted) },
    { "new_customers", offsetof(clm_daycount, new_customers) },
    { "orders", offsetof(clm_daycount, orders) },
    { "revenue_micros", offsetof(clm_daycount, revenue_micros) },
    { "churned", offsetof(clm_daycount, churned) },
    { "reactivated", offsetof(clm_daycount, reactivated) },
    { "customers_delta", offsetof(clm_daycount, customers_delta) },
};

int clm_breakdown_slot(const clm_breakdown_spec *s, const clm_trait_value *v)
{
    char text[CLM_BD_VALUE_MAX];
    size_t n = clm_trait_format(v, text, sizeof(text));
    if (n == 0)
        return CLM_BD_SLOT_NONE(s);
    for (size_t i = 0; i < s->nvalues; i++)
        if (strlen(s->values[i]) == n && memcmp(s->values[i], text, n) == 0)
            return (int)i;
    return CLM_BD_SLOT_OTHER(s);
}

const char *clm_breakdown_slot_name(const clm_breakdown_spec *s, int slot)
{
    if (slot >= 0 && (size_t)slot < s->nvalues)
        return s->values[slot];
    return slot == CLM_BD_SLOT_OTHER(s) ? "other" : "(none)";
}

int clm_breakdown_counter(size_t off)
{
    for (int k = 0; k < CLM_BD_COUNTERS; k++)
        if (counters[k].off == off)
            return k;
    return -1;
}

const char *clm_breakdown_counter_name(int k)
{
    return k >= 0 && k < CLM_BD_COUNTERS ? counters[k].name : "";
}
