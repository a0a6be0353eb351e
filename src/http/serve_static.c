/*
 * Static files as HTTP responses: eddy_static_serve (http_static.h) decides
 * the answer for a decoded path; this turns it into a response — the
 * status, the headers it lists, the body with sendfile (never compressed),
 * a short text body for the refusals. Used by the server before the
 * handler (enable_static_handler) and by handlers
 * (eddy_http_serve_static).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "http_internal.h"

/* The value of a request header; several lines of it are joined with ", "
 * (in the arena), as eddy_static_request_t wants them. */
static eddy_http_str_t joined(eddy_http_req_t *req, const char *name)
{
    size_t nlen = strlen(name), count = 0, total = 0;
    eddy_http_str_t first = {NULL, 0};
    for (size_t i = 0; i < req->h.num_headers; i++) {
        const eddy_http1_header_t *h = &req->headers[i];
        if (h->name.len != nlen || strncasecmp(h->name.ptr, name, nlen) != 0) continue;
        if (count++ == 0) first = h->value;
        total += h->value.len + 2;
    }
    if (count < 2) return first;
    char *p = eddy__arena_alloc(&req->arena, total);
    if (!p) return first; /* out of memory: the first line alone */
    size_t at = 0;
    for (size_t i = 0; i < req->h.num_headers; i++) {
        const eddy_http1_header_t *h = &req->headers[i];
        if (h->name.len != nlen || strncasecmp(h->name.ptr, name, nlen) != 0) continue;
        if (at) {
            memcpy(p + at, ", ", 2);
            at += 2;
        }
        memcpy(p + at, h->value.ptr, h->value.len);
        at += h->value.len;
    }
    return (eddy_http_str_t){p, at};
}

/* A refusal's body: "403 Forbidden\n". */
static int end_text(eddy_http_res_t *res, int status)
{
    char body[96];
    int n = snprintf(body, sizeof body, "%d %s\n", status, eddy_http1_reason(status));
    eddy_http_set_header(res, "Content-Type", "text/plain");
    return eddy_http_end(res, body, (size_t)n);
}

int eddy__serve_static(eddy_http_req_t *req, const eddy_static_t *st, const char *path, size_t len,
                       bool fall_through)
{
    eddy_static_request_t rq = {
        .method = req->h.method,
        .path = {path, len},
        .if_match = joined(req, "If-Match"),
        .if_none_match = joined(req, "If-None-Match"),
        .if_modified_since = joined(req, "If-Modified-Since"),
        .if_unmodified_since = joined(req, "If-Unmodified-Since"),
        .range = joined(req, "Range"),
        .if_range = joined(req, "If-Range"),
    };
    eddy_static_response_t rs;
    eddy_http_res_t *res = &req->res;
    int rc = eddy_static_serve(st, &rq, &rs);
    if (rc < 0) {
        EDDY_ERROR("http: static file %.*s: %s", (int)len, path, eddy_strerror(rc));
        eddy_http_set_status(res, 500);
        rc = end_text(res, 500);
        return rc < 0 ? rc : 500;
    }
    if (rs.status == 404 && fall_through) {
        eddy_static_response_release(&rs);
        return 0;
    }
    req->ctx->stats.static_files++;
    int status = rs.status;
    eddy_static_header_t h[EDDY_STATIC_MAX_HEADERS];
    size_t n = eddy_static_response_headers(&rs, h, EDDY_STATIC_MAX_HEADERS);
    eddy_http_set_status(res, status);
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = eddy_http_set_header(res, h[i].name, h[i].value);
    if (rc < 0) { /* out of memory for a header line */
        eddy_static_response_release(&rs);
        eddy__res_reset(res);
        eddy_http_set_status(res, 500);
        rc = end_text(res, 500);
        return rc < 0 ? rc : 500;
    }
    if (rs.fd >= 0)
        rc = eddy_http_sendfile(res, rs.fd, rs.offset, (size_t)rs.length); /* dups the fd */
    else if (status == 200 || status == 206 || status == 304)
        rc = eddy_http_end(res, NULL, 0); /* HEAD (Content-Length kept), or 304 */
    else
        rc = end_text(res, status);
    eddy_static_response_release(&rs);
    return rc < 0 ? rc : status;
}

int eddy_http_serve_static(eddy_http_req_t *req, eddy_http_res_t *res, const eddy_static_t *st,
                           const char *path)
{
    if (!req || !res || !st || !path || res != &req->res) return -EINVAL;
    if (res->started || res->ended) return -EDDY_ESTATE;
    size_t len = strlen(path);
    if (path[0] != '/') {
        char *p = eddy__arena_alloc(&req->arena, len + 2);
        if (!p) {
            eddy_http_set_status(res, 500);
            int rc = end_text(res, 500);
            return rc < 0 ? rc : 500;
        }
        p[0] = '/';
        memcpy(p + 1, path, len + 1);
        path = p;
        len++;
    }
    return eddy__serve_static(req, st, path, len, false);
}
