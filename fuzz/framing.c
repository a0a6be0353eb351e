/*
 * Fuzz target for eddy_frame_next: the same stream fed whole and fed in
 * pieces must give the same packets, every answer must match a naive
 * reference framer, and no call may read outside the bytes it was given.
 * With HTTP bodies streamed (http_stream_max_body) only the ends of heads,
 * last body pieces and whole requests must agree, the pieces must add up to
 * each head's Content-Length, or for a chunked body hold its encoding up to
 * the end of its trailers exactly, within the limits, and a packet given
 * back (eddy_frame_unread) must come again.
 *
 * Input layout (the stream is whatever follows the header):
 *   [0]      mode: raw, eof_check, eof_split, length, length function
 *   [1]      package_eof length - 1 (low 3 bits), then that many EOF bytes;
 *            the high bit selects HTTP mode instead of [0]'s, with
 *            http_max_target_size 1 + 4 * [+0], http_max_header_size
 *            16 + 8 * [+1], http_max_headers 1 + [+2] % 16; with it, bit
 *            0x40 streams multipart bodies (the two bytes after the pattern)
 *   [+0]     package_length_type (index into "cCsSnNvVlLqQ")
 *   [+1]     package_length_offset (0..7)
 *   [+2]     package_body_offset (0..23)
 *   [+3,+4]  package_max_length - 1 (little-endian, mod 2048)
 *   [+5]     piece pattern length - 1 (low 3 bits), then the pattern: each
 *            byte is the size of the next arriving piece, 0 meaning all the rest
 *   [+0,+1]  only when streaming, after the pattern: http_stream_max_body - 1
 *            (little-endian, low 12 bits), and every how many deliveries the
 *            piece feed gives one back with eddy_frame_unread (high 4 bits,
 *            0: never)
 * The whole input also goes through eddy_framing_set as one option's value.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/framing.h"

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
        if (!(c)) abort();                                                                         \
    } while (0)

static const char letters[] = "cCsSnNvVlLqQ";

typedef struct input {
    const uint8_t *p;
    size_t n;
} input_t;

static bool take(input_t *in, size_t n, const uint8_t **out)
{
    if (in->n < n) return false;
    *out = in->p;
    in->p += n;
    in->n -= n;
    return true;
}

/* Total = varint header + its value; malformed after 5 bytes. Reads only
 * data[0..len), and a longer prefix never changes the answer. */
static ssize_t varint_len(const char *data, size_t len, void *ud)
{
    (void)ud;
    size_t v = 0;
    for (size_t i = 0; i < len && i < 5; i++) {
        unsigned char c = (unsigned char)data[i];
        v |= (size_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) return (ssize_t)(i + 1 + v);
    }
    return len >= 5 ? -EDDY_EBADLEN : 0;
}

/* ---- reference framer: obviously right, quadratic, stateless ----------------- */

static size_t lim(const eddy_framing_t *f)
{
    return f->package_max_length < (size_t)SSIZE_MAX ? f->package_max_length : (size_t)SSIZE_MAX;
}

static bool eof_at(const eddy_framing_t *f, const char *d, size_t i)
{
    return memcmp(d + i, f->package_eof, f->package_eof_len) == 0;
}

static ssize_t ref_eof(const eddy_framing_t *f, const char *d, size_t len)
{
    size_t k = f->package_eof_len, end = len < lim(f) ? len : lim(f), hit = 0;
    for (size_t i = 0; i + k <= end; i++) {
        if (!eof_at(f, d, i)) continue;
        hit = i + k;
        if (f->mode == EDDY_FRAME_EOF_SPLIT) break;
    }
    if (hit) return (ssize_t)hit;
    return len >= lim(f) ? -EDDY_EPACKET_TOO_BIG : 0;
}

