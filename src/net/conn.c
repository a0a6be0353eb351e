#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "net_internal.h"

#define READS_PER_EVENT 8                  /* then yield to other connections */
#define SENDFILE_MAX    (4u * 1024 * 1024) /* per sendfile call */
#define WRITEV_MAX_IOV  64
#define INPUT_READ_SIZE (16u * 1024)

static atomic_uint_fast64_t next_conn_id = 1;

static void schedule_read(eddy_conn_t *c);
static void conn_read(eddy_conn_t *c);
static void begin_linger(eddy_conn_t *c);

const char *eddy_close_reason_name(eddy_close_reason_t reason)
{
    static const char *const names[EDDY_CLOSE_REASON_COUNT] = {
        "graceful", "peer", "reset", "flush_timeout", "linger_timeout", "error"};
    return (unsigned)reason < EDDY_CLOSE_REASON_COUNT ? names[reason] : "unknown";
}

/* ---- groups --------------------------------------------------------------- */

void eddy__group_init(conn_group_t *g, eddy_loop_t *loop, const eddy_port_options_t *opts,
                      const eddy_conn_callbacks_t *cbs, void *ud)
{
    memset(g, 0, sizeof *g);
    g->loop = loop;
    if (opts)
        g->opts = *opts;
    else
        eddy_port_options_init(&g->opts);
    if (cbs) g->cbs = *cbs;
    g->ud = ud;
    g->high_watermark = g->opts.buffer_high_watermark ? g->opts.buffer_high_watermark
                                                      : g->opts.socket_buffer_size / 4 * 3;
    eddy_list_init(&g->conns);
    g->refs = 1;
}

void eddy__group_unref(conn_group_t *g)
{
    if (--g->refs == 0 && g->release) g->release(g);
}

/* ---- creation ----------------------------------------------------------------- */

eddy_conn_t *eddy__conn_new(conn_group_t *g, int fd, conn_state_t state, const eddy_addr_t *peer)
{
    net_loop_t *net = eddy__net_loop(g->loop);
    eddy_conn_t *c = net ? calloc(1, sizeof *c) : NULL;
    if (!c) return NULL;
    c->net = net;
    eddy_list_init(&c->dirty_node);
    c->loop = g->loop;
    c->group = g;
    c->fd = fd;
    c->state = state;
    c->id = atomic_fetch_add(&next_conn_id, 1);
    c->refs = 1;
    eddy_buf_init(&c->in);
    eddy_chain_init(&c->out);
    if (peer) c->peer = *peer;
    c->connect_time = c->last_recv_time = c->last_send_time = eddy_loop_now(g->loop);
    eddy_list_insert_tail(&g->conns, &c->group_node);
    g->refs++;
    g->stats.active++;
    return c;
}

/* Edge-triggered for reading and writing, registered once for the
 * connection's whole life: no epoll_ctl per reply. */
static int conn_watch(eddy_conn_t *c)
{
    return eddy_io_add(c->loop, c->fd, EDDY_READABLE | EDDY_WRITABLE | EDDY_EDGE, eddy__conn_io_cb,
                       c);
}

void eddy__conn_start(eddy_conn_t *c)
{
    if (conn_watch(c) < 0) {
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ENOMEM, true);
        return;
    }
    c->announced = true;
    c->group->stats.accepted++;
    if (c->group->cbs.on_connect) c->group->cbs.on_connect(c, c->group->ud);
    /* Data may have arrived with the handshake (TCP_DEFER_ACCEPT, fast open). */
    c->readable = true;
    schedule_read(c);
}

void eddy__conn_refuse(eddy_conn_t *c)
{
    c->group->stats.refused++;
    if (conn_watch(c) < 0) {
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ENOMEM, true);
        return;
    }
    c->readable = true;
    eddy__conn_close_with(c, -EDDY_ECONN_LIMIT);
}

