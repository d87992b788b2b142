/* daemon/api_impl.h - what the files of the JSON API share (daemon/api.h).
 * Internal: api.c (handle, routing), api_read.c (endpoints), api_breakdown.c,
 * api_gauges.c. */
#ifndef CLM_DAEMON_API_IMPL_H
#define CLM_DAEMON_API_IMPL_H

#include <jansson.h>
#include <pthread.h>

#include "daemon/api.h"

struct clm_api {
    const clm_config *cfg;
    clm_redis *redis;
    pthread_mutex_t lock;
    uint64_t rate_consumed; /* events/s: the previous health answer's count */
    long long rate_at_ms;   /* and when (monotonic), 0: none yet */
};

/* One keyed command (its key is argv[1]); NULL with errbuf after an I/O
 * error (the connection is dropped and made again next time) or an error
 * reply. */
redisReply *clm_api_cmd(clm_api *a, int argc, const char **argv, char *errbuf, size_t errsize);

/* The JSON number a stored decimal text stands for (an integer when it is
 * one), NULL when the text is not a finite number. */
json_t *clm_api_number(const char *s);

/* A whole query argument in lo..hi, or def when absent; -1 when malformed. */
long clm_api_arg_long(clm_api_arg_fn arg, void *ctx, const char *name, long def, long lo, long hi);

/* The last day of the KPI windows: window_end of <prefix>kpi:<first window>d,
 * else today (UTC wall clock). */
int clm_api_end_day(clm_api *a, int64_t *day, char *errbuf, size_t errsize);

/* A HGETALL reply as an object of numbers (text where not a number);
 * NULL on ENOMEM. */
json_t *clm_api_hash_object(const redisReply *r);

/* Endpoints (api_read.c): each returns the answer, or NULL with errbuf and
 * *status (400 bad argument, 502 Redis). */
json_t *clm_api_funnel(clm_api *a, long days, char *errbuf, size_t errsize);
json_t *clm_api_kpi(clm_api *a, long days, char *errbuf, size_t errsize);
json_t *clm_api_kpi_windows(clm_api *a, char *errbuf, size_t errsize);
json_t *clm_api_cohorts(clm_api *a, char *errbuf, size_t errsize);
json_t *clm_api_at_risk(clm_api *a, long limit, char *errbuf, size_t errsize);
json_t *clm_api_alerts(clm_api *a, long limit, char *errbuf, size_t errsize);
json_t *clm_api_health(clm_api *a, const clm_api_live *live, char *errbuf, size_t errsize);
/* api_breakdown.c: the check of a dim argument (-EINVAL with errbuf naming
 * the configured dimensions; NULL, no dim given, passes) and the endpoint
 * (dim NULL: the list of configured dimensions). */
int clm_api_breakdown_check(clm_api *a, const char *dim, char *errbuf, size_t errsize);
json_t *clm_api_breakdown(clm_api *a, const char *dim, long days, char *errbuf, size_t errsize);

#endif
