/* daemon/owner.c - see owner.h. Claiming a prefix on one server (WATCH,
 * then a take-over in one MULTI/EXEC), the reads and messages both ways
 * share (owner_impl.h), and clm_owner_claim, which picks the way; the
 * Redis Cluster take-over is in owner_cluster.c. */
#include "daemon/owner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/owner_impl.h"
#include "daemon/redis.h"
#include "store/keys.h"

static redisReply *command(redisContext *c, int argc, const char **argv, char *errbuf,
                           size_t errsize)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep)
        snprintf(errbuf, errsize, "%s: %s", argv[0], c->errstr);
    return rep;
}

static int unwatch(redisContext *c, char *errbuf, size_t errsize)
{
    const char *argv[] = { "UNWATCH" };
    redisReply *rep = command(c, 1, argv, errbuf, errsize);
    freeReplyObject(rep);
    return rep ? 0 : -EIO;
}

/* The groups other than `group` holding a partition set under prefix: the
 * first MAX_GROUPS into names, their number into *n. Returns 0 or -EIO. */
int owner_other_groups(clm_rpipe *p, const char *prefix, const char *group,
                       char names[MAX_GROUPS][CLM_KEY_MAX], size_t *n, char *errbuf,
                       size_t errsize)
{
    char pat[CLM_KEY_MAX], cursor[32] = "0", why[256] = "";
    if (clm_key_partitions_pattern(pat, sizeof(pat), prefix) < 0)
        return -ENAMETOOLONG;
    *n = 0;
    int nodes = clm_rpipe_nodes(p, why, sizeof(why));
    if (nodes < 0) {
        snprintf(errbuf, errsize, "SCAN %s: %s", pat, why);
        return -EIO;
    }
    /* each node holds its own keys (one server: the one node) */
    for (int node = 0; node < nodes; node++) {
        snprintf(cursor, sizeof(cursor), "0");
        do {
            const char *argv[] = { "SCAN", cursor, "MATCH", pat, "COUNT", "1000" };
            redisReply *rep = NULL;
            if (clm_rpipe_append_node(p, node, 6, argv, NULL, why, sizeof(why)) < 0 ||
                clm_rpipe_reply(p, &rep, why, sizeof(why)) < 0) {
                clm_rpipe_reset(p);
                snprintf(errbuf, errsize, "SCAN: %s", why);
            }
            if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
                if (rep)
                    snprintf(errbuf, errsize, "SCAN %s: %s", pat,
                             rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
                freeReplyObject(rep);
                return -EIO;
            }
            snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
            for (size_t i = 0; i < rep->element[1]->elements; i++) {
                const char *g = clm_key_partitions_group(rep->element[1]->element[i]->str, prefix);
                if (!g || strcmp(g, group) == 0)
                    continue;
                bool known = false;
                for (size_t k = 0; k < *n && k < MAX_GROUPS; k++)
                    known |= strcmp(names[k], g) == 0;
                if (known)
                    continue;
                if (*n < MAX_GROUPS)
                    snprintf(names[*n], CLM_KEY_MAX, "%s", g);
                (*n)++;
            }
            freeReplyObject(rep);
        } while (strcmp(cursor, "0") != 0);
    }
    return 0;
}

/* Reads the replies of MULTI, `queued` commands and EXEC. Returns 1
 * (committed), 0 (aborted by WATCH), -EAGAIN (writes refused for now),
 * -EPROTO (Redis failed a command: errbuf), -EIO. */
static int finish(redisContext *c, size_t queued, char *errbuf, size_t errsize)
{
    int r = 1;
    for (size_t i = 0; i < queued + 2; i++) {
        redisReply *rep;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
            snprintf(errbuf, errsize, "EXEC: %s", c->errstr);
            return -EIO;
        }
        bool err = rep->type == REDIS_REPLY_ERROR;
        if (i < queued + 1) {
            if (err && r == 1) {
                r = clm_redis_write_refused(rep->str) ? -EAGAIN : -EPROTO;
                snprintf(errbuf, errsize, "%s", rep->str);
            }
        } else if (r == 1 && rep->type == REDIS_REPLY_NIL) {
            r = 0;
        } else if (r == 1 && err) {
            r = clm_redis_write_refused(rep->str) ? -EAGAIN : -EPROTO;
            snprintf(errbuf, errsize, "EXEC: %s", rep->str);
        } else if (r == 1 && rep->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < rep->elements && r == 1; k++)
                if (rep->element[k]->type == REDIS_REPLY_ERROR) {
                    snprintf(errbuf, errsize, "EXEC: %s", rep->element[k]->str);
                    r = -EPROTO;
                }
        }
        freeReplyObject(rep);
    }
    return r;
}

