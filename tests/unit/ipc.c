/*
 * server/ipc: messages between real processes (fork) — round trips across
 * the chunk boundary up to 8 MiB, order and batching of 100k small
 * messages, four senders into one inbox, a sender killed in the middle of a
 * chunked message and its replacement, the per-destination queue bound, the
 * blocking wait (match, timeout, order of the rest, inside on_message) and
 * the size limit on both sides. Also prints throughput numbers.
 *
 * EDDY_IPC_BENCH_SCALE=N multiplies the throughput runs (default 1).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/loop.h"
#include "server/ipc.h"
#include "test.h"

#define MAX_SLOTS 6

static ipc_inbox_t inboxes[MAX_SLOTS];
static int ninboxes;

static void inboxes_create(int n)
{
    ninboxes = n;
    for (int i = 0; i < n; i++)
        CHECK_EQ(eddy__ipc_inbox_create(&inboxes[i]), 0);
}

static void inboxes_close(void)
{
    for (int i = 0; i < ninboxes; i++)
        eddy__ipc_inbox_close(&inboxes[i]);
    ninboxes = 0;
}

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop = NULL;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

/* Byte i of a payload made with seed. */
static uint8_t pat(size_t i, uint32_t seed)
{
    return (uint8_t)((i >> 7) ^ (i * 131u) ^ seed);
}

static void fill(void *p, size_t len, uint32_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        b[i] = pat(i, seed);
}

/* p[from..len) follows the pattern made with seed. */
static bool same_from(const void *p, size_t from, size_t len, uint32_t seed)
{
    const uint8_t *b = p;
    for (size_t i = from; i < len; i++)
        if (b[i] != pat(i, seed)) return false;
    return true;
}

static bool same(const void *p, size_t len, uint32_t seed)
{
    return same_from(p, 0, len, seed);
}

/* Bytes a record of this payload takes in a datagram. */
static size_t align_rec(size_t payload)
{
    return (IPC_HEADER_SIZE + payload + 7) & ~(size_t)7;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECK(p);
    return p;
}

/* Run the loop until cond holds or ms pass. */
#define RUN_UNTIL(loop, cond, ms)                                                                  \
    do {                                                                                           \
        uint64_t end_ = eddy_clock_ms() + (ms);                                                    \
        while (!(cond) && eddy_clock_ms() < end_)                                                  \
            eddy_loop_run_once((loop), 10);                                                        \
    } while (0)

typedef void (*child_fn)(int slot, void *arg);

static pid_t spawn(child_fn fn, int slot, void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a hung child must not hang the test */
        fn(slot, arg);
        inboxes_close();
        exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "child %d: status 0x%x\n", (int)pid, (unsigned)st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- a received-message log ------------------------------------------------ */

typedef struct got {
    uint16_t type;
    int32_t src_slot;
    pid_t src_pid;
    uint64_t id;
    size_t len;
    char *data; /* copy */
} got_t;

typedef struct recorder {
    got_t *msgs;
    size_t n, cap;
    bool keep_data;
} recorder_t;

static void record(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    recorder_t *r = ud;
    CHECK(m->data != NULL);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->msgs = realloc(r->msgs, r->cap * sizeof *r->msgs);
        CHECK(r->msgs);
    }
    got_t *g = &r->msgs[r->n++];
    *g = (got_t){m->type, m->src_slot, m->src_pid, m->id, m->len, NULL};
    if (r->keep_data) {
        g->data = xmalloc(m->len);
        memcpy(g->data, m->data, m->len);
    }
}

static void recorder_free(recorder_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->msgs[i].data);
    free(r->msgs);
    memset(r, 0, sizeof *r);
}

/* ---- round trip ------------------------------------------------------------ */

enum { T_QUIT = 999 };

typedef struct echo_child {
    ipc_t *ipc;
    eddy_loop_t *loop;
    bool quit;
} echo_child_t;

static void echo_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    echo_child_t *c = ud;
    if (m->type == T_QUIT) {
        c->quit = true;
        return;
    }
    CHECK_EQ(eddy__ipc_send(ipc, m->src_slot, m->type, m->id, m->data, m->len), 0);
}

static void echo_main(int slot, void *arg)
{
    echo_child_t c = {0};
    c.loop = new_loop();
    CHECK_EQ(eddy__ipc_open(&c.ipc, c.loop, inboxes, ninboxes, slot, 0, echo_cb, &c), 0);
    while (!c.quit)
        eddy_loop_run_once(c.loop, 100);
    CHECK_EQ(eddy__ipc_flush(c.ipc, 5000), 0);
    eddy__ipc_close(c.ipc);
    eddy_loop_free(c.loop);
}

