/* daemon/preflight.c - see preflight.h. */
#include "daemon/preflight.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config/schema.h"
#include "daemon/kafka_conf.h"

/* Customers each worker's cache must be able to hold (a run of cache misses). */
#define MIN_PER_WORKER 2048

size_t clm_preflight_workers(const clm_config *cfg)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    return cfg->core_workers > 0 ? (size_t)cfg->core_workers : (size_t)(ncpu > 0 ? ncpu : 1);
}

int clm_preflight(const clm_config *cfg, char *errbuf, size_t errsize)
{
    const char *file = cfg->path ? cfg->path : "built-in defaults";
    size_t nworkers = clm_preflight_workers(cfg);
    if ((size_t)cfg->core_max_customers / nworkers < MIN_PER_WORKER) {
        clm_cfg_errorf(errbuf, errsize, "%s: core.max_customers: %lld is too small for %zu "
                       "workers (expected at least %zu)", file,
                       (long long)cfg->core_max_customers, nworkers, nworkers * MIN_PER_WORKER);
        return -EINVAL;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (cfg->http_port > 0 && inet_pton(AF_INET, cfg->http_listen, &a4) != 1 &&
        inet_pton(AF_INET6, cfg->http_listen, &a6) != 1) {
        clm_cfg_errorf(errbuf, errsize, "%s: http.listen: \"%s\" is not an IPv4 or IPv6 address",
                       file, cfg->http_listen);
        return -EINVAL;
    }
    return clm_kafka_conf_check(cfg, errbuf, errsize);
}
