/* tests/test-am-alert.c - page documents as Alertmanager alerts
 * (daemon/am_alert.h): the exact JSON of each kind, the link template and
 * its escaping, endsAt, and the documents that are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/am_alert.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define INC1 "fedcba9876543210fedcba9876543210"

static const char churn_risk_doc[] =
    "{\"alert_id\":\"" ID1 "\",\"kind\":\"churn_risk\",\"customer_id\":\"c1\","
    "\"incident\":\"" INC1 "\",\"severity\":\"critical\",\"risk\":0.706,\"previous_risk\":0.58,"
    "\"stage\":\"conversion\",\"clv\":100,\"clv_rate\":1216.666666,"
    "\"reasons\":[{\"signal\":\"nps_detractor\",\"value\":2.0,\"weight\":0.3,\"contribution\":0.3},"
    "{\"signal\":\"payment_failed\",\"value\":1.0,\"weight\":0.4,\"contribution\":0.4},"
    "{\"signal\":\"downgrade\",\"value\":1.0,\"weight\":0.3,\"contribution\":0.3}],"
    "\"event_ts\":\"2025-01-03T13:00:00.000Z\",\"emitted_at\":\"2025-01-03T13:00:01.234Z\","
    "\"source\":{\"topic\":\"clm.events\",\"partition\":0,\"offset\":8}}";

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    return s;
}

static void expect_alert(const char *doc, const char *link, const char *want)
{
    clm_am_doc d;
    char err[256] = "";
    int r = clm_am_doc_parse(doc, strlen(doc), link, &d, err, sizeof(err));
    if (r != 0)
        fail_msg("parse: %d %s", r, err);
    assert_non_null(d.alert);
    char *got = dump(d.alert);
    assert_string_equal(got, want);
    free(got);
    clm_am_doc_release(&d);
}

static void test_churn_risk(void **state)
{
    (void)state;
    /* reasons by contribution, largest first, ties as listed; risk 0.706 ->
     * "0.71" in the summary; clv 100 -> "100" */
    expect_alert(churn_risk_doc, "",
                 "{\"labels\":{\"alertname\":\"CustomerChurnRisk\",\"customer_id\":\"c1\","
                 "\"stage\":\"conversion\",\"severity\":\"critical\",\"kind\":\"churn_risk\"},"
                 "\"annotations\":{\"summary\":\"Customer c1 at churn risk 0.71 in stage "
                 "conversion, CLV 100\",\"reasons\":\"payment_failed 0.40, nps_detractor 0.30, "
                 "downgrade 0.30\",\"clv\":\"100\",\"incident\":\"" INC1 "\",\"alert_id\":\"" ID1
                 "\"},\"startsAt\":\"2025-01-03T13:00:00.000Z\"}");
    clm_am_doc d;
    char err[256];
    assert_int_equal(clm_am_doc_parse(churn_risk_doc, strlen(churn_risk_doc), NULL, &d, err,
                                      sizeof(err)), 0);
    assert_int_equal(d.kind, CLM_AM_CHURN_RISK);
    assert_string_equal(d.incident, INC1);
    assert_int_equal(d.event_ms, 1735909200000LL);
    clm_am_doc_release(&d);
}

static void test_churn_risk_link_no_stage(void **state)
{
    (void)state;
    /* customer id with characters a URL must escape; stage null is left out;
     * clv 1216.666 -> "1216.67"; no reasons: no reasons annotation */
    static const char doc[] =
        "{\"alert_id\":\"" ID1 "\",\"kind\":\"churn_risk\",\"customer_id\":\"a b/é\","
        "\"incident\":\"" INC1 "\",\"severity\":\"warning\",\"risk\":0.7,\"previous_risk\":0.5,"
        "\"stage\":null,\"clv\":1216.666,\"clv_rate\":1,\"reasons\":[],"
        "\"event_ts\":\"2025-01-03T13:00:00.5Z\",\"emitted_at\":\"2025-01-03T13:00:01.000Z\","
        "\"source\":{\"topic\":\"t\",\"partition\":1,\"offset\":2}}";
    expect_alert(doc, "https://crm.example.com/customers/{customer_id}?i={incident}&a={alert_id}{x}",
                 "{\"labels\":{\"alertname\":\"CustomerChurnRisk\",\"customer_id\":\"a b/é\","
                 "\"severity\":\"warning\",\"kind\":\"churn_risk\"},"
                 "\"annotations\":{\"summary\":\"Customer a b/é at churn risk 0.70, CLV 1216.67\","
                 "\"clv\":\"1216.67\",\"incident\":\"" INC1 "\",\"alert_id\":\"" ID1 "\","
                 "\"link\":\"https://crm.example.com/customers/a%20b%2F%C3%A9?i=" INC1 "&a=" ID1
                 "{x}\"},\"startsAt\":\"2025-01-03T13:00:00.500Z\","
                 "\"generatorURL\":\"https://crm.example.com/customers/a%20b%2F%C3%A9?i=" INC1
                 "&a=" ID1 "{x}\"}");
}

