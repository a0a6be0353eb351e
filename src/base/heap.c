#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "eddy/heap.h"

static inline bool less(const eddy_heap_node_t *a, const eddy_heap_node_t *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static inline void place(eddy_heap_t *h, size_t i, eddy_heap_node_t *n)
{
    h->nodes[i] = n;
    n->index = i;
}

static void sift_up(eddy_heap_t *h, size_t i)
{
    eddy_heap_node_t *n = h->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(n, h->nodes[parent])) break;
        place(h, i, h->nodes[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(eddy_heap_t *h, size_t i)
{
    eddy_heap_node_t *n = h->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) break;
        if (child + 1 < h->len && less(h->nodes[child + 1], h->nodes[child])) child++;
        if (!less(h->nodes[child], n)) break;
        place(h, i, h->nodes[child]);
        i = child;
    }
    place(h, i, n);
}

void eddy_heap_init(eddy_heap_t *h)
{
    h->nodes = NULL;
    h->len = h->cap = 0;
}

void eddy_heap_free(eddy_heap_t *h)
{
    free(h->nodes);
    eddy_heap_init(h);
}

int eddy_heap_push(eddy_heap_t *h, eddy_heap_node_t *n)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        eddy_heap_node_t **nodes = realloc(h->nodes, cap * sizeof *nodes);
        if (!nodes) return -ENOMEM;
        h->nodes = nodes;
        h->cap = cap;
    }
    h->nodes[h->len] = n;
    sift_up(h, h->len++);
    return 0;
}

void eddy_heap_remove(eddy_heap_t *h, eddy_heap_node_t *n)
{
    size_t i = n->index;
    eddy_heap_node_t *last = h->nodes[--h->len];
    if (i == h->len) return;
    place(h, i, last);
    if (i > 0 && less(last, h->nodes[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

eddy_heap_node_t *eddy_heap_pop(eddy_heap_t *h)
{
    eddy_heap_node_t *n = eddy_heap_min(h);
    if (n) eddy_heap_remove(h, n);
    return n;
}
