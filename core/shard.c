/* core/shard.c - a worker's partitions and customers (see shard.h). */
#include "core/shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpi.h"
#include "core/shard_impl.h"

struct acc *shard_acc_of(clm_shard *s, int32_t part)
{
    for (size_t i = 0; i < s->naccs; i++)
        if (s->accs[i].part == part)
            return &s->accs[i];
    if (s->naccs == s->cap_accs) {
        size_t cap = s->cap_accs ? s->cap_accs * 2 : 8;
        struct acc *v = realloc(s->accs, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->accs = v;
        s->cap_accs = cap;
    }
    struct acc *a = &s->accs[s->naccs++];
    memset(a, 0, sizeof(*a));
    a->part = part;
    clm_deltas_init(&a->deltas);
    return a;
}

clm_shard *clm_shard_new(const clm_shard_opts *o)
{
    clm_shard *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->o = *o;
    s->tab = clm_custtab_new(o->max_customers);
    if (!s->tab) {
        free(s);
        return NULL;
    }
    return s;
}

void clm_shard_free(clm_shard *s)
{
    if (!s)
        return;
    clm_custtab_free(s->tab);
    for (size_t i = 0; i < s->naccs; i++)
        clm_deltas_release(&s->accs[i].deltas);
    free(s->accs);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition >= 0)
            clm_dedup_release(&s->parts[i].anon);
    free(s->parts);
    free(s->dirty);
    free(s->inflight);
    free(s->erased);
    free(s);
}

int clm_shard_part_find(const clm_shard *s, int32_t topic, int32_t partition)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition == partition && s->parts[i].topic == topic)
            return (int)i;
    return -ENOENT;
}

int clm_shard_part_add(clm_shard *s, int32_t topic, int32_t partition,
                       int64_t stored_offset, int64_t max_ts, bool fresh)
{
    if (clm_shard_part_find(s, topic, partition) >= 0)
        return -EEXIST;
    if (!shard_acc_of(s, partition)) /* so noting a rejection needs no memory */
        return -ENOMEM;
    size_t slot = s->nparts;
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition < 0) {
            slot = i;
            break;
        }
    if (slot == s->nparts) {
        if (s->nparts == s->cap_parts) {
            size_t cap = s->cap_parts ? s->cap_parts * 2 : 8;
            part *p = realloc(s->parts, cap * sizeof(*p));
            if (!p)
                return -ENOMEM;
            s->parts = p;
            s->cap_parts = cap;
        }
        s->nparts++;
    }
    s->parts[slot] = (part){ .topic = topic, .partition = partition, .next = stored_offset,
                             .cut = stored_offset, .fresh = fresh };
    clm_wm_init(&s->parts[slot].wm, max_ts);
    clm_dedup_init(&s->parts[slot].anon);
    return (int)slot;
}

int clm_shard_part_restore_wm(clm_shard *s, int slot, const clm_wm *wm)
{
    if (clm_wm_check(wm) < 0)
        return -EINVAL;
    s->parts[slot].wm = *wm;
    return 0;
}

int clm_shard_part_set_anon(clm_shard *s, int slot, const clm_anon_ids *a)
{
    clm_dedup d;
    int r;
    if (a->n > CLM_ANON_IDS_MAX)
        return -EINVAL;
    clm_dedup_init(&d);
    for (uint32_t i = 0; i < a->n; i++)
        if ((r = clm_dedup_append(&d, a->e[i].hash, a->e[i].ts_ms)) < 0) {
            clm_dedup_release(&d);
            return r;
        }
    clm_dedup_release(&s->parts[slot].anon);
    s->parts[slot].anon = d;
    return 0;
}

size_t clm_shard_part_count(const clm_shard *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nparts; i++)
        n += s->parts[i].partition >= 0;
    return n;
}

bool clm_shard_part_fresh(const clm_shard *s, int slot)
{
    return s->parts[slot].fresh;
}

size_t clm_shard_part_slots(const clm_shard *s)
{
    return s->nparts;
}

int clm_shard_part_get(const clm_shard *s, int slot, int32_t *topic, int32_t *partition)
{
    if (slot < 0 || (size_t)slot >= s->nparts || s->parts[slot].partition < 0)
        return -ENOENT;
    *topic = s->parts[slot].topic;
    *partition = s->parts[slot].partition;
    return 0;
}

static bool in_partition(const clm_customer *c, void *ctx)
{
    return c->part == *(const uint16_t *)ctx;
}

