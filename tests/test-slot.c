/* tests/test-slot.c - CRC16 and the key-to-slot mapping of Redis Cluster
 * (net/slot.c), against the examples of the Redis Cluster specification and
 * slot numbers a real redis-server gives for CLUSTER KEYSLOT (the
 * integration test test-cluster-client checks thousands more against one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/slot.h"

static int slot(const char *key)
{
    return clm_slot_of(key, strlen(key));
}

static void test_crc16(void **state)
{
    (void)state;
    assert_int_equal(clm_crc16("123456789", 9), 0x31C3);
    assert_int_equal(clm_crc16("", 0), 0);
    assert_int_equal(clm_crc16("A", 1), 0x58E5);
}

static void test_no_tag(void **state)
{
    (void)state;
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("123456789"), 12739); /* 0x31C3 mod 16384 */
    assert_int_equal(slot(""), 0);
    assert_int_equal(slot("user1000"), clm_crc16("user1000", 8) % CLM_CLUSTER_SLOTS);
    /* a '{' with no '}' after it, or a '}' before the '{': the whole key */
    assert_int_equal(slot("foo{bar"), clm_crc16("foo{bar", 7) % CLM_CLUSTER_SLOTS);
    assert_int_equal(slot("foo}bar{"), clm_crc16("foo}bar{", 8) % CLM_CLUSTER_SLOTS);
}

static void test_hash_tags(void **state)
{
    (void)state;
    /* the specification's examples */
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    assert_int_equal(slot("{user1000}.followers"), slot("user1000"));
    assert_int_equal(slot("foo{}{bar}"), clm_crc16("foo{}{bar}", 10) % CLM_CLUSTER_SLOTS);
    assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    assert_int_equal(slot("foo{bar}{zap}"), 5061);
    /* the tag may sit anywhere and be a single byte */
    assert_int_equal(slot("x{a}y"), slot("a"));
    assert_int_equal(slot("{foo}"), 12182);
    /* bytes after a NUL count: the key is len bytes, not a C string */
    assert_int_equal(clm_slot_of("{a\0b}", 5), clm_crc16("a\0b", 3) % CLM_CLUSTER_SLOTS);
    assert_int_not_equal(clm_slot_of("a\0b", 3), slot("a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_no_tag),
        cmocka_unit_test(test_hash_tags),
    };
    return cmocka_run_group_tests_name("slot", tests, NULL, NULL);
}
