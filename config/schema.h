/* config/schema.h - the declarative key table and the engine that applies it.
 *
 * Internal to config/ (and its tests): users of the configuration include
 * config/config.h only. One row of clm_cfg_key describes one key completely:
 * its dotted path, type, default, bounds, destination field and help text.
 * The engine below is generic over (table, struct), so it is applied to
 * struct clm_config with clm_config_keys[] and can be exercised on its own.
 *
 * Sections are implied by the dotted paths: "flush.interval_ms" makes "flush"
 * an object holding "interval_ms". Keys whose name starts with "//" are
 * comments and are skipped at every level. Any other key no row names is an
 * error.
 *
 * config/keys.c holds the table, config/schema.c everything that interprets one row;
 * config/config.c walks whole documents (clm_cfg_apply) and reads the files.
 *
 * Thread-safety: every function here is reentrant; the table is read-only.
 */
#ifndef CLM_CONFIG_SCHEMA_H
#define CLM_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef enum clm_cfg_type {
    CLM_CFG_STRING,  /* char *; min..max bound the length in bytes (max 0: no upper bound) */
    CLM_CFG_INT,     /* int; min..max */
    CLM_CFG_INT64,   /* int64_t; min..max */
    CLM_CFG_DOUBLE,  /* double; dmin..dmax; JSON integers are accepted too */
    CLM_CFG_BOOL,    /* bool */
    CLM_CFG_ENUM,    /* int: the index of the value in `allowed` */
    CLM_CFG_STRLIST, /* char ** with a size_t count at count_offset; min = fewest entries */
    CLM_CFG_INTLIST, /* int * with a size_t count at count_offset; min..max bound each entry,
                        min_count = fewest entries */
    CLM_CFG_STRMAP,  /* clm_kv * with a size_t count at count_offset; values are strings */
    CLM_CFG_CUSTOM,  /* the row's parse and release callbacks own the field */
} clm_cfg_type;

/* Row flags. */
enum {
    CLM_CFG_POW2 = 1u << 0,       /* INT, INT64: the value must also be a power of two */
    CLM_CFG_NO_SPACE = 1u << 1,   /* STRING: the value must not contain whitespace */
    CLM_CFG_SECRET = 1u << 2,     /* accepted only from a secrets file; the value is never shown */
    CLM_CFG_IN_SECRETS = 1u << 3, /* accepted from a secrets file as well as the main file */
    CLM_CFG_DAY_ALIGNED = 1u << 4, /* INT, INT64: the value divides 86400 or is a multiple of it */
    CLM_CFG_DISTINCT = 1u << 5,    /* INTLIST: no two entries equal */
};

/* Where a JSON document being applied came from. A secrets file may hold only
 * rows flagged CLM_CFG_SECRET or CLM_CFG_IN_SECRETS, and no value read from it
 * ever appears in an error message. */
typedef enum clm_cfg_source {
    CLM_CFG_FROM_MAIN,
    CLM_CFG_FROM_SECRETS,
} clm_cfg_source;

/* What a CUSTOM row's parse found wrong. The engine writes
 *   <name>: <key><at>: <value> <text> (expected <expect>)
 * e.g. "clmd.json: lifecycle.rules[2].min_orders: -1 is out of range
 * (expected a non-negative integer)". parse must set text; the other
 * members start zeroed. */
typedef struct clm_cfg_problem {
    const char *text;    /* a phrase such as "is not a valid rule" */
    char at[64];         /* appended to the key, e.g. "[2].min_orders"; "": the key itself */
    const json_t *value; /* the part of v that is wrong; NULL: v */
    const char *expect;  /* NULL: the row's expect */
} clm_cfg_problem;

/* Fills *p for item i of a list-valued CUSTOM row ("[i]" or "[i].member"
 * appended to the key) and returns -EINVAL: the one way every list key
 * (traits, event_types, segments, breakdowns) names where it went wrong. */
int clm_cfg_item_problem(clm_cfg_problem *p, size_t i, const char *member, const json_t *value,
                         const char *text, const char *expect);

/* CUSTOM rows: parses v into *field, which holds the previous value (the
 * default, or all-zero). Returns 0; or -EINVAL with *problem filled in; or
 * -ENOMEM. Must leave *field releasable on failure. */