static void test_round_trip(void)
{
    inboxes_create(2);
    pid_t pid = spawn(echo_main, 1, NULL);
    eddy_loop_t *loop = new_loop();
    recorder_t r = {.keep_data = true};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, record, &r), 0);

    const size_t sizes[] = {
        0,
        1,
        7,
        100,
        IPC_CHUNK_MAX - 1,
        IPC_CHUNK_MAX, /* the largest single-datagram message */
        IPC_CHUNK_MAX + 1,
        IPC_DGRAM_MAX,
        2 * IPC_CHUNK_MAX,
        2 * IPC_CHUNK_MAX + 1,
        12,
        (1u << 20) + 3,
        8u << 20,
        5,
    };
    size_t n = sizeof sizes / sizeof sizes[0];
    /* All in one iteration: small records pack around the chunked ones. */
    for (size_t i = 0; i < n; i++) {
        char *buf = xmalloc(sizes[i]);
        fill(buf, sizes[i], (uint32_t)i);
        CHECK_EQ(eddy__ipc_send(ipc, 1, (uint16_t)(100 + i), 1000000 + i, buf, sizes[i]), 0);
        free(buf);
    }
    RUN_UNTIL(loop, r.n == n, 10000);
    CHECK_EQ(r.n, n);
    for (size_t i = 0; i < n; i++) {
        got_t *g = &r.msgs[i];
        CHECK_EQ(g->type, 100 + i);
        CHECK_EQ(g->id, 1000000 + i);
        CHECK_EQ(g->len, sizes[i]);
        CHECK_EQ(g->src_slot, 1);
        CHECK_EQ(g->src_pid, pid);
        CHECK(same(g->data, g->len, (uint32_t)i));
    }
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    CHECK_EQ(st->messages_sent, n);
    CHECK_EQ(st->messages_received, n);
    CHECK_EQ(st->malformed, 0);
    CHECK_EQ(st->partials_dropped, 0);
    CHECK_EQ(eddy__ipc_queued(ipc, 1), 0);

    CHECK_EQ(eddy__ipc_send(ipc, 1, T_QUIT, 0, NULL, 0), 0);
    CHECK_EQ(eddy__ipc_flush(ipc, 5000), 0);
    reap(pid);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&r);
    inboxes_close();
}

/* ---- batching and order ---------------------------------------------------- */

static void test_batching_one_process(void)
{
    /* 1000 sends in one iteration to one destination: one datagram. */
    inboxes_create(1);
    eddy_loop_t *loop = new_loop();
    recorder_t r = {.keep_data = true};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 1, 0, 0, record, &r), 0);
    for (uint32_t i = 0; i < 1000; i++)
        CHECK_EQ(eddy__ipc_send(ipc, 0, 1, i, &i, sizeof i), 0);
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    CHECK_EQ(st->datagrams_sent, 0); /* nothing written before the iteration ends */
    CHECK(eddy__ipc_queued(ipc, 0) > 1000 * (IPC_HEADER_SIZE + 4));
    RUN_UNTIL(loop, r.n == 1000, 2000);
    CHECK_EQ(r.n, 1000);
    CHECK_EQ(st->datagrams_sent, 1);
    CHECK_EQ(st->datagrams_received, 1);
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t v;
        CHECK_EQ(r.msgs[i].len, 4);
        memcpy(&v, r.msgs[i].data, 4);
        CHECK_EQ(v, i);
        CHECK_EQ(r.msgs[i].id, i);
        CHECK_EQ(r.msgs[i].src_slot, 0);
        CHECK_EQ(r.msgs[i].src_pid, getpid());
    }
    /* 3000 records of 136 bytes fill seven datagrams of at most 64 KiB. */
    char payload[100];
    fill(payload, sizeof payload, 7);
    for (int i = 0; i < 3000; i++)
        CHECK_EQ(eddy__ipc_send(ipc, 0, 2, (uint64_t)i, payload, sizeof payload), 0);
    RUN_UNTIL(loop, r.n == 4000, 2000);
    CHECK_EQ(r.n, 4000);
    CHECK_EQ(st->datagrams_sent, 1 + 3000 * align_rec(100) / IPC_DGRAM_MAX + 1);
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ(r.msgs[1000 + i].id, i);
        CHECK(same(r.msgs[1000 + i].data, 100, 7));
    }
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&r);
    inboxes_close();
}

typedef struct burst_args {
    uint32_t count, burst;
    size_t payload;
    uint32_t large_every; /* also a chunked message every that many (0: none) */
} burst_args_t;

#define LARGE_SIZE (100u * 1024 + 13)

static void ignore(ipc_t *ipc, const ipc_msg_t *m, void *ud) {}

/* Send args->count numbered messages to slot 0, args->burst per iteration. */
static void burst_main(int slot, void *arg)
{
    const burst_args_t *a = arg;
    eddy_loop_t *loop = new_loop();
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, ninboxes, slot, 64u << 20, ignore, NULL), 0);
    char *buf = xmalloc(a->payload > LARGE_SIZE ? a->payload : LARGE_SIZE);
    memset(buf, 0, a->payload);
    for (uint32_t seq = 0; seq < a->count;) {
        for (uint32_t k = 0; k < a->burst && seq < a->count; k++, seq++) {
            size_t len = a->payload;
            if (a->large_every && seq % a->large_every == a->large_every - 1) {
                len = LARGE_SIZE;
                fill(buf, len, seq);
            }
            memcpy(buf, &seq, sizeof seq);
            int rc;
            /* Back-pressure: let the loop write before queueing more. */
            while ((rc = eddy__ipc_send(ipc, 0, (uint16_t)slot, seq, buf, len)) ==
                   -EDDY_EOUTPUT_FULL)
                eddy_loop_run_once(loop, 10);
            CHECK_EQ(rc, 0);
        }
        eddy_loop_run_once(loop, 0);
    }
    CHECK_EQ(eddy__ipc_flush(ipc, 20000), 0);
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    CHECK_EQ(st->messages_sent, a->count);
    if (!a->large_every && (size_t)a->burst * align_rec(a->payload) <= IPC_DGRAM_MAX) {
        /* One datagram per burst at most (fewer when bursts waited together). */
        CHECK(st->datagrams_sent <= (a->count + a->burst - 1) / a->burst);
    }
    free(buf);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
}

