/* tests/test-record.c - the binary checkpoint record of a customer
 * (store/record.c): exact round trips, exact sizes worked out by hand, strict
 * rejection of malformed records, and a customer that keeps living after a
 * checkpoint exactly as the original does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/customer.h"
#include "core/timeutil.h"
#include "store/load.h"
#include "store/record.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
/* 2026-01-01 as an epoch day: 56 * 365 + 14 leap days. */
#define D0 20454

/* Epoch ms of hh:mm UTC on day D0 + day. */
static int64_t at(int64_t day, int64_t hh, int64_t mm)
{
    return (D0 + day) * DAY_MS + hh * HOUR_MS + mm * MIN_MS;
}

static clm_customer *fresh(void)
{
    clm_customer *c = clm_customer_new("c-1", 3, 7);
    assert_non_null(c);
    return c;
}

static void encode(const clm_customer *c, clm_record_buf *b)
{
    clm_record_buf_init(b);
    assert_int_equal(clm_record_encode(b, c), 0);
}

/* Decodes bytes that must be accepted, and checks they are canonical (a
 * version-2 record comes back as version 3, otherwise the same). */
static clm_customer *decode_ok(const uint8_t *p, size_t n)
{
    clm_customer *c = fresh();
    clm_record_buf again;
    char err[256];

    int r = clm_record_decode(c, p, n, err, sizeof(err));
    if (r != 0)
        print_error("unexpected rejection: %s\n", err);
    assert_int_equal(r, 0);
    encode(c, &again);
    assert_int_equal(again.len, n);
    assert_int_equal(again.p[0], CLM_RECORD_VERSION);
    assert_memory_equal(again.p + 1, p + 1, n - 1);
    clm_record_buf_release(&again);
    return c;
}

/* Every persisted field of a and b is equal. */
static void assert_same(const clm_customer *a, const clm_customer *b)
{
    assert_int_equal(a->first_seen, b->first_seen);
    assert_int_equal(a->last_seen, b->last_seen);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->orders, b->orders);
    assert_int_equal(a->revenue_micros, b->revenue_micros);
    assert_int_equal(a->refunds_micros, b->refunds_micros);
    assert_int_equal(a->first_purchase, b->first_purchase);
    assert_int_equal(a->first_signup, b->first_signup);
    assert_int_equal(a->first_contact, b->first_contact);
    assert_int_equal(a->lead_contact, b->lead_contact);
    assert_int_equal(a->stage_since, b->stage_since);
    assert_int_equal(a->active_bucket, b->active_bucket);
    assert_int_equal(a->active_bits, b->active_bits);
    assert_int_equal(a->clv_rate_micros, b->clv_rate_micros);
    assert_int_equal(a->src_offset, b->src_offset);
    assert_int_equal(a->src_topic, b->src_topic);
    assert_int_equal(a->alert_at, b->alert_at);
    assert_int_equal(a->incident_at, b->incident_at);
    assert_int_equal(a->returned, b->returned);
    assert_int_equal(a->risk_day, b->risk_day);
    assert_int_equal(a->risk_next, b->risk_next);
    /* field by field: struct assignments in the core leave padding unspecified */
    const clm_risk_state *ra = &a->risk, *rb = &b->risk;
    assert_int_equal(ra->nps_ts, rb->nps_ts);
    assert_int_equal(ra->csat_ts, rb->csat_ts);
    assert_int_equal(ra->first_day, rb->first_day);
    assert_int_equal(ra->last_day, rb->last_day);
    assert_int_equal(ra->active_days, rb->active_days);
    assert_int_equal(ra->payment_failed_day, rb->payment_failed_day);
    assert_int_equal(ra->downgrade_day, rb->downgrade_day);
    assert_memory_equal(ra->ticket_day, rb->ticket_day, sizeof(ra->ticket_day));
    assert_int_equal(ra->session_day, rb->session_day);
    assert_int_equal(ra->day_bits, rb->day_bits);
    assert_memory_equal(ra->sessions, rb->sessions, sizeof(ra->sessions));
    assert_int_equal(ra->nps, rb->nps);
    assert_int_equal(ra->csat, rb->csat);
    assert_int_equal(a->rfm.first_day, b->rfm.first_day);
    assert_int_equal(a->rfm.last_day, b->rfm.last_day);
    assert_int_equal(a->rfm.x, b->rfm.x);
    assert_int_equal(a->rfm.day_bits, b->rfm.day_bits);
    assert_int_equal(a->rfm.first_micros, b->rfm.first_micros);
    assert_int_equal(a->rfm.repeat_micros, b->rfm.repeat_micros);
    assert_int_equal(a->risk_e4, b->risk_e4);
    assert_int_equal(a->dedup.n, b->dedup.n);
    for (unsigned i = 0; i < a->dedup.n; i++) {
        assert_int_equal(clm_dedup_entries(&a->dedup)[i].hash, clm_dedup_entries(&b->dedup)[i].hash);
        assert_int_equal(clm_dedup_entries(&a->dedup)[i].ts_ms, clm_dedup_entries(&b->dedup)[i].ts_ms);
    }
    assert_memory_equal(a->entered, b->entered, sizeof(a->entered));
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->peak, b->peak);
    assert_int_equal(a->last_type, b->last_type);
    assert_int_equal(a->flags & CLM_CUST_DISARMED, b->flags & CLM_CUST_DISARMED);
}

