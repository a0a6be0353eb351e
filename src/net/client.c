#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eddy/client.h"
#include "eddy/error.h"
#include "net_internal.h"

typedef struct client_group {
    conn_group_t group;
} client_group_t;

typedef struct resolve_job {
    eddy_conn_t *conn;
    char host[256];
    char port[8];
    int rc; /* getaddrinfo's result */
    struct addrinfo *list;
} resolve_job_t;

static void client_group_release(conn_group_t *g)
{
    free(g);
}

static void try_next_address(eddy_conn_t *c, int last_err);

static void start_connect(eddy_conn_t *c, const eddy_addr_t *addr)
{
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        try_next_address(c, -errno);
        return;
    }
    c->fd = fd;
    c->peer = *addr;
    c->state = CONN_CONNECTING;
    int rc = eddy_io_add(c->loop, fd, EDDY_READABLE | EDDY_WRITABLE | EDDY_EDGE, eddy__conn_io_cb, c);
    if (rc < 0) {
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, rc, false);
        return;
    }
    /* A Unix socket may connect at once; the edge-triggered EPOLLOUT that
     * follows registration reports it either way. */
    if (connect(fd, &addr->u.sa, addr->len) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
        int err = -errno;
        eddy_io_remove(c->loop, fd);
        close(fd);
        c->fd = -1;
        try_next_address(c, err);
    }
}

/* Walk getaddrinfo's list until one address accepts; report the last error. */
static void try_next_address(eddy_conn_t *c, int last_err)
{
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        if (ai->ai_addrlen > sizeof(((eddy_addr_t *)0)->u)) continue;
        eddy_addr_t addr;
        memcpy(&addr.u, ai->ai_addr, ai->ai_addrlen);
        addr.len = ai->ai_addrlen;
        start_connect(c, &addr);
        return;
    }
    eddy__conn_finish(c, EDDY_CLOSE_ERROR, last_err, false);
}

static void resolve_work(void *ud)
{
    resolve_job_t *job = ud;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
    job->rc = getaddrinfo(job->host, job->port, &hints, &job->list);
}

static int resolve_error(int rc)
{
    if (rc == EAI_SYSTEM) return -errno;
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY) return -EDDY_ENOHOST;
    return -EDDY_ERESOLVE;
}

static void resolve_done(eddy_loop_t *loop, void *ud)
{
    resolve_job_t *job = ud;
    eddy_conn_t *c = job->conn;
    if (c->state == CONN_RESOLVING) {
        if (job->rc != 0) {
            eddy__conn_finish(c, EDDY_CLOSE_ERROR, resolve_error(job->rc), false);
        } else {
            c->ai_list = c->ai_next = job->list;
            job->list = NULL;
            try_next_address(c, -EDDY_ENOHOST);
        }
    }
    if (job->list) freeaddrinfo(job->list);
    free(job);
    eddy__conn_unref(c);
}

static void connect_timeout_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_conn_t *c = ud;
    c->timer = 0;
    if (c->state == CONN_RESOLVING || c->state == CONN_CONNECTING)
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, -ETIMEDOUT, false);
}

static int resolve(eddy_conn_t *c, const eddy_url_t *u)
{
    resolve_job_t *job = calloc(1, sizeof *job);
    if (!job) return -ENOMEM;
    job->conn = c;
    snprintf(job->host, sizeof job->host, "%s", u->host);
    snprintf(job->port, sizeof job->port, "%d", u->port);
    int rc = eddy_work_queue(c->loop, resolve_work, resolve_done, job);
    if (rc < 0) {
        free(job);
        return rc;
    }
    c->refs++; /* the job holds the connection until resolve_done */
    return 0;
}

int eddy_connect(eddy_loop_t *loop, const char *url, const eddy_port_options_t *opts,
                 const eddy_conn_callbacks_t *cbs, void *ud, eddy_conn_t **out)
{
    eddy_url_t u;
    int rc = eddy_url_parse(url, &u);
    if (rc < 0) return rc;
    if (u.scheme == EDDY_SCHEME_UDP) return -EDDY_EADDR;
    client_group_t *cg = calloc(1, sizeof *cg);
    if (!cg) return -ENOMEM;
    conn_group_t *g = &cg->group;
    eddy__group_init(g, loop, opts, cbs, ud);
    g->release = client_group_release;
    rc = eddy_port_options_validate(&g->opts);
    if (rc < 0) {
        free(cg);
        return rc;
    }
    eddy_conn_t *c = eddy__conn_new(g, -1, CONN_RESOLVING, NULL);
    eddy__group_unref(g); /* from now on the connection keeps the group */
    if (!c) return -ENOMEM;
    c->announced = true;
    eddy_addr_t addr;
    if (eddy_addr_from_url(&u, &addr) == 0) {
        start_connect(c, &addr);
    } else if ((rc = resolve(c, &u)) < 0) {
        c->announced = false; /* report the error here, not through on_close */
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, rc, false);
        return rc;
    }
    if (c->state != CONN_CLOSED) {
        int64_t id = eddy_timer_after(loop, g->opts.connect_timeout, connect_timeout_cb, c);
        c->timer = id > 0 ? id : 0;
    }
    *out = c;
    return 0;
}
