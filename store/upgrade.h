/* store/upgrade.h - bringing a Redis written by an earlier release to this
 * release's layout, once, at start, before any partition is consumed.
 *
 * Layout versions (<prefix>schema field `version`):
 *   1  (no schema key) the previous release: one text hash per customer,
 *      <prefix>customer:<id>, that was both the checkpoint and the view;
 *      progress in <prefix>offsets:<g>:<topic> / <prefix>maxts:<g>:<topic>,
 *      deadlines in <prefix>deadlines:<g>:<p>.
 *   2  this release (store/keys.h).
 *
 * From 1 to 2:
 *   - every v1 customer hash is decoded with the v1 reader, its binary
 *     record goes into the upgrade pool <prefix>upgrade:v1 (a v1 hash does
 *     not say which partition its customer belongs to: the worker that next
 *     loads the customer moves it into its partition's checkpoint, in the
 *     flush that writes it), and its hash becomes a view: the internal
 *     fields are removed and the view fields rewritten. A page of customers
 *     is converted in one WATCHed transaction, so two instances upgrading
 *     at once, or one already consuming, never overwrite newer state.
 *   - each group's offsets and max_ts move to <prefix>progress:{g:p}, its
 *     partition numbers into <prefix>partitions:<g>, its deadline indexes
 *     are renamed to <prefix>deadlines:{g:p}, and the schema is written, in
 *     one transaction.
 * Counters, day hashes, the alert stream and outbox keep their v1 names.
 * Stopping at any point and starting again resumes; nothing is applied twice
 * (no event is consumed before the upgrade has finished).
 *
 * Thread-safety: uses the given connection exclusively.
 */
#ifndef CLM_STORE_UPGRADE_H
#define CLM_STORE_UPGRADE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/customer.h"

typedef struct clm_upgrade_report {
    int from_version;      /* 0: the store was empty, 1, or 2 */
    size_t customers;      /* v1 customer hashes converted by this call */
    size_t groups;         /* consumer groups whose progress was converted */
    bool pool;             /* the upgrade pool holds customers */
    /* converted customers whose v1 stage or peak stage lifecycle.stages does
     * not name (they now have none, as the previous release read them), and
     * the id of the first */
    size_t stage_unknown;
    char stage_example[CLM_ID_MAX + 1];
} clm_upgrade_report;

/* Makes the store ready for this release: an empty store gets its schema; a
 * v2 store is checked (the stage model of its records must be the
 * configured one); a v1 store is converted as above. Returns 0, -EIO (Redis
 * failed: drop the connection and call again), -EINVAL (the store cannot be
 * used with this configuration: errbuf says why and what to do), -EPROTO (a
 * v1 hash that does not parse: errbuf names the key and field), -ENOMEM. */
int clm_store_upgrade(redisContext *c, const char *prefix, const clm_apply_opts *apply,
                      clm_upgrade_report *rep, char *errbuf, size_t errsize);

#endif