void eddy__conn_connected(eddy_conn_t *c)
{
    c->state = CONN_OPEN;
    if (c->timer) eddy_timer_clear(c->loop, c->timer);
    c->timer = 0;
    c->connect_time = c->last_recv_time = eddy_loop_now(c->loop);
    if (c->ai_list) {
        freeaddrinfo(c->ai_list);
        c->ai_list = c->ai_next = NULL;
    }
    eddy__socket_apply_options(c->fd, &c->group->opts, c->peer.u.sa.sa_family != AF_UNIX);
    if (c->group->cbs.on_connect) c->group->cbs.on_connect(c, c->group->ud);
    if (c->state != CONN_OPEN) return;
    if (c->close_requested) {
        c->close_requested = false;
        eddy__conn_close_with(c, c->close_cause);
        return;
    }
    eddy__writer_mark(c);
    /* Input may have come with the edge that reported the connection. */
    c->readable = true;
    schedule_read(c);
}

/* ---- the end -------------------------------------------------------------- */

static void conn_free(eddy_conn_t *c)
{
    if (c->ai_list) freeaddrinfo(c->ai_list);
    conn_group_t *g = c->group;
    free(c);
    eddy__group_unref(g);
}

void eddy__conn_unref(eddy_conn_t *c)
{
    if (--c->refs == 0) conn_free(c);
}

static void run_on_close(eddy_loop_t *loop, void *ud)
{
    eddy_conn_t *c = ud;
    conn_group_t *g = c->group;
    if (c->announced && g->cbs.on_close) g->cbs.on_close(c, c->close_reason, c->close_err, g->ud);
    eddy__conn_unref(c);
}

void eddy__conn_finish(eddy_conn_t *c, eddy_close_reason_t reason, int err, bool abortive)
{
    if (c->state == CONN_CLOSED) return;
    conn_group_t *g = c->group;
    c->state = CONN_CLOSED;
    if (c->timer) eddy_timer_clear(c->loop, c->timer);
    c->timer = 0;
    if (c->fd >= 0) {
        eddy_io_remove(c->loop, c->fd);
        if (abortive) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
        c->fd = -1;
    }
    eddy_chain_clear(&c->out);
    c->out_file_bytes = 0;
    eddy_buf_free(&c->in);
    eddy_list_remove(&c->group_node);
    eddy__writer_forget(c);
    g->stats.active--;
    g->stats.closed[reason]++;
    EDDY_DEBUG("conn %llu closed: %s (%s)", (unsigned long long)c->id,
               eddy_close_reason_name(reason), eddy_err_name(err));
    c->close_reason = reason;
    c->close_err = err;
    /* Deferred, so on_close never runs inside an eddy_* call of the application. */
    if (eddy_defer(c->loop, run_on_close, c) < 0) run_on_close(c->loop, c);
}

static int unacked_bytes(int fd)
{
    int outq = 0;
    return ioctl(fd, SIOCOUTQ, &outq) == 0 ? outq : 0;
}

/* Ends lingering without the peer's FIN: the close still succeeded if the
 * peer's kernel acknowledged every byte we sent. Lingering begins with
 * shutdown(SHUT_WR), and the FIN takes one sequence number that SIOCOUTQ
 * counts until it is acknowledged: a FIN alone in flight is not lost data. */
static void linger_expired(eddy_conn_t *c)
{
    int err = unacked_bytes(c->fd) > 1 ? -EDDY_ELINGER : 0;
    eddy__conn_finish(c, EDDY_CLOSE_LINGER_TIMEOUT, err, false);
}

static void request_timeout(eddy_conn_t *c);

static void close_timer_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_conn_t *c = ud;
    c->timer = 0;
    switch (c->state) {
    case CONN_OPEN: request_timeout(c); break;
    case CONN_RESOLVING:
    case CONN_CONNECTING: eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ETIMEDOUT, false); break;
    case CONN_FLUSHING: eddy__conn_finish(c, EDDY_CLOSE_FLUSH_TIMEOUT, -ETIMEDOUT, true); break;
    case CONN_LINGERING: linger_expired(c); break;
    default: break;
    }
}

