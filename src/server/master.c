/*
 * The manager: it forks the workers, reaps them, restarts those that die,
 * replaces them on reload or when they retire, and shuts them down. In BASE
 * mode the master is the manager; in PROCESS mode the master forks it
 * before starting its reactor threads. It never starts a thread, so forking
 * is always safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/proctitle.h"
#include "server_internal.h"

#define QUICK_DEATH_MS     1000 /* a worker dying this soon after start... */
#define RESTART_BACKOFF_MS 1000 /* ...is restarted after a pause, not at once */

static const int master_signals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

void eddy__server_signal_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        sigaddset(set, master_signals[i]);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGRTMIN);
}

static void fork_slot(eddy_server_t *s, int i);

/* The slot of a child, and whether it is a leaver (then *leaver is its
 * index in s->leavers). */
static int slot_of(const eddy_server_t *s, pid_t pid, int *leaver)
{
    *leaver = -1;
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].pid == pid) return i;
    for (int k = 0; k < s->nleavers; k++)
        if (s->leavers[k].pid == pid) return *leaver = k, s->leavers[k].slot;
    return -1;
}

static bool any_child(const eddy_server_t *s)
{
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].pid) return true;
    return s->nleavers > 0;
}

static void signal_children(const eddy_server_t *s, int signo)
{
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].pid) kill(s->slots[i].pid, signo);
    for (int k = 0; k < s->nleavers; k++)
        kill(s->leavers[k].pid, signo);
}

/* Kill slot's leavers that were told to leave and did not (one whose
 * successor never got ready is still serving: it stays). */
static void kill_leavers(const eddy_server_t *s, int slot)
{
    for (int k = 0; k < s->nleavers; k++)
        if (s->leavers[k].slot == slot && s->leavers[k].told) kill(s->leavers[k].pid, SIGKILL);
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
static bool replace_slot(eddy_server_t *s, int i)
{
    worker_slot_t *w = &s->slots[i];
    /* Not running: a restart is pending, and will be a fresh worker anyway. */
    if (!w->pid) return false;
    if (s->nleavers == s->leavers_cap) {
        int cap = s->leavers_cap ? s->leavers_cap * 2 : 8;
        leaver_t *l = realloc(s->leavers, (size_t)cap * sizeof *l);
        if (!l) {
            EDDY_ERROR("worker #%d: cannot replace it: out of memory", i);
            return false;
        }
        s->leavers = l;
        s->leavers_cap = cap;
    }
    s->leavers[s->nleavers++] = (leaver_t){w->pid, i, false};
    w->leaving++;
    w->pid = 0;
    fork_slot(s, i); /* SIGTERM for the old one when this one is ready */
    return true;
}

/* Slot i's worker has opened its listeners: its predecessors may close
 * theirs. (With enable_reuse_port each worker's socket is its own: were the
 * old one closed first, a one-worker group would be empty for a moment and
 * connections refused.) If the successor never gets ready, the predecessor
 * goes on serving. */
static void tell_leavers(eddy_server_t *s, int slot)
{
    for (int k = 0; k < s->nleavers; k++) {
        if (s->leavers[k].slot != slot || s->leavers[k].told) continue;
        s->leavers[k].told = true;
        kill(s->leavers[k].pid, SIGTERM);
    }
}

static void reload_step(eddy_server_t *s);

static void reload_timeout(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_server_t *s = ud;
    s->reload_timer = 0;
    int i = s->reload_next - 1;
    if (i >= 0 && s->slots[i].leaving) {
        EDDY_WARN("worker #%d: its predecessor did not leave in time; killing it", i);
        kill_leavers(s, i);
    }
}

/* One by one: the next slot is replaced once its predecessor has left. */
static void reload_step(eddy_server_t *s)
{
    if (s->reload_next < 0 || s->shutting_down) return;
    if (s->reload_next > 0 && s->slots[s->reload_next - 1].leaving) return;
    if (s->reload_timer) eddy_timer_clear(s->loop, s->reload_timer);
    s->reload_timer = 0;
    /* A slot with nothing to replace is skipped: no exit would come to
     * advance the reload past it. */
    while (s->reload_next < s->reload_end && !replace_slot(s, s->reload_next))
        s->reload_next++;
    if (s->reload_next >= s->reload_end) {
        EDDY_NOTICE("reload complete");
        s->reload_next = -1;
        return;
    }
    s->reload_next++;
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
    for (int k = 0; k < s->nleavers; k++)
        s->leavers[k].told = true;
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
        /* Only if the sender still holds its slot: one that a reload has
         * replaced meanwhile is leaving already. */
        if (n->worker_id >= 0 && n->worker_id < s->nslots && !s->shutting_down &&
            s->slots[n->worker_id].pid == n->pid)
            replace_slot(s, n->worker_id);
        break;
    case NOTICE_STOP_WORKER:
        if (n->worker_id >= 0 && n->worker_id < s->nslots && !s->shutting_down)
            replace_slot(s, n->worker_id);
        break;
    case NOTICE_READY:
        if (n->worker_id >= 0 && n->worker_id < s->nslots && s->slots[n->worker_id].pid == n->pid)
            tell_leavers(s, n->worker_id);
        break;
    case NOTICE_RELOAD: start_reload(s, false); break;
    case NOTICE_RELOAD_TASKS: start_reload(s, true); break;
    case NOTICE_SHUTDOWN:
        /* PROCESS mode: the master drains its connections first. */
        if (s->role == ROLE_MANAGER)
            kill(s->master_pid, SIGTERM);
        else
            start_shutdown(s);
        break;
    default: EDDY_WARN("unknown notice %d from worker %d", n->type, n->worker_id);
    }
}

