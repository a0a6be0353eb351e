/*
 * The HTTP client against a scripted raw server: what goes out (request
 * line, Host, User-Agent, the caller's headers, Content-Length and body) and
 * every way a response body is framed — Content-Length, chunked with
 * trailers, until close (HTTP/1.1 and 1.0) — and the responses without one:
 * HEAD, 204, 304, interim 1xx before the final response. Streaming through
 * on_body (and aborting from it), taking the buffered body, case-insensitive
 * lookups, and the immediate errors for bad URLs, methods, headers and
 * options (no callback may run after those).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy.h>

#include "http_client_harness.h"
#include "test.h"

typedef struct fixture {
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    script_server_t server;
    canned_t canned;
    char base[64]; /* http://127.0.0.1:PORT */
} fixture_t;

static void setup(fixture_t *f, const canned_route_t *routes,
                  const eddy_http_client_options_t *opts)
{
    CHECK_EQ(eddy_loop_new(&f->loop), 0);
    CHECK_EQ(eddy_http_client_new(f->loop, opts, &f->client), 0);
    canned_init(&f->canned, routes);
    script_server_start(&f->server, canned_script, &f->canned);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->server.port);
}

static void teardown(fixture_t *f)
{
    finish_client(f->loop, f->client);
    script_server_stop(&f->server);
    canned_free(&f->canned);
}

static char *url(const fixture_t *f, const char *path)
{
    static char buf[4][256];
    static int next;
    char *u = buf[next++ % 4];
    snprintf(u, sizeof buf[0], "%s%s", f->base, path);
    return u;
}

/* GET path and wait for it; the capture is the caller's to free. */
static void get(fixture_t *f, const char *path, capture_t *cap)
{
    start_get(f->client, url(f, path), cap);
    run_until(f->loop, &cap->done, 1, 5000);
}

/* ---- bodies -------------------------------------------------------------- */

