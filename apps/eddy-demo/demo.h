/*
 * eddy-demo — what `make run` starts: one eddy_server (BASE mode by
 * default, -m process for PROCESS mode) with three ports: HTTP (a home page,
 * /hello, /stats, static files, an upload form), the line echo, and the
 * login protocol of the engine core's seed scenario.
 */
#ifndef EDDY_DEMO_H
#define EDDY_DEMO_H

#include <eddy.h>

typedef struct demo {
    eddy_server_t *server;
    const char *users; /* login: comma-separated names that may log in */
    const char *www;   /* the directory served under /static/ */
    const char *mode;  /* "base" or "process", for the pages */
    int http_port, echo_port, login_port;
    eddy_static_t *files; /* /static/ (opened in each worker) */
    eddy_http_router_t *router;
} demo_t;

/* Each adds its port to d->server (port 0: a free one) and records the
 * bound port in d. */
int demo_http_listen(demo_t *d, int port);
int demo_echo_listen(demo_t *d, int port);
int demo_login_listen(demo_t *d, int port);
/* In a worker that stops: free the login service's session set. */
void demo_login_release(void);

/* Log a session's open and close (info level) with its peer address. */
void demo_log_open(eddy_server_t *s, eddy_session_t session, const char *service);
void demo_log_close(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason, int err,
                    const char *service);

#endif
