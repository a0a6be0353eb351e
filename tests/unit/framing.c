/* Stream framing: every mode, every length type, the option parser, and the
 * promise that a stream splits into the same packets however it arrives. */
#include <stdbool.h>
#include <string.h>

#include "eddy/buf.h"
#include "eddy/error.h"
#include "eddy/framing.h"
#include "test.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static eddy_framing_t framing(const char *const *kv)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    for (; kv && kv[0]; kv += 2)
        CHECK_EQ(eddy_framing_set(&f, kv[0], kv[1]), 0);
    CHECK_EQ(eddy_framing_validate(&f), 0);
    return f;
}

/* One call on a fresh state. */
static ssize_t next1(const eddy_framing_t *f, const void *data, size_t len)
{
    eddy_frame_state_t st;
    eddy_frame_state_reset(&st);
    return eddy_frame_next(f, &st, data, len);
}

/* Write v as a length field of the given type. */
static void put_len(char type, char *p, uint64_t v)
{
    unsigned char *u = (unsigned char *)p;
    uint16_t v16 = (uint16_t)v;
    uint32_t v32 = (uint32_t)v;
    switch (type) {
    case 'c':
    case 'C': u[0] = (unsigned char)v; break;
    case 's':
    case 'S': memcpy(p, &v16, 2); break;
    case 'l':
    case 'L': memcpy(p, &v32, 4); break;
    case 'q':
    case 'Q': memcpy(p, &v, 8); break;
    case 'n': u[0] = (unsigned char)(v >> 8), u[1] = (unsigned char)v; break;
    case 'v': u[1] = (unsigned char)(v >> 8), u[0] = (unsigned char)v; break;
    case 'N':
        for (int i = 0; i < 4; i++)
            u[i] = (unsigned char)(v >> (24 - 8 * i));
        break;
    case 'V':
        for (int i = 0; i < 4; i++)
            u[i] = (unsigned char)(v >> (8 * i));
        break;
    default: CHECK(!"bad type");
    }
}

/* What a connection saw: the packets (as offsets into the stream), and how
 * the stream ended (0: the rest is pending, < 0: the error). */
typedef struct trace {
    size_t *off, *len;
    size_t n, cap;
    size_t consumed;
    ssize_t status;
} trace_t;

static void trace_push(trace_t *t, size_t off, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->off = realloc(t->off, t->cap * sizeof *t->off);
        t->len = realloc(t->len, t->cap * sizeof *t->len);
        CHECK(t->off && t->len);
    }
    t->off[t->n] = off;
    t->len[t->n++] = len;
}

static void trace_free(trace_t *t)
{
    free(t->off);
    free(t->len);
    memset(t, 0, sizeof *t);
}

enum { PIECE_ALL, PIECE_ONE, PIECE_RANDOM };

static size_t piece_size(int how, size_t left)
{
    size_t n = how == PIECE_ALL ? left : how == PIECE_ONE ? 1 : 1 + rng() % 97;
    return n < left ? n : left;
}

/* Feeds the stream through an input buffer the way a connection does:
 * append what arrived, take every whole packet, consume it. */
static trace_t feed(const eddy_framing_t *f, const char *s, size_t len, int how)
{
    trace_t t = {0};
    eddy_buf_t b;
    eddy_frame_state_t st;
    eddy_buf_init(&b);
    eddy_frame_state_reset(&st);
    for (size_t pos = 0; pos < len && t.status == 0;) {
        size_t n = piece_size(how, len - pos);
        CHECK_EQ(eddy_buf_append(&b, s + pos, n), 0);
        pos += n;
        for (;;) {
            ssize_t r = eddy_frame_next(f, &st, eddy_buf_data(&b), eddy_buf_len(&b));
            if (r < 0) t.status = r;
            if (r <= 0) break;
            CHECK((size_t)r <= eddy_buf_len(&b));
            CHECK(memcmp(eddy_buf_data(&b), s + t.consumed, (size_t)r) == 0);
            trace_push(&t, t.consumed, (size_t)r);
            t.consumed += (size_t)r;
            eddy_buf_consume(&b, (size_t)r);
            CHECK_EQ(st.scanned, 0);
            CHECK_EQ(st.expected, 0);
        }
    }
    eddy_buf_free(&b);
    return t;
}

static void check_same(const trace_t *a, const trace_t *b)
{
    CHECK_EQ(a->n, b->n);
    CHECK_EQ(a->status, b->status);
    CHECK_EQ(a->consumed, b->consumed);
    for (size_t i = 0; i < a->n; i++) {
        CHECK_EQ(a->off[i], b->off[i]);
        CHECK_EQ(a->len[i], b->len[i]);
    }
}

