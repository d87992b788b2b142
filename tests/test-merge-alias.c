/* tests/test-merge-alias.c - the identity alias table (core/alias.c):
 * chains, refusals, removal of an id's aliases, expiry, and a table grown
 * and emptied again against a plain list. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alias.h"

#define DAY_MS 86400000LL

static int add(clm_alias *t, const char *a, const char *b, int64_t at)
{
    return clm_alias_add(t, a, strlen(a), b, strlen(b), at);
}

static const char *look(const clm_alias *t, const char *id)
{
    return clm_alias_lookup(t, id, strlen(id), NULL);
}

static void test_chain(void **state)
{
    (void)state;
    clm_alias *t = clm_alias_new();
    assert_non_null(t);

    assert_null(look(t, "a"));
    assert_int_equal(add(t, "a", "b", 100), 0);
    assert_string_equal(look(t, "a"), "b");
    assert_null(look(t, "b"));
    assert_int_equal(add(t, "b", "c", 200), 0);
    size_t len = 0;
    assert_string_equal(clm_alias_lookup(t, "a", 1, &len), "c"); /* a -> b -> c */
    assert_int_equal(len, 1);
    assert_string_equal(look(t, "b"), "c");
    int64_t when = 0;
    assert_string_equal(clm_alias_target(t, "a", 1, &when), "b");
    assert_int_equal(when, 100);
    assert_int_equal(clm_alias_count(t), 2);

    /* the same alias again: kept, earliest time */
    assert_int_equal(add(t, "a", "b", 50), 1);
    assert_string_equal(clm_alias_target(t, "a", 1, &when), "b");
    assert_int_equal(when, 50);
    /* another target for a known alias, itself, a cycle */
    assert_int_equal(add(t, "a", "x", 300), -EEXIST);
    assert_int_equal(add(t, "x", "x", 300), -ELOOP);
    assert_int_equal(add(t, "c", "a", 300), -ELOOP);
    assert_int_equal(add(t, "c", "b", 300), -ELOOP);
    assert_int_equal(add(t, "", "b", 300), -EINVAL);
    char big[130];
    memset(big, 'z', sizeof(big) - 1);
    big[129] = '\0';
    assert_int_equal(add(t, big, "b", 300), -EINVAL);
    assert_int_equal(clm_alias_count(t), 2);
    clm_alias_free(t);
    clm_alias_free(NULL);
}

/* A chain longer than the hop limit ends where the limit stops it. */
static void test_long_chain(void **state)
{
    (void)state;
    clm_alias *t = clm_alias_new();
    char a[8], b[8];

    for (int i = 0; i < CLM_ALIAS_MAX_HOPS + 4; i++) {
        snprintf(a, sizeof(a), "n%d", i);
        snprintf(b, sizeof(b), "n%d", i + 1);
        assert_int_equal(add(t, a, b, i), 0);
    }
    snprintf(b, sizeof(b), "n%d", CLM_ALIAS_MAX_HOPS);
    assert_string_equal(look(t, "n0"), b);
    snprintf(b, sizeof(b), "n%d", CLM_ALIAS_MAX_HOPS + 4);
    assert_string_equal(look(t, "n4"), b);
    clm_alias_free(t);
}

static int count_cb(void *arg, const char *alias, size_t alias_len, const char *target,
                    size_t target_len, int64_t at_ms)
{
    (void)alias;
    (void)target;
    (void)at_ms;
    assert_int_equal(strlen(alias), alias_len);
    assert_int_equal(strlen(target), target_len);
    (*(int *)arg)++;
    return 0;
}

static void test_remove_expire(void **state)
{
    (void)state;
    clm_alias *t = clm_alias_new();

    assert_int_equal(add(t, "a", "b", 0), 0);
    assert_int_equal(add(t, "b", "c", DAY_MS), 0);
    assert_int_equal(add(t, "d", "b", 2 * DAY_MS), 0);
    assert_int_equal(add(t, "e", "f", 3 * DAY_MS), 0);
    /* forgetting b removes its alias and the aliases pointing at it */
    assert_int_equal(clm_alias_remove(t, "b", 1), 3);
    assert_null(look(t, "a"));
    assert_null(look(t, "b"));
    assert_null(look(t, "d"));
    assert_string_equal(look(t, "e"), "f");
    assert_int_equal(clm_alias_remove(t, "zz", 2), 0);
    assert_int_equal(clm_alias_count(t), 1);

    assert_int_equal(add(t, "g", "h", 10 * DAY_MS), 0);
    /* a 5-day lifetime on day 8 15:00: e (made on day 3) goes, g stays */
    assert_int_equal(clm_alias_expire(t, 8 * DAY_MS + 15, 5 * DAY_MS), 1);
    assert_null(look(t, "e"));
    assert_string_equal(look(t, "g"), "h");
    /* made exactly a lifetime ago: kept */
    assert_int_equal(clm_alias_expire(t, 15 * DAY_MS, 5 * DAY_MS), 0);
    assert_int_equal(clm_alias_expire(t, 15 * DAY_MS + 1, 5 * DAY_MS), 1);
    assert_int_equal(clm_alias_count(t), 0);
    clm_alias_free(t);
}

/* Thousands of aliases in and out (growth, backward-shift deletion) agree
 * with a plain list. */
static void test_many(void **state)
{
    (void)state;
    enum { N = 3000 };
    clm_alias *t = clm_alias_new();
    char a[16], b[16];

    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof(a), "anon-%d", i);
        snprintf(b, sizeof(b), "known-%d", i % 97);
        assert_int_equal(add(t, a, b, i), 0);
    }
    assert_int_equal(clm_alias_count(t), N);
    /* every third alias was made before 1000: expire those below 1000 */
    assert_int_equal(clm_alias_expire(t, 1000 + 50, 50), 1000);
    /* remove the aliases of known-5 */
    int pointing = 0;
    for (int i = 1000; i < N; i++)
        pointing += i % 97 == 5;
    assert_int_equal(clm_alias_remove(t, "known-5", 7), pointing);
    int n = 0;
    assert_int_equal(clm_alias_each(t, count_cb, &n), 0);
    assert_int_equal(n, N - 1000 - pointing);
    assert_int_equal(clm_alias_count(t), (size_t)n);
    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof(a), "anon-%d", i);
        snprintf(b, sizeof(b), "known-%d", i % 97);
        const char *got = look(t, a);
        if (i < 1000 || i % 97 == 5)
            assert_null(got);
        else
            assert_string_equal(got, b);
    }
    clm_alias_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_remove_expire),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
