/*
 * How connections end: every close reason, observed by on_close with the
 * right err, against a blocking client in the main thread (the eddy loop runs
 * in its own thread, as in close_lingering.c).
 *
 * The server speaks a line protocol (open_eof_split, "\n"): each command
 * makes it do one thing — reply and close, queue a big reply, reset, stall
 * the loop, ... Every on_close checks that it runs once per connection and
 * never inside an eddy_* call (a flag is set around each eddy_close and
 * eddy_reset the server makes).
 *
 * Guards, each seen failing against a conn.c broken or not yet fixed:
 *   - peer FIN with output queued: finishing at once in peer_eof() instead of
 *     flushing loses the client's 4 MiB (test_peer_fin_with_output_queued);
 *   - hangup: closing on EDDY_HANGUP before reading lost ~8000 of 200000
 *     packets (test_hangup_delivers_buffered_input);
 *   - write error: write_error() read only READS_PER_EVENT chunks before
 *     finishing, and 56805 of 262144 packets arrived
 *     (test_write_error_keeps_input);
 *   - SIGPIPE: with writev, or sendfile unguarded, the test process died of
 *     SIGPIPE (test_unix_peer_gone_no_sigpipe);
 *   - half close: on_half_close ran 55 times, again on every EPOLLOUT edge
 *     (test_half_close);
 *   - linger_max_bytes: err was -EDDY_ELINGER because SIOCOUTQ counts the
 *     unacknowledged FIN (test_linger_max_bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <eddy.h>

#include "loop_server.h"
#include "test.h"
#include "testutil.h"

#define BIG       (8u * 1024 * 1024)
#define MAX_CONNS 64
#define STALL_MS  600

static char pattern[BIG];

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait up to 5 s for cond (evaluated in the main thread), then CHECK it. */
#define CHECK_SOON(cond)                                                                           \
    do {                                                                                           \
        long d_ = now_ms() + 5000;                                                                 \
        while (!(cond) && now_ms() < d_)                                                           \
            usleep(1000);                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

/* ---- what the server saw -------------------------------------------------- */

typedef struct conn_rec {
    atomic_int closes; /* on_close calls for this connection */
} conn_rec_t;

static struct {
    conn_rec_t recs[MAX_CONNS];
    atomic_int connects;
    atomic_int closes;
    atomic_int reason, err;  /* of the last on_close */
    atomic_long close_ms;    /* eddy_close (or the stall) to on_close, loop clock */
    atomic_int bad_on_close; /* on_close twice, or inside an eddy_* call */
    atomic_int packets;      /* "pkt <k>" lines, in order */
    atomic_int out_of_order;
    atomic_int packets_at_close;
    atomic_int half_closes;
    atomic_int send_results; /* test_send_after_close: bit per expected result */
    atomic_int owned_freed;
    atomic_int queued_at_fin; /* test_peer_fin: queued output seen after the FIN */
    atomic_int closing_at_fin;
    atomic_uintptr_t conn; /* the open connection (one at a time) */
} st;

static int pattern_fd;    /* a file holding pattern */
static bool in_eddy_call; /* loop thread only */
static uint64_t close_started;

static void reset_state(void)
{
    memset(&st, 0, sizeof st);
}

static void on_connect(eddy_conn_t *c, void *ud)
{
    int i = atomic_fetch_add(&st.connects, 1);
    CHECK(i < MAX_CONNS);
    eddy_conn_set_data(c, &st.recs[i]);
    atomic_store(&st.conn, (uintptr_t)c);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    conn_rec_t *r = eddy_conn_data(c);
    if (atomic_fetch_add(&r->closes, 1) != 0 || in_eddy_call) atomic_fetch_add(&st.bad_on_close, 1);
    atomic_store(&st.reason, (int)reason);
    atomic_store(&st.err, err);
    atomic_store(&st.close_ms, (long)(eddy_loop_now(eddy_conn_loop(c)) - close_started));
    atomic_store(&st.packets_at_close, atomic_load(&st.packets));
    atomic_store(&st.conn, 0);
    atomic_fetch_add(&st.closes, 1);
}

static void server_close(eddy_conn_t *c)
{
    close_started = eddy_loop_now(eddy_conn_loop(c));
    in_eddy_call = true;
    CHECK_EQ(eddy_close(c), 0);
    in_eddy_call = false;
}

static void free_owned(void *ptr, void *ud)
{
    atomic_fetch_add(&st.owned_freed, 1);
}

/* Stall the loop thread, so input and a reset pile up in the kernel and
 * arrive as one epoll event. */
static void stall_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    usleep(STALL_MS * 1000);
}

