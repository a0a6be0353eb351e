/*
 * Logger: level parsing and filtering, output to stderr / a file / a hook,
 * reopen after rename (log rotation), long lines, CLOEXEC on the log fd, and
 * no lost lines while another thread switches files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eddy/log.h"
#include "test.h"
#include "testutil.h"

static char dir[4096];

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Whole file as a NUL-terminated string (empty if missing). */
static char *slurp(const char *path, size_t *len_out)
{
    char *s = test_read_file(path, len_out);
    if (s) return s;
    if (len_out) *len_out = 0;
    CHECK((s = strdup("")));
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if (*s == '\n') n++;
    return n;
}

/* Lines that contain sub (line by line: strstr over a large file is slow
 * under ASan, whose interceptor measures the whole haystack each call). */
static int count_lines_with(const char *s, const char *sub)
{
    int n = 0;
    size_t k = strlen(sub);
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (memmem(s, len, sub, k)) n++;
        s += len + (nl != NULL);
    }
    return n;
}

/* The fd the logger writes path with, found through /proc (-1 if none). */
static int find_log_fd(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char target[4096];
        ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0) found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* ---- hook capture ---------------------------------------------------------- */

enum { MAX_CAPTURE = 64 };
static struct {
    int n;
    eddy_log_level_t level[MAX_CAPTURE];
    char *line[MAX_CAPTURE];
} cap;

static void capture_hook(eddy_log_level_t level, const char *line, void *ud)
{
    CHECK(ud == &cap);
    CHECK(cap.n < MAX_CAPTURE);
    CHECK(strchr(line, '\n') == NULL); /* the hook gets the line without newline */
    cap.level[cap.n] = level;
    cap.line[cap.n] = strdup(line);
    cap.n++;
}

