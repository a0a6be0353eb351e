/*
 * bench/http_load.c — closed-loop HTTP/1.1 load generator with pipelining,
 * for the pipelined rows of bench/http.sh, where wrk's latency figures are
 * wrong (wrk corrects for coordinated omission with an interval computed per
 * response, not per pipelined batch, and then skips the corrected samples
 * below its minimum: the percentiles come out too high, or as 0).
 *
 *   bench_http_load -h 127.0.0.1 -p PORT -c CONNS -D DEPTH -d SECONDS [-w WARMUP]
 *
 * Opens CONNS connections (TCP_NODELAY). Each writes DEPTH "GET /"
 * requests at once, reads the DEPTH responses (each must be "HTTP/1.1 200"
 * with a Content-Length and no "Connection: close"), records the batch's
 * round trip — from the write to the last byte of the last response — and
 * writes the next batch. Responses completed during the first WARMUP seconds
 * (default 0) are not counted; the measured interval is the SECONDS after
 * that, and starts once every connection is established. At the end it
 * prints name=value lines:
 *   requests requests_per_sec p50_us p99_us errors  (and conns, depth, seconds)
 * where the latencies are those of whole batches. errors counts connections
 * lost: refused, reset, closed early or answering something else. A
 * connection with an error is closed and not reopened.
 *
 * Single-threaded epoll; no dependency on eddy. Latencies go into a
 * log-linear histogram (1 µs resolution below 2 ms, 0.1% above).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load_common.h"

/* ---- connections ----------------------------------------------------------- */

#define RBUF_SIZE 65536

enum { ST_CONNECTING, ST_SENDING, ST_RECEIVING, ST_DEAD };

typedef struct conn {
    int fd;
    int state;
    size_t sent;       /* bytes of the batch written */
    unsigned pending;  /* responses of the batch still to come */
    uint64_t start_ns; /* when the batch was first written */
    size_t got;        /* bytes in rbuf */
    char *rbuf;
} conn_t;

static char *g_batch; /* DEPTH requests */
static size_t g_batch_len;
static unsigned g_depth;
static int g_epfd;
static uint64_t g_errors;
static uint64_t g_requests_done, g_batches_done;
static uint64_t g_measure_start_ns, g_measure_end_ns;
static int g_measuring;

static void conn_fail(conn_t *c, const char *what, int err)
{
    if (c->state == ST_DEAD) return;
    static int reported;
    if (reported++ < 5)
        fprintf(stderr, "http_load: connection %d: %s%s%s\n", c->fd, what, err ? ": " : "",
                err ? strerror(err) : "");
    g_errors++;
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
}

static void want(conn_t *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) conn_fail(c, "epoll_ctl", errno);
}

/* Write what is left of the batch in flight. */
static void conn_send(conn_t *c)
{
    while (c->sent < g_batch_len) {
        ssize_t n = send(c->fd, g_batch + c->sent, g_batch_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (c->state != ST_SENDING) {
                c->state = ST_SENDING;
                want(c, EPOLLIN | EPOLLOUT);
            }
            return;
        } else {
            conn_fail(c, "send", errno);
            return;
        }
    }
    if (c->state == ST_SENDING) want(c, EPOLLIN);
    c->state = ST_RECEIVING;
}

static void conn_start(conn_t *c, uint64_t t)
{
    c->sent = 0;
    c->pending = g_depth;
    c->start_ns = t;
    conn_send(c);
}

/* The length of the whole response at the start of buf, 0 if it is not all
 * there yet, -1 if it is not a keep-alive "200" with a Content-Length. */
static long response_length(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len >= RBUF_SIZE / 2 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
    long body = -1;
    for (const char *h = memchr(buf, '\n', (size_t)(end - buf)); h && h < end;
         h = memchr(h + 1, '\n', (size_t)(end - h))) {
        const char *name = h + 1;
        size_t left = (size_t)(end + 2 - name);
        if (left > 15 && strncasecmp(name, "Content-Length:", 15) == 0)
            body = strtol(name + 15, NULL, 10);
        if (left > 11 && strncasecmp(name, "Connection:", 11) == 0) {
            const char *eol = memchr(name, '\r', left);
            if (eol && memmem(name + 11, (size_t)(eol - name - 11), "close", 5)) return -1;
        }
    }
    if (body < 0) return -1;
    size_t total = (size_t)(end + 4 - buf) + (size_t)body;
    return total <= len ? (long)total : 0;
}

static void conn_recv(conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->got, RBUF_SIZE - c->got, 0);
        if (n > 0) {
            c->got += (size_t)n;
            size_t off = 0;
            long r;
            while ((r = response_length(c->rbuf + off, c->got - off)) > 0) {
                if (c->pending == 0) {
                    conn_fail(c, "a response nobody asked for", 0);
                    return;
                }
                off += (size_t)r;
                c->pending--;
                if (g_measuring) g_requests_done++;
            }
            if (r < 0) {
                conn_fail(c, "not a keep-alive 200 response with a Content-Length", 0);
                return;
            }
            memmove(c->rbuf, c->rbuf + off, c->got - off);
            c->got -= off;
            if (c->pending > 0) continue;
            if (c->got > 0) {
                conn_fail(c, "bytes after the last response of the batch", 0);
                return;
            }
            uint64_t t = now_ns();
            if (g_measuring) {
                g_hist[hist_index((t - c->start_ns + 500) / 1000)]++;
                g_batches_done++;
            }
            conn_start(c, t);
            return; /* one batch per wakeup keeps connections fair */
        } else if (n == 0) {
            conn_fail(c, "closed by server", 0);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            return;
        } else {
            conn_fail(c, "recv", errno);
            return;
        }
    }
}

