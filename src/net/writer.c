/*
 * The end-of-iteration write phase, and the output arena.
 *
 * Connections that queued output this iteration sit on one list per loop;
 * a single deferred callback writes them all after every callback of the
 * iteration has run, so pipelined replies leave in one system call.
 *
 * Bytes sent while the phase is ahead are copied into a per-loop arena
 * rather than into memory of their own: most replies are written at the end
 * of the very iteration that produced them, so the common case allocates
 * nothing. Whatever the socket does not take is moved to heap memory of the
 * exact size before the arena is reused, so no connection keeps arena bytes
 * across iterations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define ARENA_INITIAL (256u * 1024)
#define ARENA_MAX     (16u * 1024 * 1024)

struct net_loop {
    eddy_list_t dirty;
    bool flush_queued;
    bool arena_open; /* false while the write phase runs */
    char *arena;
    size_t used, cap;
    size_t wanted; /* bytes asked of the arena this iteration, to size it */
};

static void net_loop_free(void *p)
{
    net_loop_t *n = p;
    free(n->arena);
    free(n);
}

net_loop_t *eddy__net_loop(eddy_loop_t *loop)
{
    net_loop_t *n = eddy__loop_net(loop);
    if (n) return n;
    n = calloc(1, sizeof *n);
    if (!n) return NULL;
    eddy_list_init(&n->dirty);
    n->arena_open = true;
    eddy__loop_set_net(loop, n, net_loop_free);
    return n;
}

/* A no-op free function marks the chunks whose bytes live in the arena. */
static void arena_chunk(void *ptr, void *ud) {}

static void heap_chunk(void *ptr, void *ud)
{
    free(ptr);
}

/* Move c's unwritten arena bytes to memory of their own. */
static int migrate(eddy_conn_t *c)
{
    for (eddy_chunk_t *k = c->out.head; k; k = k->next) {
        if (k->kind != EDDY_CHUNK_OWNED || k->u.mem.free_fn != arena_chunk) continue;
        char *copy = malloc(k->len);
        if (!copy) return -ENOMEM;
        memcpy(copy, k->u.mem.pos, k->len);
        k->u.mem.pos = k->u.mem.owned = copy;
        k->u.mem.free_fn = heap_chunk;
    }
    return 0;
}

/* The arena is empty between write phases: resize it to what was asked. */
static void arena_reset(net_loop_t *n)
{
    if (n->wanted > n->cap && n->cap < ARENA_MAX) {
        size_t cap = n->cap ? n->cap : ARENA_INITIAL;
        while (cap < n->wanted && cap < ARENA_MAX)
            cap *= 2;
        char *arena = malloc(cap);
        if (arena) {
            free(n->arena);
            n->arena = arena;
            n->cap = cap;
        }
    }
    n->used = 0;
    n->wanted = 0;
}

static void write_phase(eddy_loop_t *loop, void *ud)
{
    net_loop_t *n = ud;
    n->flush_queued = false;
    n->arena_open = false;
    eddy_list_t *node;
    while ((node = eddy_list_first(&n->dirty))) {
        eddy_conn_t *c = EDDY_CONTAINER_OF(node, eddy_conn_t, dirty_node);
        eddy_list_remove(node);
        eddy__conn_flush(c);
        if (c->state != CONN_CLOSED && migrate(c) < 0)
            eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ENOMEM, true);
    }
    arena_reset(n);
    n->arena_open = true;
}

void eddy__writer_mark(eddy_conn_t *c)
{
    if (c->state == CONN_CLOSED) return;
    net_loop_t *n = c->net;
    if (eddy_list_empty(&c->dirty_node)) eddy_list_insert_tail(&n->dirty, &c->dirty_node);
    if (n->flush_queued) return;
    if (eddy_defer(c->loop, write_phase, n) == 0) n->flush_queued = true;
}

void eddy__writer_forget(eddy_conn_t *c)
{
    eddy_list_remove(&c->dirty_node);
}

int eddy__writer_append(eddy_conn_t *c, const void *data, size_t len)
{
    net_loop_t *n = c->net;
    /* Only output that this iteration's write phase will see may use the
     * arena: an open connection, marked dirty right after. */
    bool arena = n->arena_open && c->state == CONN_OPEN;
    if (arena) n->wanted += len;
    if (!arena || len > n->cap - n->used) return eddy_chain_append(&c->out, data, len);
    char *dst = n->arena + n->used;
    eddy_chunk_t *tail = c->out.tail;
    bool extends = tail && tail->kind == EDDY_CHUNK_OWNED && tail->u.mem.free_fn == arena_chunk &&
                   tail->u.mem.pos + tail->len == dst;
    if (extends) {
        tail->len += len;
        c->out.bytes += len;
    } else {
        int rc = eddy_chain_append_owned(&c->out, dst, len, arena_chunk, NULL);
        if (rc < 0) return rc;
    }
    memcpy(dst, data, len);
    n->used += len;
    return 0;
}
