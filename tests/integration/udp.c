/*
 * UDP listeners: on_packet gets each datagram with the sender's address,
 * eddy_listener_sendto answers it; many datagrams, large ones, stats, and
 * a listener closed from inside on_packet.
 *
 * The eddy loop runs in its own thread; the main thread is the client with
 * plain blocking UDP sockets on 127.0.0.1 that always have a timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "test.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

typedef struct server {
    eddy_loop_t *loop;
    eddy_listener_t *l;
    pthread_t thread;
    atomic_int done;
    atomic_int packets;
    atomic_int bad_from; /* datagrams whose sender address looked wrong */
    atomic_int send_errors;
    int expect_port; /* the client's port, once known */
    bool close_on_quit;
} server_t;

/* Echo each datagram back to its sender, prefixed with the sender's address
 * as on_packet saw it ("127.0.0.1:PORT "), so the client can check it. A
 * datagram "quit" closes the listener from inside the callback. */
static void on_packet(eddy_listener_t *l, const char *data, size_t len, const eddy_addr_t *from,
                      void *ud)
{
    server_t *s = ud;
    atomic_fetch_add(&s->packets, 1);
    if (from->u.sa.sa_family != AF_INET || from->len != sizeof(struct sockaddr_in) ||
        ntohl(from->u.in.sin_addr.s_addr) != INADDR_LOOPBACK)
        atomic_fetch_add(&s->bad_from, 1);
    if (s->close_on_quit && len == 4 && memcmp(data, "quit", 4) == 0) {
        eddy_listener_close(l);
        return;
    }
    static char reply[70000];
    int n = eddy_addr_format(from, reply, 64);
    reply[n++] = ' ';
    memcpy(reply + n, data, len);
    int rc = eddy_listener_sendto(l, reply, (size_t)n + len, from);
    if (rc != 0) atomic_fetch_add(&s->send_errors, 1);
}

static void on_packet_bad_cbs(eddy_listener_t *l, const char *data, size_t len,
                              const eddy_addr_t *from, void *ud)
{
}

static void *loop_thread(void *arg)
{
    server_t *s = arg;
    CHECK_EQ(eddy_loop_run(s->loop), 0);
    atomic_store(&s->done, 1);
    return NULL;
}

static void server_start(server_t *s, bool close_on_quit)
{
    memset(s, 0, sizeof *s);
    s->close_on_quit = close_on_quit;
    CHECK_EQ(eddy_loop_new(&s->loop), 0);
    eddy_conn_callbacks_t cbs = {.on_packet = on_packet};
    CHECK_EQ(eddy_listen(s->loop, "udp://127.0.0.1:0", NULL, &cbs, s, &s->l), 0);
    CHECK(eddy_listener_port(s->l) > 0);
    CHECK(eddy_listener_fd(s->l) >= 0);
    CHECK_EQ(pthread_create(&s->thread, NULL, loop_thread, s), 0);
}

typedef struct call {
    void (*fn)(server_t *s, void *arg);
    server_t *s;
    void *arg;
    atomic_int done;
} call_t;

static void call_cb(eddy_loop_t *loop, void *ud)
{
    call_t *c = ud;
    c->fn(c->s, c->arg);
    atomic_store(&c->done, 1);
}

static void server_call(server_t *s, void (*fn)(server_t *, void *), void *arg)
{
    call_t c = {.fn = fn, .s = s, .arg = arg};
    CHECK_EQ(eddy_loop_post(s->loop, call_cb, &c), 0);
    long deadline = now_ms() + 5000;
    while (!atomic_load(&c.done)) {
        CHECK(now_ms() < deadline);
        usleep(1000);
    }
}

static void stats_fn(server_t *s, void *arg)
{
    eddy_listener_stats(s->l, arg);
}

static void close_fn(server_t *s, void *arg)
{
    eddy_listener_close(s->l);
}

static void server_join(server_t *s)
{
    long deadline = now_ms() + 3000;
    while (!atomic_load(&s->done)) {
        CHECK(now_ms() < deadline);
        usleep(1000);
    }
    pthread_join(s->thread, NULL);
    eddy_loop_free(s->loop);
}

/* A UDP socket on 127.0.0.1 connected to the server; returns its own port. */
static int client_socket(server_t *s, int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int big = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    sin.sin_port = htons((uint16_t)eddy_listener_port(s->l));
    CHECK_EQ(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void test_echo_with_sender_address(void)
{
    server_t s;
    server_start(&s, false);
    int port, port2;
    int fd = client_socket(&s, &port), fd2 = client_socket(&s, &port2);
    CHECK(port != port2);
    char want[64], buf[256];
    /* Each sender gets its own answers, and sees its own address in them. */
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(send(fd, "hello", 5, 0), 5);
        CHECK_EQ(send(fd2, "world", 5, 0), 5);
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        CHECK(n > 0);
        buf[n] = '\0';
        snprintf(want, sizeof want, "127.0.0.1:%d hello", port);
        CHECK_STR(buf, want);
        n = recv(fd2, buf, sizeof buf - 1, 0);
        CHECK(n > 0);
        buf[n] = '\0';
        snprintf(want, sizeof want, "127.0.0.1:%d world", port2);
        CHECK_STR(buf, want);
    }
    /* An empty datagram is a datagram too. */
    CHECK_EQ(send(fd, "", 0, 0), 0);
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof want, "127.0.0.1:%d ", port);
    CHECK_STR(buf, want);

    eddy_net_stats_t st;
    server_call(&s, stats_fn, &st);
    CHECK_EQ(st.packets_in, 7);
    CHECK_EQ(st.bytes_in, 6 * 5);
    CHECK(st.bytes_out > st.bytes_in);
    CHECK_EQ(st.accepted, 0);
    CHECK_EQ(st.active, 0);
    CHECK_EQ(atomic_load(&s.bad_from), 0);
    CHECK_EQ(atomic_load(&s.send_errors), 0);
    close(fd);
    close(fd2);
    server_call(&s, close_fn, NULL);
    server_join(&s);
}

