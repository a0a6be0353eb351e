/*
 * eddy/http1.h — zero-copy, resumable HTTP/1.1 request and response parser.
 *
 * What it is for. The HTTP server and client plug this parser into a
 * connection: the connection buffers input, asks the parser whether a whole
 * message head has arrived, and then frames the body with the facts the
 * parser derived (Content-Length, chunked, keep-alive, Expect, Upgrade). It is
 * a pure function over bytes in the picohttpparser tradition: no sockets, no
 * allocation, no global state except the choice of SIMD code path, and it
 * never reads a byte outside [buf, buf + len) (tests place every input right
 * before a PROT_NONE page).
 *
 * Ownership. Every slice (eddy_http1_str_t) the parser returns points into the
 * caller's buffer and is valid exactly as long as those bytes stay where they
 * are: moving or freeing the buffer (eddy_buf_reserve may compact it)
 * invalidates them. The caller owns the header array it lends the parser.
 *
 * Calling convention (heads). Call eddy_http1_parse_request (or _response)
 * with all the unconsumed bytes of the connection each time more arrive:
 *   > 0                   the head is complete; the value is its length. The
 *                         body (if any) starts at buf + value; exactly one
 *                         head is consumed, so pipelined requests follow.
 *   EDDY_HTTP1_INCOMPLETE more bytes are needed. Pass the length you passed
 *                         this time as last_len next time (with the same
 *                         bytes at the front of the buffer, which may have
 *                         moved): the search for the end of the head then
 *                         resumes where it stopped, so feeding a head one byte
 *                         at a time costs linear, not quadratic, work.
 *   EDDY_HTTP1_ERROR      the message is malformed or must be refused; the
 *                         struct's `error` says why and
 *                         eddy_http1_error_status() the status to answer
 *                         with. Close the connection after answering.
 * Both negative values are eddy error codes (eddy_strerror names them). A head
 * is accepted or rejected identically whether its bytes arrive at once or one
 * at a time; with last_len != 0 the parser only scans for the end of the head
 * (and for bytes that are never valid in a head: control characters, DEL,
 * bare CR, and bare LF when those are refused), so some syntax errors in an
 * incomplete head are reported when the head ends or hits a limit, not
 * earlier. Passing last_len = 0 always re-parses from the start.
 *
 * Strictness (RFC 9112; anything that could let two parsers disagree about
 * where a message ends is refused, so request smuggling cannot pass):
 *   - line endings are CRLF; a bare CR anywhere is an error. A bare LF is an
 *     error too unless limits.allow_bare_lf is set (RFC 9112 2.2 allows
 *     accepting it; eddy refuses by default because a proxy in front that
 *     does not end lines at a bare LF would see different header lines than
 *     eddy does). Chunked framing lines always need CRLF, whatever the flag.
 *   - one leading empty line before a request line is skipped (2.2), not more;
 *   - request line: token method, one SP, a target of visible ASCII or bytes
 *     >= 0x80, one SP, "HTTP/" DIGIT "." DIGIT, CRLF. Major version other than
 *     1 is 505; HTTP/1.2 .. 1.9 are treated as 1.1 (RFC 9110 2.5);
 *   - field names are tokens, immediately followed by ':' (whitespace before
 *     the colon is an error, 5.1); a line starting with SP/HTAB is obs-fold
 *     (or whitespace before the first field) and is an error (5.2); values
 *     may hold HTAB, SP, VCHAR and obs-text, never NUL, other controls or DEL;
 *     leading and trailing OWS is trimmed from the value slice;
 *   - Content-Length is 1*DIGIT (no sign, no inner spaces, no overflow).
 *     Repeats of the SAME value, as separate lines or as a list ("5, 5"), are
 *     accepted as that value (RFC 9110 8.6 allows either choice; every reader
 *     gets the same length); differing values are an error;
 *   - Transfer-Encoding with Content-Length is an error (6.3 allows it); in
 *     an HTTP/1.0 message it is an error (6.1); in a request the final coding
 *     must be chunked and chunked may appear once (else 400); other codings
 *     before chunked are 501, since eddy decodes only chunked. In a response
 *     the only accepted value is "chunked" (anything else is an error, as
 *     eddy could not decode the body);
 *   - HTTP/1.1 requests need exactly one Host (3.2); more than one Host, or a
 *     Host value with characters outside a URI authority, is 400 in any
 *     version;
 *   - the target form must fit the method: "*" only for OPTIONS, authority
 *     form (host:port) only and always for CONNECT.
 *
 * Limits (eddy_http1_limits_t; NULL means the defaults):
 *   max_header_size  64 KiB  the whole head, request line to blank line,
 *                            and the trailer section of a chunked body → 431
 *   max_headers      100     field lines (also bounded by the caller's
 *                            array; over either is 431)
 *   max_target_size  8 KiB   request-target → 414
 *   max_body_size    2 MiB   Content-Length or total chunked body → 413;
 *                            UINT64_MAX means no limit
 *   max_chunk_ext    1 KiB   chunk extensions on one chunk-size line → 400
 *   allow_bare_lf    false   see above
 *
 * Error classes (eddy_http1_error_t, EDDY_HTTP1_ERROR_MAP below): every error
 * carries the status a server answers with — 400 bad request, 413 content
 * too large, 414 URI too long, 431 header fields too large, 501 not
 * implemented (transfer coding), 505 version not supported — plus a
 * precise reason for logs and tests, and the byte offset where it was found.
 *
 * Bodies. A request has a body when body is LENGTH (exactly content_length
 * bytes follow) or CHUNKED (decode it with eddy_http1_chunked_*). A response
 * may also be CLOSE: the body runs until the server closes the connection.
 * The response parser does not know the request method: after a HEAD request,
 * or a 2xx answer to CONNECT, there is no body whatever `body` says.
 *
 * SIMD. Delimiters are found 32 bytes at a time with AVX2, or 16 at a time
 * with SSE4.2 (_mm_cmpestri byte ranges for names and targets, as
 * picohttpparser; SSE2 compares for field values, where they are faster),
 * or 8 at a time in plain C (SWAR) — chosen at run time from what the CPU
 * has. All three give identical results, and none reads outside the input
 * (the last block of a scan is loaded so that it ends exactly at the end of
 * the input). The environment variable EDDY_HTTP1_SIMD=portable|sse42|avx2
 * (read at the first parse) or eddy_http1_simd_set() picks one, for tests
 * and benchmarks.
 *
 * Thread safety: every function is reentrant; a decoder or result struct
 * belongs to one thread at a time.
 */
