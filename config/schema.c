/* config/schema.c - what a row of the key table (config/keys.c) means: how a
 * value of its type is checked and stored, its default, its release, and its
 * entry in the key reference (see config/schema.h for each column).
 */
#include "config/schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lifecycle.h"


/* Values longer than this (as JSON) are shortened in messages. */
#define SHOWN_MAX 64

static const char secret_problem[] = "is a secret and not allowed here";
static const char secret_expect[] =
    "it in the secrets file: secrets_file or $CREDENTIALS_DIRECTORY/clmd-secrets.json";

/* ---- messages ---------------------------------------------------------- */

void clm_cfg_errorf(char *errbuf, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errsize == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsize, fmt, ap);
    va_end(ap);
    for (char *p = errbuf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int clm_cfg_error(char *errbuf, size_t errsize, const char *name, const char *key, const json_t *v,
                  bool redact, const char *problem, const char *expect)
{
    char shortened[SHOWN_MAX + 1];
    const char *shown = "<redacted>";
    char *dump = NULL;

    if (!redact) {
        dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
        shown = dump ? dump : "<value>";
        if (dump && strlen(dump) > SHOWN_MAX) {
            snprintf(shortened, sizeof shortened, "%.*s...", SHOWN_MAX - 3, dump);
            shown = shortened;
        }
    }
    clm_cfg_errorf(errbuf, errsize, "%s: %s: %s %s (expected %s)", name, key, shown, problem,
                   expect);
    free(dump);
    return -EINVAL;
}

static int oom_error(char *errbuf, size_t errsize, const char *name)
{
    clm_cfg_errorf(errbuf, errsize, "%s: out of memory", name);
    return -ENOMEM;
}

/* What row accepts, e.g. "an integer 10..600000". */
static void expect_text(const clm_cfg_key *row, char *buf, size_t size)
{
    size_t used = 0;

    switch (row->type) {
    case CLM_CFG_STRING:
        if (row->max > 0)
            used = (size_t)snprintf(buf, size, "a string of %lld..%lld bytes", (long long)row->min,
                                    (long long)row->max);
        else
            used = (size_t)snprintf(buf, size, row->min > 0 ? "a non-empty string" : "a string");
        if ((row->flags & CLM_CFG_NO_SPACE) && used < size)
            snprintf(buf + used, size - used, " without whitespace");
        break;
    case CLM_CFG_INT:
    case CLM_CFG_INT64:
        if (row->flags & CLM_CFG_DAY_ALIGNED)
            snprintf(buf, size, "a whole number of minutes dividing 86400, within %lld..%lld",
                     (long long)row->min, (long long)row->max);
        else
            snprintf(buf, size, "%s %lld..%lld",
                     (row->flags & CLM_CFG_POW2) ? "a power of two" : "an integer",
                     (long long)row->min, (long long)row->max);
        break;
    case CLM_CFG_DOUBLE:
        snprintf(buf, size, "a number %g..%g", row->dmin, row->dmax);
        break;
    case CLM_CFG_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case CLM_CFG_ENUM:
        used = (size_t)snprintf(buf, size, "one of");
        for (size_t i = 0; row->allowed[i] && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s \"%s\"", i ? "," : "",
                                     row->allowed[i]);
        break;
    case CLM_CFG_STRLIST:
        if (row->min > 0)
            snprintf(buf, size, "a list of at least %lld string%s", (long long)row->min,
                     row->min == 1 ? "" : "s");
        else
            snprintf(buf, size, "a list of strings");
        break;
    case CLM_CFG_STRMAP:
        snprintf(buf, size, "an object of string, number or boolean values");
        break;
    case CLM_CFG_INTLIST:
        snprintf(buf, size, "a list of at least %zu integer%s, each %lld..%lld%s", row->min_count,
                 row->min_count == 1 ? "" : "s", (long long)row->min, (long long)row->max,
                 (row->flags & CLM_CFG_DISTINCT) ? ", all different" : "");
        break;
    case CLM_CFG_CUSTOM:
        snprintf(buf, size, "%s", row->expect);
        break;
    }
}

/* ---- storing one value ------------------------------------------------- */

/* One value being stored: where it goes, where it came from, how to report. */
typedef struct value_ctx {
    const clm_cfg_key *row;
    void *base;
    void *field;
    json_t *v;
    clm_cfg_source from;
    const char *name;
    const char *key;
    char *errbuf;
    size_t errsize;
    bool redact;
    char expect[256];
} value_ctx;

static int bad(const value_ctx *c, const char *problem)
{
    return clm_cfg_error(c->errbuf, c->errsize, c->name, c->key, c->v, c->redact, problem,
                         c->expect);
}

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return true;
    return false;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

char *clm_cfg_join(const char *prefix, const char *key)
{
    size_t plen = prefix ? strlen(prefix) : 0, klen = strlen(key);
    char *path = malloc(plen + 1 + klen + 1);

    if (!path)
        return NULL;
    if (prefix) {
        memcpy(path, prefix, plen);
        path[plen++] = '.';
    }
    memcpy(path + plen, key, klen + 1);
    return path;
}

static int set_string(const value_ctx *c)
{
    const clm_cfg_key *row = c->row;
    char **dst = c->field;
    char *copy;
    int64_t len;

    if (!json_is_string(c->v))
        return bad(c, "has the wrong type");
    len = (int64_t)json_string_length(c->v);
    if (len < row->min)
        return bad(c, "is too short");
    if (row->max > 0 && len > row->max)
        return bad(c, "is too long");
    if ((row->flags & CLM_CFG_NO_SPACE) && has_space(json_string_value(c->v)))
        return bad(c, "contains whitespace");
    copy = strdup(json_string_value(c->v));
    if (!copy)
        return oom_error(c->errbuf, c->errsize, c->name);
    free(*dst);
    *dst = copy;
    return 0;
}

static int get_integer(const value_ctx *c, int64_t *x)
{
    int64_t n;

    if (!json_is_integer(c->v))
        return bad(c, "has the wrong type");
    n = json_integer_value(c->v);
    if (n < c->row->min || n > c->row->max)
        return bad(c, "is out of range");
    if ((c->row->flags & CLM_CFG_POW2) && (n <= 0 || (n & (n - 1)) != 0))
        return bad(c, "is not a power of two");
    if ((c->row->flags & CLM_CFG_DAY_ALIGNED) && (n <= 0 || n % 60 != 0 || 86400 % n != 0))
        return bad(c, "is not a whole number of minutes dividing 86400");
    *x = n;
    return 0;
}

static int set_enum(const value_ctx *c)
{
    const char *s;

    if (!json_is_string(c->v))
        return bad(c, "has the wrong type");
    s = json_string_value(c->v);
    for (int i = 0; c->row->allowed[i]; i++) {
        if (strcmp(c->row->allowed[i], s) == 0) {
            *(int *)c->field = i;
            return 0;
        }
    }
    return bad(c, "is not allowed");
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static int set_list(const value_ctx *c)
{
    size_t n, *count = (size_t *)((char *)c->base + c->row->count_offset);
    char ***dst = c->field;
    char **list;

    if (!json_is_array(c->v))
        return bad(c, "has the wrong type");
    n = json_array_size(c->v);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(c->v, i)))
            return bad(c, "has the wrong type");
    if ((int64_t)n < c->row->min)
        return bad(c, "has too few entries");
    list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return oom_error(c->errbuf, c->errsize, c->name);
    for (size_t i = 0; i < n; i++) {
        list[i] = strdup(json_string_value(json_array_get(c->v, i)));
        if (!list[i]) {
            free_list(list, i);
            return oom_error(c->errbuf, c->errsize, c->name);
        }
    }
    free_list(*dst, *count);
    *dst = list;
    *count = n;
    return 0;
}

