/*
 * PROCESS mode: the reactor threads of the master. Each runs its own loop
 * with its own listener on every port, owns the connections it accepts,
 * frames their input, hands each whole packet to a worker through the
 * worker's inbox, and carries out what workers send back through its own
 * inbox (sends, closes, resets ...) in the order they sent it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/loop.h"
#include "eddy/proctitle.h"
#include "server_internal.h"

#define HELD_CHECK_MS  2   /* how often held connections look at their worker's queue */
#define DRAIN_CHECK_MS 100 /* how often a draining reactor looks for idle connections */

/* A connection, as its reactor sees it. */
typedef struct rsession {
    eddy_conn_t *conn;
    int worker;      /* gets on_connect / on_close / buffer events; -1 in modes 1 and 3 */
    int last_worker; /* the last packet went there */
    uint64_t uid;
    int port;
    uint32_t inflight;   /* HTTP ports: packets dispatched, not yet answered */
    bool http;           /* the port frames HTTP requests (open_http_protocol) */
    bool partial;        /* HTTP ports: bytes sent since the last complete answer */
    bool owed;           /* a packet went to a worker and nothing was sent back since */
    bool held;           /* a packet waits for last_worker's queue to drain */
    bool user_paused;    /* eddy_server_pause */
    bool refusing;       /* HTTP: a request's body could not be spooled; its 500 (and the
                            close) wait for the answers to the requests before it */
    body_spool_t *spool; /* a streamed request body being written to a file */
    uint64_t owed_since; /* when the first packet still unanswered was dispatched (ms) */
} rsession_t;

typedef struct rport {
    reactor_t *r;
    server_port_t *port;
    eddy_listener_t *listener;
} rport_t;

struct reactor {
    eddy_server_t *s;
    int index;
    pthread_t thread;
    eddy_loop_t *loop;
    ipc_t *ipc;
    rport_t *ports;
    rsession_t *sessions; /* indexed by fd */
    size_t nsessions;
    size_t open; /* sessions with a connection */
    unsigned rr; /* round-robin position (dispatch_mode 1, datagrams) */
    /* Connections whose fd was taken by a newer one before their on_close
     * ran (the socket closes first, on_close follows in the same
     * iteration): where their on_close must still go. */
    struct zombie {
        eddy_conn_t *conn;
        int worker;
    } * zombies;
    size_t nzombies, zombies_cap;
    int64_t stats_timer;         /* armed while figures changed since they were published */
    bool stats_final;            /* published for the last time: the listeners are gone */
    eddy_net_stats_t closed_net; /* listeners closed by a drain, as they were then */
    int *held;                   /* fds whose packet waits (rsession_t.held) */
    size_t nheld, held_cap;
    int64_t held_timer;
    bool draining, drained;
    bool drain_forced; /* set by the master's thread: close and reset everything now */
    uint64_t drain_deadline;
    int64_t drain_timer;
    int start_rc; /* set by the thread before it signals started */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
};

static size_t queue_limit(const eddy_server_t *s)
{
    return s->opts.max_queued_bytes;
}

/* ---- sessions ---------------------------------------------------------------- */

static eddy_session_t conn_session(const eddy_conn_t *c)
{
    return (eddy_session_t)(uintptr_t)eddy_conn_data(c);
}

static rsession_t *rsession_of(reactor_t *r, eddy_session_t id)
{
    if (session_owner(id) != r->index) return NULL;
    size_t fd = (size_t)session_fd(id);
    if (fd >= r->nsessions || !r->sessions[fd].conn) return NULL;
    rsession_t *rs = &r->sessions[fd];
    return conn_session(rs->conn) == id ? rs : NULL;
}

static int rsession_reserve(reactor_t *r, size_t fd)
{
    rsession_t *a = eddy__grow_zeroed(r->sessions, &r->nsessions, sizeof *a, fd, 256);
    if (!a) return -ENOMEM;
    r->sessions = a;
    return 0;
}

/* By the session id, not eddy_conn_fd: that is -1 once the socket is
 * closed (after a reset, and in on_close). */
static session_entry_t *entry_of(reactor_t *r, const eddy_conn_t *c)
{
    return &r->s->table.entries[session_fd(conn_session(c))];
}

/* Whether e still describes c (its descriptor may carry a newer
 * connection, of this thread or another); call between write_begin/end. */
static bool entry_is(const session_entry_t *e, const eddy_conn_t *c)
{
    eddy_session_t id = conn_session(c);
    return e->gen == (uint32_t)id && e->reactor == session_owner(id);
}

