/*
 * eddy/http.h — the HTTP/1.1 server.
 *
 * What it is for. eddy_http_listen adds an HTTP port to an eddy_server_t:
 * the port's connections are framed with open_http_protocol (eddy/framing.h:
 * one whole, strictly parsed request per packet, malformed requests answered
 * 400/413/414/431/501/505 and closed gracefully before any handler sees
 * them), and every request reaches your handler as a request and a response:
 *
 *   static void hello(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
 *   {
 *       eddy_http_set_header(res, "Content-Type", "text/plain");
 *       eddy_http_end(res, "Hello, World!", 13);
 *   }
 *   ...
 *   eddy_http_listen(server, "tcp://0.0.0.0:8080", NULL, hello, NULL);
 *   eddy_server_start(server);
 *
 * It is built only on the public eddy_server API (on_receive, send,
 * sendfile, close, pause, resume), so it works unchanged wherever the
 * server runs its connections: in each worker (BASE mode) or in the
 * master's reactor threads with requests handed to workers (PROCESS mode).
 * Handlers always run in a worker, on its loop.
 *
 * Ownership and lifetime.
 *   - req and res belong to eddy. Both are valid from the handler's call
 *     until the response ends: eddy_http_end, eddy_http_sendfile, or a
 *     write/end that fails because the connection is gone. After that
 *     neither pointer may be used. Every slice a req accessor returns is
 *     valid as long as req is.
 *   - A handler may answer inside its call, or later (from a timer, a task
 *     result, another connection's data ...): it then calls
 *     eddy_http_retain(res) before returning and ends the response whenever
 *     it likes. If the connection closes meanwhile, eddy keeps req and res
 *     until that end (or write) call, which fails with -EDDY_ESESSION and
 *     frees them. A retained response that is never ended is the
 *     application's leak; a handler that returns neither having ended nor
 *     retained its response gets a 500 answered for it (or, if it had
 *     started streaming, its connection closed) and leaks nothing.
 *   - Strings passed to eddy (header names and values, bodies) are copied
 *     before the call returns.
 *
 * Keep-alive and pipelining. Connections stay open between requests unless
 * the request asks otherwise (Connection: close, or HTTP/1.0 without
 * keep-alive) or the response sets Connection: close; the close after the
 * last response is graceful (eddy/conn.h). Pipelined requests are answered
 * strictly in order: while a response is still being prepared after its
 * handler returned, the session is paused (so nothing more is read or
 * framed, and protocol errors and 100 Continue stay in order too), and
 * requests that had already arrived wait in a per-connection queue of at
 * most http_pipeline_max; each handler runs once the response before it
 * has ended. A request beyond the bound is dropped, and the connection
 * closes after the answers already queued. The HTTP layer keeps state for a connection only while
 * such a response is in progress: an idle keep-alive connection costs it nothing.
 *
 * Responses. eddy_http_end sends the head and the whole body with
 * Content-Length, in one send. eddy_http_write streams: the head goes out
 * with the first write, the body as chunks (HTTP/1.1), as raw bytes counted
 * against a Content-Length the handler set, or (HTTP/1.0 clients) raw until
 * the connection closes. eddy_http_sendfile sends a file range as the whole
 * body. Server (http_server_name) and Date (formatted once a second) are
 * added unless the handler set them. HEAD responses carry the headers a GET
 * would (Content-Length of the body given to end) and no body; 204 and 304
 * never carry a body.
 *
 * Compression. With http_compression on (the default), a response whose
 * Content-Type matches http_compression_types, whose body is at least
 * http_compression_min_length bytes (or is streamed), and whose status is
 * not 1xx/204/206/304, is compressed with gzip or deflate — whichever the
 * request's Accept-Encoding prefers by q-value (gzip on a tie) — and gets
 * Vary: Accept-Encoding. Responses to HEAD, responses that already have a
 * Content-Encoding or Content-Range, streamed responses with a
 * Content-Length, and file responses are sent as they are.
 *
 * Static files. With enable_static_handler on, a GET or HEAD whose
 * decoded path starts with static_prefix (a whole segment: "/assets"
 * matches "/assets" and "/assets/x", not "/assetsx") is looked up under
 * document_root (eddy/http_static.h: safe resolution, index files, MIME
 * types, ETag and Last-Modified, 304/412, one Range: 206/416) and answered
 * by eddy before any handler runs, the body sent with sendfile. A path
 * that names nothing there (404) goes to the handler as usual, so dynamic
 * routes keep working; every other answer (200 206 304 403 412 416, 400)
 * is eddy's, and the handler is not called. Static files are never
 * compressed (sendfile sends the bytes as they are on disk); other methods
 * always go to the handler. eddy_http_serve_static does the same from a
 * handler, for a root and a prefix of the handler's choosing.
 *
 * Uploads. A request whose Content-Type is multipart/form-data is parsed
 * (eddy/multipart.h) before its handler runs. Its body is never whole in
 * memory: in BASE mode it is parsed as it arrives, file parts written to
 * their temporary files piece by piece; in PROCESS mode the reactor writes
 * it to a file in upload_tmp_dir as it arrives and the worker parses that
 * the same way once it is in. So an upload is bounded by upload_max_body
 * and upload_max_filesize, not by package_max_length.
 * Plain fields become form fields (eddy_http_form and friends, as for an
 * urlencoded body; their bytes count against package_max_length); each
 * file part is written to a temporary file in upload_tmp_dir
 * (eddy/http_upload.h) and described by an eddy_http_file_t (an empty body
 * has neither, and is no error). eddy_http_body is empty for such a
 * request. A malformed body is answered 400 and a file larger than
 * upload_max_filesize or a body larger than upload_max_body 413, without
 * calling the handler and without leaving a file behind. Temporary files the handler did not move
 * away with eddy_http_file_move are removed when the response ends — before its last bytes are
 * queued — or when the request is dropped.
 *
 * Threads: everything here runs on the worker's loop thread.
 */
