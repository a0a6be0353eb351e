/*
 * The multi-process server in BASE mode, with real processes (and, through
 * server_process.c, the same scenarios in PROCESS mode).
 *
 * The test builds a server with the public API, forks, and the child becomes
 * its master (in a process group of its own, so the whole tree can be
 * signalled or cleaned up at once). Every callback appends one line to an
 * events file (O_APPEND: one write each, so lines from all the processes
 * never interleave); the test reads the file to see what happened where.
 * The server speaks lines ending in "\n":
 *   WHO            "worker ID pid PID sid SID"
 *   ECHO ...       the line itself
 *   GET N          N bytes, then a graceful close
 *   QUIT           "bye", then a graceful close
 *   SENDTO SID     eddy_server_send(SID, "stale\n") and friends: their results
 *   SLOW MS        "slow done" after MS milliseconds (a timer)
 *   BIG N          N bytes; if the send is refused, close
 *   SPIN MS        keep the worker busy for MS milliseconds, then "spun"
 *   RELOAD         eddy_server_reload from the worker
 * A load generator keeps 20-50 connections busy with ECHO requests and
 * counts answers, clean closes (EOF between answers), half answers (EOF
 * inside a line), resets and stuck requests, each against the worker pid
 * that served the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "test.h"
#include "testutil.h"

#define BIG (4 * 1024 * 1024)

/* server_process.c includes this file with SERVER_MODE "process". */
#ifndef SERVER_MODE
#define SERVER_MODE "base"
#endif
static const bool process_mode = SERVER_MODE[0] == 'p';

static char pattern[BIG];
static pid_t test_pid;
static char tmpdir[] = "/tmp/eddy-server-base-XXXXXX";

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the server under test (runs in the forked processes) ------------------ */

static int ev_fd = -1;
static bool ev_verbose;
static eddy_server_t *srv;

static void ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ev(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(ev_fd, line, (size_t)n) != n) abort();
}

static void on_start(eddy_server_t *s, void *ud)
{
    ev("start pid=%d\n", (int)getpid());
}

static void on_shutdown(eddy_server_t *s, void *ud)
{
    ev("shutdown pid=%d\n", (int)getpid());
}

static void on_manager_start(eddy_server_t *s, void *ud)
{
    ev("mstart pid=%d\n", (int)getpid());
}

static void on_manager_stop(eddy_server_t *s, void *ud)
{
    ev("mstop pid=%d\n", (int)getpid());
}

static void on_worker_start(eddy_server_t *s, int id, void *ud)
{
    ev("wstart id=%d pid=%d master=%d\n", id, (int)getpid(), (int)eddy_server_master_pid(s));
}

static void on_worker_stop(eddy_server_t *s, int id, void *ud)
{
    ev("wstop id=%d pid=%d\n", id, (int)getpid());
}

static void on_worker_error(eddy_server_t *s, int id, pid_t pid, int code, int signo, void *ud)
{
    ev("werror id=%d pid=%d code=%d sig=%d by=%d\n", id, (int)pid, code, signo, (int)getpid());
}

static void on_connect(eddy_server_t *s, eddy_session_t sid, void *ud)
{
    if (ev_verbose) ev("connect sid=%llx pid=%d\n", (unsigned long long)sid, (int)getpid());
}

static void on_close(eddy_server_t *s, eddy_session_t sid, eddy_close_reason_t reason, int err,
                     void *ud)
{
    if (ev_verbose || reason != EDDY_CLOSE_GRACEFUL)
        ev("close sid=%llx reason=%d err=%d pid=%d\n", (unsigned long long)sid, (int)reason, err,
           (int)getpid());
}

