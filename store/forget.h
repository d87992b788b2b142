/* store/forget.h - what erasing a customer writes (an erasure request,
 * core/shard.h clm_shard_forget): the deletion of everything a flush wrote
 * for the customer, and one entry of the erasure log.
 *
 * Appended to the flush of the partition number that consumed the request,
 * before anything else of that flush, so it commits in the same MULTI/EXEC
 * as the request's offset (on Redis Cluster the keys of other slots go
 * through the partition's journal, store/journal.h; every command here
 * deletes, so running it twice changes nothing, but the erasure log entry,
 * which the journal guards like every XADD):
 *   HDEL <prefix>ckpt:{g:p} <id>              the checkpoint
 *   ZREM <prefix>deadlines:{g:p} <id>         the deadline index
 *   EVAL <forget> 1 <prefix>alerts:paging:{g:p} <id>  alerts waiting for
 *                                             their paging window
 *   HDEL <prefix>upgrade:v1 <id>              a record not taken over yet
 *   DEL <prefix>customer:<id>                 the view
 *   ZREM <prefix>at_risk <id>
 *   EVAL <forget> 1 <prefix>alerts <id>       alert stream entries
 *   EVAL <forget> 1 <prefix>alerts:outbox <id> alerts not yet published
 *   EVAL <forget> 1 <prefix>alerts:page <id>  alerts not yet paged
 *   XADD <prefix>erasure_log * at <ms> partition <p> [id_hmac <hex>]
 * The <forget> script (clm_forget_script) deletes every field of a hash, or
 * entry of a stream, that names the id: a field name or value equal to it,
 * or a JSON document (after any text before its first '{') holding it as a
 * string value at any depth (an alert's customer_id, a digest's list of
 * held customers). It reads the whole key: its cost is the key's size.
 *
 * id_hmac is HMAC-SHA256(key, id) in hex, present only when a key is given
 * (erasure.hmac_key): an unkeyed hash of a guessable id would name it.
 *
 * Pure formatting: no I/O. Reentrant.
 */
#ifndef CLM_STORE_FORGET_H
#define CLM_STORE_FORGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/cmdbuf.h"

/* Hex digits of id_hmac. */
#define CLM_FORGET_HMAC_HEX 64

/* The script of the EVALs above (store/journal.h carries it as it is). */
const char *clm_forget_script(size_t *len);

/* The background jobs that add fields to customer views (model scoring,
 * clv_pred) read checkpoints, then write: a pass that read a customer
 * before its erasure committed would bring the view back. They write with
 * EVAL <this script> 1 <view key> <field value ...>: HSET only when the
 * view exists (the flush creates it with the checkpoint), else nothing;
 * returns what HSET returns, or 0. */
const char *clm_forget_view_hset_script(size_t *len);

/* HMAC-SHA256(key, id) as lowercase hex into hex (CLM_FORGET_HMAC_HEX + 1
 * bytes). Returns 0, or -EINVAL when key_len is 0, -ENOMEM. */
int clm_forget_hmac(const char *key, size_t key_len, const char *id, size_t len,
                    char hex[CLM_FORGET_HMAC_HEX + 1]);

/* Appends the commands above for customer id (1..CLM_ID_MAX bytes) of
 * partition `part` of `group`, erased at now_ms. hmac_key NULL or empty:
 * the log entry has no id_hmac. Returns 0, -ENOMEM, -ENAMETOOLONG. */
int clm_forget_fmt(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                   const char *id, size_t len, int64_t now_ms, const char *hmac_key);

/* The Alertmanager sink's firing hash (clm_key_sink CLM_KEY_FIRING: its
 * name depends on `cluster`): the same scrub as the alert keys above, so a
 * firing incident of the erased customer is no longer re-sent (Alertmanager
 * resolves it after its resolve_timeout). Returns 0, -ENOMEM,
 * -ENAMETOOLONG. */
int clm_forget_fmt_firing(clm_cmdbuf *b, const char *prefix, bool cluster, const char *id,
                          size_t len);

/* What freezing a customer for an identity merge deletes (core/shard.h
 * clm_shard_freeze): the checkpoint, the deadline index entry, the alerts
 * waiting for their paging window, a record not taken over yet, the view
 * and the at_risk entry: the first six commands above. Its alerts stay in
 * the stream and the outbox (they were raised), and no erasure log entry
 * is written. Returns 0, -ENOMEM, -ENAMETOOLONG. */
int clm_freeze_fmt(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                   const char *id, size_t len);

#endif
