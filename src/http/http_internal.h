/* Private to http/: the port context, requests and responses, the
 * per-connection state that exists only while a response is in progress,
 * and the helpers the files of the layer share. */
#ifndef EDDY_HTTP_INTERNAL_H
#define EDDY_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "eddy/buf.h"
#include "eddy/http.h"

/* ---- arena: allocations that never move, reused from request to request ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block_t;

typedef struct http_arena {
    arena_block_t *head; /* the newest block; the last one is kept for reuse */
} http_arena_t;

/* size bytes (8-aligned), or NULL. */
void *eddy__arena_alloc(http_arena_t *a, size_t size);
/* Forget every allocation, keeping one block of at most ARENA_KEEP bytes. */
void eddy__arena_reset(http_arena_t *a);
void eddy__arena_free(http_arena_t *a);

/* ---- a port ------------------------------------------------------------------ */

typedef struct http_ctx {
    eddy_server_t *server;
    int port;
    eddy_http_options_t opts;
    eddy_http1_limits_t limits;
    eddy_http_handler_fn on_request;
    void *ud;
    eddy_http_stats_t stats;
    int log_fd;               /* access log, opened in each worker on first use; -1 none yet */
    eddy_static_t *statics;   /* enable_static_handler: the document root, else NULL */
    size_t static_prefix_len; /* of opts.static_prefix without trailing '/' (0 for "/") */
    struct http_ctx *next;
} http_ctx_t;

/* ---- requests and responses ----------------------------------------------------- */

/* Header names eddy looks at in what the handler sets. */
enum {
    RH_CONTENT_LENGTH = 1u << 0,
    RH_CONTENT_TYPE = 1u << 1,
    RH_CONTENT_ENCODING = 1u << 2,
    RH_CONTENT_RANGE = 1u << 3,
    RH_CONNECTION_CLOSE = 1u << 4,
    RH_DATE = 1u << 5,
    RH_SERVER = 1u << 6,
    RH_VARY = 1u << 7,
};

typedef enum body_mode {
    BODY_NONE,  /* nothing sent yet */
    BODY_FIXED, /* Content-Length: what end() or sendfile() sent, or raw streaming */
    BODY_CHUNKED,
    BODY_CLOSE, /* HTTP/1.0 streaming: the body ends with the connection */
} body_mode_t;

typedef enum coding { CODING_IDENTITY, CODING_GZIP, CODING_DEFLATE } coding_t;

struct eddy_http_res {
    int status;
    unsigned has;            /* RH_* of the headers set */
    uint64_t content_length; /* when RH_CONTENT_LENGTH */
    body_mode_t mode;
    bool started;  /* the head was sent */
    bool ended;    /* end, sendfile, or a fatal failure */
    bool retained; /* eddy_http_retain */
    bool close_after;
    coding_t coding;
    struct z_stream_s *z; /* streaming compression */
    uint64_t body_sent;   /* body bytes queued, for the log and raw streaming */
    /* Last: the buffers are kept from response to response; eddy__res_reset
     * zeroes everything above them. */
    eddy_buf_t headers;  /* "Name: value\r\n" lines the handler set */
    eddy_buf_t trailers; /* likewise, for the last chunk */
};

typedef struct http_conn http_conn_t;
typedef struct http_form http_form_t;

/* An uploaded file and the sink that owns its temp file. */
typedef struct http_file {
    eddy_http_file_t pub;
    eddy_upload_t sink;
} http_file_t;

struct eddy_http_req {
    http_ctx_t *ctx;
    http_conn_t *conn; /* NULL unless queued or answered after its handler */
    eddy_session_t session;
    const char *packet; /* the whole request as framed (borrowed or owned) */
    size_t packet_len;
    char *owned; /* the copy packet points into, when it outlives on_receive */
    size_t owned_cap;
    size_t head_len;
    eddy_http1_request_t h;
    eddy_http1_header_t *headers;
    size_t headers_cap;
    eddy_http_str_t path; /* decoded, NUL-terminated */
    eddy_http_str_t body;
    /* decoded pairs, built on first use */
    eddy_http_str_t *query, *form; /* name, value, name, value ... */
    size_t nquery, nform;
    bool query_done, form_done;
    bool in_handler;    /* the handler is running: end() leaves the release to it */
    bool handled;       /* the handler was called */
    bool gone;          /* the connection closed while the response was retained */
    int refuse;         /* queued: a status to refuse it with instead of the handler */
    bool close_last;    /* the queue overflowed behind it: close after its answer */
    http_file_t *files; /* multipart uploads (malloc'd), removed at the end */
    size_t nfiles, files_cap;
    http_form_t *form_parse; /* a multipart body still being parsed */
    bool receiving;          /* BASE mode: its body is still arriving in parts */
    http_arena_t arena;
    eddy_http_res_t res;
    eddy_http_req_t *next; /* in a connection's queue, or the free list */
};