/* ---- customers ------------------------------------------------------------- */

/* Every persisted field away from its fresh value, several at an extreme. */
static clm_customer *full_customer(void)
{
    clm_customer *c = fresh();

    c->first_seen = at(-400, 3, 7) + 123;
    c->last_seen = at(30, 23, 59) + 999;
    c->events = 987654321;
    c->orders = 4242;
    c->revenue_micros = INT64_MAX;
    c->refunds_micros = 1234567;
    c->first_purchase = at(-399, 0, 0) + 1;
    c->first_signup = at(-400, 3, 8);
    c->first_contact = at(-401, 0, 0);
    c->lead_contact = at(-400, 4, 0);
    c->stage_since = at(29, 1, 2);
    c->active_bucket = D0 + 30;
    c->active_bits = 0xF00DFACEC0FFEE01ull;
    c->clv_rate_micros = 777777777777;
    c->src_offset = (1LL << 53) + 17;
    c->src_topic = 200;
    c->alert_at = at(30, 12, 0);
    c->incident_at = at(30, 12, 0);
    c->returned = D0 + 20;
    c->risk_day = D0 + 30;
    c->risk_next = D0 + 44;
    c->risk_e4 = 10000;
    c->risk.nps = 3;
    c->risk.nps_ts = at(10, 8, 0);
    c->risk.csat = 1;
    c->risk.csat_ts = at(12, 9, 0);
    c->risk.first_day = D0 - 400;
    c->risk.last_day = D0 + 30;
    c->risk.active_days = 300;
    c->risk.payment_failed_day = D0 + 25;
    c->risk.downgrade_day = D0 + 26;
    static const int32_t tickets[CLM_RISK_TICKETS] = { 30, 30, 28, 20, 11, 10, 3, 0 };
    for (int i = 0; i < CLM_RISK_TICKETS; i++)
        c->risk.ticket_day[i] = D0 + tickets[i];
    c->risk.session_day = D0 + 30;
    c->risk.day_bits = UINT64_MAX;
    for (int i = 0; i < CLM_RISK_SESSION_DAYS; i++)
        c->risk.sessions[i] = (uint8_t)(i * 4 + 1);
    c->risk.sessions[17] = 255;
    c->rfm.first_day = D0 - 399;
    c->rfm.last_day = D0 + 30;
    c->rfm.x = 57;
    c->rfm.day_bits = 0x8000000000000001ull;
    c->rfm.first_micros = 19990000;
    c->rfm.repeat_micros = INT64_MAX - 5;
    for (int i = 0; i < 20; i++) /* ties at i = 5, 6 */
        assert_int_equal(clm_dedup_add(&c->dedup, 0x0123456789abcdefull * (uint64_t)(i + 1),
                                       at(30, 0, 0) + (i == 6 ? 5 : i) * 3 * MIN_MS, c->last_seen,
                                       DAY_MS, 65535),
                         0);
    for (int i = 0; i < CLM_CUST_RANKS - 1; i++)
        c->entered[i] = D0 - 400 + i * 37;
    c->entered[CLM_CUST_RANKS - 1] = INT32_MAX;
    c->stage = 8;
    c->peak = CLM_STAGES_MAX - 1;
    c->last_type = CLM_EV_MARKETING_SPEND;
    /* not persisted: only DISARMED comes back */
    c->flags = CLM_CUST_DIRTY | CLM_CUST_REF | CLM_CUST_AT_RISK | CLM_CUST_DISARMED;
    c->indexed = 99;
    c->flush_gen = 5;
    return c;
}