#ifndef EDDY_HTTP_H
#define EDDY_HTTP_H

#include <stdbool.h>
#include <time.h>

#include "common.h"
#include "http1.h"
#include "http_static.h"
#include "http_upload.h"
#include "options.h"
#include "server.h"

typedef struct eddy_http_req eddy_http_req_t;
typedef struct eddy_http_res eddy_http_res_t;
/* A byte range (not NUL-terminated unless the accessor says so); ptr is NULL
 * when the thing asked for is absent. */
typedef eddy_http1_str_t eddy_http_str_t;

/* Called once per request, in a worker. */
typedef void (*eddy_http_handler_fn)(eddy_http_req_t *req, eddy_http_res_t *res, void *ud);

/* ---- options ------------------------------------------------------------------ */

#define EDDY_HTTP_DEFAULT_UPLOAD_MAX_BODY (8u * 1024 * 1024)
#define EDDY_HTTP_DEFAULT_COMPRESSION_TYPES                                                        \
    "text/*,application/json,application/javascript,application/xml,image/svg+xml"

typedef struct eddy_http_options {
    bool compression;              /* "http_compression", default on */
    int compression_level;         /* "http_compression_level", 1..9, default 1 */
    size_t compression_min_length; /* "http_compression_min_length" (Swoole's
                                      "compression_min_length"), bytes, default 20 */
    char compression_types[512];   /* "http_compression_types": comma-separated
                                      media types; one ending in a slash and an
                                      asterisk ("text/" + "*") matches a whole type */
    char server_name[128];         /* "http_server_name": the Server header,
                                      default "eddy"; "" sends none */
    char access_log[1024];         /* "http_access_log": a file, "-" for stderr, ""
                                      (the default) for none; combined log format */
    size_t pipeline_max;           /* "http_pipeline_max": requests queued per
                                      connection behind one still being answered,
                                      1..1024, default 16 */
    /* Static files (see "Static files" above). */
    bool enable_static_handler;   /* "enable_static_handler", default off */
    char document_root[1024];     /* "document_root": the directory served; it must
                                     exist and be a directory when
                                     eddy_http_listen runs (required when on) */
    char static_index_files[512]; /* "static_index_files" (Swoole: "http_index_files"):
                                     names tried for a directory, comma-separated,
                                     at most 16; default "index.html"; "" none */
    char static_prefix[256];      /* "static_prefix": the URL path prefix mapped to
                                     document_root ("/assets" serves
                                     document_root/x.css as /assets/x.css);
                                     default "/" */
    /* Uploads (see "Uploads" above). */
    char upload_tmp_dir[1024];    /* "upload_tmp_dir": where uploaded files are
                                     written; must be a directory when
                                     eddy_http_listen runs; default "/tmp" */
    uint64_t upload_max_filesize; /* "upload_max_filesize": bytes one uploaded file
                                     may have (>= 1), default 2 MiB; larger: 413 */
    uint64_t upload_max_body;     /* "upload_max_body" (PHP: post_max_size): bytes
                                     a multipart/form-data body may have (>= 1),
                                     default 8 MiB; larger: 413 before any of it
                                     is read; never held whole in memory */
    eddy_port_options_t port;     /* the port: every key of eddy_port_options_set —
                                     http_max_header_size, http_max_headers,
                                     http_max_target_size, http_header_timeout,
                                     http_body_timeout,
                                     package_max_length (the body limit), buffers,
                                     heartbeat ... open_http_protocol is forced on */
} eddy_http_options_t;

