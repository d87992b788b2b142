/* core/shard_identity.c - the identity merge's steps inside a shard (see
 * shard.h, "identity merge"). */
#include <errno.h>
#include <string.h>

#include "core/merge.h"
#include "core/shard_impl.h"

void clm_shard_part_set_internal(clm_shard *s, int slot)
{
    s->parts[slot].internal = true;
}

void clm_shard_note_done(clm_shard *s, int slot, int64_t offset)
{
    shard_advance(&s->parts[slot], offset);
}

void clm_shard_note_forwarded(clm_shard *s, int slot, int64_t offset, const clm_event *ev)
{
    part *p = &s->parts[slot];
    if (p->wm.max_ts == CLM_NO_TS || ev->ts_ms > p->wm.max_ts)
        clm_wm_observe(&p->wm, &s->o.wm_rule, clm_wm_source(ev->customer_id, ev->customer_id_len),
                       ev->ts_ms);
    clm_shard_stats *st = &shard_acc_of(s, p->partition)->st; /* made by part_add */
    st->consumed++;
    st->applied++;
    shard_advance(p, offset);
}

int clm_shard_freeze(clm_shard *s, int slot, int64_t offset, int32_t part_no, const char *id,
                     size_t len)
{
    if (!clm_shard_forget_ready(s, id, len))
        return -EBUSY;
    int r = shard_queue_removed(s, part_no, id, len, true);
    if (r < 0)
        return r;
    clm_custtab_remove(s->tab, id, len);
    shard_advance(&s->parts[slot], offset);
    return 0;
}

int clm_shard_merge(clm_shard *s, int slot, int64_t offset, clm_customer *known,
                    const clm_customer *anon, uint64_t record_id, int64_t merge_ts)
{
    bool was_dirty = known->flags & CLM_CUST_DIRTY;
    int r;
    if (!was_dirty && (r = shard_reserve_dirty(s)) < 0)
        return r;
    struct acc *a = shard_acc_of(s, known->part);
    if (!a)
        return -ENOMEM;
    r = clm_merge_apply(known, anon, record_id, merge_ts, &s->o.apply, &a->deltas,
                        clm_shard_number_watermark(s, known->part));
    if (r < 0)
        return r;
    shard_note_dirty(s, known, was_dirty);
    if (r == CLM_APPLIED)
        a->st.merges++;
    shard_advance(&s->parts[slot], offset);
    return r;
}

int clm_shard_apply_forwarded(clm_shard *s, int slot, int64_t offset, const clm_event *ev,
                              clm_customer *c)
{
    part *p = &s->parts[slot];
    bool was_dirty = c->flags & CLM_CUST_DIRTY;
    int r;
    if (!was_dirty && (r = shard_reserve_dirty(s)) < 0)
        return r;
    struct acc *a = shard_acc_of(s, c->part);
    if (!a)
        return -ENOMEM;
    clm_pos pos = { .topic = p->topic, .partition = p->partition, .offset = offset };
    r = clm_customer_apply_at(c, ev, &pos, &s->o.apply, &a->deltas,
                              clm_shard_number_watermark(s, c->part));
    if (r < 0)
        return r;
    shard_note_dirty(s, c, was_dirty);
    shard_advance(p, offset);
    return r;
}