typedef struct order_check {
    uint32_t next[MAX_SLOTS];
    pid_t pid[MAX_SLOTS];
    uint64_t total;
    uint32_t large_every;
    uint64_t first_ms, last_ms;
    bool bad;
} order_check_t;

static void order_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    order_check_t *o = ud;
    int s = m->src_slot;
    uint32_t seq;
    if (s < 1 || s >= MAX_SLOTS || m->type != s || m->len < 4 || m->src_pid != o->pid[s]) {
        o->bad = true;
        return;
    }
    memcpy(&seq, m->data, 4);
    if (seq != o->next[s] || m->id != seq) o->bad = true;
    if (o->large_every && seq % o->large_every == o->large_every - 1) {
        /* the first 4 bytes carry seq; the rest follows the pattern */
        if (m->len != LARGE_SIZE || !same_from(m->data, 4, LARGE_SIZE, seq)) o->bad = true;
    }
    o->next[s]++;
    if (!o->total) o->first_ms = eddy_clock_ms();
    o->total++;
    o->last_ms = eddy_clock_ms();
}

static void test_order_100k(void)
{
    inboxes_create(2);
    burst_args_t a = {.count = 100000, .burst = 1000, .payload = 8};
    pid_t pid = spawn(burst_main, 1, &a);
    eddy_loop_t *loop = new_loop();
    order_check_t o = {0};
    o.pid[1] = pid;
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, order_cb, &o), 0);
    RUN_UNTIL(loop, o.total == a.count || o.bad, 20000);
    CHECK(!o.bad);
    CHECK_EQ(o.total, a.count);
    /* 1000 records of 40 bytes per burst: 100 datagrams at most. */
    CHECK(eddy__ipc_stats(ipc)->datagrams_received <= 100);
    reap(pid);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    inboxes_close();
}

/* ---- many senders -------------------------------------------------------- */

static void test_many_senders(void)
{
    inboxes_create(5);
    burst_args_t a = {.count = 20000, .burst = 500, .payload = 24, .large_every = 2500};
    pid_t pids[5];
    for (int s = 1; s <= 4; s++)
        pids[s] = spawn(burst_main, s, &a);
    eddy_loop_t *loop = new_loop();
    order_check_t o = {.large_every = a.large_every};
    for (int s = 1; s <= 4; s++)
        o.pid[s] = pids[s];
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 5, 0, 0, order_cb, &o), 0);
    RUN_UNTIL(loop, o.total == 4u * a.count || o.bad, 20000);
    CHECK(!o.bad);
    CHECK_EQ(o.total, 4u * a.count);
    for (int s = 1; s <= 4; s++) {
        CHECK_EQ(o.next[s], a.count);
        reap(pids[s]);
    }
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    CHECK_EQ(st->partials_dropped, 0);
    CHECK_EQ(st->malformed, 0);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    inboxes_close();
}

/* ---- a sender killed in the middle of a chunked message -------------------- */

typedef struct victim_args {
    eddy_loop_t *parent_loop; /* inherited: dropped by the child */
    ipc_t *parent_ipc;
    int ready_fd; /* written once the big message is partly sent */
} victim_args_t;

static void drop_inherited(victim_args_t *v)
{
    /* The parent's ipc and loop are not the child's. */
    eddy__ipc_discard(v->parent_ipc);
    eddy_loop_free(v->parent_loop);
}

static void victim_main(int slot, void *arg)
{
    victim_args_t *v = arg;
    drop_inherited(v);
    eddy_loop_t *loop = new_loop();
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, ninboxes, slot, 0, ignore, NULL), 0);
    size_t len = 8u << 20;
    char *big = xmalloc(len);
    fill(big, len, 1);
    CHECK_EQ(eddy__ipc_send(ipc, 0, 50, 50, big, len), 0);
    free(big);
    /* Nobody reads: the socket takes some chunks, then pushes back. */
    CHECK_EQ(eddy__ipc_flush(ipc, 0), -EAGAIN);
    CHECK(eddy__ipc_stats(ipc)->datagrams_sent > 0);
    CHECK(eddy__ipc_queued(ipc, 0) > 0);
    CHECK_EQ(write(v->ready_fd, "x", 1), 1);
    for (;;)
        pause(); /* until SIGKILL */
}

static const size_t heir_sizes[] = {10, 100 * 1024, 1u << 20};

static void heir_main(int slot, void *arg)
{
    victim_args_t *v = arg;
    drop_inherited(v);
    eddy_loop_t *loop = new_loop();
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, ninboxes, slot, 0, ignore, NULL), 0);
    for (int i = 0; i < 3; i++) {
        char *buf = xmalloc(heir_sizes[i]);
        fill(buf, heir_sizes[i], 60u + (uint32_t)i);
        CHECK_EQ(eddy__ipc_send(ipc, 0, (uint16_t)(60 + i), 0, buf, heir_sizes[i]), 0);
        free(buf);
    }
    CHECK_EQ(eddy__ipc_flush(ipc, 10000), 0);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
}

