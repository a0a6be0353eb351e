/* The access log, in the combined format of Apache and nginx:
 *   host - - [day/Mon/year:hh:mm:ss +0000] "request line" status bytes "referer" "agent"
 * One write(2) per line on a descriptor opened with O_APPEND, so lines from
 * every worker sharing the file never interleave. Bytes outside printable
 * ASCII, quotes and backslashes are written as \xHH (as nginx does), so a
 * request cannot forge log lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eddy/log.h"
#include "http_internal.h"

#define LINE_MAX_BYTES 8192
#define FIELD_MAX      2048 /* of one quoted field, before escaping */

typedef struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - l->len) n = sizeof l->buf - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

static void put_escaped(line_t *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > FIELD_MAX) n = FIELD_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            put(l, (const char *)&c, 1);
        } else {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            put(l, esc, 4);
        }
    }
}

static void put_quoted(line_t *l, eddy_http_str_t s)
{
    put(l, "\"", 1);
    if (s.ptr && s.len)
        put_escaped(l, s.ptr, s.len);
    else
        put(l, "-", 1);
    put(l, "\"", 1);
}

static void put_host(line_t *l, const eddy_http_req_t *req)
{
    eddy_addr_t a;
    char host[INET6_ADDRSTRLEN] = "-";
    if (eddy_http_peer(req, &a) == 0) {
        if (a.u.sa.sa_family == AF_INET)
            inet_ntop(AF_INET, &a.u.in.sin_addr, host, sizeof host);
        else if (a.u.sa.sa_family == AF_INET6)
            inet_ntop(AF_INET6, &a.u.in6.sin6_addr, host, sizeof host);
        else if (a.u.sa.sa_family == AF_UNIX)
            strcpy(host, "unix");
    }
    puts_(l, host);
}

/* "[10/Oct/2000:13:55:36 +0000]", formatted once a second per process. */
static const char *log_time(void)
{
    static time_t last;
    static char buf[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        last = now;
    }
    return buf;
}

static int open_log(http_ctx_t *ctx)
{
    if (ctx->log_fd >= 0) return ctx->log_fd;
    const char *path = ctx->opts.access_log;
    if (strcmp(path, "-") == 0) return ctx->log_fd = STDERR_FILENO;
    ctx->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (ctx->log_fd < 0) {
        EDDY_ERROR("http: access log %s: %s", path, strerror(errno));
        ctx->opts.access_log[0] = '\0'; /* said once; no more attempts */
    }
    return ctx->log_fd;
}

void eddy__http_access_log(eddy_http_req_t *req)
{
    int fd = open_log(req->ctx);
    if (fd < 0) return;
    line_t l;
    l.len = 0;
    put_host(&l, req);
    puts_(&l, " - - ");
    puts_(&l, log_time());
    puts_(&l, " \"");
    put_escaped(&l, req->h.method.ptr, req->h.method.len);
    put(&l, " ", 1);
    put_escaped(&l, req->h.target.ptr, req->h.target.len);
    puts_(&l, req->h.minor_version ? " HTTP/1.1\" " : " HTTP/1.0\" ");
    char num[64];
    int n = req->res.body_sent ? snprintf(num, sizeof num, "%d %llu ", req->res.status,
                                          (unsigned long long)req->res.body_sent)
                               : snprintf(num, sizeof num, "%d - ", req->res.status);
    put(&l, num, (size_t)n);
    put_quoted(&l, eddy_http_header(req, "Referer"));
    put(&l, " ", 1);
    put_quoted(&l, eddy_http_header(req, "User-Agent"));
    if (l.len == sizeof l.buf) l.len--;
    l.buf[l.len++] = '\n';
    ssize_t w = write(fd, l.buf, l.len);
    (void)w; /* a full disk must not stop the server; nothing else to do */
}
