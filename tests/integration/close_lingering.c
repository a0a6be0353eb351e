/*
 * The first promise: data queued before a close is delivered.
 *
 * A client sends "GET <size>\n" followed by junk the server never reads
 * (1 KiB to 1 MiB), waits 10 ms, then reads. The server answers <size> bytes
 * and closes at once. The client must receive every byte and then a clean
 * EOF — never a reset — for replies of 100 B, 64 KiB and 1 MiB.
 *
 * The same trials run against a naive server (send, then close()) as the
 * control: with unread input left behind it must show the reset (and at
 * 1 MiB the truncation), proving the test can fail.
 *
 * EDDY_CLOSE_TRIALS sets the trials per combination (default 10).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <eddy.h>

#include "loop_server.h"
#include "test.h"
#include "testutil.h"

#define MAX_REPLY (1024 * 1024)

static char reply[MAX_REPLY];
static atomic_int closes[EDDY_CLOSE_REASON_COUNT];

static size_t parse_size(const char *req, size_t len)
{
    char tmp[32];
    size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, req, n);
    tmp[n] = '\0';
    size_t size = 0;
    if (sscanf(tmp, "GET %zu", &size) != 1 || size > MAX_REPLY) return 0;
    return size;
}

/* ---- eddy server (own thread, own loop) ------------------------------------ */

static void on_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    size_t size = parse_size(data, len);
    CHECK(eddy_send(c, reply, size) == 0);
    CHECK(eddy_close(c) == 0);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    atomic_fetch_add(&closes[reason], 1);
}

static void start_eddy_server(test_loop_server_t *s)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    CHECK(eddy_port_options_set(&o, "open_eof_split", "1") == 0);
    CHECK(eddy_port_options_set(&o, "package_eof", "\\n") == 0);
    eddy_conn_callbacks_t cbs = {.on_receive = on_receive, .on_close = on_close};
    test_loop_server_start(s, NULL, &o, &cbs, NULL);
}

/* ---- naive server: send what the socket takes, then close() ----------------- */

typedef struct naive {
    int fd;
    int port;
    pthread_t thread;
} naive_t;

static void *naive_thread(void *arg)
{
    naive_t *n = arg;
    for (;;) {
        int c = accept(n->fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        ssize_t got = recv(c, buf, sizeof buf, 0);
        if (got > 0) {
            size_t size = parse_size(buf, (size_t)got);
            fcntl(c, F_SETFL, O_NONBLOCK);
            ssize_t w = send(c, reply, size, MSG_NOSIGNAL);
            (void)w;
        }
        close(c);
    }
}

static void naive_start(naive_t *n)
{
    n->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    socklen_t len = sizeof sin;
    CHECK(bind(n->fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    CHECK(listen(n->fd, 64) == 0);
    CHECK(getsockname(n->fd, (struct sockaddr *)&sin, &len) == 0);
    n->port = ntohs(sin.sin_port);
    CHECK(pthread_create(&n->thread, NULL, naive_thread, n) == 0);
}

static void naive_stop(naive_t *n)
{
    shutdown(n->fd, SHUT_RDWR);
    pthread_join(n->thread, NULL);
    close(n->fd);
}

/* ---- the client ----------------------------------------------------------- */

typedef struct outcome {
    int trials, intact, reset, truncated;
} outcome_t;

static char junk[MAX_REPLY];
static char got[MAX_REPLY];

static void trial(int port, size_t size, size_t junk_len, outcome_t *out)
{
    int fd = test_connect(port, 5000);
    CHECK(fd >= 0);
    /* Request and junk in one send, so the junk is there when the server
     * reads; as much as the kernel takes without blocking (the request
     * always fits). The server never reads the junk. */
    char req[64];
    int rlen = snprintf(req, sizeof req, "GET %zu\n", size);
    memcpy(junk, req, (size_t)rlen);
    ssize_t w = send(fd, junk, junk_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    CHECK(w >= rlen);
    usleep(10000);
    int how;
    size_t n = test_read_until_close(fd, got, sizeof got, &how);
    close(fd);
    out->trials++;
    bool bytes_ok = n == size && memcmp(got, reply, size) == 0;
    if (bytes_ok && how == 0) out->intact++;
    if (how == ECONNRESET) out->reset++;
    if (n < size) out->truncated++;
}

/* Junk sizes from first_junk on: the naive control skips 1 KiB, which its
 * single 4 KiB read swallows whole — no unread input, so no reset. */
static void run_trials(int port, int per_combo, size_t first_junk, outcome_t *out, outcome_t *big)
{
    static const size_t sizes[] = {100, 64 * 1024, 1024 * 1024};
    static const size_t junks[] = {1024, 64 * 1024, 1024 * 1024};
    for (size_t s = 0; s < 3; s++)
        for (size_t j = first_junk; j < 3; j++)
            for (int t = 0; t < per_combo; t++)
                trial(port, sizes[s], junks[j], sizes[s] == 1024 * 1024 ? big : out);
}

static void test_naive_close_loses_data(void)
{
    naive_t n;
    naive_start(&n);
    outcome_t small = {0}, big = {0};
    run_trials(n.port, 5, 1, &small, &big);
    naive_stop(&n);
    printf("naive: %d small trials, %d intact, %d reset; %d 1MiB trials, %d reset, %d truncated\n",
           small.trials, small.intact, small.reset, big.trials, big.reset, big.truncated);
    /* The control must fail, or this test proves nothing. */
    CHECK(small.reset >= small.trials * 9 / 10);
    CHECK(big.truncated >= big.trials * 9 / 10);
}

static void test_eddy_close_delivers_everything(void)
{
    const char *env = getenv("EDDY_CLOSE_TRIALS");
    int per_combo = env ? atoi(env) : 10;
    test_loop_server_t s;
    start_eddy_server(&s);
    outcome_t small = {0}, big = {0};
    run_trials(s.port, per_combo, 0, &small, &big);
    test_loop_server_stop(&s);
    printf("eddy: %d small trials, %d intact, %d reset; %d 1MiB trials, %d intact, %d reset\n",
           small.trials, small.intact, small.reset, big.trials, big.intact, big.reset);
    CHECK_EQ(small.intact, small.trials);
    CHECK_EQ(big.intact, big.trials);
    CHECK_EQ(closes[EDDY_CLOSE_GRACEFUL], small.trials + big.trials);
}

int main(void)
{
    for (size_t i = 0; i < sizeof reply; i++)
        reply[i] = (char)('a' + i % 26);
    memset(junk, 'j', sizeof junk);
    RUN(test_naive_close_loses_data);
    RUN(test_eddy_close_delivers_everything);
    return 0;
}