static void reply(eddy_server_t *s, eddy_session_t sid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply(eddy_server_t *s, eddy_session_t sid, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (eddy_server_send(s, sid, line, (size_t)n) < 0) eddy_server_close(s, sid);
}

static void slow_done(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_session_t sid = (eddy_session_t)(uintptr_t)ud;
    int rc = eddy_server_send(srv, sid, "slow done\n", 10);
    if (rc < 0) ev("slowlost sid=%llx rc=%d\n", (unsigned long long)sid, rc);
}

static void on_receive(eddy_server_t *s, eddy_session_t sid, const char *data, size_t len, void *ud)
{
    char cmd[128];
    size_t n = len < sizeof cmd ? len : sizeof cmd - 1;
    memcpy(cmd, data, n);
    cmd[n] = '\0';
    if (ev_verbose)
        ev("receive sid=%llx len=%zu pid=%d\n", (unsigned long long)sid, len, (int)getpid());
    unsigned long long arg = 0;
    if (strcmp(cmd, "WHO\n") == 0 || strcmp(cmd, "WHO \n") == 0) {
        reply(s, sid, "worker %d pid %d sid %llx\n", eddy_server_worker_id(s), (int)getpid(),
              (unsigned long long)sid);
    } else if (strncmp(cmd, "ECHO ", 5) == 0) {
        if (eddy_server_send(s, sid, data, len) < 0) eddy_server_close(s, sid);
    } else if (sscanf(cmd, "GET %llu", &arg) == 1 && arg <= BIG) {
        CHECK_EQ(eddy_server_send(s, sid, pattern, arg), 0);
        CHECK_EQ(eddy_server_close(s, sid), 0);
    } else if (strcmp(cmd, "QUIT\n") == 0) {
        reply(s, sid, "bye\n");
        eddy_server_close(s, sid);
    } else if (sscanf(cmd, "SENDTO %llx", &arg) == 1) {
        eddy_session_t other = arg;
        int rc = eddy_server_send(s, other, "stale\n", 6);
        if (rc == 0) {
            reply(s, sid, "rc 0\n");
            return;
        }
        eddy_session_info_t info;
        reply(s, sid, "rc %d exists %d close %d info %d pause %d\n", rc,
              (int)eddy_server_exists(s, other), eddy_server_close(s, other),
              eddy_server_info(s, other, &info), eddy_server_pause(s, other));
    } else if (sscanf(cmd, "SLOW %llu", &arg) == 1) {
        eddy_timer_after(eddy_server_loop(s), arg, slow_done, (void *)(uintptr_t)sid);
    } else if (sscanf(cmd, "BIG %llu", &arg) == 1 && arg <= BIG) {
        int rc = eddy_server_send(s, sid, pattern, arg);
        if (rc < 0) {
            if (eddy_server_exists(s, sid))
                ev("full sid=%llx rc=%d pid=%d\n", (unsigned long long)sid, rc, (int)getpid());
            eddy_server_close(s, sid);
        }
    } else if (sscanf(cmd, "SPIN %llu", &arg) == 1) {
        long until = now_ms() + (long)arg; /* busy: this worker accepts nothing meanwhile */
        while (now_ms() < until) {
        }
        reply(s, sid, "spun\n");
    } else if (sscanf(cmd, "BIND %llu", &arg) == 1) {
        reply(s, sid, "bound %d\n", eddy_server_bind(s, sid, arg));
    } else if (strcmp(cmd, "UID\n") == 0) {
        eddy_session_info_t info = {0};
        int rc = eddy_server_info(s, sid, &info);
        reply(s, sid, "uid %llu rc %d\n", (unsigned long long)info.uid, rc);
    } else if (strcmp(cmd, "STATS\n") == 0) {
        eddy_server_stats_t st;
        eddy_server_stats(s, &st);
        reply(s, sid, "active %llu accepted %llu peer %llu packets %llu in %llu out %llu\n",
              (unsigned long long)st.net.active, (unsigned long long)st.net.accepted,
              (unsigned long long)st.net.closed[EDDY_CLOSE_PEER],
              (unsigned long long)st.net.packets_in, (unsigned long long)st.net.bytes_in,
              (unsigned long long)st.net.bytes_out);
    } else if (strcmp(cmd, "RELOAD\n") == 0) {
        reply(s, sid, "reload %d\n", eddy_server_reload(s, false));
    } else {
        reply(s, sid, "what?\n");
    }
}

/* A datagram: answered with "pkt WORKER DATA" through the port it came on. */
static void on_packet(eddy_server_t *s, int port, const char *data, size_t len,
                      const eddy_addr_t *from, void *ud)
{
    char out[128];
    int n = snprintf(out, sizeof out, "pkt %d %.*s", eddy_server_worker_id(s), (int)len, data);
    CHECK_EQ(eddy_server_sendto(s, port, from, out, (size_t)n), 0);
}

/* ---- driving a server from the test ---------------------------------------- */

typedef struct tsrv {
    pid_t pid;    /* the master, leader of its process group */
    int port;     /* the first port */
    int ports[4]; /* every port, in the order of the "listen" pairs */
    int workers;
    char events[128];
    char errlog[128];
    int status;
} tsrv_t;

static tsrv_t *running;                /* killed (the whole group) if a CHECK fails */
static eddy_dispatch_fn dispatch_hook; /* for the next tsrv_start */

static void kill_running(void)
{
    if (getpid() != test_pid) return;
    if (running && running->pid > 0) {
        kill(-running->pid, SIGKILL);
        waitpid(running->pid, NULL, 0);
    }
    if (getenv("EDDY_TEST_KEEP")) return; /* for a look at the events files */
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf %s", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Start a server: worker_num 2, max_wait_time 1, "\n" framing, then the
 * key/value pairs given (NULL-terminated). The port accepts connections on
 * return; tsrv_ready waits for the workers. */
static void tsrv_start(tsrv_t *t, int verbose, ...) /* int: va_start needs an unpromoted type */
{
    static int serial;
    memset(t, 0, sizeof *t);
    snprintf(t->events, sizeof t->events, "%s/events-%d", tmpdir, ++serial);
    snprintf(t->errlog, sizeof t->errlog, "%s/stderr-%d", tmpdir, serial);
    eddy_server_callbacks_t cbs = {
        .on_start = on_start,
        .on_shutdown = on_shutdown,
        .on_manager_start = on_manager_start,
        .on_manager_stop = on_manager_stop,
        .on_worker_start = on_worker_start,
        .on_worker_stop = on_worker_stop,
        .on_worker_error = on_worker_error,
        .on_connect = on_connect,
        .on_receive = on_receive,
        .on_close = on_close,
        .on_packet = on_packet,
    };
    eddy_server_t *s;
    CHECK_EQ(eddy_server_new(NULL, &cbs, NULL, &s), 0);
    CHECK_EQ(eddy_server_set(s, "mode", SERVER_MODE), 0);
    CHECK_EQ(eddy_server_set(s, "worker_num", "2"), 0);
    CHECK_EQ(eddy_server_set(s, "max_wait_time", "1"), 0);
    CHECK_EQ(eddy_server_set(s, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_server_set(s, "package_eof", "\\n"), 0);
    t->workers = 2;
    const char *urls[4] = {"tcp://127.0.0.1:0"};
    int nurls = 1;
    bool custom = false;
    va_list ap;
    va_start(ap, verbose);
    for (const char *key; (key = va_arg(ap, const char *));) {
        const char *value = va_arg(ap, const char *);
        if (strcmp(key, "listen") == 0) { /* the first replaces the default port */
            if (!custom) nurls = 0;
            custom = true;
            CHECK(nurls < 4);
            urls[nurls++] = value;
            continue;
        }
        int rc = eddy_server_set(s, key, value);
        if (rc < 0) fprintf(stderr, "set %s=%s: %s\n", key, value, eddy_err_name(rc));
        CHECK_EQ(rc, 0);
        if (strcmp(key, "worker_num") == 0) t->workers = atoi(value);
    }
    va_end(ap);
    for (int i = 0; i < nurls; i++) {
        int rc = eddy_server_listen(s, urls[i], NULL, NULL, NULL);
        if (rc != i) fprintf(stderr, "listen %s: %s\n", urls[i], eddy_err_name(rc));
        CHECK_EQ(rc, i);
        t->ports[i] = eddy_server_port(s, i);
    }
    t->port = t->ports[0];
    if (dispatch_hook) CHECK_EQ(eddy_server_set_dispatch(s, dispatch_hook, NULL), 0);
    ev_fd = open(t->events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    CHECK(ev_fd >= 0);
    int err_fd = open(t->errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    CHECK(err_fd >= 0);
    ev_verbose = verbose;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        dup2(err_fd, STDERR_FILENO);
        srv = s;
        int rc = eddy_server_start(s);
        if (rc < 0) fprintf(stderr, "eddy_server_start: %s\n", eddy_err_name(rc));
        eddy_server_free(s);
        exit(rc < 0 ? 3 : 0);
    }
    setpgid(pid, pid); /* either side may win the race; both ask the same */
    close(err_fd);
    close(ev_fd);
    eddy_server_free(s); /* the test's copy of the listening socket */
    t->pid = pid;
    running = t;
}

static char *slurp(const char *path)
{
    char *s = test_read_file(path, NULL);
    return s ? s : strdup("");
}

/* Lines of the events file that start with prefix. */
static int ev_count(const tsrv_t *t, const char *prefix)
{
    char *all = slurp(t->events);
    int n = 0;
    size_t plen = strlen(prefix);
    for (char *line = all; *line;) {
        char *end = strchr(line, '\n');
        if (!end) break;
        n += strncmp(line, prefix, plen) == 0;
        line = end + 1;
    }
    free(all);
    return n;
}

static bool ev_wait(const tsrv_t *t, const char *prefix, int count, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    while (ev_count(t, prefix) < count) {
        if (now_ms() > deadline) {
            char *all = slurp(t->events);
            fprintf(stderr, "waited %d ms for %d x \"%s\"; events:\n%s", timeout_ms, count, prefix,
                    all);
            free(all);
            return false;
        }
        usleep(5000);
    }
    return true;
}

/* Ready as a user knows it: on_start in the master and on_worker_start in
 * every worker. (PROCESS mode: the manager forks the workers while the
 * master starts its reactors, so either may come first.) */
static void tsrv_ready(const tsrv_t *t)
{
    CHECK(ev_wait(t, "start pid=", 1, 5000));
    CHECK(ev_wait(t, "wstart", t->workers, 5000));
}

/* The pids of worker id in the order they started (id -1: any worker). */
static int worker_pids(const tsrv_t *t, const char *what, int id, pid_t *out, int max)
{
    char *all = slurp(t->events);
    int n = 0;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%s id=", what);
    for (char *line = all; *line && n < max;) {
        char *end = strchr(line, '\n');
        if (!end) break;
        *end = '\0';
        int wid, pid;
        if (strncmp(line, prefix, strlen(prefix)) == 0 &&
            sscanf(line + strlen(prefix), "%d pid=%d", &wid, &pid) == 2 && (id < 0 || wid == id))
            out[n++] = pid;
        line = end + 1;
    }
    free(all);
    return n;
}

static pid_t current_pid(const tsrv_t *t, int id)
{
    pid_t pids[64];
    int n = worker_pids(t, "wstart", id, pids, 64);
    return n > 0 ? pids[n - 1] : 0;
}

/* Wait for the master to exit; true if it did within timeout_ms. */
static bool tsrv_wait_exit(tsrv_t *t, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(t->pid, &t->status, WNOHANG);
        if (r == t->pid) return true;
        CHECK(r == 0);
        if (now_ms() > deadline) return false;
        usleep(2000);
    }
}

/* The sanitizers write their reports to stderr: a clean tree writes none. */
static void check_errlog(const tsrv_t *t)
{
    char *log = slurp(t->errlog);
    bool dirty = strstr(log, "Sanitizer") || strstr(log, "runtime error");
    if (dirty) fprintf(stderr, "server stderr:\n%s", log);
    free(log);
    CHECK(!dirty);
}

/* SIGTERM; the master must exit 0 within timeout_ms. Kills the group after. */
static void tsrv_stop(tsrv_t *t, int timeout_ms)
{
    long t0 = now_ms();
    CHECK_EQ(kill(t->pid, SIGTERM), 0);
    bool exited = tsrv_wait_exit(t, timeout_ms);
    if (!exited) fprintf(stderr, "master did not exit within %d ms\n", timeout_ms);
    CHECK(exited);
    if (!WIFEXITED(t->status) || WEXITSTATUS(t->status) != 0)
        fprintf(stderr, "master status 0x%x\n", t->status);
    CHECK(WIFEXITED(t->status) && WEXITSTATUS(t->status) == 0);
    kill(-t->pid, SIGKILL); /* nothing should be left; make sure */
    running = NULL;
    (void)t0;
    check_errlog(t);
}

/* ---- simple blocking clients --------------------------------------------- */

typedef struct who {
    int worker;
    pid_t pid;
    eddy_session_t sid;
} who_t;

static int cmd(int fd, const char *line, char *answer, size_t max)
{
    if (test_write_all(fd, line, strlen(line)) < 0) return -1;
    return test_read_line(fd, answer, max) < 0 ? -1 : 0;
}

static int who(int fd, who_t *w)
{
    char line[128];
    unsigned long long sid;
    if (cmd(fd, "WHO\n", line, sizeof line) < 0) return -1;
    if (sscanf(line, "worker %d pid %d sid %llx", &w->worker, &w->pid, &sid) != 3) return -1;
    w->sid = sid;
    return 0;
}

static int connect_who(const tsrv_t *t, who_t *w)
{
    int fd = test_connect(t->port, 3000);
    CHECK(fd >= 0);
    CHECK_EQ(who(fd, w), 0);
    return fd;
}

/* ---- the load generator -------------------------------------------------------- */

#define MAXC 64

/* K_UNSERVED: reset before the first answer — a connection that sat in the
 * accept queue of a listening socket that closed. */
enum { K_EOF = 1, K_RESET, K_HALF, K_STUCK, K_WRONG, K_UNSERVED };

typedef struct lc {
    int fd;
    pid_t pid; /* the worker serving this connection, from WHO */
    bool who;  /* WHO sent, answer pending */
    unsigned seq;
    char want[64];
    size_t wlen;
    char in[256];
    size_t inlen;
    long since;
} lc_t;

typedef struct load {
    int port, n;
    bool reconnect;
    lc_t c[MAXC];
    long answers, eofs, resets, half, stuck, wrong, unserved, refused, connects;
    struct {
        pid_t pid;
        int kind;
    } err[8192];
    int nerr;
} load_t;

static void lc_open(load_t *l, int i)
{
    lc_t *c = &l->c[i];
    memset(c, 0, sizeof *c);
    c->fd = test_connect(l->port, 2000);
    if (c->fd < 0) {
        l->refused++;
        return;
    }
    l->connects++;
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->who = true;
    c->since = now_ms();
    CHECK_EQ(send(c->fd, "WHO\n", 4, MSG_NOSIGNAL), 4);
}

static void lc_end(load_t *l, int i, int kind)
{
    lc_t *c = &l->c[i];
    if (kind) {
        if (kind == K_RESET && c->who) kind = K_UNSERVED;
        if (l->nerr < (int)(sizeof l->err / sizeof l->err[0])) {
            l->err[l->nerr].pid = c->pid;
            l->err[l->nerr].kind = kind;
            l->nerr++;
        }
        long *const counter[] = {NULL,      &l->eofs,  &l->resets,  &l->half,
                                 &l->stuck, &l->wrong, &l->unserved};
        (*counter[kind])++;
    }
    close(c->fd);
    c->fd = -1;
    if (l->reconnect) lc_open(l, i);
}

static void lc_request(load_t *l, int i)
{
    lc_t *c = &l->c[i];
    c->wlen = (size_t)snprintf(c->want, sizeof c->want, "ECHO %d %u\n", i, ++c->seq);
    c->since = now_ms();
    if (send(c->fd, c->want, c->wlen, MSG_NOSIGNAL) != (ssize_t)c->wlen) lc_end(l, i, K_RESET);
}

static void lc_readable(load_t *l, int i)
{
    lc_t *c = &l->c[i];
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) return lc_end(l, i, K_RESET);
    if (n == 0) return lc_end(l, i, c->inlen > 0 ? K_HALF : K_EOF);
    c->inlen += (size_t)n;
    char *nl;
    while (c->fd >= 0 && (nl = memchr(c->in, '\n', c->inlen))) {
        size_t len = (size_t)(nl - c->in) + 1;
        if (c->who) {
            int wid, pid;
            if (sscanf(c->in, "worker %d pid %d", &wid, &pid) != 2) return lc_end(l, i, K_WRONG);
            c->pid = pid;
            c->who = false;
        } else if (len != c->wlen || memcmp(c->in, c->want, len) != 0) {
            return lc_end(l, i, K_WRONG);
        } else {
            l->answers++;
        }
        memmove(c->in, c->in + len, c->inlen - len);
        c->inlen -= len;
        lc_request(l, i);
    }
}

static void load_start(load_t *l, int port, int n)
{
    memset(l, 0, sizeof *l);
    l->port = port;
    l->n = n;
    l->reconnect = true;
    for (int i = 0; i < n; i++)
        lc_open(l, i);
}

static int load_open(const load_t *l)
{
    int open = 0;
    for (int i = 0; i < l->n; i++)
        open += l->c[i].fd >= 0;
    return open;
}

/* Drive the connections for ms (until all are closed, without reconnect). */
static void load_run(load_t *l, int ms)
{
    long deadline = now_ms() + ms;
    while (now_ms() < deadline) {
        struct pollfd p[MAXC];
        int idx[MAXC], np = 0;
        for (int i = 0; i < l->n; i++) {
            if (l->c[i].fd < 0 && l->reconnect) lc_open(l, i);
            if (l->c[i].fd < 0) continue;
            if (now_ms() - l->c[i].since > 3000) {
                lc_end(l, i, K_STUCK);
                continue;
            }
            p[np].fd = l->c[i].fd;
            p[np].events = POLLIN;
            idx[np++] = i;
        }
        if (np == 0) {
            if (!l->reconnect) return;
            usleep(10000);
            continue;
        }
        int r = poll(p, (nfds_t)np, 20);
        CHECK(r >= 0 || errno == EINTR);
        for (int k = 0; k < np && r > 0; k++)
            if (p[k].revents) lc_readable(l, idx[k]);
    }
}

static void load_stop(load_t *l)
{
    l->reconnect = false;
    for (int i = 0; i < l->n; i++)
        if (l->c[i].fd >= 0) lc_end(l, i, 0);
}

static void load_print(const char *name, const load_t *l)
{
    printf("%s: %ld answers, %ld clean closes, %ld resets, %ld half answers, %ld stuck, %ld "
           "wrong, %ld connects, %ld refused, %ld reset unserved\n",
           name, l->answers, l->eofs, l->resets, l->half, l->stuck, l->wrong, l->connects,
           l->refused, l->unserved);
}

/* ---- tests ------------------------------------------------------------------ */

/* Whether a new connection reaches worker pid `want`. Workers share one
 * listening socket, and an idle one may win every accept: keep the `other`
 * worker busy (SPIN) while connecting. */
static bool reaches(const tsrv_t *t, pid_t want, pid_t other)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        who_t w;
        int fd = connect_who(t, &w);
        if (w.pid == want) {
            close(fd);
            return true;
        }
        CHECK_EQ(w.pid, other);
        CHECK_EQ(test_write_all(fd, "SPIN 300\n", 9), 0);
        usleep(50000);
        who_t v;
        int fd2 = connect_who(t, &v);
        char answer[16];
        CHECK(test_read_line(fd, answer, sizeof answer) > 0);
        close(fd);
        close(fd2);
        if (v.pid == want) return true;
    }
    return false;
}

