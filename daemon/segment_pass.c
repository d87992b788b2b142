/* daemon/segment_pass.c - one pass of the segment job (daemon/segment_job.h):
 * the two scans, the RFM boundaries, each customer's scores and segments,
 * and the writes of what changed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/rfmscore.h"
#include "core/segment_attrs.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/segment_job_impl.h"
#include "store/keys.h"
#include "store/scan.h"

#define DAYS_PER_YEAR 365.2425

/* One customer of the pass. */
typedef struct row {
    char *id;
    int64_t last_day; /* of the latest purchase, -1: none */
    int64_t orders, revenue;
    uint8_t scores[3];
    int16_t rfm;      /* map index, -1: none */
    clm_seg_mask mask;
    bool done;        /* evaluated by the second scan */
} row;

typedef struct pass {
    const clm_config *cfg;
    const clm_stages *stages;
    row *rows;
    size_t n, cap;
    int64_t now_ms;   /* greatest last_seen: the pass's event time */
    clm_rfm_bounds bounds;
    clm_attr_model model;
    bool has_model;
    int64_t buyers;
    char err[256];
} pass;

/* A growing argument list of one command. */
typedef struct argl {
    const char **v;
    size_t *len;
    size_t n, cap;
} argl;

static int argl_add(argl *a, const char *s, size_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        const char **v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        a->v = v;
        size_t *l = realloc(a->len, cap * sizeof *l);
        if (!l)
            return -ENOMEM;
        a->len = l;
        a->cap = cap;
    }
    a->v[a->n] = s;
    a->len[a->n++] = len;
    return 0;
}

static int argl_str(argl *a, const char *s)
{
    return argl_add(a, s, strlen(s));
}

static void argl_free(argl *a)
{
    free(a->v);
    free(a->len);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const row *)a)->id, ((const row *)b)->id);
}

static row *find(pass *p, const char *id)
{
    row key = {.id = (char *)id};
    return bsearch(&key, p->rows, p->n, sizeof *p->rows, cmp_id);
}

/* ---- the scans ---------------------------------------------------------- */

static int collect(void *ctx, const char *key, const clm_customer *c)
{
    pass *p = ctx;
    (void)key;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        row *nr = realloc(p->rows, cap * sizeof *nr);
        if (!nr)
            return -ENOMEM;
        p->rows = nr;
        p->cap = cap;
    }
    row *r = &p->rows[p->n];
    *r = (row){.last_day = c->orders > 0 ? c->rfm.last_day : -1, .orders = c->orders,
               .revenue = c->revenue_micros, .rfm = -1};
    if (!(r->id = strdup(c->id)))
        return -ENOMEM;
    p->n++;
    if (c->last_seen > p->now_ms)
        p->now_ms = c->last_seen;
    return 0;
}

/* Sorts the rows by id and drops the ids a scan passed twice. */
static void dedupe(pass *p)
{
    size_t k = 0;
    qsort(p->rows, p->n, sizeof *p->rows, cmp_id);
    for (size_t i = 0; i < p->n; i++) {
        if (k > 0 && strcmp(p->rows[k - 1].id, p->rows[i].id) == 0) {
            free(p->rows[i].id);
            continue;
        }
        p->rows[k++] = p->rows[i];
    }
    p->n = k;
}

static int compute_bounds(pass *p)
{
    int64_t *v = malloc(3 * (p->n ? p->n : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    int64_t *r = v, *f = v + p->n, *m = v + 2 * p->n;
    size_t b = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].last_day >= 0) {
            r[b] = p->rows[i].last_day;
            f[b] = p->rows[i].orders;
            m[b++] = p->rows[i].revenue;
        }
    clm_rfm_bounds_compute(r, f, m, b, &p->bounds);
    p->buyers = (int64_t)b;
    free(v);
    return 0;
}