static void set_timer(eddy_conn_t *c, uint64_t ms)
{
    if (c->timer) eddy_timer_clear(c->loop, c->timer);
    int64_t id = eddy_timer_after(c->loop, ms, close_timer_cb, c);
    c->timer = id > 0 ? id : 0;
}

/* The close is complete once output is flushed: with the peer's FIN already
 * read there is nothing to linger for. */
static void finish_after_flush(eddy_conn_t *c)
{
    eddy_close_reason_t reason = c->peer_closed_first ? EDDY_CLOSE_PEER : EDDY_CLOSE_GRACEFUL;
    eddy__conn_finish(c, reason, c->peer_closed_first ? 0 : c->close_cause, false);
}

void eddy__conn_close_with(eddy_conn_t *c, int cause)
{
    if (c->state == CONN_RESOLVING || c->state == CONN_CONNECTING) {
        c->close_requested = true;
        c->close_cause = cause;
        return;
    }
    if (c->state != CONN_OPEN) return;
    if (c->timer) eddy_timer_clear(c->loop, c->timer); /* the HTTP head timer */
    c->timer = 0;
    c->state = CONN_FLUSHING;
    c->close_cause = cause;
    eddy_buf_free(&c->in); /* undelivered input is discarded from now on */
    c->paused = false;
    if (!eddy_chain_empty(&c->out)) set_timer(c, c->group->opts.close_flush_timeout);
    eddy__writer_mark(c);
    if (c->readable) schedule_read(c);
}

