/* net/redis_cluster_int.h - what the files of the cluster client share
 * (redis_cluster.c: nodes, connections, seeds; redis_cluster_map.c: the
 * slot map; redis_cluster_cmd.c: commands and redirects). Not for callers:
 * they use net/redis_cluster.h. */
#ifndef CLM_NET_REDIS_CLUSTER_INT_H
#define CLM_NET_REDIS_CLUSTER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/redis_cluster.h"

#define HOST_MAX 256       /* a DNS name is at most 253 bytes */
#define MAX_REDIRECTS 16   /* redirects and retries of one command */
#define MAX_NODES 4096     /* nodes ever seen by one client */
#define NO_NODE 0xffff     /* a slot no master serves */

/* A node of the cluster, seen as a seed, in a map or in a redirect. Nodes
 * are never removed, so an index into c->nodes stays valid (a pointer does
 * not: the array grows). */
typedef struct cluster_node {
    char host[HOST_MAX];
    int port;
    redisContext *ctx;  /* NULL until connected */
    clm_tls_link *link; /* with tls: the pump behind ctx */
} cluster_node;

/* The strings of clm_cluster_opts, copied. */
enum { S_SEEDS, S_USER, S_PASSWORD, S_CA, S_CERT, S_KEY, S_NAME, S_COUNT };

struct clm_cluster {
    clm_cluster_opts o;
    char *s[S_COUNT];
    cluster_node *nodes;
    int nnodes, cap;
    int nseeds;          /* the seeds are nodes 0 .. nseeds-1 */
    uint16_t *map;       /* CLM_CLUSTER_SLOTS node indices, NO_NODE for none */
    int *masters;        /* the map's masters, in slot order */
    int nmasters;
    bool have_map, stale;
    unsigned long refreshes;
};

/* The index of the node at host:port, added when new; -ENOMEM, -ENOSPC
 * (MAX_NODES), -EINVAL (host too long). */
int cluster_node_index(clm_cluster *c, const char *host, int port);

/* The index of the node whose context is ctx, -1 when none. */
int cluster_node_of(const clm_cluster *c, const redisContext *ctx);

/* The node's context, connected (and AUTHed) when it has none. NULL with
 * errbuf on failure. */
redisContext *cluster_node_connect(clm_cluster *c, int i, char *errbuf, size_t errsize);

/* Closes the node's connection, if any. */
void cluster_node_close(cluster_node *n);

/* "host:port", IPv6 hosts in brackets. */
void cluster_fmt_addr(const char *host, int port, char *buf, size_t size);

#endif