static int set_intlist(const value_ctx *c)
{
    size_t n, *count = (size_t *)((char *)c->base + c->row->count_offset);
    int **dst = c->field;
    int *list;

    if (!json_is_array(c->v))
        return bad(c, "has the wrong type");
    n = json_array_size(c->v);
    for (size_t i = 0; i < n; i++)
        if (!json_is_integer(json_array_get(c->v, i)))
            return bad(c, "has the wrong type");
    if (n < c->row->min_count)
        return bad(c, "has too few entries");
    for (size_t i = 0; i < n; i++) {
        json_int_t x = json_integer_value(json_array_get(c->v, i));

        if (x < c->row->min || x > c->row->max)
            return bad(c, "has an entry out of range");
        for (size_t j = 0; (c->row->flags & CLM_CFG_DISTINCT) && j < i; j++)
            if (json_integer_value(json_array_get(c->v, j)) == x)
                return bad(c, "has a repeated entry");
    }
    list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return oom_error(c->errbuf, c->errsize, c->name);
    for (size_t i = 0; i < n; i++)
        list[i] = (int)json_integer_value(json_array_get(c->v, i));
    free(*dst);
    *dst = list;
    *count = n;
    return 0;
}

/* Sets key to value in the map, replacing the value of an existing entry. */
static int map_put(clm_kv **map, size_t *count, const char *key, const char *value, bool secret)
{
    char *k = NULL, *val = strdup(value);
    clm_kv *grown;

    if (!val)
        return -ENOMEM;
    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*map)[i].key, key) == 0) {
            free((*map)[i].value);
            (*map)[i].value = val;
            (*map)[i].secret = secret;
            return 0;
        }
    }
    k = strdup(key);
    if (!k)
        goto out_free_copies;
    grown = realloc(*map, (*count + 1) * sizeof *grown);
    if (!grown)
        goto out_free_copies;
    grown[*count] = (clm_kv){.key = k, .value = val, .secret = secret};
    *map = grown;
    (*count)++;
    return 0;

