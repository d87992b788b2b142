/* tools/clmctl_rebuild.c - `clmctl rebuild-view ID|--all`: rewrites customer
 * views (<prefix>customer:<id>) from the checkpoints, the state clmd resumes
 * from (store/view.h). Safe while clmd runs: on one server, each view is
 * written in a transaction WATCHing the checkpoint hash it was read from,
 * and read again when a flush changed that hash meanwhile.
 *
 * On a Redis Cluster the view and the checkpoint hash are in different
 * slots, so one transaction cannot hold both. There the record is checked
 * under WATCH in a transaction on the checkpoint's node (WATCH, HGET, MULTI,
 * EXEC: it commits only when no flush touched the hash since WATCH), then
 * the view is written after EXEC with plain HSET/HDEL through the pipe, and
 * the record read once more: when a flush changed it in between, the view
 * is projected again from the new record. That is still safe because the
 * view is a projection nobody reads back and any later flush rewrites
 * (store/view.h), and a flush writes the checkpoint (its partition's EXEC)
 * before the view fields it changed: one whose checkpoint lands before the
 * read-back is seen by it, and the view is projected again; one whose
 * checkpoint lands after writes its changes on top of ours. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/cmdbuf.h"
#include "store/keys.h"
#include "store/record.h"
#include "store/scan.h"
#include "store/view.h"
#include "tools/clmctl_cmd.h"

/* The rules the view is projected with: clmd's, with the fitted BG/NBD
 * parameters of <prefix>model for the P(alive) reason. */
typedef struct rules {
    clm_apply_opts o;
    clm_risk_opts risk;
} rules;

static int load_rules(const clmctl_ctx *x, rules *ru, char *errbuf, size_t errsize)
{
    const clm_config *cfg = x->cfg;
    ru->risk = cfg->risk;
    ru->risk.p_alive_threshold = cfg->model_p_alive_threshold;
    ru->risk.unit_days = cfg->model_unit_days;
    ru->risk.has_model = false;
    ru->o = (clm_apply_opts){ .stages = cfg->stages, .bucket_ms = (int64_t)cfg->kpi_bucket_s * 1000,
                              .risk = &ru->risk, .alerts = &cfg->alerts, .traits = cfg->traits };
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_MODEL);
    const char *argv[] = { "HMGET", key, "status", "r", "alpha", "a", "b" };
    char why[512] = "";
    redisReply *rep = clm_rpipe_command(x->rp, 1, 7, argv, NULL, why, sizeof(why));
    if (!rep) {
        snprintf(errbuf, errsize, "HMGET %s: %s", key, why);
        return -EIO;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
        bool ok = true;
        for (size_t i = 1; i < 5; i++)
            ok &= rep->element[i]->type == REDIS_REPLY_STRING;
        if (ok) { /* the last good fit (status may say a later one failed) */
            ru->risk.model.r = strtod(rep->element[1]->str, NULL);
            ru->risk.model.alpha = strtod(rep->element[2]->str, NULL);
            ru->risk.model.a = strtod(rep->element[3]->str, NULL);
            ru->risk.model.b = strtod(rep->element[4]->str, NULL);
            ru->risk.has_model = cfg->model_enabled;
        }
    }
    freeReplyObject(rep);
    return 0;
}

/* True when the stored record `rec` is the record of c. */
static bool same_record(const redisReply *rec, const clm_customer *c)
{
    if (!rec || rec->type != REDIS_REPLY_STRING)
        return false;
    clm_record_buf b;
    clm_record_buf_init(&b);
    bool same = clm_record_encode(&b, c) == 0 && b.len == rec->len &&
                memcmp(b.p, rec->str, b.len) == 0;
    clm_record_buf_release(&b);
    return same;
}

/* ---- on a Redis Cluster --------------------------------------------------- */

/* The next command of the RESP in buf[*off..len) as argv/lens (pointing into
 * buf; at most max arguments). Returns its argc, 0 at the end, or -EPROTO. */
