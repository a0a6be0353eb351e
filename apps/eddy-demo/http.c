/*
 * The demo's HTTP port: a home page that explains and links to the rest,
 * /hello, /stats (this worker's counters as JSON), /static/ (files of the
 * www directory), /upload (a form and what it received).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"

#define PAGE_MAX 8192

static void hello(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "Hello, World!", 13);
}

static void home(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    const demo_t *d = ud;
    char page[PAGE_MAX];
    int n =
        snprintf(page, sizeof page,
                 "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>eddy demo</title>\n"
                 "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\n"
                 "<h1>eddy</h1>\n"
                 "<p>An event-driven, multi-process network engine for C. This page comes from "
                 "<code>apps/eddy-demo</code>: one <code>eddy_server</code> in %s mode, worker #%d "
                 "(pid %d) answered it.</p>\n"
                 "<ul>\n"
                 "<li><a href=\"/hello\">/hello</a> — the benchmark's answer: "
                 "<code>Hello, World!</code></li>\n"
                 "<li><a href=\"/stats\">/stats</a> — this worker's live counters as JSON: "
                 "connections, requests, closes by reason</li>\n"
                 "<li><a href=\"/static/\">/static/</a> — files served with ETag, "
                 "Last-Modified, ranges and sendfile</li>\n"
                 "<li><a href=\"/upload\">/upload</a> — a multipart form; the server reports what "
                 "arrived</li>\n"
                 "</ul>\n"
                 "<p>Two more ports speak line protocols (the engine core's seed scenario):</p>\n"
                 "<pre>printf 'hi\\n' | nc 127.0.0.1 %d                          # echo\n"
                 "printf 'LOGIN %.*s\\nhello\\nQUIT\\n' | nc 127.0.0.1 %d   # login\n"
                 "printf 'LOGIN mallory\\n' | nc 127.0.0.1 %d                # refused, then a "
                 "clean close</pre>\n"
                 "</body></html>\n",
                 d->mode, eddy_server_worker_id(eddy_http_server(req)), (int)getpid(), d->echo_port,
                 (int)strcspn(d->users, ","), d->users, d->login_port, d->login_port);
    eddy_http_set_header(res, "Content-Type", "text/html; charset=utf-8");
    eddy_http_end(res, page, n < (int)sizeof page ? (size_t)n : sizeof page - 1);
}

static int json_counters(char *out, size_t cap, const eddy_server_stats_t *st,
                         const eddy_http_stats_t *hs)
{
    int n = snprintf(out, cap,
                     "  \"connections\": {\"accepted\": %llu, \"active\": %llu, \"refused\": "
                     "%llu, \"evicted\": %llu, \"framing_errors\": %llu, \"closed\": {",
                     (unsigned long long)st->net.accepted, (unsigned long long)st->net.active,
                     (unsigned long long)st->net.refused, (unsigned long long)st->net.evicted,
                     (unsigned long long)st->net.framing_errors);
    for (int r = 0; r < EDDY_CLOSE_REASON_COUNT && n > 0 && (size_t)n < cap; r++)
        n += snprintf(out + n, cap - (size_t)n, "%s\"%s\": %llu", r ? ", " : "",
                      eddy_close_reason_name((eddy_close_reason_t)r),
                      (unsigned long long)st->net.closed[r]);
    if (n > 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n,
                      "}},\n  \"bytes_in\": %llu,\n  \"bytes_out\": %llu,\n  \"packets\": %llu,\n"
                      "  \"http\": {\"requests\": %llu, \"in_progress\": %llu, \"rejected\": "
                      "%llu, \"aborted\": %llu, \"responses\": {\"1xx\": %llu, \"2xx\": %llu, "
                      "\"3xx\": %llu, \"4xx\": %llu, \"5xx\": %llu}}\n",
                      (unsigned long long)st->net.bytes_in, (unsigned long long)st->net.bytes_out,
                      (unsigned long long)st->requests, (unsigned long long)hs->requests,
                      (unsigned long long)hs->in_progress, (unsigned long long)hs->rejected,
                      (unsigned long long)hs->aborted, (unsigned long long)hs->responses[1],
                      (unsigned long long)hs->responses[2], (unsigned long long)hs->responses[3],
                      (unsigned long long)hs->responses[4], (unsigned long long)hs->responses[5]);
    return n;
}

/* The counters of every port (HTTP, echo, login): this worker's in BASE
 * mode; in PROCESS mode the connections live in the master, so their
 * counters are the whole server's, and the HTTP ones this worker's. */
