/*
 * http_static — serve a directory over HTTP with the server's static file
 * handler (enable_static_handler, as in Swoole): GET and HEAD, index.html
 * for directories, MIME types, ETag / Last-Modified and 304, Range (206),
 * files sent with sendfile. What is not there falls through to a handler,
 * which answers 404 with a list of what the directory holds.
 *
 *   http_static [-d DIR] [-P PREFIX] [-p PORT] [-w WORKERS] [-m base|process]
 *
 * DIR (default: the current directory) is served under the URL prefix
 * PREFIX (default "/": DIR/a.css is /a.css; with -P /files it is
 * /files/a.css and "/" shows the list). A directory without an index.html
 * is answered 403, never listed by the file handler. PORT 0 (the default)
 * picks a free port; the program prints "listening on 127.0.0.1:PORT" once
 * it is bound. WORKERS processes (default 1) serve the port; SIGTERM or
 * Ctrl-C shuts everything down gracefully.
 *
 *   curl -i http://127.0.0.1:PORT/README.md
 *   curl -i -r 0-99 http://127.0.0.1:PORT/README.md          # 206
 *   curl -i -H 'If-None-Match: "<etag>"' http://127.0.0.1:PORT/README.md   # 304
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define MAX_LISTED 200

typedef struct site {
    const char *dir;
    const char *prefix; /* without a trailing '/' ("" for "/") */
} site_t;

/* A growing page; on allocation failure it stays short (the page says less). */
typedef struct page {
    char *p;
    size_t len, cap;
} page_t;

static void add(page_t *pg, const char *s, size_t n)
{
    if (pg->len + n + 1 > pg->cap) {
        size_t cap = (pg->len + n + 1) * 2;
        char *p = realloc(pg->p, cap);
        if (!p) return;
        pg->p = p;
        pg->cap = cap;
    }
    memcpy(pg->p + pg->len, s, n);
    pg->len += n;
    pg->p[pg->len] = '\0';
}

static void adds(page_t *pg, const char *s)
{
    add(pg, s, strlen(s));
}

/* Text into HTML. */
static void add_escaped(page_t *pg, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': adds(pg, "&lt;"); break;
        case '>': adds(pg, "&gt;"); break;
        case '&': adds(pg, "&amp;"); break;
        case '"': adds(pg, "&quot;"); break;
        default: add(pg, s, 1);
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The top level of the directory, as links. */
static void add_listing(page_t *pg, const site_t *site)
{
    char *names[MAX_LISTED];
    size_t n = 0;
    DIR *d = opendir(site->dir);
    if (d) {
        for (struct dirent *e; n < MAX_LISTED && (e = readdir(d));) {
            if (e->d_name[0] == '.') continue; /* ".", "..", and dot files */
            if ((names[n] = strdup(e->d_name))) n++;
        }
        closedir(d);
    }
    qsort(names, n, sizeof names[0], by_name);
    adds(pg, "<ul>\n");
    for (size_t i = 0; i < n; i++) {
        char link[3 * 256 + 1];
        ssize_t k = eddy_url_encode(link, sizeof link - 1, names[i], strlen(names[i]), 0);
        if (k >= 0) {
            link[k] = '\0';
            adds(pg, "<li><a href=\"");
            add_escaped(pg, site->prefix);
            adds(pg, "/");
            adds(pg, link);
            adds(pg, "\">");
            add_escaped(pg, names[i]);
            adds(pg, "</a></li>\n");
        }
        free(names[i]);
    }
    adds(pg, "</ul>\n");
}

/* Everything the file handler did not find. */
static void fallback(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    const site_t *site = ud;
    eddy_http_str_t path = eddy_http_path(req);
    bool home = path.len == 1 && path.ptr[0] == '/'; /* reaches here only with -P */
    page_t pg = {0};
    adds(&pg, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>http_static</title>\n");
    if (!home) {
        adds(&pg, "<p>Not found: ");
        add_escaped(&pg, path.ptr);
        adds(&pg, "</p>\n");
    }
    adds(&pg, "<p>This server serves ");
    add_escaped(&pg, site->dir);
    adds(&pg, " under ");
    add_escaped(&pg, site->prefix[0] ? site->prefix : "/");
    adds(&pg, ":</p>\n");
    add_listing(&pg, site);
    eddy_http_set_status(res, home ? 200 : 404);
    eddy_http_set_header(res, "Content-Type", "text/html; charset=utf-8");
    eddy_http_end(res, pg.p, pg.len);
    free(pg.p);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-d DIR] [-P PREFIX] [-p PORT] [-w WORKERS] [-m base|process]\n",
            prog);
    return 2;
}

static void fail(const char *what, const char *value, int rc)
{
    fprintf(stderr, "http_static: %s%s%s: %s\n", what, value ? " " : "", value ? value : "",
            eddy_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *port = "0", *workers = "1", *mode = "base", *dir = ".", *prefix = "/";
    for (int opt; (opt = getopt(argc, argv, "d:P:p:w:m:")) != -1;) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'P': prefix = optarg; break;
        case 'p': port = optarg; break;
        case 'w': workers = optarg; break;
        case 'm': mode = optarg; break;
        default: return usage(argv[0]);
        }
    }
    eddy_http_options_t o;
    eddy_http_options_init(&o);
    int rc;
    if ((rc = eddy_http_options_set(&o, "enable_static_handler", "on")) < 0)
        fail("enable_static_handler", NULL, rc);
    if ((rc = eddy_http_options_set(&o, "document_root", dir)) < 0) fail("directory", dir, rc);
    if ((rc = eddy_http_options_set(&o, "static_prefix", prefix)) < 0) fail("prefix", prefix, rc);
    /* The prefix as the links want it: no trailing '/'. */
    char base[sizeof o.static_prefix];
    snprintf(base, sizeof base, "%s", prefix);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';
    site_t site = {.dir = dir, .prefix = base};

    eddy_server_t *s;
    if ((rc = eddy_server_new(NULL, NULL, NULL, &s)) < 0) fail("new", NULL, rc);
    if ((rc = eddy_server_set(s, "mode", mode)) < 0) fail("mode", mode, rc);
    if ((rc = eddy_server_set(s, "worker_num", workers)) < 0) fail("worker_num", workers, rc);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    int index = eddy_http_listen(s, url, &o, fallback, &site); /* checks that dir is a directory */
    if (index < 0) fail("listen", url, index);
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, index));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    if (rc < 0) fail("start", NULL, rc);
    return 0;
}
