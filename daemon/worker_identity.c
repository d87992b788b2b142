/* daemon/worker_identity.c - a worker's part of the identity merge
 * (README.md, "Identity merge"): the alias tables of its partition numbers,
 * the messages it sends through identity.topic, and those it reads there.
 *
 * Every message it sends goes through the partition's outbox
 * (<prefix>identity:outbox:{g:p}): written by the flush that consumed what
 * caused it, with that flush's offsets, produced once Redis acknowledged
 * the flush, and deleted by a later flush once Kafka acknowledged it. A
 * crash anywhere replays the step or delivers a message twice; receivers
 * drop what they already did (an alias already there, a merge record id in
 * the known customer's duplicate set, a forwarded event's id). Steps:
 *   identify (known K, anonymous A) read on K's partition: applied to K as
 *     an event, and a merge request keyed A is sent;
 *   request read by A's owner: A is frozen (dropped, its stored state
 *     removed by the flush), the alias A -> K recorded in the partition's
 *     alias hash, and the merge record (A's state) sent keyed K; a request
 *     for an A aliased already is dropped (the first identify wins);
 *   record read by K's owner: merged into K (clm_shard_merge);
 *   an event of an aliased id: forwarded, re-keyed to the alias's end, with
 *     its event id;
 *   a record or forwarded event for an id that is an alias where it
 *     arrives (a merge into an id merged on since): sent on to that alias's
 *     end.
 * A forget request of an id drops the aliases from it and to it that its
 * partition holds.
 *
 * Threads: the worker's own, but the delivery reports (librdkafka's
 * thread), which only set a row's atomic state.
 */
#include "daemon/worker_identity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/merge.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/worker_ident_impl.h"
#include "store/identity_msg.h"
#include "store/merge_record.h"

/* ---- the steps -------------------------------------------------------------- */

/* The cached (or loaded) customer `id` of partition number `number`. */
static clm_customer *load_one(clm_worker *w, const char *id, size_t len, int32_t number)
{
    clm_customer *c = clm_shard_customer(w->shard, id, len);
    if (c)
        return c;
    uint16_t part = (uint16_t)number;
    worker_make_room(w, 1);
    worker_load(w, 1, &id, &len, &part, &c);
    worker_insert_loaded(w, 1, &c);
    return clm_shard_customer(w->shard, id, len);
}

/* The end of id's alias chain in partition number `number`, or NULL. */
static const char *resolve(clm_worker *w, int32_t number, const char *id, size_t len,
                           size_t *out_len)
{
    ident_part *p = ident_part_of(w->ident, number);
    return p ? clm_alias_lookup(p->alias, id, len, out_len) : NULL;
}

bool worker_ident_aliased(clm_worker *w, int32_t number, const char *id, size_t len)
{
    return resolve(w, number, id, len, NULL) != NULL;
}

static void send_request(clm_worker *w, int32_t number, const clm_event *ev, const char *known,
                         size_t known_len)
{
    if (known_len == ev->anonymous_id_len && memcmp(known, ev->anonymous_id, known_len) == 0)
        return; /* identify of an alias's own end: nothing to merge */
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_request(&x->buf, ev->ts_ms, known, known_len, ev->anonymous_id,
                          ev->anonymous_id_len, ev->event_id, ev->event_id_len) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    uint64_t id = clm_merge_record_id(w->c.group, strlen(w->c.group), ev->anonymous_id,
                                      ev->anonymous_id_len, known, known_len, ev->event_id,
                                      ev->event_id_len);
    char field[48];
    snprintf(field, sizeof(field), "q:%016" PRIx64, id);
    ident_send_msg(w, number, field, ev->anonymous_id, ev->anonymous_id_len, x->buf.p, x->buf.len);
}

static void send_forward(clm_worker *w, int32_t number, const char *field, int64_t ref_ms,
                         const char *known, size_t known_len, const char *anon, size_t anon_len,
                         const char *json, size_t json_len)
{
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_forward(&x->buf, ref_ms, known, known_len, anon, anon_len, json, json_len) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    ident_send_msg(w, number, field, known, known_len, x->buf.p, x->buf.len);
}