out_free_copies:
    free(k);
    free(val);
    return -ENOMEM;
}

/* A map value other than a string in librdkafka's text form: an integer
 * in decimal, a real in the fewest digits that read back the same, true or
 * false. False for any other JSON type (a string is taken as it is). */
static bool map_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v)) {
        buf[0] = '\0';
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return true;
    }
    if (json_is_boolean(v)) {
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
        return true;
    }
    return false;
}

static int set_map(const value_ctx *c)
{
    size_t *count = (size_t *)((char *)c->base + c->row->count_offset);
    const char *k;
    json_t *e;

    if (!json_is_object(c->v))
        return bad(c, "has the wrong type");
    json_object_foreach(c->v, k, e) {
        bool secret = in_list(c->row->allowed, k);
        char *key, text[40];
        int r;

        if (clm_cfg_is_comment(k))
            continue;
        key = clm_cfg_join(c->key, k);
        if (!key)
            return oom_error(c->errbuf, c->errsize, c->name);
        if (secret && c->from == CLM_CFG_FROM_MAIN)
            r = clm_cfg_error(c->errbuf, c->errsize, c->name, key, e, true, secret_problem,
                              secret_expect);
        else if (!map_text(e, text, sizeof text))
            r = clm_cfg_error(c->errbuf, c->errsize, c->name, key, e, c->redact || secret,
                              "has the wrong type", "a string, a number or a boolean");
        else if (map_put(c->field, count, k, json_is_string(e) ? json_string_value(e) : text,
                         c->redact || secret) < 0)
            r = oom_error(c->errbuf, c->errsize, c->name);
        else
            r = 0;
        free(key);
        if (r < 0)
            return r;
    }
    return 0;
}

int clm_cfg_item_problem(clm_cfg_problem *p, size_t i, const char *member, const json_t *value,
                         const char *text, const char *expect)
{
    if (member)
        snprintf(p->at, sizeof p->at, "[%zu].%s", i, member);
    else
        snprintf(p->at, sizeof p->at, "[%zu]", i);
    p->value = value;
    p->text = text;
    p->expect = expect;
    return -EINVAL;
}

