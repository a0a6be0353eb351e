/*
 * Listeners: several on one loop with their own options and callbacks,
 * IPv6, Unix stream sockets (and stale socket files), SO_REUSEPORT,
 * max_connection refusal, EMFILE pause and recovery, heartbeat eviction,
 * eddy_listener_shutdown and eddy_listener_foreach.
 *
 * Each test runs an eddy loop in its own thread; the main thread is the
 * client, with plain blocking sockets that always have a timeout. All
 * traffic stays on 127.0.0.1, ::1 or a Unix socket in /tmp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "test.h"
#include "testutil.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the server side: a port's callbacks and counters ----------------------- */

typedef struct port {
    const char *tag; /* replies are tag + packet; NULL: plain echo */
    eddy_listener_t *l;
    atomic_int connects, closes, packets;
    atomic_int reasons[EDDY_CLOSE_REASON_COUNT];
    atomic_int last_err;
    atomic_int bad_ud;
} port_t;

static void on_connect(eddy_conn_t *c, void *ud)
{
    port_t *p = ud;
    if (eddy_conn_listener(c) != p->l) atomic_fetch_add(&p->bad_ud, 1);
    atomic_fetch_add(&p->connects, 1);
}

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    port_t *p = ud;
    atomic_fetch_add(&p->packets, 1);
    if (p->tag) CHECK_EQ(eddy_send(c, p->tag, strlen(p->tag)), 0);
    CHECK_EQ(eddy_send(c, data, len), 0);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    port_t *p = ud;
    atomic_fetch_add(&p->reasons[reason], 1);
    atomic_store(&p->last_err, err);
    atomic_fetch_add(&p->closes, 1);
}

static const eddy_conn_callbacks_t port_cbs = {
    .on_connect = on_connect, .on_receive = on_receive, .on_close = on_close};

static eddy_port_options_t default_options(void)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    o.linger_timeout = 1000; /* a test that forgets a client does not stall long */
    return o;
}

/* ---- the loop thread -------------------------------------------------------- */

typedef struct server {
    eddy_loop_t *loop;
    pthread_t thread;
    atomic_int done;
} server_t;

static void *loop_thread(void *arg)
{
    server_t *s = arg;
    CHECK_EQ(eddy_loop_run(s->loop), 0);
    atomic_store(&s->done, 1);
    return NULL;
}

static void server_new(server_t *s)
{
    memset(s, 0, sizeof *s);
    CHECK_EQ(eddy_loop_new(&s->loop), 0);
}

/* Listeners are created on the main thread before the loop thread starts. */
static void server_listen(server_t *s, port_t *p, const char *url, const eddy_port_options_t *o)
{
    int rc = eddy_listen(s->loop, url, o, &port_cbs, p, &p->l);
    if (rc != 0) fprintf(stderr, "eddy_listen(%s): %s\n", url, eddy_strerror(rc));
    CHECK_EQ(rc, 0);
}

static void server_start(server_t *s)
{
    CHECK_EQ(pthread_create(&s->thread, NULL, loop_thread, s), 0);
}

typedef struct call {
    void (*fn)(void *arg);
    void *arg;
    atomic_int done;
} call_t;

static void call_cb(eddy_loop_t *loop, void *ud)
{
    call_t *c = ud;
    c->fn(c->arg);
    atomic_store(&c->done, 1);
}

/* Run fn(arg) on the loop thread and wait for it. */
static void server_call(server_t *s, void (*fn)(void *), void *arg)
{
    call_t c = {.fn = fn, .arg = arg};
    CHECK_EQ(eddy_loop_post(s->loop, call_cb, &c), 0);
    long deadline = now_ms() + 5000;
    while (!atomic_load(&c.done)) {
        CHECK(now_ms() < deadline);
        usleep(1000);
    }
}

/* eddy_loop_run must return on its own (everything closed) within ms. */
static void server_join(server_t *s, long ms)
{
    long deadline = now_ms() + ms;
    while (!atomic_load(&s->done)) {
        if (now_ms() > deadline) {
            fprintf(stderr, "eddy_loop_run did not return within %ld ms\n", ms);
            exit(1);
        }
        usleep(1000);
    }
    pthread_join(s->thread, NULL);
    eddy_loop_free(s->loop);
}

static void shutdown_fn(void *arg)
{
    eddy_listener_shutdown(arg);
}