bool worker_ident_event(clm_worker *w, int slot, int topic, const rd_kafka_message_t *m,
                        const clm_event *ev)
{
    int32_t number = m->partition;
    size_t tlen;
    const char *target = resolve(w, number, ev->customer_id, ev->customer_id_len, &tlen);
    if (target) {
        char field[48];
        rd_kafka_timestamp_type_t tstype;
        int64_t ref = rd_kafka_message_timestamp(m, &tstype);
        snprintf(field, sizeof(field), "f:%d:%d:%" PRId64, topic, (int)number, m->offset);
        send_forward(w, number, field, ref < 0 ? clm_wall_ms() : ref, target, tlen,
                     ev->customer_id, ev->customer_id_len, m->payload, m->len);
        clm_shard_note_forwarded(w->shard, slot, m->offset, ev);
        return true;
    }
    if (ev->type == CLM_EV_IDENTIFY)
        send_request(w, number, ev, ev->customer_id, ev->customer_id_len);
    return false;
}

typedef struct forget_ctx {
    clm_worker *w;
    int32_t number;
    int64_t offset; /* of the message that caused it (names the releases sent) */
    const char *id;
    size_t len;
    int kind; /* ROW_ALIAS_DEL or ROW_MERGED_DEL */
} forget_ctx;

static bool id_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Alias table: the rows of the alias `id` and of those whose target is
 * `id` go. */
static int forget_row(void *arg, const char *alias, size_t alias_len, const char *target,
                      size_t target_len, int64_t at_ms)
{
    forget_ctx *c = arg;
    (void)at_ms;
    if (id_eq(alias, alias_len, c->id, c->len) || id_eq(target, target_len, c->id, c->len))
        ident_add_row(c->w, c->number, ROW_ALIAS_DEL, alias, alias_len, NULL, 0);
    return 0;
}

/* Merged table: every anonymous id merged into `id` gets an alias release
 * (its owner drops the alias), and the row goes. */
static int release_row(void *arg, const char *alias, size_t alias_len, const char *target,
                       size_t target_len, int64_t at_ms)
{
    forget_ctx *c = arg;
    if (!id_eq(target, target_len, c->id, c->len) && !id_eq(alias, alias_len, c->id, c->len))
        return 0;
    ident_add_row(c->w, c->number, ROW_MERGED_DEL, alias, alias_len, NULL, 0);
    if (!id_eq(target, target_len, c->id, c->len))
        return 0;
    worker_ident *x = c->w->ident;
    x->buf.len = 0;
    if (clm_idmsg_unalias(&x->buf, at_ms, target, target_len, alias, alias_len) < 0)
        clm_fatal("worker %d: out of memory", c->w->c.index);
    char field[64];
    snprintf(field, sizeof(field), "u:%d:%" PRId64 ":%016" PRIx64, (int)c->number, c->offset,
             ident_id_hash(alias, alias_len));
    ident_send_msg(c->w, c->number, field, alias, alias_len, x->buf.p, x->buf.len);
    return 0;
}

/* Drops what partition number `number` holds of `id`: its alias, the
 * aliases to it, and the merges into it (releasing their aliases where
 * they are held). */
static void drop_id(clm_worker *w, int32_t number, int64_t offset, const char *id, size_t len)
{
    ident_part *p = ident_part_of(w->ident, number);
    if (!p)
        return;
    forget_ctx c = { w, number, offset, id, len, ROW_ALIAS_DEL };
    clm_alias_each(p->alias, forget_row, &c);
    clm_alias_remove(p->alias, id, len);
    clm_alias_each(p->merged, release_row, &c);
    clm_alias_remove(p->merged, id, len);
}

void worker_ident_forget(clm_worker *w, int32_t number, int64_t offset, const char *id,
                         size_t len)
{
    drop_id(w, number, offset, id, len);
}

/* An alias release read by the anonymous id's owner: the known id it was
 * merged into was erased. */
static void on_unalias(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    ident_part *p = ident_part_of(w->ident, m->partition);
    int64_t at;
    const char *had = clm_alias_target(p->alias, q->anon, q->anon_len, &at);
    if (had && strcmp(had, q->known) == 0)
        drop_id(w, m->partition, m->offset, q->anon, q->anon_len);
    clm_shard_note_done(w->shard, slot, m->offset);
}

