/* tools/clmctl_redis.c - see clmctl_redis.h. */
#include "tools/clmctl_redis.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void where(const clmctl_target *t, char *buf, size_t size)
{
    if (t->host[0] == '/')
        snprintf(buf, size, "%s", t->host);
    else
        snprintf(buf, size, "%s:%d", t->host, t->port);
}

/* Runs a command whose reply must not be an error; -EACCES with the reply's
 * text, or -ECONNREFUSED with the connection's error. */
static int expect_ok(redisContext *c, int argc, const char **argv, char *reason, size_t size)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep) {
        snprintf(reason, size, "%s: %s", argv[0], c->errstr);
        return -ECONNREFUSED;
    }
    int r = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(reason, size, "%s: %s", argv[0], rep->str);
        r = -EACCES;
    }
    freeReplyObject(rep);
    return r;
}

void clmctl_disconnect(clmctl_conn *c)
{
    clm_tls_close(c->rc, c->link); /* plain redisFree without a link */
    c->rc = NULL;
    c->link = NULL;
}

int clmctl_connect(const clmctl_target *t, clmctl_conn *out, char *errbuf, size_t errsize)
{
    struct timeval tv = { .tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000 };
    char at[300], reason[512];
    int r = -ECONNREFUSED;
    where(t, at, sizeof(at));
    redisContext *c = NULL;
    clm_tls_link *link = NULL;
    if (t->tls) {
        if ((r = clm_tls_connect(t->host, t->port, &t->tls_opts, t->timeout_ms, &c, &link, reason,
                                 sizeof(reason))) < 0)
            goto out_report;
        r = -ECONNREFUSED;
    } else {
        c = t->host[0] == '/' ? redisConnectUnixWithTimeout(t->host, tv)
                              : redisConnectWithTimeout(t->host, t->port, tv);
    }
    if (!c) {
        snprintf(reason, sizeof(reason), "out of memory");
        r = -ENOMEM;
        goto out_report;
    }
    if (c->err) {
        snprintf(reason, sizeof(reason), "%s", c->errstr);
        goto out_free_ctx;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(reason, sizeof(reason), "setting the command timeout failed");
        goto out_free_ctx;
    }
    if (t->password) {
        bool user = t->user && t->user[0];
        const char *argv[] = { "AUTH", user ? t->user : t->password, t->password };
        if ((r = expect_ok(c, user ? 3 : 2, argv, reason, sizeof(reason))) < 0)
            goto out_free_ctx;
    }
    if (t->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", t->db);
        const char *argv[] = { "SELECT", db };
        if ((r = expect_ok(c, 2, argv, reason, sizeof(reason))) < 0)
            goto out_free_ctx;
    }
    out->rc = c;
    out->link = link;
    return 0;

out_free_ctx:
    if (link)
        clm_tls_ended(link, reason, sizeof(reason)); /* "closed the connection" says less */
    clm_tls_close(c, link);
out_report:
    snprintf(errbuf, errsize, "cannot reach Redis at %s: %s", at, reason);
    return r;
}

int clmctl_cluster_connect(const clmctl_target *t, const char *seeds, const char *what,
                           clm_cluster **out, char *errbuf, size_t errsize)
{
    clm_cluster_opts o = { .seeds = seeds, .timeout_ms = t->timeout_ms, .user = t->user,
                           .password = t->password, .tls = t->tls, .tls_opts = t->tls_opts };
    clm_cluster *cl = NULL;
    char why[512] = "";
    int r = clm_cluster_new(&o, &cl, why, sizeof(why));
    if (r < 0) {
        snprintf(errbuf, errsize, "%s: %s", what, why);
        return r;
    }
    /* the map read once now: a seed that is not a cluster is told at once */
    if ((r = clm_cluster_refresh(cl, why, sizeof(why))) < 0) {
        if (r == -EPROTO)
            snprintf(errbuf, errsize, "%s: %s is not a Redis Cluster: %s", what, seeds, why);
        else if (r == -ENXIO)
            snprintf(errbuf, errsize, "Redis Cluster at %s: %s", seeds, why);
        else
            snprintf(errbuf, errsize, "cannot reach Redis Cluster at %s: %s", seeds, why);
        clm_cluster_free(cl);
        return r == -EIO ? -ECONNREFUSED : r;
    }
    *out = cl;
    return 0;
}

/* ---- hashes ------------------------------------------------------------- */

typedef struct entry {
    char *field;
    char *value;
} entry;

struct clmctl_hash {
    entry *e;
    size_t n;
};

/* A reply that failed (why: the pipe's reason), or an error reply, as one
 * line; returns -EIO. */
static int reply_error(const char *why, const redisReply *rep, const char *what, const char *key,
                       char *errbuf, size_t errsize)
{
    if (!rep)
        snprintf(errbuf, errsize, "%s %s: connection to Redis lost: %s", what, key, why);
    else if (rep->type == REDIS_REPLY_ERROR)
        snprintf(errbuf, errsize, "%s %s: %s", what, key, rep->str);
    else
        snprintf(errbuf, errsize, "%s %s: unexpected reply type %d", what, key, rep->type);
    return -EIO;
}

int clmctl_command(clm_rpipe *p, int keyarg, int argc, const char **argv, redisReply **out,
                   char *errbuf, size_t errsize)
{
    char why[512] = "";
    redisReply *rep = clm_rpipe_command(p, keyarg, argc, argv, NULL, why, sizeof(why));
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        int r = reply_error(why, rep, argv[0], argc > 1 ? argv[1] : "", errbuf, errsize);
        freeReplyObject(rep);
        return r;
    }
    *out = rep;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->field, ((const entry *)b)->field);
}

void clmctl_hash_free(clmctl_hash *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->e[i].field);
        free(h->e[i].value);
    }
    free(h->e);
    free(h);
}

