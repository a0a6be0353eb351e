/*
 * Back-pressure in both directions, over real sockets (the eddy loop in its
 * own thread, a blocking client in the main thread):
 *   - output: socket_buffer_size bounds the queued memory; a send that does
 *     not fit fails whole with -EDDY_EOUTPUT_FULL; on_buffer_full fires once
 *     when the queue crosses the high watermark, on_buffer_empty once when
 *     the client reads and the queue drains to the low watermark;
 *   - input: eddy_pause stops on_receive (also for packets already read and
 *     buffered when the pause came from inside on_receive), eddy_resume
 *     delivers everything that arrived meanwhile, in order.
 *
 * Checked against a conn.c broken on purpose, then restored: with
 * check_send() ignoring the limit the queue grows past it; with deliver()
 * not stopping on pause, packets "c" and "d" arrive while paused.
 */
#include <errno.h>
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

#define LIMIT      (256u * 1024) /* socket_buffer_size */
#define HIGH       (192u * 1024) /* buffer_high_watermark */
#define LOW        (32u * 1024)  /* buffer_low_watermark */
#define CHUNK      10000         /* 26 fit in LIMIT, with room for part of a 27th */
#define FILL_TICKS 40

static char pattern[LIMIT + 251];

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

static struct {
    atomic_int connects, closes, reason;
    atomic_int bad; /* an expectation on the loop thread failed */
    /* output */
    atomic_int full_events, empty_events;
    atomic_long queued_at_full, queued_at_empty;
    atomic_long max_queued;
    atomic_long sent; /* bytes accepted by eddy_send */
    atomic_int refusals;
    atomic_int refusals_with_room;
    atomic_int fill_done;
    atomic_int owned_frees;
    /* input */
    atomic_int packets;
    atomic_bool paused;
    char log[256]; /* packets in arrival order (loop thread writes, main reads after) */
    atomic_size_t log_len;
} st;

static eddy_conn_t *the_conn; /* loop thread only */
static int ticks;
static int64_t fill_timer;

static void fail_on_loop(int line)
{
    fprintf(stderr, "conn_backpressure.c:%d: expectation failed on the loop thread\n", line);
    atomic_fetch_add(&st.bad, 1);
}
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) fail_on_loop(__LINE__);                                                       \
    } while (0)

static void on_connect(eddy_conn_t *c, void *ud)
{
    atomic_fetch_add(&st.connects, 1);
    the_conn = c;
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    if (the_conn == c) the_conn = NULL;
    atomic_store(&st.reason, (int)reason);
    atomic_fetch_add(&st.closes, 1);
}

static void on_buffer_full(eddy_conn_t *c, void *ud)
{
    atomic_store(&st.queued_at_full, (long)eddy_conn_queued(c));
    atomic_fetch_add(&st.full_events, 1);
}

static void on_buffer_empty(eddy_conn_t *c, void *ud)
{
    atomic_store(&st.queued_at_empty, (long)eddy_conn_queued(c));
    atomic_fetch_add(&st.empty_events, 1);
}

static void never_free(void *ptr, void *ud)
{
    atomic_fetch_add(&st.owned_frees, 1);
}

/* Every tick: send CHUNK after CHUNK of the pattern stream until the limit
 * refuses one. The refusal must leave the queue as it was, though part of
 * the chunk would have fit. */
static void fill_tick(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_conn_t *c = the_conn;
    if (!c || ++ticks > FILL_TICKS) {
        eddy_timer_clear(loop, id);
        atomic_store(&st.fill_done, 1);
        return;
    }
    for (;;) {
        size_t before = eddy_conn_queued(c);
        long sent = atomic_load(&st.sent);
        int rc = eddy_send(c, pattern + sent % 251, CHUNK);
        size_t after = eddy_conn_queued(c);
        if (rc == 0) {
            EXPECT(after == before + CHUNK);
            EXPECT(after <= LIMIT);
            if ((long)after > atomic_load(&st.max_queued))
                atomic_store(&st.max_queued, (long)after);
            atomic_fetch_add(&st.sent, CHUNK);
            continue;
        }
        EXPECT(rc == -EDDY_EOUTPUT_FULL);
        EXPECT(after == before);        /* nothing partially queued */
        EXPECT(before + CHUNK > LIMIT); /* refused only when it does not fit */
        if (before < LIMIT) atomic_fetch_add(&st.refusals_with_room, 1); /* part would fit */
        /* Handed-over memory is refused the same way and stays ours. */
        static char owned[CHUNK];
        EXPECT(eddy_send_owned(c, owned, CHUNK, never_free, NULL) == -EDDY_EOUTPUT_FULL);
        EXPECT(eddy_conn_queued(c) == before);
        atomic_fetch_add(&st.refusals, 1);
        return;
    }
}

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    if (len == 5 && memcmp(data, "fill\n", 5) == 0) {
        /* A small send buffer, so the kernel absorbs little and the queue
         * stays between the watermarks while the client does not read. */
        eddy_conn_info_t info;
        eddy_conn_info(c, &info);
        int size = 16 * 1024;
        setsockopt(info.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        fill_timer = eddy_timer_tick(eddy_conn_loop(c), 2, fill_tick, NULL);
        CHECK(fill_timer > 0);
        return;
    }
    EXPECT(!atomic_load(&st.paused)); /* no on_receive while paused */
    size_t at = atomic_load(&st.log_len);
    CHECK(at + len <= sizeof st.log);
    memcpy(st.log + at, data, len);
    atomic_store(&st.log_len, at + len);
    atomic_fetch_add(&st.packets, 1);
    if (len == 6 && memcmp(data, "pause\n", 6) == 0) {
        EXPECT(eddy_pause(c) == 0);
        atomic_store(&st.paused, true);
    }
}

