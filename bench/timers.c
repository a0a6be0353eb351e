/*
 * bench/timers.c — eddy's timers under a million at once.
 *
 *   bench_timers [-n TIMERS] [-r RUNS]       (defaults: 1000000 timers, 3 runs)
 *
 * (a) schedule+fire: start TIMERS one-shot timers with deadlines spread over
 *     0..50 ms (timer i waits i % 51 ms), then eddy_loop_run until all have
 *     fired. Every callback is counted and checked: deadlines must come
 *     non-decreasing, equal deadlines in the order they were started, and no
 *     timer may fire before its deadline by the loop's clock.
 * (b) schedule+cancel: start TIMERS timers the same way, then eddy_timer_clear
 *     every one of them (in the order started); the loop must then have none.
 *
 * Each phase runs RUNS times on a fresh loop; the best (lowest) time is
 * printed, as name=value lines:
 *   timers timers_schedule_fire_ms timers_schedule_cancel_ms fired order_errors
 * bench/ref/uv_timers.c prints the same keys, prefixed uv_, for libuv.
 * Exit status 1 if any run fired the wrong count or out of order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <eddy/loop.h>

#define SPREAD_MS 51

static uint64_t *g_deadline; /* absolute deadline of timer i, loop clock */
static uint64_t g_fired;
static uint64_t g_order_errors;
static uint64_t g_last_deadline;
static uintptr_t g_last_index;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_timer(eddy_loop_t *loop, int64_t id, void *ud)
{
    uintptr_t i = (uintptr_t)ud;
    uint64_t d = g_deadline[i];
    if (g_fired > 0 && (d < g_last_deadline || (d == g_last_deadline && i < g_last_index)))
        g_order_errors++;
    if (eddy_loop_now(loop) < d) g_order_errors++; /* fired early */
    g_last_deadline = d;
    g_last_index = i;
    g_fired++;
}

static int schedule(eddy_loop_t *loop, size_t n, int64_t *ids)
{
    uint64_t base = eddy_loop_now(loop);
    for (size_t i = 0; i < n; i++) {
        uint64_t ms = i % SPREAD_MS;
        int64_t id = eddy_timer_after(loop, ms, on_timer, (void *)(uintptr_t)i);
        if (id <= 0) return (int)id;
        g_deadline[i] = base + ms;
        if (ids != NULL) ids[i] = id;
    }
    return 0;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_timers: %s: %d\n", what, err);
    exit(1);
}

/* One schedule+fire run; returns milliseconds. */
static double run_fire(size_t n)
{
    eddy_loop_t *loop;
    int r = eddy_loop_new(&loop);
    if (r != 0) die("eddy_loop_new", r);
    g_fired = 0;
    g_last_deadline = 0;
    g_last_index = 0;
    eddy_loop_update_time(loop);

    double t0 = now_ms();
    if ((r = schedule(loop, n, NULL)) != 0) die("eddy_timer_after", r);
    if ((r = eddy_loop_run(loop)) != 0) die("eddy_loop_run", r);
    double t1 = now_ms();

    eddy_loop_free(loop);
    return t1 - t0;
}

/* One schedule+cancel run; returns milliseconds. */
static double run_cancel(size_t n, int64_t *ids)
{
    eddy_loop_t *loop;
    int r = eddy_loop_new(&loop);
    if (r != 0) die("eddy_loop_new", r);
    g_fired = 0;
    eddy_loop_update_time(loop);

    double t0 = now_ms();
    if ((r = schedule(loop, n, ids)) != 0) die("eddy_timer_after", r);
    for (size_t i = 0; i < n; i++)
        if ((r = eddy_timer_clear(loop, ids[i])) != 0) die("eddy_timer_clear", r);
    double t1 = now_ms();

    if (eddy_timer_count(loop) != 0)
        die("timers left after clearing all", (int)eddy_timer_count(loop));
    if ((r = eddy_loop_run(loop)) != 0) /* nothing is alive: returns at once */
        die("eddy_loop_run", r);
    if (g_fired != 0) die("cleared timers fired", (int)g_fired);
    eddy_loop_free(loop);
    return t1 - t0;
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v == 0 || v > 100000000) {
        fprintf(stderr, "usage: bench_timers [-n TIMERS] [-r RUNS]\n");
        exit(2);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, runs = 3;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        switch (opt) {
        case 'n': n = parse_size(optarg); break;
        case 'r': runs = parse_size(optarg); break;
        default: fprintf(stderr, "usage: bench_timers [-n TIMERS] [-r RUNS]\n"); return 2;
        }
    }
    g_deadline = malloc(n * sizeof(*g_deadline));
    int64_t *ids = malloc(n * sizeof(*ids));
    if (g_deadline == NULL || ids == NULL) die("malloc", -ENOMEM);
    memset(g_deadline, 0, n * sizeof(*g_deadline));
    memset(ids, 0, n * sizeof(*ids));

    double best_fire = 0, best_cancel = 0;
    uint64_t fired = 0, order_errors = 0;
    int bad = 0;
    for (size_t r = 0; r < runs; r++) {
        g_order_errors = 0;
        double ms = run_fire(n);
        if (r == 0 || ms < best_fire) best_fire = ms;
        if (g_fired != n || g_order_errors != 0) bad = 1;
        if (r == 0 || g_fired != n) /* report the first, or any wrong count */
            fired = g_fired;
        order_errors += g_order_errors;
    }
    for (size_t r = 0; r < runs; r++) {
        double ms = run_cancel(n, ids);
        if (r == 0 || ms < best_cancel) best_cancel = ms;
    }

    printf("timers=%zu\n", n);
    printf("timers_schedule_fire_ms=%.1f\n", best_fire);
    printf("timers_schedule_cancel_ms=%.1f\n", best_cancel);
    printf("fired=%llu\n", (unsigned long long)fired);
    printf("order_errors=%llu\n", (unsigned long long)order_errors);
    free(ids);
    free(g_deadline);
    return bad;
}
