/* tests/upgrade_compare.h - what an upgraded store may differ in from a
 * clean run of this release, and nothing more (tests/test-upgrade.c).
 *
 * Incidents did not exist before this release: a customer alerted before
 * the upgrade has no open incident in the upgraded store, where a clean run
 * has one. So checkpoint records are compared with incident_at cleared (and
 * in this release's encoding: a version-2 record is re-encoded), the alert
 * keys are compared apart (upgrade_alerts_check), and the alert counters of
 * <prefix>stats are left out.
 */
#ifndef CLM_TESTS_UPGRADE_COMPARE_H
#define CLM_TESTS_UPGRADE_COMPARE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* A canonical dump (harness_redis_dump) with every checkpoint record (of
 * clm:ckpt:{...} and clm:upgrade:v1) decoded, its incident_at cleared and
 * encoded again, and the lines of clm:alerts, clm:alerts:paging:{...} and
 * the alerts_* fields of clm:stats dropped. Returns a new string; fails the
 * test on a record it cannot decode. */
char *upgrade_normalize(const char *dump);

/* The alert ids of the stream clm:alerts (malloc'd array of malloc'd
 * strings, *n of them). */
char **upgrade_stream_ids(redisContext *c, size_t *n);
void upgrade_ids_free(char **v, size_t n);

/* Checks the upgraded stream (`up`) against a clean run's (`clean`), given
 * the ids the upgraded store held before this release ran (`before`):
 *   - no alert of before is raised again;
 *   - every other upgraded alert is the clean run's alert with its id, the
 *     same document but for emitted_at and, for an incident opened before
 *     the upgrade, the incident key;
 *   - every clean alert not in before is in the upgraded stream, but for
 *     the resolved alerts of incidents opened before the upgrade.
 * Fails the test with the first difference; returns the number of upgraded
 * alerts compared. */
size_t upgrade_alerts_check(redisContext *up, redisContext *clean, char **before, size_t nbefore);

#endif
