/* tests/test-shard.c - a worker's partitions, customers, watermarks, inactivity
 * churn and flush cuts (core/shard.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/shard.h"
#include "core/stages.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define D0 20454 /* 2026-01-01 as an epoch day */

/* Epoch ms of hh:00 UTC on day D0 + day. */
static int64_t at(int64_t day, int64_t hh)
{
    return (D0 + day) * DAY_MS + hh * HOUR_MS;
}

/* The default stage model (stage indices in list order). */
enum { AWARENESS, ACQUISITION, CONVERSION, ONBOARDING, ENGAGEMENT, RETENTION, ADVOCACY,
       CHURNED, REACTIVATED };
static const char *const STAGE_NAMES[] = {
    "awareness", "acquisition", "conversion", "onboarding", "engagement",
    "retention", "advocacy", "churned", "reactivated",
};
static const char *const ON_VISIT[] = { "visit" };
static const char *const ON_SIGNUP[] = { "signup" };
static const char *const ON_PURCHASE[] = { "purchase" };
static const char *const ON_ONBOARDING[] = { "onboarding_complete" };
static const char *const ON_USE[] = { "login", "session", "feature_use" };
static const char *const ON_ADVOCACY[] = { "referral", "review" };
static const char *const ON_NPS[] = { "nps_response" };
static const char *const ON_CANCEL[] = { "cancel" };
static const char *const ON_ANY[] = { "*" };
static const char *const FROM_ONBOARDING[] = { "onboarding" };
static const char *const FROM_CHURNED[] = { "churned" };
#define NO_SCORE INT32_MIN, INT32_MAX, false
static const clm_stage_rule_spec RULES[] = {
    { ON_VISIT, 1, NULL, 0, "awareness", -1, -1, NO_SCORE },
    { ON_SIGNUP, 1, NULL, 0, "acquisition", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "conversion", 1, 1, NO_SCORE },
    { ON_ONBOARDING, 1, NULL, 0, "onboarding", -1, -1, NO_SCORE },
    { ON_USE, 3, FROM_ONBOARDING, 1, "engagement", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "retention", 2, -1, NO_SCORE },
    { ON_ADVOCACY, 2, NULL, 0, "advocacy", 1, -1, NO_SCORE },
    { ON_NPS, 1, NULL, 0, "advocacy", 1, -1, 9, INT32_MAX, true },
    { ON_CANCEL, 1, NULL, 0, "churned", 1, -1, NO_SCORE },
    { ON_ANY, 1, FROM_CHURNED, 1, "reactivated", -1, -1, NO_SCORE },
};
static const clm_stages_spec DEFAULT_MODEL = {
    .stages = STAGE_NAMES,
    .nstages = 9,
    .churned = "churned",
    .reactivated = "reactivated",
    .rules = RULES,
    .nrules = sizeof(RULES) / sizeof(RULES[0]),
    .forward_only = true,
};

/* What a flush cut handed over. */
typedef struct cut_log {
    char ids[64][16];
    int ncust;
    clm_part_progress prog[8];
    int nprog;
    clm_shard_stats st;         /* summed over partition numbers */
    int nstats;
    int32_t stat_part[4];       /* partition number of each stats callback */
    int64_t stat_consumed[4];
    int32_t delta_part[4];      /* partition number of each deltas callback */
    int ndeltas;                /* deltas callbacks */
    clm_day_delta days[8];      /* the KPI deltas handed over */
    size_t ndays;
    clm_transition_delta trans[8];
    size_t ntrans;
    int64_t stage_count[CLM_STAGES_MAX];
    int64_t value_rate_micros;
    int fail_customer_at; /* -1: never */
    char forgotten[4][16];      /* ids handed to sink->forget, in order */
    int32_t forgotten_part[4];
    int nforgotten;
    int ncust_at_forget[4];     /* customers handed before each forget */
    char frozen[4][16];         /* ids handed to sink->freeze, in order */
    int nfrozen;
} cut_log;

static int log_customer(void *ctx, clm_customer *c)
{
    cut_log *l = ctx;

    if (l->ncust == l->fail_customer_at)
        return -EIO;
    assert_true(l->ncust < 64);
    snprintf(l->ids[l->ncust++], sizeof(l->ids[0]), "%s", c->id);
    return 0;
}

static int log_forget(void *ctx, int32_t part, const char *id, size_t len)
{
    cut_log *l = ctx;

    assert_true(l->nforgotten < 4);
    assert_int_equal(strlen(id), len);
    snprintf(l->forgotten[l->nforgotten], sizeof(l->forgotten[0]), "%s", id);
    l->forgotten_part[l->nforgotten] = part;
    l->ncust_at_forget[l->nforgotten++] = l->ncust;
    return 0;
}

static int log_freeze(void *ctx, int32_t part, const char *id, size_t len)
{
    cut_log *l = ctx;

    (void)part;
    assert_true(l->nfrozen < 4);
    assert_int_equal(strlen(id), len);
    snprintf(l->frozen[l->nfrozen++], sizeof(l->frozen[0]), "%s", id);
    return 0;
}

static int log_progress(void *ctx, const clm_part_progress *p)
{
    cut_log *l = ctx;

    assert_true(l->nprog < 8);
    l->prog[l->nprog++] = *p;
    return 0;
}

static int log_stats(void *ctx, int32_t part, const clm_shard_stats *st)
{
    cut_log *l = ctx;

    assert_true(l->nstats < 4);
    l->stat_part[l->nstats] = part;
    l->stat_consumed[l->nstats] = st->consumed;
    l->st.consumed += st->consumed;
    l->st.applied += st->applied;
    l->st.duplicates += st->duplicates;
    l->st.merges += st->merges;
    for (int i = 0; i < CLM_REJ__COUNT; i++)
        l->st.rejected[i] += st->rejected[i];
    l->nstats++;
    return 0;
}

static int log_deltas(void *ctx, int32_t part, const clm_deltas *d)
{
    cut_log *l = ctx;

    assert_true(l->ndeltas < 4);
    l->delta_part[l->ndeltas] = part;
    /* partitions' deltas are kept side by side; the lookups below sum them */
    assert_true(l->ndays + d->ndays <= 8);
    assert_true(l->ntrans + d->ntrans <= 8);
    l->ndeltas++;
    for (size_t i = 0; i < d->ndays; i++)
        l->days[l->ndays++] = d->days[i];
    for (size_t i = 0; i < d->ntrans; i++)
        l->trans[l->ntrans++] = d->trans[i];
    for (int i = 0; i < CLM_STAGES_MAX; i++)
        l->stage_count[i] += d->stage_count[i];
    l->value_rate_micros += d->value_rate_micros;
    return 0;
}

/* A counter of a bucket in the handed-over deltas (0 when absent). */
static int64_t cut_day(const cut_log *l, int64_t bucket, size_t off)
{
    int64_t sum = 0;
    for (size_t i = 0; i < l->ndays; i++)
        if (l->days[i].bucket == bucket) {
            int64_t v;
            memcpy(&v, (const char *)&l->days[i].c + off, sizeof(v));
            sum += v;
        }
    return sum;
}

