/* tests/test-stages.c - core/stages: the default model rule by rule, the
 * allowed moves, validation messages, and the shipped B2B and B2C models.
 *
 * The default model is the one clmd ships (clm_config_new_defaults), so these
 * tests check the default rules as configured, not a copy of them. Its
 * stages, by index: awareness 0, acquisition 1, conversion 2, onboarding 3,
 * engagement 4, retention 5, advocacy 6, churned 7, reactivated 8; the
 * ordinary stages 0..6 have rank = index.
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
#include "core/stages.h"

#ifndef CLM_SOURCE_DIR
#error "CLM_SOURCE_DIR must name the source tree (set in tests/meson.build)"
#endif

/* ---- a customer walking through a model ---------------------------------- */

typedef struct walker {
    const clm_stages *m;
    int cur, peak;  /* stage indices or CLM_STAGE_NONE */
    int64_t orders; /* orders so far */
} walker;

static walker walk_from(const clm_stages *m, const char *stage, const char *peak, int64_t orders)
{
    walker w = {.m = m, .cur = CLM_STAGE_NONE, .peak = CLM_STAGE_NONE, .orders = orders};

    if (stage) {
        w.cur = clm_stages_index(m, stage, strlen(stage));
        assert_true(w.cur >= 0);
    }
    if (peak) {
        w.peak = clm_stages_index(m, peak, strlen(peak));
        assert_true(w.peak >= 0);
    }
    return w;
}

/* Applies one event (a purchase adds an order first) and returns the name of
 * the stage the customer is in afterwards. */
static const char *event_scored(walker *w, clm_event_type t, bool has_score, int32_t score)
{
    int next;

    if (t == CLM_EV_PURCHASE)
        w->orders++;
    next = clm_stages_next(w->m, w->cur, w->peak, t, has_score, score, w->orders);
    if (next >= 0) {
        w->cur = next;
        if (clm_stages_rank(w->m, next) > clm_stages_rank(w->m, w->peak))
            w->peak = next;
    }
    return clm_stages_name(w->m, w->cur);
}

static const char *event(walker *w, clm_event_type t)
{
    return event_scored(w, t, false, 0);
}

/* ---- fixtures ------------------------------------------------------------- */

static clm_config *defaults;

static int setup_group(void **state)
{
    (void)state;
    defaults = clm_config_new_defaults();
    return defaults && defaults->stages ? 0 : -1;
}

static int teardown_group(void **state)
{
    (void)state;
    clm_config_free(defaults);
    return 0;
}

static walker fresh(void)
{
    return walk_from(defaults->stages, NULL, NULL, 0);
}

/* ---- the default model's shape -------------------------------------------- */

static void test_default_model_shape(void **state)
{
    const clm_stages *m = defaults->stages;

    (void)state;
    assert_int_equal(clm_stages_count(m), 9);
    assert_int_equal(clm_stages_ordinary(m), 7);
    assert_string_equal(clm_stages_name(m, 0), "awareness");
    assert_string_equal(clm_stages_name(m, 6), "advocacy");
    assert_string_equal(clm_stages_name(m, CLM_STAGE_NONE), "none");
    assert_null(clm_stages_name(m, 9));
    assert_int_equal(clm_stages_churned(m), 7);
    assert_int_equal(clm_stages_reactivated(m), 8);
    assert_int_equal(clm_stages_index(m, "retention", 9), 5);
    /* Only the first 9 bytes of "retentionX" are the name. */
    assert_int_equal(clm_stages_index(m, "retentionX", 9), 5);
    assert_int_equal(clm_stages_index(m, "retention", 6), -ENOENT); /* "retent" */
    assert_int_equal(clm_stages_index(m, "none", 4), -ENOENT);
    assert_int_equal(clm_stages_rank(m, 5), 5);
    assert_int_equal(clm_stages_rank(m, 7), -1);
    assert_int_equal(clm_stages_rank(m, 8), -1);
    assert_int_equal(clm_stages_rank(m, CLM_STAGE_NONE), -1);
    assert_int_equal(clm_stages_at_rank(m, 4), 4);
    assert_int_equal(clm_stages_at_rank(m, 7), -1);
    assert_true(clm_stages_forward_only(m));
    assert_int_equal(defaults->lifecycle_churn_inactive_days, 90);
}

/* ---- each default rule ------------------------------------------------------ */

static void test_rule_visit_to_awareness(void **state)
{
    walker w = fresh();

    (void)state;
    /* Rule 1: none -> awareness (from none every ordinary move is allowed). */
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    /* A second visit targets the current stage: no move. */
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
}

