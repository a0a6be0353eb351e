/*
 * eddy_connect: to an eddy listener on the same loop by numeric address,
 * by "localhost" (resolved on the thread pool) and over a Unix socket;
 * data sent before the connection is up is delivered, and so is data
 * queued before an eddy_close that came before the connection; refused
 * connections, connect timeouts, bad URLs, and eddy_reset while the name
 * is being resolved.
 *
 * Everything runs on one loop in the main thread. Only 127.0.0.1 and
 * "localhost" (answered by /etc/hosts) are ever used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* ---- one side of a connection: what it saw --------------------------------- */

typedef struct side {
    int connects, closes;
    eddy_close_reason_t reason;
    int err;
    char got[65536];
    size_t got_len;
    long closed_at;
    const char *close_when; /* eddy_close once this much has arrived */
    bool echo;
    eddy_conn_t *conn;
    int events; /* order check: 1 = connect seen before any data */
    bool data_before_connect;
} side_t;

static void side_connect(eddy_conn_t *c, void *ud)
{
    side_t *s = ud;
    s->connects++;
    s->conn = c;
}

static void side_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    side_t *s = ud;
    if (s->connects == 0) s->data_before_connect = true;
    CHECK(s->got_len + len <= sizeof s->got);
    memcpy(s->got + s->got_len, data, len);
    s->got_len += len;
    if (s->echo) CHECK_EQ(eddy_send(c, data, len), 0);
    if (s->close_when && s->got_len == strlen(s->close_when) &&
        memcmp(s->got, s->close_when, s->got_len) == 0)
        CHECK_EQ(eddy_close(c), 0);
}

static void side_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    side_t *s = ud;
    s->closes++;
    s->reason = reason;
    s->err = err;
    s->closed_at = now_ms();
}

static const eddy_conn_callbacks_t side_cbs = {
    .on_connect = side_connect, .on_receive = side_receive, .on_close = side_close};

/* Run the loop until *flag is set (or fail after ms). */
static void run_until(eddy_loop_t *loop, const int *flag, long ms)
{
    long deadline = now_ms() + ms;
    while (!*flag) {
        if (now_ms() > deadline) {
            fprintf(stderr, "run_until: nothing happened within %ld ms\n", ms);
            exit(1);
        }
        CHECK(eddy_loop_run_once(loop, 20) >= 0);
    }
}

/* Everything is closed: eddy_loop_run must return on its own. */
static void finish_loop(eddy_loop_t *loop)
{
    long t0 = now_ms();
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(now_ms() - t0 < 3000);
    eddy_loop_free(loop);
}

static eddy_port_options_t server_options(void)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    o.linger_timeout = 1000;
    return o;
}

/* ---- tests ------------------------------------------------------------------- */

/* Send before the connection is up, get the echo, close: both sides see a
 * clean end. */
static void echo_once(const char *host)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t server = {.echo = true}, client = {.close_when = "hello\n"};
    eddy_port_options_t so = server_options();
    eddy_listener_t *l;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", &so, &side_cbs, &server, &l), 0);
    char url[128];
    snprintf(url, sizeof url, "tcp://%s:%d", host, eddy_listener_port(l));
    eddy_conn_t *c = NULL;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    CHECK(c != NULL);
    CHECK(!eddy_conn_closing(c));
    CHECK(eddy_conn_listener(c) == NULL);
    CHECK_EQ(eddy_send(c, "hello\n", 6), 0); /* queued until connected */
    CHECK_EQ(eddy_conn_queued(c), 6);
    CHECK_EQ(client.connects, 0); /* callbacks never run inside eddy_connect */
    run_until(loop, &client.closes, 3000);
    CHECK_EQ(client.connects, 1);
    CHECK(!client.data_before_connect);
    CHECK_EQ(client.got_len, 6);
    CHECK(memcmp(client.got, "hello\n", 6) == 0);
    CHECK_EQ(client.reason, EDDY_CLOSE_GRACEFUL);
    CHECK_EQ(client.err, 0);
    run_until(loop, &server.closes, 3000);
    CHECK_EQ(server.reason, EDDY_CLOSE_PEER);
    CHECK_EQ(server.got_len, 6);
    eddy_listener_close(l);
    finish_loop(loop);
}

