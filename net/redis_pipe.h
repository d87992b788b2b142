/* net/redis_pipe.h - a pipeline of keyed commands over one Redis server or
 * a Redis Cluster, so the code that reads and writes the store is the same
 * for both.
 *
 * Every command names the argument that is its key. Commands queue in
 * order, each sent to the node that serves its key (the one server, or the
 * master of the key's slot: net/redis_cluster.h), and their replies come
 * back in the same order. On a cluster, a reply that redirects is followed
 * by sending that command again: MOVED (the slot map is read again), ASK
 * (ASKING first, on the node named), TRYAGAIN and CLUSTERDOWN (after a
 * pause). So queue reads, and writes that set a value or are otherwise
 * safe to run again; a transaction goes to one node (clm_cluster_for_key).
 * Commands every node must run (SCAN) go to a node by its index.
 *
 * The pipe does not own the connection: the caller points it at a context
 * (clm_rpipe_use_ctx, again after each reconnect) or a cluster. After an
 * error (-EIO) the caller resets the pipe (clm_rpipe_reset), which, on a
 * cluster, closes the node connections that still had replies coming, and
 * reconnects as it normally would. Errors go into the caller's buffer;
 * nothing is logged. Not thread-safe: one per thread.
 */
#ifndef CLM_NET_REDIS_PIPE_H
#define CLM_NET_REDIS_PIPE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/redis_cluster.h"

typedef struct clm_rpipe clm_rpipe;

/* NULL on ENOMEM. */
clm_rpipe *clm_rpipe_new(void);
void clm_rpipe_free(clm_rpipe *p);

/* Commands go to this context from now on (the queue must be empty). */
void clm_rpipe_use_ctx(clm_rpipe *p, redisContext *ctx);

/* Commands go to this cluster's nodes (the queue must be empty). */
void clm_rpipe_use_cluster(clm_rpipe *p, clm_cluster *cl);

/* True when pointed at a cluster. */
bool clm_rpipe_is_cluster(const clm_rpipe *p);

/* Queues a command whose key is argv[keyarg] (keyarg < 0: no key, any
 * node). lens may be NULL. Returns 0, or -EIO / -ENOMEM with errbuf. */
int clm_rpipe_append(clm_rpipe *p, int keyarg, int argc, const char **argv, const size_t *lens,
                     char *errbuf, size_t errsize);

/* Queues a command already in RESP form (len bytes at cmd, copied) whose
 * key is key[0..klen). Returns 0, or -EIO / -ENOMEM with errbuf. */
int clm_rpipe_append_raw(clm_rpipe *p, const char *key, size_t klen, const char *cmd, size_t len,
                         char *errbuf, size_t errsize);

/* The number of nodes holding keys (1 on one server, the masters on a
 * cluster), or -EIO with errbuf. */
int clm_rpipe_nodes(clm_rpipe *p, char *errbuf, size_t errsize);

/* Queues a command for node `node` (0 .. clm_rpipe_nodes() - 1), without
 * following redirects (SCAN and other per-node commands). */
int clm_rpipe_append_node(clm_rpipe *p, int node, int argc, const char **argv, const size_t *lens,
                          char *errbuf, size_t errsize);

/* The reply of the oldest queued command (the caller frees it; it may be an
 * ordinary error reply). Returns 0, or -EIO with errbuf. */
int clm_rpipe_reply(clm_rpipe *p, redisReply **out, char *errbuf, size_t errsize);

/* Commands queued whose replies were not read yet. */
size_t clm_rpipe_pending(const clm_rpipe *p);

/* append, then reply: the reply, or NULL with errbuf (the pipe is reset). */
redisReply *clm_rpipe_command(clm_rpipe *p, int keyarg, int argc, const char **argv,
                              const size_t *lens, char *errbuf, size_t errsize);

/* Forgets the queue after an error; on a cluster, closes the connections
 * with replies outstanding and has the slot map read again. */
void clm_rpipe_reset(clm_rpipe *p);

/* True when an error reply means the slot is elsewhere or moving (MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN): try again after the map is read again. */
bool clm_rpipe_redirected(const char *err);

#endif
