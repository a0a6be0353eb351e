#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "http_app.h"
#include "test.h"
#include "testutil.h"

/* ---- the server side (runs in the forked processes) ------------------------------ */

static volatile uint64_t *calls;
static eddy_http_router_t *router;
static char file_path[64];

static void text(eddy_http_res_t *res, const char *s)
{
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, s, strlen(s));
}

static void hello(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    text(res, "Hello, World!");
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_fmt(sbuf_t *b, const char *label, eddy_http_str_t v)
{
    sb_add(b, label, strlen(label));
    sb_add(b, "=", 1);
    if (v.ptr)
        sb_add(b, v.ptr, v.len);
    else
        sb_add(b, "(none)", 6);
    sb_add(b, "\n", 1);
}

static void info(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    sbuf_t b = {0};
    sb_fmt(&b, "method", eddy_http_method(req));
    sb_fmt(&b, "path", eddy_http_path(req));
    sb_fmt(&b, "query", eddy_http_query_string(req));
    eddy_http_str_t name, value;
    for (size_t i = 0; eddy_http_query_at(req, i, &name, &value); i++) {
        char label[256];
        snprintf(label, sizeof label, "q.%.*s", (int)name.len, name.ptr);
        sb_fmt(&b, label, value);
    }
    char line[128];
    int n = snprintf(line, sizeof line, "version=%d\nkeepalive=%d\n", eddy_http_version(req),
                     eddy_http_keep_alive(req));
    sb_add(&b, line, (size_t)n);
    sb_fmt(&b, "x-test", eddy_http_header(req, "x-TEST"));
    sb_fmt(&b, "cookie.sid", eddy_http_cookie(req, "sid"));
    sb_fmt(&b, "cookie.theme", eddy_http_cookie(req, "theme"));
    for (size_t i = 0; eddy_http_form_at(req, i, &name, &value); i++) {
        char label[256];
        snprintf(label, sizeof label, "form.%.*s", (int)name.len, name.ptr);
        sb_fmt(&b, label, value);
    }
    eddy_http_str_t body = eddy_http_body(req);
    n = snprintf(line, sizeof line, "body_len=%zu\nbody=", body.len);
    sb_add(&b, line, (size_t)n);
    sb_add(&b, body.ptr, body.len);
    eddy_http_set_header(res, "Content-Type", "text/plain; charset=utf-8");
    eddy_http_end(res, b.p, b.len);
    free(b.p);
}

static size_t query_num(eddy_http_req_t *req, const char *name, size_t def)
{
    eddy_http_str_t v = eddy_http_query(req, name);
    return v.ptr ? (size_t)strtoull(v.ptr, NULL, 10) : def;
}

static void big(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    size_t n = query_num(req, "n", 100000);
    char *p = malloc(n + 1);
    CHECK(p);
    for (size_t i = 0; i < n; i++)
        p[i] = "abcdefghijklmnopqrstuvwxyz\n"[i % 27];
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, p, n);
    free(p);
}

static void typed(eddy_http_res_t *res, const char *type)
{
    char body[1024];
    memset(body, 'j', sizeof body);
    eddy_http_set_header(res, "Content-Type", type);
    eddy_http_end(res, body, sizeof body);
}

static void json(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    typed(res, "application/json");
}

static void png(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    typed(res, "image/png");
}

static void stream(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    size_t n = query_num(req, "n", 10);
    eddy_http_set_header(res, "Content-Type", "text/plain");
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        char piece[64];
        int k = snprintf(piece, sizeof piece, "piece %zu\n", i);
        sum += (unsigned)i;
        CHECK_EQ(eddy_http_write(res, piece, (size_t)k), 0);
    }
    char s[32];
    snprintf(s, sizeof s, "%u", sum);
    eddy_http_add_trailer(res, "X-Sum", s);
    eddy_http_end(res, NULL, 0);
}

static void stream_length(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_set_header(res, "Content-Length", "10");
    CHECK_EQ(eddy_http_write(res, "01234", 5), 0);
    CHECK_EQ(eddy_http_write(res, "567890", 6), -EINVAL); /* beyond the length: refused */
    eddy_http_end(res, "56789", 5);
}

