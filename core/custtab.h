/* core/custtab.h - the bounded table of cached customers of one worker.
 *
 * An open-addressing hash table (linear probing, XXH3 of the customer id)
 * holding at most `max` customers. It owns the customers it holds. When full,
 * the caller evicts: clm_custtab_evict() walks a CLOCK hand over the slots,
 * giving recently touched customers (CLM_CUST_REF) a second chance and
 * evicting only those the caller's predicate allows (clean ones, whose state
 * Redis already holds). An evicted customer is reloaded from Redis on demand.
 *
 * Not thread-safe: one table per worker thread.
 */
#ifndef CLM_CORE_CUSTTAB_H
#define CLM_CORE_CUSTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/customer.h"

typedef struct clm_custtab clm_custtab;

/* A table for at most `max` (>= 1) customers. Slots grow on demand up to
 * 2 * max rounded to a power of two. Returns NULL on ENOMEM. */
clm_custtab *clm_custtab_new(size_t max);

/* Frees the table and every customer in it; accepts NULL. */
void clm_custtab_free(clm_custtab *t);

/* The customer with this id, or NULL. Marks it referenced (CLM_CUST_REF). */
clm_customer *clm_custtab_get(clm_custtab *t, const char *id, size_t len);

/* Inserts c and takes ownership. Returns 0, -EEXIST (id present; c not
 * taken), -ENOSPC (table holds max customers; c not taken) or -ENOMEM. */
int clm_custtab_put(clm_custtab *t, clm_customer *c);

size_t clm_custtab_count(const clm_custtab *t);
size_t clm_custtab_max(const clm_custtab *t);

typedef bool (*clm_custtab_pred)(const clm_customer *c, void *ctx);

/* Evicts (frees) up to `want` customers accepted by `can_evict`, in CLOCK
 * order. Returns how many were evicted (fewer when not enough are evictable). */
size_t clm_custtab_evict(clm_custtab *t, size_t want, clm_custtab_pred can_evict, void *ctx);

/* Removes and frees the customer with this id. Returns true when it was
 * there. */
bool clm_custtab_remove(clm_custtab *t, const char *id, size_t len);

/* Removes and frees every customer accepted by `pred`. Returns the count. */
size_t clm_custtab_remove_if(clm_custtab *t, clm_custtab_pred pred, void *ctx);

/* Calls fn for every customer (order unspecified); fn must not insert or
 * remove. */
void clm_custtab_foreach(clm_custtab *t, void (*fn)(clm_customer *c, void *ctx), void *ctx);

#endif