/* Feeds the stream all at once, a byte at a time and in random pieces and
 * checks all three against the expected packet lengths (NULL: don't know). */
static void check_stream(const eddy_framing_t *f, const char *s, size_t len, const size_t *want,
                         size_t nwant, ssize_t status)
{
    trace_t all = feed(f, s, len, PIECE_ALL);
    trace_t one = feed(f, s, len, PIECE_ONE);
    check_same(&all, &one);
    for (int i = 0; i < 3; i++) {
        trace_t rnd = feed(f, s, len, PIECE_RANDOM);
        check_same(&all, &rnd);
        trace_free(&rnd);
    }
    CHECK_EQ(all.status, status);
    if (want) {
        CHECK_EQ(all.n, nwant);
        for (size_t i = 0; i < nwant; i++)
            CHECK_EQ(all.len[i], want[i]);
    }
    trace_free(&all);
    trace_free(&one);
}

/* Appends n random bytes drawn from alphabet. */
static size_t fill(char *p, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        p[i] = alphabet[rng() % k];
    return n;
}

/* ---- options ---------------------------------------------------------------- */

static void test_init(void)
{
    eddy_framing_t f;
    memset(&f, 0xa5, sizeof f);
    eddy_framing_init(&f);
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
    CHECK_EQ(f.package_max_length, EDDY_PACKAGE_MAX_LENGTH);
    CHECK_EQ(f.package_eof_len, 0);
    CHECK(f.length_fn == NULL);
    CHECK_EQ(eddy_framing_validate(&f), 0);
    eddy_frame_state_t st = {.scanned = 7, .expected = 9, .head_len = 3};
    eddy_frame_state_reset(&st);
    CHECK_EQ(st.scanned, 0);
    CHECK_EQ(st.expected, 0);
}

static void test_length_size(void)
{
    const char *letters = "cCsSnNvVlLqQ";
    const size_t sizes[] = {1, 1, 2, 2, 2, 4, 2, 4, 4, 4, 8, 8};
    for (int i = 0; letters[i]; i++)
        CHECK_EQ(eddy_framing_length_size(letters[i]), sizes[i]);
    CHECK_EQ(eddy_framing_length_size('x'), 0);
    CHECK_EQ(eddy_framing_length_size('\0'), 0);
    CHECK_EQ(eddy_framing_length_size('i'), 0);
}

