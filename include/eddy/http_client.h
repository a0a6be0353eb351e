/*
 * eddy/http_client.h — asynchronous HTTP/1.1 client with a keep-alive pool.
 *
 * What it is for. A program on an eddy loop fetches http:// URLs without
 * blocking: eddy_http_client_send queues a request (any method, headers, a
 * body) and returns at once; the response arrives later through callbacks on
 * the loop's thread — its body either buffered whole or streamed piece by
 * piece. Underneath, each host:port has a pool of keep-alive connections
 * opened with eddy_connect (names resolved on the thread pool, bounded by
 * connect_timeout) and read with the strict parser of eddy/http1.h.
 *
 *   eddy_http_client_t *client;
 *   eddy_http_client_new(loop, NULL, &client);          NULL: default options
 *   eddy_http_client_request_t rq;
 *   eddy_http_client_request_init(&rq);
 *   rq.url = "http://127.0.0.1:8080/items?page=2";
 *   rq.on_complete = done;                              see below
 *   eddy_http_client_send(client, &rq, NULL);
 *   eddy_loop_run(loop);
 *
 *   static void done(eddy_http_client_transfer_t *t, int err,
 *                    const eddy_http_client_response_t *res, void *ud)
 *   {
 *       if (err < 0) { fprintf(stderr, "%s\n", eddy_strerror(err)); return; }
 *       const char *type = eddy_http_client_header(res, "content-type");  any case; or NULL
 *       printf("%d %s: %.*s\n", res->status, type ? type : "-", (int)res->body_len, res->body);
 *   }
 *
 * Responses. Bodies framed by Content-Length, by chunked transfer coding (its
 * trailer fields are kept and exposed) or by the server closing the
 * connection are read; responses to HEAD, and 204 and 304 responses, have no
 * body whatever their headers say. Interim responses (100 Continue, 102, 103)
 * are skipped; a 101 is a final response (the client never asks to upgrade),
 * after which the connection is closed.
 *
 * Connections. Requests to one host:port share up to
 * max_connections_per_host connections; more wait in a FIFO queue until one
 * is free. After a response a connection goes back to the pool — unless the
 * response said Connection: close, its body ran until the connection closed,
 * the server sent bytes beyond it, or the request failed — and waits there
 * for at most idle_timeout, with at most max_idle_per_host idle connections
 * per host (the longest idle ones are closed first). If a pooled connection
 * turns out to have been closed by the server before a single byte of the
 * response arrived — the race every keep-alive client meets — a request with
 * an idempotent method (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) is retried
 * once on a fresh connection, as browsers do; other methods fail with the
 * connection's error (-EDDY_EHTTP_CLOSED when the server closed cleanly).
 *
 * Timeouts. connect_timeout bounds each connection attempt (resolution
 * included); request_timeout bounds the whole request from
 * eddy_http_client_send to its completion — queueing, connecting, every
 * redirect and retry — and fails it with -ETIMEDOUT, resetting its
 * connection, which is never reused.
 *
 * Redirects (follow_redirects, off by default). 301, 302 and 303 are
 * followed with GET and no body (HEAD stays HEAD) and drop the
 * body's headers (Content-Type, Content-Encoding, Content-Language,
 * Content-Location); 307 and 308 repeat the method and body. A redirect to
 * another host:port drops Authorization, Proxy-Authorization, Cookie and a
 * Host the caller set. Relative Locations are resolved against the URL that
 * answered. A 3xx without Location is a final response like any other.
 * More than max_redirects fails with -EDDY_EHTTP_REDIRECTS, a malformed
 * Location with -EDDY_EHTTP_LOCATION, one to https:// (or any scheme but
 * http) with -EDDY_EHTTP_SCHEME; on_complete then gets the redirect
 * response itself (status, headers) with the error.
 *
 * Errors (the err of on_complete): -ECONNREFUSED, -ETIMEDOUT,
 * -EDDY_ERESOLVE, -EDDY_ENOHOST, -ECONNRESET ... from the connection;
 * -EDDY_EHTTP_PARSE for a malformed response (res->parse_error gives the
 * parser's reason: eddy_http1_error_str); -EDDY_EHTTP_CLOSED when the server
 * closed before the response was complete; -EDDY_EHTTP_RESPONSE_SIZE when a
 * buffered body would exceed max_response_size (known from Content-Length
 * before any body byte is read, or found while reading); -ECANCELED after
 * eddy_http_client_cancel or eddy_http_client_free.
 *
 * Ownership and lifetime.
 *   - Everything eddy_http_client_send is given (URL, method, headers, body)
 *     is copied before it returns; the caller may free or reuse it at once.
 *   - A transfer is valid from eddy_http_client_send until its on_complete
 *     returns; eddy frees it right after. on_complete runs exactly once for
 *     every transfer, always from the loop — never inside an eddy_http_client_*
 *     call — also after eddy_http_client_cancel or eddy_http_client_free.
 *   - The response passed to on_body and on_complete, and everything it
 *     points to (headers, trailers, body, url), is valid only during that
 *     callback. eddy_http_client_take_body hands the buffered body over
 *     instead of copying it.
 *   - eddy_http_client_free may be called with requests in flight (they
 *     complete with -ECANCELED). The loop must then run on (eddy_loop_run
 *     returns once the last connection has closed and the last on_complete
 *     has run) before eddy_loop_free.
 *
 * Thread safety: none; every function must be called on the loop's thread.
 */
