/*
 * eddy/listener.h — listening ports: TCP (IPv4, IPv6), Unix stream and UDP.
 *
 * A loop may hold any number of listeners, each with its own options and
 * callbacks. Stream listeners accept in batches with accept4; when the
 * process runs out of file descriptors (EMFILE) the listener pauses and
 * retries shortly instead of spinning; beyond max_connection new
 * connections are accepted and closed gracefully at once, unseen by the
 * application. Idle connections are evicted after heartbeat_idle_time.
 * UDP listeners deliver each datagram to on_packet and send with
 * eddy_listener_sendto.
 *
 * Ownership: eddy_listen returns a listener the caller closes with
 * eddy_listener_close. Its connections outlive it; the listener's memory is
 * released when it is closed and its last connection has closed.
 */
#ifndef EDDY_LISTENER_H
#define EDDY_LISTENER_H

#include "addr.h"
#include "common.h"
#include "conn.h"
#include "options.h"

typedef struct eddy_net_stats {
    uint64_t accepted;                        /* connections handed to on_connect */
    uint64_t refused;                         /* closed at once because of max_connection */
    uint64_t active;                          /* open now (including closing ones) */
    uint64_t closed[EDDY_CLOSE_REASON_COUNT]; /* by eddy_close_reason_t */
    uint64_t evicted;                         /* idle past heartbeat_idle_time */
    uint64_t framing_errors;                  /* packets over package_max_length or bad lengths */
    uint64_t accept_paused;                   /* times accepting paused on EMFILE/ENFILE */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t packets_in; /* on_receive / on_packet calls */
} eddy_net_stats_t;

/* Listen on url ("tcp://127.0.0.1:0", "tcp://[::1]:8080", "unix:///tmp/s",
 * "udp://127.0.0.1:0"). opts may be NULL for defaults; they are copied.
 * Returns 0, -EDDY_EADDR, -EDDY_EOPTION, or -errno from socket/bind/listen. */
EDDY_EXPORT int eddy_listen(eddy_loop_t *loop, const char *url, const eddy_port_options_t *opts,
                            const eddy_conn_callbacks_t *cbs, void *ud, eddy_listener_t **out);
/* Create a socket bound to url — listening, for stream schemes — without a
 * loop, to be handed to eddy_listener_adopt (e.g. in forked workers). The
 * socket options of opts (NULL: defaults) apply. Returns the descriptor
 * (close-on-exec, non-blocking) or an error; *bound is the bound address.
 * A unix:// socket file is the caller's to remove. */
EDDY_EXPORT int eddy_bind(const char *url, const eddy_port_options_t *opts, eddy_addr_t *bound);
/* Serve an already bound (and listening) socket: TCP, Unix stream or UDP,
 * told apart by the socket itself. The listener owns fd from then on and
 * closes it with the listener (it never removes a unix:// socket file);
 * on error the caller still owns it. */
EDDY_EXPORT int eddy_listener_adopt(eddy_loop_t *loop, int fd, const eddy_port_options_t *opts,
                                    const eddy_conn_callbacks_t *cbs, void *ud,
                                    eddy_listener_t **out);
/* Stop accepting and close the listening socket; open connections go on. */
EDDY_EXPORT void eddy_listener_close(eddy_listener_t *l);
/* Stop accepting and gracefully close every connection (with err
 * -ECANCELED in on_close). The loop finishes the closes; eddy_loop_run
 * returns once they are done if nothing else is alive. */
EDDY_EXPORT void eddy_listener_shutdown(eddy_listener_t *l);
/* Pause / resume accepting (connections keep being served). */
EDDY_EXPORT int eddy_listener_pause(eddy_listener_t *l);
EDDY_EXPORT int eddy_listener_resume(eddy_listener_t *l);

/* The bound address (with the real port when 0 was asked for). */
EDDY_EXPORT const eddy_addr_t *eddy_listener_addr(const eddy_listener_t *l);
EDDY_EXPORT int eddy_listener_port(const eddy_listener_t *l);
EDDY_EXPORT int eddy_listener_fd(const eddy_listener_t *l);
EDDY_EXPORT void eddy_listener_stats(const eddy_listener_t *l, eddy_net_stats_t *out);
/* Call fn for every open connection (fn may close the one it is given). */
EDDY_EXPORT void eddy_listener_foreach(eddy_listener_t *l, void (*fn)(eddy_conn_t *c, void *arg),
                                       void *arg);

/* Send one datagram from a udp:// listener. Returns 0 or -errno. */
EDDY_EXPORT int eddy_listener_sendto(eddy_listener_t *l, const void *data, size_t len,
                                     const eddy_addr_t *to);

#endif
