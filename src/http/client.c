/*
 * The HTTP/1.1 client: transfers, per-host pools and queues, timeouts,
 * retries and redirects. The bytes themselves are read by client_response.c
 * and written by client_wire.c; URLs are client_url.c's.
 *
 * Objects and who keeps whom alive:
 *   client    refs: the owner, each connection until its on_close, each
 *             transfer until its on_complete has run, a pending host sweep.
 *   host      one per host:port; counts its connections against the limits
 *             and queues the transfers waiting for one. Freed only by the
 *             deferred sweep, so no call stack ever holds a freed host.
 *   hconn     one eddy connection: BUSY (with a transfer, connecting or
 *             not), IDLE (in the pool) or CLOSING (no longer counted, waiting
 *             for on_close, which frees it).
 *   transfer  QUEUED, ACTIVE (attached to a BUSY hconn) or DONE (its
 *             on_complete is deferred; freed after it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_response.h"
#include "client_url.h"
#include "client_wire.h"
#include "eddy/client.h"
#include "eddy/conn.h"
#include "eddy/error.h"
#include "eddy/http_client.h"
#include "eddy/list.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/options.h"

/* Requests are queued whole by the application: the connection's output
 * limit must not refuse a large body that is already in memory. */
#define CLIENT_SOCKET_BUFFER_SIZE ((size_t)1 << 40)
#define ENDPOINT_MAX              (HTTPC_HOST_MAX + 32)

typedef struct host host_t;
typedef struct hconn hconn_t;

struct eddy_http_client {
    eddy_loop_t *loop;
    eddy_http_client_options_t opts;
    eddy_port_options_t port_opts;
    eddy_http1_limits_t limits;
    eddy_list_t hosts;
    size_t refs;
    bool freed;
    bool sweep_pending;
    eddy_http_client_stats_t stats; /* the gauges are kept up to date as things change */
};

struct host {
    eddy_list_t node; /* client->hosts */
    eddy_http_client_t *client;
    char name[HTTPC_HOST_MAX];
    int port;
    char endpoint[ENDPOINT_MAX]; /* for eddy_connect */
    eddy_list_t conns;           /* counted connections: busy and idle */
    eddy_list_t idle;            /* idle ones, least recently used first */
    eddy_list_t queue;           /* transfers waiting for a connection */
    size_t open, idle_count;
};

typedef enum { HC_BUSY, HC_IDLE, HC_CLOSING } hconn_state_t;

struct hconn {
    eddy_http_client_t *client;
    host_t *host; /* NULL once CLOSING */
    eddy_conn_t *conn;
    hconn_state_t state;
    eddy_http_client_transfer_t *t;
    eddy_list_t node;      /* host->conns */
    eddy_list_t idle_node; /* host->idle */
    int64_t idle_timer;
    unsigned served; /* responses read whole on it */
};

typedef struct body_blob {
    size_t refs; /* the transfer, and each time it is queued on a connection */
    size_t len;
    char data[];
} body_blob_t;

typedef enum { T_QUEUED, T_ACTIVE, T_DONE } transfer_state_t;

struct eddy_http_client_transfer {
    eddy_http_client_t *client;
    transfer_state_t state;
    eddy_list_t queue_node;
    host_t *host;
    hconn_t *hc;

    /* what to send */
    char *method;
    httpc_url_t url;
    eddy_http_client_header_t *headers; /* one block with their strings */
    size_t num_headers;
    body_blob_t *body; /* NULL when there is none (or a redirect dropped it) */
    unsigned drop;     /* WIRE_DROP_*: what redirects left out */
    bool wants_close;
    eddy_buf_t wire; /* the request head for the current URL */

    eddy_http_client_body_cb on_body;
    eddy_http_client_complete_cb on_complete;
    void *ud;

    int64_t timer; /* request_timeout */
    unsigned redirects;
    bool retried;     /* the one retry has been spent */
    bool fresh_only;  /* the retry: a new connection, not a pooled one */
    bool on_reused;   /* the current attempt went out on a pooled connection */
    bool redirecting; /* the response being read is a redirect to follow */
    uint64_t bytes_seen;

    httpc_response_t resp;
    eddy_buf_t body_buf; /* the buffered body */
    eddy_http_client_response_t res;
    int err;
};