static ssize_t ref_header(const eddy_framing_t *f, const char *d, size_t len)
{
    size_t size = eddy_framing_length_size(f->package_length_type), max = lim(f);
    size_t off = f->package_length_offset;
    if (size > max || off > max - size) return -EDDY_EPACKET_TOO_BIG;
    if (len < off + size) return 0;
    const char *p = d + off;
    const unsigned char *u = (const unsigned char *)p;
    int8_t i8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t v;
    switch (f->package_length_type) {
    case 'c':
        memcpy(&i8, p, 1);
        v = (uint64_t)i8;
        if (i8 < 0) return -EDDY_EBADLEN;
        break;
    case 'C': v = u[0]; break;
    case 's':
        memcpy(&i16, p, 2);
        v = (uint64_t)i16;
        if (i16 < 0) return -EDDY_EBADLEN;
        break;
    case 'S':
        memcpy(&u16, p, 2);
        v = u16;
        break;
    case 'n': v = u[0] * 256u + u[1]; break;
    case 'v': v = u[1] * 256u + u[0]; break;
    case 'N': v = ((u[0] * 256u + u[1]) * 256u + u[2]) * 256ull + u[3]; break;
    case 'V': v = ((u[3] * 256u + u[2]) * 256u + u[1]) * 256ull + u[0]; break;
    case 'l':
        memcpy(&i32, p, 4);
        v = (uint64_t)i32;
        if (i32 < 0) return -EDDY_EBADLEN;
        break;
    case 'L':
        memcpy(&u32, p, 4);
        v = u32;
        break;
    case 'q':
        memcpy(&i64, p, 8);
        v = (uint64_t)i64;
        if (i64 < 0) return -EDDY_EBADLEN;
        break;
    case 'Q': memcpy(&v, p, 8); break;
    default: return -EDDY_EOPTION;
    }
    if (v > SIZE_MAX - f->package_body_offset) return -EDDY_EBADLEN;
    size_t total = f->package_body_offset + (size_t)v;
    if (total < off + size) return -EDDY_EBADLEN;
    if (total > max) return -EDDY_EPACKET_TOO_BIG;
    return len < total ? 0 : (ssize_t)total;
}

/* HTTP: the head parsed from scratch, the chunked body decoded in a copy. */
static ssize_t ref_http(const eddy_framing_t *f, const char *d, size_t len)
{
    eddy_http1_header_t headers[EDDY_FRAME_HTTP_MAX_HEADERS];
    eddy_http1_request_t req = {.headers = headers, .max_headers = f->http_max_headers};
    eddy_http1_limits_t limits;
    eddy_framing_http_limits(f, &limits);
    int n = eddy_http1_parse_request(d, len, 0, &req, &limits);
    if (n == EDDY_HTTP1_INCOMPLETE) return 0;
    if (n < 0) return -EDDY_EHTTP_PARSE;
    size_t head = (size_t)n;
    if (req.body == EDDY_HTTP1_BODY_NONE) return (ssize_t)head;
    if (req.body == EDDY_HTTP1_BODY_LENGTH)
        return len - head < req.content_length ? 0 : (ssize_t)(head + req.content_length);
    size_t blen = len - head;
    char *copy = malloc(blen ? blen : 1);
    ASSERT(copy);
    memcpy(copy, d + head, blen);
    eddy_http1_chunked_t dec;
    eddy_http1_chunked_init(&dec, &limits);
    size_t out = blen;
    ssize_t r = eddy_http1_chunked_decode(&dec, copy, &out);
    free(copy);
    if (r == EDDY_HTTP1_ERROR) return -EDDY_EHTTP_PARSE;
    size_t encoded = r == EDDY_HTTP1_INCOMPLETE ? blen : blen - (size_t)r;
    if (encoded - out > f->package_max_length + f->http_max_header_size) return -EDDY_EHTTP_PARSE;
    return r == EDDY_HTTP1_INCOMPLETE ? 0 : (ssize_t)(head + encoded);
}