/* ---- the server thread ---------------------------------------------------- */

static void server_start(test_loop_server_t *s)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "package_eof", "\\n"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "socket_buffer_size", "262144"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "buffer_high_watermark", "196608"), 0);
    CHECK_EQ(eddy_port_options_set(&o, "buffer_low_watermark", "32768"), 0);
    o.linger_timeout = 200;
    eddy_conn_callbacks_t cbs = {.on_connect = on_connect,
                                 .on_receive = on_receive,
                                 .on_close = on_close,
                                 .on_buffer_full = on_buffer_full,
                                 .on_buffer_empty = on_buffer_empty};
    memset(&st, 0, sizeof st);
    ticks = 0;
    test_loop_server_start(s, NULL, &o, &cbs, NULL);
}

static void server_stop(test_loop_server_t *s)
{
    test_loop_server_stop(s);
    CHECK_EQ(atomic_load(&st.closes), atomic_load(&st.connects));
    CHECK_EQ(atomic_load(&st.bad), 0);
}

/* Run fn on the loop thread and wait until it has run. */
static atomic_int posted_done;

static void run_on_loop(test_loop_server_t *s, eddy_callback_fn fn)
{
    atomic_store(&posted_done, 0);
    CHECK_EQ(eddy_loop_post(s->loop, fn, NULL), 0);
    CHECK_SOON(atomic_load(&posted_done) == 1);
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

/* ---- the tests -------------------------------------------------------------- */

/* A client that does not read; the server fills its queue to the limit for
 * FILL_TICKS ticks. Then the client reads everything. */
static void test_output_limit_and_watermarks(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 16 * 1024);
    send_str(fd, "fill\n");
    CHECK_SOON(atomic_load(&st.fill_done) == 1);
    CHECK(atomic_load(&st.refusals) >= FILL_TICKS / 2);
    CHECK(atomic_load(&st.refusals_with_room) > 0);
    CHECK(atomic_load(&st.max_queued) <= (long)LIMIT);
    CHECK(atomic_load(&st.max_queued) > (long)(LIMIT - CHUNK));
    CHECK_EQ(atomic_load(&st.full_events), 1);
    long at_full = atomic_load(&st.queued_at_full);
    CHECK(at_full >= (long)HIGH && at_full < (long)(HIGH + CHUNK));
    CHECK_EQ(atomic_load(&st.empty_events), 0); /* not while nobody reads */
    CHECK_EQ(atomic_load(&st.owned_frees), 0);

    /* The client reads the whole stream, in order. */
    long total = atomic_load(&st.sent);
    static char buf[65536];
    for (long off = 0; off < total;) {
        size_t want = total - off < (long)sizeof buf ? (size_t)(total - off) : sizeof buf;
        ssize_t n = recv(fd, buf, want, 0);
        CHECK(n > 0);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern[(off + i) % 251]) CHECK(!"stream out of order");
        off += n;
    }
    CHECK_SOON(atomic_load(&st.empty_events) == 1);
    CHECK(atomic_load(&st.queued_at_empty) <= (long)LOW);
    CHECK_EQ(atomic_load(&st.full_events), 1);
    close(fd);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    server_stop(&s);
}

static void pause_cb(eddy_loop_t *loop, void *ud)
{
    CHECK(the_conn);
    CHECK_EQ(eddy_pause(the_conn), 0);
    CHECK_EQ(eddy_pause(the_conn), 0); /* twice is fine */
    atomic_store(&st.paused, true);
    atomic_store(&posted_done, 1);
}

static void resume_cb(eddy_loop_t *loop, void *ud)
{
    CHECK(the_conn);
    atomic_store(&st.paused, false);
    CHECK_EQ(eddy_resume(the_conn), 0);
    CHECK_EQ(eddy_resume(the_conn), 0); /* not paused: nothing to do */
    atomic_store(&posted_done, 1);
}

static bool log_is(const char *want)
{
    return atomic_load(&st.log_len) == strlen(want) && memcmp(st.log, want, strlen(want)) == 0;
}

static void test_pause_resume(void)
{
    test_loop_server_t s;
    server_start(&s);
    int fd = client_connect(s.port, 0);

    /* Paused inside on_receive with "c" and part of "dd" read and buffered. */
    send_str(fd, "a\nb\npause\nc\nd");
    CHECK_SOON(atomic_load(&st.packets) == 3);
    usleep(50 * 1000);
    send_str(fd, "d\ne\nf\n"); /* arrives while paused */
    usleep(100 * 1000);
    CHECK_EQ(atomic_load(&st.packets), 3);
    run_on_loop(&s, resume_cb);
    CHECK_SOON(atomic_load(&st.packets) == 7);
    CHECK(log_is("a\nb\npause\nc\ndd\ne\nf\n"));

    /* Paused from outside a callback; the client sends and hangs up. The
     * close waits for the input, which comes after resume, then on_close. */
    run_on_loop(&s, pause_cb);
    send_str(fd, "g\nh\n");
    close(fd);
    usleep(100 * 1000);
    CHECK_EQ(atomic_load(&st.packets), 7);
    CHECK_EQ(atomic_load(&st.closes), 0);
    run_on_loop(&s, resume_cb);
    CHECK_SOON(atomic_load(&st.closes) == 1);
    CHECK(log_is("a\nb\npause\nc\ndd\ne\nf\ng\nh\n"));
    CHECK_EQ(atomic_load(&st.reason), EDDY_CLOSE_PEER);
    server_stop(&s);
}

int main(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(i % 251);
    RUN(test_output_limit_and_watermarks);
    RUN(test_pause_resume);
    return 0;
}
