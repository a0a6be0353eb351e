/*
 * eddy/http_upload.h — the upload sink: one uploaded file streamed to a
 * temporary file.
 *
 * What it is for. When the multipart parser (multipart.h) reports a part
 * with a filename, the HTTP server opens a sink, writes each PART_DATA run
 * into it, and finishes it at PART_END; the application then finds the
 * upload at sink.path (size sink.size), as PHP's $_FILES tmp_name, and
 * renames it where it belongs. A file larger than upload_max_filesize is
 * refused at the write that would cross the limit, and what was written is
 * removed at once, so a refused upload never fills the disk.
 *
 *     eddy_upload_t up;
 *     eddy_upload_open(&up, &opts);                      // at PART_BEGIN with a filename
 *     eddy_upload_write(&up, ev.data, ev.len);           // each PART_DATA
 *     eddy_upload_finish(&up);                           // PART_END: file complete
 *     eddy_upload_move(&up, "/srv/files/abc");           // the application keeps it, or
 *     eddy_upload_discard(&up);                          // at the end of the request
 *
 * Temporary files are created with mkostemp(O_CLOEXEC) in upload_tmp_dir
 * (mode 0600, name "eddy-upload-XXXXXX", never derived from the client's
 * filename). Writes are plain blocking write(2) calls to a local file, as
 * nginx writes request bodies to its temp files; a server that keeps its
 * upload directory on a slow file system should write from a thread.
 *
 * Ownership. The sink is a plain struct owned by the caller; it owns its
 * file descriptor until eddy_upload_finish or eddy_upload_discard, and the
 * file at path until eddy_upload_discard removes it or eddy_upload_move
 * hands it to the application. Any failure (limit, write error) closes and
 * removes the file itself; after that the sink is empty. The options'
 * strings are read only during the call that takes them.
 */
#ifndef EDDY_HTTP_UPLOAD_H
#define EDDY_HTTP_UPLOAD_H

#include "common.h"
#include "error.h"

#define EDDY_UPLOAD_DEFAULT_TMP_DIR      "/tmp"
#define EDDY_UPLOAD_DEFAULT_MAX_FILESIZE (2u * 1024 * 1024) /* PHP's default, 2M */
#define EDDY_UPLOAD_PATH_MAX             4096               /* PATH_MAX, NUL included */

typedef struct eddy_upload_options {
    const char *upload_tmp_dir;   /* directory for the temp files; "/tmp" */
    uint64_t upload_max_filesize; /* bytes one file may have (> 0); 2 MiB;
                                     UINT64_MAX for no limit */
} eddy_upload_options_t;

typedef struct eddy_upload {
    int fd;                          /* the temp file, open for writing; -1 when not */
    uint64_t size;                   /* bytes written so far */
    uint64_t max_size;               /* upload_max_filesize */
    char path[EDDY_UPLOAD_PATH_MAX]; /* the temp file, "" when there is none */
} eddy_upload_t;

/* Fill in the defaults above. */
EDDY_EXPORT void eddy_upload_options_init(eddy_upload_options_t *o);

/* An empty sink (fd -1, no file): eddy_upload_discard is then a no-op.
 * eddy_upload_open does this itself first; call it when a sink may be
 * discarded without having been opened. */
EDDY_EXPORT void eddy_upload_init(eddy_upload_t *u);

/* Create the temp file (opts NULL: the defaults). u is overwritten: finish
 * and move, or discard, an earlier file first. Returns 0, -EDDY_EOPTION
 * (empty directory name, upload_max_filesize 0), -ENAMETOOLONG (directory
 * name too long for EDDY_UPLOAD_PATH_MAX), or -errno from mkostemp (ENOENT,
 * EACCES, ENOSPC, EMFILE ...). On failure the sink is empty. */
EDDY_EXPORT int eddy_upload_open(eddy_upload_t *u, const eddy_upload_options_t *opts);

/* Append data[0..len). Returns 0; -EDDY_EUPLOAD_TOO_BIG if size + len would
 * exceed max_size (nothing of it is written); -errno if write(2) failed
 * (ENOSPC, EDQUOT, EIO ...); -EDDY_ESTATE if the sink is not open. On either
 * failure the file has been closed and removed and the sink is empty. */
EDDY_EXPORT int eddy_upload_write(eddy_upload_t *u, const void *data, size_t len);

/* The file is complete: close it. The file stays at path with size bytes.
 * Returns 0; -EDDY_ESTATE if the sink is not open; -errno if close(2)
 * reported a write error, in which case the file is removed and the sink
 * empty. */
EDDY_EXPORT int eddy_upload_finish(eddy_upload_t *u);

/* Give a finished file to the application: rename(2) it to dest, which
 * must be on the same file system (else -EXDEV; the file stays where it
 * is). Returns 0, after which the sink is empty and the file no longer
 * eddy's; -EDDY_ESTATE if the sink has no finished file; or -errno. */
EDDY_EXPORT int eddy_upload_move(eddy_upload_t *u, const char *dest);

/* Close the file if open, remove it if there is one, and empty the sink.
 * Safe in any state and more than once. A server calls it for every sink at
 * the end of the request, so files the application did not move, and files
 * of an upload cut short, never stay behind. */
EDDY_EXPORT void eddy_upload_discard(eddy_upload_t *u);

#endif
