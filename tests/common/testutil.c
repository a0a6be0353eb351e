#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "test.h"
#include "testutil.h"

const char *test_program(const char *relative)
{
    static char path[4096];
    const char *dir = getenv("EDDY_BUILD_DIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", relative);
    return path;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int test_server_start(test_server_t *s, char *const argv[])
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(pipefd[1]);
    s->pid = pid;
    s->out_fd = pipefd[0];
    s->port = -1;
    char line[256];
    size_t len = 0;
    long deadline = now_ms() + 10000;
    while (len < sizeof line - 1) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
        ssize_t n = read(s->out_fd, line + len, 1);
        if (n <= 0) break;
        if (line[len] == '\n') {
            line[len] = '\0';
            int port;
            if (sscanf(line, "listening on 127.0.0.1:%d", &port) == 1) {
                s->port = port;
                return 0;
            }
            len = 0; /* some other line: keep looking */
            continue;
        }
        len++;
    }
    test_server_stop(s);
    return -1;
}

int test_server_stop(test_server_t *s)
{
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int status = -1;
    long deadline = now_ms() + 10000;
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) break;
        if (r < 0) {
            status = -1;
            break;
        }
        if (now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            status = -1;
            break;
        }
        usleep(10000);
    }
    close(s->out_fd);
    s->pid = 0;
    return status;
}

int test_connect_opts(int port, int timeout_ms, int rcvbuf, bool nodelay)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    if (nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int test_connect(int port, int timeout_ms)
{
    return test_connect_opts(port, timeout_ms, 0, false);
}

int test_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

size_t test_read_until_close(int fd, char *buf, size_t max, int *how)
{
    size_t total = 0;
    char scratch[65536];
    for (;;) {
        char *dst = total < max ? buf + total : scratch;
        size_t room = total < max ? max - total : sizeof scratch;
        ssize_t n = recv(fd, dst, room, 0);
        if (n == 0) {
            *how = 0;
            return total;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            *how = errno;
            return total;
        }
        if (total < max) total += (size_t)n;
    }
}

ssize_t test_read_line(int fd, char *buf, size_t max)
{
    size_t len = 0;
    while (len + 1 < max) {
        ssize_t n = recv(fd, buf + len, 1, 0);
        if (n <= 0) return -1;
        if (buf[len++] == '\n') {
            buf[len] = '\0';
            return (ssize_t)len;
        }
    }
    return -1;
}

char *test_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    CHECK(p);
    for (;;) {
        if (cap - n < 4096) CHECK((p = realloc(p, cap *= 2)));
        ssize_t k = read(fd, p + n, cap - n - 1);
        CHECK(k >= 0);
        if (k == 0) break;
        n += (size_t)k;
    }
    close(fd);
    p[n] = '\0';
    if (len) *len = n;
    return p;
}

void test_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, data, len), (ssize_t)len);
    close(fd);
}
