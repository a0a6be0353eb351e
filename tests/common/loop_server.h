/*
 * An eddy loop on its own thread with one listener, for integration tests
 * that talk to it with plain sockets from the main thread.
 */
#ifndef EDDY_LOOP_SERVER_H
#define EDDY_LOOP_SERVER_H

#include <pthread.h>

#include <eddy.h>

typedef struct test_loop_server {
    eddy_loop_t *loop;
    eddy_listener_t *listener;
    pthread_t thread;
    int port; /* the listener's port */
} test_loop_server_t;

/* New loop, listen on url (NULL: tcp://127.0.0.1:0) with opts, cbs and ud,
 * then run the loop on a new thread. Any failure is a failed CHECK. */
void test_loop_server_start(test_loop_server_t *s, const char *url, const eddy_port_options_t *opts,
                            const eddy_conn_callbacks_t *cbs, void *ud);
/* Shut the listener down on the loop's thread, wait for eddy_loop_run to
 * return (CHECKed to be 0), and free the loop. */
void test_loop_server_stop(test_loop_server_t *s);

#endif