static void begin_linger(eddy_conn_t *c)
{
    if (c->timer) eddy_timer_clear(c->loop, c->timer);
    c->timer = 0;
    if (c->peer_eof) {
        finish_after_flush(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGERING;
    set_timer(c, c->group->opts.linger_timeout);
    if (c->readable) schedule_read(c);
}

int eddy_close(eddy_conn_t *c)
{
    if (c->state >= CONN_FLUSHING || c->close_requested) return -EDDY_ECLOSING;
    eddy__conn_close_with(c, 0);
    return 0;
}

int eddy_reset(eddy_conn_t *c)
{
    if (c->state == CONN_CLOSED) return -EDDY_ECLOSING;
    eddy__conn_finish(c, EDDY_CLOSE_RESET, 0, true);
    return 0;
}

/* ---- input ---------------------------------------------------------------- */

static void read_deferred(eddy_loop_t *loop, void *ud)
{
    eddy_conn_t *c = ud;
    c->read_scheduled = false;
    conn_read(c);
    eddy__conn_unref(c);
}

static void schedule_read(eddy_conn_t *c)
{
    if (c->read_scheduled || c->state == CONN_CLOSED) return;
    if (eddy_defer(c->loop, read_deferred, c) < 0) return;
    c->read_scheduled = true;
    c->refs++;
}

static void touch(eddy_conn_t *c)
{
    c->last_recv_time = eddy_loop_now(c->loop);
    eddy_list_move_tail(&c->group->conns, &c->group_node);
}

/* ---- protocol answers the framing asks for (HTTP mode) ------------------------ */

/* Queue the framing's answer to a refused packet (an HTTP 400, 413 ...),
 * then close gracefully: the answer is written before the FIN, and the
 * unread rest of the request is drained, so the client reads all of it. */
static void frame_error(eddy_conn_t *c, int err)
{
    char reply[256];
    ssize_t n =
        eddy_frame_error_reply(&c->group->opts.framing, &c->frame, err, reply, sizeof reply);
    if (n > 0) eddy_send(c, reply, (size_t)n);
    eddy__conn_close_with(c, err);
}

/* A partial head outlived http_header_timeout, or a body stopped arriving
 * for http_body_timeout: 408, then a graceful close. While the application
 * has paused the connection nothing is read, and while a "100 Continue" is
 * held back the client does not send: neither is the client's fault, so
 * wait another period. */
static void request_timeout(eddy_conn_t *c)
{
    const eddy_framing_t *f = &c->group->opts.framing;
    if (c->paused || c->frame.continue_due) {
        bool head = eddy_frame_head_pending(f, &c->frame, eddy_buf_len(&c->in));
        uint64_t period = head ? f->http_header_timeout : f->http_body_timeout;
        int64_t id = eddy_timer_after(c->loop, period, close_timer_cb, c);
        c->timer = id > 0 ? id : 0;
        return;
    }
    char reply[256];
    ssize_t n = eddy_frame_status_reply(f, 408, reply, sizeof reply);
    if (n > 0) eddy_send(c, reply, (size_t)n);
    eddy__conn_close_with(c, -ETIMEDOUT);
}

/* After framing, with `left` bytes waiting for more: answer "Expect:
 * 100-continue", and time a partial head from its first byte, or a body
 * from its last read (the timer exists only while a request is incomplete,
 * so idle keep-alive connections cost nothing; a head that starts after a
 * delivered request gets a period of its own). */
static void frame_waiting(eddy_conn_t *c, size_t left, bool delivered)
{
    const eddy_framing_t *f = &c->group->opts.framing;
    if (f->mode != EDDY_FRAME_HTTP || c->state != CONN_OPEN) return;
    /* An interim answer must not overtake the final answers still due. */
    if (c->frame.continue_due && !c->defer_errors) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->frame.continue_due = false;
        eddy_send(c, cont, sizeof cont - 1);
    }
    bool head = eddy_frame_head_pending(f, &c->frame, left);
    uint64_t wait = head                                    ? f->http_header_timeout
                    : eddy_frame_body_pending(f, &c->frame) ? f->http_body_timeout
                                                            : 0;
    if (c->timer && (delivered || !head)) {
        eddy_timer_clear(c->loop, c->timer);
        c->timer = 0;
    }
    if (wait && !c->timer) {
        int64_t id = eddy_timer_after(c->loop, wait, close_timer_cb, c);
        c->timer = id > 0 ? id : 0;
    }
}

/* Hand whole packets from data[0..len) to the application. Returns how many
 * bytes were consumed; stops early when the application pauses or closes. */
static size_t deliver(eddy_conn_t *c, const char *data, size_t len)
{
    conn_group_t *g = c->group;
    size_t off = 0;
    while (off < len && c->state == CONN_OPEN && !c->paused) {
        ssize_t n = eddy_frame_next(&g->opts.framing, &c->frame, data + off, len - off);
        if (n == 0) break;
        if (n < 0 && c->defer_errors) {
            /* Answers to the packets before this one are still due: stop
             * here, and refuse it once they are out. */
            c->deferred_err = (int)n;
            c->paused = true;
            break;
        }
        if (n < 0) {
            g->stats.framing_errors++;
            EDDY_INFO("conn %llu: framing error: %s", (unsigned long long)c->id,
                      eddy_strerror((int)n));
            frame_error(c, (int)n);
            break;
        }
        if (g->cbs.on_receive) g->cbs.on_receive(c, data + off, (size_t)n, g->ud);
        if (c->unread) {
            c->unread = false; /* the packet stays in front, for after eddy_resume */
            eddy_frame_unread(&c->frame, (size_t)n);
            break;
        }
        g->stats.packets_in++;
        off += (size_t)n;
    }
    frame_waiting(c, len - off, off > 0);
    return off;
}

/* Deliver what the input buffer holds. */
static void deliver_buffered(eddy_conn_t *c)
{
    size_t n = deliver(c, eddy_buf_data(&c->in), eddy_buf_len(&c->in));
    if (c->state != CONN_OPEN) return; /* closing freed the buffer */
    eddy_buf_consume(&c->in, n);
    eddy_buf_release_if_empty(&c->in);
}

static void read_error(eddy_conn_t *c, int err)
{
    eddy__conn_finish(c, EDDY_CLOSE_ERROR, err, false);
}

static void peer_eof(eddy_conn_t *c)
{
    c->readable = false;
    /* Reading again after the FIN returns 0 again (every later edge, such as
     * EPOLLOUT while a half-closed connection writes, reports EPOLLIN too):
     * the peer's FIN is news once. */
    if (c->peer_eof) return;
    c->peer_eof = true;
    conn_group_t *g = c->group;
    switch (c->state) {
    case CONN_OPEN:
        if (eddy_buf_len(&c->in))
            EDDY_DEBUG("conn %llu: peer closed inside a packet; %zu bytes dropped",
                       (unsigned long long)c->id, eddy_buf_len(&c->in));
        if (g->opts.half_close) {
            if (g->cbs.on_half_close) g->cbs.on_half_close(c, g->ud);
            return;
        }
        c->peer_closed_first = true;
        eddy__conn_close_with(c, 0);
        return;
    case CONN_LINGERING: eddy__conn_finish(c, EDDY_CLOSE_GRACEFUL, c->close_cause, false); return;
    default: return; /* FLUSHING: finish_after_flush sees peer_eof */
    }
}

/* Where the next read goes: the shared scratch space when nothing is
 * buffered (most reads hold whole packets and never touch the connection's
 * own memory), else the tail of the input buffer. */
static char *read_target(eddy_conn_t *c, size_t *room, bool *scratch)
{
    if (c->state != CONN_OPEN || eddy_buf_len(&c->in) == 0) {
        *scratch = true;
        return eddy__loop_scratch(c->loop, room);
    }
    *scratch = false;
    size_t want = INPUT_READ_SIZE;
    size_t have = eddy_buf_len(&c->in);
    if (c->frame.expected > have && c->frame.expected - have > want)
        want = c->frame.expected - have;
    if (eddy_buf_reserve(&c->in, want) < 0) return NULL;
    *room = eddy_buf_space(&c->in);
    return eddy_buf_tail(&c->in);
}

/* Input read while closing is thrown away; once FIN is sent it counts
 * towards linger_max_bytes (before that, close_flush_timeout bounds it). */
static void discard_input(eddy_conn_t *c, size_t n)
{
    if (c->state != CONN_LINGERING) return;
    c->discarded += n;
    if (c->discarded > c->group->opts.linger_max_bytes) linger_expired(c);
}

static void take_input(eddy_conn_t *c, char *buf, size_t n, bool scratch)
{
    if (c->state != CONN_OPEN) {
        discard_input(c, n);
        return;
    }
    touch(c);
    if (!scratch) {
        eddy_buf_commit(&c->in, n);
        deliver_buffered(c);
        return;
    }
    size_t used = deliver(c, buf, n);
    if (c->state == CONN_OPEN && used < n && eddy_buf_append(&c->in, buf + used, n - used) < 0)
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ENOMEM, true);
}

