/*
 * Private to src/http/static.c and its tests.
 */
#ifndef EDDY_HTTP_STATIC_INTERNAL_H
#define EDDY_HTTP_STATIC_INTERNAL_H

#include <stdbool.h>

/* Resolve with the fallback (O_PATH + /proc/self/fd check) instead of
 * openat2, as on a kernel without openat2; for tests of the fallback. */
void eddy__static_force_fallback(bool on);

#endif
