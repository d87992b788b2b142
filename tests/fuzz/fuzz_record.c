/* tests/fuzz/fuzz_record.c - libFuzzer target for the checkpoint record codec.
 *
 * Decodes arbitrary bytes into a fresh customer. The decoder must accept or
 * reject (-EPROTO with a message) without crashing, leaking or reading out
 * of bounds (ASan, UBSan); a rejected input must leave the customer fresh;
 * an accepted one must re-encode to exactly the same bytes (the record is
 * canonical), or the target abort()s.
 *
 * Built by meson when configured with -Dfuzz=true and clang
 * (scripts/test.sh runs build-asan/tests/fuzz_record); by hand:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I. \
 *       tests/fuzz/fuzz_record.c store/record.c $(ls core/[a-z]*.c) -lxxhash -lm \
 *       -o fuzz_record
 *   ./fuzz_record -max_total_time=60 /tmp/fuzz-record tests/fuzz/corpus/record
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/customer.h"
#include "store/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clm_customer *c = clm_customer_new("c-42", 4, 3);
    clm_customer *fresh = clm_customer_new("c-42", 4, 3);
    clm_record_buf b;
    char err[256];

    if (!c || !fresh)
        abort();
    clm_record_buf_init(&b);
    int r = clm_record_decode(c, data, size, err, sizeof(err));
    if (r == 0) {
        if (clm_record_encode(&b, c) != 0)
            abort();
        /* a version-2 record comes back as version 3, otherwise the same */
        if (b.len != size || b.p[0] != CLM_RECORD_VERSION ||
            memcmp(b.p + 1, data + 1, size - 1) != 0) {
            fprintf(stderr, "re-encoding differs: %zu bytes in, %zu out\n", size, b.len);
            abort();
        }
    } else {
        /* rejected: a message, and the customer as fresh as it was */
        if (r != -EPROTO || err[0] == '\0' || c->dedup.n != 0 || clm_dedup_on_heap(&c->dedup) ||
            memcmp(c, fresh, offsetof(clm_customer, id)) != 0) {
            fprintf(stderr, "bad rejection %d: %s\n", r, err);
            abort();
        }
    }
    clm_record_buf_release(&b);
    clm_customer_free(c);
    clm_customer_free(fresh);
    return 0;
}
