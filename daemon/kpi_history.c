/* daemon/kpi_history.c - see kpi_history.h: every day's one-day KPIs
 * computed with core/kpi.c and the stream replaced when they changed. */
#include "daemon/kpi_history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "daemon/log.h"
#include "store/keys.h"

/* Most fields of one entry: date, every KPI (the stage conversions at most
 * CLM_STAGES_MAX), customers_eod. */
#define ENTRY_ARGS 256

/* One XADD, its strings packed in one allocation. */
typedef struct entry {
    int argc;
    const char **argv;
    char *buf;
} entry;

typedef struct collect {
    int argc;
    size_t used;
    const char *argv[ENTRY_ARGS];
    char text[ENTRY_ARGS * (CLM_KPI_FIELD_MAX + 1)];
} collect;

static int add_arg(collect *x, const char *s)
{
    size_t n = strlen(s) + 1;
    if (x->argc >= ENTRY_ARGS || x->used + n > sizeof(x->text))
        return -E2BIG;
    memcpy(x->text + x->used, s, n);
    x->argv[x->argc++] = x->text + x->used;
    x->used += n;
    return 0;
}

static int emit(void *vctx, const char *field, const char *value)
{
    collect *x = vctx;
    if (strcmp(field, "window_start") == 0 || strcmp(field, "window_end") == 0)
        return 0;
    int r = add_arg(x, field);
    return r < 0 ? r : add_arg(x, value);
}

/* Packs what x collected into e (argv[1], the key, is left for the caller). */
static int pack(const collect *x, entry *e)
{
    e->buf = malloc(x->used);
    e->argv = calloc((size_t)x->argc, sizeof(*e->argv));
    if (!e->buf || !e->argv)
        return -ENOMEM;
    memcpy(e->buf, x->text, x->used);
    for (int i = 0; i < x->argc; i++)
        e->argv[i] = x->argv[i] ? e->buf + (x->argv[i] - x->text) : NULL;
    e->argc = x->argc;
    return 0;
}

/* FNV-1a over every string of every entry, NULs included. */
static uint64_t digest(const entry *es, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        for (int a = 2; a < es[i].argc; a++)
            for (const char *p = es[i].argv[a];; p++) {
                h = (h ^ (uint8_t)*p) * 1099511628211ULL;
                if (!*p)
                    break;
            }
    return h;
}

/* The XADD of day d into x: XADD <key> <id> date D <kpis> customers_eod E. */
static int build(const clm_kpi_input *in, int64_t d, collect *x)
{
    char id[32], date[16], eodv[24];
    int64_t eod;
    int r;
    x->argc = 0;
    x->used = 0;
    if (d == 0)
        snprintf(id, sizeof(id), "0-1");
    else
        snprintf(id, sizeof(id), "%lld-0", (long long)(d * CLM_MS_PER_DAY));
    clm_day_format(d, date);
    if ((r = add_arg(x, "XADD")) < 0)
        return r;
    x->argv[x->argc++] = NULL; /* the key */
    if ((r = add_arg(x, id)) < 0 || (r = add_arg(x, "date")) < 0 || (r = add_arg(x, date)) < 0)
        return r;
    clm_kpi_input one = *in;
    one.end_day = d;
    if ((r = clm_kpi_window(&one, 1, emit, x)) < 0)
        return r;
    if ((r = clm_kpi_eod(in, d, &eod)) < 0)
        return r;
    snprintf(eodv, sizeof(eodv), "%" PRId64, eod);
    if ((r = add_arg(x, "customers_eod")) < 0 || (r = add_arg(x, eodv)) < 0)
        return r;
    return 0;
}

int kpi_history_update(clm_kpi_job *j, const clm_kpi_input *in)
{
    char key[CLM_KEY_MAX];
    clm_key_single(key, sizeof(key), j->cfg->redis_prefix, CLM_KEY_KPI_HISTORY);
    int64_t from = in->end_day - j->cfg->kpi_history_days + 1;
    if (from < in->first_day)
        from = in->first_day;
    if (from > in->end_day)
        return 0;
    size_t n = (size_t)(in->end_day - from + 1);
    entry *es = calloc(n, sizeof(*es));
    collect *x = malloc(sizeof(*x));
    int r = 0;
    if (!es || !x) {
        r = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        if ((r = build(in, from + (int64_t)i, x)) < 0 || (r = pack(x, &es[i])) < 0)
            break;
        es[i].argv[1] = key;
    }
    if (r == -EOVERFLOW)
        log_err("kpi: history: a day's sum passes the int64 limit (a day hash holds a saturated "
                "sum); %s is not updated", key);
    else if (r == -E2BIG || r == -EINVAL)
        log_err("kpi: history: %s; %s is not updated", strerror(-r), key);
    if (r < 0)
        goto out_free;
    uint64_t h = digest(es, n);
    if (j->history_written && h == j->history_digest)
        goto out_free;
    int *argc = calloc(n, sizeof(*argc));
    const char *const **argv = calloc(n, sizeof(*argv));
    if (!argc || !argv) {
        free(argc);
        free(argv);
        r = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        argc[i] = es[i].argc;
        argv[i] = es[i].argv;
    }
    r = kpi_job_replace(j, key, n, argc, argv);
    free(argc);
    free(argv);
    if (r == 0) {
        j->history_written = true;
        j->history_digest = h;
    }
out_free:
    for (size_t i = 0; es && i < n; i++) {
        free(es[i].buf);
        free(es[i].argv);
    }
    free(es);
    free(x);
    return r;
}