typedef struct stats_req {
    eddy_listener_t *l;
    eddy_net_stats_t st;
} stats_req_t;

static void stats_fn(void *arg)
{
    stats_req_t *r = arg;
    eddy_listener_stats(r->l, &r->st);
}

static eddy_net_stats_t server_stats(server_t *s, port_t *p)
{
    stats_req_t r = {.l = p->l};
    server_call(s, stats_fn, &r);
    return r.st;
}

static void wait_for(atomic_int *v, int want, long ms)
{
    long deadline = now_ms() + ms;
    while (atomic_load(v) < want) {
        if (now_ms() > deadline) {
            fprintf(stderr, "waited %ld ms for %d, have %d\n", ms, want, atomic_load(v));
            exit(1);
        }
        usleep(1000);
    }
}

/* ---- the client side -------------------------------------------------------- */

static void set_timeouts(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int connect_addr(const eddy_addr_t *a)
{
    int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    set_timeouts(fd, 3000);
    if (connect(fd, &a->u.sa, a->len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_port(port_t *p)
{
    int fd = test_connect(eddy_listener_port(p->l), 3000);
    CHECK(fd >= 0);
    return fd;
}

static void read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            fprintf(stderr, "read_exact: %zu of %zu bytes, %s\n", got, n,
                    r == 0 ? "EOF" : strerror(errno));
        CHECK(r > 0);
        got += (size_t)r;
    }
}

/* Send msg and expect reply back. */
static void round_trip(int fd, const char *msg, const char *reply)
{
    char buf[256];
    CHECK_EQ(test_write_all(fd, msg, strlen(msg)), 0);
    size_t n = strlen(reply);
    read_exact(fd, buf, n);
    buf[n] = '\0';
    CHECK_STR(buf, reply);
}

/* The server closed gracefully: nothing more, then a clean EOF (no RST). */
static void expect_clean_eof(int fd)
{
    char buf[256];
    int how = -1;
    size_t n = test_read_until_close(fd, buf, sizeof buf, &how);
    if (n || how) fprintf(stderr, "expected clean EOF: %zu bytes, %s\n", n, strerror(how));
    CHECK_EQ(n, 0);
    CHECK_EQ(how, 0);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_two_listeners_one_loop(void)
{
    server_t s;
    server_new(&s);
    port_t eof = {.tag = "A:"}, raw = {.tag = "B:"};
    eddy_port_options_t o = default_options();
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\n"), 0);
    server_listen(&s, &eof, "tcp://127.0.0.1:0", &o);
    eddy_port_options_t ro = default_options();
    server_listen(&s, &raw, "127.0.0.1:0", &ro); /* no scheme: tcp */
    CHECK(eddy_listener_port(eof.l) > 0 && eddy_listener_port(raw.l) > 0);
    CHECK(eddy_listener_port(eof.l) != eddy_listener_port(raw.l));
    CHECK(eddy_listener_fd(eof.l) >= 0);
    char name[64];
    eddy_addr_format(eddy_listener_addr(eof.l), name, sizeof name);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", eddy_listener_port(eof.l));
    CHECK_STR(name, want);
    server_start(&s);

    int a = connect_port(&eof), b = connect_port(&raw);
    /* Three packets in one write: split by the EOF port, whole by the raw one. */
    round_trip(a, "x\ny\nz\n", "A:x\nA:y\nA:z\n");
    round_trip(b, "x\ny\n", "B:x\ny\n");
    /* A packet split over two writes is delivered once, whole. */
    CHECK_EQ(test_write_all(a, "hel", 3), 0);
    usleep(20000);
    round_trip(a, "lo\n", "A:hello\n");
    CHECK_EQ(atomic_load(&eof.packets), 4);
    CHECK_EQ(atomic_load(&raw.packets), 1);
    CHECK_EQ(atomic_load(&eof.connects), 1);
    CHECK_EQ(atomic_load(&raw.connects), 1);
    CHECK_EQ(atomic_load(&eof.bad_ud) + atomic_load(&raw.bad_ud), 0);

    eddy_net_stats_t st = server_stats(&s, &eof);
    CHECK_EQ(st.accepted, 1);
    CHECK_EQ(st.active, 1);
    CHECK_EQ(st.packets_in, 4);
    CHECK_EQ(st.bytes_in, 12);
    CHECK_EQ(st.bytes_out, 4 * 2 + 12);
    st = server_stats(&s, &raw);
    CHECK_EQ(st.packets_in, 1);
    CHECK_EQ(st.bytes_in, 4);

    /* The client closes first: the server sees the peer's close. */
    close(a);
    wait_for(&eof.closes, 1, 2000);
    CHECK_EQ(atomic_load(&eof.reasons[EDDY_CLOSE_PEER]), 1);
    CHECK_EQ(atomic_load(&raw.closes), 0);

    server_call(&s, shutdown_fn, eof.l);
    server_call(&s, shutdown_fn, raw.l);
    expect_clean_eof(b);
    close(b);
    server_join(&s, 3000);
    CHECK_EQ(atomic_load(&raw.closes), 1);
    CHECK_EQ(atomic_load(&raw.last_err), -ECANCELED);
}

static void test_ipv6(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    int rc = eddy_listen(s.loop, "tcp://[::1]:0", &o, &port_cbs, &p, &p.l);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT) {
        printf("skip test_ipv6: %s\n", eddy_strerror(rc));
        eddy_loop_free(s.loop);
        return;
    }
    CHECK_EQ(rc, 0);
    const eddy_addr_t *a = eddy_listener_addr(p.l);
    CHECK_EQ(a->u.sa.sa_family, AF_INET6);
    char name[64], want[64];
    eddy_addr_format(a, name, sizeof name);
    snprintf(want, sizeof want, "[::1]:%d", eddy_listener_port(p.l));
    CHECK_STR(name, want);
    server_start(&s);

    int fd = connect_addr(a);
    CHECK(fd >= 0);
    round_trip(fd, "six\n", "six\n");
    close(fd);
    wait_for(&p.closes, 1, 2000);
    server_call(&s, shutdown_fn, p.l);
    server_join(&s, 3000);
    CHECK_EQ(atomic_load(&p.connects), 1);
}

/* Leaves a socket file behind, as a process that died would. */
static void make_stale_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    CHECK_EQ(listen(fd, 1), 0);
    close(fd);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
}

typedef struct peer_req {
    port_t *p;
    char name[128];
} peer_req_t;

static void peer_name_of_first(eddy_conn_t *c, void *arg)
{
    peer_req_t *r = arg;
    eddy_addr_format(eddy_conn_peer(c), r->name, sizeof r->name);
}

static void peer_fn(void *arg)
{
    peer_req_t *r = arg;
    eddy_listener_foreach(r->p->l, peer_name_of_first, r);
}

static void test_unix(void)
{
    char path[108], url[128], file[108], furl[128];
    snprintf(path, sizeof path, "/tmp/eddy-listener-%d.sock", (int)getpid());
    snprintf(url, sizeof url, "unix://%s", path);
    snprintf(file, sizeof file, "/tmp/eddy-listener-%d.file", (int)getpid());
    snprintf(furl, sizeof furl, "unix:%s", file);
    unlink(path);
    unlink(file);
    make_stale_socket(path);

    server_t s;
    server_new(&s);
    port_t p = {0}, other = {0};
    eddy_port_options_t o = default_options();
    server_listen(&s, &p, url, &o); /* replaces the stale file */
    CHECK_EQ(eddy_listener_port(p.l), -1);
    char name[160], want[160];
    eddy_addr_format(eddy_listener_addr(p.l), name, sizeof name);
    snprintf(want, sizeof want, "unix:%s", path);
    CHECK_STR(name, want);

    /* A live server's socket is never taken over. */
    CHECK_EQ(eddy_listen(s.loop, url, &o, &port_cbs, &other, &other.l), -EADDRINUSE);
    /* Nor is a file that is not a socket removed. */
    int ffd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(ffd >= 0);
    close(ffd);
    CHECK_EQ(eddy_listen(s.loop, furl, &o, &port_cbs, &other, &other.l), -EADDRINUSE);
    struct stat st;
    CHECK(stat(file, &st) == 0 && S_ISREG(st.st_mode));
    unlink(file);
    server_start(&s);

    int fd = connect_addr(eddy_listener_addr(p.l));
    CHECK(fd >= 0);
    round_trip(fd, "unix\n", "unix\n");
    peer_req_t r = {.p = &p};
    server_call(&s, peer_fn, &r);
    CHECK_STR(r.name, "unix:(unnamed)");

    server_call(&s, shutdown_fn, p.l);
    expect_clean_eof(fd);
    close(fd);
    server_join(&s, 3000);
    CHECK(stat(path, &st) < 0 && errno == ENOENT); /* the listener removed its file */
    CHECK_EQ(atomic_load(&p.reasons[EDDY_CLOSE_GRACEFUL]), 1);
}

static void test_reuse_port(void)
{
    server_t s;
    server_new(&s);
    port_t one = {.tag = "1"}, two = {.tag = "2"}, three = {0};
    eddy_port_options_t o = default_options();
    CHECK_EQ(eddy_port_options_set(&o, "enable_reuse_port", "on"), 0);
    server_listen(&s, &one, "tcp://127.0.0.1:0", &o);
    int port = eddy_listener_port(one.l);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    server_listen(&s, &two, url, &o);
    CHECK_EQ(eddy_listener_port(two.l), port);
    /* Without the option the port is taken. */
    eddy_port_options_t plain = default_options();
    CHECK_EQ(eddy_listen(s.loop, url, &plain, &port_cbs, &three, &three.l), -EADDRINUSE);
    server_start(&s);

    enum { N = 32 };
    int fds[N];
    int seen[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        fds[i] = test_connect(port, 3000);
        CHECK(fds[i] >= 0);
        char buf[2];
        CHECK_EQ(test_write_all(fds[i], "x", 1), 0);
        read_exact(fds[i], buf, 2);
        CHECK(buf[1] == 'x' && (buf[0] == '1' || buf[0] == '2'));
        seen[buf[0] - '1']++;
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    printf("reuse_port: %d and %d connections\n", seen[0], seen[1]);
    CHECK_EQ(seen[0] + seen[1], N);
    CHECK_EQ(atomic_load(&one.connects), seen[0]);
    CHECK_EQ(atomic_load(&two.connects), seen[1]);
    /* The kernel spreads connections over both sockets (by 4-tuple hash:
     * all 32 on one side has probability 2^-31). */
    CHECK(seen[0] > 0 && seen[1] > 0);
    wait_for(&one.closes, seen[0], 2000);
    wait_for(&two.closes, seen[1], 2000);
    server_call(&s, shutdown_fn, one.l);
    server_call(&s, shutdown_fn, two.l);
    server_join(&s, 3000);
}

static void test_max_connection(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    CHECK_EQ(eddy_port_options_set(&o, "max_connection", "2"), 0);
    server_listen(&s, &p, "tcp://127.0.0.1:0", &o);
    server_start(&s);

    int a = connect_port(&p), b = connect_port(&p);
    round_trip(a, "a", "a");
    round_trip(b, "b", "b");
    /* The third is accepted and closed at once, gracefully: its input is
     * read and discarded, so the close is a FIN and never a reset. */
    int c = connect_port(&p);
    char junk[8192];
    memset(junk, 'j', sizeof junk);
    CHECK_EQ(test_write_all(c, junk, sizeof junk), 0);
    expect_clean_eof(c);
    close(c);
    round_trip(a, "still", "still");
    CHECK_EQ(atomic_load(&p.connects), 2);

    eddy_net_stats_t st = server_stats(&s, &p);
    CHECK_EQ(st.accepted, 2);
    CHECK_EQ(st.refused, 1);

    /* Once one leaves, a newcomer is served again. */
    close(b);
    wait_for(&p.closes, 1, 2000);
    long deadline = now_ms() + 2000;
    for (;;) { /* the refused connection may still count until its close ends */
        st = server_stats(&s, &p);
        if (st.active <= 1) break;
        CHECK(now_ms() < deadline);
        usleep(5000);
    }
    int d = connect_port(&p);
    round_trip(d, "d", "d");
    CHECK_EQ(atomic_load(&p.connects), 3);
    st = server_stats(&s, &p);
    CHECK_EQ(st.refused, 1);
    CHECK_EQ(st.accepted, 3);
    CHECK_EQ(atomic_load(&p.closes), 1); /* on_close never ran for the refused one */

    server_call(&s, shutdown_fn, p.l);
    expect_clean_eof(a);
    expect_clean_eof(d);
    close(a);
    close(d);
    server_join(&s, 3000);
    CHECK_EQ(atomic_load(&p.closes), 3);
}

static long cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

static void test_emfile(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    server_listen(&s, &p, "tcp://127.0.0.1:0", &o);
    server_start(&s);
    int port = eddy_listener_port(p.l);
    /* Warm up: the loop's scratch buffer and the like exist before the limit. */
    int w = connect_port(&p);
    round_trip(w, "w", "w");

    struct rlimit saved;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    enum { CLIENTS = 4, MAX_FILLERS = 512 };
    /* Sockets for the clients first, then every remaining descriptor below
     * the new limit is taken, so the server's accept4 finds none. */
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0) highest = fd;
    struct rlimit low = saved;
    low.rlim_cur = (rlim_t)highest + 1 + CLIENTS + 8;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(clients[i] >= 0);
        set_timeouts(clients[i], 3000);
    }
    int fillers[MAX_FILLERS], nfill = 0;
    while (nfill < MAX_FILLERS) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        fillers[nfill++] = fd;
    }
    CHECK(nfill < MAX_FILLERS);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    for (int i = 0; i < CLIENTS; i++) /* completed by the kernel's backlog */
        CHECK_EQ(connect(clients[i], (struct sockaddr *)&sin, sizeof sin), 0);
    for (int i = 0; i < CLIENTS; i++)
        CHECK_EQ(test_write_all(clients[i], "ping", 4), 0);

    /* The listener pauses instead of spinning on a readable socket. */
    long deadline = now_ms() + 2000;
    eddy_net_stats_t st;
    do {
        usleep(10000);
        /* server_stats posts through an eventfd: no descriptor needed. */
        st = server_stats(&s, &p);
        CHECK(now_ms() < deadline);
    } while (st.accept_paused == 0);
    long cpu0 = cpu_ms(), t0 = now_ms();
    usleep(600000);
    long cpu = cpu_ms() - cpu0, wall = now_ms() - t0;
    st = server_stats(&s, &p);
    printf("emfile: %llu pauses, %ld ms CPU over %ld ms\n", (unsigned long long)st.accept_paused,
           cpu, wall);
    CHECK(cpu < wall / 4);        /* a spinning loop would burn about all of it */
    CHECK(st.accept_paused >= 2); /* it keeps retrying */
    CHECK_EQ(st.accepted, 1);
    CHECK_EQ(atomic_load(&p.connects), 1);

    /* Descriptors come back: the pending clients are accepted and served. */
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    char buf[4];
    for (int i = 0; i < CLIENTS; i++) {
        read_exact(clients[i], buf, 4);
        CHECK(memcmp(buf, "ping", 4) == 0);
    }
    CHECK_EQ(atomic_load(&p.connects), 1 + CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        close(clients[i]);
    close(w);
    wait_for(&p.closes, 1 + CLIENTS, 2000);
    server_call(&s, shutdown_fn, p.l);
    server_join(&s, 3000);
}

