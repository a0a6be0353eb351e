#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_wire.h"
#include "eddy/common.h"
#include "eddy/error.h"
#include "eddy/http1.h"

#define USER_AGENT "eddy/" EDDY_VERSION

static bool name_is(const eddy_http_client_header_t *h, const char *name)
{
    return strcasecmp(h->name, name) == 0;
}

int eddy__httpc_wire_check(const char *method, const eddy_http_client_header_t *headers, size_t n)
{
    if (!eddy_http1_is_token(method) || strcmp(method, "CONNECT") == 0) return -EDDY_EHTTP_REQUEST;
    if (n && !headers) return -EDDY_EHTTP_REQUEST;
    for (size_t i = 0; i < n; i++) {
        const eddy_http_client_header_t *h = &headers[i];
        if (!eddy_http1_is_token(h->name) || !eddy_http1_is_field_value(h->value))
            return -EDDY_EHTTP_REQUEST;
        /* The client frames the body itself; a second framing header could
         * make the server read the body differently. */
        if (name_is(h, "content-length") || name_is(h, "transfer-encoding"))
            return -EDDY_EHTTP_REQUEST;
    }
    return 0;
}

static bool dropped(const eddy_http_client_header_t *h, unsigned drop)
{
    if (drop & WIRE_DROP_BODY_HEADERS) {
        static const char *const body[] = {"content-type", "content-encoding", "content-language",
                                           "content-location"};
        for (size_t i = 0; i < sizeof body / sizeof body[0]; i++)
            if (name_is(h, body[i])) return true;
    }
    if (drop & WIRE_DROP_CREDENTIALS) {
        static const char *const cred[] = {"authorization", "proxy-authorization", "cookie",
                                           "host"};
        for (size_t i = 0; i < sizeof cred / sizeof cred[0]; i++)
            if (name_is(h, cred[i])) return true;
    }
    return false;
}

static bool has_header(const eddy_http_client_header_t *headers, size_t n, unsigned drop,
                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(&headers[i], name) && !dropped(&headers[i], drop)) return true;
    return false;
}

static int append_str(eddy_buf_t *out, const char *s)
{
    return eddy_buf_append(out, s, strlen(s));
}

static int append_field(eddy_buf_t *out, const char *name, const char *value)
{
    int rc = append_str(out, name);
    if (rc == 0) rc = eddy_buf_append(out, ": ", 2);
    if (rc == 0) rc = append_str(out, value);
    if (rc == 0) rc = eddy_buf_append(out, "\r\n", 2);
    return rc;
}

/* RFC 9110 8.6: a user agent sends Content-Length: 0 for an empty body
 * only where the method defines a meaning for a body. */
static bool wants_length(const char *method, size_t body_len)
{
    return body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

int eddy__httpc_wire_head(eddy_buf_t *out, const char *method, const httpc_url_t *url,
                          const eddy_http_client_header_t *headers, size_t n, unsigned drop,
                          size_t body_len)
{
    int rc = append_str(out, method);
    if (rc == 0) rc = eddy_buf_append(out, " ", 1);
    if (rc == 0) rc = append_str(out, url->target);
    if (rc == 0) rc = append_str(out, " HTTP/1.1\r\n");
    if (rc == 0 && !has_header(headers, n, drop, "host")) {
        char authority[HTTPC_HOST_MAX + 16];
        if (eddy__httpc_url_authority(url, authority, sizeof authority) < 0) return -EDDY_EHTTP_URL;
        rc = append_field(out, "Host", authority);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!dropped(&headers[i], drop)) rc = append_field(out, headers[i].name, headers[i].value);
    if (rc == 0 && !has_header(headers, n, drop, "user-agent"))
        rc = append_field(out, "User-Agent", USER_AGENT);
    if (rc == 0 && wants_length(method, body_len)) {
        char len[24];
        snprintf(len, sizeof len, "%zu", body_len);
        rc = append_field(out, "Content-Length", len);
    }
    if (rc == 0) rc = eddy_buf_append(out, "\r\n", 2);
    return rc;
}

bool eddy__httpc_wire_idempotent(const char *method)
{
    static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++)
        if (strcmp(method, idempotent[i]) == 0) return true;
    return false;
}

bool eddy__httpc_wire_list_has(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(value + start, token, tlen) == 0) return true;
    }
    return false;
}

bool eddy__httpc_wire_wants_close(const eddy_http_client_header_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(&headers[i], "connection") &&
            eddy__httpc_wire_list_has(headers[i].value, strlen(headers[i].value), "close"))
            return true;
    return false;
}
