/*
 * task_worker — slow work off the workers' loops.
 *
 *   task_worker [-p PORT] [-w WORKERS] [-t TASK_WORKERS]
 *
 * A client sends "fib N\n" (N up to 90). The worker hands N to a task worker
 * with eddy_server_task and goes on serving; the task worker computes the
 * Fibonacci number (slowly, on purpose: one step per microsecond) and
 * answers with eddy_server_finish; on_finish, back in the worker, replies
 * "fib(N) = F\n" on the connection that asked. "now N\n" does the same with
 * eddy_server_taskwait, blocking the worker until the answer comes (1 s at
 * most) — simpler, but the worker serves no one else meanwhile.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define PENDING_MAX 4096

/* Which connection each task answers (per worker process). */
static struct {
    int64_t task;
    eddy_session_t session;
} pending[PENDING_MAX];

static void reply_fib(eddy_server_t *s, eddy_session_t session, const char *result, size_t len)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%.*s\n", (int)len, result);
    eddy_server_send(s, session, line, (size_t)n);
}

static void on_receive(eddy_server_t *s, eddy_session_t session, const char *data, size_t len,
                       void *ud)
{
    char line[64];
    snprintf(line, sizeof line, "%.*s", (int)(len - 1), data);
    unsigned n;
    if (sscanf(line, "fib %u", &n) == 1 && n <= 90) {
        int64_t task = eddy_server_task(s, &n, sizeof n, -1);
        if (task < 0) {
            eddy_server_send(s, session, "busy\n", 5);
            return;
        }
        pending[task % PENDING_MAX].task = task;
        pending[task % PENDING_MAX].session = session;
    } else if (sscanf(line, "now %u", &n) == 1 && n <= 90) {
        void *result;
        size_t rlen;
        if (eddy_server_taskwait(s, &n, sizeof n, -1, 1000, &result, &rlen) == 0) {
            reply_fib(s, session, result, rlen);
            free(result);
        } else {
            eddy_server_send(s, session, "timeout\n", 8);
        }
    } else {
        eddy_server_send(s, session, "usage: fib N | now N (N <= 90)\n", 31);
    }
}

static void on_task(eddy_server_t *s, int64_t task_id, int src_worker, const void *data, size_t len,
                    void *ud)
{
    unsigned n;
    memcpy(&n, data, sizeof n);
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t next = a + b;
        a = b;
        b = next;
        usleep(1); /* stands in for real work: a query, a file, a computation */
    }
    char result[64];
    int rlen = snprintf(result, sizeof result, "fib(%u) = %" PRIu64, n, a);
    eddy_server_finish(s, task_id, result, (size_t)rlen);
}

static void on_finish(eddy_server_t *s, int64_t task_id, const void *data, size_t len, void *ud)
{
    if (pending[task_id % PENDING_MAX].task != task_id) return;
    reply_fib(s, pending[task_id % PENDING_MAX].session, data, len);
}

int main(int argc, char **argv)
{
    eddy_proctitle_init(argc, argv); /* first: ps shows "eddy: worker #0" ... */
    const char *port = "0", *workers = "2", *tasks = "2";
    for (int opt; (opt = getopt(argc, argv, "p:w:t:")) != -1;) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'w': workers = optarg; break;
        case 't': tasks = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-p PORT] [-w WORKERS] [-t TASK_WORKERS]\n", argv[0]);
            return 2;
        }
    }
    eddy_server_callbacks_t cbs = {
        .on_receive = on_receive, .on_task = on_task, .on_finish = on_finish};
    eddy_server_t *s;
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    int rc = eddy_server_new(NULL, &cbs, NULL, &s);
    if (rc == 0) rc = eddy_server_set(s, "worker_num", workers);
    if (rc == 0) rc = eddy_server_set(s, "task_worker_num", tasks);
    if (rc == 0) rc = eddy_server_set(s, "open_eof_split", "1");
    if (rc == 0) rc = eddy_server_set(s, "package_eof", "\\n");
    if (rc == 0) rc = eddy_server_listen(s, url, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "task_worker: %s\n", eddy_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, 0));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    return rc < 0 ? 1 : 0;
}
