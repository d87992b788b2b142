/* tools/clmctl_rebuild.c - `clmctl rebuild-view ID|--all`: rewrites customer
 * views (<prefix>customer:<id>) from the checkpoints, the state clmd resumes
 * from (store/view.h). Safe while clmd runs: each view is written in a
 * transaction WATCHing the checkpoint hash it was read from, and read again
 * when a flush changed that hash meanwhile. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                              .risk = &ru->risk, .alerts = &cfg->alerts };
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_MODEL);
    const char *argv[] = { "HMGET", key, "status", "r", "alpha", "a", "b" };
    redisReply *rep = redisCommandArgv(x->rc, 7, argv, NULL);
    if (!rep) {
        snprintf(errbuf, errsize, "HMGET %s: %s", key, x->rc->errstr);
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
        size_t nv1 = 0;
        while (clm_view_v1_only[nv1])
            nv1++;
        char vkey[CLM_KEY_MAX];
        if (r == 0 && clm_key_customer(vkey, sizeof(vkey), x->prefix, id, len) < 0)
            r = -ENAMETOOLONG;
        if (r == 0 && (r = clm_cmdbuf_begin(&b, 2 + nv1)) == 0 &&
            (r = clm_cmdbuf_arg(&b, "HDEL", 4)) == 0 && (r = clm_cmdbuf_arg(&b, vkey, strlen(vkey))) == 0)
            for (size_t i = 0; i < nv1 && r == 0; i++)
                r = clm_cmdbuf_arg(&b, clm_view_v1_only[i], strlen(clm_view_v1_only[i]));
        if (r == 0)
            r = clm_view_format(&b, x->prefix, c, &ru->o, CLM_FACET_ALL, false);
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
        r = rebuild_one(x, &ru, id, strlen(id), NULL, errbuf, errsize);
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
        int k = rebuild_one(x, &ru, s.v[i], s.len[i], s.key[i], errbuf, errsize);
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