static void test_numeric(void)
{
    echo_once("127.0.0.1");
}

static void test_localhost(void)
{
    echo_once("localhost"); /* resolved on the thread pool, from /etc/hosts */
}

static void test_peer_address(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t server = {0}, client = {0};
    eddy_port_options_t so = server_options();
    eddy_listener_t *l;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", &so, &side_cbs, &server, &l), 0);
    char url[64];
    snprintf(url, sizeof url, "tcp://localhost:%d", eddy_listener_port(l));
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    run_until(loop, &client.connects, 3000);
    char name[64], want[64];
    eddy_addr_format(eddy_conn_peer(c), name, sizeof name);
    snprintf(want, sizeof want, "127.0.0.1:%d", eddy_listener_port(l));
    CHECK_STR(name, want);
    eddy_conn_info_t info;
    eddy_conn_info(c, &info);
    CHECK(info.fd >= 0);
    CHECK_EQ(info.local.u.sa.sa_family, AF_INET);
    CHECK_EQ(eddy_close(c), 0);
    CHECK_EQ(eddy_close(c), -EDDY_ECLOSING);
    run_until(loop, &client.closes, 3000);
    run_until(loop, &server.closes, 3000);
    eddy_listener_close(l);
    finish_loop(loop);
}

/* eddy_close right after eddy_connect: the queued data still goes out,
 * then FIN. */
static void close_before_connect(const char *host)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t server = {0}, client = {0};
    eddy_port_options_t so = server_options();
    eddy_listener_t *l;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", &so, &side_cbs, &server, &l), 0);
    char url[128];
    snprintf(url, sizeof url, "tcp://%s:%d", host, eddy_listener_port(l));
    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('A' + i % 23);
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    CHECK_EQ(eddy_send(c, "first;", 6), 0);
    CHECK_EQ(eddy_send(c, big, sizeof big), 0);
    CHECK_EQ(eddy_close(c), 0);
    CHECK(eddy_conn_closing(c));
    CHECK_EQ(eddy_send(c, "late", 4), -EDDY_ECLOSING);
    CHECK_EQ(eddy_close(c), -EDDY_ECLOSING);
    run_until(loop, &server.closes, 3000);
    CHECK_EQ(server.connects, 1);
    CHECK_EQ(server.reason, EDDY_CLOSE_PEER);
    CHECK_EQ(server.got_len, 6 + sizeof big);
    CHECK(memcmp(server.got, "first;", 6) == 0);
    CHECK(memcmp(server.got + 6, big, sizeof big) == 0);
    run_until(loop, &client.closes, 3000);
    CHECK_EQ(client.connects, 1);
    CHECK_EQ(client.reason, EDDY_CLOSE_GRACEFUL);
    CHECK_EQ(client.err, 0);
    eddy_listener_close(l);
    finish_loop(loop);
}

static void test_close_before_connect(void)
{
    close_before_connect("127.0.0.1");
}

static void test_close_during_resolution(void)
{
    close_before_connect("localhost");
}

