/*
 * bench/http_load.c — closed-loop HTTP/1.1 load generator with pipelining,
 * for the pipelined rows of bench/http.sh, where wrk's latency figures are
 * wrong (wrk corrects for coordinated omission with an interval computed per
 * response, not per pipelined batch, and then skips the corrected samples
 * below its minimum: the percentiles come out too high, or as 0).
 *
 *   bench_http_load -h 127.0.0.1 -p PORT -c CONNS -D DEPTH -d SECONDS [-w WARMUP]
 *
 * Opens CONNS connections (TCP_NODELAY). Each writes DEPTH "GET /"
 * requests at once, reads the DEPTH responses (each must be "HTTP/1.1 200"
 * with a Content-Length and no "Connection: close"), records the batch's
 * round trip — from the write to the last byte of the last response — and
 * writes the next batch. Responses completed during the first WARMUP seconds
 * (default 0) are not counted; the measured interval is the SECONDS after
 * that, and starts once every connection is established. At the end it
 * prints name=value lines:
 *   requests requests_per_sec p50_us p99_us errors  (and conns, depth, seconds)
 * where the latencies are those of whole batches. errors counts connections
 * lost: refused, reset, closed early or answering something else. A
 * connection with an error is closed and not reopened.
 *
 * Single-threaded epoll; no dependency on eddy. Latencies go into a
 * log-linear histogram (1 µs resolution below 2 ms, 0.1% above).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load_common.h"

/* ---- connections ----------------------------------------------------------- */

#define RBUF_SIZE 65536

typedef struct conn {
    load_conn_t base;
    unsigned pending; /* responses of the batch still to come */
} conn_t;

static char *g_batch; /* DEPTH requests */
static size_t g_batch_len;
static unsigned g_depth;
static uint64_t g_requests_done;

static void batch_start(load_conn_t *c)
{
    ((conn_t *)c)->pending = g_depth;
}

static const char *batch_request(const load_conn_t *c, size_t *len)
{
    *len = g_batch_len;
    return g_batch;
}

/* The length of the whole response at the start of buf, 0 if it is not all
 * there yet, -1 if it is not a keep-alive "200" with a Content-Length. */
static long response_length(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len >= RBUF_SIZE / 2 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
    long body = -1;
    for (const char *h = memchr(buf, '\n', (size_t)(end - buf)); h && h < end;
         h = memchr(h + 1, '\n', (size_t)(end - h))) {
        const char *name = h + 1;
        size_t left = (size_t)(end + 2 - name);
        if (left > 15 && strncasecmp(name, "Content-Length:", 15) == 0)
            body = strtol(name + 15, NULL, 10);
        if (left > 11 && strncasecmp(name, "Connection:", 11) == 0) {
            const char *eol = memchr(name, '\r', left);
            if (eol && memmem(name + 11, (size_t)(eol - name - 11), "close", 5)) return -1;
        }
    }
    if (body < 0) return -1;
    size_t total = (size_t)(end + 4 - buf) + (size_t)body;
    return total <= len ? (long)total : 0;
}

static void batch_readable(load_conn_t *c)
{
    conn_t *h = (conn_t *)c;
    size_t n;
    while ((n = load_recv(c, RBUF_SIZE - c->got)) > 0) {
        c->got += n;
        size_t off = 0;
        long r;
        while ((r = response_length(c->rbuf + off, c->got - off)) > 0) {
            if (h->pending == 0) {
                load_fail(c, "a response nobody asked for", 0);
                return;
            }
            off += (size_t)r;
            h->pending--;
            if (g_measuring) g_requests_done++;
        }
        if (r < 0) {
            load_fail(c, "not a keep-alive 200 response with a Content-Length", 0);
            return;
        }
        memmove(c->rbuf, c->rbuf + off, c->got - off);
        c->got -= off;
        if (h->pending > 0) continue;
        if (c->got > 0) {
            load_fail(c, "bytes after the last response of the batch", 0);
            return;
        }
        load_answered(c);
        return; /* one batch per wakeup keeps connections fair */
    }
}

static const load_ops_t batch_ops = {.name = "http_load",
                                     .start = batch_start,
                                     .request = batch_request,
                                     .readable = batch_readable};

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_http_load -h HOST -p PORT -c CONNS -D DEPTH -d SECONDS "
                    "[-w WARMUP_SECONDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    int nconns = 1;
    double seconds = 5, warmup = 0;
    g_depth = 1;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:D:d:w:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = (int)load_number(optarg, 1, 65535, usage); break;
        case 'c': nconns = (int)load_number(optarg, 1, 100000, usage); break;
        case 'D': g_depth = (unsigned)load_number(optarg, 1, 256, usage); break;
        case 'd': seconds = load_number(optarg, 0.001, 86400, usage); break;
        case 'w': warmup = load_number(optarg, 0, 86400, usage); break;
        default: usage();
        }
    }
    if (optind != argc || port == 0) usage();

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "http_load: -h takes an IPv4 address, not '%s'\n", host);
        return 2;
    }

    char req[256];
    int reqlen = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host, port);
    g_batch_len = (size_t)reqlen * g_depth;
    g_batch = malloc(g_batch_len);
    conn_t *conns = calloc((size_t)nconns, sizeof(*conns));
    char *rbufs = malloc((size_t)nconns * RBUF_SIZE);
    if (g_batch == NULL || conns == NULL || rbufs == NULL) {
        fprintf(stderr, "http_load: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < g_depth; i++)
        memcpy(g_batch + (size_t)i * (size_t)reqlen, req, (size_t)reqlen);

    for (int i = 0; i < nconns; i++)
        conns[i].base.rbuf = rbufs + (size_t)i * RBUF_SIZE;
    if (load_run(&batch_ops, (char *)conns, sizeof *conns, nconns, &addr, warmup, seconds) != 0)
        return 1;

    double secs = load_seconds();
    printf("conns=%d\n", nconns);
    printf("depth=%u\n", g_depth);
    printf("seconds=%.3f\n", secs);
    printf("requests=%llu\n", (unsigned long long)g_requests_done);
    printf("requests_per_sec=%.0f\n", secs > 0 ? (double)g_requests_done / secs : 0.0);
    printf("p50_us=%.0f\n", hist_percentile(g_samples, 5000));
    printf("p99_us=%.0f\n", hist_percentile(g_samples, 9900));
    printf("errors=%llu\n", (unsigned long long)g_errors);
    free(rbufs);
    free(conns);
    free(g_batch);
    return 0;
}
