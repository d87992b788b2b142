/* tools/gen.h - a deterministic, realistic customer-lifecycle event stream.
 *
 * The generator simulates `customers` people over `days` days and hands out
 * exactly `events` Kafka messages (JSON value + key), streaming: nothing of
 * the stream is buffered except a few late and recent messages.
 *
 * Determinism: the stream is a pure function of the options. It uses its own
 * PRNG (xoshiro256** seeded by splitmix64) and its own log/exp built from
 * IEEE-754 + - * /, sqrt and exponent-bit arithmetic only (libm results may
 * differ in the last bit between C libraries), so the bytes are identical on
 * every machine.
 *
 * Who appears. Customer n is "c-<n>", n = 1..customers, numbered in order of
 * first visit; first visits are spread uniformly over the first 85% of the
 * span. With events >> customers every customer appears; with fewer events
 * the stream ends early in the span and only the first arrivals appear.
 *
 * Funnel (probabilities per person):
 *   visit         everybody; 1 + Geometric(1/2) visits before deciding (mean 2)
 *   signup        35% of visitors (leads), minutes after their last visit
 *   lead_contacted 40% of leads, lognormal delay (median 4 h, 5 min .. 7 days)
 *   purchase      45% of leads (after 0-2 more visits or logins, days apart)
 *                 + 5% of visitors directly without signup: ~20.75% are buyers
 *   onboarding_complete 85% of buyers, 10 min .. 2 days after the first purchase
 *   activity      buyers then act until the end: each step is a burst (80%:
 *                 login, 0..n feature_use, session with duration_s) or one of
 *                 purchase 6% (amount lognormal, median 40 x plan factor, two
 *                 decimals), support_ticket 4% (csat_response 1..5 follows
 *                 hours later in 70% of cases), nps_response 2.5% (0..10,
 *                 skewed to 9-10), refund 1.5% (all or half of the last
 *                 purchase), review 1.5% ("stars"), upgrade 1.2%,
 *                 payment_failed 1%, referral 1%, downgrade 0.6%
 *   churn         of buyers, 10% cancel and 15% go silent for good at a uniform
 *                 point of their remaining span; 20% of those come back 20..60
 *                 days later (visit, then a purchase) and stay
 *   marketing_spend four channels, one event each per day; no customer_id,
 *                 key "mkt:<channel>", a "channel" field
 * Anonymous starts (anon_rate, 0 by default: the stream is then the same as
 * without the option): each person is drawn anonymous with this probability
 * at arrival. An anonymous person's events are sent as customer "a-<n>"
 * (key "a-<n>") until its first signup, or its first purchase without one:
 * there an `identify` event (customer_id "c-<n>", anonymous_id "a-<n>")
 * comes first, and the signup or purchase follows under "c-<n>" a second
 * later, as does everything after, except its visits between signup and
 * first purchase and its visit on coming back after churn: those come
 * from the anonymous device again, as "a-<n>". Visitors who neither sign up
 * nor buy stay anonymous. A malformed message always names "c-<n>".
 * Buyers' activity rates are lognormal (sigma 1) around a common rate sized so
 * that the expected stream fills the span (it ends within about 0.85x..1.1x of
 * `days` for 5..20000 events per customer): a heavy tail of busy customers.
 * With so few customers that none buys, the stream is mostly marketing spend
 * and runs past the span.
 *
 * Traits (with opts.traits): each customer has a country (US 30%, DE 15%, GB
 * 12%, FR 10%, IN 10%, BR 8%, JP 8%, CA 7%) and a company size (employees,
 * 1..1024, a heavy tail: about half at most 20), fixed per customer and drawn from a hash of the
 * seed and the customer number, not from the stream's PRNG: the stream with
 * traits is the stream without them plus these fields:
 *   signup                 "properties": {"country", "company_size": size}
 *   purchase               "properties": {"country"} (it carries "plan" anyway)
 *   upgrade, downgrade     "plan": the new plan, "properties": {"company_size":
 *                          size x (1 + new plan index)} (basic 0, pro 1, team 2)
 * Visits and signups carry "channel" with or without traits (the first visit's
 * is where the customer came from; referrals carry "link" or "email").
 *
 * Delivery faults, each an independent per-message draw:
 *   dup_rate       the message re-sends one of the last 16 valid messages
 *                  verbatim (same key, same bytes, same event_id);
 *   malformed_rate the message is a broken event for the most recent customer,
 *                  keyed by that customer, one fault each, equally often:
 *                  truncated JSON; other bad JSON (trailing '}', duplicate key,
 *                  bad escape, unquoted key); valid JSON but not an object;
 *                  a wrong JSON type (customer_id, type, amount, score); type
 *                  or ts missing; customer_id empty or over 128 bytes; bad ts
 *                  (month 13, day 32, hour 25, words, "", -1); negative amount;
 *                  csat outside 1..5 or nps outside 0..10; negative duration_s;
 *                  invalid UTF-8; key naming another customer. It never
 *                  contains a newline byte. clm_gen_msg.reason names the fault;
 *   ooo_rate       a valid event is held back and delivered late by up to
 *                  ooo_max_ms (its lateness against the newest event time
 *                  delivered before it is at most ooo_max_ms).
 * All other messages come in event-time order. Event ids are "e-<seq>", unique
 * except for duplicates. About 10% of valid events carry ts as integer epoch
 * ms, the rest as "YYYY-MM-DDTHH:MM:SS.mmmZ". Typical messages are 100-180 bytes.
 *
 * Cost: one 32-byte record per customer between first visit and last event,
 * in an array that grows as customers arrive (10,000,000 customers: at most
 * 320 MB, about 64 MB when measured), plus the late-delivery queue (ooo_rate
 * x the events of one ooo_max_ms window, ~600 bytes each). About 2-4 M
 * messages/s on one core with 1,000-100,000 customers, 1 M/s with
 * 10,000,000. A handle is not thread-safe; use one per thread.
 */
