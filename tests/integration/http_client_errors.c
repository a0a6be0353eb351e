/*
 * The HTTP client's failures, each a clear error and none leaking (run
 * under make asan): a server that never answers (request_timeout, while on
 * the wire and while queued; the connection is reset, never reused), a
 * refused connection, a connect that never completes (connect_timeout),
 * malformed responses (the parser's reason reaches on_complete), a server
 * that closes or resets mid-body or before answering, bodies over
 * max_response_size (by Content-Length at once, chunked, until close), and
 * bytes the client never asked for (after a response, or on an idle
 * connection), which keep the connection out of the pool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <eddy.h>

#include "http_client_harness.h"
#include "test.h"

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

static eddy_http_client_t *new_client(eddy_loop_t *loop, const eddy_http_client_options_t *o)
{
    eddy_http_client_t *client;
    CHECK_EQ(eddy_http_client_new(loop, o, &client), 0);
    return client;
}

static void url_of(char *buf, size_t size, int port, const char *path)
{
    snprintf(buf, size, "http://127.0.0.1:%d%s", port, path);
}

static eddy_http_client_stats_t stats(eddy_http_client_t *client)
{
    eddy_http_client_stats_t st;
    eddy_http_client_stats(client, &st);
    return st;
}

/* ---- timeouts and connecting --------------------------------------------- */

typedef struct silent {
    atomic_int requests;
    atomic_int closed;
} silent_t;

/* Read the request and say nothing; note when the client gives up. */
static void silent_script(script_conn_t *c, void *ud)
{
    silent_t *s = ud;
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    atomic_fetch_add(&s->requests, 1);
    if (script_wait_close(c, SCRIPT_TIMEOUT_MS)) atomic_fetch_add(&s->closed, 1);
}

static void test_request_timeout(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.request_timeout = 200;
    o.max_connections_per_host = 1;
    eddy_http_client_t *client = new_client(loop, &o);
    silent_t sv = {0};
    script_server_t s;
    script_server_start(&s, silent_script, &sv);
    char u[64];
    url_of(u, sizeof u, s.port, "/slow");
    capture_t on_wire = {0}, queued = {0};
    long t0 = test_now_ms();
    start_get(client, u, &on_wire);
    start_get(client, u, &queued); /* waits for the only connection, and times out too */
    run_until(loop, &on_wire.done, 1, 3000);
    run_until(loop, &queued.done, 1, 3000);
    CHECK_EQ(on_wire.err, -ETIMEDOUT);
    CHECK_EQ(queued.err, -ETIMEDOUT);
    CHECK(on_wire.at - t0 >= 190 && on_wire.at - t0 < 1500);
    CHECK(queued.at - t0 >= 190 && queued.at - t0 < 1500);
    CHECK_EQ(on_wire.status, 0);
    CHECK_EQ(stats(client).open_connections, 0); /* reset, not pooled */
    /* The queued one may have taken the slot the first one freed, in the
     * millisecond before its own deadline: then the server saw it too. Every
     * connection that carried a request was dropped by the client. */
    long until = test_now_ms() + 3000;
    while ((atomic_load(&sv.closed) < 1 || atomic_load(&sv.closed) < atomic_load(&sv.requests)) &&
           test_now_ms() < until)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    int requests = atomic_load(&sv.requests);
    CHECK(requests >= 1 && requests <= 2);
    CHECK_EQ(atomic_load(&sv.closed), requests);
    capture_free(&on_wire);
    capture_free(&queued);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* A port nothing listens on: bind one, learn it, close it. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connect_refused(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    char u[64];
    url_of(u, sizeof u, closed_port(), "/");
    capture_t cap = {0};
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 3000);
    CHECK_EQ(cap.err, -ECONNREFUSED);
    CHECK_EQ(cap.status, 0);
    CHECK_STR(cap.url, u);
    CHECK_EQ(stats(client).open_connections, 0);
    capture_free(&cap);
    /* By name too: resolved on the thread pool, then refused. */
    char named[64];
    snprintf(named, sizeof named, "http://localhost:%d/", closed_port());
    start_get(client, named, &cap);
    run_until(loop, &cap.done, 1, 3000);
    CHECK_EQ(cap.err, -ECONNREFUSED);
    capture_free(&cap);
    finish_client(loop, client);
}

/* A listener whose accept queue is full (backlog 0, one connection already
 * waiting, never accepted) drops new SYNs: the connect never completes. */
static void test_connect_timeout(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(lfd, 0), 0);
    socklen_t len = sizeof a;
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(connect(filler, (struct sockaddr *)&a, sizeof a), 0);

    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.connect_timeout = 200;
    eddy_http_client_t *client = new_client(loop, &o);
    char u[64];
    url_of(u, sizeof u, ntohs(a.sin_port), "/");
    capture_t cap = {0};
    long t0 = test_now_ms();
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 3000);
    CHECK_EQ(cap.err, -ETIMEDOUT);
    CHECK(cap.at - t0 >= 190 && cap.at - t0 < 1500);
    capture_free(&cap);
    finish_client(loop, client);
    close(filler);
    close(lfd);
}

