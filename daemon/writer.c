/* daemon/writer.c - see writer.h. */
#include "daemon/writer.h"
#include "daemon/writer_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"
#include "store/ahead.h"
#include "store/keys.h"
#include "store/load.h"

void writer_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

clm_writer *clm_writer_new(const clm_writer_conf *conf, char *errbuf, size_t errsize)
{
    clm_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->redis = clm_redis_new(&conf->redis))) {
        snprintf(errbuf, errsize, "writer: out of memory");
        free(w);
        return NULL;
    }
    w->c = *conf;
    pthread_mutex_init(&w->why_lock, NULL);
    return w;
}

/* ---- grouping --------------------------------------------------------- */

static int push_group(clm_writer *w, clm_batch *b)
{
    if (w->ngroup == w->cap_group) {
        size_t cap = w->cap_group ? w->cap_group * 2 : 16;
        clm_batch **g = realloc(w->group, cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        w->group = g;
        w->cap_group = cap;
    }
    w->group[w->ngroup++] = b;
    return 0;
}

/* Takes every ready batch (up to GROUP_MAX_BYTES), worker by worker in FIFO
 * order. Returns the number taken. */
static size_t gather(clm_writer *w)
{
    size_t bytes = 0;
    bool more = true;
    while (more && bytes < GROUP_MAX_BYTES) {
        more = false;
        for (size_t i = 0; i < w->c.nworkers && bytes < GROUP_MAX_BYTES; i++) {
            clm_batch *b;
            if (!clm_worker_pop_batch(w->c.workers[i], &b))
                continue;
            if (push_group(w, b) < 0)
                clm_fatal("writer: out of memory");
            bytes += clm_batch_bytes(b);
            more = true;
        }
    }
    return w->ngroup;
}

/* Folds the group's partition progress into one span per partition: the
 * first batch's `from`, the last batch's `to` and watermark state. */
void writer_build_spans(clm_writer *w)
{
    w->nspans = 0;
    for (size_t i = 0; i < w->ngroup; i++) {
        const clm_batch *b = w->group[i];
        for (size_t k = 0; k < b->nparts; k++) {
            const clm_part_progress *p = &b->parts[k];
            size_t j;
            for (j = 0; j < w->nspans; j++)
                if (w->spans[j].topic == p->topic && w->spans[j].partition == p->partition)
                    break;
            if (j == w->nspans) {
                if (w->nspans == w->cap_spans) {
                    size_t cap = w->cap_spans ? w->cap_spans * 2 : 16;
                    span *s = realloc(w->spans, cap * sizeof(*s));
                    if (!s)
                        clm_fatal("writer: out of memory");
                    w->spans = s;
                    w->cap_spans = cap;
                }
                w->spans[j] = (span){ p->topic, p->partition, p->from, p->to, p->wm, p->anon };
                w->nspans++;
            } else {
                w->spans[j].to = p->to;
                w->spans[j].wm = p->wm;
                w->spans[j].anon = p->anon;
            }
        }
    }
}

/* ---- the transaction -------------------------------------------------- */

/* <prefix>progress:{g:p} of the span's partition number. */
void writer_progress_key(const clm_writer *w, int32_t partition, char *buf, size_t size)
{
    if (clm_key_progress(buf, size, w->c.prefix, w->c.group, partition) < 0)
        clm_fatal("writer: redis.prefix and kafka.group_id are too long");
}

void writer_offset_field(const clm_writer *w, int32_t topic, char *buf, size_t size)
{
    if (clm_field_offset(buf, size, w->c.topics[topic]) < 0)
        clm_fatal("writer: topic name too long");
}

static int append(redisContext *rc, int argc, const char **argv, const size_t *lens)
{
    return redisAppendCommandArgv(rc, argc, argv, lens) == REDIS_OK ? 0 : -EIO;
}

/* The first span of its partition number (one progress key each). */
bool writer_number_first(const clm_writer *w, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (w->spans[j].partition == w->spans[i].partition)
            return false;
    return true;
}

/* Appends "HSET <progress key> offset:<topic> <to> maxts:<topic> <max_ts>
 * [ahead:<topic> <sources ahead>] [anon_ids:<topic> <ids>] ..." for every
 * span of span i's partition number, and "HDEL <progress key> ahead:<topic>
 * ..." for those with no source ahead (store/ahead.h). anon_ids only when
 * the partition remembers any: once it does, it always will, since ids leave
 * only as others come. Returns the number of commands appended (1 or 2), or
 * a negative errno. */
int writer_append_progress(clm_writer *w, redisContext *rc, size_t first)
{
    int32_t part = w->spans[first].partition;
    size_t n = 0;
    for (size_t i = first; i < w->nspans; i++)
        n += w->spans[i].partition == part;
    const char **argv = malloc((2 + 8 * n) * sizeof(*argv));
    size_t *lens = malloc((2 + 8 * n) * sizeof(*lens));
    const char **dargv = malloc((2 + n) * sizeof(*dargv));
    char (*bufs)[CLM_KEY_MAX] = malloc((1 + 6 * n) * sizeof(*bufs));
    char (*ahead)[CLM_AHEAD_TEXT_MAX] = malloc(n * sizeof(*ahead));
    char *ids = malloc(n * 16 * CLM_ANON_IDS_MAX);
    int r = -ENOMEM;
    if (!argv || !lens || !dargv || !bufs || !ahead || !ids)
        goto out_free;
    writer_progress_key(w, part, bufs[0], sizeof(bufs[0]));
    size_t a = 0, d = 2, m = 1, k = 0, q = 0;
#define ARG(p, len) (argv[a] = (p), lens[a] = (len), a++)
    ARG("HSET", 4);
    ARG(bufs[0], strlen(bufs[0]));
    dargv[0] = "HDEL";
    dargv[1] = bufs[0];
    for (size_t i = first; i < w->nspans; i++) {
        const span *s = &w->spans[i];
        if (s->partition != part)
            continue;
        const char *topic = w->c.topics[s->topic];
        writer_offset_field(w, s->topic, bufs[m], sizeof(bufs[m]));
        ARG(bufs[m], strlen(bufs[m]));
        m++;
        snprintf(bufs[m], sizeof(bufs[m]), "%" PRId64, s->to);
        ARG(bufs[m], strlen(bufs[m]));
        m++;
        if (clm_field_maxts(bufs[m], sizeof(bufs[m]), topic) < 0)
            clm_fatal("writer: topic name too long");
        ARG(bufs[m], strlen(bufs[m]));
        m++;
        snprintf(bufs[m], sizeof(bufs[m]), "%" PRId64, s->wm.max_ts);
        ARG(bufs[m], strlen(bufs[m]));
        m++;
        if (clm_field_ahead(bufs[m], sizeof(bufs[m]), topic) < 0)
            clm_fatal("writer: topic name too long");
        size_t alen = clm_ahead_encode(&s->wm, ahead[k]);
        if (alen > 0) {
            ARG(bufs[m], strlen(bufs[m]));
            ARG(ahead[k], strlen(ahead[k]));
            k++;
        } else {
            dargv[d++] = bufs[m];
        }
        m++;
        if (s->anon.n > 0) {
            if (clm_field_anon(bufs[m], sizeof(bufs[m]), topic) < 0)
                clm_fatal("writer: topic name too long");
            ARG(bufs[m], strlen(bufs[m]));
            m++;
            char *at = ids + q++ * 16 * CLM_ANON_IDS_MAX;
            ARG(at, clm_anon_ids_encode(&s->anon, at));
        }
    }
#undef ARG
    r = append(rc, (int)a, argv, lens);
    if (r == 0 && d > 2)
        r = append(rc, (int)d, dargv, NULL);
    if (r == 0)
        r = d > 2 ? 2 : 1;
out_free:
    free(argv);
    free(lens);
    free(dargv);
    free(bufs);
    free(ahead);
    free(ids);
    return r;
}

typedef enum verdict { V_APPLY, V_DONE } verdict;

/* WATCH + HGET every progress key of the group, and compares. Returns
 * V_APPLY / V_DONE, or -EIO. Fatal when another owner moved an offset. */
static int check(clm_writer *w, redisContext *rc)
{
    char key[CLM_KEY_MAX], field[CLM_KEY_MAX];
    size_t nkeys = 0;
    for (size_t i = 0; i < w->nspans; i++) {
        if (!writer_number_first(w, i))
            continue;
        writer_progress_key(w, w->spans[i].partition, key, sizeof(key));
        const char *argv[] = { "WATCH", key };
        if (append(rc, 2, argv, NULL) < 0)
            return -EIO;
        nkeys++;
    }
    for (size_t i = 0; i < w->nspans; i++) {
        writer_progress_key(w, w->spans[i].partition, key, sizeof(key));
        writer_offset_field(w, w->spans[i].topic, field, sizeof(field));
        const char *argv[] = { "HGET", key, field };
        if (append(rc, 3, argv, NULL) < 0)
            return -EIO;
    }
    int r = 0;
    size_t pending = 0, done = 0;
    for (size_t i = 0; i < nkeys + w->nspans; i++) {
        redisReply *rep;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
            return -EIO;
        if (i >= nkeys && r == 0) {
            const span *s = &w->spans[i - nkeys];
            int64_t cur = CLM_NO_OFFSET;
            if (rep->type == REDIS_REPLY_STRING)
                cur = strtoll(rep->str, NULL, 10);
            else if (rep->type != REDIS_REPLY_NIL)
                clm_fatal("writer: unexpected reply reading offsets of %s [%d]",
                          w->c.topics[s->topic], (int)s->partition);
            if (cur == s->from)
                pending++;
            else if (cur == s->to)
                done++;
            else
                clm_fatal("writer: %s [%d] is at offset %" PRId64 " in Redis, expected %" PRId64
                          ": another consumer owns it now; exiting so a restart resumes from Redis",
                          w->c.topics[s->topic], (int)s->partition, cur, s->from);
        }
        freeReplyObject(rep);
    }
    if (pending && done)
        clm_fatal("writer: a flush is half applied in Redis; refusing to continue");
    return done && !pending ? V_DONE : V_APPLY;
}

/* MULTI ... EXEC. Returns 1 committed, 0 aborted by WATCH (check again),
 * -EAGAIN when Redis refused the writes for now (clm_redis_write_refused:
 * nothing was applied; why says what Redis answered), -EIO. */
static int apply(clm_writer *w, redisContext *rc, char *why, size_t whysize)
{
    const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    size_t sent = 0;
    if (append(rc, 1, multi, NULL) < 0)
        return -EIO;
    sent++;
    for (size_t i = 0; i < w->ngroup; i++) {
        const clm_batch *b = w->group[i];
        for (size_t k = 0; k < b->nsects; k++) {
            const clm_cmdbuf *cb = &b->sects[k].cmds;
            if (cb->len && redisAppendFormattedCommand(rc, cb->buf, cb->len) != REDIS_OK)
                return -EIO;
            sent += cb->ncmds;
        }
    }
    for (size_t i = 0; i < w->nspans; i++) {
        if (!writer_number_first(w, i))
            continue;
        int n = writer_append_progress(w, rc, i);
        if (n < 0)
            return -EIO;
        sent += (size_t)n;
    }
    if (append(rc, 1, exec, NULL) < 0)
        return -EIO;
    sent++;
    int result = -EIO;
    bool refused = false;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
            return -EIO;
        if (i + 1 < sent) {
            if (rep->type == REDIS_REPLY_ERROR && !clm_redis_write_refused(rep->str))
                clm_fatal("writer: Redis refused a flush command: %s", rep->str);
            if (rep->type == REDIS_REPLY_ERROR && !refused)
                snprintf(why, whysize, "%s", rep->str);
            refused |= rep->type == REDIS_REPLY_ERROR;
        } else if (refused || (rep->type == REDIS_REPLY_ERROR && clm_redis_write_refused(rep->str))) {
            /* EXECABORT after a refused command, or EXEC itself refused */
            if (rep->type != REDIS_REPLY_ERROR)
                clm_fatal("writer: Redis ran a transaction after refusing one of its commands");
            if (!refused)
                snprintf(why, whysize, "%s", rep->str);
            result = -EAGAIN;
        } else if (rep->type == REDIS_REPLY_NIL) {
            result = 0;
        } else if (rep->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < rep->elements; k++)
                if (rep->element[k]->type == REDIS_REPLY_ERROR)
                    clm_fatal("writer: Redis failed a flush command: %s", rep->element[k]->str);
            result = 1;
        } else {
            clm_fatal("writer: EXEC failed: %s",
                      rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        }
        freeReplyObject(rep);
    }
    return result;
}

