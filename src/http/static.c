/*
 * Static files (include/eddy/http_static.h).
 *
 * Layout: the MIME table; HTTP dates; entity tags; Range; the document root
 * and the index list; path normalisation and the two resolvers (openat2, and
 * the O_PATH + /proc fallback); eddy_static_serve, which puts them together
 * in the order of RFC 9110 13.2.2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/http_static.h"
#include "static_internal.h"

#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif
#ifndef HAVE_OPENAT2_H
struct open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH       0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

/* ---- MIME types ---------------------------------------------------------------------------- */

#define UTF8 "; charset=utf-8"

static const struct mime {
    const char *ext;
    const char *type;
} mime_table[] = {
    {"html", "text/html" UTF8},
    {"htm", "text/html" UTF8},
    {"css", "text/css" UTF8},
    {"js", "text/javascript" UTF8}, /* RFC 9239 */
    {"mjs", "text/javascript" UTF8},
    {"json", "application/json"}, /* JSON has no charset parameter (RFC 8259 11) */
    {"map", "application/json"},
    {"txt", "text/plain" UTF8},
    {"xml", "text/xml" UTF8},
    {"csv", "text/csv" UTF8},
    {"md", "text/markdown" UTF8},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
};

#define MIME_DEFAULT "application/octet-stream"

const char *eddy_static_mime_type(const char *name, size_t len)
{
    if (!name) return MIME_DEFAULT;
    const char *base = name, *end = name + len;
    for (const char *s = name; s < end; s++)
        if (*s == '/') base = s + 1;
    const char *dot = NULL;
    for (const char *s = base + 1; s < end; s++) /* a leading dot does not start one */
        if (*s == '.') dot = s;
    if (!dot) return MIME_DEFAULT;
    size_t elen = (size_t)(end - dot - 1);
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
        if (strlen(mime_table[i].ext) == elen && strncasecmp(dot + 1, mime_table[i].ext, elen) == 0)
            return mime_table[i].type;
    return MIME_DEFAULT;
}

/* ---- HTTP dates (RFC 9110 5.6.7) ----------------------------------------------------------- */

static const char day_names[7][10] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                      "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A small cursor for fixed formats. */
typedef struct scan {
    const char *s;
    size_t len, pos;
    bool ok;
} scan_t;

static void expect(scan_t *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->ok && c->len - c->pos >= n && memcmp(c->s + c->pos, lit, n) == 0)
        c->pos += n;
    else
        c->ok = false;
}

/* Exactly n digits (a leading space allowed when space_pad, for asctime's day). */
static int digits(scan_t *c, int n, bool space_pad)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!c->ok || c->pos >= c->len) {
            c->ok = false;
            return 0;
        }
        char ch = c->s[c->pos++];
        if (space_pad && i == 0 && ch == ' ') continue;
        if (ch < '0' || ch > '9') {
            c->ok = false;
            return 0;
        }
        v = v * 10 + (ch - '0');
    }
    return v;
}

/* One of names[0..count), compared over width bytes (or its whole length
 * when width is 0). Returns the index. */
static int name_of(scan_t *c, const char *names, size_t stride, int count, size_t width)
{
    for (int i = 0; c->ok && i < count; i++) {
        const char *name = names + (size_t)i * stride;
        size_t n = width ? width : strlen(name);
        if (c->len - c->pos >= n && memcmp(c->s + c->pos, name, n) == 0) {
            c->pos += n;
            return i;
        }
    }
    c->ok = false;
    return 0;
}

static void hms(scan_t *c, int *h, int *mi, int *se)
{
    *h = digits(c, 2, false);
    expect(c, ":");
    *mi = digits(c, 2, false);
    expect(c, ":");
    *se = digits(c, 2, false);
}

/* RFC 9110: a 2-digit year more than 50 years in the future is in the past. */
static int full_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    int cur = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 2000;
    int y = cur - cur % 100 + yy;
    if (y > cur + 50) y -= 100;
    if (y <= cur - 50) y += 100;
    return y;
}