/* Refresh the shared entry's counters (bytes, times) from the connection. */
static void entry_refresh(reactor_t *r, eddy_conn_t *c)
{
    session_entry_t *e = entry_of(r, c);
    eddy__table_write_begin(e);
    if (entry_is(e, c)) eddy_conn_counters(c, &e->info); /* the addresses were set at accept */
    eddy__table_write_end(e);
}

/* ---- dispatch ----------------------------------------------------------------- */

static unsigned addr_hash(const eddy_addr_t *a)
{
    const unsigned char *p;
    size_t n;
    if (a->u.sa.sa_family == AF_INET) {
        p = (const unsigned char *)&a->u.in.sin_addr;
        n = sizeof a->u.in.sin_addr;
    } else if (a->u.sa.sa_family == AF_INET6) {
        p = (const unsigned char *)&a->u.in6.sin6_addr;
        n = sizeof a->u.in6.sin6_addr;
    } else {
        return 0; /* unix sockets: one peer address for all */
    }
    unsigned h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int least_busy(reactor_t *r)
{
    const session_table_t *t = &r->s->table;
    int best = 0;
    uint64_t best_load = UINT64_MAX;
    int n = r->s->opts.worker_num;
    for (int k = 0; k < n; k++) {
        int w = (int)((r->rr + (unsigned)k) % (unsigned)n); /* ties go round */
        uint64_t load = __atomic_load_n(&t->dispatched[w], __ATOMIC_RELAXED) -
                        __atomic_load_n(&t->finished[w], __ATOMIC_RELAXED);
        if (load < best_load) best_load = load, best = w;
    }
    r->rr++;
    return best;
}

/* The worker for a packet (data) or, with data NULL, for the connection. */
static int dispatch(reactor_t *r, const eddy_conn_t *c, const rsession_t *rs, const char *data,
                    size_t len)
{
    eddy_server_t *s = r->s;
    int n = s->opts.worker_num;
    int fd = eddy_conn_fd(c);
    if (s->dispatch_fn) {
        int w = s->dispatch_fn(s, conn_session(c), eddy_conn_peer(c), rs->uid, data, len,
                               s->dispatch_ud);
        return w >= 0 && w < n ? w : fd % n;
    }
    switch (s->opts.dispatch_mode) {
    case EDDY_DISPATCH_ROUND_ROBIN:
        if (!data) return -1;
        return (int)(r->rr++ % (unsigned)n);
    case EDDY_DISPATCH_IDLE: return data ? least_busy(r) : -1;
    case EDDY_DISPATCH_IP: return (int)(addr_hash(eddy_conn_peer(c)) % (unsigned)n);
    case EDDY_DISPATCH_UID:
        if (rs->uid) return (int)(rs->uid % (uint64_t)n);
        return fd % n;
    default: return fd % n;
    }
}

static int to_worker(reactor_t *r, int worker, uint16_t type, eddy_session_t id, const void *data,
                     size_t len)
{
    if (!r->ipc) return -EDDY_ESTATE; /* the reactor is stopping */
    int rc = eddy__ipc_send(r->ipc, worker, type, id, data, len);
    if (rc < 0)
        EDDY_ERROR("reactor %d: message to worker #%d lost: %s", r->index, worker,
                   eddy_strerror(rc));
    return rc;
}

/* ---- back-pressure: packets held for a full worker queue -------------------- */

static void held_check(eddy_loop_t *loop, int64_t id, void *ud);

static void hold(reactor_t *r, rsession_t *rs, int fd)
{
    if (rs->held) return;
    if (r->nheld == r->held_cap) {
        size_t cap = r->held_cap ? r->held_cap * 2 : 64;
        int *a = realloc(r->held, cap * sizeof *a);
        if (!a) return; /* the conn stays paused until the next hold grows it */
        r->held = a;
        r->held_cap = cap;
    }
    r->held[r->nheld++] = fd;
    rs->held = true;
    if (!r->held_timer) {
        int64_t t = eddy_timer_tick(r->loop, HELD_CHECK_MS, held_check, r);
        r->held_timer = t > 0 ? t : 0;
    }
}

/* Resume the held connections whose worker's queue has room again: each
 * delivers its packet anew (and may be held again). */
static void held_check(eddy_loop_t *loop, int64_t id, void *ud)
{
    reactor_t *r = ud;
    size_t keep = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        int fd = r->held[i];
        rsession_t *rs = (size_t)fd < r->nsessions ? &r->sessions[fd] : NULL;
        if (!rs || !rs->conn || !rs->held) continue;
        if (eddy__ipc_queued(r->ipc, rs->last_worker) > queue_limit(r->s)) {
            r->held[keep++] = fd;
            continue;
        }
        rs->held = false;
        if (!rs->user_paused && !rs->refusing) eddy_resume(rs->conn);
    }
    r->nheld = keep;
    if (keep == 0 && r->held_timer) {
        eddy_timer_clear(r->loop, r->held_timer);
        r->held_timer = 0;
    }
}

