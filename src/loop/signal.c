#include <errno.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_internal.h"

static void signal_read_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    struct signalfd_siginfo info[16];
    for (;;) {
        ssize_t n = read(fd, info, sizeof info);
        if (n <= 0) return;
        for (size_t i = 0; i < (size_t)n / sizeof info[0]; i++) {
            int signo = (int)info[i].ssi_signo;
            if (signo > 0 && signo < _NSIG && loop->signals[signo].active)
                loop->signals[signo].cb(loop, signo, loop->signals[signo].ud);
        }
    }
}

static int update_signalfd(eddy_loop_t *loop)
{
    int fd = signalfd(loop->signal_fd, &loop->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (loop->signal_fd < 0) {
        int rc = eddy__io_add_internal(loop, fd, EDDY_READABLE, signal_read_cb, NULL);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        loop->signal_fd = fd;
    }
    return 0;
}

int eddy_signal_start(eddy_loop_t *loop, int signo, eddy_signal_cb cb, void *ud)
{
    if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP || !cb) return -EINVAL;
    signal_watch_t *w = &loop->signals[signo];
    if (!w->active) {
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_BLOCK, &one, &old);
        w->was_blocked = sigismember(&old, signo) == 1;
        sigaddset(&loop->signal_mask, signo);
        int rc = update_signalfd(loop);
        if (rc < 0) {
            sigdelset(&loop->signal_mask, signo);
            if (!w->was_blocked) pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            return rc;
        }
        w->active = true;
        loop->signal_count++;
    }
    w->cb = cb;
    w->ud = ud;
    return 0;
}

int eddy_signal_stop(eddy_loop_t *loop, int signo)
{
    if (signo <= 0 || signo >= _NSIG || !loop->signals[signo].active) return -ENOENT;
    signal_watch_t *w = &loop->signals[signo];
    w->active = false;
    loop->signal_count--;
    sigdelset(&loop->signal_mask, signo);
    update_signalfd(loop);
    if (!w->was_blocked) {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        /* Instances that arrived while watched but were not read yet were
         * meant for the watcher: discard them, or unblocking would hand them
         * to the default action (for most signals: kill the process). */
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&one, NULL, &zero) == signo) {
        }
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
    return 0;
}

void eddy__signals_free(eddy_loop_t *loop)
{
    for (int signo = 1; signo < _NSIG; signo++)
        if (loop->signals[signo].active) eddy_signal_stop(loop, signo);
    if (loop->signal_fd >= 0) {
        eddy__io_remove_internal(loop, loop->signal_fd);
        close(loop->signal_fd);
        loop->signal_fd = -1;
    }
}

void eddy__signals_discard(eddy_loop_t *loop)
{
    for (int signo = 1; signo < _NSIG; signo++) {
        signal_watch_t *w = &loop->signals[signo];
        if (!w->active || w->was_blocked) continue;
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        w->active = false;
    }
    loop->signal_count = 0;
}
