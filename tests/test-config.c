/* tests/test-config.c - config/: the key table, loading, secrets, messages. */
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

#ifndef CLM_SOURCE_DIR
#error "CLM_SOURCE_DIR must name the source tree (set in tests/meson.build)"
#endif

/* ---- fixtures ----------------------------------------------------------- */

static char tmpdir[64];
static char *created[32]; /* files and directories to remove, in creation order */
static size_t ncreated;

/* Returns "<tmpdir>/<name>" in a static buffer (overwritten by the next call). */
static const char *tmp_path(const char *name)
{
    static char buf[128];

    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes text to <tmpdir>/<name>; returns the path (valid until teardown). */
static const char *write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    for (size_t i = 0; i < ncreated; i++)
        if (strcmp(created[i], path) == 0)
            return created[i]; /* rewritten in place */
    assert_true(ncreated < sizeof created / sizeof created[0]);
    created[ncreated] = strdup(path);
    assert_non_null(created[ncreated]);
    return created[ncreated++];
}

static const char *make_dir(const char *name)
{
    const char *path = tmp_path(name);

    assert_int_equal(mkdir(path, 0700), 0);
    assert_true(ncreated < sizeof created / sizeof created[0]);
    created[ncreated] = strdup(path);
    assert_non_null(created[ncreated]);
    return created[ncreated++];
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    /* A credentials directory inherited from the environment would change
     * every load below. */
    unsetenv("CREDENTIALS_DIRECTORY");
    return 0;
}

/* Removes what the test created, newest first (files before their directory). */
static int teardown(void **state)
{
    (void)state;
    unsetenv("CREDENTIALS_DIRECTORY");
    while (ncreated > 0) {
        char *path = created[--ncreated];

        if (unlink(path) < 0)
            rmdir(path);
        free(path);
    }
    return 0;
}