static void test_set_modes(void)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "open_eof_check", "1"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_EOF_CHECK);
    CHECK_EQ(eddy_framing_set(&f, "open_eof_split", "true"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_EOF_SPLIT);
    /* Turning off a mode that is not current changes nothing. */
    CHECK_EQ(eddy_framing_set(&f, "open_eof_check", "off"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_EOF_SPLIT);
    CHECK_EQ(eddy_framing_set(&f, "open_eof_split", "No"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
    CHECK_EQ(eddy_framing_set(&f, "open_length_check", "YES"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_LENGTH);
    CHECK_EQ(eddy_framing_set(&f, "open_length_check", "0"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
    CHECK_EQ(eddy_framing_set(&f, "open_length_check", "on"), 0);
    CHECK_EQ(eddy_framing_set(&f, "open_length_check", "false"), 0);
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
    const char *bad[] = {"", "2", "tru", "yes ", " 1", "-1", "enabled"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(eddy_framing_set(&f, "open_eof_check", bad[i]), -EDDY_EOPTION);
        CHECK_EQ(eddy_framing_set(&f, "open_eof_split", bad[i]), -EDDY_EOPTION);
        CHECK_EQ(eddy_framing_set(&f, "open_length_check", bad[i]), -EDDY_EOPTION);
    }
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
}

static void check_eof(const char *value, const char *want, size_t len)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "package_eof", value), 0);
    CHECK_EQ(f.package_eof_len, len);
    CHECK(memcmp(f.package_eof, want, len) == 0);
}

static void test_set_eof(void)
{
    check_eof("\\r\\n", "\r\n", 2);
    check_eof("\\r\\n\\r\\n", "\r\n\r\n", 4);
    check_eof("END", "END", 3);
    check_eof("\\0", "\0", 1);
    check_eof("\\t|\\\\", "\t|\\", 3);
    check_eof("\\x00\\xff\\x7F\\x1", "\x00\xff\x7f\x01", 4);
    check_eof("\\\"\\'", "\"'", 2);
    check_eof("12345678", "12345678", 8);
    check_eof("\\r\\n\\r\\n\\r\\n\\r\\n", "\r\n\r\n\r\n\r\n", 8);
    eddy_framing_t f;
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "package_eof", "\\n"), 0);
    const char *bad[] = {"",    "123456789", "\\",    "ab\\",
                         "\\q", "\\x",       "\\xg0", "\\r\\n\\r\\n\\r\\n\\r\\n\\r"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(eddy_framing_set(&f, "package_eof", bad[i]), -EDDY_EOPTION);
    /* A rejected value leaves the old one in place. */
    CHECK_EQ(f.package_eof_len, 1);
    CHECK_EQ(f.package_eof[0], '\n');
}

static void test_set_numbers(void)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    const char *letters = "cCsSnNvVlLqQ";
    for (int i = 0; letters[i]; i++) {
        char v[2] = {letters[i], 0};
        CHECK_EQ(eddy_framing_set(&f, "package_length_type", v), 0);
        CHECK_EQ(f.package_length_type, letters[i]);
    }
    const char *bad_types[] = {"", "NN", "x", "n ", "1"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++)
        CHECK_EQ(eddy_framing_set(&f, "package_length_type", bad_types[i]), -EDDY_EOPTION);
    CHECK_EQ(f.package_length_type, 'Q');

    CHECK_EQ(eddy_framing_set(&f, "package_length_offset", "4"), 0);
    CHECK_EQ(f.package_length_offset, 4);
    CHECK_EQ(eddy_framing_set(&f, "package_body_offset", "0"), 0);
    CHECK_EQ(f.package_body_offset, 0);
    CHECK_EQ(eddy_framing_set(&f, "package_body_offset", "12"), 0);
    CHECK_EQ(f.package_body_offset, 12);
    CHECK_EQ(eddy_framing_set(&f, "package_max_length", "65536"), 0);
    CHECK_EQ(f.package_max_length, 65536);
    const char *bad_nums[] = {
        "", "-1", "+1", " 1", "1 ", "0x10", "1k", "1.5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_nums / sizeof bad_nums[0]; i++) {
        CHECK_EQ(eddy_framing_set(&f, "package_length_offset", bad_nums[i]), -EDDY_EOPTION);
        CHECK_EQ(eddy_framing_set(&f, "package_body_offset", bad_nums[i]), -EDDY_EOPTION);
        CHECK_EQ(eddy_framing_set(&f, "package_max_length", bad_nums[i]), -EDDY_EOPTION);
    }
    CHECK_EQ(eddy_framing_set(&f, "package_max_length", "0"), -EDDY_EOPTION);
    CHECK_EQ(f.package_length_offset, 4);
    CHECK_EQ(f.package_body_offset, 12);
    CHECK_EQ(f.package_max_length, 65536);
}

static void test_set_unknown(void)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "open_eof", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_framing_set(&f, "OPEN_EOF_CHECK", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_framing_set(&f, "", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_framing_set(&f, "package_length_func", "x"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_framing_set(&f, NULL, "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_framing_set(&f, "package_eof", NULL), -EDDY_EOPTION);
    CHECK_EQ(f.mode, EDDY_FRAME_RAW);
}

static ssize_t byte_len(const char *data, size_t len, void *ud)
{
    (void)ud;
    return 1 + (unsigned char)data[0];
}

static void test_validate(void)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    f.package_max_length = 0;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);

    eddy_framing_init(&f);
    f.mode = (eddy_frame_mode_t)42;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);

    /* EOF modes need an EOF that fits in a packet. */
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "open_eof_split", "1"), 0);
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    CHECK_EQ(eddy_framing_set(&f, "package_eof", "\\r\\n"), 0);
    CHECK_EQ(eddy_framing_validate(&f), 0);
    CHECK_EQ(eddy_framing_set(&f, "package_max_length", "1"), 0);
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    CHECK_EQ(eddy_framing_set(&f, "package_max_length", "2"), 0);
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.package_eof_len = 9;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "open_eof_check", "1"), 0);
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);

    /* Length mode: a valid type whose field ends within the limit. */
    eddy_framing_init(&f);
    CHECK_EQ(eddy_framing_set(&f, "open_length_check", "1"), 0);
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.package_length_type = 'x';
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    f.length_fn = byte_len; /* a length function replaces the type */
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.length_fn = NULL;
    f.package_length_type = 'N';
    f.package_max_length = 3;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    f.package_max_length = 10;
    f.package_length_offset = 6;
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.package_length_offset = 7;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    f.package_length_offset = SIZE_MAX;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    /* Body offset 0 ("the value counts the whole packet") is fine. */
    f.package_length_offset = 2;
    f.package_body_offset = 0;
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.package_body_offset = 10;
    CHECK_EQ(eddy_framing_validate(&f), 0);
    f.package_body_offset = 11;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
}

/* ---- raw ---------------------------------------------------------------------- */

