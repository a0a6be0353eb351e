#include "loop_server.h"

#include "test.h"

static void *loop_thread(void *arg)
{
    test_loop_server_t *s = arg;
    CHECK_EQ(eddy_loop_run(s->loop), 0);
    return NULL;
}

static void stop_cb(eddy_loop_t *loop, void *ud)
{
    (void)loop;
    test_loop_server_t *s = ud;
    eddy_listener_shutdown(s->listener);
}

void test_loop_server_start(test_loop_server_t *s, const char *url, const eddy_port_options_t *opts,
                            const eddy_conn_callbacks_t *cbs, void *ud)
{
    CHECK_EQ(eddy_loop_new(&s->loop), 0);
    CHECK_EQ(eddy_listen(s->loop, url ? url : "tcp://127.0.0.1:0", opts, cbs, ud, &s->listener), 0);
    s->port = eddy_listener_port(s->listener);
    CHECK_EQ(pthread_create(&s->thread, NULL, loop_thread, s), 0);
}

void test_loop_server_stop(test_loop_server_t *s)
{
    CHECK_EQ(eddy_loop_post(s->loop, stop_cb, s), 0);
    CHECK_EQ(pthread_join(s->thread, NULL), 0);
    eddy_loop_free(s->loop);
}
