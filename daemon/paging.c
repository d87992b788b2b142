/* daemon/paging.c - the event-time paging limit (see paging.h). */
#include "daemon/paging.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"
#include "store/keys.h"

typedef struct item {
    int64_t page_ms, event_ts;
    int kind; /* clm_alert_kind */
    int risk_e4;
    char id[CLM_ALERT_ID_LEN + 1], incident[CLM_ALERT_ID_LEN + 1];
    char *customer_id;
    char *json;
} item;

struct clm_paging {
    int32_t partition;
    int64_t tat_us; /* the limit's theoretical arrival time; INT64_MIN: none yet */
    item *v;
    size_t n, cap;
    clm_paging_stats stats;
};

clm_paging *clm_paging_new(int32_t partition)
{
    clm_paging *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->partition = partition;
    p->tat_us = INT64_MIN;
    return p;
}

static void item_release(item *it)
{
    free(it->customer_id);
    free(it->json);
}

void clm_paging_free(clm_paging *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        item_release(&p->v[i]);
    free(p->v);
    free(p);
}

int32_t clm_paging_partition(const clm_paging *p)
{
    return p->partition;
}

size_t clm_paging_pending(const clm_paging *p)
{
    return p->n;
}

void clm_paging_get_stats(const clm_paging *p, clm_paging_stats *out)
{
    *out = p->stats;
}

/* A new slot at the end (zeroed), or NULL on ENOMEM. */
static item *grow(clm_paging *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        item *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    item *it = &p->v[p->n];
    memset(it, 0, sizeof(*it));
    return it;
}

int clm_paging_add(clm_paging *p, const clm_alert *a, const char *id, const char *json)
{
    item *it = grow(p);
    if (!it)
        return -ENOMEM;
    it->page_ms = a->page_ms;
    it->event_ts = a->event_ts;
    it->kind = (int)a->kind;
    it->risk_e4 = a->risk_e4;
    snprintf(it->id, sizeof(it->id), "%s", id);
    clm_alert_incident(a->customer_id, a->id_len, a->incident_at, it->incident);
    it->customer_id = strndup(a->customer_id, a->id_len);
    it->json = strdup(json);
    if (!it->customer_id || !it->json) {
        item_release(it);
        return -ENOMEM;
    }
    p->n++;
    return 0;
}

size_t clm_paging_forget(clm_paging *p, const char *customer_id, size_t len)
{
    size_t keep = 0, n = p->n;
    for (size_t i = 0; i < n; i++) {
        item *it = &p->v[i];
        if (strlen(it->customer_id) == len && memcmp(it->customer_id, customer_id, len) == 0)
            item_release(it);
        else
            p->v[keep++] = *it;
    }
    p->n = keep;
    return n - keep;
}

static int restore_fail(char *errbuf, size_t errsize, const char *field, size_t flen,
                        const char *what)
{
    snprintf(errbuf, errsize, "field %.*s: %s", (int)(flen > 80 ? 80 : flen), field, what);
    return -EPROTO;
}

int clm_paging_restore(clm_paging *p, const char *field, size_t flen, const char *value,
                       size_t vlen, char *errbuf, size_t errsize)
{
    size_t pl = strlen(CLM_FIELD_PAGING_ALERT);
    char num[32];
    if (flen == strlen(CLM_FIELD_PAGING_TAT) && memcmp(field, CLM_FIELD_PAGING_TAT, flen) == 0) {
        char *end;
        if (vlen == 0 || vlen >= sizeof(num))
            return restore_fail(errbuf, errsize, field, flen, "not a number");
        memcpy(num, value, vlen);
        num[vlen] = '\0';
        errno = 0;
        long long t = strtoll(num, &end, 10);
        if (errno || *end)
            return restore_fail(errbuf, errsize, field, flen, "not a number");
        p->tat_us = t;
        return 0;
    }
    if (flen != pl + CLM_ALERT_ID_LEN || memcmp(field, CLM_FIELD_PAGING_ALERT, pl) != 0)
        return restore_fail(errbuf, errsize, field, flen, "not a field this clmd writes");
    const char *tab = memchr(value, '\t', vlen);
    if (!tab || tab == value || (size_t)(tab - value) >= sizeof(num))
        return restore_fail(errbuf, errsize, field, flen, "no paging time before a tab");
    memcpy(num, value, (size_t)(tab - value));
    num[tab - value] = '\0';
    char *end;
    errno = 0;
    long long page_ms = strtoll(num, &end, 10);
    if (errno || *end)
        return restore_fail(errbuf, errsize, field, flen, "paging time is not a number");
    const char *json = tab + 1;
    size_t jlen = vlen - (size_t)(json - value);
    json_error_t jerr;
    json_t *doc = json_loadb(json, jlen, 0, &jerr);
    const char *kind = NULL, *cust = NULL, *ev = NULL, *incident = NULL;
    double risk = 0;
    if (!doc || json_unpack(doc, "{s:s, s:s, s:F, s:s, s:s}", "kind", &kind, "customer_id", &cust,
                            "risk", &risk, "event_ts", &ev, "incident", &incident) < 0) {
        json_decref(doc);
        return restore_fail(errbuf, errsize, field, flen, "not an alert document");
    }
    int k = clm_alert_kind_from_name(kind);
    int64_t ev_ms;
    int r = -EPROTO;
    if (k < 0 || clm_rfc3339_parse(ev, strlen(ev), &ev_ms) < 0 ||
        strlen(incident) != CLM_ALERT_ID_LEN) {
        restore_fail(errbuf, errsize, field, flen, "not an alert document");
        goto out;
    }
    item *it = grow(p);
    r = -ENOMEM;
    if (!it)
        goto out;
    it->page_ms = page_ms;
    it->event_ts = ev_ms;
    it->kind = k;
    it->risk_e4 = (int)lround(risk * 10000.0);
    memcpy(it->id, field + pl, CLM_ALERT_ID_LEN);
    memcpy(it->incident, incident, CLM_ALERT_ID_LEN + 1);
    it->customer_id = strdup(cust);
    it->json = strndup(json, jlen);
    if (!it->customer_id || !it->json) {
        item_release(it);
        goto out;
    }
    p->n++;
    r = 0;
out:
    json_decref(doc);
    return r;
}

