/*
 * eddy/conn.h — stream connections and how they close.
 *
 * An eddy_conn_t is one TCP or Unix stream connection, accepted by a listener
 * (eddy/listener.h) or opened by eddy_connect (eddy/client.h). It reads into
 * an input buffer, cuts packets with the port's framing and hands each to
 * on_receive; what the application sends is queued in order — copied memory,
 * memory handed over, file ranges — and written with writev and sendfile at
 * the end of the loop iteration, so replies to pipelined requests leave in one
 * system call.
 *
 * Closing keeps eddy's first promise: data queued before a close is
 * delivered, or the close is reported as failed.
 *   eddy_close()  graceful: input stops being delivered (it is read and
 *                 discarded), all queued output is written, FIN is sent, the
 *                 peer's FIN is awaited for linger_timeout (discarding at most
 *                 linger_max_bytes) so the kernel never answers with RST,
 *                 then the socket is closed. If the peer stops reading and
 *                 the output cannot be written within close_flush_timeout,
 *                 the connection is reset and on_close says so.
 *   eddy_reset()  abortive: RST at once, queued output discarded.
 * A peer's FIN while output is queued: the output is written, then the
 * connection closes gracefully — unless the port sets half_close, in which
 * case on_half_close runs and the application may keep sending.
 * On a hangup or error eddy first reads and delivers everything the kernel
 * still holds, then reports the close.
 *
 * Lifetime: the conn pointer is valid from on_connect until on_close returns;
 * eddy frees it right after. on_close runs exactly once per connection that
 * on_connect announced — and also for a client connection that never
 * connected — always from the loop, never from inside an eddy_* call.
 * After a close has begun every send fails with -EDDY_ECLOSING.
 */
#ifndef EDDY_CONN_H
#define EDDY_CONN_H

#include <stdbool.h>

#include "addr.h"
#include "buf.h"
#include "common.h"
#include "framing.h"

/* How a connection ended. The on_close err argument adds detail: 0 when all
 * went well, else a negative code (see each reason). */
typedef enum eddy_close_reason {
    /* eddy_close() completed: output written, FIN exchanged. err is 0, or the
     * cause when eddy itself began the close: -ETIMEDOUT (idle eviction),
     * -EDDY_EPACKET_TOO_BIG, -EDDY_EBADLEN (framing), -ECANCELED (shutdown). */
    EDDY_CLOSE_GRACEFUL,
    /* The peer closed first; everything queued was written. */
    EDDY_CLOSE_PEER,
    /* eddy_reset(): RST sent, queued output discarded. */
    EDDY_CLOSE_RESET,
    /* The peer did not read: output could not be written within
     * close_flush_timeout; the connection was reset, output lost (err -ETIMEDOUT). */
    EDDY_CLOSE_FLUSH_TIMEOUT,
    /* Output written and FIN sent, but no FIN came back within linger_timeout
     * (or more than linger_max_bytes arrived). err is 0 if the peer's kernel
     * had acknowledged every byte, -EDDY_ELINGER if some was unacknowledged. */
    EDDY_CLOSE_LINGER_TIMEOUT,
    /* A socket error ended it (err: -ECONNRESET, -EPIPE, -ETIMEDOUT,
     * -ECONNREFUSED, -EDDY_ERESOLVE ...); queued output was lost. */
    EDDY_CLOSE_ERROR,
} eddy_close_reason_t;

#define EDDY_CLOSE_REASON_COUNT 6

/* "graceful", "peer", "reset", "flush_timeout", "linger_timeout", "error" */
EDDY_EXPORT const char *eddy_close_reason_name(eddy_close_reason_t reason);

/* Callbacks of a port or client. Any may be NULL. ud is the pointer given to
 * eddy_listen / eddy_connect. */
typedef struct eddy_conn_callbacks {
    void (*on_connect)(eddy_conn_t *c, void *ud);
    /* One packet (or, in raw mode, the bytes read). data is valid only during
     * the call. */
    void (*on_receive)(eddy_conn_t *c, const char *data, size_t len, void *ud);
    void (*on_close)(eddy_conn_t *c, eddy_close_reason_t reason, int err, void *ud);
    /* Queued output crossed buffer_high_watermark (upwards). */
    void (*on_buffer_full)(eddy_conn_t *c, void *ud);
    /* Queued output fell to buffer_low_watermark after a buffer_full. */
    void (*on_buffer_empty)(eddy_conn_t *c, void *ud);
    /* The peer shut down its sending side (half_close ports only). */
    void (*on_half_close)(eddy_conn_t *c, void *ud);
    /* A datagram on a udp:// listener. */
    void (*on_packet)(eddy_listener_t *l, const char *data, size_t len, const eddy_addr_t *from,
                      void *ud);
} eddy_conn_callbacks_t;

