/*
 * eddy signals: delivery through the loop (raise, kill, from another thread),
 * two signals at once, replacing a callback, the blocked mask restored on
 * stop and on loop free, and argument errors.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/loop.h"
#include "test.h"

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop = NULL;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

static bool is_blocked(int signo)
{
    sigset_t cur;
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, signo) == 1;
}

typedef struct sig_rec {
    int calls[_NSIG];
    int last;
    eddy_loop_t *loop;
    bool bad_loop;
    bool wrong_thread;
    pthread_t loop_thread;
    bool stop_in_cb;
} sig_rec_t;

static void sig_cb(eddy_loop_t *loop, int signo, void *ud)
{
    sig_rec_t *r = ud;
    if (loop != r->loop) r->bad_loop = true;
    if (!pthread_equal(pthread_self(), r->loop_thread)) r->wrong_thread = true;
    r->calls[signo]++;
    r->last = signo;
    if (r->stop_in_cb) CHECK_EQ(eddy_signal_stop(loop, signo), 0);
}

static void rec_init(sig_rec_t *r, eddy_loop_t *loop)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->loop_thread = pthread_self();
}

/* Run iterations until cond holds or a second passes. */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        for (int i_ = 0; i_ < 100 && !(cond); i_++)                                                \
            eddy_loop_run_once((loop), 10);                                                        \
    } while (0)

static volatile sig_atomic_t handler_hits;

static void flag_handler(int signo)
{
    handler_hits++;
}

static void install_handler(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = flag_handler;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(signo, &sa, NULL), 0);
}

static void test_raise_and_kill(void)
{
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);
    CHECK(!is_blocked(SIGUSR1));
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
    CHECK(is_blocked(SIGUSR1)); /* so it can only arrive through signalfd */

    CHECK_EQ(raise(SIGUSR1), 0);
    RUN_UNTIL(loop, r.calls[SIGUSR1] == 1);
    CHECK_EQ(r.calls[SIGUSR1], 1);
    CHECK_EQ(r.last, SIGUSR1);

    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    RUN_UNTIL(loop, r.calls[SIGUSR1] == 2);
    CHECK_EQ(r.calls[SIGUSR1], 2);
    CHECK(!r.bad_loop);
    CHECK(!r.wrong_thread);

    /* A watched signal keeps the loop alive; stopping it from its own
     * callback lets run return. */
    r.stop_in_cb = true;
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(r.calls[SIGUSR1], 3);
    CHECK(!is_blocked(SIGUSR1));
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), -ENOENT);
    eddy_loop_free(loop);
}

static void *kill_thread(void *arg)
{
    usleep(20 * 1000);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    return arg;
}

static void test_from_other_thread(void)
{
    /* The thread starts after the signal is watched, so it inherits the
     * blocked mask and the loop's signalfd picks the signal up. */
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);
    r.stop_in_cb = true;
    CHECK_EQ(eddy_signal_start(loop, SIGUSR2, sig_cb, &r), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, kill_thread, NULL), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.calls[SIGUSR2], 1);
    CHECK(!r.wrong_thread);
    CHECK(!is_blocked(SIGUSR2));
    eddy_loop_free(loop);
}

static void test_two_signals(void)
{
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
    CHECK_EQ(eddy_signal_start(loop, SIGUSR2, sig_cb, &r), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(raise(SIGUSR2), 0);
    RUN_UNTIL(loop, r.calls[SIGUSR1] && r.calls[SIGUSR2]);
    CHECK_EQ(r.calls[SIGUSR1], 1);
    CHECK_EQ(r.calls[SIGUSR2], 1);
    /* Real-time signals queue: each one is delivered. */
    int rt = SIGRTMIN + 1;
    CHECK_EQ(eddy_signal_start(loop, rt, sig_cb, &r), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(raise(rt), 0);
    RUN_UNTIL(loop, r.calls[rt] == 3);
    CHECK_EQ(r.calls[rt], 3);
    CHECK_EQ(eddy_signal_stop(loop, rt), 0);

    /* Stop one: the other still arrives through the loop, the stopped one
     * goes back to its handler. */
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), 0);
    CHECK(!is_blocked(SIGUSR1));
    CHECK(is_blocked(SIGUSR2));
    install_handler(SIGUSR1);
    handler_hits = 0;
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handler_hits, 1);
    CHECK_EQ(raise(SIGUSR2), 0);
    RUN_UNTIL(loop, r.calls[SIGUSR2] == 2);
    CHECK_EQ(r.calls[SIGUSR1], 1);
    CHECK_EQ(r.calls[SIGUSR2], 2);
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR2), 0);
    CHECK(!is_blocked(SIGUSR2));
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0); /* nothing alive */
    signal(SIGUSR1, SIG_DFL);
    eddy_loop_free(loop);
}

