/* tests/test-merge-record.c - the identity merge record codec
 * (store/merge_record.c): a round trip gives the same bytes and the same
 * merge, and every malformed record is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/merge.h"
#include "store/merge_record.h"

#define DAY_MS 86400000LL
#define T0 (20454LL * DAY_MS) /* 2026-01-01 */

static const clm_apply_opts OPTS = {
    .dedup_horizon_ms = DAY_MS,
    .dedup_max_ids = 16,
    .bucket_ms = DAY_MS,
    .churn_inactive_ms = 90 * DAY_MS,
    .clv_min_tenure_ms = 30 * DAY_MS,
};

static void put(clm_customer *c, clm_deltas *d, clm_event_type type, int64_t ts, int64_t amount,
                const char *id)
{
    clm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ts_ms = ts;
    ev.has_customer = 1;
    ev.customer_id_len = c->id_len;
    memcpy(ev.customer_id, c->id, c->id_len + 1u);
    if (amount) {
        ev.has_amount = 1;
        ev.amount_micros = amount;
    }
    ev.has_event_id = 1;
    ev.event_id_len = (uint8_t)strlen(id);
    memcpy(ev.event_id, id, ev.event_id_len + 1u);
    assert_int_equal(clm_customer_apply(c, &ev, &OPTS, d, ts), CLM_APPLIED);
}

static clm_customer *anon_customer(clm_deltas *d)
{
    clm_customer *a = clm_customer_new("anon-7", 6, 3);

    assert_non_null(a);
    put(a, d, CLM_EV_VISIT, T0 + 1000, 0, "v1");
    put(a, d, CLM_EV_SIGNUP, T0 + DAY_MS, 0, "s1");
    put(a, d, CLM_EV_PURCHASE, T0 + 2 * DAY_MS, 12500000, "p1");
    return a;
}

static void test_round_trip(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = anon_customer(&d);
    clm_record_buf b, b2;
    clm_record_buf_init(&b);
    clm_record_buf_init(&b2);
    uint64_t id = clm_merge_record_id("g", 1, "anon-7", 6, "known-7", 7, "i-1", 3);

    assert_int_equal(clm_merge_record_encode(&b, id, T0 + 3 * DAY_MS, "known-7", 7, "i-1", 3, a), 0);
    assert_int_equal(b.p[0], CLM_MERGE_RECORD_VERSION);
    clm_merge_record m;
    clm_merge_record_init(&m);
    char err[256];
    assert_int_equal(clm_merge_record_decode(&m, b.p, b.len, err, sizeof(err)), 0);
    assert_int_equal(m.id, id);
    assert_int_equal(m.merge_ts, T0 + 3 * DAY_MS);
    assert_string_equal(m.known, "known-7");
    assert_string_equal(m.event_id, "i-1");
    assert_string_equal(m.anon->id, "anon-7");
    assert_int_equal(m.anon->events, 3);
    assert_int_equal(m.anon->orders, 1);
    assert_int_equal(m.anon->revenue_micros, 12500000);
    assert_int_equal(m.anon->first_signup, T0 + DAY_MS);
    assert_int_equal(m.anon->dedup.n, 2); /* v1 is past the one-day horizon */
    assert_int_equal(clm_merge_record_encode(&b2, m.id, m.merge_ts, m.known, m.known_len, m.event_id,
                                             m.event_id_len, m.anon),
                     0);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.p, b.p, b.len);

    /* merging the decoded snapshot is merging the original */
    clm_customer *k1 = clm_customer_new("known-7", 7, 1), *k2 = clm_customer_new("known-7", 7, 1);
    put(k1, &d, CLM_EV_PURCHASE, T0 + 2 * DAY_MS + 5, 1000000, "k1");
    put(k2, &d, CLM_EV_PURCHASE, T0 + 2 * DAY_MS + 5, 1000000, "k1");
    assert_int_equal(clm_merge_apply(k1, a, id, m.merge_ts, &OPTS, &d, m.merge_ts), CLM_APPLIED);
    assert_int_equal(clm_merge_apply(k2, m.anon, m.id, m.merge_ts, &OPTS, &d, m.merge_ts), CLM_APPLIED);
    clm_record_buf r1, r2;
    clm_record_buf_init(&r1);
    clm_record_buf_init(&r2);
    assert_int_equal(clm_record_encode(&r1, k1), 0);
    assert_int_equal(clm_record_encode(&r2, k2), 0);
    assert_int_equal(r1.len, r2.len);
    assert_memory_equal(r1.p, r2.p, r1.len);
    assert_int_equal(k2->orders, 2);

    clm_record_buf_release(&r1);
    clm_record_buf_release(&r2);
    clm_customer_free(k1);
    clm_customer_free(k2);
    clm_merge_record_release(&m);
    clm_merge_record_release(&m); /* again: a released record is empty */
    clm_merge_record_release(NULL);
    clm_record_buf_release(&b);
    clm_record_buf_release(&b2);
    clm_customer_free(a);
    clm_deltas_release(&d);
}

static void test_refused(void **state)
{
    (void)state;
    clm_deltas d;
    clm_deltas_init(&d);
    clm_customer *a = anon_customer(&d);
    clm_record_buf b;
    clm_record_buf_init(&b);
    char err[256];
    clm_merge_record m;
    clm_merge_record_init(&m);

    /* the encoder refuses the same id on both sides and bad lengths */
    assert_int_equal(clm_merge_record_encode(&b, 1, T0, "anon-7", 6, "", 0, a), -EINVAL);
    assert_int_equal(clm_merge_record_encode(&b, 1, T0, "", 0, "", 0, a), -EINVAL);
    assert_int_equal(b.len, 0);
    assert_int_equal(clm_merge_record_encode(&b, 1, T0, "known-7", 7, "", 0, a), 0);

    /* every proper prefix is refused */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(clm_merge_record_decode(&m, b.p, n, err, sizeof(err)), -EPROTO);
    assert_null(m.anon);
    /* a trailing byte */
    uint8_t copy[512];
    assert_true(b.len + 1 <= sizeof(copy));
    memcpy(copy, b.p, b.len);
    copy[b.len] = 0;
    assert_int_equal(clm_merge_record_decode(&m, copy, b.len + 1, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "trailing"));
    /* another version */
    copy[0] = 2;
    assert_int_equal(clm_merge_record_decode(&m, copy, b.len, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "merge record version 2 is not one this clmd reads (it reads 1)");
    copy[0] = CLM_MERGE_RECORD_VERSION;
    /* the known id (offset 17: length 7) renamed to the anonymous one */
    assert_int_equal(copy[17], 7);
    memcpy(copy + 18, "anon-7", 6);
    copy[17] = 6;
    memmove(copy + 24, copy + 25, b.len - 25);
    assert_int_equal(clm_merge_record_decode(&m, copy, b.len - 1, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "merge record: the known and the anonymous id are the same");
    /* an id length past CLM_ID_MAX */
    memcpy(copy, b.p, b.len);
    copy[17] = CLM_ID_MAX + 1;
    assert_int_equal(clm_merge_record_decode(&m, copy, b.len, err, sizeof(err)), -EPROTO);
    assert_null(m.anon);

    clm_record_buf_release(&b);
    clm_customer_free(a);
    clm_deltas_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
