/* daemon/redis.c - see redis.h. */
#include "daemon/redis.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct clm_redis {
    clm_redis_opts o;
    char *host, *password;
    redisContext *ctx;
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

clm_redis *clm_redis_new(const clm_redis_opts *o)
{
    clm_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->o = *o;
    r->host = strdup(o->host);
    r->password = o->password ? strdup(o->password) : NULL;
    if (!r->host || (o->password && !r->password)) {
        clm_redis_free(r);
        return NULL;
    }
    r->o.host = r->host;
    r->o.password = r->password;
    r->backoff_ms = 100;
    return r;
}

void clm_redis_free(clm_redis *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    free(r->host);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    free(r);
}

bool clm_redis_connected(const clm_redis *r)
{
    return r->ctx != NULL;
}

void clm_redis_drop(clm_redis *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
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
    if (clm_now_ms() < r->next_try_ms) {
        snprintf(errbuf, errsize, "waiting to reconnect");
        return NULL;
    }
    struct timeval tv = { .tv_sec = r->o.timeout_ms / 1000,
                          .tv_usec = (r->o.timeout_ms % 1000) * 1000 };
    redisContext *c = r->o.host[0] == '/' ? redisConnectUnixWithTimeout(r->o.host, tv)
                                           : redisConnectWithTimeout(r->o.host, r->o.port, tv);
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
    if (r->o.password) {
        const char *argv[] = { "AUTH", r->o.password };
        char why[200];
        if (expect_ok(c, why, sizeof(why), "AUTH", 2, argv) < 0) {
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
    r->backoff_ms = 100;
    atomic_fetch_add(&connects, 1);
    return c;

out_free_ctx:
    if (c)
        redisFree(c);
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
