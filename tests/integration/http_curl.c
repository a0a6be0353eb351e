/*
 * The HTTP server driven by curl, as users drive it: status and headers,
 * HEAD, HTTP/1.0, keep-alive reuse, gzip and deflate by q-value (and what
 * is never compressed), cookies both ways, query and path decoding,
 * urlencoded POST, a chunked request body, Expect: 100-continue with a
 * 3 MiB POST, chunked responses with trailers, raw streaming against a
 * Content-Length, sendfile, routing, a handler that forgets to answer, and
 * the access log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_app.h"
#include "test.h"

static http_app_t app;
static char logpath[64], tmpfile_[64];

static char *curl(const char *args, const char *path)
{
    return http_app_curl(&app, 10, args, path);
}

static void test_status_and_headers(void)
{
    char *out = curl("-i", "/hello");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "Content-Type: text/plain\r\n");
    CHECK_CONTAINS(out, "Content-Length: 13\r\n");
    CHECK_CONTAINS(out, "Server: eddy\r\n");
    CHECK_CONTAINS(out, "Date: ");
    CHECK_CONTAINS(out, " GMT\r\n");
    CHECK(strstr(out, "\r\n\r\nHello, World!") != NULL);
    free(out);
    out = curl("-i", "/nowhere");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    free(out);
    out = curl("-i", "/status/201");
    CHECK_CONTAINS(out, "HTTP/1.1 201 Created\r\n");
    free(out);
    out = curl("-i", "/status/299"); /* a code without a reason phrase */
    CHECK_CONTAINS(out, "HTTP/1.1 299 Unknown\r\n");
    CHECK_CONTAINS(out, "Content-Length: 41\r\n");
    free(out);
    out = curl("-i", "/status/204");
    CHECK_CONTAINS(out, "HTTP/1.1 204 No Content\r\n");
    CHECK_LACKS(out, "Content-Length");
    CHECK_LACKS(out, "compressed");
    free(out);
    out = curl("-i", "/forget");
    CHECK_CONTAINS(out, "HTTP/1.1 500 Internal Server Error\r\n");
    free(out);
    out = curl("-i", "/close");
    CHECK_CONTAINS(out, "Connection: close\r\n");
    free(out);
}

static void test_head(void)
{
    char *out = curl("-I -H 'Accept-Encoding: gzip'", "/big");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "Content-Length: 100000\r\n");
    CHECK_LACKS(out, "Content-Encoding");
    free(out);
    /* A streamed answer: the head a GET gets (chunked), no body. */
    out = curl("-I", "/stream");
    CHECK_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
    free(out);
}

static void test_http10(void)
{
    char *out = curl("-i --http1.0", "/hello");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "Connection: close\r\n");
    CHECK_CONTAINS(out, "Hello, World!");
    free(out);
    out = curl("-i --http1.0 -H 'Connection: keep-alive'", "/hello");
    CHECK_CONTAINS(out, "Connection: keep-alive\r\n");
    free(out);
    out = curl("-i --http1.0", "/info");
    CHECK_CONTAINS(out, "version=10\n");
    CHECK_CONTAINS(out, "keepalive=0\n");
    free(out);
    /* Streaming to a 1.0 client: no chunked encoding, the close ends it. */
    out = curl("-i --http1.0 -H 'Accept-Encoding: identity'", "/stream?n=3");
    CHECK_LACKS(out, "chunked");
    CHECK_CONTAINS(out, "piece 0\npiece 1\npiece 2\n");
    free(out);
}

static void test_keep_alive(void)
{
    char path[128];
    snprintf(path, sizeof path, "/hello' 'http://127.0.0.1:%d/info", app.port);
    char *out = curl("-v", path);
    CHECK_CONTAINS(out, "Re-using existing connection");
    CHECK_CONTAINS(out, "Hello, World!");
    CHECK_CONTAINS(out, "keepalive=1\n");
    free(out);
}

