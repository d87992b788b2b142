/* core/watermark.h - a partition's event time, and the rule that keeps one
 * event, or one customer, far ahead from moving it.
 *
 * A partition's watermark is max_ts - events.allowed_lateness_s, where
 * max_ts is the greatest event time the partition has confirmed:
 *   - the first applied event sets max_ts;
 *   - an event at most max_jump_ms after max_ts raises it as before;
 *   - an event further ahead leaves max_ts alone and records its source
 *     (customer) as "ahead" with its time. Once `quorum` distinct sources
 *     are ahead, max_ts moves to the earliest of their times (every one of
 *     them has reached it) and the ahead set is emptied;
 *   - an ahead source is forgotten once max_ts has moved more than
 *     max_jump_ms past the max_ts at its latest ahead event: the partition
 *     went on without it.
 * So an event (or any number of events of one customer) far ahead moves
 * nothing, while a whole partition resuming after a pause moves max_ts as
 * soon as `quorum` customers have events past the pause. A quorum of 1 or a
 * max_jump_ms of 0 turns the rule off (every event raises max_ts).
 *
 * The state (clm_wm) is a function of the partition's sequence of applied
 * events and the rule alone, so a replay reaches the same state; the caller
 * stores it with the partition's offset. Pure; not thread-safe (one owner).
 */
#ifndef CLM_CORE_WATERMARK_H
#define CLM_CORE_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLM_WM_QUORUM_MAX 16

typedef struct clm_wm_rule {
    int64_t max_jump_ms; /* events further ahead of max_ts need a quorum; 0: off */
    unsigned quorum;     /* distinct sources that confirm a jump, 1..CLM_WM_QUORUM_MAX */
} clm_wm_rule;

/* A source whose events lie more than max_jump_ms ahead of max_ts. */
typedef struct clm_wm_ahead {
    uint64_t source; /* clm_wm_source() of its customer id */
    int64_t ts;      /* its greatest event time ahead */
    int64_t base;    /* max_ts when its latest such event was applied */
} clm_wm_ahead;

typedef struct clm_wm {
    int64_t max_ts;  /* CLM_NO_TS before the partition's first event */
    unsigned nahead; /* <= CLM_WM_QUORUM_MAX - 1 */
    clm_wm_ahead ahead[CLM_WM_QUORUM_MAX - 1];
} clm_wm;

/* A partition state with this max_ts (CLM_NO_TS: none) and no source ahead. */
void clm_wm_init(clm_wm *w, int64_t max_ts);

/* The source of an event: a hash of its customer id (the empty id for an
 * event without customer, so those count as one source). */
uint64_t clm_wm_source(const char *id, size_t len);

/* Takes the time of an event applied to the partition from `source`.
 * Returns true when max_ts moved. */
bool clm_wm_observe(clm_wm *w, const clm_wm_rule *r, uint64_t source, int64_t ts);

/* 0 when w is a state clm_wm_observe can reach (sources distinct, no more
 * than CLM_WM_QUORUM_MAX - 1 of them, ahead of max_ts), else -EINVAL. */
int clm_wm_check(const clm_wm *w);

#endif
