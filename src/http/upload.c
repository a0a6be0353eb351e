/*
 * The upload sink (include/eddy/http_upload.h): one uploaded file written to
 * a mkostemp file, refused and removed once it crosses upload_max_filesize.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/http_upload.h"

#define TEMPLATE_NAME "eddy-upload-XXXXXX"

void eddy_upload_options_init(eddy_upload_options_t *o)
{
    o->upload_tmp_dir = EDDY_UPLOAD_DEFAULT_TMP_DIR;
    o->upload_max_filesize = EDDY_UPLOAD_DEFAULT_MAX_FILESIZE;
}

void eddy_upload_init(eddy_upload_t *u)
{
    u->fd = -1;
    u->size = 0;
    u->max_size = 0;
    u->path[0] = '\0';
}

int eddy_upload_open(eddy_upload_t *u, const eddy_upload_options_t *opts)
{
    eddy_upload_options_t defaults;
    if (!opts) {
        eddy_upload_options_init(&defaults);
        opts = &defaults;
    }
    eddy_upload_init(u);
    const char *dir = opts->upload_tmp_dir;
    if (!dir || !dir[0] || opts->upload_max_filesize == 0) return -EDDY_EOPTION;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') /* "/tmp/" and "/tmp" name the same place */
        dlen--;
    const char *sep = dir[dlen - 1] == '/' ? "" : "/";
    int n = snprintf(u->path, sizeof u->path, "%.*s%s" TEMPLATE_NAME, (int)dlen, dir, sep);
    if (n < 0 || (size_t)n >= sizeof u->path) {
        u->path[0] = '\0';
        return -ENAMETOOLONG;
    }
    int fd = mkostemp(u->path, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        u->path[0] = '\0';
        return -err;
    }
    u->fd = fd;
    u->max_size = opts->upload_max_filesize;
    return 0;
}

/* Fail: remove what was written, empty the sink, return err. */
static int fail(eddy_upload_t *u, int err)
{
    eddy_upload_discard(u);
    return err;
}

int eddy_upload_write(eddy_upload_t *u, const void *data, size_t len)
{
    if (u->fd < 0) return -EDDY_ESTATE;
    if (len > u->max_size - u->size) return fail(u, -EDDY_EUPLOAD_TOO_BIG);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(u->fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            return fail(u, -errno);
        }
        if (w == 0) return fail(u, -EIO); /* not reached for regular files */
        p += w;
        left -= (size_t)w;
    }
    u->size += len;
    return 0;
}

int eddy_upload_finish(eddy_upload_t *u)
{
    if (u->fd < 0) return -EDDY_ESTATE;
    int fd = u->fd;
    u->fd = -1;
    /* close reports delayed write errors on some file systems (NFS); the
     * descriptor is gone either way, so no retry on EINTR. */
    if (close(fd) < 0 && errno != EINTR) return fail(u, -errno);
    return 0;
}

int eddy_upload_move(eddy_upload_t *u, const char *dest)
{
    if (u->fd >= 0 || !u->path[0]) return -EDDY_ESTATE;
    if (!dest || !dest[0]) return -EINVAL;
    if (rename(u->path, dest) < 0) return -errno;
    eddy_upload_init(u);
    return 0;
}

void eddy_upload_discard(eddy_upload_t *u)
{
    if (u->fd >= 0) close(u->fd);
    if (u->path[0]) unlink(u->path);
    eddy_upload_init(u);
}
