/* tests/harness_cluster.h - a real Redis Cluster for integration tests.
 *
 * masters * (1 + replicas) redis-server processes (from PATH) with
 * --cluster-enabled yes on free 127.0.0.1 ports (the cluster bus port,
 * port + 10000, free too), each in its own temporary directory (its
 * nodes.conf, AOF with fsync always, redis.log), joined with
 * `redis-cli --cluster create`. cluster-node-timeout is 2000 ms, so a
 * killed master's replica takes over within a few seconds.
 *
 * Contract for every int-returning function: 0 (or the value promised) on
 * success, or a negative errno with one line in errbuf naming the node and
 * what it said (output parameters untouched). Nothing skips: a missing
 * redis-server or redis-cli is an error (-ENOENT). Functions are for the
 * test's main thread; other threads may only talk to the nodes.
 */
#ifndef CLM_TESTS_HARNESS_CLUSTER_H
#define CLM_TESTS_HARNESS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct harness_cluster harness_cluster;

/* Starts the nodes, creates the cluster (the first `masters` nodes get the
 * slots in three even ranges, replicas follow them) and waits up to 30 s
 * until every node reports cluster_state:ok and the same slot map, each
 * master with its replicas. Ignores SIGPIPE in the calling process. */
int harness_cluster_start(int masters, int replicas, harness_cluster **out, char *errbuf,
                          size_t errsize);

typedef struct harness_cluster_opts {
    const char *password; /* requirepass; NULL: none */
    const char *tls_dir;  /* NULL: plain TCP; else TLS only (tls-port, tls-cluster), with
                           * ca.crt, server.crt and server.key in that directory */
} harness_cluster_opts;

/* One node with cluster support on and no slots (CLUSTER ADDSLOTS is left
 * to the test), as o says (NULL: plain, no password); waited for until it answers PING (NOAUTH will
 * do), or over TLS until it listens. */
int harness_cluster_start_empty(const harness_cluster_opts *o, harness_cluster **out,
                                char *errbuf, size_t errsize);

/* SIGTERM to every node still running, SIGKILL to those still running 5 s
 * later; removes the directories; frees. Accepts NULL. */
void harness_cluster_stop(harness_cluster *h);

/* "127.0.0.1:p1,127.0.0.1:p2,..." of every node started (killed ones
 * too). Valid until harness_cluster_stop. */
const char *harness_cluster_seeds(const harness_cluster *h);

/* How many nodes were started, and the port of node i (0 .. nodes-1). */
int harness_cluster_nodes(const harness_cluster *h);
int harness_cluster_port(const harness_cluster *h, int i);

/* The port of the master serving slot now, as the first running node's
 * CLUSTER SLOTS says; -errno when it cannot tell. */
int harness_cluster_master_port(harness_cluster *h, int slot);

/* SIGKILLs the master serving slot, then waits up to 30 s until a replica
 * serves the slot and every running node reports cluster_state:ok and the
 * same map. Returns the new master's port. */
int harness_cluster_kill_master(harness_cluster *h, int slot, char *errbuf, size_t errsize);

/* The two halves of it: SIGKILL the master serving slot (returns its
 * port), and wait up to 30 s until another node serves slot and every
 * running node is ok with the same map (returns that node's port). */
int harness_cluster_crash_master(harness_cluster *h, int slot, char *errbuf, size_t errsize);
int harness_cluster_wait_failover(harness_cluster *h, int slot, int dead_port, char *errbuf,
                                  size_t errsize);

/* Live migration of one slot, with its keys, to another master, in the
 * steps of the Redis Cluster specification (clients may keep writing):
 *   begin   CLUSTER SETSLOT <slot> IMPORTING on the target (the next master
 *           after the slot's owner, in start order), MIGRATING on the
 *           source; returns the target's port
 *   keys    moves up to `count` of the slot's keys (CLUSTER GETKEYSINSLOT,
 *           MIGRATE ... KEYS); returns how many moved
 *   finish  moves the keys left, then CLUSTER SETSLOT <slot> NODE <target>
 *           on the target, the source and the other masters, and waits up
 *           to 15 s until every running node agrees; returns the target's
 *           port
 * `redis-cli --cluster reshard` is not used: it moves a number of slots of
 * its own choosing (the source's first ones), never a given slot. One
 * migration at a time. */
int harness_cluster_begin_migration(harness_cluster *h, int slot, char *errbuf, size_t errsize);
int harness_cluster_migrate_keys(harness_cluster *h, int count, char *errbuf, size_t errsize);
int harness_cluster_finish_migration(harness_cluster *h, char *errbuf, size_t errsize);

/* begin + finish: returns the port of the slot's new master. */
int harness_cluster_move_slot(harness_cluster *h, int slot, char *errbuf, size_t errsize);

/* A new plain connection to the node at port (2 s connect, 5 s command
 * timeout); free it with redisFree. */
int harness_cluster_connect(harness_cluster *h, int port, redisContext **out, char *errbuf,
                            size_t errsize);

#endif
