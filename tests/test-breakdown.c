/* tests/test-breakdown.c - breakdowns by trait (core/breakdown.c, the
 * capture in core/deltas.c and core/customer.c, the `breakdowns` key in
 * config/breakdowns.c): attribution to the value after the event, `other`
 * and `(none)`, a current customer moving between slots, the per-slot
 * counters adding up to the day counters, a
 * trait with 100,000 distinct values staying bounded, the key's checks and
 * its reload being reported as needing a restart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/reload.h"
#include "core/breakdown.h"
#include "core/customer.h"
#include "core/deltas.h"
#include "core/merge.h"
#include "core/trait.h"

#define DAY_MS 86400000LL
#define T0 (20000 * DAY_MS) /* a whole UTC day */

static const char CFG[] =
    "{\"traits\": [{\"name\": \"plan\", \"type\": \"string\"},"
    "              {\"name\": \"seats\", \"type\": \"number\", \"update\": \"max\"}],"
    " \"breakdowns\": [{\"dimension\": \"trait:plan\", \"values\": [\"basic\", \"pro\"]},"
    "                  {\"dimension\": \"trait:seats\", \"values\": [\"10\", \"2.5\"]}]}";

static clm_config *load(const char *json, char *err, size_t errsize)
{
    clm_config *cfg = NULL;
    int r = clm_config_load_string("test.json", json, strlen(json), &cfg, err, errsize);
    return r == 0 ? cfg : NULL;
}

static clm_apply_opts opts_of(const clm_config *cfg)
{
    return (clm_apply_opts){ .bucket_ms = DAY_MS, .churn_inactive_ms = 90 * DAY_MS,
                             .clv_min_tenure_ms = 30 * DAY_MS, .stages = cfg->stages,
                             .traits = cfg->traits, .breakdowns = cfg->breakdowns };
}

