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
 * package_max_length bounds every packet (default 2 MiB); a violation is an
 * error the connection answers with a graceful close.
 */
#ifndef EDDY_FRAMING_H
#define EDDY_FRAMING_H

#include <stdbool.h>

#include "common.h"

#define EDDY_PACKAGE_EOF_MAX    8
#define EDDY_PACKAGE_MAX_LENGTH (2u * 1024 * 1024)

typedef enum eddy_frame_mode {
    EDDY_FRAME_RAW,
    EDDY_FRAME_EOF_CHECK,
    EDDY_FRAME_EOF_SPLIT,
    EDDY_FRAME_LENGTH,
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
} eddy_framing_t;

/* Resumable scan position, one per stream; zero it (or call
 * eddy_frame_state_reset) when the stream starts. */
typedef struct eddy_frame_state {
    size_t scanned;  /* bytes already searched for package_eof */
    size_t expected; /* total length of the pending packet, when known (else 0) */
} eddy_frame_state_t;

/* Raw mode, package_max_length 2 MiB. */
EDDY_EXPORT void eddy_framing_init(eddy_framing_t *f);
/* Set an option by its Swoole name: open_eof_check, open_eof_split,
 * package_eof, open_length_check, package_length_type,
 * package_length_offset, package_body_offset, package_max_length.
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
 * counts the whole packet" convention is package_body_offset = 0.
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
 * 0 with len >= package_max_length is -EDDY_EPACKET_TOO_BIG. */
EDDY_EXPORT ssize_t eddy_frame_next(const eddy_framing_t *f, eddy_frame_state_t *st,
                                    const char *data, size_t len);

#endif