typedef int (*clm_cfg_parse_fn)(json_t *v, void *field, clm_cfg_problem *problem);
/* CUSTOM rows: frees what parse stored in *field and zeroes it. */
typedef void (*clm_cfg_release_fn)(void *field);

typedef struct clm_cfg_key {
    const char *path;           /* dotted key path, e.g. "flush.interval_ms" */
    clm_cfg_type type;          /* how the value is checked, stored and shown */
    const char *def;            /* default as JSON text ("1000", "\"info\"", "[]");
                                   NULL: no default, the field stays zero */
    int64_t min, max;           /* see clm_cfg_type */
    double dmin, dmax;          /* DOUBLE bounds */
    const char *const *allowed; /* ENUM: the values, NULL-terminated. STRMAP: the
                                   entry keys that are secrets (NULL-terminated) */
    unsigned flags;             /* CLM_CFG_* flags above */
    size_t offset;              /* offsetof() the field in the destination struct */
    size_t count_offset;        /* STRLIST, STRMAP, INTLIST: offsetof() the size_t count */
    size_t min_count;           /* INTLIST: fewest entries */
    clm_cfg_parse_fn parse;     /* CUSTOM only */
    clm_cfg_release_fn release; /* CUSTOM only */
    const char *type_name;      /* CUSTOM only: the type shown in the key reference */
    const char *expect;         /* CUSTOM only: what is expected, e.g. "a rule object" */
    const char *help;           /* one or two sentences for the key reference */
} clm_cfg_key;

/* The rows of struct clm_config (config/keys.c). */
extern const clm_cfg_key clm_config_keys[];
extern const size_t clm_config_key_count;

/* Whether a key is a comment: its name starts with "//". */
static inline bool clm_cfg_is_comment(const char *key)
{
    return key[0] == '/' && key[1] == '/';
}

/* Parses v as row's value and stores it into base; `key` names it in
 * messages. Returns 0, or -EINVAL / -ENOMEM with one line in errbuf (see
 * clm_cfg_apply). A secret row read from the main file is refused. Values
 * from a secrets file, of secret rows and of secret map entries are shown as
 * <redacted>. */
int clm_cfg_set_value(const clm_cfg_key *row, void *base, json_t *v, clm_cfg_source from,
                      const char *name, const char *key, char *errbuf, size_t errsize);

/* Writes "<name>: <key>: <value> <problem> (expected <expect>)" into errbuf,
 * with the value as compact JSON (shortened when long) or "<redacted>".
 * Returns -EINVAL. */
int clm_cfg_error(char *errbuf, size_t errsize, const char *name, const char *key, const json_t *v,
                  bool redact, const char *problem, const char *expect);

/* printf into errbuf (when errbuf is not NULL); control characters become
 * '?', so a message is always one line. */
void clm_cfg_errorf(char *errbuf, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "prefix.key", or a copy of key when prefix is NULL; NULL on ENOMEM. */
char *clm_cfg_join(const char *prefix, const char *key);

/* Stores every row's default into base. Returns 0; -ENOMEM; or -EINVAL when a
 * default does not satisfy its own row (errbuf says which). base must start
 * all-zero; on failure it is left releasable with clm_cfg_release. */
int clm_cfg_set_defaults(const clm_cfg_key *keys, size_t nkeys, void *base, char *errbuf,
                         size_t errsize);

/* Applies the JSON object root, read from the file `name`, onto base: every
 * key present overwrites its field, except STRMAP entries, which are merged
 * (an entry whose key is already present replaces its value). Returns 0, or
 * -EINVAL / -ENOMEM with one line in errbuf:
 *   <name>: <key>: <value as JSON> <what is wrong> (expected <what>)
 * On failure base may be partly updated but stays releasable. */
int clm_cfg_apply(const clm_cfg_key *keys, size_t nkeys, void *base, json_t *root,
                  clm_cfg_source from, const char *name, char *errbuf, size_t errsize);

/* Frees everything the rows own in base and zeroes those fields and counts. */
void clm_cfg_release(const clm_cfg_key *keys, size_t nkeys, void *base);

/* Writes one entry per row: a Markdown table (with its header) when markdown
 * is true, else aligned plain text for a terminal. */
void clm_cfg_describe(const clm_cfg_key *keys, size_t nkeys, FILE *out, bool markdown);

#endif