/* An event of c's; plan NULL: none; seats < 0: none. */
static clm_event event(const char *id, clm_event_type type, int64_t ts, int64_t amount,
                       const char *plan, double seats)
{
    clm_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts;
    ev.has_customer = 1;
    ev.customer_id_len = (uint8_t)strlen(id);
    memcpy(ev.customer_id, id, ev.customer_id_len + 1u);
    const char *name = clm_event_type_name(type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    if (amount >= 0) {
        ev.has_amount = 1;
        ev.amount_micros = amount;
    }
    if (plan) {
        ev.trait[0].kind = CLM_TRAIT_STR;
        ev.trait[0].len = (uint16_t)strlen(plan);
        memcpy(ev.trait_str, plan, strlen(plan));
    }
    if (seats >= 0) {
        ev.trait[1].kind = CLM_TRAIT_NUM;
        ev.trait[1].num = seats;
    }
    return ev;
}

/* The counters of (bucket, dim, slot), or NULL. */
static const clm_bd_delta *entry(const clm_deltas *d, int64_t bucket, int dim, int slot)
{
    for (size_t i = 0; i < d->nbd; i++)
        if (d->bd[i].bucket == bucket && d->bd[i].dim == dim && d->bd[i].slot == slot)
            return &d->bd[i];
    return NULL;
}

static int64_t counter(const clm_deltas *d, int64_t bucket, int dim, int slot, const char *name)
{
    const clm_bd_delta *e = entry(d, bucket, dim, slot);
    for (int k = 0; e && k < CLM_BD_COUNTERS; k++)
        if (strcmp(clm_breakdown_counter_name(k), name) == 0)
            return e->c[k];
    return 0;
}

/* Every dimension's slots add up to the day counters, for every counter. */
static void assert_sums(const clm_deltas *d, size_t ndims)
{
    for (size_t i = 0; i < d->ndays; i++)
        for (size_t dim = 0; dim < ndims; dim++)
            for (int k = 0; k < CLM_BD_COUNTERS; k++) {
                int64_t sum = 0, want = 0;
                for (size_t j = 0; j < d->nbd; j++)
                    if (d->bd[j].bucket == d->days[i].bucket && d->bd[j].dim == dim)
                        sum += d->bd[j].c[k];
                for (size_t f = 0; f < clm_daycount_nfields; f++)
                    if (strcmp(clm_daycount_fields[f].name, clm_breakdown_counter_name(k)) == 0)
                        memcpy(&want, (const char *)&d->days[i].c + clm_daycount_fields[f].offset,
                               sizeof(want));
                assert_int_equal(sum, want);
            }
}

static void attribution(void **state)
{
    (void)state;
    char err[256] = "";
    clm_config *cfg = load(CFG, err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    clm_apply_opts o = opts_of(cfg);
    const clm_breakdown_spec *plan = &cfg->breakdowns->d[0], *seats = &cfg->breakdowns->d[1];
    assert_int_equal(plan->trait_idx, 0);
    assert_int_equal(seats->trait_idx, 1);
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = clm_customer_new("a", 1, 0), *b = clm_customer_new("b", 1, 0);
    assert_non_null(a);
    assert_non_null(b);

    /* a: signup without a plan, then a purchase that sets plan pro: both
     * count under the value after the event */
    clm_event ev = event("a", CLM_EV_SIGNUP, T0, -1, NULL, -1);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    ev = event("a", CLM_EV_PURCHASE, T0 + 1000, 25000000, "pro", 10);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    /* a moves to a plan not listed: its next purchase counts under other */
    ev = event("a", CLM_EV_PURCHASE, T0 + DAY_MS, 5000000, "enterprise", 3);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    /* b never has a plan: (none); seats 2.5 is listed */
    ev = event("b", CLM_EV_PURCHASE, T0 + 2000, 7000000, NULL, 2.5);
    assert_int_equal(clm_customer_apply(b, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);

    int pro = 1, other = CLM_BD_SLOT_OTHER(plan), none = CLM_BD_SLOT_NONE(plan);
    assert_string_equal(clm_breakdown_slot_name(plan, pro), "pro");
    assert_string_equal(clm_breakdown_slot_name(plan, other), "other");
    assert_string_equal(clm_breakdown_slot_name(plan, none), "(none)");
    int64_t d0 = T0 / DAY_MS, d1 = d0 + 1;
    /* the signup happened before any plan: (none); its conversion by the
     * purchase that set pro counts under pro */
    assert_int_equal(counter(&d, d0, 0, none, "new_leads"), 1);
    assert_int_equal(counter(&d, d0, 0, pro, "new_leads"), 0);
    assert_int_equal(counter(&d, d0, 0, pro, "orders"), 1);
    assert_int_equal(counter(&d, d0, 0, pro, "revenue_micros"), 25000000);
    assert_int_equal(counter(&d, d0, 0, pro, "new_customers"), 1);
    assert_int_equal(counter(&d, d0, 0, pro, "leads_converted"), 1);
    assert_int_equal(counter(&d, d1, 0, other, "orders"), 1);
    assert_int_equal(counter(&d, d1, 0, other, "revenue_micros"), 5000000);
    assert_int_equal(counter(&d, d1, 0, other, "new_customers"), 0);
    assert_int_equal(counter(&d, d0, 0, none, "orders"), 1);
    assert_int_equal(counter(&d, d0, 0, none, "revenue_micros"), 7000000);
    /* customers: a became one under pro, then moved to other on day 1 */
    assert_int_equal(counter(&d, d0, 0, pro, "customers_delta"), 1);
    assert_int_equal(counter(&d, d1, 0, pro, "customers_delta"), -1);
    assert_int_equal(counter(&d, d1, 0, other, "customers_delta"), 1);
    assert_int_equal(counter(&d, d0, 0, none, "customers_delta"), 1);
    /* seats: max rule, 10 stays after 3; b's 2.5 is listed */
    assert_int_equal(counter(&d, d0, 1, 0, "orders"), 1);
    assert_int_equal(counter(&d, d1, 1, 0, "orders"), 1);
    assert_int_equal(counter(&d, d0, 1, 1, "revenue_micros"), 7000000);
    assert_sums(&d, 2);

    /* a duplicate adds nothing; a reset forgets everything */
    size_t nbd = d.nbd;
    ev = event("a", CLM_EV_LOGIN, T0 + 3000, -1, "basic", -1);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    assert_int_equal(d.nbd, nbd); /* a login changes no breakdown counter */
    clm_deltas_reset(&d);
    assert_int_equal(d.nbd, 0);
    assert_false(d.capturing);

    clm_customer_free(a);
    clm_customer_free(b);
    clm_deltas_release(&d);
    clm_config_free(cfg);
}

/* Churn by the watermark (no event) counts under the customer's value. */
static void churn_by_watermark(void **state)
{
    (void)state;
    char err[256] = "";
    clm_config *cfg = load(CFG, err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    clm_apply_opts o = opts_of(cfg);
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = clm_customer_new("a", 1, 0);
    assert_non_null(a);
    clm_event ev = event("a", CLM_EV_PURCHASE, T0, 1000000, "basic", -1);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    clm_deltas_reset(&d);
    int64_t deadline = T0 + o.churn_inactive_ms;
    assert_true(clm_customer_expire(a, &o, &d, deadline + DAY_MS) > 0);
    int64_t day = deadline / DAY_MS;
    assert_int_equal(counter(&d, day, 0, 0, "churned"), 1);
    assert_int_equal(counter(&d, day, 1, CLM_BD_SLOT_NONE(&cfg->breakdowns->d[1]), "churned"), 1);
    assert_sums(&d, 2);
    clm_customer_free(a);
    clm_deltas_release(&d);
    clm_config_free(cfg);
}

/* An identity merge: each side's counters leave its own value's slot, the
 * merged customer's enter the known side's; the slots still add up to the
 * day counters. */
static void merge_sides(void **state)
{
    (void)state;
    char err[256] = "";
    clm_config *cfg = load(CFG, err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    clm_apply_opts o = opts_of(cfg);
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *k = clm_customer_new("k", 1, 0), *a = clm_customer_new("a", 1, 0);
    assert_non_null(k);
    assert_non_null(a);
    clm_event ev = event("k", CLM_EV_PURCHASE, T0 + DAY_MS, 1000000, "basic", -1);
    assert_int_equal(clm_customer_apply(k, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    ev = event("a", CLM_EV_PURCHASE, T0, 2000000, "pro", -1);
    assert_int_equal(clm_customer_apply(a, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
    clm_deltas_reset(&d);
    int64_t mts = T0 + 2 * DAY_MS, d0 = T0 / DAY_MS;
    assert_int_equal(clm_merge_apply(k, a, 77, mts, &o, &d, CLM_NO_TS), CLM_APPLIED);
    int basic = 0, pro = 1;
    /* customers: a's leaves pro; k stays one under basic */
    assert_int_equal(counter(&d, d0 + 2, 0, pro, "customers_delta"), -1);
    assert_int_equal(counter(&d, d0 + 2, 0, basic, "customers_delta"), 0);
    /* the merged first purchase is a's day, counted under k's value */
    assert_int_equal(counter(&d, d0, 0, pro, "new_customers"), -1);
    assert_int_equal(counter(&d, d0, 0, basic, "new_customers"), 1);
    assert_int_equal(counter(&d, d0 + 1, 0, basic, "new_customers"), -1);
    assert_sums(&d, 2);
    assert_false(d.capturing);
    clm_customer_free(k);
    clm_customer_free(a);
    clm_deltas_release(&d);
    clm_config_free(cfg);
}

/* 100,000 distinct values of a trait: the counters stay within the listed
 * values plus other and (none), and other holds every unlisted customer. */
static void cardinality(void **state)
{
    (void)state;
    char err[256] = "";
    clm_config *cfg = load(CFG, err, sizeof(err));
    if (!cfg)
        fail_msg("%s", err);
    clm_apply_opts o = opts_of(cfg);
    clm_deltas d;
    clm_deltas_init(&d);
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        char id[16], plan[16];
        snprintf(id, sizeof(id), "c%d", i);
        snprintf(plan, sizeof(plan), i == 7 ? "pro" : "p%d", i);
        clm_customer *c = clm_customer_new(id, strlen(id), 0);
        assert_non_null(c);
        clm_event ev = event(id, CLM_EV_PURCHASE, T0 + i, 1000000, plan, -1);
        assert_int_equal(clm_customer_apply(c, &ev, &o, &d, CLM_NO_TS), CLM_APPLIED);
        clm_customer_free(c);
    }
    /* per dimension: pro, other (plan); (none) (seats) */
    assert_int_equal(d.nbd, 3);
    assert_int_equal(counter(&d, T0 / DAY_MS, 0, 1, "orders"), 1);
    assert_int_equal(counter(&d, T0 / DAY_MS, 0, CLM_BD_SLOT_OTHER(&cfg->breakdowns->d[0]), "orders"),
                     N - 1);
    assert_int_equal(counter(&d, T0 / DAY_MS, 0, CLM_BD_SLOT_OTHER(&cfg->breakdowns->d[0]),
                             "new_customers"), N - 1);
    assert_sums(&d, 2);
    clm_deltas_release(&d);
    clm_config_free(cfg);
}

static void config_checks(void **state)
{
    (void)state;
    static const struct {
        const char *breakdowns, *want;
    } bad[] = {
        {"[{\"dimension\": \"trait:nope\", \"values\": [\"a\"]}]",
         "breakdowns[0].dimension: \"trait:nope\" names no configured trait"},
        {"[{\"dimension\": \"segment:x\", \"values\": [\"a\"]}]",
         "breakdowns[0].dimension: \"segment:x\" is not a trait dimension"},
        {"[{\"dimension\": \"trait:seats\", \"values\": [\"10.0\"]}]",
         "breakdowns[0].values: \"10.0\" is not a value trait seats can take"},
        {"[{\"dimension\": \"trait:plan\", \"values\": [\"other\"]}]",
         "breakdowns[0].values: \"other\" is not a valid value"},
        {"[{\"dimension\": \"trait:plan\", \"values\": [\"a\", \"a\"]}]",
         "breakdowns[0].values: \"a\" lists a value twice"},
        {"[{\"dimension\": \"trait:plan\"}]", "has no \"values\""},
        {"[{\"dimension\": \"trait:plan\", \"values\": [\"a\"], \"top\": 3}]",
         "breakdowns[0].top: 3 is not a breakdown member"},
        {"[{\"dimension\": \"trait:plan\", \"values\": [\"a\"]},"
         " {\"dimension\": \"trait:plan\", \"values\": [\"b\"]}]",
         "breakdowns[1].dimension: \"trait:plan\" names a dimension twice"},
        {"[{\"dimension\": \"trait:plan\", \"values\": [\"a\"]}, {\"dimension\": \"trait:seats\", "
         "\"values\": [\"1\"]}, {\"dimension\": \"trait:plan\", \"values\": [\"a\"]}, {\"dimension\": "
         "\"trait:plan\", \"values\": [\"a\"]}, {\"dimension\": \"trait:plan\", \"values\": [\"a\"]}]",
         "breakdowns"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[1024], err[512] = "";
        snprintf(json, sizeof(json),
                 "{\"traits\": [{\"name\": \"plan\", \"type\": \"string\"},"
                 " {\"name\": \"seats\", \"type\": \"number\"}], \"breakdowns\": %s}",
                 bad[i].breakdowns);
        clm_config *cfg = load(json, err, sizeof(err));
        assert_null(cfg);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: %s (want %s)", i, err, bad[i].want);
    }
}

static void note(void *ctx, const char *path, bool live)
{
    if (strcmp(path, "breakdowns") == 0)
        *(int *)ctx = live ? 1 : 2;
}

/* Changing the breakdowns needs a restart; the same ones are no change. */
static void reload_restart(void **state)
{
    (void)state;
    char err[256] = "";
    clm_config *a = load(CFG, err, sizeof(err)), *b = load(CFG, err, sizeof(err));
    static const char OTHER[] =
        "{\"traits\": [{\"name\": \"plan\", \"type\": \"string\"},"
        "              {\"name\": \"seats\", \"type\": \"number\", \"update\": \"max\"}],"
        " \"breakdowns\": [{\"dimension\": \"trait:plan\", \"values\": [\"basic\", \"team\"]},"
        "                  {\"dimension\": \"trait:seats\", \"values\": [\"10\", \"2.5\"]}]}";
    clm_config *c = load(OTHER, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    int seen = 0;
    assert_int_equal(clm_config_diff(a, b, note, &seen), 0);
    assert_int_equal(seen, 0);
    assert_int_equal(clm_config_diff(a, c, note, &seen), 1);
    assert_int_equal(seen, 2);
    clm_config_free(a);
    clm_config_free(b);
    clm_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attribution),
        cmocka_unit_test(churn_by_watermark),
        cmocka_unit_test(merge_sides),
        cmocka_unit_test(cardinality),
        cmocka_unit_test(config_checks),
        cmocka_unit_test(reload_restart),
    };
    return cmocka_run_group_tests_name("breakdown", tests, NULL, NULL);
}