static int teardown_group(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

/* Loads json under the name "clmd.json"; on failure checks that *out was not
 * touched. */
static int load(const char *json, clm_config **out, char *err, size_t errsize)
{
    static clm_config sentinel;
    clm_config *const untouched = &sentinel;
    clm_config *cfg = untouched;
    int r;

    err[0] = '\0';
    r = clm_config_load_string("clmd.json", json, strlen(json), &cfg, err, errsize);
    if (r < 0) {
        assert_ptr_equal(cfg, untouched);
        cfg = NULL;
    }
    *out = cfg;
    return r;
}

/* Asserts that json fails to load with -EINVAL and exactly this message. */
static void assert_rejects(const char *json, const char *message)
{
    clm_config *cfg;
    char err[512];

    assert_int_equal(load(json, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, message);
}

/* ---- defaults, example file, key reference ------------------------------- */

/* Asserts that r reads {"on": on, "from": from, "to": to, ...}; on and from
 * are the names joined by ',' (from "" = any); an order bound of -1 and a
 * score bound of INT32_MIN / INT32_MAX mean none. */
static void assert_rule(const clm_stage_rule_spec *r, const char *on, const char *from,
                        const char *to, int64_t min_orders, int64_t max_orders, int32_t min_score,
                        int32_t max_score)
{
    char joined[128];
    size_t used = 0;

    joined[0] = '\0';
    for (size_t i = 0; i < r->non; i++)
        used += (size_t)snprintf(joined + used, sizeof joined - used, "%s%s", i ? "," : "",
                                 r->on[i]);
    assert_string_equal(joined, on);
    used = 0;
    joined[0] = '\0';
    for (size_t i = 0; i < r->nfrom; i++)
        used += (size_t)snprintf(joined + used, sizeof joined - used, "%s%s", i ? "," : "",
                                 r->from[i]);
    assert_string_equal(joined, from);
    assert_string_equal(r->to, to);
    assert_int_equal(r->min_orders, min_orders);
    assert_int_equal(r->max_orders, max_orders);
    assert_int_equal(r->min_score, min_score);
    assert_int_equal(r->max_score, max_score);
    assert_int_equal(r->has_score_cond, min_score != INT32_MIN || max_score != INT32_MAX);
}

/* Asserts that cfg's lifecycle section holds exactly the documented defaults. */
static void assert_default_lifecycle(const clm_config *cfg)
{
    static const char *const stages[] = {"awareness",  "acquisition", "conversion",
                                         "onboarding", "engagement",  "retention",
                                         "advocacy",   "churned",     "reactivated"};
    const clm_stage_rule_spec *r;
    size_t n;

    assert_int_equal(cfg->lifecycle_stage_count, 9);
    for (size_t i = 0; i < 9; i++)
        assert_string_equal(cfg->lifecycle_stages[i], stages[i]);
    assert_string_equal(cfg->lifecycle_churned_stage, "churned");
    assert_string_equal(cfg->lifecycle_reactivated_stage, "reactivated");
    assert_true(cfg->lifecycle_forward_only);
    assert_int_equal(cfg->lifecycle_churn_inactive_days, 90);
    r = clm_cfg_rules_specs(cfg->lifecycle_rules, &n);
    assert_int_equal(n, 10);
    assert_rule(&r[0], "visit", "", "awareness", -1, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[1], "signup", "", "acquisition", -1, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[2], "purchase", "", "conversion", 1, 1, INT32_MIN, INT32_MAX);
    assert_rule(&r[3], "onboarding_complete", "", "onboarding", -1, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[4], "login,session,feature_use", "onboarding", "engagement", -1, -1, INT32_MIN,
                INT32_MAX);
    assert_rule(&r[5], "purchase", "", "retention", 2, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[6], "referral,review", "", "advocacy", 1, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[7], "nps_response", "", "advocacy", 1, -1, 9, INT32_MAX);
    assert_rule(&r[8], "cancel", "", "churned", 1, -1, INT32_MIN, INT32_MAX);
    assert_rule(&r[9], "*", "churned", "reactivated", -1, -1, INT32_MIN, INT32_MAX);
    /* The compiled model: 7 ordinary stages, churned index 7, reactivated 8. */
    assert_non_null(cfg->stages);
    assert_int_equal(clm_stages_count(cfg->stages), 9);
    assert_int_equal(clm_stages_ordinary(cfg->stages), 7);
    assert_int_equal(clm_stages_churned(cfg->stages), 7);
    assert_int_equal(clm_stages_reactivated(cfg->stages), 8);
    assert_true(clm_stages_forward_only(cfg->stages));
}

/* Asserts that cfg holds the documented defaults outside the lifecycle section. */
static void assert_defaults_outside_lifecycle(const clm_config *cfg)
{
    assert_string_equal(cfg->kafka_brokers, "127.0.0.1:9092");
    assert_int_equal(cfg->kafka_topic_count, 1);
    assert_string_equal(cfg->kafka_topics[0], "clm.events");
    assert_string_equal(cfg->kafka_group_id, "clmd");
    assert_string_equal(cfg->kafka_dlq_topic, "");
    assert_int_equal(cfg->kafka_prop_count, 0);
    assert_null(cfg->kafka_props);
    assert_int_equal(cfg->kafka_batch_size, 4096);
    assert_string_equal(cfg->redis_host, "127.0.0.1");
    assert_int_equal(cfg->redis_port, 6379);
    assert_int_equal(cfg->redis_db, 0);
    assert_string_equal(cfg->redis_prefix, "clm:");
    assert_int_equal(cfg->redis_timeout_ms, 5000);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->flush_interval_ms, 1000);
    assert_int_equal(cfg->flush_max_dirty, 50000);
    assert_int_equal(cfg->events_max_bytes, 65536);
    assert_int_equal(cfg->events_max_future_s, 86400);
    assert_int_equal(cfg->events_unknown_type, 0); /* "activity" is value 0 */
    assert_int_equal(cfg->events_dedup_horizon_s, 86400);
    assert_int_equal(cfg->events_dedup_max_ids, 16);
    assert_int_equal(cfg->events_allowed_lateness_s, 604800); /* 7 * 86400 */
    assert_int_equal(cfg->core_workers, 0);
    assert_int_equal(cfg->core_max_customers, 1000000);
    assert_int_equal(cfg->core_ring_size, 16384);
    assert_int_equal(cfg->kpi_window_count, 3);
    assert_int_equal(cfg->kpi_windows[0], 7);
    assert_int_equal(cfg->kpi_windows[1], 30);
    assert_int_equal(cfg->kpi_windows[2], 90);
    assert_int_equal(cfg->kpi_bucket_s, 86400);
    assert_int_equal(cfg->kpi_clv_min_tenure_days, 30);
    assert_true(cfg->kpi_clv_max_years == 5.0);
    assert_true(cfg->kpi_gross_margin == 1.0);
    assert_int_equal(cfg->kpi_refresh_ms, 1000);
    assert_int_equal(cfg->log_level, 6); /* "info" = LOG_INFO = 6 */
    assert_string_equal(cfg->identity_topic, "");
    assert_int_equal(cfg->identity_alias_ttl_days, 90);
    assert_string_equal(cfg->secrets_file, "");
}

/* Asserts that cfg holds exactly the documented defaults. */
static void assert_defaults(const clm_config *cfg)
{
    assert_defaults_outside_lifecycle(cfg);
    assert_default_lifecycle(cfg);
}

static void test_defaults(void **state)
{
    clm_config *cfg = clm_config_new_defaults();

    (void)state;
    assert_non_null(cfg);
    assert_defaults(cfg);
    assert_null(cfg->path);
    clm_config_free(cfg);
}

static void test_empty_object_is_defaults(void **state)
{
    clm_config *cfg;
    char err[256];

    (void)state;
    assert_int_equal(load("{}", &cfg, err, sizeof err), 0);
    assert_defaults(cfg);
    assert_string_equal(cfg->path, "clmd.json");
    clm_config_free(cfg);
}

static void test_example_file_is_defaults(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(clm_config_load(CLM_SOURCE_DIR "/config/clmd.example.json", &cfg, err,
                                     sizeof err),
                     0);
    assert_string_equal(err, "");
    assert_defaults(cfg);
    clm_config_free(cfg);
}

/* The shipped stage models differ from the example only in "lifecycle". */
static void test_stage_files_keep_other_defaults(void **state)
{
    static const char *const files[] = {CLM_SOURCE_DIR "/config/stages/b2b.json",
                                        CLM_SOURCE_DIR "/config/stages/b2c.json"};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        clm_config *cfg = NULL;
        char err[512] = "";

        assert_int_equal(clm_config_load(files[i], &cfg, err, sizeof err), 0);
        assert_string_equal(err, "");
        assert_defaults_outside_lifecycle(cfg);
        /* 5 ordinary stages plus churned and reactivated. */
        assert_int_equal(clm_stages_count(cfg->stages), 7);
        assert_string_equal(cfg->lifecycle_churned_stage, "churned");
        assert_string_equal(cfg->lifecycle_reactivated_stage, "reactivated");
        assert_true(cfg->lifecycle_forward_only);
        assert_int_equal(cfg->lifecycle_churn_inactive_days, 90);
        clm_config_free(cfg);
    }
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

/* config/README-keys.md must be exactly what the table generates today;
 * regenerate it from clm_config_describe(out, true) after changing a row. */
static void test_readme_keys_up_to_date(void **state)
{
    char *generated = NULL, *committed;
    size_t glen = 0, clen;
    FILE *out = open_memstream(&generated, &glen);

    (void)state;
    assert_non_null(out);
    clm_config_describe(out, true);
    assert_int_equal(fclose(out), 0);
    committed = read_all(CLM_SOURCE_DIR "/config/README-keys.md", &clen);
    assert_string_equal(committed, generated);
    assert_int_equal(clen, glen);
    free(committed);
    free(generated);
}

static void test_describe_plain(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    clm_config_describe(out, false);
    assert_int_equal(fclose(out), 0);
    /* Column widths: the longest key "risk.inactivity_min_active_days" is 31,
     * the longest type "integer list" 12, the longest default of at most 24
     * characters "\"127.0.0.1:9092\"" 16 (the defaults of lifecycle.stages
     * and lifecycle.rules are longer and go below the help); columns are
     * separated by two spaces. So "flush.interval_ms" (17) gets 14 + 2
     * spaces, "integer" (7) 5 + 2, "1000" (4) 12 + 2. */
    assert_non_null(strstr(text, "\nflush.interval_ms                integer       1000              "
                                 "10..600000\n"
                                 "    Longest time dirty customer state waits before it is written"
                                 " to Redis, in\n    milliseconds.\n"));
    /* No allowed column: the line ends after the default, unpadded. */
    assert_non_null(strstr(text, "\nkafka.dlq_topic                  string        \"\"\n"));
    assert_non_null(strstr(text, "\nredis.password                   string        none"
                                 "              secrets file only\n"));
    assert_non_null(strstr(text, "\ncore.ring_size                   integer       16384"
                                 "             64..1048576, power of two\n"));
    assert_non_null(strstr(text, "\nkpi.windows                      integer list  [7, 30, 90]"
                                 "       at least 1 entry, each 1..3650, all different\n"));
    assert_non_null(strstr(text, "\nkpi.bucket_s                     integer       86400"
                                 "             60..86400, whole minutes dividing 86400\n"));
    /* A long default: "(below)" in the column, the value after the help. */
    assert_non_null(strstr(text, "\nlifecycle.stages                 string list   (below)"
                                 "           at least 1 entry\n"));
    assert_non_null(strstr(text, "\n    is reserved.\n    Default:\n    [\"awareness\","
                                 " \"acquisition\", \"conversion\", \"onboarding\","
                                 " \"engagement\",\n    \"retention\", \"advocacy\","
                                 " \"churned\", \"reactivated\"]\n"));
    free(text);
}

static void test_free_null(void **state)
{
    (void)state;
    clm_config_free(NULL);
}

/* ---- values that load ------------------------------------------------------ */

static void test_every_key_set(void **state)
{
    clm_config *cfg;
    char err[256];

    (void)state;
    assert_int_equal(load("{\"kafka\": {\"brokers\": \"k1:9092,k2:9092\", \"topics\": [\"a\", \"b\"],"
                          " \"group_id\": \"g\", \"dlq_topic\": \"dead\","
                          " \"properties\": {\"security.protocol\": \"SASL_SSL\","
                          " \"fetch.wait.max.ms\": \"10\"}, \"batch_size\": 100000},"
                          " \"redis\": {\"host\": \"/run/redis.sock\", \"port\": 1, \"db\": 65535,"
                          " \"prefix\": \"x\", \"timeout_ms\": 100},"
                          " \"flush\": {\"interval_ms\": 10, \"max_dirty\": 10000000},"
                          " \"events\": {\"max_bytes\": 64, \"max_future_s\": 31536000,"
                          " \"unknown_type\": \"reject\", \"dedup_horizon_s\": 0,"
                          " \"dedup_max_ids\": 1024, \"allowed_lateness_s\": 3720},"
                          " \"core\": {\"workers\": 256, \"max_customers\": 1000000000,"
                          " \"ring_size\": 64},"
                          " \"lifecycle\": {\"stages\": [\"new\", \"gone\", \"back\"],"
                          " \"churned_stage\": \"gone\", \"reactivated_stage\": \"back\","
                          " \"forward_only\": false, \"churn_inactive_days\": 3650,"
                          " \"rules\": [{\"on\": \"*\", \"from\": [\"none\"], \"to\": \"new\"},"
                          " {\"on\": [\"cancel\", \"refund\"], \"min_orders\": 0,"
                          " \"max_orders\": 0, \"min_score\": -5, \"max_score\": 5,"
                          " \"to\": \"gone\"},"
                          " {\"on\": \"*\", \"from\": [\"gone\", \"new\"], \"to\": \"back\"}]},"
                          " \"kpi\": {\"windows\": [3650, 1], \"bucket_s\": 60,"
                          " \"clv_min_tenure_days\": 3650, \"clv_max_years\": 100,"
                          " \"gross_margin\": 0, \"refresh_ms\": 3600000},"
                          " \"log\": {\"level\": \"debug\"}}",
                          &cfg, err, sizeof err),
                     0);
    assert_string_equal(cfg->kafka_brokers, "k1:9092,k2:9092");
    assert_int_equal(cfg->kafka_topic_count, 2);
    assert_string_equal(cfg->kafka_topics[0], "a");
    assert_string_equal(cfg->kafka_topics[1], "b");
    assert_string_equal(cfg->kafka_group_id, "g");
    assert_string_equal(cfg->kafka_dlq_topic, "dead");
    assert_int_equal(cfg->kafka_prop_count, 2);
    assert_string_equal(cfg->kafka_props[0].key, "security.protocol");
    assert_string_equal(cfg->kafka_props[0].value, "SASL_SSL");
    assert_string_equal(cfg->kafka_props[1].key, "fetch.wait.max.ms");
    assert_string_equal(cfg->kafka_props[1].value, "10");
    assert_int_equal(cfg->kafka_batch_size, 100000);
    assert_string_equal(cfg->redis_host, "/run/redis.sock");
    assert_int_equal(cfg->redis_port, 1);
    assert_int_equal(cfg->redis_db, 65535);
    assert_string_equal(cfg->redis_prefix, "x");
    assert_int_equal(cfg->redis_timeout_ms, 100);
    assert_int_equal(cfg->flush_interval_ms, 10);
    assert_int_equal(cfg->flush_max_dirty, 10000000);
    assert_int_equal(cfg->events_max_bytes, 64);
    assert_int_equal(cfg->events_max_future_s, 31536000);
    assert_int_equal(cfg->events_unknown_type, 1); /* "reject" is value 1 */
    assert_int_equal(cfg->events_dedup_horizon_s, 0);
    assert_int_equal(cfg->events_dedup_max_ids, 1024);
    assert_int_equal(cfg->core_workers, 256);
    assert_int_equal(cfg->core_max_customers, 1000000000);
    assert_int_equal(cfg->core_ring_size, 64);
    assert_int_equal(cfg->lifecycle_stage_count, 3);
    assert_string_equal(cfg->lifecycle_stages[0], "new");
    assert_string_equal(cfg->lifecycle_stages[2], "back");
    assert_string_equal(cfg->lifecycle_churned_stage, "gone");
    assert_string_equal(cfg->lifecycle_reactivated_stage, "back");
    assert_false(cfg->lifecycle_forward_only);
    assert_int_equal(cfg->lifecycle_churn_inactive_days, 3650);
    {
        size_t n;
        const clm_stage_rule_spec *r = clm_cfg_rules_specs(cfg->lifecycle_rules, &n);

        assert_int_equal(n, 3);
        assert_rule(&r[0], "*", "none", "new", -1, -1, INT32_MIN, INT32_MAX);
        assert_rule(&r[1], "cancel,refund", "", "gone", 0, 0, -5, 5);
        assert_rule(&r[2], "*", "gone,new", "back", -1, -1, INT32_MIN, INT32_MAX);
    }
    /* new 0 (the only ordinary stage), gone 1, back 2. */
    assert_int_equal(clm_stages_ordinary(cfg->stages), 1);
    assert_int_equal(clm_stages_churned(cfg->stages), 1);
    assert_int_equal(clm_stages_reactivated(cfg->stages), 2);
    assert_false(clm_stages_forward_only(cfg->stages));
    assert_int_equal(cfg->kpi_window_count, 2);
    assert_int_equal(cfg->kpi_windows[0], 3650);
    assert_int_equal(cfg->kpi_windows[1], 1);
    assert_int_equal(cfg->kpi_bucket_s, 60);
    assert_int_equal(cfg->kpi_clv_min_tenure_days, 3650);
    assert_true(cfg->kpi_clv_max_years == 100.0);
    assert_true(cfg->kpi_gross_margin == 0.0);
    assert_int_equal(cfg->kpi_refresh_ms, 3600000);
    assert_int_equal(cfg->log_level, 7); /* "debug" = LOG_DEBUG = 7 */
    clm_config_free(cfg);
}

static void test_comment_keys_ignored(void **state)
{
    clm_config *cfg;
    char err[256];

    (void)state;
    /* "//" keys at the top, in a section, inside kafka.properties, and with any
     * value type, including an object that would not validate. */
    assert_int_equal(load("{\"//\": \"top\", \"// flush\": {\"bogus\": 1},"
                          " \"flush\": {\"//\": [1, 2], \"// interval_ms\": \"ms\", \"interval_ms\": 20},"
                          " \"kafka\": {\"properties\": {\"// note\": 5, \"client.id\": \"c\"}}}",
                          &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg->flush_interval_ms, 20);
    assert_int_equal(cfg->kafka_prop_count, 1);
    assert_string_equal(cfg->kafka_props[0].key, "client.id");
    assert_string_equal(cfg->kafka_props[0].value, "c");
    clm_config_free(cfg);
}

/* ---- rejected keys and values ---------------------------------------------- */

static void test_unknown_key(void **state)
{
    (void)state;
    /* "intervl_ms" -> "interval_ms" is one insertion. */
    assert_rejects("{\"flush\": {\"intervl_ms\": 5}}",
                   "clmd.json: flush.intervl_ms: unknown key (did you mean flush.interval_ms?)");
    /* "ring_szie" -> "ring_size" is one transposition. */
    assert_rejects("{\"core\": {\"ring_szie\": 64}}",
                   "clmd.json: core.ring_szie: unknown key (did you mean core.ring_size?)");
    /* "flsh" -> "flush": one insertion, among the sections. */
    assert_rejects("{\"flsh\": {}}", "clmd.json: flsh: unknown key (did you mean flush?)");
    /* "intrvl_ms" -> "interval_ms" needs two insertions: still a hint. */
    assert_rejects("{\"flush\": {\"intrvl_ms\": 5}}",
                   "clmd.json: flush.intrvl_ms: unknown key (did you mean flush.interval_ms?)");
    /* "intrl_ms" needs three: no hint. */
    assert_rejects("{\"flush\": {\"intrl_ms\": 5}}", "clmd.json: flush.intrl_ms: unknown key");
    /* "port" is within distance 0 of redis.port, but not in the flush section. */
    assert_rejects("{\"flush\": {\"port\": 5}}", "clmd.json: flush.port: unknown key");
    assert_rejects("{\"metrics\": {\"port\": 9}}", "clmd.json: metrics: unknown key");
    /* A row is not a section. */
    assert_rejects("{\"log\": {\"level\": {\"x\": 1}}}",
                   "clmd.json: log.level: {\"x\":1} has the wrong type (expected one of \"emerg\","
                   " \"alert\", \"crit\", \"err\", \"warning\", \"notice\", \"info\", \"debug\")");
}

/* lifecycle.inactive_types: a bit per listed type; the default, an empty
 * list, and each mistake named with its place and what is expected. */
static void test_inactive_types(void **state)
{
    (void)state;
    clm_config *cfg;
    char err[512];

    assert_int_equal(load("{}", &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->lifecycle_inactive_types,
                     1u << CLM_EV_CANCEL | 1u << CLM_EV_REFUND | 1u << CLM_EV_PAYMENT_FAILED |
                         1u << CLM_EV_MARKETING_SPEND);
    clm_config_free(cfg);
    assert_int_equal(load("{\"lifecycle\": {\"inactive_types\": []}}", &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->lifecycle_inactive_types, 0);
    clm_config_free(cfg);
    assert_int_equal(load("{\"lifecycle\": {\"inactive_types\": [\"other\", \"visit\"]}}", &cfg,
                          err, sizeof err),
                     0);
    assert_int_equal(cfg->lifecycle_inactive_types, 1u << CLM_EV_OTHER | 1u << CLM_EV_VISIT);
    clm_config_free(cfg);

    static const char expect[] = " (expected a list of event type names other than \"purchase\""
                                 " (\"other\": the types outside the built-in list))";
    char want[512];
    snprintf(want, sizeof want, "clmd.json: lifecycle.inactive_types[1]: \"refnud\" is not an "
             "event type%s", expect);
    assert_rejects("{\"lifecycle\": {\"inactive_types\": [\"cancel\", \"refnud\"]}}", want);
    snprintf(want, sizeof want, "clmd.json: lifecycle.inactive_types[0]: \"purchase\" is always "
             "activity%s", expect);
    assert_rejects("{\"lifecycle\": {\"inactive_types\": [\"purchase\"]}}", want);
    snprintf(want, sizeof want, "clmd.json: lifecycle.inactive_types[0]: 3 has the wrong type%s",
             expect);
    assert_rejects("{\"lifecycle\": {\"inactive_types\": [3]}}", want);
    snprintf(want, sizeof want, "clmd.json: lifecycle.inactive_types: \"cancel\" has the wrong "
             "type%s", expect);
    assert_rejects("{\"lifecycle\": {\"inactive_types\": \"cancel\"}}", want);
}

static void test_wrong_types(void **state)
{
    (void)state;
    assert_rejects("{\"redis\": {\"host\": 127}}",
                   "clmd.json: redis.host: 127 has the wrong type (expected a non-empty string)");
    assert_rejects("{\"redis\": {\"port\": \"6379\"}}",
                   "clmd.json: redis.port: \"6379\" has the wrong type (expected an integer 1..65535)");
    assert_rejects("{\"flush\": {\"interval_ms\": 10.0}}",
                   "clmd.json: flush.interval_ms: 10.0 has the wrong type"
                   " (expected an integer 10..600000)");
    assert_rejects("{\"events\": {\"max_future_s\": true}}",
                   "clmd.json: events.max_future_s: true has the wrong type"
                   " (expected an integer 0..31536000)");
    assert_rejects("{\"log\": {\"level\": 6}}",
                   "clmd.json: log.level: 6 has the wrong type (expected one of \"emerg\","
                   " \"alert\", \"crit\", \"err\", \"warning\", \"notice\", \"info\", \"debug\")");
    assert_rejects("{\"kafka\": {\"topics\": \"clm.events\"}}",
                   "clmd.json: kafka.topics: \"clm.events\" has the wrong type"
                   " (expected a list of at least 1 string)");
    assert_rejects("{\"kafka\": {\"topics\": [\"a\", null]}}",
                   "clmd.json: kafka.topics: [\"a\",null] has the wrong type"
                   " (expected a list of at least 1 string)");
    assert_rejects("{\"kafka\": {\"properties\": [\"a=b\"]}}",
                   "clmd.json: kafka.properties: [\"a=b\"] has the wrong type"
                   " (expected an object of string, number or boolean values)");
    assert_rejects("{\"kafka\": {\"properties\": {\"fetch.wait.max.ms\": null}}}",
                   "clmd.json: kafka.properties.fetch.wait.max.ms: null has the wrong type"
                   " (expected a string, a number or a boolean)");
    assert_rejects("{\"kafka\": {\"properties\": {\"client.id\": [\"a\"]}}}",
                   "clmd.json: kafka.properties.client.id: [\"a\"] has the wrong type"
                   " (expected a string, a number or a boolean)");
    assert_rejects("{\"flush\": 1000}",
                   "clmd.json: flush: 1000 has the wrong type (expected an object)");
    assert_rejects("[1]", "clmd.json: top level: [1] has the wrong type (expected an object)");
}

/* kafka.properties takes numbers and booleans as librdkafka's text. */
static void test_kafka_property_types(void **state)
{
    (void)state;
    clm_config *cfg = NULL;
    char err[512];
    static const char json[] =
        "{\"kafka\": {\"properties\": {\"linger.ms\": 5, \"enable.idempotence\": false,"
        " \"socket.keepalive.enable\": true, \"batch.num.messages\": 10000000000,"
        " \"x.ratio\": 0.1, \"y.ratio\": 2.5e-3, \"z.ratio\": -1.0, \"client.id\": \"c\"}}}";
    static const char *const want[][2] = {
        { "linger.ms", "5" },          { "enable.idempotence", "false" },
        { "socket.keepalive.enable", "true" }, { "batch.num.messages", "10000000000" },
        { "x.ratio", "0.1" },          { "y.ratio", "0.0025" },
        { "z.ratio", "-1" },           { "client.id", "c" },
    };

    assert_int_equal(load(json, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->kafka_prop_count, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(cfg->kafka_props[i].key, want[i][0]);
        assert_string_equal(cfg->kafka_props[i].value, want[i][1]);
        assert_false(cfg->kafka_props[i].secret);
    }
    clm_config_free(cfg);
}

/* kpi.bucket_s and events.allowed_lateness_s: at most 62 buckets of lateness. */
static void test_bucket_lateness(void **state)
{
    (void)state;
    clm_config *cfg = NULL;
    char err[512];

    assert_rejects("{\"kpi\": {\"bucket_s\": 60}}",
                   "clmd.json: events.allowed_lateness_s: 604800 spans more than 62 buckets of "
                   "kpi.bucket_s 60 (expected at most 3720, or a larger kpi.bucket_s)");
    assert_rejects("{\"kpi\": {\"bucket_s\": 3600}, \"events\": {\"allowed_lateness_s\": 223201}}",
                   "clmd.json: events.allowed_lateness_s: 223201 spans more than 62 buckets of "
                   "kpi.bucket_s 3600 (expected at most 223200, or a larger kpi.bucket_s)");
    assert_int_equal(load("{\"kpi\": {\"bucket_s\": 60}, \"events\": {\"allowed_lateness_s\": 3720}}",
                          &cfg, err, sizeof err), 0);
    clm_config_free(cfg);
}

/* identity.topic must be a topic no other key names. */
static void test_identity_topic(void **state)
{
    (void)state;
    clm_config *cfg = NULL;
    char err[512];

    assert_rejects("{\"identity\": {\"topic\": \"clm.events\"}}",
                   "clmd.json: identity.topic: \"clm.events\" is also the topic of kafka.topics "
                   "(expected a topic of its own, e.g. \"clm.events.clmd-identity\")");
    assert_rejects("{\"kafka\": {\"topics\": [\"a\", \"b\"]}, \"identity\": {\"topic\": \"b.dlq\"}}",
                   "clmd.json: identity.topic: \"b.dlq\" is also the topic of kafka.dlq_topic "
                   "(expected a topic of its own, e.g. \"a.clmd-identity\")");
    assert_rejects("{\"kafka\": {\"dlq_topic\": \"dead\"}, \"identity\": {\"topic\": \"dead\"}}",
                   "clmd.json: identity.topic: \"dead\" is also the topic of kafka.dlq_topic "
                   "(expected a topic of its own, e.g. \"clm.events.clmd-identity\")");
    assert_rejects("{\"identity\": {\"topic\": \"clm.alerts\"}}",
                   "clmd.json: identity.topic: \"clm.alerts\" is also the topic of alerts.topic "
                   "(expected a topic of its own, e.g. \"clm.events.clmd-identity\")");
    assert_rejects("{\"kafka\": {\"properties\": {\"partition.assignment.strategy\": "
                   "\"cooperative-sticky\"}}, \"identity\": {\"topic\": \"i\"}}",
                   "clmd.json: kafka.properties: partition.assignment.strategy "
                   "\"cooperative-sticky\" with identity.topic set (expected \"range\", the "
                   "default: a consumer must own the same partition numbers of the events topics "
                   "and the internal topic)");
    assert_int_equal(load("{\"kafka\": {\"properties\": {\"partition.assignment.strategy\": "
                          "\"range\"}}, \"identity\": {\"topic\": \"i\"}}", &cfg, err,
                          sizeof err), 0);
    clm_config_free(cfg);
    /* without identity.topic any assignor is accepted, as before */
    assert_int_equal(load("{\"kafka\": {\"properties\": {\"partition.assignment.strategy\": "
                          "\"roundrobin\"}}}", &cfg, err, sizeof err), 0);
    clm_config_free(cfg);
    /* with an explicit dead-letter topic, "<topic>.dlq" is an ordinary name */
    assert_int_equal(load("{\"kafka\": {\"dlq_topic\": \"dead\"}, \"identity\": {\"topic\": "
                          "\"clm.events.dlq\"}}", &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->identity_topic, "clm.events.dlq");
    clm_config_free(cfg);
    assert_int_equal(load("{\"identity\": {\"topic\": \"clm.events.clmd-identity\"}}", &cfg, err,
                          sizeof err), 0);
    assert_string_equal(cfg->identity_topic, "clm.events.clmd-identity");
    clm_config_free(cfg);
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_rejects("{\"flush\": {\"interval_ms\": 0}}",
                   "clmd.json: flush.interval_ms: 0 is out of range (expected an integer 10..600000)");
    assert_rejects("{\"flush\": {\"interval_ms\": 600001}}",
                   "clmd.json: flush.interval_ms: 600001 is out of range"
                   " (expected an integer 10..600000)");
    assert_rejects("{\"core\": {\"max_customers\": 999}}",
                   "clmd.json: core.max_customers: 999 is out of range"
                   " (expected an integer 1000..1000000000)");
    /* 2^40 fits an int64 but not the bound (and would not fit an int). */
    assert_rejects("{\"core\": {\"max_customers\": 1099511627776}}",
                   "clmd.json: core.max_customers: 1099511627776 is out of range"
                   " (expected an integer 1000..1000000000)");
    /* 2^32 + 1 would wrap to 1 in an int: it must be rejected, not truncated. */
    assert_rejects("{\"redis\": {\"port\": 4294967297}}",
                   "clmd.json: redis.port: 4294967297 is out of range (expected an integer 1..65535)");
    assert_rejects("{\"events\": {\"dedup_max_ids\": -1}}",
                   "clmd.json: events.dedup_max_ids: -1 is out of range (expected an integer 1..1024)");
}

static void test_lifecycle_and_kpi_bounds(void **state)
{
    (void)state;
    /* 60 days = 5184000 s. */
    assert_rejects("{\"events\": {\"allowed_lateness_s\": 5184001}}",
                   "clmd.json: events.allowed_lateness_s: 5184001 is out of range"
                   " (expected an integer 0..5184000)");
    assert_rejects("{\"lifecycle\": {\"churn_inactive_days\": 0}}",
                   "clmd.json: lifecycle.churn_inactive_days: 0 is out of range"
                   " (expected an integer 1..3650)");
    assert_rejects("{\"lifecycle\": {\"forward_only\": \"yes\"}}",
                   "clmd.json: lifecycle.forward_only: \"yes\" has the wrong type"
                   " (expected true or false)");
    assert_rejects("{\"lifecycle\": {\"stages\": []}}",
                   "clmd.json: lifecycle.stages: [] has too few entries"
                   " (expected a list of at least 1 string)");
    assert_rejects("{\"lifecycle\": {\"churned_stage\": \"\"}}",
                   "clmd.json: lifecycle.churned_stage: \"\" is too short"
                   " (expected a non-empty string)");
    assert_rejects("{\"kpi\": {\"clv_min_tenure_days\": 3651}}",
                   "clmd.json: kpi.clv_min_tenure_days: 3651 is out of range"
                   " (expected an integer 1..3650)");
    assert_rejects("{\"kpi\": {\"clv_max_years\": 0}}",
                   "clmd.json: kpi.clv_max_years: 0 is out of range (expected a number 0.1..100)");
    assert_rejects("{\"kpi\": {\"gross_margin\": 1.5}}",
                   "clmd.json: kpi.gross_margin: 1.5 is out of range (expected a number 0..1)");
    assert_rejects("{\"kpi\": {\"refresh_ms\": 99}}",
                   "clmd.json: kpi.refresh_ms: 99 is out of range"
                   " (expected an integer 100..3600000)");
}

static void test_kpi_windows(void **state)
{
    static const char expect[] =
        " (expected a list of at least 1 integer, each 1..3650, all different)";
    char message[256];

    (void)state;
    snprintf(message, sizeof message, "clmd.json: kpi.windows: [] has too few entries%s", expect);
    assert_rejects("{\"kpi\": {\"windows\": []}}", message);
    snprintf(message, sizeof message, "clmd.json: kpi.windows: [7,0] has an entry out of range%s",
             expect);
    assert_rejects("{\"kpi\": {\"windows\": [7, 0]}}", message);
    snprintf(message, sizeof message,
             "clmd.json: kpi.windows: [3651] has an entry out of range%s", expect);
    assert_rejects("{\"kpi\": {\"windows\": [3651]}}", message);
    snprintf(message, sizeof message, "clmd.json: kpi.windows: [30,7,30] has a repeated entry%s",
             expect);
    assert_rejects("{\"kpi\": {\"windows\": [30, 7, 30]}}", message);
    snprintf(message, sizeof message, "clmd.json: kpi.windows: [7.5] has the wrong type%s", expect);
    assert_rejects("{\"kpi\": {\"windows\": [7.5]}}", message);
    snprintf(message, sizeof message, "clmd.json: kpi.windows: 7 has the wrong type%s", expect);
    assert_rejects("{\"kpi\": {\"windows\": 7}}", message);
}

static void test_kpi_bucket_day_aligned(void **state)
{
    static const int good[] = {60, 900, 3600, 86400};
    clm_config *cfg;
    char err[256];

    (void)state;
    /* whole minutes dividing a day: 86400 / 60 = 1440, / 900 = 96, / 3600 = 24, / 86400 = 1 */
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char json[96];

        snprintf(json, sizeof json,
                 "{\"kpi\": {\"bucket_s\": %d}, \"events\": {\"allowed_lateness_s\": 0}}",
                 good[i]);
        assert_int_equal(load(json, &cfg, err, sizeof err), 0);
        assert_int_equal(cfg->kpi_bucket_s, good[i]);
        clm_config_free(cfg);
    }
    /* 86400 / 7000 = 12.34...: does not divide a day. */
    assert_rejects("{\"kpi\": {\"bucket_s\": 7000}}",
                   "clmd.json: kpi.bucket_s: 7000 is not a whole number of minutes dividing 86400"
                   " (expected a whole number of minutes dividing 86400, within 60..86400)");
    /* 675 divides 86400 (128 x 675) but is not whole minutes (675 / 60 = 11.25). */
    assert_rejects("{\"kpi\": {\"bucket_s\": 675}}",
                   "clmd.json: kpi.bucket_s: 675 is not a whole number of minutes dividing 86400"
                   " (expected a whole number of minutes dividing 86400, within 60..86400)");
    /* 172800 = 2 days: above the one-day maximum. */
    assert_rejects("{\"kpi\": {\"bucket_s\": 172800}}",
                   "clmd.json: kpi.bucket_s: 172800 is out of range"
                   " (expected a whole number of minutes dividing 86400, within 60..86400)");
    /* 30 divides 86400 but is below 60. */
    assert_rejects("{\"kpi\": {\"bucket_s\": 30}}",
                   "clmd.json: kpi.bucket_s: 30 is out of range"
                   " (expected a whole number of minutes dividing 86400, within 60..86400)");
}

static void test_power_of_two(void **state)
{
    (void)state;
    /* 1000 = 2^9 + 488: in range, not a power of two. */
    assert_rejects("{\"core\": {\"ring_size\": 1000}}",
                   "clmd.json: core.ring_size: 1000 is not a power of two"
                   " (expected a power of two 64..1048576)");
    /* 32 = 2^5 is a power of two but below 64. */
    assert_rejects("{\"core\": {\"ring_size\": 32}}",
                   "clmd.json: core.ring_size: 32 is out of range"
                   " (expected a power of two 64..1048576)");
}

static void test_bad_enum_and_list(void **state)
{
    (void)state;
    assert_rejects("{\"events\": {\"unknown_type\": \"drop\"}}",
                   "clmd.json: events.unknown_type: \"drop\" is not allowed"
                   " (expected one of \"activity\", \"reject\")");
    /* Enum values are case-sensitive. */
    assert_rejects("{\"log\": {\"level\": \"INFO\"}}",
                   "clmd.json: log.level: \"INFO\" is not allowed (expected one of \"emerg\","
                   " \"alert\", \"crit\", \"err\", \"warning\", \"notice\", \"info\", \"debug\")");
    assert_rejects("{\"kafka\": {\"topics\": []}}",
                   "clmd.json: kafka.topics: [] has too few entries"
                   " (expected a list of at least 1 string)");
}

static void test_string_bounds(void **state)
{
    char json[160], message[320];

    (void)state;
    assert_rejects("{\"redis\": {\"prefix\": \"clm :\"}}",
                   "clmd.json: redis.prefix: \"clm :\" contains whitespace"
                   " (expected a string of 1..64 bytes without whitespace)");
    assert_rejects("{\"redis\": {\"prefix\": \"\"}}",
                   "clmd.json: redis.prefix: \"\" is too short"
                   " (expected a string of 1..64 bytes without whitespace)");
    assert_rejects("{\"kafka\": {\"group_id\": \"\"}}",
                   "clmd.json: kafka.group_id: \"\" is too short (expected a non-empty string)");
    /* 65 bytes: one over the limit; the JSON value is 67 characters, longer
     * than the 64 shown, so it is cut to 61 characters ("\"" and 60 'p')
     * followed by "...". */
    snprintf(json, sizeof json, "{\"redis\": {\"prefix\": \"%s\"}}",
             "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp");
    snprintf(message, sizeof message,
             "clmd.json: redis.prefix: \"%s... is too long"
             " (expected a string of 1..64 bytes without whitespace)",
             "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp");
    assert_rejects(json, message);
}

static void test_secret_in_main_file(void **state)
{
    clm_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(load("{\"redis\": {\"password\": \"hunter2\"}}", &cfg, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "clmd.json: redis.password: <redacted> is a secret and not allowed"
                             " here (expected it in the secrets file: secrets_file or"
                             " $CREDENTIALS_DIRECTORY/clmd-secrets.json)");
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(load("{\"kafka\": {\"properties\": {\"sasl.password\": \"hunter2\"}}}", &cfg,
                          err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "clmd.json: kafka.properties.sasl.password: <redacted> is a secret"
                             " and not allowed here (expected it in the secrets file: secrets_file"
                             " or $CREDENTIALS_DIRECTORY/clmd-secrets.json)");
    assert_null(strstr(err, "hunter2"));
    /* Even with the wrong type the value is not shown. */
    assert_rejects("{\"kafka\": {\"properties\": {\"ssl.key.password\": 1234}}}",
                   "clmd.json: kafka.properties.ssl.key.password: <redacted> is a secret and not"
                   " allowed here (expected it in the secrets file: secrets_file or"
                   " $CREDENTIALS_DIRECTORY/clmd-secrets.json)");
}

/* ---- files ------------------------------------------------------------------ */

static void test_missing_file(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *path = tmp_path("absent.json");

    (void)state;
    snprintf(expected, sizeof expected, "%s: cannot open: No such file or directory", path);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -ENOENT);
    assert_string_equal(err, expected);
    assert_null(cfg);
}

static void test_syntax_error(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *path;

    (void)state;
    /* The trailing comma: the '}' after it is line 4, column 3. */
    path = write_file("syntax.json", "{\n  \"flush\": {\n    \"interval_ms\": 10,\n  }\n}\n");
    snprintf(expected, sizeof expected,
             "%s: line 4, column 3: invalid JSON: string or '}' expected near '}'", path);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(cfg);
}

static void test_duplicate_key(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *path;

    (void)state;
    /* {"redis": {"port": 1, "port" is 28 characters: the second "port" ends
     * at line 1, column 28. */
    path = write_file("dup.json", "{\"redis\": {\"port\": 1, \"port\": 2}}");
    snprintf(expected, sizeof expected,
             "%s: line 1, column 28: invalid JSON: duplicate object key near '\"port\"'", path);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(cfg);
}

static void test_load_file_errors_name_file(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *path = write_file("range.json", "{\"flush\": {\"max_dirty\": 0}}");

    (void)state;
    snprintf(expected, sizeof expected,
             "%s: flush.max_dirty: 0 is out of range (expected an integer 1..10000000)", path);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(cfg);
}

static void test_secrets_file_merged(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "";
    const char *path;

    (void)state;
    write_file("secrets.json", "{\"//\": \"mode 0600\", \"redis\": {\"password\": \"s3cret\"},"
                               " \"kafka\": {\"properties\": {\"sasl.password\": \"kpass\","
                               " \"// sasl\": \"comment\"}}}");
    /* "secrets.json" is relative: it is taken from the config file's directory. */
    path = write_file("main.json", "{\"secrets_file\": \"secrets.json\", \"kafka\": {\"properties\":"
                                   " {\"security.protocol\": \"SASL_SSL\"}}}");
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg->redis_password, "s3cret");
    assert_int_equal(cfg->kafka_prop_count, 2);
    assert_string_equal(cfg->kafka_props[0].key, "security.protocol");
    assert_string_equal(cfg->kafka_props[0].value, "SASL_SSL");
    assert_string_equal(cfg->kafka_props[1].key, "sasl.password");
    assert_string_equal(cfg->kafka_props[1].value, "kpass");
    assert_string_equal(cfg->secrets_file, "secrets.json");
    assert_string_equal(cfg->path, path);
    clm_config_free(cfg);
}

/* A secrets file every user may read is loaded, and named for clmd's
 * warning at start; mode 600 is not. */
static void test_secrets_exposed(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "";
    const char *path, *secrets;

    (void)state;
    path = write_file("main.json", "{\"secrets_file\": \"secrets.json\"}");
    secrets = write_file("secrets.json", "{\"redis\": {\"password\": \"pw\"}}");
    assert_int_equal(chmod(secrets, 0644), 0);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->secrets_exposed, secrets);
    clm_config_free(cfg);
    cfg = NULL;
    assert_int_equal(chmod(secrets, 0640), 0);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), 0);
    assert_null(cfg->secrets_exposed);
    clm_config_free(cfg);
}

/* http.bearer_token: a secret (secrets file only, never shown), 16..256 bytes. */
static void test_http_bearer_token(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "", expected[512];
    const char *path, *secrets;

    (void)state;
    path = write_file("main.json", "{\"secrets_file\": \"secrets.json\"}");
    secrets = write_file("secrets.json", "{\"http\": {\"bearer_token\": \"0123456789abcdef\"}}");
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->http_bearer_token, "0123456789abcdef");
    clm_config_free(cfg);
    cfg = NULL;

    write_file("secrets.json", "{\"http\": {\"bearer_token\": \"short-leak\"}}");
    snprintf(expected, sizeof expected,
             "%s: http.bearer_token: <redacted> is too short (expected a string of 16..256 bytes)",
             secrets);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(strstr(err, "short-leak"));

    assert_int_equal(load("{\"http\": {\"bearer_token\": \"0123456789abcdef-leak\"}}", &cfg, err,
                          sizeof err), -EINVAL);
    assert_string_equal(err, "clmd.json: http.bearer_token: <redacted> is a secret and not allowed "
                             "here (expected it in the secrets file: secrets_file or "
                             "$CREDENTIALS_DIRECTORY/clmd-secrets.json)");
    assert_null(strstr(err, "leak"));
    assert_null(cfg);

    /* unset: NULL (/metrics open) */
    assert_int_equal(load("{}", &cfg, err, sizeof err), 0);
    assert_null(cfg->http_bearer_token);
    clm_config_free(cfg);
}

static void test_credentials_directory_overrides(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "", main_json[512];
    const char *creds, *secrets;

    (void)state;
    secrets = write_file("secrets.json", "{\"redis\": {\"password\": \"from-file\"},"
                                         " \"kafka\": {\"properties\": {\"sasl.password\": \"p1\"}}}");
    creds = make_dir("creds");
    write_file("creds/clmd-secrets.json",
               "{\"redis\": {\"password\": \"from-creds\"}, \"kafka\": {\"properties\":"
               " {\"sasl.password\": \"p2\", \"sasl.username\": \"clmd\"}}}");
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    /* An absolute secrets_file, with load_string (no directory of its own). */
    snprintf(main_json, sizeof main_json, "{\"secrets_file\": \"%s\"}", secrets);
    assert_int_equal(load(main_json, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->redis_password, "from-creds");
    /* sasl.password keeps its place with the later value; sasl.username is new. */
    assert_int_equal(cfg->kafka_prop_count, 2);
    assert_string_equal(cfg->kafka_props[0].key, "sasl.password");
    assert_string_equal(cfg->kafka_props[0].value, "p2");
    assert_string_equal(cfg->kafka_props[1].key, "sasl.username");
    assert_string_equal(cfg->kafka_props[1].value, "clmd");
    clm_config_free(cfg);
}

static void test_credentials_directory_without_file(void **state)
{
    clm_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    /* The directory exists but holds no clmd-secrets.json: nothing to load. */
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", make_dir("empty-creds"), 1), 0);
    assert_int_equal(load("{}", &cfg, err, sizeof err), 0);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->kafka_prop_count, 0);
    clm_config_free(cfg);
}

static void test_credentials_file_errors(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *creds = make_dir("creds"), *bad;

    (void)state;
    bad = write_file("creds/clmd-secrets.json", "{\"redis\": {\"password\": [\"leak\"]}}");
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    snprintf(expected, sizeof expected,
             "%s: redis.password: <redacted> has the wrong type (expected a string)", bad);
    assert_int_equal(load("{}", &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(strstr(err, "leak"));
}

static void test_secrets_file_errors(void **state)
{
    clm_config *cfg = NULL;
    char err[512], expected[512];
    const char *path, *secrets;

    (void)state;
    path = write_file("main.json", "{\"secrets_file\": \"secrets.json\"}");

    /* Missing. */
    snprintf(expected, sizeof expected, "%s: cannot open: No such file or directory",
             tmp_path("secrets.json"));
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -ENOENT);
    assert_string_equal(err, expected);

    /* Only redis.password, kafka.properties, http.bearer_token and erasure.hmac_key may appear; no hint is near
     * "flush" (5 edits from both "kafka" and "redis"). */
    secrets = write_file("secrets.json", "{\"flush\": {\"interval_ms\": 10}}");
    snprintf(expected, sizeof expected,
             "%s: flush: unknown key (a secrets file holds only kafka.properties, redis.password, "
             "http.bearer_token, erasure.hmac_key)",
             secrets);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);

    /* A value from a secrets file is never shown, even a harmless one. */
    write_file("secrets.json", "{\"kafka\": {\"properties\": {\"client.id\": null}}}");
    snprintf(expected, sizeof expected,
             "%s: kafka.properties.client.id: <redacted> has the wrong type (expected a string, "
             "a number or a boolean)",
             secrets);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);

    /* A syntax error leaves out the text near it: {"redis": {"password": "abc
     * is 27 characters, and the input ends there (line 1, column 27). */
    write_file("secrets.json", "{\"redis\": {\"password\": \"abc");
    snprintf(expected, sizeof expected,
             "%s: line 1, column 27: invalid JSON: premature end of input", secrets);
    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), -EINVAL);
    assert_string_equal(err, expected);
    assert_null(strstr(err, "abc"));
    assert_null(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_empty_object_is_defaults, teardown),
        cmocka_unit_test_teardown(test_example_file_is_defaults, teardown),
        cmocka_unit_test_teardown(test_stage_files_keep_other_defaults, teardown),
        cmocka_unit_test_teardown(test_readme_keys_up_to_date, teardown),
        cmocka_unit_test_teardown(test_describe_plain, teardown),
        cmocka_unit_test_teardown(test_free_null, teardown),
        cmocka_unit_test_teardown(test_every_key_set, teardown),
        cmocka_unit_test_teardown(test_comment_keys_ignored, teardown),
        cmocka_unit_test_teardown(test_unknown_key, teardown),
        cmocka_unit_test(test_inactive_types),
        cmocka_unit_test_teardown(test_wrong_types, teardown),
        cmocka_unit_test_teardown(test_kafka_property_types, teardown),
        cmocka_unit_test_teardown(test_bucket_lateness, teardown),
        cmocka_unit_test_teardown(test_identity_topic, teardown),
        cmocka_unit_test_teardown(test_out_of_range, teardown),
        cmocka_unit_test_teardown(test_lifecycle_and_kpi_bounds, teardown),
        cmocka_unit_test_teardown(test_kpi_windows, teardown),
        cmocka_unit_test_teardown(test_kpi_bucket_day_aligned, teardown),
        cmocka_unit_test_teardown(test_power_of_two, teardown),
        cmocka_unit_test_teardown(test_bad_enum_and_list, teardown),
        cmocka_unit_test_teardown(test_string_bounds, teardown),
        cmocka_unit_test_teardown(test_secret_in_main_file, teardown),
        cmocka_unit_test_teardown(test_missing_file, teardown),
        cmocka_unit_test_teardown(test_syntax_error, teardown),
        cmocka_unit_test_teardown(test_duplicate_key, teardown),
        cmocka_unit_test_teardown(test_load_file_errors_name_file, teardown),
        cmocka_unit_test_teardown(test_secrets_file_merged, teardown),
        cmocka_unit_test_teardown(test_credentials_directory_overrides, teardown),
        cmocka_unit_test_teardown(test_credentials_directory_without_file, teardown),
        cmocka_unit_test_teardown(test_credentials_file_errors, teardown),
        cmocka_unit_test_teardown(test_secrets_file_errors, teardown),
        cmocka_unit_test_teardown(test_http_bearer_token, teardown),
        cmocka_unit_test_teardown(test_secrets_exposed, teardown),
    };

    return cmocka_run_group_tests_name("config", tests, setup, teardown_group);
}
