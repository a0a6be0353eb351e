/*
 * Streaming multipart/form-data parser (include/eddy/multipart.h).
 *
 * Layout: character classes; Content-Type parameters and the boundary;
 * quoted strings and RFC 5987 values; the part header section (collected
 * byte by byte into the parser's buffer, then split into lines and checked
 * once it is complete); the body state machine. Data is scanned with memchr
 * for CR, the only byte a delimiter can start with: the delimiter is
 * CRLF "--" boundary and no bchar is CR, so a partial match can never hide
 * the start of another one, and the bytes of a failed match are exactly the
 * delimiter's prefix — which is why held-back bytes can be handed out from
 * the parser's own copy of the delimiter instead of being buffered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "eddy/multipart.h"

#define MAX_PADDING 64 /* SP/HTAB after a delimiter (header comment) */

/* ---- character classes --------------------------------------------------------------------- */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* bchars (RFC 2046 5.1.1): bcharsnospace and space */
static bool is_bchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("'()+_,-./:=? ", c));
}

/* qdtext (RFC 9110 5.6.4) */
static bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* what may follow a backslash in a quoted-pair */
static bool is_qpair(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* attr-char (RFC 5987 3.2.1) */
static bool is_attr_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$&+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int hex_value(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool eq_nocase(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* ---- parameters (RFC 9110 5.6.6) ----------------------------------------------------------- */

/* A cursor over a header value. */
typedef struct cursor {
    const char *s;
    size_t len, pos;
} cursor_t;

static void skip_ows(cursor_t *c)
{
    while (c->pos < c->len && is_ows((unsigned char)c->s[c->pos]))
        c->pos++;
}

static bool at_end(const cursor_t *c)
{
    return c->pos >= c->len;
}

/* A token at the cursor (empty if there is none). */
static eddy_http1_str_t take_token(cursor_t *c)
{
    size_t start = c->pos;
    while (c->pos < c->len && is_tchar((unsigned char)c->s[c->pos]))
        c->pos++;
    return (eddy_http1_str_t){c->s + start, c->pos - start};
}

/* A parameter value: a token, or a quoted-string, which is unescaped into
 * out. At most cap bytes are written; value->len is the whole unescaped
 * length, so a caller can tell that it did not fit. *quoted says which form.
 * Returns false if malformed. */
static bool take_value(cursor_t *c, char *out, size_t cap, eddy_http1_str_t *value, bool *quoted)
{
    *quoted = c->pos < c->len && c->s[c->pos] == '"';
    if (!*quoted) {
        *value = take_token(c);
        return value->len > 0;
    }
    size_t n = 0;
    for (c->pos++; c->pos < c->len; c->pos++) {
        unsigned char ch = (unsigned char)c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            *value = (eddy_http1_str_t){out, n};
            return true;
        }
        if (ch == '\\') {
            if (++c->pos >= c->len || !is_qpair((unsigned char)c->s[c->pos])) return false;
            ch = (unsigned char)c->s[c->pos];
        } else if (!is_qdtext(ch)) {
            return false;
        }
        if (n < cap) out[n] = (char)ch;
        n++;
    }
    return false; /* no closing quote */
}

/* One parameter after a ';': name and value. Returns 1 for a parameter, 0
 * for an empty one (";;" or a trailing ';'), -1 when malformed. */
static int take_param(cursor_t *c, eddy_http1_str_t *name, eddy_http1_str_t *value, bool *quoted,
                      char *out, size_t cap)
{
    skip_ows(c);
    if (at_end(c) || c->s[c->pos] == ';') return 0;
    *name = take_token(c);
    if (name->len == 0 || at_end(c) || c->s[c->pos] != '=') return -1;
    c->pos++;
    if (!take_value(c, out, cap, value, quoted)) return -1;
    skip_ows(c);
    if (!at_end(c) && c->s[c->pos] != ';') return -1;
    return 1;
}

/* The characters of a boundary once unquoted. */
static bool boundary_valid(const char *b, size_t len)
{
    if (len < 1 || len > EDDY_MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ') return false;
    for (size_t i = 0; i < len; i++)
        if (!is_bchar((unsigned char)b[i])) return false;
    return true;
}

int eddy_multipart_boundary(const char *value, size_t len,
                            char out[EDDY_MULTIPART_BOUNDARY_MAX + 1])
{
    cursor_t c = {value, value ? len : 0, 0};
    skip_ows(&c);
    eddy_http1_str_t type = take_token(&c);
    if (!eq_nocase(type.ptr, type.len, "multipart") || at_end(&c) || c.s[c.pos] != '/')
        return -EDDY_EMULTIPART_TYPE;
    c.pos++;
    eddy_http1_str_t subtype = take_token(&c);
    if (!eq_nocase(subtype.ptr, subtype.len, "form-data")) return -EDDY_EMULTIPART_TYPE;
    skip_ows(&c);
    /* A quoted boundary may hold escapes, so it is unquoted into scratch
     * space first; 256 covers any value that could still be valid. */
    char scratch[256];
    int found = 0;
    while (!at_end(&c)) {
        if (c.s[c.pos] != ';') return -EDDY_EMULTIPART_TYPE;
        c.pos++;
        eddy_http1_str_t name = {0}, v = {0};
        bool quoted;
        int r = take_param(&c, &name, &v, &quoted, scratch, sizeof scratch);
        if (r < 0) /* "boundary=" with a bad or empty value is about the boundary */
            return eq_nocase(name.ptr, name.len, "boundary") ? -EDDY_EMULTIPART_BOUNDARY
                                                             : -EDDY_EMULTIPART_TYPE;
        if (r == 0 || !eq_nocase(name.ptr, name.len, "boundary")) continue;
        /* boundary_valid looks at the length first: a quoted value longer
         * than scratch is refused before its unwritten bytes are read. */
        if (found++ || !boundary_valid(v.ptr, v.len)) return -EDDY_EMULTIPART_BOUNDARY;
        memcpy(out, v.ptr, v.len);
        out[v.len] = '\0';
    }
    return found ? (int)strlen(out) : -EDDY_EMULTIPART_BOUNDARY;
}

/* ---- errors -------------------------------------------------------------------------------- */

static const char *const error_names[] = {
#define NAME_(name, msg) "EDDY_MULTIPART_ERR_" #name,
    EDDY_MULTIPART_ERROR_MAP(NAME_)
#undef NAME_
};

static const char *const error_msgs[] = {
#define MSG_(name, msg) msg,
    EDDY_MULTIPART_ERROR_MAP(MSG_)
#undef MSG_
};

const char *eddy_multipart_error_name(eddy_multipart_error_t err)
{
    return (unsigned)err < EDDY_MULTIPART_ERR_COUNT_ ? error_names[err] : "EDDY_MULTIPART_ERR_?";
}

const char *eddy_multipart_error_str(eddy_multipart_error_t err)
{
    return (unsigned)err < EDDY_MULTIPART_ERR_COUNT_ ? error_msgs[err] : "unknown multipart error";
}

/* ---- the parser ---------------------------------------------------------------------------- */

enum state {
    S_PREAMBLE, /* looking for the first delimiter, discarding */
    S_AFTER,    /* a delimiter was matched: "--", padding or CRLF follows */
    S_CLOSE,    /* one '-' of the close delimiter seen */
    S_PADDING,  /* transport padding */
    S_DELIM_LF, /* CR of the delimiter line seen */
    S_HEADERS,  /* collecting a part's header section */
    S_DATA,     /* inside a part */
    S_LAST_END, /* the close delimiter ended a part: BODY_END is next */
    S_EPILOGUE, /* after the close delimiter, discarding */
    S_ERROR,
};

struct eddy_multipart {
    eddy_multipart_limits_t limits;
    enum state state;
    eddy_multipart_error_t error;
    uint64_t offset; /* body bytes consumed so far */
    uint64_t error_offset;
    uint64_t hdr_offset; /* body offset of the current header section */
    size_t match;        /* bytes of the delimiter matched and held back */
    size_t padding;      /* SP/HTAB seen after the current delimiter */
    size_t parts;        /* parts begun */
    bool in_part;        /* a part has begun and not ended */
    size_t hlen;         /* bytes in raw */
    eddy_multipart_part_t part;
    eddy_http1_header_t *headers;                /* limits.max_headers entries */
    char *raw;                                   /* the header section being collected */
    char *decoded;                               /* unescaped name and filename */
    size_t dlen;                                 /* delimiter length */
    char delim[4 + EDDY_MULTIPART_BOUNDARY_MAX]; /* CRLF "--" boundary */
};

void eddy_multipart_limits_init(eddy_multipart_limits_t *l)
{
    l->max_header_size = EDDY_MULTIPART_DEFAULT_MAX_HEADER_SIZE;
    l->max_headers = EDDY_MULTIPART_DEFAULT_MAX_HEADERS;
    l->max_parts = EDDY_MULTIPART_DEFAULT_MAX_PARTS;
}

int eddy_multipart_new(eddy_multipart_t **out, const char *boundary, size_t len,
                       const eddy_multipart_limits_t *limits)
{
    eddy_multipart_limits_t l;
    if (limits)
        l = *limits;
    else
        eddy_multipart_limits_init(&l);
    if (!boundary || !boundary_valid(boundary, len)) return -EDDY_EMULTIPART_BOUNDARY;
    if (l.max_header_size == 0 || l.max_headers == 0 || l.max_parts == 0) return -EDDY_EOPTION;
    /* One allocation: struct, header array, raw and decoded areas. */
    size_t head = sizeof(eddy_multipart_t);
    head = (head + _Alignof(eddy_http1_header_t) - 1) & ~(_Alignof(eddy_http1_header_t) - 1);
    if (l.max_headers > (SIZE_MAX / 4) / sizeof(eddy_http1_header_t) ||
        l.max_header_size > SIZE_MAX / 8)
        return -EDDY_EOPTION;
    size_t harr = l.max_headers * sizeof(eddy_http1_header_t);
    if (head + harr > SIZE_MAX / 2 - 2 * l.max_header_size) return -EDDY_EOPTION;
    char *mem = malloc(head + harr + 2 * l.max_header_size);
    if (!mem) return -ENOMEM;
    eddy_multipart_t *p = (eddy_multipart_t *)(void *)mem;
    memset(p, 0, sizeof *p);
    p->limits = l;
    p->headers = (eddy_http1_header_t *)(void *)(mem + head);
    p->raw = mem + head + harr;
    p->decoded = p->raw + l.max_header_size;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, len);
    p->dlen = 4 + len;
    p->state = S_PREAMBLE;
    p->match = 2; /* as if the body began with CRLF: its first delimiter needs none */
    *out = p;
    return 0;
}

void eddy_multipart_free(eddy_multipart_t *p)
{
    free(p);
}

eddy_multipart_error_t eddy_multipart_error(const eddy_multipart_t *p)
{
    return p->error;
}

uint64_t eddy_multipart_error_offset(const eddy_multipart_t *p)
{
    return p->error_offset;
}

static ssize_t fail(eddy_multipart_t *p, eddy_multipart_error_t err, uint64_t offset)
{
    p->state = S_ERROR;
    p->error = err;
    p->error_offset = offset;
    return -EDDY_EMULTIPART;
}

int eddy_multipart_finish(eddy_multipart_t *p)
{
    switch (p->state) {
    case S_LAST_END:
    case S_EPILOGUE: return 0;
    case S_ERROR: return -EDDY_EMULTIPART;
    case S_PREAMBLE: return (int)fail(p, EDDY_MULTIPART_ERR_NO_DELIMITER, p->offset);
    default: return (int)fail(p, EDDY_MULTIPART_ERR_TRUNCATED, p->offset);
    }
}

/* ---- Content-Disposition ------------------------------------------------------------------- */

/* Decode an RFC 5987 ext-value (charset'[language]'value-chars) into out.
 * Returns 1 when decoded, 0 for a charset other than UTF-8 and ISO-8859-1
 * (ignored), -1 when malformed or decoding to NUL. Never writes more bytes
 * than it reads: %XX is 3 bytes and yields at most 2. */
static int decode_ext_value(const char *s, size_t len, char *out, size_t *out_len)
{
    const char *q1 = memchr(s, '\'', len);
    if (!q1) return -1;
    const char *q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - s));
    if (!q2 || q1 == s) return -1;
    for (const char *l = q1 + 1; l < q2; l++)
        if (!is_alpha((unsigned char)*l) && !is_digit((unsigned char)*l) && *l != '-') return -1;
    bool utf8 = eq_nocase(s, (size_t)(q1 - s), "UTF-8");
    bool latin1 = eq_nocase(s, (size_t)(q1 - s), "ISO-8859-1");
    size_t n = 0;
    for (const char *v = q2 + 1, *end = s + len; v < end; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '%') {
            int hi = end - v > 2 ? hex_value((unsigned char)v[1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)v[2]) : -1;
            if (lo < 0) return -1;
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0) return -1;
            v += 2;
        } else if (!is_attr_char(c)) {
            return -1;
        }
        if (latin1 && c >= 0x80) {
            out[n++] = (char)(0xc0 | c >> 6);
            out[n++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[n++] = (char)c;
        }
    }
    *out_len = n;
    return utf8 || latin1;
}

