/*
 * Private to server/: the message layer between the server's processes
 * (workers, task workers, the master; later reactor threads).
 *
 * Inboxes. Every process slot has an inbox: a socketpair(AF_UNIX,
 * SOCK_DGRAM) whose fd[0] is read only by the slot's current process and
 * whose fd[1] is shared, over fork, by every process that may send to the
 * slot. Datagrams are atomic and FIFO per sender, so a process that dies can
 * never leave half a record in anyone's inbox, and the slot's replacement
 * simply goes on reading the same fd[0]. A socketpair's datagrams are bounded
 * by the send end's SO_SNDBUF only (not by net.unix.max_dgram_qlen); it is
 * raised to IPC_SNDBUF so that a burst of large chunks stays in flight.
 *
 * Records. A datagram holds one or more records: a 32-byte ipc_header_t and
 * its payload, each record starting 8-byte aligned. A record's payload is
 * min(total_len - offset, bytes left in the datagram), so no length field is
 * needed. Messages up to IPC_CHUNK_MAX bytes are one record; larger ones
 * (up to IPC_MAX_MSG) are sent as a run of single-record datagrams of at
 * most IPC_DGRAM_MAX bytes and reassembled by the receiver. A sender is a
 * (pid, src_slot) pair sending through one ipc_t, so its chunks come in a
 * row (msg_id and offset only check that). A partial message is discarded
 * when its sender starts another message, or once the sender's pid is gone
 * (looked up when another process of the same slot sends, and every
 * IPC_PARTIAL_CHECK_MS; or after IPC_PARTIAL_STALL_MS without a chunk) AND
 * the inbox has been read empty since: chunks a sender wrote just before it
 * died are read first. A message from another pid of the same slot alone
 * proves nothing: during a reload both processes live, and the old one's
 * last chunks may be queued behind the new one's first message.
 *
 * Sending. eddy__ipc_send copies. Small messages to one destination are
 * packed into one datagram and written by a 0 ms timer, i.e. at the start of
 * the next iteration before the loop sleeps: a burst costs one system call
 * per destination. (A timer rather than eddy_defer because a timer can be
 * cancelled when the ipc is closed; a queued defer would be left pointing
 * at freed memory.) Large messages follow in order as their chunks. On
 * EAGAIN the rest stays queued per destination and is written when the send
 * end becomes writable; the writable watcher exists only while something is
 * queued. Sending never blocks the loop.
 *
 * Receiving. The slot's process watches fd[0] and calls on_message for each
 * whole message, reading at most IPC_READ_BATCH datagrams per event. While
 * a message is being reassembled, the next datagram is read with its
 * payload scattered straight into the reassembly buffer (moved back if it
 * was something else), so a chunk is copied once in user space, not twice.
 * eddy__ipc_wait blocks on the inbox alone (for taskwait); messages that do
 * not match are kept and delivered in order through on_message afterwards.
 *
 * Ownership. The inboxes belong to whoever created them (the server):
 * eddy__ipc_open copies the fds, eddy__ipc_close never closes them. An
 * ipc_t belongs to the process that opened it and to its loop; a forked
 * child that inherited one drops it with eddy__ipc_discard, which frees the
 * memory without touching the loop, the watchers or the queued messages.
 * Message data given to on_message is valid during the call only; the
 * message eddy__ipc_wait returns is the caller's, freed with
 * eddy__ipc_msg_free. An ipc_t is used on its loop's thread only; threads
 * that send (reactor threads) open one each, with a slot each, since a
 * sender is known by (pid, slot).
 */
#ifndef EDDY_SERVER_IPC_H
#define EDDY_SERVER_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eddy/loop.h"

#define IPC_HEADER_SIZE        32u
#define IPC_DGRAM_MAX          65536u                            /* bytes per datagram */
#define IPC_CHUNK_MAX          (IPC_DGRAM_MAX - IPC_HEADER_SIZE) /* payload per datagram */
#define IPC_MAX_MSG            (64u * 1024 * 1024)               /* largest message */
#define IPC_SNDBUF             (512 * 1024) /* SO_SNDBUF of an inbox's send end */
#define IPC_READ_BATCH         32           /* datagrams read per readable event (up to 2 MiB) */
#define IPC_DEFAULT_MAX_QUEUED (128u * 1024 * 1024)
#define IPC_PARTIAL_CHECK_MS   250u   /* how often partial messages are checked */
#define IPC_PARTIAL_STALL_MS   60000u /* a partial from a live sender that long silent */
#define IPC_SPARE_ITEMS        8      /* datagram buffers kept for reuse (<= IPC_SNDBUF) */

/* On the wire, in host byte order (both ends are on one machine). */
typedef struct ipc_header {
    uint16_t type;
    uint16_t flags; /* 0 on the wire */
    int32_t src_slot;
    uint32_t src_pid;
    uint32_t msg_id;
    uint64_t id; /* session id, task id ... */
    uint32_t total_len;
    uint32_t offset;
} ipc_header_t;

typedef struct ipc_inbox {
    int fd[2]; /* [0] receive end (the slot's process), [1] send end (everyone) */
} ipc_inbox_t;