/* The ends of every type, and an answer whose time is unknown. */
static clm_customer *extreme_customer(void)
{
    clm_customer *c = fresh();

    c->first_seen = INT64_MIN + 1;
    c->last_seen = INT64_MAX;
    c->events = INT64_MAX;
    c->orders = INT64_MIN;
    c->refunds_micros = INT64_MIN;
    c->first_purchase = INT64_MAX;
    c->first_signup = 0;
    c->stage_since = INT64_MIN;
    c->clv_rate_micros = INT64_MIN;
    c->src_offset = INT64_MAX;
    c->src_topic = 255;
    c->alert_at = INT64_MIN + 1;
    c->incident_at = INT64_MAX;
    c->returned = INT64_MAX;
    c->active_bucket = INT64_MIN + 7;
    c->risk_day = INT32_MAX;
    c->risk_next = INT32_MIN;
    c->risk.nps = INT8_MIN;
    c->risk.nps_ts = CLM_NO_TS;
    c->risk.csat = INT8_MAX;
    c->risk.csat_ts = INT64_MAX;
    c->risk.first_day = INT32_MIN;
    c->risk.last_day = INT32_MAX;
    c->risk.active_days = INT32_MIN;
    c->risk.ticket_day[0] = INT32_MAX;
    c->risk.ticket_day[1] = 0;
    c->risk.session_day = INT32_MIN;
    c->risk.sessions[0] = 9;
    c->risk.downgrade_day = INT32_MIN;
    c->rfm.first_day = INT32_MAX;
    c->rfm.last_day = INT32_MIN;
    c->rfm.x = INT32_MIN;
    c->rfm.first_micros = INT64_MIN;
    c->entered[0] = INT32_MIN;
    c->entered[5] = 0;
    c->stage = 0;
    assert_int_equal(clm_dedup_append(&c->dedup, UINT64_MAX, INT64_MIN), 0);
    assert_int_equal(clm_dedup_append(&c->dedup, 0, INT64_MAX), 0);
    return c;
}

/* An active customer a month in: 42 events over 7 days, 3 purchases, in the
 * retention stage, an NPS answer, a ticket, two recent event ids. */
static clm_customer *realistic_customer(void)
{
    clm_customer *c = fresh();

    c->first_seen = at(0, 10, 0);
    c->last_seen = at(30, 18, 30);
    c->events = 42;
    c->last_type = CLM_EV_PURCHASE;
    c->orders = 3;
    c->revenue_micros = 149970000;
    c->clv_rate_micros = 1500000000;
    c->first_purchase = at(2, 12, 0);
    c->first_signup = at(0, 10, 5);
    c->stage = 5;
    c->peak = 5;
    c->stage_since = at(20, 8, 0);
    static const int32_t entered[6] = { 0, 0, 2, 3, 10, 20 };
    for (int i = 0; i < 6; i++)
        c->entered[i] = D0 + entered[i];
    c->active_bucket = D0 + 30; /* active on days 30, 28, 20, 10, 3, 2, 0 */
    c->active_bits = 1ull << 0 | 1ull << 2 | 1ull << 10 | 1ull << 20 | 1ull << 27 |
                     1ull << 28 | 1ull << 30;
    c->src_offset = 123456;
    c->src_topic = 1;
    c->risk_day = D0 + 30;
    c->risk_next = D0 + 45;
    c->risk_e4 = 1234;
    c->risk.first_day = D0;
    c->risk.last_day = D0 + 30;
    c->risk.active_days = 7;
    c->risk.day_bits = c->active_bits;
    c->risk.session_day = D0 + 28;
    c->risk.sessions[(D0 + 28) % CLM_RISK_SESSION_DAYS] = 2;
    c->risk.sessions[(D0 + 20) % CLM_RISK_SESSION_DAYS] = 1;
    c->risk.ticket_day[0] = D0 + 10;
    c->risk.nps = 9;
    c->risk.nps_ts = at(28, 12, 0);
    c->rfm.first_day = D0 + 2; /* purchases on days 2, 20, 30 */
    c->rfm.last_day = D0 + 30;
    c->rfm.x = 2;
    c->rfm.day_bits = 1ull << 0 | 1ull << 10 | 1ull << 28;
    c->rfm.first_micros = 49990000;
    c->rfm.repeat_micros = 99980000;
    assert_int_equal(clm_dedup_add(&c->dedup, 0x1111, at(30, 9, 0), at(30, 9, 0), DAY_MS, 16), 0);
    assert_int_equal(clm_dedup_add(&c->dedup, 0x2222, at(30, 18, 30), at(30, 18, 30), DAY_MS, 16), 0);
    return c;
}

/* ---- round trips and sizes -------------------------------------------------- */