int eddy_static_parse_date(const char *value, size_t len, time_t *out)
{
    scan_t c = {value, value ? len : 0, 0, value != NULL};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    const char *names = &day_names[0][0];
    if (len > 4 && value[3] == ',') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        name_of(&c, names, sizeof day_names[0], 7, 3);
        expect(&c, ", ");
        d = digits(&c, 2, false);
        expect(&c, " ");
        mo = name_of(&c, &month_names[0][0], sizeof month_names[0], 12, 3);
        expect(&c, " ");
        y = digits(&c, 4, false);
        expect(&c, " ");
        hms(&c, &h, &mi, &se);
        expect(&c, " GMT");
    } else if (len > 4 && value[3] == ' ') { /* asctime: Sun Nov  6 08:49:37 1994 */
        name_of(&c, names, sizeof day_names[0], 7, 3);
        expect(&c, " ");
        mo = name_of(&c, &month_names[0][0], sizeof month_names[0], 12, 3);
        expect(&c, " ");
        d = digits(&c, 2, true);
        expect(&c, " ");
        hms(&c, &h, &mi, &se);
        expect(&c, " ");
        y = digits(&c, 4, false);
    } else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        name_of(&c, names, sizeof day_names[0], 7, 0);
        expect(&c, ", ");
        d = digits(&c, 2, false);
        expect(&c, "-");
        mo = name_of(&c, &month_names[0][0], sizeof month_names[0], 12, 3);
        expect(&c, "-");
        y = digits(&c, 2, false);
        expect(&c, " ");
        hms(&c, &h, &mi, &se);
        expect(&c, " GMT");
        if (c.ok) y = full_year(y);
    }
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!c.ok || c.pos != len || d < 1 || d > mdays[mo] + (mo == 1 && is_leap(y)) || h > 23 ||
        mi > 59 || se > 60) /* 60: a leap second, as the grammar allows */
        return -EINVAL;
    *out = (time_t)(days_from_civil(y, mo + 1, d) * 86400 + h * 3600 + mi * 60 + se);
    return 0;
}

/* ---- entity tags (RFC 9110 8.8.3) ---------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull; /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int eddy_static_make_etag(const struct stat *st, char out[EDDY_STATIC_ETAG_MAX + 1])
{
    uint64_t mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    uint64_t id = mix64((uint64_t)st->st_size ^ mix64((uint64_t)st->st_ino ^ mix64(st->st_dev)));
    return snprintf(out, EDDY_STATIC_ETAG_MAX + 1, "\"%llx-%llx\"", (unsigned long long)mtime_ns,
                    (unsigned long long)id);
}

static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One entity tag at s[*pos..len): sets *weak and the opaque tag (quotes
 * included). Returns false if there is none. */
static bool take_etag(const char *s, size_t len, size_t *pos, bool *weak, const char **tag,
                      size_t *tag_len)
{
    size_t p = *pos;
    *weak = len - p >= 2 && s[p] == 'W' && s[p + 1] == '/';
    if (*weak) p += 2;
    if (p >= len || s[p] != '"') return false;
    size_t start = p++;
    while (p < len && is_etagc((unsigned char)s[p]))
        p++;
    if (p >= len || s[p] != '"') return false;
    p++;
    *tag = s + start;
    *tag_len = p - start;
    *pos = p;
    return true;
}

int eddy_static_etag_match(const char *list, size_t len, const char *etag, size_t etag_len,
                           bool strong)
{
    if (!list || !etag) return -EINVAL;
    size_t p = 0, end = len;
    while (p < end && is_ows(list[p]))
        p++;
    while (end > p && is_ows(list[end - 1]))
        end--;
    if (end - p == 1 && list[p] == '*') return 1;
    bool our_weak;
    const char *our;
    size_t our_len, q = 0;
    if (!take_etag(etag, etag_len, &q, &our_weak, &our, &our_len) || q != etag_len) return -EINVAL;
    int matched = 0, tags = 0;
    while (p < end) {
        if (list[p] == ',' || is_ows(list[p])) { /* empty list elements are allowed */
            p++;
            continue;
        }
        bool weak;
        const char *tag;
        size_t tag_len;
        if (!take_etag(list, end, &p, &weak, &tag, &tag_len)) return -EINVAL;
        tags++;
        while (p < end && is_ows(list[p]))
            p++;
        if (p < end && list[p] != ',') return -EINVAL;
        if (tag_len == our_len && memcmp(tag, our, our_len) == 0 &&
            (!strong || (!weak && !our_weak)))
            matched = 1;
    }
    return tags ? matched : -EINVAL;
}

/* ---- Range (RFC 9110 14.1, 14.2) ----------------------------------------------------------- */