static int resp_next(const char *buf, size_t len, size_t *off, const char **argv, size_t *lens,
                     size_t max)
{
    const char *p = buf + *off, *end = buf + len;
    if (p == end)
        return 0;
    char *q;
    if (*p != '*')
        return -EPROTO;
    unsigned long n = strtoul(p + 1, &q, 10);
    if (n == 0 || n > max || q + 2 > end || q[0] != '\r')
        return -EPROTO;
    p = q + 2;
    for (unsigned long i = 0; i < n; i++) {
        if (p >= end || *p != '$')
            return -EPROTO;
        unsigned long l = strtoul(p + 1, &q, 10);
        if (q + 2 > end || (size_t)(end - (q + 2)) < l + 2)
            return -EPROTO;
        argv[i] = q + 2;
        lens[i] = l;
        p = q + 2 + l + 2;
    }
    *off = (size_t)(p - buf);
    return (int)n;
}

/* Sends the commands formatted in b (each keyed by its first argument)
 * through the pipe and checks their replies. Returns 0 or -EIO / -ENOMEM. */
static int pipe_cmdbuf(const clmctl_ctx *x, const clm_cmdbuf *b, char *errbuf, size_t errsize)
{
    size_t max = 0, off = 0;
    for (size_t i = 0; i < b->len; i++) /* no more arguments than "$" signs */
        max += b->buf[i] == '$';
    const char **argv = calloc(max + 1, sizeof(*argv));
    size_t *lens = calloc(max + 1, sizeof(*lens));
    char why[512] = "";
    int r = argv && lens ? 0 : -ENOMEM, argc = 0;
    size_t queued = 0;
    if (r < 0)
        snprintf(errbuf, errsize, "out of memory");
    while (r == 0 && (argc = resp_next(b->buf, b->len, &off, argv, lens, max)) > 0) {
        if (argc < 2 || (r = clm_rpipe_append(x->rp, 1, argc, argv, lens, why, sizeof(why))) < 0) {
            snprintf(errbuf, errsize, "rebuild-view: %s", argc < 2 ? "a command without a key" : why);
            r = r < 0 ? r : -EPROTO;
        }
        queued += r == 0;
    }
    if (r == 0 && argc < 0) {
        snprintf(errbuf, errsize, "rebuild-view: a command that does not parse");
        r = -EPROTO;
    }
    for (size_t i = 0; i < queued && r == 0; i++) {
        redisReply *rep = NULL;
        if (clm_rpipe_reply(x->rp, &rep, why, sizeof(why)) < 0) {
            snprintf(errbuf, errsize, "rebuild-view: %s", why);
            r = -EIO;
        } else if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(errbuf, errsize, "rebuild-view: %s", rep->str);
            r = -EIO;
        }
        freeReplyObject(rep);
    }
    if (r < 0)
        clm_rpipe_reset(x->rp);
    free(argv);
    free(lens);
    return r < 0 ? (r == -ENOMEM ? r : -EIO) : 0;
}

/* WATCH key, HGET key id, MULTI, EXEC on the node serving key: *rec gets
 * the record (the HGET reply), *committed whether EXEC ran, that is no
 * flush touched the hash between WATCH and EXEC. Returns 0, 1 when the slot
 * is moving (read the map again and retry), or -EIO. */
