/* The response side: headers the handler sets, the head eddy builds around
 * them, and the three ways a body leaves — whole (end), streamed (write:
 * chunked, raw against a Content-Length, or close-delimited for HTTP/1.0)
 * and from a file (sendfile). Every head and body piece is built in one
 * buffer and leaves in one eddy_server_send. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/urlenc.h"
#include "http_internal.h"

#define OUT_KEEP (256 * 1024) /* the send buffer is released when it grew past this */

/* The process's send buffer: handlers run on one thread per process. */
static eddy_buf_t out;

static void out_reset(void)
{
    if (out.cap > OUT_KEEP)
        eddy_buf_free(&out);
    else
        out.start = out.end = 0;
}

static int out_add(const void *p, size_t n)
{
    return eddy_buf_append(&out, p, n);
}

/* ---- headers --------------------------------------------------------------------- */

/* Remove every line of b whose name is name[0..nlen). */
static void remove_lines(eddy_buf_t *b, const char *name, size_t nlen)
{
    char *p = eddy_buf_data(b);
    size_t len = eddy_buf_len(b), i = 0;
    while (i < len) {
        char *eol = memchr(p + i, '\n', len - i);
        size_t line = eol ? (size_t)(eol - (p + i)) + 1 : len - i;
        if (line > nlen && p[i + nlen] == ':' && strncasecmp(p + i, name, nlen) == 0) {
            memmove(p + i, p + i + line, len - i - line);
            len -= line;
            b->end -= line;
            continue;
        }
        i += line;
    }
}

static int add_line(eddy_buf_t *b, const char *name, size_t n, const char *value)
{
    size_t v = strlen(value);
    if (eddy_buf_reserve(b, n + v + 4) < 0) return -ENOMEM;
    char *p = eddy_buf_tail(b);
    memcpy(p, name, n);
    memcpy(p + n, ": ", 2);
    memcpy(p + n + 2, value, v);
    memcpy(p + n + 2 + v, "\r\n", 2);
    eddy_buf_commit(b, n + v + 4);
    return 0;
}

/* "close" among the comma-separated tokens of a Connection value. */
static bool lists_close(const char *v)
{
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if (e - p == 5 && strncasecmp(p, "close", 5) == 0) return true;
        p = e;
    }
    return false;
}

/* What eddy does with a header of the handler's, by its name. */
typedef enum header_kind {
    HEADER_STORED,     /* kept as it is; a tracked one sets its RH_ bit */
    HEADER_LENGTH,     /* Content-Length: remembered, eddy writes it */
    HEADER_CONNECTION, /* remembered, eddy writes it */
    HEADER_EDDYS_OWN,  /* Transfer-Encoding: refused */
} header_kind_t;

typedef struct tracked_name {
    const char *name;
    size_t len;
    header_kind_t kind;
    unsigned bit; /* the RH_* a stored one sets */
} tracked_name_t;

#define TRACKED(name, kind, bit)                                                                   \
    {                                                                                              \
        name, sizeof name - 1, kind, bit                                                           \
    }

/* Lengths differ but for Date and Vary, so most names are told apart by
 * their length alone, and at most two are compared letter by letter. */
static const tracked_name_t tracked_names[] = {
    TRACKED("Content-Type", HEADER_STORED, RH_CONTENT_TYPE),
    TRACKED("Content-Length", HEADER_LENGTH, 0),
    TRACKED("Connection", HEADER_CONNECTION, 0),
    TRACKED("Date", HEADER_STORED, RH_DATE),
    TRACKED("Server", HEADER_STORED, RH_SERVER),
    TRACKED("Vary", HEADER_STORED, RH_VARY),
    TRACKED("Content-Encoding", HEADER_STORED, RH_CONTENT_ENCODING),
    TRACKED("Content-Range", HEADER_STORED, RH_CONTENT_RANGE),
    TRACKED("Transfer-Encoding", HEADER_EDDYS_OWN, 0),
};

static const tracked_name_t *find_tracked(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof tracked_names / sizeof tracked_names[0]; i++) {
        const tracked_name_t *t = &tracked_names[i];
        if (t->len == len && strncasecmp(name, t->name, len) == 0) return t;
    }
    return NULL;
}

