/* daemon/api_risk.c - the endpoints of the JSON API about customers at risk,
 * alerts and health (daemon/api.h). */
#include "daemon/api_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/reasons.h"

/* The customer view fields of an at-risk row, in HMGET order. */
static const char *const row_fields[] = { "stage", "clv", "clv_pred", "last_seen", "risk_reasons" };
enum { F_STAGE, F_CLV, F_CLV_PRED, F_LAST_SEEN, F_REASONS, NFIELDS };

/* One row: id, risk (the at_risk score) and the view's fields; reasons
 * largest first (store/reasons.h), [] where absent or not reasons. */
static json_t *risk_row(const char *id, const char *score, const redisReply *f)
{
    json_t *row = json_object(), *risk = clm_api_number(score);
    if (!row || !risk || json_object_set_new(row, "id", json_string(id)) < 0 ||
        json_object_set_new(row, "risk", risk) < 0) {
        json_decref(row);
        return NULL;
    }
    for (int k = 0; k < F_REASONS; k++) {
        const redisReply *v = f && f->type == REDIS_REPLY_ARRAY && f->elements == NFIELDS
                                  ? f->element[k] : NULL;
        json_t *x = json_null();
        if (v && v->type == REDIS_REPLY_STRING)
            x = k == F_STAGE ? json_string(v->str) : clm_api_number(v->str);
        if (json_object_set_new(row, row_fields[k], x ? x : json_null()) < 0) {
            json_decref(row);
            return NULL;
        }
    }
    const redisReply *rv = f && f->type == REDIS_REPLY_ARRAY && f->elements == NFIELDS
                               ? f->element[F_REASONS] : NULL;
    json_t *reasons = rv && rv->type == REDIS_REPLY_STRING ? json_loads(rv->str, 0, NULL) : NULL;
    if (!json_is_array(reasons) || clm_reasons_sort(reasons) < 0) {
        json_decref(reasons); /* not reasons: shown as none */
        reasons = json_array();
    }
    if (json_object_set_new(row, "reasons", reasons) < 0) {
        json_decref(row);
        return NULL;
    }
    return row;
}

json_t *clm_api_at_risk(clm_api *a, long limit, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX], stop[24], ckey[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_AT_RISK);
    snprintf(stop, sizeof(stop), "%ld", limit - 1);
    const char *zr[] = { "ZREVRANGE", key, "0", stop, "WITHSCORES" };
    const char *zc[] = { "ZCARD", key };
    redisReply *z = clm_api_cmd(a, 5, zr, err, errsize), *n = NULL;
    json_t *list = NULL, *o = NULL;
    if (!z || !(n = clm_api_cmd(a, 2, zc, err, errsize)))
        goto out;
    clm_rpipe *p = clm_redis_pipe(a->redis, err, errsize);
    if (!p)
        goto out;
    const char *argv[2 + NFIELDS] = { "HMGET" };
    for (int k = 0; k < NFIELDS; k++)
        argv[2 + k] = row_fields[k];
    size_t rows = z->elements / 2;
    for (size_t i = 0; i < rows; i++) {
        argv[1] = ckey;
        if (clm_key_customer(ckey, sizeof(ckey), a->cfg->redis_prefix, z->element[2 * i]->str,
                             z->element[2 * i]->len) < 0 ||
            clm_rpipe_append(p, 1, 2 + NFIELDS, argv, NULL, err, errsize) < 0) {
            clm_redis_drop(a->redis);
            goto out;
        }
    }
    list = json_array();
    for (size_t i = 0; i < rows; i++) {
        redisReply *f;
        if (clm_rpipe_reply(p, &f, err, errsize) < 0) {
            clm_redis_drop(a->redis);
            goto out;
        }
        json_t *row = risk_row(z->element[2 * i]->str, z->element[2 * i + 1]->str, f);
        freeReplyObject(f);
        if (!row || json_array_append_new(list, row) < 0) {
            snprintf(err, errsize, "%s: %s: unexpected score or out of memory", key,
                     z->element[2 * i]->str);
            goto out_drain;
        }
    }
    o = json_pack("{s:I,s:O}", "total", (json_int_t)n->integer, "customers", list);
    if (!o)
        snprintf(err, errsize, "out of memory");
    goto out;
