/*
 * The HTTP client against a real peer: `python3 -m http.server` serving a
 * temporary directory on 127.0.0.1, port 0 (read from its "Serving HTTP
 * on ... port N" line), stopped by PID. A 300 KiB file of pseudo-random
 * bytes must arrive byte for byte, buffered and streamed; HEAD gives its
 * length and no body; a missing file is a 404 with err 0; a directory
 * without its slash is a 301 the client follows. The server speaks
 * HTTP/1.0 and closes after each response: every request opens its own
 * connection, and nothing is ever pooled.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <eddy.h>

#include "http_client_harness.h"
#include "test.h"
#include "testutil.h"

#define FILE_SIZE (300 * 1024 + 11)

typedef struct python_server {
    pid_t pid;
    int port;
    int out_fd;
} python_server_t;

/* Start python3 -u -m http.server and read its port from the line it
 * prints; fail the test if none comes within 10 s. */
static void python_start(python_server_t *ps, const char *dir)
{
    int pipefd[2];
    CHECK_EQ(pipe2(pipefd, O_CLOEXEC), 0);
    ps->pid = fork();
    CHECK(ps->pid >= 0);
    if (ps->pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO); /* its request log */
        execlp("python3", "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
               "--directory", dir, "0", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    ps->out_fd = pipefd[0];
    ps->port = -1;
    char buf[512];
    size_t len = 0;
    long deadline = test_now_ms() + 10000;
    while (ps->port < 0 && len < sizeof buf - 1) {
        struct pollfd p = {.fd = ps->out_fd, .events = POLLIN};
        long left = deadline - test_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
        ssize_t n = read(ps->out_fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        const char *at = strstr(buf, " port ");
        if (at && strchr(at, '(')) sscanf(at, " port %d", &ps->port);
    }
    if (ps->port < 0) {
        fprintf(stderr, "python3 -m http.server printed no port (is python3 installed?)\n");
        kill(ps->pid, SIGKILL);
        waitpid(ps->pid, NULL, 0);
        exit(1);
    }
}

static void python_stop(python_server_t *ps)
{
    kill(ps->pid, SIGTERM);
    long deadline = test_now_ms() + 5000;
    int status;
    while (waitpid(ps->pid, &status, WNOHANG) == 0) {
        if (test_now_ms() > deadline) {
            kill(ps->pid, SIGKILL);
            waitpid(ps->pid, &status, 0);
            break;
        }
        test_sleep_ms(10);
    }
    close(ps->out_fd);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        CHECK_EQ(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            CHECK_EQ(unlink(path), 0);
    }
    closedir(d);
    CHECK_EQ(rmdir(dir), 0);
}

static char *file_bytes;
static char *streamed;
static size_t streamed_len;

static int collect(eddy_http_client_transfer_t *t, const eddy_http_client_response_t *res,
                   const char *data, size_t len, void *ud)
{
    CHECK(streamed_len + len <= FILE_SIZE);
    memcpy(streamed + streamed_len, data, len);
    streamed_len += len;
    return 0;
}

static void fetch(eddy_http_client_t *client, eddy_loop_t *loop, const char *method,
                  const char *url, eddy_http_client_body_cb on_body, capture_t *cap)
{
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.method = method;
    rq.url = url;
    rq.on_body = on_body;
    start_request(client, &rq, cap);
    run_until(loop, &cap->done, 1, 5000);
}

int main(void)
{
    char dir[] = "/tmp/eddy-http-client-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    file_bytes = malloc(FILE_SIZE);
    streamed = malloc(FILE_SIZE);
    CHECK(file_bytes && streamed);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < FILE_SIZE; i++) { /* xorshift: every byte value, NULs included */
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        file_bytes[i] = (char)x;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    test_write_file(path, file_bytes, FILE_SIZE);
    snprintf(path, sizeof path, "%s/sub", dir);
    CHECK_EQ(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/index.html", dir);
    test_write_file(path, "<p>inside</p>\n", 14);

    python_server_t ps;
    python_start(&ps, dir);
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.follow_redirects = true;
    eddy_http_client_t *client;
    CHECK_EQ(eddy_http_client_new(loop, &o, &client), 0);
    char url[128];
    capture_t cap = {0};

    snprintf(url, sizeof url, "http://127.0.0.1:%d/data.bin", ps.port);
    fetch(client, loop, "GET", url, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(cap.body_len, FILE_SIZE);
    CHECK(memcmp(cap.body, file_bytes, FILE_SIZE) == 0);
    CHECK_STR(capture_header(&cap, "content-type"), "application/octet-stream");
    printf("ok buffered GET of %d bytes\n", FILE_SIZE);
    capture_free(&cap);

    fetch(client, loop, "GET", url, collect, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(streamed_len, FILE_SIZE);
    CHECK(memcmp(streamed, file_bytes, FILE_SIZE) == 0);
    printf("ok streamed GET\n");
    capture_free(&cap);

    fetch(client, loop, "HEAD", url, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(cap.body_len, 0);
    char len[16];
    snprintf(len, sizeof len, "%d", FILE_SIZE);
    CHECK_STR(capture_header(&cap, "content-length"), len);
    printf("ok HEAD\n");
    capture_free(&cap);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.txt", ps.port);
    fetch(client, loop, "GET", url, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 404);
    printf("ok 404\n");
    capture_free(&cap);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/sub", ps.port);
    fetch(client, loop, "GET", url, NULL, &cap);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(cap.redirects, 1);
    CHECK_STR(cap.body, "<p>inside</p>\n");
    printf("ok 301 to the directory, followed\n");
    capture_free(&cap);

    eddy_http_client_stats_t st;
    eddy_http_client_stats(client, &st);
    CHECK_EQ(st.requests, 6);
    CHECK_EQ(st.connections_opened, 6); /* HTTP/1.0 without keep-alive: one each */
    CHECK_EQ(st.connections_reused, 0);
    finish_client(loop, client);
    python_stop(&ps);
    remove_tree(dir);
    free(file_bytes);
    free(streamed);
    return 0;
}