/* ---- connection callbacks ------------------------------------------------------ */

static void drain_check(reactor_t *r);

/* The previous connection on a reused fd awaits its on_close: keep where
 * that must go. */
static void bury(reactor_t *r, rsession_t *rs)
{
    if (r->nzombies == r->zombies_cap) {
        size_t cap = r->zombies_cap ? r->zombies_cap * 2 : 8;
        struct zombie *z = realloc(r->zombies, cap * sizeof *z);
        if (!z) return; /* its worker misses one on_close */
        r->zombies = z;
        r->zombies_cap = cap;
    }
    r->zombies[r->nzombies++] = (struct zombie){rs->conn, rs->worker};
}

/* The worker a closing connection belongs to, whether it still has its
 * slot or was buried; -1 if none. */
static int closing_worker(reactor_t *r, rsession_t *rs, eddy_conn_t *c)
{
    if (rs->conn == c) {
        int w = rs->worker;
        rs->conn = NULL;
        rs->held = false;
        eddy__spool_drop(rs->spool); /* the body of a request that never came whole */
        rs->spool = NULL;
        return w;
    }
    for (size_t i = 0; i < r->nzombies; i++) {
        if (r->zombies[i].conn != c) continue;
        int w = r->zombies[i].worker;
        r->zombies[i] = r->zombies[--r->nzombies];
        return w;
    }
    return -1;
}

/* ---- statistics, for eddy_server_stats in the workers ---------------------------------- */

/* Publishing after every event would cost a copy per packet; at most
 * REACTOR_STATS_MS late is what eddy_server_stats promises. */
#define REACTOR_STATS_MS 50

static void stats_publish(reactor_t *r)
{
    eddy_net_stats_t sum = r->closed_net;
    for (int i = 0; i < r->s->nports; i++) {
        if (!r->ports[i].listener) continue;
        eddy_net_stats_t n;
        eddy_listener_stats(r->ports[i].listener, &n);
        eddy__net_stats_add(&sum, &n);
    }
    eddy__table_publish_stats(&r->s->table, r->index, &sum);
}

static void stats_tick(eddy_loop_t *loop, int64_t id, void *ud)
{
    reactor_t *r = ud;
    r->stats_timer = 0;
    stats_publish(r);
}

/* Connections come and go seldom enough to be published at once. */
static void stats_now(reactor_t *r)
{
    if (!r->stats_final) stats_publish(r);
}

static void stats_changed(reactor_t *r)
{
    if (r->stats_timer || r->stats_final) return;
    int64_t id = eddy_timer_after(r->loop, REACTOR_STATS_MS, stats_tick, r);
    if (id > 0) r->stats_timer = id;
}

static void conn_connect(eddy_conn_t *c, void *ud)
{
    rport_t *rp = ud;
    reactor_t *r = rp->r;
    eddy_server_t *s = r->s;
    int fd = eddy_conn_fd(c);
    if ((size_t)fd >= s->table.size || rsession_reserve(r, (size_t)fd) < 0) {
        EDDY_ERROR("reactor %d: descriptor %d beyond the session table (%zu): refused", r->index,
                   fd, s->table.size);
        eddy_reset(c);
        return;
    }
    eddy__table_note_fd(&s->table, fd);
    stats_now(r);
    session_entry_t *e = &s->table.entries[fd];
    eddy__table_write_begin(e);
    uint32_t gen = e->gen + 1 ? e->gen + 1 : 1; /* 0 never names a session */
    eddy_session_t id = session_make(r->index, fd, gen);
    eddy_conn_set_data(c, (void *)(uintptr_t)id);
    rsession_t *rs = &r->sessions[fd];
    if (rs->conn) bury(r, rs);
    eddy__spool_drop(rs->spool); /* the body of the connection that had the fd */
    *rs = (rsession_t){.conn = c, .worker = -1, .last_worker = -1, .port = rp->port->index};
    rs->http = rp->port->opts.framing.mode == EDDY_FRAME_HTTP;
    rs->worker = dispatch(r, c, rs, NULL, 0);
    e->gen = gen;
    e->open = 1;
    e->port = rp->port->index;
    e->worker = rs->worker;
    e->reactor = r->index;
    e->uid = 0;
    eddy_conn_info(c, &e->info);
    eddy__table_write_end(e);
    r->open++;
    if (rs->worker >= 0) {
        int32_t port = rp->port->index;
        to_worker(r, rs->worker, MSG_CONNECT, id, &port, sizeof port);
    }
}

