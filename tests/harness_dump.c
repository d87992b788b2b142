/* tests/harness_dump.c - the canonical dump of a Redis and its diff (see harness.h). */
#include "tests/harness.h"
#include "tests/harness_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/* ---- canonical dump ------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_esc(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < '!' || ch > '~' || ch == '\\' || ch == '=') {
            char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 4);
        } else {
            sb_put(b, (const char *)&ch, 1);
        }
    }
}

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static int lines_add(lines *l, sbuf *b)
{
    if (b->oom)
        return -ENOMEM;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = b->p; /* the line takes b's buffer */
    *b = (sbuf){0};
    return 0;
}

static void lines_clear(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (lines){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_reply_str(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Starts a line "<key> <type> ". */
static void line_head(sbuf *b, const redisReply *key, const char *type)
{
    sb_esc(b, key->str, key->len);
    sb_str(b, " ");
    sb_str(b, type);
    sb_str(b, " ");
}

/* sb_esc of a value without its "emitted_at":"..." member, if any. */
static void sb_esc_no_emitted_at(sbuf *b, const char *s, size_t len)
{
    static const char tag[] = "\"emitted_at\":\"";
    const char *at = memmem(s, len, tag, sizeof(tag) - 1);
    const char *end = at ? memchr(at + sizeof(tag) - 1, '"', len - (size_t)(at - s) - (sizeof(tag) - 1)) : NULL;
    if (!end) {
        sb_esc(b, s, len);
        return;
    }
    sb_esc(b, s, (size_t)(at - s));
    sb_esc(b, end + 1, len - (size_t)(end + 1 - s));
}

static int dump_key(redisContext *c, const redisReply *key, lines *out, char *errbuf, size_t errsize)
{
    redisReply *t = redisCommand(c, "TYPE %b", key->str, key->len);
    if (!t || t->type != REDIS_REPLY_STATUS) {
        freeReplyObject(t);
        return harness_fail(-EIO, errbuf, errsize, "TYPE failed: %s", c->err ? c->errstr : "unexpected reply");
    }
    char type[16];
    snprintf(type, sizeof(type), "%s", t->str);
    freeReplyObject(t);

    const char *cmd;
    if (!strcmp(type, "string"))
        cmd = "GET %b";
    else if (!strcmp(type, "hash"))
        cmd = "HGETALL %b";
    else if (!strcmp(type, "set"))
        cmd = "SMEMBERS %b";
    else if (!strcmp(type, "zset"))
        cmd = "ZRANGE %b 0 -1 WITHSCORES";
    else if (!strcmp(type, "list"))
        cmd = "LRANGE %b 0 -1";
    else if (!strcmp(type, "stream"))
        cmd = "XRANGE %b - +";
    else if (!strcmp(type, "none"))
        return 0; /* expired or deleted since SCAN */
    else
        return harness_fail(-ENOTSUP, errbuf, errsize, "key %.*s has unsupported type %s", (int)key->len, key->str, type);

    redisReply *rep = redisCommand(c, cmd, key->str, key->len);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        int e = harness_fail(-EIO, errbuf, errsize, "%s on %.*s failed: %s", type, (int)key->len, key->str,
                     rep ? rep->str : c->errstr);
        freeReplyObject(rep);
        return e;
    }
    lines mine = {0};
    int e = 0;
    sbuf b = {0};
    bool sorted = true;
    if (rep->type == REDIS_REPLY_STRING) {
        line_head(&b, key, type);
        sb_esc(&b, rep->str, rep->len);
        e = lines_add(&mine, &b);
    } else if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements && !e; i++) {
            redisReply *el = rep->element[i];
            line_head(&b, key, type);
            if (!strcmp(type, "hash") || !strcmp(type, "zset")) {
                redisReply *val = rep->element[++i];
                sb_esc(&b, el->str, el->len);
                sb_str(&b, !strcmp(type, "hash") ? "=" : " ");
                sb_esc_no_emitted_at(&b, val->str, val->len);
            } else if (!strcmp(type, "set")) {
                sb_esc(&b, el->str, el->len);
            } else if (!strcmp(type, "list")) {
                char idx[24];
                snprintf(idx, sizeof(idx), "%06zu ", i);
                sb_str(&b, idx);
                sb_esc(&b, el->str, el->len);
                sorted = false;
            } else { /* stream entry: [id, [field, value, ...]] */
                /* Entry ids are arrival times and alerts carry their
                 * emission time: neither is part of the state, so both are
                 * left out, and entries compare as a set. */
                redisReply *kv = el->element[1];
                for (size_t j = 0; j + 1 < kv->elements; j += 2) {
                    sb_str(&b, j ? " " : "");
                    sb_esc(&b, kv->element[j]->str, kv->element[j]->len);
                    sb_str(&b, "=");
                    sb_esc_no_emitted_at(&b, kv->element[j + 1]->str, kv->element[j + 1]->len);
                }
            }
            e = lines_add(&mine, &b);
        }
    }
    freeReplyObject(rep);
    free(b.p);
    if (e) {
        lines_clear(&mine);
        return harness_fail(e, errbuf, errsize, "out of memory");
    }
    if (sorted && mine.n > 0) /* an empty key's v is NULL */
        qsort(mine.v, mine.n, sizeof(*mine.v), cmp_str);
    for (size_t i = 0; i < mine.n && !e; i++) {
        sbuf one = {.p = mine.v[i]};
        mine.v[i] = NULL;
        e = lines_add(out, &one);
        if (e)
            free(one.p);
    }
    lines_clear(&mine);
    return e ? harness_fail(e, errbuf, errsize, "out of memory") : 0;
}