static void other_cb(eddy_loop_t *loop, int signo, void *ud)
{
    (*(int *)ud)++;
}

static void test_replace_callback(void)
{
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);
    int other = 0;
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, other_cb, &other), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    RUN_UNTIL(loop, other == 1);
    CHECK_EQ(other, 1);
    CHECK_EQ(r.calls[SIGUSR1], 0);
    /* Started twice, stopped once: gone, mask restored, loop not alive. */
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), 0);
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), -ENOENT);
    CHECK(!is_blocked(SIGUSR1));
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    /* And it can be started again. */
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    RUN_UNTIL(loop, r.calls[SIGUSR1] == 1);
    CHECK_EQ(r.calls[SIGUSR1], 1);
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), 0);
    eddy_loop_free(loop);
}

static void test_mask_restore(void)
{
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);

    /* Blocked by the program before: still blocked after stop. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &one, NULL), 0);
    CHECK_EQ(eddy_signal_start(loop, SIGUSR2, sig_cb, &r), 0);
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR2), 0);
    CHECK(is_blocked(SIGUSR2));
    CHECK_EQ(pthread_sigmask(SIG_UNBLOCK, &one, NULL), 0);

    /* Not blocked before: loop free restores it too. */
    CHECK(!is_blocked(SIGUSR1));
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
    CHECK_EQ(eddy_signal_start(loop, SIGHUP, sig_cb, &r), 0);
    CHECK(is_blocked(SIGUSR1) && is_blocked(SIGHUP));
    eddy_loop_free(loop);
    CHECK(!is_blocked(SIGUSR1));
    CHECK(!is_blocked(SIGHUP));

    /* The restored mask is real: a handler sees the signal again. */
    install_handler(SIGUSR1);
    handler_hits = 0;
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handler_hits, 1);
    signal(SIGUSR1, SIG_DFL);
}

static void test_pending_at_stop(void)
{
    /* A signal that arrived while watched but was not read yet belongs to the
     * watcher: stopping (or freeing the loop) must not hand it to the default
     * action, which for SIGUSR1 would kill the process. In a child, so a
     * failure is reported rather than killing the test. */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        eddy_loop_t *loop = new_loop();
        sig_rec_t r;
        rec_init(&r, loop);
        CHECK_EQ(eddy_signal_start(loop, SIGUSR1, sig_cb, &r), 0);
        CHECK_EQ(raise(SIGUSR1), 0);
        CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), 0);
        CHECK(!is_blocked(SIGUSR1));
        CHECK_EQ(eddy_signal_start(loop, SIGUSR2, sig_cb, &r), 0);
        CHECK_EQ(kill(getpid(), SIGUSR2), 0);
        eddy_loop_free(loop);
        CHECK(!is_blocked(SIGUSR2));
        CHECK_EQ(r.calls[SIGUSR1] + r.calls[SIGUSR2], 0);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

static void test_errors(void)
{
    eddy_loop_t *loop = new_loop();
    sig_rec_t r;
    rec_init(&r, loop);
    CHECK_EQ(eddy_signal_start(loop, 0, sig_cb, &r), -EINVAL);
    CHECK_EQ(eddy_signal_start(loop, -1, sig_cb, &r), -EINVAL);
    CHECK_EQ(eddy_signal_start(loop, _NSIG, sig_cb, &r), -EINVAL);
    CHECK_EQ(eddy_signal_start(loop, SIGKILL, sig_cb, &r), -EINVAL);
    CHECK_EQ(eddy_signal_start(loop, SIGSTOP, sig_cb, &r), -EINVAL);
    CHECK_EQ(eddy_signal_start(loop, SIGUSR1, NULL, &r), -EINVAL);
    CHECK(!is_blocked(SIGUSR1));
    CHECK_EQ(eddy_signal_stop(loop, SIGUSR1), -ENOENT);
    CHECK_EQ(eddy_signal_stop(loop, 0), -ENOENT);
    CHECK_EQ(eddy_signal_stop(loop, _NSIG), -ENOENT);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    eddy_loop_free(loop);
}

int main(void)
{
    alarm(60);
    RUN(test_errors);
    RUN(test_raise_and_kill);
    RUN(test_from_other_thread);
    RUN(test_two_signals);
    RUN(test_replace_callback);
    RUN(test_mask_restore);
    RUN(test_pending_at_stop);
    return 0;
}