static void roundtrip(clm_customer *c)
{
    clm_record_buf b;
    encode(c, &b);
    clm_customer *d = decode_ok(b.p, b.len), *ref = fresh();
    assert_same(c, d);
    /* of the flags, only DISARMED is persisted; the others stay as new */
    assert_int_equal(d->flags, ref->flags | (c->flags & CLM_CUST_DISARMED));
    clm_customer_free(ref);
    assert_int_equal(d->indexed, CLM_NO_TS);
    assert_int_equal(d->flush_gen, 0);
    assert_int_equal(d->part, 7);
    assert_string_equal(d->id, "c-1");
    clm_record_buf_release(&b);
    clm_customer_free(d);
}

static void test_full_roundtrip(void **state)
{
    (void)state;
    clm_customer *c = full_customer(), *d;
    clm_record_buf b;
    assert_int_equal(c->dedup.n, 20);
    roundtrip(c);
    /* built from init functions (zeroed padding): whole structs compare too */
    encode(c, &b);
    d = decode_ok(b.p, b.len);
    assert_memory_equal(&c->risk, &d->risk, sizeof(c->risk));
    assert_memory_equal(&c->rfm, &d->rfm, sizeof(c->rfm));
    clm_record_buf_release(&b);
    clm_customer_free(d);
    clm_customer_free(c);

    c = extreme_customer();
    roundtrip(c);
    clm_customer_free(c);
}