/* A connection with a response in progress after its handler returned, or
 * requests queued behind one. */
struct http_conn {
    eddy_session_t session;
    http_ctx_t *ctx;
    eddy_http_req_t *head, *tail; /* head: the request being answered */
    eddy_http_req_t *receiving;   /* the request whose body parts arrive now */
    size_t queued;                /* requests in the queue, head included */
    bool paused;
    bool draining;      /* drain() is running: it picks up the next request itself */
    bool drain_pending; /* a deferred drain is scheduled */
    bool overflow;      /* the queue overflowed: later requests are dropped */
    bool closing;       /* a response asked for the close: drop what is queued */
    http_conn_t *next;  /* free list */
};

/* request.c */
/* Bind req to a framed packet and parse it; 0, or a status to refuse it with.
 * body_follows: the packet is the head of a streamed request (its body, in
 * parts, is not in it). */
int eddy__req_parse(eddy_http_req_t *req, const char *data, size_t len, bool body_follows);
/* Copy the packet into memory of req's own, moving every slice with it. */
int eddy__req_detach(eddy_http_req_t *req);
void eddy__req_reset(eddy_http_req_t *req);

/* form_data.c */
/* Parse a whole multipart/form-data body into form fields and uploaded
 * files (nothing for other types). 0, or the status to refuse the request
 * with (400 malformed, 413 a file or the fields too big, 500); on a refusal
 * no file is left. */
int eddy__req_multipart(eddy_http_req_t *req);
/* The same for a body that arrives in pieces: begin once the head is parsed
 * (nothing for other types), feed each piece, end after the last. as_sent:
 * the pieces are the body as it was sent, so a chunked one is decoded here
 * (else they are decoded bytes, as req->body holds). Each
 * returns 0 or the status to refuse the request with, and after a refusal
 * the parse is over and no file is left. abort drops a parse in progress
 * and its files. */
int eddy__form_begin(eddy_http_req_t *req, bool as_sent);
int eddy__form_feed(eddy_http_req_t *req, const char *data, size_t len);
int eddy__form_end(eddy_http_req_t *req);
void eddy__form_abort(eddy_http_req_t *req);
/* Remove the temp files not moved; free the list. Safe more than once. */
void eddy__req_files_discard(eddy_http_req_t *req);

/* serve_static.c */
/* Answer req from st for path (decoded, starting with '/'). fall_through:
 * a 404 is left to the caller (returns 0, the response untouched).
 * Otherwise the response has ended: returns the status answered, or the
 * error of the final end or sendfile. */
int eddy__serve_static(eddy_http_req_t *req, const eddy_static_t *st, const char *path, size_t len,
                       bool fall_through);

/* response.c */
#define EDDY__U64_DIGITS_MAX 20 /* UINT64_MAX in decimal */
/* v in decimal at dst (no NUL; room for EDDY__U64_DIGITS_MAX); returns the
 * length. */
size_t eddy__http_format_u64(char *dst, uint64_t v);
#define EDDY__U64_HEX_DIGITS_MAX 16
/* The same in lowercase hexadecimal (a chunk's size). */
size_t eddy__http_format_hex(char *dst, uint64_t v);
void eddy__res_init(eddy_http_res_t *res);
void eddy__res_reset(eddy_http_res_t *res);
/* A minimal response (refusals, 500 for a handler that forgot), then end. */
int eddy__res_simple(eddy_http_res_t *res, int status);
/* The handler returned without ending nor retaining its response. */
void eddy__res_abandon(eddy_http_res_t *res);

/* options.c */
int eddy__http_options_validate(const eddy_http_options_t *o);

/* server.c */
/* The response of req has ended (or failed for good): account, close if
 * due, and release req unless its handler is still running. */
void eddy__exchange_ended(eddy_http_req_t *req);
/* Send on req's session; counts bytes. */
int eddy__http_send(eddy_http_req_t *req, const void *data, size_t len);

/* compress.c */
/* The coding the request accepts best (IDENTITY if none). */
coding_t eddy__http_accepted_coding(const eddy_http_req_t *req);
/* Whether type (a Content-Type value) is in the comma-separated list. */
bool eddy__http_type_matches(const char *types, const char *type, size_t len);
/* Compress in[0..len) in one go; *out points to memory valid until the next
 * call in this process. Returns the compressed length or a negative error. */
ssize_t eddy__http_compress(coding_t coding, int level, const void *in, size_t len,
                            const char **out);
/* Streaming: a z_stream for res, then data through it (Z_SYNC_FLUSH, or
 * Z_FINISH when last). Output goes to *out, valid until the next call. */
int eddy__http_zstream_new(eddy_http_res_t *res, int level);
ssize_t eddy__http_zstream_feed(eddy_http_res_t *res, const void *in, size_t len, bool last,
                                const char **out);
void eddy__http_zstream_free(eddy_http_res_t *res);

/* access_log.c */
void eddy__http_access_log(eddy_http_req_t *req);

#endif