static ssize_t ref_next(const eddy_framing_t *f, const char *d, size_t len)
{
    if (len == 0) return 0;
    switch (f->mode) {
    case EDDY_FRAME_HTTP: return ref_http(f, d, len);
    case EDDY_FRAME_RAW: return (ssize_t)(len < lim(f) ? len : lim(f));
    case EDDY_FRAME_EOF_CHECK:
    case EDDY_FRAME_EOF_SPLIT: return ref_eof(f, d, len);
    case EDDY_FRAME_LENGTH:
        if (f->length_fn) {
            ssize_t t = varint_len(d, len < lim(f) ? len : lim(f), NULL);
            if (t < 0) return t;
            if (t == 0) return len >= lim(f) ? -EDDY_EPACKET_TOO_BIG : 0;
            if ((size_t)t > lim(f)) return -EDDY_EPACKET_TOO_BIG;
            return len < (size_t)t ? 0 : t;
        }
        return ref_header(f, d, len);
    }
    return -EDDY_EOPTION;
}

/* ---- the two ways of feeding ---------------------------------------------------- */

typedef struct trace {
    size_t *end;   /* stream offset where each delivery ends */
    uint8_t *part; /* and its eddy_packet_part_t */
    size_t n;
    size_t consumed;
    ssize_t status; /* 0: the rest is pending */
} trace_t;

static trace_t trace_new(size_t max_deliveries)
{
    trace_t t = {malloc(max_deliveries * sizeof(size_t)), malloc(max_deliveries), 0, 0, 0};
    ASSERT(t.end && t.part);
    return t;
}

static void trace_free(trace_t *t)
{
    free(t->end);
    free(t->part);
}

static void trace_add(trace_t *t, size_t n, uint8_t part)
{
    t->consumed += n;
    t->end[t->n] = t->consumed;
    t->part[t->n++] = part;
}

static bool streaming(const eddy_framing_t *f)
{
    return f->mode == EDDY_FRAME_HTTP && f->http_stream_max_body > 0;
}

/* After every answer the state must be one a later call can trust; while a
 * streamed body is due, its bytes are no slow head. */
static void check_answer(const eddy_framing_t *f, const eddy_frame_state_t *st, ssize_t r,
                         size_t len)
{
    if (r > 0) {
        ASSERT((size_t)r <= len);
        ASSERT(st->scanned == 0 && st->expected == 0 && st->head_len == 0);
        bool body_due = st->part == EDDY_PACKET_HEAD || st->part == EDDY_PACKET_BODY;
        ASSERT(body_due == (st->stream_left > 0));
        ASSERT(!body_due || !eddy_frame_head_pending(f, st, 1));
    } else if (r == 0) {
        ASSERT(st->scanned <= len);
        ASSERT(st->expected == 0 || st->expected > len);
    }
}

/* The packet just returned, given back, comes again the same. */
static void check_unread(const eddy_framing_t *f, eddy_frame_state_t *st, const char *d, size_t len,
                         ssize_t r)
{
    uint8_t part = st->part;
    eddy_frame_unread(st, (size_t)r);
    ssize_t again = eddy_frame_next(f, st, d, len);
    check_answer(f, st, again, len);
    ASSERT(again == r && st->part == part);
}

/* The whole stream at once, in an allocation of exactly its size; every
 * answer is also compared with the reference on a fresh state. */
static void feed_whole(const eddy_framing_t *f, const char *s, size_t len, trace_t *t)
{
    eddy_frame_state_t st;
    eddy_frame_state_reset(&st);
    for (;;) {
        const char *d = s + t->consumed;
        size_t left = len - t->consumed;
        ssize_t r = eddy_frame_next(f, &st, d, left);
        check_answer(f, &st, r, left);
        /* The reference knows only whole requests. */
        if (!streaming(f)) ASSERT(r == ref_next(f, d, left));
        if (r <= 0) {
            t->status = r;
            return;
        }
        trace_add(t, (size_t)r, st.part);
    }
}

