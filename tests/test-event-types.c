/* tests/test-event-types.c - configured event types: the `event_types` key
 * (config/event_types.c), their decoding by both decoders (meaning, custom
 * index, activity, required fields), stage rules naming them
 * (core/stages.c) and what they do to a customer (core/customer.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/reload.h"
#include "core/customer.h"
#include "core/evtype.h"
#include "core/trait.h"
#include "daemon/decode.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* A small model: trial -> paid, churned, reactivated; rules on custom types. */
static const char CONFIG[] =
    "{\"kafka\": {\"brokers\": \"localhost:9092\"},"
    " \"traits\": [{\"name\": \"plan\", \"type\": \"string\"}],"
    " \"event_types\": ["
    "   {\"name\": \"trial_started\", \"required\": [\"plan\", \"event_id\"]},"
    "   {\"name\": \"renewal\", \"as\": \"purchase\"},"
    "   {\"name\": \"escalation\", \"as\": \"support_ticket\", \"activity\": false,"
    "    \"required\": [\"score\"]}],"
    " \"lifecycle\": {\"stages\": [\"trial\", \"paid\", \"churned\", \"reactivated\"],"
    "   \"rules\": [{\"on\": [\"trial_started\"], \"to\": \"trial\"},"
    "             {\"on\": [\"purchase\"], \"to\": \"paid\"},"
    "             {\"on\": [\"cancel\"], \"to\": \"churned\"},"
    "             {\"on\": \"*\", \"from\": [\"churned\"], \"to\": \"reactivated\"}]}}";

static clm_config *cfg;

