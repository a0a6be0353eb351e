/*
 * The message layer between the server's processes: inboxes, batched and
 * chunked datagrams, reassembly, back-pressure and a blocking wait. The
 * design and who owns what are described in ipc.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "ipc.h"

_Static_assert(sizeof(ipc_header_t) == IPC_HEADER_SIZE, "ipc_header_t is 32 bytes on the wire");
_Static_assert(IPC_MAX_MSG <= UINT32_MAX, "total_len is 32 bits");

/* Set in a received record (in our buffer, never on the wire) that
 * eddy__ipc_wait took out of the datagram being delivered. */
#define F_TAKEN 0x8000u

#define SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

/* A datagram of packed records, or one large message written as chunks. */
typedef struct out_item {
    struct out_item *next;
    bool large;
    char *buf;        /* records; or the payload of the large message */
    size_t len;       /* bytes used in buf; or the payload length */
    size_t cap;       /* size of buf (records) */
    size_t off;       /* payload bytes written (large) */
    uint32_t nmsgs;   /* messages in the item */
    ipc_header_t hdr; /* large: the header, its offset set per chunk */
} out_item_t;

typedef struct ipc_dest {
    ipc_t *ipc;
    int fd; /* the slot's send end */
    out_item_t *head, *tail;
    size_t queued; /* bytes not yet written, headers included */
    bool watching; /* EDDY_WRITABLE watcher on fd */
    bool listed;   /* in ipc->dirty */
} ipc_dest_t;

/* A large message being reassembled; one at most per sender (a process
 * and the slot it sends as), since a sender writes a message's chunks in a
 * row. */
typedef struct partial {
    pid_t pid;
    int32_t slot;
    uint32_t msg_id;
    uint32_t total, got;
    char *buf;
    uint64_t last_ms;       /* when the last chunk came */
    uint64_t checked_ms;    /* when its pid was last looked up */
    uint64_t suspect_epoch; /* != 0: drop once drain_epoch reaches it */
} partial_t;

/* A message eddy__ipc_wait received but did not want, kept for on_message. */
typedef struct pending {
    struct pending *next;
    ipc_msg_t msg;
    char *owned; /* a reassembled payload; else the payload is data[] */
    char data[];
} pending_t;

typedef struct wait_ctx {
    ipc_match_fn match;
    void *ud;
    ipc_msg_t *out;
    bool found;
    int err;
} wait_ctx_t;

struct ipc {
    eddy_loop_t *loop;
    int n;
    int self;
    int recv_fd;
    pid_t pid;
    size_t max_queued;
    ipc_message_cb cb;
    void *ud;
    uint32_t next_msg_id;

    ipc_dest_t *dests;
    int *dirty; /* slots with something queued */
    int ndirty;
    int64_t kick_timer;    /* 0 ms: write the batches, deliver kept messages */
    int64_t partial_timer; /* ticks while partial messages exist */

    bool reading;  /* the inbox watcher is on */
    bool stopping; /* eddy__ipc_stop_receiving: stop at the next message boundary */
    bool closed;
    int busy; /* callbacks on the stack; the memory waits for 0 */

    char *rbuf; /* for on_message delivery */
    char *wbuf; /* for eddy__ipc_wait inside on_message */
    char *cur;  /* the datagram being delivered, and where its next record is */
    size_t cur_len, cur_pos;

    partial_t *partials;
    size_t npartials, partials_cap;
    uint64_t drain_epoch; /* times the inbox was read empty */
    pid_t hot_pid;        /* sender of the partial that grew last */
    int32_t hot_slot;

    pending_t *pend_head, *pend_tail;

    /* Datagram buffers kept from sent items: a busy sender fills one per
     * iteration, and allocating it anew each time (growing it by doubling,
     * then freeing it at the heap's top) cost a brk system call per batch
     * in PROCESS-mode workers. */
    out_item_t *spares;
    int nspares;

    struct pollfd *pfds; /* n + 1 */
    int *pslot;          /* the slot of pfds[i + 1] */
    ipc_stats_t stats;
};

static void destroy(ipc_t *ipc);
static void on_kick(eddy_loop_t *loop, int64_t id, void *ud);
static void on_writable(eddy_loop_t *loop, int fd, unsigned events, void *ud);

static size_t align8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static bool would_block(int err)
{
    /* ENOBUFS and ENOMEM: the kernel could not allocate the skb now. */
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM;
}

static void leave(ipc_t *ipc)
{
    if (--ipc->busy == 0 && ipc->closed) destroy(ipc);
}

/* ---- inboxes ------------------------------------------------------------- */