static int cluster_check(const clmctl_ctx *x, const char *key, const char *id, size_t len,
                         redisReply **rec, bool *committed, char *errbuf, size_t errsize)
{
    char why[512] = "";
    redisContext *c = clm_cluster_for_key(x->cl, key, strlen(key), why, sizeof(why));
    if (!c) {
        snprintf(errbuf, errsize, "rebuild-view: %s", why);
        return -EIO;
    }
    const char *watch[] = { "WATCH", key }, *hget[] = { "HGET", key, id };
    size_t hlens[] = { 4, strlen(key), len };
    redisReply *rep[4] = { 0 };
    int r = 0;
    if (redisAppendCommandArgv(c, 2, watch, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 3, hget, hlens) != REDIS_OK ||
        redisAppendCommand(c, "MULTI") != REDIS_OK || redisAppendCommand(c, "EXEC") != REDIS_OK)
        r = -EIO;
    for (int i = 0; i < 4 && r == 0; i++)
        if (redisGetReply(c, (void **)&rep[i]) != REDIS_OK)
            r = -EIO;
    if (r < 0) {
        snprintf(errbuf, errsize, "rebuild-view: %s", c->errstr);
        clm_cluster_drop(x->cl, c);
        goto out_free_replies;
    }
    for (int i = 0; i < 4; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR) {
            if (clm_rpipe_redirected(rep[i]->str)) {
                clm_cluster_stale(x->cl);
                r = 1;
            } else {
                snprintf(errbuf, errsize, "rebuild-view: %s: %s", key, rep[i]->str);
                r = -EIO;
            }
            goto out_free_replies;
        }
    *committed = rep[3]->type == REDIS_REPLY_ARRAY;
    *rec = rep[1];
    rep[1] = NULL;
out_free_replies:
    for (int i = 0; i < 4; i++)
        freeReplyObject(rep[i]);
    return r;
}

/* The view of c as commands in b: the v1-only fields dropped, then
 * clm_view_format. Returns 0, -ENOMEM or -ENAMETOOLONG. */
static int format_view(clm_cmdbuf *b, const clmctl_ctx *x, const rules *ru, const clm_customer *c,
                       const char *vkey)
{
    size_t nv1 = 0;
    while (clm_view_v1_only[nv1])
        nv1++;
    int r;
    if ((r = clm_cmdbuf_begin(b, 2 + nv1)) == 0 && (r = clm_cmdbuf_arg(b, "HDEL", 4)) == 0 &&
        (r = clm_cmdbuf_arg(b, vkey, strlen(vkey))) == 0)
        for (size_t i = 0; i < nv1 && r == 0; i++)
            r = clm_cmdbuf_arg(b, clm_view_v1_only[i], strlen(clm_view_v1_only[i]));
    if (r == 0)
        r = clm_view_format(b, x->prefix, c, &ru->o, CLM_FACET_ALL, false);
    return r;
}

/* rebuild_one on a cluster (see the top of the file). */
static int rebuild_one_cluster(const clmctl_ctx *x, const rules *ru, const char *id, size_t len,
                               const char *where, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX] = "", vkey[CLM_KEY_MAX];
    if (where)
        snprintf(key, sizeof(key), "%s", where);
    if (clm_key_customer(vkey, sizeof(vkey), x->prefix, id, len) < 0) {
        snprintf(errbuf, errsize, "customer id too long");
        return -ENAMETOOLONG;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        clm_customer *c = NULL;
        int r = key[0] ? clm_store_get(x->rp, key, id, len, &c, errbuf, errsize) : 0;
        if (r == 0) /* not (or no longer) there: look everywhere */
            r = clm_store_find(x->rp, x->prefix, id, len, &c, key, errbuf, errsize);
        if (r <= 0)
            return r;
        redisReply *rec = NULL;
        bool committed = false;
        if ((r = cluster_check(x, key, id, len, &rec, &committed, errbuf, errsize)) != 0) {
            clm_customer_free(c);
            if (r < 0)
                return r;
            /* the slot is moving: give the migration a moment */
            struct timespec pause = { 0, 100 * 1000000L };
            nanosleep(&pause, NULL);
            continue;
        }
        bool same = same_record(rec, c);
        freeReplyObject(rec);
        if (committed && same) {
            clm_cmdbuf b;
            clm_cmdbuf_init(&b);
            if ((r = format_view(&b, x, ru, c, vkey)) < 0)
                snprintf(errbuf, errsize, "%s", r == -ENOMEM ? "out of memory" : "customer id too long");
            else
                r = pipe_cmdbuf(x, &b, errbuf, errsize);
            clm_cmdbuf_release(&b);
            if (r < 0) {
                clm_customer_free(c);
                return r;
            }
            /* done when the record is still the one projected */
            redisReply *again = NULL;
            const char *hget[] = { "HGET", key, id };
            size_t hlens[] = { 4, strlen(key), len };
            char why[512] = "";
            if (!(again = clm_rpipe_command(x->rp, 1, 3, hget, hlens, why, sizeof(why)))) {
                clm_customer_free(c);
                snprintf(errbuf, errsize, "HGET %s: %s", key, why);
                return -EIO;
            }
            bool written = same_record(again, c);
            freeReplyObject(again);
            clm_customer_free(c);
            if (written)
                return 1;
            continue; /* a flush changed it meanwhile: project the new record */
        }
        clm_customer_free(c);
        /* a flush changed or moved the record meanwhile: read it again */
        if (!same)
            key[0] = '\0';
    }
    snprintf(errbuf, errsize, "%.*s: its checkpoint kept changing; try again", (int)len, id);
    return -EAGAIN;
}

