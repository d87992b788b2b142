/* daemon/prep_cluster.h - the start-up checks of the store on Redis Cluster.
 *
 * On one server, start-up checks the server (clm_redis_check_noeviction)
 * and brings the store to this release's layout (store/upgrade.h). On a
 * cluster every master holds part of the keys, so each is checked
 * (clm_redis_check_noeviction_all); and the v1 layout, which predates
 * cluster support, is never looked for: the schema key is read, checked as
 * the upgrade checks it, and written when the store is empty.
 *
 * Thread-safety: uses the given clm_redis exclusively.
 */
#ifndef CLM_DAEMON_PREP_CLUSTER_H
#define CLM_DAEMON_PREP_CLUSTER_H

#include <stddef.h>

#include "core/stages.h"
#include "daemon/redis.h"
#include "store/upgrade.h"

/* The schema key <prefix>schema: checked (version and stages) when present,
 * written (HSET, safe to run again) when absent. rep is filled as
 * clm_store_upgrade fills it for a v2 or an empty store. Returns 0, -EIO
 * (then clm_redis_drop), -EAGAIN (Redis refuses writes for now), -EINVAL (errbuf says why and what to do),
 * -ENAMETOOLONG. */
int clm_prep_cluster_schema(clm_redis *r, const char *prefix, const clm_stages *stages,
                            clm_upgrade_report *rep, char *errbuf, size_t errsize);

#endif