/* Enters (or stays in) a hold; logs once per kind of hold. */
void writer_note_hold(clm_writer *w, hold_kind kind, const char *why)
{
    atomic_fetch_add(&w->redis_errors, 1);
    if (w->hold != kind && kind == HOLD_DOWN)
        log_warn("writer: Redis unavailable (%s); holding flushes until it is back", why);
    else if (w->hold != kind)
        log_warn("writer: Redis refuses writes (%s); holding flushes and retrying until it takes "
                 "them (OOM: raise maxmemory or free memory; MISCONF: fix the disk or the failed "
                 "save); nothing is lost meanwhile", why);
    w->hold = kind;
    pthread_mutex_lock(&w->why_lock);
    snprintf(w->why, sizeof(w->why), "%s: %s",
             kind == HOLD_DOWN ? "Redis unavailable" : "Redis refuses writes", why);
    pthread_mutex_unlock(&w->why_lock);
}

void writer_end_hold(clm_writer *w)
{
    if (w->hold == HOLD_DOWN)
        log_notice("writer: Redis reachable again; flushing resumed");
    else if (w->hold == HOLD_REFUSED)
        log_notice("writer: Redis takes writes again; flushing resumed");
    if (w->hold == HOLD_NONE)
        return;
    w->hold = HOLD_NONE;
    pthread_mutex_lock(&w->why_lock);
    w->why[0] = '\0';
    pthread_mutex_unlock(&w->why_lock);
}

