/* tests/test-deltas.c - a shard's KPI deltas between flush cuts (core/deltas.c),
 * and the field table of the per-bucket counters (core/daycount.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/deltas.h"

/* The delta entry of (bucket, from, to), or NULL. */
static const clm_transition_delta *find_trans(const clm_deltas *d, int64_t bucket, int from, int to)
{
    for (size_t i = 0; i < d->ntrans; i++)
        if (d->trans[i].bucket == bucket && d->trans[i].from == from && d->trans[i].to == to)
            return &d->trans[i];
    return NULL;
}

static void test_init_release(void **state)
{
    (void)state;
    clm_deltas d;

    memset(&d, 0x5a, sizeof(d));
    clm_deltas_init(&d);
    assert_null(d.days);
    assert_null(d.trans);
    assert_int_equal(d.ndays, 0);
    assert_int_equal(d.ntrans, 0);
    assert_int_equal(d.value_rate_micros, 0);
    assert_false(d.any);
    for (int s = 0; s < CLM_STAGES_MAX; s++)
        assert_int_equal(d.stage_count[s], 0);

    assert_non_null(clm_deltas_day(&d, 3));
    assert_int_equal(clm_deltas_transition(&d, 3, CLM_STAGE_NONE, 0), 0);
    clm_deltas_release(&d);
    assert_null(d.days);
    assert_null(d.trans);
    assert_int_equal(d.ndays, 0);
    assert_int_equal(d.cap_days, 0);
    assert_int_equal(d.ntrans, 0);
    assert_int_equal(d.cap_trans, 0);
    assert_int_equal(d.stage_count[0], 0);
    clm_deltas_release(&d); /* a released one may be released again */
}

static void test_day_lookup(void **state)
{
    (void)state;
    static const clm_daycount zero;
    clm_deltas d;

    clm_deltas_init(&d);
    clm_daycount *a = clm_deltas_day(&d, 20454);
    assert_non_null(a);
    assert_memory_equal(a, &zero, sizeof(zero)); /* created zeroed */
    assert_int_equal(d.ndays, 1);
    a->orders = 5;
    assert_ptr_equal(clm_deltas_day(&d, 20454), a); /* found, not created */
    assert_int_equal(d.ndays, 1);

    clm_daycount *b = clm_deltas_day(&d, 20455);
    assert_non_null(b);
    assert_ptr_not_equal(b, a);
    assert_int_equal(b->orders, 0);
    b->orders = 7;
    /* Bucket -1 (the day before 1970-01-01) is a bucket like any other. */
    clm_daycount *neg = clm_deltas_day(&d, -1);
    assert_non_null(neg);
    assert_int_equal(neg->orders, 0);
    assert_int_equal(d.ndays, 3);
    assert_int_equal(clm_deltas_day(&d, 20454)->orders, 5);
    assert_int_equal(clm_deltas_day(&d, 20455)->orders, 7);
    assert_int_equal(d.ndays, 3);

    /* 20 more buckets (past the first 8 slots): every one keeps its own value
     * (bucket 1000 + i holds 10 * i + 1). */
    for (int64_t i = 0; i < 20; i++)
        clm_deltas_day(&d, 1000 + i)->orders = 10 * i + 1;
    assert_int_equal(d.ndays, 23); /* 3 + 20 */
    for (int64_t i = 19; i >= 0; i--)
        assert_int_equal(clm_deltas_day(&d, 1000 + i)->orders, 10 * i + 1);
    assert_int_equal(clm_deltas_day(&d, 20454)->orders, 5);
    assert_int_equal(d.ndays, 23);
    clm_deltas_release(&d);
}