static void test_heartbeat(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    CHECK_EQ(eddy_port_options_set(&o, "heartbeat_idle_time", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "heartbeat_check_interval", "1"), 0);
    server_listen(&s, &p, "tcp://127.0.0.1:0", &o);
    server_start(&s);

    long t0 = now_ms();
    int idle = connect_port(&p), active = connect_port(&p);
    round_trip(idle, "i", "i");
    long idle_closed = 0;
    long next_beat = now_ms();
    while (now_ms() - t0 < 2700) {
        if (now_ms() >= next_beat) {
            round_trip(active, "k", "k");
            next_beat += 300;
        }
        struct pollfd pfd = {.fd = idle, .events = POLLIN};
        if (!idle_closed && poll(&pfd, 1, 20) == 1) {
            expect_clean_eof(idle);
            idle_closed = now_ms() - t0;
            close(idle);
        } else if (idle_closed) {
            usleep(20000);
        }
    }
    printf("heartbeat: idle client closed after %ld ms\n", idle_closed);
    CHECK(idle_closed >= 900 && idle_closed <= 2500);
    /* The active one is still served. */
    round_trip(active, "alive", "alive");
    eddy_net_stats_t st = server_stats(&s, &p);
    CHECK_EQ(st.evicted, 1);
    wait_for(&p.closes, 1, 2000);
    CHECK_EQ(atomic_load(&p.reasons[EDDY_CLOSE_GRACEFUL]), 1);
    CHECK_EQ(atomic_load(&p.last_err), -ETIMEDOUT);

    server_call(&s, shutdown_fn, p.l);
    expect_clean_eof(active);
    close(active);
    server_join(&s, 3000);
    CHECK_EQ(atomic_load(&p.closes), 2);
    CHECK_EQ(atomic_load(&p.last_err), -ECANCELED);
}

