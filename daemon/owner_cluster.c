/* daemon/owner_cluster.c - clm_owner_claim on Redis Cluster (owner.h).
 *
 * The keys of one partition share a slot, but a group's partitions, its
 * partition set and the owner key are spread over the cluster, and a
 * transaction cannot span them. Claiming an unowned prefix is SET NX of
 * the owner key. Taking over copies (DUMP/RESTORE) old's keys to group's
 * names, checks old's progress did not move meanwhile, records the new
 * owner (the step that decides), and deletes old's keys. A take-over cut
 * short before the owner is recorded runs again in full at the next start;
 * after it, old's keys may be left behind (the new group never reads
 * them). A partition's journal (store/journal.h) is applied first, under
 * old's name, and not copied: the new group starts without one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/owner_impl.h"
#include "daemon/redis.h"
#include "store/journal.h"
#include "store/keys.h"

/* One keyed command through the pipe; NULL with errbuf on an I/O error. */
static redisReply *pcommand(clm_rpipe *p, int argc, const char **argv, const size_t *lens,
                            char *errbuf, size_t errsize)
{
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(p, 1, argc, argv, lens, why, sizeof(why));
    if (!rep)
        snprintf(errbuf, errsize, "%s %s: %s", argv[0], argv[1], why);
    return rep;
}

/* The error of a write's reply: -EAGAIN (refused for now), -EIO (the slot
 * moved: read the map again and retry), -EPROTO; 0 when not an error. */
static int write_error(const redisReply *rep, const char *what, char *errbuf, size_t errsize)
{
    if (rep->type != REDIS_REPLY_ERROR)
        return 0;
    snprintf(errbuf, errsize, "%s: %s", what, rep->str);
    return clm_redis_write_refused(rep->str) ? -EAGAIN
           : clm_rpipe_redirected(rep->str)  ? -EIO
                                             : -EPROTO;
}

/* Reads the replies of n queued writes; the first error decides. The pipe
 * is reset on -EIO. */
static int drain_writes(clm_rpipe *p, size_t n, char *errbuf, size_t errsize)
{
    if (clm_rpipe_pending(p) != n) {
        snprintf(errbuf, errsize, "a command could not be queued");
        clm_rpipe_reset(p);
        return -EIO;
    }
    int r = 0;
    char why[256] = "";
    while (clm_rpipe_pending(p) > 0) {
        redisReply *rep;
        if (clm_rpipe_reply(p, &rep, why, sizeof(why)) < 0) {
            snprintf(errbuf, errsize, "%s", why);
            clm_rpipe_reset(p);
            return -EIO;
        }
        int e = write_error(rep, "take-over", errbuf, errsize);
        r = r < 0 ? r : e;
        freeReplyObject(rep);
    }
    return r;
}

/* Applies the journal of every partition of old (argv: its journal keys). */
static int carry_journals(clm_rpipe *p, char (*jkeys)[CLM_KEY_MAX], size_t n, char *errbuf,
                          size_t errsize)
{
    for (size_t i = 0; i < n; i++) {
        int r = clm_journal_carry_key(p, jkeys[i], errbuf, errsize);
        if (r < 0)
            return r;
    }
    return 0;
}

/* DUMP of each of n keys into dump[i] (NULL reply type: no such key).
 * Returns 0 or -EIO/-EPROTO. */
static int dump_keys(clm_rpipe *p, char (*keys)[CLM_KEY_MAX], size_t n, size_t step,
                     redisReply **dump, char *errbuf, size_t errsize)
{
    char why[256] = "";
    for (size_t i = 0; i < n; i += step) {
        const char *argv[] = { "DUMP", keys[i] };
        if (clm_rpipe_append(p, 1, 2, argv, NULL, why, sizeof(why)) < 0)
            break;
    }
    int r = 0;
    for (size_t i = 0; i < n; i += step) {
        if (clm_rpipe_pending(p) == 0 || clm_rpipe_reply(p, &dump[i], why, sizeof(why)) < 0) {
            snprintf(errbuf, errsize, "DUMP: %s", why[0] ? why : "not queued");
            return -EIO;
        }
        if (r == 0 && dump[i]->type == REDIS_REPLY_ERROR)
            r = write_error(dump[i], keys[i], errbuf, errsize);
    }
    return r;
}

static bool same_dump(const redisReply *a, const redisReply *b)
{
    if (!a || !b || a->type != b->type)
        return false;
    return a->type != REDIS_REPLY_STRING || (a->len == b->len && memcmp(a->str, b->str, a->len) == 0);
}

