/* Process titles: the thread name through prctl, the command line by
 * overwriting argv's strings once eddy_proctitle_init has moved them. */
#include "eddy/proctitle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;
extern char *program_invocation_name;
extern char *program_invocation_short_name;

/* The kernel's argv area (argv's strings, then environ's, back to back);
 * NULL until eddy_proctitle_init. */
static char *title_area;
static size_t title_room;
/* The copy of environ made by init, kept here too: the copies live as long
 * as the process, but environ may drop them (setenv's own array; glibc's
 * exit-time clearenv, after which valgrind would call them lost). volatile:
 * a pointer only ever stored would otherwise be optimised away. */
static char **volatile environ_copy;

/* Past the strings of list[0..n) that follow end in memory, one after the
 * other; the first that does not ends the run (setenv may have moved some).
 * *all: whether the run took the whole list. */
static char *run_end(char *end, char **list, size_t n, bool *all)
{
    size_t i = 0;
    for (; i < n && list[i] == end; i++)
        end += strlen(list[i]) + 1;
    *all = i == n;
    return end;
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
}

/* Heap copies of list[0..n) into copies[0..n); false (nothing kept) on
 * ENOMEM. */
static bool copy_strings(char **copies, char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(copies[i] = strdup(list[i]))) {
            free_strings(copies, i);
            return false;
        }
    }
    return true;
}

int eddy_proctitle_init(int argc, char **argv)
{
    if (title_area || argc <= 0 || !argv || !argv[0]) return 0;
    size_t nargs = (size_t)argc, nenv = 0;
    while (environ && environ[nenv])
        nenv++;
    char *start = argv[0];
    bool all;
    char *end = run_end(start, argv, nargs, &all);
    if (all) end = run_end(end, environ, nenv, &all);

    char **args = malloc(nargs * sizeof *args);
    char **env = malloc((nenv + 1) * sizeof *env);
    if (!args || !env || !copy_strings(args, argv, nargs)) goto nomem;
    if (!copy_strings(env, environ, nenv)) {
        free_strings(args, nargs);
        goto nomem;
    }
    env[nenv] = NULL;
    memcpy(argv, args, nargs * sizeof *args);
    free(args); /* argv[] itself now holds the copies */
    environ = environ_copy = env;
    program_invocation_name = argv[0];
    char *slash = strrchr(argv[0], '/');
    program_invocation_short_name = slash ? slash + 1 : argv[0];
    title_area = start;
    title_room = (size_t)(end - start);
    return 0;
nomem:
    free(args);
    free(env);
    return -ENOMEM;
}

void eddy_proctitle_set_thread(const char *name)
{
    prctl(PR_SET_NAME, name); /* the kernel keeps the first 15 bytes */
}

void eddy_proctitle_set(const char *fmt, ...)
{
    char title[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof title, fmt, ap);
    va_end(ap);
    if (title_area && title_room > 1) {
        size_t n = strnlen(title, title_room - 1);
        memcpy(title_area, title, n);
        /* NUL to the end: /proc/PID/cmdline stops at the first NUL only
         * while the area's last byte is one. */
        memset(title_area + n, 0, title_room - n);
    }
    eddy_proctitle_set_thread(title);
}