/* Read and deliver at most max_reads times, then yield to the other
 * connections (continuing in the next iteration if still readable). */
static void conn_read_at_most(eddy_conn_t *c, size_t max_reads)
{
    if (c->state == CONN_OPEN && !c->paused && eddy_buf_len(&c->in)) deliver_buffered(c);
    for (size_t i = 0; i < max_reads; i++) {
        bool reading = c->state == CONN_FLUSHING || c->state == CONN_LINGERING ||
                       (c->state == CONN_OPEN && !c->paused);
        if (!c->readable || !reading) return;
        size_t room;
        bool scratch;
        char *buf = read_target(c, &room, &scratch);
        if (!buf) {
            eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ENOMEM, true);
            return;
        }
        /* recv, not read: a socket's read also walks the file layer
         * (f_pos lock, rw_verify_area, fsnotify), ~1.5 % of an echo's CPU. */
        ssize_t n = recv(c->fd, buf, room, 0);
        if (n > 0) {
            c->bytes_in += (uint64_t)n;
            c->group->stats.bytes_in += (uint64_t)n;
            /* A short read drained the socket: with edge triggering, any later
             * arrival raises a new event, so the EAGAIN read can be skipped —
             * unless a FIN is already pending, which raises none. */
            if ((size_t)n < room && !c->hangup) c->readable = false;
            take_input(c, buf, (size_t)n, scratch);
        } else if (n == 0) {
            peer_eof(c);
            return;
        } else if (errno == EAGAIN) {
            c->readable = false;
            return;
        } else if (errno != EINTR) {
            read_error(c, -errno);
            return;
        }
    }
    schedule_read(c); /* still readable: continue next iteration, after the others */
}