static int64_t cut_trans(const cut_log *l, int64_t bucket, int from, int to)
{
    int64_t sum = 0;
    for (size_t i = 0; i < l->ntrans; i++)
        if (l->trans[i].bucket == bucket && l->trans[i].from == from && l->trans[i].to == to)
            sum += l->trans[i].n;
    return sum;
}

/* Cuts generation gen into a fresh log; returns flush_cut's result. */
static int cut(clm_shard *s, uint64_t gen, cut_log *l)
{
    clm_flush_sink sink = { log_customer, log_progress, log_stats, log_deltas, l, log_forget,
                            log_freeze };

    memset(l, 0, sizeof(*l));
    l->fail_customer_at = -1;
    return clm_shard_flush_cut(s, gen, &sink);
}

static int times_handed(const cut_log *l, const char *id)
{
    int n = 0;

    for (int i = 0; i < l->ncust; i++)
        n += strcmp(l->ids[i], id) == 0;
    return n;
}

/* A shard with UTC-day buckets, churn after 90 silent days, 7 days of
 * allowed lateness and the stage model `stages` (may be NULL). */
static clm_shard *shard_with(size_t max_customers, const clm_stages *stages)
{
    clm_shard_opts o = {
        .max_customers = max_customers,
        .allowed_lateness_ms = 7 * DAY_MS,
        .apply = { .dedup_horizon_ms = 86400000, .dedup_max_ids = 16, .stages = stages,
                   .bucket_ms = DAY_MS, .churn_inactive_ms = 90 * DAY_MS,
                   .clv_min_tenure_ms = 30 * DAY_MS },
    };
    clm_shard *s = clm_shard_new(&o);

    assert_non_null(s);
    return s;
}

static clm_shard *shard(size_t max_customers)
{
    return shard_with(max_customers, NULL);
}

/* Inserts a new customer and returns it (the shard owns it). */
static clm_customer *add_customer(clm_shard *s, const char *id, uint16_t part)
{
    clm_customer *c = clm_customer_new(id, strlen(id), part);

    assert_non_null(c);
    assert_int_equal(clm_shard_insert(s, c), 0);
    return c;
}

static clm_event typed_event(clm_event_type type, const clm_customer *c, const char *event_id,
                             int64_t ts_ms)
{
    clm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts_ms;
    if (c) {
        ev.has_customer = 1;
        ev.customer_id_len = c->id_len;
        memcpy(ev.customer_id, c->id, c->id_len + 1u);
    }
    if (event_id) {
        ev.has_event_id = 1;
        ev.event_id_len = (uint8_t)strlen(event_id);
        memcpy(ev.event_id, event_id, ev.event_id_len + 1u);
    }
    const char *name = clm_event_type_name(type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    return ev;
}

static clm_event make_event(const clm_customer *c, const char *event_id, int64_t ts_ms)
{
    return typed_event(CLM_EV_VISIT, c, event_id, ts_ms);
}

static void apply(clm_shard *s, int slot, int64_t offset, clm_customer *c, const char *event_id,
                  int64_t ts_ms, int want)
{
    clm_event ev = make_event(c, event_id, ts_ms);

    assert_int_equal(clm_shard_apply(s, slot, offset, &ev, c), want);
}

/* Each partition number's counts and KPI deltas reach the sink apart:
 * Redis Cluster writes each partition in its own transaction. */
static void test_cut_per_partition(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int s0 = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    int s3 = clm_shard_part_add(s, 0, 3, 0, CLM_NO_TS, false);
    clm_customer *a = add_customer(s, "c-a", 0), *b = add_customer(s, "c-b", 3);
    cut_log l;

    apply(s, s0, 0, a, "e1", 1000, CLM_APPLIED);
    apply(s, s3, 0, b, "e2", 1000, CLM_APPLIED);
    apply(s, s3, 1, b, "e3", 2000, CLM_APPLIED);
    apply(s, s3, 2, b, "e3", 2000, CLM_DUPLICATE);
    clm_shard_note_reject(s, s0, 1, CLM_REJ_INVALID_JSON);
    assert_int_equal(cut(s, 1, &l), 2);
    assert_int_equal(l.nstats, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(l.stat_consumed[i], l.stat_part[i] == 0 ? 2 : 3);
    assert_int_not_equal(l.stat_part[0], l.stat_part[1]);
    assert_int_equal(l.st.duplicates, 1);
    assert_int_equal(l.st.rejected[CLM_REJ_INVALID_JSON], 1);
    assert_int_equal(l.ndeltas, 2); /* each customer's first event */
    assert_int_not_equal(l.delta_part[0], l.delta_part[1]);
    /* nothing since: no callback at all */
    assert_int_equal(cut(s, 2, &l), 0);
    assert_int_equal(l.nstats, 0);
    assert_int_equal(l.ndeltas, 0);
    clm_shard_free(s);
}

/* An erasure request drops the cached customer (and its recent event ids:
 * the same event id applies again to the new customer), is refused while a
 * cut carrying the customer is not acknowledged, counts as consumed and
 * applied, moves the offset but not the watermark, and reaches the sink
 * before any customer of the cut. */
static void test_forget(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 2, 10, CLM_NO_TS, false);
    clm_customer *c = add_customer(s, "c-94", 2);
    cut_log l;

    apply(s, slot, 10, c, "e-1", 5000, CLM_APPLIED);
    apply(s, slot, 11, c, "e-2", 6000, CLM_APPLIED);
    clm_event fg = typed_event(CLM_EV_FORGET, c, NULL, 99000);

    /* dirty: not ready */
    assert_false(clm_shard_forget_ready(s, "c-94", 4));
    assert_int_equal(clm_shard_forget(s, slot, 12, &fg), -EBUSY);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.nforgotten, 0);
    /* cut but not acknowledged: still not ready */
    assert_false(clm_shard_forget_ready(s, "c-94", 4));
    assert_int_equal(clm_shard_forget(s, slot, 12, &fg), -EBUSY);
    clm_shard_flush_acked(s, 1);
    assert_true(clm_shard_forget_ready(s, "c-94", 4));
    assert_true(clm_shard_forget_ready(s, "c-none", 6)); /* unknown: ready */
    assert_int_equal(clm_shard_forget(s, slot, 12, &fg), 0);
    assert_null(clm_shard_customer(s, "c-94", 4));
    assert_int_equal(clm_shard_customer_count(s), 0);
    assert_int_equal(clm_shard_watermark(s, slot), 6000 - 7 * DAY_MS); /* not 99000 */

    /* A later event of the id starts a new customer; its event id e-1 is
     * not a duplicate any more. */
    clm_customer *fresh = add_customer(s, "c-94", 2);
    apply(s, slot, 13, fresh, "e-1", 7000, CLM_APPLIED);
    assert_int_equal(fresh->events, 1);
    assert_int_equal(fresh->first_seen, 7000);

    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.nforgotten, 1);
    assert_string_equal(l.forgotten[0], "c-94");
    assert_int_equal(l.forgotten_part[0], 2);
    assert_int_equal(l.ncust_at_forget[0], 0); /* before the new customer */
    assert_int_equal(l.ncust, 1);
    assert_string_equal(l.ids[0], "c-94");
    assert_int_equal(l.prog[0].from, 12);
    assert_int_equal(l.prog[0].to, 14);
    assert_int_equal(l.st.consumed, 2); /* the request and e-1 */
    assert_int_equal(l.st.applied, 2);
    assert_int_equal(l.ndays, 1);       /* e-1's activity only: the request adds none */

    /* handed once */
    assert_int_equal(cut(s, 3, &l), 0);
    assert_int_equal(l.nforgotten, 0);

    /* A sink without forget callback cannot take an erasure. */
    clm_shard_flush_acked(s, 2);
    fg = typed_event(CLM_EV_FORGET, fresh, NULL, 99000);
    assert_int_equal(clm_shard_forget(s, slot, 14, &fg), 0);
    clm_flush_sink bare = { log_customer, log_progress, log_stats, log_deltas, &l, NULL, NULL };
    memset(&l, 0, sizeof(l));
    l.fail_customer_at = -1;
    assert_int_equal(clm_shard_flush_cut(s, 4, &bare), -EINVAL);
    clm_shard_free(s);
}

