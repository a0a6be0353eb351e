/*
 * eddy/heap.h — binary min-heap of intrusive nodes.
 *
 * Nodes are ordered by (key, seq): equal keys come out in seq order, which is
 * how timers with the same deadline fire in the order they were started. Each
 * node records its position, so removing an arbitrary node is O(log n). The
 * heap stores pointers and never owns the nodes.
 */
#ifndef EDDY_HEAP_H
#define EDDY_HEAP_H

#include "common.h"

typedef struct eddy_heap_node {
    uint64_t key;
    uint64_t seq;
    size_t index; /* position in the heap; set by the heap */
} eddy_heap_node_t;

typedef struct eddy_heap {
    eddy_heap_node_t **nodes;
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
    return h->len ? h->nodes[0] : NULL;
}
static inline size_t eddy_heap_size(const eddy_heap_t *h)
{
    return h->len;
}

#endif
