/*
 * The master: in BASE mode it is also the manager. It forks the workers,
 * reaps them, restarts those that die, replaces them on reload or when they
 * retire, and shuts the tree down. It never starts a thread, so forking is
 * always safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "server_internal.h"

#define QUICK_DEATH_MS     1000 /* a worker dying this soon after start... */
#define RESTART_BACKOFF_MS 1000 /* ...is restarted after a pause, not at once */
#define KILL_MARGIN_MS     5000 /* beyond max_wait_time, before SIGKILL */

static const int master_signals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

static void fork_slot(eddy_server_t *s, int i);

static int slot_of(const eddy_server_t *s, pid_t pid, bool *leaving)
{
    for (int i = 0; i < s->nslots; i++) {
        if (s->slots[i].pid == pid) return *leaving = false, i;
        if (s->slots[i].leaving_pid == pid) return *leaving = true, i;
    }
    return -1;
}

static bool any_child(const eddy_server_t *s)
{
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].pid || s->slots[i].leaving_pid) return true;
    return false;
}

static void signal_children(const eddy_server_t *s, int signo)
{
    for (int i = 0; i < s->nslots; i++) {
        if (s->slots[i].pid) kill(s->slots[i].pid, signo);
        if (s->slots[i].leaving_pid) kill(s->slots[i].leaving_pid, signo);
    }
}

/* Everything is down: let eddy_loop_run return. */
static void master_finish(eddy_server_t *s)
{
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        eddy_signal_stop(s->loop, master_signals[i]);
    eddy_signal_stop(s->loop, SIGCHLD);
    eddy_signal_stop(s->loop, SIGRTMIN);
    eddy_io_remove(s->loop, s->notice_pipe[0]);
    if (s->shutdown_timer) eddy_timer_clear(s->loop, s->shutdown_timer);
    if (s->reload_timer) eddy_timer_clear(s->loop, s->reload_timer);
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].restart_timer) eddy_timer_clear(s->loop, s->slots[i].restart_timer);
    s->shutdown_timer = s->reload_timer = 0;
    eddy_loop_stop(s->loop);
}

/* ---- reload ----------------------------------------------------------------- */

/* Start slot i's successor first, then ask the old worker to leave: the
 * listening sockets are shared, so not one connection is refused. */
static void replace_slot(eddy_server_t *s, int i)
{
    worker_slot_t *w = &s->slots[i];
    if (!w->pid || w->leaving_pid) return;
    w->leaving_pid = w->pid;
    w->pid = 0;
    kill(w->leaving_pid, SIGTERM);
    fork_slot(s, i);
}

static void reload_step(eddy_server_t *s);

static void reload_timeout(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_server_t *s = ud;
    s->reload_timer = 0;
    int i = s->reload_next - 1;
    if (i >= 0 && s->slots[i].leaving_pid) {
        EDDY_WARN("worker #%d (pid %d) did not leave in time; killing it", i,
                  (int)s->slots[i].leaving_pid);
        kill(s->slots[i].leaving_pid, SIGKILL);
    }
}

/* One by one: the next slot is replaced once its predecessor has left. */
static void reload_step(eddy_server_t *s)
{
    if (s->reload_next < 0 || s->shutting_down) return;
    if (s->reload_next > 0 && s->slots[s->reload_next - 1].leaving_pid) return;
    if (s->reload_timer) eddy_timer_clear(s->loop, s->reload_timer);
    s->reload_timer = 0;
    if (s->reload_next >= s->reload_end) {
        EDDY_NOTICE("reload complete");
        s->reload_next = -1;
        return;
    }
    replace_slot(s, s->reload_next++);
    int64_t id =
        eddy_timer_after(s->loop, s->opts.max_wait_time * 1000 + KILL_MARGIN_MS, reload_timeout, s);
    s->reload_timer = id > 0 ? id : 0;
}

static void start_reload(eddy_server_t *s, bool task_workers)
{
    if (s->shutting_down) return;
    if (s->reload_next >= 0) {
        EDDY_NOTICE("reload already in progress");
        return;
    }
    int first = task_workers ? s->opts.worker_num : 0;
    int end = task_workers ? s->nslots : s->opts.worker_num;
    EDDY_NOTICE("reloading %s", task_workers ? "task workers" : "workers");
    if (s->opts.reload_async) {
        for (int i = first; i < end; i++)
            replace_slot(s, i);
        return;
    }
    s->reload_next = first;
    s->reload_end = end;
    reload_step(s);
}

/* ---- shutdown ----------------------------------------------------------- */

static void shutdown_timeout(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_server_t *s = ud;
    s->shutdown_timer = 0;
    EDDY_WARN("workers did not finish within max_wait_time; killing them");
    signal_children(s, SIGKILL);
}

static void start_shutdown(eddy_server_t *s)
{
    if (++s->shutdown_requests > 1) {
        EDDY_WARN("second shutdown request: killing the workers");
        signal_children(s, SIGKILL);
        return;
    }
    EDDY_NOTICE("shutting down");
    s->shutting_down = true;
    s->reload_next = -1;
    for (int i = 0; i < s->nslots; i++) {
        if (s->slots[i].restart_timer) eddy_timer_clear(s->loop, s->slots[i].restart_timer);
        s->slots[i].restart_timer = 0;
    }
    signal_children(s, SIGTERM);
    int64_t id = eddy_timer_after(s->loop, s->opts.max_wait_time * 1000 + KILL_MARGIN_MS,
                                  shutdown_timeout, s);
    s->shutdown_timer = id > 0 ? id : 0;
    if (!any_child(s)) master_finish(s);
}

/* ---- notices from workers ---------------------------------------------- */

