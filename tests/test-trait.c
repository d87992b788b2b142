/* tests/test-trait.c - traits (core/trait.c): every update rule, the trait
 * block (canonical form, re-indexing by name), the view text, the `traits`
 * key (config/traits.c) and traits applied through clm_customer_apply. */
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
#include "core/customer.h"
#include "core/trait.h"

/* One trait per rule; index = rule under test. */
static clm_trait_set one_trait(clm_trait_kind type, clm_trait_update update)
{
    clm_trait_set s;

    memset(&s, 0, sizeof(s));
    s.n = 1;
    strcpy(s.t[0].name, "t");
    strcpy(s.t[0].field, "t");
    s.t[0].field_len = 1;
    s.t[0].type = type;
    s.t[0].update = update;
    s.t[0].max_len = 64;
    s.t[0].max_distinct = 3;
    s.t[0].reject_invalid = true;
    strcpy(s.t[0].view_field, "trait:t");
    return s;
}

static clm_event ev_str(int64_t ts, const char *v)
{
    clm_event e;

    memset(&e, 0, sizeof(e));
    e.ts_ms = ts;
    e.trait[0].kind = CLM_TRAIT_STR;
    e.trait[0].len = (uint16_t)strlen(v);
    memcpy(e.trait_str, v, strlen(v));
    return e;
}

static clm_event ev_num(int64_t ts, double v)
{
    clm_event e;

    memset(&e, 0, sizeof(e));
    e.ts_ms = ts;
    e.trait[0].kind = CLM_TRAIT_NUM;
    e.trait[0].num = v;
    return e;
}

static clm_event ev_bool(int64_t ts, bool v)
{
    clm_event e;

    memset(&e, 0, sizeof(e));
    e.ts_ms = ts;
    e.trait[0].kind = CLM_TRAIT_BOOL;
    e.trait[0].b = v;
    return e;
}

typedef struct block {
    uint8_t *p;
    uint16_t len;
} block;

static int apply(block *b, const clm_trait_set *s, clm_event e)
{
    int r = clm_traits_apply(&b->p, &b->len, s, &e);
    char why[96];

    assert_true(r >= 0);
    assert_int_equal(clm_traits_check(b->p, b->len, why, sizeof(why)), 0);
    return r;
}

static void assert_str(const block *b, int idx, const char *want)
{
    clm_trait_value v;

    clm_traits_get(b->p, b->len, idx, &v);
    assert_int_equal(v.kind, CLM_TRAIT_STR);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.str, want, v.len);
}

static void assert_num(const block *b, int idx, double want)
{
    clm_trait_value v;

    clm_traits_get(b->p, b->len, idx, &v);
    assert_int_equal(v.kind, CLM_TRAIT_NUM);
    assert_true(v.num == want);
}

static void test_latest(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_LATEST);
    block b = {NULL, 0};
    clm_trait_value v;

    clm_traits_get(b.p, b.len, 0, &v);
    assert_int_equal(v.kind, CLM_TRAIT_NONE);
    assert_int_equal(apply(&b, &s, ev_str(100, "pro")), 1);
    assert_str(&b, 0, "pro");
    /* an older event does not replace the value */
    assert_int_equal(apply(&b, &s, ev_str(50, "free")), 0);
    assert_str(&b, 0, "pro");
    /* a tie goes to the later arrival; the same value again changes nothing */
    assert_int_equal(apply(&b, &s, ev_str(100, "team")), 1);
    assert_str(&b, 0, "team");
    assert_int_equal(apply(&b, &s, ev_str(100, "team")), 0);
    assert_int_equal(apply(&b, &s, ev_str(200, "free")), 1);
    assert_str(&b, 0, "free");
    /* an event without the trait leaves it */
    clm_event none;
    memset(&none, 0, sizeof(none));
    none.ts_ms = 300;
    assert_int_equal(apply(&b, &s, none), 0);
    assert_str(&b, 0, "free");
    free(b.p);
}