static void read_notices(eddy_server_t *s)
{
    notice_t n;
    while (recv(s->notice_pipe[0], &n, sizeof n, MSG_DONTWAIT) == (ssize_t)sizeof n)
        handle_notice(s, &n);
}

static void notice_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    read_notices(ud);
}

/* ---- workers coming and going ------------------------------------------ */

static void restart_later(eddy_loop_t *loop, int64_t id, void *ud);

/* PROCESS mode: a worker ended without finishing its work (crashed, or was
 * killed): every reactor thread closes the connections whose request it
 * had taken and not answered. */
static void report_lost(eddy_server_t *s, int slot)
{
    if (s->role != ROLE_MANAGER || !s->ipc || slot >= s->opts.worker_num) return;
    /* The worker was dead by now: what a reactor sends the slot from this
     * moment on waits in the inbox for the successor, however late this
     * notice arrives. */
    uint64_t now = eddy_clock_ms();
    for (int r = 0; r < s->opts.reactor_num; r++)
        eddy__ipc_send(s->ipc, reactor_slot(s, r), MSG_WORKER_LOST, (uint64_t)slot, &now,
                       sizeof now);
}

static void child_exited(eddy_server_t *s, pid_t pid, int status)
{
    int leaver;
    int i = slot_of(s, pid, &leaver);
    if (i < 0) return;
    worker_slot_t *w = &s->slots[i];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (leaver >= 0) {
        s->leavers[leaver] = s->leavers[--s->nleavers];
        w->leaving--;
        EDDY_INFO("worker #%d (pid %d) left", i, (int)pid);
        if (code != 0) report_lost(s, i);
        reload_step(s);
        return;
    }
    w->pid = 0;
    if (!s->shutting_down || code != 0) report_lost(s, i);
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
    /* Ctrl-C reaches the whole process group: in PROCESS mode the master
     * drains the connections first and then tells the manager (SIGTERM). */
    if (signo == SIGTERM || (signo == SIGINT && s->role == ROLE_MASTER)) start_shutdown(s);
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
        /* A worker leaves gracefully when its master dies (SIGTERM, blocked
         * until the worker watches it; eddy__worker_run checks whether the
         * master died before this took effect). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* The master's loop, signals and notice reader are not the child's.
         * The signals stay blocked (the master blocked them before its loop
         * watched them, so the discard leaves them so): eddy__worker_run
         * watches its own, then restores the rest of the original mask. */
        eddy_loop_t *loop = s->loop;
        s->loop = NULL;
        if (s->ipc) eddy__ipc_discard(s->ipc);
        s->ipc = NULL;
        eddy_loop_discard_after_fork(loop);
        close(s->notice_pipe[0]);
        s->notice_pipe[0] = -1;
        if (i >= s->opts.worker_num) {
            eddy__server_release_first_fds(s); /* a task worker accepts nothing */
            eddy__task_worker_run(s, i);
        }
        eddy__worker_run(s, i);
    }
    s->slots[i].pid = pid;
    s->slots[i].started_ms = eddy_loop_now(s->loop);
    eddy__server_release_first_fds(s); /* the first worker forked adopts them */
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
    /* The manager tells the reactor threads about workers that died. */
    if (s->role == ROLE_MANAGER &&
        (rc = eddy__ipc_open(&s->ipc, s->loop, s->inboxes, s->ninboxes, -1, 0, NULL, NULL)) < 0)
        return rc;
    return eddy_io_add(s->loop, s->notice_pipe[0], EDDY_READABLE, notice_cb, s);
}

/* The master's loop is gone: restore the caller's signal mask, discarding
 * instances that came for the master after it stopped watching (unblocked,
 * they would take their default action: for most, killing the caller). */
void eddy__server_restore_signals(const eddy_server_t *s)
{
    sigset_t late;
    eddy__server_signal_set(&late);
    const struct timespec zero = {0, 0};
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&late, signo) == 1 && sigismember(&s->original_mask, signo) == 1)
            sigdelset(&late, signo);
    while (sigtimedwait(&late, NULL, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
}

int eddy__master_run(eddy_server_t *s)
{
    eddy_proctitle_set(s->role == ROLE_MANAGER ? "eddy: manager" : "eddy: master");
    sigset_t watched;
    eddy__server_signal_set(&watched);
    sigprocmask(SIG_BLOCK, &watched, NULL);
    int rc = master_setup(s);
    if (rc == 0) {
        if (s->role == ROLE_MASTER && s->cbs.on_start) s->cbs.on_start(s, s->ud);
        if (s->cbs.on_manager_start) s->cbs.on_manager_start(s, s->ud);
        for (int i = 0; i < s->nslots; i++)
            fork_slot(s, i);
        rc = eddy_loop_run(s->loop);
        if (s->cbs.on_manager_stop) s->cbs.on_manager_stop(s, s->ud);
        if (s->role == ROLE_MASTER && s->cbs.on_shutdown) s->cbs.on_shutdown(s, s->ud);
    }
    if (s->ipc) eddy__ipc_flush(s->ipc, 1000);
    eddy__server_ipc_close(s);
    eddy_loop_free(s->loop);
    s->loop = NULL;
    eddy__server_restore_signals(s);
    return rc;
}
