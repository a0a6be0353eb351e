/* Percent-decoding and encoding, query/form pairs and Cookie headers. */
#include <errno.h>
#include <string.h>

#include "eddy/error.h"
#include "eddy/urlenc.h"
#include "test.h"

static const char *dec(const char *in, unsigned flags, ssize_t *rc)
{
    static char out[256];
    *rc = eddy_url_decode(out, sizeof out - 1, in, strlen(in), flags);
    out[*rc >= 0 ? *rc : 0] = '\0';
    return out;
}

static void check_dec(const char *in, unsigned flags, const char *want)
{
    ssize_t rc;
    const char *got = dec(in, flags, &rc);
    CHECK_EQ(rc, (ssize_t)strlen(want));
    CHECK_STR(got, want);
}

static void check_bad(const char *in, unsigned flags)
{
    ssize_t rc;
    dec(in, flags, &rc);
    CHECK_EQ(rc, -EDDY_EURL_DECODE);
}

static void test_decode(void)
{
    check_dec("", 0, "");
    check_dec("/a/b", 0, "/a/b");
    check_dec("%41%62%2f%2F", 0, "Ab//");
    check_dec("a+b", 0, "a+b");
    check_dec("a+b", EDDY_URL_PLUS_SPACE, "a b");
    check_dec("%2B+", EDDY_URL_PLUS_SPACE, "+ ");
    check_dec("caf%C3%A9", 0, "caf\xc3\xa9");
    check_dec("%e2%82%ac", 0, "\xe2\x82\xac");
    check_bad("%", 0);
    check_bad("%4", 0);
    check_bad("abc%", 0);
    check_bad("%zz", 0);
    check_bad("%4g", 0);
    check_bad("%g4", 0);
    check_bad("% 41", 0);
    check_bad("%00", EDDY_URL_REJECT_NUL);
    check_bad("/a%00.php", EDDY_URL_REJECT_NUL | EDDY_URL_PLUS_SPACE);
    /* Without the flag a NUL is just a byte. */
    char out[8];
    CHECK_EQ(eddy_url_decode(out, sizeof out, "a%00b", 5, 0), 3);
    CHECK(memcmp(out, "a\0b", 3) == 0);
    /* Too small an output: -ENOBUFS, never past cap. */
    char small[4] = {'#', '#', '#', '#'};
    CHECK_EQ(eddy_url_decode(small, 3, "abcd", 4, 0), -ENOBUFS);
    CHECK_EQ(small[3], '#');
    CHECK_EQ(eddy_url_decode(small, 3, "%41%42%43", 9, 0), 3);
    /* In place. */
    char buf[] = "x%20y+z%21";
    CHECK_EQ(eddy_url_decode(buf, sizeof buf, buf, strlen(buf), EDDY_URL_PLUS_SPACE), 6);
    CHECK(memcmp(buf, "x y z!", 6) == 0);
    CHECK_EQ(eddy_url_decode(NULL, 0, NULL, 0, 0), 0);
}

static void test_encode(void)
{
    char out[64];
    ssize_t n = eddy_url_encode(out, sizeof out, "a b/c~-._?&=\xff", 13, 0);
    CHECK_EQ(n, (ssize_t)strlen("a%20b%2Fc~-._%3F%26%3D%FF"));
    CHECK(memcmp(out, "a%20b%2Fc~-._%3F%26%3D%FF", (size_t)n) == 0);
    n = eddy_url_encode(out, sizeof out, "a b+", 4, EDDY_URL_PLUS_SPACE);
    CHECK_EQ(n, 6);
    CHECK(memcmp(out, "a+b%2B", 6) == 0);
    CHECK_EQ(eddy_url_encode(out, 2, "/", 1, 0), -ENOBUFS);
    CHECK_EQ(eddy_url_encode(out, 3, "/", 1, 0), 3);
    /* Round trip over every byte. */
    char all[256], enc[768], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    for (unsigned flags = 0; flags < 2; flags++) {
        n = eddy_url_encode(enc, sizeof enc, all, 256, flags);
        CHECK(n > 256);
        CHECK_EQ(eddy_url_decode(back, sizeof back, enc, (size_t)n, flags), 256);
        CHECK(memcmp(back, all, 256) == 0);
    }
}

