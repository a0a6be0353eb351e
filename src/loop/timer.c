#include <errno.h>
#include <stdlib.h>

#include "eddy/error.h"
#include "loop_internal.h"

/* Timers live in fixed-size blocks that never move, so buckets can point at
 * them; a slot number plus a generation makes the public id. */

static loop_timer_t *slot_timer(const eddy_loop_t *loop, uint32_t slot)
{
    return &loop->timer_blocks[slot >> TIMER_BLOCK_SHIFT][slot & (TIMER_BLOCK_SIZE - 1)];
}

static int64_t timer_id(uint32_t slot, uint32_t gen)
{
    return (int64_t)((uint64_t)gen << 32 | ((uint64_t)slot + 1));
}

static int grow_blocks(eddy_loop_t *loop)
{
    size_t n = loop->timer_block_count;
    loop_timer_t **blocks = realloc(loop->timer_blocks, (n + 1) * sizeof *blocks);
    if (!blocks) return -ENOMEM;
    loop->timer_blocks = blocks;
    uint32_t *free_stack =
        realloc(loop->timer_free, (n + 1) * TIMER_BLOCK_SIZE * sizeof *free_stack);
    if (!free_stack) return -ENOMEM;
    loop->timer_free = free_stack;
    blocks[n] = calloc(TIMER_BLOCK_SIZE, sizeof **blocks);
    if (!blocks[n]) return -ENOMEM;
    loop->timer_block_count = n + 1;
    return 0;
}

static int alloc_slot(eddy_loop_t *loop, uint32_t *slot)
{
    if (loop->timer_free_len > 0) {
        *slot = loop->timer_free[--loop->timer_free_len];
        return 0;
    }
    if (loop->timer_slots == loop->timer_block_count * TIMER_BLOCK_SIZE) {
        if (loop->timer_slots >= UINT32_MAX - TIMER_BLOCK_SIZE) return -ENOMEM;
        int rc = grow_blocks(loop);
        if (rc < 0) return rc;
    }
    *slot = (uint32_t)loop->timer_slots++;
    return 0;
}

static void free_slot(eddy_loop_t *loop, uint32_t slot)
{
    loop_timer_t *t = slot_timer(loop, slot);
    t->live = false;
    t->cb = NULL;
    t->ud = NULL;
    loop->timer_free[loop->timer_free_len++] = slot;
}

/* ---- deadline buckets ------------------------------------------------------ */

static size_t map_index(uint64_t deadline, size_t cap)
{
    return (size_t)(deadline * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
}

static timer_bucket_t *map_find(const eddy_loop_t *loop, uint64_t deadline)
{
    if (!loop->bucket_map) return NULL;
    size_t mask = loop->bucket_map_cap - 1;
    for (size_t i = map_index(deadline, loop->bucket_map_cap);; i = (i + 1) & mask) {
        timer_bucket_t *b = loop->bucket_map[i];
        if (!b || b->node.key == deadline) return b;
    }
}

static void map_put(timer_bucket_t **map, size_t cap, timer_bucket_t *b)
{
    size_t i = map_index(b->node.key, cap);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = b;
}

static int map_grow(eddy_loop_t *loop)
{
    size_t cap = loop->bucket_map_cap ? loop->bucket_map_cap * 2 : 64;
    timer_bucket_t **map = calloc(cap, sizeof *map);
    if (!map) return -ENOMEM;
    for (size_t i = 0; i < loop->bucket_map_cap; i++)
        if (loop->bucket_map[i]) map_put(map, cap, loop->bucket_map[i]);
    free(loop->bucket_map);
    loop->bucket_map = map;
    loop->bucket_map_cap = cap;
    return 0;
}

/* Linear probing deletes by shifting later entries back: no tombstones. */
static void map_delete(eddy_loop_t *loop, timer_bucket_t *b)
{
    size_t mask = loop->bucket_map_cap - 1;
    size_t i = map_index(b->node.key, loop->bucket_map_cap);
    while (loop->bucket_map[i] != b)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; loop->bucket_map[j]; j = (j + 1) & mask) {
        size_t home = map_index(loop->bucket_map[j]->node.key, loop->bucket_map_cap);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        loop->bucket_map[i] = loop->bucket_map[j];
        i = j;
    }
    loop->bucket_map[i] = NULL;
}

static timer_bucket_t *bucket_get(eddy_loop_t *loop, uint64_t deadline)
{
    timer_bucket_t *b = map_find(loop, deadline);
    if (b) return b;
    if ((loop->bucket_count + 1) * 2 > loop->bucket_map_cap && map_grow(loop) < 0) return NULL;
    b = loop->bucket_free;
    if (b)
        loop->bucket_free = b->next_free;
    else if (!(b = malloc(sizeof *b)))
        return NULL;
    b->node.key = deadline;
    b->node.seq = 0; /* keys are unique among buckets */
    eddy_list_init(&b->timers);
    if (eddy_heap_push(&loop->timer_heap, &b->node) < 0) {
        b->next_free = loop->bucket_free;
        loop->bucket_free = b;
        return NULL;
    }
    map_put(loop->bucket_map, loop->bucket_map_cap, b);
    loop->bucket_count++;
    return b;
}

