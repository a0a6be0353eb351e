/*
 * Fuzz target for eddy/urlenc.h: decoding agrees with itself in place and
 * out of place, never grows, never writes past cap, and rejects exactly the
 * inputs a naive decoder rejects; encoding round-trips; pair and cookie
 * iteration return slices inside the input, in order, that never overlap.
 *
 * Input: [0] flags (low 2 bits), [1] output cap for the -ENOBUFS check, then
 * the string.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/urlenc.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Obviously right: -1 on a malformed escape or refused NUL. */
static ssize_t ref_decode(char *out, const char *in, size_t len, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3) return -1;
            int h = hexv((unsigned char)in[i + 1]), l = hexv((unsigned char)in[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = (char)(h * 16 + l);
            if (c == 0 && (flags & EDDY_URL_REJECT_NUL)) return -1;
            i += 2;
        } else if (c == '+' && (flags & EDDY_URL_PLUS_SPACE)) {
            c = ' ';
        }
        out[o++] = c;
    }
    return (ssize_t)o;
}

static void check_decode(const char *s, size_t len, unsigned flags, size_t small_cap)
{
    char *out = malloc(len + 1), *ref = malloc(len + 1), *inplace = malloc(len + 1);
    ASSERT(out && ref && inplace);
    ssize_t n = eddy_url_decode(out, len, s, len, flags);
    ssize_t r = ref_decode(ref, s, len, flags);
    ASSERT(n == (r < 0 ? -EDDY_EURL_DECODE : r));
    if (n >= 0) {
        ASSERT((size_t)n <= len);
        ASSERT(memcmp(out, ref, (size_t)n) == 0);
    }
    memcpy(inplace, s, len);
    ASSERT(eddy_url_decode(inplace, len, inplace, len, flags) == n);
    if (n > 0) ASSERT(memcmp(inplace, out, (size_t)n) == 0);
    /* A small cap: exact size works, smaller fails without writing past it. */
    if (n >= 0 && small_cap < (size_t)n) {
        char *tiny = malloc(small_cap ? small_cap : 1);
        ASSERT(tiny);
        ssize_t t = eddy_url_decode(tiny, small_cap, s, len, flags);
        ASSERT(t == -ENOBUFS || t == -EDDY_EURL_DECODE);
        free(tiny);
    }
    free(out);
    free(ref);
    free(inplace);
}

static void check_encode(const char *s, size_t len, unsigned flags)
{
    size_t cap = 3 * len + 1;
    char *enc = malloc(cap), *back = malloc(len + 1);
    ASSERT(enc && back);
    ssize_t n = eddy_url_encode(enc, cap, s, len, flags & EDDY_URL_PLUS_SPACE);
    ASSERT(n >= (ssize_t)len && (size_t)n <= 3 * len);
    ASSERT(eddy_url_decode(back, len, enc, (size_t)n, flags & EDDY_URL_PLUS_SPACE) == (ssize_t)len);
    ASSERT(len == 0 || memcmp(back, s, len) == 0);
    free(enc);
    free(back);
}

static void check_inside(const char *s, size_t len, eddy_http1_str_t x, const char **last)
{
    ASSERT(x.ptr >= s && x.ptr + x.len <= s + len);
    ASSERT(x.ptr >= *last);
    *last = x.ptr + x.len;
}

static void check_iterate(const char *s, size_t len, bool cookie)
{
    eddy_url_iter_t it;
    eddy_url_pair_t p;
    eddy_url_iter_init(&it, s, len);
    const char *last = s;
    size_t count = 0;
    while (cookie ? eddy_cookie_next(&it, &p) : eddy_url_next(&it, &p)) {
        check_inside(s, len, p.name, &last);
        check_inside(s, len, p.value, &last);
        ASSERT(++count <= len);
        if (cookie) {
            ASSERT(p.name.len > 0 && memchr(p.name.ptr, ';', p.name.len) == NULL);
        } else {
            ASSERT(memchr(p.name.ptr, '&', p.name.len) == NULL);
            ASSERT(memchr(p.name.ptr, '=', p.name.len) == NULL);
            ASSERT(p.value.len == 0 || memchr(p.value.ptr, '&', p.value.len) == NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned flags = data[0] & 3;
    size_t small_cap = data[1];
    size_t len = size - 2;
    char *s = malloc(len ? len : 1); /* exact size: one byte too far is an ASan report */
    ASSERT(s);
    memcpy(s, data + 2, len);
    check_decode(s, len, flags, small_cap);
    check_encode(s, len, flags);
    check_iterate(s, len, false);
    check_iterate(s, len, true);
    (void)eddy_cookie_name_valid(s, len);
    (void)eddy_cookie_value_valid(s, len);
    free(s);
    return 0;
}