static void test_rule_signup_to_acquisition(void **state)
{
    walker w = fresh(), direct = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    /* Rule 2: rank 1 > rank 0. */
    assert_string_equal(event(&w, CLM_EV_SIGNUP), "acquisition");
    /* A signup with no stage yet goes straight to acquisition. */
    assert_string_equal(event(&direct, CLM_EV_SIGNUP), "acquisition");
}

static void test_rule_first_purchase_to_conversion(void **state)
{
    walker w = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    assert_string_equal(event(&w, CLM_EV_SIGNUP), "acquisition");
    /* Rule 3: orders after the event = 1, within 1..1. */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "conversion");
    assert_int_equal(w.orders, 1);
}

static void test_rule_onboarding_complete(void **state)
{
    walker w = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_SIGNUP), "acquisition");
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "conversion");
    /* Rule 4: rank 3 > rank 2. */
    assert_string_equal(event(&w, CLM_EV_ONBOARDING_COMPLETE), "onboarding");
}

static void test_rule_activity_from_onboarding_to_engagement(void **state)
{
    static const clm_event_type activity[] = {CLM_EV_LOGIN, CLM_EV_SESSION, CLM_EV_FEATURE_USE};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        walker w = walk_from(defaults->stages, "onboarding", "onboarding", 1);

        /* Rule 5 fires from onboarding only. */
        assert_string_equal(event(&w, activity[i]), "engagement");
    }
    for (size_t i = 0; i < 3; i++) {
        walker w = walk_from(defaults->stages, "conversion", "conversion", 1);

        /* From conversion rule 5's "from" does not hold; no other rule has
         * login, session or feature_use. */
        assert_string_equal(event(&w, activity[i]), "conversion");
    }
    {
        walker w = fresh();

        assert_string_equal(event(&w, CLM_EV_LOGIN), "none");
    }
}

static void test_rule_second_purchase_to_retention(void **state)
{
    walker w = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "conversion");
    assert_string_equal(event(&w, CLM_EV_ONBOARDING_COMPLETE), "onboarding");
    assert_string_equal(event(&w, CLM_EV_SESSION), "engagement");
    /* Orders 2: rule 3 (max 1) fails, rule 6 (min 2) moves rank 4 -> 5. */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "retention");
    /* Orders 3: retention again, the current stage: no move. */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "retention");
}

static void test_rule_referral_review_to_advocacy(void **state)
{
    walker w = walk_from(defaults->stages, "conversion", "conversion", 1);
    walker v = walk_from(defaults->stages, "retention", "retention", 2);
    walker no_orders = walk_from(defaults->stages, "acquisition", "acquisition", 0);

    (void)state;
    /* Rule 7 needs orders >= 1. */
    assert_string_equal(event(&w, CLM_EV_REFERRAL), "advocacy");
    assert_string_equal(event(&v, CLM_EV_REVIEW), "advocacy");
    assert_string_equal(event(&no_orders, CLM_EV_REFERRAL), "acquisition");
    assert_string_equal(event(&no_orders, CLM_EV_REVIEW), "acquisition");
}

static void test_rule_nps_promoter_to_advocacy(void **state)
{
    walker w = walk_from(defaults->stages, "retention", "retention", 2);
    walker nine = walk_from(defaults->stages, "conversion", "conversion", 1);
    walker zero = walk_from(defaults->stages, "acquisition", "acquisition", 0);

    (void)state;
    /* Rule 8: score >= 9 and orders >= 1. 8 is below the bound; an
     * nps_response without a score never matches a score bound. */
    assert_string_equal(event_scored(&w, CLM_EV_NPS_RESPONSE, true, 8), "retention");
    assert_string_equal(event(&w, CLM_EV_NPS_RESPONSE), "retention");
    assert_string_equal(event_scored(&w, CLM_EV_NPS_RESPONSE, true, 10), "advocacy");
    assert_string_equal(event_scored(&nine, CLM_EV_NPS_RESPONSE, true, 9), "advocacy");
    /* No orders: a promoter score alone does not make an advocate. */
    assert_string_equal(event_scored(&zero, CLM_EV_NPS_RESPONSE, true, 10), "acquisition");
}