/* The parent of a worker: the manager. */
static pid_t manager_pid(pid_t worker)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)worker);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    char *p = strrchr(buf, ')');
    int ppid = 0;
    CHECK(p && sscanf(p + 2, "%*c %d", &ppid) == 1);
    return ppid;
}

static void test_callbacks(void)
{
    char pid_file[160], log_file[160];
    snprintf(pid_file, sizeof pid_file, "%s/server.pid", tmpdir);
    snprintf(log_file, sizeof log_file, "%s/server.log", tmpdir);
    tsrv_t t;
    tsrv_start(&t, true, "pid_file", pid_file, "log_file", log_file, "log_level", "info", NULL);
    tsrv_ready(&t);

    /* on_start once, in the master; on_worker_start in two workers it forked. */
    char line[64];
    snprintf(line, sizeof line, "start pid=%d", (int)t.pid);
    /* (PROCESS mode: the master's on_start comes once its reactors run,
     * possibly after the workers, which the manager forked, have started.) */
    CHECK(ev_wait(&t, line, 1, 2000));
    CHECK_EQ(ev_count(&t, line), 1);
    pid_t w0 = current_pid(&t, 0), w1 = current_pid(&t, 1);
    CHECK(w0 > 0 && w1 > 0 && w0 != w1 && w0 != t.pid && w1 != t.pid);
    snprintf(line, sizeof line, "wstart id=0 pid=%d master=%d", (int)w0, (int)t.pid);
    CHECK_EQ(ev_count(&t, line), 1);
    snprintf(line, sizeof line, "wstart id=1 pid=%d master=%d", (int)w1, (int)t.pid);
    CHECK_EQ(ev_count(&t, line), 1);

    /* on_manager_start once, in the manager: the master in BASE mode. */
    pid_t manager = process_mode ? manager_pid(w0) : t.pid;
    CHECK(!process_mode || (manager != t.pid && manager_pid(w1) == manager));
    snprintf(line, sizeof line, "mstart pid=%d", (int)manager);
    CHECK_EQ(ev_count(&t, line), 1);
    CHECK_EQ(ev_count(&t, "mstart"), 1);

    /* The pid file names the master. */
    char *pid_text = slurp(pid_file);
    CHECK_EQ(atoi(pid_text), t.pid);
    free(pid_text);

    /* Log rotation: move the file away, SIGRTMIN, and the master writes a
     * new one (the workers are told too). */
    char old_log[180];
    snprintf(old_log, sizeof old_log, "%s.1", log_file);
    CHECK_EQ(rename(log_file, old_log), 0);
    CHECK_EQ(kill(t.pid, SIGRTMIN), 0);
    long deadline = now_ms() + 2000;
    while (access(log_file, F_OK) < 0 && now_ms() < deadline)
        usleep(2000);
    CHECK_EQ(access(log_file, F_OK), 0);
    char *log = slurp(old_log);
    CHECK(strstr(log, "worker #0 started") != NULL);
    free(log);

    /* connect, receive, close by the server: one session id throughout. */
    who_t a;
    int fd = connect_who(&t, &a);
    CHECK(a.pid == w0 || a.pid == w1);
    CHECK_EQ(a.worker, a.pid == w0 ? 0 : 1);
    if (!process_mode) CHECK_EQ((int)(a.sid >> 52), a.worker + 1); /* else a reactor's */
    char answer[64];
    CHECK_EQ(cmd(fd, "QUIT\n", answer, sizeof answer), 0);
    CHECK_STR(answer, "bye\n");
    int how = -1;
    CHECK_EQ(test_read_until_close(fd, answer, sizeof answer, &how), 0);
    CHECK_EQ(how, 0);
    close(fd);
    char sid_line[96];
    snprintf(sid_line, sizeof sid_line, "connect sid=%llx pid=%d", (unsigned long long)a.sid,
             (int)a.pid);
    CHECK(ev_wait(&t, sid_line, 1, 2000));
    snprintf(sid_line, sizeof sid_line, "receive sid=%llx len=4 pid=%d", (unsigned long long)a.sid,
             (int)a.pid);
    CHECK(ev_wait(&t, sid_line, 1, 2000));
    snprintf(sid_line, sizeof sid_line, "receive sid=%llx len=5 pid=%d", (unsigned long long)a.sid,
             (int)a.pid);
    CHECK(ev_wait(&t, sid_line, 1, 2000));
    snprintf(sid_line, sizeof sid_line, "close sid=%llx reason=%d err=0 pid=%d",
             (unsigned long long)a.sid, EDDY_CLOSE_GRACEFUL, (int)a.pid);
    CHECK(ev_wait(&t, sid_line, 1, 2000));

    /* closed by the client: reason peer. */
    who_t b;
    fd = connect_who(&t, &b);
    CHECK(b.sid != a.sid);
    close(fd);
    snprintf(sid_line, sizeof sid_line, "close sid=%llx reason=%d err=0 pid=%d",
             (unsigned long long)b.sid, EDDY_CLOSE_PEER, (int)b.pid);
    CHECK(ev_wait(&t, sid_line, 1, 2000));
    CHECK_EQ(ev_count(&t, "close sid="), 2);

    /* kill -9 a worker: on_worker_error in the master with pid and signal, and
     * a new worker #0 that answers WHO. */
    CHECK_EQ(kill(w0, SIGKILL), 0);
    /* by: the manager (the master itself in BASE mode) */
    snprintf(line, sizeof line, "werror id=0 pid=%d code=-1 sig=9 by=%d", (int)w0,
             (int)(process_mode ? manager_pid(w1) : t.pid));
    CHECK(ev_wait(&t, line, 1, 3000));
    CHECK(ev_wait(&t, "wstart id=0", 2, 3000));
    pid_t w0b = current_pid(&t, 0);
    CHECK(w0b != w0 && w0b > 0);
    CHECK(reaches(&t, w0b, w1));
    CHECK_EQ(ev_count(&t, "werror"), 1);

    /* SIGTERM: on_worker_stop in each live worker, then on_shutdown last. */
    tsrv_stop(&t, 3000);
    snprintf(line, sizeof line, "wstop id=0 pid=%d", (int)w0b);
    CHECK_EQ(ev_count(&t, line), 1);
    snprintf(line, sizeof line, "wstop id=1 pid=%d", (int)w1);
    CHECK_EQ(ev_count(&t, line), 1);
    CHECK_EQ(ev_count(&t, "wstop"), 2); /* none for the worker killed by -9 */
    snprintf(line, sizeof line, "mstop pid=%d", (int)manager);
    CHECK_EQ(ev_count(&t, line), 1);
    char *all = slurp(t.events);
    snprintf(line, sizeof line, "shutdown pid=%d\n", (int)t.pid);
    char *last = strstr(all, line);
    CHECK(last != NULL && last[strlen(line)] == '\0'); /* the very last event */
    free(all);

    /* pid_file removed; log_file written by the master and the workers. */
    CHECK(access(pid_file, F_OK) < 0 && errno == ENOENT);
    log = slurp(log_file);
    char started_line[64];
    snprintf(started_line, sizeof started_line, "worker #0 started (pid %d)", (int)w0);
    CHECK(strstr(log, started_line) == NULL); /* that went to the old file */
    snprintf(started_line, sizeof started_line, "worker #0 started (pid %d)", (int)w0b);
    CHECK(strstr(log, started_line) != NULL); /* its successor's, to the new one */
    CHECK(strstr(log, "shutting down") != NULL);
    CHECK(strstr(log, "exited unexpectedly") != NULL);
    free(log);
}