int eddy__ipc_inbox_create(ipc_inbox_t *ib)
{
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) < 0) return -errno;
    /* Only the send end's buffer counts for a socketpair: it bounds the bytes
     * in flight (SO_RCVBUF is not looked at). The kernel caps the value at
     * net.core.wmem_max; the default (208 KiB) already takes 64 KiB. */
    int size = IPC_SNDBUF, got = 0;
    socklen_t len = sizeof got;
    (void)setsockopt(fd[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (getsockopt(fd[1], SOL_SOCKET, SO_SNDBUF, &got, &len) == 0 &&
        (size_t)got < 2 * IPC_DGRAM_MAX) {
        close(fd[0]);
        close(fd[1]);
        return -EMSGSIZE; /* a chunk would not fit */
    }
    ib->fd[0] = fd[0];
    ib->fd[1] = fd[1];
    return 0;
}

void eddy__ipc_inbox_close(ipc_inbox_t *ib)
{
    for (int i = 0; i < 2; i++) {
        if (ib->fd[i] >= 0) close(ib->fd[i]);
        ib->fd[i] = -1;
    }
}

/* ---- sending ------------------------------------------------------------- */

static void item_free(out_item_t *t)
{
    free(t->buf);
    free(t);
}

/* A sent or dropped item: keep a records buffer for the next datagram (it
 * keeps the size it grew to, at most IPC_DGRAM_MAX). */
static void item_release(ipc_t *ipc, out_item_t *t)
{
    if (t->large || ipc->nspares >= IPC_SPARE_ITEMS) {
        item_free(t);
        return;
    }
    t->next = ipc->spares;
    ipc->spares = t;
    ipc->nspares++;
}

/* A new records item, empty: a kept one if there is one. */
static out_item_t *item_new(ipc_t *ipc)
{
    out_item_t *t = ipc->spares;
    if (!t) return calloc(1, sizeof *t);
    ipc->spares = t->next;
    ipc->nspares--;
    t->next = NULL;
    t->len = 0;
    t->nmsgs = 0;
    return t;
}

static bool fits(const ipc_t *ipc, const ipc_dest_t *d, size_t n)
{
    return n <= ipc->max_queued && d->queued <= ipc->max_queued - n;
}

static void push_item(ipc_dest_t *d, out_item_t *t)
{
    if (d->tail)
        d->tail->next = t;
    else
        d->head = t;
    d->tail = t;
}

/* Append one record to the open datagram of d, or start a new one. */
static int queue_small(ipc_t *ipc, ipc_dest_t *d, const ipc_header_t *h, const void *data,
                       size_t len)
{
    size_t rec = IPC_HEADER_SIZE + len;
    out_item_t *t = d->tail;
    bool append = t && !t->large && align8(t->len) + rec <= IPC_DGRAM_MAX;
    size_t at = append ? align8(t->len) : 0;
    size_t grow = append ? at + rec - t->len : rec;
    if (!fits(ipc, d, grow)) return -EDDY_EOUTPUT_FULL;
    if (!append && !(t = item_new(ipc))) return -ENOMEM;
    if (at + rec > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < at + rec)
            cap *= 2;
        if (cap > IPC_DGRAM_MAX) cap = IPC_DGRAM_MAX;
        char *b = realloc(t->buf, cap);
        if (!b) {
            if (!append) free(t);
            return -ENOMEM;
        }
        t->buf = b;
        t->cap = cap;
    }
    memset(t->buf + t->len, 0, at - t->len); /* padding: no uninitialised bytes on the wire */
    memcpy(t->buf + at, h, IPC_HEADER_SIZE);
    if (len) memcpy(t->buf + at + IPC_HEADER_SIZE, data, len);
    t->len = at + rec;
    t->nmsgs++;
    if (!append) push_item(d, t);
    d->queued += grow;
    return 0;
}

static size_t large_cost(size_t len)
{
    return len + (len + IPC_CHUNK_MAX - 1) / IPC_CHUNK_MAX * IPC_HEADER_SIZE;
}

static int queue_large(ipc_t *ipc, ipc_dest_t *d, const ipc_header_t *h, const void *data,
                       size_t len)
{
    size_t cost = large_cost(len);
    if (!fits(ipc, d, cost)) return -EDDY_EOUTPUT_FULL;
    out_item_t *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    if (!(t->buf = malloc(len))) {
        free(t);
        return -ENOMEM;
    }
    memcpy(t->buf, data, len);
    t->large = true;
    t->len = len;
    t->nmsgs = 1;
    t->hdr = *h;
    push_item(d, t);
    d->queued += cost;
    return 0;
}

/* Write d's queue in order until it is empty or the socket pushes back.
 * 0 or -errno. */
