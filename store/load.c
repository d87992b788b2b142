/* store/load.c - see load.h. */
#include "store/load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/shard.h"
#include "core/trait.h"
#include "store/ahead.h"
#include "store/keys.h"
#include "store/record.h"

/* An integer reply element; nil gives `absent`. */
static int reply_i64(const redisReply *e, int64_t absent, int64_t *out)
{
    if (e->type == REDIS_REPLY_NIL) {
        *out = absent;
        return 0;
    }
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 20)
        return -EPROTO;
    char buf[24], *end;
    memcpy(buf, e->str, e->len);
    buf[e->len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return -EPROTO;
    *out = v;
    return 0;
}

static void put_le64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (8 * i));
}

static uint64_t get_le64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return v;
}

size_t clm_anon_ids_encode(const clm_anon_ids *a, char *buf)
{
    for (uint32_t i = 0; i < a->n; i++) {
        put_le64(buf + 16 * i, a->e[i].hash);
        put_le64(buf + 16 * i + 8, (uint64_t)a->e[i].ts_ms);
    }
    return 16 * (size_t)a->n;
}

int clm_anon_ids_decode(const char *s, size_t len, clm_anon_ids *a)
{
    if (len % 16 || len / 16 > CLM_ANON_IDS_MAX)
        return -EPROTO;
    a->n = (uint32_t)(len / 16);
    for (uint32_t i = 0; i < a->n; i++) {
        a->e[i].hash = get_le64(s + 16 * i);
        a->e[i].ts_ms = (int64_t)get_le64(s + 16 * i + 8);
        if (i > 0 && a->e[i].ts_ms < a->e[i - 1].ts_ms)
            return -EPROTO;
    }
    return 0;
}

int clm_store_load_progress(clm_rpipe *c, const char *prefix, const char *group,
                            const char *topic, int32_t partition, int64_t *offset, clm_wm *wm,
                            clm_anon_ids *anon, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX], f_off[CLM_KEY_MAX], f_ts[CLM_KEY_MAX], f_ahead[CLM_KEY_MAX],
        f_anon[CLM_KEY_MAX];
    if (clm_key_progress(key, sizeof(key), prefix, group, partition) < 0 ||
        clm_field_offset(f_off, sizeof(f_off), topic) < 0 ||
        clm_field_maxts(f_ts, sizeof(f_ts), topic) < 0 ||
        clm_field_ahead(f_ahead, sizeof(f_ahead), topic) < 0 ||
        clm_field_anon(f_anon, sizeof(f_anon), topic) < 0)
        return -ENAMETOOLONG;
    const char *argv[] = { "HMGET", key, f_off, f_ts, f_ahead, f_anon };
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(c, 1, 6, argv, NULL, why, sizeof(why));
    if (!rep) {
        snprintf(errbuf, errsize, "HMGET %s: %s", key, why);
        return -EIO;
    }
    int64_t off = CLM_NO_OFFSET, ts = CLM_NO_TS;
    clm_wm w;
    int r = -EPROTO;
    anon->n = 0;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
        const redisReply *a = rep->element[2], *n = rep->element[3];
        r = reply_i64(rep->element[0], CLM_NO_OFFSET, &off);
        if (r < 0) {
            snprintf(errbuf, errsize, "%s field %s: not an integer", key, f_off);
        } else if ((r = reply_i64(rep->element[1], CLM_NO_TS, &ts)) < 0) {
            snprintf(errbuf, errsize, "%s field %s: not an integer", key, f_ts);
        } else {
            clm_wm_init(&w, ts);
            if (a->type != REDIS_REPLY_NIL &&
                (a->type != REDIS_REPLY_STRING || clm_ahead_decode(a->str, a->len, &w) < 0)) {
                r = -EPROTO;
                snprintf(errbuf, errsize, "%s field %s: not a list of sources ahead of %s "
                         "(store/ahead.h)", key, f_ahead, f_ts);
            } else if (n->type != REDIS_REPLY_NIL &&
                       (n->type != REDIS_REPLY_STRING ||
                        clm_anon_ids_decode(n->str, n->len, anon) < 0)) {
                r = -EPROTO;
                snprintf(errbuf, errsize, "%s field %s: not whole 16-byte entries in time "
                         "order, at most %d", key, f_anon, CLM_ANON_IDS_MAX);
            }
        }
    } else {
        snprintf(errbuf, errsize, "HMGET %s: %s", key,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    if (r == 0) {
        *offset = off;
        *wm = w;
    } else {
        anon->n = 0;
    }
    return r;
}

int clm_store_load_max_ts(clm_rpipe *c, const char *prefix, const char *group,
                          char *const *topics, size_t ntopics, int64_t *max_ts, char *errbuf,
                          size_t errsize)
{
    char key[CLM_KEY_MAX], field[CLM_KEY_MAX];
    if (clm_key_partitions(key, sizeof(key), prefix, group) < 0)
        return -ENAMETOOLONG;
    const char *argv[] = { "SMEMBERS", key };
    char why[256] = "";
    redisReply *parts = clm_rpipe_command(c, 1, 2, argv, NULL, why, sizeof(why));
    if (!parts || parts->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "SMEMBERS %s: %s", key,
                 parts && parts->type == REDIS_REPLY_ERROR ? parts->str : why);
        freeReplyObject(parts);
        return -EIO;
    }
    int r = 0;
    size_t sent = 0;
    for (size_t i = 0; i < parts->elements && r == 0; i++) {
        if (clm_key_progress(key, sizeof(key), prefix, group, atoi(parts->element[i]->str)) < 0) {
            r = -ENAMETOOLONG;
            break;
        }
        for (size_t t = 0; t < ntopics && r == 0; t++) {
            if (clm_field_maxts(field, sizeof(field), topics[t]) < 0) {
                r = -ENAMETOOLONG;
                break;
            }
            const char *hget[] = { "HGET", key, field };
            if (clm_rpipe_append(c, 1, 3, hget, NULL, why, sizeof(why)) < 0)
                r = -EIO;
            else
                sent++;
        }
    }
    int64_t best = CLM_NO_TS;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(c, &rep, why, sizeof(why)) < 0) {
            r = -EIO;
            break;
        }
        int64_t v;
        if (reply_i64(rep, CLM_NO_TS, &v) == 0 && v != CLM_NO_TS && (best == CLM_NO_TS || v > best))
            best = v;
        freeReplyObject(rep);
    }
    freeReplyObject(parts);
    if (r == -EIO)
        snprintf(errbuf, errsize, "reading max_ts: %s", why);
    if (r == 0)
        *max_ts = best;
    return r;
}