static int setup(void **state)
{
    char err[512];
    (void)state;
    if (clm_config_load_string("clmd.json", CONFIG, strlen(CONFIG), &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clm_config_free(cfg);
    return 0;
}

static clm_decode_opts opts(void)
{
    return (clm_decode_opts){4096, 86400000, CLM_UNKNOWN_REJECT, cfg->traits, cfg->event_types};
}

/* Decodes with both decoders, which must agree; returns the result. */
static int decode(const char *json, clm_event *ev, clm_reason *why)
{
    clm_decode_opts o = opts();
    clm_msg_meta meta = {"c-1", 3, T0 + 86400000};
    clm_event a, b;
    clm_reject ra, rb;
    int x = clm_decode_json(json, strlen(json), &meta, &o, &a, &ra);
    int y = clm_decode_fast(json, strlen(json), &meta, &o, &b, &rb);

    assert_int_equal(x, y);
    if (x == 0)
        assert_memory_equal(&a, &b, sizeof(a));
    else
        assert_int_equal(ra.reason, rb.reason);
    *ev = a;
    *why = x ? ra.reason : CLM_REJ_NONE;
    return x;
}

static void test_config(void **state)
{
    (void)state;
    const clm_custom_types *t = cfg->event_types;

    assert_int_equal(t->n, 3);
    assert_string_equal(t->t[0].name, "trial_started");
    assert_int_equal(t->t[0].as, CLM_EV_OTHER);
    assert_int_equal(t->t[0].activity, CLM_ACT_BY_TYPE);
    assert_int_equal(t->t[0].req_fields, CLM_REQ_EVENT_ID);
    assert_int_equal(t->t[0].req_traits, 1);
    assert_int_equal(t->t[1].as, CLM_EV_PURCHASE);
    assert_int_equal(t->t[2].as, CLM_EV_SUPPORT_TICKET);
    assert_int_equal(t->t[2].activity, CLM_ACT_NO);
    assert_int_equal(t->t[2].req_fields, CLM_REQ_SCORE);

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"event_types\": {}}", "x.json: event_types: {} has the wrong type"},
        {"{\"event_types\": [{\"name\": \"purchase\"}]}",
         "x.json: event_types[0].name: \"purchase\" is a built-in type"},
        {"{\"event_types\": [{\"name\": \"other\"}]}",
         "x.json: event_types[0].name: \"other\" is a built-in type"},
        {"{\"event_types\": [{\"name\": \"a\", \"as\": \"buy\"}]}",
         "x.json: event_types[0].as: \"buy\" is not a built-in event type"},
        {"{\"event_types\": [{\"name\": \"a\", \"as\": \"purchase\", \"activity\": false}]}",
         "x.json: event_types[0].activity: false cannot be false for a purchase"},
        {"{\"event_types\": [{\"name\": \"a\", \"required\": [\"ts\"]}]}",
         "x.json: event_types[0].required: \"ts\" is always required"},
        {"{\"event_types\": [{\"name\": \"a\", \"required\": [\"plan\"]}]}",
         "x.json: event_types[0].required: \"plan\" is neither a field of the event contract nor "
         "a configured trait"},
        {"{\"event_types\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
         "x.json: event_types[1].name: \"a\" names an event type twice"},
        {"{\"event_types\": [{\"name\": \"a\", \"colour\": 1}]}",
         "x.json: event_types[0].colour: 1 is not an event type member"},
        {"{\"lifecycle\": {\"stages\": [\"a\", \"churned\", \"reactivated\"], \"rules\": ["
         "{\"on\": [\"trial_started\"], \"to\": \"a\"}, {\"on\": \"*\", \"from\": [\"churned\"],"
         " \"to\": \"reactivated\"}]}}",
         "x.json: lifecycle.rules[0].on: \"trial_started\" is not an event type"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clm_config *c = NULL;
        char err[512];
        assert_int_equal(clm_config_load_string("x.json", bad[i].json, strlen(bad[i].json), &c, err,
                                                sizeof(err)),
                         -EINVAL);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("case %zu: got '%s', want a message starting '%s'", i, err, bad[i].msg);
    }
}

static void test_decode(void **state)
{
    (void)state;
    clm_event ev;
    clm_reason why;

    assert_int_equal(decode("{\"type\":\"trial_started\",\"customer_id\":\"c-1\",\"event_id\":\"e-1\","
                            "\"ts\":1767225600000,\"plan\":\"pro\"}", &ev, &why), 0);
    assert_int_equal(ev.type, CLM_EV_OTHER);
    assert_int_equal(ev.custom, 1);
    assert_int_equal(ev.activity, CLM_ACT_BY_TYPE);
    assert_string_equal(ev.type_name, "trial_started");
    assert_int_equal(ev.trait[0].kind, CLM_TRAIT_STR);

    /* what it requires: a trait, event_id */
    assert_int_equal(decode("{\"type\":\"trial_started\",\"customer_id\":\"c-1\",\"event_id\":\"e-1\","
                            "\"ts\":1767225600000}", &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_MISSING_FIELD);
    assert_int_equal(decode("{\"type\":\"trial_started\",\"customer_id\":\"c-1\","
                            "\"ts\":1767225600000,\"plan\":\"pro\"}", &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_MISSING_FIELD);
    /* a bad trait is bad_trait before the requirement is checked */
    assert_int_equal(decode("{\"type\":\"trial_started\",\"customer_id\":\"c-1\",\"event_id\":\"e-1\","
                            "\"ts\":1767225600000,\"plan\":1}", &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_BAD_TRAIT);

    /* as purchase: the amount is required and read as a purchase's */
    assert_int_equal(decode("{\"type\":\"renewal\",\"customer_id\":\"c-1\",\"ts\":1767225600000}",
                            &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_MISSING_FIELD);
    assert_int_equal(decode("{\"type\":\"renewal\",\"customer_id\":\"c-1\",\"ts\":1767225600000,"
                            "\"amount\":-1}", &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_BAD_AMOUNT);
    assert_int_equal(decode("{\"type\":\"renewal\",\"customer_id\":\"c-1\",\"ts\":1767225600000,"
                            "\"amount\":19.99}", &ev, &why), 0);
    assert_int_equal(ev.type, CLM_EV_PURCHASE);
    assert_int_equal(ev.custom, 2);
    assert_int_equal(ev.amount_micros, 19990000);

    assert_int_equal(decode("{\"type\":\"escalation\",\"customer_id\":\"c-1\",\"ts\":1767225600000}",
                            &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_MISSING_FIELD);
    assert_int_equal(decode("{\"type\":\"escalation\",\"customer_id\":\"c-1\",\"ts\":1767225600000,"
                            "\"score\":3}", &ev, &why), 0);
    assert_int_equal(ev.type, CLM_EV_SUPPORT_TICKET);
    assert_int_equal(ev.activity, CLM_ACT_NO);

    /* unknown types keep today's behaviour */
    assert_int_equal(decode("{\"type\":\"webinar\",\"customer_id\":\"c-1\",\"ts\":1767225600000}",
                            &ev, &why), -EINVAL);
    assert_int_equal(why, CLM_REJ_UNKNOWN_TYPE);
}

static void apply_json(clm_customer *c, const clm_apply_opts *o, clm_deltas *d, const char *json)
{
    clm_event ev;
    clm_reason why;

    assert_int_equal(decode(json, &ev, &why), 0);
    assert_int_equal(clm_customer_apply(c, &ev, o, d, CLM_NO_TS), CLM_APPLIED);
}

static void test_customer(void **state)
{
    (void)state;
    clm_apply_opts o = {.dedup_horizon_ms = 86400000, .dedup_max_ids = 8, .bucket_ms = 86400000,
                        .churn_inactive_ms = 90 * 86400000LL, .clv_min_tenure_ms = 30 * 86400000LL,
                        .stages = cfg->stages, .inactive_types = cfg->lifecycle_inactive_types,
                        .traits = cfg->traits};
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;

    clm_deltas_init(&d);
    /* a rule on the custom type moves the customer */
    apply_json(c, &o, &d, "{\"type\":\"trial_started\",\"customer_id\":\"c-1\",\"event_id\":\"e-1\","
                          "\"ts\":1767225600000,\"plan\":\"pro\"}");
    assert_string_equal(clm_stages_name(cfg->stages, c->stage), "trial");
    assert_int_equal(c->last_seen, T0);
    assert_int_equal(c->last_type, CLM_EV_OTHER);

    /* as purchase: an order with its revenue, and the rules on purchase */
    apply_json(c, &o, &d, "{\"type\":\"renewal\",\"customer_id\":\"c-1\",\"event_id\":\"e-2\","
                          "\"ts\":1767229200000,\"amount\":19.99}");
    assert_int_equal(c->orders, 1);
    assert_int_equal(c->revenue_micros, 19990000);
    assert_int_equal(c->first_purchase, T0 + 3600000);
    assert_string_equal(clm_stages_name(cfg->stages, c->stage), "paid");
    assert_int_equal(c->last_type, CLM_EV_PURCHASE);

    /* activity false: counted, last_seen stays */
    apply_json(c, &o, &d, "{\"type\":\"escalation\",\"customer_id\":\"c-1\",\"event_id\":\"e-3\","
                          "\"ts\":1767232800000,\"score\":2}");
    assert_int_equal(c->events, 3);
    assert_int_equal(c->last_seen, T0 + 3600000);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

/* The stage model alone: a rule naming a custom type matches its bit, and
 * the custom event matches the rules of its meaning too. */
static void test_stage_bits(void **state)
{
    (void)state;
    static const char *const stages[] = {"a", "b", "churned", "reactivated"};
    static const char *const on_trial[] = {"trial_started"}, *const on_purchase[] = {"purchase"};
    static const char *const on_any[] = {"*"}, *const from_churned[] = {"churned"};
    static const char *const on_cancel[] = {"cancel"};
    static const char *const custom[] = {"trial_started", "renewal"};
    const clm_stage_rule_spec rules[] = {
        {.on = on_trial, .non = 1, .to = "a", .min_orders = -1, .max_orders = -1},
        {.on = on_purchase, .non = 1, .to = "b", .min_orders = -1, .max_orders = -1},
        {.on = on_cancel, .non = 1, .to = "churned", .min_orders = -1, .max_orders = -1},
        {.on = on_any, .non = 1, .from = from_churned, .nfrom = 1, .to = "reactivated",
         .min_orders = -1, .max_orders = -1},
    };
    clm_stages_spec spec = {.stages = stages, .nstages = 4, .churned = "churned",
                            .reactivated = "reactivated", .rules = rules, .nrules = 4,
                            .forward_only = true, .custom_types = custom, .ncustom = 2};
    clm_stages *m = NULL;
    char err[256];

    assert_int_equal(clm_stages_new(&spec, &m, err, sizeof(err)), 0);
    clm_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CLM_EV_OTHER;
    ev.custom = 1; /* trial_started */
    assert_int_equal(clm_stages_next_bits(m, CLM_STAGE_NONE, CLM_STAGE_NONE, clm_event_rule_bits(&ev),
                                          false, 0, 0), 0);
    ev.type = CLM_EV_PURCHASE;
    ev.custom = 2; /* renewal, as purchase */
    assert_int_equal(clm_stages_next_bits(m, 0, 0, clm_event_rule_bits(&ev), false, 0, 1), 1);
    ev.type = CLM_EV_OTHER;
    ev.custom = 0; /* an unknown type: no rule names it */
    assert_int_equal(clm_stages_next_bits(m, CLM_STAGE_NONE, CLM_STAGE_NONE,
                                          clm_event_rule_bits(&ev), false, 0, 0), -1);
    clm_stages_free(m);

    spec.ncustom = 0;
    assert_int_equal(clm_stages_new(&spec, &m, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "rule 1: on: \"trial_started\" is not an event type");
}

static void note_diff(void *ctx, const char *path, bool live)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s%s:%s", n ? " " : "", path, live ? "live" : "restart");
}

/* A reload that changes traits or event types reports a restart; rules are
 * not swapped live when the event types they may name changed. */
static void test_reload(void **state)
{
    (void)state;
    char err[512], diff[512] = "";
    const char *marker = "\"required\": [\"score\"]}],";
    const char *at = strstr(CONFIG, marker);
    assert_non_null(at);
    char other[2048];
    /* the same config with one more event type and plan as a number */
    snprintf(other, sizeof(other), "%.*s\"required\": [\"score\"]}, {\"name\": \"demo\"}],%s",
             (int)(at - CONFIG), CONFIG, at + strlen(marker));
    char *plan = strstr(other, "\"type\": \"string\"}]");
    assert_non_null(plan);
    memcpy(plan, "\"type\": \"number\"}]", strlen("\"type\": \"number\"}]"));
    clm_config *next = NULL;
    if (clm_config_load_string("next.json", other, strlen(other), &next, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(clm_config_diff(cfg, next, note_diff, diff), 2);
    assert_string_equal(diff, "traits:restart event_types:restart");
    assert_false(clm_config_same_stages(cfg, next));
    assert_true(clm_config_same_stages(cfg, cfg));
    clm_config_free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_customer),
        cmocka_unit_test(test_stage_bits),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