/* Parse the Content-Disposition value v (trimmed) at body offset off,
 * unescaping name and filename into p->decoded from *dpos on. */
static eddy_multipart_error_t parse_disposition(eddy_multipart_t *p, eddy_http1_str_t v,
                                                size_t *dpos)
{
    cursor_t c = {v.ptr, v.len, 0};
    eddy_http1_str_t type = take_token(&c);
    if (!eq_nocase(type.ptr, type.len, "form-data")) return EDDY_MULTIPART_ERR_DISPOSITION;
    skip_ows(&c);
    bool have_name = false, have_filename = false, have_ext = false, ext_used = false;
    while (!at_end(&c)) {
        if (c.s[c.pos] != ';') return EDDY_MULTIPART_ERR_DISPOSITION;
        c.pos++;
        eddy_http1_str_t name = {0}, value = {0};
        bool quoted;
        char *out = p->decoded + *dpos;
        size_t cap = p->limits.max_header_size - *dpos;
        int r = take_param(&c, &name, &value, &quoted, out, cap);
        if (r < 0) return EDDY_MULTIPART_ERR_DISPOSITION;
        if (r == 0) continue;
        if (eq_nocase(name.ptr, name.len, "filename*")) {
            if (have_ext || quoted) return EDDY_MULTIPART_ERR_DISPOSITION;
            have_ext = true;
            size_t n = 0;
            int d = decode_ext_value(value.ptr, value.len, out, &n);
            if (d < 0) return EDDY_MULTIPART_ERR_FILENAME;
            if (d == 0) continue;
            p->part.filename = (eddy_http1_str_t){out, n};
            *dpos += n;
            ext_used = true;
            continue;
        }
        bool is_name = eq_nocase(name.ptr, name.len, "name");
        bool is_filename = eq_nocase(name.ptr, name.len, "filename");
        if (!is_name && !is_filename) continue; /* other parameters are ignored */
        bool *seen = is_name ? &have_name : &have_filename;
        if (*seen) return EDDY_MULTIPART_ERR_DISPOSITION;
        *seen = true;
        /* Tokens are copied too, so every result lives in the decoded area. */
        if (!quoted) memmove(out, value.ptr, value.len);
        eddy_http1_str_t s = {out, value.len};
        *dpos += value.len;
        if (is_name)
            p->part.name = s;
        else if (!ext_used)
            p->part.filename = s;
    }
    if (!have_name) return EDDY_MULTIPART_ERR_DISPOSITION;
    return EDDY_MULTIPART_ERR_NONE;
}