static void test_raw(void)
{
    eddy_framing_t f = framing(NULL);
    CHECK_EQ(next1(&f, "", 0), 0);
    CHECK_EQ(next1(&f, "hello", 5), 5);
    f.package_max_length = 3;
    CHECK_EQ(next1(&f, "hello", 5), 3);
    CHECK_EQ(next1(&f, "he", 2), 2);
    f.package_max_length = 0; /* not a valid framing: refused, not a stall */
    CHECK_EQ(next1(&f, "he", 2), -EDDY_EOPTION);

    /* However it arrives, raw delivers the bytes in order, none longer than the limit. */
    char s[5000];
    fill(s, sizeof s, "abc");
    f.package_max_length = 100;
    for (int how = PIECE_ALL; how <= PIECE_RANDOM; how++) {
        trace_t t = feed(&f, s, sizeof s, how);
        CHECK_EQ(t.status, 0);
        CHECK_EQ(t.consumed, sizeof s);
        for (size_t i = 0; i < t.n; i++)
            CHECK(t.len[i] >= 1 && t.len[i] <= 100);
        if (how == PIECE_ALL) CHECK_EQ(t.n, 50);
        trace_free(&t);
    }
}

/* ---- EOF modes ---------------------------------------------------------------- */

static void test_eof_split(void)
{
    static const char *const kv[] = {"open_eof_split", "1", "package_eof", "\\r\\n", NULL};
    eddy_framing_t f = framing(kv);
    eddy_frame_state_t st = {0};
    CHECK_EQ(eddy_frame_next(&f, &st, "", 0), 0);
    CHECK_EQ(eddy_frame_next(&f, &st, "ab", 2), 0);
    CHECK_EQ(st.scanned, 2);
    CHECK_EQ(eddy_frame_next(&f, &st, "ab\r", 3), 0);
    CHECK_EQ(st.scanned, 3);
    /* The EOF straddles what was already scanned. */
    CHECK_EQ(eddy_frame_next(&f, &st, "ab\r\ncd\r\n", 8), 4);
    CHECK_EQ(st.scanned, 0);
    CHECK_EQ(eddy_frame_next(&f, &st, "cd\r\n", 4), 4);
    CHECK_EQ(next1(&f, "\r\n", 2), 2);
    CHECK_EQ(next1(&f, "\n\r\r\n", 4), 4);
    CHECK_EQ(next1(&f, "\r", 1), 0);
    /* A state left over from a longer buffer is not trusted. */
    st.scanned = 100;
    CHECK_EQ(eddy_frame_next(&f, &st, "x\r\n", 3), 3);

    /* A self-overlapping EOF: the first one wins. */
    static const char *const kv2[] = {"open_eof_split", "1", "package_eof", "aa", NULL};
    eddy_framing_t g = framing(kv2);
    CHECK_EQ(next1(&g, "baaa", 4), 3);
    static const char *const kv3[] = {"open_eof_split", "1", "package_eof", "\\0", NULL};
    eddy_framing_t h = framing(kv3);
    CHECK_EQ(next1(&h, "ab\0cd\0", 6), 3);
}

static void test_eof_check(void)
{
    static const char *const kv[] = {"open_eof_check", "1", "package_eof", "\\r\\n", NULL};
    eddy_framing_t f = framing(kv);
    eddy_frame_state_t st = {0};
    CHECK_EQ(eddy_frame_next(&f, &st, "a\r", 2), 0);
    CHECK_EQ(st.scanned, 2);
    /* Everything up to the last EOF is one delivery. */
    CHECK_EQ(eddy_frame_next(&f, &st, "a\r\nb\r\nc", 7), 6);
    CHECK_EQ(st.scanned, 0);
    CHECK_EQ(next1(&f, "a\r\nb\r\n", 6), 6);
    CHECK_EQ(next1(&f, "a\r\nb\r\nc\r", 8), 6);
    CHECK_EQ(next1(&f, "abc", 3), 0);
    CHECK_EQ(next1(&f, "\r\n\r\n\r\n", 6), 6);
    /* Only the first package_max_length bytes count. */
    f.package_max_length = 5;
    CHECK_EQ(next1(&f, "a\r\nb\r\nc", 7), 3);
    CHECK_EQ(next1(&f, "ab\r\n\r\n", 6), 4);
    CHECK_EQ(next1(&f, "abc\r\n\r\n", 7), 5);
    CHECK_EQ(next1(&f, "abcd\r\n", 6), -EDDY_EPACKET_TOO_BIG);
}

