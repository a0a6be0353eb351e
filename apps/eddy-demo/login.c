/*
 * The login service (as examples/login_server.c): "LOGIN <name>" first; a
 * known user gets "OK welcome <name>", then "ECHO <line>" per line until
 * "QUIT" ("BYE" and a close). An unknown user gets "ERR unknown user <name>"
 * and an immediate eddy_close — which is graceful, so the line arrives and the
 * client sees a clean EOF even when it pipelined more input behind its login.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "demo.h"

/* Connection user data: NULL until login, then this marker. */
static char logged_in;

static bool known(const char *users, const char *name, size_t len)
{
    for (const char *p = users; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, len) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void reply(eddy_conn_t *c, const char *prefix, const char *text, size_t len)
{
    eddy_send(c, prefix, strlen(prefix));
    eddy_send(c, text, len);
    eddy_send(c, "\n", 1);
}

static void login_connect(eddy_conn_t *c, void *ud)
{
    demo_log_open(c, ud);
}

static void login_receive(eddy_conn_t *c, const char *line, size_t len, void *ud)
{
    demo_service_t *svc = ud;
    len--; /* the '\n' */
    if (len > 0 && line[len - 1] == '\r') len--;
    if (eddy_conn_data(c)) {
        if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
            eddy_send(c, "BYE\n", 4);
            eddy_close(c);
        } else {
            reply(c, "ECHO ", line, len);
        }
        return;
    }
    if (len <= 6 || memcmp(line, "LOGIN ", 6) != 0) {
        eddy_send(c, "ERR expected LOGIN\n", 19);
        eddy_close(c);
    } else if (!known(svc->users, line + 6, len - 6)) {
        reply(c, "ERR unknown user ", line + 6, len - 6);
        eddy_close(c); /* graceful: the line is written before FIN */
    } else {
        eddy_conn_set_data(c, &logged_in);
        reply(c, "OK welcome ", line + 6, len - 6);
    }
}

static void login_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    demo_log_close(c, reason, err, ud);
}

int demo_login_start(eddy_loop_t *loop, int port, const char *users, demo_service_t *svc)
{
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "4096");
    eddy_port_options_set(&opts, "heartbeat_idle_time", "600"); /* drop silent sessions */
    eddy_conn_callbacks_t cbs = {
        .on_connect = login_connect, .on_receive = login_receive, .on_close = login_close};
    svc->name = "login";
    svc->users = users;
    return demo_listen(loop, port, &opts, &cbs, svc);
}
