/* net/redis_cluster.h - a client of a Redis Cluster on top of hiredis 0.14.
 *
 * Keeps the cluster's slot map (which master serves each of the 16384 slots,
 * read with CLUSTER SLOTS) and one blocking connection per node, opened on
 * demand (plain TCP, or TLS through net/redis_tls.h) and AUTHed when a
 * password is set. Commands are routed by the slot of their key
 * (net/slot.h) and follow the cluster's redirections: MOVED (the map is
 * read again and the command re-sent to the new owner), ASK (ASKING, then
 * the command on the node importing the slot), TRYAGAIN and CLUSTERDOWN
 * (retried after a short pause). Contexts handed out stay owned by the
 * cluster: the caller never frees them, and tells the cluster about an I/O
 * or protocol error on one with clm_cluster_drop.
 *
 * Errors are negative errno values with one line for humans in the caller's
 * errbuf, naming the node; nothing is logged. Not thread-safe: one
 * clm_cluster per thread (the contexts are plain hiredis contexts). The
 * process should ignore SIGPIPE (as for net/redis_tls.h).
 */
#ifndef CLM_NET_REDIS_CLUSTER_H
#define CLM_NET_REDIS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/redis_tls.h"
#include "net/slot.h"

typedef struct clm_cluster_opts {
    const char *seeds;      /* "host:port[,host:port...]" (IPv6 as [::1]:7000) */
    int timeout_ms;         /* connect and command timeout; <= 0: 2000 */
    const char *user;       /* NULL/"": AUTH password; else AUTH user password */
    const char *password;   /* NULL: no AUTH */
    bool tls;               /* connect with net/redis_tls.h clm_tls_connect */
    clm_tls_opts tls_opts;
} clm_cluster_opts;

typedef struct clm_cluster clm_cluster;

/* Parses the seeds and copies everything in o; connects nowhere. Returns 0
 * with *out; -EINVAL when a seed does not parse (errbuf names the seed and
 * says what was expected, e.g. "cluster seed 2 \"localhost\" in
 * \"a:1,localhost\": expected host:port, e.g. 127.0.0.1:7000 or [::1]:7000
 * (no port)"); -ENOMEM. *out untouched on failure. Seeds may be surrounded
 * by blanks. */
int clm_cluster_new(const clm_cluster_opts *o, clm_cluster **out, char *errbuf, size_t errsize);

/* Closes every connection and frees; accepts NULL. */
void clm_cluster_free(clm_cluster *c);

/* Reads CLUSTER SLOTS from a known node (the last map's masters first, then
 * the seeds; the first that answers with a map) and replaces the slot map
 * with its masters. A node whose endpoint is reported unknown (NULL, "" or
 * "?") is taken to be at the host that answered. Returns 0; -EIO when no
 * node answered with a map (errbuf: the last node's error, such as a
 * connection refused or LOADING); -EPROTO when a node answered but is not
 * a cluster (errbuf quotes it, e.g. "ERR This instance has cluster support
 * disabled") or its reply does not parse; -ENXIO when some slot has no
 * master (the map is installed all the same, still marked stale, and
 * errbuf names the first such slot). */
int clm_cluster_refresh(clm_cluster *c, char *errbuf, size_t errsize);

/* The connected context of the master serving slot (0..16383), refreshing
 * the map first when there is none or it is stale, connecting (and AUTHing)
 * when needed. NULL with errbuf on failure. */
redisContext *clm_cluster_for_slot(clm_cluster *c, int slot, char *errbuf, size_t errsize);

/* clm_cluster_for_slot of clm_slot_of(key, len). */
redisContext *clm_cluster_for_key(clm_cluster *c, const char *key, size_t len, char *errbuf,
                                  size_t errsize);

/* A connection to the node at host:port (a redirect's target), opened when
 * there is none. NULL with errbuf on failure. */
redisContext *clm_cluster_at(clm_cluster *c, const char *host, int port, char *errbuf,
                             size_t errsize);

/* After an I/O or protocol error on ctx (a context this cluster returned):
 * closes it and marks the map stale. ctx is invalid afterwards. Unknown
 * contexts and NULL are ignored. */
void clm_cluster_drop(clm_cluster *c, redisContext *ctx);

/* Marks the map stale: the next clm_cluster_for_slot refreshes first. */
void clm_cluster_stale(clm_cluster *c);

/* Parses a redirection error string (a reply's str, without the '-'):
 * "MOVED 3999 127.0.0.1:6381" -> 1, "ASK 3999 127.0.0.1:6381" -> 2, with
 * *slot, host and *port set; anything else -> 0 and outputs untouched. host
 * is "" when the node answered "MOVED 3999 :6381" (Redis 7 with an unknown
 * endpoint): the target is then on the host of the node that answered, at
 * that port (clm_cluster_command does this itself). An IPv6 host comes
 * back without brackets ("::1"). A host longer than hostsize-1 -> 0. */
int clm_cluster_redirect(const char *err, int *slot, char *host, size_t hostsize, int *port);

/* Runs one command whose key is argv[keyarg] (keyarg < 0: on the master of
 * slot 0), routed by slot, following MOVED (map refreshed, command re-sent
 * to the node MOVED names) and ASK (ASKING then the command on the target,
 * the map unchanged), retrying TRYAGAIN and CLUSTERDOWN after a short pause
 * (50 ms doubling up to 1 s), and a node that cannot be connected to after
 * a refresh: at most 16 redirects and retries in all. lens may be NULL (C
 * strings). Returns the reply, which the caller frees with freeReplyObject
 * (it may be an ordinary error reply such as WRONGTYPE); or NULL with
 * errbuf: at once when the map cannot be read because the nodes are not a
 * cluster (clm_cluster_refresh's -EPROTO); when the connection fails after
 * the command was sent (then the connection is dropped and the map marked
 * stale, but the command is not re-sent: it may have run; calling again is
 * safe for idempotent commands); when the redirects and retries run out
 * (nodes unreachable or no master for the slot all along: about 13 s of
 * pauses in all). Redirects after the fourth pause too. */
redisReply *clm_cluster_command(clm_cluster *c, int keyarg, int argc, const char **argv,
                                const size_t *lens, char *errbuf, size_t errsize);

/* The masters of the current map (refreshing first when stale), in slot
 * order: up to max of them, their "host:port" ("[::1]:7000" for IPv6) into
 * addr[i] and, when ctx is not NULL, their contexts into ctx[i] (connected
 * on demand) - for commands every master must run, such as SCAN. Either
 * array may be NULL. Returns the number of masters (which may exceed max:
 * only max are filled) or -errno with errbuf. */
int clm_cluster_masters(clm_cluster *c, redisContext **ctx, char (*addr)[64], int max,
                        char *errbuf, size_t errsize);

/* The master serving slot in the current map, without refreshing or
 * connecting: 0 with host and *port, or -ENOENT when the map has none. */
int clm_cluster_slot_owner(const clm_cluster *c, int slot, char *host, size_t hostsize,
                           int *port);

/* How many times the slot map was replaced (successful refreshes). */
unsigned long clm_cluster_refreshes(const clm_cluster *c);

#endif
