/* daemon/preflight.c - see preflight.h. */
#include "daemon/preflight.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config/schema.h"
#include "daemon/kafka_conf.h"
#include "net/redis_tls.h"

/* Customers each worker's cache must be able to hold (a run of cache misses). */
#define MIN_PER_WORKER 2048

size_t clm_preflight_workers(const clm_config *cfg)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    return cfg->core_workers > 0 ? (size_t)cfg->core_workers : (size_t)(ncpu > 0 ? ncpu : 1);
}

/* redis.user and the redis.tls* keys: together, and with files that load. */
static int check_redis(const clm_config *cfg, const char *file, char *errbuf, size_t errsize)
{
    if (cfg->redis_user[0] && !cfg->redis_password) {
        clm_cfg_errorf(errbuf, errsize, "%s: redis.user: \"%s\" is set without a password "
                       "(expected redis.password in the secrets file)", file, cfg->redis_user);
        return -EINVAL;
    }
    const struct {
        const char *key, *value, *expect;
    } files[] = {
        [CLM_TLS_CA_FILE] = { "redis.tls_ca_file", cfg->redis_tls_ca_file,
                              "a PEM file of CA certificates" },
        [CLM_TLS_CERT_FILE] = { "redis.tls_cert_file", cfg->redis_tls_cert_file,
                                "a PEM client certificate, with redis.tls_key_file" },
        [CLM_TLS_KEY_FILE] = { "redis.tls_key_file", cfg->redis_tls_key_file,
                               "the unencrypted PEM private key of redis.tls_cert_file" },
    };
    if (!cfg->redis_tls) {
        const char *set = cfg->redis_tls_server_name[0] ? "redis.tls_server_name" : NULL;
        const char *value = cfg->redis_tls_server_name;
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !set; i++)
            if (files[i].value[0]) {
                set = files[i].key;
                value = files[i].value;
            }
        if (set) {
            clm_cfg_errorf(errbuf, errsize, "%s: %s: \"%s\" is set while redis.tls is false "
                           "(expected redis.tls true, or no %s)", file, set, value, set);
            return -EINVAL;
        }
        return 0;
    }
    if (cfg->redis_host[0] == '/' && !(cfg->redis_cluster && cfg->redis_cluster[0])) {
        /* on Redis Cluster redis.host is not used: the seeds are host:port */
        clm_cfg_errorf(errbuf, errsize, "%s: redis.tls: true does not go with the unix socket "
                       "\"%s\" in redis.host (expected a host name or address)", file,
                       cfg->redis_host);
        return -EINVAL;
    }
    clm_tls_opts to = { .ca_file = cfg->redis_tls_ca_file, .cert_file = cfg->redis_tls_cert_file,
                        .key_file = cfg->redis_tls_key_file };
    clm_tls_file which;
    char why[300];
    int r = clm_tls_check(&to, &which, why, sizeof(why));
    if (r == -ENOMEM) {
        clm_cfg_errorf(errbuf, errsize, "%s: out of memory", file);
        return r;
    }
    if (r < 0)
        clm_cfg_errorf(errbuf, errsize, "%s: %s: \"%s\" %s (expected %s)", file,
                       files[which].key, files[which].value, why, files[which].expect);
    return r;
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
    int r = check_redis(cfg, file, errbuf, errsize);
    return r < 0 ? r : clm_kafka_conf_check(cfg, errbuf, errsize);
}
