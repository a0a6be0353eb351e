/*
 * Fuzz target for the HTTP/1.1 parser (eddy/http1.h): request and response
 * heads and chunked bodies. Every SIMD path must give the same answer; the
 * same bytes fed in pieces (with last_len) must give that answer too, or
 * still be waiting where the whole input is an error (errors may be deferred,
 * never invented, and nothing may be accepted differently); every accepted
 * head must satisfy the invariants its header promises; chunked bodies must
 * decode the same however they are split. Buffers are exact-size
 * allocations, and bytes that have not "arrived" are poisoned for ASan, so
 * any read outside the input fails.
 *
 * Input layout: [0] flags, [1] piece pattern seed, then the message.
 *   flags & 3      0 request, 1 response, 2 chunked body alone, 3 request
 *   flags & 4      allow_bare_lf
 *   flags & 8      small limits (header 300 B, 6 headers, target 40 B,
 *                  body 200 B, chunk extensions 12 B)
 *   flags >> 4     piece pattern: sizes of the arriving pieces
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/http1.h"

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n)   ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "http1 fuzz: %s:%d: %s\n", __FILE__, __LINE__, #c);                    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAXH 16

static eddy_http1_simd_t paths[3];
static int npaths;

static void paths_init(void)
{
    if (npaths) return;
    static const eddy_http1_simd_t all[] = {EDDY_HTTP1_SIMD_PORTABLE, EDDY_HTTP1_SIMD_SSE42,
                                            EDDY_HTTP1_SIMD_AVX2};
    for (size_t i = 0; i < 3; i++)
        if (eddy_http1_simd_set(all[i]) == 0) paths[npaths++] = all[i];
}

/* ---- a parse, reduced to offsets so runs on different buffers compare ---------------------- */

typedef struct sl {
    long off; /* -1: NULL */
    size_t len;
} sl_t;

typedef struct result {
    int rc;
    int error;
    size_t error_offset;
    /* when rc > 0 */
    sl_t method, target, authority, path, query, host, upgrade, reason;
    int method_id, form, minor, body, status;
    uint64_t content_length;
    bool keep_alive, expect_continue, upgrade_requested;
    size_t num_headers;
    sl_t names[MAXH], values[MAXH];
} result_t;

static sl_t slice(const char *base, eddy_http1_str_t s)
{
    sl_t r = {s.ptr ? (long)(s.ptr - base) : -1, s.len};
    return r;
}