static void test_compression(void)
{
    char *out = curl("-i --compressed", "/big");
    CHECK_CONTAINS(out, "Content-Encoding: gzip\r\n");
    CHECK_CONTAINS(out, "Vary: Accept-Encoding\r\n");
    free(out);
    /* The decompressed body is the body. */
    out = curl("--compressed", "/big?n=50000");
    CHECK_EQ(strlen(out), 50000);
    CHECK(strncmp(out, "abcdefghijklmnopqrstuvwxyz\nabc", 30) == 0);
    free(out);
    /* q-values choose. */
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip;q=0.5, deflate'", "/big");
    CHECK_CONTAINS(out, "Content-Encoding: deflate\r\n");
    free(out);
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip;q=0, *;q=0.1'", "/big");
    CHECK_CONTAINS(out, "Content-Encoding: deflate\r\n");
    free(out);
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip;q=0, deflate;q=0'", "/big");
    CHECK_LACKS(out, "Content-Encoding");
    CHECK_CONTAINS(out, "Vary: Accept-Encoding\r\n");
    free(out);
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: deflate;q=0.5, gzip;q=0.5'", "/big");
    CHECK_CONTAINS(out, "Content-Encoding: gzip\r\n");
    free(out);
    out = curl("-i --compressed", "/json");
    CHECK_CONTAINS(out, "Content-Encoding: gzip\r\n");
    free(out);
    /* Never: other types, tiny bodies, already encoded, 204. */
    const char *never[] = {"/png", "/hello", "/encoded", "/status/204"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip'", never[i]);
        CHECK_LACKS(out, "Content-Encoding: gzip");
        free(out);
    }
    /* Streamed bodies are compressed too. */
    out = curl("-i --compressed", "/stream?n=200");
    CHECK_CONTAINS(out, "Content-Encoding: gzip\r\n");
    CHECK_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
    CHECK_CONTAINS(out, "piece 0\npiece 1\n");
    CHECK_CONTAINS(out, "piece 199\n");
    free(out);
}

static void test_cookies(void)
{
    char *out = curl("-b 'sid=xyz; theme=\"light\"'", "/info");
    CHECK_CONTAINS(out, "cookie.sid=xyz\n");
    CHECK_CONTAINS(out, "cookie.theme=light\n");
    free(out);
    out = curl("-i", "/cookie");
    CHECK_CONTAINS(out, "Set-Cookie: sid=abc123; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax\r\n");
    CHECK_CONTAINS(out, "Set-Cookie: theme=dark\r\n");
    CHECK_LACKS(out, "Injected");
    free(out);
}

static void test_decoding(void)
{
    char *out = curl("", "/info?name=J%C3%B6rg&msg=a+b%26c&empty=&flag&bad=%zz&x%20y=1");
    CHECK_CONTAINS(out, "query=name=J%C3%B6rg&msg=a+b%26c&empty=&flag&bad=%zz&x%20y=1\n");
    CHECK_CONTAINS(out, "q.name=J\xc3\xb6rg\n");
    CHECK_CONTAINS(out, "q.msg=a b&c\n");
    CHECK_CONTAINS(out, "q.empty=\n");
    CHECK_CONTAINS(out, "q.flag=\n");
    CHECK_CONTAINS(out, "q.x y=1\n");
    CHECK_LACKS(out, "q.bad");
    free(out);
    out = curl("", "/late/a%20b%2Fc+d?ms=1");
    CHECK_STR(out, "late /late/a b/c+d");
    free(out);
    out = curl("-H 'X-Test:   spaced value  '", "/info");
    CHECK_CONTAINS(out, "x-test=spaced value\n");
    free(out);
    out = curl("-i", "/a%00b");
    CHECK_CONTAINS(out, "HTTP/1.1 400 Bad Request\r\n");
    free(out);
    out = curl("-i", "/a%zz");
    CHECK_CONTAINS(out, "HTTP/1.1 400 Bad Request\r\n");
    free(out);
}

static void test_post(void)
{
    char *out =
        curl("--data-urlencode 'name=J\xc3\xb6rg \xc3\x9c' --data-urlencode 'text=a&b=c'", "/info");
    CHECK_CONTAINS(out, "method=POST\n");
    CHECK_CONTAINS(out, "form.name=J\xc3\xb6rg \xc3\x9c\n");
    CHECK_CONTAINS(out, "form.text=a&b=c\n");
    free(out);
    /* A form field of another content type is not a form. */
    out = curl("-H 'Content-Type: text/plain' --data 'a=1'", "/info");
    CHECK_LACKS(out, "form.");
    CHECK_CONTAINS(out, "body=a=1");
    free(out);
}

static void write_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    for (size_t i = 0; i < n; i++)
        fputc("0123456789abcdef"[i % 16], f);
    fclose(f);
}

static void test_chunked_request(void)
{
    write_file(tmpfile_, 100000);
    char args[256];
    snprintf(args, sizeof args, "-H 'Transfer-Encoding: chunked' --data-binary @%s", tmpfile_);
    char *out = curl(args, "/info");
    CHECK_CONTAINS(out, "body_len=100000\n");
    CHECK(strstr(out, "body=0123456789abcdef0123") != NULL);
    free(out);
}

