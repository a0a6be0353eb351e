/*
 * bench/ref/uv_echo.c — the libuv reference line-echo server.
 *
 *   ref_uv_echo [-p PORT] [-w N]  (PORT 0, the default, picks a free port)
 *
 * Binds 127.0.0.1, prints "listening on 127.0.0.1:PORT" once listening, and
 * echoes every '\n'-terminated line back on the connection it came from.
 * SIGINT or SIGTERM closes every handle and exits 0 with nothing leaked.
 * With -w N (N > 1) the process forks N children after listening, each with
 * its own loop accepting on the shared socket (nginx's worker model), so
 * that a multi-worker eddy is compared at an equal process count; the
 * parent only forwards SIGINT/SIGTERM to them and exits once all have.
 *
 * This is what bench/echo.sh measures eddy against, so it is written the way
 * a careful libuv program would be:
 *   - each connection reads straight into its own input buffer (no copy from
 *     a shared read buffer), and the buffer only grows for long lines;
 *   - after each read every complete line is echoed at once: uv_try_write
 *     first (the common case finishes here, with no allocation and no write
 *     request), then a single uv_write holding a copy of whatever the socket
 *     did not take, in the same allocation as its request;
 *   - the unfinished tail of the input moves to the buffer's front;
 *   - TCP_NODELAY is on; reading pauses while more than WRITE_HIGH_WATER
 *     bytes wait to be written (a peer that does not read cannot make the
 *     server buffer without bound) and resumes once they drain;
 *   - a line longer than MAX_LINE closes the connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uv.h>

#include "ref_common.h"

#define READ_CHUNK       (64 * 1024)
#define MAX_LINE         (8 * 1024 * 1024)
#define WRITE_HIGH_WATER (1024 * 1024)

typedef struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the conn's address */
    char *in;     /* input bytes not yet echoed: only an unfinished line */
    size_t in_len;
    size_t in_cap;
    int paused; /* reading stopped for backpressure */
} conn_t;

typedef struct write_req {
    uv_write_t req;
    conn_t *conn;
    char data[]; /* the bytes being written, owned by the request */
} write_req_t;

static uv_loop_t *g_loop;
static uv_tcp_t g_server;
static uv_signal_t g_sigint;
static uv_signal_t g_sigterm;

static void conn_close_cb(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    free(c->in);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = (conn_t *)h;
    (void)suggested;
    if (c->in_cap - c->in_len < READ_CHUNK / 4) {
        size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
        while (cap - c->in_len < READ_CHUNK / 4)
            cap *= 2;
        char *p = realloc(c->in, cap);
        if (p == NULL) {
            /* uv__read reports UV_ENOBUFS to read_cb, which closes. */
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    buf->base = c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void write_cb(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    conn_t *c = w->conn;
    free(w);
    if (status < 0) {
        conn_close(c); /* also UV_ECANCELED while closing: harmless */
        return;
    }
    if (c->paused && c->tcp.write_queue_size <= WRITE_HIGH_WATER / 2) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
            conn_close(c);
            return;
        }
        c->paused = 0;
    }
}

/* Echo c->in[0, n): try the socket directly, queue the rest in one write. */
static int echo(conn_t *c, size_t n)
{
    uv_buf_t b = uv_buf_init(c->in, (unsigned int)n);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    size_t done = 0;
    if (r >= 0)
        done = (size_t)r;
    else if (r != UV_EAGAIN)
        return r;
    if (done == n) return 0;

    write_req_t *w = malloc(sizeof(*w) + (n - done));
    if (w == NULL) return UV_ENOMEM;
    w->conn = c;
    memcpy(w->data, c->in + done, n - done);
    b = uv_buf_init(w->data, (unsigned int)(n - done));
    r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (r != 0) {
        free(w);
        return r;
    }
    if (c->tcp.write_queue_size > WRITE_HIGH_WATER) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->paused = 1;
    }
    return 0;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = (conn_t *)s;
    (void)buf;
    if (nread < 0) { /* UV_EOF, a socket error, or UV_ENOBUFS */
        conn_close(c);
        return;
    }
    if (nread == 0) return;

    /* Only the bytes just read can hold the first newline: everything
     * before them is an unfinished line. */
    size_t old = c->in_len;
    c->in_len += (size_t)nread;
    const char *nl = memrchr(c->in + old, '\n', (size_t)nread);
    if (nl == NULL) {
        if (c->in_len > MAX_LINE) conn_close(c);
        return;
    }
    size_t n = (size_t)(nl - c->in) + 1;
    if (echo(c, n) != 0) {
        conn_close(c);
        return;
    }
    c->in_len -= n;
    if (c->in_len > 0) memmove(c->in, c->in + n, c->in_len);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        fprintf(stderr, "uv_echo: accept: %s\n", uv_strerror(status));
        return;
    }
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return; /* the connection stays in the backlog; retried next time */
    uv_tcp_init(g_loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || uv_tcp_nodelay(&c->tcp, 1) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_close(c);
        return;
    }
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h == (uv_handle_t *)&g_server || h == (uv_handle_t *)&g_sigint ||
        h == (uv_handle_t *)&g_sigterm)
        uv_close(h, NULL);
    else if (h->type == UV_TCP)
        conn_close((conn_t *)h);
    else
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *sig, int signo)
{
    (void)signo;
    uv_walk(sig->loop, close_any, NULL);
}

/* One worker: a loop accepting on listen_fd until SIGINT or SIGTERM. */
static int serve(int listen_fd)
{
    g_loop = uv_default_loop();
    int r = uv_tcp_init(g_loop, &g_server);
    if (r == 0) r = uv_tcp_open(&g_server, listen_fd);
    if (r == 0) r = uv_listen((uv_stream_t *)&g_server, SOMAXCONN, on_connection);
    if (r == 0) r = uv_signal_init(g_loop, &g_sigint);
    if (r == 0) r = uv_signal_start(&g_sigint, on_signal, SIGINT);
    if (r == 0) r = uv_signal_init(g_loop, &g_sigterm);
    if (r == 0) r = uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    if (r != 0) {
        fprintf(stderr, "uv_echo: %s\n", uv_strerror(r));
        return 1;
    }
    /* ref_main blocked them; libuv's handlers are in place now, so one that
     * came early is handled, not fatal. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    r = uv_run(g_loop, UV_RUN_DEFAULT);
    /* Every handle is closed by now; close the loop itself. */
    if (uv_loop_close(g_loop) != 0) {
        fprintf(stderr, "uv_echo: loop still busy at exit\n");
        return 1;
    }
    return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    return ref_main(argc, argv, "ref_uv_echo", serve);
}
