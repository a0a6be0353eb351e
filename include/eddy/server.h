/*
 * eddy/server.h — the supervised multi-process server.
 *
 * eddy_server_t is Swoole's Server model in C. One call, eddy_server_start,
 * turns the calling process into the master of a small process tree:
 *
 *   master ── worker #0 … worker #N-1       (BASE mode: the master is also
 *          └─ task worker #N … #N+T-1        the manager that forks them)
 *
 * In BASE mode every worker runs its own loop and accepts on the listening
 * sockets the master bound (or on its own SO_REUSEPORT socket), serving its
 * connections itself: the fastest path, no IPC. The master forks the workers
 * and task workers, restarts any that exit or crash (on_worker_error says
 * which, with the exit code or signal), replaces them one by one on reload
 * (SIGUSR1: workers, SIGUSR2: task workers) or when a worker has served
 * max_request packets, and shuts the tree down on SIGTERM (or SIGINT): every
 * worker stops accepting, finishes its work and closes its connections
 * gracefully within max_wait_time; a second SIGTERM forces.
 *
 * A worker that leaves (reload, max_request, shutdown) never drops a
 * response: it stops accepting, lets in-flight work finish, then closes each
 * connection through the graceful close of eddy/conn.h — never a reset.
 *
 * In PROCESS mode the tree has one more level, and the connections live in
 * the master:
 *
 *   master (reactor_num reactor threads: accept, read, frame, write)
 *     └─ manager ── worker #0 … #N-1, task workers (forks, restarts, reloads)
 *
 * A reactor thread cuts each connection's input into packets with the
 * port's framing and hands every whole packet to a worker (dispatch_mode)
 * through that worker's inbox; the worker's sends, closes and resets come
 * back through the reactor's inbox in order, so a close never overtakes the
 * data before it. Replacing or losing a worker loses no connection. When a
 * reactor's queue towards one worker passes max_queued_bytes, it stops
 * reading from the clients whose packets go there until the worker catches
 * up, so a flood cannot grow the master's memory without bound. A worker
 * that crashes loses the requests it had taken and not yet answered (a
 * packet delivered with no send on that session since): the reactor logs
 * each and closes the connection gracefully — with a 503 reply first on an
 * HTTP port (open_http_protocol) — rather than let the client wait forever.
 * Idle connections stay open and the replacement serves them.
 *
 * Connections are named by a 64-bit session id: the owning worker (BASE) or
 * reactor thread (PROCESS), the socket's descriptor and a generation, so an
 * id that outlived its connection is refused (-EDDY_ESESSION) and never
 * reaches a newer connection that reuses the descriptor.
 *
 * Threads and processes: eddy_server_start forks before any thread exists
 * (in PROCESS mode the manager is forked before the reactor threads start);
 * each worker process has one loop, and every callback runs on it, except
 * the dispatch function, which runs in the reactor threads. Callbacks and
 * methods are called in the process the comment names ("worker" for most).
 */
#ifndef EDDY_SERVER_H
#define EDDY_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "addr.h"
#include "common.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "options.h"

typedef struct eddy_server eddy_server_t;
typedef uint64_t eddy_session_t;

typedef enum eddy_server_mode {
    EDDY_MODE_BASE = 1,    /* workers own their connections */
    EDDY_MODE_PROCESS = 2, /* reactor threads in the master own them */
} eddy_server_mode_t;

/* Which worker a PROCESS-mode packet goes to (Swoole's numbering). In BASE
 * mode the kernel spreads connections and dispatch_mode is not used. */
typedef enum eddy_dispatch_mode {
    EDDY_DISPATCH_ROUND_ROBIN = 1, /* each packet to the next worker (no on_connect/on_close) */
    EDDY_DISPATCH_FD = 2,          /* by connection: fd modulo (default) */
    EDDY_DISPATCH_IDLE = 3, /* each packet to the least busy worker (no on_connect/on_close) */
    EDDY_DISPATCH_IP = 4,   /* by peer address: the same client, the same worker */
    EDDY_DISPATCH_UID = 5,  /* by eddy_server_bind's uid, fd modulo until bound */
} eddy_dispatch_mode_t;