size_t clm_shard_part_remove(clm_shard *s, int slot)
{
    part *p = &s->parts[slot];
    int32_t number = p->partition;
    p->partition = -1;
    clm_dedup_release(&p->anon);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition == number)
            return 0; /* another topic's partition with this number stays */
    uint16_t no = (uint16_t)number;
    /* Dirty customers of the partition cannot exist here (the caller flushed),
     * but keep the dirty list consistent regardless. */
    size_t keep = 0;
    for (size_t i = 0; i < s->ndirty; i++)
        if (s->dirty[i]->part != no)
            s->dirty[keep++] = s->dirty[i];
    s->ndirty = keep;
    return clm_custtab_remove_if(s->tab, in_partition, &no);
}

void shard_advance(part *p, int64_t offset)
{
    if (offset + 1 > p->next)
        p->next = offset + 1;
}

static int64_t watermark_of(const clm_shard *s, const part *p)
{
    return p->wm.max_ts == CLM_NO_TS ? CLM_NO_TS : p->wm.max_ts - s->o.allowed_lateness_ms;
}

bool clm_shard_is_late(const clm_shard *s, int slot, int64_t ts_ms)
{
    int64_t wm = watermark_of(s, &s->parts[slot]);
    return wm != CLM_NO_TS && ts_ms < wm;
}

int64_t clm_shard_watermark(const clm_shard *s, int slot)
{
    return watermark_of(s, &s->parts[slot]);
}

int64_t clm_shard_number_watermark(const clm_shard *s, int32_t partition)
{
    int64_t wm = CLM_NO_TS;
    bool first = true;
    for (size_t i = 0; i < s->nparts; i++) {
        if (s->parts[i].partition != partition || s->parts[i].internal)
            continue;
        int64_t w = watermark_of(s, &s->parts[i]);
        if (w == CLM_NO_TS)
            return CLM_NO_TS; /* a partition without events holds everything back */
        if (first || w < wm)
            wm = w;
        first = false;
    }
    return wm;
}

const clm_apply_opts *clm_shard_apply_opts(const clm_shard *s)
{
    return &s->o.apply;
}

void clm_shard_note_reject(clm_shard *s, int slot, int64_t offset, clm_reason r)
{
    clm_shard_stats *st = &shard_acc_of(s, s->parts[slot].partition)->st; /* made by part_add */
    st->consumed++;
    st->rejected[r]++;
    shard_advance(&s->parts[slot], offset);
}

clm_customer *clm_shard_customer(clm_shard *s, const char *id, size_t len)
{
    return clm_custtab_get(s->tab, id, len);
}

static bool evictable(const clm_customer *c, void *ctx)
{
    const clm_shard *s = ctx;
    return !(c->flags & CLM_CUST_DIRTY) && c->flush_gen <= s->acked_gen;
}

int clm_shard_make_room(clm_shard *s, size_t n)
{
    size_t count = clm_custtab_count(s->tab), max = clm_custtab_max(s->tab);
    if (n > max)
        return -ENOSPC;
    if (count + n <= max)
        return 0;
    size_t need = count + n - max;
    /* Evict a little more than needed so eviction is not paid per insert. */
    size_t want = need + max / 64;
    size_t got = clm_custtab_evict(s->tab, want, evictable, s);
    if (got)
        for (size_t i = 0; i < s->nparts; i++)
            s->parts[i].fresh = false; /* a miss may now be an evicted customer */
    return got >= need ? 0 : -ENOSPC;
}

int clm_shard_insert(clm_shard *s, clm_customer *c)
{
    return clm_custtab_put(s->tab, c);
}

/* Makes room for one more entry on the dirty list, so that applying an event
 * cannot fail after the customer changed. */
int shard_reserve_dirty(clm_shard *s)
{
    if (s->ndirty < s->cap_dirty)
        return 0;
    size_t cap = s->cap_dirty ? s->cap_dirty * 2 : 1024;
    clm_customer **d = realloc(s->dirty, cap * sizeof(*d));
    if (!d)
        return -ENOMEM;
    s->dirty = d;
    s->cap_dirty = cap;
    return 0;
}