/* Kill a sender in the middle of an 8 MiB message. */
static pid_t kill_victim(victim_args_t *v)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    v->ready_fd = p[1];
    pid_t pid = spawn(victim_main, 1, v);
    close(p[1]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK_EQ(poll(&pf, 1, 10000), 1);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    CHECK_EQ(kill(pid, SIGKILL), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    return pid;
}

static void check_heir(const recorder_t *r, size_t from)
{
    CHECK_EQ(r->n, from + 3);
    for (size_t i = 0; i < 3; i++) {
        const got_t *g = &r->msgs[from + i];
        CHECK_EQ(g->type, 60 + i);
        CHECK_EQ(g->len, heir_sizes[i]);
        CHECK(same(g->data, g->len, 60u + (uint32_t)i));
    }
}

static void test_killed_sender(void)
{
    inboxes_create(2);
    eddy_loop_t *loop = new_loop();
    recorder_t r = {.keep_data = true};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, record, &r), 0);
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    victim_args_t v = {.parent_loop = loop, .parent_ipc = ipc};

    /* 1. Nobody replaces it: the partial goes once its pid is gone and the
     * inbox has been read empty. */
    kill_victim(&v);
    uint64_t t0 = eddy_clock_ms();
    RUN_UNTIL(loop, st->partials_dropped == 1, 3000);
    CHECK_EQ(st->partials_dropped, 1);
    CHECK(eddy_clock_ms() - t0 < 2000); /* a check or two, not a stall timeout */
    CHECK(st->datagrams_received > 0);
    CHECK_EQ(r.n, 0);

    /* 2. Killed, and the slot's next process starts sending at once, before
     * the receiver has read the dead one's chunks. */
    kill_victim(&v);
    pid_t heir = spawn(heir_main, 1, &v);
    RUN_UNTIL(loop, r.n == 3, 5000);
    check_heir(&r, 0);
    CHECK_EQ(r.msgs[0].src_slot, 1);
    CHECK_EQ(r.msgs[0].src_pid, heir);
    reap(heir);
    RUN_UNTIL(loop, st->partials_dropped == 2, 2000);
    CHECK_EQ(st->partials_dropped, 2);
    CHECK_EQ(st->malformed, 0);

    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&r);
    inboxes_close();
}

/* The rules for partial messages, with hand-made datagrams from made-up
 * senders: one live process, one dead one. */
static void raw_record(pid_t pid, int32_t slot, uint32_t msg_id, uint32_t total, uint32_t offset,
                       uint32_t seed)
{
    static char dgram[IPC_DGRAM_MAX];
    ipc_header_t h = {.type = 70,
                      .src_slot = slot,
                      .src_pid = (uint32_t)pid,
                      .msg_id = msg_id,
                      .id = seed,
                      .total_len = total,
                      .offset = offset};
    size_t plen = total - offset < IPC_CHUNK_MAX ? total - offset : IPC_CHUNK_MAX;
    memcpy(dgram, &h, sizeof h);
    for (size_t i = 0; i < plen; i++)
        dgram[IPC_HEADER_SIZE + i] = (char)pat(offset + i, seed);
    size_t len = IPC_HEADER_SIZE + plen;
    CHECK_EQ(send(inboxes[0].fd[1], dgram, len, 0), (ssize_t)len);
}

static void sleeper_main(int slot, void *arg)
{
    for (;;)
        pause();
}

static void quitter_main(int slot, void *arg) {}

static void test_partial_rules(void)
{
    inboxes_create(1);
    pid_t live = spawn(sleeper_main, 0, NULL);
    pid_t dead = spawn(quitter_main, 0, NULL);
    reap(dead);
    eddy_loop_t *loop = new_loop();
    recorder_t r = {.keep_data = true};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 1, 0, 0, record, &r), 0);
    const ipc_stats_t *st = eddy__ipc_stats(ipc);
    const uint32_t two = 2 * IPC_CHUNK_MAX, three = 3 * IPC_CHUNK_MAX;

    /* Both of slot 1's processes are half way through a message when a
     * third process of slot 1 sends: the dead one's partial goes as soon as
     * the inbox is read empty, the live one's stays (a reload). */
    raw_record(dead, 1, 1, two, 0, 1);
    raw_record(live, 1, 5, two, 0, 5);
    raw_record(getpid(), 1, 9, 2, 0, 9);
    eddy_loop_run_once(loop, 0);
    CHECK_EQ(r.n, 1);
    CHECK_EQ(st->partials_dropped, 1);
    raw_record(live, 1, 5, two, IPC_CHUNK_MAX, 5);
    raw_record(dead, 1, 1, two, IPC_CHUNK_MAX, 1); /* its rest, had it come: not delivered */
    eddy_loop_run_once(loop, 0);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(r.msgs[1].id, 5);
    CHECK_EQ(r.msgs[1].len, two);
    CHECK(same(r.msgs[1].data, two, 5));
    CHECK_EQ(st->malformed, 1);

    /* One process sending as two slots: two senders, interleaved chunks. */
    raw_record(live, 1, 20, three, 0, 20);
    raw_record(live, 2, 21, two, 0, 21);
    raw_record(live, 1, 20, three, IPC_CHUNK_MAX, 20);
    raw_record(live, 2, 21, two, IPC_CHUNK_MAX, 21);
    raw_record(live, 1, 20, three, 2 * IPC_CHUNK_MAX, 20);
    eddy_loop_run_once(loop, 0);
    CHECK_EQ(r.n, 4);
    CHECK_EQ(r.msgs[2].id, 21);
    CHECK(same(r.msgs[2].data, two, 21));
    CHECK_EQ(r.msgs[3].id, 20);
    CHECK(same(r.msgs[3].data, three, 20));
    CHECK_EQ(st->partials_dropped, 1);

    /* A sender that starts another message has given up its partial one. */
    raw_record(live, 1, 30, two, 0, 30);
    raw_record(live, 1, 31, 3, 0, 31);
    eddy_loop_run_once(loop, 0);
    CHECK_EQ(r.n, 5);
    CHECK_EQ(st->partials_dropped, 2);
    /* A partial whose sender lives is kept across the periodic checks. */
    raw_record(live, 1, 32, two, 0, 32);
    uint64_t end = eddy_clock_ms() + 3 * IPC_PARTIAL_CHECK_MS;
    while (eddy_clock_ms() < end)
        eddy_loop_run_once(loop, 10);
    CHECK_EQ(st->partials_dropped, 2);
    kill(live, SIGKILL);
    CHECK_EQ(waitpid(live, NULL, 0), live);
    RUN_UNTIL(loop, st->partials_dropped == 3, 3000);
    CHECK_EQ(st->partials_dropped, 3);
    CHECK_EQ(r.n, 5);

    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&r);
    inboxes_close();
}