static const canned_route_t body_routes[] = {
    {"/cl", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
     false},
    {"/empty", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
    {"/chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
     "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n"
     "X-Checksum: abc123\r\nX-Count:  3 \r\n\r\n",
     false},
    {"/chunked-plain",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\n\r\n",
     false},
    {"/close11", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true},
    {"/close10", "HTTP/1.0 200 OK\r\n\r\nold style", true},
    {"/head", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\n", false},
    {"/nocontent", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", false},
    {"/notmodified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n",
     false},
    {"/interim",
     "HTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 102 Processing\r\n\r\n"
     "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
     "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
     false},
    {"/noreason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", false},
    {NULL, NULL, false},
};

static void test_content_length(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    get(&f, "/cl?x=1&y=2", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_STR(cap.reason, "OK");
    CHECK_EQ(cap.body_len, 11);
    CHECK_STR(cap.body, "hello world");
    CHECK_EQ(cap.body_received, 11);
    CHECK_STR(capture_header(&cap, "content-type"), "text/plain");
    CHECK_EQ(cap.num_trailers, 0);
    CHECK_STR(cap.url, url(&f, "/cl?x=1&y=2"));
    CHECK_EQ(cap.redirects, 0);

    script_request_t rq;
    canned_last(&f.canned, &rq);
    CHECK_STR(rq.method, "GET");
    CHECK_STR(rq.target, "/cl?x=1&y=2");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", f.server.port);
    CHECK_STR(script_header(&rq, "host"), host);
    CHECK_STR(script_header(&rq, "user-agent"), "eddy/" EDDY_VERSION);
    CHECK(script_header(&rq, "content-length") == NULL); /* GET without a body */
    CHECK_EQ(rq.body_len, 0);
    script_request_free(&rq);
    capture_free(&cap);

    get(&f, "/empty", &cap); /* an empty buffered body is "", not NULL */
    CHECK_EQ(cap.err, 0);
    CHECK(cap.body != NULL);
    CHECK_EQ(cap.body_len, 0);
    capture_free(&cap);

    get(&f, "/noreason", &cap);
    CHECK_EQ(cap.status, 200);
    CHECK_STR(cap.reason, "");
    CHECK_STR(cap.body, "x");
    capture_free(&cap);
    teardown(&f);
}

/* The caller's method, headers and body go out as given; Host and
 * User-Agent may be replaced; Content-Length is the client's. */
static void test_request_headers_and_body(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    eddy_http_client_header_t headers[] = {
        {"X-Trace", "abc\tdef"},
        {"User-Agent", "tester/1"},
        {"Host", "example.test"},
        {"Content-Type", "application/json"},
    };
    const char body[] = "{\"k\": [1, 2, 3]}\0tail"; /* binary-safe: a NUL inside */
    eddy_http_client_request_t req;
    eddy_http_client_request_init(&req);
    req.method = "PUT";
    req.url = url(&f, "/cl");
    req.headers = headers;
    req.num_headers = 4;
    req.body = body;
    req.body_len = sizeof body - 1;
    capture_t cap = {0};
    start_request(f.client, &req, &cap);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    script_request_t rq;
    canned_last(&f.canned, &rq);
    CHECK_STR(rq.method, "PUT");
    CHECK_STR(script_header(&rq, "x-trace"), "abc\tdef");
    CHECK_STR(script_header(&rq, "user-agent"), "tester/1");
    CHECK_STR(script_header(&rq, "host"), "example.test");
    CHECK_STR(script_header(&rq, "content-type"), "application/json");
    char len[16];
    snprintf(len, sizeof len, "%zu", sizeof body - 1);
    CHECK_STR(script_header(&rq, "content-length"), len);
    CHECK_EQ(rq.body_len, sizeof body - 1);
    CHECK(memcmp(rq.body, body, sizeof body - 1) == 0);
    script_request_free(&rq);
    capture_free(&cap);

    /* POST without a body says Content-Length: 0. */
    eddy_http_client_request_init(&req);
    req.method = "POST";
    req.url = url(&f, "/cl");
    start_request(f.client, &req, &cap);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    canned_last(&f.canned, &rq);
    CHECK_STR(rq.method, "POST");
    CHECK_STR(script_header(&rq, "content-length"), "0");
    script_request_free(&rq);
    capture_free(&cap);

    /* Any token is a method. */
    eddy_http_client_request_init(&req);
    req.method = "PROPFIND";
    req.url = url(&f, "/cl");
    start_request(f.client, &req, &cap);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    canned_last(&f.canned, &rq);
    CHECK_STR(rq.method, "PROPFIND");
    script_request_free(&rq);
    capture_free(&cap);
    teardown(&f);
}

/* Checks made inside on_complete, where res is valid. */
static int lookups_ok;

static void check_lookups(eddy_http_client_transfer_t *t, int err,
                          const eddy_http_client_response_t *res, void *ud)
{
    CHECK_EQ(err, 0);
    CHECK_STR(eddy_http_client_header(res, "TRANSFER-ENCODING"), "chunked");
    CHECK_STR(eddy_http_client_header(res, "trailer"), "X-Checksum");
    CHECK(eddy_http_client_header(res, "x-checksum") == NULL); /* a trailer, not a header */
    CHECK(eddy_http_client_header(res, NULL) == NULL);
    CHECK_STR(eddy_http_client_trailer(res, "x-CHECKSUM"), "abc123");
    CHECK_STR(eddy_http_client_trailer(res, "X-Count"), "3"); /* OWS trimmed */
    CHECK(eddy_http_client_trailer(res, "missing") == NULL);
    lookups_ok++;
    capture_complete(t, err, res, ud);
}

static void test_chunked_with_trailers(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    eddy_http_client_request_t req;
    eddy_http_client_request_init(&req);
    req.url = url(&f, "/chunked");
    req.on_complete = check_lookups;
    req.ud = &cap;
    CHECK_EQ(eddy_http_client_send(f.client, &req, NULL), 0);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(lookups_ok, 1);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "hello world");
    CHECK_EQ(cap.num_trailers, 2);
    CHECK_STR(cap.trailer_names[0], "X-Checksum");
    CHECK_STR(cap.trailer_values[0], "abc123");
    CHECK_STR(cap.trailer_names[1], "X-Count");
    capture_free(&cap);

    get(&f, "/chunked-plain", &cap); /* on the same, reused connection */
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "abc");
    CHECK_EQ(cap.num_trailers, 0);
    capture_free(&cap);
    CHECK_EQ(atomic_load(&f.server.accepted), 1);
    teardown(&f);
}

static void test_close_delimited(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    get(&f, "/close11", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "until the end");
    capture_free(&cap);
    get(&f, "/close10", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "old style");
    capture_free(&cap);
    eddy_http_client_stats_t st;
    eddy_http_client_stats(f.client, &st);
    CHECK_EQ(st.connections_opened, 2); /* such a connection is never reused */
    CHECK_EQ(st.idle_connections, 0);
    teardown(&f);
}

/* No body after HEAD, 204 or 304, whatever the headers say — and the
 * connection stays in step: the next response on it is read right. */
static void test_responses_without_body(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    eddy_http_client_request_t req;
    eddy_http_client_request_init(&req);
    req.method = "HEAD";
    req.url = url(&f, "/head");
    start_request(f.client, &req, &cap);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(cap.body_len, 0);
    CHECK_STR(capture_header(&cap, "content-length"), "1000");
    capture_free(&cap);

    get(&f, "/nocontent", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 204);
    CHECK_EQ(cap.body_len, 0);
    CHECK_STR(capture_header(&cap, "x-a"), "1");
    capture_free(&cap);

    get(&f, "/notmodified", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 304);
    CHECK_EQ(cap.body_len, 0);
    capture_free(&cap);

    get(&f, "/cl", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "hello world");
    capture_free(&cap);
    CHECK_EQ(atomic_load(&f.server.accepted), 1);
    teardown(&f);
}

static void test_interim_responses(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    get(&f, "/interim", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 201);
    CHECK_STR(cap.reason, "Created");
    CHECK_STR(cap.body, "ok");
    CHECK(capture_header(&cap, "link") == NULL); /* the 103's fields are not the response's */
    capture_free(&cap);
    get(&f, "/cl", &cap);
    CHECK_STR(cap.body, "hello world");
    capture_free(&cap);
    CHECK_EQ(atomic_load(&f.server.accepted), 1);
    teardown(&f);
}

/* Interim responses and the final one trickle in, a few bytes at a time. */
static void trickle_script(script_conn_t *c, void *ud)
{
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    const char *parts[] = {"HTTP/1.1 10",
                           "0 Continue\r",
                           "\n\r\nHTTP/1.1 200 OK\r\nTransfer-En",
                           "coding: chunked\r\n\r\n4\r",
                           "\nwiki\r\n5\r\npedia\r\n0\r\nX-T: ",
                           "1\r\n",
                           "\r\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        script_send(c, parts[i]);
        test_sleep_ms(5);
    }
    script_wait_close(c, SCRIPT_TIMEOUT_MS);
}

static void test_trickled_response(void)
{
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    CHECK_EQ(eddy_http_client_new(loop, NULL, &client), 0);
    script_server_t s;
    script_server_start(&s, trickle_script, NULL);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", s.port);
    capture_t cap = {0};
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_STR(cap.body, "wikipedia");
    CHECK_STR(capture_trailer(&cap, "x-t"), "1");
    capture_free(&cap);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* ---- streaming and taking the body --------------------------------------- */

#define BIG (1024 * 1024 + 17)

static char *big_body(void)
{
    char *b = malloc(BIG);
    CHECK(b != NULL);
    for (size_t i = 0; i < BIG; i++)
        b[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    return b;
}

/* BIG bytes in chunks of 1000..9000 bytes, then trailers. */
static void big_chunked_script(script_conn_t *c, void *ud)
{
    const char *body = ud;
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    script_send(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t off = 0, n = 1000;
    char line[32];
    while (off < BIG) {
        size_t len = BIG - off < n ? BIG - off : n;
        snprintf(line, sizeof line, "%zx\r\n", len);
        if (!script_send(c, line) || !script_send_n(c, body + off, len) || !script_send(c, "\r\n"))
            return;
        off += len;
        n = n % 9000 + 1000;
    }
    script_send(c, "0\r\nX-Done: yes\r\n\r\n");
    script_wait_close(c, SCRIPT_TIMEOUT_MS);
}

typedef struct stream {
    char *got;
    size_t len;
    int pieces;
    int abort_after; /* pieces; 0 = never */
    int status_seen;
} stream_t;

static stream_t stream;

static int on_piece(eddy_http_client_transfer_t *t, const eddy_http_client_response_t *res,
                    const char *data, size_t len, void *ud)
{
    stream_t *st = &stream;
    st->status_seen = res->status;
    CHECK(len > 0);
    CHECK(st->len + len <= BIG);
    memcpy(st->got + st->len, data, len);
    st->len += len;
    st->pieces++;
    if (st->abort_after && st->pieces == st->abort_after) return -EPROTO;
    return 0;
}

static void stream_once(int abort_after)
{
    char *body = big_body();
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    CHECK_EQ(eddy_http_client_new(loop, NULL, &client), 0);
    script_server_t s;
    script_server_start(&s, big_chunked_script, body);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/big", s.port);
    struct {
        capture_t cap;
        stream_t st;
    } x = {0};
    stream = (stream_t){.got = malloc(BIG), .abort_after = abort_after};
    CHECK(stream.got != NULL);
    eddy_http_client_request_t req;
    eddy_http_client_request_init(&req);
    req.url = u;
    req.on_body = on_piece;
    start_request(client, &req, &x.cap);
    run_until(loop, &x.cap.done, 1, 5000);
    x.st = stream;
    CHECK_EQ(x.st.status_seen, 200);
    if (abort_after) {
        CHECK_EQ(x.cap.err, -EPROTO);
        CHECK_EQ(x.st.pieces, abort_after); /* nothing more after the abort */
        eddy_http_client_stats_t st;
        eddy_http_client_stats(client, &st);
        CHECK_EQ(st.open_connections, 0); /* reset, not pooled */
    } else {
        CHECK_EQ(x.cap.err, 0);
        CHECK(x.cap.body == NULL); /* streamed, not buffered */
        CHECK_EQ(x.cap.body_received, BIG);
        CHECK_EQ(x.st.len, BIG);
        CHECK(memcmp(x.st.got, body, BIG) == 0);
        CHECK(x.st.pieces > 1);
        CHECK_STR(capture_trailer(&x.cap, "x-done"), "yes");
    }
    capture_free(&x.cap);
    free(stream.got);
    finish_client(loop, client);
    script_server_stop(&s);
    free(body);
}

static void test_streaming(void)
{
    stream_once(0);
}

static void test_streaming_abort(void)
{
    stream_once(3);
}

static char *taken;
static size_t taken_len;

static void take_it(eddy_http_client_transfer_t *t, int err, const eddy_http_client_response_t *res,
                    void *ud)
{
    CHECK_EQ(err, 0);
    const char *before = res->body;
    taken = eddy_http_client_take_body(t, &taken_len);
    CHECK(taken == before); /* handed over, not copied */
    CHECK(res->body == NULL);
    size_t again;
    CHECK(eddy_http_client_take_body(t, &again) == NULL);
    CHECK_EQ(again, 0);
    capture_complete(t, err, res, ud);
}

static void test_take_body(void)
{
    fixture_t f;
    setup(&f, body_routes, NULL);
    capture_t cap = {0};
    eddy_http_client_request_t req;
    eddy_http_client_request_init(&req);
    req.url = url(&f, "/cl");
    req.on_complete = take_it;
    req.ud = &cap;
    CHECK_EQ(eddy_http_client_send(f.client, &req, NULL), 0);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(taken_len, 11);
    CHECK_STR(taken, "hello world");
    free(taken);
    capture_free(&cap);
    teardown(&f);
}

/* ---- immediate errors ---------------------------------------------------- */

static void test_bad_urls(void)
{
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    CHECK_EQ(eddy_http_client_new(loop, NULL, &client), 0);
    capture_t cap = {0};
    eddy_http_client_request_t req;
    struct {
        const char *url;
        int err;
    } cases[] = {
        {"https://127.0.0.1/", -EDDY_EHTTP_SCHEME},
        {"HTTPS://example.com/", -EDDY_EHTTP_SCHEME},
        {"ftp://127.0.0.1/", -EDDY_EHTTP_SCHEME},
        {"localhost:8080/", -EDDY_EHTTP_SCHEME}, /* "localhost:" reads as a scheme */
        {"127.0.0.1:8080/", -EDDY_EHTTP_URL},
        {"/just/a/path", -EDDY_EHTTP_URL},
        {"", -EDDY_EHTTP_URL},
        {"http:/x", -EDDY_EHTTP_URL},
        {"http://", -EDDY_EHTTP_URL},
        {"http:///path", -EDDY_EHTTP_URL},
        {"http://user:pw@127.0.0.1/", -EDDY_EHTTP_URL},
        {"http://127.0.0.1:0/", -EDDY_EHTTP_URL},
        {"http://127.0.0.1:65536/", -EDDY_EHTTP_URL},
        {"http://127.0.0.1:8x/", -EDDY_EHTTP_URL},
        {"http://127.0.0.1:123456/", -EDDY_EHTTP_URL},
        {"http://127.0.0.1/a b", -EDDY_EHTTP_URL},
        {"http://127.0.0.1/a\r\nX: y", -EDDY_EHTTP_URL},
        {"http://[::1/", -EDDY_EHTTP_URL},
        {"http://[::1]x/", -EDDY_EHTTP_URL},
        {"http://exa mple.com/", -EDDY_EHTTP_URL},
        {"http://ex%41mple.com/", -EDDY_EHTTP_URL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eddy_http_client_request_init(&req);
        req.url = cases[i].url;
        req.on_complete = capture_complete;
        req.ud = &cap;
        int rc = eddy_http_client_send(client, &req, NULL);
        if (rc != cases[i].err)
            fprintf(stderr, "url \"%s\": %s\n", cases[i].url, eddy_err_name(rc));
        CHECK_EQ(rc, cases[i].err);
    }
    for (int i = 0; i < 5; i++)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    CHECK_EQ(cap.done, 0); /* an immediate error runs no callback */
    finish_client(loop, client);
}

static void test_bad_requests(void)
{
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    CHECK_EQ(eddy_http_client_new(loop, NULL, &client), 0);
    capture_t cap = {0};
    eddy_http_client_request_t req;
    const char *methods[] = {"", "GE T", "GET\r\n", "CONNECT", "G(T"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        eddy_http_client_request_init(&req);
        req.url = "http://127.0.0.1:1/";
        req.method = methods[i];
        req.on_complete = capture_complete;
        req.ud = &cap;
        CHECK_EQ(eddy_http_client_send(client, &req, NULL), -EDDY_EHTTP_REQUEST);
    }
    eddy_http_client_header_t bad[][1] = {
        {{"X-A", "1\r\nX-Injected: yes"}},
        {{"X-A", "a\nb"}},
        {{"X A", "1"}},
        {{"", "1"}},
        {{"X-A:", "1"}},
        {{"Content-Length", "5"}},
        {{"transfer-encoding", "chunked"}},
        {{"X-A", "bell\a"}},
        {{"X-A", NULL}},
        {{NULL, "1"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eddy_http_client_request_init(&req);
        req.url = "http://127.0.0.1:1/";
        req.headers = bad[i];
        req.num_headers = 1;
        req.on_complete = capture_complete;
        req.ud = &cap;
        CHECK_EQ(eddy_http_client_send(client, &req, NULL), -EDDY_EHTTP_REQUEST);
    }
    eddy_http_client_request_init(&req);
    req.url = "http://127.0.0.1:1/";
    CHECK_EQ(eddy_http_client_send(client, &req, NULL), -EINVAL); /* no on_complete */
    req.on_complete = capture_complete;
    req.body_len = 3; /* and no body */
    CHECK_EQ(eddy_http_client_send(client, &req, NULL), -EINVAL);
    req.body_len = 0;
    req.url = NULL;
    CHECK_EQ(eddy_http_client_send(client, &req, NULL), -EINVAL);
    CHECK_EQ(eddy_http_client_send(client, NULL, NULL), -EINVAL);
    for (int i = 0; i < 5; i++)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    CHECK_EQ(cap.done, 0);
    finish_client(loop, client);
}

static void test_options(void)
{
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    CHECK_EQ(o.connect_timeout, 10000);
    CHECK_EQ(o.request_timeout, 60000);
    CHECK_EQ(o.max_response_size, 16u * 1024 * 1024);
    CHECK_EQ(o.max_connections_per_host, 6);
    CHECK_EQ(o.max_idle_per_host, 6);
    CHECK_EQ(o.idle_timeout, 30000);
    CHECK(!o.follow_redirects);
    CHECK_EQ(o.max_redirects, 10);
    CHECK_EQ(eddy_http_client_options_validate(&o), 0);

    CHECK_EQ(eddy_http_client_options_set(&o, "max_connections_per_host", "2"), 0);
    CHECK_EQ(o.max_connections_per_host, 2);
    CHECK_EQ(eddy_http_client_options_set(&o, "follow_redirects", "yes"), 0);
    CHECK(o.follow_redirects);
    CHECK_EQ(eddy_http_client_options_set(&o, "max_redirects", "0"), 0);
    CHECK_EQ(o.max_redirects, 0);
    CHECK_EQ(eddy_http_client_options_set(&o, "max_response_size", "1048576"), 0);
    CHECK_EQ(o.max_response_size, 1048576);
    CHECK_EQ(eddy_http_client_options_set(&o, "idle_timeout", "250"), 0);
    CHECK_EQ(o.idle_timeout, 250);

    CHECK_EQ(eddy_http_client_options_set(&o, "max_conns", "2"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_http_client_options_set(&o, NULL, "2"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_http_client_options_set(&o, "idle_timeout", NULL), -EDDY_EOPTION);
    const char *bad[][2] = {
        {"connect_timeout", "0"},   {"connect_timeout", "-1"},
        {"request_timeout", "1s"},  {"request_timeout", ""},
        {"max_response_size", "0"}, {"max_header_size", "10"},
        {"max_headers", "0"},       {"max_connections_per_host", "0"},
        {"max_redirects", "1001"},  {"follow_redirects", "maybe"},
        {"idle_timeout", " 5"},     {"max_connections_per_host", "99999999999999999999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eddy_http_client_options_t before = o;
        CHECK_EQ(eddy_http_client_options_set(&o, bad[i][0], bad[i][1]), -EDDY_EOPTION);
        CHECK(memcmp(&before, &o, sizeof o) == 0); /* unchanged on error */
    }

    /* Fields set directly are checked by validate and by new. */
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    eddy_http_client_t *client = NULL;
    eddy_http_client_options_init(&o);
    o.max_headers = 0;
    CHECK_EQ(eddy_http_client_options_validate(&o), -EDDY_EOPTION);
    CHECK_EQ(eddy_http_client_new(loop, &o, &client), -EDDY_EOPTION);
    eddy_http_client_options_init(&o);
    o.request_timeout = 0;
    CHECK_EQ(eddy_http_client_new(loop, &o, &client), -EDDY_EOPTION);
    CHECK(client == NULL);
    eddy_http_client_options_init(&o);
    o.max_idle_per_host = 0; /* no keep-alive: allowed */
    CHECK_EQ(eddy_http_client_new(loop, &o, &client), 0);
    finish_client(loop, client);
}

int main(void)
{
    RUN(test_content_length);
    RUN(test_request_headers_and_body);
    RUN(test_chunked_with_trailers);
    RUN(test_close_delimited);
    RUN(test_responses_without_body);
    RUN(test_interim_responses);
    RUN(test_trickled_response);
    RUN(test_streaming);
    RUN(test_streaming_abort);
    RUN(test_take_body);
    RUN(test_bad_urls);
    RUN(test_bad_requests);
    RUN(test_options);
    return 0;
}
