#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_response.h"
#include "client_wire.h"
#include "eddy/error.h"

/* Chunk-size line framing around the trailers: CRLF after the last data,
 * 16 hex digits, CRLF. Extensions and trailers have their own limits. */
#define FRAMING_SLACK 64

void eddy__httpc_response_init(httpc_response_t *r, const eddy_http1_limits_t *limits,
                               bool head_request)
{
    memset(r, 0, sizeof *r);
    r->phase = RESP_HEAD;
    r->head_request = head_request;
    r->limits = *limits;
    r->limits.max_body_size = UINT64_MAX; /* the client bounds bodies itself, with its own error */
    eddy_buf_init(&r->head);
    eddy_buf_init(&r->framing);
    r->reason = "";
}

void eddy__httpc_response_free(httpc_response_t *r)
{
    eddy_buf_free(&r->head);
    eddy_buf_free(&r->framing);
    free(r->fields);
    free(r->headers);
    free(r->trailers);
    r->fields = NULL;
    r->headers = r->trailers = NULL;
    r->num_headers = r->num_trailers = 0;
}

/* ---- the head ------------------------------------------------------------ */

/* Terminate a slice of the head in place: the byte after it is the ':' after
 * a name, or the CR or OWS after a value or reason, never part of another
 * slice. An empty slice gets a static "". */
static const char *terminate(eddy_http1_str_t s)
{
    if (s.len == 0) return "";
    ((char *)s.ptr)[s.len] = '\0';
    return s.ptr;
}

/* HTTP/1.1 keeps the connection unless Connection: close; HTTP/1.0 only
 * with Connection: keep-alive. The parser says the same except that it
 * ties reuse to a body it can delimit — a HEAD response needs none. */
static bool reuse_allowed(const httpc_response_t *r)
{
    bool close = false, keep = false;
    for (size_t i = 0; i < r->parsed.num_headers; i++) {
        const eddy_http1_header_t *h = &r->parsed.headers[i];
        if (h->name.len != 10 || strncasecmp(h->name.ptr, "connection", 10) != 0) continue;
        close |= eddy__httpc_wire_list_has(h->value.ptr, h->value.len, "close");
        keep |= eddy__httpc_wire_list_has(h->value.ptr, h->value.len, "keep-alive");
    }
    return !close && (r->parsed.minor_version >= 1 || keep);
}

static void choose_body(httpc_response_t *r)
{
    int status = r->parsed.status;
    bool none = r->head_request || status == 101 || r->parsed.body == EDDY_HTTP1_BODY_NONE;
    r->keep_alive = r->parsed.keep_alive;
    if (r->head_request) r->keep_alive = reuse_allowed(r);
    if (status == 101) r->keep_alive = false; /* the server switched protocols we never asked for */
    if (none) {
        r->phase = RESP_DONE;
        return;
    }
    switch (r->parsed.body) {
    case EDDY_HTTP1_BODY_LENGTH:
        r->phase = RESP_LENGTH;
        r->remaining = r->parsed.content_length;
        break;
    case EDDY_HTTP1_BODY_CHUNKED:
        r->phase = RESP_CHUNKED;
        eddy_http1_chunked_init(&r->chunked, &r->limits);
        break;
    default: r->phase = RESP_UNTIL_CLOSE; break;
    }
}

/* The final head is parsed: give its fields NUL-terminated names and values
 * (in place) and choose how the body is read. */
static int finish_head(httpc_response_t *r, size_t head_len)
{
    size_t n = r->parsed.num_headers;
    r->head_len = head_len;
    r->headers = calloc(n ? n : 1, sizeof *r->headers);
    if (!r->headers) return -ENOMEM;
    choose_body(r); /* reads the slices: before they are terminated */
    for (size_t i = 0; i < n; i++) {
        r->headers[i].name = terminate(r->parsed.headers[i].name);
        r->headers[i].value = terminate(r->parsed.headers[i].value);
    }
    r->num_headers = n;
    r->reason = terminate(r->parsed.reason);
    return 0;
}

/* 1xx other than 101: informational, followed by the real response. */
static bool is_interim(int status)
{
    return status >= 100 && status < 200 && status != 101;
}

