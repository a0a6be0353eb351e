/* multipart/form-data: the boundary from Content-Type, bodies shaped as
 * Chrome, Firefox and curl send them, Content-Disposition details, the
 * boundary inside data, every error with its offset, every limit at its
 * edge, and the promise that any split of the input — whole, one byte at a
 * time, random pieces — gives the same events. Each piece is fed from an
 * exact-size allocation, so an over-read shows under ASan. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/multipart.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* ---- a growing string ---------------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        CHECK(b->s != NULL);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_slice(sbuf_t *b, eddy_http1_str_t s)
{
    if (s.ptr)
        sb_add(b, s.ptr, s.len);
    else
        sb_str(b, "-");
}

static void sb_free(sbuf_t *b)
{
    free(b->s);
    *b = (sbuf_t){0};
}

/* ---- feeding a body ------------------------------------------------------------------------ */

enum split { WHOLE, BYTES, SMALL, LARGE };

static size_t piece_size(enum split how, size_t left)
{
    size_t n = left;
    switch (how) {
    case WHOLE: break;
    case BYTES: n = 1; break;
    case SMALL: n = 1 + rng() % 16; break;
    case LARGE: n = 1 + rng() % 700; break;
    }
    return n < left ? n : left;
}

/* Feed body in pieces and describe every event: "[name|filename|type]" at a
 * part's beginning, its data as is, "<end>" at its end, "<done>" for the
 * close delimiter, then "<ok>" from finish, or "!ERROR_NAME@offset". */
static sbuf_t trace(const char *body, size_t len, enum split how,
                    const eddy_multipart_limits_t *limits, const char *boundary)
{
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, boundary, strlen(boundary), limits), 0);
    sbuf_t t = {0};
    sb_str(&t, "");
    bool failed = false;
    const eddy_multipart_part_t *current = NULL;
    for (size_t off = 0; off < len && !failed;) {
        size_t n = piece_size(how, len - off);
        char *piece = malloc(n);
        CHECK(piece != NULL);
        memcpy(piece, body + off, n);
        const char *buf = piece;
        size_t left = n;
        for (;;) {
            eddy_multipart_event_t ev;
            ssize_t used = eddy_multipart_parse(p, buf, left, &ev);
            if (used < 0) {
                CHECK_EQ(used, -EDDY_EMULTIPART);
                failed = true;
                break;
            }
            CHECK((size_t)used <= left);
            buf += used;
            left -= (size_t)used;
            switch (ev.type) {
            case EDDY_MULTIPART_NONE: CHECK_EQ(left, 0); break;
            case EDDY_MULTIPART_PART_BEGIN:
                CHECK(ev.part != NULL && ev.part->name.ptr != NULL);
                current = ev.part;
                sb_str(&t, "[");
                sb_slice(&t, ev.part->name);
                sb_str(&t, "|");
                sb_slice(&t, ev.part->filename);
                sb_str(&t, "|");
                sb_slice(&t, ev.part->content_type);
                sb_str(&t, "]");
                break;
            case EDDY_MULTIPART_PART_DATA:
                CHECK(ev.len > 0 && ev.part == current);
                sb_add(&t, ev.data, ev.len);
                break;
            case EDDY_MULTIPART_PART_END:
                CHECK(ev.part == current && current != NULL);
                sb_str(&t, "<end>");
                current = NULL;
                break;
            case EDDY_MULTIPART_BODY_END:
                CHECK(current == NULL);
                sb_str(&t, "<done>");
                break;
            }
            if (ev.type == EDDY_MULTIPART_NONE) break;
        }
        free(piece);
        off += n;
    }
    int rc = failed ? -EDDY_EMULTIPART : eddy_multipart_finish(p);
    if (rc == 0) {
        CHECK_EQ(eddy_multipart_error(p), EDDY_MULTIPART_ERR_NONE);
        sb_str(&t, "<ok>");
    } else {
        CHECK_EQ(rc, -EDDY_EMULTIPART);
        char e[128];
        snprintf(e, sizeof e, "!%s@%llu", eddy_multipart_error_name(eddy_multipart_error(p)),
                 (unsigned long long)eddy_multipart_error_offset(p));
        sb_str(&t, e);
        /* Every later call fails the same way. */
        eddy_multipart_event_t ev;
        CHECK_EQ(eddy_multipart_parse(p, "x", 1, &ev), -EDDY_EMULTIPART);
        CHECK_EQ(eddy_multipart_finish(p), -EDDY_EMULTIPART);
    }
    eddy_multipart_free(p);
    return t;
}

static bool sb_eq(const sbuf_t *a, const char *s, size_t len)
{
    return a->len == len && memcmp(a->s, s, len) == 0;
}

/* The same trace for every split; returns it (sb_free it). */
static sbuf_t trace_all(const char *body, size_t len, const eddy_multipart_limits_t *limits,
                        const char *boundary)
{
    sbuf_t whole = trace(body, len, WHOLE, limits, boundary);
    static const enum split others[] = {BYTES, SMALL, LARGE, SMALL, LARGE};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        sbuf_t t = trace(body, len, others[i], limits, boundary);
        if (!sb_eq(&t, whole.s, whole.len)) {
            fprintf(stderr, "split %d differs:\n  whole: %s\n  split: %s\n", (int)others[i],
                    whole.s, t.s);
            CHECK(!"traces differ");
        }
        sb_free(&t);
    }
    return whole;
}

