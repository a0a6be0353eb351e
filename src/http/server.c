/*
 * The HTTP layer on top of eddy_server: requests arrive as whole packets
 * (open_http_protocol framing) through on_receive and are answered with
 * eddy_server_send / sendfile / close, so the same code serves BASE and
 * PROCESS mode.
 *
 * The common case costs no allocation and no state: a packet arrives on an
 * idle connection, a request object comes off a free list, the handler
 * answers inside its call, the object goes back. Only when a response is
 * still being prepared after its handler returned does the connection get
 * an http_conn_t (from a free list too), found through a small table keyed
 * by session id; it holds the queue of requests that arrive meanwhile, and
 * the session stays paused until the queue is empty, so responses leave in
 * request order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "http_internal.h"

#define FREE_REQS_MAX  64 /* request objects kept for reuse per process */
#define FREE_CONNS_MAX 64
#define TABLE_MIN      64

/* Process-wide: every port of every server made in this process (workers
 * inherit the list through fork), and the state of the requests in flight. */
static http_ctx_t *contexts;
static eddy_http_req_t *free_reqs;
static size_t nfree_reqs;
static http_conn_t *free_conns;
static size_t nfree_conns;

/* ---- the session table: open addressing, indexed by the session's fd bits ---- */

static struct {
    http_conn_t **slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} table;

/* BASE-mode sessions carry the descriptor in bits 32..51: consecutive
 * connections land in consecutive slots. Any other layout still works, only
 * with more probing. */
static size_t slot_of(eddy_session_t session, size_t cap)
{
    uint64_t h = (session >> 32) ^ (session * 0x9e3779b97f4a7c15ull >> 40);
    return (size_t)h & (cap - 1);
}

static http_conn_t *table_find(eddy_session_t session)
{
    if (table.count == 0) return NULL;
    for (size_t i = slot_of(session, table.cap);; i = (i + 1) & (table.cap - 1)) {
        http_conn_t *hc = table.slots[i];
        if (!hc) return NULL;
        if (hc->session == session) return hc;
    }
}

static void table_place(http_conn_t **slots, size_t cap, http_conn_t *hc)
{
    size_t i = slot_of(hc->session, cap);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = hc;
}

static int table_insert(http_conn_t *hc)
{
    if (2 * (table.count + 1) > table.cap) {
        size_t cap = table.cap ? 2 * table.cap : TABLE_MIN;
        http_conn_t **slots = calloc(cap, sizeof *slots);
        if (!slots) return -ENOMEM;
        for (size_t i = 0; i < table.cap; i++)
            if (table.slots[i]) table_place(slots, cap, table.slots[i]);
        free(table.slots);
        table.slots = slots;
        table.cap = cap;
    }
    table_place(table.slots, table.cap, hc);
    table.count++;
    return 0;
}

/* Backward-shift deletion: no tombstones, probes stay short. */
static void table_remove(http_conn_t *hc)
{
    size_t mask = table.cap - 1, i = slot_of(hc->session, table.cap);
    while (table.slots[i] != hc)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; table.slots[j]; j = (j + 1) & mask) {
        size_t home = slot_of(table.slots[j]->session, table.cap);
        /* Move j back into the hole at i if its home is not in (i, j]. */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            table.slots[i] = table.slots[j];
            i = j;
        }
    }
    table.slots[i] = NULL;
    table.count--;
}

/* ---- request objects ------------------------------------------------------------- */

static eddy_http_req_t *req_get(http_ctx_t *ctx, eddy_session_t session)
{
    eddy_http_req_t *req = free_reqs;
    if (req) {
        free_reqs = req->next;
        nfree_reqs--;
    } else {
        req = calloc(1, sizeof *req);
        if (!req) return NULL;
        eddy__res_init(&req->res);
    }
    req->next = NULL;
    req->ctx = ctx;
    req->session = session;
    return req;
}

static void req_free(eddy_http_req_t *req)
{
    eddy__req_reset(req);
    eddy__arena_free(&req->arena);
    eddy_buf_free(&req->res.headers);
    eddy_buf_free(&req->res.trailers);
    free(req->headers);
    free(req->owned);
    free(req);
}