static int remember_length(eddy_http_res_t *res, const char *value)
{
    uint64_t v;
    eddy_http1_error_t err;
    if (eddy_http1_parse_content_length(value, strlen(value), &v, &err) < 0) return -EINVAL;
    res->content_length = v;
    res->has |= RH_CONTENT_LENGTH;
    return 0;
}

/* Headers eddy writes itself (Content-Length, Connection) are remembered,
 * not stored; the others are noted so eddy knows what the handler chose. */
static int set_or_add(eddy_http_res_t *res, const char *name, const char *value, bool replace)
{
    if (res->started || res->ended) return -EDDY_ESTATE;
    if (!eddy_http1_is_token(name) || !eddy_http1_is_field_value(value)) return -EINVAL;
    size_t nlen = strlen(name);
    const tracked_name_t *t = find_tracked(name, nlen);
    switch (t ? t->kind : HEADER_STORED) {
    case HEADER_EDDYS_OWN: return -EINVAL;
    case HEADER_LENGTH: return remember_length(res, value);
    case HEADER_CONNECTION:
        if (lists_close(value)) res->has |= RH_CONNECTION_CLOSE;
        return 0;
    case HEADER_STORED: break;
    }
    /* A tracked name whose bit is clear has no line yet: nothing to remove. */
    bool may_have_lines = !t || (res->has & t->bit);
    if (t) res->has |= t->bit;
    if (replace && may_have_lines) remove_lines(&res->headers, name, nlen);
    return add_line(&res->headers, name, nlen, value);
}

int eddy_http_set_header(eddy_http_res_t *res, const char *name, const char *value)
{
    return set_or_add(res, name, value, true);
}

int eddy_http_add_header(eddy_http_res_t *res, const char *name, const char *value)
{
    return set_or_add(res, name, value, false);
}

int eddy_http_add_trailer(eddy_http_res_t *res, const char *name, const char *value)
{
    if (res->ended) return -EDDY_ESTATE;
    if (!eddy_http1_is_token(name) || !eddy_http1_is_field_value(value)) return -EINVAL;
    return add_line(&res->trailers, name, strlen(name), value);
}

int eddy_http_set_status(eddy_http_res_t *res, int status)
{
    if (res->started || res->ended) return -EDDY_ESTATE;
    if (status < 200 || status > 999) return -EINVAL;
    res->status = status;
    return 0;
}

void eddy_http_retain(eddy_http_res_t *res)
{
    res->retained = true;
}

static bool attr_ok(const char *s)
{
    return !s || (eddy_http1_is_field_value(s) && !strchr(s, ';'));
}

int eddy_http_set_cookie(eddy_http_res_t *res, const char *name, const char *value,
                         const eddy_http_cookie_t *a)
{
    if (!name || !value || !eddy_cookie_name_valid(name, strlen(name)) ||
        !eddy_cookie_value_valid(value, strlen(value)))
        return -EINVAL;
    if (a && (!attr_ok(a->path) || !attr_ok(a->domain) || !attr_ok(a->same_site))) return -EINVAL;
    char line[4096];
    int n = snprintf(line, sizeof line, "%s=%s", name, value);
    if (a) {
        char date[EDDY_HTTP_DATE_LEN + 1];
        if (a->expires > 0) eddy_http_date(a->expires, date);
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%s%s%s", a->path ? "; Path=" : "",
                      a->path ? a->path : "", a->domain ? "; Domain=" : "",
                      a->domain ? a->domain : "");
        if (a->max_age)
            n += snprintf(line + n, sizeof line - (size_t)n, "; Max-Age=%lld",
                          a->max_age > 0 ? (long long)a->max_age : 0LL);
        if (a->expires > 0) n += snprintf(line + n, sizeof line - (size_t)n, "; Expires=%s", date);
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%s%s%s", a->secure ? "; Secure" : "",
                      a->http_only ? "; HttpOnly" : "", a->same_site ? "; SameSite=" : "",
                      a->same_site ? a->same_site : "");
    }
    if (n < 0 || (size_t)n >= sizeof line) return -EINVAL;
    return eddy_http_add_header(res, "Set-Cookie", line);
}

/* ---- lifecycle --------------------------------------------------------------------- */

