/*
 * The output side of a connection: eddy_send order and batching,
 * eddy_send_owned, eddy_sendfile, pipelined replies in one flush, and the
 * connection's info and user data — over real sockets, with the eddy loop in
 * its own thread and a blocking client in the main thread.
 *
 * "One writev" is measured, not assumed: the server reads tcpi_data_segs_out
 * (data segments its kernel sent) before and after; one system call with
 * less than an MSS of data on loopback is one segment. Checked against a
 * conn.c broken to write after every eddy_send (the counts then run to
 * hundreds), then restored.
 *
 * The free function of eddy_send_owned is checked to run after its bytes
 * were written by looking at the conn's bytes_out from inside it: conn.c
 * used to run it before counting the write, and this test failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <eddy.h>

#include "loop_server.h"
#include "test.h"
#include "testutil.h"

#define FILE_SIZE  (10u * 1024 * 1024) /* more than socket_buffer_size (8 MiB) */
#define OWNED_SIZE (4u * 1024 * 1024)
#define MAX_CONNS  16

static char file_bytes[FILE_SIZE];
static char file_path[64];
static char got[FILE_SIZE + 4096];

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#define CHECK_SOON(cond)                                                                           \
    do {                                                                                           \
        long d_ = now_ms() + 5000;                                                                 \
        while (!(cond) && now_ms() < d_)                                                           \
            usleep(1000);                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

/* ---- what the server saw -------------------------------------------------- */

typedef struct conn_rec {
    uint64_t id;
    uint32_t segs_mark;     /* tcpi_data_segs_out when a batch began */
    size_t queued_expected; /* pipelining: bytes queued by earlier pongs */
} conn_rec_t;

static struct {
    conn_rec_t recs[MAX_CONNS];
    atomic_int connects, closes;
    atomic_int reason, err;
    atomic_int bad;   /* an expectation on the loop thread failed (see where) */
    atomic_long segs; /* data segments of the last batch, -1 until known */
    atomic_long order_queued;
    atomic_int frees;
    atomic_long freed_at_bytes_out; /* the conn's bytes_out when free_fn ran */
    atomic_int frees_before_close;
    atomic_long file_queued;
    atomic_int file_rcs; /* bit per expected return code in "file" */
    atomic_int info_done;
    eddy_conn_info_t info; /* written before info_done is set */
    atomic_int data_ok, ids_distinct;
} st;

static eddy_listener_t *server_listener;
static eddy_loop_t *server_loop;

static void fail_on_loop(int line)
{
    fprintf(stderr, "conn_send.c:%d: expectation failed on the loop thread\n", line);
    atomic_fetch_add(&st.bad, 1);
}
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) fail_on_loop(__LINE__);                                                       \
    } while (0)

