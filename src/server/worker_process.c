/*
 * PROCESS mode, in a worker or task worker: the connections live in the
 * master's reactor threads. Events arrive as messages from the reactors;
 * methods on a session become messages to the reactor that owns it; exists,
 * info and foreach read the master's session table (shared memory).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "server_internal.h"

/* ---- what this worker owes ---------------------------------------------------
 *
 * A session is owed an answer from the moment one of its packets reaches
 * this worker until this worker sends on it (or closes it). A leaving
 * worker waits for what it owes, as in BASE mode. */

static void owed_set(eddy_server_t *s, eddy_session_t id)
{
    size_t fd = (size_t)session_fd(id);
    if (!s->owed) {
        s->owed = calloc(s->table.size, sizeof *s->owed);
        if (!s->owed) return;
    }
    if (fd >= s->table.size || s->owed[fd] == id) return;
    if (!s->owed[fd]) s->nowed++;
    s->owed[fd] = id;
}

static void owed_clear(eddy_server_t *s, eddy_session_t id)
{
    size_t fd = (size_t)session_fd(id);
    if (!s->owed || fd >= s->table.size || s->owed[fd] != id) return;
    s->owed[fd] = 0;
    s->nowed--;
}

/* Forget what is owed to sessions that have closed since. */
size_t eddy__pw_owed(eddy_server_t *s)
{
    size_t end = (size_t)__atomic_load_n(s->table.fd_end, __ATOMIC_RELAXED);
    for (size_t fd = 0; s->owed && s->nowed && fd < end && fd < s->table.size; fd++) {
        if (!s->owed[fd]) continue;
        session_entry_t e;
        if (!eddy__table_read(&s->table, s->owed[fd], &e) || !e.open) owed_clear(s, s->owed[fd]);
    }
    return s->nowed;
}

/* ---- events from the reactors --------------------------------------------------- */

static server_port_t *port_at(eddy_server_t *s, int32_t port)
{
    return port >= 0 && port < s->nports ? &s->ports[port] : NULL;
}

/* The port of a live (or just closed) session; NULL once its descriptor
 * carries another connection, whose events these are no longer. */
static server_port_t *session_port(eddy_server_t *s, eddy_session_t id)
{
    session_entry_t e;
    return eddy__table_read(&s->table, id, &e) ? port_at(s, e.port) : NULL;
}

static void got_data(eddy_server_t *s, const ipc_msg_t *msg)
{
    server_port_t *p = session_port(s, msg->id);
    bool spooled = msg->type == MSG_DATA_SPOOLED;
    if (!p) {
        /* The client is gone; the body's file is this worker's to remove. */
        if (spooled) eddy__spool_discard(msg->data, msg->len);
        return;
    }
    s->requests++;
    owed_set(s, msg->id);
    if (spooled)
        eddy__spool_replay(s, p, msg->id, msg->data, msg->len);
    else if (p->cbs.on_receive)
        p->cbs.on_receive(s, msg->id, msg->data, msg->len, p->ud);
    __atomic_fetch_add(&s->table.finished[s->worker_id], 1, __ATOMIC_RELAXED);
    eddy__worker_count_request(s);
}

static void got_closed(eddy_server_t *s, const ipc_msg_t *msg)
{
    close_msg_t m;
    if (msg->len != sizeof m) return;
    memcpy(&m, msg->data, sizeof m);
    owed_clear(s, msg->id);
    server_port_t *p = port_at(s, m.port);
    if (p && p->cbs.on_close)
        p->cbs.on_close(s, msg->id, (eddy_close_reason_t)m.reason, m.err, p->ud);
}

static void got_datagram(eddy_server_t *s, const ipc_msg_t *msg)
{
    datagram_msg_t m;
    if (msg->len < sizeof m) return;
    memcpy(&m, msg->data, sizeof m);
    server_port_t *p = port_at(s, m.port);
    if (!p) return;
    s->requests++;
    if (p->cbs.on_packet)
        p->cbs.on_packet(s, m.port, (const char *)msg->data + sizeof m, msg->len - sizeof m,
                         &m.from, p->ud);
}