static void test_many_datagrams(void)
{
    server_t s;
    server_start(&s, false);
    int port;
    int fd = client_socket(&s, &port);
    enum { TOTAL = 5000, WINDOW = 32 };
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "127.0.0.1:%d ", port);
    static char seen[TOTAL];
    memset(seen, 0, sizeof seen);
    int sent = 0, got = 0;
    uint64_t bytes = 0;
    /* A bounded window in flight: loopback does not drop what fits in the
     * socket buffers, so every datagram must come back. */
    while (got < TOTAL) {
        while (sent < TOTAL && sent - got < WINDOW) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "%d", sent);
            CHECK_EQ(send(fd, msg, (size_t)len, 0), len);
            bytes += (uint64_t)len;
            sent++;
        }
        char buf[128];
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n < 0) fprintf(stderr, "recv after %d of %d: %s\n", got, sent, strerror(errno));
        CHECK(n > plen);
        buf[n] = '\0';
        CHECK(memcmp(buf, prefix, (size_t)plen) == 0);
        int i = atoi(buf + plen);
        CHECK(i >= 0 && i < TOTAL && !seen[i]);
        seen[i] = 1;
        got++;
    }
    eddy_net_stats_t st;
    server_call(&s, stats_fn, &st);
    CHECK_EQ(st.packets_in, TOTAL);
    CHECK_EQ(st.bytes_in, bytes);
    CHECK_EQ(st.bytes_out, bytes + (uint64_t)plen * TOTAL);
    CHECK_EQ(atomic_load(&s.packets), TOTAL);
    close(fd);
    server_call(&s, close_fn, NULL);
    server_join(&s);
}

static void test_large_datagram(void)
{
    server_t s;
    server_start(&s, false);
    int port;
    int fd = client_socket(&s, &port);
    enum { SIZE = 60000 };
    static char big[SIZE], back[SIZE + 100];
    for (size_t i = 0; i < SIZE; i++)
        big[i] = (char)('a' + i % 26);
    CHECK_EQ(send(fd, big, SIZE, 0), SIZE);
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "127.0.0.1:%d ", port);
    ssize_t n = recv(fd, back, sizeof back, 0);
    CHECK_EQ(n, plen + SIZE);
    CHECK(memcmp(back + plen, big, SIZE) == 0);
    close(fd);
    server_call(&s, close_fn, NULL);
    server_join(&s);
}

static void test_close_inside_on_packet(void)
{
    server_t s;
    server_start(&s, true);
    int port;
    int fd = client_socket(&s, &port);
    /* Several in one batch: the listener is closed by the first "quit" and
     * what follows is neither read nor answered. */
    CHECK_EQ(send(fd, "quit", 4, 0), 4);
    CHECK_EQ(send(fd, "more", 4, 0), 4);
    server_join(&s); /* closing the only listener lets eddy_loop_run return */
    CHECK_EQ(atomic_load(&s.packets), 1);
    close(fd);
}

static void test_errors(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    eddy_conn_callbacks_t cbs = {.on_packet = on_packet_bad_cbs};
    eddy_listener_t *tcp, *udp;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", NULL, &cbs, NULL, &tcp), 0);
    CHECK_EQ(eddy_listen(loop, "udp://127.0.0.1:0", NULL, &cbs, NULL, &udp), 0);
    /* sendto belongs to UDP listeners. */
    CHECK_EQ(eddy_listener_sendto(tcp, "x", 1, eddy_listener_addr(udp)), -EDDY_ESTATE);
    /* Two UDP listeners do not share a port unless asked to. */
    char url[64];
    snprintf(url, sizeof url, "udp://127.0.0.1:%d", eddy_listener_port(udp));
    eddy_listener_t *again = NULL;
    CHECK_EQ(eddy_listen(loop, url, NULL, &cbs, NULL, &again), -EADDRINUSE);
    CHECK_EQ(eddy_listen(loop, "udp://localhost:0", NULL, &cbs, NULL, &again), -EDDY_EADDR);
    CHECK(again == NULL);
    eddy_listener_close(tcp);
    eddy_listener_close(udp);
    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
}

int main(void)
{
    RUN(test_errors);
    RUN(test_echo_with_sender_address);
    RUN(test_many_datagrams);
    RUN(test_large_datagram);
    RUN(test_close_inside_on_packet);
    return 0;
}
