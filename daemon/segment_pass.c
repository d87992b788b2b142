/* daemon/segment_pass.c - one pass of the segment job (daemon/segment_job.h):
 * the two scans, the RFM boundaries, each customer's scores and segments,
 * and the difference with the members Redis holds (written by
 * segment_write.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/segment_traits.h"
#include "core/event.h"
#include "core/rfmscore.h"
#include "core/segment_attrs.h"
#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/segment_job_impl.h"
#include "store/keys.h"
#include "store/scan.h"

#define DAYS_PER_YEAR 365.2425



static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const seg_row *)a)->id, ((const seg_row *)b)->id);
}

static seg_row *find(seg_pass *p, const char *id)
{
    seg_row key = {.id = (char *)id};
    if (p->n == 0)
        return NULL;
    return bsearch(&key, p->rows, p->n, sizeof *p->rows, cmp_id);
}

/* ---- the scans ---------------------------------------------------------- */

static int collect(void *ctx, const char *key, const clm_customer *c)
{
    seg_pass *p = ctx;
    (void)key;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        seg_row *nr = realloc(p->rows, cap * sizeof *nr);
        if (!nr)
            return -ENOMEM;
        p->rows = nr;
        p->cap = cap;
    }
    seg_row *r = &p->rows[p->n];
    *r = (seg_row){.last_day = c->orders > 0 ? c->rfm.last_day : -1, .orders = c->orders,
               .revenue = c->revenue_micros, .rfm = -1,
               .churned = (int)c->stage == clm_stages_churned(p->stages),
               .at_risk = c->risk_e4 >= p->cfg->alerts.threshold_e4}; /* as <prefix>at_risk */
    if (!(r->id = strdup(c->id)))
        return -ENOMEM;
    p->n++;
    if (c->last_seen > p->now_ms)
        p->now_ms = c->last_seen;
    return 0;
}

/* Sorts the rows by id and drops the ids a scan passed twice. */
static void dedupe(seg_pass *p)
{
    size_t k = 0;
    if (p->n == 0)
        return;
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

static int compute_bounds(seg_pass *p)
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
    seg_pass *p = ctx;
    (void)key;
    seg_row *r = find(p, c->id);
    if (!r || r->done)
        return 0; /* a customer new since the first scan waits for the next seg_pass */
    clm_attr_ctx a = {.c = c, .stages = p->stages, .bounds = &p->bounds, .traits = &p->traits,
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
static int read_model(seg_pass *p, clm_rpipe *rp, const char *prefix)
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

/* ---- the difference with what Redis holds ------------------------------ */

/* The members now and the difference with what Redis holds. */
static int diff_segment(seg_pass *p, clm_rpipe *rp, size_t s, seg_diff *d, const char *now)
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
    if ((r = seg_argl_str(&d->add, "ZADD")) < 0 || (r = seg_argl_str(&d->add, d->key)) < 0 ||
        (r = seg_argl_str(&d->rem, "ZREM")) < 0 || (r = seg_argl_str(&d->rem, d->key)) < 0)
        goto out_free_old;
    for (size_t i = 0; i < nold; i++) {
        seg_row *w = find(p, old[i]);
        if ((!w || (w->done && !(w->mask & bit))) && (r = seg_argl_str(&d->rem, old[i])) < 0)
            goto out_free_old;
    }
    for (size_t i = 0; i < p->n; i++) {
        const seg_row *w = &p->rows[i];
        bool was = bsearch(&w->id, old, nold, sizeof *old, cmp_str) != NULL;
        /* a customer the second scan did not reach keeps what it had */
        bool is = w->done ? (w->mask & bit) != 0 : was;
        if (!is)
            continue;
        d->members++;
        if (!was && ((r = seg_argl_str(&d->add, now)) < 0 || (r = seg_argl_str(&d->add, w->id)) < 0))
            goto out_free_old;
    }
    r = 0;
out_free_old:
    free(old);
    return r;
}

/* Before the first pass of a process: the segments the last summary
 * names (segment:<name> fields), which an earlier run wrote. */
static int read_written(clm_segment_job *j, seg_pass *p, clm_rpipe *rp)
{
    char key[CLM_KEY_MAX];
    const char *argv[] = {"HKEYS", key};
    clm_key_single(key, sizeof key, p->cfg->redis_prefix, CLM_KEY_SEGMENTS);
    redisReply *rep = clm_rpipe_command(rp, 1, 2, argv, NULL, p->err, sizeof p->err);
    if (!rep)
        return -EIO;
    int r = 0;
    size_t n = 0;
    char **names = calloc(rep->type == REDIS_REPLY_ARRAY && rep->elements ? rep->elements : 1,
                          sizeof *names);
    if (!names)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const char *f = rep->element[i]->type == REDIS_REPLY_STRING ? rep->element[i]->str : "";
        if (strncmp(f, "segment:", 8) != 0 || strchr(f + 8, ':'))
            continue;
        if (!(names[n] = strdup(f + 8)))
            r = -ENOMEM;
        else
            n++;
    }
    freeReplyObject(rep);
    if (r < 0) {
        while (n--)
            free(names[n]);
        free(names);
        return r;
    }
    j->names = names;
    j->nnames = n;
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
    seg_pass p = {.cfg = cfg, .stages = j->first->stages};
    clm_segment_traits_init(&p.traits, cfg);
    size_t nseg = clm_segments_count(cfg->segments);
    seg_diff *d = calloc(nseg ? nseg : 1, sizeof *d);
    char now[24];
    int r = -ENOMEM;

    if (!d)
        goto out_free;
    if (j->passes == 0 && !j->names && (r = read_written(j, &p, rp)) < 0)
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
    if ((r = segment_write_pass(j, &p, rp, d, nseg)) < 0 || (r = keep_names(j, cfg->segments)) < 0 ||
        (r = segment_write_views(j, &p, rp)) < 0)
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
        seg_argl_free(&d[s].add);
        seg_argl_free(&d[s].rem);
        freeReplyObject(d[s].old);
    }
    free(d);
    for (size_t i = 0; i < p.n; i++)
        free(p.rows[i].id);
    free(p.rows);
    return r;
}