/* The identity merge's steps in a shard (core/shard_identity.c): an
 * internal partition takes no part in its number's watermark; a frozen
 * customer leaves the cache and reaches sink->freeze (not forget); a merge
 * record applies once, counts in `merges` and nothing else; a forwarded
 * event applies to its customer without counting; the event left behind
 * counts where it was read. */
static void test_identity_steps(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int ev_slot = clm_shard_part_add(s, 0, 1, 0, CLM_NO_TS, false);
    int id_slot = clm_shard_part_add(s, 1, 1, 0, CLM_NO_TS, false);
    clm_customer *anon = add_customer(s, "a-1", 1), *known = add_customer(s, "c-1", 1);
    cut_log l;

    apply(s, ev_slot, 0, anon, "e-1", at(1, 9), CLM_APPLIED);
    apply(s, ev_slot, 1, known, "e-2", at(1, 10), CLM_APPLIED);
    /* an idle internal partition without events: it would hold the number's
     * watermark at CLM_NO_TS; marked internal, it is left out */
    assert_int_equal(clm_shard_number_watermark(s, 1), CLM_NO_TS);
    clm_shard_part_set_internal(s, id_slot);
    assert_int_equal(clm_shard_number_watermark(s, 1), at(1, 10) - 7 * DAY_MS);
    assert_int_equal(cut(s, 1, &l), 1);
    clm_shard_flush_acked(s, 1);

    /* the merge record carries the anonymous customer's state */
    clm_customer *snap = clm_customer_new("a-1", 3, 1);
    assert_non_null(snap);
    clm_event v = make_event(snap, "e-1", at(1, 9));
    clm_deltas scratch;
    clm_deltas_init(&scratch);
    assert_int_equal(clm_customer_apply_at(snap, &v, NULL, clm_shard_apply_opts(s), &scratch,
                                           CLM_NO_TS), CLM_APPLIED);
    clm_deltas_release(&scratch);

    assert_int_equal(clm_shard_freeze(s, id_slot, 0, 1, "a-1", 3), 0);
    assert_null(clm_shard_customer(s, "a-1", 3));
    assert_int_equal(clm_shard_merge(s, id_slot, 1, known, snap, 77, at(1, 11)), CLM_APPLIED);
    assert_int_equal(known->events, 2);
    assert_int_equal(clm_shard_merge(s, id_slot, 2, known, snap, 77, at(1, 11)), CLM_DUPLICATE);
    assert_int_equal(known->events, 2);

    clm_event fwd = make_event(known, "e-3", at(1, 12));
    assert_int_equal(clm_shard_apply_forwarded(s, id_slot, 3, &fwd, known), CLM_APPLIED);
    assert_int_equal(clm_shard_apply_forwarded(s, id_slot, 4, &fwd, known), CLM_DUPLICATE);
    assert_int_equal(known->events, 3);
    clm_event left = make_event(snap, "e-4", at(1, 13)); /* an event of the alias a-1 */
    clm_shard_note_forwarded(s, ev_slot, 2, &left);
    clm_shard_note_done(s, id_slot, 5);

    assert_int_equal(cut(s, 2, &l), 2);
    assert_int_equal(l.nfrozen, 1);
    assert_string_equal(l.frozen[0], "a-1");
    assert_int_equal(l.nforgotten, 0);
    assert_int_equal(times_handed(&l, "c-1"), 1);
    assert_int_equal(l.st.merges, 1);
    assert_int_equal(l.st.consumed, 1); /* the forwarded event, where it was read */
    assert_int_equal(l.st.applied, 1);
    for (int i = 0; i < l.nprog; i++)
        assert_int_equal(l.prog[i].to, l.prog[i].topic == 1 ? 6 : 3);
    /* the forwarded event's time fed the events partition's watermark */
    assert_int_equal(clm_shard_watermark(s, ev_slot), at(1, 13) - 7 * DAY_MS);
    clm_customer_free(snap);
    clm_shard_free(s);
}

static void test_parts(void **state)
{
    (void)state;
    clm_shard *s = shard(16);

    assert_int_equal(clm_shard_part_count(s), 0);
    assert_int_equal(clm_shard_part_add(s, 0, 0, 41, CLM_NO_TS, false), 0);
    assert_int_equal(clm_shard_part_add(s, 0, 1, CLM_NO_OFFSET, CLM_NO_TS, false), 1);
    assert_int_equal(clm_shard_part_add(s, 1, 0, 7, 5000, false), 2); /* same number, topic 1 */
    assert_int_equal(clm_shard_part_add(s, 0, 1, 99, CLM_NO_TS, false), -EEXIST);
    assert_int_equal(clm_shard_part_count(s), 3);
    assert_int_equal(clm_shard_part_find(s, 0, 1), 1);
    assert_int_equal(clm_shard_part_find(s, 1, 0), 2);
    assert_int_equal(clm_shard_part_find(s, 1, 1), -ENOENT);
    assert_int_equal(clm_shard_part_find(s, 2, 0), -ENOENT);

    assert_int_equal(clm_shard_part_remove(s, 0), 0); /* no customers cached */
    assert_int_equal(clm_shard_part_count(s), 2);
    assert_int_equal(clm_shard_part_find(s, 0, 0), -ENOENT);
    /* The freed slot 0 is reused. */
    assert_int_equal(clm_shard_part_add(s, 3, 9, 0, CLM_NO_TS, false), 0);
    assert_int_equal(clm_shard_part_find(s, 3, 9), 0);
    /* More than the first 8 slots: 3 + 7 = 10 partitions. */
    for (int32_t p = 10; p < 17; p++)
        assert_int_equal(clm_shard_part_add(s, 0, p, 0, CLM_NO_TS, false), p - 7);
    assert_int_equal(clm_shard_part_count(s), 10);
    assert_int_equal(clm_shard_part_find(s, 0, 16), 9);
    clm_shard_free(s);
    clm_shard_free(NULL);
}

