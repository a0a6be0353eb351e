#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "net_internal.h"

#define ACCEPTS_PER_EVENT 64
#define EMFILE_RETRY_MS   100
#define UDP_DATAGRAM_MAX  65536
#define UDP_BATCH         16

struct eddy_listener {
    conn_group_t group; /* first: the group's release frees the listener */
    eddy_scheme_t scheme;
    int fd;
    eddy_addr_t addr;
    bool paused;
    bool closed;
    bool starved;        /* accept failed for lack of descriptors; warned once */
    int64_t retry_timer; /* resume after EMFILE */
    int64_t heartbeat_timer;
    /* The socket file a unix:// listener created: removed on close only if
     * it is still ours (same inode, same process; not a forked child's). */
    bool owns_path;
    pid_t owner_pid;
    dev_t path_dev;
    ino_t path_ino;
};

static void listener_release(conn_group_t *g)
{
    free((eddy_listener_t *)g);
}

static int listener_watch(eddy_listener_t *l);

/* ---- accepting -------------------------------------------------------------- */

static void retry_accept(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_listener_t *l = ud;
    l->retry_timer = 0;
    if (!l->closed && !l->paused) listener_watch(l);
}

/* Out of descriptors: stop watching instead of spinning on a socket that
 * stays readable, and look again shortly. */
static void pause_on_emfile(eddy_listener_t *l, int err)
{
    if (l->retry_timer) return;
    l->group.stats.accept_paused++;
    if (!l->starved)
        EDDY_WARN("accept on %d: %s; retrying every %d ms", eddy_listener_port(l),
                  eddy_strerror(err), EMFILE_RETRY_MS);
    l->starved = true;
    eddy_io_remove(l->group.loop, l->fd);
    int64_t id = eddy_timer_after(l->group.loop, EMFILE_RETRY_MS, retry_accept, l);
    l->retry_timer = id > 0 ? id : 0;
}

static void accept_one(eddy_listener_t *l, int fd, const eddy_addr_t *peer)
{
    conn_group_t *g = &l->group;
    eddy__socket_apply_options(fd, &g->opts, l->scheme == EDDY_SCHEME_TCP);
    bool over_limit = g->opts.max_connection && g->stats.active >= g->opts.max_connection;
    eddy_conn_t *c = eddy__conn_new(g, fd, CONN_OPEN, peer);
    if (!c) {
        close(fd);
        return;
    }
    if (over_limit)
        eddy__conn_refuse(c);
    else
        eddy__conn_start(c);
}

static void accept_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    eddy_listener_t *l = ud;
    /* on_connect may close the listener: keep it alive until we are done. */
    l->group.refs++;
    for (int i = 0; i < ACCEPTS_PER_EVENT && !l->closed && !l->paused; i++) {
        eddy_addr_t peer;
        memset(&peer, 0, sizeof peer); /* an unnamed Unix peer fills in only the family */
        peer.len = sizeof peer.u;
        int cfd = accept4(fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            if (l->starved) EDDY_INFO("accept on %d: resumed", eddy_listener_port(l));
            l->starved = false;
            accept_one(l, cfd, &peer);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_on_emfile(l, -errno);
        else if (errno != EAGAIN)
            EDDY_WARN("accept: %s", eddy_strerror(-errno));
        break;
    }
    eddy__group_unref(&l->group);
}

/* ---- UDP -------------------------------------------------------------------- */

