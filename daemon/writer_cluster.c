/* daemon/writer_cluster.c - the writer on Redis Cluster: one transaction
 * per partition number, on the master of its slot.
 *
 * For each partition number P of the group (every key of P's own state has
 * the hash tag {g:P}, store/keys.h):
 *
 *   WATCH <progress P>; HGET <progress P> offset:<topic> ... seq   (check)
 *   MULTI; <P's commands on its slot>; HSET <progress P> ... seq <s>;
 *   SET <prefix>journal:{g:P} <the rest, store/journal.h>; EXEC     (apply)
 *   WAIT for a replica of P's master                                (durable)
 *   the journal's commands, each on its key's master; WAIT on every
 *   master                                                          (carry)
 *   DEL <prefix>journal:{g:P}                                       (done)
 *
 * The check decides per partition number, from the offsets (as on one
 * server) and from the flush sequence `seq`: s - 1 in Redis means apply, s
 * means an attempt whose reply was lost did commit (then only its journal
 * is carried again, read back from Redis), anything else means another
 * consumer owns P (fatal, as on one server). Batches are acknowledged only
 * once every partition number of the group has been carried and its writes
 * reached a replica, so a master that fails over to its replica loses
 * nothing that was acknowledged, and alerts are published only for flushes
 * the replica has: a flush the promoted replica lacks was never
 * acknowledged, and is applied again with the same seq; its journal, run
 * only after the WAIT, is then new to every guard.
 *
 * Slots that move (MOVED, ASK, TRYAGAIN during a reshard) abort the
 * transaction; the writer reads the slot map again and checks again.
 */
#include "daemon/writer_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "net/slot.h"
#include "store/journal.h"
#include "store/keys.h"

/* How long a WAIT for a replica may take before the writer tries again. */
#define WAIT_MS 2000

/* Results of the check and of one attempt at a partition number. */
enum { RETRY = 0, DONE = 1, APPLY = 2, COMMITTED = 3, MOVED = 4 };

typedef struct pflush {
    int32_t part;
    size_t first;       /* its first span (w->nspans: none moved) */
    clm_cmdbuf in;      /* the group's commands of P, in batch order */
    int64_t seq;        /* the seq of our attempt, 0 before the first */
    clm_cmdbuf journal; /* what our committed attempt stored */
    bool stored;        /* committed by an attempt whose reply was lost:
                           carry the journal Redis holds */
} pflush;

/* Reads WATCH + HGETs. Returns APPLY, COMMITTED (already), MOVED, or
 * -EIO; *cur the seq in Redis. */
static int check(clm_writer *w, redisContext *rc, pflush *f, int64_t *cur)
{
    char key[CLM_KEY_MAX], field[CLM_KEY_MAX];
    writer_progress_key(w, f->part, key, sizeof(key));
    const char *watch[] = { "WATCH", key };
    if (redisAppendCommandArgv(rc, 2, watch, NULL) != REDIS_OK)
        return -EIO;
    size_t n = 0;
    for (size_t i = f->first; i < w->nspans; i++) {
        if (w->spans[i].partition != f->part)
            continue;
        writer_offset_field(w, w->spans[i].topic, field, sizeof(field));
        const char *argv[] = { "HGET", key, field };
        if (redisAppendCommandArgv(rc, 3, argv, NULL) != REDIS_OK)
            return -EIO;
        n++;
    }
    const char *seq[] = { "HGET", key, "seq" };
    if (redisAppendCommandArgv(rc, 3, seq, NULL) != REDIS_OK)
        return -EIO;
    int verdict = APPLY;
    size_t pending = 0, done = 0, k = f->first;
    for (size_t i = 0; i < n + 2; i++) {
        redisReply *rep;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
            return -EIO;
        if (rep->type == REDIS_REPLY_ERROR) {
            if (!clm_rpipe_redirected(rep->str))
                clm_fatal("writer: Redis refused reading the progress of partition %d: %s",
                          (int)f->part, rep->str);
            verdict = MOVED;
        } else if (i > 0 && i <= n && verdict == APPLY) {
            while (w->spans[k].partition != f->part)
                k++;
            const span *s = &w->spans[k++];
            int64_t at = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : CLM_NO_OFFSET;
            if (at == s->from)
                pending++;
            else if (at == s->to)
                done++;
            else
                clm_fatal("writer: %s [%d] is at offset %" PRId64 " in Redis, expected %" PRId64
                          ": another consumer owns it now; exiting so a restart resumes from Redis",
                          w->c.topics[s->topic], (int)s->partition, at, s->from);
        } else if (i == n + 1) {
            *cur = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
        }
        freeReplyObject(rep);
    }
    if (verdict != APPLY)
        return verdict;
    if (pending && done)
        clm_fatal("writer: a flush of partition %d is half applied in Redis; refusing to continue",
                  (int)f->part);
    if (f->seq == 0) /* first attempt: the offsets alone tell (none moved: apply) */
        return done && !pending ? COMMITTED : APPLY;
    if (*cur == f->seq && !pending)
        return COMMITTED;
    if (*cur == f->seq - 1 && !done)
        return APPLY;
    clm_fatal("writer: partition %d is at flush %" PRId64 " in Redis, expected %" PRId64
              ": another consumer owns it now; exiting so a restart resumes from Redis",
              (int)f->part, *cur, f->seq - 1);
    return -EIO;
}

