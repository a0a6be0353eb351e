/*
 * eddy/buf.h — growable byte buffer and output chunk chain.
 *
 * eddy_buf_t is a contiguous buffer with a read cursor: bytes are appended at
 * the tail and consumed from the front without moving memory until space is
 * needed. Connections use one for input.
 *
 * eddy_chain_t is an ordered list of output chunks: copied memory (small
 * appends coalesce into one chunk), memory handed over by the caller with a
 * free function, and file ranges. Connections use one for output and write it
 * with writev/sendfile. Every append either queues all of its bytes or
 * nothing.
 *
 * Neither type is thread-safe. Both are plain structs owned by their embedder;
 * the memory they allocate is released by eddy_buf_free / eddy_chain_clear.
 */
#ifndef EDDY_BUF_H
#define EDDY_BUF_H

#include <stdbool.h>
#include <sys/uio.h>

#include "common.h"

typedef struct eddy_buf {
    char *base;   /* allocation (NULL until first use) */
    size_t start; /* first unread byte */
    size_t end;   /* one past the last byte */
    size_t cap;   /* size of base */
} eddy_buf_t;

EDDY_EXPORT void eddy_buf_init(eddy_buf_t *b);
EDDY_EXPORT void eddy_buf_free(eddy_buf_t *b);

/* Unread bytes. Valid (NULL) on a buffer that has no allocation yet: callers
 * may always pass eddy_buf_data(b), eddy_buf_len(b) on. */
static inline char *eddy_buf_data(const eddy_buf_t *b)
{
    return b->base ? b->base + b->start : NULL; /* NULL + 0 is undefined */
}
static inline size_t eddy_buf_len(const eddy_buf_t *b)
{
    return b->end - b->start;
}
/* Where the next byte goes; eddy_buf_space(b) bytes are writable there. */
static inline char *eddy_buf_tail(const eddy_buf_t *b)
{
    return b->base ? b->base + b->end : NULL;
}
static inline size_t eddy_buf_space(const eddy_buf_t *b)
{
    return b->cap - b->end;
}

/* Ensure at least n writable bytes at the tail (compacting before growing).
 * Returns 0 or -ENOMEM; pointers into the buffer are invalid afterwards. */
EDDY_EXPORT int eddy_buf_reserve(eddy_buf_t *b, size_t n);
/* Mark n bytes written at the tail as part of the buffer. */
EDDY_EXPORT void eddy_buf_commit(eddy_buf_t *b, size_t n);
EDDY_EXPORT int eddy_buf_append(eddy_buf_t *b, const void *data, size_t n);
/* Drop n bytes from the front. */
EDDY_EXPORT void eddy_buf_consume(eddy_buf_t *b, size_t n);
/* Release the allocation if the buffer is empty (idle connections keep none). */
EDDY_EXPORT void eddy_buf_release_if_empty(eddy_buf_t *b);

typedef void (*eddy_free_fn)(void *ptr, void *ud);

typedef enum eddy_chunk_kind {
    EDDY_CHUNK_COPY,  /* bytes copied into memory the chain owns */
    EDDY_CHUNK_OWNED, /* caller's memory, released with its free function */
    EDDY_CHUNK_FILE,  /* a range of an open file, written with sendfile */
} eddy_chunk_kind_t;

typedef struct eddy_chunk {
    struct eddy_chunk *next;
    eddy_chunk_kind_t kind;
    size_t len; /* bytes still to write */
    union {
        struct {
            char *pos;   /* next byte to write */
            size_t used; /* bytes filled (COPY only: appends go at data+used) */
            size_t cap;  /* capacity of data (COPY only) */
            eddy_free_fn free_fn;
            void *free_ud;
            void *owned; /* pointer given to free_fn (OWNED only) */
        } mem;
        struct {
            int fd;
            bool close_fd; /* the chain closes fd when done */
            off_t offset;  /* next byte to send */
        } file;
    } u;
    char data[]; /* COPY payload */
} eddy_chunk_t;

typedef struct eddy_chain {
    eddy_chunk_t *head;
    eddy_chunk_t *tail;
    size_t bytes; /* total bytes still to write, memory and file */
} eddy_chain_t;

EDDY_EXPORT void eddy_chain_init(eddy_chain_t *c);
/* Copy n bytes onto the end. 0 or -ENOMEM (nothing queued). */
EDDY_EXPORT int eddy_chain_append(eddy_chain_t *c, const void *data, size_t n);
/* Queue ptr[0..n) without copying; free_fn(ptr, ud) runs once when it has been
 * written or discarded (free_fn may be NULL). On -ENOMEM free_fn is NOT called:
 * the caller still owns ptr. */
EDDY_EXPORT int eddy_chain_append_owned(eddy_chain_t *c, void *ptr, size_t n, eddy_free_fn free_fn,
                                        void *ud);
/* Queue the file range [offset, offset+n). With close_fd the chain owns fd and
 * closes it when the range is written or discarded (not on -ENOMEM). */
EDDY_EXPORT int eddy_chain_append_file(eddy_chain_t *c, int fd, off_t offset, size_t n,
                                       bool close_fd);
/* Fill iov with the memory chunks at the head, stopping at the first file
 * chunk. Returns the number of iovecs (0 if the head is a file or empty). */
EDDY_EXPORT int eddy_chain_iov(const eddy_chain_t *c, struct iovec *iov, int max);
/* Mark n bytes at the head as written, releasing finished chunks. */
EDDY_EXPORT void eddy_chain_consume(eddy_chain_t *c, size_t n);
/* Discard everything, releasing owned memory and files. */
EDDY_EXPORT void eddy_chain_clear(eddy_chain_t *c);

static inline bool eddy_chain_empty(const eddy_chain_t *c)
{
    return c->head == NULL;
}

#endif
