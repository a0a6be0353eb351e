/*
 * eddy/loop.h — the event loop.
 *
 * One eddy_loop_t per thread: an epoll reactor with io watchers on arbitrary
 * file descriptors, millisecond timers, signals read through signalfd,
 * callbacks deferred to the end of the iteration, callbacks posted from other
 * threads, and a shared thread pool whose jobs complete back on the loop.
 *
 * Each iteration runs these phases, in this order:
 *   1. update the cached time (eddy_loop_now, eddy_loop_date);
 *   2. run expired timers, earliest deadline first; equal deadlines in the
 *      order the timers were started;
 *   3. wait in epoll_wait — not at all if deferred callbacks are queued, else
 *      until the next timer deadline;
 *   4. run io callbacks for the ready descriptors (posted callbacks, thread
 *      pool completions and signals arrive here too);
 *   5. run the deferred callbacks queued so far (eddy_defer). Connections
 *      flush their output in this phase, once per iteration.
 *
 * Everything except eddy_loop_post and eddy_loop_stop must be called on the
 * loop's own thread. A loop never forks or spawns threads on its own; the
 * thread pool starts on first use (after any fork the program makes).
 */
#ifndef EDDY_LOOP_H
#define EDDY_LOOP_H

#include "common.h"

/* ---- the loop ---------------------------------------------------------- */

EDDY_EXPORT int eddy_loop_new(eddy_loop_t **out);
/* Free a loop that is not running. Watchers must have been removed and
 * connections closed; timers, deferred and posted callbacks still queued are
 * dropped without running. Waits for the loop's thread-pool jobs that are
 * already running to finish (their done callbacks are dropped), so a job
 * that never returns makes this block. */
EDDY_EXPORT void eddy_loop_free(eddy_loop_t *loop);

/* In a child process after fork(): release a loop inherited from the
 * parent. eddy_loop_free would change kernel objects the parent still uses
 * (its epoll set and signalfd are shared across fork); this only closes the
 * child's descriptors, unblocks the signals the loop had blocked, and frees
 * memory. Queued callbacks and timers are dropped. */
EDDY_EXPORT void eddy_loop_discard_after_fork(eddy_loop_t *loop);

/* Run until eddy_loop_stop() or until nothing is left that could make
 * progress (no watchers, timers, deferred callbacks or pool jobs).
 * Returns 0, or a negative error if epoll itself failed. */
EDDY_EXPORT int eddy_loop_run(eddy_loop_t *loop);
/* One iteration. timeout_ms bounds the wait (-1: until an event or timer).
 * Returns 1 if anything is still alive, 0 if not, or a negative error. */
EDDY_EXPORT int eddy_loop_run_once(eddy_loop_t *loop, int timeout_ms);
/* Make eddy_loop_run return after the current iteration. Thread-safe. */
EDDY_EXPORT void eddy_loop_stop(eddy_loop_t *loop);

EDDY_EXPORT uint64_t eddy_loop_now(const eddy_loop_t *loop); /* cached monotonic ms */
EDDY_EXPORT void eddy_loop_update_time(eddy_loop_t *loop);
/* The current date as an IMF-fixdate, reformatted at most once per second.
 * Valid until the next iteration. */
EDDY_EXPORT const char *eddy_loop_date(const eddy_loop_t *loop);

EDDY_EXPORT void eddy_loop_set_data(eddy_loop_t *loop, void *data);
EDDY_EXPORT void *eddy_loop_data(const eddy_loop_t *loop);

/* ---- io watchers (what Swoole calls swoole_event_add/set/del) ---------- */

enum {
    EDDY_READABLE = 1u << 0,
    EDDY_WRITABLE = 1u << 1,
    EDDY_HANGUP = 1u << 2,  /* reported only: peer closed (EPOLLHUP/EPOLLRDHUP) */
    EDDY_ERRORED = 1u << 3, /* reported only: EPOLLERR */
    EDDY_EDGE = 1u << 4,    /* requested only: edge-triggered */
};

