/*
 * eddy-demo — the services `make run` starts, each on its own port of one
 * loop. Every service logs its connections and keeps its listener's counters
 * for the summary printed at exit.
 */
#ifndef EDDY_DEMO_H
#define EDDY_DEMO_H

#include <eddy.h>

typedef struct demo_service {
    const char *name; /* "echo", "login" */
    eddy_listener_t *listener;
    int port;
    const char *users; /* login: comma-separated names that may log in */
    /* The listener's counters, copied at every close and before shutdown:
     * the listener is freed once it is shut down and its last connection
     * has closed, so its final counters must be read while it still lives. */
    eddy_net_stats_t stats;
} demo_service_t;

/* Listen on 127.0.0.1:port (0: a free port) and serve the protocol. */
int demo_echo_start(eddy_loop_t *loop, int port, demo_service_t *svc);
/* users: comma-separated names that may log in. The service keeps the pointer. */
int demo_login_start(eddy_loop_t *loop, int port, const char *users, demo_service_t *svc);

/* Shared callbacks: log the connection (info level) and refresh the counters. */
void demo_log_open(eddy_conn_t *c, demo_service_t *svc);
void demo_log_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, demo_service_t *svc);
/* Start listening with the given options and callbacks; ud must be svc. */
int demo_listen(eddy_loop_t *loop, int port, const eddy_port_options_t *opts,
                const eddy_conn_callbacks_t *cbs, demo_service_t *svc);

#endif