/* Makes the current group durable, however long Redis takes to come back. */
static void commit_group(clm_writer *w)
{
    char err[256];
    long refused_ms = 100; /* pause after a refusal, doubling to 5 s */
    writer_build_spans(w);
    if (clm_redis_is_cluster(w->redis)) {
        writer_commit_cluster(w);
        return;
    }
    for (;;) {
        redisContext *rc = clm_redis_get(w->redis, err, sizeof(err));
        if (!rc) {
            writer_note_hold(w, HOLD_DOWN, err);
            writer_sleep_ms(50);
            continue;
        }
        int r = check(w, rc);
        if (r == V_APPLY)
            r = apply(w, rc, err, sizeof(err));
        else if (r == V_DONE) {
            const char *unwatch[] = { "UNWATCH" };
            redisReply *rep = redisCommandArgv(rc, 1, unwatch, NULL);
            r = rep ? 1 : -EIO;
            freeReplyObject(rep);
        }
        if (r == 1)
            break;
        if (r == -EAGAIN) {
            writer_note_hold(w, HOLD_REFUSED, err); /* the connection is fine: keep it */
            writer_sleep_ms(refused_ms);
            refused_ms = refused_ms * 2 > 5000 ? 5000 : refused_ms * 2;
        } else if (r < 0) {
            writer_note_hold(w, HOLD_DOWN, rc->errstr[0] ? rc->errstr : "I/O error");
            clm_redis_drop(w->redis);
            writer_sleep_ms(50);
        }
        /* r == 0: a watched key changed between check and EXEC: check again */
    }
    writer_end_hold(w);
}

