/* tests/test-segment.c - segment sets (core/segment.c) over the built-in
 * attributes of a customer (core/segment_attrs.c) and over traits read
 * through the trait hook (a test table here).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/segment.h"
#include "core/segment_attrs.h"

#define DAY_MS 86400000LL

/* ---- a trait table: plan (string) and seats (number) per customer id ---- */

static int trait_index(const void *tctx, const char *name, size_t len)
{
    (void)tctx;
    if (len == 4 && memcmp(name, "plan", 4) == 0)
        return 0;
    if (len == 5 && memcmp(name, "seats", 5) == 0)
        return 1;
    return -1;
}

static void trait_get(const void *tctx, const clm_customer *c, int idx, clm_rule_value *out)
{
    (void)tctx;
    /* customer "a": plan pro, 10 seats; "b": plan free; others: no traits */
    if (strcmp(c->id, "a") == 0) {
        if (idx == 0)
            *out = (clm_rule_value){.kind = CLM_RULE_STR, .str = "pro", .len = 3};
        else
            *out = (clm_rule_value){.kind = CLM_RULE_NUM, .num = 10};
    } else if (strcmp(c->id, "b") == 0 && idx == 0) {
        *out = (clm_rule_value){.kind = CLM_RULE_STR, .str = "free", .len = 4};
    }
}

static const clm_attr_traits traits = {.index = trait_index, .get = trait_get};

/* ---- a stage model ------------------------------------------------------- */

static clm_stages *stages_new(void)
{
    static const char *const names[] = {"trial", "retention", "churned", "reactivated"};
    static const char *const signup[] = {"signup"}, *const purchase[] = {"purchase"},
                             *const cancel[] = {"cancel"}, *const any[] = {"*"},
                             *const churned[] = {"churned"};
    const clm_stage_rule_spec rules[] = {
        {.on = signup, .non = 1, .to = "trial", .min_orders = -1, .max_orders = -1,
         .min_score = INT32_MIN, .max_score = INT32_MAX},
        {.on = purchase, .non = 1, .to = "retention", .min_orders = -1, .max_orders = -1,
         .min_score = INT32_MIN, .max_score = INT32_MAX},
        {.on = cancel, .non = 1, .to = "churned", .min_orders = -1, .max_orders = -1,
         .min_score = INT32_MIN, .max_score = INT32_MAX},
        {.on = any, .non = 1, .from = churned, .nfrom = 1, .to = "reactivated",
         .min_orders = -1, .max_orders = -1, .min_score = INT32_MIN, .max_score = INT32_MAX},
    };
    clm_stages_spec spec = {.stages = names, .nstages = 4, .churned = "churned",
                            .reactivated = "reactivated", .rules = rules, .nrules = 4,
                            .forward_only = true};
    clm_stages *m = NULL;
    char err[256];
    if (clm_stages_new(&spec, &m, err, sizeof err) != 0)
        fail_msg("%s", err);
    return m;
}

static clm_customer *customer(const char *id, int stage, int risk_e4, int orders, int64_t day0)
{
    clm_customer *c = clm_customer_new(id, strlen(id), 0);
    assert_non_null(c);
    c->stage = (uint8_t)stage;
    if (risk_e4 >= 0) {
        c->risk_e4 = (uint16_t)risk_e4;
        c->risk_day = 20000;
    }
    for (int k = 0; k < orders; k++) {
        clm_rfm_purchase(&c->rfm, (day0 + 3 * k) * DAY_MS + 1000, 10000000);
        c->orders++;
        c->revenue_micros += 10000000;
    }
    return c;
}

static clm_seg_mask eval(const clm_segments *s, clm_attr_ctx base, const clm_customer *c)
{
    base.c = c;
    return clm_segments_eval(s, clm_attr_get, &base);
}

