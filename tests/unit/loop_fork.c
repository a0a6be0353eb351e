/*
 * A child that forks off a process with a loop must release its copy with
 * eddy_loop_discard_after_fork, never touching what it shares with the
 * parent. Freeing it with eddy_loop_free in the child removes the parent's
 * signalfd from the parent's epoll set and empties its signal mask: the
 * parent then never hears SIGTERM again. (That was the multi-process
 * server's shutdown hang; test_free_in_child_breaks_parent shows it.)
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <eddy.h>

#include "test.h"

static int got;

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    got = signo;
}

static void on_timeout(eddy_loop_t *loop, int64_t id, void *ud) {}

/* Fork a child that releases the loop with release(), then check whether
 * the parent's loop still delivers SIGUSR1 within a second. */
static bool parent_hears_signal_after_child(void (*release)(eddy_loop_t *))
{
    eddy_loop_t *loop;
    CHECK(eddy_loop_new(&loop) == 0);
    CHECK(eddy_signal_start(loop, SIGUSR1, on_signal, NULL) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        release(loop);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    got = 0;
    kill(getpid(), SIGUSR1);
    int64_t timer = eddy_timer_after(loop, 1000, on_timeout, NULL);
    while (!got && eddy_timer_count(loop) > 0)
        eddy_loop_run_once(loop, 1000);
    eddy_timer_clear(loop, timer);
    bool heard = got == SIGUSR1;
    eddy_signal_stop(loop, SIGUSR1);
    eddy_loop_free(loop);
    return heard;
}

static void test_discard_in_child_keeps_parent_working(void)
{
    CHECK(parent_hears_signal_after_child(eddy_loop_discard_after_fork));
}

static void test_free_in_child_breaks_parent(void)
{
    /* The control: the mistake this API exists to avoid. If this ever
     * passes, eddy_loop_free has become fork-safe and the note above is stale. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK(!parent_hears_signal_after_child(eddy_loop_free));
    /* The SIGUSR1 it never heard is still pending: take it. */
    const struct timespec zero = {0, 0};
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    sigtimedwait(&usr1, NULL, &zero);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
}

static void test_discard_unblocks_in_child(void)
{
    eddy_loop_t *loop;
    CHECK(eddy_loop_new(&loop) == 0);
    CHECK(eddy_signal_start(loop, SIGUSR2, on_signal, NULL) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        eddy_loop_discard_after_fork(loop);
        sigset_t now;
        sigprocmask(SIG_SETMASK, NULL, &now);
        _exit(sigismember(&now, SIGUSR2) ? 1 : 0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    eddy_signal_stop(loop, SIGUSR2);
    eddy_loop_free(loop);
}

int main(void)
{
    RUN(test_discard_in_child_keeps_parent_working);
    RUN(test_free_in_child_breaks_parent);
    RUN(test_discard_unblocks_in_child);
    return 0;
}