static void test_apply_and_cut(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 3, 41, CLM_NO_TS, false);
    clm_customer *c = add_customer(s, "c-1", 3);
    cut_log l;

    assert_ptr_equal(clm_shard_customer(s, "c-1", 3), c);
    assert_null(clm_shard_customer(s, "c-2", 3));
    /* Offsets 41..43 applied (ts 1000, 3000, 2000), 44 rejected. */
    apply(s, slot, 41, c, "e-1", 1000, CLM_APPLIED);
    apply(s, slot, 42, c, "e-2", 3000, CLM_APPLIED);
    apply(s, slot, 43, c, "e-3", 2000, CLM_APPLIED);
    clm_shard_note_reject(s, slot, 44, CLM_REJ_BAD_AMOUNT);
    assert_int_equal(clm_shard_dirty_count(s), 1);
    assert_int_equal(c->events, 3);

    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ncust, 1);
    assert_string_equal(l.ids[0], "c-1");
    assert_int_equal(l.nprog, 1);
    assert_int_equal(l.prog[0].topic, 0);
    assert_int_equal(l.prog[0].partition, 3);
    assert_int_equal(l.prog[0].from, 41);   /* the stored offset */
    assert_int_equal(l.prog[0].to, 45);     /* 44 + 1 */
    assert_int_equal(l.prog[0].wm.max_ts, 3000); /* max(1000, 3000, 2000) */
    assert_int_equal(l.nstats, 1);
    assert_int_equal(l.st.consumed, 4);     /* 3 applied + 1 rejected */
    assert_int_equal(l.st.applied, 3);
    assert_int_equal(l.st.duplicates, 0);
    assert_int_equal(l.st.rejected[CLM_REJ_BAD_AMOUNT], 1);
    assert_int_equal(l.st.rejected[CLM_REJ_INVALID_JSON], 0);
    assert_int_equal(clm_shard_dirty_count(s), 0);
    assert_int_equal(c->flags & CLM_CUST_DIRTY, 0);
    assert_int_equal(c->flush_gen, 1);

    /* 45 repeats e-2 with a later time: a duplicate, which neither dirties the
     * customer nor raises max_ts. 46 applies at ts 5000. */
    apply(s, slot, 45, c, "e-2", 9000, CLM_DUPLICATE);
    assert_int_equal(clm_shard_dirty_count(s), 0);
    apply(s, slot, 46, c, "e-4", 5000, CLM_APPLIED);
    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.ncust, 1);
    assert_int_equal(l.prog[0].from, 45);   /* where the first cut ended */
    assert_int_equal(l.prog[0].to, 47);
    assert_int_equal(l.prog[0].wm.max_ts, 5000);
    assert_int_equal(l.st.consumed, 2);
    assert_int_equal(l.st.applied, 1);
    assert_int_equal(l.st.duplicates, 1);
    assert_int_equal(l.st.rejected[CLM_REJ_BAD_AMOUNT], 0); /* reset by the first cut */
    assert_int_equal(c->events, 4);         /* 3 + e-4 */

    /* Nothing happened: no customers, no progress, zero stats. */
    assert_int_equal(cut(s, 3, &l), 0);
    assert_int_equal(l.ncust, 0);
    assert_int_equal(l.nprog, 0);
    assert_int_equal(l.nstats, 0); /* no partition has counts to hand over */
    assert_int_equal(l.st.consumed, 0);
    assert_int_equal(l.st.applied, 0);
    assert_int_equal(l.st.duplicates, 0);
    clm_shard_free(s);
}

static void test_offsets(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int a = clm_shard_part_add(s, 0, 0, CLM_NO_OFFSET, CLM_NO_TS, false);
    int b = clm_shard_part_add(s, 0, 1, 100, 7000, false);
    cut_log l;

    /* An event without a customer counts as applied. */
    apply(s, a, 0, NULL, NULL, 1500, CLM_APPLIED);
    /* b: 100 at ts 6000 keeps the resumed watermark 7000; a replayed older
     * offset (99) does not move the next offset back. */
    apply(s, b, 100, NULL, NULL, 6000, CLM_APPLIED);
    apply(s, b, 99, NULL, NULL, 8000, CLM_APPLIED);
    assert_int_equal(cut(s, 1, &l), 2);
    assert_int_equal(l.nprog, 2);
    assert_int_equal(l.prog[0].partition, 0);
    assert_int_equal(l.prog[0].from, CLM_NO_OFFSET);
    assert_int_equal(l.prog[0].to, 1);           /* 0 + 1 */
    assert_int_equal(l.prog[0].wm.max_ts, 1500);
    assert_int_equal(l.prog[1].partition, 1);
    assert_int_equal(l.prog[1].from, 100);
    assert_int_equal(l.prog[1].to, 101);         /* max(100, 99) + 1 */
    assert_int_equal(l.prog[1].wm.max_ts, 8000);    /* max(7000, 6000, 8000) */
    assert_int_equal(l.st.applied, 3);
    assert_int_equal(l.ncust, 0);

    /* Only the partition that moved is carried. */
    clm_shard_note_reject(s, b, 101, CLM_REJ_INVALID_JSON);
    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.nprog, 1);
    assert_int_equal(l.prog[0].partition, 1);
    assert_int_equal(l.prog[0].from, 101);
    assert_int_equal(l.prog[0].to, 102);
    assert_int_equal(l.prog[0].wm.max_ts, 8000);    /* rejects leave it */
    clm_shard_free(s);
}

static void test_note_reject(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 2, 5, 10, CLM_NO_TS, false);
    cut_log l;

    clm_shard_note_reject(s, slot, 10, CLM_REJ_INVALID_JSON);
    clm_shard_note_reject(s, slot, 11, CLM_REJ_INVALID_JSON);
    clm_shard_note_reject(s, slot, 12, CLM_REJ_TOO_LARGE);
    clm_shard_note_reject(s, slot, 13, CLM_REJ_LATE_DROPPED);
    clm_shard_note_reject(s, slot, 14, CLM_REJ_INVALID_JSON);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.st.consumed, 5);
    assert_int_equal(l.st.applied, 0);
    assert_int_equal(l.st.rejected[CLM_REJ_INVALID_JSON], 3);
    assert_int_equal(l.st.rejected[CLM_REJ_TOO_LARGE], 1);
    assert_int_equal(l.st.rejected[CLM_REJ_LATE_DROPPED], 1);
    assert_int_equal(l.st.rejected[CLM_REJ_BAD_TYPE], 0);
    assert_int_equal(l.prog[0].topic, 2);
    assert_int_equal(l.prog[0].from, 10);
    assert_int_equal(l.prog[0].to, 15);  /* 14 + 1 */
    assert_int_equal(l.prog[0].wm.max_ts, CLM_NO_TS);
    clm_shard_free(s);
}

static void test_coalescing(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *a = add_customer(s, "c-a", 0);
    clm_customer *b = add_customer(s, "c-b", 0);
    clm_customer *c = add_customer(s, "c-c", 0);
    clm_customer *idle = add_customer(s, "c-idle", 0);
    int64_t off = 0;
    cut_log l;

    (void)idle;
    /* a 100 times, b once, c twice (no event ids: no dedup): 103 offsets. */
    for (int i = 0; i < 100; i++)
        apply(s, slot, off++, a, NULL, 1000 + i, CLM_APPLIED);
    apply(s, slot, off++, b, NULL, 1000, CLM_APPLIED);
    apply(s, slot, off++, c, NULL, 1000, CLM_APPLIED);
    apply(s, slot, off++, c, NULL, 1001, CLM_APPLIED);
    assert_int_equal(clm_shard_dirty_count(s), 3);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ncust, 3);
    assert_int_equal(times_handed(&l, "c-a"), 1);
    assert_int_equal(times_handed(&l, "c-b"), 1);
    assert_int_equal(times_handed(&l, "c-c"), 1);
    assert_int_equal(times_handed(&l, "c-idle"), 0);
    assert_int_equal(l.prog[0].to, 103);
    assert_int_equal(l.st.applied, 103);
    assert_int_equal(a->events, 100);

    /* After the cut, touching b again makes it the only dirty one. */
    apply(s, slot, off++, b, NULL, 2000, CLM_APPLIED);
    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.ncust, 1);
    assert_string_equal(l.ids[0], "c-b");
    clm_shard_free(s);
}

