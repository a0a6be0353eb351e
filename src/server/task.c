/*
 * Messages between the server's processes: tasks for the task workers and
 * their results, pipe messages between workers, and sends or closes aimed
 * at a session another worker owns. All of it travels through the inboxes
 * of ipc.h, one per worker slot.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/proctitle.h"
#include "ipc.h"
#include "server_internal.h"

/* task id: the sending slot + 1 (16 bits) | waited flag | sequence (39 bits) */
#define TASK_WAITED   (1ull << 39)
#define TASK_SEQ_MASK (TASK_WAITED - 1)

static int task_src_slot(int64_t task_id)
{
    return (int)((uint64_t)task_id >> 40) - 1;
}

static bool is_worker(const eddy_server_t *s)
{
    return s->role == ROLE_WORKER;
}

static int pick_task_worker(eddy_server_t *s, int dst)
{
    int n = s->opts.task_worker_num;
    if (n == 0) return -EDDY_ESTATE;
    if (dst >= 0) return dst < n ? s->opts.worker_num + dst : -EINVAL;
    s->task_rr = (s->task_rr + 1) % n;
    return s->opts.worker_num + s->task_rr;
}

static int64_t send_task(eddy_server_t *s, const void *data, size_t len, int dst, bool waited)
{
    if (!is_worker(s) || !s->ipc) return -EDDY_ESTATE;
    int slot = pick_task_worker(s, dst);
    if (slot < 0) return slot;
    s->task_seq = (s->task_seq + 1) & TASK_SEQ_MASK;
    if (s->task_seq == 0) s->task_seq = 1;
    int64_t id =
        (int64_t)((uint64_t)(s->worker_id + 1) << 40 | (waited ? TASK_WAITED : 0) | s->task_seq);
    int rc = eddy__ipc_send(s->ipc, slot, MSG_TASK, (uint64_t)id, data, len);
    return rc < 0 ? rc : id;
}

int64_t eddy_server_task(eddy_server_t *s, const void *data, size_t len, int dst_task_worker)
{
    return send_task(s, data, len, dst_task_worker, false);
}

static int take_result(ipc_msg_t *msg, void **result, size_t *result_len)
{
    void *copy = malloc(msg->len ? msg->len : 1);
    if (!copy) {
        eddy__ipc_msg_free(msg);
        return -ENOMEM;
    }
    memcpy(copy, msg->data, msg->len);
    *result = copy;
    *result_len = msg->len;
    eddy__ipc_msg_free(msg);
    return 0;
}

int eddy_server_taskwait(eddy_server_t *s, const void *data, size_t len, int dst_task_worker,
                         int timeout_ms, void **result, size_t *result_len)
{
    int64_t id = send_task(s, data, len, dst_task_worker, true);
    if (id < 0) return (int)id;
    ipc_msg_t msg;
    int rc = eddy__ipc_wait_id(s->ipc, MSG_FINISH, (uint64_t)id, timeout_ms, &msg);
    return rc < 0 ? rc : take_result(&msg, result, result_len);
}

int eddy_server_taskwait_multi(eddy_server_t *s, size_t n, const void *const *data,
                               const size_t *lens, int timeout_ms, void **results,
                               size_t *result_lens)
{
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        results[i] = NULL;
        result_lens[i] = 0;
        ids[i] = send_task(s, data[i], lens[i], -1, true);
        if (ids[i] < 0) {
            int rc = (int)ids[i];
            free(ids);
            return rc;
        }
    }
    uint64_t deadline = eddy_clock_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t now = eddy_clock_ms();
        int left = now < deadline ? (int)(deadline - now) : 0;
        ipc_msg_t msg;
        if (eddy__ipc_wait_id(s->ipc, MSG_FINISH, (uint64_t)ids[i], left, &msg) < 0) continue;
        if (take_result(&msg, &results[i], &result_lens[i]) == 0) done++;
    }
    free(ids);
    return done;
}

int eddy_server_finish(eddy_server_t *s, int64_t task_id, const void *data, size_t len)
{
    if (s->role != ROLE_TASK_WORKER || !s->ipc) return -EDDY_ESTATE;
    int slot = task_src_slot(task_id);
    if (slot < 0 || slot >= s->opts.worker_num) return -EINVAL;
    return eddy__ipc_send(s->ipc, slot, MSG_FINISH, (uint64_t)task_id, data, len);
}

int eddy_server_send_message(eddy_server_t *s, int dst_worker, const void *data, size_t len)
{
    if (!s->ipc) return -EDDY_ESTATE;
    if (dst_worker < 0 || dst_worker >= eddy__server_total_workers(s) || dst_worker == s->worker_id)
        return -EINVAL;
    return eddy__ipc_send(s->ipc, dst_worker, MSG_PIPE, 0, data, len);
}

