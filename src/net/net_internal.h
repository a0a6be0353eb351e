/* Private to net/: the connection and the group of connections a listener
 * (or a client) shares options, callbacks and counters through. */
#ifndef EDDY_NET_INTERNAL_H
#define EDDY_NET_INTERNAL_H

#include <netdb.h>
#include <stdbool.h>

#include "eddy/conn.h"
#include "eddy/list.h"
#include "eddy/listener.h"
#include "eddy/loop.h"
#include "eddy/options.h"

typedef struct conn_group {
    eddy_loop_t *loop;
    eddy_port_options_t opts;
    eddy_conn_callbacks_t cbs;
    void *ud;
    eddy_net_stats_t stats;
    size_t high_watermark;
    /* Open connections, least recently heard from first: all share one idle
     * time, so this FIFO is already sorted for heartbeat eviction. */
    eddy_list_t conns;
    size_t refs;               /* one per connection, one for the owner */
    eddy_listener_t *listener; /* NULL for client connections */
    void (*release)(struct conn_group *g);
} conn_group_t;

typedef struct net_loop net_loop_t;

typedef enum conn_state {
    CONN_RESOLVING,  /* client: waiting for getaddrinfo */
    CONN_CONNECTING, /* client: connect() in progress */
    CONN_OPEN,
    CONN_FLUSHING,  /* closing: writing what is queued, input discarded */
    CONN_LINGERING, /* closing: FIN sent, draining input until the peer's FIN */
    CONN_CLOSED,    /* socket closed; on_close pending */
} conn_state_t;

struct eddy_conn {
    eddy_loop_t *loop;
    conn_group_t *group;
    int fd;
    conn_state_t state;
    uint64_t id;
    void *data;
    unsigned refs; /* the conn itself, plus a pending resolve job */

    bool announced;      /* on_connect ran (or a client): on_close is owed */
    bool readable;       /* edge-triggered: input may be waiting */
    bool hangup;         /* the peer's FIN or an error was reported */
    bool protected_;     /* exempt from heartbeat eviction */
    bool write_blocked;  /* EAGAIN on write: waiting for EPOLLOUT */
    bool read_scheduled; /* a deferred read is queued */
    bool paused;
    bool unread;       /* on_receive gave its packet back (eddy_conn_unread) */
    bool defer_errors; /* eddy_conn_defer_errors: a framing error waits */
    int deferred_err;  /* the framing error waiting, 0 if none */
    bool peer_eof;
    bool peer_closed_first; /* the close began with the peer's FIN */
    bool above_high;
    bool close_requested; /* eddy_close before the connection was up */

    eddy_buf_t in;
    eddy_frame_state_t frame;
    eddy_chain_t out;
    size_t out_file_bytes; /* part of out.bytes that are file ranges */

    int64_t timer;                    /* connect, flush or linger deadline (0 = none) */
    int close_cause;                  /* err reported with a graceful close eddy began itself */
    size_t discarded;                 /* input thrown away while closing */
    eddy_close_reason_t close_reason; /* set when the socket is closed */
    int close_err;

    eddy_list_t group_node;
    eddy_list_t dirty_node; /* on the loop's write list */
    net_loop_t *net;
    eddy_addr_t peer;
    uint64_t connect_time, last_recv_time, last_send_time;
    uint64_t bytes_in, bytes_out;

    struct addrinfo *ai_list, *ai_next; /* client: addresses left to try */
};

/* Wrap an accepted (or connecting) socket. Takes a group reference. */
eddy_conn_t *eddy__conn_new(conn_group_t *g, int fd, conn_state_t state, const eddy_addr_t *peer);
/* Start serving an accepted connection: on_connect, then reading. */
void eddy__conn_start(eddy_conn_t *c);
/* Close refused connections gracefully without telling the application. */
void eddy__conn_refuse(eddy_conn_t *c);
/* Begin a graceful close that eddy started, reporting cause in on_close. */
void eddy__conn_close_with(eddy_conn_t *c, int cause);
void eddy__conn_finish(eddy_conn_t *c, eddy_close_reason_t reason, int err, bool abortive);
void eddy__conn_connected(eddy_conn_t *c);
void eddy__conn_io_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud);
void eddy__conn_unref(eddy_conn_t *c);

void eddy__group_init(conn_group_t *g, eddy_loop_t *loop, const eddy_port_options_t *opts,
                      const eddy_conn_callbacks_t *cbs, void *ud);
void eddy__group_unref(conn_group_t *g);
int eddy__socket_apply_options(int fd, const eddy_port_options_t *o, bool tcp);

/* Write c's queued output now (also called by the write phase). */
void eddy__conn_flush(eddy_conn_t *c);

/* writer.c: the end-of-iteration write phase and the output arena. */
net_loop_t *eddy__net_loop(eddy_loop_t *loop);
/* Queue a copy of data on c's output (arena or heap). 0 or -ENOMEM. */
int eddy__writer_append(eddy_conn_t *c, const void *data, size_t len);
/* Have c's output written in this iteration's write phase. */
void eddy__writer_mark(eddy_conn_t *c);
void eddy__writer_forget(eddy_conn_t *c);

/* Owned by loop/, for net/ only: 64 KiB of scratch space shared by every
 * connection of the loop, and a slot for net/'s per-loop state. */
char *eddy__loop_scratch(eddy_loop_t *loop, size_t *size);
void *eddy__loop_net(eddy_loop_t *loop);
void eddy__loop_set_net(eddy_loop_t *loop, void *net, void (*net_free)(void *));

#endif