static void handle_notice(eddy_server_t *s, const notice_t *n)
{
    switch (n->type) {
    case NOTICE_RETIRING:
    case NOTICE_STOP_WORKER:
        if (n->worker_id >= 0 && n->worker_id < s->nslots && !s->shutting_down)
            replace_slot(s, n->worker_id);
        break;
    case NOTICE_RELOAD: start_reload(s, false); break;
    case NOTICE_RELOAD_TASKS: start_reload(s, true); break;
    case NOTICE_SHUTDOWN: start_shutdown(s); break;
    default: EDDY_WARN("unknown notice %d from worker %d", n->type, n->worker_id);
    }
}

static void read_notices(eddy_server_t *s)
{
    notice_t n;
    while (read(s->notice_pipe[0], &n, sizeof n) == (ssize_t)sizeof n)
        handle_notice(s, &n);
}

static void notice_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    read_notices(ud);
}

/* ---- workers coming and going ------------------------------------------ */

static void restart_later(eddy_loop_t *loop, int64_t id, void *ud);

static void child_exited(eddy_server_t *s, pid_t pid, int status)
{
    bool leaving;
    int i = slot_of(s, pid, &leaving);
    if (i < 0) return;
    worker_slot_t *w = &s->slots[i];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (leaving) {
        w->leaving_pid = 0;
        EDDY_INFO("worker #%d (pid %d) left", i, (int)pid);
        reload_step(s);
        return;
    }
    w->pid = 0;
    if (s->shutting_down) return;
    EDDY_WARN("worker #%d (pid %d) exited unexpectedly: %s %d", i, (int)pid,
              signo ? "signal" : "status", signo ? signo : code);
    if (s->cbs.on_worker_error) s->cbs.on_worker_error(s, i, pid, code, signo, s->ud);
    uint64_t lived = eddy_loop_now(s->loop) - w->started_ms;
    w->quick_deaths = lived < QUICK_DEATH_MS ? w->quick_deaths + 1 : 0;
    if (w->quick_deaths < 2) {
        fork_slot(s, i);
        return;
    }
    /* Crashing at start again and again: do not turn into a fork loop. */
    int64_t id = eddy_timer_after(s->loop, RESTART_BACKOFF_MS, restart_later, w);
    w->restart_timer = id > 0 ? id : 0;
}

static void restart_later(eddy_loop_t *loop, int64_t id, void *ud)
{
    worker_slot_t *w = ud;
    w->restart_timer = 0;
    eddy_server_t *s = eddy_loop_data(loop);
    if (!s->shutting_down && !w->pid) fork_slot(s, (int)(w - s->slots));
}

static void on_child(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_server_t *s = ud;
    /* A retiring worker says so before it exits: take its notice first, so
     * its exit is not mistaken for a crash. */
    read_notices(s);
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        child_exited(s, pid, status);
    if (s->shutting_down && !any_child(s)) master_finish(s);
}

static void on_signal(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_server_t *s = ud;
    if (signo == SIGTERM || signo == SIGINT) start_shutdown(s);
    if (signo == SIGUSR1) start_reload(s, false);
    if (signo == SIGUSR2) start_reload(s, true);
    if (signo == SIGRTMIN) {
        eddy_log_reopen();
        signal_children(s, SIGRTMIN);
    }
}

static void fork_slot(eddy_server_t *s, int i)
{
    pid_t pid = fork();
    if (pid < 0) {
        EDDY_ERROR("fork: %s", eddy_strerror(-errno));
        int64_t id = eddy_timer_after(s->loop, RESTART_BACKOFF_MS, restart_later, &s->slots[i]);
        s->slots[i].restart_timer = id > 0 ? id : 0;
        return;
    }
    if (pid == 0) {
        /* The master's loop, signals and notice reader are not the child's. */
        eddy_loop_t *loop = s->loop;
        s->loop = NULL;
        eddy_loop_discard_after_fork(loop);
        close(s->notice_pipe[0]);
        sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
        eddy__worker_run(s, i);
    }
    s->slots[i].pid = pid;
    s->slots[i].started_ms = eddy_loop_now(s->loop);
    EDDY_INFO("worker #%d started (pid %d)", i, (int)pid);
}

/* ---- running -------------------------------------------------------------- */

static int master_setup(eddy_server_t *s)
{
    int rc = eddy_loop_new(&s->loop);
    if (rc < 0) return rc;
    eddy_loop_set_data(s->loop, s);
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        if ((rc = eddy_signal_start(s->loop, master_signals[i], on_signal, s)) < 0) return rc;
    if ((rc = eddy_signal_start(s->loop, SIGCHLD, on_child, s)) < 0) return rc;
    if ((rc = eddy_signal_start(s->loop, SIGRTMIN, on_signal, s)) < 0) return rc;
    return eddy_io_add(s->loop, s->notice_pipe[0], EDDY_READABLE, notice_cb, s);
}

int eddy__master_run(eddy_server_t *s)
{
    prctl(PR_SET_NAME, "eddy: master");
    s->nslots = eddy__server_total_workers(s);
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    if (!s->slots) return -ENOMEM;
    s->reload_next = -1;
    if (pipe2(s->notice_pipe, O_CLOEXEC) < 0) return -errno;
    fcntl(s->notice_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(s->notice_pipe[1], F_SETFL, O_NONBLOCK);
    int rc = master_setup(s);
    if (rc < 0) return rc;
    if (s->cbs.on_start) s->cbs.on_start(s, s->ud);
    for (int i = 0; i < s->nslots; i++)
        fork_slot(s, i);
    rc = eddy_loop_run(s->loop);
    if (s->cbs.on_shutdown) s->cbs.on_shutdown(s, s->ud);
    eddy_loop_free(s->loop);
    s->loop = NULL;
    close(s->notice_pipe[0]);
    close(s->notice_pipe[1]);
    return rc;
}
