/*
 * PROCESS mode: the master. It forks the manager first (while it has no
 * thread, so the fork is safe), then starts the reactor threads that own
 * the connections, and itself only watches signals and the manager:
 *
 *   SIGTERM / SIGINT  the reactors stop accepting and close every connection
 *                     once its request is answered (within max_wait_time);
 *                     then the manager is told to stop the workers, and the
 *                     master returns once it has. A second one forces.
 *   SIGUSR1 / USR2    passed to the manager (reload).
 *   SIGRTMIN          the log is reopened here and in the whole tree.
 *   SIGCHLD           the manager exited: at the end of a shutdown, done;
 *                     otherwise no worker is left to serve, so shut down.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/proctitle.h"
#include "server_internal.h"

static const int process_signals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD};

static void finish(eddy_server_t *s)
{
    for (size_t i = 0; i < sizeof process_signals / sizeof process_signals[0]; i++)
        eddy_signal_stop(s->loop, process_signals[i]);
    eddy_signal_stop(s->loop, SIGRTMIN);
    if (s->shutdown_timer) eddy_timer_clear(s->loop, s->shutdown_timer);
    s->shutdown_timer = 0;
    eddy_loop_stop(s->loop);
}

static void stop_manager(eddy_server_t *s)
{
    if (s->manager_gone) {
        finish(s);
        return;
    }
    kill(s->manager_pid, SIGTERM);
}

/* The manager and its workers had all the time they were given. */
static void shutdown_timeout(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_server_t *s = ud;
    s->shutdown_timer = 0;
    EDDY_WARN("the manager did not stop in time; killing it");
    if (!s->manager_gone) kill(s->manager_pid, SIGKILL);
}

static void start_shutdown(eddy_server_t *s)
{
    int n = ++s->shutdown_requests;
    if (n == 1) {
        EDDY_NOTICE("shutting down");
        s->shutting_down = true;
        /* The drain takes at most max_wait_time plus the graceful closes'
         * margin; the manager then as long again for its workers. */
        uint64_t ms = 2 * (s->opts.max_wait_time * 1000 + KILL_MARGIN_MS);
        int64_t id = eddy_timer_after(s->loop, ms, shutdown_timeout, s);
        s->shutdown_timer = id > 0 ? id : 0;
    } else {
        EDDY_WARN("second shutdown request: closing every connection now");
    }
    eddy__reactors_drain(s, n > 1);
    if (s->reactors_running == 0) stop_manager(s);
}

void eddy__process_reactor_drained(eddy_server_t *s)
{
    if (++s->reactors_drained == s->reactors_running) stop_manager(s);
}

static void on_child(eddy_server_t *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != s->manager_pid) continue;
        s->manager_gone = true;
        if (s->shutting_down) {
            finish(s);
            continue;
        }
        EDDY_ERROR("the manager exited unexpectedly (%s %d): no worker is left; shutting down",
                   WIFSIGNALED(status) ? "signal" : "status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        start_shutdown(s);
        start_shutdown(s); /* forced: nobody can answer the requests in flight */
    }
}

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_server_t *s = ud;
    switch (signo) {
    case SIGTERM:
    case SIGINT: start_shutdown(s); break;
    case SIGUSR1:
    case SIGUSR2:
        if (!s->manager_gone) kill(s->manager_pid, signo);
        break;
    case SIGCHLD: on_child(s); break;
    default:
        if (signo == SIGRTMIN) {
            eddy_log_reopen();
            if (!s->manager_gone) kill(s->manager_pid, SIGRTMIN);
        }
    }
}

static int watch_signals(eddy_server_t *s)
{
    for (size_t i = 0; i < sizeof process_signals / sizeof process_signals[0]; i++) {
        int rc = eddy_signal_start(s->loop, process_signals[i], on_signal, s);
        if (rc < 0) return rc;
    }
    return eddy_signal_start(s->loop, SIGRTMIN, on_signal, s);
}

/* In the forked manager: it supervises the workers and never returns. */
static void run_manager(eddy_server_t *s) __attribute__((noreturn));
static void run_manager(eddy_server_t *s)
{
    /* The master's death is the manager's SIGTERM (blocked until its loop
     * watches it; a master already gone is caught just below). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    s->role = ROLE_MANAGER;
    s->manager_pid = getpid();
    if (getppid() != s->master_pid) _exit(1);
    eddy__server_release_first_fds(s); /* reactor 0's, in the master */
    for (int r = 0; r < s->opts.reactor_num; r++) {
        ipc_inbox_t *ib = &s->inboxes[reactor_slot(s, r)];
        close(ib->fd[0]); /* the reactors' to read */
        ib->fd[0] = -1;
    }
    int rc = eddy__master_run(s);
    eddy_server_free(s);
    exit(rc < 0 ? 1 : 0);
}

int eddy__process_run(eddy_server_t *s)
{
    eddy_proctitle_set("eddy: master");
    sigset_t watched;
    eddy__server_signal_set(&watched);
    sigprocmask(SIG_BLOCK, &watched, NULL);
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) run_manager(s);
    s->manager_pid = pid;
    /* The workers' inboxes and the notices are the manager's to read. */
    for (int i = 0; i < s->nslots; i++) {
        close(s->inboxes[i].fd[0]);
        s->inboxes[i].fd[0] = -1;
    }
    close(s->notice_pipe[0]);
    s->notice_pipe[0] = -1;

    int rc = eddy_loop_new(&s->loop);
    if (rc == 0) {
        eddy_loop_set_data(s->loop, s);
        rc = watch_signals(s);
    }
    if (rc == 0) rc = eddy__reactors_start(s);
    if (rc == 0) {
        if (s->cbs.on_start) s->cbs.on_start(s, s->ud);
        eddy_loop_run(s->loop);
    } else {
        EDDY_ERROR("master: %s", eddy_strerror(rc));
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    eddy__reactors_stop(s);
    if (rc == 0 && s->cbs.on_shutdown) s->cbs.on_shutdown(s, s->ud);
    if (s->loop) {
        for (size_t i = 0; i < sizeof process_signals / sizeof process_signals[0]; i++)
            eddy_signal_stop(s->loop, process_signals[i]);
        eddy_signal_stop(s->loop, SIGRTMIN);
        eddy_loop_free(s->loop);
        s->loop = NULL;
    }
    eddy__server_restore_signals(s);
    return rc;
}
