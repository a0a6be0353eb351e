/*
 * eddy/heap.h — 4-ary min-heap of intrusive nodes.
 *
 * Nodes are ordered by (key, seq): equal keys come out in seq order, which is
 * how timers with the same deadline fire in the order they were started. Each
 * node records its position, so removing an arbitrary node is O(log n). The
 * heap array keeps a copy of every key beside the node pointer, so sifting
 * compares neighbouring memory instead of chasing pointers (with a million
 * timers, cache misses are the whole cost); four children per node halve
 * the depth. The heap never owns the nodes; a node's key and seq must not
 * change while it is in the heap.
 */
#ifndef EDDY_HEAP_H
#define EDDY_HEAP_H

#include "common.h"

typedef struct eddy_heap_node {
    uint64_t key;
    uint64_t seq;
    size_t index; /* position in the heap; set by the heap */
} eddy_heap_node_t;

typedef struct eddy_heap_entry {
    uint64_t key;
    uint64_t seq;
    eddy_heap_node_t *node;
} eddy_heap_entry_t;

#define EDDY_HEAP_ARITY 4

typedef struct eddy_heap {
    eddy_heap_entry_t *entries; /* entries[(i-1)/ARITY] is the parent of entries[i] */
    size_t len;
    size_t cap;
} eddy_heap_t;

EDDY_EXPORT void eddy_heap_init(eddy_heap_t *h);
EDDY_EXPORT void eddy_heap_free(eddy_heap_t *h); /* frees the array, not the nodes */
/* Insert n (key and seq set by the caller). 0 or -ENOMEM. */
EDDY_EXPORT int eddy_heap_push(eddy_heap_t *h, eddy_heap_node_t *n);
EDDY_EXPORT void eddy_heap_remove(eddy_heap_t *h, eddy_heap_node_t *n);
EDDY_EXPORT eddy_heap_node_t *eddy_heap_pop(eddy_heap_t *h);

static inline eddy_heap_node_t *eddy_heap_min(const eddy_heap_t *h)
{
    return h->len ? h->entries[0].node : NULL;
}
static inline size_t eddy_heap_size(const eddy_heap_t *h)
{
    return h->len;
}

#endif
