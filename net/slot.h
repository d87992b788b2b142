/* net/slot.h - the Redis Cluster key-to-slot mapping.
 *
 * Exactly as the Redis Cluster specification defines it: HASH_SLOT =
 * CRC16(key) mod 16384, where CRC16 is CRC16-CCITT in its XMODEM form
 * (polynomial 0x1021, initial value 0, no reflection, no final xor), and
 * where a key holding a hash tag is hashed by the tag alone: when the key
 * has a '{', and a '}' somewhere after that first '{', and at least one byte
 * between the two, only those bytes are hashed. Pure functions, any thread.
 */
#ifndef CLM_NET_SLOT_H
#define CLM_NET_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define CLM_CLUSTER_SLOTS 16384

/* CRC16-CCITT (XMODEM) of len bytes at p; crc16("123456789") == 0x31C3. */
uint16_t clm_crc16(const void *p, size_t len);

/* The hash slot (0 .. CLM_CLUSTER_SLOTS-1) of the key of len bytes, hash
 * tags honoured. The key may hold any bytes, NUL included. */
int clm_slot_of(const char *key, size_t len);

#endif