static void test_eof_max_length(void)
{
    const char *modes[] = {"open_eof_check", "open_eof_split"};
    for (int m = 0; m < 2; m++) {
        const char *const kv[] = {modes[m], "1", "package_eof", "END", "package_max_length",
                                  "8",      NULL};
        eddy_framing_t f = framing(kv);
        CHECK_EQ(next1(&f, "1234567", 7), 0);
        CHECK_EQ(next1(&f, "12345678", 8), -EDDY_EPACKET_TOO_BIG);
        CHECK_EQ(next1(&f, "12345END", 8), 8);
        CHECK_EQ(next1(&f, "12345ENDxxxxx", 13), 8);
        /* Found, but ends past the limit: too big. */
        CHECK_EQ(next1(&f, "123456END", 9), -EDDY_EPACKET_TOO_BIG);
        CHECK_EQ(next1(&f, "123456EN", 8), -EDDY_EPACKET_TOO_BIG);
        /* Arriving a byte at a time gives the same answer. */
        eddy_frame_state_t st = {0};
        const char *s = "123456END";
        for (size_t n = 1; n < 8; n++)
            CHECK_EQ(eddy_frame_next(&f, &st, s, n), 0);
        CHECK_EQ(eddy_frame_next(&f, &st, s, 8), -EDDY_EPACKET_TOO_BIG);
    }
}

/* Random packets of payload + EOF whose only EOF is the final one. */
static size_t make_eof_stream(char *s, size_t cap, const char *eof, const char *alphabet,
                              size_t maxpay, size_t *lens, size_t *n)
{
    size_t len = 0, k = strlen(eof);
    *n = 0;
    while (len + maxpay + k <= cap) {
        size_t pay = rng() % (maxpay + 1);
        fill(s + len, pay, alphabet);
        memcpy(s + len + pay, eof, k);
        char *first = memmem(s + len, pay + k, eof, k);
        if ((size_t)(first - (s + len)) != pay) continue; /* an EOF inside: draw again */
        lens[(*n)++] = pay + k;
        len += pay + k;
    }
    return len;
}

static void test_eof_streams(void)
{
    static char s[32 * 1024];
    static size_t lens[64 * 1024];
    const char *eofs[] = {"\r\n", "\r\n\r\n", "\n", "\0", "ab", "aab", "12345678"};
    for (size_t e = 0; e < sizeof eofs / sizeof eofs[0]; e++) {
        eddy_framing_t f;
        eddy_framing_init(&f);
        f.mode = EDDY_FRAME_EOF_SPLIT;
        f.package_eof_len = e == 3 ? 1 : strlen(eofs[e]);
        memcpy(f.package_eof, eofs[e], f.package_eof_len);
        f.package_max_length = 64;
        CHECK_EQ(eddy_framing_validate(&f), 0);
        char eof[9] = {0};
        memcpy(eof, f.package_eof, f.package_eof_len);
        const char *alphabet = e == 3 ? "ab\1" : e == 6 ? "12345678x" : "\r\nab";
        size_t n, len;
        if (e == 3) {
            /* strlen-free generator for the NUL EOF */
            len = 0;
            n = 0;
            while (len + 60 <= sizeof s) {
                size_t pay = rng() % 60;
                fill(s + len, pay, alphabet);
                s[len + pay] = '\0';
                lens[n++] = pay + 1;
                len += pay + 1;
            }
        } else {
            len = make_eof_stream(s, sizeof s, eof, alphabet, 64 - f.package_eof_len, lens, &n);
        }
        CHECK(n > 500);
        /* Split: exactly the packets that were generated, however they arrive. */
        check_stream(&f, s, len, lens, n, 0);
        /* A trailing partial packet stays pending. */
        check_stream(&f, s, len - 1, lens, n - 1, 0);
        /* With a lower limit every way of arriving stops at the first oversize packet. */
        f.package_max_length = 24;
        size_t big = 0;
        while (big < n && lens[big] <= 24)
            big++;
        CHECK(big < n);
        check_stream(&f, s, len, lens, big, -EDDY_EPACKET_TOO_BIG);
        f.package_max_length = 64;

        /* Check: every delivery ends with the EOF, in order, nothing lost. */
        f.mode = EDDY_FRAME_EOF_CHECK;
        for (int how = PIECE_ALL; how <= PIECE_RANDOM; how++) {
            trace_t c = feed(&f, s, len, how);
            CHECK_EQ(c.status, 0);
            CHECK_EQ(c.consumed, len);
            for (size_t i = 0; i < c.n; i++) {
                CHECK(c.len[i] <= f.package_max_length);
                CHECK(memcmp(s + c.off[i] + c.len[i] - f.package_eof_len, f.package_eof,
                             f.package_eof_len) == 0);
            }
            if (how == PIECE_ONE) CHECK_EQ(c.n, n);
            trace_free(&c);
        }
    }
}

