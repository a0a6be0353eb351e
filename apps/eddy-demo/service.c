/* What every demo service shares: listening, connection logs, counters. */
#include <stdio.h>

#include "demo.h"

int demo_listen(eddy_loop_t *loop, int port, const eddy_port_options_t *opts,
                const eddy_conn_callbacks_t *cbs, demo_service_t *svc)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    int rc = eddy_listen(loop, url, opts, cbs, svc, &svc->listener);
    if (rc < 0) {
        fprintf(stderr, "eddy-demo: %s: %s: %s\n", svc->name, url, eddy_strerror(rc));
        svc->listener = NULL;
        return rc;
    }
    svc->port = eddy_listener_port(svc->listener);
    return 0;
}

void demo_log_open(eddy_conn_t *c, demo_service_t *svc)
{
    char peer[64];
    eddy_addr_format(eddy_conn_peer(c), peer, sizeof peer);
    EDDY_INFO("%s: conn %llu from %s: open", svc->name, (unsigned long long)eddy_conn_id(c), peer);
}

void demo_log_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, demo_service_t *svc)
{
    char peer[64];
    eddy_addr_format(eddy_conn_peer(c), peer, sizeof peer);
    EDDY_INFO("%s: conn %llu from %s: closed, %s%s%s", svc->name,
              (unsigned long long)eddy_conn_id(c), peer, eddy_close_reason_name(reason),
              err ? ", " : "", err ? eddy_err_name(err) : "");
    /* The connection still holds its listener: the counters can be read. */
    eddy_listener_stats(eddy_conn_listener(c), &svc->stats);
}