static void late_fire(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_http_res_t *res = ud;
    eddy_http_req_t *req = eddy_http_request(res);
    char body[512];
    eddy_http_str_t path = eddy_http_path(req);
    snprintf(body, sizeof body, "late %.*s", (int)path.len, path.ptr);
    text(res, body); /* fails harmlessly (and frees) if the client left */
}

static void late(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    size_t ms = query_num(req, "ms", 100);
    eddy_http_retain(res);
    eddy_timer_after(eddy_server_loop(eddy_http_server(req)), ms, late_fire, res);
}

/* As /late/, but the session is resumed at once: the requests pipelined
 * behind it reach the HTTP layer while it is pending, as they do in PROCESS
 * mode, and wait in its queue. */
static eddy_server_t *app_server;

static void resume_later(eddy_loop_t *loop, void *ud)
{
    eddy_server_resume(app_server, (eddy_session_t)(uintptr_t)ud);
}

static void late_resume(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    late(req, res, ud);
    /* After the HTTP layer has paused the session, once this handler returns. */
    app_server = eddy_http_server(req);
    eddy_defer(eddy_server_loop(app_server), resume_later,
               (void *)(uintptr_t)eddy_http_session(req));
}

static void cookie(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_cookie_t a = {.path = "/", .http_only = true, .max_age = 3600, .same_site = "Lax"};
    CHECK_EQ(eddy_http_set_cookie(res, "sid", "abc123", &a), 0);
    CHECK_EQ(eddy_http_set_cookie(res, "theme", "dark", NULL), 0);
    CHECK_EQ(eddy_http_set_cookie(res, "bad", "a;b", NULL), -EINVAL);
    CHECK_EQ(eddy_http_set_header(res, "X-Bad", "a\r\nInjected: 1"), -EINVAL);
    CHECK_EQ(eddy_http_set_header(res, "Bad Name", "x"), -EINVAL);
    text(res, "cookies set");
}

static void status(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_str_t p = eddy_http_path(req);
    int st = atoi(p.ptr + strlen("/status/"));
    CHECK_EQ(eddy_http_set_status(res, st), 0);
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "this body is long enough to be compressed", 41);
}

static void file(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    eddy_http_set_header(res, "Content-Type", "application/octet-stream");
    /* Refused before anything is done: the response is still the handler's. */
    CHECK_EQ(eddy_http_sendfile(res, -1, 0, 0), -EBADF);
    CHECK_EQ(eddy_http_sendfile(res, fd, -1, 10), -EINVAL);
    CHECK_EQ(eddy_http_sendfile(res, fd, 0, 0), 0);
    close(fd);
}

static void close_route(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Connection", "close");
    text(res, "bye");
}

static void forget(eddy_http_req_t *req, eddy_http_res_t *res, void *ud) {}

/* The worker dies holding the request (PROCESS mode answers 503 for it). */
static void die(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    kill(getpid(), SIGKILL);
}

static void encoded(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Content-Encoding", "identity");
    big(req, res, ud);
}

static void static_route(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    text(res, ud);
}

/* This process's peak resident memory (VmHWM), in KiB. */
static long peak_kib(void)
{
    char *status = test_read_file("/proc/self/status", NULL);
    CHECK(status);
    const char *p = strstr(status, "VmHWM:");
    long kib = p ? strtol(p + 6, NULL, 10) : -1;
    free(status);
    return kib;
}

static void stats(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_stats_t st;
    eddy_http_stats(eddy_http_server(req), &st);
    char body[256];
    snprintf(body, sizeof body,
             "requests=%llu 2xx=%llu 4xx=%llu 5xx=%llu rejected=%llu static=%llu peak_kib=%ld\n",
             (unsigned long long)st.requests, (unsigned long long)st.responses[2],
             (unsigned long long)st.responses[4], (unsigned long long)st.responses[5],
             (unsigned long long)st.rejected, (unsigned long long)st.static_files, peak_kib());
    text(res, body);
}

/* ---- files: uploads and a mounted static directory ---- */