/* The partition numbers of a group's set (SMEMBERS; NULL reply on -EIO). */
redisReply *owner_members(clm_rpipe *p, const char *prefix, const char *group, char *errbuf,
                          size_t errsize)
{
    char key[CLM_KEY_MAX];
    if (clm_key_partitions(key, sizeof(key), prefix, group) < 0) {
        snprintf(errbuf, errsize, "redis.prefix and a group name are too long");
        return NULL;
    }
    const char *argv[] = { "SMEMBERS", key };
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(p, 1, 2, argv, NULL, why, sizeof(why));
    if (!rep)
        snprintf(errbuf, errsize, "SMEMBERS: %s", why);
    if (rep && rep->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "SMEMBERS %s: %s", key,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "not a set");
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* The per-partition keys of group g, partition p, into k[0..NPART_KEYS). */
int owner_part_keys(char k[NPART_KEYS][CLM_KEY_MAX], const char *prefix, const char *g, int32_t p)
{
    if (clm_key_progress(k[0], CLM_KEY_MAX, prefix, g, p) < 0 ||
        clm_key_ckpt(k[1], CLM_KEY_MAX, prefix, g, p) < 0 ||
        clm_key_deadlines(k[2], CLM_KEY_MAX, prefix, g, p) < 0 ||
        clm_key_paging(k[3], CLM_KEY_MAX, prefix, g, p) < 0)
        return -ENAMETOOLONG;
    return 0;
}

/* One attempt at moving old's keys to group's names and recording group as
 * the owner (owner.h). The owner key is WATCHed already. Returns as
 * finish(), or -ENOMEM, -ENAMETOOLONG. */
static int move(redisContext *c, clm_rpipe *p, const char *prefix, const char *old,
                const char *group, const char *owner_key, char *errbuf, size_t errsize)
{
    char set_old[CLM_KEY_MAX], set_new[CLM_KEY_MAX];
    if (clm_key_partitions(set_old, sizeof(set_old), prefix, old) < 0 ||
        clm_key_partitions(set_new, sizeof(set_new), prefix, group) < 0)
        return -ENAMETOOLONG;
    const char *w[] = { "WATCH", set_old, set_new };
    redisReply *rep = command(c, 3, w, errbuf, errsize);
    freeReplyObject(rep);
    if (!rep)
        return -EIO;
    redisReply *po = owner_members(p, prefix, old, errbuf, errsize);
    redisReply *pn = po ? owner_members(p, prefix, group, errbuf, errsize) : NULL;
    size_t no = po ? po->elements : 0, nn = pn ? pn->elements : 0;
    /* src[Ki..Ki+K-1] -> dst[Ki..Ki+K-1] (K = NPART_KEYS) for old's partitions,
     * then new's keys */
    char (*keys)[CLM_KEY_MAX] = calloc(2 * NPART_KEYS * no + NPART_KEYS * nn + 1, sizeof(*keys));
    const char **argv = calloc(2 * NPART_KEYS * no + NPART_KEYS * nn + 4, sizeof(*argv));
    bool *exists = calloc(NPART_KEYS * no + 1, sizeof(*exists));
    int r = -ENOMEM;
    if (!po || !pn) {
        r = -EIO;
        goto out_free;
    }
    if (!keys || !argv || !exists)
        goto out_free;
    for (size_t i = 0; i < no; i++)
        if ((r = owner_part_keys(&keys[NPART_KEYS * i], prefix, old, atoi(po->element[i]->str))) < 0 ||
            (r = owner_part_keys(&keys[NPART_KEYS * (no + i)], prefix, group, atoi(po->element[i]->str))) < 0)
            goto out_free;
    for (size_t i = 0; i < nn; i++)
        if ((r = owner_part_keys(&keys[2 * NPART_KEYS * no + NPART_KEYS * i], prefix, group, atoi(pn->element[i]->str))) < 0)
            goto out_free;
    /* what old has (WATCHed: a flush of a running old instance aborts us) */
    r = -EIO;
    argv[0] = "WATCH";
    for (size_t i = 0; i < NPART_KEYS * no; i++)
        argv[1 + i] = keys[i];
    if (no && redisAppendCommandArgv(c, (int)(1 + NPART_KEYS * no), argv, NULL) != REDIS_OK)
        goto out_free;
    for (size_t i = 0; i < NPART_KEYS * no; i++) {
        const char *ex[] = { "EXISTS", keys[i] };
        if (redisAppendCommandArgv(c, 2, ex, NULL) != REDIS_OK)
            goto out_free;
    }
    for (size_t i = 0; i < (no ? 1 + NPART_KEYS * no : 0); i++) {
        redisReply *e;
        if (redisGetReply(c, (void **)&e) != REDIS_OK) {
            snprintf(errbuf, errsize, "EXISTS: %s", c->errstr);
            goto out_free;
        }
        if (i > 0)
            exists[i - 1] = e->type == REDIS_REPLY_INTEGER && e->integer > 0;
        freeReplyObject(e);
    }
    /* MULTI; DEL what group had; RENAME old's keys; SET owner; EXEC */
    size_t queued = 0;
    const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    if (redisAppendCommandArgv(c, 1, multi, NULL) != REDIS_OK)
        goto out_free;
    argv[0] = "DEL";
    argv[1] = set_new;
    for (size_t i = 0; i < NPART_KEYS * nn; i++)
        argv[2 + i] = keys[2 * NPART_KEYS * no + i];
    if (redisAppendCommandArgv(c, (int)(2 + NPART_KEYS * nn), argv, NULL) != REDIS_OK)
        goto out_free;
    queued++;
    for (size_t i = 0; i < NPART_KEYS * no; i++) {
        const char *rn[] = { "RENAME", keys[i], keys[NPART_KEYS * no + i] };
        if (exists[i] && redisAppendCommandArgv(c, 3, rn, NULL) != REDIS_OK)
            goto out_free;
        queued += exists[i];
    }
    const char *rs[] = { "RENAME", set_old, set_new };
    if (no && redisAppendCommandArgv(c, 3, rs, NULL) != REDIS_OK)
        goto out_free;
    queued += no > 0;
    const char *set[] = { "SET", owner_key, group };
    if (redisAppendCommandArgv(c, 3, set, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 1, exec, NULL) != REDIS_OK)
        goto out_free;
    queued++;
    r = finish(c, queued, errbuf, errsize);
out_free:
    if (r == -EIO && !errbuf[0])
        snprintf(errbuf, errsize, "%s", c->errstr);
    freeReplyObject(po);
    freeReplyObject(pn);
    free(keys);
    free(argv);
    free(exists);
    return r;
}

/* One attempt at recording group as the owner of an unowned prefix. */
static int claim(redisContext *c, const char *owner_key, const char *group, char *errbuf,
                 size_t errsize)
{
    const char *multi[] = { "MULTI" }, *set[] = { "SET", owner_key, group }, *exec[] = { "EXEC" };
    if (redisAppendCommandArgv(c, 1, multi, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 3, set, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 1, exec, NULL) != REDIS_OK) {
        snprintf(errbuf, errsize, "MULTI: %s", c->errstr);
        return -EIO;
    }
    return finish(c, 1, errbuf, errsize);
}

/* The message of -EINVAL: n groups have state and none owns the prefix. */
void owner_several(char names[MAX_GROUPS][CLM_KEY_MAX], size_t n, const char *prefix,
                   const char *owner_key, char *errbuf, size_t errsize)
{
    size_t used = (size_t)snprintf(errbuf, errsize,
                                   "redis.prefix \"%s\" holds the state of %zu consumer "
                                   "groups (", prefix, n);
    for (size_t k = 0; k < n && k < MAX_GROUPS && used < errsize; k++)
        used += (size_t)snprintf(errbuf + used, errsize - used, "%s%s", k ? ", " : "",
                                 names[k]);
    if (used < errsize)
        snprintf(errbuf + used, errsize - used,
                 ") and records none as its owner (%s): delete the keys of the groups no "
                 "longer used (<prefix>partitions:<group>, <prefix>progress:{<group>:*}, "
                 "<prefix>ckpt:{<group>:*}, <prefix>deadlines:{<group>:*}, "
                 "<prefix>alerts:paging:{<group>:*})", owner_key);
}

/* The message of -EPERM: old owns the prefix. */
void owner_owned(const char *prefix, const char *old, const char *group, char *errbuf,
                 size_t errsize)
{
    snprintf(errbuf, errsize,
             "redis.prefix \"%s\" holds the state of consumer group \"%s\", and "
             "kafka.group_id is \"%s\": a second group on one prefix would apply every "
             "event again. Use kafka.group_id \"%s\" or another redis.prefix, or start once "
             "with --take-over to continue from group %s's offsets and state (stop its "
             "instances first)", prefix, old, group, old, old);
}

void owner_busy(const char *owner_key, char *errbuf, size_t errsize)
{
    snprintf(errbuf, errsize, "%s kept changing while clmd took it over (is an instance of the "
             "owning group still running? stop it first)", owner_key);
}

/* clm_owner_claim on one server: WATCH and transactions on c, the reads
 * shared with the cluster path on p (which uses the same connection). */
static int claim_one(redisContext *c, clm_rpipe *p, const char *prefix, const char *group,
                     bool take_over, const char *owner_key, char *from, size_t fromsize,
                     char *errbuf, size_t errsize)
{
    char names[MAX_GROUPS][CLM_KEY_MAX], old[CLM_KEY_MAX];
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        const char *w[] = { "WATCH", owner_key }, *get[] = { "GET", owner_key };
        redisReply *rep = command(c, 2, w, errbuf, errsize);
        freeReplyObject(rep);
        if (!rep || !(rep = command(c, 2, get, errbuf, errsize)))
            return -EIO;
        old[0] = '\0';
        if (rep->type == REDIS_REPLY_STRING)
            snprintf(old, sizeof(old), "%s", rep->str);
        int bad = rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL;
        if (bad)
            snprintf(errbuf, errsize, "%s: %s", owner_key,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "not a string");
        freeReplyObject(rep);
        if (bad)
            return -EPROTO;
        if (strcmp(old, group) == 0)
            return unwatch(c, errbuf, errsize);
        size_t n = 0;
        int r;
        if (!old[0]) {
            if ((r = owner_other_groups(p, prefix, group, names, &n, errbuf, errsize)) < 0)
                return r;
            if (n > 1) {
                owner_several(names, n, prefix, owner_key, errbuf, errsize);
                unwatch(c, errbuf + strlen(errbuf), 0);
                return -EINVAL;
            }
            if (n == 1)
                snprintf(old, sizeof(old), "%s", names[0]);
        }
        if (old[0] && !take_over) {
            unwatch(c, errbuf, 0);
            owner_owned(prefix, old, group, errbuf, errsize);
            return -EPERM;
        }
        r = old[0] ? move(c, p, prefix, old, group, owner_key, errbuf, errsize)
                   : claim(c, owner_key, group, errbuf, errsize);
        if (r == 1 && old[0])
            snprintf(from, fromsize, "%s", old);
        if (r == 1)
            return old[0] ? 1 : 0;
        if (r < 0)
            return r;
        struct timespec ts = { 0, 20 * 1000000L }; /* aborted by a concurrent write */
        nanosleep(&ts, NULL);
    }
    owner_busy(owner_key, errbuf, errsize);
    return -EBUSY;
}

int clm_owner_claim(clm_redis *r, const char *prefix, const char *group, bool take_over,
                    char *from, size_t fromsize, char *errbuf, size_t errsize)
{
    char owner_key[CLM_KEY_MAX];
    if (clm_key_single(owner_key, sizeof(owner_key), prefix, CLM_KEY_OWNER) < 0)
        return -ENAMETOOLONG;
    errbuf[0] = '\0';
    clm_rpipe *p = clm_redis_pipe(r, errbuf, errsize);
    if (!p)
        return -EIO;
    if (clm_redis_is_cluster(r))
        return owner_claim_cluster(p, prefix, group, take_over, owner_key, from, fromsize, errbuf,
                             errsize);
    redisContext *c = clm_redis_get(r, errbuf, errsize); /* the pipe's connection */
    if (!c)
        return -EIO;
    return claim_one(c, p, prefix, group, take_over, owner_key, from, fromsize, errbuf, errsize);
}