static int write_dest(ipc_t *ipc, ipc_dest_t *d)
{
    out_item_t *t;
    while ((t = d->head)) {
        if (!t->large) {
            ssize_t n = send(d->fd, t->buf, t->len, SEND_FLAGS);
            if (n < 0) {
                if (errno == EINTR) continue;
                return -errno;
            }
            ipc->stats.datagrams_sent++;
            d->queued -= t->len;
        } else {
            while (t->off < t->len) {
                size_t chunk = min_size(t->len - t->off, IPC_CHUNK_MAX);
                t->hdr.offset = (uint32_t)t->off;
                struct iovec iov[2] = {{&t->hdr, IPC_HEADER_SIZE}, {t->buf + t->off, chunk}};
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
                ssize_t n = sendmsg(d->fd, &mh, SEND_FLAGS);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    return -errno;
                }
                ipc->stats.datagrams_sent++;
                t->off += chunk;
                d->queued -= chunk + IPC_HEADER_SIZE;
            }
        }
        d->head = t->next;
        if (!d->head) d->tail = NULL;
        item_release(ipc, t);
    }
    return 0;
}

static void drop_queue(ipc_t *ipc, ipc_dest_t *d)
{
    while (d->head) {
        out_item_t *t = d->head;
        d->head = t->next;
        ipc->stats.send_dropped += t->nmsgs;
        item_release(ipc, t);
    }
    d->tail = NULL;
    d->queued = 0;
}

static void arm_kick(ipc_t *ipc, uint64_t ms)
{
    if (ipc->kick_timer || ipc->closed) return;
    int64_t id = eddy_timer_after(ipc->loop, ms, on_kick, ipc);
    if (id > 0) ipc->kick_timer = id;
}

/* Write d's queue; while the socket pushes back, watch it for room.
 * 0, -EAGAIN (something is still queued), or the error that made d's queue
 * be dropped. */
static int service_dest(ipc_t *ipc, ipc_dest_t *d)
{
    int rc = write_dest(ipc, d);
    if (rc < 0 && would_block(-rc)) {
        ipc->stats.send_blocked++;
        if (!d->watching && !ipc->closed) {
            if (eddy_io_add(ipc->loop, d->fd, EDDY_WRITABLE, on_writable, d) == 0)
                d->watching = true;
            else
                arm_kick(ipc, 10); /* cannot watch (no memory): try again soon */
        }
        return -EAGAIN;
    }
    if (rc < 0) drop_queue(ipc, d);
    if (d->watching) {
        eddy_io_remove(ipc->loop, d->fd);
        d->watching = false;
    }
    return rc;
}

/* Write every destination's queue (those waiting for room too if all).
 * Returns the first hard error, or 0. */
static int flush_all(ipc_t *ipc, bool all)
{
    int first = 0, k = 0;
    for (int i = 0; i < ipc->ndirty; i++) {
        ipc_dest_t *d = &ipc->dests[ipc->dirty[i]];
        if (d->head && (all || !d->watching)) {
            int rc = service_dest(ipc, d);
            if (rc < 0 && rc != -EAGAIN && !first) first = rc;
        }
        if (d->head)
            ipc->dirty[k++] = ipc->dirty[i];
        else
            d->listed = false;
    }
    ipc->ndirty = k;
    return first;
}

static void on_writable(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    ipc_dest_t *d = ud;
    ipc_t *ipc = d->ipc;
    ipc->busy++;
    service_dest(ipc, d);
    leave(ipc);
}

int eddy__ipc_send(ipc_t *ipc, int dst_slot, uint16_t type, uint64_t id, const void *data,
                   size_t len)
{
    if (!ipc || ipc->closed) return -EDDY_ESTATE;
    if (dst_slot < 0 || dst_slot >= ipc->n || ipc->dests[dst_slot].fd < 0) return -EINVAL;
    if (len > IPC_MAX_MSG) return -EDDY_EPACKET_TOO_BIG;
    if (len > 0 && !data) return -EINVAL;
    ipc_dest_t *d = &ipc->dests[dst_slot];
    ipc_header_t h = {
        .type = type,
        .src_slot = ipc->self,
        .src_pid = (uint32_t)ipc->pid,
        .msg_id = ipc->next_msg_id,
        .id = id,
        .total_len = (uint32_t)len,
    };
    int rc = len <= IPC_CHUNK_MAX ? queue_small(ipc, d, &h, data, len)
                                  : queue_large(ipc, d, &h, data, len);
    if (rc < 0) return rc;
    ipc->next_msg_id++;
    ipc->stats.messages_sent++;
    if (!d->listed) {
        d->listed = true;
        ipc->dirty[ipc->ndirty++] = dst_slot;
    }
    arm_kick(ipc, 0);
    /* No timer (no memory): write now rather than leave it until later. */
    if (!ipc->kick_timer && !d->watching) service_dest(ipc, d);
    return 0;
}

static int deadline_ms(uint64_t deadline)
{
    if (deadline == UINT64_MAX) return -1;
    uint64_t now = eddy_clock_ms();
    if (now >= deadline) return 0;
    return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

static uint64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : eddy_clock_ms() + (uint64_t)timeout_ms;
}

