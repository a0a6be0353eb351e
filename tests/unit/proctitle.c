/*
 * Process titles: without eddy_proctitle_init only the thread name changes
 * and the command line is left alone; after it the command line shows the
 * whole title (cut to the room argv had, NUL-padded), while argv, environ
 * and program_invocation_name still read as before.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/proctitle.h"
#include "test.h"

static int g_argc;
static char **g_argv;
static char g_argv0[4096], g_argv1[4096]; /* copies, taken before init */

/* The whole of a /proc file; its length in *len. */
static char *slurp_proc(const char *name, size_t *len)
{
    static char buf[65536];
    FILE *f = fopen(name, "r");
    CHECK(f != NULL);
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void check_comm(const char *want)
{
    size_t len;
    char *comm = slurp_proc("/proc/self/comm", &len);
    if (len && comm[len - 1] == '\n') comm[len - 1] = '\0';
    CHECK_STR(comm, want);
}

/* Run fn in a child, so each case starts from the untouched process. */
static void in_child(void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn();
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void without_init(void)
{
    size_t before_len, after_len;
    char before[4096];
    char *b = slurp_proc("/proc/self/cmdline", &before_len);
    memcpy(before, b, before_len);
    eddy_proctitle_set("eddy: worker #%d", 7);
    check_comm("eddy: worker #7");
    char *after = slurp_proc("/proc/self/cmdline", &after_len);
    CHECK_EQ(after_len, before_len);
    CHECK(memcmp(after, before, before_len) == 0); /* argv untouched */
    CHECK_STR(g_argv[0], g_argv0);
}

static void with_init(void)
{
    const char *path = getenv("PATH");
    char saved_path[4096];
    snprintf(saved_path, sizeof saved_path, "%s", path ? path : "");
    CHECK_EQ(eddy_proctitle_init(g_argc, g_argv), 0);
    CHECK_EQ(eddy_proctitle_init(g_argc, g_argv), 0); /* again: nothing */
    eddy_proctitle_set("eddy: task worker #%d", 12);
    size_t len;
    char *cmdline = slurp_proc("/proc/self/cmdline", &len);
    CHECK_STR(cmdline, "eddy: task worker #12"); /* up to the first NUL */
    for (size_t i = strlen(cmdline); i < len; i++)
        CHECK_EQ(cmdline[i], '\0');
    check_comm("eddy: task work"); /* the thread name: 15 bytes */
    /* The program's view is unchanged: argv, environ, its own name. */
    CHECK_STR(g_argv[0], g_argv0);
    if (g_argc > 1) CHECK_STR(g_argv[1], g_argv1);
    CHECK_STR(getenv("PATH") ? getenv("PATH") : "", saved_path);
    CHECK_STR(program_invocation_name, g_argv0);
    CHECK_EQ(setenv("EDDY_PROCTITLE_TEST", "yes", 1), 0);
    CHECK_STR(getenv("EDDY_PROCTITLE_TEST"), "yes");

    /* A title longer than argv's room is cut to it, still NUL-terminated. */
    char longer[8192];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    eddy_proctitle_set("%s", longer);
    cmdline = slurp_proc("/proc/self/cmdline", &len);
    CHECK(strlen(cmdline) > 0 && strlen(cmdline) < len);
    CHECK(strspn(cmdline, "x") == strlen(cmdline));

    eddy_proctitle_set_thread("eddy: reactor1");
    check_comm("eddy: reactor1");
    cmdline = slurp_proc("/proc/self/cmdline", &len);
    CHECK(cmdline[0] == 'x'); /* the thread name alone */
}

static void test_without_init(void)
{
    in_child(without_init);
}

static void test_with_init(void)
{
    in_child(with_init);
}

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    snprintf(g_argv0, sizeof g_argv0, "%s", argv[0]);
    if (argc > 1) snprintf(g_argv1, sizeof g_argv1, "%s", argv[1]);
    RUN(test_without_init);
    RUN(test_with_init);
    return 0;
}
