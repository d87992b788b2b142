/* store/reasons.h - the order in which readers show a customer view's
 * risk_reasons (store/view.h): clmctl at-risk and alerts, the dashboard API.
 */
#ifndef CLM_STORE_REASONS_H
#define CLM_STORE_REASONS_H

#include <jansson.h>

/* Sorts an array of risk reasons ({"signal": string, "contribution":
 * number, ...}) in place by contribution, largest first, equal ones in
 * their stored order. Returns 0, -EINVAL when reasons is not such an array
 * (it is then unchanged), or -ENOMEM. */
int clm_reasons_sort(json_t *reasons);

#endif