/* pfds[1..] = the destinations with something queued, POLLOUT. */
static int poll_dests(ipc_t *ipc)
{
    int np = 0;
    for (int i = 0; i < ipc->ndirty; i++) {
        ipc_dest_t *d = &ipc->dests[ipc->dirty[i]];
        if (!d->head) continue;
        ipc->pfds[1 + np] = (struct pollfd){.fd = d->fd, .events = POLLOUT};
        ipc->pslot[np++] = ipc->dirty[i];
    }
    return np;
}

/* Service the destinations poll found writable; returns the first hard error. */
static int service_polled(ipc_t *ipc, int np)
{
    int first = 0;
    for (int i = 0; i < np; i++) {
        if (!ipc->pfds[1 + i].revents) continue;
        int rc = service_dest(ipc, &ipc->dests[ipc->pslot[i]]);
        if (rc < 0 && rc != -EAGAIN && !first) first = rc;
    }
    return first;
}

int eddy__ipc_flush(ipc_t *ipc, int timeout_ms)
{
    if (!ipc || ipc->closed) return -EDDY_ESTATE;
    int err = flush_all(ipc, true);
    uint64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        int np = poll_dests(ipc);
        if (np == 0) return err;
        int wait = deadline_ms(deadline);
        if (wait == 0) return err ? err : timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        int pr = poll(ipc->pfds + 1, (nfds_t)np, wait);
        if (pr < 0 && errno != EINTR) return -errno;
        if (pr > 0) {
            int rc = service_polled(ipc, np);
            if (rc < 0 && !err) err = rc;
        }
        flush_all(ipc, false); /* forget the destinations that are empty now */
    }
}

size_t eddy__ipc_queued(const ipc_t *ipc, int dst_slot)
{
    if (!ipc || dst_slot < 0 || dst_slot >= ipc->n) return 0;
    return ipc->dests[dst_slot].queued;
}

/* ---- receiving ----------------------------------------------------------- */

static bool sender_dead(pid_t pid)
{
    return pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH);
}

/* Remove partials[i] (order does not matter); its buffer is the caller's. */
static void remove_partial(ipc_t *ipc, size_t i)
{
    ipc->partials[i] = ipc->partials[--ipc->npartials];
}

static void drop_partial(ipc_t *ipc, size_t i)
{
    free(ipc->partials[i].buf);
    remove_partial(ipc, i);
    ipc->stats.partials_dropped++;
}

/* The inbox was read empty: every chunk a suspect sender wrote before it was
 * found gone has been read, so its partial message will never complete. */
static void drained(ipc_t *ipc)
{
    ipc->drain_epoch++;
    for (size_t i = 0; i < ipc->npartials;) {
        partial_t *p = &ipc->partials[i];
        if (p->suspect_epoch && p->suspect_epoch <= ipc->drain_epoch)
            drop_partial(ipc, i);
        else
            i++;
    }
}

static void suspect(ipc_t *ipc, partial_t *p)
{
    if (!p->suspect_epoch) p->suspect_epoch = ipc->drain_epoch + 1;
}

/* A message (or a first chunk) from h's sender begins: its own unfinished
 * message is abandoned. Another process of the same slot suggests that the
 * slot's previous process is gone: if so, its partial goes once the inbox
 * has been read empty (its last chunks may still be queued behind). */
static void forget_partials(ipc_t *ipc, const ipc_header_t *h)
{
    uint64_t now = eddy_loop_now(ipc->loop);
    for (size_t i = 0; i < ipc->npartials;) {
        partial_t *p = &ipc->partials[i];
        if (p->slot != h->src_slot) {
            i++;
            continue;
        }
        if (p->pid == (pid_t)h->src_pid) {
            drop_partial(ipc, i);
            continue;
        }
        /* Both may be alive for a while (a reload): look the pid up at most
         * once per millisecond, not for every message. */
        if (h->src_slot >= 0 && !p->suspect_epoch && p->checked_ms != now) {
            p->checked_ms = now;
            if (sender_dead(p->pid)) suspect(ipc, p);
        }
        i++;
    }
}

static void read_pass(ipc_t *ipc);

static void on_partial_check(eddy_loop_t *loop, int64_t id, void *ud)
{
    ipc_t *ipc = ud;
    if (ipc->npartials == 0) {
        eddy_timer_clear(loop, ipc->partial_timer);
        ipc->partial_timer = 0;
        return;
    }
    uint64_t now = eddy_loop_now(loop);
    bool any = false;
    for (size_t i = 0; i < ipc->npartials; i++) {
        partial_t *p = &ipc->partials[i];
        if (sender_dead(p->pid) || now - p->last_ms >= IPC_PARTIAL_STALL_MS) {
            suspect(ipc, p);
            any = true;
        }
    }
    if (!any) return;
    /* Read until empty (if the batch allows), which drops them. */
    ipc->busy++;
    read_pass(ipc);
    leave(ipc);
}