static const char empty_body[1] = "";

static void host_dispatch(host_t *h);
static void transfer_finish(eddy_http_client_transfer_t *t, int err);
static void transfer_abort(eddy_http_client_transfer_t *t, int err);

/* ---- the client's memory ------------------------------------------------- */

static void client_unref(eddy_http_client_t *c)
{
    if (--c->refs == 0) free(c);
}

static void host_free(host_t *h)
{
    eddy_list_remove(&h->node);
    free(h);
}

static void sweep_hosts(eddy_loop_t *loop, void *ud)
{
    eddy_http_client_t *c = ud;
    c->sweep_pending = false;
    eddy_list_t *n, *tmp;
    EDDY_LIST_FOREACH_SAFE(n, tmp, &c->hosts)
    {
        host_t *h = EDDY_CONTAINER_OF(n, host_t, node);
        if (h->open == 0 && eddy_list_empty(&h->queue)) host_free(h);
    }
    client_unref(c);
}

/* A host may have become empty: free it at the end of the iteration, when
 * nothing on the stack points to it. */
static void schedule_sweep(eddy_http_client_t *c)
{
    if (c->sweep_pending || c->freed) return;
    if (eddy_defer(c->loop, sweep_hosts, c) < 0) return; /* it stays until the next sweep */
    c->sweep_pending = true;
    c->refs++;
}

static host_t *host_get(eddy_http_client_t *c, const httpc_url_t *u)
{
    eddy_list_t *n;
    for (n = c->hosts.next; n != &c->hosts; n = n->next) {
        host_t *h = EDDY_CONTAINER_OF(n, host_t, node);
        if (h->port == u->port && strcmp(h->name, u->host) == 0) return h;
    }
    host_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->client = c;
    memcpy(h->name, u->host, sizeof h->name);
    h->port = u->port;
    eddy__httpc_url_endpoint(u, h->endpoint, sizeof h->endpoint); /* fits: ENDPOINT_MAX */
    eddy_list_init(&h->conns);
    eddy_list_init(&h->idle);
    eddy_list_init(&h->queue);
    eddy_list_insert_tail(&c->hosts, &h->node);
    return h;
}

/* ---- connections --------------------------------------------------------- */

static void hconn_receive(eddy_conn_t *c, const char *data, size_t len, void *ud);
static void hconn_closed(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud);

static const eddy_conn_callbacks_t hconn_callbacks = {
    .on_receive = hconn_receive,
    .on_close = hconn_closed,
};

static int hconn_open(host_t *h, hconn_t **out)
{
    eddy_http_client_t *c = h->client;
    hconn_t *hc = calloc(1, sizeof *hc);
    if (!hc) return -ENOMEM;
    hc->client = c;
    hc->host = h;
    hc->state = HC_BUSY;
    eddy_list_init(&hc->idle_node);
    int rc = eddy_connect(c->loop, h->endpoint, &c->port_opts, &hconn_callbacks, hc, &hc->conn);
    if (rc < 0) {
        free(hc);
        return rc;
    }
    eddy_list_insert_tail(&h->conns, &hc->node);
    h->open++;
    c->stats.open_connections++;
    c->stats.connections_opened++;
    c->refs++;
    *out = hc;
    return 0;
}

static void hconn_leave_idle(hconn_t *hc)
{
    host_t *h = hc->host;
    eddy_list_remove(&hc->idle_node);
    h->idle_count--;
    hc->client->stats.idle_connections--;
    if (hc->idle_timer) eddy_timer_clear(hc->client->loop, hc->idle_timer);
    hc->idle_timer = 0;
}

/* Stop counting hc against its host: it is closing and its on_close will
 * free it. The slot it held is free for the host's queue at once. */
static void hconn_retire(hconn_t *hc)
{
    if (hc->state == HC_CLOSING) return;
    host_t *h = hc->host;
    if (hc->state == HC_IDLE) hconn_leave_idle(hc);
    hc->state = HC_CLOSING;
    eddy_list_remove(&hc->node);
    h->open--;
    hc->client->stats.open_connections--;
    hc->host = NULL;
    schedule_sweep(hc->client);
}

