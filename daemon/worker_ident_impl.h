/* daemon/worker_ident_impl.h - the state of a worker's identity merge,
 * shared by daemon/worker_identity.c (the protocol's steps) and
 * daemon/worker_ident_store.c (the tables, the outbox, the received ids:
 * loading them, writing them with each cut, delivering the outbox).
 * Private to daemon/worker_ident*.c; the worker's thread only, but the
 * delivery reports (an outbox message's atomic state).
 */
#ifndef CLM_DAEMON_WORKER_IDENT_IMPL_H
#define CLM_DAEMON_WORKER_IDENT_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/alias.h"
#include "daemon/worker_impl.h"
#include "store/record.h"

/* The header naming a message (its outbox field): what receivers dedup by. */
#define ID_HEADER "clm.id"

/* States of an outbox message in memory. */
enum { OUT_WAIT, OUT_INFLIGHT, OUT_DELIVERED };

/* An outbox message: committed by flush `gen` (0: read from Redis). */
typedef struct out_msg {
    int32_t number;
    uint64_t gen;
    char field[48];
    char *key;
    size_t key_len;
    uint8_t *val;
    size_t val_len;
    _Atomic int state;
} out_msg;

/* A write for the next cut, into partition number `number`'s section. */
typedef struct row {
    int32_t number;
    enum { ROW_ALIAS_SET, ROW_ALIAS_DEL, ROW_OUTBOX_SET, ROW_OUTBOX_DEL, ROW_SEEN_SET,
           ROW_SEEN_DEL, ROW_MERGED_SET, ROW_MERGED_DEL } kind;
    char *field, *value; /* value: NULL for deletions */
    size_t field_len, value_len;
} row;

/* Messages of identity.topic a partition number received (the hash of
 * their id, header clm.id), with the wall time: a message produced twice
 * (its sender stopped after producing it, before the outbox knew) is
 * dropped the second time. Kept SEEN_KEEP_MS. Open addressing; 0 is
 * free. */
#define SEEN_KEEP_MS (24LL * 3600 * 1000)
typedef struct seen_set {
    uint64_t *h;
    int64_t *at;
    size_t cap, n;
} seen_set;

typedef struct ident_part {
    int32_t number;
    clm_alias *alias;  /* its anonymous ids merged away: alias -> known id */
    clm_alias *merged; /* merges into its known ids: anonymous id -> known id */
    seen_set seen;
    int64_t expired_wm; /* watermark of the last expiry pass (CLM_NO_TS: none) */
} ident_part;

struct worker_ident {
    ident_part *parts;
    size_t nparts, cap_parts;
    row *rows;
    size_t nrows, cap_rows;
    out_msg **outs;
    size_t nouts, cap_outs;
    clm_record_buf buf;
};

/* The tables of partition number `number`, or NULL when not held. */
ident_part *ident_part_of(worker_ident *x, int32_t number);
/* A write for the next cut (value NULL for a deletion). */
void ident_add_row(clm_worker *w, int32_t number, int kind, const char *field, size_t field_len,
                   const void *value, size_t value_len);
/* Sends a message keyed `key` through partition number `number`'s outbox,
 * under the id `field` (written by the next cut, produced after it
 * commits). */
void ident_send_msg(clm_worker *w, int32_t number, const char *field, const char *key,
                    size_t key_len, const uint8_t *msg, size_t msg_len);
/* The row of alias -> target made at at_ms. */
void ident_alias_row(clm_worker *w, int32_t number, const char *alias, size_t alias_len,
                     const char *target, size_t target_len, int64_t at_ms);
/* The received-ids set. */
bool ident_seen_has(const seen_set *t, uint64_t h);
int ident_seen_put(seen_set *t, uint64_t h, int64_t at);
/* The hash of a message id (never 0). */
uint64_t ident_id_hash(const char *id, size_t len);
/* Drops expired received ids of every partition number (at most once a
 * minute). */
void ident_prune_seen(clm_worker *w);

#endif
