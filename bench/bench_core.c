/* bench/bench_core.c - core apply throughput (1 and N workers) and resident
 * memory per cached customer.
 *
 * Usage: bench_core [--events E] [--customers C] [--workers N]
 *                   [--partitions P] [--flush-every F] [--repeat R]
 *                   [--cache K] [--rss-customers M]
 * Defaults: E 2,000,000, C 100,000, N online CPUs, P max(32, N), F 50,000,
 * R 5, K every customer, M 1,000,000 (0 skips the memory part).
 *
 * Throughput. A deterministic stream of E decoded events (clm_event, made
 * before the clock starts) over customers "c-1".."c-C" drawn uniformly, with
 * event ids "e-<n>", times spread over 7 days and the type mix of a product
 * stream (visit 30%, login 20%, feature_use 20%, session 18% with a
 * duration, purchase 5% with an amount, signup, support_ticket, nps_response
 * with a score, refund with an amount, upgrade); every 500th message re-sends
 * the message 7 before it (a producer retry, suppressed as a duplicate).
 * Customers map to P partitions by XXH3 of the id modulo P, as Kafka keys do,
 * and partition p belongs to worker p mod N. Each worker thread owns one
 * shard, built with the rules of clmd's default configuration (dedup,
 * lateness, stage model, KPI buckets), and takes its partitions' events in
 * stream order in runs of 512 as daemon/worker.c does, minus the I/O: first
 * every customer of the run not cached gets room (clm_shard_make_room) and an
 * empty customer (clm_customer_new + clm_shard_insert, where the daemon
 * loads one from Redis), then each event is checked for lateness and applied
 * (clm_shard_customer + clm_shard_apply; a customer that making room evicted
 * meanwhile is cached again first, as the daemon does). After the run that reaches F events
 * since the last cut, and at the end, the worker churns due customers
 * (clm_shard_expire_cached) and cuts a flush whose sink only counts what it
 * is handed; the cut is acknowledged at once. The stream runs R times with 1
 * worker and R times with N workers, all workers starting together. Reported
 * per worker count, medians over the R runs: events/s (E over the wall time
 * from the common start to the last worker's end, with its range), CPU
 * nanoseconds per event (all workers' thread CPU time over E) and the CPU
 * share (that CPU time over N x wall time: below 1 when the machine did not
 * give each worker a CPU of its own). Scaling is events/s with N over with 1;
 * the CPU-time scaling, N x cpu_ns(1) / cpu_ns(N), is what N workers reach
 * when each has a CPU to itself. The counters the cuts return are checked
 * against the stream (every event consumed, exactly the retries suppressed,
 * every customer that appears cached).
 *
 * Memory. Before the throughput runs (so nothing else has inflated the
 * process), M customers are cached in one shard, each with 3 applied events
 * carrying ids (visit, login, purchase 10 minutes apart, in three rounds over
 * all customers as interleaved traffic would bring them, so all 3 ids stay
 * in the dedup set), cut every flush.max_dirty dirty customers. Reported:
 * resident-set growth (/proc/self/statm) and peak growth (getrusage
 * ru_maxrss) per customer, and where the bytes go: the customer and dedup
 * allocations as malloc reports them (malloc_usable_size plus glibc's size
 * word; a set of up to CLM_DEDUP_INLINE ids lives inside the customer), the freed chunks malloc keeps (mallinfo2 fordblks), and the table
 * and everything else by difference.
 *
 * Prints tables and one final line of key=value pairs, all keys "core_*".
 * Exits 1 only on a wrong result or a failed allocation, never on speed.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/customer.h"
#include "core/event.h"
#include "core/shard.h"
#include "core/timeutil.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define RUN_MAX 512                     /* messages a daemon worker takes at once */
#define START_MS 1767225600000LL        /* 2026-01-01T00:00:00Z */
#define SPAN_MS (7LL * 86400 * 1000)    /* the stream covers one week */
#define DUP_EVERY 500                   /* message i with i % 500 == 499 is a retry */
#define DUP_BACK 7                      /* ... of message i - 7 */

typedef struct opts {
    uint64_t events, customers, cache, rss_customers;
    unsigned workers, partitions, flush_every, repeat;
    clm_shard_opts shard; /* the daemon's defaults; max_customers set per shard */
    size_t max_dirty;     /* flush.max_dirty default */
} opts;