void eddy__res_init(eddy_http_res_t *res)
{
    memset(res, 0, sizeof *res);
    eddy_buf_init(&res->headers);
    eddy_buf_init(&res->trailers);
    res->status = 200;
}

static void buf_clear(eddy_buf_t *b)
{
    if (b->cap > 16 * 1024)
        eddy_buf_free(b);
    else
        b->start = b->end = 0;
}

void eddy__res_reset(eddy_http_res_t *res)
{
    if (res->z) eddy__http_zstream_free(res);
    buf_clear(&res->headers);
    buf_clear(&res->trailers);
    /* The buffers in place: copying them out and back was a store-forwarding
     * stall, and clearing the whole struct a rep stos. */
    memset(res, 0, offsetof(eddy_http_res_t, headers));
    res->status = 200;
}

/* ---- the head ---------------------------------------------------------------------- */

static bool is_head(const eddy_http_req_t *req)
{
    return req->h.method_id == EDDY_HTTP1_METHOD_HEAD;
}

/* 1xx, 204 and 304 never have a body (RFC 9110 6.4.1); nor a HEAD answer. */
static bool bodiless_status(int status)
{
    return status < 200 || status == 204 || status == 304;
}

static bool no_body(const eddy_http_req_t *req)
{
    return is_head(req) || bodiless_status(req->res.status);
}

/* Could this response be compressed, whatever the client accepts? (Vary
 * says so either way.) */
static bool compressible(const eddy_http_req_t *req, size_t len, bool streamed)
{
    const eddy_http_res_t *res = &req->res;
    const eddy_http_options_t *o = &req->ctx->opts;
    if (!o->compression || is_head(req) || bodiless_status(res->status) || res->status == 206)
        return false;
    if (res->has & (RH_CONTENT_ENCODING | RH_CONTENT_RANGE)) return false;
    if (!streamed && len < o->compression_min_length) return false;
    if (!(res->has & RH_CONTENT_TYPE)) return false;
    /* The Content-Type line the handler set. */
    const char *h = eddy_buf_data(&res->headers);
    size_t hl = eddy_buf_len(&res->headers);
    for (size_t i = 0; i < hl;) {
        const char *eol = memchr(h + i, '\n', hl - i);
        size_t line = eol ? (size_t)(eol - (h + i)) + 1 : hl - i;
        if (line > 14 && strncasecmp(h + i, "Content-Type: ", 14) == 0)
            return eddy__http_type_matches(o->compression_types, h + i + 14, line - 16);
        i += line;
    }
    return false;
}

static void decide_close(eddy_http_req_t *req)
{
    eddy_http_res_t *res = &req->res;
    res->close_after = !req->h.keep_alive || (res->has & RH_CONNECTION_CLOSE) ||
                       res->mode == BODY_CLOSE || req->close_last;
}

size_t eddy__http_format_u64(char *dst, uint64_t v)
{
    char digits[EDDY__U64_DIGITS_MAX], *end = digits + sizeof digits, *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(dst, p, (size_t)(end - p));
    return (size_t)(end - p);
}

size_t eddy__http_format_hex(char *dst, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char digits[EDDY__U64_HEX_DIGITS_MAX], *end = digits + sizeof digits, *p = end;
    do {
        *--p = hex[v & 15];
        v >>= 4;
    } while (v);
    memcpy(dst, p, (size_t)(end - p));
    return (size_t)(end - p);
}

static char *put(char *w, const void *p, size_t n)
{
    memcpy(w, p, n);
    return w + n;
}

/* A string literal, its length known at compile time. */
#define PUT_LIT(w, lit) put(w, lit, sizeof lit - 1)

/* "HTTP/1.1 299 Unknown\r\n": a code without a reason (set_status takes
 * any of 200..999), at its longest. */
#define UNKNOWN_LINE_MAX (sizeof "HTTP/1.1  Unknown\r\n" - 1 + EDDY__U64_DIGITS_MAX)

static char *put_status_line(char *w, int status)
{
    size_t len;
    const char *line = eddy_http1_status_line(status, &len);
    if (line) return put(w, line, len);
    w = PUT_LIT(w, "HTTP/1.1 ");
    w += eddy__http_format_u64(w, (uint64_t)status);
    return PUT_LIT(w, " Unknown\r\n");
}

