/*
 * multipart/form-data requests: the body runs through the streaming
 * multipart parser as it arrives, in pieces, never whole in memory, before
 * the handler is called; a chunked body comes as it was sent and is
 * decoded here on the way. Plain fields become the request's form fields, bounded by
 * package_max_length together; file parts go to upload sinks (temp files in
 * upload_tmp_dir, bounded by upload_max_filesize) and are listed as
 * eddy_http_file_t. Every temp file is removed when the response ends
 * unless the application moved it, and at once when the body is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/log.h"
#include "eddy/multipart.h"
#include "http_internal.h"

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

/* A body being parsed: what the parse builds before it is handed to the
 * request. */
struct http_form {
    eddy_http_req_t *req;
    eddy_multipart_t *mp;
    eddy_upload_options_t uo;
    eddy_http_str_t *pairs; /* name, value, ... (malloc'd; copied to the arena) */
    size_t npairs, pairs_cap;
    eddy_buf_t value;   /* the current plain field's bytes */
    size_t field_bytes; /* of every plain field so far: package_max_length bounds them */
    http_file_t *file;  /* the current file part, or NULL */
    uint64_t fed;       /* decoded body bytes so far */
    bool chunked;       /* pieces come chunked, as sent: dec decodes them */
    eddy_http1_chunked_t dec;
};

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
static int sink_status(http_form_t *fs, int rc)
{
    if (rc == -EDDY_EUPLOAD_TOO_BIG) return 413;
    EDDY_ERROR("http: upload to %s: %s", fs->uo.upload_tmp_dir, eddy_strerror(rc));
    return 500;
}

static int part_begin(http_form_t *fs, const eddy_multipart_part_t *part)
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

static int part_data(http_form_t *fs, const char *data, size_t len)
{
    http_file_t *f = fs->file;
    if (!f) {
        fs->field_bytes += len;
        if (fs->field_bytes > fs->req->ctx->opts.port.framing.package_max_length) return 413;
        return eddy_buf_append(&fs->value, data, len) < 0 ? 500 : 0;
    }
    int rc = 0;
    if (f->sink.fd < 0) rc = eddy_upload_open(&f->sink, &fs->uo); /* filename "" with bytes */
    if (rc == 0) rc = eddy_upload_write(&f->sink, data, len);
    return rc < 0 ? sink_status(fs, rc) : 0;
}

static int part_end(http_form_t *fs, const eddy_multipart_part_t *part)
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

/* The parse state goes; on a refusal, every file of the request with it. */
static int form_close(eddy_http_req_t *req, int status)
{
    http_form_t *fs = req->form_parse;
    req->form_parse = NULL;
    eddy_multipart_free(fs->mp);
    eddy_buf_free(&fs->value);
    free(fs->pairs);
    free(fs);
    if (status) {
        eddy__req_files_discard(req); /* every file of the request, the current one too */
        req->form = NULL;
        req->nform = 0;
    }
    return status;
}

int eddy__form_begin(eddy_http_req_t *req, bool as_sent)
{
    eddy_http_str_t ct = eddy_http_content_type(req);
    if (!eddy_http1_media_type_is(ct.ptr, ct.len, "multipart/form-data")) return 0;
    char boundary[EDDY_MULTIPART_BOUNDARY_MAX + 1];
    int blen = eddy_multipart_boundary(ct.ptr, ct.len, boundary);
    if (blen < 0) return 400;
    http_form_t *fs = calloc(1, sizeof *fs);
    if (!fs) return 500;
    int rc = eddy_multipart_new(&fs->mp, boundary, (size_t)blen, NULL);
    if (rc < 0) {
        free(fs);
        return rc == -ENOMEM ? 500 : 400;
    }
    const eddy_http_options_t *o = &req->ctx->opts;
    fs->req = req;
    fs->uo.upload_tmp_dir = o->upload_tmp_dir;
    fs->uo.upload_max_filesize = o->upload_max_filesize;
    /* The framing checked the chunks with the same limits or stricter ones. */
    fs->chunked = as_sent && req->h.body == EDDY_HTTP1_BODY_CHUNKED;
    if (fs->chunked) eddy_http1_chunked_init(&fs->dec, &req->ctx->limits);
    eddy_buf_init(&fs->value);
    req->form_parse = fs;
    return 0;
}

