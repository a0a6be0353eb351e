/*
 * eddy_loop: io watchers on pipes and socketpairs (level and edge triggered,
 * modify, remove, errors, hangup, stale events after removal and fd reuse),
 * eddy_defer ordering, eddy_loop_post from many threads, eddy_loop_stop,
 * run / run_once termination, the cached clock and the cached date.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/loop.h"
#include "test.h"

#define MAX_CALLS 64

/* What an io callback saw. */
typedef struct io_rec {
    int calls;
    unsigned events[MAX_CALLS];
    int fds[MAX_CALLS];
} io_rec_t;

static void record_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    io_rec_t *r = ud;
    if (r->calls < MAX_CALLS) {
        r->events[r->calls] = events;
        r->fds[r->calls] = fd;
    }
    r->calls++;
}

static void make_pipe(int p[2])
{
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void make_socketpair(int sv[2])
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void write_byte(int fd)
{
    CHECK_EQ(write(fd, "x", 1), 1);
}

static double now_ms_real(void)
{
    return (double)eddy_clock_ns() / 1e6;
}

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop = NULL;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    CHECK(loop != NULL);
    return loop;
}

/* ---- basics ---------------------------------------------------------------- */

static void test_empty_loop(void)
{
    eddy_loop_t *loop = new_loop();
    /* Nothing alive: both return at once instead of blocking forever. */
    double t0 = now_ms_real();
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(now_ms_real() - t0 < 500);
    int x = 0;
    CHECK(eddy_loop_data(loop) == NULL);
    eddy_loop_set_data(loop, &x);
    CHECK(eddy_loop_data(loop) == &x);
    eddy_loop_free(loop);
    eddy_loop_free(NULL);
}

