/* daemon/lease.c - a Redis key as a lease (see lease.h). */
#include "daemon/lease.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Renews the lease only while this holder's token holds it. */
static const char renew_script[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
static const char release_script[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";

int clm_lease_init(clm_lease *l, const char *key, int ttl_ms, char *errbuf, size_t errsize)
{
    memset(l, 0, sizeof(*l));
    if (snprintf(l->key, sizeof(l->key), "%s", key) >= (int)sizeof(l->key)) {
        snprintf(errbuf, errsize, "lease key too long");
        return -ENAMETOOLONG;
    }
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        int e = errno;
        snprintf(errbuf, errsize, "no random lease token: %s", strerror(e));
        return -e;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(l->token + 2 * i, 3, "%02x", rnd[i]);
    l->ttl_ms = ttl_ms;
    return 0;
}

int clm_lease_hold(clm_lease *l, clm_rpipe *rc, char *errbuf, size_t errsize)
{
    char ttl[16], why[256] = "";
    snprintf(ttl, sizeof(ttl), "%d", l->ttl_ms);
    redisReply *rep;
    if (!l->held) {
        const char *argv[] = { "SET", l->key, l->token, "NX", "PX", ttl };
        rep = clm_rpipe_command(rc, 1, 6, argv, NULL, why, sizeof(why));
        l->held = rep && rep->type == REDIS_REPLY_STATUS;
    } else {
        const char *argv[] = { "EVAL", renew_script, "1", l->key, l->token, ttl };
        rep = clm_rpipe_command(rc, 3, 6, argv, NULL, why, sizeof(why));
        l->held = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    }
    int r = l->held ? 1 : 0;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errsize, "Redis lease %s: %s", l->key, rep ? rep->str : why);
        r = -EIO;
    }
    freeReplyObject(rep);
    return r;
}

void clm_lease_release(clm_lease *l, clm_rpipe *rc)
{
    if (l->held && rc) {
        char why[256];
        const char *argv[] = { "EVAL", release_script, "1", l->key, l->token };
        freeReplyObject(clm_rpipe_command(rc, 3, 5, argv, NULL, why, sizeof(why)));
    }
    l->held = false;
}

bool clm_lease_mine(const clm_lease *l, const char *value)
{
    return value && strcmp(value, l->token) == 0;
}
