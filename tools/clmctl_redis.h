/* tools/clmctl_redis.h - the Redis reads clmctl is made of: one connection
 * (or a Redis Cluster client), whole hashes, key scans.
 *
 * clmctl runs one command and exits, so the connection is made once, with no
 * retry: an unreachable Redis is an error at once. Reads go through a
 * clm_rpipe (net/redis_pipe.h) naming their key, so they work the same on
 * one server and on a cluster. Every int-returning
 * function returns 0 or a negative errno with one line for people in errbuf
 * (output parameters untouched on failure).
 */
#ifndef CLMCTL_REDIS_H
#define CLMCTL_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/redis_cluster.h"
#include "net/redis_pipe.h"
#include "net/redis_tls.h"

typedef struct clmctl_target {
    const char *host;     /* a leading '/' names a unix socket */
    int port;             /* unused with a unix socket */
    int db;               /* SELECTed when not 0 */
    int timeout_ms;       /* connect and command timeout */
    const char *password; /* NULL: no AUTH */
    const char *user;     /* NULL or "": AUTH password; else AUTH user password */
    bool tls;             /* TCP over TLS (net/redis_tls.h), verified with tls_opts */
    clm_tls_opts tls_opts;
} clmctl_target;

/* A connection: the hiredis context and, over TLS, its pump. */
typedef struct clmctl_conn {
    redisContext *rc;
    clm_tls_link *link; /* NULL without TLS */
} clmctl_conn;

/* Connects, authenticates and selects the database. On failure returns
 * -ECONNREFUSED (or -EACCES when AUTH or SELECT is refused, -ENOMEM) and
 * writes "cannot reach Redis at HOST:PORT: <reason>" into errbuf (HOST alone
 * for a socket). The caller frees *out with clmctl_disconnect. */
int clmctl_connect(const clmctl_target *t, clmctl_conn *out, char *errbuf, size_t errsize);

/* Closes a connection made by clmctl_connect; a zeroed one is a no-op. */
void clmctl_disconnect(clmctl_conn *c);

/* A client of the Redis Cluster at `seeds` ("host:port[,host:port...]"),
 * with t's timeout, user, password and TLS options (t's host, port and db
 * are not used), whose slot map was read once. `what` names where the seeds
 * came from in messages ("--cluster", "redis.cluster"). On failure returns
 * -EINVAL when a seed does not parse (errbuf names it), -EPROTO when the
 * node answering is not a cluster, -ECONNREFUSED when no seed answers,
 * -ENXIO when some slot has no master, -ENOMEM. The caller frees *out
 * with clm_cluster_free. */
int clmctl_cluster_connect(const clmctl_target *t, const char *seeds, const char *what,
                           clm_cluster **out, char *errbuf, size_t errsize);

/* Runs one command whose key is argv[keyarg] (argv[1] names it in
 * messages) through p. Returns 0 and sets *out to a reply that is not an
 * error (free it with freeReplyObject), or -EIO on a lost connection or an
 * error reply (the pipe is then reset). */
int clmctl_command(clm_rpipe *p, int keyarg, int argc, const char **argv, redisReply **out,
                   char *errbuf, size_t errsize);

/* A hash read whole with HGETALL; fields in byte order. */
typedef struct clmctl_hash clmctl_hash;

/* Reads key. A key that does not exist gives an empty hash (count 0).
 * -EIO on a lost connection or an error reply (a key of another type). */
int clmctl_hash_read(clm_rpipe *p, const char *key, clmctl_hash **out, char *errbuf,
                     size_t errsize);

/* A hash of the field/value pairs of an array reply (an HGETALL reply, or
 * the fields of a stream entry); a field given twice is kept twice. 0 or
 * -ENOMEM. */
int clmctl_hash_of_pairs(const redisReply *pairs, clmctl_hash **out);

/* Frees a hash; accepts NULL. */
void clmctl_hash_free(clmctl_hash *h);

size_t clmctl_hash_count(const clmctl_hash *h);

/* The i-th field (i < count) in byte order, and its value. */
const char *clmctl_hash_field(const clmctl_hash *h, size_t i);
const char *clmctl_hash_value(const clmctl_hash *h, size_t i);

/* The value of field, or NULL when the hash has no such field. */
const char *clmctl_hash_get(const clmctl_hash *h, const char *field);

/* Parses a stored value as a decimal int64 (optional '-', digits only, the
 * whole string). Returns 0 and sets *out, or -EINVAL (also for NULL). */
int clmctl_parse_i64(const char *s, int64_t *out);

/* Every key matching a SCAN glob pattern, in byte order, each a malloc'ed
 * string in a malloc'ed array of *n entries: SCANned on every node that
 * holds keys (on a cluster, each master). Free with clmctl_keys_free.
 * -EIO on a lost connection or an error reply. */
int clmctl_scan(clm_rpipe *p, const char *pattern, char ***out, size_t *n, char *errbuf,
                size_t errsize);

void clmctl_keys_free(char **keys, size_t n);

/* Writes s with every glob metacharacter (* ? [ ] \) escaped, so that it
 * matches only itself in a SCAN pattern. Returns the length written, or
 * -ENOSPC when size is too small. */
int clmctl_glob_escape(const char *s, char *buf, size_t size);

#endif
