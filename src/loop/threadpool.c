#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "loop_internal.h"

#define POOL_DEFAULT_THREADS 4
#define POOL_MAX_THREADS     128

typedef struct job {
    post_node_t done_node; /* posted back to the loop when work has run */
    struct job *next;
    eddy_loop_t *loop;
    eddy_work_fn work;
    eddy_work_done_fn done;
    void *ud;
} job_t;

/* One pool per process. After fork the child has none of the parent's
 * threads, so the atfork handler forgets them and the child starts its own. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail;
    int threads;
    bool atfork_set;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, false};

static void pool_after_fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.cond, NULL);
    pool.head = pool.tail = NULL;
    pool.threads = 0;
}

static void *pool_thread(void *arg)
{
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.head)
            pthread_cond_wait(&pool.cond, &pool.lock);
        job_t *j = pool.head;
        pool.head = j->next;
        if (!pool.head) pool.tail = NULL;
        pthread_mutex_unlock(&pool.lock);
        j->work(j->ud);
        eddy__loop_post_node(j->loop, &j->done_node);
    }
    return arg;
}

static int pool_size(void)
{
    const char *s = getenv("EDDY_THREADPOOL_SIZE");
    int n = s ? atoi(s) : POOL_DEFAULT_THREADS;
    if (n < 1) n = 1;
    if (n > POOL_MAX_THREADS) n = POOL_MAX_THREADS;
    return n;
}

/* Called with pool.lock held. */
static int pool_start(void)
{
    if (!pool.atfork_set) {
        pthread_atfork(NULL, NULL, pool_after_fork_child);
        pool.atfork_set = true;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* threads inherit it: no signal lands there */
    int want = pool_size(), rc = 0;
    while (pool.threads < want) {
        pthread_t t;
        rc = -pthread_create(&t, NULL, pool_thread, NULL);
        if (rc < 0) break;
        pthread_detach(t);
        pool.threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.threads > 0 ? 0 : rc;
}

/* done_node is the job's first member. */
static void job_complete(eddy_loop_t *loop, post_node_t *node)
{
    job_t *j = (job_t *)node;
    eddy_work_done_fn done = j->done;
    void *ud = j->ud;
    loop->work_pending--;
    free(j);
    if (done) done(loop, ud);
}

static void job_drop(eddy_loop_t *loop, post_node_t *node)
{
    loop->work_pending--;
    free(node);
}

int eddy_work_queue(eddy_loop_t *loop, eddy_work_fn work, eddy_work_done_fn done, void *ud)
{
    if (!work) return -EINVAL;
    job_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->loop = loop;
    j->work = work;
    j->done = done;
    j->ud = ud;
    j->done_node.run = job_complete;
    j->done_node.drop = job_drop;
    pthread_mutex_lock(&pool.lock);
    int rc = pool.threads == 0 ? pool_start() : 0;
    if (rc == 0) {
        if (pool.tail)
            pool.tail->next = j;
        else
            pool.head = j;
        pool.tail = j;
        pthread_cond_signal(&pool.cond);
    }
    pthread_mutex_unlock(&pool.lock);
    if (rc < 0) {
        free(j);
        return rc;
    }
    loop->work_pending++;
    return 0;
}
