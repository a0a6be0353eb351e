/*
 * A worker process in BASE mode: its own loop, its own listeners on the
 * sockets the master bound, its connections named by session ids.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/proctitle.h"
#include "server_internal.h"

#define LEAVE_SETTLE_MS 20
#define LEAVE_CHECK_MS  100

static session_slot_t *session_find(eddy_server_t *s, eddy_session_t id)
{
    if (s->role != ROLE_WORKER || is_process_mode(s) || session_owner(id) != s->worker_id)
        return NULL;
    size_t fd = (size_t)session_fd(id);
    uint32_t gen = (uint32_t)id;
    if (fd >= s->nsessions) return NULL;
    session_slot_t *slot = &s->sessions[fd];
    return slot->conn && slot->gen == gen ? slot : NULL;
}

static eddy_conn_t *session_conn(eddy_server_t *s, eddy_session_t id)
{
    session_slot_t *slot = session_find(s, id);
    return slot ? slot->conn : NULL;
}

static eddy_session_t conn_session(const eddy_conn_t *c)
{
    return (eddy_session_t)(uintptr_t)eddy_conn_data(c);
}

static int session_reserve(eddy_server_t *s, size_t fd)
{
    if (fd < s->nsessions) return 0;
    if (fd >= SESSION_FD_MAX) return -EMFILE;
    session_slot_t *slots = eddy__grow_zeroed(s->sessions, &s->nsessions, sizeof *slots, fd, 256);
    if (!slots) return -ENOMEM;
    s->sessions = slots;
    return 0;
}

/* ---- connection callbacks ------------------------------------------------ */

static void conn_connect(eddy_conn_t *c, void *ud)
{
    server_port_t *p = ud;
    eddy_server_t *s = p->server;
    int fd = eddy_conn_fd(c);
    if (session_reserve(s, (size_t)fd) < 0) {
        eddy_reset(c);
        return;
    }
    session_slot_t *slot = &s->sessions[fd];
    if (++slot->gen == 0) slot->gen = 1; /* 0 never names a session */
    slot->conn = c;
    slot->port = p->index;
    slot->protected_ = false;
    slot->owed = false;
    slot->uid = 0;
    eddy_session_t id = session_make(s->worker_id, fd, slot->gen);
    eddy_conn_set_data(c, (void *)(uintptr_t)id);
    if (p->cbs.on_connect) p->cbs.on_connect(s, id, p->ud);
}

/* max_request reached: ask the master for a successor, and go on serving
 * until told to leave (SIGTERM, once the successor is ready). Alone (no
 * master to ask), leave at once. */
void eddy__worker_count_request(eddy_server_t *s)
{
    if (!s->request_limit || s->requests < s->request_limit || s->leaving || s->retiring) return;
    EDDY_INFO("worker #%d served %llu requests: retiring", s->worker_id,
              (unsigned long long)s->requests);
    s->retiring = true;
    if (eddy__server_notice(s, NOTICE_RETIRING, s->worker_id) < 0) eddy__worker_leave(s);
}

static void conn_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    server_port_t *p = ud;
    eddy_server_t *s = p->server;
    s->packet_part = eddy_conn_packet_part(c);
    bool request = s->packet_part == EDDY_PACKET_WHOLE || s->packet_part == EDDY_PACKET_HEAD;
    if (request) s->requests++;
    session_slot_t *slot = session_find(s, conn_session(c));
    if (slot) slot->owed = true;
    if (p->cbs.on_receive) p->cbs.on_receive(s, conn_session(c), data, len, p->ud);
    s->packet_part = EDDY_PACKET_WHOLE;
    if (request) eddy__worker_count_request(s);
}

static void leave_check(eddy_server_t *s);

static void conn_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    server_port_t *p = ud;
    eddy_server_t *s = p->server;
    eddy_session_t id = conn_session(c);
    if (id == 0) return; /* reset in conn_connect: never announced */
    session_slot_t *slot = session_find(s, id);
    if (p->cbs.on_close) p->cbs.on_close(s, id, reason, err, p->ud);
    if (slot) slot->conn = NULL;
    if (s->leaving) leave_check(s);
}

