/* tools/gen_impl.h - the generator's internals shared by its parts (the
 * model is in tools/gen.h):
 *   tools/gen.c           the simulation: customer and late-delivery heaps,
 *                         arrivals, and the public calls
 *   tools/gen_people.c    one person's state machine: which event comes next
 *   tools/gen_text.c      writing an event's fields and its JSON text
 *   tools/gen_malformed.c the broken messages of malformed_rate
 *   tools/gen_rand.h      random numbers; tools/gen_vocab.h the vocabulary
 * Not thread-safe, like the handle.
 */
#ifndef CLM_TOOLS_GEN_IMPL_H
#define CLM_TOOLS_GEN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/gen.h"

#define MIN_MS (60LL * 1000)
#define HOUR_MS (60LL * MIN_MS)
#define DAY_MS (24LL * HOUR_MS)

#define MSG_MAX 512     /* longest message the generator writes, with margin */
#define KEY_MAX 48
#define RING 16         /* recent valid messages a duplicate may repeat */
#define NFIELD 10
#define FIELD_MAX 160

/* Funnel and activity probabilities (documented in gen.h). */
#define P_LEAD 0.35
#define P_DIRECT 0.05
#define P_CONTACT 0.40
#define P_BUY 0.45
#define P_ONBOARD 0.85
#define P_CANCEL 0.10
#define P_SILENT 0.15
#define P_RETURN 0.20
#define P_INT_TS 0.10
#define ARRIVAL_SPAN 0.85
/* Expected events of one person outside the buyers' activity phase:
 * 2 visits + 0.35 * (signup 1 + contact 0.4 + 0.45 * (nurture 1 + purchase 1
 * + onboarding 0.85) + 0.55 * nurture 2.5) + 0.05 * (purchase 1 + onboarding 0.85). */
#define BASE_EVENTS (2.0 + 0.35 * (1.4 + 0.45 * 2.85 + 0.55 * 2.5) + 0.05 * 1.85)
/* Expected events per activity step: 0.807 * burst (login + 1.5 feature_use
 * + session) + 0.193 * one event + 0.04 * 0.7 csat follow-ups. */
#define EVENTS_PER_STEP (0.807 * 3.5 + 0.193 + 0.028)

enum step {
    ST_VISIT, ST_SIGNUP, ST_CONTACT, ST_NURTURE, ST_PURCHASE1, ST_ONBOARD,
    ST_ACTIVE, ST_BURST, ST_CSAT, ST_CANCEL, ST_RETURN, ST_REPURCHASE,
    ST_MARKETING, ST_GONE
};

enum fate {
    F_LEAD = 1 << 0, F_DIRECT = 1 << 1, F_CONTACT = 1 << 2, F_BUY = 1 << 3,
    F_ONBOARD = 1 << 4, F_CANCEL = 1 << 5, F_SILENT = 1 << 6, F_RETURN = 1 << 7
};

#define MKT_ID0 0xFFFFFF00u /* record ids of marketing channels: MKT_ID0 + channel */

struct cust {
    int64_t next_ms;     /* time of the next event */
    uint32_t id;         /* customer number - 1, or MKT_ID0 + channel */
    uint32_t churn_min;  /* churn time, minutes after start_ms */
    float gap_ms;        /* mean time between activity steps */
    uint32_t last_cents; /* last purchase amount */
    uint32_t ticket;     /* last support ticket number (for its csat_response) */
    uint8_t step : 6;    /* enum step */
    uint8_t anon : 1;    /* anon_rate: not identified yet, events as "a-<n>" */
    uint8_t known : 1;   /* identified after an anonymous start */
    uint8_t fate, left, plan;
};

_Static_assert(sizeof(struct cust) == 32, "gen.h promises 32 bytes per customer");

struct late {
    int64_t deliver_ms;
    int64_t ts_ms;
    uint64_t order;
    uint16_t klen, vlen;
    char key[KEY_MAX];
    char val[MSG_MAX];
};

struct saved {
    int64_t ts_ms;
    uint16_t klen, vlen;
    char key[KEY_MAX];
    char val[MSG_MAX];
};

