/* core/trait_impl.h - what the trait rules (trait.c) and the trait block
 * codec (trait_block.c) share. Private to core/trait*.c. */
#ifndef CLM_CORE_TRAIT_IMPL_H
#define CLM_CORE_TRAIT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/trait.h"

/* A trait's state while a block is being rewritten. */
typedef struct clm_trait_slot {
    bool set;
    uint8_t kind, update;
    int64_t ts;       /* latest, first: event time of the value */
    double num;
    bool b;
    uint8_t len;      /* STR bytes */
    char str[CLM_TRAIT_STR_MAX];
    uint8_t n;        /* DISTINCT: hashes, ascending */
    uint64_t h[CLM_TRAIT_DISTINCT_MAX];
} clm_trait_slot;

/* Whether a rule keeps the event time of its value. */
static inline bool clm_trait_has_ts(unsigned update)
{
    return update == CLM_TRAIT_LATEST || update == CLM_TRAIT_FIRST;
}

/* Loads the block into s[0..CLM_TRAITS_MAX) by set's indices, matching
 * names; a value whose trait set lacks, or has with another type or rule or
 * bounds the value exceeds, is dropped. Returns whether anything moved or
 * was dropped. */
bool clm_traits_load(const uint8_t *blk, size_t len, const clm_trait_set *set, clm_trait_slot *s);

/* Encodes the set slots of s into a new block replacing *blk (NULL, 0 when
 * none is set). Returns 0 or -ENOMEM (*blk unchanged). */
int clm_traits_store(uint8_t **blk, uint16_t *len, const clm_trait_set *set,
                     const clm_trait_slot *s);

#endif
