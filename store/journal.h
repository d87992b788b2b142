/* store/journal.h - one partition's flush on Redis Cluster: what runs in
 * its slot and what is carried to the other slots, exactly once.
 *
 * Redis Cluster runs a transaction only on keys of one hash slot. Every key
 * of a partition number's own state has the hash tag {g:p} (store/keys.h),
 * so its checkpoints, deadline index, paging state and progress commit in
 * one MULTI/EXEC on the master of that slot. The rest of the flush writes
 * keys anywhere in the cluster: customer views, the counters every
 * partition adds to (stats, day buckets, transitions, stage counts,
 * portfolio), <prefix>at_risk, the alert stream and outbox.
 *
 * clm_journal_split() sorts a partition's section (daemon/batch.h) into:
 *  - local: commands on keys of the partition's slot, run in its
 *    transaction;
 *  - journal: every other command, as RESP, stored by the same transaction
 *    in <prefix>journal:{g:p} (so it commits with the state and offsets,
 *    or not at all) and then sent to the keys' own masters. A journal is
 *    applied before the next flush of its partition overwrites it, and
 *    again by whoever resumes the partition (daemon/writer_cluster.h), so
 *    it may run more than once; every command in it is written so that
 *    running it twice changes nothing:
 *      - HSET / HDEL / ZADD / ZREM / DEL set a value (views, <prefix>at_risk,
 *        <prefix>buckets, the upgrade pool), and so does the erasure
 *        script (store/forget.h), which only deletes: run as they are;
 *      - everything that adds (HINCRBY, the saturating add, XADD) and the
 *        outbox (its entries leave once published) is grouped per key into
 *        one guarded script, EVAL <guard> 2 <key> <prefix>applied:{<key>}
 *        <source> <seq> <commands>: it runs only when the guard hash holds
 *        a seq below this one for the source (<group>:<partition>), and
 *        records the seq in the same script. The guard key's hash tag is
 *        the key itself, so both are in one slot.
 * The seq is the partition's flush sequence (field `seq` of its progress
 * hash), one more at every flush, kept by the same transaction.
 *
 * Pure formatting: no I/O. Reentrant.
 */
#ifndef CLM_STORE_JOURNAL_H
#define CLM_STORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "net/redis_pipe.h"
#include "store/cmdbuf.h"

/* One command of a RESP buffer: its bytes and arguments. */
typedef struct clm_resp_cmd {
    const char *start; /* "*<argc>\r\n..." */
    size_t len;        /* bytes of the whole command */
    size_t argc;
    const char *args;  /* the first argument's "$" */
} clm_resp_cmd;

/* The command at *pos of buf (advancing *pos past it). Returns 1, 0 at the
 * end, -EPROTO when the bytes are not RESP arrays of bulk strings. */
int clm_resp_next(const char *buf, size_t len, size_t *pos, clm_resp_cmd *out);

/* Argument i of a command (0 is its name). Returns 0, -ERANGE past the
 * end, -EPROTO. */
int clm_resp_arg(const clm_resp_cmd *c, size_t i, const char **p, size_t *n);

/* Every argument of a command at once (argv and lens have c->argc
 * entries), in one pass. Returns 0 or -EPROTO. */
int clm_resp_args(const clm_resp_cmd *c, const char **argv, size_t *lens);

/* The key a flush command writes: its first argument, or for EVAL the
 * first key. -EPROTO when it has none. */
int clm_resp_key(const clm_resp_cmd *c, const char **p, size_t *n);

typedef struct clm_journal_src {
    const char *prefix;  /* redis.prefix */
    const char *source;  /* "<group>:<partition>" */
    int slot;            /* hash slot of the partition's keys */
    int (*slot_of)(const char *key, size_t len); /* the cluster's key -> slot */
    int64_t seq;         /* this flush's sequence */
} clm_journal_src;

/* Sorts the commands of `in` into local (appended as they are) and
 * journal (appended in the forms above). Returns 0, -ENOMEM, -EPROTO (a
 * command this module does not know how to carry: the flush formats only
 * the commands listed above), -ENAMETOOLONG. */
int clm_journal_split(const char *in, size_t len, const clm_journal_src *src, clm_cmdbuf *local,
                      clm_cmdbuf *journal);

/* Sends every command of a journal (as clm_journal_split made it) to its
 * key's node and reads the replies. Returns 0; -EIO (errbuf; the caller
 * resets the pipe); -EPROTO when the journal does not parse or Redis
 * refused one of its commands (errbuf quotes it). */
int clm_journal_carry(clm_rpipe *p, const char *j, size_t len, char *errbuf, size_t errsize);

/* Carries the journal Redis holds at `key` (a partition's
 * <prefix>journal:{g:p}), if there is one. Returns 1 carried, 0 none there;
 * -EIO (errbuf; the caller resets the pipe); -EPROTO when `key` is not a
 * string, the journal does not parse, or Redis refused one of its commands
 * (errbuf names the key and quotes Redis). */
int clm_journal_carry_key(clm_rpipe *p, const char *key, char *errbuf, size_t errsize);

#endif
