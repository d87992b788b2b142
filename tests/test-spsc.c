/* tests/test-spsc.c - single-producer/single-consumer pointer ring (core/spsc.c). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/spsc.h"

/* Small integers stored as pointers; value + 1 so that 0 is never NULL. */
static void *as_ptr(uintptr_t v)
{
    return (void *)(v + 1);
}

static uintptr_t as_int(void *p)
{
    return (uintptr_t)p - 1;
}

static void test_invalid_sizes(void **state)
{
    (void)state;
    assert_null(clm_spsc_new(0));
    assert_null(clm_spsc_new(2));  /* a power of two, but below 4 */
    assert_null(clm_spsc_new(3));
    assert_null(clm_spsc_new(5));
    assert_null(clm_spsc_new(1000));
    clm_spsc *r = clm_spsc_new(4);
    assert_non_null(r);
    clm_spsc_free(r);
    clm_spsc_free(NULL);
}

static void test_order_and_full(void **state)
{
    (void)state;
    clm_spsc *r = clm_spsc_new(4);
    void *p = NULL;

    assert_int_equal(clm_spsc_count(r), 0);
    assert_false(clm_spsc_pop(r, &p));
    /* size 4 holds 4 - 1 = 3. */
    assert_true(clm_spsc_push(r, as_ptr(10)));
    assert_true(clm_spsc_push(r, as_ptr(20)));
    assert_true(clm_spsc_push(r, as_ptr(30)));
    assert_int_equal(clm_spsc_count(r), 3);
    assert_false(clm_spsc_push(r, as_ptr(40)));
    assert_int_equal(clm_spsc_count(r), 3);

    assert_true(clm_spsc_pop(r, &p));
    assert_int_equal(as_int(p), 10);
    /* One slot free again. */
    assert_true(clm_spsc_push(r, as_ptr(40)));
    assert_false(clm_spsc_push(r, as_ptr(50)));
    assert_true(clm_spsc_pop(r, &p));
    assert_int_equal(as_int(p), 20);
    assert_true(clm_spsc_pop(r, &p));
    assert_int_equal(as_int(p), 30);
    assert_true(clm_spsc_pop(r, &p));
    assert_int_equal(as_int(p), 40);
    assert_false(clm_spsc_pop(r, &p));
    assert_int_equal(clm_spsc_count(r), 0);
    clm_spsc_free(r);
}

static void test_wraparound(void **state)
{
    (void)state;
    clm_spsc *r = clm_spsc_new(8);
    void *p;
    uintptr_t next_in = 0, next_out = 0;

    /* Push up to 5, pop 3, 100 times: the indices pass the 8 slots many
     * times over. Round 0 leaves 5 - 3 = 2; from round 1 on the pushes fill
     * the ring to 7 and 7 - 3 = 4 remain. */
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 5; i++)
            if (clm_spsc_push(r, as_ptr(next_in)))
                next_in++;
        for (int i = 0; i < 3; i++) {
            assert_true(clm_spsc_pop(r, &p));
            assert_int_equal(as_int(p), next_out);
            next_out++;
        }
        assert_int_equal(clm_spsc_count(r), next_in - next_out);
    }
    assert_int_equal(clm_spsc_count(r), 4);
    while (clm_spsc_pop(r, &p))
        assert_int_equal(as_int(p), next_out++);
    assert_int_equal(next_out, next_in);
    clm_spsc_free(r);
}

#define STREAM_N 1000000u

static void *producer(void *arg)
{
    clm_spsc *r = arg;

    for (uintptr_t i = 0; i < STREAM_N; i++)
        while (!clm_spsc_push(r, as_ptr(i)))
            sched_yield();
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    clm_spsc *r = clm_spsc_new(1024);
    pthread_t th;
    uintptr_t want = 0;
    void *p;

    assert_non_null(r);
    assert_int_equal(pthread_create(&th, NULL, producer, r), 0);
    /* Every value arrives once, in order. The consumer drains all STREAM_N
     * even after a mismatch, so the producer never blocks on a full ring. */
    uintptr_t got = 0, mismatches = 0;
    while (got < STREAM_N) {
        if (!clm_spsc_pop(r, &p)) {
            sched_yield();
            continue;
        }
        if (as_int(p) == want)
            want++;
        else
            mismatches++;
        got++;
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(mismatches, 0);
    assert_int_equal(want, STREAM_N);
    assert_false(clm_spsc_pop(r, &p));
    assert_int_equal(clm_spsc_count(r), 0);
    clm_spsc_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_sizes),
        cmocka_unit_test(test_order_and_full),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests_name("spsc", tests, NULL, NULL);
}
