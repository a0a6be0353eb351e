/*
 * The HTTP client's redirects (follow_redirects): 301, 302 and 303 become
 * GET without a body or its headers (HEAD stays HEAD), 307 and 308 repeat
 * the method and body; relative, absolute-path and network-path Locations;
 * to another host (credentials dropped) and back on the same connection
 * (a redirect's body is read and the connection reused); max_redirects; a
 * Location to https or a malformed one; a 3xx without Location; and, with
 * follow_redirects off, the 3xx itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy.h>

#include "http_client_harness.h"
#include "test.h"

static int port_a, port_b;

/* What the servers saw, in order. */
#define LOG_MAX 64
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static script_request_t seen[LOG_MAX];
static char seen_on[LOG_MAX]; /* 'A' or 'B' */
static int seen_count;

static void log_request(const script_request_t *rq, char server)
{
    pthread_mutex_lock(&log_lock);
    CHECK(seen_count < LOG_MAX);
    seen[seen_count] = *rq;
    seen[seen_count].body = strdup(rq->body);
    seen_on[seen_count++] = server;
    pthread_mutex_unlock(&log_lock);
}

static void log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < seen_count; i++)
        script_request_free(&seen[i]);
    seen_count = 0;
    pthread_mutex_unlock(&log_lock);
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

/* 200 whose body says what arrived: "METHOD target len=N ct=... auth=... cookie=...". */
static bool echo(script_conn_t *c, const script_request_t *rq)
{
    char body[3000], head[256];
    int n =
        snprintf(body, sizeof body, "%s %s len=%zu ct=%s auth=%s cookie=%s", rq->method, rq->target,
                 rq->body_len, or_dash(script_header(rq, "content-type")),
                 or_dash(script_header(rq, "authorization")), or_dash(script_header(rq, "cookie")));
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n);
    if (!script_send(c, head)) return false;
    return strcmp(rq->method, "HEAD") == 0 || script_send(c, body);
}

/* A redirect with a small body, which the client must read to reuse the
 * connection. */
static bool redirect(script_conn_t *c, const script_request_t *rq, int code, const char *location)
{
    char head[512];
    snprintf(head, sizeof head, "HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 9\r\n\r\n",
             code, location);
    if (!script_send(c, head)) return false;
    return strcmp(rq->method, "HEAD") == 0 || script_send(c, "redirect!");
}

static bool answer_a(script_conn_t *c, const script_request_t *rq)
{
    char loc[128];
    int code;
    const char *t = rq->target;
    if (sscanf(t, "/r%d", &code) == 1) return redirect(c, rq, code, "/dest");
    if (strcmp(t, "/rel/a/b") == 0) return redirect(c, rq, 302, "../c/./d?q=1#frag");
    if (strcmp(t, "/query") == 0) return redirect(c, rq, 302, "?page=2");
    if (strcmp(t, "/cross") == 0) {
        snprintf(loc, sizeof loc, "http://localhost:%d/landing", port_b);
        return redirect(c, rq, 307, loc);
    }
    if (strcmp(t, "/cross-net") == 0) {
        snprintf(loc, sizeof loc, "//127.0.0.1:%d/net", port_b);
        return redirect(c, rq, 301, loc);
    }
    if (strcmp(t, "/loop") == 0) return redirect(c, rq, 302, "/loop");
    if (strcmp(t, "/https") == 0) return redirect(c, rq, 302, "https://127.0.0.1/");
    if (strcmp(t, "/badloc") == 0) return redirect(c, rq, 302, "http://[oops/");
    if (strcmp(t, "/noloc") == 0)
        return script_send(c, "HTTP/1.1 302 Found\r\nContent-Length: 4\r\n\r\nnone");
    if (strcmp(t, "/close-redirect") == 0) {
        script_send(c, "HTTP/1.1 303 See Other\r\nLocation: /dest\r\n\r\nuntil close");
        return false; /* the body ends when the connection does */
    }
    return echo(c, rq);
}

static void server_a(script_conn_t *c, void *ud)
{
    script_request_t rq;
    while (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) {
        log_request(&rq, 'A');
        bool go_on = answer_a(c, &rq);
        script_request_free(&rq);
        if (!go_on) return;
    }
}

static void server_b(script_conn_t *c, void *ud)
{
    script_request_t rq;
    while (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) {
        log_request(&rq, 'B');
        bool go_on = strcmp(rq.target, "/back") == 0 ? redirect(c, &rq, 302, ud) : echo(c, &rq);
        script_request_free(&rq);
        if (!go_on) return;
    }
}