static void test_add(void **state)
{
    (void)state;
    clm_deltas d;

    clm_deltas_init(&d);
    assert_int_equal(clm_deltas_add(&d, 7, CLM_DAY(revenue_micros), 49900000), 0);
    assert_true(d.any);
    assert_int_equal(clm_deltas_add(&d, 7, CLM_DAY(revenue_micros), 100000), 0);
    assert_int_equal(clm_deltas_add(&d, 7, CLM_DAY(new_customers), -1), 0);
    assert_int_equal(clm_deltas_add(&d, 8, CLM_DAY(new_customers), 1), 0);
    /* entered[3] and advanced[2]: array members by offset. */
    assert_int_equal(clm_deltas_add(&d, 7, CLM_DAY(entered) + 3 * sizeof(int64_t), 2), 0);
    assert_int_equal(clm_deltas_add(&d, 7, CLM_DAY(advanced) + 2 * sizeof(int64_t), 1), 0);
    assert_int_equal(d.ndays, 2);

    const clm_daycount *c7 = clm_deltas_day(&d, 7);
    assert_int_equal(c7->revenue_micros, 50000000); /* 49.9 + 0.1 */
    assert_int_equal(c7->new_customers, -1);
    assert_int_equal(c7->entered[3], 2);
    assert_int_equal(c7->entered[2], 0);
    assert_int_equal(c7->advanced[2], 1);
    assert_int_equal(c7->orders, 0);
    assert_int_equal(clm_deltas_day(&d, 8)->new_customers, 1);
    assert_int_equal(clm_deltas_day(&d, 8)->revenue_micros, 0);
    clm_deltas_release(&d);
}

static void test_field_table(void **state)
{
    (void)state;
    clm_deltas d;

    /* 26 fixed counters, new_leads first and current_since last. */
    assert_int_equal(clm_daycount_nfields, 26);
    assert_string_equal(clm_daycount_fields[0].name, "new_leads");
    assert_int_equal(clm_daycount_fields[0].offset, offsetof(clm_daycount, new_leads));
    assert_string_equal(clm_daycount_fields[5].name, "spend_micros");
    assert_int_equal(clm_daycount_fields[5].offset, offsetof(clm_daycount, spend_micros));
    assert_string_equal(clm_daycount_fields[23].name, "leads_converted");
    assert_int_equal(clm_daycount_fields[23].offset, offsetof(clm_daycount, leads_converted));
    assert_string_equal(clm_daycount_fields[25].name, "current_since");
    assert_int_equal(clm_daycount_fields[25].offset, offsetof(clm_daycount, current_since));

    /* Adding i + 1 through row i reaches the member the row names. */
    clm_deltas_init(&d);
    for (size_t i = 0; i < clm_daycount_nfields; i++)
        assert_int_equal(clm_deltas_add(&d, 9, clm_daycount_fields[i].offset, (int64_t)i + 1), 0);
    const clm_daycount *c = clm_deltas_day(&d, 9);
    assert_int_equal(c->new_leads, 1);
    assert_int_equal(c->orders, 3);
    assert_int_equal(c->nps_promoters, 7);
    assert_int_equal(c->churned, 15);
    assert_int_equal(c->lead_response_ms_sum, 18);
    assert_int_equal(c->customers_delta, 23);
    assert_int_equal(c->leads_converted, 24);
    assert_int_equal(c->current_last_active, 25);
    assert_int_equal(c->current_since, 26);
    assert_int_equal(c->entered[0], 0); /* the arrays lie past the table */
    clm_deltas_release(&d);
}