int clm_cfg_set_value(const clm_cfg_key *row, void *base, json_t *v, clm_cfg_source from,
                      const char *name, const char *key, char *errbuf, size_t errsize)
{
    value_ctx c = {
        .row = row,
        .base = base,
        .field = (char *)base + row->offset,
        .v = v,
        .from = from,
        .name = name,
        .key = key,
        .errbuf = errbuf,
        .errsize = errsize,
        .redact = from == CLM_CFG_FROM_SECRETS || (row->flags & CLM_CFG_SECRET),
    };
    clm_cfg_problem problem = {.text = "is not valid"};
    int64_t n = 0;
    char *at;
    int r;

    expect_text(row, c.expect, sizeof c.expect);
    if ((row->flags & CLM_CFG_SECRET) && from == CLM_CFG_FROM_MAIN)
        return clm_cfg_error(errbuf, errsize, name, key, v, true, secret_problem, secret_expect);
    switch (row->type) {
    case CLM_CFG_STRING:
        return set_string(&c);
    case CLM_CFG_INT:
        r = get_integer(&c, &n);
        if (r == 0)
            *(int *)c.field = (int)n;
        return r;
    case CLM_CFG_INT64:
        r = get_integer(&c, &n);
        if (r == 0)
            *(int64_t *)c.field = n;
        return r;
    case CLM_CFG_DOUBLE:
        if (!json_is_number(v))
            return bad(&c, "has the wrong type");
        if (json_number_value(v) < row->dmin || json_number_value(v) > row->dmax)
            return bad(&c, "is out of range");
        *(double *)c.field = json_number_value(v);
        return 0;
    case CLM_CFG_BOOL:
        if (!json_is_boolean(v))
            return bad(&c, "has the wrong type");
        *(bool *)c.field = json_is_true(v);
        return 0;
    case CLM_CFG_ENUM:
        return set_enum(&c);
    case CLM_CFG_STRLIST:
        return set_list(&c);
    case CLM_CFG_STRMAP:
        return set_map(&c);
    case CLM_CFG_INTLIST:
        return set_intlist(&c);
    case CLM_CFG_CUSTOM:
        r = row->parse(v, c.field, &problem);
        if (r == -ENOMEM)
            return oom_error(errbuf, errsize, name);
        if (r == 0)
            return 0;
        problem.at[sizeof problem.at - 1] = '\0';
        at = malloc(strlen(key) + strlen(problem.at) + 1);
        if (!at)
            return oom_error(errbuf, errsize, name);
        strcpy(stpcpy(at, key), problem.at);
        clm_cfg_error(errbuf, errsize, name, at, problem.value ? problem.value : v, c.redact,
                      problem.text, problem.expect ? problem.expect : c.expect);
        free(at);
        return -EINVAL;
    }
    return -EINVAL;
}

/* ---- defaults and release ----------------------------------------------- */

int clm_cfg_set_defaults(const clm_cfg_key *keys, size_t nkeys, void *base, char *errbuf,
                         size_t errsize)
{
    for (size_t i = 0; i < nkeys; i++) {
        json_error_t jerr;
        json_t *v;
        int r;

        if (!keys[i].def)
            continue;
        v = json_loads(keys[i].def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
            clm_cfg_errorf(errbuf, errsize, "built-in defaults: %s: %s is not valid JSON: %s",
                           keys[i].path, keys[i].def, jerr.text);
            return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
        }
        r = clm_cfg_set_value(&keys[i], base, v, CLM_CFG_FROM_MAIN, "built-in defaults",
                              keys[i].path, errbuf, errsize);
        json_decref(v);
        if (r < 0)
            return r;
    }
    return 0;
}

