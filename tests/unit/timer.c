/*
 * eddy timers: after / tick / clear, millisecond resolution, ordering of
 * equal deadlines, clearing from callbacks, 0 ms timers started by
 * callbacks, id uniqueness and stale ids, and a million timers (times are
 * printed, never asserted).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/error.h"
#include "eddy/loop.h"
#include "test.h"

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop = NULL;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

static double real_ms(void)
{
    return (double)eddy_clock_ns() / 1e6;
}

static void noop_cb(eddy_loop_t *loop, int64_t id, void *ud) {}

static void count_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    (*(int *)ud)++;
}

/* ---- after / tick ------------------------------------------------------------- */

typedef struct fire {
    int64_t id;
    int calls;
    int64_t seen_id;
    double at; /* real ms of the last call */
} fire_t;

static void fire_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    fire_t *f = ud;
    f->calls++;
    f->seen_id = id;
    f->at = real_ms();
}

static void test_after_basic(void)
{
    eddy_loop_t *loop = new_loop();
    fire_t f = {0};
    CHECK_EQ(eddy_timer_count(loop), 0);
    eddy_loop_update_time(loop);
    double t0 = real_ms();
    f.id = eddy_timer_after(loop, 50, fire_cb, &f);
    CHECK(f.id > 0);
    CHECK_EQ(eddy_timer_count(loop), 1);
    CHECK_EQ(eddy_loop_run(loop), 0); /* the timer keeps the loop alive, then ends */
    CHECK_EQ(f.calls, 1);
    CHECK_EQ(f.seen_id, f.id);
    double dt = f.at - t0;
    /* ms resolution: the cached clock truncates, so allow just under 1 ms. */
    CHECK(dt >= 49.0);
    CHECK(dt < 2000);
    printf("  50 ms timer fired after %.2f ms\n", dt);
    CHECK_EQ(eddy_timer_count(loop), 0);
    CHECK_EQ(eddy_timer_clear(loop, f.id), -EDDY_ETIMER); /* already fired */
    eddy_loop_free(loop);
}

static void test_resolution_many(void)
{
    /* Several short timers: none fires before its deadline. */
    eddy_loop_t *loop = new_loop();
    enum { N = 8 };
    fire_t f[N];
    memset(f, 0, sizeof f);
    eddy_loop_update_time(loop);
    double t0 = real_ms();
    for (int i = 0; i < N; i++)
        CHECK(eddy_timer_after(loop, (uint64_t)(5 + 7 * i), fire_cb, &f[i]) > 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(f[i].calls, 1);
        CHECK(f[i].at - t0 >= 5 + 7 * i - 1);
        if (i) CHECK(f[i].at >= f[i - 1].at);
    }
    eddy_loop_free(loop);
}

typedef struct ticker {
    int calls;
    int stop_after;
    int64_t id;
    int clear_rc;
    uint64_t last_now;
    bool early;
    uint64_t interval;
} ticker_t;

static void tick_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    ticker_t *t = ud;
    CHECK_EQ(id, t->id);
    uint64_t now = eddy_loop_now(loop);
    if (t->calls && now < t->last_now + t->interval) t->early = true;
    t->last_now = now;
    if (++t->calls == t->stop_after) t->clear_rc = eddy_timer_clear(loop, id);
}