/* The worker for a request (data: the packet, or a streamed one's head);
 * -1 when its queue is full: the client then waits (TCP back-pressure)
 * and the packet is delivered again once the queue has room. */
static int pick_worker(reactor_t *r, rsession_t *rs, eddy_conn_t *c, const char *data, size_t len)
{
    int w = rs->worker >= 0 && r->s->opts.dispatch_mode != EDDY_DISPATCH_UID && !r->s->dispatch_fn
                ? rs->worker
                : dispatch(r, c, rs, data, len);
    rs->last_worker = w;
    return eddy__ipc_queued(r->ipc, w) > queue_limit(r->s) ? -1 : w;
}

static void hold_packet(reactor_t *r, rsession_t *rs, eddy_conn_t *c)
{
    eddy_conn_unread(c);
    hold(r, rs, session_fd(conn_session(c)));
}

/* A request went to worker w. */
static void dispatched(reactor_t *r, rsession_t *rs, eddy_conn_t *c, int w)
{
    __atomic_fetch_add(&r->s->table.dispatched[w], 1, __ATOMIC_RELAXED);
    if (rs->http ? rs->inflight == 0 : !rs->owed) rs->owed_since = eddy_loop_now(r->loop);
    rs->owed = true;
    /* A request refused after this one must not be answered before it. */
    if (rs->http && rs->inflight++ == 0) eddy_conn_defer_errors(c, true);
    entry_refresh(r, c);
}

/* On an HTTP port, a request the reactor must give up between two answers
 * gets a minimal one before the close: 503 when its worker died with it,
 * 500 when its body could not be spooled (a partly sent answer can only be
 * cut short by the close). */
static void answer_status(reactor_t *r, rsession_t *rs, int status)
{
    if (!rs->http || rs->partial) return;
    char reply[256];
    ssize_t n =
        eddy_frame_status_reply(&r->s->ports[rs->port].opts.framing, status, reply, sizeof reply);
    if (n > 0) eddy_send(rs->conn, reply, (size_t)n);
}

static const char *spool_dir(const reactor_t *r, const rsession_t *rs)
{
    const char *dir = r->s->ports[rs->port].spool_dir;
    return dir ? dir : "/tmp";
}

/* The request that could not be spooled is answered 500 and the
 * connection closed, once every request before it has its answer. */
static void refuse_now(reactor_t *r, rsession_t *rs)
{
    rs->refusing = false;
    answer_status(r, rs, 500);
    eddy_close(rs->conn);
}

static void spool_failed(reactor_t *r, rsession_t *rs, eddy_conn_t *c, int err)
{
    EDDY_ERROR("reactor %d: session %llx: spooling the request body to %s: %s; closing", r->index,
               (unsigned long long)conn_session(c), spool_dir(r, rs), eddy_strerror(err));
    eddy__spool_drop(rs->spool);
    rs->spool = NULL;
    if (rs->inflight == 0) {
        refuse_now(r, rs);
        return;
    }
    /* Requests pipelined before this one are still with workers: read
     * nothing more (the rest of the body stays unread until the lingering
     * close drains it) and refuse when their answers are out. */
    rs->refusing = true;
    eddy_pause(c);
}

/* The body's last piece: written, then the request goes to a worker as the
 * head and the file's path. */
static void spool_end(reactor_t *r, rsession_t *rs, eddy_conn_t *c, const char *data, size_t len)
{
    size_t head_len;
    const char *head = eddy__spool_head(rs->spool, &head_len);
    int w = pick_worker(r, rs, c, head, head_len);
    if (w < 0) {
        hold_packet(r, rs, c);
        return;
    }
    uint64_t mark = eddy__spool_size(rs->spool);
    char *msg = NULL;
    size_t msg_len;
    int rc = eddy__spool_write(rs->spool, data, len);
    if (rc == 0) rc = eddy__spool_message(rs->spool, &msg, &msg_len);
    if (rc < 0) {
        spool_failed(r, rs, c, rc);
        return;
    }
    rc = eddy__ipc_send(r->ipc, w, MSG_DATA_SPOOLED, conn_session(c), msg, msg_len);
    free(msg);
    if (rc < 0) {
        /* Given back: the piece comes again. */
        rc = eddy__spool_truncate(rs->spool, mark);
        if (rc < 0)
            spool_failed(r, rs, c, rc);
        else
            hold_packet(r, rs, c);
        return;
    }
    eddy__spool_hand_over(rs->spool);
    rs->spool = NULL;
    dispatched(r, rs, c, w);
}