typedef struct eddy_server_options {
    eddy_server_mode_t mode;            /* "mode": base (default) or process */
    int worker_num;                     /* "worker_num": default the number of CPUs */
    int reactor_num;                    /* "reactor_num": PROCESS-mode reactor threads,
                                           1..256, default the number of CPUs */
    eddy_dispatch_mode_t dispatch_mode; /* "dispatch_mode": 1..5, default 2 */
    size_t max_queued_bytes;            /* "max_queued_bytes": PROCESS mode, bytes a reactor
                                           queues for one worker before it stops reading
                                           from the clients that send to it; 8 MiB */
    int task_worker_num;                /* "task_worker_num": default 0 */
    uint64_t max_request;               /* "max_request": packets per worker before it is
                                           replaced, 0 = never */
    uint64_t max_request_grace;         /* "max_request_grace": up to this many more, at
                                           random, so workers do not all recycle at once;
                                           default max_request / 2 */
    uint64_t task_max_request;          /* "task_max_request": tasks per task worker, 0 = never */
    uint64_t max_wait_time;             /* "max_wait_time": seconds a leaving worker may take
                                           to finish and close gracefully, default 3 */
    bool reload_async;                  /* "reload_async": replace all workers at once */
    bool daemonize;                     /* "daemonize": detach into the background */
    const char *pid_file;               /* "pid_file": written by the master */
    const char *log_file;               /* "log_file": reopened on SIGRTMIN (rotation) */
    eddy_log_level_t log_level;         /* "log_level" */
    const char *user;                   /* "user": drop privileges after binding */
    const char *group;                  /* "group" */
    eddy_port_options_t port;           /* defaults for every port: framing, buffers,
                                           heartbeat, max_connection, ... (any key of
                                           eddy_port_options_set) */
} eddy_server_options_t;

/* Everything is optional. Process in brackets. */
typedef struct eddy_server_callbacks {
    void (*on_start)(eddy_server_t *s, void *ud);    /* [master] ports bound, workers forking */
    void (*on_shutdown)(eddy_server_t *s, void *ud); /* [master] every worker has exited */
    void (*on_worker_start)(eddy_server_t *s, int worker_id, void *ud); /* [worker, task worker] */
    void (*on_worker_stop)(eddy_server_t *s, int worker_id, void *ud);  /* [worker, task worker] */
    /* [master] a worker exited unexpectedly: exit_code, or signo if killed. */
    void (*on_worker_error)(eddy_server_t *s, int worker_id, pid_t pid, int exit_code, int signo,
                            void *ud);
    void (*on_connect)(eddy_server_t *s, eddy_session_t session, void *ud);
    void (*on_receive)(eddy_server_t *s, eddy_session_t session, const char *data, size_t len,
                       void *ud);
    void (*on_close)(eddy_server_t *s, eddy_session_t session, eddy_close_reason_t reason, int err,
                     void *ud);
    void (*on_buffer_full)(eddy_server_t *s, eddy_session_t session, void *ud);
    void (*on_buffer_empty)(eddy_server_t *s, eddy_session_t session, void *ud);
    /* [task worker] a task from worker src_worker; answer it (now or later)
     * with eddy_server_finish(s, task_id, ...). data is valid during the call. */
    void (*on_task)(eddy_server_t *s, int64_t task_id, int src_worker, const void *data, size_t len,
                    void *ud);
    /* [worker] the result of a task this worker sent with eddy_server_task. */
    void (*on_finish)(eddy_server_t *s, int64_t task_id, const void *data, size_t len, void *ud);
    /* [worker, task worker] a message from eddy_server_send_message. */
    void (*on_pipe_message)(eddy_server_t *s, int src_worker, const void *data, size_t len,
                            void *ud);
    /* [manager] the manager process is up / about to exit. In BASE mode the
     * master is the manager, and these run in it. */
    void (*on_manager_start)(eddy_server_t *s, void *ud);
    void (*on_manager_stop)(eddy_server_t *s, void *ud);
    /* [worker] a datagram on a udp:// port; answer with eddy_server_sendto. */
    void (*on_packet)(eddy_server_t *s, int port, const char *data, size_t len,
                      const eddy_addr_t *from, void *ud);
} eddy_server_callbacks_t;