static void hconn_close(hconn_t *hc)
{
    hconn_retire(hc);
    eddy_close(hc->conn); /* -EDDY_ECLOSING if it is already ending: nothing to do */
}

/* Abortive: for a connection whose stream can no longer be trusted (an
 * error, a timeout, a cancelled or unread response). */
static void hconn_reset(hconn_t *hc)
{
    hconn_retire(hc);
    eddy_reset(hc->conn);
}

static void idle_timeout_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    hconn_t *hc = ud;
    hc->idle_timer = 0;
    if (hc->state == HC_IDLE) hconn_close(hc);
}

static void hconn_park(hconn_t *hc)
{
    host_t *h = hc->host;
    eddy_http_client_t *c = hc->client;
    hc->state = HC_IDLE;
    eddy_list_insert_tail(&h->idle, &hc->idle_node);
    h->idle_count++;
    c->stats.idle_connections++;
    int64_t id = eddy_timer_after(c->loop, c->opts.idle_timeout, idle_timeout_cb, hc);
    if (id < 0) {
        hconn_close(hc); /* an unbounded idle connection is worse than none */
        return;
    }
    hc->idle_timer = id;
}

/* Over max_idle_per_host: close the connections idle the longest. */
static void host_trim_idle(host_t *h)
{
    while (h->idle_count > h->client->opts.max_idle_per_host) {
        hconn_t *oldest = EDDY_CONTAINER_OF(eddy_list_first(&h->idle), hconn_t, idle_node);
        hconn_close(oldest);
    }
}

/* The most recently used idle connection that is still open (the least
 * likely to have been closed by the server's own idle timeout). */
static hconn_t *host_take_idle(host_t *h)
{
    while (h->idle_count > 0) {
        hconn_t *hc = EDDY_CONTAINER_OF(h->idle.prev, hconn_t, idle_node);
        if (eddy_conn_closing(hc->conn)) {
            hconn_retire(hc); /* its on_close is on the way */
            continue;
        }
        hconn_leave_idle(hc);
        hc->state = HC_BUSY;
        return hc;
    }
    return NULL;
}

/* ---- transfers: memory --------------------------------------------------- */

static void blob_unref(body_blob_t *b)
{
    if (b && --b->refs == 0) free(b);
}

static void blob_written(void *ptr, void *ud)
{
    blob_unref(ud);
}

static void transfer_free(eddy_http_client_transfer_t *t)
{
    free(t->method);
    eddy__httpc_url_free(&t->url);
    free(t->headers);
    blob_unref(t->body);
    eddy_buf_free(&t->wire);
    eddy__httpc_response_free(&t->resp);
    eddy_buf_free(&t->body_buf);
    free(t);
}

static int copy_headers(eddy_http_client_transfer_t *t, const eddy_http_client_header_t *h,
                        size_t n)
{
    if (n == 0) return 0;
    size_t bytes = n * sizeof *h;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(h[i].name) + strlen(h[i].value) + 2;
    t->headers = malloc(bytes);
    if (!t->headers) return -ENOMEM;
    char *s = (char *)(t->headers + n);
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(h[i].name) + 1, value_len = strlen(h[i].value) + 1;
        t->headers[i].name = memcpy(s, h[i].name, name_len);
        t->headers[i].value = memcpy(s + name_len, h[i].value, value_len);
        s += name_len + value_len;
    }
    t->num_headers = n;
    return 0;
}

static int copy_body(eddy_http_client_transfer_t *t, const void *body, size_t len)
{
    if (len == 0) return 0;
    t->body = malloc(sizeof *t->body + len);
    if (!t->body) return -ENOMEM;
    t->body->refs = 1;
    t->body->len = len;
    memcpy(t->body->data, body, len);
    return 0;
}

static int transfer_copy_request(eddy_http_client_transfer_t *t,
                                 const eddy_http_client_request_t *rq)
{
    t->method = strdup(rq->method ? rq->method : "GET");
    if (!t->method) return -ENOMEM;
    int rc = copy_headers(t, rq->headers, rq->num_headers);
    if (rc == 0) rc = copy_body(t, rq->body, rq->body_len);
    t->wants_close = eddy__httpc_wire_wants_close(rq->headers, rq->num_headers);
    return rc;
}