static void conn_buffer_full(eddy_conn_t *c, void *ud)
{
    server_port_t *p = ud;
    if (p->cbs.on_buffer_full) p->cbs.on_buffer_full(p->server, conn_session(c), p->ud);
}

static void conn_buffer_empty(eddy_conn_t *c, void *ud)
{
    server_port_t *p = ud;
    if (p->cbs.on_buffer_empty) p->cbs.on_buffer_empty(p->server, conn_session(c), p->ud);
}

static void port_packet(eddy_listener_t *l, const char *data, size_t len, const eddy_addr_t *from,
                        void *ud)
{
    server_port_t *p = ud;
    p->server->requests++;
    if (p->cbs.on_packet) p->cbs.on_packet(p->server, p->index, data, len, from, p->ud);
}

static const eddy_conn_callbacks_t conn_callbacks = {
    .on_connect = conn_connect,
    .on_receive = conn_receive,
    .on_close = conn_close,
    .on_buffer_full = conn_buffer_full,
    .on_buffer_empty = conn_buffer_empty,
    .on_packet = port_packet,
};

/* ---- leaving -------------------------------------------------------------- */

static size_t open_sessions(const eddy_server_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsessions; i++)
        n += s->sessions[i].conn != NULL;
    return n;
}

/* Close each connection once it owes nothing — every packet it delivered
 * was answered (something was sent after it) — or when max_wait_time is up;
 * leave once all have closed. A request still being worked on (a timer, a
 * query) keeps its connection open until its reply is sent, however long
 * that takes within max_wait_time. The close is graceful, so the reply is
 * delivered; a request the client sends meanwhile is discarded unanswered,
 * and the client sees a clean EOF between two answers. */
static void process_leave_check(eddy_server_t *s);

void eddy__net_stats_add(eddy_net_stats_t *to, const eddy_net_stats_t *n)
{
    to->accepted += n->accepted;
    to->refused += n->refused;
    to->active += n->active;
    for (int r = 0; r < EDDY_CLOSE_REASON_COUNT; r++)
        to->closed[r] += n->closed[r];
    to->evicted += n->evicted;
    to->framing_errors += n->framing_errors;
    to->accept_paused += n->accept_paused;
    to->bytes_in += n->bytes_in;
    to->bytes_out += n->bytes_out;
    to->packets_in += n->packets_in;
}

static void leave_check(eddy_server_t *s)
{
    if (is_process_mode(s)) {
        process_leave_check(s);
        return;
    }
    if (!s->leave_settled) return;
    uint64_t now = eddy_loop_now(s->loop);
    bool deadline = now >= s->leave_deadline;
    for (size_t i = 0; i < s->nsessions; i++) {
        eddy_conn_t *c = s->sessions[i].conn;
        if (!c || eddy_conn_closing(c)) continue;
        if (deadline || !s->sessions[i].owed) eddy_close(c);
    }
    bool hard_deadline = now >= s->leave_deadline + LEAVE_MARGIN_MS;
    if (open_sessions(s) > 0 && !hard_deadline) return;
    if (hard_deadline)
        for (size_t i = 0; i < s->nsessions; i++)
            if (s->sessions[i].conn) eddy_reset(s->sessions[i].conn);
    if (s->leave_timer) eddy_timer_clear(s->loop, s->leave_timer);
    s->leave_timer = 0;
    eddy_loop_stop(s->loop);
}

static void leave_tick(eddy_loop_t *loop, int64_t id, void *ud)
{
    leave_check(ud);
}

static void leave_settle(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_server_t *s = ud;
    s->leave_settled = true;
    leave_check(s);
}

/* PROCESS mode: the connections stay with the reactors; leave once every
 * packet this worker took is answered, or at max_wait_time. */
static void process_leave_check(eddy_server_t *s)
{
    if (!s->leave_settled) return;
    if (eddy__pw_owed(s) > 0 && eddy_loop_now(s->loop) < s->leave_deadline) return;
    if (s->leave_timer) eddy_timer_clear(s->loop, s->leave_timer);
    s->leave_timer = 0;
    eddy_loop_stop(s->loop);
}

