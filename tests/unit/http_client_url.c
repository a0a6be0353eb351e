/*
 * The HTTP client's URLs (src/http/client_url.c): what parses and what is
 * refused with which error, the Host value and the eddy_connect endpoint,
 * and Location resolution — RFC 3986 5.4's normal and abnormal examples
 * (over http, fragments dropped) plus queries and network paths.
 */
#include <errno.h>

#include "eddy/error.h"
#include "http/client_url.h"
#include "test.h"

static void check_parse(const char *s, const char *host, int port, const char *target,
                        const char *text)
{
    httpc_url_t u;
    int rc = eddy__httpc_url_parse(s, &u);
    if (rc != 0) fprintf(stderr, "parse \"%s\": %s\n", s, eddy_err_name(rc));
    CHECK_EQ(rc, 0);
    CHECK_STR(u.host, host);
    CHECK_EQ(u.port, port);
    CHECK_STR(u.target, target);
    CHECK_STR(u.text, text);
    eddy__httpc_url_free(&u);
}

static void test_parse(void)
{
    check_parse("http://example.com", "example.com", 80, "/", "http://example.com/");
    check_parse("HTTP://Example.COM:80/", "example.com", 80, "/", "http://example.com/");
    check_parse("http://127.0.0.1:8080/a/b?x=1&y=%20#frag", "127.0.0.1", 8080, "/a/b?x=1&y=%20",
                "http://127.0.0.1:8080/a/b?x=1&y=%20");
    check_parse("http://h?q", "h", 80, "/?q", "http://h/?q");
    check_parse("http://h:/p", "h", 80, "/p", "http://h/p"); /* empty port: the default */
    check_parse("http://[::1]:9000/x", "::1", 9000, "/x", "http://[::1]:9000/x");
    check_parse("http://[::FFFF:127.0.0.1]/", "::ffff:127.0.0.1", 80, "/",
                "http://[::ffff:127.0.0.1]/");
    check_parse("http://h/caf\xc3\xa9", "h", 80, "/caf\xc3\xa9", "http://h/caf\xc3\xa9");
    check_parse("http://under_score.local/", "under_score.local", 80, "/",
                "http://under_score.local/");
}

