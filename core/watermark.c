/* core/watermark.c - a partition's confirmed event time (see watermark.h). */
#include "core/watermark.h"

#include <errno.h>

#include "core/event.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

void clm_wm_init(clm_wm *w, int64_t max_ts)
{
    w->max_ts = max_ts;
    w->nahead = 0;
}

uint64_t clm_wm_source(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

/* Forgets the sources max_ts has moved more than max_jump_ms past. */
static void forget(clm_wm *w, const clm_wm_rule *r)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < w->nahead; i++)
        if (w->max_ts - w->ahead[i].base <= r->max_jump_ms)
            w->ahead[keep++] = w->ahead[i];
    w->nahead = keep;
}

static bool raise_to(clm_wm *w, const clm_wm_rule *r, int64_t ts)
{
    if (ts <= w->max_ts)
        return false;
    w->max_ts = ts;
    forget(w, r);
    return true;
}

bool clm_wm_observe(clm_wm *w, const clm_wm_rule *r, uint64_t source, int64_t ts)
{
    if (w->max_ts == CLM_NO_TS) {
        w->max_ts = ts;
        return true;
    }
    if (r->quorum <= 1 || r->max_jump_ms <= 0 || ts - w->max_ts <= r->max_jump_ms)
        return raise_to(w, r, ts);

    unsigned i;
    for (i = 0; i < w->nahead; i++)
        if (w->ahead[i].source == source)
            break;
    unsigned distinct = w->nahead + (i == w->nahead);
    if (distinct >= r->quorum) {
        /* Confirmed: every source ahead has reached the earliest of them. */
        int64_t earliest = ts;
        for (unsigned k = 0; k < w->nahead; k++)
            if (w->ahead[k].ts < earliest)
                earliest = w->ahead[k].ts;
        w->nahead = 0;
        return raise_to(w, r, earliest);
    }
    if (i == w->nahead) {
        w->ahead[i] = (clm_wm_ahead){ .source = source, .ts = ts, .base = w->max_ts };
        w->nahead++;
    } else {
        if (ts > w->ahead[i].ts)
            w->ahead[i].ts = ts;
        w->ahead[i].base = w->max_ts;
    }
    return false;
}

int clm_wm_check(const clm_wm *w)
{
    if (w->nahead > CLM_WM_QUORUM_MAX - 1 || (w->nahead && w->max_ts == CLM_NO_TS))
        return -EINVAL;
    for (unsigned i = 0; i < w->nahead; i++) {
        const clm_wm_ahead *a = &w->ahead[i];
        if (a->base > w->max_ts || a->ts <= a->base)
            return -EINVAL;
        for (unsigned k = 0; k < i; k++)
            if (w->ahead[k].source == a->source)
                return -EINVAL;
    }
    return 0;
}