/* A part of a request whose body the framing streams. */
static void spool_part(reactor_t *r, rsession_t *rs, eddy_conn_t *c, eddy_packet_part_t part,
                       const char *data, size_t len)
{
    if (part == EDDY_PACKET_HEAD) {
        eddy__spool_drop(rs->spool); /* never: a head comes after the last body's end */
        rs->spool = NULL;
        int rc = eddy__spool_open(&rs->spool, spool_dir(r, rs), data, len);
        if (rc < 0) spool_failed(r, rs, c, rc);
        return;
    }
    if (!rs->spool) return; /* it failed: refused, or paused until it is */
    if (part == EDDY_PACKET_BODY_END) {
        spool_end(r, rs, c, data, len);
        return;
    }
    int rc = eddy__spool_write(rs->spool, data, len);
    if (rc < 0) spool_failed(r, rs, c, rc);
}

static void conn_receive(eddy_conn_t *c, const char *data, size_t len, void *ud)
{
    rport_t *rp = ud;
    reactor_t *r = rp->r;
    rsession_t *rs = &r->sessions[session_fd(conn_session(c))];
    stats_changed(r);
    eddy_packet_part_t part = eddy_conn_packet_part(c);
    if (part != EDDY_PACKET_WHOLE) {
        spool_part(r, rs, c, part, data, len);
        return;
    }
    int w = pick_worker(r, rs, c, data, len);
    if (w < 0 || eddy__ipc_send(r->ipc, w, MSG_DATA, conn_session(c), data, len) < 0)
        hold_packet(r, rs, c);
    else
        dispatched(r, rs, c, w);
}

static void conn_close(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud)
{
    rport_t *rp = ud;
    reactor_t *r = rp->r;
    eddy_session_t id = conn_session(c);
    stats_changed(r);    /* refused ones too: they count */
    if (id == 0) return; /* refused in conn_connect */
    rsession_t *rs = &r->sessions[session_fd(id)];
    session_entry_t *e = entry_of(r, c);
    eddy__table_write_begin(e);
    if (entry_is(e, c)) {
        e->open = 0;
        eddy_conn_counters(c, &e->info);
    }
    eddy__table_write_end(e);
    r->open--;
    int w = closing_worker(r, rs, c);
    if (w >= 0) {
        close_msg_t m = {(int32_t)reason, err, rp->port->index};
        to_worker(r, w, MSG_CLOSED, id, &m, sizeof m);
    }
    if (r->draining) drain_check(r);
}

static void conn_buffer_event(eddy_conn_t *c, uint16_t type, rport_t *rp)
{
    reactor_t *r = rp->r;
    rsession_t *rs = &r->sessions[session_fd(conn_session(c))];
    if (rs->worker >= 0) to_worker(r, rs->worker, type, conn_session(c), NULL, 0);
}

static void conn_buffer_full(eddy_conn_t *c, void *ud)
{
    conn_buffer_event(c, MSG_BUFFER_FULL, ud);
}

static void conn_buffer_empty(eddy_conn_t *c, void *ud)
{
    conn_buffer_event(c, MSG_BUFFER_EMPTY, ud);
}

/* A datagram goes to a worker chosen by its sender's address, so one peer's
 * datagrams stay in order; the worker answers on the port's socket itself. */
static void port_packet(eddy_listener_t *l, const char *data, size_t len, const eddy_addr_t *from,
                        void *ud)
{
    rport_t *rp = ud;
    reactor_t *r = rp->r;
    int n = r->s->opts.worker_num;
    int w = (int)((addr_hash(from) ^ (unsigned)eddy_addr_port(from)) % (unsigned)n);
    size_t total = sizeof(datagram_msg_t) + len;
    char *buf = malloc(total);
    if (!buf) return;
    datagram_msg_t m = {.port = rp->port->index, .from = *from};
    memcpy(buf, &m, sizeof m);
    memcpy(buf + sizeof m, data, len);
    if (eddy__ipc_queued(r->ipc, w) <= queue_limit(r->s))
        to_worker(r, w, MSG_DATAGRAM, 0, buf, total); /* else dropped: it is UDP */
    free(buf);
}

static const eddy_conn_callbacks_t reactor_callbacks = {
    .on_connect = conn_connect,
    .on_receive = conn_receive,
    .on_close = conn_close,
    .on_buffer_full = conn_buffer_full,
    .on_buffer_empty = conn_buffer_empty,
    .on_packet = port_packet,
};

/* ---- what workers ask for -------------------------------------------------------- */

