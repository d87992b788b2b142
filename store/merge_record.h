/* store/merge_record.h - the merge record of the identity merge: what the
 * owner of an anonymous id sends the owner of the known id (README.md,
 * "Identity merge"): the record id, the two ids, the identify event's time
 * and id, and the anonymous customer's whole state as its checkpoint record
 * (store/record.h), so the receiver folds in exactly what the sender froze.
 *
 * Layout (version 1), in this order:
 *   version           byte, CLM_MERGE_RECORD_VERSION
 *   record id         le64 (clm_merge_record_id, core/merge.h)
 *   merge_ts          le64, two's complement (the identify event's time)
 *   known id          byte length 1..CLM_ID_MAX, then the bytes
 *   anonymous id      byte length 1..CLM_ID_MAX, then the bytes
 *   identify event id byte length 0..CLM_ID_MAX, then the bytes
 *   state             the anonymous customer's checkpoint record, to the end
 * Stage and peak travel as raw indices: both ends run one stage model.
 *
 * Strict: the decoder refuses another version, truncation, a bad length,
 * the same id on both sides, and whatever clm_record_decode refuses in the
 * state (trailing bytes included). For every input it accepts,
 * clm_merge_record_encode of the result gives the input back.
 *
 * Pure and not thread-safe: one record, one thread.
 */
#ifndef CLM_STORE_MERGE_RECORD_H
#define CLM_STORE_MERGE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"
#include "core/event.h"
#include "store/record.h"

#define CLM_MERGE_RECORD_VERSION 1

/* A merge record; embedded, init/release (release frees anon). */
typedef struct clm_merge_record {
    uint64_t id;
    int64_t merge_ts;
    uint8_t known_len, event_id_len;
    char known[CLM_ID_MAX + 1];    /* NUL-terminated */
    char event_id[CLM_ID_MAX + 1]; /* NUL-terminated, may be empty */
    clm_customer *anon;            /* the anonymous customer (its id is the anonymous id) */
} clm_merge_record;

void clm_merge_record_init(clm_merge_record *m);
/* Frees anon and leaves m as after init; accepts NULL. */
void clm_merge_record_release(clm_merge_record *m);

/* Appends the record of `anon` merging into `known` to b. Returns 0,
 * -EINVAL for an id of a bad length or the same id on both sides, -ENOMEM
 * (b then holds what it held before). */
int clm_merge_record_encode(clm_record_buf *b, uint64_t id, int64_t merge_ts, const char *known,
                            size_t known_len, const char *event_id, size_t event_id_len,
                            const clm_customer *anon);

/* Decodes a record into m (fresh from init). Returns 0, -EPROTO with a
 * line in errbuf naming what is wrong (m untouched), or -ENOMEM. */
int clm_merge_record_decode(clm_merge_record *m, const uint8_t *p, size_t n, char *errbuf,
                            size_t errsize);

#endif
