/*
 * server — the multi-process line echo server.
 *
 *   server [-p PORT] [-P PORT2] [-w WORKERS] [-m base|process] [-r REACTORS]
 *          [-t TASK_WORKERS] [-n MAX_REQUEST]
 *
 * Port PORT (0 = a free one) answers each "\r\n"-terminated line with
 * itself; the optional second port PORT2 speaks a length-header protocol (a
 * 4-byte big-endian length, then the body) and answers each body the same
 * way. WORKERS processes (default 2) share the ports; the master restarts
 * any that dies, replaces them all on SIGUSR1, and shuts down gracefully on
 * SIGTERM or Ctrl-C. Each line "WHO\r\n" is answered with the worker's id
 * and pid instead, to show where a connection landed. With -t, a line
 * "TASK text\r\n" is handed to a task worker, which answers "TEXT\r\n" in
 * capitals through the worker (eddy_server_task, on_task, on_finish).
 * -m process puts the connections in the master's reactor threads and the
 * work in the workers (see docs/server.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

static void on_line(eddy_server_t *s, eddy_session_t session, const char *line, size_t len,
                    void *ud)
{
    if (len == 5 && memcmp(line, "WHO\r\n", 5) == 0) {
        char who[64];
        int n = snprintf(who, sizeof who, "worker %d pid %d\r\n", eddy_server_worker_id(s),
                         (int)getpid());
        eddy_server_send(s, session, who, (size_t)n);
        return;
    }
    if (len > 7 && memcmp(line, "TASK ", 5) == 0) {
        /* The task carries the session it answers, ahead of the text. */
        char task[8 + 65536];
        size_t n = len - 5;
        memcpy(task, &session, 8);
        memcpy(task + 8, line + 5, n);
        if (eddy_server_task(s, task, 8 + n, -1) < 0) eddy_server_send(s, session, "busy\r\n", 6);
        return;
    }
    if (eddy_server_send(s, session, line, len) < 0) eddy_server_close(s, session);
}

/* In a task worker: capitals, with the session in front, as the result. */
static void on_task(eddy_server_t *s, int64_t task_id, int src_worker, const void *data, size_t len,
                    void *ud)
{
    char *out = malloc(len ? len : 1);
    if (!out) return;
    memcpy(out, data, len);
    for (size_t i = 8; i < len; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
    eddy_server_finish(s, task_id, out, len);
    free(out);
}

/* Back in the worker that sent the task: answer the client. */
static void on_finish(eddy_server_t *s, int64_t task_id, const void *data, size_t len, void *ud)
{
    eddy_session_t session;
    if (len < 8) return;
    memcpy(&session, data, 8);
    eddy_server_send(s, session, (const char *)data + 8, len - 8);
}

static void on_packet(eddy_server_t *s, eddy_session_t session, const char *packet, size_t len,
                      void *ud)
{
    if (eddy_server_send(s, session, packet, len) < 0) eddy_server_close(s, session);
}

static void on_worker_error(eddy_server_t *s, int worker_id, pid_t pid, int exit_code, int signo,
                            void *ud)
{
    fprintf(stderr, "worker %d (pid %d) died: %s %d; restarting it\n", worker_id, (int)pid,
            signo ? "signal" : "exit code", signo ? signo : exit_code);
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-p PORT] [-P PORT2] [-w WORKERS] [-m base|process] [-r REACTORS] "
            "[-t TASK_WORKERS] [-n MAX_REQUEST]\n",
            prog);
    return 2;
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "server: %s: %s\n", what, eddy_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    eddy_proctitle_init(argc, argv); /* first: ps shows "eddy: worker #0" ... */
    const char *port = "0", *port2 = NULL, *workers = "2", *mode = "base", *max_request = "0",
               *tasks = "0", *reactors = NULL;
    for (int opt; (opt = getopt(argc, argv, "p:P:w:m:r:t:n:")) != -1;) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'P': port2 = optarg; break;
        case 'w': workers = optarg; break;
        case 'm': mode = optarg; break;
        case 'r': reactors = optarg; break;
        case 't': tasks = optarg; break;
        case 'n': max_request = optarg; break;
        default: return usage(argv[0]);
        }
    }
    eddy_server_callbacks_t cbs = {
        .on_receive = on_line,
        .on_worker_error = on_worker_error,
        .on_task = on_task,
        .on_finish = on_finish,
    };
    eddy_server_t *s;
    int rc = eddy_server_new(NULL, &cbs, NULL, &s);
    if (rc < 0) fail("new", rc);
    const char *const settings[][2] = {
        {"mode", mode},
        {"worker_num", workers},
        {"task_worker_num", tasks},
        {"max_request", max_request},
        {"open_eof_split", "1"},
        {"package_eof", "\\r\\n"},
        {"package_max_length", "65536"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if ((rc = eddy_server_set(s, settings[i][0], settings[i][1])) < 0) fail(settings[i][0], rc);
    if (reactors && (rc = eddy_server_set(s, "reactor_num", reactors)) < 0) fail("reactor_num", rc);

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    if ((rc = eddy_server_listen(s, url, NULL, NULL, NULL)) < 0) fail(url, rc);
    if (port2) {
        eddy_port_options_t lp;
        eddy_port_options_init(&lp);
        eddy_port_options_set(&lp, "open_length_check", "1");
        eddy_port_options_set(&lp, "package_length_type", "N");
        eddy_port_options_set(&lp, "package_body_offset", "4");
        eddy_server_callbacks_t lcbs = cbs;
        lcbs.on_receive = on_packet;
        snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port2);
        if ((rc = eddy_server_listen(s, url, &lp, &lcbs, NULL)) < 0) fail(url, rc);
        printf("length port on 127.0.0.1:%d\n", eddy_server_port(s, 1));
    }
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, 0));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    if (rc < 0) fail("start", rc);
    return 0;
}