/* One attempt at moving old's keys to group's names (see above). Returns 1
 * (moved, owner recorded), 0 (old's progress or the owner changed: try
 * again), or -EAGAIN, -EIO, -EPROTO, -ENOMEM, -ENAMETOOLONG. */
static int move_cluster(clm_rpipe *p, const char *prefix, const char *old, const char *group,
                        const char *owner_key, const redisReply *owner_was, char *errbuf,
                        size_t errsize)
{
    char set_old[CLM_KEY_MAX], set_new[CLM_KEY_MAX];
    if (clm_key_partitions(set_old, sizeof(set_old), prefix, old) < 0 ||
        clm_key_partitions(set_new, sizeof(set_new), prefix, group) < 0)
        return -ENAMETOOLONG;
    redisReply *po = owner_members(p, prefix, old, errbuf, errsize);
    redisReply *pn = po ? owner_members(p, prefix, group, errbuf, errsize) : NULL;
    size_t no = po ? po->elements : 0, nn = pn ? pn->elements : 0, K = NPART_KEYS;
    /* old's keys [0, K*no), their new names [K*no, 2*K*no), group's own
     * keys [2*K*no, 2*K*no + K*nn), old's journals after them */
    char (*keys)[CLM_KEY_MAX] = calloc(2 * K * no + K * nn + no + 1, sizeof(*keys));
    char (*jkeys)[CLM_KEY_MAX] = keys ? keys + 2 * K * no + K * nn : NULL;
    redisReply **dump = calloc(2 * K * no + 1, sizeof(*dump)), **again = dump ? dump + K * no : NULL;
    const char **argv = calloc(2 + no + 1, sizeof(*argv));
    int r = -ENOMEM;
    if (!po || !pn) {
        r = -EIO;
        goto out_free;
    }
    if (!keys || !dump || !argv)
        goto out_free;
    for (size_t i = 0; i < no; i++) {
        int32_t part = atoi(po->element[i]->str);
        if ((r = owner_part_keys(&keys[K * i], prefix, old, part)) < 0 ||
            (r = owner_part_keys(&keys[K * (no + i)], prefix, group, part)) < 0)
            goto out_free;
        if (clm_key_journal(jkeys[i], CLM_KEY_MAX, prefix, old, part) < 0) {
            r = -ENAMETOOLONG;
            goto out_free;
        }
    }
    for (size_t i = 0; i < nn; i++)
        if ((r = owner_part_keys(&keys[2 * K * no + K * i], prefix, group, atoi(pn->element[i]->str))) < 0)
            goto out_free;
    if ((r = carry_journals(p, jkeys, no, errbuf, errsize)) < 0 ||
        (r = dump_keys(p, keys, K * no, 1, dump, errbuf, errsize)) < 0)
        goto out_free;
    /* group's keys as old's were: what group had goes first */
    char why[256] = "";
    size_t queued = 0;
    for (size_t i = 0; i < K * nn; i++, queued++) {
        const char *del[] = { "DEL", keys[2 * K * no + i] };
        clm_rpipe_append(p, 1, 2, del, NULL, why, sizeof(why));
    }
    for (size_t i = 0; i < K * no; i++, queued++) {
        const char *dst = keys[K * no + i];
        if (dump[i]->type == REDIS_REPLY_STRING) {
            const char *rs[] = { "RESTORE", dst, "0", dump[i]->str, "REPLACE" };
            size_t lens[] = { 7, strlen(dst), 1, dump[i]->len, 7 };
            clm_rpipe_append(p, 1, 5, rs, lens, why, sizeof(why));
        } else {
            const char *del[] = { "DEL", dst };
            clm_rpipe_append(p, 1, 2, del, NULL, why, sizeof(why));
        }
    }
    const char *dset[] = { "DEL", set_new };
    clm_rpipe_append(p, 1, 2, dset, NULL, why, sizeof(why));
    queued++;
    if (no) {
        argv[0] = "SADD";
        argv[1] = set_new;
        for (size_t i = 0; i < no; i++)
            argv[2 + i] = po->element[i]->str;
        clm_rpipe_append(p, 1, (int)(2 + no), argv, NULL, why, sizeof(why));
        queued++;
    }
    if ((r = drain_writes(p, queued, errbuf, errsize)) < 0)
        goto out_free;
    /* nothing moved meanwhile: old's progress (a running instance of old
     * writes it at every flush) and the owner key */
    if ((r = dump_keys(p, keys, K * no, K, again, errbuf, errsize)) < 0)
        goto out_free;
    for (size_t i = 0; i < K * no; i += K)
        if (!same_dump(dump[i], again[i])) {
            r = 0;
            goto out_free;
        }
    const char *get[] = { "GET", owner_key };
    redisReply *o = pcommand(p, 2, get, NULL, errbuf, errsize);
    if (!o) {
        r = -EIO;
        goto out_free;
    }
    bool same = same_dump(o, owner_was);
    freeReplyObject(o);
    if (!same) {
        r = 0;
        goto out_free;
    }
    const char *set[] = { "SET", owner_key, group };
    if (!(o = pcommand(p, 3, set, NULL, errbuf, errsize))) {
        r = -EIO;
        goto out_free;
    }
    r = write_error(o, owner_key, errbuf, errsize);
    freeReplyObject(o);
    if (r < 0)
        goto out_free;
    /* old's keys, best effort: an instance of old still running finds its
     * progress gone and stops */
    queued = 0;
    for (size_t i = 0; i < K * no + no; i++, queued++) {
        const char *del[] = { "DEL", i < K * no ? keys[i] : jkeys[i - K * no] };
        clm_rpipe_append(p, 1, 2, del, NULL, why, sizeof(why));
    }
    const char *dold[] = { "DEL", set_old };
    clm_rpipe_append(p, 1, 2, dold, NULL, why, sizeof(why));
    char ignored[256] = "";
    if (drain_writes(p, queued + 1, ignored, sizeof(ignored)) == -EIO)
        clm_rpipe_reset(p);
    r = 1;
out_free:
    for (size_t i = 0; dump && i < 2 * K * no; i++)
        freeReplyObject(dump[i]);
    freeReplyObject(po);
    freeReplyObject(pn);
    free(keys);
    free(dump);
    free(argv);
    return r;
}