/* Fill in the defaults above (port: eddy_port_options_init, HTTP framing). */
EDDY_EXPORT void eddy_http_options_init(eddy_http_options_t *o);
/* Set one option by name (any key above, or a port key). Returns 0,
 * -EDDY_EUNKNOWN_OPTION or -EDDY_EOPTION (bad value, or a string too long);
 * o is unchanged on error. */
EDDY_EXPORT int eddy_http_options_set(eddy_http_options_t *o, const char *key, const char *value);

/* ---- the server ----------------------------------------------------------------- */

/* Add an HTTP port to s (before eddy_server_start): opts NULL means the
 * defaults; they are copied into a port context that lives as long as the
 * process (workers inherit it). on_request(req, res, ud) runs for every
 * request. Returns the port index (as eddy_server_listen), -EDDY_EOPTION,
 * -EDDY_ESTATE once started, or a bind error. The port's connection
 * callbacks are the HTTP layer's own; the server's on_worker_start and
 * friends still run. */
EDDY_EXPORT int eddy_http_listen(eddy_server_t *s, const char *url, const eddy_http_options_t *opts,
                                 eddy_http_handler_fn on_request, void *ud);

/* Counters of this process (a worker counts what it served), summed over
 * the HTTP ports of s. Requests refused by the framing (400, 413 ...) never
 * reach the HTTP layer: they are framing_errors in eddy_server_stats. */
typedef struct eddy_http_stats {
    uint64_t requests;     /* handed to a handler */
    uint64_t responses[6]; /* ended, by status class: [1] 1xx .. [5] 5xx */
    uint64_t rejected;     /* refused before the handler: an undecodable path
                              (400), a malformed multipart body (400), a file
                              over upload_max_filesize (413) */
    uint64_t static_files; /* answered from a document root, by the static handler
                              or eddy_http_serve_static (any status) */
    uint64_t aborted;      /* the connection closed before the response ended */
    uint64_t in_progress;  /* handlers called whose responses have not ended */
    uint64_t bytes_out;    /* response bytes queued (heads and bodies) */
} eddy_http_stats_t;

EDDY_EXPORT void eddy_http_stats(const eddy_server_t *s, eddy_http_stats_t *out);

/* ---- the request (valid until the response ends) ---------------------------------- */

EDDY_EXPORT eddy_http_str_t eddy_http_method(const eddy_http_req_t *req); /* "GET" */
EDDY_EXPORT eddy_http1_method_t eddy_http_method_id(const eddy_http_req_t *req);
/* The request-target as received ("/a%20b?x=1"). */
EDDY_EXPORT eddy_http_str_t eddy_http_target(const eddy_http_req_t *req);
/* The path, percent-decoded ('+' stays '+') and NUL-terminated; a request
 * whose path has a malformed escape or a decoded NUL was answered 400
 * before the handler. For "*" (OPTIONS) it is "*", for an authority-form
 * target (CONNECT) empty, for an absolute-form target the path part. */
