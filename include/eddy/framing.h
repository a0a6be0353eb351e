/*
 * eddy/framing.h — splitting a byte stream into packets.
 *
 * A framer is a pure function over bytes: it never reads a socket and never
 * allocates. Given the unconsumed input of a connection it says whether a
 * whole packet starts at its first byte and how long it is. The connection
 * (or a fuzzer, or a test) then consumes exactly that many bytes. Every mode
 * gives identical packets whether the bytes arrive one at a time or many
 * packets in one read; the scan state makes byte-at-a-time arrival linear,
 * not quadratic.
 *
 * Modes (Swoole's option names):
 *   raw                everything buffered is one delivery;
 *   open_eof_check     a delivery ends at the LAST package_eof in the buffer
 *                      that ends within package_max_length (it may hold
 *                      several packets; Swoole checks only the tail, eddy
 *                      finds the last one so a busy stream never stalls);
 *   open_eof_split     one packet per package_eof, the EOF included;
 *   open_length_check  a fixed header holds the body length: the field of
 *                      package_length_type sits at package_length_offset and
 *                      the packet is package_body_offset + value bytes long;
 *                      or a user length function decides.
 *   open_http_protocol one whole HTTP/1.1 request per packet: the head (parsed
 *                      by eddy_http1_parse_request, strictly) and its body —
 *                      Content-Length bytes, or the whole chunked body with
 *                      its trailers, still encoded (or, for uploads, in
 *                      parts: http_stream_max_body below). The limits come
 *                      from the http_* options below and package_max_length (the
 *                      decoded body); a malformed or refused request is an
 *                      error whose HTTP status eddy_frame_error_reply turns
 *                      into the answer the connection sends before it closes.
 * package_max_length bounds every packet (default 2 MiB); a violation is an
 * error the connection answers with a graceful close.
 *
 * HTTP mode in detail. The head is found with eddy_http1_parse_request,
 * resumed with last_len (the state keeps how much was searched), so a head
 * arriving one byte at a time costs linear work; the chunked body is fed to
 * eddy_http1_chunked_parse as it arrives, each byte once. Limits:
 *   http_max_header_size  head, and the trailer section   → 431
 *   http_max_headers      field lines                     → 431
 *   http_max_target_size  request-target                  → 414
 *   package_max_length    Content-Length or decoded body  → 413
 * and the chunk framing (size lines, extensions, CRLFs, trailers) may add at
 * most package_max_length + http_max_header_size bytes to a chunked body
 * (→ 413), so that a body of one-byte chunks cannot make the connection
 * buffer five times the limit. When a head with "Expect: 100-continue" is
 * complete but its body is not, the state's continue_due is set once: the
 * connection then sends "HTTP/1.1 100 Continue" and clears it. A partial head
 * buffered longer than http_header_timeout is answered with 408 and closed,
 * and so is a request whose body stops arriving for http_body_timeout.
 * With http_stream_max_body, a multipart/form-data request (with a
 * Content-Length, or chunked) comes as parts (eddy_packet_part_t): the head
 * as soon as it is complete, then the body in pieces of whatever has
 * arrived, so its size is bounded by http_stream_max_body instead of
 * package_max_length, and nothing of it needs to be buffered whole. A
 * chunked body's pieces are its bytes as sent, still encoded: the decoder
 * runs over them only to find the end (BODY_END is the piece that ends the
 * trailers) and to refuse it as a whole chunked body would be refused, with
 * http_stream_max_body in place of package_max_length (its data, and its
 * framing beyond http_max_header_size); the receiver decodes them. A
 * refusal may then come after some pieces.
 * Whole requests give the same packets and the same refusals however the
 * bytes arrive; only the moment differs for a malformed head that is still
 * incomplete: refused at once when its bytes come together, but when it
 * ends (or reaches a limit) when they trickle in, since a resumed parse
 * only scans for the end of the head (eddy/http1.h).
 */
#ifndef EDDY_FRAMING_H
#define EDDY_FRAMING_H

#include <stdbool.h>

#include "common.h"
#include "http1.h"

#define EDDY_PACKAGE_EOF_MAX    8
#define EDDY_PACKAGE_MAX_LENGTH (2u * 1024 * 1024)
/* http_max_headers may not exceed this: the framer parses into an array of
 * this many headers on its stack (16 KiB). */
#define EDDY_FRAME_HTTP_MAX_HEADERS 512
#define EDDY_HTTP_HEADER_TIMEOUT    30000 /* ms */
#define EDDY_HTTP_BODY_TIMEOUT      60000 /* ms */

