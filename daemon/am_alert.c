/* daemon/am_alert.c - see am_alert.h. */
#include "daemon/am_alert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

/* A growable string; on ENOMEM `failed` is set and appends do nothing. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_add(sbuf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        b->failed = true;
    else
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* The string, or NULL when an append failed (then freed). */
static char *sb_take(sbuf *b)
{
    if (b->failed || !b->s) {
        free(b->s);
        return b->failed ? NULL : strdup("");
    }
    return b->s;
}

void clm_am_time_format(int64_t ms, char *buf)
{
    clm_ts_format(ms, buf);
}

static void url_escape(sbuf *b, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            sb_add(b, (const char *)p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            sb_add(b, e, 3);
        }
    }
}

char *clm_am_link_expand(const char *tmpl, const char *customer_id, const char *incident,
                         const char *alert_id)
{
    static const char *const names[] = { "{customer_id}", "{incident}", "{alert_id}" };
    const char *values[] = { customer_id, incident, alert_id };
    sbuf b = { 0 };
    for (const char *p = tmpl; *p;) {
        bool matched = false;
        for (size_t i = 0; i < 3 && *p == '{'; i++) {
            size_t n = strlen(names[i]);
            if (strncmp(p, names[i], n) == 0) {
                url_escape(&b, values[i]);
                p += n;
                matched = true;
                break;
            }
        }
        if (!matched)
            sb_add(&b, p++, 1);
    }
    return sb_take(&b);
}

/* Money as text: whole numbers without decimals, else up to 2 ("1216.67"). */
static void money_text(double x, char *buf, size_t size)
{
    snprintf(buf, size, "%.2f", x);
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, size, "0");
}

static int problem(char *errbuf, size_t errsize, const char *what, const char *member)
{
    snprintf(errbuf, errsize, "page document: %s %s", member, what);
    return -EINVAL;
}

static const char *get_str(json_t *doc, const char *member)
{
    return json_string_value(json_object_get(doc, member));
}

/* One reason, for sorting by contribution (largest first, then as listed). */
typedef struct reason {
    const char *signal;
    double contribution;
    size_t at;
} reason;

static int reason_cmp(const void *a, const void *b)
{
    const reason *x = a, *y = b;
    if (x->contribution != y->contribution)
        return x->contribution > y->contribution ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* "payment_failed 0.40, downgrade 0.30"; "" when there are none; NULL on
 * ENOMEM. */
static char *reasons_text(json_t *reasons)
{
    size_t n = json_array_size(reasons);
    reason *r = calloc(n ? n : 1, sizeof(*r));
    if (!r)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(reasons, i);
        const char *sig = get_str(e, "signal");
        json_t *c = json_object_get(e, "contribution");
        if (!sig || !json_is_number(c))
            continue;
        r[k++] = (reason){ sig, json_number_value(c), i };
    }
    qsort(r, k, sizeof(*r), reason_cmp);
    sbuf b = { 0 };
    for (size_t i = 0; i < k; i++)
        sb_printf(&b, "%s%s %.2f", i ? ", " : "", r[i].signal, r[i].contribution);
    free(r);
    return sb_take(&b);
}

/* "c9 churn_risk 0.8123, c4 churned 0.9100; and 37 more"; NULL on ENOMEM. */
static char *customers_text(json_t *customers, json_int_t more)
{
    sbuf b = { 0 };
    size_t n = json_array_size(customers);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(customers, i);
        const char *id = get_str(e, "customer_id"), *kind = get_str(e, "kind");
        sb_printf(&b, "%s%s %s %.4f", i ? ", " : "", id ? id : "?", kind ? kind : "?",
                  json_number_value(json_object_get(e, "risk")));
    }
    if (more > 0)
        sb_printf(&b, "%sand %lld more", n ? "; " : "", (long long)more);
    return sb_take(&b);
}

/* Sets key to a new string value; false on ENOMEM. */
static bool put(json_t *obj, const char *key, const char *value)
{
    json_t *v = value ? json_string(value) : NULL;
    return v && json_object_set_new(obj, key, v) == 0;
}