static void test_cut_sink_failure(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *a = add_customer(s, "c-a", 0);
    cut_log l;
    clm_flush_sink sink = { log_customer, log_progress, log_stats, log_deltas, &l, log_forget,
                            log_freeze };

    apply(s, slot, 0, a, NULL, 1000, CLM_APPLIED);
    memset(&l, 0, sizeof(l));
    l.fail_customer_at = 0;
    assert_int_equal(clm_shard_flush_cut(s, 1, &sink), -EIO);
    assert_int_equal(l.nprog, 0);
    assert_int_equal(l.nstats, 0);
    assert_int_equal(l.ndeltas, 0);
    clm_shard_free(s);
}

static void test_eviction_after_ack(void **state)
{
    (void)state;
    clm_shard *s = shard(4);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *cs[4];
    char id[16];
    cut_log l;

    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        cs[i] = add_customer(s, id, 0);
        apply(s, slot, i, cs[i], NULL, 1000, CLM_APPLIED);
    }
    assert_int_equal(clm_shard_customer_count(s), 4);
    /* Full and every customer dirty. */
    assert_int_equal(clm_shard_make_room(s, 1), -ENOSPC);
    clm_customer *extra = clm_customer_new("c-x", 3, 0);
    assert_int_equal(clm_shard_insert(s, extra), -ENOSPC);
    /* Cut but not acknowledged: clean, yet Redis may not hold them. */
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ncust, 4);
    assert_int_equal(clm_shard_acked_gen(s), 0);
    assert_int_equal(clm_shard_make_room(s, 1), -ENOSPC);
    assert_int_equal(clm_shard_customer_count(s), 4);
    /* Acknowledged: room for 1 of max 4 evicts need 1 + 4 / 64 = 1. */
    clm_shard_flush_acked(s, 1);
    assert_int_equal(clm_shard_acked_gen(s), 1);
    assert_int_equal(clm_shard_make_room(s, 1), 0);
    assert_int_equal(clm_shard_customer_count(s), 3);
    assert_int_equal(clm_shard_insert(s, extra), 0);
    assert_int_equal(clm_shard_customer_count(s), 4);
    /* An older acknowledgement does not lower the mark. */
    clm_shard_flush_acked(s, 0);
    assert_int_equal(clm_shard_acked_gen(s), 1);
    /* More than max never fits. */
    assert_int_equal(clm_shard_make_room(s, 5), -ENOSPC);
    clm_shard_free(s);
}

static void test_eviction_spares_dirty(void **state)
{
    (void)state;
    clm_shard *s = shard(4);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    char id[16];
    cut_log l;

    /* c-0..c-2 applied, cut as gen 1 and acknowledged, then applied again
     * (dirty); c-3 freshly loaded (clean, never carried: evictable). */
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        apply(s, slot, i, add_customer(s, id, 0), NULL, 1000, CLM_APPLIED);
    }
    assert_int_equal(cut(s, 1, &l), 1);
    clm_shard_flush_acked(s, 1);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        apply(s, slot, 3 + i, clm_shard_customer(s, id, 3), NULL, 2000, CLM_APPLIED);
    }
    add_customer(s, "c-3", 0);
    assert_int_equal(clm_shard_make_room(s, 1), 0);
    assert_int_equal(clm_shard_customer_count(s), 3);
    assert_null(clm_shard_customer(s, "c-3", 3));
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        assert_non_null(clm_shard_customer(s, id, 3));
    }
    /* room for 2 needs one of the dirty ones: refused. */
    assert_int_equal(clm_shard_make_room(s, 2), -ENOSPC);
    assert_int_equal(clm_shard_customer_count(s), 3);
    /* room for 1 is there already: no eviction. */
    assert_int_equal(clm_shard_make_room(s, 1), 0);
    assert_int_equal(clm_shard_customer_count(s), 3);
    clm_shard_free(s);
}

static void test_make_room_all_evictable(void **state)
{
    (void)state;
    /* max 8, all 8 cut, acknowledged and referenced (applied): every one may
     * go, so room for 8 must be found (need 8 + 8 / 64 = 8 evictions). */
    clm_shard *s = shard(8);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    char id[16];
    cut_log l;

    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        apply(s, slot, i, add_customer(s, id, 0), NULL, 1000, CLM_APPLIED);
    }
    assert_int_equal(cut(s, 1, &l), 1);
    clm_shard_flush_acked(s, 1);
    assert_int_equal(clm_shard_make_room(s, 8), 0);
    assert_int_equal(clm_shard_customer_count(s), 0);
    clm_shard_free(s);
}

static void test_part_remove(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int t0p1 = clm_shard_part_add(s, 0, 1, 0, CLM_NO_TS, false);
    int t0p2 = clm_shard_part_add(s, 0, 2, 0, CLM_NO_TS, false);
    int t1p1 = clm_shard_part_add(s, 1, 1, 0, CLM_NO_TS, false);
    cut_log l;

    add_customer(s, "c-a", 1);
    add_customer(s, "c-b", 1);
    add_customer(s, "c-c", 2);
    /* Topic 1's partition 1 still owns number 1: nothing dropped. */
    assert_int_equal(clm_shard_part_remove(s, t0p1), 0);
    assert_int_equal(clm_shard_customer_count(s), 3);
    assert_non_null(clm_shard_customer(s, "c-a", 3));
    /* The last partition numbered 1 goes: c-a and c-b with it. */
    assert_int_equal(clm_shard_part_remove(s, t1p1), 2);
    assert_int_equal(clm_shard_customer_count(s), 1);
    assert_null(clm_shard_customer(s, "c-a", 3));
    assert_null(clm_shard_customer(s, "c-b", 3));
    assert_non_null(clm_shard_customer(s, "c-c", 3));
    assert_int_equal(clm_shard_part_count(s), 1);

    /* A dirty customer of a removed partition is not handed to a later cut. */
    int p3 = clm_shard_part_add(s, 0, 3, 0, CLM_NO_TS, false);
    clm_customer *d = add_customer(s, "c-d", 3);
    clm_customer *c = clm_shard_customer(s, "c-c", 3);
    apply(s, p3, 0, d, NULL, 1000, CLM_APPLIED);
    apply(s, t0p2, 0, c, NULL, 1000, CLM_APPLIED);
    assert_int_equal(clm_shard_dirty_count(s), 2);
    assert_int_equal(clm_shard_part_remove(s, p3), 1);
    assert_int_equal(clm_shard_dirty_count(s), 1);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ncust, 1);
    assert_string_equal(l.ids[0], "c-c");
    assert_int_equal(l.prog[0].partition, 2);
    clm_shard_free(s);
}