/* Pieces arrive as the pattern says; the framer sees only the bytes that have
 * arrived and not been consumed, everything else is poisoned for ASan. Every
 * unread_every-th delivery (0: none) is given back once first. */
static void feed_pieces(const eddy_framing_t *f, const char *s, size_t len, const uint8_t *pat,
                        size_t npat, size_t unread_every, trace_t *t)
{
    char *buf = malloc(len ? len : 1);
    ASSERT(buf);
    memcpy(buf, s, len);
    ASAN_POISON_MEMORY_REGION(buf, len);
    eddy_frame_state_t st;
    eddy_frame_state_reset(&st);
    size_t avail = 0;
    for (size_t i = 0; avail < len && t->status == 0; i++) {
        size_t n = pat[i % npat] ? pat[i % npat] : len - avail;
        if (n > len - avail) n = len - avail;
        ASAN_UNPOISON_MEMORY_REGION(buf + avail, n);
        avail += n;
        for (;;) {
            size_t left = avail - t->consumed;
            ssize_t r = eddy_frame_next(f, &st, buf + t->consumed, left);
            check_answer(f, &st, r, left);
            if (r < 0) t->status = r;
            if (r <= 0) break;
            if (unread_every && (t->n + 1) % unread_every == 0)
                check_unread(f, &st, buf + t->consumed, left, r);
            ASAN_POISON_MEMORY_REGION(buf + t->consumed, (size_t)r);
            trace_add(t, (size_t)r, st.part);
        }
    }
    ASAN_UNPOISON_MEMORY_REGION(buf, len);
    free(buf);
}

static void check_same(const trace_t *a, const trace_t *b)
{
    ASSERT(a->n == b->n && a->consumed == b->consumed && a->status == b->status);
    ASSERT(a->n == 0 || memcmp(a->end, b->end, a->n * sizeof *a->end) == 0);
}

/* No proper prefix of the EOF is also its suffix, so occurrences never
 * overlap and EOF ends are the same wherever a delivery starts. */
static bool borderless(const eddy_framing_t *f)
{
    size_t k = f->package_eof_len;
    for (size_t j = 1; j < k; j++)
        if (memcmp(f->package_eof, f->package_eof + k - j, j) == 0) return false;
    return true;
}

/* Deliveries that depend on how bytes arrive (raw, eof_check) still hold
 * whole packets, in order, within the limit. */
static void check_deliveries(const eddy_framing_t *f, const char *s, const trace_t *t)
{
    size_t start = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t n = t->end[i] - start;
        ASSERT(n >= 1 && n <= lim(f));
        if (f->mode == EDDY_FRAME_EOF_CHECK) {
            ASSERT(n >= f->package_eof_len);
            ASSERT(eof_at(f, s, t->end[i] - f->package_eof_len));
        }
        start = t->end[i];
    }
}

static bool is_end(const trace_t *t, size_t pos)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->end[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->end[lo] == pos;
}

/* HTTP: the same packets. The same end too, except that a malformed head
 * that is still incomplete may be refused at once when it arrives whole but
 * only when it ends when it trickles in (a resumed parse only scans for the
 * end of the head, eddy/http1.h): then the rest, framed afresh, must give
 * the refusal. */
static void check_http(const eddy_framing_t *f, const char *s, size_t len, const trace_t *whole,
                       const trace_t *piece)
{
    ASSERT(whole->n == piece->n && whole->consumed == piece->consumed);
    ASSERT(whole->n == 0 || memcmp(whole->end, piece->end, whole->n * sizeof *whole->end) == 0);
    if (whole->status == piece->status) return;
    ASSERT(whole->status == -EDDY_EHTTP_PARSE && piece->status == 0);
    eddy_frame_state_t st;
    eddy_frame_state_reset(&st);
    ASSERT(eddy_frame_next(f, &st, s + piece->consumed, len - piece->consumed) == whole->status);
}