static void send_after_close(eddy_conn_t *c)
{
    server_close(c);
    int bits = 0;
    static char owned[16];
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (eddy_send(c, "x", 1) == -EDDY_ECLOSING) bits |= 1;
    if (eddy_send_owned(c, owned, sizeof owned, free_owned, NULL) == -EDDY_ECLOSING) bits |= 2;
    if (eddy_sendfile(c, fd, 0, 10) == -EDDY_ECLOSING) bits |= 4;
    if (eddy_close(c) == -EDDY_ECLOSING) bits |= 8;
    if (eddy_pause(c) == -EDDY_ECLOSING) bits |= 16;
    if (eddy_conn_closing(c)) bits |= 32;
    close(fd);
    atomic_store(&st.send_results, bits);
}

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    char line[64];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    unsigned long arg = 0;
    if (sscanf(line, "pkt %lu", &arg) == 1) {
        if (arg != (unsigned long)atomic_load(&st.packets)) atomic_fetch_add(&st.out_of_order, 1);
        atomic_fetch_add(&st.packets, 1);
    } else if (sscanf(line, "reply %lu", &arg) == 1) { /* send, then close at once */
        CHECK(arg <= BIG);
        CHECK_EQ(eddy_send(c, pattern, arg), 0);
        server_close(c);
    } else if (sscanf(line, "big %lu", &arg) == 1) { /* send, stay open */
        CHECK(arg <= BIG);
        CHECK_EQ(eddy_send(c, pattern, arg), 0);
    } else if (sscanf(line, "file %lu", &arg) == 1) { /* sendfile, stay open */
        CHECK_EQ(eddy_sendfile(c, pattern_fd, 0, arg), 0);
    } else if (strcmp(line, "reset\n") == 0) {
        CHECK_EQ(eddy_send(c, pattern, 1000), 0);
        in_eddy_call = true;
        CHECK_EQ(eddy_reset(c), 0);
        in_eddy_call = false;
    } else if (strcmp(line, "close\n") == 0) {
        server_close(c);
    } else if (strcmp(line, "closecheck\n") == 0) {
        send_after_close(c);
    } else if (strcmp(line, "stall\n") == 0) {
        CHECK(eddy_timer_after(eddy_conn_loop(c), 1, stall_cb, NULL) > 0);
    } else if (strcmp(line, "sndbuf\n") == 0) {
        /* A small send buffer, so the server's writes block early. */
        eddy_conn_info_t info;
        eddy_conn_info(c, &info);
        int size = 32 * 1024;
        setsockopt(info.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    } else if (strcmp(line, "rcvbuf\n") == 0) {
        /* A big receive buffer, so megabytes of input can wait in the kernel. */
        eddy_conn_info_t info;
        eddy_conn_info(c, &info);
        int size = 4 * 1024 * 1024;
        setsockopt(info.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
}

/* half_close ports: answer the peer's FIN with 2 MiB; close once it drained. */
static void on_half_close(eddy_conn_t *c, void *ud)
{
    if (atomic_fetch_add(&st.half_closes, 1) == 0) CHECK_EQ(eddy_send(c, pattern, 2u << 20), 0);
}

static void on_buffer_empty(eddy_conn_t *c, void *ud)
{
    if (atomic_load(&st.half_closes) > 0) server_close(c);
}

/* ---- the server thread ---------------------------------------------------- */

static void options(eddy_port_options_t *o)
{
    eddy_port_options_init(o);
    CHECK_EQ(eddy_port_options_set(o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(o, "package_eof", "\\n"), 0);
    o->linger_timeout = 2000;
    o->close_flush_timeout = 2000;
}

static void server_start_at(test_loop_server_t *s, const char *url, const eddy_port_options_t *o)
{
    eddy_conn_callbacks_t cbs = {.on_connect = on_connect,
                                 .on_receive = on_receive,
                                 .on_close = on_close,
                                 .on_half_close = on_half_close,
                                 .on_buffer_empty = on_buffer_empty};
    reset_state();
    test_loop_server_start(s, url, o, &cbs, NULL);
}

static void server_start(test_loop_server_t *s, const eddy_port_options_t *o)
{
    server_start_at(s, "tcp://127.0.0.1:0", o);
}

/* Stop, then check the whole-run invariants: one on_close per connection,
 * none inside an eddy_* call. */
static void server_stop(test_loop_server_t *s)
{
    test_loop_server_stop(s);
    int n = atomic_load(&st.connects);
    for (int i = 0; i < n; i++)
        CHECK_EQ(atomic_load(&st.recs[i].closes), 1);
    CHECK_EQ(atomic_load(&st.closes), n);
    CHECK_EQ(atomic_load(&st.bad_on_close), 0);
}

/* ---- the client ------------------------------------------------------------ */

/* Blocking client with 5 s timeouts; rcvbuf > 0 shrinks its receive buffer
 * (set before connect, so the window is small from the start). */
static int client_connect(int port, int rcvbuf)
{
    int fd = test_connect_opts(port, 5000, rcvbuf, false);
    CHECK(fd >= 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    CHECK_EQ(test_write_all(fd, s, strlen(s)), 0);
}

static int write_file(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void abort_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
}

/* Read to the end; CHECK that exactly the pattern's first len bytes came,
 * then a clean EOF. */
static char got[BIG];

static void expect_reply_then_eof(int fd, size_t len)
{
    int how = -1;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    CHECK_EQ(n, len);
    CHECK_EQ(how, 0);
    CHECK(memcmp(got, pattern, len) == 0);
}

static void wait_closed(int reason, int err)
{
    CHECK_SOON(atomic_load(&st.connects) > 0 &&
               atomic_load(&st.closes) == atomic_load(&st.connects));
    CHECK_EQ(atomic_load(&st.reason), reason);
    CHECK_EQ(atomic_load(&st.err), err);
}

/* ---- the tests -------------------------------------------------------------- */

/* eddy_close, the client reads everything and closes: GRACEFUL, 0. */
static void test_graceful(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "reply 100000\n");
    expect_reply_then_eof(fd, 100000);
    close(fd);
    wait_closed(EDDY_CLOSE_GRACEFUL, 0);
    server_stop(&s);
}

static void check_at_fin(eddy_loop_t *loop, void *ud)
{
    eddy_conn_t *c = (eddy_conn_t *)atomic_load(&st.conn);
    if (!c) return;
    atomic_store(&st.queued_at_fin, (int)eddy_conn_queued(c));
    atomic_store(&st.closing_at_fin, eddy_conn_closing(c) ? 1 : 2);
}

/* The client shuts down its side while 4 MiB are still queued (its receive
 * buffer is small and it does not read yet): no half_close, so eddy writes
 * everything, then closes: PEER, 0, and the client has every byte. This is
 * also the "peer FIN while output queued" case. */
static void test_peer_fin_with_output_queued(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "big 4194304\n");
    usleep(100 * 1000);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    usleep(100 * 1000);
    CHECK_EQ(eddy_loop_post(s.loop, check_at_fin, NULL), 0);
    CHECK_SOON(atomic_load(&st.closing_at_fin) != 0);
    CHECK_EQ(atomic_load(&st.closing_at_fin), 1); /* the FIN began the close */
    CHECK(atomic_load(&st.queued_at_fin) > 0);    /* with output still queued */
    expect_reply_then_eof(fd, 4u << 20);
    close(fd);
    wait_closed(EDDY_CLOSE_PEER, 0);
    server_stop(&s);
}

/* eddy_reset: queued output discarded, the client sees ECONNRESET. */
static void test_reset(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "reset\n");
    int how = -1;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    CHECK_EQ(n, 0);
    CHECK_EQ(how, ECONNRESET);
    close(fd);
    wait_closed(EDDY_CLOSE_RESET, 0);
    server_stop(&s);
}

/* The client never reads; 4 MiB queued and closed: after close_flush_timeout
 * the connection is reset and on_close says FLUSH_TIMEOUT, -ETIMEDOUT. */
static void test_flush_timeout(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    o.close_flush_timeout = 300;
    server_start(&s, &o);
    int fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "reply 4194304\n");
    wait_closed(EDDY_CLOSE_FLUSH_TIMEOUT, -ETIMEDOUT);
    long ms = atomic_load(&st.close_ms);
    CHECK(ms >= 290 && ms < 2000);
    int how = -1;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    CHECK(n < 4u << 20);
    CHECK_EQ(how, ECONNRESET);
    close(fd);
    server_stop(&s);
}

