/* tests/test-rule.c - the segment rule language (core/rule.c): parsing,
 * evaluation and the position of every kind of error.
 *
 * The attributes here are a test table (name -> id, id -> value), which is
 * how the engine sees built-in attributes and traits alike.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rule.h"

enum { A_PLAN, A_STAGE, A_RISK, A_ORDERS, A_VIP, A_NAME, A_N };
static const char *const anames[A_N] = {"plan", "stage", "risk", "orders", "vip", "user.name"};

typedef struct person {
    clm_rule_value v[A_N];
} person;

static int resolve(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int i = 0; i < A_N; i++)
        if (strlen(anames[i]) == len && memcmp(anames[i], name, len) == 0)
            return i;
    return -1;
}

static void get(void *ctx, int id, clm_rule_value *out)
{
    const person *p = ctx;
    assert_true(id >= 0 && id < A_N);
    *out = p->v[id];
}

static clm_rule_value S(const char *s)
{
    return (clm_rule_value){.kind = CLM_RULE_STR, .str = s, .len = strlen(s)};
}

static clm_rule_value N(double d)
{
    return (clm_rule_value){.kind = CLM_RULE_NUM, .num = d};
}

static clm_rule_value B(bool b)
{
    return (clm_rule_value){.kind = CLM_RULE_BOOL, .b = b};
}

static bool holds(const char *text, const person *p)
{
    char err[128] = "";
    clm_rule *r = NULL;
    int rc = clm_rule_parse(text, resolve, NULL, &r, err, sizeof err);
    if (rc != 0)
        fail_msg("%s: %s", text, err);
    bool res = clm_rule_eval(r, get, (void *)p);
    clm_rule_free(r);
    return res;
}

static void check_error(const char *text, const char *want)
{
    char err[128] = "";
    clm_rule *r = (clm_rule *)0x1;
    assert_int_equal(clm_rule_parse(text, resolve, NULL, &r, err, sizeof err), -EINVAL);
    assert_ptr_equal(r, (clm_rule *)0x1);
    if (strcmp(err, want) != 0)
        fail_msg("%s: got \"%s\", expected \"%s\"", text, err, want);
}

static void test_issue_example(void **state)
{
    (void)state;
    const char *rule = "plan == \"pro\" and stage == \"retention\" and risk >= 0.5";
    person p = {{S("pro"), S("retention"), N(0.5), N(3), B(false), S("x")}};
    assert_true(holds(rule, &p));
    p.v[A_RISK] = N(0.4999);
    assert_false(holds(rule, &p));
    p.v[A_RISK] = N(0.9);
    p.v[A_PLAN] = S("pr");
    assert_false(holds(rule, &p));
    p.v[A_PLAN] = S("pro");
    p.v[A_STAGE] = S("retentio");
    assert_false(holds(rule, &p));
}

static void test_comparisons(void **state)
{
    (void)state;
    person p = {{S("free"), S("awareness"), N(0.25), N(2), B(true), S("a \"q\" \\b")}};
    assert_true(holds("orders == 2", &p));
    assert_true(holds("orders != 3", &p));
    assert_true(holds("orders < 2.5 and orders <= 2 and orders > 1 and orders >= 2", &p));
    assert_false(holds("orders < 2", &p));
    assert_false(holds("orders > 2", &p));
    assert_true(holds("risk == 25e-2", &p));
    assert_true(holds("risk > -1", &p));
    assert_true(holds("vip == true and vip != false", &p));
    assert_true(holds("user.name == \"a \\\"q\\\" \\\\b\"", &p));
    assert_true(holds("plan in [\"pro\", \"free\"]", &p));
    assert_false(holds("plan in [\"pro\", \"team\"]", &p));
    assert_true(holds("orders in [1, 2, 3]", &p));
    /* a literal of another kind never matches */
    assert_false(holds("orders == \"2\"", &p));
    assert_false(holds("plan == 2", &p));
    assert_false(holds("plan != 2", &p));
    assert_false(holds("plan > 1", &p));
}

static void test_logic(void **state)
{
    (void)state;
    person p = {{S("free"), S("awareness"), N(0), N(0), B(false), S("")}};
    /* and binds tighter than or */
    assert_true(holds("plan == \"free\" or orders == 1 and risk == 1", &p));
    assert_false(holds("(plan == \"free\" or orders == 1) and risk == 1", &p));
    assert_true(holds("not orders == 1", &p));
    assert_false(holds("not not orders == 1", &p));
    assert_true(holds("not (orders == 1 or risk == 1)", &p));
    /* bare names: true when true, non-zero or non-empty */
    assert_false(holds("vip", &p));
    assert_false(holds("orders", &p));
    assert_false(holds("user.name", &p));
    assert_true(holds("plan", &p));
    assert_true(holds("not vip and not orders", &p));
    p.v[A_VIP] = B(true);
    p.v[A_ORDERS] = N(-1);
    assert_true(holds("vip and orders", &p));
}

static void test_missing(void **state)
{
    (void)state;
    person p = {{{0}, S("awareness"), N(0), N(0), B(false), S("")}};
    /* every comparison with a missing value is false, != included */
    assert_false(holds("plan == \"pro\"", &p));
    assert_false(holds("plan != \"pro\"", &p));
    assert_false(holds("plan in [\"pro\"]", &p));
    assert_false(holds("plan", &p));
    assert_true(holds("not plan == \"pro\"", &p));
    assert_true(holds("plan == \"pro\" or stage == \"awareness\"", &p));
}

static void test_errors(void **state)
{
    (void)state;
    check_error("", "at 1: expected a name or '('");
    check_error("plan == ", "at 9: expected a value");
    check_error("plan = \"x\"", "at 6: expected an operator");
    check_error("risk > \"x\"", "at 8: expected a number");
    check_error("bogus == 1", "at 1: unknown name");
    check_error("plan == \"a\" and bogus", "at 17: unknown name");
    check_error("(plan == \"x\"", "at 13: expected ')'");
    check_error("plan == \"x\")", "at 12: unbalanced ')'");
    check_error("plan == \"x", "at 9: expected a value");
    check_error("orders in [1, ]", "at 15: expected a value");
    check_error("orders in 1", "at 11: expected '['");
    check_error("orders in [1 2]", "at 14: expected ',' or ']'");
    check_error("risk >= 1e", "at 9: expected a value");
    check_error("orders == 1 plan", "at 13: expected 'and', 'or' or the end");
    check_error("orders == 1 and", "at 16: expected a name or '('");
    check_error("== 1", "at 1: expected a name, '(' or 'not'");
    check_error("plan == 12abc", "at 9: expected a value");
    check_error("plan == \"a\" & vip", "at 13: expected 'and', 'or' or the end");

    char deep[256] = "";
    for (int i = 0; i < CLM_RULE_MAX_DEPTH + 1; i++)
        strcat(deep, "(");
    strcat(deep, "vip");
    check_error(deep, "at 33: nested too deeply");

    static char big[CLM_RULE_MAX_LEN + 16];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    check_error(big, "at 4097: the rule is too long");
}

static void test_uses(void **state)
{
    (void)state;
    char err[128];
    clm_rule *r = NULL;
    assert_int_equal(clm_rule_parse("not (vip or risk in [1, 2])", resolve, NULL, &r, err,
                                    sizeof err), 0);
    assert_true(clm_rule_uses(r, A_VIP));
    assert_true(clm_rule_uses(r, A_RISK));
    assert_false(clm_rule_uses(r, A_PLAN));
    clm_rule_free(r);
    clm_rule_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
