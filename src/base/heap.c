#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "eddy/heap.h"

#define ARITY EDDY_HEAP_ARITY

static inline bool less(const eddy_heap_entry_t *a, const eddy_heap_entry_t *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static inline void place(eddy_heap_t *h, size_t i, eddy_heap_entry_t e)
{
    h->entries[i] = e;
    e.node->index = i;
}

static void sift_up(eddy_heap_t *h, size_t i, eddy_heap_entry_t e)
{
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!less(&e, &h->entries[parent])) break;
        place(h, i, h->entries[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(eddy_heap_t *h, size_t i, eddy_heap_entry_t e)
{
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= h->len) break;
        size_t last = first + ARITY < h->len ? first + ARITY : h->len;
        size_t best = first;
        for (size_t c = first + 1; c < last; c++)
            if (less(&h->entries[c], &h->entries[best])) best = c;
        if (!less(&h->entries[best], &e)) break;
        place(h, i, h->entries[best]);
        i = best;
    }
    place(h, i, e);
}

void eddy_heap_init(eddy_heap_t *h)
{
    h->entries = NULL;
    h->len = h->cap = 0;
}

void eddy_heap_free(eddy_heap_t *h)
{
    free(h->entries);
    eddy_heap_init(h);
}

int eddy_heap_push(eddy_heap_t *h, eddy_heap_node_t *n)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        eddy_heap_entry_t *entries = realloc(h->entries, cap * sizeof *entries);
        if (!entries) return -ENOMEM;
        h->entries = entries;
        h->cap = cap;
    }
    eddy_heap_entry_t e = {n->key, n->seq, n};
    sift_up(h, h->len++, e);
    return 0;
}

void eddy_heap_remove(eddy_heap_t *h, eddy_heap_node_t *n)
{
    size_t i = n->index;
    eddy_heap_entry_t last = h->entries[--h->len];
    if (i == h->len) return;
    if (i > 0 && less(&last, &h->entries[(i - 1) / ARITY]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

eddy_heap_node_t *eddy_heap_pop(eddy_heap_t *h)
{
    eddy_heap_node_t *n = eddy_heap_min(h);
    if (n) eddy_heap_remove(h, n);
    return n;
}
