/* daemon/api_read.c - the endpoints of the JSON API that read the funnel,
 * the KPI history and windows, the cohorts (daemon/api.h). */
#include "daemon/api_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "store/keys.h"

static bool is_ordinary(const clm_config *cfg, const char *stage)
{
    return strcmp(stage, cfg->lifecycle_churned_stage) != 0 &&
           strcmp(stage, cfg->lifecycle_reactivated_stage) != 0;
}

static bool configured(const clm_config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->lifecycle_stage_count; i++)
        if (strcmp(cfg->lifecycle_stages[i], stage) == 0)
            return true;
    return false;
}

/* [{"stage","customers"}] in rank order, then stages the hash has that the
 * configuration does not (from an earlier configuration). */
static json_t *stage_list(const clm_config *cfg, const redisReply *h, char *err, size_t errsize)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < cfg->lifecycle_stage_count + h->elements / 2; i++) {
        const char *name = i < cfg->lifecycle_stage_count
                               ? cfg->lifecycle_stages[i]
                               : h->element[2 * (i - cfg->lifecycle_stage_count)]->str;
        if (i >= cfg->lifecycle_stage_count && configured(cfg, name))
            continue; /* listed above */
        long long n = 0;
        for (size_t k = 0; k + 1 < h->elements; k += 2)
            if (strcmp(h->element[k]->str, name) == 0) {
                char *end;
                n = strtoll(h->element[k + 1]->str, &end, 10);
                if (*end || n < 0) {
                    snprintf(err, errsize, "%sstage_counts: %s: \"%s\" is not a count",
                             cfg->redis_prefix, name, h->element[k + 1]->str);
                    json_decref(list);
                    return NULL;
                }
            }
        json_t *row = json_pack("{s:s,s:I}", "stage", name, "customers", (json_int_t)n);
        if (!row || json_array_append_new(list, row) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        snprintf(err, errsize, "out of memory");
    return list;
}

/* Sums the transitions:<D> hashes of days [first, last] into an object
 * "from>to" -> count, in one pipelined round trip. */
static json_t *sum_transitions(clm_api *a, int64_t first, int64_t last, char *err, size_t errsize)
{
    clm_rpipe *p = clm_redis_pipe(a->redis, err, errsize);
    json_t *sum = json_object();
    char key[CLM_KEY_MAX];
    if (!p || !sum)
        goto out_fail;
    for (int64_t d = first; d <= last; d++) {
        const char *argv[] = { "HGETALL", key };
        if (clm_key_transitions(key, sizeof(key), a->cfg->redis_prefix, d) < 0 ||
            clm_rpipe_append(p, 1, 2, argv, NULL, err, errsize) < 0)
            goto out_drop;
    }
    for (int64_t d = first; d <= last; d++) {
        redisReply *r;
        if (clm_rpipe_reply(p, &r, err, errsize) < 0)
            goto out_drop;
        for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k + 1 < r->elements; k += 2) {
            char *end;
            long long n = strtoll(r->element[k + 1]->str, &end, 10);
            json_t *had = json_object_get(sum, r->element[k]->str);
            if (*end || json_object_set_new(sum, r->element[k]->str,
                                            json_integer(n + (had ? json_integer_value(had) : 0))) < 0) {
                clm_key_transitions(key, sizeof(key), a->cfg->redis_prefix, d);
                snprintf(err, errsize, "%s %s: \"%s\" is not a count", key, r->element[k]->str,
                         r->element[k + 1]->str);
                freeReplyObject(r);
                goto out_drop;
            }
        }
        freeReplyObject(r);
    }
    return sum;
out_drop:
    clm_redis_drop(a->redis);
out_fail:
    json_decref(sum);
    return NULL;
}

/* conversion[i]: of the customers who left ordinary stage A in the window,
 * how many went to the next ordinary stage B. */
static json_t *conversion(const clm_config *cfg, json_t *trans)
{
    json_t *list = json_array();
    const char *prev = NULL;
    for (size_t i = 0; list && i < cfg->lifecycle_stage_count; i++) {
        const char *b = cfg->lifecycle_stages[i];
        if (!is_ordinary(cfg, b))
            continue;
        if (prev) {
            long long left = 0, conv = 0;
            size_t pl = strlen(prev);
            const char *f;
            json_t *v;
            json_object_foreach(trans, f, v) {
                if (strncmp(f, prev, pl) == 0 && f[pl] == '>') {
                    left += json_integer_value(v);
                    if (strcmp(f + pl + 1, b) == 0)
                        conv += json_integer_value(v);
                }
            }
            json_t *row = json_pack("{s:s,s:s,s:I,s:I,s:o}", "from", prev, "to", b, "left",
                                    (json_int_t)left, "converted", (json_int_t)conv, "rate",
                                    left ? json_real((double)conv / (double)left) : json_null());
            if (!row || json_array_append_new(list, row) < 0) {
                json_decref(list);
                return NULL;
            }
        }
        prev = b;
    }
    return list;
}