out_drain:
    clm_rpipe_reset(p);
out:
    json_decref(list);
    freeReplyObject(n);
    freeReplyObject(z);
    return o;
}

json_t *clm_api_alerts(clm_api *a, long limit, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX], count[24];
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_ALERTS);
    snprintf(count, sizeof(count), "%ld", limit);
    const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", count };
    redisReply *r = clm_api_cmd(a, 6, argv, err, errsize);
    if (!r)
        return NULL;
    json_t *list = json_array();
    for (size_t i = 0; list && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        json_t *row = NULL;
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
            e->element[1]->type == REDIS_REPLY_ARRAY) {
            const redisReply *f = e->element[1];
            row = json_pack("{s:s,s:I}", "id", e->element[0]->str, "at_ms",
                            (json_int_t)strtoll(e->element[0]->str, NULL, 10));
            for (size_t k = 0; row && k + 1 < f->elements; k += 2) {
                const char *name = f->element[k]->str, *v = f->element[k + 1]->str;
                json_t *x = strcmp(name, "json") == 0 ? json_loads(v, 0, NULL)
                            : strcmp(name, "risk") == 0 ? clm_api_number(v) : json_string(v);
                if (json_object_set_new(row, strcmp(name, "json") == 0 ? "alert" : name,
                                        x ? x : json_null()) < 0) {
                    json_decref(row);
                    row = NULL;
                }
            }
        }
        if (!row || json_array_append_new(list, row) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    freeReplyObject(r);
    json_t *o = list ? json_pack("{s:o}", "alerts", list) : NULL;
    if (!o)
        snprintf(err, errsize, "%s: unexpected entry or out of memory", key);
    return o;
}

json_t *clm_api_health(clm_api *a, const clm_api_live *live, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_MODEL);
    const char *argv[] = { "HMGET", key, "status", "fitted_at", "customers", "last_error" };
    redisReply *r = clm_api_cmd(a, 6, argv, err, errsize);
    if (!r)
        return NULL;
    json_t *model = json_object();
    static const char *const names[] = { "status", "fitted_at", "customers", "last_error" };
    for (size_t k = 0; model && k < 4 && k < r->elements; k++) {
        const redisReply *v = r->element[k];
        json_t *x = v->type != REDIS_REPLY_STRING ? json_null()
                    : k == 1 || k == 2 ? clm_api_number(v->str) : json_string(v->str);
        if (json_object_set_new(model, names[k], x ? x : json_null()) < 0) {
            json_decref(model);
            model = NULL;
        }
    }
    freeReplyObject(r);
    long long now = clm_now_ms();
    double rate = 0;
    if (a->rate_at_ms > 0 && now > a->rate_at_ms && live->consumed >= a->rate_consumed)
        rate = (double)(live->consumed - a->rate_consumed) * 1000.0 / (double)(now - a->rate_at_ms);
    a->rate_consumed = live->consumed;
    a->rate_at_ms = now;
    json_t *o = model ? json_pack("{s:b,s:o,s:i,s:I,s:f,s:o,s:I,s:o}", "healthy", live->healthy,
                                  "lag", live->lag >= 0 ? json_integer(live->lag) : json_null(),
                                  "partitions", live->partitions, "consumed",
                                  (json_int_t)live->consumed, "events_per_s", rate,
                                  "last_flush_ms", live->last_flush_ms > 0
                                      ? json_integer(live->last_flush_ms) : json_null(),
                                  "flushes", (json_int_t)live->flushes, "model", model)
                      : NULL;
    if (!o)
        snprintf(err, errsize, "out of memory");
    return o;
}
