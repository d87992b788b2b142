/* tests/test-custtab.c - bounded customer table with CLOCK eviction (core/custtab.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/custtab.h"

/* Customers here are named "c-<n>" and carry n in their partition field, so
 * predicates and visitors can index plain arrays by it. */
static clm_customer *cust(unsigned n)
{
    char id[16];
    int len = snprintf(id, sizeof(id), "c-%u", n);
    clm_customer *c = clm_customer_new(id, (size_t)len, (uint16_t)n);

    assert_non_null(c);
    return c;
}

static clm_customer *get(clm_custtab *t, unsigned n)
{
    char id[16];
    int len = snprintf(id, sizeof(id), "c-%u", n);

    return clm_custtab_get(t, id, (size_t)len);
}

static bool always(const clm_customer *c, void *ctx)
{
    (void)c;
    (void)ctx;
    return true;
}

static bool never(const clm_customer *c, void *ctx)
{
    (void)c;
    (void)ctx;
    return false;
}

/* ctx: a bool array indexed by customer number. */
static bool marked(const clm_customer *c, void *ctx)
{
    return ((const bool *)ctx)[c->part];
}

/* ctx: an unsigned array indexed by customer number, counting visits. */
static void count_visit(clm_customer *c, void *ctx)
{
    ((unsigned *)ctx)[c->part]++;
}

static void test_new_free(void **state)
{
    (void)state;
    assert_null(clm_custtab_new(0));
    clm_custtab *t = clm_custtab_new(3);
    assert_non_null(t);
    assert_int_equal(clm_custtab_max(t), 3);
    assert_int_equal(clm_custtab_count(t), 0);
    assert_null(clm_custtab_get(t, "c-1", 3));
    clm_custtab_free(t);
    clm_custtab_free(NULL);
}

static void test_put_get(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(3);
    clm_customer *a = cust(1), *b = cust(2);

    assert_int_equal(clm_custtab_put(t, a), 0);
    assert_int_equal(clm_custtab_put(t, b), 0);
    assert_int_equal(clm_custtab_count(t), 2);
    assert_ptr_equal(get(t, 1), a);
    assert_ptr_equal(get(t, 2), b);
    assert_null(get(t, 3));
    /* The length decides: "c-12" cut at 3 is "c-1". */
    assert_ptr_equal(clm_custtab_get(t, "c-12", 3), a);
    assert_null(clm_custtab_get(t, "c-12", 4));
    /* get marks the customer referenced. */
    b->flags = 0;
    assert_ptr_equal(get(t, 2), b);
    assert_int_equal(b->flags, CLM_CUST_REF);

    /* Same id again: refused, the caller keeps the duplicate. */
    clm_customer *dup = cust(1);
    assert_int_equal(clm_custtab_put(t, dup), -EEXIST);
    assert_int_equal(clm_custtab_count(t), 2);
    assert_ptr_equal(get(t, 1), a);
    clm_customer_free(dup);

    /* A third fills max 3; a fourth is refused and not taken. */
    assert_int_equal(clm_custtab_put(t, cust(3)), 0);
    clm_customer *d = cust(4);
    assert_int_equal(clm_custtab_put(t, d), -ENOSPC);
    assert_int_equal(clm_custtab_count(t), 3);
    assert_null(get(t, 4));
    clm_customer_free(d);
    clm_custtab_free(t);
}

static void test_growth(void **state)
{
    (void)state;
    /* max 10000: slots start at 1024 and must double past 5000 entries. */
    clm_custtab *t = clm_custtab_new(10000);
    clm_customer *all[5000];

    for (unsigned i = 0; i < 5000; i++) {
        all[i] = cust(i);
        assert_int_equal(clm_custtab_put(t, all[i]), 0);
    }
    assert_int_equal(clm_custtab_count(t), 5000);
    for (unsigned i = 0; i < 5000; i++)
        assert_ptr_equal(get(t, i), all[i]);
    assert_null(get(t, 5000));
    assert_null(get(t, 10000));
    clm_custtab_free(t);
}