static void test_stale_session(void)
{
    tsrv_t t;
    tsrv_start(&t, true, "worker_num", "1", NULL);
    tsrv_ready(&t);
    /* A new connection gets the descriptor of one that just closed, so only
     * the generation tells the two sessions apart. (In PROCESS mode a
     * reactor thread may take the free descriptor first for a timer of its
     * own: then try again with a fresh pair.) */
    who_t a, b;
    int fb = -1;
    char line[96];
    for (int round = 0; round < 10; round++) {
        int fa = connect_who(&t, &a);
        close(fa);
        snprintf(line, sizeof line, "close sid=%llx", (unsigned long long)a.sid);
        CHECK(ev_wait(&t, line, 1, 2000));
        fb = connect_who(&t, &b);
        if (((b.sid >> 32) & 0xfffff) == ((a.sid >> 32) & 0xfffff)) break;
        close(fb);
        snprintf(line, sizeof line, "close sid=%llx", (unsigned long long)b.sid);
        CHECK(ev_wait(&t, line, 1, 2000));
    }
    CHECK_EQ((b.sid >> 32) & 0xfffff, (a.sid >> 32) & 0xfffff);
    CHECK(b.sid != a.sid);
    char req[64], answer[128];
    snprintf(req, sizeof req, "SENDTO %llx\n", (unsigned long long)a.sid);
    CHECK_EQ(cmd(fb, req, answer, sizeof answer), 0);
    char want[128];
    snprintf(want, sizeof want, "rc %d exists 0 close %d info %d pause %d\n", -EDDY_ESESSION,
             -EDDY_ESESSION, -EDDY_ESESSION, -EDDY_ESESSION);
    CHECK_STR(answer, want);
    /* Ids that were never issued: zero, another worker's, a far fd. */
    const unsigned long long bogus[] = {0, b.sid + ((unsigned long long)1 << 52),
                                        b.sid ^ ((unsigned long long)0x7ff << 32), b.sid + 1};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
        snprintf(req, sizeof req, "SENDTO %llx\n", bogus[i]);
        CHECK_EQ(cmd(fb, req, answer, sizeof answer), 0);
        CHECK_STR(answer, want);
    }
    /* Nothing meant for the stale session reached b: the next bytes b sees
     * are the answer to its own next request. */
    CHECK_EQ(cmd(fb, "ECHO after\n", answer, sizeof answer), 0);
    CHECK_STR(answer, "ECHO after\n");
    /* The control: b's own id does reach b. */
    snprintf(req, sizeof req, "SENDTO %llx\n", (unsigned long long)b.sid);
    CHECK_EQ(cmd(fb, req, answer, sizeof answer), 0);
    CHECK_STR(answer, "stale\n");
    CHECK_EQ(test_read_line(fb, answer, sizeof answer), 5);
    CHECK_STR(answer, "rc 0\n");
    close(fb);
    tsrv_stop(&t, 3000);
}

