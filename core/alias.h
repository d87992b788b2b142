/* core/alias.h - the identity alias table: which anonymous ids now resolve
 * to which known customer ids (README.md, "Identity merge").
 *
 * An `identify` event merges an anonymous id into a known one; from then on
 * events for the anonymous id belong to the known customer. The table maps
 * an alias (the merged-in id) to its target (the id it was merged into) and
 * remembers when the alias was made (the identify event's time). Targets
 * may themselves be aliases (a -> b, then b -> c): a lookup follows the
 * chain to its end, at most CLM_ALIAS_MAX_HOPS links. An alias never points
 * at itself or closes a cycle.
 *
 * Aliases live a bounded time: clm_alias_expire drops those made more than
 * a lifetime ago (identity.alias_ttl_days), so the table stays bounded by
 * the identify rate times the lifetime.
 *
 * Ids are 1..CLM_ID_MAX bytes, compared as bytes. The table copies them.
 *
 * Not thread-safe: a table belongs to one partition's owner, like the
 * customers it names.
 */
#ifndef CLM_CORE_ALIAS_H
#define CLM_CORE_ALIAS_H

#include <stddef.h>
#include <stdint.h>

/* Longest chain a lookup follows. */
#define CLM_ALIAS_MAX_HOPS 16

typedef struct clm_alias clm_alias;

/* An empty table, or NULL on ENOMEM. */
clm_alias *clm_alias_new(void);
/* Frees the table and its ids; accepts NULL. */
void clm_alias_free(clm_alias *t);

/* Number of aliases held. */
size_t clm_alias_count(const clm_alias *t);

/* Records alias -> target, made at at_ms (epoch ms).
 * Returns 0 when added, 1 when exactly this alias is already there (its
 * time stays the earlier of the two), -EEXIST when the alias points at
 * another target, -ELOOP when the target resolves back to the alias (or is
 * the alias), -EINVAL for an id of a bad length, -ENOMEM (table unchanged). */
int clm_alias_add(clm_alias *t, const char *alias, size_t alias_len, const char *target,
                  size_t target_len, int64_t at_ms);

/* The id `id` resolves to: the end of its chain of aliases (NUL-terminated,
 * valid until the table changes), with its length in *out_len (may be
 * NULL). NULL when `id` is not an alias. A chain longer than
 * CLM_ALIAS_MAX_HOPS resolves to the id reached after that many links. */
const char *clm_alias_lookup(const clm_alias *t, const char *id, size_t len, size_t *out_len);

/* The direct target of `id` (one link, no chain), or NULL. */
const char *clm_alias_target(const clm_alias *t, const char *id, size_t len, int64_t *at_ms);

/* Removes every alias of `id`: the entry with `id` as its alias and every
 * entry whose target is `id` (an erased customer leaves no alias behind).
 * Returns how many entries went (0: none). */
int clm_alias_remove(clm_alias *t, const char *id, size_t len);

/* Drops the aliases made before now_ms - ttl_ms. Returns how many went. */
size_t clm_alias_expire(clm_alias *t, int64_t now_ms, int64_t ttl_ms);

/* Calls fn for each alias (in no defined order) until it returns non-zero,
 * which clm_alias_each then returns; 0 after the last. fn must not change
 * the table. */
typedef int (*clm_alias_fn)(void *arg, const char *alias, size_t alias_len, const char *target,
                            size_t target_len, int64_t at_ms);
int clm_alias_each(const clm_alias *t, clm_alias_fn fn, void *arg);

#endif