/* streamed_body's answer for a chunked body: its length is unknown. */
#define CHUNKED_BODY UINT64_MAX

/* The body a request's head announces for streaming (CHUNKED_BODY when
 * chunked), 0 if the request comes whole; *head is the head's length.
 * Parsed afresh, as the framer does. */
static uint64_t streamed_body(const eddy_framing_t *f, const char *d, size_t len, size_t *head)
{
    eddy_http1_header_t headers[EDDY_FRAME_HTTP_MAX_HEADERS];
    eddy_http1_request_t req = {.headers = headers, .max_headers = f->http_max_headers};
    eddy_http1_limits_t limits;
    eddy_framing_http_limits(f, &limits);
    if (f->http_stream_max_body > limits.max_body_size)
        limits.max_body_size = f->http_stream_max_body;
    int n = eddy_http1_parse_request(d, len, 0, &req, &limits);
    ASSERT(n > 0);
    *head = (size_t)n;
    if (req.body == EDDY_HTTP1_BODY_NONE) return 0;
    static const char name[] = "content-type";
    const eddy_http1_header_t *type =
        eddy_http1_find_header(req.headers, req.num_headers, name, sizeof name - 1);
    if (!type || !eddy_http1_media_type_is(type->value.ptr, type->value.len, "multipart/form-data"))
        return 0;
    return req.body == EDDY_HTTP1_BODY_CHUNKED ? CHUNKED_BODY : req.content_length;
}

/* A HEAD is all of a head announcing a streamed body within the limit; a
 * WHOLE request announces none. Returns the body length to come. */
static uint64_t check_request(const eddy_framing_t *f, const char *d, size_t len, uint8_t part)
{
    size_t head;
    uint64_t body = streamed_body(f, d, len, &head);
    if (part == EDDY_PACKET_WHOLE) {
        ASSERT(body == 0);
        return 0;
    }
    ASSERT(part == EDDY_PACKET_HEAD && head == len);
    ASSERT(body == CHUNKED_BODY || (body > 0 && body <= f->http_stream_max_body));
    return body;
}

/* A streamed chunked body as its pieces come: each must be framing and
 * data the decoder takes whole, within the limits (data up to
 * http_stream_max_body, framing up to that plus http_max_header_size),
 * and the decoder must end exactly at the end of the last. */
typedef struct chunked_check {
    eddy_http1_chunked_t dec;
    uint64_t framing;
} chunked_check_t;

static void chunked_check_init(const eddy_framing_t *f, chunked_check_t *c)
{
    eddy_http1_limits_t limits;
    eddy_framing_http_limits(f, &limits);
    limits.max_body_size = f->http_stream_max_body;
    eddy_http1_chunked_init(&c->dec, &limits);
    c->framing = 0;
}

static void chunked_check_piece(const eddy_framing_t *f, chunked_check_t *c, const char *d,
                                size_t n, bool last)
{
    while (n > 0) {
        ASSERT(!eddy_http1_chunked_done(&c->dec));
        eddy_http1_str_t data;
        ssize_t r = eddy_http1_chunked_parse(&c->dec, d, n, &data);
        ASSERT(r > 0);
        c->framing += (size_t)r - data.len;
        d += r;
        n -= (size_t)r;
    }
    ASSERT(c->framing <= f->http_stream_max_body + f->http_max_header_size);
    ASSERT(eddy_http1_chunked_done(&c->dec) == last);
}

/* Every streamed body comes after its head as pieces of at least one byte,
 * the last a BODY_END, adding up to its Content-Length (a chunked one:
 * holding its encoding exactly); a stream that stops inside a body has
 * delivered all of it that arrived. */