/* The client reads the reply and the FIN but never closes: LINGER_TIMEOUT
 * with err 0 (every byte was acknowledged) after linger_timeout. */
static void test_linger_timeout(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    o.linger_timeout = 200;
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "reply 1000\n");
    expect_reply_then_eof(fd, 1000);
    wait_closed(EDDY_CLOSE_LINGER_TIMEOUT, 0);
    long ms = atomic_load(&st.close_ms);
    CHECK(ms >= 190 && ms < 2000);
    close(fd);
    server_stop(&s);
}

/* The client aborts (SO_LINGER 0) while the server is idle: ERROR, -ECONNRESET. */
static void test_error_peer_reset(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "pkt 0\n");
    CHECK_SOON(atomic_load(&st.packets) == 1);
    abort_close(fd);
    wait_closed(EDDY_CLOSE_ERROR, -ECONNRESET);
    server_stop(&s);
}

/* After the server's FIN the client keeps sending: once linger_max_bytes
 * were discarded the close ends (LINGER_TIMEOUT) long before linger_timeout. */
static void test_linger_max_bytes(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    o.linger_timeout = 5000;
    o.linger_max_bytes = 64 * 1024;
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "close\n");
    static char chunk[8192];
    memset(chunk, 'z', sizeof chunk);
    size_t sent = 0;
    while (sent < 8u << 20 && atomic_load(&st.closes) == 0) {
        ssize_t w = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server gave up and reset: expected */
        sent += (size_t)w;
    }
    wait_closed(EDDY_CLOSE_LINGER_TIMEOUT, 0);
    CHECK(atomic_load(&st.close_ms) < 2000);
    CHECK(sent > 64 * 1024);
    close(fd);
    server_stop(&s);
}