/* ---- the queue bound ------------------------------------------------------- */

static void test_queue_bound(void)
{
    /* One process, two loops: a send-only ipc fills slot 0's inbox while
     * nobody reads it, then a reader drains it. */
    inboxes_create(1);
    eddy_loop_t *sloop = new_loop(), *rloop = new_loop();
    ipc_t *snd = NULL, *rcv = NULL;
    const size_t bound = 256 * 1024;
    CHECK_EQ(eddy__ipc_open(&snd, sloop, inboxes, 1, -1, bound, NULL, NULL), 0);
    const ipc_stats_t *st = eddy__ipc_stats(snd);
    char msg[4000];
    memset(msg, 0, sizeof msg);
    uint32_t sent = 0;
    int rc;
    for (;;) {
        memcpy(msg, &sent, sizeof sent);
        rc = eddy__ipc_send(snd, 0, 1, sent, msg, sizeof msg);
        if (rc < 0) break;
        sent++;
        eddy_loop_run_once(sloop, 0);
        CHECK(sent < 100000);
    }
    CHECK_EQ(rc, -EDDY_EOUTPUT_FULL);
    size_t queued = eddy__ipc_queued(snd, 0);
    CHECK(queued <= bound);
    CHECK(queued > bound - 2 * align_rec(sizeof msg));
    CHECK(st->send_blocked > 0);
    /* The kernel took about IPC_SNDBUF before pushing back. */
    CHECK(sent * sizeof msg > IPC_SNDBUF / 2);
    /* Refused sends queue nothing. */
    CHECK_EQ(eddy__ipc_send(snd, 0, 1, 0, msg, sizeof msg), -EDDY_EOUTPUT_FULL);
    CHECK_EQ(eddy__ipc_queued(snd, 0), queued);
    CHECK_EQ(st->messages_sent, sent);
    char *big = xmalloc(bound + 1);
    CHECK_EQ(eddy__ipc_send(snd, 0, 1, 0, big, bound + 1), -EDDY_EOUTPUT_FULL);
    free(big);
    CHECK_EQ(eddy__ipc_flush(snd, 0), -EAGAIN);
    CHECK_EQ(eddy__ipc_flush(snd, 50), -ETIMEDOUT);

    /* Now read: the writable watcher sends the rest, all in order. */
    recorder_t r = {.keep_data = true};
    CHECK_EQ(eddy__ipc_open(&rcv, rloop, inboxes, 1, 0, 0, record, &r), 0);
    uint64_t end = eddy_clock_ms() + 5000;
    while (r.n < sent && eddy_clock_ms() < end) {
        eddy_loop_run_once(rloop, 0);
        eddy_loop_run_once(sloop, 0);
    }
    CHECK_EQ(r.n, sent);
    for (uint32_t i = 0; i < sent; i++) {
        uint32_t v;
        memcpy(&v, r.msgs[i].data, 4);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(eddy__ipc_queued(snd, 0), 0);
    CHECK_EQ(eddy__ipc_send(snd, 0, 1, 0, msg, sizeof msg), 0);
    CHECK_EQ(eddy__ipc_flush(snd, 0), 0);

    eddy__ipc_close(snd);
    eddy__ipc_close(rcv);
    eddy_loop_free(sloop);
    eddy_loop_free(rloop);
    recorder_free(&r);
    inboxes_close();
}

/* ---- waiting --------------------------------------------------------------- */

enum { CMD_ABC = 1, CMD_XYZ, CMD_BIG };

typedef struct cmd_child {
    eddy_loop_t *loop;
    ipc_t *ipc;
    bool quit;
    int step; /* CMD_ABC: next of A, B, C to send */
} cmd_child_t;

static void send_str(ipc_t *ipc, uint16_t type, uint64_t id, const char *s)
{
    CHECK_EQ(eddy__ipc_send(ipc, 0, type, id, s, strlen(s)), 0);
}

static void abc_next(eddy_loop_t *loop, int64_t id, void *ud)
{
    cmd_child_t *c = ud;
    static const char *const names[] = {"A", "B", "C"};
    send_str(c->ipc, (uint16_t)(5 + c->step), (uint64_t)(1 + c->step), names[c->step]);
    if (++c->step < 3) CHECK(eddy_timer_after(loop, 30, abc_next, c) > 0);
}

static void cmd_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    cmd_child_t *c = ud;
    switch (m->type) {
    case CMD_ABC:
        c->step = 0;
        CHECK(eddy_timer_after(c->loop, 30, abc_next, c) > 0);
        break;
    case CMD_XYZ: /* one iteration: one datagram */
        send_str(ipc, 10, 1, "X");
        send_str(ipc, 11, 2, "Y");
        send_str(ipc, 12, 3, "Z");
        break;
    case CMD_BIG: {
        send_str(ipc, 20, 1, "S1");
        size_t len = 8u << 20;
        char *big = xmalloc(len);
        fill(big, len, 21);
        CHECK_EQ(eddy__ipc_send(ipc, 0, 21, 2, big, len), 0);
        free(big);
        send_str(ipc, 22, 3, "S2");
        break;
    }
    case T_QUIT: c->quit = true; break;
    default: CHECK(0);
    }
}