json_t *clm_api_funnel(clm_api *a, long days, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX], from[11], to[11];
    int64_t end;
    json_t *o = NULL, *trans = NULL, *stages = NULL;
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_STAGE_COUNTS);
    const char *argv[] = { "HGETALL", key };
    redisReply *h = clm_api_cmd(a, 2, argv, err, errsize);
    if (!h)
        return NULL;
    if (!(stages = stage_list(a->cfg, h, err, errsize)) ||
        clm_api_end_day(a, &end, err, errsize) < 0 ||
        !(trans = sum_transitions(a, end - days + 1, end, err, errsize)))
        goto out;
    clm_day_format(end - days + 1, from);
    clm_day_format(end, to);
    o = json_pack("{s:o,s:{s:s,s:s,s:i},s:O,s:o}", "stages", stages, "window", "from", from, "to",
                  to, "days", (int)days, "transitions", trans, "conversion",
                  conversion(a->cfg, trans));
    stages = NULL; /* json_pack took it */
    if (!o)
        snprintf(err, errsize, "out of memory");
out:
    json_decref(stages);
    json_decref(trans);
    freeReplyObject(h);
    return o;
}

json_t *clm_api_kpi(clm_api *a, long days, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX], count[24];
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_KPI_HISTORY);
    snprintf(count, sizeof(count), "%ld", days);
    const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", count };
    redisReply *r = clm_api_cmd(a, 6, argv, err, errsize);
    if (!r)
        return NULL;
    json_t *list = json_array();
    /* newest first from Redis: the answer is oldest first */
    for (size_t i = r->elements; list && i-- > 0;) {
        const redisReply *e = r->element[i];
        json_t *day;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            !(day = clm_api_hash_object(e->element[1])) ||
            json_array_append_new(list, day) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    freeReplyObject(r);
    json_t *o = list ? json_pack("{s:o}", "days", list) : NULL;
    if (!o)
        snprintf(err, errsize, "%s: unexpected reply or out of memory", key);
    return o;
}

json_t *clm_api_kpi_windows(clm_api *a, char *err, size_t errsize)
{
    json_t *w = json_object();
    for (size_t i = 0; w && i < a->cfg->kpi_window_count; i++) {
        char key[CLM_KEY_MAX], name[24];
        clm_key_kpi(key, sizeof(key), a->cfg->redis_prefix, a->cfg->kpi_windows[i]);
        snprintf(name, sizeof(name), "%dd", a->cfg->kpi_windows[i]);
        const char *argv[] = { "HGETALL", key };
        redisReply *r = clm_api_cmd(a, 2, argv, err, errsize);
        if (!r) {
            json_decref(w);
            return NULL;
        }
        if (r->elements && json_object_set_new(w, name, clm_api_hash_object(r)) < 0) {
            json_decref(w);
            w = NULL;
        }
        freeReplyObject(r);
    }
    json_t *o = w ? json_pack("{s:o}", "windows", w) : NULL;
    if (!o)
        snprintf(err, errsize, "out of memory");
    return o;
}

/* The stored document checked against the contract, with share[k] =
 * retained[k] / size added to each cohort. */
static int check_cohorts(json_t *doc)
{
    json_t *list = json_object_get(doc, "cohorts"), *c;
    size_t i;
    if (!json_is_string(json_object_get(doc, "period")) || !json_is_array(list))
        return -EIO;
    json_array_foreach(list, i, c) {
        json_t *size = json_object_get(c, "size"), *ret = json_object_get(c, "retained"), *v;
        json_t *share;
        size_t k;
        if (!json_is_string(json_object_get(c, "start")) || !json_is_integer(size) ||
            !json_is_array(ret))
            return -EIO;
        if (!(share = json_array()) || json_object_set_new(c, "share", share) < 0)
            return -ENOMEM; /* set_new released share */
        json_array_foreach(ret, k, v) {
            if (!json_is_integer(v))
                return -EIO;
            json_int_t n = json_integer_value(size);
            if (json_array_append_new(share, n > 0 ? json_real((double)json_integer_value(v) /
                                                                (double)n)
                                                   : json_null()) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

json_t *clm_api_cohorts(clm_api *a, char *err, size_t errsize)
{
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), a->cfg->redis_prefix, CLM_KEY_KPI_COHORTS);
    const char *argv[] = { "GET", key };
    redisReply *r = clm_api_cmd(a, 2, argv, err, errsize);
    if (!r)
        return NULL;
    json_t *doc;
    if (r->type != REDIS_REPLY_STRING) {
        doc = json_pack("{s:n,s:[]}", "period", "cohorts");
    } else {
        json_error_t je;
        doc = json_loads(r->str, 0, &je);
        if (!doc || check_cohorts(doc) < 0) {
            snprintf(err, errsize, "%s: not the cohort document (period, cohorts[start, size, "
                     "retained])", key);
            json_decref(doc);
            doc = NULL;
        }
    }
    freeReplyObject(r);
    return doc;
}
