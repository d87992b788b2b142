/* daemon/kpi_job.c - see kpi_job.h. The job's thread: the day buckets
 * read, the <prefix>kpi:<N>d hashes computed and replaced, and when the
 * clv_pred refresh (kpi_clv_pred.c) runs. */
#include "daemon/kpi_job.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/customer.h"
#include "core/daycount.h"
#include "core/event.h"
#include "core/kpi.h"
#include "core/stages.h"
#include "core/timeutil.h"
#include "daemon/kpi_cohort.h"
#include "daemon/kpi_history.h"
#include "daemon/kpi_job_impl.h"
#include "daemon/log.h"
#include "store/keys.h"
#include "store/load.h"

/* kpi:cohorts is rebuilt at most this often (and always on the way out). */
#define COHORT_PERIOD_MS 60000

typedef struct bucket {
    int64_t number;
    char key[CLM_BUCKET_KEY_SIZE];
    size_t nfields; /* fields the hash has */
    clm_daycount c;
} bucket;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

clm_kpi_job *clm_kpi_job_new(const clm_config *cfg, const clm_redis_opts *redis, char *errbuf,
                             size_t errsize)
{
    clm_kpi_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->redis = clm_redis_new(redis))) {
        snprintf(errbuf, errsize, "kpi: out of memory");
        free(j);
        return NULL;
    }
    j->cfg = cfg;
    j->bucket_ms = (int64_t)cfg->kpi_bucket_s * 1000;
    atomic_store(&j->poked, true); /* compute once at start: a restart may follow a crash */
    return j;
}

void clm_kpi_job_poke(clm_kpi_job *j)
{
    atomic_store_explicit(&j->poked, true, memory_order_release);
}

/* ---- reading ------------------------------------------------------------ */

static int64_t reply_int(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* The greatest max_ts over every partition of every topic, or CLM_NO_TS. */
static int read_end(clm_kpi_job *j, clm_rpipe *rp, int64_t *end_ms)
{
    char err[256];
    const clm_config *cfg = j->cfg;
    return clm_store_load_max_ts(rp, cfg->redis_prefix, cfg->kafka_group_id, cfg->kafka_topics,
                                 cfg->kafka_topic_count, end_ms, err, sizeof(err)) < 0 ? -EIO : 0;
}

/* Parses one bucket hash field into the counters. */
static void parse_field(const clm_stages *m, clm_daycount *c, const char *f, size_t flen,
                        int64_t v)
{
    for (size_t i = 0; i < clm_daycount_nfields; i++)
        if (strlen(clm_daycount_fields[i].name) == flen &&
            memcmp(f, clm_daycount_fields[i].name, flen) == 0) {
            memcpy((char *)c + clm_daycount_fields[i].offset, &v, sizeof(v));
            return;
        }
    if (!m)
        return;
    if (flen > 8 && memcmp(f, "entered_", 8) == 0) {
        int s = clm_stages_index(m, f + 8, flen - 8);
        if (s >= 0)
            c->entered[s] = v;
        return;
    }
    size_t nord = clm_stages_ordinary(m);
    for (size_t r = 0; r + 1 < nord; r++) {
        char name[2 * 64 + 8];
        int n = snprintf(name, sizeof(name), "%s_to_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)r)),
                         clm_stages_name(m, clm_stages_at_rank(m, (int)r + 1)));
        if ((size_t)n == flen && memcmp(name, f, flen) == 0) {
            c->advanced[r] = v;
            return;
        }
    }
}

static void bucket_hash_key(const clm_kpi_job *j, const char *bkey, char *out, size_t size)
{
    clm_key_bucket_named(out, size, j->cfg->redis_prefix, bkey, j->bucket_ms);
}

/* Reads every bucket listed in <prefix>buckets, in bucket order. */
static int read_buckets(clm_kpi_job *j, clm_rpipe *rp, bucket **out, size_t *nout)
{
    char ikey[CLM_KEY_MAX], err[256];
    clm_key_single(ikey, sizeof(ikey), j->cfg->redis_prefix, CLM_KEY_BUCKETS);
    const char *zr[] = { "ZRANGE", ikey, "0", "-1", "WITHSCORES" };
    redisReply *idx = clm_rpipe_command(rp, 1, 5, zr, NULL, err, sizeof(err));
    if (!idx)
        return -EIO;
    size_t n = idx->type == REDIS_REPLY_ARRAY ? idx->elements / 2 : 0;
    bucket *bs = calloc(n ? n : 1, sizeof(*bs));
    if (!bs) {
        freeReplyObject(idx);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(bs[i].key, sizeof(bs[i].key), "%.*s", (int)idx->element[2 * i]->len,
                 idx->element[2 * i]->str);
        bs[i].number = reply_int(idx->element[2 * i + 1]);
        char key[256];
        bucket_hash_key(j, bs[i].key, key, sizeof(key));
        const char *hg[] = { "HGETALL", key };
        if (clm_rpipe_append(rp, 1, 2, hg, NULL, err, sizeof(err)) < 0) {
            freeReplyObject(idx);
            free(bs);
            return -EIO;
        }
    }
    freeReplyObject(idx);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *h;
        if (clm_rpipe_reply(rp, &h, err, sizeof(err)) < 0) {
            free(bs);
            return -EIO;
        }
        for (size_t k = 0; h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2)
            parse_field(j->cfg->stages, &bs[i].c, h->element[k]->str, h->element[k]->len,
                        reply_int(h->element[k + 1]));
        bs[i].nfields = h->type == REDIS_REPLY_ARRAY ? h->elements / 2 : 0;
        freeReplyObject(h);
    }
    *out = bs;
    *nout = n;
    return r;
}