/* ---- malformed and truncated responses ----------------------------------- */

typedef enum { THEN_WAIT, THEN_CLOSE, THEN_RESET } then_t;

typedef struct raw_reply {
    const char *bytes;
    then_t then;       /* after sending: wait for the client to hang up, close, or reset */
    const char *later; /* THEN_WAIT: sent 50 ms later, unasked */
} raw_reply_t;

/* Answer the request with exactly these bytes, then do what r->then says. */
static void raw_script(script_conn_t *c, void *ud)
{
    const raw_reply_t *r = ud;
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    if (r->bytes) script_send(c, r->bytes);
    switch (r->then) {
    case THEN_CLOSE: return;
    case THEN_RESET:
        test_sleep_ms(20); /* let the bytes go first */
        script_reset(c);
        return;
    case THEN_WAIT:
        if (r->later) {
            test_sleep_ms(50);
            script_send(c, r->later);
        }
        script_wait_close(c, SCRIPT_TIMEOUT_MS);
        return;
    }
}

static uint64_t streamed;

static int count_body(eddy_http_client_transfer_t *t, const eddy_http_client_response_t *res,
                      const char *data, size_t len, void *ud)
{
    streamed += len;
    return 0;
}

/* Fetch from a server that answers with r; what the client said goes to
 * cap; its stats to *st, once its connection has closed (or 300 ms have
 * passed with it still pooled). */
static void fetch_raw(const raw_reply_t *r, const eddy_http_client_options_t *o, bool stream,
                      capture_t *cap, eddy_http_client_stats_t *st)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, o);
    script_server_t s;
    script_server_start(&s, raw_script, (void *)r);
    char u[64];
    url_of(u, sizeof u, s.port, "/");
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.url = u;
    streamed = 0;
    if (stream) rq.on_body = count_body;
    start_request(client, &rq, cap);
    run_until(loop, &cap->done, 1, 3000);
    if (cap->err < 0) CHECK_EQ(stats(client).open_connections, 0); /* never pooled */
    long until = test_now_ms() + 300; /* a pooled connection may still be dropped */
    while (stats(client).open_connections > 0 && test_now_ms() < until)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    if (st) *st = stats(client);
    finish_client(loop, client);
    script_server_stop(&s);
}

static void test_malformed_responses(void)
{
    struct {
        const char *bytes;
        eddy_http1_error_t why;
    } cases[] = {
        {"HTTP/1.1 2000 OK\r\n\r\n", EDDY_HTTP1_ERR_STATUS},
        {"HTTP/1.1 099 Low\r\n\r\n", EDDY_HTTP1_ERR_STATUS},
        {"HTTP/2.0 200 OK\r\n\r\n", EDDY_HTTP1_ERR_VERSION},
        {"HTTP/1.x 200 OK\r\n\r\n", EDDY_HTTP1_ERR_VERSION_SYNTAX},
        {"<html>hello</html>\r\n\r\n", EDDY_HTTP1_ERR_VERSION_SYNTAX},
        {"HTTP/1.1 200 OK\nContent-Length: 0\n\n", EDDY_HTTP1_ERR_NEWLINE},
        {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", EDDY_HTTP1_ERR_NEWLINE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
         EDDY_HTTP1_ERR_CONTENT_LENGTH_CONFLICT},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", EDDY_HTTP1_ERR_CONTENT_LENGTH},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
         EDDY_HTTP1_ERR_TE_WITH_CL},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", EDDY_HTTP1_ERR_TE_UNSUPPORTED},
        {"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", EDDY_HTTP1_ERR_OBS_FOLD},
        {"HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n", EDDY_HTTP1_ERR_SPACE_BEFORE_COLON},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", EDDY_HTTP1_ERR_CHUNK_SIZE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
         EDDY_HTTP1_ERR_CHUNK_DATA},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n",
         EDDY_HTTP1_ERR_TRAILER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_reply_t r = {.bytes = cases[i].bytes};
        capture_t cap = {0};
        fetch_raw(&r, NULL, false, &cap, NULL);
        if (cap.err != -EDDY_EHTTP_PARSE || cap.parse_error != cases[i].why)
            fprintf(stderr, "case %zu: %s, %s\n", i, eddy_err_name(cap.err),
                    eddy_http1_error_name(cap.parse_error));
        CHECK_EQ(cap.err, -EDDY_EHTTP_PARSE);
        CHECK_EQ(cap.parse_error, cases[i].why);
        CHECK(cap.body == NULL);
        capture_free(&cap);
    }
}

