/*
 * eddy/http_static.h — static files: the whole answer to a GET or HEAD for
 * a file under a document root, decided in one call.
 *
 * What it is for. The HTTP server percent-decodes the request path and
 * hands it, with the method and a few request header values, to
 * eddy_static_serve(). That resolves the path safely beneath the document
 * root, opens the file, evaluates the conditional headers and the Range, and
 * returns a plain struct: the status, the header values to send, and the
 * file descriptor, offset and length to sendfile. The server turns it into
 * a response and releases it. The parsers it uses (Range, HTTP dates, entity
 * tag lists) and the MIME table are public too.
 *
 *     eddy_static_request_t rq = {.method = ..., .path = decoded_path, .range = ...};
 *     eddy_static_response_t rs;
 *     if (eddy_static_serve(st, &rq, &rs) < 0) → 500
 *     eddy_static_header_t h[EDDY_STATIC_MAX_HEADERS];
 *     size_t n = eddy_static_response_headers(&rs, h, EDDY_STATIC_MAX_HEADERS);
 *     → status line rs.status, the n headers, then rs.length bytes of rs.fd from rs.offset
 *     eddy_static_response_release(&rs);
 *
 * The path MUST be percent-decoded first: "/%2e%2e/x" undecoded is just a
 * file named "%2e%2e" (and then 404), decoded it climbs out (and then 403).
 * The query must not be part of it.
 *
 * Security rules (in this order):
 *   - the path must start with '/' and hold no NUL byte, else 400;
 *   - "." and empty segments are dropped and ".." removes the segment before
 *     it (RFC 3986 dot-segment removal), lexically, before the file system
 *     sees the path; a ".." with nothing left to remove would climb out of
 *     the root: 403. The kernel therefore never resolves a ".." of ours;
 *   - the file is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 *     relative to the root's directory descriptor, so a symlink (at any
 *     depth) that leads outside the root, an absolute symlink, or a /proc
 *     magic link is refused by the kernel: 403. Symlinks that stay inside
 *     are followed. Where the kernel has no openat2 (before Linux 5.6,
 *     ENOSYS, remembered), the fallback opens the path with O_PATH, asks
 *     /proc/self/fd which file that really is, refuses it (403) unless that
 *     lies under the root's real path, and only then opens it for reading
 *     through the same descriptor: what is checked is what is served. (The
 *     fallback judges only where a path ends, so an absolute symlink that
 *     points back inside the root, or a detour out of the root and back in,
 *     is served there; openat2 refuses both.);
 *   - files are opened O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC (a FIFO
 *     cannot block the server) and only regular files are served: anything
 *     else is 403. O_NONBLOCK is cleared before the descriptor is returned;
 *   - a directory is answered with its first index file that exists and is
 *     a regular file (index_files, in order; opened by the same rules), or
 *     403 if none. "/dir" and "/dir/" both do (is_index says so: a server
 *     that wants relative links in the index page to work may redirect
 *     "/dir" to "/dir/" instead). A trailing '/' after a file is 404;
 *   - missing files, over-long names: 404; permission denied: 403. Other
 *     system errors (EMFILE, ENOMEM, EIO) are returned as -errno: answer 500.
 *   - Dot files are served like any other file: keep what must not be
 *     public out of the document root.
 *
 * Methods: GET and HEAD; anything else is 405 with Allow: GET, HEAD (the
 * file system is not touched). HEAD gets exactly the headers GET would get,
 * and no body: fd is -1 and length 0 (Range is ignored for HEAD, as RFC 9110
 * 14.2 defines ranges for GET only, so HEAD always shows the 200 headers, or
 * the 304/412 a precondition gives).
 *
 * Validators. ETag is strong, "<mtime in ns, hex>-<64-bit mix of size,
 * inode and device, hex>", so it changes when the file is written (mtime),
 * truncated or replaced by a rename (inode). Last-Modified is the mtime as an
 * IMF-fixdate. Preconditions run in RFC 9110 13.2.2's order:
 *   1. If-Match (strong comparison, "*" matches): false → 412;
 *   2. if there is no If-Match, If-Unmodified-Since: mtime later → 412;
 *   3. If-None-Match (weak comparison, "*" matches): true → 304;
 *   4. only if there is no If-None-Match, If-Modified-Since: mtime not later
 *      → 304.
 * A date that does not parse is ignored; so is an If-None-Match list that
 * does not parse (then step 4 applies); an If-Match that does not parse
 * fails (412). All three HTTP date formats are parsed (IMF-fixdate,
 * RFC 850 with its 2-digit year taken within 50 years of now, asctime).
 *
 * Ranges (GET only). A single range "bytes=first-last", "first-" or
 * "-suffix" (unit case-insensitive, empty list elements skipped) against the
 * file size gives 206 with Content-Range "bytes start-end/size"; a range
 * that starts at or beyond the end, or a suffix of 0, gives 416 with
 * Content-Range "bytes *" "/size" (one string; split here only because it
 * would end this comment). More than one range: the full file, 200 — a
 * multipart/byteranges answer is rarely worth its complexity, and RFC 9110
 * 14.2 lets a server ignore Range. A malformed Range or another unit is
 * ignored (200), as 14.2 requires. A suffix on an empty file gives 200 (no
 * byte range can be expressed). If-Range: an entity tag must match strongly,
 * a date exactly and lie at least one second in the past (as Apache does: a
 * Last-Modified in the current second is weak, the file may change again
 * within it); otherwise the Range is ignored.
 *
 * Headers per status (eddy_static_response_headers):
 *   200, 206  Content-Type, Content-Length, ETag, Last-Modified,
 *             Accept-Ranges: bytes, and Content-Range for 206
 *   304       ETag, Last-Modified
 *   416       Content-Range (the unsatisfied form above)
 *   405       Allow: GET, HEAD
 *   400, 403, 404, 412   none
 * Content-Length is given only for 200 and 206; for every other status the
 * server frames whatever body it sends (none for 304; an error page or
 * nothing for the others).
 *
 * Blocking. eddy_static_serve makes a few file-system calls on the calling
 * thread (openat2 or openat, fstat, fcntl; readlink in the fallback), as
 * nginx does on its event loop. A server whose document root lives on a
 * slow or network file system may call it from the thread pool instead.
 *
 * Ownership and threads. eddy_static_t holds the document root's directory
 * descriptor (opened once, O_PATH) and the index list; it is read-only after
 * eddy_static_new, so one may serve many threads, and it survives fork. A
 * response owns its fd until eddy_static_response_release (a server that
 * passes the fd to eddy_sendfile, which duplicates it, releases right after).
 * Strings in a request are read only during the call; strings in a response
 * live in the response struct (or are static).
 */
