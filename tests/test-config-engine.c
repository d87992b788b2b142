/* tests/test-config-engine.c - the config engine (config/schema.h) on a
 * table of its own (number, boolean and custom rows, its Markdown), and what
 * a reload may change (config/reload.h). The file loading and the key table
 * are tests/test-config.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/lifecycle.h"
#include "config/reload.h"
#include "config/schema.h"
#include "core/stages.h"

/* ---- the engine on its own table: number, boolean and custom rows ---------- */

typedef struct test_rule {
    char *stage;
    int after_s;
} test_rule;

typedef struct test_opts {
    double ratio;
    bool enabled;
    test_rule *rule;
} test_opts;

static void release_rule(void *field)
{
    test_rule **rule = field;

    if (*rule)
        free((*rule)->stage);
    free(*rule);
    *rule = NULL;
}

/* Accepts exactly {"stage": string, "after_s": integer}. */
static int parse_rule(json_t *v, void *field, clm_cfg_problem *problem)
{
    json_t *stage = json_object_get(v, "stage"), *after = json_object_get(v, "after_s");
    test_rule *rule;

    if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_string(stage) ||
        !json_is_integer(after)) {
        problem->text = "is not a valid rule";
        return -EINVAL;
    }
    rule = malloc(sizeof *rule);
    if (!rule)
        return -ENOMEM;
    rule->stage = strdup(json_string_value(stage));
    if (!rule->stage) {
        free(rule);
        return -ENOMEM;
    }
    rule->after_s = (int)json_integer_value(after);
    release_rule(field);
    *(test_rule **)field = rule;
    return 0;
}

static const clm_cfg_key test_keys[] = {
    {.path = "ratio", .type = CLM_CFG_DOUBLE, .def = "0.5", .dmin = 0, .dmax = 1,
     .offset = offsetof(test_opts, ratio), .help = "A share."},
    {.path = "enabled", .type = CLM_CFG_BOOL, .def = "true", .offset = offsetof(test_opts, enabled),
     .help = "Either on | off."},
    {.path = "stages.rule", .type = CLM_CFG_CUSTOM, .def = "{\"stage\": \"new\", \"after_s\": 0}",
     .offset = offsetof(test_opts, rule), .parse = parse_rule, .release = release_rule,
     .type_name = "rule", .expect = "{\"stage\": string, \"after_s\": integer}",
     .help = "When a customer enters a stage."},
};
#define TEST_NKEYS (sizeof test_keys / sizeof test_keys[0])

/* Applies json onto opts (already holding defaults) as the file "t.json". */
static int apply_test(test_opts *opts, const char *json, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    int r;

    assert_non_null(root);
    r = clm_cfg_apply(test_keys, TEST_NKEYS, opts, root, CLM_CFG_FROM_MAIN, "t.json", err,
                      errsize);
    json_decref(root);
    return r;
}

static void test_engine_number_bool_custom(void **state)
{
    test_opts opts = {0};
    char err[256] = "";

    (void)state;
    assert_int_equal(clm_cfg_set_defaults(test_keys, TEST_NKEYS, &opts, err, sizeof err), 0);
    assert_true(opts.ratio == 0.5);
    assert_true(opts.enabled);
    assert_string_equal(opts.rule->stage, "new");
    assert_int_equal(opts.rule->after_s, 0);

    /* A number row takes an integer: 1 -> 1.0. */
    assert_int_equal(apply_test(&opts, "{\"ratio\": 1, \"enabled\": false, \"stages\":"
                                       " {\"rule\": {\"stage\": \"active\", \"after_s\": 30}}}",
                                err, sizeof err),
                     0);
    assert_true(opts.ratio == 1.0);
    assert_false(opts.enabled);
    assert_string_equal(opts.rule->stage, "active");
    assert_int_equal(opts.rule->after_s, 30);
    assert_int_equal(apply_test(&opts, "{\"ratio\": 0.25}", err, sizeof err), 0);
    assert_true(opts.ratio == 0.25);

    assert_int_equal(apply_test(&opts, "{\"ratio\": \"0.5\"}", err, sizeof err), -EINVAL);
    assert_string_equal(err, "t.json: ratio: \"0.5\" has the wrong type (expected a number 0..1)");
    assert_int_equal(apply_test(&opts, "{\"ratio\": 1.5}", err, sizeof err), -EINVAL);
    assert_string_equal(err, "t.json: ratio: 1.5 is out of range (expected a number 0..1)");
    assert_int_equal(apply_test(&opts, "{\"enabled\": 1}", err, sizeof err), -EINVAL);
    assert_string_equal(err, "t.json: enabled: 1 has the wrong type (expected true or false)");
    assert_int_equal(apply_test(&opts, "{\"stages\": {\"rule\": {\"stage\": \"x\"}}}", err,
                                sizeof err),
                     -EINVAL);
    assert_string_equal(err, "t.json: stages.rule: {\"stage\":\"x\"} is not a valid rule"
                             " (expected {\"stage\": string, \"after_s\": integer})");
    /* The failed apply kept the previous rule. */
    assert_string_equal(opts.rule->stage, "active");

    clm_cfg_release(test_keys, TEST_NKEYS, &opts);
    assert_null(opts.rule);
}

