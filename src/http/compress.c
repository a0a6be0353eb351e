/* Response compression: which coding the client prefers (Accept-Encoding
 * with q-values), which media types are worth it, and zlib for gzip and
 * deflate — one reusable stream per coding for whole bodies, one stream per
 * response for streamed bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http_internal.h"

/* ---- negotiation ---------------------------------------------------------------------- */

/* A qvalue (RFC 9110 12.4.2) in thousandths: "0", "0.5", "1.000"; -1 if
 * malformed (the entry is then ignored). */
static int parse_q(const char *p, const char *e)
{
    if (p >= e || (*p != '0' && *p != '1')) return -1;
    int q = (*p - '0') * 1000, scale = 100;
    p++;
    if (p < e && *p == '.') {
        for (p++; p < e && scale > 0; p++, scale /= 10) {
            if (*p < '0' || *p > '9') return -1;
            q += (*p - '0') * scale;
        }
    }
    if (p != e || q > 1000) return -1;
    return q;
}

static bool token_is(const char *p, const char *e, const char *what)
{
    size_t n = strlen(what);
    return (size_t)(e - p) == n && strncasecmp(p, what, n) == 0;
}

static const char *skip_ows(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *p, const char *e)
{
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e;
}

/* The q of one list element "coding;q=0.5" (1000 without a q). */
static const char *find(const char *p, const char *e, char c)
{
    return p < e ? memchr(p, c, (size_t)(e - p)) : NULL;
}

static int element_q(const char *p, const char *e, const char **coding_end)
{
    const char *semi = find(p, e, ';');
    *coding_end = trim_end(p, semi ? semi : e);
    int q = 1000;
    while (semi) {
        const char *param = skip_ows(semi + 1, e);
        semi = find(param, e, ';');
        const char *pend = trim_end(param, semi ? semi : e);
        if (pend - param >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
            q = parse_q(param + 2, pend);
    }
    return q;
}

static void scan_list(const char *s, size_t len, int *gzip, int *deflate, int *star)
{
    const char *end = s + len;
    for (const char *p = s; p < end;) {
        const char *comma = find(p, end, ',');
        const char *e = comma ? comma : end;
        const char *start = skip_ows(p, e), *cend;
        int q = element_q(start, e, &cend);
        if (q >= 0) {
            if (token_is(start, cend, "gzip") || token_is(start, cend, "x-gzip")) *gzip = q;
            if (token_is(start, cend, "deflate")) *deflate = q;
            if (token_is(start, cend, "*")) *star = q;
        }
        p = comma ? comma + 1 : end;
    }
}

coding_t eddy__http_accepted_coding(const eddy_http_req_t *req)
{
    int gzip = -1, deflate = -1, star = -1;
    for (size_t i = 0; i < req->h.num_headers; i++) {
        const eddy_http1_header_t *h = &req->headers[i];
        if (h->name.len == 15 && strncasecmp(h->name.ptr, "Accept-Encoding", 15) == 0)
            scan_list(h->value.ptr, h->value.len, &gzip, &deflate, &star);
    }
    int g = gzip >= 0 ? gzip : star, d = deflate >= 0 ? deflate : star;
    if (g <= 0 && d <= 0) return CODING_IDENTITY;
    return g >= d ? CODING_GZIP : CODING_DEFLATE;
}

bool eddy__http_type_matches(const char *types, const char *type, size_t len)
{
    const char *semi = memchr(type, ';', len);
    const char *tend = trim_end(type, semi ? semi : type + len);
    type = skip_ows(type, tend);
    size_t tlen = (size_t)(tend - type);
    for (const char *p = types; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n >= 2 && p[n - 1] == '*' && p[n - 2] == '/') {
            if (tlen > n - 1 && strncasecmp(type, p, n - 1) == 0) return true;
        } else if (n > 0 && n == tlen && strncasecmp(type, p, n) == 0) {
            return true;
        }
        p = e;
    }
    return false;
}

/* ---- zlib ------------------------------------------------------------------------------- */

/* gzip is deflate with a gzip wrapper (windowBits + 16); "deflate" in HTTP
 * is the zlib format (RFC 9110 8.4.1.2), not raw deflate. */
static int window_bits(coding_t coding)
{
    return coding == CODING_GZIP ? 15 + 16 : 15;
}

static struct {
    z_stream z;
    int level; /* 0: not initialised */
} whole[3];

static char *zbuf;
static size_t zcap;

static int zbuf_reserve(size_t n)
{
    if (zcap >= n) return 0;
    char *p = realloc(zbuf, n);
    if (!p) return -ENOMEM;
    zbuf = p;
    zcap = n;
    return 0;
}

ssize_t eddy__http_compress(coding_t coding, int level, const void *in, size_t len,
                            const char **out)
{
    z_stream *z = &whole[coding].z;
    if (whole[coding].level != level) {
        if (whole[coding].level) deflateEnd(z);
        whole[coding].level = 0;
        memset(z, 0, sizeof *z);
        if (deflateInit2(z, level, Z_DEFLATED, window_bits(coding), 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        whole[coding].level = level;
    } else if (deflateReset(z) != Z_OK) {
        return -EIO;
    }
    if (len > UINT32_MAX / 2) return -EFBIG;
    size_t bound = deflateBound(z, (uLong)len);
    if (zbuf_reserve(bound) < 0) return -ENOMEM;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    z->next_out = (Bytef *)zbuf;
    z->avail_out = (uInt)bound;
    if (deflate(z, Z_FINISH) != Z_STREAM_END) return -EIO;
    *out = zbuf;
    return (ssize_t)(bound - z->avail_out);
}

int eddy__http_zstream_new(eddy_http_res_t *res, int level)
{
    z_stream *z = calloc(1, sizeof *z);
    if (!z) return -ENOMEM;
    int bits = window_bits(res->coding ? res->coding : CODING_GZIP);
    if (deflateInit2(z, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return -ENOMEM;
    }
    res->z = z;
    return 0;
}

ssize_t eddy__http_zstream_feed(eddy_http_res_t *res, const void *in, size_t len, bool last,
                                const char **out)
{
    z_stream *z = res->z;
    if (len > UINT32_MAX / 2) return -EFBIG;
    size_t used = 0;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    for (;;) {
        size_t room = deflateBound(z, (uLong)z->avail_in) + 64;
        if (zbuf_reserve(used + room) < 0) return -ENOMEM;
        z->next_out = (Bytef *)zbuf + used;
        z->avail_out = (uInt)room;
        int rc = deflate(z, last ? Z_FINISH : Z_SYNC_FLUSH);
        used += room - z->avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) return -EIO;
        if (z->avail_out > 0 && z->avail_in == 0 && !last) break; /* flushed */
    }
    *out = zbuf;
    return (ssize_t)used;
}

void eddy__http_zstream_free(eddy_http_res_t *res)
{
    if (!res->z) return;
    deflateEnd(res->z);
    free(res->z);
    res->z = NULL;
}
