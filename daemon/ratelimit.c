/* daemon/ratelimit.c - see ratelimit.h. */
#include "daemon/ratelimit.h"

void clm_ratelimit_set(clm_ratelimit *rl, double rate_per_s, int burst)
{
    int64_t interval = (int64_t)(1e6 / rate_per_s);
    if (interval < 1)
        interval = 1;
    atomic_store(&rl->interval_us, interval);
    atomic_store(&rl->tolerance_us, (int64_t)(burst - 1) * interval);
}

void clm_ratelimit_init(clm_ratelimit *rl, double rate_per_s, int burst)
{
    atomic_init(&rl->interval_us, 1);
    atomic_init(&rl->tolerance_us, 0);
    clm_ratelimit_set(rl, rate_per_s, burst);
    atomic_init(&rl->tat_us, 0);
    atomic_init(&rl->allowed, 0);
    atomic_init(&rl->refused, 0);
}

bool clm_ratelimit_take(clm_ratelimit *rl, int64_t now_us)
{
    int64_t tat = atomic_load_explicit(&rl->tat_us, memory_order_relaxed);
    int64_t interval = atomic_load_explicit(&rl->interval_us, memory_order_relaxed);
    int64_t tolerance = atomic_load_explicit(&rl->tolerance_us, memory_order_relaxed);
    for (;;) {
        int64_t base = tat > now_us ? tat : now_us;
        if (base - now_us > tolerance) {
            atomic_fetch_add_explicit(&rl->refused, 1, memory_order_relaxed);
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(&rl->tat_us, &tat, base + interval,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&rl->allowed, 1, memory_order_relaxed);
            return true;
        }
    }
}
