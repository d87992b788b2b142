/* core/rule.c - parsing and evaluating segment rules (core/rule.h).
 *
 * A rule compiles into an array of nodes (children by index) and an array of
 * literals; evaluation walks the tree, short-circuiting and/or.
 */
#include "core/rule.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_op { N_OR, N_AND, N_NOT, N_CMP, N_IN, N_TRUTHY };
enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

typedef struct lit {
    clm_rule_kind kind;
    double num;
    bool b;
    char *str;
    size_t len;
} lit;

typedef struct node {
    uint8_t op;      /* enum node_op */
    uint8_t cmp;     /* enum cmp_op (N_CMP) */
    int attr;        /* N_CMP, N_IN, N_TRUTHY */
    int a, b;        /* children: N_OR, N_AND (a, b), N_NOT (a) */
    size_t lit0, nlit; /* N_CMP (one), N_IN (nlit) */
} node;

struct clm_rule {
    node *nodes;
    size_t n, cap;
    lit *lits;
    size_t nl, lcap;
    int root;
};

/* ---- lexer -------------------------------------------------------------- */

enum tok_kind { T_END, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_CMP, T_NAME, T_NUM,
                T_STR, T_TRUE, T_FALSE, T_AND, T_OR, T_NOT, T_IN, T_BAD };

typedef struct parser {
    const char *text;
    size_t pos;        /* next character to lex */
    /* current token */
    enum tok_kind tk;
    size_t tpos, tlen; /* where it starts, how long */
    int cmp;           /* T_CMP */
    double num;        /* T_NUM */
    clm_rule *r;
    clm_rule_resolve_fn resolve;
    void *rctx;
    int depth;
    int err;           /* 0, -EINVAL or -ENOMEM */
    char *errbuf;
    size_t errsize;
} parser;

static int fail(parser *p, size_t pos, const char *what)
{
    if (p->err)
        return p->err;
    p->err = -EINVAL;
    if (p->errbuf && p->errsize)
        snprintf(p->errbuf, p->errsize, "at %zu: %s", pos + 1, what);
    return p->err;
}

static int nomem(parser *p)
{
    if (!p->err)
        p->err = -ENOMEM;
    return p->err;
}

static bool name_start(int c)
{
    return isalpha(c) || c == '_';
}

static bool name_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
}

static bool is_word(const parser *p, const char *w)
{
    size_t n = strlen(w);
    return p->tlen == n && memcmp(p->text + p->tpos, w, n) == 0;
}

/* Scans a number at s; returns its length (0: none). */
static size_t scan_number(const char *s, double *out)
{
    size_t i = 0;

    if (s[i] == '-')
        i++;
    if (!isdigit((unsigned char)s[i]))
        return 0;
    while (isdigit((unsigned char)s[i]))
        i++;
    if (s[i] == '.') {
        i++;
        if (!isdigit((unsigned char)s[i]))
            return 0;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-')
            j++;
        if (!isdigit((unsigned char)s[j]))
            return 0;
        while (isdigit((unsigned char)s[j]))
            j++;
        i = j;
    }
    if (name_char((unsigned char)s[i]) && s[i] != '-')
        return 0; /* 12abc */
    char buf[64];
    if (i >= sizeof buf)
        return 0;
    memcpy(buf, s, i);
    buf[i] = '\0';
    *out = strtod(buf, NULL);
    if (!isfinite(*out))
        return 0;
    return i;
}

static void next(parser *p)
{
    const char *s = p->text;

    while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
        p->pos++;
    p->tpos = p->pos;
    p->tlen = 1;
    char c = s[p->pos];
    switch (c) {
    case '\0': p->tk = T_END; p->tlen = 0; return;
    case '(': p->tk = T_LPAREN; p->pos++; return;
    case ')': p->tk = T_RPAREN; p->pos++; return;
    case '[': p->tk = T_LBRACK; p->pos++; return;
    case ']': p->tk = T_RBRACK; p->pos++; return;
    case ',': p->tk = T_COMMA; p->pos++; return;
    default: break;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
        bool eq = s[p->pos + 1] == '=';
        p->tk = T_CMP;
        p->tlen = eq ? 2 : 1;
        if (c == '=')
            p->cmp = C_EQ;
        else if (c == '!')
            p->cmp = C_NE;
        else if (c == '<')
            p->cmp = eq ? C_LE : C_LT;
        else
            p->cmp = eq ? C_GE : C_GT;
        if ((c == '=' || c == '!') && !eq)
            p->tk = T_BAD; /* a lone '=' or '!' */
        p->pos += p->tlen;
        return;
    }
    if (c == '"') {
        size_t i = p->pos + 1;
        while (s[i] && s[i] != '"') {
            if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\'))
                i++;
            i++;
        }
        if (!s[i]) {
            p->tk = T_BAD;
            p->tlen = i - p->pos;
            return;
        }
        p->tk = T_STR;
        p->tlen = i + 1 - p->pos;
        p->pos = i + 1;
        return;
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        size_t n = scan_number(s + p->pos, &p->num);
        p->tk = n ? T_NUM : T_BAD;
        p->tlen = n ? n : 1;
        p->pos += p->tlen;
        return;
    }
    if (name_start((unsigned char)c)) {
        size_t i = p->pos;
        while (name_char((unsigned char)s[i]))
            i++;
        p->tlen = i - p->pos;
        p->pos = i;
        p->tk = T_NAME;
        if (is_word(p, "and"))
            p->tk = T_AND;
        else if (is_word(p, "or"))
            p->tk = T_OR;
        else if (is_word(p, "not"))
            p->tk = T_NOT;
        else if (is_word(p, "in"))
            p->tk = T_IN;
        else if (is_word(p, "true"))
            p->tk = T_TRUE;
        else if (is_word(p, "false"))
            p->tk = T_FALSE;
        return;
    }
    p->tk = T_BAD;
    p->pos++;
}

