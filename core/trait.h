/* core/trait.h - customer traits: configured attributes read from events
 * (plan, country, channel, company size), each kept by an update rule.
 *
 * The configuration (config/traits.c) compiles the `traits` key into a
 * clm_trait_set: the traits in config order, their event field, value type
 * and update rule. Decoders (daemon/) fill clm_event.trait[i] for trait i;
 * clm_customer_apply hands the event to clm_traits_apply, which keeps the
 * customer's values in one compact byte string, clm_customer.traits.
 *
 * The byte string ("trait block") is self-describing, so a checkpoint can
 * be read without the configuration: entries for the traits that have a
 * value, in ascending index, each
 *   byte   idx                  configured index when written (< CLM_TRAITS_MAX)
 *   byte   name length (1..CLM_TRAIT_NAME_MAX), then the name
 *   byte   (update << 2) | kind clm_trait_update, clm_trait_kind (STR, NUM, BOOL:
 *                               the value type; for count_distinct the type hashed)
 *   zz     ts                   latest and first only: event time of the value
 *   value  STR: byte len (1..CLM_TRAIT_STR_MAX) and the bytes; NUM: le64 IEEE
 *          bits of a finite double; BOOL: byte 0 or 1; count_distinct: byte n
 *          (1..CLM_TRAIT_DISTINCT_MAX) then n le64 value hashes, ascending.
 * clm_traits_check accepts exactly the blocks clm_traits_apply writes
 * (canonical: one encoding per state).
 *
 * A customer's values follow their names: after a restart with a changed
 * `traits` list, clm_traits_conform moves each value to its trait's new
 * index and drops the values of traits removed or changed in type or rule.
 *
 * Pure and not thread-safe: a customer is touched only by its worker.
 */
#ifndef CLM_CORE_TRAIT_H
#define CLM_CORE_TRAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

typedef struct clm_config clm_config;
typedef struct clm_customer clm_customer;

/* A trait value: kind NONE when the customer has no value yet. */
typedef enum clm_trait_kind { CLM_TRAIT_NONE = 0, CLM_TRAIT_STR, CLM_TRAIT_NUM, CLM_TRAIT_BOOL } clm_trait_kind;
typedef struct clm_trait_value {
    clm_trait_kind kind;
    double num;          /* NUM; for count-distinct the count */
    bool b;              /* BOOL */
    const char *str;     /* STR: not NUL-terminated, valid until the customer changes */
    size_t len;
} clm_trait_value;
/* Index of the configured trait `name` (cfg order), or -1. */
int clm_trait_index(const clm_config *cfg, const char *name, size_t len);
/* The customer's value of trait number idx. */
void clm_customer_trait(const clm_customer *c, int idx, clm_trait_value *out);

/* Bounds that keep events and checkpoints small. */
#define CLM_TRAITS_MAX CLM_EV_TRAITS   /* configured traits */
#define CLM_TRAIT_NAME_MAX 32          /* bytes of a trait name */
#define CLM_TRAIT_FIELD_MAX 64         /* bytes of its event field name */
#define CLM_TRAIT_STR_MAX 64           /* largest max_len of a string trait */
#define CLM_TRAIT_DISTINCT_MAX 16      /* largest max_distinct */

typedef enum clm_trait_update {
    CLM_TRAIT_LATEST = 0, /* the value of the latest event (event time; a tie: the later arrival) */
    CLM_TRAIT_FIRST,      /* the value of the earliest event (a tie: the earlier arrival) */
    CLM_TRAIT_MAXIMUM,    /* the largest value (numbers) */
    CLM_TRAIT_SUM,        /* the sum of the values (numbers) */
    CLM_TRAIT_DISTINCT,   /* how many distinct values, counted up to max_distinct */
    CLM_TRAIT__UPDATES
} clm_trait_update;

/* One configured trait. */
typedef struct clm_trait_spec {
    char name[CLM_TRAIT_NAME_MAX + 1];   /* [A-Za-z0-9_]+ */
    char field[CLM_TRAIT_FIELD_MAX + 1]; /* the member's name (NUL-terminated) */
    uint8_t field_len;
    bool in_properties;                  /* field is a member of the "properties" object */
    bool reject_invalid;                 /* on_invalid "reject" (else "ignore") */
    clm_trait_kind type;                 /* STR, NUM or BOOL */
    clm_trait_update update;
    unsigned max_len;                    /* STR: longest value in bytes, 1..CLM_TRAIT_STR_MAX */
    unsigned max_distinct;               /* DISTINCT: 1..CLM_TRAIT_DISTINCT_MAX */
    char view_field[CLM_TRAIT_NAME_MAX + 7]; /* "trait:<name>", its field in the view */
} clm_trait_spec;

/* The configured traits, in config order. */
typedef struct clm_trait_set {
    size_t n;
    clm_trait_spec t[CLM_TRAITS_MAX];
} clm_trait_set;

/* Names of the rules and types as written in the config ("latest", "string"). */
const char *clm_trait_update_name(clm_trait_update u);
const char *clm_trait_kind_name(clm_trait_kind k);

/* Whether two sets configure the same traits (NULL: none). */
bool clm_trait_set_equal(const clm_trait_set *a, const clm_trait_set *b);

/* Index of the trait named name in set (NULL: none), or -1. */
int clm_trait_set_index(const clm_trait_set *set, const char *name, size_t len);

/* Index of the trait read from member `key` at the top level
 * (in_properties false) or in "properties" (true), or -1. */
int clm_trait_set_field(const clm_trait_set *set, const char *key, size_t len, bool in_properties);

/* The value of trait idx in a trait block (NULL/0: none). */
void clm_traits_get(const uint8_t *blk, size_t len, int idx, clm_trait_value *out);

/* The value a trait block holds for trait t, found by name (so a block
 * written under another trait list reads right): none when the block has no
 * value of that name, or one of another type or rule. */
void clm_traits_get_named(const uint8_t *blk, size_t len, const clm_trait_spec *t,
                          clm_trait_value *out);

/* Applies the trait values ev carries to the block *blk (*len bytes; NULL, 0
 * when empty), under set, replacing the block when a value changes.
 * Returns 1 when it changed, 0 when not, -ENOMEM (the block is then
 * unchanged). */
int clm_traits_apply(uint8_t **blk, uint16_t *len, const clm_trait_set *set,
                     const clm_event *ev);

/* Re-indexes a block written under another trait list by names (see the
 * top); drops what set has no matching trait for. Returns 1 when it changed,
 * 0, or -ENOMEM (unchanged). */
int clm_traits_conform(uint8_t **blk, uint16_t *len, const clm_trait_set *set);

/* Checks that p[0..n) is a canonical trait block. Returns 0, or -EPROTO
 * with a phrase in errbuf ("entry 2: name length 0"). */
int clm_traits_check(const uint8_t *p, size_t n, char *errbuf, size_t errsize);

/* Writes the view text of v (a string's bytes, a number in the shortest
 * form that reads back exactly, "true"/"false") into buf (>= 72 bytes).
 * Returns the length; 0 when v has no value. */
size_t clm_trait_format(const clm_trait_value *v, char *buf, size_t size);

#endif
