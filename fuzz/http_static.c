/*
 * Fuzz target for the header parsers of the static-file module
 * (eddy/http_static.h): Range, HTTP dates, entity tag lists, and the MIME
 * lookup.
 *
 * Input layout: bytes [0, 8) are a file size (little-endian; shorter inputs
 * are padded with zeros), the rest is one header value, given to every
 * parser. Checked: a partial range lies inside the file and is not empty; a
 * Range with another unit is ignored; surrounding OWS and the unit's case
 * change nothing; a parsed date formats (eddy_http_date) to a string that
 * parses back to it, and an IMF-fixdate reads back as itself but for the
 * weekday; entity tag matching answers 1, 0 or -EINVAL, a strong match is
 * also a weak one, and a well-formed list always matches its own first tag.
 * The value is an exact-size allocation, so ASan sees any over-read.
 */
#define _GNU_SOURCE /* strncasecmp, memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eddy/clock.h"
#include "eddy/http_static.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "http_static fuzz: %s:%d: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char *copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    ASSERT(p);
    if (n) memcpy(p, s, n);
    return p;
}

static void check_range(const char *v, size_t len, uint64_t size)
{
    uint64_t start = 0, length = 0;
    eddy_static_range_t r = eddy_static_parse_range(v, len, size, &start, &length);
    ASSERT(r == EDDY_STATIC_RANGE_NONE || r == EDDY_STATIC_RANGE_PARTIAL ||
           r == EDDY_STATIC_RANGE_UNSATISFIABLE);
    if (r == EDDY_STATIC_RANGE_PARTIAL) {
        ASSERT(length > 0 && start < size && length <= size - start);
    }
    /* Another unit is ignored. */
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (len - i < 6 || strncasecmp(v + i, "bytes=", 6) != 0) ASSERT(r == EDDY_STATIC_RANGE_NONE);
    /* OWS around the value, and the unit's case, change nothing. */
    char *w = malloc(len + 4);
    ASSERT(w);
    memcpy(w, " \t", 2);
    memcpy(w + 2, v, len);
    memcpy(w + 2 + len, "\t ", 2);
    for (size_t k = 0; k < 5 && 2 + i + k < len + 2; k++) /* flip the case of "bytes" */
        if (r != EDDY_STATIC_RANGE_NONE) w[2 + i + k] ^= 0x20;
    uint64_t s2 = 0, l2 = 0;
    eddy_static_range_t r2 = eddy_static_parse_range(w, len + 4, size, &s2, &l2);
    ASSERT(r2 == r);
    if (r == EDDY_STATIC_RANGE_PARTIAL) ASSERT(s2 == start && l2 == length);
    free(w);
}

static void check_date(const char *v, size_t len)
{
    time_t t;
    if (eddy_static_parse_date(v, len, &t) != 0) return;
    ASSERT(t >= -62167219200ll && t <= 253402300800ll); /* years 0000 to 9999 (and a leap second) */
    char s[EDDY_HTTP_DATE_LEN + 1];
    eddy_http_date(t, s);
    time_t back;
    if (t <= 253402300799ll) {
        ASSERT(eddy_static_parse_date(s, EDDY_HTTP_DATE_LEN, &back) == 0 && back == t);
        /* An IMF-fixdate without a leap second is itself, weekday aside. */
        if (len == EDDY_HTTP_DATE_LEN && v[3] == ',' && memcmp(v + 23, "60", 2) != 0)
            ASSERT(memcmp(s + 3, v + 3, EDDY_HTTP_DATE_LEN - 3) == 0);
    }
}

static void check_etags(const char *v, size_t len)
{
    static const char *const ours[] = {"\"abc\"", "W/\"abc\"", "\"\""};
    for (size_t i = 0; i < 3; i++) {
        int w = eddy_static_etag_match(v, len, ours[i], strlen(ours[i]), false);
        int s = eddy_static_etag_match(v, len, ours[i], strlen(ours[i]), true);
        ASSERT(w == 1 || w == 0 || w == -EINVAL);
        ASSERT((w == -EINVAL) == (s == -EINVAL));
        if (s == 1) ASSERT(w == 1);
    }
    /* A well-formed list matches its own first tag (weakly). */
    if (eddy_static_etag_match(v, len, "\"abc\"", 5, false) < 0) return;
    const char *q = memchr(v, '"', len);
    if (!q) return; /* "*" */
    const char *e = memchr(q + 1, '"', len - (size_t)(q + 1 - v));
    ASSERT(e != NULL);
    char *tag = copy(q, (size_t)(e - q + 1));
    ASSERT(eddy_static_etag_match(v, len, tag, (size_t)(e - q + 1), false) == 1);
    free(tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t file_size = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        file_size |= (uint64_t)data[i] << (8 * i);
    size_t off = size < 8 ? size : 8;
    char *v = copy((const char *)data + off, size - off);
    size_t len = size - off;
    check_range(v, len, file_size);
    check_range(v, len, file_size & 0xffff); /* small files too */
    check_date(v, len);
    check_etags(v, len);
    ASSERT(eddy_static_mime_type(v, len) != NULL);
    free(v);
    return 0;
}