/* The alert of a churn_risk or churned document. */
static int customer_alert(json_t *doc, clm_am_doc *d, const char *link, json_t *labels,
                          json_t *ann, char *errbuf, size_t errsize)
{
    const char *customer = get_str(doc, "customer_id"), *severity = get_str(doc, "severity");
    const char *alert_id = get_str(doc, "alert_id");
    json_t *stage = json_object_get(doc, "stage"), *risk = json_object_get(doc, "risk");
    json_t *clv = json_object_get(doc, "clv");
    if (!customer)
        return problem(errbuf, errsize, "is missing", "customer_id");
    if (!severity)
        return problem(errbuf, errsize, "is missing", "severity");
    if (!json_is_number(risk))
        return problem(errbuf, errsize, "is missing", "risk");
    if (!json_is_number(clv))
        return problem(errbuf, errsize, "is missing", "clv");
    if (stage && !json_is_null(stage) && !json_is_string(stage))
        return problem(errbuf, errsize, "is not a string or null", "stage");
    const char *stage_name = json_string_value(stage); /* NULL when null */
    bool churned = d->kind == CLM_AM_CHURNED;

    const char *cause = churned ? get_str(doc, "cause") : NULL; /* absent before 0.3.0 */
    char money[64], summary[512];
    money_text(json_number_value(clv), money, sizeof(money));
    snprintf(summary, sizeof(summary), "Customer %s %s %.2f%s%s, CLV %s%s%s", customer,
             churned ? "churned at risk" : "at churn risk", json_number_value(risk),
             stage_name ? " in stage " : "", stage_name ? stage_name : "", money,
             cause ? ", cause " : "", cause ? cause : "");
    char *reasons = reasons_text(json_object_get(doc, "reasons"));
    char *url = link && link[0] ? clm_am_link_expand(link, customer, d->incident, alert_id) : NULL;
    bool ok = reasons && (!(link && link[0]) || url);
    ok = ok && put(labels, "alertname", churned ? "CustomerChurned" : "CustomerChurnRisk") &&
         put(labels, "customer_id", customer) &&
         (!stage_name || put(labels, "stage", stage_name)) && put(labels, "severity", severity) &&
         put(labels, "kind", churned ? "churned" : "churn_risk") && put(ann, "summary", summary) &&
         (!reasons[0] || put(ann, "reasons", reasons)) && put(ann, "clv", money) &&
         put(ann, "incident", d->incident) && put(ann, "alert_id", alert_id) &&
         (!url || put(ann, "link", url)) && (!cause || put(ann, "cause", cause));
    if (ok && url)
        ok = put(d->alert, "generatorURL", url);
    free(reasons);
    free(url);
    return ok ? 0 : -ENOMEM;
}

static int digest_alert(json_t *doc, json_t *labels, json_t *ann, char *errbuf,
                        size_t errsize)
{
    const char *severity = get_str(doc, "severity"), *alert_id = get_str(doc, "alert_id");
    json_t *source = json_object_get(doc, "source"), *window = json_object_get(doc, "window");
    const char *start = get_str(window, "start"), *end = get_str(window, "end");
    json_t *held = json_object_get(doc, "held"), *more = json_object_get(doc, "more");
    json_t *part = json_object_get(source, "partition");
    if (!severity)
        return problem(errbuf, errsize, "is missing", "severity");
    if (!json_is_integer(part))
        return problem(errbuf, errsize, "is missing or incomplete", "source");
    if (!start || !end)
        return problem(errbuf, errsize, "is missing or incomplete", "window");
    if (!json_is_integer(held))
        return problem(errbuf, errsize, "is missing", "held");

    char summary[768];
    snprintf(summary, sizeof(summary), "%lld alerts over the paging limit on partition %lld "
             "between %s and %s", (long long)json_integer_value(held),
             (long long)json_integer_value(part), start, end);
    char *customers = customers_text(json_object_get(doc, "customers"),
                                     json_is_integer(more) ? json_integer_value(more) : 0);
    bool ok = customers && put(labels, "alertname", "CustomerAlertDigest") &&
              put(labels, "severity", severity) && put(labels, "kind", "digest") &&
              put(labels, "digest_id", alert_id) && put(ann, "summary", summary) &&
              put(ann, "customers", customers) && put(ann, "alert_id", alert_id);
    free(customers);
    return ok ? 0 : -ENOMEM;
}