/* ---- part headers -------------------------------------------------------------------------- */

/* Split the complete header section raw[0..hlen) (its last 2 bytes are the
 * CRLF of the empty line; every line ends in CRLF, checked while collecting)
 * into header lines, check them, and describe the part. Returns NONE or the
 * error, with *where the offset of the offending byte in raw. */
static eddy_multipart_error_t parse_headers(eddy_multipart_t *p, size_t *where)
{
    eddy_multipart_part_t *part = &p->part;
    memset(part, 0, sizeof *part);
    part->index = p->parts - 1;
    part->headers = p->headers;
    const char *raw = p->raw;
    size_t pos = 0, end = p->hlen - 2, dpos = 0;
    const eddy_http1_header_t *disposition = NULL;
    while (pos < end) {
        const char *line = raw + pos;
        size_t llen = (size_t)((const char *)memchr(line, '\r', end - pos) - line);
        *where = pos;
        if (is_ows((unsigned char)line[0])) return EDDY_MULTIPART_ERR_OBS_FOLD;
        size_t i = 0;
        while (i < llen && is_tchar((unsigned char)line[i]))
            i++;
        /* A line without a colon is blamed at its start; a bad name at the
         * first byte that is not a token character ("Name x:", "Näme:"). */
        if (!memchr(line, ':', llen)) return EDDY_MULTIPART_ERR_HEADER_COLON;
        *where = pos + i;
        if (i == 0 || line[i] != ':') return EDDY_MULTIPART_ERR_HEADER_NAME;
        size_t vs = i + 1, ve = llen;
        for (size_t k = vs; k < ve; k++) {
            unsigned char ch = (unsigned char)line[k];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                *where = pos + k;
                return EDDY_MULTIPART_ERR_HEADER_VALUE;
            }
        }
        while (vs < ve && is_ows((unsigned char)line[vs]))
            vs++;
        while (ve > vs && is_ows((unsigned char)line[ve - 1]))
            ve--;
        *where = pos;
        if (part->num_headers == p->limits.max_headers) return EDDY_MULTIPART_ERR_TOO_MANY_HEADERS;
        eddy_http1_header_t *h = &p->headers[part->num_headers++];
        h->name = (eddy_http1_str_t){line, i};
        h->value = (eddy_http1_str_t){line + vs, ve - vs};
        if (eq_nocase(line, i, "Content-Disposition")) {
            if (disposition) return EDDY_MULTIPART_ERR_DUPLICATE_HEADER;
            disposition = h;
        } else if (eq_nocase(line, i, "Content-Type")) {
            if (part->content_type.ptr) return EDDY_MULTIPART_ERR_DUPLICATE_HEADER;
            part->content_type = h->value;
        }
        pos += llen + 2;
    }
    *where = p->hlen;
    if (!disposition) return EDDY_MULTIPART_ERR_NO_DISPOSITION;
    *where = (size_t)(disposition->value.ptr - raw);
    return parse_disposition(p, disposition->value, &dpos);
}

