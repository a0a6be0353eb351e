/*
 * Framing over a real socket, and how framing errors and every other close
 * are counted:
 *   - EOF split, length header ('N') and a user length function deliver
 *     identical packets whether the client sends one byte per send() (with
 *     TCP_NODELAY and a short sleep every few bytes, so the server sees many
 *     partial reads) or the whole stream in one send();
 *   - a packet over package_max_length closes gracefully: on_close GRACEFUL
 *     with -EDDY_EPACKET_TOO_BIG, and the client, although it sent lots the
 *     server never read, gets a clean EOF, not a reset (checked against a
 *     conn.c that closed at once on a framing error: the client's send then
 *     failed with a reset); eddy_listener_stats counts it in framing_errors;
 *   - stats closed[] counts one close of every reason.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define MAX_PACKETS    1024
#define RX_SIZE        (1024 * 1024)
#define MAX_LEN        4096 /* package_max_length of the stream tests */
#define STREAM_PACKETS 60

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

/* Packets as delivered: written on the loop thread, read by the main thread
 * once on_close has been counted (the atomic orders them). */
static char rx[RX_SIZE];
static size_t rx_len, rx_count, rx_lens[MAX_PACKETS];

static struct {
    atomic_int connects, closes;
    atomic_int reason, err;
    atomic_int packets;
    atomic_int bad_length_calls; /* length function called beyond package_max_length */
    atomic_int stats_done;
    eddy_net_stats_t stats; /* written before stats_done is set */
} st;

static eddy_listener_t *the_listener;

static void on_connect(eddy_conn_t *c, void *ud)
{
    atomic_fetch_add(&st.connects, 1);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    atomic_store(&st.reason, (int)reason);
    atomic_store(&st.err, err);
    atomic_fetch_add(&st.closes, 1);
}

static char big[4u << 20];

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    CHECK(rx_count < MAX_PACKETS && rx_len + len <= RX_SIZE);
    memcpy(rx + rx_len, data, len);
    rx_len += len;
    rx_lens[rx_count++] = len;
    atomic_fetch_add(&st.packets, 1);
    /* Commands of the stats test. */
    if (len == 6 && memcmp(data, "reset\n", 6) == 0) CHECK_EQ(eddy_reset(c), 0);
    if (len == 6 && memcmp(data, "close\n", 6) == 0) CHECK_EQ(eddy_close(c), 0);
    if (len == 6 && memcmp(data, "flood\n", 6) == 0) {
        CHECK_EQ(eddy_send(c, big, sizeof big), 0);
        CHECK_EQ(eddy_close(c), 0);
    }
}

/* A user framing: 'T', a 16-bit little-endian body length, the body. Any
 * other first byte is a bad length. */
static int length_ud;

static ssize_t tlv_length(const char *data, size_t len, void *ud)
{
    if (ud != &length_ud || len > MAX_LEN) atomic_fetch_add(&st.bad_length_calls, 1);
    if (len < 1) return 0;
    if (data[0] != 'T') return -EDDY_EBADLEN;
    if (len < 3) return 0;
    return 3 + ((unsigned char)data[1] | (unsigned char)data[2] << 8);
}

/* ---- the server thread ---------------------------------------------------- */

static void server_start(test_loop_server_t *s, const eddy_port_options_t *o)
{
    eddy_conn_callbacks_t cbs = {
        .on_connect = on_connect, .on_receive = on_receive, .on_close = on_close};
    memset(&st, 0, sizeof st);
    rx_len = rx_count = 0;
    test_loop_server_start(s, NULL, o, &cbs, NULL);
    the_listener = s->listener;
}

static void server_stop(test_loop_server_t *s)
{
    test_loop_server_stop(s);
    CHECK_EQ(atomic_load(&st.closes), atomic_load(&st.connects));
}

static void stats_cb(eddy_loop_t *loop, void *ud)
{
    eddy_listener_stats(the_listener, &st.stats);
    atomic_store(&st.stats_done, 1);
}

static const eddy_net_stats_t *server_stats(test_loop_server_t *s)
{
    atomic_store(&st.stats_done, 0);
    CHECK_EQ(eddy_loop_post(s->loop, stats_cb, NULL), 0);
    CHECK_SOON(atomic_load(&st.stats_done) == 1);
    return &st.stats;
}

/* ---- the client ------------------------------------------------------------ */

static int client_connect(int port, int rcvbuf)
{
    int fd = test_connect_opts(port, 5000, rcvbuf, true);
    CHECK(fd >= 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    CHECK_EQ(test_write_all(fd, s, strlen(s)), 0);
}

static void abort_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
}