static void test_rule_cancel_to_churned(void **state)
{
    walker w = walk_from(defaults->stages, "advocacy", "advocacy", 3);
    walker none = walk_from(defaults->stages, "acquisition", "acquisition", 0);

    (void)state;
    /* Rule 9: orders >= 1; into churned from any stage. */
    assert_string_equal(event(&w, CLM_EV_CANCEL), "churned");
    /* Orders 0: no rule matches, the stage stays. */
    assert_string_equal(event(&none, CLM_EV_CANCEL), "acquisition");
}

static void test_rule_any_event_from_churned_to_reactivated(void **state)
{
    static const clm_event_type any[] = {CLM_EV_VISIT, CLM_EV_LOGIN, CLM_EV_PURCHASE,
                                         CLM_EV_OTHER, CLM_EV_SUPPORT_TICKET, CLM_EV_REFERRAL};

    (void)state;
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        walker w = walk_from(defaults->stages, "churned", "retention", 2);

        /* Rules 1..9 would leave churned for an ordinary stage, which is not
         * allowed; rule 10 ("*" from churned) fires. */
        assert_string_equal(event(&w, any[i]), "reactivated");
    }
    {
        walker w = walk_from(defaults->stages, "churned", "retention", 2);

        assert_string_equal(event_scored(&w, CLM_EV_NPS_RESPONSE, true, 10), "reactivated");
    }
}

/* ---- allowed moves ---------------------------------------------------------- */

static void test_forward_only_blocks_going_back(void **state)
{
    walker w = walk_from(defaults->stages, "retention", "retention", 2);
    walker c = walk_from(defaults->stages, "conversion", "conversion", 1);

    (void)state;
    /* visit -> awareness: rank 0 < 5. */
    assert_string_equal(event(&w, CLM_EV_VISIT), "retention");
    /* signup -> acquisition: rank 1 < 2. */
    assert_string_equal(event(&c, CLM_EV_SIGNUP), "conversion");
    /* onboarding_complete from engagement: rank 3 < 4. */
    w = walk_from(defaults->stages, "engagement", "engagement", 1);
    assert_string_equal(event(&w, CLM_EV_ONBOARDING_COMPLETE), "engagement");
}

static void test_direct_buyer_skips_acquisition(void **state)
{
    walker w = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    /* Rank 2 > 0: acquisition (rank 1) is skipped. */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "conversion");
    assert_string_equal(clm_stages_name(defaults->stages, w.peak), "conversion");
}

static void test_full_lifecycle_with_return(void **state)
{
    walker w = fresh();

    (void)state;
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    assert_string_equal(event(&w, CLM_EV_SIGNUP), "acquisition");
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "conversion");        /* orders 1 */
    assert_string_equal(event(&w, CLM_EV_ONBOARDING_COMPLETE), "onboarding");
    assert_string_equal(event(&w, CLM_EV_FEATURE_USE), "engagement");
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "retention");         /* orders 2 */
    assert_string_equal(event(&w, CLM_EV_CANCEL), "churned");
    assert_string_equal(event(&w, CLM_EV_LOGIN), "reactivated");
    /* Peak retention (rank 5): awareness (0) is below it. */
    assert_string_equal(event(&w, CLM_EV_VISIT), "reactivated");
    /* Orders 3 -> rule 6 targets retention, rank 5 >= peak rank 5. */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "retention");
    assert_string_equal(event_scored(&w, CLM_EV_NPS_RESPONSE, true, 10), "advocacy");
}

static void test_reactivated_respects_peak(void **state)
{
    walker w = walk_from(defaults->stages, "reactivated", "advocacy", 2);

    (void)state;
    /* Orders 3 -> retention (rank 5) is below the peak advocacy (rank 6). */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "reactivated");
    /* referral -> advocacy: rank 6 >= 6. */
    assert_string_equal(event(&w, CLM_EV_REFERRAL), "advocacy");
    /* A customer churned from no ordinary stage (peak none) may go anywhere. */
    w = walk_from(defaults->stages, "reactivated", NULL, 0);
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
}

static void test_forward_only_false_allows_going_back(void **state)
{
    static const char json[] = "{\"lifecycle\": {\"forward_only\": false}}";
    clm_config *cfg = NULL;
    char err[256] = "";
    walker w;

    (void)state;
    assert_int_equal(clm_config_load_string("back.json", json, strlen(json), &cfg, err, sizeof err),
                     0);
    assert_false(clm_stages_forward_only(cfg->stages));
    w = walk_from(cfg->stages, "retention", "retention", 2);
    /* Rule 1 matches and every move is allowed: back to rank 0. */
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    w = walk_from(cfg->stages, "churned", "retention", 2);
    /* Rule 1 comes before rule 10: churned -> awareness directly. */
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    clm_config_free(cfg);
}

