/*
 * broadcast — a chat room across worker processes.
 *
 *   broadcast [-p PORT] [-w WORKERS]
 *
 * Every line a client sends goes to every connected client, whichever
 * worker holds it: the receiving worker pushes the line to its own
 * sessions (eddy_server_foreach) and hands it to every other worker with
 * eddy_server_send_message; their on_pipe_message pushes it to theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

typedef struct line {
    const char *data;
    size_t len;
} line_t;

static void push(eddy_server_t *s, eddy_session_t session, void *arg)
{
    const line_t *line = arg;
    if (eddy_server_send(s, session, line->data, line->len) == -EDDY_EOUTPUT_FULL)
        eddy_server_close(s, session); /* a reader this slow leaves the room */
}

static void push_to_mine(eddy_server_t *s, const char *data, size_t len)
{
    line_t line = {data, len};
    eddy_server_foreach(s, push, &line);
}

static void on_receive(eddy_server_t *s, eddy_session_t session, const char *data, size_t len,
                       void *ud)
{
    int workers = *(const int *)ud;
    push_to_mine(s, data, len);
    for (int w = 0; w < workers; w++)
        if (w != eddy_server_worker_id(s)) eddy_server_send_message(s, w, data, len);
}

static void on_pipe_message(eddy_server_t *s, int src_worker, const void *data, size_t len,
                            void *ud)
{
    push_to_mine(s, data, len);
}

int main(int argc, char **argv)
{
    eddy_proctitle_init(argc, argv); /* first: ps shows "eddy: worker #0" ... */
    const char *port = "0";
    int workers = 2;
    for (int opt; (opt = getopt(argc, argv, "p:w:")) != -1;) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'w': workers = atoi(optarg); break;
        default: fprintf(stderr, "usage: %s [-p PORT] [-w WORKERS]\n", argv[0]); return 2;
        }
    }
    char url[64], nworkers[16];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    snprintf(nworkers, sizeof nworkers, "%d", workers);
    eddy_server_callbacks_t cbs = {.on_receive = on_receive, .on_pipe_message = on_pipe_message};
    eddy_server_t *s;
    int rc = eddy_server_new(NULL, &cbs, &workers, &s);
    if (rc == 0) rc = eddy_server_set(s, "worker_num", nworkers);
    if (rc == 0) rc = eddy_server_set(s, "open_eof_split", "1");
    if (rc == 0) rc = eddy_server_set(s, "package_eof", "\\n");
    /* Spread connections over the workers, so the room really spans them. */
    if (rc == 0) rc = eddy_server_set(s, "enable_reuse_port", "1");
    if (rc == 0) rc = eddy_server_listen(s, url, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "broadcast: %s\n", eddy_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, 0));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    return rc < 0 ? 1 : 0;
}
