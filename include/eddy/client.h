/*
 * eddy/client.h — outgoing stream connections on the same conn API.
 *
 * eddy_connect resolves the host on the loop's thread pool when it is not a
 * numeric address, connects without blocking, and bounds the whole attempt
 * with connect_timeout. Success runs on_connect; failure runs on_close with
 * EDDY_CLOSE_ERROR and err -ECONNREFUSED, -ETIMEDOUT, -EDDY_ERESOLVE,
 * -EDDY_ENOHOST, ... Data sent before the connection is up is queued and
 * written once it is; eddy_close before then waits for the connection so the
 * queued data still goes out.
 */
#ifndef EDDY_CLIENT_H
#define EDDY_CLIENT_H

#include "common.h"
#include "conn.h"
#include "options.h"

/* Connect to url ("tcp://example.local:6379", "tcp://[::1]:80",
 * "unix:///run/x.sock"). opts may be NULL (defaults; connect_timeout 10 s).
 * *out is the new connection, valid until its on_close returns.
 * Returns 0 (the outcome arrives through the callbacks) or an immediate
 * error: -EDDY_EADDR, -EDDY_EOPTION, -ENOMEM, -EMFILE ... (then no callback runs). */
EDDY_EXPORT int eddy_connect(eddy_loop_t *loop, const char *url, const eddy_port_options_t *opts,
                             const eddy_conn_callbacks_t *cbs, void *ud, eddy_conn_t **out);

#endif
