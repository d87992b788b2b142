/* tests/test-paging.c - the event-time paging limit (daemon/paging.h):
 * windows decided only once the watermark has passed them, the same
 * decisions and digest whatever order the alerts arrive in, the rate limit
 * and its burst, resolved alerts never held, digests naming a bounded
 * number of customers, and a window taken up by another owner from what
 * the flushes stored. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "daemon/paging.h"

#define MIN 60000LL
#define T0 1735732800000LL /* 2025-01-01T12:00:00Z */

static clm_alert_names NAMES = { .critical_e4 = 9000, .warning_e4 = 7000 };

static clm_paging_opts opts(double rate, int burst, int digest_customers)
{
    return (clm_paging_opts){ .rate_per_s = rate, .burst = burst, .window_ms = 60 * MIN,
                              .digest_customers = digest_customers, .names = &NAMES };
}

/* A churn_risk (or other kind) alert of customer `id` at paging time t. */
static clm_alert alert(const char *id, clm_alert_kind kind, int64_t t, int risk_e4)
{
    clm_alert a;
    memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.page_ms = t;
    a.event_ts = t;
    a.incident_at = t;
    a.risk_e4 = risk_e4;
    a.stage = -1;
    a.id_len = (uint8_t)strlen(id);
    memcpy(a.customer_id, id, a.id_len + 1);
    return a;
}

/* What a close reported, as text: "P <id>" per page, "D <doc without
 * emitted_at>" per digest, "X <id>" per decided alert, "T <tat>". */
typedef struct trace {
    char *s;
    size_t len;
} trace;

