/* HTTP/1.1 parser: valid heads of many shapes, every rejection class, byte-at-
 * a-time feeding, pipelining, chunked bodies split at every byte, responses,
 * and the same answers from every SIMD path. Every input is parsed where it
 * ends right before a PROT_NONE page, so an over-read crashes the test. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "eddy/http1.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- inputs that end at a guard page ------------------------------------------------------ */

#define GUARD_SPACE (8u << 20)

static char *guard_base;

static void guard_init(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, GUARD_SPACE + (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK(mprotect(m + GUARD_SPACE, (size_t)page, PROT_NONE) == 0);
    guard_base = m;
}

/* A copy of s[0..n) whose last byte is the last readable one. */
static char *at_guard(const char *s, size_t n)
{
    CHECK(n <= GUARD_SPACE);
    char *p = guard_base + GUARD_SPACE - n;
    memmove(p, s, n);
    return p;
}

/* ---- SIMD paths ------------------------------------------------------------------------------ */

static eddy_http1_simd_t paths[3];
static int npaths;

static void paths_init(void)
{
    static const eddy_http1_simd_t all[] = {EDDY_HTTP1_SIMD_PORTABLE, EDDY_HTTP1_SIMD_SSE42,
                                            EDDY_HTTP1_SIMD_AVX2};
    for (size_t i = 0; i < 3; i++)
        if (eddy_http1_simd_set(all[i]) == 0) paths[npaths++] = all[i];
    CHECK(npaths >= 1 && paths[0] == EDDY_HTTP1_SIMD_PORTABLE);
    eddy_http1_simd_set(EDDY_HTTP1_SIMD_PORTABLE);
}

/* ---- a printable summary of a parse, to compare runs --------------------------------------------
 */

#define MAXH 128

typedef struct req_run {
    int rc;
    const char *base;
    eddy_http1_request_t req;
    eddy_http1_header_t h[MAXH];
    char sig[8192];
} req_run_t;

static void sig_str(char **out, size_t *left, const char *label, const char *base,
                    eddy_http1_str_t s)
{
    int n;
    if (!s.ptr)
        n = snprintf(*out, *left, "%s=null ", label);
    else
        n = snprintf(*out, *left, "%s=%td+%zu ", label, s.ptr - base, s.len);
    CHECK(n > 0 && (size_t)n < *left);
    *out += n;
    *left -= (size_t)n;
}

static void req_sig(req_run_t *r, const char *base)
{
    char *o = r->sig;
    size_t left = sizeof r->sig;
    const eddy_http1_request_t *q = &r->req;
    int n = snprintf(o, left, "rc=%d ", r->rc);
    o += n, left -= (size_t)n;
    if (r->rc == EDDY_HTTP1_ERROR) {
        snprintf(o, left, "err=%s@%zu", eddy_http1_error_name(q->error), q->error_offset);
        return;
    }
    if (r->rc < 0) return;
    sig_str(&o, &left, "m", base, q->method);
    sig_str(&o, &left, "t", base, q->target);
    sig_str(&o, &left, "a", base, q->authority);
    sig_str(&o, &left, "p", base, q->path);
    sig_str(&o, &left, "q", base, q->query);
    sig_str(&o, &left, "host", base, q->host);
    sig_str(&o, &left, "up", base, q->upgrade);
    n = snprintf(o, left, "mid=%d form=%d v=%d body=%d cl=%llu ka=%d ec=%d ur=%d nh=%zu ",
                 q->method_id, q->target_form, q->minor_version, q->body,
                 (unsigned long long)q->content_length, q->keep_alive, q->expect_continue,
                 q->upgrade_requested, q->num_headers);
    o += n, left -= (size_t)n;
    for (size_t i = 0; i < q->num_headers; i++) {
        sig_str(&o, &left, "n", base, q->headers[i].name);
        sig_str(&o, &left, "v", base, q->headers[i].value);
    }
}

static int parse_req(req_run_t *r, const char *buf, size_t len, size_t last_len,
                     const eddy_http1_limits_t *lim)
{
    memset(&r->req, 0xa5, sizeof r->req);
    r->req.headers = r->h;
    r->req.max_headers = MAXH;
    r->base = buf;
    r->rc = eddy_http1_parse_request(buf, len, last_len, &r->req, lim);
    CHECK(r->rc > 0 || r->rc == EDDY_HTTP1_INCOMPLETE || r->rc == EDDY_HTTP1_ERROR);
    if (r->rc == EDDY_HTTP1_ERROR) {
        CHECK(r->req.error != EDDY_HTTP1_ERR_NONE);
        CHECK(r->req.error_offset <= len);
    }
    req_sig(r, buf);
    return r->rc;
}

static req_run_t run_a, run_b;

/* Whole, at the guard, on every path (all must agree); then byte at a time
 * with last_len on every path: it must end with the same answer, or (for an
 * error only) still be waiting when the input runs out. Returns the whole
 * parse in run_a. */
static int check_req(const char *s, size_t n, const eddy_http1_limits_t *lim)
{
    char first[8192];
    for (int k = 0; k < npaths; k++) {
        CHECK_EQ(eddy_http1_simd_set(paths[k]), 0);
        char *buf = at_guard(s, n);
        parse_req(&run_a, buf, n, 0, lim);
        if (k == 0) {
            snprintf(first, sizeof first, "%s", run_a.sig);
        } else if (strcmp(first, run_a.sig) != 0) {
            fprintf(stderr, "path %s differs:\n  %s\n  %s\n", eddy_http1_simd_name(paths[k]), first,
                    run_a.sig);
            CHECK(!"SIMD paths disagree");
        }
        size_t last = 0;
        int rc = EDDY_HTTP1_INCOMPLETE;
        /* Prefixes of big inputs are not copied to the guard (that would be
         * quadratic); tests/unit/http1_guard.c covers every prefix of small ones. */
        bool big = n > 16384;
        char *whole = big ? at_guard(s, n) : NULL;
        for (size_t len = 1; len <= n && rc == EDDY_HTTP1_INCOMPLETE; len++) {
            buf = big ? whole : at_guard(s, len);
            rc = parse_req(&run_b, buf, len, last, lim);
            last = len;
        }
        if (run_a.rc > 0 || rc != EDDY_HTTP1_INCOMPLETE) {
            if (strcmp(first, run_b.sig) != 0) {
                fprintf(stderr, "byte at a time differs (%s):\n  %s\n  %s\n",
                        eddy_http1_simd_name(paths[k]), first, run_b.sig);
                CHECK(!"byte at a time differs");
            }
        } else {
            CHECK(run_a.rc != EDDY_HTTP1_INCOMPLETE || rc == EDDY_HTTP1_INCOMPLETE);
        }
    }
    CHECK_EQ(eddy_http1_simd_set(EDDY_HTTP1_SIMD_PORTABLE), 0);
    char *buf = at_guard(s, n);
    return parse_req(&run_a, buf, n, 0, lim);
}

static bool str_is(eddy_http1_str_t s, const char *lit)
{
    return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static const eddy_http1_header_t *hdr(const req_run_t *r, size_t i)
{
    CHECK(i < r->req.num_headers);
    return &r->req.headers[i];
}

/* ---- valid requests ----------------------------------------------------------------------------
 */

#define BROWSER_REQ                                                                                \
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"                \
    "Host: www.kittyhell.com\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) "          \
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"                                                \
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"                  \
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"                                                 \
    "Accept-Encoding: gzip,deflate\r\n"                                                            \
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"                                            \
    "Keep-Alive: 115\r\n"                                                                          \
    "Connection: keep-alive\r\n"                                                                   \
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "                          \
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "                             \
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/"        \
    "reader/|utmcmd=referral\r\n"                                                                  \
    "\r\n"

static void test_simple(void)
{
    const char s[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK_EQ(check_req(S(s), NULL), sizeof s - 1);
    eddy_http1_request_t *q = &run_a.req;
    CHECK(str_is(q->method, "GET"));
    CHECK_EQ(q->method_id, EDDY_HTTP1_METHOD_GET);
    CHECK(str_is(q->target, "/"));
    CHECK(str_is(q->path, "/"));
    CHECK(q->query.ptr == NULL && q->query.len == 0);
    CHECK(q->authority.ptr == NULL);
    CHECK_EQ(q->target_form, EDDY_HTTP1_TARGET_ORIGIN);
    CHECK_EQ(q->minor_version, 1);
    CHECK_EQ(q->num_headers, 1);
    CHECK(str_is(hdr(&run_a, 0)->name, "Host"));
    CHECK(str_is(hdr(&run_a, 0)->value, "example.com"));
    CHECK(str_is(q->host, "example.com"));
    CHECK(q->upgrade.ptr == NULL);
    CHECK_EQ(q->body, EDDY_HTTP1_BODY_NONE);
    CHECK_EQ(q->content_length, 0);
    CHECK(q->keep_alive);
    CHECK(!q->expect_continue);
    CHECK(!q->upgrade_requested);
    CHECK_EQ(q->error, EDDY_HTTP1_ERR_NONE);
}

static void test_browser(void)
{
    const char s[] = BROWSER_REQ;
    CHECK_EQ(check_req(S(s), NULL), sizeof s - 1);
    CHECK_EQ(run_a.req.num_headers, 9);
    CHECK(str_is(run_a.req.path, "/wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg"));
    CHECK(str_is(hdr(&run_a, 1)->name, "User-Agent"));
    CHECK(str_is(hdr(&run_a, 8)->name, "Cookie"));
    CHECK(hdr(&run_a, 8)->value.len > 200);
    CHECK(run_a.req.keep_alive);
}

static void test_shapes(void)
{
    /* query split, absolute form, asterisk, authority */
    const char q1[] = "GET /a/b?c=d&e=f?g HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(check_req(S(q1), NULL) > 0);
    CHECK(str_is(run_a.req.path, "/a/b"));
    CHECK(str_is(run_a.req.query, "c=d&e=f?g"));

    const char q2[] = "GET /x? HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(check_req(S(q2), NULL) > 0);
    CHECK(str_is(run_a.req.path, "/x"));
    CHECK(run_a.req.query.ptr && run_a.req.query.len == 0);

    const char abs[] = "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK(check_req(S(abs), NULL) > 0);
    CHECK_EQ(run_a.req.target_form, EDDY_HTTP1_TARGET_ABSOLUTE);
    CHECK(str_is(run_a.req.authority, "example.com:8080"));
    CHECK(str_is(run_a.req.path, "/p/q"));
    CHECK(str_is(run_a.req.query, "x=1"));

    const char abs2[] = "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK(check_req(S(abs2), NULL) > 0);
    CHECK(str_is(run_a.req.authority, "example.com"));
    CHECK(run_a.req.path.len == 0);

    const char star[] = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(check_req(S(star), NULL) > 0);
    CHECK_EQ(run_a.req.target_form, EDDY_HTTP1_TARGET_ASTERISK);
    CHECK_EQ(run_a.req.method_id, EDDY_HTTP1_METHOD_OPTIONS);
    CHECK(str_is(run_a.req.path, "*"));

    const char conn[] = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    CHECK(check_req(S(conn), NULL) > 0);
    CHECK_EQ(run_a.req.target_form, EDDY_HTTP1_TARGET_AUTHORITY);
    CHECK(str_is(run_a.req.authority, "example.com:443"));
    CHECK(run_a.req.path.ptr == NULL);
    const char conn6[] = "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n";
    CHECK(check_req(S(conn6), NULL) > 0);

    /* methods */
    static const struct {
        const char *m;
        eddy_http1_method_t id;
    } methods[] = {
        {"GET", EDDY_HTTP1_METHOD_GET},        {"HEAD", EDDY_HTTP1_METHOD_HEAD},
        {"POST", EDDY_HTTP1_METHOD_POST},      {"PUT", EDDY_HTTP1_METHOD_PUT},
        {"DELETE", EDDY_HTTP1_METHOD_DELETE},  {"OPTIONS", EDDY_HTTP1_METHOD_OPTIONS},
        {"TRACE", EDDY_HTTP1_METHOD_TRACE},    {"PATCH", EDDY_HTTP1_METHOD_PATCH},
        {"get", EDDY_HTTP1_METHOD_OTHER},      {"PROPFIND", EDDY_HTTP1_METHOD_OTHER},
        {"M-SEARCH", EDDY_HTTP1_METHOD_OTHER}, {"X!#$%&'*+-.^_`|~9", EDDY_HTTP1_METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char s[256];
        int n = snprintf(s, sizeof s, "%s /m HTTP/1.1\r\nHost: h\r\n\r\n", methods[i].m);
        CHECK_EQ(check_req(s, (size_t)n, NULL), n);
        CHECK_EQ(run_a.req.method_id, methods[i].id);
        CHECK(str_is(run_a.req.method, methods[i].m));
    }

    /* values: empty, OWS trimmed, inner spaces/tabs kept, obs-text */
    const char v[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Ows: \t  v  a \t \r\n"
                     "X-Spaces:    \r\nX-Obs: caf\xc3\xa9 \x80\xff\r\nX|~: t\r\n\r\n";
    CHECK(check_req(S(v), NULL) > 0);
    CHECK_EQ(run_a.req.num_headers, 6);
    CHECK(hdr(&run_a, 1)->value.len == 0);
    CHECK(str_is(hdr(&run_a, 2)->value, "v  a"));
    CHECK(hdr(&run_a, 3)->value.len == 0);
    CHECK(str_is(hdr(&run_a, 4)->value, "caf\xc3\xa9 \x80\xff"));
    CHECK(str_is(hdr(&run_a, 5)->name, "X|~"));

    /* target bytes >= 0x80 are accepted */
    const char hi[] = "GET /\xe6\x97\xa5\xff?\xc3 HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK(check_req(S(hi), NULL) > 0);

    /* one leading empty line is skipped and counted */
    const char lead[] = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK_EQ(check_req(S(lead), NULL), sizeof lead - 1);
    CHECK_EQ(run_a.req.method.ptr - run_a.base, 2);

    /* HTTP/1.0 without Host, minor versions above 1 read as 1.1 */
    const char v10[] = "GET / HTTP/1.0\r\n\r\n";
    CHECK(check_req(S(v10), NULL) > 0);
    CHECK_EQ(run_a.req.minor_version, 0);
    CHECK(!run_a.req.keep_alive);
    CHECK(run_a.req.host.ptr == NULL);
    const char v12[] = "GET / HTTP/1.2\r\nHost: h\r\n\r\n";
    CHECK(check_req(S(v12), NULL) > 0);
    CHECK_EQ(run_a.req.minor_version, 1);

    /* long header names and values cross every SIMD block size */
    char big[4096];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < 70; i += 3) {
        n += snprintf(big + n, sizeof big - (size_t)n, "X-");
        for (int k = 0; k < i; k++)
            big[n++] = (char)('a' + k % 26);
        n += snprintf(big + n, sizeof big - (size_t)n, ":");
        for (int k = 0; k < i; k++)
            big[n++] = (char)(k % 7 == 3 ? '\t' : 'A' + k % 26);
        n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
    }
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
    CHECK_EQ(check_req(big, (size_t)n, NULL), n);
    CHECK_EQ(run_a.req.num_headers, 24);
}

static void test_facts(void)
{
    const char post[] = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
    CHECK_EQ(check_req(S(post), NULL), sizeof post - 1 - 11);
    CHECK_EQ(run_a.req.body, EDDY_HTTP1_BODY_LENGTH);
    CHECK_EQ(run_a.req.content_length, 11);

    const char zero[] = "POST /u HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\n\r\n";
    CHECK(check_req(S(zero), NULL) > 0);
    CHECK_EQ(run_a.req.body, EDDY_HTTP1_BODY_NONE);

    const char dup[] = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\nCONTENT-LENGTH: 7, "
                       "7,7\r\n\r\n";
    CHECK(check_req(S(dup), NULL) > 0);
    CHECK_EQ(run_a.req.content_length, 7);

    const char chunked[] = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tChunked \r\n\r\n";
    CHECK(check_req(S(chunked), NULL) > 0);
    CHECK_EQ(run_a.req.body, EDDY_HTTP1_BODY_CHUNKED);

    const char close[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n";
    CHECK(check_req(S(close), NULL) > 0);
    CHECK(!run_a.req.keep_alive);

    const char ka10[] = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    CHECK(check_req(S(ka10), NULL) > 0);
    CHECK(run_a.req.keep_alive);
    const char kaclose[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n";
    CHECK(check_req(S(kaclose), NULL) > 0);
    CHECK(!run_a.req.keep_alive);

    const char expect[] = "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: "
                          "5\r\n\r\n";
    CHECK(check_req(S(expect), NULL) > 0);
    CHECK(run_a.req.expect_continue);
    const char expect10[] = "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
    CHECK(check_req(S(expect10), NULL) > 0);
    CHECK(!run_a.req.expect_continue);

    const char ws[] = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: "
                      "keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK(check_req(S(ws), NULL) > 0);
    CHECK(run_a.req.upgrade_requested);
    CHECK(str_is(run_a.req.upgrade, "websocket"));
    CHECK(run_a.req.keep_alive);
    const char noconn[] = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n";
    CHECK(check_req(S(noconn), NULL) > 0);
    CHECK(!run_a.req.upgrade_requested);
    CHECK(str_is(run_a.req.upgrade, "h2c"));

    const char emptyhost[] = "GET / HTTP/1.1\r\nHost:\r\n\r\n";
    CHECK(check_req(S(emptyhost), NULL) > 0);
    CHECK(run_a.req.host.ptr && run_a.req.host.len == 0);
}

static void test_pipelined(void)
{
    const char s[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                     "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t off = 0, n = sizeof s - 1;
    const char *paths_seen[] = {"/1", "/2", "/3"};
    for (int i = 0; i < 3; i++) {
        int rc = check_req(s + off, n - off, NULL);
        CHECK(rc > 0);
        CHECK(str_is(run_a.req.path, paths_seen[i]));
        off += (size_t)rc + (size_t)run_a.req.content_length;
    }
    CHECK_EQ(off, n);
}

static void test_incomplete(void)
{
    const char s[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    req_run_t *r = &run_a;
    for (size_t len = 0; len < sizeof s - 1; len++) {
        char *buf = at_guard(s, len);
        CHECK_EQ(parse_req(r, buf, len, 0, NULL), EDDY_HTTP1_INCOMPLETE);
    }
    CHECK_EQ(parse_req(r, NULL, 0, 0, NULL), EDDY_HTTP1_INCOMPLETE);
    /* last_len larger than len is ignored (a full parse) */
    char *buf = at_guard(s, sizeof s - 1);
    CHECK_EQ(parse_req(r, buf, sizeof s - 1, 1000, NULL), sizeof s - 1);
    /* the constants are eddy error codes */
    CHECK_STR(eddy_err_name(EDDY_HTTP1_INCOMPLETE), "EDDY_EHTTP_INCOMPLETE");
    CHECK_STR(eddy_err_name(EDDY_HTTP1_ERROR), "EDDY_EHTTP_PARSE");
}

static void test_bare_lf(void)
{
    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    lim.allow_bare_lf = true;
    const char s[] = "GET / HTTP/1.1\nHost: h\nX: a\r\n\n";
    CHECK_EQ(check_req(S(s), &lim), sizeof s - 1);
    CHECK_EQ(run_a.req.num_headers, 2);
    CHECK(str_is(hdr(&run_a, 1)->value, "a"));
    const char lead[] = "\nGET / HTTP/1.1\nHost: h\n\n";
    CHECK_EQ(check_req(S(lead), &lim), sizeof lead - 1);
    /* a bare CR stays an error */
    const char cr[] = "GET / HTTP/1.1\nHost: h\rX\n\n";
    CHECK_EQ(check_req(S(cr), &lim), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_NEWLINE);
    /* strict by default */
    CHECK_EQ(check_req(S(s), NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_NEWLINE);
}

/* ---- rejections ----------------------------------------------------------------------------- */

typedef struct bad {
    const char *s;
    size_t n;
    eddy_http1_error_t err;
} bad_t;

#define BAD(lit, e)                                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1, EDDY_HTTP1_ERR_##e                                                   \
    }
#define RL   "GET / HTTP/1.1\r\n"
#define H    "Host: h\r\n"
#define POST "POST / HTTP/1.1\r\nHost: h\r\n"

static const bad_t bad_requests[] = {
    /* line endings */
    BAD("GET / HTTP/1.1\rHost: h\r\n\r\n", NEWLINE),
    BAD(RL "X: a\rb\r\n" H "\r\n", NEWLINE),
    BAD(RL "X: a\r\r\n" H "\r\n", NEWLINE),
    BAD("GET / HTTP/1.1\nHost: h\r\n\r\n", NEWLINE),
    BAD(RL "Host: h\n\r\n", NEWLINE),
    BAD(RL H "\n", NEWLINE),
    BAD(RL "X: y\nTransfer-Encoding: chunked\r\n" H "\r\n", NEWLINE),
    BAD("\nGET / HTTP/1.1\r\n" H "\r\n", NEWLINE),
    BAD("\r\r\n", NEWLINE),
    /* request line */
    BAD("\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD(" GET / HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD("GE(T / HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD("G\0ET / HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD("GET\t/ HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD("G\xc3\xa9T / HTTP/1.1\r\n" H "\r\n", METHOD),
    BAD("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", METHOD),
    BAD("GET  / HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET /a\x01z HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET /a\x7fz HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET /a\tz HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET /a\0z HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET * HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("CONNECT / HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("CONNECT example.com HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("CONNECT example.com:x HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("CONNECT http://a:1/ HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET example.com HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET 1http://a/ HTTP/1.1\r\n" H "\r\n", TARGET),
    BAD("GET /\r\n\r\n", REQUEST_LINE),
    BAD("GET / HTTP/1.1 \r\n" H "\r\n", REQUEST_LINE),
    BAD("GET / HTTP/1.10\r\n" H "\r\n", REQUEST_LINE),
    BAD("GET / HTTP/1.1x\r\n" H "\r\n", REQUEST_LINE),
    BAD("GET / http/1.1\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTP/1\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTP/11.1\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTP/1.x\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTP/1,1\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTPS/1.1\r\n" H "\r\n", VERSION_SYNTAX),
    BAD("GET / HTTP/2.0\r\n" H "\r\n", VERSION),
    BAD("GET / HTTP/0.9\r\n" H "\r\n", VERSION),
    BAD("GET / HTTP/9.9\r\n" H "\r\n", VERSION),
    /* field names and values */
    BAD(RL " Host: h\r\n\r\n", HEADER_NAME),
    BAD(RL "\tHost: h\r\n\r\n", HEADER_NAME),
    BAD(RL H "X: a\r\n b\r\n\r\n", OBS_FOLD),
    BAD(RL H "X: a\r\n\tb\r\n\r\n", OBS_FOLD),
    BAD(RL H "Transfer-Encoding: gzip\r\n chunked\r\n\r\n", OBS_FOLD),
    BAD(RL "Host : h\r\n\r\n", SPACE_BEFORE_COLON),
    BAD(RL H "Transfer-Encoding : chunked\r\n\r\n", SPACE_BEFORE_COLON),
    BAD(RL H "Content-Length\t: 5\r\n\r\n", SPACE_BEFORE_COLON),
    BAD(RL H ": v\r\n\r\n", HEADER_NAME),
    BAD(RL H "X(: v\r\n\r\n", HEADER_NAME),
    BAD(RL H "X@Y: v\r\n\r\n", HEADER_NAME),
    BAD(RL H "X\0Y: v\r\n\r\n", HEADER_NAME),
    BAD(RL H "X\xffY: v\r\n\r\n", HEADER_NAME),
    BAD(RL H "X/Y: v\r\n\r\n", HEADER_NAME),
    BAD(RL H "NoColon\r\n\r\n", HEADER_NAME),
    BAD(RL H "X: a\0b\r\n\r\n", HEADER_VALUE),
    BAD(RL H "X: a\x01"
             "b\r\n\r\n",
        HEADER_VALUE),
    BAD(RL H "X: a\x7f"
             "b\r\n\r\n",
        HEADER_VALUE),
    BAD(RL H "Content-Length:\x0b"
             "5\r\n\r\n",
        HEADER_VALUE),
    BAD(RL H "X: \x1b[0m\r\n\r\n", HEADER_VALUE),
    BAD(RL H "Transfer-Encoding: chunked\x0c\r\n\r\n", HEADER_VALUE),
    /* Content-Length */
    BAD(POST "Content-Length: +5\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: -5\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 5 5\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 0x5\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 5.0\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 18446744073709551616\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 99999999999999999999999\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length:\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 5,\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: ,5\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: \"5\"\r\n\r\n", CONTENT_LENGTH),
    BAD(POST "Content-Length: 5, 6\r\n\r\n", CONTENT_LENGTH_CONFLICT),
    BAD(POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", CONTENT_LENGTH_CONFLICT),
    BAD(POST "Content-Length: 0\r\ncontent-length: 10\r\n\r\n", CONTENT_LENGTH_CONFLICT),
    BAD(POST "Content-Length: 2097153\r\n\r\n", BODY_TOO_LARGE),
    BAD(POST "Content-Length: 18446744073709551615\r\n\r\n", BODY_TOO_LARGE),
    /* Transfer-Encoding */
    BAD(POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", TE_WITH_CL),
    BAD(POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", TE_WITH_CL),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TE_HTTP10),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", TE_HTTP10),
    BAD(POST "Transfer-Encoding: gzip\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: identity\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked, gzip\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked, chunked\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked;q=1\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: xchunked\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked x\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: \"chunked\"\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding:\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: ,chunked\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked,\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n", TRANSFER_ENCODING),
    BAD(POST "Transfer-Encoding: gzip, chunked\r\n\r\n", TE_UNSUPPORTED),
    BAD(POST "Transfer-Encoding: gzip;level=1 , chunked\r\n\r\n", TE_UNSUPPORTED),
    BAD(POST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", TE_UNSUPPORTED),
    /* Host */
    BAD("GET / HTTP/1.1\r\n\r\n", HOST_MISSING),
    BAD("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", HOST_MISSING),
    BAD(RL H "Host: h\r\n\r\n", HOST),
    BAD(RL H "host: other\r\n\r\n", HOST),
    BAD("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HOST),
    BAD(RL "Host: a b\r\n\r\n", HOST),
    BAD(RL "Host: a/b\r\n\r\n", HOST),
    BAD(RL "Host: user@h\r\n\r\n", HOST),
    BAD(RL "Host: h\xc3\xa9\r\n\r\n", HOST),
};

static void test_rejections(void)
{
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const bad_t *b = &bad_requests[i];
        int rc = check_req(b->s, b->n, NULL);
        if (rc != EDDY_HTTP1_ERROR || run_a.req.error != b->err) {
            fprintf(stderr, "case %zu: want %s, got %s\n", i, eddy_http1_error_name(b->err),
                    run_a.sig);
            CHECK(!"wrong answer");
        }
        CHECK(eddy_http1_error_status(run_a.req.error) >= 400);
    }
    /* the status classes */
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_NONE), 0);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_OBS_FOLD), 400);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_TE_WITH_CL), 400);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_HEAD_TOO_LARGE), 431);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_TOO_MANY_HEADERS), 431);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_BODY_TOO_LARGE), 413);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_TARGET_TOO_LONG), 414);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_TE_UNSUPPORTED), 501);
    CHECK_EQ(eddy_http1_error_status(EDDY_HTTP1_ERR_VERSION), 505);
    for (int e = 0; e < EDDY_HTTP1_ERR_COUNT_; e++) {
        CHECK(strncmp(eddy_http1_error_name((eddy_http1_error_t)e), "EDDY_HTTP1_ERR_", 15) == 0);
        CHECK(strlen(eddy_http1_error_str((eddy_http1_error_t)e)) > 0);
    }
    CHECK_STR(eddy_http1_error_name(EDDY_HTTP1_ERR_TE_WITH_CL), "EDDY_HTTP1_ERR_TE_WITH_CL");
}

