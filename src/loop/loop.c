#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base_internal.h"
#include "eddy/clock.h"
#include "loop_internal.h"

#define EVENTS_PER_WAIT 512

static void wakeup_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud);

int eddy_loop_new(eddy_loop_t **out)
{
    eddy_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop) return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakeup_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    loop->signal_fd = -1;
    int rc = 0;
    if (loop->epfd < 0 || loop->wakeup_fd < 0) rc = -errno;
    pthread_mutex_init(&loop->post_lock, NULL);
    eddy_heap_init(&loop->timer_heap);
    sigemptyset(&loop->signal_mask);
    if (rc == 0) rc = eddy__io_add_internal(loop, loop->wakeup_fd, EDDY_READABLE, wakeup_cb, NULL);
    if (rc < 0) {
        eddy_loop_free(loop);
        return rc;
    }
    eddy_loop_update_time(loop);
    *out = loop;
    return 0;
}

static post_node_t *take_posted(eddy_loop_t *loop)
{
    pthread_mutex_lock(&loop->post_lock);
    post_node_t *n = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    loop->wakeup_pending = false;
    pthread_mutex_unlock(&loop->post_lock);
    return n;
}

static void drop_posted(eddy_loop_t *loop, post_node_t *n)
{
    while (n) {
        post_node_t *next = n->next;
        n->drop(loop, n);
        n = next;
    }
}

static void free_memory(eddy_loop_t *loop)
{
    eddy__timers_free(loop);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop->io);
    free(loop->defers);
    free(loop->scratch);
    if (loop->net_free) loop->net_free(loop->net);
    free(loop);
}

void eddy_loop_discard_after_fork(eddy_loop_t *loop)
{
    if (!loop) return;
    /* The epoll set and the signalfd are shared with the parent: closing our
     * descriptors leaves them alone, where epoll_ctl or signalfd would change
     * the parent's. Pool jobs and their posts belong to the parent too. */
    drop_posted(loop, take_posted(loop));
    eddy__signals_discard(loop);
    if (loop->signal_fd >= 0) close(loop->signal_fd);
    if (loop->wakeup_fd >= 0) close(loop->wakeup_fd);
    if (loop->epfd >= 0) close(loop->epfd);
    free_memory(loop);
}

void eddy_loop_free(eddy_loop_t *loop)
{
    if (!loop) return;
    /* Pool jobs still queued or running will post their completion to this
     * loop: wait for every one, and drop its done callback unrun. */
    while (loop->work_pending > 0 && loop->wakeup_fd >= 0) {
        struct pollfd p = {.fd = loop->wakeup_fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) {
            uint64_t count;
            ssize_t r = read(loop->wakeup_fd, &count, sizeof count);
            (void)r;
        }
        drop_posted(loop, take_posted(loop));
    }
    /* A thread that posted or stopped may have been seen by the loop before
     * it finished its wakeup write: let it finish before the loop goes. Posts
     * write under post_lock; stops are counted (they take no lock). */
    drop_posted(loop, take_posted(loop));
    while (atomic_load(&loop->stoppers) > 0)
        sched_yield();
    eddy__signals_free(loop);
    if (loop->wakeup_fd >= 0) close(loop->wakeup_fd);
    if (loop->epfd >= 0) close(loop->epfd);
    free_memory(loop);
}

uint64_t eddy_loop_now(const eddy_loop_t *loop)
{
    return loop->now_ms;
}

void eddy_loop_update_time(eddy_loop_t *loop)
{
    loop->now_ms = eddy_clock_ms();
    time_t sec = time(NULL);
    if (sec != loop->date_sec) {
        loop->date_sec = sec;
        eddy_http_date(sec, loop->date);
    }
}

const char *eddy_loop_date(const eddy_loop_t *loop)
{
    return loop->date;
}

/* Declared in net/net_internal.h, the only user. */
char *eddy__loop_scratch(eddy_loop_t *loop, size_t *size);
void *eddy__loop_net(eddy_loop_t *loop);
void eddy__loop_set_net(eddy_loop_t *loop, void *net, void (*net_free)(void *));

void *eddy__loop_net(eddy_loop_t *loop)
{
    return loop->net;
}

void eddy__loop_set_net(eddy_loop_t *loop, void *net, void (*net_free)(void *))
{
    loop->net = net;
    loop->net_free = net_free;
}

#define SCRATCH_SIZE (64 * 1024)

char *eddy__loop_scratch(eddy_loop_t *loop, size_t *size)
{
    if (!loop->scratch) loop->scratch = malloc(SCRATCH_SIZE);
    *size = loop->scratch ? SCRATCH_SIZE : 0;
    return loop->scratch;
}