static void udp_cb(eddy_loop_t *loop, int fd, unsigned events, void *ud)
{
    eddy_listener_t *l = ud;
    conn_group_t *g = &l->group;
    size_t size;
    char *buf = eddy__loop_scratch(loop, &size);
    if (!buf) return;
    /* on_packet may close the listener: keep it alive until we are done. */
    g->refs++;
    for (int i = 0; i < UDP_BATCH && !l->closed; i++) {
        eddy_addr_t from;
        memset(&from, 0, sizeof from);
        from.len = sizeof from.u;
        ssize_t n = recvfrom(fd, buf, size, MSG_TRUNC, &from.u.sa, &from.len);
        if (n < 0) {
            int err = errno;
            if (err == EAGAIN) break;
            /* EINTR, or an ICMP error for an earlier sendto (ECONNREFUSED):
             * it concerns one peer, not the socket. */
            if (err != EINTR) EDDY_INFO("recvfrom: %s", eddy_strerror(-err));
            continue;
        }
        if ((size_t)n > size) {
            EDDY_INFO("udp: %zd-byte datagram truncated to %zu", n, size);
            n = (ssize_t)size;
        }
        g->stats.packets_in++;
        g->stats.bytes_in += (uint64_t)n;
        if (g->cbs.on_packet) g->cbs.on_packet(l, buf, (size_t)n, &from, g->ud);
    }
    eddy__group_unref(g);
}

int eddy_listener_sendto(eddy_listener_t *l, const void *data, size_t len, const eddy_addr_t *to)
{
    if (l->scheme != EDDY_SCHEME_UDP) return -EDDY_ESTATE;
    if (l->closed) return -EDDY_ECLOSING;
    ssize_t n;
    do
        n = sendto(l->fd, data, len, MSG_NOSIGNAL, &to->u.sa, to->len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    l->group.stats.bytes_out += (uint64_t)n;
    return 0;
}

/* ---- heartbeat -------------------------------------------------------------- */

static void heartbeat_cb(eddy_loop_t *loop, int64_t id, void *ud)
{
    eddy_listener_t *l = ud;
    conn_group_t *g = &l->group;
    uint64_t now = eddy_loop_now(loop), idle_ms = g->opts.heartbeat_idle_time * 1000;
    eddy_list_t *node, *tmp;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &g->conns)
    {
        eddy_conn_t *c = EDDY_CONTAINER_OF(node, eddy_conn_t, group_node);
        if (c->state == CONN_OPEN && now - c->last_recv_time < idle_ms)
            break; /* the rest are younger */
        if (c->state != CONN_OPEN) continue;
        if (c->protected_) {
            /* Out of the way: the rest of the list stays sorted by age. */
            eddy_list_move_tail(&g->conns, node);
            continue;
        }
        g->stats.evicted++;
        eddy__conn_close_with(c, -ETIMEDOUT);
    }
}

static void start_heartbeat(eddy_listener_t *l)
{
    const eddy_port_options_t *o = &l->group.opts;
    if (!o->heartbeat_idle_time || l->scheme == EDDY_SCHEME_UDP) return;
    uint64_t every = o->heartbeat_check_interval ? o->heartbeat_check_interval
                                                 : (o->heartbeat_idle_time + 1) / 2;
    int64_t id = eddy_timer_tick(l->group.loop, every * 1000, heartbeat_cb, l);
    l->heartbeat_timer = id > 0 ? id : 0;
}

/* ---- setup ------------------------------------------------------------------ */

static int listener_watch(eddy_listener_t *l)
{
    eddy_io_cb cb = l->scheme == EDDY_SCHEME_UDP ? udp_cb : accept_cb;
    return eddy_io_add(l->group.loop, l->fd, EDDY_READABLE, cb, l);
}

static void set_int(int fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof value) < 0)
        EDDY_WARN("setsockopt(%d, %d): %s", level, name, eddy_strerror(-errno));
}

/* A socket file left behind by a process that died is removed; one that a
 * live server still listens on is not (-EADDRINUSE), nor is anything that
 * is not a socket (bind then fails with EADDRINUSE). */
static int unlink_stale_socket(const eddy_addr_t *addr)
{
    struct stat st;
    if (stat(addr->u.un.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode)) return 0;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) return -errno;
    int rc = connect(probe, &addr->u.sa, addr->len);
    int err = rc < 0 ? errno : 0;
    close(probe);
    /* Connected, or the backlog is full (EAGAIN): someone is listening. A
     * datagram socket at the path answers EPROTOTYPE: in use as well. */
    if (rc == 0 || err == EAGAIN || err == EPROTOTYPE) return -EADDRINUSE;
    if (err == ECONNREFUSED) unlink(addr->u.un.sun_path);
    return 0;
}