static void commit_kafka(clm_writer *w)
{
    if (!w->c.consumer || w->nspans == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)w->nspans);
    for (size_t i = 0; i < w->nspans; i++)
        rd_kafka_topic_partition_list_add(l, w->c.topics[w->spans[i].topic],
                                          w->spans[i].partition)->offset = w->spans[i].to;
    rd_kafka_commit(w->c.consumer, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
}

static void finish_group(clm_writer *w)
{
    long long now = clm_now_ms(), oldest = now;
    uint64_t customers = 0;
    for (size_t i = 0; i < w->ngroup; i++) {
        clm_batch *b = w->group[i];
        clm_worker_ack(w->c.workers[b->worker], b->gen);
        customers += b->customers;
        if (b->cut_ms < oldest)
            oldest = b->cut_ms;
    }
    commit_kafka(w);
    /* the alerts are durable (stream + outbox): publish them now */
    for (size_t i = 0; w->c.alerts && i < w->ngroup; i++)
        for (size_t k = 0; k < w->group[i]->nalerts; k++) {
            const clm_batch_alert *a = &w->group[i]->alerts[k];
            clm_alert_pub_send(w->c.alerts, a->id, a->key, a->json);
        }
    if (w->c.flushed)
        w->c.flushed(w->c.flushed_ctx);
    atomic_fetch_add(&w->flushes, 1);
    atomic_fetch_add(&w->batches, w->ngroup);
    atomic_fetch_add(&w->customers, customers);
    atomic_store(&w->last_latency_ms, (uint64_t)(now - oldest));
    atomic_store(&w->last_flush_wall_ms, clm_wall_ms());
    static const long long bounds[] = CLM_FLUSH_BUCKETS_MS;
    for (size_t i = 0; i < 8; i++)
        if (i == 7 || now - oldest <= bounds[i])
            atomic_fetch_add(&w->latency_le[i], 1);
    atomic_fetch_add(&w->latency_sum_ms, (uint64_t)(now - oldest));
    atomic_store(&w->waiting_since, 0);
    atomic_store(&w->dlq_delivered, clm_dlq_delivered_total(w->c.dlq));
    for (size_t i = 0; i < w->ngroup; i++)
        clm_batch_free(w->group[i]);
    w->ngroup = 0;
}