static void cmd_main(int slot, void *arg)
{
    cmd_child_t c = {0};
    c.loop = new_loop();
    CHECK_EQ(eddy__ipc_open(&c.ipc, c.loop, inboxes, ninboxes, slot, 0, cmd_cb, &c), 0);
    while (!c.quit)
        eddy_loop_run_once(c.loop, 100);
    CHECK_EQ(eddy__ipc_flush(c.ipc, 5000), 0);
    eddy__ipc_close(c.ipc);
    eddy_loop_free(c.loop);
}

typedef struct nested {
    recorder_t r;
    bool waited;
    int wait_rc;
    ipc_msg_t got;
} nested_t;

static void nested_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    nested_t *t = ud;
    record(ipc, m, &t->r);
    if (m->type == 10 && !t->waited) {
        /* Z is in the datagram being delivered, behind Y. */
        t->waited = true;
        t->wait_rc = eddy__ipc_wait_id(ipc, 12, 3, 1000, &t->got);
    }
}

static bool match_type(const ipc_msg_t *m, void *ud)
{
    return m->type == *(const uint16_t *)ud;
}

static void test_wait(void)
{
    inboxes_create(2);
    pid_t pid = spawn(cmd_main, 1, NULL);
    eddy_loop_t *loop = new_loop();
    nested_t t = {.r = {.keep_data = true}};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, nested_cb, &t), 0);
    ipc_msg_t m;

    /* A, B, C arrive 30 ms apart; wait for C. The wait flushes the request. */
    CHECK_EQ(eddy__ipc_send(ipc, 1, CMD_ABC, 0, NULL, 0), 0);
    uint64_t t0 = eddy_clock_ms();
    CHECK_EQ(eddy__ipc_wait_id(ipc, 7, 3, 5000, &m), 0);
    CHECK(eddy_clock_ms() - t0 >= 80);
    CHECK_EQ(m.type, 7);
    CHECK_EQ(m.id, 3);
    CHECK_EQ(m.src_slot, 1);
    CHECK_EQ(m.src_pid, pid);
    CHECK_EQ(m.len, 1);
    CHECK(memcmp(m.data, "C", 1) == 0);
    eddy__ipc_msg_free(&m);
    CHECK_EQ(t.r.n, 0); /* A and B were kept, not delivered */
    /* A kept message can be waited for too (no time needed). */
    CHECK_EQ(eddy__ipc_wait_id(ipc, 6, 2, 0, &m), 0);
    CHECK(memcmp(m.data, "B", 1) == 0);
    eddy__ipc_msg_free(&m);
    /* Nothing matches: a timeout, and the time was spent. */
    t0 = eddy_clock_ms();
    CHECK_EQ(eddy__ipc_wait_id(ipc, 99, 0, 200, &m), -ETIMEDOUT);
    uint64_t spent = eddy_clock_ms() - t0;
    CHECK(spent >= 195 && spent < 1000);
    /* The rest comes through on_message at the next iteration. */
    RUN_UNTIL(loop, t.r.n == 1, 1000);
    eddy_loop_run_once(loop, 50);
    CHECK_EQ(t.r.n, 1);
    CHECK_EQ(t.r.msgs[0].type, 5);
    CHECK(memcmp(t.r.msgs[0].data, "A", 1) == 0);

    /* Waiting inside on_message for a record behind the current one. */
    CHECK_EQ(eddy__ipc_send(ipc, 1, CMD_XYZ, 0, NULL, 0), 0);
    RUN_UNTIL(loop, t.r.n == 3, 2000);
    eddy_loop_run_once(loop, 50);
    CHECK(t.waited);
    CHECK_EQ(t.wait_rc, 0);
    CHECK_EQ(t.got.type, 12);
    CHECK(memcmp(t.got.data, "Z", 1) == 0);
    eddy__ipc_msg_free(&t.got);
    CHECK_EQ(t.r.n, 3);
    CHECK_EQ(t.r.msgs[1].type, 10);
    CHECK_EQ(t.r.msgs[2].type, 11); /* Y, and Z not a second time */

    /* Waiting for a chunked message; the small ones around it are kept in order. */
    CHECK_EQ(eddy__ipc_send(ipc, 1, CMD_BIG, 0, NULL, 0), 0);
    uint16_t want = 21;
    CHECK_EQ(eddy__ipc_wait(ipc, match_type, &want, 5000, &m), 0);
    CHECK_EQ(m.len, 8u << 20);
    CHECK(same(m.data, m.len, 21));
    eddy__ipc_msg_free(&m);
    want = 22; /* S2 may or may not have arrived yet: wait for it too */
    CHECK_EQ(eddy__ipc_wait(ipc, match_type, &want, 5000, &m), 0);
    CHECK(memcmp(m.data, "S2", 2) == 0);
    eddy__ipc_msg_free(&m);
    RUN_UNTIL(loop, t.r.n == 4, 1000);
    eddy_loop_run_once(loop, 50);
    CHECK_EQ(t.r.n, 4);
    CHECK_EQ(t.r.msgs[3].type, 20);

    /* Argument and state errors. */
    CHECK_EQ(eddy__ipc_wait(ipc, NULL, NULL, 0, &m), -EINVAL);
    ipc_t *so = NULL;
    CHECK_EQ(eddy__ipc_open(&so, loop, inboxes, 2, -1, 0, NULL, NULL), 0);
    CHECK_EQ(eddy__ipc_wait_id(so, 1, 1, 0, &m), -EDDY_ESTATE);
    eddy__ipc_close(so);

    CHECK_EQ(eddy__ipc_send(ipc, 1, T_QUIT, 0, NULL, 0), 0);
    CHECK_EQ(eddy__ipc_flush(ipc, 5000), 0);
    reap(pid);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&t.r);
    inboxes_close();
}