static void test_head_limits(void)
{
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_headers = 3;
    raw_reply_t r = {"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", THEN_WAIT, NULL};
    capture_t cap = {0};
    fetch_raw(&r, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, -EDDY_EHTTP_PARSE);
    CHECK_EQ(cap.parse_error, EDDY_HTTP1_ERR_TOO_MANY_HEADERS);
    capture_free(&cap);

    eddy_http_client_options_init(&o);
    o.max_header_size = 1024;
    char *big = malloc(4096);
    CHECK(big != NULL);
    int n = snprintf(big, 4096, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + n, 'v', 2000);
    strcpy(big + n + 2000, "\r\n\r\n");
    r = (raw_reply_t){big, THEN_WAIT, NULL};
    fetch_raw(&r, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, -EDDY_EHTTP_PARSE);
    CHECK_EQ(cap.parse_error, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
    capture_free(&cap);
    free(big);
}

static void test_truncated_responses(void)
{
    const raw_reply_t closed[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", THEN_CLOSE, NULL},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhalf a c", THEN_CLOSE, NULL},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", THEN_CLOSE, NULL},
        {"HTTP/1.1 200 OK\r\nContent-Le", THEN_CLOSE, NULL}, /* inside the head */
        {NULL, THEN_CLOSE, NULL},                            /* no answer at all */
    };
    for (size_t i = 0; i < sizeof closed / sizeof closed[0]; i++) {
        capture_t cap = {0};
        fetch_raw(&closed[i], NULL, false, &cap, NULL);
        if (cap.err != -EDDY_EHTTP_CLOSED)
            fprintf(stderr, "case %zu: %s\n", i, eddy_err_name(cap.err));
        CHECK_EQ(cap.err, -EDDY_EHTTP_CLOSED);
        CHECK(cap.body == NULL);
        capture_free(&cap);
    }
    raw_reply_t reset = {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", THEN_RESET,
                         NULL};
    capture_t cap = {0};
    fetch_raw(&reset, NULL, false, &cap, NULL);
    CHECK_EQ(cap.err, -ECONNRESET);
    CHECK_EQ(cap.status, 200); /* the head had arrived */
    capture_free(&cap);
}

static void test_oversized_bodies(void)
{
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_response_size = 1000;
    capture_t cap = {0};

    /* Known from Content-Length: refused before a body byte is read (the
     * server sends none and waits). */
    raw_reply_t by_length = {"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", THEN_WAIT, NULL};
    long t0 = test_now_ms();
    fetch_raw(&by_length, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, -EDDY_EHTTP_RESPONSE_SIZE);
    CHECK(cap.at - t0 < 1000);
    CHECK_EQ(cap.status, 200);
    CHECK_STR(capture_header(&cap, "content-length"), "1001");
    capture_free(&cap);

    char body[4000];
    memset(body, 'x', sizeof body);
    char reply[8192];
    snprintf(reply, sizeof reply,
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n%.600s\r\n258\r\n%.600s"
             "\r\n0\r\n\r\n",
             body, body);
    raw_reply_t chunked = {reply, THEN_WAIT, NULL};
    fetch_raw(&chunked, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, -EDDY_EHTTP_RESPONSE_SIZE);
    capture_free(&cap);

    char until_close[8192];
    snprintf(until_close, sizeof until_close, "HTTP/1.1 200 OK\r\n\r\n%.3000s", body);
    raw_reply_t close_delimited = {until_close, THEN_CLOSE, NULL};
    fetch_raw(&close_delimited, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, -EDDY_EHTTP_RESPONSE_SIZE);
    capture_free(&cap);

    /* Exactly the limit is fine. */
    char exact[8192];
    snprintf(exact, sizeof exact, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n%.1000s", body);
    raw_reply_t at_limit = {exact, THEN_WAIT, NULL};
    fetch_raw(&at_limit, &o, false, &cap, NULL);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.body_len, 1000);
    capture_free(&cap);

    /* Streamed bodies are the caller's to bound. */
    snprintf(exact, sizeof exact, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n%.3000s", body);
    raw_reply_t streamed_reply = {exact, THEN_WAIT, NULL};
    fetch_raw(&streamed_reply, &o, true, &cap, NULL);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(streamed, 3000);
    CHECK_EQ(cap.body_received, 3000);
    capture_free(&cap);
}

/* Bytes beyond the response, or on an idle connection, or a switch to a
 * protocol nobody asked for: the response (if whole) is fine, the
 * connection is not pooled. */
static void test_connection_out_of_step(void)
{
    capture_t cap = {0};
    eddy_http_client_stats_t st;
    raw_reply_t extra = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", THEN_WAIT, NULL};
    fetch_raw(&extra, NULL, false, &cap, &st);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "ok");
    CHECK_EQ(st.open_connections, 0);
    capture_free(&cap);

    raw_reply_t unasked = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", THEN_WAIT,
                           "HTTP/1.1 200 OK\r\n"};
    fetch_raw(&unasked, NULL, false, &cap, &st);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(st.open_connections, 0); /* pooled, then dropped when the bytes came */
    CHECK_EQ(st.idle_connections, 0);
    capture_free(&cap);

    raw_reply_t upgrade = {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        THEN_WAIT, NULL};
    fetch_raw(&upgrade, NULL, false, &cap, &st);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 101);
    CHECK_EQ(st.open_connections, 0);
    capture_free(&cap);
}

int main(void)
{
    RUN(test_request_timeout);
    RUN(test_connect_refused);
    RUN(test_connect_timeout);
    RUN(test_malformed_responses);
    RUN(test_head_limits);
    RUN(test_truncated_responses);
    RUN(test_oversized_bodies);
    RUN(test_connection_out_of_step);
    return 0;
}