struct fld {
    const char *name;
    uint8_t bare_name; /* write the name without quotes (a malformation) */
    uint16_t vlen;
    char v[FIELD_MAX];
};

struct ev {
    struct fld f[NFIELD];
    int n;
};

struct clm_gen {
    clm_gen_opts o;
    uint64_t s[4];
    int64_t end_ms;
    double step_rate; /* activity steps per ms of a unit-weight buyer */

    struct cust *heap; /* grows as customers arrive */
    size_t nheap, heap_cap;

    int64_t arrived;
    double arr_u;
    int64_t next_arrival_ms;

    struct late **late;
    size_t nlate, late_cap;
    uint64_t late_order;

    struct saved ring[RING];
    unsigned ring_n, ring_pos;

    int64_t created;
    uint64_t seq, order_seq, ticket_seq;

    bool have_last;
    uint32_t last_cust;
    char id_prefix;     /* of the ids gen_head and gen_set_key_cust write: 'c' or 'a' */
    int64_t last_ts;

    int64_t day_cached;
    char day_str[12];

    struct ev ev;
    char out[MSG_MAX];
    size_t out_len;
    char key[KEY_MAX];
    size_t key_len;
};

#include "tools/gen_rand.h"

/* ---- tools/gen_text.c: text and event fields ---------------------------- */

/* Decimal (or id) text at p; return the bytes written. */
size_t gen_put_u64(char *p, uint64_t v);
size_t gen_put_i64(char *p, int64_t v);
size_t gen_put_cents(char *p, int64_t cents); /* cents as "12.34" */
size_t gen_put_id(char *p, char prefix, uint64_t n); /* "<prefix>-<n>" */

/* Appends a field to e (named, value empty) and returns it. */
struct fld *gen_field_add(struct ev *e, const char *name);
/* Appends a string, integer, amount (from cents), id or ts field. */
void gen_fstr(struct ev *e, const char *name, const char *s);
void gen_fint(struct ev *e, const char *name, int64_t v);
void gen_fcents(struct ev *e, const char *name, int64_t cents);
void gen_fid(struct ev *e, const char *name, char prefix, uint64_t n);
/* ts as RFC 3339 text, or (allow_int, about 10%) integer epoch ms. */
void gen_fts(clm_gen *g, struct ev *e, int64_t ts, bool allow_int);
/* Writes g->ev as the JSON object in g->out. */
void gen_serialize(clm_gen *g);
/* g->key = "<g->id_prefix>-<id + 1>". */
void gen_set_key_cust(clm_gen *g, uint32_t id);
/* Starts g->ev: event_id, customer_id "<g->id_prefix>-<cust + 1>" (when
 * is_cust), type, ts. */
void gen_head(clm_gen *g, uint32_t cust, bool is_cust, const char *type, int64_t ts);

/* ---- tools/gen_people.c: the customer state machine ---------------------- */

/* A purchase amount for a plan, in cents. */
int64_t gen_purchase_cents(clm_gen *g, int plan);
/* The channel and page fields of a visit. */
void gen_visit_fields(clm_gen *g);
/* Emits the event of c (on top of the heap) into g->ev and g->key, and
 * reschedules c (or marks it ST_GONE). */
void gen_step(clm_gen *g, struct cust *c);

/* ---- tools/gen_traits.c: clmgen --traits ---------------------------------- */

/* A customer's company size (employees, 1..1024, about half at most 20). */
int64_t gen_company_size_of(const clm_gen *g, uint32_t id);
/* Adds "properties": {"country": .., "company_size": ..} to g->ev, either
 * part optional (size 0: none). */
void gen_trait_props(clm_gen *g, uint32_t id, bool country, int64_t size);
/* With --traits, the traits of an upgrade or downgrade: the new plan and
 * company size. */
void gen_plan_traits(clm_gen *g, const struct cust *c);

/* ---- tools/gen_malformed.c ------------------------------------------------ */

/* Writes a broken event of the most recent customer into g->out and g->key;
 * returns the reason a decoder gives it. */
const char *gen_malformed(clm_gen *g);

#endif