/* ---- limits and misuse ----------------------------------------------------- */

static void test_limits(void)
{
    inboxes_create(1);
    eddy_loop_t *loop = new_loop();
    recorder_t r = {0};
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 1, 0, 0, record, &r), 0);
    const ipc_stats_t *st = eddy__ipc_stats(ipc);

    /* The sender refuses a message over the limit without reading it. */
    static const char one = 1;
    CHECK_EQ(eddy__ipc_send(ipc, 0, 1, 1, &one, (size_t)IPC_MAX_MSG + 1), -EDDY_EPACKET_TOO_BIG);
    CHECK_EQ(eddy__ipc_send(ipc, 0, 1, 1, &one, SIZE_MAX), -EDDY_EPACKET_TOO_BIG);
    CHECK_EQ(eddy__ipc_queued(ipc, 0), 0);
    CHECK_EQ(st->messages_sent, 0);
    CHECK_EQ(eddy__ipc_send(ipc, 1, 1, 1, &one, 1), -EINVAL);
    CHECK_EQ(eddy__ipc_send(ipc, -1, 1, 1, &one, 1), -EINVAL);
    CHECK_EQ(eddy__ipc_send(ipc, 0, 1, 1, NULL, 1), -EINVAL);

    /* The limit itself is allowed. */
    char *max = xmalloc(IPC_MAX_MSG);
    memset(max, 0x5a, IPC_MAX_MSG);
    max[0] = 1;
    max[IPC_MAX_MSG - 1] = 2;
    CHECK_EQ(eddy__ipc_send(ipc, 0, 2, 2, max, IPC_MAX_MSG), 0);
    free(max);
    RUN_UNTIL(loop, r.n == 1, 10000);
    CHECK_EQ(r.n, 1);
    CHECK_EQ(r.msgs[0].len, IPC_MAX_MSG);

    /* The receiver drops a record that claims more than the limit, and the
     * chunks that follow it, and goes on with the next message. */
    ipc_header_t h = {.type = 3, .src_slot = 0, .src_pid = (uint32_t)getpid(), .msg_id = 77};
    char dgram[IPC_DGRAM_MAX];
    memset(dgram, 0, sizeof dgram);
    h.total_len = IPC_MAX_MSG + 1;
    memcpy(dgram, &h, sizeof h);
    CHECK_EQ(send(inboxes[0].fd[1], dgram, sizeof dgram, 0), (ssize_t)sizeof dgram);
    h.total_len = IPC_MAX_MSG; /* a middle chunk without a beginning */
    h.offset = IPC_CHUNK_MAX;
    memcpy(dgram, &h, sizeof h);
    CHECK_EQ(send(inboxes[0].fd[1], dgram, sizeof dgram, 0), (ssize_t)sizeof dgram);
    /* A datagram longer than any we send. */
    char *huge = calloc(1, IPC_DGRAM_MAX + 8);
    CHECK(huge);
    CHECK_EQ(send(inboxes[0].fd[1], huge, IPC_DGRAM_MAX + 8, 0), IPC_DGRAM_MAX + 8);
    free(huge);
    CHECK_EQ(eddy__ipc_send(ipc, 0, 4, 4, "ok", 2), 0);
    RUN_UNTIL(loop, r.n == 2, 2000);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(r.msgs[1].type, 4);
    CHECK_EQ(st->malformed, 3);
    CHECK_EQ(st->partials_dropped, 0);

    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    recorder_free(&r);
    inboxes_close();
}

static int close_calls;

static void close_in_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    close_calls++;
    eddy__ipc_close(ipc);
    eddy__ipc_close(ipc); /* twice is harmless */
}

