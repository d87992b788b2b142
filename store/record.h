/* store/record.h - the checkpoint record of one customer: its whole state
 * (core/customer.h) as one compact, versioned binary value.
 *
 * The record is the value of a field of a per-partition Redis hash whose
 * field name is the customer id, so neither the id nor the partition is in
 * it. Version 1 was release 0.1.0's text hash (store/v1.h), version 2
 * release 0.2.0's record (the layout below without fields 19 and 20); this
 * codec writes version 3 and reads versions 2 and 3, refusing any other.
 * Field 20 (traits) came within version 3: a record without traits is the
 * same bytes as before it, and a reader from before it refuses one with
 * traits (unknown flag bit 20).
 *
 * Not persisted (transient or derived): flags DIRTY, REF and AT_RISK,
 * indexed, flush_gen, part, id, id_len.
 *
 * Encodings: "uv" is an unsigned LEB128 varint (7 bits a byte, low group
 * first; a multi-byte varint never ends in a 0x00 byte and fits 64 bits);
 * "zz" is a zigzag varint of a signed value ((v << 1) ^ (v >> 63), as uv);
 * "zz(a - b)" is the 64-bit wrapping difference, zigzagged, decoded as the
 * wrapping sum, so every value has exactly one encoding; "byte" is one raw
 * byte; "le64" is 8 bytes little-endian. D is the UTC day of last_seen
 * (clm_day_of_ms; 0 when last_seen is 0).
 *
 * Layout, in this order:
 *
 *   #   field                    encoding                     present when (bit in flags)
 *   -   version                  byte, CLM_RECORD_VERSION     always
 *   -   flags                    uv, bits below; others = 0   always
 *   0   first_seen               zz                           any of the three != 0
 *       last_seen                zz(last_seen - first_seen)
 *       events                   zz
 *   1   last_type                byte, < CLM_EV__COUNT        != CLM_EV_OTHER
 *   2   orders                   zz                           any of the three != 0
 *       revenue_micros           zz
 *       refunds_micros           zz
 *   3   clv_rate_micros          zz                           != 0
 *   4   first_purchase           zz(v - first_seen)           != CLM_NO_TS
 *   5   first_signup             zz(v - first_seen)           != CLM_NO_TS
 *   6   stage                    byte, < CLM_STAGES_MAX or    stage or peak != CLM_STAGE_NONE,
 *       peak                     byte   CLM_STAGE_NONE        or stage_since != 0
 *       stage_since              zz(v - last_seen)
 *   7   entered                  uv bitmap of ranks != -1,    any != -1
 *                                then zz(entered[i] - D) per set bit, rank order
 *   8   active_bucket            zz(v - D)                    bucket != CLM_NO_TS or bits != 0
 *       active_bits              uv
 *   9   src_offset               zz                           offset != -1 or topic != 0
 *       src_topic                byte
 *   10  risk_day                 zz(risk_day - D)             any of risk_day, risk_next != -1,
 *       risk_next                zz(risk_next - risk_day)     risk_e4 != 0
 *       risk_e4                  uv, <= 10000
 *   11  risk (clm_risk_state)    block below                  not the initial state
 *   12  rfm (clm_rfm)            block below                  not the initial state
 *   13  dedup                    uv n (1..65535), then per    n > 0
 *                                entry, newest first: le64 hash, and
 *                                zz(ts - last_seen) for the newest,
 *                                uv (ts[i+1] - ts[i]) for the others
 *   14  first_contact            zz(v - first_seen)           != CLM_NO_TS
 *   15  lead_contact             zz(v - first_seen)           != CLM_NO_TS
 *   16  alert_at                 zz(v - last_seen)            != CLM_NO_TS
 *   17  CLM_CUST_DISARMED        (the bit itself)             flag set
 *   18  returned                 zz(v - D)                    != CLM_NO_TS
 *   19  incident_at              zz(v - last_seen)            != CLM_NO_TS (version 3)
 *   20  traits                   uv n (1..65535), then the    traits_len > 0 (version 3)
 *                                n bytes of the trait block (core/trait.h)
 *
 *   risk block: uv risk flags, then
 *   r0  last_day                 zz(last_day - D)             any of the four not -1,-1,0,0
 *       first_day                zz(first_day - last_day)
 *       active_days              zz
 *       day_bits                 uv(day_bits ^ active_bits)   (the same bits under daily
 *                                                             KPI buckets: 1 byte)
 *   r1  session_day              zz(session_day - D)          session_day != -1 or a count != 0
 *       sessions                 uv bitmap, bit k: day session_day - k has a
 *                                count; then one byte (1..255) per set bit, k order
 *   r2  ticket_day               uv n (1..8) remembered days, then  ticket_day[0] >= 0
 *                                zz(ticket_day[0] - D), uv gaps ticket_day[i-1] - ticket_day[i]
 *   r3  payment_failed_day       zz(v - D)                    != -1
 *   r4  downgrade_day            zz(v - D)                    != -1
 *   r5  nps                      zz                           nps != -1 or nps_ts != CLM_NO_TS
 *       nps_ts                   zz(nps_ts - last_seen)
 *   r6  csat, csat_ts            as nps                       csat != -1 or csat_ts != CLM_NO_TS
 *
 *   rfm block: zz(last_day - D), zz(first_day - last_day), zz x, uv day_bits,
 *   zz first_micros, zz repeat_micros.
 *
 * A fresh customer is 2 bytes (version, flags 0). A group whose bit is clear
 * holds its fresh value and takes no bytes.
 *
 * Strict and canonical: the decoder rejects truncation, trailing bytes,
 * overlong varints, unknown flag bits, a set bit whose group holds its fresh
 * value, bits 19 and 20 in a version-2 record, a trait block clm_traits_check
 * refuses, values outside their field's type (int32 days, int8 answers), a
 * stage or peak that is neither < CLM_STAGES_MAX nor CLM_STAGE_NONE, a
 * last_type >= CLM_EV__COUNT, risk_e4 > 10000, -1 as a present entered
 * bucket, a session count of 0 marked present, ticket days below 0 (they
 * are kept descending, -1 after the last), more than 8 tickets or 65535
 * dedup entries, dedup times that go back. For every input it accepts,
 * clm_record_encode of the result gives the input back byte for byte, but
 * for the version byte of a version-2 record (written back as 3).
 *
 * The encoder expects the core's invariants, which clm_customer_apply keeps:
 * ticket days descending then -1, dedup entries in time order, stage and
 * peak indices as above, last_type a clm_event_type, risk_e4 <= 10000.
 * Stage and peak are raw indices: mapping them to names (and across stage
 * models) is the caller's business.
 *
 * Pure and not thread-safe: one buffer, one thread.
 */