static void test_fresh_is_two_bytes(void **state)
{
    (void)state;
    static const uint8_t want[] = { CLM_RECORD_VERSION, 0x00 }; /* version, no groups */
    clm_customer *c = fresh();
    clm_record_buf b;

    encode(c, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    roundtrip(c);

    /* encode appends */
    assert_int_equal(clm_record_encode(&b, c), 0);
    assert_int_equal(b.len, 2 * sizeof(want));
    assert_memory_equal(b.p + 2, want, sizeof(want));
    clm_record_buf_release(&b);
    clm_record_buf_release(&b); /* released twice is fine */
    clm_customer_free(c);
}

/* Byte counts of the realistic customer (D = D0 + 30, the day of last_seen;
 * a zz value v takes ceil(bits(2|v|)/7) bytes):
 *   version 1, flags 0x3fff (14 bits) 2                                   3
 *   first_seen 1767261600000 (zz 3.53e12, 42 bits) 6, last_seen - first_seen
 *     2622600000 (zz 5.25e9, 33 bits) 5, events 42 1                       12
 *   last_type 1                                                           1
 *   orders 3 1, revenue 149970000 (zz 3.0e8, 29 bits) 5, refunds 0 1       7
 *   clv_rate 1.5e9 (zz 3e9, 32 bits)                                      5
 *   first_purchase +180000000 (zz 29 bits)                                5
 *   first_signup +300000 (zz 600000, 20 bits)                             3
 *   stage 1, peak 1, stage_since -901800000 (zz 31 bits) 5                7
 *   entered: bitmap 0x3f 1, -30 -30 -28 -27 -20 -10 one byte each         7
 *   active_bucket +0 1, active_bits (bit 30 highest, 31 bits) 5           6
 *   src_offset 123456 (zz 18 bits) 3, src_topic 1                         4
 *   risk_day +0 1, risk_next +15 1, risk_e4 1234 (11 bits) 2              4
 *   risk: flags 1; days: last_day +0 1, first_day -30 1, active_days 1,
 *     day_bits ^ active_bits = 0 1; sessions: session_day -2 1, bitmap
 *     0x101 2, counts 2; ticket: n 1, -20 1; nps 9 1, nps_ts -196200000
 *     (zz 29 bits) 5                                                     18
 *   rfm: last_day +0 1, first_day -28 1, x 1, day_bits (29 bits) 5,
 *     first_micros (zz 27 bits) 4, repeat_micros (zz 28 bits) 4          16
 *   dedup: n 1; newest: hash 8, ts - last_seen = 0 1; older: hash 8,
 *     gap 34200000 (26 bits) 4                                           22
 * total 120 bytes, 98 without the two event ids. */
static void test_realistic_size(void **state)
{
    (void)state;
    clm_customer *c = realistic_customer();
    clm_record_buf b;

    encode(c, &b);
    assert_int_equal(b.len, 120);
    roundtrip(c);
    clm_dedup_release(&c->dedup);
    b.len = 0;
    assert_int_equal(clm_record_encode(&b, c), 0);
    assert_int_equal(b.len, 98);
    clm_record_buf_release(&b);
    clm_customer_free(c);
}

/* ---- rejections ---------------------------------------------------------------- */

/* Decodes bytes that must be rejected; the customer stays fresh. Returns
 * the message in a static buffer. */
static const char *rejected(const uint8_t *p, size_t n)
{
    static char err[256];
    clm_customer *c = fresh(), *ref = fresh();

    memset(err, 0, sizeof(err));
    assert_int_equal(clm_record_decode(c, p, n, err, sizeof(err)), -EPROTO);
    assert_true(err[0] != '\0');
    assert_false(clm_dedup_on_heap(&c->dedup)); /* nothing allocated */
    assert_memory_equal(c, ref, offsetof(clm_customer, id));
    clm_customer_free(c);
    clm_customer_free(ref);
    return err;
}

static void test_truncations(void **state)
{
    (void)state;
    clm_customer *cs[3] = { full_customer(), extreme_customer(), realistic_customer() };

    for (int k = 0; k < 3; k++) {
        clm_record_buf b;
        encode(cs[k], &b);
        for (size_t n = 0; n < b.len; n++) {
            const char *err = rejected(b.p, n);
            if (!strstr(err, ": field ") || !strstr(err, "truncated"))
                fail_msg("customer %d, %zu of %zu bytes: %s", k, n, b.len, err);
        }
        clm_record_buf_release(&b);
        clm_customer_free(cs[k]);
    }
    static const uint8_t one[] = { 2, 0x01, 0x02 }; /* first_seen 1, then nothing */
    assert_string_equal(rejected(one, sizeof(one)), "record version 2: field last_seen: truncated");
}

static void test_unknown_version(void **state)
{
    (void)state;
    static const uint8_t v9[] = { 9, 0 }, v1[] = { 1, 0 }, v0[] = { 0 };
    assert_string_equal(rejected(v9, sizeof(v9)),
                        "record version 9 is not one this clmd reads (it reads 2 and 3)");
    assert_string_equal(rejected(v1, sizeof(v1)),
                        "record version 1 is not one this clmd reads (it reads 2 and 3)");
    assert_string_equal(rejected(v0, sizeof(v0)),
                        "record version 0 is not one this clmd reads (it reads 2 and 3)");
    assert_string_equal(rejected(v0, 0), "record: field version: truncated (empty record)");
}

#define REJECT(msg, ...)                                                  \
    do {                                                                  \
        static const uint8_t in_[] = { __VA_ARGS__ };                     \
        assert_string_equal(rejected(in_, sizeof(in_)), msg);             \
    } while (0)
#define ACCEPT(...)                                                       \
    do {                                                                  \
        static const uint8_t in_[] = { __VA_ARGS__ };                     \
        clm_customer_free(decode_ok(in_, sizeof(in_)));                   \
    } while (0)

/* Version 2 (release 0.2.0) records are read, and written back as version
 * 3; field 19 (incident_at) exists from version 3 on. */
static void test_version_2(void **state)
{
    (void)state;
    static const uint8_t v2[] = { 2, 0x01, 0x02, 0x00, 0x02 }; /* first_seen 1, events 1 */
    clm_customer *c = clm_customer_new("c-1", 3, 0);
    char err[256];
    assert_int_equal(clm_record_decode(c, v2, sizeof(v2), err, sizeof(err)), 0);
    assert_true(c->first_seen == 1 && c->last_seen == 1 && c->events == 1);
    assert_true(c->incident_at == CLM_NO_TS);
    clm_record_buf b;
    clm_record_buf_init(&b);
    assert_int_equal(clm_record_encode(&b, c), 0);
    assert_int_equal(b.len, sizeof(v2));
    assert_int_equal(b.p[0], 3);
    assert_memory_equal(b.p + 1, v2 + 1, sizeof(v2) - 1);
    clm_record_buf_release(&b);
    clm_customer_free(c);

    /* bit 19: unknown in version 2, incident_at in version 3 */
    static const uint8_t v2_19[] = { 2, 0x81, 0x80, 0x20, 0x02, 0x00, 0x02, 0x04 };
    assert_string_equal(rejected(v2_19, sizeof(v2_19)), "record version 2: field flags: unknown bits 0x1");
    static const uint8_t v3_19[] = { 3, 0x81, 0x80, 0x20, 0x02, 0x00, 0x02, 0x04 };
    c = clm_customer_new("c-1", 3, 0);
    assert_int_equal(clm_record_decode(c, v3_19, sizeof(v3_19), err, sizeof(err)), 0);
    assert_true(c->incident_at == 3); /* last_seen 1 + 2 */
    clm_record_buf_init(&b);
    assert_int_equal(clm_record_encode(&b, c), 0);
    assert_int_equal(b.len, sizeof(v3_19));
    assert_memory_equal(b.p, v3_19, sizeof(v3_19));
    clm_record_buf_release(&b);
    clm_customer_free(c);
    static const uint8_t v3_20[] = { 3, 0x80, 0x80, 0x40 };
    assert_string_equal(rejected(v3_20, sizeof(v3_20)), "record version 3: field flags: unknown bits 0x1");
}

static void test_malformed(void **state)
{
    (void)state;
    /* varints: overlong, past 64 bits; the largest that fits is fine */
    REJECT("record version 2: field flags: overlong varint", 2, 0x80, 0x00);
    REJECT("record version 2: field events: overlong varint", 2, 0x01, 0x02, 0x00, 0x81, 0x00);
    REJECT("record version 2: field first_seen: varint does not fit 64 bits", 2, 0x01, 0xff,
           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00);
    ACCEPT(2, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00);
    /* trailing bytes */
    REJECT("record version 2: 1 trailing byte", 2, 0x00, 0x00);
    REJECT("record version 2: 3 trailing bytes", 2, 0x00, 1, 2, 3);
    /* flags: unknown bits; a group marked present that holds its fresh value */
    REJECT("record version 2: field flags: unknown bits 0x1", 2, 0x80, 0x80, 0x20);
    REJECT("record version 2: field first_seen: marked present but holds its fresh value", 2,
           0x01, 0x00, 0x00, 0x00);
    REJECT("record version 2: field first_purchase: marked present but holds its fresh value",
           2, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    /* stage and peak: < CLM_STAGES_MAX or CLM_STAGE_NONE */
    REJECT("record version 2: field stage: 200 is not a stage index", 2, 0x40, 200, 255, 0x00);
    REJECT("record version 2: field peak: 32 is not a stage index", 2, 0x40, 3, 32, 0x00);
    REJECT("record version 2: field stage: marked present but holds its fresh value", 2, 0x40,
           255, 255, 0x00);
    ACCEPT(2, 0x40, 31, 255, 0x00);
    ACCEPT(2, 0x40, 255, 255, 0x02);
    /* other ranges */
    REJECT("record version 2: field last_type: 200 is not an event type", 2, 0x02, 200);
    REJECT("record version 2: field risk_e4: 10001 is above 10000", 2, 0x80, 0x08, 0x00, 0x00,
           0x91, 0x4e);
    REJECT("record version 2: field risk_day: 2147483648 is out of range for an int32", 2, 0x80,
           0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00, 0x00);
    REJECT("record version 2: field entered: rank 0: -1 marked present", 2, 0x80, 0x01, 0x01,
           0x01);
    REJECT("record version 2: field entered: ranks beyond 11", 2, 0x80, 0x01, 0x80, 0x20, 0x00);
    /* risk block: ticket days below 0, session counts of 0, a fresh sub-group */
    REJECT("record version 2: field risk.ticket_day: ticket 1: day below 0", 2, 0x80, 0x10, 0x04,
           0x02, 0x0a, 0x06);
    REJECT("record version 2: field risk.ticket_day: 9 tickets (expected 1..8)", 2, 0x80, 0x10,
           0x04, 0x09);
    REJECT("record version 2: field risk.sessions: count 0 marked present (day 0 back)", 2, 0x80,
           0x10, 0x02, 0x06, 0x01, 0x00);
    REJECT("record version 2: field risk.payment_failed_day: marked present but holds its fresh "
           "value", 2, 0x80, 0x10, 0x08, 0x01);
    REJECT("record version 2: field risk: marked present but holds its fresh value", 2, 0x80,
           0x10, 0x00);
    REJECT("record version 2: field risk.flags: unknown bits 0x1", 2, 0x80, 0x10, 0x80, 0x01);
    /* dedup: count, room, times going back */
    REJECT("record version 2: field dedup: 65536 entries (expected 1..65535)", 2, 0x80, 0x40,
           0x80, 0x80, 0x04);
    REJECT("record version 2: field dedup: truncated", 2, 0x80, 0x40, 0x03, 1, 2, 3, 4, 5, 6, 7,
           8, 0);
    REJECT("record version 2: field dedup: entry 0: time out of range", 2, 0x80, 0x40, 0x02,
           1, 2, 3, 4, 5, 6, 7, 8, 0x01, /* newest at -1 */
           1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    ACCEPT(2, 0x80, 0x40, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00);
}

/* ---- a checkpointed customer lives on like the original -------------------- */

static const char *const STAGE_NAMES[] = {
    "awareness", "acquisition", "conversion", "onboarding", "engagement",
    "retention", "advocacy", "churned", "reactivated",
};
static const char *const ON_VISIT[] = { "visit" };
static const char *const ON_SIGNUP[] = { "signup" };
static const char *const ON_PURCHASE[] = { "purchase" };
static const char *const ON_ONBOARDING[] = { "onboarding_complete" };
static const char *const ON_USE[] = { "login", "session", "feature_use" };
static const char *const ON_ADVOCACY[] = { "referral", "review" };
static const char *const ON_CANCEL[] = { "cancel" };
static const char *const ON_ANY[] = { "*" };
static const char *const FROM_ONBOARDING[] = { "onboarding" };
static const char *const FROM_CHURNED[] = { "churned" };
#define NO_SCORE INT32_MIN, INT32_MAX, false
static const clm_stage_rule_spec RULES[] = {
    { ON_VISIT, 1, NULL, 0, "awareness", -1, -1, NO_SCORE },
    { ON_SIGNUP, 1, NULL, 0, "acquisition", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "conversion", 1, 1, NO_SCORE },
    { ON_ONBOARDING, 1, NULL, 0, "onboarding", -1, -1, NO_SCORE },
    { ON_USE, 3, FROM_ONBOARDING, 1, "engagement", -1, -1, NO_SCORE },
    { ON_PURCHASE, 1, NULL, 0, "retention", 2, -1, NO_SCORE },
    { ON_ADVOCACY, 2, NULL, 0, "advocacy", 1, -1, NO_SCORE },
    { ON_CANCEL, 1, NULL, 0, "churned", 1, -1, NO_SCORE },
    { ON_ANY, 1, FROM_CHURNED, 1, "reactivated", -1, -1, NO_SCORE },
};
static const clm_stages_spec MODEL = {
    .stages = STAGE_NAMES, .nstages = 9, .churned = "churned", .reactivated = "reactivated",
    .rules = RULES, .nrules = sizeof(RULES) / sizeof(RULES[0]), .forward_only = true,
};

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned next_rand(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

/* The i-th event of a customer's pseudo-random stream: some out of order,
 * some sent twice. */
static clm_event stream_event(int i, int64_t *ts)
{
    static const clm_event_type types[] = {
        CLM_EV_VISIT, CLM_EV_SIGNUP, CLM_EV_LEAD_CONTACTED, CLM_EV_PURCHASE, CLM_EV_REFUND,
        CLM_EV_ONBOARDING_COMPLETE, CLM_EV_LOGIN, CLM_EV_SESSION, CLM_EV_SESSION,
        CLM_EV_FEATURE_USE, CLM_EV_SUPPORT_TICKET, CLM_EV_CSAT_RESPONSE, CLM_EV_NPS_RESPONSE,
        CLM_EV_REFERRAL, CLM_EV_DOWNGRADE, CLM_EV_PAYMENT_FAILED, CLM_EV_CANCEL, CLM_EV_PURCHASE,
    };
    clm_event ev;
    unsigned gap = next_rand(10);
    *ts += gap < 6 ? (int64_t)next_rand(5) * HOUR_MS : (int64_t)next_rand(20) * DAY_MS;
    memset(&ev, 0, sizeof(ev));
    ev.type = types[next_rand(sizeof(types) / sizeof(types[0]))];
    ev.ts_ms = *ts - (next_rand(4) == 0 ? (int64_t)next_rand(48) * HOUR_MS : 0);
    ev.has_customer = 1;
    ev.customer_id_len = 3;
    memcpy(ev.customer_id, "c-1", 4);
    ev.has_event_id = 1;
    ev.event_id_len = (uint8_t)snprintf(ev.event_id, sizeof(ev.event_id), "e-%d",
                                        next_rand(8) == 0 && i > 0 ? i - 1 : i);
    if (ev.type == CLM_EV_PURCHASE || ev.type == CLM_EV_REFUND) {
        ev.has_amount = 1;
        ev.amount_micros = (int64_t)(1 + next_rand(20000)) * 10000;
    }
    if (ev.type == CLM_EV_NPS_RESPONSE || ev.type == CLM_EV_CSAT_RESPONSE) {
        ev.has_score = 1;
        ev.score = (int32_t)next_rand(ev.type == CLM_EV_NPS_RESPONSE ? 11 : 6);
    }
    const char *name = clm_event_type_name(ev.type);
    ev.type_len = (uint8_t)strlen(name);
    memcpy(ev.type_name, name, ev.type_len + 1u);
    return ev;
}

static clm_customer *checkpoint(const clm_customer *c, size_t *len)
{
    clm_record_buf b;
    encode(c, &b);
    *len = b.len;
    clm_customer *d = decode_ok(b.p, b.len);
    clm_record_buf_release(&b);
    return d;
}

static void test_lives_on(void **state)
{
    (void)state;
    char err[256];
    clm_stages *model;
    clm_risk_opts risk;
    clm_alert_opts alerts = { .enabled = { true, true }, .threshold_e4 = 5000,
                              .rearm_e4 = 1000, .cooldown_ms = 7 * DAY_MS };
    assert_int_equal(clm_stages_new(&MODEL, &model, err, sizeof(err)), 0);
    clm_risk_opts_default(&risk);
    const clm_apply_opts o = {
        .dedup_horizon_ms = 2 * DAY_MS, .dedup_max_ids = 16, .stages = model,
        .bucket_ms = DAY_MS, .churn_inactive_ms = 60 * DAY_MS,
        .clv_min_tenure_ms = 30 * DAY_MS, .risk = &risk, .alerts = &alerts,
    };

    for (int run = 0; run < 8; run++) {
        clm_customer *a = fresh(), *b = NULL;
        clm_deltas da, db;
        int64_t ts = at(0, 9, 0), wm = CLM_NO_TS;
        size_t len = 0, most = 0, checkpoints = 0;
        clm_deltas_init(&da);
        clm_deltas_init(&db);
        for (int i = 0; i < 300; i++) {
            if (i % 23 == 5) { /* checkpoint: b restarts from a's record */
                clm_customer_free(b);
                b = checkpoint(a, &len);
                assert_same(a, b);
                most = len > most ? len : most;
                checkpoints++;
            }
            clm_event ev = stream_event(i, &ts);
            wm = ev.ts_ms > wm ? ev.ts_ms : wm;
            clm_pos pos = { 0, 7, 1000 + i };
            int ra = clm_customer_apply_at(a, &ev, &pos, &o, &da, wm);
            if (b) {
                int rb = clm_customer_apply_at(b, &ev, &pos, &o, &db, wm);
                assert_int_equal(ra, rb);
                assert_same(a, b);
                assert_int_equal(da.nalerts, db.nalerts);
            }
            clm_deltas_reset(&da);
            clm_deltas_reset(&db);
        }
        /* time passes with no events: both expire alike */
        assert_int_equal(clm_customer_expire(a, &o, &da, wm + 200 * DAY_MS),
                         clm_customer_expire(b, &o, &db, wm + 200 * DAY_MS));
        assert_same(a, b);
        clm_customer_free(b);
        b = checkpoint(a, &len);
        assert_same(a, b);
        print_message("# run %d: %zu checkpoints, largest record %zu bytes, final %zu bytes "
                      "(%u ids)\n", run, checkpoints, most, len, a->dedup.n);
        clm_deltas_release(&da);
        clm_deltas_release(&db);
        clm_customer_free(a);
        clm_customer_free(b);
    }
    clm_stages_free(model);
}

/* The stored form of a partition's customer-less event ids (anon_ids:<topic>
 * of the progress hash): 16 bytes an entry, hash then event time, int64
 * little-endian, oldest first. */
static void test_anon_ids(void **state)
{
    (void)state;
    clm_anon_ids a = { .n = 2, .e = { { 0x0102030405060708ull, 1 }, { UINT64_MAX, INT64_MAX } } };
    char buf[16 * CLM_ANON_IDS_MAX];
    static const char want[32] = "\x08\x07\x06\x05\x04\x03\x02\x01\x01\0\0\0\0\0\0\0"
                                 "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
    assert_int_equal(clm_anon_ids_encode(&a, buf), 32);
    assert_memory_equal(buf, want, 32);
    clm_anon_ids b;
    assert_int_equal(clm_anon_ids_decode(buf, 32, &b), 0);
    assert_int_equal(b.n, 2);
    assert_true(b.e[0].hash == a.e[0].hash && b.e[0].ts_ms == 1);
    assert_true(b.e[1].hash == UINT64_MAX && b.e[1].ts_ms == INT64_MAX);
    assert_int_equal(clm_anon_ids_decode(buf, 0, &b), 0);
    assert_int_equal(b.n, 0);
    /* not whole entries, out of time order, too many */
    assert_int_equal(clm_anon_ids_decode(buf, 31, &b), -EPROTO);
    clm_anon_ids r = { .n = 2, .e = { { 1, 5 }, { 2, 4 } } };
    clm_anon_ids_encode(&r, buf);
    assert_int_equal(clm_anon_ids_decode(buf, 32, &b), -EPROTO);
    static char big[16 * (CLM_ANON_IDS_MAX + 1)];
    assert_int_equal(clm_anon_ids_decode(big, sizeof(big), &b), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_roundtrip),
        cmocka_unit_test(test_fresh_is_two_bytes),
        cmocka_unit_test(test_realistic_size),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_version_2),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_lives_on),
        cmocka_unit_test(test_anon_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
