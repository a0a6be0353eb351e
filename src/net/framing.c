#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "eddy/framing.h"

/* ---- options ------------------------------------------------------------ */

void eddy_framing_init(eddy_framing_t *f)
{
    memset(f, 0, sizeof *f);
    f->mode = EDDY_FRAME_RAW;
    f->package_length_type = 'N';
    f->package_max_length = EDDY_PACKAGE_MAX_LENGTH;
    f->http_max_header_size = EDDY_HTTP1_DEFAULT_MAX_HEADER_SIZE;
    f->http_max_headers = EDDY_HTTP1_DEFAULT_MAX_HEADERS;
    f->http_max_target_size = EDDY_HTTP1_DEFAULT_MAX_TARGET_SIZE;
    f->http_header_timeout = EDDY_HTTP_HEADER_TIMEOUT;
    f->http_body_timeout = EDDY_HTTP_BODY_TIMEOUT;
}

size_t eddy_framing_length_size(char type)
{
    switch (type) {
    case 'c':
    case 'C': return 1;
    case 's':
    case 'S':
    case 'n':
    case 'v': return 2;
    case 'l':
    case 'L':
    case 'N':
    case 'V': return 4;
    case 'q':
    case 'Q': return 8;
    default: return 0;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes one escape after a backslash; *s points past the backslash and is
 * advanced past the escape. */
static int parse_escape(const char **s, char *out)
{
    char c = *(*s)++;
    switch (c) {
    case 'r': *out = '\r'; return 0;
    case 'n': *out = '\n'; return 0;
    case 't': *out = '\t'; return 0;
    case '0': *out = '\0'; return 0;
    case '\\':
    case '"':
    case '\'': *out = c; return 0;
    case 'x': {
        int hi = hex_digit(**s);
        if (hi < 0) return -EDDY_EOPTION;
        (*s)++;
        int lo = hex_digit(**s);
        if (lo < 0) {
            *out = (char)hi;
            return 0;
        }
        (*s)++;
        *out = (char)(hi * 16 + lo);
        return 0;
    }
    default: return -EDDY_EOPTION;
    }
}

/* Decodes into a copy so a bad value leaves the framing unchanged. */
static int set_eof(eddy_framing_t *f, const char *s)
{
    char eof[EDDY_PACKAGE_EOF_MAX];
    size_t n = 0;
    while (*s) {
        char c = *s++;
        if (n == EDDY_PACKAGE_EOF_MAX) return -EDDY_EOPTION;
        if (c == '\\' && parse_escape(&s, &c) < 0) return -EDDY_EOPTION;
        eof[n++] = c;
    }
    if (n == 0) return -EDDY_EOPTION;
    memcpy(f->package_eof, eof, n);
    f->package_eof_len = n;
    return 0;
}

/* Switching a mode off only matters when it is the current one, so
 * "open_eof_check=0" never cancels open_length_check set earlier. */
static int set_mode(eddy_framing_t *f, eddy_frame_mode_t mode, const char *value)
{
    bool on;
    if (eddy__parse_bool(value, &on) < 0) return -EDDY_EOPTION;
    if (on)
        f->mode = mode;
    else if (f->mode == mode)
        f->mode = EDDY_FRAME_RAW;
    return 0;
}

static int set_http(eddy_framing_t *f, const char *key, const char *value)
{
    if (strcmp(key, "open_http_protocol") == 0) return set_mode(f, EDDY_FRAME_HTTP, value);
    if (strcmp(key, "http_max_header_size") == 0)
        return eddy__parse_size(value, 1, INT_MAX, &f->http_max_header_size);
    if (strcmp(key, "http_max_headers") == 0)
        return eddy__parse_size(value, 1, EDDY_FRAME_HTTP_MAX_HEADERS, &f->http_max_headers);
    if (strcmp(key, "http_max_target_size") == 0)
        return eddy__parse_size(value, 1, INT_MAX, &f->http_max_target_size);
    bool header = strcmp(key, "http_header_timeout") == 0;
    if (header || strcmp(key, "http_body_timeout") == 0) {
        size_t v;
        if (eddy__parse_size(value, 0, 86400000, &v) < 0) return -EDDY_EOPTION;
        if (header)
            f->http_header_timeout = v;
        else
            f->http_body_timeout = v;
        return 0;
    }
    return -EDDY_EUNKNOWN_OPTION;
}

int eddy_framing_set(eddy_framing_t *f, const char *key, const char *value)
{
    if (!key) return -EDDY_EUNKNOWN_OPTION;
    if (!value) return -EDDY_EOPTION;
    if (strcmp(key, "open_eof_check") == 0) return set_mode(f, EDDY_FRAME_EOF_CHECK, value);
    if (strcmp(key, "open_eof_split") == 0) return set_mode(f, EDDY_FRAME_EOF_SPLIT, value);
    if (strcmp(key, "open_length_check") == 0) return set_mode(f, EDDY_FRAME_LENGTH, value);
    if (strcmp(key, "package_eof") == 0) return set_eof(f, value);
    if (strcmp(key, "package_length_type") == 0) {
        if (value[0] == '\0' || value[1] != '\0' || !eddy_framing_length_size(value[0]))
            return -EDDY_EOPTION;
        f->package_length_type = value[0];
        return 0;
    }
    if (strcmp(key, "package_length_offset") == 0)
        return eddy__parse_size(value, 0, SIZE_MAX, &f->package_length_offset);
    if (strcmp(key, "package_body_offset") == 0)
        return eddy__parse_size(value, 0, SIZE_MAX, &f->package_body_offset);
    if (strcmp(key, "package_max_length") == 0) {
        size_t v;
        if (eddy__parse_size(value, 1, SIZE_MAX, &v) < 0) return -EDDY_EOPTION;
        f->package_max_length = v;
        return 0;
    }
    return set_http(f, key, value);
}

/* The header must fit in a packet; the body offset may be smaller than the
 * header end, because Swoole's "length counts the whole packet" convention
 * is package_body_offset = 0. */
static int validate_length(const eddy_framing_t *f)
{
    if (f->length_fn) return 0;
    size_t size = eddy_framing_length_size(f->package_length_type);
    if (size == 0 || size > f->package_max_length) return -EDDY_EOPTION;
    if (f->package_length_offset > f->package_max_length - size) return -EDDY_EOPTION;
    if (f->package_body_offset > f->package_max_length) return -EDDY_EOPTION;
    return 0;
}

int eddy_framing_validate(const eddy_framing_t *f)
{
    if (f->package_max_length == 0) return -EDDY_EOPTION;
    switch (f->mode) {
    case EDDY_FRAME_RAW: return 0;
    case EDDY_FRAME_EOF_CHECK:
    case EDDY_FRAME_EOF_SPLIT:
        if (f->package_eof_len == 0 || f->package_eof_len > EDDY_PACKAGE_EOF_MAX)
            return -EDDY_EOPTION;
        if (f->package_eof_len > f->package_max_length) return -EDDY_EOPTION;
        return 0;
    case EDDY_FRAME_LENGTH: return validate_length(f);
    case EDDY_FRAME_HTTP:
        if (f->http_max_header_size == 0 || f->http_max_target_size == 0) return -EDDY_EOPTION;
        if (f->http_max_headers == 0 || f->http_max_headers > EDDY_FRAME_HTTP_MAX_HEADERS)
            return -EDDY_EOPTION;
        return 0;
    }
    return -EDDY_EOPTION;
}

/* ---- framing ------------------------------------------------------------ */

void eddy_frame_state_reset(eddy_frame_state_t *st)
{
    st->scanned = 0;
    st->expected = 0;
    st->head_len = 0;
    st->body_pos = 0;
    st->body_framing = 0;
    st->body = EDDY_HTTP1_BODY_NONE;
    st->continue_due = false;
    st->stream_left = 0;
    st->part = EDDY_PACKET_WHOLE;
    st->error = EDDY_HTTP1_ERR_NONE;
    /* The chunked decoder is initialised when a chunked head is parsed. */
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The limit as used: a packet length must also fit the ssize_t result. */
static size_t max_length(const eddy_framing_t *f)
{
    return min_size(f->package_max_length, SSIZE_MAX);
}

/* Where to resume the EOF search: an EOF that straddles the end of the bytes
 * already searched starts at most eof_len - 1 bytes before it. */
static size_t scan_start(const eddy_frame_state_t *st, size_t len, size_t eof_len)
{
    size_t scanned = st->scanned <= len ? st->scanned : 0;
    return scanned >= eof_len ? scanned - (eof_len - 1) : 0;
}

/* End of the first EOF lying wholly inside data[from..end), or 0. memchr
 * for the EOF's last byte, then a look behind it: glibc's memchr is
 * vectorised, its memmem for short needles is not (profiled: memmem took 29%
 * of a line-echo worker's CPU with 4 KiB lines and "\r\n"). */
static size_t eof_first(const char *data, size_t from, size_t end, const char *eof, size_t n)
{
    if (end - from < n) return 0;
    const char last = eof[n - 1];
    for (size_t pos = from + n - 1; pos < end;) {
        const char *p = memchr(data + pos, last, end - pos);
        if (!p) return 0;
        size_t at = (size_t)(p - data); /* the EOF would be data[at - (n - 1) .. at] */
        if (memcmp(data + at - (n - 1), eof, n - 1) == 0) return at + 1;
        pos = at + 1;
    }
    return 0;
}

/* End of the last EOF lying wholly inside data[from..end), or 0. Searching
 * backwards from the end finds it without visiting earlier packets. */
static size_t eof_last(const char *data, size_t from, size_t end, const char *eof, size_t n)
{
    if (end - from < n) return 0;
    size_t span = end - n + 1 - from; /* candidate start positions */
    while (span > 0) {
        const char *p = memrchr(data + from, eof[0], span);
        if (!p) return 0;
        if (memcmp(p, eof, n) == 0) return (size_t)(p - data) + n;
        span = (size_t)(p - (data + from));
    }
    return 0;
}

/* Both EOF modes look only at the first package_max_length bytes: a delivery
 * that ends beyond them would be too big, so bytes past the limit are never
 * scanned and a flood costs at most package_max_length per call. */
static ssize_t next_eof(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                        size_t len)
{
    size_t n = f->package_eof_len;
    if (n == 0 || n > EDDY_PACKAGE_EOF_MAX) return -EDDY_EOPTION;
    size_t max = max_length(f);
    size_t end = min_size(len, max);
    size_t from = scan_start(st, end, n);
    size_t found = f->mode == EDDY_FRAME_EOF_SPLIT ? eof_first(data, from, end, f->package_eof, n)
                                                   : eof_last(data, from, end, f->package_eof, n);
    if (found) {
        eddy_frame_state_reset(st);
        return (ssize_t)found;
    }
    if (len >= max) return -EDDY_EPACKET_TOO_BIG;
    st->scanned = end;
    return 0;
}

static uint16_t load16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Byte-order letters (n N v V) are assembled byte by byte, so they read the
 * same on any host; the others are host order, as in PHP's pack(). */
static int read_length(char type, const char *p, uint64_t *out)
{
    const unsigned char *u = (const unsigned char *)p;
    int64_t s;
    switch (type) {
    case 'C': *out = u[0]; return 0;
    case 'S': *out = load16(p); return 0;
    case 'L': *out = load32(p); return 0;
    case 'Q': *out = load64(p); return 0;
    case 'n': *out = (uint64_t)u[0] << 8 | u[1]; return 0;
    case 'v': *out = (uint64_t)u[1] << 8 | u[0]; return 0;
    case 'N':
        *out = (uint64_t)u[0] << 24 | (uint64_t)u[1] << 16 | (uint64_t)u[2] << 8 | u[3];
        return 0;
    case 'V':
        *out = (uint64_t)u[3] << 24 | (uint64_t)u[2] << 16 | (uint64_t)u[1] << 8 | u[0];
        return 0;
    case 'c': s = (int8_t)u[0]; break;
    case 's': s = (int16_t)load16(p); break;
    case 'l': s = (int32_t)load32(p); break;
    case 'q': s = (int64_t)load64(p); break;
    default: return -EDDY_EOPTION;
    }
    if (s < 0) return -EDDY_EBADLEN;
    *out = (uint64_t)s;
    return 0;
}

/* Total packet length from the header, once data holds all of it; 0 when
 * more bytes are needed. */
static ssize_t header_length(const eddy_framing_t *f, const char *data, size_t len)
{
    size_t size = eddy_framing_length_size(f->package_length_type);
    size_t max = max_length(f);
    if (size == 0) return -EDDY_EOPTION;
    /* Every packet holds its own header, so one that cannot fit is too big
     * before a single byte of it is read. */
    if (size > max || f->package_length_offset > max - size) return -EDDY_EPACKET_TOO_BIG;
    size_t header = f->package_length_offset + size;
    if (len < header) return 0;
    uint64_t value;
    int rc = read_length(f->package_length_type, data + f->package_length_offset, &value);
    if (rc < 0) return rc;
    if (value > SIZE_MAX - f->package_body_offset) return -EDDY_EBADLEN;
    size_t total = f->package_body_offset + (size_t)value;
    /* A packet that ends inside its own header can never be consumed. */
    if (total < header) return -EDDY_EBADLEN;
    if (total > max) return -EDDY_EPACKET_TOO_BIG;
    return (ssize_t)total;
}

/* The function sees at most package_max_length bytes, so its answer cannot
 * depend on how much arrived beyond them; one that still cannot tell then
 * describes a packet longer than that. */
static ssize_t user_length(const eddy_framing_t *f, const char *data, size_t len)
{
    size_t max = max_length(f);
    ssize_t total = f->length_fn(data, min_size(len, max), f->length_ud);
    if (total < 0) return total;
    if (total == 0) return len >= max ? -EDDY_EPACKET_TOO_BIG : 0;
    if ((size_t)total > max) return -EDDY_EPACKET_TOO_BIG;
    return total;
}

/* Once the total is known, later calls only compare it with len, so neither
 * the header nor a costly length function is looked at again. */
static ssize_t next_length(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                           size_t len)
{
    if (st->expected == 0) {
        ssize_t total = f->length_fn ? user_length(f, data, len) : header_length(f, data, len);
        if (total <= 0) return total;
        st->expected = (size_t)total;
    }
    if (len < st->expected) return 0;
    size_t total = st->expected;
    eddy_frame_state_reset(st);
    return (ssize_t)total;
}

/* ---- HTTP ----------------------------------------------------------------------- */

void eddy_framing_http_limits(const eddy_framing_t *f, eddy_http1_limits_t *out)
{
    eddy_http1_limits_init(out);
    out->max_header_size = f->http_max_header_size;
    out->max_headers = f->http_max_headers;
    out->max_target_size = f->http_max_target_size;
    out->max_body_size = f->package_max_length;
}

static ssize_t http_fail(eddy_frame_state_t *st, eddy_http1_error_t err)
{
    st->error = err;
    return -EDDY_EHTTP_PARSE;
}

static bool is_form_data(const eddy_http1_request_t *req)
{
    static const char name[] = "content-type";
    const eddy_http1_header_t *h =
        eddy_http1_find_header(req->headers, req->num_headers, name, sizeof name - 1);
    return h && eddy_http1_media_type_is(h->value.ptr, h->value.len, "multipart/form-data");
}

/* A head whose body is over package_max_length, parsed again with
 * http_stream_max_body as the limit: it stands only as a multipart body
 * that will be streamed; anything else stays refused as too large (the
 * same answer as without streaming). Runs once per such head: a resumed
 * parse fails only once the head is complete. */
static int parse_streamable(const eddy_framing_t *f, const char *data, size_t len,
                            eddy_http1_request_t *req)
{
    eddy_http1_limits_t limits;
    eddy_framing_http_limits(f, &limits);
    limits.max_body_size = f->http_stream_max_body;
    *req = (eddy_http1_request_t){.headers = req->headers, .max_headers = req->max_headers};
    int n = eddy_http1_parse_request(data, len, 0, req, &limits);
    if (n == EDDY_HTTP1_INCOMPLETE) return n;
    if (n >= 0 && req->body == EDDY_HTTP1_BODY_LENGTH && is_form_data(req)) return n;
    req->error = EDDY_HTTP1_ERR_BODY_TOO_LARGE;
    return EDDY_HTTP1_ERROR;
}

/* Limits are options up to UINT64_MAX ("no limit"): sums of them saturate. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The chunk framing (size lines, extensions, CRLFs, trailers) a chunked
 * body whose data may reach max_body may add: as much again, plus a head's
 * worth, so that a body of one-byte chunks cannot cost five times the limit. */
static uint64_t chunked_overhead_max(const eddy_framing_t *f, uint64_t max_body)
{
    return sat_add(max_body, f->http_max_header_size);
}

/* What the parsed head says about its body: whole (Content-Length bytes,
 * or chunked up to package_max_length) or streamed in parts (a multipart
 * body: Content-Length up to http_stream_max_body, or chunked with that
 * much data). A streamed chunked body's length is unknown: stream_left is
 * then the most its encoding may take, and the decoder finds its end. */
static ssize_t plan_body(const eddy_framing_t *f, eddy_frame_state_t *st,
                         const eddy_http1_request_t *req, eddy_http1_limits_t *limits)
{
    bool chunked = req->body == EDDY_HTTP1_BODY_CHUNKED;
    bool sized = req->body == EDDY_HTTP1_BODY_LENGTH && req->content_length > 0;
    bool stream = f->http_stream_max_body && (chunked || sized) && is_form_data(req);
    if (stream && !chunked && req->content_length > f->http_stream_max_body)
        return http_fail(st, EDDY_HTTP1_ERR_BODY_TOO_LARGE);
    if (stream && chunked) {
        limits->max_body_size = f->http_stream_max_body;
        st->stream_left =
            sat_add(f->http_stream_max_body, chunked_overhead_max(f, f->http_stream_max_body));
    } else if (stream) {
        st->stream_left = req->content_length;
    } else if (req->body == EDDY_HTTP1_BODY_LENGTH) {
        st->expected = st->head_len + (size_t)req->content_length;
    }
    if (chunked) {
        eddy_http1_chunked_init(&st->chunked, limits);
        st->body_pos = st->head_len;
    }
    return 0;
}

/* The head, once: afterwards only the numbers it gave are kept (the slices
 * would not survive the buffer moving). */
static ssize_t http_head(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                         size_t len)
{
    if (f->http_max_headers == 0 || f->http_max_headers > EDDY_FRAME_HTTP_MAX_HEADERS)
        return -EDDY_EOPTION;
    eddy_http1_header_t headers[EDDY_FRAME_HTTP_MAX_HEADERS];
    eddy_http1_request_t req = {.headers = headers, .max_headers = f->http_max_headers};
    eddy_http1_limits_t limits;
    eddy_framing_http_limits(f, &limits);
    /* The same bytes are at the front on every call: resume the search. */
    size_t last = st->scanned <= len ? st->scanned : 0;
    int n = eddy_http1_parse_request(data, len, last, &req, &limits);
    if (n == EDDY_HTTP1_ERROR && req.error == EDDY_HTTP1_ERR_BODY_TOO_LARGE &&
        f->http_stream_max_body > limits.max_body_size)
        n = parse_streamable(f, data, len, &req);
    if (n == EDDY_HTTP1_INCOMPLETE) {
        st->scanned = len;
        return 0;
    }
    if (n < 0) return http_fail(st, req.error);
    st->scanned = 0;
    st->head_len = (size_t)n;
    st->body = (uint8_t)req.body;
    ssize_t rc = plan_body(f, st, &req, &limits);
    if (rc < 0) return rc;
    /* The client waits for "100 Continue" before it sends the body. */
    bool body_missing = req.body != EDDY_HTTP1_BODY_NONE && len == (size_t)n;
    st->continue_due = req.expect_continue && body_missing;
    return 0;
}

/* Feed data[st->body_pos..len) to the chunked decoder until the body ends
 * or the bytes run out: each byte is looked at once, however the body
 * arrives. Returns 0 or the error. */
static ssize_t chunked_scan(eddy_frame_state_t *st, const char *data, size_t len,
                            uint64_t overhead_max)
{
    while (st->body_pos < len && !eddy_http1_chunked_done(&st->chunked)) {
        eddy_http1_str_t piece;
        ssize_t r =
            eddy_http1_chunked_parse(&st->chunked, data + st->body_pos, len - st->body_pos, &piece);
        if (r < 0) return http_fail(st, st->chunked.error);
        if (r == 0) break;
        st->body_pos += (size_t)r;
        st->body_framing += (size_t)r - piece.len;
        if (st->body_framing > overhead_max) return http_fail(st, EDDY_HTTP1_ERR_BODY_TOO_LARGE);
    }
    return 0;
}

/* A whole chunked request: its length once the decoder has found the end. */
static ssize_t http_chunked(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                            size_t len)
{
    ssize_t rc = chunked_scan(st, data, len, chunked_overhead_max(f, f->package_max_length));
    if (rc < 0) return rc;
    return eddy_http1_chunked_done(&st->chunked) ? (ssize_t)st->body_pos : 0;
}

static ssize_t packet_done(eddy_frame_state_t *st, size_t total)
{
    eddy_frame_state_reset(st);
    return total > SSIZE_MAX ? -EDDY_EPACKET_TOO_BIG : (ssize_t)total;
}

/* The next piece of a streamed body: whatever has arrived of it. */
static ssize_t body_piece(eddy_frame_state_t *st, size_t len)
{
    size_t n = len < st->stream_left ? len : (size_t)st->stream_left;
    st->stream_left -= n;
    st->part = st->stream_left ? EDDY_PACKET_BODY : EDDY_PACKET_BODY_END;
    return (ssize_t)n;
}

/* The next piece of a streamed chunked body, still encoded: whatever has
 * arrived of it, up to the end the decoder finds (the last chunk and the
 * trailers). The bytes before body_pos were decoded already (a piece given
 * back). The limits end the body before stream_left runs out. */
static ssize_t chunked_piece(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                             size_t len)
{
    size_t avail = len < st->stream_left ? len : (size_t)st->stream_left;
    ssize_t rc = chunked_scan(st, data, avail, chunked_overhead_max(f, f->http_stream_max_body));
    if (rc < 0) return rc;
    size_t n = st->body_pos;
    bool done = eddy_http1_chunked_done(&st->chunked);
    if (!done && n == st->stream_left) return http_fail(st, EDDY_HTTP1_ERR_BODY_TOO_LARGE);
    st->body_pos = 0;
    st->stream_left = done ? 0 : st->stream_left - n;
    st->part = done ? EDDY_PACKET_BODY_END : EDDY_PACKET_BODY;
    return (ssize_t)n;
}

/* A streamed request's head goes at once; its body follows in pieces (a
 * chunked one decoded from the next byte on). */
static ssize_t stream_head(eddy_frame_state_t *st)
{
    size_t head = st->head_len;
    st->head_len = 0;
    st->body_pos = 0;
    st->part = EDDY_PACKET_HEAD;
    return (ssize_t)head;
}

static ssize_t next_http(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                         size_t len)
{
    if (st->error != EDDY_HTTP1_ERR_NONE) return -EDDY_EHTTP_PARSE;
    if (st->stream_left > 0)
        return st->body == EDDY_HTTP1_BODY_CHUNKED ? chunked_piece(f, st, data, len)
                                                   : body_piece(st, len);
    /* A streamed body has ended: what it left in the state goes now, not
     * at its end, so that its last piece can still be given back. */
    if (st->part == EDDY_PACKET_BODY_END) eddy_frame_state_reset(st);
    st->part = EDDY_PACKET_WHOLE;
    if (st->head_len == 0) {
        ssize_t rc = http_head(f, st, data, len);
        if (rc < 0 || st->head_len == 0) return rc;
    }
    if (st->stream_left > 0) return stream_head(st); /* the head just parsed */
    switch (st->body) {
    case EDDY_HTTP1_BODY_NONE: return packet_done(st, st->head_len);
    case EDDY_HTTP1_BODY_LENGTH: return len < st->expected ? 0 : packet_done(st, st->expected);
    default: {
        ssize_t total = http_chunked(f, st, data, len);
        return total > 0 ? packet_done(st, (size_t)total) : total;
    }
    }
}

bool eddy_frame_head_pending(const eddy_framing_t *f, const eddy_frame_state_t *st, size_t buffered)
{
    return f->mode == EDDY_FRAME_HTTP && buffered > 0 && st->head_len == 0 && st->stream_left == 0;
}

bool eddy_frame_body_pending(const eddy_framing_t *f, const eddy_frame_state_t *st)
{
    return f->mode == EDDY_FRAME_HTTP && (st->head_len > 0 || st->stream_left > 0);
}

void eddy_frame_unread(eddy_frame_state_t *st, size_t len)
{
    switch (st->part) {
    case EDDY_PACKET_HEAD: eddy_frame_state_reset(st); return; /* parsed again */
    case EDDY_PACKET_BODY:
    case EDDY_PACKET_BODY_END:
        st->stream_left += len;
        /* A chunked piece's bytes were decoded: they come again as they are. */
        if (st->body == EDDY_HTTP1_BODY_CHUNKED) st->body_pos = len;
        st->part = EDDY_PACKET_WHOLE;
        return;
    default: return; /* the state was reset for the next packet already */
    }
}

ssize_t eddy_frame_status_reply(const eddy_framing_t *f, int status, char *buf, size_t cap)
{
    if (f->mode != EDDY_FRAME_HTTP) return 0;
    if (status < 100 || status > 999) return -EINVAL;
    int n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     status, eddy_http1_reason(status));
    if (n < 0 || (size_t)n >= cap) return -ENOBUFS;
    return n;
}

ssize_t eddy_frame_error_reply(const eddy_framing_t *f, const eddy_frame_state_t *st, int err,
                               char *buf, size_t cap)
{
    int status = 400;
    if (err == -EDDY_EHTTP_PARSE && st->error != EDDY_HTTP1_ERR_NONE)
        status = eddy_http1_error_status(st->error);
    else if (err == -EDDY_EPACKET_TOO_BIG)
        status = 413;
    return eddy_frame_status_reply(f, status, buf, cap);
}

ssize_t eddy_frame_next(const eddy_framing_t *f, eddy_frame_state_t *st, const char *data,
                        size_t len)
{
    if (len == 0) return 0;
    switch (f->mode) {
    case EDDY_FRAME_RAW:
        /* Raw bytes have no boundaries to violate; the limit only caps each delivery. */
        if (f->package_max_length == 0) return -EDDY_EOPTION;
        return (ssize_t)min_size(len, max_length(f));
    case EDDY_FRAME_EOF_CHECK:
    case EDDY_FRAME_EOF_SPLIT: return next_eof(f, st, data, len);
    case EDDY_FRAME_LENGTH: return next_length(f, st, data, len);
    case EDDY_FRAME_HTTP: return next_http(f, st, data, len);
    }
    return -EDDY_EOPTION;
}