EDDY_EXPORT eddy_http_str_t eddy_http_path(const eddy_http_req_t *req);
/* The raw query string without '?' (ptr NULL when the target has none). */
EDDY_EXPORT eddy_http_str_t eddy_http_query_string(const eddy_http_req_t *req);
/* The first query parameter called name, decoded ('+' is a space) and
 * NUL-terminated; ptr NULL if absent. Names are compared after decoding.
 * Pairs with a malformed escape are skipped (the raw string has them). */
EDDY_EXPORT eddy_http_str_t eddy_http_query(eddy_http_req_t *req, const char *name);
/* Every decoded query parameter, in order: count, then the i-th. Returns
 * false when i is out of range. */
EDDY_EXPORT size_t eddy_http_query_count(eddy_http_req_t *req);
EDDY_EXPORT bool eddy_http_query_at(eddy_http_req_t *req, size_t i, eddy_http_str_t *name,
                                    eddy_http_str_t *value);
/* The first header called name (case-insensitive); ptr NULL if absent.
 * Values are trimmed of surrounding whitespace. */
EDDY_EXPORT eddy_http_str_t eddy_http_header(const eddy_http_req_t *req, const char *name);
EDDY_EXPORT size_t eddy_http_header_count(const eddy_http_req_t *req);
/* The i-th header as received, or NULL when i is out of range. */
EDDY_EXPORT const eddy_http1_header_t *eddy_http_header_at(const eddy_http_req_t *req, size_t i);
/* The value of the first cookie called name in the Cookie headers (quotes
 * removed, not decoded); ptr NULL if absent. */
EDDY_EXPORT eddy_http_str_t eddy_http_cookie(const eddy_http_req_t *req, const char *name);
/* The body: Content-Length bytes, or a chunked body decoded (empty when
 * there is none, and for a multipart/form-data body, which is parsed as it
 * arrives instead: see "Uploads"). */
EDDY_EXPORT eddy_http_str_t eddy_http_body(const eddy_http_req_t *req);
/* The Content-Type header (ptr NULL if absent), with parameters. */
EDDY_EXPORT eddy_http_str_t eddy_http_content_type(const eddy_http_req_t *req);
/* A field of an application/x-www-form-urlencoded or multipart/form-data
 * body (a part without a filename), decoded and NUL-terminated; ptr NULL if
 * absent or if the body is of another type. The body itself stays
 * available, as received, from eddy_http_body. */
EDDY_EXPORT eddy_http_str_t eddy_http_form(eddy_http_req_t *req, const char *name);
EDDY_EXPORT size_t eddy_http_form_count(eddy_http_req_t *req);
EDDY_EXPORT bool eddy_http_form_at(eddy_http_req_t *req, size_t i, eddy_http_str_t *name,
                                   eddy_http_str_t *value);
/* A multipart/form-data body's plain fields are form fields too (decoded
 * by the multipart rules, NUL-terminated); its file parts are files: */

/* One uploaded file. Every string is NUL-terminated and lives as long as
 * req; the file at tmp_path is eddy's and is removed when the response
 * ends, unless eddy_http_file_move gave it to the application. */
typedef struct eddy_http_file {
    eddy_http_str_t name;         /* the form field's name */
    eddy_http_str_t filename;     /* the name the client gave the file (filename*
                                     decoded, else filename); may be "" and may
                                     hold anything: never use it as a path */
    eddy_http_str_t content_type; /* the part's Content-Type; ptr NULL if it had none */
    const char *tmp_path;         /* the temporary file (mode 0600); "" once moved */
    uint64_t size;                /* bytes */
} eddy_http_file_t;

/* The files of the request, in the order they came; none unless it is
 * multipart/form-data. A file input left empty (filename "" and no bytes)
 * is not a file. */