/* After eddy_close every send fails with -EDDY_ECLOSING (the owned buffer
 * stays the caller's: its free function is not called), eddy_close is
 * idempotent, and the client gets a clean EOF. */
static void test_send_after_close(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    send_str(fd, "closecheck\n");
    expect_reply_then_eof(fd, 0);
    close(fd);
    wait_closed(EDDY_CLOSE_GRACEFUL, 0);
    CHECK_EQ(atomic_load(&st.send_results), 63);
    CHECK_EQ(atomic_load(&st.owned_freed), 0);
    server_stop(&s);
}

/* half_close: the client sends a request and shuts down its side; the
 * server gets on_half_close (exactly once, though EPOLLOUT edges keep
 * coming while it writes), answers 2 MiB and closes once that drained. */
static void test_half_close(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    o.half_close = true;
    o.buffer_high_watermark = 1024 * 1024;
    o.buffer_low_watermark = 0;
    server_start(&s, &o);
    int fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "sndbuf\npkt 0\n");
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_SOON(atomic_load(&st.half_closes) == 1);
    usleep(50 * 1000); /* let the server's writes block */
    expect_reply_then_eof(fd, 2u << 20);
    close(fd);
    wait_closed(EDDY_CLOSE_GRACEFUL, 0);
    CHECK_EQ(atomic_load(&st.packets), 1);
    CHECK_EQ(atomic_load(&st.half_closes), 1);
    server_stop(&s);
}

/* The client sends N packets and hangs up at once (FIN, or RST with
 * SO_LINGER 0): eddy delivers all N before on_close. */
static void hangup_after_packets(bool abortive, int n)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    size_t cap = (size_t)n * 16, len = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "pkt %d\n", i);
    CHECK_EQ(test_write_all(fd, buf, len), 0);
    free(buf);
    if (abortive) {
        /* Only what reached the server's kernel can be delivered: wait
         * until the server acknowledged every byte. */
        int outq = 1;
        for (int i = 0; i < 5000 && outq > 0; i++) {
            CHECK_EQ(ioctl(fd, SIOCOUTQ, &outq), 0);
            if (outq > 0) usleep(1000);
        }
        CHECK_EQ(outq, 0);
        abort_close(fd);
    } else {
        close(fd);
    }
    if (abortive)
        wait_closed(EDDY_CLOSE_ERROR, -ECONNRESET);
    else
        wait_closed(EDDY_CLOSE_PEER, 0);
    CHECK_EQ(atomic_load(&st.packets_at_close), n);
    CHECK_EQ(atomic_load(&st.out_of_order), 0);
    server_stop(&s);
}

static void test_hangup_delivers_buffered_input(void)
{
    hangup_after_packets(false, 2000);
    hangup_after_packets(false, 200000);
    hangup_after_packets(true, 2000);
}