/* Request and junk in one send, wait 10 ms, read to the end: every byte,
 * then a clean EOF (see close_lingering.c). */
static void test_send_then_close(void)
{
    tsrv_t t;
    tsrv_start(&t, false, NULL);
    tsrv_ready(&t);
    static const size_t sizes[] = {100, 64 * 1024, BIG};
    static char junk[64 * 1024], got[BIG];
    memset(junk, 'j', sizeof junk);
    int trials = 0, intact = 0;
    for (int s = 0; s < 3; s++) {
        for (int trial = 0; trial < 4; trial++) {
            int fd = test_connect(t.port, 5000);
            CHECK(fd >= 0);
            int rlen = snprintf(junk, 32, "GET %zu\n", sizes[s]);
            junk[rlen] = 'j';
            ssize_t w = send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
            CHECK(w >= rlen);
            usleep(10000);
            int how = -1;
            size_t n = test_read_until_close(fd, got, sizeof got, &how);
            close(fd);
            trials++;
            if (n == sizes[s] && memcmp(got, pattern, n) == 0 && how == 0)
                intact++;
            else
                fprintf(stderr, "GET %zu: %zu bytes, end %s\n", sizes[s], n,
                        how ? strerror(how) : "EOF");
        }
    }
    printf("send then close: %d of %d replies intact with a clean EOF\n", intact, trials);
    CHECK_EQ(intact, trials);
    tsrv_stop(&t, 3000);
    CHECK_EQ(ev_count(&t, "close"), 0); /* all graceful (only others are logged) */
}

/* kill -9 one worker under load: the master restarts it; only the dead
 * worker's connections may end badly. (enable_reuse_port spreads the
 * connections over the three workers; a shared socket may give them all to
 * one.) */
static void test_kill_worker_under_load(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "worker_num", "3", "enable_reuse_port", "1", NULL);
    tsrv_ready(&t);
    pid_t victim = current_pid(&t, 0);
    static load_t l;
    load_start(&l, t.port, 40);
    load_run(&l, 500);
    long before = l.answers;
    int on_victim = 0;
    for (int i = 0; i < l.n; i++)
        on_victim += l.c[i].fd >= 0 && l.c[i].pid == victim;
    CHECK_EQ(l.nerr, 0);
    CHECK(on_victim > 0 && on_victim < l.n);
    CHECK_EQ(kill(victim, SIGKILL), 0);
    CHECK(ev_wait(&t, "wstart id=0", 2, 3000));
    pid_t successor = current_pid(&t, 0);
    load_run(&l, 1000);
    load_print("kill -9 under load", &l);
    printf("kill -9 under load: %d connections were on the killed worker, %ld answers before\n",
           on_victim, before);
    /* Each connection SIGKILL cut was the victim's — or was still in the
     * victim's accept queue (unserved: reset before the first answer). */
    for (int i = 0; i < l.nerr; i++) {
        if (l.err[i].pid != victim && l.err[i].kind != K_UNSERVED)
            fprintf(stderr, "error kind %d on pid %d\n", l.err[i].kind, (int)l.err[i].pid);
        CHECK(l.err[i].pid == victim || l.err[i].kind == K_UNSERVED);
    }
    CHECK(l.eofs + l.resets + l.half <= on_victim);
    CHECK_EQ(l.stuck + l.wrong, 0);
    /* PROCESS mode: the connections live in the master; a request lost with
     * the worker ends with a clean close, never a reset. */
    if (process_mode) CHECK_EQ(l.resets + l.half + l.unserved, 0);
    CHECK(l.answers > before + 100);
    /* The successor serves. */
    bool served = false;
    for (int i = 0; i < l.n; i++)
        served |= l.c[i].fd >= 0 && l.c[i].pid == successor;
    int fds[40], nfds = 0;
    for (; !served && nfds < 40; nfds++) {
        who_t w;
        fds[nfds] = connect_who(&t, &w);
        served = w.pid == successor;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    CHECK(served);
    load_stop(&l);
    CHECK_EQ(ev_count(&t, "werror id=0"), 1);
    tsrv_stop(&t, 3000);
}

/* The number after "NAME:" in /proc/PID/status (VmRSS in kB, the real Uid
 * first of the four), or -1. */
static long proc_status(pid_t pid, const char *name)
{
    char path[64], key[32];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(key, sizeof key, "\n%s:", name);
    char *buf = test_read_file(path, NULL);
    if (!buf) return -1;
    char *p = strstr(buf, key);
    long v = p ? atol(p + strlen(key)) : -1;
    free(buf);
    return v;
}

/* A client that sends requests for 64 KiB replies and never reads: the
 * worker must refuse to queue beyond socket_buffer_size and close, so its
 * memory stays bounded. */
static void test_flood_bounded(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "worker_num", "1", "socket_buffer_size", "262144", "close_flush_timeout",
               "1000", NULL);
    tsrv_ready(&t);
    pid_t worker = current_pid(&t, 0);
    /* Warm up: one big reply read in full, so the baseline includes the
     * worker's buffers. */
    int fd = test_connect(t.port, 3000);
    CHECK(fd >= 0);
    CHECK_EQ(test_write_all(fd, "GET 200000\n", 11), 0);
    static char got[1 << 20];
    int how;
    CHECK_EQ(test_read_until_close(fd, got, sizeof got, &how), 200000);
    close(fd);
    long base = proc_status(worker, "VmRSS");
    CHECK(base > 0);

    /* 3000 requests for 64 KiB each: 192 MiB if the worker queued them all. */
    fd = test_connect(t.port, 3000);
    CHECK(fd >= 0);
    int nreq = 3000;
    static char reqs[3000 * 10];
    for (int i = 0; i < nreq; i++)
        memcpy(reqs + i * 10, "BIG 65536\n", 10);
    size_t off = 0;
    long peak = base, deadline = now_ms() + 3000;
    while (now_ms() < deadline) {
        if (off < sizeof reqs) {
            ssize_t w = send(fd, reqs + off, sizeof reqs - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) off += (size_t)w;
        }
        long rss = proc_status(worker, "VmRSS");
        if (rss > peak) peak = rss;
        if (ev_count(&t, "close") > 0) break;
        usleep(20000);
    }
    printf("flood: sent %zu of %zu request bytes; worker RSS %ld KiB at rest, peak %ld KiB\n", off,
           sizeof reqs, base, peak);
    CHECK(peak - base < 32 * 1024);
    /* The worker gave up on the connection: the send was refused, and the
     * close could not flush to a client that does not read. */
    CHECK(ev_wait(&t, "full", 1, 2000));
    CHECK_EQ(ev_count(&t, "full sid="), 1);
    char *full = slurp(t.events), want[32];
    snprintf(want, sizeof want, " rc=%d ", -EDDY_EOUTPUT_FULL);
    CHECK(strstr(full, want) != NULL);
    free(full);
    CHECK(ev_wait(&t, "close", 1, 3000));
    CHECK_EQ(ev_count(&t, "close"), 1);
    /* Reset when the queue could not be flushed (flush_timeout), or flushed
     * into the kernel's buffers and then given up on (linger_timeout). */
    char *all = slurp(t.events);
    CHECK(strstr(all, "reason=3 ") || strstr(all, "reason=4 "));
    free(all);
    close(fd);
    tsrv_stop(&t, 3000);
}

