/* store/record_layout.h - what the checkpoint record's writer (record.c)
 * and reader (record_read.c) share: the presence bits and the canonical-form
 * rules. Private to store/record*.c. */
#ifndef CLM_STORE_RECORD_LAYOUT_H
#define CLM_STORE_RECORD_LAYOUT_H

#include <stdint.h>

#include "core/customer.h"

/* Presence bits of the record's flags, in record order (record.h). */
enum {
    F_SEEN = 1u << 0,
    F_LAST_TYPE = 1u << 1,
    F_ORDERS = 1u << 2,
    F_CLV_RATE = 1u << 3,
    F_FIRST_PURCHASE = 1u << 4,
    F_FIRST_SIGNUP = 1u << 5,
    F_STAGE = 1u << 6,
    F_ENTERED = 1u << 7,
    F_ACTIVE = 1u << 8,
    F_SOURCE = 1u << 9,
    F_RISK_EVAL = 1u << 10,
    F_RISK = 1u << 11,
    F_RFM = 1u << 12,
    F_DEDUP = 1u << 13,
    F_FIRST_CONTACT = 1u << 14,
    F_LEAD_CONTACT = 1u << 15,
    F_ALERT_AT = 1u << 16,
    F_DISARMED = 1u << 17,
    F_RETURNED = 1u << 18,
    F_INCIDENT = 1u << 19, /* version 3 */
    F_TRAITS = 1u << 20,   /* version 3 */
    F__COUNT = 21,
    F__COUNT_V2 = 19,
};

/* Presence bits of the risk block. */
enum {
    R_DAYS = 1u << 0,
    R_SESSIONS = 1u << 1,
    R_TICKETS = 1u << 2,
    R_PAYMENT_FAILED = 1u << 3,
    R_DOWNGRADE = 1u << 4,
    R_NPS = 1u << 5,
    R_CSAT = 1u << 6,
    R__COUNT = 7,
};

/* Most bytes a record takes besides its dedup entries, and per entry. */
#define FIXED_MAX 1024u
#define DEDUP_ENTRY_MAX 18u

/* 64-bit wrapping difference and sum: every value has one delta. */
static inline int64_t clm_record_wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline int64_t clm_record_wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* The flags of c's record: a bit for each group not at its fresh value. A
 * reader refuses a record flagging a group that decodes to its fresh value
 * (one record per state). */
uint32_t clm_record_presence(const clm_customer *c);

/* The same for the risk block's bits. */
unsigned clm_record_risk_presence(const clm_risk_state *s);

#endif