int clmctl_hash_of_pairs(const redisReply *pairs, clmctl_hash **out)
{
    clmctl_hash *h = calloc(1, sizeof(*h));
    if (!h || !(h->e = calloc(pairs->elements / 2 + 1, sizeof(*h->e)))) {
        free(h);
        return -ENOMEM;
    }
    for (size_t i = 0; i + 1 < pairs->elements; i += 2, h->n++) {
        h->e[h->n].field = strndup(pairs->element[i]->str, pairs->element[i]->len);
        h->e[h->n].value = strndup(pairs->element[i + 1]->str, pairs->element[i + 1]->len);
        if (!h->e[h->n].field || !h->e[h->n].value) {
            h->n++;
            clmctl_hash_free(h);
            return -ENOMEM;
        }
    }
    qsort(h->e, h->n, sizeof(*h->e), entry_cmp);
    *out = h;
    return 0;
}

int clmctl_hash_read(clm_rpipe *p, const char *key, clmctl_hash **out, char *errbuf,
                     size_t errsize)
{
    const char *argv[] = { "HGETALL", key };
    redisReply *rep;
    int r = clmctl_command(p, 1, 2, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY) {
        r = reply_error("", rep, "HGETALL", key, errbuf, errsize);
        goto out_free_reply;
    }
    clmctl_hash *h;
    if ((r = clmctl_hash_of_pairs(rep, &h)) < 0) {
        snprintf(errbuf, errsize, "HGETALL %s: out of memory", key);
        goto out_free_reply;
    }
    *out = h;
    r = 0;
out_free_reply:
    freeReplyObject(rep);
    return r;
}

size_t clmctl_hash_count(const clmctl_hash *h)
{
    return h->n;
}

const char *clmctl_hash_field(const clmctl_hash *h, size_t i)
{
    return h->e[i].field;
}

const char *clmctl_hash_value(const clmctl_hash *h, size_t i)
{
    return h->e[i].value;
}

const char *clmctl_hash_get(const clmctl_hash *h, const char *field)
{
    entry k = { .field = (char *)field };
    const entry *e = bsearch(&k, h->e, h->n, sizeof(*h->e), entry_cmp);
    return e ? e->value : NULL;
}

int clmctl_parse_i64(const char *s, int64_t *out)
{
    if (!s)
        return -EINVAL;
    const char *d = s[0] == '-' ? s + 1 : s;
    if (!*d)
        return -EINVAL;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ---- key scans ---------------------------------------------------------- */

void clmctl_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the keys of one SCAN page to keys. Returns 0 or -ENOMEM. */
static int add_keys(const redisReply *batch, char ***keys, size_t *nk, size_t *cap)
{
    for (size_t i = 0; i < batch->elements; i++) {
        if (*nk == *cap) {
            size_t ncap = *cap ? 2 * *cap : 16;
            char **k = realloc(*keys, ncap * sizeof(*k));
            if (!k)
                return -ENOMEM;
            *keys = k;
            *cap = ncap;
        }
        if (!((*keys)[*nk] = strndup(batch->element[i]->str, batch->element[i]->len)))
            return -ENOMEM;
        (*nk)++;
    }
    return 0;
}

int clmctl_scan(clm_rpipe *p, const char *pattern, char ***out, size_t *n, char *errbuf,
                size_t errsize)
{
    char cursor[32], why[512] = "";
    char **keys = NULL;
    size_t nk = 0, cap = 0;
    int r = 0;
    /* every node holds its own keys: SCAN each (on a cluster, its masters) */
    int nodes = clm_rpipe_nodes(p, why, sizeof(why));
    if (nodes < 0)
        return reply_error(why, NULL, "SCAN", pattern, errbuf, errsize);
    for (int node = 0; node < nodes; node++) {
        snprintf(cursor, sizeof(cursor), "0");
        do {
            const char *argv[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
            redisReply *rep = NULL;
            if (clm_rpipe_append_node(p, node, 6, argv, NULL, why, sizeof(why)) < 0 ||
                clm_rpipe_reply(p, &rep, why, sizeof(why)) < 0)
                clm_rpipe_reset(p);
            if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
                rep->element[0]->type != REDIS_REPLY_STRING ||
                rep->element[1]->type != REDIS_REPLY_ARRAY) {
                r = reply_error(why, rep, "SCAN", pattern, errbuf, errsize);
                freeReplyObject(rep);
                goto out_free_keys;
            }
            snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
            r = add_keys(rep->element[1], &keys, &nk, &cap);
            freeReplyObject(rep);
            if (r < 0) {
                snprintf(errbuf, errsize, "SCAN %s: out of memory", pattern);
                goto out_free_keys;
            }
        } while (strcmp(cursor, "0") != 0);
    }
    /* SCAN may return a key more than once: sort, then drop repeats */
    if (nk)
        qsort(keys, nk, sizeof(*keys), key_cmp);
    size_t w = 0;
    for (size_t i = 0; i < nk; i++) {
        if (w > 0 && strcmp(keys[w - 1], keys[i]) == 0)
            free(keys[i]);
        else
            keys[w++] = keys[i];
    }
    *out = keys;
    *n = w;
    return 0;

out_free_keys:
    clmctl_keys_free(keys, nk);
    return r;
}

int clmctl_glob_escape(const char *s, char *buf, size_t size)
{
    size_t w = 0;
    for (; *s; s++) {
        bool meta = strchr("*?[]\\", *s) != NULL;
        if (w + meta + 1 >= size)
            return -ENOSPC;
        if (meta)
            buf[w++] = '\\';
        buf[w++] = *s;
    }
    if (w >= size)
        return -ENOSPC;
    buf[w] = '\0';
    return (int)w;
}