EDDY_EXPORT void eddy_server_options_init(eddy_server_options_t *o);

/* A new server with opts (NULL: defaults) and callbacks (copied). ud is
 * passed to every callback. */
EDDY_EXPORT int eddy_server_new(const eddy_server_options_t *opts,
                                const eddy_server_callbacks_t *cbs, void *ud, eddy_server_t **out);
/* Release a server that is not running (after eddy_server_start returned,
 * or instead of starting it). */
EDDY_EXPORT void eddy_server_free(eddy_server_t *s);

/* Set one option by its Swoole name (see eddy_server_options_t, plus every
 * port key). Returns 0, -EDDY_EUNKNOWN_OPTION or -EDDY_EOPTION (a value that
 * does not parse or is out of range). Options that only make sense together
 * (open_eof_split needs package_eof) are checked by eddy_server_listen and
 * eddy_server_start. Only before eddy_server_start. Strings are copied. */
EDDY_EXPORT int eddy_server_set(eddy_server_t *s, const char *key, const char *value);
/* Read "key = value" lines (# comments, blank lines) and set each. On error
 * *line (if not NULL) is the offending line number. */
EDDY_EXPORT int eddy_server_load_config(eddy_server_t *s, const char *path, int *line);

/* Add a port: "tcp://127.0.0.1:9501", "tcp://[::1]:0", "unix:///tmp/s",
 * "udp://127.0.0.1:0". opts NULL: the server's port options; cbs NULL: the
 * server's callbacks. Binds at once (so port 0 is resolved and errors are
 * immediate). Returns the port index (>= 0) or an error. */
EDDY_EXPORT int eddy_server_listen(eddy_server_t *s, const char *url,
                                   const eddy_port_options_t *opts,
                                   const eddy_server_callbacks_t *cbs, void *ud);
/* PROCESS mode: choose the worker for each packet yourself. Called in a
 * reactor thread of the master (several at once when reactor_num > 1: it
 * must be thread-safe and must not block) for every packet (data, len) and
 * once per connection with data NULL (the worker that gets on_connect,
 * on_close and the buffer events). uid is the session's eddy_server_bind
 * value (0 if none). Return a worker id 0 .. worker_num - 1; anything else
 * falls back to fd modulo. Only before eddy_server_start. */
typedef int (*eddy_dispatch_fn)(eddy_server_t *s, eddy_session_t session, const eddy_addr_t *peer,
                                uint64_t uid, const char *data, size_t len, void *ud);
EDDY_EXPORT int eddy_server_set_dispatch(eddy_server_t *s, eddy_dispatch_fn fn, void *ud);

/* PROCESS mode, on a port whose framing streams request bodies
 * (http_stream_max_body): the directory where a reactor writes such a body
 * as it arrives; the worker gets the request once the body is in, as one
 * message, replays it to on_receive in parts (eddy_server_packet_part) and
 * removes the file. Default "/tmp"; eddy_http_listen sets upload_tmp_dir.
 * The string is copied. Only before eddy_server_start; -EINVAL for a bad
 * port index, a NULL or empty dir, or one too long for a file name in it. */
EDDY_EXPORT int eddy_server_set_spool_dir(eddy_server_t *s, int port, const char *dir);

/* The bound port number of port index i (e.g. after asking for 0). */
EDDY_EXPORT int eddy_server_port(const eddy_server_t *s, int i);

/* Run the server; returns in the master after shutdown (0 or an error), and
 * never returns in the processes it forks (they exit). */
EDDY_EXPORT int eddy_server_start(eddy_server_t *s);

