/* tests/test-rfmscore.c - RFM quintile boundaries, scores and the segment map
 * (core/rfmscore.c), on hand-made populations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rfmscore.h"

/* Ten buyers with distinct values 1..10 given shuffled: the boundaries are
 * the greatest value of each quintile, v[1], v[3], v[5], v[7] = 2, 4, 6, 8,
 * and each pair of values shares a score. */
static void test_bounds_distinct(void **state)
{
    (void)state;
    int64_t r[10] = {10, 3, 7, 1, 9, 5, 2, 8, 6, 4};
    int64_t f[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    int64_t m[10] = {100, 900, 200, 800, 300, 700, 400, 600, 500, 1000};
    clm_rfm_bounds b;
    clm_rfm_bounds_compute(r, f, m, 10, &b);
    assert_int_equal(b.n, 10);
    const int64_t wr[4] = {2, 4, 6, 8}, wm[4] = {200, 400, 600, 800};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(b.r[k], wr[k]);
        assert_int_equal(b.f[k], wr[k]);
        assert_int_equal(b.m[k], wm[k]);
    }
    const int want[11] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    for (int v = 1; v <= 10; v++)
        assert_int_equal(clm_rfm_quintile(b.r, v), want[v]);
    assert_int_equal(clm_rfm_quintile(b.r, -100), 1);
    assert_int_equal(clm_rfm_quintile(b.r, 1000), 5);

    uint8_t s[3];
    clm_rfm_score(&b, 9, 4, 250, s);
    assert_int_equal(s[0], 5);
    assert_int_equal(s[1], 2);
    assert_int_equal(s[2], 2);
    /* no purchase: no scores */
    clm_rfm_score(&b, -1, 0, 0, s);
    assert_int_equal(s[0] + s[1] + s[2], 0);
}

/* Seven buyers, most with one order: frequency boundaries coincide at 1 and
 * a one-order customer scores 1, the lowest quintile its tie spans. */
static void test_bounds_ties(void **state)
{
    (void)state;
    int64_t r[7] = {100, 100, 100, 100, 100, 100, 100};
    int64_t f[7] = {1, 1, 1, 1, 1, 2, 5};
    int64_t m[7] = {10, 10, 10, 10, 10, 10, 10};
    clm_rfm_bounds b;
    clm_rfm_bounds_compute(r, f, m, 7, &b);
    /* ceil(k*7/5) - 1 = 1, 2, 4, 5 */
    assert_int_equal(b.f[0], 1);
    assert_int_equal(b.f[1], 1);
    assert_int_equal(b.f[2], 1);
    assert_int_equal(b.f[3], 2);
    assert_int_equal(clm_rfm_quintile(b.f, 1), 1);
    assert_int_equal(clm_rfm_quintile(b.f, 2), 4);
    assert_int_equal(clm_rfm_quintile(b.f, 5), 5);
    /* all equal: everyone scores 1; a later day would score 5 */
    assert_int_equal(clm_rfm_quintile(b.r, 100), 1);
    assert_int_equal(clm_rfm_quintile(b.r, 99), 1);
    assert_int_equal(clm_rfm_quintile(b.r, 101), 5);
}

static void test_bounds_small(void **state)
{
    (void)state;
    clm_rfm_bounds b;
    int64_t r[1] = {42}, f[1] = {1}, m[1] = {5};
    clm_rfm_bounds_compute(r, f, m, 0, &b);
    assert_int_equal(b.n, 0);
    uint8_t s[3] = {9, 9, 9};
    clm_rfm_score(&b, 42, 1, 5, s);
    assert_int_equal(s[0] + s[1] + s[2], 0);
    clm_rfm_bounds_compute(r, f, m, 1, &b);
    assert_int_equal(b.n, 1);
    clm_rfm_score(&b, 42, 1, 5, s);
    assert_int_equal(s[0], 1);
    assert_int_equal(s[1], 1);
    assert_int_equal(s[2], 1);
}