static void do_send(reactor_t *r, rsession_t *rs, const void *data, size_t len)
{
    int rc = eddy_send(rs->conn, data, len);
    if (rc == 0) {
        rs->owed = false;
        rs->partial = true;
        return;
    }
    if (rc == -EDDY_ECLOSING) return;
    /* Dropping it would leave a gap in the stream: end the connection
     * after what was queued before. */
    EDDY_ERROR("session %llx: send of %zu bytes failed (%s): closing",
               (unsigned long long)conn_session(rs->conn), len, eddy_strerror(rc));
    eddy_close(rs->conn);
}

static void do_sendfile(reactor_t *r, rsession_t *rs, const void *data, size_t len)
{
    sendfile_msg_t m;
    if (len <= sizeof m) return;
    memcpy(&m, data, sizeof m);
    char path[4096];
    size_t plen = len - sizeof m < sizeof path - 1 ? len - sizeof m : sizeof path - 1;
    memcpy(path, (const char *)data + sizeof m, plen);
    path[plen] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && (fstat(fd, &st) < 0 || st.st_dev != m.dev || st.st_ino != m.ino))
        rc = -EDDY_ESTATE; /* the path now names another file */
    if (rc == 0) rc = eddy_sendfile(rs->conn, fd, (off_t)m.offset, m.len);
    if (fd >= 0) close(fd);
    if (rc == 0) {
        rs->owed = false;
        rs->partial = true;
        return;
    }
    if (rc == -EDDY_ECLOSING) return;
    EDDY_ERROR("session %llx: sendfile %s failed (%s): closing",
               (unsigned long long)conn_session(rs->conn), path, eddy_strerror(rc));
    eddy_close(rs->conn);
}

static void set_uid(reactor_t *r, rsession_t *rs, const void *data, size_t len)
{
    if (len != sizeof(uint64_t)) return;
    memcpy(&rs->uid, data, sizeof rs->uid);
    session_entry_t *e = entry_of(r, rs->conn);
    eddy__table_write_begin(e);
    e->uid = rs->uid;
    eddy__table_write_end(e);
}

static void session_request(reactor_t *r, const ipc_msg_t *msg)
{
    rsession_t *rs = rsession_of(r, msg->id);
    if (!rs) return; /* closed meanwhile: nothing to do */
    switch (msg->type) {
    case MSG_SESSION_SEND: do_send(r, rs, msg->data, msg->len); break;
    case MSG_SESSION_SENDFILE: do_sendfile(r, rs, msg->data, msg->len); break;
    case MSG_SESSION_CLOSE: eddy_close(rs->conn); break;
    case MSG_SESSION_RESET: eddy_reset(rs->conn); break;
    case MSG_SESSION_PAUSE:
        rs->user_paused = true;
        eddy_pause(rs->conn);
        break;
    case MSG_SESSION_RESUME:
        rs->user_paused = false;
        if (!rs->held && !rs->refusing) eddy_resume(rs->conn);
        break;
    case MSG_SESSION_PROTECT:
        eddy_conn_protect(rs->conn, msg->len > 0 && ((const char *)msg->data)[0]);
        break;
    case MSG_SESSION_BIND: set_uid(r, rs, msg->data, msg->len); break;
    case MSG_SESSION_ANSWERED:
        rs->owed = rs->partial = false;
        if (rs->inflight == 0 || --rs->inflight > 0) break;
        if (rs->refusing)
            refuse_now(r, rs);
        else
            eddy_conn_defer_errors(rs->conn, false);
        break;
    default: break;
    }
    if (rs->conn) entry_refresh(r, rs->conn);
}

/* A worker died (the manager knew at died_ms): the packets it had taken
 * and not answered are lost. Rather than let those clients wait forever,
 * close their connections gracefully (whatever was sent before still
 * arrives). Connections with nothing outstanding stay open for the
 * replacement, and so do those whose every unanswered packet went out
 * after died_ms: the successor reads them from the inbox. (The loop's
 * clock is never ahead of the real one, so a packet the dead worker could
 * have taken is never counted as later.) */
static void worker_lost(reactor_t *r, int worker, uint64_t died_ms)
{
    for (size_t fd = 0; fd < r->nsessions; fd++) {
        rsession_t *rs = &r->sessions[fd];
        bool lost = (rs->http ? rs->inflight > 0 : rs->owed) && rs->owed_since <= died_ms;
        if (!rs->conn || !lost || rs->last_worker != worker || eddy_conn_closing(rs->conn))
            continue;
        EDDY_ERROR("session %llx: its request was lost with worker #%d; closing",
                   (unsigned long long)conn_session(rs->conn), worker);
        answer_status(r, rs, 503);
        rs->owed = rs->refusing = false;
        rs->inflight = 0;
        eddy_conn_defer_errors(rs->conn, false);
        eddy_close(rs->conn);
    }
}