static int evaluate(void *ctx, const char *key, const clm_customer *c)
{
    pass *p = ctx;
    (void)key;
    row *r = find(p, c->id);
    if (!r || r->done)
        return 0; /* a customer new since the first scan waits for the next pass */
    clm_attr_ctx a = {.c = c, .stages = p->stages, .bounds = &p->bounds,
                      .map = p->cfg->rfm_map, .model = p->has_model ? &p->model : NULL,
                      .now_day = clm_day_of_ms(p->now_ms -
                                               p->cfg->events_allowed_lateness_s * 1000)};
    memcpy(r->scores, clm_attr_scores(&a), 3);
    r->rfm = r->scores[0] ? (int16_t)clm_rfm_map_segment(p->cfg->rfm_map, r->scores) : -1;
    r->mask = clm_segments_eval(p->cfg->segments, clm_attr_get, &a);
    r->done = true;
    return 0;
}

/* ---- reading Redis ------------------------------------------------------ */

/* Reads the last good fit from <prefix>model (all seven parameters). HGETALL
 * rather than HMGET: the hash is small, and bench/bench_e2e takes clmd's
 * first HMGET for its partition assignment. */
static int read_model(pass *p, clm_rpipe *rp, const char *prefix)
{
    char key[CLM_KEY_MAX];
    static const char *const names[7] = {"r", "alpha", "a", "b", "p", "q", "gamma"};
    const char *argv[2] = {"HGETALL", key};
    double v[7];
    unsigned found = 0;

    clm_key_single(key, sizeof key, prefix, CLM_KEY_MODEL);
    redisReply *rep = clm_rpipe_command(rp, 1, 2, argv, NULL, p->err, sizeof p->err);
    if (!rep)
        return -EIO;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *val = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
            continue;
        for (int k = 0; k < 7; k++) {
            char *end;
            if (strcmp(f->str, names[k]) != 0)
                continue;
            v[k] = strtod(val->str, &end);
            if (end != val->str && *end == '\0')
                found |= 1u << k;
        }
    }
    freeReplyObject(rep);
    if (found != 0x7f)
        return 0; /* no fit yet: p_alive and clv_model have no value */
    const clm_config *cfg = p->cfg;
    p->model = (clm_attr_model){
        .bg = {.r = v[0], .alpha = v[1], .a = v[2], .b = v[3]},
        .gg = {.p = v[4], .q = v[5], .gamma = v[6]},
        .clv = {.margin = cfg->kpi_gross_margin, .annual_discount = cfg->model_discount_rate,
                .periods_per_year = DAYS_PER_YEAR / cfg->model_unit_days,
                .horizon = (unsigned)cfg->model_horizon},
        .unit_days = cfg->model_unit_days,
    };
    p->has_model = true;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- writing ------------------------------------------------------------ */

typedef struct seg_diff {
    argl add, rem; /* ZADD key now id ..., ZREM key id ... */
    char key[CLM_KEY_MAX];
    redisReply *old;  /* ZRANGE reply */
    int64_t members;
} seg_diff;

/* The members now and the difference with what Redis holds. */
static int diff_segment(pass *p, clm_rpipe *rp, size_t s, seg_diff *d, const char *now)
{
    const char *name = clm_segments_name(p->cfg->segments, s);
    int r;

    clm_key_segment(d->key, sizeof d->key, p->cfg->redis_prefix, name);
    const char *argv[] = {"ZRANGE", d->key, "0", "-1"};
    d->old = clm_rpipe_command(rp, 1, 4, argv, NULL, p->err, sizeof p->err);
    if (!d->old)
        return -EIO;
    if (d->old->type != REDIS_REPLY_ARRAY) {
        snprintf(p->err, sizeof p->err, "%s is not a sorted set", d->key);
        return -EPROTO;
    }
    size_t nold = d->old->elements;
    const char **old = malloc((nold ? nold : 1) * sizeof *old);
    if (!old)
        return -ENOMEM;
    for (size_t i = 0; i < nold; i++)
        old[i] = d->old->element[i]->type == REDIS_REPLY_STRING ? d->old->element[i]->str : "";
    qsort(old, nold, sizeof *old, cmp_str);
    clm_seg_mask bit = (clm_seg_mask)1 << s;
    if ((r = argl_str(&d->add, "ZADD")) < 0 || (r = argl_str(&d->add, d->key)) < 0 ||
        (r = argl_str(&d->rem, "ZREM")) < 0 || (r = argl_str(&d->rem, d->key)) < 0)
        goto out_free_old;
    for (size_t i = 0; i < nold; i++) {
        row *w = find(p, old[i]);
        if ((!w || (w->done && !(w->mask & bit))) && (r = argl_str(&d->rem, old[i])) < 0)
            goto out_free_old;
    }
    for (size_t i = 0; i < p->n; i++) {
        const row *w = &p->rows[i];
        bool was = bsearch(&w->id, old, nold, sizeof *old, cmp_str) != NULL;
        /* a customer the second scan did not reach keeps what it had */
        bool is = w->done ? (w->mask & bit) != 0 : was;
        if (!is)
            continue;
        d->members++;
        if (!was && ((r = argl_str(&d->add, now)) < 0 || (r = argl_str(&d->add, w->id)) < 0))
            goto out_free_old;
    }
    r = 0;
out_free_old:
    free(old);
    return r;
}