static uint64_t fnv1a(const char *path, bool *ok)
{
    uint64_t h = 0xcbf29ce484222325ull;
    FILE *f = fopen(path, "rb");
    *ok = f != NULL;
    if (!f) return 0;
    for (int c; (c = getc(f)) != EOF;)
        h = (h ^ (unsigned char)c) * 0x100000001b3ull;
    fclose(f);
    return h;
}

/* Every form field and file of the request, one per line. */
static void upload(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    sbuf_t b = {0};
    eddy_http_str_t name, value;
    for (size_t i = 0; eddy_http_form_at(req, i, &name, &value); i++) {
        char label[256];
        snprintf(label, sizeof label, "form.%.*s", (int)name.len, name.ptr);
        sb_fmt(&b, label, value);
    }
    size_t n = eddy_http_file_count(req);
    for (size_t i = 0; i < n; i++) {
        const eddy_http_file_t *f = eddy_http_file_at(req, i);
        CHECK(f);
        CHECK(eddy_http_file(req, f->name.ptr) != NULL);
        bool ok;
        uint64_t sum = fnv1a(f->tmp_path, &ok);
        struct stat sb;
        CHECK_EQ(stat(f->tmp_path, &sb), 0);
        CHECK_EQ((uint64_t)sb.st_size, f->size);
        char line[8192];
        int k = snprintf(
            line, sizeof line, "file.%s filename=%s type=%s size=%llu sum=%016llx mode=%o tmp=%s\n",
            f->name.ptr, f->filename.ptr, f->content_type.ptr ? f->content_type.ptr : "(none)",
            (unsigned long long)f->size, (unsigned long long)sum, (unsigned)(sb.st_mode & 0777),
            f->tmp_path);
        sb_add(&b, line, (size_t)k);
    }
    CHECK(eddy_http_file_at(req, n) == NULL);
    CHECK(eddy_http_file(req, "no such field") == NULL);
    char line[64];
    int k = snprintf(line, sizeof line, "files=%zu\n", n);
    sb_add(&b, line, (size_t)k);
    eddy_http_set_header(res, "Content-Type", "text/plain; charset=utf-8");
    eddy_http_end(res, b.p, b.len);
    free(b.p);
}

/* /upload-keep?dest=PATH: the first file is moved to PATH. */
static void upload_keep(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_str_t dest = eddy_http_query(req, "dest");
    CHECK(dest.ptr);
    CHECK_EQ(eddy_http_file_move(req, 1000, dest.ptr), -EINVAL);
    int rc = eddy_http_file_move(req, 0, dest.ptr);
    if (rc == 0) {
        CHECK_STR(eddy_http_file_at(req, 0)->tmp_path, "");
        CHECK_EQ(eddy_http_file_move(req, 0, dest.ptr), -EDDY_ESTATE);
    }
    char body[128];
    snprintf(body, sizeof body, "move=%d\n", rc);
    text(res, body);
}

/* /upload-hold?ms=M: answered after M ms (the client may be gone by then). */
static void upload_hold(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    late(req, res, ud);
}

static eddy_static_t *mount_static;

/* /mount/...: the document root served by a handler. */
static void mount(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    if (!mount_static) {
        text(res, "no document root");
        return;
    }
    eddy_http_str_t p = eddy_http_path(req);
    eddy_http_set_header(res, "Cache-Control", "max-age=60");
    int rc = eddy_http_serve_static(req, res, mount_static, p.ptr + strlen("/mount"));
    CHECK(rc >= 200);
}

/* /mount-bare/X: the helper given a path without its leading '/'. */
static void mount_bare(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_str_t p = eddy_http_path(req);
    CHECK(mount_static);
    CHECK_EQ(eddy_http_serve_static(req, NULL, mount_static, "x"), -EINVAL);
    int rc = eddy_http_serve_static(req, res, mount_static, p.ptr + strlen("/mount-bare/"));
    CHECK(rc >= 200);
}

static void counted(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    eddy_http_router_handler(req, res, ud);
}

