/* core/stages.h - the lifecycle stage model: configuration, not code.
 *
 * A model is an ordered list of stages and transition rules fired by event
 * types, with optional conditions. Two stages are special: the churn stage
 * (customers who cancelled or went silent) and the reactivation stage (a
 * churned customer who came back). Every other stage is "ordinary" and has a
 * rank (its position among the ordinary stages).
 *
 * Evaluating an event (clm_stages_next): the rules are tried in order; the
 * first rule whose conditions hold AND whose move is allowed decides the new
 * stage. Conditions: the event type is in `on` (or `on` is "*"); the
 * customer's current stage is in `from` (when given; "none" names the state
 * of a customer with no stage yet); orders after the event within
 * [min_orders, max_orders]; the event's score within [min_score, max_score]
 * (a rule with a score condition never matches an event without a score).
 * Allowed moves when forward_only (the default):
 *   into the churn stage: from any stage but the churn stage, and from none;
 *   out of the churn stage: only into the reactivation stage;
 *   into an ordinary stage from "none": always;
 *   from an ordinary stage: only to a higher rank;
 *   from the reactivation stage: to an ordinary stage ranked at least as high
 *     as the highest ordinary stage the customer had reached ("peak"), so a
 *     returning customer moves on as usual and never goes back.
 * A rule whose target is the current stage never fires. Without forward_only
 * every matching move is allowed.
 *
 * Thread-safety: a model is immutable after clm_stages_new; share it freely.
 */
#ifndef CLM_CORE_STAGES_H
#define CLM_CORE_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

#define CLM_STAGES_MAX 32
#define CLM_STAGE_NONE 255 /* a customer with no stage yet */

typedef struct clm_stages clm_stages;

/* One rule as written in the config (names, not indices). */
typedef struct clm_stage_rule_spec {
    const char *const *on; /* event type names; a single "*" = any event */
    size_t non;
    const char *const *from; /* current-stage names ("none" allowed); NULL/0 = any */
    size_t nfrom;
    const char *to;
    int64_t min_orders, max_orders; /* -1 = unbounded */
    int32_t min_score, max_score;   /* INT32_MIN / INT32_MAX = unbounded; any
                                       bound set requires a score */
    bool has_score_cond;
} clm_stage_rule_spec;

typedef struct clm_stages_spec {
    const char *const *stages; /* ordered; must include churned and reactivated names */
    size_t nstages;
    const char *churned;       /* name of the churn stage */
    const char *reactivated;   /* name of the reactivation stage */
    const clm_stage_rule_spec *rules;
    size_t nrules;
    bool forward_only;
    /* configured event types (core/evtype.h) rules may name besides the
     * built-in ones: name k is event-type bit CLM_EV__COUNT + k */
    const char *const *custom_types;
    size_t ncustom;
} clm_stages_spec;

/* Validates and compiles a model. Errors (-EINVAL, with one line in errbuf
 * naming the rule by its 1-based index and what is wrong): an unknown stage
 * name, an unknown event type, a duplicate stage, more than CLM_STAGES_MAX
 * stages, churned/reactivated not among the stages, min > max, and any
 * stage that no rule can ever reach (unreachable). A stage is reachable when
 * some chain of allowed rule moves leads to it from "none"; the churn stage
 * is also reachable from any reachable stage without a rule (customers who
 * go silent are churned by time, outside the rules). Also rejected: an empty
 * or reserved ("none") stage name, the same name for churned and
 * reactivated, an empty `on`, and "*" beside other event types.
 * Messages: "rule 3: to: \"x\" is not a stage (expected one of ...)",
 * "stages: stage \"advocacy\" is unreachable (no rule leads to it)". */
int clm_stages_new(const clm_stages_spec *spec, clm_stages **out, char *errbuf, size_t errsize);
void clm_stages_free(clm_stages *m); /* accepts NULL */

/* The part of a spec a problem was found in. */
typedef enum clm_stages_part {
    CLM_STAGES_IN_STAGES,      /* the stage list (duplicates, too many, unreachable) */
    CLM_STAGES_IN_CHURNED,     /* spec->churned */
    CLM_STAGES_IN_REACTIVATED, /* spec->reactivated */
    CLM_STAGES_IN_RULE,        /* one member of spec->rules[rule] */
} clm_stages_part;

/* Where clm_stages_compile found a problem, for callers that name it in
 * their own terms (config/ names the key of the file). */
typedef struct clm_stages_problem {
    clm_stages_part part;
    size_t rule;        /* CLM_STAGES_IN_RULE: 0-based index into spec->rules */
    const char *member; /* CLM_STAGES_IN_RULE: "on", "from", "to", "max_orders" or "max_score" */
    char text[512];     /* what is wrong, with the offending value, e.g.
                           "\"x\" is not a stage (expected one of \"a\", \"b\")" */
} clm_stages_problem;

/* clm_stages_new with the problem reported as a location plus text instead
 * of one line: returns 0 and sets *out, or -EINVAL with *problem filled in,
 * or -ENOMEM (problem->text says so); *out is untouched on failure. */
int clm_stages_compile(const clm_stages_spec *spec, clm_stages **out, clm_stages_problem *problem);

/* The stage an event moves a customer to, or -1 when it does not move them.
 * `cur` and `peak` are stage indices or CLM_STAGE_NONE; `orders_after` is
 * the customer's order count including this event; `score` is used only
 * when has_score. */
int clm_stages_next(const clm_stages *m, int cur, int peak, clm_event_type type,
                    bool has_score, int32_t score, int64_t orders_after);
/* The same for an event that matches every rule naming one of the types in
 * `bits` (bit t: built-in type t; bit CLM_EV__COUNT + k: custom type k), as
 * clm_event_rule_bits gives them. */
int clm_stages_next_bits(const clm_stages *m, int cur, int peak, uint32_t bits, bool has_score,
                         int32_t score, int64_t orders_after);
/* Whether the model was built with forward_only. */
bool clm_stages_forward_only(const clm_stages *m);

size_t clm_stages_count(const clm_stages *m);
/* "none" for CLM_STAGE_NONE; NULL for an index that is neither a stage nor none. */
const char *clm_stages_name(const clm_stages *m, int idx);
/* The index of the stage called name (not NUL-terminated), or -ENOENT; "none"
 * is not a stage and gives -ENOENT too. */
int clm_stages_index(const clm_stages *m, const char *name, size_t len);
int clm_stages_churned(const clm_stages *m);
int clm_stages_reactivated(const clm_stages *m);
/* Rank among ordinary stages (0-based), -1 for the special stages/none. */
int clm_stages_rank(const clm_stages *m, int idx);
/* Ordinary stages in rank order: idx of the stage at rank r, -1 when there is none. */
int clm_stages_at_rank(const clm_stages *m, int rank);
size_t clm_stages_ordinary(const clm_stages *m);

#endif
