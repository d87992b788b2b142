/* core/deltas.c - see deltas.h. */
#include "core/deltas.h"

#include "core/event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void clm_deltas_init(clm_deltas *d)
{
    memset(d, 0, sizeof(*d));
}

void clm_deltas_release(clm_deltas *d)
{
    free(d->days);
    free(d->trans);
    free(d->alerts);
    clm_deltas_init(d);
}

void clm_deltas_reset(clm_deltas *d)
{
    d->ndays = 0;
    d->ntrans = 0;
    d->last_hit = 0;
    memset(d->stage_count, 0, sizeof(d->stage_count));
    d->value_rate_micros = 0;
    d->repeat_customers = 0;
    d->nalerts = 0;
    d->any = false;
}

clm_daycount *clm_deltas_day(clm_deltas *d, int64_t bucket)
{
    if (d->last_hit < d->ndays && d->days[d->last_hit].bucket == bucket)
        return &d->days[d->last_hit].c;
    for (size_t i = 0; i < d->ndays; i++)
        if (d->days[i].bucket == bucket) {
            d->last_hit = i;
            return &d->days[i].c;
        }
    if (d->ndays == d->cap_days) {
        size_t cap = d->cap_days ? d->cap_days * 2 : 8;
        clm_day_delta *v = realloc(d->days, cap * sizeof(*v));
        if (!v)
            return NULL;
        d->days = v;
        d->cap_days = cap;
    }
    clm_day_delta *n = &d->days[d->ndays];
    memset(n, 0, sizeof(*n));
    n->bucket = bucket;
    d->last_hit = d->ndays++;
    return &n->c;
}

int clm_deltas_add(clm_deltas *d, int64_t bucket, size_t off, int64_t n)
{
    clm_daycount *c = clm_deltas_day(d, bucket);
    if (!c)
        return -ENOMEM;
    int64_t v;
    memcpy(&v, (char *)c + off, sizeof(v));
    v = clm_sat_add(v, n);
    memcpy((char *)c + off, &v, sizeof(v));
    d->any = true;
    return 0;
}

int clm_deltas_transition(clm_deltas *d, int64_t bucket, int from, int to)
{
    size_t i;
    for (i = 0; i < d->ntrans; i++)
        if (d->trans[i].bucket == bucket && d->trans[i].from == from && d->trans[i].to == to)
            break;
    if (i == d->ntrans) {
        if (d->ntrans == d->cap_trans) {
            size_t cap = d->cap_trans ? d->cap_trans * 2 : 16;
            clm_transition_delta *v = realloc(d->trans, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            d->trans = v;
            d->cap_trans = cap;
        }
        d->trans[i] = (clm_transition_delta){ .bucket = bucket, .from = (uint8_t)from,
                                              .to = (uint8_t)to };
        d->ntrans++;
    }
    d->trans[i].n++;
    if (from != CLM_STAGE_NONE)
        d->stage_count[from]--;
    d->stage_count[to]++;
    d->any = true;
    return 0;
}

int clm_deltas_alert(clm_deltas *d, const clm_alert *a)
{
    if (d->nalerts == d->cap_alerts) {
        size_t cap = d->cap_alerts ? d->cap_alerts * 2 : 8;
        clm_alert *v = realloc(d->alerts, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        d->alerts = v;
        d->cap_alerts = cap;
    }
    d->alerts[d->nalerts++] = *a;
    d->any = true;
    return 0;
}
