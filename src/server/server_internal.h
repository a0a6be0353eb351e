/* Private to server/: the server object, shared by the master and workers
 * (each forked process has its own copy). */
#ifndef EDDY_SERVER_INTERNAL_H
#define EDDY_SERVER_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "eddy/server.h"
#include "ipc.h"

typedef enum server_role {
    ROLE_MASTER,  /* BASE mode: also the manager */
    ROLE_MANAGER, /* PROCESS mode: forks and supervises the workers */
    ROLE_WORKER,
    ROLE_TASK_WORKER,
} server_role_t;

/* Message types on the inboxes (ipc.h). */
enum {
    MSG_TASK = 1,      /* worker -> task worker: id = task id */
    MSG_FINISH,        /* task worker -> worker: id = task id */
    MSG_PIPE,          /* any -> worker or task worker */
    MSG_SESSION_SEND,  /* -> the session's owner (BASE: worker; PROCESS: reactor); id = session */
    MSG_SESSION_CLOSE, /* the same, id = session */
    MSG_SESSION_RESET,
    /* PROCESS mode, worker or task worker -> reactor; id = session */
    MSG_SESSION_SENDFILE, /* sendfile_msg_t + path */
    MSG_SESSION_PAUSE,
    MSG_SESSION_RESUME,
    MSG_SESSION_PROTECT,  /* one byte: on */
    MSG_SESSION_BIND,     /* uint64_t uid */
    MSG_SESSION_ANSWERED, /* eddy_server_answered */
    /* PROCESS mode, reactor -> worker; id = session */
    MSG_CONNECT,      /* int32_t port */
    MSG_DATA,         /* a whole packet */
    MSG_DATA_SPOOLED, /* a request whose body was spooled to a file (spool.c) */
    MSG_CLOSED,       /* close_msg_t */
    MSG_BUFFER_FULL,  /* empty */
    MSG_BUFFER_EMPTY, /* empty */
    MSG_DATAGRAM,     /* datagram_msg_t + the datagram; id = 0 */
    /* PROCESS mode, manager -> reactor */
    MSG_WORKER_LOST, /* id = the slot of a worker that died unexpectedly;
                        uint64_t: when the manager learned of it (eddy_clock_ms) */
};

typedef struct close_msg {
    int32_t reason;
    int32_t err;
    int32_t port;
} close_msg_t;

typedef struct sendfile_msg {
    uint64_t offset, len;
    uint64_t dev, ino; /* the reactor checks it opened the same file */
} sendfile_msg_t;

typedef struct datagram_msg {
    int32_t port;
    int32_t pad;
    eddy_addr_t from;
} datagram_msg_t;

/* Session id: owner + 1 (12 bits: the worker in BASE mode, the reactor
 * thread in PROCESS mode) | fd (20 bits) | generation (32 bits). */
#define SESSION_FD_BITS 20
#define SESSION_FD_MAX  (1u << SESSION_FD_BITS)

static inline eddy_session_t session_make(int owner, int fd, uint32_t gen)
{
    return (uint64_t)(owner + 1) << 52 | (uint64_t)fd << 32 | gen;
}

static inline int session_owner(eddy_session_t id)
{
    return (int)(id >> 52) - 1;
}

static inline int session_fd(eddy_session_t id)
{
    return (int)((id >> 32) & (SESSION_FD_MAX - 1));
}

typedef struct server_port {
    int index;
    char *url;
    eddy_port_options_t opts;
    eddy_server_callbacks_t cbs;
    void *ud;
    /* Bound by the master. With enable_reuse_port on a TCP port it only holds
     * the port (bound, never listening: a listening one would join the
     * SO_REUSEPORT group and be handed connections nobody accepts); each
     * worker binds and listens on its own socket. */
    int fd;
    /* enable_reuse_port on a TCP port: the group's first socket, listening
     * since eddy_server_listen so that connections queue from then on, as
     * on any other port. Worker 0 of the first generation (BASE) or reactor
     * 0 (PROCESS) adopts it; every other process closes its copy before it
     * could be handed connections it would never accept. -1 otherwise. */
    int first_fd;
    eddy_addr_t addr;
    bool udp;
    bool unix_path;            /* the master removes the socket file at shutdown */
    char *spool_dir;           /* PROCESS mode: where streamed bodies go; NULL: /tmp */
    eddy_listener_t *listener; /* in a worker */
    struct eddy_server *server;
} server_port_t;

