/* daemon/segment_job_impl.h - the segment job's state, shared by its two
 * files: segment_job.c (the thread, reloads) and segment_pass.c (one pass:
 * the scans, the scores and rules, the writes). Private to them. Job thread
 * only but the atomics.
 */
#ifndef CLM_DAEMON_SEGMENT_JOB_IMPL_H
#define CLM_DAEMON_SEGMENT_JOB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/rfmscore.h"
#include "core/segment_attrs.h"
#include "daemon/alert_json.h"
#include "daemon/alert_pub.h"
#include "daemon/segment_job.h"
#include "net/redis_pipe.h"
#include "store/keys.h"

/* What the view of one customer holds from the previous pass. */
typedef struct seg_shown {
    char *id;
    uint8_t scores[3];
    const char *rfm; /* the RFM segment name (in a config, which outlives the job) */
} seg_shown;

struct clm_segment_job {
    _Atomic(const clm_config *) cfg; /* the latest configuration */
    const clm_config *first;  /* the start-up one: prefix, stages, model settings */
    clm_alert_pub *alerts;    /* where segment_entered / segment_left go after EXEC */
    clm_redis *redis;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool poked;        /* a reload asked for a pass */
    long long next_pass;      /* clm_now_ms() of the next scheduled pass */
    long long passes;
    char **names;             /* the segments the last pass wrote */
    size_t nnames;
    seg_shown *shown;         /* the view fields written, sorted by id */
    size_t nshown;
};

/* ---- one pass, shared by segment_pass.c and segment_write.c ---------- */

/* One customer of the pass. */
typedef struct seg_row {
    char *id;
    int64_t last_day; /* of the latest purchase, -1: none */
    int64_t orders, revenue;
    uint8_t scores[3];
    int16_t rfm;      /* map index, -1: none */
    bool churned;     /* in the churned stage */
    bool at_risk;     /* risk at or above alerts.threshold */
    clm_seg_mask mask;
    bool done;        /* evaluated by the second scan */
} seg_row;

typedef struct seg_pass {
    const clm_config *cfg;
    const clm_stages *stages;
    clm_attr_traits traits; /* the config's traits, for rules that name one */
    seg_row *rows;
    size_t n, cap;
    int64_t now_ms;   /* greatest last_seen: the pass's event time */
    clm_rfm_bounds bounds;
    clm_attr_model model;
    bool has_model;
    int64_t buyers;
    char err[256];
} seg_pass;

/* A growing argument list of one command. */
typedef struct seg_argl {
    const char **v;
    size_t *len;
    size_t n, cap;
} seg_argl;

typedef struct seg_diff {
    seg_argl add, rem; /* ZADD key now id ..., ZREM key id ... */
    char key[CLM_KEY_MAX];
    redisReply *old;  /* ZRANGE reply */
    int64_t members;
} seg_diff;

/* Appends one argument (not copied: it must outlive the list). 0 or -ENOMEM. */
int seg_argl_add(seg_argl *a, const char *s, size_t len);
int seg_argl_str(seg_argl *a, const char *s);
void seg_argl_free(seg_argl *a);

/* A segment_entered / segment_left alert, durable once its pass commits. */
typedef struct seg_note {
    char id[CLM_ALERT_ID_LEN + 1];
    const char *kind; /* "segment_entered" or "segment_left" */
    char *customer;
    char *json;
} seg_note;

typedef struct seg_notes {
    seg_note *v;
    size_t n, cap;
} seg_notes;

/* Queues a command whose key is argv[keyarg] on rp and counts it in
 * *queued; -EIO with p->err (segment_write.c). */
int segment_queue(seg_pass *p, clm_rpipe *rp, int keyarg, size_t argc, const char **argv,
                  const size_t *lens, size_t *queued);

/* For every segment with notify: an alert per customer who entered or
 * left, queued as XADD <prefix>alerts and HSET <prefix>alerts:outbox and
 * kept in *out to hand to the publisher once the pass commits. No entry
 * alerts for a segment whose set was empty and which was not written before
 * (by this process, or by the run the summary names): adding a segment does
 * not flood the alert topic (segment_notify.c). */
int segment_notes_queue(clm_segment_job *j, seg_pass *p, clm_rpipe *rp, const seg_diff *d,
                        size_t nseg, seg_notes *out, size_t *queued);

/* Hands the alerts to the publisher (when there is one) and frees them. */
void segment_notes_send(clm_segment_job *j, seg_notes *n, bool committed);

/* Every write of the pass but the views: membership, day counters, the
 * summary, the boundaries and the notifications; one transaction on one
 * server (segment_write.c). */
int segment_write_pass(clm_segment_job *j, seg_pass *p, clm_rpipe *rp, seg_diff *d, size_t nseg);

/* The view fields of every customer whose scores changed since the
 * previous pass; then remembers them (segment_write.c). */
int segment_write_views(clm_segment_job *j, seg_pass *p, clm_rpipe *rp);

/* One pass (see segment_job.h) with cfg. Returns 0, -EIO (the caller drops
 * the connection), -EPROTO (a record that does not decode, a key of the
 * wrong type or a refused write: logged), -ENOMEM. */
int segment_pass_run(clm_segment_job *j, clm_rpipe *rp, const clm_config *cfg);

/* Frees what the job remembers of earlier passes. */
void segment_pass_forget(clm_segment_job *j);

#endif
