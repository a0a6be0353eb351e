/* The request side: parsing a framed packet into a request, moving it into
 * memory of its own when it outlives on_receive, and the accessors (path,
 * query, headers, cookies, body, form). Decoded strings live in the
 * request's arena, built on first use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "eddy/urlenc.h"
#include "http_internal.h"

#define ARENA_BLOCK 4096
#define ARENA_KEEP  (64 * 1024) /* a block larger than this is not kept for reuse */

/* ---- arena ---------------------------------------------------------------------- */

void *eddy__arena_alloc(http_arena_t *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    arena_block_t *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void eddy__arena_reset(http_arena_t *a)
{
    arena_block_t *keep = NULL;
    for (arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        if (!keep && b->cap <= ARENA_KEEP) {
            keep = b;
            continue;
        }
        free(b);
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
}

void eddy__arena_free(http_arena_t *a)
{
    for (arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

/* ---- parsing -------------------------------------------------------------------- */

static int reserve_headers(eddy_http_req_t *req, size_t n)
{
    if (req->headers_cap >= n) return 0;
    eddy_http1_header_t *h = realloc(req->headers, n * sizeof *h);
    if (!h) return -ENOMEM;
    req->headers = h;
    req->headers_cap = n;
    return 0;
}

/* The decoded path; "*" and authority-form targets have none to decode. */
static int decode_path(eddy_http_req_t *req)
{
    eddy_http_str_t raw = req->h.path;
    if (req->h.target_form == EDDY_HTTP1_TARGET_ASTERISK) raw = req->h.target;
    if (req->h.target_form == EDDY_HTTP1_TARGET_AUTHORITY) raw.len = 0;
    char *out = eddy__arena_alloc(&req->arena, raw.len + 1);
    if (!out) return 500;
    ssize_t n = eddy_url_decode(out, raw.len, raw.ptr, raw.len, EDDY_URL_REJECT_NUL);
    if (n < 0) return 400;
    out[n] = '\0';
    req->path.ptr = out;
    req->path.len = (size_t)n;
    return 0;
}

/* A chunked body decoded into the arena (in place in a copy). */
static int decode_chunked(eddy_http_req_t *req, const char *body, size_t len)
{
    char *copy = eddy__arena_alloc(&req->arena, len + 1);
    if (!copy) return 500;
    memcpy(copy, body, len);
    eddy_http1_chunked_t d;
    eddy_http1_chunked_init(&d, &req->ctx->limits);
    size_t n = len;
    ssize_t r = eddy_http1_chunked_decode(&d, copy, &n);
    if (r < 0) return 400; /* the framing checked it: never */
    copy[n] = '\0';
    req->body.ptr = copy;
    req->body.len = n;
    return 0;
}

int eddy__req_parse(eddy_http_req_t *req, const char *data, size_t len, bool body_follows)
{
    req->packet = data;
    req->packet_len = len;
    size_t max = req->ctx->limits.max_headers;
    if (reserve_headers(req, max) < 0) return 500;
    req->h.headers = req->headers;
    req->h.max_headers = max;
    int n = eddy_http1_parse_request(data, len, 0, &req->h, &req->ctx->limits);
    /* The framing parsed the same bytes with the same limits: a failure
     * here means the packet did not come from HTTP framing. */
    if (n < 0) return n == EDDY_HTTP1_ERROR ? eddy_http1_error_status(req->h.error) : 400;
    req->head_len = (size_t)n;
    int rc = decode_path(req);
    if (rc) return rc;
    const char *body = data + n;
    size_t blen = len - (size_t)n;
    if (body_follows) { /* Content-Length or chunked, it comes in parts */
        req->body.ptr = "";
        return 0;
    }
    switch (req->h.body) {
    case EDDY_HTTP1_BODY_LENGTH:
        if (blen < req->h.content_length) return 400;
        req->body.ptr = body;
        req->body.len = (size_t)req->h.content_length;
        return 0;
    case EDDY_HTTP1_BODY_CHUNKED: return decode_chunked(req, body, blen);
    default: req->body.ptr = ""; return 0;
    }
}

static void move_str(eddy_http_str_t *s, const char *from, size_t len, const char *to)
{
    if (s->ptr && s->ptr >= from && s->ptr <= from + len) s->ptr = to + (s->ptr - from);
}

int eddy__req_detach(eddy_http_req_t *req)
{
    if (req->owned && req->packet == req->owned) return 0;
    if (req->owned_cap < req->packet_len + 1) {
        char *p = realloc(req->owned, req->packet_len + 1);
        if (!p) return -ENOMEM;
        req->owned = p;
        req->owned_cap = req->packet_len + 1;
    }
    const char *from = req->packet;
    size_t len = req->packet_len;
    memcpy(req->owned, from, len);
    eddy_http1_request_t *h = &req->h;
    eddy_http_str_t *strs[] = {&h->method, &h->target, &h->authority, &h->path,
                               &h->query,  &h->host,   &h->upgrade,   &req->body};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        move_str(strs[i], from, len, req->owned);
    for (size_t i = 0; i < h->num_headers; i++) {
        move_str(&req->headers[i].name, from, len, req->owned);
        move_str(&req->headers[i].value, from, len, req->owned);
    }
    req->packet = req->owned;
    return 0;
}

void eddy__req_reset(eddy_http_req_t *req)
{
    eddy__form_abort(req);
    eddy__req_files_discard(req); /* uploads nobody moved: dropped or ended */
    eddy__arena_reset(&req->arena);
    if (req->owned_cap > ARENA_KEEP) {
        free(req->owned);
        req->owned = NULL;
        req->owned_cap = 0;
    }
    req->conn = NULL;
    req->packet = NULL;
    req->packet_len = 0;
    req->head_len = 0;
    req->path = (eddy_http_str_t){NULL, 0};
    req->body = (eddy_http_str_t){NULL, 0};
    req->query = req->form = NULL;
    req->nquery = req->nform = 0;
    req->query_done = req->form_done = false;
    req->in_handler = req->handled = req->gone = false;
    req->refuse = 0;
    req->close_last = false;
    req->receiving = false;
    req->next = NULL;
    eddy__res_reset(&req->res);
}

/* ---- accessors ------------------------------------------------------------------- */

eddy_http_str_t eddy_http_method(const eddy_http_req_t *req)
{
    return req->h.method;
}

eddy_http1_method_t eddy_http_method_id(const eddy_http_req_t *req)
{
    return req->h.method_id;
}

eddy_http_str_t eddy_http_target(const eddy_http_req_t *req)
{
    return req->h.target;
}

eddy_http_str_t eddy_http_path(const eddy_http_req_t *req)
{
    return req->path;
}

eddy_http_str_t eddy_http_query_string(const eddy_http_req_t *req)
{
    return req->h.query;
}

eddy_http_str_t eddy_http_header(const eddy_http_req_t *req, const char *name)
{
    const eddy_http1_header_t *h =
        eddy_http1_find_header(req->headers, req->h.num_headers, name, strlen(name));
    return h ? h->value : (eddy_http_str_t){NULL, 0};
}

size_t eddy_http_header_count(const eddy_http_req_t *req)
{
    return req->h.num_headers;
}

const eddy_http1_header_t *eddy_http_header_at(const eddy_http_req_t *req, size_t i)
{
    return i < req->h.num_headers ? &req->headers[i] : NULL;
}

eddy_http_str_t eddy_http_body(const eddy_http_req_t *req)
{
    return req->body;
}

eddy_http_str_t eddy_http_content_type(const eddy_http_req_t *req)
{
    return eddy_http_header(req, "Content-Type");
}

int eddy_http_version(const eddy_http_req_t *req)
{
    return 10 + req->h.minor_version;
}

bool eddy_http_keep_alive(const eddy_http_req_t *req)
{
    return req->h.keep_alive;
}

eddy_session_t eddy_http_session(const eddy_http_req_t *req)
{
    return req->session;
}

eddy_server_t *eddy_http_server(const eddy_http_req_t *req)
{
    return req->ctx->server;
}

int eddy_http_peer(const eddy_http_req_t *req, eddy_addr_t *out)
{
    if (req->gone) return -EDDY_ESESSION;
    eddy_session_info_t info;
    int rc = eddy_server_info(req->ctx->server, req->session, &info);
    if (rc < 0) return rc;
    *out = info.conn.peer;
    return 0;
}

eddy_http_res_t *eddy_http_response(eddy_http_req_t *req)
{
    return &req->res;
}

eddy_http_req_t *eddy_http_request(eddy_http_res_t *res)
{
    return (eddy_http_req_t *)((char *)res - offsetof(eddy_http_req_t, res));
}

eddy_http_str_t eddy_http_cookie(const eddy_http_req_t *req, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->h.num_headers; i++) {
        const eddy_http1_header_t *h = &req->headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.ptr, "Cookie", 6) != 0) continue;
        eddy_url_iter_t it;
        eddy_url_pair_t p;
        eddy_url_iter_init(&it, h->value.ptr, h->value.len);
        while (eddy_cookie_next(&it, &p))
            if (p.name.len == nlen && memcmp(p.name.ptr, name, nlen) == 0) return p.value;
    }
    return (eddy_http_str_t){NULL, 0};
}

/* ---- decoded pairs (query string, urlencoded form) -------------------------------- */

static eddy_http_str_t decode_into_arena(http_arena_t *a, eddy_http_str_t raw, bool *ok)
{
    char *out = eddy__arena_alloc(a, raw.len + 1);
    ssize_t n = out ? eddy_url_decode(out, raw.len, raw.ptr, raw.len, EDDY_URL_PLUS_SPACE) : -1;
    *ok = n >= 0;
    if (n < 0) return (eddy_http_str_t){NULL, 0};
    out[n] = '\0';
    return (eddy_http_str_t){out, (size_t)n};
}

/* Every pair of s, decoded, as name/value slots; malformed pairs skipped. */
static size_t decode_pairs(http_arena_t *a, eddy_http_str_t s, eddy_http_str_t **out)
{
    eddy_url_iter_t it;
    eddy_url_pair_t p;
    size_t n = 0;
    eddy_url_iter_init(&it, s.ptr, s.len);
    while (eddy_url_next(&it, &p))
        n++;
    *out = n ? eddy__arena_alloc(a, 2 * n * sizeof **out) : NULL;
    if (!*out) return 0;
    size_t k = 0;
    eddy_url_iter_init(&it, s.ptr, s.len);
    while (eddy_url_next(&it, &p)) {
        bool ok_name, ok_value;
        eddy_http_str_t name = decode_into_arena(a, p.name, &ok_name);
        eddy_http_str_t value = decode_into_arena(a, p.value, &ok_value);
        if (!ok_name || !ok_value) continue;
        (*out)[2 * k] = name;
        (*out)[2 * k + 1] = value;
        k++;
    }
    return k;
}

static eddy_http_str_t find_pair(const eddy_http_str_t *pairs, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (pairs[2 * i].len == len && memcmp(pairs[2 * i].ptr, name, len) == 0)
            return pairs[2 * i + 1];
    return (eddy_http_str_t){NULL, 0};
}

static bool pair_at(const eddy_http_str_t *pairs, size_t n, size_t i, eddy_http_str_t *name,
                    eddy_http_str_t *value)
{
    if (i >= n) return false;
    if (name) *name = pairs[2 * i];
    if (value) *value = pairs[2 * i + 1];
    return true;
}

static void ensure_query(eddy_http_req_t *req)
{
    if (req->query_done) return;
    req->query_done = true;
    req->nquery = decode_pairs(&req->arena, req->h.query, &req->query);
}

/* Only an application/x-www-form-urlencoded body has fields. */
static bool is_urlencoded(const eddy_http_req_t *req)
{
    eddy_http_str_t ct = eddy_http_content_type(req);
    return eddy_http1_media_type_is(ct.ptr, ct.len, "application/x-www-form-urlencoded");
}

static void ensure_form(eddy_http_req_t *req)
{
    if (req->form_done) return;
    req->form_done = true;
    if (is_urlencoded(req)) req->nform = decode_pairs(&req->arena, req->body, &req->form);
}

eddy_http_str_t eddy_http_query(eddy_http_req_t *req, const char *name)
{
    ensure_query(req);
    return find_pair(req->query, req->nquery, name);
}

size_t eddy_http_query_count(eddy_http_req_t *req)
{
    ensure_query(req);
    return req->nquery;
}

bool eddy_http_query_at(eddy_http_req_t *req, size_t i, eddy_http_str_t *name,
                        eddy_http_str_t *value)
{
    ensure_query(req);
    return pair_at(req->query, req->nquery, i, name, value);
}

eddy_http_str_t eddy_http_form(eddy_http_req_t *req, const char *name)
{
    ensure_form(req);
    return find_pair(req->form, req->nform, name);
}

size_t eddy_http_form_count(eddy_http_req_t *req)
{
    ensure_form(req);
    return req->nform;
}

bool eddy_http_form_at(eddy_http_req_t *req, size_t i, eddy_http_str_t *name,
                       eddy_http_str_t *value)
{
    ensure_form(req);
    return pair_at(req->form, req->nform, i, name, value);
}