/* A merge request read by the anonymous id's owner. */
static void on_request(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    ident_part *p = ident_part_of(w->ident, number);
    int64_t at;
    const char *had = clm_alias_target(p->alias, q->anon, q->anon_len, &at);
    if (had) {
        if (strcmp(had, q->known) != 0)
            log_info("worker %d: %s is merged into %s already: identify %s into %s ignored",
                     w->c.index, q->anon, had, q->anon, q->known);
        clm_shard_note_done(w->shard, slot, m->offset); /* a redelivery, or a later identify */
        return;
    }
    size_t end_len;
    const char *end = clm_alias_lookup(p->alias, q->known, q->known_len, &end_len);
    if ((end && end_len == q->anon_len && memcmp(end, q->anon, end_len) == 0)) {
        log_info("worker %d: %s resolves to %s: identify %s into %s would close a cycle; ignored",
                 w->c.index, q->known, q->anon, q->anon, q->known);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    if (!clm_shard_forget_ready(w->shard, q->anon, q->anon_len)) {
        worker_cut(w); /* the anonymous customer's changes commit before it is frozen */
        worker_wait_acked(w, w->gen);
    }
    clm_customer *anon = load_one(w, q->anon, q->anon_len, number);
    if (!anon)
        clm_fatal("worker %d: cannot load %s", w->c.index, q->anon);
    uint64_t id = clm_merge_record_id(w->c.group, strlen(w->c.group), q->anon, q->anon_len,
                                      q->known, q->known_len, q->event_id, q->event_id_len);
    worker_ident *x = w->ident;
    x->buf.len = 0;
    if (clm_idmsg_record(&x->buf) < 0 ||
        clm_merge_record_encode(&x->buf, id, q->ts, q->known, q->known_len, q->event_id,
                                q->event_id_len, anon) < 0)
        clm_fatal("worker %d: out of memory", w->c.index);
    int r = clm_alias_add(p->alias, q->anon, q->anon_len, q->known, q->known_len, q->ts);
    if (r < 0)
        clm_fatal("worker %d: cannot record the alias %s -> %s: %s", w->c.index, q->anon,
                  q->known, strerror(-r));
    ident_alias_row(w, number, q->anon, q->anon_len, q->known, q->known_len, q->ts);
    char field[48];
    snprintf(field, sizeof(field), "r:%016" PRIx64, id);
    ident_send_msg(w, number, field, q->known, q->known_len, x->buf.p, x->buf.len);
    r = clm_shard_freeze(w->shard, slot, m->offset, number, q->anon, q->anon_len);
    if (r < 0)
        clm_fatal("worker %d: cannot freeze %s: %s", w->c.index, q->anon, strerror(-r));
    clm_alerting_forget(w->alerting, number, q->anon, q->anon_len);
}

/* A merge record read by the known id's owner. */
static void on_record(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    clm_merge_record mr;
    char err[256];
    clm_merge_record_init(&mr);
    int r = clm_merge_record_decode(&mr, q->body, q->body_len, err, sizeof(err));
    if (r == -ENOMEM)
        clm_fatal("worker %d: out of memory", w->c.index);
    if (r < 0) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": dropped: %s", w->c.index,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, err);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    size_t end_len;
    const char *end = resolve(w, number, mr.known, mr.known_len, &end_len);
    if (end) {
        /* the known id was merged on since: the record goes to its end */
        worker_ident *x = w->ident;
        x->buf.len = 0;
        if (end_len == mr.anon->id_len && memcmp(end, mr.anon->id, end_len) == 0) {
            clm_shard_note_done(w->shard, slot, m->offset);
        } else {
            if (clm_idmsg_record(&x->buf) < 0 ||
                clm_merge_record_encode(&x->buf, mr.id, mr.merge_ts, end, end_len, mr.event_id,
                                        mr.event_id_len, mr.anon) < 0)
                clm_fatal("worker %d: out of memory", w->c.index);
            char field[48];
            snprintf(field, sizeof(field), "r:%016" PRIx64 ":%d:%" PRId64, mr.id, (int)number,
                     m->offset); /* another message than the one read: its own id */
            ident_send_msg(w, number, field, end, end_len, x->buf.p, x->buf.len);
            clm_shard_note_done(w->shard, slot, m->offset);
        }
        clm_merge_record_release(&mr);
        return;
    }
    clm_customer *known = load_one(w, mr.known, mr.known_len, number);
    if (!known)
        clm_fatal("worker %d: cannot load %s", w->c.index, mr.known);
    r = clm_shard_merge(w->shard, slot, m->offset, known, mr.anon, mr.id, mr.merge_ts);
    if (r == -ENOMEM)
        clm_fatal("worker %d: out of memory merging %s into %s", w->c.index, mr.anon->id, mr.known);
    ident_part *p = ident_part_of(w->ident, number);
    if (r == CLM_APPLIED && p &&
        clm_alias_add(p->merged, mr.anon->id, mr.anon->id_len, mr.known, mr.known_len,
                      mr.merge_ts) >= 0) {
        char v[24 + CLM_ID_MAX + 1];
        int n = snprintf(v, sizeof(v), "%" PRId64 " %s", mr.merge_ts, mr.known);
        ident_add_row(w, number, ROW_MERGED_SET, mr.anon->id, mr.anon->id_len, v, (size_t)n);
    }
    if (r < 0) {
        log_err("worker %d: merge record %016" PRIx64 " of %s into %s: not applied (%s)",
                w->c.index, mr.id, mr.anon->id, mr.known, strerror(-r));
        clm_shard_note_done(w->shard, slot, m->offset);
    }
    clm_merge_record_release(&mr);
}