static void apply_ev(clm_shard *s, int slot, int64_t offset, const clm_event *ev, clm_customer *c,
                     int want)
{
    assert_int_equal(clm_shard_apply(s, slot, offset, ev, c), want);
}

static void test_lateness(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    int resumed = clm_shard_part_add(s, 0, 1, 0, at(10, 0), false);
    clm_customer *c = add_customer(s, "c-1", 0);
    clm_event ev;

    /* No event yet: no watermark, nothing is late. */
    assert_int_equal(clm_shard_watermark(s, slot), CLM_NO_TS);
    assert_false(clm_shard_is_late(s, slot, 0));
    /* Resumed with max_ts day 10 00:00 and 7 days of lateness: watermark
     * day 3 00:00; 1 ms before it is late, day 3 exactly is not. */
    assert_int_equal(clm_shard_watermark(s, resumed), at(3, 0));
    assert_true(clm_shard_is_late(s, resumed, at(3, 0) - 1));
    assert_false(clm_shard_is_late(s, resumed, at(3, 0)));

    /* The same from applied events: e-1 at day 10 00:00. */
    ev = make_event(c, "e-1", at(10, 0));
    apply_ev(s, slot, 0, &ev, c, CLM_APPLIED);
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 0));
    assert_true(clm_shard_is_late(s, slot, at(3, 0) - 1));
    assert_false(clm_shard_is_late(s, slot, at(3, 0)));
    /* An older event leaves it. */
    ev = make_event(c, "e-2", at(5, 0));
    apply_ev(s, slot, 1, &ev, c, CLM_APPLIED);
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 0));
    /* A duplicate dated day 20 does not raise it. */
    ev = make_event(c, "e-1", at(20, 0));
    apply_ev(s, slot, 2, &ev, c, CLM_DUPLICATE);
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 0));
    assert_false(clm_shard_is_late(s, slot, at(3, 0)));
    /* A later event does: day 12 -> watermark day 5. */
    ev = make_event(c, "e-3", at(12, 0));
    apply_ev(s, slot, 3, &ev, c, CLM_APPLIED);
    assert_int_equal(clm_shard_watermark(s, slot), at(5, 0));
    assert_true(clm_shard_is_late(s, slot, at(5, 0) - 1));
    assert_false(clm_shard_is_late(s, slot, at(5, 0)));
    clm_shard_free(s);
}

/* With events.max_jump_s 1 day and events.jump_quorum 3: an event far
 * ahead is applied but leaves the watermark; a duplicate of an event ahead
 * changes nothing; the third customer ahead moves max_ts to the earliest of
 * the three; the cut carries what waits. */
static void test_jump_quorum(void **state)
{
    (void)state;
    clm_shard_opts o = {
        .max_customers = 16,
        .allowed_lateness_ms = 7 * DAY_MS,
        .wm_rule = { .max_jump_ms = DAY_MS, .quorum = 3 },
        .apply = { .dedup_horizon_ms = 86400000, .dedup_max_ids = 16, .bucket_ms = DAY_MS,
                   .churn_inactive_ms = 90 * DAY_MS, .clv_min_tenure_ms = 30 * DAY_MS },
    };
    clm_shard *s = clm_shard_new(&o);
    assert_non_null(s);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *c = add_customer(s, "c-1", 0), *p = add_customer(s, "p", 0),
                 *q = add_customer(s, "q", 0), *r = add_customer(s, "r", 0);
    cut_log l;

    apply(s, slot, 0, c, "e-1", at(10, 0), CLM_APPLIED);
    apply(s, slot, 1, p, "p-1", at(2000, 0), CLM_APPLIED); /* about 5 years ahead */
    assert_int_equal(p->last_seen, at(2000, 0));
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 0));
    apply(s, slot, 2, c, "e-2", at(10, 12), CLM_APPLIED);   /* not late, moves it */
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 12));
    apply(s, slot, 3, q, "q-1", at(40, 0), CLM_APPLIED);
    apply(s, slot, 4, q, "q-1", at(50, 0), CLM_DUPLICATE);
    assert_int_equal(clm_shard_watermark(s, slot), at(3, 12));
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.prog[0].wm.max_ts, at(10, 12));
    assert_int_equal(l.prog[0].wm.nahead, 2);
    assert_int_equal(l.prog[0].wm.ahead[0].ts, at(2000, 0));
    assert_int_equal(l.prog[0].wm.ahead[1].ts, at(40, 0)); /* not the duplicate's day 50 */
    assert_int_equal(l.prog[0].wm.ahead[1].base, at(10, 12));

    apply(s, slot, 5, r, "r-1", at(41, 0), CLM_APPLIED);
    assert_int_equal(clm_shard_watermark(s, slot), at(33, 0)); /* q's day 40 - 7 */
    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.prog[0].wm.max_ts, at(40, 0));
    assert_int_equal(l.prog[0].wm.nahead, 0);

    /* A stored state the rule cannot reach is refused. */
    clm_wm bad = l.prog[0].wm;
    bad.nahead = 1;
    bad.ahead[0] = (clm_wm_ahead){ .source = 1, .ts = at(50, 0), .base = at(41, 0) };
    assert_int_equal(clm_shard_part_restore_wm(s, slot, &bad), -EINVAL);
    bad.ahead[0].base = at(39, 0);
    assert_int_equal(clm_shard_part_restore_wm(s, slot, &bad), 0);
    clm_shard_free(s);
}

static void test_number_watermark(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int a = clm_shard_part_add(s, 0, 0, 0, at(12, 0), false); /* watermark day 5 */
    int b = clm_shard_part_add(s, 0, 1, 0, at(10, 0), false); /* watermark day 3 */
    int t1 = clm_shard_part_add(s, 1, 0, 0, CLM_NO_TS, false); /* topic 1, number 0 */

    (void)a;
    (void)b;
    /* Topic 1's partition 0 has no event yet: it holds number 0 back. */
    assert_int_equal(clm_shard_number_watermark(s, 0), CLM_NO_TS);
    assert_int_equal(clm_shard_number_watermark(s, 1), at(3, 0));
    assert_int_equal(clm_shard_number_watermark(s, 7), CLM_NO_TS); /* not owned */
    /* An event at day 8 on it: watermark day 1, the lower of the two. */
    clm_event ev = make_event(NULL, NULL, at(8, 0));
    apply_ev(s, t1, 0, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_number_watermark(s, 0), at(1, 0));
    /* At day 20 it is day 13: now topic 0's day 5 is the lower. */
    ev = make_event(NULL, NULL, at(20, 0));
    apply_ev(s, t1, 1, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_number_watermark(s, 0), at(5, 0));
    clm_shard_free(s);
}

