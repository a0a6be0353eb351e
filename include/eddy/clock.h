/*
 * eddy/clock.h — clocks.
 *
 * Uncached reads of the monotonic clock, and the HTTP date formatter. Each
 * loop caches the monotonic time once per iteration (eddy_loop_now) and the
 * formatted wall-clock date once per second (eddy_loop_date), so hot paths
 * never make a clock call of their own.
 */
#ifndef EDDY_CLOCK_H
#define EDDY_CLOCK_H

#include <time.h>

#include "common.h"

#define EDDY_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

EDDY_EXPORT uint64_t eddy_clock_ms(void); /* CLOCK_MONOTONIC in milliseconds */
EDDY_EXPORT uint64_t eddy_clock_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
/* Format t as an IMF-fixdate (RFC 9110) into out, NUL-terminated: always
 * EDDY_HTTP_DATE_LEN characters, English names and GMT whatever the locale
 * and time zone. t outside years 0000..9999 is clamped to that range. */
EDDY_EXPORT void eddy_http_date(time_t t, char out[EDDY_HTTP_DATE_LEN + 1]);

#endif
