/*
 * Requests the server must refuse, over raw sockets:
 *   - a corpus of malformed and smuggling requests (CL+TE, differing
 *     Content-Length, obs-fold, bare CR and LF, NUL, bad chunk sizes, space
 *     before the colon, missing or doubled Host, unknown codings, HTTP/2.0
 *     ...): each is answered with its status and Connection: close, then a
 *     clean EOF, and never reaches the handler (the handler calls are
 *     counted in shared memory) — not even the request smuggled behind it;
 *   - 413, 431 and 414 followed by 4 MiB of body the client keeps sending
 *     and the server never reads: the client gets the whole answer and a
 *     clean EOF, never a reset (CLOSE.md);
 *   - 408 for a head that stays partial longer than http_header_timeout,
 *     and for a body that stops arriving for http_body_timeout,
 *     also when it trickles in a byte at a time, while idle keep-alive
 *     connections are never timed out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Send raw bytes; expect exactly one response with status, Connection:
 * close, then a clean EOF. */
static void expect_refused(const char *name, const char *req, size_t len, int status)
{
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_send(&c, req, len);
    http_reply_t r;
    int rc = http_client_read(&c, &r, false);
    if (rc != 0 || r.status != status)
        fprintf(stderr, "case %s: rc %d status %d, wanted %d\n", name, rc, rc ? 0 : r.status,
                status);
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.status, status);
    char v[32];
    CHECK(http_reply_header(&r, "Connection", v, sizeof v));
    CHECK_STR(v, "close");
    CHECK(http_reply_header(&r, "Content-Length", v, sizeof v));
    CHECK_STR(v, "0");
    http_reply_free(&r);
    size_t extra = 1;
    int how = http_client_wait_close(&c, &extra);
    if (how != 0) fprintf(stderr, "case %s: ended with %s\n", name, strerror(how));
    CHECK_EQ(how, 0);
    CHECK_EQ(extra, 0);
    http_client_close(&c);
}

typedef struct bad {
    const char *name;
    const char *req;
    size_t len; /* 0: strlen */
    int status;
} bad_t;

#define SMUGGLED "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"

