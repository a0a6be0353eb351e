/*
 * The HTTP client's response reader (src/http/client_response.c), without
 * sockets: every response shape read whole, split in two at every byte
 * position and fed one byte at a time gives the same status, headers, body,
 * trailers and leftover bytes — interim 1xx heads skipped, HEAD and
 * 204/304 without a body, chunked trailers cut out of the framing, bodies
 * until close ended by eddy__httpc_response_eof, and keep-alive decided as
 * RFC 9112 says.
 */
#include <errno.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/http1.h"
#include "http/client_response.h"
#include "test.h"

typedef struct result {
    int status;
    char body[4096];
    size_t body_len;
    char trailers[512]; /* "name=value;" for each */
    char headers[512];
    size_t leftover; /* bytes after the response */
    bool keep_alive;
    bool done;
} result_t;

static void append_fields(char *out, size_t size, const eddy_http_client_header_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s=%s;", f[i].name, f[i].value);
    }
}

/* Feed body bytes; returns how many were left after the end of the body. */
static size_t feed_body(httpc_response_t *r, const char *data, size_t len, result_t *res)
{
    while (len > 0 && r->phase != RESP_DONE) {
        eddy_http1_str_t piece;
        ssize_t n = eddy__httpc_response_feed_body(r, data, len, &piece);
        CHECK(n >= 0);
        CHECK(piece.len == 0 || (piece.ptr >= data && piece.ptr + piece.len <= data + len));
        CHECK(res->body_len + piece.len <= sizeof res->body);
        memcpy(res->body + res->body_len, piece.ptr, piece.len);
        res->body_len += piece.len;
        data += n;
        len -= (size_t)n;
    }
    return len;
}

/* Read input in pieces of `step` bytes (the first piece `first` bytes). */
static void read_response(const char *input, size_t len, size_t first, size_t step,
                          bool head_request, bool eof, result_t *res)
{
    memset(res, 0, sizeof *res);
    eddy_http1_limits_t limits;
    eddy_http1_limits_init(&limits);
    httpc_response_t r;
    eddy__httpc_response_init(&r, &limits, head_request);
    size_t off = 0;
    while (off < len) {
        size_t n = off == 0 ? first : step;
        if (n > len - off) n = len - off;
        const char *data = input + off;
        off += n;
        if (r.phase == RESP_HEAD) {
            int rc = eddy__httpc_response_feed_head(&r, data, n);
            CHECK(rc >= 0);
            if (rc == 0) continue;
            res->status = r.parsed.status;
            append_fields(res->headers, sizeof res->headers, r.headers, r.num_headers);
            eddy__httpc_response_leftover(&r, &data, &n);
        }
        if (r.phase == RESP_DONE) {
            res->leftover += n;
            continue;
        }
        res->leftover += feed_body(&r, data, n, res);
    }
    if (eof && r.phase != RESP_DONE) CHECK_EQ(eddy__httpc_response_eof(&r), 0);
    res->done = r.phase == RESP_DONE;
    res->keep_alive = r.keep_alive;
    append_fields(res->trailers, sizeof res->trailers, r.trailers, r.num_trailers);
    eddy__httpc_response_free(&r);
}

static void check_same(const result_t *a, const result_t *b)
{
    CHECK_EQ(a->status, b->status);
    CHECK_EQ(a->body_len, b->body_len);
    CHECK(memcmp(a->body, b->body, a->body_len) == 0);
    CHECK_STR(a->headers, b->headers);
    CHECK_STR(a->trailers, b->trailers);
    CHECK_EQ(a->leftover, b->leftover);
    CHECK_EQ(a->keep_alive, b->keep_alive);
    CHECK_EQ(a->done, b->done);
}

/* Whole, then split at every position, then byte by byte: all the same. */
static void read_every_way(const char *input, bool head_request, bool eof, result_t *whole)
{
    size_t len = strlen(input);
    read_response(input, len, len, len, head_request, eof, whole);
    for (size_t split = 1; split < len; split++) {
        result_t two;
        read_response(input, len, split, len, head_request, eof, &two);
        check_same(whole, &two);
    }
    result_t bytes;
    read_response(input, len, 1, 1, head_request, eof, &bytes);
    check_same(whole, &bytes);
}

static void test_content_length(void)
{
    result_t r;
    read_every_way("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b  \r\n\r\nhelloNEXT", false,
                   false, &r);
    CHECK(r.done);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.body_len, 5);
    CHECK(memcmp(r.body, "hello", 5) == 0);
    CHECK_STR(r.headers, "Content-Length=5;X-A=b;");
    CHECK_EQ(r.leftover, 4);
    CHECK(r.keep_alive);
}