/* ---- length mode --------------------------------------------------------------- */

static eddy_framing_t length_framing(char type, size_t off, size_t body, size_t max)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    f.mode = EDDY_FRAME_LENGTH;
    f.package_length_type = type;
    f.package_length_offset = off;
    f.package_body_offset = body;
    f.package_max_length = max;
    CHECK_EQ(eddy_framing_validate(&f), 0);
    return f;
}

static void test_length_types(void)
{
    const char *letters = "cCsSnNvVlLqQ";
    for (int i = 0; letters[i]; i++) {
        char t = letters[i];
        size_t size = eddy_framing_length_size(t);
        eddy_framing_t f = length_framing(t, 0, size, 1024);
        char pkt[1024] = {0};
        put_len(t, pkt, 100);
        CHECK_EQ(next1(&f, pkt, size + 100), (ssize_t)size + 100);
        CHECK_EQ(next1(&f, pkt, size + 99), 0);
        CHECK_EQ(next1(&f, pkt, size - 1), 0);
        put_len(t, pkt, 0);
        CHECK_EQ(next1(&f, pkt, size), (ssize_t)size);
        /* Negative signed values are malformed. */
        bool sign = t == 'c' || t == 's' || t == 'l' || t == 'q';
        memset(pkt, 0xff, size);
        /* all ones: negative, or for Q an overflow of body offset + value */
        ssize_t all_ones = sign || t == 'Q' ? -EDDY_EBADLEN : t == 'C' ? 0 : -EDDY_EPACKET_TOO_BIG;
        CHECK_EQ(next1(&f, pkt, size), all_ones);
        /* The largest value of each width, with no limit in the way. */
        f.package_max_length = SIZE_MAX;
        uint64_t top = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
        if (sign) top >>= 1;
        put_len(t, pkt, top);
        eddy_frame_state_t st = {0};
        ssize_t r = eddy_frame_next(&f, &st, pkt, size);
        if (t == 'Q')
            CHECK_EQ(r, -EDDY_EBADLEN); /* 8 + UINT64_MAX overflows */
        else if (t == 'q')
            CHECK_EQ(r, -EDDY_EPACKET_TOO_BIG); /* 8 + INT64_MAX does not fit a ssize_t */
        else {
            CHECK_EQ(r, 0);
            CHECK_EQ(st.expected, size + top);
        }
    }
    /* Byte order: n/N are big-endian, v/V little-endian on any host. */
    eddy_framing_t f = length_framing('n', 0, 2, 1024);
    CHECK_EQ(next1(&f, "\x01\x02", 2), 0);
    eddy_frame_state_t st = {0};
    CHECK_EQ(eddy_frame_next(&f, &st, "\x01\x02", 2), 0);
    CHECK_EQ(st.expected, 2 + 0x102);
    f = length_framing('v', 0, 2, 1024);
    st = (eddy_frame_state_t){0};
    CHECK_EQ(eddy_frame_next(&f, &st, "\x01\x02", 2), 0);
    CHECK_EQ(st.expected, 2 + 0x201);
    f = length_framing('N', 0, 4, 1 << 20);
    st = (eddy_frame_state_t){0};
    CHECK_EQ(eddy_frame_next(&f, &st, "\x00\x01\x02\x03", 4), 0);
    CHECK_EQ(st.expected, 4 + 0x10203);
    f = length_framing('V', 0, 4, 1 << 20);
    st = (eddy_frame_state_t){0};
    CHECK_EQ(eddy_frame_next(&f, &st, "\x03\x02\x01\x00", 4), 0);
    CHECK_EQ(st.expected, 4 + 0x10203);
}