static void test_marketing_spend(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_event ev = typed_event(CLM_EV_MARKETING_SPEND, NULL, NULL, at(3, 10));
    cut_log l;

    /* 2.5 and 1 on day 3, 0.5 on day 4; no customer. */
    ev.has_amount = 1;
    ev.amount_micros = 2500000;
    apply_ev(s, slot, 0, &ev, NULL, CLM_APPLIED);
    ev.ts_ms = at(3, 18);
    ev.amount_micros = 1000000;
    apply_ev(s, slot, 1, &ev, NULL, CLM_APPLIED);
    ev.ts_ms = at(4, 9);
    ev.amount_micros = 500000;
    apply_ev(s, slot, 2, &ev, NULL, CLM_APPLIED);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ndeltas, 1);
    assert_int_equal(l.ndays, 2);
    assert_int_equal(cut_day(&l, D0 + 3, CLM_DAY(spend_micros)), 3500000); /* 2.5 + 1 */
    assert_int_equal(cut_day(&l, D0 + 4, CLM_DAY(spend_micros)), 500000);
    assert_int_equal(cut_day(&l, D0 + 3, CLM_DAY(active_customers)), 0); /* nobody */
    assert_int_equal(cut_day(&l, D0 + 3, CLM_DAY(orders)), 0);
    assert_int_equal(l.st.applied, 3);
    assert_int_equal(l.ncust, 0);
    clm_shard_free(s);
}

/* Customer-less events with an event_id are deduplicated per partition, and
 * the ids travel with the progress so a restarted shard still knows them. */
static void test_marketing_spend_dedup(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    int other = clm_shard_part_add(s, 0, 1, 0, CLM_NO_TS, false);
    clm_event m1 = typed_event(CLM_EV_MARKETING_SPEND, NULL, "m-1", at(3, 10));
    clm_event m2 = typed_event(CLM_EV_MARKETING_SPEND, NULL, "m-2", at(3, 11));
    cut_log l;

    m1.has_amount = m2.has_amount = 1;
    m1.amount_micros = 2500000;
    m2.amount_micros = 1000000;
    apply_ev(s, slot, 0, &m1, NULL, CLM_APPLIED);
    apply_ev(s, slot, 1, &m1, NULL, CLM_DUPLICATE); /* a producer's retry */
    apply_ev(s, slot, 2, &m2, NULL, CLM_APPLIED);
    apply_ev(s, other, 0, &m1, NULL, CLM_APPLIED); /* another partition's own set */
    assert_int_equal(cut(s, 1, &l), 2);
    assert_int_equal(cut_day(&l, D0 + 3, CLM_DAY(spend_micros)), 6000000); /* 2.5 + 1 + 2.5 */
    assert_int_equal(l.st.applied, 3);
    assert_int_equal(l.st.duplicates, 1);
    assert_int_equal(l.st.consumed, 4);
    const clm_part_progress *pp = l.prog[0].partition == 0 ? &l.prog[0] : &l.prog[1];
    assert_int_equal(pp->to, 3);
    assert_int_equal(pp->anon.n, 2);
    assert_int_equal(pp->anon.e[0].ts_ms, at(3, 10));
    clm_anon_ids kept = pp->anon;
    clm_shard_free(s);

    /* A restart resumes at offset 3 with the stored ids: m-1 is still a
     * duplicate, m-3 is new. */
    s = shard(16);
    slot = clm_shard_part_add(s, 0, 0, 3, at(3, 11), false);
    assert_int_equal(clm_shard_part_set_anon(s, slot, &kept), 0);
    m1.ts_ms = at(3, 12);
    apply_ev(s, slot, 3, &m1, NULL, CLM_DUPLICATE);
    clm_event m3 = typed_event(CLM_EV_MARKETING_SPEND, NULL, "m-3", at(3, 13));
    m3.has_amount = 1;
    m3.amount_micros = 4000000;
    apply_ev(s, slot, 4, &m3, NULL, CLM_APPLIED);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(cut_day(&l, D0 + 3, CLM_DAY(spend_micros)), 4000000);
    assert_int_equal(l.st.duplicates, 1);
    assert_int_equal(l.prog[0].anon.n, 3);

    /* Ids older than the horizon (1 day) of the partition's max_ts go once
     * another id arrives: m-1 (day 3) is then applied again. */
    clm_event late = typed_event(CLM_EV_MARKETING_SPEND, NULL, "m-4", at(5, 0));
    apply_ev(s, slot, 5, &late, NULL, CLM_APPLIED);
    m1.ts_ms = at(5, 1);
    apply_ev(s, slot, 6, &m1, NULL, CLM_APPLIED);
    assert_int_equal(cut(s, 2, &l), 1);
    assert_int_equal(l.prog[0].anon.n, 2); /* m-4, m-1 */

    /* Out of order or too many stored ids are refused. */
    clm_anon_ids bad = { .n = 2, .e = { { 1, at(3, 0) }, { 2, at(2, 0) } } };
    assert_int_equal(clm_shard_part_set_anon(s, slot, &bad), -EINVAL);
    bad.n = CLM_ANON_IDS_MAX + 1;
    assert_int_equal(clm_shard_part_set_anon(s, slot, &bad), -EINVAL);
    clm_shard_free(s);
}

static void test_deltas_cut(void **state)
{
    (void)state;
    clm_stages *m = NULL;
    char err[256];
    cut_log l;

    assert_int_equal(clm_stages_new(&DEFAULT_MODEL, &m, err, sizeof(err)), 0);
    clm_shard *s = shard_with(16, m);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *c1 = add_customer(s, "c-1", 0);
    clm_customer *c2 = add_customer(s, "c-2", 0);
    clm_event ev = typed_event(CLM_EV_PURCHASE, c1, NULL, at(0, 10));

    /* c-1 buys for 10, c-2 visits, both on day 0. */
    ev.has_amount = 1;
    ev.amount_micros = 10000000;
    apply_ev(s, slot, 0, &ev, c1, CLM_APPLIED);
    ev = make_event(c2, NULL, at(0, 11));
    apply_ev(s, slot, 1, &ev, c2, CLM_APPLIED);
    assert_int_equal(cut(s, 1, &l), 1);
    assert_int_equal(l.ndeltas, 1);
    assert_int_equal(l.ndays, 1);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(orders)), 1);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(revenue_micros)), 10000000);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(new_customers)), 1);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(customers_delta)), 1);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(active_customers)), 2);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(last_active)), 1); /* c-1 only */
    assert_int_equal(l.ntrans, 2);
    assert_int_equal(cut_trans(&l, D0, CLM_STAGE_NONE, CONVERSION), 1);
    assert_int_equal(cut_trans(&l, D0, CLM_STAGE_NONE, AWARENESS), 1);
    assert_int_equal(l.stage_count[CONVERSION], 1);
    assert_int_equal(l.stage_count[AWARENESS], 1);
    /* 10000000 * 365 / 30 = 121666666.67 -> 121666666 */
    assert_int_equal(l.value_rate_micros, 121666666);

    /* Handed once: a cut with nothing new has no deltas to hand. */
    assert_int_equal(cut(s, 2, &l), 0);
    assert_int_equal(l.ndeltas, 0);

    /* And they start from zero again: c-2 visits on day 1. */
    ev = make_event(c2, NULL, at(1, 9));
    apply_ev(s, slot, 2, &ev, c2, CLM_APPLIED);
    assert_int_equal(cut(s, 3, &l), 1);
    assert_int_equal(l.ndeltas, 1);
    assert_int_equal(l.ndays, 1);
    assert_int_equal(cut_day(&l, D0 + 1, CLM_DAY(active_customers)), 1);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(orders)), 0);
    assert_int_equal(l.ntrans, 0);
    assert_int_equal(l.stage_count[CONVERSION], 0);
    assert_int_equal(l.stage_count[AWARENESS], 0);
    assert_int_equal(l.value_rate_micros, 0);
    clm_shard_free(s);
    clm_stages_free(m);
}