static void check_parts(const eddy_framing_t *f, const char *s, size_t len, const trace_t *t)
{
    uint64_t body_left = 0;
    chunked_check_t chunked;
    size_t start = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t n = t->end[i] - start;
        uint8_t part = t->part[i];
        ASSERT(n >= 1);
        if (body_left == CHUNKED_BODY && part != EDDY_PACKET_HEAD && part != EDDY_PACKET_WHOLE) {
            chunked_check_piece(f, &chunked, s + start, n, part == EDDY_PACKET_BODY_END);
            if (part == EDDY_PACKET_BODY_END) body_left = 0;
        } else if (part == EDDY_PACKET_BODY) {
            ASSERT(n < body_left);
            body_left -= n;
        } else if (part == EDDY_PACKET_BODY_END) {
            ASSERT(n == body_left);
            body_left = 0;
        } else {
            ASSERT(body_left == 0);
            body_left = check_request(f, s + start, n, part);
            if (body_left == CHUNKED_BODY) chunked_check_init(f, &chunked);
        }
        start = t->end[i];
    }
    /* Only a chunked body can be refused in its middle. */
    if (body_left) ASSERT(t->status == 0 ? t->consumed == len : body_left == CHUNKED_BODY);
}

/* The deliveries whose ends do not depend on how the bytes arrive. */
static trace_t without_body_pieces(const trace_t *t)
{
    trace_t kept = trace_new(t->n + 1);
    for (size_t i = 0; i < t->n; i++)
        if (t->part[i] != EDDY_PACKET_BODY) {
            kept.end[kept.n] = t->end[i];
            kept.part[kept.n++] = t->part[i];
        }
    /* A chunked body refused in the middle ends after the pieces before
     * the bad byte, and those depend on how the bytes arrived. */
    kept.consumed = kept.n ? kept.end[kept.n - 1] : 0;
    kept.status = t->status;
    return kept;
}

static void compare_streamed(const eddy_framing_t *f, const char *s, size_t len,
                             const trace_t *whole, const trace_t *piece)
{
    check_parts(f, s, len, whole);
    check_parts(f, s, len, piece);
    trace_t a = without_body_pieces(whole), b = without_body_pieces(piece);
    check_http(f, s, len, &a, &b);
    ASSERT(a.n == 0 || memcmp(a.part, b.part, a.n) == 0);
    trace_free(&a);
    trace_free(&b);
}

static void compare(const eddy_framing_t *f, const char *s, size_t len, const trace_t *whole,
                    const trace_t *piece)
{
    if (f->mode == EDDY_FRAME_EOF_SPLIT || f->mode == EDDY_FRAME_LENGTH) {
        check_same(whole, piece);
        return;
    }
    if (streaming(f)) {
        compare_streamed(f, s, len, whole, piece);
        return;
    }
    if (f->mode == EDDY_FRAME_HTTP) {
        check_http(f, s, len, whole, piece);
        return;
    }
    check_deliveries(f, s, whole);
    check_deliveries(f, s, piece);
    if (f->mode == EDDY_FRAME_RAW) {
        ASSERT(whole->consumed == len && piece->consumed == len);
        ASSERT(whole->status == 0 && piece->status == 0);
        return;
    }
    if (f->mode != EDDY_FRAME_EOF_CHECK || !borderless(f)) return;
    /* eof_check merges runs of eof_split packets: same end, same error,
     * and every delivery ends where a split packet ends. */
    eddy_framing_t split = *f;
    split.mode = EDDY_FRAME_EOF_SPLIT;
    trace_t st = trace_new(len + 1);
    feed_whole(&split, s, len, &st);
    ASSERT(whole->consumed == piece->consumed && whole->status == piece->status);
    ASSERT(whole->consumed == st.consumed && whole->status == st.status);
    for (size_t i = 0; i < piece->n; i++)
        ASSERT(is_end(&st, piece->end[i]));
    for (size_t i = 0; i < whole->n; i++)
        ASSERT(is_end(&st, whole->end[i]));
    trace_free(&st);
}

/* ---- options ---------------------------------------------------------------------- */

