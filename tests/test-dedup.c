/* tests/test-dedup.c - per-customer recent event-id set (core/dedup.c); its
 * v1 text is in test-v1.c. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/dedup.h"

/* XXH3 64-bit, seed 0, as printed by `printf 'e-1' | xxhsum -H3`. */
#define HASH_E1 0x3d21bc8729acd985ULL
/* The XXH3 64-bit hash of empty input (`printf '' | xxhsum -H3`). */
#define HASH_EMPTY 0x2d06800538d394c2ULL

#define HORIZON_NONE INT64_C(1000000000000) /* wider than any test's time span */

/* The set as "<16 hex>:<ts_ms>" entries joined by ',', oldest first. */
static void check_format(const clm_dedup *d, const char *want)
{
    char buf[512];
    size_t off = 0;

    buf[0] = '\0';
    for (uint16_t i = 0; i < d->n; i++) {
        int n = snprintf(buf + off, sizeof(buf) - off, "%s%016" PRIx64 ":%" PRId64, i ? "," : "",
                         clm_dedup_entries(d)[i].hash, clm_dedup_entries(d)[i].ts_ms);
        assert_true(n > 0 && (size_t)n < sizeof(buf) - off);
        off += (size_t)n;
    }
    assert_string_equal(buf, want);
}

static void test_hash(void **state)
{
    (void)state;
    assert_true(clm_dedup_hash("e-1", 3) == HASH_E1);
    assert_true(clm_dedup_hash("", 0) == HASH_EMPTY);
    /* The length decides: "e-12" cut at 3 is "e-1". */
    assert_true(clm_dedup_hash("e-12", 3) == HASH_E1);
}

static void test_contains_add(void **state)
{
    (void)state;
    clm_dedup d;

    clm_dedup_init(&d);
    assert_int_equal(d.n, 0);
    assert_false(clm_dedup_contains(&d, 1));
    assert_int_equal(clm_dedup_add(&d, 1, 100, 100, 1000, 10), 0);
    assert_int_equal(clm_dedup_add(&d, 2, 200, 200, 1000, 10), 0);
    assert_int_equal(d.n, 2);
    assert_true(clm_dedup_contains(&d, 1));
    assert_true(clm_dedup_contains(&d, 2));
    assert_false(clm_dedup_contains(&d, 3));
    clm_dedup_release(&d);
    assert_int_equal(d.n, 0);
    assert_false(clm_dedup_on_heap(&d)); /* nothing allocated */
    assert_false(clm_dedup_contains(&d, 1));
    clm_dedup_release(NULL);
}

static void test_horizon_prune(void **state)
{
    (void)state;
    clm_dedup d;

    clm_dedup_init(&d);
    /* horizon 1000: ts 0 and 500 with latest 500 -> cutoff -500, both kept. */
    assert_int_equal(clm_dedup_add(&d, 0xa, 0, 0, 1000, 10), 0);
    assert_int_equal(clm_dedup_add(&d, 0xb, 500, 500, 1000, 10), 0);
    assert_int_equal(d.n, 2);
    /* latest 1600 -> cutoff 1600 - 1000 = 600: 0 and 500 are older, dropped. */
    assert_int_equal(clm_dedup_add(&d, 0xc, 1600, 1600, 1000, 10), 0);
    assert_int_equal(d.n, 1);
    assert_false(clm_dedup_contains(&d, 0xa));
    assert_false(clm_dedup_contains(&d, 0xb));
    assert_true(clm_dedup_contains(&d, 0xc));
    /* Exactly at the cutoff (600 == 1600 - 1000) is not older: kept. */
    assert_int_equal(clm_dedup_add(&d, 0xd, 600, 1600, 1000, 10), 0);
    check_format(&d, "000000000000000d:600,000000000000000c:1600");
    /* 599 is older than the cutoff: recorded, then pruned at once. */
    assert_int_equal(clm_dedup_add(&d, 0xe, 599, 1600, 1000, 10), 0);
    assert_false(clm_dedup_contains(&d, 0xe));
    assert_int_equal(d.n, 2);
    /* latest 5000 -> cutoff 4000 drops everything, the new 3000 included. */
    assert_int_equal(clm_dedup_add(&d, 0xf, 3000, 5000, 1000, 10), 0);
    assert_int_equal(d.n, 0);
    assert_false(clm_dedup_on_heap(&d)); /* nothing allocated */
    clm_dedup_release(&d);
}