/* 1*DIGIT, saturating at UINT64_MAX. Returns false if there is no digit. */
static bool take_number(const char *s, size_t len, size_t *pos, uint64_t *out)
{
    size_t p = *pos;
    uint64_t v = 0;
    while (p < len && s[p] >= '0' && s[p] <= '9') {
        uint64_t d = (uint64_t)(s[p] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        p++;
    }
    if (p == *pos) return false;
    *pos = p;
    *out = v;
    return true;
}

eddy_static_range_t eddy_static_parse_range(const char *s, size_t len, uint64_t size,
                                            uint64_t *start, uint64_t *length)
{
    if (!s) return EDDY_STATIC_RANGE_NONE;
    size_t p = 0;
    while (p < len && is_ows(s[p]))
        p++;
    while (len > p && is_ows(s[len - 1]))
        len--;
    if (len - p < 6 || strncasecmp(s + p, "bytes=", 6) != 0) return EDDY_STATIC_RANGE_NONE;
    p += 6;
    while (p < len && (s[p] == ',' || is_ows(s[p]))) /* empty elements */
        p++;
    bool suffix = p < len && s[p] == '-';
    uint64_t first = 0, last = UINT64_MAX;
    if (suffix) {
        p++;
        if (!take_number(s, len, &p, &last)) return EDDY_STATIC_RANGE_NONE;
    } else {
        if (!take_number(s, len, &p, &first) || p >= len || s[p++] != '-')
            return EDDY_STATIC_RANGE_NONE;
        if (p < len && s[p] >= '0' && s[p] <= '9') {
            take_number(s, len, &p, &last);
            if (last < first) return EDDY_STATIC_RANGE_NONE; /* invalid: ignored */
        }
    }
    /* After one range: only OWS and empty elements, or it is a list. */
    size_t q = p;
    while (q < len && is_ows(s[q]))
        q++;
    if (q < len && s[q] != ',') return EDDY_STATIC_RANGE_NONE; /* malformed */
    while (q < len && (s[q] == ',' || is_ows(s[q])))
        q++;
    if (q < len) return EDDY_STATIC_RANGE_NONE; /* several ranges: the whole file */
    if (suffix) {
        if (last == 0) return EDDY_STATIC_RANGE_UNSATISFIABLE;
        if (size == 0) return EDDY_STATIC_RANGE_NONE;
        *length = last < size ? last : size;
        *start = size - *length;
        return EDDY_STATIC_RANGE_PARTIAL;
    }
    if (first >= size) return EDDY_STATIC_RANGE_UNSATISFIABLE;
    if (last >= size) last = size - 1;
    *start = first;
    *length = last - first + 1;
    return EDDY_STATIC_RANGE_PARTIAL;
}

/* ---- the document root --------------------------------------------------------------------- */

struct eddy_static {
    int root_fd;     /* O_PATH | O_DIRECTORY */
    char *root_real; /* its real path, for the fallback resolver */
    size_t nindex;
    char *index[EDDY_STATIC_MAX_INDEX_FILES];
};

static atomic_bool openat2_missing; /* ENOSYS seen, or forced by a test */

void eddy__static_force_fallback(bool on)
{
    atomic_store(&openat2_missing, on);
}

void eddy_static_options_init(eddy_static_options_t *o)
{
    o->document_root = NULL;
    o->index_files = NULL;
}

void eddy_static_free(eddy_static_t *st)
{
    if (!st) return;
    if (st->root_fd >= 0) close(st->root_fd);
    free(st->root_real);
    for (size_t i = 0; i < st->nindex; i++)
        free(st->index[i]);
    free(st);
}

/* Split "a, b,c" into st->index. */
static int parse_index_list(eddy_static_t *st, const char *list)
{
    const char *s = list;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        size_t n = (size_t)(t - s);
        if (n == 0 || n > NAME_MAX || memchr(s, '/', n) || (n == 1 && s[0] == '.') ||
            (n == 2 && s[0] == '.' && s[1] == '.') || st->nindex == EDDY_STATIC_MAX_INDEX_FILES)
            return -EDDY_EOPTION;
        if (!(st->index[st->nindex] = strndup(s, n))) return -ENOMEM;
        st->nindex++;
        if (!*e) break;
        s = e + 1;
        if (!*s) return -EDDY_EOPTION; /* a trailing comma: an empty name */
    }
    return 0;
}