static void test_chunked_trailers(void)
{
    result_t r;
    read_every_way("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4;ext=\"q\"\r\nwiki\r\n5\r\npedia\r\n0\r\nT-One: 1\r\nT-Two:\r\n\r\nX",
                   false, false, &r);
    CHECK(r.done);
    CHECK_EQ(r.body_len, 9);
    CHECK(memcmp(r.body, "wikipedia", 9) == 0);
    CHECK_STR(r.trailers, "T-One=1;T-Two=;");
    CHECK_EQ(r.leftover, 1);
    read_every_way("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000\r\n\r\n", false, false,
                   &r);
    CHECK(r.done);
    CHECK_EQ(r.body_len, 0);
    CHECK_STR(r.trailers, "");
}

static void test_interim_and_no_body(void)
{
    result_t r;
    read_every_way("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Hints\r\nLink: <x>\r\n\r\n"
                   "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
                   false, false, &r);
    CHECK(r.done);
    CHECK_EQ(r.status, 204);
    CHECK_EQ(r.body_len, 0);
    CHECK_STR(r.headers, "Content-Length=3;");
    read_every_way("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, false,
                   &r);
    CHECK(r.done);
    CHECK(r.keep_alive);
    /* HEAD: no body, and no Content-Length needed to keep the connection. */
    read_every_way("HTTP/1.1 200 OK\r\n\r\n", true, false, &r);
    CHECK(r.done);
    CHECK(r.keep_alive);
    read_every_way("HTTP/1.0 200 OK\r\n\r\n", true, false, &r);
    CHECK(!r.keep_alive);
    read_every_way("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", true, false, &r);
    CHECK(r.keep_alive);
    read_every_way("HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 1\r\n\r\n", true,
                   false, &r);
    CHECK(!r.keep_alive);
    read_every_way("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK_EQ(r.status, 101);
    CHECK(!r.keep_alive);
}

static void test_until_close(void)
{
    result_t r;
    read_every_way("HTTP/1.1 200 OK\r\n\r\nall of this", false, true, &r);
    CHECK(r.done);
    CHECK_EQ(r.body_len, 11);
    CHECK(!r.keep_alive);

    eddy_http1_limits_t limits;
    eddy_http1_limits_init(&limits);
    httpc_response_t cr;
    eddy__httpc_response_init(&cr, &limits, false);
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort";
    CHECK_EQ(eddy__httpc_response_feed_head(&cr, head, strlen(head)), 1);
    CHECK_EQ(eddy__httpc_response_eof(&cr), -EDDY_EHTTP_CLOSED); /* cut short */
    eddy__httpc_response_free(&cr);
    eddy__httpc_response_init(&cr, &limits, false);
    CHECK_EQ(eddy__httpc_response_eof(&cr), -EDDY_EHTTP_CLOSED); /* nothing at all */
    eddy__httpc_response_free(&cr);
}

static void test_errors(void)
{
    eddy_http1_limits_t limits;
    eddy_http1_limits_init(&limits);
    httpc_response_t r;
    eddy__httpc_response_init(&r, &limits, false);
    const char *bad = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
    CHECK_EQ(eddy__httpc_response_feed_head(&r, bad, strlen(bad)), -EDDY_EHTTP_PARSE);
    CHECK_EQ(r.error, EDDY_HTTP1_ERR_CONTENT_LENGTH);
    eddy__httpc_response_free(&r);

    eddy__httpc_response_init(&r, &limits, false);
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
    CHECK_EQ(eddy__httpc_response_feed_head(&r, chunked, strlen(chunked)), 1);
    const char *rest;
    size_t n;
    eddy__httpc_response_leftover(&r, &rest, &n);
    eddy_http1_str_t piece;
    CHECK_EQ(eddy__httpc_response_feed_body(&r, rest, n, &piece), 5); /* "5\r\n" and "ab" */
    CHECK_EQ(piece.len, 2);
    CHECK_EQ(eddy__httpc_response_feed_body(&r, "cdeXY", 5, &piece), 3); /* "cde" */
    CHECK_EQ(eddy__httpc_response_feed_body(&r, "XY", 2, &piece), -EDDY_EHTTP_PARSE);
    CHECK_EQ(r.error, EDDY_HTTP1_ERR_CHUNK_DATA);
    eddy__httpc_response_free(&r);

    /* A trailer section over max_header_size. */
    limits.max_header_size = 64;
    eddy__httpc_response_init(&r, &limits, false);
    const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK_EQ(eddy__httpc_response_feed_head(&r, h, strlen(h)), 1);
    char trailer[256] = "0\r\nX-Long: ";
    memset(trailer + strlen(trailer), 'v', 100);
    ssize_t rc = eddy__httpc_response_feed_body(&r, trailer, strlen(trailer), &piece);
    CHECK_EQ(rc, -EDDY_EHTTP_PARSE);
    CHECK_EQ(r.error, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    eddy__httpc_response_free(&r);
}

int main(void)
{
    RUN(test_content_length);
    RUN(test_chunked_trailers);
    RUN(test_interim_and_no_body);
    RUN(test_until_close);
    RUN(test_errors);
    return 0;
}