static void test_churned(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"alert_id\":\"" ID1 "\",\"kind\":\"churned\",\"customer_id\":\"c1\","
        "\"incident\":\"" INC1 "\",\"severity\":\"critical\",\"cause\":\"inactivity\","
        "\"risk\":0.9,\"previous_risk\":0.71,\"stage\":\"churned\",\"clv\":250.5,\"clv_rate\":1,"
        "\"reasons\":[{\"signal\":\"inactivity\",\"value\":95,\"weight\":0.75,\"contribution\":0.75}],"
        "\"event_ts\":\"2025-01-05T00:00:00.000Z\",\"emitted_at\":\"2025-01-05T00:00:00.000Z\","
        "\"source\":{\"topic\":\"clm.events\",\"partition\":0,\"offset\":9}}";
    expect_alert(doc, "",
                 "{\"labels\":{\"alertname\":\"CustomerChurned\",\"customer_id\":\"c1\","
                 "\"stage\":\"churned\",\"severity\":\"critical\",\"kind\":\"churned\"},"
                 "\"annotations\":{\"summary\":\"Customer c1 churned at risk 0.90 in stage "
                 "churned, CLV 250.5, cause inactivity\",\"reasons\":\"inactivity 0.75\","
                 "\"clv\":\"250.5\",\"incident\":\"" INC1 "\",\"alert_id\":\"" ID1 "\","
                 "\"cause\":\"inactivity\"},"
                 "\"startsAt\":\"2025-01-05T00:00:00.000Z\"}");
}

static void test_resolved(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"alert_id\":\"" ID1 "\",\"kind\":\"resolved\",\"customer_id\":\"c1\","
        "\"incident\":\"" INC1 "\",\"reason\":\"risk_fell\",\"risk\":0.55,\"previous_risk\":0.71,"
        "\"stage\":\"conversion\",\"clv\":100,\"clv_rate\":1,\"reasons\":[],"
        "\"event_ts\":\"2025-01-04T10:00:00.000Z\",\"emitted_at\":\"2025-01-04T10:00:00.000Z\","
        "\"source\":{\"topic\":\"clm.events\",\"partition\":0,\"offset\":12}}";
    clm_am_doc d;
    char err[256];
    assert_int_equal(clm_am_doc_parse(doc, strlen(doc), "https://x/{customer_id}", &d, err,
                                      sizeof(err)), 0);
    assert_int_equal(d.kind, CLM_AM_RESOLVED);
    assert_null(d.alert);
    assert_string_equal(d.incident, INC1);
    assert_int_equal(d.event_ms, 1735984800000LL);
    clm_am_doc_release(&d);
}

static void test_digest(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"alert_id\":\"" ID1 "\",\"kind\":\"digest\",\"severity\":\"warning\","
        "\"source\":{\"partition\":3},"
        "\"window\":{\"start\":\"2025-01-03T13:00:00.000Z\",\"end\":\"2025-01-03T13:05:00.000Z\"},"
        "\"held\":57,\"customers\":[{\"customer_id\":\"c9\",\"kind\":\"churn_risk\","
        "\"risk\":0.8123,\"alert_id\":\"x\",\"incident\":\"y\"},{\"customer_id\":\"c4\","
        "\"kind\":\"churned\",\"risk\":0.91,\"alert_id\":\"x\",\"incident\":\"y\"}],"
        "\"more\":37,\"event_ts\":\"2025-01-03T13:05:00.000Z\","
        "\"emitted_at\":\"2025-01-03T13:05:00.100Z\"}";
    expect_alert(doc, "https://x/{customer_id}",
                 "{\"labels\":{\"alertname\":\"CustomerAlertDigest\",\"severity\":\"warning\","
                 "\"kind\":\"digest\",\"digest_id\":\"" ID1 "\"},"
                 "\"annotations\":{\"summary\":\"57 alerts over the paging limit on partition 3 "
                 "between 2025-01-03T13:00:00.000Z and 2025-01-03T13:05:00.000Z\","
                 "\"customers\":\"c9 churn_risk 0.8123, c4 churned 0.9100; and 37 more\","
                 "\"alert_id\":\"" ID1 "\"},\"startsAt\":\"2025-01-03T13:05:00.000Z\"}");
}