#ifndef EDDY_HTTP1_H
#define EDDY_HTTP1_H

#include <stdbool.h>

#include "common.h"
#include "error.h"

/* More bytes are needed (negative, an eddy error code). */
#define EDDY_HTTP1_INCOMPLETE (-EDDY_EHTTP_INCOMPLETE)
/* Malformed or refused; the result's `error` says why. */
#define EDDY_HTTP1_ERROR (-EDDY_EHTTP_PARSE)

#define EDDY_HTTP1_DEFAULT_MAX_HEADER_SIZE (64u * 1024)
#define EDDY_HTTP1_DEFAULT_MAX_HEADERS     100u
#define EDDY_HTTP1_DEFAULT_MAX_TARGET_SIZE (8u * 1024)
#define EDDY_HTTP1_DEFAULT_MAX_BODY_SIZE   (2u * 1024 * 1024)
#define EDDY_HTTP1_DEFAULT_MAX_CHUNK_EXT   1024u

/* X(name, status, message): EDDY_HTTP1_ERR_<name>, the HTTP status a server
 * answers with, and a description. */
#define EDDY_HTTP1_ERROR_MAP(X)                                                                    \
    X(NONE, 0, "no error")                                                                         \
    X(NEWLINE, 400, "bare CR, or bare LF where CRLF is required")                                  \
    X(METHOD, 400, "empty method or a method with a non-token character")                          \
    X(TARGET, 400,                                                                                 \
      "empty request-target, a control character in it, or a form the method forbids")             \
    X(TARGET_TOO_LONG, 414, "request-target longer than max_target_size")                          \
    X(REQUEST_LINE, 400, "request line is not method SP target SP version CRLF")                   \
    X(VERSION_SYNTAX, 400, "malformed HTTP version")                                               \
    X(VERSION, 505, "HTTP major version other than 1")                                             \
    X(STATUS, 400, "malformed status line")                                                        \
    X(HEADER_NAME, 400, "empty field name, a non-token character, or a line starting with space")  \
    X(SPACE_BEFORE_COLON, 400, "whitespace between field name and colon")                          \
    X(OBS_FOLD, 400, "obsolete line folding")                                                      \
    X(HEADER_VALUE, 400, "control character or DEL in a field value")                              \
    X(TOO_MANY_HEADERS, 431, "more field lines than max_headers or the header array holds")        \
    X(HEAD_TOO_LARGE, 431, "head or trailer section longer than max_header_size")                  \
    X(CONTENT_LENGTH, 400, "Content-Length is not a decimal number")                               \
    X(CONTENT_LENGTH_CONFLICT, 400, "differing Content-Length values")                             \
    X(TE_WITH_CL, 400, "both Transfer-Encoding and Content-Length")                                \
    X(TE_HTTP10, 400, "Transfer-Encoding in an HTTP/1.0 message")                                  \
    X(TRANSFER_ENCODING, 400,                                                                      \
      "Transfer-Encoding malformed, not ending in chunked, or chunked twice")                      \
    X(TE_UNSUPPORTED, 501, "transfer coding other than chunked")                                   \
    X(HOST_MISSING, 400, "HTTP/1.1 request without Host")                                          \
    X(HOST, 400, "more than one Host, or an invalid Host value")                                   \
    X(BODY_TOO_LARGE, 413, "body longer than max_body_size")                                       \
    X(CHUNK_SIZE, 400, "chunk size missing, not hex, or longer than 16 digits")                    \
    X(CHUNK_EXT, 400, "malformed chunk extension or longer than max_chunk_ext")                    \
    X(CHUNK_DATA, 400, "chunk data not followed by CRLF")                                          \
    X(TRAILER, 400, "malformed trailer field")