int owner_claim_cluster(clm_rpipe *p, const char *prefix, const char *group, bool take_over,
                        const char *owner_key, char *from, size_t fromsize, char *errbuf,
                        size_t errsize)
{
    char names[MAX_GROUPS][CLM_KEY_MAX], old[CLM_KEY_MAX];
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        const char *get[] = { "GET", owner_key };
        redisReply *cur = pcommand(p, 2, get, NULL, errbuf, errsize);
        if (!cur)
            return -EIO;
        old[0] = '\0';
        if (cur->type == REDIS_REPLY_STRING)
            snprintf(old, sizeof(old), "%s", cur->str);
        int r = 0;
        if (cur->type != REDIS_REPLY_STRING && cur->type != REDIS_REPLY_NIL) {
            snprintf(errbuf, errsize, "%s: %s", owner_key,
                     cur->type == REDIS_REPLY_ERROR ? cur->str : "not a string");
            r = cur->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(cur->str) ? -EIO : -EPROTO;
        } else if (strcmp(old, group) == 0) {
            r = 1;
        }
        if (r != 0) {
            freeReplyObject(cur);
            return r < 0 ? r : 0;
        }
        size_t n = 0;
        if (!old[0]) {
            if ((r = owner_other_groups(p, prefix, group, names, &n, errbuf, errsize)) < 0) {
                freeReplyObject(cur);
                return r;
            }
            if (n > 1) {
                freeReplyObject(cur);
                owner_several(names, n, prefix, owner_key, errbuf, errsize);
                return -EINVAL;
            }
            if (n == 1)
                snprintf(old, sizeof(old), "%s", names[0]);
        }
        if (old[0] && !take_over) {
            freeReplyObject(cur);
            owner_owned(prefix, old, group, errbuf, errsize);
            return -EPERM;
        }
        if (old[0]) {
            r = move_cluster(p, prefix, old, group, owner_key, cur, errbuf, errsize);
        } else {
            const char *setnx[] = { "SET", owner_key, group, "NX" };
            redisReply *rep = pcommand(p, 4, setnx, NULL, errbuf, errsize);
            r = !rep ? -EIO : rep->type == REDIS_REPLY_STATUS ? 1 : write_error(rep, owner_key, errbuf, errsize);
            freeReplyObject(rep);
        }
        freeReplyObject(cur);
        if (r == 1 && old[0])
            snprintf(from, fromsize, "%s", old);
        if (r == 1)
            return old[0] ? 1 : 0;
        if (r < 0)
            return r;
        struct timespec ts = { 0, 20 * 1000000L }; /* changed meanwhile */
        nanosleep(&ts, NULL);
    }
    owner_busy(owner_key, errbuf, errsize);
    return -EBUSY;
}