static const bad_t corpus[] = {
    {"cl+te",
     "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
     "chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
     0, 400},
    {"te+cl",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
     "4\r\n\r\n0\r\n\r\n" SMUGGLED,
     0, 400},
    {"cl twice differing",
     "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 0,
     400},
    {"cl list differing", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nabcdef",
     0, 400},
    {"cl sign", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nabcde", 0, 400},
    {"cl hex", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nabcde", 0, 400},
    {"cl space inside", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789",
     0, 400},
    {"obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 0, 400},
    {"obs-fold te",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 0, 400},
    {"bare cr", "GET /hello HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 0, 400},
    {"bare lf", "GET /hello HTTP/1.1\nHost: x\n\n", 0, 400},
    {"bare lf in header", "GET /hello HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 0, 400},
    {"nul in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 42, 400},
    {"nul in target", "GET /he\0llo HTTP/1.1\r\nHost: x\r\n\r\n", 33, 400},
    {"control in target", "GET /he\x01llo HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"space before colon", "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nabcde", 0,
     400},
    {"tab before colon", "GET /hello HTTP/1.1\r\nHost\t: x\r\n\r\n", 0, 400},
    {"bad header name", "GET /hello HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n", 0, 400},
    {"space before first header", "GET /hello HTTP/1.1\r\n Host: x\r\n\r\n", 0, 400},
    {"bad chunk size",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     0, 400},
    {"chunk size overflow",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
     0, 400},
    {"chunk size sign",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
     0, 400},
    {"chunk without crlf",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
     0, 400},
    {"chunk lf only",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", 0, 400},
    {"bad trailer",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: "
     "1\r\n\r\n",
     0, 400},
    {"te chunked twice",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 0,
     400},
    {"te not last",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 0,
     400},
    {"te obfuscated",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 0, 400},
    {"te gzip",
     "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0,
     501},
    {"te in 1.0", "POST /hello HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400},
    {"no host", "GET /hello HTTP/1.1\r\n\r\n", 0, 400},
    {"two hosts", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
    {"bad host", "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400},
    {"http/2.0", "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 0, 505},
    {"bad version", "GET /hello HTTP/1.x\r\nHost: x\r\n\r\n", 0, 400},
    {"lower-case version", "GET /hello http/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"two spaces", "GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"bad method", "G(T /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"asterisk for get", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"two blank lines first", "\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400},
};

static void test_corpus(void)
{
    uint64_t before = http_app_calls(&app);
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        const bad_t *b = &corpus[i];
        expect_refused(b->name, b->req, b->len ? b->len : strlen(b->req), b->status);
    }
    CHECK_EQ(http_app_calls(&app), before);
    /* Behind a good request: that one is answered, the bad one refused, the
     * smuggled one never seen. */
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, SMUGGLED "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_STR(r.body, "Hello, World!");
    http_reply_free(&r);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 400);
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
    CHECK_EQ(http_app_calls(&app), before + 1);
}

/* ---- refusals with a large unread body behind them ----------------------------- */

#define FLOOD (4 * 1024 * 1024)

typedef struct flood {
    int fd;
    size_t sent;
    int err;
} flood_t;

static void *flood_main(void *arg)
{
    flood_t *f = arg;
    static char junk[65536];
    memset(junk, 'j', sizeof junk);
    while (f->sent < FLOOD) {
        ssize_t n = send(f->fd, junk, sizeof junk, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            f->err = errno;
            break;
        }
        f->sent += (size_t)n;
    }
    return NULL;
}

/* The head, then 4 MiB the client keeps sending from another thread while
 * the main thread reads: the whole refusal must arrive, then a clean EOF. */
static void refused_with_flood(const char *name, const char *head, int status)
{
    http_client_t c;
    http_client_open(&c, app.port);
    struct timeval tv = {10, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    http_client_sends(&c, head);
    flood_t f = {.fd = c.fd};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, flood_main, &f), 0);
    usleep(10000); /* let the flood start before reading (as CLOSE.md's client does) */
    http_reply_t r;
    int rc = http_client_read(&c, &r, false);
    if (rc != 0 || r.status != status) fprintf(stderr, "case %s: rc %d\n", name, rc);
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.status, status);
    http_reply_free(&r);
    int how = http_client_wait_close(&c, NULL);
    if (how != 0) fprintf(stderr, "case %s: ended with %s\n", name, strerror(how));
    CHECK_EQ(how, 0);
    pthread_join(t, NULL);
    printf("%s: %d answered whole, clean EOF; client sent %zu bytes (%s)\n", name, status, f.sent,
           f.err ? strerror(f.err) : "all");
    http_client_close(&c);
}

static void test_limits_with_flood(void)
{
    uint64_t before = http_app_calls(&app);
    refused_with_flood("413", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n",
                       413);
    char head[16384];
    int n = snprintf(head, sizeof head, "POST /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(head + n, 'h', 6000);
    snprintf(head + n + 6000, sizeof head - (size_t)n - 6000,
             "\r\nContent-Length: 4194304\r\n\r\n");
    refused_with_flood("431", head, 431);
    n = snprintf(head, sizeof head, "POST /");
    memset(head + n, 't', 2000);
    snprintf(head + n + 2000, sizeof head - (size_t)n - 2000,
             " HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n");
    refused_with_flood("414", head, 414);
    refused_with_flood("400",
                       "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n"
                       "Content-Length: 5\r\n\r\n",
                       400);
    /* Chunked: the decoded size counts. */
    refused_with_flood("413 chunked",
                       "POST /hello HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n400000\r\n",
                       413);
    CHECK_EQ(http_app_calls(&app), before);
}

/* ---- slow heads ----------------------------------------------------------------- */

/* Send this much of a request and fall silent: 408 after at least
 * min_ms (well within 3 s), then a clean close. */
static void expect_timeout(const char *partial, long min_ms)
{
    http_client_t c;
    http_client_open(&c, app.port);
    long t0 = now_ms();
    http_client_sends(&c, partial);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    long took = now_ms() - t0;
    CHECK_EQ(r.status, 408);
    CHECK(took >= min_ms && took < 3000);
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
}

static void test_slow_head(void)
{
    uint64_t before = http_app_calls(&app);
    /* A partial head, then silence: 408 after http_header_timeout (300 ms). */
    expect_timeout("GET /hello HTTP/1.1\r\nHost: x\r\n", 250);

    /* A byte every 40 ms: the timer is not restarted by each byte. */
    http_client_t c;
    http_client_open(&c, app.port);
    const char *slow = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789012345\r\n\r\n";
    long t0 = now_ms();
    size_t sent = 0;
    for (; slow[sent] && now_ms() - t0 < 2000; sent++) {
        if (send(c.fd, slow + sent, 1, MSG_NOSIGNAL) != 1) break;
        usleep(40000);
    }
    CHECK(sent < strlen(slow));
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 408);
    http_reply_free(&r);
    http_client_close(&c);

    /* Idle keep-alive connections are not timed: before and between requests. */
    http_client_open(&c, app.port);
    usleep(600000);
    http_client_sends(&c, SMUGGLED);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    usleep(600000);
    http_client_sends(&c, SMUGGLED);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    /* A head completed in time is served, and the timer is gone with it. */
    http_client_sends(&c, "GET /hello HTTP/1.1\r\n");
    usleep(150000);
    http_client_sends(&c, "Host: x\r\n\r\n");
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    usleep(400000);
    http_client_sends(&c, SMUGGLED);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    http_client_close(&c);
    CHECK_EQ(http_app_calls(&app), before + 4);
}

/* A body that stops arriving: 408 after http_body_timeout (400 ms) of
 * silence, whole or streamed (an upload, chunked too); one that keeps coming, however
 * slowly, is not cut — the timer restarts with every read. (Without the
 * body timer the first read times out after 5 s: nothing is answered.) */
static void test_slow_body(void)
{
    uint64_t before = http_app_calls(&app);
    const char *heads[] = {
        "POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 100\r\n\r\n--b\r\n",
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Transfer-Encoding: chunked\r\n\r\n64\r\n--b\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        expect_timeout(heads[i], 350);
    /* 20 bytes every 250 ms: 1.25 s in all, longer than the timeout. */
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, "POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        usleep(250000);
        http_client_sends(&c, "01234567890123456789");
    }
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    http_client_close(&c);
    CHECK_EQ(http_app_calls(&app), before + 1);
}

/* PROCESS mode: a worker that dies holding a request does not leave its
 * client waiting — the reactor answers 503 and closes gracefully; the
 * connection of an idle client stays open for the restarted worker.
 * (Against the reactor without the lost-request handling, the read of the
 * 503 times out.) */
static void test_worker_dies(void)
{
    http_client_t idle, c;
    http_client_open(&idle, app.port);
    http_client_sends(&idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    http_reply_t r;
    CHECK_EQ(http_client_read(&idle, &r, false), 0);
    http_reply_free(&r);
    http_client_open(&c, app.port);
    http_client_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    /* (Pipelined behind /hello, the /hello answer could die unsent with
     * the worker too — queued for the end of the iteration — and the 503
     * would answer it instead: both requests lost, the first gets the 503.) */
    http_client_sends(&c, "GET /die HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 503);
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
    /* The idle connection is served by the successor (it may take a moment
     * to start). */
    usleep(300000);
    http_client_sends(&idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ(http_client_read(&idle, &r, false), 0);
    CHECK_EQ(r.status, 200);
    http_reply_free(&r);
    http_client_close(&idle);
}

int main(void)
{
    const char *options[] = {
        "package_max_length",
        "65536",
        "http_max_header_size",
        "4096",
        "http_max_target_size",
        "1024",
        "http_header_timeout",
        "300",
        "http_body_timeout",
        "400",
        "linger_max_bytes",
        "16777216",
        NULL,
    };
    http_app_start(&app, options);
    RUN(test_corpus);
    RUN(test_limits_with_flood);
    RUN(test_slow_head);
    RUN(test_slow_body);
    const char *mode = getenv("EDDY_TEST_SERVER_MODE");
    if (mode && strcmp(mode, "process") == 0) RUN(test_worker_dies);
    http_app_stop(&app);
    return 0;
}
