/* store/cmdbuf.h - a growable buffer of RESP-formatted commands.
 *
 * The flush formats its whole transaction into these buffers, which the
 * writer sends as they are (hiredis' redisAppendFormattedCommand).
 * Not thread-safe: one owner at a time.
 */
#ifndef CLM_STORE_CMDBUF_H
#define CLM_STORE_CMDBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct clm_cmdbuf {
    char *buf;
    size_t len, cap;
    size_t ncmds;
} clm_cmdbuf;

void clm_cmdbuf_init(clm_cmdbuf *b);
void clm_cmdbuf_release(clm_cmdbuf *b);
void clm_cmdbuf_reset(clm_cmdbuf *b);

/* Appends one command (binary-safe arguments; argvlen NULL: strlen).
 * Returns 0 or -ENOMEM. */
int clm_cmdbuf_append(clm_cmdbuf *b, int argc, const char **argv, const size_t *argvlen);

/* Incremental form for commands with many arguments: begin with the
 * argument count, then add exactly that many arguments. Returns 0 or
 * -ENOMEM (the buffer is then unusable until reset). */
int clm_cmdbuf_begin(clm_cmdbuf *b, size_t argc);
int clm_cmdbuf_arg(clm_cmdbuf *b, const void *arg, size_t len);
int clm_cmdbuf_arg_i64(clm_cmdbuf *b, int64_t v);

/* Appends bytes already in RESP form (arguments gathered in another
 * buffer with clm_cmdbuf_arg) without counting a command. */
int clm_cmdbuf_raw(clm_cmdbuf *b, const char *data, size_t len);

/* HINCRBY key field by. */
int clm_cmdbuf_hincrby(clm_cmdbuf *b, const char *key, const char *field, int64_t by);

#endif