static int pend_push(ipc_t *ipc, const ipc_msg_t *m, char *owned)
{
    pending_t *p = malloc(sizeof *p + (owned ? 0 : m->len));
    if (!p) {
        free(owned);
        ipc->stats.receive_dropped++;
        return -ENOMEM;
    }
    p->next = NULL;
    p->msg = *m;
    p->owned = owned;
    if (!owned && m->len) memcpy(p->data, m->data, m->len);
    p->msg.data = owned ? owned : p->data;
    if (ipc->pend_tail)
        ipc->pend_tail->next = p;
    else
        ipc->pend_head = p;
    ipc->pend_tail = p;
    return 0;
}

/* Give m to the waiter; the payload is copied unless owned. */
static bool hand_out(wait_ctx_t *w, const ipc_msg_t *m, char *owned)
{
    char *data = owned;
    if (!data) {
        if (!(data = malloc(m->len ? m->len : 1))) return false;
        memcpy(data, m->data, m->len);
    }
    *w->out = *m;
    w->out->data = data;
    w->found = true;
    return true;
}

/* A whole message: to the waiter, kept for later, or to on_message. owned
 * is a reassembled payload (m->data), freed here or passed on. */
static void got_message(ipc_t *ipc, const ipc_msg_t *m, char *owned, wait_ctx_t *w)
{
    ipc->stats.messages_received++;
    if (w) {
        if (!w->found && w->match(m, w->ud)) {
            if (hand_out(w, m, owned)) return;
            w->found = true; /* no memory for a copy: keep it, fail the wait */
            w->err = -ENOMEM;
        }
        pend_push(ipc, m, owned);
        return;
    }
    if (!ipc->closed && ipc->cb) ipc->cb(ipc, m, ipc->ud);
    free(owned);
}

static ipc_msg_t msg_of(const ipc_header_t *h, const void *data, size_t len)
{
    return (ipc_msg_t){
        .type = h->type,
        .src_slot = h->src_slot,
        .src_pid = (pid_t)h->src_pid,
        .id = h->id,
        .data = data,
        .len = len,
    };
}

/* A chunk of a large message; payload NULL: already in place (recv_dgram). */
static void got_chunk(ipc_t *ipc, const ipc_header_t *h, const char *payload, size_t plen,
                      wait_ctx_t *w)
{
    if (plen == 0) { /* a header at the very end of a datagram: not ours */
        ipc->stats.malformed++;
        return;
    }
    if (h->offset == 0) {
        forget_partials(ipc, h);
        if (ipc->npartials == ipc->partials_cap) {
            size_t cap = ipc->partials_cap ? ipc->partials_cap * 2 : 4;
            partial_t *np = realloc(ipc->partials, cap * sizeof *np);
            if (!np) goto no_memory;
            ipc->partials = np;
            ipc->partials_cap = cap;
        }
        char *buf = malloc(h->total_len);
        if (!buf) goto no_memory;
        memcpy(buf, payload, plen);
        ipc->partials[ipc->npartials++] = (partial_t){
            .pid = (pid_t)h->src_pid,
            .slot = h->src_slot,
            .msg_id = h->msg_id,
            .total = h->total_len,
            .got = (uint32_t)plen,
            .buf = buf,
            .last_ms = eddy_loop_now(ipc->loop),
        };
        ipc->hot_pid = (pid_t)h->src_pid;
        ipc->hot_slot = h->src_slot;
        if (!ipc->partial_timer && !ipc->closed) {
            int64_t id = eddy_timer_tick(ipc->loop, IPC_PARTIAL_CHECK_MS, on_partial_check, ipc);
            if (id > 0) ipc->partial_timer = id;
        }
        return;
    }
    size_t i = 0;
    while (i < ipc->npartials &&
           (ipc->partials[i].pid != (pid_t)h->src_pid || ipc->partials[i].slot != h->src_slot))
        i++;
    partial_t *p = i < ipc->npartials ? &ipc->partials[i] : NULL;
    if (!p || p->msg_id != h->msg_id || p->got != h->offset || p->total != h->total_len) {
        /* The rest of a message whose beginning was dropped, or nonsense. */
        ipc->stats.malformed++;
        if (p) drop_partial(ipc, i);
        return;
    }
    if (payload) memcpy(p->buf + p->got, payload, plen);
    p->got += (uint32_t)plen;
    ipc->hot_pid = p->pid;
    ipc->hot_slot = p->slot;
    p->last_ms = eddy_loop_now(ipc->loop);
    p->suspect_epoch = 0;
    if (p->got < p->total) return;
    char *buf = p->buf;
    remove_partial(ipc, i);
    ipc_msg_t m = msg_of(h, buf, h->total_len);
    got_message(ipc, &m, buf, w);
    return;
no_memory:
    ipc->stats.receive_dropped++; /* its other chunks will count as malformed */
}