#ifndef EDDY_HTTP_STATIC_H
#define EDDY_HTTP_STATIC_H

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "common.h"
#include "error.h"
#include "http1.h"

#define EDDY_STATIC_DEFAULT_INDEX_FILES "index.html"
#define EDDY_STATIC_MAX_INDEX_FILES     16
#define EDDY_STATIC_ETAG_MAX            35 /* 2 quotes, 2 x 16 hex digits, '-' */
#define EDDY_STATIC_CONTENT_RANGE_MAX   68 /* "bytes " 20 "-" 20 "/" 20 */
#define EDDY_STATIC_MAX_HEADERS         6

typedef struct eddy_static_options {
    const char *document_root; /* the directory served (required) */
    const char *index_files;   /* file names tried for a directory, in order,
                                  separated by commas (spaces around them are
                                  ignored); NULL means "index.html"; "" none */
} eddy_static_options_t;

typedef struct eddy_static eddy_static_t;

/* document_root NULL (must be set), index_files NULL (the default). */
EDDY_EXPORT void eddy_static_options_init(eddy_static_options_t *o);

/* Open the document root and check the index list. Returns 0 and *out;
 * -EDDY_EOPTION (no document_root; an index name that is empty, ".", "..",
 * holds '/', is longer than 255 bytes, or more than 16 names); -errno from
 * realpath/open (ENOENT, ENOTDIR, EACCES ...); -ENOMEM. */
EDDY_EXPORT int eddy_static_new(eddy_static_t **out, const eddy_static_options_t *o);
EDDY_EXPORT void eddy_static_free(eddy_static_t *st); /* NULL is fine */

typedef struct eddy_static_request {
    eddy_http1_str_t method; /* "GET", "HEAD", ... (methods are case-sensitive) */
    eddy_http1_str_t path;   /* percent-DECODED, without the query */
    /* Request header values (OWS trimmed); ptr NULL when absent. A header
     * sent on several lines is passed as its lines joined with ", ". */
    eddy_http1_str_t if_match;
    eddy_http1_str_t if_none_match;
    eddy_http1_str_t if_modified_since;
    eddy_http1_str_t if_unmodified_since;
    eddy_http1_str_t range;
    eddy_http1_str_t if_range;
} eddy_static_request_t;

