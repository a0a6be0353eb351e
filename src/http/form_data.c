/*
 * multipart/form-data requests: the body (whole in memory, bounded by
 * package_max_length) is run through the streaming multipart parser before
 * the handler is called. Plain fields become the request's form fields;
 * file parts go to upload sinks (temp files in upload_tmp_dir, bounded by
 * upload_max_filesize) and are listed as eddy_http_file_t. Every temp file
 * is removed when the response ends unless the application moved it, and
 * at once when the body is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/multipart.h"
#include "http_internal.h"

/* "multipart/form-data" followed by the end, a parameter or whitespace. */
static bool is_form_data(eddy_http_str_t ct)
{
    static const char type[] = "multipart/form-data";
    size_t n = sizeof type - 1;
    if (!ct.ptr || ct.len < n || strncasecmp(ct.ptr, type, n) != 0) return false;
    return ct.len == n || ct.ptr[n] == ';' || ct.ptr[n] == ' ' || ct.ptr[n] == '\t';
}

/* A NUL-terminated copy in the arena; a NULL slice stays NULL. */
static int arena_str(http_arena_t *a, eddy_http_str_t in, eddy_http_str_t *out)
{
    if (!in.ptr) {
        *out = (eddy_http_str_t){NULL, 0};
        return 0;
    }
    char *p = eddy__arena_alloc(a, in.len + 1);
    if (!p) return -ENOMEM;
    memcpy(p, in.ptr, in.len);
    p[in.len] = '\0';
    *out = (eddy_http_str_t){p, in.len};
    return 0;
}

/* What the parse builds before it is handed to the request. */
typedef struct form_state {
    eddy_http_req_t *req;
    eddy_upload_options_t uo;
    eddy_http_str_t *pairs; /* name, value, ... (malloc'd; copied to the arena) */
    size_t npairs, pairs_cap;
    eddy_buf_t value;  /* the current plain field's bytes */
    http_file_t *file; /* the current file part, or NULL */
} form_state_t;

static int add_file(eddy_http_req_t *req, http_file_t **out)
{
    if (req->nfiles == req->files_cap) {
        size_t cap = req->files_cap ? 2 * req->files_cap : 4;
        http_file_t *f = realloc(req->files, cap * sizeof *f);
        if (!f) return -ENOMEM;
        req->files = f;
        req->files_cap = cap;
    }
    http_file_t *f = &req->files[req->nfiles++];
    memset(&f->pub, 0, sizeof f->pub);
    eddy_upload_init(&f->sink);
    *out = f;
    return 0;
}

/* The status for a sink's failure. */
static int sink_status(form_state_t *fs, int rc)
{
    if (rc == -EDDY_EUPLOAD_TOO_BIG) return 413;
    EDDY_ERROR("http: upload to %s: %s", fs->uo.upload_tmp_dir, eddy_strerror(rc));
    return 500;
}

static int part_begin(form_state_t *fs, const eddy_multipart_part_t *part)
{
    eddy_http_req_t *req = fs->req;
    fs->file = NULL;
    fs->value.start = fs->value.end = 0;
    if (!part->filename.ptr) return 0; /* a plain field: collected until PART_END */
    http_file_t *f;                    /* stays put until the next part is added */
    if (add_file(req, &f) < 0) return 500;
    fs->file = f;
    if (arena_str(&req->arena, part->name, &f->pub.name) < 0 ||
        arena_str(&req->arena, part->filename, &f->pub.filename) < 0 ||
        arena_str(&req->arena, part->content_type, &f->pub.content_type) < 0)
        return 500;
    /* A file input left empty comes as filename "" and no bytes: it gets a
     * file only if bytes come after all. */
    if (part->filename.len == 0) return 0;
    int rc = eddy_upload_open(&f->sink, &fs->uo);
    return rc < 0 ? sink_status(fs, rc) : 0;
}

static int part_data(form_state_t *fs, const char *data, size_t len)
{
    http_file_t *f = fs->file;
    if (!f) return eddy_buf_append(&fs->value, data, len) < 0 ? 500 : 0;
    int rc = 0;
    if (f->sink.fd < 0) rc = eddy_upload_open(&f->sink, &fs->uo); /* filename "" with bytes */
    if (rc == 0) rc = eddy_upload_write(&f->sink, data, len);
    return rc < 0 ? sink_status(fs, rc) : 0;
}