static void test_max_ids(void **state)
{
    (void)state;
    clm_dedup d;

    clm_dedup_init(&d);
    /* max_ids 3: the 4th add (ts 40) drops the oldest, ts 10. */
    for (int64_t ts = 10; ts <= 40; ts += 10)
        assert_int_equal(clm_dedup_add(&d, (uint64_t)ts, ts, ts, HORIZON_NONE, 3), 0);
    assert_int_equal(d.n, 3);
    check_format(&d, "0000000000000014:20,000000000000001e:30,0000000000000028:40");
    /* An out-of-order id at ts 5 is the oldest of four, so it is the one dropped. */
    assert_int_equal(clm_dedup_add(&d, 5, 5, 40, HORIZON_NONE, 3), 0);
    assert_false(clm_dedup_contains(&d, 5));
    check_format(&d, "0000000000000014:20,000000000000001e:30,0000000000000028:40");
    /* ts 25 sorts between 20 and 30; 20 becomes the oldest and goes. */
    assert_int_equal(clm_dedup_add(&d, 0x19, 25, 40, HORIZON_NONE, 3), 0);
    check_format(&d, "0000000000000019:25,000000000000001e:30,0000000000000028:40");
    /* max_ids 1 keeps only the newest. */
    assert_int_equal(clm_dedup_add(&d, 0x32, 50, 50, HORIZON_NONE, 1), 0);
    check_format(&d, "0000000000000032:50");
    clm_dedup_release(&d);
}

static void test_out_of_order(void **state)
{
    (void)state;
    clm_dedup d;

    clm_dedup_init(&d);
    /* Arrival: a@300, b@100, c@200, d@100. Sorted by ts, the two at 100 in
     * arrival order (b before d): b, d, c, a. */
    assert_int_equal(clm_dedup_add(&d, 0xa, 300, 300, HORIZON_NONE, 10), 0);
    assert_int_equal(clm_dedup_add(&d, 0xb, 100, 300, HORIZON_NONE, 10), 0);
    assert_int_equal(clm_dedup_add(&d, 0xc, 200, 300, HORIZON_NONE, 10), 0);
    assert_int_equal(clm_dedup_add(&d, 0xd, 100, 300, HORIZON_NONE, 10), 0);
    check_format(&d, "000000000000000b:100,000000000000000d:100,"
                     "000000000000000c:200,000000000000000a:300");
    assert_int_equal(clm_dedup_entries(&d)[0].ts_ms, 100);
    assert_int_equal(clm_dedup_entries(&d)[3].ts_ms, 300);
    clm_dedup_release(&d);
}

/* Rebuilding a stored set: entries in time order, no pruning. */
static void test_append(void **state)
{
    (void)state;
    clm_dedup d;

    clm_dedup_init(&d);
    assert_int_equal(clm_dedup_append(&d, 1, -5), 0);
    assert_int_equal(clm_dedup_append(&d, HASH_E1, 1700000000000), 0);
    assert_int_equal(clm_dedup_append(&d, 2, 1700000000000), 0); /* a tie keeps order */
    check_format(&d, "0000000000000001:-5,3d21bc8729acd985:1700000000000,"
                     "0000000000000002:1700000000000");
    /* Older than the newest: refused, the set unchanged. */
    assert_int_equal(clm_dedup_append(&d, 3, 1699999999999), -EINVAL);
    assert_int_equal(d.n, 3);
    assert_true(clm_dedup_contains(&d, HASH_E1));
    assert_false(clm_dedup_contains(&d, 3));
    clm_dedup_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_contains_add),
        cmocka_unit_test(test_horizon_prune),
        cmocka_unit_test(test_max_ids),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_append),
    };
    return cmocka_run_group_tests_name("dedup", tests, NULL, NULL);
}
