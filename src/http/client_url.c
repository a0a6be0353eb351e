#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_url.h"
#include "eddy/error.h"

#define DEFAULT_PORT 80

/* Characters allowed in a path or query as sent: anything visible. Spaces
 * and controls must be percent-encoded by the caller; eddy does not guess. */
static bool target_char_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

/* Host names: letters, digits, '-', '.', '_', '~' (what resolves). */
static bool host_char_ok(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool ipv6_char_ok(unsigned char c)
{
    return isxdigit(c) || c == ':' || c == '.';
}

/* Length of "scheme:" at the start of s, ':' included, or 0 if s does not
 * start with a scheme (RFC 3986 3.1). */
static size_t scheme_length(const char *s)
{
    if (!isalpha((unsigned char)s[0])) return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i + 1 : 0;
}

static int parse_port(const char *s, size_t len, int *port)
{
    if (len == 0) {
        *port = DEFAULT_PORT; /* "host:" is allowed and means the default (3.2.3) */
        return 0;
    }
    if (len > 5) return -EDDY_EHTTP_URL;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -EDDY_EHTTP_URL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) return -EDDY_EHTTP_URL;
    *port = v;
    return 0;
}

static int set_host(httpc_url_t *u, const char *s, size_t len, bool ipv6)
{
    if (len == 0 || len >= sizeof u->host) return -EDDY_EHTTP_URL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (ipv6 ? !ipv6_char_ok(c) : !host_char_ok(c)) return -EDDY_EHTTP_URL;
        u->host[i] = (char)tolower(c);
    }
    u->host[len] = '\0';
    u->ipv6 = ipv6;
    return 0;
}

/* authority = host [ ":" port ]; user info is refused (credentials in URLs
 * leak into logs; send an Authorization header instead). */
static int parse_authority(httpc_url_t *u, const char *s, size_t len)
{
    if (memchr(s, '@', len)) return -EDDY_EHTTP_URL;
    const char *host = s, *colon;
    size_t host_len;
    bool ipv6 = len > 0 && s[0] == '[';
    if (ipv6) {
        const char *close = memchr(s, ']', len);
        if (!close) return -EDDY_EHTTP_URL;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < s + len ? close + 1 : NULL;
        if (colon && *colon != ':') return -EDDY_EHTTP_URL;
    } else {
        colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
    }
    int rc = set_host(u, host, host_len, ipv6);
    if (rc < 0) return rc;
    if (!colon) {
        u->port = DEFAULT_PORT;
        return 0;
    }
    return parse_port(colon + 1, (size_t)(s + len - colon - 1), &u->port);
}

/* path [ "?" query ], up to a '#' or the end. */
static int parse_target(httpc_url_t *u, const char *s)
{
    size_t len = strcspn(s, "#");
    for (size_t i = 0; i < len; i++)
        if (!target_char_ok((unsigned char)s[i])) return -EDDY_EHTTP_URL;
    bool needs_slash = len == 0 || s[0] != '/'; /* "" and "?q" get the root path */
    u->target = malloc(len + 2);
    if (!u->target) return -ENOMEM;
    size_t at = 0;
    if (needs_slash) u->target[at++] = '/';
    memcpy(u->target + at, s, len);
    u->target[at + len] = '\0';
    return 0;
}

static int format_text(httpc_url_t *u)
{
    char authority[HTTPC_HOST_MAX + 16];
    if (eddy__httpc_url_authority(u, authority, sizeof authority) < 0) return -EDDY_EHTTP_URL;
    if (asprintf(&u->text, "http://%s%s", authority, u->target) < 0) {
        u->text = NULL;
        return -ENOMEM;
    }
    return 0;
}

int eddy__httpc_url_parse(const char *s, httpc_url_t *u)
{
    memset(u, 0, sizeof *u);
    size_t scheme = scheme_length(s);
    if (scheme == 0) return -EDDY_EHTTP_URL;
    if (scheme != 5 || strncasecmp(s, "http:", 5) != 0) return -EDDY_EHTTP_SCHEME;
    if (strncmp(s + 5, "//", 2) != 0) return -EDDY_EHTTP_URL;
    const char *auth = s + 7;
    size_t auth_len = strcspn(auth, "/?#");
    int rc = parse_authority(u, auth, auth_len);
    if (rc == 0) rc = parse_target(u, auth + auth_len);
    if (rc == 0) rc = format_text(u);
    if (rc < 0) eddy__httpc_url_free(u);
    return rc;
}

void eddy__httpc_url_free(httpc_url_t *u)
{
    free(u->target);
    free(u->text);
    u->target = u->text = NULL;
}