int clm_store_register_partition(clm_rpipe *c, const char *prefix, const char *group,
                                 int32_t partition, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX], num[16];
    if (clm_key_partitions(key, sizeof(key), prefix, group) < 0)
        return -ENAMETOOLONG;
    snprintf(num, sizeof(num), "%d", (int)partition);
    const char *argv[] = { "SADD", key, num };
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(c, 1, 3, argv, NULL, why, sizeof(why));
    if (!rep) {
        snprintf(errbuf, errsize, "SADD %s: %s", key, why);
        return -EIO;
    }
    int r = rep->type == REDIS_REPLY_INTEGER ? 0 : -EPROTO;
    /* the refusals of daemon/redis.h clm_redis_write_refused */
    if (rep->type == REDIS_REPLY_ERROR &&
        (strncmp(rep->str, "OOM ", 4) == 0 || strncmp(rep->str, "MISCONF ", 8) == 0))
        r = -EAGAIN;
    if (r < 0)
        snprintf(errbuf, errsize, "SADD %s: %s", key,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return r;
}

int clm_store_decode(const char *key, const char *id, size_t len, uint16_t part,
                     const clm_apply_opts *apply, const char *rec, size_t rec_len,
                     clm_customer **out, char *errbuf, size_t errsize)
{
    char why[256];
    clm_customer *c = clm_customer_new(id, len, part);
    if (!c)
        return -ENOMEM;
    int r = clm_record_decode(c, (const uint8_t *)rec, rec_len, why, sizeof(why));
    if (r < 0) {
        snprintf(errbuf, errsize, "%s field %.*s: %s", key, (int)len, id, why);
        clm_customer_free(c);
        return r == -ENOMEM ? r : -EPROTO;
    }
    if (apply->stages && ((c->stage != CLM_STAGE_NONE && c->stage >= clm_stages_count(apply->stages)) ||
                          (c->peak != CLM_STAGE_NONE && c->peak >= clm_stages_count(apply->stages)))) {
        snprintf(errbuf, errsize, "%s field %.*s: record version %d: stage %d is not a stage of "
                 "the configured model", key, (int)len, id, rec[0], c->stage);
        clm_customer_free(c);
        return -EPROTO;
    }
    c->changed = 0;
    /* Values follow their trait names across a changed `traits` list. */
    r = clm_traits_conform(&c->traits, &c->traits_len, apply->traits);
    if (r < 0) {
        clm_customer_free(c);
        return r;
    }
    if (r > 0)
        c->changed |= CLM_FACET_TRAITS; /* written with the next flush of c */
    c->flags &= (uint8_t)~CLM_CUST_NEW;
    c->indexed = clm_customer_index_score(c, apply); /* written with this state */
    if (c->risk_e4 > 0) /* it may be in the at-risk set */
        c->flags |= CLM_CUST_AT_RISK;
    *out = c;
    return 0;
}