static void fuzz_set(uint8_t which, const uint8_t *data, size_t size)
{
    static const char *const keys[] = {
        "open_eof_check",       "open_eof_split",       "package_eof",
        "open_length_check",    "package_length_type",  "package_length_offset",
        "package_body_offset",  "package_max_length",   "no_such_option",
        "open_http_protocol",   "http_max_header_size", "http_max_headers",
        "http_max_target_size", "http_header_timeout",
    };
    const char *key = keys[which % (sizeof keys / sizeof keys[0])];
    char *value = malloc(size + 1);
    ASSERT(value);
    memcpy(value, data, size);
    value[size] = '\0';
    eddy_framing_t f, before;
    eddy_framing_init(&f);
    before = f;
    int rc = eddy_framing_set(&f, key, value);
    ASSERT(rc == 0 || rc == -EDDY_EOPTION || rc == -EDDY_EUNKNOWN_OPTION);
    if (rc != 0) ASSERT(memcmp(&f, &before, sizeof f) == 0);
    if (rc == 0 && strcmp(key, "package_eof") == 0)
        ASSERT(f.package_eof_len >= 1 && f.package_eof_len <= EDDY_PACKAGE_EOF_MAX);
    (void)eddy_framing_validate(&f);
    free(value);
}

/* http_stream_max_body and the unread period; false when the input ends
 * before them. */
static bool take_streaming(input_t *in, eddy_framing_t *f, size_t *unread_every)
{
    const uint8_t *b;
    if (!take(in, 2, &b)) return false;
    f->http_stream_max_body = 1 + (b[0] | (size_t)(b[1] & 0x0f) << 8);
    *unread_every = b[1] >> 4;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size};
    const uint8_t *h, *eof, *opt, *pat;
    if (!take(&in, 2, &h)) return 0;
    fuzz_set(h[0] >> 3, data, size);
    size_t eof_len = 1 + (h[1] & 7);
    if (!take(&in, eof_len, &eof) || !take(&in, 6, &opt)) return 0;
    size_t npat = 1 + (opt[5] & 7);
    if (!take(&in, npat, &pat)) return 0;

    eddy_framing_t f;
    eddy_framing_init(&f);
    switch (h[0] % 5) {
    case 0: f.mode = EDDY_FRAME_RAW; break;
    case 1: f.mode = EDDY_FRAME_EOF_CHECK; break;
    case 2: f.mode = EDDY_FRAME_EOF_SPLIT; break;
    default: f.mode = EDDY_FRAME_LENGTH; break;
    }
    if (h[0] % 5 == 4) f.length_fn = varint_len;
    memcpy(f.package_eof, eof, eof_len);
    f.package_eof_len = eof_len;
    f.package_length_type = letters[opt[0] % 12];
    f.package_length_offset = opt[1] % 8;
    f.package_body_offset = opt[2] % 24;
    f.package_max_length = 1 + (opt[3] | (size_t)opt[4] << 8) % 2048;
    if (h[1] & 0x80) {
        f.mode = EDDY_FRAME_HTTP;
        f.http_max_target_size = 1 + 4 * (size_t)opt[0];
        f.http_max_header_size = 16 + 8 * (size_t)opt[1];
        f.http_max_headers = 1 + opt[2] % 16;
    }
    size_t unread_every = 0;
    if (f.mode == EDDY_FRAME_HTTP && (h[1] & 0x40) && !take_streaming(&in, &f, &unread_every))
        return 0;
    (void)eddy_framing_validate(&f);

    /* An exact-size copy: one byte too far is an ASan report. */
    size_t len = in.n;
    char *s = malloc(len ? len : 1);
    ASSERT(s);
    memcpy(s, in.p, len);
    trace_t whole = trace_new(len + 1);
    trace_t piece = trace_new(len + 1);
    feed_whole(&f, s, len, &whole);
    feed_pieces(&f, s, len, pat, npat, unread_every, &piece);
    compare(&f, s, len, &whole, &piece);
    trace_free(&whole);
    trace_free(&piece);
    free(s);
    return 0;
}
