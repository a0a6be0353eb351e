/* Arrays indexed by a file descriptor. */
#include <stdlib.h>
#include <string.h>

#include "base/base_internal.h"

void *eddy__grow_zeroed(void *items, size_t *count, size_t item_size, size_t index, size_t first)
{
    if (index < *count) return items;
    size_t n = *count ? *count : first;
    while (n <= index)
        n *= 2;
    char *a = realloc(items, n * item_size);
    if (!a) return NULL;
    memset(a + *count * item_size, 0, (n - *count) * item_size);
    *count = n;
    return a;
}
