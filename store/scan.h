/* store/scan.h - reading every checkpointed customer, for the jobs that work
 * over the whole population (the model fit and scoring, the clv_pred
 * refresh) and for clmctl rebuild-view.
 *
 * Thread-safety: uses the given pipe exclusively (one server or a
 * cluster: net/redis_pipe.h). After -EIO the caller resets the pipe.
 */
#ifndef CLM_STORE_SCAN_H
#define CLM_STORE_SCAN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/customer.h"
#include "net/redis_pipe.h"

/* Called once per customer with the key of the hash holding its record; key
 * and c are valid during the call only. A negative return stops the scan,
 * which returns it. */
typedef int (*clm_scan_fn)(void *ctx, const char *key, const clm_customer *c);

/* Before each page and after each hash's last page (before the scan sends
 * its next command); a negative return stops the scan, which returns it. */
typedef int (*clm_scan_page_fn)(void *ctx);

/* Calls fn for every customer record: each <prefix>ckpt:* hash, then the
 * upgrade pool, a page at a time (SCAN on every node, HSCAN: a customer
 * may be passed twice, as SCAN may return an entry twice). The scan sends its own
 * commands on c and reads their replies in order: a caller pipelining
 * commands from fn must have read all their replies when `page(ctx)` (may be
 * NULL) returns, and that hook is where it does so (or stops the scan, e.g.
 * with -ECANCELED). Returns 0, -EIO, -ENOMEM, page's or fn's error, or
 * -EPROTO for a record that does not decode (errbuf names the key, the
 * customer and what is wrong). */
int clm_store_scan(clm_rpipe *c, const char *prefix, clm_scan_page_fn page, clm_scan_fn fn,
                   void *ctx, char *errbuf, size_t errsize);

/* Reads one customer's record from the hash `key` (a checkpoint or the
 * upgrade pool). Returns 1 with *out (owned by the caller), 0 when `key`
 * does not hold the customer, or -EIO, -ENOMEM, -EPROTO as clm_store_scan. */
int clm_store_get(clm_rpipe *c, const char *key, const char *id, size_t len,
                  clm_customer **out, char *errbuf, size_t errsize);

/* Finds one customer's record in the checkpoints (then the upgrade pool).
 * Returns 1 with *out (owned by the caller; part set from the key) and
 * `key` (CLM_KEY_MAX bytes) naming where it is, 0 when no checkpoint holds
 * it, or -EIO, -ENOMEM, -EPROTO as clm_store_scan. */
int clm_store_find(clm_rpipe *c, const char *prefix, const char *id, size_t len,
                   clm_customer **out, char *key, char *errbuf, size_t errsize);

#endif
