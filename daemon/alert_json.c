/* daemon/alert_json.c - alert ids and documents (see alert_json.h). */
#include "daemon/alert_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* %.15g keeps every printed digit of 4-decimal values and of money up to
 * 10^9 with 6 decimals. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

static double round4(double v)
{
    return round(v * 1e4) / 1e4;
}

static const char *topic_name(const clm_alert_names *n, int32_t t)
{
    return t >= 0 && (size_t)t < n->ntopics ? n->topics[t] : "";
}

static void hex128(XXH128_hash_t h, char id[CLM_ALERT_ID_LEN + 1])
{
    snprintf(id, CLM_ALERT_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64,
             (uint64_t)h.low64);
}

void clm_alert_id(const clm_alert *a, const clm_alert_names *n, char id[CLM_ALERT_ID_LEN + 1])
{
    char buf[CLM_ID_MAX + 512];
    const char *kind = clm_alert_kind_name(a->kind), *topic = topic_name(n, a->topic);
    size_t off = 0;
    memcpy(buf + off, kind, strlen(kind) + 1);
    off += strlen(kind) + 1;
    memcpy(buf + off, a->customer_id, (size_t)a->id_len + 1);
    off += (size_t)a->id_len + 1;
    size_t tl = strnlen(topic, 249);
    memcpy(buf + off, topic, tl);
    off += tl;
    buf[off++] = '\0';
    int k = snprintf(buf + off, sizeof(buf) - off, "%" PRId32 "%c%" PRId64 "%c%" PRId64,
                     a->partition, '\0', a->offset, '\0', a->event_ts);
    off += (size_t)k;
    hex128(XXH3_128bits(buf, off), id);
}

static json_t *money(int64_t micros)
{
    if (micros % 1000000 == 0)
        return json_integer(micros / 1000000);
    return json_real((double)micros / 1e6);
}

static json_t *risk_value(int e4)
{
    return json_real(e4 / 10000.0);
}

static json_t *reasons(const clm_risk_reason *r, size_t n, bool with_weight)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = with_weight
                        ? json_pack("{s:s, s:o, s:o, s:o}", "signal", clm_signal_name(r[i].signal),
                                    "value", json_real(round4(r[i].value)), "weight",
                                    json_real(round4(r[i].weight)), "contribution",
                                    json_real(round4(r[i].contribution)))
                        : json_pack("{s:s, s:o, s:o}", "signal", clm_signal_name(r[i].signal),
                                    "value", json_real(round4(r[i].value)), "contribution",
                                    json_real(round4(r[i].contribution)));
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static char *dump(json_t *doc)
{
    if (!doc)
        return NULL;
    char *s = json_dumps(doc, DUMP_FLAGS);
    json_decref(doc);
    return s;
}

const char *clm_alert_severity(const clm_alert_names *n, int risk_e4)
{
    return risk_e4 >= n->critical_e4 ? "critical" : risk_e4 >= n->warning_e4 ? "warning" : "info";
}

void clm_alert_incident(const char *customer_id, size_t len, int64_t incident_at,
                        char key[CLM_ALERT_ID_LEN + 1])
{
    char buf[CLM_ID_MAX + 64];
    size_t off = sizeof("incident");
    memcpy(buf, "incident", off);
    len = len > CLM_ID_MAX ? CLM_ID_MAX : len;
    memcpy(buf + off, customer_id, len);
    off += len;
    buf[off++] = '\0';
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%" PRId64, incident_at);
    hex128(XXH3_128bits(buf, off), key);
}

/* Sets key to value (a new reference, NULL meaning ENOMEM); false on failure. */
static bool put(json_t *o, const char *key, json_t *value)
{
    return value && json_object_set_new(o, key, value) == 0;
}

char *clm_alert_json(const clm_alert *a, const clm_alert_names *n, const char *id,
                     int64_t emitted_ms)
{
    char ev[32], em[32], incident[CLM_ALERT_ID_LEN + 1];
    clm_ts_format(a->event_ts, ev);
    clm_ts_format(emitted_ms, em);
    clm_alert_incident(a->customer_id, a->id_len, a->incident_at, incident);
    const char *stage = a->stage >= 0 && n->stages ? clm_stages_name(n->stages, a->stage) : NULL;
    json_t *doc = json_object();
    bool ok = doc && put(doc, "alert_id", json_string(id)) &&
              put(doc, "kind", json_string(clm_alert_kind_name(a->kind))) &&
              put(doc, "customer_id", json_stringn(a->customer_id, a->id_len)) &&
              put(doc, "incident", json_string(incident));
    if (ok && a->kind == CLM_ALERT_RESOLVED)
        ok = put(doc, "reason", json_string(clm_resolve_reason_name(a->reason)));
    else if (ok)
        ok = put(doc, "severity", json_string(clm_alert_severity(n, a->risk_e4)));
    if (ok && a->kind == CLM_ALERT_CHURNED)
        ok = put(doc, "cause", json_string(a->cause == CLM_CAUSE_INACTIVITY
                                               ? "inactivity"
                                               : clm_event_type_name((clm_event_type)a->cause)));
    ok = ok && put(doc, "risk", risk_value(a->risk_e4)) &&
         put(doc, "previous_risk", risk_value(a->prev_risk_e4)) &&
         put(doc, "stage", stage ? json_string(stage) : json_null()) &&
         put(doc, "clv", money(a->clv_micros)) && put(doc, "clv_rate", money(a->clv_rate_micros)) &&
         put(doc, "reasons", reasons(a->reasons, (size_t)a->nreasons, true)) &&
         put(doc, "event_ts", json_string(ev)) && put(doc, "emitted_at", json_string(em)) &&
         put(doc, "source", json_pack("{s:s, s:i, s:I}", "topic", topic_name(n, a->topic),
                                      "partition", (int)a->partition, "offset",
                                      (json_int_t)a->offset));
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    return dump(doc);
}

char *clm_alert_digest_json(int32_t partition, int64_t start_ms, int64_t end_ms, uint64_t held,
                            const clm_digest_entry *e, size_t n, const char *severity,
                            int64_t emitted_ms, char id[CLM_ALERT_ID_LEN + 1])
{
    char buf[64], start[32], end[32], em[32];
    int k = snprintf(buf, sizeof(buf), "digest%c%" PRId32 "%c%" PRId64, '\0', partition, '\0',
                     start_ms);
    hex128(XXH3_128bits(buf, (size_t)k), id);
    clm_ts_format(start_ms, start);
    clm_ts_format(end_ms, end);
    clm_ts_format(emitted_ms, em);
    json_t *customers = json_array();
    for (size_t i = 0; customers && i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "customer_id", e[i].customer_id,
                              "kind", e[i].kind, "risk", risk_value(e[i].risk_e4), "alert_id",
                              e[i].alert_id, "incident", e[i].incident);
        if (!o || json_array_append_new(customers, o) < 0) {
            json_decref(customers);
            return NULL;
        }
    }
    if (!customers)
        return NULL;
    return dump(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:{s:i}, s:{s:s, s:s}, s:o}",
                          "alert_id", id, "kind", "digest", "severity", severity, "held",
                          (json_int_t)held, "more", (json_int_t)(held - n), "event_ts", end,
                          "emitted_at", em, "source", "partition", (int)partition, "window",
                          "start", start, "end", end, "customers", customers));
}
