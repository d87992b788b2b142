/* daemon/alerting.c - a worker's alerts, flush by flush (see alerting.h). */
#include "daemon/alerting.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/paging.h"
#include "daemon/redis.h"
#include "store/alerts.h"
#include "store/keys.h"

struct clm_alerting {
    clm_alerting_conf c;
    clm_paging **parts; /* by partition number; NULL: not taken */
    size_t nparts;
    _Atomic uint64_t raised, paged, held, digests, pending;
};

clm_alerting *clm_alerting_new(const clm_alerting_conf *conf)
{
    clm_alerting *a = calloc(1, sizeof(*a));
    if (a)
        a->c = *conf;
    return a;
}

void clm_alerting_free(clm_alerting *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nparts; i++)
        clm_paging_free(a->parts[i]);
    free(a->parts);
    free(a);
}

bool clm_alerting_has(const clm_alerting *a, int32_t part)
{
    return part >= 0 && (size_t)part < a->nparts && a->parts[part];
}

static void count_pending(clm_alerting *a)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->nparts; i++)
        n += a->parts[i] ? clm_paging_pending(a->parts[i]) : 0;
    atomic_store_explicit(&a->pending, n, memory_order_relaxed);
}

/* The partition's window, taken empty when it is not yet; NULL on ENOMEM. */
static clm_paging *part_of(clm_alerting *a, int32_t part)
{
    if (part < 0)
        return NULL;
    if ((size_t)part >= a->nparts) {
        size_t n = (size_t)part + 1;
        clm_paging **v = realloc(a->parts, n * sizeof(*v));
        if (!v)
            return NULL;
        memset(v + a->nparts, 0, (n - a->nparts) * sizeof(*v));
        a->parts = v;
        a->nparts = n;
    }
    if (!a->parts[part])
        a->parts[part] = clm_paging_new(part);
    return a->parts[part];
}

int clm_alerting_take(clm_alerting *a, int32_t part, const redisReply *h, char *errbuf,
                      size_t errsize)
{
    clm_alerting_drop(a, part);
    clm_paging *p = part_of(a, part);
    if (!p)
        return -ENOMEM;
    char why[256];
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        int r = f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING
                    ? clm_paging_restore(p, f->str, f->len, v->str, v->len, why, sizeof(why))
                    : (snprintf(why, sizeof(why), "not a string"), -EPROTO);
        if (r < 0) {
            char key[CLM_KEY_MAX];
            clm_key_paging(key, sizeof(key), a->c.prefix, a->c.group, part);
            snprintf(errbuf, errsize, "%s: %s", key, why);
            clm_alerting_drop(a, part);
            return r;
        }
    }
    count_pending(a);
    return 0;
}

void clm_alerting_drop(clm_alerting *a, int32_t part)
{
    if (!clm_alerting_has(a, part))
        return;
    clm_paging_free(a->parts[part]);
    a->parts[part] = NULL;
    count_pending(a);
}

static void set_names(clm_alerting *a, const clm_alert_opts *ao, clm_alert_names *n)
{
    *n = a->c.names;
    n->critical_e4 = ao->critical_e4;
    n->warning_e4 = ao->warning_e4;
}

int clm_alerting_raise(clm_alerting *a, clm_batch *b, int32_t part, const clm_deltas *d,
                       const clm_alert_opts *ao)
{
    clm_alert_names names;
    set_names(a, ao, &names);
    int64_t now = clm_wall_ms();
    for (size_t i = 0; i < d->nalerts; i++) {
        const clm_alert *al = &d->alerts[i];
        char id[CLM_ALERT_ID_LEN + 1], risk[16];
        clm_alert_id(al, &names, id);
        char *json = clm_alert_json(al, &names, id, now);
        clm_paging *p = part_of(a, al->partition);
        if (!json || !p) {
            free(json);
            return -ENOMEM;
        }
        snprintf(risk, sizeof(risk), "%d.%04d", al->risk_e4 / 10000, al->risk_e4 % 10000);
        int r;
        clm_cmdbuf *cb = clm_batch_cmds(b, al->partition);
        if (!cb) {
            free(json);
            return -ENOMEM;
        }
        if ((r = clm_alerts_fmt_kept(cb, a->c.prefix, a->c.stream_maxlen, id,
                                     clm_alert_kind_name(al->kind), al->customer_id, al->id_len,
                                     risk, json)) < 0 ||
            (r = clm_alerts_fmt_pending(cb, a->c.prefix, a->c.group, al->partition, id,
                                        al->page_ms, json)) < 0 ||
            (r = clm_paging_add(p, al, id, json)) < 0) {
            free(json);
            return r;
        }
        if ((r = clm_batch_add_alert(b, id, al->customer_id, al->id_len, json)) < 0)
            return r;
    }
    atomic_fetch_add_explicit(&a->raised, d->nalerts, memory_order_relaxed);
    count_pending(a);
    clm_cmdbuf *cb = clm_batch_cmds(b, part);
    return cb ? clm_alerts_fmt_count(cb, a->c.prefix, "alerts_emitted", (int64_t)d->nalerts)
              : -ENOMEM;
}