static void conn_event(conn_t *c, uint32_t events, uint64_t t)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
            conn_fail(c, "connect", err);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        c->state = ST_RECEIVING; /* no batch yet: conn_start sends one */
        want(c, EPOLLIN);
        if (c->state != ST_DEAD) conn_start(c, t);
        return;
    }
    if ((events & EPOLLOUT) && c->state == ST_SENDING) conn_send(c);
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->state != ST_DEAD) conn_recv(c);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_http_load -h HOST -p PORT -c CONNS -D DEPTH -d SECONDS "
                    "[-w WARMUP_SECONDS]\n");
    exit(2);
}

static double parse_num(const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) usage();
    return v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    int nconns = 1;
    double seconds = 5, warmup = 0;
    g_depth = 1;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:D:d:w:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = (int)parse_num(optarg, 1, 65535); break;
        case 'c': nconns = (int)parse_num(optarg, 1, 100000); break;
        case 'D': g_depth = (unsigned)parse_num(optarg, 1, 256); break;
        case 'd': seconds = parse_num(optarg, 0.001, 86400); break;
        case 'w': warmup = parse_num(optarg, 0, 86400); break;
        default: usage();
        }
    }
    if (optind != argc || port == 0) usage();

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "http_load: -h takes an IPv4 address, not '%s'\n", host);
        return 2;
    }

    char req[256];
    int reqlen = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host, port);
    g_batch_len = (size_t)reqlen * g_depth;
    g_batch = malloc(g_batch_len);
    conn_t *conns = calloc((size_t)nconns, sizeof(*conns));
    char *rbufs = malloc((size_t)nconns * RBUF_SIZE);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_batch == NULL || conns == NULL || rbufs == NULL || g_epfd < 0) {
        fprintf(stderr, "http_load: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < g_depth; i++)
        memcpy(g_batch + (size_t)i * (size_t)reqlen, req, (size_t)reqlen);

    int live = 0;
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        c->rbuf = rbufs + (size_t)i * RBUF_SIZE;
        c->state = ST_CONNECTING;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "http_load: socket: %s\n", strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
            fprintf(stderr, "http_load: connect: %s\n", strerror(errno));
            g_errors++;
            close(c->fd);
            c->state = ST_DEAD;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
        if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            fprintf(stderr, "http_load: epoll_ctl: %s\n", strerror(errno));
            return 1;
        }
        live++;
    }

    int maxev = nconns > 1024 ? 1024 : nconns > 0 ? nconns : 1;
    struct epoll_event *evs = calloc((size_t)maxev, sizeof(*evs));
    if (evs == NULL) return 1;

    /* Connect everyone first (bounded: 10 s), then start the clock. */
    uint64_t t0 = now_ns();
    int connecting = live;
    while (connecting > 0 && now_ns() - t0 < 10000000000u) {
        int n = epoll_wait(g_epfd, evs, maxev, 100);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "http_load: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        uint64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            int was_connecting = c->state == ST_CONNECTING;
            conn_event(c, evs[i].events, t);
            if (was_connecting && c->state != ST_CONNECTING) connecting--;
        }
    }
    for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_CONNECTING) conn_fail(&conns[i], "connect timed out", 0);

    uint64_t start = now_ns();
    g_measure_start_ns = start + (uint64_t)(warmup * 1e9);
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
        int timeout = (int)((until - t + 999999) / 1000000);
        int n = epoll_wait(g_epfd, evs, maxev, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "http_load: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        t = now_ns();
        for (int i = 0; i < n; i++)
            conn_event(evs[i].data.ptr, evs[i].events, t);
    }

    for (int i = 0; i < nconns; i++)
        if (conns[i].state != ST_DEAD) close(conns[i].fd);
    close(g_epfd);

    double secs = (double)(g_measure_end_ns - g_measure_start_ns) / 1e9;
    printf("conns=%d\n", nconns);
    printf("depth=%u\n", g_depth);
    printf("seconds=%.3f\n", secs);
    printf("requests=%llu\n", (unsigned long long)g_requests_done);
    printf("requests_per_sec=%.0f\n", secs > 0 ? (double)g_requests_done / secs : 0.0);
    printf("p50_us=%.0f\n", hist_percentile(g_batches_done, 5000));
    printf("p99_us=%.0f\n", hist_percentile(g_batches_done, 9900));
    printf("errors=%llu\n", (unsigned long long)g_errors);
    free(evs);
    free(rbufs);
    free(conns);
    free(g_batch);
    return 0;
}