typedef struct eddy_conn_info {
    uint64_t id; /* unique within the process, never reused */
    int fd;
    eddy_addr_t peer;
    eddy_addr_t local;
    uint64_t connect_time; /* loop clock (ms) */
    uint64_t last_recv_time;
    uint64_t last_send_time;
    uint64_t bytes_in;
    uint64_t bytes_out;
    size_t queued_bytes; /* output not yet written (memory and files) */
} eddy_conn_info_t;

/* Queue a copy of data. Returns 0, -EDDY_ECLOSING after a close began,
 * -EDDY_EOUTPUT_FULL if the queued memory would exceed socket_buffer_size
 * (nothing is queued), or -ENOMEM. */
EDDY_EXPORT int eddy_send(eddy_conn_t *c, const void *data, size_t len);
/* Queue data without copying; free_fn(data, ud) runs once it is written or
 * discarded. On error nothing is queued and the caller still owns data. */
EDDY_EXPORT int eddy_send_owned(eddy_conn_t *c, void *data, size_t len, eddy_free_fn free_fn,
                                void *ud);
/* Queue len bytes of the file fd from offset (len 0: to the end of the file).
 * eddy duplicates fd; the caller may close its own at once. File ranges do
 * not count against socket_buffer_size. */
EDDY_EXPORT int eddy_sendfile(eddy_conn_t *c, int fd, off_t offset, size_t len);
/* Begin a graceful close (see above). Idempotent: 0, or -EDDY_ECLOSING if a
 * close has already begun. */
EDDY_EXPORT int eddy_close(eddy_conn_t *c);
/* Reset the connection at once (RST), discarding queued output. */
EDDY_EXPORT int eddy_reset(eddy_conn_t *c);
/* Stop / restart reading (back-pressure towards the peer). */
EDDY_EXPORT int eddy_pause(eddy_conn_t *c);
EDDY_EXPORT int eddy_resume(eddy_conn_t *c);
/* Inside on_receive only: give the packet back. It stays at the front of
 * the input, reading pauses as with eddy_pause, and the same packet is
 * delivered again after eddy_resume — back-pressure for a consumer that
 * cannot take it now (the PROCESS-mode reactor uses it when a worker's
 * queue is full). Returns 0 or -EDDY_ECLOSING. */
EDDY_EXPORT int eddy_conn_unread(eddy_conn_t *c);
/* Inside on_receive: what the packet is — EDDY_PACKET_WHOLE, or a part of
 * a streamed HTTP request (eddy_framing_t.http_stream_max_body). */
EDDY_EXPORT eddy_packet_part_t eddy_conn_packet_part(const eddy_conn_t *c);
/* While on, a framing error does not answer and close at once: reading
 * stops at the bad packet, and its reply (e.g. HTTP 400) and graceful close
 * follow when this is turned off — so the answers to the packets before it,
 * still being worked on, leave first. HTTP "100 Continue" waits the same
 * way. For an owner whose answers come later than on_receive (the
 * PROCESS-mode reactor). Returns 0 or -EDDY_ECLOSING. */
EDDY_EXPORT int eddy_conn_defer_errors(eddy_conn_t *c, bool on);

EDDY_EXPORT void eddy_conn_set_data(eddy_conn_t *c, void *data);
EDDY_EXPORT void *eddy_conn_data(const eddy_conn_t *c);
EDDY_EXPORT uint64_t eddy_conn_id(const eddy_conn_t *c);
EDDY_EXPORT eddy_loop_t *eddy_conn_loop(const eddy_conn_t *c);
/* The listener that accepted c, or NULL for a client connection. */
EDDY_EXPORT eddy_listener_t *eddy_conn_listener(const eddy_conn_t *c);
EDDY_EXPORT const eddy_addr_t *eddy_conn_peer(const eddy_conn_t *c);
EDDY_EXPORT void eddy_conn_info(const eddy_conn_t *c, eddy_conn_info_t *out);
/* Only what changes: id, fd, times, bytes and queued_bytes; peer and local
 * are left as they are. No system call (eddy_conn_info asks the kernel for
 * the local address), for refreshing a copy per packet. */
EDDY_EXPORT void eddy_conn_counters(const eddy_conn_t *c, eddy_conn_info_t *out);
EDDY_EXPORT size_t eddy_conn_queued(const eddy_conn_t *c);
/* The socket descriptor (-1 once closed). Do not read, write or close it. */
EDDY_EXPORT int eddy_conn_fd(const eddy_conn_t *c);
/* Exempt c from heartbeat eviction (on), or make it subject again with a
 * fresh idle period (off). */
EDDY_EXPORT void eddy_conn_protect(eddy_conn_t *c, bool on);
EDDY_EXPORT bool eddy_conn_closing(const eddy_conn_t *c);

#endif