static uint32_t data_segs_out(eddy_conn_t *c)
{
    eddy_conn_info_t info;
    eddy_conn_info(c, &info);
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    CHECK_EQ(getsockopt(info.fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti.tcpi_data_segs_out;
}

static void on_connect(eddy_conn_t *c, void *ud)
{
    int i = atomic_fetch_add(&st.connects, 1);
    CHECK(i < MAX_CONNS);
    st.recs[i].id = eddy_conn_id(c);
    for (int j = 0; j < i; j++)
        if (st.recs[j].id == st.recs[i].id) atomic_store(&st.ids_distinct, -1);
    EXPECT(eddy_conn_data(c) == NULL);
    eddy_conn_set_data(c, &st.recs[i]);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    conn_rec_t *r = eddy_conn_data(c);
    EXPECT(r && r->id == eddy_conn_id(c));
    atomic_store(&st.reason, (int)reason);
    atomic_store(&st.err, err);
    atomic_store(&st.frees_before_close, atomic_load(&st.frees));
    atomic_fetch_add(&st.closes, 1);
}

static void free_owned(void *ptr, void *ud)
{
    eddy_conn_info_t info;
    eddy_conn_info(ud, &info);
    atomic_store(&st.freed_at_bytes_out, (long)info.bytes_out);
    atomic_fetch_add(&st.frees, 1);
    free(ptr);
}

static void send_owned(eddy_conn_t *c, size_t n)
{
    char *buf = malloc(n);
    CHECK(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(i % 253);
    CHECK_EQ(eddy_send_owned(c, buf, n, free_owned, c), 0);
    EXPECT(atomic_load(&st.frees) == 0); /* not before it is written */
}

/* HEAD, file[1000, 6000), MID, file[20000, end), TAIL — the caller closing
 * its descriptors at once. */
static void send_files(eddy_conn_t *c)
{
    int rcs = 0;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(eddy_send(c, "HEAD", 4), 0);
    if (eddy_sendfile(c, fd, 1000, 5000) == 0) rcs |= 1;
    close(fd);
    CHECK_EQ(eddy_send(c, "MID", 3), 0);
    fd = open(file_path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (eddy_sendfile(c, fd, 20000, 0) == 0) rcs |= 2;     /* to the end */
    if (eddy_sendfile(c, fd, FILE_SIZE, 0) == 0) rcs |= 4; /* nothing left */
    if (eddy_sendfile(c, fd, -1, 10) == -EINVAL) rcs |= 8;
    if (eddy_sendfile(c, 12345, 0, 0) == -EBADF) rcs |= 16;
    close(fd);
    /* File ranges do not count against socket_buffer_size. */
    if (eddy_send(c, "TAIL", 4) == 0) rcs |= 32;
    atomic_store(&st.file_queued, (long)eddy_conn_queued(c));
    atomic_store(&st.file_rcs, rcs);
    CHECK_EQ(eddy_close(c), 0);
}

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    conn_rec_t *r = eddy_conn_data(c);
    EXPECT(r && r->id == eddy_conn_id(c));
    char line[64];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    unsigned long arg = 0;
    if (sscanf(line, "ping %lu", &arg) == 1) {
        if (arg == 0) {
            r->segs_mark = data_segs_out(c);
            r->queued_expected = 0;
        }
        /* Nothing is written between the packets of one read. */
        EXPECT(eddy_conn_queued(c) == r->queued_expected);
        char pong[32];
        int plen = snprintf(pong, sizeof pong, "pong %lu\n", arg);
        CHECK_EQ(eddy_send(c, pong, (size_t)plen), 0);
        r->queued_expected += (size_t)plen;
    } else if (sscanf(line, "order %lu", &arg) == 1) {
        r->segs_mark = data_segs_out(c);
        for (unsigned long i = 0; i < arg; i++) {
            char item[16];
            int ilen = snprintf(item, sizeof item, "%06lu,", i);
            CHECK_EQ(eddy_send(c, item, (size_t)ilen), 0);
        }
        atomic_store(&st.order_queued, (long)eddy_conn_queued(c));
    } else if (strcmp(line, "segs\n") == 0) {
        atomic_store(&st.segs, (long)(data_segs_out(c) - r->segs_mark));
    } else if (sscanf(line, "owned %lu", &arg) == 1) {
        CHECK_EQ(eddy_send(c, "<", 1), 0);
        send_owned(c, arg);
        CHECK_EQ(eddy_send(c, ">", 1), 0);
    } else if (strcmp(line, "reset\n") == 0) {
        CHECK_EQ(eddy_reset(c), 0);
    } else if (strcmp(line, "file\n") == 0) {
        send_files(c);
    } else if (strcmp(line, "short\n") == 0) {
        /* A range past the end of the file: what exists is sent, then the
         * connection ends with an error instead of hanging. */
        int fd = open(file_path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_EQ(eddy_sendfile(c, fd, FILE_SIZE - 1000, 2000), 0);
        close(fd);
    } else if (strcmp(line, "hello\n") == 0) {
        CHECK_EQ(eddy_send(c, "world\n", 6), 0);
    } else if (strcmp(line, "info\n") == 0) {
        eddy_conn_info(c, &st.info);
        const eddy_addr_t *peer = eddy_conn_peer(c);
        int ok = peer->len == st.info.peer.len && memcmp(&peer->u, &st.info.peer.u, peer->len) == 0;
        ok = ok && eddy_conn_listener(c) == server_listener && eddy_conn_loop(c) == server_loop;
        atomic_store(&st.data_ok, ok ? 1 : 2);
        atomic_store(&st.info_done, 1);
    }
}

/* ---- the server thread ---------------------------------------------------- */

static void server_start(test_loop_server_t *s)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\n"), 0);
    o.linger_timeout = 200;
    o.close_flush_timeout = 2000;
    eddy_conn_callbacks_t cbs = {
        .on_connect = on_connect, .on_receive = on_receive, .on_close = on_close};
    memset(&st, 0, sizeof st);
    atomic_store(&st.segs, -1);
    test_loop_server_start(s, NULL, &o, &cbs, NULL);
    server_listener = s->listener; /* before any client connects */
    server_loop = s->loop;
}

static void server_stop(test_loop_server_t *s)
{
    test_loop_server_stop(s);
    CHECK_EQ(atomic_load(&st.closes), atomic_load(&st.connects));
    CHECK_EQ(atomic_load(&st.bad), 0);
}

/* ---- the client ------------------------------------------------------------ */

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

static void read_exact(int fd, char *buf, size_t len)
{
    CHECK_EQ(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len);
}

static long batch_segments(int fd)
{
    send_str(fd, "segs\n");
    CHECK_SOON(atomic_load(&st.segs) >= 0);
    long segs = atomic_load(&st.segs);
    atomic_store(&st.segs, -1);
    return segs;
}

/* ---- the tests -------------------------------------------------------------- */

/* 1000 small eddy_send calls in one callback: nothing is written while they
 * queue, they arrive in order, and they leave in one write. */
static void test_send_order_one_batch(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);
    send_str(fd, "order 1000\n");
    read_exact(fd, got, 7000);
    for (int i = 0; i < 1000; i++) {
        char item[8];
        snprintf(item, sizeof item, "%06d,", i);
        CHECK(memcmp(got + i * 7, item, 7) == 0);
    }
    CHECK_EQ(atomic_load(&st.order_queued), 7000);
    CHECK_EQ(batch_segments(fd), 1);
    close(fd);
    server_stop(&s);
}

/* 50 requests in one segment: 50 on_receive calls in one read, 50 replies
 * queued behind each other (nothing written in between, checked on the
 * loop), one flush. */
static void test_pipelined_one_flush(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);
    char req[1024], want[1024];
    size_t rlen = 0, wlen = 0;
    for (int i = 0; i < 50; i++) {
        rlen += (size_t)snprintf(req + rlen, sizeof req - rlen, "ping %d\n", i);
        wlen += (size_t)snprintf(want + wlen, sizeof want - wlen, "pong %d\n", i);
    }
    CHECK_EQ(send(fd, req, rlen, 0), (ssize_t)rlen);
    read_exact(fd, got, wlen);
    CHECK(memcmp(got, want, wlen) == 0);
    CHECK_EQ(batch_segments(fd), 1);
    close(fd);
    server_stop(&s);
}

static void check_owned_bytes(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != (char)(i % 253)) CHECK(!"owned bytes differ");
}

