/* tests/harness_cluster_int.h - what the files of the cluster harness share
 * (harness_cluster.c: processes and lifecycle; harness_cluster_slots.c: the
 * map as the nodes see it, failover, slot migration). Not for tests: they
 * use tests/harness_cluster.h. */
#ifndef CLM_TESTS_HARNESS_CLUSTER_INT_H
#define CLM_TESTS_HARNESS_CLUSTER_INT_H

#include <limits.h>
#include <stdbool.h>

#include "tests/harness.h"
#include "tests/harness_cluster.h"

#define MAX_NODES 16
#define SIG_MAX 4096

typedef struct cnode {
    int port;
    char dir[PATH_MAX];
    char id[64];        /* CLUSTER MYID */
    harness_proc *proc; /* NULL once killed or stopped */
} cnode;

struct harness_cluster {
    int n, masters, replicas;
    cnode node[MAX_NODES];
    char seeds[MAX_NODES * 24];
    /* the migration under way: slot, source and target nodes; slot -1 when none */
    int mig_slot, mig_src, mig_dst;
    char password[64];       /* requirepass; "" for none */
    char tls_dir[PATH_MAX];  /* TLS only, certificates there; "" for plain TCP */
};

/* What node i says: state ok, its map as "lo-hi:port[/replicas];..." and the
 * master port of slot (0 when none). -EIO when it does not answer. */
typedef struct view {
    bool ok;
    char sig[SIG_MAX];
    int owner;
} view;

/* Runs a command on node i expecting no error; the reply into *out when out
 * is not NULL (the caller frees it). */
int cluster_node_cmd(harness_cluster *h, int i, redisReply **out, char *errbuf, size_t errsize,
                     int argc, const char **argv);

/* The node listening on port, -1 when none. */
int cluster_node_at(const harness_cluster *h, int port);

/* What node i says (see view); slot -1 when no owner is wanted. */
int cluster_node_view(harness_cluster *h, int i, int slot, bool replicas, view *v, char *errbuf,
                      size_t errsize);

/* Waits up to timeout_ms until every running node is ok with the same map
 * (each master with h->replicas replicas when `replicas`), and the owner
 * of slot is `want` (> 0) or is not `not` (> 0). Returns the owner. */
int cluster_wait_agreed(harness_cluster *h, int slot, int want, int not, bool replicas,
                        int timeout_ms, char *errbuf, size_t errsize);

#endif