typedef enum eddy_http1_error {
#define EDDY_HTTP1_ERR_ENUM_(name, status, msg) EDDY_HTTP1_ERR_##name,
    EDDY_HTTP1_ERROR_MAP(EDDY_HTTP1_ERR_ENUM_)
#undef EDDY_HTTP1_ERR_ENUM_
        EDDY_HTTP1_ERR_COUNT_
} eddy_http1_error_t;

/* The status a server answers an error with (0 for NONE, else 4xx/5xx). */
EDDY_EXPORT int eddy_http1_error_status(eddy_http1_error_t err);
/* The reason phrase of a status code ("Not Found"), from RFC 9110 and the
 * registry; "Unknown" for a code without one. A static string, never NULL. */
EDDY_EXPORT const char *eddy_http1_reason(int status);
/* The status line of a code that has a reason phrase, "HTTP/1.1 404 Not
 * Found\r\n" (a static string, its length in *len), or NULL (and *len 0)
 * for any other code. */
EDDY_EXPORT const char *eddy_http1_status_line(int status, size_t *len);
/* "EDDY_HTTP1_ERR_TE_WITH_CL", and a description; static strings, never NULL. */
EDDY_EXPORT const char *eddy_http1_error_name(eddy_http1_error_t err);
EDDY_EXPORT const char *eddy_http1_error_str(eddy_http1_error_t err);

/* What may be written into a message, by the rules the parser reads with:
 * a token (a method, a field name: one or more tchar, RFC 9110 5.6.2), and
 * a field value (no control byte but HTAB, no DEL: so no CR or LF that
 * could start another field or message). Both take a NUL-terminated string;
 * NULL is neither, "" is no token but an empty value. */
EDDY_EXPORT bool eddy_http1_is_token(const char *s);
EDDY_EXPORT bool eddy_http1_is_field_value(const char *s);
/* True when a Content-Type value names the media type type (lowercase,
 * e.g. "multipart/form-data"): it in any case, then the end, a parameter
 * or whitespace. */
EDDY_EXPORT bool eddy_http1_media_type_is(const char *value, size_t len, const char *type);

typedef struct eddy_http1_limits {
    size_t max_header_size; /* clamped to INT_MAX */
    size_t max_headers;
    size_t max_target_size;
    uint64_t max_body_size;
    size_t max_chunk_ext;
    bool allow_bare_lf;
} eddy_http1_limits_t;

/* Fill in the defaults listed in the header comment. */
EDDY_EXPORT void eddy_http1_limits_init(eddy_http1_limits_t *l);

/* A byte range inside the caller's buffer (not NUL-terminated). */
typedef struct eddy_http1_str {
    const char *ptr;
    size_t len;
} eddy_http1_str_t;

typedef struct eddy_http1_header {
    eddy_http1_str_t name;  /* as received; compare case-insensitively */
    eddy_http1_str_t value; /* without leading and trailing OWS; may be empty */
} eddy_http1_header_t;