static void remember_path(eddy_listener_t *l)
{
    struct stat st;
    if (stat(l->addr.u.un.sun_path, &st) < 0) return;
    l->owns_path = true;
    l->owner_pid = getpid();
    l->path_dev = st.st_dev;
    l->path_ino = st.st_ino;
}

static void unlink_own_path(eddy_listener_t *l)
{
    struct stat st;
    if (!l->owns_path || l->owner_pid != getpid()) return;
    l->owns_path = false;
    if (stat(l->addr.u.un.sun_path, &st) == 0 && st.st_dev == l->path_dev &&
        st.st_ino == l->path_ino)
        unlink(l->addr.u.un.sun_path);
}

/* Create, bind and (for streams) listen; *addr becomes the bound address. */
static int bind_socket(eddy_scheme_t scheme, eddy_addr_t *addr, const eddy_port_options_t *o)
{
    int family = addr->u.sa.sa_family;
    int type = scheme == EDDY_SCHEME_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = 0;
    if (family == AF_UNIX) {
        rc = unlink_stale_socket(addr);
    } else {
        /* SO_REUSEADDR lets a restarted TCP server bind over TIME_WAIT; on a
         * UDP socket it would let a second server share the port silently. */
        if (type == SOCK_STREAM) set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        if (o->reuse_port) set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
        /* Explicit either way: the system default (bindv6only) varies. */
        if (family == AF_INET6) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->ipv6_only ? 1 : 0);
    }
    if (rc == 0 && bind(fd, &addr->u.sa, addr->len) < 0) rc = -errno;
    if (rc == 0 && type == SOCK_STREAM) {
        if (family != AF_UNIX && o->tcp_defer_accept)
            set_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, o->tcp_defer_accept);
        if (family != AF_UNIX && o->tcp_fastopen)
            set_int(fd, IPPROTO_TCP, TCP_FASTOPEN, o->tcp_fastopen);
        if (listen(fd, o->backlog) < 0) rc = -errno;
    }
    addr->len = sizeof addr->u;
    if (rc == 0 && getsockname(fd, &addr->u.sa, &addr->len) < 0) rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int eddy_bind(const char *url, const eddy_port_options_t *opts, eddy_addr_t *bound)
{
    eddy_url_t u;
    eddy_port_options_t defaults;
    if (!opts) {
        eddy_port_options_init(&defaults);
        opts = &defaults;
    }
    int rc = eddy_url_parse(url, &u);
    if (rc == 0) rc = eddy_port_options_validate(opts);
    if (rc == 0) rc = eddy_addr_from_url(&u, bound);
    if (rc < 0) return rc;
    return bind_socket(u.scheme, bound, opts);
}

static eddy_listener_t *listener_new(eddy_loop_t *loop, const eddy_port_options_t *opts,
                                     const eddy_conn_callbacks_t *cbs, void *ud)
{
    eddy_listener_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    eddy__group_init(&l->group, loop, opts, cbs, ud);
    l->group.listener = l;
    l->group.release = listener_release;
    l->fd = -1;
    return l;
}

int eddy_listen(eddy_loop_t *loop, const char *url, const eddy_port_options_t *opts,
                const eddy_conn_callbacks_t *cbs, void *ud, eddy_listener_t **out)
{
    eddy_url_t u;
    int rc = eddy_url_parse(url, &u);
    if (rc < 0) return rc;
    eddy_listener_t *l = listener_new(loop, opts, cbs, ud);
    if (!l) return -ENOMEM;
    l->scheme = u.scheme;
    rc = eddy_port_options_validate(&l->group.opts);
    if (rc == 0) rc = eddy_addr_from_url(&u, &l->addr);
    if (rc == 0) rc = bind_socket(u.scheme, &l->addr, &l->group.opts);
    if (rc >= 0) {
        l->fd = rc;
        if (u.scheme == EDDY_SCHEME_UNIX) remember_path(l);
        rc = listener_watch(l);
    }
    if (rc < 0) {
        unlink_own_path(l);
        if (l->fd >= 0) close(l->fd);
        free(l);
        return rc;
    }
    start_heartbeat(l);
    *out = l;
    return 0;
}