/* ---- writing ------------------------------------------------------------ */

/* Queues HINCRBY key field 0 (safe to run twice); a failed append shows
 * when the replies are read. */
static void hincr0(clm_rpipe *rp, const char *key, const char *field)
{
    char err[256];
    const char *argv[] = { "HINCRBY", key, field, "0" };
    clm_rpipe_append(rp, 1, 4, argv, NULL, err, sizeof(err));
}

/* Every counter field of a bucket, present even at 0: whether a counter that
 * went up and down again has a field must not depend on how the changes
 * were split between flushes. Returns the number of commands appended. */
static size_t complete_fields(clm_kpi_job *j, clm_rpipe *rp, const bucket *b)
{
    const clm_stages *m = j->cfg->stages;
    size_t nst = m ? clm_stages_count(m) : 0, nord = m ? clm_stages_ordinary(m) : 0;
    size_t want = clm_daycount_nfields + nst + (nord ? nord - 1 : 0) + 5 /* derived */;
    if (b->nfields >= want)
        return 0;
    char key[256], field[2 * 64 + 8];
    size_t sent = 0;
    bucket_hash_key(j, b->key, key, sizeof(key));
    for (size_t i = 0; i < clm_daycount_nfields; i++, sent++)
        hincr0(rp, key, clm_daycount_fields[i].name);
    for (size_t s = 0; s < nst; s++, sent++) {
        snprintf(field, sizeof(field), "entered_%s", clm_stages_name(m, (int)s));
        hincr0(rp, key, field);
    }
    for (size_t r = 0; r + 1 < nord; r++, sent++) {
        snprintf(field, sizeof(field), "%s_to_%s", clm_stages_name(m, clm_stages_at_rank(m, (int)r)),
                 clm_stages_name(m, clm_stages_at_rank(m, (int)r + 1)));
        hincr0(rp, key, field);
    }
    return sent;
}

static void add_counts(clm_daycount *dst, const clm_daycount *src)
{
    const int64_t *s = (const int64_t *)src;
    int64_t *d = (int64_t *)dst;
    for (size_t i = 0; i < sizeof(*src) / sizeof(int64_t); i++)
        d[i] = clm_sat_add(d[i], s[i]);
}