static void test_tick_and_self_clear(void)
{
    eddy_loop_t *loop = new_loop();
    ticker_t t = {.stop_after = 5, .clear_rc = 1, .interval = 10};
    double t0 = real_ms();
    t.id = eddy_timer_tick(loop, 10, tick_cb, &t);
    CHECK(t.id > 0);
    CHECK_EQ(eddy_loop_run(loop), 0); /* ends once the tick clears itself */
    CHECK_EQ(t.calls, 5);
    CHECK_EQ(t.clear_rc, 0);
    CHECK(!t.early);
    CHECK(real_ms() - t0 >= 49);
    CHECK_EQ(eddy_timer_count(loop), 0);
    CHECK_EQ(eddy_timer_clear(loop, t.id), -EDDY_ETIMER);

    CHECK_EQ(eddy_timer_tick(loop, 0, noop_cb, NULL), -EINVAL);
    CHECK_EQ(eddy_timer_after(loop, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(eddy_timer_tick(loop, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(eddy_timer_count(loop), 0);
    eddy_loop_free(loop);
}

typedef struct oneshot_self {
    int64_t id;
    int rc;
    int calls;
} oneshot_self_t;

static void oneshot_self_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    oneshot_self_t *o = ud;
    o->calls++;
    /* A one-shot timer has fired once its callback runs: clearing it is
     * harmless and reports that there is no live timer. */
    o->rc = eddy_timer_clear(loop, id);
}

static void test_oneshot_self_clear(void)
{
    eddy_loop_t *loop = new_loop();
    oneshot_self_t o = {0};
    o.id = eddy_timer_after(loop, 1, oneshot_self_cb, &o);
    CHECK(o.id > 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(o.calls, 1);
    CHECK_EQ(o.rc, -EDDY_ETIMER);
    eddy_loop_free(loop);
}

/* ---- ordering ------------------------------------------------------------------ */

typedef struct order_log {
    int seq[256];
    int len;
} order_log_t;

static order_log_t order;

static void order_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    CHECK(order.len < 256);
    order.seq[order.len++] = (int)(intptr_t)ud;
}

static void test_equal_deadlines_in_start_order(void)
{
    eddy_loop_t *loop = new_loop();
    memset(&order, 0, sizeof order);
    /* The cached time does not move between these starts, so equal delays
     * are equal deadlines; interleave two delays. */
    for (int i = 0; i < 100; i++)
        CHECK(eddy_timer_after(loop, (i % 2) ? 10 : 20, order_cb, (void *)(intptr_t)i) > 0);
    usleep(25 * 1000); /* all expire by the first iteration */
    CHECK_EQ(eddy_loop_run_once(loop, 0), 0);
    CHECK_EQ(order.len, 100);
    /* First the 10 ms ones (odd i), each group in start order. */
    for (int k = 0; k < 50; k++) {
        CHECK_EQ(order.seq[k], 2 * k + 1);
        CHECK_EQ(order.seq[50 + k], 2 * k);
    }
    eddy_loop_free(loop);
}

static void test_earliest_first(void)
{
    eddy_loop_t *loop = new_loop();
    memset(&order, 0, sizeof order);
    static const int delays[] = {30, 5, 25, 10, 0, 20, 15, 1};
    for (int i = 0; i < 8; i++)
        CHECK(eddy_timer_after(loop, (uint64_t)delays[i], order_cb, (void *)(intptr_t)delays[i]) >
              0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(order.len, 8);
    for (int i = 1; i < 8; i++)
        CHECK(order.seq[i - 1] < order.seq[i]);
    eddy_loop_free(loop);
}

/* ---- clearing others from callbacks ----------------------------------------- */

typedef struct clearer {
    int64_t victims[3];
    int rcs[3];
    int calls;
} clearer_t;

static void clearer_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    clearer_t *c = ud;
    c->calls++;
    for (int i = 0; i < 3; i++)
        c->rcs[i] = eddy_timer_clear(loop, c->victims[i]);
}

static void test_clear_others_from_callback(void)
{
    eddy_loop_t *loop = new_loop();
    clearer_t c = {0};
    int same = 0, later = 0, ticks = 0;
    /* Same deadline, started after: expired in this very phase, still cleared. */
    CHECK(eddy_timer_after(loop, 5, clearer_cb, &c) > 0);
    c.victims[0] = eddy_timer_after(loop, 5, count_cb, &same);
    c.victims[1] = eddy_timer_after(loop, 500, count_cb, &later);
    c.victims[2] = eddy_timer_tick(loop, 3, count_cb, &ticks);
    for (int i = 0; i < 3; i++)
        CHECK(c.victims[i] > 0);
    double t0 = real_ms();
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(real_ms() - t0 < 400); /* the 500 ms timer is gone, run did not wait */
    CHECK_EQ(c.calls, 1);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(c.rcs[i], 0);
    CHECK_EQ(same, 0);
    CHECK_EQ(later, 0);
    CHECK(ticks <= 1); /* the 3 ms tick may have fired once before the 5 ms timer */
    CHECK_EQ(eddy_timer_count(loop), 0);
    eddy_loop_free(loop);
}

/* ---- 0 ms timers started by callbacks -------------------------------------------- */

typedef struct rearm {
    int calls;
    int limit;
} rearm_t;

static void rearm_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    rearm_t *r = ud;
    if (++r->calls < r->limit) CHECK(eddy_timer_after(loop, 0, rearm_cb, r) > 0);
}

static void test_zero_timer_from_callback(void)
{
    eddy_loop_t *loop = new_loop();
    rearm_t r = {.limit = 1000};
    CHECK(eddy_timer_after(loop, 0, rearm_cb, &r) > 0);
    /* One per iteration: the re-armed timer waits for the next one. */
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ(eddy_loop_run_once(loop, -1), 1);
        CHECK_EQ(r.calls, i);
    }
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(r.calls, 1000);

    /* A 1 ms tick whose callback is slower than its interval does not spin
     * inside one iteration either. */
    ticker_t t = {.stop_after = 3, .interval = 1};
    t.id = eddy_timer_tick(loop, 1, tick_cb, &t);
    usleep(20 * 1000);
    CHECK_EQ(eddy_loop_run_once(loop, 0), 1);
    CHECK_EQ(t.calls, 1);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(t.calls, 3);
    eddy_loop_free(loop);
}

/* ---- ids ------------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_ids_unique_while_live(void)
{
    eddy_loop_t *loop = new_loop();
    enum { N = 20000 };
    int64_t *first = malloc(N * sizeof *first);
    int64_t *live = malloc(2 * N * sizeof *live);
    CHECK(first && live);
    int fired = 0;
    for (int i = 0; i < N; i++) {
        first[i] = eddy_timer_after(loop, 100000 + (uint64_t)(i % 7), count_cb, &fired);
        CHECK(first[i] > 0);
    }
    /* Clear every other one (and a stretch at the end), then start more:
     * they reuse the freed slots. */
    size_t nlive = 0;
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0 || i >= N - 1000)
            CHECK_EQ(eddy_timer_clear(loop, first[i]), 0);
        else
            live[nlive++] = first[i];
    }
    for (int i = 0; i < N; i++) {
        int64_t id = eddy_timer_tick(loop, 100000, count_cb, &fired);
        CHECK(id > 0);
        live[nlive++] = id;
    }
    CHECK_EQ(eddy_timer_count(loop), nlive);
    qsort(live, nlive, sizeof *live, cmp_id);
    for (size_t i = 1; i < nlive; i++)
        CHECK(live[i] != live[i - 1]);
    /* The ids of cleared timers name nothing now, although their slots are
     * in use again: clearing them must not touch the new timers. */
    for (int i = 0; i < N; i++)
        if (i % 2 == 0 || i >= N - 1000) CHECK_EQ(eddy_timer_clear(loop, first[i]), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_count(loop), nlive);
    for (size_t i = 0; i < nlive; i++)
        CHECK_EQ(eddy_timer_clear(loop, live[i]), 0);
    CHECK_EQ(eddy_timer_count(loop), 0);
    CHECK_EQ(fired, 0);
    free(first);
    free(live);
    eddy_loop_free(loop);
}