int harness_redis_dump(redisContext *c, const char *pattern, char **out, char *errbuf, size_t errsize)
{
    redisReply **keys = NULL, **replies = NULL;
    size_t nkeys = 0, capkeys = 0, nreplies = 0, capreplies = 0;
    char cursor[32] = "0";
    int e = 0;
    do {
        redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern ? pattern : "*");
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            e = harness_fail(-EIO, errbuf, errsize, "SCAN failed: %s", rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                                   : c->errstr[0] ? c->errstr : "unexpected reply");
            freeReplyObject(rep);
            goto out_free_replies;
        }
        if (nreplies == capreplies) {
            capreplies = capreplies ? 2 * capreplies : 16;
            redisReply **p = realloc(replies, capreplies * sizeof(*p));
            if (!p) {
                freeReplyObject(rep);
                e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
                goto out_free_replies;
            }
            replies = p;
        }
        replies[nreplies++] = rep;
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *batch = rep->element[1];
        for (size_t i = 0; i < batch->elements; i++) {
            if (nkeys == capkeys) {
                capkeys = capkeys ? 2 * capkeys : 256;
                redisReply **p = realloc(keys, capkeys * sizeof(*p));
                if (!p) {
                    e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
                    goto out_free_replies;
                }
                keys = p;
            }
            keys[nkeys++] = batch->element[i];
        }
    } while (strcmp(cursor, "0") != 0);

    if (nkeys)
        qsort(keys, nkeys, sizeof(*keys), cmp_reply_str);
    lines all = {0};
    for (size_t i = 0; i < nkeys && !e; i++) {
        if (i > 0 && cmp_reply_str(&keys[i - 1], &keys[i]) == 0)
            continue; /* SCAN may return a key twice */
        e = dump_key(c, keys[i], &all, errbuf, errsize);
    }
    sbuf text = {0};
    sb_put(&text, "", 0);
    for (size_t i = 0; i < all.n && !e; i++) {
        sb_str(&text, all.v[i]);
        sb_str(&text, "\n");
    }
    lines_clear(&all);
    if (!e && text.oom)
        e = harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    if (e)
        free(text.p);
    else
        *out = text.p;

out_free_replies:
    for (size_t i = 0; i < nreplies; i++)
        freeReplyObject(replies[i]);
    free(replies);
    free(keys);
    return e;
}

int harness_dump_diff(const char *expected, const char *actual, char *buf, size_t size)
{
    const char *a = expected, *b = actual;
    for (size_t line = 1;; line++) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        bool ea = !*a, eb = !*b;
        if (ea && eb)
            return 0;
        if (ea != eb || la != lb || memcmp(a, b, la) != 0) {
            snprintf(buf, size, "line %zu: expected %.*s | actual %.*s", line,
                     ea ? 5 : (int)la, ea ? "<end>" : a, eb ? 5 : (int)lb, eb ? "<end>" : b);
            return 1;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
}

