/* core/rule.h - segment rules: a small boolean expression language over a
 * customer's attributes, e.g.
 *     plan == "pro" and stage == "retention" and risk >= 0.5
 *
 * Grammar (keywords are lower case; whitespace separates tokens freely):
 *     rule       := or
 *     or         := and { "or" and }
 *     and        := unary { "and" unary }
 *     unary      := "not" unary | primary
 *     primary    := "(" or ")" | name [ cmp value | "in" "[" value { "," value } "]" ]
 *     cmp        := "==" | "!=" | "<" | "<=" | ">" | ">="
 *     value      := number | string | "true" | "false"
 *     name       := [A-Za-z_][A-Za-z0-9_.:-]*
 *     number     := an optional '-', digits, an optional fraction and exponent
 *     string     := '"' characters, with \" and \\ as escapes '"'
 * A bare name is true when its value is the boolean true, a number other
 * than 0 or a non-empty string.
 *
 * Meaning: a comparison is false when the attribute has no value (a missing
 * trait, a customer without purchases for rfm_segment) or a value of another
 * kind than the literal: `plan != "pro"` is false for a customer without a
 * plan. `<`, `<=`, `>`, `>=` take a number only (checked when parsing).
 * Numbers compare as doubles.
 *
 * Names are resolved when parsing, by the caller's resolver (name -> an
 * attribute id >= 0, or a negative value: unknown name); values are read when
 * evaluating, by the caller's getter (id -> value). The engine knows no
 * attribute itself, so it serves built-in attributes and traits alike.
 *
 * Errors: clm_rule_parse writes "at <pos>: <what>" into errbuf, <pos> being
 * the 1-based character position of the offending token (the end of the
 * text + 1 when the text ended too early), e.g. "at 14: expected a value".
 *
 * Thread-safety: a parsed rule is immutable; evaluate it from any thread.
 */
#ifndef CLM_CORE_RULE_H
#define CLM_CORE_RULE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest rule text accepted, and deepest nesting of not / parentheses. */
#define CLM_RULE_MAX_LEN 4096
#define CLM_RULE_MAX_DEPTH 32

typedef enum clm_rule_kind {
    CLM_RULE_NONE = 0, /* no value */
    CLM_RULE_STR,
    CLM_RULE_NUM,
    CLM_RULE_BOOL,
} clm_rule_kind;

/* An attribute's value as the getter reports it. str need not be
 * NUL-terminated and must stay valid until the evaluation returns. */
typedef struct clm_rule_value {
    clm_rule_kind kind;
    double num;
    bool b;
    const char *str;
    size_t len;
} clm_rule_value;

/* Returns the id (>= 0) of the attribute called name[0..len), or a negative
 * value when there is none. */
typedef int (*clm_rule_resolve_fn)(void *ctx, const char *name, size_t len);
/* Stores the value of attribute id into *out (kind CLM_RULE_NONE: none). */
typedef void (*clm_rule_get_fn)(void *ctx, int id, clm_rule_value *out);

typedef struct clm_rule clm_rule;

/* Parses text (NUL-terminated, at most CLM_RULE_MAX_LEN bytes). Returns 0
 * and sets *out (free with clm_rule_free); or -EINVAL with "at <pos>: ..."
 * in errbuf; or -ENOMEM. *out is untouched on failure. */
int clm_rule_parse(const char *text, clm_rule_resolve_fn resolve, void *rctx, clm_rule **out,
                   char *errbuf, size_t errsize);

/* Whether the rule holds for the attribute values get reports. */
bool clm_rule_eval(const clm_rule *r, clm_rule_get_fn get, void *gctx);

/* Whether the rule reads attribute id. */
bool clm_rule_uses(const clm_rule *r, int id);

/* Frees a rule; accepts NULL. */
void clm_rule_free(clm_rule *r);

#endif