/* The request head for the current URL, method and dropped headers. */
static int transfer_build_wire(eddy_http_client_transfer_t *t)
{
    eddy_buf_consume(&t->wire, eddy_buf_len(&t->wire));
    return eddy__httpc_wire_head(&t->wire, t->method, &t->url, t->headers, t->num_headers, t->drop,
                                 t->body ? t->body->len : 0);
}

/* A fresh response for the next attempt (a retry or a redirect). */
static void transfer_reset_response(eddy_http_client_transfer_t *t)
{
    eddy_http_client_t *c = t->client;
    eddy__httpc_response_free(&t->resp);
    eddy__httpc_response_init(&t->resp, &c->limits, strcmp(t->method, "HEAD") == 0);
    eddy_buf_free(&t->body_buf);
    memset(&t->res, 0, sizeof t->res);
    t->res.reason = "";
    t->bytes_seen = 0;
    t->redirecting = false;
}

/* ---- transfers: moving between states ------------------------------------ */

static void transfer_enqueue(eddy_http_client_transfer_t *t, bool front)
{
    host_t *h = t->host;
    if (front)
        eddy_list_insert_tail(h->queue.next, &t->queue_node); /* before the first */
    else
        eddy_list_insert_tail(&h->queue, &t->queue_node);
    t->state = T_QUEUED;
    t->client->stats.queued++;
    host_dispatch(h);
}

static void transfer_unqueue(eddy_http_client_transfer_t *t)
{
    eddy_list_remove(&t->queue_node);
    t->client->stats.queued--;
    schedule_sweep(t->client);
}

/* Queue the request bytes on hc (eddy writes them once it is connected). */
static int transfer_write(eddy_http_client_transfer_t *t, hconn_t *hc)
{
    int rc = eddy_send(hc->conn, eddy_buf_data(&t->wire), eddy_buf_len(&t->wire));
    if (rc < 0 || !t->body) return rc;
    t->body->refs++;
    rc = eddy_send_owned(hc->conn, t->body->data, t->body->len, blob_written, t->body);
    if (rc < 0) t->body->refs--;
    return rc;
}

/* Take t's connection away and reset it (the caller dispatches the host's
 * queue: a slot came free). */
static void transfer_drop_connection(eddy_http_client_transfer_t *t)
{
    hconn_t *hc = t->hc;
    hc->t = NULL;
    t->hc = NULL;
    hconn_reset(hc);
}

static int transfer_attach(eddy_http_client_transfer_t *t, hconn_t *hc)
{
    eddy_http_client_t *c = t->client;
    hc->t = t;
    t->hc = hc;
    t->state = T_ACTIVE;
    t->on_reused = hc->served > 0;
    c->stats.requests++;
    if (t->on_reused) c->stats.connections_reused++;
    return transfer_write(t, hc);
}

/* Give the host's waiting transfers connections: a pooled one if there is
 * one, else a new one while under max_connections_per_host. */
static void host_dispatch(host_t *h)
{
    eddy_http_client_t *c = h->client;
    while (!c->freed && !eddy_list_empty(&h->queue)) {
        eddy_http_client_transfer_t *t =
            EDDY_CONTAINER_OF(eddy_list_first(&h->queue), eddy_http_client_transfer_t, queue_node);
        hconn_t *hc = t->fresh_only ? NULL : host_take_idle(h);
        if (!hc) {
            if (h->open >= c->opts.max_connections_per_host) {
                if (h->idle_count == 0) return; /* wait for a connection to come free */
                /* Only a retry, which needs a fresh connection, gets here
                 * with idle ones around: make room by closing the oldest. */
                hconn_close(EDDY_CONTAINER_OF(eddy_list_first(&h->idle), hconn_t, idle_node));
            }
            int rc = hconn_open(h, &hc);
            if (rc < 0) {
                transfer_finish(t, rc);
                continue;
            }
        }
        transfer_unqueue(t);
        int rc = transfer_attach(t, hc);
        if (rc < 0) { /* the loop goes on with the slot this frees */
            transfer_drop_connection(t);
            transfer_finish(t, rc);
        }
    }
}

