/* tools/clmctl_atrisk.c - `clmctl at-risk`: the customers whose churn risk
 * reached the alert threshold, highest first, and why. Also the reason
 * helpers `alerts` shares. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"
#include "store/reasons.h"

/* Reasons shown in a table cell or an alert line. */
#define TOP_REASONS 3

/* The customer hash fields read for each row, in HMGET order. */
static const char *const row_fields[] = {
    "stage", "clv", "clv_pred", "risk_reasons", "last_seen", "risk_at",
};
enum { F_STAGE, F_CLV, F_CLV_PRED, F_REASONS, F_LAST_SEEN, F_RISK_AT, NFIELDS };

typedef struct row {
    const char *id;     /* into the ZREVRANGE reply */
    int risk_e4;        /* the score in 1e-4 units, 0..10000 */
    redisReply *fields; /* HMGET reply: NFIELDS strings or nils */
    json_t *reasons;    /* risk_reasons, sorted; [] where absent */
} row;

/* ---- reasons ------------------------------------------------------------- */

void clmctl_reasons_text(const json_t *reasons, size_t top, char *buf, size_t size)
{
    size_t w = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(reasons) && i < top; i++) {
        const json_t *e = json_array_get(reasons, i);
        int n = snprintf(buf + w, size - w, "%s%s %.2f", i ? ", " : "",
                         json_string_value(json_object_get(e, "signal")),
                         json_number_value(json_object_get(e, "contribution")));
        if (n < 0 || (size_t)n >= size - w) {
            buf[w] = '\0';
            return;
        }
        w += (size_t)n;
    }
}

/* ---- reading ------------------------------------------------------------- */

/* Members and scores of the ZREVRANGE reply z into rows. */
static int parse_scores(const char *key, const redisReply *z, row *rows, char *errbuf,
                        size_t errsize)
{
    for (size_t i = 0; i < z->elements / 2; i++) {
        const redisReply *m = z->element[2 * i], *s = z->element[2 * i + 1];
        char *end;
        double d = 0;
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING) {
            snprintf(errbuf, errsize, "ZREVRANGE %s: unexpected reply", key);
            return -EIO;
        }
        d = strtod(s->str, &end);
        if (end == s->str || *end || !(d >= 0 && d <= 1)) {
            snprintf(errbuf, errsize, "%s: score \"%s\" of %s is not a risk 0..1", key, s->str,
                     m->str);
            return -EIO;
        }
        rows[i].id = m->str;
        rows[i].risk_e4 = (int)(d * 10000 + 0.5);
    }
    return 0;
}

static char *customer_key(const char *prefix, const char *id)
{
    char *key = malloc(CLM_KEY_MAX);
    if (key && clm_key_customer(key, CLM_KEY_MAX, prefix, id, strlen(id)) < 0) {
        free(key);
        key = NULL;
    }
    return key;
}

