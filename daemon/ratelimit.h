/* daemon/ratelimit.h - a process-wide rate limit, lock-free.
 *
 * Generic cell rate algorithm: one atomic "theoretical arrival time"; a
 * request is allowed when it is no more than `burst` intervals early.
 * Safe to call from any thread.
 */
#ifndef CLM_DAEMON_RATELIMIT_H
#define CLM_DAEMON_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct clm_ratelimit {
    _Atomic int64_t tat_us;   /* theoretical arrival time of the next request */
    _Atomic int64_t interval_us;  /* 1 / rate */
    _Atomic int64_t tolerance_us; /* (burst - 1) x interval */
    _Atomic uint64_t allowed, refused;
} clm_ratelimit;

/* rate_per_s > 0, burst >= 1. */
void clm_ratelimit_init(clm_ratelimit *rl, double rate_per_s, int burst);

/* Changes rate and burst while in use (any thread). */
void clm_ratelimit_set(clm_ratelimit *rl, double rate_per_s, int burst);

/* Takes one request at monotonic time now_us: true if allowed (counted in
 * `allowed`), false if over the limit (counted in `refused`). */
bool clm_ratelimit_take(clm_ratelimit *rl, int64_t now_us);

#endif