/* Decoded body bytes through the multipart parser. */
static int form_parse(eddy_http_req_t *req, const char *data, size_t len)
{
    http_form_t *fs = req->form_parse;
    fs->fed += len;
    for (;;) {
        eddy_multipart_event_t ev;
        ssize_t n = eddy_multipart_parse(fs->mp, data, len, &ev);
        if (n < 0) return form_close(req, 400);
        data += n;
        len -= (size_t)n;
        int status = 0;
        switch (ev.type) {
        case EDDY_MULTIPART_NONE: return 0;
        case EDDY_MULTIPART_PART_BEGIN: status = part_begin(fs, ev.part); break;
        case EDDY_MULTIPART_PART_DATA: status = part_data(fs, ev.data, ev.len); break;
        case EDDY_MULTIPART_PART_END: status = part_end(fs, ev.part); break;
        case EDDY_MULTIPART_BODY_END: break;
        }
        if (status) return form_close(req, status);
    }
}

/* A piece of a chunked body as sent: each run of data it holds is parsed
 * as it is decoded. */
static int form_decode(eddy_http_req_t *req, const char *data, size_t len)
{
    http_form_t *fs = req->form_parse;
    while (len > 0) {
        /* Bytes after the last chunk: never from the framing. */
        if (eddy_http1_chunked_done(&fs->dec)) return form_close(req, 400);
        eddy_http1_str_t run;
        ssize_t n = eddy_http1_chunked_parse(&fs->dec, data, len, &run);
        if (n <= 0) return form_close(req, 400);
        int status = run.len ? form_parse(req, run.ptr, run.len) : 0;
        if (status) return status;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int eddy__form_feed(eddy_http_req_t *req, const char *data, size_t len)
{
    http_form_t *fs = req->form_parse;
    if (!fs) return 0;
    return fs->chunked ? form_decode(req, data, len) : form_parse(req, data, len);
}

int eddy__form_end(eddy_http_req_t *req)
{
    http_form_t *fs = req->form_parse;
    if (!fs) return 0;
    if (fs->chunked && !eddy_http1_chunked_done(&fs->dec)) return form_close(req, 400);
    /* An empty body (chunked: its last chunk alone) is no form, as a whole
     * one is (eddy__req_multipart), not a malformed one. */
    if (fs->fed == 0) return form_close(req, 0);
    if (eddy_multipart_finish(fs->mp) < 0) return form_close(req, 400);
    if (fs->npairs > 0) {
        req->form = eddy__arena_alloc(&req->arena, 2 * fs->npairs * sizeof *req->form);
        if (!req->form) return form_close(req, 500);
        memcpy(req->form, fs->pairs, 2 * fs->npairs * sizeof *req->form);
        req->nform = fs->npairs;
    }
    form_close(req, 0);
    req->form_done = true;
    /* The array has stopped moving: point at the paths for good. */
    for (size_t i = 0; i < req->nfiles; i++)
        req->files[i].pub.tmp_path = req->files[i].sink.path;
    return 0;
}

void eddy__form_abort(eddy_http_req_t *req)
{
    if (req->form_parse) form_close(req, 1);
}

int eddy__req_multipart(eddy_http_req_t *req)
{
    /* No body is no form (a GET that carries the type by mistake), not a
     * malformed one. */
    if (req->form_done || req->body.len == 0) return 0;
    int status = eddy__form_begin(req, false);
    if (status == 0 && req->form_parse && req->body.len > req->ctx->opts.upload_max_body) {
        eddy__form_abort(req);
        status = 413;
    }
    if (status == 0) status = eddy__form_feed(req, req->body.ptr, req->body.len);
    if (status == 0) status = eddy__form_end(req);
    return status;
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