static int part_end(form_state_t *fs, const eddy_multipart_part_t *part)
{
    eddy_http_req_t *req = fs->req;
    http_file_t *f = fs->file;
    fs->file = NULL;
    if (f) {
        if (f->sink.fd < 0) { /* filename "" and no bytes: no file at all */
            req->nfiles--;
            return 0;
        }
        int rc = eddy_upload_finish(&f->sink);
        if (rc < 0) return sink_status(fs, rc);
        f->pub.size = f->sink.size;
        return 0;
    }
    if (fs->npairs == fs->pairs_cap) {
        size_t cap = fs->pairs_cap ? 2 * fs->pairs_cap : 8;
        eddy_http_str_t *p = realloc(fs->pairs, 2 * cap * sizeof *p);
        if (!p) return 500;
        fs->pairs = p;
        fs->pairs_cap = cap;
    }
    eddy_http_str_t *pair = &fs->pairs[2 * fs->npairs];
    eddy_http_str_t value = {eddy_buf_data(&fs->value), eddy_buf_len(&fs->value)};
    if (!value.ptr) value.ptr = "";
    if (arena_str(&req->arena, part->name, &pair[0]) < 0 ||
        arena_str(&req->arena, value, &pair[1]) < 0)
        return 500;
    if (!pair[0].ptr) pair[0] = (eddy_http_str_t){"", 0}; /* never: a part has a name */
    fs->npairs++;
    return 0;
}

/* Feed the whole body; 0 or a status. */
static int parse_body(form_state_t *fs, eddy_multipart_t *mp)
{
    const char *p = fs->req->body.ptr;
    size_t left = fs->req->body.len;
    for (;;) {
        eddy_multipart_event_t ev;
        ssize_t n = eddy_multipart_parse(mp, p, left, &ev);
        if (n < 0) return 400;
        p += n;
        left -= (size_t)n;
        int status = 0;
        switch (ev.type) {
        case EDDY_MULTIPART_NONE: return eddy_multipart_finish(mp) < 0 ? 400 : 0;
        case EDDY_MULTIPART_PART_BEGIN: status = part_begin(fs, ev.part); break;
        case EDDY_MULTIPART_PART_DATA: status = part_data(fs, ev.data, ev.len); break;
        case EDDY_MULTIPART_PART_END: status = part_end(fs, ev.part); break;
        case EDDY_MULTIPART_BODY_END: break;
        }
        if (status) return status;
    }
}

int eddy__req_multipart(eddy_http_req_t *req)
{
    eddy_http_str_t ct = eddy_http_content_type(req);
    /* No body is no form (a GET that carries the type by mistake), not a
     * malformed one. */
    if (!is_form_data(ct) || req->body.len == 0) return 0;
    char boundary[EDDY_MULTIPART_BOUNDARY_MAX + 1];
    int blen = eddy_multipart_boundary(ct.ptr, ct.len, boundary);
    if (blen < 0) return 400;
    eddy_multipart_t *mp;
    int rc = eddy_multipart_new(&mp, boundary, (size_t)blen, NULL);
    if (rc < 0) return rc == -ENOMEM ? 500 : 400;
    const eddy_http_options_t *o = &req->ctx->opts;
    form_state_t fs = {.req = req};
    fs.uo.upload_tmp_dir = o->upload_tmp_dir;
    fs.uo.upload_max_filesize = o->upload_max_filesize;
    eddy_buf_init(&fs.value);
    int status = parse_body(&fs, mp);
    eddy_multipart_free(mp);
    eddy_buf_free(&fs.value);
    if (status == 0 && fs.npairs > 0) {
        req->form = eddy__arena_alloc(&req->arena, 2 * fs.npairs * sizeof *req->form);
        if (req->form) {
            memcpy(req->form, fs.pairs, 2 * fs.npairs * sizeof *req->form);
            req->nform = fs.npairs;
        } else {
            status = 500;
        }
    }
    free(fs.pairs);
    if (status) {
        eddy__req_files_discard(req); /* every file of the request, the current one too */
        req->form = NULL;
        req->nform = 0;
        return status;
    }
    req->form_done = true;
    /* The array has stopped moving: point at the paths for good. */
    for (size_t i = 0; i < req->nfiles; i++)
        req->files[i].pub.tmp_path = req->files[i].sink.path;
    return 0;
}

void eddy__req_files_discard(eddy_http_req_t *req)
{
    for (size_t i = 0; i < req->nfiles; i++)
        eddy_upload_discard(&req->files[i].sink);
    free(req->files);
    req->files = NULL;
    req->nfiles = req->files_cap = 0;
}

/* ---- accessors ---------------------------------------------------------------------- */

size_t eddy_http_file_count(const eddy_http_req_t *req)
{
    return req->nfiles;
}

const eddy_http_file_t *eddy_http_file_at(const eddy_http_req_t *req, size_t i)
{
    return i < req->nfiles ? &req->files[i].pub : NULL;
}

const eddy_http_file_t *eddy_http_file(const eddy_http_req_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nfiles; i++) {
        const eddy_http_file_t *f = &req->files[i].pub;
        if (f->name.len == n && memcmp(f->name.ptr, name, n) == 0) return f;
    }
    return NULL;
}

int eddy_http_file_move(eddy_http_req_t *req, size_t i, const char *dest)
{
    if (i >= req->nfiles || !dest || !dest[0]) return -EINVAL;
    return eddy_upload_move(&req->files[i].sink, dest);
}
