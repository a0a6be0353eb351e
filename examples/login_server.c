/*
 * login_server — a line protocol with a login, and an error that is never lost.
 *
 *   login_server [-p PORT] [-u alice,bob]     (PORT 0, the default, picks a free port)
 *
 * The first line must be "LOGIN <name>". A known user (-u, default "alice")
 * gets "OK welcome <name>" and may send more lines, each answered
 * "ECHO <line>"; "QUIT" gets "BYE" and the server closes. An unknown user gets
 * "ERR unknown user <name>" and the server closes at once; any other first
 * line gets "ERR expected LOGIN" and a close.
 *
 * This is the scenario eddy's close was built for: the client may already
 * have pipelined more bytes behind its login line, which the server never
 * reads. A naive send() + close() would answer them with a RST that can
 * destroy the error line; with eddy the client always reads the line and
 * then a clean EOF.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define MAX_USERS 64

typedef struct users {
    const char *names[MAX_USERS];
    size_t count;
} users_t;

/* One per logged-in connection, in its user data (where a real server keeps
 * what it knows about the client); freed in on_close, the last moment the
 * connection is valid. */
typedef struct session {
    char name[64];
} session_t;

static bool known(const users_t *u, const char *name, size_t len)
{
    for (size_t i = 0; i < u->count; i++)
        if (strlen(u->names[i]) == len && memcmp(u->names[i], name, len) == 0) return true;
    return false;
}

/* Small appends coalesce into one output chunk and leave in one write. */
static void reply(eddy_conn_t *c, const char *prefix, const char *text, size_t len)
{
    eddy_send(c, prefix, strlen(prefix));
    eddy_send(c, text, len);
    eddy_send(c, "\n", 1);
}

static void login(eddy_conn_t *c, const users_t *u, const char *line, size_t len)
{
    if (len <= 6 || memcmp(line, "LOGIN ", 6) != 0) {
        eddy_send(c, "ERR expected LOGIN\n", 19);
        eddy_close(c);
        return;
    }
    const char *name = line + 6;
    size_t name_len = len - 6;
    if (!known(u, name, name_len)) {
        reply(c, "ERR unknown user ", name, name_len);
        /* Safe right after eddy_send: eddy_close is graceful — it writes the
         * queued line, sends FIN, and drains whatever the client pipelined
         * until its FIN, so the kernel never answers with a RST. */
        eddy_close(c);
        return;
    }
    session_t *s = calloc(1, sizeof *s);
    if (!s) {
        eddy_close(c);
        return;
    }
    snprintf(s->name, sizeof s->name, "%.*s", (int)name_len, name);
    eddy_conn_set_data(c, s);
    reply(c, "OK welcome ", name, name_len);
}

/* Each call is one line, '\n' included (open_eof_split). */
static void on_receive(eddy_conn_t *c, const char *line, size_t len, void *ud)
{
    len--; /* the '\n' */
    if (len > 0 && line[len - 1] == '\r') len--;
    session_t *s = eddy_conn_data(c);
    if (!s) {
        login(c, ud, line, len);
        return;
    }
    if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
        eddy_send(c, "BYE\n", 4);
        eddy_close(c);
        return;
    }
    reply(c, "ECHO ", line, len);
}

static void on_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    free(eddy_conn_data(c));
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
    users_t users = {.names = {"alice"}, .count = 1};
    for (int opt; (opt = getopt(argc, argv, "p:u:")) != -1;) {
        if (opt == 'p') {
            port = optarg;
        } else if (opt == 'u') {
            users.count = 0;
            char *save;
            /* strtok_r cuts the argument in place; argv is ours to change. */
            for (char *n = strtok_r(optarg, ",", &save); n && users.count < MAX_USERS;
                 n = strtok_r(NULL, ",", &save))
                users.names[users.count++] = n;
        } else {
            fprintf(stderr, "usage: %s [-p PORT] [-u USER,USER...]\n", argv[0]);
            return 2;
        }
    }
    eddy_port_options_t opts;
    eddy_port_options_init(&opts);
    eddy_port_options_set(&opts, "open_eof_split", "1");
    eddy_port_options_set(&opts, "package_eof", "\\n");
    eddy_port_options_set(&opts, "package_max_length", "4096");

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    eddy_loop_t *loop;
    eddy_listener_t *listener;
    eddy_conn_callbacks_t cbs = {.on_receive = on_receive, .on_close = on_close};
    int rc = eddy_loop_new(&loop);
    if (rc == 0) {
        rc = eddy_listen(loop, url, &opts, &cbs, &users, &listener);
        if (rc < 0) eddy_loop_free(loop);
    }
    if (rc < 0) {
        fprintf(stderr, "login_server: %s: %s\n", url, eddy_strerror(rc));
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