static void deliver_complete(eddy_loop_t *loop, void *ud)
{
    eddy_http_client_transfer_t *t = ud;
    eddy_http_client_t *c = t->client;
    t->on_complete(t, t->err, &t->res, t->ud);
    transfer_free(t);
    client_unref(c);
}

/* The response view on_complete sees. */
static void transfer_fill_result(eddy_http_client_transfer_t *t)
{
    eddy_http_client_response_t *res = &t->res;
    res->url = t->url.text;
    res->redirects = t->redirects;
    res->parse_error = t->resp.error;
    res->trailers = t->resp.trailers;
    res->num_trailers = t->resp.num_trailers;
    res->body = NULL;
    res->body_len = 0;
    if (t->on_body || t->err < 0) return;
    if (eddy_buf_len(&t->body_buf)) {
        /* transfer_deliver reserved the byte after the body */
        *eddy_buf_tail(&t->body_buf) = '\0';
        res->body = eddy_buf_data(&t->body_buf);
        res->body_len = eddy_buf_len(&t->body_buf);
    } else {
        res->body = empty_body;
    }
}

/* The end of a transfer without a connection (the caller detached it):
 * its on_complete runs from the loop's deferred phase. */
static void transfer_finish(eddy_http_client_transfer_t *t, int err)
{
    if (t->state == T_DONE) return;
    if (t->state == T_QUEUED) transfer_unqueue(t);
    t->state = T_DONE;
    t->err = err;
    if (t->timer) eddy_timer_clear(t->client->loop, t->timer);
    t->timer = 0;
    transfer_fill_result(t);
    if (eddy_defer(t->client->loop, deliver_complete, t) < 0) deliver_complete(t->client->loop, t);
}

/* The transfer failed; its connection, if any, is reset, never reused. */
static void transfer_abort(eddy_http_client_transfer_t *t, int err)
{
    if (t->state == T_DONE) return;
    hconn_t *hc = t->hc;
    if (!hc) {
        transfer_finish(t, err);
        return;
    }
    host_t *h = hc->host;
    transfer_drop_connection(t);
    transfer_finish(t, err);
    host_dispatch(h);
}

static void transfer_retry(eddy_http_client_transfer_t *t)
{
    EDDY_DEBUG("http client: %s %s: pooled connection closed before the response; retrying",
               t->method, t->url.text);
    t->retried = true;
    t->fresh_only = true;
    t->client->stats.retries++;
    transfer_reset_response(t);
    transfer_enqueue(t, true);
}

/* ---- redirects ----------------------------------------------------------- */

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Follow it? Only with a Location: a 3xx without one is a final response. */
static bool should_redirect(const eddy_http_client_transfer_t *t)
{
    return t->client->opts.follow_redirects && is_redirect(t->res.status) &&
           eddy_http_client_header(&t->res, "location") != NULL;
}

/* 301, 302, 303: GET without a body (HEAD stays HEAD); 307, 308: as sent. */
static int redirect_method(eddy_http_client_transfer_t *t)
{
    int status = t->res.status;
    if (status == 307 || status == 308 || strcmp(t->method, "HEAD") == 0) return 0;
    char *get = strdup("GET");
    if (!get) return -ENOMEM;
    free(t->method);
    t->method = get;
    blob_unref(t->body);
    t->body = NULL;
    t->drop |= WIRE_DROP_BODY_HEADERS;
    return 0;
}

static int redirect_target(eddy_http_client_transfer_t *t)
{
    const char *location = eddy_http_client_header(&t->res, "location");
    httpc_url_t next;
    int rc = eddy__httpc_url_resolve(&t->url, location, &next);
    if (rc == -EDDY_EHTTP_URL) rc = -EDDY_EHTTP_LOCATION;
    if (rc < 0) return rc;
    if (!eddy__httpc_url_same_origin(&t->url, &next)) t->drop |= WIRE_DROP_CREDENTIALS;
    eddy__httpc_url_free(&t->url);
    t->url = next;
    return 0;
}

