/* Private to the HTTP client: checking what the caller asks to send, and
 * writing a request head. */
#ifndef EDDY_HTTP_CLIENT_WIRE_H
#define EDDY_HTTP_CLIENT_WIRE_H

#include <stdbool.h>

#include "client_url.h"
#include "eddy/buf.h"
#include "eddy/http_client.h"

/* Which of the caller's headers a redirect leaves out. */
enum {
    WIRE_DROP_BODY_HEADERS = 1u << 0, /* Content-Type, -Encoding, -Language, -Location */
    WIRE_DROP_CREDENTIALS = 1u << 1,  /* Authorization, Proxy-Authorization, Cookie, Host */
};

/* A token method other than CONNECT, and headers with token names, values
 * without controls (HTAB aside), and neither Content-Length nor
 * Transfer-Encoding. 0 or -EDDY_EHTTP_REQUEST. */
int eddy__httpc_wire_check(const char *method, const eddy_http_client_header_t *headers, size_t n);

/* Append the request head to out: request line, Host (unless the caller
 * gave one that is not dropped), the caller's headers, User-Agent unless
 * given, Content-Length when there is a body or the method is POST, PUT or
 * PATCH, and the blank line. 0 or -ENOMEM. */
int eddy__httpc_wire_head(eddy_buf_t *out, const char *method, const httpc_url_t *url,
                          const eddy_http_client_header_t *headers, size_t n, unsigned drop,
                          size_t body_len);

/* GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 9.2.2): safe to retry. */
bool eddy__httpc_wire_idempotent(const char *method);
/* The caller asked for Connection: close. */
bool eddy__httpc_wire_wants_close(const eddy_http_client_header_t *headers, size_t n);
/* Does the comma-separated list value hold token (case-insensitive)? */
bool eddy__httpc_wire_list_has(const char *value, size_t len, const char *token);

#endif
