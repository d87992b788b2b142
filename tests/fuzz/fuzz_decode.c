/* tests/fuzz/fuzz_decode.c - libFuzzer target: clm_decode_fast must agree with
 * clm_decode_json on every input (return value, reason, and the event byte
 * for byte on success); any disagreement abort()s.
 *
 * The first input byte picks the options (bit 0: unknown_type = reject;
 * bit 1: the message key is "c-42"; bits 2-3: max_bytes 64 KiB, 16, 145 or
 * 4096; bit 4: traits "plan" (string, top level), "country" (string, in
 * "properties", bad values ignored) and "seats" (number, in "properties")
 * are configured; bit 5: event types "trial_started" (requires plan) and
 * "renewal" (as purchase) are configured) so that every rule stays
 * reachable; the rest is the message.
 *
 * Build and run from the repository root (clang with compiler-rt):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *       -I. tests/fuzz/fuzz_decode.c daemon/decode_json.c daemon/decode_fast.c \
 *       daemon/decode_util.c core/event.c core/reject.c core/timeutil.c \
 *       core/trait.c core/evtype.c -ljansson -lm -o fuzz_decode
 *   mkdir -p /tmp/fuzz-decode
 *   ./fuzz_decode -max_total_time=60 /tmp/fuzz-decode tests/fuzz/corpus/decode
 * libFuzzer reads every directory given and adds the inputs it finds to the
 * first, so the seeds in tests/fuzz/corpus/decode stay as they are.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/evtype.h"
#include "core/trait.h"
#include "daemon/decode.h"

static const clm_custom_types fuzz_types = {
    .n = 2,
    .t = {
        {.name = "trial_started", .len = 13, .as = CLM_EV_OTHER, .req_names = {"plan"}, .nreq = 1,
         .req_traits = 1},
        {.name = "renewal", .len = 7, .as = CLM_EV_PURCHASE},
    },
};

static const clm_trait_set fuzz_traits = {
    .n = 3,
    .t = {
        {.name = "plan", .field = "plan", .field_len = 4, .type = CLM_TRAIT_STR,
         .reject_invalid = true, .max_len = 8},
        {.name = "country", .field = "country", .field_len = 7, .in_properties = true,
         .type = CLM_TRAIT_STR, .max_len = 2},
        {.name = "seats", .field = "seats", .field_len = 5, .in_properties = true,
         .type = CLM_TRAIT_NUM, .reject_invalid = true},
    },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_bytes[4] = {65536, 16, 145, 4096};
    clm_decode_opts opts = {65536, 300000, CLM_UNKNOWN_ACTIVITY, NULL, NULL};
    clm_msg_meta meta = {NULL, 0, 1795342500000LL}; /* 2026-11-22T10:15:00Z */
    clm_event ej, ef;
    clm_reject xj, xf;
    const char *msg;
    size_t len;
    int rj, rf;

    if (size == 0)
        return 0;
    if (data[0] & 1)
        opts.unknown_type = CLM_UNKNOWN_REJECT;
    if (data[0] & 2) {
        meta.key = "c-42";
        meta.key_len = 4;
    }
    opts.max_bytes = max_bytes[(data[0] >> 2) & 3];
    if (data[0] & 16)
        opts.traits = &fuzz_traits;
    if (data[0] & 32)
        opts.event_types = &fuzz_types;
    msg = (const char *)data + 1;
    len = size - 1;

    memset(&ej, 0xAA, sizeof(ej));
    memset(&ef, 0x55, sizeof(ef));
    rj = clm_decode_json(msg, len, &meta, &opts, &ej, &xj);
    rf = clm_decode_fast(msg, len, &meta, &opts, &ef, &xf);
    if (rj != rf || (rj == 0 && memcmp(&ej, &ef, sizeof(ej)) != 0) ||
        (rj != 0 && xj.reason != xf.reason)) {
        fprintf(stderr, "decoders disagree: json %d %s (%s), fast %d %s (%s)\n", rj,
                clm_reason_name(rj ? xj.reason : CLM_REJ_NONE), rj ? xj.detail : "", rf,
                clm_reason_name(rf ? xf.reason : CLM_REJ_NONE), rf ? xf.detail : "");
        abort();
    }
    return 0;
}