void eddy__worker_reactor_message(eddy_server_t *s, const ipc_msg_t *msg)
{
    if (s->role != ROLE_WORKER) return;
    server_port_t *p;
    switch (msg->type) {
    case MSG_CONNECT: {
        int32_t port;
        if (msg->len != sizeof port) return;
        memcpy(&port, msg->data, sizeof port);
        p = port_at(s, port);
        if (p && p->cbs.on_connect) p->cbs.on_connect(s, msg->id, p->ud);
        return;
    }
    case MSG_DATA:
    case MSG_DATA_SPOOLED: got_data(s, msg); return;
    case MSG_CLOSED: got_closed(s, msg); return;
    case MSG_BUFFER_FULL:
        if ((p = session_port(s, msg->id)) && p->cbs.on_buffer_full)
            p->cbs.on_buffer_full(s, msg->id, p->ud);
        return;
    case MSG_BUFFER_EMPTY:
        if ((p = session_port(s, msg->id)) && p->cbs.on_buffer_empty)
            p->cbs.on_buffer_empty(s, msg->id, p->ud);
        return;
    case MSG_DATAGRAM: got_datagram(s, msg); return;
    default: return;
    }
}

/* ---- methods ----------------------------------------------------------------------- */

static bool read_entry(eddy_server_t *s, eddy_session_t id, session_entry_t *e)
{
    int r = session_owner(id);
    return r >= 0 && r < s->opts.reactor_num && eddy__table_read(&s->table, id, e) && e->open;
}

static int session_call(eddy_server_t *s, eddy_session_t id, uint16_t type, const void *data,
                        size_t len)
{
    if (!s->ipc || (s->role != ROLE_WORKER && s->role != ROLE_TASK_WORKER)) return -EDDY_ESTATE;
    session_entry_t e;
    if (!read_entry(s, id, &e)) return -EDDY_ESESSION;
    return eddy__ipc_send(s->ipc, reactor_slot(s, session_owner(id)), type, id, data, len);
}

int eddy__pw_call(eddy_server_t *s, eddy_session_t id, int type, const void *data, size_t len)
{
    int rc = session_call(s, id, (uint16_t)type, data, len);
    if (rc == 0 && type != MSG_SESSION_PAUSE && type != MSG_SESSION_RESUME &&
        type != MSG_SESSION_PROTECT && type != MSG_SESSION_BIND)
        owed_clear(s, id); /* a send, a close, or the end of an answer */
    return rc;
}

/* The reactor opens the file by its path and checks it is the same one. */
int eddy__pw_sendfile(eddy_server_t *s, eddy_session_t id, int fd, off_t offset, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    if (offset < 0 || offset > st.st_size) return -EINVAL;
    if (len == 0) len = (size_t)(st.st_size - offset);
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return -errno;
    path[n] = '\0';
    if (path[0] != '/' || strstr(path, " (deleted)")) return -EDDY_ESTATE;
    char *msg = malloc(sizeof(sendfile_msg_t) + (size_t)n);
    if (!msg) return -ENOMEM;
    sendfile_msg_t m = {(uint64_t)offset, len, (uint64_t)st.st_dev, (uint64_t)st.st_ino};
    memcpy(msg, &m, sizeof m);
    memcpy(msg + sizeof m, path, (size_t)n);
    int rc = eddy__pw_call(s, id, MSG_SESSION_SENDFILE, msg, sizeof m + (size_t)n);
    free(msg);
    return rc;
}

bool eddy__pw_exists(eddy_server_t *s, eddy_session_t id)
{
    session_entry_t e;
    return read_entry(s, id, &e);
}

int eddy__pw_info(eddy_server_t *s, eddy_session_t id, eddy_session_info_t *out)
{
    session_entry_t e;
    if (!read_entry(s, id, &e)) return -EDDY_ESESSION;
    out->worker_id = e.worker;
    out->reactor_id = e.reactor;
    out->port = e.port;
    out->uid = e.uid;
    out->conn = e.info;
    return 0;
}

void eddy__pw_foreach(eddy_server_t *s,
                      void (*fn)(eddy_server_t *s, eddy_session_t session, void *arg), void *arg)
{
    size_t end = (size_t)__atomic_load_n(s->table.fd_end, __ATOMIC_RELAXED);
    for (size_t fd = 0; fd < end && fd < s->table.size; fd++) {
        const session_entry_t *e = &s->table.entries[fd];
        if (!__atomic_load_n(&e->open, __ATOMIC_RELAXED)) continue;
        session_entry_t copy;
        eddy_session_t id = session_make(e->reactor, (int)fd, e->gen);
        if (read_entry(s, id, &copy)) fn(s, id, arg);
    }
}

int eddy__pw_sendto(eddy_server_t *s, int port, const eddy_addr_t *to, const void *data, size_t len)
{
    server_port_t *p = port_at(s, port);
    if (!p || !p->udp || p->fd < 0) return -EINVAL;
    ssize_t n = sendto(p->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, &to->u.sa, to->len);
    return n < 0 ? -errno : 0;
}
