/* Private to the HTTP client: http:// URLs — parsing, Location resolution,
 * the Host value and the endpoint eddy_connect is given. */
#ifndef EDDY_HTTP_CLIENT_URL_H
#define EDDY_HTTP_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_URL_HOST_MAX 256

typedef struct client_url {
    char host[CLIENT_URL_HOST_MAX]; /* lower case; an IPv6 literal without brackets */
    bool ipv6;
    int port;     /* 80 when the URL names none */
    char *target; /* "/path?query" (never empty, no fragment); owned */
    char *text;   /* "http://authority/path?query"; owned */
} client_url_t;

/* Parse an absolute http:// URL into u (which the caller frees with
 * client_url_free on success). Returns 0, -EDDY_EHTTP_SCHEME (another
 * scheme, https included), -EDDY_EHTTP_URL or -ENOMEM. */
int client_url_parse(const char *s, client_url_t *u);
/* Resolve a Location value against base (RFC 3986 5.2: absolute URLs,
 * "//authority/...", "/path", "?query", and relative paths with dot
 * segments removed). The fragment is dropped. Same returns as parse. */
int client_url_resolve(const client_url_t *base, const char *ref, client_url_t *out);
void client_url_free(client_url_t *u);

/* "host", "host:port" or "[v6]:port" — the Host value (port left out when
 * 80). Returns the length, or -1 if it does not fit. */
int client_url_authority(const client_url_t *u, char *buf, size_t size);
/* "tcp://host:port" for eddy_connect. Returns the length, or -1. */
int client_url_endpoint(const client_url_t *u, char *buf, size_t size);
/* Same host (case-insensitive) and port. */
bool client_url_same_origin(const client_url_t *a, const client_url_t *b);

#endif
