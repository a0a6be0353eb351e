/*
 * eddy/multipart.h — streaming multipart/form-data parser (RFC 7578, RFC 2046).
 *
 * What it is for. An HTTP server hands a request body to this parser as it
 * arrives, in slices of any size, and gets back events: a part begins (with
 * its name, filename and Content-Type), a run of the part's data, the part
 * ends, the body ends. Data runs point into the caller's slice whenever they
 * can, so a file upload streams to disk without being copied. Like the
 * HTTP/1 parser it is pure: no sockets, no global state, and exactly one
 * allocation, made by eddy_multipart_new(): the parser, its delimiter, one
 * part's raw header section (max_header_size bytes), the same again for the
 * decoded name and filename, and the header array (max_headers entries).
 *
 * Getting the boundary. eddy_multipart_boundary() takes the request's
 * Content-Type value, checks that it is multipart/form-data and returns the
 * boundary parameter, unquoted and validated (1 to 70 bchars, not ending in
 * a space; RFC 2046 5.1.1).
 *
 * Calling convention. Call eddy_multipart_parse(p, buf, len, &ev) with the
 * bytes you have; it returns how many of them it consumed and at most one
 * event in ev. Advance buf by the return value and call again — even when
 * nothing is left of buf — until it returns with ev.type ==
 * EDDY_MULTIPART_NONE, which means every byte was used and it needs more.
 * (A call may return an event having consumed 0 bytes: BODY_END after the
 * last PART_END comes that way.) When the body has been fed entirely, call
 * eddy_multipart_finish(): it says whether the close delimiter was seen.
 *
 *     eddy_multipart_event_t ev;
 *     for (;;) {
 *         ssize_t n = eddy_multipart_parse(p, buf, len, &ev);
 *         if (n < 0) return n;                         // eddy_multipart_error(p) says why
 *         buf += n, len -= (size_t)n;
 *         if (ev.type == EDDY_MULTIPART_NONE) break;  // buf used up: read more
 *         switch (ev.type) { case EDDY_MULTIPART_PART_BEGIN: ... }
 *     }
 *
 * A part ends (PART_END) only once the delimiter line after it has been
 * checked, so a part followed by a malformed delimiter line never ends: the
 * parse fails instead.
 *
 * Feeding the same body in any split — one byte at a time or all at once —
 * gives the same events, except that data may come in more, smaller runs
 * (their concatenation is the same), and an error is reported at the same
 * byte offset with the same reason.
 *
 * Grammar and strictness:
 *   - A delimiter is CRLF "--" boundary. The CRLF before it belongs to the
 *     delimiter, not to the data before it. The first delimiter may open the
 *     body without a CRLF; anything before it is preamble and is ignored, as
 *     is everything after the close delimiter (the epilogue).
 *   - After a delimiter comes "--" (the close delimiter: the body ends), or
 *     optional transport padding (at most 64 SP/HTAB) and CRLF. Anything else
 *     is an error (DELIMITER): "CRLF--boundary" followed by other bytes can
 *     only mean a sender that did not choose its boundary well (RFC 2046
 *     forbids the delimiter inside a part), and guessing would let two
 *     parsers disagree about where a part ends. "--boundary" without the
 *     CRLF before it, or a CRLF-- followed by a prefix of the boundary and
 *     other bytes, is ordinary data.
 *   - Bare LF is not a line ending: in part headers and delimiter lines a
 *     bare LF or a bare CR is an error (NEWLINE), as in eddy's HTTP parser by
 *     default; inside data, CR and LF are just bytes. A body written with LF
 *     line endings therefore fails at its first delimiter line.
 *   - Part headers: "Name: value" lines ending in CRLF, then an empty line.
 *     The name is a token, immediately followed by ':'; a line without a
 *     colon, a line starting with whitespace (obsolete folding), and control
 *     characters or DEL in a value are errors. Values are trimmed of SP/HTAB.
 *   - Each part needs exactly one Content-Disposition of type form-data with
 *     a name parameter (RFC 7578 4.2). Parameters are token or quoted-string
 *     (a backslash escapes the next byte); name, filename and filename* may
 *     appear once each. filename* (RFC 5987: charset'language'percent-encoded
 *     bytes) is decoded for UTF-8 (as is) and ISO-8859-1 (converted to UTF-8)
 *     and then takes precedence over filename; a filename* in another
 *     charset is ignored; one that is malformed or decodes to a NUL byte is
 *     an error. Browsers encode '"', CR and LF in names as %22, %0D, %0A
 *     (HTML's form encoding); eddy passes those through as received.
 *     A part may have at most one Content-Type. Other headers are reported,
 *     not interpreted (Content-Transfer-Encoding is deprecated by RFC 7578).
 *   - A body whose close delimiter follows the first delimiter directly has
 *     no parts and is accepted (a browser submitting an empty form).
 *
 * Limits (eddy_multipart_limits_t; NULL means the defaults):
 *   max_header_size  8 KiB  one part's header section, CRLFs included
 *   max_headers      16     header lines in one part
 *   max_parts        1000   parts in the body
 * There is no limit on the body size or a part's size here: the server
 * bounds the body, and the upload sink (http_upload.h) bounds files.
 *
 * Ownership. The caller owns the parser (eddy_multipart_free) and the bytes
 * it feeds. An event's data points into the caller's buffer or into the
 * parser and is valid until the next call. The part description (ev.part)
 * lives in the parser: it stays valid from its PART_BEGIN until the PART_END
 * of the same part has been returned (so a sink may look at it while
 * writing), and is overwritten by the next part's headers.
 *
 * Thread safety: a parser belongs to one thread at a time; the functions
 * keep no global state.
 */