EDDY_EXPORT size_t eddy_http_file_count(const eddy_http_req_t *req);
/* The i-th file, or NULL when i is out of range. */
EDDY_EXPORT const eddy_http_file_t *eddy_http_file_at(const eddy_http_req_t *req, size_t i);
/* The first file of the field called name, or NULL. */
EDDY_EXPORT const eddy_http_file_t *eddy_http_file(const eddy_http_req_t *req, const char *name);
/* Keep the i-th file: rename(2) it to dest (copied during the call), which
 * must be on the same file system as upload_tmp_dir. Returns 0, after
 * which the file is the application's and tmp_path is ""; -EINVAL (i out
 * of range, dest NULL or empty); -EDDY_ESTATE (already moved); -EXDEV
 * (another file system: the file stays, and is removed with the others);
 * or another -errno of rename. */
EDDY_EXPORT int eddy_http_file_move(eddy_http_req_t *req, size_t i, const char *dest);

/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
EDDY_EXPORT int eddy_http_version(const eddy_http_req_t *req);
/* Whether the client asked to keep the connection open after this request. */
EDDY_EXPORT bool eddy_http_keep_alive(const eddy_http_req_t *req);
/* The session (connection) the request came on, and the server. */
EDDY_EXPORT eddy_session_t eddy_http_session(const eddy_http_req_t *req);
EDDY_EXPORT eddy_server_t *eddy_http_server(const eddy_http_req_t *req);
/* The client's address (eddy_server_info). 0, or -EDDY_ESESSION if the
 * connection is gone. */
EDDY_EXPORT int eddy_http_peer(const eddy_http_req_t *req, eddy_addr_t *out);
/* The response that answers req, and the request res answers. */
EDDY_EXPORT eddy_http_res_t *eddy_http_response(eddy_http_req_t *req);
EDDY_EXPORT eddy_http_req_t *eddy_http_request(eddy_http_res_t *res);

/* ---- the response --------------------------------------------------------------- */

/* Answer later: the handler keeps res after it returns (see the header
 * comment). Calling it for a response that already ended does nothing. */
EDDY_EXPORT void eddy_http_retain(eddy_http_res_t *res);

/* Status 200 .. 999 (default 200). -EINVAL out of range, -EDDY_ESTATE once
 * the head was sent. */
EDDY_EXPORT int eddy_http_set_status(eddy_http_res_t *res, int status);
/* Replace every header called name (case-insensitive) with one, or add
 * another. name must be a token, value free of CR, LF and NUL (-EINVAL
 * otherwise: no response splitting). Transfer-Encoding is eddy's (-EINVAL);
 * Content-Length is honoured by eddy_http_write (raw streaming) and for
 * HEAD, and replaced by eddy_http_end; Connection: close closes the
 * connection after the response. -EDDY_ESTATE once the head was sent,
 * -ENOMEM. */
EDDY_EXPORT int eddy_http_set_header(eddy_http_res_t *res, const char *name, const char *value);
EDDY_EXPORT int eddy_http_add_header(eddy_http_res_t *res, const char *name, const char *value);

/* Set-Cookie attributes; zero-initialise and fill what you need. */
typedef struct eddy_http_cookie {
    const char *path;      /* Path=, or NULL */
    const char *domain;    /* Domain=, or NULL */
    int64_t max_age;       /* > 0: Max-Age=N seconds; < 0: Max-Age=0 (delete); 0: none */
    time_t expires;        /* > 0: Expires= that time; 0: none */
    bool secure;           /* Secure */
    bool http_only;        /* HttpOnly */
    const char *same_site; /* "Strict", "Lax", "None", or NULL */
} eddy_http_cookie_t;

/* Add a Set-Cookie header. name must be a token, value cookie-octets
 * (percent-encode anything else first: eddy/urlenc.h), attributes free of
 * ';', CR, LF and NUL; -EINVAL otherwise. attrs may be NULL. */
EDDY_EXPORT int eddy_http_set_cookie(eddy_http_res_t *res, const char *name, const char *value,
                                     const eddy_http_cookie_t *attrs);

/* End the response with body[0..len) (after any eddy_http_write: the last
 * piece, which may be empty). This always ends it: whatever it returns, req
 * and res are invalid afterwards. Returns 0, -EDDY_ESESSION when the
 * connection is gone, -EDDY_ECLOSING when it is closing, -EDDY_EOUTPUT_FULL
 * when its output buffer is full (the connection is then closed), -EINVAL
 * when a Content-Length set for raw streaming was not met, or -ENOMEM. */