/* One message of the stream, compact; expanded into a clm_event per worker. */
typedef struct rec {
    uint32_t cust;  /* 1..customers */
    uint32_t seq;   /* event number: id "e-<seq>", time; a retry repeats it */
    uint32_t value; /* cents (purchase, refund), seconds (session), score (nps) */
    uint8_t type;
} rec;

typedef struct stream {
    rec *r;
    uint64_t n;
    uint16_t *part;      /* customer number -> partition */
    uint64_t dups;       /* retries in the stream */
    uint64_t distinct;   /* customers that appear */
} stream;

/* ---- the stream ------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *g, uint64_t n)
{
    return (uint32_t)(splitmix64(g) % n);
}

static const struct {
    clm_event_type type;
    unsigned per_mille;
} mix[] = {
    { CLM_EV_VISIT, 300 },          { CLM_EV_LOGIN, 200 },   { CLM_EV_FEATURE_USE, 200 },
    { CLM_EV_SESSION, 180 },        { CLM_EV_PURCHASE, 50 }, { CLM_EV_SIGNUP, 20 },
    { CLM_EV_SUPPORT_TICKET, 20 },  { CLM_EV_NPS_RESPONSE, 10 }, { CLM_EV_REFUND, 10 },
    { CLM_EV_UPGRADE, 10 },
};

static clm_event_type draw_type(uint64_t *g)
{
    unsigned u = below(g, 1000), acc = 0;
    for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
        acc += mix[i].per_mille;
        if (u < acc)
            return mix[i].type;
    }
    return CLM_EV_VISIT;
}

static int id_len(char *buf, size_t size, char prefix, uint64_t n)
{
    return snprintf(buf, size, "%c-%" PRIu64, prefix, n);
}

/* Builds the stream of o->events messages. Returns 0 or -ENOMEM. */
static int stream_make(const opts *o, stream *s)
{
    uint64_t g = 20261122;
    uint8_t *seen = calloc(o->customers + 1, 1);
    s->r = malloc(o->events * sizeof(*s->r));
    s->part = malloc((o->customers + 1) * sizeof(*s->part));
    s->n = o->events;
    s->dups = 0;
    s->distinct = 0;
    if (!seen || !s->r || !s->part) {
        free(seen);
        return -ENOMEM;
    }
    for (uint64_t c = 1; c <= o->customers; c++) {
        char id[CLM_ID_MAX + 1];
        int len = id_len(id, sizeof(id), 'c', c);
        s->part[c] = (uint16_t)(XXH3_64bits(id, (size_t)len) % o->partitions);
    }
    for (uint64_t i = 0; i < o->events; i++) {
        rec *r = &s->r[i];
        if (i % DUP_EVERY == DUP_EVERY - 1) {
            *r = s->r[i - DUP_BACK];
            s->dups++;
            continue;
        }
        r->cust = 1 + below(&g, o->customers);
        r->seq = (uint32_t)(i + 1);
        r->type = (uint8_t)draw_type(&g);
        switch (r->type) {
        case CLM_EV_PURCHASE: r->value = 500 + below(&g, 20000); break;
        case CLM_EV_REFUND: r->value = 500 + below(&g, 5000); break;
        case CLM_EV_SESSION: r->value = 1 + below(&g, 3600); break;
        case CLM_EV_NPS_RESPONSE: r->value = below(&g, 11); break;
        default: r->value = 0; break;
        }
        s->distinct += !seen[r->cust];
        seen[r->cust] = 1;
    }
    free(seen);
    return 0;
}

static void stream_release(stream *s)
{
    free(s->r);
    free(s->part);
}

/* The decoded event a decoder would produce for r. */
static void expand(const rec *r, uint64_t nevents, clm_event *ev)
{
    memset(ev, 0, offsetof(clm_event, customer_id));
    ev->type = (clm_event_type)r->type;
    ev->ts_ms = START_MS + (int64_t)((double)(r->seq - 1) * (double)SPAN_MS / (double)nevents);
    ev->has_customer = 1;
    ev->has_event_id = 1;
    ev->customer_id_len = (uint8_t)id_len(ev->customer_id, sizeof(ev->customer_id), 'c', r->cust);
    ev->event_id_len = (uint8_t)id_len(ev->event_id, sizeof(ev->event_id), 'e', r->seq);
    const char *name = clm_event_type_name(ev->type);
    ev->type_len = (uint8_t)strlen(name);
    memcpy(ev->type_name, name, (size_t)ev->type_len + 1);
    switch (ev->type) {
    case CLM_EV_PURCHASE:
    case CLM_EV_REFUND:
        ev->has_amount = 1;
        ev->amount_micros = (int64_t)r->value * 10000; /* cents -> micro-units */
        break;
    case CLM_EV_SESSION:
        ev->has_duration = 1;
        ev->duration_ms = (int64_t)r->value * 1000;
        break;
    case CLM_EV_NPS_RESPONSE:
        ev->has_score = 1;
        ev->score = (int32_t)r->value;
        break;
    default:
        break;
    }
}