static void test_first(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_FIRST);
    block b = {NULL, 0};

    assert_int_equal(apply(&b, &s, ev_str(100, "pro")), 1);
    assert_int_equal(apply(&b, &s, ev_str(200, "team")), 0);
    assert_str(&b, 0, "pro");
    /* an earlier event (arriving late) takes over */
    assert_int_equal(apply(&b, &s, ev_str(50, "free")), 1);
    assert_str(&b, 0, "free");
    /* a tie keeps the earlier arrival */
    assert_int_equal(apply(&b, &s, ev_str(50, "other")), 0);
    assert_str(&b, 0, "free");
    free(b.p);
}

static void test_max(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_NUM, CLM_TRAIT_MAXIMUM);
    block b = {NULL, 0};

    assert_int_equal(apply(&b, &s, ev_num(100, 5)), 1);
    assert_int_equal(apply(&b, &s, ev_num(200, 3)), 0);
    assert_num(&b, 0, 5);
    assert_int_equal(apply(&b, &s, ev_num(50, 7.5)), 1); /* event time plays no part */
    assert_num(&b, 0, 7.5);
    assert_int_equal(apply(&b, &s, ev_num(300, 7.5)), 0);
    free(b.p);

    block n = {NULL, 0};
    assert_int_equal(apply(&n, &s, ev_num(1, -4)), 1);
    assert_num(&n, 0, -4);
    assert_int_equal(apply(&n, &s, ev_num(2, -9)), 0);
    assert_num(&n, 0, -4);
    free(n.p);
}

static void test_sum(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_NUM, CLM_TRAIT_SUM);
    block b = {NULL, 0};

    assert_int_equal(apply(&b, &s, ev_num(100, 1.5)), 1);
    assert_int_equal(apply(&b, &s, ev_num(50, 2.25)), 1);
    assert_int_equal(apply(&b, &s, ev_num(300, -0.75)), 1);
    assert_num(&b, 0, 3.0);
    assert_int_equal(apply(&b, &s, ev_num(400, 0)), 0); /* adding 0 changes nothing */
    /* a sum that would overflow stays at the last finite one */
    assert_int_equal(apply(&b, &s, ev_num(500, 1.7e308)), 1);
    assert_int_equal(apply(&b, &s, ev_num(600, 1.7e308)), 0);
    assert_num(&b, 0, 3.0 + 1.7e308);
    free(b.p);
}

static void test_count_distinct(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_DISTINCT); /* max_distinct 3 */
    block b = {NULL, 0};

    assert_int_equal(apply(&b, &s, ev_str(1, "web")), 1);
    assert_num(&b, 0, 1);
    assert_int_equal(apply(&b, &s, ev_str(2, "web")), 0);
    assert_int_equal(apply(&b, &s, ev_str(3, "app")), 1);
    assert_int_equal(apply(&b, &s, ev_str(4, "email")), 1);
    assert_num(&b, 0, 3);
    /* the count stops at max_distinct */
    assert_int_equal(apply(&b, &s, ev_str(5, "partner")), 0);
    assert_num(&b, 0, 3);
    free(b.p);

    clm_trait_set sn = one_trait(CLM_TRAIT_NUM, CLM_TRAIT_DISTINCT);
    block n = {NULL, 0};
    assert_int_equal(apply(&n, &sn, ev_num(1, 1)), 1);
    assert_int_equal(apply(&n, &sn, ev_num(2, 1.0)), 0);
    assert_int_equal(apply(&n, &sn, ev_num(3, 0)), 1);
    assert_int_equal(apply(&n, &sn, ev_num(4, -0.0)), 0); /* -0 is 0 */
    assert_num(&n, 0, 2);
    free(n.p);

    clm_trait_set sb = one_trait(CLM_TRAIT_BOOL, CLM_TRAIT_DISTINCT);
    block o = {NULL, 0};
    assert_int_equal(apply(&o, &sb, ev_bool(1, true)), 1);
    assert_int_equal(apply(&o, &sb, ev_bool(2, true)), 0);
    assert_int_equal(apply(&o, &sb, ev_bool(3, false)), 1);
    assert_num(&o, 0, 2);
    free(o.p);
}

