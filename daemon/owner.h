/* daemon/owner.h - one consumer group per redis.prefix.
 *
 * A prefix holds the progress and checkpoints of the group that consumes
 * into it (store/keys.h: <prefix>progress:{g:p}, <prefix>ckpt:{g:p},
 * <prefix>deadlines:{g:p}, <prefix>alerts:paging:{g:p},
 * <prefix>partitions:<g>), but the counters, the
 * day hashes and the customer views are shared. A second group on the same
 * prefix would start from no offsets and apply every event again into the
 * shared keys. So the prefix records its group in <prefix>owner, and a
 * clmd of another group does not start on it.
 *
 * Taking over (clmd --take-over) moves the owning group's keys to the new
 * group's names in one transaction: its progress, checkpoints, deadline
 * indexes, paging windows and partition set (whatever the new group had there before is
 * deleted first), and records the new owner. The new group continues
 * exactly where the old one stopped; the old group's Kafka offsets are not
 * used (Redis holds the offsets). An instance of the old group still
 * running finds its progress gone at its next flush and exits without
 * writing ("another consumer owns it now"), and does not start again.
 *
 * A prefix without an owner record (written by an earlier release, or
 * empty) belongs to the one group whose partition set it holds; with none,
 * the starting group claims it; with several, clmd cannot tell and refuses.
 *
 * On Redis Cluster the keys of a group's partitions live in different
 * slots, so no transaction holds them all: claiming is SET NX of the owner
 * key, and taking over copies the keys (DUMP/RESTORE), applies each
 * partition's journal under the old name first, checks the old group's
 * progress did not move meanwhile, records the owner, then deletes the old
 * keys. Stopping the old group's instances first matters more there: a
 * flush of theirs after the check is lost.
 *
 * Thread-safety: uses the given connection exclusively.
 */
#ifndef CLM_DAEMON_OWNER_H
#define CLM_DAEMON_OWNER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/redis.h"

/* Makes sure `group` owns `prefix`, claiming a prefix nobody owns and, with
 * take_over, taking it over from its owner (whose name goes into `from`).
 * Returns 0 (group owns it, and owned it already or claimed it unowned),
 * 1 (taken over from `from`), -EPERM (another group owns it and take_over
 * is false: errbuf names it and the ways out), -EINVAL (several groups have
 * state and none is recorded as owner: errbuf names them), -EAGAIN (Redis
 * refuses writes for now: call again later), -EIO (drop the connection and
 * call again), -EBUSY (the keys kept changing under a take-over: an
 * instance of the old group is still running), -EPROTO (Redis failed a
 * command or the owner key is not a string: errbuf), -ENAMETOOLONG,
 * -ENOMEM. */
int clm_owner_claim(clm_redis *r, const char *prefix, const char *group, bool take_over,
                    char *from, size_t fromsize, char *errbuf, size_t errsize);

#endif