typedef struct ipc_msg {
    uint16_t type;
    int32_t src_slot; /* -1: a send-only process */
    pid_t src_pid;
    uint64_t id;
    const void *data; /* never NULL, even when len is 0 */
    size_t len;
} ipc_msg_t;

typedef struct ipc ipc_t;

typedef void (*ipc_message_cb)(ipc_t *ipc, const ipc_msg_t *msg, void *ud);
typedef bool (*ipc_match_fn)(const ipc_msg_t *msg, void *ud);

/* Counters, for tests and statistics. */
typedef struct ipc_stats {
    uint64_t messages_sent;      /* accepted by eddy__ipc_send */
    uint64_t datagrams_sent;     /* send/sendmsg calls that succeeded */
    uint64_t send_blocked;       /* times a destination returned EAGAIN */
    uint64_t send_dropped;       /* queued, then dropped: the destination failed */
    uint64_t messages_received;  /* whole messages delivered or returned by wait */
    uint64_t datagrams_received; /* datagrams read */
    uint64_t partials_dropped;   /* reassemblies abandoned (sender gone) */
    uint64_t receive_dropped;    /* received, lost for lack of memory */
    uint64_t malformed;          /* records or chunks that made no sense, skipped */
} ipc_stats_t;

/* Create an inbox (both ends CLOEXEC and non-blocking). 0 or -errno. */
int eddy__ipc_inbox_create(ipc_inbox_t *ib);
/* Close both ends that are still open (sets them to -1). */
void eddy__ipc_inbox_close(ipc_inbox_t *ib);

/* Open the message layer of this process on loop. inboxes[0..ninboxes) are
 * the slots it may send to; self_slot is the one it reads (-1: send only;
 * then on_message may be NULL). max_queued_bytes bounds what may be queued
 * per destination (0: IPC_DEFAULT_MAX_QUEUED); count in it everything sent
 * in one iteration, since it is queued until the iteration ends. */
int eddy__ipc_open(ipc_t **out, eddy_loop_t *loop, const ipc_inbox_t *inboxes, int ninboxes,
                   int self_slot, size_t max_queued_bytes, ipc_message_cb on_message, void *ud);

/* Queue a copy of data[0..len) for dst_slot. 0; -EINVAL (bad slot);
 * -EDDY_EPACKET_TOO_BIG (len > IPC_MAX_MSG); -EDDY_EOUTPUT_FULL (the
 * destination's queue would pass max_queued_bytes: nothing was queued);
 * -ENOMEM; -EDDY_ESTATE (closed). */
int eddy__ipc_send(ipc_t *ipc, int dst_slot, uint16_t type, uint64_t id, const void *data,
                   size_t len);

/* Write what is queued now. timeout_ms 0 never blocks; > 0 waits up to that
 * long for the destinations to take it (e.g. before exit; the inbox is not
 * read meanwhile); < 0 waits without limit. 0 when nothing is left queued;
 * -EAGAIN (timeout 0) or -ETIMEDOUT when something is; else the first error
 * of a destination that failed (its queue is dropped). */
int eddy__ipc_flush(ipc_t *ipc, int timeout_ms);

/* Bytes queued for dst_slot and not yet written. */
size_t eddy__ipc_queued(const ipc_t *ipc, int dst_slot);

/* Block until a message for which match(msg, match_ud) holds arrives, for at
 * most timeout_ms (< 0: no limit). Flushes pending sends first and keeps
 * writing them while it waits. Messages already received but not yet
 * delivered are looked at first (also those after the current one when
 * called from on_message). Every other message is kept and delivered in
 * order through on_message, the first of them at the next iteration.
 * On 0, *out is the caller's: release it with eddy__ipc_msg_free.
 * -ETIMEDOUT; -EDDY_ESTATE if send only or closed; -errno. */
int eddy__ipc_wait(ipc_t *ipc, ipc_match_fn match, void *match_ud, int timeout_ms, ipc_msg_t *out);
/* eddy__ipc_wait for the first message with this type and id. */
int eddy__ipc_wait_id(ipc_t *ipc, uint16_t type, uint64_t id, int timeout_ms, ipc_msg_t *out);
void eddy__ipc_msg_free(ipc_msg_t *msg);

const ipc_stats_t *eddy__ipc_stats(const ipc_t *ipc);

/* Stop watching, drop what is still queued (flush first to keep it) and
 * free. Safe inside on_message (the memory goes when the callback returns;
 * no further message is delivered). Does not close the inboxes. */
void eddy__ipc_close(ipc_t *ipc);
/* Stop reading the inbox (sending goes on): what is left in it is for the
 * slot's next process. A message whose first chunks were already read is
 * read to its end first, so none is split between two readers. */
void eddy__ipc_stop_receiving(ipc_t *ipc);
/* In a forked child: free an inherited ipc's memory only. Its loop is the
 * parent's (free that separately), and the messages the parent had queued
 * are the parent's to send. */
void eddy__ipc_discard(ipc_t *ipc);

#endif