typedef struct fixture {
    eddy_loop_t *loop;
    eddy_http_client_t *client;
    script_server_t a, b;
    char back[64]; /* B's /back redirects here, on A */
} fixture_t;

static void setup(fixture_t *f, bool follow, unsigned max_redirects)
{
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.follow_redirects = follow;
    o.max_redirects = max_redirects;
    CHECK_EQ(eddy_loop_new(&f->loop), 0);
    CHECK_EQ(eddy_http_client_new(f->loop, &o, &f->client), 0);
    script_server_start(&f->a, server_a, NULL);
    script_server_start(&f->b, server_b, f->back);
    port_a = f->a.port;
    port_b = f->b.port;
    snprintf(f->back, sizeof f->back, "http://127.0.0.1:%d/home", port_a);
    log_clear();
}

static void teardown(fixture_t *f)
{
    finish_client(f->loop, f->client);
    script_server_stop(&f->a);
    script_server_stop(&f->b);
    log_clear();
}

static void fetch(fixture_t *f, const char *method, const char *path,
                  const eddy_http_client_header_t *headers, size_t n, const char *body,
                  capture_t *cap)
{
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", port_a, path);
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.method = method;
    rq.url = u;
    rq.headers = headers;
    rq.num_headers = n;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    start_request(f->client, &rq, cap);
    run_until(f->loop, &cap->done, 1, 5000);
}

static eddy_http_client_stats_t stats(eddy_http_client_t *client)
{
    eddy_http_client_stats_t st;
    eddy_http_client_stats(client, &st);
    return st;
}

static const eddy_http_client_header_t post_headers[] = {
    {"Content-Type", "text/plain"},
    {"Authorization", "Bearer t0k3n"},
    {"Cookie", "s=1"},
    {"X-Keep", "yes"},
};