/* ---- hand-made specs: from, bounds, validation ---------------------------- */

static const char *const abc[] = {"a", "b", "c", "gone", "back"};

#define RULE(...) ((clm_stage_rule_spec){.min_orders = -1, .max_orders = -1, \
                                         .min_score = INT32_MIN, .max_score = INT32_MAX, \
                                         __VA_ARGS__})

static const char *const on_visit[] = {"visit"};
static const char *const on_login[] = {"login"};
static const char *const on_purchase[] = {"purchase"};
static const char *const on_cancel[] = {"cancel"};
static const char *const on_any[] = {"*"};
static const char *const from_gone[] = {"gone"};
static const char *const from_none[] = {"none"};

/* a <- visit, b <- login from none only, c <- purchase, gone <- cancel,
 * back <- anything from gone. */
static void abc_rules(clm_stage_rule_spec rules[5])
{
    rules[0] = RULE(.on = on_visit, .non = 1, .to = "a");
    rules[1] = RULE(.on = on_login, .non = 1, .from = from_none, .nfrom = 1, .to = "b");
    rules[2] = RULE(.on = on_purchase, .non = 1, .to = "c");
    rules[3] = RULE(.on = on_cancel, .non = 1, .to = "gone");
    rules[4] = RULE(.on = on_any, .non = 1, .from = from_gone, .nfrom = 1, .to = "back");
}

static clm_stages_spec abc_spec(clm_stage_rule_spec rules[5])
{
    abc_rules(rules);
    return (clm_stages_spec){.stages = abc, .nstages = 5, .churned = "gone",
                             .reactivated = "back", .rules = rules, .nrules = 5,
                             .forward_only = true};
}

static void test_rule_from_none(void **state)
{
    clm_stage_rule_spec rules[5];
    clm_stages_spec spec = abc_spec(rules);
    clm_stages *m = NULL;
    char err[256] = "";
    walker w;

    (void)state;
    assert_int_equal(clm_stages_new(&spec, &m, err, sizeof err), 0);
    w = walk_from(m, NULL, NULL, 0);
    /* Rule 2 fires only for a customer with no stage. */
    assert_string_equal(event(&w, CLM_EV_LOGIN), "b");
    w = walk_from(m, "a", "a", 0);
    assert_string_equal(event(&w, CLM_EV_LOGIN), "a");
    /* Invalid inputs move nobody. */
    assert_int_equal(clm_stages_next(m, 5, CLM_STAGE_NONE, CLM_EV_VISIT, false, 0, 0), -1);
    assert_int_equal(clm_stages_next(m, CLM_STAGE_NONE, CLM_STAGE_NONE, CLM_EV__COUNT, false, 0, 0),
                     -1);
    clm_stages_free(m);
}

static void test_score_and_order_bounds(void **state)
{
    static const char *const on_nps[] = {"nps_response"};
    clm_stage_rule_spec rules[6];
    clm_stages_spec spec = abc_spec(rules);
    clm_stages *m = NULL;
    char err[256] = "";

    (void)state;
    /* c also from an nps_response scoring 3..5 with 2..4 orders, tried first. */
    rules[5] = rules[4];
    rules[4] = rules[3];
    rules[3] = rules[2];
    rules[2] = (clm_stage_rule_spec){.on = on_nps, .non = 1, .to = "c", .min_score = 3,
                                     .max_score = 5, .has_score_cond = true, .min_orders = 2,
                                     .max_orders = 4};
    spec.nrules = 6;
    assert_int_equal(clm_stages_new(&spec, &m, err, sizeof err), 0);
    /* Index of c is 2; a customer in a (index 0). */
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 3, 2), 2);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 5, 4), 2);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 2, 3), -1);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 6, 3), -1);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 4, 1), -1);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, true, 4, 5), -1);
    assert_int_equal(clm_stages_next(m, 0, 0, CLM_EV_NPS_RESPONSE, false, 4, 3), -1);
    clm_stages_free(m);
}

/* Asserts that spec is rejected with exactly message, *out untouched. */
static void assert_invalid(const clm_stages_spec *spec, const char *message)
{
    static char sentinel;
    clm_stages *const untouched = (clm_stages *)&sentinel;
    clm_stages *m = untouched;
    char err[512] = "";

    assert_int_equal(clm_stages_new(spec, &m, err, sizeof err), -EINVAL);
    assert_ptr_equal(m, untouched);
    assert_string_equal(err, message);
}

