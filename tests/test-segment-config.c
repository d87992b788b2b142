/* tests/test-segment-config.c - the segments and rfm.segments keys
 * (config/segments.c): errors name the key, the entry and the position in
 * the rule; the default map is the standard one; a reload sees a changed
 * rule as a live change and an unchanged one as none.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/reload.h"

static clm_config *load(const char *json)
{
    char err[512] = "";
    clm_config *cfg = NULL;
    if (clm_config_load_string("t.json", json, strlen(json), &cfg, err, sizeof err) != 0)
        fail_msg("%s", err);
    return cfg;
}

static void check_error(const char *json, const char *want)
{
    char err[512] = "";
    clm_config *cfg = NULL;
    assert_int_equal(clm_config_load_string("t.json", json, strlen(json), &cfg, err, sizeof err),
                     -EINVAL);
    assert_null(cfg);
    if (strcmp(err, want) != 0)
        fail_msg("got \"%s\", expected \"%s\"", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"risk >= 0.5\"}, "
                "{\"name\": \"b\", \"rule\": \"orders > 1\"}, "
                "{\"name\": \"c\", \"rule\": \"stage == \\\"x\\\" and\"}]}",
                "t.json: segments[2].rule: at 17: expected a name or '('");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"plan == \\\"pro\\\"\"}]}",
                "t.json: segments[0].rule: at 1: unknown name");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"orders >\"}]}",
                "t.json: segments[0].rule: at 9: expected a value");
    check_error("{\"segments\": [{\"name\": \"a\"}]}",
                "t.json: segments[0]: {\"name\":\"a\"} has no \"rule\" (expected a list of "
                "{\"name\": name, \"rule\": rule} objects (README \"Segments\"))");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"orders > 1\", \"when\": 1}]}",
                "t.json: segments[0].when: 1 is not a segment member (expected one of \"name\", "
                "\"rule\", \"notify\")");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"orders > 1\", \"notify\": 1}]}",
                "t.json: segments[0].notify: 1 has the wrong type (expected true or false)");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": 1}]}",
                "t.json: segments[0].rule: 1 has the wrong type (expected a string)");
    check_error("{\"segments\": [{\"name\": \"a\", \"rule\": \"orders > 1\"}, "
                "{\"name\": \"a\", \"rule\": \"orders > 2\"}]}",
                "t.json: segments[1].name: \"a\" is also segment [0]");
    check_error("{\"segments\": {}}",
                "t.json: segments: {} has the wrong type (expected a list of {\"name\": name, "
                "\"rule\": rule} objects (README \"Segments\"))");
    check_error("{\"rfm\": {\"segments\": [{\"name\": \"a\", \"r\": [1, 5], \"f\": [2, 1], "
                "\"m\": [1, 5]}]}}",
                "t.json: rfm.segments[0].f: [2,1] is not a score range (expected [lo, hi] with 1 "
                "<= lo <= hi <= 5)");
    check_error("{\"rfm\": {\"segments\": []}}",
                "t.json: rfm.segments: 0 entries (expected 1..32)");
    check_error("{\"rfm\": {\"segments\": [{\"name\": \"Other\", \"r\": [1, 5], \"f\": [1, 5], "
                "\"m\": [1, 5]}]}}",
                "t.json: rfm.segments[0].name: expected a name other than \"\" and \"Other\"");
}

static void test_defaults(void **state)
{
    (void)state;
    clm_config *cfg = clm_config_new_defaults();
    assert_non_null(cfg);
    assert_int_equal(clm_segments_count(cfg->segments), 0);
    size_t n;
    const clm_rfm_seg_spec *def = clm_rfm_default_map(&n);
    char err[128];
    clm_rfm_map *want = NULL;
    assert_int_equal(clm_rfm_map_new(def, n, &want, err, sizeof err), 0);
    assert_int_equal(clm_rfm_map_count(cfg->rfm_map), n);
    for (int r = 1; r <= 5; r++)
        for (int f = 1; f <= 5; f++)
            for (int m = 1; m <= 5; m++) {
                uint8_t s[3] = {(uint8_t)r, (uint8_t)f, (uint8_t)m};
                assert_string_equal(clm_rfm_map_name(cfg->rfm_map, clm_rfm_map_segment(cfg->rfm_map, s)),
                                    clm_rfm_map_name(want, clm_rfm_map_segment(want, s)));
            }
    clm_rfm_map_free(want);
    clm_config_free(cfg);
}

static void test_loaded(void **state)
{
    (void)state;
    clm_config *cfg = load("{\"segments\": [{\"name\": \"reactivate\", \"rule\": "
                           "\"rfm_segment in [\\\"At risk\\\", \\\"Hibernating\\\"]\"}, "
                           "{\"name\": \"risky\", \"rule\": \"risk >= 0.5\", \"notify\": true}], "
                           "\"rfm\": {\"segments\": [{\"name\": \"Big\", \"r\": [1, 5], "
                           "\"f\": [1, 5], \"m\": [5, 5]}]}}");
    assert_int_equal(clm_segments_count(cfg->segments), 2);
    assert_string_equal(clm_segments_name(cfg->segments, 0), "reactivate");
    assert_string_equal(clm_segments_rule(cfg->segments, 1), "risk >= 0.5");
    assert_false(clm_segments_notify(cfg->segments, 0));
    assert_true(clm_segments_notify(cfg->segments, 1));
    assert_int_equal(clm_rfm_map_count(cfg->rfm_map), 1);
    uint8_t big[3] = {1, 1, 5}, small[3] = {5, 5, 4};
    assert_string_equal(clm_rfm_map_name(cfg->rfm_map, clm_rfm_map_segment(cfg->rfm_map, big)),
                        "Big");
    assert_string_equal(clm_rfm_map_name(cfg->rfm_map, clm_rfm_map_segment(cfg->rfm_map, small)),
                        "Other");
    clm_config_free(cfg);
}

typedef struct seen {
    char paths[8][64];
    bool live[8];
    int n;
} seen;

static void on_diff(void *ctx, const char *path, bool live)
{
    seen *s = ctx;
    assert_true(s->n < 8);
    snprintf(s->paths[s->n], sizeof s->paths[0], "%s", path);
    s->live[s->n++] = live;
}

static void test_reload(void **state)
{
    (void)state;
    const char *a = "{\"segments\": [{\"name\": \"risky\", \"rule\": \"risk >= 0.5\"}]}";
    const char *b = "{\"segments\": [{\"name\": \"risky\", \"rule\": \"risk >= 0.6\"}]}";
    clm_config *x = load(a), *y = load(a), *z = load(b);
    seen s = {0};
    assert_int_equal(clm_config_diff(x, y, on_diff, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(clm_config_diff(x, z, on_diff, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.paths[0], "segments");
    assert_true(s.live[0]);
    clm_config_free(x);
    clm_config_free(y);
    clm_config_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
