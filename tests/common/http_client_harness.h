/*
 * For the HTTP client's tests: a scripted raw server and a recorder of
 * what the client reports.
 *
 * The server listens on 127.0.0.1 (port 0) with plain blocking sockets and
 * runs the test's script on a thread per accepted connection, so a test
 * controls every byte the client reads and every close — including the
 * malformed and the rude. It counts the connections it accepted and the most
 * it held at once. Every read has a timeout.
 *
 * The recorder is an on_complete callback that copies the response (valid
 * only during the callback) into a capture_t the test then checks.
 */
#ifndef EDDY_HTTP_CLIENT_HARNESS_H
#define EDDY_HTTP_CLIENT_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <eddy.h>

#define SCRIPT_MAX_CONNS   256
#define SCRIPT_MAX_HEADERS 32
#define SCRIPT_TIMEOUT_MS  5000 /* default for reads in scripts */

typedef struct script_server script_server_t;

typedef struct script_conn {
    script_server_t *server;
    int fd;    /* -1 once closed */
    int index; /* accept order, from 0 */
    char *in;  /* read but not yet consumed */
    size_t in_len, in_cap;
} script_conn_t;

typedef void (*script_fn)(script_conn_t *c, void *ud);

struct script_server {
    int listen_fd;
    int port;
    script_fn fn;
    void *ud;
    pthread_t accept_thread;
    atomic_bool stopping;
    atomic_int accepted;
    atomic_int active;
    atomic_int max_active;
    pthread_mutex_t lock;
    script_conn_t *conns[SCRIPT_MAX_CONNS];
    pthread_t threads[SCRIPT_MAX_CONNS];
    int nconns;
};

typedef struct script_request {
    char method[32];
    char target[2048];
    char names[SCRIPT_MAX_HEADERS][64];
    char values[SCRIPT_MAX_HEADERS][512];
    int num_headers;
    char *body; /* malloc'd, NUL-terminated (also when empty) */
    size_t body_len;
} script_request_t;

/* Listen on 127.0.0.1:0 and run fn(conn, ud) on a new thread for every
 * connection; the connection is closed when fn returns (unless fn closed
 * or reset it). */
void script_server_start(script_server_t *s, script_fn fn, void *ud);
/* Stop accepting, shut every open connection down, join every thread. */
void script_server_stop(script_server_t *s);

/* Read one request: head and Content-Length body. 1 when one arrived, 0 when
 * the client closed first, -1 on a timeout, an error or a malformed head. */
int script_read_request(script_conn_t *c, script_request_t *rq, int timeout_ms);
void script_request_free(script_request_t *rq);
/* The request's first header named name (case-insensitive), or NULL. */
const char *script_header(const script_request_t *rq, const char *name);
/* Write all of s / data; false if the peer is gone. */
bool script_send(script_conn_t *c, const char *s);
bool script_send_n(script_conn_t *c, const void *data, size_t len);
/* Wait up to timeout_ms for the client to close (EOF or reset); bytes that
 * arrive meanwhile are discarded. True if it closed. */
bool script_wait_close(script_conn_t *c, int timeout_ms);
void script_close(script_conn_t *c);
/* Close with RST (SO_LINGER 0). */
void script_reset(script_conn_t *c);
void test_sleep_ms(long ms);
long test_now_ms(void);

/* A canned server script: answers each request on a connection with the
 * response of the route whose path matches the target (query ignored), and
 * records the last request. An unknown path gets a 404. */
typedef struct canned_route {
    const char *path;
    const char *response; /* raw bytes, sent as they are */
    bool close_after;     /* close the connection after answering */
} canned_route_t;

typedef struct canned {
    const canned_route_t *routes; /* ended by a NULL path */
    pthread_mutex_t lock;
    script_request_t last;
    int requests;
} canned_t;

void canned_init(canned_t *k, const canned_route_t *routes);
void canned_free(canned_t *k);
void canned_script(script_conn_t *c, void *ud);
/* A copy of the last request (free it with script_request_free). */
void canned_last(canned_t *k, script_request_t *out);

/* ---- the client side ----------------------------------------------------- */

typedef struct capture {
    int done; /* how many times on_complete ran */
    int err;
    int status;
    char reason[128];
    char *body; /* a copy; NULL when res->body was NULL */
    size_t body_len;
    uint64_t body_received;
    int num_headers, num_trailers;
    char *header_names[SCRIPT_MAX_HEADERS], *header_values[SCRIPT_MAX_HEADERS];
    char *trailer_names[SCRIPT_MAX_HEADERS], *trailer_values[SCRIPT_MAX_HEADERS];
    char url[1024];
    unsigned redirects;
    eddy_http1_error_t parse_error;
    long at; /* test_now_ms() when it completed */
} capture_t;

/* An on_complete that fills the capture_t given as ud. */
void capture_complete(eddy_http_client_transfer_t *t, int err,
                      const eddy_http_client_response_t *res, void *ud);
void capture_free(capture_t *cap);
/* From the copy: the first header / trailer named name, any case, or NULL. */
const char *capture_header(const capture_t *cap, const char *name);
const char *capture_trailer(const capture_t *cap, const char *name);

/* Start rq (on_complete = capture_complete, ud = cap) and return the
 * transfer; the send must succeed. */
eddy_http_client_transfer_t *start_request(eddy_http_client_t *client,
                                           eddy_http_client_request_t *rq, capture_t *cap);
/* GET url into cap (the send must succeed). */
void start_get(eddy_http_client_t *client, const char *url, capture_t *cap);

/* Run the loop until *counter >= target; fail the test after ms. */
void run_until(eddy_loop_t *loop, const int *counter, int target, long ms);
/* Free the client, then eddy_loop_run must return within 3 s (every
 * connection closed, every callback run); then free the loop. */
void finish_client(eddy_loop_t *loop, eddy_http_client_t *client);

#endif
