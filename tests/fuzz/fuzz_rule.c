/* tests/fuzz/fuzz_rule.c - libFuzzer target for the segment rule language
 * (core/rule.c).
 *
 * Feeds arbitrary bytes (cut at the first NUL) to clm_rule_parse with a
 * resolver knowing five names: it must either parse, or fail with -EINVAL
 * and one line "at <pos>: ..." whose position lies within the text + 1.
 * A parsed rule is evaluated against values of every kind and none, and
 * must give the same answer twice.
 *
 * Built by meson when configured with -Dfuzz=true and clang (scripts/test.sh
 * runs build-asan/tests/fuzz_rule from tests/fuzz/corpus/rule).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"plan", "stage", "risk", "orders", "vip"};

static int resolve(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

static void get(void *ctx, int id, clm_rule_value *out)
{
    int variant = *(const int *)ctx;
    if (id < 0 || id > 4)
        __builtin_trap(); /* only resolved ids are read */
    switch ((id + variant) % 4) {
    case 0: *out = (clm_rule_value){.kind = CLM_RULE_STR, .str = "pro", .len = 3}; break;
    case 1: *out = (clm_rule_value){.kind = CLM_RULE_NUM, .num = 0.5}; break;
    case 2: *out = (clm_rule_value){.kind = CLM_RULE_BOOL, .b = true}; break;
    default: *out = (clm_rule_value){0}; break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    char err[160] = "";
    clm_rule *r = NULL;
    int rc = clm_rule_parse(text, resolve, NULL, &r, err, sizeof err);
    if (rc == 0) {
        if (!r)
            __builtin_trap();
        for (int v = 0; v < 4; v++)
            if (clm_rule_eval(r, get, &v) != clm_rule_eval(r, get, &v))
                __builtin_trap();
        clm_rule_free(r);
    } else {
        char *end;
        if (rc != -EINVAL || r || strncmp(err, "at ", 3) != 0 || strchr(err, '\n'))
            __builtin_trap();
        unsigned long pos = strtoul(err + 3, &end, 10);
        if (end == err + 3 || pos < 1 || (len <= CLM_RULE_MAX_LEN && pos > len + 1))
            __builtin_trap();
    }
    free(text);
    return 0;
}