static void test_expect_continue(void)
{
    write_file(tmpfile_, 3 * 1024 * 1024);
    char args[256];
    snprintf(args, sizeof args, "-v -H 'Expect: 100-continue' --data-binary @%s", tmpfile_);
    char *out = curl(args, "/info");
    CHECK_CONTAINS(out, "HTTP/1.1 100 Continue");
    CHECK_CONTAINS(out, "body_len=3145728\n");
    free(out);
}

static void test_streaming(void)
{
    char *out = curl("-i --raw", "/stream?n=10");
    CHECK_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
    CHECK_CONTAINS(out, "8\r\npiece 0\n\r\n");
    CHECK_CONTAINS(out, "0\r\nX-Sum: 45\r\n\r\n");
    free(out);
    out = curl("-i", "/stream-length");
    CHECK_CONTAINS(out, "Content-Length: 10\r\n");
    CHECK_LACKS(out, "chunked");
    CHECK(strstr(out, "\r\n\r\n0123456789") != NULL);
    free(out);
}

static void test_sendfile(void)
{
    char *out = curl("-H 'Accept-Encoding: gzip'", "/file");
    CHECK_EQ(strlen(out), 70000);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(out[i * 7000 + 123], 'a' + i);
    free(out);
    out = curl("-I", "/file");
    CHECK_CONTAINS(out, "Content-Length: 70000\r\n");
    free(out);
}

static void test_routing(void)
{
    char *out = curl("", "/static/x");
    CHECK_STR(out, "static");
    free(out);
    out = curl("", "/static/deep/y");
    CHECK_STR(out, "deep");
    free(out);
    out = curl("", "/static/deeper");
    CHECK_STR(out, "static");
    free(out);
    out = curl("-i", "/hello/");
    CHECK_CONTAINS(out, "404 Not Found");
    free(out);
}

static void test_stats(void)
{
    char *out = curl("", "/stats");
    CHECK_CONTAINS(out, "requests=");
    unsigned long long req = 0, ok = 0, c4 = 0, c5 = 0, rej = 0;
    CHECK_EQ(sscanf(out, "requests=%llu 2xx=%llu 4xx=%llu 5xx=%llu rejected=%llu", &req, &ok, &c4,
                    &c5, &rej),
             5);
    CHECK(req >= 30);
    CHECK(ok >= 20);
    CHECK(c4 >= 2); /* the 404s; the 400s were rejected before a handler */
    CHECK(c5 >= 1); /* /forget */
    CHECK_EQ(rej, 2);
    CHECK_EQ(req, http_app_calls(&app));
    free(out);
}

static void test_access_log(void)
{
    char *out = curl("-A 'test \"agent\"' -e 'http://ref/'", "/hello?x=1");
    free(out);
    usleep(100000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat %s", logpath);
    int status;
    char *log = run_capture(cmd, &status);
    CHECK_EQ(status, 0);
    CHECK_CONTAINS(log, "127.0.0.1 - - [");
    CHECK_CONTAINS(
        log,
        " +0000] \"GET /hello?x=1 HTTP/1.1\" 200 13 \"http://ref/\" \"test \\x22agent\\x22\"\n");
    CHECK_CONTAINS(log, "\"GET /status/204 HTTP/1.1\" 204 - \"-\" \"curl/");
    free(log);
}

int main(void)
{
    snprintf(logpath, sizeof logpath, "/tmp/eddy-http-access-%d.log", (int)getpid());
    snprintf(tmpfile_, sizeof tmpfile_, "/tmp/eddy-http-body-%d", (int)getpid());
    const char *options[] = {"http_access_log", logpath, "package_max_length", "8388608", NULL};
    http_app_start(&app, options);
    RUN(test_status_and_headers);
    RUN(test_head);
    RUN(test_http10);
    RUN(test_keep_alive);
    RUN(test_compression);
    RUN(test_cookies);
    RUN(test_decoding);
    RUN(test_post);
    RUN(test_chunked_request);
    RUN(test_expect_continue);
    RUN(test_streaming);
    RUN(test_sendfile);
    RUN(test_routing);
    RUN(test_stats);
    RUN(test_access_log);
    http_app_stop(&app);
    unlink(logpath);
    unlink(tmpfile_);
    return 0;
}