/* enable_reuse_port: each worker (BASE) or reactor (PROCESS) binds its own
 * socket; every connection must be served, and by both workers. The
 * connections stay open together: closed one by one, a PROCESS-mode reactor
 * may give each the same descriptor, and fd-modulo dispatch then sends every
 * one to the same worker (seen once in CI). */
static void test_reuse_port(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "enable_reuse_port", "1", NULL);
    /* Connections queue from the moment the port is bound, as on a shared
     * socket, though each worker (PROCESS: reactor) listens on its own:
     * when the master only held the port until they did, this connection,
     * made before any worker ran, was refused. */
    int early = test_connect(t.port, 3000);
    CHECK(early >= 0);
    tsrv_ready(&t);
    pid_t w0 = current_pid(&t, 0), w1 = current_pid(&t, 1);
    who_t first;
    CHECK_EQ(who(early, &first), 0);
    CHECK(first.pid == w0 || first.pid == w1);
    close(early);
    enum { NCONN = 40 };
    int fds[NCONN], served[2] = {0, 0}, unanswered = 0;
    for (int i = 0; i < NCONN; i++) {
        fds[i] = test_connect(t.port, 1000);
        CHECK(fds[i] >= 0);
    }
    for (int i = 0; i < NCONN; i++) {
        who_t w;
        if (who(fds[i], &w) < 0) {
            unanswered++;
        } else {
            CHECK(w.pid == w0 || w.pid == w1);
            served[w.pid == w1]++;
        }
    }
    for (int i = 0; i < NCONN; i++)
        close(fds[i]);
    printf("reuse_port: worker 0 served %d, worker 1 served %d, %d unanswered\n", served[0],
           served[1], unanswered);
    CHECK_EQ(unanswered, 0);
    CHECK(served[0] > 0 && served[1] > 0);
    tsrv_stop(&t, 3000);
    /* BASE mode says at start when the kernel will not hand a leaving
     * worker's queued connections to the others. */
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "r");
    bool migrate_off = f && fgetc(f) == '0';
    if (f) fclose(f);
    char *log = slurp(t.errlog);
    bool noted = strstr(log, "tcp_migrate_req is 0") != NULL;
    free(log);
    CHECK_EQ(noted, migrate_off && !process_mode);
}

/* A server restarted on its port at once, with the previous one's closed
 * connections in TIME_WAIT (the server closed first), with and without
 * enable_reuse_port. */
static void test_restart_same_port(void)
{
    for (int reuse = 0; reuse < 2; reuse++) {
        tsrv_t t;
        tsrv_start(&t, false, "enable_reuse_port", reuse ? "1" : "0", NULL);
        tsrv_ready(&t);
        for (int i = 0; i < 5; i++) {
            int fd = test_connect(t.port, 3000);
            CHECK_EQ(test_write_all(fd, "GET 10\n", 7), 0);
            char buf[16];
            int how;
            CHECK_EQ(test_read_until_close(fd, buf, sizeof buf, &how), 10);
            close(fd);
        }
        tsrv_stop(&t, 3000);
        char url[64];
        snprintf(url, sizeof url, "tcp://127.0.0.1:%d", t.port);
        tsrv_t again;
        tsrv_start(&again, false, "enable_reuse_port", reuse ? "1" : "0", "listen", url, NULL);
        CHECK_EQ(again.port, t.port);
        CHECK(ev_wait(&again, "wstart", 2, 5000));
        who_t w;
        close(connect_who(&again, &w));
        tsrv_stop(&again, 3000);
    }
}

/* A unix:// stream port and a udp:// port beside the tcp one; the socket
 * file is removed at shutdown. */
static void test_unix_and_udp_ports(void)
{
    char path[160], unix_url[180];
    snprintf(path, sizeof path, "%s/server.sock", tmpdir);
    snprintf(unix_url, sizeof unix_url, "unix://%s", path);
    for (int reuse = 0; reuse < 2; reuse++) {
        tsrv_t t;
        tsrv_start(&t, false, "enable_reuse_port", reuse ? "1" : "0", "listen", "tcp://127.0.0.1:0",
                   "listen", unix_url, "listen", "udp://127.0.0.1:0", NULL);
        tsrv_ready(&t);
        /* unix */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        CHECK(strlen(path) < sizeof sun.sun_path);
        memcpy(sun.sun_path, path, strlen(path) + 1);
        CHECK_EQ(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
        struct timeval tv = {.tv_sec = 3};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        who_t w;
        CHECK_EQ(who(fd, &w), 0);
        CHECK(w.worker == 0 || w.worker == 1);
        close(fd);
        /* udp: a datagram is answered by a worker through the same port. */
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t.ports[2])};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < 5; i++) {
            CHECK_EQ(sendto(u, "hello", 5, 0, (struct sockaddr *)&sin, sizeof sin), 5);
            char buf[64];
            ssize_t n = recv(u, buf, sizeof buf - 1, 0);
            CHECK(n > 0);
            buf[n] = '\0';
            CHECK(strcmp(buf, "pkt 0 hello") == 0 || strcmp(buf, "pkt 1 hello") == 0);
        }
        close(u);
        tsrv_stop(&t, 3000);
        CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    }
}