/* Rewrites one view. `where` (CLM_KEY_MAX bytes; may be "" or NULL) is the
 * hash that held the record when the caller saw it. Returns 1 done, 0 no
 * checkpoint holds the customer, or an error. */
static int rebuild_one(const clmctl_ctx *x, const rules *ru, const char *id, size_t len,
                       const char *where, char *errbuf, size_t errsize)
{
    char key[CLM_KEY_MAX] = "";
    if (where)
        snprintf(key, sizeof(key), "%s", where);
    for (int attempt = 0; attempt < 100; attempt++) {
        clm_customer *c = NULL;
        int r = key[0] ? clm_store_get(x->rp, key, id, len, &c, errbuf, errsize) : 0;
        if (r == 0) /* not (or no longer) there: look everywhere */
            r = clm_store_find(x->rp, x->prefix, id, len, &c, key, errbuf, errsize);
        if (r <= 0)
            return r;
        clm_cmdbuf b;
        clm_cmdbuf_init(&b);
        const char *watch[] = { "WATCH", key };
        r = clm_cmdbuf_append(&b, 2, watch, NULL);
        /* the record again, now under WATCH: a flush in between aborts EXEC */
        const char *hget[] = { "HGET", key, id };
        size_t hlens[] = { 4, strlen(key), len };
        if (r == 0)
            r = clm_cmdbuf_append(&b, 3, hget, hlens);
        if (r == 0)
            r = clm_cmdbuf_append(&b, 1, (const char *[]){ "MULTI" }, NULL);
        char vkey[CLM_KEY_MAX];
        if (r == 0 && clm_key_customer(vkey, sizeof(vkey), x->prefix, id, len) < 0)
            r = -ENAMETOOLONG;
        if (r == 0)
            r = format_view(&b, x, ru, c, vkey);
        if (r == 0)
            r = clm_cmdbuf_append(&b, 1, (const char *[]){ "EXEC" }, NULL);
        if (r < 0) {
            clm_customer_free(c);
            clm_cmdbuf_release(&b);
            snprintf(errbuf, errsize, "%s", r == -ENOMEM ? "out of memory" : "customer id too long");
            return r;
        }
        if (redisAppendFormattedCommand(x->rc, b.buf, b.len) != REDIS_OK) {
            clm_customer_free(c);
            clm_cmdbuf_release(&b);
            snprintf(errbuf, errsize, "rebuild-view: %s", x->rc->errstr);
            return -EIO;
        }
        redisReply *last = NULL, *rec = NULL;
        for (size_t i = 0; i < b.ncmds && r == 0; i++) {
            redisReply *rep;
            if (redisGetReply(x->rc, (void **)&rep) != REDIS_OK) {
                snprintf(errbuf, errsize, "rebuild-view: %s", x->rc->errstr);
                r = -EIO;
                break;
            }
            if (i == 1)
                rec = rep;
            else {
                freeReplyObject(last);
                last = rep;
            }
        }
        clm_cmdbuf_release(&b);
        /* what was projected must be what is stored now */
        bool same = r == 0 && same_record(rec, c);
        clm_customer_free(c);
        bool committed = r == 0 && last && last->type == REDIS_REPLY_ARRAY;
        if (committed)
            for (size_t i = 0; i < last->elements; i++)
                if (last->element[i]->type == REDIS_REPLY_ERROR) {
                    snprintf(errbuf, errsize, "%s: %s", vkey, last->element[i]->str);
                    r = -EIO;
                }
        freeReplyObject(last);
        freeReplyObject(rec);
        if (r < 0)
            return r;
        if (committed && same)
            return 1;
        /* a flush changed or moved the record meanwhile: read it again */
        if (!same)
            key[0] = '\0';
    }
    snprintf(errbuf, errsize, "%.*s: its checkpoint kept changing; try again", (int)len, id);
    return -EAGAIN;
}