/* ---- building ----------------------------------------------------------- */

static int add_node(parser *p, node nd)
{
    clm_rule *r = p->r;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        node *nn = realloc(r->nodes, cap * sizeof *nn);
        if (!nn)
            return nomem(p);
        r->nodes = nn;
        r->cap = cap;
    }
    r->nodes[r->n] = nd;
    return (int)r->n++;
}

/* Appends the current token (a value) as a literal. */
static int add_lit(parser *p)
{
    clm_rule *r = p->r;
    lit l = {0};

    switch (p->tk) {
    case T_NUM: l.kind = CLM_RULE_NUM; l.num = p->num; break;
    case T_TRUE: l.kind = CLM_RULE_BOOL; l.b = true; break;
    case T_FALSE: l.kind = CLM_RULE_BOOL; l.b = false; break;
    case T_STR: {
        const char *s = p->text + p->tpos + 1;
        size_t n = p->tlen - 2, k = 0;
        l.kind = CLM_RULE_STR;
        l.str = malloc(n + 1);
        if (!l.str)
            return nomem(p);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
                i++;
            l.str[k++] = s[i];
        }
        l.str[k] = '\0';
        l.len = k;
        break;
    }
    default: return fail(p, p->tpos, "expected a value");
    }
    if (r->nl == r->lcap) {
        size_t cap = r->lcap ? r->lcap * 2 : 8;
        lit *nl = realloc(r->lits, cap * sizeof *nl);
        if (!nl) {
            free(l.str);
            return nomem(p);
        }
        r->lits = nl;
        r->lcap = cap;
    }
    r->lits[r->nl++] = l;
    return 0;
}

/* ---- parser ------------------------------------------------------------- */

static int parse_or(parser *p);

static bool is_value(enum tok_kind k)
{
    return k == T_NUM || k == T_STR || k == T_TRUE || k == T_FALSE;
}

static int parse_primary(parser *p)
{
    if (p->tk == T_LPAREN) {
        if (++p->depth > CLM_RULE_MAX_DEPTH)
            return fail(p, p->tpos, "nested too deeply");
        next(p);
        int a = parse_or(p);
        if (a < 0)
            return a;
        if (p->tk != T_RPAREN)
            return fail(p, p->tpos, "expected ')'");
        p->depth--;
        next(p);
        return a;
    }
    if (p->tk != T_NAME)
        return fail(p, p->tpos, p->tk == T_END ? "expected a name or '('" :
                                                  "expected a name, '(' or 'not'");
    int attr = p->resolve(p->rctx, p->text + p->tpos, p->tlen);
    if (attr < 0)
        return fail(p, p->tpos, "unknown name");
    next(p);
    if (p->tk == T_CMP) {
        node nd = {.op = N_CMP, .cmp = (uint8_t)p->cmp, .attr = attr, .lit0 = p->r->nl, .nlit = 1};
        next(p);
        if (!is_value(p->tk))
            return fail(p, p->tpos, "expected a value");
        if (nd.cmp >= C_LT && p->tk != T_NUM)
            return fail(p, p->tpos, "expected a number");
        if (add_lit(p) < 0)
            return p->err;
        next(p);
        return add_node(p, nd);
    }
    if (p->tk == T_IN) {
        node nd = {.op = N_IN, .attr = attr, .lit0 = p->r->nl};
        next(p);
        if (p->tk != T_LBRACK)
            return fail(p, p->tpos, "expected '['");
        do {
            next(p);
            if (!is_value(p->tk))
                return fail(p, p->tpos, "expected a value");
            if (add_lit(p) < 0)
                return p->err;
            nd.nlit++;
            next(p);
        } while (p->tk == T_COMMA);
        if (p->tk != T_RBRACK)
            return fail(p, p->tpos, "expected ',' or ']'");
        next(p);
        return add_node(p, nd);
    }
    if (p->tk == T_BAD)
        return fail(p, p->tpos, "expected an operator");
    return add_node(p, (node){.op = N_TRUTHY, .attr = attr});
}

