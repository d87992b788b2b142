/* net/redis_cluster.c - see redis_cluster.h: the nodes and their
 * connections, the seeds, the client's lifecycle. The slot map is in
 * redis_cluster_map.c, commands and redirects in redis_cluster_cmd.c. */
#include "net/redis_cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 2000

/* "host:port", IPv6 hosts in brackets. */
void cluster_fmt_addr(const char *host, int port, char *buf, size_t size)
{
    snprintf(buf, size, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* ---- nodes ----------------------------------------------------------------- */

static int find_node(const clm_cluster *c, const char *host, int port)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i].port == port && strcmp(c->nodes[i].host, host) == 0)
            return i;
    return -1;
}

/* The index of the node at host:port, added when new; -ENOMEM, -ENOSPC,
 * -EINVAL (host too long). */
int cluster_node_index(clm_cluster *c, const char *host, int port)
{
    int i = find_node(c, host, port);
    if (i >= 0)
        return i;
    if (strlen(host) >= HOST_MAX)
        return -EINVAL;
    if (c->nnodes == MAX_NODES)
        return -ENOSPC;
    if (c->nnodes == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        cluster_node *n = realloc(c->nodes, (size_t)cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        c->nodes = n;
        c->cap = cap;
    }
    cluster_node *n = &c->nodes[c->nnodes];
    memset(n, 0, sizeof(*n));
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    return c->nnodes++;
}

int cluster_node_of(const clm_cluster *c, const redisContext *ctx)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i].ctx == ctx)
            return i;
    return -1;
}

void cluster_node_close(cluster_node *n)
{
    if (n->ctx || n->link)
        clm_tls_close(n->ctx, n->link); /* plain redisFree without a link */
    n->ctx = NULL;
    n->link = NULL;
}

/* Runs a command on a fresh connection; 0, or -EIO with the reply's error
 * or the connection's in why. */
static int expect_ok(redisContext *ctx, int argc, const char **argv, char *why, size_t whysize)
{
    redisReply *rep = redisCommandArgv(ctx, argc, argv, NULL);
    if (!rep) {
        snprintf(why, whysize, "%s", ctx->errstr);
        return -EIO;
    }
    int r = rep->type == REDIS_REPLY_ERROR ? -EIO : 0;
    if (r < 0)
        snprintf(why, whysize, "%s", rep->str);
    freeReplyObject(rep);
    return r;
}

/* The node's context, connected (and AUTHed) when it has none. NULL with
 * errbuf on failure. */
redisContext *cluster_node_connect(clm_cluster *c, int i, char *errbuf, size_t errsize)
{
    cluster_node *n = &c->nodes[i];
    if (n->ctx)
        return n->ctx;
    char addr[HOST_MAX + 16], why[256];
    cluster_fmt_addr(n->host, n->port, addr, sizeof(addr));
    int ms = c->o.timeout_ms;
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    redisContext *ctx = NULL;
    clm_tls_link *link = NULL;
    if (c->o.tls) {
        if (clm_tls_connect(n->host, n->port, &c->o.tls_opts, ms, &ctx, &link, errbuf,
                            errsize) < 0)
            return NULL;
    } else {
        ctx = redisConnectWithTimeout(n->host, n->port, tv);
        if (!ctx || ctx->err) {
            snprintf(errbuf, errsize, "Redis Cluster node %s: connect: %s", addr,
                     ctx ? ctx->errstr : "out of memory");
            goto out_close;
        }
    }
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        snprintf(errbuf, errsize, "Redis Cluster node %s: setting the timeout failed", addr);
        goto out_close;
    }
    bool user = c->o.user && c->o.user[0];
    if (c->o.password) {
        const char *argv[] = { "AUTH", user ? c->o.user : c->o.password, c->o.password };
        if (expect_ok(ctx, user ? 3 : 2, argv, why, sizeof(why)) < 0) {
            if (user)
                snprintf(errbuf, errsize, "Redis Cluster node %s refused the user \"%s\" with "
                         "its password: %s", addr, c->o.user, why);
            else
                snprintf(errbuf, errsize, "Redis Cluster node %s refused the password: %s",
                         addr, why);
            goto out_close;
        }
    } else {
        /* say plainly that a password is needed, not NOAUTH on a later command */
        const char *argv[] = { "PING" };
        if (expect_ok(ctx, 1, argv, why, sizeof(why)) < 0) {
            snprintf(errbuf, errsize, "Redis Cluster node %s%s: %s", addr,
                     strstr(why, "NOAUTH") ? " requires a password" : "", why);
            goto out_close;
        }
    }
    n->ctx = ctx;
    n->link = link;
    return ctx;

out_close:
    if (link)
        clm_tls_ended(link, errbuf, errsize); /* "closed the connection" says less */
    clm_tls_close(ctx, link);
    return NULL;
}

/* ---- seeds and lifecycle --------------------------------------------------- */