/* ---- streams ---------------------------------------------------------------- */

typedef struct stream {
    char data[256 * 1024];
    size_t len;
    size_t count, lens[MAX_PACKETS]; /* the packets it holds */
} stream_t;

static stream_t stream;

static void stream_add(stream_t *s, const char *p, size_t len)
{
    CHECK(s->len + len <= sizeof s->data && s->count < MAX_PACKETS);
    memcpy(s->data + s->len, p, len);
    s->len += len;
    s->lens[s->count++] = len;
}

/* Body bytes of packet i: varied, never "\r\n" (a lone '\r' now and then,
 * so a partial EOF match has to be undone). */
static size_t body(char *out, int i, size_t len)
{
    for (size_t j = 0; j < len; j++)
        out[j] = j % 29 == 28 ? '\r' : (char)('a' + (i + j) % 26);
    return len;
}

static void make_eof_stream(stream_t *s)
{
    memset(s, 0, sizeof *s);
    char p[1024];
    for (int i = 0; i < STREAM_PACKETS; i++) {
        size_t n = body(p, i, (size_t)(i * 37) % 400);
        memcpy(p + n, "\r\n", 2);
        stream_add(s, p, n + 2);
    }
}

static void make_length_stream(stream_t *s)
{
    memset(s, 0, sizeof *s);
    char p[1024];
    for (int i = 0; i < STREAM_PACKETS; i++) {
        uint32_t n = (uint32_t)(i * 53) % 400; /* includes empty bodies */
        uint32_t be = htonl(n);
        memcpy(p, &be, 4);
        body(p + 4, i, n);
        stream_add(s, p, 4 + n);
    }
}

static void make_tlv_stream(stream_t *s)
{
    memset(s, 0, sizeof *s);
    char p[1024];
    for (int i = 0; i < STREAM_PACKETS; i++) {
        size_t n = (size_t)(i * 71) % 400;
        p[0] = 'T';
        p[1] = (char)(n & 0xff);
        p[2] = (char)(n >> 8);
        body(p + 3, i, n);
        stream_add(s, p, 3 + n);
    }
}

/* Send the stream one byte per send() or all at once, shut down, read to
 * the server's EOF; then CHECK the server got exactly the stream's packets. */
static void run_stream(const eddy_port_options_t *o, const stream_t *s, bool bytewise)
{
    test_loop_server_t srv;
    server_start(&srv, o);
    int fd = client_connect(srv.port, 0);
    if (bytewise) {
        for (size_t i = 0; i < s->len; i++) {
            CHECK_EQ(send(fd, s->data + i, 1, 0), 1);
            if (i % 7 == 6) usleep(100);
        }
    } else {
        CHECK_EQ(send(fd, s->data, s->len, 0), (ssize_t)s->len);
    }
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    char buf[16];
    int how = -1;
    CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 0);
    CHECK_EQ(how, 0);
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_PEER);
    CHECK_EQ(rx_count, s->count);
    CHECK_EQ(rx_len, s->len);
    for (size_t i = 0; i < s->count; i++)
        CHECK_EQ(rx_lens[i], s->lens[i]);
    CHECK(memcmp(rx, s->data, s->len) == 0);
    CHECK_EQ(atomic_load(&st.bad_length_calls), 0);
    const eddy_net_stats_t *stats = server_stats(&srv);
    CHECK_EQ(stats->packets_in, s->count);
    CHECK_EQ(stats->bytes_in, s->len);
    CHECK_EQ(stats->framing_errors, 0);
    server_stop(&srv);
}

static void stream_options(eddy_port_options_t *o)
{
    eddy_port_options_init(o);
    o->framing.package_max_length = MAX_LEN;
    o->linger_timeout = 1000;
}

static void test_eof_split(void)
{
    eddy_port_options_t o;
    stream_options(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\r\\n"), 0);
    make_eof_stream(&stream);
    run_stream(&o, &stream, true);
    run_stream(&o, &stream, false);
}

static void test_length_header(void)
{
    eddy_port_options_t o;
    stream_options(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_length_check", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_length_type", "N"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_length_offset", "0"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_body_offset", "4"), 0);
    make_length_stream(&stream);
    run_stream(&o, &stream, true);
    run_stream(&o, &stream, false);
}

static void test_length_function(void)
{
    eddy_port_options_t o;
    stream_options(&o);
    o.framing.mode = EDDY_FRAME_LENGTH;
    o.framing.length_fn = tlv_length;
    o.framing.length_ud = &length_ud;
    make_tlv_stream(&stream);
    run_stream(&o, &stream, true);
    run_stream(&o, &stream, false);
}

