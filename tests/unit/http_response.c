/* The response's pieces that need no connection: the decimal conversion
 * of the head. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"
#include "test.h"

/* ---- decimal ------------------------------------------------------------------------ */

static void check_u64(uint64_t v)
{
    char got[EDDY__U64_DIGITS_MAX + 4], want[32];
    memset(got, 'x', sizeof got);
    size_t n = eddy__http_format_u64(got, v);
    snprintf(want, sizeof want, "%" PRIu64, v);
    CHECK_EQ(n, strlen(want));
    CHECK(memcmp(got, want, n) == 0);
    CHECK_EQ(got[n], 'x'); /* nothing written past the digits */
}

static void test_format_u64(void)
{
    check_u64(0);
    check_u64(9);
    check_u64(10);
    check_u64(99);
    check_u64(100);
    check_u64(UINT64_MAX);
    char buf[EDDY__U64_DIGITS_MAX];
    CHECK_EQ(eddy__http_format_u64(buf, UINT64_MAX), EDDY__U64_DIGITS_MAX);
    /* Every power of ten and its neighbours. */
    for (uint64_t p = 1; p <= UINT64_MAX / 10; p *= 10) {
        check_u64(p - 1);
        check_u64(p);
        check_u64(p + 1);
    }
}

int main(void)
{
    RUN(test_format_u64);
    return 0;
}