/* eddy_send_owned between two copies: in order, and the free function runs
 * exactly once, after the buffer was written (the conn's bytes_out then
 * covers it). */
static void test_send_owned_written(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);
    size_t n = 300000;
    send_str(fd, "owned 300000\n");
    read_exact(fd, got, n + 2);
    CHECK_EQ(got[0], '<');
    check_owned_bytes(got + 1, n);
    CHECK_EQ(got[n + 1], '>');
    CHECK_SOON(atomic_load(&st.frees) == 1);
    CHECK(atomic_load(&st.freed_at_bytes_out) >= (long)(n + 1));
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    server_stop(&s);
    CHECK_EQ(atomic_load(&st.frees), 1);
}

/* A client that does not read; 4 MiB handed over, then eddy_reset: the free
 * function runs exactly once, for the discarded buffer, before on_close. */
static void test_send_owned_reset(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "owned 4194304\n");
    usleep(50 * 1000);
    CHECK_EQ(atomic_load(&st.frees), 0);
    send_str(fd, "reset\n");
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_RESET);
    CHECK_EQ(atomic_load(&st.frees_before_close), 1);
    CHECK(atomic_load(&st.freed_at_bytes_out) < (long)OWNED_SIZE);
    close(fd);
    server_stop(&s);
    CHECK_EQ(atomic_load(&st.frees), 1);
}