typedef enum eddy_frame_mode {
    EDDY_FRAME_RAW,
    EDDY_FRAME_EOF_CHECK,
    EDDY_FRAME_EOF_SPLIT,
    EDDY_FRAME_LENGTH,
    EDDY_FRAME_HTTP,
} eddy_frame_mode_t;

/* A user length function: look at data[0..len) and return the total length
 * of the packet starting there (header included), 0 if more bytes are needed
 * to tell, or a negative error (the connection is then closed). len is capped
 * at package_max_length; once it returns a length it is not called again for
 * that packet. Its answer must not change as bytes are added (a prefix that
 * gives a length gives the same length when longer). */
typedef ssize_t (*eddy_length_fn)(const char *data, size_t len, void *ud);

typedef struct eddy_framing {
    eddy_frame_mode_t mode;
    char package_eof[EDDY_PACKAGE_EOF_MAX];
    size_t package_eof_len;
    char package_length_type; /* c C s S n N v V l L q Q */
    size_t package_length_offset;
    size_t package_body_offset;
    eddy_length_fn length_fn; /* overrides the type/offset fields when set */
    void *length_ud;
    size_t package_max_length;
    /* HTTP mode (open_http_protocol) */
    size_t http_max_header_size;  /* "http_max_header_size", 64 KiB */
    size_t http_max_headers;      /* "http_max_headers", 100 (1 .. 512) */
    size_t http_max_target_size;  /* "http_max_target_size", 8 KiB */
    uint64_t http_header_timeout; /* "http_header_timeout", ms, 30000; 0 = off */
    uint64_t http_body_timeout;   /* "http_body_timeout", ms between two reads of a
                                     request body, 60000 (nginx's client_body_timeout);
                                     0 = off */
    /* 0 (off) by default; eddy_http_listen sets it: a multipart/form-data
     * request whose Content-Length is at most this many bytes, or whose
     * chunked body holds at most this many bytes of data, is delivered in
     * parts — its head, then its body as the bytes arrive (a chunked one
     * still encoded) — so an upload never has to fit in memory; a larger
     * one is 413. Other bodies stay whole and bounded by package_max_length. */
    uint64_t http_stream_max_body;
} eddy_framing_t;

/* What a delivered packet is. Only HTTP framing with http_stream_max_body
 * cuts one request into parts: HEAD, then BODY pieces (each at least one
 * byte, as they arrive; a chunked body's still encoded), the last of them
 * BODY_END. */
typedef enum eddy_packet_part {
    EDDY_PACKET_WHOLE,
    EDDY_PACKET_HEAD,
    EDDY_PACKET_BODY,
    EDDY_PACKET_BODY_END,
} eddy_packet_part_t;

/* Resumable scan position, one per stream; zero it (or call
 * eddy_frame_state_reset) when the stream starts. */
typedef struct eddy_frame_state {
    size_t scanned;  /* bytes already searched for package_eof (HTTP: for the
                        end of the head: the parser's last_len) */
    size_t expected; /* total length of the pending packet, when known (else 0) */
    /* HTTP mode */
    size_t head_len;              /* length of the pending request's head once parsed, else 0 */
    size_t body_pos;              /* chunked: packet (streamed: piece) bytes the decoder
                                     has consumed */
    uint64_t body_framing;        /* chunked: chunk framing bytes of the body so far
                                     (sizes, extensions, CRLFs, trailers) */
    uint8_t body;                 /* eddy_http1_body_t of the pending request */
    bool continue_due;            /* send "100 Continue" now; the connection clears it */
    eddy_http1_error_t error;     /* why the last call failed with -EDDY_EHTTP_PARSE */
    eddy_http1_chunked_t chunked; /* chunked body decoder */
    uint64_t stream_left;         /* body bytes still to deliver in parts (chunked: at
                                     most, the limits allowing; the decoder finds the end) */
    uint8_t part;                 /* eddy_packet_part_t of the last packet returned */
} eddy_frame_state_t;

/* Raw mode, package_max_length 2 MiB, the HTTP limits above. */
EDDY_EXPORT void eddy_framing_init(eddy_framing_t *f);
/* Set an option by its Swoole name: open_eof_check, open_eof_split,
 * package_eof, open_length_check, package_length_type,
 * package_length_offset, package_body_offset, package_max_length,
 * open_http_protocol, http_max_header_size, http_max_headers,
 * http_max_target_size, http_header_timeout, http_body_timeout.
 * Returns 0, -EDDY_EUNKNOWN_OPTION or -EDDY_EOPTION; on error f is unchanged.
 * Booleans accept 1/0/true/false/on/off/yes/no (any case); turning a mode on
 * selects it, turning it off returns to raw only if it is the current mode.
 * package_eof is 1..8 bytes and accepts C escapes (\r \n \t \0 \\ \" \' \xHH);
 * numbers are plain decimal; package_max_length must be > 0. */