static void test_shutdown(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    server_listen(&s, &p, "tcp://127.0.0.1:0", &o);
    int port = eddy_listener_port(p.l);
    server_start(&s);

    enum { N = 3 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = connect_port(&p);
        round_trip(fds[i], "hi", "hi");
    }
    long t0 = now_ms();
    server_call(&s, shutdown_fn, p.l);
    for (int i = 0; i < N; i++) {
        expect_clean_eof(fds[i]);
        close(fds[i]);
    }
    server_join(&s, 3000); /* eddy_loop_run returns: nothing is left */
    printf("shutdown: done in %ld ms\n", now_ms() - t0);
    CHECK_EQ(atomic_load(&p.closes), N);
    CHECK_EQ(atomic_load(&p.reasons[EDDY_CLOSE_GRACEFUL]), N);
    CHECK_EQ(atomic_load(&p.last_err), -ECANCELED);
    CHECK(test_connect(port, 1000) < 0); /* nobody listens any more */
}

typedef struct foreach_req {
    port_t *p;
    const char *msg;
    bool close;
    int visited;
} foreach_req_t;

static void visit(eddy_conn_t *c, void *arg)
{
    foreach_req_t *r = arg;
    r->visited++;
    CHECK_EQ(eddy_send(c, r->msg, strlen(r->msg)), 0);
    if (r->close) CHECK_EQ(eddy_close(c), 0);
}