typedef struct eddy_static_response {
    int status;      /* 200 206 304 400 403 404 405 412 416 */
    int fd;          /* the file to send (200/206 to GET), else -1 */
    off_t offset;    /* first byte to send */
    uint64_t length; /* bytes to send; 0 when fd is -1 */
    bool is_index;   /* a directory was asked for and its index file chosen */
    bool found;      /* a file was selected: st is valid (200 206 304 412 416) */
    struct stat st;
    /* What to send; NULL or "" when not sent (see the header comment). */
    const char *content_type; /* static string */
    const char *allow;        /* static string */
    bool accept_ranges;       /* Accept-Ranges: bytes */
    char content_length[24];
    char etag[EDDY_STATIC_ETAG_MAX + 1];
    char last_modified[EDDY_HTTP_DATE_LEN + 1];
    char content_range[EDDY_STATIC_CONTENT_RANGE_MAX + 1];
} eddy_static_response_t;

/* Decide the answer. Returns 0 with *resp filled (any status), or -errno
 * for a system error (resp->fd is then -1 and status 500). */
EDDY_EXPORT int eddy_static_serve(const eddy_static_t *st, const eddy_static_request_t *req,
                                  eddy_static_response_t *resp);

/* Close the response's fd (if any); safe to call twice. */
EDDY_EXPORT void eddy_static_response_release(eddy_static_response_t *resp);

typedef struct eddy_static_header {
    const char *name;  /* static, NUL-terminated */
    const char *value; /* NUL-terminated; points into the response or is static */
} eddy_static_header_t;

/* The headers to send for resp, in the order listed in the header comment.
 * Writes at most max entries (EDDY_STATIC_MAX_HEADERS always suffice) and
 * returns how many it wrote. The values point into *resp: valid while it
 * is neither changed nor moved. */
EDDY_EXPORT size_t eddy_static_response_headers(const eddy_static_response_t *resp,
                                                eddy_static_header_t *out, size_t max);

/* ---- the parts, public for servers and tests ------------------------------------------------ */

/* MIME type for a file name (or path: only the last segment counts), by its
 * extension, case-insensitively: text types with "; charset=utf-8", and
 * "application/octet-stream" for an unknown or missing extension (a name
 * whose only dot is its first byte, ".profile", has none). Static string. */
EDDY_EXPORT const char *eddy_static_mime_type(const char *name, size_t len);

/* Write the ETag for st (quotes included, NUL-terminated); returns its
 * length. */
EDDY_EXPORT int eddy_static_make_etag(const struct stat *st, char out[EDDY_STATIC_ETAG_MAX + 1]);

/* Parse an HTTP-date in any of the three formats of RFC 9110 5.6.7 (exactly,
 * case-sensitive, no surrounding space). Returns 0 and *out, or -EINVAL. */
EDDY_EXPORT int eddy_static_parse_date(const char *value, size_t len, time_t *out);

/* Does the If-Match / If-None-Match value (a list of entity tags, or "*")
 * match etag (one entity tag, quotes included, as made above)? strong:
 * neither may be weak (W/) — If-Match — else W/ is ignored on both sides —
 * If-None-Match. Returns 1 (match, or "*"), 0 (no match), or -EINVAL
 * (malformed list: empty, a tag without quotes, a bad character...). */
EDDY_EXPORT int eddy_static_etag_match(const char *list, size_t len, const char *etag,
                                       size_t etag_len, bool strong);

typedef enum eddy_static_range {
    EDDY_STATIC_RANGE_NONE,          /* no usable Range: send the whole file */
    EDDY_STATIC_RANGE_PARTIAL,       /* *start, *length (length > 0): 206 */
    EDDY_STATIC_RANGE_UNSATISFIABLE, /* 416 */
} eddy_static_range_t;

/* Evaluate a Range value against a file of size bytes (rules above).
 * Numbers too large for 64 bits count as "beyond any end". */
EDDY_EXPORT eddy_static_range_t eddy_static_parse_range(const char *value, size_t len,
                                                        uint64_t size, uint64_t *start,
                                                        uint64_t *length);

#endif
