/*
 * eddy-demo — what `make run` starts: one eddy_server with three ports.
 *
 *   eddy-demo [-p HTTP_PORT] [-e ECHO_PORT] [-l LOGIN_PORT] [-u USERS]
 *             [-w WORKERS] [-m base|process] [-d WWW_DIR] [-L LEVEL]
 *
 *   http   127.0.0.1:9501 (-p)  home page, /hello, /stats, /static/, /upload
 *   echo   127.0.0.1:9502 (-e)  every line comes back
 *   login  127.0.0.1:9503 (-l)  LOGIN <name>, then ECHO per line, QUIT; unknown
 *                               users (-u alice,bob; default alice) get an
 *                               error line and a graceful close
 *
 * Port 0 picks a free port. WORKERS (default 2) processes serve the ports in
 * BASE mode, or behind the master's reactor threads with -m process. Each
 * connection's open and close is logged at info level (-L: debug, info,
 * notice, warn, error, off) to stderr. Ctrl-C or SIGTERM closes every
 * connection gracefully and exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

#ifndef EDDY_DEMO_WWW
#define EDDY_DEMO_WWW "www"
#endif

static void log_session(eddy_server_t *s, eddy_session_t session, const char *service,
                        const char *what)
{
    char peer[64] = "?";
    eddy_session_info_t info;
    if (eddy_server_info(s, session, &info) == 0)
        eddy_addr_format(&info.conn.peer, peer, sizeof peer);
    EDDY_INFO("%s: session %llx from %s: %s", service, (unsigned long long)session, peer, what);
}

void demo_log_open(eddy_server_t *s, eddy_session_t session, const char *service)
{
    log_session(s, session, service, "open");
}

void demo_log_close(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason, int err,
                    const char *service)
{
    char what[96];
    snprintf(what, sizeof what, "closed, %s%s%s", eddy_close_reason_name(reason), err ? ", " : "",
             err ? eddy_err_name(err) : "");
    log_session(s, session, service, what);
}

/* A worker's totals when it stops: every port it served. */
static void on_worker_stop(eddy_server_t *s, int worker_id, void *ud)
{
    eddy_server_stats_t st;
    eddy_server_stats(s, &st);
    char closed[256] = "";
    size_t n = 0;
    for (int r = 0; r < EDDY_CLOSE_REASON_COUNT && n < sizeof closed; r++)
        n += (size_t)snprintf(closed + n, sizeof closed - n, " %s=%llu",
                              eddy_close_reason_name((eddy_close_reason_t)r),
                              (unsigned long long)st.net.closed[r]);
    EDDY_NOTICE("eddy-demo: worker %d stopping: %llu requests, %llu connections accepted, "
                "closed%s",
                worker_id, (unsigned long long)st.requests, (unsigned long long)st.net.accepted,
                closed);
    demo_login_release();
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-p HTTP_PORT] [-e ECHO_PORT] [-l LOGIN_PORT] [-u USER,USER...]\n"
            "          [-w WORKERS] [-m base|process] [-d WWW_DIR] [-L LOG_LEVEL]\n",
            prog);
    return 2;
}

static int parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || end == s || v < 0 || v > 65535) return -1;
    *out = (int)v;
    return 0;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "eddy-demo: %s: %s\n", what, eddy_strerror(rc));
    if (rc == -EADDRINUSE)
        fprintf(stderr, "eddy-demo: another program holds the port; -p 0 -e 0 -l 0 picks free "
                        "ones\n");
    return 1;
}

int main(int argc, char **argv)
{
    eddy_proctitle_init(argc, argv); /* first: ps shows "eddy: worker #0" ... */
    int http_port = 9501, echo_port = 9502, login_port = 9503;
    demo_t d = {.users = "alice", .www = EDDY_DEMO_WWW, .mode = "base"};
    const char *workers = "2", *level = "info";
    for (int opt; (opt = getopt(argc, argv, "p:e:l:u:w:m:d:L:")) != -1;) {
        int bad = 0;
        switch (opt) {
        case 'p': bad = parse_port(optarg, &http_port); break;
        case 'e': bad = parse_port(optarg, &echo_port); break;
        case 'l': bad = parse_port(optarg, &login_port); break;
        case 'u': d.users = optarg; break;
        case 'w': workers = optarg; break;
        case 'm': d.mode = optarg; break;
        case 'd': d.www = optarg; break;
        case 'L': level = optarg; break;
        default: bad = 1; break;
        }
        if (bad) return usage(argv[0]);
    }
    if (optind != argc) return usage(argv[0]);

    eddy_server_callbacks_t cbs = {.on_worker_stop = on_worker_stop};
    int rc = eddy_server_new(NULL, &cbs, &d, &d.server);
    if (rc < 0) return fail("server", rc);
    const char *const settings[][2] = {
        {"mode", d.mode}, {"worker_num", workers}, {"log_level", level}, {"max_wait_time", "3"}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if ((rc = eddy_server_set(d.server, settings[i][0], settings[i][1])) < 0)
            return fail(settings[i][0], rc);
    if ((rc = demo_echo_listen(&d, echo_port)) < 0 ||
        (rc = demo_login_listen(&d, login_port)) < 0 || (rc = demo_http_listen(&d, http_port)) < 0)
        return fail("listen", rc);

    int http = d.http_port, echo = d.echo_port, login = d.login_port;
    printf("eddy-demo: %s mode, %s workers\n", d.mode, workers);
    printf("http  on 127.0.0.1:%d  (open http://127.0.0.1:%d/ — /hello /stats /static/ "
           "/upload)\n",
           http, http);
    printf("echo  on 127.0.0.1:%d  (try: printf 'hi\\n' | nc 127.0.0.1 %d)\n", echo, echo);
    printf(
        "login on 127.0.0.1:%d  (try: printf 'LOGIN %.*s\\nhello\\nQUIT\\n' | nc 127.0.0.1 %d)\n",
        login, (int)strcspn(d.users, ","), d.users, login);
    printf("listening on 127.0.0.1:%d\n", http);
    printf("Ctrl-C stops.\n");
    fflush(stdout);

    rc = eddy_server_start(d.server);
    eddy_server_free(d.server);
    eddy_http_router_free(d.router);
    eddy_static_free(d.files);
    if (rc < 0) return fail("start", rc);
    printf("eddy-demo: stopped\n");
    return 0;
}
