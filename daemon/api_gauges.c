/* daemon/api_gauges.c - the business gauges of /metrics (daemon/api.h):
 * read from Redis at scrape time, so they are as fresh as the views. */
#include "daemon/api_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"

typedef struct out {
    char *buf;
    size_t len, cap;
    bool oom;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    for (;;) {
        if (o->oom)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if (o->buf && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) {
            o->oom = true;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
}

/* Label values are stage names and KPI field names: escaped as the text
 * format asks (backslash, double quote, newline). */
static void put_label(out *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            put(o, "\\%c", *v);
        else if (*v == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *v);
    }
}

static int gauges(clm_api *a, out *o, char *err, size_t errsize)
{
    const char *prefix = a->cfg->redis_prefix;
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), prefix, CLM_KEY_STAGE_COUNTS);
    const char *hg[] = { "HGETALL", key };
    redisReply *r = clm_api_cmd(a, 2, hg, err, errsize);
    if (!r)
        return -EIO;
    put(o, "# HELP clmd_customers Customers now in each lifecycle stage (<prefix>stage_counts).\n"
           "# TYPE clmd_customers gauge\n");
    for (size_t i = 0; i < a->cfg->lifecycle_stage_count; i++) {
        const char *n = "0";
        for (size_t k = 0; k + 1 < r->elements; k += 2)
            if (strcmp(r->element[k]->str, a->cfg->lifecycle_stages[i]) == 0)
                n = r->element[k + 1]->str;
        put(o, "clmd_customers{stage=\"");
        put_label(o, a->cfg->lifecycle_stages[i]);
        put(o, "\"} %lld\n", strtoll(n, NULL, 10));
    }
    freeReplyObject(r);
    clm_key_single(key, sizeof(key), prefix, CLM_KEY_AT_RISK);
    const char *zc[] = { "ZCARD", key };
    if (!(r = clm_api_cmd(a, 2, zc, err, errsize)))
        return -EIO;
    put(o, "# HELP clmd_at_risk_customers Customers whose churn risk is at or above the alert "
           "threshold (<prefix>at_risk).\n# TYPE clmd_at_risk_customers gauge\n"
           "clmd_at_risk_customers %lld\n", r->integer);
    freeReplyObject(r);
    put(o, "# HELP clmd_kpi The KPIs of each rolling window (<prefix>kpi:<N>d), one series per "
           "numeric field; absent while a KPI has no denominator.\n# TYPE clmd_kpi gauge\n");
    for (size_t w = 0; w < a->cfg->kpi_window_count; w++) {
        clm_key_kpi(key, sizeof(key), prefix, a->cfg->kpi_windows[w]);
        if (!(r = clm_api_cmd(a, 2, hg, err, errsize)))
            return -EIO;
        for (size_t k = 0; k + 1 < r->elements; k += 2) {
            json_t *n = clm_api_number(r->element[k + 1]->str);
            if (!n)
                continue; /* window_start, window_end: dates */
            put(o, "clmd_kpi{window=\"%dd\",kpi=\"", a->cfg->kpi_windows[w]);
            put_label(o, r->element[k]->str);
            put(o, "\"} %s\n", r->element[k + 1]->str);
            json_decref(n);
        }
        freeReplyObject(r);
    }
    return 0;
}

int clm_api_gauges(clm_api *a, char **text, char *errbuf, size_t errsize)
{
    out o = { 0 };
    pthread_mutex_lock(&a->lock);
    int r = gauges(a, &o, errbuf, errsize);
    pthread_mutex_unlock(&a->lock);
    if (r == 0 && o.oom) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
    }
    if (r < 0) {
        free(o.buf);
        return r;
    }
    *text = o.buf;
    return 0;
}
