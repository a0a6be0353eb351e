/*
 * length_rpc — request/response over a length header, server and client.
 *
 *   length_rpc server [-p PORT]             answer requests (PORT 0 picks a free port)
 *   length_rpc client -p PORT [-n COUNT]    send COUNT requests, check every answer
 *   length_rpc demo [-n COUNT]              both in one process, on one loop
 *
 * Every message is a 4-byte big-endian body length followed by the body
 * (open_length_check, package_length_type 'N', package_length_offset 0,
 * package_body_offset 4). The server answers each request with its body
 * upper-cased, in the same framing. The client keeps up to PIPELINE requests
 * in flight, checks each answer against the request it sent, prints a
 * summary and exits 0 if every answer was right.
 */
#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define HEADER_LEN  4
#define MAX_BODY    128   /* the client's requests are at most this long */
#define PIPELINE    64    /* requests in flight at once */
#define DEADLINE_MS 30000 /* the client gives up after this long */

static void set_framing(eddy_port_options_t *opts)
{
    eddy_port_options_init(opts);
    eddy_port_options_set(opts, "open_length_check", "1");
    eddy_port_options_set(opts, "package_length_type", "N");
    eddy_port_options_set(opts, "package_length_offset", "0");
    eddy_port_options_set(opts, "package_body_offset", "4");
    eddy_port_options_set(opts, "package_max_length", "65536");
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

/* ---- server ----------------------------------------------------------------- */

static void free_reply(void *ptr, void *ud)
{
    free(ptr);
}

/* packet is the whole message, header included: framing guarantees that
 * len == 4 + the length in the header. */
static void server_receive(eddy_conn_t *c, const char *packet, size_t len, void *ud)
{
    char *reply = malloc(len);
    if (!reply) {
        eddy_close(c);
        return;
    }
    memcpy(reply, packet, HEADER_LEN); /* same body length */
    for (size_t i = HEADER_LEN; i < len; i++)
        reply[i] = (char)toupper((unsigned char)packet[i]);
    /* Handed over, not copied: eddy frees it once written or discarded. On
     * error nothing was queued and the memory is still ours. */
    if (eddy_send_owned(c, reply, len, free_reply, NULL) < 0) {
        free(reply);
        eddy_close(c);
    }
}

/* ---- client ----------------------------------------------------------------- */

typedef struct client {
    eddy_loop_t *loop;
    eddy_listener_t *server; /* demo mode: shut down when the client is done */
    unsigned count;          /* requests to send */
    unsigned sent, answered, bad;
    uint64_t start_ns;
    int64_t deadline;
    bool done; /* every answer arrived and was checked */
    int status;
} client_t;

/* Request i: "request <i> " and then (i % 97) letters, so lengths vary. */
static size_t make_body(unsigned i, char body[MAX_BODY])
{
    int n = snprintf(body, MAX_BODY, "request %u ", i);
    for (unsigned k = 0; k < i % 97; k++)
        body[n++] = (char)('a' + (i + k) % 26);
    return (size_t)n;
}

static int send_request(eddy_conn_t *c, unsigned i)
{
    char msg[HEADER_LEN + MAX_BODY];
    size_t n = make_body(i, msg + HEADER_LEN);
    put_be32(msg, (uint32_t)n);
    return eddy_send(c, msg, HEADER_LEN + n);
}

static void fill_pipeline(eddy_conn_t *c, client_t *cl)
{
    while (cl->sent < cl->count && cl->sent - cl->answered < PIPELINE) {
        if (send_request(c, cl->sent) < 0) {
            eddy_close(c);
            return;
        }
        cl->sent++;
    }
}

static void client_connect(eddy_conn_t *c, void *ud)
{
    client_t *cl = ud;
    cl->start_ns = eddy_clock_ns();
    fill_pipeline(c, cl);
    if (cl->count == 0) {
        cl->done = true;
        eddy_close(c);
    }
}

static void client_receive(eddy_conn_t *c, const char *packet, size_t len, void *ud)
{
    client_t *cl = ud;
    char want[MAX_BODY];
    size_t n = make_body(cl->answered, want);
    for (size_t i = 0; i < n; i++)
        want[i] = (char)toupper((unsigned char)want[i]);
    if (len - HEADER_LEN != n || memcmp(packet + HEADER_LEN, want, n) != 0) {
        if (cl->bad++ == 0)
            fprintf(stderr, "length_rpc: answer %u is wrong: \"%.*s\"\n", cl->answered,
                    (int)(len - HEADER_LEN), packet + HEADER_LEN);
    }
    if (++cl->answered == cl->count) {
        cl->done = true;
        eddy_close(c); /* we heard the last answer, so we hang up */
        return;
    }
    fill_pipeline(c, cl);
}

static void client_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    client_t *cl = ud;
    eddy_timer_clear(cl->loop, cl->deadline);
    double secs = (double)(eddy_clock_ns() - cl->start_ns) / 1e9;
    if (cl->done) {
        printf("length_rpc: %u requests, %u answers, %u wrong, %.3f s (%.0f req/s)\n", cl->count,
               cl->answered, cl->bad, secs, secs > 0 ? cl->answered / secs : 0.0);
    } else {
        printf("length_rpc: connection ended after %u of %u answers: %s (%s)\n", cl->answered,
               cl->count, eddy_close_reason_name(reason), err ? eddy_strerror(err) : "no error");
    }
    fflush(stdout);
    cl->status = cl->done && cl->bad == 0 ? 0 : 1;
    if (cl->server) eddy_listener_shutdown(cl->server);
}

