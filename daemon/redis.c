/* daemon/redis.c - see redis.h. */
#include "daemon/redis.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/redis_cluster.h"
#include "net/redis_pipe.h"

/* The strings of clm_redis_opts, copied. */
enum { S_HOST, S_PASSWORD, S_USER, S_CA, S_CERT, S_KEY, S_NAME, S_COUNT };

struct clm_redis {
    clm_redis_opts o;
    char *s[S_COUNT + 1]; /* + the cluster seeds */
    clm_cluster *cl;      /* with redis.cluster */
    clm_rpipe *pipe;      /* keyed commands, on ctx or cl */
    redisContext *ctx;
    clm_tls_link *link; /* with redis.tls: the pump behind ctx */
    long long next_try_ms;
    long long backoff_ms;
};

static _Atomic unsigned long long connects;

unsigned long long clm_redis_connects_total(void)
{
    return atomic_load(&connects);
}

long long clm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clm_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

clm_redis *clm_redis_new(const clm_redis_opts *o)
{
    clm_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->o = *o;
    const char **from[S_COUNT + 1] = {
        [S_HOST] = &r->o.host, [S_PASSWORD] = &r->o.password, [S_USER] = &r->o.user,
        [S_CA] = &r->o.tls_opts.ca_file, [S_CERT] = &r->o.tls_opts.cert_file,
        [S_KEY] = &r->o.tls_opts.key_file, [S_NAME] = &r->o.tls_opts.server_name,
        [S_COUNT] = &r->o.cluster,
    };
    for (int i = 0; i <= S_COUNT; i++) {
        if (!*from[i])
            continue;
        if (!(r->s[i] = strdup(*from[i]))) {
            clm_redis_free(r);
            return NULL;
        }
        *from[i] = r->s[i];
    }
    r->backoff_ms = 100;
    if (!(r->pipe = clm_rpipe_new())) {
        clm_redis_free(r);
        return NULL;
    }
    if (r->o.cluster && r->o.cluster[0]) {
        clm_cluster_opts co = { .seeds = r->o.cluster, .timeout_ms = r->o.timeout_ms,
                                .user = r->o.user, .password = r->o.password, .tls = r->o.tls,
                                .tls_opts = r->o.tls_opts };
        char err[256];
        if (clm_cluster_new(&co, &r->cl, err, sizeof(err)) < 0) {
            clm_redis_free(r); /* seeds are checked with the configuration */
            return NULL;
        }
        clm_rpipe_use_cluster(r->pipe, r->cl);
    } else {
        r->o.cluster = NULL;
    }
    return r;
}

void clm_redis_free(clm_redis *r)
{
    if (!r)
        return;
    clm_redis_drop(r);
    clm_rpipe_free(r->pipe);
    clm_cluster_free(r->cl);
    if (r->s[S_PASSWORD])
        memset(r->s[S_PASSWORD], 0, strlen(r->s[S_PASSWORD]));
    for (int i = 0; i <= S_COUNT; i++)
        free(r->s[i]);
    free(r);
}

bool clm_redis_connected(const clm_redis *r)
{
    return r->cl ? true : r->ctx != NULL;
}

void clm_redis_drop(clm_redis *r)
{
    if (r->pipe)
        clm_rpipe_reset(r->pipe);
    if (r->cl)
        return;
    if (r->pipe)
        clm_rpipe_use_ctx(r->pipe, NULL);
    if (r->ctx || r->link) {
        clm_tls_close(r->ctx, r->link); /* plain redisFree without a link */
        r->ctx = NULL;
        r->link = NULL;
    }
}

/* Runs a command expecting a status reply; returns 0 or -EIO with errbuf set. */
static int expect_ok(redisContext *c, char *errbuf, size_t errsize, const char *what,
                     int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep) {
        snprintf(errbuf, errsize, "%s: %s", what, c->errstr);
        return -EIO;
    }
    int ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(errbuf, errsize, "%s: %s", what, rep->str);
    freeReplyObject(rep);
    return ok ? 0 : -EIO;
}

static void backoff(clm_redis *r)
{
    r->next_try_ms = clm_now_ms() + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > 5000 ? 5000 : r->backoff_ms * 2;
}