static void test_clear_unknown(void)
{
    eddy_loop_t *loop = new_loop();
    CHECK_EQ(eddy_timer_clear(loop, 0), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, -1), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, INT64_MIN), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, 1), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, 12345), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, INT64_MAX), -EDDY_ETIMER);
    CHECK_EQ(eddy_timer_clear(loop, (int64_t)1 << 32), -EDDY_ETIMER); /* slot part 0 */
    int64_t id = eddy_timer_after(loop, 1000, noop_cb, NULL);
    CHECK(id > 0);
    CHECK_EQ(eddy_timer_clear(loop, id + ((int64_t)1 << 32)), -EDDY_ETIMER); /* wrong gen */
    CHECK_EQ(eddy_timer_clear(loop, id + 1), -EDDY_ETIMER);                  /* next slot */
    CHECK_EQ(eddy_timer_count(loop), 1);
    CHECK_EQ(eddy_timer_clear(loop, id), 0);
    CHECK_EQ(eddy_timer_clear(loop, id), -EDDY_ETIMER);
    /* A fired one. */
    int n = 0;
    id = eddy_timer_after(loop, 0, count_cb, &n);
    CHECK(id > 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(eddy_timer_clear(loop, id), -EDDY_ETIMER);
    /* Timers still live at free are dropped without running. */
    CHECK(eddy_timer_after(loop, 0, count_cb, &n) > 0);
    CHECK(eddy_timer_tick(loop, 5, count_cb, &n) > 0);
    eddy_loop_free(loop);
    CHECK_EQ(n, 1);
}