static void conn_read(eddy_conn_t *c)
{
    conn_read_at_most(c, READS_PER_EVENT);
}

/* ---- output --------------------------------------------------------------- */

static void check_watermarks(eddy_conn_t *c)
{
    conn_group_t *g = c->group;
    size_t queued = c->out.bytes;
    if (!c->above_high && queued >= g->high_watermark && queued > 0) {
        c->above_high = true;
        if (g->cbs.on_buffer_full) g->cbs.on_buffer_full(c, g->ud);
    } else if (c->above_high && queued <= g->opts.buffer_low_watermark) {
        c->above_high = false;
        if (g->cbs.on_buffer_empty) g->cbs.on_buffer_empty(c, g->ud);
    }
}

/* A failed write ends the connection, but input that already arrived is
 * still delivered first: all that the kernel holds, not one event's worth
 * (a reset arriving with megabytes of input would otherwise lose most of
 * it). Bounded by what is queued now, so a peer that keeps sending cannot
 * hold the loop here. Every read takes at least INPUT_READ_SIZE bytes when
 * that many are queued; two more see the end (EOF or the error). */
static void write_error(eddy_conn_t *c, int err)
{
    eddy_chain_clear(&c->out);
    c->out_file_bytes = 0;
    if (c->state == CONN_OPEN) {
        int pending = 0;
        if (ioctl(c->fd, FIONREAD, &pending) < 0 || pending < 0) pending = 0;
        c->readable = true;
        conn_read_at_most(c, (size_t)pending / INPUT_READ_SIZE + 2);
    }
    eddy__conn_finish(c, EDDY_CLOSE_ERROR, err, false);
}

/* sendfile has no MSG_NOSIGNAL: writing to a peer that has gone raises
 * SIGPIPE, whose default action kills the process (on a Unix socket at the
 * first write after the peer closed). Block it around the call and take
 * back the one the call raised; an application's own pending SIGPIPE is
 * left alone. Two extra system calls per sendfile of up to SENDFILE_MAX. */
