/* net/redis_cluster_map.c - see redis_cluster.h: the slot map, read with
 * CLUSTER SLOTS, and what is looked up in it. */
#include "net/redis_cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces the map by the masters of a CLUSTER SLOTS reply from node `from`.
 * 0, -ENXIO (installed, with a slot no master serves), -EPROTO (the reply
 * does not parse; the map is unchanged), -ENOMEM, -ENOSPC. */
static int install(clm_cluster *c, int from, const redisReply *rep, char *errbuf, size_t errsize)
{
    char addr[HOST_MAX + 16], answered[HOST_MAX];
    cluster_fmt_addr(c->nodes[from].host, c->nodes[from].port, addr, sizeof(addr));
    snprintf(answered, sizeof(answered), "%s", c->nodes[from].host); /* nodes may move */
    int r = -ENOMEM;
    uint16_t *map = malloc(CLM_CLUSTER_SLOTS * sizeof(*map));
    int *masters = NULL;
    bool *seen = NULL;
    if (!map)
        goto out_free;
    for (int i = 0; i < CLM_CLUSTER_SLOTS; i++)
        map[i] = NO_NODE;
    r = -EPROTO;
    if (rep->type != REDIS_REPLY_ARRAY)
        goto out_bad;
    for (size_t e = 0; e < rep->elements; e++) {
        const redisReply *row = rep->element[e], *m;
        if (row->type != REDIS_REPLY_ARRAY || row->elements < 3 ||
            row->element[0]->type != REDIS_REPLY_INTEGER ||
            row->element[1]->type != REDIS_REPLY_INTEGER ||
            (m = row->element[2])->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            (m->element[0]->type != REDIS_REPLY_STRING && m->element[0]->type != REDIS_REPLY_NIL) ||
            m->element[1]->type != REDIS_REPLY_INTEGER)
            goto out_bad;
        long long lo = row->element[0]->integer, hi = row->element[1]->integer;
        long long port = m->element[1]->integer;
        if (lo < 0 || hi < lo || hi >= CLM_CLUSTER_SLOTS || port < 1 || port > 65535)
            goto out_bad;
        /* an unknown endpoint: the host that answered, at the port given */
        const char *host = m->element[0]->type == REDIS_REPLY_NIL ? "" : m->element[0]->str;
        if (!host[0] || strcmp(host, "?") == 0)
            host = answered;
        int i = cluster_node_index(c, host, (int)port);
        if (i < 0) {
            r = i;
            goto out_free;
        }
        for (long long s = lo; s <= hi; s++)
            map[s] = (uint16_t)i;
    }
    r = -ENOMEM;
    if (!(seen = calloc((size_t)c->nnodes, sizeof(*seen))) ||
        !(masters = malloc((size_t)c->nnodes * sizeof(*masters))))
        goto out_free;
    int n = 0, hole = -1;
    for (int s = 0; s < CLM_CLUSTER_SLOTS; s++) {
        if (map[s] == NO_NODE) {
            if (hole < 0)
                hole = s;
        } else if (!seen[map[s]]) {
            seen[map[s]] = true;
            masters[n++] = map[s];
        }
    }
    free(c->map);
    free(c->masters);
    c->map = map;
    c->masters = masters;
    c->nmasters = n;
    c->have_map = true;
    c->stale = hole >= 0;
    c->refreshes++;
    free(seen);
    if (hole < 0)
        return 0;
    snprintf(errbuf, errsize, "Redis Cluster node %s: no master serves slot %d (CLUSTER SLOTS)",
             addr, hole);
    return -ENXIO;

out_bad:
    snprintf(errbuf, errsize, "Redis Cluster node %s: CLUSTER SLOTS reply does not parse", addr);
out_free:
    if (r == -ENOMEM)
        snprintf(errbuf, errsize, "out of memory");
    else if (r == -ENOSPC || r == -EINVAL)
        snprintf(errbuf, errsize, "Redis Cluster node %s: CLUSTER SLOTS names a host too long "
                 "or more than %d nodes", addr, MAX_NODES);
    free(map);
    free(masters);
    free(seen);
    return r;
}

