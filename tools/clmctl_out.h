/* tools/clmctl_out.h - clmctl's two output forms: aligned text tables for
 * people and JSON documents for scripts.
 *
 * A table is a grid of strings filled row by row (the caller decides whether
 * the first row is a header). Printing pads every column to its widest cell,
 * counted in UTF-8 characters, and separates columns by two spaces; a line
 * ends at its last non-empty cell, unpadded, so no line ends in spaces. The
 * same rows always print the same text.
 *
 * Cells hold data from Redis (customer ids, stage names), which a producer of
 * events chose. A table never writes a byte a terminal would act on: cells
 * are stored escaped by clmctl_text_escape, so an id with ESC sequences or
 * newlines cannot clear the screen, move the cursor or forge rows.
 */
#ifndef CLMCTL_OUT_H
#define CLMCTL_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef struct clmctl_table clmctl_table;

typedef enum clmctl_align {
    CLMCTL_LEFT,
    CLMCTL_RIGHT,
} clmctl_align;

/* A table of ncols (>= 1) columns, every one left-aligned. NULL on ENOMEM. */
clmctl_table *clmctl_table_new(size_t ncols);

/* Frees the table and its cells; accepts NULL. */
void clmctl_table_free(clmctl_table *t);

/* Sets the alignment of column col (< ncols). */
void clmctl_table_align(clmctl_table *t, size_t col, clmctl_align a);

/* Appends a row of ncols cells, copied escaped (clmctl_text_escape); a NULL
 * cell is empty. Returns 0 or
 * -ENOMEM (the table is then unchanged). */
int clmctl_table_add(clmctl_table *t, const char *const *cells);

/* Writes s into out (NUL-terminated, truncated to outsize) with every
 * control or invalid byte made visible: \n \r \t \e \\ for those characters,
 * \xNN for other C0 bytes, DEL and bytes that are not valid UTF-8, \u{NNNN}
 * for C1 controls and the bidirectional overrides and isolates (U+202A..E,
 * U+2066..9). Valid printable UTF-8 is copied as it is. Returns the length
 * of the full escaped text (like snprintf). */
size_t clmctl_text_escape(const char *s, char *out, size_t outsize);

/* Writes every row. Returns 0, -ENOMEM, or -EIO when the stream reports an
 * error. */
int clmctl_table_print(const clmctl_table *t, FILE *out);

/* Writes v as a JSON document (members in insertion order, two-space
 * indentation) followed by a newline. Returns 0, or -EIO with one line in
 * errbuf. Does not take ownership of v. */
int clmctl_json_print(const json_t *v, FILE *out, char *errbuf, size_t errsize);

#endif
