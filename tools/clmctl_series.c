/* tools/clmctl_series.c - see clmctl_series.h. */
#include "tools/clmctl_series.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "tools/clmctl_out.h"

static bool listed(const char *const *v, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
            return true;
    return false;
}

static void list_valid(const char *const *valid, size_t nvalid, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nvalid && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", valid[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int clmctl_columns_pick(const char *spec, const char *const *valid, size_t nvalid,
                        const char *const *defaults, size_t ndefaults, const char ***out,
                        size_t *nout, char *errbuf, size_t errsize)
{
    size_t cap = spec ? 1 : ndefaults;
    for (const char *p = spec; p && *p; p++)
        cap += *p == ',';
    const char **cols = calloc(cap ? cap : 1, sizeof(*cols));
    size_t n = 0;
    if (!cols) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    if (!spec) {
        memcpy(cols, defaults, ndefaults * sizeof(*cols));
        *out = cols;
        *nout = ndefaults;
        return 0;
    }
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        size_t i = 0;
        while (i < nvalid && !(strlen(valid[i]) == len && memcmp(valid[i], p, len) == 0))
            i++;
        if (len == 0) {
            snprintf(errbuf, errsize, "--columns: an empty column name in \"%s\"", spec);
            goto out_invalid;
        }
        if (i == nvalid) {
            char list[2048];
            list_valid(valid, nvalid, list, sizeof(list));
            snprintf(errbuf, errsize, "--columns: unknown column \"%.*s\" (valid: %s)",
                     (int)(len > 128 ? 128 : len), p, list);
            goto out_invalid;
        }
        if (listed(cols, n, p, len)) {
            snprintf(errbuf, errsize, "--columns: column \"%s\" given twice", valid[i]);
            goto out_invalid;
        }
        cols[n++] = valid[i];
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = cols;
    *nout = n;
    return 0;

out_invalid:
    free(cols);
    return -EINVAL;
}

int clmctl_parse_date(const char *s, const char *opt, int64_t *day, char *errbuf, size_t errsize)
{
    char ts[40];
    int64_t ms;
    bool shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (size_t i = 0; shape && i < 10; i++)
        shape = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
    if (shape)
        snprintf(ts, sizeof(ts), "%sT00:00:00Z", s);
    if (!shape || clm_rfc3339_parse(ts, strlen(ts), &ms) < 0) {
        snprintf(errbuf, errsize, "%s: \"%.64s\" is not a date (YYYY-MM-DD)", opt, s);
        return -EINVAL;
    }
    *day = clm_day_of_ms(ms);
    return 0;
}

