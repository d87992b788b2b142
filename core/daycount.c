/* core/daycount.c - the field table of the per-bucket counters (see daycount.h).
 *
 * One row per fixed int64 member of clm_daycount, in struct order; the Redis
 * field name is the member name, so the table and the struct cannot disagree
 * about spelling. The per-stage arrays (entered, advanced) are not listed:
 * their field names depend on the stage model.
 */
#include "core/daycount.h"

#define FIELD(m) { #m, offsetof(clm_daycount, m) }

const clm_daycount_field clm_daycount_fields[] = {
    FIELD(new_leads),
    FIELD(new_customers),
    FIELD(orders),
    FIELD(revenue_micros),
    FIELD(refunds_micros),
    FIELD(spend_micros),
    FIELD(nps_promoters),
    FIELD(nps_passives),
    FIELD(nps_detractors),
    FIELD(csat_n),
    FIELD(csat_sum),
    FIELD(csat_satisfied),
    FIELD(sessions),
    FIELD(session_ms),
    FIELD(churned),
    FIELD(reactivated),
    FIELD(leads_contacted),
    FIELD(lead_response_ms_sum),
    FIELD(upgrades),
    FIELD(repeat_orders),
    FIELD(active_customers),
    FIELD(last_active),
    FIELD(customers_delta),
    FIELD(leads_converted),
    FIELD(current_last_active),
    FIELD(current_since),
};

const size_t clm_daycount_nfields = sizeof(clm_daycount_fields) / sizeof(clm_daycount_fields[0]);

/* Every fixed member is listed: the last row ends where the stage arrays begin. */
_Static_assert(sizeof(clm_daycount_fields) / sizeof(clm_daycount_fields[0]) ==
                   offsetof(clm_daycount, entered) / sizeof(int64_t),
               "clm_daycount_fields must list every fixed int64 member of clm_daycount");