/* ---- one worker ------------------------------------------------------- */

/* What one worker did in one repetition. */
typedef struct rep_stat {
    double t_start, t_end; /* wall clock */
    double cpu;            /* this thread's CPU seconds */
    uint64_t cuts, walked, cached;
    clm_shard_stats sum;
} rep_stat;

typedef struct worker {
    pthread_t thread;
    const opts *o;
    const stream *s;
    pthread_barrier_t *go;
    unsigned index, nworkers;
    size_t max_customers;
    /* this worker's events, in stream order */
    clm_event *ev;
    uint16_t *part;
    size_t n;
    int *slot;          /* partition -> slot in shard (-1: not ours) */
    /* the current repetition */
    clm_shard *shard;
    int64_t *next;      /* slot -> next offset */
    uint64_t gen;
    rep_stat *cur;
    rep_stat *reps;     /* one per repetition */
    int err;
} worker;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int sink_customer(void *ctx, clm_customer *c)
{
    (void)c;
    ((rep_stat *)ctx)->walked++;
    return 0;
}

static int sink_progress(void *ctx, const clm_part_progress *p)
{
    (void)ctx;
    (void)p;
    return 0;
}

static int sink_deltas(void *ctx, int32_t part, const clm_deltas *d)
{
    (void)ctx;
    (void)part;
    (void)d;
    return 0;
}

static int sink_stats(void *ctx, int32_t part, const clm_shard_stats *st)
{
    (void)part;
    rep_stat *r = ctx;
    r->sum.consumed += st->consumed;
    r->sum.applied += st->applied;
    r->sum.duplicates += st->duplicates;
    return 0;
}

/* As the daemon before each cut: churns the changed customers whose
 * inactivity deadline has passed, then cuts flush generation *gen + 1 of s
 * into st and has it acknowledged at once. Returns 0 or a negative errno. */
static int cut(clm_shard *s, uint64_t *gen, rep_stat *st)
{
    clm_flush_sink sink = { .customer = sink_customer, .progress = sink_progress,
                            .stats = sink_stats, .deltas = sink_deltas, .ctx = st };
    int r = clm_shard_expire_cached(s);
    if (r < 0)
        return r;
    r = clm_shard_flush_cut(s, ++*gen, &sink);
    if (r < 0)
        return r;
    clm_shard_flush_acked(s, *gen);
    st->cuts++;
    return 0;
}

/* Takes this worker's events from the stream. Returns 0 or -ENOMEM. */
static int worker_prepare(worker *w)
{
    const stream *s = w->s;
    w->slot = malloc(w->o->partitions * sizeof(*w->slot));
    w->next = malloc(w->o->partitions * sizeof(*w->next));
    w->reps = calloc(w->o->repeat, sizeof(*w->reps));
    if (!w->slot || !w->next || !w->reps)
        return -ENOMEM;
    w->n = 0;
    for (uint64_t i = 0; i < s->n; i++)
        w->n += s->part[s->r[i].cust] % w->nworkers == w->index;
    w->ev = malloc((w->n ? w->n : 1) * sizeof(*w->ev));
    w->part = malloc((w->n ? w->n : 1) * sizeof(*w->part));
    if (!w->ev || !w->part)
        return -ENOMEM;
    size_t k = 0;
    for (uint64_t i = 0; i < s->n; i++) {
        uint16_t p = s->part[s->r[i].cust];
        if (p % w->nworkers != w->index)
            continue;
        expand(&s->r[i], s->n, &w->ev[k]);
        w->part[k++] = p;
    }
    return 0;
}

/* A new, empty shard owning this worker's partitions (p mod nworkers ==
 * index), as after a fresh assignment. Returns 0 or a negative errno. */