/* File ranges in order between memory chunks; len 0 means to the end; the
 * caller closes its descriptors at once; 10 MiB of file leave although
 * socket_buffer_size is 8 MiB; then a clean EOF. */
static void test_sendfile(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);
    send_str(fd, "file\n");
    int how = -1;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    CHECK_EQ(how, 0);
    size_t tail = FILE_SIZE - 20000;
    CHECK_EQ(n, 4 + 5000 + 3 + tail + 4);
    CHECK(memcmp(got, "HEAD", 4) == 0);
    CHECK(memcmp(got + 4, file_bytes + 1000, 5000) == 0);
    CHECK(memcmp(got + 5004, "MID", 3) == 0);
    CHECK(memcmp(got + 5007, file_bytes + 20000, tail) == 0);
    CHECK(memcmp(got + 5007 + tail, "TAIL", 4) == 0);
    CHECK_EQ(atomic_load(&st.file_rcs), 63);
    CHECK_EQ(atomic_load(&st.file_queued), (long)n);
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_GRACEFUL);
    server_stop(&s);
}

/* A file range that runs past the end of the file: the bytes that exist are
 * sent, then the connection ends with ERROR -EIO rather than waiting forever. */
static void test_sendfile_short_file(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);
    send_str(fd, "short\n");
    int how = -1;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    CHECK_EQ(n, 1000);
    CHECK(memcmp(got, file_bytes + FILE_SIZE - 1000, 1000) == 0);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_ERROR);
    CHECK_EQ(atomic_load(&st.err), -EIO);
    close(fd);
    server_stop(&s);
}

/* eddy_conn_info: ids, fd, peer and local addresses, byte counts, times;
 * eddy_conn_set_data seen in every callback; two connections, two ids. */
static void test_conn_info(void)
{
    test_loop_server_t s;
    server_start(&s);
    int other = client_connect(s.port, 0);
    int fd = client_connect(s.port, 0);
    send_str(fd, "hello\n");
    char buf[8];
    read_exact(fd, buf, 6);
    CHECK(memcmp(buf, "world\n", 6) == 0);
    send_str(fd, "info\n");
    CHECK_SOON(atomic_load(&st.info_done) == 1);
    const eddy_conn_info_t *info = &st.info;
    CHECK_EQ(atomic_load(&st.data_ok), 1);
    CHECK(info->id > 0);
    CHECK(info->fd >= 0);
    CHECK_EQ(info->bytes_in, 11);
    CHECK_EQ(info->bytes_out, 6);
    CHECK_EQ(info->queued_bytes, 0);
    CHECK(info->connect_time <= info->last_recv_time);
    CHECK(info->connect_time <= info->last_send_time);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    CHECK_EQ(info->peer.u.sa.sa_family, AF_INET);
    CHECK_EQ(eddy_addr_port(&info->peer), ntohs(me.sin_port));
    CHECK_EQ(info->peer.u.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    CHECK_EQ(eddy_addr_port(&info->local), s.port);
    close(fd);
    close(other);
    CHECK_SOON(atomic_load(&st.closes) == 2);
    CHECK_EQ(atomic_load(&st.connects), 2);
    CHECK_EQ(atomic_load(&st.ids_distinct), 0);
    server_stop(&s);
}

int main(void)
{
    for (size_t i = 0; i < FILE_SIZE; i++)
        file_bytes[i] = (char)((i * 7 + i / 4096) & 0xff);
    /* Unlinked at once; the server opens it again through /proc. */
    char tmpl[] = "/tmp/eddy-conn-send-XXXXXX";
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    unlink(tmpl);
    CHECK_EQ(write(fd, file_bytes, FILE_SIZE), (ssize_t)FILE_SIZE);
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", fd);
    RUN(test_send_order_one_batch);
    RUN(test_pipelined_one_flush);
    RUN(test_send_owned_written);
    RUN(test_send_owned_reset);
    RUN(test_sendfile);
    RUN(test_sendfile_short_file);
    RUN(test_conn_info);
    close(fd);
    return 0;
}
