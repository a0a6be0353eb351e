/* Static files, against a temporary tree: normal files and MIME types,
 * index files, "..", the decoded and undecoded "%2e%2e", NUL, symlinks that
 * stay inside and that lead out (relative, absolute, through a directory,
 * /proc magic links, loops, dangling), FIFOs and sockets, directories
 * without an index; ranges of every form including 416; 304 by ETag and by
 * date, 412, If-Range; HEAD; the headers each status sends. Every request
 * is served twice: with openat2 and with the fallback resolver. Also the
 * parsers on their own: HTTP dates in three formats, entity tag lists,
 * Range, and the MIME table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/http_static.h"
#include "http/static_internal.h"
#include "test.h"

#define RFC_TIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example */
#define S_(lit)  lit, sizeof(lit) - 1

static char base[64], root[96];
static bool fallback;

/* ---- the tree ------------------------------------------------------------------------------ */

static void put_file(const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(content, f);
    CHECK(fclose(f) == 0);
    struct timespec ts[2] = {{RFC_TIME, 0}, {RFC_TIME, 0}};
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void put_dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    CHECK(mkdir(path, 0755) == 0);
}

static void put_link(const char *rel, const char *target)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    CHECK(symlink(target, path) == 0);
}

static int sock_fd = -1;

static void make_tree(void)
{
    snprintf(base, sizeof base, "/tmp/eddy-static-XXXXXX");
    CHECK(mkdtemp(base) != NULL);
    snprintf(root, sizeof root, "%s/root", base);
    CHECK(mkdir(root, 0755) == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/outside.txt", base);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("secret", f);
    fclose(f);
    put_file("index.html", "<h1>home</h1>");
    put_file("a.txt", "0123456789abcdef");
    put_file("empty.txt", "");
    put_file("Photo.JPG", "jpg");
    put_file(".hidden", "h");
    put_file("noext", "x");
    put_file("%2e%2e", "literal");
    put_dir("sub");
    put_file("sub/index.html", "sub index");
    put_file("sub/page.css", "body{}");
    put_dir("nodir");
    put_dir("alt");
    put_file("alt/home.htm", "alt home");
    put_dir("idxdir");
    put_dir("idxdir/index.html");
    put_file("idxdir/home.htm", "idx home");
    put_link("link_in", "a.txt");
    put_link("link_sub", "sub");
    char abs[200];
    snprintf(abs, sizeof abs, "%s/a.txt", root);
    put_link("link_abs_in", abs);
    put_link("link_out", "../outside.txt");
    put_link("link_out_abs", "/etc/passwd");
    put_link("link_dir_out", "..");
    put_link("link_loop", "link_loop");
    put_link("dangling", "nothing.txt");
    put_link("link_proc", "/proc/self/root");
    put_link("sub/up_in", "../a.txt");
    snprintf(path, sizeof path, "%s/fifo", root);
    CHECK(mkfifo(path, 0644) == 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", root);
    sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(sock_fd >= 0);
    CHECK(bind(sock_fd, (struct sockaddr *)&sa, sizeof sa) == 0);
}

static void remove_tree(void)
{
    close(sock_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(system(cmd) == 0);
}

static eddy_static_t *open_root(const char *index_files)
{
    eddy_static_options_t o;
    eddy_static_options_init(&o);
    o.document_root = root;
    o.index_files = index_files;
    eddy_static_t *st = NULL;
    CHECK_EQ(eddy_static_new(&st, &o), 0);
    return st;
}

/* ---- requests ------------------------------------------------------------------------------ */

typedef struct hv {
    const char *inm, *ims, *range, *ifr, *im, *ius;
} hv_t;

static eddy_http1_str_t str(const char *s)
{
    return (eddy_http1_str_t){s, s ? strlen(s) : 0};
}

static eddy_static_response_t serve_n(const eddy_static_t *st, const char *method, const char *path,
                                      size_t len, hv_t h)
{
    eddy_static_request_t rq = {
        .method = str(method),
        .path = {path, len},
        .if_none_match = str(h.inm),
        .if_modified_since = str(h.ims),
        .range = str(h.range),
        .if_range = str(h.ifr),
        .if_match = str(h.im),
        .if_unmodified_since = str(h.ius),
    };
    eddy_static_response_t rs;
    memset(&rs, 0x5a, sizeof rs); /* serve must fill in everything */
    int rc = eddy_static_serve(st, &rq, &rs);
    CHECK_EQ(rc, 0);
    return rs;
}

static eddy_static_response_t serve(const eddy_static_t *st, const char *method, const char *path,
                                    hv_t h)
{
    return serve_n(st, method, path, strlen(path), h);
}

/* The value of header name in rs's headers, or NULL. */
static const char *header(const eddy_static_response_t *rs, const char *name)
{
    eddy_static_header_t h[EDDY_STATIC_MAX_HEADERS];
    size_t n = eddy_static_response_headers(rs, h, EDDY_STATIC_MAX_HEADERS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, name) == 0) return h[i].value;
    return NULL;
}

static size_t header_count(const eddy_static_response_t *rs)
{
    eddy_static_header_t h[EDDY_STATIC_MAX_HEADERS];
    return eddy_static_response_headers(rs, h, EDDY_STATIC_MAX_HEADERS);
}

/* The body the server would send. */
static char *body_of(const eddy_static_response_t *rs)
{
    CHECK(rs->fd >= 0);
    char *buf = malloc(rs->length + 1);
    CHECK(buf != NULL);
    ssize_t n = pread(rs->fd, buf, rs->length, rs->offset);
    CHECK_EQ(n, (ssize_t)rs->length);
    buf[n] = '\0';
    return buf;
}

/* A request answered with status and no file. */
static void expect_status(const eddy_static_t *st, const char *path, int status)
{
    eddy_static_response_t rs = serve(st, "GET", path, (hv_t){0});
    if (rs.status != status) fprintf(stderr, "GET %s → %d\n", path, rs.status);
    CHECK_EQ(rs.status, status);
    if (status >= 400) CHECK_EQ(rs.fd, -1);
    eddy_static_response_release(&rs);
}

/* GET path gives 200 with this body and type. */
static void expect_body(const eddy_static_t *st, const char *path, const char *content,
                        const char *type)
{
    eddy_static_response_t rs = serve(st, "GET", path, (hv_t){0});
    if (rs.status != 200) fprintf(stderr, "GET %s → %d\n", path, rs.status);
    CHECK_EQ(rs.status, 200);
    char *b = body_of(&rs);
    CHECK_STR(b, content);
    free(b);
    CHECK_STR(header(&rs, "Content-Type"), type);
    eddy_static_response_release(&rs);
    CHECK_EQ(rs.fd, -1);
}

/* ---- files, paths, symlinks ---------------------------------------------------------------- */

static void test_files(void)
{
    eddy_static_t *st = open_root(NULL);
    eddy_static_response_t rs = serve(st, "GET", "/a.txt", (hv_t){0});
    CHECK_EQ(rs.status, 200);
    CHECK(rs.found && !rs.is_index);
    CHECK_EQ(rs.offset, 0);
    CHECK_EQ(rs.length, 16);
    CHECK_EQ(rs.st.st_size, 16);
    CHECK_EQ(header_count(&rs), 5);
    CHECK_STR(header(&rs, "Content-Type"), "text/plain; charset=utf-8");
    CHECK_STR(header(&rs, "Content-Length"), "16");
    CHECK_STR(header(&rs, "Last-Modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_STR(header(&rs, "Accept-Ranges"), "bytes");
    char etag[EDDY_STATIC_ETAG_MAX + 1];
    eddy_static_make_etag(&rs.st, etag);
    CHECK_STR(header(&rs, "ETag"), etag);
    CHECK(header(&rs, "Content-Range") == NULL && header(&rs, "Allow") == NULL);
    /* The descriptor: read-only, close-on-exec, blocking. */
    int fl = fcntl(rs.fd, F_GETFL);
    CHECK((fl & O_ACCMODE) == O_RDONLY && !(fl & O_NONBLOCK));
    CHECK(fcntl(rs.fd, F_GETFD) & FD_CLOEXEC);
    char *b = body_of(&rs);
    CHECK_STR(b, "0123456789abcdef");
    free(b);
    eddy_static_response_release(&rs);
    eddy_static_response_release(&rs); /* twice is fine */

    /* Headers are cut at max. */
    rs = serve(st, "GET", "/a.txt", (hv_t){0});
    eddy_static_header_t two[2];
    CHECK_EQ(eddy_static_response_headers(&rs, two, 2), 2);
    CHECK_STR(two[0].name, "Content-Type");
    CHECK_STR(two[1].name, "Content-Length");
    eddy_static_response_release(&rs);

    expect_body(st, "/Photo.JPG", "jpg", "image/jpeg");
    expect_body(st, "/.hidden", "h", "application/octet-stream");
    expect_body(st, "/noext", "x", "application/octet-stream");
    expect_body(st, "/sub/page.css", "body{}", "text/css; charset=utf-8");
    expect_body(st, "/empty.txt", "", "text/plain; charset=utf-8");
    expect_body(st, "//a.txt", "0123456789abcdef", "text/plain; charset=utf-8");
    expect_body(st, "/./a.txt", "0123456789abcdef", "text/plain; charset=utf-8");
    expect_body(st, "/sub/../a.txt", "0123456789abcdef", "text/plain; charset=utf-8");
    expect_body(st, "/sub/./../sub/page.css", "body{}", "text/css; charset=utf-8");
    expect_status(st, "/missing.txt", 404);
    expect_status(st, "/sub/missing/x", 404);
    expect_status(st, "/a.txt/", 404); /* a file is not a directory */
    expect_status(st, "/a.txt/.", 404);
    expect_status(st, "/a.txt/x", 404);
    eddy_static_free(st);
}

static void test_index(void)
{
    eddy_static_t *st = open_root(NULL);
    const char *paths[] = {"/", "//", "/.", "/sub/..", "/sub/../"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        eddy_static_response_t rs = serve(st, "GET", paths[i], (hv_t){0});
        CHECK_EQ(rs.status, 200);
        CHECK(rs.is_index);
        CHECK_STR(header(&rs, "Content-Type"), "text/html; charset=utf-8");
        char *b = body_of(&rs);
        CHECK_STR(b, "<h1>home</h1>");
        free(b);
        eddy_static_response_release(&rs);
    }
    expect_body(st, "/sub", "sub index", "text/html; charset=utf-8");
    expect_body(st, "/sub/", "sub index", "text/html; charset=utf-8");
    expect_status(st, "/nodir", 403);
    expect_status(st, "/nodir/", 403);
    expect_status(st, "/alt/", 403);
    expect_status(st, "/idxdir/", 403); /* its index.html is a directory */
    eddy_static_free(st);

    st = open_root(" index.html ,home.htm\t");
    expect_body(st, "/alt/", "alt home", "text/html; charset=utf-8");
    expect_body(st, "/idxdir/", "idx home", "text/html; charset=utf-8");
    expect_body(st, "/", "<h1>home</h1>", "text/html; charset=utf-8");
    eddy_static_free(st);

    st = open_root(""); /* no index files: every directory is 403 */
    expect_status(st, "/", 403);
    expect_status(st, "/sub/", 403);
    expect_body(st, "/sub/index.html", "sub index", "text/html; charset=utf-8");
    eddy_static_free(st);
}

static void test_climbing(void)
{
    eddy_static_t *st = open_root(NULL);
    expect_status(st, "/..", 403);
    expect_status(st, "/../outside.txt", 403); /* what "/%2e%2e/outside.txt" decodes to */
    expect_status(st, "/sub/../../outside.txt", 403);
    expect_status(st, "/sub/../..", 403);
    expect_status(st, "/./../root/a.txt", 403);
    /* Undecoded, "%2e%2e" is only a name: here a file that exists. */
    expect_body(st, "/%2e%2e", "literal", "application/octet-stream");
    expect_status(st, "/%2e%2e/outside.txt", 404);
    /* Malformed paths. */
    static const char nul[] = "/a.txt\0.html";
    eddy_static_response_t rs = serve_n(st, "GET", nul, sizeof nul - 1, (hv_t){0});
    CHECK_EQ(rs.status, 400);
    CHECK_EQ(header_count(&rs), 0);
    expect_status(st, "a.txt", 400);
    expect_status(st, "", 400);
    rs = serve_n(st, "GET", NULL, 0, (hv_t){0});
    CHECK_EQ(rs.status, 400);
    /* Too long for any file system path, or for one name. */
    char *lng = malloc(PATH_MAX + 100);
    CHECK(lng != NULL);
    for (size_t i = 0; i < PATH_MAX + 50; i++)
        lng[i] = i % 4 == 0 ? '/' : 'x';
    lng[PATH_MAX + 50] = '\0';
    expect_status(st, lng, 404);
    lng[0] = '/';
    memset(lng + 1, 'y', 300);
    lng[301] = '\0';
    expect_status(st, lng, 404);
    free(lng);
    eddy_static_free(st);
}

/* A file we may not read is 403. Root reads anything, so as root the check
 * runs in a child that has become nobody. */
static void expect_unreadable_is_403(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", root);
    CHECK(chmod(path, 0) == 0);
    if (geteuid() != 0) {
        eddy_static_t *st = open_root(NULL);
        expect_status(st, "/a.txt", 403);
        eddy_static_free(st);
    } else {
        CHECK(chmod(base, 0755) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
            eddy_static_t *st = open_root(NULL);
            expect_status(st, "/a.txt", 403);
            expect_body(st, "/sub/page.css", "body{}", "text/css; charset=utf-8");
            eddy_static_free(st);
            _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(chmod(base, 0700) == 0);
    }
    CHECK(chmod(path, 0644) == 0);
}

static void test_symlinks(void)
{
    eddy_static_t *st = open_root(NULL);
    /* Inside: followed; the type comes from the name asked for. */
    expect_body(st, "/link_in", "0123456789abcdef", "application/octet-stream");
    expect_body(st, "/link_sub/page.css", "body{}", "text/css; charset=utf-8");
    expect_body(st, "/link_sub/", "sub index", "text/html; charset=utf-8");
    expect_body(st, "/sub/up_in", "0123456789abcdef", "application/octet-stream");
    /* Out: refused, however they get there. */
    expect_status(st, "/link_out", 403);
    expect_status(st, "/link_out_abs", 403);
    expect_status(st, "/link_dir_out/outside.txt", 403);
    expect_status(st, "/link_proc/etc/passwd", 403);
    expect_status(st, "/link_proc", 403);
    expect_status(st, "/link_loop", 403);
    expect_status(st, "/dangling", 404);
    /* An absolute symlink back inside, and a detour out and back in:
     * openat2 refuses both; the fallback judges only where the path ends,
     * which is inside (see http_static.h). */
    if (fallback) {
        expect_body(st, "/link_abs_in", "0123456789abcdef", "application/octet-stream");
        expect_body(st, "/link_dir_out/root/a.txt", "0123456789abcdef",
                    "text/plain; charset=utf-8");
    } else {
        expect_status(st, "/link_abs_in", 403);
        expect_status(st, "/link_dir_out/root/a.txt", 403);
    }
    /* Only regular files: a FIFO must not block us, a socket cannot open. */
    expect_status(st, "/fifo", 403);
    expect_status(st, "/sock", 403);
    expect_unreadable_is_403();
    eddy_static_free(st);
}

static void test_methods(void)
{
    eddy_static_t *st = open_root(NULL);
    const char *not_allowed[] = {"POST", "PUT", "DELETE", "OPTIONS", "get", "HEADX", ""};
    for (size_t i = 0; i < sizeof not_allowed / sizeof not_allowed[0]; i++) {
        eddy_static_response_t rs = serve(st, not_allowed[i], "/a.txt", (hv_t){0});
        CHECK_EQ(rs.status, 405);
        CHECK_EQ(rs.fd, -1);
        CHECK_EQ(header_count(&rs), 1);
        CHECK_STR(header(&rs, "Allow"), "GET, HEAD");
    }
    /* 405 without looking at the path. */
    eddy_static_response_t rs = serve(st, "POST", "/../x", (hv_t){0});
    CHECK_EQ(rs.status, 405);
    /* HEAD: GET's headers, no body, Range ignored. */
    eddy_static_response_t get = serve(st, "GET", "/a.txt", (hv_t){0});
    eddy_static_response_t head = serve(st, "HEAD", "/a.txt", (hv_t){.range = "bytes=0-1"});
    CHECK_EQ(head.status, 200);
    CHECK_EQ(head.fd, -1);
    CHECK_EQ(head.length, 0);
    CHECK_EQ(header_count(&head), header_count(&get));
    eddy_static_header_t a[EDDY_STATIC_MAX_HEADERS], b[EDDY_STATIC_MAX_HEADERS];
    size_t n = eddy_static_response_headers(&get, a, EDDY_STATIC_MAX_HEADERS);
    eddy_static_response_headers(&head, b, EDDY_STATIC_MAX_HEADERS);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(a[i].name, b[i].name);
        CHECK_STR(a[i].value, b[i].value);
    }
    eddy_static_response_release(&get);
    head = serve(st, "HEAD", "/", (hv_t){0});
    CHECK_EQ(head.status, 200);
    CHECK(head.is_index && head.fd == -1);
    CHECK_STR(header(&head, "Content-Length"), "13");
    head = serve(st, "HEAD", "/missing", (hv_t){0});
    CHECK_EQ(head.status, 404);
    eddy_static_free(st);
}

/* ---- ranges -------------------------------------------------------------------------------- */

static void expect_range(const eddy_static_t *st, const char *path, const char *range, int status,
                         const char *content_range, const char *body)
{
    eddy_static_response_t rs = serve(st, "GET", path, (hv_t){.range = range});
    if (rs.status != status) fprintf(stderr, "Range: %s → %d\n", range, rs.status);
    CHECK_EQ(rs.status, status);
    const char *cr = header(&rs, "Content-Range");
    if (content_range)
        CHECK(cr && strcmp(cr, content_range) == 0);
    else
        CHECK(cr == NULL);
    if (body) {
        char *b = body_of(&rs);
        CHECK_STR(b, body);
        char len[24];
        snprintf(len, sizeof len, "%zu", strlen(body));
        CHECK_STR(header(&rs, "Content-Length"), len);
        free(b);
    } else {
        CHECK_EQ(rs.fd, -1);
        CHECK_EQ(rs.length, 0);
        CHECK(header(&rs, "Content-Length") == NULL);
    }
    eddy_static_response_release(&rs);
}

static void test_ranges(void)
{
    eddy_static_t *st = open_root(NULL);
    const char *all = "0123456789abcdef";
    expect_range(st, "/a.txt", "bytes=0-4", 206, "bytes 0-4/16", "01234");
    expect_range(st, "/a.txt", "bytes=10-", 206, "bytes 10-15/16", "abcdef");
    expect_range(st, "/a.txt", "bytes=-3", 206, "bytes 13-15/16", "def");
    expect_range(st, "/a.txt", "bytes=-100", 206, "bytes 0-15/16", all);
    expect_range(st, "/a.txt", "bytes=5-100", 206, "bytes 5-15/16", "56789abcdef");
    expect_range(st, "/a.txt", "bytes=15-15", 206, "bytes 15-15/16", "f");
    expect_range(st, "/a.txt", "bytes=0-0", 206, "bytes 0-0/16", "0");
    expect_range(st, "/a.txt", "BYTES=1-2", 206, "bytes 1-2/16", "12");
    expect_range(st, "/a.txt", "bytes=, 2-3 ,", 206, "bytes 2-3/16", "23");
    expect_range(st, "/a.txt", "bytes=0-99999999999999999999999", 206, "bytes 0-15/16", all);
    expect_range(st, "/a.txt", "bytes=16-", 416, "bytes */16", NULL);
    expect_range(st, "/a.txt", "bytes=16-20", 416, "bytes */16", NULL);
    expect_range(st, "/a.txt", "bytes=-0", 416, "bytes */16", NULL);
    expect_range(st, "/a.txt", "bytes=99999999999999999999999-", 416, "bytes */16", NULL);
    /* Ignored: malformed, another unit, several ranges. */
    const char *ignored[] = {
        "bytes=5-2",   "bytes=0-1,3-4", "bytes=0-1, -2", "items=0-4", "bytes=abc",
        "bytes=0-4 x", "bytes = 0-4",   "bytes=",        "bytes=-",   "bytes=--1",
        "bytes=1",     "bytes=0-1;x",   "bytes 0-4",     ""};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        expect_range(st, "/a.txt", ignored[i], 200, NULL, all);
    /* An empty file: no first byte to start from; a suffix is the whole. */
    expect_range(st, "/empty.txt", "bytes=0-", 416, "bytes */0", NULL);
    expect_range(st, "/empty.txt", "bytes=-5", 200, NULL, "");
    /* 416 sends only Content-Range. */
    eddy_static_response_t rs = serve(st, "GET", "/a.txt", (hv_t){.range = "bytes=20-"});
    CHECK_EQ(header_count(&rs), 1);
    /* 206 sends Content-Type and the validators too. */
    rs = serve(st, "GET", "/a.txt", (hv_t){.range = "bytes=1-1"});
    CHECK_EQ(header_count(&rs), 6);
    CHECK_STR(header(&rs, "Content-Type"), "text/plain; charset=utf-8");
    eddy_static_response_release(&rs);
    eddy_static_free(st);

    /* The parser alone. */
    uint64_t start = 7, length = 7;
    CHECK_EQ(eddy_static_parse_range(S_("bytes=0-4"), 3, &start, &length),
             EDDY_STATIC_RANGE_PARTIAL);
    CHECK(start == 0 && length == 3);
    CHECK_EQ(eddy_static_parse_range(S_(" bytes=2- "), UINT64_MAX, &start, &length),
             EDDY_STATIC_RANGE_PARTIAL);
    CHECK(start == 2 && length == UINT64_MAX - 2);
    CHECK_EQ(eddy_static_parse_range(NULL, 0, 10, &start, &length), EDDY_STATIC_RANGE_NONE);
}

/* ---- validators ---------------------------------------------------------------------------- */

static void expect_cond(const eddy_static_t *st, const char *method, hv_t h, int status)
{
    eddy_static_response_t rs = serve(st, method, "/a.txt", h);
    if (rs.status != status)
        fprintf(stderr, "%s inm=%s ims=%s im=%s ius=%s range=%s if-range=%s → %d\n", method, h.inm,
                h.ims, h.im, h.ius, h.range, h.ifr, rs.status);
    CHECK_EQ(rs.status, status);
    if (status == 304) {
        CHECK_EQ(rs.fd, -1);
        CHECK_EQ(header_count(&rs), 2);
        CHECK(header(&rs, "ETag") && header(&rs, "Last-Modified"));
    }
    if (status == 412) {
        CHECK_EQ(rs.fd, -1);
        CHECK_EQ(header_count(&rs), 0);
    }
    eddy_static_response_release(&rs);
}

static void test_conditionals(void)
{
    eddy_static_t *st = open_root(NULL);
    eddy_static_response_t rs = serve(st, "GET", "/a.txt", (hv_t){0});
    char etag[EDDY_STATIC_ETAG_MAX + 1], weak[EDDY_STATIC_ETAG_MAX + 3], list[200];
    snprintf(etag, sizeof etag, "%s", rs.etag);
    snprintf(weak, sizeof weak, "W/%s", etag);
    eddy_static_response_release(&rs);
    const char *lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *before = "Sun, 06 Nov 1994 08:49:36 GMT";
    const char *future = "Fri, 01 Jan 2100 00:00:00 GMT";

    /* If-None-Match: weak comparison, lists, "*". */
    expect_cond(st, "GET", (hv_t){.inm = etag}, 304);
    expect_cond(st, "GET", (hv_t){.inm = weak}, 304);
    snprintf(list, sizeof list, "\"x\", W/\"y\",%s ,", etag);
    expect_cond(st, "GET", (hv_t){.inm = list}, 304);
    expect_cond(st, "GET", (hv_t){.inm = "*"}, 304);
    expect_cond(st, "HEAD", (hv_t){.inm = etag}, 304);
    expect_cond(st, "GET", (hv_t){.inm = "\"other\""}, 200);
    /* ... and it takes precedence over If-Modified-Since. */
    expect_cond(st, "GET", (hv_t){.inm = "\"other\"", .ims = future}, 200);
    /* A malformed list is ignored: then the date decides. */
    expect_cond(st, "GET", (hv_t){.inm = "abc", .ims = future}, 304);
    expect_cond(st, "GET", (hv_t){.inm = "", .ims = lm}, 304);

    /* If-Modified-Since in each format. */
    expect_cond(st, "GET", (hv_t){.ims = lm}, 304);
    expect_cond(st, "GET", (hv_t){.ims = "Sunday, 06-Nov-94 08:49:37 GMT"}, 304);
    expect_cond(st, "GET", (hv_t){.ims = "Sun Nov  6 08:49:37 1994"}, 304);
    expect_cond(st, "GET", (hv_t){.ims = future}, 304);
    expect_cond(st, "GET", (hv_t){.ims = before}, 200);
    expect_cond(st, "GET", (hv_t){.ims = "yesterday"}, 200);

    /* 304 comes before the Range. */
    expect_cond(st, "GET", (hv_t){.inm = etag, .range = "bytes=0-1"}, 304);

    /* If-Match: strong comparison; If-Unmodified-Since when it is absent. */
    expect_cond(st, "GET", (hv_t){.im = etag}, 200);
    expect_cond(st, "GET", (hv_t){.im = "*"}, 200);
    expect_cond(st, "GET", (hv_t){.im = weak}, 412);
    expect_cond(st, "GET", (hv_t){.im = "\"other\""}, 412);
    expect_cond(st, "GET", (hv_t){.im = "garbage"}, 412);
    expect_cond(st, "GET", (hv_t){.ius = before}, 412);
    expect_cond(st, "GET", (hv_t){.ius = lm}, 200);
    expect_cond(st, "GET", (hv_t){.ius = "not a date"}, 200);
    expect_cond(st, "GET", (hv_t){.im = etag, .ius = before}, 200);
    expect_cond(st, "HEAD", (hv_t){.im = "\"other\""}, 412);
    /* 412 before 304. */
    expect_cond(st, "GET", (hv_t){.im = "\"other\"", .inm = etag}, 412);

    /* If-Range. */
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = etag}, 206);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = "\"other\""}, 200);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = weak}, 200);
    snprintf(list, sizeof list, "%s, \"x\"", etag);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = list}, 200);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = lm}, 206);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = before}, 200);
    expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = "garbage"}, 200);
    expect_cond(st, "GET", (hv_t){.range = "bytes=99-", .ifr = "\"other\""}, 200);
    expect_cond(st, "GET", (hv_t){.range = "bytes=99-", .ifr = etag}, 416);

    /* A file changed in this very second: its date is no strong validator. */
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", root);
    CHECK(utimensat(AT_FDCWD, path, NULL, 0) == 0);
    rs = serve(st, "GET", "/a.txt", (hv_t){0});
    char now_lm[EDDY_HTTP_DATE_LEN + 1], now_etag[EDDY_STATIC_ETAG_MAX + 1];
    snprintf(now_lm, sizeof now_lm, "%s", rs.last_modified);
    snprintf(now_etag, sizeof now_etag, "%s", rs.etag);
    eddy_static_response_release(&rs);
    CHECK(strcmp(now_etag, etag) != 0); /* a new mtime is a new ETag */
    time_t t;
    CHECK_EQ(eddy_static_parse_date(now_lm, strlen(now_lm), &t), 0);
    if (t >= time(NULL)) /* still the same second: almost always */
        expect_cond(st, "GET", (hv_t){.range = "bytes=0-1", .ifr = now_lm}, 200);
    expect_cond(st, "GET", (hv_t){.inm = etag}, 200); /* the old ETag no longer matches */
    struct timespec ts[2] = {{RFC_TIME, 0}, {RFC_TIME, 0}};
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
    expect_cond(st, "GET", (hv_t){.inm = etag}, 304);
    eddy_static_free(st);
}