typedef struct close_ctx {
    clm_alerting *a;
    clm_batch *b;
    clm_cmdbuf *cb; /* the partition's section */
    int32_t part;
} close_ctx;

static int on_page(void *vx, const char *id, const char *json)
{
    close_ctx *x = vx;
    return x->a->c.page_stream ? clm_alerts_fmt_page(x->cb, x->a->c.prefix, id, json) : 0;
}

static int on_digest(void *vx, const char *id, const char *json)
{
    close_ctx *x = vx;
    int r = clm_alerts_fmt_kept(x->cb, x->a->c.prefix, x->a->c.stream_maxlen, id, "digest",
                                "", 0, "", json);
    if (r == 0 && x->a->c.page_stream)
        r = clm_alerts_fmt_page(x->cb, x->a->c.prefix, id, json);
    if (r < 0)
        return r;
    char *copy = strdup(json);
    return copy ? clm_batch_add_alert(x->b, id, "digest", 6, copy) : -ENOMEM;
}

static int on_done(void *vx, const char *id)
{
    close_ctx *x = vx;
    return clm_alerts_fmt_decided(x->cb, x->a->c.prefix, x->a->c.group, x->part, id);
}

static int on_state(void *vx, int64_t tat_us)
{
    close_ctx *x = vx;
    return clm_alerts_fmt_tat(x->cb, x->a->c.prefix, x->a->c.group, x->part, tat_us);
}

void clm_alerting_forget(clm_alerting *a, int32_t part, const char *customer_id, size_t len)
{
    if (!clm_alerting_has(a, part))
        return;
    if (clm_paging_forget(a->parts[part], customer_id, len))
        count_pending(a);
}

int clm_alerting_close(clm_alerting *a, clm_batch *b, int32_t part, int64_t watermark,
                       const clm_alert_opts *ao)
{
    if (!clm_alerting_has(a, part))
        return 0;
    clm_paging *p = a->parts[part];
    clm_paging_stats before, after;
    clm_paging_get_stats(p, &before);
    clm_alert_names names;
    set_names(a, ao, &names);
    clm_paging_opts o = { .rate_per_s = ao->page_rate_per_s, .burst = ao->page_burst,
                          .window_ms = ao->page_window_ms,
                          .digest_customers = ao->digest_customers, .names = &names };
    close_ctx x = { .a = a, .b = b, .cb = clm_batch_cmds(b, part), .part = part };
    if (!x.cb)
        return -ENOMEM;
    clm_paging_sink sink = { on_page, on_digest, on_done, on_state, &x };
    int r = clm_paging_close(p, &o, watermark, clm_wall_ms(), &sink);
    if (r <= 0)
        return r;
    clm_paging_get_stats(p, &after);
    atomic_fetch_add_explicit(&a->paged, after.paged - before.paged, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->held, after.held - before.held, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->digests, after.digests - before.digests, memory_order_relaxed);
    count_pending(a);
    int e;
    if ((e = clm_alerts_fmt_count(x.cb, a->c.prefix, "alerts_in_digest",
                                  (int64_t)(after.held - before.held))) < 0 ||
        (e = clm_alerts_fmt_count(x.cb, a->c.prefix, "alerts_digests",
                                  (int64_t)(after.digests - before.digests))) < 0)
        return e;
    return 0;
}

void clm_alerting_get_stats(const clm_alerting *a, clm_alerting_stats *out)
{
    out->raised = atomic_load_explicit(&a->raised, memory_order_relaxed);
    out->paged = atomic_load_explicit(&a->paged, memory_order_relaxed);
    out->held = atomic_load_explicit(&a->held, memory_order_relaxed);
    out->digests = atomic_load_explicit(&a->digests, memory_order_relaxed);
    out->pending = atomic_load_explicit(&a->pending, memory_order_relaxed);
}
