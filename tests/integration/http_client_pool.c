/*
 * The HTTP client's connections: keep-alive reuse (counted by the server's
 * accepted connections and the client's stats), no reuse after
 * Connection: close either way, a pooled connection the server closed while
 * idle, the race where it closes just as a request goes out (an idempotent
 * request is retried once on a fresh connection; POST is not; a second
 * failure is an error), idle_timeout, max_idle_per_host, requests beyond
 * max_connections_per_host waiting in the queue, cancelling queued and
 * active requests, and freeing the client with requests in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy.h>

#include "http_client_harness.h"
#include "test.h"

static const char ok_response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static eddy_loop_t *new_loop(void)
{
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    return loop;
}

static eddy_http_client_t *new_client(eddy_loop_t *loop, const eddy_http_client_options_t *o)
{
    eddy_http_client_t *client;
    CHECK_EQ(eddy_http_client_new(loop, o, &client), 0);
    return client;
}

static void url_of(char *buf, size_t size, const script_server_t *s, const char *path)
{
    snprintf(buf, size, "http://127.0.0.1:%d%s", s->port, path);
}

static eddy_http_client_stats_t stats(eddy_http_client_t *client)
{
    eddy_http_client_stats_t st;
    eddy_http_client_stats(client, &st);
    return st;
}

/* Answer every request on the connection with ok_response. */
static void ok_script(script_conn_t *c, void *ud)
{
    script_request_t rq;
    while (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) {
        script_request_free(&rq);
        if (!script_send(c, ok_response)) return;
    }
}

/* ---- reuse --------------------------------------------------------------- */