#ifndef EDDY_HTTP_CLIENT_H
#define EDDY_HTTP_CLIENT_H

#include <stdbool.h>

#include "common.h"
#include "http1.h"

typedef struct eddy_http_client eddy_http_client_t;
/* One request in flight: what eddy_http_client_send returns, what the
 * callbacks receive, what eddy_http_client_cancel takes. Opaque. */
typedef struct eddy_http_client_transfer eddy_http_client_transfer_t;

/* ---- options ------------------------------------------------------------- */

/* A plain struct filled with defaults by eddy_http_client_options_init; the
 * same fields are accepted as strings under the names in quotes. Times are in
 * milliseconds, sizes in bytes. */
typedef struct eddy_http_client_options {
    uint64_t connect_timeout;        /* "connect_timeout": one connection attempt, 10000 */
    uint64_t request_timeout;        /* "request_timeout": the whole request, 60000 */
    size_t max_response_size;        /* "max_response_size": a buffered body, 16 MiB */
    size_t max_header_size;          /* "max_header_size": a response head, and the
                                        trailer section, 64 KiB */
    size_t max_headers;              /* "max_headers": fields in a head, 100 */
    size_t max_connections_per_host; /* "max_connections_per_host": open at once, 6 */
    size_t max_idle_per_host;        /* "max_idle_per_host": kept for reuse, 6; 0 = none */
    uint64_t idle_timeout;           /* "idle_timeout": a pooled connection, 30000 */
    bool follow_redirects;           /* "follow_redirects": off */
    unsigned max_redirects;          /* "max_redirects": when following, 10 */
} eddy_http_client_options_t;

EDDY_EXPORT void eddy_http_client_options_init(eddy_http_client_options_t *o);
/* Set one option by name. Returns 0, -EDDY_EUNKNOWN_OPTION or -EDDY_EOPTION
 * (a value that does not parse or is out of range); o is unchanged on error.
 * Booleans are 1/0/true/false/on/off/yes/no, numbers plain decimal. */
EDDY_EXPORT int eddy_http_client_options_set(eddy_http_client_options_t *o, const char *key,
                                             const char *value);
/* Check every field's range (eddy_http_client_new calls it): 0 or
 * -EDDY_EOPTION. Timeouts, sizes and max_connections_per_host are at least
 * 1. (Idle connections are among the open ones, so a max_idle_per_host above
 * max_connections_per_host simply keeps them all.) */
EDDY_EXPORT int eddy_http_client_options_validate(const eddy_http_client_options_t *o);

/* ---- the client ---------------------------------------------------------- */

/* A client bound to loop, with a copy of opts (NULL: the defaults). The
 * caller frees it with eddy_http_client_free. Returns 0, -EDDY_EOPTION or
 * -ENOMEM. */
EDDY_EXPORT int eddy_http_client_new(eddy_loop_t *loop, const eddy_http_client_options_t *opts,
                                     eddy_http_client_t **out);
/* Cancel every request (each on_complete runs later with -ECANCELED), reset
 * busy connections, close idle ones gracefully, and release the client once
 * the last of them has closed. The pointer is invalid on return. */
EDDY_EXPORT void eddy_http_client_free(eddy_http_client_t *client);

typedef struct eddy_http_client_stats {
    uint64_t requests;           /* requests written, retries and redirects included */
    uint64_t connections_opened; /* eddy_connect calls */
    uint64_t connections_reused; /* requests sent over a pooled connection */
    uint64_t retries;            /* requests retried after a pooled connection closed */
    uint64_t redirects;          /* redirects followed */
    size_t open_connections;     /* counted against the limits: connecting, busy or idle */
    size_t idle_connections;     /* of those, waiting in the pool */
    size_t queued;               /* requests waiting for a connection */
} eddy_http_client_stats_t;

EDDY_EXPORT void eddy_http_client_stats(const eddy_http_client_t *client,
                                        eddy_http_client_stats_t *out);

/* ---- requests and responses ---------------------------------------------- */

