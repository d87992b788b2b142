/* bench/bench_decode.c - events per second of clm_decode_fast and clm_decode_json.
 *
 * Usage: bench_decode [N]   (default 1000000)
 *
 * Decodes N typical events (about 145 bytes: event_id, customer_id, type, ts
 * with milliseconds, and amount, score or duration_s by type, plus one extra
 * field) with each decoder, cycling through a pool of 65536 distinct
 * messages, and prints a table and one machine-readable line:
 *   decode_fast_eps=... decode_json_eps=... decode_fast_mbps=...
 *   decode_json_mbps=... ratio=...
 * where ratio is fast events/s over json events/s. Single thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/decode.h"

#define POOL 65536
#define MSG_MAX 256

static const char *const types[] = {"visit", "login", "session", "feature_use", "purchase",
                                    "signup", "nps_response", "support_ticket", "refund"};

static uint64_t rng = 0x2026112210150000ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Writes one typical event into out; returns its length. */
static int make_event(char *out, unsigned seq)
{
    const char *type = types[rnd(sizeof(types) / sizeof(types[0]))];
    char extra[64];
    int n;

    if (strcmp(type, "purchase") == 0 || strcmp(type, "refund") == 0)
        snprintf(extra, sizeof(extra), "\"amount\":%u.%02u,\"currency\":\"EUR\",\"sku\":\"p-%04u\"", 5 + rnd(200),
                 rnd(100), rnd(10000));
    else if (strcmp(type, "nps_response") == 0)
        snprintf(extra, sizeof(extra), "\"score\":%u,\"channel\":\"email-survey\"", rnd(11));
    else if (strcmp(type, "session") == 0)
        snprintf(extra, sizeof(extra), "\"duration_s\":%u.%u,\"device\":\"ios-app\"", rnd(3600),
                 rnd(10));
    else
        snprintf(extra, sizeof(extra), "\"page\":\"/pricing/enterprise\",\"device\":\"web\"");
    n = snprintf(out, MSG_MAX,
                 "{\"event_id\":\"e-%010u\",\"customer_id\":\"c-%06u\",\"type\":\"%s\","
                 "\"ts\":\"2026-11-22T%02u:%02u:%02u.%03uZ\",%s}",
                 seq, rnd(1000000), type, rnd(10), rnd(60), rnd(60), rnd(1000), extra);
    return n;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef int (*decode_fn)(const char *, size_t, const clm_msg_meta *, const clm_decode_opts *,
                         clm_event *, clm_reject *);

/* Decodes n messages from the pool; returns seconds and sets *ok. */
static double run(decode_fn fn, char (*pool)[MSG_MAX], const int *len, size_t n, size_t *ok)
{
    const clm_decode_opts opts = {65536, 300000, CLM_UNKNOWN_ACTIVITY, NULL, NULL};
    const clm_msg_meta meta = {NULL, 0, 1795342500000LL};
    double t0 = now_s();
    clm_event ev;
    clm_reject rej;

    *ok = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % POOL;

        if (fn(pool[k], (size_t)len[k], &meta, &opts, &ev, &rej) == 0)
            (*ok)++;
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    char (*pool)[MSG_MAX] = malloc(sizeof(*pool) * POOL);
    int *len = malloc(sizeof(*len) * POOL);
    size_t bytes = 0, ok_fast, ok_json;
    double t_fast, t_json, eps_fast, eps_json, mb;

    if (pool == NULL || len == NULL || n == 0) {
        fprintf(stderr, "usage: bench_decode [N > 0]\n");
        return 1;
    }
    for (unsigned k = 0; k < POOL; k++)
        len[k] = make_event(pool[k], k);
    for (size_t i = 0; i < n; i++)
        bytes += (size_t)len[i % POOL];

    /* One untimed pass over the pool warms caches for both. */
    run(clm_decode_fast, pool, len, POOL, &ok_fast);
    run(clm_decode_json, pool, len, POOL, &ok_json);
    t_fast = run(clm_decode_fast, pool, len, n, &ok_fast);
    t_json = run(clm_decode_json, pool, len, n, &ok_json);
    if (ok_fast != n || ok_json != n) {
        fprintf(stderr, "bench_decode: %zu/%zu fast, %zu/%zu json accepted\n", ok_fast, n,
                ok_json, n);
        return 1;
    }

    mb = (double)bytes / 1e6;
    eps_fast = (double)n / t_fast;
    eps_json = (double)n / t_json;
    printf("%zu events, %.1f bytes on average\n", n, (double)bytes / (double)n);
    printf("%-8s %14s %10s %10s\n", "decoder", "events/s", "MB/s", "ns/event");
    printf("%-8s %14.0f %10.1f %10.1f\n", "fast", eps_fast, mb / t_fast, t_fast * 1e9 / (double)n);
    printf("%-8s %14.0f %10.1f %10.1f\n", "json", eps_json, mb / t_json, t_json * 1e9 / (double)n);
    printf("decode_fast_eps=%.0f decode_json_eps=%.0f decode_fast_mbps=%.1f "
           "decode_json_mbps=%.1f ratio=%.2f\n",
           eps_fast, eps_json, mb / t_fast, mb / t_json, eps_fast / eps_json);
    free(pool);
    free(len);
    return 0;
}