typedef struct expect {
    const char *name, *value;
    bool has_value;
} expect_t;

static void check_pairs(const char *s, bool cookie, const expect_t *want, size_t n)
{
    eddy_url_iter_t it;
    eddy_url_pair_t p;
    eddy_url_iter_init(&it, s, strlen(s));
    size_t i = 0;
    while (cookie ? eddy_cookie_next(&it, &p) : eddy_url_next(&it, &p)) {
        CHECK(i < n);
        CHECK_EQ(p.name.len, strlen(want[i].name));
        CHECK(memcmp(p.name.ptr, want[i].name, p.name.len) == 0);
        CHECK_EQ(p.value.len, strlen(want[i].value));
        CHECK(memcmp(p.value.ptr, want[i].value, p.value.len) == 0);
        CHECK_EQ(p.has_value, want[i].has_value);
        i++;
    }
    CHECK_EQ(i, n);
    /* The end stays the end. */
    CHECK(!(cookie ? eddy_cookie_next(&it, &p) : eddy_url_next(&it, &p)));
}

static void test_pairs(void)
{
    check_pairs("", false, NULL, 0);
    check_pairs("&&&", false, NULL, 0);
    const expect_t a[] = {
        {"a", "1", true}, {"b", "", true}, {"c", "", false}, {"", "x", true}, {"d", "=2", true}};
    check_pairs("a=1&b=&c&=x&&d==2&", false, a, 5);
    const expect_t b[] = {{"q", "caf%C3%A9+au+lait", true}, {"n", "1;2", true}};
    check_pairs("q=caf%C3%A9+au+lait&n=1;2", false, b, 2);
    eddy_url_iter_t it;
    eddy_url_pair_t p;
    eddy_url_iter_init(&it, NULL, 0);
    CHECK(!eddy_url_next(&it, &p));
    CHECK(!eddy_cookie_next(&it, &p));
}

static void test_cookies(void)
{
    const expect_t a[] = {
        {"sid", "abc", true}, {"theme", "dark", true}, {"q", "a b", true}, {"e", "", true}};
    check_pairs("sid=abc; theme=dark;q=\"a b\";; novalue; =x; e=", true, a, 4);
    const expect_t b[] = {{"a", "b=c", true}, {"x", "\"", true}};
    check_pairs(" \ta = b=c \t; x=\"", true, b, 2);
    CHECK(eddy_cookie_name_valid("sid", 3));
    CHECK(eddy_cookie_name_valid("__Host-x", 8));
    CHECK(!eddy_cookie_name_valid("", 0));
    CHECK(!eddy_cookie_name_valid("a b", 3));
    CHECK(!eddy_cookie_name_valid("a=b", 3));
    CHECK(!eddy_cookie_name_valid("a;b", 3));
    CHECK(eddy_cookie_value_valid("", 0));
    CHECK(eddy_cookie_value_valid("abc%20!#", 8));
    CHECK(eddy_cookie_value_valid("\"quoted\"", 8));
    CHECK(!eddy_cookie_value_valid("a b", 3));
    CHECK(!eddy_cookie_value_valid("a;b", 3));
    CHECK(!eddy_cookie_value_valid("a,b", 3));
    CHECK(!eddy_cookie_value_valid("a\\b", 3));
    CHECK(!eddy_cookie_value_valid("a\"b", 3));
    CHECK(!eddy_cookie_value_valid("a\r\nSet-Cookie: x=1", 19));
    CHECK(!eddy_cookie_value_valid("\xc3\xa9", 2));
}

int main(void)
{
    RUN(test_decode);
    RUN(test_encode);
    RUN(test_pairs);
    RUN(test_cookies);
    return 0;
}