static int queue(pass *p, clm_rpipe *rp, int keyarg, size_t argc, const char **argv,
                 const size_t *lens, size_t *queued)
{
    if (clm_rpipe_append(rp, keyarg, (int)argc, argv, lens, p->err, sizeof p->err) < 0)
        return -EIO;
    (*queued)++;
    return 0;
}

/* Queues a gathered "CMD key item..." (items of `stride` arguments) as
 * commands of at most CHUNK items each. */
#define CHUNK 10000
static int queue_chunked(pass *p, clm_rpipe *rp, argl *a, size_t stride, size_t *queued)
{
    const char **v = NULL;
    size_t *len = NULL;
    int r = 0;

    if (a->n <= 2)
        return 0;
    v = malloc((2 + CHUNK * 2) * sizeof *v);
    len = malloc((2 + CHUNK * 2) * sizeof *len);
    if (!v || !len) {
        r = -ENOMEM;
        goto out_free;
    }
    for (size_t at = 2; at < a->n && r == 0; at += CHUNK * stride) {
        size_t n = a->n - at < CHUNK * stride ? a->n - at : CHUNK * stride;
        v[0] = a->v[0];
        v[1] = a->v[1];
        len[0] = a->len[0];
        len[1] = a->len[1];
        memcpy(v + 2, a->v + at, n * sizeof *v);
        memcpy(len + 2, a->len + at, n * sizeof *len);
        r = queue(p, rp, 1, 2 + n, v, len, queued);
    }
out_free:
    free(v);
    free(len);
    return r;
}

/* Reads n replies; an error reply (or one inside EXEC's) is -EPROTO. */
static int drain(pass *p, clm_rpipe *rp, size_t n)
{
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(rp, &rep, p->err, sizeof p->err) < 0)
            return -EIO;
        if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(p->err, sizeof p->err, "%s", rep->str);
            r = -EPROTO;
        } else if (rep->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < rep->elements; k++)
                if (rep->element[k]->type == REDIS_REPLY_ERROR) {
                    snprintf(p->err, sizeof p->err, "%s", rep->element[k]->str);
                    r = -EPROTO;
                }
        } else if (rep->type == REDIS_REPLY_NIL && i == n - 1) {
            snprintf(p->err, sizeof p->err, "the transaction was aborted");
            r = -EPROTO;
        }
        freeReplyObject(rep);
    }
    return r;
}

static bool configured(const clm_segments *s, const char *name)
{
    return clm_segments_find(s, name) >= 0;
}