int eddy_static_new(eddy_static_t **out, const eddy_static_options_t *o)
{
    if (!o || !o->document_root || !o->document_root[0]) return -EDDY_EOPTION;
    eddy_static_t *st = calloc(1, sizeof *st);
    if (!st) return -ENOMEM;
    st->root_fd = -1;
    int rc =
        parse_index_list(st, o->index_files ? o->index_files : EDDY_STATIC_DEFAULT_INDEX_FILES);
    if (rc < 0) goto fail;
    /* Open the canonical path, so the fallback's prefix check compares
     * against the directory actually held. */
    if (!(st->root_real = realpath(o->document_root, NULL))) {
        rc = -errno;
        goto fail;
    }
    st->root_fd = open(st->root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (st->root_fd < 0) {
        rc = -errno;
        goto fail;
    }
    *out = st;
    return 0;
fail:
    eddy_static_free(st);
    return rc;
}

/* ---- resolving a path ---------------------------------------------------------------------- */

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* The decoded path as a path relative to the root ("." for the root), with
 * dot segments removed. Returns 0, or the status to answer (400, 403, 404).
 * *dir says the path ended in '/', "." or "..", so it must name a directory. */
static int normalize(const char *path, size_t len, char *out, size_t cap, bool *dir)
{
    if (!path || len == 0 || path[0] != '/' || memchr(path, '\0', len)) return 400;
    size_t n = 0;
    *dir = false;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t slen = j - i;
        const char *seg = path + i;
        *dir = j < len || slen == 0; /* more follows, or an empty last segment */
        if (slen == 1 && seg[0] == '.') {
            *dir = true;
        } else if (slen == 2 && seg[0] == '.' && seg[1] == '.') {
            if (n == 0) return 403; /* would climb out of the root */
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0) n--; /* the '/' before the removed segment */
            *dir = true;
        } else if (slen > 0) {
            if (n + (n > 0) + slen + 1 > cap) return 404; /* longer than any path */
            if (n > 0) out[n++] = '/';
            memcpy(out + n, seg, slen);
            n += slen;
        }
        i = j + 1;
    }
    *dir = *dir && n > 0;
    if (n == 0) out[n++] = '.';
    out[n] = '\0';
    return 0;
}

/* openat2 beneath the root. Returns the fd or -errno (-ENOSYS: use the
 * fallback). */
static int open_openat2(const eddy_static_t *st, const char *rel)
{
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, st->root_fd, rel, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        /* EAGAIN: a rename raced with the lookup (RESOLVE_BENEATH refuses to
         * guess); trying again is what the man page asks for. */
        if ((errno == EAGAIN && tries < 8) || errno == EINTR) continue;
        return -errno;
    }
}

