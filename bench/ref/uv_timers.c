/*
 * bench/ref/uv_timers.c — the libuv reference for bench/timers.c.
 *
 *   ref_uv_timers [-n TIMERS] [-r RUNS]      (defaults: 1000000 timers, 3 runs)
 *
 * The same two measurements with uv_timer_t, each run on a fresh uv_loop_t:
 * (a) schedule+fire: uv_timer_init + uv_timer_start for TIMERS timers with
 *     timeouts i % 51 ms, then uv_run until all have fired (checked: count,
 *     non-decreasing deadlines, start order among equal deadlines, none
 *     early);
 * (b) schedule+cancel: init + start TIMERS timers, then uv_timer_stop each.
 *
 * libuv timers are caller-allocated handles, so the handles live in one array
 * allocated and touched before the clock starts — the cheapest way a libuv
 * program can hold a million timers. Closing the handles afterwards (uv_close,
 * which eddy has no counterpart for) is not timed.
 *
 * Prints the best run of each as name=value lines prefixed uv_:
 *   uv_timers uv_timers_schedule_fire_ms uv_timers_schedule_cancel_ms
 *   uv_fired uv_order_errors
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#define SPREAD_MS 51

static uv_timer_t *g_timers;
static uint64_t *g_deadline;
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

static void die(const char *what, int err)
{
    fprintf(stderr, "ref_uv_timers: %s: %s\n", what, uv_strerror(err));
    exit(1);
}

static void on_timer(uv_timer_t *t)
{
    uintptr_t i = (uintptr_t)(t - g_timers);
    uint64_t d = g_deadline[i];
    if (g_fired > 0 && (d < g_last_deadline || (d == g_last_deadline && i < g_last_index)))
        g_order_errors++;
    if (uv_now(t->loop) < d) g_order_errors++; /* fired early */
    g_last_deadline = d;
    g_last_index = i;
    g_fired++;
}

static void schedule(uv_loop_t *loop, size_t n)
{
    uint64_t base = uv_now(loop);
    for (size_t i = 0; i < n; i++) {
        uint64_t ms = i % SPREAD_MS;
        uv_timer_init(loop, &g_timers[i]);
        int r = uv_timer_start(&g_timers[i], on_timer, ms, 0);
        if (r != 0) die("uv_timer_start", r);
        g_deadline[i] = base + ms;
    }
}

static void close_all(uv_loop_t *loop, size_t n)
{
    for (size_t i = 0; i < n; i++)
        uv_close((uv_handle_t *)&g_timers[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    int r = uv_loop_close(loop);
    if (r != 0) die("uv_loop_close", r);
}

static double run_fire(size_t n)
{
    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r != 0) die("uv_loop_init", r);
    g_fired = 0;
    g_last_deadline = 0;
    g_last_index = 0;
    uv_update_time(&loop);

    double t0 = now_ms();
    schedule(&loop, n);
    uv_run(&loop, UV_RUN_DEFAULT);
    double t1 = now_ms();

    close_all(&loop, n);
    return t1 - t0;
}

static double run_cancel(size_t n)
{
    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r != 0) die("uv_loop_init", r);
    g_fired = 0;
    uv_update_time(&loop);

    double t0 = now_ms();
    schedule(&loop, n);
    for (size_t i = 0; i < n; i++)
        uv_timer_stop(&g_timers[i]);
    double t1 = now_ms();

    uv_run(&loop, UV_RUN_NOWAIT);
    if (g_fired != 0) {
        fprintf(stderr, "ref_uv_timers: stopped timers fired\n");
        exit(1);
    }
    close_all(&loop, n);
    return t1 - t0;
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v == 0 || v > 100000000) {
        fprintf(stderr, "usage: ref_uv_timers [-n TIMERS] [-r RUNS]\n");
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
        default: fprintf(stderr, "usage: ref_uv_timers [-n TIMERS] [-r RUNS]\n"); return 2;
        }
    }
    g_timers = malloc(n * sizeof(*g_timers));
    g_deadline = malloc(n * sizeof(*g_deadline));
    if (g_timers == NULL || g_deadline == NULL) die("malloc", UV_ENOMEM);
    memset(g_timers, 0, n * sizeof(*g_timers));
    memset(g_deadline, 0, n * sizeof(*g_deadline));

    double best_fire = 0, best_cancel = 0;
    uint64_t fired = 0, order_errors = 0;
    int bad = 0;
    for (size_t r = 0; r < runs; r++) {
        g_order_errors = 0;
        double ms = run_fire(n);
        if (r == 0 || ms < best_fire) best_fire = ms;
        if (g_fired != n || g_order_errors != 0) bad = 1;
        if (r == 0 || g_fired != n) fired = g_fired;
        order_errors += g_order_errors;
    }
    for (size_t r = 0; r < runs; r++) {
        double ms = run_cancel(n);
        if (r == 0 || ms < best_cancel) best_cancel = ms;
    }

    printf("uv_timers=%zu\n", n);
    printf("uv_timers_schedule_fire_ms=%.1f\n", best_fire);
    printf("uv_timers_schedule_cancel_ms=%.1f\n", best_cancel);
    printf("uv_fired=%llu\n", (unsigned long long)fired);
    printf("uv_order_errors=%llu\n", (unsigned long long)order_errors);
    free(g_deadline);
    free(g_timers);
    return bad;
}