typedef void (*eddy_io_cb)(eddy_loop_t *loop, int fd, unsigned events, void *ud);

/* Watch fd for events (EDDY_READABLE | EDDY_WRITABLE, optionally EDDY_EDGE).
 * One watcher per fd. The loop does not own fd: remove the watcher before
 * closing it. An event already collected for a removed watcher is never
 * delivered, even if the fd number is reused in the same iteration. */
EDDY_EXPORT int eddy_io_add(eddy_loop_t *loop, int fd, unsigned events, eddy_io_cb cb, void *ud);
EDDY_EXPORT int eddy_io_modify(eddy_loop_t *loop, int fd, unsigned events);
EDDY_EXPORT int eddy_io_remove(eddy_loop_t *loop, int fd);

/* ---- deferred and posted callbacks -------------------------------------- */

typedef void (*eddy_callback_fn)(eddy_loop_t *loop, void *ud);

/* Run cb at the end of the current iteration (phase 5). Callbacks deferred
 * from inside a deferred callback run in the next iteration. 0 or -ENOMEM. */
EDDY_EXPORT int eddy_defer(eddy_loop_t *loop, eddy_callback_fn cb, void *ud);
/* Run cb on the loop's thread, soon. Callable from any thread. A pending
 * post does not keep eddy_loop_run alive: a loop that waits only for posts
 * needs a watcher or timer. */
EDDY_EXPORT int eddy_loop_post(eddy_loop_t *loop, eddy_callback_fn cb, void *ud);

/* ---- timers --------------------------------------------------------------- */

typedef void (*eddy_timer_cb)(eddy_loop_t *loop, int64_t id, void *ud);

/* Run cb once, ms milliseconds from now. Returns the timer id (> 0) or a
 * negative error. Ids are never reused while the timer is live. */
EDDY_EXPORT int64_t eddy_timer_after(eddy_loop_t *loop, uint64_t ms, eddy_timer_cb cb, void *ud);
/* Run cb every ms milliseconds (ms >= 1) until cleared. */
EDDY_EXPORT int64_t eddy_timer_tick(eddy_loop_t *loop, uint64_t ms, eddy_timer_cb cb, void *ud);
/* Cancel a live timer (a tick timer also from inside its own callback). 0,
 * or -EDDY_ETIMER if id names no live timer — a one-shot timer is no longer
 * live once its callback runs. */
EDDY_EXPORT int eddy_timer_clear(eddy_loop_t *loop, int64_t id);
EDDY_EXPORT size_t eddy_timer_count(const eddy_loop_t *loop);

/* ---- signals -------------------------------------------------------------- */

typedef void (*eddy_signal_cb)(eddy_loop_t *loop, int signo, void *ud);

/* Deliver signo to cb through signalfd. The signal is blocked in the calling
 * thread; block it in every other thread too (start signals before creating
 * threads — the thread pool blocks all signals itself). One callback per
 * signal per loop; starting again replaces it. */
EDDY_EXPORT int eddy_signal_start(eddy_loop_t *loop, int signo, eddy_signal_cb cb, void *ud);
/* Stop watching signo and restore its previous blocked state. Instances
 * that arrived but were not yet read are discarded first, so unblocking
 * never lets a stale signal take its default action. */
EDDY_EXPORT int eddy_signal_stop(eddy_loop_t *loop, int signo);

/* ---- thread pool -------------------------------------------------------- */

typedef void (*eddy_work_fn)(void *ud);
typedef void (*eddy_work_done_fn)(eddy_loop_t *loop, void *ud);

/* Run work(ud) on a pool thread, then done(loop, ud) on the loop's thread.
 * The pool is shared by all loops of the process, starts on first use with
 * EDDY_THREADPOOL_SIZE threads (default 4), and blocks all signals. A queued
 * job keeps the loop alive until done has run. */
EDDY_EXPORT int eddy_work_queue(eddy_loop_t *loop, eddy_work_fn work, eddy_work_done_fn done,
                                void *ud);

#endif
