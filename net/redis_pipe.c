/* net/redis_pipe.c - see redis_pipe.h. */
#include "net/redis_pipe.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A queued command: where it went and its bytes (to send it again when
 * redirected). */
typedef struct queued {
    redisContext *ctx;
    char *cmd;
    int len;
    int slot;          /* -1: no key, or sent to a node by index */
    redisReply *ready; /* read ahead (see drain), not returned yet */
} queued;

struct clm_rpipe {
    redisContext *ctx; /* one server */
    clm_cluster *cl;   /* or a cluster */
    queued *q;
    size_t head, len, cap;
};

clm_rpipe *clm_rpipe_new(void)
{
    return calloc(1, sizeof(clm_rpipe));
}

void clm_rpipe_free(clm_rpipe *p)
{
    if (!p)
        return;
    for (size_t i = p->head; i < p->len; i++) {
        free(p->q[i].cmd);
        freeReplyObject(p->q[i].ready);
    }
    free(p->q);
    free(p);
}

void clm_rpipe_use_ctx(clm_rpipe *p, redisContext *ctx)
{
    p->ctx = ctx;
    p->cl = NULL;
}

void clm_rpipe_use_cluster(clm_rpipe *p, clm_cluster *cl)
{
    p->ctx = NULL;
    p->cl = cl;
}

bool clm_rpipe_is_cluster(const clm_rpipe *p)
{
    return p->cl != NULL;
}

size_t clm_rpipe_pending(const clm_rpipe *p)
{
    return p->len - p->head;
}

bool clm_rpipe_redirected(const char *err)
{
    return err && (strncmp(err, "MOVED ", 6) == 0 || strncmp(err, "ASK ", 4) == 0 ||
                   strncmp(err, "TRYAGAIN", 8) == 0 || strncmp(err, "CLUSTERDOWN", 11) == 0);
}

void clm_rpipe_reset(clm_rpipe *p)
{
    for (size_t i = p->head; i < p->len; i++) {
        if (p->cl && !p->q[i].ready)
            clm_cluster_drop(p->cl, p->q[i].ctx); /* ignores one dropped already */
        free(p->q[i].cmd);
        freeReplyObject(p->q[i].ready);
    }
    p->head = p->len = 0;
    if (p->cl)
        clm_cluster_stale(p->cl);
}

static redisContext *route(clm_rpipe *p, int slot, char *errbuf, size_t errsize)
{
    if (!p->cl) {
        if (!p->ctx)
            snprintf(errbuf, errsize, "not connected");
        return p->ctx;
    }
    return clm_cluster_for_slot(p->cl, slot < 0 ? 0 : slot, errbuf, errsize);
}

/* Sends a formatted command (taking cmd, malloc'ed) to c and queues it. */
static int push_cmd(clm_rpipe *p, redisContext *c, int slot, char *cmd, int len, char *errbuf,
                    size_t errsize)
{
    if (p->len == p->cap) {
        if (p->head) {
            memmove(p->q, p->q + p->head, (p->len - p->head) * sizeof(*p->q));
            p->len -= p->head;
            p->head = 0;
        }
        if (p->len == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64;
            queued *v = realloc(p->q, cap * sizeof(*v));
            if (!v) {
                snprintf(errbuf, errsize, "out of memory");
                free(cmd);
                return -ENOMEM;
            }
            p->q = v;
            p->cap = cap;
        }
    }
    if (redisAppendFormattedCommand(c, cmd, (size_t)len) != REDIS_OK) {
        snprintf(errbuf, errsize, "%s", c->errstr);
        free(cmd);
        return -EIO;
    }
    p->q[p->len++] = (queued){ c, cmd, len, slot, NULL };
    return 0;
}

/* Formats argv and queues it on c. */
static int push(clm_rpipe *p, redisContext *c, int slot, int argc, const char **argv,
                const size_t *lens, char *errbuf, size_t errsize)
{
    char *cmd;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    return push_cmd(p, c, slot, cmd, len, errbuf, errsize);
}

int clm_rpipe_append_raw(clm_rpipe *p, const char *key, size_t klen, const char *cmd, size_t len,
                         char *errbuf, size_t errsize)
{
    int slot = p->cl ? clm_slot_of(key, klen) : -1;
    redisContext *c = route(p, slot, errbuf, errsize);
    if (!c)
        return -EIO;
    char *copy = len <= INT32_MAX ? malloc(len) : NULL;
    if (!copy) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    memcpy(copy, cmd, len);
    return push_cmd(p, c, slot, copy, (int)len, errbuf, errsize);
}

int clm_rpipe_append(clm_rpipe *p, int keyarg, int argc, const char **argv, const size_t *lens,
                     char *errbuf, size_t errsize)
{
    int slot = -1;
    if (p->cl && keyarg >= 0 && keyarg < argc)
        slot = clm_slot_of(argv[keyarg], lens ? lens[keyarg] : strlen(argv[keyarg]));
    redisContext *c = route(p, slot, errbuf, errsize);
    return c ? push(p, c, slot, argc, argv, lens, errbuf, errsize) : -EIO;
}