static void test_length_offsets(void)
{
    /* magic(2) len(N) flags(2) body: the body starts at 8. */
    eddy_framing_t f = length_framing('N', 2, 8, 1024);
    char pkt[64] = "MGxxxxFFhello world";
    put_len('N', pkt + 2, 11);
    eddy_frame_state_t st = {0};
    for (size_t n = 1; n < 6; n++) {
        CHECK_EQ(eddy_frame_next(&f, &st, pkt, n), 0);
        CHECK_EQ(st.expected, 0);
    }
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 6), 0);
    CHECK_EQ(st.expected, 19);
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 18), 0);
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 19), 19);
    CHECK_EQ(st.expected, 0);
    CHECK_EQ(next1(&f, pkt, 64), 19);

    /* Body offset 0: the value counts the whole packet, header included. */
    f = length_framing('n', 0, 0, 1024);
    CHECK_EQ(next1(&f, "\x00\x05xyz", 5), 5);
    CHECK_EQ(next1(&f, "\x00\x02", 2), 2);
    /* A packet that would end inside its own header is malformed. */
    CHECK_EQ(next1(&f, "\x00\x01", 2), -EDDY_EBADLEN);
    CHECK_EQ(next1(&f, "\x00\x00", 2), -EDDY_EBADLEN);

    /* Value counts from the length field on (after a 2-byte magic). */
    f = length_framing('N', 2, 2, 1024);
    memcpy(pkt, "MG", 2);
    put_len('N', pkt + 2, 6);
    CHECK_EQ(next1(&f, pkt, 64), 8);
    put_len('N', pkt + 2, 3);
    CHECK_EQ(next1(&f, pkt, 64), -EDDY_EBADLEN);

    /* Overflow of body offset + value. */
    f = length_framing('Q', 0, 8, 1024);
    f.package_max_length = SIZE_MAX;
    put_len('Q', pkt, UINT64_MAX - 3);
    CHECK_EQ(next1(&f, pkt, 8), -EDDY_EBADLEN);
}

static void test_length_max(void)
{
    eddy_framing_t f = length_framing('N', 0, 4, 100);
    char pkt[256] = {0};
    put_len('N', pkt, 96);
    CHECK_EQ(next1(&f, pkt, 100), 100);
    put_len('N', pkt, 97);
    /* Refused as soon as the header is readable, without waiting for the body. */
    CHECK_EQ(next1(&f, pkt, 3), 0);
    CHECK_EQ(next1(&f, pkt, 4), -EDDY_EPACKET_TOO_BIG);
    put_len('N', pkt, 0xffffffffu);
    CHECK_EQ(next1(&f, pkt, 4), -EDDY_EPACKET_TOO_BIG);
    /* A header that cannot fit is refused at the first byte (validate says so too). */
    f.package_length_offset = 97;
    CHECK_EQ(eddy_framing_validate(&f), -EDDY_EOPTION);
    CHECK_EQ(next1(&f, pkt, 1), -EDDY_EPACKET_TOO_BIG);
    f.package_length_offset = SIZE_MAX - 1;
    CHECK_EQ(next1(&f, pkt, 1), -EDDY_EPACKET_TOO_BIG);
    f.package_length_type = '?';
    CHECK_EQ(next1(&f, pkt, 1), -EDDY_EOPTION);
}

static void test_length_streams(void)
{
    static char s[32 * 1024];
    static size_t lens[16 * 1024];
    const char *letters = "cCsSnNvVlLqQ";
    for (int i = 0; letters[i]; i++) {
        char t = letters[i];
        size_t size = eddy_framing_length_size(t);
        for (int layout = 0; layout < 3; layout++) {
            /* layout 0: len|body; 1: magic(3)|len|pad(2)|body; 2: len counts all. */
            size_t off = layout == 1 ? 3 : 0;
            size_t body = layout == 0 ? size : layout == 1 ? off + size + 2 : 0;
            size_t hdr = off + size + (layout == 1 ? 2 : 0);
            eddy_framing_t f = length_framing(t, off, body, 200);
            size_t len = 0, n = 0;
            while (len + 200 <= sizeof s) {
                size_t pay = rng() % (t == 'c' ? 100 : 190);
                if (hdr + pay > 200) continue;
                fill(s + len, hdr + pay, "abcdefgh\0\1\2");
                put_len(t, s + len + off, layout == 2 ? hdr + pay : pay);
                lens[n++] = hdr + pay;
                len += hdr + pay;
            }
            check_stream(&f, s, len, lens, n, 0);
            check_stream(&f, s, len - 1, lens, n - 1, 0);
            /* A poisoned header in the middle: every way of arriving stops there. */
            size_t at = 0;
            for (size_t k = 0; k < n / 2; k++)
                at += lens[k];
            put_len(t, s + at + off, 250);
            check_stream(&f, s, len, lens, n / 2, t == 'c' ? -EDDY_EBADLEN : -EDDY_EPACKET_TOO_BIG);
        }
    }
}

/* ---- user length function ------------------------------------------------------ */

static int varint_calls;

/* Total = varint header + the varint's value; malformed after 5 bytes. */
static ssize_t varint_len(const char *data, size_t len, void *ud)
{
    varint_calls++;
    CHECK(ud == &varint_calls);
    size_t v = 0;
    for (size_t i = 0; i < len && i < 5; i++) {
        unsigned char c = (unsigned char)data[i];
        v |= (size_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) return (ssize_t)(i + 1 + v);
    }
    return len >= 5 ? -EDDY_EBADLEN : 0;
}