static void foreach_fn(void *arg)
{
    foreach_req_t *r = arg;
    eddy_listener_foreach(r->p->l, visit, r);
}

static void test_foreach(void)
{
    server_t s;
    server_new(&s);
    port_t p = {0};
    eddy_port_options_t o = default_options();
    server_listen(&s, &p, "tcp://127.0.0.1:0", &o);
    server_start(&s);

    enum { N = 3 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = connect_port(&p);
        round_trip(fds[i], "x", "x");
    }
    foreach_req_t r = {.p = &p, .msg = "hello\n"};
    server_call(&s, foreach_fn, &r);
    CHECK_EQ(r.visited, N);
    char buf[16];
    for (int i = 0; i < N; i++) {
        read_exact(fds[i], buf, 6);
        CHECK(memcmp(buf, "hello\n", 6) == 0);
    }
    /* fn may close the connection it is given; the rest are still visited. */
    foreach_req_t bye = {.p = &p, .msg = "bye\n", .close = true};
    server_call(&s, foreach_fn, &bye);
    CHECK_EQ(bye.visited, N);
    for (int i = 0; i < N; i++) {
        read_exact(fds[i], buf, 4);
        CHECK(memcmp(buf, "bye\n", 4) == 0);
        expect_clean_eof(fds[i]);
        close(fds[i]);
    }
    wait_for(&p.closes, N, 2000);
    /* Closing connections are no longer visited. */
    foreach_req_t none = {.p = &p, .msg = "x"};
    server_call(&s, foreach_fn, &none);
    CHECK_EQ(none.visited, 0);
    server_call(&s, shutdown_fn, p.l);
    server_join(&s, 3000);
    CHECK_EQ(atomic_load(&p.reasons[EDDY_CLOSE_GRACEFUL]), N);
}

static void test_bad_urls(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    eddy_listener_t *l = NULL;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1", NULL, NULL, NULL, &l), -EDDY_EADDR);
    CHECK_EQ(eddy_listen(loop, "tcp://localhost:0", NULL, NULL, NULL, &l), -EDDY_EADDR);
    CHECK_EQ(eddy_listen(loop, "http://127.0.0.1:0", NULL, NULL, NULL, &l), -EDDY_EADDR);
    CHECK(l == NULL);
    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
}

int main(void)
{
    RUN(test_bad_urls);
    RUN(test_two_listeners_one_loop);
    RUN(test_ipv6);
    RUN(test_unix);
    RUN(test_reuse_port);
    RUN(test_max_connection);
    RUN(test_foreach);
    RUN(test_shutdown);
    RUN(test_emfile);
    RUN(test_heartbeat);
    return 0;
}
