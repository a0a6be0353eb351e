/* The echo service: every '\n'-terminated line comes back to its sender. */
#include <stdio.h>

#include "demo.h"

static void echo_connect(eddy_server_t *s, eddy_session_t session, void *ud)
{
    demo_log_open(s, session, "echo");
}

static void echo_receive(eddy_server_t *s, eddy_session_t session, const char *line, size_t len,
                         void *ud)
{
    if (eddy_server_send(s, session, line, len) < 0) eddy_server_close(s, session);
}

static void echo_close(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason,
                       int err, void *ud)
{
    demo_log_close(s, session, reason, err, "echo");
}

int demo_echo_listen(demo_t *d, int port)
{
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "65536");
    eddy_server_callbacks_t cbs = {
        .on_connect = echo_connect, .on_receive = echo_receive, .on_close = echo_close};
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    int index = eddy_server_listen(d->server, url, &opts, &cbs, d);
    if (index < 0) return index;
    d->echo_port = eddy_server_port(d->server, index);
    return 0;
}