static void capture_reset(void)
{
    for (int i = 0; i < cap.n; i++)
        free(cap.line[i]);
    cap.n = 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_level_parse(void)
{
    static const struct {
        const char *s;
        eddy_log_level_t level;
    } ok[] = {
        {"debug", EDDY_LOG_DEBUG}, {"info", EDDY_LOG_INFO},   {"notice", EDDY_LOG_NOTICE},
        {"warn", EDDY_LOG_WARN},   {"error", EDDY_LOG_ERROR}, {"off", EDDY_LOG_OFF},
        {"DEBUG", EDDY_LOG_DEBUG}, {"Warn", EDDY_LOG_WARN},   {"0", EDDY_LOG_DEBUG},
        {"1", EDDY_LOG_INFO},      {"2", EDDY_LOG_NOTICE},    {"3", EDDY_LOG_WARN},
        {"4", EDDY_LOG_ERROR},     {"5", EDDY_LOG_OFF},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        eddy_log_level_t lv = (eddy_log_level_t)99;
        CHECK_EQ(eddy_log_level_parse(ok[i].s, &lv), 0);
        CHECK_EQ(lv, ok[i].level);
    }
    static const char *const bad[] = {"",   "6",       "-1",  "00", "debugx", " info",
                                      "in", "warning", "err", "1 ", "o",      "offf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eddy_log_level_t lv = EDDY_LOG_WARN;
        CHECK_EQ(eddy_log_level_parse(bad[i], &lv), -EINVAL);
        CHECK_EQ(lv, EDDY_LOG_WARN); /* untouched on failure */
    }
}

static void test_filtering(void)
{
    eddy_log_set_hook(capture_hook, &cap);
    eddy_log_set_level(EDDY_LOG_WARN);
    CHECK_EQ(eddy_log_get_level(), EDDY_LOG_WARN);
    eddy_log_write(EDDY_LOG_DEBUG, "d %d", 1);
    eddy_log_write(EDDY_LOG_INFO, "i %d", 2);
    eddy_log_write(EDDY_LOG_NOTICE, "n %d", 3);
    eddy_log_write(EDDY_LOG_WARN, "w %d", 4);
    eddy_log_write(EDDY_LOG_ERROR, "e %d", 5);
    EDDY_INFO("macro info %s", "x");
    EDDY_WARN("macro warn %s", "y");
    EDDY_ERROR("macro error %s", "z");
    CHECK_EQ(cap.n, 4);
    CHECK_EQ(cap.level[0], EDDY_LOG_WARN);
    CHECK(strstr(cap.line[0], "w 4") != NULL);
    CHECK(strstr(cap.line[0], "warn") != NULL);
    CHECK_EQ(cap.level[1], EDDY_LOG_ERROR);
    CHECK(strstr(cap.line[1], "e 5") != NULL);
    CHECK(strstr(cap.line[1], "error") != NULL);
    CHECK(strstr(cap.line[2], "macro warn y") != NULL);
    CHECK(strstr(cap.line[3], "macro error z") != NULL);
    /* The record ends with the message itself. */
    size_t l0 = strlen(cap.line[0]);
    CHECK(l0 > 3 && strcmp(cap.line[0] + l0 - 3, "w 4") == 0);
    capture_reset();

    eddy_log_set_level(EDDY_LOG_DEBUG);
    EDDY_DEBUG("all %d", 1);
    EDDY_INFO("all %d", 2);
    EDDY_NOTICE("all %d", 3);
    CHECK_EQ(cap.n, 3);
    CHECK_EQ(cap.level[0], EDDY_LOG_DEBUG);
    CHECK_EQ(cap.level[1], EDDY_LOG_INFO);
    CHECK_EQ(cap.level[2], EDDY_LOG_NOTICE);
    CHECK(strstr(cap.line[0], "debug") != NULL);
    capture_reset();

    /* OFF silences everything; OFF (or anything past it) is never a record level. */
    eddy_log_set_level(EDDY_LOG_OFF);
    eddy_log_write(EDDY_LOG_ERROR, "silenced");
    EDDY_ERROR("silenced");
    CHECK_EQ(cap.n, 0);
    eddy_log_set_level(EDDY_LOG_DEBUG);
    eddy_log_write(EDDY_LOG_OFF, "not a level");
    eddy_log_write((eddy_log_level_t)42, "not a level");
    CHECK_EQ(cap.n, 0);

    eddy_log_set_hook(NULL, NULL);
    eddy_log_set_level(EDDY_LOG_NOTICE);
}

/* By default records go to stderr (captured here through a temp file). */
static void test_default_stderr(void)
{
    char path[4200];
    path_in_dir(path, sizeof path, "stderr.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    eddy_log_write(EDDY_LOG_ERROR, "to stderr %d", 42);
    eddy_log_write(EDDY_LOG_DEBUG, "filtered");
    CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    close(fd);
    char *s = slurp(path, NULL);
    CHECK_EQ(count_lines(s), 1);
    CHECK(strstr(s, "to stderr 42\n") != NULL);
    free(s);
    unlink(path);
}

static void test_set_file(void)
{
    char path[4200], bad[4200];
    path_in_dir(path, sizeof path, "eddy.log");
    path_in_dir(bad, sizeof bad, "no/such/dir/eddy.log");
    mode_t um = umask(022);
    CHECK_EQ(eddy_log_set_file(path), 0);
    umask(um);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0644);
    int fd = find_log_fd(path);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

    eddy_log_write(EDDY_LOG_NOTICE, "line one");
    eddy_log_write(EDDY_LOG_INFO, "filtered");
    eddy_log_write(EDDY_LOG_ERROR, "line %s", "two");
    /* A path that cannot be opened fails and keeps the current file. */
    CHECK_EQ(eddy_log_set_file(bad), -ENOENT);
    eddy_log_write(EDDY_LOG_WARN, "line three");
    char *s = slurp(path, NULL);
    CHECK_EQ(count_lines(s), 3);
    char *one = strstr(s, "line one\n"), *two = strstr(s, "line two\n");
    char *three = strstr(s, "line three\n");
    CHECK(one && two && three && one < two && two < three);
    CHECK(strstr(s, "filtered") == NULL);
    CHECK(strstr(s, "notice") != NULL);

    /* Setting the same path again appends, it does not truncate. */
    CHECK_EQ(eddy_log_set_file(path), 0);
    eddy_log_write(EDDY_LOG_WARN, "line four");
    free(s);
    s = slurp(path, NULL);
    CHECK_EQ(count_lines(s), 4);
    free(s);

    /* NULL returns to stderr: the file stops growing and is closed. */
    CHECK_EQ(eddy_log_set_file(NULL), 0);
    CHECK_EQ(find_log_fd(path), -1);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(saved >= 0 && devnull >= 0);
    dup2(devnull, STDERR_FILENO);
    eddy_log_write(EDDY_LOG_ERROR, "to stderr");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(devnull);
    s = slurp(path, NULL);
    CHECK_EQ(count_lines(s), 4);
    free(s);
    /* Reopen with no file is a no-op. */
    CHECK_EQ(eddy_log_reopen(), 0);
    unlink(path);
}

static void test_reopen_rotation(void)
{
    char path[4200], rotated[4200];
    path_in_dir(path, sizeof path, "rot.log");
    path_in_dir(rotated, sizeof rotated, "rot.log.1");
    CHECK_EQ(eddy_log_set_file(path), 0);
    eddy_log_write(EDDY_LOG_NOTICE, "first");
    /* logrotate: rename, then signal the process to reopen. */
    CHECK(rename(path, rotated) == 0);
    eddy_log_write(EDDY_LOG_NOTICE, "still old");
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(eddy_log_reopen(), 0);
    CHECK(access(path, F_OK) == 0); /* a new file was created */
    eddy_log_write(EDDY_LOG_NOTICE, "second");

    char *old = slurp(rotated, NULL), *cur = slurp(path, NULL);
    CHECK_EQ(count_lines(old), 2);
    CHECK(strstr(old, "first\n") && strstr(old, "still old\n"));
    CHECK(strstr(old, "second") == NULL);
    CHECK_EQ(count_lines(cur), 1);
    CHECK(strstr(cur, "second\n") != NULL);
    free(old);
    free(cur);

    /* The reopened fd is the only one on the path, and, like every fd eddy
     * opens, close-on-exec (dup2 used to drop the flag). */
    CHECK_EQ(find_log_fd(rotated), -1);
    int fd = find_log_fd(path);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

    /* Reopen when the directory is gone fails and keeps writing where it was. */
    CHECK(rename(path, rotated) == 0);
    char sub[4200], subpath[4300];
    path_in_dir(sub, sizeof sub, "sub");
    CHECK(mkdir(sub, 0755) == 0);
    snprintf(subpath, sizeof subpath, "%s/x.log", sub);
    CHECK_EQ(eddy_log_set_file(subpath), 0);
    CHECK(unlink(subpath) == 0);
    CHECK(rmdir(sub) == 0);
    CHECK_EQ(eddy_log_reopen(), -ENOENT);
    eddy_log_write(EDDY_LOG_NOTICE, "into the unlinked file");
    CHECK_EQ(eddy_log_set_file(NULL), 0);
    unlink(path);
    unlink(rotated);
}

static void test_hook_replaces_file(void)
{
    char path[4200];
    path_in_dir(path, sizeof path, "hook.log");
    CHECK_EQ(eddy_log_set_file(path), 0);
    eddy_log_set_hook(capture_hook, &cap);
    eddy_log_write(EDDY_LOG_WARN, "to hook");
    CHECK_EQ(cap.n, 1);
    CHECK(strstr(cap.line[0], "to hook") != NULL);
    char *s = slurp(path, NULL);
    CHECK_EQ(strlen(s), 0);
    free(s);
    eddy_log_set_hook(NULL, NULL); /* back to the file */
    eddy_log_write(EDDY_LOG_WARN, "to file");
    CHECK_EQ(cap.n, 1);
    s = slurp(path, NULL);
    CHECK_EQ(count_lines(s), 1);
    CHECK(strstr(s, "to file\n") != NULL);
    free(s);
    capture_reset();
    CHECK_EQ(eddy_log_set_file(NULL), 0);
    unlink(path);
}

static void test_long_line(void)
{
    char *big = malloc(10000);
    CHECK(big != NULL);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    eddy_log_set_hook(capture_hook, &cap);
    eddy_log_write(EDDY_LOG_ERROR, "%s", big);
    CHECK_EQ(cap.n, 1);
    size_t len = strlen(cap.line[0]);
    CHECK(len > 1000 && len < 4096); /* truncated, still terminated */
    CHECK(cap.line[0][len - 1] == 'x');
    capture_reset();
    eddy_log_set_hook(NULL, NULL);

    char path[4200];
    path_in_dir(path, sizeof path, "long.log");
    CHECK_EQ(eddy_log_set_file(path), 0);
    eddy_log_write(EDDY_LOG_ERROR, "%s", big);
    eddy_log_write(EDDY_LOG_ERROR, "after");
    size_t flen;
    char *s = slurp(path, &flen);
    CHECK_EQ(count_lines(s), 2); /* the long record still ends its line */
    char *nl = strchr(s, '\n');
    CHECK(nl[-1] == 'x');
    CHECK(strstr(nl + 1, "after\n") != NULL);
    free(s);
    CHECK_EQ(eddy_log_set_file(NULL), 0);
    unlink(path);
    free(big);
}

/* ---- threads --------------------------------------------------------------- */

enum { WRITERS = 4, LINES = 20000 };
static volatile bool stop_switching;

static void *writer_main(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES; i++)
        eddy_log_write(EDDY_LOG_NOTICE, "writer %ld line %d", id, i);
    return NULL;
}