typedef enum eddy_http1_method {
    EDDY_HTTP1_METHOD_OTHER, /* a valid token not listed (methods are case-sensitive) */
    EDDY_HTTP1_METHOD_GET,
    EDDY_HTTP1_METHOD_HEAD,
    EDDY_HTTP1_METHOD_POST,
    EDDY_HTTP1_METHOD_PUT,
    EDDY_HTTP1_METHOD_DELETE,
    EDDY_HTTP1_METHOD_CONNECT,
    EDDY_HTTP1_METHOD_OPTIONS,
    EDDY_HTTP1_METHOD_TRACE,
    EDDY_HTTP1_METHOD_PATCH,
} eddy_http1_method_t;

typedef enum eddy_http1_target_form {
    EDDY_HTTP1_TARGET_ORIGIN,    /* /path?query */
    EDDY_HTTP1_TARGET_ABSOLUTE,  /* scheme://authority/path?query (proxies) */
    EDDY_HTTP1_TARGET_AUTHORITY, /* host:port, CONNECT only */
    EDDY_HTTP1_TARGET_ASTERISK,  /* *, OPTIONS only */
} eddy_http1_target_form_t;

typedef enum eddy_http1_body {
    EDDY_HTTP1_BODY_NONE,    /* no body (also Content-Length: 0, and 1xx/204/304) */
    EDDY_HTTP1_BODY_LENGTH,  /* exactly content_length (> 0) bytes */
    EDDY_HTTP1_BODY_CHUNKED, /* chunked transfer coding: use eddy_http1_chunked_* */
    EDDY_HTTP1_BODY_CLOSE,   /* responses only: until the connection closes */
} eddy_http1_body_t;

typedef struct eddy_http1_request {
    /* Set by the caller before parsing; never changed by the parser. */
    eddy_http1_header_t *headers; /* array of max_headers entries */
    size_t max_headers;

    /* Set by the parser: when it returns > 0, all of them; on an error, only
     * error and error_offset are meaningful. */
    size_t num_headers;
    eddy_http1_str_t method;
    eddy_http1_method_t method_id;
    eddy_http1_str_t target; /* the whole request-target */
    eddy_http1_target_form_t target_form;
    eddy_http1_str_t authority; /* absolute and authority forms, else empty */
    eddy_http1_str_t path;      /* up to '?' (empty for an absolute URI with no path) */
    eddy_http1_str_t query;     /* after '?', without it; ptr NULL if no '?' */
    int minor_version;          /* 0 or 1 (HTTP/1.2+ is reported as 1) */
    eddy_http1_body_t body;     /* NONE, LENGTH or CHUNKED */
    uint64_t content_length;    /* when body is LENGTH, else 0 */
    eddy_http1_str_t host;      /* Host value; ptr NULL if absent */
    eddy_http1_str_t upgrade;   /* Upgrade value; ptr NULL if absent */
    bool keep_alive;            /* 1.1 unless Connection: close; 1.0 only with keep-alive */
    bool expect_continue;       /* Expect: 100-continue (ignored in 1.0) */
    bool upgrade_requested;     /* Upgrade present and Connection lists upgrade (1.1) */
    eddy_http1_error_t error;
    size_t error_offset; /* where in buf the error was found */
} eddy_http1_request_t;

typedef struct eddy_http1_response {
    eddy_http1_header_t *headers; /* set by the caller, as for requests */
    size_t max_headers;

    size_t num_headers;
    int minor_version; /* 0 or 1 */
    int status;        /* 100..999 */
    eddy_http1_str_t reason;
    eddy_http1_body_t body; /* NONE, LENGTH, CHUNKED or CLOSE */
    uint64_t content_length;
    eddy_http1_str_t upgrade;
    bool keep_alive; /* false also when body is CLOSE */
    eddy_http1_error_t error;
    size_t error_offset;
} eddy_http1_response_t;

/* Parse a request head at the start of buf[0..len). See the header comment
 * for the return values and last_len; limits may be NULL for the defaults.
 * buf may be NULL when len is 0. */
EDDY_EXPORT int eddy_http1_parse_request(const char *buf, size_t len, size_t last_len,
                                         eddy_http1_request_t *req,
                                         const eddy_http1_limits_t *limits);

/* Parse a response head (status line and fields), likewise. A missing SP
 * after the status code ("HTTP/1.1 200\r\n") is accepted. */