/* MULTI; local; progress; seq; journal; EXEC. Returns DONE, RETRY (WATCH
 * fired), MOVED, -EAGAIN... (refused: why), -EIO. */
static int apply(clm_writer *w, redisContext *rc, pflush *f, const clm_cmdbuf *local,
                 const clm_cmdbuf *journal, char *why, size_t whysize)
{
    char key[CLM_KEY_MAX], jkey[CLM_KEY_MAX], seq[24];
    writer_progress_key(w, f->part, key, sizeof(key));
    if (clm_key_journal(jkey, sizeof(jkey), w->c.prefix, w->c.group, f->part) < 0)
        clm_fatal("writer: redis.prefix and kafka.group_id are too long");
    snprintf(seq, sizeof(seq), "%" PRId64, f->seq);
    size_t sent = 0;
    if (redisAppendCommand(rc, "MULTI") != REDIS_OK)
        return -EIO;
    sent++;
    if (local->len && redisAppendFormattedCommand(rc, local->buf, local->len) != REDIS_OK)
        return -EIO;
    sent += local->ncmds;
    if (f->first < w->nspans) {
        int n = writer_append_progress(w, rc, f->first);
        if (n < 0)
            return -EIO;
        sent += (size_t)n;
    }
    const char *hs[] = { "HSET", key, "seq", seq };
    const char *set[] = { "SET", jkey, journal->buf ? journal->buf : "" };
    size_t setl[] = { 3, strlen(jkey), journal->len };
    if (redisAppendCommandArgv(rc, 4, hs, NULL) != REDIS_OK ||
        redisAppendCommandArgv(rc, 3, set, setl) != REDIS_OK || redisAppendCommand(rc, "EXEC") != REDIS_OK)
        return -EIO;
    sent += 3;
    int result = -EIO;
    bool refused = false, moved = false;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
            return -EIO;
        bool err = rep->type == REDIS_REPLY_ERROR;
        if (i + 1 < sent) {
            if (err && clm_rpipe_redirected(rep->str))
                moved = true;
            else if (err && !clm_redis_write_refused(rep->str))
                clm_fatal("writer: Redis refused a flush command: %s", rep->str);
            else if (err && !refused) {
                snprintf(why, whysize, "%s", rep->str);
                refused = true;
            }
        } else if (moved || (err && clm_rpipe_redirected(rep->str))) {
            result = MOVED;
        } else if (refused || (err && clm_redis_write_refused(rep->str))) {
            if (!refused)
                snprintf(why, whysize, "%s", rep->str);
            result = -EBUSY;
        } else if (rep->type == REDIS_REPLY_NIL) {
            result = RETRY;
        } else if (rep->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < rep->elements; k++)
                if (rep->element[k]->type == REDIS_REPLY_ERROR)
                    clm_fatal("writer: Redis failed a flush command: %s", rep->element[k]->str);
            result = DONE;
        } else {
            clm_fatal("writer: EXEC failed: %s", err ? rep->str : "unexpected reply");
        }
        freeReplyObject(rep);
    }
    return result;
}