/* What build_head may write besides the status line, the server's name and
 * the handler's headers, each header at its longest. */
#define HEAD_OWN_MAX                                                                               \
    (sizeof "Server: \r\n" + sizeof "Date: \r\n" + EDDY_HTTP_DATE_LEN +                            \
     sizeof "Vary: Accept-Encoding\r\n" + sizeof "Content-Encoding: deflate\r\n" +                 \
     sizeof "Content-Length: \r\n" + EDDY__U64_DIGITS_MAX +                                        \
     sizeof "Transfer-Encoding: chunked\r\n" + sizeof "Connection: keep-alive\r\n" +               \
     sizeof "\r\n")

/* Server and Date, unless the handler set its own. */
static char *put_server_and_date(char *w, const eddy_http_req_t *req, const char *server,
                                 size_t server_len)
{
    unsigned has = req->res.has;
    if (server_len && !(has & RH_SERVER)) {
        w = PUT_LIT(w, "Server: ");
        w = put(w, server, server_len);
        w = PUT_LIT(w, "\r\n");
    }
    if (!(has & RH_DATE)) {
        w = PUT_LIT(w, "Date: ");
        w = put(w, eddy_loop_date(eddy_server_loop(req->ctx->server)), EDDY_HTTP_DATE_LEN);
        w = PUT_LIT(w, "\r\n");
    }
    return w;
}

/* Vary, the coding, how the body is framed, and whether the connection stays. */
static char *put_framing(char *w, const eddy_http_req_t *req, bool vary)
{
    const eddy_http_res_t *res = &req->res;
    if (vary && !(res->has & RH_VARY)) w = PUT_LIT(w, "Vary: Accept-Encoding\r\n");
    if (res->coding == CODING_GZIP) w = PUT_LIT(w, "Content-Encoding: gzip\r\n");
    if (res->coding == CODING_DEFLATE) w = PUT_LIT(w, "Content-Encoding: deflate\r\n");
    if (res->mode == BODY_FIXED && res->status != 204 && res->status >= 200) {
        w = PUT_LIT(w, "Content-Length: ");
        w += eddy__http_format_u64(w, res->content_length);
        w = PUT_LIT(w, "\r\n");
    }
    if (res->mode == BODY_CHUNKED) w = PUT_LIT(w, "Transfer-Encoding: chunked\r\n");
    if (res->close_after) w = PUT_LIT(w, "Connection: close\r\n");
    if (!res->close_after && req->h.minor_version == 0)
        w = PUT_LIT(w, "Connection: keep-alive\r\n");
    return w;
}

/* Status line, eddy's headers, the handler's, and the framing headers,
 * written straight into the buffer after one reservation at their longest. */
static int build_head(eddy_http_req_t *req, bool vary)
{
    eddy_http_res_t *res = &req->res;
    const char *server = req->ctx->opts.server_name;
    size_t server_len = strlen(server), headers_len = eddy_buf_len(&res->headers);
    decide_close(req);
    res->started = true;
    if (eddy_buf_reserve(&out, UNKNOWN_LINE_MAX + server_len + headers_len + HEAD_OWN_MAX) < 0)
        return -ENOMEM;
    char *start = eddy_buf_tail(&out), *w = start;
    w = put_status_line(w, res->status);
    w = put_server_and_date(w, req, server, server_len);
    if (headers_len) w = put(w, eddy_buf_data(&res->headers), headers_len);
    w = put_framing(w, req, vary);
    w = PUT_LIT(w, "\r\n");
    eddy_buf_commit(&out, (size_t)(w - start));
    return 0;
}

/* Send what the buffer holds, in one eddy_server_send. */
static int out_flush(eddy_http_req_t *req)
{
    int rc = eddy__http_send(req, eddy_buf_data(&out), eddy_buf_len(&out));
    out_reset();
    return rc;
}

static int add_chunk(const char *data, size_t len)
{
    if (len == 0) return 0;
    if (eddy_buf_reserve(&out, EDDY__U64_HEX_DIGITS_MAX + 2 + len + 2) < 0) return -ENOMEM;
    char *start = eddy_buf_tail(&out), *w = start;
    w += eddy__http_format_hex(w, len);
    w = PUT_LIT(w, "\r\n");
    w = put(w, data, len);
    w = PUT_LIT(w, "\r\n");
    eddy_buf_commit(&out, (size_t)(w - start));
    return 0;
}