/* Distinct partition numbers of the misses, in first-seen order. */
static size_t distinct_parts(size_t n, const uint16_t *parts, uint16_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < k && out[j] != parts[i]; j++)
            ;
        if (j == k)
            out[k++] = parts[i];
    }
    return k;
}

static int append_hmget(clm_rpipe *c, const char *key, size_t n, const char *const *ids,
                        const size_t *lens, const uint16_t *parts, int32_t only, char *why,
                        size_t whysize)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += only < 0 || parts[i] == only;
    const char **argv = malloc((2 + m) * sizeof(*argv));
    size_t *alen = malloc((2 + m) * sizeof(*alen));
    int r = -ENOMEM;
    if (!argv || !alen)
        goto out_free;
    argv[0] = "HMGET";
    alen[0] = 5;
    argv[1] = key;
    alen[1] = strlen(key);
    m = 2;
    for (size_t i = 0; i < n; i++)
        if (only < 0 || parts[i] == only) {
            argv[m] = ids[i];
            alen[m++] = lens[i];
        }
    r = clm_rpipe_append(c, 1, (int)m, argv, alen, why, whysize);
out_free:
    free(argv);
    free(alen);
    return r;
}

int clm_store_load_customers(clm_rpipe *c, const char *prefix, const char *group,
                             const clm_apply_opts *apply, bool pool, size_t n,
                             const char *const *ids, const size_t *lens, const uint16_t *parts,
                             clm_customer **out, char *errbuf, size_t errsize)
{
    uint16_t *nums = malloc(n * sizeof(*nums));
    char key[CLM_KEY_MAX], pool_key[CLM_KEY_MAX], why[256] = "";
    int r = 0;
    if (!nums)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    size_t np = distinct_parts(n, parts, nums);
    if (clm_key_single(pool_key, sizeof(pool_key), prefix, CLM_KEY_UPGRADE_POOL) < 0) {
        r = -ENAMETOOLONG;
        goto out_free_nums;
    }
    for (size_t k = 0; k < np && r == 0; k++) {
        if (clm_key_ckpt(key, sizeof(key), prefix, group, nums[k]) < 0)
            r = -ENAMETOOLONG;
        else
            r = append_hmget(c, key, n, ids, lens, parts, nums[k], why, sizeof(why));
    }
    if (r == 0 && pool)
        r = append_hmget(c, pool_key, n, ids, lens, parts, -1, why, sizeof(why));
    if (r < 0) {
        snprintf(errbuf, errsize, "HMGET: %s", r == -EIO ? why : strerror(-r));
        goto out_free_nums;
    }
    /* replies: one array per partition number (its misses in order), then
     * the pool's (every miss in order) */
    redisReply **reps = calloc(np + 1, sizeof(*reps));
    if (!reps) {
        r = -ENOMEM; /* the pipeline is now out of step: the caller drops it */
        goto out_free_nums;
    }
    for (size_t k = 0; k < np + (pool ? 1 : 0); k++) {
        if (clm_rpipe_reply(c, &reps[k], why, sizeof(why)) < 0) {
            snprintf(errbuf, errsize, "HMGET: %s", why);
            r = -EIO;
            goto out_free_reps;
        }
        if (reps[k]->type != REDIS_REPLY_ARRAY) {
            snprintf(errbuf, errsize, "HMGET: %s",
                     reps[k]->type == REDIS_REPLY_ERROR ? reps[k]->str : "unexpected reply");
            r = -EPROTO;
        }
    }
    if (r < 0)
        goto out_free_reps;
    for (size_t k = 0; k < np && r == 0; k++) {
        clm_key_ckpt(key, sizeof(key), prefix, group, nums[k]);
        size_t e = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
            if (parts[i] != nums[k])
                continue;
            const redisReply *v = e < reps[k]->elements ? reps[k]->element[e] : NULL;
            e++;
            const redisReply *pv = pool && i < reps[np]->elements ? reps[np]->element[i] : NULL;
            if (v && v->type == REDIS_REPLY_STRING) {
                r = clm_store_decode(key, ids[i], lens[i], parts[i], apply, v->str, v->len, &out[i],
                                     errbuf, errsize);
            } else if (pv && pv->type == REDIS_REPLY_STRING) {
                r = clm_store_decode(pool_key, ids[i], lens[i], parts[i], apply, pv->str, pv->len,
                                     &out[i], errbuf, errsize);
                if (r == 0)
                    out[i]->flags |= CLM_CUST_POOLED;
            } else if (!(out[i] = clm_customer_new(ids[i], lens[i], parts[i]))) {
                r = -ENOMEM;
            }
        }
    }
out_free_reps:
    for (size_t k = 0; k < np + 1; k++)
        freeReplyObject(reps[k]);
    free(reps);
    if (r < 0)
        for (size_t i = 0; i < n; i++) {
            clm_customer_free(out[i]);
            out[i] = NULL;
        }
out_free_nums:
    free(nums);
    return r;
}
