/*
 * eddy/proctitle.h — process titles: what ps and top show for a process.
 *
 * Two names tell processes apart. The thread name ("comm": ps -o comm, top,
 * /proc/PID/comm) holds 15 bytes and can always be set. The command line
 * (ps aux, ps -o args, /proc/PID/cmdline) holds a whole title, but only by
 * overwriting the memory where the kernel placed argv's strings, so it
 * takes the program's consent: eddy_proctitle_init, first thing in main.
 *
 * The server titles its processes itself: "eddy: master", "eddy: manager",
 * "eddy: worker #3", "eddy: task worker #0" on the command line once
 * eddy_proctitle_init was called, and "eddy: worker 3", "eddy: task 0" ...
 * as thread names in any case.
 */
#ifndef EDDY_PROCTITLE_H
#define EDDY_PROCTITLE_H

#include "common.h"

/* Make argv's memory free for titles. Call it from main before anything
 * keeps a pointer into argv's strings (getopt's optarg included) and before
 * any thread starts: argv's and environ's strings are copied to the heap and
 * argv[], environ and glibc's program_invocation_name are repointed to the
 * copies, which live as long as the process. Calling it again does nothing.
 * 0, or -ENOMEM (nothing changed). */
EDDY_EXPORT int eddy_proctitle_init(int argc, char **argv);

/* Set this process's title (printf format): the command line, if
 * eddy_proctitle_init was called (cut to the room argv had), and the
 * calling thread's name (cut to 15 bytes). Call it from a process's only
 * thread: the command line is the whole process's. */
EDDY_EXPORT void eddy_proctitle_set(const char *fmt, ...) EDDY_PRINTF(1, 2);

/* The thread name alone (cut to 15 bytes), e.g. for a thread of a process. */
EDDY_EXPORT void eddy_proctitle_set_thread(const char *name);

#endif
