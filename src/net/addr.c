#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "eddy/addr.h"
#include "eddy/error.h"

/* Plain decimal 0..65535: strtol would also take signs, spaces and
 * overlong digit runs. */
static int parse_port(const char *s, int *port)
{
    int v = 0;
    if (*s == '\0') return -EDDY_EADDR;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -EDDY_EADDR;
        v = v * 10 + (*s - '0');
        if (v > 65535) return -EDDY_EADDR;
    }
    *port = v;
    return 0;
}

static int copy_host(eddy_url_t *out, const char *host, size_t len)
{
    if (len == 0 || len >= sizeof out->host) return -EDDY_EADDR;
    memcpy(out->host, host, len);
    out->host[len] = '\0';
    return 0;
}

int eddy_url_parse(const char *url, eddy_url_t *out)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    const char *rest = url;
    if (strncmp(url, "tcp://", 6) == 0) {
        rest = url + 6;
    } else if (strncmp(url, "udp://", 6) == 0) {
        out->scheme = EDDY_SCHEME_UDP;
        rest = url + 6;
    } else if (strncmp(url, "unix:", 5) == 0) {
        out->scheme = EDDY_SCHEME_UNIX;
        rest = url + 5;
        if (strncmp(rest, "//", 2) == 0) rest += 2;
        return copy_host(out, rest, strlen(rest));
    } else if (strstr(url, "://")) {
        return -EDDY_EADDR;
    }
    const char *colon;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':') return -EDDY_EADDR;
        if (copy_host(out, rest + 1, (size_t)(close - rest - 1)) < 0) return -EDDY_EADDR;
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon || memchr(rest, ':', (size_t)(colon - rest))) return -EDDY_EADDR;
        if (copy_host(out, rest, (size_t)(colon - rest)) < 0) return -EDDY_EADDR;
    }
    return parse_port(colon + 1, &out->port);
}

int eddy_addr_from_url(const eddy_url_t *url, eddy_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (url->scheme == EDDY_SCHEME_UNIX) {
        size_t n = strlen(url->host);
        if (n == 0 || n >= sizeof out->u.un.sun_path) return -EDDY_EADDR;
        out->u.un.sun_family = AF_UNIX;
        memcpy(out->u.un.sun_path, url->host, n + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (inet_pton(AF_INET, url->host, &out->u.in.sin_addr) == 1) {
        out->u.in.sin_family = AF_INET;
        out->u.in.sin_port = htons((uint16_t)url->port);
        out->len = sizeof out->u.in;
        return 0;
    }
    if (inet_pton(AF_INET6, url->host, &out->u.in6.sin6_addr) == 1) {
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_port = htons((uint16_t)url->port);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return -EDDY_EADDR;
}

int eddy_addr_format(const eddy_addr_t *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
        return snprintf(buf, size, "%s:%d", ip, ntohs(a->u.in.sin_port));
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        return snprintf(buf, size, "[%s]:%d", ip, ntohs(a->u.in6.sin6_port));
    case AF_UNIX: {
        /* The path is as long as the address says: accept() fills in only
         * the family for an unnamed peer, and a full-length path has no
         * terminator. A leading NUL names an abstract socket. */
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t max = a->len > off ? a->len - off : 0;
        if (max > sizeof a->u.un.sun_path) max = sizeof a->u.un.sun_path;
        const char *path = a->u.un.sun_path;
        if (max == 0) return snprintf(buf, size, "unix:(unnamed)");
        if (path[0] == '\0') return snprintf(buf, size, "unix:@%.*s", (int)(max - 1), path + 1);
        return snprintf(buf, size, "unix:%.*s", (int)strnlen(path, max), path);
    }
    default: return snprintf(buf, size, "(unknown)");
    }
}

int eddy_addr_port(const eddy_addr_t *a)
{
    switch (a->u.sa.sa_family) {
    case AF_INET: return ntohs(a->u.in.sin_port);
    case AF_INET6: return ntohs(a->u.in6.sin6_port);
    default: return -1;
    }
}