/* Adds the seed s[0..len) as a node; -EINVAL with errbuf naming it. */
static int add_seed(clm_cluster *c, const char *s, size_t len, int nth, char *errbuf,
                    size_t errsize)
{
    char seed[HOST_MAX + 16], host[HOST_MAX];
    const char *why = NULL;
    if (len >= sizeof(seed)) {
        why = "too long";
        len = 32;
        goto out_bad;
    }
    memcpy(seed, s, len);
    seed[len] = '\0';
    char *colon, *close = seed[0] == '[' ? strchr(seed, ']') : NULL;
    const char *h = seed;
    size_t hlen = 0;
    if (seed[0] == '[') {
        colon = close && close[1] == ':' ? close + 1 : NULL;
        h = seed + 1;
        hlen = close ? (size_t)(close - h) : 0;
        if (!close)
            why = "no ']' after the IPv6 address";
        else if (!colon)
            why = "no port after the ']'";
    } else {
        colon = strrchr(seed, ':');
        hlen = colon ? (size_t)(colon - seed) : 0;
        if (!colon)
            why = "no port";
        else if (memchr(seed, ':', hlen))
            why = "an IPv6 address goes in brackets";
    }
    if (!why && hlen == 0)
        why = "no host";
    char *end = NULL;
    long port = why ? 0 : strtol(colon + 1, &end, 10);
    if (!why && (end == colon + 1 || *end || port < 1 || port > 65535))
        why = "the port is not a number in 1..65535";
    if (why)
        goto out_bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    int r = cluster_node_index(c, host, (int)port);
    if (r < 0) {
        snprintf(errbuf, errsize, "cluster seed \"%s\": %s", seed, strerror(-r));
        return r;
    }
    return 0;

out_bad:
    snprintf(errbuf, errsize, "cluster seed %d \"%.*s\" in \"%s\": expected host:port, e.g. "
             "127.0.0.1:7000 or [::1]:7000 (%s)", nth, (int)len, s, c->o.seeds, why);
    return -EINVAL;
}

int clm_cluster_new(const clm_cluster_opts *o, clm_cluster **out, char *errbuf, size_t errsize)
{
    int r = -ENOMEM;
    clm_cluster *c = calloc(1, sizeof(*c));
    if (!c || !(c->map = malloc(CLM_CLUSTER_SLOTS * sizeof(*c->map))))
        goto out_nomem;
    c->o = *o;
    const char **from[S_COUNT] = {
        [S_SEEDS] = &c->o.seeds, [S_USER] = &c->o.user, [S_PASSWORD] = &c->o.password,
        [S_CA] = &c->o.tls_opts.ca_file, [S_CERT] = &c->o.tls_opts.cert_file,
        [S_KEY] = &c->o.tls_opts.key_file, [S_NAME] = &c->o.tls_opts.server_name,
    };
    for (int i = 0; i < S_COUNT; i++) {
        if (!*from[i])
            continue;
        if (!(c->s[i] = strdup(*from[i])))
            goto out_nomem;
        *from[i] = c->s[i];
    }
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    for (int i = 0; i < CLM_CLUSTER_SLOTS; i++)
        c->map[i] = NO_NODE;
    const char *p = c->o.seeds ? c->o.seeds : "";
    int nth = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t n = len;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        nth++;
        if (n == 0) {
            snprintf(errbuf, errsize, "cluster seed %d in \"%s\" is empty: expected "
                     "host:port[,host:port...], e.g. 127.0.0.1:7000 or [::1]:7000", nth,
                     c->o.seeds ? c->o.seeds : "");
            r = -EINVAL;
            goto out_free;
        }
        if ((r = add_seed(c, s, n, nth, errbuf, errsize)) < 0)
            goto out_free;
        if (!p[len])
            break;
        p += len + 1;
    }
    c->nseeds = c->nnodes;
    *out = c;
    return 0;

out_nomem:
    snprintf(errbuf, errsize, "out of memory");
out_free:
    clm_cluster_free(c);
    return r;
}

void clm_cluster_free(clm_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nnodes; i++)
        cluster_node_close(&c->nodes[i]);
    if (c->s[S_PASSWORD])
        memset(c->s[S_PASSWORD], 0, strlen(c->s[S_PASSWORD]));
    for (int i = 0; i < S_COUNT; i++)
        free(c->s[i]);
    free(c->nodes);
    free(c->map);
    free(c->masters);
    free(c);
}

redisContext *clm_cluster_at(clm_cluster *c, const char *host, int port, char *errbuf,
                             size_t errsize)
{
    int i = port < 1 || port > 65535 ? -EINVAL : cluster_node_index(c, host, port);
    if (i < 0) {
        snprintf(errbuf, errsize, "Redis Cluster node %s:%d: %s", host, port, strerror(-i));
        return NULL;
    }
    return cluster_node_connect(c, i, errbuf, errsize);
}

void clm_cluster_drop(clm_cluster *c, redisContext *ctx)
{
    int i = ctx ? cluster_node_of(c, ctx) : -1;
    if (i < 0)
        return;
    cluster_node_close(&c->nodes[i]);
    c->stale = true;
}

void clm_cluster_stale(clm_cluster *c)
{
    c->stale = true;
}
