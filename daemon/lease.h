/* daemon/lease.h - one holder at a time: a Redis key as a lease.
 *
 * The key holds the holder's random token and expires after ttl_ms unless
 * renewed. Taking it is SET NX PX; renewing and releasing are scripts that
 * act only while the key still holds this token, so a holder that lost the
 * lease (it expired, another took it) can neither extend nor delete the
 * new holder's. Callers that write on the strength of the lease WATCH the
 * key and check it still holds their token (clm_lease_mine) inside the
 * transaction.
 *
 * Commands go through a pipe of keyed commands (net/redis_pipe.h), on one
 * server or Redis Cluster. Not thread-safe: one owner.
 */
#ifndef CLM_DAEMON_LEASE_H
#define CLM_DAEMON_LEASE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/redis_pipe.h"
#include "store/keys.h"

typedef struct clm_lease {
    char key[CLM_KEY_MAX];
    char token[33]; /* 32 random hex digits */
    int ttl_ms;
    bool held;      /* as of the last clm_lease_hold */
} clm_lease;

/* Copies key, draws a token. Returns 0, -ENAMETOOLONG or -errno of
 * getrandom (errbuf says why). */
int clm_lease_init(clm_lease *l, const char *key, int ttl_ms, char *errbuf, size_t errsize);

/* Takes the lease when free, or renews it when held. Returns 1 (held), 0
 * (another holds it), or -EIO (the command failed: drop the connection;
 * errbuf says why; the lease counts as not held). */
int clm_lease_hold(clm_lease *l, clm_rpipe *rc, char *errbuf, size_t errsize);

/* Gives the lease up if this holder still has it; best effort. */
void clm_lease_release(clm_lease *l, clm_rpipe *rc);

/* True when value (a GET of the key) is this holder's token. */
bool clm_lease_mine(const clm_lease *l, const char *value);

#endif
