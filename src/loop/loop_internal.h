/* Private to loop/: the loop structure shared by loop.c, timer.c, signal.c
 * and threadpool.c. */
#ifndef EDDY_LOOP_INTERNAL_H
#define EDDY_LOOP_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "eddy/heap.h"
#include "eddy/list.h"
#include "eddy/loop.h"

typedef struct io_watcher {
    eddy_io_cb cb;
    void *ud;
    unsigned events;
    uint32_t gen; /* bumped on every add, so stale epoll events can be told apart */
    bool used;
} io_watcher_t;

typedef struct deferred {
    eddy_callback_fn cb;
    void *ud;
} deferred_t;

/* A posted callback; the thread pool embeds one in each job so completing a
 * job can never fail for lack of memory. The node's owner supplies both
 * functions; each frees the node (or what embeds it). */
typedef struct post_node {
    struct post_node *next;
    void (*run)(eddy_loop_t *loop, struct post_node *node);  /* on the loop thread */
    void (*drop)(eddy_loop_t *loop, struct post_node *node); /* at eddy_loop_free: free, no run */
} post_node_t;

/* Timers that share a deadline share a bucket: a FIFO in start order, so
 * equal deadlines fire in the order they were started by construction, and
 * firing or cancelling one costs O(1). The heap orders the buckets. */
typedef struct timer_bucket {
    eddy_heap_node_t node; /* key = deadline */
    eddy_list_t timers;
    struct timer_bucket *next_free;
} timer_bucket_t;

typedef struct timer {
    eddy_list_t link; /* in its bucket */
    timer_bucket_t *bucket;
    eddy_timer_cb cb;
    void *ud;
    uint64_t interval; /* 0 for one-shot */
    uint64_t seq;      /* start order */
    uint32_t slot;
    uint32_t gen; /* id = gen << 32 | (slot + 1) */
    bool live;
} loop_timer_t;

#define TIMER_BLOCK_SHIFT 12
#define TIMER_BLOCK_SIZE  (1u << TIMER_BLOCK_SHIFT)

typedef struct signal_watch {
    eddy_signal_cb cb;
    void *ud;
    bool active;
    bool was_blocked;
} signal_watch_t;

struct eddy_loop {
    int epfd;
    uint64_t now_ms;
    time_t date_sec;
    char date[32];
    void *data;
    atomic_bool stop;
    atomic_int stoppers; /* threads inside eddy_loop_stop; eddy_loop_free waits for 0 */

    io_watcher_t *io;
    size_t io_cap;
    size_t io_user_count; /* watchers added through eddy_io_add */

    deferred_t *defers;
    size_t defer_len, defer_cap;

    /* timers: slots in fixed-size blocks (they never move), grouped in
     * deadline buckets found through an open-addressing map */
    eddy_heap_t timer_heap; /* of buckets */
    timer_bucket_t **bucket_map;
    size_t bucket_map_cap; /* power of two */
    size_t bucket_count;
    timer_bucket_t *bucket_free;
    size_t timer_live;
    loop_timer_t **timer_blocks;
    size_t timer_block_count;
    uint32_t *timer_free; /* stack of free slot numbers */
    size_t timer_free_len;
    size_t timer_slots; /* slots ever handed out */
    uint64_t timer_seq;

    /* cross-thread wakeup */
    int wakeup_fd;
    pthread_mutex_t post_lock;
    post_node_t *post_head, *post_tail;
    bool wakeup_pending; /* guarded by post_lock: written, not yet read by the loop */

    int signal_fd;
    sigset_t signal_mask;
    signal_watch_t signals[_NSIG];
    size_t signal_count;

    size_t work_pending; /* jobs queued by this loop whose done has not run */

    char *scratch; /* shared read space for the loop's connections */
    void *net;     /* net/'s per-loop state, freed with net_free */
    void (*net_free)(void *);
};

void eddy__loop_post_node(eddy_loop_t *loop, post_node_t *node);
void eddy__timers_run(eddy_loop_t *loop);
int eddy__timers_next_timeout(const eddy_loop_t *loop);
void eddy__timers_free(eddy_loop_t *loop);
void eddy__signals_free(eddy_loop_t *loop);
/* After fork: unblock what the loop blocked, touch no shared descriptor. */
void eddy__signals_discard(eddy_loop_t *loop);
int eddy__io_add_internal(eddy_loop_t *loop, int fd, unsigned events, eddy_io_cb cb, void *ud);
int eddy__io_remove_internal(eddy_loop_t *loop, int fd);

#endif