static void client_deadline(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_conn_t *c = ud;
    fprintf(stderr, "length_rpc: no answer within %d ms\n", DEADLINE_MS);
    eddy_reset(c);
}

static int start_client(eddy_loop_t *loop, int port, client_t *cl)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    eddy_port_options_t opts;
    set_framing(&opts);
    eddy_conn_callbacks_t cbs = {
        .on_connect = client_connect, .on_receive = client_receive, .on_close = client_close};
    eddy_conn_t *c;
    int rc = eddy_connect(loop, url, &opts, &cbs, cl, &c);
    if (rc < 0) {
        fprintf(stderr, "length_rpc: %s: %s\n", url, eddy_strerror(rc));
        return rc;
    }
    cl->loop = loop;
    cl->start_ns = eddy_clock_ns();
    cl->deadline = eddy_timer_after(loop, DEADLINE_MS, client_deadline, c);
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_listener_t *listener = ud;
    eddy_listener_shutdown(listener); /* the loop ends once every close is done */
    eddy_signal_stop(loop, SIGINT);
    eddy_signal_stop(loop, SIGTERM);
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s server [-p PORT]\n"
            "       %s client -p PORT [-n COUNT]\n"
            "       %s demo [-n COUNT]\n",
            prog, prog, prog);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(argv[0]);
    const char *mode = argv[1];
    bool server = strcmp(mode, "server") == 0, client = strcmp(mode, "client") == 0;
    bool demo = strcmp(mode, "demo") == 0;
    if (!server && !client && !demo) return usage(argv[0]);
    int port = client ? -1 : 0;
    unsigned long count = 1000;
    optind = 2;
    for (int opt; (opt = getopt(argc, argv, "p:n:")) != -1;) {
        char *end;
        if (opt == 'p' && !demo)
            port = (int)strtol(optarg, &end, 10);
        else if (opt == 'n' && !server)
            count = strtoul(optarg, &end, 10);
        else
            return usage(argv[0]);
        if (*end != '\0' || port > 65535 || count > 100000000) return usage(argv[0]);
    }
    if (port < 0 || optind != argc) return usage(argv[0]);

    eddy_loop_t *loop;
    int rc = eddy_loop_new(&loop);
    if (rc < 0) {
        fprintf(stderr, "length_rpc: %s\n", eddy_strerror(rc));
        return 1;
    }
    client_t cl = {.count = (unsigned)count, .status = 1};
    eddy_listener_t *listener = NULL;
    if (server || demo) {
        char url[64];
        snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
        eddy_port_options_t opts;
        set_framing(&opts);
        eddy_conn_callbacks_t cbs = {.on_receive = server_receive};
        rc = eddy_listen(loop, url, &opts, &cbs, NULL, &listener);
        if (rc < 0) {
            fprintf(stderr, "length_rpc: %s: %s\n", url, eddy_strerror(rc));
            eddy_loop_free(loop);
            return 1;
        }
        port = eddy_listener_port(listener);
        if (server) { /* before the listening line: a test may signal right after it */
            eddy_signal_start(loop, SIGINT, on_signal, listener);
            eddy_signal_start(loop, SIGTERM, on_signal, listener);
        }
        printf("listening on 127.0.0.1:%d\n", port);
        fflush(stdout);
    }
    /* In demo mode the client's on_close shuts the server down, and the loop
     * ends by itself once nothing is left. */
    if (demo) cl.server = listener;
    if (client || demo) {
        rc = start_client(loop, port, &cl);
        if (rc < 0 && demo) eddy_listener_shutdown(listener);
    }
    if (rc == 0) rc = eddy_loop_run(loop);
    eddy_loop_free(loop);
    if (rc < 0) return 1;
    return server ? 0 : cl.status;
}