static ssize_t sendfile_nosignal(int out_fd, int in_fd, off_t *off, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    ssize_t w = sendfile(out_fd, in_fd, off, n);
    if (w < 0 && errno == EPIPE && !was_pending) {
        int saved = errno;
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
        errno = saved;
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return w;
}

/* One write system call from the head of the chain. */
static ssize_t write_some(eddy_conn_t *c, bool *file)
{
    eddy_chunk_t *head = c->out.head;
    *file = head->kind == EDDY_CHUNK_FILE;
    if (*file) {
        size_t n = head->len < SENDFILE_MAX ? head->len : SENDFILE_MAX;
        off_t off = head->u.file.offset;
        ssize_t w = sendfile_nosignal(c->fd, head->u.file.fd, &off, n);
        if (w == 0) return errno = EIO, -1; /* the file is shorter than promised */
        return w;
    }
    /* sendmsg rather than writev, for MSG_NOSIGNAL (see sendfile_nosignal). */
    struct iovec iov[WRITEV_MAX_IOV];
    struct msghdr msg = {.msg_iov = iov};
    msg.msg_iovlen = (size_t)eddy_chain_iov(&c->out, iov, WRITEV_MAX_IOV);
    if (msg.msg_iovlen == 1) return send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    return sendmsg(c->fd, &msg, MSG_NOSIGNAL);
}

void eddy__conn_flush(eddy_conn_t *c)
{
    if (c->state != CONN_OPEN && c->state != CONN_FLUSHING) return;
    while (!eddy_chain_empty(&c->out) && !c->write_blocked) {
        bool file;
        ssize_t n = write_some(c, &file);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                c->write_blocked = true;
                break;
            }
            write_error(c, -errno);
            return;
        }
        if (file) c->out_file_bytes -= (size_t)n;
        c->bytes_out += (uint64_t)n;
        c->group->stats.bytes_out += (uint64_t)n;
        c->last_send_time = eddy_loop_now(c->loop);
        /* Last: it runs the free functions of finished chunks, which may
         * look at the counters. */
        eddy_chain_consume(&c->out, (size_t)n);
    }
    check_watermarks(c);
    if (c->state == CONN_FLUSHING && eddy_chain_empty(&c->out)) begin_linger(c);
}

static int check_send(eddy_conn_t *c, size_t mem_len)
{
    if (c->state >= CONN_FLUSHING || c->close_requested) return -EDDY_ECLOSING;
    size_t mem = c->out.bytes - c->out_file_bytes;
    if (mem_len > c->group->opts.socket_buffer_size - mem ||
        mem > c->group->opts.socket_buffer_size)
        return -EDDY_EOUTPUT_FULL;
    return 0;
}

static void queued(eddy_conn_t *c)
{
    check_watermarks(c);
    if (c->state == CONN_OPEN) eddy__writer_mark(c);
}

int eddy_send(eddy_conn_t *c, const void *data, size_t len)
{
    int rc = check_send(c, len);
    if (rc == 0) rc = eddy__writer_append(c, data, len);
    if (rc == 0) queued(c);
    return rc;
}

int eddy_send_owned(eddy_conn_t *c, void *data, size_t len, eddy_free_fn free_fn, void *ud)
{
    int rc = check_send(c, len);
    if (rc == 0) rc = eddy_chain_append_owned(&c->out, data, len, free_fn, ud);
    if (rc == 0) queued(c);
    return rc;
}

int eddy_sendfile(eddy_conn_t *c, int fd, off_t offset, size_t len)
{
    int rc = check_send(c, 0);
    if (rc < 0) return rc;
    if (offset < 0) return -EINVAL;
    if (len == 0) {
        struct stat st;
        if (fstat(fd, &st) < 0) return -errno;
        if (offset >= st.st_size) return 0;
        len = (size_t)(st.st_size - offset);
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return -errno;
    rc = eddy_chain_append_file(&c->out, dup_fd, offset, len, true);
    if (rc < 0) {
        close(dup_fd);
        return rc;
    }
    c->out_file_bytes += len;
    queued(c);
    return 0;
}

/* ---- events ---------------------------------------------------------------- */

static void connect_result(eddy_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
        eddy__conn_connected(c);
        return;
    }
    eddy__conn_finish(c, EDDY_CLOSE_ERROR, -err, false);
}

void eddy__conn_io_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    eddy_conn_t *c = ud;
    if (c->state == CONN_CONNECTING) {
        if (events & (EDDY_WRITABLE | EDDY_ERRORED | EDDY_HANGUP)) connect_result(c);
        return;
    }
    if (events & (EDDY_HANGUP | EDDY_ERRORED)) c->hangup = true;
    if (events & (EDDY_READABLE | EDDY_HANGUP | EDDY_ERRORED)) {
        c->readable = true;
        conn_read(c);
    }
    if ((events & (EDDY_WRITABLE | EDDY_ERRORED)) && c->write_blocked) {
        c->write_blocked = false;
        eddy__conn_flush(c);
    }
}