static void test_membership(void **state)
{
    (void)state;
    clm_stages *st = stages_new();
    size_t nmap;
    const clm_rfm_seg_spec *specs = clm_rfm_default_map(&nmap);
    clm_rfm_map *map = NULL;
    char err[256];
    assert_int_equal(clm_rfm_map_new(specs, nmap, &map, err, sizeof err), 0);

    const clm_segment_spec segs[] = {
        {"pro-retained-risky", "plan == \"pro\" and stage == \"retention\" and risk >= 0.5",
         true},
        {"reactivation", "rfm_segment in [\"At risk\", \"Hibernating\", \"Lost\"]", true},
        {"champions", "rfm_segment == \"Champions\" and r_score == 5", false},
        {"big-teams", "seats >= 10 or orders >= 4", false},
        {"no-plan", "not plan", false},
    };
    clm_segments *s = NULL;
    assert_int_equal(clm_segments_new(segs, 5, clm_attr_resolve, (void *)&traits, &s, err,
                                      sizeof err), 0);
    assert_int_equal(clm_segments_count(s), 5);
    assert_string_equal(clm_segments_name(s, 1), "reactivation");
    assert_true(clm_segments_notify(s, 1));
    assert_false(clm_segments_notify(s, 2));
    assert_int_equal(clm_segments_find(s, "champions"), 2);
    assert_int_equal(clm_segments_find(s, "nope"), -1);
    assert_int_equal(clm_segments_using(s, CLM_ATTR_RFM_SEGMENT), 0x6);
    assert_int_equal(clm_segments_using(s, CLM_ATTR_TRAIT0 + 0), 0x11);

    /* population: last purchase days 100..104 (a..e), orders 5,4,3,2,1 */
    clm_customer *a = customer("a", 1, 5000, 5, 88);  /* last day 100 */
    clm_customer *b = customer("b", 1, 9000, 4, 92);  /* 101 */
    clm_customer *c = customer("c", 0, -1, 3, 96);    /* 102 */
    clm_customer *d = customer("d", 1, 7000, 2, 100); /* 103 */
    clm_customer *e = customer("e", 1, 100, 1, 104);  /* 104 */
    clm_customer *z = customer("z", CLM_STAGE_NONE, -1, 0, 0);
    assert_int_equal(a->rfm.last_day, 100);
    assert_int_equal(e->rfm.last_day, 104);
    int64_t r[5] = {100, 101, 102, 103, 104}, f[5] = {5, 4, 3, 2, 1},
            m[5] = {50000000, 40000000, 30000000, 20000000, 10000000};
    clm_rfm_bounds bounds;
    clm_rfm_bounds_compute(r, f, m, 5, &bounds);
    /* n = 5: the boundaries are the 1st..4th values: R 100..103, F 1..4;
     * so a = (1, 5), b = (2, 4), c = (3, 3), d = (4, 2), e = (5, 1) */
    clm_attr_ctx base = {.stages = st, .bounds = &bounds, .map = map, .traits = &traits};

    /* a: pro, retention, risk 0.5, R1 F5: Can't lose; 10 seats */
    assert_int_equal(eval(s, base, a), 0x1 | 0x8);
    /* b: free, risk 0.9, R2 F4: At risk, 4 orders */
    assert_int_equal(eval(s, base, b), 0x2 | 0x8);
    /* c: no plan, stage trial, R3 F3: Need attention */
    assert_int_equal(eval(s, base, c), 0x10);
    /* d: R4 F2 Potential loyalist; e: R5 F1 New */
    assert_int_equal(eval(s, base, d), 0x10);
    assert_int_equal(eval(s, base, e), 0x10);
    /* z: no purchase, no stage: only "not plan" */
    assert_int_equal(eval(s, base, z), 0x10);

    /* attribute values as a rule sees them */
    clm_attr_ctx x = base;
    clm_rule_value v;
    x.c = b;
    clm_attr_get(&x, CLM_ATTR_RFM_SEGMENT, &v);
    assert_int_equal(v.kind, CLM_RULE_STR);
    assert_memory_equal(v.str, "At risk", 7);
    clm_attr_get(&x, CLM_ATTR_F_SCORE, &v);
    assert_true(v.kind == CLM_RULE_NUM && v.num == 4);
    clm_attr_get(&x, CLM_ATTR_STAGE, &v);
    assert_int_equal(v.len, 9);
    assert_memory_equal(v.str, "retention", 9);
    clm_attr_get(&x, CLM_ATTR_REVENUE, &v);
    assert_true(v.kind == CLM_RULE_NUM && v.num == 40);
    clm_attr_get(&x, CLM_ATTR_P_ALIVE, &v); /* no model yet */
    assert_int_equal(v.kind, CLM_RULE_NONE);
    x = base;
    x.c = z;
    clm_attr_get(&x, CLM_ATTR_R_SCORE, &v);
    assert_int_equal(v.kind, CLM_RULE_NONE);
    clm_attr_get(&x, CLM_ATTR_RISK, &v);
    assert_int_equal(v.kind, CLM_RULE_NONE);
    clm_attr_get(&x, CLM_ATTR_STAGE, &v);
    assert_int_equal(v.kind, CLM_RULE_NONE);

    /* a rise of c's orders to 5 moves it into big-teams and (F 5, R 3)
     * into Loyal: entered = big-teams */
    clm_seg_mask before = eval(s, base, c), ent, left;
    c->orders = 5;
    clm_seg_mask after = eval(s, base, c);
    clm_segments_diff(before, after, &ent, &left);
    assert_int_equal(ent, 0x8);
    assert_int_equal(left, 0);
    x = base;
    x.c = c;
    clm_attr_get(&x, CLM_ATTR_RFM_SEGMENT, &v);
    assert_memory_equal(v.str, "Loyal", 5);

    clm_customer *all[] = {a, b, c, d, e, z};
    for (size_t i = 0; i < 6; i++)
        clm_customer_free(all[i]);
    clm_segments_free(s);
    clm_rfm_map_free(map);
    clm_stages_free(st);
}

