/* tools/gen_malformed.c - the broken messages of malformed_rate (tools/gen.h
 * lists the faults), each for the most recent customer. */
#include "tools/gen_impl.h"

#include <string.h>

#include "tools/gen_vocab.h"

static const char *const MAL_REASONS[] = {
    "invalid_json", "invalid_json", "not_object", "wrong_type", "missing_field",
    "bad_customer_id", "bad_timestamp", "bad_amount", "bad_score", "bad_duration",
    "invalid_utf8", "key_mismatch",
};

/* Field positions in a malformed-message template. */
enum { T_EVENT_ID, T_CUSTOMER_ID, T_TYPE, T_TS, T_EXTRA, T_EXTRA2 };

/* A valid event of the given type for customer `id` at `ts` (string ts):
 * event_id, customer_id, type, ts, then amount + currency (purchase, refund),
 * duration_s + device (session), score + survey (csat/nps_response),
 * channel + page (visit) or device + source (others). */
static void mal_template(clm_gen *g, uint32_t id, const char *type, int64_t ts)
{
    struct ev *e = &g->ev;
    e->n = 0;
    gen_fid(e, "event_id", 'e', ++g->seq);
    gen_fid(e, "customer_id", 'c', (uint64_t)id + 1);
    gen_fstr(e, "type", type);
    gen_fts(g, e, ts, false);
    if (!strcmp(type, "purchase") || !strcmp(type, "refund")) {
        gen_fcents(e, "amount", gen_purchase_cents(g, 0));
        gen_fstr(e, "currency", "EUR");
    } else if (!strcmp(type, "session")) {
        gen_fint(e, "duration_s", clampl(lognorm(g, 480, 0.9), 5, 14400));
        gen_fstr(e, "device", PICKS(g, DEVICES));
    } else if (!strcmp(type, "csat_response")) {
        gen_fint(e, "score", 1 + pick(g, CSAT_CUM, 5));
        gen_fstr(e, "survey", "email");
    } else if (!strcmp(type, "nps_response")) {
        gen_fint(e, "score", pick(g, NPS_CUM, 11));
        gen_fstr(e, "survey", "in_app");
    } else if (!strcmp(type, "visit")) {
        gen_visit_fields(g);
    } else {
        gen_fstr(e, "device", PICKS(g, DEVICES));
        gen_fstr(e, "source", "web");
    }
}

static void set_raw(clm_gen *g, int idx, const char *s)
{
    struct fld *f = &g->ev.f[idx];
    size_t n = strlen(s);
    memcpy(f->v, s, n);
    f->vlen = (uint16_t)n;
}

static void drop(clm_gen *g, int idx)
{
    memmove(&g->ev.f[idx], &g->ev.f[idx + 1], (size_t)(g->ev.n - idx - 1) * sizeof(struct fld));
    g->ev.n--;
}

static const char *const MAL_TYPES[] = {"visit", "login", "purchase", "session", "signup", "feature_use"};

/* Builds one malformed message for the most recent customer into g->out and
 * g->key; returns its reason name. Each kind breaks exactly one rule. */