/* The client asks for 8 MiB it never reads, so the server's writes block;
 * then, while the loop stalls, it sends 3 MiB of packets and resets. The
 * input, the reset and the writability all arrive in one epoll event: the
 * failed write must not throw away the input that is already there. */
static void test_write_error_keeps_input(void)
{
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start(&s, &o);
    int fd = client_connect(s.port, 16 * 1024);
    int n = 3 * 1024 * 1024 / 12;
    size_t cap = (size_t)n * 16, len = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "pkt %d\n", i);
    send_str(fd, "rcvbuf\nbig 8388608\n");
    usleep(50 * 1000);
    send_str(fd, "stall\n");
    long stall_start = now_ms();
    usleep(20 * 1000); /* the loop is stalled now */
    CHECK_EQ(test_write_all(fd, buf, len), 0);
    free(buf);
    int outq = 1;
    for (int i = 0; i < 300 && outq > 0; i++) {
        CHECK_EQ(ioctl(fd, SIOCOUTQ, &outq), 0);
        if (outq > 0) usleep(1000);
    }
    CHECK_EQ(outq, 0); /* everything sits in the server's kernel */
    /* ... and the reset arrives before the stall ends, or this tests nothing. */
    CHECK(now_ms() - stall_start < STALL_MS - 100);
    abort_close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_ERROR);
    int err = atomic_load(&st.err);
    CHECK(err == -ECONNRESET || err == -EPIPE);
    CHECK_EQ(atomic_load(&st.packets_at_close), n);
    CHECK_EQ(atomic_load(&st.out_of_order), 0);
    server_stop(&s);
}

/* Over a Unix socket a write to a peer that has gone fails with EPIPE and
 * raises SIGPIPE, whose default action kills the process: eddy must not let
 * it, neither from sendmsg nor from sendfile. The client asks for 8 MiB (in
 * memory or from a file), stalls the server's loop, reads all that was
 * written so far and closes. The server then sees EOF, and its next write
 * finds the peer gone: ERROR with -EPIPE, and the process is alive. */
static void unix_peer_gone_while_writing(const char *request)
{
    char path[64], url[80];
    snprintf(path, sizeof path, "/tmp/eddy-conn-close-%d.sock", (int)getpid());
    snprintf(url, sizeof url, "unix://%s", path);
    test_loop_server_t s;
    eddy_port_options_t o;
    options(&o);
    server_start_at(&s, url, &o);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK_EQ(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    send_str(fd, request);
    usleep(50 * 1000); /* the server's writes block */
    send_str(fd, "stall\n");
    usleep(50 * 1000); /* the loop is stalled: nothing more is written */
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, got + n, sizeof got - n, MSG_DONTWAIT);
        if (r <= 0) break;
        n += (size_t)r;
    }
    CHECK(n > 0 && n < 8u << 20);
    CHECK_EQ(memcmp(got, pattern, n), 0);
    close(fd); /* nothing unread: the server will read EOF, then write */
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_ERROR);
    CHECK_EQ(atomic_load(&st.err), -EPIPE);
    server_stop(&s);
}

static void test_unix_peer_gone_no_sigpipe(void)
{
    unix_peer_gone_while_writing("big 8388608\n");
    unix_peer_gone_while_writing("file 8388608\n");
}

/* An optional argument runs only the tests whose name contains it. */
static const char *only;
#define RUN_SELECTED(fn)                                                                           \
    do {                                                                                           \
        if (!only || strstr(#fn, only)) RUN(fn);                                                   \
    } while (0)

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(i % 251);
    char tmpl[] = "/tmp/eddy-conn-close-XXXXXX";
    pattern_fd = mkstemp(tmpl);
    CHECK(pattern_fd >= 0);
    unlink(tmpl);
    CHECK_EQ(write_file(pattern_fd, pattern, sizeof pattern), 0);
    RUN_SELECTED(test_graceful);
    RUN_SELECTED(test_peer_fin_with_output_queued);
    RUN_SELECTED(test_reset);
    RUN_SELECTED(test_flush_timeout);
    RUN_SELECTED(test_linger_timeout);
    RUN_SELECTED(test_error_peer_reset);
    RUN_SELECTED(test_linger_max_bytes);
    RUN_SELECTED(test_send_after_close);
    RUN_SELECTED(test_half_close);
    RUN_SELECTED(test_hangup_delivers_buffered_input);
    RUN_SELECTED(test_write_error_keeps_input);
    RUN_SELECTED(test_unix_peer_gone_no_sigpipe);
    close(pattern_fd);
    return 0;
}
