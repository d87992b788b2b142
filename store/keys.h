/* store/keys.h - every Redis key clmd and clmctl use, named in one place.
 *
 * No other file spells a key: the daemon, its jobs, clmctl and the upgrade
 * build names here. Each key has exactly one writing component (README
 * "Redis keys" has the same table for users).
 *
 * Per partition number p of consumer group g (hash tag {g:p}, so everything
 * one partition's flush writes atomically can live in one Redis Cluster slot):
 *   <prefix>ckpt:{g:p}        HASH  customer id -> checkpoint record
 *                                   (store/record.h)            flush
 *   <prefix>progress:{g:p}    HASH  offset:<topic> -> next offset,
 *                                   maxts:<topic> -> greatest confirmed
 *                                   event time (ms), ahead:<topic> ->
 *                                   sources ahead of it (store/ahead.h,
 *                                   absent when none), anon_ids:<topic>
 *                                   -> remembered ids of customer-less
 *                                   events (clm_anon_ids, 16 bytes each:
 *                                   hash and event time, int64
 *                                   little-endian; absent: none)  flush
 *   <prefix>deadlines:{g:p}   ZSET  customer id -> next due time  flush
 *   <prefix>alerts:paging:{g:p} HASH alerts whose paging window is not
 *                                   decided yet: a:<alert id> -> "<paging
 *                                   time ms>\t<document>", tat -> the rate
 *                                   limit's state (daemon/paging.h)  flush
 *   <prefix>alias:{g:p}       HASH  identity merge (README "Identity
 *                                   merge"): anonymous id -> "<made at,
 *                                   epoch ms> <known id>", the aliases the
 *                                   partition's owner resolves    flush
 *   <prefix>identity:outbox:{g:p} HASH identity messages committed by a
 *                                   flush and not yet produced to
 *                                   identity.topic: <message id, hex> ->
 *                                   the message (store/identity_msg.h):
 *                                   the flush writes, the partition's
 *                                   owner deletes what it delivered
 *   <prefix>identity:merged:{g:p} HASH identity merge: anonymous id ->
 *                                   "<merge time, ms> <known id>" for each
 *                                   merge applied to a known customer of
 *                                   the partition (an erasure of the known
 *                                   id releases those aliases)      flush
 *   <prefix>identity:seen:{g:p} HASH identity messages the partition's
 *                                   owner received: <hash of the message's
 *                                   id (header clm.id), hex> -> wall ms;
 *                                   a message produced twice is dropped
 *                                   the second time; kept a day     flush
 *   <prefix>journal:{g:p}     STRING on Redis Cluster: the commands of the
 *                                   partition's last flush that write other
 *                                   slots (store/journal.h)         flush
 * Guards, on Redis Cluster (store/journal.h):
 *   <prefix>applied:{<key>}   HASH  <g>:<p> -> seq of the last journal of
 *                                   that partition applied to <key> (the
 *                                   writer of <key>)
 * Per group:
 *   <prefix>partitions:<g>    SET   partition numbers g has owned  consumer
 * Views and aggregates (read by dashboards; clmd never reads them back,
 * except the KPI job reading the counters it aggregates):
 *   <prefix>customer:<id>     HASH  the customer view (store/view.h): the
 *                                   flush writes its fields, the model job
 *                                   the prediction fields, the KPI job
 *                                   clv_pred (one writer per field)
 *   <prefix>stats, <prefix>rejected, <prefix>day:<D>, <prefix>bucket:<B>,
 *   <prefix>buckets, <prefix>transitions:<D>, <prefix>stage_counts,
 *   <prefix>portfolio, <prefix>at_risk, <prefix>alerts,
 *   <prefix>alerts:outbox                                      flush
 *                                   (the segment job adds segment_entered
 *                                   and segment_left alerts to the last two)
 *   <prefix>alerts:page       STREAM alerts that page, in order (alert_id,
 *                                   json): the flush appends (only with a
 *                                   paging sink configured), the
 *                                   Alertmanager sink trims what it delivered
 *   <prefix>erasure_log       STREAM one entry per customer erased on
 *                                   request: at (ms), partition, id_hmac
 *                                   (store/forget.h)                flush
 *   <prefix>kpi:<N>d                                           KPI job
 *   <prefix>kpi:history       STREAM one entry per UTC day (id: epoch ms
 *                                   of the day's start, "-0"): date, then
 *                                   that day's KPIs (daemon/kpi_history.h);
 *                                   replaced whole                  KPI job
 *   <prefix>kpi:cohorts       STRING JSON weekly retention cohorts
 *                                   (daemon/kpi_cohort.h)           KPI job
 *   <prefix>model                                              model job
 *   <prefix>segments          HASH  the segment pass's summary: pass, at,
 *                                   day, customers, buyers; per segment
 *                                   segment:<name> -> members,
 *                                   segment:<name>:rule -> its rule,
 *                                   segment:<name>:buyers|orders|revenue|
 *                                   churned|at_risk -> its members' KPIs; per
 *                                   RFM segment rfm:<name> -> customers
 *   <prefix>segment:<name>    ZSET  customer id -> event time (ms) of the
 *                                   pass that saw it enter
 *   <prefix>segment_day:<D>   HASH  <name>:entered, <name>:left on day D
 *   <prefix>breakdown:trait:<name>:<D> HASH <value>\t<counter> -> the
 *                                   day's counter for customers whose
 *                                   trait <name> had that value (a listed
 *                                   value, other or (none); core/breakdown.h;
 *                                   README "Breakdowns")             flush
 *   <prefix>rfm:bounds        HASH  n, r1..r4, f1..f4, m1..m4: the RFM
 *                                   quintile boundaries (core/rfmscore.h)
 *                                   and the view fields r_score, f_score,
 *                                   m_score, rfm_segment      segment job
 *   <prefix>schema            HASH  version, stages             start-up
 *   <prefix>owner             STRING the consumer group whose state the
 *                                   prefix holds (daemon/owner.h)  start-up
 *   <prefix>upgrade:v1        HASH  customer id -> record of a
 *                                   customer converted from the v1
 *                                   layout and not yet taken over by its
 *                                   partition: start-up writes, the flush
 *                                   that takes a customer over deletes it
 * Paging alerts to Alertmanager (daemon/am_sink.h):
 *   <prefix>alerts:page       STREAM alert_id, json of each paging
 *                                   delivery, in delivery order: the flush
 *                                   appends, the Alertmanager sink trims
 *                                   what it delivered
 *   <prefix>alerts:page:cursor STRING id of the last delivered entry
 *                                   (absent: "0")          Alertmanager sink
 *   <prefix>alerts:page:lease STRING token of the instance delivering
 *                                   (PX 15000, renewed)    Alertmanager sink
 *   <prefix>alerts:firing     HASH  incident -> the firing churn_risk
 *                                   alert as posted         Alertmanager sink
 *   (on Redis Cluster the last three are <prefix>{alerts:page}:cursor,
 *   :lease and :firing: clm_key_sink)
 * The v1 layout (the previous release) is only read, by the upgrade:
 *   <prefix>offsets:<g>:<topic>, <prefix>maxts:<g>:<topic>,
 *   <prefix>deadlines:<g>:<p>.
 *
 * All functions write a NUL-terminated name into buf and return its length,
 * or -ENAMETOOLONG when it does not fit. Reentrant.
 */