void eddy_loop_set_data(eddy_loop_t *loop, void *data)
{
    loop->data = data;
}

void *eddy_loop_data(const eddy_loop_t *loop)
{
    return loop->data;
}

/* ---- io watchers ----------------------------------------------------------- */

static uint32_t to_epoll(unsigned events)
{
    uint32_t ev = 0;
    if (events & EDDY_READABLE) ev |= EPOLLIN | EPOLLRDHUP;
    if (events & EDDY_WRITABLE) ev |= EPOLLOUT;
    if (events & EDDY_EDGE) ev |= EPOLLET;
    return ev;
}

static unsigned from_epoll(uint32_t ev)
{
    unsigned events = 0;
    if (ev & EPOLLIN) events |= EDDY_READABLE;
    if (ev & EPOLLOUT) events |= EDDY_WRITABLE;
    if (ev & (EPOLLHUP | EPOLLRDHUP)) events |= EDDY_HANGUP;
    if (ev & EPOLLERR) events |= EDDY_ERRORED;
    return events;
}

static int io_reserve(eddy_loop_t *loop, int fd)
{
    io_watcher_t *io = eddy__grow_zeroed(loop->io, &loop->io_cap, sizeof *io, (size_t)fd, 64);
    if (!io) return -ENOMEM;
    loop->io = io;
    return 0;
}

static struct epoll_event epoll_event_for(const io_watcher_t *w, int fd)
{
    struct epoll_event ev = {.events = to_epoll(w->events)};
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)w->gen << 32;
    return ev;
}

int eddy__io_add_internal(eddy_loop_t *loop, int fd, unsigned events, eddy_io_cb cb, void *ud)
{
    if (fd < 0 || !cb) return -EINVAL;
    int rc = io_reserve(loop, fd);
    if (rc < 0) return rc;
    io_watcher_t *w = &loop->io[fd];
    if (w->used) return -EEXIST;
    w->cb = cb;
    w->ud = ud;
    w->events = events;
    w->gen++;
    struct epoll_event ev = epoll_event_for(w, fd);
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return -errno;
    w->used = true;
    return 0;
}

int eddy__io_remove_internal(eddy_loop_t *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->io_cap || !loop->io[fd].used) return -ENOENT;
    loop->io[fd].used = false;
    /* The watcher is gone whatever epoll says. The fd may already be closed
     * (EBADF; the file left the epoll set when it closed: ENOENT) or its
     * number reused by a file epoll cannot watch at all (EPERM). */
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT &&
        errno != EPERM)
        return -errno;
    return 0;
}

int eddy_io_add(eddy_loop_t *loop, int fd, unsigned events, eddy_io_cb cb, void *ud)
{
    int rc = eddy__io_add_internal(loop, fd, events, cb, ud);
    if (rc == 0) loop->io_user_count++;
    return rc;
}