/* RFC 3986 5.2.4, in place: remove "." and ".." segments from a path. */
static void remove_dot_segments(char *path)
{
    char *in = path, *out = path;
    while (*in) {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        } else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        } else if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in[1] = '\0'; /* becomes "/" */
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            in += 3;                      /* "/../x" continues with "/x" */
            if (*in == '\0') *--in = '/'; /* "/.." becomes "/" */
            while (out > path && *--out != '/') {
            }
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            in += strlen(in);
        } else {
            do
                *out++ = *in++;
            while (*in && *in != '/');
        }
    }
    *out = '\0';
}

/* base's path up to and including its last '/', then ref ("b/c?q"). */
static char *merge_paths(const httpc_url_t *base, const char *ref, size_t ref_len)
{
    size_t path_len = strcspn(base->target, "?");
    const char *slash = base->target;
    for (size_t i = 0; i < path_len; i++)
        if (base->target[i] == '/') slash = base->target + i;
    size_t dir_len = (size_t)(slash - base->target) + 1;
    char *out = malloc(dir_len + ref_len + 1);
    if (!out) return NULL;
    memcpy(out, base->target, dir_len);
    memcpy(out + dir_len, ref, ref_len);
    out[dir_len + ref_len] = '\0';
    return out;
}

/* A new target for base's authority: "/abs", "?query" or "relative". */
static char *resolve_target(const httpc_url_t *base, const char *ref, size_t ref_len)
{
    char *target;
    if (ref_len == 0) return strdup(base->target);
    if (ref[0] == '?') {
        size_t path_len = strcspn(base->target, "?");
        target = malloc(path_len + ref_len + 1);
        if (!target) return NULL;
        memcpy(target, base->target, path_len);
        memcpy(target + path_len, ref, ref_len);
        target[path_len + ref_len] = '\0';
        return target; /* the path is base's, already clean */
    }
    target = ref[0] == '/' ? strndup(ref, ref_len) : merge_paths(base, ref, ref_len);
    if (!target) return NULL;
    char *query = strchr(target, '?');
    char saved = query ? *query : '\0';
    if (query) *query = '\0';
    remove_dot_segments(target);
    if (query) {
        size_t path_end = strlen(target); /* dots removed: the path may have shrunk */
        *query = saved;
        memmove(target + path_end, query, strlen(query) + 1);
    }
    return target;
}

int eddy__httpc_url_resolve(const httpc_url_t *base, const char *ref, httpc_url_t *out)
{
    memset(out, 0, sizeof *out);
    size_t ref_len = strcspn(ref, "#");
    if (scheme_length(ref) > 0) {
        char *abs = strndup(ref, ref_len);
        if (!abs) return -ENOMEM;
        int rc = eddy__httpc_url_parse(abs, out);
        free(abs);
        return rc;
    }
    if (strncmp(ref, "//", 2) == 0) {
        char *abs;
        if (asprintf(&abs, "http:%.*s", (int)ref_len, ref) < 0) return -ENOMEM;
        int rc = eddy__httpc_url_parse(abs, out);
        free(abs);
        return rc;
    }
    for (size_t i = 0; i < ref_len; i++)
        if (!target_char_ok((unsigned char)ref[i])) return -EDDY_EHTTP_URL;
    memcpy(out->host, base->host, sizeof out->host);
    out->ipv6 = base->ipv6;
    out->port = base->port;
    out->target = resolve_target(base, ref, ref_len);
    if (!out->target) return -ENOMEM;
    if (out->target[0] != '/') { /* "" after removing dots from "../.." and the like */
        free(out->target);
        out->target = strdup("/");
        if (!out->target) return -ENOMEM;
    }
    int rc = format_text(out);
    if (rc < 0) eddy__httpc_url_free(out);
    return rc;
}

int eddy__httpc_url_authority(const httpc_url_t *u, char *buf, size_t size)
{
    const char *open = u->ipv6 ? "[" : "", *close = u->ipv6 ? "]" : "";
    int n = u->port == DEFAULT_PORT
                ? snprintf(buf, size, "%s%s%s", open, u->host, close)
                : snprintf(buf, size, "%s%s%s:%d", open, u->host, close, u->port);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int eddy__httpc_url_endpoint(const httpc_url_t *u, char *buf, size_t size)
{
    const char *open = u->ipv6 ? "[" : "", *close = u->ipv6 ? "]" : "";
    int n = snprintf(buf, size, "tcp://%s%s%s:%d", open, u->host, close, u->port);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

bool eddy__httpc_url_same_origin(const httpc_url_t *a, const httpc_url_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0; /* hosts are lower case */
}
