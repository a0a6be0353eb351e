#include <errno.h>
#include <stdlib.h>

#include "eddy/error.h"
#include "loop_internal.h"

/* Timers live in fixed-size blocks that never move, so the heap can point at
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

static int64_t timer_start(eddy_loop_t *loop, uint64_t ms, uint64_t interval, eddy_timer_cb cb,
                           void *ud)
{
    if (!cb) return -EINVAL;
    uint32_t slot;
    int rc = alloc_slot(loop, &slot);
    if (rc < 0) return rc;
    loop_timer_t *t = slot_timer(loop, slot);
    t->cb = cb;
    t->ud = ud;
    t->interval = interval;
    t->slot = slot;
    t->gen = (t->gen + 1) & 0x7fffffff; /* ids stay positive */
    t->node.key = loop->now_ms + ms;
    t->node.seq = loop->timer_seq++;
    rc = eddy_heap_push(&loop->timer_heap, &t->node);
    if (rc < 0) {
        free_slot(loop, slot);
        return rc;
    }
    t->live = true;
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

int eddy_timer_clear(eddy_loop_t *loop, int64_t id)
{
    if (id <= 0) return -EDDY_ETIMER;
    uint64_t slot = ((uint64_t)id & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)((uint64_t)id >> 32);
    if (slot >= loop->timer_slots) return -EDDY_ETIMER;
    loop_timer_t *t = slot_timer(loop, (uint32_t)slot);
    if (!t->live || t->gen != gen) return -EDDY_ETIMER;
    eddy_heap_remove(&loop->timer_heap, &t->node);
    free_slot(loop, (uint32_t)slot);
    return 0;
}

size_t eddy_timer_count(const eddy_loop_t *loop)
{
    return eddy_heap_size(&loop->timer_heap);
}

void eddy__timers_run(eddy_loop_t *loop)
{
    /* Timers started by callbacks of this phase wait for the next one, so a
     * callback that starts a 0 ms timer cannot keep the loop here forever. */
    uint64_t seq_limit = loop->timer_seq;
    eddy_heap_node_t *n;
    while ((n = eddy_heap_min(&loop->timer_heap)) && n->key <= loop->now_ms && n->seq < seq_limit) {
        loop_timer_t *t = (loop_timer_t *)n;
        uint32_t slot = t->slot;
        int64_t id = timer_id(slot, t->gen);
        eddy_timer_cb cb = t->cb;
        void *ud = t->ud;
        eddy_heap_remove(&loop->timer_heap, n);
        if (t->interval) {
            t->node.key = loop->now_ms + t->interval;
            t->node.seq = loop->timer_seq++;
            eddy_heap_push(&loop->timer_heap, &t->node); /* cannot fail: the heap just shrank */
        } else {
            free_slot(loop, slot);
        }
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
    eddy_heap_free(&loop->timer_heap);
}