static void req_put(eddy_http_req_t *req)
{
    if (nfree_reqs >= FREE_REQS_MAX) {
        req_free(req);
        return;
    }
    eddy__req_reset(req);
    req->next = free_reqs;
    free_reqs = req;
    nfree_reqs++;
}

/* ---- connections with a response in progress ---------------------------------------- */

static http_conn_t *conn_new(http_ctx_t *ctx, eddy_session_t session, bool pause)
{
    http_conn_t *hc = free_conns;
    if (hc) {
        free_conns = hc->next;
        nfree_conns--;
    } else if (!(hc = malloc(sizeof *hc))) {
        return NULL;
    }
    memset(hc, 0, sizeof *hc);
    hc->session = session;
    hc->ctx = ctx;
    if (table_insert(hc) < 0) {
        free(hc);
        return NULL;
    }
    /* Nothing more is read (or framed) until this response has ended. */
    if (pause) hc->paused = eddy_server_pause(ctx->server, session) == 0;
    return hc;
}

/* A response is pending: read no more requests until it has ended. */
static void conn_hold(http_conn_t *hc)
{
    if (!hc->paused) hc->paused = eddy_server_pause(hc->ctx->server, hc->session) == 0;
}

/* The request in front is receiving its body: read on. */
static void conn_read(http_conn_t *hc)
{
    if (hc->paused) eddy_server_resume(hc->ctx->server, hc->session);
    hc->paused = false;
}

static void conn_push(http_conn_t *hc, eddy_http_req_t *req)
{
    req->conn = hc;
    if (hc->tail)
        hc->tail->next = req;
    else
        hc->head = req;
    hc->tail = req;
    hc->queued++;
}

static eddy_http_req_t *conn_pop(http_conn_t *hc)
{
    eddy_http_req_t *req = hc->head;
    hc->head = req->next;
    if (!hc->head) hc->tail = NULL;
    hc->queued--;
    req->next = NULL;
    req->conn = NULL;
    return req;
}

static void conn_release(http_conn_t *hc)
{
    table_remove(hc);
    if (nfree_conns >= FREE_CONNS_MAX) {
        free(hc);
        return;
    }
    hc->next = free_conns;
    free_conns = hc;
    nfree_conns++;
}

/* Nothing is in progress any more: read again. */
static void conn_done(http_conn_t *hc)
{
    if (hc->paused) eddy_server_resume(hc->ctx->server, hc->session);
    conn_release(hc);
}

/* The connection is closing or gone: requests whose handlers have not run
 * are dropped; a retained one in progress stays with its application, its
 * next end or write failing with -EDDY_ESESSION. */
static void conn_drop(http_conn_t *hc, bool gone)
{
    while (hc->head) {
        eddy_http_req_t *req = conn_pop(hc);
        if (req->handled && !req->res.ended) {
            req->gone = gone;
            if (gone) req->ctx->stats.aborted++;
            continue;
        }
        req_put(req);
    }
    conn_release(hc);
}

/* ---- running handlers ----------------------------------------------------------------- */

static void drain(http_conn_t *hc);

static void settle(eddy_http_req_t *req);

/* Returns true when the handler kept its response to answer later; else
 * req has been settled (and may already serve another request). */
static bool run_handler(eddy_http_req_t *req)
{
    http_ctx_t *ctx = req->ctx;
    ctx->stats.requests++;
    ctx->stats.in_progress++;
    req->handled = true;
    req->in_handler = true;
    ctx->on_request(req, &req->res, ctx->ud);
    req->in_handler = false;
    if (req->res.ended) {
        settle(req);
        return false;
    }
    if (req->res.retained) return true;
    eddy__res_abandon(&req->res); /* ends it, and so settles it */
    return false;
}

/* What eddy answers before the handler: a file under document_root
 * (enable_static_handler), or a multipart body it refuses (400, 413).
 * Otherwise the body's fields and files are ready for the handler. Returns
 * true when req was answered (and settled) here. */