static bool dlq_ready(const clm_writer *w)
{
    for (size_t i = 0; i < w->ngroup; i++)
        if (!clm_dlq_delivered(w->c.dlq, w->group[i]->worker, w->group[i]->dlq_seq))
            return false;
    return true;
}

static bool all_finished(clm_writer *w)
{
    for (size_t i = 0; i < w->c.nworkers; i++)
        if (!clm_worker_finished(w->c.workers[i]))
            return false;
    return true;
}

static void *writer_main(void *arg)
{
    clm_writer *w = arg;
    for (;;) {
        clm_dlq_poll(w->c.dlq, 0);
        if (gather(w) == 0) {
            if (atomic_load(&w->stopping) && all_finished(w) && gather(w) == 0)
                break;
            clm_dlq_poll(w->c.dlq, 1);
            continue;
        }
        long long oldest = w->group[0]->cut_ms;
        for (size_t i = 1; i < w->ngroup; i++)
            if (w->group[i]->cut_ms < oldest)
                oldest = w->group[i]->cut_ms;
        atomic_store(&w->waiting_since, oldest);
        while (!dlq_ready(w))
            clm_dlq_poll(w->c.dlq, 10);
        commit_group(w);
        finish_group(w);
    }
    return NULL;
}

int clm_writer_start(clm_writer *w)
{
    int r = pthread_create(&w->thread, NULL, writer_main, w);
    if (r)
        return -r;
    w->started = true;
    return 0;
}

void clm_writer_stop(clm_writer *w)
{
    if (!w || !w->started)
        return;
    atomic_store(&w->stopping, true);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void clm_writer_free(clm_writer *w)
{
    if (!w)
        return;
    clm_writer_stop(w);
    for (size_t i = 0; i < w->ngroup; i++)
        clm_batch_free(w->group[i]);
    free(w->group);
    free(w->spans);
    clm_redis_free(w->redis);
    pthread_mutex_destroy(&w->why_lock);
    free(w);
}

bool clm_writer_held(clm_writer *w, char *why, size_t size)
{
    pthread_mutex_lock(&w->why_lock);
    bool held = w->why[0] != '\0';
    if (held)
        snprintf(why, size, "%s", w->why);
    pthread_mutex_unlock(&w->why_lock);
    return held;
}

void clm_writer_get_stats(clm_writer *w, clm_writer_stats *out)
{
    out->flushes = atomic_load(&w->flushes);
    out->batches = atomic_load(&w->batches);
    out->customers = atomic_load(&w->customers);
    out->redis_errors = atomic_load(&w->redis_errors);
    out->last_latency_ms = atomic_load(&w->last_latency_ms);
    out->last_flush_wall_ms = atomic_load(&w->last_flush_wall_ms);
    for (size_t i = 0; i < 8; i++)
        out->latency_le[i] = atomic_load(&w->latency_le[i]);
    out->latency_sum_ms = atomic_load(&w->latency_sum_ms);
    long long since = atomic_load(&w->waiting_since);
    out->waiting_ms = since ? clm_now_ms() - since : 0;
    out->dlq_delivered = atomic_load(&w->dlq_delivered);
}
