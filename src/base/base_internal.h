/* Private to the library: helpers of base/ that the layers above share
 * (they include "base/base_internal.h"). */
#ifndef EDDY_BASE_INTERNAL_H
#define EDDY_BASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- option values ---------------------------------------------------------- */

/* A plain decimal within [min, max]: no sign, no spaces, no hex (strtoull
 * would take all three). 0, or -EDDY_EOPTION (NULL, empty, anything else,
 * out of range) with *out unchanged. */
int eddy__parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* The same into a size_t. */
int eddy__parse_size(const char *s, size_t min, size_t max, size_t *out);
/* 1/true/on/yes or 0/false/off/no, in any case. 0, or -EDDY_EOPTION with
 * *out unchanged. */
int eddy__parse_bool(const char *s, bool *out);

/* ---- arrays ----------------------------------------------------------------- */

/* An array of *count items of item_size bytes, indexed by a descriptor:
 * grown (doubling from first, or from *count) so that index fits, the new
 * items zeroed. The array, with *count updated, or NULL (out of memory;
 * the array and *count unchanged). */
void *eddy__grow_zeroed(void *items, size_t *count, size_t item_size, size_t index, size_t first);

#endif