static void test_transition(void **state)
{
    (void)state;
    clm_deltas d;
    const clm_transition_delta *t;

    clm_deltas_init(&d);
    /* Two customers enter stage 0 from none on bucket 5: one entry, n 2; only
     * stage 0 gains. */
    assert_int_equal(clm_deltas_transition(&d, 5, CLM_STAGE_NONE, 0), 0);
    assert_int_equal(clm_deltas_transition(&d, 5, CLM_STAGE_NONE, 0), 0);
    assert_true(d.any);
    assert_int_equal(d.ntrans, 1);
    t = find_trans(&d, 5, CLM_STAGE_NONE, 0);
    assert_non_null(t);
    assert_int_equal(t->n, 2);
    assert_int_equal(d.stage_count[0], 2);

    /* One of them moves 0 -> 2 on bucket 5, the other on bucket 6. */
    assert_int_equal(clm_deltas_transition(&d, 5, 0, 2), 0);
    assert_int_equal(clm_deltas_transition(&d, 6, 0, 2), 0);
    assert_int_equal(d.ntrans, 3);
    assert_int_equal(find_trans(&d, 5, 0, 2)->n, 1);
    assert_int_equal(find_trans(&d, 6, 0, 2)->n, 1);
    assert_null(find_trans(&d, 6, CLM_STAGE_NONE, 0));
    assert_int_equal(d.stage_count[0], 0); /* 2 - 1 - 1 */
    assert_int_equal(d.stage_count[2], 2);
    assert_int_equal(d.stage_count[1], 0);
    /* No day counters come with a transition. */
    assert_int_equal(d.ndays, 0);

    /* 20 transitions 1 -> 2 on buckets 100..119 (past the first 16 entries):
     * 3 + 20 entries; stage 1 loses 20, stage 2 gains 20. */
    for (int64_t b = 100; b < 120; b++)
        assert_int_equal(clm_deltas_transition(&d, b, 1, 2), 0);
    assert_int_equal(d.ntrans, 23);
    for (int64_t b = 100; b < 120; b++)
        assert_int_equal(find_trans(&d, b, 1, 2)->n, 1);
    assert_int_equal(find_trans(&d, 5, CLM_STAGE_NONE, 0)->n, 2);
    assert_int_equal(d.stage_count[1], -20);
    assert_int_equal(d.stage_count[2], 22); /* 2 + 20 */

    /* The last stage index moves like any other. */
    assert_int_equal(clm_deltas_transition(&d, 5, 2, CLM_STAGES_MAX - 1), 0);
    assert_int_equal(d.stage_count[CLM_STAGES_MAX - 1], 1);
    assert_int_equal(d.stage_count[2], 21);
    clm_deltas_release(&d);
}

static void test_reset(void **state)
{
    (void)state;
    static const clm_daycount zero;
    clm_deltas d;

    clm_deltas_init(&d);
    for (int64_t b = 0; b < 10; b++)
        assert_int_equal(clm_deltas_add(&d, b, CLM_DAY(orders), 3), 0);
    assert_int_equal(clm_deltas_add(&d, 4, CLM_DAY(entered) + 5 * sizeof(int64_t), 1), 0);
    assert_int_equal(clm_deltas_transition(&d, 4, 1, 3), 0);
    d.value_rate_micros = 1216666666;
    size_t cap_days = d.cap_days, cap_trans = d.cap_trans;

    clm_deltas_reset(&d);
    assert_int_equal(d.ndays, 0);
    assert_int_equal(d.ntrans, 0);
    assert_int_equal(d.value_rate_micros, 0);
    assert_false(d.any);
    for (int s = 0; s < CLM_STAGES_MAX; s++)
        assert_int_equal(d.stage_count[s], 0);
    assert_int_equal(d.cap_days, cap_days); /* capacity is kept */
    assert_int_equal(d.cap_trans, cap_trans);

    /* The reused memory starts from zero again. */
    clm_daycount *c = clm_deltas_day(&d, 4);
    assert_non_null(c);
    assert_memory_equal(c, &zero, sizeof(zero));
    assert_int_equal(clm_deltas_add(&d, 4, CLM_DAY(orders), 1), 0);
    assert_int_equal(clm_deltas_day(&d, 4)->orders, 1); /* not 3 + 1 */
    assert_int_equal(clm_deltas_transition(&d, 4, 1, 3), 0);
    assert_int_equal(d.ntrans, 1);
    assert_int_equal(find_trans(&d, 4, 1, 3)->n, 1); /* not 2 */
    assert_int_equal(d.stage_count[1], -1);
    assert_int_equal(d.stage_count[3], 1);
    clm_deltas_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_release),
        cmocka_unit_test(test_day_lookup),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_field_table),
        cmocka_unit_test(test_transition),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests_name("deltas", tests, NULL, NULL);
}
