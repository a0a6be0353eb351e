/* The response's pieces that need no connection: the decimal conversion
 * of the head, the hexadecimal one of chunk sizes, and what
 * eddy_http_set_header / _add_header store, remember (Content-Length,
 * Connection, the noted names whatever their case) and refuse. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy.h>

#include "http/http_internal.h"
#include "test.h"

/* ---- decimal ------------------------------------------------------------------------ */

/* v written by eddy__http_format_u64 (or _hex) is what printf writes. */
static void check_number(bool hex, uint64_t v)
{
    char got[EDDY__U64_DIGITS_MAX + 4], want[32];
    memset(got, 'x', sizeof got);
    size_t n = hex ? eddy__http_format_hex(got, v) : eddy__http_format_u64(got, v);
    snprintf(want, sizeof want, hex ? "%" PRIx64 : "%" PRIu64, v);
    CHECK_EQ(n, strlen(want));
    CHECK(memcmp(got, want, n) == 0);
    CHECK_EQ(got[n], 'x'); /* nothing written past the digits */
}

static void check_u64(uint64_t v)
{
    check_number(false, v);
}

static void check_hex(uint64_t v)
{
    check_number(true, v);
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

static void test_format_hex(void)
{
    check_hex(0);
    check_hex(9);
    check_hex(10);
    check_hex(15);
    check_hex(16);
    check_hex(0xabcdef);
    check_hex(UINT64_MAX);
    for (uint64_t p = 1; p <= UINT64_MAX / 16; p *= 16) {
        check_hex(p - 1);
        check_hex(p);
        check_hex(p + 1);
    }
}

/* ---- headers ------------------------------------------------------------------------ */

static eddy_http_req_t *new_request(void)
{
    eddy_http_req_t *req = calloc(1, sizeof *req);
    CHECK(req != NULL);
    eddy__res_init(&req->res);
    return req;
}

static void free_request(eddy_http_req_t *req)
{
    eddy__res_reset(&req->res);
    eddy_buf_free(&req->res.headers);
    eddy_buf_free(&req->res.trailers);
    free(req);
}

/* The stored header lines are exactly want. */
static void check_lines(const eddy_http_res_t *res, const char *want)
{
    size_t n = eddy_buf_len(&res->headers);
    char *got = strndup(n ? eddy_buf_data(&res->headers) : "", n);
    CHECK_STR(got, want);
    free(got);
}

static void test_stored_and_replaced(void)
{
    eddy_http_req_t *req = new_request();
    eddy_http_res_t *res = &req->res;
    CHECK_EQ(eddy_http_set_header(res, "Content-Type", "text/plain"), 0);
    CHECK_EQ(res->has, RH_CONTENT_TYPE);
    check_lines(res, "Content-Type: text/plain\r\n");
    /* Another case is the same header: it replaces, spelled as given. */
    CHECK_EQ(eddy_http_set_header(res, "content-TYPE", "text/html"), 0);
    check_lines(res, "content-TYPE: text/html\r\n");
    /* Add keeps both; set replaces every line of the name, and only those. */
    CHECK_EQ(eddy_http_add_header(res, "X-A", "1"), 0);
    CHECK_EQ(eddy_http_add_header(res, "x-a", "2"), 0);
    CHECK_EQ(eddy_http_add_header(res, "X-AB", "3"), 0);
    CHECK_EQ(eddy_http_add_header(res, "X", "4"), 0);
    check_lines(res, "content-TYPE: text/html\r\nX-A: 1\r\nx-a: 2\r\nX-AB: 3\r\nX: 4\r\n");
    CHECK_EQ(eddy_http_set_header(res, "X-a", "5"), 0);
    check_lines(res, "content-TYPE: text/html\r\nX-AB: 3\r\nX: 4\r\nX-a: 5\r\n");
    /* A name with a tracked name's length but not its letters is only stored. */
    unsigned has = res->has;
    CHECK_EQ(eddy_http_set_header(res, "Dote", "d"), 0);
    CHECK_EQ(eddy_http_set_header(res, "Content-Typf", "t"), 0);
    CHECK_EQ(eddy_http_set_header(res, "Connectiom", "close"), 0);
    CHECK_EQ(eddy_http_set_header(res, "Content-Lengtx", "x"), 0);
    CHECK_EQ(eddy_http_set_header(res, "Content_Type", "u"), 0); /* '_' | 0x20 is not '-' */
    CHECK_EQ(res->has, has);
    check_lines(res, "content-TYPE: text/html\r\nX-AB: 3\r\nX: 4\r\nX-a: 5\r\nDote: d\r\n"
                     "Content-Typf: t\r\nConnectiom: close\r\nContent-Lengtx: x\r\n"
                     "Content_Type: u\r\n");
    free_request(req);
}

/* Each noted name sets its bit whatever its case, and is stored. */
static void test_noted_names(void)
{
    static const struct {
        const char *name;
        unsigned bit;
    } noted[] = {
        {"content-type", RH_CONTENT_TYPE},
        {"CONTENT-ENCODING", RH_CONTENT_ENCODING},
        {"Content-range", RH_CONTENT_RANGE},
        {"date", RH_DATE},
        {"DATE", RH_DATE},
        {"sErVeR", RH_SERVER},
        {"vary", RH_VARY},
        {"VARY", RH_VARY},
        {"Content-Encoding", RH_CONTENT_ENCODING},
        {"Date", RH_DATE},
    };
    for (size_t i = 0; i < sizeof noted / sizeof noted[0]; i++) {
        eddy_http_req_t *req = new_request();
        CHECK_EQ(eddy_http_add_header(&req->res, noted[i].name, "v"), 0);
        CHECK_EQ(req->res.has, noted[i].bit);
        char want[64];
        snprintf(want, sizeof want, "%s: v\r\n", noted[i].name);
        check_lines(&req->res, want);
        free_request(req);
    }
}

/* Content-Length and Connection are remembered, never stored;
 * Transfer-Encoding is eddy's alone. */
static void test_remembered(void)
{
    eddy_http_req_t *req = new_request();
    eddy_http_res_t *res = &req->res;
    CHECK_EQ(eddy_http_set_header(res, "Content-Length", "5"), 0);
    CHECK_EQ(res->content_length, 5);
    CHECK_EQ(eddy_http_set_header(res, "content-length", "7"), 0);
    CHECK_EQ(res->content_length, 7);
    CHECK_EQ(eddy_http_set_header(res, "CONTENT-LENGTH", "18446744073709551615"), 0);
    CHECK(res->content_length == UINT64_MAX);
    CHECK_EQ(eddy_http_set_header(res, "content-length", "x"), -EINVAL);
    CHECK_EQ(eddy_http_set_header(res, "Content-Length", "-1"), -EINVAL);
    CHECK_EQ(eddy_http_set_header(res, "Content-Length", "18446744073709551616"), -EINVAL);
    CHECK_EQ(res->has, RH_CONTENT_LENGTH);
    CHECK_EQ(eddy_http_set_header(res, "connection", "keep-alive"), 0);
    CHECK_EQ(res->has, RH_CONTENT_LENGTH);
    CHECK_EQ(eddy_http_set_header(res, "CONNECTION", "upgrade, Close"), 0);
    CHECK_EQ(res->has, RH_CONTENT_LENGTH | RH_CONNECTION_CLOSE);
    CHECK_EQ(eddy_http_set_header(res, "Transfer-Encoding", "chunked"), -EINVAL);
    CHECK_EQ(eddy_http_add_header(res, "transfer-encoding", "gzip"), -EINVAL);
    check_lines(res, "");
    free_request(req);
}

static void test_refused(void)
{
    eddy_http_req_t *req = new_request();
    eddy_http_res_t *res = &req->res;
    const char *bad_names[] = {"", "Bad Name", "X:", "Content-Type ", "Date\r\n", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        CHECK_EQ(eddy_http_set_header(res, bad_names[i], "v"), -EINVAL);
        CHECK_EQ(eddy_http_add_header(res, bad_names[i], "v"), -EINVAL);
    }
    const char *bad_values[] = {"a\r\nInjected: 1", "a\nb", "\x01", "a\x7f"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        CHECK_EQ(eddy_http_set_header(res, "X-Ok", bad_values[i]), -EINVAL);
        CHECK_EQ(eddy_http_set_header(res, "Content-Type", bad_values[i]), -EINVAL);
        CHECK_EQ(eddy_http_set_header(res, "Content-Length", bad_values[i]), -EINVAL);
        CHECK_EQ(eddy_http_set_header(res, "Connection", bad_values[i]), -EINVAL);
    }
    CHECK_EQ(res->has, 0);
    check_lines(res, "");
    /* Once the head is out, nothing more. */
    res->started = true;
    CHECK_EQ(eddy_http_set_header(res, "X-Late", "v"), -EDDY_ESTATE);
    free_request(req);
}

int main(void)
{
    RUN(test_format_u64);
    RUN(test_format_hex);
    RUN(test_stored_and_replaced);
    RUN(test_noted_names);
    RUN(test_remembered);
    RUN(test_refused);
    return 0;
}