/* A header field, NUL-terminated name and value. Request headers must have a
 * token name and a value without CR, LF, NUL or other control characters
 * (HTAB allowed); Content-Length and Transfer-Encoding are set by the client
 * and refused here. Host, User-Agent (default "eddy/<version>") and
 * Connection may be given to replace the client's own. */
typedef struct eddy_http_client_header {
    const char *name;
    const char *value;
} eddy_http_client_header_t;

typedef struct eddy_http_client_response {
    int status;                               /* 0 if no final response head arrived */
    int minor_version;                        /* HTTP/1.x */
    const char *reason;                       /* reason phrase, "" if none */
    const eddy_http_client_header_t *headers; /* as received, in order */
    size_t num_headers;
    const eddy_http_client_header_t *trailers; /* chunked trailer fields */
    size_t num_trailers;
    /* The buffered body, NUL-terminated: "" if empty, NULL when streamed or on error. */
    const char *body;
    size_t body_len;                /* its length */
    uint64_t body_received;         /* body bytes received, buffered or streamed */
    const char *url;                /* the URL that answered (after redirects) */
    unsigned redirects;             /* redirects followed to get here */
    eddy_http1_error_t parse_error; /* why the response was refused (-EDDY_EHTTP_PARSE) */
} eddy_http_client_response_t;

/* The transfer ended: err is 0 (a complete response, whatever its status) or
 * a negative error code; res is never NULL (status 0 if no head arrived).
 * Valid only during the call (see Ownership). */
typedef void (*eddy_http_client_complete_cb)(eddy_http_client_transfer_t *t, int err,
                                             const eddy_http_client_response_t *res, void *ud);
/* A piece of the body when streaming (res has the status and headers; data
 * is valid only during the call). Return 0 to go on; anything else aborts
 * the transfer — its connection is reset and on_complete gets the value if
 * negative, -ECANCELED otherwise. */
typedef int (*eddy_http_client_body_cb)(eddy_http_client_transfer_t *t,
                                        const eddy_http_client_response_t *res, const char *data,
                                        size_t len, void *ud);

typedef struct eddy_http_client_request {
    const char *method;                       /* a token; NULL means "GET" */
    const char *url;                          /* "http://host[:port][/path][?query]" */
    const eddy_http_client_header_t *headers; /* num_headers of them, or NULL */
    size_t num_headers;
    const void *body; /* body_len bytes, sent with Content-Length */
    size_t body_len;
    eddy_http_client_body_cb on_body;         /* NULL: buffer the body (max_response_size) */
    eddy_http_client_complete_cb on_complete; /* required */
    void *ud;                                 /* passed to both callbacks */
} eddy_http_client_request_t;

/* Zero everything: GET, no headers, no body, buffered. */
EDDY_EXPORT void eddy_http_client_request_init(eddy_http_client_request_t *rq);

/* Start a request; *out (may be NULL) is the transfer, valid until its
 * on_complete returns. Returns 0 — every outcome then arrives through
 * on_complete — or an immediate error, after which no callback runs:
 * -EDDY_EHTTP_URL (malformed URL, user info, bad port, spaces or control
 * characters), -EDDY_EHTTP_SCHEME (anything but http://, https included),
 * -EDDY_EHTTP_REQUEST (bad method or header; CONNECT is refused), -EINVAL
 * (no on_complete), -ENOMEM. */
EDDY_EXPORT int eddy_http_client_send(eddy_http_client_t *client,
                                      const eddy_http_client_request_t *rq,
                                      eddy_http_client_transfer_t **out);
/* GET url, buffering the body. */
EDDY_EXPORT int eddy_http_client_get(eddy_http_client_t *client, const char *url,
                                     eddy_http_client_complete_cb on_complete, void *ud,
                                     eddy_http_client_transfer_t **out);

/* Abort a transfer: its connection, if it has one, is reset (never reused)
 * and on_complete runs later with -ECANCELED. Callable from on_body. Returns
 * 0, or -EALREADY when the transfer has already ended (on_complete is on
 * its way with the real outcome). */
EDDY_EXPORT int eddy_http_client_cancel(eddy_http_client_transfer_t *t);

/* The first header (or trailer) named name, compared case-insensitively:
 * its value, or NULL. The string belongs to res. */
EDDY_EXPORT const char *eddy_http_client_header(const eddy_http_client_response_t *res,
                                                const char *name);
EDDY_EXPORT const char *eddy_http_client_trailer(const eddy_http_client_response_t *res,
                                                 const char *name);

/* Inside on_complete only: take the buffered body (NUL-terminated, *len
 * bytes; free it with free()). Returns NULL, *len 0, when there is none (a
 * streamed or empty body, or taken already); res->body is NULL afterwards. */
EDDY_EXPORT char *eddy_http_client_take_body(eddy_http_client_transfer_t *t, size_t *len);

#endif