static void test_expire(void **state)
{
    (void)state;
    clm_stages *m = NULL;
    char err[256];
    cut_log l;

    assert_int_equal(clm_stages_new(&DEFAULT_MODEL, &m, err, sizeof(err)), 0);
    clm_shard *s = shard_with(16, m);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    int other = clm_shard_part_add(s, 1, 0, 0, CLM_NO_TS, false); /* topic 1, number 0 */
    clm_customer *c = add_customer(s, "c-1", 0);
    clm_customer *clean = add_customer(s, "c-2", 0);
    int64_t off = 0;
    clm_event ev;

    /* c-2 buys on day 0 12:00 and is cut and acknowledged (clean, in
     * Redis); c-1 buys at the same time and stays dirty. Both deadlines: day
     * 90 12:00. (A cut not yet acknowledged is checked like a dirty one.) */
    ev = typed_event(CLM_EV_PURCHASE, clean, NULL, at(0, 12));
    apply_ev(s, slot, off++, &ev, clean, CLM_APPLIED);
    assert_int_equal(cut(s, 1, &l), 1);
    clm_shard_flush_acked(s, 1);
    ev = typed_event(CLM_EV_PURCHASE, c, NULL, at(0, 12));
    apply_ev(s, slot, off++, &ev, c, CLM_APPLIED);
    assert_int_equal(clm_shard_dirty_count(s), 1);

    /* Topic 0 at day 97 12:00 (watermark day 90 12:00), but topic 1's
     * partition 0 has no event: number 0 is held back, nothing is due. */
    ev = make_event(NULL, NULL, at(97, 12));
    apply_ev(s, slot, off++, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_expire_cached(s), 0);
    /* Topic 1 reaches 1 ms short (watermark day 90 12:00 - 1 ms). */
    ev = make_event(NULL, NULL, at(97, 12) - 1);
    apply_ev(s, other, 0, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_expire_cached(s), 0);
    assert_int_equal(c->stage, CONVERSION);
    /* And the deadline itself: c-1 (dirty) churns; c-2 (clean) is the
     * caller's to pass to expire_one. */
    ev = make_event(NULL, NULL, at(97, 12));
    apply_ev(s, other, 1, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_expire_cached(s), 1);
    assert_int_equal(c->stage, CHURNED);
    assert_int_equal(c->stage_since, at(90, 12));
    assert_int_equal(clean->stage, CONVERSION);
    assert_int_equal(clm_shard_expire_cached(s), 0); /* already churned */
    assert_int_equal(clm_shard_dirty_count(s), 1);
    assert_int_equal(clm_shard_expire_one(s, clean), 1);
    assert_int_equal(clean->stage, CHURNED);
    assert_int_equal(clm_shard_dirty_count(s), 2); /* c-2 is dirty now */
    assert_int_equal(clm_shard_expire_one(s, clean), 0);

    /* The cut hands both, and the churns on the deadline's day 90: 2 churned,
     * -2 customers; c-1's +1 on day 0 was not cut before. */
    assert_int_equal(cut(s, 2, &l), 2);
    assert_int_equal(l.ncust, 2);
    assert_int_equal(times_handed(&l, "c-1"), 1);
    assert_int_equal(times_handed(&l, "c-2"), 1);
    assert_int_equal(cut_day(&l, D0 + 90, CLM_DAY(churned)), 2);
    assert_int_equal(cut_day(&l, D0 + 90, CLM_DAY(customers_delta)), -2);
    assert_int_equal(cut_day(&l, D0, CLM_DAY(customers_delta)), 1);
    assert_int_equal(cut_trans(&l, D0 + 90, CONVERSION, CHURNED), 2);
    assert_int_equal(l.stage_count[CHURNED], 2);
    /* c-1 entered conversion in this cut: 1 - 2 = -1. */
    assert_int_equal(l.stage_count[CONVERSION], -1);
    /* Expiring a clean customer that is not due leaves it clean. */
    assert_int_equal(clm_shard_expire_one(s, c), 0);
    assert_int_equal(clm_shard_dirty_count(s), 0);
    clm_shard_free(s);
    clm_stages_free(m);
}

static void test_expire_without_stages(void **state)
{
    (void)state;
    clm_shard *s = shard(16);
    int slot = clm_shard_part_add(s, 0, 0, 0, CLM_NO_TS, false);
    clm_customer *c = add_customer(s, "c-1", 0);
    clm_event ev = typed_event(CLM_EV_PURCHASE, c, NULL, at(0, 12));

    /* Without a stage model there is no churn stage: nothing expires. */
    ev.has_amount = 1;
    ev.amount_micros = 1000000;
    apply_ev(s, slot, 0, &ev, c, CLM_APPLIED);
    ev = make_event(NULL, NULL, at(500, 0));
    apply_ev(s, slot, 1, &ev, NULL, CLM_APPLIED);
    assert_int_equal(clm_shard_expire_cached(s), 0);
    assert_int_equal(clm_shard_expire_one(s, c), 0);
    assert_int_equal(c->stage, CLM_STAGE_NONE);
    clm_shard_free(s);
}

/* A fresh partition stays fresh until the shard first evicts; an evicted
 * customer may be in Redis, so every partition stops being fresh then. */
static void test_fresh_until_eviction(void **state)
{
    (void)state;
    clm_shard *s = shard(4);
    int a = clm_shard_part_add(s, 0, 0, CLM_NO_OFFSET, CLM_NO_TS, true);
    int b = clm_shard_part_add(s, 0, 1, 17, CLM_NO_TS, false);
    cut_log l;

    assert_true(clm_shard_part_fresh(s, a));
    assert_false(clm_shard_part_fresh(s, b));
    /* 4 customers fill the cache (max 4); cut and acknowledge them so they
     * may be evicted; asking room for 1 more evicts: no longer fresh. */
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c-%d", i);
        add_customer(s, id, 0);
    }
    assert_int_equal(clm_shard_make_room(s, 0), 0);
    assert_true(clm_shard_part_fresh(s, a));
    memset(&l, 0, sizeof(l));
    cut(s, 1, &l);
    clm_shard_flush_acked(s, 1);
    assert_int_equal(clm_shard_make_room(s, 1), 0);
    assert_false(clm_shard_part_fresh(s, a));
    clm_shard_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_apply_and_cut),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_note_reject),
        cmocka_unit_test(test_coalescing),
        cmocka_unit_test(test_cut_sink_failure),
        cmocka_unit_test(test_eviction_after_ack),
        cmocka_unit_test(test_eviction_spares_dirty),
        cmocka_unit_test(test_make_room_all_evictable),
        cmocka_unit_test(test_part_remove),
        cmocka_unit_test(test_lateness),
        cmocka_unit_test(test_jump_quorum),
        cmocka_unit_test(test_number_watermark),
        cmocka_unit_test(test_marketing_spend),
        cmocka_unit_test(test_marketing_spend_dedup),
        cmocka_unit_test(test_deltas_cut),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_fresh_until_eviction),
        cmocka_unit_test(test_expire_without_stages),
        cmocka_unit_test(test_cut_per_partition),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_identity_steps),
    };
    return cmocka_run_group_tests_name("shard", tests, NULL, NULL);
}