static bool answer_first(eddy_http_req_t *req)
{
    http_ctx_t *ctx = req->ctx;
    eddy_http1_method_t m = req->h.method_id;
    if (ctx->statics && (m == EDDY_HTTP1_METHOD_GET || m == EDDY_HTTP1_METHOD_HEAD)) {
        const char *p = req->path.ptr;
        size_t len = req->path.len, plen = ctx->static_prefix_len;
        /* The prefix as whole segments: "/assets" is "/assets" and "/assets/...". */
        if (len >= plen && memcmp(p, ctx->opts.static_prefix, plen) == 0 &&
            (len == plen || p[plen] == '/')) {
            const char *rest = len == plen ? "/" : p + plen;
            size_t rlen = len == plen ? 1 : len - plen;
            if (eddy__serve_static(req, ctx->statics, rest, rlen, true) != 0) return true;
        }
    }
    int status = eddy__req_multipart(req);
    if (status) {
        ctx->stats.rejected++;
        eddy__res_simple(&req->res, status); /* settles it */
        return true;
    }
    return false;
}

static void drain_deferred(eddy_loop_t *loop, void *ud)
{
    http_conn_t *hc = table_find((eddy_session_t)(uintptr_t)ud);
    if (!hc) return; /* closed meanwhile */
    hc->drain_pending = false;
    drain(hc);
}

/* What comes after the head request ended (or the queue changed). */
static void advance(http_conn_t *hc)
{
    if (hc->draining) return; /* drain() goes on by itself */
    if (hc->closing) {
        conn_drop(hc, false);
        return;
    }
    if (!hc->head) {
        conn_done(hc);
        return;
    }
    if (hc->head->receiving) {
        conn_read(hc); /* it runs once its body is in */
        return;
    }
    if (hc->head->handled) {
        conn_hold(hc); /* a retained response is pending */
        return;
    }
    if (hc->drain_pending) return;
    /* Not from inside the end() call of the application: next iteration. */
    if (eddy_defer(eddy_server_loop(hc->ctx->server), drain_deferred,
                   (void *)(uintptr_t)hc->session) == 0)
        hc->drain_pending = true;
}

/* req's response has ended and its handler has returned. */
static void settle(eddy_http_req_t *req)
{
    http_conn_t *hc = req->conn;
    if (!hc) {
        req_put(req);
        return;
    }
    bool close = req->res.close_after || req->close_last;
    if (req->close_last && !req->res.close_after) eddy_server_close(hc->ctx->server, hc->session);
    conn_pop(hc);
    req_put(req);
    hc->closing = hc->closing || close;
    advance(hc);
}

/* Run the queued requests in order until one is answered later. */
static void drain(http_conn_t *hc)
{
    hc->draining = true;
    while (hc->head && !hc->head->handled && !hc->head->receiving && !hc->closing) {
        eddy_http_req_t *req = hc->head;
        if (req->refuse) {
            req->ctx->stats.rejected++;
            eddy__res_simple(&req->res, req->refuse); /* settles it */
        } else if (!answer_first(req)) {
            run_handler(req);
        }
    }
    hc->draining = false;
    advance(hc);
}

void eddy__exchange_ended(eddy_http_req_t *req)
{
    http_ctx_t *ctx = req->ctx;
    eddy_http_res_t *res = &req->res;
    if (req->handled) ctx->stats.in_progress--;
    if (!req->gone) {
        /* PROCESS mode: the reactor may now answer what came after. */
        eddy_server_answered(ctx->server, req->session);
        int cls = res->status / 100;
        ctx->stats.responses[cls >= 1 && cls <= 5 ? cls : 0]++;
        if (ctx->opts.access_log[0]) eddy__http_access_log(req);
        if (res->close_after) eddy_server_close(ctx->server, req->session);
    }
    if (req->in_handler) return; /* the caller of the handler settles it */
    settle(req);
}

int eddy__http_send(eddy_http_req_t *req, const void *data, size_t len)
{
    int rc = eddy_server_send(req->ctx->server, req->session, data, len);
    if (rc == 0) req->ctx->stats.bytes_out += len;
    return rc;
}

/* ---- the port's callbacks --------------------------------------------------------------- */

/* A request object for a place at the end of hc's queue, or NULL when the
 * queue takes no more (the connection then ends after what is queued). */