int eddy_pause(eddy_conn_t *c)
{
    if (c->state != CONN_OPEN) return -EDDY_ECLOSING;
    c->paused = true;
    return 0;
}

int eddy_conn_unread(eddy_conn_t *c)
{
    if (c->state != CONN_OPEN) return -EDDY_ECLOSING;
    c->unread = true;
    c->paused = true;
    return 0;
}

eddy_packet_part_t eddy_conn_packet_part(const eddy_conn_t *c)
{
    return (eddy_packet_part_t)c->frame.part;
}

int eddy_conn_defer_errors(eddy_conn_t *c, bool on)
{
    if (c->state != CONN_OPEN) return -EDDY_ECLOSING;
    c->defer_errors = on;
    if (on) return 0;
    if (c->deferred_err) {
        int err = c->deferred_err;
        c->deferred_err = 0;
        c->group->stats.framing_errors++;
        frame_error(c, err);
        return 0;
    }
    frame_waiting(c, eddy_buf_len(&c->in), false); /* a 100 Continue held back */
    return 0;
}

int eddy_resume(eddy_conn_t *c)
{
    if (c->state != CONN_OPEN) return -EDDY_ECLOSING;
    if (!c->paused) return 0;
    c->paused = false;
    schedule_read(c); /* buffered packets first, then the socket */
    return 0;
}

/* ---- accessors -------------------------------------------------------------- */

void eddy_conn_set_data(eddy_conn_t *c, void *data)
{
    c->data = data;
}

void *eddy_conn_data(const eddy_conn_t *c)
{
    return c->data;
}

uint64_t eddy_conn_id(const eddy_conn_t *c)
{
    return c->id;
}

eddy_loop_t *eddy_conn_loop(const eddy_conn_t *c)
{
    return c->loop;
}

eddy_listener_t *eddy_conn_listener(const eddy_conn_t *c)
{
    return c->group->listener;
}

const eddy_addr_t *eddy_conn_peer(const eddy_conn_t *c)
{
    return &c->peer;
}

int eddy_conn_fd(const eddy_conn_t *c)
{
    return c->fd;
}

void eddy_conn_protect(eddy_conn_t *c, bool on)
{
    c->protected_ = on;
    if (!on && c->state == CONN_OPEN) touch(c);
}

size_t eddy_conn_queued(const eddy_conn_t *c)
{
    return c->out.bytes;
}

bool eddy_conn_closing(const eddy_conn_t *c)
{
    return c->state >= CONN_FLUSHING || c->close_requested;
}

void eddy_conn_info(const eddy_conn_t *c, eddy_conn_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->peer = c->peer;
    if (c->fd >= 0) {
        out->local.len = sizeof out->local.u;
        if (getsockname(c->fd, &out->local.u.sa, &out->local.len) < 0) out->local.len = 0;
    }
    eddy_conn_counters(c, out);
}

void eddy_conn_counters(const eddy_conn_t *c, eddy_conn_info_t *out)
{
    out->id = c->id;
    out->fd = c->fd;
    out->connect_time = c->connect_time;
    out->last_recv_time = c->last_recv_time;
    out->last_send_time = c->last_send_time;
    out->bytes_in = c->bytes_in;
    out->bytes_out = c->bytes_out;
    out->queued_bytes = c->out.bytes;
}

int eddy__socket_apply_options(int fd, const eddy_port_options_t *o, bool tcp)
{
    if (!tcp) return 0;
    int one = 1;
    if (o->tcp_nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o->tcp_keepalive) {
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (o->tcp_keepidle)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o->tcp_keepidle, sizeof o->tcp_keepidle);
        if (o->tcp_keepinterval)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &o->tcp_keepinterval,
                       sizeof o->tcp_keepinterval);
        if (o->tcp_keepcount)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &o->tcp_keepcount, sizeof o->tcp_keepcount);
    }
    return 0;
}