static void test_set_ends(void **state)
{
    (void)state;
    clm_am_doc d;
    char err[256];
    assert_int_equal(clm_am_doc_parse(churn_risk_doc, strlen(churn_risk_doc), "", &d, err,
                                      sizeof(err)), 0);
    /* later than startsAt: as given */
    assert_int_equal(clm_am_alert_set_ends(d.alert, 1735909260000LL), 0);
    assert_string_equal(json_string_value(json_object_get(d.alert, "endsAt")),
                        "2025-01-03T13:01:00.000Z");
    /* earlier than startsAt (a resolution whose event time is older): startsAt + 1 ms */
    assert_int_equal(clm_am_alert_set_ends(d.alert, 1735909100000LL), 0);
    assert_string_equal(json_string_value(json_object_get(d.alert, "endsAt")),
                        "2025-01-03T13:00:00.001Z");
    clm_am_doc_release(&d);
    json_t *bare = json_object();
    assert_int_equal(clm_am_alert_set_ends(bare, 0), -EINVAL);
    json_decref(bare);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *err;
    } cases[] = {
        { "[1]", "page document: not a JSON object" },
        { "{\"kind\":\"suppressed_summary\",\"alert_id\":\"x\"}",
          "page document: kind \"suppressed_summary\" is not churn_risk, churned, resolved or digest" },
        { "{\"kind\":\"churn_risk\",\"event_ts\":\"2025-01-03T13:00:00Z\"}",
          "page document: alert_id is missing" },
        { "{\"kind\":\"churn_risk\",\"alert_id\":\"x\",\"event_ts\":\"yesterday\"}",
          "page document: event_ts is missing or not an RFC 3339 time" },
        { "{\"kind\":\"resolved\",\"alert_id\":\"x\",\"event_ts\":\"2025-01-03T13:00:00Z\","
          "\"incident\":\"short\"}",
          "page document: incident is missing or not 32 characters" },
        { "{\"kind\":\"churn_risk\",\"alert_id\":\"x\",\"event_ts\":\"2025-01-03T13:00:00Z\","
          "\"incident\":\"" INC1 "\",\"customer_id\":\"c1\",\"risk\":0.7,\"clv\":1}",
          "page document: severity is missing" },
        { "{\"kind\":\"digest\",\"alert_id\":\"x\",\"event_ts\":\"2025-01-03T13:00:00Z\","
          "\"severity\":\"warning\",\"source\":{\"topic\":\"t\",\"partition\":1},\"held\":3}",
          "page document: window is missing or incomplete" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clm_am_doc d = { .kind = CLM_AM_DIGEST, .event_ms = 42 };
        char err[256] = "";
        assert_int_equal(clm_am_doc_parse(cases[i].doc, strlen(cases[i].doc), "", &d, err,
                                          sizeof(err)), -EINVAL);
        assert_string_equal(err, cases[i].err);
        assert_int_equal(d.event_ms, 42); /* untouched */
        assert_null(d.alert);
    }
}

static void test_link_expand(void **state)
{
    (void)state;
    char *s = clm_am_link_expand("{customer_id}{incident}{alert_id}{customer_id", "~a.b-c_",
                                 NULL, "%");
    assert_string_equal(s, "~a.b-c_%25{customer_id");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn_risk),
        cmocka_unit_test(test_churn_risk_link_no_stage),
        cmocka_unit_test(test_churned),
        cmocka_unit_test(test_resolved),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_set_ends),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_link_expand),
    };
    return cmocka_run_group_tests_name("am_alert", tests, NULL, NULL);
}