static void test_bool_and_number_latest(void **state)
{
    (void)state;
    clm_trait_set sb = one_trait(CLM_TRAIT_BOOL, CLM_TRAIT_LATEST);
    block b = {NULL, 0};
    clm_trait_value v;

    assert_int_equal(apply(&b, &sb, ev_bool(10, true)), 1);
    assert_int_equal(apply(&b, &sb, ev_bool(20, false)), 1);
    clm_traits_get(b.p, b.len, 0, &v);
    assert_int_equal(v.kind, CLM_TRAIT_BOOL);
    assert_false(v.b);
    free(b.p);

    clm_trait_set sn = one_trait(CLM_TRAIT_NUM, CLM_TRAIT_LATEST);
    block n = {NULL, 0};
    assert_int_equal(apply(&n, &sn, ev_num(10, 250)), 1);
    assert_int_equal(apply(&n, &sn, ev_num(5, 10)), 0);
    assert_num(&n, 0, 250);
    free(n.p);
}

/* Two traits of another type: the event value of a trait whose configured
 * type differs (it cannot come from the decoders) is not applied. */
static void test_several_traits(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_LATEST);
    block b = {NULL, 0};
    clm_event e = ev_str(10, "pro");

    s.n = 2;
    s.t[1] = s.t[0];
    strcpy(s.t[1].name, "seats");
    s.t[1].type = CLM_TRAIT_NUM;
    s.t[1].update = CLM_TRAIT_SUM;
    e.trait[1].kind = CLM_TRAIT_NUM;
    e.trait[1].num = 4;
    assert_int_equal(apply(&b, &s, e), 1);
    assert_str(&b, 0, "pro");
    assert_num(&b, 1, 4);
    e.trait[0].kind = CLM_TRAIT_NONE;
    e.trait[1].num = 6;
    assert_int_equal(apply(&b, &s, e), 1);
    assert_str(&b, 0, "pro");
    assert_num(&b, 1, 10);
    e.trait[1].kind = CLM_TRAIT_STR; /* not the configured type: ignored */
    assert_int_equal(apply(&b, &s, e), 0);
    free(b.p);
}

/* A block written under one trait list, read under another. */
static void test_conform(void **state)
{
    (void)state;
    clm_trait_set a = one_trait(CLM_TRAIT_STR, CLM_TRAIT_LATEST);
    block b = {NULL, 0};
    clm_event e = ev_str(10, "pro");

    a.n = 3;
    a.t[1] = a.t[0];
    strcpy(a.t[1].name, "country");
    a.t[2] = a.t[0];
    strcpy(a.t[2].name, "seats");
    a.t[2].type = CLM_TRAIT_NUM;
    e.trait[1].kind = CLM_TRAIT_STR;
    e.trait[1].off = 3;
    e.trait[1].len = 2;
    memcpy(e.trait_str + 3, "DE", 2);
    e.trait[2].kind = CLM_TRAIT_NUM;
    e.trait[2].num = 12;
    assert_int_equal(apply(&b, &a, e), 1);

    /* same list: nothing to do */
    assert_int_equal(clm_traits_conform(&b.p, &b.len, &a), 0);

    /* country first, t gone, seats now a string: only country survives */
    clm_trait_set c = a;
    c.n = 2;
    c.t[0] = a.t[1];
    c.t[1] = a.t[2];
    c.t[1].type = CLM_TRAIT_STR;
    assert_int_equal(clm_traits_conform(&b.p, &b.len, &c), 1);
    assert_str(&b, 0, "DE");
    clm_trait_value v;
    clm_traits_get(b.p, b.len, 1, &v);
    assert_int_equal(v.kind, CLM_TRAIT_NONE);

    /* a shorter max_len drops a longer value */
    c.t[0].max_len = 1;
    assert_int_equal(clm_traits_conform(&b.p, &b.len, &c), 1);
    assert_null(b.p);
    assert_int_equal(b.len, 0);

    /* no traits at all */
    assert_int_equal(apply(&b, &a, e), 1);
    assert_int_equal(clm_traits_conform(&b.p, &b.len, NULL), 1);
    assert_int_equal(b.len, 0);
}

