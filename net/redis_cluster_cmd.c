/* net/redis_cluster_cmd.c - see redis_cluster.h: one command routed by
 * its key's slot, following MOVED and ASK, retrying TRYAGAIN and
 * CLUSTERDOWN. */
#include "net/redis_cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sleeps *ms before the next attempt (none after the last one), doubling
 * *ms up to 1 s. */
static void backoff(int attempt, int *ms)
{
    if (attempt >= MAX_REDIRECTS)
        return;
    struct timespec ts = { .tv_sec = *ms / 1000, .tv_nsec = (long)(*ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    *ms = *ms * 2 > 1000 ? 1000 : *ms * 2;
}

int clm_cluster_redirect(const char *err, int *slot, char *host, size_t hostsize, int *port)
{
    int kind;
    const char *p;
    if (!err)
        return 0;
    if (strncmp(err, "MOVED ", 6) == 0)
        kind = 1, p = err + 6;
    else if (strncmp(err, "ASK ", 4) == 0)
        kind = 2, p = err + 4;
    else
        return 0;
    char *end;
    errno = 0;
    long s = strtol(p, &end, 10);
    if (end == p || *end != ' ' || errno || s < 0 || s >= CLM_CLUSTER_SLOTS)
        return 0;
    p = end + 1;
    const char *colon = strrchr(p, ':');
    if (!colon)
        return 0;
    long pt = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || pt < 1 || pt > 65535)
        return 0;
    size_t hlen = (size_t)(colon - p);
    if (hlen >= 2 && p[0] == '[' && p[hlen - 1] == ']')
        p++, hlen -= 2;
    if (hlen >= hostsize || memchr(p, ' ', hlen))
        return 0;
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    *slot = (int)s;
    *port = (int)pt;
    return kind;
}

/* Sends the command (after ASKING when asking) and reads its reply; NULL
 * on an I/O or protocol error (ctx->errstr). */
static redisReply *send_command(redisContext *ctx, bool asking, int argc, const char **argv,
                                const size_t *lens)
{
    redisReply *rep = NULL;
    if (asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK)
        return NULL;
    if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK)
        return NULL;
    if (asking) {
        if (redisGetReply(ctx, (void **)&rep) != REDIS_OK)
            return NULL;
        freeReplyObject(rep); /* an error here shows in the command's own reply */
        rep = NULL;
    }
    if (redisGetReply(ctx, (void **)&rep) != REDIS_OK)
        return NULL;
    return rep;
}

redisReply *clm_cluster_command(clm_cluster *c, int keyarg, int argc, const char **argv,
                                const size_t *lens, char *errbuf, size_t errsize)
{
    if (argc < 1 || keyarg >= argc) {
        snprintf(errbuf, errsize, "no command, or its key is not among its %d arguments", argc);
        return NULL;
    }
    int slot = keyarg < 0 ? 0 : clm_slot_of(argv[keyarg], lens ? lens[keyarg]
                                                               : strlen(argv[keyarg]));
    int target = -1; /* a redirect's node; -1: the slot's master in the map */
    bool asking = false;
    int pause = 50;
    char why[512] = "";
    for (int attempt = 0; attempt <= MAX_REDIRECTS; attempt++) {
        if (target < 0 && (!c->have_map || c->stale)) {
            int r = clm_cluster_refresh(c, why, sizeof(why));
            if (r < 0 && r != -EIO && r != -ENXIO) {
                /* not a cluster, or out of memory: asking again will not help */
                snprintf(errbuf, errsize, "%s", why);
                return NULL;
            }
        }
        redisContext *ctx = NULL;
        if (target >= 0)
            ctx = cluster_node_connect(c, target, why, sizeof(why));
        else if (c->have_map && !c->stale)
            ctx = clm_cluster_for_slot(c, slot, why, sizeof(why));
        else if (c->have_map && c->map[slot] != NO_NODE)
            ctx = cluster_node_connect(c, c->map[slot], why, sizeof(why)); /* -ENXIO elsewhere */
        if (!ctx) {
            /* nothing was sent: look again after a pause (a failover) */
            c->stale = true;
            target = -1;
            asking = false;
            backoff(attempt, &pause);
            continue;
        }
        int at = cluster_node_of(c, ctx);
        char addr[HOST_MAX + 16];
        cluster_fmt_addr(c->nodes[at].host, c->nodes[at].port, addr, sizeof(addr));
        redisReply *rep = send_command(ctx, asking, argc, argv, lens);
        if (!rep) {
            snprintf(errbuf, errsize, "Redis Cluster node %s: %s: %s (not sent again: it may "
                     "have run)", addr, argv[0], ctx->errstr);
            clm_cluster_drop(c, ctx);
            return NULL;
        }
        if (rep->type != REDIS_REPLY_ERROR)
            return rep;
        int rslot, rport;
        char rhost[HOST_MAX];
        int kind = clm_cluster_redirect(rep->str, &rslot, rhost, sizeof(rhost), &rport);
        if (kind) {
            if (!rhost[0]) /* an unknown endpoint: the host that answered */
                snprintf(rhost, sizeof(rhost), "%s", c->nodes[at].host);
            snprintf(why, sizeof(why), "%s from %s", rep->str, addr);
            freeReplyObject(rep);
            int t = cluster_node_index(c, rhost, rport);
            if (t < 0) {
                snprintf(errbuf, errsize, "Redis Cluster node %s: %s: cannot follow it: %s",
                         addr, why, strerror(-t));
                return NULL;
            }
            if (kind == 1) {
                char ignored[256];
                c->stale = true;
                /* the target is sent to even when the refresh fails: MOVED is
                 * itself authoritative */
                clm_cluster_refresh(c, ignored, sizeof(ignored));
            }
            target = t;
            asking = kind == 2;
            if (attempt >= 4) /* nodes that disagree: give them time to settle */
                backoff(attempt, &pause);
            continue;
        }
        bool down = strncmp(rep->str, "CLUSTERDOWN", 11) == 0;
        if (down || strncmp(rep->str, "TRYAGAIN", 8) == 0) {
            snprintf(why, sizeof(why), "%s from %s", rep->str, addr);
            freeReplyObject(rep);
            if (down) {
                c->stale = true;
                target = -1;
                asking = false;
            }
            backoff(attempt, &pause);
            continue;
        }
        return rep; /* an ordinary error reply, such as WRONGTYPE */
    }
    snprintf(errbuf, errsize, "%s: gave up after %d redirects and retries; the last: %s",
             argv[0], MAX_REDIRECTS, why);
    return NULL;
}