static int shard_setup(worker *w)
{
    clm_shard_opts so = w->o->shard;
    so.max_customers = w->max_customers;
    w->shard = clm_shard_new(&so);
    if (!w->shard)
        return -ENOMEM;
    w->gen = 0;
    for (unsigned p = 0; p < w->o->partitions; p++) {
        w->slot[p] = -1;
        w->next[p] = 0;
        if (p % w->nworkers != w->index)
            continue;
        int slot = clm_shard_part_add(w->shard, 0, (int32_t)p, CLM_NO_OFFSET, CLM_NO_TS, false);
        if (slot < 0)
            return slot;
        w->slot[p] = slot;
    }
    return 0;
}

/* Caches an empty customer for ev, where the daemon would load one from
 * Redis, after making room (cutting a flush when only dirty customers could
 * go). Returns 0 and sets *out, or a negative errno. */
static int cache_new(worker *w, const clm_event *ev, uint16_t part, clm_customer **out)
{
    int r;
    if (clm_shard_make_room(w->shard, 1) < 0) {
        if ((r = cut(w->shard, &w->gen, w->cur)) < 0)
            return r;
        if ((r = clm_shard_make_room(w->shard, 1)) < 0)
            return r;
    }
    clm_customer *c = clm_customer_new(ev->customer_id, ev->customer_id_len, part);
    if (!c)
        return -ENOMEM;
    if ((r = clm_shard_insert(w->shard, c)) < 0) {
        clm_customer_free(c);
        return r;
    }
    *out = c;
    return 0;
}

/* Caches every customer of events [k, k + n) that is not cached, as the
 * daemon's prefetch pass does for a run. Returns 0 or a negative errno. */
static int prefetch_run(worker *w, size_t k, size_t n)
{
    for (size_t i = k; i < k + n; i++) {
        const clm_event *ev = &w->ev[i];
        clm_customer *c;
        int r;
        if (!clm_shard_customer(w->shard, ev->customer_id, ev->customer_id_len) &&
            (r = cache_new(w, ev, w->part[i], &c)) < 0)
            return r;
    }
    return 0;
}

/* Applies events [k, k + n) in order as the daemon's apply pass does: a late
 * event is noted as rejected, any other is applied to its cached customer
 * (cached again when making room for the run evicted it). Returns 0 or a
 * negative errno. */
static int apply_run(worker *w, size_t k, size_t n)
{
    for (size_t i = k; i < k + n; i++) {
        const clm_event *ev = &w->ev[i];
        int slot = w->slot[w->part[i]], r;
        int64_t offset = w->next[slot]++;
        if (clm_shard_is_late(w->shard, slot, ev->ts_ms)) {
            clm_shard_note_reject(w->shard, slot, offset, CLM_REJ_LATE_DROPPED);
            continue;
        }
        clm_customer *c = clm_shard_customer(w->shard, ev->customer_id, ev->customer_id_len);
        if (!c && (r = cache_new(w, ev, w->part[i], &c)) < 0)
            return r;
        if ((r = clm_shard_apply(w->shard, slot, offset, ev, c)) < 0)
            return r;
    }
    return 0;
}

/* Applies every event of the worker in runs of RUN_MAX, cutting a flush
 * after the run that reaches flush_every events since the last cut, and
 * once at the end. Returns 0 or a negative errno. */
static int apply_all(worker *w)
{
    size_t since = 0;
    int r;
    for (size_t k = 0; k < w->n; k += RUN_MAX) {
        size_t n = w->n - k < RUN_MAX ? w->n - k : RUN_MAX;
        if ((r = prefetch_run(w, k, n)) < 0 || (r = apply_run(w, k, n)) < 0)
            return r;
        since += n;
        if (since >= w->o->flush_every) {
            since = 0;
            if ((r = cut(w->shard, &w->gen, w->cur)) < 0)
                return r;
        }
    }
    return cut(w->shard, &w->gen, w->cur);
}

