/*
 * What the load generators under bench/ share: a latency histogram (1 us
 * resolution, 1024 linear buckets per power of two up to 2^40 us), the
 * monotonic clock in nanoseconds, their command-line numbers, and the
 * closed-loop driver — connect every connection, then for WARMUP and
 * SECONDS write a request, wait for its whole answer, record the round
 * trip, write the next — on one epoll loop. A generator says what a request
 * is and how to read its answer (load_ops_t). Header-only: each bench
 * program is one source file.
 */
#ifndef EDDY_BENCH_LOAD_COMMON_H
#define EDDY_BENCH_LOAD_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define HIST_SUB_BITS 10 /* 1024 linear buckets per power of two */
#define HIST_MAX_US   ((uint64_t)1 << 40)
#define HIST_BUCKETS  ((size_t)(40 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

static uint64_t g_hist[HIST_BUCKETS];

static inline size_t hist_index(uint64_t v)
{
    if (v >= HIST_MAX_US) v = HIST_MAX_US - 1;
    if (v < ((uint64_t)2 << HIST_SUB_BITS)) return (size_t)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return ((size_t)shift << HIST_SUB_BITS) + (size_t)(v >> shift);
}

/* The midpoint of the values bucket i holds. */
static inline double hist_value(size_t i)
{
    if (i < ((size_t)2 << HIST_SUB_BITS)) return (double)i;
    size_t shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t mantissa = (i & (((size_t)1 << HIST_SUB_BITS) - 1)) | ((size_t)1 << HIST_SUB_BITS);
    uint64_t lo = mantissa << shift;
    return (double)lo + (double)(((uint64_t)1 << shift) - 1) / 2.0;
}

/* The value at or below which pct_x100 / 100 percent of the samples lie. */
static inline double hist_percentile(uint64_t total, uint64_t pct_x100)
{
    if (total == 0) return 0;
    uint64_t rank = (total * pct_x100 + 9999) / 10000;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += g_hist[i];
        if (seen >= rank) return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the driver ------------------------------------------------------------ */

enum { ST_CONNECTING, ST_SENDING, ST_RECEIVING, ST_DEAD };

/* What the driver keeps of a connection; a generator's own conn_t begins
 * with it. */
typedef struct load_conn {
    int fd;
    int state;
    size_t sent;       /* bytes of the request in flight written */
    size_t got;        /* bytes of its answer in rbuf */
    uint64_t start_ns; /* when the request was first written */
    char *rbuf;        /* the generator's: set before load_run */
} load_conn_t;

typedef struct load_ops {
    const char *name; /* for messages: "echo_load" */
    /* A new request on c: reset the generator's own fields. */
    void (*start)(load_conn_t *c);
    /* The bytes of c's request in flight. */
    const char *(*request)(const load_conn_t *c, size_t *len);
    /* c is readable: read (load_recv), check, and load_answered once the
     * whole answer is in. */
    void (*readable)(load_conn_t *c);
} load_ops_t;

static const load_ops_t *g_ops;
static int g_epfd;
static uint64_t g_errors;  /* connections lost */
static uint64_t g_samples; /* round trips measured */
static uint64_t g_measure_start_ns, g_measure_end_ns;
static int g_measuring;

static void load_fail(load_conn_t *c, const char *what, int err)
{
    if (c->state == ST_DEAD) return;
    static int reported;
    if (reported++ < 5)
        fprintf(stderr, "%s: connection %d: %s%s%s\n", g_ops->name, c->fd, what, err ? ": " : "",
                err ? strerror(err) : "");
    g_errors++;
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
}

static void load_want(load_conn_t *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) load_fail(c, "epoll_ctl", errno);
}

/* Write what is left of the request in flight. */
static void load_send(load_conn_t *c)
{
    size_t len;
    const char *req = g_ops->request(c, &len);
    while (c->sent < len) {
        ssize_t n = send(c->fd, req + c->sent, len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (c->state != ST_SENDING) {
                c->state = ST_SENDING;
                load_want(c, EPOLLIN | EPOLLOUT);
            }
            return;
        } else {
            load_fail(c, "send", errno);
            return;
        }
    }
    if (c->state == ST_SENDING) load_want(c, EPOLLIN);
    c->state = ST_RECEIVING;
}

static void load_start(load_conn_t *c, uint64_t t)
{
    c->sent = 0;
    c->got = 0;
    c->start_ns = t;
    g_ops->start(c);
    load_send(c);
}

/* The whole answer is in: count the round trip, write the next request. */
static void load_answered(load_conn_t *c)
{
    uint64_t t = now_ns();
    if (g_measuring) {
        g_hist[hist_index((t - c->start_ns + 500) / 1000)]++;
        g_samples++;
    }
    load_start(c, t);
}

/* Read up to max bytes after rbuf[got]: how many, or 0 when there is
 * nothing now or the connection failed (closed, reset). */
