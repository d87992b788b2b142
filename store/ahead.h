/* store/ahead.h - the stored form of a partition's sources ahead of its
 * watermark (core/watermark.h): field ahead:<topic> of
 * <prefix>progress:{g:p}, written with the offset and max_ts it goes with.
 *
 * Text, version 1: "1" then, per source, ";<source>:<ts>:<base>" with the
 * source as 16 lowercase hex digits and the times as decimal epoch ms, in
 * the order the rule keeps them. A partition with no source ahead has no
 * field (clm_ahead_encode writes ""; the writer deletes the field then).
 * Reentrant.
 */
#ifndef CLM_STORE_AHEAD_H
#define CLM_STORE_AHEAD_H

#include <stddef.h>

#include "core/watermark.h"

/* Room for any encoding: the version and CLM_WM_QUORUM_MAX - 1 sources. */
#define CLM_AHEAD_TEXT_MAX (2 + (CLM_WM_QUORUM_MAX - 1) * (1 + 16 + 1 + 20 + 1 + 20) + 1)

/* Writes w's sources ahead (NUL-terminated, "" when none) into buf of
 * CLM_AHEAD_TEXT_MAX bytes; returns the length. */
size_t clm_ahead_encode(const clm_wm *w, char *buf);

/* Reads a stored ahead field into w->nahead and w->ahead (w->max_ts must
 * already hold the stored max_ts). Strict: anything but the exact form,
 * or a state clm_wm_check refuses, gives -EINVAL with w untouched. */
int clm_ahead_decode(const char *s, size_t len, clm_wm *w);

#endif
