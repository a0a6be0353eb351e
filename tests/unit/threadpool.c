/*
 * eddy thread pool: many jobs, done on the loop thread, the loop kept alive by
 * pending jobs, several loops sharing the pool, pool threads with every
 * signal blocked, use after fork() in a child, EDDY_THREADPOOL_SIZE.
 * Forks happen only while the pool threads are idle: forking while threads
 * work is outside the rules (DESIGN.md), and not fork-safe under ASan.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "eddy/loop.h"
#include "test.h"

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop = NULL;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

/* Concurrency seen by work functions. */
static atomic_int running, max_running;

static void note_running(int delta)
{
    int now = atomic_fetch_add(&running, delta) + delta;
    int max = atomic_load(&max_running);
    while (now > max && !atomic_compare_exchange_weak(&max_running, &max, now)) {
    }
}

typedef struct job {
    eddy_loop_t *loop;
    pthread_t loop_thread;
    atomic_bool worked;
    bool worked_on_loop_thread;
    bool signals_unblocked;
    int done_calls;
    bool done_before_work;
    bool done_wrong_thread;
    bool done_wrong_loop;
    unsigned sleep_us;
} job_t;

static void job_work(void *ud)
{
    job_t *j = ud;
    note_running(1);
    if (pthread_equal(pthread_self(), j->loop_thread)) j->worked_on_loop_thread = true;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (!sigismember(&cur, SIGINT) || !sigismember(&cur, SIGTERM) || !sigismember(&cur, SIGUSR1) ||
        !sigismember(&cur, SIGCHLD))
        j->signals_unblocked = true;
    if (j->sleep_us) usleep(j->sleep_us);
    note_running(-1);
    atomic_store(&j->worked, true);
}

static _Thread_local int done_total; /* per loop thread */

static void job_done(eddy_loop_t *loop, void *ud)
{
    job_t *j = ud;
    if (!atomic_load(&j->worked)) j->done_before_work = true;
    if (!pthread_equal(pthread_self(), j->loop_thread)) j->done_wrong_thread = true;
    if (loop != j->loop) j->done_wrong_loop = true;
    j->done_calls++;
    done_total++;
}

static void check_jobs(job_t *jobs, int n)
{
    for (int i = 0; i < n; i++) {
        CHECK(atomic_load(&jobs[i].worked));
        CHECK(!jobs[i].worked_on_loop_thread);
        CHECK(!jobs[i].signals_unblocked);
        CHECK_EQ(jobs[i].done_calls, 1);
        CHECK(!jobs[i].done_before_work);
        CHECK(!jobs[i].done_wrong_thread);
        CHECK(!jobs[i].done_wrong_loop);
    }
}

/* Queue n jobs on a new loop, run it to the end, check them all. */
static void run_jobs(int n, unsigned sleep_every, unsigned sleep_us)
{
    eddy_loop_t *loop = new_loop();
    job_t *jobs = calloc((size_t)n, sizeof *jobs);
    CHECK(jobs != NULL);
    done_total = 0;
    for (int i = 0; i < n; i++) {
        jobs[i].loop = loop;
        jobs[i].loop_thread = pthread_self();
        if (sleep_every && i % sleep_every == 0) jobs[i].sleep_us = sleep_us;
        CHECK_EQ(eddy_work_queue(loop, job_work, job_done, &jobs[i]), 0);
    }
    CHECK_EQ(eddy_loop_run(loop), 0); /* pending jobs alone keep it running */
    CHECK_EQ(done_total, n);
    check_jobs(jobs, n);
    free(jobs);
    eddy_loop_free(loop);
}

static void test_thousand_jobs(void)
{
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    atomic_store(&max_running, 0);
    run_jobs(1000, 10, 200);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    /* Starting the pool did not change the calling thread's mask. */
    for (int s = 1; s < 32; s++)
        CHECK_EQ(sigismember(&before, s), sigismember(&after, s));
    int max = atomic_load(&max_running);
    printf("  max concurrent jobs: %d\n", max);
    CHECK(max >= 1);
    if (!getenv("EDDY_THREADPOOL_SIZE")) CHECK(max <= 4);
}