redisContext *clm_redis_get(clm_redis *r, char *errbuf, size_t errsize)
{
    if (r->ctx)
        return r->ctx;
    if (r->cl) { /* every command names its key there: clm_redis_pipe */
        snprintf(errbuf, errsize, "a command without its key cannot be routed on Redis Cluster");
        return NULL;
    }
    if (clm_now_ms() < r->next_try_ms) {
        snprintf(errbuf, errsize, "waiting to reconnect");
        return NULL;
    }
    struct timeval tv = { .tv_sec = r->o.timeout_ms / 1000,
                          .tv_usec = (r->o.timeout_ms % 1000) * 1000 };
    redisContext *c = NULL;
    clm_tls_link *link = NULL;
    if (r->o.tls) {
        if (clm_tls_connect(r->o.host, r->o.port, &r->o.tls_opts, r->o.timeout_ms, &c, &link,
                            errbuf, errsize) < 0)
            goto out_free_ctx;
    } else {
        c = r->o.host[0] == '/' ? redisConnectUnixWithTimeout(r->o.host, tv)
                                : redisConnectWithTimeout(r->o.host, r->o.port, tv);
    }
    if (!c || c->err) {
        snprintf(errbuf, errsize, "connect to %s:%d: %s", r->o.host, r->o.port,
                 c ? c->errstr : "out of memory");
        goto out_free_ctx;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(errbuf, errsize, "setting the command timeout failed");
        goto out_free_ctx;
    }
    char where[300];
    if (r->o.host[0] == '/')
        snprintf(where, sizeof(where), "%s", r->o.host);
    else
        snprintf(where, sizeof(where), "%s:%d", r->o.host, r->o.port);
    bool user = r->o.user && r->o.user[0];
    if (r->o.password) {
        const char *argv[] = { "AUTH", user ? r->o.user : r->o.password, r->o.password };
        char why[200];
        if (expect_ok(c, why, sizeof(why), "AUTH", user ? 3 : 2, argv) < 0) {
            if (user)
                snprintf(errbuf, errsize, "Redis at %s refused the user \"%s\" in redis.user with "
                         "the password in redis.password (secrets file): %s", where, r->o.user,
                         why);
            else
                snprintf(errbuf, errsize, "Redis at %s refused the password in redis.password "
                         "(secrets file): %s", where, why);
            goto out_free_ctx;
        }
    } else {
        /* No password configured: say so plainly when the server needs one,
         * rather than failing later with NOAUTH on the first command. */
        const char *argv[] = { "PING" };
        char why[200];
        if (expect_ok(c, why, sizeof(why), "PING", 1, argv) < 0) {
            if (strstr(why, "NOAUTH"))
                snprintf(errbuf, errsize, "Redis at %s requires a password: set redis.password "
                         "in the secrets file (%s)", where, why);
            else
                snprintf(errbuf, errsize, "%s", why);
            goto out_free_ctx;
        }
    }
    if (r->o.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->o.db);
        const char *argv[] = { "SELECT", db };
        if (expect_ok(c, errbuf, errsize, "SELECT", 2, argv) < 0)
            goto out_free_ctx;
    }
    r->ctx = c;
    r->link = link;
    r->backoff_ms = 100;
    atomic_fetch_add(&connects, 1);
    return c;

out_free_ctx:
    if (link)
        clm_tls_ended(link, errbuf, errsize); /* "closed the connection" says less */
    clm_tls_close(c, link); /* plain redisFree without a link; accepts NULL */
    backoff(r);
    return NULL;
}

bool clm_redis_write_refused(const char *err)
{
    return err && (strncmp(err, "OOM ", 4) == 0 || strncmp(err, "MISCONF ", 8) == 0);
}

int clm_redis_check_noeviction(redisContext *c, char *errbuf, size_t errsize)
{
    const char *argv[] = { "INFO", "memory" };
    redisReply *rep = redisCommandArgv(c, 2, argv, NULL);
    if (!rep) {
        snprintf(errbuf, errsize, "INFO memory: %s", c->errstr);
        return -EIO;
    }
    int r = -ENOTSUP;
    const char *f = NULL;
    if (rep->type == REDIS_REPLY_STRING)
        f = strstr(rep->str, "\nmaxmemory_policy:");
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errsize, "INFO memory: %s", rep->str);
    } else if (!f) {
        snprintf(errbuf, errsize, "INFO memory has no maxmemory_policy");
    } else {
        f += strlen("\nmaxmemory_policy:");
        int len = (int)strcspn(f, "\r\n");
        if (len == 10 && strncmp(f, "noeviction", 10) == 0) {
            r = 0;
        } else {
            snprintf(errbuf, errsize, "Redis evicts keys under memory pressure (maxmemory-policy %.*s): "
                     "an evicted offset would replay its partition and an evicted customer would "
                     "come back reset; set maxmemory-policy noeviction (clmd then holds its writes "
                     "while Redis is full, and resumes once there is room)", len > 64 ? 64 : len, f);
            r = -EINVAL;
        }
    }
    freeReplyObject(rep);
    return r;
}