static void test_block_canonical(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_LATEST);
    block b = {NULL, 0};
    char why[96];

    assert_int_equal(apply(&b, &s, ev_str(-5, "pro")), 1);
    /* idx 0, name "t", code latest|STR, zz(-5) = 9, len 3, "pro" */
    static const uint8_t want[] = {0, 1, 't', (CLM_TRAIT_LATEST << 2) | CLM_TRAIT_STR, 9, 3,
                                   'p', 'r', 'o'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    for (size_t n = 1; n < sizeof(want); n++)
        assert_int_equal(clm_traits_check(want, n, why, sizeof(why)), -EPROTO);

    uint8_t bad[sizeof(want)];
    memcpy(bad, want, sizeof(want));
    bad[0] = CLM_TRAITS_MAX;
    assert_int_equal(clm_traits_check(bad, sizeof(bad), why, sizeof(why)), -EPROTO);
    assert_string_equal(why, "entry 0: index out of range");
    memcpy(bad, want, sizeof(want));
    bad[2] = '-';
    assert_int_equal(clm_traits_check(bad, sizeof(bad), why, sizeof(why)), -EPROTO);
    memcpy(bad, want, sizeof(want));
    bad[3] = (CLM_TRAIT_SUM << 2) | CLM_TRAIT_STR; /* sum of strings */
    assert_int_equal(clm_traits_check(bad, sizeof(bad), why, sizeof(why)), -EPROTO);
    memcpy(bad, want, sizeof(want));
    bad[5] = 0;
    assert_int_equal(clm_traits_check(bad, 6, why, sizeof(why)), -EPROTO);
    /* two entries with one index */
    uint8_t twice[2 * sizeof(want)];
    memcpy(twice, want, sizeof(want));
    memcpy(twice + sizeof(want), want, sizeof(want));
    assert_int_equal(clm_traits_check(twice, sizeof(twice), why, sizeof(why)), -EPROTO);
    assert_string_equal(why, "entry 1: indices not ascending");
    free(b.p);
}

static void test_format(void **state)
{
    (void)state;
    char buf[72];
    clm_trait_value v = {.kind = CLM_TRAIT_NUM, .num = 0.1};

    assert_int_equal(clm_trait_format(&v, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "0.1");
    v.num = 250;
    clm_trait_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "250");
    v.num = 1.0 / 3;
    clm_trait_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "0.3333333333333333");
    v = (clm_trait_value){.kind = CLM_TRAIT_BOOL, .b = true};
    clm_trait_format(&v, buf, sizeof(buf));
    assert_string_equal(buf, "true");
    v = (clm_trait_value){.kind = CLM_TRAIT_STR, .str = "DEx", .len = 2};
    assert_int_equal(clm_trait_format(&v, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "DE");
    v = (clm_trait_value){.kind = CLM_TRAIT_NONE};
    assert_int_equal(clm_trait_format(&v, buf, sizeof(buf)), 0);
}

/* ---- the traits key ----------------------------------------------------- */

static int load(const char *traits, clm_config **cfg, char *err, size_t errsize)
{
    char json[2048];

    snprintf(json, sizeof(json),
             "{\"kafka\": {\"brokers\": \"localhost:9092\"}, \"traits\": %s}", traits);
    return clm_config_load_string("clmd.json", json, strlen(json), cfg, err, errsize);
}

