/* core/spsc.h - a bounded lock-free single-producer/single-consumer ring of
 * pointers, on C11 atomics.
 *
 * Exactly one thread may push and exactly one (other) thread may pop, for
 * the ring's whole life. The producer's and the consumer's indices sit on
 * separate cache lines; each side caches the other's index and reads it
 * (acquire) only when the ring looks full or empty. NULL cannot be stored.
 */
#ifndef CLM_CORE_SPSC_H
#define CLM_CORE_SPSC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct clm_spsc clm_spsc;

/* A ring holding up to size - 1 pointers; size is a power of two >= 4.
 * Returns NULL on EINVAL or ENOMEM. */
clm_spsc *clm_spsc_new(unsigned size);

/* Frees the ring (not the pointers still in it); accepts NULL. */
void clm_spsc_free(clm_spsc *r);

/* Producer thread only. Returns false when the ring is full. */
bool clm_spsc_push(clm_spsc *r, void *p);

/* Consumer thread only. Returns false when the ring is empty. */
bool clm_spsc_pop(clm_spsc *r, void **p);

/* Number of entries; exact only from the consumer thread, a snapshot
 * otherwise. */
unsigned clm_spsc_count(const clm_spsc *r);

#endif
