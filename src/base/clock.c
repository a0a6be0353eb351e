#include <string.h>

#include "eddy/clock.h"

uint64_t eddy_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t eddy_clock_ms(void)
{
    return eddy_clock_ns() / 1000000u;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void eddy_http_date(time_t t, char out[EDDY_HTTP_DATE_LEN + 1])
{
    /* Fixed English names: strftime would follow the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* IMF-fixdate has a 4-digit year: clamp to 0000-01-01 .. 9999-12-31, which
     * also keeps gmtime_r from failing (and leaving tm unset) on huge t. */
    const int64_t min_t = -62167219200ll, max_t = 253402300799ll;
    int64_t v = (int64_t)t;
    if (v < min_t) v = min_t;
    if (v > max_t) v = max_t;
    time_t clamped = (time_t)v;
    struct tm tm;
    if (!gmtime_r(&clamped, &tm)) memset(&tm, 0, sizeof tm); /* not reached */
    int year = tm.tm_year + 1900;
    char *p = out;
    memcpy(p, days[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put2(p, year / 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
}
