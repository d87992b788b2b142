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

#include "net/redis_tls.h"

typedef struct clm_redis clm_redis;

typedef struct clm_redis_opts {
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

/* The live context, connecting first if needed. Returns NULL while Redis is
 * unreachable or the backoff delay has not passed; then errbuf says why. A
 * refused password, or a server that needs one when none is configured, is
 * named as such (never showing the password). */
redisContext *clm_redis_get(clm_redis *r, char *errbuf, size_t errsize);

/* Closes a context after an error; the next clm_redis_get() reconnects. */
void clm_redis_drop(clm_redis *r);

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

/* Successful connections made by every clm_redis of the process (the first
 * connection of each counts too). Any thread. */
unsigned long long clm_redis_connects_total(void);

/* Monotonic milliseconds (shared clock of the daemon). */
long long clm_now_ms(void);

/* Wall-clock epoch milliseconds (emission times, fallback message times). */
long long clm_wall_ms(void);

#endif