int clm_shard_apply(clm_shard *s, int slot, int64_t offset, const clm_event *ev, clm_customer *c)
{
    part *p = &s->parts[slot];
    /* The state before this event, restored when it is not applied: a
     * duplicate (or a failure) moves nothing. Copied only when the event can
     * change it. */
    clm_wm old;
    bool touched = p->wm.max_ts == CLM_NO_TS || ev->ts_ms > p->wm.max_ts;
    int r = CLM_APPLIED;
    struct acc *a = shard_acc_of(s, p->partition);
    if (!a)
        return -ENOMEM;
    if (touched) {
        old = p->wm;
        clm_wm_observe(&p->wm, &s->o.wm_rule,
                       clm_wm_source(ev->has_customer ? ev->customer_id : "",
                                     ev->has_customer ? ev->customer_id_len : 0),
                       ev->ts_ms);
    }
    if (!c && ev->has_event_id && s->o.apply.dedup_horizon_ms > 0) {
        uint64_t h = clm_dedup_hash(ev->event_id, ev->event_id_len);
        if (clm_dedup_contains(&p->anon, h))
            r = CLM_DUPLICATE;
        else if ((r = clm_dedup_add(&p->anon, h, ev->ts_ms, p->wm.max_ts,
                                    s->o.apply.dedup_horizon_ms, CLM_ANON_IDS_MAX)) < 0)
            goto out_restore;
    }
    if (c) {
        bool was_dirty = c->flags & CLM_CUST_DIRTY;
        if (!was_dirty && (r = shard_reserve_dirty(s)) < 0)
            goto out_restore;
        clm_pos pos = { .topic = p->topic, .partition = p->partition, .offset = offset };
        r = clm_customer_apply_at(c, ev, &pos, &s->o.apply, &a->deltas, watermark_of(s, p));
        if (r < 0)
            goto out_restore;
        if (!was_dirty && (c->flags & CLM_CUST_DIRTY))
            s->dirty[s->ndirty++] = c;
    }
    a->st.consumed++;
    if (r == CLM_DUPLICATE) {
        a->st.duplicates++;
        if (touched)
            p->wm = old; /* a duplicate is not applied: it moves nothing */
    } else {
        a->st.applied++;
        if (ev->type == CLM_EV_MARKETING_SPEND && ev->has_amount &&
            clm_deltas_add(&a->deltas, clm_bucket_of_ms(ev->ts_ms, s->o.apply.bucket_ms),
                           CLM_DAY(spend_micros), ev->amount_micros) < 0)
            return -ENOMEM;
    }
    shard_advance(p, offset);
    return r;

out_restore:
    if (touched)
        p->wm = old;
    return r;
}

void shard_note_dirty(clm_shard *s, clm_customer *c, bool was_dirty)
{
    if (!was_dirty && (c->flags & CLM_CUST_DIRTY))
        s->dirty[s->ndirty++] = c;
}

int clm_shard_expire_one(clm_shard *s, clm_customer *c)
{
    bool was_dirty = c->flags & CLM_CUST_DIRTY;
    int r;
    if (!was_dirty && (r = shard_reserve_dirty(s)) < 0)
        return r;
    struct acc *a = shard_acc_of(s, c->part);
    if (!a)
        return -ENOMEM;
    r = clm_customer_expire(c, &s->o.apply, &a->deltas, clm_shard_number_watermark(s, c->part));
    if (r > 0)
        shard_note_dirty(s, c, was_dirty);
    return r;
}

int clm_shard_expire_cached(clm_shard *s)
{
    /* Customers acknowledged by Redis are in the caller's deadline index;
     * those changed since the last cut, and those of cuts still on their way
     * to Redis, may not be. */
    if (!s->o.apply.stages && !s->o.apply.risk)
        return 0;
    int n = 0;
    size_t ndirty = s->ndirty; /* expiring one below may add it to the dirty list */
    for (size_t i = 0; i < ndirty + s->ninflight - s->inflight_head; i++) {
        clm_customer *c = i < ndirty ? s->dirty[i] : s->inflight[s->inflight_head + i - ndirty].c;
        int r = clm_shard_expire_one(s, c);
        if (r < 0)
            return r;
        n += r;
    }
    return n;
}

bool clm_shard_forget_ready(clm_shard *s, const char *id, size_t len)
{
    const clm_customer *c = clm_custtab_get(s->tab, id, len);
    return !c || (!(c->flags & CLM_CUST_DIRTY) && c->flush_gen <= s->acked_gen);
}

