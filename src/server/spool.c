/*
 * PROCESS mode: request bodies that the framing streams (an HTTP upload,
 * http_stream_max_body) are spooled to a file by the reactor thread as they
 * arrive, and the worker gets the request as one message — the head and the
 * file's path — once the body is in. So an upload never sits in the
 * master's memory, and a request still reaches one worker whole, whatever
 * the dispatch mode and across reloads (a slot's inbox may be read by the
 * successor of the worker that would have taken the head). The worker
 * replays it to on_receive in parts, as BASE mode delivers them, and
 * removes the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "server_internal.h"

#define SPOOL_READ_SIZE (64u * 1024) /* the worker replays the body in pieces this large */

struct body_spool {
    int fd;
    uint64_t size; /* body bytes written */
    char *head;    /* the request's head, kept until the message is sent */
    size_t head_len;
    char path[SPOOL_PATH_MAX];
};

/* The message: this, the path, then the head. */
typedef struct spooled_msg {
    uint64_t body_len;
    uint32_t path_len;
    uint32_t head_len;
} spooled_msg_t;

int eddy__spool_open(body_spool_t **out, const char *dir, const char *head, size_t head_len)
{
    body_spool_t *sp = calloc(1, sizeof *sp);
    if (!sp) return -ENOMEM;
    sp->fd = -1;
    int n = snprintf(sp->path, sizeof sp->path, "%s/eddy-body-XXXXXX", dir);
    sp->head = malloc(head_len);
    int rc = n < 0 || (size_t)n >= sizeof sp->path ? -ENAMETOOLONG : sp->head ? 0 : -ENOMEM;
    if (rc == 0 && (sp->fd = mkostemp(sp->path, O_CLOEXEC)) < 0) rc = -errno;
    if (rc < 0) {
        free(sp->head);
        free(sp);
        return rc;
    }
    memcpy(sp->head, head, head_len);
    sp->head_len = head_len;
    *out = sp;
    return 0;
}

int eddy__spool_write(body_spool_t *sp, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(sp->fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        data += n;
        len -= (size_t)n;
        sp->size += (uint64_t)n;
    }
    return 0;
}

const char *eddy__spool_head(const body_spool_t *sp, size_t *len)
{
    *len = sp->head_len;
    return sp->head;
}

uint64_t eddy__spool_size(const body_spool_t *sp)
{
    return sp->size;
}

int eddy__spool_truncate(body_spool_t *sp, uint64_t size)
{
    if (ftruncate(sp->fd, (off_t)size) < 0 || lseek(sp->fd, (off_t)size, SEEK_SET) < 0)
        return -errno;
    sp->size = size;
    return 0;
}

int eddy__spool_message(const body_spool_t *sp, char **out, size_t *len)
{
    spooled_msg_t m = {sp->size, (uint32_t)strlen(sp->path), (uint32_t)sp->head_len};
    size_t total = sizeof m + m.path_len + m.head_len;
    char *msg = malloc(total);
    if (!msg) return -ENOMEM;
    memcpy(msg, &m, sizeof m);
    memcpy(msg + sizeof m, sp->path, m.path_len);
    memcpy(msg + sizeof m + m.path_len, sp->head, m.head_len);
    *out = msg;
    *len = total;
    return 0;
}

static void spool_free(body_spool_t *sp, bool remove)
{
    if (!sp) return;
    if (sp->fd >= 0) close(sp->fd);
    if (remove) unlink(sp->path);
    free(sp->head);
    free(sp);
}

void eddy__spool_drop(body_spool_t *sp)
{
    spool_free(sp, true);
}

void eddy__spool_hand_over(body_spool_t *sp)
{
    spool_free(sp, false);
}

/* ---- the worker's side ------------------------------------------------------------ */

static void deliver(eddy_server_t *s, server_port_t *p, eddy_session_t id, eddy_packet_part_t part,
                    const char *data, size_t len)
{
    s->packet_part = part;
    if (p->cbs.on_receive) p->cbs.on_receive(s, id, data, len, p->ud);
    s->packet_part = EDDY_PACKET_WHOLE;
}

/* Replay the body from fd after the head; a file that ends early or fails
 * ends the request with the connection. */
static void replay_body(eddy_server_t *s, server_port_t *p, eddy_session_t id, int fd,
                        uint64_t body_len, const char *path)
{
    char *buf = malloc(SPOOL_READ_SIZE);
    uint64_t left = body_len;
    int err = buf ? 0 : -ENOMEM;
    while (err == 0 && left > 0) {
        size_t want = left < SPOOL_READ_SIZE ? (size_t)left : SPOOL_READ_SIZE;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? -errno : -EIO; /* shorter than it was written */
            break;
        }
        left -= (uint64_t)n;
        deliver(s, p, id, left ? EDDY_PACKET_BODY : EDDY_PACKET_BODY_END, buf, (size_t)n);
    }
    free(buf);
    if (err < 0) {
        EDDY_ERROR("worker #%d: spooled body %s: %s; closing session %llx", s->worker_id, path,
                   eddy_strerror(err), (unsigned long long)id);
        eddy_server_close(s, id);
    }
}

/* The message's fields and path; false if it is malformed. */
static bool parse_message(const void *data, size_t len, spooled_msg_t *m, char *path)
{
    if (len < sizeof *m) return false;
    memcpy(m, data, sizeof *m);
    if (m->path_len >= SPOOL_PATH_MAX || len != sizeof *m + m->path_len + m->head_len) return false;
    memcpy(path, (const char *)data + sizeof *m, m->path_len);
    path[m->path_len] = '\0';
    return true;
}

void eddy__spool_discard(const void *data, size_t len)
{
    spooled_msg_t m;
    char path[SPOOL_PATH_MAX];
    if (parse_message(data, len, &m, path)) unlink(path);
}

void eddy__spool_replay(eddy_server_t *s, server_port_t *p, eddy_session_t id, const void *data,
                        size_t len)
{
    spooled_msg_t m;
    char path[SPOOL_PATH_MAX];
    if (!parse_message(data, len, &m, path)) return;
    const char *head = (const char *)data + sizeof m + m.path_len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        EDDY_ERROR("worker #%d: spooled body %s: %s; closing session %llx", s->worker_id, path,
                   eddy_strerror(-errno), (unsigned long long)id);
        eddy_server_close(s, id);
        return;
    }
    unlink(path); /* the descriptor keeps it while it is read */
    deliver(s, p, id, EDDY_PACKET_HEAD, head, m.head_len);
    replay_body(s, p, id, fd, m.body_len, path);
    close(fd);
}
