/*
 * bench/ref/ref_common.h — what the reference servers share: the command
 * line (-p PORT, -w WORKERS), the listening socket on 127.0.0.1 with its
 * "listening on 127.0.0.1:PORT" line, and nginx's worker model for -w N
 * (N processes accepting on one socket; the parent passes SIGINT and
 * SIGTERM on and reaps them). Header-only: each reference is one program.
 */
#ifndef EDDY_BENCH_REF_COMMON_H
#define EDDY_BENCH_REF_COMMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define REF_MAX_WORKERS 64

/* Serves on listen_fd until SIGINT or SIGTERM; returns the exit status. It
 * starts with SIGINT, SIGTERM and SIGCHLD blocked (for a signalfd), and
 * unblocks what it handles otherwise. */
typedef int (*ref_serve_fn)(int listen_fd);

static void ref_usage(const char *name)
{
    fprintf(stderr, "usage: %s [-p PORT] [-w WORKERS]\n", name);
    exit(2);
}

static long ref_number(const char *name, const char *arg, long min, long max)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < min || v > max) ref_usage(name);
    return v;
}

/* A listening socket on 127.0.0.1:port (0: a free one); *bound_port gets the
 * port. The fd, or -1 with a message. */
static int ref_listen(const char *name, int port, int *bound_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        fprintf(stderr, "%s: listen: ", name);
        perror(NULL);
        if (fd >= 0) close(fd);
        return -1;
    }
    *bound_port = ntohs(addr.sin_port);
    return fd;
}

/* The parent of -w N: pass SIGINT/SIGTERM on, reap the workers. 1 if any
 * worker failed. */
static int ref_supervise(pid_t *pids, int n, const sigset_t *set)
{
    int failed = 0, left = n, sig;
    while (left > 0) {
        if (sigwait(set, &sig) != 0) continue;
        if (sig != SIGCHLD)
            for (int i = 0; i < n; i++)
                if (pids[i] > 0) kill(pids[i], sig);
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            left--;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
            for (int i = 0; i < n; i++)
                if (pids[i] == pid) pids[i] = 0;
        }
    }
    return failed;
}

/* The whole main of a reference: options, socket, then serve in this
 * process (-w 1) or in N children. */
static int ref_main(int argc, char **argv, const char *name, ref_serve_fn serve)
{
    int port = 0, workers = 1, opt;
    while ((opt = getopt(argc, argv, "p:w:")) != -1) {
        switch (opt) {
        case 'p': port = (int)ref_number(name, optarg, 0, 65535); break;
        case 'w': workers = (int)ref_number(name, optarg, 1, REF_MAX_WORKERS); break;
        default: ref_usage(name);
        }
    }
    if (optind != argc) ref_usage(name);
    /* Blocked before the port is printed, so that a signal sent at once is
     * neither lost nor fatal. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int bound_port, fd = ref_listen(name, port, &bound_port);
    if (fd < 0) return 1;
    printf("listening on 127.0.0.1:%d\n", bound_port);
    fflush(stdout);
    if (workers == 1) return serve(fd);
    pid_t pids[REF_MAX_WORKERS] = {0};
    for (int i = 0; i < workers; i++) {
        if ((pids[i] = fork()) == 0) _exit(serve(fd));
        if (pids[i] < 0) {
            fprintf(stderr, "%s: fork: ", name);
            perror(NULL);
            for (int k = 0; k < i; k++)
                kill(pids[k], SIGTERM);
            ref_supervise(pids, i, &set);
            return 1;
        }
    }
    close(fd);
    return ref_supervise(pids, workers, &set);
}

#endif