static void check_slice(sl_t s, int rc)
{
    if (s.off < 0) {
        ASSERT(s.len == 0);
        return;
    }
    ASSERT((size_t)s.off + s.len <= (size_t)rc);
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* What an accepted head promises (include/eddy/http1.h). */
static void check_head(const char *buf, const result_t *r, bool response,
                       const eddy_http1_limits_t *lim)
{
    ASSERT(r->num_headers <= MAXH && r->num_headers <= lim->max_headers);
    for (size_t i = 0; i < r->num_headers; i++) {
        check_slice(r->names[i], r->rc);
        check_slice(r->values[i], r->rc);
        ASSERT(r->names[i].len > 0);
        for (size_t k = 0; k < r->names[i].len; k++)
            ASSERT(is_tchar((unsigned char)buf[r->names[i].off + (long)k]));
        const char *v = buf + r->values[i].off;
        for (size_t k = 0; k < r->values[i].len; k++) {
            unsigned char c = (unsigned char)v[k];
            ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (r->values[i].len) {
            ASSERT(v[0] != ' ' && v[0] != '\t');
            ASSERT(v[r->values[i].len - 1] != ' ' && v[r->values[i].len - 1] != '\t');
        }
    }
    ASSERT(r->minor == 0 || r->minor == 1);
    ASSERT(r->content_length <= lim->max_body_size || r->body == EDDY_HTTP1_BODY_NONE);
    ASSERT((r->body == EDDY_HTTP1_BODY_LENGTH) == (r->content_length > 0));
    ASSERT(buf[r->rc - 1] == '\n');
    ASSERT((size_t)r->rc <= lim->max_header_size);
    if (response) {
        ASSERT(r->status >= 100 && r->status <= 999);
        check_slice(r->reason, r->rc);
        if (r->status < 200 || r->status == 204 || r->status == 304)
            ASSERT(r->body == EDDY_HTTP1_BODY_NONE);
        if (r->body == EDDY_HTTP1_BODY_CLOSE) ASSERT(!r->keep_alive);
        return;
    }
    ASSERT(r->body != EDDY_HTTP1_BODY_CLOSE);
    check_slice(r->method, r->rc);
    check_slice(r->target, r->rc);
    check_slice(r->path, r->rc);
    check_slice(r->query, r->rc);
    check_slice(r->authority, r->rc);
    check_slice(r->host, r->rc);
    ASSERT(r->method.len > 0 && r->target.len > 0 && r->target.len <= lim->max_target_size);
    if (r->minor == 1) ASSERT(r->host.off >= 0);
    if (r->body == EDDY_HTTP1_BODY_CHUNKED) ASSERT(r->minor == 1);
    if (r->minor == 0) ASSERT(!r->expect_continue && !r->upgrade_requested);
    const char *t = buf + r->target.off;
    switch (r->form) {
    case EDDY_HTTP1_TARGET_ORIGIN: ASSERT(t[0] == '/'); break;
    case EDDY_HTTP1_TARGET_ASTERISK:
        ASSERT(r->target.len == 1 && t[0] == '*' && r->method_id == EDDY_HTTP1_METHOD_OPTIONS);
        break;
    case EDDY_HTTP1_TARGET_AUTHORITY: ASSERT(r->method_id == EDDY_HTTP1_METHOD_CONNECT); break;
    case EDDY_HTTP1_TARGET_ABSOLUTE: ASSERT(r->authority.off >= 0 || r->path.off >= 0); break;
    default: ASSERT(!"bad form");
    }
    if (r->query.off >= 0) ASSERT(buf[r->query.off - 1] == '?');
}

static void run_request(result_t *r, const char *buf, size_t len, size_t last,
                        const eddy_http1_limits_t *lim)
{
    eddy_http1_header_t h[MAXH];
    eddy_http1_request_t q;
    memset(&q, 0xa5, sizeof q);
    q.headers = h;
    q.max_headers = MAXH;
    memset(r, 0, sizeof *r);
    r->rc = eddy_http1_parse_request(buf, len, last, &q, lim);
    ASSERT(r->rc > 0 || r->rc == EDDY_HTTP1_INCOMPLETE || r->rc == EDDY_HTTP1_ERROR);
    if (r->rc == EDDY_HTTP1_ERROR) {
        r->error = q.error;
        r->error_offset = q.error_offset;
        ASSERT(q.error > EDDY_HTTP1_ERR_NONE && q.error < EDDY_HTTP1_ERR_COUNT_);
        ASSERT(q.error_offset <= len);
        return;
    }
    if (r->rc < 0) return;
    ASSERT((size_t)r->rc <= len);
    r->method = slice(buf, q.method);
    r->target = slice(buf, q.target);
    r->authority = slice(buf, q.authority);
    r->path = slice(buf, q.path);
    r->query = slice(buf, q.query);
    r->host = slice(buf, q.host);
    r->upgrade = slice(buf, q.upgrade);
    r->method_id = q.method_id;
    r->form = q.target_form;
    r->minor = q.minor_version;
    r->body = q.body;
    r->content_length = q.content_length;
    r->keep_alive = q.keep_alive;
    r->expect_continue = q.expect_continue;
    r->upgrade_requested = q.upgrade_requested;
    r->num_headers = q.num_headers;
    for (size_t i = 0; i < q.num_headers && i < MAXH; i++) {
        r->names[i] = slice(buf, q.headers[i].name);
        r->values[i] = slice(buf, q.headers[i].value);
    }
    check_head(buf, r, false, lim);
}

static void run_response(result_t *r, const char *buf, size_t len, size_t last,
                         const eddy_http1_limits_t *lim)
{
    eddy_http1_header_t h[MAXH];
    eddy_http1_response_t s;
    memset(&s, 0x5a, sizeof s);
    s.headers = h;
    s.max_headers = MAXH;
    memset(r, 0, sizeof *r);
    r->rc = eddy_http1_parse_response(buf, len, last, &s, lim);
    ASSERT(r->rc > 0 || r->rc == EDDY_HTTP1_INCOMPLETE || r->rc == EDDY_HTTP1_ERROR);
    if (r->rc == EDDY_HTTP1_ERROR) {
        r->error = s.error;
        r->error_offset = s.error_offset;
        ASSERT(s.error > EDDY_HTTP1_ERR_NONE && s.error < EDDY_HTTP1_ERR_COUNT_);
        ASSERT(s.error_offset <= len);
        return;
    }
    if (r->rc < 0) return;
    ASSERT((size_t)r->rc <= len);
    r->reason = slice(buf, s.reason);
    r->upgrade = slice(buf, s.upgrade);
    r->status = s.status;
    r->minor = s.minor_version;
    r->body = s.body;
    r->content_length = s.content_length;
    r->keep_alive = s.keep_alive;
    r->num_headers = s.num_headers;
    for (size_t i = 0; i < s.num_headers && i < MAXH; i++) {
        r->names[i] = slice(buf, s.headers[i].name);
        r->values[i] = slice(buf, s.headers[i].value);
    }
    check_head(buf, r, true, lim);
}

static bool same(const result_t *a, const result_t *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

typedef void (*run_fn)(result_t *, const char *, size_t, size_t, const eddy_http1_limits_t *);

/* Pieces of the sizes the pattern gives, into a buffer whose bytes beyond
 * what has arrived are poisoned. Ends at the first answer that is not
 * INCOMPLETE; every resumed answer must equal a fresh parse of the same bytes
 * (or be INCOMPLETE, which only defers). */
static void run_pieces(run_fn run, const char *s, size_t n, unsigned pattern,
                       const eddy_http1_limits_t *lim, result_t *out)
{
    static result_t fresh;
    char *buf = malloc(n ? n : 1);
    ASSERT(buf);
    memcpy(buf, s, n);
    ASAN_POISON_MEMORY_REGION(buf, n);
    size_t len = 0, last = 0;
    memset(out, 0, sizeof *out);
    out->rc = EDDY_HTTP1_INCOMPLETE;
    for (unsigned i = 0; len < n; i++) {
        size_t piece = pattern == 0 ? 1 : 1 + ((pattern * 7u + i * 13u) % (pattern * 5u + 3));
        if (piece > n - len) piece = n - len;
        ASAN_UNPOISON_MEMORY_REGION(buf + len, piece);
        len += piece;
        run(out, buf, len, last, lim);
        if (out->rc != EDDY_HTTP1_INCOMPLETE) {
            run(&fresh, buf, len, 0, lim);
            ASSERT(same(out, &fresh));
            break;
        }
        last = len;
    }
    ASAN_UNPOISON_MEMORY_REGION(buf, n);
    free(buf);
}

/* ---- chunked bodies ----------------------------------------------------------------------- */

typedef struct body {
    ssize_t rc; /* bytes after the body, INCOMPLETE or ERROR */
    int error;
    size_t len;
    uint64_t hash;
} body_t;

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

static void decode_pieces(const char *s, size_t n, unsigned pattern, const eddy_http1_limits_t *lim,
                          body_t *out)
{
    char *buf = malloc(n ? n : 1);
    ASSERT(buf);
    memcpy(buf, s, n);
    ASAN_POISON_MEMORY_REGION(buf, n);
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, lim);
    memset(out, 0, sizeof *out);
    out->rc = EDDY_HTTP1_INCOMPLETE;
    out->hash = 0xcbf29ce484222325ull;
    size_t avail = 0, pos = 0;
    for (unsigned i = 0; avail < n && out->rc == EDDY_HTTP1_INCOMPLETE; i++) {
        size_t piece = pattern == 0 ? n : 1 + ((pattern * 11u + i * 5u) % (pattern * 3u + 1));
        if (piece > n - avail) piece = n - avail;
        ASAN_UNPOISON_MEMORY_REGION(buf + avail, piece);
        avail += piece;
        while (pos < avail) {
            eddy_http1_str_t data;
            ssize_t r = eddy_http1_chunked_parse(&d, buf + pos, avail - pos, &data);
            if (r < 0) {
                ASSERT(r == EDDY_HTTP1_ERROR && d.error != EDDY_HTTP1_ERR_NONE);
                out->rc = r;
                out->error = d.error;
                break;
            }
            ASSERT(r > 0 && (size_t)r <= avail - pos);
            ASSERT(data.len == 0 ||
                   (data.ptr >= buf + pos && data.ptr + data.len <= buf + pos + r));
            out->hash = hash_bytes(out->hash, data.ptr, data.len);
            out->len += data.len;
            pos += (size_t)r;
            if (eddy_http1_chunked_done(&d)) {
                out->rc = (ssize_t)(n - pos);
                break;
            }
        }
    }
    ASSERT(out->len == d.total || out->rc == EDDY_HTTP1_ERROR || d.remaining > 0);
    ASSERT(d.total <= lim->max_body_size);
    ASAN_UNPOISON_MEMORY_REGION(buf, n);
    free(buf);
}

/* In place, all at once. */
static void decode_inplace(const char *s, size_t n, const eddy_http1_limits_t *lim, body_t *out)
{
    char *buf = malloc(n ? n : 1);
    ASSERT(buf);
    memcpy(buf, s, n);
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, lim);
    size_t len = n;
    memset(out, 0, sizeof *out);
    out->rc = eddy_http1_chunked_decode(&d, n ? buf : NULL, &len);
    ASSERT(len <= n);
    out->error = out->rc == EDDY_HTTP1_ERROR ? (int)d.error : 0;
    out->len = len;
    out->hash = hash_bytes(0xcbf29ce484222325ull, buf, len);
    if (out->rc >= 0) ASSERT(memcmp(buf + len, s + n - (size_t)out->rc, (size_t)out->rc) == 0);
    free(buf);
}

static void check_chunked(const char *s, size_t n, unsigned pattern, const eddy_http1_limits_t *lim)
{
    body_t whole, split, bytes, inplace;
    decode_pieces(s, n, 0, lim, &whole);
    decode_pieces(s, n, pattern + 1, lim, &split);
    ASSERT(memcmp(&whole, &split, sizeof whole) == 0);
    if (n < 512) {
        decode_pieces(s, n, 1, lim, &bytes);
        ASSERT(memcmp(&whole, &bytes, sizeof whole) == 0);
    }
    decode_inplace(s, n, lim, &inplace);
    ASSERT(inplace.rc == whole.rc && inplace.error == whole.error);
    if (whole.rc != EDDY_HTTP1_ERROR)
        ASSERT(inplace.len == whole.len && inplace.hash == whole.hash);
}

/* ---- the target --------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static result_t first, r, pieces;
    if (size < 2) return 0;
    paths_init();
    unsigned flags = data[0], pattern = data[1];
    const char *msg = (const char *)data + 2;
    size_t n = size - 2;

    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    lim.allow_bare_lf = flags & 4;
    if (flags & 8) {
        lim.max_header_size = 300;
        lim.max_headers = 6;
        lim.max_target_size = 40;
        lim.max_body_size = 200;
        lim.max_chunk_ext = 12;
    }
    unsigned mode = flags & 3;
    if (mode == 2) {
        check_chunked(msg, n, pattern, &lim);
        return 0;
    }
    bool response = mode == 1;
    run_fn run = response ? run_response : run_request;

    /* An exact-size copy: one byte too far either way is an ASan report. */
    char *buf = malloc(n ? n : 1);
    ASSERT(buf);
    memcpy(buf, msg, n);
    for (int k = 0; k < npaths; k++) {
        ASSERT(eddy_http1_simd_set(paths[k]) == 0);
        run(k ? &r : &first, n ? buf : NULL, n, 0, &lim);
        if (k) ASSERT(same(&first, &r));
        run_pieces(run, msg, n, k == 0 ? 0 : (flags >> 4) + pattern % 7, &lim, &pieces);
        if (pieces.rc == EDDY_HTTP1_INCOMPLETE)
            ASSERT(first.rc == EDDY_HTTP1_INCOMPLETE || first.rc == EDDY_HTTP1_ERROR);
        else
            ASSERT(same(&first, &pieces));
    }
    if (first.rc == EDDY_HTTP1_ERROR) {
        int st = eddy_http1_error_status((eddy_http1_error_t)first.error);
        ASSERT(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505);
    }
    if (first.rc > 0 && first.body == EDDY_HTTP1_BODY_CHUNKED)
        check_chunked(msg + first.rc, n - (size_t)first.rc, pattern, &lim);
    free(buf);
    return 0;
}
