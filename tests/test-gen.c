/* tests/test-gen.c - the lifecycle stream generator (tools/gen.h). */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include <cmocka.h>

#include "tools/gen.h"

#define HOUR_MS 3600000LL

static clm_gen *make(const clm_gen_opts *o)
{
    clm_gen *g = NULL;
    char err[128];
    int r = clm_gen_new(o, &g, err, sizeof(err));
    if (r)
        fail_msg("clm_gen_new: %s", err);
    return g;
}

/* ---- a validator for the v1 event contract ------------------------------- */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Strict "YYYY-MM-DDTHH:MM:SS[.fff]Z" (the form the generator writes). Returns
 * 0 and sets *ms, or -1. */
static int parse_ts(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, frac = 0, n = 0;
    if (strlen(s) != 24 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%n", &y, &mo, &d, &h, &mi, &sec, &frac, &n) != 7 ||
        n != 23 || s[23] != 'Z')
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 || sec > 59)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

/* Returns NULL for a valid event (and its time in *ts), else the reason name
 * a v1 decoder gives, checking in the contract's order. */
static const char *validate(const char *v, size_t len, const char *key, size_t klen, int64_t *ts)
{
    json_error_t jerr;
    json_t *o = json_loadb(v, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    const char *why = NULL;
    if (!o)
        return json_error_code(&jerr) == json_error_invalid_utf8 ? "invalid_utf8" : "invalid_json";
    if (!json_is_object(o)) {
        why = "not_object";
        goto out;
    }
    json_t *type = json_object_get(o, "type"), *cid = json_object_get(o, "customer_id"),
           *eid = json_object_get(o, "event_id"), *t = json_object_get(o, "ts"),
           *amount = json_object_get(o, "amount"), *score = json_object_get(o, "score"),
           *dur = json_object_get(o, "duration_s");
    if (!type) {
        why = "missing_field";
        goto out;
    }
    if (!json_is_string(type)) {
        why = "wrong_type";
        goto out;
    }
    const char *tn = json_string_value(type);
    if (!*tn || strlen(tn) > 64) {
        why = "bad_type";
        goto out;
    }
    bool mkt = !strcmp(tn, "marketing_spend");
    if (!cid && !mkt) {
        why = "missing_field";
        goto out;
    }
    if (cid && !json_is_string(cid)) {
        why = "wrong_type";
        goto out;
    }
    if (cid && (json_string_length(cid) == 0 || json_string_length(cid) > 128)) {
        why = "bad_customer_id";
        goto out;
    }
    if (eid && !json_is_string(eid)) {
        why = "wrong_type";
        goto out;
    }
    if (!t) {
        why = "missing_field";
        goto out;
    }
    if (json_is_integer(t)) {
        if (json_integer_value(t) < 0 || json_integer_value(t) > 253402300799999LL) {
            why = "bad_timestamp";
            goto out;
        }
        *ts = json_integer_value(t);
    } else if (json_is_string(t)) {
        if (parse_ts(json_string_value(t), ts) < 0) {
            why = "bad_timestamp";
            goto out;
        }
    } else {
        why = "wrong_type";
        goto out;
    }
    if (amount && !json_is_number(amount)) {
        why = "wrong_type";
        goto out;
    }
    if (amount && (json_number_value(amount) < 0 || json_number_value(amount) > 1e12)) {
        why = "bad_amount";
        goto out;
    }
    bool csat = !strcmp(tn, "csat_response"), nps = !strcmp(tn, "nps_response");
    if (score && (csat || nps)) {
        if (!json_is_integer(score)) {
            why = "wrong_type";
            goto out;
        }
        json_int_t s = json_integer_value(score);
        if (csat ? (s < 1 || s > 5) : (s < 0 || s > 10)) {
            why = "bad_score";
            goto out;
        }
    }
    if (dur && !json_is_number(dur)) {
        why = "wrong_type";
        goto out;
    }
    if (dur && (json_number_value(dur) < 0 || json_number_value(dur) > 31536000.0)) {
        why = "bad_duration";
        goto out;
    }
    if (cid && (klen != json_string_length(cid) || memcmp(key, json_string_value(cid), klen) != 0))
        why = "key_mismatch";
out:
    json_decref(o);
    return why;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    assert_int_equal(o.seed, 42);
    assert_int_equal(o.customers, 1000);
    assert_int_equal(o.events, 20000);
    /* 2026-01-01: 56 years of 365 days + 14 leap days (1972..2024) = 20454 days
     * * 86400000 ms */
    assert_int_equal(o.start_ms, 20454LL * 86400000LL);
    assert_int_equal(o.days, 120);
    assert_true(o.malformed_rate == 0.0);
    assert_true(o.dup_rate == 0.002);
    assert_true(o.ooo_rate == 0.01);
    assert_int_equal(o.ooo_max_ms, HOUR_MS);
    assert_true(o.anon_rate == 0.0); /* the pinned digest below is of such a stream */
}

static void test_rejects_bad_options(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen *g = (clm_gen *)&o; /* sentinel: must stay untouched */
    char err[128];

    clm_gen_opts_default(&o);
    o.customers = 0;
    assert_int_equal(clm_gen_new(&o, &g, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "customers must be 1 .. 2147483647");
    assert_ptr_equal(g, (clm_gen *)&o);

    clm_gen_opts_default(&o);
    o.dup_rate = 1.5;
    assert_int_equal(clm_gen_new(&o, &g, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "malformed, dup, ooo and anon rates must lie in [0, 1]");

    clm_gen_opts_default(&o);
    o.anon_rate = -0.1;
    assert_int_equal(clm_gen_new(&o, &g, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "malformed, dup, ooo and anon rates must lie in [0, 1]");
    assert_ptr_equal(g, (clm_gen *)&o);

    clm_gen_opts_default(&o);
    o.days = 0;
    assert_int_equal(clm_gen_new(&o, &g, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "days must be 1 .. 36500");
    assert_ptr_equal(g, (clm_gen *)&o);
}

static uint64_t digest(uint64_t seed, int n)
{
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.seed = seed;
    o.malformed_rate = 0.01;
    clm_gen *g = make(&o);
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    clm_gen_msg m;
    for (int i = 0; i < n && clm_gen_next(g, &m) == 1; i++) {
        XXH64_update(st, m.key, m.key_len);
        XXH64_update(st, "\t", 1);
        XXH64_update(st, m.value, m.value_len);
        XXH64_update(st, "\n", 1);
    }
    uint64_t d = XXH64_digest(st);
    XXH64_freeState(st);
    clm_gen_free(g);
    return d;
}

static void test_deterministic(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    clm_gen *g = make(&o);
    clm_gen_msg m;
    assert_int_equal(clm_gen_next(g, &m), 1);
    /* Seed 42 opens with the paid_search spend of day one at 02:00:45.760. */
    const char *first = "{\"event_id\":\"e-1\",\"type\":\"marketing_spend\",\"ts\":\"2026-01-01T02:00:45.760Z\","
                        "\"channel\":\"paid_search\",\"amount\":506.25,\"currency\":\"EUR\"}";
    assert_int_equal(m.value_len, strlen(first));
    assert_memory_equal(m.value, first, m.value_len);
    assert_int_equal(m.key_len, 15);
    assert_memory_equal(m.key, "mkt:paid_search", 15);
    /* 2026-01-01 (20454 days) + 2 h 0 min 45.760 s = 1767225600000 + 7245760 */
    assert_int_equal(m.ts_ms, 1767232845760LL);
    clm_gen_free(g);

    /* The same seed gives the same bytes; the digest of the first 10000
     * messages is pinned so that a change on any machine shows. */
    uint64_t a = digest(42, 10000), b = digest(42, 10000), c = digest(43, 10000);
    assert_true(a == b);
    assert_true(a != c);
    assert_true(a == UINT64_C(0x9aea04802ab64efc));
}

static int64_t count_all(int64_t customers, int64_t events)
{
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = customers;
    o.events = events;
    o.malformed_rate = 0.05;
    clm_gen *g = make(&o);
    clm_gen_msg m;
    int64_t n = 0;
    while (clm_gen_next(g, &m) == 1)
        n++;
    assert_int_equal(clm_gen_next(g, &m), 0); /* stays at the end */
    clm_gen_free(g);
    return n;
}

static void test_exact_count(void **state)
{
    (void)state;
    assert_int_equal(count_all(1000, 20000), 20000);
    assert_int_equal(count_all(1000, 0), 0);
    assert_int_equal(count_all(1000, 7), 7);
    assert_int_equal(count_all(3, 5000), 5000);
}

/* Customer number of "c-<n>", or 0. */
static long cust_no(const char *s)
{
    return strncmp(s, "c-", 2) == 0 ? strtol(s + 2, NULL, 10) : 0;
}

typedef struct stats {
    int64_t total, malformed, dups, late, ooo, int_ts, mkt, cancels;
    int64_t max_lateness;
    int64_t visitors, leads, contacted, buyers, direct;
    int64_t size_le_180, size_ge_100;
    int max_events, median_events;
} stats;

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Runs the default 20k-event / 1k-customer stream with 1% malformed and
 * checks every message on the way. */
static void run_default(stats *s)
{
    enum { C = 1000, E = 20000 };
    static unsigned char visited[C + 1], signed_up[C + 1], contacted[C + 1], bought[C + 1];
    static int per[C + 1];
    static uint64_t hash_of[E + 1]; /* by event number: XXH64 of the first bytes seen */
    memset(visited, 0, sizeof(visited));
    memset(signed_up, 0, sizeof(signed_up));
    memset(contacted, 0, sizeof(contacted));
    memset(bought, 0, sizeof(bought));
    memset(per, 0, sizeof(per));
    memset(hash_of, 0, sizeof(hash_of));
    memset(s, 0, sizeof(*s));

    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.malformed_rate = 0.01;
    clm_gen *g = make(&o);
    clm_gen_msg m;
    int64_t max_ts = 0;
    while (clm_gen_next(g, &m) == 1) {
        s->total++;
        assert_null(memchr(m.value, '\n', m.value_len));
        if (m.malformed) {
            int64_t ts;
            const char *why = validate(m.value, m.value_len, m.key, m.key_len, &ts);
            assert_non_null(why);
            assert_string_equal(why, m.reason);
            s->malformed++;
            continue;
        }
        assert_null(m.reason);
        int64_t ts = -1;
        const char *why = validate(m.value, m.value_len, m.key, m.key_len, &ts);
        if (why)
            fail_msg("valid message rejected (%s): %.*s", why, (int)m.value_len, m.value);
        assert_int_equal(ts, m.ts_ms);

        json_t *o2 = json_loadb(m.value, m.value_len, 0, NULL);
        const char *eid = json_string_value(json_object_get(o2, "event_id"));
        const char *type = json_string_value(json_object_get(o2, "type"));
        json_t *cid = json_object_get(o2, "customer_id");
        assert_non_null(eid);
        assert_int_equal(strncmp(eid, "e-", 2), 0);
        long seq = strtol(eid + 2, NULL, 10);
        assert_true(seq >= 1 && seq <= E);
        uint64_t h = XXH64(m.value, m.value_len, 0);
        if (m.duplicate) {
            /* a re-send: the same bytes as the event with that id */
            assert_true(hash_of[seq] == h);
            s->dups++;
            json_decref(o2);
            continue;
        }
        assert_true(hash_of[seq] == 0); /* event ids are unique */
        hash_of[seq] = h;

        s->late += m.late;
        if (ts < max_ts) {
            s->ooo++;
            if (max_ts - ts > s->max_lateness)
                s->max_lateness = max_ts - ts;
        } else {
            max_ts = ts;
        }
        s->int_ts += json_is_integer(json_object_get(o2, "ts"));
        s->size_ge_100 += m.value_len >= 100;
        s->size_le_180 += m.value_len <= 180;
        if (!strcmp(type, "marketing_spend")) {
            const char *ch = json_string_value(json_object_get(o2, "channel"));
            assert_null(cid);
            assert_non_null(ch);
            assert_int_equal(m.key_len, 4 + strlen(ch));
            assert_memory_equal(m.key, "mkt:", 4);
            assert_memory_equal(m.key + 4, ch, strlen(ch));
            s->mkt++;
        } else {
            long n = cust_no(json_string_value(cid));
            assert_true(n >= 1 && n <= C);
            per[n]++;
            visited[n] |= !strcmp(type, "visit");
            signed_up[n] |= !strcmp(type, "signup");
            contacted[n] |= !strcmp(type, "lead_contacted");
            bought[n] |= !strcmp(type, "purchase");
            s->cancels += !strcmp(type, "cancel");
        }
        json_decref(o2);
    }
    clm_gen_free(g);
    for (int n = 1; n <= C; n++) {
        s->visitors += visited[n];
        s->leads += signed_up[n];
        s->contacted += contacted[n];
        s->buyers += bought[n];
        s->direct += bought[n] && !signed_up[n];
    }
    qsort(per + 1, C, sizeof(int), cmp_int);
    s->median_events = per[C / 2];
    s->max_events = per[C];
}

static void test_default_stream_shape(void **state)
{
    (void)state;
    stats s;
    run_default(&s);
    assert_int_equal(s.total, 20000);
    /* Every customer arrives within the first 85% of the span and opens
     * with a visit, and 20000 events reach the span's end: all 1000 appear. */
    assert_int_equal(s.visitors, 1000);
    /* leads: 35% of 1000 = 350, sd sqrt(1000*.35*.65) = 15; bounds +-3.3 sd */
    assert_in_range(s.leads, 300, 400);
    /* contacted: 40% of ~350 = 140, sd ~9 */
    assert_in_range(s.contacted, 105, 175);
    /* buyers: 0.35*0.45 + 0.05 = 20.75% -> 207.5, sd ~12.8 */
    assert_in_range(s.buyers, 165, 250);
    assert_true(s.buyers - s.direct < s.leads);
    /* direct buyers: 5% -> 50, sd 6.9 */
    assert_in_range(s.direct, 28, 75);
    /* cancels: 10% of ~207 buyers = ~21, sd ~4.3 */
    assert_in_range(s.cancels, 8, 36);
    /* marketing: 4 channels x 1 per day over the ~120-135 days the stream spans */
    assert_in_range(s.mkt, 440, 560);
    /* malformed: 1% of the 99.8% non-duplicate draws = ~200, sd 14 */
    assert_in_range(s.malformed, 150, 250);
    /* duplicates: 0.2% of 20000 = 40, sd 6.3 */
    assert_in_range(s.dups, 20, 60);
    /* late: 1% of ~19760 valid events = ~198, sd 14; an event overtaken by
     * a newer one while held back counts as out of order (most of them) */
    assert_in_range(s.late, 150, 250);
    assert_in_range(s.ooo, 100, s.late);
    assert_true(s.max_lateness > 0 && s.max_lateness <= HOUR_MS);
    /* integer timestamps: 10% of ~19760 = ~1976, sd 42 */
    assert_in_range(s.int_ts, 1800, 2150);
    /* sizes: most messages are 100..180 bytes */
    int64_t valid = s.total - s.malformed - s.dups;
    assert_true(s.size_ge_100 > valid * 8 / 10);
    assert_true(s.size_le_180 > valid * 95 / 100);
    /* heavy tail: a typical person has a handful of events, the busiest
     * hundreds (median of 3 = visits + signup; lognormal buyer rates) */
    assert_in_range(s.median_events, 1, 6);
    assert_true(s.max_events > 40 * s.median_events);
}

static void test_few_events_subset(void **state)
{
    (void)state;
    /* 1000 events for 100000 customers: only the earliest arrivals appear,
     * and they are the lowest customer numbers (ids follow arrival order). */
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = 100000;
    o.events = 1000;
    o.dup_rate = 0;
    o.ooo_rate = 0;
    clm_gen *g = make(&o);
    static unsigned char seen[100001];
    memset(seen, 0, sizeof(seen));
    long distinct = 0, max_no = 0;
    clm_gen_msg m;
    while (clm_gen_next(g, &m) == 1) {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)m.key_len, m.key);
        long n = cust_no(key);
        if (n && !seen[n]++) {
            distinct++;
            if (n > max_no)
                max_no = n;
        }
    }
    clm_gen_free(g);
    assert_in_range(distinct, 100, 999);
    assert_int_equal(max_no, distinct);
}

/* Event time of a parsed event: RFC 3339 text or integer epoch ms. */
static int64_t event_ts(json_t *o)
{
    json_t *t = json_object_get(o, "ts");
    int64_t ms = -1;
    if (json_is_integer(t))
        return (int64_t)json_integer_value(t);
    assert_true(json_is_string(t));
    assert_int_equal(parse_ts(json_string_value(t), &ms), 0);
    return ms;
}

/* anon_rate 1: everybody starts anonymous. Each person's events are "a-<n>"
 * visits until one identify (customer "c-<n>", anonymous_id "a-<n>", keyed
 * by the known id), followed a second later by a signup or purchase as
 * "c-<n>"; after it the known id, but for visits from the anonymous
 * device. Nobody is "c-<n>" before identifying. */
static void test_anonymous_people(void **state)
{
    (void)state;
    enum { N = 400 };
    static int64_t identified_at[N + 1];
    static bool pending[N + 1];
    static long anon_before[N + 1], anon_after[N + 1];
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = N;
    o.events = 40000;
    o.dup_rate = 0;
    o.ooo_rate = 0;
    o.anon_rate = 1.0;
    memset(identified_at, 0, sizeof(identified_at));
    memset(pending, 0, sizeof(pending));
    memset(anon_before, 0, sizeof(anon_before));
    memset(anon_after, 0, sizeof(anon_after));
    clm_gen *g = make(&o);
    clm_gen_msg m;
    long identifies = 0, known_events = 0;
    while (clm_gen_next(g, &m) == 1) {
        json_error_t jerr;
        json_t *ev = json_loadb(m.value, m.value_len, 0, &jerr);
        assert_non_null(ev);
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *cid = json_string_value(json_object_get(ev, "customer_id"));
        assert_non_null(type);
        if (!cid) {
            assert_string_equal(type, "marketing_spend");
            json_decref(ev);
            continue;
        }
        assert_int_equal(m.key_len, strlen(cid));
        assert_memory_equal(m.key, cid, m.key_len);
        long n = strtol(cid + 2, NULL, 10);
        assert_true(n >= 1 && n <= N);
        int64_t ts = event_ts(ev);
        if (cid[0] == 'a') {
            assert_string_equal(type, "visit");
            if (identified_at[n])
                anon_after[n]++;
            else
                anon_before[n]++;
        } else if (strcmp(type, "identify") == 0) {
            char anon[32];
            snprintf(anon, sizeof(anon), "a-%ld", n);
            assert_int_equal(cid[0], 'c');
            assert_string_equal(json_string_value(json_object_get(ev, "anonymous_id")), anon);
            assert_int_equal(identified_at[n], 0);
            assert_true(anon_before[n] > 0); /* it browsed anonymously first */
            identified_at[n] = ts;
            pending[n] = true;
            identifies++;
        } else {
            assert_int_equal(cid[0], 'c');
            assert_true(identified_at[n] != 0);
            if (pending[n]) {
                assert_true(strcmp(type, "signup") == 0 || strcmp(type, "purchase") == 0);
                assert_int_equal(ts, identified_at[n] + 1000);
                pending[n] = false;
            }
            known_events++;
        }
        json_decref(ev);
    }
    clm_gen_free(g);
    long stayed_anon = 0, back_anon = 0;
    for (int n = 1; n <= N; n++) {
        stayed_anon += anon_before[n] > 0 && !identified_at[n];
        back_anon += anon_after[n] > 0;
    }
    /* 40% of people sign up or buy directly (gen.h): about 160 of 400 */
    assert_true(identifies > 120 && identifies < 200);
    assert_true(stayed_anon > 180);
    assert_true(back_anon > 10);
    assert_true(known_events > identifies);
}

/* A share of people start anonymous; with the same seed the others'
 * ids are unchanged in form. */
static void test_anonymous_share(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.customers = 1000;
    o.events = 30000;
    o.anon_rate = 0.25;
    clm_gen *g = make(&o);
    clm_gen_msg m;
    static bool anon[1001];
    memset(anon, 0, sizeof(anon));
    long identifies = 0;
    while (clm_gen_next(g, &m) == 1) {
        if (m.key_len > 2 && m.key[0] == 'a' && m.key[1] == '-') {
            char id[32];
            snprintf(id, sizeof(id), "%.*s", (int)m.key_len, m.key);
            long n = strtol(id + 2, NULL, 10);
            assert_true(n >= 1 && n <= 1000);
            anon[n] = true;
        }
        if (memmem(m.value, m.value_len, "\"type\":\"identify\"", 17))
            identifies++;
    }
    clm_gen_free(g);
    long people = 0;
    for (int n = 1; n <= 1000; n++)
        people += anon[n];
    /* 25% of 1000 people; about 40% of those identify */
    assert_true(people > 200 && people < 300);
    assert_true(identifies > 60 && identifies < 140);
}

static void test_malformed_reasons(void **state)
{
    (void)state;
    /* Half of 6000 messages malformed: ~3000 over 12 kinds, ~250 each, so
     * every reason shows up; each must break the rule it names. */
    static const char *const reasons[] = {"invalid_json", "not_object", "wrong_type", "missing_field",
                                          "bad_customer_id", "bad_timestamp", "bad_amount", "bad_score",
                                          "bad_duration", "invalid_utf8", "key_mismatch"};
    int seen[11] = {0};
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.events = 6000;
    o.malformed_rate = 0.5;
    clm_gen *g = make(&o);
    clm_gen_msg m;
    int malformed = 0;
    while (clm_gen_next(g, &m) == 1) {
        assert_null(memchr(m.value, '\n', m.value_len));
        if (!m.malformed)
            continue;
        malformed++;
        int64_t ts;
        const char *why = validate(m.value, m.value_len, m.key, m.key_len, &ts);
        if (!why || strcmp(why, m.reason) != 0)
            fail_msg("expected %s, validator says %s: %.*s", m.reason, why ? why : "valid", (int)m.value_len,
                     m.value);
        for (int i = 0; i < 11; i++)
            seen[i] += !strcmp(m.reason, reasons[i]);
        assert_true(m.key_len > 2 && !memcmp(m.key, "c-", 2));
    }
    clm_gen_free(g);
    /* 50% of 6000 x 0.998 non-duplicate = ~2994, sd 39 */
    assert_in_range(malformed, 2850, 3150);
    for (int i = 0; i < 11; i++)
        if (seen[i] < 100)
            fail_msg("reason %s seen %d times", reasons[i], seen[i]);
}

/* With traits the stream is the stream without them plus the trait fields:
 * message by message, the same JSON once "properties" is removed (and, on a
 * plan change, "plan"); every signup has a country and a company size. */
static void test_traits(void **state)
{
    (void)state;
    clm_gen_opts o;
    clm_gen_opts_default(&o);
    o.events = 20000;
    o.malformed_rate = 0.01;
    clm_gen *plain = make(&o);
    o.traits = true;
    clm_gen *traits = make(&o);
    clm_gen_msg a, b;
    int64_t signups = 0, plan_changes = 0, sizes = 0;

    while (clm_gen_next(plain, &a) == 1) {
        assert_int_equal(clm_gen_next(traits, &b), 1);
        assert_int_equal(a.malformed, b.malformed);
        assert_int_equal(a.key_len, b.key_len);
        assert_memory_equal(a.key, b.key, a.key_len);
        if (a.malformed) {
            assert_int_equal(a.value_len, b.value_len);
            assert_memory_equal(a.value, b.value, a.value_len);
            continue;
        }
        json_t *ja = json_loadb(a.value, a.value_len, 0, NULL), *jb = json_loadb(b.value, b.value_len, 0, NULL);
        assert_true(ja && jb);
        const char *type = json_string_value(json_object_get(jb, "type"));
        json_t *props = json_object_get(jb, "properties");
        if (strcmp(type, "signup") == 0) {
            signups++;
            assert_true(json_is_object(props));
            const char *cc = json_string_value(json_object_get(props, "country"));
            assert_true(cc && strlen(cc) == 2);
            json_int_t size = json_integer_value(json_object_get(props, "company_size"));
            assert_true(size >= 1 && size <= 1024);
        }
        if (strcmp(type, "upgrade") == 0 || strcmp(type, "downgrade") == 0) {
            plan_changes++;
            assert_string_equal(json_string_value(json_object_get(jb, "plan")),
                                json_string_value(json_object_get(jb, "to")));
            json_object_del(jb, "plan");
        }
        if (props) {
            sizes += json_object_get(props, "company_size") != NULL;
            json_object_del(jb, "properties");
        }
        assert_true(json_equal(ja, jb));
        json_decref(ja);
        json_decref(jb);
    }
    assert_int_equal(clm_gen_next(traits, &b), 0);
    print_message("# %lld signups, %lld plan changes\n", (long long)signups, (long long)plan_changes);
    assert_true(signups >= 50 && plan_changes >= 5 && sizes == signups + plan_changes);
    clm_gen_free(plain);
    clm_gen_free(traits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejects_bad_options),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_exact_count),
        cmocka_unit_test(test_default_stream_shape),
        cmocka_unit_test(test_few_events_subset),
        cmocka_unit_test(test_malformed_reasons),
        cmocka_unit_test(test_traits),
        cmocka_unit_test(test_anonymous_people),
        cmocka_unit_test(test_anonymous_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
