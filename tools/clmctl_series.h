/* tools/clmctl_series.h - one row per UTC day with chosen columns: what
 * `clmctl days` and `clmctl kpi --history` print.
 *
 * A series is rows of (date, hash of field -> stored value); the columns
 * shown are picked by name from the command's valid ones (--columns). It
 * prints as an aligned table ("-" where a row lacks a column), as CSV
 * (header "date,<col>,...", an absent value empty) or as JSON: an array of
 * {"date": "YYYY-MM-DD", "<col>": <number>, ...} in column order, absent
 * values left out, each value written as the number text stored (exact, no
 * float conversion). A stored value that is not a JSON number is -EIO
 * naming the key, the day and the column.
 */
#ifndef CLMCTL_SERIES_H
#define CLMCTL_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "tools/clmctl_cmd.h"
#include "tools/clmctl_redis.h"

typedef struct clmctl_row {
    char date[16];
    clmctl_hash *h;
} clmctl_row;

/* Picks the columns of spec ("a,b,c"; NULL: the defaults) among valid[0..
 * nvalid). *out (free it) gets pointers into valid or defaults. An unknown
 * or repeated name is -EINVAL with errbuf naming it and, for an unknown one,
 * listing the valid ones; -ENOMEM. */
int clmctl_columns_pick(const char *spec, const char *const *valid, size_t nvalid,
                        const char *const *defaults, size_t ndefaults, const char ***out,
                        size_t *nout, char *errbuf, size_t errsize);

/* Parses "YYYY-MM-DD" into a UTC day number; `opt` names the option in
 * errbuf ("--from: \"x\" is not a date (YYYY-MM-DD)"). 0 or -EINVAL. */
int clmctl_parse_date(const char *s, const char *opt, int64_t *day, char *errbuf, size_t errsize);

/* The days *first..*end of `span` (tools/clmctl_cmd.h) among the days
 * data_first..data_end there are. -EINVAL (a bad date, from after to, a
 * span longer than span->max_days) or -ENOENT (no day there is in it),
 * errbuf saying which. */
int clmctl_span_days(const clmctl_span *span, int64_t data_first, int64_t data_end,
                     int64_t *first, int64_t *end, char *errbuf, size_t errsize);

/* Prints the rows as x asks (x->json, x->csv, else a table). `source`
 * names where the rows came from in an error. */
int clmctl_series_print(const clmctl_ctx *x, const char *source, const clmctl_row *rows,
                        size_t n, const char *const *cols, size_t ncols, char *errbuf,
                        size_t errsize);

/* Frees the hashes of rows[0..n) and the array. */
void clmctl_rows_free(clmctl_row *rows, size_t n);

#endif
