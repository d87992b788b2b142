/* tests/test-journal.c - store/journal.h: a partition's flush sorted into
 * its own slot's commands and a journal that a real redis-server may run
 * twice with the effect of once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/cmdbuf.h"
#include "store/flush.h"
#include "store/forget.h"
#include "store/journal.h"
#include "tests/harness.h"

static char errbuf[512];

#define CHECK(call) do { int r_ = (call); if (r_ < 0) fail_msg("%s: %s (%d)", #call, errbuf, r_); } while (0)

/* A stand-in for the cluster's slot function that is easy to reason about:
 * keys with the tag {g:0} are slot 7, every other key its length plus 100
 * (the guard key of a key K is <prefix>applied:{K}: same slot as K, by the
 * tag rule, which this function follows for that one shape). */
static int slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - key);
        }
    }
    if (len == 3 && memcmp(key, "g:0", 3) == 0)
        return 7;
    return (int)(100 + len);
}

static void add(clm_cmdbuf *b, int argc, const char **argv)
{
    assert_int_equal(clm_cmdbuf_append(b, argc, argv, NULL), 0);
}

/* The commands a partition 0 flush of group g would carry. */
static void flush_section(clm_cmdbuf *b)
{
    size_t slen;
    const char *sat = clm_flush_hadd_sat_script(&slen);
    char script[4096];
    memcpy(script, sat, slen);
    script[slen] = '\0';
    const char *ckpt[] = { "HSET", "t:ckpt:{g:0}", "c-1", "rec" };
    const char *view[] = { "HSET", "t:customer:c-1", "stage", "engaged", "revenue", "12.5" };
    const char *stats[] = { "HINCRBY", "t:stats", "consumed", "3" };
    const char *stats2[] = { "HINCRBY", "t:stats", "applied", "2" };
    const char *day[] = { "EVAL", script, "1", "t:day:2024-01-01", "events", "3", "revenue_micros",
                          "9223372036854775000" };
    const char *buckets[] = { "ZADD", "t:buckets", "19723", "2024-01-01" };
    const char *xadd[] = { "XADD", "t:alerts", "MAXLEN", "~", "100", "*", "alert_id", "a1" };
    const char *outbox[] = { "HSET", "t:alerts:outbox", "a1", "{\"kind\":\"churned\"}" };
    const char *risk[] = { "ZADD", "t:at_risk", "0.7", "c-1" };
    add(b, 4, ckpt);
    add(b, 6, view);
    add(b, 4, stats);
    add(b, 8, day);
    add(b, 4, buckets);
    add(b, 8, xadd);
    add(b, 4, outbox);
    add(b, 4, stats2);
    add(b, 4, risk);
}

static const clm_journal_src SRC = { .prefix = "t:", .source = "g:0", .slot = 7,
                                     .slot_of = slot_of, .seq = 5 };

static size_t count_cmds(const clm_cmdbuf *b, const char *name)
{
    size_t pos = 0, n = 0;
    clm_resp_cmd c;
    while (clm_resp_next(b->buf, b->len, &pos, &c) == 1) {
        const char *p;
        size_t len;
        assert_int_equal(clm_resp_arg(&c, 0, &p, &len), 0);
        n += len == strlen(name) && memcmp(p, name, len) == 0;
    }
    return n;
}

/* An erasure (store/forget.h) only deletes: its commands on other slots
 * travel as they are, the erasure log entry guarded like every XADD. */