static size_t load_recv(load_conn_t *c, size_t max)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->got, max, 0);
        if (n > 0) return (size_t)n;
        if (n == 0) {
            load_fail(c, "closed by server", 0);
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) load_fail(c, "recv", errno);
        return 0;
    }
}

static void load_event(load_conn_t *c, uint32_t events, uint64_t t)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
            load_fail(c, "connect", err);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        c->state = ST_RECEIVING; /* no request yet: load_start writes one */
        load_want(c, EPOLLIN);
        if (c->state != ST_DEAD) load_start(c, t);
        return;
    }
    if ((events & EPOLLOUT) && c->state == ST_SENDING) load_send(c);
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->state != ST_DEAD) g_ops->readable(c);
}

/* Start a non-blocking connect on c. 1 under way, 0 refused at once (an
 * error counted), -1 fatal (printed). */
static int load_connect(load_conn_t *c, const struct sockaddr_in *addr)
{
    c->state = ST_CONNECTING;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", g_ops->name, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "%s: connect: %s\n", g_ops->name, strerror(errno));
        g_errors++;
        close(c->fd);
        c->state = ST_DEAD;
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fprintf(stderr, "%s: epoll_ctl: %s\n", g_ops->name, strerror(errno));
        return -1;
    }
    return 1;
}

/* epoll_wait, retried on EINTR; -1 (printed) on any other error. */
static int load_wait(struct epoll_event *evs, int maxev, int timeout_ms)
{
    for (;;) {
        int n = epoll_wait(g_epfd, evs, maxev, timeout_ms);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        fprintf(stderr, "%s: epoll_wait: %s\n", g_ops->name, strerror(errno));
        return -1;
    }
}

/* Connect everyone first (bounded: 10 s), then run WARMUP seconds unmeasured
 * and SECONDS measured. conn i is at conns + i * stride, its rbuf set.
 * Closes everything at the end. 0, or 1 after a fatal error (printed). */
static int load_run(const load_ops_t *ops, char *conns, size_t stride, int nconns,
                    const struct sockaddr_in *addr, double warmup, double seconds)
{
    g_ops = ops;
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    int maxev = nconns > 1024 ? 1024 : nconns > 0 ? nconns : 1;
    struct epoll_event *evs = calloc((size_t)maxev, sizeof(*evs));
    if (g_epfd < 0 || evs == NULL) {
        fprintf(stderr, "%s: out of memory\n", ops->name);
        return 1;
    }
#define LOAD_CONN_(i) ((load_conn_t *)(conns + (size_t)(i)*stride))
    int connecting = 0;
    for (int i = 0; i < nconns; i++) {
        int rc = load_connect(LOAD_CONN_(i), addr);
        if (rc < 0) return 1;
        connecting += rc;
    }
    uint64_t t0 = now_ns();
    while (connecting > 0 && now_ns() - t0 < 10000000000u) {
        int n = load_wait(evs, maxev, 100);
        if (n < 0) return 1;
        uint64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            load_conn_t *c = evs[i].data.ptr;
            int was_connecting = c->state == ST_CONNECTING;
            load_event(c, evs[i].events, t);
            if (was_connecting && c->state != ST_CONNECTING) connecting--;
        }
    }
    for (int i = 0; i < nconns; i++)
        if (LOAD_CONN_(i)->state == ST_CONNECTING) load_fail(LOAD_CONN_(i), "connect timed out", 0);

    g_measure_start_ns = now_ns() + (uint64_t)(warmup * 1e9);
    g_measure_end_ns = g_measure_start_ns + (uint64_t)(seconds * 1e9);
    g_measuring = warmup <= 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!g_measuring && t >= g_measure_start_ns) {
            g_measuring = 1;
            g_measure_start_ns = t;
            g_measure_end_ns = t + (uint64_t)(seconds * 1e9);
        }
        if (t >= g_measure_end_ns) {
            g_measure_end_ns = t;
            break;
        }
        uint64_t until = g_measuring ? g_measure_end_ns : g_measure_start_ns;
        int n = load_wait(evs, maxev, (int)((until - t + 999999) / 1000000));
        if (n < 0) return 1;
        t = now_ns();
        for (int i = 0; i < n; i++)
            load_event(evs[i].data.ptr, evs[i].events, t);
    }
    for (int i = 0; i < nconns; i++)
        if (LOAD_CONN_(i)->state != ST_DEAD) close(LOAD_CONN_(i)->fd);
#undef LOAD_CONN_
    close(g_epfd);
    free(evs);
    return 0;
}

/* The seconds measured, once load_run has returned. */
static double load_seconds(void)
{
    return (double)(g_measure_end_ns - g_measure_start_ns) / 1e9;
}

/* ---- command lines --------------------------------------------------------- */

/* A number in [lo, hi], or usage() (which exits). */
static double load_number(const char *s, double lo, double hi, void (*usage)(void))
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) usage();
    return v;
}

#endif
