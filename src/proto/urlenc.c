/* Percent-encoding, name=value pairs and cookies (see eddy/urlenc.h). */
#include <errno.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/urlenc.h"

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

ssize_t eddy_url_decode(char *out, size_t cap, const char *in, size_t len, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3) return -EDDY_EURL_DECODE;
            int h = hex_value((unsigned char)in[i + 1]), l = hex_value((unsigned char)in[i + 2]);
            if (h < 0 || l < 0) return -EDDY_EURL_DECODE;
            c = (unsigned char)(h << 4 | l);
            if (c == 0 && (flags & EDDY_URL_REJECT_NUL)) return -EDDY_EURL_DECODE;
            i += 2;
        } else if (c == '+' && (flags & EDDY_URL_PLUS_SPACE)) {
            c = ' ';
        }
        if (o == cap) return -ENOBUFS;
        out[o++] = (char)c; /* o <= i: in place, never ahead of the reader */
    }
    return (ssize_t)o;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

ssize_t eddy_url_encode(char *out, size_t cap, const char *in, size_t len, unsigned flags)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (unreserved(c) || (c == ' ' && (flags & EDDY_URL_PLUS_SPACE))) {
            if (o == cap) return -ENOBUFS;
            out[o++] = c == ' ' ? '+' : (char)c;
            continue;
        }
        if (cap - o < 3) return -ENOBUFS;
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    return (ssize_t)o;
}

void eddy_url_iter_init(eddy_url_iter_t *it, const char *s, size_t len)
{
    it->pos = s;
    it->end = s ? s + len : s;
}

/* The piece up to the next separator (or the end); the iterator moves past
 * the separator. */
static bool next_piece(eddy_url_iter_t *it, char sep, const char **start, const char **stop)
{
    if (!it->pos || it->pos >= it->end) return false;
    const char *p = it->pos;
    const char *s = memchr(p, sep, (size_t)(it->end - p));
    const char *e = s ? s : it->end;
    it->pos = s ? s + 1 : it->end;
    *start = p;
    *stop = e;
    return true;
}

static void set_pair(eddy_url_pair_t *pair, const char *p, const char *eq, const char *e)
{
    pair->name.ptr = p;
    pair->name.len = (size_t)((eq ? eq : e) - p);
    pair->has_value = eq != NULL;
    pair->value.ptr = eq ? eq + 1 : e;
    pair->value.len = eq ? (size_t)(e - eq - 1) : 0;
}

bool eddy_url_next(eddy_url_iter_t *it, eddy_url_pair_t *pair)
{
    const char *p, *e;
    while (next_piece(it, '&', &p, &e)) {
        if (p == e) continue; /* "a=1&&b=2" */
        set_pair(pair, p, memchr(p, '=', (size_t)(e - p)), e);
        return true;
    }
    return false;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static eddy_http1_str_t trim(const char *p, const char *e)
{
    while (p < e && is_ows(*p))
        p++;
    while (e > p && is_ows(e[-1]))
        e--;
    return (eddy_http1_str_t){p, (size_t)(e - p)};
}

bool eddy_cookie_next(eddy_url_iter_t *it, eddy_url_pair_t *pair)
{
    const char *p, *e;
    while (next_piece(it, ';', &p, &e)) {
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq) continue;
        eddy_http1_str_t name = trim(p, eq), value = trim(eq + 1, e);
        if (name.len == 0) continue;
        if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"') {
            value.ptr++;
            value.len -= 2;
        }
        pair->name = name;
        pair->value = value;
        pair->has_value = true;
        return true;
    }
    return false;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool eddy_cookie_name_valid(const char *s, size_t len)
{
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i])) return false;
    return true;
}

/* cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static bool is_cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

bool eddy_cookie_value_valid(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    for (size_t i = 0; i < len; i++)
        if (!is_cookie_octet((unsigned char)s[i])) return false;
    return true;
}