#ifndef CLM_TOOLS_GEN_H
#define CLM_TOOLS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct clm_gen clm_gen;

typedef struct clm_gen_opts {
    uint64_t seed;
    int64_t customers;     /* distinct people, 1 .. 2^31-1 */
    int64_t events;        /* messages in the stream, >= 0 */
    int64_t start_ms;      /* epoch ms of the span's start */
    int days;              /* length of the simulated span, 1 .. 36500 */
    double malformed_rate; /* each in [0, 1] */
    double dup_rate;
    double ooo_rate;
    int64_t ooo_max_ms;    /* > 0 */
    bool traits;           /* add the trait fields (see the top) */
    double anon_rate;      /* in [0, 1]: people who start anonymous (see above) */
} clm_gen_opts;

/* One message. The pointers stay valid until the next clm_gen_next or
 * clm_gen_free on the same handle. */
typedef struct clm_gen_msg {
    const char *value;
    size_t value_len;
    const char *key;
    size_t key_len;
    int64_t ts_ms;        /* event time (for a malformed message: of the event it breaks) */
    const char *reason;   /* malformed: the core/reject.h reason name a v1 decoder
                             gives it ("invalid_json", "bad_score", ...); else NULL */
    unsigned malformed : 1, duplicate : 1, late : 1;
} clm_gen_msg;

/* Fills the defaults: seed 42, 1000 customers, 20000 events, start
 * 2026-01-01T00:00:00Z, 120 days, malformed 0, dup 0.002, ooo 0.01, ooo_max 1 h,
 * no traits, anon 0. */
void clm_gen_opts_default(clm_gen_opts *o);

/* Creates a generator. Returns 0 and sets *out, or -EINVAL (an option out of
 * range, named in errbuf) / -ENOMEM with *out untouched. */
int clm_gen_new(const clm_gen_opts *o, clm_gen **out, char *errbuf, size_t errsize);

/* Frees a generator; accepts NULL. */
void clm_gen_free(clm_gen *g);

/* Writes the next message into *m. Returns 1, 0 at the end of the stream
 * (after exactly opts.events messages), or -ENOMEM; *m is untouched unless 1
 * is returned, and after -ENOMEM the handle can only be freed. */
int clm_gen_next(clm_gen *g, clm_gen_msg *m);

#endif
