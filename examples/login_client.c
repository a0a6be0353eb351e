/*
 * login_client — logs in to login_server and reports how the connection ended.
 *
 *   login_client -p PORT -u NAME [-x EXTRA_BYTES]
 *
 * Sends "LOGIN NAME\n", then EXTRA_BYTES of junk lines pipelined right behind
 * it (without waiting for the answer), then "QUIT\n". Prints every line the
 * server sends and how the connection ended. A known user sees OK, an ECHO
 * per junk line and BYE; an unknown user sees exactly one ERR line, whatever
 * it pipelined. Either way the server closes, and the client must see a
 * clean EOF — not a reset. Exits 0 on a clean EOF, 1 otherwise.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define JUNK_LINE  64    /* bytes per junk line, '\n' included */
#define TIMEOUT_MS 10000 /* the whole exchange */

typedef struct client {
    eddy_loop_t *loop;
    int64_t timer;
    unsigned lines;
    bool timed_out;
    int status;
} client_t;

/* Queue EXTRA_BYTES of junk as lines of JUNK_LINE bytes (the last one
 * shorter), each ending in '\n'. */
static int send_junk(eddy_conn_t *c, size_t extra)
{
    char line[JUNK_LINE];
    for (size_t i = 0; extra > 0; i++) {
        size_t n = extra < JUNK_LINE ? extra : JUNK_LINE;
        memset(line, 'x', n);
        int m = snprintf(line, n, "junk %zu ", i);
        if (m >= 0 && (size_t)m < n) line[m] = 'x'; /* overwrite snprintf's '\0' */
        line[n - 1] = '\n';
        int rc = eddy_send(c, line, n);
        if (rc < 0) return rc;
        extra -= n;
    }
    return 0;
}

static void on_receive(eddy_conn_t *c, const char *line, size_t len, void *ud)
{
    client_t *cl = ud;
    cl->lines++;
    printf("< %.*s", (int)len, line); /* the line keeps its '\n' */
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    client_t *cl = ud;
    eddy_timer_clear(cl->loop, cl->timer);
    /* We never close first, so a clean end is the server's FIN after
     * everything we queued was written: reason "peer", no error. */
    bool clean = reason == EDDY_CLOSE_PEER && err == 0;
    if (clean)
        printf("closed by server: clean EOF after %u lines\n", cl->lines);
    else if (cl->timed_out)
        printf("no EOF within %d ms\n", TIMEOUT_MS);
    else
        printf("ended: %s, %s (%s) after %u lines\n", eddy_close_reason_name(reason),
               err ? eddy_err_name(err) : "no error", err ? eddy_strerror(err) : "-", cl->lines);
    fflush(stdout);
    cl->status = clean ? 0 : 1;
}

static void on_timeout(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_conn_t *c = ud;
    client_t *cl = eddy_conn_data(c);
    cl->timed_out = true;
    eddy_reset(c);
}

int main(int argc, char **argv)
{
    const char *port = NULL, *name = NULL;
    size_t extra = 0;
    bool bad = false;
    for (int opt; (opt = getopt(argc, argv, "p:u:x:")) != -1;) {
        char *end;
        if (opt == 'p') {
            port = optarg;
        } else if (opt == 'u') {
            name = optarg;
        } else if (opt == 'x') {
            extra = strtoull(optarg, &end, 10);
            bad |= *end != '\0' || optarg[0] == '-';
        } else {
            bad = true;
        }
    }
    if (bad || !port || !name || optind != argc) {
        fprintf(stderr, "usage: %s -p PORT -u NAME [-x EXTRA_BYTES]\n", argv[0]);
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "65536");

    eddy_loop_t *loop;
    int rc = eddy_loop_new(&loop);
    if (rc < 0) {
        fprintf(stderr, "login_client: %s\n", eddy_strerror(rc));
        return 1;
    }
    client_t cl = {.loop = loop, .status = 1};
    eddy_conn_callbacks_t cbs = {.on_receive = on_receive, .on_close = on_close};
    eddy_conn_t *c;
    rc = eddy_connect(loop, url, &opts, &cbs, &cl, &c);
    if (rc < 0) {
        fprintf(stderr, "login_client: %s: %s\n", url, eddy_strerror(rc));
        eddy_loop_free(loop);
        return 1;
    }
    eddy_conn_set_data(c, &cl);
    /* Queued now, written as soon as the connection is up. */
    eddy_send(c, "LOGIN ", 6);
    eddy_send(c, name, strlen(name));
    eddy_send(c, "\n", 1);
    rc = send_junk(c, extra);
    if (rc == 0) rc = eddy_send(c, "QUIT\n", 5);
    if (rc < 0) {
        fprintf(stderr, "login_client: queueing %zu bytes: %s\n", extra, eddy_strerror(rc));
        eddy_reset(c);
    }
    printf("> LOGIN %s, then %zu bytes of junk lines and QUIT\n", name, extra);
    fflush(stdout);
    cl.timer = eddy_timer_after(loop, TIMEOUT_MS, on_timeout, c);
    rc = eddy_loop_run(loop);
    eddy_loop_free(loop);
    return rc < 0 ? 1 : cl.status;
}