static bool gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* A master killed by SIGKILL leaves no worker behind. */
static void test_orphans(void)
{
    tsrv_t t;
    tsrv_start(&t, false, NULL);
    tsrv_ready(&t);
    pid_t w[2] = {current_pid(&t, 0), current_pid(&t, 1)};
    who_t x;
    int fd = connect_who(&t, &x);
    CHECK_EQ(kill(t.pid, SIGKILL), 0);
    CHECK(tsrv_wait_exit(&t, 2000));
    /* This process is the subreaper: the orphans become its children. */
    long deadline = now_ms() + 4000;
    int left = 2;
    while (left > 0 && now_ms() < deadline) {
        /* In PROCESS mode their parent is the manager, which reaps them. */
        for (int i = 0; i < 2; i++)
            if (w[i] > 0 && (waitpid(w[i], NULL, WNOHANG) == w[i] || gone(w[i]))) w[i] = 0, left--;
        usleep(10000);
    }
    if (left) fprintf(stderr, "%d workers outlived their master\n", left);
    int how;
    char buf[64];
    test_read_until_close(fd, buf, sizeof buf, &how);
    close(fd);
    running = NULL;
    kill(-t.pid, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (w[i] > 0) waitpid(w[i], NULL, 0);
    CHECK_EQ(left, 0);
    CHECK_EQ(how, 0); /* the workers left gracefully */
}

/* Reload under load (SIGUSR1, or eddy_server_reload from a worker; one by
 * one or all at once): every worker is replaced, and no request is lost
 * halfway — each gets its answer, or its connection ends with a clean EOF
 * between answers. Never a reset. */
static void reload_under_load(const char *name, bool async, bool via_api, bool reuse_port)
{
    tsrv_t t;
    const char *workers = getenv("EDDY_TEST_WORKERS") ? getenv("EDDY_TEST_WORKERS") : "2";
    tsrv_start(&t, false, "reload_async", async ? "1" : "0", "enable_reuse_port",
               reuse_port ? "1" : "0", "worker_num", workers, NULL);
    tsrv_ready(&t);
    pid_t old[2] = {current_pid(&t, 0), t.workers > 1 ? current_pid(&t, 1) : -1};
    static load_t l;
    load_start(&l, t.port, 30);
    load_run(&l, 300);
    CHECK_EQ(l.nerr, 0);
    CHECK_EQ(load_open(&l), 30);
    long before = l.answers;
    long t0 = now_ms();
    if (via_api) {
        int fd = test_connect(t.port, 3000);
        char answer[32];
        CHECK_EQ(cmd(fd, "RELOAD\n", answer, sizeof answer), 0);
        CHECK_STR(answer, "reload 0\n");
        close(fd);
    } else {
        CHECK_EQ(kill(t.pid, SIGUSR1), 0);
    }
    long done = 0;
    int churn = 0, churn_failed = 0, churn_reset = 0;
    while (now_ms() - t0 < 8000) {
        load_run(&l, 20);
        /* New connections during the reload: each is served, none refused
         * or reset (a listening socket closed with connections in its
         * queue would reset them). */
        for (int i = 0; i < 5; i++, churn++) {
            int fd = test_connect(t.port, 2000);
            who_t w;
            errno = 0;
            if (fd < 0 || who(fd, &w) < 0) errno == ECONNRESET ? churn_reset++ : churn_failed++;
            if (fd >= 0) close(fd);
        }
        if (!done && gone(old[0]) && (old[1] < 0 || gone(old[1])) &&
            ev_count(&t, "wstart") >= 2 * t.workers)
            done = now_ms();
        if (done && now_ms() - done > 300) break;
    }
    load_stop(&l);
    load_print(name, &l);
    printf("%s: reload took %ld ms, %ld answers after it began; of %d new connections %d were "
           "reset, %d refused or closed unanswered\n",
           name, done ? done - t0 : -1, l.answers - before, churn, churn_reset, churn_failed);
    CHECK_EQ(churn_failed, 0);
    CHECK(done);
    pid_t now[2] = {current_pid(&t, 0), t.workers > 1 ? current_pid(&t, 1) : -1};
    CHECK(now[0] != old[0]);
    CHECK(t.workers < 2 || (now[1] != old[1] && now[0] != now[1]));
    CHECK_EQ(l.resets + l.half + l.stuck + l.wrong + l.refused, 0);
    /* With enable_reuse_port each worker has its own listening socket, and
     * the kernel resets the connections still in a closing socket's accept
     * queue (unless net.ipv4.tcp_migrate_req=1): possible, and counted, only
     * there. With the shared socket, never. */
    if (!reuse_port) CHECK_EQ(l.unserved + churn_reset, 0);
    CHECK(l.answers - before > 100);
    CHECK_EQ(ev_count(&t, "werror"), 0);
    /* Only the new workers answer now. */
    for (int i = 0; i < 10; i++) {
        who_t w;
        close(connect_who(&t, &w));
        CHECK(w.pid == now[0] || w.pid == now[1]);
    }
    tsrv_stop(&t, 3000);
}

static void test_reload_sigusr1(void)
{
    reload_under_load("SIGUSR1 reload", false, false, false);
}

static void test_reload_reuse_port(void)
{
    reload_under_load("SIGUSR1 reload, reuse_port", false, false, true);
}

static void test_reload_async_api(void)
{
    reload_under_load("async reload (API)", true, true, false);
}

/* A reload while a worker's restart is held back (it crashed twice right
 * after starting) skips that slot and goes on with the others. */
static void test_reload_during_backoff(void)
{
    tsrv_t t;
    tsrv_start(&t, false, NULL);
    tsrv_ready(&t);
    pid_t w1 = current_pid(&t, 1);
    CHECK_EQ(kill(current_pid(&t, 0), SIGKILL), 0);
    CHECK(ev_wait(&t, "wstart id=0", 2, 3000)); /* restarted at once */
    CHECK_EQ(kill(current_pid(&t, 0), SIGKILL), 0);
    CHECK(ev_wait(&t, "werror id=0", 2, 3000)); /* a second quick death: held back */
    CHECK_EQ(ev_count(&t, "wstart id=0"), 2);
    CHECK_EQ(kill(t.pid, SIGUSR1), 0);
    CHECK(ev_wait(&t, "wstart id=1", 2, 3000)); /* worker 1 replaced all the same */
    CHECK(current_pid(&t, 1) != w1);
    CHECK(ev_wait(&t, "wstart id=0", 3, 3000)); /* and worker 0 back after the pause */
    /* The reload finished: another one runs. */
    usleep(100000);
    CHECK_EQ(kill(t.pid, SIGUSR1), 0);
    CHECK(ev_wait(&t, "wstart id=0", 4, 3000));
    CHECK(ev_wait(&t, "wstart id=1", 3, 3000));
    CHECK_EQ(ev_count(&t, "werror"), 2);
    tsrv_stop(&t, 3000);
}

/* max_request 50: workers retire and are replaced under load, never with a
 * reset, and a retirement is not an error. */
static void test_max_request(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "max_request", "50", NULL);
    tsrv_ready(&t);
    pid_t old[2] = {current_pid(&t, 0), current_pid(&t, 1)};
    static load_t l;
    load_start(&l, t.port, 10);
    long t0 = now_ms();
    while (now_ms() - t0 < 6000 && (ev_count(&t, "wstop") < 2 || ev_count(&t, "wstart") < 4))
        load_run(&l, 50);
    load_run(&l, 200);
    load_stop(&l);
    load_print("max_request 50", &l);
    printf("max_request 50: %d workers started, %d retired\n", ev_count(&t, "wstart"),
           ev_count(&t, "wstop"));
    CHECK(ev_count(&t, "wstop") >= 2);
    CHECK_EQ(l.resets + l.half + l.stuck + l.wrong + l.unserved, 0);
    CHECK_EQ(ev_count(&t, "werror"), 0);
    bool fresh = false;
    for (int i = 0; i < 10 && !fresh; i++) {
        who_t w;
        close(connect_who(&t, &w));
        fresh = w.pid != old[0] && w.pid != old[1];
    }
    CHECK(fresh);
    tsrv_stop(&t, 3000);
}

static void read_slow_reply(int fd, const char *what)
{
    char line[64];
    ssize_t n = test_read_line(fd, line, sizeof line);
    if (n < 0 || strcmp(line, "slow done\n") != 0)
        fprintf(stderr, "%s: no reply (%s)\n", what, n < 0 ? strerror(errno) : line);
    CHECK(n > 0);
    CHECK_STR(line, "slow done\n");
    int how = -1;
    CHECK_EQ(test_read_until_close(fd, line, sizeof line, &how), 0);
    CHECK_EQ(how, 0);
    close(fd);
}

/* SIGTERM under load: replies in flight (1.5 s to compute) are delivered,
 * no connection is reset, the master exits 0 within max_wait_time. */
static void test_shutdown_under_load(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "max_wait_time", "2", NULL);
    tsrv_ready(&t);
    static load_t l;
    load_start(&l, t.port, 20);
    load_run(&l, 300);
    int slow[8];
    for (int i = 0; i < 8; i++) {
        slow[i] = test_connect(t.port, 5000);
        CHECK(slow[i] >= 0);
        CHECK_EQ(test_write_all(slow[i], "SLOW 1500\n", 10), 0);
    }
    load_run(&l, 100);
    long t0 = now_ms();
    CHECK_EQ(kill(t.pid, SIGTERM), 0);
    l.reconnect = false;
    load_run(&l, 5000);
    load_print("SIGTERM under load", &l);
    for (int i = 0; i < 8; i++)
        read_slow_reply(slow[i], "SIGTERM");
    bool exited = tsrv_wait_exit(&t, 4000);
    long took = now_ms() - t0;
    printf("SIGTERM under load: master exited after %ld ms (max_wait_time 2 s)\n", took);
    CHECK(exited);
    CHECK(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
    CHECK(took < 2000 + 1500);
    CHECK_EQ(load_open(&l), 0);
    CHECK_EQ(l.resets + l.half + l.stuck + l.wrong + l.unserved, 0);
    CHECK_EQ(ev_count(&t, "slowlost"), 0);
    CHECK_EQ(ev_count(&t, "wstop"), 2);
    CHECK_EQ(ev_count(&t, "shutdown"), 1);
    running = NULL;
    kill(-t.pid, SIGKILL);
    check_errlog(&t);
}

