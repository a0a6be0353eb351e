#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "eddy/log.h"

/*
 * The level is read without the lock (the macros test it on every call). The
 * lock guards fd, path and hook, and is held across the write(2) itself: a
 * concurrent eddy_log_set_file closes the old fd, and a writer that had read
 * the fd number unlocked would write to a closed (or by then reused) fd.
 */
static struct {
    _Atomic int level;
    int fd;
    char *path;
    eddy_log_hook_fn hook;
    void *hook_ud;
    pthread_mutex_t lock;
} logger = {EDDY_LOG_NOTICE, STDERR_FILENO, NULL, NULL, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error", "off"};

void eddy_log_set_level(eddy_log_level_t level)
{
    atomic_store_explicit(&logger.level, (int)level, memory_order_relaxed);
}

eddy_log_level_t eddy_log_get_level(void)
{
    return (eddy_log_level_t)atomic_load_explicit(&logger.level, memory_order_relaxed);
}

int eddy_log_level_parse(const char *s, eddy_log_level_t *out)
{
    for (int i = 0; i <= EDDY_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0')) {
            *out = (eddy_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int eddy_log_set_file(const char *path)
{
    int fd = STDERR_FILENO;
    char *copy = NULL;
    if (path) {
        copy = strdup(path);
        if (!copy) return -ENOMEM;
        fd = open_log(path);
        if (fd < 0) {
            free(copy);
            return fd;
        }
    }
    pthread_mutex_lock(&logger.lock);
    int old = logger.fd;
    free(logger.path);
    logger.fd = fd;
    logger.path = copy;
    pthread_mutex_unlock(&logger.lock);
    if (old != STDERR_FILENO) close(old);
    return 0;
}

int eddy_log_reopen(void)
{
    pthread_mutex_lock(&logger.lock);
    int rc = 0;
    if (logger.path) {
        int fd = open_log(logger.path);
        if (fd < 0) {
            rc = fd;
        } else {
            /* Keep the fd number; dup3 (unlike dup2) keeps it close-on-exec. */
            if (dup3(fd, logger.fd, O_CLOEXEC) < 0) rc = -errno;
            close(fd);
        }
    }
    pthread_mutex_unlock(&logger.lock);
    return rc;
}

void eddy_log_set_hook(eddy_log_hook_fn hook, void *ud)
{
    pthread_mutex_lock(&logger.lock);
    logger.hook = hook;
    logger.hook_ud = ud;
    pthread_mutex_unlock(&logger.lock);
}

void eddy_log_vwrite(eddy_log_level_t level, const char *fmt, va_list ap)
{
    if ((unsigned)level >= EDDY_LOG_OFF || level < eddy_log_get_level()) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d [%d] %-6s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), (int)getpid(), level_names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    pthread_mutex_lock(&logger.lock);
    eddy_log_hook_fn hook = logger.hook;
    void *hook_ud = logger.hook_ud;
    if (!hook) {
        line[len++] = '\n';
        /* Nowhere left to report a failing log write; retry only EINTR. */
        while (write(logger.fd, line, len) < 0 && errno == EINTR) {
        }
    }
    pthread_mutex_unlock(&logger.lock);
    if (hook) { /* outside the lock: the hook may log or change the logger */
        line[len] = '\0';
        hook(level, line, hook_ud);
    }
}

void eddy_log_write(eddy_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eddy_log_vwrite(level, fmt, ap);
    va_end(ap);
}
