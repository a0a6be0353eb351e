/* HTTP/1.1 parser over-read and under-read guard: every prefix of every
 * input is parsed, on every SIMD path, placed once right before a PROT_NONE
 * page and once right after one, so a load past the end (a 16- or 32-byte
 * block crossing it) or before the start (a tail block reaching back too far)
 * crashes. The answers must not depend on the placement. Chunked bodies get
 * the same treatment. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "eddy/http1.h"
#include "test.h"

#define REGION (64u * 1024)

static char *region; /* REGION readable bytes with a PROT_NONE page on each side */

static void guard_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m =
        mmap(NULL, REGION + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK(mprotect(m, page, PROT_NONE) == 0);
    CHECK(mprotect(m + page + REGION, page, PROT_NONE) == 0);
    region = m + page;
}

/* s[0..n) placed to end at the upper guard (tail) or start at the lower one. */
static char *place(const char *s, size_t n, bool at_end)
{
    CHECK(n <= REGION);
    char *p = at_end ? region + REGION - n : region;
    memmove(p, s, n);
    return p;
}

static eddy_http1_simd_t paths[3];
static int npaths;

typedef struct answer {
    int rc;
    int err;
    size_t err_at;
    size_t nh;
    size_t first_value_off, first_value_len;
} answer_t;

static answer_t parse_request(const char *buf, size_t len, size_t last)
{
    eddy_http1_header_t h[64];
    eddy_http1_request_t q = {.headers = h, .max_headers = 64};
    answer_t a = {0};
    a.rc = eddy_http1_parse_request(buf, len, last, &q, NULL);
    if (a.rc == EDDY_HTTP1_ERROR) {
        a.err = q.error;
        a.err_at = q.error_offset;
    } else if (a.rc > 0) {
        a.nh = q.num_headers;
        if (q.num_headers) {
            a.first_value_off = (size_t)(q.headers[0].value.ptr - buf);
            a.first_value_len = q.headers[0].value.len;
        }
    }
    return a;
}

static answer_t parse_response(const char *buf, size_t len, size_t last)
{
    eddy_http1_header_t h[64];
    eddy_http1_response_t r = {.headers = h, .max_headers = 64};
    answer_t a = {0};
    a.rc = eddy_http1_parse_response(buf, len, last, &r, NULL);
    if (a.rc == EDDY_HTTP1_ERROR) {
        a.err = r.error;
        a.err_at = r.error_offset;
    } else if (a.rc > 0) {
        a.nh = r.num_headers;
        a.first_value_off = (size_t)(r.reason.ptr - buf);
        a.first_value_len = r.reason.len;
    }
    return a;
}

static bool same(answer_t a, answer_t b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static long parses;

/* Every prefix, both placements, fresh and resumed, every path. */
static void guard_head(const char *s, size_t n, bool response)
{
    answer_t (*parse)(const char *, size_t, size_t) = response ? parse_response : parse_request;
    for (int k = 0; k < npaths; k++) {
        CHECK_EQ(eddy_http1_simd_set(paths[k]), 0);
        for (size_t len = 0; len <= n; len++) {
            answer_t ref = {0};
            for (int end = 0; end < 2; end++) {
                char *buf = place(s, len, end);
                answer_t a = parse(buf, len, 0);
                if (end == 0)
                    ref = a;
                else
                    CHECK(same(ref, a));
                if (len > 0) {
                    /* resumed from the previous length: answers may only be
                     * deferred, never different */
                    answer_t b = parse(buf, len, len - 1);
                    CHECK(b.rc == EDDY_HTTP1_INCOMPLETE || same(a, b));
                }
                parses += 2;
            }
        }
    }
}

static void guard_chunked(const char *s, size_t n)
{
    for (size_t len = 0; len <= n; len++) {
        for (int end = 0; end < 2; end++) {
            char *buf = place(s, len, end);
            eddy_http1_chunked_t d;
            eddy_http1_chunked_init(&d, NULL);
            eddy_http1_str_t data;
            size_t off = 0;
            while (off < len && !eddy_http1_chunked_done(&d)) {
                ssize_t r = eddy_http1_chunked_parse(&d, buf + off, len - off, &data);
                if (r < 0) break;
                CHECK(data.len == 0 || (data.ptr >= buf + off && data.ptr + data.len <= buf + len));
                off += (size_t)r;
            }
            size_t dl = len;
            eddy_http1_chunked_init(&d, NULL);
            (void)eddy_http1_chunked_decode(&d, buf, &dl);
            CHECK(dl <= len);
        }
    }
}

#define S(lit) lit, sizeof(lit) - 1

static const struct {
    const char *s;
    size_t n;
    bool response;
} inputs[] = {
    {S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), false},
    {S("GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
       "Host: www.kittyhell.com\r\n"
       "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) "
       "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
       "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
       "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
       "Accept-Encoding: gzip,deflate\r\n"
       "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
       "Keep-Alive: 115\r\n"
       "Connection: keep-alive\r\n"
       "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
       "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n\r\n"),
     false},
    {S("POST /upload?name=a%20b&x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
       "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
     false},
    {S("GET http://example.com/very/long/absolute/path/that/crosses/blocks?and=a&query=too "
       "HTTP/1.1\r\nHost: example.com\r\nX-Long-Header-Name-That-Crosses-A-Block: "
       "value value value value value value value value value value\t\r\n\r\n"),
     false},
    {S("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n"), false},
    {S("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
     false},
    {S("GET / HTTP/1.1\r\nHost: bad host name with spaces in it and more\r\n\r\n"), false},
    {S("GET /\xe6\x97\xa5\xe6\x9c\xac HTTP/1.1\r\nHost: [::1]:80\r\nX|~: \x80\xff\r\n\r\n"), false},
    {S("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 12\r\n"
       "Set-Cookie: a=b; Path=/; HttpOnly; Secure; SameSite=Lax\r\n\r\nhello world!"),
     true},
    {S("HTTP/1.1 404 Not Found With A Rather Long Reason Phrase Indeed\r\n\r\n"), true},
    {S("HTTP/1.0 200\r\nConnection: keep-alive\r\n\r\n"), true},
};

static void test_heads(void)
{
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        guard_head(inputs[i].s, inputs[i].n, inputs[i].response);
    /* every length of name, value and target around the block sizes */
    char s[512];
    for (int v = 0; v < 72; v++) {
        int n =
            snprintf(s, sizeof s, "GET /%.*s?%.*s HTTP/1.1\r\nHost: %.*s\r\nX%.*s: %.*s\r\n\r\n",
                     v % 40, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", v % 7,
                     "q=1&r=2", v % 20 + 1, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh", v % 35,
                     "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", v,
                     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
        guard_head(s, (size_t)n, false);
    }
}

static void test_chunked(void)
{
    guard_chunked(S("5\r\nhello\r\n1a;ext=\"q\\\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                    "0\r\nTrailer: value\r\n\r\nNEXT"));
    guard_chunked(S("5\r\nhelloX"));
    guard_chunked(S("zz\r\n"));
}

int main(void)
{
    guard_init();
    static const eddy_http1_simd_t all[] = {EDDY_HTTP1_SIMD_PORTABLE, EDDY_HTTP1_SIMD_SSE42,
                                            EDDY_HTTP1_SIMD_AVX2};
    for (size_t i = 0; i < 3; i++)
        if (eddy_http1_simd_set(all[i]) == 0) paths[npaths++] = all[i];
    RUN(test_heads);
    RUN(test_chunked);
    printf("%ld parses on %d paths, each input against both guard pages\n", parses, npaths);
    return 0;
}
