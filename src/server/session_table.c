/*
 * PROCESS mode: the master's connection table in shared memory (see
 * session_entry_t). Reactor threads write the entries of their own
 * descriptors; workers read any entry without a lock, under the entry's
 * sequence counter.
 */
#include <errno.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>

#include "server_internal.h"

int eddy__table_create(session_table_t *t, size_t size, int workers, int reactors)
{
    size_t entries = size * sizeof(session_entry_t);
    size_t stats = (size_t)reactors * sizeof(reactor_stats_t);
    size_t counters = (2 * (size_t)workers + 1) * sizeof(uint64_t);
    size_t len = entries + stats + counters;
    /* Pages are touched only for descriptors that are used. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -errno;
    t->entries = p;
    t->size = size;
    t->reactor_stats = (reactor_stats_t *)((char *)p + entries);
    t->nreactors = reactors;
    t->dispatched = (uint64_t *)((char *)p + entries + stats);
    t->finished = t->dispatched + workers;
    t->fd_end = t->finished + workers;
    t->map_len = len;
    return 0;
}

void eddy__table_destroy(session_table_t *t)
{
    if (t->entries) munmap(t->entries, t->map_len);
    memset(t, 0, sizeof *t);
}

void eddy__table_note_fd(session_table_t *t, int fd)
{
    uint64_t end = (uint64_t)fd + 1, cur = __atomic_load_n(t->fd_end, __ATOMIC_RELAXED);
    while (cur < end && !__atomic_compare_exchange_n(t->fd_end, &cur, end, true, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED)) {
    }
}

/* An odd seq is also the writers' lock: a descriptor closed by one reactor
 * thread may be accepted again by another before the first has run its
 * on_close, so two threads can write one entry. */
void eddy__table_write_begin(session_entry_t *e)
{
    for (unsigned spins = 0;; spins++) {
        uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
        if (!(seq & 1) && __atomic_compare_exchange_n(&e->seq, &seq, seq + 1, false,
                                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        if (spins > 64) sched_yield();
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void eddy__table_write_end(session_entry_t *e)
{
    __atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

bool eddy__table_read(const session_table_t *t, eddy_session_t id, session_entry_t *out)
{
    size_t fd = (size_t)session_fd(id);
    if (!t->entries || fd >= t->size || (uint32_t)id == 0) return false;
    const session_entry_t *e = &t->entries[fd];
    for (unsigned spins = 0;; spins++) {
        uint32_t before = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
        if (before & 1) { /* a reactor is writing it: a few stores, unless preempted */
            if (spins > 64) sched_yield();
            continue;
        }
        memcpy(out, e, sizeof *out);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == before) break;
    }
    return out->gen == (uint32_t)id && out->reactor == session_owner(id);
}

void eddy__table_publish_stats(session_table_t *t, int reactor, const eddy_net_stats_t *net)
{
    reactor_stats_t *b = &t->reactor_stats[reactor];
    __atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    b->net = *net;
    __atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELEASE);
}

void eddy__table_sum_stats(const session_table_t *t, eddy_net_stats_t *out)
{
    for (int i = 0; i < t->nreactors; i++) {
        const reactor_stats_t *b = &t->reactor_stats[i];
        eddy_net_stats_t copy;
        for (;;) {
            uint32_t before = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
            if (before & 1) continue; /* a few stores: the reactor is at it now */
            memcpy(&copy, &b->net, sizeof copy);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&b->seq, __ATOMIC_RELAXED) == before) break;
        }
        eddy__net_stats_add(out, &copy);
    }
}
