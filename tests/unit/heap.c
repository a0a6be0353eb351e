/*
 * eddy_heap_t: random push / remove / pop against a reference (linear scan
 * for the minimum), ties ordered by seq, removal of arbitrary nodes, the
 * index bookkeeping, and a 1,000,000-node push+pop sanity run.
 */
#include <stdbool.h>

#include "eddy/heap.h"
#include "test.h"

static uint64_t rng_state = 0xd1b54a32d192ed03ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static bool node_less(const eddy_heap_node_t *a, const eddy_heap_node_t *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

/* Heap property and index bookkeeping for every node. */
static void check_heap(const eddy_heap_t *h)
{
    CHECK(h->len <= h->cap);
    for (size_t i = 0; i < h->len; i++) {
        eddy_heap_node_t *n = h->entries[i].node;
        CHECK_EQ(n->index, i);
        CHECK_EQ(h->entries[i].key, n->key);
        CHECK_EQ(h->entries[i].seq, n->seq);
        if (i > 0) CHECK(!node_less(n, h->entries[(i - 1) / EDDY_HEAP_ARITY].node));
    }
}

static void test_empty(void)
{
    eddy_heap_t h;
    eddy_heap_init(&h);
    CHECK(eddy_heap_min(&h) == NULL);
    CHECK(eddy_heap_pop(&h) == NULL);
    CHECK_EQ(eddy_heap_size(&h), 0);
    eddy_heap_free(&h);
    eddy_heap_free(&h);
    CHECK(h.entries == NULL);
}

static void test_single(void)
{
    eddy_heap_t h;
    eddy_heap_init(&h);
    eddy_heap_node_t a = {.key = 5, .seq = 1};
    CHECK_EQ(eddy_heap_push(&h, &a), 0);
    CHECK(eddy_heap_min(&h) == &a);
    CHECK_EQ(eddy_heap_size(&h), 1);
    eddy_heap_remove(&h, &a);
    CHECK_EQ(eddy_heap_size(&h), 0);
    CHECK(eddy_heap_min(&h) == NULL);
    /* A removed node may be pushed again (timer restart). */
    a.key = 7;
    CHECK_EQ(eddy_heap_push(&h, &a), 0);
    CHECK(eddy_heap_pop(&h) == &a);
    CHECK(eddy_heap_pop(&h) == NULL);
    eddy_heap_free(&h);
}

static void test_ties_in_seq_order(void)
{
    enum { N = 500 };
    static eddy_heap_node_t nodes[N];
    eddy_heap_t h;
    eddy_heap_init(&h);
    size_t order[N];
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    for (size_t i = N - 1; i > 0; i--) { /* shuffle the insertion order */
        size_t j = rng_below(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    /* Two keys, all other fields equal: same-key nodes must come out in seq
     * order, whatever order they went in. */
    for (size_t i = 0; i < N; i++) {
        size_t k = order[i];
        nodes[k].key = k % 2 ? 100 : 50;
        nodes[k].seq = k;
        CHECK_EQ(eddy_heap_push(&h, &nodes[k]), 0);
    }
    check_heap(&h);
    for (size_t i = 0; i < N / 2; i++) {
        eddy_heap_node_t *n = eddy_heap_pop(&h);
        CHECK_EQ(n->key, 50);
        CHECK_EQ(n->seq, 2 * i);
    }
    for (size_t i = 0; i < N / 2; i++) {
        eddy_heap_node_t *n = eddy_heap_pop(&h);
        CHECK_EQ(n->key, 100);
        CHECK_EQ(n->seq, 2 * i + 1);
    }
    CHECK(eddy_heap_pop(&h) == NULL);

    /* Timers started in order with the same deadline fire in that order. */
    for (size_t i = 0; i < N; i++) {
        nodes[i].key = 1000;
        nodes[i].seq = i;
        CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
    }
    for (size_t i = 0; i < N; i++)
        CHECK(eddy_heap_pop(&h) == &nodes[i]);
    eddy_heap_free(&h);
}

static void test_remove_positions(void)
{
    enum { N = 64 };
    static eddy_heap_node_t nodes[N];
    eddy_heap_t h;
    eddy_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        nodes[i].key = (uint64_t)(N - i); /* pushed in descending order */
        nodes[i].seq = i;
        CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
    }
    check_heap(&h);
    /* Remove the root, the last slot and an interior node. */
    eddy_heap_node_t *root = eddy_heap_min(&h);
    CHECK(root == &nodes[N - 1]);
    eddy_heap_remove(&h, root);
    check_heap(&h);
    eddy_heap_node_t *last = h.entries[h.len - 1].node;
    eddy_heap_remove(&h, last);
    check_heap(&h);
    eddy_heap_node_t *mid = h.entries[h.len / 3].node;
    eddy_heap_remove(&h, mid);
    check_heap(&h);
    CHECK_EQ(eddy_heap_size(&h), N - 3);
    uint64_t prev = 0;
    size_t popped = 0;
    eddy_heap_node_t *n;
    while ((n = eddy_heap_pop(&h)) != NULL) {
        CHECK(n != root && n != last && n != mid);
        CHECK(n->key > prev);
        prev = n->key;
        popped++;
        check_heap(&h);
    }
    CHECK_EQ(popped, N - 3);
    eddy_heap_free(&h);
}

/* Removing a node whose replacement (the last node) is smaller than the
 * removed node's parent must sift the replacement up, not down. */
static void test_remove_sifts_up(void)
{
    eddy_heap_t h;
    eddy_heap_init(&h);
    /* Pushed in heap order (4 children per node), so no node moves: slot 5
     * (51) sits under slot 1 (50); the last slot (5) sits under slot 2 (2).
     * Removing 51 moves 5 under 50, which it must then rise above. */
    enum { N = 13 };
    uint64_t keys[N] = {1, 50, 2, 3, 4, 51, 52, 53, 54, 10, 11, 12, 5};
    eddy_heap_node_t nodes[N];
    for (size_t i = 0; i < N; i++) {
        nodes[i].key = keys[i];
        nodes[i].seq = i;
        CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
        CHECK_EQ(nodes[i].index, i);
    }
    eddy_heap_remove(&h, &nodes[5]);
    check_heap(&h);
    CHECK_EQ(nodes[12].index, 1);
    uint64_t expect[] = {1, 2, 3, 4, 5, 10, 11, 12, 50, 52, 53, 54};
    for (size_t i = 0; i < N - 1; i++)
        CHECK_EQ(eddy_heap_pop(&h)->key, expect[i]);
    CHECK(eddy_heap_pop(&h) == NULL);
    eddy_heap_free(&h);
}

static void test_random_model(void)
{
    enum { N = 3000 };
    static eddy_heap_node_t nodes[N];
    static bool in_heap[N];
    eddy_heap_t h;
    eddy_heap_init(&h);
    uint64_t seq = 0;
    size_t count = 0;
    for (int op = 0; op < 300000; op++) {
        unsigned what = (unsigned)rng_below(10);
        size_t i = rng_below(N);
        if (what < 5) { /* push a node that is not in the heap */
            if (in_heap[i]) continue;
            nodes[i].key = rng_below(op % 2 ? 20 : 100000); /* many ties, or few */
            nodes[i].seq = seq++;
            CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
            in_heap[i] = true;
            count++;
        } else if (what < 7) { /* remove an arbitrary node */
            if (!in_heap[i]) continue;
            eddy_heap_remove(&h, &nodes[i]);
            in_heap[i] = false;
            count--;
        } else { /* pop: must be the reference minimum */
            eddy_heap_node_t *ref = NULL;
            for (size_t j = 0; j < N; j++)
                if (in_heap[j] && (!ref || node_less(&nodes[j], ref))) ref = &nodes[j];
            CHECK(eddy_heap_min(&h) == ref);
            eddy_heap_node_t *got = eddy_heap_pop(&h);
            CHECK(got == ref);
            if (got) {
                in_heap[got - nodes] = false;
                count--;
            }
        }
        CHECK_EQ(eddy_heap_size(&h), count);
        if (op % 997 == 0) check_heap(&h);
    }
    check_heap(&h);
    /* Drain: sorted by (key, seq). */
    eddy_heap_node_t *prev = NULL, *n;
    while ((n = eddy_heap_pop(&h)) != NULL) {
        CHECK(in_heap[n - nodes]);
        in_heap[n - nodes] = false;
        if (prev) CHECK(node_less(prev, n));
        prev = n;
        count--;
    }
    CHECK_EQ(count, 0);
    eddy_heap_free(&h);
}

static void test_million(void)
{
    enum { N = 1000000 };
    eddy_heap_node_t *nodes = malloc(N * sizeof *nodes);
    CHECK(nodes != NULL);
    eddy_heap_t h;
    eddy_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        nodes[i].key = rng() % 1000003;
        nodes[i].seq = i;
        CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
    }
    CHECK_EQ(eddy_heap_size(&h), N);
    check_heap(&h);
    /* Interleave: pop half, push them back with later deadlines, pop all. */
    eddy_heap_node_t *prev = NULL;
    for (size_t i = 0; i < N / 2; i++) {
        eddy_heap_node_t *n = eddy_heap_pop(&h);
        CHECK(n != NULL);
        if (prev) CHECK(node_less(prev, n));
        prev = n;
    }
    uint64_t floor_key = prev->key;
    for (size_t i = 0; i < N; i++) {
        if (nodes[i].index < h.len && h.entries[nodes[i].index].node == &nodes[i]) continue;
        nodes[i].key = floor_key + rng() % 1000003;
        nodes[i].seq = N + i;
        CHECK_EQ(eddy_heap_push(&h, &nodes[i]), 0);
    }
    CHECK_EQ(eddy_heap_size(&h), N);
    prev = NULL;
    size_t popped = 0;
    eddy_heap_node_t *n;
    while ((n = eddy_heap_pop(&h)) != NULL) {
        if (prev) CHECK(node_less(prev, n));
        prev = n;
        popped++;
    }
    CHECK_EQ(popped, N);
    eddy_heap_free(&h);
    free(nodes);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_single);
    RUN(test_ties_in_seq_order);
    RUN(test_remove_positions);
    RUN(test_remove_sifts_up);
    RUN(test_random_model);
    RUN(test_million);
    return 0;
}