/* Collect header bytes. Returns bytes consumed; sets ev at the end of the
 * section, or fails. */
static ssize_t step_headers(eddy_multipart_t *p, const char *buf, size_t len,
                            eddy_multipart_event_t *ev)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        uint64_t here = p->offset + i;
        char prev = p->hlen ? p->raw[p->hlen - 1] : '\0';
        if (prev == '\r' && c != '\n') /* a bare CR: blame the CR */
            return fail(p, EDDY_MULTIPART_ERR_NEWLINE, here - 1);
        if (prev != '\r' && c == '\n') return fail(p, EDDY_MULTIPART_ERR_NEWLINE, here);
        if (p->hlen == p->limits.max_header_size)
            return fail(p, EDDY_MULTIPART_ERR_HEADER_TOO_LARGE, here);
        p->raw[p->hlen++] = c;
        if (c != '\n') continue;
        /* The section ends with an empty line: CRLF at its start, or CRLFCRLF. */
        bool done = p->hlen == 2 || (p->hlen >= 4 && p->raw[p->hlen - 3] == '\n');
        if (!done) continue;
        size_t where = 0;
        eddy_multipart_error_t err = parse_headers(p, &where);
        if (err != EDDY_MULTIPART_ERR_NONE) return fail(p, err, p->hdr_offset + where);
        p->state = S_DATA;
        p->in_part = true;
        ev->type = EDDY_MULTIPART_PART_BEGIN;
        ev->part = &p->part;
        return (ssize_t)(i + 1);
    }
    return (ssize_t)len;
}