int eddy__httpc_response_feed_head(httpc_response_t *r, const char *data, size_t len)
{
    if (!r->fields) {
        r->fields = calloc(r->limits.max_headers, sizeof *r->fields);
        if (!r->fields) return -ENOMEM;
    }
    if (eddy_buf_append(&r->head, data, len) < 0) return -ENOMEM;
    for (;;) {
        r->parsed.headers = r->fields;
        r->parsed.max_headers = r->limits.max_headers;
        int n = eddy_http1_parse_response(eddy_buf_data(&r->head), eddy_buf_len(&r->head),
                                          r->last_len, &r->parsed, &r->limits);
        if (n == EDDY_HTTP1_INCOMPLETE) {
            r->last_len = eddy_buf_len(&r->head);
            return 0;
        }
        if (n < 0) {
            r->error = r->parsed.error;
            return -EDDY_EHTTP_PARSE;
        }
        r->last_len = 0;
        if (!is_interim(r->parsed.status)) {
            int rc = finish_head(r, (size_t)n);
            return rc < 0 ? rc : 1;
        }
        eddy_buf_consume(&r->head, (size_t)n); /* skip it; the final head follows */
        if (eddy_buf_len(&r->head) == 0) return 0;
    }
}

void eddy__httpc_response_leftover(const httpc_response_t *r, const char **data, size_t *len)
{
    *data = eddy_buf_data(&r->head) + r->head_len;
    *len = eddy_buf_len(&r->head) - r->head_len;
}

/* ---- the trailers -------------------------------------------------------- */

static size_t line_length(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    return cr ? (size_t)(cr - p) : (size_t)(end - p);
}

static const char *trim_ows(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

/* The framing after the last data is [CRLF] last-chunk-line CRLF
 * *(field-line CRLF) CRLF, already validated by the decoder: cut the fields
 * out in place. */
static int parse_trailers(httpc_response_t *r)
{
    char *p = eddy_buf_data(&r->framing), *end = p + eddy_buf_len(&r->framing);
    if (!p) return 0;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') p += 2; /* after the last data */
    p += line_length(p, end) + 2;                             /* the "0" line */
    size_t count = 0;
    for (char *q = p; q < end && *q != '\r'; q += line_length(q, end) + 2)
        count++;
    if (count == 0) return 0;
    r->trailers = calloc(count, sizeof *r->trailers);
    if (!r->trailers) return -ENOMEM;
    while (p < end && *p != '\r') {
        char *line_end = p + line_length(p, end);
        char *colon = memchr(p, ':', (size_t)(line_end - p));
        *colon = '\0';
        eddy_http_client_header_t *t = &r->trailers[r->num_trailers++];
        t->name = p;
        t->value = trim_ows(colon + 1, line_end);
        p = line_end + 2;
    }
    return 0;
}

/* ---- the body ------------------------------------------------------------ */

static ssize_t feed_chunked(httpc_response_t *r, const char *data, size_t len,
                            eddy_http1_str_t *body)
{
    ssize_t n = eddy_http1_chunked_parse(&r->chunked, data, len, body);
    if (n < 0) {
        r->error = r->chunked.error;
        return -EDDY_EHTTP_PARSE;
    }
    if (body->len) {
        eddy_buf_consume(&r->framing, eddy_buf_len(&r->framing)); /* trailers come after data */
    } else if (eddy_buf_append(&r->framing, data, (size_t)n) < 0) {
        return -ENOMEM;
    }
    if (eddy_buf_len(&r->framing) >
        r->limits.max_header_size + r->limits.max_chunk_ext + FRAMING_SLACK) {
        r->error = EDDY_HTTP1_ERR_HEAD_TOO_LARGE; /* the decoder's own limits come first */
        return -EDDY_EHTTP_PARSE;
    }
    if (eddy_http1_chunked_done(&r->chunked)) {
        int rc = parse_trailers(r);
        if (rc < 0) return rc;
        r->phase = RESP_DONE;
    }
    return n;
}

ssize_t eddy__httpc_response_feed_body(httpc_response_t *r, const char *data, size_t len,
                                       eddy_http1_str_t *body)
{
    body->ptr = data;
    body->len = 0;
    ssize_t n;
    switch (r->phase) {
    case RESP_LENGTH:
        body->len = len < r->remaining ? len : (size_t)r->remaining;
        r->remaining -= body->len;
        if (r->remaining == 0) r->phase = RESP_DONE;
        n = (ssize_t)body->len;
        break;
    case RESP_UNTIL_CLOSE:
        body->len = len;
        n = (ssize_t)len;
        break;
    case RESP_CHUNKED: n = feed_chunked(r, data, len, body); break;
    default: return 0;
    }
    r->body_bytes += body->len;
    return n;
}

int eddy__httpc_response_eof(httpc_response_t *r)
{
    if (r->phase != RESP_UNTIL_CLOSE) return -EDDY_EHTTP_CLOSED;
    r->phase = RESP_DONE;
    return 0;
}
