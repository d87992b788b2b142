/* daemon/kpi_cohort.c - see kpi_cohort.h: the customers' first purchase
 * and last_seen read in one pass, the cohort matrix counted and written. */
#include "daemon/kpi_cohort.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "store/keys.h"
#include "store/scan.h"

typedef struct member {
    char *id;
    size_t seq;     /* order the scan passed it in */
    int64_t week;   /* UTC day number of the Monday of its first purchase */
    int64_t last;   /* last_seen, epoch ms */
} member;

struct kpi_cohort_pass {
    member *v;
    size_t n, cap;
};

/* The Monday (UTC day number) of the ISO week holding `day`; day 0,
 * 1970-01-01, is a Thursday. */
static int64_t monday(int64_t day)
{
    int64_t m = (day + 3) % 7;
    if (m < 0)
        m += 7;
    return day - m;
}

kpi_cohort_pass *kpi_cohort_pass_new(void)
{
    return calloc(1, sizeof(kpi_cohort_pass));
}

void kpi_cohort_pass_free(kpi_cohort_pass *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].id);
    free(p->v);
    free(p);
}

int kpi_cohort_pass_add(kpi_cohort_pass *p, const clm_customer *c)
{
    if (c->first_purchase == CLM_NO_TS)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        member *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    char *id = malloc((size_t)c->id_len + 1);
    if (!id)
        return -ENOMEM;
    memcpy(id, c->id, c->id_len);
    id[c->id_len] = '\0';
    p->v[p->n] = (member){ id, p->n, monday(clm_day_of_ms(c->first_purchase)), c->last_seen };
    p->n++;
    return 0;
}

static int collect(void *vctx, const char *where, const clm_customer *c)
{
    (void)where;
    return kpi_cohort_pass_add(vctx, c);
}

static int by_id(const void *a, const void *b)
{
    const member *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_week(const void *a, const void *b)
{
    const member *x = a, *y = b;
    return (x->week > y->week) - (x->week < y->week);
}

/* A growing text buffer; `failed` once an append did not fit in memory. */
typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* The JSON of the members v[0..n) (distinct, sorted by week) as of day asof. */
static void format(const member *v, size_t n, int64_t asof, int weeks, text *t)
{
    char day[16];
    clm_day_format(asof, day);
    put(t, "{\"period\":\"week\",\"as_of\":\"%s\",\"cohorts\":[", day);
    int64_t last = monday(asof), first = last - 7 * (int64_t)(weeks - 1);
    if (n > 0 && v[0].week > first)
        first = v[0].week;
    size_t i = 0;
    while (i < n && v[i].week < first)
        i++;
    for (int64_t s = first; n > 0 && s <= last; s += 7) {
        size_t lo = i;
        while (i < n && v[i].week == s)
            i++;
        clm_day_format(s, day);
        put(t, "%s{\"start\":\"%s\",\"size\":%zu,\"retained\":[", s == first ? "" : ",", day, i - lo);
        for (int64_t k = 0; s + 7 * k <= asof; k++) {
            int64_t since = (s + 7 * k) * CLM_MS_PER_DAY, r = 0;
            for (size_t m = lo; m < i; m++)
                r += v[m].last >= since;
            put(t, "%s%" PRId64, k ? "," : "", r);
        }
        put(t, "]}");
    }
    put(t, "]}");
}

int kpi_cohort_pass_write(clm_kpi_job *j, clm_rpipe *rc, kpi_cohort_pass *p)
{
    char err[256], key[CLM_KEY_MAX];
    text t = { 0 };
    int r = 0;
    if (!j->has_end_day)
        return 0;
    /* a customer the scan passed twice counts once (its first pass) */
    if (p->n) /* no customer scanned yet: v may be NULL, which qsort must not get */
        qsort(p->v, p->n, sizeof(*p->v), by_id);
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (n > 0 && strcmp(p->v[n - 1].id, p->v[i].id) == 0) {
            free(p->v[i].id);
            continue;
        }
        p->v[n++] = p->v[i];
    }
    p->n = n;
    if (p->n)
        qsort(p->v, p->n, sizeof(*p->v), by_week);
    format(p->v, p->n, j->end_day, j->cfg->kpi_cohort_weeks, &t);
    if (t.failed) {
        r = -ENOMEM;
        goto out_free;
    }
    clm_key_single(key, sizeof(key), j->cfg->redis_prefix, CLM_KEY_KPI_COHORTS);
    const char *argv[] = { "SET", key, t.s };
    redisReply *rep = clm_rpipe_command(rc, 1, 3, argv, NULL, err, sizeof(err));
    if (!rep) {
        r = -EIO;
        goto out_free;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        log_err("kpi: Redis refused a write: %s", rep->str);
        r = -EPROTO;
    }
    freeReplyObject(rep);
    if (r == 0)
        j->cohorts_ms = clm_now_ms();
out_free:
    free(t.s);
    return r;
}

int kpi_cohort_refresh(clm_kpi_job *j, clm_rpipe *rc)
{
    char err[256];
    if (!j->has_end_day)
        return 0;
    kpi_cohort_pass *p = kpi_cohort_pass_new();
    if (!p)
        return -ENOMEM;
    int r = clm_store_scan(rc, j->cfg->redis_prefix, NULL, collect, p, err, sizeof(err));
    if (r == -EPROTO)
        log_err("kpi: cohorts: %s", err);
    if (r < 0)
        r = r == -EPROTO || r == -ENOMEM ? r : -EIO;
    else
        r = kpi_cohort_pass_write(j, rc, p);
    kpi_cohort_pass_free(p);
    return r;
}
