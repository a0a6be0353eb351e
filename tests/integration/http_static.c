/*
 * Static files served by the HTTP server (enable_static_handler) and by a
 * handler (eddy_http_serve_static), driven by curl and raw sockets: exact
 * bytes and Content-Type, index files, ETag / Last-Modified and 304,
 * Range (206, suffix, 416), HEAD, no compression for files (ranges above
 * all), fall-through to the handler for what is not there, 403 for a
 * directory without an index, and every way out of the root — "..", "%2e%2e",
 * "%2f", a symlink out, absolute-form — answered without the outside file.
 * http_static_process.sh runs it again in PROCESS mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <eddy.h>

#include "http_app.h"
#include "test.h"
#include "testutil.h"

static http_app_t app;
static char top[64], root[128];

#define SECRET "TOP SECRET: outside the document root"

static char *curl(const char *args, const char *path)
{
    return http_app_curl(&app, 10, args, path);
}

static void put(const char *rel, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    test_write_file(path, data, len);
}

static char hello[101]; /* 100 bytes */

/* top/secret.txt, top/root/{hello.txt, style.css, big.txt, sub/index.html,
 * bare/, link_in -> hello.txt, link_out -> ../secret.txt, link_abs -> top/secret.txt} */
static void make_tree(void)
{
    snprintf(top, sizeof top, "/tmp/eddy-static-XXXXXX");
    CHECK(mkdtemp(top));
    snprintf(root, sizeof root, "%s/root", top);
    CHECK_EQ(mkdir(root, 0755), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/secret.txt", top);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(SECRET, f);
    fclose(f);
    for (int i = 0; i < 100; i++)
        hello[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
    put("hello.txt", hello, 100);
    put("style.css", "body { color: red }\n", 20);
    size_t big_len = 200000;
    char *big = malloc(big_len);
    CHECK(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = "static text compresses well\n"[i % 28];
    put("big.txt", big, big_len);
    free(big);
    snprintf(path, sizeof path, "%s/sub", root);
    CHECK_EQ(mkdir(path, 0755), 0);
    put("sub/index.html", "<h1>sub index</h1>\n", 19);
    snprintf(path, sizeof path, "%s/bare", root);
    CHECK_EQ(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/link_in", root);
    CHECK_EQ(symlink("hello.txt", path), 0);
    snprintf(path, sizeof path, "%s/link_out", root);
    CHECK_EQ(symlink("../secret.txt", path), 0);
    char target[256];
    snprintf(target, sizeof target, "%s/secret.txt", top);
    snprintf(path, sizeof path, "%s/link_abs", root);
    CHECK_EQ(symlink(target, path), 0);
}

static pid_t owner; /* the test process: forked servers must not clean up */

static void remove_tree(void)
{
    if (getpid() != owner || !top[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    top[0] = '\0';
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed: %s\n", cmd); /* may run at exit */
}

/* The value of header name in curl -i output, into out. */
static void header(const char *out, const char *name, char *value, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strstr(out, key);
    if (!p) {
        fprintf(stderr, "no %s in:\n%s\n", name, out);
        exit(1);
    }
    p += strlen(key);
    const char *e = strstr(p, "\r\n");
    size_t n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
    memcpy(value, p, n);
    value[n] = '\0';
}

static const char *body_of(const char *out)
{
    const char *p = strstr(out, "\r\n\r\n");
    CHECK(p);
    return p + 4;
}

static void test_file(void)
{
    uint64_t calls = http_app_calls(&app);
    char *out = curl("-i", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Length: 100\r\n");
    CHECK_CONTAINS(out, "\r\nAccept-Ranges: bytes\r\n");
    CHECK_CONTAINS(out, "\r\nETag: \"");
    CHECK_CONTAINS(out, "\r\nLast-Modified: ");
    CHECK_CONTAINS(out, "\r\nServer: eddy\r\n");
    CHECK_STR(body_of(out), hello);
    free(out);
    out = curl("-i", "/style.css");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/css; charset=utf-8\r\n");
    CHECK_STR(body_of(out), "body { color: red }\n");
    free(out);
    /* A symlink that stays inside is followed. */
    out = curl("", "/link_in");
    CHECK_STR(out, hello);
    free(out);
    /* Percent-encoded names are decoded first. */
    out = curl("", "/hell%6f.txt");
    CHECK_STR(out, hello);
    free(out);
    /* 200 KiB exactly, through sendfile. */
    out = curl("", "/big.txt");
    CHECK_EQ(strlen(out), 200000);
    CHECK(strncmp(out + 28 * 1000, "static text compresses well\n", 28) == 0);
    free(out);
    CHECK_EQ(http_app_calls(&app), calls); /* the handler saw none of them */
}

static void test_index(void)
{
    char *out = curl("-i", "/sub/");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/html; charset=utf-8\r\n");
    CHECK_STR(body_of(out), "<h1>sub index</h1>\n");
    free(out);
    out = curl("", "/sub");
    CHECK_STR(out, "<h1>sub index</h1>\n");
    free(out);
    /* A directory without an index is refused, not listed. */
    out = curl("-i", "/bare/");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
    out = curl("-i", "/");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
}

static void test_conditional(void)
{
    char *out = curl("-i", "/hello.txt");
    char etag[128], lm[128], args[512];
    header(out, "ETag", etag, sizeof etag);
    header(out, "Last-Modified", lm, sizeof lm);
    free(out);
    snprintf(args, sizeof args, "-i -H 'If-None-Match: %s'", etag);
    out = curl(args, "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 304 Not Modified\r\n");
    CHECK_CONTAINS(out, etag);
    CHECK_LACKS(out, "Content-Length");
    CHECK_STR(body_of(out), "");
    free(out);
    snprintf(args, sizeof args, "-i -H 'If-None-Match: \"other\", W/%s'", etag);
    out = curl(args, "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 304 Not Modified\r\n");
    free(out);
    snprintf(args, sizeof args, "-i -H 'If-Modified-Since: %s'", lm);
    out = curl(args, "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 304 Not Modified\r\n");
    free(out);
    out = curl("-i -H 'If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_STR(body_of(out), hello);
    free(out);
    out = curl("-i -H 'If-None-Match: \"nope\"'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    free(out);
    out = curl("-i -H 'If-Match: \"nope\"'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 412 Precondition Failed\r\n");
    free(out);
    /* curl's own conditional GET: -z with a date in the future of the file. */
    out = curl("-i -z 'Sat, 01 Jan 2100 00:00:00 GMT'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 304 Not Modified\r\n");
    free(out);
}

static void test_range(void)
{
    char *out = curl("-i -r 0-9", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 206 Partial Content\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Range: bytes 0-9/100\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Length: 10\r\n");
    CHECK_STR(body_of(out), "0123456789");
    free(out);
    out = curl("-i -H 'Range: bytes=-5'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 206 Partial Content\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Range: bytes 95-99/100\r\n");
    CHECK_STR(body_of(out), hello + 95);
    free(out);
    out = curl("-i -H 'Range: bytes=90-'", "/hello.txt");
    CHECK_CONTAINS(out, "\r\nContent-Range: bytes 90-99/100\r\n");
    CHECK_STR(body_of(out), hello + 90);
    free(out);
    out = curl("-i -H 'Range: bytes=1000000-'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 416 Range Not Satisfiable\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Range: bytes */100\r\n");
    CHECK_LACKS(out, hello);
    free(out);
    /* Two ranges: the whole file. */
    out = curl("-i -H 'Range: bytes=0-1,5-6'", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_STR(body_of(out), hello);
    free(out);
    /* A range in the middle of a big file, at an offset sendfile must honour. */
    out = curl("-H 'Range: bytes=100000-100027'", "/big.txt");
    CHECK_STR(out, "compresses well\nstatic text "); /* 100000 % 28 == 12 */
    free(out);
}

static void test_head(void)
{
    char *out = curl("-I", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Length: 100\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    CHECK_CONTAINS(out, "\r\nETag: \"");
    CHECK_STR(body_of(out), "");
    free(out);
    /* Over a raw socket: exactly the head, then the next answer. */
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, "HEAD /big.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, true), 0);
    CHECK_EQ(r.status, 200);
    CHECK_CONTAINS(r.head, "Content-Length: 200000\r\n");
    http_reply_free(&r);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "body { color: red }\n");
    http_reply_free(&r);
    http_client_close(&c);
}

static void test_no_compression(void)
{
    char *out = curl("-i -H 'Accept-Encoding: gzip' -r 0-99", "/big.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 206 Partial Content\r\n");
    CHECK_LACKS(out, "Content-Encoding");
    CHECK_EQ(strlen(body_of(out)), 100);
    free(out);
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip'", "/big.txt");
    CHECK_CONTAINS(out, "\r\nContent-Length: 200000\r\n");
    CHECK_LACKS(out, "Content-Encoding");
    free(out);
    /* A dynamic answer of the same type still is. */
    out = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip'", "/big");
    CHECK_CONTAINS(out, "Content-Encoding: gzip\r\n");
    free(out);
}

static void test_fall_through(void)
{
    uint64_t calls = http_app_calls(&app);
    char *out = curl("", "/hello");
    CHECK_STR(out, "Hello, World!");
    free(out);
    out = curl("-i", "/missing.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    free(out);
    /* Other methods never reach the files. */
    out = curl("-i -X POST --data x=1", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    CHECK_LACKS(out, hello);
    free(out);
    /* A trailing slash after a file is no file. */
    out = curl("-i", "/hello.txt/");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    free(out);
    CHECK_EQ(http_app_calls(&app), calls + 4);
}

/* Every way out: never the secret, always a refusal or a miss. */
static void test_escape(void)
{
    const char *paths[] = {
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/./sub/./../../secret.txt",
        "/link_out",
        "/link_abs",
        "//secret.txt",
        "/root/../secret.txt",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *out = curl("-i --path-as-is", paths[i]);
        CHECK_LACKS(out, "TOP SECRET");
        if (!strstr(out, "HTTP/1.1 403 Forbidden\r\n") &&
            !strstr(out, "HTTP/1.1 404 Not Found\r\n")) {
            fprintf(stderr, "%s: neither 403 nor 404:\n%s\n", paths[i], out);
            exit(1);
        }
        free(out);
    }
    char *out = curl("-i --path-as-is", "/../secret.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
    out = curl("-i", "/link_out");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
    /* Raw requests: as written on the wire, no client normalising them. */
    const char *raw[] = {
        "GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /sub/%2e%2e%2f%2e%2e%2fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /..\\secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://x/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /link_out?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/root/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        http_client_t c;
        http_client_open(&c, app.port);
        http_client_sends(&c, raw[i]);
        http_reply_t r;
        CHECK_EQ(http_client_read(&c, &r, strncmp(raw[i], "HEAD", 4) == 0), 0);
        if (r.status != 403 && r.status != 404 && r.status != 400) {
            fprintf(stderr, "%s-> %d\n", raw[i], r.status);
            exit(1);
        }
        CHECK(!r.body || !strstr(r.body, "TOP SECRET"));
        http_reply_free(&r);
        http_client_close(&c);
    }
}

static void test_mounted(void)
{
    char *out = curl("-i", "/mount/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "\r\nCache-Control: max-age=60\r\n");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    CHECK_STR(body_of(out), hello);
    free(out);
    out = curl("-i -r 10-19", "/mount/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 206 Partial Content\r\n");
    CHECK_STR(body_of(out), "abcdefghij");
    free(out);
    out = curl("", "/mount/sub/");
    CHECK_STR(out, "<h1>sub index</h1>\n");
    free(out);
    out = curl("", "/mount-bare/style.css");
    CHECK_STR(out, "body { color: red }\n");
    free(out);
    /* The helper answers 404 itself. */
    out = curl("-i", "/mount/nothing");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    free(out);
    const char *bad[] = {"/mount/../secret.txt", "/mount/%2e%2e/secret.txt", "/mount/link_out",
                         "/mount/..%2f..%2fsecret.txt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = curl("-i --path-as-is", bad[i]);
        CHECK_LACKS(out, "TOP SECRET");
        free(out);
    }
    out = curl("-i --path-as-is", "/mount/%2e%2e/secret.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
}

static void test_stats(void)
{
    char *out = curl("", "/stats");
    unsigned long long req, ok, c4, c5, rej, st;
    CHECK_EQ(sscanf(out, "requests=%llu 2xx=%llu 4xx=%llu 5xx=%llu rejected=%llu static=%llu", &req,
                    &ok, &c4, &c5, &rej, &st),
             6);
    CHECK(st >= 30);
    CHECK_EQ(req, http_app_calls(&app));
    free(out);
}

/* static_prefix: the root is served under /assets only. */
static void test_prefix(void)
{
    const char *options[] = {
        "enable_static_handler", "on", "document_root", root, "static_prefix", "/assets/", NULL};
    http_app_start(&app, options);
    char *out = curl("", "/assets/hello.txt");
    CHECK_STR(out, hello);
    free(out);
    out = curl("", "/assets/sub/");
    CHECK_STR(out, "<h1>sub index</h1>\n");
    free(out);
    out = curl("-i", "/hello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n"); /* the router's */
    CHECK_LACKS(out, hello);
    free(out);
    out = curl("-i", "/assetshello.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 404 Not Found\r\n");
    free(out);
    out = curl("-i --path-as-is", "/assets/../secret.txt");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n");
    free(out);
    out = curl("-i", "/assets");
    CHECK_CONTAINS(out, "HTTP/1.1 403 Forbidden\r\n"); /* the root: no index.html */
    free(out);
    http_app_stop(&app);
    /* With index files of our choosing. */
    put("bare/start.htm", "start\n", 6);
    const char *options2[] = {
        "enable_static_handler", "on", "document_root", root, "static_index_files",
        "index.html, start.htm", NULL};
    http_app_start(&app, options2);
    out = curl("-i", "/bare/");
    CHECK_CONTAINS(out, "\r\nContent-Type: text/html; charset=utf-8\r\n");
    CHECK_STR(body_of(out), "start\n");
    free(out);
    http_app_stop(&app);
}

int main(void)
{
    owner = getpid();
    make_tree();
    atexit(remove_tree); /* a failed CHECK exits: leave nothing in /tmp */
    const char *options[] = {"enable_static_handler", "on", "document_root", root, NULL};
    http_app_start(&app, options);
    RUN(test_file);
    RUN(test_index);
    RUN(test_conditional);
    RUN(test_range);
    RUN(test_head);
    RUN(test_no_compression);
    RUN(test_fall_through);
    RUN(test_escape);
    RUN(test_mounted);
    RUN(test_stats);
    http_app_stop(&app);
    RUN(test_prefix);
    remove_tree();
    return 0;
}
