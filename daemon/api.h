/* daemon/api.h - the dashboard's JSON API (/api/v1/...) and the business
 * gauges of /metrics, read from the views and aggregates in Redis.
 *
 * The handle owns a Redis connection of its own (daemon/redis.h: one
 * server or Redis Cluster, every command keyed), used by one thread at a
 * time: the calls below take the handle's lock. Nothing here writes Redis;
 * every key read is named by store/keys.h. An absent key is an empty
 * answer (the page shows "no data yet"), never an error; a key holding
 * something that is not what its writer writes is -EIO with the key named.
 *
 * Endpoints (the path after /api/v1/; README "Dashboard and API"):
 *   funnel?days=N       customers per stage now (<prefix>stage_counts) and
 *                       stage-to-stage conversion over the N days ending at
 *                       the KPI window end (<prefix>transitions:<D>)
 *   kpi?days=N          the last N daily entries of <prefix>kpi:history
 *   kpi/windows         every <prefix>kpi:<N>d of kpi.windows
 *   cohorts             <prefix>kpi:cohorts with each cell's share
 *   at_risk?limit=N     the N riskiest of <prefix>at_risk with their views
 *   alerts?limit=N      the N latest entries of <prefix>alerts
 *   breakdown?dim=trait:<name>&days=N  the breakdown counters of a
 *                       configured dimension for the N days ending at the KPI
 *                       window end, per day and summed per value
 *                       (<prefix>breakdown:trait:<name>:<D>); without
 *                       dim, the configured dimensions (reads nothing)
 *   health              live figures handed in (clm_api_live), events/s (the
 *                       consumed count's change since the previous health
 *                       answer over the time between) and the model status
 *                       (<prefix>model)
 * Numbers are JSON numbers: an integer where the stored text is one, else
 * the decimal read as a double and written with 15 significant digits.
 */
#ifndef CLM_DAEMON_API_H
#define CLM_DAEMON_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/redis.h"

typedef struct clm_api clm_api;

/* What only the running daemon knows, for /api/v1/health. */
typedef struct clm_api_live {
    int64_t lag;              /* messages behind, summed over known partitions; -1: unknown */
    int partitions;           /* assigned */
    uint64_t consumed;        /* messages consumed and flushed so far */
    int64_t last_flush_ms;    /* wall clock of the last flush, 0: none yet */
    uint64_t flushes;
    bool healthy;             /* what /healthz answers */
} clm_api_live;

/* Keeps cfg (which must outlive the handle: prefix, stages, KPI windows)
 * and copies ropts. NULL with errbuf on ENOMEM. */
clm_api *clm_api_new(const clm_config *cfg, const clm_redis_opts *ropts, char *errbuf,
                     size_t errsize);
void clm_api_free(clm_api *a);

/* The value of a query argument, NULL when absent. */
typedef const char *(*clm_api_arg_fn)(void *ctx, const char *name);

/* Answers GET /api/v1/<path>: *status is the HTTP status and *body the
 * JSON text (malloc'd; an {"error": ...} object unless 200). live is used
 * by "health" only (may be NULL elsewhere). Returns 0, or -ENOMEM. */
int clm_api_answer(clm_api *a, const char *path, clm_api_arg_fn arg, void *ctx,
                   const clm_api_live *live, unsigned *status, char **body);

/* The business gauges in the Prometheus text format (HELP and TYPE lines
 * included), malloc'd in *out: clmd_customers{stage}, clmd_at_risk_customers,
 * clmd_kpi{window,kpi} for every numeric field of each <prefix>kpi:<N>d.
 * Returns 0, or a negative errno with errbuf (Redis unreachable: -EIO). */
int clm_api_gauges(clm_api *a, char **out, char *errbuf, size_t errsize);

#endif
