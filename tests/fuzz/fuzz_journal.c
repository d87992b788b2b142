/* tests/fuzz/fuzz_journal.c - libFuzzer target for the journal's RESP
 * reading (store/journal.h): what a partition's journal holds comes back
 * from Redis, so its parser takes any bytes.
 *
 * Walks arbitrary bytes as RESP commands (clm_resp_next, every argument,
 * the key) and splits them as a flush section (clm_journal_split). Neither
 * may crash, leak or read out of bounds (ASan, UBSan); a walk that
 * succeeds must cover the input exactly, and a split that succeeds must
 * put every command in one of its two outputs and reparse cleanly, or the
 * target abort()s.
 *
 * Built by meson when configured with -Dfuzz=true and clang
 * (scripts/test.sh runs build-asan/tests/fuzz_journal).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/cmdbuf.h"
#include "store/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int slot_of(const char *key, size_t len)
{
    return len ? (unsigned char)key[0] % 4 : 0;
}

/* Commands in buf, or -1 when it does not parse. */
static long walk(const char *buf, size_t len)
{
    size_t pos = 0;
    long n = 0;
    clm_resp_cmd c;
    int r;
    while ((r = clm_resp_next(buf, len, &pos, &c)) == 1) {
        for (size_t i = 0; i < c.argc; i++) {
            const char *p;
            size_t alen;
            if (clm_resp_arg(&c, i, &p, &alen) != 0 || p < buf || p + alen > buf + len)
                abort();
        }
        const char *k;
        size_t klen;
        if (clm_resp_key(&c, &k, &klen) == 0 && (k < buf || k + klen > buf + len))
            abort();
        n++;
    }
    if (r == 0 && pos != len)
        abort();
    return r < 0 ? -1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    long n = walk(buf, size);
    clm_cmdbuf local, journal;
    clm_cmdbuf_init(&local);
    clm_cmdbuf_init(&journal);
    clm_journal_src src = { .prefix = "clm:", .source = "g:0", .slot = 1, .slot_of = slot_of,
                            .seq = 7 };
    int r = clm_journal_split(buf, size, &src, &local, &journal);
    if (r == 0) {
        if (n < 0 || walk(local.buf ? local.buf : "", local.len) != (long)local.ncmds ||
            walk(journal.buf ? journal.buf : "", journal.len) < 0)
            abort();
    } else if (r != -EPROTO && r != -ENOMEM && r != -ENAMETOOLONG) {
        abort();
    }
    clm_cmdbuf_release(&local);
    clm_cmdbuf_release(&journal);
    return 0;
}
