/* store/load.h - reading what a worker resumes from: a partition's progress
 * and its customers' checkpoints.
 *
 * Thread-safety: each call uses the given connection exclusively.
 */
#ifndef CLM_STORE_LOAD_H
#define CLM_STORE_LOAD_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/shard.h"
#include "core/watermark.h"
#include "net/redis_pipe.h"

/* Reads a partition's stored next offset, watermark state (max_ts and the
 * sources ahead of it, core/watermark.h) and remembered customer-less event
 * ids for one topic (CLM_NO_OFFSET / CLM_NO_TS / none when absent). Returns
 * 0, -EIO (connection unusable: drop it) or -EPROTO (a stored value is
 * malformed; errbuf names the key and field). */
int clm_store_load_progress(clm_rpipe *c, const char *prefix, const char *group,
                            const char *topic, int32_t partition, int64_t *offset, clm_wm *wm,
                            clm_anon_ids *anon, char *errbuf, size_t errsize);

/* The stored form of clm_anon_ids (keys.h: anon_ids:<topic>): writes
 * 16 x a->n bytes into buf (room for CLM_ANON_IDS_MAX entries); returns the
 * length. Parsing returns 0 or -EPROTO (not whole entries, too many, not
 * in time order). */
size_t clm_anon_ids_encode(const clm_anon_ids *a, char *buf);
int clm_anon_ids_decode(const char *s, size_t len, clm_anon_ids *a);

/* The greatest max_ts stored for any topic of any partition `group` has
 * registered (CLM_NO_TS when none): what the KPI window and the model's
 * "now" follow. Plain HGETs (the end-to-end benchmark takes clmd's first
 * HMGET as the start of its work). Returns 0, -EIO or -ENOMEM. */
int clm_store_load_max_ts(clm_rpipe *c, const char *prefix, const char *group,
                          char *const *topics, size_t ntopics, int64_t *max_ts, char *errbuf,
                          size_t errsize);

/* Records that `group` owns partition number `partition` (SADD to
 * <prefix>partitions:<group>), so the jobs know which progress keys to
 * read. Returns 0, -EIO, -EAGAIN (Redis refuses writes for now: out of
 * memory, or a failed save; call again later) or -EPROTO (errbuf says
 * why). */
int clm_store_register_partition(clm_rpipe *c, const char *prefix, const char *group,
                                 int32_t partition, char *errbuf, size_t errsize);

/* Loads customers in one pipelined round trip: one HMGET per partition
 * number of <prefix>ckpt:{group:p} and, when `pool`, one HMGET of the
 * upgrade pool for those the checkpoints lack. out[i] receives a new
 * customer (owned by the caller) of partition parts[i] holding what Redis
 * has for ids[i], or a new empty one (flag CLM_CUST_NEW) when Redis has
 * nothing. On failure nothing is returned (all out[i] NULL). Returns 0,
 * -EIO, -EPROTO (a record does not decode: errbuf names the key, the
 * customer and what is wrong) or -ENOMEM. */
int clm_store_load_customers(clm_rpipe *c, const char *prefix, const char *group,
                             const clm_apply_opts *apply, bool pool, size_t n,
                             const char *const *ids, const size_t *lens, const uint16_t *parts,
                             clm_customer **out, char *errbuf, size_t errsize);

/* Decodes a stored record of customer `id` into a new customer of
 * partition `part` as the loader does (flags and index entry included).
 * `key` names where it was read, for errbuf. Returns 0, -EPROTO, -ENOMEM. */
int clm_store_decode(const char *key, const char *id, size_t len, uint16_t part,
                     const clm_apply_opts *apply, const char *rec, size_t rec_len,
                     clm_customer **out, char *errbuf, size_t errsize);

#endif
