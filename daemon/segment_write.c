/* daemon/segment_write.c - what one pass of the segment job writes
 * (daemon/segment_job.h): membership, day counters, the summary, the
 * boundaries and the customers' view fields.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/timeutil.h"
#include "daemon/segment_job_impl.h"

int seg_argl_add(seg_argl *a, const char *s, size_t len)
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

int seg_argl_str(seg_argl *a, const char *s)
{
    return seg_argl_add(a, s, strlen(s));
}

void seg_argl_free(seg_argl *a)
{
    free(a->v);
    free(a->len);
}

int segment_queue(seg_pass *p, clm_rpipe *rp, int keyarg, size_t argc, const char **argv,
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
static int queue_chunked(seg_pass *p, clm_rpipe *rp, seg_argl *a, size_t stride, size_t *queued)
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
        r = segment_queue(p, rp, 1, 2 + n, v, len, queued);
    }
out_free:
    free(v);
    free(len);
    return r;
}

/* Reads n replies; an error reply (or one inside EXEC's) is -EPROTO. */
static int drain(seg_pass *p, clm_rpipe *rp, size_t n)
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

/* The KPIs of segment s's members, as summary fields segment:<name>:<kpi>:
 * buyers (orders >= 1), orders, revenue (decimal), churned (in the churned
 * stage) and at_risk (risk at or above alerts.threshold). */
#define SEG_KPIS 5
static void seg_kpi_fields(const seg_pass *p, size_t s, const char *name,
                           char (*f)[CLM_SEG_NAME_MAX + 24], char (*v)[32])
{
    int64_t buyers = 0, orders = 0, revenue = 0, churned = 0, at_risk = 0;
    for (size_t i = 0; i < p->n; i++) {
        const seg_row *r = &p->rows[i];
        if (!r->done || !((r->mask >> s) & 1))
            continue;
        buyers += r->orders > 0;
        orders += r->orders;
        revenue = clm_sat_add(revenue, r->revenue);
        churned += r->churned;
        at_risk += r->at_risk;
    }
    static const char *const kpi[SEG_KPIS] = {"buyers", "orders", "revenue", "churned", "at_risk"};
    const int64_t val[SEG_KPIS] = {buyers, orders, revenue, churned, at_risk};
    for (int k = 0; k < SEG_KPIS; k++) {
        snprintf(f[k], sizeof f[0], "segment:%s:%s", name, kpi[k]);
        if (k == 2)
            clm_micros_format(val[k], v[k], sizeof v[0]);
        else
            snprintf(v[k], sizeof v[0], "%" PRId64, val[k]);
    }
}

