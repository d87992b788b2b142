/* daemon/preflight.h - every check a start makes of a configuration before
 * it connects anywhere.
 *
 * clm_config_load has checked each key and the cross-key rules; what is left
 * depends on this host or on librdkafka: core.max_customers for the number
 * of workers, http.listen an address, the Redis TLS files load
 * (net/redis_tls.h), and each Kafka client's librdkafka
 * configuration (daemon/kafka_conf.h). A start, `clmd --check-config` and a
 * reload (SIGHUP) all call clm_preflight, so what one accepts the others
 * accept; a start can still fail on what only running shows (a port in
 * use, Redis' maxmemory-policy, the prefix's owner).
 */
#ifndef CLM_DAEMON_PREFLIGHT_H
#define CLM_DAEMON_PREFLIGHT_H

#include <stddef.h>

#include "config/config.h"

/* The number of worker threads: core.workers, or one per online CPU. */
size_t clm_preflight_workers(const clm_config *cfg);

/* 0, or -EINVAL with one line in errbuf naming the file, the key, the value
 * and what was expected. */
int clm_preflight(const clm_config *cfg, char *errbuf, size_t errsize);

#endif
