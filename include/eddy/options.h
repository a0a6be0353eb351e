/*
 * eddy/options.h — options of a port (a listener and the connections it
 * accepts) and of client connections.
 *
 * A plain struct filled with defaults by eddy_port_options_init(); the same
 * options are accepted as strings under Swoole's key names through
 * eddy_port_options_set(), so config files and command lines reuse them.
 * Times are in milliseconds unless the name says seconds; sizes in bytes.
 */
#ifndef EDDY_OPTIONS_H
#define EDDY_OPTIONS_H

#include <stdbool.h>

#include "common.h"
#include "framing.h"

#define EDDY_SOCKET_BUFFER_SIZE (8u * 1024 * 1024)

typedef struct eddy_port_options {
    /* listening socket */
    int backlog;           /* "backlog", default 511 */
    bool reuse_port;       /* "enable_reuse_port": SO_REUSEPORT */
    int tcp_defer_accept;  /* "tcp_defer_accept", seconds, 0 = off */
    int tcp_fastopen;      /* "tcp_fastopen", queue length, 0 = off */
    bool ipv6_only;        /* "ipv6_only": IPV6_V6ONLY on [::] listeners */
    size_t max_connection; /* "max_connection": beyond it connections are
                              accepted and closed gracefully at once; 0 = none */
    /* each connection */
    bool tcp_nodelay;                  /* "open_tcp_nodelay", default on */
    bool tcp_keepalive;                /* "open_tcp_keepalive" */
    int tcp_keepidle;                  /* "tcp_keepidle", seconds */
    int tcp_keepinterval;              /* "tcp_keepinterval", seconds */
    int tcp_keepcount;                 /* "tcp_keepcount" */
    eddy_framing_t framing;            /* open_eof_check, open_eof_split, package_eof,
                                          open_length_check, package_length_type,
                                          package_length_offset, package_body_offset,
                                          package_max_length */
    size_t socket_buffer_size;         /* "socket_buffer_size": output limit, 8 MiB */
    size_t buffer_high_watermark;      /* "buffer_high_watermark": on_buffer_full;
                                          0 = 3/4 of socket_buffer_size */
    size_t buffer_low_watermark;       /* "buffer_low_watermark": on_buffer_empty, 0 */
    uint64_t heartbeat_idle_time;      /* "heartbeat_idle_time", seconds without input
                                          before eviction, 0 = off */
    uint64_t heartbeat_check_interval; /* "heartbeat_check_interval", seconds; default
                                          idle_time / 2 when idle_time is set */
    uint64_t linger_timeout;           /* "linger_timeout": wait for the peer's FIN, 3000 */
    size_t linger_max_bytes;           /* "linger_max_bytes": input discarded at most, 1 MiB */
    uint64_t close_flush_timeout;      /* "close_flush_timeout": flush before reset, 10000 */
    bool half_close;                   /* "half_close": a peer's FIN leaves us writable */
    uint64_t connect_timeout;          /* "connect_timeout" (clients), 10000 */
} eddy_port_options_t;

EDDY_EXPORT void eddy_port_options_init(eddy_port_options_t *o);
/* Set one option by name. Returns 0, -EDDY_EUNKNOWN_OPTION or -EDDY_EOPTION
 * (a value that does not parse or is out of range). Framing keys are passed
 * on to eddy_framing_set(). */
EDDY_EXPORT int eddy_port_options_set(eddy_port_options_t *o, const char *key, const char *value);
/* Check the options together (watermarks within the limit, framing...).
 * eddy_listen and eddy_connect call it. Returns 0 or -EDDY_EOPTION. */
EDDY_EXPORT int eddy_port_options_validate(const eddy_port_options_t *o);

#endif