int eddy_io_modify(eddy_loop_t *loop, int fd, unsigned events)
{
    if (fd < 0 || (size_t)fd >= loop->io_cap || !loop->io[fd].used) return -ENOENT;
    io_watcher_t *w = &loop->io[fd];
    w->events = events;
    struct epoll_event ev = epoll_event_for(w, fd);
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int eddy_io_remove(eddy_loop_t *loop, int fd)
{
    int rc = eddy__io_remove_internal(loop, fd);
    /* Any result but -ENOENT means the watcher existed and is now gone. */
    if (rc != -ENOENT) loop->io_user_count--;
    return rc;
}

static void dispatch_io(eddy_loop_t *loop, const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    if ((size_t)fd >= loop->io_cap) return;
    io_watcher_t *w = &loop->io[fd];
    /* Removed (or removed and re-added) since epoll_wait returned. */
    if (!w->used || w->gen != gen) return;
    /* Modified since epoll_wait returned: drop what it no longer asks for
     * (hangups and errors are always reported, as epoll does). */
    unsigned events = from_epoll(ev->events);
    events &= (w->events & (EDDY_READABLE | EDDY_WRITABLE)) | EDDY_HANGUP | EDDY_ERRORED;
    if (events) w->cb(loop, fd, events, w->ud);
}

/* ---- defer and post ------------------------------------------------------ */

int eddy_defer(eddy_loop_t *loop, eddy_callback_fn cb, void *ud)
{
    if (loop->defer_len == loop->defer_cap) {
        size_t cap = loop->defer_cap ? loop->defer_cap * 2 : 64;
        deferred_t *d = realloc(loop->defers, cap * sizeof *d);
        if (!d) return -ENOMEM;
        loop->defers = d;
        loop->defer_cap = cap;
    }
    loop->defers[loop->defer_len++] = (deferred_t){cb, ud};
    return 0;
}

static void run_defers(eddy_loop_t *loop)
{
    /* Only what was queued before this phase began; later ones wait a turn. */
    size_t n = loop->defer_len;
    if (n == 0) return; /* defers may still be NULL: no memmove(NULL, ...) */
    for (size_t i = 0; i < n; i++)
        loop->defers[i].cb(loop, loop->defers[i].ud);
    memmove(loop->defers, loop->defers + n, (loop->defer_len - n) * sizeof *loop->defers);
    loop->defer_len -= n;
}

static void wakeup(eddy_loop_t *loop)
{
    uint64_t one = 1;
    ssize_t w = write(loop->wakeup_fd, &one, sizeof one);
    (void)w; /* EAGAIN means the counter is already non-zero: the loop will wake */
}

void eddy__loop_post_node(eddy_loop_t *loop, post_node_t *node)
{
    node->next = NULL;
    pthread_mutex_lock(&loop->post_lock);
    if (loop->post_tail)
        loop->post_tail->next = node;
    else
        loop->post_head = node;
    loop->post_tail = node;
    /* Write under the lock: once the loop can take this node, this thread is
     * done with the loop, which may then be freed at once. */
    if (!loop->wakeup_pending) {
        loop->wakeup_pending = true;
        wakeup(loop);
    }
    pthread_mutex_unlock(&loop->post_lock);
}

typedef struct posted {
    post_node_t node; /* first: the node is the allocation */
    eddy_callback_fn cb;
    void *ud;
} posted_t;

static void posted_run(eddy_loop_t *loop, post_node_t *node)
{
    posted_t *p = (posted_t *)node;
    eddy_callback_fn cb = p->cb;
    void *ud = p->ud;
    free(p);
    cb(loop, ud);
}

static void posted_drop(eddy_loop_t *loop, post_node_t *node)
{
    free(node);
}

int eddy_loop_post(eddy_loop_t *loop, eddy_callback_fn cb, void *ud)
{
    if (!cb) return -EINVAL;
    posted_t *p = malloc(sizeof *p);
    if (!p) return -ENOMEM;
    p->node.run = posted_run;
    p->node.drop = posted_drop;
    p->cb = cb;
    p->ud = ud;
    eddy__loop_post_node(loop, &p->node);
    return 0;
}

static void run_posted(eddy_loop_t *loop)
{
    post_node_t *n = take_posted(loop);
    while (n) {
        post_node_t *next = n->next;
        n->run(loop, n); /* frees n */
        n = next;
    }
}

static void wakeup_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    uint64_t count;
    ssize_t r = read(fd, &count, sizeof count);
    (void)r;
    run_posted(loop);
}

void eddy_loop_stop(eddy_loop_t *loop)
{
    /* No lock, so a stop never waits for a poster. Counted, so that a loop
     * which sees the flag before this write and returns is not freed under
     * it (eddy_loop_free waits for the count to drop). */
    atomic_fetch_add(&loop->stoppers, 1);
    atomic_store(&loop->stop, true);
    wakeup(loop);
    atomic_fetch_sub(&loop->stoppers, 1);
}

/* ---- running ----------------------------------------------------------------- */

static bool loop_alive(const eddy_loop_t *loop)
{
    return loop->io_user_count > 0 || loop->timer_live > 0 || loop->defer_len > 0 ||
           loop->work_pending > 0 || loop->signal_count > 0;
}

static int poll_timeout(const eddy_loop_t *loop, int limit_ms)
{
    if (loop->defer_len > 0 || !loop_alive(loop)) return 0;
    int t = eddy__timers_next_timeout(loop);
    if (limit_ms >= 0 && (t < 0 || t > limit_ms)) t = limit_ms;
    return t;
}

int eddy_loop_run_once(eddy_loop_t *loop, int timeout_ms)
{
    struct epoll_event events[EVENTS_PER_WAIT];
    eddy_loop_update_time(loop);
    eddy__timers_run(loop);
    int n = epoll_wait(loop->epfd, events, EVENTS_PER_WAIT, poll_timeout(loop, timeout_ms));
    if (n < 0 && errno != EINTR) return -errno;
    eddy_loop_update_time(loop);
    for (int i = 0; i < n; i++)
        dispatch_io(loop, &events[i]);
    run_defers(loop);
    return loop_alive(loop) ? 1 : 0;
}

int eddy_loop_run(eddy_loop_t *loop)
{
    int rc = 1;
    while (rc > 0 && !atomic_load(&loop->stop))
        rc = eddy_loop_run_once(loop, -1);
    atomic_store(&loop->stop, false);
    return rc < 0 ? rc : 0;
}