static int add_last_chunk(eddy_http_res_t *res)
{
    int rc = out_add("0\r\n", 3);
    if (rc == 0) rc = out_add(eddy_buf_data(&res->trailers), eddy_buf_len(&res->trailers));
    if (rc == 0) rc = out_add("\r\n", 2);
    return rc;
}

/* ---- ending ------------------------------------------------------------------------ */

/* A failure that leaves the stream unusable closes the connection. */
static int fail_fatal(eddy_http_req_t *req, int rc)
{
    if (rc != -EDDY_ESESSION) eddy_server_close(req->ctx->server, req->session);
    req->res.close_after = true;
    return rc;
}

static int end_response(eddy_http_req_t *req, int rc)
{
    req->res.ended = true;
    if (rc < 0) fail_fatal(req, rc);
    eddy__exchange_ended(req);
    return rc;
}

/* The whole response at once: head and body, Content-Length. */
static int send_whole(eddy_http_req_t *req, const char *body, size_t len)
{
    eddy_http_res_t *res = &req->res;
    bool vary = compressible(req, len, false);
    if (vary && len > 0) {
        coding_t coding = eddy__http_accepted_coding(req);
        const char *z;
        ssize_t zlen =
            coding ? eddy__http_compress(coding, req->ctx->opts.compression_level, body, len, &z)
                   : -1;
        if (zlen >= 0) {
            res->coding = coding;
            body = z;
            len = (size_t)zlen;
        }
    }
    res->mode = BODY_FIXED;
    /* HEAD: the length a GET would get, unless the handler said it. */
    if (!(is_head(req) && (res->has & RH_CONTENT_LENGTH))) res->content_length = len;
    if (res->status == 304 && !(res->has & RH_CONTENT_LENGTH)) res->mode = BODY_NONE;
    int rc = build_head(req, vary);
    if (rc == 0 && !no_body(req)) {
        rc = out_add(body, len);
        res->body_sent = len;
    }
    if (rc < 0) {
        out_reset();
        return rc;
    }
    return out_flush(req);
}

/* The head of a streamed response: how the body will be framed. */
static int start_stream(eddy_http_req_t *req)
{
    eddy_http_res_t *res = &req->res;
    bool vary = false;
    if (bodiless_status(res->status) || (res->has & RH_CONTENT_LENGTH)) {
        res->mode = (res->has & RH_CONTENT_LENGTH) ? BODY_FIXED : BODY_NONE;
    } else {
        /* HEAD too: its head says what a GET's would (chunked), without the body. */
        res->mode = req->h.minor_version >= 1 ? BODY_CHUNKED : BODY_CLOSE;
        vary = compressible(req, 0, true);
        res->coding = vary ? eddy__http_accepted_coding(req) : CODING_IDENTITY;
        if (res->coding && eddy__http_zstream_new(res, req->ctx->opts.compression_level) < 0)
            res->coding = CODING_IDENTITY; /* out of memory: send it as it is */
    }
    return build_head(req, vary);
}

/* Frame data (already compressed if it is) in the buffer. */
static int add_body(eddy_http_req_t *req, const char *data, size_t len)
{
    eddy_http_res_t *res = &req->res;
    if (res->mode == BODY_CHUNKED) return add_chunk(data, len);
    return out_add(data, len);
}

/* Body bytes of a streamed response into the buffer; last adds the end. */
static int stream_body(eddy_http_req_t *req, const char *data, size_t len, bool last)
{
    eddy_http_res_t *res = &req->res;
    if (no_body(req)) return 0;
    if (res->mode == BODY_FIXED && res->content_length - res->body_sent < len) return -EINVAL;
    if (res->mode == BODY_FIXED && last && res->body_sent + len != res->content_length)
        return -EINVAL;
    int rc = 0;
    if (res->z) {
        const char *z;
        ssize_t zlen = eddy__http_zstream_feed(res, data, len, last, &z);
        if (zlen < 0) return (int)zlen;
        rc = add_body(req, z, (size_t)zlen);
    } else {
        rc = add_body(req, data, len);
    }
    res->body_sent += len;
    if (rc == 0 && last && res->mode == BODY_CHUNKED) rc = add_last_chunk(res);
    return rc;
}