static void on_message(ipc_t *ipc, const ipc_msg_t *msg, void *ud)
{
    reactor_t *r = ud;
    if (msg->type == MSG_WORKER_LOST) {
        uint64_t died_ms = UINT64_MAX; /* unknown: every outstanding packet */
        if (msg->len == sizeof died_ms) memcpy(&died_ms, msg->data, sizeof died_ms);
        worker_lost(r, (int)msg->id, died_ms);
        return;
    }
    session_request(r, msg);
    stats_changed(r); /* bytes out */
    if (r->draining) drain_check(r);
}

/* ---- draining (shutdown) ----------------------------------------------------------- */

static void drain_tick(eddy_loop_t *loop, int64_t id, void *ud)
{
    drain_check(ud);
}

static void drained_cb(eddy_loop_t *loop, void *ud)
{
    eddy__process_reactor_drained(ud);
}

/* Close each connection once it owes nothing and is not in the middle of
 * sending a request body (or max_wait_time is up), reset what is left
 * LEAVE_MARGIN_MS later, and tell the master when none is left. */
static void drain_check(reactor_t *r)
{
    if (r->drained) return;
    uint64_t now = eddy_loop_now(r->loop);
    bool deadline = now >= r->drain_deadline;
    for (size_t fd = 0; fd < r->nsessions; fd++) {
        rsession_t *rs = &r->sessions[fd];
        if (!rs->conn || eddy_conn_closing(rs->conn)) continue;
        if (deadline || (!rs->owed && !rs->spool)) eddy_close(rs->conn);
    }
    if (r->open > 0 && now < r->drain_deadline + LEAVE_MARGIN_MS) return;
    for (size_t fd = 0; fd < r->nsessions; fd++)
        if (r->sessions[fd].conn) eddy_reset(r->sessions[fd].conn);
    if (r->open > 0) return; /* the resets report on_close from the loop */
    r->drained = true;
    if (r->drain_timer) eddy_timer_clear(r->loop, r->drain_timer);
    r->drain_timer = 0;
    eddy_loop_post(eddy_server_loop(r->s), drained_cb, r->s);
}

static void drain_start(eddy_loop_t *loop, void *ud)
{
    reactor_t *r = ud;
    bool force = __atomic_load_n(&r->drain_forced, __ATOMIC_ACQUIRE);
    for (int i = 0; i < r->s->nports; i++) {
        if (!r->ports[i].listener) continue;
        eddy_net_stats_t n; /* its figures stop here, as a BASE-mode worker's do */
        eddy_listener_stats(r->ports[i].listener, &n);
        eddy__net_stats_add(&r->closed_net, &n);
        eddy_listener_close(r->ports[i].listener);
        r->ports[i].listener = NULL;
    }
    stats_changed(r);
    uint64_t now = eddy_loop_now(loop);
    if (!r->draining) {
        r->draining = true;
        r->drain_deadline = now + r->s->opts.max_wait_time * 1000;
        int64_t id = eddy_timer_tick(loop, DRAIN_CHECK_MS, drain_tick, r);
        r->drain_timer = id > 0 ? id : 0;
    }
    /* Forced: close and reset everything now. */
    if (force) r->drain_deadline = now > LEAVE_MARGIN_MS ? now - LEAVE_MARGIN_MS : 0;
    drain_check(r);
}

void eddy__reactors_drain(eddy_server_t *s, bool force)
{
    for (int i = 0; i < s->reactors_running; i++) {
        if (force) __atomic_store_n(&s->reactors[i].drain_forced, true, __ATOMIC_RELEASE);
        eddy_loop_post(s->reactors[i].loop, drain_start, &s->reactors[i]);
    }
}

/* ---- the thread ------------------------------------------------------------------------ */

static int open_ports(reactor_t *r)
{
    eddy_server_t *s = r->s;
    for (int i = 0; i < s->nports; i++) {
        server_port_t *p = &s->ports[i];
        rport_t *rp = &r->ports[i];
        rp->r = r;
        rp->port = p;
        /* One thread serves a datagram port: its packets are dispatched by
         * address anyway. */
        if (p->udp && r->index != 0) continue;
        int fd;
        if (p->opts.reuse_port && !p->unix_path && !p->udp) {
            /* Reactor 0 (the threads start one at a time) takes the socket
             * that has queued connections since the port was bound. */
            fd = eddy__server_reuse_port_socket(p);
        } else {
            fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0) fd = -errno;
        }
        if (fd < 0) return fd;
        int rc = eddy_listener_adopt(r->loop, fd, &p->opts, &reactor_callbacks, rp, &rp->listener);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    return 0;
}

