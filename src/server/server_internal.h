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
    ROLE_MASTER,
    ROLE_WORKER,
    ROLE_TASK_WORKER,
} server_role_t;

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
    eddy_addr_t addr;
    bool udp;
    bool unix_path;            /* the master removes the socket file at shutdown */
    eddy_listener_t *listener; /* in a worker */
    struct eddy_server *server;
} server_port_t;

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
    bool owed; /* a packet arrived, and nothing was sent since: a reply is due */
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
    uint64_t request_limit; /* max_request plus this worker's grace, 0 = none */
    bool retiring;          /* NOTICE_RETIRING sent */
    bool leaving;
    bool leave_settled; /* the first moment of leaving has passed: close what is idle */
    int64_t leave_timer;
    uint64_t leave_deadline;
    uint64_t start_time;

    /* every process: the inboxes of all slots, and this process's ipc */
    ipc_inbox_t *inboxes;
    ipc_t *ipc;
    uint64_t task_seq;
    int task_rr; /* round-robin position over the task workers */
};

/* master.c */
int eddy__master_run(eddy_server_t *s);
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
/* server.c */
int eddy__server_notice(eddy_server_t *s, notice_type_t type, int worker_id);
int eddy__server_total_workers(const eddy_server_t *s);

#endif