/* A packet over package_max_length, followed by far more input than the
 * server will ever read: a graceful close with -EDDY_EPACKET_TOO_BIG, and a
 * clean EOF for the client. A length function's error counts the same way. */
static void test_package_too_big(void)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\n"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_max_length", "1024"), 0);
    o.linger_timeout = 2000;
    test_loop_server_t s;
    server_start(&s, &o);
    int fd = client_connect(s.port, 0);
    size_t n = 600 * 1024;
    char *junk = malloc(n);
    CHECK(junk);
    memset(junk, 'x', n);
    memcpy(junk, "ok\n", 3);
    CHECK_EQ(test_write_all(fd, junk, n), 0);
    free(junk);
    char buf[16];
    int how = -1;
    CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 0);
    CHECK_EQ(how, 0); /* a clean EOF, not ECONNRESET */
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_GRACEFUL);
    CHECK_EQ(atomic_load(&st.err), -EDDY_EPACKET_TOO_BIG);
    CHECK_EQ(atomic_load(&st.packets), 1);
    const eddy_net_stats_t *stats = server_stats(&s);
    CHECK_EQ(stats->framing_errors, 1);
    CHECK_EQ(stats->closed[EDDY_CLOSE_GRACEFUL], 1);
    server_stop(&s);

    /* The length function's verdict: -EDDY_EBADLEN. */
    stream_options(&o);
    o.framing.mode = EDDY_FRAME_LENGTH;
    o.framing.length_fn = tlv_length;
    o.framing.length_ud = &length_ud;
    server_start(&s, &o);
    fd = client_connect(s.port, 0);
    CHECK_EQ(test_write_all(fd, "T\x02\x00hiZZZ", 8), 0); /* one packet, then garbage */
    CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 0);
    CHECK_EQ(how, 0);
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_GRACEFUL);
    CHECK_EQ(atomic_load(&st.err), -EDDY_EBADLEN);
    CHECK_EQ(atomic_load(&st.packets), 1);
    CHECK_EQ(server_stats(&s)->framing_errors, 1);
    server_stop(&s);
}

/* One connection per close reason on one listener; stats count each. */
static void test_stats_per_reason(void)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\n"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_max_length", "1024"), 0);
    o.linger_timeout = 200;
    o.close_flush_timeout = 300;
    test_loop_server_t s;
    server_start(&s, &o);
    char buf[2048];
    int how;

    /* GRACEFUL: a packet too big; the client reads the EOF and closes. */
    int fd = client_connect(s.port, 0);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(test_write_all(fd, buf, sizeof buf), 0);
    CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 0);
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);

    /* PEER: the client closes first. */
    fd = client_connect(s.port, 0);
    send_str(fd, "hi\n");
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 2);

    /* RESET: eddy_reset. */
    fd = client_connect(s.port, 0);
    send_str(fd, "reset\n");
    CHECK_SOON(atomic_load(&st.closes) == 3);
    close(fd);

    /* ERROR: the client resets. */
    fd = client_connect(s.port, 0);
    send_str(fd, "hi\n");
    CHECK_SOON(atomic_load(&st.packets) == 3);
    abort_close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 4);

    /* LINGER_TIMEOUT: the client reads the EOF but does not close. */
    fd = client_connect(s.port, 0);
    send_str(fd, "close\n");
    CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 0);
    CHECK_SOON(atomic_load(&st.closes) == 5);
    close(fd);

    /* FLUSH_TIMEOUT: the client does not read 4 MiB. */
    fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "flood\n");
    CHECK_SOON(atomic_load(&st.closes) == 6);
    close(fd);

    const eddy_net_stats_t *stats = server_stats(&s);
    CHECK_EQ(stats->accepted, 6);
    CHECK_EQ(stats->active, 0);
    for (int r = 0; r < EDDY_CLOSE_REASON_COUNT; r++) {
        if (stats->closed[r] != 1)
            fprintf(stderr, "closed[%s] = %llu\n", eddy_close_reason_name((eddy_close_reason_t)r),
                    (unsigned long long)stats->closed[r]);
        CHECK_EQ(stats->closed[r], 1);
    }
    CHECK_EQ(stats->framing_errors, 1);
    CHECK_EQ(stats->packets_in, 5); /* hi, reset, hi, close, flood */
    CHECK(stats->bytes_out > 0);
    server_stop(&s);
}

int main(void)
{
    RUN(test_eof_split);
    RUN(test_length_header);
    RUN(test_length_function);
    RUN(test_package_too_big);
    RUN(test_stats_per_reason);
    return 0;
}
