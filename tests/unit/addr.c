/*
 * Endpoint URLs and socket addresses: eddy_url_parse for every scheme and
 * the inputs it must refuse, eddy_addr_from_url, eddy_addr_format and
 * eddy_addr_port.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include <eddy.h>

#include "test.h"

static eddy_url_t parse_ok(const char *s)
{
    eddy_url_t u;
    int rc = eddy_url_parse(s, &u);
    if (rc != 0) fprintf(stderr, "eddy_url_parse(\"%s\") = %s\n", s, eddy_err_name(rc));
    CHECK_EQ(rc, 0);
    return u;
}

static void check_bad(const char *s)
{
    eddy_url_t u;
    int rc = eddy_url_parse(s, &u);
    if (rc != -EDDY_EADDR) fprintf(stderr, "eddy_url_parse(\"%s\") accepted\n", s);
    CHECK_EQ(rc, -EDDY_EADDR);
}

static void test_tcp(void)
{
    eddy_url_t u = parse_ok("tcp://127.0.0.1:9501");
    CHECK_EQ(u.scheme, EDDY_SCHEME_TCP);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_EQ(u.port, 9501);

    u = parse_ok("tcp://localhost:0");
    CHECK_STR(u.host, "localhost");
    CHECK_EQ(u.port, 0);

    u = parse_ok("tcp://example.local:65535");
    CHECK_STR(u.host, "example.local");
    CHECK_EQ(u.port, 65535);
}

static void test_udp(void)
{
    eddy_url_t u = parse_ok("udp://0.0.0.0:9502");
    CHECK_EQ(u.scheme, EDDY_SCHEME_UDP);
    CHECK_STR(u.host, "0.0.0.0");
    CHECK_EQ(u.port, 9502);
    u = parse_ok("udp://[::1]:53");
    CHECK_EQ(u.scheme, EDDY_SCHEME_UDP);
    CHECK_STR(u.host, "::1");
    CHECK_EQ(u.port, 53);
}

static void test_unix(void)
{
    eddy_url_t u = parse_ok("unix:///run/app.sock");
    CHECK_EQ(u.scheme, EDDY_SCHEME_UNIX);
    CHECK_STR(u.host, "/run/app.sock");
    CHECK_EQ(u.port, -1);

    u = parse_ok("unix:relative.sock");
    CHECK_EQ(u.scheme, EDDY_SCHEME_UNIX);
    CHECK_STR(u.host, "relative.sock");
    CHECK_EQ(u.port, -1);

    u = parse_ok("unix:/abs/path.sock");
    CHECK_STR(u.host, "/abs/path.sock");

    check_bad("unix:");
    check_bad("unix://");
}

static void test_ipv6(void)
{
    eddy_url_t u = parse_ok("tcp://[::1]:8080");
    CHECK_EQ(u.scheme, EDDY_SCHEME_TCP);
    CHECK_STR(u.host, "::1");
    CHECK_EQ(u.port, 8080);

    u = parse_ok("[fe80::1:2]:1");
    CHECK_EQ(u.scheme, EDDY_SCHEME_TCP);
    CHECK_STR(u.host, "fe80::1:2");
    CHECK_EQ(u.port, 1);

    u = parse_ok("tcp://[::]:0");
    CHECK_STR(u.host, "::");
    CHECK_EQ(u.port, 0);

    check_bad("tcp://[::1]");      /* no port */
    check_bad("tcp://[::1]:");     /* empty port */
    check_bad("tcp://[::1]80");    /* no colon */
    check_bad("tcp://[::1:80");    /* unclosed */
    check_bad("tcp://[]:80");      /* empty host */
    check_bad("tcp://::1:80");     /* v6 without brackets */
    check_bad("tcp://[::1]:80:1"); /* junk after the port */
}

static void test_no_scheme(void)
{
    eddy_url_t u = parse_ok("127.0.0.1:80");
    CHECK_EQ(u.scheme, EDDY_SCHEME_TCP);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_EQ(u.port, 80);
    u = parse_ok("localhost:6379");
    CHECK_EQ(u.scheme, EDDY_SCHEME_TCP);
    CHECK_STR(u.host, "localhost");
    CHECK_EQ(u.port, 6379);
}

static void test_bad_inputs(void)
{
    check_bad("");
    check_bad("tcp://");
    check_bad("tcp://127.0.0.1");  /* missing port */
    check_bad("tcp://127.0.0.1:"); /* empty port */
    check_bad("127.0.0.1");
    check_bad("tcp://:80"); /* empty host */
    check_bad("tcp://127.0.0.1:65536");
    check_bad("tcp://127.0.0.1:99999999999999999999");
    check_bad("tcp://127.0.0.1:-1");
    check_bad("tcp://127.0.0.1:+80");
    check_bad("tcp://127.0.0.1: 80");
    check_bad("tcp://127.0.0.1:80 ");
    check_bad("tcp://127.0.0.1:0x50");
    check_bad("tcp://127.0.0.1:80/path");
    check_bad("http://127.0.0.1:80"); /* junk scheme */
    check_bad("TCP://127.0.0.1:80");
    check_bad("ftp://x:1");
    check_bad("://x:1");
    check_bad("tcp:127.0.0.1:80");
    check_bad("tcp://a:b:80");

    /* Host names are at most 255 bytes. */
    char url[600];
    char host[300];
    memset(host, 'h', 255);
    host[255] = '\0';
    snprintf(url, sizeof url, "tcp://%s:80", host);
    eddy_url_t u = parse_ok(url);
    CHECK_EQ(strlen(u.host), 255);
    memset(host, 'h', 256);
    host[256] = '\0';
    snprintf(url, sizeof url, "tcp://%s:80", host);
    check_bad(url);
    snprintf(url, sizeof url, "unix:/%s", host);
    check_bad(url);
}