static void test_etag(void)
{
    struct stat a = {0};
    a.st_size = 16;
    a.st_ino = 42;
    a.st_dev = 7;
    a.st_mtim.tv_sec = RFC_TIME;
    a.st_mtim.tv_nsec = 5;
    char e1[EDDY_STATIC_ETAG_MAX + 1], e2[EDDY_STATIC_ETAG_MAX + 1];
    int n = eddy_static_make_etag(&a, e1);
    CHECK_EQ(n, (int)strlen(e1));
    CHECK(e1[0] == '"' && e1[n - 1] == '"' && strchr(e1, '-'));
    CHECK(strncmp(e1, "\"ae1b981bc490a05-", 17) == 0); /* 784111777000000005 in hex */
    struct stat b = a;
    b.st_ino = 43; /* replaced by a rename */
    eddy_static_make_etag(&b, e2);
    CHECK(strcmp(e1, e2) != 0);
    b = a;
    b.st_size = 17;
    eddy_static_make_etag(&b, e2);
    CHECK(strcmp(e1, e2) != 0);
    b = a;
    b.st_mtim.tv_nsec = 6;
    eddy_static_make_etag(&b, e2);
    CHECK(strcmp(e1, e2) != 0);
    /* The longest fits. */
    b.st_size = -1;
    b.st_mtim.tv_sec = -1;
    b.st_mtim.tv_nsec = 999999999;
    CHECK(eddy_static_make_etag(&b, e2) <= EDDY_STATIC_ETAG_MAX);

    /* Matching lists. */
    const char *tag = "\"abc\"";
    struct {
        const char *list;
        int weak, strong;
    } cases[] = {
        {"\"abc\"", 1, 1},
        {"W/\"abc\"", 1, 0},
        {"*", 1, 1},
        {" * ", 1, 1},
        {"\"x\", \"abc\"", 1, 1},
        {",,\"x\" ,, W/\"abc\" ,", 1, 0},
        {"\"abcd\"", 0, 0},
        {"\"ab\"", 0, 0},
        {"\"\"", 0, 0},
        {"\"x\"", 0, 0},
        {"abc", -EINVAL, -EINVAL},
        {"\"abc", -EINVAL, -EINVAL},
        {"\"abc\" \"x\"", -EINVAL, -EINVAL},
        {"\"a bc\"", -EINVAL, -EINVAL},
        {"w/\"abc\"", -EINVAL, -EINVAL},
        {"*, \"abc\"", -EINVAL, -EINVAL},
        {"", -EINVAL, -EINVAL},
        {" , ", -EINVAL, -EINVAL},
        {"\"x\", abc", -EINVAL, -EINVAL}, /* malformed even after a match would be found */
        {"\"abc\", abc", -EINVAL, -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w =
            eddy_static_etag_match(cases[i].list, strlen(cases[i].list), tag, strlen(tag), false);
        int s =
            eddy_static_etag_match(cases[i].list, strlen(cases[i].list), tag, strlen(tag), true);
        if (w != cases[i].weak || s != cases[i].strong)
            fprintf(stderr, "list %s: weak %d strong %d\n", cases[i].list, w, s);
        CHECK_EQ(w, cases[i].weak);
        CHECK_EQ(s, cases[i].strong);
    }
    /* Our own tag must be one entity tag. */
    CHECK_EQ(eddy_static_etag_match("*", 1, "abc", 3, false), 1);
    CHECK_EQ(eddy_static_etag_match("\"abc\"", 5, "abc", 3, false), -EINVAL);
    CHECK_EQ(eddy_static_etag_match("\"abc\"", 5, "W/\"abc\"", 7, false), 1);
    CHECK_EQ(eddy_static_etag_match("\"abc\"", 5, "W/\"abc\"", 7, true), 0);
    CHECK_EQ(eddy_static_etag_match(NULL, 0, tag, 5, false), -EINVAL);
}

/* ---- dates --------------------------------------------------------------------------------- */

static int64_t date(const char *s)
{
    time_t t;
    int rc = eddy_static_parse_date(s, strlen(s), &t);
    return rc == 0 ? (int64_t)t : INT64_MIN;
}

static void test_dates(void)
{
    CHECK_EQ(date("Sun, 06 Nov 1994 08:49:37 GMT"), RFC_TIME);
    CHECK_EQ(date("Sunday, 06-Nov-94 08:49:37 GMT"), RFC_TIME);
    CHECK_EQ(date("Sun Nov  6 08:49:37 1994"), RFC_TIME);
    CHECK_EQ(date("Sun Nov 06 08:49:37 1994"), RFC_TIME);
    CHECK_EQ(date("Wed Nov 16 08:49:37 1994"), RFC_TIME + 10 * 86400);
    CHECK_EQ(date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_EQ(date("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
    CHECK_EQ(date("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
    CHECK_EQ(date("Sat, 01 Jan 0000 00:00:00 GMT"), -62167219200ll);
    CHECK_EQ(date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799ll);
    CHECK_EQ(date("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800); /* a leap second */
    /* The weekday is checked for form, not for truth (as most servers). */
    CHECK_EQ(date("Mon, 06 Nov 1994 08:49:37 GMT"), RFC_TIME);
    const char *bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Feb 2000 08:49:37 GMT",
        "Sun, 29 Feb 2001 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sux, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sundae, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun  Nov 6 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (date(bad[i]) != INT64_MIN) fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CHECK_EQ(date(bad[i]), INT64_MIN);
    }
    time_t t;
    CHECK_EQ(eddy_static_parse_date(NULL, 0, &t), -EINVAL);
    /* RFC 850's two-digit year: never more than 50 years ahead. */
    time_t now = time(NULL);
    struct tm tm;
    CHECK(gmtime_r(&now, &tm) != NULL);
    int year = tm.tm_year + 1900;
    for (int ahead = -49; ahead <= 50; ahead += 7) {
        int y = year + ahead;
        char s[64];
        snprintf(s, sizeof s, "Monday, 01-Mar-%02d 00:00:00 GMT", y % 100);
        struct tm want = {.tm_year = y - 1900, .tm_mon = 2, .tm_mday = 1};
        CHECK_EQ(date(s), (int64_t)timegm(&want));
    }
    /* Everything eddy_http_date writes reads back. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        time_t v = (time_t)(x % 253402300800ull);
        char s[EDDY_HTTP_DATE_LEN + 1];
        eddy_http_date(v, s);
        CHECK_EQ(date(s), (int64_t)v);
    }
}

static void test_mime(void)
{
    struct {
        const char *name, *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a.HTM", "text/html; charset=utf-8"},
        {"s.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"d.json", "application/json"},
        {"r.txt", "text/plain; charset=utf-8"},
        {"f.xml", "text/xml; charset=utf-8"},
        {"i.svg", "image/svg+xml"},
        {"i.png", "image/png"},
        {"i.jpg", "image/jpeg"},
        {"i.JPEG", "image/jpeg"},
        {"i.gif", "image/gif"},
        {"i.webp", "image/webp"},
        {"favicon.ico", "image/x-icon"},
        {"m.wasm", "application/wasm"},
        {"d.pdf", "application/pdf"},
        {"a.zip", "application/zip"},
        {"a.tar.gz", "application/gzip"},
        {"v.mp4", "video/mp4"},
        {"v.webm", "video/webm"},
        {"s.mp3", "audio/mpeg"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"f.ttf", "font/ttf"},
        {"f.otf", "font/otf"},
        {"t.csv", "text/csv; charset=utf-8"},
        {"README.md", "text/markdown; charset=utf-8"},
        {"/dir.d/file", "application/octet-stream"},
        {"/dir/.profile", "application/octet-stream"},
        {"/dir/..html", "text/html; charset=utf-8"},
        {"trailing.", "application/octet-stream"},
        {"a.exe", "application/octet-stream"},
        {"a.htmlx", "application/octet-stream"},
        {"a.ht", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(eddy_static_mime_type(cases[i].name, strlen(cases[i].name)), cases[i].type);
    CHECK_STR(eddy_static_mime_type(NULL, 0), "application/octet-stream");
    CHECK_STR(eddy_static_mime_type("a.html.bak", 6), "text/html; charset=utf-8"); /* len counts */
}

static void test_options(void)
{
    eddy_static_options_t o;
    eddy_static_options_init(&o);
    CHECK(o.document_root == NULL && o.index_files == NULL);
    eddy_static_t *st = NULL;
    CHECK_EQ(eddy_static_new(&st, &o), -EDDY_EOPTION);
    CHECK_EQ(eddy_static_new(&st, NULL), -EDDY_EOPTION);
    o.document_root = "";
    CHECK_EQ(eddy_static_new(&st, &o), -EDDY_EOPTION);
    o.document_root = "/nonexistent-eddy-root";
    CHECK_EQ(eddy_static_new(&st, &o), -ENOENT);
    char file[160];
    snprintf(file, sizeof file, "%s/a.txt", root);
    o.document_root = file;
    CHECK_EQ(eddy_static_new(&st, &o), -ENOTDIR);
    o.document_root = root;
    const char *bad[] = {"a/b", "..", ".", "a,,b", "a,", ",a", " , ", "a, ,b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.index_files = bad[i];
        CHECK_EQ(eddy_static_new(&st, &o), -EDDY_EOPTION);
    }
    char many[200] = "";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",x" : "x");
    o.index_files = many;
    CHECK_EQ(eddy_static_new(&st, &o), -EDDY_EOPTION);
    many[strlen(many) - 2] = '\0'; /* 16 */
    CHECK_EQ(eddy_static_new(&st, &o), 0);
    eddy_static_free(st);
    char lng[300];
    memset(lng, 'n', 256);
    lng[256] = '\0';
    o.index_files = lng;
    CHECK_EQ(eddy_static_new(&st, &o), -EDDY_EOPTION);
    lng[255] = '\0';
    CHECK_EQ(eddy_static_new(&st, &o), 0);
    eddy_static_free(st);
    eddy_static_free(NULL);
    /* The root may be given through a symlink and with a trailing slash. */
    char via[160];
    snprintf(via, sizeof via, "%s/link_sub/", root);
    o.document_root = via;
    o.index_files = NULL;
    CHECK_EQ(eddy_static_new(&st, &o), 0);
    expect_body(st, "/page.css", "body{}", "text/css; charset=utf-8");
    expect_status(st, "/../a.txt", 403);
    expect_status(st, "/up_in", 403); /* ../a.txt is outside this root */
    eddy_static_free(st);
}

/* ---- both resolvers ------------------------------------------------------------------------ */

static void run_resolver_tests(void)
{
    RUN(test_files);
    RUN(test_index);
    RUN(test_climbing);
    RUN(test_symlinks);
    RUN(test_methods);
    RUN(test_ranges);
    RUN(test_conditionals);
    RUN(test_options);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

int main(void)
{
    make_tree();
    int fds = open_fds();
    RUN(test_etag);
    RUN(test_dates);
    RUN(test_mime);
    run_resolver_tests();
    printf("-- again with the fallback resolver (no openat2)\n");
    fallback = true;
    eddy__static_force_fallback(true);
    run_resolver_tests();
    eddy__static_force_fallback(false);
    CHECK_EQ(open_fds(), fds); /* every response released, every root freed */
    remove_tree();
    return 0;
}