/* ---- methods, called in a worker ---------------------------------------
 *
 * BASE mode: send, close and reset also take a session of another worker:
 * the call is handed to the owner through its inbox and 0 means it was
 * queued (if the session is gone by the time the owner looks, nothing
 * happens). The other methods work on this worker's sessions only
 * (-EDDY_ESESSION otherwise).
 *
 * PROCESS mode: every method works on every session, from any worker or
 * task worker. exists, info and foreach read the master's session table
 * (shared memory); send, sendfile, close, reset, pause, resume, protect and
 * bind are messages to the owning reactor thread: 0 means queued, and a
 * session that closed meanwhile ignores them. A send the reactor cannot
 * queue (past socket_buffer_size) ends the connection with a graceful close
 * and an error in the log rather than leave a gap in the stream. sendfile
 * passes the file by its path (/proc/self/fd): the reactor opens it and
 * checks it is the same file (-EDDY_ESTATE for a file that has no path,
 * e.g. deleted). */

EDDY_EXPORT int eddy_server_send(eddy_server_t *s, eddy_session_t session, const void *data,
                                 size_t len);
EDDY_EXPORT int eddy_server_sendfile(eddy_server_t *s, eddy_session_t session, int fd, off_t offset,
                                     size_t len);
EDDY_EXPORT int eddy_server_sendto(eddy_server_t *s, int port, const eddy_addr_t *to,
                                   const void *data, size_t len);
EDDY_EXPORT int eddy_server_close(eddy_server_t *s, eddy_session_t session);
EDDY_EXPORT int eddy_server_reset(eddy_server_t *s, eddy_session_t session);
EDDY_EXPORT int eddy_server_pause(eddy_server_t *s, eddy_session_t session);
EDDY_EXPORT int eddy_server_resume(eddy_server_t *s, eddy_session_t session);
EDDY_EXPORT bool eddy_server_exists(eddy_server_t *s, eddy_session_t session);

typedef struct eddy_session_info {
    int worker_id;         /* BASE: the owner; PROCESS: the worker that got on_connect (-1: none) */
    int reactor_id;        /* PROCESS: the reactor thread that owns it; BASE: -1 */
    int port;              /* port index */
    uint64_t uid;          /* eddy_server_bind's value, 0 if none */
    eddy_conn_info_t conn; /* PROCESS: as of the reactor's last packet or send */
} eddy_session_info_t;

EDDY_EXPORT int eddy_server_info(eddy_server_t *s, eddy_session_t session,
                                 eddy_session_info_t *out);
/* Call fn for every open session of this worker. */
EDDY_EXPORT void
eddy_server_foreach(eddy_server_t *s,
                    void (*fn)(eddy_server_t *s, eddy_session_t session, void *arg), void *arg);
/* Exempt a session from heartbeat eviction (or make it subject again). */
EDDY_EXPORT int eddy_server_protect(eddy_server_t *s, eddy_session_t session, bool on);
/* A protocol layer says: the answer to one more packet of this session is
 * complete (the HTTP server calls it at the end of every response). In
 * PROCESS mode, on ports whose framing can refuse input
 * (open_http_protocol), the reactor counts the packets not yet answered and
 * holds a refusal's reply — and an HTTP "100 Continue" — until all before
 * it are answered, so replies leave in order (eddy_conn_defer_errors); a
 * worker that dies with requests unanswered gets those clients a 503 (or,
 * in the middle of an answer, a close). In BASE mode answers are sent in
 * order anyway: 0. */
EDDY_EXPORT int eddy_server_answered(eddy_server_t *s, eddy_session_t session);
/* Inside on_receive: what the packet is. EDDY_PACKET_WHOLE, except on a
 * port whose framing streams request bodies (http_stream_max_body, set by
 * eddy_http_listen): there a multipart/form-data request
 * comes as its HEAD, then BODY pieces (a chunked body's still encoded, as
 * the head says), the last BODY_END. Only a whole
 * packet or a head counts as a request (max_request). PROCESS mode gives
 * the same parts, replayed from the file the reactor spooled the body to
 * (eddy_server_set_spool_dir), all in one go once the body is in. */
EDDY_EXPORT eddy_packet_part_t eddy_server_packet_part(const eddy_server_t *s);
/* Attach a user id to a session (dispatch_mode 5 sends its packets to worker
 * uid % worker_num from then on; info reports it). uid must not be 0. */
EDDY_EXPORT int eddy_server_bind(eddy_server_t *s, eddy_session_t session, uint64_t uid);