/* Carries a journal; fatal when Redis refuses one of its commands. */
static int carry(clm_writer *w, const char *j, size_t len, char *errbuf, size_t errsize)
{
    clm_rpipe *pipe = clm_redis_pipe(w->redis, errbuf, errsize);
    int r = pipe ? clm_journal_carry(pipe, j, len, errbuf, errsize) : -EIO;
    if (r == -EPROTO)
        clm_fatal("writer: %s", errbuf);
    return r;
}

/* Reads back P's journal as Redis holds it (an attempt committed but its
 * reply was lost) and carries it. */
static int carry_stored(clm_writer *w, pflush *f, char *errbuf, size_t errsize)
{
    char jkey[CLM_KEY_MAX];
    if (clm_key_journal(jkey, sizeof(jkey), w->c.prefix, w->c.group, f->part) < 0)
        clm_fatal("writer: redis.prefix and kafka.group_id are too long");
    clm_rpipe *pipe = clm_redis_pipe(w->redis, errbuf, errsize);
    int r = pipe ? clm_journal_carry_key(pipe, jkey, errbuf, errsize) : -EIO;
    if (r == -EPROTO)
        clm_fatal("writer: %s", errbuf);
    return r < 0 ? r : 0;
}

/* Commits one partition number and waits until its master's replica has
 * it. Returns only once done. */
static void commit_part(clm_writer *w, pflush *f)
{
    char err[256], key[CLM_KEY_MAX], source[CLM_KEY_MAX];
    long refused_ms = 100;
    writer_progress_key(w, f->part, key, sizeof(key));
    snprintf(source, sizeof(source), "%s:%d", w->c.group, (int)f->part);
    clm_cmdbuf local;
    clm_cmdbuf_init(&local);
    bool committed = false;
    for (;;) {
        int r;
        redisContext *rc = NULL;
        if (committed) {
            /* durable on a replica before its journal is carried: a journal
             * carried for a flush the promoted replica lacks would be
             * skipped by the guards when the flush is applied again */
            r = clm_redis_wait_replicas(w->redis, key, strlen(key), WAIT_MS, err, sizeof(err));
            if (r == 0)
                break;
            if (r == -EAGAIN) {
                writer_note_hold(w, HOLD_DOWN, err);
                continue;
            }
            committed = false; /* the master may be gone: check again */
            goto out_io;
        }
        if (!(rc = clm_redis_get_key(w->redis, key, strlen(key), err, sizeof(err)))) {
            writer_note_hold(w, HOLD_DOWN, err);
            writer_sleep_ms(50);
            continue;
        }
        int64_t cur = 0;
        r = check(w, rc, f, &cur);
        if (r == APPLY) {
            if (f->seq == 0)
                f->seq = cur + 1;
            clm_journal_src src = { .prefix = w->c.prefix, .source = source,
                                    .slot = clm_slot_of(key, strlen(key)), .slot_of = clm_slot_of,
                                    .seq = f->seq };
            clm_cmdbuf_reset(&local);
            clm_cmdbuf_reset(&f->journal);
            int e = clm_journal_split(f->in.buf, f->in.len, &src, &local, &f->journal);
            if (e < 0)
                clm_fatal("writer: cannot carry partition %d's flush across slots: %s",
                          (int)f->part, strerror(-e));
            r = apply(w, rc, f, &local, &f->journal, err, sizeof(err));
            if (r == DONE) {
                f->stored = false;
                committed = true;
                continue;
            }
        } else if (r == COMMITTED || r == MOVED) {
            redisReply *rep = redisCommand(rc, "UNWATCH");
            if (!rep) {
                r = -EIO;
            } else if (r == COMMITTED) {
                /* an attempt whose reply was lost: carry what it stored */
                if (f->seq == 0)
                    f->seq = cur;
                f->stored = true;
                committed = true;
            }
            freeReplyObject(rep);
            if (committed)
                continue;
        }
        if (r == MOVED) {
            clm_redis_stale(w->redis);
            writer_sleep_ms(20);
            continue;
        }
        if (r == -EBUSY) {
            writer_note_hold(w, HOLD_REFUSED, err);
            writer_sleep_ms(refused_ms);
            refused_ms = refused_ms * 2 > 5000 ? 5000 : refused_ms * 2;
            continue;
        }
        if (r == RETRY)
            continue; /* a watched key changed between check and EXEC */
out_io:
        writer_note_hold(w, HOLD_DOWN, rc && rc->errstr[0] ? rc->errstr : err);
        if (rc)
            clm_redis_drop_ctx(w->redis, rc);
        else
            clm_redis_drop(w->redis);
        writer_sleep_ms(50);
    }
    clm_cmdbuf_release(&local);
}