/* A port nobody listens on: bound, never listening, so it stays ours. */
static int reserve_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(*fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CHECK_EQ(bind(*fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    CHECK_EQ(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static void expect_failure(eddy_loop_t *loop, const char *url, int want_err)
{
    side_t client = {0};
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    /* A failure the kernel reports at once (a Unix path, sometimes loopback
     * TCP) has already ended the connection: sending then says so. */
    int rc = eddy_send(c, "lost", 4);
    CHECK(rc == 0 || rc == -EDDY_ECLOSING);
    CHECK_EQ(client.closes, 0); /* on_close comes from the loop */
    run_until(loop, &client.closes, 3000);
    if (client.err != want_err)
        fprintf(stderr, "%s: %s, expected %s\n", url, eddy_err_name(client.err),
                eddy_err_name(want_err));
    CHECK_EQ(client.connects, 0);
    CHECK_EQ(client.reason, EDDY_CLOSE_ERROR);
    CHECK_EQ(client.err, want_err);
    for (int i = 0; i < 5; i++) /* exactly once */
        eddy_loop_run_once(loop, 0);
    CHECK_EQ(client.closes, 1);
}

static void test_refused(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    int hold;
    int port = reserve_port(&hold);
    char url[128];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    expect_failure(loop, url, -ECONNREFUSED);
    snprintf(url, sizeof url, "tcp://localhost:%d", port);
    expect_failure(loop, url, -ECONNREFUSED);
    close(hold);

    /* Unix: no file, and a file nobody listens on. */
    char path[108];
    snprintf(path, sizeof path, "/tmp/eddy-client-%d.sock", (int)getpid());
    unlink(path);
    snprintf(url, sizeof url, "unix://%s", path);
    expect_failure(loop, url, -ENOENT);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    close(fd);
    expect_failure(loop, url, -ECONNREFUSED);
    unlink(path);
    finish_loop(loop);
}

/* A listening socket with backlog 0 whose queue is full: the kernel drops
 * further SYNs, so connects hang until our timeout. */
static int full_listener(int *port, int *held, int *nheld, int max)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CHECK_EQ(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
    CHECK_EQ(listen(l, 0), 0);
    socklen_t len = sizeof sin;
    CHECK_EQ(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    *nheld = 0;
    while (*nheld < max) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        held[(*nheld)++] = fd;
        int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        CHECK(rc == 0 || errno == EINPROGRESS);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (rc < 0 && poll(&p, 1, 100) == 0) return l; /* this one hangs: full */
    }
    return -1;
}

static void test_connect_timeout(void)
{
    enum { MAX_HELD = 16 };
    int held[MAX_HELD], nheld, port;
    int l = full_listener(&port, held, &nheld, MAX_HELD);
    if (l < 0) {
        /* Not seen on Linux: it drops SYNs once the accept queue is full. */
        printf("skip test_connect_timeout: the kernel completed %d connects\n", nheld);
        for (int i = 0; i < nheld; i++)
            close(held[i]);
        return;
    }
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    /* The loop's cached clock is now 400 ms old: a timeout counted from it
     * would fire at once (took ~0 ms before eddy_connect refreshed it). */
    usleep(400 * 1000);
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK_EQ(eddy_port_options_set(&o, "connect_timeout", "300"), 0);
    side_t client = {0};
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    long t0 = now_ms();
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, &o, &side_cbs, &client, &c), 0);
    CHECK_EQ(eddy_send(c, "never", 5), 0);
    run_until(loop, &client.closes, 3000);
    long took = client.closed_at - t0;
    printf("connect timeout after %ld ms (%d connects filled the queue)\n", took, nheld - 1);
    CHECK_EQ(client.connects, 0);
    CHECK_EQ(client.reason, EDDY_CLOSE_ERROR);
    CHECK_EQ(client.err, -ETIMEDOUT);
    CHECK(took >= 290 && took < 1000);

    /* The same through the resolver: the deadline covers the whole attempt. */
    side_t c2 = {0};
    snprintf(url, sizeof url, "tcp://localhost:%d", port);
    t0 = now_ms();
    CHECK_EQ(eddy_connect(loop, url, &o, &side_cbs, &c2, &c), 0);
    run_until(loop, &c2.closes, 3000);
    took = c2.closed_at - t0;
    CHECK_EQ(c2.err, -ETIMEDOUT);
    CHECK(took >= 290 && took < 1000);
    finish_loop(loop);
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    close(l);
}

static void test_unix_client(void)
{
    char path[108], url[128];
    snprintf(path, sizeof path, "/tmp/eddy-client-%d.sock", (int)getpid());
    snprintf(url, sizeof url, "unix://%s", path);
    unlink(path);
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t server = {.echo = true}, client = {.close_when = "over unix"};
    eddy_port_options_t so = server_options();
    eddy_listener_t *l;
    CHECK_EQ(eddy_listen(loop, url, &so, &side_cbs, &server, &l), 0);
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    CHECK_EQ(eddy_send(c, "over unix", 9), 0);
    run_until(loop, &client.closes, 3000);
    CHECK_EQ(client.connects, 1);
    CHECK_EQ(client.reason, EDDY_CLOSE_GRACEFUL);
    CHECK_EQ(client.got_len, 9);
    run_until(loop, &server.closes, 3000);
    CHECK_EQ(server.reason, EDDY_CLOSE_PEER);
    eddy_listener_close(l);
    finish_loop(loop);
    struct stat st;
    CHECK(stat(path, &st) < 0);
}

static void test_bad_url(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t client = {0};
    static const char *const bad[] = {
        "tcp://127.0.0.1",     "tcp://127.0.0.1:65536",
        "http://127.0.0.1:80", "udp://127.0.0.1:53",
        "tcp://[::1]",         "unix:",
        "tcp://localhost:-1",  "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eddy_conn_t *c = (eddy_conn_t *)&client; /* must stay untouched */
        CHECK_EQ(eddy_connect(loop, bad[i], NULL, &side_cbs, &client, &c), -EDDY_EADDR);
        CHECK(c == (eddy_conn_t *)&client);
    }
    /* A Unix path longer than sun_path is not a host name to resolve. */
    char url[300] = "unix:///tmp/";
    memset(url + strlen(url), 'p', 200);
    eddy_conn_t *c = NULL;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), -EDDY_EADDR);
    CHECK(c == NULL);
    finish_loop(loop); /* nothing pending: returns at once */
    CHECK_EQ(client.closes + client.connects, 0);
}