/* A second SIGTERM during a slow shutdown forces it. */
static void test_second_sigterm(void)
{
    tsrv_t t;
    tsrv_start(&t, false, "worker_num", "1", "max_wait_time", "30", "linger_timeout", "20000",
               NULL);
    tsrv_ready(&t);
    int fd = test_connect(t.port, 3000);
    CHECK(fd >= 0);
    CHECK_EQ(test_write_all(fd, "SLOW 60000\n", 11), 0);
    usleep(100000);
    CHECK_EQ(kill(t.pid, SIGTERM), 0);
    CHECK(!tsrv_wait_exit(&t, 1500)); /* still finishing */
    long t0 = now_ms();
    CHECK_EQ(kill(t.pid, SIGTERM), 0);
    bool exited = tsrv_wait_exit(&t, 2000);
    printf("second SIGTERM: master exited %ld ms after it\n", now_ms() - t0);
    CHECK(exited);
    CHECK(WIFEXITED(t.status));
    close(fd);
    running = NULL;
    kill(-t.pid, SIGKILL);
    check_errlog(&t);
}

/* Ctrl-C reaches the whole process group: the workers must not die of it,
 * the master shuts the tree down gracefully. */
static void test_sigint_group(void)
{
    tsrv_t t;
    tsrv_start(&t, false, NULL);
    tsrv_ready(&t);
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = test_connect(t.port, 5000);
        CHECK(fds[i] >= 0);
        CHECK_EQ(test_write_all(fds[i], "SLOW 500\n", 9), 0);
    }
    usleep(50000);
    CHECK_EQ(kill(-t.pid, SIGINT), 0);
    for (int i = 0; i < 6; i++)
        read_slow_reply(fds[i], "SIGINT");
    CHECK(tsrv_wait_exit(&t, 3000));
    CHECK(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
    CHECK_EQ(ev_count(&t, "werror"), 0);
    CHECK_EQ(ev_count(&t, "wstop"), 2);
    running = NULL;
    kill(-t.pid, SIGKILL);
    check_errlog(&t);
}

/* Not run by default (name it): new connections as fast as one client can
 * make them while the workers are reloaded every 100 ms for 3 s.
 * EDDY_TEST_WORKERS, EDDY_TEST_REUSE=1 choose the set-up. */
static void stress_reload(void)
{
    const char *workers = getenv("EDDY_TEST_WORKERS") ? getenv("EDDY_TEST_WORKERS") : "2";
    const char *reuse = getenv("EDDY_TEST_REUSE") ? getenv("EDDY_TEST_REUSE") : "0";
    tsrv_t t;
    tsrv_start(&t, false, "worker_num", workers, "enable_reuse_port", reuse, "reload_async", "1",
               NULL);
    tsrv_ready(&t);
    long t0 = now_ms(), next = t0;
    int ok = 0, refused = 0, reset = 0, eof = 0;
    while (now_ms() - t0 < 3000) {
        if (now_ms() >= next) {
            kill(t.pid, SIGUSR1);
            next += 100;
        }
        int fd = test_connect(t.port, 2000);
        who_t w;
        errno = 0;
        if (fd < 0)
            refused++;
        else if (who(fd, &w) == 0)
            ok++;
        else if (errno == ECONNRESET)
            reset++;
        else
            eof++;
        if (fd >= 0) close(fd);
    }
    printf("stress reload (workers %s, reuse_port %s): %d served, %d refused, %d reset, %d "
           "closed unanswered; %d workers started\n",
           workers, reuse, ok, refused, reset, eof, ev_count(&t, "wstart"));
    tsrv_stop(&t, 5000);
}

static void read_text(const char *path, char *out, size_t max)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)max, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* daemonize + pid_file + user/group (when the test runs as root): the
 * master detaches (the process that called eddy_server_start returns at
 * once), names itself in the pid file, and every process of the tree runs
 * as nobody with its title set. */
static void test_daemonize_user(void)
{
    char pid_file[160], log_file[160];
    snprintf(pid_file, sizeof pid_file, "%s/daemon.pid", tmpdir);
    snprintf(log_file, sizeof log_file, "%s/daemon.log", tmpdir);
    bool root = geteuid() == 0;
    tsrv_t t;
    if (root)
        tsrv_start(&t, false, "daemonize", "1", "pid_file", pid_file, "log_file", log_file, "user",
                   "nobody", "group", "nogroup", NULL);
    else
        tsrv_start(&t, false, "daemonize", "1", "pid_file", pid_file, "log_file", log_file, NULL);
    CHECK(tsrv_wait_exit(&t, 3000)); /* the caller's process: gone at once */
    CHECK(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
    running = NULL;
    tsrv_ready(&t);
    char text[64];
    read_text(pid_file, text, sizeof text);
    pid_t master = atoi(text);
    CHECK(master > 0 && master != t.pid);
    CHECK(getsid(master) != getsid(0)); /* a session of its own, no terminal */
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)master);
    read_text(path, text, sizeof text);
    CHECK_STR(text, "eddy: master");
    pid_t w0 = current_pid(&t, 0);
    snprintf(path, sizeof path, "/proc/%d/comm", (int)w0);
    read_text(path, text, sizeof text);
    CHECK_STR(text, "eddy: worker 0");
    if (process_mode) {
        snprintf(path, sizeof path, "/proc/%d/comm", (int)manager_pid(w0));
        read_text(path, text, sizeof text);
        CHECK_STR(text, "eddy: manager");
    }
    if (root) {
        CHECK_EQ(proc_status(master, "Uid"), 65534);
        CHECK_EQ(proc_status(w0, "Uid"), 65534);
        CHECK_EQ(proc_status(current_pid(&t, 1), "Uid"), 65534);
    }
    who_t w;
    close(connect_who(&t, &w));
    CHECK(w.pid == w0 || w.pid == current_pid(&t, 1));
    CHECK_EQ(kill(master, SIGTERM), 0);
    long deadline = now_ms() + 5000;
    while (!gone(master) && now_ms() < deadline) {
        waitpid(master, NULL, WNOHANG); /* this process is the subreaper */
        usleep(10000);
    }
    CHECK(gone(master));
    char *log = slurp(log_file); /* written as nobody, through the fd opened as root */
    CHECK(strstr(log, "shutting down") != NULL);
    free(log);
}

/* Arguments name the tests to run (all by default). */
static int nselect;
static char **select_names;

static bool selected(const char *name)
{
    for (int i = 0; i < nselect; i++)
        if (strcmp(select_names[i], name) == 0) return true;
    return nselect == 0;
}

#define RUN_SELECTED(fn)                                                                           \
    do {                                                                                           \
        if (selected(#fn)) RUN(fn);                                                                \
    } while (0)

int main(int argc, char **argv)
{
    nselect = argc - 1;
    select_names = argv + 1;
    test_pid = getpid();
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)('a' + i % 26);
    CHECK(mkdtemp(tmpdir) != NULL);
    atexit(kill_running);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    RUN_SELECTED(test_callbacks);
    RUN_SELECTED(test_stale_session);
    RUN_SELECTED(test_send_then_close);
    RUN_SELECTED(test_kill_worker_under_load);
    if (!process_mode) RUN_SELECTED(test_flood_bounded); /* the worker's memory */
    RUN_SELECTED(test_reuse_port);
    RUN_SELECTED(test_restart_same_port);
    RUN_SELECTED(test_unix_and_udp_ports);
    RUN_SELECTED(test_orphans);
    RUN_SELECTED(test_reload_sigusr1);
    RUN_SELECTED(test_reload_async_api);
    RUN_SELECTED(test_reload_reuse_port);
    RUN_SELECTED(test_reload_during_backoff);
    RUN_SELECTED(test_max_request);
    RUN_SELECTED(test_shutdown_under_load);
    RUN_SELECTED(test_second_sigterm);
    RUN_SELECTED(test_sigint_group);
    RUN_SELECTED(test_daemonize_user);
#ifdef SERVER_EXTRA_TESTS
    SERVER_EXTRA_TESTS();
#endif
    if (nselect > 0) RUN_SELECTED(stress_reload);
    return 0; /* kill_running removes tmpdir */
}
