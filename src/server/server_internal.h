/* Private to server/: the server object, shared by the master and workers
 * (each forked process has its own copy). */
#ifndef EDDY_SERVER_INTERNAL_H
#define EDDY_SERVER_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "eddy/server.h"

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
    int fd; /* bound by the master; -1 with enable_reuse_port (each worker binds) */
    eddy_addr_t addr;
    bool unix_path;            /* the master removes the socket file at shutdown */
    eddy_listener_t *listener; /* in a worker */
    struct eddy_server *server;
} server_port_t;

typedef struct worker_slot {
    pid_t pid;         /* 0: not running */
    pid_t leaving_pid; /* a predecessor still finishing its connections */
    uint64_t started_ms;
    unsigned quick_deaths; /* exits soon after start, for restart back-off */
    int64_t restart_timer;
} worker_slot_t;

/* A connection of this worker, found by session id. */
typedef struct session_slot {
    eddy_conn_t *conn;
    uint32_t gen;
    int port;
    bool protected_;
} session_slot_t;

/* Notices a worker sends the master over the shared event pipe: one
 * 8-byte write each, atomic because it is under PIPE_BUF. */
typedef enum notice_type {
    NOTICE_RETIRING = 1, /* this worker is leaving: start its replacement */
    NOTICE_RELOAD,
    NOTICE_RELOAD_TASKS,
    NOTICE_SHUTDOWN,
    NOTICE_STOP_WORKER,
} notice_type_t;

typedef struct notice {
    int32_t type;
    int32_t worker_id;
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
    int notice_pipe[2]; /* workers write notices, the master reads */
    sigset_t original_mask;

    /* master */
    worker_slot_t *slots; /* worker_num workers, then task workers */
    int nslots;
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
    bool leaving;
    int64_t leave_timer;
    uint64_t leave_deadline;
    uint64_t start_time;
};

/* master.c */
int eddy__master_run(eddy_server_t *s);
/* worker.c: never returns */
void eddy__worker_run(eddy_server_t *s, int worker_id) __attribute__((noreturn));
void eddy__worker_leave(eddy_server_t *s);
/* server.c */
void eddy__server_notice(eddy_server_t *s, notice_type_t type, int worker_id);
int eddy__server_total_workers(const eddy_server_t *s);

#endif