static void test_refused(void)
{
    struct {
        const char *s;
        int err;
    } cases[] = {
        {"https://h/", -EDDY_EHTTP_SCHEME}, {"ws://h/", -EDDY_EHTTP_SCHEME},
        {"mailto:x@y", -EDDY_EHTTP_SCHEME}, {"h:80", -EDDY_EHTTP_SCHEME},
        {"//h/", -EDDY_EHTTP_URL},          {"1http://h/", -EDDY_EHTTP_URL},
        {"http:h/", -EDDY_EHTTP_URL},       {"http://", -EDDY_EHTTP_URL},
        {"http://:80/", -EDDY_EHTTP_URL},   {"http://a@h/", -EDDY_EHTTP_URL},
        {"http://h:0/", -EDDY_EHTTP_URL},   {"http://h:65536/", -EDDY_EHTTP_URL},
        {"http://h:-1/", -EDDY_EHTTP_URL},  {"http://h:1a/", -EDDY_EHTTP_URL},
        {"http://h/\x7f", -EDDY_EHTTP_URL}, {"http://h/a\tb", -EDDY_EHTTP_URL},
        {"http://[::1/", -EDDY_EHTTP_URL},  {"http://[::g]/", -EDDY_EHTTP_URL},
        {"http://[]/", -EDDY_EHTTP_URL},    {"http://h!/", -EDDY_EHTTP_URL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        httpc_url_t u;
        int rc = eddy__httpc_url_parse(cases[i].s, &u);
        if (rc != cases[i].err) fprintf(stderr, "\"%s\": %s\n", cases[i].s, eddy_err_name(rc));
        CHECK_EQ(rc, cases[i].err);
    }
    char long_host[400] = "http://";
    memset(long_host + 7, 'a', 300);
    long_host[307] = '\0';
    httpc_url_t u;
    CHECK_EQ(eddy__httpc_url_parse(long_host, &u), -EDDY_EHTTP_URL);
}

static void test_authority_and_endpoint(void)
{
    httpc_url_t u;
    char buf[300];
    CHECK_EQ(eddy__httpc_url_parse("http://Host.Example/x", &u), 0);
    CHECK_EQ(eddy__httpc_url_authority(&u, buf, sizeof buf), 12);
    CHECK_STR(buf, "host.example");
    CHECK(eddy__httpc_url_endpoint(&u, buf, sizeof buf) > 0);
    CHECK_STR(buf, "tcp://host.example:80");
    CHECK_EQ(eddy__httpc_url_authority(&u, buf, 5), -1); /* does not fit */
    eddy__httpc_url_free(&u);
    CHECK_EQ(eddy__httpc_url_parse("http://[fe80::1]:81/", &u), 0);
    eddy__httpc_url_authority(&u, buf, sizeof buf);
    CHECK_STR(buf, "[fe80::1]:81");
    eddy__httpc_url_endpoint(&u, buf, sizeof buf);
    CHECK_STR(buf, "tcp://[fe80::1]:81");
    httpc_url_t v;
    CHECK_EQ(eddy__httpc_url_parse("http://[FE80::1]:81/other", &v), 0);
    CHECK(eddy__httpc_url_same_origin(&u, &v));
    eddy__httpc_url_free(&v);
    CHECK_EQ(eddy__httpc_url_parse("http://[fe80::1]/", &v), 0);
    CHECK(!eddy__httpc_url_same_origin(&u, &v)); /* another port */
    eddy__httpc_url_free(&v);
    eddy__httpc_url_free(&u);
}

static void check_resolve(const httpc_url_t *base, const char *ref, const char *want)
{
    httpc_url_t out;
    int rc = eddy__httpc_url_resolve(base, ref, &out);
    if (rc != 0) fprintf(stderr, "resolve \"%s\": %s\n", ref, eddy_err_name(rc));
    CHECK_EQ(rc, 0);
    if (strcmp(out.text, want) != 0) fprintf(stderr, "resolve \"%s\"\n", ref);
    CHECK_STR(out.text, want);
    eddy__httpc_url_free(&out);
}

static void test_resolve(void)
{
    httpc_url_t base;
    CHECK_EQ(eddy__httpc_url_parse("http://a:8080/b/c/d;p?q", &base), 0);
    const char *cases[][2] = {
        /* RFC 3986 5.4.1, normal */
        {"g", "http://a:8080/b/c/g"},
        {"./g", "http://a:8080/b/c/g"},
        {"g/", "http://a:8080/b/c/g/"},
        {"/g", "http://a:8080/g"},
        {"//g", "http://g/"},
        {"?y", "http://a:8080/b/c/d;p?y"},
        {"g?y", "http://a:8080/b/c/g?y"},
        {"#s", "http://a:8080/b/c/d;p?q"},
        {"g#s", "http://a:8080/b/c/g"},
        {"g?y#s", "http://a:8080/b/c/g?y"},
        {";x", "http://a:8080/b/c/;x"},
        {"g;x", "http://a:8080/b/c/g;x"},
        {"", "http://a:8080/b/c/d;p?q"},
        {".", "http://a:8080/b/c/"},
        {"./", "http://a:8080/b/c/"},
        {"..", "http://a:8080/b/"},
        {"../", "http://a:8080/b/"},
        {"../g", "http://a:8080/b/g"},
        {"../..", "http://a:8080/"},
        {"../../", "http://a:8080/"},
        {"../../g", "http://a:8080/g"},
        /* 5.4.2, abnormal */
        {"../../../g", "http://a:8080/g"},
        {"../../../../g", "http://a:8080/g"},
        {"/./g", "http://a:8080/g"},
        {"/../g", "http://a:8080/g"},
        {"g.", "http://a:8080/b/c/g."},
        {".g", "http://a:8080/b/c/.g"},
        {"g..", "http://a:8080/b/c/g.."},
        {"..g", "http://a:8080/b/c/..g"},
        {"./../g", "http://a:8080/b/g"},
        {"./g/.", "http://a:8080/b/c/g/"},
        {"g/./h", "http://a:8080/b/c/g/h"},
        {"g/../h", "http://a:8080/b/c/h"},
        {"g;x=1/./y", "http://a:8080/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a:8080/b/c/y"},
        {"g?y/./x", "http://a:8080/b/c/g?y/./x"},
        {"g?y/../x", "http://a:8080/b/c/g?y/../x"},
        /* absolute */
        {"HTTP://Other.Example:81/x?1", "http://other.example:81/x?1"},
        {"http://a:8080/../x", "http://a:8080/../x"}, /* sent as the server wrote it */
        {"//[::1]:82/v6", "http://[::1]:82/v6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_resolve(&base, cases[i][0], cases[i][1]);
    httpc_url_t out;
    CHECK_EQ(eddy__httpc_url_resolve(&base, "https://a/", &out), -EDDY_EHTTP_SCHEME);
    CHECK_EQ(eddy__httpc_url_resolve(&base, "http:g", &out), -EDDY_EHTTP_URL);
    CHECK_EQ(eddy__httpc_url_resolve(&base, "//user@h/", &out), -EDDY_EHTTP_URL);
    CHECK_EQ(eddy__httpc_url_resolve(&base, "a b", &out), -EDDY_EHTTP_URL);
    CHECK_EQ(eddy__httpc_url_resolve(&base, "/a\r\nX: y", &out), -EDDY_EHTTP_URL);
    eddy__httpc_url_free(&base);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_refused);
    RUN(test_authority_and_endpoint);
    RUN(test_resolve);
    return 0;
}