/* PROCESS mode: the master's table of connections, one entry per
 * descriptor, in shared memory so that every worker can answer exists,
 * info and foreach. Reactor threads write an entry under a sequence lock
 * (seq is odd while one writes, and writers take turns); readers copy the
 * entry and retry if seq moved. A thread writes only an entry that still
 * names its own connection (gen and reactor). */
typedef struct session_entry {
    uint32_t seq;
    uint32_t gen; /* of the connection on this fd (the last one, if closed) */
    int32_t open; /* 1 while the connection is open and not closing */
    int32_t port;
    int32_t worker; /* the worker that got on_connect, -1 if none */
    int32_t reactor;
    uint64_t uid;
    eddy_conn_info_t info;
} session_entry_t;

/* PROCESS mode: one reactor thread's listeners, summed, as of the end of
 * its last iteration, for eddy_server_stats in any process. One writer (the
 * reactor); seq is odd while it writes, readers retry if it moved. */
typedef struct reactor_stats {
    uint32_t seq;
    eddy_net_stats_t net;
} reactor_stats_t;

typedef struct session_table {
    session_entry_t *entries; /* MAP_SHARED, size entries */
    size_t size;
    reactor_stats_t *reactor_stats; /* one per reactor thread */
    int nreactors;
    /* per worker: packets dispatched to it, and packets it has finished
     * (dispatch_mode 3 sends to the worker with the fewest outstanding) */
    uint64_t *dispatched, *finished;
    uint64_t *fd_end; /* one past the highest descriptor ever used: scans stop there */
    size_t map_len;
} session_table_t;

typedef struct reactor reactor_t;

typedef struct worker_slot {
    pid_t pid;   /* 0: not running */
    int leaving; /* predecessors still finishing their connections */
    uint64_t started_ms;
    unsigned quick_deaths; /* exits soon after start, for restart back-off */
    int64_t restart_timer;
} worker_slot_t;

/* A replaced worker still finishing its connections. A slot may have more
 * than one: a successor can retire (max_request) or be reloaded before its
 * predecessor has left. */
typedef struct leaver {
    pid_t pid;
    int slot;
    bool told; /* sent SIGTERM: done once its successor is ready, so that its
                  listening sockets close only when the successor's are open */
} leaver_t;

/* A connection of this worker, found by session id. */
typedef struct session_slot {
    eddy_conn_t *conn;
    uint32_t gen;
    int port;
    bool protected_;
    bool owed;    /* a packet arrived, and nothing was sent since: a reply is due */
    uint64_t uid; /* eddy_server_bind */
} session_slot_t;

/* A leaving worker closes its connections within max_wait_time, then gives
 * their graceful closes this long (flush, linger) before it resets them; the
 * master waits a second more before it kills the worker. */
#define LEAVE_MARGIN_MS 5000
#define KILL_MARGIN_MS  (LEAVE_MARGIN_MS + 1000)

/* Notices a worker sends the master: one datagram each on a socketpair
 * whose send end every worker shares (a datagram, so never torn; sent with
 * MSG_NOSIGNAL, so a worker whose master is gone gets an error, not a
 * SIGPIPE that would kill it). */
typedef enum notice_type {
    NOTICE_RETIRING = 1, /* this worker wants replacing (max_request): it goes on
                            serving until told to leave */
    NOTICE_RELOAD,
    NOTICE_RELOAD_TASKS,
    NOTICE_SHUTDOWN,
    NOTICE_STOP_WORKER,
    NOTICE_READY, /* this worker's listeners are open: its predecessors may leave */
} notice_type_t;

typedef struct notice {
    int32_t type;
    int32_t worker_id;
    int32_t pid; /* the sender */
} notice_t;

struct eddy_server {
    eddy_server_options_t opts; /* strings are owned copies */
    eddy_server_callbacks_t cbs;
    void *ud;
    server_port_t *ports;
    int nports;
    bool started;