void eddy__worker_leave(eddy_server_t *s)
{
    if (s->leaving) return;
    s->leaving = true;
    /* PROCESS mode: what is still in the inbox is the successor's. */
    if (is_process_mode(s) && s->ipc) eddy__ipc_stop_receiving(s->ipc);
    for (int i = 0; i < s->nports; i++) {
        if (!s->ports[i].listener) continue;
        eddy_net_stats_t n;
        eddy_listener_stats(s->ports[i].listener, &n);
        eddy__net_stats_add(&s->closed_ports, &n); /* eddy_server_stats goes on counting them */
        eddy_listener_close(s->ports[i].listener);
        s->ports[i].listener = NULL;
    }
    if (s->cbs.on_worker_stop) s->cbs.on_worker_stop(s, s->worker_id, s->ud);
    s->leave_deadline = eddy_loop_now(s->loop) + s->opts.max_wait_time * 1000;
    /* The first check after a moment, not now: requests that had arrived
     * when the signal came are read and answered first. */
    eddy_timer_after(s->loop, LEAVE_SETTLE_MS, leave_settle, s);
    int64_t id = eddy_timer_tick(s->loop, LEAVE_CHECK_MS, leave_tick, s);
    s->leave_timer = id > 0 ? id : 0;
}

/* SIGTERM: leave. SIGINT, SIGUSR1, SIGUSR2 are the master's (Ctrl-C and
 * `kill -USR1` aimed at a process group reach every worker too): ignored
 * here, through the signalfd, so that they cannot kill the worker. */
static void worker_signal(eddy_loop_t *loop, int signo, void *ud)
{
    eddy_server_t *s = ud;
    if (signo == SIGTERM && s->role == ROLE_TASK_WORKER) eddy__task_worker_leave(s);
    if (signo == SIGTERM && s->role == ROLE_WORKER) eddy__worker_leave(s);
    if (signo == SIGRTMIN) eddy_log_reopen();
}

#define NWORKER_SIGNALS 5

static void worker_signal_list(int out[NWORKER_SIGNALS])
{
    const int list[NWORKER_SIGNALS] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGRTMIN};
    memcpy(out, list, sizeof list);
}

/* Watch the worker's signals, then unblock the rest of what the master
 * blocked: the signal mask the application started with. */
int eddy__worker_signals_start(eddy_server_t *s)
{
    int list[NWORKER_SIGNALS];
    worker_signal_list(list);
    sigset_t mask = s->original_mask;
    for (int i = 0; i < NWORKER_SIGNALS; i++) {
        int rc = eddy_signal_start(s->loop, list[i], worker_signal, s);
        if (rc < 0) return rc;
        sigaddset(&mask, list[i]);
    }
    sigprocmask(SIG_SETMASK, &mask, NULL);
    return 0;
}

/* ---- running ------------------------------------------------------------------ */

static int open_port(eddy_server_t *s, server_port_t *p)
{
    p->server = s;
    if (is_process_mode(s)) {
        /* The reactors accept; a datagram socket stays for sendto. */
        if (!p->udp && p->fd >= 0) close(p->fd);
        if (!p->udp) p->fd = -1;
        return 0;
    }
    int fd = p->fd;
    if (p->opts.reuse_port && !p->unix_path && !p->udp) {
        /* Its own socket in the SO_REUSEPORT group: the kernel spreads
         * connections across workers. The master's socket only holds the
         * port; this worker has no use for its copy. The first worker
         * forked takes the socket that has queued connections since the
         * port was bound. */
        fd = eddy__server_reuse_port_socket(p);
        if (fd < 0) return fd;
        close(p->fd);
        p->fd = -1;
    }
    p->server = s;
    int rc = eddy_listener_adopt(s->loop, fd, &p->opts, &conn_callbacks, p, &p->listener);
    if (rc < 0 && fd != p->fd) close(fd);
    if (rc == 0 && fd == p->fd) p->fd = -1; /* the listener owns it now */
    return rc;
}

