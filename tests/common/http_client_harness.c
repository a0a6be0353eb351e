#include "http_client_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

long test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- the server ---------------------------------------------------------- */

static void *conn_thread(void *arg)
{
    script_conn_t *c = arg;
    script_server_t *s = c->server;
    int now = atomic_fetch_add(&s->active, 1) + 1;
    int max = atomic_load(&s->max_active);
    while (now > max && !atomic_compare_exchange_weak(&s->max_active, &max, now)) {
    }
    s->fn(c, s->ud);
    script_close(c);
    atomic_fetch_sub(&s->active, 1);
    return NULL;
}

static void *accept_thread(void *arg)
{
    script_server_t *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        script_conn_t *c = calloc(1, sizeof *c);
        CHECK(c != NULL);
        c->server = s;
        c->fd = fd;
        pthread_mutex_lock(&s->lock);
        CHECK(s->nconns < SCRIPT_MAX_CONNS);
        c->index = s->nconns;
        s->conns[s->nconns] = c;
        atomic_fetch_add(&s->accepted, 1);
        CHECK_EQ(pthread_create(&s->threads[s->nconns], NULL, conn_thread, c), 0);
        s->nconns++;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

void script_server_start(script_server_t *s, script_fn fn, void *ud)
{
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->ud = ud;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s->listen_fd >= 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(s->listen_fd, 128), 0);
    socklen_t len = sizeof a;
    CHECK_EQ(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    CHECK_EQ(pthread_create(&s->accept_thread, NULL, accept_thread, s), 0);
}

void script_server_stop(script_server_t *s)
{
    atomic_store(&s->stopping, true);
    CHECK_EQ(pthread_join(s->accept_thread, NULL), 0);
    close(s->listen_fd);
    pthread_mutex_lock(&s->lock);
    int n = s->nconns;
    for (int i = 0; i < n; i++) /* wake scripts blocked in a read */
        if (s->conns[i]->fd >= 0) shutdown(s->conns[i]->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(pthread_join(s->threads[i], NULL), 0);
        free(s->conns[i]->in);
        free(s->conns[i]);
    }
    pthread_mutex_destroy(&s->lock);
}

/* ---- a connection -------------------------------------------------------- */

/* Read more into c->in. 1 on data, 0 on EOF, -1 on a timeout or error. */
static int read_more(script_conn_t *c, long deadline)
{
    long left = deadline - test_now_ms();
    if (c->fd < 0 || left <= 0) return -1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, (int)left) <= 0) return -1;
    if (c->in_cap - c->in_len < 65536) {
        c->in_cap = c->in_cap * 2 + 65536;
        c->in = realloc(c->in, c->in_cap);
        CHECK(c->in != NULL);
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        return 1;
    }
    return n == 0 ? 0 : -1;
}

