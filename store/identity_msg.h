/* store/identity_msg.h - the messages of identity.topic, the identity
 * merge's internal topic (README.md, "Identity merge"): what one
 * partition's owner sends the owner of another.
 *
 * Layout: a kind byte, then
 *   'Q' merge request, keyed by the anonymous id:
 *       merge_ts le64 (the identify event's time), known id, anonymous id,
 *       identify event id (each a length byte, then the bytes)
 *   'R' merge record, keyed by the known id: store/merge_record.h's
 *       record, to the end
 *   'F' forwarded event, keyed by the known id: ref_ms le64 (the original
 *       message's timestamp, for the future check), known id, anonymous id
 *       (the event's own customer_id and key), then the event's JSON, as
 *       read, to the end
 *   'U' alias release, keyed by the anonymous id: as a merge request
 *       (time, known id, anonymous id, an empty event id): the known id
 *       was erased, the alias anonymous -> known is to go
 * Ids are 1..CLM_ID_MAX bytes (the event id 0..CLM_ID_MAX); the known and
 * anonymous ids differ.
 *
 * Strict: the decoder refuses another kind, truncation, bad lengths and
 * equal ids; for 'R' it does not decode the record itself (body, body_len).
 * Pure and reentrant.
 */
#ifndef CLM_STORE_IDENTITY_MSG_H
#define CLM_STORE_IDENTITY_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "store/record.h"

#define CLM_IDMSG_REQUEST 'Q'
#define CLM_IDMSG_RECORD 'R'
#define CLM_IDMSG_FORWARD 'F'
#define CLM_IDMSG_UNALIAS 'U'

typedef struct clm_idmsg {
    char kind;
    int64_t ts; /* Q: merge_ts; F: ref_ms */
    uint8_t known_len, anon_len, event_id_len;
    char known[CLM_ID_MAX + 1];    /* Q, F (NUL-terminated) */
    char anon[CLM_ID_MAX + 1];     /* Q, F */
    char event_id[CLM_ID_MAX + 1]; /* Q (U: empty) */
    const uint8_t *body;           /* R: the merge record; F: the JSON (into the input) */
    size_t body_len;
} clm_idmsg;

/* Appends a message to b. Returns 0, -EINVAL (an id of a bad length, equal
 * ids), -ENOMEM (b then holds what it held). clm_idmsg_record appends the
 * kind byte only: append the merge record after it. */
int clm_idmsg_request(clm_record_buf *b, int64_t merge_ts, const char *known, size_t known_len,
                      const char *anon, size_t anon_len, const char *event_id,
                      size_t event_id_len);
int clm_idmsg_record(clm_record_buf *b);
int clm_idmsg_unalias(clm_record_buf *b, int64_t ts, const char *known, size_t known_len,
                      const char *anon, size_t anon_len);
int clm_idmsg_forward(clm_record_buf *b, int64_t ref_ms, const char *known, size_t known_len,
                      const char *anon, size_t anon_len, const char *json, size_t json_len);

/* Decodes p[0..n) into m. Returns 0, or -EPROTO with a line in errbuf (m
 * then unspecified). */
int clm_idmsg_decode(clm_idmsg *m, const uint8_t *p, size_t n, char *errbuf, size_t errsize);

#endif