/* ---- the body ------------------------------------------------------------------------------ */

/* The part (if any) ends only once the delimiter line has been checked:
 * "CRLF--boundary" followed by garbage ends nothing. */
static void delimiter_found(eddy_multipart_t *p)
{
    p->state = S_AFTER;
    p->padding = 0;
}

/* Report the end of the current part, if there is one. */
static bool part_end(eddy_multipart_t *p, eddy_multipart_event_t *ev)
{
    if (!p->in_part) return false;
    p->in_part = false;
    ev->type = EDDY_MULTIPART_PART_END;
    ev->part = &p->part;
    return true;
}

static void data_event(eddy_multipart_t *p, eddy_multipart_event_t *ev, const char *d, size_t n)
{
    if (p->state != S_DATA) return; /* preamble: discarded */
    ev->type = EDDY_MULTIPART_PART_DATA;
    ev->part = &p->part;
    ev->data = d;
    ev->len = n;
}

/* Preamble or part data. Returns bytes consumed; sets ev for a data run or
 * the end of a part. */
static size_t step_body(eddy_multipart_t *p, const char *buf, size_t len,
                        eddy_multipart_event_t *ev)
{
    if (p->match > 0) { /* a delimiter prefix held back from earlier input */
        size_t k = p->match, j = 0;
        while (j < len && k < p->dlen && buf[j] == p->delim[k])
            j++, k++;
        if (k == p->dlen) {
            p->match = 0;
            delimiter_found(p);
        } else if (j == len) {
            p->match = k; /* still undecided */
        } else {
            p->match = 0; /* it was data after all: the bytes are delim[0..k) */
            data_event(p, ev, p->delim, k);
        }
        return j;
    }
    size_t pos = 0;
    for (;;) {
        const char *cr = memchr(buf + pos, '\r', len - pos);
        if (!cr) {
            data_event(p, ev, buf, len);
            return len;
        }
        size_t at = (size_t)(cr - buf), m = 0;
        while (at + m < len && m < p->dlen && buf[at + m] == p->delim[m])
            m++;
        if (m == p->dlen || at + m == len) {
            /* A delimiter, or the start of one at the end of the input:
             * hand out the data before it first. */
            if (at > 0) {
                data_event(p, ev, buf, at);
                return at;
            }
            if (m == p->dlen)
                delimiter_found(p);
            else
                p->match = m;
            return m;
        }
        pos = at + 1;
    }
}