#ifndef CLM_STORE_KEYS_H
#define CLM_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room enough for any key built from a prefix and group within their
 * configured limits and a customer id of CLM_ID_MAX bytes. */
#define CLM_KEY_MAX 512

/* Single keys, after the prefix. */
#define CLM_KEY_STATS "stats"
#define CLM_KEY_REJECTED "rejected"
#define CLM_KEY_BUCKETS "buckets"
#define CLM_KEY_STAGE_COUNTS "stage_counts"
#define CLM_KEY_PORTFOLIO "portfolio"
#define CLM_KEY_AT_RISK "at_risk"
#define CLM_KEY_ALERTS "alerts"
#define CLM_KEY_OUTBOX "alerts:outbox"
#define CLM_KEY_PAGE "alerts:page"
#define CLM_KEY_MODEL "model"
#define CLM_KEY_KPI_HISTORY "kpi:history"
#define CLM_KEY_KPI_COHORTS "kpi:cohorts"
#define CLM_KEY_SCHEMA "schema"
#define CLM_KEY_UPGRADE_POOL "upgrade:v1"
#define CLM_KEY_OWNER "owner"
#define CLM_KEY_PAGE_CURSOR "alerts:page:cursor"
#define CLM_KEY_PAGE_LEASE "alerts:page:lease"
#define CLM_KEY_FIRING "alerts:firing"
#define CLM_KEY_ERASURE_LOG "erasure_log"
#define CLM_KEY_SEGMENTS "segments"
#define CLM_KEY_RFM_BOUNDS "rfm:bounds"

/* Field names of the progress hash. */
#define CLM_FIELD_OFFSET "offset:"
#define CLM_FIELD_MAXTS "maxts:"
#define CLM_FIELD_AHEAD "ahead:"
#define CLM_FIELD_ANON "anon_ids:"

/* Field names of the paging hash <prefix>alerts:paging:{g:p}. */
#define CLM_FIELD_PAGING_TAT "tat"
#define CLM_FIELD_PAGING_ALERT "a:"

/* The layout version this release writes into <prefix>schema. */
#define CLM_SCHEMA_VERSION 2

/* <prefix><name>, name one of the CLM_KEY_* above. */
int clm_key_single(char *buf, size_t size, const char *prefix, const char *name);

/* <prefix>customer:<id> */
int clm_key_customer(char *buf, size_t size, const char *prefix, const char *id, size_t len);

/* <prefix>ckpt:{<group>:<p>}, <prefix>progress:{<group>:<p>},
 * <prefix>deadlines:{<group>:<p>} */
