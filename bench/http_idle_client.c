/*
 * bench/http_idle_client.c — holds many idle HTTP/1.1 keep-alive connections.
 *
 *   bench_http_idle_client -h 127.0.0.1 -p PORT -n CONNS [-a IN_FLIGHT] [-t HOLD_SECONDS]
 *
 * Opens CONNS connections (at most IN_FLIGHT, default 256, connecting or
 * waiting for their answer at once, so the server's accept backlog never
 * overflows). Each sends one "GET / HTTP/1.1" request and reads the whole
 * response (status line, headers, Content-Length bytes of body), then stays
 * open and idle. Once every connection is idle — or has failed — it prints
 *   ready conns=N ok=N failed=N
 * on stdout (flushed), then holds the connections, counting any the server
 * closes, until SIGTERM or SIGINT, or HOLD_SECONDS (default 300) have passed,
 * and prints
 *   done ok=N failed=N closed_by_server=N
 * A response that is not "HTTP/1.1 200" or that asks to close counts as failed.
 *
 * It raises its own soft descriptor limit to the hard one. Single-threaded
 * epoll; no dependency on eddy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_FREE, ST_CONNECTING, ST_READING, ST_IDLE, ST_DEAD };

#define RBUF 1024

typedef struct {
    int fd;
    int state;
    size_t got;
    char buf[RBUF];
} conn_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s -h HOST -p PORT -n CONNS [-a IN_FLIGHT] [-t HOLD_SECONDS]\n", prog);
    return 2;
}

/* 1: a whole response is in c->buf, 0: more is needed, -1: not a keep-alive 200. */
static int response_complete(conn_t *c)
{
    char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end) return c->got >= RBUF - 1 ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    c->buf[c->got] = '\0';
    if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) return -1;
    long length = -1;
    bool close = false;
    for (char *line = strstr(c->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0) length = strtol(h + 15, NULL, 10);
        if (strncasecmp(h, "Connection:", 11) == 0 && strstr(h, "close") &&
            strstr(h, "close") < strstr(h, "\r\n"))
            close = true;
    }
    if (length < 0 || close) return -1;
    return c->got >= head + (size_t)length ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, nconns = 0, in_flight_max = 256;
    double hold = 300;
    for (int opt; (opt = getopt(argc, argv, "h:p:n:a:t:")) != -1;) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': nconns = atoi(optarg); break;
        case 'a': in_flight_max = atoi(optarg); break;
        case 't': hold = atof(optarg); break;
        default: return usage(argv[0]);
        }
    }
    if (port <= 0 || port > 65535 || nconns <= 0 || in_flight_max <= 0) return usage(argv[0]);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)nconns + 16 > rl.rlim_cur) {
        fprintf(stderr,
                "http_idle_client: %d connections need more than the %llu descriptors allowed\n",
                nconns, (unsigned long long)rl.rlim_cur);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "http_idle_client: bad IPv4 address %s\n", host);
        return 2;
    }
    char req[256];
    int reqlen =
        snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: eddy-idle\r\n\r\n",
                 host, port);

    conn_t *conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0) {
        perror("http_idle_client: setup");
        return 1;
    }
    int next = 0, in_flight = 0, ok = 0, failed = 0, closed = 0;
    struct epoll_event evs[256];
    bool ready = false;
    double deadline = 0;

    while (!g_stop) {
        while (next < nconns && in_flight < in_flight_max) {
            conn_t *c = &conns[next];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) {
                perror("http_idle_client: socket");
                return 1;
            }
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
                c->state = ST_DEAD;
                close(c->fd);
                failed++;
                next++;
                continue;
            }
            c->state = ST_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP,
                                     .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            in_flight++;
            next++;
        }
        if (!ready && next == nconns && in_flight == 0) {
            ready = true;
            printf("ready conns=%d ok=%d failed=%d\n", nconns, ok, failed);
            fflush(stdout);
            deadline = now_s() + hold;
        }
        if (ready && now_s() >= deadline) break;
        int n = epoll_wait(ep, evs, 256, 200);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("http_idle_client: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = &conns[evs[i].data.u32];
            uint32_t e = evs[i].events;
            if (c->state == ST_CONNECTING && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err || send(c->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
                    c->state = ST_DEAD;
                } else {
                    c->state = ST_READING;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data = evs[i].data};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    continue;
                }
            } else if (c->state == ST_READING) {
                ssize_t r = recv(c->fd, c->buf + c->got, RBUF - 1 - c->got, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                if (r > 0) {
                    c->got += (size_t)r;
                    int rc = response_complete(c);
                    if (rc == 0) continue;
                    if (rc == 1) {
                        c->state = ST_IDLE;
                        ok++;
                        in_flight--;
                        continue;
                    }
                }
                c->state = ST_DEAD;
            } else if (c->state == ST_IDLE) {
                char b[256];
                ssize_t r = recv(c->fd, b, sizeof b, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                /* EOF, an error, or bytes nobody asked for: the server is done with it */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->state = ST_FREE;
                closed++;
                continue;
            } else {
                continue;
            }
            /* a connection that failed before it was idle */
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            failed++;
            in_flight--;
        }
    }
    printf("done ok=%d failed=%d closed_by_server=%d\n", ok, failed, closed);
    fflush(stdout);
    return 0;
}