static void test_validation_errors(void **state)
{
    static const char *const dup[] = {"a", "b", "a", "gone", "back"};
    static const char *const with_none[] = {"a", "none", "gone", "back"};
    static const char *const on_typo[] = {"purchse"};
    static const char *const on_mixed[] = {"visit", "*"};
    static const char *const from_typo[] = {"bb"};
    clm_stage_rule_spec rules[5];
    clm_stages_spec spec;

    (void)state;
    spec = abc_spec(rules);
    rules[2].to = "cc";
    assert_invalid(&spec, "rule 3: to: \"cc\" is not a stage"
                          " (expected one of \"a\", \"b\", \"c\", \"gone\", \"back\")");

    spec = abc_spec(rules);
    rules[1].from = from_typo;
    assert_invalid(&spec, "rule 2: from: \"bb\" is not a stage"
                          " (expected \"none\" or one of \"a\", \"b\", \"c\", \"gone\", \"back\")");

    spec = abc_spec(rules);
    rules[2].on = on_typo;
    assert_invalid(&spec, "rule 3: on: \"purchse\" is not an event type");

    spec = abc_spec(rules);
    rules[0].on = on_mixed;
    rules[0].non = 2;
    assert_invalid(&spec, "rule 1: on: \"*\" is beside other event types (expected \"*\" alone)");

    spec = abc_spec(rules);
    rules[0].non = 0;
    assert_invalid(&spec, "rule 1: on: is empty (expected event type names or \"*\")");

    spec = abc_spec(rules);
    spec.stages = dup;
    assert_invalid(&spec, "stages: stage \"a\" is listed twice");

    spec = abc_spec(rules);
    spec.stages = with_none;
    spec.nstages = 4;
    assert_invalid(&spec,
                   "stages: stage \"none\" is reserved (it names a customer with no stage yet)");

    spec = abc_spec(rules);
    spec.churned = "lost";
    assert_invalid(&spec, "churned: \"lost\" is not a stage"
                          " (expected one of \"a\", \"b\", \"c\", \"gone\", \"back\")");

    spec = abc_spec(rules);
    spec.reactivated = "gone";
    assert_invalid(&spec, "reactivated: \"gone\" is also the churn stage"
                          " (expected a stage of its own)");

    spec = abc_spec(rules);
    rules[2].min_orders = 3;
    rules[2].max_orders = 2;
    assert_invalid(&spec, "rule 3: max_orders: 2 is less than min_orders 3");

    spec = abc_spec(rules);
    rules[2].has_score_cond = true;
    rules[2].min_score = 9;
    rules[2].max_score = 8;
    assert_invalid(&spec, "rule 3: max_score: 8 is less than min_score 9");

    spec = abc_spec(rules);
    rules[2].min_orders = -2;
    assert_invalid(&spec, "rule 3: min_orders: -2 is out of range"
                          " (expected a count >= 0, or -1 for none)");

    spec = abc_spec(rules);
    spec.nstages = 0;
    assert_invalid(&spec, "stages: there are no stages"
                          " (expected at least the churn and reactivation stages)");
}

static void test_too_many_stages(void **state)
{
    static const char *const many[CLM_STAGES_MAX + 1] = {"gone", "back"};
    clm_stage_rule_spec rules[5];
    clm_stages_spec spec = abc_spec(rules);

    (void)state;
    spec.stages = many;
    spec.nstages = CLM_STAGES_MAX + 1;
    assert_invalid(&spec, "stages: 33 stages are too many (expected at most 32)");
}

static void test_unreachable_stages(void **state)
{
    static const char *const on_signup[] = {"signup"};
    static const char *const from_c[] = {"c"};
    clm_stage_rule_spec rules[5];
    clm_stages_spec spec;

    (void)state;
    /* No rule targets b once rule 2 goes to a instead. */
    spec = abc_spec(rules);
    rules[1].to = "a";
    assert_invalid(&spec, "stages: stage \"b\" is unreachable (no rule leads to it)");

    /* b only from c, and c (rank 2) -> b (rank 1) goes back: never allowed. */
    spec = abc_spec(rules);
    rules[1] = RULE(.on = on_signup, .non = 1, .from = from_c, .nfrom = 1, .to = "b");
    assert_invalid(&spec, "stages: stage \"b\" is unreachable"
                          " (no rule leads to it from a stage a customer can reach)");

    /* The same without forward_only: c -> b is allowed, so the model loads. */
    spec.forward_only = false;
    {
        clm_stages *m = NULL;
        char err[256] = "";

        assert_int_equal(clm_stages_new(&spec, &m, err, sizeof err), 0);
        clm_stages_free(m);
    }

    /* No cancel rule: gone is still reached by time, and back from it. */
    spec = abc_spec(rules);
    rules[3] = rules[0];
    {
        clm_stages *m = NULL;
        char err[256] = "";

        assert_int_equal(clm_stages_new(&spec, &m, err, sizeof err), 0);
        clm_stages_free(m);
    }

    /* No rule to back. */
    spec = abc_spec(rules);
    spec.nrules = 4;
    assert_invalid(&spec, "stages: stage \"back\" is unreachable (no rule leads to it)");
}