int clm_cluster_refresh(clm_cluster *c, char *errbuf, size_t errsize)
{
    char why[512] = "no node to ask", proto[512] = "";
    int *ask = malloc((size_t)(c->nmasters + c->nseeds) * sizeof(*ask));
    if (!ask) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    int nask = 0;
    for (int i = 0; i < c->nmasters; i++)
        ask[nask++] = c->masters[i];
    for (int i = 0; i < c->nseeds; i++) {
        bool dup = false;
        for (int j = 0; j < c->nmasters && !dup; j++)
            dup = c->masters[j] == i;
        if (!dup)
            ask[nask++] = i;
    }
    int r = -EIO;
    for (int k = 0; k < nask; k++) {
        int i = ask[k];
        redisContext *ctx = cluster_node_connect(c, i, why, sizeof(why));
        if (!ctx)
            continue;
        char addr[HOST_MAX + 16];
        cluster_fmt_addr(c->nodes[i].host, c->nodes[i].port, addr, sizeof(addr));
        const char *argv[] = { "CLUSTER", "SLOTS" };
        redisReply *rep = redisCommandArgv(ctx, 2, argv, NULL);
        if (!rep) {
            snprintf(why, sizeof(why), "Redis Cluster node %s: CLUSTER SLOTS: %s", addr,
                     ctx->errstr);
            cluster_node_close(&c->nodes[i]);
            continue;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            /* not a cluster; anything else (LOADING, ...) is a node not ready */
            if (strstr(rep->str, "cluster support disabled"))
                snprintf(proto, sizeof(proto), "Redis at %s is not a cluster node: CLUSTER "
                         "SLOTS: %s", addr, rep->str);
            else
                snprintf(why, sizeof(why), "Redis Cluster node %s: CLUSTER SLOTS: %s", addr,
                         rep->str);
            freeReplyObject(rep);
            continue;
        }
        r = install(c, i, rep, why, sizeof(why));
        freeReplyObject(rep);
        if (r == 0 || r == -ENXIO)
            break;
        if (r == -EPROTO)
            snprintf(proto, sizeof(proto), "%s", why);
        else
            break; /* -ENOMEM, -ENOSPC: asking another node will not help */
    }
    free(ask);
    if (r == -EIO && proto[0])
        r = -EPROTO;
    if (r == -EPROTO)
        snprintf(errbuf, errsize, "%s", proto);
    else if (r == -EIO)
        snprintf(errbuf, errsize, "no node of the cluster answered (seeds %s); the last: %s",
                 c->o.seeds, why);
    else if (r < 0)
        snprintf(errbuf, errsize, "%s", why);
    return r;
}

redisContext *clm_cluster_for_slot(clm_cluster *c, int slot, char *errbuf, size_t errsize)
{
    if (slot < 0 || slot >= CLM_CLUSTER_SLOTS) {
        snprintf(errbuf, errsize, "slot %d is not in 0..%d", slot, CLM_CLUSTER_SLOTS - 1);
        return NULL;
    }
    if (!c->have_map || c->stale) {
        int r = clm_cluster_refresh(c, errbuf, errsize);
        if (r < 0 && r != -ENXIO)
            return NULL;
    }
    if (c->map[slot] == NO_NODE) {
        snprintf(errbuf, errsize, "no master of the cluster serves slot %d", slot);
        return NULL;
    }
    return cluster_node_connect(c, c->map[slot], errbuf, errsize);
}

redisContext *clm_cluster_for_key(clm_cluster *c, const char *key, size_t len, char *errbuf,
                                  size_t errsize)
{
    return clm_cluster_for_slot(c, clm_slot_of(key, len), errbuf, errsize);
}

int clm_cluster_slot_owner(const clm_cluster *c, int slot, char *host, size_t hostsize,
                           int *port)
{
    if (!c->have_map || slot < 0 || slot >= CLM_CLUSTER_SLOTS || c->map[slot] == NO_NODE)
        return -ENOENT;
    const cluster_node *n = &c->nodes[c->map[slot]];
    snprintf(host, hostsize, "%s", n->host);
    *port = n->port;
    return 0;
}

unsigned long clm_cluster_refreshes(const clm_cluster *c)
{
    return c->refreshes;
}

int clm_cluster_masters(clm_cluster *c, redisContext **ctx, char (*addr)[64], int max,
                        char *errbuf, size_t errsize)
{
    if (!c->have_map || c->stale) {
        int r = clm_cluster_refresh(c, errbuf, errsize);
        if (r < 0 && r != -ENXIO)
            return r;
    }
    for (int i = 0; i < c->nmasters && i < max; i++) {
        const cluster_node *n = &c->nodes[c->masters[i]];
        if (addr)
            cluster_fmt_addr(n->host, n->port, addr[i], sizeof(addr[i]));
        if (ctx && !(ctx[i] = cluster_node_connect(c, c->masters[i], errbuf, errsize)))
            return -EIO;
    }
    return c->nmasters;
}