static eddy_http_req_t *queue_place(http_ctx_t *ctx, http_conn_t *hc, eddy_session_t session)
{
    if (hc->closing || hc->overflow) return NULL;
    if (hc->queued > ctx->opts.pipeline_max)
        EDDY_WARN("http: session %llx: more than %zu pipelined requests queued; closing after "
                  "the queued answers",
                  (unsigned long long)session, ctx->opts.pipeline_max);
    eddy_http_req_t *req = hc->queued > ctx->opts.pipeline_max ? NULL : req_get(ctx, session);
    if (!req && hc->tail) {
        hc->overflow = true;
        hc->tail->close_last = true; /* answer what is queued, then close */
    }
    return req;
}

/* A request behind one still in progress: copied, and answered in turn. */
static void enqueue(http_ctx_t *ctx, http_conn_t *hc, eddy_session_t session, const char *data,
                    size_t len)
{
    eddy_http_req_t *req = queue_place(ctx, hc, session);
    if (!req) return;
    int status = eddy__req_parse(req, data, len, false);
    if (status == 0 && eddy__req_detach(req) < 0) status = 500;
    req->refuse = status;
    if (status) eddy__req_detach(req); /* the refusal is logged with the request line */
    conn_push(hc, req);
}

/* The head of a request whose body comes in parts (BASE mode, multipart):
 * it takes its place in the connection's queue at once, and its body is
 * parsed into fields and files piece by piece as it arrives; the handler
 * runs after the last piece. */
static void receive_head(http_ctx_t *ctx, eddy_session_t session, const char *data, size_t len)
{
    http_conn_t *hc = table_find(session);
    if (!hc && !(hc = conn_new(ctx, session, false))) {
        eddy_server_close(ctx->server, session);
        return;
    }
    eddy_http_req_t *req = queue_place(ctx, hc, session);
    if (!req) {
        if (!hc->head) conn_done(hc);
        return; /* its body is dropped as it comes */
    }
    int status = eddy__req_parse(req, data, len, true);
    if (status == 0 && eddy__req_detach(req) < 0) status = 500;
    if (status == 0) status = eddy__form_begin(req, true);
    if (status) eddy__req_detach(req); /* the refusal is logged with the request line */
    req->refuse = status;
    req->receiving = status == 0;
    if (req->receiving) hc->receiving = req;
    conn_push(hc, req);
    if (status && hc->head == req) drain(hc);
}

/* The next piece of the receiving request's body; last: the body is in. A
 * piece for no request (refused, or the connection is closing) is dropped. */
static void receive_body(eddy_session_t session, const char *data, size_t len, bool last)
{
    http_conn_t *hc = table_find(session);
    eddy_http_req_t *req = hc ? hc->receiving : NULL;
    if (!req) return;
    int status = eddy__form_feed(req, data, len);
    if (status == 0 && last) status = eddy__form_end(req);
    if (status == 0 && !last) return;
    hc->receiving = NULL;
    req->receiving = false;
    req->refuse = status;
    if (hc->head == req) drain(hc);
}

/* A handler returned with its response retained: the connection gets its
 * state, and the request a copy of its bytes. */
static void answer_later(eddy_http_req_t *req)
{
    http_ctx_t *ctx = req->ctx;
    http_conn_t *hc = conn_new(ctx, req->session, true);
    if (!hc || eddy__req_detach(req) < 0) {
        /* Out of memory: give up the connection; the response's next call
         * fails and frees it. */
        if (hc) conn_release(hc);
        eddy_server_close(ctx->server, req->session);
        req->gone = true;
        ctx->stats.aborted++;
        return;
    }
    conn_push(hc, req);
}

static void http_receive(eddy_server_t *s, eddy_session_t session, const char *data, size_t len,
                         void *ud)
{
    http_ctx_t *ctx = ud;
    switch (eddy_server_packet_part(s)) {
    case EDDY_PACKET_HEAD: receive_head(ctx, session, data, len); return;
    case EDDY_PACKET_BODY: receive_body(session, data, len, false); return;
    case EDDY_PACKET_BODY_END: receive_body(session, data, len, true); return;
    case EDDY_PACKET_WHOLE: break;
    }
    http_conn_t *hc = table_find(session);
    if (hc) {
        enqueue(ctx, hc, session, data, len);
        return;
    }
    eddy_http_req_t *req = req_get(ctx, session);
    if (!req) {
        eddy_server_close(s, session);
        return;
    }
    int status = eddy__req_parse(req, data, len, false);
    if (status) {
        ctx->stats.rejected++;
        eddy__res_simple(&req->res, status);
        return;
    }
    if (answer_first(req)) return;
    if (run_handler(req)) answer_later(req);
}