int clm_am_doc_parse(const char *json, size_t len, const char *link, clm_am_doc *out,
                     char *errbuf, size_t errsize)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
        snprintf(errbuf, errsize, "page document: not a JSON object%s%s", doc ? "" : ": ",
                 doc ? "" : jerr.text);
        json_decref(doc);
        return -EINVAL;
    }
    clm_am_doc d = { 0 };
    json_t *labels = NULL, *ann = NULL;
    int r = -EINVAL;
    const char *kind = get_str(doc, "kind"), *alert_id = get_str(doc, "alert_id");
    const char *incident = get_str(doc, "incident"), *event_ts = get_str(doc, "event_ts");
    if (!kind) {
        r = problem(errbuf, errsize, "is missing", "kind");
        goto out_free;
    }
    if (strcmp(kind, "churn_risk") == 0) {
        d.kind = CLM_AM_CHURN_RISK;
    } else if (strcmp(kind, "churned") == 0) {
        d.kind = CLM_AM_CHURNED;
    } else if (strcmp(kind, "resolved") == 0) {
        d.kind = CLM_AM_RESOLVED;
    } else if (strcmp(kind, "digest") == 0) {
        d.kind = CLM_AM_DIGEST;
    } else {
        snprintf(errbuf, errsize, "page document: kind \"%.64s\" is not churn_risk, churned, "
                 "resolved or digest", kind);
        goto out_free;
    }
    if (!alert_id) {
        r = problem(errbuf, errsize, "is missing", "alert_id");
        goto out_free;
    }
    if (!event_ts || clm_rfc3339_parse(event_ts, strlen(event_ts), &d.event_ms) < 0) {
        r = problem(errbuf, errsize, "is missing or not an RFC 3339 time", "event_ts");
        goto out_free;
    }
    if (d.kind != CLM_AM_DIGEST) {
        if (!incident || strlen(incident) != CLM_AM_INCIDENT_LEN) {
            r = problem(errbuf, errsize, "is missing or not 32 characters", "incident");
            goto out_free;
        }
        memcpy(d.incident, incident, CLM_AM_INCIDENT_LEN + 1);
    }
    if (d.kind != CLM_AM_RESOLVED) {
        char starts[32];
        clm_am_time_format(d.event_ms, starts);
        d.alert = json_object();
        labels = json_object();
        ann = json_object();
        if (!d.alert || !labels || !ann || json_object_set(d.alert, "labels", labels) < 0 ||
            json_object_set(d.alert, "annotations", ann) < 0 || !put(d.alert, "startsAt", starts)) {
            r = -ENOMEM;
            goto out_free;
        }
        r = d.kind == CLM_AM_DIGEST ? digest_alert(doc, labels, ann, errbuf, errsize)
                                    : customer_alert(doc, &d, link, labels, ann, errbuf, errsize);
        if (r < 0)
            goto out_free;
    }
    r = 0;
    *out = d;
    d.alert = NULL; /* *out owns it */
out_free:
    if (r == -ENOMEM)
        snprintf(errbuf, errsize, "out of memory");
    json_decref(labels);
    json_decref(ann);
    json_decref(d.alert);
    json_decref(doc);
    return r;
}

void clm_am_doc_release(clm_am_doc *d)
{
    json_decref(d->alert);
    d->alert = NULL;
}

int clm_am_alert_set_ends(json_t *alert, int64_t ends_ms)
{
    const char *starts = get_str(alert, "startsAt");
    int64_t starts_ms;
    if (!starts || clm_rfc3339_parse(starts, strlen(starts), &starts_ms) < 0)
        return -EINVAL;
    if (ends_ms < starts_ms + 1)
        ends_ms = starts_ms + 1;
    char buf[32];
    clm_am_time_format(ends_ms, buf);
    return put(alert, "endsAt", buf) ? 0 : -ENOMEM;
}