static void expect_trace_n(const char *boundary, const char *body, size_t len,
                           const eddy_multipart_limits_t *limits, const char *expected,
                           size_t expected_len)
{
    sbuf_t t = trace_all(body, len, limits, boundary);
    if (!sb_eq(&t, expected, expected_len)) {
        fprintf(stderr, "expected: %s\n     got: %s\n", expected, t.s);
        CHECK(!"unexpected trace");
    }
    sb_free(&t);
}

static void expect_trace(const char *boundary, const char *body, size_t len,
                         const eddy_multipart_limits_t *limits, const char *expected)
{
    expect_trace_n(boundary, body, len, limits, expected, strlen(expected));
}

/* ---- the boundary -------------------------------------------------------------------------- */

/* expect: an error, or > 0 for success, when the result must be boundary. */
static void check_boundary(const char *ct, int expect, const char *boundary)
{
    char out[EDDY_MULTIPART_BOUNDARY_MAX + 1];
    if (expect > 0) expect = (int)strlen(boundary);
    int rc = eddy_multipart_boundary(ct, strlen(ct), out);
    if (rc != expect) fprintf(stderr, "Content-Type: %s → %d\n", ct, rc);
    CHECK_EQ(rc, expect);
    if (rc > 0) CHECK_STR(out, boundary);
}

static void test_boundary(void)
{
    const int T = -EDDY_EMULTIPART_TYPE, B = -EDDY_EMULTIPART_BOUNDARY;
    check_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", 38,
                   "----WebKitFormBoundary7MA4YWxkTrZu0gW");
    check_boundary("multipart/form-data; boundary=------------------------d74496d66958873e", 40,
                   "------------------------d74496d66958873e");
    check_boundary("multipart/form-data; boundary=\"simple boundary\"", 15, "simple boundary");
    check_boundary("multipart/form-data; boundary=\"a\\bc\"", 3, "abc"); /* quoted-pair */
    check_boundary("Multipart/Form-Data; BOUNDARY=abc", 3, "abc");
    check_boundary("multipart/form-data; charset=utf-8; boundary=abc; x=\"y;z\"", 3, "abc");
    check_boundary("  multipart/form-data ;boundary=abc ;; ", 3, "abc");
    check_boundary("multipart/form-data;boundary=\"'()+_,-./:=? x\"", 15, "'()+_,-./:=? x");
    char ct[200], b70[71];
    memset(b70, 'b', 70);
    b70[70] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    check_boundary(ct, 70, b70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sb", b70);
    check_boundary(ct, B, NULL); /* 71 */
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s \"", b70);
    check_boundary(ct, B, NULL);
    check_boundary("text/plain; boundary=abc", T, NULL);
    check_boundary("multipart/mixed; boundary=abc", T, NULL);
    check_boundary("multipart/form-datax; boundary=abc", T, NULL);
    check_boundary("multipart; boundary=abc", T, NULL);
    check_boundary("", T, NULL);
    check_boundary("multipart/form-data", B, NULL);
    check_boundary("multipart/form-data;", B, NULL);
    check_boundary("multipart/form-data; charset=utf-8", B, NULL);
    check_boundary("multipart/form-data; boundary=", B, NULL);
    check_boundary("multipart/form-data; boundary=\"\"", B, NULL);
    check_boundary("multipart/form-data; boundary=a; boundary=a", B, NULL);
    check_boundary("multipart/form-data; boundary=\"abc \"", B, NULL); /* ends in a space */
    check_boundary("multipart/form-data; boundary=ab$c", B, NULL);     /* token, not bchars */
    check_boundary("multipart/form-data; boundary=\"ab@c\"", B, NULL);
    check_boundary("multipart/form-data; boundary=\"abc", B, NULL); /* unterminated */
    check_boundary("multipart/form-data; boundary=abc def", B, NULL);
    check_boundary("multipart/form-data; boundary = abc", B, NULL); /* no space around "=" */
    check_boundary("multipart/form-data x; boundary=abc", T, NULL);
    check_boundary("multipart/form-data; =abc; boundary=abc", T, NULL);
    check_boundary("multipart/form-data; x=\"\x01\"; boundary=abc", T, NULL);
    char out[EDDY_MULTIPART_BOUNDARY_MAX + 1];
    CHECK_EQ(eddy_multipart_boundary(NULL, 0, out), T);
    /* A long quoted parameter elsewhere is fine; a long quoted boundary is not. */
    char longct[1200] = "multipart/form-data; x=\"";
    memset(longct + strlen(longct), 'y', 1000);
    strcpy(longct + 24 + 1000, "\"; boundary=abc");
    check_boundary(longct, 3, "abc");
    memcpy(longct, "multipart/form-data; boundary=\"", 31);
    memset(longct + 31, 'y', 1000);
    strcpy(longct + 31 + 1000, "\"");
    check_boundary(longct, B, NULL);
}