static void test_free_null(void **state)
{
    (void)state;
    clm_stages_free(NULL);
}

/* ---- through the configuration ---------------------------------------------- */

/* Asserts that json fails to load as "clmd.json" with exactly message. */
static void assert_config_rejects(const char *json, const char *message)
{
    clm_config *cfg = NULL;
    char err[1024] = "";

    assert_int_equal(clm_config_load_string("clmd.json", json, strlen(json), &cfg, err, sizeof err),
                     -EINVAL);
    assert_null(cfg);
    assert_string_equal(err, message);
}

static void test_config_names_the_key(void **state)
{
    (void)state;
    /* The 4th rule (index 3) has a typo in "to". */
    assert_config_rejects(
        "{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": \"awareness\"},"
        " {\"on\": [\"signup\"], \"to\": \"acquisition\"},"
        " {\"on\": [\"purchase\"], \"to\": \"conversion\"},"
        " {\"on\": [\"onboarding_complete\"], \"to\": \"conversoin\"}]}}",
        "clmd.json: lifecycle.rules[3].to: \"conversoin\" is not a stage (expected one of"
        " \"awareness\", \"acquisition\", \"conversion\", \"onboarding\", \"engagement\","
        " \"retention\", \"advocacy\", \"churned\", \"reactivated\")");
    assert_config_rejects(
        "{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": \"awareness\"},"
        " {\"on\": [\"signup\"], \"to\": \"acquisition\"},"
        " {\"on\": [\"purchse\"], \"to\": \"conversion\"}]}}",
        "clmd.json: lifecycle.rules[2].on: \"purchse\" is not an event type");
    /* The default rules never reach a stage added after advocacy. */
    assert_config_rejects(
        "{\"lifecycle\": {\"stages\": [\"awareness\", \"acquisition\", \"conversion\","
        " \"onboarding\", \"engagement\", \"retention\", \"advocacy\", \"vip\", \"churned\","
        " \"reactivated\"]}}",
        "clmd.json: lifecycle.stages: stage \"vip\" is unreachable (no rule leads to it)");
    assert_config_rejects("{\"lifecycle\": {\"churned_stage\": \"lost\"}}",
                          "clmd.json: lifecycle.churned_stage: \"lost\" is not a stage (expected"
                          " one of \"awareness\", \"acquisition\", \"conversion\", \"onboarding\","
                          " \"engagement\", \"retention\", \"advocacy\", \"churned\","
                          " \"reactivated\")");
    assert_config_rejects("{\"lifecycle\": {\"reactivated_stage\": \"churned\"}}",
                          "clmd.json: lifecycle.reactivated_stage: \"churned\" is also the churn"
                          " stage (expected a stage of its own)");
    /* New stage names with the default rules: the message says whose rules. */
    assert_config_rejects(
        "{\"lifecycle\": {\"stages\": [\"reach\", \"acquire\", \"churned\", \"reactivated\"]}}",
        "clmd.json: lifecycle.rules[0].to: \"awareness\" is not a stage (expected one of"
        " \"reach\", \"acquire\", \"churned\", \"reactivated\"); these are the default rules:"
        " set lifecycle.rules to rules for lifecycle.stages");
}