int eddy_listener_adopt(eddy_loop_t *loop, int fd, const eddy_port_options_t *opts,
                        const eddy_conn_callbacks_t *cbs, void *ud, eddy_listener_t **out)
{
    int type;
    socklen_t type_len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0) return -errno;
    eddy_listener_t *l = listener_new(loop, opts, cbs, ud);
    if (!l) return -ENOMEM;
    int rc = eddy_port_options_validate(&l->group.opts);
    l->addr.len = sizeof l->addr.u;
    if (rc == 0 && getsockname(fd, &l->addr.u.sa, &l->addr.len) < 0) rc = -errno;
    if (rc == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) rc = -errno;
    if (rc == 0) {
        l->scheme = type == SOCK_DGRAM                  ? EDDY_SCHEME_UDP
                    : l->addr.u.sa.sa_family == AF_UNIX ? EDDY_SCHEME_UNIX
                                                        : EDDY_SCHEME_TCP;
        l->fd = fd;
        rc = listener_watch(l);
    }
    if (rc < 0) {
        free(l); /* the caller keeps fd */
        return rc;
    }
    start_heartbeat(l);
    *out = l;
    return 0;
}

static void stop_accepting(eddy_listener_t *l)
{
    if (l->fd < 0) return;
    eddy_io_remove(l->group.loop, l->fd);
    if (l->retry_timer) eddy_timer_clear(l->group.loop, l->retry_timer);
    l->retry_timer = 0;
}

void eddy_listener_close(eddy_listener_t *l)
{
    if (l->closed) return;
    l->closed = true;
    stop_accepting(l);
    if (l->heartbeat_timer) eddy_timer_clear(l->group.loop, l->heartbeat_timer);
    l->heartbeat_timer = 0;
    unlink_own_path(l);
    close(l->fd);
    l->fd = -1;
    eddy__group_unref(&l->group);
}

static void close_for_shutdown(eddy_conn_t *c, void *arg)
{
    eddy__conn_close_with(c, -ECANCELED);
}

void eddy_listener_shutdown(eddy_listener_t *l)
{
    /* The group outlives this call even if the last connection ends inside it. */
    l->group.refs++;
    eddy_listener_foreach(l, close_for_shutdown, NULL);
    eddy_listener_close(l);
    eddy__group_unref(&l->group);
}

int eddy_listener_pause(eddy_listener_t *l)
{
    if (l->closed) return -EDDY_ECLOSING;
    if (!l->paused) stop_accepting(l);
    l->paused = true;
    return 0;
}

int eddy_listener_resume(eddy_listener_t *l)
{
    if (l->closed) return -EDDY_ECLOSING;
    if (!l->paused) return 0;
    l->paused = false;
    return listener_watch(l);
}

const eddy_addr_t *eddy_listener_addr(const eddy_listener_t *l)
{
    return &l->addr;
}

int eddy_listener_port(const eddy_listener_t *l)
{
    return eddy_addr_port(&l->addr);
}

int eddy_listener_fd(const eddy_listener_t *l)
{
    return l->fd;
}

void eddy_listener_stats(const eddy_listener_t *l, eddy_net_stats_t *out)
{
    *out = l->group.stats;
}

void eddy_listener_foreach(eddy_listener_t *l, void (*fn)(eddy_conn_t *c, void *arg), void *arg)
{
    eddy_list_t *node, *tmp;
    EDDY_LIST_FOREACH_SAFE(node, tmp, &l->group.conns)
    {
        eddy_conn_t *c = EDDY_CONTAINER_OF(node, eddy_conn_t, group_node);
        if (c->announced && c->state != CONN_CLOSED) fn(c, arg);
    }
}