/* Thread body: prepares, then runs each repetition between two barriers
 * shared with the other workers, so all of them start together. A worker
 * that failed keeps meeting the barriers without working. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    w->err = worker_prepare(w);
    for (unsigned rep = 0; rep < w->o->repeat; rep++) {
        if (w->err == 0)
            w->err = shard_setup(w);
        pthread_barrier_wait(w->go);
        rep_stat *st = w->err == 0 ? &w->reps[rep] : NULL;
        w->cur = st;
        if (st) {
            double cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
            st->t_start = clock_s(CLOCK_MONOTONIC);
            w->err = apply_all(w);
            st->t_end = clock_s(CLOCK_MONOTONIC);
            st->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
            st->cached = clm_shard_customer_count(w->shard);
        }
        pthread_barrier_wait(w->go);
        clm_shard_free(w->shard);
        w->shard = NULL;
    }
    return NULL;
}

static void worker_release(worker *w)
{
    clm_shard_free(w->shard);
    free(w->slot);
    free(w->next);
    free(w->ev);
    free(w->part);
    free(w->reps);
}

/* Medians over the repetitions, and the range of events/s. */
typedef struct run_result {
    double eps, eps_min, eps_max; /* events over wall seconds */
    double cpu_ns;                /* CPU nanoseconds per event, all workers */
    double share;                 /* CPU the workers got / (workers x wall) */
    uint64_t cuts, walked, cached;
} run_result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its median. */
static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sums repetition `rep` over n workers and checks it against the stream:
 * every message consumed once; with every customer cached, exactly the
 * retries suppressed and every customer that appears cached. Returns 0 or
 * -EPROTO (explained on stderr). */
static int rep_check(const opts *o, const stream *s, const worker *ws, unsigned n,
                     unsigned rep, rep_stat *total)
{
    rep_stat t = { 0 };
    for (unsigned i = 0; i < n; i++) {
        const rep_stat *r = &ws[i].reps[rep];
        t.t_start = i == 0 || r->t_start < t.t_start ? r->t_start : t.t_start;
        t.t_end = i == 0 || r->t_end > t.t_end ? r->t_end : t.t_end;
        t.cpu += r->cpu;
        t.cuts += r->cuts;
        t.walked += r->walked;
        t.cached += r->cached;
        t.sum.consumed += r->sum.consumed;
        t.sum.applied += r->sum.applied;
        t.sum.duplicates += r->sum.duplicates;
    }
    uint64_t consumed = (uint64_t)t.sum.consumed, applied = (uint64_t)t.sum.applied;
    uint64_t dups = (uint64_t)t.sum.duplicates;
    if (consumed != s->n || applied + dups != s->n ||
        (!o->cache && (dups != s->dups || t.cached != s->distinct))) {
        fprintf(stderr,
                "bench_core: %u workers: consumed %" PRIu64 " applied %" PRIu64
                " duplicates %" PRIu64 " cached %" PRIu64 "; expected %" PRIu64 ", %" PRIu64
                " duplicates, %" PRIu64 " customers\n",
                n, consumed, applied, dups, t.cached, s->n, s->dups, s->distinct);
        return -EPROTO;
    }
    *total = t;
    return 0;
}

/* Runs the stream through n workers o->repeat times; reports medians and
 * the range of events/s. Returns 0, a negative errno from a worker, or
 * -EPROTO when the counters disagree with the stream. */
static int run_workers(const opts *o, const stream *s, unsigned n, run_result *out)
{
    unsigned m = o->repeat;
    worker *ws = calloc(n, sizeof(*ws));
    double *eps = calloc(3 * (size_t)m, sizeof(*eps)), *cpu_ns = eps + m, *share = eps + 2 * m;
    pthread_barrier_t go;
    int r = 0;
    if (!ws || !eps) {
        free(ws);
        free(eps);
        return -ENOMEM;
    }
    pthread_barrier_init(&go, NULL, n);
    size_t cap = o->cache ? (size_t)(o->cache / n) : (size_t)o->customers;
    for (unsigned i = 0; i < n; i++) {
        ws[i] = (worker){ .o = o, .s = s, .go = &go, .index = i, .nworkers = n,
                          .max_customers = cap ? cap : 1 };
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "bench_core: cannot start worker %u\n", i);
            exit(1); /* the others would wait at the barrier forever */
        }
    }
    for (unsigned i = 0; i < n; i++) {
        pthread_join(ws[i].thread, NULL);
        if (ws[i].err < 0 && r == 0)
            r = ws[i].err;
    }
    run_result res = { 0 };
    for (unsigned rep = 0; rep < m && r == 0; rep++) {
        rep_stat t;
        if ((r = rep_check(o, s, ws, n, rep, &t)) < 0)
            break;
        eps[rep] = (double)s->n / (t.t_end - t.t_start);
        cpu_ns[rep] = t.cpu * 1e9 / (double)s->n;
        share[rep] = t.cpu / ((t.t_end - t.t_start) * n);
        res.cuts = t.cuts;
        res.walked = t.walked;
        res.cached = t.cached;
    }
    for (unsigned i = 0; i < n; i++)
        worker_release(&ws[i]);
    pthread_barrier_destroy(&go);
    free(ws);
    if (r == 0) {
        res.eps = median(eps, m);
        res.eps_min = eps[0];
        res.eps_max = eps[m - 1];
        res.cpu_ns = median(cpu_ns, m);
        res.share = median(share, m);
        *out = res;
    }
    free(eps);
    return r;
}