static void test_split_forget(void **state)
{
    (void)state;
    clm_cmdbuf in, local, journal;
    clm_cmdbuf_init(&in);
    clm_cmdbuf_init(&local);
    clm_cmdbuf_init(&journal);
    assert_int_equal(clm_forget_fmt(&in, "t:", "g", 0, "c-94", 4, 1700000000000, "0123456789abcdef"),
                     0);
    assert_int_equal(in.ncmds, 10);
    assert_int_equal(clm_journal_split(in.buf, in.len, &SRC, &local, &journal), 0);
    /* the partition's own keys: checkpoint, deadline index, paging hash */
    assert_int_equal(local.ncmds, 3);
    assert_int_equal(count_cmds(&local, "HDEL"), 1);
    assert_int_equal(count_cmds(&local, "ZREM"), 1);
    assert_int_equal(count_cmds(&local, "EVAL"), 1);
    /* upgrade pool HDEL, view DEL, at_risk ZREM, three scrubs as they are,
     * then the erasure log's guarded XADD */
    assert_int_equal(count_cmds(&journal, "HDEL"), 1);
    assert_int_equal(count_cmds(&journal, "DEL"), 1);
    assert_int_equal(count_cmds(&journal, "ZREM"), 1);
    assert_int_equal(count_cmds(&journal, "EVAL"), 4);
    assert_int_equal(count_cmds(&journal, "XADD"), 0);
    assert_non_null(memmem(journal.buf, journal.len, "t:erasure_log", 13));
    /* HMAC-SHA256("0123456789abcdef", "c-94"), worked out apart */
    assert_non_null(memmem(journal.buf, journal.len,
                           "3c2c6324cf9570c74f8c24b88c50aee69c989f481f5d11b27e1c7de6f028cac2", 64));
    char hex[CLM_FORGET_HMAC_HEX + 1];
    assert_int_equal(clm_forget_hmac("0123456789abcdef", 16, "c-94", 4, hex), 0);
    assert_string_equal(hex, "3c2c6324cf9570c74f8c24b88c50aee69c989f481f5d11b27e1c7de6f028cac2");
    assert_int_equal(clm_forget_hmac("", 0, "c-94", 4, hex), -EINVAL);
    clm_cmdbuf_release(&in);
    clm_cmdbuf_release(&local);
    clm_cmdbuf_release(&journal);
}

static void test_split(void **state)
{
    (void)state;
    clm_cmdbuf in, local, journal;
    clm_cmdbuf_init(&in);
    clm_cmdbuf_init(&local);
    clm_cmdbuf_init(&journal);
    flush_section(&in);
    assert_int_equal(clm_journal_split(in.buf, in.len, &SRC, &local, &journal), 0);
    /* only the checkpoint is in the partition's slot */
    assert_int_equal(local.ncmds, 1);
    assert_non_null(strstr(local.buf, "t:ckpt:{g:0}"));
    /* set-a-value commands travel as they are: view, buckets, at_risk */
    assert_int_equal(count_cmds(&journal, "HSET"), 1);
    assert_int_equal(count_cmds(&journal, "ZADD"), 2);
    /* the adds and the outbox: one guarded script per key (stats, day,
     * alerts, outbox), the two stats increments in one */
    assert_int_equal(count_cmds(&journal, "EVAL"), 4);
    assert_int_equal(count_cmds(&journal, "HINCRBY"), 0);
    assert_int_equal(count_cmds(&journal, "XADD"), 0);

    /* a command the journal cannot carry safely is refused, not passed on */
    clm_cmdbuf bad, l2, j2;
    clm_cmdbuf_init(&bad);
    clm_cmdbuf_init(&l2);
    clm_cmdbuf_init(&j2);
    const char *expire[] = { "EXPIRE", "t:stats", "10" };
    add(&bad, 3, expire);
    assert_int_equal(clm_journal_split(bad.buf, bad.len, &SRC, &l2, &j2), -EPROTO);
    /* nor bytes that are not RESP commands */
    assert_int_equal(clm_journal_split("*1\r\n$4\r\nPI", 12, &SRC, &l2, &j2), -EPROTO);
    clm_cmdbuf_release(&bad);
    clm_cmdbuf_release(&l2);
    clm_cmdbuf_release(&j2);
    clm_cmdbuf_release(&in);
    clm_cmdbuf_release(&local);
    clm_cmdbuf_release(&journal);
}

