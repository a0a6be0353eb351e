/*
 * bench/ref/uring_hello.c — the floor of bench/http.sh: what a hello-world
 * HTTP/1.1 answer costs the kernel here, with next to nothing in user space.
 *
 *   ref_uring_hello [-p PORT] [-w N]     (PORT 0, the default: a free port)
 *
 * Binds 127.0.0.1, prints "listening on 127.0.0.1:PORT", and answers every
 * request head (everything up to "\r\n\r\n") with the same 200 response as
 * examples/http_hello ("Hello, World!", text/plain, keep-alive). It is a
 * measuring instrument, not a server: no parser, no request bodies (a body
 * would be taken for the next head), no timeouts, one fixed Date. What it
 * shows is how far below nginx and eddy a server could go on this machine:
 * all its I/O goes through io_uring — a multishot accept, then a recv and a
 * send per round trip, submitted in one io_uring_enter for every
 * connection that is ready — so there is no epoll, no readiness round trip
 * and one system call per batch instead of two per request.
 *
 * -w N forks N processes after listening, each with its own ring on the
 * shared socket (nginx's worker model). SIGINT or SIGTERM stops it: every
 * connection is closed and it exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include "ref_common.h"

#define RING_ENTRIES 4096
#define IN_SIZE      8192 /* a request head must fit */
#define OUT_SIZE     (64 * 1024)

static const char answer[] = "HTTP/1.1 200 OK\r\n"
                             "Server: eddy\r\n"
                             "Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 13\r\n"
                             "\r\n"
                             "Hello, World!";
#define ANSWER_LEN (sizeof answer - 1)

enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_SIGNAL };

typedef struct conn {
    int fd;
    size_t in_len;   /* bytes in in[], the start of a head not yet complete */
    size_t out_len;  /* bytes of out[] being sent */
    size_t out_sent; /* of which the kernel took */
    char in[IN_SIZE];
    char out[OUT_SIZE];
} conn_t;

static struct io_uring ring;
static conn_t **conns; /* by fd */
static size_t max_fds;
static int listen_fd, signal_fd;
static struct signalfd_siginfo siginfo;
static bool stopping;

static uint64_t tag(enum op op, int fd)
{
    return (uint64_t)op << 32 | (uint32_t)fd;
}

/* An SQE, submitting what is queued first if the ring is full. */
static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(OP_ACCEPT, listen_fd));
}

static void arm_signal(void)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_read(sqe, signal_fd, &siginfo, sizeof siginfo, 0);
    io_uring_sqe_set_data64(sqe, tag(OP_SIGNAL, signal_fd));
}

static void arm_recv(conn_t *c)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, IN_SIZE - c->in_len, 0);
    io_uring_sqe_set_data64(sqe, tag(OP_RECV, c->fd));
}

static void arm_send(conn_t *c)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(OP_SEND, c->fd));
}

/* Close at once; a recv or send still in flight for it completes with an
 * error (or into a freed slot, which the completion ignores). */
static void conn_close(conn_t *c)
{
    conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}

static void on_accept(int res)
{
    if (res < 0) return; /* EMFILE and the like: the next accept may do */
    if ((size_t)res >= max_fds || stopping) {
        close(res);
        return;
    }
    conn_t *c = malloc(sizeof *c);
    if (!c) {
        close(res);
        return;
    }
    int one = 1;
    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = res;
    c->in_len = c->out_len = c->out_sent = 0;
    conns[res] = c;
    arm_recv(c);
}

/* Answer every complete head in in[] (as many as out[] holds), keeping the
 * unfinished rest; or read on when there is none. */
static void answer_or_read(conn_t *c)
{
    size_t pos = 0;
    c->out_len = c->out_sent = 0;
    for (;;) {
        char *end = memmem(c->in + pos, c->in_len - pos, "\r\n\r\n", 4);
        if (!end || c->out_len + ANSWER_LEN > OUT_SIZE) break;
        pos = (size_t)(end - c->in) + 4;
        memcpy(c->out + c->out_len, answer, ANSWER_LEN);
        c->out_len += ANSWER_LEN;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (c->out_len > 0)
        arm_send(c);
    else if (c->in_len == IN_SIZE)
        conn_close(c); /* a head larger than IN_SIZE */
    else
        arm_recv(c);
}

static void on_recv(conn_t *c, int res)
{
    if (res <= 0) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)res;
    answer_or_read(c);
}

static void on_send(conn_t *c, int res)
{
    if (res < 0) {
        conn_close(c);
        return;
    }
    c->out_sent += (size_t)res;
    if (c->out_sent < c->out_len)
        arm_send(c);
    else
        answer_or_read(c); /* heads that did not fit in out[] last time */
}

static void on_completion(const struct io_uring_cqe *cqe)
{
    enum op op = (enum op)(cqe->user_data >> 32);
    int fd = (int)(uint32_t)cqe->user_data;
    switch (op) {
    case OP_ACCEPT:
        on_accept(cqe->res);
        if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping) arm_accept();
        break;
    case OP_SIGNAL: stopping = true; break;
    case OP_RECV:
    case OP_SEND:
        if ((size_t)fd < max_fds && conns[fd]) {
            if (op == OP_RECV)
                on_recv(conns[fd], cqe->res);
            else
                on_send(conns[fd], cqe->res);
        }
        break;
    }
}

static int serve(int fd)
{
    listen_fd = fd;
    struct rlimit rl;
    max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (size_t)rl.rlim_cur : 1024;
    conns = calloc(max_fds, sizeof *conns);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int rc =
        conns && signal_fd >= 0 ? io_uring_queue_init_params(RING_ENTRIES, &ring, &p) : -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "uring_hello: io_uring: %s\n", strerror(-rc));
        return 1;
    }
    arm_accept();
    arm_signal();
    while (!stopping) {
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR) {
            fprintf(stderr, "uring_hello: io_uring_enter: %s\n", strerror(-rc));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            on_completion(cqe);
            n++;
        }
        io_uring_cq_advance(&ring, n);
    }
    for (size_t i = 0; i < max_fds; i++)
        if (conns[i]) conn_close(conns[i]);
    io_uring_queue_exit(&ring);
    free(conns);
    close(signal_fd);
    return 0;
}

int main(int argc, char **argv)
{
    return ref_main(argc, argv, "ref_uring_hello", serve);
}