int clmctl_span_days(const clmctl_span *span, int64_t data_first, int64_t data_end,
                     int64_t *first, int64_t *end, char *errbuf, size_t errsize)
{
    int64_t from = 0, to = data_end;
    int r;
    if (span->to && (r = clmctl_parse_date(span->to, "--to", &to, errbuf, errsize)) < 0)
        return r;
    if (span->from && (r = clmctl_parse_date(span->from, "--from", &from, errbuf, errsize)) < 0)
        return r;
    if (!span->from)
        from = to - span->last + 1;
    if (from > to && span->to) {
        snprintf(errbuf, errsize, "--from %s is after --to %s", span->from, span->to);
        return -EINVAL;
    }
    if (to - from + 1 > span->max_days) {
        snprintf(errbuf, errsize, "--from .. --to spans %lld days; at most %d",
                 (long long)(to - from + 1), span->max_days);
        return -EINVAL;
    }
    *first = from > data_first ? from : data_first;
    *end = to < data_end ? to : data_end;
    if (*first > *end) {
        char a[16], b[16];
        clm_day_format(data_first, a);
        clm_day_format(data_end, b);
        snprintf(errbuf, errsize, "no days in that range (there are days %s .. %s)", a, b);
        return -ENOENT;
    }
    return 0;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static int print_json(const clmctl_ctx *x, const char *source, const clmctl_row *rows, size_t n,
                      const char *const *cols, size_t ncols, char *errbuf, size_t errsize)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < ncols; c++) {
            const char *v = clmctl_hash_get(rows[i].h, cols[c]);
            if (v && !json_number(v)) {
                char esc[80];
                clmctl_text_escape(v, esc, sizeof(esc));
                snprintf(errbuf, errsize, "%s: %s of %s is \"%s\", not a number", source, cols[c],
                         rows[i].date, esc);
                return -EIO;
            }
        }
    /* column names and dates are plain ASCII (the valid names, YYYY-MM-DD) */
    fputs("[", x->out);
    for (size_t i = 0; i < n; i++) {
        fprintf(x->out, "%s\n  {\"date\": \"%s\"", i ? "," : "", rows[i].date);
        for (size_t c = 0; c < ncols; c++) {
            const char *v = clmctl_hash_get(rows[i].h, cols[c]);
            if (v)
                fprintf(x->out, ", \"%s\": %s", cols[c], v);
        }
        fputs("}", x->out);
    }
    fputs(n ? "\n]\n" : "]\n", x->out);
    if (ferror(x->out)) {
        snprintf(errbuf, errsize, "writing the JSON output failed");
        return -EIO;
    }
    return 0;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int print_csv(const clmctl_ctx *x, const clmctl_row *rows, size_t n,
                     const char *const *cols, size_t ncols, char *errbuf, size_t errsize)
{
    fputs("date", x->out);
    for (size_t c = 0; c < ncols; c++) {
        fputc(',', x->out);
        csv_field(x->out, cols[c]);
    }
    fputc('\n', x->out);
    for (size_t i = 0; i < n; i++) {
        fputs(rows[i].date, x->out);
        for (size_t c = 0; c < ncols; c++) {
            const char *v = clmctl_hash_get(rows[i].h, cols[c]);
            fputc(',', x->out);
            if (v) {
                size_t len = clmctl_text_escape(v, NULL, 0);
                char *esc = malloc(len + 1);
                if (!esc) {
                    snprintf(errbuf, errsize, "out of memory");
                    return -ENOMEM;
                }
                clmctl_text_escape(v, esc, len + 1);
                csv_field(x->out, esc);
                free(esc);
            }
        }
        fputc('\n', x->out);
    }
    if (ferror(x->out)) {
        snprintf(errbuf, errsize, "writing the output failed");
        return -EIO;
    }
    return 0;
}

static int print_table(const clmctl_ctx *x, const clmctl_row *rows, size_t n,
                       const char *const *cols, size_t ncols, char *errbuf, size_t errsize)
{
    clmctl_table *t = clmctl_table_new(ncols + 1);
    const char **cells = calloc(ncols + 1, sizeof(*cells));
    int r = -ENOMEM;
    if (!t || !cells)
        goto out_free_table;
    cells[0] = "date";
    for (size_t c = 0; c < ncols; c++) {
        cells[c + 1] = cols[c];
        clmctl_table_align(t, c + 1, CLMCTL_RIGHT);
    }
    if ((r = clmctl_table_add(t, cells)) < 0)
        goto out_free_table;
    for (size_t i = 0; i < n; i++) {
        cells[0] = rows[i].date;
        for (size_t c = 0; c < ncols; c++) {
            const char *v = clmctl_hash_get(rows[i].h, cols[c]);
            cells[c + 1] = v ? v : "-";
        }
        if ((r = clmctl_table_add(t, cells)) < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    if (r < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
    free(cells);
    clmctl_table_free(t);
    return r;
}

int clmctl_series_print(const clmctl_ctx *x, const char *source, const clmctl_row *rows,
                        size_t n, const char *const *cols, size_t ncols, char *errbuf,
                        size_t errsize)
{
    if (x->json)
        return print_json(x, source, rows, n, cols, ncols, errbuf, errsize);
    if (x->csv)
        return print_csv(x, rows, n, cols, ncols, errbuf, errsize);
    return print_table(x, rows, n, cols, ncols, errbuf, errsize);
}

void clmctl_rows_free(clmctl_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        clmctl_hash_free(rows[i].h);
    free(rows);
}