static void consume(script_conn_t *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static void copy_str(char *dst, size_t size, eddy_http1_str_t s)
{
    CHECK(s.len < size);
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

static void take_head(script_request_t *rq, const eddy_http1_request_t *req)
{
    copy_str(rq->method, sizeof rq->method, req->method);
    copy_str(rq->target, sizeof rq->target, req->target);
    rq->num_headers = (int)req->num_headers;
    for (size_t i = 0; i < req->num_headers; i++) {
        copy_str(rq->names[i], sizeof rq->names[i], req->headers[i].name);
        copy_str(rq->values[i], sizeof rq->values[i], req->headers[i].value);
    }
}

int script_read_request(script_conn_t *c, script_request_t *rq, int timeout_ms)
{
    memset(rq, 0, sizeof *rq);
    long deadline = test_now_ms() + timeout_ms;
    eddy_http1_header_t headers[SCRIPT_MAX_HEADERS];
    eddy_http1_request_t req = {.headers = headers, .max_headers = SCRIPT_MAX_HEADERS};
    int n;
    while ((n = eddy_http1_parse_request(c->in, c->in_len, 0, &req, NULL)) ==
           EDDY_HTTP1_INCOMPLETE) {
        int r = read_more(c, deadline);
        if (r <= 0) return c->in_len == 0 && r == 0 ? 0 : -1;
    }
    if (n < 0) {
        fprintf(stderr, "script: malformed request: %s\n", eddy_http1_error_str(req.error));
        return -1;
    }
    take_head(rq, &req);
    CHECK(req.body != EDDY_HTTP1_BODY_CHUNKED); /* the client sends Content-Length */
    size_t body = (size_t)req.content_length;
    consume(c, (size_t)n);
    while (c->in_len < body)
        if (read_more(c, deadline) <= 0) return -1;
    rq->body = malloc(body + 1);
    CHECK(rq->body != NULL);
    memcpy(rq->body, c->in, body);
    rq->body[body] = '\0';
    rq->body_len = body;
    consume(c, body);
    return 1;
}

void script_request_free(script_request_t *rq)
{
    free(rq->body);
    rq->body = NULL;
}

const char *script_header(const script_request_t *rq, const char *name)
{
    for (int i = 0; i < rq->num_headers; i++)
        if (strcasecmp(rq->names[i], name) == 0) return rq->values[i];
    return NULL;
}

bool script_send_n(script_conn_t *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool script_send(script_conn_t *c, const char *s)
{
    return script_send_n(c, s, strlen(s));
}

bool script_wait_close(script_conn_t *c, int timeout_ms)
{
    long deadline = test_now_ms() + timeout_ms;
    for (;;) {
        c->in_len = 0;
        int r = read_more(c, deadline);
        if (r == 0) return true;
        if (r < 0) return test_now_ms() < deadline; /* a reset, not a timeout */
    }
}

void script_close(script_conn_t *c)
{
    script_server_t *s = c->server;
    pthread_mutex_lock(&s->lock);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&s->lock);
}

void script_reset(script_conn_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (c->fd >= 0) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    script_close(c);
}

/* ---- canned responses ---------------------------------------------------- */

void canned_init(canned_t *k, const canned_route_t *routes)
{
    memset(k, 0, sizeof *k);
    k->routes = routes;
    pthread_mutex_init(&k->lock, NULL);
}

void canned_free(canned_t *k)
{
    script_request_free(&k->last);
    pthread_mutex_destroy(&k->lock);
}

static const canned_route_t *canned_find(const canned_t *k, const char *target)
{
    size_t path_len = strcspn(target, "?");
    for (const canned_route_t *r = k->routes; r->path; r++)
        if (strlen(r->path) == path_len && strncmp(r->path, target, path_len) == 0) return r;
    return NULL;
}

void canned_script(script_conn_t *c, void *ud)
{
    canned_t *k = ud;
    script_request_t rq;
    while (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) {
        const canned_route_t *r = canned_find(k, rq.target);
        pthread_mutex_lock(&k->lock);
        script_request_free(&k->last);
        k->last = rq;
        k->requests++;
        pthread_mutex_unlock(&k->lock);
        if (!r) {
            script_send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        }
        if (!script_send(c, r->response) || r->close_after) return;
    }
}

void canned_last(canned_t *k, script_request_t *out)
{
    pthread_mutex_lock(&k->lock);
    *out = k->last;
    out->body = malloc(k->last.body_len + 1);
    CHECK(out->body != NULL);
    memcpy(out->body, k->last.body ? k->last.body : "", k->last.body_len + 1);
    pthread_mutex_unlock(&k->lock);
}

/* ---- the client side ----------------------------------------------------- */

static char *dup_or_die(const char *s)
{
    char *d = strdup(s);
    CHECK(d != NULL);
    return d;
}

static void copy_fields(const eddy_http_client_header_t *src, size_t n, char **names, char **values,
                        int *count)
{
    CHECK(n <= SCRIPT_MAX_HEADERS);
    for (size_t i = 0; i < n; i++) {
        names[i] = dup_or_die(src[i].name);
        values[i] = dup_or_die(src[i].value);
    }
    *count = (int)n;
}

void capture_complete(eddy_http_client_transfer_t *t, int err,
                      const eddy_http_client_response_t *res, void *ud)
{
    capture_t *cap = ud;
    CHECK(res != NULL);
    cap->done++;
    cap->at = test_now_ms();
    cap->err = err;
    cap->status = res->status;
    snprintf(cap->reason, sizeof cap->reason, "%s", res->reason);
    if (res->body) {
        cap->body = malloc(res->body_len + 1);
        CHECK(cap->body != NULL);
        memcpy(cap->body, res->body, res->body_len + 1); /* NUL included: it must be there */
        CHECK_EQ(cap->body[res->body_len], '\0');
    }
    cap->body_len = res->body_len;
    cap->body_received = res->body_received;
    copy_fields(res->headers, res->num_headers, cap->header_names, cap->header_values,
                &cap->num_headers);
    copy_fields(res->trailers, res->num_trailers, cap->trailer_names, cap->trailer_values,
                &cap->num_trailers);
    snprintf(cap->url, sizeof cap->url, "%s", res->url ? res->url : "");
    cap->redirects = res->redirects;
    cap->parse_error = res->parse_error;
}

void capture_free(capture_t *cap)
{
    free(cap->body);
    for (int i = 0; i < cap->num_headers; i++) {
        free(cap->header_names[i]);
        free(cap->header_values[i]);
    }
    for (int i = 0; i < cap->num_trailers; i++) {
        free(cap->trailer_names[i]);
        free(cap->trailer_values[i]);
    }
    memset(cap, 0, sizeof *cap);
}

static const char *find(char *const *names, char *const *values, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0) return values[i];
    return NULL;
}

const char *capture_header(const capture_t *cap, const char *name)
{
    return find(cap->header_names, cap->header_values, cap->num_headers, name);
}

const char *capture_trailer(const capture_t *cap, const char *name)
{
    return find(cap->trailer_names, cap->trailer_values, cap->num_trailers, name);
}

eddy_http_client_transfer_t *start_request(eddy_http_client_t *client,
                                           eddy_http_client_request_t *rq, capture_t *cap)
{
    rq->on_complete = capture_complete;
    rq->ud = cap;
    eddy_http_client_transfer_t *t = NULL;
    int rc = eddy_http_client_send(client, rq, &t);
    if (rc < 0) fprintf(stderr, "send %s: %s\n", rq->url, eddy_strerror(rc));
    CHECK_EQ(rc, 0);
    CHECK(t != NULL);
    return t;
}

void start_get(eddy_http_client_t *client, const char *url, capture_t *cap)
{
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.url = url;
    start_request(client, &rq, cap);
}

void run_until(eddy_loop_t *loop, const int *counter, int target, long ms)
{
    long deadline = test_now_ms() + ms;
    while (*counter < target) {
        if (test_now_ms() > deadline) {
            fprintf(stderr, "run_until: %d of %d within %ld ms\n", *counter, target, ms);
            exit(1);
        }
        CHECK(eddy_loop_run_once(loop, 20) >= 0);
    }
}

void finish_client(eddy_loop_t *loop, eddy_http_client_t *client)
{
    eddy_http_client_free(client);
    long t0 = test_now_ms();
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(test_now_ms() - t0 < 3000);
    eddy_loop_free(loop);
}
