/* tests/test-identity-msg.c - the messages of identity.topic
 * (store/identity_msg.c): each kind's bytes worked out by hand, decoded
 * back, and every malformed message refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/identity_msg.h"

static void test_request(void **state)
{
    (void)state;
    clm_record_buf b;
    clm_record_buf_init(&b);
    assert_int_equal(clm_idmsg_request(&b, 0x0102030405060708LL, "k1", 2, "a", 1, "e9", 2), 0);
    static const uint8_t want[] = { 'Q', 8, 7, 6, 5, 4, 3, 2, 1, 2, 'k', '1', 1, 'a', 2, 'e', '9' };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    clm_idmsg m;
    char err[128];
    assert_int_equal(clm_idmsg_decode(&m, b.p, b.len, err, sizeof(err)), 0);
    assert_int_equal(m.kind, CLM_IDMSG_REQUEST);
    assert_int_equal(m.ts, 0x0102030405060708LL);
    assert_string_equal(m.known, "k1");
    assert_string_equal(m.anon, "a");
    assert_string_equal(m.event_id, "e9");
    /* an empty event id is allowed; a negative time round-trips */
    b.len = 0;
    assert_int_equal(clm_idmsg_request(&b, -5, "k", 1, "a", 1, "", 0), 0);
    assert_int_equal(clm_idmsg_decode(&m, b.p, b.len, err, sizeof(err)), 0);
    assert_int_equal(m.ts, -5);
    assert_int_equal(m.event_id_len, 0);
    /* bad ids are refused and leave the buffer as it was */
    size_t before = b.len;
    assert_int_equal(clm_idmsg_request(&b, 0, "k", 1, "k", 1, "", 0), -EINVAL);
    assert_int_equal(clm_idmsg_request(&b, 0, "", 0, "a", 1, "", 0), -EINVAL);
    char long_id[CLM_ID_MAX + 2];
    memset(long_id, 'x', sizeof(long_id));
    assert_int_equal(clm_idmsg_request(&b, 0, long_id, CLM_ID_MAX + 1, "a", 1, "", 0), -EINVAL);
    assert_int_equal(b.len, before);
    clm_record_buf_release(&b);
}

static void test_forward_and_record(void **state)
{
    (void)state;
    clm_record_buf b;
    clm_record_buf_init(&b);
    const char *json = "{\"type\":\"visit\"}";
    assert_int_equal(clm_idmsg_forward(&b, 1000, "k", 1, "a-1", 3, json, strlen(json)), 0);
    clm_idmsg m;
    char err[128];
    assert_int_equal(clm_idmsg_decode(&m, b.p, b.len, err, sizeof(err)), 0);
    assert_int_equal(m.kind, CLM_IDMSG_FORWARD);
    assert_int_equal(m.ts, 1000);
    assert_string_equal(m.known, "k");
    assert_string_equal(m.anon, "a-1");
    assert_int_equal(m.body_len, strlen(json));
    assert_memory_equal(m.body, json, m.body_len);
    /* a record: the kind byte, then the merge record as it is */
    b.len = 0;
    assert_int_equal(clm_idmsg_record(&b), 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.p[0], 'R');
    static const uint8_t rec[] = { 1, 2, 3 };
    uint8_t whole[4] = { 'R', 1, 2, 3 };
    assert_int_equal(clm_idmsg_decode(&m, whole, sizeof(whole), err, sizeof(err)), 0);
    assert_int_equal(m.kind, CLM_IDMSG_RECORD);
    assert_int_equal(m.body_len, 3);
    assert_memory_equal(m.body, rec, 3);
    clm_record_buf_release(&b);
}

static void test_unalias(void **state)
{
    (void)state;
    clm_record_buf b;
    clm_record_buf_init(&b);
    assert_int_equal(clm_idmsg_unalias(&b, 9, "k", 1, "a", 1), 0);
    static const uint8_t want[] = { 'U', 9, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 1, 'a', 0 };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    clm_idmsg m;
    char err[128];
    assert_int_equal(clm_idmsg_decode(&m, b.p, b.len, err, sizeof(err)), 0);
    assert_int_equal(m.kind, CLM_IDMSG_UNALIAS);
    assert_string_equal(m.known, "k");
    assert_string_equal(m.anon, "a");
    /* a release carries no event id */
    static const uint8_t eid[] = { 'U', 9, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 1, 'a', 1, 'e' };
    assert_int_equal(clm_idmsg_decode(&m, eid, sizeof(eid), err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "identity message: an event id in an alias release");
    clm_record_buf_release(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    clm_record_buf b;
    clm_record_buf_init(&b);
    clm_idmsg m;
    char err[128];
    assert_int_equal(clm_idmsg_decode(&m, (const uint8_t *)"", 0, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "identity message: empty");
    assert_int_equal(clm_idmsg_decode(&m, (const uint8_t *)"X", 1, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "identity message: unknown kind 0x58");
    assert_int_equal(clm_idmsg_request(&b, 7, "k1", 2, "a", 1, "e9", 2), 0);
    /* every truncation is refused */
    for (size_t n = 1; n < b.len; n++) {
        assert_int_equal(clm_idmsg_decode(&m, b.p, n, err, sizeof(err)), -EPROTO);
        assert_string_equal(err, "identity message: truncated or a bad length");
    }
    /* a trailing byte after a request */
    uint8_t more[64];
    memcpy(more, b.p, b.len);
    more[b.len] = 0;
    assert_int_equal(clm_idmsg_decode(&m, more, b.len + 1, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "identity message: 1 bytes after a merge request");
    /* equal ids: Q, 8 bytes of time, "k", "k" */
    static const uint8_t same[] = { 'Q', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 1, 'k', 0 };
    assert_int_equal(clm_idmsg_decode(&m, same, sizeof(same), err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "identity message: the known and anonymous ids are equal");
    /* an empty known id */
    static const uint8_t empty[] = { 'F', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a' };
    assert_int_equal(clm_idmsg_decode(&m, empty, sizeof(empty), err, sizeof(err)), -EPROTO);
    clm_record_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_forward_and_record),
        cmocka_unit_test(test_unalias),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
