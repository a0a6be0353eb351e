/*
 * eddy-demo — what `make run` starts: a few protocols served on one loop.
 *
 *   eddy-demo [-e PORT] [-l PORT] [-u USERS] [-L LEVEL]
 *
 *   echo   127.0.0.1:9502 (-e)  every line comes back
 *   login  127.0.0.1:9503 (-l)  LOGIN <name>, then ECHO per line, QUIT; unknown
 *                               users (-u alice,bob; default alice) get an
 *                               error line and a graceful close
 *
 * Port 0 picks a free port. Each connection's open and close (peer address,
 * close reason) is logged at info level (-L sets the level: debug, info,
 * notice, warn, error, off) to stderr. Ctrl-C or SIGTERM closes every
 * connection gracefully, prints the close counters and exits 0.
 *
 * HTTP (and WebSocket) services join this demo in a later issue, once the
 * http/ layer exists.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

enum { ECHO, LOGIN, SERVICES };

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    demo_service_t *svcs = ud;
    EDDY_NOTICE("eddy-demo: %s, closing every connection", signo == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 0; i < SERVICES; i++) {
        eddy_listener_stats(svcs[i].listener, &svcs[i].stats); /* if no connection is open */
        eddy_listener_shutdown(svcs[i].listener); /* freed once its last connection closed */
        svcs[i].listener = NULL;
    }
    /* A second Ctrl-C now kills the process the ordinary way. */
    eddy_signal_stop(loop, SIGINT);
    eddy_signal_stop(loop, SIGTERM);
}

static void print_counters(const demo_service_t *s)
{
    printf("%s: %llu accepted, closed", s->name, (unsigned long long)s->stats.accepted);
    for (int r = 0; r < EDDY_CLOSE_REASON_COUNT; r++)
        printf(" %s=%llu", eddy_close_reason_name((eddy_close_reason_t)r),
               (unsigned long long)s->stats.closed[r]);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-e ECHO_PORT] [-l LOGIN_PORT] [-u USER,USER...] [-L LOG_LEVEL]\n",
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

int main(int argc, char **argv)
{
    int echo_port = 9502, login_port = 9503;
    const char *users = "alice";
    eddy_log_level_t level = EDDY_LOG_INFO;
    for (int opt; (opt = getopt(argc, argv, "e:l:u:L:")) != -1;) {
        int bad = 0;
        switch (opt) {
        case 'e': bad = parse_port(optarg, &echo_port); break;
        case 'l': bad = parse_port(optarg, &login_port); break;
        case 'u': users = optarg; break;
        case 'L': bad = eddy_log_level_parse(optarg, &level); break;
        default: bad = 1; break;
        }
        if (bad) return usage(argv[0]);
    }
    if (optind != argc) return usage(argv[0]);
    eddy_log_set_level(level);

    eddy_loop_t *loop;
    int rc = eddy_loop_new(&loop);
    if (rc < 0) {
        fprintf(stderr, "eddy-demo: %s\n", eddy_strerror(rc));
        return 1;
    }
    demo_service_t svcs[SERVICES] = {{0}};
    rc = demo_echo_start(loop, echo_port, &svcs[ECHO]);
    if (rc == 0) rc = demo_login_start(loop, login_port, users, &svcs[LOGIN]);
    if (rc < 0) {
        if (svcs[ECHO].listener) eddy_listener_close(svcs[ECHO].listener);
        eddy_loop_free(loop);
        fprintf(stderr,
                "eddy-demo: another program may hold the port; -e 0 -l 0 picks free ones\n");
        return 1;
    }
    /* Before the listening line: a test may send SIGTERM as soon as it sees it. */
    eddy_signal_start(loop, SIGINT, on_signal, svcs);
    eddy_signal_start(loop, SIGTERM, on_signal, svcs);

    int echo = svcs[ECHO].port, login = svcs[LOGIN].port;
    printf("echo  on 127.0.0.1:%d  (try: printf 'hi\\n' | nc 127.0.0.1 %d)\n", echo, echo);
    printf(
        "login on 127.0.0.1:%d  (try: printf 'LOGIN %.*s\\nhello\\nQUIT\\n' | nc 127.0.0.1 %d)\n",
        login, (int)strcspn(users, ","), users, login);
    printf("listening on 127.0.0.1:%d\n", echo);
    printf("Ctrl-C stops.\n");
    fflush(stdout);

    rc = eddy_loop_run(loop);
    eddy_loop_free(loop);

    printf("eddy-demo: stopped; ");
    print_counters(&svcs[ECHO]);
    printf("; ");
    print_counters(&svcs[LOGIN]);
    printf("\n");
    return rc < 0 ? 1 : 0;
}