EDDY_EXPORT int eddy_framing_set(eddy_framing_t *f, const char *key, const char *value);
/* Check that the options make sense together: package_max_length > 0; in EOF
 * modes a package_eof of 1..8 bytes no longer than package_max_length; in
 * length mode (without length_fn) a valid type whose field ends within
 * package_max_length, and package_body_offset <= package_max_length. A body
 * offset below the end of the length field is allowed: Swoole's "the value
 * counts the whole packet" convention is package_body_offset = 0. In HTTP
 * mode the limits are > 0 and http_max_headers <= 512.
 * Returns 0 or -EDDY_EOPTION. */
EDDY_EXPORT int eddy_framing_validate(const eddy_framing_t *f);
/* Size in bytes of a length type letter, or 0 if the letter is not valid. */
EDDY_EXPORT size_t eddy_framing_length_size(char type);

EDDY_EXPORT void eddy_frame_state_reset(eddy_frame_state_t *st);
/* Look for a whole packet at the start of data[0..len).
 * Returns its length (> 0), 0 if more bytes are needed, or
 * -EDDY_EPACKET_TOO_BIG / -EDDY_EBADLEN (or the length function's error), or
 * -EDDY_EOPTION if f cannot frame at all (bad mode, EOF or length type).
 * After a positive return the caller consumes exactly that many bytes before
 * calling again; the state is reset for the next packet by this function.
 * Raw mode delivers min(len, package_max_length) and never fails. EOF modes
 * look only at the first package_max_length bytes: no EOF ending there and
 * len >= package_max_length is -EDDY_EPACKET_TOO_BIG. In length mode a total
 * shorter than the header is -EDDY_EBADLEN; a user length function returning
 * 0 with len >= package_max_length is -EDDY_EPACKET_TOO_BIG. In HTTP mode
 * every refused request is -EDDY_EHTTP_PARSE with st->error saying why (and
 * eddy_http1_error_status the status); the state keeps that error until it
 * is reset. */
EDDY_EXPORT ssize_t eddy_frame_next(const eddy_framing_t *f, eddy_frame_state_t *st,
                                    const char *data, size_t len);

/* The packet of len bytes eddy_frame_next just returned is given back
 * (it stays at the front of the caller's data): the next call returns it
 * again. */
EDDY_EXPORT void eddy_frame_unread(eddy_frame_state_t *st, size_t len);

/* HTTP mode: the parser limits the framing options describe (body:
 * package_max_length). */
EDDY_EXPORT void eddy_framing_http_limits(const eddy_framing_t *f, eddy_http1_limits_t *out);

/* True while the start of a request head is buffered but not all of it: the
 * time http_header_timeout bounds. Only for HTTP mode (false otherwise);
 * call it with the length of what is buffered. */
EDDY_EXPORT bool eddy_frame_head_pending(const eddy_framing_t *f, const eddy_frame_state_t *st,
                                         size_t buffered);
/* True while a request's head is in but not all of its body (whole or
 * streamed): the wait http_body_timeout bounds between two reads. Only
 * for HTTP mode. */
EDDY_EXPORT bool eddy_frame_body_pending(const eddy_framing_t *f, const eddy_frame_state_t *st);

/* The answer to send before closing after eddy_frame_next failed with err:
 * in HTTP mode "HTTP/1.1 <status> <reason>" with "Connection: close" and
 * "Content-Length: 0" (the status from st->error, 413 for
 * -EDDY_EPACKET_TOO_BIG, else 400); nothing in the other modes. Writes at most
 * cap bytes to buf and returns how many (0 when there is nothing to send), or
 * -ENOBUFS if cap is too small (128 bytes always suffice). Pure. */
EDDY_EXPORT ssize_t eddy_frame_error_reply(const eddy_framing_t *f, const eddy_frame_state_t *st,
                                           int err, char *buf, size_t cap);
/* The same minimal answer for any status 100..999 (e.g. 408 for a slow head,
 * 503 for a request a crashed worker lost); 0 bytes outside HTTP mode,
 * -EINVAL for a status out of range, -ENOBUFS if cap is too small. */
EDDY_EXPORT ssize_t eddy_frame_status_reply(const eddy_framing_t *f, int status, char *buf,
                                            size_t cap);

#endif