static void test_args(void)
{
    eddy_loop_t *loop = new_loop();
    CHECK_EQ(eddy_work_queue(loop, NULL, job_done, NULL), -EINVAL);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    /* done may be NULL. */
    job_t j = {.loop = loop, .loop_thread = pthread_self()};
    CHECK_EQ(eddy_work_queue(loop, job_work, NULL, &j), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(atomic_load(&j.worked));
    eddy_loop_free(loop);
}

static atomic_bool release_gate;

static void gated_work(void *ud)
{
    while (!atomic_load(&release_gate))
        usleep(1000);
    job_work(ud);
}

static void test_alive_while_pending(void)
{
    eddy_loop_t *loop = new_loop();
    atomic_store(&release_gate, false);
    job_t j = {.loop = loop, .loop_thread = pthread_self()};
    done_total = 0;
    CHECK_EQ(eddy_work_queue(loop, gated_work, job_done, &j), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(eddy_loop_run_once(loop, 5), 1); /* alive, not done */
    CHECK_EQ(j.done_calls, 0);
    atomic_store(&release_gate, true);
    double t0 = (double)eddy_clock_ns() / 1e6;
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK((double)eddy_clock_ns() / 1e6 - t0 < 5000);
    check_jobs(&j, 1);
    CHECK_EQ(eddy_loop_run_once(loop, -1), 0);
    eddy_loop_free(loop);
}

static void must_not_run_done(eddy_loop_t *loop, void *ud)
{
    CHECK(!"done ran for a job of a freed loop");
}

static void test_free_with_jobs_in_flight(void)
{
    /* Freeing a loop whose jobs are still queued or running: the free waits
     * for the pool to finish with them (the pool would otherwise post to a
     * freed loop) and drops their done callbacks, as it drops timers. */
    eddy_loop_t *loop = new_loop();
    enum { N = 16 };
    job_t jobs[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i].loop = loop;
        jobs[i].loop_thread = pthread_self();
        jobs[i].sleep_us = 5000;
        CHECK_EQ(eddy_work_queue(loop, job_work, must_not_run_done, &jobs[i]), 0);
    }
    CHECK_EQ(eddy_loop_run_once(loop, 0), 1);
    eddy_loop_free(loop);
    for (int i = 0; i < N; i++)
        CHECK(atomic_load(&jobs[i].worked));
    /* The pool is fine for other loops afterwards. */
    run_jobs(50, 0, 0);
}

typedef struct chain {
    int left;
    int done;
} chain_t;

static void chain_work(void *ud) {}

static void chain_done(eddy_loop_t *loop, void *ud)
{
    chain_t *c = ud;
    c->done++;
    if (--c->left > 0) CHECK_EQ(eddy_work_queue(loop, chain_work, chain_done, c), 0);
}

static void test_queue_from_done(void)
{
    eddy_loop_t *loop = new_loop();
    chain_t c = {.left = 50};
    CHECK_EQ(eddy_work_queue(loop, chain_work, chain_done, &c), 0);
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK_EQ(c.done, 50);
    eddy_loop_free(loop);
}

/* Several loops, each on its own thread, share the pool; every done runs on
 * the loop that queued the job. */
#define LOOPS        3
#define JOBS_PER_RUN 300

typedef struct loop_thread_arg {
    job_t jobs[JOBS_PER_RUN];
    int done;
} loop_thread_arg_t;

static void count_done(eddy_loop_t *loop, void *ud)
{
    job_done(loop, ud);
    loop_thread_arg_t *a = eddy_loop_data(loop);
    a->done++;
}

static void *loop_thread(void *arg)
{
    loop_thread_arg_t *a = arg;
    eddy_loop_t *loop = new_loop();
    eddy_loop_set_data(loop, a);
    for (int i = 0; i < JOBS_PER_RUN; i++) {
        a->jobs[i].loop = loop;
        a->jobs[i].loop_thread = pthread_self();
        a->jobs[i].sleep_us = (i % 50 == 0) ? 500 : 0;
        CHECK_EQ(eddy_work_queue(loop, job_work, count_done, &a->jobs[i]), 0);
    }
    CHECK_EQ(eddy_loop_run(loop), 0);
    eddy_loop_free(loop);
    return NULL;
}

static void test_several_loops(void)
{
    static loop_thread_arg_t args[LOOPS];
    memset(args, 0, sizeof args);
    pthread_t t[LOOPS];
    for (int i = 0; i < LOOPS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, loop_thread, &args[i]), 0);
    for (int i = 0; i < LOOPS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < LOOPS; i++) {
        CHECK_EQ(args[i].done, JOBS_PER_RUN);
        check_jobs(args[i].jobs, JOBS_PER_RUN);
    }
}

/* ---- fork ---------------------------------------------------------------------- */

static int wait_child(pid_t pid)
{
    /* Bounded wait: a child stuck on a pool that died with fork() fails here. */
    for (int i = 0; i < 1000; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        CHECK(r >= 0);
        if (r == pid) {
            if (WIFSIGNALED(status))
                fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "child did not finish in 10 s\n");
    return -1;
}

static void test_after_fork(void)
{
    run_jobs(100, 0, 0); /* the parent's pool is up, and idle again */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(10);
        run_jobs(500, 25, 200); /* the child's pool starts afresh */
        run_jobs(100, 0, 0);
        _exit(0);
    }
    CHECK_EQ(wait_child(pid), 0);
    run_jobs(100, 0, 0); /* the parent's pool still works */
}

static void test_pool_size_env(void)
{
    /* In a child, whose pool starts on first use after the fork. */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(10);
        setenv("EDDY_THREADPOOL_SIZE", "2", 1);
        atomic_store(&running, 0);
        atomic_store(&max_running, 0);
        run_jobs(12, 1, 20 * 1000);
        int max = atomic_load(&max_running);
        if (max != 2) {
            fprintf(stderr, "EDDY_THREADPOOL_SIZE=2: max concurrent %d\n", max);
            _exit(1);
        }
        _exit(0);
    }
    CHECK_EQ(wait_child(pid), 0);
}

int main(void)
{
    alarm(60);
    RUN(test_args);
    RUN(test_thousand_jobs);
    RUN(test_alive_while_pending);
    RUN(test_queue_from_done);
    RUN(test_free_with_jobs_in_flight);
    RUN(test_several_loops);
    RUN(test_after_fork);
    RUN(test_pool_size_env);
    return 0;
}