static partial_t *hot_partial(ipc_t *ipc)
{
    for (size_t i = 0; i < ipc->npartials; i++)
        if (ipc->partials[i].pid == ipc->hot_pid && ipc->partials[i].slot == ipc->hot_slot)
            return &ipc->partials[i];
    return NULL;
}

/* Read one datagram into buf (IPC_DGRAM_MAX bytes). While a large message
 * is being reassembled its next chunk is the likely next datagram, so the
 * payload part is scattered straight into the reassembly buffer (saving a
 * copy of every chunk) and moved back into buf if the guess was wrong.
 * *in_place: it was right, and the first record's payload is in place.
 * The datagram's length (more than IPC_DGRAM_MAX: truncated), or -errno. */
static ssize_t recv_dgram(ipc_t *ipc, char *buf, bool *in_place)
{
    *in_place = false;
    partial_t *p = ipc->npartials ? hot_partial(ipc) : NULL;
    if (!p) {
        ssize_t n = recv(ipc->recv_fd, buf, IPC_DGRAM_MAX, MSG_DONTWAIT | MSG_TRUNC);
        return n < 0 ? -errno : n;
    }
    size_t l = min_size(IPC_CHUNK_MAX, p->total - p->got);
    struct iovec iov[3] = {
        {buf, IPC_HEADER_SIZE},
        {p->buf + p->got, l}, /* beyond got: nothing there yet */
        {buf + IPC_HEADER_SIZE + l, IPC_DGRAM_MAX - IPC_HEADER_SIZE - l},
    };
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    ssize_t n = recvmsg(ipc->recv_fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return -errno;
    if ((size_t)n > IPC_HEADER_SIZE) {
        ipc_header_t h;
        memcpy(&h, buf, IPC_HEADER_SIZE);
        if ((pid_t)h.src_pid == p->pid && h.src_slot == p->slot && h.msg_id == p->msg_id &&
            h.offset == p->got && h.total_len == p->total) {
            *in_place = true;
            return n;
        }
        memcpy(buf + IPC_HEADER_SIZE, p->buf + p->got, min_size(l, (size_t)n - IPC_HEADER_SIZE));
    }
    return n;
}

/* Parse one datagram. With w, whole messages go to the waiter or are kept;
 * without, to on_message, with ipc->cur_pos tracking the next record so
 * that a wait inside on_message can look at the rest. */
static void parse(ipc_t *ipc, char *buf, size_t len, bool in_place, wait_ctx_t *w)
{
    size_t pos = 0;
    while (pos + IPC_HEADER_SIZE <= len && (w || !ipc->closed)) {
        ipc_header_t h;
        memcpy(&h, buf + pos, IPC_HEADER_SIZE);
        size_t room = len - pos - IPC_HEADER_SIZE;
        if (h.total_len > IPC_MAX_MSG || h.offset > h.total_len) {
            ipc->stats.malformed++;
            return; /* the rest of the datagram cannot be told apart */
        }
        size_t plen = min_size(h.total_len - h.offset, room);
        const char *payload = buf + pos + IPC_HEADER_SIZE;
        size_t next = align8(pos + IPC_HEADER_SIZE + plen);
        if (!w) ipc->cur_pos = next;
        if (!(h.flags & F_TAKEN)) {
            if (h.offset == 0 && plen == h.total_len) {
                if (ipc->npartials) forget_partials(ipc, &h);
                ipc_msg_t m = msg_of(&h, payload, plen);
                got_message(ipc, &m, NULL, w);
            } else {
                got_chunk(ipc, &h, pos == 0 && in_place ? NULL : payload, plen, w);
            }
        }
        pos = next;
    }
}

static void deliver_pending(ipc_t *ipc)
{
    while (ipc->pend_head && !ipc->closed) {
        pending_t *p = ipc->pend_head;
        ipc->pend_head = p->next;
        if (!ipc->pend_head) ipc->pend_tail = NULL;
        if (ipc->cb) ipc->cb(ipc, &p->msg, ipc->ud);
        free(p->owned);
        free(p);
    }
}

/* Deliver kept messages, then read up to IPC_READ_BATCH datagrams. The
 * caller holds ipc->busy. */
/* Stop reading once no message is half-received: its remaining chunks are
 * this process's to read, or the message would be lost. */
static bool stop_now(ipc_t *ipc)
{
    if (!ipc->stopping || !ipc->reading || ipc->npartials > 0) return false;
    eddy_io_remove(ipc->loop, ipc->recv_fd);
    ipc->reading = false;
    return true;
}

static void read_pass(ipc_t *ipc)
{
    deliver_pending(ipc);
    for (int i = 0; i < IPC_READ_BATCH && !ipc->closed && ipc->reading && !stop_now(ipc); i++) {
        bool in_place;
        ssize_t n = recv_dgram(ipc, ipc->rbuf, &in_place);
        if (n < 0) {
            if (n == -EINTR) continue;
            if (n == -EAGAIN || n == -EWOULDBLOCK) drained(ipc);
            return;
        }
        ipc->stats.datagrams_received++;
        if ((size_t)n > IPC_DGRAM_MAX) {
            ipc->stats.malformed++;
            continue;
        }
        ipc->cur = ipc->rbuf;
        ipc->cur_len = (size_t)n;
        ipc->cur_pos = 0;
        parse(ipc, ipc->rbuf, (size_t)n, in_place, NULL);
        ipc->cur = NULL;
        /* A wait inside on_message kept what it read after this datagram. */
        deliver_pending(ipc);
    }
}

static void on_readable(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    ipc_t *ipc = ud;
    ipc->busy++;
    read_pass(ipc);
    leave(ipc);
}

static void on_kick(eddy_loop_t *loop, int64_t id, void *ud)
{
    ipc_t *ipc = ud;
    ipc->kick_timer = 0;
    ipc->busy++;
    flush_all(ipc, false);
    deliver_pending(ipc);
    leave(ipc);
}

/* ---- waiting ------------------------------------------------------------- */

/* The records after the one on_message is being called for. */
static bool take_current(ipc_t *ipc, wait_ctx_t *w)
{
    if (!ipc->cur) return false;
    size_t pos = ipc->cur_pos;
    while (pos + IPC_HEADER_SIZE <= ipc->cur_len) {
        ipc_header_t h;
        memcpy(&h, ipc->cur + pos, IPC_HEADER_SIZE);
        if (h.total_len > IPC_MAX_MSG || h.offset > h.total_len) return false;
        size_t room = ipc->cur_len - pos - IPC_HEADER_SIZE;
        size_t plen = min_size(h.total_len - h.offset, room);
        if (!(h.flags & F_TAKEN) && h.offset == 0 && plen == h.total_len) {
            ipc_msg_t m = msg_of(&h, ipc->cur + pos + IPC_HEADER_SIZE, plen);
            if (w->match(&m, w->ud)) {
                if (!hand_out(w, &m, NULL)) {
                    w->err = -ENOMEM;
                    return true;
                }
                uint16_t flags = h.flags | F_TAKEN;
                memcpy(ipc->cur + pos + offsetof(ipc_header_t, flags), &flags, sizeof flags);
                ipc->stats.messages_received++;
                return true;
            }
        }
        pos = align8(pos + IPC_HEADER_SIZE + plen);
    }
    return false;
}

static bool take_pending(ipc_t *ipc, wait_ctx_t *w)
{
    for (pending_t **pp = &ipc->pend_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        pending_t *p = *pp;
        if (!w->match(&p->msg, w->ud)) continue;
        if (!hand_out(w, &p->msg, p->owned)) {
            w->err = -ENOMEM;
            return true;
        }
        *pp = p->next;
        if (ipc->pend_tail == p) ipc->pend_tail = prev;
        free(p);
        return true;
    }
    return false;
}

int eddy__ipc_wait(ipc_t *ipc, ipc_match_fn match, void *match_ud, int timeout_ms, ipc_msg_t *out)
{
    if (!ipc || !match || !out) return -EINVAL;
    if (ipc->closed || ipc->self < 0) return -EDDY_ESTATE;
    wait_ctx_t w = {.match = match, .ud = match_ud, .out = out};
    uint64_t deadline = deadline_after(timeout_ms);
    flush_all(ipc, true);
    if (take_current(ipc, &w) || take_pending(ipc, &w)) return w.err;
    /* Inside on_message rbuf holds the datagram being delivered. */
    char *buf = ipc->rbuf;
    if (ipc->cur) {
        if (!ipc->wbuf && !(ipc->wbuf = malloc(IPC_DGRAM_MAX))) return -ENOMEM;
        buf = ipc->wbuf;
    }
    int rc = 0;
    for (;;) {
        bool in_place;
        ssize_t n = recv_dgram(ipc, buf, &in_place);
        if (n >= 0) {
            ipc->stats.datagrams_received++;
            if ((size_t)n > IPC_DGRAM_MAX) {
                ipc->stats.malformed++;
                continue;
            }
            parse(ipc, buf, (size_t)n, in_place, &w);
            if (w.found) {
                rc = w.err;
                break;
            }
            continue;
        }
        if (n == -EINTR) continue;
        if (n != -EAGAIN && n != -EWOULDBLOCK) {
            rc = (int)n;
            break;
        }
        drained(ipc);
        int wait = deadline_ms(deadline);
        if (wait == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        ipc->pfds[0] = (struct pollfd){.fd = ipc->recv_fd, .events = POLLIN};
        int np = poll_dests(ipc);
        int pr = poll(ipc->pfds, (nfds_t)np + 1, wait);
        if (pr < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (pr > 0) service_polled(ipc, np);
    }
    if (ipc->pend_head) arm_kick(ipc, 0);
    return rc;
}

typedef struct id_match {
    uint16_t type;
    uint64_t id;
} id_match_t;

static bool match_id(const ipc_msg_t *msg, void *ud)
{
    const id_match_t *m = ud;
    return msg->type == m->type && msg->id == m->id;
}

int eddy__ipc_wait_id(ipc_t *ipc, uint16_t type, uint64_t id, int timeout_ms, ipc_msg_t *out)
{
    id_match_t m = {type, id};
    return eddy__ipc_wait(ipc, match_id, &m, timeout_ms, out);
}

void eddy__ipc_msg_free(ipc_msg_t *msg)
{
    if (!msg) return;
    free((void *)msg->data);
    msg->data = NULL;
    msg->len = 0;
}

/* ---- opening and closing ------------------------------------------------- */

int eddy__ipc_open(ipc_t **out, eddy_loop_t *loop, const ipc_inbox_t *inboxes, int ninboxes,
                   int self_slot, size_t max_queued_bytes, ipc_message_cb on_message, void *ud)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (!loop || !inboxes || ninboxes <= 0 || self_slot < -1 || self_slot >= ninboxes ||
        (self_slot >= 0 && (!on_message || inboxes[self_slot].fd[0] < 0)))
        return -EINVAL;
    ipc_t *ipc = calloc(1, sizeof *ipc);
    if (!ipc) return -ENOMEM;
    ipc->loop = loop;
    ipc->n = ninboxes;
    ipc->self = self_slot;
    ipc->recv_fd = self_slot >= 0 ? inboxes[self_slot].fd[0] : -1;
    ipc->pid = getpid();
    ipc->max_queued = max_queued_bytes ? max_queued_bytes : IPC_DEFAULT_MAX_QUEUED;
    ipc->cb = on_message;
    ipc->ud = ud;
    ipc->next_msg_id = 1;
    size_t n = (size_t)ninboxes;
    ipc->dests = calloc(n, sizeof *ipc->dests);
    ipc->dirty = calloc(n, sizeof *ipc->dirty);
    ipc->pfds = calloc(n + 1, sizeof *ipc->pfds);
    ipc->pslot = calloc(n, sizeof *ipc->pslot);
    if (self_slot >= 0) ipc->rbuf = malloc(IPC_DGRAM_MAX);
    if (!ipc->dests || !ipc->dirty || !ipc->pfds || !ipc->pslot || (self_slot >= 0 && !ipc->rbuf)) {
        destroy(ipc);
        return -ENOMEM;
    }
    for (int i = 0; i < ninboxes; i++)
        ipc->dests[i] = (ipc_dest_t){.ipc = ipc, .fd = inboxes[i].fd[1]};
    if (self_slot >= 0) {
        int rc = eddy_io_add(loop, ipc->recv_fd, EDDY_READABLE, on_readable, ipc);
        if (rc < 0) {
            destroy(ipc);
            return rc;
        }
        ipc->reading = true;
    }
    *out = ipc;
    return 0;
}

const ipc_stats_t *eddy__ipc_stats(const ipc_t *ipc)
{
    return &ipc->stats;
}

static void destroy(ipc_t *ipc)
{
    if (ipc->dests)
        for (int i = 0; i < ipc->n; i++)
            drop_queue(ipc, &ipc->dests[i]);
    for (size_t i = 0; i < ipc->npartials; i++)
        free(ipc->partials[i].buf);
    while (ipc->pend_head) {
        pending_t *p = ipc->pend_head;
        ipc->pend_head = p->next;
        free(p->owned);
        free(p);
    }
    while (ipc->spares) {
        out_item_t *t = ipc->spares;
        ipc->spares = t->next;
        item_free(t);
    }
    free(ipc->partials);
    free(ipc->dests);
    free(ipc->dirty);
    free(ipc->pfds);
    free(ipc->pslot);
    free(ipc->rbuf);
    free(ipc->wbuf);
    free(ipc);
}

void eddy__ipc_close(ipc_t *ipc)
{
    if (!ipc || ipc->closed) return;
    ipc->closed = true;
    if (ipc->reading) eddy_io_remove(ipc->loop, ipc->recv_fd);
    for (int i = 0; i < ipc->n; i++)
        if (ipc->dests[i].watching) eddy_io_remove(ipc->loop, ipc->dests[i].fd);
    if (ipc->kick_timer) eddy_timer_clear(ipc->loop, ipc->kick_timer);
    if (ipc->partial_timer) eddy_timer_clear(ipc->loop, ipc->partial_timer);
    if (ipc->busy == 0) destroy(ipc);
}

void eddy__ipc_stop_receiving(ipc_t *ipc)
{
    if (!ipc || ipc->closed || !ipc->reading) return;
    ipc->stopping = true;
    stop_now(ipc);
}

void eddy__ipc_discard(ipc_t *ipc)
{
    if (ipc) destroy(ipc);
}