void clm_cfg_release(const clm_cfg_key *keys, size_t nkeys, void *base)
{
    for (size_t i = 0; i < nkeys; i++) {
        void *field = (char *)base + keys[i].offset;
        size_t *count = (size_t *)((char *)base + keys[i].count_offset);

        switch (keys[i].type) {
        case CLM_CFG_STRING:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case CLM_CFG_STRLIST:
            free_list(*(char ***)field, *count);
            *(char ***)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_STRMAP:
            for (size_t j = 0; j < *count; j++) {
                free((*(clm_kv **)field)[j].key);
                free((*(clm_kv **)field)[j].value);
            }
            free(*(clm_kv **)field);
            *(clm_kv **)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_INTLIST:
            free(*(int **)field);
            *(int **)field = NULL;
            *count = 0;
            break;
        case CLM_CFG_CUSTOM:
            if (keys[i].release)
                keys[i].release(field);
            break;
        case CLM_CFG_INT:
        case CLM_CFG_INT64:
        case CLM_CFG_DOUBLE:
        case CLM_CFG_BOOL:
        case CLM_CFG_ENUM:
            break;
        }
    }
}

/* ---- the key reference ------------------------------------------------- */

static const char *type_text(const clm_cfg_key *row)
{
    static const char *const names[] = {
        [CLM_CFG_STRING] = "string",       [CLM_CFG_INT] = "integer",
        [CLM_CFG_INT64] = "integer",       [CLM_CFG_DOUBLE] = "number",
        [CLM_CFG_BOOL] = "boolean",        [CLM_CFG_ENUM] = "enum",
        [CLM_CFG_STRLIST] = "string list", [CLM_CFG_STRMAP] = "string map",
        [CLM_CFG_INTLIST] = "integer list",
    };

    return row->type == CLM_CFG_CUSTOM ? row->type_name : names[row->type];
}

/* The "allowed" column: bounds and restrictions, "" when there are none. */
static void allowed_text(const clm_cfg_key *row, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    switch (row->type) {
    case CLM_CFG_STRING:
        if (row->max > 0)
            used = (size_t)snprintf(buf, size, "%lld..%lld bytes", (long long)row->min,
                                    (long long)row->max);
        else if (row->min > 0)
            used = (size_t)snprintf(buf, size, "non-empty");
        if ((row->flags & CLM_CFG_NO_SPACE) && used < size)
            used += (size_t)snprintf(buf + used, size - used, "%sno whitespace", used ? ", " : "");
        break;
    case CLM_CFG_INT:
    case CLM_CFG_INT64:
        used = (size_t)snprintf(buf, size, "%lld..%lld%s%s", (long long)row->min,
                                (long long)row->max,
                                (row->flags & CLM_CFG_POW2) ? ", power of two" : "",
                                (row->flags & CLM_CFG_DAY_ALIGNED)
                                    ? ", whole minutes dividing 86400"
                                    : "");
        break;
    case CLM_CFG_DOUBLE:
        used = (size_t)snprintf(buf, size, "%g..%g", row->dmin, row->dmax);
        break;
    case CLM_CFG_BOOL:
        used = (size_t)snprintf(buf, size, "true, false");
        break;
    case CLM_CFG_ENUM:
        for (size_t i = 0; row->allowed[i] && used < size; i++)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", row->allowed[i]);
        break;
    case CLM_CFG_STRLIST:
        if (row->min > 0)
            used = (size_t)snprintf(buf, size, "at least %lld entr%s", (long long)row->min,
                                    row->min == 1 ? "y" : "ies");
        break;
    case CLM_CFG_STRMAP:
        used = (size_t)snprintf(buf, size, "string, number or boolean values");
        break;
    case CLM_CFG_INTLIST:
        used = (size_t)snprintf(buf, size, "at least %zu entr%s, each %lld..%lld%s", row->min_count,
                                row->min_count == 1 ? "y" : "ies", (long long)row->min,
                                (long long)row->max,
                                (row->flags & CLM_CFG_DISTINCT) ? ", all different" : "");
        break;
    case CLM_CFG_CUSTOM:
        used = (size_t)snprintf(buf, size, "%s", row->expect);
        break;
    }
    if ((row->flags & CLM_CFG_SECRET) && used < size)
        snprintf(buf + used, size - used, "%ssecrets file only", used ? ", " : "");
}

