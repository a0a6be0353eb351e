/*
 * Task workers, pipe messages and sends to another worker's sessions, with
 * real processes: a server with 2 workers and 2 task workers runs in a
 * child; the test talks to it over TCP.
 *
 *   "TASK text"  -> eddy_server_task; the task worker upper-cases the text
 *                   and finishes; on_finish answers "DONE TEXT pid"
 *   "WAIT text"  -> eddy_server_taskwait (blocking, 2 s) answers "WAITED TEXT"
 *   "MULTI a b c"-> eddy_server_taskwait_multi answers "MULTI A B C"
 *   "RELAY text" -> eddy_server_send_message to the other worker, which
 *                   answers on this worker's session (a forwarded send):
 *                   "RELAYED text by worker N"
 *   "BIG n"      -> a task of n bytes; the result (n bytes) comes back whole
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <eddy.h>

#include "test.h"
#include "testutil.h"

#define MAX_PENDING 1024

/* In each worker: which session a pending task answers. */
static struct {
    int64_t task;
    eddy_session_t session;
} pending[MAX_PENDING];

static void remember(int64_t task, eddy_session_t session)
{
    pending[(uint64_t)task % MAX_PENDING].task = task;
    pending[(uint64_t)task % MAX_PENDING].session = session;
}

static eddy_session_t recall(int64_t task)
{
    return pending[(uint64_t)task % MAX_PENDING].task == task
               ? pending[(uint64_t)task % MAX_PENDING].session
               : 0;
}

static void reply(eddy_server_t *s, eddy_session_t session, const char *text)
{
    eddy_server_send(s, session, text, strlen(text));
}

static void on_receive(eddy_server_t *s, eddy_session_t session, const char *data, size_t len,
                       void *ud)
{
    char line[256];
    if (len >= sizeof line) return;
    memcpy(line, data, len - 1); /* without the '\n' */
    line[len - 1] = '\0';
    char out[512];
    if (strncmp(line, "TASK ", 5) == 0) {
        int64_t id = eddy_server_task(s, line + 5, strlen(line + 5), -1);
        if (id > 0) remember(id, session);
    } else if (strncmp(line, "WAIT ", 5) == 0) {
        void *result;
        size_t n;
        int rc = eddy_server_taskwait(s, line + 5, strlen(line + 5), -1, 2000, &result, &n);
        if (rc == 0) {
            snprintf(out, sizeof out, "WAITED %.*s\n", (int)n, (char *)result);
            free(result);
        } else {
            snprintf(out, sizeof out, "WAIT FAILED %s\n", eddy_err_name(rc));
        }
        reply(s, session, out);
    } else if (strncmp(line, "MULTI ", 6) == 0) {
        const void *parts[3] = {"a", "b", "c"};
        size_t lens[3] = {1, 1, 1};
        void *results[3];
        size_t rlens[3];
        int done = eddy_server_taskwait_multi(s, 3, parts, lens, 2000, results, rlens);
        snprintf(out, sizeof out, "MULTI %d", done);
        for (int i = 0; i < 3; i++) {
            size_t used = strlen(out);
            snprintf(out + used, sizeof out - used, " %.*s", (int)rlens[i],
                     results[i] ? (char *)results[i] : "-");
            free(results[i]);
        }
        strcat(out, "\n");
        reply(s, session, out);
    } else if (strncmp(line, "RELAY ", 6) == 0) {
        /* session id, then the text: the other worker answers on our session */
        int n = snprintf(out, sizeof out, "%llu %s", (unsigned long long)session, line + 6);
        int other = eddy_server_worker_id(s) == 0 ? 1 : 0;
        eddy_server_send_message(s, other, out, (size_t)n);
    } else if (strncmp(line, "BIG ", 4) == 0) {
        size_t n = strtoul(line + 4, NULL, 10);
        char *big = malloc(n);
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        int64_t id = eddy_server_task(s, big, n, -1);
        free(big);
        if (id > 0) remember(id, session);
    } else if (strcmp(line, "WHO") == 0) {
        snprintf(out, sizeof out, "worker %d\n", eddy_server_worker_id(s));
        reply(s, session, out);
    }
}

static void on_task(eddy_server_t *s, int64_t task_id, int src_worker, const void *data, size_t len,
                    void *ud)
{
    char *up = malloc(len + 32);
    for (size_t i = 0; i < len; i++) {
        char c = ((const char *)data)[i];
        up[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    eddy_server_finish(s, task_id, up, len);
    free(up);
}

static void on_finish(eddy_server_t *s, int64_t task_id, const void *data, size_t len, void *ud)
{
    eddy_session_t session = recall(task_id);
    if (!session) return;
    if (len > 1000) { /* BIG: check and answer its length */
        bool ok = true;
        for (size_t i = 0; i < len; i++)
            ok &= ((const char *)data)[i] == (char)('A' + i % 26);
        char out[64];
        snprintf(out, sizeof out, "BIG %zu %s\n", len, ok ? "ok" : "corrupt");
        reply(s, session, out);
        return;
    }
    char out[512];
    snprintf(out, sizeof out, "DONE %.*s\n", (int)len, (const char *)data);
    reply(s, session, out);
}

static void on_pipe_message(eddy_server_t *s, int src_worker, const void *data, size_t len,
                            void *ud)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)len, (const char *)data);
    char *space = strchr(msg, ' ');
    if (!space) return;
    *space = '\0';
    eddy_session_t session = strtoull(msg, NULL, 10);
    char out[512];
    snprintf(out, sizeof out, "RELAYED %s by worker %d from %d\n", space + 1,
             eddy_server_worker_id(s), src_worker);
    eddy_server_send(s, session, out, strlen(out)); /* another worker's session */
}