EDDY_EXPORT int eddy_http1_parse_response(const char *buf, size_t len, size_t last_len,
                                          eddy_http1_response_t *res,
                                          const eddy_http1_limits_t *limits);

/* First header named name (case-insensitive), or NULL. */
EDDY_EXPORT const eddy_http1_header_t *eddy_http1_find_header(const eddy_http1_header_t *headers,
                                                              size_t n, const char *name,
                                                              size_t name_len);

/* Parse a Content-Length value (OWS already trimmed): 1*DIGIT, or a list of
 * equal values. Returns 0 and the value, or EDDY_HTTP1_ERROR with *err set
 * to CONTENT_LENGTH or CONTENT_LENGTH_CONFLICT. */
EDDY_EXPORT int eddy_http1_parse_content_length(const char *value, size_t len, uint64_t *out,
                                                eddy_http1_error_t *err);

/* ---- chunked bodies --------------------------------------------------------------------- */

/* Decoder state, kept by the caller for the whole body; initialise it with
 * eddy_http1_chunked_init when the head says CHUNKED. It consumes the framing
 * byte by byte, so any split of the input gives the same data. Chunk-size
 * lines (size, extensions) and the CRLF after data must end in CRLF; chunk
 * sizes have at most 16 hex digits; extensions are checked against RFC 9112
 * 7.1.1 (token or quoted-string values) and discarded; trailer fields are
 * checked like header fields and discarded. */
typedef struct eddy_http1_chunked {
    uint64_t remaining;  /* data bytes left in the current chunk */
    uint64_t total;      /* data bytes decoded so far */
    uint64_t max_body;   /* limits.max_body_size */
    size_t max_ext;      /* limits.max_chunk_ext */
    size_t max_trailer;  /* limits.max_header_size */
    size_t max_trailers; /* limits.max_headers */
    size_t count;        /* extension bytes on this line, or trailer bytes */
    size_t fields;       /* trailer fields so far */
    uint8_t state;
    uint8_t digits;
    eddy_http1_error_t error;
} eddy_http1_chunked_t;

EDDY_EXPORT void eddy_http1_chunked_init(eddy_http1_chunked_t *d,
                                         const eddy_http1_limits_t *limits);

/* True once the last chunk and the trailer section have been consumed. */
EDDY_EXPORT bool eddy_http1_chunked_done(const eddy_http1_chunked_t *d);

/* Zero-copy: consume framing from buf[0..len) and at most one run of body
 * bytes, which *data points to (inside buf; len 0 if none). Returns the bytes
 * consumed (call again with the rest: it stops after each data run and at the
 * end of the body, leaving any following bytes, such as a pipelined request,
 * unconsumed), or EDDY_HTTP1_ERROR with d->error set (and every later call
 * fails the same way). */
EDDY_EXPORT ssize_t eddy_http1_chunked_parse(eddy_http1_chunked_t *d, const char *buf, size_t len,
                                             eddy_http1_str_t *data);

/* In place, as picohttpparser's phr_decode_chunked: decodes buf[0..*len),
 * moving the body bytes to the front and setting *len to their count.
 * Returns EDDY_HTTP1_INCOMPLETE when the body goes on (every input byte was
 * used), a value >= 0 when the body ended (that many bytes followed it; they
 * are moved to buf + *len), or EDDY_HTTP1_ERROR. */
EDDY_EXPORT ssize_t eddy_http1_chunked_decode(eddy_http1_chunked_t *d, char *buf, size_t *len);

/* ---- SIMD code paths (tests and benchmarks) ------------------------------------------------ */

typedef enum eddy_http1_simd {
    EDDY_HTTP1_SIMD_AUTO,     /* the best this CPU has */
    EDDY_HTTP1_SIMD_PORTABLE, /* plain C */
    EDDY_HTTP1_SIMD_SSE42,
    EDDY_HTTP1_SIMD_AVX2,
} eddy_http1_simd_t;

/* Use this path from now on, for every thread. Returns 0, or -ENOTSUP if the
 * CPU (or the build) lacks it (nothing changes then). */
EDDY_EXPORT int eddy_http1_simd_set(eddy_http1_simd_t simd);
/* The path in use (never AUTO), and its name: "portable", "sse42", "avx2". */
EDDY_EXPORT eddy_http1_simd_t eddy_http1_simd_get(void);
EDDY_EXPORT const char *eddy_http1_simd_name(eddy_http1_simd_t simd);

#endif