static void transfer_redirect(eddy_http_client_transfer_t *t)
{
    eddy_http_client_t *c = t->client;
    if (t->redirects >= c->opts.max_redirects) {
        transfer_finish(t, -EDDY_EHTTP_REDIRECTS);
        return;
    }
    int rc = redirect_target(t);
    if (rc == 0) rc = redirect_method(t);
    if (rc == 0) rc = transfer_build_wire(t);
    host_t *h = rc == 0 ? host_get(c, &t->url) : NULL;
    if (rc == 0 && !h) rc = -ENOMEM;
    if (rc < 0) {
        transfer_finish(t, rc);
        return;
    }
    t->redirects++;
    c->stats.redirects++;
    t->host = h;
    t->retried = t->fresh_only = false;
    transfer_reset_response(t);
    transfer_enqueue(t, false);
}

/* ---- reading the response ------------------------------------------------ */

/* The final head is in: publish it, and refuse a buffered body that is
 * already known to be too large. */
static int transfer_head(eddy_http_client_transfer_t *t)
{
    httpc_response_t *r = &t->resp;
    eddy_http_client_response_t *res = &t->res;
    res->status = r->parsed.status;
    res->minor_version = r->parsed.minor_version;
    res->reason = r->reason;
    res->headers = r->headers;
    res->num_headers = r->num_headers;
    res->url = t->url.text;
    res->redirects = t->redirects;
    t->redirecting = should_redirect(t);
    bool buffered = !t->on_body || t->redirecting;
    if (buffered && r->phase == RESP_LENGTH &&
        r->parsed.content_length > t->client->opts.max_response_size)
        return -EDDY_EHTTP_RESPONSE_SIZE;
    return 0;
}

/* One run of body bytes: buffered, streamed, or (a redirect's) discarded. */
static int transfer_deliver(eddy_http_client_transfer_t *t, const char *data, size_t len)
{
    size_t max = t->client->opts.max_response_size;
    uint64_t total = t->res.body_received + len;
    t->res.body_received = total;
    if (t->redirecting) return total > max ? -EDDY_EHTTP_RESPONSE_SIZE : 0;
    if (t->on_body) {
        int rc = t->on_body(t, &t->res, data, len, t->ud);
        return rc == 0 ? 0 : rc < 0 ? rc : -ECANCELED;
    }
    if (total > max) return -EDDY_EHTTP_RESPONSE_SIZE;
    /* One byte more, for the NUL that on_complete's body ends with. */
    if (eddy_buf_reserve(&t->body_buf, len + 1) < 0) return -ENOMEM;
    return eddy_buf_append(&t->body_buf, data, len);
}

/* The response was read whole: the connection goes back to the pool (or
 * closes), then the transfer completes or follows the redirect. */
static void transfer_response_done(eddy_http_client_transfer_t *t, bool extra_bytes)
{
    hconn_t *hc = t->hc;
    host_t *h = hc->host;
    bool reusable = t->resp.keep_alive && !t->wants_close && !extra_bytes &&
                    eddy_conn_queued(hc->conn) == 0 && !eddy_conn_closing(hc->conn);
    hc->served++;
    hc->t = NULL;
    t->hc = NULL;
    if (reusable)
        hconn_park(hc);
    else
        hconn_close(hc); /* graceful: the response is read, nothing is lost */
    if (t->redirecting)
        transfer_redirect(t);
    else
        transfer_finish(t, 0);
    host_dispatch(h);
    host_trim_idle(h);
}