static void http_close(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason,
                       int err, void *ud)
{
    http_conn_t *hc = table_find(session);
    if (hc) conn_drop(hc, true);
}

/* ---- listening and counters ---------------------------------------------------------------- */

/* Open document_root (enable_static_handler) and check upload_tmp_dir:
 * what a port needs from the file system, checked before it starts. */
static int open_files(http_ctx_t *ctx)
{
    eddy_http_options_t *o = &ctx->opts;
    struct stat sb;
    int rc = stat(o->upload_tmp_dir, &sb) < 0 ? -errno : S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
    if (rc < 0) {
        EDDY_ERROR("http: upload_tmp_dir \"%s\": %s", o->upload_tmp_dir, eddy_strerror(rc));
        return rc;
    }
    if (!o->enable_static_handler) return 0;
    eddy_static_options_t so;
    eddy_static_options_init(&so);
    so.document_root = o->document_root;
    so.index_files = o->static_index_files;
    rc = eddy_static_new(&ctx->statics, &so);
    if (rc < 0) {
        if (rc == -EDDY_EOPTION)
            EDDY_ERROR("http: static_index_files \"%s\": a name empty, \".\", \"..\", with a '/' "
                       "or over 255 bytes, or more than %d names",
                       o->static_index_files, EDDY_STATIC_MAX_INDEX_FILES);
        else
            EDDY_ERROR("http: document_root \"%s\": %s", o->document_root, eddy_strerror(rc));
        return rc;
    }
    size_t n = strlen(o->static_prefix);
    while (n > 0 && o->static_prefix[n - 1] == '/')
        n--;
    ctx->static_prefix_len = n;
    return 0;
}

int eddy_http_listen(eddy_server_t *s, const char *url, const eddy_http_options_t *opts,
                     eddy_http_handler_fn on_request, void *ud)
{
    if (!s || !url || !on_request) return -EINVAL;
    http_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return -ENOMEM;
    if (opts)
        ctx->opts = *opts;
    else
        eddy_http_options_init(&ctx->opts);
    ctx->opts.port.framing.mode = EDDY_FRAME_HTTP;
    ctx->opts.port.framing.http_stream_max_body = ctx->opts.upload_max_body;
    int rc = eddy__http_options_validate(&ctx->opts);
    if (rc < 0) {
        free(ctx);
        return rc;
    }
    rc = open_files(ctx);
    if (rc < 0) {
        free(ctx);
        return rc;
    }
    eddy_framing_http_limits(&ctx->opts.port.framing, &ctx->limits);
    /* The head of a streamed upload announces its whole body. */
    if (ctx->opts.upload_max_body > ctx->limits.max_body_size)
        ctx->limits.max_body_size = ctx->opts.upload_max_body;
    ctx->on_request = on_request;
    ctx->ud = ud;
    ctx->server = s;
    ctx->log_fd = -1;
    eddy_server_callbacks_t cbs = {.on_receive = http_receive, .on_close = http_close};
    rc = eddy_server_listen(s, url, &ctx->opts.port, &cbs, ctx);
    if (rc < 0) {
        eddy_static_free(ctx->statics);
        free(ctx);
        return rc;
    }
    ctx->port = rc;
    /* PROCESS mode spools streamed bodies where the uploads go. */
    int spool = eddy_server_set_spool_dir(s, rc, ctx->opts.upload_tmp_dir);
    if (spool < 0) EDDY_WARN("http: upload_tmp_dir too long to spool in: /tmp instead");
    ctx->next = contexts;
    contexts = ctx;
    return rc;
}

void eddy_http_stats(const eddy_server_t *s, eddy_http_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (const http_ctx_t *c = contexts; c; c = c->next) {
        if (c->server != s) continue;
        out->requests += c->stats.requests;
        for (int i = 0; i < 6; i++)
            out->responses[i] += c->stats.responses[i];
        out->rejected += c->stats.rejected;
        out->aborted += c->stats.aborted;
        out->in_progress += c->stats.in_progress;
        out->bytes_out += c->stats.bytes_out;
        out->static_files += c->stats.static_files;
    }
}
