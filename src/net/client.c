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
    int rc;      /* getaddrinfo's result */
    int sys_err; /* errno of the pool thread, for EAI_SYSTEM */
    struct addrinfo *list;
} resolve_job_t;

static void client_group_release(conn_group_t *g)
{
    free(g);
}

static void try_next_address(eddy_conn_t *c, int last_err);

/* Give up on the socket of a failed attempt (the next one opens its own). */
static void drop_socket(eddy_conn_t *c)
{
    if (c->fd < 0) return;
    eddy_io_remove(c->loop, c->fd);
    close(c->fd);
    c->fd = -1;
}

/* The connecting phase has its own io callback so that a failed attempt can
 * move on to the next resolved address (::1 refused, 127.0.0.1 listening);
 * once connected, the connection's own callback takes over. */
static void connecting_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    eddy_conn_t *c = ud;
    if (c->state != CONN_CONNECTING || c->fd != fd) return;
    if (!(events & (EDDY_WRITABLE | EDDY_ERRORED | EDDY_HANGUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) {
        drop_socket(c);
        try_next_address(c, -err);
        return;
    }
    eddy_io_remove(loop, fd);
    /* Edge-triggered: registering reports what is already pending (writable,
     * perhaps input), so nothing is missed between the two watchers. */
    int rc = eddy_io_add(loop, fd, EDDY_READABLE | EDDY_WRITABLE | EDDY_EDGE, eddy__conn_io_cb, c);
    if (rc < 0) {
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, rc, true);
        return;
    }
    eddy__conn_connected(c);
}

/* Start a non-blocking connect on fd. A Unix socket may connect (or fail) at
 * once; EAGAIN there means the listener's backlog is full, not "in
 * progress". The edge-triggered EPOLLOUT that follows registration reports
 * an immediate success too. */
static void start_connect(eddy_conn_t *c, int fd, const eddy_addr_t *addr)
{
    c->fd = fd;
    c->peer = *addr;
    c->state = CONN_CONNECTING;
    int rc = connect(fd, &addr->u.sa, addr->len);
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
        int err = -errno;
        close(fd);
        c->fd = -1;
        try_next_address(c, err);
        return;
    }
    rc = eddy_io_add(c->loop, fd, EDDY_READABLE | EDDY_WRITABLE | EDDY_EDGE, connecting_cb, c);
    if (rc < 0) eddy__conn_finish(c, EDDY_CLOSE_ERROR, rc, false);
}

static int open_socket(const eddy_addr_t *addr)
{
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

/* Walk getaddrinfo's list until one address accepts; report the last error. */
static void try_next_address(eddy_conn_t *c, int last_err)
{
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        if (ai->ai_addrlen > sizeof(((eddy_addr_t *)0)->u)) continue;
        eddy_addr_t addr;
        memset(&addr, 0, sizeof addr);
        memcpy(&addr.u, ai->ai_addr, ai->ai_addrlen);
        addr.len = ai->ai_addrlen;
        int fd = open_socket(&addr);
        if (fd < 0) {
            last_err = fd;
            continue;
        }
        start_connect(c, fd, &addr);
        return;
    }
    eddy__conn_finish(c, EDDY_CLOSE_ERROR, last_err, false);
}

static void resolve_work(void *ud)
{
    resolve_job_t *job = ud;
    /* No AI_ADDRCONFIG: it hides 127.0.0.1 and ::1 on hosts whose only
     * addresses are loopback ones, and unusable families fail over to the
     * next address anyway. */
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    job->rc = getaddrinfo(job->host, job->port, &hints, &job->list);
    job->sys_err = errno; /* this thread's errno: the loop's means nothing here */
}

static int resolve_error(const resolve_job_t *job)
{
    switch (job->rc) {
    case EAI_SYSTEM: return job->sys_err ? -job->sys_err : -EDDY_ERESOLVE;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY: return -EDDY_ENOHOST;
    default: return -EDDY_ERESOLVE;
    }
}

static void resolve_done(eddy_loop_t *loop, void *ud)
{
    resolve_job_t *job = ud;
    eddy_conn_t *c = job->conn;
    if (c->state == CONN_RESOLVING) {
        if (job->rc != 0) {
            eddy__conn_finish(c, EDDY_CLOSE_ERROR, resolve_error(job), false);
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
    eddy_addr_t addr;
    bool numeric = eddy_addr_from_url(&u, &addr) == 0;
    if (!numeric && u.scheme == EDDY_SCHEME_UNIX) return -EDDY_EADDR; /* path too long */
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
    /* Out of descriptors or memory: an immediate error, no callback. */
    int fd = numeric ? open_socket(&addr) : 0;
    rc = fd < 0 ? fd : numeric ? 0 : resolve(c, &u);
    if (rc < 0) {
        eddy__conn_finish(c, EDDY_CLOSE_ERROR, rc, false); /* not announced: silent */
        return rc;
    }
    c->announced = true; /* on_close is owed from here on */
    if (numeric) start_connect(c, fd, &addr);
    if (c->state != CONN_CLOSED) {
        /* The loop's clock is cached per iteration, and a connect may be
         * asked for long after it was read: the timeout counts from now. */
        eddy_loop_update_time(loop);
        int64_t id = eddy_timer_after(loop, g->opts.connect_timeout, connect_timeout_cb, c);
        c->timer = id > 0 ? id : 0;
    }
    *out = c;
    return 0;
}