/* Every write of the pass but the views: one transaction on one server. */
static int write_pass(clm_segment_job *j, pass *p, clm_rpipe *rp, seg_diff *d, size_t nseg)
{
    const clm_config *cfg = p->cfg;
    const char *prefix = cfg->redis_prefix;
    char sumkey[CLM_KEY_MAX], dkey[CLM_KEY_MAX], bkey[CLM_KEY_MAX], day[16];
    char nums[8][32], cnt[2 * CLM_SEG_MAX][24], bnd[12][32];
    char rfmf[CLM_RFM_MAX_SEGMENTS + 1][48], rfmn[CLM_RFM_MAX_SEGMENTS + 1][24];
    int64_t per_rfm[CLM_RFM_MAX_SEGMENTS + 1] = {0};
    char (*fields)[CLM_SEG_NAME_MAX + 16] = calloc(4 * CLM_SEG_MAX, sizeof *fields);
    char (*sizes)[24] = calloc(CLM_SEG_MAX, sizeof *sizes);
    bool cluster = clm_rpipe_is_cluster(rp);
    size_t queued = 0;
    argl sum = {0}, days = {0}, bounds = {0};
    int r = -ENOMEM;

    if (!fields || !sizes)
        goto out_free;
    int64_t today = clm_day_of_ms(p->now_ms);
    clm_key_single(sumkey, sizeof sumkey, prefix, CLM_KEY_SEGMENTS);
    clm_key_single(bkey, sizeof bkey, prefix, CLM_KEY_RFM_BOUNDS);
    clm_key_segment_day(dkey, sizeof dkey, prefix, today);
    clm_day_format(today, day);
    if (!cluster && (r = queue(p, rp, -1, 1, (const char *[]){"MULTI"}, NULL, &queued)) < 0)
        goto out_free;
    /* membership */
    for (size_t s = 0; s < nseg; s++)
        if ((r = queue_chunked(p, rp, &d[s].add, 2, &queued)) < 0 ||
            (r = queue_chunked(p, rp, &d[s].rem, 1, &queued)) < 0)
            goto out_free;
    for (size_t k = 0; k < j->nnames; k++) {
        if (configured(cfg->segments, j->names[k]))
            continue;
        char key[CLM_KEY_MAX];
        clm_key_segment(key, sizeof key, prefix, j->names[k]);
        if ((r = queue(p, rp, 1, 2, (const char *[]){"DEL", key}, NULL, &queued)) < 0)
            goto out_free;
    }
    /* the day's entries and exits */
    if ((r = argl_str(&days, "HINCRBY")) < 0 || (r = argl_str(&days, dkey)) < 0)
        goto out_free;
    for (size_t s = 0; s < nseg; s++) {
        const char *name = clm_segments_name(cfg->segments, s);
        size_t in = d[s].add.n > 2 ? (d[s].add.n - 2) / 2 : 0;
        size_t out = d[s].rem.n > 2 ? d[s].rem.n - 2 : 0;
        const char *what[2] = {"entered", "left"};
        size_t count[2] = {in, out};
        for (int w = 0; w < 2; w++) {
            if (!count[w])
                continue;
            snprintf(fields[s * 4 + w], sizeof fields[0], "%s:%s", name, what[w]);
            snprintf(cnt[s * 2 + w], sizeof cnt[0], "%zu", count[w]);
            const char *argv[] = {"HINCRBY", dkey, fields[s * 4 + w], cnt[s * 2 + w]};
            if ((r = queue(p, rp, 1, 4, argv, NULL, &queued)) < 0)
                goto out_free;
        }
    }
    /* the summary */
    snprintf(nums[0], sizeof nums[0], "%lld", j->passes + 1);
    snprintf(nums[1], sizeof nums[1], "%lld", clm_wall_ms());
    snprintf(nums[2], sizeof nums[2], "%zu", p->n);
    snprintf(nums[3], sizeof nums[3], "%" PRId64, p->buyers);
    const char *head[] = {"HSET", sumkey, "pass", nums[0], "at", nums[1], "day", day,
                          "customers", nums[2], "buyers", nums[3]};
    for (size_t i = 0; i < sizeof head / sizeof *head; i++)
        if ((r = argl_str(&sum, head[i])) < 0)
            goto out_free;
    for (size_t s = 0; s < nseg; s++) {
        const char *name = clm_segments_name(cfg->segments, s);
        snprintf(sizes[s], sizeof sizes[0], "%" PRId64, d[s].members);
        snprintf(fields[s * 4 + 2], sizeof fields[0], "segment:%s", name);
        snprintf(fields[s * 4 + 3], sizeof fields[0], "segment:%s:rule", name);
        if ((r = argl_str(&sum, fields[s * 4 + 2])) < 0 || (r = argl_str(&sum, sizes[s])) < 0 ||
            (r = argl_str(&sum, fields[s * 4 + 3])) < 0 ||
            (r = argl_str(&sum, clm_segments_rule(cfg->segments, s))) < 0)
            goto out_free;
    }
    /* customers per RFM segment, every segment of the map (and Other) */
    size_t nrfm = clm_rfm_map_count(cfg->rfm_map) + 1;
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].done && p->rows[i].rfm >= 0)
            per_rfm[p->rows[i].rfm]++;
    for (size_t k = 0; k < nrfm; k++) {
        snprintf(rfmf[k], sizeof rfmf[0], "rfm:%s", clm_rfm_map_name(cfg->rfm_map, (int)k));
        snprintf(rfmn[k], sizeof rfmn[0], "%" PRId64, per_rfm[k]);
        if ((r = argl_str(&sum, rfmf[k])) < 0 || (r = argl_str(&sum, rfmn[k])) < 0)
            goto out_free;
    }
    if ((r = queue(p, rp, 1, 2, (const char *[]){"DEL", sumkey}, NULL, &queued)) < 0 ||
        (r = queue(p, rp, 1, sum.n, sum.v, sum.len, &queued)) < 0)
        goto out_free;
    /* the boundaries */
    if ((r = queue(p, rp, 1, 2, (const char *[]){"DEL", bkey}, NULL, &queued)) < 0)
        goto out_free;
    if (p->bounds.n > 0) {
        static const char *const bn[12] = {"r1", "r2", "r3", "r4", "f1", "f2",
                                           "f3", "f4", "m1", "m2", "m3", "m4"};
        snprintf(nums[4], sizeof nums[4], "%" PRId64, p->bounds.n);
        if ((r = argl_str(&bounds, "HSET")) < 0 || (r = argl_str(&bounds, bkey)) < 0 ||
            (r = argl_str(&bounds, "n")) < 0 || (r = argl_str(&bounds, nums[4])) < 0)
            goto out_free;
        for (int k = 0; k < 4; k++) {
            clm_day_format(p->bounds.r[k], bnd[k]);
            snprintf(bnd[4 + k], sizeof bnd[0], "%" PRId64, p->bounds.f[k]);
            clm_micros_format(p->bounds.m[k], bnd[8 + k], sizeof bnd[0]);
        }
        for (int k = 0; k < 12; k++)
            if ((r = argl_str(&bounds, bn[k])) < 0 || (r = argl_str(&bounds, bnd[k])) < 0)
                goto out_free;
        if ((r = queue(p, rp, 1, bounds.n, bounds.v, bounds.len, &queued)) < 0)
            goto out_free;
    }
    if (!cluster && (r = queue(p, rp, -1, 1, (const char *[]){"EXEC"}, NULL, &queued)) < 0)
        goto out_free;
    r = drain(p, rp, queued);
    queued = 0;
