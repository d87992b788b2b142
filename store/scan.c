/* store/scan.c - see scan.h. */
#include "store/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/record.h"

#define PAGE "500"

/* The partition number in "<prefix>ckpt:{<group>:<p>}", 0 when none. */
static uint16_t part_of_key(const char *key)
{
    const char *close = strrchr(key, '}'), *colon = close ? close : NULL;
    while (colon && colon > key && *colon != ':')
        colon--;
    return colon && colon < close ? (uint16_t)atoi(colon + 1) : 0;
}

static int decode(const char *key, const redisReply *id, const redisReply *rec,
                  clm_customer **out, char *errbuf, size_t errsize)
{
    char why[256];
    if (id->type != REDIS_REPLY_STRING || rec->type != REDIS_REPLY_STRING || id->len == 0 ||
        id->len > CLM_ID_MAX) {
        snprintf(errbuf, errsize, "%s: an entry is not a customer id and record", key);
        return -EPROTO;
    }
    clm_customer *c = clm_customer_new(id->str, id->len, part_of_key(key));
    if (!c)
        return -ENOMEM;
    int r = clm_record_decode(c, (const uint8_t *)rec->str, rec->len, why, sizeof(why));
    if (r < 0) {
        snprintf(errbuf, errsize, "%s field %.*s: %s", key, (int)id->len, id->str, why);
        clm_customer_free(c);
        return r == -ENOMEM ? r : -EPROTO;
    }
    c->changed = 0;
    c->flags &= (uint8_t)~CLM_CUST_NEW;
    *out = c;
    return 0;
}