#ifndef CLM_STORE_RECORD_H
#define CLM_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"

#define CLM_RECORD_VERSION 3 /* 2: release 0.2.0; 1: release 0.1.0's text hash */

/* A growable byte buffer; embedded, init/release. */
typedef struct clm_record_buf {
    uint8_t *p;
    size_t len, cap;
} clm_record_buf;

void clm_record_buf_init(clm_record_buf *b);
/* Frees the bytes and leaves b empty (init); accepts NULL. */
void clm_record_buf_release(clm_record_buf *b);

/* Appends the record of c to b (does not reset b). Returns 0 or -ENOMEM
 * (b then holds what it held before). */
int clm_record_encode(clm_record_buf *b, const clm_customer *c);

/* Decodes a record into c, which must be a fresh customer from
 * clm_customer_new (id and part already set); stage and peak are taken as
 * raw indices (no remapping).
 * On failure c is left as fresh as it was (no partial state) and errbuf says
 * what is wrong, naming the field and the version, e.g.
 * "record version 9 is not one this clmd reads (it reads 2 and 3)",
 * "record version 3: field risk.sessions: truncated",
 * "record version 3: field stage: 200 is not a stage index",
 * "record version 3: 3 trailing bytes".
 * Returns 0, -EPROTO (malformed) or -ENOMEM. */
int clm_record_decode(clm_customer *c, const uint8_t *p, size_t n, char *errbuf, size_t errsize);

#endif
