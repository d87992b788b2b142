/* tools/clmctl_out.c - see clmctl_out.h. */
#include "tools/clmctl_out.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct clmctl_table {
    size_t ncols;
    clmctl_align *align;
    char **cells; /* nrows x ncols, row-major */
    size_t nrows, cap;
};

clmctl_table *clmctl_table_new(size_t ncols)
{
    if (ncols == 0)
        return NULL;
    clmctl_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->align = calloc(ncols, sizeof(*t->align));
    if (!t->align) {
        free(t);
        return NULL;
    }
    return t;
}

void clmctl_table_free(clmctl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->align);
    free(t);
}

void clmctl_table_align(clmctl_table *t, size_t col, clmctl_align a)
{
    if (col < t->ncols)
        t->align[col] = a;
}

/* Length of the valid UTF-8 sequence at s (2..4), or 0 when the bytes there
 * are not one (overlong forms, surrogates and values past U+10FFFF included);
 * *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, c = s[0] & 0x1Fu, min = 0x80;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, c = s[0] & 0x0Fu, min = 0x800;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, c = s[0] & 0x07u, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0; /* also stops at the NUL */
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static bool dangerous_cp(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069);
}

size_t clmctl_text_escape(const char *s, char *out, size_t outsize)
{
    size_t len = 0;
    char esc[16];
#define EMIT(text, n)                                                                        \
    do {                                                                                     \
        for (size_t k_ = 0; k_ < (n); k_++, len++)                                           \
            if (len + 1 < outsize)                                                           \
                out[len] = (text)[k_];                                                       \
    } while (0)
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned char b = *p;
        const char *named = b == '\n' ? "\\n" : b == '\r' ? "\\r" : b == '\t' ? "\\t" :
                            b == 0x1B ? "\\e" : b == '\\' ? "\\\\" : NULL;
        if (named) {
            EMIT(named, 2);
            p++;
        } else if (b < 0x20 || b == 0x7F) {
            snprintf(esc, sizeof(esc), "\\x%02X", b);
            EMIT(esc, 4);
            p++;
        } else if (b < 0x80) {
            EMIT((const char *)p, 1);
            p++;
        } else {
            uint32_t cp = 0;
            size_t n = utf8_seq(p, &cp);
            if (n == 0) {
                snprintf(esc, sizeof(esc), "\\x%02X", b);
                EMIT(esc, 4);
                p++;
            } else if (dangerous_cp(cp)) {
                int m = snprintf(esc, sizeof(esc), "\\u{%04" PRIX32 "}", cp);
                EMIT(esc, (size_t)m);
                p += n;
            } else {
                EMIT((const char *)p, n);
                p += n;
            }
        }
    }
#undef EMIT
    if (outsize > 0)
        out[len < outsize ? len : outsize - 1] = '\0';
    return len;
}

/* A malloc'ed escaped copy of s, or NULL on ENOMEM. */
static char *escaped_dup(const char *s)
{
    size_t n = clmctl_text_escape(s, NULL, 0);
    char *d = malloc(n + 1);
    if (d)
        clmctl_text_escape(s, d, n + 1);
    return d;
}

int clmctl_table_add(clmctl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
        if (!c)
            return -ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = escaped_dup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

/* Characters of a UTF-8 string: every byte that does not continue one. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

int clmctl_table_print(const clmctl_table *t, FILE *out)
{
    size_t *width = calloc(t->ncols, sizeof(*width));
    if (!width)
        return -ENOMEM;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        char **row = t->cells + r * t->ncols;
        size_t end = t->ncols; /* past the last non-empty cell: no trailing spaces */
        while (end > 0 && row[end - 1][0] == '\0')
            end--;
        for (size_t c = 0; c < end; c++) {
            size_t gap = width[c] - text_width(row[c]);
            if (c > 0)
                fputs("  ", out);
            if (t->align[c] == CLMCTL_RIGHT)
                pad(out, gap);
            fputs(row[c], out);
            if (t->align[c] == CLMCTL_LEFT && c + 1 < end)
                pad(out, gap);
        }
        fputc('\n', out);
    }
    free(width);
    return ferror(out) ? -EIO : 0;
}

int clmctl_json_print(const json_t *v, FILE *out, char *errbuf, size_t errsize)
{
    if (json_dumpf(v, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', out) == EOF) {
        snprintf(errbuf, errsize, "writing the JSON output failed");
        return -EIO;
    }
    return 0;
}
