/* store/schema.h - the schema key <prefix>schema: what it holds (the layout
 * version and the lifecycle stages the stored records were written with)
 * and the check a start makes of it, on one server (store/upgrade.h) and on
 * Redis Cluster (daemon/prep_cluster.h) alike.
 *
 * Pure: no I/O; the caller reads the key (HGETALL) and writes it.
 */
#ifndef CLM_STORE_SCHEMA_H
#define CLM_STORE_SCHEMA_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "core/stages.h"

/* "a,b,c": the stage names of the model, in index order ("" without one),
 * as the schema's `stages` field holds them. */
void clm_schema_stage_list(const clm_stages *m, char *buf, size_t size);

/* Checks s, the HGETALL reply of the schema key (named `schema`, for the
 * messages), against this release's layout version and `stages`
 * (clm_schema_stage_list). When s is a hash with a version, *version gets
 * it, whether it is this release's or not; otherwise *version is left as
 * it is. Returns 1 when the schema names this release's version and these
 * stages, 0 when it has no version (an empty store, or the v1 layout),
 * -EINVAL when the store cannot be used with this configuration (not a
 * hash, another version, other stages: errbuf says why and what to do). */
int clm_schema_check(const redisReply *s, const char *schema, const char *stages, int *version,
                     char *errbuf, size_t errsize);

#endif