    server_role_t role;
    int worker_id; /* -1 in the master */
    pid_t master_pid;
    eddy_loop_t *loop;
    int notice_pipe[2]; /* socketpair: workers send notices on [1], the master reads [0] */
    sigset_t original_mask;

    /* master */
    worker_slot_t *slots; /* worker_num workers, then task workers */
    int nslots;
    leaver_t *leavers;
    int nleavers, leavers_cap;
    bool shutting_down;
    int shutdown_requests;
    int64_t shutdown_timer;
    int reload_next; /* next slot to replace in a one-by-one reload, -1 if none */
    int reload_end;  /* one past the last slot of the reload */
    int64_t reload_timer;

    /* worker */
    session_slot_t *sessions; /* indexed by fd */
    size_t nsessions;
    uint64_t requests;
    eddy_packet_part_t packet_part; /* of the packet on_receive is given */
    uint64_t request_limit;         /* max_request plus this worker's grace, 0 = none */
    bool retiring;                  /* NOTICE_RETIRING sent */
    bool leaving;
    bool leave_settled; /* the first moment of leaving has passed: close what is idle */
    int64_t leave_timer;
    uint64_t leave_deadline;
    uint64_t start_time;
    eddy_net_stats_t closed_ports; /* counters of this worker's listeners when they closed */

    /* PROCESS mode */
    eddy_dispatch_fn dispatch_fn;
    void *dispatch_ud;
    session_table_t table;
    reactor_t *reactors;  /* master: reactor_num of them */
    int reactors_running; /* master: threads started */
    int reactors_drained; /* master: reactors done closing their connections */
    pid_t manager_pid;    /* master: the manager; everyone: who forks workers */
    bool manager_gone;    /* master: the manager has exited */
    eddy_session_t *owed; /* worker: per fd, the session whose packet came with no
                             send on it since (0: none) */
    size_t nowed;         /* worker: how many entries of owed are set */

    /* every process: the inboxes of all slots (workers, task workers, then
     * in PROCESS mode one per reactor thread), and this process's ipc */
    int ninboxes;
    ipc_inbox_t *inboxes;
    ipc_t *ipc;
    uint64_t task_seq;
    int task_rr; /* round-robin position over the task workers */
};

/* master.c: run the manager's loop (BASE: in the master itself) */
int eddy__master_run(eddy_server_t *s);
/* process.c: the master in PROCESS mode */
int eddy__process_run(eddy_server_t *s);
/* Called by the master loop: every reactor thread has closed its connections. */
void eddy__process_reactor_drained(eddy_server_t *s);
/* reactor.c */
int eddy__reactors_start(eddy_server_t *s);
void eddy__reactors_drain(eddy_server_t *s, bool force);
void eddy__reactors_stop(eddy_server_t *s);
/* worker.c: count a packet against max_request */
void eddy__worker_count_request(eddy_server_t *s);
/* worker_process.c: PROCESS mode in a worker or task worker */
void eddy__worker_reactor_message(eddy_server_t *s, const ipc_msg_t *msg);
size_t eddy__pw_owed(eddy_server_t *s);
int eddy__pw_call(eddy_server_t *s, eddy_session_t id, int type, const void *data, size_t len);
int eddy__pw_sendfile(eddy_server_t *s, eddy_session_t id, int fd, off_t offset, size_t len);
bool eddy__pw_exists(eddy_server_t *s, eddy_session_t id);
int eddy__pw_info(eddy_server_t *s, eddy_session_t id, eddy_session_info_t *out);
void eddy__pw_foreach(eddy_server_t *s,
                      void (*fn)(eddy_server_t *s, eddy_session_t session, void *arg), void *arg);
int eddy__pw_sendto(eddy_server_t *s, int port, const eddy_addr_t *to, const void *data,
                    size_t len);
/* session_table.c */
int eddy__table_create(session_table_t *t, size_t size, int workers, int reactors);
/* to += n, field by field. */
void eddy__net_stats_add(eddy_net_stats_t *to, const eddy_net_stats_t *n);
/* Publish a reactor's figures; sum every reactor's into out. */
void eddy__table_publish_stats(session_table_t *t, int reactor, const eddy_net_stats_t *net);
void eddy__table_sum_stats(const session_table_t *t, eddy_net_stats_t *out);
void eddy__table_destroy(session_table_t *t);
/* Copy the entry of session id if it is that connection (open or not):
 * true, or false for an id the table has never seen. */