static void test_close_in_callback(void)
{
    inboxes_create(1);
    eddy_loop_t *loop = new_loop();
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 1, 0, 0, close_in_cb, NULL), 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(eddy__ipc_send(ipc, 0, 1, (uint64_t)i, "m", 1), 0);
    for (int i = 0; i < 10; i++)
        eddy_loop_run_once(loop, 10);
    CHECK_EQ(close_calls, 1);
    /* Queued but unsent messages are dropped by close; nothing leaks. */
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 1, 0, 0, close_in_cb, NULL), 0);
    char big[100000];
    memset(big, 0, sizeof big);
    CHECK_EQ(eddy__ipc_send(ipc, 0, 1, 1, big, sizeof big), 0);
    eddy__ipc_close(ipc);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 0); /* no watcher or timer left behind */
    eddy_loop_free(loop);
    inboxes_close();
}

/* ---- throughput ------------------------------------------------------------ */

static int bench_scale(void)
{
    const char *s = getenv("EDDY_IPC_BENCH_SCALE");
    int n = s ? atoi(s) : 1;
    return n > 0 ? n : 1;
}

static void test_throughput(void)
{
    int scale = bench_scale();
    /* Small: one sender, 16-byte payloads, bursts of 1000 per iteration. */
    inboxes_create(2);
    burst_args_t a = {.count = 200000u * (uint32_t)scale, .burst = 1000, .payload = 16};
    pid_t pid = spawn(burst_main, 1, &a);
    eddy_loop_t *loop = new_loop();
    order_check_t o = {0};
    o.pid[1] = pid;
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, order_cb, &o), 0);
    RUN_UNTIL(loop, o.total == a.count || o.bad, 30000);
    CHECK(!o.bad);
    CHECK_EQ(o.total, a.count);
    reap(pid);
    double secs = (double)(o.last_ms - o.first_ms + 1) / 1000.0;
    printf("# small messages (16 B, bursts of 1000): %.2f M msgs/s, %.1f msgs per datagram\n",
           (double)a.count / secs / 1e6,
           (double)a.count / (double)eddy__ipc_stats(ipc)->datagrams_received);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop); /* not to be inherited by the next child */

    /* Large: 8 MiB messages, one after another. */
    burst_args_t b = {.count = 24u * (uint32_t)scale, .burst = 1, .payload = 8u << 20};
    pid = spawn(burst_main, 1, &b);
    loop = new_loop();
    order_check_t o2 = {0};
    o2.pid[1] = pid;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, order_cb, &o2), 0);
    RUN_UNTIL(loop, o2.total == b.count || o2.bad, 30000);
    CHECK(!o2.bad);
    CHECK_EQ(o2.total, b.count);
    reap(pid);
    /* From the first message's arrival: the first one's transfer is not counted. */
    secs = (double)(o2.last_ms - o2.first_ms + 1) / 1000.0;
    printf("# large messages (8 MiB): %.0f MB/s\n",
           (double)(b.count - 1) * (double)b.payload / secs / 1e6);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    inboxes_close();
}

typedef struct pong {
    int left;
    uint64_t t0;
} pong_t;

static void pong_cb(ipc_t *ipc, const ipc_msg_t *m, void *ud)
{
    pong_t *p = ud;
    if (--p->left > 0) CHECK_EQ(eddy__ipc_send(ipc, 1, 1, 0, "ping", 4), 0);
}

static void test_round_trip_latency(void)
{
    inboxes_create(2);
    pid_t pid = spawn(echo_main, 1, NULL);
    eddy_loop_t *loop = new_loop();
    pong_t p = {.left = 20000 * bench_scale()};
    int total = p.left;
    ipc_t *ipc = NULL;
    CHECK_EQ(eddy__ipc_open(&ipc, loop, inboxes, 2, 0, 0, pong_cb, &p), 0);
    uint64_t t0 = eddy_clock_ns();
    CHECK_EQ(eddy__ipc_send(ipc, 1, 1, 0, "ping", 4), 0);
    RUN_UNTIL(loop, p.left == 0, 30000);
    CHECK_EQ(p.left, 0);
    double us = (double)(eddy_clock_ns() - t0) / 1e3 / total;
    printf("# ping-pong (one message each way per iteration): %.1f us per round trip\n", us);
    CHECK_EQ(eddy__ipc_send(ipc, 1, T_QUIT, 0, NULL, 0), 0);
    CHECK_EQ(eddy__ipc_flush(ipc, 5000), 0);
    reap(pid);
    eddy__ipc_close(ipc);
    eddy_loop_free(loop);
    inboxes_close();
}

/* With arguments, only the tests whose names contain one of them. */
static int argc_;
static char **argv_;

static bool selected(const char *name)
{
    if (argc_ < 2) return true;
    for (int i = 1; i < argc_; i++)
        if (strstr(name, argv_[i])) return true;
    return false;
}

#define RUN_SELECTED(fn)                                                                           \
    do {                                                                                           \
        if (selected(#fn)) RUN(fn);                                                                \
    } while (0)

int main(int argc, char **argv)
{
    argc_ = argc;
    argv_ = argv;
    signal(SIGPIPE, SIG_IGN);
    RUN_SELECTED(test_round_trip);
    RUN_SELECTED(test_batching_one_process);
    RUN_SELECTED(test_order_100k);
    RUN_SELECTED(test_many_senders);
    RUN_SELECTED(test_killed_sender);
    RUN_SELECTED(test_partial_rules);
    RUN_SELECTED(test_queue_bound);
    RUN_SELECTED(test_wait);
    RUN_SELECTED(test_limits);
    RUN_SELECTED(test_close_in_callback);
    RUN_SELECTED(test_throughput);
    RUN_SELECTED(test_round_trip_latency);
    return 0;
}