/* On the reactor's thread, once its loop has stopped: whatever is still
 * open (only after a forced shutdown) is reset, and the loop runs once more
 * so the closes complete. */
static void reactor_cleanup(reactor_t *r)
{
    if (!r->loop) return;
    if (r->ports) stats_publish(r); /* the last figures stay readable */
    r->stats_final = true;
    if (r->stats_timer) eddy_timer_clear(r->loop, r->stats_timer);
    r->stats_timer = 0;
    for (int i = 0; r->ports && i < r->s->nports; i++) {
        if (r->ports[i].listener) eddy_listener_close(r->ports[i].listener);
        r->ports[i].listener = NULL;
    }
    if (r->held_timer) eddy_timer_clear(r->loop, r->held_timer);
    if (r->drain_timer) eddy_timer_clear(r->loop, r->drain_timer);
    r->held_timer = r->drain_timer = 0;
    if (r->ipc) {
        eddy__ipc_flush(r->ipc, 1000);
        eddy__ipc_close(r->ipc);
        r->ipc = NULL;
    }
    for (size_t fd = 0; fd < r->nsessions; fd++)
        if (r->sessions[fd].conn) eddy_reset(r->sessions[fd].conn);
    eddy_loop_run(r->loop);
    eddy_loop_free(r->loop);
    r->loop = NULL;
}

static void signal_started(reactor_t *r, int rc)
{
    pthread_mutex_lock(&r->lock);
    r->start_rc = rc;
    r->started = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *reactor_main(void *arg)
{
    reactor_t *r = arg;
    eddy_server_t *s = r->s;
    char name[16];
    snprintf(name, sizeof name, "eddy: reactor%d", r->index);
    eddy_proctitle_set_thread(name);
    int rc = eddy_loop_new(&r->loop);
    /* The queue to a worker may pass the limit by one packet before the
     * reactor holds the next: leave room for the largest. */
    size_t cap = queue_limit(s) + s->opts.port.framing.package_max_length + (1u << 20);
    for (int i = 0; i < s->nports; i++)
        cap += s->ports[i].opts.framing.package_max_length;
    if (rc == 0)
        rc = eddy__ipc_open(&r->ipc, r->loop, s->inboxes, s->ninboxes, reactor_slot(s, r->index),
                            cap, on_message, r);
    if (rc == 0) rc = open_ports(r);
    signal_started(r, rc);
    if (rc == 0) eddy_loop_run(r->loop);
    reactor_cleanup(r);
    return NULL;
}

static void reactor_free(reactor_t *r)
{
    if (!r->s) return; /* never set up */
    free(r->ports);
    free(r->sessions);
    free(r->zombies);
    free(r->held);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
}

int eddy__reactors_start(eddy_server_t *s)
{
    int n = s->opts.reactor_num;
    s->reactors = calloc((size_t)n, sizeof *s->reactors);
    if (!s->reactors) return -ENOMEM;
    for (int i = 0; i < n; i++) {
        reactor_t *r = &s->reactors[i];
        r->s = s;
        r->index = i;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->cond, NULL);
        r->ports = calloc((size_t)s->nports, sizeof *r->ports);
        if (!r->ports) return -ENOMEM;
        int rc = pthread_create(&r->thread, NULL, reactor_main, r);
        if (rc != 0) return -rc;
        s->reactors_running++;
        pthread_mutex_lock(&r->lock);
        while (!r->started)
            pthread_cond_wait(&r->cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
        if (r->start_rc < 0) return r->start_rc;
    }
    return 0;
}

static void stop_cb(eddy_loop_t *loop, void *ud)
{
    eddy_loop_stop(loop);
}

/* Stop every reactor thread, join it, and free it on this thread (its
 * loop is idle by then). */
void eddy__reactors_stop(eddy_server_t *s)
{
    if (!s->reactors) return;
    for (int i = 0; i < s->reactors_running; i++) {
        reactor_t *r = &s->reactors[i];
        /* A thread whose start failed has already returned. */
        if (r->start_rc == 0) eddy_loop_post(r->loop, stop_cb, r);
        pthread_join(r->thread, NULL);
    }
    for (int i = 0; i < s->opts.reactor_num; i++)
        reactor_free(&s->reactors[i]);
    free(s->reactors);
    s->reactors = NULL;
    s->reactors_running = 0;
}