/* Writes s with '|' escaped, so it stays inside one Markdown table cell. */
static void put_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* Writes text word-wrapped to 78 columns, each line indented by 4. */
static void put_wrapped(FILE *out, const char *text)
{
    const size_t width = 78 - 4;

    while (*text) {
        size_t len = strlen(text), cut = len;

        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        fprintf(out, "    %.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

/* Plain text: defaults longer than this are written below the help text,
 * so one long default does not widen the column for every key. */
#define DEFAULT_COLUMN_MAX 24
static const char default_below[] = "(below)";

void clm_cfg_describe(const clm_cfg_key *keys, size_t nkeys, FILE *out, bool markdown)
{
    size_t kw = strlen("KEY"), tw = strlen("TYPE"), dw = strlen("DEFAULT");
    char allowed[256];

    if (markdown) {
        fputs("| key | type | default | allowed | description |\n", out);
        fputs("|-----|------|---------|---------|-------------|\n", out);
        for (size_t i = 0; i < nkeys; i++) {
            allowed_text(&keys[i], allowed, sizeof allowed);
            fprintf(out, "| `%s` | ", keys[i].path);
            put_cell(out, type_text(&keys[i]));
            fputs(keys[i].def ? " | `" : " | none", out);
            if (keys[i].def)
                put_cell(out, keys[i].def);
            fputs(keys[i].def ? "` | " : " | ", out);
            put_cell(out, allowed);
            fputs(" | ", out);
            put_cell(out, keys[i].help);
            fputs(" |\n", out);
        }
        return;
    }
    for (size_t i = 0; i < nkeys; i++) {
        size_t l = strlen(keys[i].path), t = strlen(type_text(&keys[i]));
        size_t d = keys[i].def ? strlen(keys[i].def) : strlen("none");

        if (d > DEFAULT_COLUMN_MAX)
            d = strlen(default_below);
        kw = l > kw ? l : kw;
        tw = t > tw ? t : tw;
        dw = d > dw ? d : dw;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", (int)kw, "KEY", (int)tw, "TYPE", (int)dw, "DEFAULT",
            "ALLOWED");
    for (size_t i = 0; i < nkeys; i++) {
        const char *def = keys[i].def ? keys[i].def : "none";
        bool below = strlen(def) > DEFAULT_COLUMN_MAX;

        allowed_text(&keys[i], allowed, sizeof allowed);
        fprintf(out, "%-*s  %-*s  %-*s%s%s\n", (int)kw, keys[i].path, (int)tw, type_text(&keys[i]),
                allowed[0] ? (int)dw : 0, below ? default_below : def, allowed[0] ? "  " : "",
                allowed);
        put_wrapped(out, keys[i].help);
        if (below) {
            fputs("    Default:\n", out);
            put_wrapped(out, def);
        }
    }
}

void clm_config_describe(FILE *out, bool markdown)
{
    static const char *const rules[] = {
        "The configuration is one JSON object; each dotted key below is a member of the "
        "section named by its first part (\"flush\": {\"interval_ms\": 1000}). A key that is "
        "not listed is an error.",
        "Any key whose name starts with \"//\" is a comment and is ignored at every level; "
        "duplicate keys are errors, so give each comment its own name (\"// brokers\").",
        "Secrets are never read from the main file. The file named by secrets_file, then "
        "$CREDENTIALS_DIRECTORY/clmd-secrets.json when it exists (systemd LoadCredential=), "
        "may hold only redis.password, http.bearer_token, erasure.hmac_key and "
        "kafka.properties; their Kafka properties are merged into kafka.properties, the later "
        "file winning.",
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (markdown) {
            fprintf(out, "%s\n\n", rules[i]);
        } else {
            put_wrapped(out, rules[i]);
            fputc('\n', out);
        }
    }
    clm_cfg_describe(clm_config_keys, clm_config_key_count, out, markdown);
}