static void test_foreach(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(200);
    unsigned visits[200] = { 0 };

    for (unsigned i = 0; i < 150; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    clm_custtab_foreach(t, count_visit, visits);
    for (unsigned i = 0; i < 150; i++)
        assert_int_equal(visits[i], 1);
    for (unsigned i = 150; i < 200; i++)
        assert_int_equal(visits[i], 0);
    clm_custtab_free(t);
}

static void test_evict_second_chance(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(4);

    for (unsigned i = 1; i <= 4; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    /* c-1 referenced. The hand meets each customer once in its first lap:
     * c-2..c-4 are evicted when met, c-1 only loses its REF bit. */
    assert_non_null(get(t, 1));
    assert_int_equal(clm_custtab_evict(t, 3, always, NULL), 3);
    assert_int_equal(clm_custtab_count(t), 1);
    clm_customer *a = get(t, 1);
    assert_non_null(a);
    assert_null(get(t, 2));
    assert_null(get(t, 3));
    assert_null(get(t, 4));

    /* Referenced again by the get above: one evict clears the bit on the
     * first lap and takes it on the second. */
    assert_int_equal(clm_custtab_evict(t, 1, always, NULL), 1);
    assert_int_equal(clm_custtab_count(t), 0);
    /* Nothing left. */
    assert_int_equal(clm_custtab_evict(t, 1, always, NULL), 0);
    clm_custtab_free(t);
}

static void test_evict_all_referenced(void **state)
{
    (void)state;
    /* max 8 -> 16 slots. All 8 customers referenced and evictable: the first
     * lap of the hand (16 steps) only clears REF bits, the second takes them.
     * Asking for all 8 must evict 8 ("fewer" only when fewer are evictable). */
    clm_custtab *t = clm_custtab_new(8);

    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    for (unsigned i = 0; i < 8; i++)
        assert_non_null(get(t, i));
    assert_int_equal(clm_custtab_evict(t, 8, always, NULL), 8);
    assert_int_equal(clm_custtab_count(t), 0);
    clm_custtab_free(t);
}

static void test_evict_predicate(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(8);
    bool may[8] = { false };

    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    /* Only even numbers may go (0, 2, 4, 6): asking for 6 evicts 4. */
    for (unsigned i = 0; i < 8; i += 2)
        may[i] = true;
    assert_int_equal(clm_custtab_evict(t, 6, marked, may), 4);
    assert_int_equal(clm_custtab_count(t), 4);
    for (unsigned i = 0; i < 8; i++) {
        if (i % 2)
            assert_non_null(get(t, i));
        else
            assert_null(get(t, i));
    }
    /* All four left are referenced now (by the gets) and none may go. */
    assert_int_equal(clm_custtab_evict(t, 1, never, NULL), 0);
    assert_int_equal(clm_custtab_count(t), 4);
    /* Asking for 2 of the 4 takes exactly 2. */
    assert_int_equal(clm_custtab_evict(t, 2, always, NULL), 2);
    assert_int_equal(clm_custtab_count(t), 2);
    clm_custtab_free(t);
}

static void test_remove_if(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(100);
    bool doomed[100] = { false };

    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    /* Multiples of 3 in 0..99: 0, 3, ..., 99 -> 34 of them. */
    for (unsigned i = 0; i < 100; i += 3)
        doomed[i] = true;
    assert_int_equal(clm_custtab_remove_if(t, marked, doomed), 34);
    assert_int_equal(clm_custtab_count(t), 66);
    for (unsigned i = 0; i < 100; i++) {
        if (doomed[i])
            assert_null(get(t, i));
        else
            assert_non_null(get(t, i));
    }
    assert_int_equal(clm_custtab_remove_if(t, never, NULL), 0);
    assert_int_equal(clm_custtab_remove_if(t, always, NULL), 66);
    assert_int_equal(clm_custtab_count(t), 0);
    clm_custtab_free(t);
}

/* Removing one customer by id keeps every other reachable (the probe
 * chains stay intact); a second removal finds nothing. */
static void test_remove_one(void **state)
{
    (void)state;
    clm_custtab *t = clm_custtab_new(100);

    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(clm_custtab_put(t, cust(i)), 0);
    for (unsigned i = 0; i < 100; i += 2)
        assert_true(clm_custtab_remove(t, get(t, i)->id, get(t, i)->id_len));
    assert_false(clm_custtab_remove(t, "c-0", 3));
    assert_false(clm_custtab_remove(t, "c-100", 5));
    assert_int_equal(clm_custtab_count(t), 50);
    for (unsigned i = 0; i < 100; i++) {
        if (i % 2 == 0)
            assert_null(get(t, i));
        else
            assert_non_null(get(t, i));
    }
    assert_int_equal(clm_custtab_put(t, cust(0)), 0); /* the id may come back */
    assert_non_null(get(t, 0));
    clm_custtab_free(t);
}

/* Deterministic xorshift64 stream. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ctx for evict_tracked: may[n] allows customer n to go; what goes is
 * cleared in present[]. */
typedef struct tracked {
    const bool *may;
    bool *present;
} tracked;

static bool evict_tracked(const clm_customer *c, void *ctx)
{
    tracked *tr = ctx;

    if (!tr->may[c->part])
        return false;
    tr->present[c->part] = false; /* the table frees it now */
    return true;
}

#define STRESS_IDS 3000u
#define STRESS_MAX 700u /* 1024 slots, growing once to 2048 past 512 */

/* The table holds exactly the customers `present` says, each retrievable
 * under its own id and visited once by foreach. */
static void check_consistent(clm_custtab *t, const bool *present)
{
    static unsigned visits[STRESS_IDS];
    size_t n = 0;

    memset(visits, 0, sizeof(visits));
    clm_custtab_foreach(t, count_visit, visits);
    for (unsigned i = 0; i < STRESS_IDS; i++) {
        clm_customer *c = get(t, i);
        if (present[i]) {
            assert_non_null(c);
            assert_int_equal(c->part, i);
            assert_int_equal(visits[i], 1);
            n++;
        } else {
            assert_null(c);
            assert_int_equal(visits[i], 0);
        }
    }
    assert_int_equal(clm_custtab_count(t), n);
}

static void test_stress(void **state)
{
    (void)state;
    static bool present[STRESS_IDS], doomed[STRESS_IDS];
    clm_custtab *t = clm_custtab_new(STRESS_MAX);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    size_t count = 0, peak = 0, refused = 0;

    memset(present, 0, sizeof(present));
    /* 20 phases of 1000 random puts and single removals = 20000 operations,
     * each phase ending in a bulk remove_if and a partial evict, with a full
     * consistency check after each step. */
    for (int phase = 0; phase < 20; phase++) {
        for (int op = 0; op < 1000; op++) {
            unsigned i = (unsigned)(next_rand(&seed) % STRESS_IDS);
            clm_customer *c = cust(i);
            int r = clm_custtab_put(t, c);
            if (present[i]) {
                /* A full table refuses before it looks the id up. */
                assert_int_equal(r, count == STRESS_MAX ? -ENOSPC : -EEXIST);
                clm_customer_free(c);
                /* Remove this one alone, every other time. */
                if (next_rand(&seed) & 1) {
                    memset(doomed, 0, sizeof(doomed));
                    doomed[i] = true;
                    assert_int_equal(clm_custtab_remove_if(t, marked, doomed), 1);
                    present[i] = false;
                    count--;
                }
            } else if (count == STRESS_MAX) {
                assert_int_equal(r, -ENOSPC);
                clm_customer_free(c);
                refused++;
            } else {
                assert_int_equal(r, 0);
                present[i] = true;
                count++;
                peak = count > peak ? count : peak;
            }
        }
        check_consistent(t, present);
        /* Drop about a third of what is present. */
        size_t want = 0;
        for (unsigned i = 0; i < STRESS_IDS; i++) {
            doomed[i] = present[i] && next_rand(&seed) % 3 == 0;
            want += doomed[i];
        }
        assert_int_equal(clm_custtab_remove_if(t, marked, doomed), want);
        for (unsigned i = 0; i < STRESS_IDS; i++)
            if (doomed[i])
                present[i] = false;
        count -= want;
        check_consistent(t, present);
        /* Evict up to 50 of a random half, tracking which ones went. */
        for (unsigned i = 0; i < STRESS_IDS; i++)
            doomed[i] = next_rand(&seed) & 1;
        tracked tr = { .may = doomed, .present = present };
        size_t gone = clm_custtab_evict(t, 50, evict_tracked, &tr);
        assert_true(gone <= 50);
        count -= gone;
        check_consistent(t, present);
    }
    /* The run reached the limit, and with it the table's growth. */
    assert_int_equal(peak, STRESS_MAX);
    assert_true(refused > 0);
    /* Removing everything leaves an empty, usable table. */
    assert_int_equal(clm_custtab_remove_if(t, always, NULL), count);
    assert_int_equal(clm_custtab_count(t), 0);
    memset(present, 0, sizeof(present));
    check_consistent(t, present);
    assert_int_equal(clm_custtab_put(t, cust(7)), 0);
    assert_non_null(get(t, 7));
    clm_custtab_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test(test_remove_one),
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_evict_second_chance),
        cmocka_unit_test(test_evict_all_referenced),
        cmocka_unit_test(test_evict_predicate),
        cmocka_unit_test(test_remove_if),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests_name("custtab", tests, NULL, NULL);
}