static uint64_t pick_request_limit(const eddy_server_t *s)
{
    if (!s->opts.max_request) return 0;
    uint64_t grace =
        s->opts.max_request_grace ? s->opts.max_request_grace : s->opts.max_request / 2;
    return s->opts.max_request + (grace ? (uint64_t)rand() % (grace + 1) : 0);
}

void eddy__worker_run(eddy_server_t *s, int worker_id)
{
    eddy_proctitle_set("eddy: worker #%d", worker_id);
    char name[16]; /* the thread name keeps 15 bytes: "#" would cut #10 to #1 */
    snprintf(name, sizeof name, "eddy: worker %d", worker_id);
    eddy_proctitle_set_thread(name);
    s->role = ROLE_WORKER;
    s->worker_id = worker_id;
    srand((unsigned)(getpid() ^ time(NULL)));
    s->start_time = (uint64_t)time(NULL);
    int rc = eddy_loop_new(&s->loop);
    if (rc == 0) rc = eddy__worker_signals_start(s);
    if (rc == 0) rc = eddy__server_ipc_open(s);
    for (int i = 0; rc == 0 && i < s->nports; i++)
        rc = open_port(s, &s->ports[i]);
    if (rc < 0) {
        EDDY_ERROR("worker #%d: %s", worker_id, eddy_strerror(rc));
        _exit(1);
    }
    eddy__server_notice(s, NOTICE_READY, worker_id);
    s->request_limit = pick_request_limit(s);
    if (s->cbs.on_worker_start) s->cbs.on_worker_start(s, worker_id, s->ud);
    /* The master died before PR_SET_PDEATHSIG took effect: leave now. */
    if (getppid() != s->manager_pid) eddy__worker_leave(s);
    eddy_loop_run(s->loop);
    if (!s->leaving && s->cbs.on_worker_stop) s->cbs.on_worker_stop(s, worker_id, s->ud);
    eddy__worker_exit(s);
}

void eddy__worker_exit(eddy_server_t *s)
{
    eddy__server_ipc_close(s); /* messages it sent still go out */
    int signals[NWORKER_SIGNALS];
    worker_signal_list(signals);
    for (int i = 0; i < NWORKER_SIGNALS; i++)
        eddy_signal_stop(s->loop, signals[i]);
    eddy_loop_free(s->loop);
    eddy_server_free(s);
    exit(0);
}

/* ---- methods ------------------------------------------------------------------ */

/* A session another worker owns: its calls travel to the owner. */
static bool is_foreign(const eddy_server_t *s, eddy_session_t session)
{
    return (int)(session >> 52) - 1 != s->worker_id;
}

int eddy_server_send(eddy_server_t *s, eddy_session_t session, const void *data, size_t len)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_SEND, data, len);
    if (is_foreign(s, session)) return eddy__server_forward(s, session, 0, data, len);
    session_slot_t *slot = session_find(s, session);
    if (!slot) return -EDDY_ESESSION;
    int rc = eddy_send(slot->conn, data, len);
    if (rc == 0) slot->owed = false;
    return rc;
}

int eddy_server_sendfile(eddy_server_t *s, eddy_session_t session, int fd, off_t offset, size_t len)
{
    if (is_process_mode(s)) return eddy__pw_sendfile(s, session, fd, offset, len);
    session_slot_t *slot = session_find(s, session);
    if (!slot) return -EDDY_ESESSION;
    int rc = eddy_sendfile(slot->conn, fd, offset, len);
    if (rc == 0) slot->owed = false;
    return rc;
}

int eddy_server_sendto(eddy_server_t *s, int port, const eddy_addr_t *to, const void *data,
                       size_t len)
{
    if (is_process_mode(s)) return eddy__pw_sendto(s, port, to, data, len);
    if (s->role != ROLE_WORKER || port < 0 || port >= s->nports) return -EINVAL;
    if (!s->ports[port].listener) return -EDDY_ECLOSING;
    return eddy_listener_sendto(s->ports[port].listener, data, len, to);
}