/* An event forwarded to the known id's owner. */
static void on_forward(clm_worker *w, int slot, const rd_kafka_message_t *m, const clm_idmsg *q)
{
    int32_t number = m->partition;
    clm_event ev;
    clm_reject rej;
    rej.detail[0] = '\0';
    clm_msg_meta meta = { .key = q->anon, .key_len = q->anon_len, .ref_ms = q->ts };
    if (clm_decode_fast((const char *)q->body, q->body_len, &meta, &w->c.decode, &ev, &rej) != 0 ||
        !ev.has_customer) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": a forwarded event does not decode: %s",
                w->c.index, rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                rej.detail);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    size_t end_len;
    const char *end = resolve(w, number, q->known, q->known_len, &end_len);
    if (end) {
        char field[48];
        snprintf(field, sizeof(field), "f:%d:%d:%" PRId64, w->c.identity_topic, (int)number,
                 m->offset);
        if (!(end_len == q->anon_len && memcmp(end, q->anon, end_len) == 0))
            send_forward(w, number, field, q->ts, end, end_len, q->anon, q->anon_len,
                         (const char *)q->body, q->body_len);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    memcpy(ev.customer_id, q->known, q->known_len + 1);
    ev.customer_id_len = q->known_len;
    if (ev.type == CLM_EV_FORGET) { /* never forwarded; kept for safety */
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    if (ev.type == CLM_EV_IDENTIFY)
        send_request(w, number, &ev, q->known, q->known_len);
    clm_customer *c = load_one(w, q->known, q->known_len, number);
    if (!c)
        clm_fatal("worker %d: cannot load %s", w->c.index, q->known);
    if (clm_shard_apply_forwarded(w->shard, slot, m->offset, &ev, c) < 0)
        clm_fatal("worker %d: out of memory applying a forwarded event", w->c.index);
}

/* The hash of a message's id (header clm.id), or 0 when it has none. */
static uint64_t message_id(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, ID_HEADER, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return 0;
    return ident_id_hash(v, n);
}


void worker_ident_message(clm_worker *w, int slot, const rd_kafka_message_t *m)
{
    clm_idmsg q;
    char err[256];
    ident_part *p = ident_part_of(w->ident, m->partition);
    uint64_t mid = message_id(m);
    ident_prune_seen(w);
    if (mid && p && ident_seen_has(&p->seen, mid)) {
        clm_shard_note_done(w->shard, slot, m->offset); /* produced twice: done already */
        return;
    }
    if (mid && p) {
        int64_t now = clm_wall_ms();
        char f[24], v[24];
        int fn = snprintf(f, sizeof(f), "%016" PRIx64, mid);
        int vn = snprintf(v, sizeof(v), "%" PRId64, now);
        if (ident_seen_put(&p->seen, mid, now) < 0)
            clm_fatal("worker %d: out of memory", w->c.index);
        ident_add_row(w, m->partition, ROW_SEEN_SET, f, (size_t)fn, v, (size_t)vn);
    }
    if (clm_idmsg_decode(&q, m->payload, m->len, err, sizeof(err)) < 0) {
        log_err("worker %d: %s [%d] offset %" PRId64 ": dropped: %s", w->c.index,
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, err);
        clm_shard_note_done(w->shard, slot, m->offset);
        return;
    }
    switch (q.kind) {
    case CLM_IDMSG_REQUEST:
        on_request(w, slot, m, &q);
        break;
    case CLM_IDMSG_RECORD:
        on_record(w, slot, m, &q);
        break;
    case CLM_IDMSG_UNALIAS:
        on_unalias(w, slot, m, &q);
        break;
    default:
        on_forward(w, slot, m, &q);
        break;
    }
}