/* Carries every partition number's journal, then waits until every master
 * has its writes on a replica; again from the start after any failure
 * (each journal may run twice: store/journal.h). */
static void carry_all(clm_writer *w, pflush *parts, size_t n)
{
    char err[256];
    for (;;) {
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++)
            r = parts[i].stored ? carry_stored(w, &parts[i], err, sizeof(err))
                                : carry(w, parts[i].journal.buf, parts[i].journal.len, err,
                                        sizeof(err));
        if (r == 0 && (r = clm_redis_wait_replicas(w->redis, NULL, 0, WAIT_MS, err, sizeof(err))) == 0)
            return;
        writer_note_hold(w, HOLD_DOWN, err);
        if (r != -EAGAIN) {
            clm_redis_drop(w->redis);
            writer_sleep_ms(50);
        }
    }
}

static pflush *part_of(pflush **v, size_t *n, size_t *cap, int32_t part, size_t nspans)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].part == part)
            return &(*v)[i];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        pflush *nv = realloc(*v, *cap * sizeof(**v));
        if (!nv)
            clm_fatal("writer: out of memory");
        *v = nv;
    }
    pflush *f = &(*v)[(*n)++];
    *f = (pflush){ .part = part, .first = nspans };
    clm_cmdbuf_init(&f->in);
    clm_cmdbuf_init(&f->journal);
    return f;
}

/* The partition numbers of the group, each with its commands. */
static size_t gather_parts(clm_writer *w, pflush **out)
{
    pflush *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < w->nspans; i++) {
        pflush *f = part_of(&v, &n, &cap, w->spans[i].partition, w->nspans);
        if (f->first == w->nspans)
            f->first = i;
    }
    for (size_t i = 0; i < w->ngroup; i++) {
        const clm_batch *b = w->group[i];
        for (size_t k = 0; k < b->nsects; k++) {
            const clm_batch_sect *s = &b->sects[k];
            if (s->cmds.ncmds == 0)
                continue;
            pflush *f = part_of(&v, &n, &cap, s->part, w->nspans);
            if (clm_cmdbuf_raw(&f->in, s->cmds.buf, s->cmds.len) < 0)
                clm_fatal("writer: out of memory");
            f->in.ncmds += s->cmds.ncmds;
        }
    }
    *out = v;
    return n;
}

/* Deletes the journals just carried: what they hold is everywhere now, so
 * they would only take memory until the partitions' next flushes. One that
 * stays (Redis down meanwhile) is harmless: carrying it again counts
 * nothing twice. */
static void drop_journals(clm_writer *w, const pflush *parts, size_t n)
{
    char err[256], key[CLM_KEY_MAX];
    clm_rpipe *pipe = clm_redis_pipe(w->redis, err, sizeof(err));
    size_t queued = 0;
    for (size_t i = 0; pipe && i < n; i++) {
        if (clm_key_journal(key, sizeof(key), w->c.prefix, w->c.group, parts[i].part) < 0)
            clm_fatal("writer: redis.prefix and kafka.group_id are too long");
        const char *argv[] = { "DEL", key };
        if (clm_rpipe_append(pipe, 1, 2, argv, NULL, err, sizeof(err)) < 0)
            break;
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(pipe, &rep, err, sizeof(err)) < 0) {
            clm_redis_drop(w->redis);
            return;
        }
        freeReplyObject(rep);
    }
    if (pipe && queued < n)
        clm_redis_drop(w->redis);
}

void writer_commit_cluster(clm_writer *w)
{
    pflush *parts;
    size_t n = gather_parts(w, &parts);
    for (size_t i = 0; i < n; i++)
        commit_part(w, &parts[i]);
    carry_all(w, parts, n);
    drop_journals(w, parts, n);
    for (size_t i = 0; i < n; i++) {
        clm_cmdbuf_release(&parts[i].in);
        clm_cmdbuf_release(&parts[i].journal);
    }
    free(parts);
    writer_end_hold(w);
}