static void test_each_code(void)
{
    fixture_t f;
    setup(&f, true, 10);
    struct {
        const char *path;
        const char *want;
    } cases[] = {
        {"/r301", "GET /dest len=0 ct=- auth=Bearer t0k3n cookie=s=1"},
        {"/r302", "GET /dest len=0 ct=- auth=Bearer t0k3n cookie=s=1"},
        {"/r303", "GET /dest len=0 ct=- auth=Bearer t0k3n cookie=s=1"},
        {"/r307", "POST /dest len=7 ct=text/plain auth=Bearer t0k3n cookie=s=1"},
        {"/r308", "POST /dest len=7 ct=text/plain auth=Bearer t0k3n cookie=s=1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture_t cap = {0};
        fetch(&f, "POST", cases[i].path, post_headers, 4, "payload", &cap);
        CHECK_EQ(cap.err, 0);
        CHECK_EQ(cap.status, 200);
        CHECK_STR(cap.body, cases[i].want);
        CHECK_EQ(cap.redirects, 1);
        char want_url[64];
        snprintf(want_url, sizeof want_url, "http://127.0.0.1:%d/dest", port_a);
        CHECK_STR(cap.url, want_url);
        capture_free(&cap);
    }
    CHECK_EQ(seen_count, 10);
    CHECK_STR(seen[9].method, "POST");
    CHECK_STR(seen[9].body, "payload"); /* 308: the very same body */
    CHECK_STR(script_header(&seen[9], "x-keep"), "yes");
    CHECK_STR(script_header(&seen[1], "x-keep"), "yes");
    CHECK(script_header(&seen[1], "content-length") == NULL); /* GET: no body at all */
    /* Each redirect's body was read, so one connection carried all ten. */
    CHECK_EQ(atomic_load(&f.a.accepted), 1);
    eddy_http_client_stats_t st = stats(f.client);
    CHECK_EQ(st.redirects, 5);
    CHECK_EQ(st.requests, 10);
    CHECK_EQ(st.connections_opened, 1);
    teardown(&f);
}

static void test_head_stays_head(void)
{
    fixture_t f;
    setup(&f, true, 10);
    capture_t cap = {0};
    fetch(&f, "HEAD", "/r301", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(cap.body_len, 0);
    CHECK_EQ(seen_count, 2);
    CHECK_STR(seen[1].method, "HEAD");
    CHECK_STR(seen[1].target, "/dest");
    capture_free(&cap);
    teardown(&f);
}

static void test_relative_locations(void)
{
    fixture_t f;
    setup(&f, true, 10);
    capture_t cap = {0};
    fetch(&f, "GET", "/rel/a/b", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "GET /rel/c/d?q=1 len=0 ct=- auth=- cookie=-");
    capture_free(&cap);
    fetch(&f, "GET", "/query", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "GET /query?page=2 len=0 ct=- auth=- cookie=-");
    capture_free(&cap);
    teardown(&f);
}

/* To B by name (localhost, resolved) and back to A: credentials and the
 * caller's Host stay behind; the method, body and other headers travel. */
static void test_cross_host(void)
{
    fixture_t f;
    setup(&f, true, 10);
    capture_t cap = {0};
    const eddy_http_client_header_t headers[] = {
        {"Authorization", "Basic c2VjcmV0"},
        {"Cookie", "session=42"},
        {"X-Keep", "yes"},
    };
    fetch(&f, "PUT", "/cross", headers, 3, "data", &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "PUT /landing len=4 ct=- auth=- cookie=-");
    char want[64];
    snprintf(want, sizeof want, "http://localhost:%d/landing", port_b);
    CHECK_STR(cap.url, want);
    CHECK_EQ(seen_count, 2);
    CHECK_EQ(seen_on[1], 'B');
    snprintf(want, sizeof want, "localhost:%d", port_b);
    CHECK_STR(script_header(&seen[1], "host"), want);
    CHECK_STR(script_header(&seen[1], "x-keep"), "yes");
    capture_free(&cap);

    fetch(&f, "GET", "/cross-net", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "GET /net len=0 ct=- auth=- cookie=-");
    capture_free(&cap);

    /* B sends us back to A: a chain of hosts. */
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/back", port_b);
    start_get(f.client, u, &cap);
    run_until(f.loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "GET /home len=0 ct=- auth=- cookie=-");
    capture_free(&cap);
    teardown(&f);
}

static void test_max_redirects(void)
{
    fixture_t f;
    setup(&f, true, 3);
    capture_t cap = {0};
    fetch(&f, "GET", "/loop", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, -EDDY_EHTTP_REDIRECTS);
    CHECK_EQ(cap.status, 302); /* the last redirect comes with the error */
    CHECK_STR(capture_header(&cap, "location"), "/loop");
    CHECK_EQ(cap.redirects, 3);
    CHECK_EQ(seen_count, 4);
    capture_free(&cap);
    teardown(&f);

    setup(&f, true, 0); /* following, but not even once */
    fetch(&f, "GET", "/r302", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, -EDDY_EHTTP_REDIRECTS);
    CHECK_EQ(seen_count, 1);
    capture_free(&cap);
    teardown(&f);
}

static void test_not_following(void)
{
    fixture_t f;
    setup(&f, false, 10);
    capture_t cap = {0};
    fetch(&f, "GET", "/r302", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 302);
    CHECK_STR(cap.body, "redirect!");
    CHECK_STR(capture_header(&cap, "Location"), "/dest");
    CHECK_EQ(cap.redirects, 0);
    CHECK_EQ(seen_count, 1);
    capture_free(&cap);
    teardown(&f);
}

static void test_unusable_locations(void)
{
    fixture_t f;
    setup(&f, true, 10);
    capture_t cap = {0};
    fetch(&f, "GET", "/https", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, -EDDY_EHTTP_SCHEME);
    CHECK_EQ(cap.status, 302);
    CHECK_STR(capture_header(&cap, "location"), "https://127.0.0.1/");
    capture_free(&cap);
    fetch(&f, "GET", "/badloc", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, -EDDY_EHTTP_LOCATION);
    capture_free(&cap);
    fetch(&f, "GET", "/noloc", NULL, 0, NULL, &cap); /* a final response */
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 302);
    CHECK_STR(cap.body, "none");
    capture_free(&cap);
    teardown(&f);
}

/* A redirect whose body runs until the connection closes. */
static void test_close_delimited_redirect(void)
{
    fixture_t f;
    setup(&f, true, 10);
    capture_t cap = {0};
    fetch(&f, "GET", "/close-redirect", NULL, 0, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_STR(cap.body, "GET /dest len=0 ct=- auth=- cookie=-");
    CHECK_EQ(atomic_load(&f.a.accepted), 2);
    capture_free(&cap);
    teardown(&f);
}

int main(void)
{
    RUN(test_each_code);
    RUN(test_head_stays_head);
    RUN(test_relative_locations);
    RUN(test_cross_host);
    RUN(test_max_redirects);
    RUN(test_not_following);
    RUN(test_unusable_locations);
    RUN(test_close_delimited_redirect);
    return 0;
}