int shard_queue_removed(clm_shard *s, int32_t part, const char *id, size_t len, bool frozen)
{
    if (s->nerased == s->cap_erased) {
        size_t cap = s->cap_erased ? s->cap_erased * 2 : 16;
        struct erased *v = realloc(s->erased, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->erased = v;
        s->cap_erased = cap;
    }
    struct erased *e = &s->erased[s->nerased++];
    e->part = part;
    e->frozen = frozen;
    e->len = (uint8_t)len;
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    return 0;
}

int clm_shard_forget(clm_shard *s, int slot, int64_t offset, const clm_event *ev)
{
    part *p = &s->parts[slot];
    if (!clm_shard_forget_ready(s, ev->customer_id, ev->customer_id_len))
        return -EBUSY;
    struct acc *a = shard_acc_of(s, p->partition);
    if (!a)
        return -ENOMEM;
    int r = shard_queue_removed(s, p->partition, ev->customer_id, ev->customer_id_len, false);
    if (r < 0)
        return r;
    clm_custtab_remove(s->tab, ev->customer_id, ev->customer_id_len);
    a->st.consumed++;
    a->st.applied++;
    a->st.erasures++;
    shard_advance(p, offset);
    return 0;
}

size_t clm_shard_dirty_count(const clm_shard *s)
{
    return s->ndirty;
}

int clm_shard_flush_cut(clm_shard *s, uint64_t gen, const clm_flush_sink *sink)
{
    int r;
    if (s->ninflight + s->ndirty > s->cap_inflight) {
        /* compact what acknowledgements consumed, then grow */
        if (s->inflight_head)
            memmove(s->inflight, s->inflight + s->inflight_head,
                    (s->ninflight - s->inflight_head) * sizeof(*s->inflight));
        s->ninflight -= s->inflight_head;
        s->inflight_head = 0;
        size_t cap = s->cap_inflight ? s->cap_inflight : 1024;
        while (cap < s->ninflight + s->ndirty)
            cap *= 2;
        if (cap != s->cap_inflight) {
            struct inflight *v = realloc(s->inflight, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            s->inflight = v;
            s->cap_inflight = cap;
        }
    }
    for (size_t i = 0; i < s->nerased; i++) {
        const struct erased *e = &s->erased[i];
        int (*fn)(void *, int32_t, const char *, size_t) = e->frozen ? sink->freeze : sink->forget;
        if (!fn)
            return -EINVAL;
        if ((r = fn(sink->ctx, e->part, e->id, e->len)) < 0)
            return r;
    }
    s->nerased = 0;
    for (size_t i = 0; i < s->ndirty; i++) {
        clm_customer *c = s->dirty[i];
        if ((r = sink->customer(sink->ctx, c)) < 0)
            return r;
        c->flags &= (uint8_t)~CLM_CUST_DIRTY;
        c->flush_gen = gen;
        s->inflight[s->ninflight++] = (struct inflight){ c, gen };
    }
    s->ndirty = 0;
    int moved = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        part *p = &s->parts[i];
        if (p->partition < 0 || p->next == p->cut)
            continue;
        clm_part_progress pp = { .topic = p->topic, .partition = p->partition,
                                 .from = p->cut, .to = p->next, .wm = p->wm };
        pp.anon.n = p->anon.n;
        memcpy(pp.anon.e, clm_dedup_entries(&p->anon), p->anon.n * sizeof(pp.anon.e[0]));
        if ((r = sink->progress(sink->ctx, &pp)) < 0)
            return r;
        p->cut = p->next;
        moved++;
    }
    static const clm_shard_stats none;
    for (size_t i = 0; i < s->naccs; i++) {
        struct acc *a = &s->accs[i];
        if (memcmp(&a->st, &none, sizeof(none)) != 0 &&
            (r = sink->stats(sink->ctx, a->part, &a->st)) < 0)
            return r;
        memset(&a->st, 0, sizeof(a->st));
        if (a->deltas.any && (r = sink->deltas(sink->ctx, a->part, &a->deltas)) < 0)
            return r;
        clm_deltas_reset(&a->deltas);
    }
    return moved;
}

void clm_shard_flush_acked(clm_shard *s, uint64_t gen)
{
    if (gen > s->acked_gen)
        s->acked_gen = gen;
    while (s->inflight_head < s->ninflight && s->inflight[s->inflight_head].gen <= s->acked_gen)
        s->inflight_head++;
    if (s->inflight_head == s->ninflight)
        s->ninflight = s->inflight_head = 0;
}

uint64_t clm_shard_acked_gen(const clm_shard *s)
{
    return s->acked_gen;
}

size_t clm_shard_customer_count(const clm_shard *s)
{
    return clm_custtab_count(s->tab);
}

void clm_shard_set_apply_opts(clm_shard *s, const clm_apply_opts *o)
{
    s->o.apply = *o;
}
