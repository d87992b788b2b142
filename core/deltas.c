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
    free(d->bd);
    free(d->pend);
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
    d->nbd = 0;
    d->npend = 0;
    d->capturing = false;
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
    if (d->capturing) {
        int k = clm_breakdown_counter(off);
        if (k >= 0) {
            if (d->npend == d->cap_pend) {
                size_t cap = d->cap_pend ? d->cap_pend * 2 : 16;
                clm_bd_pending *p = realloc(d->pend, cap * sizeof(*p));
                if (!p)
                    return -ENOMEM;
                d->pend = p;
                d->cap_pend = cap;
            }
            d->pend[d->npend++] = (clm_bd_pending){ .bucket = bucket, .counter = k, .n = n };
        }
    }
    return 0;
}

void clm_deltas_bd_begin(clm_deltas *d)
{
    d->npend = 0;
    d->capturing = true;
}

void clm_deltas_bd_abort(clm_deltas *d)
{
    d->npend = 0;
    d->capturing = false;
}

static clm_bd_delta *bd_entry(clm_deltas *d, int64_t bucket, uint8_t dim, uint8_t slot)
{
    size_t h = d->bd_hit[dim];
    if (h < d->nbd && d->bd[h].bucket == bucket && d->bd[h].dim == dim && d->bd[h].slot == slot)
        return &d->bd[h];
    for (size_t i = d->nbd; i-- > 0;)
        if (d->bd[i].bucket == bucket && d->bd[i].dim == dim && d->bd[i].slot == slot) {
            d->bd_hit[dim] = i;
            return &d->bd[i];
        }
    if (d->nbd == d->cap_bd) {
        size_t cap = d->cap_bd ? d->cap_bd * 2 : 16;
        clm_bd_delta *v = realloc(d->bd, cap * sizeof(*v));
        if (!v)
            return NULL;
        d->bd = v;
        d->cap_bd = cap;
    }
    d->bd_hit[dim] = d->nbd;
    clm_bd_delta *e = &d->bd[d->nbd++];
    memset(e, 0, sizeof(*e));
    e->bucket = bucket;
    e->dim = dim;
    e->slot = slot;
    return e;
}

int clm_deltas_bd_add(clm_deltas *d, int64_t bucket, size_t dim, int slot, int k, int64_t n)
{
    clm_bd_delta *e = bd_entry(d, bucket, (uint8_t)dim, (uint8_t)slot);
    if (!e)
        return -ENOMEM;
    e->c[k] = clm_sat_add(e->c[k], n);
    d->any = true;
    return 0;
}

int clm_deltas_bd_end(clm_deltas *d, const uint8_t *slots, size_t ndims)
{
    d->capturing = false;
    /* reserve first, so that a failure adds nothing */
    size_t need = d->nbd + d->npend * ndims;
    if (need > d->cap_bd) {
        size_t cap = d->cap_bd * 2 > need ? d->cap_bd * 2 : need;
        clm_bd_delta *v = realloc(d->bd, cap * sizeof(*v));
        if (!v) {
            d->npend = 0;
            return -ENOMEM;
        }
        d->bd = v;
        d->cap_bd = cap;
    }
    for (size_t i = 0; i < d->npend; i++)
        for (size_t k = 0; k < ndims; k++) {
            clm_bd_delta *e = bd_entry(d, d->pend[i].bucket, (uint8_t)k, slots[k]);
            e->c[d->pend[i].counter] = clm_sat_add(e->c[d->pend[i].counter], d->pend[i].n);
        }
    d->npend = 0;
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