static void run(redisContext *c, const clm_cmdbuf *b)
{
    assert_int_equal(redisAppendFormattedCommand(c, b->buf, b->len), REDIS_OK);
    size_t pos = 0;
    clm_resp_cmd cmd;
    while (clm_resp_next(b->buf, b->len, &pos, &cmd) == 1) {
        redisReply *rep;
        assert_int_equal(redisGetReply(c, (void **)&rep), REDIS_OK);
        if (rep->type == REDIS_REPLY_ERROR)
            fail_msg("journal command failed: %s", rep->str);
        freeReplyObject(rep);
    }
}

static long long num(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER  ? rep->integer
                  : rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10)
                                                    : -1;
    freeReplyObject(rep);
    return v;
}

/* Applying a journal twice, or an older one after a newer one, changes
 * nothing the second time; the next seq applies again. */
static void test_apply_once(void **state)
{
    (void)state;
    harness_redis *r;
    redisContext *c;
    CHECK(harness_redis_start(&r, errbuf, sizeof(errbuf)));
    CHECK(harness_redis_connect(r, &c, errbuf, sizeof(errbuf)));
    clm_cmdbuf in, local, journal;
    clm_cmdbuf_init(&in);
    clm_cmdbuf_init(&local);
    clm_cmdbuf_init(&journal);
    flush_section(&in);
    assert_int_equal(clm_journal_split(in.buf, in.len, &SRC, &local, &journal), 0);
    run(c, &journal);
    run(c, &journal); /* a replay by whoever resumes the partition */
    assert_int_equal(num(c, "HGET t:stats consumed"), 3);
    assert_int_equal(num(c, "HGET t:stats applied"), 2);
    assert_int_equal(num(c, "HGET t:day:2024-01-01 events"), 3);
    assert_int_equal(num(c, "XLEN t:alerts"), 1);
    assert_int_equal(num(c, "HLEN t:alerts:outbox"), 1);
    assert_int_equal(num(c, "ZCARD t:at_risk"), 1);
    assert_int_equal(num(c, "HGET t:applied:{t:stats} g:0"), 5);
    /* the outbox entry published and removed: a replay does not bring it back */
    assert_int_equal(num(c, "HDEL t:alerts:outbox a1"), 1);
    run(c, &journal);
    assert_int_equal(num(c, "HLEN t:alerts:outbox"), 0);

    /* the next flush (seq 6) adds again; the money sum saturates at
     * INT64_MAX instead of failing half a flush */
    clm_journal_src next = SRC;
    next.seq = 6;
    clm_cmdbuf_reset(&local);
    clm_cmdbuf_reset(&journal);
    assert_int_equal(clm_journal_split(in.buf, in.len, &next, &local, &journal), 0);
    run(c, &journal);
    run(c, &journal);
    assert_int_equal(num(c, "HGET t:stats consumed"), 6);
    assert_int_equal(num(c, "HGET t:day:2024-01-01 events"), 6);
    redisReply *rep = redisCommand(c, "HGET t:day:2024-01-01 revenue_micros");
    assert_string_equal(rep->str, "9223372036854775807");
    freeReplyObject(rep);
    assert_int_equal(num(c, "XLEN t:alerts"), 2);
    /* another partition's journal with a lower seq still applies: guards are per source */
    clm_journal_src other = SRC;
    other.source = "g:1";
    other.seq = 1;
    clm_cmdbuf_reset(&local);
    clm_cmdbuf_reset(&journal);
    assert_int_equal(clm_journal_split(in.buf, in.len, &other, &local, &journal), 0);
    run(c, &journal);
    assert_int_equal(num(c, "HGET t:stats consumed"), 9);
    clm_cmdbuf_release(&in);
    clm_cmdbuf_release(&local);
    clm_cmdbuf_release(&journal);
    redisFree(c);
    CHECK(harness_redis_stop(r, errbuf, sizeof(errbuf)));
    harness_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_forget),
        cmocka_unit_test(test_apply_once),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