const char *gen_malformed(clm_gen *g)
{
    uint32_t id = g->last_cust;
    int64_t ts = g->last_ts;
    int kind = (int)irange(g, 0, (int64_t)NELEM(MAL_REASONS) - 1);
    int sub = (int)irange(g, 0, 3);
    char tmp[FIELD_MAX];
    struct fld *f;
    size_t n = 0;
    g->id_prefix = 'c'; /* a broken event names the person by the known id */
    gen_set_key_cust(g, id);

    switch (kind) {
    case 0: /* truncated */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        gen_serialize(g);
        g->out_len = (size_t)irange(g, 1, (int64_t)g->out_len - 1);
        return MAL_REASONS[kind];
    case 1: /* not JSON: trailing garbage, duplicate key, bad escape, bare key */
        mal_template(g, id, "visit", ts);
        if (sub == 1) {
            set_raw(g, T_EXTRA, "\"login\"");
            g->ev.f[T_EXTRA].name = "type";
        } else if (sub == 2) {
            set_raw(g, T_EXTRA2, "\"/pricing\\q\"");
        } else if (sub == 3) {
            g->ev.f[T_TYPE].bare_name = 1;
        }
        gen_serialize(g);
        if (sub == 0)
            g->out[g->out_len++] = '}';
        return MAL_REASONS[kind];
    case 2: /* valid JSON, not an object */
        if (sub == 0) {
            memcpy(tmp, "[\"", 2);
            n = 2 + gen_put_id(tmp + 2, 'c', (uint64_t)id + 1);
            memcpy(tmp + n, "\",\"visit\",", 10);
            n += 10;
            n += gen_put_i64(tmp + n, ts);
            tmp[n++] = ']';
        } else if (sub == 1) {
            tmp[n++] = '"';
            n += gen_put_id(tmp + n, 'c', (uint64_t)id + 1);
            memcpy(tmp + n, " visit\"", 7);
            n += 7;
        } else if (sub == 2) {
            n = gen_put_i64(tmp, ts);
        } else {
            memcpy(tmp, "null", 4);
            n = 4;
        }
        memcpy(g->out, tmp, n);
        g->out_len = n;
        return MAL_REASONS[kind];
    case 3: /* a known field with the wrong JSON type */
        if (sub == 0) {
            mal_template(g, id, "login", ts);
            n = gen_put_u64(tmp, (uint64_t)id + 1);
            tmp[n] = '\0';
            set_raw(g, T_CUSTOMER_ID, tmp);
        } else if (sub == 1) {
            mal_template(g, id, "visit", ts);
            set_raw(g, T_TYPE, unif(g) < 0.5 ? "7" : "[\"visit\"]");
        } else if (sub == 2) {
            mal_template(g, id, "purchase", ts);
            f = &g->ev.f[T_EXTRA];
            memmove(f->v + 1, f->v, f->vlen);
            f->v[0] = '"';
            f->v[f->vlen + 1] = '"';
            f->vlen += 2;
        } else {
            mal_template(g, id, "csat_response", ts);
            set_raw(g, T_EXTRA, "\"4\"");
        }
        break;
    case 4: /* a required field missing */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        drop(g, sub < 2 ? T_TYPE : T_TS);
        break;
    case 5: /* empty or over-long (> 128 bytes) customer_id */
        mal_template(g, id, "visit", ts);
        if (sub < 2) {
            set_raw(g, T_CUSTOMER_ID, "\"\"");
        } else {
            tmp[n++] = '"';
            while (n < 140)
                n += gen_put_id(tmp + n, 'c', (uint64_t)id + 1);
            tmp[n++] = '"';
            tmp[n] = '\0';
            set_raw(g, T_CUSTOMER_ID, tmp);
        }
        break;
    case 6: /* a timestamp that is not one */
        mal_template(g, id, "login", ts);
        if (sub == 3) {
            static const char *const bad[] = {"\"yesterday\"", "\"\"", "-1"};
            set_raw(g, T_TS, bad[irange(g, 0, 2)]);
        } else {
            /* the value is "YYYY-MM-DDTHH:MM:SS.mmmZ" quoted: month 13, day 32 or hour 25 */
            static const int pos[] = {6, 9, 12};
            static const char *const val[] = {"13", "32", "25"};
            memcpy(g->ev.f[T_TS].v + pos[sub], val[sub], 2);
        }
        break;
    case 7: /* negative amount */
        mal_template(g, id, sub < 2 ? "purchase" : "refund", ts);
        f = &g->ev.f[T_EXTRA];
        f->vlen = (uint16_t)gen_put_cents(f->v, -clampl(lognorm(g, 3000, 0.8), 1, 1000000));
        break;
    case 8: /* score out of range: csat outside 1..5, nps outside 0..10 */
        if (sub < 2) {
            mal_template(g, id, "csat_response", ts);
            n = gen_put_i64(tmp, unif(g) < 0.5 ? 0 : irange(g, 6, 10));
        } else {
            mal_template(g, id, "nps_response", ts);
            n = gen_put_i64(tmp, unif(g) < 0.5 ? -1 : irange(g, 11, 100));
        }
        tmp[n] = '\0';
        set_raw(g, T_EXTRA, tmp);
        break;
    case 9: /* negative duration */
        mal_template(g, id, "session", ts);
        n = gen_put_i64(tmp, -irange(g, 1, 3600));
        tmp[n] = '\0';
        set_raw(g, T_EXTRA, tmp);
        break;
    case 10: { /* invalid UTF-8 inside a string */
        static const char *const bad[] = {"\"/caf\xC3\x28\"", "\"/pricing\xFF\"",
                                          "\"/docs\xC0\xAF\"", "\"/blog\xE2\x82\""};
        mal_template(g, id, "visit", ts);
        set_raw(g, T_EXTRA2, bad[sub]);
        break;
    }
    default: /* the key names another customer */
        mal_template(g, id, PICKS(g, MAL_TYPES), ts);
        gen_set_key_cust(g, id + 1);
        break;
    }
    gen_serialize(g);
    return MAL_REASONS[kind];
}