static void bucket_release_if_empty(eddy_loop_t *loop, timer_bucket_t *b)
{
    if (!eddy_list_empty(&b->timers)) return;
    eddy_heap_remove(&loop->timer_heap, &b->node);
    map_delete(loop, b);
    loop->bucket_count--;
    b->next_free = loop->bucket_free;
    loop->bucket_free = b;
}

/* Queue t to fire at deadline, after every timer already due then. */
static int timer_schedule(eddy_loop_t *loop, loop_timer_t *t, uint64_t deadline)
{
    timer_bucket_t *b = bucket_get(loop, deadline);
    if (!b) return -ENOMEM;
    t->bucket = b;
    t->seq = loop->timer_seq++;
    eddy_list_insert_tail(&b->timers, &t->link);
    return 0;
}

static void timer_unschedule(eddy_loop_t *loop, loop_timer_t *t)
{
    eddy_list_remove(&t->link);
    bucket_release_if_empty(loop, t->bucket);
    t->bucket = NULL;
}

/* ---- the public API ----------------------------------------------------- */

static int64_t timer_start(eddy_loop_t *loop, uint64_t ms, uint64_t interval, eddy_timer_cb cb,
                           void *ud)
{
    if (!cb) return -EINVAL;
    if (ms > UINT64_MAX - loop->now_ms) ms = UINT64_MAX - loop->now_ms;
    uint32_t slot;
    int rc = alloc_slot(loop, &slot);
    if (rc < 0) return rc;
    loop_timer_t *t = slot_timer(loop, slot);
    t->cb = cb;
    t->ud = ud;
    t->interval = interval;
    t->slot = slot;
    t->gen = (t->gen + 1) & 0x7fffffff; /* ids stay positive */
    rc = timer_schedule(loop, t, loop->now_ms + ms);
    if (rc < 0) {
        free_slot(loop, slot);
        return rc;
    }
    t->live = true;
    loop->timer_live++;
    return timer_id(slot, t->gen);
}

int64_t eddy_timer_after(eddy_loop_t *loop, uint64_t ms, eddy_timer_cb cb, void *ud)
{
    return timer_start(loop, ms, 0, cb, ud);
}

int64_t eddy_timer_tick(eddy_loop_t *loop, uint64_t ms, eddy_timer_cb cb, void *ud)
{
    if (ms == 0) return -EINVAL;
    return timer_start(loop, ms, ms, cb, ud);
}

static void timer_retire(eddy_loop_t *loop, loop_timer_t *t)
{
    loop->timer_live--;
    free_slot(loop, t->slot);
}

int eddy_timer_clear(eddy_loop_t *loop, int64_t id)
{
    if (id <= 0) return -EDDY_ETIMER;
    uint64_t slot = ((uint64_t)id & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)((uint64_t)id >> 32);
    if (slot >= loop->timer_slots) return -EDDY_ETIMER;
    loop_timer_t *t = slot_timer(loop, (uint32_t)slot);
    if (!t->live || t->gen != gen) return -EDDY_ETIMER;
    timer_unschedule(loop, t);
    timer_retire(loop, t);
    return 0;
}

size_t eddy_timer_count(const eddy_loop_t *loop)
{
    return loop->timer_live;
}

void eddy__timers_run(eddy_loop_t *loop)
{
    /* Timers started by callbacks of this phase wait for the next one, so a
     * callback that starts a 0 ms timer cannot keep the loop here forever.
     * They can only land in the last due bucket, behind all older timers. */
    uint64_t seq_limit = loop->timer_seq;
    eddy_heap_node_t *n;
    while ((n = eddy_heap_min(&loop->timer_heap)) && n->key <= loop->now_ms) {
        timer_bucket_t *b = (timer_bucket_t *)n;
        loop_timer_t *t = EDDY_CONTAINER_OF(b->timers.next, loop_timer_t, link);
        if (t->seq >= seq_limit) break;
        int64_t id = timer_id(t->slot, t->gen);
        eddy_timer_cb cb = t->cb;
        void *ud = t->ud;
        timer_unschedule(loop, t);
        if (!t->interval || timer_schedule(loop, t, loop->now_ms + t->interval) < 0)
            timer_retire(loop, t); /* a tick that cannot be rescheduled ends here */
        cb(loop, id, ud);
    }
}

int eddy__timers_next_timeout(const eddy_loop_t *loop)
{
    const eddy_heap_node_t *n = eddy_heap_min(&loop->timer_heap);
    if (!n) return -1;
    if (n->key <= loop->now_ms) return 0;
    uint64_t d = n->key - loop->now_ms;
    return d > INT32_MAX ? INT32_MAX : (int)d;
}

void eddy__timers_free(eddy_loop_t *loop)
{
    for (size_t b = 0; b < loop->timer_block_count; b++)
        free(loop->timer_blocks[b]);
    free(loop->timer_blocks);
    free(loop->timer_free);
    for (size_t i = 0; i < loop->bucket_map_cap; i++)
        free(loop->bucket_map[i]);
    free(loop->bucket_map);
    while (loop->bucket_free) {
        timer_bucket_t *b = loop->bucket_free;
        loop->bucket_free = b->next_free;
        free(b);
    }
    eddy_heap_free(&loop->timer_heap);
}