/* ---- memory per customer ---------------------------------------------- */

typedef struct rss_result {
    double resident, peak;                       /* bytes per customer */
    double cust_struct, id, cust_over, dedup_used, dedup_over, heap_free, rest;
    double mean_ids;
} rss_result;

static long long resident_bytes(void)
{
    long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

static long long peak_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

/* Heap bytes behind a malloc'd pointer: the usable size plus glibc's one
 * size word per chunk. */
static size_t heap_bytes(void *p)
{
    return p ? malloc_usable_size(p) + sizeof(size_t) : 0;
}

/* Caches k customers with 3 events each and measures what they cost.
 * Returns 0, -ENOMEM, or -EPROTO when the customers are not as built. */
static int rss_measure(const opts *o, rss_result *out)
{
    static const clm_event_type rounds[3] = { CLM_EV_VISIT, CLM_EV_LOGIN, CLM_EV_PURCHASE };
    unsigned partitions = o->partitions;
    uint64_t k = o->rss_customers;
    long long before = resident_bytes();
    size_t free_before = mallinfo2().fordblks;
    clm_shard_opts so = o->shard;
    so.max_customers = (size_t)k;
    clm_shard *s = clm_shard_new(&so);
    int *slot = malloc(partitions * sizeof(*slot));
    clm_event ev;
    rep_stat st = { 0 };
    uint64_t gen = 0;
    int r = -ENOMEM;
    if (!s || !slot)
        goto out_free_shard;
    for (unsigned p = 0; p < partitions; p++)
        if ((slot[p] = clm_shard_part_add(s, 0, (int32_t)p, CLM_NO_OFFSET, CLM_NO_TS, false)) < 0)
            goto out_free_shard;
    int64_t offset = 0;
    for (unsigned round = 0; round < 3; round++) {
        for (uint64_t n = 1; n <= k; n++) {
            rec rc = { .cust = (uint32_t)n, .seq = (uint32_t)(round * k + n),
                       .value = round == 2 ? 4990 : 0, .type = (uint8_t)rounds[round] };
            expand(&rc, 3 * k, &ev);
            ev.ts_ms = START_MS + (int64_t)round * 600000 + (int64_t)n; /* 10 min apart */
            uint16_t part = (uint16_t)(XXH3_64bits(ev.customer_id, ev.customer_id_len) % partitions);
            clm_customer *c = NULL;
            if (round == 0) {
                c = clm_customer_new(ev.customer_id, ev.customer_id_len, part);
                if (!c)
                    goto out_free_shard;
                if ((r = clm_shard_insert(s, c)) < 0) {
                    clm_customer_free(c);
                    goto out_free_shard;
                }
            } else {
                c = clm_shard_customer(s, ev.customer_id, ev.customer_id_len);
            }
            if ((r = clm_shard_apply(s, slot[part], offset++, &ev, c)) < 0)
                goto out_free_shard;
            if (clm_shard_dirty_count(s) >= o->max_dirty && (r = cut(s, &gen, &st)) < 0)
                goto out_free_shard;
        }
    }
    if ((r = cut(s, &gen, &st)) < 0)
        goto out_free_shard;
    long long after = resident_bytes(), peak = peak_bytes();
    size_t free_after = mallinfo2().fordblks;
    if (peak < after) /* the two counters are sampled differently */
        peak = after;

    double cust = 0, ids = 0, heap_ids = 0, idbytes = 0, dedup = 0;
    for (uint64_t n = 1; n <= k; n++) {
        char id[CLM_ID_MAX + 1];
        int len = id_len(id, sizeof(id), 'c', n);
        const clm_customer *c = clm_shard_customer(s, id, (size_t)len);
        if (!c || c->events != 3 || c->dedup.n != 3) {
            fprintf(stderr, "bench_core: customer %s: not cached with 3 events and 3 ids\n", id);
            r = -EPROTO;
            goto out_free_shard;
        }
        cust += (double)heap_bytes((void *)c);
        if (clm_dedup_on_heap(&c->dedup)) {
            dedup += (double)heap_bytes(c->dedup.u.heap);
            heap_ids += c->dedup.n;
        }
        ids += c->dedup.n;
        idbytes += c->id_len + 1;
    }
    double kd = (double)k;
    rss_result res = {
        .resident = (double)(after - before) / kd,
        .peak = (double)(peak - before) / kd,
        .cust_struct = (double)sizeof(clm_customer),
        .id = idbytes / kd,
        .mean_ids = ids / kd,
        .dedup_used = heap_ids * (double)sizeof(clm_dedup_entry) / kd,
    };
    res.cust_over = cust / kd - res.cust_struct - res.id;
    res.dedup_over = dedup / kd - res.dedup_used;
    res.heap_free = ((double)free_after - (double)free_before) / kd;
    res.rest = res.resident - cust / kd - dedup / kd - res.heap_free;
    *out = res;
    r = 0;

out_free_shard:
    clm_shard_free(s);
    free(slot);
    return r;
}

/* ---- the two benchmarks ----------------------------------------------- */

/* Measures and prints the memory table. Returns 0 or a negative errno
 * (explained on stderr). */
static int bench_memory(const opts *o, rss_result *m)
{
    int r = rss_measure(o, m);
    if (r < 0) {
        fprintf(stderr, "bench_core: memory run failed: %s\n", strerror(-r));
        return r;
    }
    printf("memory: %" PRIu64 " cached customers, 3 events each (%.1f ids in each dedup set)\n",
           o->rss_customers, m->mean_ids);
    printf("  %-38s %8.1f B/customer\n", "resident growth (statm)", m->resident);
    printf("  %-38s %8.1f B/customer  (target <= 256: %s)\n", "peak growth (ru_maxrss)", m->peak,
           m->peak <= 256.0 ? "met" : "NOT met");
    printf("  %-38s %8.1f\n", "sizeof(clm_customer)", m->cust_struct);
    printf("  %-38s %8.1f\n", "id bytes + NUL", m->id);
    printf("  %-38s %8.1f\n", "customer chunk rounding + size word", m->cust_over);
    printf("  %-38s %8.1f\n", "dedup entries on the heap (n x 16)", m->dedup_used);
    printf("  %-38s %8.1f\n", "dedup spare capacity + chunk overhead", m->dedup_over);
    printf("  %-38s %8.1f\n", "freed chunks malloc keeps (fordblks)", m->heap_free);
    printf("  %-38s %8.1f\n", "table slots + rest (by difference)", m->rest);
    return 0;
}

/* Runs the stream with 1 worker and with o->workers, printing the table;
 * res[0] is 1 worker, res[1] o->workers (a copy of res[0] when that is 1).
 * Returns 0 or a negative errno (explained on stderr). */
static int bench_throughput(const opts *o, run_result res[2])
{
    stream s;
    int r = stream_make(o, &s);
    if (r < 0) {
        fprintf(stderr, "bench_core: out of memory for %" PRIu64 " events\n", o->events);
        goto out_free_stream;
    }
    printf("\nthroughput: %" PRIu64 " events, %" PRIu64 " customers (%" PRIu64
           " appear), %u partitions, %" PRIu64 " retries, cut every %u events per worker, "
           "cache %s; events/s is the median of %u runs\n",
           o->events, o->customers, s.distinct, o->partitions, s.dups, o->flush_every,
           o->cache ? "bounded" : "holds every customer", o->repeat);
    printf("%7s %11s %11s %11s %9s %9s %6s %10s %8s\n", "workers", "events/s", "min", "max",
           "cpu_ns/ev", "cpu_share", "cuts", "walked/cut", "cached");
    unsigned counts[2] = { 1, o->workers };
    for (int i = 0; i < (o->workers > 1 ? 2 : 1); i++) {
        if ((r = run_workers(o, &s, counts[i], &res[i])) < 0) {
            fprintf(stderr, "bench_core: %u workers: %s\n", counts[i], strerror(-r));
            goto out_free_stream;
        }
        printf("%7u %11.0f %11.0f %11.0f %9.1f %9.2f %6" PRIu64 " %10.0f %8" PRIu64 "\n",
               counts[i], res[i].eps, res[i].eps_min, res[i].eps_max, res[i].cpu_ns, res[i].share,
               res[i].cuts, (double)res[i].walked / (double)res[i].cuts, res[i].cached);
    }
    if (o->workers == 1)
        res[1] = res[0];
    printf("scaling %u workers / 1 worker: %.2f wall (ideal %u); %.2f from CPU time per event\n",
           o->workers, res[1].eps / res[0].eps, o->workers,
           o->workers * res[0].cpu_ns / res[1].cpu_ns);

out_free_stream:
    stream_release(&s);
    return r;
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_core [--events E] [--customers C] [--workers N] "
                    "[--partitions P] [--flush-every F] [--repeat N] [--cache K] [--rss-customers R]\n");
}

