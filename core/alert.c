/* core/alert.c - alert kind names (see alert.h). */
#include "core/alert.h"

#include <string.h>

static const char *const kind_names[CLM_ALERT__COUNT] = {
    [CLM_ALERT_CHURN_RISK] = "churn_risk",
    [CLM_ALERT_CHURNED] = "churned",
    [CLM_ALERT_RESOLVED] = "resolved",
};

const char *clm_resolve_reason_name(clm_resolve_reason r)
{
    switch (r) {
    case CLM_RESOLVE_RISK_FELL:
        return "risk_fell";
    case CLM_RESOLVE_REACTIVATED:
        return "reactivated";
    default:
        return NULL;
    }
}

const char *clm_alert_kind_name(clm_alert_kind k)
{
    return (unsigned)k < CLM_ALERT__COUNT ? kind_names[k] : "unknown";
}

int clm_alert_kind_from_name(const char *name)
{
    for (int i = 0; i < CLM_ALERT__COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}