out_free:
    if (queued && r != -EIO)
        r = -EIO; /* replies left unread: the caller resets the connection */
    argl_free(&sum);
    argl_free(&days);
    argl_free(&bounds);
    free(fields);
    free(sizes);
    return r;
}

static int cmp_shown(const void *a, const void *b)
{
    return strcmp(((const seg_shown *)a)->id, ((const seg_shown *)b)->id);
}

/* r_score, f_score, m_score, rfm_segment of every customer whose values
 * changed since the previous pass; then remembers them. */
static int write_views(clm_segment_job *j, pass *p, clm_rpipe *rp)
{
    const clm_config *cfg = p->cfg;
    seg_shown *now = calloc(p->n ? p->n : 1, sizeof *now);
    size_t k = 0, queued = 0;
    int r = 0;

    if (!now)
        return -ENOMEM;
    for (size_t i = 0; i < p->n && r == 0; i++) {
        row *w = &p->rows[i];
        if (!w->done || !w->scores[0])
            continue;
        seg_shown key = {.id = w->id};
        seg_shown *was = j->shown ? bsearch(&key, j->shown, j->nshown, sizeof key, cmp_shown) : NULL;
        now[k] = (seg_shown){.id = w->id, .rfm = clm_rfm_map_name(cfg->rfm_map, w->rfm)};
        memcpy(now[k].scores, w->scores, 3);
        if (was && strcmp(was->rfm, now[k].rfm) == 0 && memcmp(was->scores, w->scores, 3) == 0) {
            k++;
            continue;
        }
        char vkey[CLM_KEY_MAX], s[3][4];
        clm_key_customer(vkey, sizeof vkey, cfg->redis_prefix, w->id, strlen(w->id));
        for (int q = 0; q < 3; q++)
            snprintf(s[q], sizeof s[q], "%d", w->scores[q]);
        const char *argv[] = {"HSET", vkey, "r_score", s[0], "f_score", s[1], "m_score", s[2],
                              "rfm_segment", now[k].rfm};
        k++;
        r = queue(p, rp, 1, 10, argv, NULL, &queued);
        if (r == 0 && queued >= 512) {
            r = drain(p, rp, queued);
            queued = 0;
        }
    }
    if (r == 0 && queued)
        r = drain(p, rp, queued);
    else if (queued)
        r = -EIO;
    if (r < 0) {
        free(now);
        return r;
    }
    /* the ids now belong to the job's memory; the pass's rows give them up */
    for (size_t i = 0; i < j->nshown; i++)
        free(j->shown[i].id);
    free(j->shown);
    j->shown = now;
    j->nshown = k;
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].done && p->rows[i].scores[0])
            p->rows[i].id = NULL;
    return 0;
}

