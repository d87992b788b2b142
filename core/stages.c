/* core/stages.c - the lifecycle stage model: validating a spec, compiling it
 * into bit masks, and deciding where an event moves a customer.
 *
 * The rules of the model (conditions, allowed moves, reachability) are
 * stated in core/stages.h; this file implements them.
 */
#include "core/stages.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Event types and stages are sets of bits: one per type, one per stage plus
 * one for "none". */
_Static_assert(CLM_EV__COUNT <= 32, "event types must fit a uint32_t mask");
_Static_assert(CLM_STAGES_MAX < 64, "stages and none must fit a uint64_t mask");

#define FROM_NONE_BIT ((uint64_t)1 << CLM_STAGES_MAX)
#define ANY_EVENT ((uint32_t)(((uint64_t)1 << CLM_EV__COUNT) - 1))

typedef struct stage_rule {
    uint32_t on;   /* bit t: event type t */
    uint64_t from; /* bit s: stage s; FROM_NONE_BIT: no stage yet; 0: any */
    int to;
    int64_t min_orders, max_orders; /* -1: unbounded */
    int32_t min_score, max_score;
    bool has_score_cond;
} stage_rule;

struct clm_stages {
    size_t n, nordinary, nrules;
    int churned, reactivated;
    bool forward_only;
    int rank[CLM_STAGES_MAX];    /* by stage index; -1 for the special stages */
    int at_rank[CLM_STAGES_MAX]; /* by rank: the stage index */
    char *names[CLM_STAGES_MAX];
    stage_rule *rules;
};

/* ---- problems ----------------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static int fail(clm_stages_problem *p, clm_stages_part part,
                                                      size_t rule, const char *member,
                                                      const char *fmt, ...)
{
    va_list ap;

    p->part = part;
    p->rule = rule;
    p->member = member;
    va_start(ap, fmt);
    vsnprintf(p->text, sizeof p->text, fmt, ap);
    va_end(ap);
    for (char *c = p->text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return -EINVAL;
}

/* The stage names of spec as "\"a\", \"b\"" for an "expected" clause. */
static void stage_list(const clm_stages_spec *spec, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < spec->nstages && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "",
                                 spec->stages[i]);
}

