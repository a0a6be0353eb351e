/* Private to the HTTP client: reading one response from a byte stream —
 * its head (skipping interim 1xx heads), then its body by Content-Length,
 * chunked coding (keeping the trailer fields) or until the connection
 * closes. No sockets: bytes in, head and body slices out. */
#ifndef EDDY_HTTP_CLIENT_RESPONSE_H
#define EDDY_HTTP_CLIENT_RESPONSE_H

#include <stdbool.h>

#include "eddy/buf.h"
#include "eddy/http1.h"
#include "eddy/http_client.h"

typedef enum resp_phase {
    RESP_HEAD,        /* collecting the head */
    RESP_LENGTH,      /* Content-Length body */
    RESP_CHUNKED,     /* chunked body and trailers */
    RESP_UNTIL_CLOSE, /* body until the connection closes */
    RESP_DONE,
} resp_phase_t;

typedef struct httpc_response {
    resp_phase_t phase;
    bool head_request; /* a response to HEAD never has a body */
    eddy_http1_limits_t limits;

    /* The head is collected here; once parsed, its fields point into it
     * (NUL-terminated in place), and the bytes after it are the start of
     * the body (eddy__httpc_response_leftover). */
    eddy_buf_t head;
    size_t head_len;
    size_t last_len;
    eddy_http1_header_t *fields; /* the parser's array, limits.max_headers */
    eddy_http1_response_t parsed;
    eddy_http_client_header_t *headers;
    size_t num_headers;
    const char *reason;
    bool keep_alive;

    uint64_t remaining; /* RESP_LENGTH: body bytes still to come */
    eddy_http1_chunked_t chunked;
    /* RESP_CHUNKED: framing bytes read since the last run of data — at the
     * end, the last chunk's line and the trailer section, which then hold
     * the trailer fields (NUL-terminated in place). */
    eddy_buf_t framing;
    eddy_http_client_header_t *trailers;
    size_t num_trailers;

    uint64_t body_bytes;
    eddy_http1_error_t error; /* why -EDDY_EHTTP_PARSE */
} httpc_response_t;

/* limits: max_header_size and max_headers are used (for heads and
 * trailers); bodies are not bounded here. */
void eddy__httpc_response_init(httpc_response_t *r, const eddy_http1_limits_t *limits,
                               bool head_request);
void eddy__httpc_response_free(httpc_response_t *r);

/* In RESP_HEAD: take data. Returns 0 (more is needed), 1 (the final head is
 * complete: status, headers and phase are set, and the body's first bytes
 * are at eddy__httpc_response_leftover), -EDDY_EHTTP_PARSE (r->error says why)
 * or -ENOMEM. */
int eddy__httpc_response_feed_head(httpc_response_t *r, const char *data, size_t len);
void eddy__httpc_response_leftover(const httpc_response_t *r, const char **data, size_t *len);

/* In a body phase: consume framing and at most one run of body bytes from
 * data, which *body points to (len 0 if none). Returns the bytes consumed;
 * the phase becomes RESP_DONE at the end of the body, and bytes after it are
 * left unconsumed. -EDDY_EHTTP_PARSE on malformed chunked framing. */
ssize_t eddy__httpc_response_feed_body(httpc_response_t *r, const char *data, size_t len,
                                       eddy_http1_str_t *body);

/* The connection ended: 0 if that completes the response (a body that runs
 * until close; the phase becomes RESP_DONE), else -EDDY_EHTTP_CLOSED. */
int eddy__httpc_response_eof(httpc_response_t *r);

#endif