static void build_router(void)
{
    struct {
        const char *path;
        eddy_http_match_t match;
        eddy_http_handler_fn fn;
        void *ud;
    } routes[] = {
        {"/hello", EDDY_HTTP_EXACT, hello, NULL},
        {"/info", EDDY_HTTP_EXACT, info, NULL},
        {"/big", EDDY_HTTP_EXACT, big, NULL},
        {"/json", EDDY_HTTP_EXACT, json, NULL},
        {"/png", EDDY_HTTP_EXACT, png, NULL},
        {"/stream", EDDY_HTTP_EXACT, stream, NULL},
        {"/stream-length", EDDY_HTTP_EXACT, stream_length, NULL},
        {"/late/", EDDY_HTTP_PREFIX, late, NULL},
        {"/late-resume/", EDDY_HTTP_PREFIX, late_resume, NULL},
        {"/cookie", EDDY_HTTP_EXACT, cookie, NULL},
        {"/status/", EDDY_HTTP_PREFIX, status, NULL},
        {"/file", EDDY_HTTP_EXACT, file, NULL},
        {"/close", EDDY_HTTP_EXACT, close_route, NULL},
        {"/forget", EDDY_HTTP_EXACT, forget, NULL},
        {"/die", EDDY_HTTP_EXACT, die, NULL},
        {"/encoded", EDDY_HTTP_EXACT, encoded, NULL},
        {"/stats", EDDY_HTTP_EXACT, stats, NULL},
        {"/static/", EDDY_HTTP_PREFIX, static_route, "static"},
        {"/static/deep/", EDDY_HTTP_PREFIX, static_route, "deep"},
        {"/upload", EDDY_HTTP_EXACT, upload, NULL},
        {"/upload-keep", EDDY_HTTP_EXACT, upload_keep, NULL},
        {"/upload-hold/", EDDY_HTTP_PREFIX, upload_hold, NULL},
        {"/mount/", EDDY_HTTP_PREFIX, mount, NULL},
        {"/mount-bare/", EDDY_HTTP_PREFIX, mount_bare, NULL},
    };
    CHECK_EQ(eddy_http_router_new(&router), 0);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        CHECK_EQ(
            eddy_http_route(router, routes[i].path, routes[i].match, routes[i].fn, routes[i].ud),
            0);
    CHECK_EQ(eddy_http_route(router, "/hello", EDDY_HTTP_EXACT, hello, NULL), -EEXIST);
}