static void test_keep_alive_reuse(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    script_server_t s;
    script_server_start(&s, ok_script, NULL);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    for (int i = 0; i < 10; i++) {
        capture_t cap = {0};
        start_get(client, u, &cap);
        run_until(loop, &cap.done, 1, 5000);
        CHECK_EQ(cap.err, 0);
        CHECK_STR(cap.body, "ok");
        capture_free(&cap);
        CHECK_EQ(stats(client).idle_connections, 1);
    }
    eddy_http_client_stats_t st = stats(client);
    CHECK_EQ(st.requests, 10);
    CHECK_EQ(st.connections_opened, 1);
    CHECK_EQ(st.connections_reused, 9);
    CHECK_EQ(st.retries, 0);
    CHECK_EQ(st.open_connections, 1);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(atomic_load(&s.accepted), 1);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* The next request sent from inside on_complete takes the connection the
 * last one just gave back. */
typedef struct chain {
    eddy_http_client_t *client;
    const char *url;
    int left, done, errors;
} chain_t;

static void chain_next(eddy_http_client_transfer_t *t, int err,
                       const eddy_http_client_response_t *res, void *ud)
{
    chain_t *ch = ud;
    ch->done++;
    if (err < 0 || res->status != 200) ch->errors++;
    if (--ch->left > 0)
        CHECK_EQ(eddy_http_client_get(ch->client, ch->url, chain_next, ch, NULL), 0);
}

static void test_reuse_from_callback(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    script_server_t s;
    script_server_start(&s, ok_script, NULL);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    chain_t ch = {.client = client, .url = u, .left = 20};
    CHECK_EQ(eddy_http_client_get(client, u, chain_next, &ch, NULL), 0);
    run_until(loop, &ch.done, 20, 5000);
    CHECK_EQ(ch.errors, 0);
    CHECK_EQ(stats(client).connections_opened, 1);
    CHECK_EQ(atomic_load(&s.accepted), 1);
    finish_client(loop, client);
    script_server_stop(&s);
}

static const canned_route_t close_routes[] = {
    {"/server-close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false},
    {"/ok", ok_response, false},
    {NULL, NULL, false},
};

/* Connection: close from the server (even with a framed body, and even if
 * the server kept the socket open) or from the caller: never reused. */
static void test_connection_close(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    canned_t k;
    canned_init(&k, close_routes);
    script_server_t s;
    script_server_start(&s, canned_script, &k);
    char u[64];
    url_of(u, sizeof u, &s, "/server-close");
    for (int i = 0; i < 3; i++) {
        capture_t cap = {0};
        start_get(client, u, &cap);
        run_until(loop, &cap.done, 1, 5000);
        CHECK_EQ(cap.err, 0);
        CHECK_STR(cap.body, "ok");
        capture_free(&cap);
    }
    CHECK_EQ(stats(client).connections_opened, 3);
    CHECK_EQ(stats(client).idle_connections, 0);

    url_of(u, sizeof u, &s, "/ok");
    eddy_http_client_header_t close_hdr = {"Connection", "close"};
    for (int i = 0; i < 2; i++) {
        capture_t cap = {0};
        eddy_http_client_request_t rq;
        eddy_http_client_request_init(&rq);
        rq.url = u;
        rq.headers = &close_hdr;
        rq.num_headers = 1;
        start_request(client, &rq, &cap);
        run_until(loop, &cap.done, 1, 5000);
        CHECK_EQ(cap.err, 0);
        capture_free(&cap);
    }
    CHECK_EQ(stats(client).connections_opened, 5);
    CHECK_EQ(atomic_load(&s.accepted), 5);
    finish_client(loop, client);
    script_server_stop(&s);
    canned_free(&k);
}

/* ---- the server closes pooled connections -------------------------------- */

typedef struct closing {
    int close_after_ms; /* connection 0: answer once, then close after this */
    bool retry_answers; /* later connections: answer (else close without a word) */
} closing_t;

static void closing_script(script_conn_t *c, void *ud)
{
    closing_t *cl = ud;
    script_request_t rq;
    if (c->index == 0) {
        if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
        script_request_free(&rq);
        script_send(c, ok_response);
        test_sleep_ms(cl->close_after_ms);
        return; /* closed: the client's pooled connection is now dead */
    }
    if (!cl->retry_answers) {
        if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) script_request_free(&rq);
        return;
    }
    ok_script(c, ud);
}

/* The close arrives while the connection is idle: the client notices, drops
 * it, and the next request simply opens another. */
static void test_idle_connection_closed_by_server(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    closing_t cl = {.close_after_ms = 20, .retry_answers = true};
    script_server_t s;
    script_server_start(&s, closing_script, &cl);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t cap = {0};
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    capture_free(&cap);
    long until = test_now_ms() + 300;
    while (test_now_ms() < until && stats(client).open_connections > 0)
        CHECK(eddy_loop_run_once(loop, 20) >= 0);
    CHECK_EQ(stats(client).open_connections, 0);
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    capture_free(&cap);
    CHECK_EQ(stats(client).retries, 0);
    CHECK_EQ(stats(client).connections_opened, 2);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* The close is in flight when the request goes out on the pooled
 * connection — the loop has not run since, so the client cannot know. */
static void race_once(const char *method, bool retry_answers, capture_t *cap,
                      eddy_http_client_stats_t *st, int *accepted)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    closing_t cl = {.close_after_ms = 30, .retry_answers = retry_answers};
    script_server_t s;
    script_server_start(&s, closing_script, &cl);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t first = {0};
    start_get(client, u, &first);
    run_until(loop, &first.done, 1, 5000);
    CHECK_EQ(first.err, 0);
    capture_free(&first);
    test_sleep_ms(150); /* the server has closed; our loop has not seen it */
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.method = method;
    rq.url = u;
    start_request(client, &rq, cap);
    CHECK_EQ(stats(client).connections_reused, 1); /* it went out on the dead one */
    run_until(loop, &cap->done, 1, 5000);
    *st = stats(client);
    finish_client(loop, client);
    script_server_stop(&s);
    *accepted = atomic_load(&s.accepted);
}

static void test_retry_once_on_fresh_connection(void)
{
    capture_t cap = {0};
    eddy_http_client_stats_t st;
    int accepted;
    race_once("GET", true, &cap, &st, &accepted);
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(cap.status, 200);
    CHECK_STR(cap.body, "ok");
    CHECK_EQ(st.retries, 1);
    CHECK_EQ(st.connections_opened, 2);
    CHECK_EQ(accepted, 2);
    capture_free(&cap);

    race_once("DELETE", true, &cap, &st, &accepted); /* idempotent too */
    CHECK_EQ(cap.err, 0);
    CHECK_EQ(st.retries, 1);
    capture_free(&cap);
}

static void test_no_retry_for_post(void)
{
    capture_t cap = {0};
    eddy_http_client_stats_t st;
    int accepted;
    race_once("POST", true, &cap, &st, &accepted);
    CHECK(cap.err < 0);
    CHECK(cap.err == -EDDY_EHTTP_CLOSED || cap.err == -ECONNRESET || cap.err == -EPIPE);
    CHECK_EQ(cap.status, 0);
    CHECK_EQ(st.retries, 0);
    CHECK_EQ(accepted, 1);
    capture_free(&cap);
}

/* The retry's fresh connection closes too: that is an error, not a loop. */
static void test_retry_only_once(void)
{
    capture_t cap = {0};
    eddy_http_client_stats_t st;
    int accepted;
    race_once("GET", false, &cap, &st, &accepted);
    CHECK_EQ(cap.err, -EDDY_EHTTP_CLOSED);
    CHECK_EQ(st.retries, 1);
    CHECK_EQ(accepted, 2);
    capture_free(&cap);
}

/* ---- pool limits --------------------------------------------------------- */

typedef struct idle_watch {
    atomic_int closed_by_client;
} idle_watch_t;

/* Answer one request, then report whether the client closed the idle
 * connection. */
static void watch_script(script_conn_t *c, void *ud)
{
    idle_watch_t *w = ud;
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    test_sleep_ms(50); /* so that concurrent requests need connections of their own */
    script_send(c, ok_response);
    if (script_wait_close(c, 3000)) atomic_fetch_add(&w->closed_by_client, 1);
}

static void test_idle_timeout(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.idle_timeout = 100;
    eddy_http_client_t *client = new_client(loop, &o);
    idle_watch_t w = {0};
    script_server_t s;
    script_server_start(&s, watch_script, &w);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t cap = {0};
    start_get(client, u, &cap);
    run_until(loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, 0);
    long done_at = test_now_ms();
    capture_free(&cap);
    CHECK_EQ(stats(client).idle_connections, 1);
    while (stats(client).idle_connections > 0 && test_now_ms() - done_at < 2000)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    long idle_for = test_now_ms() - done_at;
    CHECK(idle_for >= 90 && idle_for < 1000);
    CHECK_EQ(stats(client).open_connections, 0);
    long until = test_now_ms() + 2000;
    while (atomic_load(&w.closed_by_client) == 0 && test_now_ms() < until)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    CHECK_EQ(atomic_load(&w.closed_by_client), 1);
    finish_client(loop, client);
    script_server_stop(&s);
}

static void test_max_idle_per_host(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_connections_per_host = 4;
    o.max_idle_per_host = 2;
    eddy_http_client_t *client = new_client(loop, &o);
    idle_watch_t w = {0};
    script_server_t s;
    script_server_start(&s, watch_script, &w);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t cap[4] = {{0}};
    for (int i = 0; i < 4; i++)
        start_get(client, u, &cap[i]);
    CHECK_EQ(stats(client).open_connections, 4);
    for (int i = 0; i < 4; i++) {
        run_until(loop, &cap[i].done, 1, 5000);
        CHECK_EQ(cap[i].err, 0);
        capture_free(&cap[i]);
    }
    CHECK_EQ(stats(client).idle_connections, 2); /* the other two were closed */
    CHECK_EQ(stats(client).open_connections, 2);
    long until = test_now_ms() + 2000;
    while (atomic_load(&w.closed_by_client) < 2 && test_now_ms() < until)
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    CHECK_EQ(atomic_load(&w.closed_by_client), 2);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* Every request answered after a short delay, so that they overlap. */
static void slow_ok_script(script_conn_t *c, void *ud)
{
    script_request_t rq;
    while (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) == 1) {
        script_request_free(&rq);
        test_sleep_ms(10);
        if (!script_send(c, ok_response)) return;
    }
}

#define MANY 40

static void test_queue_beyond_max_connections(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_connections_per_host = 3;
    o.max_idle_per_host = 3;
    eddy_http_client_t *client = new_client(loop, &o);
    script_server_t s;
    script_server_start(&s, slow_ok_script, NULL);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    static capture_t cap[MANY];
    int done = 0;
    for (int i = 0; i < MANY; i++)
        start_get(client, u, &cap[i]);
    CHECK_EQ(stats(client).open_connections, 3);
    CHECK_EQ(stats(client).queued, MANY - 3);
    long until = test_now_ms() + 8000;
    while (done < MANY) {
        CHECK(test_now_ms() < until);
        CHECK(eddy_loop_run_once(loop, 20) >= 0);
        CHECK(stats(client).open_connections <= 3);
        done = 0;
        for (int i = 0; i < MANY; i++)
            done += cap[i].done;
    }
    for (int i = 0; i < MANY; i++) {
        CHECK_EQ(cap[i].err, 0);
        CHECK_STR(cap[i].body, "ok");
        capture_free(&cap[i]);
    }
    CHECK_EQ(atomic_load(&s.accepted), 3);
    CHECK(atomic_load(&s.max_active) <= 3);
    eddy_http_client_stats_t st = stats(client);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.requests, MANY);
    CHECK_EQ(st.connections_opened, 3);
    CHECK_EQ(st.connections_reused, MANY - 3);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* ---- cancelling and freeing ---------------------------------------------- */

typedef struct hold {
    atomic_int requests;
    atomic_int closed;
} hold_t;

/* Read requests and never answer; note when the client goes away. */
static void hold_script(script_conn_t *c, void *ud)
{
    hold_t *h = ud;
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    atomic_fetch_add(&h->requests, 1);
    if (script_wait_close(c, SCRIPT_TIMEOUT_MS)) atomic_fetch_add(&h->closed, 1);
}

static void wait_for(eddy_loop_t *loop, atomic_int *v, int target)
{
    long until = test_now_ms() + 3000;
    while (atomic_load(v) < target) {
        CHECK(test_now_ms() < until);
        CHECK(eddy_loop_run_once(loop, 10) >= 0);
    }
}

static void test_cancel(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_connections_per_host = 1;
    eddy_http_client_t *client = new_client(loop, &o);
    hold_t h = {0};
    script_server_t s;
    script_server_start(&s, hold_script, &h);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t active = {0}, queued = {0};
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.url = u;
    eddy_http_client_transfer_t *ta = start_request(client, &rq, &active);
    eddy_http_client_transfer_t *tq = start_request(client, &rq, &queued);
    CHECK_EQ(stats(client).queued, 1);
    wait_for(loop, &h.requests, 1);

    CHECK_EQ(eddy_http_client_cancel(tq), 0);
    CHECK_EQ(eddy_http_client_cancel(tq), -EALREADY);
    CHECK_EQ(queued.done, 0); /* never inside the call */
    CHECK_EQ(stats(client).queued, 0);
    run_until(loop, &queued.done, 1, 2000);
    CHECK_EQ(queued.err, -ECANCELED);
    CHECK_EQ(queued.status, 0);
    CHECK_EQ(active.done, 0);

    CHECK_EQ(eddy_http_client_cancel(ta), 0);
    CHECK_EQ(stats(client).open_connections, 0); /* reset, not pooled */
    run_until(loop, &active.done, 1, 2000);
    CHECK_EQ(active.err, -ECANCELED);
    wait_for(loop, &h.closed, 1); /* the server saw the connection go */
    CHECK_EQ(atomic_load(&h.requests), 1);
    capture_free(&active);
    capture_free(&queued);
    finish_client(loop, client);
    script_server_stop(&s);
}

static int cancel_in_body_count;

static int cancel_in_body(eddy_http_client_transfer_t *t, const eddy_http_client_response_t *res,
                          const char *data, size_t len, void *ud)
{
    cancel_in_body_count++;
    CHECK_EQ(eddy_http_client_cancel(t), 0);
    return 0; /* the cancel alone ends it */
}

static void big_script(script_conn_t *c, void *ud)
{
    script_request_t rq;
    if (script_read_request(c, &rq, SCRIPT_TIMEOUT_MS) != 1) return;
    script_request_free(&rq);
    script_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
    char block[10000];
    memset(block, 'b', sizeof block);
    for (int i = 0; i < 100; i++)
        if (!script_send_n(c, block, sizeof block)) return;
}

static void test_cancel_from_on_body(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_t *client = new_client(loop, NULL);
    script_server_t s;
    script_server_start(&s, big_script, NULL);
    char u[64];
    url_of(u, sizeof u, &s, "/");
    capture_t cap = {0};
    eddy_http_client_request_t rq;
    eddy_http_client_request_init(&rq);
    rq.url = u;
    rq.on_body = cancel_in_body;
    start_request(client, &rq, &cap);
    run_until(loop, &cap.done, 1, 5000);
    CHECK_EQ(cap.err, -ECANCELED);
    CHECK_EQ(cancel_in_body_count, 1);
    CHECK_EQ(cap.status, 200);
    CHECK_EQ(stats(client).open_connections, 0);
    capture_free(&cap);
    finish_client(loop, client);
    script_server_stop(&s);
}

/* Free the client with one request on the wire, one queued and one idle
 * connection elsewhere: every on_complete runs (with -ECANCELED), after
 * the free, and the loop then ends by itself. */
static void test_free_with_requests_in_flight(void)
{
    eddy_loop_t *loop = new_loop();
    eddy_http_client_options_t o;
    eddy_http_client_options_init(&o);
    o.max_connections_per_host = 1;
    eddy_http_client_t *client = new_client(loop, &o);
    hold_t h = {0};
    script_server_t hold, okay;
    script_server_start(&hold, hold_script, &h);
    script_server_start(&okay, ok_script, NULL);
    char hu[64], ou[64];
    url_of(hu, sizeof hu, &hold, "/");
    url_of(ou, sizeof ou, &okay, "/");
    capture_t idle = {0}, active = {0}, queued = {0};
    start_get(client, ou, &idle);
    run_until(loop, &idle.done, 1, 5000);
    CHECK_EQ(stats(client).idle_connections, 1);
    start_get(client, hu, &active);
    start_get(client, hu, &queued);
    wait_for(loop, &h.requests, 1);
    eddy_http_client_free(client);
    CHECK_EQ(active.done, 0);
    CHECK_EQ(queued.done, 0);
    long t0 = test_now_ms();
    CHECK_EQ(eddy_loop_run(loop), 0);
    CHECK(test_now_ms() - t0 < 3000);
    CHECK_EQ(active.done, 1);
    CHECK_EQ(active.err, -ECANCELED);
    CHECK_EQ(queued.done, 1);
    CHECK_EQ(queued.err, -ECANCELED);
    eddy_loop_free(loop);
    capture_free(&idle);
    capture_free(&active);
    capture_free(&queued);
    script_server_stop(&hold);
    script_server_stop(&okay);
}

int main(void)
{
    RUN(test_keep_alive_reuse);
    RUN(test_reuse_from_callback);
    RUN(test_connection_close);
    RUN(test_idle_connection_closed_by_server);
    RUN(test_retry_once_on_fresh_connection);
    RUN(test_no_retry_for_post);
    RUN(test_retry_only_once);
    RUN(test_idle_timeout);
    RUN(test_max_idle_per_host);
    RUN(test_queue_beyond_max_connections);
    RUN(test_cancel);
    RUN(test_cancel_from_on_body);
    RUN(test_free_with_requests_in_flight);
    return 0;
}