static void test_engine_describe_markdown(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    clm_cfg_describe(test_keys, TEST_NKEYS, out, true);
    assert_int_equal(fclose(out), 0);
    /* '|' in a help text is escaped so the row keeps five cells. */
    assert_string_equal(text,
                        "| key | type | default | allowed | description |\n"
                        "|-----|------|---------|---------|-------------|\n"
                        "| `ratio` | number | `0.5` | 0..1 | A share. |\n"
                        "| `enabled` | boolean | `true` | true, false | Either on \\| off. |\n"
                        "| `stages.rule` | rule | `{\"stage\": \"new\", \"after_s\": 0}` |"
                        " {\"stage\": string, \"after_s\": integer} |"
                        " When a customer enters a stage. |\n");
    free(text);
}

/* ---- what a reload may change ---------------------------------------------- */

typedef struct diff_log {
    char text[1024];
} diff_log;

static void log_diff(void *ctx, const char *path, bool live)
{
    diff_log *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s%s:%s", n ? " " : "", path, live ? "live" : "restart");
}

static clm_config *load_text(const char *json)
{
    clm_config *cfg = NULL;
    char err[512];
    if (clm_config_load_string("t.json", json, strlen(json), &cfg, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return cfg;
}

/* A small model: every stage reachable. */
#define SMALL_STAGES(first) \
    "\"stages\": [\"" first "\", \"customer\", \"churned\", \"reactivated\"], "
#define SMALL_RULES(first, extra) \
    "\"rules\": [{\"on\": [\"purchase\"], \"from\": [\"churned\"], \"to\": \"reactivated\"}, " \
    "{\"on\": [\"signup\"" extra "], \"to\": \"" first "\"}, " \
    "{\"on\": [\"purchase\"], \"to\": \"customer\"}, {\"on\": [\"cancel\"], \"to\": \"churned\"}]"

static void test_reload_diff(void **state)
{
    (void)state;
    clm_config *x = load_text("{\"lifecycle\": {" SMALL_STAGES("lead") SMALL_RULES("lead", "") "}}");
    clm_config *y = load_text("{\"lifecycle\": {" SMALL_STAGES("lead") SMALL_RULES("lead", "") "},"
                              " \"risk\": {\"tickets_min\": 4}, \"flush\": {\"interval_ms\": 250},"
                              " \"log\": {\"level\": \"debug\"}}");
    diff_log l = { "" };
    /* the same rules are not reported; a live key and a restart key are */
    assert_int_equal(clm_config_diff(x, y, log_diff, &l), 1);
    assert_string_equal(l.text, "flush.interval_ms:restart risk.tickets_min:live log.level:live");
    assert_true(clm_config_same_stages(x, y));
    clm_config_free(y);

    /* other rules: live while the stages stay; with other stages: restart */
    y = load_text("{\"lifecycle\": {" SMALL_STAGES("lead") SMALL_RULES("lead", ", \"visit\"") "}}");
    l.text[0] = '\0';
    assert_int_equal(clm_config_diff(x, y, log_diff, &l), 0);
    assert_string_equal(l.text, "lifecycle.rules:live");
    clm_config_free(y);
    y = load_text("{\"lifecycle\": {" SMALL_STAGES("prospect") SMALL_RULES("prospect", "") "}}");
    l.text[0] = '\0';
    assert_int_equal(clm_config_diff(x, y, log_diff, &l), 2);
    assert_false(clm_config_same_stages(x, y));
    assert_string_equal(l.text, "lifecycle.stages:restart lifecycle.rules:restart");
    clm_config_free(y);
    clm_config_free(x);
    assert_true(clm_config_key_live("risk.engagement_ratio"));
    assert_true(clm_config_key_live("alerts.threshold"));
    assert_false(clm_config_key_live("alerts.topic"));
    assert_false(clm_config_key_live("kafka.brokers"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_number_bool_custom),
        cmocka_unit_test(test_engine_describe_markdown),
        cmocka_unit_test(test_reload_diff),
    };

    return cmocka_run_group_tests_name("config-engine", tests, NULL, NULL);
}