static void test_config_rule_shape_errors(void **state)
{
    (void)state;
    assert_config_rejects("{\"lifecycle\": {\"rules\": {}}}",
                          "clmd.json: lifecycle.rules: {} has the wrong type"
                          " (expected a list of rule objects)");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [\"visit\"]}}",
                          "clmd.json: lifecycle.rules[0]: \"visit\" has the wrong type"
                          " (expected an object with \"on\" and \"to\")");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"]}]}}",
                          "clmd.json: lifecycle.rules[0]: {\"on\":[\"visit\"]} has no \"to\""
                          " (expected an object with \"on\" and \"to\")");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"to\": \"awareness\"}]}}",
                          "clmd.json: lifecycle.rules[0]: {\"to\":\"awareness\"} has no \"on\""
                          " (expected an object with \"on\" and \"to\")");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": \"visit\","
                          " \"to\": \"awareness\"}]}}",
                          "clmd.json: lifecycle.rules[0].on: \"visit\" has the wrong type"
                          " (expected a list of event type names, or \"*\")");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [], \"to\": \"awareness\"}]}}",
                          "clmd.json: lifecycle.rules[0].on: [] is empty"
                          " (expected a list of event type names, or \"*\")");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"from\": [],"
                          " \"to\": \"awareness\"}]}}",
                          "clmd.json: lifecycle.rules[0].from: [] is empty"
                          " (expected a list of stage names (\"none\": no stage yet))");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": 3}]}}",
                          "clmd.json: lifecycle.rules[0].to: 3 has the wrong type"
                          " (expected a stage name)");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": \"a\","
                          " \"min_orders\": -1}]}}",
                          "clmd.json: lifecycle.rules[0].min_orders: -1 is out of range"
                          " (expected a non-negative integer)");
    /* 2^31 = 2147483648 is one past the largest int32. */
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": \"a\","
                          " \"max_score\": 2147483648}]}}",
                          "clmd.json: lifecycle.rules[0].max_score: 2147483648 is out of range"
                          " (expected an integer -2147483648..2147483647)");
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"], \"to\": \"a\","
                          " \"min_order\": 2}]}}",
                          "clmd.json: lifecycle.rules[0].min_order: 2 is not a rule member"
                          " (expected one of \"on\", \"from\", \"to\", \"min_orders\","
                          " \"max_orders\", \"min_score\", \"max_score\")");
    /* Shape errors come first; the min > max check is the model's. */
    assert_config_rejects("{\"lifecycle\": {\"rules\": [{\"on\": [\"visit\"],"
                          " \"to\": \"awareness\", \"min_orders\": 2, \"max_orders\": 1}]}}",
                          "clmd.json: lifecycle.rules[0].max_orders: 1 is less than min_orders 2");
}

static void test_config_comment_in_rule(void **state)
{
    static const char json[] =
        "{\"lifecycle\": {\"stages\": [\"seen\", \"gone\", \"back\"], \"churned_stage\": \"gone\","
        " \"reactivated_stage\": \"back\", \"rules\": [{\"//\": \"first touch\","
        " \"on\": [\"visit\"], \"to\": \"seen\"}, {\"on\": \"*\", \"from\": [\"gone\"],"
        " \"to\": \"back\"}]}}";
    clm_config *cfg = NULL;
    char err[256] = "";
    walker w;

    (void)state;
    assert_int_equal(clm_config_load_string("c.json", json, strlen(json), &cfg, err, sizeof err),
                     0);
    assert_int_equal(clm_stages_count(cfg->stages), 3);
    w = walk_from(cfg->stages, NULL, NULL, 0);
    assert_string_equal(event(&w, CLM_EV_VISIT), "seen");
    /* gone is reached by time only; from it any event -> back. */
    w = walk_from(cfg->stages, "gone", "seen", 0);
    assert_string_equal(event(&w, CLM_EV_VISIT), "back");
    clm_config_free(cfg);
}

/* ---- the shipped B2B and B2C models --------------------------------------- */

static clm_config *load_file(const char *path)
{
    clm_config *cfg = NULL;
    char err[512] = "";

    assert_int_equal(clm_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(err, "");
    return cfg;
}

static void test_b2b_model(void **state)
{
    clm_config *cfg = load_file(CLM_SOURCE_DIR "/config/stages/b2b.json");
    walker w, lead;

    (void)state;
    /* reach 0, acquire 1, convert 2, retain 3, loyalty 4, churned 5, reactivated 6. */
    assert_int_equal(clm_stages_count(cfg->stages), 7);
    assert_int_equal(clm_stages_ordinary(cfg->stages), 5);
    assert_string_equal(clm_stages_name(cfg->stages, clm_stages_churned(cfg->stages)), "churned");
    assert_string_equal(clm_stages_name(cfg->stages, clm_stages_reactivated(cfg->stages)),
                        "reactivated");
    w = walk_from(cfg->stages, NULL, NULL, 0);
    assert_string_equal(event(&w, CLM_EV_VISIT), "reach");
    assert_string_equal(event(&w, CLM_EV_LEAD_CONTACTED), "acquire");
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "convert");      /* orders 1 */
    assert_string_equal(event(&w, CLM_EV_UPGRADE), "retain");        /* orders 1 >= 1 */
    assert_string_equal(event_scored(&w, CLM_EV_NPS_RESPONSE, true, 9), "loyalty");
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "loyalty");      /* retain is below */
    assert_string_equal(event(&w, CLM_EV_CANCEL), "churned");
    assert_string_equal(event(&w, CLM_EV_LOGIN), "reactivated");
    /* Orders 3 -> retain (rank 3) is below the peak loyalty (rank 4). */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "reactivated");
    assert_string_equal(event(&w, CLM_EV_REVIEW), "loyalty");
    /* A lead that buys twice: signup -> acquire, then convert, then retain. */
    lead = walk_from(cfg->stages, NULL, NULL, 0);
    assert_string_equal(event(&lead, CLM_EV_SIGNUP), "acquire");
    assert_string_equal(event(&lead, CLM_EV_UPGRADE), "acquire"); /* orders 0 */
    assert_string_equal(event(&lead, CLM_EV_PURCHASE), "convert");
    assert_string_equal(event(&lead, CLM_EV_PURCHASE), "retain");
    clm_config_free(cfg);
}