/* One pipelined round trip: HMGET of every row's customer hash. */
static int read_customers(const clmctl_ctx *x, row *rows, size_t n, char *errbuf, size_t errsize)
{
    const char *argv[2 + NFIELDS] = { "HMGET" };
    for (size_t f = 0; f < NFIELDS; f++)
        argv[2 + f] = row_fields[f];
    char why[512] = "";
    for (size_t i = 0; i < n; i++) {
        char *key = customer_key(x->prefix, rows[i].id);
        int r = -ENOMEM;
        if (key) {
            argv[1] = key;
            r = clm_rpipe_append(x->rp, 1, 2 + NFIELDS, argv, NULL, why, sizeof(why)); /* copies */
            free(key);
        }
        if (r < 0) {
            clm_rpipe_reset(x->rp);
            if (r == -ENOMEM)
                snprintf(errbuf, errsize, "out of memory");
            else
                snprintf(errbuf, errsize, "HMGET %scustomer:%s: connection to Redis lost: %s",
                         x->prefix, rows[i].id, why);
            return r;
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (clm_rpipe_reply(x->rp, &rep, why, sizeof(why)) < 0) {
            clm_rpipe_reset(x->rp);
            snprintf(errbuf, errsize, "HMGET %scustomer:%s: connection to Redis lost: %s",
                     x->prefix, rows[i].id, why);
            return -EIO;
        }
        rows[i].fields = rep;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *h = rows[i].fields;
        if (h->type == REDIS_REPLY_ERROR) {
            snprintf(errbuf, errsize, "HMGET %scustomer:%s: %s", x->prefix, rows[i].id, h->str);
            return -EIO;
        }
        if (h->type != REDIS_REPLY_ARRAY || h->elements != NFIELDS) {
            snprintf(errbuf, errsize, "HMGET %scustomer:%s: unexpected reply", x->prefix,
                     rows[i].id);
            return -EIO;
        }
    }
    return 0;
}

/* A field of a row, or NULL when the hash lacks it. */
static const char *field(const row *w, int f)
{
    const redisReply *v = w->fields->element[f];
    return v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

static int parse_reasons(const clmctl_ctx *x, row *rows, size_t n, char *errbuf, size_t errsize)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = field(&rows[i], F_REASONS);
        int r;
        rows[i].reasons = text ? json_loads(text, 0, NULL) : json_array();
        if (!rows[i].reasons && !text) {
            snprintf(errbuf, errsize, "out of memory");
            return -ENOMEM;
        }
        if ((r = clm_reasons_sort(rows[i].reasons)) == -ENOMEM) {
            snprintf(errbuf, errsize, "out of memory");
            return r;
        }
        if (r < 0) {
            snprintf(errbuf, errsize,
                     "%scustomer:%s: risk_reasons is not a JSON array of "
                     "{\"signal\", \"contribution\"}: %s",
                     x->prefix, rows[i].id, text);
            return -EIO;
        }
    }
    return 0;
}

/* ---- printing ------------------------------------------------------------ */