/* p_alive and clv_model are the model job's formulas on the customer's own
 * statistics with the handed-over parameters. */
static void test_predictions(void **state)
{
    (void)state;
    clm_attr_model model = {.bg = {.r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426},
                            .gg = {.p = 6.25, .q = 3.74, .gamma = 15.44},
                            .clv = {.margin = 1, .annual_discount = 0.1,
                                    .periods_per_year = 365.2425 / 7, .horizon = 52},
                            .unit_days = 7};
    clm_customer *c = customer("c", CLM_STAGE_NONE, -1, 3, 9862);
    clm_attr_ctx x = {.c = c, .model = &model, .now_day = 10134};
    double px, pt, pT, pm;
    clm_rfm_stats(&c->rfm, 10134, 7, &px, &pt, &pT, &pm);
    clm_rule_value v;
    clm_attr_get(&x, CLM_ATTR_P_ALIVE, &v);
    assert_int_equal(v.kind, CLM_RULE_NUM);
    assert_true(v.num == clm_bgnbd_p_alive(&model.bg, px, pt, pT));
    assert_true(v.num > 0 && v.num < 1);
    clm_attr_get(&x, CLM_ATTR_CLV_MODEL, &v);
    assert_int_equal(v.kind, CLM_RULE_NUM);
    assert_true(v.num == clm_clv_discounted(&model.bg, &model.gg, px, pt, pT, pm, &model.clv));

    char err[256];
    clm_segments *s = NULL;
    const clm_segment_spec segs[] = {{"alive", "p_alive >= 0.01 and clv_model > 0", false}};
    assert_int_equal(clm_segments_new(segs, 1, clm_attr_resolve, NULL, &s, err, sizeof err), 0);
    assert_int_equal(clm_segments_eval(s, clm_attr_get, &x), 1);
    x.model = NULL;
    assert_int_equal(clm_segments_eval(s, clm_attr_get, &x), 0);
    clm_segments_free(s);
    clm_customer_free(c);
}

static void check_bad(const clm_segment_spec *segs, size_t n, const clm_attr_traits *t,
                      const char *want)
{
    char err[256] = "";
    clm_segments *s = (clm_segments *)0x1;
    assert_int_equal(clm_segments_new(segs, n, clm_attr_resolve, (void *)t, &s, err, sizeof err),
                     -EINVAL);
    assert_ptr_equal(s, (clm_segments *)0x1);
    if (strcmp(err, want) != 0)
        fail_msg("got \"%s\", expected \"%s\"", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    const clm_segment_spec bad_rule[] = {
        {"a", "risk >= 0.5", false},
        {"b", "stage == \"x\"", false},
        {"c", "risk >= 0.5 and plan ==", false},
    };
    check_bad(bad_rule, 3, &traits, "[2].rule: at 24: expected a value");
    /* without the trait hook, plan is an unknown name */
    check_bad(bad_rule + 2, 1, NULL, "[0].rule: at 17: unknown name");
    const clm_segment_spec bad_name[] = {{"a b", "risk > 0", false}};
    check_bad(bad_name, 1, NULL,
              "[0].name: \"a b\" is not a segment name (expected 1..64 of A-Z a-z 0-9 _ - .)");
    const clm_segment_spec dup[] = {{"x", "risk > 0", false}, {"x", "orders > 0", false}};
    check_bad(dup, 2, NULL, "[1].name: \"x\" is also segment [0]");
    clm_segments *s = NULL;
    char err[64];
    assert_int_equal(clm_segments_new(NULL, 0, clm_attr_resolve, NULL, &s, err, sizeof err), 0);
    assert_int_equal(clm_segments_count(s), 0);
    clm_segments_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_predictions),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