static int parse_unary(parser *p)
{
    if (p->tk != T_NOT)
        return parse_primary(p);
    if (++p->depth > CLM_RULE_MAX_DEPTH)
        return fail(p, p->tpos, "nested too deeply");
    next(p);
    int a = parse_unary(p);
    if (a < 0)
        return a;
    p->depth--;
    return add_node(p, (node){.op = N_NOT, .a = a});
}

static int parse_and(parser *p)
{
    int a = parse_unary(p);
    while (a >= 0 && p->tk == T_AND) {
        next(p);
        int b = parse_unary(p);
        if (b < 0)
            return b;
        a = add_node(p, (node){.op = N_AND, .a = a, .b = b});
    }
    return a;
}

static int parse_or(parser *p)
{
    int a = parse_and(p);
    while (a >= 0 && p->tk == T_OR) {
        next(p);
        int b = parse_and(p);
        if (b < 0)
            return b;
        a = add_node(p, (node){.op = N_OR, .a = a, .b = b});
    }
    return a;
}

int clm_rule_parse(const char *text, clm_rule_resolve_fn resolve, void *rctx, clm_rule **out,
                   char *errbuf, size_t errsize)
{
    parser p = {.text = text, .resolve = resolve, .rctx = rctx, .errbuf = errbuf,
                .errsize = errsize};

    if (strlen(text) > CLM_RULE_MAX_LEN)
        return fail(&p, CLM_RULE_MAX_LEN, "the rule is too long");
    p.r = calloc(1, sizeof *p.r);
    if (!p.r)
        return -ENOMEM;
    next(&p);
    int root = parse_or(&p);
    if (root >= 0 && p.tk != T_END)
        root = fail(&p, p.tpos, p.tk == T_RPAREN ? "unbalanced ')'" : "expected 'and', 'or' or the end");
    if (root < 0) {
        clm_rule_free(p.r);
        return p.err ? p.err : root;
    }
    p.r->root = root;
    *out = p.r;
    return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static bool lit_equal(const lit *l, const clm_rule_value *v)
{
    if (l->kind != v->kind)
        return false;
    switch (v->kind) {
    case CLM_RULE_NUM: return v->num == l->num;
    case CLM_RULE_BOOL: return v->b == l->b;
    case CLM_RULE_STR: return v->len == l->len && memcmp(v->str, l->str, l->len) == 0;
    default: return false;
    }
}

static bool eval_node(const clm_rule *r, int i, clm_rule_get_fn get, void *gctx)
{
    const node *nd = &r->nodes[i];
    clm_rule_value v;

    switch (nd->op) {
    case N_OR: return eval_node(r, nd->a, get, gctx) || eval_node(r, nd->b, get, gctx);
    case N_AND: return eval_node(r, nd->a, get, gctx) && eval_node(r, nd->b, get, gctx);
    case N_NOT: return !eval_node(r, nd->a, get, gctx);
    default: break;
    }
    v = (clm_rule_value){0};
    get(gctx, nd->attr, &v);
    if (v.kind == CLM_RULE_NONE)
        return false;
    if (nd->op == N_TRUTHY)
        return v.kind == CLM_RULE_BOOL ? v.b : v.kind == CLM_RULE_NUM ? v.num != 0 : v.len > 0;
    if (nd->op == N_IN) {
        for (size_t k = 0; k < nd->nlit; k++)
            if (lit_equal(&r->lits[nd->lit0 + k], &v))
                return true;
        return false;
    }
    const lit *l = &r->lits[nd->lit0];
    if (nd->cmp == C_EQ)
        return lit_equal(l, &v);
    if (l->kind != v.kind)
        return false;
    switch (nd->cmp) {
    case C_NE: return !lit_equal(l, &v);
    case C_LT: return v.num < l->num;
    case C_LE: return v.num <= l->num;
    case C_GT: return v.num > l->num;
    default: return v.num >= l->num;
    }
}

bool clm_rule_eval(const clm_rule *r, clm_rule_get_fn get, void *gctx)
{
    return eval_node(r, r->root, get, gctx);
}

bool clm_rule_uses(const clm_rule *r, int id)
{
    for (size_t i = 0; i < r->n; i++) {
        uint8_t op = r->nodes[i].op;
        if ((op == N_CMP || op == N_IN || op == N_TRUTHY) && r->nodes[i].attr == id)
            return true;
    }
    return false;
}

void clm_rule_free(clm_rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nl; i++)
        free(r->lits[i].str);
    free(r->lits);
    free(r->nodes);
    free(r);
}
