#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eddy/buf.h"

#define EDDY_BUF_MIN_CAP   4096
#define EDDY_CHUNK_DEFAULT (16 * 1024 - sizeof(eddy_chunk_t))

void eddy_buf_init(eddy_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void eddy_buf_free(eddy_buf_t *b)
{
    free(b->base);
    eddy_buf_init(b);
}

int eddy_buf_reserve(eddy_buf_t *b, size_t n)
{
    if (eddy_buf_space(b) >= n) return 0;
    size_t len = eddy_buf_len(b);
    /* Compacting is cheaper than growing when the unread part is small. */
    if (b->start > 0 && b->cap - len >= n && len <= b->cap / 2) {
        memmove(b->base, b->base + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }
    size_t cap = b->cap ? b->cap : EDDY_BUF_MIN_CAP;
    while (cap - len < n) {
        if (cap > SIZE_MAX / 2) return -ENOMEM;
        cap *= 2;
    }
    char *base = malloc(cap);
    if (!base) return -ENOMEM;
    if (len) memcpy(base, b->base + b->start, len);
    free(b->base);
    b->base = base;
    b->start = 0;
    b->end = len;
    b->cap = cap;
    return 0;
}

void eddy_buf_commit(eddy_buf_t *b, size_t n)
{
    b->end += n;
}

int eddy_buf_append(eddy_buf_t *b, const void *data, size_t n)
{
    int rc = eddy_buf_reserve(b, n);
    if (rc < 0) return rc;
    if (n) memcpy(eddy_buf_tail(b), data, n);
    b->end += n;
    return 0;
}

void eddy_buf_consume(eddy_buf_t *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end) b->start = b->end = 0;
}

void eddy_buf_release_if_empty(eddy_buf_t *b)
{
    if (b->base && eddy_buf_len(b) == 0) eddy_buf_free(b);
}

/* ---- chain ------------------------------------------------------------- */

void eddy_chain_init(eddy_chain_t *c)
{
    memset(c, 0, sizeof *c);
}

static void chain_push(eddy_chain_t *c, eddy_chunk_t *k)
{
    k->next = NULL;
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
    c->bytes += k->len;
}

/* Each thread keeps a few free default-size chunks, and a few bare chunk
 * headers for owned memory and file ranges. A server that answers and
 * flushes every iteration would otherwise allocate and free 16 KiB per
 * reply, and glibc would keep trimming and regrowing the heap (brk plus a
 * page fault per reuse); the headers, one per reply in the output arena, are
 * a malloc and a free per reply. The caches are emptied when the thread
 * exits. */
#define CHUNK_CACHE_MAX 64

typedef struct chunk_cache {
    eddy_chunk_t *head;
    unsigned count;
} chunk_cache_t;

static __thread chunk_cache_t copy_cache; /* EDDY_CHUNK_DEFAULT bytes of data */
static __thread chunk_cache_t node_cache; /* headers only */
static __thread bool caches_armed;
static pthread_key_t chunk_cache_key;
static pthread_once_t chunk_cache_once = PTHREAD_ONCE_INIT;

static void cache_drain(chunk_cache_t *cache)
{
    while (cache->head) {
        eddy_chunk_t *k = cache->head;
        cache->head = k->next;
        free(k);
    }
    cache->count = 0;
}

static void chunk_caches_drain(void *unused)
{
    cache_drain(&copy_cache);
    cache_drain(&node_cache);
    caches_armed = false;
}

static void chunk_cache_init(void)
{
    pthread_key_create(&chunk_cache_key, chunk_caches_drain);
}

/* The main thread never runs key destructors: drain it at exit too. */
__attribute__((destructor)) static void chunk_cache_drain_at_exit(void)
{
    chunk_caches_drain(NULL);
}

static eddy_chunk_t *cache_take(chunk_cache_t *cache)
{
    eddy_chunk_t *k = cache->head;
    if (!k) return NULL;
    cache->head = k->next;
    cache->count--;
    return k;
}

static bool cache_put(chunk_cache_t *cache, eddy_chunk_t *k)
{
    if (cache->count >= CHUNK_CACHE_MAX) return false;
    if (!caches_armed) {
        pthread_once(&chunk_cache_once, chunk_cache_init);
        pthread_setspecific(chunk_cache_key, &copy_cache); /* arms the destructor */
        caches_armed = true;
    }
    k->next = cache->head;
    cache->head = k;
    cache->count++;
    return true;
}

static eddy_chunk_t *chunk_alloc(size_t cap)
{
    eddy_chunk_t *k = cap == EDDY_CHUNK_DEFAULT ? cache_take(&copy_cache) : NULL;
    return k ? k : malloc(sizeof(eddy_chunk_t) + cap);
}

static eddy_chunk_t *node_alloc(void)
{
    eddy_chunk_t *k = cache_take(&node_cache);
    if (!k) return calloc(1, sizeof *k);
    memset(k, 0, sizeof *k);
    return k;
}

static void chunk_free(eddy_chunk_t *k)
{
    bool kept = k->kind != EDDY_CHUNK_COPY           ? cache_put(&node_cache, k)
                : k->u.mem.cap == EDDY_CHUNK_DEFAULT ? cache_put(&copy_cache, k)
                                                     : false;
    if (!kept) free(k);
}

static eddy_chunk_t *chunk_new_copy(size_t cap)
{
    eddy_chunk_t *k = chunk_alloc(cap);
    if (!k) return NULL;
    memset(k, 0, sizeof *k);
    k->kind = EDDY_CHUNK_COPY;
    k->u.mem.pos = k->data;
    k->u.mem.cap = cap;
    return k;
}

int eddy_chain_append(eddy_chain_t *c, const void *data, size_t n)
{
    if (n == 0) return 0;
    eddy_chunk_t *t = c->tail;
    size_t room = (t && t->kind == EDDY_CHUNK_COPY) ? t->u.mem.cap - t->u.mem.used : 0;
    eddy_chunk_t *fresh = NULL;
    /* Allocate before copying anything, so a failure queues nothing. */
    if (room < n) {
        size_t want = n - room;
        fresh = chunk_new_copy(want > EDDY_CHUNK_DEFAULT ? want : EDDY_CHUNK_DEFAULT);
        if (!fresh) return -ENOMEM;
    }
    if (room) {
        size_t part = room < n ? room : n;
        memcpy(t->data + t->u.mem.used, data, part);
        t->u.mem.used += part;
        t->len += part;
        c->bytes += part;
        data = (const char *)data + part;
        n -= part;
    }
    if (fresh) {
        memcpy(fresh->data, data, n);
        fresh->u.mem.used = n;
        fresh->len = n;
        chain_push(c, fresh);
    }
    return 0;
}

int eddy_chain_append_owned(eddy_chain_t *c, void *ptr, size_t n, eddy_free_fn free_fn, void *ud)
{
    if (n == 0) {
        if (free_fn) free_fn(ptr, ud);
        return 0;
    }
    eddy_chunk_t *k = node_alloc();
    if (!k) return -ENOMEM;
    k->kind = EDDY_CHUNK_OWNED;
    k->len = n;
    k->u.mem.pos = ptr;
    k->u.mem.owned = ptr;
    k->u.mem.free_fn = free_fn;
    k->u.mem.free_ud = ud;
    chain_push(c, k);
    return 0;
}

int eddy_chain_append_file(eddy_chain_t *c, int fd, off_t offset, size_t n, bool close_fd)
{
    if (n == 0) {
        if (close_fd) close(fd);
        return 0;
    }
    eddy_chunk_t *k = node_alloc();
    if (!k) return -ENOMEM;
    k->kind = EDDY_CHUNK_FILE;
    k->len = n;
    k->u.file.fd = fd;
    k->u.file.offset = offset;
    k->u.file.close_fd = close_fd;
    chain_push(c, k);
    return 0;
}

int eddy_chain_iov(const eddy_chain_t *c, struct iovec *iov, int max)
{
    int n = 0;
    for (eddy_chunk_t *k = c->head; k && n < max && k->kind != EDDY_CHUNK_FILE; k = k->next) {
        if (k->len == 0) continue;
        iov[n].iov_base = k->u.mem.pos;
        iov[n].iov_len = k->len;
        n++;
    }
    return n;
}

static void chunk_release(eddy_chunk_t *k)
{
    if (k->kind == EDDY_CHUNK_OWNED && k->u.mem.free_fn)
        k->u.mem.free_fn(k->u.mem.owned, k->u.mem.free_ud);
    else if (k->kind == EDDY_CHUNK_FILE && k->u.file.close_fd)
        close(k->u.file.fd);
    chunk_free(k);
}

static void chain_pop(eddy_chain_t *c)
{
    eddy_chunk_t *k = c->head;
    c->head = k->next;
    if (!c->head) c->tail = NULL;
    chunk_release(k);
}

void eddy_chain_consume(eddy_chain_t *c, size_t n)
{
    c->bytes -= n;
    while (c->head) {
        eddy_chunk_t *k = c->head;
        size_t part = n < k->len ? n : k->len;
        k->len -= part;
        n -= part;
        if (k->kind == EDDY_CHUNK_FILE)
            k->u.file.offset += (off_t)part;
        else
            k->u.mem.pos += part;
        if (k->len > 0) return;
        chain_pop(c);
        if (n == 0) return;
    }
}

void eddy_chain_clear(eddy_chain_t *c)
{
    while (c->head)
        chain_pop(c);
    c->bytes = 0;
}
