/* daemon/segment_job.h - RFM scores and segment membership, recomputed over
 * the whole population in the background.
 *
 * A thread with its own Redis connection. While rfm.enabled is true or at
 * least one segment is configured, every rfm.refresh_s seconds and soon
 * after clm_segment_job_reload, it makes one pass:
 *   1. reads every customer's checkpoint record (store/scan.h) and keeps
 *      its id and RFM measures (last purchase day, orders, revenue); the
 *      pass's "now" is the greatest last_seen among them (event time);
 *   2. computes the exact RFM quintile boundaries over the customers with a
 *      purchase (core/rfmscore.h);
 *   3. reads every record again and evaluates each customer: its R, F, M
 *      scores, its RFM segment (rfm.segments) and the rules of `segments`
 *      (core/segment.h over core/segment_attrs.h; p_alive and clv_model
 *      from the parameters in <prefix>model, as of the day of the pass's
 *      now minus events.allowed_lateness_s);
 *   4. compares each segment's members with <prefix>segment:<name> and
 *      writes the difference: ZADD of the customers who entered (score:
 *      the pass's now), ZREM of those who left, HINCRBY of <name>:entered
 *      and <name>:left in <prefix>segment_day:<day of now>; the summary
 *      <prefix>segments (store/keys.h) and the boundaries
 *      <prefix>rfm:bounds; the keys of segments no longer configured (those
 *      the previous pass wrote, or for the first pass of a process those
 *      the summary names) are deleted. On one server all of this
 *      is one MULTI/EXEC, so a pass counts each entry and exit once even if
 *      clmd stops during it; on Redis Cluster the keys live in different
 *      slots and are written one after the other, membership first (a stop
 *      between the two loses that pass's counts, it never doubles them);
 *      For a segment with notify, each entry and exit is also an alert
 *      (segment_entered, segment_left) in the same transaction, delivered
 *      by the alert publisher after it (daemon/segment_notify.c);
 *   5. writes r_score, f_score, m_score and rfm_segment into the view of
 *      each customer whose values changed since the previous pass (all of
 *      them on the first pass).
 * It only reads checkpoints and writes keys and view fields nobody else
 * writes (store/keys.h), so ingestion never waits for it.
 *
 * Threads: clm_segment_job_reload from any thread; the rest from the owner.
 */
#ifndef CLM_DAEMON_SEGMENT_JOB_H
#define CLM_DAEMON_SEGMENT_JOB_H

#include <stddef.h>

#include "config/config.h"
#include "daemon/alert_pub.h"
#include "daemon/redis.h"

typedef struct clm_segment_job clm_segment_job;

/* cfg must outlive the job (and so must every config given to reload), and
 * so must alerts, which delivers the segment_entered / segment_left alerts
 * of segments with notify (daemon/segment_notify.c). Returns NULL with
 * errbuf set. */
clm_segment_job *clm_segment_job_new(const clm_config *cfg, const clm_redis_opts *redis,
                                     clm_alert_pub *alerts, char *errbuf, size_t errsize);

/* Starts the thread. Returns 0 or a negative errno. */
int clm_segment_job_start(clm_segment_job *j);

/* Uses cfg's segments, rfm.segments and rfm.refresh_s from the next pass,
 * which starts within a second. Any thread. */
void clm_segment_job_reload(clm_segment_job *j, const clm_config *cfg);

/* Ends the thread, after the scan page under way. No-op when not started. */
void clm_segment_job_stop(clm_segment_job *j);

/* Stops and frees; accepts NULL. */
void clm_segment_job_free(clm_segment_job *j);

#endif
