/*
 * echo_server — echoes every '\n'-terminated line back to its sender.
 *
 *   echo_server [-p PORT]      (PORT 0, the default, picks a free port)
 *
 * Lines are cut by eddy's EOF framing (open_eof_split), so on_receive gets
 * exactly one line however the bytes arrive. SIGINT or SIGTERM closes every
 * connection gracefully and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <eddy.h>

static void on_receive(eddy_conn_t *c, const char *line, size_t len, void *ud)
{
    if (eddy_send(c, line, len) < 0) eddy_close(c); /* the client stopped reading */
}

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_listener_t *listener = ud;
    eddy_listener_shutdown(listener); /* the loop ends once every close is done */
    eddy_signal_stop(loop, SIGINT);
    eddy_signal_stop(loop, SIGTERM);
}

int main(int argc, char **argv)
{
    const char *port = "0";
    for (int opt; (opt = getopt(argc, argv, "p:")) != -1;) {
        if (opt != 'p') {
            fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
            return 2;
        }
        port = optarg;
    }
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "65536");

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    eddy_loop_t *loop;
    eddy_listener_t *listener;
    eddy_conn_callbacks_t cbs = {.on_receive = on_receive};
    int rc = eddy_loop_new(&loop);
    if (rc == 0) rc = eddy_listen(loop, url, &opts, &cbs, NULL, &listener);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s: %s\n", url, eddy_strerror(rc));
        return 1;
    }
    eddy_signal_start(loop, SIGINT, on_signal, listener);
    eddy_signal_start(loop, SIGTERM, on_signal, listener);
    printf("listening on 127.0.0.1:%d\n", eddy_listener_port(listener));
    fflush(stdout);
    rc = eddy_loop_run(loop);
    eddy_loop_free(loop);
    return rc < 0 ? 1 : 0;
}