static void make_file(void)
{
    snprintf(file_path, sizeof file_path, "/tmp/eddy-http-file-%d", (int)getpid());
    int fd = open(file_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    char block[7000];
    for (int i = 0; i < 10; i++) {
        memset(block, 'a' + i, sizeof block);
        CHECK_EQ(write(fd, block, sizeof block), (ssize_t)sizeof block);
    }
    close(fd);
}

static pid_t running_pid, test_pid;

/* A failed CHECK exits the test: take the server down with it. */
static void kill_running(void)
{
    if (running_pid > 0 && getpid() == test_pid) kill(-running_pid, SIGKILL);
}

void http_app_start(http_app_t *a, const char *const *options)
{
    static bool registered;
    if (!registered) atexit(kill_running);
    registered = true;
    test_pid = getpid();
    memset(a, 0, sizeof *a);
    calls = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(calls != MAP_FAILED);
    a->calls = calls;
    make_file();
    build_router();
    eddy_http_options_t o;
    eddy_http_options_init(&o);
    for (const char *const *kv = options; kv && kv[0]; kv += 2) {
        int rc = eddy_http_options_set(&o, kv[0], kv[1]);
        if (rc < 0) fprintf(stderr, "option %s=%s: %s\n", kv[0], kv[1], eddy_strerror(rc));
        CHECK_EQ(rc, 0);
    }
    if (o.document_root[0]) { /* /mount/ serves it too, through a handler */
        eddy_static_options_t so;
        eddy_static_options_init(&so);
        so.document_root = o.document_root;
        CHECK_EQ(eddy_static_new(&mount_static, &so), 0);
    }
    eddy_server_t *s;
    CHECK_EQ(eddy_server_new(NULL, NULL, NULL, &s), 0);
    CHECK_EQ(eddy_server_set(s, "worker_num", "1"), 0);
    /* The *_process.sh wrappers run the same tests in PROCESS mode. */
    const char *mode = getenv("EDDY_TEST_SERVER_MODE");
    if (mode) CHECK_EQ(eddy_server_set(s, "mode", mode), 0);
    CHECK_EQ(eddy_server_set(s, "max_wait_time", "1"), 0);
    int port = eddy_http_listen(s, "tcp://127.0.0.1:0", &o, counted, router);
    CHECK_EQ(port, 0);
    a->port = eddy_server_port(s, 0);
    snprintf(a->errlog, sizeof a->errlog, "/tmp/eddy-http-err-%d", (int)getpid());
    int err_fd = open(a->errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(err_fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        dup2(err_fd, STDERR_FILENO);
        int rc = eddy_server_start(s);
        eddy_server_free(s);
        eddy_http_router_free(router);
        eddy_static_free(mount_static);
        exit(rc < 0 ? 3 : 0);
    }
    setpgid(pid, pid);
    close(err_fd);
    eddy_server_free(s);
    a->pid = pid;
    running_pid = pid;
}

uint64_t http_app_calls(const http_app_t *a)
{
    return __atomic_load_n(a->calls, __ATOMIC_SEQ_CST);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void http_app_stop(http_app_t *a)
{
    CHECK_EQ(kill(a->pid, SIGTERM), 0);
    int status = -1;
    long deadline = now_ms() + 10000;
    while (waitpid(a->pid, &status, WNOHANG) == 0 && now_ms() < deadline)
        usleep(10000);
    kill(-a->pid, SIGKILL);
    running_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "server exit status 0x%x\n", status);
    FILE *f = fopen(a->errlog, "r");
    bool dirty = false;
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            if (strstr(line, "Sanitizer") || strstr(line, "runtime error")) dirty = true;
            if (dirty) fputs(line, stderr);
        }
        fclose(f);
    }
    unlink(a->errlog);
    unlink(file_path);
    munmap((void *)calls, 4096);
    eddy_http_router_free(router);
    router = NULL;
    eddy_static_free(mount_static);
    mount_static = NULL;
    CHECK(!dirty);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- the client ------------------------------------------------------------------ */

void http_client_open(http_client_t *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = test_connect(port, 5000);
    CHECK(c->fd >= 0);
}

void http_client_close(http_client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

void http_client_send(http_client_t *c, const char *data, size_t len)
{
    CHECK_EQ(test_write_all(c->fd, data, len), 0);
}

void http_client_sends(http_client_t *c, const char *s)
{
    http_client_send(c, s, strlen(s));
}

/* More bytes into the buffer: 1, 0 on EOF, -1 on error or timeout. */
static int fill(http_client_t *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? 2 * c->cap : 131072;
        c->buf = realloc(c->buf, c->cap);
        CHECK(c->buf);
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n < 0) return -1;
    c->len += (size_t)n;
    return n > 0;
}

static void consume(http_client_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int read_head(http_client_t *c, http_reply_t *r, eddy_http1_response_t *res)
{
    static eddy_http1_header_t headers[100];
    for (size_t last = 0;;) {
        *res = (eddy_http1_response_t){.headers = headers, .max_headers = 100};
        int n = c->len ? eddy_http1_parse_response(c->buf, c->len, last, res, NULL)
                       : EDDY_HTTP1_INCOMPLETE;
        if (n > 0) {
            CHECK((size_t)n < sizeof r->head);
            memcpy(r->head, c->buf, (size_t)n);
            r->head[n] = '\0';
            consume(c, (size_t)n);
            return 0;
        }
        CHECK(n == EDDY_HTTP1_INCOMPLETE);
        last = c->len;
        if (fill(c) <= 0) return -1;
    }
}

/* The trailer section: what follows the last-chunk line ("0" alone on a
 * line: a trailer field always has a colon), without the final CRLF. */
static void find_trailers(const char *raw, size_t len, http_reply_t *r)
{
    size_t at = 0;
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(raw + i, "\r\n0\r\n", 5) == 0) at = i + 5;
    if (at == 0 && len >= 3 && memcmp(raw, "0\r\n", 3) == 0) at = 3;
    size_t n = len - at >= 2 ? len - at - 2 : 0;
    if (n >= sizeof r->trailers) n = sizeof r->trailers - 1;
    memcpy(r->trailers, raw + at, n);
    r->trailers[n] = '\0';
}

static int read_chunked(http_client_t *c, http_reply_t *r)
{
    eddy_http1_chunked_t d;
    eddy_http1_limits_t lim;
    eddy_http1_limits_init(&lim);
    lim.max_body_size = UINT64_MAX;
    eddy_http1_chunked_init(&d, &lim);
    size_t cap = 4096, raw_len = 0, raw_cap = 4096;
    r->body = malloc(cap);
    char *raw = malloc(raw_cap);
    CHECK(r->body && raw);
    r->chunked = true;
    for (;;) {
        size_t pos = 0;
        while (pos < c->len && !eddy_http1_chunked_done(&d)) {
            eddy_http1_str_t piece;
            ssize_t k = eddy_http1_chunked_parse(&d, c->buf + pos, c->len - pos, &piece);
            CHECK(k >= 0);
            while (r->body_len + piece.len + 1 > cap)
                CHECK((r->body = realloc(r->body, cap *= 2)));
            memcpy(r->body + r->body_len, piece.ptr, piece.len);
            r->body_len += piece.len;
            while (raw_len + (size_t)k > raw_cap)
                CHECK((raw = realloc(raw, raw_cap *= 2)));
            memcpy(raw + raw_len, c->buf + pos, (size_t)k);
            raw_len += (size_t)k;
            pos += (size_t)k;
        }
        consume(c, pos);
        if (eddy_http1_chunked_done(&d)) break;
        if (fill(c) <= 0) {
            free(raw);
            return -1;
        }
    }
    find_trailers(raw, raw_len, r);
    free(raw);
    r->body[r->body_len] = '\0';
    return 0;
}

int http_client_read(http_client_t *c, http_reply_t *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    eddy_http1_response_t res;
    if (read_head(c, r, &res) < 0) return -1;
    r->status = res.status;
    r->minor_version = res.minor_version;
    bool bodiless = head_only || res.status == 204 || res.status == 304 || res.status < 200;
    if (!bodiless && res.body == EDDY_HTTP1_BODY_CHUNKED) return read_chunked(c, r);
    size_t want = 0;
    bool to_close = false;
    if (!bodiless && res.body == EDDY_HTTP1_BODY_LENGTH) want = (size_t)res.content_length;
    if (!bodiless && res.body == EDDY_HTTP1_BODY_CLOSE) to_close = true;
    for (;;) {
        if (!to_close && c->len >= want) break;
        int k = fill(c);
        if (k == 0 && to_close) break;
        if (k <= 0) return -1;
    }
    if (to_close) want = c->len;
    r->body = malloc(want + 1);
    CHECK(r->body);
    memcpy(r->body, c->buf, want);
    r->body[want] = '\0';
    r->body_len = want;
    consume(c, want);
    return 0;
}

int http_client_wait_close(http_client_t *c, size_t *extra)
{
    for (;;) {
        int k = fill(c);
        if (k == 0) {
            if (extra) *extra = c->len;
            return 0;
        }
        if (k < 0) {
            if (extra) *extra = c->len;
            return errno ? errno : ETIMEDOUT;
        }
    }
}

void http_reply_free(http_reply_t *r)
{
    free(r->body);
    r->body = NULL;
}

bool http_reply_header(const http_reply_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t len = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

char *run_capture(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    CHECK(out);
    for (size_t n; (n = fread(out + len, 1, cap - len - 1, p)) > 0;) {
        len += n;
        if (cap - len < 4096) out = realloc(out, cap *= 2);
        CHECK(out);
    }
    out[len] = '\0';
    int st = pclose(p);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

char *http_app_curl(const http_app_t *a, int max_time, const char *args, const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "curl -sS --max-time %d %s 'http://127.0.0.1:%d%s' 2>&1", max_time,
             args, a->port, path);
    int status;
    char *out = run_capture(cmd, &status);
    if (status != 0) fprintf(stderr, "%s\n-> status %d\n%s\n", cmd, status, out);
    CHECK_EQ(status, 0);
    return out;
}
