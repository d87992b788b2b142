/* tools/gen_vocab.h - the words and weights of the generated events: the
 * values of their string fields and the cumulative weights of their scores
 * (tools/gen.h documents the distributions).
 *
 * Static tables, included by the parts of the generator that write events.
 */
#ifndef CLM_TOOLS_GEN_VOCAB_H
#define CLM_TOOLS_GEN_VOCAB_H

static const char *const CHANNELS[] = {"organic", "paid_search", "social", "email", "referral", "direct"};
static const double CHANNEL_CUM[] = {0.30, 0.50, 0.65, 0.75, 0.85, 1.0};
static const char *const PAGES[] = {"/", "/pricing", "/features", "/blog/onboarding-checklist",
                                    "/blog/churn-signals", "/docs/getting-started", "/customers"};
static const char *const DEVICES[] = {"web", "ios", "android"};
static const char *const FEATURES[] = {"dashboard", "reports", "export", "alerts",
                                       "api", "search", "integrations", "billing"};
static const char *const PLANS[] = {"basic", "pro", "team"};
static const double PLAN_CUM[] = {0.6, 0.9, 1.0};
static const double PLAN_FACTOR[] = {1.0, 1.5, 2.5};
static const char *const PRIORITIES[] = {"low", "normal", "high", "urgent"};
static const char *const TOPICS[] = {"billing", "bug", "how_to", "account"};
static const char *const REFUND_REASONS[] = {"damaged", "not_as_described", "changed_mind", "duplicate_charge"};
static const char *const FAIL_CODES[] = {"card_declined", "insufficient_funds", "expired_card", "processing_error"};
static const char *const CANCEL_REASONS[] = {"too_expensive", "not_using", "switched_competitor",
                                             "missing_feature", "other"};
static const char *const REVIEW_SITES[] = {"g2", "capterra", "trustpilot", "app_store"};
static const char *const VIA[] = {"email", "phone", "chat"};
/* csat 1..5 */
static const double CSAT_CUM[] = {0.07, 0.15, 0.30, 0.60, 1.0};
/* nps 0..10, skewed to promoters */
static const double NPS_CUM[] = {0.015, 0.03, 0.05, 0.08, 0.12, 0.18, 0.25, 0.38, 0.55, 0.75, 1.0};
static const double STARS_CUM[] = {0.05, 0.10, 0.20, 0.45, 1.0};

#define NCHAN 4
static const char *const MKT_CHANNELS[NCHAN] = {"paid_search", "social", "display", "email"};
static const double MKT_MEDIAN_CENTS[NCHAN] = {40000, 25000, 15000, 6000};

#endif