static void *switcher_main(void *arg)
{
    char **paths = arg;
    for (int i = 0; !stop_switching; i++) {
        CHECK_EQ(eddy_log_set_file(paths[i % 2]), 0);
        if (i % 7 == 0) CHECK_EQ(eddy_log_reopen(), 0);
    }
    return NULL;
}

/* Switching files while other threads log must not lose (or misdirect)
 * a single line: every line lands, whole, in one of the two files. */
static void test_threads_switching_files(void)
{
    char a[4200], b[4200];
    path_in_dir(a, sizeof a, "a.log");
    path_in_dir(b, sizeof b, "b.log");
    char *paths[2] = {a, b};
    CHECK_EQ(eddy_log_set_file(a), 0);
    stop_switching = false;
    pthread_t sw, wr[WRITERS];
    CHECK(pthread_create(&sw, NULL, switcher_main, paths) == 0);
    for (long i = 0; i < WRITERS; i++)
        CHECK(pthread_create(&wr[i], NULL, writer_main, (void *)i) == 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wr[i], NULL);
    stop_switching = true;
    pthread_join(sw, NULL);
    CHECK_EQ(eddy_log_set_file(NULL), 0);

    char *sa = slurp(a, NULL), *sb = slurp(b, NULL);
    int total = count_lines(sa) + count_lines(sb);
    int whole = count_lines_with(sa, " notice writer ") + count_lines_with(sb, " notice writer ");
    if (total != WRITERS * LINES) fprintf(stderr, "lines: %d of %d\n", total, WRITERS * LINES);
    CHECK_EQ(total, WRITERS * LINES);
    CHECK_EQ(whole, WRITERS * LINES);
    free(sa);
    free(sb);
    unlink(a);
    unlink(b);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/eddy-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_level_parse);
    RUN(test_filtering);
    RUN(test_default_stderr);
    RUN(test_set_file);
    RUN(test_reopen_rotation);
    RUN(test_hook_replaces_file);
    RUN(test_long_line);
    RUN(test_threads_switching_files);
    CHECK(rmdir(dir) == 0); /* every test removed its files */
    return 0;
}