static void test_new_and_limits(void)
{
    eddy_multipart_t *p = NULL;
    eddy_multipart_limits_t l;
    eddy_multipart_limits_init(&l);
    CHECK_EQ(l.max_header_size, 8192);
    CHECK_EQ(l.max_headers, 16);
    CHECK_EQ(l.max_parts, 1000);
    CHECK_EQ(eddy_multipart_new(&p, S("ab c"), NULL), 0);
    CHECK_EQ(eddy_multipart_error(p), EDDY_MULTIPART_ERR_NONE);
    eddy_multipart_free(p);
    eddy_multipart_free(NULL);
    CHECK_EQ(eddy_multipart_new(&p, S(""), NULL), -EDDY_EMULTIPART_BOUNDARY);
    CHECK_EQ(eddy_multipart_new(&p, S("abc "), NULL), -EDDY_EMULTIPART_BOUNDARY);
    CHECK_EQ(eddy_multipart_new(&p, S("a\r\nb"), NULL), -EDDY_EMULTIPART_BOUNDARY);
    CHECK_EQ(eddy_multipart_new(&p, NULL, 3, NULL), -EDDY_EMULTIPART_BOUNDARY);
    char b71[71];
    memset(b71, 'x', sizeof b71);
    CHECK_EQ(eddy_multipart_new(&p, b71, 71, NULL), -EDDY_EMULTIPART_BOUNDARY);
    CHECK_EQ(eddy_multipart_new(&p, b71, 70, NULL), 0);
    eddy_multipart_free(p);
    eddy_multipart_limits_t bad = l;
    bad.max_header_size = 0;
    CHECK_EQ(eddy_multipart_new(&p, S("x"), &bad), -EDDY_EOPTION);
    bad = l;
    bad.max_headers = 0;
    CHECK_EQ(eddy_multipart_new(&p, S("x"), &bad), -EDDY_EOPTION);
    bad = l;
    bad.max_parts = 0;
    CHECK_EQ(eddy_multipart_new(&p, S("x"), &bad), -EDDY_EOPTION);
    bad = l;
    bad.max_header_size = SIZE_MAX;
    CHECK_EQ(eddy_multipart_new(&p, S("x"), &bad), -EDDY_EOPTION);
    bad = l;
    bad.max_headers = SIZE_MAX / 2;
    CHECK_EQ(eddy_multipart_new(&p, S("x"), &bad), -EDDY_EOPTION);
}

static void test_error_names(void)
{
    CHECK_STR(eddy_multipart_error_name(EDDY_MULTIPART_ERR_TRUNCATED),
              "EDDY_MULTIPART_ERR_TRUNCATED");
    CHECK_STR(eddy_multipart_error_str(EDDY_MULTIPART_ERR_NONE), "no error");
    for (int e = 0; e < EDDY_MULTIPART_ERR_COUNT_; e++) {
        CHECK(strncmp(eddy_multipart_error_name(e), "EDDY_MULTIPART_ERR_", 19) == 0);
        CHECK(strlen(eddy_multipart_error_str(e)) > 5);
        for (int f = 0; f < e; f++)
            CHECK(strcmp(eddy_multipart_error_str(e), eddy_multipart_error_str(f)) != 0);
    }
    CHECK(eddy_multipart_error_name(EDDY_MULTIPART_ERR_COUNT_) != NULL);
    CHECK(eddy_multipart_error_str((eddy_multipart_error_t)-1) != NULL);
    CHECK_STR(eddy_strerror(-EDDY_EMULTIPART), "malformed or refused multipart body");
    CHECK_STR(eddy_err_name(-EDDY_EUPLOAD_TOO_BIG), "EDDY_EUPLOAD_TOO_BIG");
}

/* ---- real bodies --------------------------------------------------------------------------- */

/* Chrome: a text field, a file with binary content (NUL, CR, LF, dashes,
 * "--" + the boundary without the CRLF before it, and CRLF "--" + a prefix
 * of the boundary: all of it data), and an empty file input. */
static void test_chrome_body(void)
{
    const char *b = "----WebKitFormBoundaryePkpFF7tjBAqx29L";
#define FILE_DATA_                                                                                 \
    "\x7f"                                                                                         \
    "ELF\x00\x01\r\n\r\n--\r\n-\r\r\nx------WebKitFormBoundaryePkpFF7tjBAqx29L\x00\r\n--"          \
    "----WebKitFormBoundary\r\n\r\n"
    static const char body[] =
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"MAX_FILE_SIZE\"\r\n"
        "\r\n"
        "100000\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"uploadedfile\"; filename=\"hello.o\"\r\n"
        "Content-Type: application/x-object\r\n"
        "\r\n" FILE_DATA_ "\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L--\r\n";
    static const char expect[] = "[MAX_FILE_SIZE|-|-]100000<end>"
                                 "[uploadedfile|hello.o|application/x-object]" FILE_DATA_ "<end>"
                                 "[empty||application/octet-stream]<end><done><ok>";
#undef FILE_DATA_
    expect_trace_n(b, body, sizeof body - 1, NULL, expect, sizeof expect - 1);
    /* All at once, data is handed out from the caller's buffer. */
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, b, strlen(b), NULL), 0);
    const char *buf = body;
    size_t left = sizeof body - 1, runs = 0;
    for (;;) {
        eddy_multipart_event_t ev;
        ssize_t n = eddy_multipart_parse(p, buf, left, &ev);
        CHECK(n >= 0);
        buf += n;
        left -= (size_t)n;
        if (ev.type == EDDY_MULTIPART_NONE) break;
        if (ev.type == EDDY_MULTIPART_PART_DATA) {
            CHECK(ev.data >= body && ev.data + ev.len <= body + sizeof body - 1);
            runs++;
        }
    }
    CHECK_EQ(runs, 2); /* one per part with data: CRs that start no delimiter do not cut */
    CHECK_EQ(eddy_multipart_finish(p), 0);
    eddy_multipart_free(p);
}

