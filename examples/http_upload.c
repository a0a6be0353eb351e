/*
 * http_upload — file uploads (multipart/form-data). GET / shows a form with
 * a text field and a file input; POST /upload answers with a text summary
 * of what arrived: each field, and each file's name, size, content type and
 * CRC-32. The server has parsed the body before the handler runs: fields
 * are form fields, files are temp files in upload_tmp_dir, and since this
 * program keeps none of them (eddy_http_file_move would), eddy removes them
 * when the answer ends.
 *
 *   http_upload [-u TMPDIR] [-s MAXFILE] [-p PORT] [-w WORKERS] [-m base|process]
 *
 * TMPDIR is upload_tmp_dir (default /tmp); MAXFILE is upload_max_filesize in
 * bytes (default 2 MiB: a larger file is answered 413). The whole body is
 * buffered before it is parsed, up to package_max_length, set here to 16 MiB.
 * PORT 0 (the default) picks a free port; the program prints "listening on
 * 127.0.0.1:PORT" once it is bound. SIGTERM or Ctrl-C stops it gracefully.
 *
 *   curl -F title=holiday -F file=@photo.jpg http://127.0.0.1:PORT/upload
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <eddy.h>

static const char form[] =
    "<!doctype html>\n<meta charset=\"utf-8\">\n<title>http_upload</title>\n"
    "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\">\n"
    "<p><label>Title <input name=\"title\"></label></p>\n"
    "<p><input type=\"file\" name=\"file\" multiple></p>\n"
    "<p><button>Upload</button></p>\n"
    "</form>\n";

static void home(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Content-Type", "text/html; charset=utf-8");
    eddy_http_end(res, form, sizeof form - 1);
}

/* CRC-32 of a file (zlib's, as `python3 -c 'import zlib'` computes it). */
static int crc_of(const char *path, unsigned long *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    uLong crc = crc32(0, Z_NULL, 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        crc = crc32(crc, (const Bytef *)buf, (uInt)n);
    close(fd);
    *out = crc;
    return n < 0 ? -1 : 0;
}

typedef struct text {
    char *p;
    size_t len, cap;
} text_t;

static void add(text_t *t, const char *fmt, ...) EDDY_PRINTF(2, 3);

static void add(text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->len + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) return; /* the summary stays shorter */
        t->p = p;
        t->cap = cap;
    }
}

static void upload(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    text_t t = {0};
    eddy_http_str_t name, value;
    size_t nfields = eddy_http_form_count(req), nfiles = eddy_http_file_count(req);
    add(&t, "%zu field(s), %zu file(s)\n", nfields, nfiles);
    for (size_t i = 0; eddy_http_form_at(req, i, &name, &value); i++)
        add(&t, "field %s = %s\n", name.ptr, value.ptr);
    for (size_t i = 0; i < nfiles; i++) {
        const eddy_http_file_t *f = eddy_http_file_at(req, i);
        unsigned long crc = 0;
        int ok = crc_of(f->tmp_path, &crc);
        add(&t, "file %s: filename=%s size=%llu type=%s crc32=", f->name.ptr, f->filename.ptr,
            (unsigned long long)f->size, f->content_type.ptr ? f->content_type.ptr : "(none)");
        if (ok == 0)
            add(&t, "%08lx\n", crc);
        else
            add(&t, "(unreadable)\n");
    }
    eddy_http_set_header(res, "Content-Type", "text/plain; charset=utf-8");
    eddy_http_end(res, t.p ? t.p : "", t.len); /* the temp files go now */
    free(t.p);
}

static void not_found(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_status(res, 404);
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "not found: try GET / or POST /upload\n", 37);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-u TMPDIR] [-s MAXFILE] [-p PORT] [-w WORKERS] [-m base|process]\n",
            prog);
    return 2;
}

static void fail(const char *what, const char *value, int rc)
{
    fprintf(stderr, "http_upload: %s%s%s: %s\n", what, value ? " " : "", value ? value : "",
            eddy_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *port = "0", *workers = "1", *mode = "base", *tmpdir = "/tmp", *max = "2097152";
    for (int opt; (opt = getopt(argc, argv, "u:s:p:w:m:")) != -1;) {
        switch (opt) {
        case 'u': tmpdir = optarg; break;
        case 's': max = optarg; break;
        case 'p': port = optarg; break;
        case 'w': workers = optarg; break;
        case 'm': mode = optarg; break;
        default: return usage(argv[0]);
        }
    }
    eddy_http_options_t o;
    eddy_http_options_init(&o);
    int rc;
    if ((rc = eddy_http_options_set(&o, "upload_tmp_dir", tmpdir)) < 0) fail("tmpdir", tmpdir, rc);
    if ((rc = eddy_http_options_set(&o, "upload_max_filesize", max)) < 0) fail("max", max, rc);
    if ((rc = eddy_http_options_set(&o, "package_max_length", "16777216")) < 0)
        fail("package_max_length", NULL, rc);

    eddy_http_router_t *r;
    if ((rc = eddy_http_router_new(&r)) < 0) fail("router", NULL, rc);
    if ((rc = eddy_http_route(r, "/", EDDY_HTTP_EXACT, home, NULL)) < 0 ||
        (rc = eddy_http_route(r, "/upload", EDDY_HTTP_EXACT, upload, NULL)) < 0)
        fail("route", NULL, rc);
    eddy_http_router_fallback(r, not_found, NULL);

    eddy_server_t *s;
    if ((rc = eddy_server_new(NULL, NULL, NULL, &s)) < 0) fail("new", NULL, rc);
    if ((rc = eddy_server_set(s, "mode", mode)) < 0) fail("mode", mode, rc);
    if ((rc = eddy_server_set(s, "worker_num", workers)) < 0) fail("worker_num", workers, rc);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    int index = eddy_http_listen(s, url, &o, eddy_http_router_handler, r);
    if (index < 0) fail("listen", url, index);
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, index));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    eddy_http_router_free(r);
    if (rc < 0) fail("start", NULL, rc);
    return 0;
}
