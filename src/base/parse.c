/* Option values in the string form ("key", "value") every layer accepts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include "base/base_internal.h"
#include "eddy/error.h"

int eddy__parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || *s == '\0') return -EDDY_EOPTION;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -EDDY_EOPTION;
        uint64_t d = (uint64_t)(*s - '0');
        if (d > max || v > (max - d) / 10) return -EDDY_EOPTION;
        v = v * 10 + d;
    }
    if (v < min) return -EDDY_EOPTION;
    *out = v;
    return 0;
}

int eddy__parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    uint64_t v;
    int rc = eddy__parse_uint(s, min, max, &v);
    if (rc == 0) *out = (size_t)v;
    return rc;
}

int eddy__parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    if (!s) return -EDDY_EOPTION;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -EDDY_EOPTION;
}