/* Remembers the segment names this pass wrote. */
static int keep_names(clm_segment_job *j, const clm_segments *s)
{
    size_t n = clm_segments_count(s);
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(names[i] = strdup(clm_segments_name(s, i)))) {
            while (i--)
                free(names[i]);
            free(names);
            return -ENOMEM;
        }
    for (size_t i = 0; i < j->nnames; i++)
        free(j->names[i]);
    free(j->names);
    j->names = names;
    j->nnames = n;
    return 0;
}

void segment_pass_forget(clm_segment_job *j)
{
    for (size_t i = 0; i < j->nnames; i++)
        free(j->names[i]);
    free(j->names);
    j->names = NULL;
    j->nnames = 0;
    for (size_t i = 0; i < j->nshown; i++)
        free(j->shown[i].id);
    free(j->shown);
    j->shown = NULL;
    j->nshown = 0;
}

int segment_pass_run(clm_segment_job *j, clm_rpipe *rp, const clm_config *cfg)
{
    long long t0 = clm_now_ms();
    pass p = {.cfg = cfg, .stages = j->first->stages};
    size_t nseg = clm_segments_count(cfg->segments);
    seg_diff *d = calloc(nseg ? nseg : 1, sizeof *d);
    char now[24];
    int r = -ENOMEM;

    if (!d)
        goto out_free;
    if ((r = read_model(&p, rp, cfg->redis_prefix)) < 0 ||
        (r = clm_store_scan(rp, cfg->redis_prefix, NULL, collect, &p, p.err, sizeof p.err)) < 0)
        goto out_free;
    dedupe(&p);
    if ((r = compute_bounds(&p)) < 0 ||
        (r = clm_store_scan(rp, cfg->redis_prefix, NULL, evaluate, &p, p.err, sizeof p.err)) < 0)
        goto out_free;
    snprintf(now, sizeof now, "%" PRId64, p.now_ms);
    for (size_t s = 0; s < nseg; s++)
        if ((r = diff_segment(&p, rp, s, &d[s], now)) < 0)
            goto out_free;
    if ((r = write_pass(j, &p, rp, d, nseg)) < 0 || (r = keep_names(j, cfg->segments)) < 0 ||
        (r = write_views(j, &p, rp)) < 0)
        goto out_free;
    j->passes++;
    log_debug("segments: pass %lld over %zu customers (%" PRId64 " with a purchase) in %lld ms",
              j->passes, p.n, p.buyers, clm_now_ms() - t0);
out_free:
    if (r == -EPROTO || r == -ENOMEM)
        log_err("segments: pass failed: %s", r == -ENOMEM ? "out of memory" : p.err);
    else if (r == -EIO)
        log_warn("segments: pass failed: %s", p.err);
    for (size_t s = 0; d && s < nseg; s++) {
        argl_free(&d[s].add);
        argl_free(&d[s].rem);
        freeReplyObject(d[s].old);
    }
    free(d);
    for (size_t i = 0; i < p.n; i++)
        free(p.rows[i].id);
    free(p.rows);
    return r;
}
