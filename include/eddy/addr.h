/*
 * eddy/addr.h — socket addresses and endpoint URLs.
 *
 * Endpoints are written as URLs: "tcp://127.0.0.1:9501", "tcp://[::1]:9501",
 * "udp://0.0.0.0:9502", "unix:///run/app.sock" (also "unix:relative.sock").
 * eddy_addr_t holds any of the socket addresses those name, by value.
 */
#ifndef EDDY_ADDR_H
#define EDDY_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common.h"

typedef enum eddy_scheme {
    EDDY_SCHEME_TCP,
    EDDY_SCHEME_UDP,
    EDDY_SCHEME_UNIX,
} eddy_scheme_t;

typedef struct eddy_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
    socklen_t len;
} eddy_addr_t;

typedef struct eddy_url {
    eddy_scheme_t scheme;
    char host[256]; /* without brackets; the socket path for unix */
    int port;       /* -1 for unix */
} eddy_url_t;

/* Parse an endpoint URL. Returns 0 or -EDDY_EADDR. A missing scheme means tcp. */
EDDY_EXPORT int eddy_url_parse(const char *url, eddy_url_t *out);
/* Build an address from a numeric host (IPv4, IPv6) and port, or from a unix
 * URL's path. Returns 0, -EDDY_EADDR (not numeric or too long). */
EDDY_EXPORT int eddy_addr_from_url(const eddy_url_t *url, eddy_addr_t *out);
/* "127.0.0.1:80", "[::1]:80" or "unix:/path" into buf (always terminated).
 * Returns the length it wanted, like snprintf. */
EDDY_EXPORT int eddy_addr_format(const eddy_addr_t *a, char *buf, size_t size);
/* The port, or -1 for unix addresses. */
EDDY_EXPORT int eddy_addr_port(const eddy_addr_t *a);

#endif