static void transfer_body(eddy_http_client_transfer_t *t, const char *data, size_t len)
{
    httpc_response_t *r = &t->resp;
    while (r->phase != RESP_DONE && len > 0) {
        eddy_http1_str_t piece;
        ssize_t n = eddy__httpc_response_feed_body(r, data, len, &piece);
        if (n < 0) {
            transfer_abort(t, (int)n);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (piece.len == 0) continue;
        int rc = transfer_deliver(t, piece.ptr, piece.len);
        if (t->state != T_ACTIVE) return; /* on_body cancelled it, or freed the client */
        if (rc < 0) {
            transfer_abort(t, rc);
            return;
        }
    }
    if (r->phase == RESP_DONE) transfer_response_done(t, len > 0);
}

static void transfer_input(eddy_http_client_transfer_t *t, const char *data, size_t len)
{
    httpc_response_t *r = &t->resp;
    t->bytes_seen += len;
    if (r->phase == RESP_HEAD) {
        int rc = eddy__httpc_response_feed_head(r, data, len);
        if (rc == 0) return;
        if (rc > 0) rc = transfer_head(t);
        if (rc < 0) {
            transfer_abort(t, rc);
            return;
        }
        eddy__httpc_response_leftover(r, &data, &len);
    }
    transfer_body(t, data, len);
}

/* The connection under an active transfer ended. */
static void transfer_connection_lost(eddy_http_client_transfer_t *t, bool reused,
                                     eddy_close_reason_t reason, int err)
{
    if (err == 0 && reason != EDDY_CLOSE_RESET && eddy__httpc_response_eof(&t->resp) == 0) {
        if (t->redirecting) /* the body ran until the close: the response is whole */
            transfer_redirect(t);
        else
            transfer_finish(t, 0);
        return;
    }
    /* The server closed a pooled connection we had just picked (its idle
     * timeout raced our request): nothing of a response came, so an
     * idempotent request can safely go again, once, on a new connection. */
    if (reused && t->bytes_seen == 0 && !t->retried && eddy__httpc_wire_idempotent(t->method)) {
        transfer_retry(t);
        return;
    }
    transfer_finish(t, err < 0 ? err : -EDDY_EHTTP_CLOSED);
}

/* ---- connection callbacks ------------------------------------------------ */

static void hconn_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    hconn_t *hc = ud;
    if (hc->state == HC_BUSY && hc->t) {
        transfer_input(hc->t, data, len);
        return;
    }
    if (hc->state == HC_IDLE) { /* bytes nobody asked for: the stream is out of step */
        host_t *h = hc->host;
        hconn_reset(hc);
        host_dispatch(h);
    }
}

static void hconn_closed(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    hconn_t *hc = ud;
    eddy_http_client_t *client = hc->client;
    eddy_http_client_transfer_t *t = hc->t;
    host_t *h = hc->host; /* NULL if it was already retired */
    hconn_retire(hc);
    if (t) {
        hc->t = NULL;
        t->hc = NULL;
        transfer_connection_lost(t, t->on_reused, reason, err);
    }
    free(hc);
    if (h) host_dispatch(h); /* its slot is free */
    client_unref(client);
}

/* ---- the public API ------------------------------------------------------ */

int eddy_http_client_new(eddy_loop_t *loop, const eddy_http_client_options_t *opts,
                         eddy_http_client_t **out)
{
    if (!loop || !out) return -EINVAL;
    eddy_http_client_options_t o;
    if (opts)
        o = *opts;
    else
        eddy_http_client_options_init(&o);
    int rc = eddy_http_client_options_validate(&o);
    if (rc < 0) return rc;
    eddy_http_client_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->loop = loop;
    c->opts = o;
    c->refs = 1;
    eddy_list_init(&c->hosts);
    eddy_port_options_init(&c->port_opts);
    c->port_opts.connect_timeout = o.connect_timeout;
    c->port_opts.socket_buffer_size = CLIENT_SOCKET_BUFFER_SIZE;
    eddy_http1_limits_init(&c->limits);
    c->limits.max_header_size = o.max_header_size;
    c->limits.max_headers = o.max_headers;
    *out = c;
    return 0;
}

static void host_cancel_all(host_t *h)
{
    while (!eddy_list_empty(&h->queue))
        transfer_finish(
            EDDY_CONTAINER_OF(eddy_list_first(&h->queue), eddy_http_client_transfer_t, queue_node),
            -ECANCELED);
    while (!eddy_list_empty(&h->conns)) {
        hconn_t *hc = EDDY_CONTAINER_OF(eddy_list_first(&h->conns), hconn_t, node);
        if (hc->t)
            transfer_abort(hc->t, -ECANCELED); /* resets hc */
        else
            hconn_close(hc);
    }
}

void eddy_http_client_free(eddy_http_client_t *client)
{
    if (!client) return;
    client->freed = true; /* no more dispatching: queues are being emptied */
    while (!eddy_list_empty(&client->hosts)) {
        host_t *h = EDDY_CONTAINER_OF(eddy_list_first(&client->hosts), host_t, node);
        host_cancel_all(h);
        host_free(h);
    }
    client_unref(client);
}

