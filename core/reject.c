/* core/reject.c - names of rejection reasons and the rejection record. */
#include "core/reject.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* Public names: DLQ headers, the Redis rejected hash and metrics use them. */
static const char *const reason_names[CLM_REJ__COUNT] = {
    [CLM_REJ_NONE] = "none",
    [CLM_REJ_TOO_LARGE] = "too_large",
    [CLM_REJ_INVALID_UTF8] = "invalid_utf8",
    [CLM_REJ_INVALID_JSON] = "invalid_json",
    [CLM_REJ_NOT_OBJECT] = "not_object",
    [CLM_REJ_MISSING_FIELD] = "missing_field",
    [CLM_REJ_WRONG_TYPE] = "wrong_type",
    [CLM_REJ_BAD_CUSTOMER_ID] = "bad_customer_id",
    [CLM_REJ_BAD_EVENT_ID] = "bad_event_id",
    [CLM_REJ_BAD_TYPE] = "bad_type",
    [CLM_REJ_UNKNOWN_TYPE] = "unknown_type",
    [CLM_REJ_BAD_TIMESTAMP] = "bad_timestamp",
    [CLM_REJ_FUTURE_TIMESTAMP] = "future_timestamp",
    [CLM_REJ_BAD_AMOUNT] = "bad_amount",
    [CLM_REJ_BAD_SCORE] = "bad_score",
    [CLM_REJ_BAD_DURATION] = "bad_duration",
    [CLM_REJ_MISSING_KEY] = "missing_key",
    [CLM_REJ_KEY_MISMATCH] = "key_mismatch",
    [CLM_REJ_LATE_DROPPED] = "late_dropped",
    [CLM_REJ_BAD_TRAIT] = "bad_trait",
};

const char *clm_reason_name(clm_reason r)
{
    if ((unsigned)r >= CLM_REJ__COUNT)
        return "unknown";
    return reason_names[r];
}

int clm_reject_set(clm_reject *rej, clm_reason r, const char *fmt, ...)
{
    va_list ap;

    rej->reason = r;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof(rej->detail), fmt, ap);
    va_end(ap);
    return -EINVAL;
}