static void test_config(void **state)
{
    (void)state;
    clm_config *cfg = NULL;
    char err[512];

    assert_int_equal(load("[{\"name\": \"plan\", \"type\": \"string\", \"max_len\": 16},"
                          " {\"name\": \"country\", \"field\": \"properties.country\","
                          " \"type\": \"string\", \"update\": \"first\", \"on_invalid\": \"ignore\"},"
                          " {\"name\": \"seats\", \"type\": \"number\", \"update\": \"max\"},"
                          " {\"name\": \"channels\", \"field\": \"channel\", \"type\": \"string\","
                          " \"update\": \"count_distinct\", \"max_distinct\": 4},"
                          " {\"name\": \"b2b\", \"type\": \"boolean\"}]",
                          &cfg, err, sizeof(err)),
                     0);
    const clm_trait_set *s = cfg->traits;
    assert_int_equal(s->n, 5);
    assert_int_equal(clm_trait_index(cfg, "country", 7), 1);
    assert_int_equal(clm_trait_index(cfg, "b2b", 3), 4);
    assert_int_equal(clm_trait_index(cfg, "nope", 4), -1);
    assert_string_equal(s->t[0].field, "plan");
    assert_false(s->t[0].in_properties);
    assert_int_equal(s->t[0].max_len, 16);
    assert_true(s->t[0].reject_invalid);
    assert_int_equal(s->t[0].update, CLM_TRAIT_LATEST);
    assert_string_equal(s->t[1].field, "country");
    assert_true(s->t[1].in_properties);
    assert_false(s->t[1].reject_invalid);
    assert_int_equal(s->t[1].update, CLM_TRAIT_FIRST);
    assert_int_equal(s->t[2].type, CLM_TRAIT_NUM);
    assert_int_equal(s->t[3].max_distinct, 4);
    assert_string_equal(s->t[3].field, "channel");
    assert_string_equal(s->t[4].view_field, "trait:b2b");
    assert_int_equal(clm_trait_set_field(s, "country", 7, true), 1);
    assert_int_equal(clm_trait_set_field(s, "country", 7, false), -1);
    clm_config_free(cfg);

    /* the default: none */
    assert_int_equal(load("[]", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->traits->n, 0);
    clm_config_free(cfg);

    static const struct {
        const char *traits, *msg;
    } bad[] = {
        {"{}", "clmd.json: traits: {} has the wrong type (expected a list of at most 8 trait objects)"},
        {"[{\"type\": \"string\"}]", "clmd.json: traits[0]: {\"type\":\"string\"} has no \"name\""},
        {"[{\"name\": \"plan\"}]", "clmd.json: traits[0]: {\"name\":\"plan\"} has no \"type\""},
        {"[{\"name\": \"pl an\", \"type\": \"string\"}]",
         "clmd.json: traits[0].name: \"pl an\" is not a valid trait name"},
        {"[{\"name\": \"plan\", \"type\": \"text\"}]",
         "clmd.json: traits[0].type: \"text\" is not a trait type"},
        {"[{\"name\": \"plan\", \"type\": \"string\", \"update\": \"sum\"}]",
         "clmd.json: traits[0].update: \"sum\" needs a number trait"},
        {"[{\"name\": \"plan\", \"type\": \"string\", \"max_len\": 65}]",
         "clmd.json: traits[0].max_len: 65 is out of range"},
        {"[{\"name\": \"n\", \"type\": \"number\", \"max_len\": 5}]",
         "clmd.json: traits[0].max_len: 5 applies to string traits only"},
        {"[{\"name\": \"n\", \"type\": \"number\", \"max_distinct\": 5}]",
         "clmd.json: traits[0].max_distinct: 5 applies to count_distinct only"},
        {"[{\"name\": \"amount\", \"type\": \"number\"}]",
         "clmd.json: traits[0].name: \"amount\" cannot hold a trait"},
        {"[{\"name\": \"a\", \"field\": \"properties.\", \"type\": \"number\"}]",
         "clmd.json: traits[0].field: \"properties.\" cannot hold a trait"},
        {"[{\"name\": \"plan\", \"type\": \"string\", \"colour\": 1}]",
         "clmd.json: traits[0].colour: 1 is not a trait member"},
        {"[{\"name\": \"plan\", \"type\": \"string\", \"on_invalid\": \"drop\"}]",
         "clmd.json: traits[0].on_invalid: \"drop\" is not a choice"},
        {"[{\"name\": \"a\", \"type\": \"string\"}, {\"name\": \"a\", \"field\": \"b\", \"type\": \"string\"}]",
         "clmd.json: traits[1].name: \"a\" names a trait twice"},
        {"[{\"name\": \"a\", \"type\": \"string\"}, {\"name\": \"b\", \"field\": \"a\", \"type\": \"string\"}]",
         "clmd.json: traits[1].field: \"a\" is read by another trait"},
        {"[{\"name\": \"a\", \"type\": \"string\"}, {\"name\": \"b\", \"type\": \"string\"},"
         " {\"name\": \"c\", \"type\": \"string\"}, {\"name\": \"d\", \"type\": \"string\"},"
         " {\"name\": \"e\", \"type\": \"string\", \"max_len\": 1}]",
         "clmd.json: traits[4]: "},
        {"[{\"name\": \"a\", \"type\": \"boolean\"}, {\"name\": \"b\", \"type\": \"boolean\"},"
         " {\"name\": \"c\", \"type\": \"boolean\"}, {\"name\": \"d\", \"type\": \"boolean\"},"
         " {\"name\": \"e\", \"type\": \"boolean\"}, {\"name\": \"f\", \"type\": \"boolean\"},"
         " {\"name\": \"g\", \"type\": \"boolean\"}, {\"name\": \"h\", \"type\": \"boolean\"},"
         " {\"name\": \"i\", \"type\": \"boolean\"}]",
         "clmd.json: traits: "},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg = NULL;
        assert_int_equal(load(bad[i].traits, &cfg, err, sizeof(err)), -EINVAL);
        assert_null(cfg);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("case %zu: got '%s', want a message starting '%s'", i, err, bad[i].msg);
    }
}

/* ---- through clm_customer_apply ----------------------------------------- */

static void test_customer_apply(void **state)
{
    (void)state;
    clm_trait_set s = one_trait(CLM_TRAIT_STR, CLM_TRAIT_LATEST);
    const clm_apply_opts o = {.dedup_horizon_ms = 86400000, .dedup_max_ids = 8,
                              .bucket_ms = 86400000, .churn_inactive_ms = 90 * 86400000LL,
                              .clv_min_tenure_ms = 30 * 86400000LL, .traits = &s};
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    clm_deltas d;
    clm_trait_value v;

    assert_non_null(c);
    clm_deltas_init(&d);
    clm_event e = ev_str(1700000000000LL, "pro");
    e.type = CLM_EV_VISIT;
    e.has_customer = 1;
    e.customer_id_len = 3;
    memcpy(e.customer_id, "c-1", 4);
    e.has_event_id = 1;
    e.event_id_len = 2;
    memcpy(e.event_id, "e1", 3);
    c->changed = 0;
    assert_int_equal(clm_customer_apply(c, &e, &o, &d, CLM_NO_TS), CLM_APPLIED);
    assert_true(c->changed & CLM_FACET_TRAITS);
    clm_customer_trait(c, 0, &v);
    assert_int_equal(v.kind, CLM_TRAIT_STR);
    assert_memory_equal(v.str, "pro", 3);

    /* a duplicate changes nothing */
    clm_event dup = ev_str(1700000001000LL, "free");
    memcpy(dup.customer_id, e.customer_id, sizeof(e.customer_id));
    dup.type = CLM_EV_VISIT;
    dup.has_customer = 1;
    dup.customer_id_len = 3;
    dup.has_event_id = 1;
    dup.event_id_len = 2;
    memcpy(dup.event_id, "e1", 3);
    c->changed = 0;
    assert_int_equal(clm_customer_apply(c, &dup, &o, &d, CLM_NO_TS), CLM_DUPLICATE);
    clm_customer_trait(c, 0, &v);
    assert_memory_equal(v.str, "pro", 3);

    /* an older value: applied, traits unchanged */
    memcpy(e.event_id, "e2", 3);
    e.ts_ms -= 10;
    memcpy(e.trait_str, "old", 3);
    c->changed = 0;
    assert_int_equal(clm_customer_apply(c, &e, &o, &d, CLM_NO_TS), CLM_APPLIED);
    assert_false(c->changed & CLM_FACET_TRAITS);
    clm_deltas_release(&d);
    clm_customer_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest),
        cmocka_unit_test(test_first),
        cmocka_unit_test(test_max),
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_count_distinct),
        cmocka_unit_test(test_bool_and_number_latest),
        cmocka_unit_test(test_several_traits),
        cmocka_unit_test(test_conform),
        cmocka_unit_test(test_block_canonical),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_customer_apply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