static void test_io_errors(void)
{
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, -1, EDDY_READABLE, record_cb, &r), -EINVAL);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, NULL, &r), -EINVAL);
    CHECK_EQ(eddy_io_remove(loop, p[0]), -ENOENT);
    CHECK_EQ(eddy_io_remove(loop, -1), -ENOENT);
    CHECK_EQ(eddy_io_remove(loop, 100000), -ENOENT);
    CHECK_EQ(eddy_io_modify(loop, p[0], EDDY_WRITABLE), -ENOENT);
    CHECK_EQ(eddy_io_modify(loop, 100000, EDDY_WRITABLE), -ENOENT);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), -EEXIST);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_WRITABLE, record_cb, &r), -EEXIST);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    CHECK_EQ(eddy_io_remove(loop, p[0]), -ENOENT);

    /* A closed fd: epoll refuses it, and the failed add leaves no watcher. */
    int closed = dup(p[0]);
    CHECK(closed >= 0);
    close(closed);
    CHECK_EQ(eddy_io_add(loop, closed, EDDY_READABLE, record_cb, &r), -EBADF);
    CHECK_EQ(eddy_io_remove(loop, closed), -ENOENT);

    /* A regular file cannot be polled: -EPERM, and the loop has nothing alive. */
    char path[] = "/tmp/eddy-loop-test-XXXXXX";
    int file = mkstemp(path);
    CHECK(file >= 0);
    unlink(path);
    CHECK_EQ(eddy_io_add(loop, file, EDDY_READABLE, record_cb, &r), -EPERM);
    CHECK_EQ(eddy_io_remove(loop, file), -ENOENT);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    close(file);

    /* The fd number that failed can be watched once it names a pollable file. */
    CHECK_EQ(dup2(p[0], closed), closed);
    write_byte(p[1]);
    CHECK_EQ(eddy_io_add(loop, closed, EDDY_READABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(r.fds[0], closed);
    CHECK_EQ(eddy_io_remove(loop, closed), 0);
    close(closed);
    CHECK_EQ(r.calls, 1);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
}

static void test_remove_after_close(void)
{
    /* The header asks for remove before close; the loop tolerates the other
     * order, even when the number already names a file epoll cannot watch. */
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    close(p[0]);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    close(p[1]);

    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    char path[] = "/tmp/eddy-loop-test-XXXXXX";
    int file = mkstemp(path);
    CHECK(file >= 0);
    unlink(path);
    CHECK_EQ(dup3(file, p[0], O_CLOEXEC), p[0]); /* closes the pipe end */
    close(file);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    CHECK_EQ(eddy_io_remove(loop, p[0]), -ENOENT);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0); /* nothing alive: no hang */
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(r.calls, 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

static void test_level_triggered(void)
{
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    /* Not readable yet: a bounded wait returns with no callback. */
    double t0 = now_ms_real();
    CHECK_EQ(eddy_loop_run_once(loop, 30), 1);
    CHECK(now_ms_real() - t0 >= 25);
    CHECK_EQ(r.calls, 0);
    write_byte(p[1]);
    /* Level-triggered: reported every iteration until drained. */
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
        CHECK_EQ(r.calls, i);
        CHECK_EQ(r.fds[i - 1], p[0]);
        CHECK(r.events[i - 1] & EDDY_READABLE);
        CHECK(!(r.events[i - 1] & EDDY_WRITABLE));
        CHECK(!(r.events[i - 1] & EDDY_HANGUP));
    }
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 1);
    CHECK_EQ(r.calls, 3);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

static void test_edge_triggered(void)
{
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE | EDDY_EDGE, record_cb, &r), 0);
    write_byte(p[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK(r.events[0] & EDDY_READABLE);
    /* Not drained, but no new edge: no report. */
    CHECK_EQ(eddy_loop_run_once(loop, 20), 1);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 1);
    CHECK_EQ(r.calls, 1);
    /* More data is a new edge. */
    write_byte(p[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 2);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 1);
    CHECK_EQ(r.calls, 2);
    /* Switching to level-triggered reports the data still queued. */
    CHECK_EQ(eddy_io_modify(loop, p[0], EDDY_READABLE), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 4);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

static void test_writable_and_modify(void)
{
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int sv[2];
    make_socketpair(sv);
    CHECK_EQ(eddy_io_add(loop, sv[0], EDDY_WRITABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(r.events[0] & (EDDY_READABLE | EDDY_WRITABLE), EDDY_WRITABLE);

    /* Readable only: nothing to read yet, so no callback. */
    CHECK_EQ(eddy_io_modify(loop, sv[0], EDDY_READABLE), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 20), 1);
    CHECK_EQ(r.calls, 1);
    write_byte(sv[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 2);
    CHECK_EQ(r.events[1] & (EDDY_READABLE | EDDY_WRITABLE), EDDY_READABLE);

    /* Both. */
    CHECK_EQ(eddy_io_modify(loop, sv[0], EDDY_READABLE | EDDY_WRITABLE), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 3);
    CHECK_EQ(r.events[2] & (EDDY_READABLE | EDDY_WRITABLE), EDDY_READABLE | EDDY_WRITABLE);

    /* No interest at all: the watcher stays, quietly. */
    CHECK_EQ(eddy_io_modify(loop, sv[0], 0), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 20), 1);
    CHECK_EQ(r.calls, 3);

    CHECK_EQ(eddy_io_remove(loop, sv[0]), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 0);
    CHECK_EQ(r.calls, 3);
    close(sv[0]);
    close(sv[1]);
    eddy_loop_free(loop);
}

static void test_high_fd(void)
{
    /* Watchers beyond the initial table size, added from inside a callback
     * (the table grows while a callback of the same iteration runs). */
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0}, high = {0};
    int p[2];
    make_pipe(p);
    int hi = fcntl(p[0], F_DUPFD_CLOEXEC, 3000);
    CHECK(hi >= 3000);
    write_byte(p[1]);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE | EDDY_EDGE, record_cb, &r), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(eddy_io_add(loop, hi, EDDY_READABLE, record_cb, &high), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(high.calls, 1);
    CHECK_EQ(high.fds[0], hi);
    CHECK_EQ(eddy_io_remove(loop, hi), 0);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(hi);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

/* ---- hangup ------------------------------------------------------------------ */

static void test_hangup(void)
{
    eddy_loop_t *loop = new_loop();

    /* Socketpair, reader side: EOF is readable and a hangup. */
    io_rec_t r = {0};
    int sv[2];
    make_socketpair(sv);
    CHECK_EQ(eddy_io_add(loop, sv[0], EDDY_READABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 20), 1);
    CHECK_EQ(r.calls, 0);
    close(sv[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK(r.events[0] & EDDY_HANGUP);
    CHECK(r.events[0] & EDDY_READABLE);
    char c;
    CHECK_EQ(read(sv[0], &c, 1), 0);
    CHECK_EQ(eddy_io_remove(loop, sv[0]), 0);
    close(sv[0]);

    /* Half close (shutdown SHUT_WR by the peer) is a hangup too. */
    io_rec_t h = {0};
    make_socketpair(sv);
    CHECK_EQ(eddy_io_add(loop, sv[0], EDDY_READABLE, record_cb, &h), 0);
    CHECK_EQ(shutdown(sv[1], SHUT_WR), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(h.calls, 1);
    CHECK(h.events[0] & EDDY_HANGUP);
    CHECK_EQ(eddy_io_remove(loop, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);

    /* Socketpair watched for writing only: the peer's close is still reported. */
    io_rec_t w = {0};
    make_socketpair(sv);
    CHECK_EQ(eddy_io_add(loop, sv[0], EDDY_WRITABLE | EDDY_EDGE, record_cb, &w), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(w.calls, 1);
    CHECK(!(w.events[0] & EDDY_HANGUP));
    close(sv[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(w.calls, 2);
    CHECK(w.events[1] & EDDY_HANGUP);
    CHECK_EQ(eddy_io_remove(loop, sv[0]), 0);
    close(sv[0]);

    /* Pipe: the writer's close hangs up the reader. */
    io_rec_t pr = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &pr), 0);
    close(p[1]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(pr.calls, 1);
    CHECK(pr.events[0] & EDDY_HANGUP);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);

    /* Pipe: the reader's close is an error on the writer. */
    io_rec_t pw = {0};
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[1], EDDY_WRITABLE | EDDY_EDGE, record_cb, &pw), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(pw.calls, 1);
    close(p[0]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(pw.calls, 2);
    CHECK(pw.events[1] & EDDY_ERRORED);
    CHECK_EQ(eddy_io_remove(loop, p[1]), 0);
    close(p[1]);

    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
}

/* ---- stale events -------------------------------------------------------- */

/* Two watchers become ready in the same iteration. Whichever runs first
 * removes the other's watcher, closes its fd, puts a new (readable) file on
 * the same fd number and watches it. The event epoll already collected for
 * the old watcher must reach neither the old callback nor the new one. */
typedef struct stale_ctx {
    int fd[2], peer[2];
    int calls[2];
    int first; /* index of the watcher that ran first, -1 before */
    int reused_fd;
    io_rec_t fresh;
    bool readd_same; /* variant: re-add a watcher on the same, still open, fd */
} stale_ctx_t;

static stale_ctx_t *stale_ctx;

static void stale_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    stale_ctx_t *s = stale_ctx;
    int me = (int)(intptr_t)ud;
    CHECK_EQ(fd, s->fd[me]);
    s->calls[me]++;
    if (s->first >= 0) return;
    s->first = me;
    int other = 1 - me;
    int victim = s->fd[other];
    CHECK_EQ(eddy_io_remove(loop, victim), 0);
    if (s->readd_same) {
        /* Same fd, same file, new watcher: the old event is stale too. */
        CHECK_EQ(eddy_io_add(loop, victim, EDDY_READABLE, record_cb, &s->fresh), 0);
        s->reused_fd = victim;
        return;
    }
    close(victim);
    int nfd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* readable at once */
    CHECK(nfd >= 0);
    if (nfd != victim) {
        CHECK_EQ(dup3(nfd, victim, O_CLOEXEC), victim);
        close(nfd);
    }
    s->reused_fd = victim;
    CHECK_EQ(eddy_io_add(loop, victim, EDDY_READABLE, record_cb, &s->fresh), 0);
}

static void run_stale_case(bool readd_same)
{
    eddy_loop_t *loop = new_loop();
    stale_ctx_t s = {.first = -1, .reused_fd = -1, .readd_same = readd_same};
    stale_ctx = &s;
    for (int i = 0; i < 2; i++) {
        int sv[2];
        make_socketpair(sv);
        s.fd[i] = sv[0];
        s.peer[i] = sv[1];
        write_byte(sv[1]);
    }
    for (int i = 0; i < 2; i++)
        CHECK_EQ(eddy_io_add(loop, s.fd[i], EDDY_READABLE, stale_cb, (void *)(intptr_t)i), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK(s.first >= 0);
    CHECK_EQ(s.calls[s.first], 1);
    CHECK_EQ(s.calls[1 - s.first], 0); /* removed before its event was dispatched */
    CHECK_EQ(s.fresh.calls, 0);        /* the new watcher did not inherit it */
    /* Next iteration: the new watcher sees its own, real readiness. */
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(s.fresh.calls, 1);
    CHECK_EQ(s.fresh.fds[0], s.reused_fd);
    CHECK(s.fresh.events[0] & EDDY_READABLE);
    CHECK_EQ(s.calls[1 - s.first], 0);

    CHECK_EQ(eddy_io_remove(loop, s.fd[s.first]), 0);
    CHECK_EQ(eddy_io_remove(loop, s.reused_fd), 0);
    for (int i = 0; i < 2; i++) {
        close(s.fd[i]); /* for the victim this closes the eventfd (or the socket) */
        close(s.peer[i]);
    }
    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
    stale_ctx = NULL;
}

static void test_stale_event_fd_reuse(void)
{
    run_stale_case(false);
}

static void test_stale_event_readd(void)
{
    run_stale_case(true);
}

/* An event collected for interests the watcher dropped earlier in the same
 * iteration is not delivered: both watchers want WRITABLE and are writable;
 * the first callback narrows the other to READABLE (nothing to read). */
typedef struct narrow_ctx {
    int fd[2];
    int calls[2];
    unsigned events[2];
    int first;
} narrow_ctx_t;

static narrow_ctx_t *narrow;

static void narrow_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    int me = (int)(intptr_t)ud;
    narrow->calls[me]++;
    narrow->events[me] = events;
    if (narrow->first >= 0) return;
    narrow->first = me;
    CHECK_EQ(eddy_io_modify(loop, narrow->fd[1 - me], EDDY_READABLE), 0);
}

static void test_stale_event_modify(void)
{
    eddy_loop_t *loop = new_loop();
    narrow_ctx_t n = {.first = -1};
    narrow = &n;
    int peer[2];
    for (int i = 0; i < 2; i++) {
        int sv[2];
        make_socketpair(sv);
        n.fd[i] = sv[0];
        peer[i] = sv[1];
    }
    for (int i = 0; i < 2; i++)
        CHECK_EQ(eddy_io_add(loop, n.fd[i], EDDY_WRITABLE, narrow_cb, (void *)(intptr_t)i), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK(n.first >= 0);
    CHECK_EQ(n.calls[n.first], 1);
    CHECK_EQ(n.calls[1 - n.first], 0);
    /* Make the narrowed one readable: now it is reported, as readable only. */
    write_byte(peer[1 - n.first]);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(n.calls[1 - n.first], 1);
    CHECK_EQ(n.events[1 - n.first] & (EDDY_READABLE | EDDY_WRITABLE), EDDY_READABLE);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(eddy_io_remove(loop, n.fd[i]), 0);
        close(n.fd[i]);
        close(peer[i]);
    }
    eddy_loop_free(loop);
    narrow = NULL;
}

/* ---- run, run_once, stop ----------------------------------------------------- */

typedef struct self_remove {
    int calls;
} self_remove_t;

static void drain_and_remove_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    self_remove_t *s = ud;
    char buf[16];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    s->calls++;
    CHECK_EQ(eddy_io_remove(loop, fd), 0);
}

static void test_run_ends_when_idle(void)
{
    eddy_loop_t *loop = new_loop();
    self_remove_t s = {0};
    int p[2];
    make_pipe(p);
    write_byte(p[1]);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, drain_and_remove_cb, &s), 0);
    CHECK_EQ(eddy_loop_run(loop), 0); /* returns once the only watcher is gone */
    CHECK_EQ(s.calls, 1);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

static void *stop_later_thread(void *arg)
{
    usleep(50 * 1000);
    eddy_loop_stop(arg);
    return NULL;
}

static void test_stop_from_thread(void)
{
    eddy_loop_t *loop = new_loop();
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        double t0 = now_ms_real();
        CHECK_EQ(pthread_create(&t, NULL, stop_later_thread, loop), 0);
        CHECK_EQ(eddy_loop_run(loop), 0); /* blocks in epoll until the stop */
        double dt = now_ms_real() - t0;
        CHECK(dt >= 40);
        CHECK(dt < 5000);
        CHECK_EQ(pthread_join(t, NULL), 0);
    }
    CHECK_EQ(r.calls, 0);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

/* eddy_loop_stop from another thread while the loop is busy (so it may see
 * the flag before the wakeup write), and the loop freed as soon as run
 * returns: the stopping thread must be done with the loop by then. */
static void spin_defer_cb(eddy_loop_t *loop, void *ud)
{
    CHECK_EQ(eddy_defer(loop, spin_defer_cb, ud), 0);
}

static void *stop_now_thread(void *arg)
{
    eddy_loop_stop(arg);
    return NULL;
}

static void test_stop_then_free(void)
{
    for (int i = 0; i < 2000; i++) {
        eddy_loop_t *loop = new_loop();
        CHECK_EQ(eddy_defer(loop, spin_defer_cb, NULL), 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, stop_now_thread, loop), 0);
        CHECK_EQ(eddy_loop_run(loop), 0);
        eddy_loop_free(loop);
        CHECK_EQ(pthread_join(t, NULL), 0);
    }
}

typedef struct stop_ctx {
    int ticks;
    int stop_at;
    int64_t timer;
} stop_ctx_t;

static void stop_tick_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    stop_ctx_t *s = ud;
    s->ticks++;
    if (s->ticks == s->stop_at) eddy_loop_stop(loop);
}

static void test_stop_from_callback(void)
{
    eddy_loop_t *loop = new_loop();
    stop_ctx_t s = {.stop_at = 3};
    s.timer = eddy_timer_tick(loop, 1, stop_tick_cb, &s);
    CHECK(s.timer > 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(s.ticks, 3);
    /* The stop is not sticky: run again, stop again. */
    s.stop_at = 6;
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(s.ticks, 6);
    CHECK_EQ(eddy_timer_clear(loop, s.timer), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(s.ticks, 6);
    eddy_loop_free(loop);
}

/* ---- defer --------------------------------------------------------------------- */

typedef struct seq_log {
    char text[256];
    size_t len;
} seq_log_t;

static seq_log_t seq;

static void log_char(char c)
{
    CHECK(seq.len + 1 < sizeof seq.text);
    seq.text[seq.len++] = c;
    seq.text[seq.len] = '\0';
}

static void defer_log_cb(eddy_loop_t *loop, void *ud)
{
    log_char((char)(intptr_t)ud);
}

static void io_defer_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    /* Each io callback logs 'i' and defers its letter. */
    log_char('i');
    CHECK_EQ(eddy_defer(loop, defer_log_cb, ud), 0);
    char c;
    CHECK_EQ(read(fd, &c, 1), 1);
}

static void test_defer_end_of_iteration(void)
{
    eddy_loop_t *loop = new_loop();
    memset(&seq, 0, sizeof seq);
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    write_byte(a[1]);
    write_byte(b[1]);
    CHECK_EQ(eddy_io_add(loop, a[0], EDDY_READABLE, io_defer_cb, (void *)(intptr_t)'A'), 0);
    CHECK_EQ(eddy_io_add(loop, b[0], EDDY_READABLE, io_defer_cb, (void *)(intptr_t)'B'), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    /* Both io callbacks first, then the deferred ones, in the order deferred. */
    CHECK_EQ(seq.len, 4);
    CHECK(seq.text[0] == 'i' && seq.text[1] == 'i');
    CHECK(strcmp(seq.text + 2, "AB") == 0 || strcmp(seq.text + 2, "BA") == 0);
    for (int i = 0; i < 2; i++) {
        int fd = i ? b[0] : a[0];
        CHECK_EQ(eddy_io_remove(loop, fd), 0);
    }
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    eddy_loop_free(loop);
}

static void defer_again_cb(eddy_loop_t *loop, void *ud)
{
    int depth = (int)(intptr_t)ud;
    log_char((char)('0' + depth));
    if (depth < 3) CHECK_EQ(eddy_defer(loop, defer_again_cb, (void *)(intptr_t)(depth + 1)), 0);
}

static void test_defer_fifo_and_nested(void)
{
    eddy_loop_t *loop = new_loop();
    memset(&seq, 0, sizeof seq);
    const char *letters = "abcdefghijklmnopqrstuvwxyz";
    for (const char *c = letters; *c; c++)
        CHECK_EQ(eddy_defer(loop, defer_log_cb, (void *)(intptr_t)*c), 0);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0); /* deferred callbacks alone: no wait */
    CHECK_STR(seq.text, letters);

    /* Many more than the initial capacity, queued before the loop runs. */
    memset(&seq, 0, sizeof seq);
    for (int i = 0; i < 200; i++)
        CHECK_EQ(eddy_defer(loop, defer_log_cb, (void *)(intptr_t)('A' + i % 26)), 0);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    CHECK_EQ(seq.len, 200);
    for (int i = 0; i < 200; i++)
        CHECK_EQ(seq.text[i], 'A' + i % 26);

    /* A callback deferred by a deferred callback waits for the next iteration,
     * and that iteration does not block in epoll even with an idle watcher. */
    memset(&seq, 0, sizeof seq);
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_defer(loop, defer_again_cb, (void *)(intptr_t)0), 0);
    CHECK_EQ(eddy_defer(loop, defer_log_cb, (void *)(intptr_t)'z'), 0);
    double t0 = now_ms_real();
    CHECK_EQ(eddy_loop_run_once(loop, -1), 1);
    CHECK_STR(seq.text, "0z");
    CHECK_EQ(eddy_loop_run_once(loop, -1), 1);
    CHECK_STR(seq.text, "0z1");
    CHECK_EQ(eddy_loop_run_once(loop, -1), 1);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 1);
    CHECK_STR(seq.text, "0z123");
    CHECK(now_ms_real() - t0 < 1000);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    close(p[0]);
    close(p[1]);

    /* Deferred callbacks still queued at free are dropped, not run, not leaked. */
    memset(&seq, 0, sizeof seq);
    CHECK_EQ(eddy_defer(loop, defer_log_cb, (void *)(intptr_t)'x'), 0);
    eddy_loop_free(loop);
    CHECK_EQ(seq.len, 0);
}

static void test_run_drains_defers(void)
{
    /* run keeps going while deferred callbacks re-defer themselves. */
    eddy_loop_t *loop = new_loop();
    memset(&seq, 0, sizeof seq);
    CHECK_EQ(eddy_defer(loop, defer_again_cb, (void *)(intptr_t)0), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_STR(seq.text, "0123");
    eddy_loop_free(loop);
}

/* ---- post ----------------------------------------------------------------------- */

#define POST_THREADS 4
#define POST_EACH    10000

typedef struct post_ctx {
    eddy_loop_t *loop;
    pthread_t loop_thread;
    unsigned char *seen; /* per post, times run */
    size_t total;
    int keepalive_fd;
    bool wrong_thread;
} post_ctx_t;

static post_ctx_t post;

static void post_cb(eddy_loop_t *loop, void *ud)
{
    if (!pthread_equal(pthread_self(), post.loop_thread)) post.wrong_thread = true;
    post.seen[(size_t)(uintptr_t)ud]++;
    if (++post.total == (size_t)POST_THREADS * POST_EACH)
        CHECK_EQ(eddy_io_remove(loop, post.keepalive_fd), 0);
}

static void *post_thread(void *arg)
{
    size_t base = (size_t)(uintptr_t)arg * POST_EACH;
    for (size_t i = 0; i < POST_EACH; i++) {
        CHECK_EQ(eddy_loop_post(post.loop, post_cb, (void *)(uintptr_t)(base + i)), 0);
        if (i % 1000 == 0) usleep(100); /* let the loop drain in between, too */
    }
    return NULL;
}

static void test_post_many_threads(void)
{
    memset(&post, 0, sizeof post);
    post.loop = new_loop();
    post.loop_thread = pthread_self();
    post.seen = calloc((size_t)POST_THREADS * POST_EACH, 1);
    CHECK(post.seen != NULL);
    int p[2];
    make_pipe(p);
    post.keepalive_fd = p[0];
    io_rec_t r = {0};
    CHECK_EQ(eddy_io_add(post.loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    pthread_t t[POST_THREADS];
    for (int i = 0; i < POST_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, post_thread, (void *)(uintptr_t)i), 0);
    CHECK_EQ(eddy_loop_run(post.loop), 0);
    for (int i = 0; i < POST_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(post.total, (size_t)POST_THREADS * POST_EACH);
    CHECK(!post.wrong_thread);
    for (size_t i = 0; i < (size_t)POST_THREADS * POST_EACH; i++)
        CHECK_EQ(post.seen[i], 1);
    CHECK_EQ(r.calls, 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(post.loop);
    free(post.seen);
}

static void count_cb(eddy_loop_t *loop, void *ud)
{
    (*(int *)ud)++;
}

static void post_self_cb(eddy_loop_t *loop, void *ud)
{
    int *n = ud;
    if (++*n < 5) CHECK_EQ(eddy_loop_post(loop, post_self_cb, n), 0);
}

static void test_post_same_thread(void)
{
    eddy_loop_t *loop = new_loop();
    /* Posted before run with nothing else alive: still runs. */
    int n = 0;
    CHECK_EQ(eddy_loop_post(loop, count_cb, &n), 0);
    CHECK_EQ(eddy_loop_post(loop, count_cb, &n), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(n, 2);
    /* A posted callback that posts again, with an idle watcher keeping the
     * loop alive: each post wakes the loop (no hang). */
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    int m = 0;
    CHECK_EQ(eddy_loop_post(loop, post_self_cb, &m), 0);
    for (int i = 0; i < 100 && m < 5; i++)
        CHECK_EQ(eddy_loop_run_once(loop, 1000), 1);
    CHECK_EQ(m, 5);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);
    close(p[1]);
    /* Posts still queued at free are dropped without leaking. */
    CHECK_EQ(eddy_loop_post(loop, count_cb, &n), 0);
    eddy_loop_free(loop);
    CHECK_EQ(n, 2);
}

/* ---- time and date ---------------------------------------------------------- */

static void test_now(void)
{
    eddy_loop_t *loop = new_loop();
    uint64_t t0 = eddy_loop_now(loop);
    uint64_t real = eddy_clock_ms();
    CHECK(t0 <= real);
    CHECK(real - t0 < 1000);
    usleep(30 * 1000);
    CHECK_EQ(eddy_loop_now(loop), t0); /* cached */
    eddy_loop_update_time(loop);
    uint64_t t1 = eddy_loop_now(loop);
    CHECK(t1 >= t0 + 30);
    usleep(20 * 1000);
    io_rec_t r = {0};
    int p[2];
    make_pipe(p);
    CHECK_EQ(eddy_io_add(loop, p[0], EDDY_READABLE, record_cb, &r), 0);
    CHECK_EQ(eddy_loop_run_once(loop, 10), 1); /* refreshes before and after the wait */
    CHECK(eddy_loop_now(loop) >= t1 + 30);
    CHECK_EQ(eddy_io_remove(loop, p[0]), 0);
    close(p[0]);
    close(p[1]);
    eddy_loop_free(loop);
}

static void never_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    CHECK(!"keep-alive timer fired");
}

static bool date_is_now(const char *date)
{
    /* Equal to the formatted wall clock of now or the second before. */
    char buf[EDDY_HTTP_DATE_LEN + 1];
    time_t t = time(NULL);
    for (time_t s = t; s >= t - 1; s--) {
        eddy_http_date(s, buf);
        if (strcmp(buf, date) == 0) return true;
    }
    return false;
}

static void check_date_format(const char *d)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    CHECK_EQ(strlen(d), EDDY_HTTP_DATE_LEN);
    static const char *days = "SunMonTueWedThuFriSat";
    static const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char day[4] = {d[0], d[1], d[2], 0};
    char mon[4] = {d[8], d[9], d[10], 0};
    CHECK(strstr(days, day) != NULL && (strstr(days, day) - days) % 3 == 0);
    CHECK(strstr(months, mon) != NULL && (strstr(months, mon) - months) % 3 == 0);
    CHECK(d[3] == ',' && d[4] == ' ' && d[7] == ' ' && d[11] == ' ' && d[16] == ' ');
    CHECK(d[19] == ':' && d[22] == ':' && d[25] == ' ');
    CHECK_STR(d + 26, "GMT");
    const int digits[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
    for (size_t i = 0; i < sizeof digits / sizeof digits[0]; i++)
        CHECK(d[digits[i]] >= '0' && d[digits[i]] <= '9');
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    CHECK(strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL);
}

static void test_date(void)
{
    eddy_loop_t *loop = new_loop();
    const char *d = eddy_loop_date(loop);
    CHECK(d != NULL);
    check_date_format(d);
    CHECK(date_is_now(d));
    char first[EDDY_HTTP_DATE_LEN + 1];
    strcpy(first, d);

    /* Refreshed by the loop once the second turns. */
    int64_t keep = eddy_timer_tick(loop, 1000000, never_cb, NULL);
    CHECK(keep > 0);
    double t0 = now_ms_real();
    while (strcmp(eddy_loop_date(loop), first) == 0) {
        CHECK(now_ms_real() - t0 < 2500);
        CHECK_EQ(eddy_loop_run_once(loop, 20), 1);
    }
    check_date_format(eddy_loop_date(loop));
    CHECK(date_is_now(eddy_loop_date(loop)));
    CHECK_EQ(eddy_timer_clear(loop, keep), 0);
    eddy_loop_free(loop);
}

int main(void)
{
    alarm(60); /* a hang fails the test rather than waiting for CTest */
    RUN(test_empty_loop);
    RUN(test_io_errors);
    RUN(test_remove_after_close);
    RUN(test_level_triggered);
    RUN(test_edge_triggered);
    RUN(test_writable_and_modify);
    RUN(test_high_fd);
    RUN(test_hangup);
    RUN(test_stale_event_fd_reuse);
    RUN(test_stale_event_readd);
    RUN(test_stale_event_modify);
    RUN(test_run_ends_when_idle);
    RUN(test_stop_from_thread);
    RUN(test_stop_from_callback);
    RUN(test_stop_then_free);
    RUN(test_defer_end_of_iteration);
    RUN(test_defer_fifo_and_nested);
    RUN(test_run_drains_defers);
    RUN(test_post_many_threads);
    RUN(test_post_same_thread);
    RUN(test_now);
    RUN(test_date);
    return 0;
}