typedef struct emit_ctx {
    clm_kpi_job *job;
    const char *argv[256];
    char vals[256][CLM_KPI_FIELD_MAX + 1];
    int argc;
} emit_ctx;

static int emit_kpi(void *vctx, const char *field, const char *value)
{
    emit_ctx *x = vctx;
    if (strcmp(field, "clv_lifetime_years") == 0)
        snprintf(x->job->lifetime, sizeof(x->job->lifetime), "%s", value);
    if (x->argc + 2 > 256)
        return -E2BIG;
    snprintf(x->vals[x->argc], sizeof(x->vals[0]), "%s", field);
    x->argv[x->argc] = x->vals[x->argc];
    x->argc++;
    snprintf(x->vals[x->argc], sizeof(x->vals[0]), "%s", value);
    x->argv[x->argc] = x->vals[x->argc];
    x->argc++;
    return 0;
}

/* Reads the replies of the n commands queued; a pipe with fewer queued
 * (an append failed) is an I/O error. */
int kpi_job_drain(clm_rpipe *rp, size_t n)
{
    char err[256];
    int r = 0;
    if (clm_rpipe_pending(rp) != n)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(rp, &rep, err, sizeof(err)) < 0)
            return -EIO;
        if (rep->type == REDIS_REPLY_ERROR) {
            log_err("kpi: Redis refused a write: %s", rep->str);
            r = -EPROTO;
        }
        freeReplyObject(rep);
    }
    return r;
}

/* Queues a command whose key is argv[1]. */
static void queue(clm_rpipe *rp, int argc, const char **argv)
{
    char err[256];
    clm_rpipe_append(rp, 1, argc, argv, NULL, err, sizeof(err));
}

/* One command whose key is argv[1]; NULL on an I/O error. */
static redisReply *command(clm_rpipe *rp, int argc, const char **argv)
{
    char err[256];
    return clm_rpipe_command(rp, 1, argc, argv, NULL, err, sizeof(err));
}

int kpi_job_replace(clm_kpi_job *j, const char *key, size_t ncmd, const int *argc,
                    const char *const *const *argv)
{
    char err[256];
    for (int attempt = 0; attempt < 4; attempt++) {
        redisContext *c = clm_redis_get_key(j->redis, key, strlen(key), err, sizeof(err));
        if (!c)
            return -EIO;
        const char *multi[] = { "MULTI" }, *del[] = { "DEL", key }, *exec[] = { "EXEC" };
        redisAppendCommandArgv(c, 1, multi, NULL);
        redisAppendCommandArgv(c, 2, del, NULL);
        for (size_t k = 0; k < ncmd; k++)
            redisAppendCommandArgv(c, argc[k], (const char **)argv[k], NULL);
        redisAppendCommandArgv(c, 1, exec, NULL);
        int r = 0;
        bool moved = false;
        for (size_t i = 0; i < ncmd + 3; i++) {
            redisReply *rep;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
                clm_redis_drop_ctx(j->redis, c);
                return -EIO;
            }
            if (rep->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(rep->str)) {
                moved = true;
            } else if (rep->type == REDIS_REPLY_ERROR && r == 0) {
                log_err("kpi: Redis refused a write: %s", rep->str);
                r = -EPROTO;
            }
            freeReplyObject(rep);
        }
        if (!moved)
            return r;
        clm_redis_stale(j->redis);
    }
    return -EIO;
}

/* Replaces the kpi hash `key` with argv (HSET key ...). */
static int replace_kpi(clm_kpi_job *j, const char *key, int argc, const char **argv)
{
    const char *const *one[] = { argv };
    return kpi_job_replace(j, key, 1, &argc, one);
}

