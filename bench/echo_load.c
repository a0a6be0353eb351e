/*
 * bench/echo_load.c — closed-loop load generator for '\n' line-echo servers.
 *
 *   bench_echo_load -h 127.0.0.1 -p PORT -c CONNS -s MSG_SIZE -d SECONDS [-w WARMUP]
 *
 * Opens CONNS connections (TCP_NODELAY). Each sends one message of MSG_SIZE
 * bytes (MSG_SIZE-1 filler bytes, then '\n'), waits until the whole echo is
 * back, checks every byte, records the round-trip time and sends the next
 * (ping-pong, one message in flight per connection). The filler changes from
 * one message to the next, so an echo of a stale or wrong message is caught.
 *
 * Messages completed during the first WARMUP seconds (default 0) are not
 * counted; the measured interval is the SECONDS after that, and starts once
 * every connection is established. At the end it prints name=value lines:
 *   msgs msgs_per_sec p50_us p99_us errors  (and conns, msg_size, seconds)
 * errors counts connections lost: refused, reset, closed early or echoing
 * wrong bytes. A connection with an error is closed and not reopened.
 *
 * Single-threaded epoll; no dependency on eddy. Latencies go into a
 * log-linear histogram (1 µs resolution below 2 ms, 0.1% above).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load_common.h"

/* ---- connections ----------------------------------------------------------- */

#define NPATTERNS 61 /* a prime, so consecutive messages always differ */

enum { ST_CONNECTING, ST_SENDING, ST_RECEIVING, ST_DEAD };

typedef struct conn {
    int fd;
    int state;
    unsigned pattern;  /* which message is in flight */
    size_t sent;       /* bytes of it written */
    size_t got;        /* bytes of its echo read */
    uint64_t start_ns; /* when it was first written */
    char *rbuf;
} conn_t;

static size_t g_size;
static char *g_msgs; /* NPATTERNS messages of g_size bytes each */
static int g_epfd;
static uint64_t g_errors;
static uint64_t g_msgs_done;
static uint64_t g_measure_start_ns, g_measure_end_ns;
static int g_measuring;

static void conn_fail(conn_t *c, const char *what, int err)
{
    if (c->state == ST_DEAD) return;
    static int reported;
    if (reported++ < 5)
        fprintf(stderr, "echo_load: connection %d: %s%s%s\n", c->fd, what, err ? ": " : "",
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

/* Write what is left of the message in flight. */
static void conn_send(conn_t *c)
{
    const char *msg = g_msgs + (size_t)c->pattern * g_size;
    while (c->sent < g_size) {
        ssize_t n = send(c->fd, msg + c->sent, g_size - c->sent, MSG_NOSIGNAL);
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
    c->pattern = (c->pattern + 1) % NPATTERNS;
    c->sent = 0;
    c->got = 0;
    c->start_ns = t;
    conn_send(c);
}

static void conn_recv(conn_t *c)
{
    for (;;) {
        /* Read at most the rest of this echo: any byte past it belongs to no
         * message we sent and shows up as a mismatch next round. */
        ssize_t n = recv(c->fd, c->rbuf + c->got, g_size - c->got, 0);
        if (n > 0) {
            if (c->sent < c->got + (size_t)n) {
                conn_fail(c, "echo arrived before the message was sent", 0);
                return;
            }
            c->got += (size_t)n;
            if (c->got < g_size) continue;
            if (memcmp(c->rbuf, g_msgs + (size_t)c->pattern * g_size, g_size) != 0) {
                conn_fail(c, "echo differs from the message sent", 0);
                return;
            }
            uint64_t t = now_ns();
            if (g_measuring) {
                g_hist[hist_index((t - c->start_ns + 500) / 1000)]++;
                g_msgs_done++;
            }
            conn_start(c, t);
            return; /* one message per wakeup keeps connections fair */
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
        c->state = ST_RECEIVING; /* no message yet: conn_start sends one */
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
    fprintf(stderr, "usage: bench_echo_load -h HOST -p PORT -c CONNS -s MSG_SIZE -d SECONDS "
                    "[-w WARMUP_SECONDS] [-r (lines end in \\r\\n)]\n");
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
    bool crlf = false;
    g_size = 64;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:s:d:w:r")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = (int)parse_num(optarg, 1, 65535); break;
        case 'c': nconns = (int)parse_num(optarg, 1, 100000); break;
        case 's': g_size = (size_t)parse_num(optarg, 1, 64 * 1024 * 1024); break;
        case 'd': seconds = parse_num(optarg, 0.001, 86400); break;
        case 'w': warmup = parse_num(optarg, 0, 86400); break;
        case 'r': crlf = true; break;
        default: usage();
        }
    }
    if (optind != argc || port == 0) usage();

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_load: -h takes an IPv4 address, not '%s'\n", host);
        return 2;
    }

    g_msgs = malloc((size_t)NPATTERNS * g_size);
    conn_t *conns = calloc((size_t)nconns, sizeof(*conns));
    char *rbufs = malloc((size_t)nconns * g_size);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_msgs == NULL || conns == NULL || rbufs == NULL || g_epfd < 0) {
        fprintf(stderr, "echo_load: out of memory\n");
        return 1;
    }
    for (size_t p = 0; p < NPATTERNS; p++) {
        char *m = g_msgs + p * g_size;
        for (size_t i = 0; i + 1 < g_size; i++)
            m[i] = (char)('!' + (p + i) % 94); /* printable, never '\n' */
        m[g_size - 1] = '\n';
        if (crlf && g_size >= 2) m[g_size - 2] = '\r'; /* -r: lines end in "\r\n" */
    }

    int live = 0;
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        c->rbuf = rbufs + (size_t)i * g_size;
        c->pattern = (unsigned)i % NPATTERNS;
        c->state = ST_CONNECTING;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "echo_load: socket: %s\n", strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
            fprintf(stderr, "echo_load: connect: %s\n", strerror(errno));
            g_errors++;
            close(c->fd);
            c->state = ST_DEAD;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
        if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            fprintf(stderr, "echo_load: epoll_ctl: %s\n", strerror(errno));
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
            fprintf(stderr, "echo_load: epoll_wait: %s\n", strerror(errno));
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
            fprintf(stderr, "echo_load: epoll_wait: %s\n", strerror(errno));
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
    printf("msg_size=%zu\n", g_size);
    printf("seconds=%.3f\n", secs);
    printf("msgs=%llu\n", (unsigned long long)g_msgs_done);
    printf("msgs_per_sec=%.0f\n", secs > 0 ? (double)g_msgs_done / secs : 0.0);
    printf("p50_us=%.0f\n", hist_percentile(g_msgs_done, 5000));
    printf("p99_us=%.0f\n", hist_percentile(g_msgs_done, 9900));
    printf("errors=%llu\n", (unsigned long long)g_errors);
    free(evs);
    free(rbufs);
    free(conns);
    free(g_msgs);
    return 0;
}
