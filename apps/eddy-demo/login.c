/*
 * The login service (as examples/login_server.c): "LOGIN <name>" first; a
 * known user gets "OK welcome <name>", then "ECHO <line>" per line until
 * "QUIT" ("BYE" and a close). An unknown user gets "ERR unknown user <name>"
 * and an immediate eddy_server_close — which is graceful, so the line arrives
 * and the client sees a clean EOF even when it pipelined more input behind
 * its login.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

/* The sessions logged in to this worker, by the descriptor part of their
 * id (live sessions never share one); 0 where none is. */
static eddy_session_t *logged_in;
static size_t logged_cap;

static size_t slot_of(eddy_session_t session)
{
    return (size_t)(session >> 32) & 0xfffff;
}

static bool is_logged_in(eddy_session_t session)
{
    size_t i = slot_of(session);
    return i < logged_cap && logged_in[i] == session;
}

static int set_logged_in(eddy_session_t session, bool on)
{
    size_t i = slot_of(session);
    if (i >= logged_cap) {
        if (!on) return 0;
        size_t cap = logged_cap ? logged_cap : 256;
        while (cap <= i)
            cap *= 2;
        eddy_session_t *a = realloc(logged_in, cap * sizeof *a);
        if (!a) return -1;
        memset(a + logged_cap, 0, (cap - logged_cap) * sizeof *a);
        logged_in = a;
        logged_cap = cap;
    }
    if (on)
        logged_in[i] = session;
    else if (logged_in[i] == session)
        logged_in[i] = 0;
    return 0;
}

static bool known(const char *users, const char *name, size_t len)
{
    for (const char *p = users; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, len) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void reply(eddy_server_t *s, eddy_session_t session, const char *prefix, const char *text,
                  size_t len)
{
    char line[4200];
    int n = snprintf(line, sizeof line, "%s%.*s\n", prefix, (int)len, text);
    eddy_server_send(s, session, line, (size_t)n);
}

static void login_connect(eddy_server_t *s, eddy_session_t session, void *ud)
{
    demo_log_open(s, session, "login");
}

static void login_receive(eddy_server_t *s, eddy_session_t session, const char *line, size_t len,
                          void *ud)
{
    demo_t *d = ud;
    len--; /* the '\n' */
    if (len > 0 && line[len - 1] == '\r') len--;
    if (is_logged_in(session)) {
        if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
            eddy_server_send(s, session, "BYE\n", 4);
            eddy_server_close(s, session);
        } else {
            reply(s, session, "ECHO ", line, len);
        }
        return;
    }
    if (len <= 6 || memcmp(line, "LOGIN ", 6) != 0) {
        eddy_server_send(s, session, "ERR expected LOGIN\n", 19);
        eddy_server_close(s, session);
    } else if (!known(d->users, line + 6, len - 6) || set_logged_in(session, true) < 0) {
        reply(s, session, "ERR unknown user ", line + 6, len - 6);
        eddy_server_close(s, session); /* graceful: the line is written before FIN */
    } else {
        reply(s, session, "OK welcome ", line + 6, len - 6);
    }
}

static void login_close(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason,
                        int err, void *ud)
{
    set_logged_in(session, false);
    demo_log_close(s, session, reason, err, "login");
}

void demo_login_release(void)
{
    free(logged_in);
    logged_in = NULL;
    logged_cap = 0;
}

int demo_login_listen(demo_t *d, int port)
{
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "4096");
    eddy_port_options_set(&opts, "heartbeat_idle_time", "600"); /* drop silent sessions */
    eddy_server_callbacks_t cbs = {
        .on_connect = login_connect, .on_receive = login_receive, .on_close = login_close};
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    int index = eddy_server_listen(d->server, url, &opts, &cbs, d);
    if (index < 0) return index;
    d->login_port = eddy_server_port(d->server, index);
    return 0;
}