/* Firefox: a preamble-free body with two text fields (one empty, one with
 * non-ASCII UTF-8 and a %22 for a quote in the name, as HTML encodes it) and
 * a text file. */
static void test_firefox_body(void)
{
    const char *b = "---------------------------9051914041544843365972754266";
    static const char body[] =
        "-----------------------------9051914041544843365972754266\r\n"
        "Content-Disposition: form-data; name=\"text\"\r\n"
        "\r\n"
        "text default \xc3\xa9t\xc3\xa9\r\n"
        "-----------------------------9051914041544843365972754266\r\n"
        "Content-Disposition: form-data; name=\"a%22b\"\r\n"
        "\r\n"
        "\r\n"
        "-----------------------------9051914041544843365972754266\r\n"
        "Content-Disposition: form-data; name=\"file1\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Content of a.txt.\n\r\n"
        "-----------------------------9051914041544843365972754266--\r\n";
    expect_trace(b, body, sizeof body - 1, NULL,
                 "[text|-|-]text default \xc3\xa9t\xc3\xa9<end>"
                 "[a%22b|-|-]<end>"
                 "[file1|a.txt|text/plain]Content of a.txt.\n<end><done><ok>");
}

/* curl -F name=value -F file=@a.html: a 24-dash boundary, a body without a
 * final CRLF after the close delimiter in some versions (both accepted). */
static void test_curl_body(void)
{
    const char *b = "------------------------d74496d66958873e";
    static const char body[] =
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"name\"\r\n"
        "\r\n"
        "value\r\n"
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.html\"\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<!DOCTYPE html><title>Content of a.html.</title>\n"
        "\r\n"
        "--------------------------d74496d66958873e--\r\n";
    const char *expect = "[name|-|-]value<end>"
                         "[file|a.html|text/html]<!DOCTYPE html><title>Content of "
                         "a.html.</title>\n<end><done><ok>";
    expect_trace(b, body, sizeof body - 1, NULL, expect);
    expect_trace(b, body, sizeof body - 3, NULL, expect); /* no CRLF at the end */
}

/* ---- framing ------------------------------------------------------------------------------- */

static void test_preamble_epilogue(void)
{
    static const char body[] = "This is the preamble. It is to be ignored --b\r\n"
                               "-b\r\n--\r\n"
                               "\r\n--b\r\n"
                               "Content-Disposition: form-data; name=a\r\n\r\n"
                               "1\r\n--b--\r\n"
                               "This is the epilogue. \r\n--b\r\nIt is also to be ignored.";
    expect_trace("b", body, sizeof body - 1, NULL, "[a|-|-]1<end><done><ok>");
    /* The body may start with CRLF before its first delimiter, or with none. */
    expect_trace("b", S("\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--"),
                 NULL, "[a|-|-]x<end><done><ok>");
    /* A preamble that ends in CR, and CRs before the real delimiter. */
    expect_trace("b", S("\r\r\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\r\n--b--"),
                 NULL, "[a|-|-]\r<end><done><ok>");
    /* The delimiter followed by garbage is an error in the preamble too. */
    expect_trace("b", S("preamble\r\n--bx\r\n--b--"), NULL, "!EDDY_MULTIPART_ERR_DELIMITER@13");
    /* No parts at all: an empty form. */
    expect_trace("b", S("--b--\r\n"), NULL, "<done><ok>");
    expect_trace("b", S("--b--"), NULL, "<done><ok>");
}

static void test_boundary_in_data(void)
{
    const char *head = "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n";
    struct {
        const char *data, *expect;
    } cases[] = {
        {"--XyZ", "--XyZ"},                 /* no CRLF before it */
        {"a--XyZ--b", "a--XyZ--b"},         /* likewise */
        {"\r\n--Xy", "\r\n--Xy"},           /* a prefix at the end */
        {"\r\n--XyA\r\n", "\r\n--XyA\r\n"}, /* a prefix, then other bytes */
        {"\r\n-", "\r\n-"},                 /* shorter prefixes */
        {"\r\n\r\n", "\r\n\r\n"},           /* only the last CRLF is the delimiter's */
        {"\r\r\n-\r\n--\r\n--X", "\r\r\n-\r\n--\r\n--X"},
        {"\n--XyZ", "\n--XyZ"}, /* LF only: not a delimiter */
        {"\r--XyZ", "\r--XyZ"}, /* CR only */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256], expect[256];
        snprintf(body, sizeof body, "%s%s\r\n--XyZ--", head, cases[i].data);
        snprintf(expect, sizeof expect, "[f|-|-]%s<end><done><ok>", cases[i].expect);
        expect_trace("XyZ", body, strlen(body), NULL, expect);
    }
    /* The delimiter itself followed by other bytes is no delimiter at all,
     * and no data either: the sender chose a boundary that occurs. */
    char body[256];
    snprintf(body, sizeof body, "%sab\r\n--XyZW\r\n--XyZ--", head);
    char expect[64];
    snprintf(expect, sizeof expect, "[f|-|-]ab!EDDY_MULTIPART_ERR_DELIMITER@%zu",
             strlen(head) + 2 + 7);
    expect_trace("XyZ", body, strlen(body), NULL, expect);
}

