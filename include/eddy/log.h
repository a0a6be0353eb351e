/*
 * eddy/log.h — leveled logger.
 *
 * One process-wide logger, safe to call from any thread. Each record is
 * formatted into a local buffer (about 2 KB; longer records are truncated)
 * and written with a single write(2), so lines from several threads or
 * processes sharing a file do not interleave. Output goes to stderr by
 * default, to a file after eddy_log_set_file, and, when a hook is set, to the
 * hook instead. Records are written under the logger's lock, so changing the
 * file or reopening it while other threads log loses no line. The log file is
 * opened close-on-exec, and stays so across eddy_log_reopen.
 */
#ifndef EDDY_LOG_H
#define EDDY_LOG_H

#include <stdarg.h>

#include "common.h"

typedef enum eddy_log_level {
    EDDY_LOG_DEBUG,
    EDDY_LOG_INFO,
    EDDY_LOG_NOTICE,
    EDDY_LOG_WARN,
    EDDY_LOG_ERROR,
    EDDY_LOG_OFF,
} eddy_log_level_t;

/* Receives each record that passes the level filter; line has no newline and
 * is valid only during the call. Called outside the logger's lock, on the
 * logging thread; a hook may itself log. */
typedef void (*eddy_log_hook_fn)(eddy_log_level_t level, const char *line, void *ud);

EDDY_EXPORT void eddy_log_set_level(eddy_log_level_t level);
EDDY_EXPORT eddy_log_level_t eddy_log_get_level(void);
/* Parse "debug", "info", "notice", "warn", "error", "off" (or 0..5). */
EDDY_EXPORT int eddy_log_level_parse(const char *s, eddy_log_level_t *out);
/* Append to path (created 0644); NULL returns to stderr. 0 or -errno. */
EDDY_EXPORT int eddy_log_set_file(const char *path);
/* Reopen the current file by path (after log rotation renamed it), keeping
 * the same fd number. 0 (also when logging to stderr) or -errno, in which
 * case records keep going to the old file. */
EDDY_EXPORT int eddy_log_reopen(void);
/* Route records to hook instead of the file (NULL restores the file). */
EDDY_EXPORT void eddy_log_set_hook(eddy_log_hook_fn hook, void *ud);

EDDY_EXPORT void eddy_log_write(eddy_log_level_t level, const char *fmt, ...) EDDY_PRINTF(2, 3);
EDDY_EXPORT void eddy_log_vwrite(eddy_log_level_t level, const char *fmt, va_list ap);

/* Macros skip formatting entirely below the current level. */
#define EDDY_LOG(level, ...)                                                                       \
    do {                                                                                           \
        if ((level) >= eddy_log_get_level()) eddy_log_write((level), __VA_ARGS__);                 \
    } while (0)
#define EDDY_DEBUG(...)  EDDY_LOG(EDDY_LOG_DEBUG, __VA_ARGS__)
#define EDDY_INFO(...)   EDDY_LOG(EDDY_LOG_INFO, __VA_ARGS__)
#define EDDY_NOTICE(...) EDDY_LOG(EDDY_LOG_NOTICE, __VA_ARGS__)
#define EDDY_WARN(...)   EDDY_LOG(EDDY_LOG_WARN, __VA_ARGS__)
#define EDDY_ERROR(...)  EDDY_LOG(EDDY_LOG_ERROR, __VA_ARGS__)

#endif
