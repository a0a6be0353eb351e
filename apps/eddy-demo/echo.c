/* The echo service: every '\n'-terminated line comes back to its sender. */
#include "demo.h"

static void echo_connect(eddy_conn_t *c, void *ud)
{
    demo_log_open(c, ud);
}

static void echo_receive(eddy_conn_t *c, const char *line, size_t len, void *ud)
{
    if (eddy_send(c, line, len) < 0) eddy_close(c); /* the client stopped reading */
}

static void echo_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    demo_log_close(c, reason, err, ud);
}

int demo_echo_start(eddy_loop_t *loop, int port, demo_service_t *svc)
{
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "65536");
    eddy_conn_callbacks_t cbs = {
        .on_connect = echo_connect, .on_receive = echo_receive, .on_close = echo_close};
    svc->name = "echo";
    return demo_listen(loop, port, &opts, &cbs, svc);
}