bool eddy__table_read(const session_table_t *t, eddy_session_t id, session_entry_t *out);
void eddy__table_write_begin(session_entry_t *e);
/* A reactor thread uses descriptor fd: extend fd_end. */
void eddy__table_note_fd(session_table_t *t, int fd);
void eddy__table_write_end(session_entry_t *e);
static inline bool is_process_mode(const eddy_server_t *s)
{
    return s->opts.mode == EDDY_MODE_PROCESS;
}
/* The inbox slot of PROCESS-mode reactor thread r. */
static inline int reactor_slot(const eddy_server_t *s, int r)
{
    return s->nslots + r;
}
/* worker.c: never returns */
void eddy__worker_run(eddy_server_t *s, int worker_id) __attribute__((noreturn));
void eddy__worker_leave(eddy_server_t *s);
/* Watch the signals of a worker or task worker; restore the rest of the mask. */
int eddy__worker_signals_start(eddy_server_t *s);
/* Flush messages, release the loop and the server copy, exit(0). */
void eddy__worker_exit(eddy_server_t *s) __attribute__((noreturn));
/* task.c */
void eddy__task_worker_run(eddy_server_t *s, int slot) __attribute__((noreturn));
void eddy__task_worker_leave(eddy_server_t *s);
int eddy__server_ipc_open(eddy_server_t *s);
void eddy__server_ipc_close(eddy_server_t *s);
/* Hand a call on another worker's session to its owner: op 0 send, 1 close,
 * 2 reset. 0 once queued, or -EDDY_ESESSION (no such worker). */
int eddy__server_forward(eddy_server_t *s, eddy_session_t session, int op, const void *data,
                         size_t len);
/* master.c: the signals the master watches, blocked before its loop starts
 * (so that a child it forks inherits them blocked, and none can kill a
 * worker before the worker watches it) */
void eddy__server_signal_set(sigset_t *set);
/* After the last loop of the master is gone: back to the caller's mask. */
void eddy__server_restore_signals(const eddy_server_t *s);
/* server.c */
int eddy__server_notice(eddy_server_t *s, notice_type_t type, int worker_id);
int eddy__server_total_workers(const eddy_server_t *s);
/* Close this process's copies of the ports' first_fd (see server_port_t). */
void eddy__server_release_first_fds(eddy_server_t *s);
/* enable_reuse_port on a TCP port: a listening socket of the caller's own in
 * the port's SO_REUSEPORT group — first_fd if it is still there (taken:
 * the caller owns it), else a new one. The fd, or a negative error. */
int eddy__server_reuse_port_socket(server_port_t *p);

/* spool.c: PROCESS mode, a streamed request body on its way to a worker.
 * The reactor opens a spool at the head (keeping a copy of it), writes each
 * piece, and at the end sends the message and hands the file over (the
 * worker removes it) — or drops it (removed) when the request ends early. */
#define SPOOL_PATH_MAX 1100
typedef struct body_spool body_spool_t;
int eddy__spool_open(body_spool_t **out, const char *dir, const char *head, size_t head_len);
int eddy__spool_write(body_spool_t *sp, const char *data, size_t len);
const char *eddy__spool_head(const body_spool_t *sp, size_t *len);
uint64_t eddy__spool_size(const body_spool_t *sp);
int eddy__spool_truncate(body_spool_t *sp, uint64_t size);
/* The MSG_DATA_SPOOLED payload, malloc'd: the caller frees it. */
int eddy__spool_message(const body_spool_t *sp, char **out, size_t *len);
void eddy__spool_drop(body_spool_t *sp);
void eddy__spool_hand_over(body_spool_t *sp);
/* In the worker: deliver the request to p's on_receive as HEAD, BODY...,
 * BODY_END, then remove the file. */
void eddy__spool_replay(eddy_server_t *s, server_port_t *p, eddy_session_t id, const void *data,
                        size_t len);
/* In the worker: remove the file of a message nobody will replay. */
void eddy__spool_discard(const void *data, size_t len);

#endif
