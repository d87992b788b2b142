/* daemon/alert_json.c - alert ids and documents (see alert_json.h). */
#include "daemon/alert_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
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

char *clm_alert_json(const clm_alert *a, const clm_alert_names *n, const char *id,
                     int64_t emitted_ms)
{
    char ev[32], em[32];
    clm_ts_format(a->event_ts, ev);
    clm_ts_format(emitted_ms, em);
    const char *stage = a->stage >= 0 && n->stages ? clm_stages_name(n->stages, a->stage) : NULL;
    json_t *doc = json_pack(
        "{s:s, s:s, s:s%, s:o, s:o, s:s?, s:o, s:o, s:o, s:s, s:s, s:{s:s, s:i, s:I}}",
        "alert_id", id, "kind", clm_alert_kind_name(a->kind), "customer_id", a->customer_id,
        (size_t)a->id_len, "risk", risk_value(a->risk_e4), "previous_risk",
        risk_value(a->prev_risk_e4), "stage", stage, "clv", money(a->clv_micros), "clv_rate",
        money(a->clv_rate_micros), "reasons", reasons(a->reasons, (size_t)a->nreasons, true),
        "event_ts", ev, "emitted_at", em, "source", "topic", topic_name(n, a->topic),
        "partition", (int)a->partition, "offset", (json_int_t)a->offset);
    return dump(doc);
}

char *clm_alert_summary_json(uint64_t suppressed, int64_t since_ms, int64_t emitted_ms,
                             char id[CLM_ALERT_ID_LEN + 1])
{
    char buf[64], since[32], em[32];
    int k = snprintf(buf, sizeof(buf), "suppressed_summary%c%" PRId64 "%c%" PRIu64, '\0',
                     since_ms, '\0', suppressed);
    hex128(XXH3_128bits(buf, (size_t)k), id);
    clm_ts_format(since_ms, since);
    clm_ts_format(emitted_ms, em);
    return dump(json_pack("{s:s, s:s, s:I, s:s, s:s}", "alert_id", id, "kind",
                          "suppressed_summary", "suppressed", (json_int_t)suppressed, "since",
                          since, "emitted_at", em));
}