static int compute(clm_kpi_job *j, clm_rpipe *rc)
{
    const clm_config *cfg = j->cfg;
    const char *prefix = cfg->redis_prefix;
    char counts_key[CLM_KEY_MAX], portfolio_key[CLM_KEY_MAX], model_key[CLM_KEY_MAX];
    clm_key_single(counts_key, sizeof(counts_key), prefix, CLM_KEY_STAGE_COUNTS);
    clm_key_single(portfolio_key, sizeof(portfolio_key), prefix, CLM_KEY_PORTFOLIO);
    clm_key_single(model_key, sizeof(model_key), prefix, CLM_KEY_MODEL);
    int64_t end_ms;
    int r;
    if ((r = read_end(j, rc, &end_ms)) < 0)
        return r;
    bucket *bs = NULL;
    size_t nb = 0;
    if ((r = read_buckets(j, rc, &bs, &nb)) < 0)
        return r;
    if (nb == 0 || end_ms == CLM_NO_TS) {
        free(bs);
        return 0;
    }
    int64_t first_day = clm_bucket_day(bs[0].number, j->bucket_ms);
    int64_t end_day = clm_day_of_ms(end_ms);
    int64_t last_day = clm_bucket_day(bs[nb - 1].number, j->bucket_ms);
    if (last_day > end_day)
        end_day = last_day; /* a flush may carry buckets past a lagging maxts read */
    size_t ndays = (size_t)(end_day - first_day + 1);
    clm_daycount *days = calloc(ndays, sizeof(*days));
    if (!days) {
        free(bs);
        return -ENOMEM;
    }
    size_t sent = 0;
    int64_t eod = 0;
    /* derived fields of every bucket, customers_eod as a running sum */
    for (size_t i = 0; i < nb; i++) {
        add_counts(&days[clm_bucket_day(bs[i].number, j->bucket_ms) - first_day], &bs[i].c);
        eod = clm_sat_add(eod, bs[i].c.customers_delta);
        char key[256], rev[32], ref[32], spend[32], sess[32], eodv[24];
        bucket_hash_key(j, bs[i].key, key, sizeof(key));
        clm_micros_format(bs[i].c.revenue_micros, rev, sizeof(rev));
        clm_micros_format(bs[i].c.refunds_micros, ref, sizeof(ref));
        clm_micros_format(bs[i].c.spend_micros, spend, sizeof(spend));
        /* ms as micro-units of a second; a saturated sum stays saturated */
        int64_t sess_us = bs[i].c.session_ms > INT64_MAX / 1000 ? INT64_MAX
                          : bs[i].c.session_ms < INT64_MIN / 1000 ? INT64_MIN
                                                                  : bs[i].c.session_ms * 1000;
        clm_micros_format(sess_us, sess, sizeof(sess));
        snprintf(eodv, sizeof(eodv), "%" PRId64, eod);
        const char *hs[] = { "HSET", key, "revenue", rev, "refunds", ref, "spend", spend,
                             "session_seconds", sess, "customers_eod", eodv };
        queue(rc, 12, hs);
        sent++;
        sent += complete_fields(j, rc, &bs[i]);
    }
    /* likewise every stage in the stage counts, and the portfolio rate */
    for (size_t s = 0; cfg->stages && s < clm_stages_count(cfg->stages); s++, sent++)
        hincr0(rc, counts_key, clm_stages_name(cfg->stages, (int)s));
    hincr0(rc, portfolio_key, "value_rate_micros");
    sent++;
    /* whole days without events carry the previous day's customers_eod */
    if (j->bucket_ms == CLM_MS_PER_DAY) {
        size_t bi = 0;
        int64_t run = 0;
        for (int64_t d = first_day; d <= end_day; d++) {
            bool has = false;
            while (bi < nb && bs[bi].number <= d) {
                has |= bs[bi].number == d;
                run = clm_sat_add(run, bs[bi].c.customers_delta);
                bi++;
            }
            if (has)
                continue;
            char day[16], key[256], eodv[24];
            clm_day_format(d, day);
            bucket_hash_key(j, day, key, sizeof(key));
            snprintf(eodv, sizeof(eodv), "%" PRId64, run);
            const char *hs[] = { "HSET", key, "customers_eod", eodv };
            queue(rc, 4, hs);
            sent++;
        }
    }
    if ((r = kpi_job_drain(rc, sent)) < 0)
        goto out_free;

    /* the portfolio value rate, for clv_pred_avg */
    const char *g1[] = { "HGET", portfolio_key, "value_rate_micros" };
    redisReply *pr = command(rc, 3, g1);
    if (!pr) {
        r = -EIO;
        goto out_free;
    }
    int64_t value_rate = reply_int(pr);
    freeReplyObject(pr);
    const char *g2[] = { "HGET", portfolio_key, "repeat_customers" };
    pr = command(rc, 3, g2);
    if (!pr) {
        r = -EIO;
        goto out_free;
    }
    int64_t repeat_customers = reply_int(pr);
    freeReplyObject(pr);
    int64_t customers_total = 0;
    for (size_t i = 0; i < nb; i++)
        customers_total = clm_sat_add(customers_total, bs[i].c.new_customers);
    /* the model job's portfolio clv_model figures ride along, so rewriting a
     * kpi hash never drops them (daemon/model_job.h) */
    char clv_sum[CLM_KPI_FIELD_MAX + 1] = "", clv_avg[CLM_KPI_FIELD_MAX + 1] = "";
    const char *g3[] = { "HMGET", model_key, "clv_model_sum", "clv_model_avg" };
    redisReply *mr = command(rc, 4, g3);
    if (!mr) {
        r = -EIO;
        goto out_free;
    }
    if (mr->type == REDIS_REPLY_ARRAY && mr->elements == 2 &&
        mr->element[0]->type == REDIS_REPLY_STRING && mr->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(clv_sum, sizeof(clv_sum), "%s", mr->element[0]->str);
        snprintf(clv_avg, sizeof(clv_avg), "%s", mr->element[1]->str);
    }
    freeReplyObject(mr);

    const clm_stages *m = cfg->stages;
    size_t nord = m ? clm_stages_ordinary(m) : 0;
    const char *names[CLM_STAGES_MAX];
    int idx[CLM_STAGES_MAX];
    for (size_t k = 0; k < nord; k++) {
        idx[k] = clm_stages_at_rank(m, (int)k);
        names[k] = clm_stages_name(m, idx[k]);
    }
    int longest = 1;
    for (size_t w = 0; w < cfg->kpi_window_count; w++)
        if (cfg->kpi_windows[w] > longest)
            longest = cfg->kpi_windows[w];
    clm_kpi_input in = { .days = days, .ndays = ndays, .first_day = first_day,
                         .eod_before_first = 0, .end_day = end_day,
                         .ordinary_stage_names = names, .ordinary_stage_index = idx,
                         .nordinary = nord, .value_rate_sum_micros = value_rate,
                         .has_pred_sum = j->has_pred, .pred_sum_micros = j->pred_sum,
                         .pred_count = j->pred_count, .customers_total = customers_total,
                         .repeat_customers_total = repeat_customers,
                         .clv_max_years = cfg->kpi_clv_max_years,
                         .gross_margin = cfg->kpi_gross_margin, .longest_window_days = longest };
    for (size_t w = 0; w < cfg->kpi_window_count; w++) {
        emit_ctx *x = calloc(1, sizeof(*x));
        char key[256];
        if (!x) {
            r = -ENOMEM;
            goto out_free;
        }
        clm_key_kpi(key, sizeof(key), prefix, cfg->kpi_windows[w]);
        x->job = j;
        x->argv[0] = "HSET";
        x->argv[1] = key;
        x->argc = 2;
        r = clm_kpi_window(&in, cfg->kpi_windows[w], emit_kpi, x);
        if (r < 0) {
            if (r == -EOVERFLOW)
                log_err("kpi: window %dd: a sum over the window passes the int64 limit (a day "
                        "hash holds a saturated sum); %s is not updated", cfg->kpi_windows[w], key);
            else
                log_err("kpi: window %dd: %s", cfg->kpi_windows[w], strerror(-r));
            free(x);
            goto out_free;
        }
        if (clv_sum[0] && x->argc + 4 <= (int)(sizeof(x->argv) / sizeof(x->argv[0]))) {
            x->argv[x->argc++] = "clv_model_sum";
            x->argv[x->argc++] = clv_sum;
            x->argv[x->argc++] = "clv_model_avg";
            x->argv[x->argc++] = clv_avg;
        }
        r = replace_kpi(j, key, x->argc, x->argv);
        free(x);
        if (r < 0)
            goto out_free;
    }
    j->end_day = end_day;
    j->has_end_day = true;
    r = kpi_history_update(j, &in);
out_free:
    free(days);
    free(bs);
    return r;
}

