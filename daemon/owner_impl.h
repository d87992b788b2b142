/* daemon/owner_impl.h - what the two ways of claiming a prefix share:
 * owner.c (one server: WATCH and MULTI/EXEC, and clm_owner_claim) and
 * owner_cluster.c (Redis Cluster: SET NX, or a take-over by DUMP/RESTORE).
 * The reads of a group's partitions and the messages of a refusal are the
 * same on both. Private to daemon/owner*.c; start-up thread only.
 */
#ifndef CLM_DAEMON_OWNER_IMPL_H
#define CLM_DAEMON_OWNER_IMPL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/redis_pipe.h"
#include "store/keys.h"

#define MAX_GROUPS 8  /* other groups named in a message */
#define ATTEMPTS 100  /* transactions aborted by a concurrent write */

/* The per-partition keys of a group. */
#define NPART_KEYS 4

/* The groups other than `group` holding a partition set under prefix: the
 * first MAX_GROUPS into names, their number into *n. Returns 0 or -EIO. */
int owner_other_groups(clm_rpipe *p, const char *prefix, const char *group,
                       char names[MAX_GROUPS][CLM_KEY_MAX], size_t *n, char *errbuf,
                       size_t errsize);

/* The partition numbers of a group's set (SMEMBERS; NULL reply on -EIO). */
redisReply *owner_members(clm_rpipe *p, const char *prefix, const char *group, char *errbuf,
                          size_t errsize);

/* The per-partition keys of group g, partition p, into k[0..NPART_KEYS). */
int owner_part_keys(char k[NPART_KEYS][CLM_KEY_MAX], const char *prefix, const char *g,
                    int32_t p);

/* The message of -EINVAL: n groups have state and none owns the prefix. */
void owner_several(char names[MAX_GROUPS][CLM_KEY_MAX], size_t n, const char *prefix,
                   const char *owner_key, char *errbuf, size_t errsize);

/* The message of -EPERM: old owns the prefix. */
void owner_owned(const char *prefix, const char *old, const char *group, char *errbuf,
                 size_t errsize);

/* The message of -EBUSY: the owner key kept changing. */
void owner_busy(const char *owner_key, char *errbuf, size_t errsize);

/* clm_owner_claim on Redis Cluster (daemon/owner_cluster.c). */
int owner_claim_cluster(clm_rpipe *p, const char *prefix, const char *group, bool take_over,
                        const char *owner_key, char *from, size_t fromsize, char *errbuf,
                        size_t errsize);

#endif
