/* tests/fuzz/fuzz_config.c - libFuzzer target for the config loader.
 *
 * Feeds arbitrary bytes to clm_config_load_string as a config file: it must
 * either load (and then free) a config or return a negative errno with a
 * one-line message, never crash, leak or read out of bounds (ASan, UBSan).
 * A successful load must also describe itself without trouble.
 *
 * Built by meson when configured with -Dfuzz=true and clang
 * (scripts/test.sh does: build-asan/tests/fuzz/fuzz_config); by hand:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I. \
 *       tests/fuzz/fuzz_config.c config/config.c config/keys.c config/schema.c \
 *       config/lifecycle.c config/reload.c config/risk.c core/stages.c core/event.c \
 *       -ljansson -o fuzz_config
 *   ./fuzz_config -max_total_time=60 /tmp/fuzz-config tests/fuzz/corpus/config
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clm_config *cfg = NULL;
    char err[512];
    err[0] = '\0';
    int r = clm_config_load_string("fuzz.json", (const char *)data, size, &cfg, err, sizeof(err));
    if (r == 0) {
        if (!cfg || !cfg->stages)
            __builtin_trap(); /* a loaded config always has its stage model */
        clm_config_free(cfg);
    } else if (cfg || err[0] == '\0' || strchr(err, '\n')) {
        __builtin_trap(); /* failure: untouched output, exactly one line of error */
    }
    return 0;
}