/* A session of another worker: the owner carries the call out. */
int eddy__server_forward(eddy_server_t *s, eddy_session_t session, int op, const void *data,
                         size_t len)
{
    int owner = (int)(session >> 52) - 1;
    if (!is_worker(s) || !s->ipc || owner < 0 || owner >= s->opts.worker_num ||
        owner == s->worker_id)
        return -EDDY_ESESSION;
    static const uint16_t types[] = {MSG_SESSION_SEND, MSG_SESSION_CLOSE, MSG_SESSION_RESET};
    return eddy__ipc_send(s->ipc, owner, types[op], session, data, len);
}

static void run_task(eddy_server_t *s, const ipc_msg_t *msg)
{
    s->requests++;
    if (s->cbs.on_task)
        s->cbs.on_task(s, (int64_t)msg->id, task_src_slot((int64_t)msg->id), msg->data, msg->len,
                       s->ud);
    if (s->opts.task_max_request && s->requests >= s->opts.task_max_request && !s->leaving) {
        eddy__server_notice(s, NOTICE_RETIRING, s->worker_id);
        eddy__task_worker_leave(s);
    }
}

static void on_message(ipc_t *ipc, const ipc_msg_t *msg, void *ud)
{
    eddy_server_t *s = ud;
    switch (msg->type) {
    case MSG_TASK:
        if (s->role == ROLE_TASK_WORKER) run_task(s, msg);
        break;
    case MSG_FINISH:
        /* A taskwait that timed out gave up on its result: drop it. */
        if (!(msg->id & TASK_WAITED) && s->cbs.on_finish)
            s->cbs.on_finish(s, (int64_t)msg->id, msg->data, msg->len, s->ud);
        break;
    case MSG_PIPE:
        if (s->cbs.on_pipe_message)
            s->cbs.on_pipe_message(s, msg->src_slot, msg->data, msg->len, s->ud);
        break;
    case MSG_SESSION_SEND: eddy_server_send(s, msg->id, msg->data, msg->len); break;
    case MSG_SESSION_CLOSE: eddy_server_close(s, msg->id); break;
    case MSG_SESSION_RESET: eddy_server_reset(s, msg->id); break;
    case MSG_CONNECT:
    case MSG_DATA:
    case MSG_DATA_SPOOLED:
    case MSG_CLOSED:
    case MSG_BUFFER_FULL:
    case MSG_BUFFER_EMPTY:
    case MSG_DATAGRAM: eddy__worker_reactor_message(s, msg); break;
    default: EDDY_WARN("unknown message type %u from slot %d", msg->type, (int)msg->src_slot);
    }
}

int eddy__server_ipc_open(eddy_server_t *s)
{
    /* Other slots' receive ends are the master's to keep for their successors. */
    for (int i = 0; i < s->ninboxes; i++) {
        if (i == s->worker_id || s->inboxes[i].fd[0] < 0) continue;
        close(s->inboxes[i].fd[0]);
        s->inboxes[i].fd[0] = -1;
    }
    return eddy__ipc_open(&s->ipc, s->loop, s->inboxes, s->ninboxes, s->worker_id, 0, on_message,
                          s);
}

void eddy__server_ipc_close(eddy_server_t *s)
{
    if (!s->ipc) return;
    eddy__ipc_flush(s->ipc, (int)(s->opts.max_wait_time * 1000));
    eddy__ipc_close(s->ipc);
    s->ipc = NULL;
}

/* ---- task workers -------------------------------------------------------- */

void eddy__task_worker_leave(eddy_server_t *s)
{
    if (s->leaving) return;
    s->leaving = true;
    if (s->cbs.on_worker_stop) s->cbs.on_worker_stop(s, s->worker_id, s->ud);
    /* Tasks still in the inbox wait for this slot's successor; results it
     * queued are flushed on the way out. */
    eddy_loop_stop(s->loop);
}

void eddy__task_worker_run(eddy_server_t *s, int slot)
{
    eddy_proctitle_set("eddy: task worker #%d", slot);
    char name[16]; /* the thread name keeps 15 bytes: the number first */
    snprintf(name, sizeof name, "eddy: task %d", slot);
    eddy_proctitle_set_thread(name);
    s->role = ROLE_TASK_WORKER;
    s->worker_id = slot;
    s->start_time = (uint64_t)time(NULL);
    int rc = eddy_loop_new(&s->loop);
    if (rc == 0) rc = eddy__worker_signals_start(s);
    if (rc == 0) rc = eddy__server_ipc_open(s);
    if (rc < 0) {
        EDDY_ERROR("task worker #%d: %s", slot, eddy_strerror(rc));
        _exit(1);
    }
    eddy__server_notice(s, NOTICE_READY, slot);
    if (s->cbs.on_worker_start) s->cbs.on_worker_start(s, slot, s->ud);
    if (getppid() != s->manager_pid) eddy__task_worker_leave(s);
    eddy_loop_run(s->loop);
    if (!s->leaving && s->cbs.on_worker_stop) s->cbs.on_worker_stop(s, slot, s->ud);
    eddy__worker_exit(s);
}