int eddy_server_close(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_CLOSE, NULL, 0);
    if (is_foreign(s, session)) return eddy__server_forward(s, session, 1, NULL, 0);
    eddy_conn_t *c = session_conn(s, session);
    return c ? eddy_close(c) : -EDDY_ESESSION;
}

int eddy_server_reset(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_RESET, NULL, 0);
    if (is_foreign(s, session)) return eddy__server_forward(s, session, 2, NULL, 0);
    eddy_conn_t *c = session_conn(s, session);
    return c ? eddy_reset(c) : -EDDY_ESESSION;
}

int eddy_server_pause(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_PAUSE, NULL, 0);
    eddy_conn_t *c = session_conn(s, session);
    return c ? eddy_pause(c) : -EDDY_ESESSION;
}

int eddy_server_resume(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_RESUME, NULL, 0);
    eddy_conn_t *c = session_conn(s, session);
    return c ? eddy_resume(c) : -EDDY_ESESSION;
}

bool eddy_server_exists(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_exists(s, session);
    eddy_conn_t *c = session_conn(s, session);
    return c && !eddy_conn_closing(c);
}

int eddy_server_info(eddy_server_t *s, eddy_session_t session, eddy_session_info_t *out)
{
    if (is_process_mode(s)) return eddy__pw_info(s, session, out);
    session_slot_t *slot = session_find(s, session);
    if (!slot) return -EDDY_ESESSION;
    out->worker_id = s->worker_id;
    out->reactor_id = -1;
    out->port = slot->port;
    out->uid = slot->uid;
    eddy_conn_info(slot->conn, &out->conn);
    return 0;
}

void eddy_server_foreach(eddy_server_t *s,
                         void (*fn)(eddy_server_t *s, eddy_session_t session, void *arg), void *arg)
{
    if (is_process_mode(s)) {
        eddy__pw_foreach(s, fn, arg);
        return;
    }
    for (size_t i = 0; i < s->nsessions; i++) {
        eddy_conn_t *c = s->sessions[i].conn;
        if (c && !eddy_conn_closing(c)) fn(s, conn_session(c), arg);
    }
}

int eddy_server_protect(eddy_server_t *s, eddy_session_t session, bool on)
{
    if (is_process_mode(s)) {
        char flag = on;
        return eddy__pw_call(s, session, MSG_SESSION_PROTECT, &flag, 1);
    }
    session_slot_t *slot = session_find(s, session);
    if (!slot) return -EDDY_ESESSION;
    slot->protected_ = on;
    eddy_conn_protect(slot->conn, on);
    return 0;
}

int eddy_server_answered(eddy_server_t *s, eddy_session_t session)
{
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_ANSWERED, NULL, 0);
    return session_find(s, session) || is_foreign(s, session) ? 0 : -EDDY_ESESSION;
}

eddy_packet_part_t eddy_server_packet_part(const eddy_server_t *s)
{
    return s->packet_part;
}

int eddy_server_bind(eddy_server_t *s, eddy_session_t session, uint64_t uid)
{
    if (uid == 0) return -EINVAL;
    if (is_process_mode(s)) return eddy__pw_call(s, session, MSG_SESSION_BIND, &uid, sizeof uid);
    session_slot_t *slot = session_find(s, session);
    if (!slot) return -EDDY_ESESSION;
    slot->uid = uid;
    return 0;
}

void eddy_server_stats(eddy_server_t *s, eddy_server_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->start_time = s->start_time;
    out->requests = s->requests;
    if (is_process_mode(s)) {
        eddy__table_sum_stats(&s->table, &out->net); /* the connections are the master's */
        return;
    }
    out->net = s->closed_ports;
    for (int i = 0; i < s->nports; i++) {
        if (!s->ports[i].listener) continue;
        eddy_net_stats_t n;
        eddy_listener_stats(s->ports[i].listener, &n);
        eddy__net_stats_add(&out->net, &n);
    }
}