static size_t put_varint(char *p, size_t v)
{
    size_t n = 0;
    do {
        p[n] = (char)(v & 0x7f);
        v >>= 7;
        if (v) p[n] |= (char)0x80;
        n++;
    } while (v);
    return n;
}

static void test_length_fn(void)
{
    eddy_framing_t f;
    eddy_framing_init(&f);
    f.mode = EDDY_FRAME_LENGTH;
    f.length_fn = varint_len;
    f.length_ud = &varint_calls;
    f.package_max_length = 1000;
    f.package_length_type = 0; /* ignored when length_fn is set */
    CHECK_EQ(eddy_framing_validate(&f), 0);

    char pkt[2048] = {0};
    size_t h = put_varint(pkt, 300);
    CHECK_EQ(h, 2);
    eddy_frame_state_t st = {0};
    varint_calls = 0;
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 1), 0);
    CHECK_EQ(st.expected, 0);
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 2), 0);
    CHECK_EQ(st.expected, 302);
    /* Once the length is known the function is not asked again. */
    for (size_t n = 3; n < 302; n++)
        CHECK_EQ(eddy_frame_next(&f, &st, pkt, n), 0);
    CHECK_EQ(eddy_frame_next(&f, &st, pkt, 400), 302);
    CHECK_EQ(varint_calls, 2);

    /* Errors pass through; too long is too big, known or not. */
    memset(pkt, 0xff, 8);
    CHECK_EQ(next1(&f, pkt, 8), -EDDY_EBADLEN);
    put_varint(pkt, 999);
    CHECK_EQ(next1(&f, pkt, 2), -EDDY_EPACKET_TOO_BIG);
    f.package_max_length = 3;
    memset(pkt, 0x80, 8);
    CHECK_EQ(next1(&f, pkt, 2), 0);
    CHECK_EQ(next1(&f, pkt, 3), -EDDY_EPACKET_TOO_BIG);
    f.package_max_length = 1000;

    /* A stream of varint-framed packets. */
    static char s[128 * 1024];
    static size_t lens[16 * 1024];
    size_t len = 0, n = 0;
    while (len + 1000 <= sizeof s) {
        size_t pay = rng() % 2 ? rng() % 100 : rng() % 990;
        size_t hl = put_varint(s + len, pay);
        fill(s + len + hl, pay, "xyz\x80");
        lens[n++] = hl + pay;
        len += hl + pay;
    }
    check_stream(&f, s, len, lens, n, 0);
    check_stream(&f, s, len - 1, lens, n - 1, 0);
}

/* ---- linear time ------------------------------------------------------------------ */

/* A 1 MiB packet arriving one byte at a time: each call looks only at the
 * new bytes, so this takes milliseconds, not the minutes a rescan would. */
static void test_byte_at_a_time_1mib(void)
{
    size_t big = 1 << 20;
    char *s = malloc(big);
    CHECK(s);
    memset(s, 'x', big);
    for (size_t i = 0; i < big; i += 1000)
        s[i] = '\r'; /* near misses for the EOF */
    memcpy(s + big - 2, "\r\n", 2);
    for (int m = 0; m < 3; m++) {
        eddy_framing_t f;
        eddy_framing_init(&f);
        f.mode = m == 0 ? EDDY_FRAME_EOF_SPLIT : m == 1 ? EDDY_FRAME_EOF_CHECK : EDDY_FRAME_LENGTH;
        memcpy(f.package_eof, "\r\n", 2);
        f.package_eof_len = 2;
        f.package_length_type = 'N';
        f.package_body_offset = 0;
        if (m == 2) put_len('N', s, big);
        eddy_frame_state_t st = {0};
        for (size_t n = 1; n < big; n++)
            CHECK_EQ(eddy_frame_next(&f, &st, s, n), 0);
        CHECK_EQ(eddy_frame_next(&f, &st, s, big), (ssize_t)big);
        trace_t t = feed(&f, s, big, PIECE_ONE);
        CHECK_EQ(t.n, 1);
        CHECK_EQ(t.len[0], big);
        trace_free(&t);
    }
    free(s);
}

int main(void)
{
    RUN(test_init);
    RUN(test_length_size);
    RUN(test_set_modes);
    RUN(test_set_eof);
    RUN(test_set_numbers);
    RUN(test_set_unknown);
    RUN(test_validate);
    RUN(test_raw);
    RUN(test_eof_split);
    RUN(test_eof_check);
    RUN(test_eof_max_length);
    RUN(test_eof_streams);
    RUN(test_length_types);
    RUN(test_length_offsets);
    RUN(test_length_max);
    RUN(test_length_streams);
    RUN(test_length_fn);
    RUN(test_byte_at_a_time_1mib);
    return 0;
}