static void run_once(clm_kpi_job *j)
{
    char err[256];
    for (int attempt = 0; attempt < 100; attempt++) {
        clm_rpipe *rc = clm_redis_pipe(j->redis, err, sizeof(err));
        int r = rc ? compute(j, rc) : -EIO;
        bool stopping = atomic_load(&j->stopping);
        bool cohorts_due = stopping || !j->cohorts_ms ||
                           clm_now_ms() - j->cohorts_ms >= COHORT_PERIOD_MS;
        kpi_cohort_pass *cp = NULL;
        if (r == 0 && j->lifetime[0] &&
            (stopping || (strcmp(j->lifetime, j->refreshed) != 0 &&
                          clm_now_ms() - j->refreshed_ms >= 60000))) {
            /* one scan for both when the cohorts are due too (no memory
             * for the pass: they get a scan of their own below) */
            if (cohorts_due && j->has_end_day)
                cp = kpi_cohort_pass_new();
            if ((r = kpi_job_refresh_clv_pred(j, rc, cp)) == 0)
                r = compute(j, rc); /* clv_pred_avg: the mean of what the pass wrote */
        }
        if (r == 0)
            j->cohorts_dirty = true;
        if (r == 0 && cohorts_due &&
            (r = cp ? kpi_cohort_pass_write(j, rc, cp) : kpi_cohort_refresh(j, rc)) == 0)
            j->cohorts_dirty = false;
        kpi_cohort_pass_free(cp);
        if (r == 0 || r == -EPROTO || r == -ENOMEM || r == -EINVAL || r == -EOVERFLOW)
            return;
        clm_redis_drop(j->redis);
        if (atomic_load(&j->stopping) && attempt > 3)
            return;
        sleep_ms(100);
    }
}

static void *kpi_main(void *arg)
{
    clm_kpi_job *j = arg;
    int tick = j->cfg->kpi_refresh_ms;
    for (;;) {
        bool stopping = atomic_load(&j->stopping);
        if (atomic_exchange(&j->poked, false) || stopping ||
            (j->cohorts_dirty && clm_now_ms() - j->cohorts_ms >= COHORT_PERIOD_MS))
            run_once(j); /* and always once more on the way out */
        if (stopping)
            break;
        for (int waited = 0; waited < tick && !atomic_load(&j->stopping); waited += 10)
            sleep_ms(10);
    }
    return NULL;
}

int clm_kpi_job_start(clm_kpi_job *j)
{
    int r = pthread_create(&j->thread, NULL, kpi_main, j);
    if (r)
        return -r;
    j->started = true;
    return 0;
}

void clm_kpi_job_stop(clm_kpi_job *j)
{
    if (!j || !j->started)
        return;
    atomic_store(&j->stopping, true);
    pthread_join(j->thread, NULL);
    j->started = false;
}

void clm_kpi_job_free(clm_kpi_job *j)
{
    if (!j)
        return;
    clm_kpi_job_stop(j);
    clm_redis_free(j->redis);
    free(j);
}