EDDY_EXPORT int eddy_http_end(eddy_http_res_t *res, const void *body, size_t len);
/* Send part of the body (see "Responses" above). 0; -EDDY_EOUTPUT_FULL
 * when the connection's output buffer is full (nothing was queued: the
 * response stays valid, try again later); -EINVAL beyond a Content-Length;
 * -EDDY_ESESSION / -EDDY_ECLOSING when the connection is gone or closing —
 * the response is then freed, as by end. */
EDDY_EXPORT int eddy_http_write(eddy_http_res_t *res, const void *data, size_t len);
/* A trailer field sent after the last chunk of a chunked response (ignored
 * by responses that are not chunked). Same rules as headers. */
EDDY_EXPORT int eddy_http_add_trailer(eddy_http_res_t *res, const char *name, const char *value);
/* End the response with len bytes of the file fd from offset as its body
 * (len 0: to the end of the file), written with sendfile, never compressed;
 * eddy duplicates fd. Ends the response like eddy_http_end, with the same
 * errors. Before anything is done, leaving the response untouched for the
 * handler to answer another way: -EDDY_ESTATE after a write, -EINVAL for a
 * negative offset, -errno when fstat fails (len 0: a bad fd). */
EDDY_EXPORT int eddy_http_sendfile(eddy_http_res_t *res, int fd, off_t offset, size_t len);

/* ---- static files from a handler ---------------------------------------------------- */

/* Answer req with what path names under st's document root: the same
 * answer the static handler gives (200 206 304 400 403 404 405 412 416,
 * headers from eddy_static_response_headers, the body by sendfile, nothing
 * compressed), 404 included. path is percent-decoded and relative to the
 * root ("/app.css"; a missing leading '/' is added); a handler mounted on
 * a prefix passes what follows the prefix. Headers the handler set before
 * stay (Cache-Control ...), unless the answer sets the same ones.
 *
 * st is the application's (eddy_static_new, before eddy_server_start so
 * that workers inherit it; free it after eddy_server_start returns) and is
 * only read here. Like eddy_http_end this ends the response: req and res
 * are invalid afterwards. Returns the status answered (500 when the file
 * system failed: EMFILE, EIO ...), or the error of the final end or
 * sendfile (-EDDY_ESESSION ...). Before anything is done: -EINVAL for a
 * NULL argument or a res that does not answer req, -EDDY_ESTATE when the
 * response has started or ended; the response is then untouched. */
EDDY_EXPORT int eddy_http_serve_static(eddy_http_req_t *req, eddy_http_res_t *res,
                                       const eddy_static_t *st, const char *path);

/* ---- routing ---------------------------------------------------------------------- */

typedef struct eddy_http_router eddy_http_router_t;

typedef enum eddy_http_match {
    EDDY_HTTP_EXACT,  /* the decoded path equals the pattern */
    EDDY_HTTP_PREFIX, /* the decoded path starts with the pattern; the longest wins */
} eddy_http_match_t;

/* A router dispatches on the decoded path: an exact route first, then the
 * longest matching prefix, then the fallback (default: 404 Not Found).
 * Use it as the handler: eddy_http_listen(s, url, opts, eddy_http_router_handler, router).
 * Build it before eddy_server_start; free it after eddy_server_start returns. */
EDDY_EXPORT int eddy_http_router_new(eddy_http_router_t **out);
EDDY_EXPORT void eddy_http_router_free(eddy_http_router_t *r);
/* Add a route; pattern is copied. -EEXIST if the same pattern and match
 * kind is already routed, -EINVAL for an empty pattern, -ENOMEM. */
EDDY_EXPORT int eddy_http_route(eddy_http_router_t *r, const char *pattern, eddy_http_match_t match,
                                eddy_http_handler_fn fn, void *ud);
EDDY_EXPORT void eddy_http_router_fallback(eddy_http_router_t *r, eddy_http_handler_fn fn,
                                           void *ud);
/* The handler to pass to eddy_http_listen, with the router as its ud. */
EDDY_EXPORT void eddy_http_router_handler(eddy_http_req_t *req, eddy_http_res_t *res, void *router);

#endif