static int check_usable(eddy_http_req_t *req)
{
    if (req->res.ended) return -EDDY_ESTATE;
    if (req->gone) return end_response(req, -EDDY_ESESSION);
    return 0;
}

int eddy_http_end(eddy_http_res_t *res, const void *body, size_t len)
{
    eddy_http_req_t *req = eddy_http_request(res);
    int rc = check_usable(req);
    if (rc < 0) return rc;
    /* Uploads not moved are gone before the client can see the answer. */
    eddy__req_files_discard(req);
    if (!body) len = 0;
    if (!res->started) return end_response(req, send_whole(req, body, len));
    rc = stream_body(req, body, len, true);
    if (rc == 0)
        rc = out_flush(req);
    else
        out_reset();
    return end_response(req, rc);
}

int eddy_http_write(eddy_http_res_t *res, const void *data, size_t len)
{
    eddy_http_req_t *req = eddy_http_request(res);
    int rc = check_usable(req);
    if (rc < 0) return rc;
    if (!data) len = 0;
    bool starting = !res->started;
    uint64_t sent = res->body_sent;
    if (starting) rc = start_stream(req);
    if (rc == 0) rc = stream_body(req, data, len, false);
    if (rc == 0 && eddy_buf_len(&out) == 0) return 0;
    if (rc == 0)
        rc = out_flush(req);
    else
        out_reset();
    if (rc == 0) return 0;
    /* Nothing was queued: a full buffer or a bad length leaves the response
     * as it was (a compressed stream has moved on, so it cannot). */
    bool retryable = (rc == -EDDY_EOUTPUT_FULL || rc == -EINVAL) && !res->z;
    if (retryable) {
        if (starting) res->started = false;
        res->body_sent = sent;
        return rc;
    }
    return end_response(req, rc);
}

int eddy_http_sendfile(eddy_http_res_t *res, int fd, off_t offset, size_t len)
{
    eddy_http_req_t *req = eddy_http_request(res);
    int rc = check_usable(req);
    if (rc < 0) return rc;
    if (res->started) return -EDDY_ESTATE;
    if (offset < 0) return -EINVAL;
    if (len == 0) {
        struct stat st;
        if (fstat(fd, &st) < 0) return -errno;
        len = st.st_size > offset ? (size_t)(st.st_size - offset) : 0;
    }
    eddy__req_files_discard(req);
    res->mode = BODY_FIXED;
    res->content_length = len;
    rc = build_head(req, false);
    if (rc < 0) {
        out_reset();
        return end_response(req, rc);
    }
    rc = out_flush(req);
    if (rc == 0 && len > 0 && !no_body(req)) {
        rc = eddy_server_sendfile(req->ctx->server, req->session, fd, offset, len);
        if (rc == 0) res->body_sent = len;
    }
    return end_response(req, rc);
}

/* ---- eddy's own answers -------------------------------------------------------------- */

int eddy__res_simple(eddy_http_res_t *res, int status)
{
    eddy__res_reset(res);
    res->status = status;
    res->has |= RH_CONNECTION_CLOSE; /* a refused request ends the connection */
    eddy_http_set_header(res, "Content-Type", "text/plain");
    const char *reason = eddy_http1_reason(status);
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    return eddy_http_end(res, body, (size_t)n);
}

void eddy__res_abandon(eddy_http_res_t *res)
{
    eddy_http_req_t *req = eddy_http_request(res);
    EDDY_WARN("http: the handler for %.*s %.*s returned without answering or retaining the "
              "response",
              (int)req->h.method.len, req->h.method.ptr, (int)req->h.target.len, req->h.target.ptr);
    if (!res->started) {
        eddy__res_reset(res);
        res->status = 500;
        eddy_http_set_header(res, "Content-Type", "text/plain");
        eddy_http_end(res, "500 Internal Server Error\n", 26);
        return;
    }
    /* Half a streamed body: only closing tells the client it is incomplete. */
    end_response(req, -ECANCELED);
}