static void test_padding(void)
{
    const char *part = "Content-Disposition: form-data; name=a\r\n\r\nv\r\n";
    char body[512];
    snprintf(body, sizeof body, "--b \t \r\n%s--b\t\r\n%s--b--", part, part);
    expect_trace("b", body, strlen(body), NULL, "[a|-|-]v<end>[a|-|-]v<end><done><ok>");
    char pad[80];
    memset(pad, ' ', 64);
    pad[64] = '\0';
    snprintf(body, sizeof body, "--b%s\r\n%s--b--", pad, part);
    expect_trace("b", body, strlen(body), NULL, "[a|-|-]v<end><done><ok>");
    snprintf(body, sizeof body, "--b%s \r\n%s--b--", pad, part);
    expect_trace("b", body, strlen(body), NULL, "!EDDY_MULTIPART_ERR_DELIMITER@67");
}

/* Many parts of random bytes chosen to resemble the delimiter, in random
 * splits: each part's data comes back exactly. */
static void test_random_bodies(void)
{
    const char *boundary = "--=_b0und";
    const char alphabet[] = "\r\n-=_b0und\r\r\nx";
    for (int round = 0; round < 40; round++) {
        sbuf_t body = {0}, expect = {0};
        sb_str(&body, "preamble\r\n");
        sb_str(&expect, "");
        int parts = 1 + (int)(rng() % 6);
        for (int i = 0; i < parts; i++) {
            char data[3000];
            size_t n = rng() % sizeof data;
            for (;;) {
                for (size_t k = 0; k < n; k++)
                    data[k] = (rng() % 4) ? alphabet[rng() % (sizeof alphabet - 1)]
                                          : (char)(rng() & 0xff);
                /* The delimiter must not occur in a part (RFC 2046). */
                char delim[32];
                int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
                if (!memmem(data, n, delim, (size_t)dl)) break;
                n = n ? n - 1 : 0; /* try again, a little shorter */
            }
            char head[160];
            snprintf(head, sizeof head,
                     "--%s\r\nContent-Disposition: form-data; name=\"p%d\"; filename=\"f%d\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     boundary, i, i);
            sb_str(&body, i ? "\r\n" : "");
            sb_str(&body, head);
            sb_add(&body, data, n);
            char e[64];
            snprintf(e, sizeof e, "[p%d|f%d|application/octet-stream]", i, i);
            sb_str(&expect, e);
            sb_add(&expect, data, n);
            sb_str(&expect, "<end>");
        }
        sb_str(&body, "\r\n--");
        sb_str(&body, boundary);
        sb_str(&body, "--\r\nepilogue");
        sb_str(&expect, "<done><ok>");
        expect_trace_n(boundary, body.s, body.len, NULL, expect.s, expect.len);
        sb_free(&body);
        sb_free(&expect);
    }
}

/* ---- headers and Content-Disposition ------------------------------------------------------- */

/* The trace of a body with one part with these header lines (sb_free it). */
static sbuf_t one_part(const char *headers, const eddy_multipart_limits_t *l)
{
    char body[9000];
    int n = snprintf(body, sizeof body, "--b\r\n%s\r\ndata\r\n--b--", headers);
    CHECK(n > 0 && (size_t)n < sizeof body);
    return trace_all(body, (size_t)n, l, "b");
}

static void expect_part(const char *headers, const char *expect)
{
    sbuf_t t = one_part(headers, NULL);
    char want[600];
    if (expect[0] == '!')
        snprintf(want, sizeof want, "%s", expect);
    else
        snprintf(want, sizeof want, "%sdata<end><done><ok>", expect);
    if (strcmp(t.s, want) != 0) {
        fprintf(stderr, "headers: %s\nexpected: %s\n     got: %s\n", headers, want, t.s);
        CHECK(!"unexpected part");
    }
    sb_free(&t);
}

static void test_disposition(void)
{
    expect_part("Content-Disposition: form-data; name=\"a\\\"b\\\\c\"\r\n", "[a\"b\\c|-|-]");
    expect_part("Content-Disposition: form-data; name=field1\r\n", "[field1|-|-]");
    expect_part("content-disposition: FORM-DATA; NAME=\"x\"; FileName=\"y z.txt\"\r\n",
                "[x|y z.txt|-]");
    expect_part("Content-Disposition: form-data; name=\"\"\r\n", "[|-|-]");
    expect_part("Content-Disposition: form-data; name=\"a\"; foo=bar; baz=\"q;u\"\r\n", "[a|-|-]");
    expect_part("Content-Disposition: form-data ; name=\"a\" ;\r\n", "[a|-|-]");
    expect_part("Content-Disposition:form-data;name=a;filename=b\r\n", "[a|b|-]");
    expect_part("Content-Disposition: \tform-data; name=\"\xc3\xa9\"\t \r\n", "[\xc3\xa9|-|-]");
    /* filename* (RFC 5987) wins over filename, in either order. */
    expect_part("Content-Disposition: form-data; name=f; filename=\"EURO rates.txt\"; "
                "filename*=UTF-8''%e2%82%ac%20rates.txt\r\n",
                "[f|\xe2\x82\xac rates.txt|-]");
    expect_part("Content-Disposition: form-data; name=f; filename*=utf-8'en'%e2%82%ac; "
                "filename=\"EURO\"\r\n",
                "[f|\xe2\x82\xac|-]");
    expect_part("Content-Disposition: form-data; name=f; filename*=ISO-8859-1''%A3%20rates\r\n",
                "[f|\xc2\xa3 rates|-]");
    /* Another charset is ignored: filename if there is one. */
    expect_part("Content-Disposition: form-data; name=f; filename*=KOI8-R''%C1; filename=a\r\n",
                "[f|a|-]");
    expect_part("Content-Disposition: form-data; name=f; filename*=KOI8-R''%C1\r\n", "[f|-|-]");
    const char *D = "!EDDY_MULTIPART_ERR_DISPOSITION@";
    const char *F = "!EDDY_MULTIPART_ERR_FILENAME@";
    struct {
        const char *value, *err;
    } bad[] = {
        {"attachment; name=a", D},
        {"form-data", D},
        {"form-data; filename=a", D},
        {"form-data; name=a; name=b", D},
        {"form-data; name=a; filename=b; FILENAME=c", D},
        {"form-data; name=", D},
        {"form-data; name=\"a", D},
        {"form-data; name=a b", D},
        {"form-data name=a", D},
        {"form-data; name=\"a\"x", D},
        {"form-data; name=\"a\\", D},
        {"form-data; =a; name=b", D},
        {"form-data; name=a; filename*=\"UTF-8''a\"", D},
        {"form-data; name=a; filename*=UTF-8''a; filename*=UTF-8''b", D},
        {"form-data; name=a; filename*=UTF-8''%zz", F},
        {"form-data; name=a; filename*=UTF-8''%4", F},
        {"form-data; name=a; filename*=UTF-8''%00", F},
        {"form-data; name=a; filename*=UTF-8'a", F},
        {"form-data; name=a; filename*=''a", F},
        {"form-data; name=a; filename*=UTF-8'e_n'a", F},
        {"form-data; name=a; filename*=UTF-8''a*b", F},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char h[200], want[100];
        snprintf(h, sizeof h, "Content-Disposition: %s\r\n", bad[i].value);
        snprintf(want, sizeof want, "%s%d", bad[i].err, 5 + 21); /* at the value */
        expect_part(h, want);
    }
}

static void test_headers(void)
{
    /* Every header is reported, values trimmed; Content-Type is found. */
    static const char body[] = "--b\r\n"
                               "X-Custom:  some value \t\r\n"
                               "Content-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n"
                               "Content-Type: image/png\r\n"
                               "Content-Transfer-Encoding: binary\r\n"
                               "\r\n"
                               "PNG\r\n--b--";
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, S("b"), NULL), 0);
    eddy_multipart_event_t ev;
    const char *buf = body;
    size_t left = sizeof body - 1;
    ssize_t n = eddy_multipart_parse(p, buf, left, &ev);
    CHECK_EQ(ev.type, EDDY_MULTIPART_PART_BEGIN);
    const eddy_multipart_part_t *part = ev.part;
    CHECK_EQ(part->index, 0);
    CHECK_EQ(part->num_headers, 4);
    CHECK(part->headers[0].name.len == 8 && memcmp(part->headers[0].name.ptr, "X-Custom", 8) == 0);
    CHECK(part->headers[0].value.len == 10 &&
          memcmp(part->headers[0].value.ptr, "some value", 10) == 0);
    CHECK(part->headers[1].value.len == 37 && /* raw, still quoted */
          memcmp(part->headers[1].value.ptr, "form-data; name=\"f\"; filename=\"x.bin\"", 37) == 0);
    CHECK(part->content_type.len == 9 && memcmp(part->content_type.ptr, "image/png", 9) == 0);
    buf += n, left -= (size_t)n;
    n = eddy_multipart_parse(p, buf, left, &ev);
    CHECK_EQ(ev.type, EDDY_MULTIPART_PART_DATA);
    buf += n, left -= (size_t)n;
    n = eddy_multipart_parse(p, buf, left, &ev);
    CHECK_EQ(ev.type, EDDY_MULTIPART_PART_END);
    /* Still valid at its PART_END. */
    CHECK(ev.part == part && part->filename.len == 5 &&
          memcmp(part->filename.ptr, "x.bin", 5) == 0);
    buf += n, left -= (size_t)n;
    n = eddy_multipart_parse(p, buf, left, &ev);
    CHECK_EQ(ev.type, EDDY_MULTIPART_BODY_END);
    CHECK_EQ((size_t)n, left);
    /* Epilogue bytes are consumed quietly; len 0 is harmless. */
    CHECK_EQ(eddy_multipart_parse(p, S("more epilogue"), &ev), 13);
    CHECK_EQ(ev.type, EDDY_MULTIPART_NONE);
    CHECK_EQ(eddy_multipart_parse(p, NULL, 0, &ev), 0);
    CHECK_EQ(eddy_multipart_finish(p), 0);
    eddy_multipart_free(p);

    /* Parts are numbered. */
    expect_trace("b",
                 S("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                   "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--b--"),
                 NULL, "[a|-|-]1<end>[b|-|-]2<end><done><ok>");
}

