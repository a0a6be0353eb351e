/*
 * eddy/urlenc.h — percent-encoding, name=value pairs and cookies.
 *
 * What it is for. The HTTP server decodes request paths, query strings,
 * application/x-www-form-urlencoded bodies and Cookie headers with these;
 * any program may use them for the same. They are pure functions over
 * bytes: no allocation, no state but the iterator the caller holds, and no
 * read outside [s, s + len) (fuzzed by fuzz/urlenc.c).
 *
 * Ownership. Iterators and the slices they return point into the caller's
 * bytes and are valid as long as those bytes are. Output buffers belong to
 * the caller; decoding never writes more than cap bytes.
 *
 * Percent-decoding (RFC 3986 2.1): "%" followed by two hex digits (either
 * case) is that byte; a "%" not followed by two hex digits is an error, not
 * passed through, so that two readers can never decode one string
 * differently. With EDDY_URL_PLUS_SPACE, "+" is a space (the form encoding
 * of HTML, used by query strings and urlencoded bodies — not by paths). With
 * EDDY_URL_REJECT_NUL, a decoded NUL byte is an error (paths: a NUL would
 * cut a C string short and make "/a%00.php" look like "/a").
 *
 * Pairs (WHATWG URL "application/x-www-form-urlencoded parsing"): the
 * input is split on "&"; empty pieces are skipped; a piece's name runs to
 * its first "=", its value is the rest (empty, and has_value false, when
 * there is no "="). Names and values are returned still encoded: decode
 * them with eddy_url_decode(..., EDDY_URL_PLUS_SPACE).
 *
 * Cookies (RFC 6265 5.4 as sent by browsers, read leniently as 5.2 does):
 * a Cookie header value is split on ";"; spaces and tabs around names and
 * values are trimmed; a piece without "=" or with an empty name is skipped;
 * a value in double quotes is returned without them. Cookie values are not
 * percent-decoded (RFC 6265 defines no encoding); applications that encode
 * theirs decode them themselves.
 */
#ifndef EDDY_URLENC_H
#define EDDY_URLENC_H

#include <stdbool.h>

#include "common.h"
#include "http1.h"

#define EDDY_URL_PLUS_SPACE 1u /* decode "+" as a space; encode a space as "+" */
#define EDDY_URL_REJECT_NUL 2u /* decoding: "%00" is an error */

/* Decode in[0..len) into out[0..cap). out may equal in (decoding in place:
 * the output is never longer than the input). Returns the decoded length,
 * -EDDY_EURL_DECODE for a malformed escape or a refused NUL, or -ENOBUFS
 * when cap is too small (out then holds a prefix). */
EDDY_EXPORT ssize_t eddy_url_decode(char *out, size_t cap, const char *in, size_t len,
                                    unsigned flags);

/* Encode in[0..len) into out[0..cap): every byte except the unreserved
 * characters (ALPHA DIGIT - . _ ~) becomes %XX (upper-case hex); with
 * EDDY_URL_PLUS_SPACE a space becomes "+". Returns the encoded length (at
 * most 3 * len), or -ENOBUFS when cap is too small. out must not overlap in. */
EDDY_EXPORT ssize_t eddy_url_encode(char *out, size_t cap, const char *in, size_t len,
                                    unsigned flags);

/* One name=value pair, as slices of the input (still encoded for query
 * strings and forms). */
typedef struct eddy_url_pair {
    eddy_http1_str_t name;
    eddy_http1_str_t value; /* empty when there is no "=" */
    bool has_value;         /* the piece had an "=" */
} eddy_url_pair_t;

/* Position in a query string, form body or Cookie value. */
typedef struct eddy_url_iter {
    const char *pos;
    const char *end;
} eddy_url_iter_t;

/* Start iterating s[0..len) (s may be NULL when len is 0). */
EDDY_EXPORT void eddy_url_iter_init(eddy_url_iter_t *it, const char *s, size_t len);
/* The next "&"-separated pair of a query string or urlencoded form: true and
 * *pair filled, or false at the end. */
EDDY_EXPORT bool eddy_url_next(eddy_url_iter_t *it, eddy_url_pair_t *pair);
/* The next cookie of a Cookie header value: true and *pair filled (name and
 * value trimmed, quotes removed), or false at the end. */
EDDY_EXPORT bool eddy_cookie_next(eddy_url_iter_t *it, eddy_url_pair_t *pair);

/* For Set-Cookie (RFC 6265 4.1.1): a cookie name is a non-empty token; a
 * value is *cookie-octet (no controls, space, DQUOTE, comma, semicolon or
 * backslash), optionally inside one pair of double quotes. */
EDDY_EXPORT bool eddy_cookie_name_valid(const char *s, size_t len);
EDDY_EXPORT bool eddy_cookie_value_valid(const char *s, size_t len);

#endif