int clm_key_ckpt(char *buf, size_t size, const char *prefix, const char *group, int32_t part);
int clm_key_progress(char *buf, size_t size, const char *prefix, const char *group, int32_t part);
int clm_key_deadlines(char *buf, size_t size, const char *prefix, const char *group, int32_t part);
/* <prefix>alerts:paging:{<group>:<p>} */
int clm_key_paging(char *buf, size_t size, const char *prefix, const char *group, int32_t part);

/* <prefix>alias:{<group>:<p>}, <prefix>identity:outbox:{<group>:<p>} */
int clm_key_alias(char *buf, size_t size, const char *prefix, const char *group, int32_t part);
int clm_key_identity_outbox(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t part);
/* <prefix>identity:merged:{<group>:<p>} */
int clm_key_identity_merged(char *buf, size_t size, const char *prefix, const char *group,
                            int32_t part);
/* <prefix>identity:seen:{<group>:<p>} */
int clm_key_identity_seen(char *buf, size_t size, const char *prefix, const char *group,
                          int32_t part);

/* <prefix>journal:{<group>:<p>} (store/journal.h) */
int clm_key_journal(char *buf, size_t size, const char *prefix, const char *group, int32_t part);

/* <prefix>applied:{<key>}: the guard of a key written through journals,
 * in the key's own slot (store/journal.h). */
int clm_key_applied(char *buf, size_t size, const char *prefix, const char *key, size_t len);

/* <prefix>partitions:<group> */
int clm_key_partitions(char *buf, size_t size, const char *prefix, const char *group);

/* The SCAN pattern of every group's partition set: <prefix>partitions:*
 * (escaped); clm_key_partitions_group gives the group of a matching key
 * (NULL when `key` is not <prefix>partitions:<group>). */
int clm_key_partitions_pattern(char *buf, size_t size, const char *prefix);
const char *clm_key_partitions_group(const char *key, const char *prefix);

/* The SCAN pattern of every checkpoint hash: <prefix>ckpt:* (with glob
 * characters of the prefix escaped). */
int clm_key_ckpt_pattern(char *buf, size_t size, const char *prefix);

/* The SCAN pattern of every customer view: <prefix>customer:* (escaped). */
int clm_key_customer_pattern(char *buf, size_t size, const char *prefix);

/* One of the Alertmanager sink's own keys: name is CLM_KEY_PAGE_CURSOR,
 * CLM_KEY_PAGE_LEASE or CLM_KEY_FIRING. On Redis Cluster the three share
 * the hash tag {alerts:page}, so the sink's commit (it WATCHes the lease and
 * the cursor and writes the cursor and the firing hash) runs on one node:
 * <prefix>{alerts:page}:cursor, :lease, :firing. One server keeps the
 * names above (those of earlier releases). */
int clm_key_sink(char *buf, size_t size, const char *prefix, const char *name, bool cluster);

/* <prefix>kpi:<days>d */
int clm_key_kpi(char *buf, size_t size, const char *prefix, int days);

/* The counters of a KPI bucket: <prefix>day:<YYYY-MM-DD> for whole-day
 * buckets, <prefix>bucket:<YYYY-MM-DDTHH:MM> for shorter ones; `name`
 * (may be NULL) receives the part after the colon, as kept in
 * <prefix>buckets (CLM_BUCKET_KEY_SIZE bytes). */
int clm_key_bucket(char *buf, size_t size, const char *prefix, int64_t bucket, int64_t bucket_ms,
                   char *name, size_t name_size);

/* <prefix>day:<name> / <prefix>bucket:<name> from a name kept in <prefix>buckets. */
int clm_key_bucket_named(char *buf, size_t size, const char *prefix, const char *name,
                         int64_t bucket_ms);

/* <prefix>transitions:<YYYY-MM-DD> for a UTC day number. */
int clm_key_transitions(char *buf, size_t size, const char *prefix, int64_t day);

/* <prefix>segment:<name> (the members of a segment) and
 * <prefix>segment_day:<YYYY-MM-DD> (its entries and exits of a UTC day). */
int clm_key_segment(char *buf, size_t size, const char *prefix, const char *name);
int clm_key_segment_day(char *buf, size_t size, const char *prefix, int64_t day);

/* <prefix>breakdown:trait:<trait>:<YYYY-MM-DD> (a trait breakdown's
 * counters of a UTC day, core/breakdown.h). */
int clm_key_breakdown(char *buf, size_t size, const char *prefix, const char *trait, int64_t day);

/* The progress fields of a topic: offset:<topic>, maxts:<topic>,
 * ahead:<topic>, anon_ids:<topic>. */
int clm_field_offset(char *buf, size_t size, const char *topic);
int clm_field_maxts(char *buf, size_t size, const char *topic);
int clm_field_ahead(char *buf, size_t size, const char *topic);
int clm_field_anon(char *buf, size_t size, const char *topic);

/* v1 keys (read by the upgrade only). */
int clm_key_v1_offsets(char *buf, size_t size, const char *prefix, const char *group, const char *topic);
int clm_key_v1_maxts(char *buf, size_t size, const char *prefix, const char *group, const char *topic);
int clm_key_v1_deadlines(char *buf, size_t size, const char *prefix, const char *group, int32_t part);

#endif
