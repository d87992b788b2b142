/* daemon/redis.h - one Redis connection that survives outages.
 *
 * Wraps a hiredis context: connects (TCP, TLS through net/redis_tls.h, or a
 * unix socket), authenticates with the password from the secrets file (never
 * logged) as the ACL user when one is configured, selects the database,
 * and applies the command timeout. After any I/O or protocol error the
 * caller calls clm_redis_drop(); clm_redis_get() reconnects, pacing attempts
 * with an exponential backoff (100 ms doubling to 5 s).
 *
 * Not thread-safe: one connection per thread.
 */
#ifndef CLM_DAEMON_REDIS_H
#define CLM_DAEMON_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/redis_pipe.h"
#include "net/redis_tls.h"

typedef struct clm_redis clm_redis;

typedef struct clm_redis_opts {
    const char *cluster; /* NULL or "": one server at host:port; else Redis
                            Cluster seed nodes "host:port[,host:port...]"
                            (net/redis_cluster.h; host, port and db unused) */
    const char *host; /* "/..." means a unix socket */
    int port;
    int db;
    int timeout_ms;
    const char *password; /* NULL: no AUTH */
    const char *user;     /* NULL or "": AUTH password; else AUTH user password */
    bool tls;             /* TCP over TLS, verified with tls_opts */
    clm_tls_opts tls_opts;
} clm_redis_opts;

/* Copies the options; connects lazily. Returns NULL on ENOMEM. */
clm_redis *clm_redis_new(const clm_redis_opts *o);
void clm_redis_free(clm_redis *r);

/* The live context, connecting first if needed (one server only: on Redis
 * Cluster use the keyed calls below). Returns NULL while Redis is
 * unreachable or the backoff delay has not passed; then errbuf says why. A
 * refused password, or a server that needs one when none is configured, is
 * named as such (never showing the password). */
redisContext *clm_redis_get(clm_redis *r, char *errbuf, size_t errsize);

/* Closes the connection after an error (on Redis Cluster: every node
 * connection with replies outstanding, and the slot map is read again);
 * the next use reconnects. Forgets queued commands. */
void clm_redis_drop(clm_redis *r);

/* ---- keyed commands: one server or Redis Cluster ------------------------
 *
 * Every command a component sends names its key (net/redis_pipe.h), so the
 * same code runs against one server and against a cluster; a transaction
 * goes to the one node serving its slot (clm_redis_get_key). */

/* True with redis.cluster set. */
bool clm_redis_is_cluster(const clm_redis *r);

/* The pipeline of keyed commands, connected (one server: connecting first,
 * as clm_redis_get). NULL with errbuf while Redis is unreachable. After an
 * error on it, call clm_redis_drop. */
clm_rpipe *clm_redis_pipe(clm_redis *r, char *errbuf, size_t errsize);

/* The live context that serves `key` (the only one on one server): for a
 * transaction whose keys share its slot. NULL with errbuf as
 * clm_redis_get. */
redisContext *clm_redis_get_key(clm_redis *r, const char *key, size_t len, char *errbuf,
                                size_t errsize);

/* After an I/O error on a context from clm_redis_get_key: clm_redis_drop,
 * and on Redis Cluster that node's connection closes too. */
void clm_redis_drop_ctx(clm_redis *r, redisContext *c);

/* A redirect or TRYAGAIN was seen on a context from clm_redis_get_key
 * (inside a transaction): the slot map is read again before the next use.
 * No effect on one server. */
void clm_redis_stale(clm_redis *r);

/* Waits until the writes sent so far on the connection serving `key` (key
 * NULL: on every master)
 * reach at least one replica, on nodes that have replicas (ROLE). Returns
 * 0; -EAGAIN when a node with replicas had none acknowledge within
 * timeout_ms (errbuf names it); -EIO (then clm_redis_drop). */
int clm_redis_wait_replicas(clm_redis *r, const char *key, size_t len, int timeout_ms,
                            char *errbuf, size_t errsize);



/* True while a context is open. */
bool clm_redis_connected(const clm_redis *r);

/* True when an error reply (its text) means Redis refuses writes for now
 * and will take them again once an operator acts, with clmd changing
 * nothing: "OOM" (used memory above maxmemory under the noeviction policy)
 * or "MISCONF" (its last RDB save or an AOF write failed). Redis refuses
 * such commands when they are queued, so a transaction that got one runs
 * nothing (EXEC answers EXECABORT): retrying it later loses nothing. */
bool clm_redis_write_refused(const char *err);

/* Checks that the server never evicts keys: its maxmemory-policy (read with
 * INFO memory, which managed services allow more often than CONFIG GET)
 * must be noeviction, whatever maxmemory is (it can be set at any time).
 * An evicted progress key makes its partition replay from the start, an
 * evicted checkpoint brings a customer back reset. Returns 0; -EINVAL when
 * the policy evicts (errbuf names it and the fix); -ENOTSUP when the server
 * does not tell (errbuf says why); -EIO when the connection failed. */
int clm_redis_check_noeviction(redisContext *c, char *errbuf, size_t errsize);

/* clm_redis_check_noeviction on the one server, or on every master of the
 * cluster (errbuf names the first master that fails; a master that evicts
 * decides over one that does not tell). Returns as
 * clm_redis_check_noeviction; after -EIO the caller calls clm_redis_drop. */
int clm_redis_check_noeviction_all(clm_redis *r, char *errbuf, size_t errsize);

/* Successful connections made by every clm_redis of the process (the first
 * connection of each counts too). Any thread. */
unsigned long long clm_redis_connects_total(void);

/* Monotonic milliseconds (shared clock of the daemon). */
long long clm_now_ms(void);

/* Wall-clock epoch milliseconds (emission times, fallback message times). */
long long clm_wall_ms(void);

#endif