typedef struct eddy_server_stats {
    uint64_t start_time; /* wall clock, seconds */
    uint64_t requests;   /* on_receive calls in this worker */
    /* BASE mode: this worker's ports, summed (once the worker is leaving: as
     * they were when it stopped accepting). PROCESS mode: the whole
     * server's, since every connection lives in the master: its reactor
     * threads' ports, summed, as of at most 50 ms ago (once shutting down:
     * as they were when the reactors stopped accepting). */
    eddy_net_stats_t net;
} eddy_server_stats_t;

EDDY_EXPORT void eddy_server_stats(eddy_server_t *s, eddy_server_stats_t *out);

/* ---- tasks and messages ---------------------------------------------------
 *
 * Task workers (task_worker_num of them, ids worker_num .. worker_num +
 * task_worker_num - 1) run blocking or slow work off the workers' loops.
 * Tasks, results and messages travel through one datagram inbox per process
 * (src/server/ipc.h): copied, in order per sender, up to 64 MiB each; a
 * message a dying process left half-written is discarded, never delivered
 * torn. A task a task worker was running when it died is lost: its on_finish
 * never comes (taskwait times out); tasks still queued in its inbox go to
 * its successor. */

/* [worker] Queue a task; dst_task_worker is 0 .. task_worker_num - 1, or -1
 * for the next one in turn. Returns the task id (> 0), whose result comes to
 * on_finish in this worker, or an error (-EDDY_ESTATE without task workers,
 * -EDDY_EPACKET_TOO_BIG, -EDDY_EOUTPUT_FULL when the task worker's queue is
 * full). */
EDDY_EXPORT int64_t eddy_server_task(eddy_server_t *s, const void *data, size_t len,
                                     int dst_task_worker);
/* [worker] Send a task and block this worker until its result comes, at most
 * timeout_ms. On 0, *result is malloc'd (free it) and holds *result_len
 * bytes; on -ETIMEDOUT the result is dropped whenever it arrives. Other
 * messages that arrive meanwhile are delivered afterwards, in order. */
EDDY_EXPORT int eddy_server_taskwait(eddy_server_t *s, const void *data, size_t len,
                                     int dst_task_worker, int timeout_ms, void **result,
                                     size_t *result_len);
/* [worker] n tasks at once, waiting at most timeout_ms for all. results[i]
 * is malloc'd, or NULL for a task that did not finish in time. Returns how
 * many finished, or an error if a task could not be sent. */
EDDY_EXPORT int eddy_server_taskwait_multi(eddy_server_t *s, size_t n, const void *const *data,
                                           const size_t *lens, int timeout_ms, void **results,
                                           size_t *result_lens);
/* [task worker] The result of task_id, to the worker that sent it. */
EDDY_EXPORT int eddy_server_finish(eddy_server_t *s, int64_t task_id, const void *data, size_t len);
/* [worker, task worker] A message for another process's on_pipe_message. */
EDDY_EXPORT int eddy_server_send_message(eddy_server_t *s, int dst_worker, const void *data,
                                         size_t len);

/* ---- process control (any process of the tree) ------------------------- */

/* Replace the workers (task_workers_only: the task workers) gracefully. */
EDDY_EXPORT int eddy_server_reload(eddy_server_t *s, bool task_workers_only);
/* Shut the whole tree down gracefully. */
EDDY_EXPORT int eddy_server_shutdown(eddy_server_t *s);
/* Ask worker_id to leave gracefully; the master starts a replacement. */
EDDY_EXPORT int eddy_server_stop_worker(eddy_server_t *s, int worker_id);

EDDY_EXPORT int eddy_server_worker_id(const eddy_server_t *s); /* -1 in the master */
EDDY_EXPORT pid_t eddy_server_master_pid(const eddy_server_t *s);
/* The process that forks the workers: the master in BASE mode. */
EDDY_EXPORT pid_t eddy_server_manager_pid(const eddy_server_t *s);
EDDY_EXPORT eddy_loop_t *eddy_server_loop(const eddy_server_t *s); /* this process's loop */

#endif