static void test_reset_during_resolution(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t server = {0}, client = {0};
    eddy_port_options_t so = server_options();
    eddy_listener_t *l;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", &so, &side_cbs, &server, &l), 0);
    char url[64];
    snprintf(url, sizeof url, "tcp://localhost:%d", eddy_listener_port(l));
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    CHECK_EQ(eddy_send(c, "dropped", 7), 0);
    CHECK_EQ(eddy_reset(c), 0);
    CHECK_EQ(client.closes, 0); /* on_close comes from the loop */
    run_until(loop, &client.closes, 3000);
    CHECK_EQ(client.reason, EDDY_CLOSE_RESET);
    CHECK_EQ(client.connects, 0);
    /* The lookup finishes in the pool; nothing connects afterwards. */
    long end = now_ms() + 200;
    while (now_ms() < end)
        eddy_loop_run_once(loop, 20);
    CHECK_EQ(client.closes, 1);
    CHECK_EQ(client.connects, 0);
    CHECK_EQ(server.connects, 0);
    eddy_net_stats_t st;
    eddy_listener_stats(l, &st);
    CHECK_EQ(st.accepted + st.refused, 0);
    eddy_listener_close(l);
    finish_loop(loop);
}

static void test_reset_while_connecting(void)
{
    enum { MAX_HELD = 16 };
    int held[MAX_HELD], nheld, port;
    int l = full_listener(&port, held, &nheld, MAX_HELD);
    if (l < 0) {
        printf("skip test_reset_while_connecting\n");
        for (int i = 0; i < nheld; i++)
            close(held[i]);
        return;
    }
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    side_t client = {0};
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    eddy_conn_t *c;
    CHECK_EQ(eddy_connect(loop, url, NULL, &side_cbs, &client, &c), 0);
    for (int i = 0; i < 5; i++)
        eddy_loop_run_once(loop, 10);
    CHECK_EQ(client.closes, 0);
    CHECK_EQ(eddy_reset(c), 0);
    run_until(loop, &client.closes, 1000);
    CHECK_EQ(client.reason, EDDY_CLOSE_RESET);
    finish_loop(loop); /* the connect timer went with the connection */
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    close(l);
}

int main(void)
{
    RUN(test_bad_url);
    RUN(test_numeric);
    RUN(test_localhost);
    RUN(test_peer_address);
    RUN(test_close_before_connect);
    RUN(test_close_during_resolution);
    RUN(test_refused);
    RUN(test_connect_timeout);
    RUN(test_unix_client);
    RUN(test_reset_during_resolution);
    RUN(test_reset_while_connecting);
    return 0;
}