int clm_rpipe_nodes(clm_rpipe *p, char *errbuf, size_t errsize)
{
    if (!p->cl)
        return 1;
    int n = clm_cluster_masters(p->cl, NULL, NULL, 0, errbuf, errsize);
    return n < 0 ? -EIO : n;
}

int clm_rpipe_append_node(clm_rpipe *p, int node, int argc, const char **argv, const size_t *lens,
                          char *errbuf, size_t errsize)
{
    if (!p->cl)
        return clm_rpipe_append(p, -1, argc, argv, lens, errbuf, errsize);
    redisContext *ctx[256];
    int n = clm_cluster_masters(p->cl, ctx, NULL, 256, errbuf, errsize);
    if (n < 0)
        return -EIO;
    if (node < 0 || node >= n || node >= 256) {
        snprintf(errbuf, errsize, "the cluster's masters changed during a scan");
        return -EIO;
    }
    return push(p, ctx[node], -1, argc, argv, lens, errbuf, errsize);
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Sends q's command again after a redirect, until a reply that does not
 * redirect (at most 16 tries, pausing 50 ms doubling to 1 s while the slot
 * moves or the cluster fails over). */
static int follow(clm_rpipe *p, const queued *q, redisReply **rep, char *errbuf, size_t errsize)
{
    long wait = 50;
    for (int tries = 0; tries < 16; tries++) {
        int slot, port;
        char host[256];
        int kind = clm_cluster_redirect((*rep)->str, &slot, host, sizeof(host), &port);
        redisContext *c;
        bool asking = kind == 2 && host[0];
        if (asking) {
            c = clm_cluster_at(p->cl, host, port, errbuf, errsize);
        } else {
            clm_cluster_stale(p->cl);
            if (kind == 0 || tries > 0) {
                pause_ms(wait);
                wait = wait * 2 > 1000 ? 1000 : wait * 2;
            }
            c = route(p, q->slot, errbuf, errsize);
        }
        freeReplyObject(*rep);
        *rep = NULL;
        if (!c)
            return -EIO;
        if ((asking && redisAppendCommand(c, "ASKING") != REDIS_OK) ||
            redisAppendFormattedCommand(c, q->cmd, (size_t)q->len) != REDIS_OK)
            goto out_io;
        if (asking) {
            redisReply *ok;
            if (redisGetReply(c, (void **)&ok) != REDIS_OK)
                goto out_io;
            freeReplyObject(ok);
        }
        if (redisGetReply(c, (void **)rep) != REDIS_OK)
            goto out_io;
        if ((*rep)->type != REDIS_REPLY_ERROR || !clm_rpipe_redirected((*rep)->str))
            return 0;
        continue;
out_io:
        snprintf(errbuf, errsize, "%s", c->errstr);
        clm_cluster_drop(p->cl, c);
        return -EIO;
    }
    snprintf(errbuf, errsize, "slot %d kept moving: %s", q->slot, (*rep)->str);
    freeReplyObject(*rep);
    *rep = NULL;
    return -EIO;
}

/* Reads the replies of every command queued after the head, in order, and
 * keeps them: a command sent again after a redirect must not take another
 * command's reply on a connection that still has replies coming. */
static int drain(clm_rpipe *p, char *errbuf, size_t errsize)
{
    for (size_t i = p->head + 1; i < p->len; i++) {
        queued *q = &p->q[i];
        if (!q->ready && redisGetReply(q->ctx, (void **)&q->ready) != REDIS_OK) {
            snprintf(errbuf, errsize, "%s", q->ctx->errstr);
            q->ready = NULL;
            return -EIO;
        }
    }
    return 0;
}

int clm_rpipe_reply(clm_rpipe *p, redisReply **out, char *errbuf, size_t errsize)
{
    *out = NULL;
    if (p->head == p->len) {
        snprintf(errbuf, errsize, "no command queued");
        return -EIO;
    }
    queued *q = &p->q[p->head];
    redisReply *rep = q->ready;
    q->ready = NULL;
    if (!rep && redisGetReply(q->ctx, (void **)&rep) != REDIS_OK) {
        snprintf(errbuf, errsize, "%s", q->ctx->errstr);
        return -EIO;
    }
    int r = 0;
    if (p->cl && q->slot >= 0 && rep->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(rep->str)) {
        if ((r = drain(p, errbuf, errsize)) == 0)
            r = follow(p, q, &rep, errbuf, errsize);
        else {
            freeReplyObject(rep);
            rep = NULL;
        }
    }
    free(q->cmd);
    q->cmd = NULL;
    if (++p->head == p->len)
        p->head = p->len = 0;
    *out = rep;
    return r;
}

redisReply *clm_rpipe_command(clm_rpipe *p, int keyarg, int argc, const char **argv,
                              const size_t *lens, char *errbuf, size_t errsize)
{
    redisReply *rep = NULL;
    if (clm_rpipe_append(p, keyarg, argc, argv, lens, errbuf, errsize) < 0 ||
        clm_rpipe_reply(p, &rep, errbuf, errsize) < 0) {
        clm_rpipe_reset(p);
        return NULL;
    }
    return rep;
}
