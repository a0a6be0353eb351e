/*
 * The HTTP test application: an eddy_server with one HTTP port and the
 * routes below, started in a forked process group (its master and one
 * worker), and a small client that reads responses off a plain socket with
 * eddy's own response parser.
 *
 * Routes (GET unless said):
 *   /hello              "Hello, World!" text/plain
 *   /info               text lines describing the request: method, path, raw
 *                       query, each decoded query parameter, version,
 *                       keep-alive, X-Test header, sid and theme cookies,
 *                       each form field, body length, then the body
 *   /big?n=N            N bytes (default 100000) of text/plain
 *   /json               a 1 KiB application/json body
 *   /png                a 1 KiB image/png body (never compressed)
 *   /stream?n=N         N chunks written one by one, a trailer X-Sum; text/plain
 *   /stream-length      Content-Length: 10, written raw in two pieces
 *   /late/...?ms=M      answered after M ms from a timer: "late <path>"
 *   /late-resume/...    the same, and the session resumed at once, so that
 *                       requests behind it queue in the HTTP layer (as they
 *                       do in PROCESS mode)
 *   /cookie             two Set-Cookie headers
 *   /status/NNN         an empty response with status NNN
 *   /file               a 70000-byte file with sendfile
 *   /close              Connection: close
 *   /forget             the handler returns without answering
 *   /die                the worker kills itself (SIGKILL) holding the request
 *   /encoded            Content-Encoding: identity set by the handler
 *   /stats              this worker's eddy_http_stats and peak memory (peak_kib)
 *   /upload             (multipart POST) a line per form field and per file:
 *                       "file.NAME filename=F type=T size=N sum=FNV1A64 mode=M tmp=PATH"
 *   /upload-keep?dest=P the first file moved to P: "move=RC"
 *   /upload-hold/...?ms=M  answered after M ms, like /late/
 *   /mount/...          eddy_http_serve_static on the document_root option
 *                       (when given), Cache-Control: max-age=60 set first
 *   /mount-bare/X       the same for the path "X" (no leading '/')
 *   /static/... /static/deep/...   prefix routes: "static" / "deep"
 *   anything else       404 from the router
 * Every call of the handler is counted in shared memory (app.calls).
 */
#ifndef EDDY_HTTP_APP_H
#define EDDY_HTTP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct http_app {
    pid_t pid; /* the master; the group has its id */
    int port;
    volatile uint64_t *calls; /* handler calls, shared with the server */
    char errlog[64];
} http_app_t;

/* Start with the HTTP options given as key/value pairs (NULL-terminated
 * array, may be NULL). Any failure is a failed CHECK. */
void http_app_start(http_app_t *a, const char *const *options);
/* SIGTERM, exit 0 within 10 s, no sanitizer report on stderr. */
void http_app_stop(http_app_t *a);
uint64_t http_app_calls(const http_app_t *a);

/* ---- the client ----------------------------------------------------------------- */

typedef struct http_reply {
    int status;
    int minor_version;
    char head[16384]; /* the head, NUL-terminated */
    char *body;       /* decoded (chunked) body, NUL-terminated; free with http_reply_free */
    size_t body_len;
    bool chunked;
    char trailers[1024]; /* the trailer section of a chunked body, raw */
} http_reply_t;

typedef struct http_conn_test {
    int fd;
    char *buf;
    size_t len, cap;
} http_client_t;

void http_client_open(http_client_t *c, int port);
void http_client_close(http_client_t *c);
void http_client_send(http_client_t *c, const char *data, size_t len);
void http_client_sends(http_client_t *c, const char *s);
/* Read one response (head_only for a HEAD request). 0, or -1 on EOF, error
 * or a 5 s timeout before it was whole. */
int http_client_read(http_client_t *c, http_reply_t *r, bool head_only);
/* Read until the connection ends: 0 for a clean EOF, else the errno. Bytes
 * still unread count in *extra (if not NULL). */
int http_client_wait_close(http_client_t *c, size_t *extra);
void http_reply_free(http_reply_t *r);
/* A header of a reply's head ("Content-Type"), copied into out; false if
 * absent. */
bool http_reply_header(const http_reply_t *r, const char *name, char *out, size_t cap);

/* Run a shell command, return its stdout (malloc'd) and exit status. */
char *run_capture(const char *cmd, int *status);
/* curl -sS --max-time MAX_TIME ARGS 'http://127.0.0.1:PORT PATH' 2>&1: what it
 * printed (malloc'd); a non-zero exit is a failed CHECK, with the command and
 * its output printed. */
char *http_app_curl(const http_app_t *a, int max_time, const char *args, const char *path);

#endif