/* "YYYY-MM-DD" of an epoch-ms time in the accepted range, else the value. */
static void show_date(const char *value, char *buf, size_t size)
{
    int64_t ms;
    char day[16];
    if (clmctl_parse_i64(value, &ms) == 0 && ms >= 0 && ms <= CLM_TS_MAX_MS) {
        clm_day_format(clm_day_of_ms(ms), day);
        snprintf(buf, size, "%s", day);
    } else {
        snprintf(buf, size, "%s", value);
    }
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static int print_table(const clmctl_ctx *x, const row *rows, size_t n)
{
    enum { NCOLS = 8 };
    static const char *const heads[NCOLS] = {
        "rank", "customer", "risk", "stage", "clv", "clv_pred", "last_seen", "reasons",
    };
    clmctl_table *t = clmctl_table_new(NCOLS);
    int r = -ENOMEM;
    if (!t)
        return r;
    clmctl_table_align(t, 0, CLMCTL_RIGHT);
    clmctl_table_align(t, 2, CLMCTL_RIGHT);
    clmctl_table_align(t, 4, CLMCTL_RIGHT);
    clmctl_table_align(t, 5, CLMCTL_RIGHT);
    if ((r = clmctl_table_add(t, heads)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < n; i++) {
        char rank[24], risk[16], seen[64], reasons[256];
        const char *last_seen = field(&rows[i], F_LAST_SEEN);
        snprintf(rank, sizeof(rank), "%zu", i + 1);
        snprintf(risk, sizeof(risk), "%d.%04d", rows[i].risk_e4 / 10000, rows[i].risk_e4 % 10000);
        show_date(or_dash(last_seen), seen, sizeof(seen));
        clmctl_reasons_text(rows[i].reasons, TOP_REASONS, reasons, sizeof(reasons));
        const char *cells[NCOLS] = {
            rank,
            rows[i].id,
            risk,
            or_dash(field(&rows[i], F_STAGE)),
            or_dash(field(&rows[i], F_CLV)),
            or_dash(field(&rows[i], F_CLV_PRED)),
            seen,
            or_dash(reasons),
        };
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    clmctl_table_free(t);
    return r;
}

/* The object of one row; NULL with errbuf set on failure. */
static json_t *row_json(const clmctl_ctx *x, const row *w, char *errbuf, size_t errsize)
{
    static const int shown[] = { F_STAGE, F_CLV, F_CLV_PRED, F_LAST_SEEN, F_RISK_AT };
    json_t *o = json_object();
    if (!o)
        goto out_nomem;
    if (json_object_set_new(o, "customer_id", json_string(w->id)) < 0) {
        snprintf(errbuf, errsize, "%sat_risk: member %s is not UTF-8", x->prefix, w->id);
        json_decref(o);
        return NULL;
    }
    if (json_object_set_new(o, "risk", json_real(w->risk_e4 / 10000.0)) < 0)
        goto out_nomem;
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        const char *v = field(w, shown[i]);
        if (json_object_set_new(o, row_fields[shown[i]], v ? json_string(v) : json_null()) < 0) {
            snprintf(errbuf, errsize, "%scustomer:%s: %s is not UTF-8", x->prefix, w->id,
                     row_fields[shown[i]]);
            json_decref(o);
            return NULL;
        }
    }
    if (json_object_set(o, "reasons", w->reasons) < 0)
        goto out_nomem;
    return o;

out_nomem:
    json_decref(o);
    snprintf(errbuf, errsize, "out of memory");
    return NULL;
}

/* Like clmctl_json_print, with reals written in up to 15 significant digits:
 * a decimal of up to 15 digits (risk 0.7712, contribution 0.4) prints as
 * written, where the default 17 shows 0.40000000000000002. */
static int print_json(const clmctl_ctx *x, const row *rows, size_t n, char *errbuf,
                      size_t errsize)
{
    json_t *a = json_array();
    int r = 0;
    if (!a) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = row_json(x, &rows[i], errbuf, errsize);
        if (!o) {
            r = -EIO;
            goto out_decref;
        }
        if (json_array_append_new(a, o) < 0) {
            snprintf(errbuf, errsize, "out of memory");
            r = -ENOMEM;
            goto out_decref;
        }
    }
    if (json_dumpf(a, x->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) < 0 ||
        fputc('\n', x->out) == EOF) {
        snprintf(errbuf, errsize, "writing the JSON output failed");
        r = -EIO;
    }
out_decref:
    json_decref(a);
    return r;
}

int clmctl_at_risk(const clmctl_ctx *x, int top, char *errbuf, size_t errsize)
{
    char key[512], stop[16];
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_AT_RISK);
    snprintf(stop, sizeof(stop), "%d", top - 1);
    const char *argv[] = { "ZREVRANGE", key, "0", stop, "WITHSCORES" };
    redisReply *z = NULL;
    row *rows = NULL;
    size_t n = 0;
    int r = clmctl_command(x->rp, 1, 5, argv, &z, errbuf, errsize);
    if (r < 0)
        return r;
    if (z->type != REDIS_REPLY_ARRAY || z->elements % 2 != 0) {
        snprintf(errbuf, errsize, "ZREVRANGE %s: unexpected reply", key);
        r = -EIO;
        goto out_free_reply;
    }
    n = z->elements / 2;
    if (!(rows = calloc(n + 1, sizeof(*rows)))) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free_reply;
    }
    if ((r = parse_scores(key, z, rows, errbuf, errsize)) < 0 ||
        (r = read_customers(x, rows, n, errbuf, errsize)) < 0 ||
        (r = parse_reasons(x, rows, n, errbuf, errsize)) < 0)
        goto out_free_rows;
    if (x->json) {
        r = print_json(x, rows, n, errbuf, errsize);
    } else if (n == 0) {
        fprintf(x->out, "no customer is at or above the alert threshold (%s is empty)\n", key);
        if (ferror(x->out)) {
            snprintf(errbuf, errsize, "writing the output failed");
            r = -EIO;
        }
    } else if ((r = print_table(x, rows, n)) < 0) {
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
    }
out_free_rows:
    for (size_t i = 0; i < n; i++) {
        freeReplyObject(rows[i].fields);
        json_decref(rows[i].reasons);
    }
    free(rows);
out_free_reply:
    freeReplyObject(z);
    return r;
}