/* Is path (NUL-terminated) the root or beneath it? */
static bool beneath(const char *root, const char *path)
{
    size_t n = strlen(root);
    if (n == 1) return path[0] == '/'; /* the root is "/" */
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Without openat2: open with O_PATH (which opens nothing for reading, so a
 * device or FIFO outside the root is never touched), check the real path
 * the kernel reports for it, then reopen that very file for reading. */
static int open_fallback(const eddy_static_t *st, const char *rel)
{
    int pfd = openat(st->root_fd, rel, O_PATH | O_CLOEXEC);
    if (pfd < 0) return -errno;
    char link[64], real[PATH_MAX + 1];
    snprintf(link, sizeof link, "/proc/self/fd/%d", pfd);
    ssize_t n = readlink(link, real, PATH_MAX);
    int fd;
    if (n < 0) {
        fd = -EACCES; /* no /proc: fail closed */
    } else {
        real[n] = '\0';
        if (!beneath(st->root_real, real))
            fd = -EXDEV; /* what openat2 says for a path that leads outside */
        else if ((fd = open(link, OPEN_FLAGS)) < 0)
            fd = -errno;
    }
    close(pfd);
    return fd;
}

static int open_beneath(const eddy_static_t *st, const char *rel)
{
    if (!atomic_load(&openat2_missing)) {
        int fd = open_openat2(st, rel);
        if (fd != -ENOSYS) return fd;
        atomic_store(&openat2_missing, true);
    }
    return open_fallback(st, rel);
}

/* The HTTP status for an open failure, or 0 for a system error. */
static int status_for(int err)
{
    switch (-err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return 404;
    case EXDEV: /* RESOLVE_BENEATH: the path leads outside */
    case ELOOP: /* a magic link, or a symlink loop */
    case EACCES:
    case EPERM:
    case ENXIO: /* a socket */
    case ENODEV: return 403;
    default: return 0;
    }
}

/* The functions below return an open fd (>= 0) or a negative value; then
 * *status is the HTTP status to answer with, or 0 when the value is -errno
 * (a system error). */

static int open_file(const eddy_static_t *st, const char *rel, struct stat *sb, int *status)
{
    *status = 0;
    int fd = open_beneath(st, rel);
    if (fd < 0) {
        *status = status_for(fd);
        return fd;
    }
    if (fstat(fd, sb) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* The first index file of directory rel that is a regular file; 403 when
 * there is none. name receives its path. */
static int open_index(const eddy_static_t *st, const char *rel, struct stat *sb, char *name,
                      size_t cap, int *status)
{
    for (size_t i = 0; i < st->nindex; i++) {
        int n = strcmp(rel, ".") == 0 ? snprintf(name, cap, "%s", st->index[i])
                                      : snprintf(name, cap, "%s/%s", rel, st->index[i]);
        if (n < 0 || (size_t)n >= cap) continue; /* cannot exist */
        int fd = open_file(st, name, sb, status);
        if (fd >= 0 && S_ISREG(sb->st_mode)) return fd;
        if (fd >= 0)
            close(fd); /* a directory named index.html, say: try the next */
        else if (*status == 0)
            return fd;
    }
    *status = 403;
    return -1;
}

/* Resolve path into an open regular file; sets resp->st, is_index and the
 * MIME type. */
static int resolve(const eddy_static_t *st, const eddy_http1_str_t *path,
                   eddy_static_response_t *resp, int *status)
{
    char rel[PATH_MAX], index_rel[PATH_MAX];
    bool dir;
    if ((*status = normalize(path->ptr, path->len, rel, sizeof rel - 1, &dir))) return -1;
    if (dir) strcat(rel, "/"); /* the kernel then insists on a directory: ENOTDIR */
    int fd = open_file(st, rel, &resp->st, status);
    if (fd < 0) return fd;
    if (S_ISREG(resp->st.st_mode)) {
        resp->content_type = eddy_static_mime_type(rel, strlen(rel));
        return fd;
    }
    close(fd);
    if (!S_ISDIR(resp->st.st_mode)) { /* FIFO, socket, device */
        *status = 403;
        return -1;
    }
    if (dir) rel[strlen(rel) - 1] = '\0';
    fd = open_index(st, rel, &resp->st, index_rel, sizeof index_rel, status);
    if (fd < 0) return fd;
    resp->is_index = true;
    resp->content_type = eddy_static_mime_type(index_rel, strlen(index_rel));
    return fd;
}

/* ---- the answer ---------------------------------------------------------------------------- */

static bool method_is(const eddy_http1_str_t *m, const char *lit)
{
    size_t n = strlen(lit);
    return m->ptr && m->len == n && memcmp(m->ptr, lit, n) == 0;
}

static bool present(const eddy_http1_str_t *h)
{
    return h->ptr != NULL;
}

static bool date_of(const eddy_http1_str_t *h, time_t *t)
{
    return present(h) && eddy_static_parse_date(h->ptr, h->len, t) == 0;
}

/* RFC 9110 13.2.2 steps 1-4: 0 to go on, or 304 / 412. */
static int preconditions(const eddy_static_request_t *req, const eddy_static_response_t *resp)
{
    const char *etag = resp->etag;
    size_t elen = strlen(etag);
    time_t mtime = resp->st.st_mtim.tv_sec, t;
    if (present(&req->if_match)) {
        if (eddy_static_etag_match(req->if_match.ptr, req->if_match.len, etag, elen, true) != 1)
            return 412;
    } else if (date_of(&req->if_unmodified_since, &t) && mtime > t) {
        return 412;
    }
    int inm = present(&req->if_none_match)
                  ? eddy_static_etag_match(req->if_none_match.ptr, req->if_none_match.len, etag,
                                           elen, false)
                  : -EINVAL;
    if (inm == 1) return 304;
    if (inm == 0) return 0; /* If-None-Match present: If-Modified-Since is not looked at */
    if (date_of(&req->if_modified_since, &t) && mtime <= t) return 304;
    return 0;
}

/* If-Range (RFC 9110 13.1.5): may the Range be used? */
static bool if_range_holds(const eddy_http1_str_t *h, const eddy_static_response_t *resp)
{
    if (!present(h)) return true;
    const char *v = h->ptr;
    size_t len = h->len;
    if ((len > 0 && v[0] == '"') || (len > 1 && v[0] == 'W' && v[1] == '/')) {
        size_t pos = 0;
        bool weak;
        const char *tag;
        size_t tag_len;
        if (!take_etag(v, len, &pos, &weak, &tag, &tag_len) || pos != len || weak) return false;
        return tag_len == strlen(resp->etag) && memcmp(tag, resp->etag, tag_len) == 0;
    }
    time_t t;
    return eddy_static_parse_date(v, len, &t) == 0 && t == resp->st.st_mtim.tv_sec &&
           t < time(NULL);
}

static void set_length(eddy_static_response_t *resp, uint64_t n)
{
    snprintf(resp->content_length, sizeof resp->content_length, "%llu", (unsigned long long)n);
}

static void drop_file(eddy_static_response_t *resp)
{
    eddy_static_response_release(resp);
    resp->length = 0;
    resp->offset = 0;
}

/* A file is open in resp->fd; decide validators, preconditions, range. */
static void answer_file(const eddy_static_request_t *req, eddy_static_response_t *resp, bool head)
{
    uint64_t size = (uint64_t)resp->st.st_size;
    resp->found = true;
    eddy_static_make_etag(&resp->st, resp->etag);
    eddy_http_date(resp->st.st_mtim.tv_sec, resp->last_modified);
    int status = preconditions(req, resp);
    if (status) {
        resp->status = status;
        resp->content_type = NULL;
        if (status == 412) resp->etag[0] = resp->last_modified[0] = '\0';
        drop_file(resp);
        return;
    }
    resp->status = 200;
    resp->accept_ranges = true;
    resp->offset = 0;
    resp->length = size;
    uint64_t start = 0, length = 0;
    eddy_static_range_t r = EDDY_STATIC_RANGE_NONE;
    if (!head && present(&req->range) && if_range_holds(&req->if_range, resp))
        r = eddy_static_parse_range(req->range.ptr, req->range.len, size, &start, &length);
    if (r == EDDY_STATIC_RANGE_UNSATISFIABLE) {
        resp->status = 416;
        resp->content_type = NULL;
        resp->accept_ranges = false;
        resp->etag[0] = resp->last_modified[0] = '\0';
        snprintf(resp->content_range, sizeof resp->content_range, "bytes */%llu",
                 (unsigned long long)size);
        drop_file(resp);
        return;
    }
    if (r == EDDY_STATIC_RANGE_PARTIAL) {
        resp->status = 206;
        resp->offset = (off_t)start;
        resp->length = length;
        snprintf(resp->content_range, sizeof resp->content_range, "bytes %llu-%llu/%llu",
                 (unsigned long long)start, (unsigned long long)(start + length - 1),
                 (unsigned long long)size);
    }
    set_length(resp, resp->length);
    if (head) drop_file(resp);
}

static void response_init(eddy_static_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->fd = -1;
}

int eddy_static_serve(const eddy_static_t *st, const eddy_static_request_t *req,
                      eddy_static_response_t *resp)
{
    response_init(resp);
    bool head = method_is(&req->method, "HEAD");
    if (!head && !method_is(&req->method, "GET")) {
        resp->status = 405;
        resp->allow = "GET, HEAD";
        return 0;
    }
    int status;
    int fd = resolve(st, &req->path, resp, &status);
    if (fd < 0) {
        response_init(resp);
        resp->status = status ? status : 500;
        return status ? 0 : fd;
    }
    /* Regular-file reads ignore O_NONBLOCK, but the server may hand the fd to
     * code that does not; it was only there for the open. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int err = -errno;
        close(fd);
        response_init(resp);
        resp->status = 500;
        return err;
    }
    resp->fd = fd;
    answer_file(req, resp, head);
    return 0;
}

void eddy_static_response_release(eddy_static_response_t *resp)
{
    if (resp->fd >= 0) close(resp->fd);
    resp->fd = -1;
}

size_t eddy_static_response_headers(const eddy_static_response_t *resp, eddy_static_header_t *out,
                                    size_t max)
{
    eddy_static_header_t all[EDDY_STATIC_MAX_HEADERS];
    size_t n = 0;
#define ADD_(name, value)                                                                          \
    do {                                                                                           \
        if ((value) && (value)[0] && n < EDDY_STATIC_MAX_HEADERS)                                  \
            all[n++] = (eddy_static_header_t){name, value};                                        \
    } while (0)
    ADD_("Content-Type", resp->content_type);
    ADD_("Content-Length", resp->content_length);
    ADD_("ETag", resp->etag);
    ADD_("Last-Modified", resp->last_modified);
    ADD_("Accept-Ranges", resp->accept_ranges ? "bytes" : NULL);
    ADD_("Content-Range", resp->content_range);
    ADD_("Allow", resp->allow);
#undef ADD_
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = all[i];
    return n < max ? n : max;
}