static void test_error_offsets(void)
{
    const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n";
    CHECK_EQ(check_req(S(s), NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_SPACE_BEFORE_COLON);
    CHECK_EQ(run_a.req.error_offset, strstr(s, " Name") - s);
    /* an error in an incomplete head is reported as soon as it is seen */
    const char t[] = "GET / HTTP/1.1\r\nX: a\x01";
    CHECK_EQ(check_req(S(t), NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_HEADER_VALUE);
}

/* ---- limits ------------------------------------------------------------------------------------
 */

static void test_limits(void)
{
    static char s[200000];
    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    CHECK_EQ(lim.max_header_size, 65536);
    CHECK_EQ(lim.max_headers, 100);
    CHECK_EQ(lim.max_target_size, 8192);
    CHECK_EQ(lim.max_body_size, 2u << 20);
    CHECK(!lim.allow_bare_lf);

    /* exactly max_headers fields pass, one more is 431 */
    int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < 100; i++)
        n += snprintf(s + n, sizeof s - (size_t)n, "X-%d: %d\r\n", i, i);
    int full = n + snprintf(s + n, sizeof s - (size_t)n, "\r\n");
    CHECK_EQ(check_req(s, (size_t)full, NULL), full);
    CHECK_EQ(run_a.req.num_headers, 100);
    n += snprintf(s + n, sizeof s - (size_t)n, "X-last: 1\r\n\r\n");
    CHECK_EQ(check_req(s, (size_t)n, NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_TOO_MANY_HEADERS);

    /* the caller's array bounds it too */
    eddy_http1_header_t two[2];
    eddy_http1_request_t req = {.headers = two, .max_headers = 2};
    const char three[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    CHECK_EQ(eddy_http1_parse_request(S(three), 0, &req, NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(req.error, EDDY_HTTP1_ERR_TOO_MANY_HEADERS);
    req.max_headers = 0;
    req.headers = NULL;
    const char none[] = "GET / HTTP/1.0\r\n\r\n";
    CHECK_EQ(eddy_http1_parse_request(S(none), 0, &req, NULL), sizeof none - 1);

    /* head size: a head of exactly max_header_size passes, one byte more is 431 */
    lim.max_header_size = 1000;
    n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    int pad = 1000 - n - 4;
    memset(s + n, 'a', (size_t)pad);
    memcpy(s + n + pad, "\r\n\r\n", 4);
    CHECK_EQ(check_req(s, 1000, &lim), 1000);
    memmove(s + n + 1, s + n, (size_t)pad + 4);
    CHECK_EQ(check_req(s, 1001, &lim), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    /* ... and so is an incomplete head that has reached the limit */
    CHECK_EQ(check_req(s, 1000, &lim), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    CHECK_EQ(check_req(s, 999, &lim), EDDY_HTTP1_INCOMPLETE);
    /* but a syntax error before the limit is reported as that */
    s[3] = '\x01';
    CHECK_EQ(check_req(s, 1001, &lim), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_METHOD);

    /* default 64 KiB */
    n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: h\r\n");
    while (n < 70000)
        n += snprintf(s + n, sizeof s - (size_t)n, "X-Pad: %0990d\r\n", 0);
    n += snprintf(s + n, sizeof s - (size_t)n, "\r\n");
    CHECK_EQ(check_req(s, (size_t)n, NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    CHECK_EQ(eddy_http1_error_status(run_a.req.error), 431);
    lim.max_header_size = 1 << 20;
    CHECK_EQ(check_req(s, (size_t)n, &lim), n);

    /* target: max_target_size passes, one more is 414 */
    eddy_http1_limits_init(&lim);
    n = snprintf(s, sizeof s, "GET /");
    memset(s + n, 'x', 8191);
    n += 8191;
    n += snprintf(s + n, sizeof s - (size_t)n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_EQ(check_req(s, (size_t)n, NULL), n);
    CHECK_EQ(run_a.req.target.len, 8192);
    memmove(s + 5, s + 4, (size_t)n - 4);
    CHECK_EQ(check_req(s, (size_t)n + 1, NULL), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_TARGET_TOO_LONG);
    CHECK_EQ(eddy_http1_error_status(run_a.req.error), 414);

    /* body size */
    lim.max_body_size = 10;
    const char b10[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
    CHECK(check_req(S(b10), &lim) > 0);
    const char b11[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    CHECK_EQ(check_req(S(b11), &lim), EDDY_HTTP1_ERROR);
    CHECK_EQ(run_a.req.error, EDDY_HTTP1_ERR_BODY_TOO_LARGE);
    lim.max_body_size = UINT64_MAX;
    const char bmax[] =
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n";
    CHECK(check_req(S(bmax), &lim) > 0);
    CHECK(run_a.req.content_length == UINT64_MAX);
}

/* Byte-at-a-time costs linear work: a 4 MiB head fed one byte per call. A
 * parser that rescanned from the start would need ~8e12 byte visits. */
static void test_linear(void)
{
    size_t cap = 4u << 20;
    char *s = malloc(cap + 64);
    CHECK(s);
    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    lim.max_header_size = cap + 64;
    size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");
    while (n + 60000 < cap) {
        n += (size_t)sprintf(s + n, "X: ");
        memset(s + n, 'v', 50000);
        n += 50000;
        n += (size_t)sprintf(s + n, "\r\n");
    }
    n += (size_t)sprintf(s + n, "\r\n");
    for (int k = 0; k < npaths; k++) {
        CHECK_EQ(eddy_http1_simd_set(paths[k]), 0);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t last = 0;
        int rc = EDDY_HTTP1_INCOMPLETE;
        for (size_t len = 1; len <= n; len++) {
            eddy_http1_request_t *q = &run_b.req;
            q->headers = run_b.h;
            q->max_headers = MAXH;
            rc = eddy_http1_parse_request(s, len, last, q, &lim);
            if (rc != EDDY_HTTP1_INCOMPLETE) break;
            last = len;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK_EQ(rc, n);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("  %s: %zu calls in %.0f ms\n", eddy_http1_simd_name(paths[k]), n, ms);
    }
    eddy_http1_simd_set(EDDY_HTTP1_SIMD_PORTABLE);
    free(s);
}

/* ---- responses ---------------------------------------------------------------------------------
 */

typedef struct res_run {
    int rc;
    eddy_http1_response_t res;
    eddy_http1_header_t h[MAXH];
} res_run_t;

static res_run_t res_a;

static int res_parse(res_run_t *r, const char *s, size_t n, size_t last,
                     const eddy_http1_limits_t *lim)
{
    memset(&r->res, 0x5a, sizeof r->res);
    r->res.headers = r->h;
    r->res.max_headers = MAXH;
    r->rc = eddy_http1_parse_response(s, n, last, &r->res, lim);
    return r->rc;
}

static bool res_same(const res_run_t *a, const char *abase, const res_run_t *b, const char *bbase)
{
    if (a->rc != b->rc) return false;
    if (a->rc == EDDY_HTTP1_ERROR)
        return a->res.error == b->res.error && a->res.error_offset == b->res.error_offset;
    if (a->rc < 0) return true;
    const eddy_http1_response_t *x = &a->res, *y = &b->res;
    if (x->status != y->status || x->minor_version != y->minor_version || x->body != y->body ||
        x->content_length != y->content_length || x->keep_alive != y->keep_alive ||
        x->num_headers != y->num_headers || x->reason.len != y->reason.len ||
        x->reason.ptr - abase != y->reason.ptr - bbase)
        return false;
    for (size_t i = 0; i < x->num_headers; i++)
        if (x->headers[i].name.ptr - abase != y->headers[i].name.ptr - bbase ||
            x->headers[i].value.len != y->headers[i].value.len)
            return false;
    return true;
}

/* Every path and byte at a time agree; returns the portable whole parse. */
static int check_res(const char *s, size_t n)
{
    static res_run_t first, r;
    const char *first_base = NULL;
    for (int k = 0; k < npaths; k++) {
        CHECK_EQ(eddy_http1_simd_set(paths[k]), 0);
        char *buf = at_guard(s, n);
        res_parse(&r, buf, n, 0, NULL);
        if (k == 0) {
            first = r;
            first.res.headers = first.h;
            first_base = buf;
        }
        CHECK(res_same(&first, first_base, &r, buf));
        size_t last = 0;
        for (size_t len = 1; len <= n; len++) {
            char *b = at_guard(s, len);
            if (res_parse(&r, b, len, last, NULL) != EDDY_HTTP1_INCOMPLETE) {
                CHECK(res_same(&first, first_base, &r, b));
                break;
            }
            last = len;
        }
    }
    eddy_http1_simd_set(EDDY_HTTP1_SIMD_PORTABLE);
    return res_parse(&res_a, at_guard(s, n), n, 0, NULL);
}

static void test_responses(void)
{
    const char ok[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    CHECK_EQ(check_res(S(ok)), sizeof ok - 1 - 5);
    CHECK_EQ(res_a.res.status, 200);
    CHECK(str_is(res_a.res.reason, "OK"));
    CHECK_EQ(res_a.res.minor_version, 1);
    CHECK_EQ(res_a.res.body, EDDY_HTTP1_BODY_LENGTH);
    CHECK_EQ(res_a.res.content_length, 5);
    CHECK(res_a.res.keep_alive);
    CHECK_EQ(res_a.res.num_headers, 2);

    const char nosp[] = "HTTP/1.1 200\r\n\r\n";
    CHECK_EQ(check_res(S(nosp)), sizeof nosp - 1);
    CHECK_EQ(res_a.res.reason.len, 0);
    CHECK_EQ(res_a.res.body, EDDY_HTTP1_BODY_CLOSE);
    CHECK(!res_a.res.keep_alive);

    const char reason[] = "HTTP/1.1 404 Not \tFound \xe2\x9c\x97\r\nContent-Length: 0\r\n\r\n";
    CHECK(check_res(S(reason)) > 0);
    CHECK(str_is(res_a.res.reason, "Not \tFound \xe2\x9c\x97"));
    CHECK_EQ(res_a.res.body, EDDY_HTTP1_BODY_NONE);
    CHECK(res_a.res.keep_alive);

    static const int nobody[] = {100, 101, 103, 204, 304};
    for (size_t i = 0; i < 5; i++) {
        char s[128];
        int n =
            snprintf(s, sizeof s, "HTTP/1.1 %d X\r\nContent-Length: 99999999\r\n\r\n", nobody[i]);
        CHECK_EQ(check_res(s, (size_t)n), n);
        CHECK_EQ(res_a.res.body, EDDY_HTTP1_BODY_NONE);
        CHECK(res_a.res.keep_alive);
    }

    const char chunked[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    CHECK(check_res(S(chunked)) > 0);
    CHECK_EQ(res_a.res.body, EDDY_HTTP1_BODY_CHUNKED);

    const char v10[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    CHECK(check_res(S(v10)) > 0);
    CHECK(!res_a.res.keep_alive);
    const char v10ka[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi";
    CHECK(check_res(S(v10ka)) > 0);
    CHECK(res_a.res.keep_alive);
    const char close[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi";
    CHECK(check_res(S(close)) > 0);
    CHECK(!res_a.res.keep_alive);

    const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                      "Upgrade\r\n\r\n";
    CHECK(check_res(S(up)) > 0);
    CHECK_EQ(res_a.res.status, 101);
    CHECK(str_is(res_a.res.upgrade, "websocket"));

    static const bad_t bad[] = {
        BAD("HTTP/1.1 20 OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1 2000 OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1 abc OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1 099 OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1  200 OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1\t200 OK\r\n\r\n", STATUS),
        BAD("HTTP/1.1 200 O\0K\r\n\r\n", STATUS),
        BAD("HTTP/1.1 200 OK\rX\r\n\r\n", NEWLINE),
        BAD("HTTP/2 200 OK\r\n\r\n", VERSION_SYNTAX),
        BAD("ICY 200 OK\r\n\r\n", VERSION_SYNTAX),
        BAD("HTTP/2.0 200 OK\r\n\r\n", VERSION),
        BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", TE_UNSUPPORTED),
        BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", TE_UNSUPPORTED),
        BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", TRANSFER_ENCODING),
        BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
            TE_WITH_CL),
        BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", TE_HTTP10),
        BAD("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            CONTENT_LENGTH_CONFLICT),
        BAD("HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n", BODY_TOO_LARGE),
        BAD("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", OBS_FOLD),
        BAD("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", SPACE_BEFORE_COLON),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = check_res(bad[i].s, bad[i].n);
        if (rc != EDDY_HTTP1_ERROR || res_a.res.error != bad[i].err) {
            fprintf(stderr, "response case %zu: want %s, got rc %d %s\n", i,
                    eddy_http1_error_name(bad[i].err), rc, eddy_http1_error_name(res_a.res.error));
            CHECK(!"wrong answer");
        }
    }
    /* no Host needed */
    const char nohost[] = "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n";
    CHECK(check_res(S(nohost)) > 0);
}

/* ---- chunked bodies ----------------------------------------------------------------------------
 */

typedef struct chunk_out {
    ssize_t rc; /* >= 0: bytes after the body; INCOMPLETE; ERROR */
    eddy_http1_error_t err;
    char data[4096];
    size_t len;
    size_t consumed; /* where the body ended in the input */
} chunk_out_t;

/* Zero-copy API, the input arriving in pieces: cuts[] are the piece ends. */
static void chunk_pieces(const char *s, size_t n, const size_t *cuts, size_t ncuts,
                         const eddy_http1_limits_t *lim, chunk_out_t *o)
{
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, lim);
    memset(o, 0, sizeof *o);
    o->rc = EDDY_HTTP1_INCOMPLETE;
    size_t pos = 0, avail_end = 0;
    for (size_t c = 0; c <= ncuts && o->rc == EDDY_HTTP1_INCOMPLETE; c++) {
        avail_end = c < ncuts ? cuts[c] : n;
        while (pos < avail_end) {
            eddy_http1_str_t data;
            char *buf = at_guard(s + pos, avail_end - pos);
            ssize_t r = eddy_http1_chunked_parse(&d, buf, avail_end - pos, &data);
            if (r < 0) {
                CHECK_EQ(r, EDDY_HTTP1_ERROR);
                o->rc = r;
                o->err = d.error;
                CHECK(d.error != EDDY_HTTP1_ERR_NONE);
                /* sticky */
                CHECK_EQ(eddy_http1_chunked_parse(&d, buf, avail_end - pos, &data), r);
                return;
            }
            CHECK(r > 0);
            if (data.len) {
                CHECK(data.ptr >= buf && data.ptr + data.len <= buf + r);
                CHECK(o->len + data.len <= sizeof o->data);
                memcpy(o->data + o->len, data.ptr, data.len);
                o->len += data.len;
            }
            pos += (size_t)r;
            if (eddy_http1_chunked_done(&d)) {
                o->rc = (ssize_t)(n - pos);
                o->consumed = pos;
                return;
            }
        }
    }
}

/* In-place API, same pieces: the caller appends each piece after the bytes
 * it kept. */
static void chunk_inplace(const char *s, size_t n, const size_t *cuts, size_t ncuts, chunk_out_t *o)
{
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, NULL);
    memset(o, 0, sizeof *o);
    o->rc = EDDY_HTTP1_INCOMPLETE;
    char buf[4096];
    size_t prev = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        size_t piece = end - prev;
        CHECK(piece < sizeof buf);
        memcpy(buf, s + prev, piece);
        prev = end;
        size_t len = piece;
        ssize_t r = eddy_http1_chunked_decode(&d, buf, &len);
        CHECK(len <= piece);
        memcpy(o->data + o->len, buf, len);
        o->len += len;
        if (r == EDDY_HTTP1_INCOMPLETE) continue;
        o->rc = r;
        if (r == EDDY_HTTP1_ERROR) {
            o->err = d.error;
            return;
        }
        CHECK(r >= 0 && (size_t)r <= piece - len);
        /* the bytes after the body follow the decoded data */
        CHECK(memcmp(buf + len, s + end - (size_t)r, (size_t)r) == 0);
        o->rc = (ssize_t)(n - (end - (size_t)r));
        o->consumed = end - (size_t)r;
        return;
    }
}

static void chunk_same(const chunk_out_t *a, const chunk_out_t *b)
{
    CHECK_EQ(a->rc, b->rc);
    CHECK_EQ(a->err, b->err);
    if (a->rc == EDDY_HTTP1_ERROR) return;
    CHECK_EQ(a->len, b->len);
    CHECK(memcmp(a->data, b->data, a->len) == 0);
    if (a->rc >= 0) CHECK_EQ(a->consumed, b->consumed);
}

/* Whole, split at every position, byte at a time, and in place: identical.
 * Returns the whole decode. */
static chunk_out_t chunk_whole;

static void check_chunked(const char *s, size_t n, const eddy_http1_limits_t *lim)
{
    static chunk_out_t o;
    static size_t cuts[4096];
    chunk_pieces(s, n, NULL, 0, lim, &chunk_whole);
    for (size_t k = 1; k < n; k++) {
        chunk_pieces(s, n, &k, 1, lim, &o);
        chunk_same(&chunk_whole, &o);
        for (size_t k2 = k + 1; k2 < n && k2 < k + 5; k2++) {
            size_t two[2] = {k, k2};
            chunk_pieces(s, n, two, 2, lim, &o);
            chunk_same(&chunk_whole, &o);
        }
    }
    CHECK(n < 4096);
    for (size_t k = 1; k < n; k++)
        cuts[k - 1] = k;
    chunk_pieces(s, n, cuts, n ? n - 1 : 0, lim, &o);
    chunk_same(&chunk_whole, &o);
    if (!lim) {
        for (size_t k = 1; k < n; k++) {
            chunk_inplace(s, n, &k, 1, &o);
            chunk_same(&chunk_whole, &o);
        }
        chunk_inplace(s, n, cuts, n ? n - 1 : 0, &o);
        chunk_same(&chunk_whole, &o);
    }
}

static void test_chunked(void)
{
    const char a[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    check_chunked(S(a), NULL);
    CHECK_EQ(chunk_whole.rc, 0);
    CHECK_EQ(chunk_whole.len, 11);
    CHECK(memcmp(chunk_whole.data, "hello world", 11) == 0);

    const char next[] = "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    check_chunked(S(next), NULL);
    CHECK_EQ(chunk_whole.rc, 16);
    CHECK_EQ(chunk_whole.consumed, sizeof next - 1 - 16);

    const char hex[] = "000A\r\n0123456789\r\nf\r\nabcdefghijklmno\r\n0000\r\n\r\n";
    check_chunked(S(hex), NULL);
    CHECK_EQ(chunk_whole.rc, 0);
    CHECK_EQ(chunk_whole.len, 25);

    const char ext[] = "3;a\r\nabc\r\n3 ; a = b ;c=\"q\\\"x;\" ;d\r\ndef\r\n"
                       "2;n=\"\"\r\ngh\r\n0;last=1\r\n\r\n";
    check_chunked(S(ext), NULL);
    CHECK_EQ(chunk_whole.rc, 0);
    CHECK(chunk_whole.len == 8 && memcmp(chunk_whole.data, "abcdefgh", 8) == 0);

    const char trailers[] = "2\r\nok\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\n\r\nNEXT";
    check_chunked(S(trailers), NULL);
    CHECK_EQ(chunk_whole.rc, 4);
    CHECK_EQ(chunk_whole.len, 2);

    const char empty[] = "0\r\n\r\n";
    check_chunked(S(empty), NULL);
    CHECK_EQ(chunk_whole.rc, 0);
    CHECK_EQ(chunk_whole.len, 0);

    const char partial[] = "a\r\n01234";
    check_chunked(S(partial), NULL);
    CHECK_EQ(chunk_whole.rc, EDDY_HTTP1_INCOMPLETE);
    CHECK_EQ(chunk_whole.len, 5);

    /* 16 hex digits is the limit; the sizes are checked against max_body_size */
    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    lim.max_body_size = UINT64_MAX;
    const char huge[] = "ffffffffffffffff\r\nabc";
    check_chunked(S(huge), &lim);
    CHECK_EQ(chunk_whole.rc, EDDY_HTTP1_INCOMPLETE);
    CHECK_EQ(chunk_whole.len, 3);

    static const bad_t bad[] = {
        BAD("g\r\n", CHUNK_SIZE),
        BAD("\r\n", CHUNK_SIZE),
        BAD(";a\r\n", CHUNK_SIZE),
        BAD("-5\r\nhello\r\n", CHUNK_SIZE),
        BAD("+5\r\nhello\r\n", CHUNK_SIZE),
        BAD("0x5\r\nhello\r\n", CHUNK_SIZE),
        BAD(" 5\r\nhello\r\n", CHUNK_SIZE),
        BAD("10000000000000000\r\n", CHUNK_SIZE),
        BAD("00000000000000005\r\nhello\r\n0\r\n\r\n", CHUNK_SIZE),
        BAD("5\nhello\r\n0\r\n\r\n", NEWLINE),
        BAD("5\r\r\nhello\r\n0\r\n\r\n", NEWLINE),
        BAD("5\r\nhelloX\r\n0\r\n\r\n", CHUNK_DATA),
        BAD("5\r\nhello\n0\r\n\r\n", CHUNK_DATA),
        BAD("5\r\nhello\r\r\n0\r\n\r\n", CHUNK_DATA),
        BAD("5\r\nhello\r\n0\r\n\n", NEWLINE),
        BAD("5\r\nhello0\r\n\r\n", CHUNK_DATA),
        BAD("5 \r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a \r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=b \r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=\"b\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=b\"c\"\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a@b\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a=\x01\r\nhello\r\n0\r\n\r\n", CHUNK_EXT),
        BAD("5;a\nhello\r\n0\r\n\r\n", NEWLINE),
        BAD("5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", NEWLINE),
        BAD("5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", TRAILER),
        BAD("5\r\nhello\r\n0\r\n: a\r\n\r\n", TRAILER),
        BAD("5\r\nhello\r\n0\r\nX : a\r\n\r\n", TRAILER),
        BAD("5\r\nhello\r\n0\r\nX: a\x01\r\n\r\n", TRAILER),
        BAD("5\r\nhello\r\n0\r\nX: a\nY: b\r\n\r\n", NEWLINE),
        BAD("5\r\nhello\r\n0\r\nX: a\r\r\n\r\n", NEWLINE),
        BAD("5\r\nhello\r\n0\r\n\r\r\n", NEWLINE),
        BAD("200001\r\n", BODY_TOO_LARGE),
        BAD("ffffffffffffffff\r\n", BODY_TOO_LARGE),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_chunked(bad[i].s, bad[i].n, NULL);
        if (chunk_whole.rc != EDDY_HTTP1_ERROR || chunk_whole.err != bad[i].err) {
            fprintf(stderr, "chunked case %zu: want %s, got rc %zd %s\n", i,
                    eddy_http1_error_name(bad[i].err), chunk_whole.rc,
                    eddy_http1_error_name(chunk_whole.err));
            CHECK(!"wrong answer");
        }
    }

    /* the body limit counts every chunk */
    lim.max_body_size = 10;
    const char ten[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    check_chunked(S(ten), &lim);
    CHECK_EQ(chunk_whole.rc, 0);
    const char eleven[] = "5\r\nhello\r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n";
    check_chunked(S(eleven), &lim);
    CHECK_EQ(chunk_whole.err, EDDY_HTTP1_ERR_BODY_TOO_LARGE);

    /* extension and trailer limits */
    eddy_http1_limits_init(&lim);
    lim.max_chunk_ext = 8;
    const char ext8[] = "1;abcdefg\r\nx\r\n0\r\n\r\n";
    check_chunked(S(ext8), &lim);
    CHECK_EQ(chunk_whole.rc, 0);
    const char ext9[] = "1;abcdefgh\r\nx\r\n0\r\n\r\n";
    check_chunked(S(ext9), &lim);
    CHECK_EQ(chunk_whole.err, EDDY_HTTP1_ERR_CHUNK_EXT);
    lim.max_header_size = 12;
    const char tr12[] = "0\r\nX: 12345\r\n\r\n";
    check_chunked(S(tr12), &lim);
    CHECK_EQ(chunk_whole.rc, 0);
    const char tr13[] = "0\r\nX: 123456\r\n\r\n";
    check_chunked(S(tr13), &lim);
    CHECK_EQ(chunk_whole.err, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    lim.max_header_size = 1000;
    lim.max_headers = 2;
    const char tr2[] = "0\r\nA: 1\r\nB: 2\r\n\r\n";
    check_chunked(S(tr2), &lim);
    CHECK_EQ(chunk_whole.rc, 0);
    const char tr3[] = "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    check_chunked(S(tr3), &lim);
    CHECK_EQ(chunk_whole.err, EDDY_HTTP1_ERR_TOO_MANY_HEADERS);

    /* a decoder that is done consumes nothing more */
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, NULL);
    eddy_http1_str_t data;
    CHECK_EQ(eddy_http1_chunked_parse(&d, S("0\r\n\r\nabc"), &data), 5);
    CHECK(eddy_http1_chunked_done(&d));
    CHECK_EQ(eddy_http1_chunked_parse(&d, S("abc"), &data), 0);
    size_t zero = 0;
    CHECK_EQ(eddy_http1_chunked_decode(&d, NULL, &zero), 0);
    eddy_http1_chunked_init(&d, NULL);
    CHECK_EQ(eddy_http1_chunked_decode(&d, NULL, &zero), EDDY_HTTP1_INCOMPLETE);
}

static void test_content_length_api(void)
{
    uint64_t v;
    eddy_http1_error_t e = EDDY_HTTP1_ERR_NONE;
    CHECK_EQ(eddy_http1_parse_content_length(S("0"), &v, &e), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(eddy_http1_parse_content_length(S("42 , 42"), &v, &e), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(eddy_http1_parse_content_length(S("42,43"), &v, &e), EDDY_HTTP1_ERROR);
    CHECK_EQ(e, EDDY_HTTP1_ERR_CONTENT_LENGTH_CONFLICT);
    CHECK_EQ(eddy_http1_parse_content_length(S(""), &v, &e), EDDY_HTTP1_ERROR);
    CHECK_EQ(e, EDDY_HTTP1_ERR_CONTENT_LENGTH);
    CHECK_EQ(eddy_http1_parse_content_length(S("18446744073709551615"), &v, NULL), 0);
    CHECK(v == UINT64_MAX);
}

/* A Content-Type names a media type in any case, alone or before a
 * parameter or whitespace; a longer type or a prefix is another one. */
static void test_media_type(void)
{
    static const char form[] = "multipart/form-data";
    const char *yes[] = {"multipart/form-data", "Multipart/Form-Data; boundary=x",
                         "multipart/form-data ;boundary=x", "MULTIPART/FORM-DATA\t"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(eddy_http1_media_type_is(yes[i], strlen(yes[i]), form));
    const char *no[] = {"multipart/form-datax", "multipart/form", "multipart/mixed; a=b", ""};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(!eddy_http1_media_type_is(no[i], strlen(no[i]), form));
    CHECK(!eddy_http1_media_type_is(NULL, 0, form));
    /* Only len bytes are looked at. */
    CHECK(!eddy_http1_media_type_is("multipart/form-data", 9, form));
    CHECK(eddy_http1_media_type_is("application/x-www-form-urlencoded;charset=utf-8", 47,
                                   "application/x-www-form-urlencoded"));
}

static void test_find_header(void)
{
    const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Thing: 1\r\nx-thing: 2\r\n\r\n";
    CHECK(check_req(S(s), NULL) > 0);
    const eddy_http1_header_t *h =
        eddy_http1_find_header(run_a.req.headers, run_a.req.num_headers, S("X-THING"));
    CHECK(h && str_is(h->value, "1"));
    CHECK(!eddy_http1_find_header(run_a.req.headers, run_a.req.num_headers, S("X-Thin")));
    CHECK(!eddy_http1_find_header(run_a.req.headers, run_a.req.num_headers, S("X-Thinx")));
}

static void test_simd_api(void)
{
    CHECK_EQ(eddy_http1_simd_set(EDDY_HTTP1_SIMD_AUTO), 0);
    eddy_http1_simd_t best = eddy_http1_simd_get();
    CHECK(best != EDDY_HTTP1_SIMD_AUTO);
    CHECK_EQ(best, paths[npaths - 1]);
    CHECK_STR(eddy_http1_simd_name(EDDY_HTTP1_SIMD_PORTABLE), "portable");
    CHECK_STR(eddy_http1_simd_name(EDDY_HTTP1_SIMD_SSE42), "sse42");
    CHECK_STR(eddy_http1_simd_name(EDDY_HTTP1_SIMD_AVX2), "avx2");
    CHECK_EQ(eddy_http1_simd_set((eddy_http1_simd_t)99), -ENOTSUP);
    CHECK_EQ(eddy_http1_simd_get(), best);
    printf("  paths:");
    for (int k = 0; k < npaths; k++)
        printf(" %s", eddy_http1_simd_name(paths[k]));
    printf("\n");
    eddy_http1_simd_set(EDDY_HTTP1_SIMD_PORTABLE);
}

/* The checks a response or a client request runs on what it will write:
 * the parser's own character classes. */
static void test_token_and_field_value(void)
{
    CHECK(eddy_http1_is_token("Content-Type"));
    CHECK(eddy_http1_is_token("!#$%&'*+-.^_`|~09azAZ"));
    CHECK(!eddy_http1_is_token(""));
    CHECK(!eddy_http1_is_token(NULL));
    CHECK(!eddy_http1_is_token("X Y"));
    CHECK(!eddy_http1_is_token("X:"));
    CHECK(!eddy_http1_is_token("a(b)"));
    CHECK(!eddy_http1_is_token("caf\xc3\xa9"));
    CHECK(eddy_http1_is_field_value(""));
    CHECK(eddy_http1_is_field_value("text/plain; charset=\"utf-8\"\t(x)"));
    CHECK(eddy_http1_is_field_value("obs-text \x80\xff"));
    CHECK(!eddy_http1_is_field_value(NULL));
    CHECK(!eddy_http1_is_field_value("a\r\nSet-Cookie: x"));
    CHECK(!eddy_http1_is_field_value("a\nb"));
    CHECK(!eddy_http1_is_field_value("a\x01"));
    CHECK(!eddy_http1_is_field_value("a\x7f"));
}

/* Every code with a reason has the status line the server formatted before
 * the table (number, space, reason), and the table drops none of them. */
static void test_status_lines(void)
{
    int known = 0;
    for (int status = -1; status <= 1000; status++) {
        size_t len = 99;
        const char *line = eddy_http1_status_line(status, &len);
        const char *reason = eddy_http1_reason(status);
        if (strcmp(reason, "Unknown") == 0) {
            CHECK(line == NULL);
            CHECK_EQ(len, 0);
            continue;
        }
        char want[64];
        int n = snprintf(want, sizeof want, "HTTP/1.1 %d %s\r\n", status, reason);
        CHECK(line != NULL);
        CHECK_EQ(len, n);
        CHECK_STR(line, want);
        known++;
    }
    CHECK_EQ(known, 60);
    size_t len;
    CHECK_STR(eddy_http1_status_line(200, &len), "HTTP/1.1 200 OK\r\n");
    CHECK_EQ(len, 17);
}

int main(void)
{
    guard_init();
    paths_init();
    RUN(test_simd_api);
    RUN(test_token_and_field_value);
    RUN(test_status_lines);
    RUN(test_simple);
    RUN(test_browser);
    RUN(test_shapes);
    RUN(test_facts);
    RUN(test_pipelined);
    RUN(test_incomplete);
    RUN(test_bare_lf);
    RUN(test_rejections);
    RUN(test_error_offsets);
    RUN(test_limits);
    RUN(test_linear);
    RUN(test_responses);
    RUN(test_chunked);
    RUN(test_content_length_api);
    RUN(test_find_header);
    RUN(test_media_type);
    return 0;
}
