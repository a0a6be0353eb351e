/*
 * Keep-alive and pipelining over raw sockets: ten pipelined requests are
 * answered in order — also when the first is answered 300 ms later from a
 * timer, with the session paused meanwhile, and when the requests behind it
 * reach the HTTP layer and wait in its queue; a HEAD answer carries no body
 * (the next response parses); Connection: close in a pipeline ends it
 * cleanly after that answer; the queue bound closes the connection after
 * the current answer; a client that leaves while its answer is pending
 * does not disturb the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_app.h"
#include "test.h"

static http_app_t app;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void send_requests(http_client_t *c, const char *first, int n)
{
    char all[8192];
    size_t len = 0;
    if (first)
        len += (size_t)snprintf(all + len, sizeof all - len, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                                first);
    for (int i = first ? 1 : 0; i < n; i++)
        len += (size_t)snprintf(all + len, sizeof all - len,
                                "GET /info?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    http_client_send(c, all, len); /* one write: the server reads them together */
}

static void expect_info(http_client_t *c, int i)
{
    http_reply_t r;
    CHECK_EQ(http_client_read(c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    char want[32];
    snprintf(want, sizeof want, "q.i=%d\n", i);
    if (!strstr(r.body, want)) fprintf(stderr, "expected %s in:\n%s\n", want, r.body);
    CHECK(strstr(r.body, want) != NULL);
    http_reply_free(&r);
}

static void test_in_order(void)
{
    http_client_t c;
    http_client_open(&c, app.port);
    send_requests(&c, NULL, 10);
    for (int i = 0; i < 10; i++)
        expect_info(&c, i);
    /* Still open and usable. */
    send_requests(&c, NULL, 1);
    expect_info(&c, 0);
    http_client_close(&c);
}

static void late_first(const char *late)
{
    http_client_t c;
    http_client_open(&c, app.port);
    long t0 = now_ms();
    send_requests(&c, late, 10);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK(now_ms() - t0 >= 280);
    CHECK_EQ(r.status, 200);
    CHECK(strncmp(r.body, "late /late", 10) == 0);
    http_reply_free(&r);
    for (int i = 1; i < 10; i++)
        expect_info(&c, i);
    send_requests(&c, NULL, 1);
    expect_info(&c, 0);
    http_client_close(&c);
}

static void test_late_first(void)
{
    late_first("/late/a?ms=300");
}

static void test_late_first_queued(void)
{
    late_first("/late-resume/a?ms=300");
}

/* Several late answers among quick ones, queued: still in order. */
static void test_mixed(void)
{
    http_client_t c;
    http_client_open(&c, app.port);
    const char *paths[] = {"/late-resume/1?ms=100", "/hello",   "/late/2?ms=50", "/hello",
                           "/late-resume/3?ms=10",  "/info?i=5"};
    char all[2048];
    size_t len = 0;
    for (size_t i = 0; i < 6; i++)
        len += (size_t)snprintf(all + len, sizeof all - len, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                                paths[i]);
    http_client_send(&c, all, len);
    const char *want[] = {"late /late-resume/1", "Hello, World!",       "late /late/2",
                          "Hello, World!",       "late /late-resume/3", "q.i=5"};
    for (size_t i = 0; i < 6; i++) {
        http_reply_t r;
        CHECK_EQ(http_client_read(&c, &r, false), 0);
        if (!strstr(r.body, want[i])) fprintf(stderr, "reply %zu: %s\n", i, r.body);
        CHECK(strstr(r.body, want[i]) != NULL);
        http_reply_free(&r);
    }
    http_client_close(&c);
}

static void test_head_then_get(void)
{
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(
        &c, "HEAD /big HTTP/1.1\r\nHost: t\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, true), 0);
    char v[64];
    CHECK(http_reply_header(&r, "Content-Length", v, sizeof v));
    CHECK_STR(v, "100000");
    http_reply_free(&r);
    CHECK_EQ(http_client_read(&c, &r, true), 0);
    CHECK(http_reply_header(&r, "Transfer-Encoding", v, sizeof v));
    CHECK_STR(v, "chunked");
    http_reply_free(&r);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_STR(r.body, "Hello, World!");
    http_reply_free(&r);
    http_client_close(&c);
}

static void test_close_in_pipeline(void)
{
    const char *firsts[] = {"/hello", "/late-resume/x?ms=50"};
    for (int k = 0; k < 2; k++) {
        http_client_t c;
        http_client_open(&c, app.port);
        char all[512];
        snprintf(all, sizeof all,
                 "GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET /close HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
                 firsts[k]);
        http_client_sends(&c, all);
        http_reply_t r;
        CHECK_EQ(http_client_read(&c, &r, false), 0);
        CHECK_EQ(r.status, 200);
        http_reply_free(&r);
        CHECK_EQ(http_client_read(&c, &r, false), 0);
        CHECK_STR(r.body, "bye");
        http_reply_free(&r);
        size_t extra = 1;
        CHECK_EQ(http_client_wait_close(&c, &extra), 0); /* a clean EOF, nothing after */
        CHECK_EQ(extra, 0);
        http_client_close(&c);
    }
    /* Connection: close from the client. */
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    char v[64];
    CHECK(http_reply_header(&r, "Connection", v, sizeof v));
    CHECK_STR(v, "close");
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
}

/* pipeline_max is 9 here: behind a pending answer, the 10th queued request
 * overflows; the 9 answers already queued still come, then a clean close. */
static void test_queue_bound(void)
{
    http_client_t c;
    http_client_open(&c, app.port);
    send_requests(&c, "/late-resume/q?ms=100", 15);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK(strncmp(r.body, "late /late-resume/q", 19) == 0);
    http_reply_free(&r);
    for (int i = 1; i < 10; i++)
        expect_info(&c, i);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
}

static void test_client_leaves(void)
{
    for (int i = 0; i < 5; i++) {
        http_client_t c;
        http_client_open(&c, app.port);
        http_client_sends(&c, i % 2 ? "GET /late/gone?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n"
                                    : "GET /late-resume/gone?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n"
                                      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        usleep(20000);
        http_client_close(&c);
    }
    usleep(200000); /* the timers fire; their ends fail and free */
    http_client_t c;
    http_client_open(&c, app.port);
    send_requests(&c, NULL, 3);
    for (int i = 0; i < 3; i++)
        expect_info(&c, i);
    http_client_close(&c);
}

int main(void)
{
    const char *options[] = {"http_pipeline_max", "9", NULL};
    http_app_start(&app, options);
    RUN(test_in_order);
    RUN(test_late_first);
    RUN(test_late_first_queued);
    RUN(test_mixed);
    RUN(test_head_then_get);
    RUN(test_close_in_pipeline);
    RUN(test_queue_bound);
    RUN(test_client_leaves);
    http_app_stop(&app);
    return 0;
}