static int64_t window_start(int64_t ms, int64_t w)
{
    int64_t q = ms / w;
    if (ms % w < 0)
        q--;
    return q * w;
}

static int order(const void *va, const void *vb)
{
    const item *a = va, *b = vb;
    if (a->page_ms != b->page_ms)
        return a->page_ms < b->page_ms ? -1 : 1;
    int c = strcmp(a->customer_id, b->customer_id);
    if (c)
        return c;
    if (a->event_ts != b->event_ts)
        return a->event_ts < b->event_ts ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int severity_rank(const char *s)
{
    return strcmp(s, "critical") == 0 ? 2 : strcmp(s, "warning") == 0 ? 1 : 0;
}

/* Decides the sorted items v[0..n) of the window starting at start. */
static int decide(clm_paging *p, const clm_paging_opts *o, item *v, size_t n, int64_t start,
                  int64_t emitted_ms, const clm_paging_sink *sink)
{
    int64_t interval = llround(1e6 / o->rate_per_s);
    interval = interval < 1 ? 1 : interval;
    int64_t tolerance = (int64_t)(o->burst - 1) * interval;
    size_t nheld = 0, named = 0;
    clm_digest_entry *e = calloc((size_t)o->digest_customers, sizeof(*e));
    const char *severity = "info";
    int r = 0;
    if (!e)
        return -ENOMEM;
    for (size_t i = 0; i < n && r == 0; i++) {
        item *it = &v[i];
        bool pages = true;
        if (it->kind != CLM_ALERT_RESOLVED) {
            int64_t t = it->page_ms * 1000;
            int64_t tat = p->tat_us == INT64_MIN || p->tat_us < t ? t : p->tat_us;
            if (tat - t > tolerance) {
                pages = false;
            } else {
                p->tat_us = tat + interval;
            }
        }
        if (pages) {
            p->stats.paged++;
            r = sink->page(sink->ctx, it->id, it->json);
            continue;
        }
        nheld++;
        const char *sev = clm_alert_severity(o->names, it->risk_e4);
        if (severity_rank(sev) > severity_rank(severity))
            severity = sev;
        if (named < (size_t)o->digest_customers)
            e[named++] = (clm_digest_entry){ .customer_id = it->customer_id,
                                             .kind = clm_alert_kind_name((clm_alert_kind)it->kind),
                                             .alert_id = it->id,
                                             .incident = it->incident,
                                             .risk_e4 = it->risk_e4 };
    }
    if (r == 0 && nheld) {
        char id[CLM_ALERT_ID_LEN + 1];
        char *json = clm_alert_digest_json(p->partition, start, start + o->window_ms, nheld, e,
                                           named, severity, emitted_ms, id);
        r = json ? sink->digest(sink->ctx, id, json) : -ENOMEM;
        free(json);
        p->stats.held += nheld;
        p->stats.digests++;
    }
    for (size_t i = 0; i < n && r == 0; i++)
        r = sink->done(sink->ctx, v[i].id);
    free(e);
    return r;
}

int clm_paging_close(clm_paging *p, const clm_paging_opts *o, int64_t watermark,
                     int64_t emitted_ms, const clm_paging_sink *sink)
{
    if (watermark == CLM_NO_TS || p->n == 0)
        return 0;
    /* the ones to decide first (then sorted); the rest after them, in any
     * order (they are sorted when their window is decided) */
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (window_start(p->v[i].page_ms, o->window_ms) + o->window_ms <= watermark) {
            item t = p->v[i];
            p->v[i] = p->v[k];
            p->v[k++] = t;
        }
    if (k == 0)
        return 0;
    qsort(p->v, k, sizeof(item), order);
    int r = 0;
    for (size_t i = 0; i < k && r == 0;) {
        int64_t start = window_start(p->v[i].page_ms, o->window_ms);
        size_t j = i;
        while (j < k && window_start(p->v[j].page_ms, o->window_ms) == start)
            j++;
        r = decide(p, o, &p->v[i], j - i, start, emitted_ms, sink);
        i = j;
    }
    if (r == 0)
        r = sink->state(sink->ctx, p->tat_us);
    if (r < 0)
        return r;
    for (size_t i = 0; i < k; i++)
        item_release(&p->v[i]);
    memmove(p->v, p->v + k, (p->n - k) * sizeof(item));
    p->n -= k;
    return (int)k;
}
