/* daemon/api_breakdown.c - /api/v1/breakdown?dim=trait:<name>&days=N: the
 * breakdown counters of one configured dimension (README "Breakdowns") for
 * the N days ending at the KPI window end, per day and summed per value.
 * Without dim: {"dimensions": ["trait:<name>", ...]}, the configured
 * dimensions in config order (empty when none is configured); reads nothing.
 *
 * Answer: {"dimension": "trait:<name>", "from", "to", "values": [the
 * configured values in order, "other", "(none)"], "days": [{"date",
 * "<value>": {"<counter>": n, ...}, ...}, ...] oldest first (a value without
 * counters that day left out), "totals": {"<value>": {"<counter>": n, ...}}}
 * with the counters as stored (revenue_micros in micro-units). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/breakdown.h"
#include "core/timeutil.h"
#include "daemon/api_impl.h"
#include "store/keys.h"

/* Adds one HGETALL reply of <value>\t<counter> fields to day and totals. */
static int add_fields(const redisReply *r, json_t *day, json_t *totals)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        const char *tab = f->type == REDIS_REPLY_STRING ? memchr(f->str, '\t', f->len) : NULL;
        char *end;
        if (!tab || v->type != REDIS_REPLY_STRING)
            return -EIO;
        long long n = strtoll(v->str, &end, 10);
        if (*end || end == v->str)
            return -EIO;
        char value[CLM_BD_VALUE_MAX + 8];
        snprintf(value, sizeof(value), "%.*s", (int)(tab - f->str), f->str);
        const char *counter = tab + 1;
        json_t *objs[2] = { day, totals };
        for (int k = 0; k < 2; k++) {
            json_t *o = json_object_get(objs[k], value);
            if (!o && (!(o = json_object()) || json_object_set_new(objs[k], value, o) < 0))
                return -ENOMEM;
            json_t *cur = json_object_get(o, counter);
            long long sum = (cur ? json_integer_value(cur) : 0) + (k ? n : 0);
            if (json_object_set_new(o, counter, json_integer(k ? sum : n)) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

static const clm_breakdown_spec *spec_of(const clm_api *a, const char *dim)
{
    const clm_breakdown_set *set = a->cfg->breakdowns;
    for (size_t i = 0; set && dim && i < set->n; i++)
        if (strncmp(dim, "trait:", 6) == 0 && strcmp(dim + 6, set->d[i].trait) == 0)
            return &set->d[i];
    return NULL;
}

int clm_api_breakdown_check(clm_api *a, const char *dim, char *err, size_t errsize)
{
    if (!dim || spec_of(a, dim))
        return 0;
    const clm_breakdown_set *set = a->cfg->breakdowns;
    size_t n = (size_t)snprintf(err, errsize, "dim: expected %s",
                                set && set->n ? "one of" : "a dimension of the breakdowns key "
                                                           "(none is configured)");
    for (size_t i = 0; set && i < set->n && n < errsize; i++)
        n += (size_t)snprintf(err + n, errsize - n, "%s trait:%s", i ? "," : "", set->d[i].trait);
    return -EINVAL;
}

/* The configured dimensions, in config order. */
static json_t *dimensions(const clm_api *a, char *err, size_t errsize)
{
    const clm_breakdown_set *set = a->cfg->breakdowns;
    json_t *o = json_object(), *list = json_array();
    if (!o || !list)
        goto out_nomem;
    for (size_t i = 0; set && i < set->n; i++) {
        char dim[CLM_TRAIT_NAME_MAX + 8];
        snprintf(dim, sizeof(dim), "trait:%s", set->d[i].trait);
        if (json_array_append_new(list, json_string(dim)) < 0)
            goto out_nomem;
    }
    /* json_object_set_new takes list, also when it fails */
    int e = json_object_set_new(o, "dimensions", list);
    list = NULL;
    if (e < 0)
        goto out_nomem;
    return o;

out_nomem:
    snprintf(err, errsize, "out of memory");
    json_decref(o);
    json_decref(list);
    return NULL;
}

json_t *clm_api_breakdown(clm_api *a, const char *dim, long days, char *err, size_t errsize)
{
    if (!dim)
        return dimensions(a, err, errsize);
    const clm_breakdown_spec *s = spec_of(a, dim);
    if (!s) {
        clm_api_breakdown_check(a, dim, err, errsize);
        return NULL;
    }
    int64_t end;
    if (clm_api_end_day(a, &end, err, errsize) < 0)
        return NULL;
    json_t *o = json_object(), *values = json_array(), *list = json_array(), *totals = json_object();
    char from[16], to[16];
    clm_day_format(end - days + 1, from);
    clm_day_format(end, to);
    if (!o || !values || !list || !totals || json_object_set_new(o, "dimension", json_string(dim)) < 0 ||
        json_object_set_new(o, "from", json_string(from)) < 0 ||
        json_object_set_new(o, "to", json_string(to)) < 0)
        goto out_nomem;
    for (int k = 0; k < CLM_BD_SLOT_NONE(s) + 1; k++)
        if (json_array_append_new(values, json_string(clm_breakdown_slot_name(s, k))) < 0)
            goto out_nomem;
    for (int64_t d = end - days + 1; d <= end; d++) {
        char key[CLM_KEY_MAX], date[16];
        clm_key_breakdown(key, sizeof(key), a->cfg->redis_prefix, s->trait, d);
        clm_day_format(d, date);
        const char *argv[] = { "HGETALL", key };
        redisReply *r = clm_api_cmd(a, 2, argv, err, errsize);
        if (!r)
            goto out_free;
        json_t *day = json_object();
        size_t nel = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        int e = !day ? -ENOMEM
                : r->type != REDIS_REPLY_ARRAY ? -EIO
                : add_fields(r, day, totals);
        freeReplyObject(r);
        if (e == 0 && nel == 0) {
            json_decref(day);
            continue;
        }
        if (e == 0 && (json_object_set_new(day, "date", json_string(date)) < 0 ||
                       json_array_append(list, day) < 0))
            e = -ENOMEM;
        json_decref(day);
        if (e == -EIO) {
            snprintf(err, errsize, "%s: not a hash of <value>\\t<counter> -> integer", key);
            goto out_free;
        }
        if (e < 0)
            goto out_nomem;
    }
    /* json_object_set_new takes each value, also when it fails */
    int e1 = json_object_set_new(o, "values", values);
    int e2 = json_object_set_new(o, "days", list);
    int e3 = json_object_set_new(o, "totals", totals);
    values = list = totals = NULL;
    if (e1 < 0 || e2 < 0 || e3 < 0)
        goto out_nomem;
    return o;

out_nomem:
    snprintf(err, errsize, "out of memory");
out_free:
    json_decref(o);
    json_decref(values);
    json_decref(list);
    json_decref(totals);
    return NULL;
}