/* HSCAN one hash, calling fn per record. */
static int scan_hash(clm_rpipe *c, const char *key, clm_scan_page_fn before, clm_scan_fn fn,
                     void *ctx, char *errbuf, size_t errsize)
{
    char cursor[32] = "0";
    do {
        int pr = before ? before(ctx) : 0;
        if (pr < 0)
            return pr;
        const char *argv[] = { "HSCAN", key, cursor, "COUNT", PAGE };
        char why[256] = "";
        redisReply *page = clm_rpipe_command(c, 1, 5, argv, NULL, why, sizeof(why));
        if (!page || page->type != REDIS_REPLY_ARRAY || page->elements != 2 ||
            page->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(errbuf, errsize, "HSCAN %s: %s", key,
                     page && page->type == REDIS_REPLY_ERROR ? page->str : why);
            freeReplyObject(page);
            return -EIO;
        }
        snprintf(cursor, sizeof(cursor), "%s", page->element[0]->str);
        const redisReply *kv = page->element[1];
        int r = 0;
        for (size_t i = 0; i + 1 < kv->elements && r == 0; i += 2) {
            clm_customer *cu = NULL;
            if ((r = decode(key, kv->element[i], kv->element[i + 1], &cu, errbuf, errsize)) == 0)
                r = fn(ctx, key, cu);
            clm_customer_free(cu);
        }
        freeReplyObject(page);
        if (r < 0)
            return r;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* Calls each(key) for every checkpoint hash, then the upgrade pool. */
typedef int (*key_fn)(clm_rpipe *c, const char *key, void *arg);

static int each_key(clm_rpipe *c, const char *prefix, key_fn each, void *arg, char *errbuf,
                    size_t errsize)
{
    char pattern[CLM_KEY_MAX], cursor[32] = "0", pool[CLM_KEY_MAX];
    if (clm_key_ckpt_pattern(pattern, sizeof(pattern), prefix) < 0 ||
        clm_key_single(pool, sizeof(pool), prefix, CLM_KEY_UPGRADE_POOL) < 0)
        return -ENAMETOOLONG;
    char why[256] = "";
    int nodes = clm_rpipe_nodes(c, why, sizeof(why));
    if (nodes < 0) {
        snprintf(errbuf, errsize, "SCAN %s: %s", pattern, why);
        return -EIO;
    }
    /* every node holds its own keys: SCAN each (on a cluster, its masters) */
    for (int node = 0; node < nodes; node++) {
        snprintf(cursor, sizeof(cursor), "0");
        do {
            const char *argv[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
            redisReply *page = NULL;
            if (clm_rpipe_append_node(c, node, 6, argv, NULL, why, sizeof(why)) < 0 ||
                clm_rpipe_reply(c, &page, why, sizeof(why)) < 0)
                clm_rpipe_reset(c);
            if (!page || page->type != REDIS_REPLY_ARRAY || page->elements != 2 ||
                page->element[1]->type != REDIS_REPLY_ARRAY) {
                snprintf(errbuf, errsize, "SCAN %s: %s", pattern,
                         page && page->type == REDIS_REPLY_ERROR ? page->str : why);
                freeReplyObject(page);
                return -EIO;
            }
            snprintf(cursor, sizeof(cursor), "%s", page->element[0]->str);
            int r = 0;
            for (size_t i = 0; i < page->element[1]->elements && r == 0; i++)
                r = each(c, page->element[1]->element[i]->str, arg);
            freeReplyObject(page);
            if (r < 0)
                return r;
        } while (strcmp(cursor, "0") != 0);
    }
    return each(c, pool, arg);
}

typedef struct scan_arg {
    clm_scan_page_fn page;
    clm_scan_fn fn;
    void *ctx;
    char *errbuf;
    size_t errsize;
} scan_arg;

static int scan_one(clm_rpipe *c, const char *key, void *varg)
{
    scan_arg *a = varg;
    int r = scan_hash(c, key, a->page, a->fn, a->ctx, a->errbuf, a->errsize);
    /* The hook again after the hash's last page: the next command the scan
     * sends (SCAN, or the next hash's HSCAN) must find no reply pending. */
    if (r == 0 && a->page)
        r = a->page(a->ctx);
    return r;
}

int clm_store_scan(clm_rpipe *c, const char *prefix, clm_scan_page_fn page, clm_scan_fn fn,
                   void *ctx, char *errbuf, size_t errsize)
{
    scan_arg a = { page, fn, ctx, errbuf, errsize };
    return each_key(c, prefix, scan_one, &a, errbuf, errsize);
}

typedef struct find_arg {
    const char *id;
    size_t len;
    clm_customer **out;
    char *key;
    char *errbuf;
    size_t errsize;
} find_arg;

int clm_store_get(clm_rpipe *c, const char *key, const char *id, size_t len,
                  clm_customer **out, char *errbuf, size_t errsize)
{
    *out = NULL;
    const char *argv[] = { "HGET", key, id };
    size_t lens[] = { 4, strlen(key), len };
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(c, 1, 3, argv, lens, why, sizeof(why));
    if (!rep) {
        snprintf(errbuf, errsize, "HGET %s: %s", key, why);
        return -EIO;
    }
    int r = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        redisReply rid = { .type = REDIS_REPLY_STRING, .str = (char *)id, .len = len };
        r = decode(key, &rid, rep, out, errbuf, errsize);
        r = r < 0 ? r : 1;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errsize, "HGET %s: %s", key, rep->str);
        r = -EIO;
    }
    freeReplyObject(rep);
    return r;
}

static int find_one(clm_rpipe *c, const char *key, void *varg)
{
    find_arg *a = varg;
    if (*a->out)
        return 0;
    int r = clm_store_get(c, key, a->id, a->len, a->out, a->errbuf, a->errsize);
    if (r == 1)
        snprintf(a->key, CLM_KEY_MAX, "%s", key);
    return r < 0 ? r : 0;
}

int clm_store_find(clm_rpipe *c, const char *prefix, const char *id, size_t len,
                   clm_customer **out, char *key, char *errbuf, size_t errsize)
{
    *out = NULL;
    find_arg a = { id, len, out, key, errbuf, errsize };
    int r = each_key(c, prefix, find_one, &a, errbuf, errsize);
    if (r < 0) {
        clm_customer_free(*out);
        *out = NULL;
        return r;
    }
    return *out ? 1 : 0;
}
