/* tools/clmctl_out.c - see clmctl_out.h. */
#include "tools/clmctl_out.h"

#include <errno.h>
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
        row[i] = strdup(cells[i] ? cells[i] : "");
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