#ifndef EDDY_MULTIPART_H
#define EDDY_MULTIPART_H

#include <stdbool.h>

#include "common.h"
#include "error.h"
#include "http1.h"

#define EDDY_MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 5.1.1 */

#define EDDY_MULTIPART_DEFAULT_MAX_HEADER_SIZE (8u * 1024)
#define EDDY_MULTIPART_DEFAULT_MAX_HEADERS     16u
#define EDDY_MULTIPART_DEFAULT_MAX_PARTS       1000u

/* Read the boundary parameter of a Content-Type value (surrounding OWS is
 * allowed): the media type must be multipart/form-data (case-insensitive),
 * the parameters token=token or token=quoted-string, and boundary must
 * appear exactly once. Writes the boundary, unquoted and NUL-terminated, to
 * out and returns its length (1..70). Errors: -EDDY_EMULTIPART_TYPE (not
 * multipart/form-data, or malformed parameters), -EDDY_EMULTIPART_BOUNDARY
 * (no boundary, two of them, empty, longer than 70, or a byte outside
 * bchars, or ending in a space). */
EDDY_EXPORT int eddy_multipart_boundary(const char *value, size_t len,
                                        char out[EDDY_MULTIPART_BOUNDARY_MAX + 1]);

/* X(name, message): EDDY_MULTIPART_ERR_<name> and a description. */
#define EDDY_MULTIPART_ERROR_MAP(X)                                                                \
    X(NONE, "no error")                                                                            \
    X(NO_DELIMITER, "the body ended before its first delimiter (is the boundary right?)")          \
    X(TRUNCATED, "the body ended before the close delimiter")                                      \
    X(DELIMITER, "delimiter followed by something other than '--', or padding and CRLF")           \
    X(NEWLINE, "bare CR or bare LF in a delimiter line or in part headers")                        \
    X(HEADER_TOO_LARGE, "part header section longer than max_header_size")                         \
    X(TOO_MANY_HEADERS, "more header lines in one part than max_headers")                          \
    X(TOO_MANY_PARTS, "more parts than max_parts")                                                 \
    X(HEADER_NAME, "empty or non-token part header name, or whitespace before the colon")          \
    X(HEADER_COLON, "part header line without a colon")                                            \
    X(OBS_FOLD, "part header line starting with whitespace (obsolete folding)")                    \
    X(HEADER_VALUE, "control character or DEL in a part header value")                             \
    X(DUPLICATE_HEADER, "Content-Disposition or Content-Type repeated in one part")                \
    X(NO_DISPOSITION, "part without Content-Disposition")                                          \
    X(DISPOSITION,                                                                                 \
      "Content-Disposition malformed, not form-data, without name, or a parameter repeated")       \
    X(FILENAME, "filename* malformed (RFC 5987) or decoding to a NUL byte")