/* ---- a million ------------------------------------------------------------------ */

#define MILLION 1000000

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

typedef struct million {
    int fired;
} million_t;

static void million_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    million_t *m = ud;
    m->fired++;
}

static void test_million_fire(void)
{
    eddy_loop_t *loop = new_loop();
    million_t m = {0};
    double t0 = real_ms();
    for (int i = 0; i < MILLION; i++)
        CHECK(eddy_timer_after(loop, rng() % 20, million_cb, &m) > 0);
    double t1 = real_ms();
    CHECK_EQ(eddy_timer_count(loop), MILLION);
    CHECK_EQ(eddy_loop_run(loop), 0);
    double t2 = real_ms();
    CHECK_EQ(m.fired, MILLION);
    CHECK_EQ(eddy_timer_count(loop), 0);
    printf("  1M timers: schedule %.0f ms, fire %.0f ms\n", t1 - t0, t2 - t1);
    eddy_loop_free(loop);
}

static void test_million_cancel(void)
{
    eddy_loop_t *loop = new_loop();
    int64_t *ids = malloc(MILLION * sizeof *ids);
    CHECK(ids != NULL);
    million_t m = {0};
    double t0 = real_ms();
    for (int i = 0; i < MILLION; i++) {
        ids[i] = eddy_timer_after(loop, 1000 + rng() % 100000, million_cb, &m);
        CHECK(ids[i] > 0);
    }
    double t1 = real_ms();
    /* Cancel in a shuffled order (removal from the middle of the heap). */
    for (int i = MILLION - 1; i > 0; i--) {
        int j = (int)(rng() % (uint64_t)(i + 1));
        int64_t tmp = ids[i];
        ids[i] = ids[j];
        ids[j] = tmp;
    }
    for (int i = 0; i < MILLION; i++)
        CHECK_EQ(eddy_timer_clear(loop, ids[i]), 0);
    double t2 = real_ms();
    CHECK_EQ(eddy_timer_count(loop), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(m.fired, 0);
    printf("  1M timers: schedule %.0f ms, cancel %.0f ms\n", t1 - t0, t2 - t1);
    free(ids);
    eddy_loop_free(loop);
}

int main(void)
{
    alarm(100);
    RUN(test_after_basic);
    RUN(test_resolution_many);
    RUN(test_tick_and_self_clear);
    RUN(test_oneshot_self_clear);
    RUN(test_equal_deadlines_in_start_order);
    RUN(test_earliest_first);
    RUN(test_clear_others_from_callback);
    RUN(test_zero_timer_from_callback);
    RUN(test_ids_unique_while_live);
    RUN(test_clear_unknown);
    RUN(test_million_fire);
    RUN(test_million_cancel);
    return 0;
}