/* The index of name among spec's stages, or -1. */
static int spec_index(const clm_stages_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nstages; i++)
        if (strcmp(spec->stages[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- validation --------------------------------------------------------- */

static int check_stages(const clm_stages_spec *spec, clm_stages_problem *p)
{
    char list[400];
    int churned, reactivated;

    if (spec->nstages == 0)
        return fail(p, CLM_STAGES_IN_STAGES, 0, NULL, "there are no stages (expected at least "
                                                      "the churn and reactivation stages)");
    if (spec->nstages > CLM_STAGES_MAX)
        return fail(p, CLM_STAGES_IN_STAGES, 0, NULL,
                    "%zu stages are too many (expected at most %d)", spec->nstages,
                    CLM_STAGES_MAX);
    for (size_t i = 0; i < spec->nstages; i++) {
        const char *s = spec->stages[i];

        if (s[0] == '\0')
            return fail(p, CLM_STAGES_IN_STAGES, 0, NULL, "stage %zu has an empty name", i + 1);
        if (strcmp(s, "none") == 0)
            return fail(p, CLM_STAGES_IN_STAGES, 0, NULL,
                        "stage \"none\" is reserved (it names a customer with no stage yet)");
        if (spec_index(spec, s) != (int)i)
            return fail(p, CLM_STAGES_IN_STAGES, 0, NULL, "stage \"%s\" is listed twice", s);
    }
    stage_list(spec, list, sizeof list);
    churned = spec->churned ? spec_index(spec, spec->churned) : -1;
    if (churned < 0)
        return fail(p, CLM_STAGES_IN_CHURNED, 0, NULL, "\"%s\" is not a stage (expected one of %s)",
                    spec->churned ? spec->churned : "", list);
    reactivated = spec->reactivated ? spec_index(spec, spec->reactivated) : -1;
    if (reactivated < 0)
        return fail(p, CLM_STAGES_IN_REACTIVATED, 0, NULL,
                    "\"%s\" is not a stage (expected one of %s)",
                    spec->reactivated ? spec->reactivated : "", list);
    if (reactivated == churned)
        return fail(p, CLM_STAGES_IN_REACTIVATED, 0, NULL,
                    "\"%s\" is also the churn stage (expected a stage of its own)",
                    spec->reactivated);
    return 0;
}

/* Compiles rule i of spec into *r; the stages are already valid. */
static int compile_rule(const clm_stages_spec *spec, size_t i, stage_rule *r, clm_stages_problem *p)
{
    const clm_stage_rule_spec *rs = &spec->rules[i];
    char list[400];

    stage_list(spec, list, sizeof list);
    *r = (stage_rule){
        .min_orders = rs->min_orders,
        .max_orders = rs->max_orders,
        .min_score = rs->min_score,
        .max_score = rs->max_score,
        .has_score_cond = rs->has_score_cond,
    };
    if (rs->non == 0)
        return fail(p, CLM_STAGES_IN_RULE, i, "on",
                    "is empty (expected event type names or \"*\")");
    for (size_t k = 0; k < rs->non; k++) {
        const char *name = rs->on[k];
        clm_event_type t;

        if (strcmp(name, "*") == 0) {
            if (rs->non > 1)
                return fail(p, CLM_STAGES_IN_RULE, i, "on",
                            "\"*\" is beside other event types (expected \"*\" alone)");
            r->on = ANY_EVENT;
            continue;
        }
        t = clm_event_type_from_name(name, strlen(name));
        if (t == CLM_EV_OTHER) {
            size_t c = 0;

            while (c < spec->ncustom && strcmp(spec->custom_types[c], name) != 0)
                c++;
            if (c == spec->ncustom || CLM_EV__COUNT + c >= 32)
                return fail(p, CLM_STAGES_IN_RULE, i, "on", "\"%s\" is not an event type", name);
            r->on |= (uint32_t)1 << (CLM_EV__COUNT + c);
            continue;
        }
        r->on |= (uint32_t)1 << t;
    }
    for (size_t k = 0; k < rs->nfrom; k++) {
        const char *name = rs->from[k];
        int s = spec_index(spec, name);

        if (strcmp(name, "none") == 0)
            r->from |= FROM_NONE_BIT;
        else if (s < 0)
            return fail(p, CLM_STAGES_IN_RULE, i, "from",
                        "\"%s\" is not a stage (expected \"none\" or one of %s)", name, list);
        else
            r->from |= (uint64_t)1 << s;
    }
    r->to = rs->to ? spec_index(spec, rs->to) : -1;
    if (r->to < 0)
        return fail(p, CLM_STAGES_IN_RULE, i, "to", "\"%s\" is not a stage (expected one of %s)",
                    rs->to ? rs->to : "", list);
    if (rs->min_orders < -1)
        return fail(p, CLM_STAGES_IN_RULE, i, "min_orders",
                    "%lld is out of range (expected a count >= 0, or -1 for none)",
                    (long long)rs->min_orders);
    if (rs->max_orders < -1)
        return fail(p, CLM_STAGES_IN_RULE, i, "max_orders",
                    "%lld is out of range (expected a count >= 0, or -1 for none)",
                    (long long)rs->max_orders);
    if (rs->min_orders >= 0 && rs->max_orders >= 0 && rs->min_orders > rs->max_orders)
        return fail(p, CLM_STAGES_IN_RULE, i, "max_orders", "%lld is less than min_orders %lld",
                    (long long)rs->max_orders, (long long)rs->min_orders);
    if (rs->has_score_cond && rs->min_score > rs->max_score)
        return fail(p, CLM_STAGES_IN_RULE, i, "max_score", "%ld is less than min_score %ld",
                    (long)rs->max_score, (long)rs->min_score);
    return 0;
}

/* ---- moves -------------------------------------------------------------- */

static int rank_of(const clm_stages *m, int idx)
{
    return idx >= 0 && idx < CLM_STAGES_MAX && (size_t)idx < m->n ? m->rank[idx] : -1;
}

/* Whether a forward-only model lets a customer at cur (peak) move to `to`;
 * `to` != cur. */
static bool move_allowed(const clm_stages *m, int cur, int peak, int to)
{
    if (!m->forward_only)
        return true;
    if (to == m->churned)
        return true;
    if (cur == m->churned)
        return to == m->reactivated;
    if (to == m->reactivated)
        return false;
    if (cur == CLM_STAGE_NONE)
        return true;
    if (cur == m->reactivated)
        return m->rank[to] >= rank_of(m, peak);
    return m->rank[to] > m->rank[cur];
}

static bool from_matches(const stage_rule *r, int cur)
{
    if (r->from == 0)
        return true;
    return (r->from & (cur == CLM_STAGE_NONE ? FROM_NONE_BIT : (uint64_t)1 << cur)) != 0;
}

/* Marks every stage a customer can reach; returns the first stage in list
 * order that stays unreached, or -1. */
static int first_unreachable(const clm_stages *m)
{
    bool reached[CLM_STAGES_MAX] = {false}, changed = true, any = false;

    while (changed) {
        changed = false;
        for (size_t i = 0; i < m->nrules; i++) {
            const stage_rule *r = &m->rules[i];

            if (reached[r->to])
                continue;
            for (int cur = -1; cur < (int)m->n; cur++) {
                int c = cur < 0 ? CLM_STAGE_NONE : cur;

                if (c == r->to || (cur >= 0 && !reached[cur]) || !from_matches(r, c) ||
                    !move_allowed(m, c, CLM_STAGE_NONE, r->to))
                    continue;
                reached[r->to] = changed = any = true;
                break;
            }
        }
        /* Silent customers are churned by time, whatever stage they are in. */
        if (any && !reached[m->churned])
            reached[m->churned] = changed = true;
    }
    for (size_t s = 0; s < m->n; s++)
        if (!reached[s])
            return (int)s;
    return -1;
}

/* ---- the model ---------------------------------------------------------- */

int clm_stages_compile(const clm_stages_spec *spec, clm_stages **out, clm_stages_problem *p)
{
    clm_stages *m;
    int r, lost;

    r = check_stages(spec, p);
    if (r < 0)
        return r;
    m = calloc(1, sizeof *m);
    if (!m)
        goto out_oom;
    m->n = spec->nstages;
    m->churned = spec_index(spec, spec->churned);
    m->reactivated = spec_index(spec, spec->reactivated);
    m->forward_only = spec->forward_only;
    for (size_t s = 0; s < m->n; s++) {
        m->names[s] = strdup(spec->stages[s]);
        if (!m->names[s])
            goto out_free_model;
        if ((int)s == m->churned || (int)s == m->reactivated) {
            m->rank[s] = -1;
            continue;
        }
        m->rank[s] = (int)m->nordinary;
        m->at_rank[m->nordinary++] = (int)s;
    }
    m->rules = calloc(spec->nrules ? spec->nrules : 1, sizeof *m->rules);
    if (!m->rules)
        goto out_free_model;
    for (m->nrules = 0; m->nrules < spec->nrules; m->nrules++) {
        r = compile_rule(spec, m->nrules, &m->rules[m->nrules], p);
        if (r < 0) {
            clm_stages_free(m);
            return r;
        }
    }
    lost = first_unreachable(m);
    if (lost >= 0) {
        bool targeted = false;

        for (size_t i = 0; i < m->nrules; i++)
            targeted = targeted || m->rules[i].to == lost;
        r = fail(p, CLM_STAGES_IN_STAGES, 0, NULL, "stage \"%s\" is unreachable (%s)",
                 m->names[lost],
                 targeted ? "no rule leads to it from a stage a customer can reach"
                          : "no rule leads to it");
        clm_stages_free(m);
        return r;
    }
    *out = m;
    return 0;

out_free_model:
    clm_stages_free(m);
out_oom:
    p->part = CLM_STAGES_IN_STAGES;
    p->rule = 0;
    p->member = NULL;
    snprintf(p->text, sizeof p->text, "out of memory");
    return -ENOMEM;
}

int clm_stages_new(const clm_stages_spec *spec, clm_stages **out, char *errbuf, size_t errsize)
{
    clm_stages_problem p;
    int r = clm_stages_compile(spec, out, &p);

    if (r == 0 || !errbuf || errsize == 0)
        return r;
    switch (p.part) {
    case CLM_STAGES_IN_RULE:
        snprintf(errbuf, errsize, "rule %zu: %s: %s", p.rule + 1, p.member, p.text);
        break;
    case CLM_STAGES_IN_STAGES:
        snprintf(errbuf, errsize, r == -ENOMEM ? "%s" : "stages: %s", p.text);
        break;
    case CLM_STAGES_IN_CHURNED:
        snprintf(errbuf, errsize, "churned: %s", p.text);
        break;
    case CLM_STAGES_IN_REACTIVATED:
        snprintf(errbuf, errsize, "reactivated: %s", p.text);
        break;
    }
    return r;
}

void clm_stages_free(clm_stages *m)
{
    if (!m)
        return;
    for (size_t s = 0; s < m->n; s++)
        free(m->names[s]);
    free(m->rules);
    free(m);
}

int clm_stages_next(const clm_stages *m, int cur, int peak, clm_event_type type, bool has_score,
                    int32_t score, int64_t orders_after)
{
    if ((unsigned)type >= CLM_EV__COUNT)
        return -1;
    return clm_stages_next_bits(m, cur, peak, (uint32_t)1 << type, has_score, score, orders_after);
}

int clm_stages_next_bits(const clm_stages *m, int cur, int peak, uint32_t bits, bool has_score,
                         int32_t score, int64_t orders_after)
{
    if (cur != CLM_STAGE_NONE && (cur < 0 || (size_t)cur >= m->n))
        return -1;
    for (size_t i = 0; i < m->nrules; i++) {
        const stage_rule *r = &m->rules[i];

        if (!(r->on & bits) || !from_matches(r, cur))
            continue;
        if ((r->min_orders >= 0 && orders_after < r->min_orders) ||
            (r->max_orders >= 0 && orders_after > r->max_orders))
            continue;
        if (r->has_score_cond && (!has_score || score < r->min_score || score > r->max_score))
            continue;
        if (r->to == cur || !move_allowed(m, cur, peak, r->to))
            continue;
        return r->to;
    }
    return -1;
}

bool clm_stages_forward_only(const clm_stages *m)
{
    return m->forward_only;
}

size_t clm_stages_count(const clm_stages *m)
{
    return m->n;
}

const char *clm_stages_name(const clm_stages *m, int idx)
{
    if (idx == CLM_STAGE_NONE)
        return "none";
    return idx >= 0 && (size_t)idx < m->n ? m->names[idx] : NULL;
}

int clm_stages_index(const clm_stages *m, const char *name, size_t len)
{
    for (size_t s = 0; s < m->n; s++)
        if (strlen(m->names[s]) == len && memcmp(m->names[s], name, len) == 0)
            return (int)s;
    return -ENOENT;
}

int clm_stages_churned(const clm_stages *m)
{
    return m->churned;
}

int clm_stages_reactivated(const clm_stages *m)
{
    return m->reactivated;
}

int clm_stages_rank(const clm_stages *m, int idx)
{
    return rank_of(m, idx);
}

int clm_stages_at_rank(const clm_stages *m, int rank)
{
    return rank >= 0 && (size_t)rank < m->nordinary ? m->at_rank[rank] : -1;
}

size_t clm_stages_ordinary(const clm_stages *m)
{
    return m->nordinary;
}
