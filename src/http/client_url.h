/* Private to the HTTP client: http:// URLs — parsing, Location resolution,
 * the Host value and the endpoint eddy_connect is given. */
#ifndef EDDY_HTTP_CLIENT_URL_H
#define EDDY_HTTP_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPC_HOST_MAX 256

typedef struct httpc_url {
    char host[HTTPC_HOST_MAX]; /* lower case; an IPv6 literal without brackets */
    bool ipv6;
    int port;     /* 80 when the URL names none */
    char *target; /* "/path?query" (never empty, no fragment); owned */
    char *text;   /* "http://authority/path?query"; owned */
} httpc_url_t;

/* Parse an absolute http:// URL into u (which the caller frees with
 * eddy__httpc_url_free on success). Returns 0, -EDDY_EHTTP_SCHEME (another
 * scheme, https included), -EDDY_EHTTP_URL or -ENOMEM. */
int eddy__httpc_url_parse(const char *s, httpc_url_t *u);
/* Resolve a Location value against base (RFC 3986 5.2: absolute URLs,
 * "//authority/...", "/path", "?query", and relative paths with dot
 * segments removed). The fragment is dropped. Same returns as parse. */
int eddy__httpc_url_resolve(const httpc_url_t *base, const char *ref, httpc_url_t *out);
void eddy__httpc_url_free(httpc_url_t *u);

/* "host", "host:port" or "[v6]:port" — the Host value (port left out when
 * 80). Returns the length, or -1 if it does not fit. */
int eddy__httpc_url_authority(const httpc_url_t *u, char *buf, size_t size);
/* "tcp://host:port" for eddy_connect. Returns the length, or -1. */
int eddy__httpc_url_endpoint(const httpc_url_t *u, char *buf, size_t size);
/* Same host (case-insensitive) and port. */
bool eddy__httpc_url_same_origin(const httpc_url_t *a, const httpc_url_t *b);

#endif