typedef enum eddy_multipart_error {
#define EDDY_MULTIPART_ERR_ENUM_(name, msg) EDDY_MULTIPART_ERR_##name,
    EDDY_MULTIPART_ERROR_MAP(EDDY_MULTIPART_ERR_ENUM_)
#undef EDDY_MULTIPART_ERR_ENUM_
        EDDY_MULTIPART_ERR_COUNT_
} eddy_multipart_error_t;

/* "EDDY_MULTIPART_ERR_TRUNCATED" and a description; static, never NULL. */
EDDY_EXPORT const char *eddy_multipart_error_name(eddy_multipart_error_t err);
EDDY_EXPORT const char *eddy_multipart_error_str(eddy_multipart_error_t err);

typedef struct eddy_multipart_limits {
    size_t max_header_size;
    size_t max_headers;
    size_t max_parts;
} eddy_multipart_limits_t;

/* Fill in the defaults listed in the header comment. */
EDDY_EXPORT void eddy_multipart_limits_init(eddy_multipart_limits_t *l);

typedef struct eddy_multipart eddy_multipart_t;

/* One part, as described by its headers. Every slice points into the parser
 * (see Ownership). */
typedef struct eddy_multipart_part {
    size_t index;                       /* 0 for the first part */
    eddy_http1_str_t name;              /* the name parameter, unescaped (may be empty) */
    eddy_http1_str_t filename;          /* filename* decoded, else filename unescaped; ptr
                                           NULL when the part is not a file. A browser sends
                                           "" for a file input left empty. Chosen by the
                                           client: never use it as a path. */
    eddy_http1_str_t content_type;      /* the Content-Type value; ptr NULL if absent
                                           (RFC 7578: then text/plain) */
    const eddy_http1_header_t *headers; /* every header line as received, values trimmed */
    size_t num_headers;
} eddy_multipart_part_t;

typedef enum eddy_multipart_event_type {
    EDDY_MULTIPART_NONE,       /* all input consumed; feed more */
    EDDY_MULTIPART_PART_BEGIN, /* ev.part describes the new part */
    EDDY_MULTIPART_PART_DATA,  /* ev.data[0..ev.len) belongs to ev.part (len > 0) */
    EDDY_MULTIPART_PART_END,   /* ev.part has no more data */
    EDDY_MULTIPART_BODY_END,   /* the close delimiter: later bytes are epilogue */
} eddy_multipart_event_type_t;

typedef struct eddy_multipart_event {
    eddy_multipart_event_type_t type;
    const eddy_multipart_part_t *part; /* PART_BEGIN, PART_DATA, PART_END; else NULL */
    const char *data;                  /* PART_DATA; valid until the next call */
    size_t len;
} eddy_multipart_event_t;

/* Create a parser for a body with this boundary (as returned by
 * eddy_multipart_boundary; it is validated again). limits may be NULL.
 * Returns 0 and *out, -EDDY_EMULTIPART_BOUNDARY, -EDDY_EOPTION (a limit of
 * 0, or sizes that overflow) or -ENOMEM. Free with eddy_multipart_free. */
EDDY_EXPORT int eddy_multipart_new(eddy_multipart_t **out, const char *boundary, size_t len,
                                   const eddy_multipart_limits_t *limits);
EDDY_EXPORT void eddy_multipart_free(eddy_multipart_t *p); /* NULL is fine */

/* Consume bytes from buf[0..len) (buf may be NULL when len is 0) and report
 * at most one event. Returns the bytes consumed (0..len), or
 * -EDDY_EMULTIPART when the body is malformed or over a limit: then
 * eddy_multipart_error() says why, and every later call fails the same way. */
EDDY_EXPORT ssize_t eddy_multipart_parse(eddy_multipart_t *p, const char *buf, size_t len,
                                         eddy_multipart_event_t *ev);

/* The input has ended. Returns 0 if the close delimiter was seen, else
 * -EDDY_EMULTIPART with the error NO_DELIMITER or TRUNCATED (or the error
 * that stopped the parser earlier). */
EDDY_EXPORT int eddy_multipart_finish(eddy_multipart_t *p);

/* Why the parser stopped (NONE while it has not), and the offset of the
 * offending byte from the start of the body. */
EDDY_EXPORT eddy_multipart_error_t eddy_multipart_error(const eddy_multipart_t *p);
EDDY_EXPORT uint64_t eddy_multipart_error_offset(const eddy_multipart_t *p);

#endif