static void test_b2c_model(void **state)
{
    clm_config *cfg = load_file(CLM_SOURCE_DIR "/config/stages/b2c.json");
    walker w, direct;

    (void)state;
    /* awareness 0, consideration 1, purchase 2, retention 3, advocacy 4,
     * churned 5, reactivated 6. */
    assert_int_equal(clm_stages_count(cfg->stages), 7);
    assert_int_equal(clm_stages_ordinary(cfg->stages), 5);
    w = walk_from(cfg->stages, NULL, NULL, 0);
    assert_string_equal(event(&w, CLM_EV_VISIT), "awareness");
    assert_string_equal(event(&w, CLM_EV_FEATURE_USE), "consideration"); /* orders 0 */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "purchase");         /* orders 1 */
    assert_string_equal(event(&w, CLM_EV_SESSION), "purchase");          /* orders 1 > 0 */
    assert_string_equal(event(&w, CLM_EV_PURCHASE), "retention");        /* orders 2 */
    assert_string_equal(event(&w, CLM_EV_REVIEW), "advocacy");
    assert_string_equal(event(&w, CLM_EV_CANCEL), "churned");
    assert_string_equal(event(&w, CLM_EV_VISIT), "reactivated");
    /* A shopper who buys on the first visit skips consideration. */
    direct = walk_from(cfg->stages, NULL, NULL, 0);
    assert_string_equal(event(&direct, CLM_EV_VISIT), "awareness");
    assert_string_equal(event(&direct, CLM_EV_PURCHASE), "purchase");
    assert_string_equal(event_scored(&direct, CLM_EV_NPS_RESPONSE, true, 8), "purchase");
    assert_string_equal(event_scored(&direct, CLM_EV_NPS_RESPONSE, true, 10), "advocacy");
    clm_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model_shape),
        cmocka_unit_test(test_rule_visit_to_awareness),
        cmocka_unit_test(test_rule_signup_to_acquisition),
        cmocka_unit_test(test_rule_first_purchase_to_conversion),
        cmocka_unit_test(test_rule_onboarding_complete),
        cmocka_unit_test(test_rule_activity_from_onboarding_to_engagement),
        cmocka_unit_test(test_rule_second_purchase_to_retention),
        cmocka_unit_test(test_rule_referral_review_to_advocacy),
        cmocka_unit_test(test_rule_nps_promoter_to_advocacy),
        cmocka_unit_test(test_rule_cancel_to_churned),
        cmocka_unit_test(test_rule_any_event_from_churned_to_reactivated),
        cmocka_unit_test(test_forward_only_blocks_going_back),
        cmocka_unit_test(test_direct_buyer_skips_acquisition),
        cmocka_unit_test(test_full_lifecycle_with_return),
        cmocka_unit_test(test_reactivated_respects_peak),
        cmocka_unit_test(test_forward_only_false_allows_going_back),
        cmocka_unit_test(test_rule_from_none),
        cmocka_unit_test(test_score_and_order_bounds),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_too_many_stages),
        cmocka_unit_test(test_unreachable_stages),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_config_names_the_key),
        cmocka_unit_test(test_config_rule_shape_errors),
        cmocka_unit_test(test_config_comment_in_rule),
        cmocka_unit_test(test_b2b_model),
        cmocka_unit_test(test_b2c_model),
    };

    return cmocka_run_group_tests_name("stages", tests, setup_group, teardown_group);
}
