/* daemon/segment_notify.c - segment_entered and segment_left alerts of the
 * segment job (daemon/segment_job.h).
 *
 * An alert is made durable by the pass that writes the membership change:
 * appended to <prefix>alerts and stored in <prefix>alerts:outbox in the
 * same transaction (on one server), then handed to the alert publisher,
 * which delivers it to alerts.topic keyed by the customer id and removes it
 * from the outbox, as it does for churn alerts.
 *
 * alert_id: 32 hex digits of XXH3-128 over
 *   kind \0 customer_id \0 segment \0 pass time (epoch ms, decimal)
 * Document (keys in this order): alert_id, kind, customer_id, segment,
 * event_ts (the pass's event time), emitted_at; times RFC 3339 UTC with
 * milliseconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "core/timeutil.h"
#include "daemon/segment_job_impl.h"

static void alert_id(const char *kind, const char *customer, const char *segment, int64_t now_ms,
                     char id[CLM_ALERT_ID_LEN + 1])
{
    char buf[64 + CLM_ID_MAX + CLM_SEG_NAME_MAX];
    size_t off = 0, kl = strlen(kind) + 1, cl = strnlen(customer, CLM_ID_MAX),
           sl = strnlen(segment, CLM_SEG_NAME_MAX);
    memcpy(buf + off, kind, kl);
    off += kl;
    memcpy(buf + off, customer, cl);
    off += cl;
    buf[off++] = '\0';
    memcpy(buf + off, segment, sl);
    off += sl;
    buf[off++] = '\0';
    off += (size_t)snprintf(buf + off, sizeof buf - off, "%" PRId64, now_ms);
    XXH128_hash_t h = XXH3_128bits(buf, off);
    snprintf(id, CLM_ALERT_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64,
             (uint64_t)h.low64);
}

static int add_note(seg_notes *ns, const char *kind, const char *customer, const char *segment,
                    int64_t now_ms)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        seg_note *v = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    seg_note *n = &ns->v[ns->n];
    char ts[32], emitted[32];
    n->kind = kind;
    alert_id(kind, customer, segment, now_ms, n->id);
    clm_ts_format(now_ms, ts);
    clm_ts_format(clm_wall_ms(), emitted);
    json_t *doc = json_object();
    if (!doc)
        return -ENOMEM;
    bool ok = json_object_set_new(doc, "alert_id", json_string(n->id)) == 0 &&
              json_object_set_new(doc, "kind", json_string(kind)) == 0 &&
              json_object_set_new(doc, "customer_id", json_string(customer)) == 0 &&
              json_object_set_new(doc, "segment", json_string(segment)) == 0 &&
              json_object_set_new(doc, "event_ts", json_string(ts)) == 0 &&
              json_object_set_new(doc, "emitted_at", json_string(emitted)) == 0;
    n->json = ok ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    n->customer = strdup(customer);
    if (!n->json || !n->customer) {
        free(n->json);
        free(n->customer);
        return -ENOMEM;
    }
    ns->n++;
    return 0;
}

static bool written_before(const clm_segment_job *j, const char *name)
{
    for (size_t i = 0; i < j->nnames; i++)
        if (strcmp(j->names[i], name) == 0)
            return true;
    return false;
}

int segment_notes_queue(clm_segment_job *j, seg_pass *p, clm_rpipe *rp, const seg_diff *d,
                        size_t nseg, seg_notes *out, size_t *queued)
{
    const clm_config *cfg = p->cfg;
    char stream[CLM_KEY_MAX], outbox[CLM_KEY_MAX], maxlen[24];
    size_t first = out->n;
    int r;

    clm_key_single(stream, sizeof stream, cfg->redis_prefix, CLM_KEY_ALERTS);
    clm_key_single(outbox, sizeof outbox, cfg->redis_prefix, CLM_KEY_OUTBOX);
    snprintf(maxlen, sizeof maxlen, "%" PRId64, cfg->alerts_stream_maxlen);
    for (size_t s = 0; s < nseg; s++) {
        const char *name = clm_segments_name(cfg->segments, s);
        if (!clm_segments_notify(cfg->segments, s))
            continue;
        bool entries = d[s].old->elements > 0 || written_before(j, name);
        /* add: ZADD key (now id)...; rem: ZREM key id... */
        for (size_t k = 3; entries && k < d[s].add.n; k += 2)
            if ((r = add_note(out, "segment_entered", d[s].add.v[k], name, p->now_ms)) < 0)
                return r;
        for (size_t k = 2; k < d[s].rem.n; k++)
            if ((r = add_note(out, "segment_left", d[s].rem.v[k], name, p->now_ms)) < 0)
                return r;
    }
    for (size_t i = first; i < out->n; i++) {
        const seg_note *n = &out->v[i];
        const char *xadd[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "alert_id", n->id,
                              "kind", n->kind, "customer_id", n->customer, "risk", "", "json",
                              n->json};
        const char *hset[] = {"HSET", outbox, n->id, n->json};
        if ((r = segment_queue(p, rp, 1, 16, xadd, NULL, queued)) < 0 ||
            (r = segment_queue(p, rp, 1, 4, hset, NULL, queued)) < 0)
            return r;
    }
    return 0;
}

void segment_notes_send(clm_segment_job *j, seg_notes *ns, bool committed)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (committed && j->alerts)
            clm_alert_pub_send(j->alerts, ns->v[i].id, ns->v[i].customer, ns->v[i].json);
        free(ns->v[i].customer);
        free(ns->v[i].json);
    }
    free(ns->v);
    *ns = (seg_notes){0};
}