/* The bytes after a delimiter, one at a time. Returns 1 consumed, or fails. */
static ssize_t step_delimiter_line(eddy_multipart_t *p, char c, eddy_multipart_event_t *ev)
{
    switch (p->state) {
    case S_AFTER:
        if (c == '-') {
            p->state = S_CLOSE;
            return 1;
        }
        __attribute__((fallthrough)); /* padding or CRLF */
    case S_PADDING:
        if (c == ' ' || c == '\t') {
            if (++p->padding > MAX_PADDING) break;
            p->state = S_PADDING;
            return 1;
        }
        if (c == '\r') {
            p->state = S_DELIM_LF;
            return 1;
        }
        if (c == '\n') return fail(p, EDDY_MULTIPART_ERR_NEWLINE, p->offset);
        break;
    case S_CLOSE:
        if (c != '-') break;
        if (part_end(p, ev)) {
            p->state = S_LAST_END;
        } else {
            p->state = S_EPILOGUE;
            ev->type = EDDY_MULTIPART_BODY_END;
        }
        return 1;
    case S_DELIM_LF:
        if (c != '\n') return fail(p, EDDY_MULTIPART_ERR_NEWLINE, p->offset - 1); /* the CR */
        if (p->parts == p->limits.max_parts)
            return fail(p, EDDY_MULTIPART_ERR_TOO_MANY_PARTS, p->offset);
        part_end(p, ev);
        p->parts++;
        p->hlen = 0;
        p->hdr_offset = p->offset + 1;
        p->state = S_HEADERS;
        return 1;
    default: break;
    }
    return fail(p, EDDY_MULTIPART_ERR_DELIMITER, p->offset);
}

ssize_t eddy_multipart_parse(eddy_multipart_t *p, const char *buf, size_t len,
                             eddy_multipart_event_t *ev)
{
    *ev = (eddy_multipart_event_t){.type = EDDY_MULTIPART_NONE};
    if (p->state == S_LAST_END) { /* the second event of "--" after a part */
        p->state = S_EPILOGUE;
        ev->type = EDDY_MULTIPART_BODY_END;
        return 0;
    }
    size_t used = 0;
    while (used < len && ev->type == EDDY_MULTIPART_NONE) {
        ssize_t n;
        switch (p->state) {
        case S_ERROR: return -EDDY_EMULTIPART;
        case S_PREAMBLE:
        case S_DATA: n = (ssize_t)step_body(p, buf + used, len - used, ev); break;
        case S_HEADERS: n = step_headers(p, buf + used, len - used, ev); break;
        case S_EPILOGUE: n = (ssize_t)(len - used); break;
        default: n = step_delimiter_line(p, buf[used], ev); break;
        }
        if (n < 0) return n;
        used += (size_t)n;
        p->offset += (uint64_t)n;
    }
    if (p->state == S_ERROR) return -EDDY_EMULTIPART;
    return (ssize_t)used;
}