/* Every write of the pass but the views: one transaction on one server. */
int segment_write_pass(clm_segment_job *j, seg_pass *p, clm_rpipe *rp, seg_diff *d, size_t nseg)
{
    const clm_config *cfg = p->cfg;
    const char *prefix = cfg->redis_prefix;
    char sumkey[CLM_KEY_MAX], dkey[CLM_KEY_MAX], bkey[CLM_KEY_MAX], day[16];
    char nums[8][32], cnt[2 * CLM_SEG_MAX][24], bnd[12][32];
    char rfmf[CLM_RFM_MAX_SEGMENTS + 1][48], rfmn[CLM_RFM_MAX_SEGMENTS + 1][24];
    int64_t per_rfm[CLM_RFM_MAX_SEGMENTS + 1] = {0};
    char (*fields)[CLM_SEG_NAME_MAX + 16] = calloc(4 * CLM_SEG_MAX, sizeof *fields);
    char (*sizes)[24] = calloc(CLM_SEG_MAX, sizeof *sizes);
    /* per segment, the KPIs of its members (seg_kpi_fields) */
    char (*kf)[CLM_SEG_NAME_MAX + 24] = calloc(SEG_KPIS * CLM_SEG_MAX, sizeof *kf);
    char (*kv)[32] = calloc(SEG_KPIS * CLM_SEG_MAX, sizeof *kv);
    bool cluster = clm_rpipe_is_cluster(rp);
    size_t queued = 0;
    seg_argl sum = {0}, days = {0}, bounds = {0};
    seg_notes notes = {0};
    int r = -ENOMEM;

    if (!fields || !sizes || !kf || !kv)
        goto out_free;
    int64_t today = clm_day_of_ms(p->now_ms);
    clm_key_single(sumkey, sizeof sumkey, prefix, CLM_KEY_SEGMENTS);
    clm_key_single(bkey, sizeof bkey, prefix, CLM_KEY_RFM_BOUNDS);
    clm_key_segment_day(dkey, sizeof dkey, prefix, today);
    clm_day_format(today, day);
    if (!cluster && (r = segment_queue(p, rp, -1, 1, (const char *[]){"MULTI"}, NULL, &queued)) < 0)
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
        if ((r = segment_queue(p, rp, 1, 2, (const char *[]){"DEL", key}, NULL, &queued)) < 0)
            goto out_free;
    }
    if ((r = segment_notes_queue(j, p, rp, d, nseg, &notes, &queued)) < 0)
        goto out_free;
    /* the day's entries and exits */
    if ((r = seg_argl_str(&days, "HINCRBY")) < 0 || (r = seg_argl_str(&days, dkey)) < 0)
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
            if ((r = segment_queue(p, rp, 1, 4, argv, NULL, &queued)) < 0)
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
        if ((r = seg_argl_str(&sum, head[i])) < 0)
            goto out_free;
    for (size_t s = 0; s < nseg; s++) {
        const char *name = clm_segments_name(cfg->segments, s);
        snprintf(sizes[s], sizeof sizes[0], "%" PRId64, d[s].members);
        snprintf(fields[s * 4 + 2], sizeof fields[0], "segment:%s", name);
        snprintf(fields[s * 4 + 3], sizeof fields[0], "segment:%s:rule", name);
        if ((r = seg_argl_str(&sum, fields[s * 4 + 2])) < 0 || (r = seg_argl_str(&sum, sizes[s])) < 0 ||
            (r = seg_argl_str(&sum, fields[s * 4 + 3])) < 0 ||
            (r = seg_argl_str(&sum, clm_segments_rule(cfg->segments, s))) < 0)
            goto out_free;
        seg_kpi_fields(p, s, name, kf + s * SEG_KPIS, kv + s * SEG_KPIS);
        for (int k = 0; k < SEG_KPIS; k++)
            if ((r = seg_argl_str(&sum, kf[s * SEG_KPIS + k])) < 0 ||
                (r = seg_argl_str(&sum, kv[s * SEG_KPIS + k])) < 0)
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
        if ((r = seg_argl_str(&sum, rfmf[k])) < 0 || (r = seg_argl_str(&sum, rfmn[k])) < 0)
            goto out_free;
    }
    if ((r = segment_queue(p, rp, 1, 2, (const char *[]){"DEL", sumkey}, NULL, &queued)) < 0 ||
        (r = segment_queue(p, rp, 1, sum.n, sum.v, sum.len, &queued)) < 0)
        goto out_free;
    /* the boundaries */
    if ((r = segment_queue(p, rp, 1, 2, (const char *[]){"DEL", bkey}, NULL, &queued)) < 0)
        goto out_free;
    if (p->bounds.n > 0) {
        static const char *const bn[12] = {"r1", "r2", "r3", "r4", "f1", "f2",
                                           "f3", "f4", "m1", "m2", "m3", "m4"};
        snprintf(nums[4], sizeof nums[4], "%" PRId64, p->bounds.n);
        if ((r = seg_argl_str(&bounds, "HSET")) < 0 || (r = seg_argl_str(&bounds, bkey)) < 0 ||
            (r = seg_argl_str(&bounds, "n")) < 0 || (r = seg_argl_str(&bounds, nums[4])) < 0)
            goto out_free;
        for (int k = 0; k < 4; k++) {
            clm_day_format(p->bounds.r[k], bnd[k]);
            snprintf(bnd[4 + k], sizeof bnd[0], "%" PRId64, p->bounds.f[k]);
            clm_micros_format(p->bounds.m[k], bnd[8 + k], sizeof bnd[0]);
        }
        for (int k = 0; k < 12; k++)
            if ((r = seg_argl_str(&bounds, bn[k])) < 0 || (r = seg_argl_str(&bounds, bnd[k])) < 0)
                goto out_free;
        if ((r = segment_queue(p, rp, 1, bounds.n, bounds.v, bounds.len, &queued)) < 0)
            goto out_free;
    }
    if (!cluster && (r = segment_queue(p, rp, -1, 1, (const char *[]){"EXEC"}, NULL, &queued)) < 0)
        goto out_free;
    r = drain(p, rp, queued);
    queued = 0;
    segment_notes_send(j, &notes, r == 0);
out_free:
    segment_notes_send(j, &notes, false); /* frees what is left */
    if (queued && r != -EIO)
        r = -EIO; /* replies left unread: the caller resets the connection */
    seg_argl_free(&sum);
    seg_argl_free(&days);
    seg_argl_free(&bounds);
    free(fields);
    free(sizes);
    free(kf);
    free(kv);
    return r;
}

static int cmp_shown(const void *a, const void *b)
{
    return strcmp(((const seg_shown *)a)->id, ((const seg_shown *)b)->id);
}

/* r_score, f_score, m_score, rfm_segment of every customer whose values
 * changed since the previous pass; then remembers them. */
int segment_write_views(clm_segment_job *j, seg_pass *p, clm_rpipe *rp)
{
    const clm_config *cfg = p->cfg;
    seg_shown *now = calloc(p->n ? p->n : 1, sizeof *now);
    size_t k = 0, queued = 0;
    int r = 0;

    if (!now)
        return -ENOMEM;
    for (size_t i = 0; i < p->n && r == 0; i++) {
        seg_row *w = &p->rows[i];
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
        r = segment_queue(p, rp, 1, 10, argv, NULL, &queued);
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