/* Customer ids with the hash each was found in (an id may come twice). */
typedef struct ids {
    char **v, **key;
    size_t *len;
    size_t n, cap;
} ids;

static int collect_id(void *vctx, const char *key, const clm_customer *c)
{
    ids *s = vctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **nv = realloc(s->v, cap * sizeof(*nv));
        if (nv)
            s->v = nv;
        char **nk = realloc(s->key, cap * sizeof(*nk));
        if (nk)
            s->key = nk;
        size_t *nl = realloc(s->len, cap * sizeof(*nl));
        if (nl)
            s->len = nl;
        if (!nv || !nk || !nl)
            return -ENOMEM;
        s->cap = cap;
    }
    if (!(s->v[s->n] = malloc(c->id_len + 1u)))
        return -ENOMEM;
    if (!(s->key[s->n] = strdup(key))) {
        free(s->v[s->n]);
        return -ENOMEM;
    }
    memcpy(s->v[s->n], c->id, c->id_len + 1u);
    s->len[s->n++] = c->id_len;
    return 0;
}

int clmctl_rebuild_view(const clmctl_ctx *x, const char *id, char *errbuf, size_t errsize)
{
    rules ru;
    int r = load_rules(x, &ru, errbuf, errsize);
    if (r < 0)
        return r;
    if (id) {
        r = x->cl ? rebuild_one_cluster(x, &ru, id, strlen(id), NULL, errbuf, errsize)
                  : rebuild_one(x, &ru, id, strlen(id), NULL, errbuf, errsize);
        if (r == 0) {
            snprintf(errbuf, errsize, "no checkpoint holds customer %s", id);
            return -ENOENT;
        }
        if (r > 0)
            fprintf(x->out, "rebuilt the view of %s\n", id);
        return r < 0 ? r : 0;
    }
    ids s = { 0 };
    r = clm_store_scan(x->rp, x->prefix, NULL, collect_id, &s, errbuf, errsize);
    if (r == -ENOMEM)
        snprintf(errbuf, errsize, "out of memory");
    size_t done = 0;
    for (size_t i = 0; i < s.n && r == 0; i++) {
        if (i > 0 && s.len[i] == s.len[i - 1] && memcmp(s.v[i], s.v[i - 1], s.len[i]) == 0)
            continue;
        int k = x->cl ? rebuild_one_cluster(x, &ru, s.v[i], s.len[i], s.key[i], errbuf, errsize)
                      : rebuild_one(x, &ru, s.v[i], s.len[i], s.key[i], errbuf, errsize);
        if (k < 0)
            r = k;
        done += k > 0;
    }
    for (size_t i = 0; i < s.n; i++) {
        free(s.v[i]);
        free(s.key[i]);
    }
    free(s.v);
    free(s.key);
    free(s.len);
    if (r == 0)
        fprintf(x->out, "rebuilt %zu customer views\n", done);
    return r;
}