static void test_addr_from_url(void)
{
    eddy_addr_t a;
    eddy_url_t u = parse_ok("tcp://127.0.0.1:9501");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    CHECK_EQ(a.u.sa.sa_family, AF_INET);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in));
    CHECK_EQ(ntohs(a.u.in.sin_port), 9501);
    CHECK_EQ(ntohl(a.u.in.sin_addr.s_addr), 0x7f000001);
    CHECK_EQ(eddy_addr_port(&a), 9501);

    u = parse_ok("udp://[::1]:53");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    CHECK_EQ(a.u.sa.sa_family, AF_INET6);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in6));
    CHECK_EQ(eddy_addr_port(&a), 53);
    CHECK(IN6_IS_ADDR_LOOPBACK(&a.u.in6.sin6_addr));

    u = parse_ok("unix:///tmp/x.sock");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    CHECK_EQ(a.u.sa.sa_family, AF_UNIX);
    CHECK_STR(a.u.un.sun_path, "/tmp/x.sock");
    CHECK_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x.sock") + 1);
    CHECK_EQ(eddy_addr_port(&a), -1);

    /* Names are not numeric: the client resolves them, listeners refuse them. */
    u = parse_ok("tcp://localhost:80");
    CHECK_EQ(eddy_addr_from_url(&u, &a), -EDDY_EADDR);
    u = parse_ok("tcp://256.1.1.1:80");
    CHECK_EQ(eddy_addr_from_url(&u, &a), -EDDY_EADDR);
    u = parse_ok("tcp://[localhost]:80");
    CHECK_EQ(eddy_addr_from_url(&u, &a), -EDDY_EADDR);

    /* sun_path holds 107 bytes and the terminator. */
    char url[300] = "unix:/";
    memset(url + 6, 'p', 106);
    url[112] = '\0';
    u = parse_ok(url);
    CHECK_EQ(strlen(u.host), 107);
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    CHECK_STR(a.u.un.sun_path, u.host);
    strcat(url, "p");
    u = parse_ok(url);
    CHECK_EQ(eddy_addr_from_url(&u, &a), -EDDY_EADDR);
}

static void test_format(void)
{
    char buf[128];
    eddy_addr_t a;
    eddy_url_t u = parse_ok("tcp://127.0.0.1:80");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    CHECK_EQ(eddy_addr_format(&a, buf, sizeof buf), (int)strlen("127.0.0.1:80"));
    CHECK_STR(buf, "127.0.0.1:80");

    u = parse_ok("tcp://[::1]:65535");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "[::1]:65535");

    u = parse_ok("unix:///run/app.sock");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "unix:/run/app.sock");

    /* Truncation: always terminated, returns the length it wanted. */
    u = parse_ok("tcp://192.168.100.200:12345");
    CHECK_EQ(eddy_addr_from_url(&u, &a), 0);
    char small[8];
    CHECK_EQ(eddy_addr_format(&a, small, sizeof small), (int)strlen("192.168.100.200:12345"));
    CHECK_STR(small, "192.168");
    CHECK_EQ(eddy_addr_format(&a, NULL, 0), (int)strlen("192.168.100.200:12345"));

    /* An unnamed Unix peer (what accept returns for a client that did not
     * bind): only the family is filled in, the path bytes are garbage. */
    memset(&a, 0x41, sizeof a);
    a.u.un.sun_family = AF_UNIX;
    a.len = sizeof(sa_family_t);
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "unix:(unnamed)");

    /* A full 108-byte path without a terminator must not be over-read. */
    memset(&a, 0x41, sizeof a);
    a.u.un.sun_family = AF_UNIX;
    a.len = sizeof(struct sockaddr_un);
    char expect[200] = "unix:";
    memset(expect + 5, 'A', sizeof a.u.un.sun_path);
    expect[5 + sizeof a.u.un.sun_path] = '\0';
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, expect);

    /* Abstract socket names start with a NUL byte: shown with '@'. */
    memset(&a, 0, sizeof a);
    a.u.un.sun_family = AF_UNIX;
    memcpy(a.u.un.sun_path, "\0eddy", 5);
    a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 5);
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "unix:@eddy");

    memset(&a, 0, sizeof a);
    eddy_addr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "(unknown)");
    CHECK_EQ(eddy_addr_port(&a), -1);
}

int main(void)
{
    RUN(test_tcp);
    RUN(test_udp);
    RUN(test_unix);
    RUN(test_ipv6);
    RUN(test_no_scheme);
    RUN(test_bad_inputs);
    RUN(test_addr_from_url);
    RUN(test_format);
    return 0;
}