int clm_redis_check_noeviction_all(clm_redis *r, char *errbuf, size_t errsize)
{
    if (!r->cl) {
        redisContext *c = clm_redis_get(r, errbuf, errsize);
        return c ? clm_redis_check_noeviction(c, errbuf, errsize) : -EIO;
    }
    redisContext *ctx[256];
    int n = clm_cluster_masters(r->cl, ctx, NULL, 256, errbuf, errsize);
    if (n < 0)
        return -EIO;
    int verdict = 0;
    for (int i = 0; i < n; i++) {
        char one[512];
        if (i >= 256 || !ctx[i]) {
            snprintf(errbuf, errsize, "master %d of %d cannot be reached", i + 1, n);
            return -EIO;
        }
        int e = clm_redis_check_noeviction(ctx[i], one, sizeof(one));
        if (e == -EIO) {
            clm_redis_drop_ctx(r, ctx[i]);
            snprintf(errbuf, errsize, "master %d of %d: %s", i + 1, n, one);
            return -EIO;
        }
        /* an evicting master decides; a master that does not tell is
         * reported unless another evicts */
        if (e < 0 && (verdict == 0 || (e == -EINVAL && verdict == -ENOTSUP))) {
            snprintf(errbuf, errsize, "master %d of %d: %s", i + 1, n, one);
            verdict = e;
        }
    }
    return verdict;
}

/* ---- keyed commands --------------------------------------------------- */

bool clm_redis_is_cluster(const clm_redis *r)
{
    return r->cl != NULL;
}

clm_rpipe *clm_redis_pipe(clm_redis *r, char *errbuf, size_t errsize)
{
    if (!r->cl) {
        redisContext *c = clm_redis_get(r, errbuf, errsize);
        if (!c)
            return NULL;
        clm_rpipe_use_ctx(r->pipe, c);
    }
    return r->pipe;
}

redisContext *clm_redis_get_key(clm_redis *r, const char *key, size_t len, char *errbuf,
                                size_t errsize)
{
    if (!r->cl)
        return clm_redis_get(r, errbuf, errsize);
    return clm_cluster_for_key(r->cl, key, len, errbuf, errsize);
}

void clm_redis_drop_ctx(clm_redis *r, redisContext *c)
{
    clm_redis_drop(r);
    if (r->cl)
        clm_cluster_drop(r->cl, c);
}

void clm_redis_stale(clm_redis *r)
{
    if (r->cl)
        clm_cluster_stale(r->cl);
}

/* WAIT 1 on one node when ROLE says it has replicas. */
static int wait_one(redisContext *c, int timeout_ms, char *errbuf, size_t errsize)
{
    redisReply *rep = redisCommand(c, "ROLE");
    if (!rep) {
        snprintf(errbuf, errsize, "ROLE: %s", c->errstr);
        return -EIO;
    }
    bool replicas = rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
                    rep->element[2]->type == REDIS_REPLY_ARRAY && rep->element[2]->elements > 0;
    freeReplyObject(rep);
    if (!replicas)
        return 0;
    if (!(rep = redisCommand(c, "WAIT 1 %d", timeout_ms))) {
        snprintf(errbuf, errsize, "WAIT: %s", c->errstr);
        return -EIO;
    }
    int r = 0;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 1) {
        snprintf(errbuf, errsize, "no replica acknowledged the writes within %d ms%s%s",
                 timeout_ms, rep->type == REDIS_REPLY_ERROR ? ": " : "",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        r = -EAGAIN;
    }
    freeReplyObject(rep);
    return r;
}

int clm_redis_wait_replicas(clm_redis *r, const char *key, size_t len, int timeout_ms,
                            char *errbuf, size_t errsize)
{
    if (key || !r->cl) {
        redisContext *c = key ? clm_redis_get_key(r, key, len, errbuf, errsize)
                              : clm_redis_get(r, errbuf, errsize);
        int e = c ? wait_one(c, timeout_ms, errbuf, errsize) : -EIO;
        if (c && e == -EIO)
            clm_redis_drop_ctx(r, c);
        return e;
    }
    redisContext *ctx[64];
    int n = clm_cluster_masters(r->cl, ctx, NULL, 64, errbuf, errsize);
    if (n < 0)
        return -EIO;
    for (int i = 0; i < n && i < 64; i++) {
        int e;
        if (!ctx[i]) {
            snprintf(errbuf, errsize, "a master cannot be reached");
            return -EIO;
        }
        if ((e = wait_one(ctx[i], timeout_ms, errbuf, errsize)) < 0) {
            if (e == -EIO)
                clm_redis_drop_ctx(r, ctx[i]);
            return e;
        }
    }
    return 0;
}