/* ---- every error --------------------------------------------------------------------------- */

static void test_errors(void)
{
    struct {
        const char *body, *expect;
    } cases[] = {
        {"", "!EDDY_MULTIPART_ERR_NO_DELIMITER@0"},
        {"hello world", "!EDDY_MULTIPART_ERR_NO_DELIMITER@11"},
        {"--wrong\r\n", "!EDDY_MULTIPART_ERR_NO_DELIMITER@9"},
        {"--b", "!EDDY_MULTIPART_ERR_TRUNCATED@3"},
        {"--b\r\n", "!EDDY_MULTIPART_ERR_TRUNCATED@5"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n", "!EDDY_MULTIPART_ERR_TRUNCATED@45"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nabc",
         "[a|-|-]abc!EDDY_MULTIPART_ERR_TRUNCATED@50"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--b",
         "[a|-|-]abc!EDDY_MULTIPART_ERR_TRUNCATED@55"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--b-",
         "[a|-|-]abc!EDDY_MULTIPART_ERR_TRUNCATED@56"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--",
         "[a|-|-]abc!EDDY_MULTIPART_ERR_TRUNCATED@54"},
        {"--b-x", "!EDDY_MULTIPART_ERR_DELIMITER@4"},
        {"--bX\r\n", "!EDDY_MULTIPART_ERR_DELIMITER@3"},
        {"--b x\r\n", "!EDDY_MULTIPART_ERR_DELIMITER@4"},
        {"--b \n", "!EDDY_MULTIPART_ERR_NEWLINE@4"},
        {"--b\n", "!EDDY_MULTIPART_ERR_NEWLINE@3"},
        {"--b\rX", "!EDDY_MULTIPART_ERR_NEWLINE@3"},
        {"--b\r\n\n", "!EDDY_MULTIPART_ERR_NEWLINE@5"},
        {"--b\r\nContent-Disposition: form-data; name=a\n\r\n", "!EDDY_MULTIPART_ERR_NEWLINE@43"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\n", "!EDDY_MULTIPART_ERR_NEWLINE@45"},
        {"--b\r\nContent-Disposition: form-data;\r name=a\r\n\r\n",
         "!EDDY_MULTIPART_ERR_NEWLINE@36"},
        {"--b\r\nContent Disposition: form-data; name=a\r\n\r\n",
         "!EDDY_MULTIPART_ERR_HEADER_NAME@12"},
        {"--b\r\nContent-Disposition : form-data; name=a\r\n\r\n",
         "!EDDY_MULTIPART_ERR_HEADER_NAME@24"},
        {"--b\r\n: x\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_NAME@5"},
        {"--b\r\nN\xc3\xa4me: x\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_NAME@6"},
        {"--b\r\nContent-Disposition form-data\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_COLON@5"},
        {"--b\r\nJunk\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_COLON@5"},
        {"--b\r\n form-data: x\r\n\r\n", "!EDDY_MULTIPART_ERR_OBS_FOLD@5"},
        {"--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n",
         "!EDDY_MULTIPART_ERR_OBS_FOLD@38"},
        {"--b\r\nX: a\x01z\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_VALUE@9"},
        {"--b\r\nX: a\x7f\r\n\r\n", "!EDDY_MULTIPART_ERR_HEADER_VALUE@9"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n"
         "Content-Disposition: form-data; name=b\r\n\r\n",
         "!EDDY_MULTIPART_ERR_DUPLICATE_HEADER@45"},
        {"--b\r\nContent-Type: a/b\r\nContent-Disposition: form-data; name=a\r\n"
         "content-type: c/d\r\n\r\n",
         "!EDDY_MULTIPART_ERR_DUPLICATE_HEADER@64"},
        {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
         "!EDDY_MULTIPART_ERR_NO_DISPOSITION@33"},
        {"--b\r\n\r\nx\r\n--b--", "!EDDY_MULTIPART_ERR_NO_DISPOSITION@7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_trace("b", cases[i].body, strlen(cases[i].body), NULL, cases[i].expect);
    expect_trace("b", S("--b\r\nX: a\0\r\n\r\n"), NULL, "!EDDY_MULTIPART_ERR_HEADER_VALUE@9");
}

static void test_limits(void)
{
    eddy_multipart_limits_t l;
    eddy_multipart_limits_init(&l);
    /* max_header_size: the section with its final CRLFCRLF. */
    const char *cd = "Content-Disposition: form-data; name=a\r\n";
    char headers[600];
    snprintf(headers, sizeof headers, "%sX: %0*d\r\n", cd, 100, 0);
    size_t section = strlen(headers) + 2;
    l.max_header_size = section;
    sbuf_t t = one_part(headers, &l);
    CHECK_STR(t.s, "[a|-|-]data<end><done><ok>");
    sb_free(&t);
    l.max_header_size = section - 1;
    t = one_part(headers, &l);
    char want[100];
    snprintf(want, sizeof want, "!EDDY_MULTIPART_ERR_HEADER_TOO_LARGE@%zu", 5 + section - 1);
    CHECK_STR(t.s, want);
    sb_free(&t);
    /* The default: 8 KiB. */
    char big[8300];
    snprintf(big, sizeof big, "%sX: %0*d\r\n", cd, 8200, 0);
    t = one_part(big, NULL);
    CHECK_STR(t.s, "!EDDY_MULTIPART_ERR_HEADER_TOO_LARGE@8197");
    sb_free(&t);

    /* max_headers */
    eddy_multipart_limits_init(&l);
    l.max_headers = 3;
    snprintf(headers, sizeof headers, "%sA: 1\r\nB: 2\r\n", cd);
    t = one_part(headers, &l);
    CHECK_STR(t.s, "[a|-|-]data<end><done><ok>");
    sb_free(&t);
    snprintf(headers, sizeof headers, "%sA: 1\r\nB: 2\r\nC: 3\r\n", cd);
    t = one_part(headers, &l);
    CHECK_STR(t.s, "!EDDY_MULTIPART_ERR_TOO_MANY_HEADERS@57");
    sb_free(&t);

    /* max_parts: the part over the limit fails at its delimiter line. */
    eddy_multipart_limits_init(&l);
    l.max_parts = 2;
    const char *two = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                      "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n";
    char body[400];
    snprintf(body, sizeof body, "%s--b--", two);
    expect_trace("b", body, strlen(body), &l, "[a|-|-]1<end>[b|-|-]2<end><done><ok>");
    snprintf(body, sizeof body, "%s--b\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--b--",
             two);
    char expect[100];
    snprintf(expect, sizeof expect, "[a|-|-]1<end>[b|-|-]2!EDDY_MULTIPART_ERR_TOO_MANY_PARTS@%zu",
             strlen(two) + 4);
    expect_trace("b", body, strlen(body), &l, expect);

    /* The default max_parts, 1000, at its edge. */
    sbuf_t many = {0};
    for (int i = 0; i < 1001; i++)
        sb_str(&many, "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n");
    sb_str(&many, "--b--");
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, S("b"), NULL), 0);
    size_t begins = 0;
    const char *buf = many.s;
    size_t left = many.len;
    for (;;) {
        eddy_multipart_event_t ev;
        ssize_t n = eddy_multipart_parse(p, buf, left, &ev);
        if (n < 0) break;
        buf += n, left -= (size_t)n;
        begins += ev.type == EDDY_MULTIPART_PART_BEGIN;
        if (ev.type == EDDY_MULTIPART_NONE) break;
    }
    CHECK_EQ(begins, 1000);
    CHECK_EQ(eddy_multipart_error(p), EDDY_MULTIPART_ERR_TOO_MANY_PARTS);
    eddy_multipart_free(p);
    sb_free(&many);
}

/* A large file part fed in 64 KiB reads arrives in a few large runs, not
 * byte by byte: data is scanned, not stepped. */
static void test_large_part(void)
{
    size_t size = 8u << 20;
    char *body = malloc(size + 200);
    CHECK(body != NULL);
    int h = sprintf(body, "--b\r\nContent-Disposition: form-data; name=f; filename=big\r\n\r\n");
    for (size_t i = 0; i < size; i++)
        body[h + i] = (char)(i * 7 + (i >> 9));
    memcpy(body + h + size, "\r\n--b--", 7);
    size_t len = (size_t)h + size + 7;
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, S("b"), NULL), 0);
    size_t got = 0, runs = 0;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 65536 ? len - off : 65536;
        const char *buf = body + off;
        size_t left = n;
        for (;;) {
            eddy_multipart_event_t ev;
            ssize_t used = eddy_multipart_parse(p, buf, left, &ev);
            CHECK(used >= 0);
            buf += used, left -= (size_t)used;
            if (ev.type == EDDY_MULTIPART_PART_DATA) {
                CHECK(memcmp(ev.data, body + h + got, ev.len) == 0);
                got += ev.len, runs++;
            }
            if (ev.type == EDDY_MULTIPART_NONE) break;
        }
        off += n;
    }
    CHECK_EQ(eddy_multipart_finish(p), 0);
    CHECK_EQ(got, size);
    CHECK(runs < 4 * (size / 65536) + 10); /* a few runs per read */
    eddy_multipart_free(p);
    free(body);
}

int main(void)
{
    RUN(test_boundary);
    RUN(test_new_and_limits);
    RUN(test_error_names);
    RUN(test_chrome_body);
    RUN(test_firefox_body);
    RUN(test_curl_body);
    RUN(test_preamble_epilogue);
    RUN(test_boundary_in_data);
    RUN(test_padding);
    RUN(test_random_bodies);
    RUN(test_disposition);
    RUN(test_headers);
    RUN(test_errors);
    RUN(test_limits);
    RUN(test_large_part);
    return 0;
}