static const char *seg_of(const clm_rfm_map *m, int r, int f, int v)
{
    uint8_t s[3] = {(uint8_t)r, (uint8_t)f, (uint8_t)v};
    return clm_rfm_map_name(m, clm_rfm_map_segment(m, s));
}

/* The standard map: every named segment at a cell of the R x F grid, M
 * ignored, every triple covered, every segment reached. */
static void test_default_map(void **state)
{
    (void)state;
    size_t n;
    const clm_rfm_seg_spec *spec = clm_rfm_default_map(&n);
    char err[128];
    clm_rfm_map *m = NULL;
    assert_int_equal(n, 11);
    assert_int_equal(clm_rfm_map_new(spec, n, &m, err, sizeof err), 0);
    assert_int_equal(clm_rfm_map_count(m), 11);
    /* the grid, R rows 5..1, F columns 1..5 */
    static const char *const grid[5][5] = {
        {"New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"},
        {"Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"},
        {"About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"},
        {"Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"},
        {"Lost", "Hibernating", "At risk", "At risk", "Can't lose"},
    };
    int reached[12] = {0};
    for (int r = 1; r <= 5; r++)
        for (int f = 1; f <= 5; f++)
            for (int v = 1; v <= 5; v++) {
                assert_string_equal(seg_of(m, r, f, v), grid[5 - r][f - 1]);
                uint8_t s[3] = {(uint8_t)r, (uint8_t)f, (uint8_t)v};
                reached[clm_rfm_map_segment(m, s)]++;
            }
    for (int i = 0; i < 11; i++)
        assert_true(reached[i] > 0);
    assert_int_equal(reached[11], 0); /* nothing falls through to Other */
    uint8_t none[3] = {0, 0, 0};
    assert_int_equal(clm_rfm_map_segment(m, none), -1);
    clm_rfm_map_free(m);
}

/* An edited map: first match wins, uncovered triples are Other, bad entries
 * are refused naming the entry. */
static void test_custom_map(void **state)
{
    (void)state;
    char err[128];
    clm_rfm_map *m = NULL;
    const clm_rfm_seg_spec two[] = {
        {"Big", 1, 5, 1, 5, 5, 5},
        {"Recent", 5, 5, 1, 5, 1, 5},
    };
    assert_int_equal(clm_rfm_map_new(two, 2, &m, err, sizeof err), 0);
    assert_string_equal(seg_of(m, 5, 1, 5), "Big");
    assert_string_equal(seg_of(m, 5, 1, 4), "Recent");
    assert_string_equal(seg_of(m, 4, 1, 4), CLM_RFM_OTHER);
    clm_rfm_map_free(m);

    const clm_rfm_seg_spec dup[] = {{"A", 1, 5, 1, 5, 1, 5}, {"A", 1, 5, 1, 5, 1, 5}};
    assert_int_equal(clm_rfm_map_new(dup, 2, &m, err, sizeof err), -EINVAL);
    assert_string_equal(err, "[1].name: \"A\" is also segment [0]");
    const clm_rfm_seg_spec range[] = {{"A", 1, 5, 3, 2, 1, 5}};
    assert_int_equal(clm_rfm_map_new(range, 1, &m, err, sizeof err), -EINVAL);
    assert_string_equal(err, "[0].f: expected [lo, hi] with 1 <= lo <= hi <= 5");
    const clm_rfm_seg_spec other[] = {{"Other", 1, 5, 1, 5, 1, 6}};
    assert_int_equal(clm_rfm_map_new(other, 1, &m, err, sizeof err), -EINVAL);
    assert_string_equal(err, "[0].name: expected a name other than \"\" and \"Other\"");
    assert_int_equal(clm_rfm_map_new(other, 0, &m, err, sizeof err), -EINVAL);
    clm_rfm_map_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_distinct),
        cmocka_unit_test(test_bounds_ties),
        cmocka_unit_test(test_bounds_small),
        cmocka_unit_test(test_default_map),
        cmocka_unit_test(test_custom_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
