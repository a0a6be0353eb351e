/*
 * Helpers for integration tests: start an example server and learn its port
 * from its `listening on 127.0.0.1:PORT` line, stop it by PID, and talk to it
 * with plain blocking sockets that always have a timeout; read and write
 * whole files.
 */
#ifndef EDDY_TESTUTIL_H
#define EDDY_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_server {
    pid_t pid;
    int port;
    int out_fd; /* the server's stdout, after the listening line */
} test_server_t;

/* Path of a built program, e.g. test_program("examples/echo_server"). */
const char *test_program(const char *relative);
/* Start argv (argv[0] a path) and wait up to 10 s for its listening line.
 * Returns 0, or -1 if it exited or never printed the line. */
int test_server_start(test_server_t *s, char *const argv[]);
/* SIGTERM, wait up to 10 s (then SIGKILL); returns the exit status as from
 * waitpid, or -1. */
int test_server_stop(test_server_t *s);

/* Blocking TCP connection to 127.0.0.1:port with send/recv timeouts. */
int test_connect(int port, int timeout_ms);
/* The same, with SO_RCVBUF set first when rcvbuf > 0, and TCP_NODELAY. */
int test_connect_opts(int port, int timeout_ms, int rcvbuf, bool nodelay);
int test_write_all(int fd, const void *data, size_t len);
/* Read until EOF, error, timeout or max bytes. Returns bytes read; *how is
 * 0 for a clean EOF, else the errno that ended it (ECONNRESET, EAGAIN ...). */
size_t test_read_until_close(int fd, char *buf, size_t max, int *how);
/* Read exactly one line (through '\n') into buf; returns its length or -1. */
ssize_t test_read_line(int fd, char *buf, size_t max);

/* A whole file, NUL-terminated (malloc'd), its length in *len (if not
 * NULL); NULL if it cannot be opened. */
char *test_read_file(const char *path, size_t *len);
/* Create or truncate path (mode 0644) with len bytes of data; a failure is a
 * failed CHECK. */
void test_write_file(const char *path, const void *data, size_t len);

#endif