/* Parses the options into o. Returns 0 or -EINVAL. */
static int parse_opts(int argc, char **argv, opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (opts){ .events = 2000000, .customers = 100000, .rss_customers = 1000000,
                 .workers = ncpu > 0 ? (unsigned)ncpu : 1, .flush_every = 50000, .repeat = 5 };
    bool have_partitions = false;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(argv[i + 1], &end, 10);
        if (errno || *end || end == argv[i + 1] || argv[i + 1][0] == '-')
            return -EINVAL;
        const char *k = argv[i++];
        if (strcmp(k, "--events") == 0 && v >= 1 && v < UINT32_MAX)
            o->events = v;
        else if (strcmp(k, "--customers") == 0 && v >= 1 && v < UINT32_MAX)
            o->customers = v;
        else if (strcmp(k, "--workers") == 0 && v >= 1 && v <= 1024)
            o->workers = (unsigned)v;
        else if (strcmp(k, "--partitions") == 0 && v >= 1 && v <= 65535) {
            o->partitions = (unsigned)v;
            have_partitions = true;
        }
        else if (strcmp(k, "--flush-every") == 0 && v >= 1 && v <= UINT32_MAX)
            o->flush_every = (unsigned)v;
        else if (strcmp(k, "--repeat") == 0 && v >= 1 && v <= 1000)
            o->repeat = (unsigned)v;
        else if (strcmp(k, "--cache") == 0 && v >= 1)
            o->cache = v;
        else if (strcmp(k, "--rss-customers") == 0 && v < UINT32_MAX / 3)
            o->rss_customers = v;
        else
            return -EINVAL;
    }
    if (!have_partitions)
        o->partitions = o->workers > 32 ? o->workers : 32;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, &o) < 0) {
        usage();
        return 2;
    }

    /* Apply rules as clmd applies them with a default configuration. */
    clm_config *cfg = clm_config_new_defaults();
    if (!cfg) {
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    o.shard = (clm_shard_opts){
        .allowed_lateness_ms = cfg->events_allowed_lateness_s * 1000,
        .apply = { .dedup_horizon_ms = cfg->events_dedup_horizon_s * 1000,
                   .dedup_max_ids = (unsigned)cfg->events_dedup_max_ids,
                   .stages = cfg->stages,
                   .bucket_ms = (int64_t)cfg->kpi_bucket_s * 1000,
                   .churn_inactive_ms = (int64_t)cfg->lifecycle_churn_inactive_days * CLM_MS_PER_DAY,
                   .inactive_types = cfg->lifecycle_inactive_types,
                   .clv_min_tenure_ms = (int64_t)cfg->kpi_clv_min_tenure_days * CLM_MS_PER_DAY },
    };
    o.max_dirty = (size_t)cfg->flush_max_dirty;

    int status = 1;
    rss_result m = { 0 };
    if (o.rss_customers && bench_memory(&o, &m) < 0)
        goto out_free_config;
    run_result res[2];
    if (bench_throughput(&o, res) < 0)
        goto out_free_config;

    printf("core_events=%" PRIu64 " core_customers=%" PRIu64 " core_workers=%u core_eps_1=%.0f "
           "core_eps_n=%.0f core_scaling=%.2f core_cpu_ns_1=%.1f core_cpu_ns_n=%.1f "
           "core_cpu_scaling=%.2f core_cpu_share_n=%.2f",
           o.events, o.customers, o.workers, res[0].eps, res[1].eps, res[1].eps / res[0].eps,
           res[0].cpu_ns, res[1].cpu_ns, o.workers * res[0].cpu_ns / res[1].cpu_ns, res[1].share);
    if (o.rss_customers)
        printf(" core_rss_customers=%" PRIu64 " core_rss_b_per_customer=%.1f "
               "core_peak_rss_b_per_customer=%.1f",
               o.rss_customers, m.resident, m.peak);
    printf("\n");
    status = 0;

out_free_config:
    clm_config_free(cfg);
    return status;
}
