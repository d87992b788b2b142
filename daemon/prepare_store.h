/* daemon/prepare_store.h - what clmd does to the store before it consumes
 * anything: checks the Redis server (or every master of a cluster) never
 * evicts keys, brings the store to this release's layout (store/upgrade.h;
 * on Redis Cluster daemon/prep_cluster.h) and makes sure the configured
 * consumer group owns the prefix (daemon/owner.h), taking it over when
 * asked.
 *
 * Main thread only, once, at start. Logs what it finds (the program's
 * start-up is its only caller).
 */
#ifndef CLM_DAEMON_PREPARE_STORE_H
#define CLM_DAEMON_PREPARE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config/config.h"
#include "core/customer.h"
#include "daemon/redis.h"
#include "store/upgrade.h"

/* Waits for Redis as long as it takes (or until *stop). Returns 0 with *up
 * describing any upgrade, or -1 when the store cannot be used or a stop was
 * asked for (logged). */
int clm_prepare_store(const clm_config *cfg, const clm_redis_opts *ropts,
                      const clm_apply_opts *apply, bool take_over, const atomic_bool *stop,
                      clm_upgrade_report *up);

#endif
