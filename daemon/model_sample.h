/* daemon/model_sample.h - the model job's input: every checkpointed
 * customer with a purchase as its (x, t_x, T, m_x) summary, in a canonical
 * order, so the same data gives the same fit whatever order the scan
 * returned it in.
 *
 * Thread-safety: a sample belongs to one thread.
 */
#ifndef CLM_DAEMON_MODEL_SAMPLE_H
#define CLM_DAEMON_MODEL_SAMPLE_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "net/redis_pipe.h"

/* After clm_model_sample_read: n customers, each a row of the four columns
 * (model.unit_days units, T measured to now_day). Zero-initialise; free
 * with clm_model_sample_free. */
typedef struct clm_model_sample {
    struct summary *v; /* rows while reading */
    size_t n, cap;
    double *x, *t_x, *T, *m_x;
} clm_model_sample;

/* Reads every customer record (store/scan.h) with a purchase into s: a
 * customer the scan passes twice counts once, rows sorted by their values.
 * Checks *stop between pages. Returns 0, -ECANCELED, -ENOMEM, or the scan's
 * -EIO / -EPROTO (errbuf says why). */
int clm_model_sample_read(clm_model_sample *s, clm_rpipe *rc, const char *prefix,
                          int64_t now_day, double unit_days, const atomic_bool *stop,
                          char *errbuf, size_t errsize);

void clm_model_sample_free(clm_model_sample *s);

/* Indices of the entries whose hash was already seen, sorted, so that a key
 * SCAN returned twice counts once. Returns 0 with *dup (to free) and *ndup,
 * or -ENOMEM. */
int clm_model_find_repeats(const uint64_t *hashes, size_t n, size_t **dup, size_t *ndup);

#endif