static void stats(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    const demo_t *d = ud;
    eddy_server_t *s = eddy_http_server(req);
    eddy_server_stats_t st;
    eddy_http_stats_t hs;
    eddy_server_stats(s, &st);
    eddy_http_stats(s, &hs);
    char body[PAGE_MAX];
    int n =
        snprintf(body, sizeof body,
                 "{\n  \"scope\": \"%s\",\n  \"mode\": \"%s\",\n  \"worker\": %d,\n"
                 "  \"pid\": %d,\n  \"uptime_s\": %llu,\n",
                 strcmp(d->mode, "process") == 0 ? "connections: server, http: worker" : "worker",
                 d->mode, eddy_server_worker_id(s), (int)getpid(),
                 (unsigned long long)(time(NULL) - (time_t)st.start_time));
    n += json_counters(body + n, sizeof body - (size_t)n, &st, &hs);
    n += snprintf(body + n, sizeof body - (size_t)n, "}\n");
    eddy_http_set_header(res, "Content-Type", "application/json");
    eddy_http_set_header(res, "Cache-Control", "no-store");
    eddy_http_end(res, body, (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

/* /static/...: the www directory (ETag, ranges, sendfile, no escape). */
static void files(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    const demo_t *d = ud;
    eddy_http_str_t path = eddy_http_path(req);
    eddy_http_serve_static(req, res, d->files, path.ptr + strlen("/static"));
}

static const char upload_form[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>eddy demo: upload</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\n"
    "<h1>Upload</h1>\n"
    "<p>The form posts multipart/form-data. The server parses the body as it arrives and "
    "writes each file straight to a temporary file (at most 1 MiB each, 8 MiB in all), the "
    "handler reports what arrived, and the files are removed when the answer ends.</p>\n"
    "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\">\n"
    "<p><input name=\"title\" placeholder=\"a title\"></p>\n"
    "<p><input type=\"file\" name=\"file\" multiple></p>\n"
    "<p><button>Upload</button></p>\n</form>\n<p><a href=\"/\">back</a></p>\n"
    "</body></html>\n";

/* GET: the form; POST: a plain-text account of the fields and files. */
static void upload(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    if (eddy_http_method_id(req) != EDDY_HTTP1_METHOD_POST) {
        eddy_http_set_header(res, "Content-Type", "text/html; charset=utf-8");
        eddy_http_end(res, upload_form, sizeof upload_form - 1);
        return;
    }
    char out[PAGE_MAX];
    size_t n = 0;
    eddy_http_str_t name, value;
    for (size_t i = 0; n < sizeof out && eddy_http_form_at(req, i, &name, &value); i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "field %.*s = %.*s\n", (int)name.len,
                              name.ptr, (int)(value.len < 200 ? value.len : 200), value.ptr);
    for (size_t i = 0; n < sizeof out && i < eddy_http_file_count(req); i++) {
        const eddy_http_file_t *f = eddy_http_file_at(req, i);
        const char *type = f->content_type.ptr ? f->content_type.ptr : "application/octet-stream";
        int type_len = f->content_type.ptr ? (int)f->content_type.len : (int)strlen(type);
        n += (size_t)snprintf(out + n, sizeof out - n, "file %.*s: \"%.*s\", %llu bytes, %.*s\n",
                              (int)f->name.len, f->name.ptr,
                              (int)(f->filename.len < 200 ? f->filename.len : 200), f->filename.ptr,
                              (unsigned long long)f->size, type_len, type);
    }
    if (n == 0) n = (size_t)snprintf(out, sizeof out, "nothing arrived\n");
    eddy_http_set_header(res, "Content-Type", "text/plain; charset=utf-8");
    eddy_http_end(res, out, n < sizeof out ? n : sizeof out - 1);
}

static void not_found(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_status(res, 404);
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "not found; the home page is /\n", 30);
}

int demo_http_listen(demo_t *d, int port)
{
    eddy_http_router_t *router;
    int rc = eddy_http_router_new(&router);
    if (rc < 0) return rc;
    const struct {
        const char *path;
        eddy_http_match_t match;
        eddy_http_handler_fn fn;
    } routes[] = {
        {"/", EDDY_HTTP_EXACT, home},         {"/hello", EDDY_HTTP_EXACT, hello},
        {"/stats", EDDY_HTTP_EXACT, stats},   {"/static/", EDDY_HTTP_PREFIX, files},
        {"/upload", EDDY_HTTP_EXACT, upload},
    };
    for (size_t i = 0; rc == 0 && i < sizeof routes / sizeof routes[0]; i++)
        rc = eddy_http_route(router, routes[i].path, routes[i].match, routes[i].fn, d);
    if (rc == 0) eddy_http_router_fallback(router, not_found, d);
    eddy_static_options_t so;
    eddy_static_options_init(&so);
    so.document_root = d->www;
    if (rc == 0 && (rc = eddy_static_new(&d->files, &so)) < 0)
        fprintf(stderr, "eddy-demo: %s: %s\n", d->www, eddy_strerror(rc));
    eddy_http_options_t ho;
    eddy_http_options_init(&ho);
    if (rc == 0) rc = eddy_http_options_set(&ho, "upload_max_filesize", "1048576");
    if (rc == 0) rc = eddy_http_options_set(&ho, "package_max_length", "8388608");
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    int index =
        rc < 0 ? rc : eddy_http_listen(d->server, url, &ho, eddy_http_router_handler, router);
    if (index < 0) {
        eddy_http_router_free(router);
        return index;
    }
    d->router = router; /* the port's as long as the server runs */
    d->http_port = eddy_server_port(d->server, index);
    return 0;
}