static void run_server(int pipe_fd, const char *mode)
{
    eddy_server_callbacks_t cbs = {.on_receive = on_receive,
                                   .on_task = on_task,
                                   .on_finish = on_finish,
                                   .on_pipe_message = on_pipe_message};
    eddy_server_t *s;
    CHECK(eddy_server_new(NULL, &cbs, NULL, &s) == 0);
    CHECK(eddy_server_set(s, "mode", mode) == 0);
    /* PROCESS mode: packets in turn, so that both workers receive. */
    CHECK(eddy_server_set(s, "dispatch_mode", "1") == 0);
    CHECK(eddy_server_set(s, "worker_num", "2") == 0);
    CHECK(eddy_server_set(s, "task_worker_num", "2") == 0);
    CHECK(eddy_server_set(s, "max_wait_time", "1") == 0);
    /* The kernel spreads connections over both workers by their addresses. */
    CHECK(eddy_server_set(s, "enable_reuse_port", "1") == 0);
    CHECK(eddy_server_set(s, "open_eof_split", "1") == 0);
    CHECK(eddy_server_set(s, "package_eof", "\\n") == 0);
    CHECK(eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL) == 0);
    int port = eddy_server_port(s, 0);
    CHECK(write(pipe_fd, &port, sizeof port) == sizeof port);
    close(pipe_fd);
    int rc = eddy_server_start(s);
    eddy_server_free(s);
    _exit(rc == 0 ? 0 : 1);
}

static int g_port;

static void ask(const char *request, char *answer, size_t size)
{
    /* With enable_reuse_port nothing listens until the workers have bound
     * their own sockets: the first connections may be refused. */
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++) {
        fd = test_connect(g_port, 5000);
        if (fd < 0) usleep(10000);
    }
    CHECK(fd >= 0);
    CHECK(test_write_all(fd, request, strlen(request)) == 0);
    ssize_t n = test_read_line(fd, answer, size);
    CHECK(n > 0);
    close(fd);
}

static void test_async_task(void)
{
    char answer[256];
    for (int i = 0; i < 20; i++) {
        ask("TASK hello world\n", answer, sizeof answer);
        CHECK_STR(answer, "DONE HELLO WORLD\n");
    }
}

static void test_taskwait(void)
{
    char answer[256];
    ask("WAIT quiet please\n", answer, sizeof answer);
    CHECK_STR(answer, "WAITED QUIET PLEASE\n");
}

static void test_taskwait_multi(void)
{
    char answer[256];
    ask("MULTI x\n", answer, sizeof answer);
    CHECK_STR(answer, "MULTI 3 A B C\n");
}

static void test_relay_to_other_worker(void)
{
    char answer[256];
    /* Try until both workers have been the receiving one. */
    bool seen[2] = {false, false};
    for (int i = 0; i < 40 && !(seen[0] && seen[1]); i++) {
        ask("RELAY ping\n", answer, sizeof answer);
        int by, from;
        CHECK(sscanf(answer, "RELAYED ping by worker %d from %d", &by, &from) == 2);
        CHECK(by != from);
        seen[from] = true;
    }
    CHECK(seen[0] && seen[1]);
}

static void test_big_task(void)
{
    char answer[256], request[64];
    size_t sizes[] = {65536 - 100, 65536 * 3 + 7, 4 * 1024 * 1024};
    for (size_t i = 0; i < 3; i++) {
        snprintf(request, sizeof request, "BIG %zu\n", sizes[i]);
        ask(request, answer, sizeof answer);
        char expect[64];
        snprintf(expect, sizeof expect, "BIG %zu ok\n", sizes[i]);
        CHECK_STR(answer, expect);
    }
}

/* The same tasks, messages and relays in BASE and PROCESS mode. */
int main(void)
{
    static const char *const modes[] = {"base", "process"};
    for (int m = 0; m < 2; m++) {
        printf("mode %s\n", modes[m]);
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failing test takes its server down */
            close(fds[0]);
            run_server(fds[1], modes[m]);
        }
        close(fds[1]);
        CHECK(read(fds[0], &g_port, sizeof g_port) == sizeof g_port);
        close(fds[0]);
        RUN(test_async_task);
        RUN(test_taskwait);
        RUN(test_taskwait_multi);
        RUN(test_relay_to_other_worker);
        RUN(test_big_task);
        kill(pid, SIGTERM);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return 0;
}