void eddy_http_client_stats(const eddy_http_client_t *client, eddy_http_client_stats_t *out)
{
    *out = client->stats;
}

void eddy_http_client_request_init(eddy_http_client_request_t *rq)
{
    memset(rq, 0, sizeof *rq);
}

static void request_timeout_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_http_client_transfer_t *t = ud;
    t->timer = 0;
    transfer_abort(t, -ETIMEDOUT);
}

static int check_request(const eddy_http_client_request_t *rq)
{
    if (!rq || !rq->url || !rq->on_complete) return -EINVAL;
    if (rq->body_len && !rq->body) return -EINVAL;
    return eddy__httpc_wire_check(rq->method ? rq->method : "GET", rq->headers, rq->num_headers);
}

/* Everything that can fail at once, before the transfer is announced. */
static int transfer_prepare(eddy_http_client_transfer_t *t, const eddy_http_client_request_t *rq)
{
    eddy_http_client_t *c = t->client;
    int rc = eddy__httpc_url_parse(rq->url, &t->url);
    if (rc < 0) return rc;
    rc = transfer_copy_request(t, rq);
    if (rc == 0) rc = transfer_build_wire(t);
    if (rc < 0) return rc;
    t->host = host_get(c, &t->url);
    if (!t->host) return -ENOMEM;
    /* The loop's clock is cached per iteration, and send may come long after
     * the last one (at start-up, say): the timeout counts from now. */
    eddy_loop_update_time(c->loop);
    int64_t id = eddy_timer_after(c->loop, c->opts.request_timeout, request_timeout_cb, t);
    if (id < 0) return (int)id;
    t->timer = id;
    return 0;
}

int eddy_http_client_send(eddy_http_client_t *client, const eddy_http_client_request_t *rq,
                          eddy_http_client_transfer_t **out)
{
    if (!client || client->freed) return -EINVAL;
    int rc = check_request(rq);
    if (rc < 0) return rc;
    eddy_http_client_transfer_t *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->client = client;
    eddy_list_init(&t->queue_node);
    eddy_buf_init(&t->wire);
    eddy_buf_init(&t->body_buf);
    t->on_body = rq->on_body;
    t->on_complete = rq->on_complete;
    t->ud = rq->ud;
    rc = transfer_prepare(t, rq);
    if (rc < 0) {
        if (t->timer) eddy_timer_clear(client->loop, t->timer);
        transfer_free(t);
        schedule_sweep(client); /* a host made for nothing */
        return rc;
    }
    transfer_reset_response(t);
    client->refs++;
    if (out) *out = t;
    transfer_enqueue(t, false);
    return 0;
}

int eddy_http_client_get(eddy_http_client_t *client, const char *url,
                         eddy_http_client_complete_cb on_complete, void *ud,
                         eddy_http_client_transfer_t **out)
{
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.url = url;
    rq.on_complete = on_complete;
    rq.ud = ud;
    return eddy_http_client_send(client, &rq, out);
}

int eddy_http_client_cancel(eddy_http_client_transfer_t *t)
{
    if (t->state == T_DONE) return -EALREADY;
    transfer_abort(t, -ECANCELED);
    return 0;
}

static const char *find_field(const eddy_http_client_header_t *fields, size_t n, const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(fields[i].name, name) == 0) return fields[i].value;
    return NULL;
}

const char *eddy_http_client_header(const eddy_http_client_response_t *res, const char *name)
{
    return find_field(res->headers, res->num_headers, name);
}

const char *eddy_http_client_trailer(const eddy_http_client_response_t *res, const char *name)
{
    return find_field(res->trailers, res->num_trailers, name);
}

char *eddy_http_client_take_body(eddy_http_client_transfer_t *t, size_t *len)
{
    char *body = eddy_buf_data(&t->body_buf);
    *len = 0;
    if (t->state != T_DONE || !body || t->res.body != body) return NULL;
    /* Nothing was ever consumed from the buffer: the body starts at its
     * allocation, which the caller now frees. */
    *len = eddy_buf_len(&t->body_buf);
    eddy_buf_init(&t->body_buf);
    t->res.body = NULL;
    t->res.body_len = 0;
    return body;
}
