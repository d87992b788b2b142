/* daemon/api.c - see api.h: the handle, its connection, the routing and the
 * helpers the endpoints share (api_impl.h). */
#include "daemon/api.h"
#include "daemon/api_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "store/keys.h"

clm_api *clm_api_new(const clm_config *cfg, const clm_redis_opts *ropts, char *errbuf,
                     size_t errsize)
{
    clm_api *a = calloc(1, sizeof(*a));
    if (!a || !(a->redis = clm_redis_new(ropts))) {
        free(a);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

void clm_api_free(clm_api *a)
{
    if (!a)
        return;
    clm_redis_free(a->redis);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

redisReply *clm_api_cmd(clm_api *a, int argc, const char **argv, char *errbuf, size_t errsize)
{
    clm_rpipe *p = clm_redis_pipe(a->redis, errbuf, errsize);
    if (!p)
        return NULL;
    redisReply *r = clm_rpipe_command(p, argc > 1 ? 1 : -1, argc, argv, NULL, errbuf, errsize);
    if (!r) {
        clm_redis_drop(a->redis);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errsize, "%s %s: %s", argv[0], argc > 1 ? argv[1] : "", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

json_t *clm_api_number(const char *s)
{
    char *end;
    if (!s || !*s)
        return NULL;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && errno == 0)
        return json_integer(i);
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return NULL;
    return json_real(d);
}

long clm_api_arg_long(clm_api_arg_fn arg, void *ctx, const char *name, long def, long lo, long hi)
{
    const char *v = arg ? arg(ctx, name) : NULL;
    char *end;
    if (!v)
        return def;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < lo || n > hi)
        return -1;
    return n;
}

int clm_api_end_day(clm_api *a, int64_t *day, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX];
    if (clm_key_kpi(key, sizeof(key), a->cfg->redis_prefix, a->cfg->kpi_windows[0]) < 0) {
        snprintf(errbuf, errsize, "redis.prefix too long");
        return -ENAMETOOLONG;
    }
    const char *argv[] = { "HGET", key, "window_end" };
    redisReply *r = clm_api_cmd(a, 3, argv, errbuf, errsize);
    if (!r)
        return -EIO;
    unsigned y, m, d;
    char tail;
    if (r->type == REDIS_REPLY_STRING) {
        if (sscanf(r->str, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
            d > 31) {
            snprintf(errbuf, errsize, "%s window_end: \"%s\" is not a date", key, r->str);
            freeReplyObject(r);
            return -EIO;
        }
        *day = clm_days_from_civil(y, m, d);
    } else {
        *day = clm_day_of_ms(clm_wall_ms());
    }
    freeReplyObject(r);
    return 0;
}

json_t *clm_api_hash_object(const redisReply *r)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        json_t *n = clm_api_number(v->str);
        if (!n)
            n = json_string(v->str);
        if (!n || json_object_set_new(o, f->str, n) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *error_doc(const char *msg)
{
    json_t *o = json_object();
    if (o && json_object_set_new(o, "error", json_string(msg)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* days and limit: what the page asks for by default, and their bounds */
#define DAYS_DEFAULT 30
#define DAYS_MAX 3660
#define LIMIT_DEFAULT 10
#define LIMIT_MAX 1000

static json_t *route(clm_api *a, const char *path, clm_api_arg_fn arg, void *ctx,
                     const clm_api_live *live, unsigned *status, char *err, size_t errsize)
{
    long days = clm_api_arg_long(arg, ctx, "days", DAYS_DEFAULT, 1, DAYS_MAX);
    long limit = clm_api_arg_long(arg, ctx, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX);
    json_t *o = NULL;
    *status = 200;
    if ((strcmp(path, "funnel") == 0 || strcmp(path, "kpi") == 0 ||
         strcmp(path, "breakdown") == 0) && days < 0) {
        *status = 400;
        snprintf(err, errsize, "days: expected a whole number 1..%d", DAYS_MAX);
        return NULL;
    }
    if ((strcmp(path, "at_risk") == 0 || strcmp(path, "alerts") == 0) && limit < 0) {
        *status = 400;
        snprintf(err, errsize, "limit: expected a whole number 1..%d", LIMIT_MAX);
        return NULL;
    }
    if (strcmp(path, "breakdown") == 0 && clm_api_breakdown_check(a, arg(ctx, "dim"), err, errsize) < 0) {
        *status = 400;
        return NULL;
    }
    if (strcmp(path, "funnel") == 0)
        o = clm_api_funnel(a, days, err, errsize);
    else if (strcmp(path, "breakdown") == 0)
        o = clm_api_breakdown(a, arg(ctx, "dim"), days, err, errsize);
    else if (strcmp(path, "kpi") == 0)
        o = clm_api_kpi(a, days, err, errsize);
    else if (strcmp(path, "kpi/windows") == 0)
        o = clm_api_kpi_windows(a, err, errsize);
    else if (strcmp(path, "cohorts") == 0)
        o = clm_api_cohorts(a, err, errsize);
    else if (strcmp(path, "at_risk") == 0)
        o = clm_api_at_risk(a, limit, err, errsize);
    else if (strcmp(path, "alerts") == 0)
        o = clm_api_alerts(a, limit, err, errsize);
    else if (strcmp(path, "health") == 0 && live)
        o = clm_api_health(a, live, err, errsize);
    else {
        *status = 404;
        snprintf(err, errsize, "no endpoint /api/v1/%s: try funnel, kpi, kpi/windows, cohorts, "
                 "at_risk, alerts, breakdown, health", path);
        return NULL;
    }
    if (!o)
        *status = 502;
    return o;
}

int clm_api_answer(clm_api *a, const char *path, clm_api_arg_fn arg, void *ctx,
                   const clm_api_live *live, unsigned *status, char **body)
{
    char err[512] = "out of memory";
    pthread_mutex_lock(&a->lock);
    json_t *o = route(a, path, arg, ctx, live, status, err, sizeof(err));
    pthread_mutex_unlock(&a->lock);
    if (!o)
        o = error_doc(err);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!text)
        return -ENOMEM;
    *body = text;
    return 0;
}