static void append(trace *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(trace *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[8192];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    l->s = realloc(l->s, l->len + (size_t)n + 2);
    memcpy(l->s + l->len, buf, (size_t)n);
    l->len += (size_t)n;
    l->s[l->len++] = '\n';
    l->s[l->len] = '\0';
}

static int on_page(void *ctx, const char *id, const char *json)
{
    (void)json;
    append(ctx, "P %s", id);
    return 0;
}

static int on_digest(void *ctx, const char *id, const char *json)
{
    char *s = strdup(json), *p = strstr(s, "\"emitted_at\":\"");
    assert_non_null(p);
    char *end = strchr(p + 14, '"');
    memmove(p, end + 2, strlen(end + 2) + 1);
    append(ctx, "D %s %s", id, s);
    free(s);
    return 0;
}

static int on_done(void *ctx, const char *id)
{
    append(ctx, "X %s", id);
    return 0;
}

static int on_state(void *ctx, int64_t tat)
{
    append(ctx, "T %" PRId64, tat);
    return 0;
}

static void add(clm_paging *p, const clm_alert *a)
{
    char id[CLM_ALERT_ID_LEN + 1];
    snprintf(id, sizeof(id), "%032x", (unsigned)(a->page_ms / MIN) * 1000u + (unsigned)a->customer_id[1]);
    assert_int_equal(clm_paging_add(p, a, id, "{\"doc\":1}"), 0);
}

static int close_into(clm_paging *p, const clm_paging_opts *o, int64_t wm, trace *l)
{
    clm_paging_sink sink = { on_page, on_digest, on_done, on_state, l };
    return clm_paging_close(p, o, wm, 0, &sink);
}

static size_t count(const trace *l, char c)
{
    size_t n = 0;
    for (const char *s = l->s; s && *s; s = strchr(s, '\n') + 1)
        n += *s == c;
    return n;
}

/* ten customers, one alert a minute from 12:00, and c9's resolve at 12:30 */
static void fill(clm_paging *p, bool reverse)
{
    for (int k = 0; k < 10; k++) {
        int i = reverse ? 9 - k : k;
        char id[4] = { 'c', (char)('0' + i), 0 };
        clm_alert a = alert(id, CLM_ALERT_CHURN_RISK, T0 + i * MIN, 7000 + 100 * i);
        add(p, &a);
        if (i == 9) {
            clm_alert r = alert("c9", CLM_ALERT_RESOLVED, T0 + 30 * MIN, 5000);
            add(p, &r);
        }
    }
}

static void test_window_waits_for_watermark(void **state)
{
    (void)state;
    clm_paging *p = clm_paging_new(3);
    fill(p, false);
    clm_paging_opts o = opts(1000, 1000, 20);
    trace l = { 0 };
    assert_int_equal(close_into(p, &o, CLM_NO_TS, &l), 0);
    assert_int_equal(close_into(p, &o, T0 + 60 * MIN - 1, &l), 0); /* 12:00-13:00 not passed */
    assert_null(l.s);
    assert_int_equal(clm_paging_pending(p), 11);
    assert_int_equal(close_into(p, &o, T0 + 60 * MIN, &l), 11);
    assert_int_equal(count(&l, 'P'), 11); /* all under the limit */
    assert_int_equal(count(&l, 'D'), 0);
    assert_int_equal(count(&l, 'X'), 11);
    assert_int_equal(count(&l, 'T'), 1);
    assert_int_equal(clm_paging_pending(p), 0);
    free(l.s);
    clm_paging_free(p);
}

/* An erased customer's alerts leave the window: c9's two (churn_risk and
 * resolved) never page, the other nine do; forgetting an id without
 * alerts, or a prefix of one, drops nothing. */
static void test_forget(void **state)
{
    (void)state;
    clm_paging *p = clm_paging_new(3);
    fill(p, false);
    assert_int_equal(clm_paging_forget(p, "c", 1), 0);
    assert_int_equal(clm_paging_forget(p, "c10", 3), 0);
    assert_int_equal(clm_paging_forget(p, "c9", 2), 2);
    assert_int_equal(clm_paging_pending(p), 9);
    clm_paging_opts o = opts(1000, 1000, 20);
    trace l = { 0 };
    assert_int_equal(close_into(p, &o, T0 + 60 * MIN, &l), 9);
    assert_int_equal(count(&l, 'P'), 9);
    assert_int_equal(count(&l, 'X'), 9);
    char c9[CLM_ALERT_ID_LEN + 1];
    snprintf(c9, sizeof(c9), "%032x", 9u * 1000u + (unsigned)'9');
    assert_null(strstr(l.s, c9));
    free(l.s);
    clm_paging_free(p);
}

static void test_order_independent(void **state)
{
    (void)state;
    clm_paging *a = clm_paging_new(3), *b = clm_paging_new(3);
    fill(a, false);
    fill(b, true);
    clm_paging_opts o = opts(1.0 / 600, 3, 4); /* one per 10 min, burst 3 */
    trace la = { 0 }, lb = { 0 };
    assert_int_equal(close_into(a, &o, T0 + 2 * 60 * MIN, &la), 11);
    assert_int_equal(close_into(b, &o, T0 + 2 * 60 * MIN, &lb), 11);
    assert_string_equal(la.s, lb.s);
    /* c0, c1, c2 page (burst), the rest held but the resolve */
    assert_int_equal(count(&la, 'P'), 4);
    assert_int_equal(count(&la, 'D'), 1);
    const char *d = strstr(la.s, "D ");
    assert_non_null(strstr(d, "\"held\":7,\"more\":3"));
    assert_non_null(strstr(d, "\"customers\":[{\"customer_id\":\"c3\""));
    assert_non_null(strstr(d, "\"severity\":\"warning\"")); /* highest held: c9's 0.79 */
    free(la.s);
    free(lb.s);
    clm_paging_free(a);
    clm_paging_free(b);
}

static void test_rate_and_carry_over(void **state)
{
    (void)state;
    clm_paging *p = clm_paging_new(0);
    clm_paging_opts o = opts(1.0 / 60, 1, 20); /* one a minute, no burst */
    /* two alerts in the same second, then one 30 s later, one 2 min later */
    clm_alert a1 = alert("a1", CLM_ALERT_CHURN_RISK, T0, 7000);
    clm_alert a2 = alert("a2", CLM_ALERT_CHURN_RISK, T0, 7000);
    clm_alert a3 = alert("a3", CLM_ALERT_CHURN_RISK, T0 + 30000, 7000);
    clm_alert a4 = alert("a4", CLM_ALERT_CHURN_RISK, T0 + 2 * MIN, 7000);
    add(p, &a1);
    add(p, &a2);
    add(p, &a3);
    add(p, &a4);
    trace l = { 0 };
    assert_int_equal(close_into(p, &o, T0 + 60 * MIN, &l), 4);
    assert_int_equal(count(&l, 'P'), 2); /* a1, a4 */
    assert_non_null(strstr(l.s, "\"held\":2,"));
    free(l.s);
    /* the state carries over: a5 at the next window's start pages (its
     * theoretical time passed), a6 30 s later does not */
    clm_alert a5 = alert("a5", CLM_ALERT_CHURN_RISK, T0 + 60 * MIN, 7000);
    clm_alert a6 = alert("a6", CLM_ALERT_CHURN_RISK, T0 + 60 * MIN + 30000, 7000);
    add(p, &a5);
    add(p, &a6);
    l = (trace){ 0 };
    assert_int_equal(close_into(p, &o, T0 + 120 * MIN, &l), 2);
    assert_int_equal(count(&l, 'P'), 1);
    assert_int_equal(count(&l, 'D'), 1);
    free(l.s);
    clm_paging_stats st;
    clm_paging_get_stats(p, &st);
    assert_int_equal(st.paged, 3);
    assert_int_equal(st.held, 3);
    assert_int_equal(st.digests, 2);
    clm_paging_free(p);
}

/* What the flushes stored ("a:<id>" -> "<page_ms>\t<doc>", "tat") restores
 * the same window in another owner. */
static void test_restore(void **state)
{
    (void)state;
    clm_paging_opts o = opts(1.0 / 600, 1, 20);
    clm_paging *a = clm_paging_new(5), *b = clm_paging_new(5);
    static const char *docs[] = {
        "{\"alert_id\":\"00000000000000000000000000000001\",\"kind\":\"churn_risk\","
        "\"customer_id\":\"x1\",\"incident\":\"0000000000000000000000000000000a\","
        "\"risk\":0.75,\"event_ts\":\"2025-01-01T12:00:00.000Z\"}",
        "{\"alert_id\":\"00000000000000000000000000000002\",\"kind\":\"churned\","
        "\"customer_id\":\"x2\",\"incident\":\"0000000000000000000000000000000b\","
        "\"risk\":0.95,\"event_ts\":\"2025-01-01T12:01:00.000Z\"}",
    };
    char err[256], field[64], value[1024];
    for (int i = 0; i < 2; i++) {
        int fl = snprintf(field, sizeof(field), "a:%032d", i + 1);
        int vl = snprintf(value, sizeof(value), "%lld\t%s", T0 + i * MIN, docs[i]);
        assert_int_equal(clm_paging_restore(b, field, (size_t)fl, value, (size_t)vl, err, sizeof(err)), 0);
        clm_alert al = alert(i ? "x2" : "x1", i ? CLM_ALERT_CHURNED : CLM_ALERT_CHURN_RISK,
                             T0 + i * MIN, i ? 9500 : 7500);
        assert_int_equal(clm_paging_add(a, &al, field + 2, docs[i]), 0);
    }
    char tat[32];
    /* the limit's next slot 30 s after 12:00: x1 is held, x2 pages */
    int tl = snprintf(tat, sizeof(tat), "%lld", T0 * 1000 + 30000000LL);
    assert_int_equal(clm_paging_restore(b, "tat", 3, tat, (size_t)tl, err, sizeof(err)), 0);
    assert_int_equal(clm_paging_restore(a, "tat", 3, tat, (size_t)tl, err, sizeof(err)), 0);
    trace la = { 0 }, lb = { 0 };
    assert_int_equal(close_into(a, &o, T0 + 60 * MIN, &la), 2);
    assert_int_equal(close_into(b, &o, T0 + 60 * MIN, &lb), 2);
    /* the incident keys differ (computed vs stored), the rest is the same */
    assert_int_equal(count(&lb, 'P'), 1);
    assert_int_equal(count(&lb, 'D'), 1);
    assert_int_equal(count(&la, 'P'), 1);
    assert_non_null(strstr(lb.s, "P 00000000000000000000000000000002"));
    assert_non_null(strstr(lb.s, "\"customer_id\":\"x1\""));
    assert_non_null(strstr(lb.s, "\"incident\":\"0000000000000000000000000000000a\""));
    assert_non_null(strstr(la.s, "P 00000000000000000000000000000002"));
    free(la.s);
    free(lb.s);

    /* malformed fields are refused, naming the field */
    assert_int_equal(clm_paging_restore(b, "zz", 2, "1", 1, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "field zz: not a field this clmd writes");
    assert_int_equal(clm_paging_restore(b, field, strlen(field), "x\t{}", 4, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "paging time is not a number"));
    assert_int_equal(clm_paging_restore(b, field, strlen(field), "5\t{}", 4, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not an alert document"));
    assert_int_equal(clm_paging_restore(b, "tat", 3, "x", 1, err, sizeof(err)), -EPROTO);
    clm_paging_free(a);
    clm_paging_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_waits_for_watermark),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_rate_and_carry_over),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests_name("paging", tests, NULL, NULL);
}
